// SPDX-License-Identifier: Apache-2.0
//
// istio_validate.mjs: check `rein export istio` and rein's Istio fixtures
// with models nobody here wrote: @kubernetes-models/istio 3.0.1 (the
// networking.istio.io/v1, v1beta1 and v1alpha3 VirtualService models,
// generated from Istio's CRD schemas, each with an ajv validator), read
// with the `yaml` package. The models check the structure and the type of
// every field (attempts an integer, durations strings, retryRemoteLocalities
// a boolean, hosts an array, ...); they do not refuse unknown fields nor
// check the CRD's CEL rules (a duration of at least 1ms): rein checks those
// on its path.
//
//   node istio_validate.mjs --rein BIN --examples DIR --fixtures DIR --work DIR
//
// 1. every caller of every example contract directory: `rein export istio`
//    must write a List whose every item the model accepts;
// 2. every fixture of tests/interop/fixtures/istio must be accepted;
// 3. VirtualServices rein refuses (exit 2) that the model refuses too.
// Prints "N passed, M failed"; exits 1 on any failure.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];

// NODE_PATH does not reach ESM imports: resolve from tools/node_modules.
const require = createRequire(path.join(process.env.NODE_PATH || ".", "x.js"));
let YAML, models, drModels = {};
try {
  YAML = require("yaml");
  const base = path.dirname(
      require.resolve("@kubernetes-models/istio/package.json"));
  models = {};
  for (const v of ["v1", "v1beta1", "v1alpha3"]) {
    const m = await import(
        path.join(base, "networking.istio.io", v, "VirtualService.js"));
    models["networking.istio.io/" + v] = m.VirtualService;
    const dr = await import(
        path.join(base, "networking.istio.io", v, "DestinationRule.js"));
    drModels["networking.istio.io/" + v] = dr.DestinationRule;
  }
} catch (e) {
  console.error("istio_validate: the npm validators are missing (run " +
                "scripts/deps.sh check, which installs tools/node_modules): " +
                e.message);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

// The model's verdict on one object: null when valid, else the reason.
function checkObject(o) {
  if (!o || typeof o !== "object") return "not an object";
  if (o.kind !== "VirtualService" && o.kind !== "DestinationRule")
    return "kind " + o.kind;
  const M = (o.kind === "VirtualService" ? models : drModels)[o.apiVersion];
  if (!M) return "apiVersion " + o.apiVersion;
  try {
    new M(o).validate();
  } catch (e) {
    return e.message;
  }
  return null;
}

function check(text) {
  let j;
  try {
    j = YAML.parse(text);
  } catch (e) {
    return "YAML: " + e.message.split("\n")[0];
  }
  if (j && j.kind === "List") {
    if (j.apiVersion !== "v1" || !Array.isArray(j.items) || !j.items.length)
      return "a List needs apiVersion v1 and items";
    for (const it of j.items) {
      const why = checkObject(it);
      if (why) return why;
    }
    return null;
  }
  return checkObject(j);
}

let passed = 0, failed = 0;
function result(ok, what, why) {
  if (ok) passed++;
  else {
    failed++;
    console.error("FAIL " + what + (why ? ": " + why : ""));
  }
}

// ---- 1. every example contract's export -------------------------------------

fs.mkdirSync(args.work, { recursive: true });
let exports = 0;
for (const d of fs.readdirSync(args.examples).sort()) {
  const dir = path.join(args.examples, d);
  if (!fs.statSync(dir).isDirectory()) continue;
  const probe = spawnSync(args.rein, ["export", "istio", dir], { encoding: "utf8" });
  let callers = [];
  if (probe.status === 0) {
    callers = [null];
  } else {
    for (const f of fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      const t = fs.readFileSync(path.join(dir, f), "utf8");
      const m = /^service:\s*(\S+)/m.exec(t);
      if (m && /^calls:/m.test(t)) callers.push(m[1]);
    }
  }
  for (const c of callers) {
    const a = ["export", "istio", dir];
    if (c) a.push("--caller", c);
    const r = spawnSync(args.rein, a, { encoding: "utf8" });
    const what = d + (c ? " --caller " + c : "");
    if (r.status !== 0) {
      result(false, what, "rein export failed: " + r.stderr.slice(0, 300));
      continue;
    }
    fs.writeFileSync(path.join(args.work, d + (c ? "-" + c : "") + ".yaml"),
                     r.stdout);
    const why = check(r.stdout);
    result(why === null, "export of " + what, why);
    exports++;
  }
}
result(exports >= 10, "exports checked: " + exports);

// ---- 2. the fixtures ---------------------------------------------------------

let fixtures = 0;
for (const f of fs.readdirSync(args.fixtures).sort()) {
  if (!/\.(ya?ml|json)$/.test(f)) continue;
  const why = check(fs.readFileSync(path.join(args.fixtures, f), "utf8"));
  result(why === null, "fixture " + f, why);
  fixtures++;
}
result(fixtures >= 3, "fixtures checked: " + fixtures);

// ---- 3. refused by both ------------------------------------------------------

const VS = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n" +
           "metadata: {name: r}\nspec:\n";
const HTTP = VS + "  hosts: [a]\n  http:\n  - route:\n" +
             "    - destination: {host: a}\n";
const DRH = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n" +
            "metadata: {name: d}\nspec:\n";
const DR = DRH + "  host: a\n  trafficPolicy:\n";
const refused = [
  ["attempts as a string", HTTP + "    retries: {attempts: \"3\"}\n"],
  ["fractional attempts", HTTP + "    retries: {attempts: 1.5}\n"],
  ["perTryTimeout as a number", HTTP + "    retries: {attempts: 2, perTryTimeout: 2}\n"],
  ["retries as an array", HTTP + "    retries: [3]\n"],
  ["timeout as a number", HTTP + "    timeout: 5\n"],
  ["retryRemoteLocalities as a word", HTTP +
       "    retries: {attempts: 2, retryRemoteLocalities: \"yes\"}\n"],
  ["hosts as a string", VS + "  hosts: a\n  http:\n  - route:\n" +
       "    - destination: {host: a}\n"],
  ["http as an object", VS + "  hosts: [a]\n  http: {route: []}\n"],
  ["destination host as a number", VS + "  hosts: [a]\n  http:\n  - route:\n" +
       "    - destination: {host: 5}\n"],
  // DestinationRules (their traffic policies bound retries)
  ["maxRetries as a string", DR + "    connectionPool:\n" +
       "      http: {maxRetries: \"3\"}\n"],
  ["fractional maxRetries", DR + "    connectionPool:\n" +
       "      http: {maxRetries: 2.5}\n"],
  ["consecutive5xxErrors as a string", DR +
       "    outlierDetection: {consecutive5xxErrors: \"7\"}\n"],
  ["outlierDetection as an array", DR + "    outlierDetection: [7]\n"],
  ["baseEjectionTime as a number", DR +
       "    outlierDetection: {baseEjectionTime: 30}\n"],
  ["a DestinationRule host as a number", DRH + "  host: 5\n"],
];
for (const [what, text] of refused) {
  const file = path.join(args.work, "refused.yaml");
  fs.writeFileSync(file, text);
  const r = spawnSync(args.rein, ["import", "istio", file], { encoding: "utf8" });
  result(r.status === 2, "rein refuses: " + what, "exit " + r.status);
  result(check(text) !== null, "the model refuses: " + what, "accepted");
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
