#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_install.sh: the core installs and is usable the way a user would use
# it: pkg-config, the CMake package (rein::), and a shared library that
# exports only rein_* symbols (hidden visibility) and links nothing but libc,
# libm and pthreads. Then every optional library that was built installs
# with its own rein-NAME.pc, and a program taking the address of its main
# entry points links against exactly what `pkg-config --libs rein-NAME`
# says (so a .pc that forgot a library or a dependency fails here). The
# tool installs with its man pages, rein(1) and rein-COMMAND(1) for every
# command, which render without a warning, and its bash and zsh completion,
# which completes against the installed binary. When the demo was built,
# `rein demo` runs from the installed prefix alone: rein-demo-load and the
# ledger from libexec/rein, the scenario and the contract from share/rein
# (a short rein round and the simulation; ~15 s), with the source and build
# trees out of reach.
#   test_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" --component Unspecified >/dev/null
lib=$(find "$tmp/prefix" -name "librein.so*" -type f | head -n1)
[ -n "$lib" ] || { echo "FAIL: librein.so not installed"; exit 1; }
# the licence is installed with the core
for f in LICENSE NOTICE CHANGELOG.md; do
  [ -n "$(find "$tmp/prefix/share/doc" -name "$f" 2>/dev/null)" ] ||
    { echo "FAIL: $f not installed under share/doc"; exit 1; }
done

# the tool: man pages for every command, rendering cleanly; completion
rein_bin=$tmp/prefix/bin/rein
[ -x "$rein_bin" ] || { echo "FAIL: bin/rein not installed"; exit 1; }
man1=$tmp/prefix/share/man/man1
npages=0
for c in "" $("$rein_bin" __complete "" | grep -vx help); do
  page=$man1/rein${c:+-$c}.1
  [ -s "$page" ] || { echo "FAIL: $page not installed"; exit 1; }
  w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
  [ -z "$w" ] || { echo "FAIL: man warns on $page: $w"; exit 1; }
  npages=$((npages + 1))
done
[ "$npages" -ge 7 ] || { echo "FAIL: only $npages man pages"; exit 1; }
[ -s "$tmp/prefix/share/zsh/site-functions/_rein" ] ||
  { echo "FAIL: zsh completion not installed"; exit 1; }
