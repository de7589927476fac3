#!/usr/bin/env bash
# test_install.sh: the core installs and is usable the way a user would use
# it: pkg-config, the CMake package (rein::), and a shared library that
# exports only rein_* symbols (hidden visibility) and links nothing but libc,
# libm and pthreads.
#   test_install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" --component Unspecified >/dev/null
lib=$(find "$tmp/prefix" -name "librein.so*" -type f | head -n1)
[ -n "$lib" ] || { echo "FAIL: librein.so not installed"; exit 1; }

# exported symbols: only rein_*
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^rein_' || true)
if [ -n "$bad" ]; then echo "FAIL: non-rein symbols exported:"; echo "$bad"; exit 1; fi
nm -D --defined-only "$lib" | grep -q ' rein_retry_next$' || { echo "FAIL: rein_retry_next not exported"; exit 1; }
if nm -D --defined-only "$lib" | grep -q 'rein__'; then echo "FAIL: internal rein__ symbols exported"; exit 1; fi

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
echo "install: pkg-config and find_package(rein) both build and run; exports rein_* only"
