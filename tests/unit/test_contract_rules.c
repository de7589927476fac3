/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contract_rules.c: every rule R001..R013 on small graphs that must
 * trigger it and on near-identical ones that must not, asserting the exact
 * diagnostics (file:line:col, severity, rule id, message, fix, notes) as
 * `rein check` prints them; plus E007 resolution, --disable, the
 * amplification threshold, JSON/SARIF output, the TTL table, idempotent
 * re-checking and a fault loop that fails every allocation of a check.
 */
#include "rein_test.h"
#include "rein/contract.h"
#include "rein/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rule_case {
  const char *name;
  const char *const *files; /* name, text, name, text, ..., NULL */
  uint32_t disabled;
  double max_amp;
  const char *expect; /* rein_contract_write(TEXT) output */
  int exit_code;      /* what `rein check` exits with */
} rule_case;

/* R001: a 48h retry window against a 24h key TTL */
static const char *const r001_direct_files[] = {"a.yaml",
                                                "service: a\n"
                                                "version: 2024-01-01\n"
                                                "calls:\n"
                                                "  - to: b.pay\n"
                                                "    retry:\n"
                                                "      attempts: 3\n"
                                                "      window: 48h\n"
                                                "    key: originate\n",
                                                "b.yaml",
                                                "service: b\n"
                                                "version: 2024-01-01\n"
                                                "operations:\n"
                                                "  pay:\n"
                                                "    idempotency: key\n"
                                                "    key_ttl: 24h\n",
                                                NULL};
static const char r001_direct_expect[] =
    "b.yaml:6:14: error[R001]: b.pay keeps idempotency keys for 24h, but a "
    "retries it for up to 48h: a retry after 24h finds no key and runs again "
    "(a duplicate effect)\n"
    "  fix: raise key_ttl to at least 48h, or shorten a's retry window to "
    "under 24h\n"
    "  note: a.yaml:7:15: a retries b.pay for up to 48h (key: originate)\n";

/* R001 silent: 12h window fits 24h */
static const char *const r001_direct_clean_files[] = {"a.yaml",
                                                      "service: a\n"
                                                      "version: 2024-01-01\n"
                                                      "calls:\n"
                                                      "  - to: b.pay\n"
                                                      "    retry:\n"
                                                      "      attempts: 3\n"
                                                      "      window: 12h\n"
                                                      "    key: originate\n",
                                                      "b.yaml",
                                                      "service: b\n"
                                                      "version: 2024-01-01\n"
                                                      "operations:\n"
                                                      "  pay:\n"
                                                      "    idempotency: key\n"
                                                      "    key_ttl: 24h\n",
                                                      NULL};
static const char r001_direct_clean_expect[] = "";

/* R001 through a pass-through chain a -> b -> c */
static const char *const r001_chain_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.pay\n"
    "    retry: {attempts: 4, window: 72h}\n"
    "    key: originate\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 30d}\n"
    "calls:\n"
    "  - to: c.charge\n"
    "    retry: {attempts: 2, window: 30s}\n"
    "    key: pass-through\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  charge: {idempotency: key, key_ttl: 24h}\n",
    NULL};
static const char r001_chain_expect[] =
    "c.yaml:4:39: error[R001]: c.charge keeps idempotency keys for 24h, but "
    "the same key reaches it through a (72h) -> b (30s) -> c.charge for up to "
    "72h30s: a retry after 24h finds no key and runs again (a duplicate "
    "effect)\n"
    "  fix: raise key_ttl to at least 72h30s (see `rein ttl`), or shorten a's "
    "retry window so the chain stays under 24h\n"
    "  note: a.yaml:5:34: a retries b.pay for up to 72h (key: originate)\n"
    "  note: b.yaml:7:34: b retries c.charge for up to 30s (key: "
    "pass-through)\n";

/* R001 silent: b mints its own key for c */
static const char *const r001_chain_broken_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.pay\n"
    "    retry: {attempts: 4, window: 72h}\n"
    "    key: originate\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 30d}\n"
    "calls:\n"
    "  - to: c.charge\n"
    "    retry: {attempts: 2, window: 30s}\n"
    "    key: originate\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  charge: {idempotency: key, key_ttl: 24h}\n",
    NULL};
static const char r001_chain_broken_expect[] = "";

/* keys passed around a cycle terminate */
static const char *const r001_cycle_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  x: {idempotency: key, key_ttl: 1h}\n"
    "calls:\n"
    "  - to: b.y\n"
    "    retry: {attempts: 2, window: 40m}\n"
    "    key: pass-through\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  y: {idempotency: key, key_ttl: 1h}\n"
    "calls:\n"
    "  - to: a.x\n"
    "    retry: {attempts: 2, window: 40m}\n"
    "    key: derive\n",
    NULL};
static const char r001_cycle_expect[] =
    "a.yaml:4:34: error[R001]: a.x keeps idempotency keys for 1h, but the same "
    "key reaches it through a (40m) -> b (40m) -> a.x for up to 1h20m: a retry "
    "after 1h finds no key and runs again (a duplicate effect)\n"
    "  fix: raise key_ttl to at least 1h20m (see `rein ttl`), or shorten a's "
    "retry window so the chain stays under 1h\n"
    "  note: a.yaml:7:34: a retries b.y for up to 40m (key: pass-through)\n"
    "  note: b.yaml:7:34: b retries a.x for up to 40m (key: derive)\n"
    "b.yaml:4:34: error[R001]: b.y keeps idempotency keys for 1h, but the same "
    "key reaches it through b (40m) -> a (40m) -> b.y for up to 1h20m: a retry "
    "after 1h finds no key and runs again (a duplicate effect)\n"
    "  fix: raise key_ttl to at least 1h20m (see `rein ttl`), or shorten b's "
    "retry window so the chain stays under 1h\n"
    "  note: b.yaml:7:34: b retries a.x for up to 40m (key: derive)\n"
    "  note: a.yaml:7:34: a retries b.y for up to 40m (key: pass-through)\n";

/* R002: idempotency none retried */
static const char *const r002_none_files[] = {"a.yaml",
                                              "service: a\n"
                                              "version: 2024-01-01\n"
                                              "calls:\n"
                                              "  - to: b.refund\n"
                                              "    retry: {attempts: 3}\n",
                                              "b.yaml",
                                              "service: b\n"
                                              "version: 2024-01-01\n"
                                              "operations:\n"
                                              "  refund: {idempotency: none}\n",
                                              NULL};
static const char r002_none_expect[] =
    "a.yaml:5:23: error[R002]: b.refund is not idempotent (idempotency: none) "
    "and a retries it up to 3 attempts: a retry after a timeout or 5xx can "
    "apply it twice\n"
    "  fix: set attempts: 1, or retry only connect-refused (when: "
    "[connect-refused]), or give b.refund idempotency: key\n";

/* R002: keyed operation called without a key */
static const char *const r002_nokey_files[] = {"a.yaml",
                                               "service: a\n"
                                               "version: 2024-01-01\n"
                                               "calls:\n"
                                               "  - to: b.pay\n"
                                               "    retry:\n"
                                               "      attempts: 2\n",
                                               "b.yaml",
                                               "service: b\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  pay:\n"
                                               "    idempotency: key\n"
                                               "    key_ttl: 24h\n",
                                               NULL};
static const char r002_nokey_expect[] =
    "a.yaml:6:17: error[R002]: b.pay deduplicates by idempotency key but a "
    "sends none and retries up to 2 attempts: each retry is a new operation\n"
    "  fix: set key: originate (or pass-through to forward the key a "
    "received), sent in Idempotency-Key\n";

