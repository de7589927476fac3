/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retry.c: the retry state machine decision by decision, under a manual
 * clock: every give-up reason, the documented order, server delay as a
 * floor, window and deadline refusal, the idempotency gate, "don't retry"
 * propagation, misuse of the call sequence, the seed incident's arithmetic
 * (500 clients x 3 attempts = 1,500 attempts; 10% budget keeps it near
 * 1.1x), and that rein_retry_run makes exactly the state machine's decisions.
 */
#include "rein_test.h"
#include "rein.h"

#include <stdio.h>
#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

static rein_policy_config base_cfg(void) {
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.max_attempts = 3;
  c.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  c.backoff.jitter = REIN_JITTER_NONE;
  c.backoff.base_ns = 100 * MS;
  c.backoff.cap_ns = 10 * S;
  return c;
}

static rein_policy *mkp(const rein_policy_config *c) {
  rein_policy *p;
  rein_errbuf e = {{0}};
  rein_policy_config cc = *c;
  cc.err = &e;
  if (rein_policy_new(&cc, &p) != REIN_OK) fail_msg("policy: %s", e.msg);
  return p;
}

static rein_outcome out(rein_outcome_kind k) {
  rein_outcome o = {.kind = k};
  return o;
}

static void test_success_first_try(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  rein_policy *p = mkp(&c);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, 0);
  assert_int_equal(d.action, REIN_ATTEMPT);
  assert_int_equal(d.attempt, 1);
  rein_outcome o = out(REIN_OUTCOME_SUCCESS);
  d = rein_retry_next(&r, &o, 5 * MS);
  assert_int_equal(d.action, REIN_DONE);
  assert_int_equal(d.attempt, 1);
  /* anything after DONE is refused without effect */
  d = rein_retry_next(&r, &o, 6 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NONE);
  rein_policy_free(p);
}

/* rein_retry_refuse: the caller's own admission (rein_curl's endpoint
 * breakers) ends the call before begin() or after a WAIT as the policy's
 * breaker refusal would: counted, dont_retry; anywhere else a no-op. */
static void test_refuse(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mc, &m), REIN_OK);
  c.metrics = m;
  rein_policy *p = mkp(&c);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_refuse(&r, REIN_GIVEUP_BREAKER_OPEN, 0);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_true(d.dont_retry);
  assert_int_equal(d.attempt, 0);
  assert_int_equal(rein_metrics_get(m, REIN_C_CALLS), 1);
  assert_int_equal(rein_metrics_get(m, REIN_C_GIVEUPS), 1);
  assert_int_equal(rein_metrics_get(m, REIN_C_BREAKER_REJECTIONS), 1);
  assert_int_equal(rein_retry_begin(&r, 1).reason, REIN_GIVEUP_NONE);
  /* while an attempt is out: refused without effect */
  rein_retry_init(&r, p, NULL);
  d = rein_retry_begin(&r, 0);
  assert_int_equal(d.action, REIN_ATTEMPT);
  d = rein_retry_refuse(&r, REIN_GIVEUP_BREAKER_OPEN, 0);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NONE);
  rein_outcome o = out(REIN_OUTCOME_FAILURE);
  d = rein_retry_next(&r, &o, 5 * MS);
  assert_int_equal(d.action, REIN_WAIT);
  /* reason NONE is refused too; then a real refusal after the WAIT */
  assert_int_equal(rein_retry_refuse(&r, REIN_GIVEUP_NONE, 6 * MS).reason,
                   REIN_GIVEUP_NONE);
  d = rein_retry_refuse(&r, REIN_GIVEUP_BREAKER_OPEN, 200 * MS);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_int_equal(d.attempt, 1);
  assert_int_equal(rein_metrics_get(m, REIN_C_CALLS), 2);
  assert_int_equal(rein_metrics_get(m, REIN_C_GIVEUPS), 2);
  assert_int_equal(rein_retry_next(&r, NULL, 300 * MS).reason,
                   REIN_GIVEUP_NONE);
  rein_policy_free(p);
  rein_metrics_free(m);
}

