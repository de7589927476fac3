# SPDX-License-Identifier: Apache-2.0
# rein: thin wrapper over CMake. `make demo` and `make check` are the two
# commands a new user needs; both install missing Debian packages first.
# `make fuzz` is the long libFuzzer job (scripts/fuzz.sh; FUZZ_SECONDS,
# FUZZ_EXECS, FUZZ_JOBS, FUZZ_OUT), not part of `make check`.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build compile demo check fuzz bench deps clean format

all: build

# Each target installs only what it needs: `build` the compiler and the
# libraries, `check` and `bench` the test tools and servers as well.
deps:
	@scripts/deps.sh build

compile:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build: deps
	@$(MAKE) --no-print-directory compile

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory compile
	@scripts/demo.sh $(BUILD)

check:
	@scripts/deps.sh check
	@scripts/check.sh

fuzz:
	@scripts/deps.sh check
	@scripts/fuzz.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory compile
	@scripts/bench.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-core build-nopg
