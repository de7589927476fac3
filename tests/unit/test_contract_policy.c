/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contract_policy.c: rein_policy_from_contract: the configs it
 * produces equal what the contract says, field by field, and the core
 * accepts them (rein_budget_new, rein_breaker_new, rein_throttle_new,
 * rein_policy_new), and the resulting policy makes the decisions the
 * contract promises (attempts, retried and non-retried outcomes).
 */
#include "rein_test.h"
#include "rein.h"
#include "rein/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char client[] =
    "service: client\n"
    "version: 2024-06-01\n"
    "instances: 4\n"
    "calls:\n"
    "  - to: ledger.charge\n"
    "    rate: 50/s\n"
    "    timeout: 800ms\n"
    "    deadline: 5s\n"
    "    retry:\n"
    "      attempts: 4\n"
    "      backoff: {kind: exponential, base: 100ms, cap: 1s, jitter: full}\n"
    "      window: 1m\n"
    "      when: [429, 503, timeout, connect-refused]\n"
    "      budget: {kind: ratio, ratio: 0.1, ttl: 10s, min_per_sec: 5,\n"
    "               scope: fleet}\n"
    "      breaker: {failure_rate: 0.5, min_calls: 20, window: 10s,\n"
    "                scope: fleet,\n"
    "                buckets: 10, open: 2s, open_jitter: 0.2,\n"
    "                half_open_probes: 3}\n"
    "      throttle: {k: 2, window: 1m}\n"
    "      signals: [retry-after, pushback, ratelimit, dont-retry]\n"
    "    key: originate\n"
    "  - to: ledger.balance\n"
    "  - to: ledger.balance2\n"
    "    retry:\n"
    "      attempts: 3\n"
    "      budget: {kind: token_bucket, max_tokens: 10, token_ratio: 0.5}\n"
    "      breaker: {window_calls: 50, min_calls: 10, slow_call: 2s,\n"
    "                slow_rate: 0.8}\n"
    "  - to: ledger.refund\n"
    "    retry:\n"
    "      attempts: 2\n"
    "      budget: {kind: quota, capacity: 100, retry_cost: 5,\n"
    "               timeout_retry_cost: 10, success_increment: 1,\n"
    "               scope: instance}\n";

static const char ledger[] =
    "service: ledger\n"
    "version: 2024-06-01\n"
    "capacity: 2000/s\n"
    "operations:\n"
    "  charge:\n"
    "    idempotency: key\n"
    "    key_ttl: 24h\n"
    "    key_header: X-Charge-Key\n"
    "    retryable: [429, 503, timeout, connect-refused]\n"
    "    timeout: 1s\n"
    "  balance:\n"
    "    idempotency: natural\n"
    "    retryable: [5xx]\n"
    "    timeout: 300ms\n"
    "  balance2: {idempotency: natural}\n"
    "  refund: {idempotency: natural}\n";

static rein_contract_set *load(void) {
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(
      rein_contract_add_buffer(s, "client.yaml", client, strlen(client)),
      REIN_OK);
  assert_int_equal(
      rein_contract_add_buffer(s, "ledger.yaml", ledger, strlen(ledger)),
      REIN_OK);
  assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
  return s;
}

#define MS(x) ((int64_t)(x)*1000000)

/* Create every object, as an application would; returns the policy and
 * hands back the parts to free. */
typedef struct built {
  rein_budget *b;
  rein_breaker *br;
  rein_throttle *t;
  rein_policy *p;
} built;

static void build(rein_contract_policy *cp, built *o) {
  memset(o, 0, sizeof *o);
  rein_errbuf eb = {{0}};
  if (cp->has_budget) {
    cp->budget.err = &eb;
    assert_int_equal(rein_budget_new(&cp->budget, &o->b), REIN_OK);
  }
  if (cp->has_breaker) {
    cp->breaker.err = &eb;
    assert_int_equal(rein_breaker_new(&cp->breaker, &o->br), REIN_OK);
  }
  if (cp->has_throttle) {
    cp->throttle.err = &eb;
    assert_int_equal(rein_throttle_new(&cp->throttle, &o->t), REIN_OK);
  }
  rein_policy_config pc = cp->policy;
  pc.budget = o->b;
  pc.breaker = o->br;
  pc.throttle = o->t;
  pc.err = &eb;
  rein_status st = rein_policy_new(&pc, &o->p);
  if (st != REIN_OK) fail_msg("rein_policy_new: %s", eb.msg);
}

static void unbuild(built *o) {
  rein_policy_free(o->p);
  rein_throttle_free(o->t);
  rein_breaker_free(o->br);
  rein_budget_free(o->b);
}

