#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_demo_json.sh: `rein demo` reads its rounds back from rein-demo-load's
# JSON, and only from there. A stand-in harness ($REIN_DEMO_LOAD) prints a
# fixed round with distinctive figures; the demo's own --json must carry
# exactly those figures, its table must print them, and the harness must
# have been given the layout's scenario and contracts. A round with a
# member missing, text that is not JSON and a harness that fails must
# each fail the demo (exit 1) with a message naming what was wrong. With
# the real harness and ledger given, a scenario whose numbers all differ
# from the demo's (capacity 80/s, 45/s offered, a 1 s outage at t=1 s, a
# 3 s run) must come back as the round's parameters: the harness takes
# them from the scenario, nowhere else (~8 s).
#   test_demo_json.sh REIN_BINARY [LOAD_BINARY LEDGER_BINARY SOURCE_DIR]
set -euo pipefail
rein=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/load" <<'SH'
#!/bin/sh
echo "$@" > "$ARGS_OUT"
cat "$FAKE_JSON"
exit "${FAKE_RC:-0}"
SH
chmod +x "$tmp/load"
cat > "$tmp/round.json" <<'JS'
{"config":{"capacity":123.0,"ledger_workers":3,"queue":77,"queue_timeout_ms":900,"rate":81.0,"threads":2,"warmup_s":4.0,"outage_s":3.0,"tail_s":5.0,"bucket_s":0.25,"recovery_tolerance":0.2,"recovery_hold_s":1.0,"outage_kind":"fail","naive_attempt_header":false},
 "round":{"name":"rein","policy":"stand-in policy","calls":4321,"succeeded":1234,"gave_up":3087,"unfinished":0,"attempts":5555,"keys":4321,"ledger_posts":5556,"ledger_ok":1234,"shed":17,"charges":1235,"duplicates":1,"peak_load":246.0,"peak_ratio":2.0,"peak_bucket_ratio":3.25,"amplification":1.2856,"ledger_amplification":1.2858,"baseline_load":80.0,"baseline_goodput":79.5,"recovery_s":1.75,"goodput_recovery_s":1.5,"outage_start_s":4.0,"outage_end_s":7.0,"observed_after_s":5.0,
  "giveups":{"max_attempts":3,"window":0,"deadline":0,"budget":3000,"breaker_open":84,"throttled":0,"not_retryable":0,"non_idempotent":0,"server_stop":0,"retention":0,"retry_breaker":0},
  "outcomes":{"success":1234,"failure":0,"timeout":0,"not_sent":0,"overloaded":4321,"fatal":0},
  "load":[1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5],"good":[8.0,7.0,6.0,5.0,4.0,3.0,2.0,1.0]}}
JS
export REIN_DEMO_LOAD=$tmp/load ARGS_OUT=$tmp/args FAKE_JSON=$tmp/round.json
run() { "$rein" demo --only rein --no-sim --ledger /bin/true --json "$tmp/out.json" --html "$tmp/out.html" "$@"; }
run > "$tmp/stdout" 2> "$tmp/stderr" || { echo "FAIL: rein demo with a good round"; cat "$tmp/stderr"; exit 1; }
python3 - "$tmp/out.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["rounds"]["rein"]
want = {"calls": 4321, "succeeded": 1234, "attempts": 5555, "ledger_posts": 5556,
        "shed": 17, "charges": 1235, "duplicates": 1, "peak_load": 246.0,
        "peak_bucket_ratio": 3.25, "ledger_amplification": 1.2858,
        "recovery_s": 1.75, "goodput_recovery_s": 1.5}
bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
bad.update({k: (d.get(k), v) for k, v in {"capacity": 123.0, "rate": 81.0, "tail_s": 5.0}.items() if d.get(k) != v})
if r["giveups"]["budget"] != 3000: bad["giveups.budget"] = r["giveups"]["budget"]
if r["load"] != [1.5,2.5,3.5,4.5,5.5,6.5,7.5,8.5] or r["good"][0] != 8.0: bad["series"] = r["load"]
if bad: sys.exit("FAIL: figures not read back: %r" % bad)
PY
grep -q "ledger capacity 123 charges/s, offered 81 charges/s" "$tmp/stdout" ||
  { echo "FAIL: the table does not show the harness's parameters"; cat "$tmp/stdout"; exit 1; }
grep -q "stand-in policy" "$tmp/stdout" || { echo "FAIL: policy not shown"; exit 1; }
args=$(cat "$tmp/args")
for want in "--round rein" "--ledger /bin/true" "scenarios/demo.yaml" "contracts/ledger"; do
  case "$args" in *"$want"*) ;; *) echo "FAIL: harness not given $want: $args"; exit 1;; esac
done
run --short --threads 3 >/dev/null 2>&1
case "$(cat "$tmp/args")" in *"--threads 3"*"--short"*) ;; *) echo "FAIL: options not passed: $(cat "$tmp/args")"; exit 1;; esac

fails() { # fails WHAT MESSAGE: the demo exits 1 and says MESSAGE
  rc=0; run > /dev/null 2> "$tmp/stderr" || rc=$?
  [ "$rc" -eq 1 ] || { echo "FAIL: $1: exit $rc (want 1)"; exit 1; }
  grep -q -- "$2" "$tmp/stderr" || { echo "FAIL: $1: no '$2' in: $(cat "$tmp/stderr")"; exit 1; }
}
sed 's/"calls":4321,//' "$tmp/round.json" > "$tmp/nocalls.json"
FAKE_JSON=$tmp/nocalls.json fails "a member missing" "round.calls missing"
sed 's/"succeeded":1234/"succeeded":"many"/' "$tmp/round.json" > "$tmp/str.json"
FAKE_JSON=$tmp/str.json fails "a mistyped member" "round.succeeded missing or not of its type"
echo "not json" > "$tmp/text.json"
FAKE_JSON=$tmp/text.json fails "text that is not JSON" "wrote no JSON object"
FAKE_RC=3 fails "a failing harness" "exited with status 3"
real=""
if [ $# -ge 4 ] && [ -n "$2" ]; then
  mkdir -p "$tmp/s/scenarios"
  cp -r "$4/examples/contracts" "$tmp/s/contracts"
  sed -e 's/value: 40ms/value: 50ms/' -e 's/duration: 15s/duration: 3s/' \
      -e 's/rate: 1}/rate: 0.5}/' -e 's/start: 4s, duration: 3s/start: 1s, duration: 1s/' \
      -e 's/baseline: 3s/baseline: 1s/' \
      "$4/examples/scenarios/demo.yaml" > "$tmp/s/scenarios/demo.yaml"
  "$2" --ledger "$3" --scenario "$tmp/s/scenarios/demo.yaml" --round naive \
    > "$tmp/real.json" 2> "$tmp/real.err" ||
    { echo "FAIL: rein-demo-load on a short scenario"; cat "$tmp/real.err"; exit 1; }
  python3 - "$tmp/real.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c, r = d["config"], d["round"]
want = {"capacity": 80.0, "ledger_workers": 4, "queue": 100, "queue_timeout_ms": 1000,
        "rate": 45.0, "warmup_s": 1.0, "outage_s": 1.0, "tail_s": 1.0, "bucket_s": 0.25}
bad = {k: (c.get(k), v) for k, v in want.items() if c.get(k) != v}
if len(r["load"]) != 12: bad["buckets"] = len(r["load"])
if not 100 <= r["calls"] <= 170: bad["calls"] = r["calls"]
if bad: sys.exit("FAIL: the harness did not take its parameters from the scenario: %r" % bad)
PY
  real="; the real harness takes capacity, rate, outage and duration from the scenario"
fi
echo "demo JSON: the round's figures, parameters and series read back exactly; options passed; missing, mistyped, non-JSON and failed rounds refused$real"
