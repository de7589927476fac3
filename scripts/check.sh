#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check.sh: what `make check` runs. Every ctest suite in a normal build, the
# same suites again under ASan+UBSan (clang, which also builds the libFuzzer
# targets), and the backend, e2e and concurrency-labelled tests under
# ThreadSanitizer; then two builds without optional libraries (the core
# alone, and everything but PostgreSQL), each with its tests, proving the
# REIN_WITH_* switches build and link nothing they turned off. Starts
# redis-server and PostgreSQL on loopback for the
# backend tests and stops them on exit. The long fuzzing job is separate:
# `make fuzz` (scripts/fuzz.sh).
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
cmake -S . -B build -DREIN_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
step "tests (normal build)"
ctest --test-dir build --output-on-failure -j"$JOBS"

# The switches: the core alone (libc, libm, pthreads), and all but
# PostgreSQL, where no binary may need libpq. Tests labelled `timing` (goodput
# and latency claims on code the switches do not change) ran above.
step "build and tests without optional libraries (REIN_WITH_*=OFF)"
off=""
for f in YAML JSON CRYPTO SQLITE PG REDIS NATS AMQP CURL; do off="$off -DREIN_WITH_$f=OFF"; done
cmake -S . -B build-core -DREIN_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREIN_BENCH=OFF \
  $off >/dev/null
cmake --build build-core -j"$JOBS"
ctest --test-dir build-core --output-on-failure -j"$JOBS" -LE timing
step "build and tests without PostgreSQL (REIN_WITH_PG=OFF)"
cmake -S . -B build-nopg -DREIN_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREIN_BENCH=OFF \
  -DREIN_WITH_PG=OFF >/dev/null
cmake --build build-nopg -j"$JOBS"
# The Redis Sentinel and Cluster sets (label redis-ha, 40 s) drive only the
# Redis store and fleet, which the switch leaves as they are; they ran in
# the normal build above and run under the sanitizers below.
ctest --test-dir build-nopg --output-on-failure -j"$JOBS" -LE 'timing|redis-ha'
pq=$(find build-nopg -type f \( -perm -u+x -o -name '*.so*' \) \
       -exec sh -c 'readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*libpq" && echo "$1"' _ {} \;)
if [ -n "$pq" ]; then
  echo "check.sh: REIN_WITH_PG=OFF, yet these need libpq:" >&2
  echo "$pq" >&2
  exit 1
fi

step "build (clang, ASan+UBSan, fuzz targets)"
CC=clang cmake -S . -B build-asan -DREIN_TESTS=ON -DCMAKE_BUILD_TYPE=Debug -DREIN_SANITIZE=ON \
  -DREIN_FUZZ=ON -DREIN_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
step "tests (ASan+UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE plain-only

step "build (clang, ThreadSanitizer)"
CC=clang cmake -S . -B build-tsan -DREIN_TESTS=ON -DCMAKE_BUILD_TYPE=Debug -DREIN_TSAN=ON \
  -DREIN_BENCH=OFF >/dev/null
# The backend and e2e tests run the ledger, the CLI and the examples as
# child processes, so the TSan step needs nearly every executable.
cmake --build build-tsan -j"$JOBS"
step "tests (ThreadSanitizer, labels backend, e2e, concurrency)"
# Every test that runs threads, in-process or in a child it execs (the
# ledger under test_ledger_crash*, the CLI under sim_cli). The plain-only
# tests (timing claims) are left out as under ASan. A child's report goes
# to a file, not to a pipe the test may not read: any file fails the step.
tsan_logs=$(mktemp -d /tmp/rein-tsan.XXXXXX)
TSAN_OPTIONS="halt_on_error=1:log_path=$tsan_logs/tsan" \
  ctest --test-dir build-tsan --output-on-failure -L 'backend|e2e|concurrency' \
  -LE plain-only -j"$JOBS" || { cat "$tsan_logs"/tsan.* 2>/dev/null; exit 1; }
if compgen -G "$tsan_logs/tsan.*" >/dev/null; then
  cat "$tsan_logs"/tsan.*
  echo "check.sh: ThreadSanitizer reported in a child process (above)" >&2
  exit 1
fi
rm -rf "$tsan_logs"

step "all checks passed"