static void test_exponential_schedule_and_max_attempts(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  c.max_attempts = 4;
  rein_policy *p = mkp(&c);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  int64_t now = 1000 * S;
  rein_decision d = rein_retry_begin(&r, now);
  rein_outcome f = out(REIN_OUTCOME_FAILURE);
  const int64_t want[] = {100 * MS, 200 * MS, 400 * MS};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(d.action, REIN_ATTEMPT);
    assert_int_equal(d.attempt, i + 1);
    now += 10 * MS;
    d = rein_retry_next(&r, &f, now);
    assert_int_equal(d.action, REIN_WAIT);
    assert_int_equal(d.delay_ns, want[i]);
    /* too early: still waiting, for the rest of the delay */
    rein_decision w = rein_retry_next(&r, NULL, now + want[i] / 2);
    assert_int_equal(w.action, REIN_WAIT);
    assert_int_equal(w.delay_ns, want[i] - want[i] / 2);
    /* an outcome while waiting is misuse */
    w = rein_retry_next(&r, &f, now);
    assert_int_equal(w.action, REIN_GIVE_UP);
    assert_int_equal(w.reason, REIN_GIVEUP_NONE);
    now += want[i];
    d = rein_retry_next(&r, NULL, now);
  }
  assert_int_equal(d.action, REIN_ATTEMPT);
  assert_int_equal(d.attempt, 4);
  d = rein_retry_next(&r, &f, now + MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_true(d.dont_retry); /* this layer retried: tell the caller not to */
  rein_policy_free(p);
}

static rein_decision fail_once(const rein_policy *p, const rein_call_opts *o,
                               rein_outcome oc) {
  rein_retry r;
  rein_retry_init(&r, p, o);
  rein_decision d = rein_retry_begin(&r, S);
  assert_int_equal(d.action, REIN_ATTEMPT);
  return rein_retry_next(&r, &oc, S + MS);
}

static void test_not_retryable_and_server_stop(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  rein_policy *p = mkp(&c);
  rein_decision d = fail_once(p, NULL, out(REIN_OUTCOME_FATAL));
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_false(d.dont_retry);
  rein_outcome o = out(REIN_OUTCOME_OVERLOADED);
  o.dont_retry = true;
  d = fail_once(p, NULL, o);
  assert_int_equal(d.reason, REIN_GIVEUP_SERVER_STOP);
  assert_true(d.dont_retry);
  /* retry_on decides: timeouts not retryable here */
  rein_policy_free(p);
  c.retry_on = REIN_RETRY_ON(REIN_OUTCOME_OVERLOADED);
  p = mkp(&c);
  d = fail_once(p, NULL, out(REIN_OUTCOME_TIMEOUT));
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  d = fail_once(p, NULL, out(REIN_OUTCOME_OVERLOADED));
  assert_int_equal(d.action, REIN_WAIT);
  rein_policy_free(p);
}

static void test_idempotency_gate(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  c.idempotent = false;
  rein_policy *p = mkp(&c);
  /* no key, may have reached the server: refuse */
  rein_decision d = fail_once(p, NULL, out(REIN_OUTCOME_TIMEOUT));
  assert_int_equal(d.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  assert_false(d.dont_retry);
  /* provably not sent (connection refused): retry is safe */
  d = fail_once(p, NULL, out(REIN_OUTCOME_NOT_SENT));
  assert_int_equal(d.action, REIN_WAIT);
  /* with a key: retry */
  rein_call_opts o = {.has_key = true};
  d = fail_once(p, &o, out(REIN_OUTCOME_FAILURE));
  assert_int_equal(d.action, REIN_WAIT);
  rein_policy_free(p);
}

static void test_server_delay_is_a_floor(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mc, &m), REIN_OK);
  c.metrics = m;
  rein_policy *p = mkp(&c);
  rein_outcome o = out(REIN_OUTCOME_OVERLOADED);
  o.server_delay_ns = 3 * S; /* Retry-After: 3 */
  rein_decision d = fail_once(p, NULL, o);
  assert_int_equal(d.action, REIN_WAIT);
  assert_int_equal(d.delay_ns, 3 * S);
  o.server_delay_ns = 10 * MS; /* below the backoff: backoff wins */
  d = fail_once(p, NULL, o);
  assert_int_equal(d.delay_ns, 100 * MS);
  assert_int_equal(rein_metrics_get(m, REIN_C_SERVER_DELAYS), 1);
  rein_policy_free(p);
  rein_metrics_free(m);
}

