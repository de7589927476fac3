# SPDX-License-Identifier: Apache-2.0
"""tenacity_retry.py [calls [reps]]: ns per retried call in tenacity.

The Python peer of `bench_decision peer` (issue 16, decision_peers.sh):
the same two calls through tenacity's normal API, the @retry decorator
with stop_after_attempt(3) and wait_none() (zero-delay backoff), one
thread. first_ok: the function returns on its first attempt. retry_ok:
its first attempt raises (the Python way to fail), the retry returns.
With wait_none tenacity still calls time.sleep(0.0) between the attempts:
on CPython 3.11 that is clock_nanosleep to an absolute deadline, a real
trip through the kernel's timers (about 70 us on the machine of
docs/benchmarks.md), part of what a caller pays. So there are two APIs:
`decorator` is the decorator as written above; `decorator_nosleep` adds
sleep=<a function that returns> (tenacity's own parameter for this), so
the retry row measures tenacity's retry logic without the syscall, the
like-for-like with rein, whose wrapper does not sleep for a 0 ns wait.
Each row is warmed up, then timed `reps` times (default 5) over `calls`
calls (default 5000), rows interleaved rep by rep; the median and
min-max per row are printed as the key=value lines rein's peer mode
prints. The numbers include the interpreter's own cost (the loop, the
call, the exception): what a caller pays per call in Python, not a
comparison of retry logic alone. Every call is checked to return the
value after the expected number of attempts.
"""
import importlib.metadata
import statistics
import sys
import time

from tenacity import retry, stop_after_attempt, wait_none


class Op:
    """The operation; counts attempts, fails attempt 1 when fail_first."""

    def __init__(self, fail_first):
        self.fail_first = fail_first
        self.attempts = 0
        self.pending = False

    def start_call(self):
        self.pending = self.fail_first

    def __call__(self):
        self.attempts += 1
        if self.pending:
            self.pending = False
            raise OSError("first attempt fails")
        return 1


def no_sleep(seconds):
    pass


def make(op, nosleep):
    if nosleep:
        @retry(stop=stop_after_attempt(3), wait=wait_none(), sleep=no_sleep)
        def call():
            return op()
    else:
        @retry(stop=stop_after_attempt(3), wait=wait_none())
        def call():
            return op()

    return call


def time_calls(op, call, n):
    t0 = time.perf_counter_ns()
    got = 0
    for _ in range(n):
        op.start_call()
        got += call()
    el = time.perf_counter_ns() - t0
    if got != n:
        sys.exit("tenacity_retry: %d of %d calls returned" % (got, n))
    return el / n


def main():
    if len(sys.argv) > 3:
        sys.exit("usage: tenacity_retry.py [calls [reps]]")
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    if calls < 1 or not 1 <= reps <= 99:
        sys.exit("usage: tenacity_retry.py [calls [reps]]")
    cases = []  # (row, api, op, call)
    for row, fail_first in (("first_ok", False), ("retry_ok", True)):
        for api, nosleep in (("decorator", False), ("decorator_nosleep", True)):
            op = Op(fail_first)
            cases.append((row, api, op, make(op, nosleep)))
    ns = [[] for _ in cases]
    warm = max(calls // 10, 1)
    for rep in range(-1, reps):  # rep -1: warm-up
        for i, (row, api, op, call) in enumerate(cases):
            n = warm if rep < 0 else calls
            op.attempts = 0
            v = time_calls(op, call, n)
            if op.attempts != n * (2 if op.fail_first else 1):
                sys.exit("tenacity_retry: %s %s: %d attempts for %d calls"
                         % (row, api, op.attempts, n))
            if rep >= 0:
                ns[i].append(v)
    print("tenacity_retry: tenacity %s on CPython %s, ns per call, 1 thread, "
          "@retry(stop=stop_after_attempt(3), wait=wait_none()); median of %d "
          "reps of %d calls" % (importlib.metadata.version("tenacity"),
                                sys.version.split()[0], reps, calls))
    for i, (row, api, _, _) in enumerate(cases):
        print("peer=tenacity row=%s api=%s budget=none ns_per_call=%.1f "
              "min=%.1f max=%.1f calls=%d reps=%d"
              % (row, api, statistics.median(ns[i]), min(ns[i]), max(ns[i]),
                 calls, reps))


main()
