# SPDX-License-Identifier: Apache-2.0
# rein: thin wrapper over CMake. `make demo` and `make check` are the two
# commands a new user needs; both install missing Debian packages first.
# `make fuzz` is the long libFuzzer job (scripts/fuzz.sh; FUZZ_SECONDS,
# FUZZ_EXECS, FUZZ_JOBS, FUZZ_OUT), not part of `make check`.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build demo check fuzz bench deps clean format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

check: deps
	@scripts/check.sh

fuzz: deps
	@scripts/fuzz.sh

bench: build
	@scripts/bench.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
