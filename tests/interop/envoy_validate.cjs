// SPDX-License-Identifier: Apache-2.0
//
// envoy_validate.cjs: check `rein export envoy` and rein's Envoy fixtures
// with a parser nobody here wrote: Envoy's own v3 .proto files (the
// envoy-api tree @grpc/grpc-js-xds 1.14.1 ships in deps/), read by
// protobufjs, and @bufbuild/protobuf 2.17.0's proto3 JSON parser (which
// passes the protobuf conformance tests: unknown fields, Duration strings,
// enum names, wrappers and Any "@type" lookup are all checked). That is
// the JSON mapping Envoy applies to its YAML and JSON config; the
// protoc-gen-validate rules (min_len, gt) are not checked: no
// independent implementation of them is installable here.
//
//   node envoy_validate.cjs --rein BIN --examples DIR --fixtures DIR --work DIR
//
// 1. every caller of every example contract directory: `rein export
//    envoy` must write a Bootstrap the parser accepts;
// 2. every fixture of tests/interop/fixtures/envoy must parse (a
//    Bootstrap, a RouteConfiguration, or each xDS resource as an Any);
// 3. configs rein refuses (exit 2) that the parser refuses too.
// Prints "N passed, M failed"; exits 1 on any failure.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync, spawnSync } = require("node:child_process");

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
  args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];

