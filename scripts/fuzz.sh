#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz.sh: what `make fuzz` runs. The long libFuzzer job, kept out of
# `make check` (which gives each target 10 s). Builds the libFuzzer targets
# the way CI does (clang, ASan+UBSan, -DREIN_FUZZ=ON, in build-asan), runs
# each target for a bounded time or number of executions, writes crashes
# and the grown corpus to one output directory, and prints a table of the
# final execs, exec/s, coverage and corpus size per target.
#
#   scripts/fuzz.sh [--merge] [TARGET...]
#
# Targets: every tests/fuzz/fuzz_*.c, plus every ctest test labelled
# `fuzz` (a target registered elsewhere, e.g. tests/unit/*_fuzz.c), unless
# names are given. Adding a target needs no edit here: register it in a
# tests/<area>.cmake as an executable and a ctest test of the same name
# (label fuzz); its ctest arguments (-max_len, -timeout, -dict, seed
# directories) are reused, only the time limit is replaced. Its checked-in
# corpus is tests/fuzz/corpus/<name without fuzz_>/ (read, never written,
# unless --merge).
#
# Environment:
#   FUZZ_SECONDS  time per target (default 1800; 0 = no time limit)
#   FUZZ_EXECS    stop a target after this many executions (default none;
#                 with FUZZ_JOBS=1 only)
#   FUZZ_JOBS     parallel fuzzing processes per target (default 1, at most
#                 2: the machine has 2 cores; >1 uses libFuzzer's -fork)
#   FUZZ_OUT      output directory (default build-asan/fuzz-out/DATE):
#                 OUT/crashes/<target>/ crash, leak, timeout and OOM inputs
#                 OUT/corpus/<target>/  the corpus the run grew
#                 OUT/logs/<target>.log the fuzzer's output
#   FUZZ_BUILD    build directory (default build-asan, the CI ASan build)
#   JOBS          build parallelism (default nproc)
#
# --merge: after the runs, minimise each target's grown corpus into its
# checked-in corpus with -merge=1 (an input is added only when it brings
# coverage the checked-in one lacks; existing seeds are kept).
#
# Exit status: 0 when every target ran without a crash, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

MERGE=0
want=()
for a in "$@"; do
  case $a in
  --merge) MERGE=1 ;;
  -h | --help)
    sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  -*)
    echo "fuzz.sh: unknown option $a (try --help)" >&2
    exit 2
    ;;
  *) want+=("$a") ;;
  esac
done

SECONDS_PER=${FUZZ_SECONDS:-1800}
EXECS=${FUZZ_EXECS:-}
FJOBS=${FUZZ_JOBS:-1}
BUILD=${FUZZ_BUILD:-build-asan}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
for v in SECONDS_PER FJOBS; do
  if ! [[ ${!v} =~ ^[0-9]+$ ]]; then
    echo "fuzz.sh: ${v/SECONDS_PER/FUZZ_SECONDS} must be a whole number" >&2
    exit 2
  fi
