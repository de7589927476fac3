// SPDX-License-Identifier: Apache-2.0
//
// gateway_validate.mjs: check `rein export gateway` and rein's Gateway API
// fixtures with models nobody here wrote: @kubernetes-models/gateway-api
// 2.0.0 (the gateway.networking.k8s.io/v1 HTTPRoute and the
// gateway.networking.x-k8s.io/v1alpha1 XBackendTrafficPolicy models,
// generated from the Gateway API experimental CRDs, each with an ajv
// validator), read with the `yaml` package. The models check structure and
// types (retry.attempts an integer, codes integers in 400..599, durations
// matching GEP-2257's pattern, percent in 0..100, ...); they do not refuse
// unknown fields nor run the CRDs' CEL rules: rein checks those on its path.
//
//   node gateway_validate.mjs --rein BIN --examples DIR --fixtures DIR --work DIR
//
// 1. every caller of every example contract directory: `rein export
//    gateway` must write a List whose every item its model accepts;
// 2. every document of every fixture of tests/interop/fixtures/gateway;
// 3. HTTPRoutes rein refuses (exit 2) that the model refuses too.
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
let YAML, models;
try {
  YAML = require("yaml");
  const base = path.dirname(
      require.resolve("@kubernetes-models/gateway-api/package.json"));
  const route = await import(
      path.join(base, "gateway.networking.k8s.io", "v1", "HTTPRoute.js"));
  const btp = await import(path.join(base, "gateway.networking.x-k8s.io",
                                     "v1alpha1", "XBackendTrafficPolicy.js"));
  models = {
    "gateway.networking.k8s.io/v1 HTTPRoute": route.HTTPRoute,
    "gateway.networking.x-k8s.io/v1alpha1 XBackendTrafficPolicy":
        btp.XBackendTrafficPolicy,
  };
} catch (e) {
  console.error("gateway_validate: the npm validators are missing (run " +
                "scripts/deps.sh check, which installs tools/node_modules): " +
                e.message);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

// The model's verdict on one object: null when valid, else the reason.
function checkObject(o) {
  if (!o || typeof o !== "object") return "not an object";
  const M = models[o.apiVersion + " " + o.kind];
  if (!M) return "no model for " + o.apiVersion + " " + o.kind;
  try {
    new M(o).validate();
  } catch (e) {
    return e.message;
  }
  return null;
}

// Every document of a YAML stream; a List's items.
function check(text) {
  let docs;
  try {
    docs = YAML.parseAllDocuments(text);
  } catch (e) {
    return "YAML: " + e.message.split("\n")[0];
  }
  let n = 0;
  for (const doc of docs) {
    if (doc.errors && doc.errors.length)
      return "YAML: " + doc.errors[0].message.split("\n")[0];
    const j = doc.toJS();
    if (j === null || j === undefined) continue;
    const items = j.kind === "List" ? j.items : [j];
    if (j.kind === "List" &&
        (j.apiVersion !== "v1" || !Array.isArray(items) || !items.length))
      return "a List needs apiVersion v1 and items";
    for (const it of items) {
      const why = checkObject(it);
      if (why) return why;
      n++;
    }
  }
  return n ? null : "no objects";
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
let exports = 0, budgets = 0;
for (const d of fs.readdirSync(args.examples).sort()) {
  const dir = path.join(args.examples, d);
  if (!fs.statSync(dir).isDirectory()) continue;
  const probe = spawnSync(args.rein, ["export", "gateway", dir],
                          { encoding: "utf8" });
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
    const a = ["export", "gateway", dir];
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
    budgets += (r.stdout.match(/kind: XBackendTrafficPolicy/g) || []).length;
    exports++;
  }
}
result(exports >= 10, "exports checked: " + exports);
result(budgets >= 1, "exported XBackendTrafficPolicies checked: " + budgets);

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

const RT = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n" +
           "metadata: {name: r}\nspec:\n  rules:\n" +
           "  - backendRefs: [{name: a, port: 80}]\n";
const BTP = "apiVersion: gateway.networking.x-k8s.io/v1alpha1\n" +
            "kind: XBackendTrafficPolicy\nmetadata: {name: b}\nspec:\n" +
            "  targetRefs: [{group: \"\", kind: Service, name: a}]\n";
const refused = [
  ["attempts as a string", RT + "    retry: {attempts: \"3\"}\n"],
  ["fractional attempts", RT + "    retry: {attempts: 1.5}\n"],
  ["a code below 400", RT + "    retry: {attempts: 2, codes: [399]}\n"],
  ["a code above 599", RT + "    retry: {attempts: 2, codes: [600]}\n"],
  ["backoff as a number", RT + "    retry: {attempts: 2, backoff: 100}\n"],
  ["backoff in seconds with a fraction", RT +
       "    retry: {attempts: 2, backoff: \"1.5s\"}\n"],
  ["a duration with 6 digits", RT + "    timeouts: {request: \"100000s\"}\n"],
  ["retry as an array", RT + "    retry: [3]\n"],
  ["timeouts as a string", RT + "    timeouts: 5s\n"],
  ["rules as an object", "apiVersion: gateway.networking.k8s.io/v1\n" +
       "kind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules: {a: 1}\n"],
  ["percent above 100", BTP + "  retryConstraint: {budget: {percent: 101}}\n" +
       "---\n" + RT + "    retry: {attempts: 2}\n"],
  ["percent as a string", BTP +
       "  retryConstraint: {budget: {percent: \"20\"}}\n---\n" + RT +
       "    retry: {attempts: 2}\n"],
  ["minRetryRate interval as a number", BTP +
       "  retryConstraint: {minRetryRate: {count: 3, interval: 1}}\n---\n" +
       RT + "    retry: {attempts: 2}\n"],
];
for (const [what, text] of refused) {
  const file = path.join(args.work, "refused.yaml");
  fs.writeFileSync(file, text);
  const r = spawnSync(args.rein, ["import", "gateway", file],
                      { encoding: "utf8" });
  result(r.status === 2, "rein refuses: " + what, "exit " + r.status);
  result(check(text) !== null, "the model refuses: " + what, "accepted");
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