/* R002 silent: only connect-refused is retried, or one attempt */
static const char *const r002_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.refund\n"
    "    retry: {attempts: 3, when: [connect-refused, dns]}\n"
    "  - to: b.cancel\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  refund: {idempotency: none}\n"
    "  cancel: {idempotency: none}\n",
    NULL};
static const char r002_clean_expect[] = "";

/* R003: 10 instances, exponential, no jitter */
static const char *const r003_files[] = {
    "w.yaml",
    "service: w\n"
    "version: 2024-01-01\n"
    "instances: 10\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    rate: 20/s\n"
    "    timeout: 500ms\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {kind: exponential, base: 200ms, cap: 5s, jitter: none}\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r003_expect[] =
    "w.yaml:10:66: error[R003]: exponential backoff without jitter across 10 "
    "instances of w: the 100 calls in flight when reg fails (10 x 20/s x 500ms "
    "timeout) retry in the same instant, at +200ms, +600ms\n"
    "  fix: set jitter: full (spreads each wave over its whole backoff "
    "interval)\n";

/* R003: constant backoff, no rate declared */
static const char *const r003_constant_norate_files[] = {
    "w.yaml",
    "service: w\n"
    "version: 2024-01-01\n"
    "instances: 3\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    retry:\n"
    "      attempts: 5\n"
    "      backoff: {kind: constant, base: 1s, jitter: none}\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r003_constant_norate_expect[] =
    "w.yaml:8:51: error[R003]: constant backoff without jitter across 3 "
    "instances of w: the 3 calls in flight when reg fails (one per instance) "
    "retry in the same instant, at +1s, +2s, +3s, ...\n"
    "  fix: set jitter: full (spreads each wave over its whole backoff "
    "interval)\n";

/* R003 silent: one instance, or jitter */
static const char *const r003_clean_files[] = {
    "w.yaml",
    "service: w\n"
    "version: 2024-01-01\n"
    "instances: 1\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {kind: exponential, jitter: none}\n"
    "  - to: reg.list\n"
    "    instances: 50\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {kind: exponential, jitter: full}\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r003_clean_expect[] = "";

/* R004: 3 x 3 x 3 = 27 over three layers */
static const char *const r004_files[] = {"a.yaml",
                                         "service: a\n"
                                         "version: 2024-01-01\n"
                                         "operations:\n"
                                         "  op: {idempotency: natural}\n"
                                         "calls:\n"
                                         "  - to: b.op\n"
                                         "    retry: {attempts: 3}\n",
                                         "b.yaml",
                                         "service: b\n"
                                         "version: 2024-01-01\n"
                                         "operations:\n"
                                         "  op: {idempotency: natural}\n"
                                         "calls:\n"
                                         "  - to: c.op\n"
                                         "    retry: {attempts: 3}\n",
                                         "c.yaml",
                                         "service: c\n"
                                         "version: 2024-01-01\n"
                                         "operations:\n"
                                         "  op: {idempotency: natural}\n"
                                         "calls:\n"
                                         "  - to: d.op\n"
                                         "    retry: {attempts: 3}\n",
                                         "d.yaml",
                                         "service: d\n"
                                         "version: 2024-01-01\n"
                                         "operations:\n"
                                         "  op: {idempotency: natural}\n",
                                         NULL};
static const char r004_expect[] =
    "c.yaml:7:23: error[R004]: retries multiply along a -> b -> c -> d: 3 x 3 "
    "x 3 = 27 attempts reach d.op for one request (limit 10)\n"
    "  fix: retry at one layer only: keep retries in a (the edge) and set "
    "attempts: 1 in b, c, which then pass don't-retry upwards\n"
    "  note: a.yaml:7:23: layer 1: a -> b.op makes 3 attempts\n"
    "  note: b.yaml:7:23: layer 2: b -> c.op makes 3 attempts\n"
    "  note: c.yaml:7:23: layer 3: c -> d.op makes 3 attempts\n";

/* R004 silent: 3 x 3 x 1 = 9 */
static const char *const r004_clean_files[] = {"a.yaml",
                                               "service: a\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n"
                                               "calls:\n"
                                               "  - to: b.op\n"
                                               "    retry: {attempts: 3}\n",
                                               "b.yaml",
                                               "service: b\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n"
                                               "calls:\n"
                                               "  - to: c.op\n"
                                               "    retry: {attempts: 3}\n",
                                               "c.yaml",
                                               "service: c\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n"
                                               "calls:\n"
                                               "  - to: d.op\n"
                                               "    retry: {attempts: 1}\n",
                                               "d.yaml",
                                               "service: d\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n",
                                               NULL};
static const char r004_clean_expect[] = "";

/* R004 silent with --max-amplification 30 */
static const char *const r004_threshold_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: b.op\n"
    "    retry: {attempts: 3}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: c.op\n"
    "    retry: {attempts: 3}\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: d.op\n"
    "    retry: {attempts: 3}\n",
    "d.yaml",
    "service: d\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n",
    NULL};
static const char r004_threshold_expect[] = "";

/* R004 on a cycle a -> b -> a terminates and reports once */
static const char *const r004_cycle_files[] = {"a.yaml",
                                               "service: a\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n"
                                               "calls:\n"
                                               "  - to: b.op\n"
                                               "    retry: {attempts: 4}\n",
                                               "b.yaml",
                                               "service: b\n"
                                               "version: 2024-01-01\n"
                                               "operations:\n"
                                               "  op: {idempotency: natural}\n"
                                               "calls:\n"
                                               "  - to: a.op\n"
                                               "    retry: {attempts: 4}\n",
                                               NULL};
static const char r004_cycle_expect[] =
    "b.yaml:7:23: error[R004]: retries multiply along a -> b -> a: 4 x 4 = 16 "
    "attempts reach a.op for one request (limit 10)\n"
    "  fix: retry at one layer only: keep retries in a (the edge) and set "
    "attempts: 1 in b, which then pass don't-retry upwards\n"
    "  note: a.yaml:7:23: layer 1: a -> b.op makes 4 attempts\n"
    "  note: b.yaml:7:23: layer 2: b -> a.op makes 4 attempts\n";

/* R004 through a layer that does not retry: reported once, at the deepest
 * retrying layer */
static const char *const r004_passthrough_layer_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: b.op\n"
    "    retry: {attempts: 4}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: c.op\n"
    "    retry: {attempts: 1}\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n"
    "calls:\n"
    "  - to: d.op\n"
    "    retry: {attempts: 4}\n",
    "d.yaml",
    "service: d\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  op: {idempotency: natural}\n",
    NULL};
static const char r004_passthrough_layer_expect[] =
    "c.yaml:7:23: error[R004]: retries multiply along a -> b -> c -> d: 4 x 4 "
    "= 16 attempts reach d.op for one request (limit 10)\n"
    "  fix: retry at one layer only: keep retries in a (the edge) and set "
    "attempts: 1 in c, which then pass don't-retry upwards\n"
    "  note: a.yaml:7:23: layer 1: a -> b.op makes 4 attempts\n"
    "  note: c.yaml:7:23: layer 2: c -> d.op makes 4 attempts\n";

/* R005: 10 x 5/s x 3 attempts = 150/s > 100/s */
static const char *const r005_files[] = {"c.yaml",
                                         "service: c\n"
                                         "version: 2024-01-01\n"
                                         "instances: 10\n"
                                         "calls:\n"
                                         "  - to: s.op\n"
                                         "    rate: 5/s\n"
                                         "    retry: {attempts: 3}\n",
                                         "s.yaml",
                                         "service: s\n"
                                         "version: 2024-01-01\n"
                                         "capacity: 100/s\n"
                                         "operations:\n"
                                         "  op: {idempotency: natural}\n",
                                         NULL};
static const char r005_expect[] =
    "s.yaml:3:11: error[R005]: when s fails, its callers can send 150/s (no "
    "caller has a retry budget) against a capacity of 100/s (50/s normally): "
    "retries alone keep it overloaded\n"
    "  fix: give each caller a retry budget shared by its fleet (budget: "
    "{kind: ratio, ratio: 0.1, scope: fleet}) so retries stay within 100/s, or "
    "raise capacity to 150/s\n"
    "  note: c.yaml:6:11: c: 10 x 5/s x 3 attempts = 150/s (no budget)\n";

/* R005: per-instance floors add up to more than capacity */
static const char *const r005_instance_budget_files[] = {
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "instances: 10\n"
    "calls:\n"
    "  - to: s.op\n"
    "    rate: 300/min\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      budget: {kind: ratio, ratio: 0.1, min_per_sec: 5}\n",
    "s.yaml",
    "service: s\n"
    "version: 2024-01-01\n"
    "capacity: 100/s\n"
    "operations:\n"
    "  op: {idempotency: natural}\n",
    NULL};
static const char r005_instance_budget_expect[] =
    "s.yaml:3:11: error[R005]: when s fails, its callers can send 150/s "
    "without budgets and 105/s with them against a capacity of 100/s (50/s "
    "normally): retries alone keep it overloaded\n"
    "  fix: give each caller a retry budget shared by its fleet (budget: "
    "{kind: ratio, ratio: 0.1, scope: fleet}) so retries stay within 100/s, or "
    "raise capacity to 105/s\n"
    "  note: c.yaml:6:11: c: 10 x 5/s x 3 attempts = 150/s (ratio budget "
    "(instance): 105/s)\n";

/* R005 silent: a fleet budget keeps it at 56/s */
static const char *const r005_clean_files[] = {
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "instances: 10\n"
    "calls:\n"
    "  - to: s.op\n"
    "    rate: 5/s\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      budget: {kind: ratio, ratio: 0.1, min_per_sec: 1, scope: fleet}\n",
    "s.yaml",
    "service: s\n"
    "version: 2024-01-01\n"
    "capacity: 100/s\n"
    "operations:\n"
    "  op: {idempotency: natural}\n",
    NULL};
static const char r005_clean_expect[] = "";

/* R006: 2 x 2s + 500ms + 1s backoff... vs 5s deadline */
static const char *const r006_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    timeout: 1500ms\n"
    "    deadline: 5s\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {kind: exponential, base: 500ms, cap: 1s}\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r006_expect[] =
    "a.yaml:6:15: error[R006]: the retry schedule takes up to 6s (3 attempts x "
    "1.5s timeout + 1.5s backoff) but the deadline is 5s: only 2 of 3 attempts "
    "can run\n"
    "  fix: set attempts: 2, or a per-attempt timeout of at most 1.167s, or "
    "raise the deadline to 6s\n";

/* R006 silent: 8s deadline */
static const char *const r006_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    timeout: 1500ms\n"
    "    deadline: 8s\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      backoff: {kind: exponential, base: 500ms, cap: 1s}\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r006_clean_expect[] = "";

/* R007: 409 is definitive, 500 not declared retryable */
static const char *const r007_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      when: [503, 409, 500, 429]\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get:\n"
    "    idempotency: natural\n"
    "    retryable: [503, timeout, overloaded]\n",
    NULL};
