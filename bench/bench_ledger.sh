#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench_ledger.sh: examples/ledger requests/s with and without the
# idempotency helper, measured with wrk on 127.0.0.1.
#
#   bench_ledger.sh LEDGER_BIN [DURATION_S] [REPS]
#
# Modes (each run on a fresh ledger and a fresh database):
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
#
# The modes run in REPS rounds (default 3), every mode once per round, the
# order alternating so load drift on a shared machine hits all modes alike:
# round 1 no-idem idem-sqlite idem-memory replay, round 2 the reverse, and
# so on. Printed per mode: the median and min-max requests/s (and the
# median p50/p99); then per mode the ratio to no-idem taken per round (that
# mode's run divided by the no-idem run of the same round), as the median
# and min-max of those REPS ratios.
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

run_mode() { # mode round -> prints requests/s p50_us p99_us non2xx
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
  if [ -z "$rps" ]; then
    echo "bench_ledger: no rate from wrk for $mode, round $rep:" >&2
    cat "$dir/wrk.txt" "$dir/log" >&2
    exit 1
  fi
  echo "$rps ${p50:-0} ${p99:-0} ${non2xx:-0}"
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { sort -g | awk -v f="$1" 'NR == 1 {lo=$1} {hi=$1} END {printf f "-" f, lo, hi}'; }
fmt() { awk -v f="$1" '{printf f, $1}'; }

MODES=(no-idem idem-sqlite idem-memory replay)
echo "# ledger: wrk -t2 -c16 -d${DUR}s, ${REPS} rounds, every mode once per round, order alternating"
echo "# machine: $(nproc) cores, $(uname -sr), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "# start: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in "${MODES[@]}"; do : >"$TMP/$mode.txt"; done
for round in $(seq "$REPS"); do
  if [ $((round % 2)) = 1 ]; then order=("${MODES[@]}")
  else order=(replay idem-memory idem-sqlite no-idem); fi
  for mode in "${order[@]}"; do
    run_mode "$mode" "$round" >"$TMP/line" # not in a subshell: the trap sees PID
    echo "$round $(cat "$TMP/line")" >>"$TMP/$mode.txt"
  done
  printf '# round %s (%s):' "$round" "${order[*]}"
  for mode in "${MODES[@]}"; do
    printf ' %s=%s' "$mode" "$(awk -v r="$round" '$1 == r {printf "%.0f", $2}' "$TMP/$mode.txt")"
  done
  echo
done
echo "# end: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %8s %15s %8s %8s %7s\n' mode "req/s" "(min-max)" p50_us p99_us non2xx
for mode in "${MODES[@]}"; do
  f=$TMP/$mode.txt
  printf '%-12s %8s %15s %8s %8s %7s\n' "$mode" \
    "$(cut -d' ' -f2 "$f" | median | fmt %.0f)" \
    "($(cut -d' ' -f2 "$f" | range %.0f))" \
    "$(cut -d' ' -f3 "$f" | median | fmt %.0f)" \
    "$(cut -d' ' -f4 "$f" | median | fmt %.0f)" \
    "$(cut -d' ' -f5 "$f" | awk '{s+=$1} END {print s+0}')"
done
for mode in idem-sqlite idem-memory replay; do
  # join on the round number: this mode's run / no-idem's run, per round
  ratios=$(awk 'NR == FNR {b[$1]=$2; next} {printf "%.4f\n", $2 / b[$1]}' \
    "$TMP/no-idem.txt" "$TMP/$mode.txt")
  printf 'ratio %-11s / no-idem per round: median %s (min-max %s), rounds: %s\n' \
    "$mode" "$(echo "$ratios" | median | fmt %.2f)" \
    "$(echo "$ratios" | range %.2f)" \
    "$(echo "$ratios" | awk '{printf "%.2f ", $1}')"
done
