#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# simpy_compare.sh REIN BENCH_SIM [RUNS]: run the small model in rein and in
# SimPy 3 (bench/peers/simpy_mmc_retry.*) with RUNS seeds each and print both
# summaries (mean and 95% interval) and the CPU time per run of each.
set -eu
REIN=$1
BENCH=$2
RUNS=${3:-10}
D=$(cd "$(dirname "$0")" && pwd)
echo "== rein simulate ($RUNS seeds, 1 job) =="
"$REIN" simulate "$D/simpy_mmc_retry.yaml" --runs "$RUNS" --jobs 1 --json |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["variants"][0]; print(json.dumps({k: {"mean": round(d[k]["mean"],6), "ci95": round(d[k]["ci95"],6)} for k in ("amplification","success_ratio","latency_p50_ms","latency_p99_ms","logical")}))'
"$BENCH" "$D/simpy_mmc_retry.yaml" | grep small
echo "== SimPy $( /usr/bin/python3 -c 'import simpy; print(simpy.__version__)') ($RUNS seeds) =="
/usr/bin/python3 "$D/simpy_mmc_retry.py" "$RUNS"