static const char r007_expect[] =
    "a.yaml:7:19: error[R007]: retry.when lists 409 (Conflict), a definitive "
    "answer: a retry gets the same answer and only adds load\n"
    "  fix: remove 409 from retry.when\n"
    "a.yaml:7:24: error[R007]: retry.when lists 500, but b.get declares only "
    "503, timeout, overloaded as safe to retry\n"
    "  fix: remove 500 from retry.when, or have b declare it in retryable\n";

/* R007 silent: only declared outcomes */
static const char *const r007_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      when: [503, timeout, 429]\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get:\n"
    "    idempotency: natural\n"
    "    retryable: [503, timeout, overloaded]\n",
    NULL};
static const char r007_clean_expect[] = "";

/* R008: 3 attempts without budget vs 0.1 */
static const char *const r008_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry: {attempts: 3}\n"
    "  - to: b.get2\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      budget: {kind: ratio, ratio: 0.5}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, max_retry_ratio: 0.1}\n"
    "  get2: {idempotency: natural, max_retry_ratio: 0.1}\n",
    NULL};
static const char r008_expect[] =
    "a.yaml:5:23: error[R008]: a may send 2 retries per request (3 attempts "
    "and no budget), but b.get tolerates at most 0.1\n"
    "  fix: add budget: {kind: ratio, ratio: 0.1} (or lower), or agree a "
    "higher max_retry_ratio with b\n"
    "a.yaml:9:36: error[R008]: a may send 0.5 retries per request (its ratio "
    "budget), but b.get2 tolerates at most 0.1\n"
    "  fix: add budget: {kind: ratio, ratio: 0.1} (or lower), or agree a "
    "higher max_retry_ratio with b\n";

/* R008 silent: ratio budget 0.1 */
static const char *const r008_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.get\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      budget: {kind: ratio, ratio: 0.1}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, max_retry_ratio: 0.1}\n"
    "  get2: {idempotency: natural, max_retry_ratio: 0.1}\n",
    NULL};
static const char r008_clean_expect[] = "";

/* R009: pinned old version, with what changed */
static const char *const r009_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.pay\n"
    "    key: originate\n"
    "    pin_version: 2024-01-01\n"
    "  - to: b.refund\n"
    "    key: originate\n"
    "    pin_version: 2023-12-01\n",
    "b-old.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 7d, timeout: 5s}\n"
    "  refund: {idempotency: key, key_ttl: 7d}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-03-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 24h, timeout: 2s}\n"
    "  refund: {idempotency: key, key_ttl: 7d}\n",
    NULL};
static const char r009_expect[] =
    "a.yaml:6:18: warning[R009]: a pins b 2024-01-01 but the current contract "
    "is 2024-03-01; changed: pay.key_ttl 7d -> 24h; pay.timeout 5s -> 2s\n"
    "  fix: review the changes, then set pin_version: 2024-03-01\n"
    "a.yaml:9:18: warning[R009]: a pins b 2023-12-01 but the current contract "
    "is 2024-03-01, and 2023-12-01 is not among the checked files, so what "
    "changed is unknown\n"
    "  fix: review the changes, then set pin_version: 2024-03-01\n";

/* R009 silent: pinned the current version */
static const char *const r009_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.pay\n"
    "    key: originate\n"
    "    pin_version: 2024-03-01\n",
    "b-old.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 7d, timeout: 5s}\n"
    "  refund: {idempotency: key, key_ttl: 7d}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-03-01\n"
    "operations:\n"
    "  pay: {idempotency: key, key_ttl: 24h, timeout: 2s}\n"
    "  refund: {idempotency: key, key_ttl: 7d}\n",
    NULL};
static const char r009_clean_expect[] = "";

