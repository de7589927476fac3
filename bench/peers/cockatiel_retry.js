// SPDX-License-Identifier: Apache-2.0
// cockatiel_retry.js [calls [reps]]: ns per retried call in cockatiel.
//
// The Node.js peer of `bench_decision peer` (issue 16, decision_peers.sh):
// the same two calls through cockatiel's normal API,
// retry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) })
// .execute(fn), awaited one after the other on one thread. cockatiel's
// maxAttempts counts retries (RetryPolicy.execute: `retries <
// maxAttempts`), so 2 is rein's and tenacity's 3 attempts in all.
// first_ok: fn returns on its first attempt. retry_ok: its first attempt
// throws (the JavaScript way to fail), the retry returns. Every execute is
// async: each call costs promise and microtask turns whatever fn does, and
// cockatiel waits out even a 0 ms backoff with setTimeout(resolve, 0),
// which Node clamps to 1 ms and which needs a turn of the event loop; so
// the retry row is dominated by that timer (there is no option to skip
// it), and it is timed over calls / 200 calls to stay short. A comment
// line gives what one bare `await new Promise(r => setTimeout(r, 0))`
// costs in the same process, the part of the retry row that is the timer. Each row is
// warmed up (calls / 10, which also lets V8 optimise), then timed `reps`
// times (default 5) over `calls` calls (default 200000), rows interleaved
// rep by rep; the median and min-max per row are printed as the key=value
// lines rein's peer mode prints. The numbers include the runtime's own
// cost (the loop, the promises, the exception): what a caller pays per
// call in Node, not a comparison of retry logic alone. Every call is
// checked to return the value after the expected number of attempts.
'use strict';
const { retry, handleAll, ConstantBackoff } = require('cockatiel');
const cockatielVersion = require('cockatiel/package.json').version;

function usage() {
  console.error('usage: cockatiel_retry.js [calls [reps]]');
  process.exit(2);
}

class Op {
  constructor(failFirst) {
    this.failFirst = failFirst;
    this.attempts = 0;
    this.pending = false;
  }
  startCall() {
    this.pending = this.failFirst;
  }
  attempt() {
    this.attempts++;
    if (this.pending) {
      this.pending = false;
      throw new Error('first attempt fails');
    }
    return 1;
  }
}

async function timeCalls(op, policy, n) {
  const fn = () => op.attempt();
  let got = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    op.startCall();
    got += await policy.execute(fn);
  }
  const el = Number(process.hrtime.bigint() - t0);
  if (got !== n) {
    console.error(`cockatiel_retry: ${got} of ${n} calls returned`);
    process.exit(1);
  }
  return el / n;
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length > 2) usage();
  const calls = argv.length > 0 ? Number(argv[0]) : 200000;
  const reps = argv.length > 1 ? Number(argv[1]) : 5;
  if (!Number.isInteger(calls) || calls < 200 || !Number.isInteger(reps) ||
      reps < 1 || reps > 99)
    usage();
  const policy = retry(handleAll, {
    maxAttempts: 2,
    backoff: new ConstantBackoff(0),
  });
  const cases = [
    { row: 'first_ok', op: new Op(false), n: calls, ns: [] },
    { row: 'retry_ok', op: new Op(true), n: Math.floor(calls / 200), ns: [] },
  ];
  for (let rep = -1; rep < reps; rep++) { // rep -1: warm-up
    for (const c of cases) {
      const n = rep < 0 ? Math.max(Math.floor(c.n / 10), 1) : c.n;
      c.op.attempts = 0;
      const v = await timeCalls(c.op, policy, n);
      if (c.op.attempts !== n * (c.op.failFirst ? 2 : 1)) {
        console.error(`cockatiel_retry: ${c.row}: ${c.op.attempts} attempts ` +
                      `for ${n} calls`);
        process.exit(1);
      }
      if (rep >= 0) c.ns.push(v);
    }
  }
  const tn = Math.floor(calls / 200);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < tn; i++) await new Promise(r => setTimeout(r, 0));
  const timerNs = Number(process.hrtime.bigint() - t0) / tn;
  console.log(`cockatiel_retry: cockatiel ${cockatielVersion} on Node ` +
              `${process.version}, ns per call, 1 thread, retry(handleAll, ` +
              `{maxAttempts: 2, backoff: ConstantBackoff(0)}).execute; ` +
              `median of ${reps} reps`);
  for (const c of cases)
    console.log(`peer=cockatiel row=${c.row} api=execute budget=none ` +
                `ns_per_call=${median(c.ns).toFixed(1)} ` +
                `min=${Math.min(...c.ns).toFixed(1)} ` +
                `max=${Math.max(...c.ns).toFixed(1)} calls=${c.n} ` +
                `reps=${reps}`);
  console.log(`# one await setTimeout(0) alone: ${timerNs.toFixed(1)} ns`);
}

main();
