#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# doc_examples.sh CC SRC_DIR BUILD_DIR: every ```c block of README.md and
# docs/*.md must still compile against the headers in the tree.
#
# The docs show three kinds of C:
# - programs (with main): compiled as written; any error fails;
# - SYNOPSIS blocks restating declarations from a header: compiled after
#   every public header, so a signature that drifted from its header is a
#   "conflicting types" error;
# - fragments (statements that use the caller's own names, `...` for what
#   is left out): their function definitions go to the top, the rest into
#   a function body, and the errors that name a rein_ / REIN_ identifier
#   fail (a function, type, member or constant that is gone or changed);
#   errors about the reader's own names (send_charge, db) are expected.
#   gcc names the function in an argument-count error, clang does not, so
#   that kind is caught by the gcc run of `make check` only.
# All with -fsyntax-only (types checked, nothing linked or run) and with the
# diagnostics that mean API drift made errors. Blocks that define a struct
# or enum (layouts restated for the reader) are skipped: C has no way to
# redeclare those. A failure names the file and the block's line.
set -u
export LC_ALL=C # plain quotes in diagnostics
CC=$1
SRC=$2
BUILD=$3
OUT=$BUILD/doc_examples
rm -rf "$OUT"
mkdir -p "$OUT"

# every public header, and the system ones fragments lean on
{
  for h in stdbool.h stdint.h stdio.h stdlib.h string.h sqlite3.h \
           microhttpd.h; do
    echo "#if __has_include(<$h>)"
    echo "#include <$h>"
    echo "#endif"
  done
  echo '#include "rein.h"'
  for h in "$SRC"/include/rein/*.h; do
    echo "#include \"rein/$(basename "$h")\""
  done
} > "$OUT/all_headers.h"

FLAGS="-std=c11 -fsyntax-only -D_GNU_SOURCE -I$SRC/include -I$BUILD/include
  $(pkg-config --cflags libcurl hiredis libpq sqlite3 libmicrohttpd 2>/dev/null)
  -Werror=implicit-function-declaration -Werror=incompatible-pointer-types
  -Werror=int-conversion -Werror=return-type -Wno-unused"

n=0
fail=0
for md in "$SRC"/README.md "$SRC"/docs/*.md; do
  base=$(basename "$md" .md)
  # split into one file per block: OUT/base.LINE.c
  awk -v out="$OUT" -v base="$base" '
    /^```c[ \t]*$/ { inb = 1; line = NR + 1; f = sprintf("%s/%s.%d.c", out, base, line); next }
    /^```/ { if (inb) close(f); inb = 0; next }
    inb { print > f }
  ' "$md"
done
for f in "$OUT"/*.c; do
  [ -e "$f" ] || continue
  if grep -Eq '^[[:space:]]*(typedef[[:space:]]+)?(struct|enum|union)[[:space:]]+[A-Za-z_0-9]+[[:space:]]*\{' "$f"; then
    continue
  fi
  n=$((n + 1))
  name=$(basename "$f" .c)
  where="${name%.*}.md:${name##*.}"
  if grep -q 'main(' "$f"; then
    if ! $CC $FLAGS -I"$OUT" "$f" 2> "$f.err"; then
      echo "FAIL $where: the program does not compile:"
      sed 's/^/    /' "$f.err" | head -20
      fail=$((fail + 1))
    fi
    continue
  fi
  { echo '#include "all_headers.h"'; cat "$f"; } > "$f.tu.c"
  $CC $FLAGS -I"$OUT" "$f.tu.c" 2> "$f.err" && continue
  # a fragment: function definitions (from a line at column 0 ending in
  # "{" to the next "}" at column 0) and includes on top, the rest inside
  # a function
  awk '
    BEGIN { print "#include \"all_headers.h\"" }
    fn { print; if ($0 ~ /^}/) fn = 0; next }
    /^[A-Za-z_].*\)[ \t]*\{[ \t]*$/ { fn = 1; print; next }
    /^#include/ { print; next }
    { body = body $0 "\n" }
    END { printf "int doc_fragment_(void) {\n%s  return 0;\n}\n", body }
  ' "$f" > "$f.frag.c"
  $CC $FLAGS -I"$OUT" "$f.frag.c" 2> "$f.err"
  if grep 'error:' "$f.err" | grep -Eq "'(rein|REIN)_[A-Za-z_0-9]*'"; then
    echo "FAIL $where: the fragment uses rein names that do not compile:"
    grep 'error:' "$f.err" | grep -E "'(rein|REIN)_[A-Za-z_0-9]*'" |
      sed 's/^/    /' | head -20
    fail=$((fail + 1))
  fi
done
echo "doc examples: $n blocks compiled, $fail failed"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
