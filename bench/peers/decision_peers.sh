#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# decision_peers.sh BENCH_DECISION_BIN [ROUNDS]: one retried call in rein,
# tenacity and cockatiel, in ns per call (issue 16, docs/benchmarks.md
# "Peers"). Runs `BENCH_DECISION_BIN peer`, tenacity_retry.py and
# cockatiel_retry.js alternately (rein, tenacity, cockatiel, rein, ...)
# for ROUNDS rounds (default 5), because the machine's speed drifts; each
# program prints the median of its own reps per case. Then, per row
# (first_ok, retry_ok), the median and min-max over rounds of every case,
# and for every peer case its per-round ratio to rein's blocking wrapper
# without a budget (run/none, the like-for-like: a blocking call with no
# budget) and to rein's state machine without one (sm/none): the ratios of
# each round, their median and min-max. The programs say what each number
# includes (their opening comments). cockatiel is installed from
# package-lock.json into bench/peers/node_modules (npm ci) when missing;
# tenacity is Debian's python3-tenacity.
set -eu
BIN=${1:?usage: decision_peers.sh BENCH_DECISION_BIN [ROUNDS]}
ROUNDS=${2:-5}
D=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
if ! "$PY" -c 'import tenacity' 2>/dev/null; then
  echo "decision_peers: tenacity missing: apt-get install -y python3-tenacity" >&2
  exit 1
fi
if [ ! -e "$D/node_modules/cockatiel/package.json" ]; then
  echo "decision_peers: installing cockatiel (bench/peers/package-lock.json)" >&2
  (cd "$D" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
OUT=$(mktemp)
trap 'rm -f "$OUT" "$OUT.one"' EXIT
echo "decision_peers: $ROUNDS rounds, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
r=1
while [ "$r" -le "$ROUNDS" ]; do
  for p in rein tenacity cockatiel; do
    case $p in
      rein) "$BIN" peer ;;
      tenacity) "$PY" "$D/tenacity_retry.py" ;;
      cockatiel) node "$D/cockatiel_retry.js" ;;
    esac >"$OUT.one"
    if [ "$r" -eq 1 ]; then grep -v '^peer=' "$OUT.one" | sed 's/^/  /'; fi
    sed -n "s/^peer=/round=$r peer=/p" "$OUT.one" >>"$OUT"
  done
  r=$((r + 1))
done
rm -f "$OUT.one"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$OUT" <<'PYEOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    kv = dict(f.split("=", 1) for f in line.split())
    case = "%s %s/%s" % (kv["peer"], kv["api"], kv["budget"])
    rows.setdefault(kv["row"], {}).setdefault(case, {})[int(kv["round"])] = \
        float(kv["ns_per_call"])
def fmt(ns):
    return "%.0f" % ns if ns >= 100 else "%.1f" % ns
for row, cases in rows.items():
    print("== %s (ns per call: median of rounds, min-max)" % row)
    for case, by in cases.items():
        v = list(by.values())
        print("  %-38s %10s  (%s-%s)" % (case, fmt(statistics.median(v)),
                                       fmt(min(v)), fmt(max(v))))
    for base in ("rein run/none", "rein sm/none"):
        b = cases[base]
        for case, by in cases.items():
            if case.startswith("rein "):
                continue
            rs = [by[k] / b[k] for k in sorted(by) if k in b]
            print("  %-31s / %-13s x%-7.1f (min %.1f, max %.1f; rounds: %s)"
                  % (case, base, statistics.median(rs), min(rs), max(rs),
                     " ".join("%.1f" % x for x in rs)))
PYEOF
