/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contract_load.c: the loader: one clear diagnostic (file:line:col,
 * rule id, message, fix) for each kind of bad input: malformed YAML, wrong
 * types, unknown fields with did-you-mean, bad durations, rates and enums,
 * missing and duplicate fields; broker blocks; JSON input; directories and
 * unreadable paths; durations and rates; hostile input that must never crash;
 * and a fault loop failing every allocation of a load.
 */
#include "rein_test.h"
#include "rein/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct load_case {
  const char *name;
  const char *const *files; /* name, text, ..., NULL */
  const char *expect;       /* text output */
  int exit_code;            /* `rein check`: 2 input errors, 0 clean */
} load_case;

/* unclosed flow mapping */
static const char *const e001_syntax_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: key, key_ttl: 24h\n",
    NULL};
static const char e001_syntax_expect[] =
    "a.yaml:5:1: error[E001]: malformed YAML: did not find expected ',' or '}' "
    "while parsing a flow mapping\n"
    "  fix: fix the syntax here: indentation, ':' after keys, closed quotes "
    "and brackets\n";

/* bad indentation */
static const char *const e001_indent_files[] = {"a.yaml",
                                                "service: a\n"
                                                "version: 2024-01-01\n"
                                                "calls:\n"
                                                "  - to: b.op\n"
                                                "   rate: 5/s\n",
                                                NULL};
static const char e001_indent_expect[] =
    "a.yaml:5:4: error[E001]: malformed YAML: did not find expected '-' "
    "indicator while parsing a block collection\n"
    "  fix: fix the syntax here: indentation, ':' after keys, closed quotes "
    "and brackets\n";

/* two documents */
static const char *const e001_two_docs_files[] = {"a.yaml",
                                                  "service: a\n"
                                                  "version: 2024-01-01\n"
                                                  "---\n"
                                                  "service: b\n",
                                                  NULL};
static const char e001_two_docs_expect[] =
    "a.yaml:4:1: error[E001]: more than one YAML document in a contract file\n"
    "  fix: put each service's contract in its own file\n";

/* wrong types everywhere */
static const char *const e002_types_files[] = {"a.yaml",
                                               "service: a\n"
                                               "version: 2024-01-01\n"
                                               "\n"
                                               "instances: many\n"
                                               "operations: [get, put]\n"
                                               "calls:\n"
                                               "  - to: [b, op]\n"
                                               "    retry: 3\n"
                                               "    rate: {n: 5}\n",
                                               NULL};
static const char e002_types_expect[] =
    "a.yaml:4:12: error[E002]: instances: expected an integer, got 'many'\n"
    "  fix: write instances as an integer, e.g. `4`\n"
    "a.yaml:5:13: error[E002]: operations: expected a mapping, got a list\n"
    "  fix: write operations as a mapping, e.g. `{charge: {idempotency: "
    "key}}`\n"
    "a.yaml:7:9: error[E002]: calls[0].to: expected service.operation, got a "
    "list\n"
    "  fix: write calls[0].to as service.operation, e.g. `ledger.charge`\n"
    "a.yaml:8:12: error[E002]: calls[0].retry: expected a mapping, got '3'\n"
    "  fix: write calls[0].retry as a mapping, e.g. `{attempts: 3, backoff: "
    "{kind: exponential}}`\n"
    "a.yaml:9:11: error[E002]: calls[0].rate: expected a rate, got a mapping\n"
    "  fix: write calls[0].rate as a rate, e.g. `500/s`\n";

/* a list is not a contract */
static const char *const e002_root_files[] = {"a.yaml", "- service: a\n", NULL};
static const char e002_root_expect[] =
    "a.yaml:1:1: error[E002]: a contract must be a mapping (service, version, "
    "operations, calls), got a list\n"
    "  fix: start the file with `service: NAME` and `version: DATE` fields\n";

/* unknown fields, with and without a suggestion */
static const char *const e003_files[] = {"a.yaml",
                                         "service: a\n"
                                         "version: 2024-01-01\n"
                                         "\n"
                                         "capacty: 100/s\n"
                                         "operations:\n"
                                         "  get:\n"
                                         "    idempotence: natural\n"
                                         "    colour: blue\n"
                                         "calls:\n"
                                         "  - to: b.get\n"
                                         "    retry:\n"
                                         "      atempts: 3\n"
                                         "      backof: {kind: exponential}\n",
                                         NULL};
static const char e003_expect[] =
    "a.yaml:4:1: error[E003]: unknown field 'capacty' (did you mean "
    "'capacity'?)\n"
    "  fix: rename it to 'capacity'\n"
    "a.yaml:7:5: error[E003]: operations.get: unknown field 'idempotence' (did "
    "you mean 'idempotency'?)\n"
    "  fix: rename it to 'idempotency'\n"
    "a.yaml:8:5: error[E003]: operations.get: unknown field 'colour'\n"
    "  fix: remove it; fields here: idempotency, key_ttl, key_header, "
    "retryable, max_retry_ratio, timeout, description, broker\n"
    "a.yaml:12:7: error[E003]: calls[0].retry: unknown field 'atempts' (did "
    "you mean 'attempts'?)\n"
    "  fix: rename it to 'attempts'\n"
    "a.yaml:13:7: error[E003]: calls[0].retry: unknown field 'backof' (did you "
    "mean 'backoff'?)\n"
    "  fix: rename it to 'backoff'\n";

