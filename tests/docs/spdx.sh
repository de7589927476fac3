#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# spdx.sh: every source, build and script file in the tree names its licence
# in an SPDX line within its first three lines, and LICENSE is the Apache
# License 2.0. Data files (YAML, JSON, fuzz corpora) and prose are exempt.
# Usage: spdx.sh SOURCE_DIR
set -eu
src=${1:?usage: spdx.sh SOURCE_DIR}
cd "$src"
grep -q 'Apache License' LICENSE && grep -q 'Version 2.0, January 2004' LICENSE || {
  echo "LICENSE is not the Apache License 2.0"; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  list=$(git ls-files)
else
  list=$(find . -type f ! -path './.git/*' ! -path './build*' | sed 's|^\./||')
fi
bad=0; n=0
for f in $list; do
  case "$f" in
    */corpus/*) continue ;;
    *.c|*.h|*.h.in|*.sh|*.cmake|*.cmake.in|*.pc.in|*.py|*.lua|*CMakeLists.txt|Makefile|.ci/run) ;;
    *) continue ;;
  esac
  [ -f "$f" ] || continue
  n=$((n + 1))
  if ! head -n 3 "$f" | grep -q 'SPDX-License-Identifier: Apache-2.0'; then
    echo "$f: no 'SPDX-License-Identifier: Apache-2.0' in its first 3 lines"
    bad=$((bad + 1))
  fi
done
echo "spdx: $n files checked, $bad without a licence line"
[ "$bad" -eq 0 ]