static void test_full_policy(void **st) {
  (void)st;
  rein_contract_set *s = load();
  assert_int_equal(rein_contract_diag_count(s), 0);
  rein_contract_policy cp;
  rein_errbuf eb = {{0}};
  assert_int_equal(
      rein_policy_from_contract(s, "client", "ledger.charge", &cp, &eb),
      REIN_OK);
  const rein_policy_config *p = &cp.policy;
  assert_string_equal(p->name, "ledger.charge");
  assert_int_equal(p->max_attempts, 4);
  assert_int_equal(p->backoff.kind, REIN_BACKOFF_EXPONENTIAL);
  assert_int_equal(p->backoff.jitter, REIN_JITTER_FULL);
  assert_int_equal(p->backoff.base_ns, MS(100));
  assert_int_equal(p->backoff.cap_ns, MS(1000));
  assert_true(p->backoff.multiplier == 2.0);
  assert_int_equal(p->retry_on, REIN_RETRY_ON(REIN_OUTCOME_OVERLOADED) |
                                    REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT) |
                                    REIN_RETRY_ON(REIN_OUTCOME_NOT_SENT));
  assert_int_equal(p->window_ns, MS(60000));
  assert_int_equal(p->attempt_timeout_ns, MS(800));
  assert_false(p->idempotent);
  assert_int_equal(cp.deadline_ns, MS(5000));
  assert_int_equal(cp.key, REIN_CONTRACT_KEY_ORIGINATE);
  assert_string_equal(cp.key_header, "X-Charge-Key");
  assert_int_equal(cp.key_ttl_ns, MS(86400000));
  assert_int_equal(cp.signals, REIN_CONTRACT_SIGNAL_RETRY_AFTER |
                                   REIN_CONTRACT_SIGNAL_PUSHBACK |
                                   REIN_CONTRACT_SIGNAL_RATELIMIT |
                                   REIN_CONTRACT_SIGNAL_DONT_RETRY);
  assert_true(cp.has_budget);
  assert_int_equal(cp.budget.kind, REIN_BUDGET_RATIO);
  assert_true(cp.budget.ratio == 0.1);
  assert_int_equal(cp.budget.ttl_ns, MS(10000));
  assert_true(cp.budget.min_retries_per_sec == 5);
  assert_true(cp.has_breaker);
  assert_int_equal(cp.breaker.window, REIN_BREAKER_WINDOW_TIME);
  assert_int_equal(cp.breaker.window_ns, MS(10000));
  assert_int_equal(cp.breaker.buckets, 10);
  assert_int_equal(cp.breaker.min_calls, 20);
  assert_true(cp.breaker.failure_rate == 0.5);
  assert_int_equal(cp.breaker.open_ns, MS(2000));
  assert_true(cp.breaker.open_jitter == 0.2);
  assert_int_equal(cp.breaker.half_open_probes, 3);
  assert_int_equal(cp.breaker_scope, REIN_CONTRACT_SCOPE_FLEET);
  assert_int_equal(cp.budget_scope, REIN_CONTRACT_SCOPE_FLEET);
  assert_string_equal(cp.fleet_name, "client/ledger.charge");
  assert_true(cp.has_throttle);
  assert_true(cp.throttle.k == 2);
  assert_int_equal(cp.throttle.window_ns, MS(60000));
  assert_string_equal(cp.caller, "client");
  assert_string_equal(cp.callee, "ledger");
  assert_string_equal(cp.operation, "charge");

  /* The core accepts it, and it decides as the contract says. */
  built o;
  build(&cp, &o);
  rein_retry r;
  rein_call_opts opts = {.has_key = true, .seed = 7};
  rein_retry_init(&r, o.p, &opts);
  int64_t now = 1000;
  rein_decision d = rein_retry_begin(&r, now);
  assert_int_equal(d.action, REIN_ATTEMPT);
  assert_int_equal(d.timeout_ns, MS(800));
  rein_outcome fatal = {.kind = REIN_OUTCOME_FATAL};
  d = rein_retry_next(&r, &fatal, now + MS(10));
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  /* a 5xx is not in this contract's retry.when either */
  rein_retry_init(&r, o.p, &opts);
  d = rein_retry_begin(&r, now);
  rein_outcome fail = {.kind = REIN_OUTCOME_FAILURE};
  d = rein_retry_next(&r, &fail, now + MS(10));
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  /* timeouts are retried: 4 attempts, then MAX_ATTEMPTS */
  rein_retry_init(&r, o.p, &opts);
  d = rein_retry_begin(&r, now);
  rein_outcome to = {.kind = REIN_OUTCOME_TIMEOUT};
  uint32_t attempts = 1;
  for (int i = 0; i < 10 && d.action != REIN_GIVE_UP; i++) {
    now += MS(100);
    d = rein_retry_next(&r, &to, now);
    if (d.action == REIN_WAIT) {
      now += d.delay_ns;
      d = rein_retry_next(&r, NULL, now);
      if (d.action == REIN_ATTEMPT) attempts++;
    }
  }
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(attempts, 4);
  unbuild(&o);
  rein_contract_set_free(s);
}

