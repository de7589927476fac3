#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench.sh: what `make bench` runs: every benchmark binary under BUILD/bench.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
for b in "$BUILD"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"
  "$b"
done
