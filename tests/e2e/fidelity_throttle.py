#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""docs/fidelity.md's explanation of the rein round's throttle gap, as a test.

The live demo is one process, so the contract's instance-scoped throttle is
one throttle for all its calls; the simulated cohort gives one to each of
its 90 clients. fidelity_throttle.yaml writes the contract's policy inline
twice, throttle per client and per cohort. This checks that
  1. the per-client variant is exactly demo.yaml's rein variant (the inline
     copy is the contract's policy: same figures, seed for seed), and
  2. per-cohort throttles refuse at most a third as many calls, with
     higher amplification and more calls succeeded (the live direction).
Usage: fidelity_throttle.py REIN DEMO_YAML FIDELITY_YAML
"""
import json
import subprocess
import sys

rein, demo, fid = sys.argv[1:4]
RUNS = "10"


def sim(path, *extra):
    out = subprocess.run([rein, "simulate", path, "--runs", RUNS, "--json", *extra],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    return {v["variant"]: v for v in json.loads(out)["variants"]}


def mean(v, k):
    return v[k]["mean"]


d = sim(demo, "--variant", "rein")["rein"]
f = sim(fid, "--compare")
pc, co = f["per_client"], f["per_cohort"]
fail = []
for k in ("amplification", "successes", "giveup_throttled", "giveup_budget", "peak_load_ratio"):
    if mean(d, k) != mean(pc, k):
        fail.append(f"{k}: demo.yaml rein {mean(d, k)} != inline per_client {mean(pc, k)}")
t_pc, t_co = mean(pc, "giveup_throttled"), mean(co, "giveup_throttled")
print(f"throttled give-ups per client {t_pc}, per cohort {t_co}; amplification "
      f"{mean(pc, 'amplification'):.4f} -> {mean(co, 'amplification'):.4f}; succeeded "
      f"{mean(pc, 'successes')} -> {mean(co, 'successes')} (seeds 1..{RUNS})")
if not t_co * 3 <= t_pc:
    fail.append(f"per-cohort throttled {t_co} is not at most a third of per-client {t_pc}")
if not mean(co, "amplification") > mean(pc, "amplification"):
    fail.append("per-cohort amplification is not higher")
if not mean(co, "successes") > mean(pc, "successes"):
    fail.append("per-cohort successes are not higher")
for m in fail:
    print("FAIL:", m)
sys.exit(1 if fail else 0)