static void test_defaults_and_other_budgets(void **st) {
  (void)st;
  rein_contract_set *s = load();
  rein_contract_policy cp;
  assert_int_equal(
      rein_policy_from_contract(s, "client", "ledger.balance", &cp, NULL),
      REIN_OK);
  assert_int_equal(cp.policy.max_attempts, 1);
  assert_true(cp.policy.idempotent);
  /* no retry.when: the callee's retryable list ([5xx]) */
  assert_int_equal(cp.policy.retry_on, REIN_RETRY_ON(REIN_OUTCOME_FAILURE));
  assert_int_equal(cp.policy.attempt_timeout_ns, MS(300)); /* callee's */
  assert_false(cp.has_budget);
  assert_false(cp.has_breaker);
  assert_false(cp.has_throttle);
  assert_int_equal(cp.key, REIN_CONTRACT_KEY_NONE);
  assert_int_equal(cp.key_ttl_ns, 0);
  built o;
  build(&cp, &o);
  unbuild(&o);

  assert_int_equal(
      rein_policy_from_contract(s, "client", "ledger.balance2", &cp, NULL),
      REIN_OK);
  assert_int_equal(cp.policy.retry_on, REIN_RETRY_ON_DEFAULT);
  assert_int_equal(cp.budget.kind, REIN_BUDGET_TOKEN_BUCKET);
  assert_true(cp.budget.max_tokens == 10 && cp.budget.token_ratio == 0.5);
  assert_int_equal(cp.breaker.window, REIN_BREAKER_WINDOW_COUNT);
  assert_int_equal(cp.breaker.window_size, 50);
  assert_int_equal(cp.breaker.slow_call_ns, MS(2000));
  assert_true(cp.breaker.slow_rate == 0.8);
  rein_backoff_config def;
  rein_backoff_config_default(&def);
  assert_memory_equal(&cp.policy.backoff, &def, sizeof def);
  build(&cp, &o);
  unbuild(&o);

  assert_int_equal(
      rein_policy_from_contract(s, "client", "ledger.refund", &cp, NULL),
      REIN_OK);
  assert_int_equal(cp.budget.kind, REIN_BUDGET_QUOTA);
  assert_int_equal(cp.budget.capacity, 100);
  assert_int_equal(cp.budget.retry_cost, 5);
  assert_int_equal(cp.budget.timeout_retry_cost, 10);
  assert_int_equal(cp.budget.success_increment, 1);
  assert_int_equal(cp.budget_scope, REIN_CONTRACT_SCOPE_INSTANCE);
  assert_string_equal(cp.fleet_name, "client/ledger.refund");
  build(&cp, &o);
  unbuild(&o);
  rein_contract_set_free(s);
}

static void test_not_found(void **st) {
  (void)st;
  rein_contract_set *s = load();
  rein_contract_policy cp;
  rein_errbuf eb = {{0}};
  assert_int_equal(
      rein_policy_from_contract(s, "nobody", "ledger.charge", &cp, &eb),
      REIN_ENOTFOUND);
  assert_string_equal(eb.msg, "no contract for service 'nobody'");
  assert_int_equal(
      rein_policy_from_contract(s, "client", "ledger.nope", &cp, &eb),
      REIN_ENOTFOUND);
  assert_string_equal(eb.msg, "client (version 2024-06-01) has no call to "
                              "'ledger.nope'; its calls: ledger.charge, "
                              "ledger.balance, ledger.balance2, ledger.refund");
  assert_int_equal(rein_policy_from_contract(NULL, "a", "b.c", &cp, &eb),
                   REIN_EINVAL);
  rein_contract_set_free(s);
}

/* YAML merge keys: shared defaults, overridden per call, wholesale per
 * key as YAML specifies. */