/* R010: 2s attempt timeout vs 2s callee timeout */
static const char *const r010_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    timeout: 2s\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r010_expect[] =
    "a.yaml:5:14: warning[R010]: per-attempt timeout 2s is not below reg.get's "
    "own timeout 2s: reg can still be working when it was already given up on, "
    "and a retry doubles that wasted work\n"
    "  fix: set timeout below 2s (e.g. 1.6s), or lower reg.get's timeout\n";

/* R010 silent: 1500ms */
static const char *const r010_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: reg.get\n"
    "    timeout: 1500ms\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char r010_clean_expect[] = "";

/* R011: hedging past capacity; with a fleet budget it is clean; a keyed
 * operation hedged without the key, a non-idempotent one hedged */
static const char *const r011_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "instances: 4\n"
    "calls:\n"
    "  - to: b.get\n"
    "    rate: 100/s\n"
    "    retry:\n"
    "      attempts: 1\n"
    "      hedge: {attempts: 3, delay: 30ms}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "capacity: 500/s\n"
    "operations:\n"
    "  get: {idempotency: natural}\n"
    "  put: {idempotency: key, key_ttl: 24h}\n"
    "  del: {idempotency: none}\n",
    NULL};
static const char r011_expect[] =
    "b.yaml:3:11: error[R011]: when b slows down past its callers' hedge delay, every call is hedged: 1,200/s against a capacity of 500/s (400/s normally), and the hedges keep it slow\n"
    "  fix: give the hedging callers a retry budget shared by the fleet (it pays for hedges: budget: {kind: ratio, ratio: 0.1, scope: fleet}), fewer hedge attempts, or capacity above 1,200/s\n"
    "  note: a.yaml:9:14: a: 4 x 100/s hedged up to 3 attempts = 1,200/s (no budget)\n";

static const char *const r011_budget_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "instances: 4\n"
    "calls:\n"
    "  - to: b.get\n"
    "    rate: 100/s\n"
    "    retry:\n"
    "      attempts: 1\n"
    "      hedge: {attempts: 3, delay: 30ms}\n"
    "      budget: {kind: ratio, ratio: 0.1, scope: fleet}\n"
    "  - to: b.put\n"
    "    key: originate\n"
    "    retry:\n"
    "      attempts: 1\n"
    "      hedge: {attempts: 2, delay: 30ms}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "capacity: 500/s\n"
    "operations:\n"
    "  get: {idempotency: natural}\n"
    "  put: {idempotency: key, key_ttl: 24h}\n"
    "  del: {idempotency: none}\n",
    NULL};
static const char r011_budget_expect[] =
    "";

static const char *const r011_key_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: b.put\n"
    "    retry:\n"
    "      attempts: 1\n"
    "      hedge: {attempts: 2, delay: 30ms}\n"
    "  - to: b.del\n"
    "    retry:\n"
    "      attempts: 1\n"
    "      hedge: {attempts: 2, delay: 30ms}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "capacity: 500/s\n"
    "operations:\n"
    "  get: {idempotency: natural}\n"
    "  put: {idempotency: key, key_ttl: 24h}\n"
    "  del: {idempotency: none}\n",
    NULL};
static const char r011_key_expect[] =
    "a.yaml:7:14: error[R011]: a hedges b.put, which deduplicates by idempotency key, but sends no key: a hedge would be a new operation (rein_hedge sends no hedge of a keyless non-idempotent call, so it never runs)\n"
    "  fix: set key: originate (sent in Idempotency-Key)\n"
    "a.yaml:11:14: error[R011]: a hedges b.del (up to 2 attempts at once), which is not idempotent (idempotency: none): a hedge runs it a second time while the first may still be running\n"
    "  fix: remove the hedge, or give b.del idempotency: key and send it (key: originate)\n";

/* R012: a caller retrying 503 from a shedding callee, honouring neither
 * Retry-After nor Rein-Dont-Retry */
#define R012_LEDGER                                                            \
  "ledger.yaml",                                                               \
      "service: ledger\n"                                                      \
      "version: 2024-01-01\n"                                                  \
      "operations:\n"                                                          \
      "  charge: {idempotency: natural}\n"                                     \
      "server:\n"                                                              \
      "  admission: {limit: 4, queue: 32}\n"
static const char *const r012_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ledger.charge\n"
    "    retry: {attempts: 3, when: [503], signals: [pushback]}\n",
    R012_LEDGER, NULL};
static const char r012_expect[] =
    "a.yaml:5:12: warning[R012]: retries ledger's shed answers (503) but "
    "does not honour retry-after, dont-retry: ledger sheds at its proxy with "
    "Retry-After (its drain time) and Rein-Dont-Retry (dont_retry: "
    "overloaded), so this caller's retries come back on its own backoff into "
    "the overload being shed, including those it was told not to retry\n"
    "  fix: add retry-after, dont-retry to retry.signals (or stop retrying "
    "503)\n"
    "  note: ledger.yaml:6:14: ledger's server.admission (zone ledger)\n";

/* R012: dont_retry never: only Retry-After matters; no `when`: the
 * defaults retry 503 */
static const char *const r012_never_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ledger.charge\n"
    "    retry: {attempts: 2, signals: [dont-retry]}\n",
    "ledger.yaml",
    "service: ledger\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  charge: {idempotency: natural}\n"
    "server:\n"
    "  admission: {limit: 4, dont_retry: never}\n",
    NULL};
static const char r012_never_expect[] =
    "a.yaml:5:12: warning[R012]: retries ledger's shed answers (503) but "
    "does not honour retry-after: ledger sheds at its proxy with Retry-After "
    "(its drain time), so this caller's retries come back on its own backoff "
    "into the overload being shed\n"
    "  fix: add retry-after to retry.signals (or stop retrying 503)\n"
    "  note: ledger.yaml:6:14: ledger's server.admission (zone ledger)\n";

/* R012 silent: the signals honoured; a caller that does not retry 503; a
 * caller that does not retry at all */
static const char *const r012_clean_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ledger.charge\n"
    "    retry: {attempts: 3, when: [503], signals: [retry-after, "
    "dont-retry]}\n",
    "b.yaml",
    "service: b\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ledger.charge\n"
    "    retry: {attempts: 3, when: [timeout], signals: []}\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ledger.charge\n",
    R012_LEDGER, NULL};
static const char r012_clean_expect[] = "";

/* R013: a jetstream publish retried past the stream's duplicate window:
 * the default 2m against an explicit window, a written 30s against the
 * worst-case schedule */
static const char *const r013_jetstream_files[] = {
    "relay.yaml",
    "service: relay\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: ship.placed\n"
    "    broker: {kind: jetstream}\n"
    "    retry: {attempts: 10, window: 5m}\n"
    "  - to: ship.cancelled\n"
    "    broker: {kind: jetstream, duplicate_window: 30s}\n"
    "    timeout: 10s\n"
    "    retry: {attempts: 4, backoff: {base: 1s, cap: 10s}}\n",
    "ship.yaml",
    "service: ship\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  placed: {broker: {kind: jetstream}}\n"
    "  cancelled: {broker: {kind: jetstream}}\n",
    NULL};