static void test_window_and_deadline(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  c.window_ns = 1 * S;
  c.attempt_timeout_ns = 200 * MS;
  rein_policy *p = mkp(&c);
  /* A server delay of 900 ms plus a 200 ms attempt ends past the 1 s
   * window: refused now, not attempted late. */
  rein_outcome o = out(REIN_OUTCOME_OVERLOADED);
  o.server_delay_ns = 900 * MS;
  rein_decision d = fail_once(p, NULL, o);
  assert_int_equal(d.reason, REIN_GIVEUP_WINDOW);
  assert_false(d.dont_retry); /* no retry happened at this layer */
  o.server_delay_ns = 700 * MS; /* 1 ms + 700 + 200 < 1000: allowed */
  d = fail_once(p, NULL, o);
  assert_int_equal(d.action, REIN_WAIT);
  rein_policy_free(p);
  /* deadline from the caller, and attempt timeouts shortened to it */
  c = base_cfg();
  c.attempt_timeout_ns = 500 * MS;
  p = mkp(&c);
  rein_call_opts opts = {.deadline = S + 300 * MS};
  rein_retry r;
  rein_retry_init(&r, p, &opts);
  d = rein_retry_begin(&r, S);
  assert_int_equal(d.timeout_ns, 300 * MS);
  rein_outcome f = out(REIN_OUTCOME_TIMEOUT);
  d = rein_retry_next(&r, &f, S + 300 * MS);
  assert_int_equal(d.reason, REIN_GIVEUP_DEADLINE);
  rein_policy_free(p);
}

static void test_budget_breaker_throttle_giveups(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.min_retries_per_sec = 0;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  rein_policy_config c = base_cfg();
  c.budget = b;
  rein_policy *p = mkp(&c);
  /* one request deposits 0.1 retry: not enough */
  rein_decision d = fail_once(p, NULL, out(REIN_OUTCOME_FAILURE));
  assert_int_equal(d.reason, REIN_GIVEUP_BUDGET);
  assert_true(d.dont_retry);
  rein_policy_free(p);
  rein_budget_free(b);

  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  kc.min_calls = 1;
  kc.failure_rate = 1.0;
  kc.open_jitter = 0;
  rein_breaker *k;
  assert_int_equal(rein_breaker_new(&kc, &k), REIN_OK);
  c = base_cfg();
  c.breaker = k;
  p = mkp(&c);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  d = rein_retry_begin(&r, S);
  rein_outcome f = out(REIN_OUTCOME_FAILURE);
  d = rein_retry_next(&r, &f, S + MS); /* trips the breaker */
  assert_int_equal(d.action, REIN_WAIT);
  d = rein_retry_next(&r, NULL, S + MS + d.delay_ns);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_true(d.dont_retry);
  /* a new call fails fast in begin() */
  rein_retry_init(&r, p, NULL);
  d = rein_retry_begin(&r, 2 * S);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_int_equal(d.attempt, 0);
  rein_policy_free(p);
  rein_breaker_free(k);

  rein_throttle_config tc;
  rein_throttle_config_default(&tc);
  rein_throttle *t;
  assert_int_equal(rein_throttle_new(&tc, &t), REIN_OK);
  c = base_cfg();
  c.throttle = t;
  c.max_attempts = 1;
  p = mkp(&c);
  int throttled = 0;
  for (int i = 0; i < 200; i++) {
    rein_call_opts o = {.seed = (uint64_t)i + 1};
    rein_retry_init(&r, p, &o);
    d = rein_retry_begin(&r, S);
    if (d.action == REIN_GIVE_UP) {
      assert_int_equal(d.reason, REIN_GIVEUP_THROTTLED);
      throttled++;
      continue;
    }
    d = rein_retry_next(&r, &f, S);
  }
  assert_true(throttled > 150); /* nothing is ever accepted */
  rein_policy_free(p);
  rein_throttle_free(t);
}

/* The seed incident's arithmetic: 500 clients x 3 attempts against an
 * always-failing dependency. */
