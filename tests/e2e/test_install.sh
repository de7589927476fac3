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
# A build configured without some libraries (REIN_WITH_*=OFF) installs and
# checks what it built: NCOMPONENTS (what CMake built) must all install.
#   test_install.sh SOURCE_DIR BUILD_DIR NCOMPONENTS
set -euo pipefail
src=$1
build=$2
ncomp=${3:?usage: test_install.sh SOURCE_DIR BUILD_DIR NCOMPONENTS}
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
npages=0
if [ -x "$build/cli/rein" ]; then
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
fi

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
dynsyms=$(nm -D --defined-only --with-symbol-versions "$lib")
bad=$(awk '$2 ~ /[TDBR]/ {print $3}' <<<"$dynsyms" | grep -v '^rein_' || true)
if [ -n "$bad" ]; then echo "FAIL: non-rein symbols exported:"; echo "$bad"; exit 1; fi
grep -q ' rein_retry_next@@REIN_[0-9]*$' <<<"$dynsyms" ||
  { echo "FAIL: rein_retry_next not exported with a symbol version"; exit 1; }
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
# optional components: everything installed; each is a shared library on
# librein.so with only rein_* symbols (rein__* only under the private
# version node), and one program per .pc links against exactly what
# `pkg-config --libs rein-NAME` says and runs on the shared libraries.
cmake --install "$build" --prefix "$tmp/all" >/dev/null
pcall=$(dirname "$(find "$tmp/all" -name rein.pc | head -n1)")
liball=$(dirname "$(find "$tmp/all" -name 'librein.so.*' -type f | head -n1)")
declare -A syms=(
  [admit]="admit.h rein_admit_new rein_admit_try rein_admit_poll"
  [contract]="contract.h rein_contract_load rein_contract_check"
  [interop]="interop.h rein_interop_new rein_interop_import_buffer rein_interop_export"
  [sim]="sim.h rein_sim_scenario_load rein_sim_run"
  [fleet]="fleet.h rein_fleet_new"
  [curl]="curl.h rein_curl_new rein_curl_call_new"
  [idem]="idem.h rein_idem_mem_new rein_idem_begin"
  [idem-sqlite]="idem.h rein_idem_sqlite_new"
  [idem-pg]="idem.h rein_idem_pg_new"
  [idem-redis]="idem.h rein_idem_redis_new"
  [idem-http]="idem_http.h rein_idem_http_new"
  [inbox]="inbox.h rein_inbox_config_default rein_outbox_relay"
  [inbox-sqlite]="inbox.h rein_inbox_sqlite_new rein_inbox_tx_sqlite"
  [inbox-pg]="inbox.h rein_inbox_pg_new rein_inbox_tx_pg"
  [broker-redis]="inbox.h rein_broker_redis_new"
  [broker-jetstream]="inbox.h rein_broker_jetstream_new"
  [broker-amqp]="inbox.h rein_broker_amqp_new"
  [outbox-http]="inbox.h rein_outbox_http_new"
)
n=0
comps=""
for pc in "$pcall"/rein-*.pc; do
  comp=$(basename "$pc" .pc)
  comp=${comp#rein-}
  id=${comp//-/_}
  [ -n "${syms[$comp]:-}" ] || { echo "FAIL: no link check for rein-$comp.pc"; exit 1; }
  so=$(find "$liball" -name "librein_$id.so.*" -type f | head -n1)
  [ -n "$so" ] || { echo "FAIL: no shared library for component $comp"; exit 1; }
  dyn=$(nm -D --defined-only --with-symbol-versions "$so" | awk '$2 ~ /[TDBR]/ {print $3}')
  bad=$(grep -v '^rein_[a-z0-9]' <<<"$dyn" | grep -v '^rein__[a-z0-9_]*@@REIN_PRIVATE_' || true)
  [ -z "$bad" ] || { echo "FAIL: $so exports:"; echo "$bad" | head; exit 1; }
  grep -q "@@REIN_[0-9]" <<<"$dyn" || { echo "FAIL: $so has no versioned symbols"; exit 1; }
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
  readelf -d "$tmp/use-$comp" | grep -q "librein_$id.so" ||
    { echo "FAIL: rein-$comp.pc does not link the shared librein_$id"; exit 1; }
  LD_LIBRARY_PATH=$liball "$tmp/use-$comp" > /dev/null
  # ... and statically: rein's archives (pkg-config --static), with the
  # system libraries the .pc files name (Requires.private, followed through
  # rein's own packages) linked as the system has them
  rlibs=""
  for f in $(PKG_CONFIG_PATH=$pcall pkg-config --static --libs "rein-$comp"); do
    case $f in -L*) rlibs="$rlibs $f" ;; -lrein*) rlibs="$rlibs -Wl,-Bstatic $f -Wl,-Bdynamic" ;; esac
  done
  sys="" queue="rein-$comp" seen=""
  while [ -n "$queue" ]; do
    set -- $queue; p=$1; shift; queue="$*"
    case " $seen " in *" $p "*) continue ;; esac
    seen="$seen $p"
    for r in $(PKG_CONFIG_PATH=$pcall pkg-config --print-requires --print-requires-private "$p" | awk '{print $1}'); do
      case $r in rein*) queue="$queue $r" ;; *) sys="$sys $r" ;; esac
    done
  done
  syslibs=""
  [ -z "$sys" ] || syslibs=$(pkg-config --libs $sys)
  cc -std=c11 "$tmp/use-$comp.c" -I"$tmp/all/include" $rlibs $syslibs -lm -lpthread \
    -o "$tmp/use-$comp-static" 2> "$tmp/err" ||
    { echo "FAIL: rein-$comp does not link statically from its archives and .pc:"
      head -20 "$tmp/err"; exit 1; }
  if readelf -d "$tmp/use-$comp-static" | grep -q 'librein'; then
    echo "FAIL: the static link of rein-$comp still needs a shared librein"; exit 1
  fi
  "$tmp/use-$comp-static" > /dev/null
  comps="$comps $id"
  n=$((n + 1))
