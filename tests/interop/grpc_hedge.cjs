// SPDX-License-Identifier: Apache-2.0
//
// grpc_hedge.cjs: rein's hedging exported to gRPC and run for real by a
// gRPC runtime nobody here wrote: @grpc/grpc-js (1.14, in tools/), which
// implements gRFC A6 hedgingPolicy (C-core and grpcio do not). For the
// contract in tests/interop/runtime-hedge/hedge it runs `rein export
// grpc`, starts a grpc-js server on 127.0.0.1 (a free port) whose attempt k
// of a call (the grpc-previous-rpc-attempts header + 1) answers after a
// chosen time with a chosen status, and a grpc-js client whose channel
// uses the exported service config. For each script the attempts the
// server saw and the status the client got must equal what rein's own
// rein_hedge decides on the same script (grpc_driver's hedge mode, in fake
// time), and the call must end about when rein says it ends.
//
//   node grpc_hedge.cjs --rein BIN --driver BIN --contracts DIR
//
// Bounded: six calls, each with a 5 s deadline. Exits 1 on any failure.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];

let grpc;
try {
  grpc = require("@grpc/grpc-js");
} catch (e) {
  console.error("grpc_hedge: @grpc/grpc-js is missing (run scripts/deps.sh " +
                "check, which installs tools/node_modules): " + e.message);
  process.exit(1);
}

let failed = 0;
function check(ok, what) {
  console.log((ok ? "ok    " : "FAIL  ") + what);
  if (!ok) failed++;
}

const dir = path.join(args.contracts, "hedge");
const config = execFileSync(args.rein, ["export", "grpc", dir], {
  encoding: "utf8",
});
const sc = JSON.parse(config);
check(sc.methodConfig[0].hedgingPolicy &&
        sc.methodConfig[0].hedgingPolicy.maxAttempts === 3,
      "rein export grpc writes a hedgingPolicy");

// Each case: attempt k's answer, "MS:STATUS"; the last entry repeats.
const cases = [
  ["slow first attempt: the hedge wins", "400:OK,0:OK"],
  ["every attempt slow: three in flight, the first answer wins",
   "300:OK,300:OK,300:OK"],
  ["non-fatal answers send the next hedge at once", "0:UNAVAILABLE,0:UNAVAILABLE,0:OK"],
  ["a fatal answer ends the call", "0:INVALID_ARGUMENT,0:OK"],
  ["a fatal answer while a hedge is in flight ends the call",
   "150:INVALID_ARGUMENT,500:OK"],
  ["every attempt non-fatal: maxAttempts, then the last status",
   "20:UNAVAILABLE"],
];

const S = grpc.status;
let script = [], seen = 0;
const server = new grpc.Server();
const ident = (b) => b;
server.register("/pkg.Svc/M", (call, cb) => {
  const prev = Number(call.metadata.get("grpc-previous-rpc-attempts")[0] || 0);
  seen++;
  const e = script[Math.min(prev, script.length - 1)];
  setTimeout(() => {
    if (e.status === "OK") cb(null, Buffer.from("ok"));
    else cb({ code: S[e.status], details: "chosen " + e.status });
  }, e.ms);
}, ident, ident, "unary");

function once(port, steps) {
  return new Promise((resolve) => {
    const client = new grpc.Client("127.0.0.1:" + port,
                                   grpc.credentials.createInsecure(),
                                   { "grpc.service_config": config });
    const t0 = process.hrtime.bigint();
    client.makeUnaryRequest("/pkg.Svc/M", ident, ident, Buffer.from("x"),
                            new grpc.Metadata(),
                            { deadline: Date.now() + 5000 }, (err) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // let cancelled attempts reach the server's count first
      setTimeout(() => {
        client.close();
        resolve({ status: err ? Object.keys(S).find((k) => S[k] === err.code)
                              : "OK", ms });
      }, 200);
    });
  });
}

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(),
                 async (err, port) => {
  if (err) {
    console.error("grpc_hedge: bind: " + err.message);
    process.exit(1);
  }
  for (const [what, text] of cases) {
    script = text.split(",").map((s) => {
      const [ms, status] = s.split(":");
      return { ms: Number(ms), status };
    });
    seen = 0;
    const got = await once(port, script);
    const rein = JSON.parse(execFileSync(
        args.driver, [dir, "client", "pkg-Svc.M", "hedge:" + text, "1"],
        { encoding: "utf8" }));
    check(seen === rein.attempts && got.status === rein.status &&
            got.ms >= rein.elapsed_ms - 5 && got.ms < rein.elapsed_ms + 250,
          `${what}: grpc-js ${seen} attempts, ${got.status} after ` +
          `${got.ms.toFixed(0)} ms; rein ${rein.attempts}, ${rein.status} ` +
          `after ${rein.elapsed_ms} ms`);
  }
  server.forceShutdown();
  console.log(`${cases.length + 1 - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