static const char r013_jetstream_expect[] =
    "relay.yaml:6:35: error[R013]: relay publishes to ship.placed through "
    "jetstream with retries for up to 5m (retry.window), but the stream "
    "deduplicates Nats-Msg-Id for 2m (the nats-server default): a re-publish "
    "after 2m is a duplicate the broker keeps\n"
    "  fix: raise the stream's duplicate_window to at least 5m (and "
    "broker.duplicate_window with it), bound the retries to 2m (retry.window: "
    "2m), or give ship.placed an inbox that deduplicates by a message id set "
    "once per message (its broker: {kind: jetstream, inbox: true})\n"
    "  note: relay.yaml:5:13: the stream's duplicate_window: 2m (not written: "
    "nats-server's default)\n"
    "relay.yaml:10:12: error[R013]: relay publishes to ship.cancelled through "
    "jetstream with retries for up to 47s (4 attempts x 10s timeout + 7s "
    "backoff), but the stream deduplicates Nats-Msg-Id for 30s: a re-publish "
    "after 30s is a duplicate the broker keeps\n"
    "  fix: raise the stream's duplicate_window to at least 47s (and "
    "broker.duplicate_window with it), bound the retries to 30s (retry.window: "
    "30s), or give ship.cancelled an inbox that deduplicates by a message id "
    "set once per message (its broker: {kind: jetstream, inbox: true})\n"
    "  note: relay.yaml:8:49: the stream's duplicate_window: 30s\n";

/* R013: brokers that cannot deduplicate what the caller re-publishes */
static const char *const r013_nodedup_files[] = {
    "p.yaml",
    "service: p\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: c.a\n"
    "    broker: {kind: kafka}\n"
    "    timeout: 1s\n"
    "    retry: {attempts: 3, backoff: {base: 100ms, cap: 1s}}\n"
    "  - to: c.b\n"
    "    broker: {kind: kafka, idempotent_producer: true}\n"
    "    retry: {attempts: 2, window: 1m}\n"
    "  - to: c.c\n"
    "    broker: {kind: rabbitmq}\n"
    "    retry: {attempts: 2, window: 10s}\n"
    "  - to: c.d\n"
    "    broker: {kind: redis-streams}\n"
    "    retry: {attempts: 2, window: 10s}\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  a: {}\n"
    "  b: {}\n"
    "  c: {}\n"
    "  d: {}\n",
    NULL};
static const char r013_nodedup_expect[] =
    "p.yaml:7:12: error[R013]: p re-publishes to c.a through kafka for up to "
    "3.3s (3 attempts x 1s timeout + 300ms backoff) without an idempotent "
    "producer (idempotent_producer: not set): the broker cannot deduplicate "
    "re-publishes, so a retry after a lost acknowledgement writes the record "
    "twice\n"
    "  fix: give c.a an inbox that deduplicates by a message id set once per "
    "message (its broker: {kind: kafka, inbox: true}); set "
    "idempotent_producer: true (enable.idempotence=true) for the producer's "
    "own resends\n"
    "  note: p.yaml:5:20: broker: kind kafka\n"
    "p.yaml:10:12: error[R013]: p re-publishes to c.b through kafka for up to "
    "1m (retry.window), but kafka's idempotent producer deduplicates only the "
    "producer's own resends within one producer session (producer id and "
    "epoch): a re-publish by the caller is a new record, and a producer "
    "restart starts a new session\n"
    "  fix: give c.b an inbox that deduplicates by a message id set once per "
    "message (its broker: {kind: kafka, inbox: true}), or set attempts: 1 and "
    "leave resends to the producer (delivery.timeout.ms)\n"
    "  note: p.yaml:9:48: broker: kind kafka, idempotent_producer: true\n"
    "p.yaml:13:12: error[R013]: p re-publishes to c.c through rabbitmq for up "
    "to 10s (retry.window), but rabbitmq does not deduplicate published "
    "messages: a retry after a lost publisher confirm is a second message the "
    "broker delivers\n"
    "  fix: give c.c an inbox that deduplicates by a message id set once per "
    "message (its broker: {kind: rabbitmq, inbox: true}), or set attempts: 1\n"
    "  note: p.yaml:12:20: broker: kind rabbitmq\n"
    "p.yaml:16:12: error[R013]: p re-publishes to c.d through redis-streams "
    "for up to 10s (retry.window), but redis-streams does not deduplicate "
    "published messages: a retry after a lost XADD reply is a second message "
    "the broker delivers\n"
    "  fix: give c.d an inbox that deduplicates by a message id set once per "
    "message (its broker: {kind: redis-streams, inbox: true}), or set "
    "attempts: 1\n"
    "  note: p.yaml:15:20: broker: kind redis-streams\n";

/* R013: consumers with inbox: false on each broker; idempotency: natural
 * or key excuses one */
static const char *const r013_consumer_files[] = {
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  a: {broker: {kind: jetstream, inbox: false}}\n"
    "  b: {broker: {kind: kafka, inbox: false}}\n"
    "  c: {broker: {kind: rabbitmq, inbox: false}}\n"
    "  d: {broker: {kind: redis-streams, inbox: false}}\n"
    "  e: {idempotency: natural, broker: {kind: kafka, inbox: false}}\n"
    "  f: {broker: {kind: kafka}}\n",
    "p.yaml",
    "service: p\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: c.a\n"
    "    broker: {kind: jetstream}\n",
    NULL};
static const char r013_consumer_expect[] =
    "c.yaml:4:40: error[R013]: c.a consumes from jetstream without an inbox "
    "(inbox: false) and is not declared idempotent: jetstream delivers at "
    "least once (a message not acknowledged within the consumer's ack_wait is "
    "delivered again), so every redelivery runs it again\n"
    "  fix: set inbox: true and deduplicate by message id before the effect "
    "(rein/inbox.h), or make a idempotent and declare idempotency: natural\n"
    "  note: p.yaml:4:5: p publishes to it through jetstream\n"
    "c.yaml:5:36: error[R013]: c.b consumes from kafka without an inbox "
    "(inbox: false) and is not declared idempotent: kafka delivers at least "
    "once (a consumer that fails or rebalances before committing its offset "
    "reads the records again), so every redelivery runs it again\n"
    "  fix: set inbox: true and deduplicate by message id before the effect "
    "(rein/inbox.h), or make b idempotent and declare idempotency: natural\n"
    "c.yaml:6:39: error[R013]: c.c consumes from rabbitmq without an inbox "
    "(inbox: false) and is not declared idempotent: rabbitmq delivers at least "
    "once (a message unacknowledged when its channel closes is requeued and "
    "delivered again), so every redelivery runs it again\n"
    "  fix: set inbox: true and deduplicate by message id before the effect "
    "(rein/inbox.h), or make c idempotent and declare idempotency: natural\n"
    "c.yaml:7:44: error[R013]: c.d consumes from redis-streams without an "
    "inbox (inbox: false) and is not declared idempotent: redis-streams "
    "delivers at least once (a pending entry another consumer claims with "
    "XCLAIM or XAUTOCLAIM is delivered again), so every redelivery runs it "
    "again\n"
    "  fix: set inbox: true and deduplicate by message id before the effect "
    "(rein/inbox.h), or make d idempotent and declare idempotency: natural\n";

/* R013 silent: the window covered, one attempt, a consumer that absorbs
 * duplicates (inbox, natural, a key it receives), a direct call */