bashcomp=$tmp/prefix/share/bash-completion/completions/rein
[ -s "$bashcomp" ] || { echo "FAIL: bash completion not installed"; exit 1; }
got=$(PATH=$tmp/prefix/bin:$PATH bash --norc --noprofile -c '
  . "$1"; COMP_WORDS=(rein check --fo); COMP_CWORD=2; _rein
  echo "${COMPREPLY[*]}"' bash "$bashcomp")
[ "$got" = "--format" ] || { echo "FAIL: installed bash completion gave '$got'"; exit 1; }

# the demo, from the installed layout (cmake/ReinLayout.cmake)
demo=""
if [ -e "$build/libexec/rein/rein-demo-load" ]; then
  for f in libexec/rein/rein-demo-load libexec/rein/ledger \
           share/rein/scenarios/demo.yaml share/rein/contracts/ledger/client.yaml \
           share/rein/contracts/ledger/ledger.yaml; do
    [ -e "$tmp/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
  done
  # copied elsewhere, so nothing can resolve into the source or build tree
  cp -a "$tmp/prefix" "$tmp/moved"
  (cd "$tmp" && env -u REIN_LEDGER -u REIN_DEMO_LOAD "$tmp/moved/bin/rein" demo \
     --short --only rein --json "$tmp/demo.json" --html "$tmp/demo.html" \
     > "$tmp/demo.out" 2> "$tmp/demo.err") ||
    { echo "FAIL: rein demo from the installed prefix"; cat "$tmp/demo.err"; exit 1; }
  grep -q "^scenario: $tmp/moved/share/rein/scenarios/demo.yaml$" "$tmp/demo.out" &&
    grep -q "rein: from $tmp/moved/share/rein/contracts/ledger " "$tmp/demo.out" &&
    grep -q "measured vs .rein simulate" "$tmp/demo.out" ||
    { echo "FAIL: the installed demo did not use the installed files:"; cat "$tmp/demo.out"; exit 1; }
  calls=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rounds"]["rein"]["calls"])' "$tmp/demo.json")
  [ "$calls" -gt 100 ] || { echo "FAIL: installed demo made $calls calls"; exit 1; }
  demo="; rein demo runs from the installed prefix ($calls calls)"
fi

# exported symbols: only rein_*. The symbol table is read once into a
# variable: `nm | grep -q` under pipefail fails whenever grep exits before nm
# has written everything (nm dies of SIGPIPE), which CI hit.
dynsyms=$(nm -D --defined-only "$lib")
bad=$(awk '$2 ~ /[TDBR]/ {print $3}' <<<"$dynsyms" | grep -v '^rein_' || true)
if [ -n "$bad" ]; then echo "FAIL: non-rein symbols exported:"; echo "$bad"; exit 1; fi
grep -q ' rein_retry_next$' <<<"$dynsyms" || { echo "FAIL: rein_retry_next not exported"; exit 1; }
if grep -q 'rein__' <<<"$dynsyms"; then echo "FAIL: internal rein__ symbols exported"; exit 1; fi

# dependencies: libc, libm, pthreads (and the loader) only
deps=$(readelf -d "$lib" | awk '/NEEDED/ {print $5}' | tr -d '[]' | grep -vE '^(libc|libm|libpthread|ld-linux)' || true)
if [ -n "$deps" ]; then echo "FAIL: core links more than libc/libm/pthreads: $deps"; exit 1; fi

# pkg-config
pcdir=$(dirname "$(find "$tmp/prefix" -name rein.pc | head -n1)")
PKG_CONFIG_PATH=$pcdir cc -std=c11 "$src/examples/retry-basic/main.c" \
  $(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs rein) -o "$tmp/ex-pc"
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/ex-pc" | grep -q "success after 3 attempts"

# CMake package
mkdir -p "$tmp/proj"
cp "$src/examples/retry-basic/main.c" "$tmp/proj/"
cat > "$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.22)
project(user C)
find_package(rein REQUIRED)
add_executable(user main.c)
target_link_libraries(user PRIVATE rein::rein)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/proj/b" >/dev/null
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/proj/b/user" | grep -q "success after 3 attempts"
# optional components: everything installed, one program per .pc
cmake --install "$build" --prefix "$tmp/all" >/dev/null
pcall=$(dirname "$(find "$tmp/all" -name rein.pc | head -n1)")
declare -A syms=(
  [admit]="admit.h rein_admit_new rein_admit_try rein_admit_poll"
  [contract]="contract.h rein_contract_load rein_contract_check"
  [sim]="sim.h rein_sim_scenario_load rein_sim_run"
  [fleet]="fleet.h rein_fleet_new"
  [inbox]="inbox.h rein_inbox_new rein_broker_redis_new rein_outbox_http_new"
  [curl]="curl.h rein_curl_new rein_curl_call_new"
  [idem]="idem.h rein_idem_mem_new rein_idem_sqlite_new rein_idem_pg_new rein_idem_redis_new"
  [idem-http]="idem_http.h rein_idem_http_new"
)
n=0
for pc in "$pcall"/rein-*.pc; do
  comp=$(basename "$pc" .pc)
  comp=${comp#rein-}
  [ -n "${syms[$comp]:-}" ] || { echo "FAIL: no link check for rein-$comp.pc"; exit 1; }
  set -- ${syms[$comp]}
  hdr=$1
  shift
  {
    echo "#include <stdio.h>"
    echo "#include <rein/$hdr>"
    echo "int main(void) {"
    echo "  void *volatile p[] = {"
    for f in "$@"; do echo "    (void *)$f,"; done
    echo "  };"
    echo "  printf(\"%d\\n\", (int)(sizeof p / sizeof p[0]));"
    echo "  return p[0] == NULL;"
    echo "}"
  } > "$tmp/use-$comp.c"
  flags=$(PKG_CONFIG_PATH=$pcall pkg-config --cflags --libs "rein-$comp") ||
    { echo "FAIL: pkg-config rein-$comp"; exit 1; }
  if ! cc -std=c11 "$tmp/use-$comp.c" $flags -o "$tmp/use-$comp" 2> "$tmp/err"; then
    echo "FAIL: a program using rein-$comp does not link with its .pc:"
    head -20 "$tmp/err"
    exit 1
  fi
  "$tmp/use-$comp" > /dev/null
  n=$((n + 1))
done
[ "$n" -ge 1 ] || { echo "FAIL: no optional component installed"; exit 1; }

echo "install: pkg-config and find_package(rein) both build and run; exports rein_* only; $n optional components link through their .pc; $npages man pages render cleanly; bash and zsh completion installed$demo"
