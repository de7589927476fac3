#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The retry-only breaker through the tool (issue 18): `rein policy` says a
# contract's breaker gates retries only and names its cumulative window
# (text and canonical JSON); `rein check` refuses gates: retries on a fleet
# breaker with file:line:col; `rein simulate` counts the retries it stopped
# (giveup_retry_breaker) on examples/scenarios/retry-breaker.yaml.
#   policy_retry_gate.sh REIN SCENARIO_DIR
set -u
rein=$1
dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

cat > "$tmp/a.yaml" <<'YAML'
service: a
version: 2024-01-01
calls:
  - to: b.get
    timeout: 2s
    retry:
      attempts: 4
      breaker: {gates: retries, failure_rate: 0.1, min_calls: 20, window_kind: cumulative}
YAML
"$rein" policy "$tmp/a.yaml" --caller a --to b.get > "$tmp/text" || bad "rein policy"
grep -q "breaker         retries only (never a first attempt), failure_rate 0.1, min_calls 20, cumulative window" "$tmp/text" ||
  { bad "policy text"; cat "$tmp/text"; }
"$rein" policy "$tmp/a.yaml" --caller a --to b.get --json > "$tmp/json" || bad "rein policy --json"
grep -q '"gates":"retries"' "$tmp/json" || bad "json gates"
grep -q '"window_kind":"cumulative"' "$tmp/json" || bad "json window_kind"

sed 's/window_kind: cumulative}/scope: fleet}/' "$tmp/a.yaml" > "$tmp/b.yaml"
"$rein" check "$tmp/b.yaml" > "$tmp/check" 2>&1 && bad "check accepted a fleet retry-only breaker"
grep -q "b.yaml:8:24: error\[E004\]: calls\[0\].retry.breaker: gates: retries is per instance" "$tmp/check" ||
  { bad "check message"; cat "$tmp/check"; }

"$rein" simulate "$dir/retry-breaker.yaml" --variant retry-breaker > "$tmp/sim" || bad "simulate"
n=$(awk '$1 == "giveup_retry_breaker" {print $2}' "$tmp/sim")
[ -n "$n" ] && [ "$n" -gt 0 ] || { bad "giveup_retry_breaker: '$n'"; cat "$tmp/sim"; }
n=$(awk '$1 == "giveup_breaker_open" {print $2}' "$tmp/sim")
[ "$n" = 0 ] || bad "giveup_breaker_open: '$n'"

[ "$fails" -eq 0 ] && echo "policy_retry_gate: ok"
exit "$fails"
