#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# demo.sh: what `make demo` runs after building. It grows with the project:
# each part runs on embedded defaults, needs no setup, and stays on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REIN=$BUILD/cli/rein
OUT=${REIN_DEMO_OUT:-out}
mkdir -p "$OUT"

echo "== rein $($REIN --version | cut -d' ' -f2): retry schedules for 5 clients after one shared failure"
$REIN schedule --clients 5 --attempts 6 --base 100ms --cap 5s --jitter none
$REIN schedule --clients 5 --attempts 6 --base 100ms --cap 5s --jitter full

echo
echo "== rein check: retry contracts checked across the service graph (examples/contracts)"
for ex in payments ingestion layers; do
  echo "-- examples/contracts/$ex: expect findings (exit 1)"
  rc=0; $REIN check examples/contracts/$ex || rc=$?; [ "$rc" -eq 1 ]
  echo "-- examples/contracts/$ex-fixed: expect clean (exit 0)"
  $REIN check examples/contracts/$ex-fixed
done
echo "-- minimum idempotency-key TTLs through key chains"
rc=0; $REIN ttl examples/contracts/payments || rc=$?; [ "$rc" -eq 1 ]
$REIN ttl examples/contracts/payments-fixed
echo "-- the runtime policy the ledger demo loads from its contract"
$REIN policy examples/contracts/ledger --caller client --to ledger.charge

echo
echo "== rein simulate: the schema-registry incident (400 workers, 15 s outage), four policies, same seed"
$REIN simulate examples/scenarios/schema-registry.yaml --compare --report "$OUT/schema-registry.html"
echo "-- report: $OUT/schema-registry.html"

echo
echo "== rein demo: the live run. examples/ledger on loopback, a client fleet, an injected outage;"
echo "   naive clients, then clients whose policy comes from examples/contracts/ledger"
$REIN demo --html "$OUT/rein-demo.html" --json "$OUT/rein-demo.json"
echo
echo "== rein demo --stall: the same, but the ledger stalls (timeouts) instead of failing fast:"
echo "   this is where retries without idempotency keys charge twice"
$REIN demo --stall --no-sim --html "$OUT/rein-demo-stall.html"
echo
echo "reports: $OUT/schema-registry.html $OUT/rein-demo.html $OUT/rein-demo-stall.html"