static void test_merge_keys(void **st) {
  (void)st;
  static const char m[] =
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
      "  del: {idempotency: natural, timeout: 1s}\n"
      "calls:\n"
      "  - <<: *call\n"
      "    to: m.get\n"
      "  - <<: [*call]\n"
      "    to: m.put\n"
      "    timeout: 200ms\n"
      "    retry:\n"
      "      <<: *retry\n"
      "      attempts: 2\n"
      "  - <<: *call\n"
      "    to: m.del\n"
      "    retry: {attempts: 4}\n";
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "m.yaml", m, strlen(m)),
                   REIN_OK);
  assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
  assert_int_equal(rein_contract_diag_count(s), 0);
  rein_contract_policy cp;
  assert_int_equal(rein_policy_from_contract(s, "m", "m.get", &cp, NULL),
                   REIN_OK);
  assert_int_equal(cp.policy.max_attempts, 3);
  assert_int_equal(cp.policy.attempt_timeout_ns, MS(500));
  assert_int_equal(cp.policy.backoff.cap_ns, MS(2000));
  assert_true(cp.has_budget && cp.budget.ratio == 0.1);
  assert_int_equal(rein_policy_from_contract(s, "m", "m.put", &cp, NULL),
                   REIN_OK);
  assert_int_equal(cp.policy.max_attempts, 2); /* own key wins */
  assert_int_equal(cp.policy.attempt_timeout_ns, MS(200));
  assert_int_equal(cp.policy.backoff.cap_ns, MS(2000)); /* merged */
  assert_true(cp.has_budget && cp.budget.ratio == 0.1); /* merged */
  /* an own `retry` replaces the merged one wholesale: no budget, default
   * backoff */
  assert_int_equal(rein_policy_from_contract(s, "m", "m.del", &cp, NULL),
                   REIN_OK);
  assert_int_equal(cp.policy.max_attempts, 4);
  assert_false(cp.has_budget);
  assert_int_equal(cp.policy.backoff.cap_ns, MS(10000));
  assert_int_equal(cp.policy.attempt_timeout_ns, MS(500)); /* merged */
  rein_contract_set_free(s);
}

/* `<<: [*a, *b]`: the earlier mapping wins, own keys win over both. */
static void test_merge_precedence(void **st) {
  (void)st;
  static const char m[] = "service: p\n"
                          "version: 1\n"
                          "x-a: &a {timeout: 1s, rate: 1/s}\n"
                          "x-b: &b {timeout: 2s, rate: 2/s, deadline: 9s}\n"
                          "operations:\n"
                          "  get: {idempotency: natural}\n"
                          "calls:\n"
                          "  - <<: [*a, *b]\n"
                          "    to: p.get\n"
                          "    rate: 3/s\n";
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "p.yaml", m, strlen(m)),
                   REIN_OK);
  rein_contract_policy cp;
  assert_int_equal(rein_policy_from_contract(s, "p", "p.get", &cp, NULL),
                   REIN_OK);
  assert_int_equal(cp.policy.attempt_timeout_ns, MS(1000));
  assert_int_equal(cp.deadline_ns, MS(9000));
  rein_contract_set_free(s);
}

/* when/retryable take gRPC statuses and transport conditions; the policy
 * carries exactly the named set; a misspelt gRPC name is E004 with its
 * place and the right spelling. */
static rein_contract_set *load_when(const char *when) {
  char caller[512];
  static const char callee[] = "service: svc\nversion: 2024-06-01\n"
                               "operations:\n  op: {idempotency: natural}\n";
  snprintf(caller, sizeof caller,
           "service: client\nversion: 2024-06-01\ncalls:\n"
           "  - to: svc.op\n    retry: {attempts: 2, when: [%s]}\n",
           when);
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  rein_contract_add_buffer(s, "svc.yaml", callee, strlen(callee));
  rein_contract_add_buffer(s, "client.yaml", caller, strlen(caller));
  return s;
}

static void test_status_names(void **st) {
  (void)st;
  rein_contract_set *s =
      load_when("UNAVAILABLE, 14, refused-stream, 504, 3xx, reset");
  rein_contract_policy cp;
  assert_int_equal(rein_policy_from_contract(s, "client", "svc.op", &cp, NULL),
                   REIN_OK);
  char txt[256];
  rein_retryable_set_format(&cp.policy.retryable, txt, sizeof txt);
  assert_string_equal(txt, "3xx, 504, UNAVAILABLE, reset, refused-stream");
  /* kind-only outcomes: overloaded, not-sent, timeout, failure */
  assert_int_equal(cp.policy.retry_on,
                   REIN_RETRY_ON(REIN_OUTCOME_OVERLOADED) |
                       REIN_RETRY_ON(REIN_OUTCOME_NOT_SENT) |
                       REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT) |
                       REIN_RETRY_ON(REIN_OUTCOME_FAILURE));
  rein_contract_set_free(s);

  s = load_when("503, unavailable");
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  assert_int_equal(rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, m),
                   REIN_OK);
  fclose(m);
  assert_non_null(strstr(buf, "client.yaml:5:38: error[E004]: "
                              "calls[0].retry.when[1]: 'unavailable' is not "
                              "an outcome (did you mean 'UNAVAILABLE'?)"));
  free(buf);
  rein_contract_set_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_policy),
      cmocka_unit_test(test_defaults_and_other_budgets),
      cmocka_unit_test(test_not_found),
      cmocka_unit_test(test_merge_keys),
      cmocka_unit_test(test_merge_precedence),
      cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
