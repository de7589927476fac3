#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# abi.sh: the ABI baselines of rein's shared libraries (docs/abi.md), kept
# with libabigail (Debian abigail-tools).
#
#   abi.sh dump BUILD_DIR    write abi/<SONAME>.abi for every shared library
#                            built in BUILD_DIR (abidw, public headers only)
#   abi.sh check BUILD_DIR   compare every built library with the baseline
#                            of its SONAME: added functions are fine, any
#                            other change fails (raise REIN_SOVERSION, or,
#                            for a SONAME no release has shipped, dump the
#                            baseline again in the commit that changes it)
#   abi.sh selftest          prove abidiff flags an appended struct member
#                            behind a versioned symbol on this machine
#
# A library whose SONAME has no baseline yet is reported, not failed (a new
# library or a new SONAME); `dump` gives it one.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
abidir=$here/abi
hdrs=$here/include/rein

libs() { find "$1/src" -name 'librein*.so.*.*' -type f | sort; }
soname() { readelf -d "$1" | awk '/SONAME/ {gsub(/[][]/, "", $5); print $5}'; }

need() {
  command -v abidiff >/dev/null && command -v abidw >/dev/null || {
    echo "abi.sh: abidiff/abidw not found (apt-get install abigail-tools;" \
         "scripts/deps.sh check installs it)" >&2
    exit 2
  }
}

case ${1:-} in
dump)
  need
  build=${2:?usage: abi.sh dump BUILD_DIR}
  mkdir -p "$abidir"
  for l in $(libs "$build"); do
    s=$(soname "$l")
    abidw --headers-dir "$hdrs" --header-file "$build/include/rein/version.h" \
      --no-corpus-path --no-comp-dir-path --short-locs \
      --out-file "$abidir/$s.abi" "$l"
    echo "abi: $s -> abi/$s.abi"
  done
  ;;
check)
  need
  build=${2:?usage: abi.sh check BUILD_DIR}
  fail=0 n=0 new=""
  for l in $(libs "$build"); do
    s=$(soname "$l")
    base=$abidir/$s.abi
    if [ ! -f "$base" ]; then
      new="$new $s"
      continue
    fi
    n=$((n + 1))
    set +e
    out=$(abidiff --no-added-syms --headers-dir2 "$hdrs" \
      --header-file2 "$build/include/rein/version.h" "$base" "$l" 2>&1)
    rc=$?
    set -e
    # bit 1: abidiff failed; 4: ABI changed; 8: incompatible change
    if [ $rc -ne 0 ]; then
      echo "FAIL: $s differs from abi/$s.abi (abidiff exit $rc):"
      echo "$out" | head -40
      echo "  A change to a released SONAME needs REIN_SOVERSION raised" \
           "(CMakeLists.txt); for an unreleased one, scripts/abi.sh dump" \
           "in the same commit (docs/abi.md)."
      fail=1
    fi
  done
  [ -z "$new" ] || echo "abi: no baseline yet for:$new (scripts/abi.sh dump)"
  [ $fail -eq 0 ] || exit 1
  echo "abi: $n libraries match their baselines (additions allowed)"
  ;;
selftest)
  need
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  printf 'typedef struct cfg { int a; int b; } cfg;\nint use(const cfg *c);\n' > "$t/o.h"
  printf 'typedef struct cfg { int a; int b; long extra; } cfg;\nint use(const cfg *c);\n' > "$t/n.h"
  printf '#include "o.h"\nint use(const cfg *c) { return c->a; }\n' > "$t/o.c"
  printf '#include "n.h"\nint use(const cfg *c) { return c->a + (int)c->extra; }\n' > "$t/n.c"
  printf 'T_1 { global: use; local: *; };\n' > "$t/v.map"
  for v in o n; do
    cc -g -shared -fPIC "$t/$v.c" -Wl,-soname,libt.so.1 \
      -Wl,--version-script="$t/v.map" -o "$t/$v.so"
  done
  abidw --out-file "$t/o.abi" "$t/o.so"
  set +e
  abidiff --no-added-syms "$t/o.abi" "$t/n.so" > "$t/out" 2>&1
  rc=$?
  abidiff --no-added-syms "$t/o.abi" "$t/o.so" > /dev/null 2>&1
  rc0=$?
  set -e
  if [ $((rc & 4)) -eq 0 ] || [ $rc0 -ne 0 ]; then
    echo "FAIL: abidiff did not flag an appended member (exit $rc) or" \
         "flagged an unchanged library (exit $rc0)"
    cat "$t/out"
    exit 1
  fi
  grep -q "type size changed from 64 to 128" "$t/out" ||
    { echo "FAIL: abidiff's report lacks the size change"; cat "$t/out"; exit 1; }
  echo "abi: abidiff flags an appended struct member behind a versioned symbol"
  ;;
*)
  sed -n '3,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
