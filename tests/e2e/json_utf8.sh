#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# json_utf8.sh REIN SOURCE_DIR: every JSON document rein writes is UTF-8
# JSON even when a file name is not UTF-8 (issue 17). A contract set whose
# files are named with bytes 0xE9 and 0xFF (Latin-1 and garbage, neither
# UTF-8) goes through `rein check --format json`, `--format sarif` and
# `rein ttl --json`, and a missing file with such a name through check
# (E008); each output must parse as strict UTF-8 JSON (python3's decoder),
# the names must come out with U+FFFD in place of each bad byte, and the
# SARIF artifact URI must keep the exact bytes percent-encoded (%E9, %FF)
# so the file can still be found (docs/security.md, "JSON"). Then every
# JSON document of `rein simulate` parses.
set -eu
rein=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/c" "$tmp/out"
cp "$src/examples/contracts/payments/"*.yaml "$tmp/c/"
bad=$(printf 'caf\351-\377')
mv "$tmp/c/processor.yaml" "$tmp/c/${bad}processor.yaml"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# parse FILE PYTHON-EXPR: strict UTF-8 + JSON, then EXPR on the document d
check() {
  python3 - "$1" "$2" <<'PY' || fail "$1: $2"
import json, sys
raw = open(sys.argv[1], 'rb').read()
d = json.loads(raw.decode('utf-8'))  # strict: any non-UTF-8 byte raises
if not eval(sys.argv[2]):
    print(raw.decode('utf-8')[:2000]); sys.exit(1)
PY
}
run() { # OUT CMD...: the command's exit status is not the point here
  out=$1; shift
  (cd "$tmp/c" && "$@") > "$tmp/out/$out" 2> "$tmp/out/$out.err" || true
}
run check.json "$rein" check . --format json
check "$tmp/out/check.json" \
  "any(x['location']['file'] == './caf\ufffd-\ufffdprocessor.yaml' for x in d['diagnostics'])"
check "$tmp/out/check.json" "d['summary']['errors'] > 0"
run check.sarif "$rein" check . --format sarif
check "$tmp/out/check.sarif" \
  "any(r['locations'][0]['physicalLocation']['artifactLocation']['uri'] == 'caf%E9-%FFprocessor.yaml' for r in d['runs'][0]['results'])"
run ttl.json "$rein" ttl --json .
check "$tmp/out/ttl.json" "any(t['file'] == './caf\ufffd-\ufffdprocessor.yaml' for t in d)"
# A file that cannot be read: its name is in the location and the message.
run missing.json "$rein" check "missing-$bad.yaml" --format json
check "$tmp/out/missing.json" \
  "d['diagnostics'][0]['rule'] == 'E008' and d['diagnostics'][0]['location']['file'] == 'missing-caf\ufffd-\ufffd.yaml'"
run missing.sarif "$rein" check "missing-$bad.yaml" --format sarif
check "$tmp/out/missing.sarif" \
  "d['runs'][0]['results'][0]['locations'][0]['physicalLocation']['artifactLocation']['uri'] == 'missing-caf%E9-%FF.yaml'"
# Every JSON `rein simulate` writes (summary, --series, --compare, --runs)
# parses; scenario and variant names are restricted to [A-Za-z0-9_.-] by
# the loader, and are escaped by jansson all the same.
sc=$src/examples/scenarios/amplification.yaml
sim() { run "$@" --quiet --json --duration 5s; }
sim sim.json "$rein" simulate "$sc" --series "$tmp/out/series.json"
check "$tmp/out/sim.json" "d['scenario'] == 'amplification' and d['runs'] == 1 and [v['variant'] for v in d['variants']] == ['naive']"
check "$tmp/out/series.json" "d['series'][0]['points'][1]['t_s'] == 1.0"
sim cmp.json "$rein" simulate "$sc" --compare
check "$tmp/out/cmp.json" "[v['variant'] for v in d['variants']] == ['naive', 'budget-10pct']"
sim runs.json "$rein" simulate "$sc" --runs 2
check "$tmp/out/runs.json" "d['runs'] == 2 and d['variants'][0]['amplification']['n'] == 2 and d['variants'][0]['servers'][0]['per_logical']['n'] == 2"
[ "$fails" -eq 0 ] || exit 1
echo "ok: check, ttl and simulate JSON (and SARIF) are UTF-8 JSON"
