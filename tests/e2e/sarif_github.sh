#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# sarif_github.sh REIN SOURCE_DIR MULTITOOL: `rein check --format sarif`
# passes Microsoft's SARIF Multitool with GitHub's ingestion rules
# (--rule-kind "Gh;Sarif": rule descriptors with fullDescription and help,
# tool version, well-formed artifact URIs), both run from the repository
# (paths relative to %SRCROOT%) and from elsewhere with absolute paths
# (file:// URIs), and with a file name that is not UTF-8. Any error fails;
# warnings are printed.
set -eu
rein=$1 src=$2 mt=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
validate() { # NAME SARIF
  python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$2" ||
    { echo "FAIL: $1: not valid JSON"; exit 1; }
  "$mt" validate "$2" --rule-kind "Gh;Sarif" -o "$tmp/$1.out.sarif" \
    --log ForceOverwrite > "$tmp/$1.txt" 2>&1 || true
  if grep -q ': error ' "$tmp/$1.txt" || ! grep -q 'Analysis completed successfully' "$tmp/$1.txt"; then
    echo "FAIL: $1:"; cat "$tmp/$1.txt"; exit 1
  fi
  grep ': warning ' "$tmp/$1.txt" || true
  echo "ok: $1 ($(grep -c '"ruleId"' "$2") results)"
}
rc=0
(cd "$src" && "$rein" check examples/contracts/payments --format sarif) > "$tmp/rel.sarif" || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: expected findings (exit 1), got $rc"; exit 1; }
grep -q '"uriBaseId":"%SRCROOT%"' "$tmp/rel.sarif" || { echo "FAIL: no %SRCROOT% URIs"; exit 1; }
validate relative "$tmp/rel.sarif"
# The whole examples tree holds each service twice (as found and fixed):
# input errors (E006) with related locations.
rc=0
(cd "$tmp" && "$rein" check "$src/examples/contracts" --format sarif) > "$tmp/abs.sarif" || rc=$?
[ "$rc" -eq 2 ] || { echo "FAIL: expected input errors (exit 2), got $rc"; exit 1; }
grep -q '"relatedLocations"' "$tmp/rel.sarif" || { echo "FAIL: no related locations"; exit 1; }
grep -q '"uri":"file:///' "$tmp/abs.sarif" || { echo "FAIL: no file:// URIs"; exit 1; }
validate absolute "$tmp/abs.sarif"
# A path that needs percent-encoding (a space and a '#').
mkdir -p "$tmp/odd dir#1"
cp "$src/examples/contracts/payments/"*.yaml "$tmp/odd dir#1/"
rc=0
(cd "$tmp" && "$rein" check "odd dir#1" --format sarif) > "$tmp/odd.sarif" || rc=$?
grep -q 'odd%20dir%231/' "$tmp/odd.sarif" || { echo "FAIL: path not percent-encoded"; exit 1; }
validate encoded "$tmp/odd.sarif"
# A file name that is not UTF-8 (bytes 0xE9 and 0xFF): the URI keeps the
# bytes percent-encoded, the document stays UTF-8 (json_utf8 tests the rest).
mkdir -p "$tmp/bytes"
cp "$src/examples/contracts/payments/"*.yaml "$tmp/bytes/"
mv "$tmp/bytes/processor.yaml" "$tmp/bytes/$(printf 'caf\351-\377')processor.yaml"
rc=0
(cd "$tmp/bytes" && "$rein" check . --format sarif) > "$tmp/bytes.sarif" || rc=$?
grep -q 'caf%E9-%FFprocessor.yaml' "$tmp/bytes.sarif" || { echo "FAIL: bytes not percent-encoded"; exit 1; }
validate bytes "$tmp/bytes.sarif"