/* negative, absurd, unit-less and garbage durations */
static const char *const e004_durations_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "\n"
    "operations:\n"
    "  get: {idempotency: key, key_ttl: 500d, timeout: 0s}\n"
    "calls:\n"
    "  - to: b.get\n"
    "    timeout: -5s\n"
    "    deadline: soon\n"
    "    retry:\n"
    "      window: 15\n"
    "      backoff: {base: 2s, cap: 1s}\n",
    NULL};
static const char e004_durations_expect[] =
    "a.yaml:5:36: error[E004]: operations.get.key_ttl: '500d' is absurdly long "
    "(more than 366d)\n"
    "  fix: use a duration of at most 366d\n"
    "a.yaml:5:51: error[E004]: operations.get.timeout: must be greater than 0, "
    "got 0s\n"
    "  fix: use a positive duration, e.g. `2s`\n"
    "a.yaml:8:14: error[E004]: calls[0].timeout: '-5s' is negative\n"
    "  fix: use a positive duration, e.g. `2s`\n"
    "a.yaml:9:15: error[E004]: calls[0].deadline: 'soon' is not a duration\n"
    "  fix: write a number and a unit (ms, s, m, h, d), e.g. `10s`\n"
    "a.yaml:11:15: error[E004]: calls[0].retry.window: '15' has no unit\n"
    "  fix: write 15s (or 15ms, 15h)\n"
    "a.yaml:12:32: error[E004]: calls[0].retry.backoff.cap: must not be below "
    "base\n"
    "  fix: set cap to at least the base (2s)\n";

/* enums, numbers, rates, names */
static const char *const e004_values_files[] = {
    "a.yaml",
    "service: a.b\n"
    "version: latest\n"
    "instances: 0\n"
    "capacity: fast\n"
    "operations:\n"
    "  get: {idempotency: maybe, max_retry_ratio: -1}\n"
    "calls:\n"
    "  - to: bget\n"
    "  - to: b.get\n"
    "    key: passthrough\n"
    "    rate: -5/s\n"
    "    retry:\n"
    "      attempts: 1001\n"
    "      backoff: {kind: exponental, jitter: fulll, multiplier: 0.5}\n"
    "      when: [503, 999, timeot]\n"
    "      signals: [retry-after, smoke]\n",
    NULL};
static const char e004_values_expect[] =
    "a.yaml:1:10: error[E004]: service: 'a.b' is not a valid service name\n"
    "  fix: use letters, digits, - and _ only (no dots: calls name "
    "service.operation)\n"
    "a.yaml:2:10: error[E004]: version: 'latest' is neither a date nor a "
    "semver\n"
    "  fix: write a date (2024-06-01) or a semver (1.4.0)\n"
    "a.yaml:3:12: error[E004]: instances: must be in [1, 1000000], got 0\n"
    "  fix: use a value from 1 to 1000000\n"
    "a.yaml:4:11: error[E004]: capacity: 'fast' is not a rate\n"
    "  fix: write a count per unit: 500/s, 30000/min, 100/h\n"
    "a.yaml:6:22: error[E004]: operations.get.idempotency: 'maybe' is not one "
    "of natural, key or none\n"
    "  fix: write one of: natural, key or none\n"
    "a.yaml:6:46: error[E004]: operations.get.max_retry_ratio: must be in [0, "
    "100], got -1\n"
    "  fix: use a value in [0, 100]\n"
    "a.yaml:8:9: error[E004]: calls[0].to: 'bget' is not service.operation\n"
    "  fix: write the callee as service.operation, e.g. `to: ledger.charge`\n"
    "a.yaml:10:10: error[E004]: calls[1].key: 'passthrough' is not one of "
    "none, originate, pass-through or derive (did you mean 'pass-through'?)\n"
    "  fix: write key: pass-through\n"
    "a.yaml:11:11: error[E004]: calls[1].rate: '-5/s' must be a positive rate "
    "up to 1e9/s\n"
    "  fix: use a positive rate of at most 1e9/s, e.g. 500/s\n"
    "a.yaml:13:17: error[E004]: calls[1].retry.attempts: must be in [1, 1000], "
    "got 1001\n"
    "  fix: use a value from 1 to 1000\n"
    "a.yaml:14:23: error[E004]: calls[1].retry.backoff.kind: 'exponental' is "
    "not one of none, constant, linear or exponential (did you mean "
    "'exponential'?)\n"
    "  fix: write kind: exponential\n"
    "a.yaml:14:43: error[E004]: calls[1].retry.backoff.jitter: 'fulll' is not "
    "one of none, full, equal or decorrelated (did you mean 'full'?)\n"
    "  fix: write jitter: full\n"
    "a.yaml:14:62: error[E004]: calls[1].retry.backoff.multiplier: must be in "
    "[1, 100], got 0.5\n"
    "  fix: use a value in [1, 100]\n"
    "a.yaml:15:19: error[E004]: calls[1].retry.when[1]: '999' is not an "
    "outcome\n"
    "  fix: use an HTTP status 100..599, a class 1xx..5xx, a gRPC status "
    "(UNAVAILABLE, or its code 1..16), or one of timeout, connect-failure, "
    "reset, refused-stream, overloaded, failure, not-sent\n"
    "a.yaml:15:24: error[E004]: calls[1].retry.when[2]: 'timeot' is not an "
    "outcome (did you mean 'timeout'?)\n"
    "  fix: write timeout\n"
    "a.yaml:16:30: error[E004]: calls[1].retry.signals[1]: 'smoke' is not one "
    "of retry-after, pushback, ratelimit or dont-retry\n"
    "  fix: write one of: retry-after, pushback, ratelimit or dont-retry\n";

