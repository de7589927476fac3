#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""model_schema.py: docs/contract.schema.json's policy fields are the
policy model's (rein/model.h), field by field.

  model_schema.py REIN_BINARY SCHEMA [--write]

Reads the table from `rein policy --fields --json` and derives, for every
field, its JSON Schema (type, bounds, enum, default, description); the
schema's call (timeout, deadline), retry (attempts, window,
expected_attempt, signals), retry.backoff, retry.throttle, retry.hedge, budget and
breaker properties must equal them (`when` keeps the schema's own outcome
grammar). --write puts them into the schema instead of checking (how the
schema is generated); the test runs without it and fails on any
difference, naming the field."""
import json
import subprocess
import sys

def field_schema(f):
    t = f["type"]
    s = {}
    if t == "count":
        s["type"] = "integer"
    elif t == "number":
        s["type"] = "number"
    elif t == "duration":
        s["$ref"] = "#/$defs/duration"
    elif t == "enum":
        s["enum"] = f["enum"]
    elif t == "signals":
        s["type"] = "array"
        s["items"] = {"enum": ["retry-after", "pushback", "ratelimit",
                               "dont-retry"]}
    if t in ("count", "number"):
        s["exclusiveMinimum" if f["min_open"] else "minimum"] = (
            int(f["min"]) if t == "count" else f["min"])
        s["maximum"] = int(f["max"]) if t == "count" else f["max"]
    d = f["default"]
    if t == "count":
        s["default"] = int(d)
    elif t == "number":
        s["default"] = float(d) if "." in d or "e" in d else int(d)
    elif t == "signals":
        s["default"] = [x.strip() for x in d.split(",") if x.strip()]
    else:
        s["default"] = d
    desc = f["doc"]
    if t == "duration":
        desc += " (%s to %s)" % (fmt_dur(f["min"]), fmt_dur(f["max"]))
    if f.get("budget_kinds"):
        desc += "; budget kind " + ", ".join(f["budget_kinds"])
    s["description"] = desc[0].upper() + desc[1:] + "."
    return s

def fmt_dur(ns):
    ns = int(ns)
    if ns == 0:
        return "0s"
    out = ""
    for u, v in (("d", 86400 * 10**9), ("h", 3600 * 10**9), ("m", 60 * 10**9),
                 ("s", 10**9), ("ms", 10**6), ("us", 10**3), ("ns", 1)):
        if ns >= v:
            out += "%d%s" % (ns // v, u)
            ns %= v
    return out

def main():
    rein, path = sys.argv[1], sys.argv[2]
    write = "--write" in sys.argv[3:]
    fields = json.loads(subprocess.run([rein, "policy", "--fields", "--json"],
                                       check=True, capture_output=True,
                                       text=True).stdout)
    schema = json.load(open(path))
    d = schema["$defs"]
    where = {"call": d["call"]["properties"],
             "retry": d["retry"]["properties"],
             "backoff": d["retry"]["properties"]["backoff"]["properties"],
             "throttle": d["retry"]["properties"]["throttle"]["properties"],
             "hedge": d["retry"]["properties"]["hedge"]["properties"],
             "budget": d["budget"]["properties"],
             "breaker": d["breaker"]["properties"]}
    bad = 0
    seen = {k: set() for k in where}
    for f in fields:
        if f["type"] == "statuses":
            continue  # the schema's outcome grammar ($defs/outcome)
        props = where[f["block"]]
        want = field_schema(f)
        seen[f["block"]].add(f["name"])
        if write:
            props[f["name"]] = want
        elif props.get(f["name"]) != want:
            print("%s.%s: schema has %s, the model says %s" % (
                f["block"], f["name"], json.dumps(props.get(f["name"])),
                json.dumps(want)))
            bad += 1
    # every scalar policy property of the schema is a model field
    policy_keys = {"call": {"timeout", "deadline"},
                   "retry": {"attempts", "window", "expected_attempt",
                             "signals"}}
    for blk, props in where.items():
        keys = policy_keys.get(blk, set(props.keys()))
        for k in keys:
            if k in props and k not in seen[blk]:
                print("%s.%s: in the schema, not in the model" % (blk, k))
                bad += 1
    if write:
        with open(path, "w") as fp:
            json.dump(schema, fp, indent=2)
            fp.write("\n")
        return 0
    if bad:
        print("%d difference(s); regenerate with: %s %s %s --write" % (
            bad, sys.argv[0], rein, path))
        return 1
    print("schema agrees with the model: %d fields" % sum(map(len, seen.values())))
    # and the schema accepts every shipped contract
    import glob, os
    try:
        import jsonschema, yaml
    except ImportError:
        print("python3-jsonschema or python3-yaml missing (scripts/deps.sh "
              "check installs them): the examples cannot be validated")
        return 1
    root = os.path.join(os.path.dirname(os.path.abspath(path)), "..", "examples",
                        "contracts")
    class Loader(yaml.SafeLoader):  # dates stay strings, as rein reads them
        pass
    Loader.yaml_implicit_resolvers = {
        k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    n = 0
    for f in sorted(glob.glob(os.path.join(root, "*", "*.yaml"))):
        doc = yaml.load(open(f), Loader=Loader)
        try:
            jsonschema.validate(doc, schema)
        except jsonschema.ValidationError as e:
            print("%s: not valid against the schema: %s" % (f, e.message))
            return 1
        n += 1
    print("schema accepts the %d example contracts" % n)
    return 0

sys.exit(main())