static uint64_t storm(rein_budget *budget, uint64_t *requests) {
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mc, &m), REIN_OK);
  rein_policy_config c = base_cfg();
  c.backoff.jitter = REIN_JITTER_FULL;
  c.budget = budget;
  c.metrics = m;
  rein_policy *p = mkp(&c);
  enum { N = 500 };
  static rein_retry calls[N];
  rein_decision d[N];
  int64_t now = 100 * S;
  for (int i = 0; i < N; i++) {
    rein_call_opts o = {.seed = rein_test_seed() + (uint64_t)i};
    rein_retry_init(&calls[i], p, &o);
    d[i] = rein_retry_begin(&calls[i], now);
  }
  rein_outcome f = out(REIN_OUTCOME_FAILURE);
  for (int step = 0; step < 2000; step++) { /* 10 ms ticks, 20 s */
    int live = 0;
    for (int i = 0; i < N; i++) {
      if (d[i].action == REIN_ATTEMPT) d[i] = rein_retry_next(&calls[i], &f, now);
      if (d[i].action == REIN_WAIT) d[i] = rein_retry_next(&calls[i], NULL, now);
      live += d[i].action == REIN_ATTEMPT || d[i].action == REIN_WAIT;
    }
    if (!live) break;
    now += 10 * MS;
  }
  *requests = rein_metrics_get(m, REIN_C_CALLS);
  uint64_t attempts = rein_metrics_get(m, REIN_C_ATTEMPTS);
  assert_int_equal(rein_metrics_get(m, REIN_C_GIVEUPS), N);
  rein_policy_free(p);
  rein_metrics_free(m);
  return attempts;
}

static void test_seed_arithmetic(void **state) {
  (void)state;
  uint64_t req;
  uint64_t attempts = storm(NULL, &req);
  assert_int_equal(req, 500);
  assert_int_equal(attempts, 1500); /* 3x */
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 0.1;
  bc.min_retries_per_sec = 0; /* no floor: the initial allowance is 0 */
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  attempts = storm(b, &req);
  fprintf(stderr, "500 clients x 3 attempts: no budget 1500 attempts (3.00x); "
                  "10%% budget %llu attempts (%.2fx)\n",
          (unsigned long long)attempts, (double)attempts / 500.0);
  assert_true(attempts <= 550); /* <= 1.1x of requests */
  assert_true(attempts >= 540); /* and it does spend what it has */
  rein_budget_free(b);
}

/* rein_retry_run must make exactly the decisions of the state machine. */
typedef struct {
  rein_manual_clock *clock;
  rein_outcome_kind script[8];
  int n;
  char log[512];
} run_ctx;

static void run_attempt(void *ctx, const rein_decision *a, rein_outcome *o) {
  run_ctx *x = ctx;
  size_t l = strlen(x->log);
  snprintf(x->log + l, sizeof x->log - l, "A%u@%lld;", a->attempt,
           (long long)rein_manual_clock_get(x->clock));
  o->kind = x->script[x->n++];
  rein_manual_clock_advance(x->clock, 7 * MS); /* the attempt takes 7 ms */
}

static void run_sleep(void *ctx, int64_t ns) {
  run_ctx *x = ctx;
  size_t l = strlen(x->log);
  snprintf(x->log + l, sizeof x->log - l, "W%lld;", (long long)ns);
  rein_manual_clock_advance(x->clock, ns);
}