/* fields of another kind, exclusive fields */
static const char *const e004_combos_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "\n"
    "operations:\n"
    "  get: {idempotency: natural, key_ttl: 24h}\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      budget: {kind: token_bucket, ratio: 0.1, max_tokens: 10}\n"
    "      breaker: {window: 10s, window_calls: 100}\n",
    NULL};
static const char e004_combos_expect[] =
    "a.yaml:5:3: error[E004]: operations.get: key_ttl is set but idempotency "
    "is not 'key'\n"
    "  fix: set idempotency: key, or remove key_ttl\n"
    "a.yaml:9:36: error[E004]: calls[0].retry.budget.ratio: applies to kind "
    "ratio, but this budget is kind token_bucket\n"
    "  fix: remove ratio, or set kind: ratio\n"
    "a.yaml:10:30: error[E004]: calls[0].retry.breaker: window and "
    "window_calls are exclusive\n"
    "  fix: keep `window` (time based) or `window_calls` (count based)\n";

/* fleet budgets must be ratio, fleet breakers time-windowed */
static const char *const e004_fleet_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      budget: {kind: quota, scope: fleet}\n"
    "      breaker: {window_calls: 100, scope: fleet}\n",
    NULL};
static const char e004_fleet_expect[] =
    "a.yaml:7:29: error[E004]: calls[0].retry.budget: a fleet budget must be "
    "kind ratio (rein/fleet.h shares a ratio budget through Redis)\n"
    "  fix: use kind: ratio for a fleet budget, or scope: instance\n"
    "a.yaml:8:17: error[E004]: calls[0].retry.breaker: a fleet breaker counts "
    "outcomes in time buckets; window_calls is per instance only\n"
    "  fix: use a time window (`window: 10s`) for a fleet breaker\n";

/* the retry-only breaker's vocabulary: gates, window_kind (issue 18) */
static const char *const e004_gates_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      breaker: {gates: retry, failure_rate: 0.1}\n"
    "  - to: b.put\n"
    "    retry:\n"
    "      breaker: {gates: retries, window_kind: cumulative, window: 10s}\n"
    "  - to: b.del\n"
    "    retry:\n"
    "      breaker: {gates: retries, scope: fleet}\n"
    "  - to: b.head\n"
    "    retry:\n"
    "      breaker: {window_kind: cumulative, scope: fleet}\n",
    NULL};
static const char e004_gates_expect[] =
    "a.yaml:7:24: error[E004]: calls[0].retry.breaker.gates: 'retry' is not one of all or retries\n"
    "  fix: write one of: all or retries\n"
    "a.yaml:10:46: error[E004]: calls[1].retry.breaker: window_kind cumulative contradicts window\n"
    "  fix: remove `window`/`window_calls` (a cumulative window counts every outcome), or the window_kind\n"
    "a.yaml:13:24: error[E004]: calls[2].retry.breaker: gates: retries is per instance (a fleet breaker shares one open state through Redis and gates every call)\n"
    "  fix: use `scope: instance` for a retry-only breaker\n"
    "a.yaml:16:30: error[E004]: calls[3].retry.breaker: a fleet breaker counts outcomes in time buckets; window_kind cumulative is per instance only\n"
    "  fix: use a time window (`window: 10s`) for a fleet breaker\n";

/* missing fields */
static const char *const e005_files[] = {"a.yaml",
                                         "operations:\n"
                                         "  pay: {idempotency: key}\n"
                                         "calls:\n"
                                         "  - rate: 5/s\n",
                                         "empty.yaml", "", NULL};
static const char e005_expect[] =
    "a.yaml:1:1: error[E005]: missing field 'service'\n"
    "  fix: add `service: NAME` at the top of the file\n"
    "a.yaml:1:1: error[E005]: missing field 'version'\n"
    "  fix: add `version: 2024-06-01` (a date or semver) at the top\n"
    "a.yaml:2:8: error[E005]: operations.pay: idempotency: key needs key_ttl\n"
    "  fix: add key_ttl: 24h (how long keys are remembered)\n"
    "a.yaml:4:5: error[E005]: calls[0]: missing field 'to'\n"
    "  fix: add `to: service.operation`\n"
    "empty.yaml:1:1: error[E005]: empty contract: missing field 'service'\n"
    "  fix: add `service: NAME` and `version: DATE`\n";

/* duplicate field and operation in one file */
static const char *const e006_field_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "\n"
    "instances: 2\n"
    "instances: 3\n"
    "operations:\n"
    "  get: {}\n"
    "  get: {idempotency: natural}\n",
    NULL};
static const char e006_field_expect[] =
    "a.yaml:5:1: error[E006]: duplicate field 'instances'\n"
    "  fix: remove one of the two 'instances' fields (first at line 4)\n"
    "a.yaml:8:3: error[E006]: operations: duplicate operation 'get'\n"
    "  fix: remove or rename one of them\n";

/* two files with the same service and version */
static const char *const e006_service_files[] = {"a.yaml",
                                                 "service: a\n"
                                                 "version: 2024-01-01\n",
                                                 "a2.yaml",
                                                 "service: a\n"
                                                 "version: 2024-01-01\n",
                                                 NULL};
static const char e006_service_expect[] =
    "a2.yaml:1:10: error[E006]: duplicate contract for service 'a' version "
    "'2024-01-01' (also in a.yaml:1:10)\n"
    "  fix: keep one file per service and version: remove one, or give this "
    "one a new version\n";