static const char *const r013_clean_files[] = {
    "p.yaml",
    "service: p\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: c.a\n"
    "    broker: {kind: jetstream, duplicate_window: 6m}\n"
    "    retry: {attempts: 10, window: 5m}\n"
    "  - to: c.b\n"
    "    broker: {kind: jetstream}\n"
    "    retry: {attempts: 10, window: 2m}\n"
    "  - to: c.c\n"
    "    broker: {kind: rabbitmq}\n"
    "  - to: c.d\n"
    "    broker: {kind: kafka, idempotent_producer: false}\n"
    "    retry: {attempts: 3, window: 1h}\n"
    "  - to: c.e\n"
    "    broker: {kind: rabbitmq}\n"
    "    retry: {attempts: 3, window: 1h}\n"
    "  - to: c.f\n"
    "    broker: {kind: redis-streams}\n"
    "    retry: {attempts: 3, window: 1h}\n"
    "    key: originate\n"
    "  - to: c.g\n"
    "    retry: {attempts: 3, window: 1h}\n",
    "c.yaml",
    "service: c\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  a: {broker: {kind: jetstream}}\n"
    "  b: {broker: {kind: jetstream}}\n"
    "  c: {broker: {kind: rabbitmq, inbox: false}, idempotency: natural}\n"
    "  d: {broker: {kind: kafka, inbox: true}}\n"
    "  e: {idempotency: natural}\n"
    "  f: {idempotency: key, key_ttl: 2h}\n"
    "  g: {}\n",
    NULL};
static const char r013_clean_expect[] = "";

/* --disable R003,R005 silences both */
static const char *const disable_files[] = {"w.yaml",
                                            "service: w\n"
                                            "version: 2024-01-01\n"
                                            "instances: 400\n"
                                            "calls:\n"
                                            "  - to: s.op\n"
                                            "    rate: 5/s\n"
                                            "    retry:\n"
                                            "      attempts: 3\n"
                                            "      backoff: {jitter: none}\n",
                                            "s.yaml",
                                            "service: s\n"
                                            "version: 2024-01-01\n"
                                            "capacity: 100/s\n"
                                            "operations:\n"
                                            "  op: {idempotency: natural}\n",
                                            NULL};
static const char disable_expect[] = "";

/* E007: unknown service and operation, with did-you-mean */
static const char *const e007_files[] = {
    "a.yaml",
    "service: a\n"
    "version: 2024-01-01\n"
    "calls:\n"
    "  - to: reg.gte\n"
    "  - to: nope.x\n"
    "  - to: regg.get\n",
    "reg.yaml",
    "service: reg\n"
    "version: 2024-01-01\n"
    "operations:\n"
    "  get: {idempotency: natural, timeout: 2s}\n"
    "  list: {idempotency: natural, timeout: 2s}\n",
    NULL};
static const char e007_expect[] =
    "a.yaml:4:9: error[E007]: calls[0].to: service 'reg' has no operation "
    "'gte' (did you mean 'get'?)\n"
    "  fix: write to: reg.get\n"
    "a.yaml:5:9: error[E007]: calls[1].to: unknown service 'nope'\n"
    "  fix: add the contract of 'nope' to the checked files, or fix the name\n"
    "a.yaml:6:9: error[E007]: calls[2].to: unknown service 'regg' (did you "
    "mean 'reg'?)\n"
    "  fix: write to: reg.get\n";

static const rule_case cases[] = {
    {"r001_direct", r001_direct_files, 0x0u, 0, r001_direct_expect, 1},
    {"r001_direct_clean", r001_direct_clean_files, 0x0u, 0,
     r001_direct_clean_expect, 0},
    {"r001_chain", r001_chain_files, 0x0u, 0, r001_chain_expect, 1},
    {"r001_chain_broken", r001_chain_broken_files, 0x0u, 0,
     r001_chain_broken_expect, 0},
    {"r001_cycle", r001_cycle_files, 0x0u, 0, r001_cycle_expect, 1},
    {"r002_none", r002_none_files, 0x0u, 0, r002_none_expect, 1},
    {"r002_nokey", r002_nokey_files, 0x0u, 0, r002_nokey_expect, 1},
    {"r002_clean", r002_clean_files, 0x0u, 0, r002_clean_expect, 0},
    {"r003", r003_files, 0x0u, 0, r003_expect, 1},
    {"r003_constant_norate", r003_constant_norate_files, 0x0u, 0,
     r003_constant_norate_expect, 1},
    {"r003_clean", r003_clean_files, 0x0u, 0, r003_clean_expect, 0},
    {"r004", r004_files, 0x0u, 0, r004_expect, 1},
    {"r004_clean", r004_clean_files, 0x0u, 0, r004_clean_expect, 0},
    {"r004_threshold", r004_threshold_files, 0x0u, 30, r004_threshold_expect,
     0},
    {"r004_cycle", r004_cycle_files, 0x0u, 0, r004_cycle_expect, 1},
    {"r004_passthrough_layer", r004_passthrough_layer_files, 0x0u, 0,
     r004_passthrough_layer_expect, 1},
    {"r005", r005_files, 0x0u, 0, r005_expect, 1},
    {"r005_instance_budget", r005_instance_budget_files, 0x0u, 0,
     r005_instance_budget_expect, 1},
    {"r005_clean", r005_clean_files, 0x0u, 0, r005_clean_expect, 0},
    {"r006", r006_files, 0x0u, 0, r006_expect, 1},
    {"r006_clean", r006_clean_files, 0x0u, 0, r006_clean_expect, 0},
    {"r007", r007_files, 0x0u, 0, r007_expect, 1},
    {"r007_clean", r007_clean_files, 0x0u, 0, r007_clean_expect, 0},
    {"r008", r008_files, 0x0u, 0, r008_expect, 1},
    {"r008_clean", r008_clean_files, 0x0u, 0, r008_clean_expect, 0},
    {"r009", r009_files, 0x0u, 0, r009_expect, 0},
    {"r009_clean", r009_clean_files, 0x0u, 0, r009_clean_expect, 0},
    {"r010", r010_files, 0x0u, 0, r010_expect, 0},
    {"r010_clean", r010_clean_files, 0x0u, 0, r010_clean_expect, 0},
    {"r011", r011_files, 0x0u, 0, r011_expect, 1},
    {"r011_budget", r011_budget_files, 0x0u, 0, r011_budget_expect, 0},
    {"r011_key", r011_key_files, 0x0u, 0, r011_key_expect, 1},
    {"r012", r012_files, 0x0u, 0, r012_expect, 0},
    {"r012_never", r012_never_files, 0x0u, 0, r012_never_expect, 0},
    {"r012_clean", r012_clean_files, 0x0u, 0, r012_clean_expect, 0},
    {"r013_jetstream", r013_jetstream_files, 0x0u, 0, r013_jetstream_expect, 1},
    {"r013_nodedup", r013_nodedup_files, 0x0u, 0, r013_nodedup_expect, 1},
    {"r013_consumer", r013_consumer_files, 0x0u, 0, r013_consumer_expect, 1},
    {"r013_clean", r013_clean_files, 0x0u, 0, r013_clean_expect, 0},
    {"disable", disable_files, 0x28u, 0, disable_expect, 0},
    {"e007", e007_files, 0x0u, 0, e007_expect, 1},
};

static rein_contract_set *load_case(const rule_case *c,
                                    const rein_allocator *a) {
  rein_contract_config cfg;
  rein_contract_config_default(&cfg);
  cfg.alloc = a;
  rein_contract_set *s = NULL;
  if (rein_contract_set_new(&cfg, &s) != REIN_OK) return NULL;
  for (size_t i = 0; c->files[i]; i += 2) {
    rein_status st = rein_contract_add_buffer(s, c->files[i], c->files[i + 1],
                                              strlen(c->files[i + 1]));
    if (st != REIN_OK) {
      rein_contract_set_free(s);
      return NULL;
    }
  }
  return s;
}

static rein_status check_case(rein_contract_set *s, const rule_case *c) {
  rein_contract_check_opts o;
  rein_contract_check_opts_default(&o);
  o.disabled = c->disabled;
  if (c->max_amp > 0) o.max_amplification = c->max_amp;
  return rein_contract_check(s, &o);
}

