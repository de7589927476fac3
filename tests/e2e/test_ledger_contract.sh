#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_ledger_contract.sh: examples/contracts/ledger describes the live demo
# (one client at 90 charges/s, a ledger of 100/s), so `rein check` weighs
# the demo's real load: the contract as shipped is clean, and the same
# contract with the old 5/s budget floor (90 + 9 + 5 = 104/s while the
# ledger fails) is an R005 error.
#   test_ledger_contract.sh REIN_BINARY SOURCE_DIR
set -euo pipefail
rein=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$rein" check "$src/examples/contracts/ledger" > "$tmp/out" 2>&1 ||
  { echo "FAIL: the ledger contract is not clean:"; cat "$tmp/out"; exit 1; }
cp -r "$src/examples/contracts/ledger" "$tmp/ledger"
sed -i 's/min_per_sec: 0/min_per_sec: 5/' "$tmp/ledger/client.yaml"
grep -q "min_per_sec: 5" "$tmp/ledger/client.yaml" || { echo "FAIL: no budget floor to edit"; exit 1; }
rc=0; "$rein" check "$tmp/ledger" > "$tmp/out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "error\[R005\].*104/s with them against a capacity of 100/s" "$tmp/out" ||
  { echo "FAIL: a 5/s floor is not R005 (exit $rc):"; cat "$tmp/out"; exit 1; }
echo "ledger contract: clean as shipped; a 5/s budget floor is R005 (104/s against 100/s)"