/* two calls to the same operation */
static const char *const e006_call_files[] = {"a.yaml",
                                              "service: a\n"
                                              "version: 2024-01-01\n"
                                              "\n"
                                              "calls:\n"
                                              "  - to: b.get\n"
                                              "  - to: b.put\n"
                                              "  - to: b.get\n"
                                              "    rate: 5/s\n",
                                              NULL};
static const char e006_call_expect[] =
    "a.yaml:7:5: error[E006]: calls[2]: a second call to b.get\n"
    "  fix: merge the two into one call (the runtime looks a policy up by "
    "caller and callee; first at line 5)\n";

/* YAML merge keys and x- extension fields load */
static const char *const merge_files[] = {
    "m.yaml",
    "service: m\n"
    "version: 1.0.0\n"
    "x-defaults:\n"
    "  retry: &retry\n"
    "    attempts: 3\n"
    "    backoff: {kind: exponential, base: 100ms, cap: 2s, jitter: full}\n"
    "    budget: {kind: ratio, ratio: 0.1}\n"
    "  call: &call\n"
    "    rate: 10/s\n"
    "    timeout: 500ms\n"
    "    retry: *retry\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 1s}\n"
    "  put: {idempotency: natural, timeout: 1s}\n"
    "calls:\n"
    "  - <<: *call\n"
    "    to: m.get\n"
    "  - <<: [*call]\n"
    "    to: m.put\n"
    "    timeout: 200ms\n"
    "    retry:\n"
    "      <<: *retry\n"
    "      attempts: 2\n",
    NULL};
static const char merge_expect[] = "";

/* a merge key must name a mapping */
static const char *const merge_bad_files[] = {"m.yaml",
                                              "service: a\n"
                                              "version: 2024-01-01\n"
                                              "\n"
                                              "calls:\n"
                                              "  - <<: 3\n"
                                              "    to: b.get\n",
                                              NULL};
static const char merge_bad_expect[] =
    "m.yaml:5:9: error[E002]: calls[0].<<: expected a mapping (or a list of "
    "them), got '3'\n"
    "  fix: write calls[0].<< as a mapping (or a list of them), e.g. "
    "`*defaults`\n";

/* exponential merges are bounded */
static const char *const merge_bomb_files[] = {
    "m.yaml",
    "service: a\n"
    "version: 1\n"
    "x-a: &a {instances: 2}\n"
    "x-l0: &l0\n"
    "  <<: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, "
    "*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, "
    "*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "x-l1: &l1\n"
    "  <<: [*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, "
    "*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, "
    "*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, "
    "*l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0, *l0]\n"
    "x-l2: &l2\n"
    "  <<: [*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, "
    "*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, "
    "*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, "
    "*l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1, *l1]\n"
    "x-l3: &l3\n"
    "  <<: [*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, "
    "*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, "
    "*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, "
    "*l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2, *l2]\n"
    "x-l4: &l4\n"
    "  <<: [*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, "
    "*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, "
    "*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, "
    "*l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3, *l3]\n"
    "<<: *l4\n",
    NULL};
static const char merge_bomb_expect[] =
    "m.yaml:6:7: error[E004]: more than 1000 merged mappings in one file\n"
    "  fix: merge fewer mappings\n"
    "m.yaml:7:3: error[E004]: merge keys nested more than 4 deep\n"
    "  fix: flatten the merges\n";

/* JSON is YAML: a JSON contract loads */
static const char *const json_files[] = {
    "j.json",
    "{\"service\": \"j\", \"version\": \"1.2.0\", \"instances\": 2,\n"
    " \"operations\": {\"get\": {\"idempotency\": \"natural\", \"timeout\": "
    "\"2s\",\n"
    "                        \"retryable\": [503, \"timeout\"]}},\n"
    " \"calls\": [{\"to\": \"j.get\", \"rate\": \"30000/min\", \"timeout\": "
    "\"500ms\",\n"
    "            \"retry\": {\"attempts\": 2, \"backoff\": {\"jitter\": "
    "\"full\"}}}]}\n",
    NULL};
static const char json_expect[] = "";

/* JSON indented with tabs loads */
static const char *const json_tabs_files[] = {
    "t.json",
    "{\n"
    "	\"service\": \"t\",\n"
    "	\"version\": \"1.0.0\",\n"
    "	\"calls\": [\n"
    "		{\"to\": \"t.x\", \"rate\": 5}\n"
    "	],\n"
    "	\"operations\": {\"x\": {\"idempotency\": \"natural\"}}\n"
    "}\n",
    NULL};
static const char json_tabs_expect[] = "";

/* a JSON type error points into the JSON */
static const char *const json_error_files[] = {
    "j.json",
    "{\"service\": \"j\", \"version\": \"1.2.0\",\n"
    " \"calls\": [{\"to\": \"j.get\", \"retry\": {\"attempts\": "
    "\"three\"}}]}\n",
    NULL};
static const char json_error_expect[] =
    "j.json:2:50: error[E002]: calls[0].retry.attempts: expected an integer, "
    "got 'three'\n"
    "  fix: write calls[0].retry.attempts as an integer, e.g. `3`\n";

/* broker blocks: bad kinds, durations and booleans, a field of the other
 * side or of another broker kind, a missing kind, unknown fields */