static char *render(const rein_contract_set *s, rein_contract_format f) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  assert_non_null(m);
  assert_int_equal(rein_contract_write(s, f, m), REIN_OK);
  fclose(m);
  return buf;
}

static void run_case(const rule_case *c) {
  rein_contract_set *s = load_case(c, NULL);
  assert_non_null(s);
  assert_int_equal(check_case(s, c), REIN_OK);
  char *text = render(s, REIN_CONTRACT_FORMAT_TEXT);
  if (strcmp(text, c->expect) != 0)
    fprintf(stderr, "case %s: got\n%s\nexpected\n%s\n", c->name, text,
            c->expect);
  assert_string_equal(text, c->expect);
  free(text);
  assert_int_equal(rein_contract_count(s, REIN_CONTRACT_ERROR) ? 1 : 0,
                   c->exit_code);
  assert_false(rein_contract_has_load_errors(s));
  /* checking again adds nothing */
  size_t n = rein_contract_diag_count(s);
  assert_int_equal(check_case(s, c), REIN_OK);
  assert_int_equal(rein_contract_diag_count(s), n);
  rein_contract_set_free(s);
}

static const rule_case *find_case(const char *name) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    if (strcmp(cases[i].name, name) == 0) return &cases[i];
  fail_msg("no case %s", name);
  return NULL;
}

static void test_json_and_sarif(void **st) {
  (void)st;
  const rule_case *c = find_case("r001_chain");
  rein_contract_set *s = load_case(c, NULL);
  assert_int_equal(check_case(s, c), REIN_OK);
  char *j = render(s, REIN_CONTRACT_FORMAT_JSON);
  assert_non_null(strstr(j, "{\"rule\":\"R001\",\"severity\":\"error\","
                            "\"location\":{\"file\":\"c.yaml\",\"line\":4,"
                            "\"column\":39},"));
  assert_non_null(strstr(j, "\"related\":[{\"location\":{\"file\":\"a.yaml\","
                            "\"line\":5,\"column\":34},\"message\":\"a "
                            "retries b.pay for up to 72h (key: originate)\"}"));
  assert_non_null(strstr(j, "\"summary\":{\"contracts\":3,\"errors\":1,"
                            "\"warnings\":0,\"notes\":0}}"));
  free(j);
  char *sf = render(s, REIN_CONTRACT_FORMAT_SARIF);
  assert_non_null(strstr(sf, "\"version\":\"2.1.0\""));
  assert_non_null(strstr(sf, "{\"id\":\"R010\",\"name\":"
                             "\"attempt-timeout-not-below-callee\""));
  assert_non_null(strstr(sf, "\n{\"ruleId\":\"R001\",\"ruleIndex\":0,"
                             "\"level\":\"error\","
                             "\"message\":{\"text\":\"c.charge keeps"));
  assert_non_null(strstr(sf, "\"locations\":[{\"physicalLocation\":{"
                             "\"artifactLocation\":{\"uri\":\"c.yaml\","
                             "\"uriBaseId\":\"%SRCROOT%\"},"
                             "\"region\":{\"startLine\":4,\"startColumn\":"
                             "39}}}],\"relatedLocations\":[{\"id\":1,"));
  /* GitHub code scanning: every rule has fullDescription and help, the
   * tool its version (Multitool --rule-kind Gh, test sarif_github). */
  assert_non_null(strstr(sf, "\"semanticVersion\":\"" REIN_VERSION_STRING "\""));
  assert_non_null(strstr(sf, "{\"id\":\"E008\",\"name\":\"unreadable-file\","));
  size_t nfull = 0, nhelp = 0;
  for (const char *p = sf; (p = strstr(p, "\"fullDescription\":{\"text\":\"")); p++) nfull++;
  for (const char *p = sf; (p = strstr(p, "\"help\":{\"text\":\"")); p++) nhelp++;
  /* rules R001.. and E001..E008 */
  assert_true(nfull >= REIN_CONTRACT_RULE_COUNT + 8);
  assert_int_equal(nfull, nhelp);
  free(sf);
  rein_contract_format f;
  assert_int_equal(rein_contract_format_parse("sarif", &f), REIN_OK);
  assert_int_equal(f, REIN_CONTRACT_FORMAT_SARIF);
  assert_int_equal(rein_contract_format_parse("xml", &f), REIN_EINVAL);
  rein_contract_set_free(s);
}

static void test_rule_catalogue(void **st) {
  (void)st;
  for (int n = 1; n <= REIN_CONTRACT_RULE_COUNT; n++) {
    const rein_contract_rule_info *r = rein_contract_rule_n(n);
    char id[8];
    snprintf(id, sizeof id, "R%03d", n);
    assert_string_equal(r->id, id);
    assert_ptr_equal(rein_contract_rule(id), r);
    assert_true(strlen(r->explain) > 100);
  }
  assert_ptr_equal(rein_contract_rule("r004"), rein_contract_rule_n(4));
  assert_int_equal(rein_contract_rule("R009")->severity, REIN_CONTRACT_WARNING);
  assert_int_equal(rein_contract_rule("R001")->severity, REIN_CONTRACT_ERROR);
  assert_string_equal(rein_contract_rule("E003")->name, "unknown-field");
  assert_null(rein_contract_rule("R014"));
  assert_null(rein_contract_rule_n(0));
  assert_null(rein_contract_rule(NULL));
}

static void test_ttl_table(void **st) {
  (void)st;
  const rule_case *c = find_case("r001_chain");
  rein_contract_set *s = load_case(c, NULL);
  const rein_contract_ttl *t;
  size_t n;
  assert_int_equal(rein_contract_ttls(s, &t, &n), REIN_OK);
  assert_int_equal(n, 2);
  assert_string_equal(t[0].service, "b");
  assert_string_equal(t[0].operation, "pay");
  assert_int_equal(t[0].declared_ns, INT64_C(30) * 86400 * 1000000000);
  assert_int_equal(t[0].required_ns, INT64_C(72) * 3600 * 1000000000);
  assert_string_equal(t[0].chain, "a (72h) -> b.pay");
  assert_string_equal(t[1].service, "c");
  assert_int_equal(t[1].declared_ns, INT64_C(24) * 3600 * 1000000000);
  assert_int_equal(t[1].required_ns, (INT64_C(72) * 3600 + 30) * 1000000000);
  assert_string_equal(t[1].chain, "a (72h) -> b (30s) -> c.charge");
  assert_string_equal(t[1].loc.file, "c.yaml");
  assert_int_equal(t[1].loc.line, 4);
  rein_contract_set_free(s);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  const rule_case *c = ctx;
  rein_contract_set *s = load_case(c, a);
  if (!s) return -1;
  int rc = 0;
  if (check_case(s, c) != REIN_OK) rc = -1;
  const rein_contract_ttl *t;
  size_t n;
  if (!rc && rein_contract_ttls(s, &t, &n) != REIN_OK) rc = -1;
  if (!rc) {
    char *text = render(s, REIN_CONTRACT_FORMAT_TEXT);
    if (strcmp(text, c->expect) != 0) rc = -2;
    free(text);
  }
  rein_contract_set_free(s);
  return rc; /* -2: a wrong answer, which fails the loop too */
}

