#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cli.sh REIN SOURCE_DIR MAN_DIR [ZSH]: the rein tool's front end, through
# the binary: `rein help X` and `X --help` print the same text, and every
# option they list is in the man page rein-X(1) and in the completion
# candidates (one table feeds all three); the man pages render without a
# warning from man or groff; did-you-mean for a mistyped command, option
# and choice; the bash (and, given ZSH, zsh) completion scripts complete
# commands, options, choices and paths; colour only on a terminal (run
# under script(1)'s pty) and never with NO_COLOR.
set -u
REIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$2" && pwd)
MAN=$(cd "$3" && pwd)
ZSH=${4:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
export MANWIDTH=200 LC_ALL=C.UTF-8
unset NO_COLOR

cmds=$("$REIN" __complete "")
for c in check demo policy schedule simulate ttl; do
  grep -qx "$c" <<<"$cmds" || bad "command $c not listed by __complete"
done

# ------------------------------------------ one table: help, man, completion
for c in $(grep -vx help <<<"$cmds"); do
  "$REIN" help "$c" > "$T/help" || bad "rein help $c exited $?"
  "$REIN" "$c" --help > "$T/help2" || bad "rein $c --help exited $?"
  cmp -s "$T/help" "$T/help2" && ok "$c: help X = X --help" || bad "$c: help differs"
  grep -q "^usage: rein $c" "$T/help" || bad "$c: no usage line"
  page=$MAN/rein-$c.1
  [ -s "$page" ] || { bad "$c: no man page $page"; continue; }
  w=$(man --warnings -E UTF-8 -l "$page" 2>&1 > "$T/man")
  [ -z "$w" ] && ok "$c: man --warnings silent" || bad "$c: man warns: $w"
  w=$(groff -man -ww -z "$page" 2>&1)
  [ -z "$w" ] || bad "$c: groff warns: $w"
  # the options of --help (rows starting "  -"), of the page, of completion
  grep -E '^  (-[a-z], )? *--[a-z]' "$T/help" | grep -oE -- '--[a-z][a-z-]*' |
    sort -u > "$T/o.help"
  # man renders \- as U+2212 in UTF-8: read it as ASCII
  LC_ALL=C man -l "$page" 2>/dev/null | col -b | grep -oE -- '--[a-z][a-z-]*' |
    sort -u > "$T/o.man"
  "$REIN" __complete "$c" -- | sort -u > "$T/o.comp"
  [ "$(wc -l < "$T/o.help")" -ge 2 ] || bad "$c: no options in help"
  missing=$(comm -23 "$T/o.help" "$T/o.man" | tr '\n' ' ')
  [ -z "$missing" ] && ok "$c: every option is in the man page" ||
    bad "$c: not in rein-$c(1): $missing"
  cmp -s "$T/o.help" "$T/o.comp" && ok "$c: completion offers exactly --help's options" ||
    bad "$c: completion $(tr '\n' ' ' < "$T/o.comp") vs help $(tr '\n' ' ' < "$T/o.help")"
  grep -q "^NAME" "$T/man" && grep -q "^SYNOPSIS" "$T/man" &&
    grep -q "^OPTIONS" "$T/man" && grep -q "^EXIT STATUS" "$T/man" ||
    bad "$c: page lacks a section"
done
w=$(man --warnings -E UTF-8 -l "$MAN/rein.1" 2>&1 > "$T/man")
[ -z "$w" ] && grep -q "rein-check(1)" "$T/man" && ok "rein(1) renders and points to rein-check(1)" ||
  bad "rein(1): $w"

# ------------------------------------------------------------ did you mean
"$REIN" chek x > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "no command 'chek'; did you mean 'check'?" "$T/e" &&
  ok "mistyped command" || bad "mistyped command ($rc): $(cat "$T/e")"
"$REIN" help simulat > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "did you mean 'simulate'?" "$T/e" && ok "help of a mistyped command" ||
  bad "help simulat ($rc): $(cat "$T/e")"
"$REIN" zzzzzz > /dev/null 2> "$T/e"
grep -q "did you mean" "$T/e" && bad "suggested something for zzzzzz" || ok "no suggestion when nothing is close"
"$REIN" check --formt json x > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown option: --formt (did you mean '--format'?)" "$T/e" &&
  ok "mistyped option" || bad "mistyped option ($rc): $(cat "$T/e")"
"$REIN" simulate x.yaml --reprot=r.html > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "did you mean '--report'?" "$T/e" && ok "mistyped --option=value" ||
  bad "mistyped --opt=v ($rc): $(cat "$T/e")"
"$REIN" schedule --jitter ful > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "one of none, full, equal, decorrelated: ful (did you mean 'full'?)" "$T/e" &&
  ok "mistyped choice" || bad "mistyped choice ($rc): $(cat "$T/e")"
"$REIN" check --format > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "missing value for --format" "$T/e" && ok "missing value" || bad "missing value ($rc)"
"$REIN" check --quiet=yes x > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q "takes no value" "$T/e" && ok "flag with a value" || bad "flag=value ($rc)"
"$REIN" demo --threads 2.5 > /dev/null 2> "$T/e"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--threads must be 1..16: 2.5" "$T/e" && ok "integer bounds" || bad "threads ($rc): $(cat "$T/e")"
# an argument with a terminal escape comes back escaped
"$REIN" check $'--\e[31mx' > /dev/null 2> "$T/e"
grep -q $'\e' "$T/e" && bad "raw ESC in the error" || ok "bad option escaped"

# option forms kept: -f V, -fV, --opt=V, -q, operands around options, --
"$REIN" check -fjson "$SRC/examples/contracts/ledger" | grep -q '"diagnostics"' &&
  ok "-fVALUE" || bad "-fVALUE"
"$REIN" check "$SRC/examples/contracts/ledger" -q -- "$SRC/examples/contracts/layers-fixed" \
  2> "$T/e" > /dev/null && [ ! -s "$T/e" ] && ok "operands around options, --" || bad "operands/--"
"$REIN" schedule --clients 2 --attempts 3 --jitter=none --base 1s | grep -q '^2 .* 1.000 .* 3.000' &&
  ok "schedule options" || bad "schedule: $("$REIN" schedule --clients 2 --attempts 3 --jitter=none --base 1s)"

# -------------------------------------------------------- bash completion
PATH=$(dirname "$REIN"):$PATH bash --norc --noprofile -c '
  set -u
  . "$1/cli/completion/rein.bash"
  cd "$1/examples/contracts"
  t() { # t EXPECTED WORD...: complete the last word; EXPECTED in COMPREPLY
    local want=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _rein
    local r; for r in "${COMPREPLY[@]}"; do [ "$r" = "$want" ] && return 0; done
    echo "FAIL: bash: $* -> (${COMPREPLY[*]}), expected $want"; return 1
  }
  n() { # n UNEXPECTED WORD...
    local no=$1; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _rein
    local r; for r in "${COMPREPLY[@]}"; do
      [ "$r" = "$no" ] && { echo "FAIL: bash: $* offered $no"; return 1; }; done
    return 0
  }
  f=0
  t check rein ch || f=1
  t simulate rein sim || f=1
  n check rein sim || f=1
  t --format rein check --fo || f=1
  t --max-amplification rein check --max || f=1
  t json rein check --format "" || f=1
  t sarif rein check -f s || f=1
  t json rein check --format = "" || f=1      # bash splits --format=...
  t json rein check --format = js || f=1
  t decorrelated rein schedule --jitter d || f=1
  t exponential rein schedule --backoff e || f=1
  t rein rein demo --only r || f=1
  t payments rein check pay || f=1            # operands: paths
  t payments-fixed rein ttl --json pay || f=1
  t ledger rein demo --contracts led || f=1   # a DIR option: directories
  t policy rein help po || f=1
  t --compare rein simulate x.yaml --comp || f=1
  n --format rein check --format "" || f=1
  exit $f
' bash "$SRC" && ok "bash completion" || bad "bash completion"

# --------------------------------------------------------- zsh completion
if [ -n "$ZSH" ]; then
  PATH=$(dirname "$REIN"):$PATH "$ZSH" -f -c '
    cd "$1/examples/contracts"
    compadd() { while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done; shift
                print -l -- "$@" >> $OUT; }
    _files() { print -- "@files $*" >> $OUT; }
    t() { # t EXPECTED WORD...: the last word is being completed
      local want=$1; shift
      OUT=$(mktemp); words=("$@"); CURRENT=$#
      source "$SRCDIR/cli/completion/_rein"
      if ! grep -qxF -- "$want" $OUT; then
        print "FAIL: zsh: $* -> $(tr "\n" " " < $OUT), expected $want"; rm -f $OUT; return 1
      fi
      rm -f $OUT
    }
    SRCDIR=$1; f=0
    t check rein ch || f=1
    t --format rein check --fo || f=1
    t --format=json rein check --format=j || f=1
    t full rein schedule --jitter f || f=1
    t "@files " rein check pay || f=1
    t "@files -/" rein demo --contracts "" || f=1
    exit $f
  ' zsh "$SRC" && ok "zsh completion" || bad "zsh completion"
else
  echo "skip: zsh completion (no zsh given)"
fi
"$REIN" __complete check --format "" | sort | tr '\n' ' ' | grep -qx 'json sarif text ' &&
  ok "__complete choices" || bad "__complete choices: $("$REIN" __complete check --format '')"

# the FORMAT of import and export: completed and checked from the one
# table of formats (rein_interop_formats)
for c in import export; do
  grep -qx "$c" <<<"$cmds" || continue
  f=$("$REIN" __complete "$c" "" | tr '\n' ' ')
  case "$f" in *grpc*envoy*) ok "$c: __complete offers the formats" ;;
    *) bad "$c: __complete FORMAT: $f" ;; esac
  f=$("$REIN" __complete "$c" -o x e | tr '\n' ' ')
  [ "$f" = "envoy " ] && ok "$c: __complete FORMAT after an option" ||
    bad "$c: __complete $c -o x e: $f"
  f=$("$REIN" __complete "$c" envoy "" | tr '\n' ' ')
  [ "$f" = "@file " ] && ok "$c: files after FORMAT" || bad "$c: after FORMAT: $f"
  "$REIN" "$c" envy x > /dev/null 2> "$T/e"; rc=$?
  [ $rc -eq 2 ] && grep -q "unknown format: envy (did you mean 'envoy'? known: grpc, envoy, istio" "$T/e" &&
    ok "$c: mistyped format" || bad "$c: mistyped format ($rc): $(cat "$T/e")"
