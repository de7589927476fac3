#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# mesh_cli.sh REIN SRC: `rein check` and `rein simulate` over a mesh's own
# configs (examples/mesh, docs/interop.md "Checking a mesh"): the stacked
# mesh's R004 with its figure and R001 at the original files' line:col,
# the fixed mesh clean, the simulated storm, the calls joining the
# service's contract in either file order, and bad input (a malformed or
# unknown file, a bad overlay, a bad scenario import) as file:line:col
# and exit 2.
set -u
REIN=$1
SRC=$2
M=$(cd "$SRC/examples/mesh" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
has() { # has FILE TEXT WHAT
  if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: no '$2' in:"; cat "$1"; fi
}

# --- the stacked mesh: amplification and the TTL, at the configs' lines
"$REIN" check -q "$M/stacked" > "$T/s.out" 2> "$T/s.err"
rc=$?
[ $rc -eq 1 ] && ok "stacked: exit 1" || bad "stacked: exit $rc"
has "$T/s.out" "$M/stacked/api-istio.yaml:14:11: error[R004]" "R004 at the Istio route"
has "$T/s.out" "3 x 3 x 3 = 27 attempts reach ledger.post" "R004 figure"
has "$T/s.out" "$M/stacked/edge-envoy.yaml:9:9: layer 1: edge -> front.checkout makes 3 attempts" "layer 1 at the Envoy route"
has "$T/s.out" "$M/stacked/front-grpc.json:4:16: layer 2: front -> api.charge makes 3 attempts" "layer 2 at the gRPC method config"
has "$T/s.out" "$M/stacked/ledger.yaml:8:14: error[R001]: ledger.post keeps idempotency keys for 10s" "R001 at the ledger's key_ttl"
has "$T/s.out" "$M/stacked/front-grpc.json:4:16: front retries api.charge for up to 15.3s (key: originate)" "R001 chain at the gRPC config"
[ "$(grep -c 'error\[' "$T/s.out")" -eq 2 ] && ok "stacked: two findings" || bad "stacked: findings: $(cat "$T/s.out")"
[ ! -s "$T/s.err" ] && ok "-q: nothing on stderr" || bad "-q printed: $(cat "$T/s.err")"
# JSON output carries the same places
"$REIN" check -f json "$M/stacked" > "$T/s.json" 2>/dev/null
has "$T/s.json" "api-istio.yaml" "json: the Istio file named"

# rein ttl and rein policy read the mesh the same way
"$REIN" ttl "$M/stacked" > "$T/ttl.out" 2>/dev/null
grep -qE "^ledger.post +10s +24.375s +SHORT +front \(15.3s\) -> api \(9.075s\) -> ledger.post" "$T/ttl.out" \
  && ok "ttl: the ledger's key TTL is short" || { bad "ttl"; cat "$T/ttl.out"; }
"$REIN" policy "$M/stacked" --caller api --to ledger.post --json > "$T/pol.json" 2>/dev/null
has "$T/pol.json" '"attempts":3' "policy: the Istio route's 3 attempts"

# a config on standard input is imported too
"$REIN" check - < "$M/stacked/api-istio.yaml" > "$T/stdin.out" 2>&1
has "$T/stdin.out" "<stdin>:14:11: error[E007]: calls[0].to: unknown service 'ledger'" "stdin: an Istio file, at its line"

# --- the fixed mesh is clean
"$REIN" check "$M/fixed" > "$T/f.out" 2> "$T/f.err"
rc=$?
[ $rc -eq 0 ] && ok "fixed: exit 0" || { bad "fixed: exit $rc"; cat "$T/f.out"; }
has "$T/f.err" "0 errors, 0 warnings in 4 contracts" "fixed: summary"

# --- the calls join the service's contract whichever file comes first
mkdir "$T/order"
cp "$M/stacked/"*.yaml "$M/stacked/"*.json "$T/order/"
mv "$T/order/front-grpc.json" "$T/order/zz-front-grpc.json"
sed 's/front-grpc.json/zz-front-grpc.json/' "$M/stacked/rein-overlay.yaml" > "$T/order/rein-overlay.yaml"
"$REIN" check -q "$T/order" > "$T/o.out" 2>&1
has "$T/o.out" "3 x 3 x 3 = 27" "order: contract first, then its config"
has "$T/o.out" "$T/order/zz-front-grpc.json:4:16: layer 2" "order: origin kept"

# --- without the overlay, the callees are as imported: E007 at the configs
mkdir "$T/noov"
cp "$M/stacked/"*.yaml "$M/stacked/"*.json "$T/noov/"
rm "$T/noov/rein-overlay.yaml"
"$REIN" check -q "$T/noov" > "$T/n.out" 2>&1
has "$T/n.out" "$T/noov/edge-envoy.yaml:9:9: error[E007]" "no overlay: E007 at the Envoy route"
# --overlay FILE instead of the directory's
"$REIN" check -q --overlay "$M/stacked/rein-overlay.yaml" "$T/noov" > "$T/n2.out" 2>&1
has "$T/n2.out" "E007" "--overlay names files relative to itself (not these)"

# --- bad input: file:line:col and exit 2
mkdir "$T/bad1"
cp "$M/stacked/ledger.yaml" "$T/bad1/"
printf 'virtual_hosts:\n  - name: x\n    domains: ["*"]\n    routes:\n      - match: {prefix: "/"}\n        route: {cluster: a, retry_policy: {num_retry: 2}}\n' > "$T/bad1/edge.yaml"
"$REIN" check "$T/bad1" > "$T/b1.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "malformed Envoy: exit 2" || bad "malformed Envoy: exit $rc"
has "$T/b1.out" "$T/bad1/edge.yaml:6:44: error[E003]" "malformed Envoy: file:line:col"
has "$T/b1.out" "num_retries" "malformed Envoy: did you mean"
printf 'kind: Deployment\nspec: {}\n' > "$T/unknown.yaml"
"$REIN" check "$T/unknown.yaml" > "$T/b2.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "unknown file: exit 2" || bad "unknown file: exit $rc"
has "$T/b2.out" "$T/unknown.yaml:1:1: error[E003]" "unknown file: file:line:col"
printf '{"methodConfig": [{"name": [{"service": "a.B"}], "retryPolicy": {"maxAttempts": "3"}}]\n' > "$T/broken.json"
"$REIN" check "$T/broken.json" > "$T/b3.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "broken JSON: exit 2" || bad "broken JSON: exit $rc"
grep -qE "broken.json:[0-9]+:[0-9]+: error\[E00" "$T/b3.out" && ok "broken JSON: file:line:col" || { bad "broken JSON"; cat "$T/b3.out"; }
mkdir "$T/bad2"
cp "$M/stacked/"*.yaml "$M/stacked/"*.json "$T/bad2/"
printf 'files:\n  edge-envoy.yaml:\n    servce: edge\n  nothere.yaml: {service: x}\n  api-istio.yaml:\n    calls: {"ledger.*": {to: ledger.post, key: sometimes}}\n' > "$T/bad2/rein-overlay.yaml"
"$REIN" check "$T/bad2" > "$T/b4.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "bad overlay: exit 2" || bad "bad overlay: exit $rc"
has "$T/b4.out" "$T/bad2/rein-overlay.yaml:3:5: error[E003]: files.edge-envoy.yaml: unknown field 'servce'" "overlay: unknown field at line:col"
has "$T/b4.out" "did you mean 'service'?" "overlay: did you mean"
has "$T/b4.out" "$T/bad2/rein-overlay.yaml:4:3: error[E004]: files.nothere.yaml: no such file" "overlay: missing file"
has "$T/b4.out" "$T/bad2/rein-overlay.yaml:6:48: error[E004]" "overlay: bad key mode"
# a callee that is not a contract name, and a call both halves make
mkdir "$T/bad3"
cp "$M/stacked/"*.yaml "$M/stacked/"*.json "$T/bad3/"
sed 's/{to: ledger.post, key: pass-through}/{to: "ledger.po st", key: pass-through}/' "$M/stacked/rein-overlay.yaml" > "$T/bad3/rein-overlay.yaml"
"$REIN" check "$T/bad3" > "$T/b7.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "overlay: bad callee: exit 2" || bad "overlay: bad callee: exit $rc"
grep -qE "bad3/rein-overlay.yaml:16:[0-9]+: error\[E004\]: files.api-istio.yaml.calls.ledger.\*: expected service.operation" "$T/b7.out" \
  && ok "overlay: bad callee at line:col" || { bad "overlay: bad callee"; cat "$T/b7.out"; }
mkdir "$T/dup"
cp "$M/stacked/"*.yaml "$M/stacked/"*.json "$T/dup/"
printf 'calls:\n  - to: api.charge\n' >> "$T/dup/front.yaml"
"$REIN" check "$T/dup" > "$T/b8.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "a call in both halves: exit 2" || bad "a call in both halves: exit $rc"
has "$T/b8.out" "$T/dup/front-grpc.json:4:16: error[E006]: a second call from front to api.charge (also at $T/dup/front.yaml:" "a call in both halves: E006 at the config"
"$REIN" check --from envy "$M/stacked" > /dev/null 2> "$T/b5.err"
rc=$?
[ $rc -eq 2 ] && ok "--from envy: exit 2" || bad "--from envy: exit $rc"
# --from: a file whose content names no format is read as the one given
printf '# no marker of its format: an empty VirtualService list\napiVersion: v1\nkind: List\nitems: []\n' > "$T/list.yaml"
"$REIN" check --from istio "$T/list.yaml" > "$T/b6.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "--from istio on an empty List: exit 2" || bad "--from istio: exit $rc"
has "$T/b6.out" "$T/list.yaml:" "--from istio: the Istio importer's error at the file"

# --- rein simulate on the imported configs: the storm, and the fix
"$REIN" simulate "$M/storm.yaml" --compare > "$T/sim.out" 2> "$T/sim.err"
rc=$?
[ $rc -eq 0 ] && ok "simulate: exit 0" || { bad "simulate: exit $rc"; cat "$T/sim.err"; }
st=$(awk '$1 == "per_logical@ledger" {print $2}' "$T/sim.out")
fx=$(awk '$1 == "per_logical@ledger" {print $3}' "$T/sim.out")
echo "per_logical@ledger: stacked $st, fixed $fx"
awk -v s="$st" -v f="$fx" 'BEGIN {exit !(s > 10 && f < 3)}' \
  && ok "storm: stacked > 10 attempts per request at the ledger, fixed < 3" \
  || { bad "storm figures"; cat "$T/sim.out"; }
# an imported policy is the one `rein import` writes: the same run as the
# policy taken from the imported contract, byte for byte
mkdir "$T/imp"
"$REIN" import grpc "$M/stacked/front-grpc.json" -o "$T/imp" 2>/dev/null \
  || bad "rein import of front-grpc.json"
for pol in "{import: $M/stacked/front-grpc.json, propagate_dont_retry: false}" \
           "{contract: $T/imp, caller: front-grpc, to: api-Payments.Charge, propagate_dont_retry: false}"; do
  n=$((${n:-0} + 1))
  cat > "$T/eq$n.yaml" <<EOS
name: eq
seed: 3
duration: 10s
interval: 1s
policies:
  p: $pol
servers:
  - {name: api, concurrency: 100, service_time: 1ms}
cohorts:
  - {name: c, count: 20, target: api, arrival: {mode: poisson, rate: 2}, timeout: 2s, policy: p}
incidents:
  - {kind: outage, server: api, start: 2s, duration: 3s, mode: error, status: UNAVAILABLE}
EOS
  "$REIN" simulate "$T/eq$n.yaml" --json > "$T/eq$n.json" 2> "$T/eq$n.err" || { bad "eq$n: $(cat "$T/eq$n.err")"; }
done
cmp -s "$T/eq1.json" "$T/eq2.json" && ok "import policy = imported contract's policy (same run)" \
  || { bad "import policy differs from the contract's"; diff "$T/eq1.json" "$T/eq2.json" | head; }
grep -q '"retries":[1-9]' "$T/eq1.json" && ok "the imported policy retries" || bad "no retries: $(head -c 300 "$T/eq1.json")"
# a scenario whose import does not exist, or names no call
sed 's#stacked/edge-envoy.yaml#stacked/nope.yaml#' "$M/storm.yaml" > "$M/.storm-bad-$$.yaml"
"$REIN" simulate "$M/.storm-bad-$$.yaml" > "$T/sb.out" 2>&1
rc=$?
[ $rc -eq 2 ] && ok "bad import: exit 2" || bad "bad import: exit $rc"
grep -qE "storm-bad-$$.yaml:16:[0-9]+: policies.edge-stacked.import: cannot read" "$T/sb.out" \
  && ok "bad import: file:line:col" || { bad "bad import"; cat "$T/sb.out"; }
sed 's#to: "ledger.\*"#to: "ledger.post"#' "$M/storm.yaml" > "$M/.storm-bad-$$.yaml"
"$REIN" simulate "$M/.storm-bad-$$.yaml" > "$T/sb2.out" 2>&1
rc=$?
rm -f "$M/.storm-bad-$$.yaml"
[ $rc -eq 2 ] && ok "import: unknown call: exit 2" || bad "import: unknown call: exit $rc"
has "$T/sb2.out" "makes no call to ledger.post (its calls: ledger.*)" "import: the calls listed"

[ $fails -eq 0 ] && echo "mesh_cli: all passed" || echo "mesh_cli: $fails failed"
exit $fails
