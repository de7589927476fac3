#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""simpy_mmc_retry.py: the SimPy 3 peer of bench/peers/simpy_mmc_retry.yaml.

The same small model as the rein scenario: Poisson arrivals (500/s), 8
workers, exponential service (mean 10 ms), unbounded FIFO queue, each attempt
fails with probability 0.3 after service, up to 3 attempts with a constant
50 ms backoff, 200 s simulated. Prints, per seed, the same summary fields as
`rein simulate --json` (amplification, success_ratio, latency p50/p99 in ms)
and the CPU seconds per run, then the mean and 95% interval over the seeds.

usage: /usr/bin/python3 simpy_mmc_retry.py [RUNS] [DURATION_S]
(Debian's python3-simpy3 installs for /usr/bin/python3.)
"""
import json
import math
import random
import sys
import time

import simpy

LAM, WORKERS, SERVICE, P_FAIL, ATTEMPTS, BACKOFF = 500.0, 8, 0.010, 0.3, 3, 0.050


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p * len(sorted_vals)))
    return sorted_vals[k - 1]


def run(seed, duration):
    rng = random.Random(seed)
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=WORKERS)
    st = {"logical": 0, "attempts": 0, "successes": 0, "giveups": 0}
    lat = []

    def call(env):
        t0 = env.now
        st["logical"] += 1
        for attempt in range(1, ATTEMPTS + 1):
            st["attempts"] += 1
            with server.request() as req:
                yield req
                yield env.timeout(rng.expovariate(1.0 / SERVICE))
            if rng.random() >= P_FAIL:
                st["successes"] += 1
                lat.append(env.now - t0)
                return
            if attempt < ATTEMPTS:
                yield env.timeout(BACKOFF)
        st["giveups"] += 1

    def source(env):
        while True:
            yield env.timeout(rng.expovariate(LAM))
            env.process(call(env))

    env.process(source(env))
    c0 = time.process_time()
    env.run(until=duration)
    cpu = time.process_time() - c0
    lat.sort()
    return {
        "seed": seed,
        "logical": st["logical"],
        "attempts": st["attempts"],
        "amplification": st["attempts"] / st["logical"],
        "success_ratio": st["successes"] / st["logical"],
        "latency_p50_ms": pct(lat, 0.5) * 1e3,
        "latency_p99_ms": pct(lat, 0.99) * 1e3,
        "cpu_s": cpu,
    }


T95 = [0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
       2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
       2.086]


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    duration = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    rows = [run(seed, duration) for seed in range(1, runs + 1)]
    out = {"peer": "simpy", "simpy": simpy.__version__, "runs": runs}
    for k in ("amplification", "success_ratio", "latency_p50_ms",
              "latency_p99_ms", "cpu_s", "logical"):
        v = [r[k] for r in rows]
        m = sum(v) / len(v)
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0
        t = T95[min(len(v) - 1, 20)] if len(v) > 1 else 0
        out[k] = {"mean": round(m, 6), "ci95": round(t * sd / math.sqrt(len(v)), 6)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