let protobuf, descriptor, bp, wkt, YAML;
try {
  protobuf = require("protobufjs");
  descriptor = require("protobufjs/ext/descriptor");
  bp = require("@bufbuild/protobuf");
  wkt = require("@bufbuild/protobuf/wkt");
  YAML = require("yaml");
  require.resolve("@grpc/grpc-js-xds/package.json");
} catch (e) {
  console.error("envoy_validate: the npm validators are missing (run " +
                "scripts/deps.sh check, which installs tools/node_modules): " +
                e.message);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

// ---- Envoy's protos as a registry ------------------------------------------

function registry() {
  const deps = path.join(
      path.dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
  const dirs = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map(
      (d) => path.join(deps, d));
  const wktDir = path.dirname(require.resolve("protobufjs/package.json"));
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    for (const d of [...dirs, wktDir]) {
      const p = path.join(d, target);
      if (fs.existsSync(p)) return p;
    }
    return target;
  };
  root.loadSync(
      [
        "envoy/config/bootstrap/v3/bootstrap.proto",
        "envoy/extensions/filters/network/http_connection_manager/v3/" +
            "http_connection_manager.proto",
        "envoy/extensions/filters/http/router/v3/router.proto",
      ],
      { keepCase: true });
  root.resolveAll();
  const set = root.toDescriptor("proto3");
  // protobufjs names types relative to the message, and maps' entries by
  // the field: make every type name full.
  function fix(msgs, scope, parent) {
    for (const m of msgs || []) {
      const full = scope + "." + m.name;
      let t = null;
      try { t = root.lookup(full.slice(1)); } catch (e) { /* an entry */ }
      const ctx = t && t.lookupTypeOrEnum ? t : parent;
      for (const f of m.field || []) {
        if (!f.typeName || f.typeName.startsWith(".")) continue;
        let r = null;
        try { r = ctx.lookupTypeOrEnum(f.typeName); } catch (e) { /* below */ }
        const nested = (n) => (m.nestedType || []).some((x) => x.name === n);
        if (r) f.typeName = r.fullName;
        else if (nested(f.typeName + "Entry"))
          f.typeName = full + "." + f.typeName + "Entry";
        else if (nested(f.typeName)) f.typeName = full + "." + f.typeName;
      }
      fix(m.nestedType, full, ctx);
    }
  }
  // Custom options (validate, udpa) matter to protoc-gen-validate, not to
  // the JSON mapping: drop the extensions and every option but map_entry.
  function strip(msgs) {
    for (const m of msgs || []) {
      m.extension = [];
      m.field = (m.field || []).filter((f) => !f.name.startsWith("."));
      for (const f of m.field) {
        delete f.options;
        // protoc fills json_name (the lowerCamelCase name); protobufjs
        // does not
        f.jsonName = f.name.replace(/_([a-z0-9])/g, (m, c) => c.toUpperCase());
      }
      m.options = m.options && m.options.mapEntry ? { mapEntry: true }
                                                 : undefined;
      strip(m.nestedType);
    }
  }
  for (const f of set.file) {
    fix(f.messageType, f.package ? "." + f.package : "", root);
    f.extension = [];
    delete f.options;
    strip(f.messageType);
    for (const e of f.enumType || []) delete e.options;
  }
  // Files (one per package here) depend on the packages they reference;
  // the registry wants them in dependency order.
  const byPkg = new Map(set.file.map((f) => [f.package || "", f]));
  const pkgOf = (n) => {
    let best = "";
    for (const k of byPkg.keys())
      if (n.startsWith("." + k + ".") && k.length > best.length) best = k;
    return best;
  };
  function refs(msgs, out) {
    for (const m of msgs || []) {
      for (const f of m.field || []) if (f.typeName) out.add(pkgOf(f.typeName));
      refs(m.nestedType, out);
    }
  }
  for (const f of set.file) {
    const o = new Set();
    refs(f.messageType, o);
    o.delete(f.package || "");
    f.dependency = [...o].filter((k) => byPkg.has(k)).map((k) => byPkg.get(k).name);
  }
  const order = [], seen = new Set();
  function visit(f) {
    if (seen.has(f.name)) return;
    seen.add(f.name);
    for (const d of f.dependency) visit(set.file.find((x) => x.name === d));
    order.push(f);
  }
  set.file.forEach(visit);
  set.file = order;
  const bytes = descriptor.FileDescriptorSet.encode(set).finish();
  return bp.createFileRegistry(bp.fromBinary(wkt.FileDescriptorSetSchema, bytes));
}

const reg = registry();
const msg = (n) => {
  const m = reg.getMessage(n);
  if (!m) throw new Error("no message " + n);
  return m;
};
const Bootstrap = msg("envoy.config.bootstrap.v3.Bootstrap");
const RouteConfiguration = msg("envoy.config.route.v3.RouteConfiguration");

// The parser's verdict on an Envoy file: null when valid, else the reason.
function check(text) {
  let j;
  try {
    j = YAML.parse(text);
  } catch (e) {
    return "YAML: " + e.message.split("\n")[0];
  }
  try {
    if (j && j.resources) {
      for (const r of j.resources) bp.fromJson(wkt.AnySchema, r, { registry: reg });
    } else if (j && (j.virtual_hosts || j.virtualHosts)) {
      bp.fromJson(RouteConfiguration, j, { registry: reg });
    } else {
      bp.fromJson(Bootstrap, j, { registry: reg });
    }
  } catch (e) {
    return e.message;
  }
  return null;
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
for (const d of fs.readdirSync(args.examples).sort()) {
  const dir = path.join(args.examples, d);
  if (!fs.statSync(dir).isDirectory()) continue;
  // the callers: `rein export` names them when there are several
  const probe = spawnSync(args.rein, ["export", "envoy", dir], { encoding: "utf8" });
  let callers = [];
  if (probe.status === 0) {
    callers = [null];
  } else {
    const files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    for (const f of files) {
      const t = fs.readFileSync(path.join(dir, f), "utf8");
      const m = /^service:\s*(\S+)/m.exec(t);
      if (m && /^calls:/m.test(t)) callers.push(m[1]);
    }
  }
  for (const c of callers) {
    const a = ["export", "envoy", dir];
    if (c) a.push("--caller", c);
    const r = spawnSync(args.rein, a, { encoding: "utf8" });
    const what = d + (c ? " --caller " + c : "");
    if (r.status !== 0) {
      result(false, what, "rein export failed: " + r.stderr.slice(0, 300));
      continue;
    }
    fs.writeFileSync(path.join(args.work, d + (c ? "-" + c : "") + ".yaml"), r.stdout);
    result(check(r.stdout) === null, "export of " + what, check(r.stdout));
  }
}

// ---- 2. the fixtures ---------------------------------------------------------

for (const f of fs.readdirSync(args.fixtures).sort()) {
  if (!/\.(ya?ml|json)$/.test(f)) continue;
  const why = check(fs.readFileSync(path.join(args.fixtures, f), "utf8"));
  result(why === null, "fixture " + f, why);
}

// ---- 3. refused by both ------------------------------------------------------

const VH = "virtual_hosts:\n- name: v\n  domains: [\"*\"]\n  routes:\n" +
           "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n";
const refused = [
  ["unknown field", VH + "      retry_policy: {num_retry: 2}\n"],
  ["duration without s", VH + "      timeout: \"1.5\"\n"],
  ["number as a word", VH + "      retry_policy: {num_retries: two}\n"],
  ["negative num_retries", VH + "      retry_policy: {num_retries: -1}\n"],
  ["camelCase typo", VH + "      retryPolicy: {retryOn: 5xx, perTryTimeot: 1s}\n"],
  ["unknown priority", "static_resources:\n  clusters:\n  - name: a\n" +
       "    circuit_breakers: {thresholds: [{priority: MEDIUM}]}\n"],
  ["status as a word", VH + "      retry_policy: {retriable_status_codes: [abc]}\n"],
];
for (const [what, text] of refused) {
  const file = path.join(args.work, "refused.yaml");
  fs.writeFileSync(file, text);
  const r = spawnSync(args.rein, ["import", "envoy", file], { encoding: "utf8" });
  result(r.status === 2, "rein refuses: " + what, "exit " + r.status);
  result(check(text) !== null, "the parser refuses: " + what, "accepted");
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