static const char *const broker_bad_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  placed:\n"
    "    broker: {kind: jetsream, inbox: yes}\n"
    "  paid:\n"
    "    broker: {kind: kafka, duplicate_window: 2m, inbx: true}\n"
    "  sent: {broker: rabbitmq}\n"
    "calls:\n"
    "  - to: b.x\n"
    "    broker: {kind: jetstream, duplicate_window: 120, inbox: true}\n"
    "  - to: b.y\n"
    "    broker: {kind: rabbitmq, duplicate_window: -1s,\n"
    "             idempotent_producer: true}\n"
    "  - to: b.z\n"
    "    broker: {duplicate_window: 0s, idempotent_prodcer: true}\n"
    "  - to: b.w\n"
    "    broker: {kind: jetstream, duplicate_window: 2m}\n",
    NULL};
static const char broker_bad_expect[] =
    "a.yaml:5:20: error[E004]: operations.placed.broker.kind: 'jetsream' is "
    "not one of jetstream, kafka, rabbitmq or redis-streams (did you mean "
    "'jetstream'?)\n"
    "  fix: write kind: jetstream\n"
    "a.yaml:5:37: error[E004]: operations.placed.broker.inbox: 'yes' is not "
    "one of false or true\n"
    "  fix: write one of: false or true\n"
    "a.yaml:7:27: error[E003]: operations.paid.broker: duplicate_window is the "
    "producer's (a call's broker block), not a consuming operation's\n"
    "  fix: move it to the publishing call's broker block "
    "(calls[N].broker.duplicate_window)\n"
    "a.yaml:7:49: error[E003]: operations.paid.broker: unknown field 'inbx' "
    "(did you mean 'inbox'?)\n"
    "  fix: rename it to 'inbox'\n"
    "a.yaml:8:18: error[E002]: operations.sent.broker: expected a mapping, got "
    "'rabbitmq'\n"
    "  fix: write operations.sent.broker as a mapping, e.g. `{kind: jetstream, "
    "inbox: true}`\n"
    "a.yaml:11:49: error[E004]: calls[0].broker.duplicate_window: '120' has no "
    "unit\n"
    "  fix: write 120s (or 120ms, 120h)\n"
    "a.yaml:11:54: error[E003]: calls[0].broker: inbox is the consumer's (an "
    "operation's broker block), not a publishing call's\n"
    "  fix: move it to the consuming operation's broker block "
    "(operations.NAME.broker.inbox)\n"
    "a.yaml:13:30: error[E004]: calls[1].broker.duplicate_window: only for "
    "kind: jetstream, this broker is rabbitmq\n"
    "  fix: remove it (rabbitmq has no duplicate window)\n"
    "a.yaml:13:48: error[E004]: calls[1].broker.duplicate_window: '-1s' is "
    "negative\n"
    "  fix: use a positive duration, e.g. `2m`\n"
    "a.yaml:14:14: error[E004]: calls[1].broker.idempotent_producer: only for "
    "kind: kafka, this broker is rabbitmq\n"
    "  fix: remove it (only a Kafka producer has one)\n"
    "a.yaml:16:13: error[E005]: calls[2].broker: missing field 'kind'\n"
    "  fix: add kind: jetstream (or kafka, rabbitmq, redis-streams)\n"
    "a.yaml:16:32: error[E004]: calls[2].broker.duplicate_window: must be "
    "greater than 0, got 0s\n"
    "  fix: use a positive duration, e.g. `2m`\n"
    "a.yaml:16:36: error[E003]: calls[2].broker: unknown field "
    "'idempotent_prodcer' (did you mean 'idempotent_producer'?)\n"
    "  fix: rename it to 'idempotent_producer'\n";

/* broker blocks that load: the jetstream default window, every kind */
static const char *const broker_ok_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  placed: {broker: {kind: jetstream, inbox: true}}\n"
    "  paid: {broker: {kind: redis-streams, inbox: false, description: x}}\n"
    "calls:\n"
    "  - to: b.x\n"
    "    broker: {kind: jetstream}\n"
    "  - to: b.y\n"
    "    broker: {kind: kafka, idempotent_producer: false}\n"
    "  - to: b.z\n"
    "    broker: {kind: rabbitmq}\n",
    NULL};
static const char broker_ok_expect[] = "";

static const load_case cases[] = {
    {"e001_syntax", e001_syntax_files, e001_syntax_expect, 2},
    {"e001_indent", e001_indent_files, e001_indent_expect, 2},
    {"e001_two_docs", e001_two_docs_files, e001_two_docs_expect, 2},
    {"e002_types", e002_types_files, e002_types_expect, 2},
    {"e002_root", e002_root_files, e002_root_expect, 2},
    {"e003", e003_files, e003_expect, 2},
    {"e004_durations", e004_durations_files, e004_durations_expect, 2},
    {"e004_values", e004_values_files, e004_values_expect, 2},
    {"e004_combos", e004_combos_files, e004_combos_expect, 2},
    {"e004_fleet", e004_fleet_files, e004_fleet_expect, 2},
    {"e004_gates", e004_gates_files, e004_gates_expect, 2},
    {"e005", e005_files, e005_expect, 2},
    {"e006_field", e006_field_files, e006_field_expect, 2},
    {"e006_service", e006_service_files, e006_service_expect, 2},
    {"e006_call", e006_call_files, e006_call_expect, 2},
    {"merge", merge_files, merge_expect, 0},
    {"merge_bad", merge_bad_files, merge_bad_expect, 2},
    {"merge_bomb", merge_bomb_files, merge_bomb_expect, 2},
    {"json", json_files, json_expect, 0},
    {"json_tabs", json_tabs_files, json_tabs_expect, 0},
    {"json_error", json_error_files, json_error_expect, 2},
    {"broker_bad", broker_bad_files, broker_bad_expect, 2},
    {"broker_ok", broker_ok_files, broker_ok_expect, 0},
};