static void test_fault_loop(void **st) {
  (void)st;
  const char *names[] = {"r001_chain", "r004",           "r005_instance_budget",
                         "r009",       "r013_jetstream", "r013_consumer"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    rein_test_fault_loop(fault_body, (void *)find_case(names[i]));
  /* and with no failure the answer is exact */
  rein_test_alloc ta;
  rein_test_alloc_init(&ta, -1);
  const rule_case *c = find_case("r004");
  rein_contract_set *s = load_case(c, &ta.a);
  assert_int_equal(check_case(s, c), REIN_OK);
  char *text = render(s, REIN_CONTRACT_FORMAT_TEXT);
  assert_string_equal(text, c->expect);
  free(text);
  rein_contract_set_free(s);
  assert_int_equal(ta.live, 0);
}

static void test_null_args(void **st) {
  (void)st;
  assert_int_equal(rein_contract_check(NULL, NULL), REIN_EINVAL);
  assert_int_equal(rein_contract_set_new(NULL, NULL), REIN_EINVAL);
  assert_int_equal(rein_contract_diag_count(NULL), 0);
  assert_null(rein_contract_diag_at(NULL, 0));
  rein_contract_set_free(NULL);
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, NULL, "", 0), REIN_EINVAL);
  assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
  assert_int_equal(rein_contract_diag_count(s), 0);
  assert_null(rein_contract_diag_at(s, 0));
  rein_contract_set_free(s);
}

static void test_r001_direct(void **st) {
  (void)st;
  run_case(find_case("r001_direct"));
}

static void test_r001_direct_clean(void **st) {
  (void)st;
  run_case(find_case("r001_direct_clean"));
}

static void test_r001_chain(void **st) {
  (void)st;
  run_case(find_case("r001_chain"));
}

static void test_r001_chain_broken(void **st) {
  (void)st;
  run_case(find_case("r001_chain_broken"));
}

static void test_r001_cycle(void **st) {
  (void)st;
  run_case(find_case("r001_cycle"));
}

static void test_r002_none(void **st) {
  (void)st;
  run_case(find_case("r002_none"));
}

static void test_r002_nokey(void **st) {
  (void)st;
  run_case(find_case("r002_nokey"));
}

static void test_r002_clean(void **st) {
  (void)st;
  run_case(find_case("r002_clean"));
}

static void test_r003(void **st) {
  (void)st;
  run_case(find_case("r003"));
}

static void test_r003_constant_norate(void **st) {
  (void)st;
  run_case(find_case("r003_constant_norate"));
}

static void test_r003_clean(void **st) {
  (void)st;
  run_case(find_case("r003_clean"));
}

static void test_r004(void **st) {
  (void)st;
  run_case(find_case("r004"));
}

static void test_r004_clean(void **st) {
  (void)st;
  run_case(find_case("r004_clean"));
}

static void test_r004_threshold(void **st) {
  (void)st;
  run_case(find_case("r004_threshold"));
}

static void test_r004_cycle(void **st) {
  (void)st;
  run_case(find_case("r004_cycle"));
}

static void test_r004_passthrough_layer(void **st) {
  (void)st;
  run_case(find_case("r004_passthrough_layer"));
}

static void test_r005(void **st) {
  (void)st;
  run_case(find_case("r005"));
}

static void test_r005_instance_budget(void **st) {
  (void)st;
  run_case(find_case("r005_instance_budget"));
}

static void test_r005_clean(void **st) {
  (void)st;
  run_case(find_case("r005_clean"));
}

static void test_r006(void **st) {
  (void)st;
  run_case(find_case("r006"));
}

static void test_r006_clean(void **st) {
  (void)st;
  run_case(find_case("r006_clean"));
}

static void test_r007(void **st) {
  (void)st;
  run_case(find_case("r007"));
}

static void test_r007_clean(void **st) {
  (void)st;
  run_case(find_case("r007_clean"));
}

static void test_r008(void **st) {
  (void)st;
  run_case(find_case("r008"));
}

static void test_r008_clean(void **st) {
  (void)st;
  run_case(find_case("r008_clean"));
}

static void test_r009(void **st) {
  (void)st;
  run_case(find_case("r009"));
}

static void test_r009_clean(void **st) {
  (void)st;
  run_case(find_case("r009_clean"));
}

static void test_r010(void **st) {
  (void)st;
  run_case(find_case("r010"));
}

static void test_r010_clean(void **st) {
  (void)st;
  run_case(find_case("r010_clean"));
}

static void test_r011(void **st) {
  (void)st;
  run_case(find_case("r011"));
  run_case(find_case("r011_budget"));
  run_case(find_case("r011_key"));
}

static void test_r012(void **st) {
  (void)st;
  run_case(find_case("r012"));
}

static void test_r012_never(void **st) {
  (void)st;
  run_case(find_case("r012_never"));
}

static void test_r013_jetstream(void **st) {
  (void)st;
  run_case(find_case("r013_jetstream"));
}

static void test_r013_nodedup(void **st) {
  (void)st;
  run_case(find_case("r013_nodedup"));
}

static void test_r013_consumer(void **st) {
  (void)st;
  run_case(find_case("r013_consumer"));
}

static void test_r013_clean(void **st) {
  (void)st;
  run_case(find_case("r013_clean"));
}

static void test_r012_clean(void **st) {
  (void)st;
  run_case(find_case("r012_clean"));
}


static void test_disable(void **st) {
  (void)st;
  run_case(find_case("disable"));
}

static void test_e007(void **st) {
  (void)st;
  run_case(find_case("e007"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_r001_direct),
      cmocka_unit_test(test_r001_direct_clean),
      cmocka_unit_test(test_r001_chain),
      cmocka_unit_test(test_r001_chain_broken),
      cmocka_unit_test(test_r001_cycle),
      cmocka_unit_test(test_r002_none),
      cmocka_unit_test(test_r002_nokey),
      cmocka_unit_test(test_r002_clean),
      cmocka_unit_test(test_r003),
      cmocka_unit_test(test_r003_constant_norate),
      cmocka_unit_test(test_r003_clean),
      cmocka_unit_test(test_r004),
      cmocka_unit_test(test_r004_clean),
      cmocka_unit_test(test_r004_threshold),
      cmocka_unit_test(test_r004_cycle),
      cmocka_unit_test(test_r004_passthrough_layer),
      cmocka_unit_test(test_r005),
      cmocka_unit_test(test_r005_instance_budget),
      cmocka_unit_test(test_r005_clean),
      cmocka_unit_test(test_r006),
      cmocka_unit_test(test_r006_clean),
      cmocka_unit_test(test_r007),
      cmocka_unit_test(test_r007_clean),
      cmocka_unit_test(test_r008),
      cmocka_unit_test(test_r008_clean),
      cmocka_unit_test(test_r009),
      cmocka_unit_test(test_r009_clean),
      cmocka_unit_test(test_r010),
      cmocka_unit_test(test_r010_clean),
      cmocka_unit_test(test_r011),
      cmocka_unit_test(test_r012),
      cmocka_unit_test(test_r012_never),
      cmocka_unit_test(test_r012_clean),
      cmocka_unit_test(test_r013_jetstream),
      cmocka_unit_test(test_r013_nodedup),
      cmocka_unit_test(test_r013_consumer),
      cmocka_unit_test(test_r013_clean),
      cmocka_unit_test(test_disable),
      cmocka_unit_test(test_e007),
      cmocka_unit_test(test_json_and_sarif),
      cmocka_unit_test(test_rule_catalogue),
      cmocka_unit_test(test_ttl_table),
      cmocka_unit_test(test_fault_loop),
      cmocka_unit_test(test_null_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
