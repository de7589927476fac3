#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_ledger.sh: examples/ledger requests/s with and without the
# idempotency helper, measured with wrk on 127.0.0.1.
#
#   bench_ledger.sh LEDGER_BIN [DURATION_S] [REPS]
#
# Modes (each on a fresh database, REPS runs, median reported):
#   no-idem      --no-idem: the same POST /charges, key ignored (baseline)
#   idem-sqlite  the helper with the SQLite store on the ledger's file
#                (the default configuration)
#   idem-memory  the helper with the in-process memory store
#   replay       the helper with SQLite, every request replays one key
# Every request of the first three is a new charge with a unique key. The
# ledger runs with 4 workers, synchronous=NORMAL (its default) and
# admission targets loose enough that nothing is shed; wrk uses
# 2 threads and 16 connections. Everything binds 127.0.0.1 and is bounded
# by DURATION_S (default 5).
set -euo pipefail
LEDGER=${1:?usage: bench_ledger.sh LEDGER_BIN [DURATION_S] [REPS]}
DUR=${2:-5}
REPS=${3:-3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LUA=${BENCH_LEDGER_LUA:-$HERE/bench_ledger.lua}
command -v wrk >/dev/null || { echo "bench_ledger: wrk not installed (apt-get install wrk)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/rein-bench-ledger.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
# The ledger's key (read from a file, never the command line) and the
# token every request sends, minted by the ledger itself.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/auth.key"
chmod 600 "$TMP/auth.key"
LEDGER_TOKEN=$("$LEDGER" --auth-key-file "$TMP/auth.key" --mint-token bench)
export LEDGER_TOKEN

run_mode() { # mode rep -> prints requests/s
  local mode=$1 rep=$2 args=() replay=0
  local dir=$TMP/$mode-$rep
  mkdir -p "$dir"
  case $mode in
    no-idem) args=(--no-idem) ;;
    idem-sqlite) args=() ;;
    idem-memory) args=(--store memory) ;;
    replay) args=(); replay=1 ;;
  esac
  "$LEDGER" --port 0 --port-file "$dir/port" --db "$dir/ledger.db" --quiet \
    --auth-key-file "$TMP/auth.key" \
    --workers 4 --queue 1024 --queue-timeout-ms 10000 --admit-target-ms 1000 \
    "${args[@]}" >/dev/null 2>"$dir/log" &
  PID=$!
  for _ in $(seq 500); do [ -s "$dir/port" ] && break; sleep 0.01; done
  local port; port=$(cat "$dir/port")
  if [ "$replay" = 1 ]; then # make the key exist first
    curl -s -o /dev/null -X POST "http://127.0.0.1:$port/charges" \
      -H "Authorization: Bearer $LEDGER_TOKEN" \
      -H 'Idempotency-Key: "bench-replay"' \
      -H 'Content-Type: application/json' \
      -d '{"account":"acct_bench","amount_cents":1250}'
  fi
  REPLAY=$replay wrk -t2 -c16 -d"${DUR}s" --latency -s "$LUA" \
    "http://127.0.0.1:$port/charges" >"$dir/wrk.txt" 2>&1
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$dir/wrk.txt")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$dir/wrk.txt")
  p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' "$dir/wrk.txt")
  p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' "$dir/wrk.txt")
  echo "$rps ${p50:-0} ${p99:-0} ${non2xx:-0}"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# ledger: wrk -t2 -c16 -d${DUR}s, ${REPS} runs per mode, median"
echo "# machine: $(nproc) cores, $(uname -sr), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
printf '%-12s %12s %10s %10s %8s\n' mode "req/s" "p50_us" "p99_us" non2xx
declare -A MED
for mode in no-idem idem-sqlite idem-memory replay; do
  : >"$TMP/$mode.txt"
  for rep in $(seq "$REPS"); do run_mode "$mode" "$rep" >>"$TMP/$mode.txt"; done
  rps=$(cut -d' ' -f1 "$TMP/$mode.txt" | median)
  p50=$(cut -d' ' -f2 "$TMP/$mode.txt" | median)
  p99=$(cut -d' ' -f3 "$TMP/$mode.txt" | median)
  bad=$(cut -d' ' -f4 "$TMP/$mode.txt" | awk '{s+=$1} END {print s+0}')
  MED[$mode]=$rps
  printf '%-12s %12s %10s %10s %8s\n' "$mode" "$rps" "$p50" "$p99" "$bad"
done
for mode in idem-sqlite idem-memory replay; do
  awk -v a="${MED[$mode]}" -v b="${MED[no-idem]}" -v m="$mode" \
    'BEGIN {printf "ratio %s / no-idem = %.2f\n", m, a / b}'
done
