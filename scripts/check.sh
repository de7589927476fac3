#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check.sh: what `make check` runs. Every ctest suite in a normal build, the
# same suites again under ASan+UBSan (clang, which also builds the libFuzzer
# targets), and the concurrency-labelled tests under ThreadSanitizer. Starts
# redis-server and PostgreSQL on loopback for the backend tests and stops
# them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

svc=$(mktemp -d /tmp/rein-services.XXXXXX)
trap 'scripts/services.sh stop "$svc"' EXIT
# Fail here, not in fifty backend tests, when a server cannot start.
svc_env=$(scripts/services.sh start "$svc")
eval "$svc_env"

step() { printf '\n== %s\n' "$*"; }

step "build (gcc, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
step "tests (normal build)"
ctest --test-dir build --output-on-failure -j"$JOBS"

step "build (clang, ASan+UBSan, fuzz targets)"
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DREIN_SANITIZE=ON \
  -DREIN_FUZZ=ON -DREIN_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
step "tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE plain-only

step "build (clang, ThreadSanitizer)"
CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DREIN_TSAN=ON \
  -DREIN_BENCH=OFF >/dev/null
# Build only the executables the concurrency-labelled tests run.
tsan_targets=$(ctest --test-dir build-tsan -N -L concurrency --show-only=json-v1 |
  /usr/bin/python3 -c 'import json, os, sys
print(" ".join(sorted({os.path.basename(t["command"][0])
                       for t in json.load(sys.stdin)["tests"] if t.get("command")})))')
cmake --build build-tsan -j"$JOBS" --target $tsan_targets ||
  cmake --build build-tsan -j"$JOBS"
step "tests (ThreadSanitizer, label concurrency)"
TSAN_OPTIONS=halt_on_error=1 \
  ctest --test-dir build-tsan --output-on-failure -L concurrency -j"$JOBS"

step "all checks passed"