static void test_run_matches_state_machine(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, 50 * S);
  rein_policy_config c = base_cfg();
  c.max_attempts = 5;
  c.backoff.jitter = REIN_JITTER_FULL;
  c.clock = rein_manual_clock_as_clock(&mc);
  rein_policy *p = mkp(&c);
  rein_outcome_kind script[] = {REIN_OUTCOME_FAILURE, REIN_OUTCOME_TIMEOUT,
                                REIN_OUTCOME_OVERLOADED, REIN_OUTCOME_SUCCESS};
  /* blocking wrapper */
  run_ctx x = {.clock = &mc};
  memcpy(x.script, script, sizeof script);
  rein_sleeper sl = {run_sleep, &x};
  rein_call_opts o = {.seed = 99};
  rein_result res;
  assert_int_equal(rein_retry_run(p, &o, run_attempt, &x, &sl, &res), REIN_OK);
  assert_int_equal(res.attempts, 4);
  assert_int_equal(res.action, REIN_DONE);
  /* the same call driven by hand */
  rein_manual_clock_set(&mc, 50 * S);
  char log[512] = "";
  rein_retry r;
  rein_retry_init(&r, p, &o);
  rein_decision d = rein_retry_begin(&r, rein_manual_clock_get(&mc));
  int n = 0;
  while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
    size_t l = strlen(log);
    if (d.action == REIN_ATTEMPT) {
      snprintf(log + l, sizeof log - l, "A%u@%lld;", d.attempt,
               (long long)rein_manual_clock_get(&mc));
      rein_manual_clock_advance(&mc, 7 * MS);
      rein_outcome oc = out(script[n++]);
      d = rein_retry_next(&r, &oc, rein_manual_clock_get(&mc));
    } else {
      snprintf(log + l, sizeof log - l, "W%lld;", (long long)d.delay_ns);
      rein_manual_clock_advance(&mc, d.delay_ns);
      d = rein_retry_next(&r, NULL, rein_manual_clock_get(&mc));
    }
  }
  assert_int_equal(d.action, REIN_DONE);
  assert_string_equal(x.log, log);
  assert_non_null(strstr(log, "A4@"));
  rein_policy_free(p);
}

/* An open breaker refuses before the throttle counts the request. */
static void test_breaker_before_throttle(void **state) {
  (void)state;
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  kc.min_calls = 1;
  kc.open_jitter = 0;
  kc.open_ns = 10 * S;
  rein_breaker *k;
  assert_int_equal(rein_breaker_new(&kc, &k), REIN_OK);
  rein_throttle_config tc;
  rein_throttle_config_default(&tc);
  rein_throttle *t;
  assert_int_equal(rein_throttle_new(&tc, &t), REIN_OK);
  rein_policy_config c = base_cfg();
  c.breaker = k;
  c.throttle = t;
  c.max_attempts = 1;
  rein_policy *p = mkp(&c);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, S);
  rein_outcome f = out(REIN_OUTCOME_FAILURE);
  d = rein_retry_next(&r, &f, S); /* opens the breaker */
  assert_int_equal(rein_breaker_state_at(k, S), REIN_BREAKER_OPEN);
  double p0 = rein_throttle_probability(t, S);
  for (int i = 0; i < 100; i++) {
    rein_retry_init(&r, p, NULL);
    d = rein_retry_begin(&r, 2 * S);
    assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  }
  /* the refused calls did not teach the throttle anything */
  assert_true(rein_throttle_probability(t, 2 * S) == p0);
  rein_policy_free(p);
  rein_throttle_free(t);
  rein_breaker_free(k);
}