done

# ------------------------------------------------------------------ colour
bad_dir="$SRC/examples/contracts/payments"
run_tty() { script -qec "$1" /dev/null; }
run_tty "'$REIN' check -q '$bad_dir'" > "$T/tty" 2>&1
grep -q $'\e\\[1;31merror\e\\[0m\\[R001\\]' "$T/tty" &&
  grep -q $'\e\\[1;35mwarning\e\\[0m\\[R009\\]' "$T/tty" && ok "colour on a terminal" ||
  bad "no colour on a terminal: $(head -c 300 "$T/tty" | od -c | head -5)"
NO_COLOR=1 run_tty "'$REIN' check -q '$bad_dir'" > "$T/tty" 2>&1
grep -q 'error\[R001\]' "$T/tty" && ! grep -q $'\e\\[' "$T/tty" && ok "NO_COLOR on a terminal: none" ||
  bad "colour despite NO_COLOR"
NO_COLOR= run_tty "'$REIN' check -q '$bad_dir'" > "$T/tty" 2>&1
grep -q $'\e\\[1;31m' "$T/tty" && ok "NO_COLOR empty: colour (no-color.org)" || bad "NO_COLOR= disabled colour"
TERM=dumb run_tty "'$REIN' check -q '$bad_dir'" > "$T/tty" 2>&1
grep -q $'\e\\[' "$T/tty" && bad "colour with TERM=dumb" || ok "TERM=dumb: none"
run_tty "'$REIN' check -q --format json '$bad_dir'" > "$T/tty" 2>&1
grep -q $'\e\\[' "$T/tty" && bad "colour in JSON" || ok "JSON never coloured"
"$REIN" check -q "$bad_dir" > "$T/pipe" 2>&1
grep -q 'error\[R001\]' "$T/pipe" && ! grep -q $'\e\\[' "$T/pipe" && ok "no colour into a pipe" ||
  bad "colour into a pipe"

if [ $fails -eq 0 ]; then echo "cli: all passed"; exit 0; fi
echo "cli: $fails failed"
exit 1
