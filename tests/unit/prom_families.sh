#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# prom_families.sh PAGE_PROGRAM PROMTOOL: the page PAGE_PROGRAM writes passes
# promtool's linter, and every sample belongs to the family of the last
# "# TYPE" line (the text format wants each family as one group, which
# promtool does not check); the deprecated split form (PAGE_PROGRAM --split)
# must fail the grouping check, so the check is known to bite.
set -eu
page=$1 promtool=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
grouped() {
  awk '
    /^# TYPE / { fam = $3; type = $4; if (seen[fam]++) { print "family " fam " twice"; bad = 1 } next }
    /^#/ { next }
    /^$/ { next }
    { name = $0; sub(/[{ ].*/, "", name); base = name
      if (type == "histogram") sub(/_(bucket|sum|count)$/, "", base)
      if (base != fam) { print "sample " name " outside its family (in " fam ")"; bad = 1 } }
    END { exit bad }' "$1"
}
"$page" > "$tmp/page.txt"
"$promtool" check metrics < "$tmp/page.txt"
grouped "$tmp/page.txt"
"$page" --split > "$tmp/split.txt"
if grouped "$tmp/split.txt" > "$tmp/split.out"; then
  echo "FAIL: the split page passed the grouping check"; exit 1
fi
echo "metrics page: promtool clean, $(grep -c '^# TYPE' "$tmp/page.txt") families each in one group; split form rejected ($(head -n1 "$tmp/split.out"))"