static char *render(const rein_contract_set *s) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  assert_non_null(m);
  assert_int_equal(rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, m),
                   REIN_OK);
  fclose(m);
  return buf;
}

static rein_contract_set *load_case_files(const load_case *c,
                                          const rein_allocator *a,
                                          rein_status *worst) {
  rein_contract_config cfg;
  rein_contract_config_default(&cfg);
  cfg.alloc = a;
  rein_contract_set *s = NULL;
  if (rein_contract_set_new(&cfg, &s) != REIN_OK) return NULL;
  *worst = REIN_OK;
  for (size_t i = 0; c->files[i]; i += 2) {
    rein_status st = rein_contract_add_buffer(s, c->files[i], c->files[i + 1],
                                              strlen(c->files[i + 1]));
    if (st == REIN_ENOMEM) {
      rein_contract_set_free(s);
      return NULL;
    }
    if (st != REIN_OK) *worst = st;
  }
  return s;
}

static void run_case(const load_case *c) {
  rein_status worst;
  rein_contract_set *s = load_case_files(c, NULL, &worst);
  assert_non_null(s);
  char *text = render(s);
  if (strcmp(text, c->expect) != 0)
    fprintf(stderr, "case %s: got\n%s\nexpected\n%s\n", c->name, text,
            c->expect);
  assert_string_equal(text, c->expect);
  free(text);
  assert_int_equal(rein_contract_has_load_errors(s), c->exit_code == 2);
  assert_int_equal(worst, c->exit_code == 2 ? REIN_EPARSE : REIN_OK);
  rein_contract_set_free(s);
}

static const load_case *find_case(const char *name) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(cases[i].name, name) == 0) return &cases[i];
  fail_msg("no case %s", name);
  return NULL;
}

#define S(x) ((int64_t)(x)*1000000000)

static void test_durations(void **st) {
  (void)st;
  int64_t ns;
  assert_int_equal(rein_contract_parse_duration("250ms", &ns), REIN_OK);
  assert_int_equal(ns, 250000000);
  assert_int_equal(rein_contract_parse_duration("15s", &ns), REIN_OK);
  assert_int_equal(ns, S(15));
  assert_int_equal(rein_contract_parse_duration("72h", &ns), REIN_OK);
  assert_int_equal(ns, S(72 * 3600));
  assert_int_equal(rein_contract_parse_duration("30d", &ns), REIN_OK);
  assert_int_equal(ns, S(30 * 86400));
  assert_int_equal(rein_contract_parse_duration("1h30m", &ns), REIN_OK);
  assert_int_equal(ns, S(5400));
  assert_int_equal(rein_contract_parse_duration("2min", &ns), REIN_OK);
  assert_int_equal(ns, S(120));
  assert_int_equal(rein_contract_parse_duration("1.5s", &ns), REIN_OK);
  assert_int_equal(ns, 1500000000);
  assert_int_equal(rein_contract_parse_duration("1w", &ns), REIN_OK);
  assert_int_equal(ns, S(7 * 86400));
  assert_int_equal(rein_contract_parse_duration("0", &ns), REIN_OK);
  assert_int_equal(ns, 0);
  assert_int_equal(rein_contract_parse_duration("366d", &ns), REIN_OK);
  assert_int_equal(rein_contract_parse_duration("367d", &ns), REIN_ERANGE);
  assert_int_equal(rein_contract_parse_duration("-1s", &ns), REIN_ERANGE);
  assert_int_equal(rein_contract_parse_duration("15", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("s", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("5 s", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("5sec", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("nan", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration("1e400s", &ns), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_duration(NULL, &ns), REIN_EINVAL);
  char b[32];
  assert_string_equal(rein_contract_format_duration(S(72 * 3600), b, 32),
                      "72h");
  assert_string_equal(rein_contract_format_duration(S(72 * 3600 + 30), b, 32),
                      "72h30s");
  assert_string_equal(rein_contract_format_duration(S(30 * 86400), b, 32),
                      "30d");
  assert_string_equal(rein_contract_format_duration(250000000, b, 32), "250ms");
  assert_string_equal(rein_contract_format_duration(1500000000, b, 32), "1.5s");
  assert_string_equal(rein_contract_format_duration(S(90), b, 32), "1m30s");
  assert_string_equal(rein_contract_format_duration(0, b, 32), "0s");
}

static void test_rates(void **st) {
  (void)st;
  double r;
  assert_int_equal(rein_contract_parse_rate("500/s", &r), REIN_OK);
  assert_true(r == 500);
  assert_int_equal(rein_contract_parse_rate("30000/min", &r), REIN_OK);
  assert_true(r == 500);
  assert_int_equal(rein_contract_parse_rate("60/m", &r), REIN_OK);
  assert_true(r == 1);
  assert_int_equal(rein_contract_parse_rate("7200/h", &r), REIN_OK);
  assert_true(r == 2);
  assert_int_equal(rein_contract_parse_rate("250", &r), REIN_OK);
  assert_true(r == 250);
  assert_int_equal(rein_contract_parse_rate("5/fortnight", &r), REIN_EPARSE);
  assert_int_equal(rein_contract_parse_rate("-5/s", &r), REIN_ERANGE);
  assert_int_equal(rein_contract_parse_rate("2e9/s", &r), REIN_ERANGE);
  assert_int_equal(rein_contract_parse_rate("fast", &r), REIN_EPARSE);
}

static void test_paths(void **st) {
  (void)st;
  char dir[] = "/tmp/rein-contract-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char p[256];
  snprintf(p, sizeof p, "%s/sub", dir);
  assert_int_equal(mkdir(p, 0700), 0);
  const char *files[][2] = {
      {"b.yaml", "service: b\nversion: 1.0.0\n"},
      {"sub/a.yml", "service: a\nversion: 1.0.0\n"},
      {"c.json", "{\"service\": \"c\", \"version\": \"2.0\"}"},
      {"notes.txt", "not a contract"},
  };
  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i][0]);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(files[i][1], f);
    fclose(f);
  }
  rein_contract_set *s;
  const char *paths[] = {dir};
  assert_int_equal(rein_contract_load(NULL, paths, 1, &s), REIN_OK);
  assert_int_equal(rein_contract_service_count(s), 3);
  assert_int_equal(rein_contract_diag_count(s), 0);
  snprintf(p, sizeof p, "%s/missing.yaml", dir);
  assert_int_equal(rein_contract_add_path(s, p), REIN_EPARSE);
  const rein_contract_diag *d = rein_contract_diag_at(s, 0);
  assert_string_equal(d->rule, "E008");
  assert_string_equal(d->message,
                      "cannot read contract: No such file or directory");
  assert_string_equal(d->loc.file, p);
  assert_true(rein_contract_has_load_errors(s));
  rein_contract_set_free(s);

  /* size limit */
  rein_contract_config cfg;
  rein_contract_config_default(&cfg);
  cfg.max_file_bytes = 10;
  snprintf(p, sizeof p, "%s/b.yaml", dir);
  const char *one[] = {p};
  assert_int_equal(rein_contract_load(&cfg, one, 1, &s), REIN_EPARSE);
  assert_string_equal(rein_contract_diag_at(s, 0)->message,
                      "cannot read contract: larger than 10 bytes");
  rein_contract_set_free(s);

  for (size_t i = 0; i < 4; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i][0]);
    unlink(p);
  }
  snprintf(p, sizeof p, "%s/sub", dir);
  rmdir(p);
  rmdir(dir);
  assert_int_equal(rein_contract_load(NULL, NULL, 1, &s), REIN_EINVAL);
}