done
[ "$n" -eq "$ncomp" ] ||
  { echo "FAIL: $n optional components installed, $ncomp built"; exit 1; }

if [ "$n" -gt 0 ]; then
# the CMake package: every component as a target; a component that does
# not exist makes find_package(... REQUIRED) fail, naming it
mkdir -p "$tmp/comp"
one=$comp
cp "$tmp/use-$one.c" "$tmp/comp/main.c"
cat > "$tmp/comp/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.22)
project(user C)
find_package(rein REQUIRED COMPONENTS ${WANT})
add_executable(user main.c)
target_link_libraries(user PRIVATE rein::${ONE})
CM
cmake -S "$tmp/comp" -B "$tmp/comp/b" -DCMAKE_PREFIX_PATH="$tmp/all" \
  "-DWANT=$(tr " " ";" <<<"${comps# }")" -DONE="${one//-/_}" > "$tmp/err" 2>&1 ||
  { echo "FAIL: find_package(rein COMPONENTS${comps}):"; tail -20 "$tmp/err"; exit 1; }
cmake --build "$tmp/comp/b" > /dev/null
LD_LIBRARY_PATH=$liball "$tmp/comp/b/user" > /dev/null
readelf -d "$tmp/comp/b/user" | grep -q "librein_${one//-/_}.so" ||
  { echo "FAIL: rein::${one//-/_} is not the shared library"; exit 1; }
rm -rf "$tmp/comp/b"
if cmake -S "$tmp/comp" -B "$tmp/comp/b" -DCMAKE_PREFIX_PATH="$tmp/all" \
     "-DWANT=${one//-/_};nonsense" -DONE="${one//-/_}" > "$tmp/err" 2>&1; then
  echo "FAIL: find_package(rein REQUIRED COMPONENTS $one nonsense) configured"
  exit 1
fi
grep -q nonsense "$tmp/err" ||
  { echo "FAIL: the error does not name the missing component:"; tail "$tmp/err"; exit 1; }
fi

echo "install: pkg-config and find_package(rein) both build and run; exports rein_* only; $n optional components, each a versioned shared library, link shared and static through their .pc and as CMake targets (a nonsense component fails); $npages man pages render cleanly; bash and zsh completion installed$demo"
