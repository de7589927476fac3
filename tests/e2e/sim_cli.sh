#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# sim_cli.sh REIN SCENARIO_DIR: end-to-end checks of `rein simulate`:
# byte-identical output for the same seed (also across thread counts),
# --compare / --runs / --json / --csv / --series / --report, and exit 2
# with file:line:col for bad scenarios and bad options.
set -u
REIN=$1
DIR=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }

# same seed -> byte-identical summary, series and report
for i in 1 2; do
  "$REIN" simulate "$DIR/amplification.yaml" --compare --json \
    --csv "$T/s$i.csv" --series "$T/s$i.json" --report "$T/r$i.html" \
    > "$T/o$i.json" 2> "$T/e$i" || bad "run $i exited $?"
done
for f in o s r; do :; done
cmp -s "$T/o1.json" "$T/o2.json" && ok "summary identical" || bad "summary differs"
cmp -s "$T/s1.csv" "$T/s2.csv" && ok "csv identical" || bad "csv differs"
cmp -s "$T/s1.json" "$T/s2.json" && ok "series json identical" || bad "series json differs"
# the reports differ only in the footer's command line (their own file names)
grep -v rein-footer "$T/r1.html" > "$T/r1.body"
grep -v rein-footer "$T/r2.html" > "$T/r2.body"
cmp -s "$T/r1.body" "$T/r2.body" \
  && ok "report identical but for the command" || bad "report differs"
grep -q "rein-footer.*rein simulate .*--report $T/r1.html" "$T/r1.html" \
  && ok "report footer names the command" || bad "report footer"
[ -s "$T/e1" ] && bad "stderr not empty without a terminal: $(cat "$T/e1")" || ok "no progress when not a terminal"
grep -q '"variant":"naive"' "$T/o1.json" && grep -q '"amplification":' "$T/o1.json" \
  && ok "json has fields" || bad "json fields missing"
head -1 "$T/s1.csv" | grep -q '^variant,seed,t_s,offered,attempts' && ok "csv header" || bad "csv header"
[ "$(wc -l < "$T/s1.csv")" -eq 121 ] && ok "csv rows" || bad "csv rows: $(wc -l < "$T/s1.csv")"
grep -q '<svg' "$T/r1.html" && ! grep -qi '<script' "$T/r1.html" && ok "report self-contained svg" || bad "report"

# different seed -> different output
"$REIN" simulate "$DIR/amplification.yaml" --seed 2 --csv "$T/seed2.json" > /dev/null
"$REIN" simulate "$DIR/amplification.yaml" --csv "$T/seed1.json" > /dev/null
cmp -s "$T/seed1.json" "$T/seed2.json" && bad "seed ignored" || ok "seed changes output"

# --runs: same numbers with 1 or 2 threads
"$REIN" simulate "$DIR/thundering-herd.yaml" --compare --runs 4 --jobs 1 > "$T/j1.txt" || bad "runs j1"
"$REIN" simulate "$DIR/thundering-herd.yaml" --compare --runs 4 --jobs 2 > "$T/j2.txt" || bad "runs j2"
cmp -s "$T/j1.txt" "$T/j2.txt" && ok "--runs independent of --jobs" || bad "--runs differs by jobs"
grep -q '+-' "$T/j1.txt" && ok "--runs prints intervals" || bad "no intervals"
grep -q '^per_logical@service .* +- ' "$T/j1.txt" \
  && ok "--runs per-server rows over the seeds" || bad "per-server rows: $(grep per_logical "$T/j1.txt")"
"$REIN" simulate "$DIR/thundering-herd.yaml" --compare=full-jitter --runs 3 --json > "$T/rj.json" || bad "runs json"
grep -q '"ci95":' "$T/rj.json" && ok "--runs --json" || bad "--runs --json"
# one --json shape for one variant or several
"$REIN" simulate "$DIR/amplification.yaml" --json > "$T/one.json" || bad "one json"
grep -q '^{"scenario":"amplification","seed":1,"runs":1,"variants":\[{"scenario":"amplification","variant":"naive",' "$T/one.json" \
  && ok "--json one variant in the variants frame" || bad "--json one variant: $(cut -c1-120 "$T/one.json")"
grep -q '^{"scenario":"amplification","seed":1,"runs":1,"variants":\[{' "$T/o1.json" \
  && ok "--compare --json in the same frame" || bad "--compare --json frame"

# --runs with --csv / --series: every seed, each row naming its seed, and
# each seed's rows those of a single run on that seed
"$REIN" simulate "$DIR/amplification.yaml" --variant naive --runs 3 --seed 5 \
  --csv "$T/runs.csv" --series "$T/runs.json" > /dev/null || bad "runs csv"
seeds=$(tail -n +2 "$T/runs.csv" | cut -d, -f2 | uniq | tr '\n' ' ')
[ "$seeds" = "5 6 7 " ] && ok "--runs --csv writes every seed" || bad "--runs --csv seeds: $seeds"
[ "$(wc -l < "$T/runs.csv")" -eq 181 ] && ok "--runs --csv rows" || bad "--runs --csv rows: $(wc -l < "$T/runs.csv")"
"$REIN" simulate "$DIR/amplification.yaml" --variant naive --seed 6 --csv "$T/one6.csv" > /dev/null
awk -F, '$2 == 6' "$T/runs.csv" > "$T/runs6.csv"
tail -n +2 "$T/one6.csv" | cmp -s - "$T/runs6.csv" && ok "--runs --csv seed 6 = a run on seed 6" || bad "--runs --csv seed 6 differs"
[ "$(grep -o '"seed":[0-9]*' "$T/runs.json" | tr '\n' ' ')" = '"seed":5 "seed":6 "seed":7 ' ] \
  && ok "--runs --series writes every seed" || bad "--runs --series seeds"

# bad input -> exit 2 and file:line:col: field: expected
printf 'duration: 10s\npolicies:\n  p: {max_atempts: 3}\n' > "$T/bad.yaml"
"$REIN" simulate "$T/bad.yaml" > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 2 ] && ok "bad scenario exits 2" || bad "bad scenario exit $rc"
grep -q "bad.yaml:3:7: policies.p.max_atempts: unknown field; did you mean 'max_attempts'?" "$T/err" \
  && ok "error names file:line:col and field" || bad "message: $(cat "$T/err")"
"$REIN" simulate "$DIR/amplification.yaml" --variant nope > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no variant named 'nope'" "$T/err" && ok "unknown variant" || bad "unknown variant $rc"
"$REIN" simulate "$DIR/amplification.yaml" --runs 0 > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "bad option exits 2" || bad "bad option exit $rc"
"$REIN" simulate /nonexistent.yaml > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] && ok "missing file exits 2" || bad "missing file exit $rc"
"$REIN" simulate --help | grep -q 'usage: rein simulate' && ok "help" || bad "help"

if [ $fails -eq 0 ]; then echo "sim_cli: all passed"; exit 0; fi
echo "sim_cli: $fails failed"; exit 1