/* Hostile inputs: each must give diagnostics (or load), never crash. */
static void test_hostile(void **st) {
  (void)st;
  static char deep[20000];
  memset(deep, '[', sizeof deep - 1);
  static char deepmap[30000];
  size_t o = 0;
  for (int i = 0; i < 5000 && o + 8 < sizeof deepmap; i++)
    o += (size_t)snprintf(deepmap + o, sizeof deepmap - o, "{a: ");
  const char *inputs[] = {
      deep,
      deepmap,
      "service: a\nversion: 1\ncalls: &x\n  - to: a.b\n    retry: *x\n",
      "a: &a [*a, *a]\nservice: *a\n",
      "service: !!binary aGVsbG8=\nversion: 1\n",
      "\xff\xfe\x00\x01garbage",
      "service: \"unterminated\n",
      "service: a\nversion: 1\noperations: {x: {retryable: [[1]]}}\n",
      "service: a\nversion: 1\ncalls: [{to: a.b, retry: {on: "
      "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,"
      "26,27,28,29,30,31,32,33,34]}}]\n",
      "? [a, b]\n: c\n",
      "service: a\nversion: 1\ncalls:\n  - to: a.b\n    timeout: 1e308s\n",
      "service: a\nversion: 1\ncalls:\n  - to: a.b\n    rate: 1e308/s\n",
  };
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    rein_status r =
        rein_contract_add_buffer(s, "h.yaml", inputs[i], strlen(inputs[i]));
    assert_true(r == REIN_OK || r == REIN_EPARSE);
    if (r == REIN_EPARSE) assert_true(rein_contract_diag_count(s) > 0);
    assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
    char *t = render(s);
    free(t);
    rein_contract_set_free(s);
  }
  /* not NUL-terminated: only `len` bytes are read */
  char buf[] = {'s', 'e', 'r', 'v', 'i', 'c', 'e', ':', ' ', 'a'};
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "n.yaml", buf, sizeof buf),
                   REIN_EPARSE);
  assert_string_equal(rein_contract_diag_at(s, 0)->message,
                      "missing field 'version'");
  rein_contract_set_free(s);
}

static char *buf_printf(char *buf, size_t *o, size_t cap, const char *s) {
  size_t l = strlen(s);
  assert_true(*o + l < cap);
  memcpy(buf + *o, s, l + 1);
  *o += l;
  return buf;
}

/* Bounds on hostile sizes: fields per object, diagnostics per file, and
 * many operations stay fast (linear duplicate detection). */