done
if [[ -n $EXECS && ! $EXECS =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: FUZZ_EXECS must be a positive whole number" >&2
  exit 2
fi
if ((SECONDS_PER == 0)) && [[ -z $EXECS ]]; then
  echo "fuzz.sh: FUZZ_SECONDS=0 needs FUZZ_EXECS (a run must be bounded)" >&2
  exit 2
fi
cores=$(nproc 2>/dev/null || echo 2)
((cores > 2)) && cores=2
((FJOBS < 1)) && FJOBS=1
if ((FJOBS > cores)); then
  echo "fuzz.sh: FUZZ_JOBS=$FJOBS capped at $cores" >&2
  FJOBS=$cores
fi
if ((FJOBS > 1)) && [[ -n $EXECS ]]; then
  echo "fuzz.sh: FUZZ_EXECS needs FUZZ_JOBS=1 (-fork counts per job)" >&2
  exit 2
fi

echo "== build ($BUILD: clang, ASan+UBSan, libFuzzer)"
CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug -DREIN_SANITIZE=ON \
  -DREIN_FUZZ=ON -DREIN_BENCH=OFF >/dev/null

# name<TAB>arg<TAB>arg... for every ctest test labelled fuzz: the flags and
# seed directories its owner registered. (ctest drops the command of an
# executable not built yet, so ask again after the build.)
registered() {
  ctest --test-dir "$BUILD" -N -L fuzz --show-only=json-v1 |
    /usr/bin/python3 -c 'import json, sys
for t in json.load(sys.stdin)["tests"]:
    c = t.get("command") or []
    if c and c[0].endswith("/" + t["name"]):
        c = c[1:]
    print("\t".join([t["name"]] + c))'
}
registered=$(registered)

if ((${#want[@]} == 0)); then
  for f in tests/fuzz/fuzz_*.c; do
    [[ -e $f ]] && want+=("$(basename "$f" .c)")
  done
  while IFS=$'\t' read -r n _; do
    [[ -n $n && " ${want[*]} " != *" $n "* ]] && want+=("$n")
  done <<<"$registered"
fi
if ((${#want[@]} == 0)); then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

# Build what exists; a target CMake did not define (a missing optional
# dependency) is reported in the table, not fatal to the others.
targets=()
declare -A status
for t in "${want[@]}"; do
  if cmake --build "$BUILD" -j"$JOBS" --target "$t" >"$BUILD/fuzz-build-$t.log" 2>&1; then
    targets+=("$t")
  else
    status[$t]="not built ($BUILD/fuzz-build-$t.log)"
  fi
done

registered=$(registered)
OUT=${FUZZ_OUT:-$BUILD/fuzz-out/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT/crashes" "$OUT/corpus" "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
limit="$SECONDS_PER s"
((SECONDS_PER == 0)) && limit="no time limit"
[[ -n $EXECS ]] && limit+=" or $EXECS execs"
echo "== fuzzing ${#targets[@]} target(s), $limit each, $FJOBS job(s)," \
  "output in $OUT"

declare -A execs rate cov ft corp secs cpu cpurate
checked_in() { echo "tests/fuzz/corpus/${1#fuzz_}"; }

for t in "${targets[@]}"; do
  bin=$(find "$BUILD" -type f -name "$t" -perm -u+x | head -n1)
  flags=() seeds=()
  line=$(awk -F'\t' -v n="$t" '$1 == n' <<<"$registered")
  if [[ -n $line ]]; then
    IFS=$'\t' read -r -a args <<<"$line"
    for a in "${args[@]:1}"; do
      case $a in
      -max_total_time=* | -runs=* | -jobs=* | -workers=* | -fork=* | \
        -print_final_stats=* | -artifact_prefix=*) ;;
      -*) flags+=("$a") ;;
      *)
        # The first directory of a ctest run is its scratch corpus in the
        # build tree; the rest are seeds. Reuse the seeds.
        [[ $a == "$PWD/$BUILD"/*_corpus ]] || seeds+=("$a")
        ;;
      esac
    done
  fi
  ci=$(checked_in "$t")
  if [[ -d $ci && " ${seeds[*]} " != *"$(cd "$ci" && pwd)"* ]]; then
    seeds+=("$ci")
  fi
  work=$OUT/corpus/$t crash=$OUT/crashes/$t log=$OUT/logs/$t.log
  mkdir -p "$work" "$crash"
  run=("$bin" "${flags[@]}" -print_final_stats=1 -artifact_prefix="$crash/")
  ((SECONDS_PER > 0)) && run+=(-max_total_time="$SECONDS_PER")
  [[ -n $EXECS ]] && run+=(-runs="$EXECS")
  ((FJOBS > 1)) && run+=(-fork="$FJOBS" -ignore_crashes=1)
  echo "-- $t: ${run[*]} $work ${seeds[*]}"
  start=$(date +%s)
  set +e
  # CPU seconds too: on a shared machine exec/s depends on the load, execs
  # per CPU second does not (much).
  TIMEFORMAT='%U %S'
  { time "${run[@]}" "$work" "${seeds[@]}" >"$log" 2>&1; } 2>"$log.cpu"
  rc=$?
  set -e
  secs[$t]=$(($(date +%s) - start))
  cpu[$t]=$(awk '{printf "%.0f", $1 + $2}' "$log.cpu")
  # Single process: the stat:: lines and the last "#N ... cov:" line.
  # -fork: the last "#N: cov: ... exec/s" line of the parent.
  execs[$t]=$(awk '/^stat::number_of_executed_units:/ {v=$2} END {print v}' "$log")
  rate[$t]=$(awk '/^stat::average_exec_per_sec:/ {v=$2} END {print v}' "$log")
  cov[$t]=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  ft[$t]=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  if [[ -z ${execs[$t]} ]]; then
    execs[$t]=$(grep -o '^#[0-9]*' "$log" | tail -n1 | tr -d '#')
    if [[ -n ${execs[$t]} ]] && ((secs[$t] > 0)); then
      rate[$t]=$((execs[$t] / secs[$t]))
    fi
  fi
  if [[ -n ${execs[$t]} ]] && ((cpu[$t] > 0)); then
    cpurate[$t]=$((execs[$t] / cpu[$t]))
  fi
  n=$(find "$work" -type f | wc -l)
  b=$(du -sb "$work" | cut -f1)
  corp[$t]="$n/$((b / 1024))KiB"
  nc=$(find "$crash" -type f | wc -l)
  if ((rc != 0 || nc > 0)); then
    status[$t]="FAIL rc=$rc, $nc input(s) in $crash"
  else
    status[$t]=ok
  fi
  if ((MERGE)) && [[ ${status[$t]} == ok ]]; then
    mkdir -p "$ci"
    before=$(find "$ci" -type f | wc -l)
    mflags=()
    for f in "${flags[@]}"; do
      [[ $f == -max_len=* || $f == -dict=* ]] && mflags+=("$f")
    done
    "$bin" -merge=1 "${mflags[@]}" "$ci" "$work" >"$OUT/logs/$t.merge.log" 2>&1
    after=$(find "$ci" -type f | wc -l)
    bytes=$(du -sb "$ci" | cut -f1)
    echo "   merged into $ci: $before -> $after inputs, $((bytes / 1024)) KiB"
    if ((bytes > 1024 * 1024)); then
      echo "   warning: $ci is over 1 MiB: lower -max_len or prune it" >&2
    fi
  fi
done

printf '\n== results (%s)\n' "$OUT"
fmt='%-18s %12s %9s %11s %6s %7s %16s %7s  %s\n'
printf "$fmt" target execs exec/s exec/cpu-s cov ft corpus seconds status
fail=0
for t in "${want[@]}"; do
  printf "$fmt" "$t" "${execs[$t]:--}" "${rate[$t]:--}" "${cpurate[$t]:--}" \
    "${cov[$t]:--}" \
    "${ft[$t]:--}" "${corp[$t]:--}" "${secs[$t]:--}" "${status[$t]}"
  [[ ${status[$t]} == ok ]] || fail=1
done
exit $fail
