#!/usr/bin/env bash
# demo.sh: what `make demo` runs after building. It grows with the project:
# each part runs on embedded defaults, needs no setup, and stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REIN=$BUILD/cli/rein

echo "== rein $($REIN --version | cut -d' ' -f2): retry schedules for 5 clients after one shared failure"
$REIN schedule --clients 5 --attempts 6 --base 100ms --cap 5s --jitter none
$REIN schedule --clients 5 --attempts 6 --base 100ms --cap 5s --jitter full