static void test_limits(void **st) {
  (void)st;
  static char buf[1 << 20];
  size_t o = 0;
  char line[64];
  buf_printf(buf, &o, sizeof buf, "service: a\nversion: 1\n");
  for (int i = 0; i < 70; i++) {
    snprintf(line, sizeof line, "f%d: 1\n", i);
    buf_printf(buf, &o, sizeof buf, line);
  }
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "f.yaml", buf, o), REIN_EPARSE);
  assert_string_equal(rein_contract_diag_at(s, 0)->message,
                      "72 fields in one object (no object has more than 64)");
  rein_contract_set_free(s);

  o = 0;
  buf_printf(buf, &o, sizeof buf, "service: a\nversion: 1\ncalls:\n");
  for (int i = 0; i < 150; i++) {
    snprintf(line, sizeof line, "  - {to: b.c%d, colour: red}\n", i);
    buf_printf(buf, &o, sizeof buf, line);
  }
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "c.yaml", buf, o), REIN_EPARSE);
  assert_int_equal(rein_contract_diag_count(s), 101);
  assert_string_equal(rein_contract_diag_at(s, 0)->message,
                      "50 more errors in this file not shown");
  assert_string_equal(rein_contract_diag_at(s, 1)->message,
                      "calls[0]: unknown field 'colour'");
  assert_string_equal(rein_contract_diag_at(s, 100)->message,
                      "calls[99]: unknown field 'colour'");
  rein_contract_set_free(s);

  o = 0;
  buf_printf(buf, &o, sizeof buf, "service: a\nversion: 1\noperations:\n");
  for (int i = 0; i < 9000; i++) {
    snprintf(line, sizeof line, "  o%d: {idempotency: natural}\n", i);
    buf_printf(buf, &o, sizeof buf, line);
  }
  buf_printf(buf, &o, sizeof buf, "  o17: {idempotency: natural}\n");
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "o.yaml", buf, o), REIN_EPARSE);
  assert_int_equal(rein_contract_diag_count(s), 1);
  assert_string_equal(rein_contract_diag_at(s, 0)->message,
                      "operations: duplicate operation 'o17'");
  assert_int_equal(rein_contract_diag_at(s, 0)->loc.line, 9004);
  rein_contract_set_free(s);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  const load_case *c = ctx;
  rein_status worst;
  rein_contract_set *s = load_case_files(c, a, &worst);
  if (!s) return -1;
  int rc = 0;
  if (rein_contract_check(s, NULL) != REIN_OK) rc = -1;
  if (!rc) {
    char *t = render(s);
    if (strcmp(t, c->expect) != 0) rc = -2;
    free(t);
  }
  rein_contract_set_free(s);
  return rc;
}

static void test_fault_loop(void **st) {
  (void)st;
  rein_test_fault_loop(fault_body, (void *)find_case("e004_values"));
  rein_test_fault_loop(fault_body, (void *)find_case("json"));
  rein_test_fault_loop(fault_body, (void *)find_case("e006_service"));
}

static void test_e001_syntax(void **st) {
  (void)st;
  run_case(find_case("e001_syntax"));
}

static void test_e001_indent(void **st) {
  (void)st;
  run_case(find_case("e001_indent"));
}

static void test_e001_two_docs(void **st) {
  (void)st;
  run_case(find_case("e001_two_docs"));
}

static void test_e002_types(void **st) {
  (void)st;
  run_case(find_case("e002_types"));
}

static void test_e002_root(void **st) {
  (void)st;
  run_case(find_case("e002_root"));
}

static void test_e003(void **st) {
  (void)st;
  run_case(find_case("e003"));
}

static void test_e004_durations(void **st) {
  (void)st;
  run_case(find_case("e004_durations"));
}

static void test_e004_values(void **st) {
  (void)st;
  run_case(find_case("e004_values"));
}

static void test_e004_combos(void **st) {
  (void)st;
  run_case(find_case("e004_combos"));
}

static void test_e004_fleet(void **st) {
  (void)st;
  run_case(find_case("e004_fleet"));
}

static void test_e004_gates(void **st) {
  (void)st;
  run_case(find_case("e004_gates"));
}

static void test_e005(void **st) {
  (void)st;
  run_case(find_case("e005"));
}

static void test_e006_field(void **st) {
  (void)st;
  run_case(find_case("e006_field"));
}

static void test_e006_service(void **st) {
  (void)st;
  run_case(find_case("e006_service"));
}

static void test_e006_call(void **st) {
  (void)st;
  run_case(find_case("e006_call"));
}

static void test_merge(void **st) {
  (void)st;
  run_case(find_case("merge"));
}

static void test_merge_bad(void **st) {
  (void)st;
  run_case(find_case("merge_bad"));
}

static void test_merge_bomb(void **st) {
  (void)st;
  run_case(find_case("merge_bomb"));
}

static void test_json(void **st) {
  (void)st;
  run_case(find_case("json"));
}

static void test_json_tabs(void **st) {
  (void)st;
  run_case(find_case("json_tabs"));
}

static void test_broker_bad(void **st) {
  (void)st;
  run_case(find_case("broker_bad"));
}

static void test_broker_ok(void **st) {
  (void)st;
  run_case(find_case("broker_ok"));
}

static void test_json_error(void **st) {
  (void)st;
  run_case(find_case("json_error"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_e001_syntax),    cmocka_unit_test(test_e001_indent),
      cmocka_unit_test(test_e001_two_docs),  cmocka_unit_test(test_e002_types),
      cmocka_unit_test(test_e002_root),      cmocka_unit_test(test_e003),
      cmocka_unit_test(test_e004_durations), cmocka_unit_test(test_e004_values),
      cmocka_unit_test(test_e004_combos),    cmocka_unit_test(test_e004_fleet),
      cmocka_unit_test(test_e004_gates),
      cmocka_unit_test(test_e005),           cmocka_unit_test(test_e006_field),
      cmocka_unit_test(test_e006_service),   cmocka_unit_test(test_e006_call),
      cmocka_unit_test(test_merge),          cmocka_unit_test(test_merge_bad),
      cmocka_unit_test(test_merge_bomb),     cmocka_unit_test(test_json),
      cmocka_unit_test(test_json_tabs),      cmocka_unit_test(test_json_error),
      cmocka_unit_test(test_broker_bad),     cmocka_unit_test(test_broker_ok),
      cmocka_unit_test(test_durations),      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_paths),          cmocka_unit_test(test_hostile),
      cmocka_unit_test(test_limits),         cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
