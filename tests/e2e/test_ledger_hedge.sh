#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_ledger_hedge.sh: "The Tail at Scale" live (issue 18). The ledger
# with a long tail (--slow-tail 0.01:1s: 1% of charges 1 s slower than
# the 10 ms of work) under examples/scenarios/hedging-live.yaml's load
# (200 calls/s Poisson, here 10 s), driven by rein-demo-load --tail with
# the scenario's plain and hedged policies (blocking rein_curl_perform_ex;
# hedge at the p95, 20 ms until 100 samples, 2 attempts). The shape must
# hold: hedging removes the tail, at most a quarter of the plain round's
# slow calls (>= 500 ms) left and never more than 5, for under 7% more
# requests at the ledger (a hedge at the p95 fires for about 5% of calls
# by construction, fewer while the estimate lags: measured 2.7%-3.8% on
# a quiet machine, 5.15% beside a fuzzer), every call answered, and
# the plain round really has the tail (p99.9 >= 900 ms, >= 8 slow calls).
# A hedged call stays slow only when its hedge is drawn slow too (p^2 =
# 1e-4 a call, so 0-3 of 2,000; the ledger draws by arrival order, and a
# seed whose slow draws come in close pairs gives more), so the p99.9,
# which 3 such calls decide, is printed and recorded in docs/fidelity.md,
# not asserted (29x-40x lower on a 2-core machine, 1x in 1 run of 5).
# Randomized: the arrivals and the slow draws come from the seed, printed
# (REIN_TEST_SEED to replay). ~25 s.
#   test_ledger_hedge.sh LOAD_BINARY LEDGER_BINARY SOURCE_DIR
set -euo pipefail
load=$1 ledger=$2 src=$3
seed=${REIN_TEST_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
echo "test_ledger_hedge: seed $seed (REIN_TEST_SEED=$seed to replay)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in plain hedged; do
  timeout 40 "$load" --tail --ledger "$ledger" \
    --scenario "$src/examples/scenarios/hedging-live.yaml" --round "$p" \
    --work-ms 10 --slow-tail 0.01:1s --duration 10s --seed "$seed" \
    > "$tmp/$p.json" || { echo "FAIL: the $p round failed (seed $seed)"; exit 1; }
done
python3 - "$tmp/plain.json" "$tmp/hedged.json" "$seed" <<'PY'
import json, sys
plain = json.load(open(sys.argv[1]))["tail"]
hedged = json.load(open(sys.argv[2]))["tail"]
seed = sys.argv[3]
bad = []
for r in (plain, hedged):
    print("%-6s calls %d ledger requests %d (slow %d) extra %.2f%% "
          "p50 %.1f p99 %.1f p99.9 %.1f max %.1f ms slow calls %d gave up %d" %
          (r["name"], r["calls"], r["ledger_posts"], r["ledger_slow"],
           100 * r["extra_load"], r["p50_ms"], r["p99_ms"], r["p999_ms"],
           r["max_ms"], r["slow_calls"], r["gave_up"]))
    if r["calls"] < 1500 or r["succeeded"] != r["calls"]:
        bad.append("%s: %d calls, %d succeeded: every call must be answered"
                   % (r["name"], r["calls"], r["succeeded"]))
if plain["slow_calls"] < 8 or plain["p999_ms"] < 900:
    bad.append("plain: no tail (p99.9 %.1f ms, %d slow calls): --slow-tail "
               "did not slow the ledger" % (plain["p999_ms"],
                                           plain["slow_calls"]))
if plain["extra_load"] != 0:
    bad.append("plain: extra load %.4f, expected 0" % plain["extra_load"])
ratio = plain["p999_ms"] / max(hedged["p999_ms"], 1e-9)
print("p99.9 plain / hedged: %.1fx" % ratio)
left = min(5, plain["slow_calls"] // 4)
if hedged["slow_calls"] > left:
    bad.append("hedged: %d slow calls left of plain's %d (want <= %d)"
               % (hedged["slow_calls"], plain["slow_calls"], left))
if not 0 < hedged["extra_load"] < 0.07:
    bad.append("hedged: extra load %.2f%% (want (0, 7%%))"
               % (100 * hedged["extra_load"]))
for b in bad:
    print("FAIL (seed %s): %s" % (seed, b))
sys.exit(1 if bad else 0)
PY
