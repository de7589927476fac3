#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# curl_retry.sh: Debian's curl command-line tool, `--retry`, as a third
# client of the live demo's situation (a peer users know).
#
# Starts examples/ledger on loopback (capacity 100 charges/s, queue 100,
# 1 s queue timeout, as `rein demo`), runs WORKERS shell loops that each
# POST one charge every INTERVAL seconds with
#   curl --retry N --max-time 0.8   (no Idempotency-Key, no jitter)
# injects the demo's outage (every charge fails with 503 for OUTAGE s)
# after WARMUP s, keeps going for TAIL s, then prints what the ledger saw:
# requests, charges, duplicate charges (same client ref charged twice) and
# requests per logical charge.
#
# curl's --retry retries a POST like any request on a timeout and on HTTP
# 408, 429, 500, 502, 503 and 504, honours Retry-After, and otherwise waits
# 1 s, doubling up to 10 minutes, without jitter (curl(1)).
#
# usage: bench/peers/curl_retry.sh [LEDGER_BINARY]
#   env: WORKERS (30) INTERVAL (0.33) RETRIES (5) WARMUP (4) OUTAGE (3)
#        TAIL (8) STALL (0; 1 = stop the ledger with SIGSTOP instead, as
#        `rein demo --stall`)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
ledger=${1:-$here/../../build/examples/ledger/ledger}
[ -x "$ledger" ] || { echo "curl_retry.sh: no ledger at $ledger (build it:" \
  "cmake --build build --target ledger)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl_retry.sh: curl not installed" >&2; exit 2; }
WORKERS=${WORKERS:-30}
INTERVAL=${INTERVAL:-0.33}
RETRIES=${RETRIES:-5}
WARMUP=${WARMUP:-4}
OUTAGE=${OUTAGE:-3}
TAIL=${TAIL:-8}

dir=$(mktemp -d /tmp/rein-curl-retry-XXXXXX)
lpid=
cleanup() {
  [ -n "$lpid" ] && kill "$lpid" 2>/dev/null && wait "$lpid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The ledger's key, in a file (never on the command line); tokens are
# minted by the ledger itself.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/auth.key"
chmod 600 "$dir/auth.key"
mint() { "$ledger" --auth-key-file "$dir/auth.key" --mint-token "$1"; }
admin_auth="Authorization: Bearer $(mint _admin)"
"$ledger" --port 0 --port-file "$dir/port" --db "$dir/ledger.db" \
  --auth-key-file "$dir/auth.key" --capacity 100 --workers 4 --queue 100 --queue-timeout-ms 1000 --quiet \
  >"$dir/ledger.log" 2>&1 &
lpid=$!
i=0
while [ ! -s "$dir/port" ]; do
  i=$((i + 1)); [ $i -gt 500 ] && { echo "ledger did not start" >&2; exit 1; }
  sleep 0.01
done
base="http://127.0.0.1:$(cat "$dir/port")"

end=$(( $(date +%s) + WARMUP + OUTAGE + TAIL ))
worker() {
  w=$1 n=0
  auth="Authorization: Bearer $(mint "curl-$w")"
  while [ "$(date +%s)" -lt "$end" ]; do
    n=$((n + 1))
    # A real output file: with -o /dev/null curl cannot truncate the output
    # before a retry and stops with error 23 instead of retrying.
    curl -s -o "$dir/out.$w" --retry "$RETRIES" --max-time 0.8 \
      -H "$auth" -H 'Content-Type: application/json' \
      -d "{\"account\":\"acct_$w\",\"amount_cents\":100,\"ref\":\"curl-$w-$n\"}" \
      "$base/charges" || true
    echo "$n" >"$dir/calls.$w"
    sleep "$INTERVAL"
  done
}
start=$(date +%s.%N)
w=0
pids=
while [ $w -lt "$WORKERS" ]; do
  worker $w &
  pids="$pids $!"
  w=$((w + 1))
done
sleep "$WARMUP"
if [ "${STALL:-0}" = 1 ]; then
  kill -STOP "$lpid"; sleep "$OUTAGE"; kill -CONT "$lpid"
else
  curl -s -o /dev/null -H "$admin_auth" -X POST \
    "$base/admin/outage?seconds=$OUTAGE"
fi
for p in $pids; do wait "$p"; done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

calls=$(cat "$dir"/calls.* | awk '{s += $1} END {print s + 0}')
m=$(curl -s "$base/metrics")
posts=$(printf '%s\n' "$m" | awk '/^rein_ledger_requests_total\{route="POST \/charges"\}/ {print $NF}')
shed=$(printf '%s\n' "$m" | awk '/^rein_ledger_shed_total / {print $2}')
summary=$(curl -s -H "$admin_auth" "$base/charges/summary")
charges=$(printf '%s' "$summary" | sed 's/.*"charges":\([0-9]*\).*/\1/')
dups=$(printf '%s' "$summary" | sed 's/.*"duplicate_charges":\([0-9]*\).*/\1/')
printf 'curl --retry %s, %s workers every %ss for %.1fs, %s %ss at t=%ss\n' \
  "$RETRIES" "$WORKERS" "$INTERVAL" "$elapsed" \
  "$([ "${STALL:-0}" = 1 ] && echo stall || echo outage)" "$OUTAGE" "$WARMUP"
printf 'logical charges      %s\n' "$calls"
printf 'ledger requests      %s (%.2fx per charge)\n' "$posts" \
  "$(echo "$posts / $calls" | bc -l)"
printf 'shed by the ledger   %s\n' "$shed"
printf 'charges recorded     %s\n' "$charges"
printf 'duplicate charges    %s\n' "$dups"