static void test_validation_and_fault_loop(void **state) {
  (void)state;
  rein_policy_config c;
  rein_errbuf e;
  rein_policy *p;
#define BAD(stmt, field)                                                       \
  do {                                                                         \
    c = base_cfg();                                                            \
    c.err = &e;                                                                \
    stmt;                                                                      \
    assert_int_equal(rein_policy_new(&c, &p), REIN_EINVAL);                    \
    if (!strstr(e.msg, field)) fail_msg("message '%s' lacks '%s'", e.msg, field); \
  } while (0)
  BAD(c.max_attempts = 0, "policy.max_attempts");
  BAD(c.backoff.cap_ns = 1, "backoff.cap_ns");
  BAD(c.retry_on = 1u << 12, "policy.retry_on");
  BAD(c.retry_on = REIN_RETRY_ON(REIN_OUTCOME_SUCCESS), "policy.retry_on");
  BAD(c.window_ns = -1, "policy.window_ns");
  BAD(c.attempt_timeout_ns = -5, "policy.attempt_timeout_ns");
  BAD(c.name = "", "policy.name");
#undef BAD
  assert_string_equal(rein_giveup_name(REIN_GIVEUP_NON_IDEMPOTENT), "non_idempotent");
  rein_outcome_kind k;
  assert_int_equal(rein_outcome_kind_parse("not_sent", &k), REIN_OK);
  assert_int_equal(k, REIN_OUTCOME_NOT_SENT);
  assert_int_equal(rein_outcome_kind_parse("nope", &k), REIN_EINVAL);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_policy_config c = base_cfg();
  c.alloc = a;
  rein_policy *p = NULL;
  if (rein_policy_new(&c, &p) != REIN_OK) return -1;
  rein_policy_free(p);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

/* gRPC A6: only a failure whose status is retryable takes a token. Six 400s
 * used to leave 4 of 10 tokens, and the next 503 was refused (budget). */
static void test_token_bucket_counts_retryable_failures_only(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_TOKEN_BUCKET;
  bc.max_tokens = 10;
  bc.token_ratio = 0.1;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  rein_policy_config c = base_cfg();
  c.budget = b;
  for (int with_set = 0; with_set < 2; with_set++) {
    if (with_set)
      assert_int_equal(rein_retryable_set_parse(&c.retryable, "503", NULL),
                       REIN_OK);
    rein_policy *p = mkp(&c);
    for (int i = 0; i < 6; i++) {
      rein_retry r;
      rein_retry_init(&r, p, NULL);
      rein_decision d = rein_retry_begin(&r, 0);
      rein_outcome o = out(REIN_OUTCOME_FATAL);
      o.condition = REIN_COND_HTTP(400);
      d = rein_retry_next(&r, &o, MS);
      assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
    }
    assert_true(rein_budget_available(b, MS) == 10.0);
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, 0);
    rein_outcome o = out(REIN_OUTCOME_OVERLOADED);
    o.condition = REIN_COND_HTTP(503);
    d = rein_retry_next(&r, &o, MS);
    assert_int_equal(d.action, REIN_WAIT);            /* not GIVE_UP budget */
    assert_true(rein_budget_available(b, MS) == 9.0); /* the 503 took one */
    d = rein_retry_next(&r, NULL, MS + d.delay_ns);
    o = out(REIN_OUTCOME_SUCCESS);
    d = rein_retry_next(&r, &o, 2 * S);
    assert_int_equal(d.action, REIN_DONE);
    rein_policy_free(p);
    /* refill for the next round */
    while (rein_budget_available(b, 0) < 10.0)
      rein_budget_on_success(b, 0, 0);
  }
  rein_budget_free(b);
}

/* A policy with a retryable set decides by the concrete status; an outcome
 * without one keeps the kind rule (retry_on). */
static void test_retryable_set_decides(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  assert_int_equal(
      rein_retryable_set_parse(&c.retryable, "504, 408, 501", NULL), REIN_OK);
  c.retry_on = rein_retryable_set_kind_mask(&c.retryable);
  rein_policy *p = mkp(&c);
  struct {
    rein_condition cond;
    rein_outcome_kind kind;
    rein_action want;
  } cases[] = {
      {REIN_COND_HTTP(504), REIN_OUTCOME_TIMEOUT, REIN_WAIT},
      {REIN_COND_HTTP(408), REIN_OUTCOME_TIMEOUT, REIN_WAIT},
      {REIN_COND_HTTP(501), REIN_OUTCOME_FATAL, REIN_WAIT},
      {REIN_COND_HTTP(503), REIN_OUTCOME_OVERLOADED, REIN_GIVE_UP},
      {REIN_COND_HTTP(500), REIN_OUTCOME_FAILURE, REIN_GIVE_UP},
      {REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT), REIN_OUTCOME_TIMEOUT,
       REIN_GIVE_UP},
      /* no condition: the kind against retry_on (timeout, fatal) */
      {REIN_COND_NONE, REIN_OUTCOME_TIMEOUT, REIN_WAIT},
      {REIN_COND_NONE, REIN_OUTCOME_OVERLOADED, REIN_GIVE_UP},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_retry_begin(&r, 0);
    rein_outcome o = out(cases[i].kind);
    o.condition = cases[i].cond;
    rein_decision d = rein_retry_next(&r, &o, MS);
    if (d.action != cases[i].want)
      fail_msg("case %zu: got %s (%s)", i, rein_action_name(d.action),
               rein_giveup_name(d.reason));
    if (d.action == REIN_GIVE_UP)
      assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  }
  rein_policy_free(p);
  /* a bad set is refused by name */
  rein_errbuf e = {{0}};
  c.retryable.grpc = 1; /* OK */
  c.err = &e;
  rein_policy *q;
  assert_int_equal(rein_policy_new(&c, &q), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "policy.retryable"));
}

/* Step 0: "in progress" (409 + Retry-After to a keyed request) waits at
 * least the server's delay and asks again with the same key, without using
 * up attempts, until the window ends. */
static void test_in_progress_waits_for_the_replay(void **state) {
  (void)state;
  rein_policy_config c = base_cfg();
  c.max_attempts = 2;
  c.window_ns = 10 * S;
  rein_policy *p = mkp(&c);
  rein_call_opts co = {0};
  co.has_key = true;
  rein_retry r;
  rein_retry_init(&r, p, &co);
  int64_t now = 0;
  rein_decision d = rein_retry_begin(&r, now);
  rein_outcome o = out(REIN_OUTCOME_TIMEOUT);
  o.condition = REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT);
  now += S;
  d = rein_retry_next(&r, &o, now);
  assert_int_equal(d.action, REIN_WAIT);
  for (int poll = 0; poll < 3; poll++) {
    now += d.delay_ns;
    d = rein_retry_next(&r, NULL, now);
    assert_int_equal(d.action, REIN_ATTEMPT);
    o = out(REIN_OUTCOME_FATAL);
    o.condition = REIN_COND_HTTP(409);
    o.in_progress = true;
    o.server_delay_ns = S;
    now += 10 * MS;
    d = rein_retry_next(&r, &o, now);
    assert_int_equal(d.action, REIN_WAIT); /* not MAX_ATTEMPTS */
    assert_true(d.delay_ns >= S);
  }
  now += d.delay_ns;
  d = rein_retry_next(&r, NULL, now);
  assert_int_equal(d.action, REIN_ATTEMPT);
  assert_int_equal(d.attempt, 5);
  o = out(REIN_OUTCOME_SUCCESS);
  d = rein_retry_next(&r, &o, now + MS);
  assert_int_equal(d.action, REIN_DONE);

  /* the window bounds it */
  rein_retry_init(&r, p, &co);
  now = 0;
  d = rein_retry_begin(&r, now);
  o = out(REIN_OUTCOME_FATAL);
  o.condition = REIN_COND_HTTP(409);
  o.in_progress = true;
  o.server_delay_ns = 4 * S;
  for (;;) {
    now += 10 * MS;
    d = rein_retry_next(&r, &o, now);
    if (d.action != REIN_WAIT) break;
    now += d.delay_ns;
    d = rein_retry_next(&r, NULL, now);
    assert_int_equal(d.action, REIN_ATTEMPT);
  }
  assert_int_equal(d.reason, REIN_GIVEUP_WINDOW);
  assert_true(now <= 10 * S);

  /* without a key, a 409 is a 409 */
  rein_retry_init(&r, p, NULL);
  d = rein_retry_begin(&r, 0);
  d = rein_retry_next(&r, &o, MS);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  rein_policy_free(p);

  /* with nothing else to bound them, the polls count as attempts */
  c.window_ns = 0;
  p = mkp(&c);
  rein_retry_init(&r, p, &co);
  d = rein_retry_begin(&r, 0);
  now = 0;
  d = rein_retry_next(&r, &o, now += MS);
  assert_int_equal(d.action, REIN_WAIT);
  d = rein_retry_next(&r, NULL, now += d.delay_ns);
  d = rein_retry_next(&r, &o, now += MS);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  rein_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_first_try),
      cmocka_unit_test(test_refuse),
      cmocka_unit_test(test_exponential_schedule_and_max_attempts),
      cmocka_unit_test(test_not_retryable_and_server_stop),
      cmocka_unit_test(test_idempotency_gate),
      cmocka_unit_test(test_server_delay_is_a_floor),
      cmocka_unit_test(test_window_and_deadline),
      cmocka_unit_test(test_budget_breaker_throttle_giveups),
      cmocka_unit_test(test_seed_arithmetic),
      cmocka_unit_test(test_run_matches_state_machine),
      cmocka_unit_test(test_breaker_before_throttle),
      cmocka_unit_test(test_validation_and_fault_loop),
      cmocka_unit_test(test_fault_loop),
      cmocka_unit_test(test_token_bucket_counts_retryable_failures_only),
      cmocka_unit_test(test_retryable_set_decides),
      cmocka_unit_test(test_in_progress_waits_for_the_replay),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
