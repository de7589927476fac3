/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hedge.c: the hedging state machine (rein/hedge.h), decision by
 * decision, against gRPC A6's hedging rules and the header's order.
 *
 * Time is a number passed in (no clock is read), so every delay is exact.
 * Covered: the delay and max_attempts; the first answer wins and the rest
 * are cancelled; a non-fatal answer sends the next hedge at once, a fatal
 * one ends the call and cancels the rest; an empty budget starts no hedge
 * and cancels nothing; pushback "stop" ends hedging, a positive pushback
 * delays the next hedge; an in-progress 409 of a keyed hedge waits
 * for what is in flight; no hedge that cannot finish before the deadline; a
 * non-idempotent call hedges only with a key; an open breaker; outcomes
 * after the end and for unknown attempts; the latency quantile; config
 * errors; and a seeded random walk checking the invariants.
 */
#include "rein_test.h"
#include "rein.h"

#include <stdio.h>
#include <string.h>

#define MS REIN_NS_PER_MS

typedef struct fx {
  rein_policy *policy;
  rein_hedge_policy *hedge;
  rein_budget *budget;
  rein_breaker *breaker;
} fx;

static void fx_make(fx *f, uint32_t max, int64_t delay, bool idempotent,
                    rein_budget *budget, int64_t expected) {
  memset(f, 0, sizeof *f);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.idempotent = idempotent;
  pc.budget = budget;
  pc.expected_attempt_ns = expected;
  assert_int_equal(rein_policy_new(&pc, &f->policy), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = f->policy;
  hc.max_attempts = max;
  hc.delay_ns = delay;
  assert_int_equal(rein_hedge_policy_new(&hc, &f->hedge), REIN_OK);
  f->budget = budget;
}

static void fx_free(fx *f) {
  rein_hedge_policy_free(f->hedge);
  rein_policy_free(f->policy);
  rein_budget_free(f->budget);
  rein_breaker_free(f->breaker);
}

static rein_outcome out(rein_outcome_kind k) {
  rein_outcome o;
  memset(&o, 0, sizeof o);
  o.kind = k;
  return o;
}

static void expect(rein_hedge_decision d, rein_action a, uint32_t attempt,
                   int64_t next_ns) {
  if (d.action != a || (a == REIN_ATTEMPT && d.attempt != attempt) ||
      ((a == REIN_ATTEMPT || a == REIN_WAIT) && d.next_ns != next_ns))
    fail_msg("got %s attempt %u next %lld (reason %s), want %s attempt %u "
             "next %lld",
             rein_action_name(d.action), d.attempt, (long long)d.next_ns,
             rein_giveup_name(d.reason), rein_action_name(a), attempt,
             (long long)next_ns);
}

/* Delay, then a hedge; the hedge wins; the first is cancelled. */
static void test_delay_and_winner(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 3, 50 * MS, true, NULL, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 50 * MS);
  expect(rein_hedge_poll(&h, 20 * MS), REIN_WAIT, 0, 30 * MS); /* early */
  expect(rein_hedge_poll(&h, 50 * MS), REIN_ATTEMPT, 2, 50 * MS);
  rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
  rein_hedge_decision d = rein_hedge_outcome(&h, 2, &ok, 60 * MS);
  assert_int_equal(d.action, REIN_DONE);
  assert_int_equal(d.winner, 2);
  assert_int_equal(d.cancel, 1u); /* attempt 1 */
  assert_int_equal(d.sent, 2);
  /* The cancelled one is never reported; if it is, nothing changes. */
  d = rein_hedge_outcome(&h, 1, &ok, 70 * MS);
  assert_int_equal(d.action, REIN_DONE);
  assert_int_equal(d.cancel, 0u);
  assert_int_equal(rein_hedge_poll(&h, 200 * MS).action, REIN_DONE);
  fx_free(&f);
}

/* max_attempts in all; after the last is sent, no timer; all fail
 * non-fatally -> MAX_ATTEMPTS when the last answers. */
static void test_max_attempts(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 3, 10 * MS, true, NULL, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 10 * MS);
  expect(rein_hedge_poll(&h, 10 * MS), REIN_ATTEMPT, 2, 10 * MS);
  expect(rein_hedge_poll(&h, 20 * MS), REIN_ATTEMPT, 3, -1);
  expect(rein_hedge_poll(&h, 30 * MS), REIN_WAIT, 0, -1);
  rein_outcome fail = out(REIN_OUTCOME_FAILURE);
  expect(rein_hedge_outcome(&h, 1, &fail, 40 * MS), REIN_WAIT, 0, -1);
  expect(rein_hedge_outcome(&h, 3, &fail, 41 * MS), REIN_WAIT, 0, -1);
  rein_hedge_decision d = rein_hedge_outcome(&h, 2, &fail, 42 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_true(d.dont_retry); /* this layer already sent more than one */
  assert_int_equal(d.cancel, 0u);
  fx_free(&f);
}

/* A6: a non-fatal answer sends the next hedge at once; a fatal one ends
 * the call and cancels what is in flight. */
static void test_non_fatal_and_fatal(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 4, 100 * MS, true, NULL, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 100 * MS);
  rein_outcome o503 = out(REIN_OUTCOME_OVERLOADED);
  expect(rein_hedge_outcome(&h, 1, &o503, 5 * MS), REIN_ATTEMPT, 2, 100 * MS);
  expect(rein_hedge_poll(&h, 105 * MS), REIN_ATTEMPT, 3, 100 * MS);
  rein_outcome fatal = out(REIN_OUTCOME_FATAL);
  rein_hedge_decision d = rein_hedge_outcome(&h, 2, &fatal, 110 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(d.cancel, 1u << 2); /* attempt 3 */
  fx_free(&f);

  /* By condition: nonFatalStatusCodes = {UNAVAILABLE}; INTERNAL is fatal
   * although the policy would retry a FAILURE. */
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = p;
  hc.max_attempts = 3;
  assert_int_equal(
      rein_retryable_set_parse(&hc.non_fatal_set, "UNAVAILABLE", NULL),
      REIN_OK);
  rein_hedge_policy *hp;
  assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_OK);
  rein_hedge_init(&h, hp, NULL);
  rein_hedge_begin(&h, 0);
  rein_outcome un = out(REIN_OUTCOME_FAILURE);
  un.condition = REIN_COND_GRPC(14);
  expect(rein_hedge_outcome(&h, 1, &un, MS), REIN_ATTEMPT, 2, 100 * MS);
  rein_outcome in = out(REIN_OUTCOME_FAILURE);
  in.condition = REIN_COND_GRPC(13);
  d = rein_hedge_outcome(&h, 2, &in, 2 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  rein_hedge_policy_free(hp);
  rein_policy_free(p);
}

/* Budget empty: no new hedge, and the attempt in flight is not cancelled;
 * it may still win. If it fails, the call gives up with BUDGET. */
static void test_budget_empty(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 0;
  bc.min_retries_per_sec = 0;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  fx f;
  fx_make(&f, 3, 10 * MS, true, b, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 10 * MS);
  rein_hedge_decision d = rein_hedge_poll(&h, 10 * MS);
  expect(d, REIN_WAIT, 0, -1);
  assert_int_equal(d.cancel, 0u);
  rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
  d = rein_hedge_outcome(&h, 1, &ok, 300 * MS);
  assert_int_equal(d.action, REIN_DONE);
  assert_int_equal(d.winner, 1);
  /* Again, the lone attempt fails: BUDGET, dont_retry. */
  rein_hedge_init(&h, f.hedge, NULL);
  rein_hedge_begin(&h, 400 * MS);
  rein_hedge_poll(&h, 410 * MS);
  rein_outcome fail = out(REIN_OUTCOME_FAILURE);
  d = rein_hedge_outcome(&h, 1, &fail, 420 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_BUDGET);
  assert_true(d.dont_retry);
  /* A failure before the delay asks the budget at once: same answer. */
  rein_hedge_init(&h, f.hedge, NULL);
  rein_hedge_begin(&h, 500 * MS);
  d = rein_hedge_outcome(&h, 1, &fail, 501 * MS);
  assert_int_equal(d.reason, REIN_GIVEUP_BUDGET);
  fx_free(&f);
}

/* Pushback: "stop" ends hedging (what is in flight goes on); a positive
 * pushback puts the next hedge that far away instead of at once. */
static void test_pushback(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 4, 100 * MS, true, NULL, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  rein_hedge_begin(&h, 0);
  expect(rein_hedge_poll(&h, 100 * MS), REIN_ATTEMPT, 2, 100 * MS);
  rein_outcome stop = out(REIN_OUTCOME_OVERLOADED);
  stop.dont_retry = true;
  expect(rein_hedge_outcome(&h, 1, &stop, 120 * MS), REIN_WAIT, 0, -1);
  expect(rein_hedge_poll(&h, 200 * MS), REIN_WAIT, 0, -1); /* no hedge 3 */
  rein_outcome fail = out(REIN_OUTCOME_FAILURE);
  rein_hedge_decision d = rein_hedge_outcome(&h, 2, &fail, 250 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_SERVER_STOP);
  assert_true(d.dont_retry);

  rein_hedge_init(&h, f.hedge, NULL);
  rein_hedge_begin(&h, 1000 * MS);
  rein_outcome later = out(REIN_OUTCOME_OVERLOADED);
  later.server_delay_ns = 300 * MS;
  expect(rein_hedge_outcome(&h, 1, &later, 1010 * MS), REIN_WAIT, 0, 300 * MS);
  expect(rein_hedge_poll(&h, 1200 * MS), REIN_WAIT, 0, 110 * MS);
  expect(rein_hedge_poll(&h, 1310 * MS), REIN_ATTEMPT, 2, 100 * MS);
  fx_free(&f);
}

/* In progress: a keyed hedge meets the server's 409 + Retry-After while
 * attempt 1 still runs. Not fatal (fatal is the default for FATAL kinds),
 * not a failure (no budget token): the call waits for attempt 1; the next
 * hedge goes no sooner than Retry-After; with nothing else in flight it
 * asks for the stored answer. Without a key the same answer is fatal. */
static void test_in_progress(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_TOKEN_BUCKET;
  bc.max_tokens = 4; /* hedges allowed while tokens > 2 */
  bc.token_ratio = 0.001;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  fx f;
  fx_make(&f, 4, 100 * MS, true, b, 0);
  rein_call_opts co = {0};
  co.has_key = true;
  rein_hedge h;
  rein_outcome busy = out(REIN_OUTCOME_FATAL);
  busy.in_progress = true;
  busy.server_delay_ns = 300 * MS;
  for (int round = 0; round < 3; round++) {
    rein_hedge_init(&h, f.hedge, &co);
    int64_t t = round * 10000 * MS;
    rein_hedge_begin(&h, t);
    expect(rein_hedge_poll(&h, t + 100 * MS), REIN_ATTEMPT, 2, 100 * MS);
    /* hedge 2: in progress; hedge 3 no sooner than 300 ms from now */
    expect(rein_hedge_outcome(&h, 2, &busy, t + 110 * MS), REIN_WAIT, 0,
           300 * MS);
    expect(rein_hedge_poll(&h, t + 200 * MS), REIN_WAIT, 0, 210 * MS);
    if (round == 0) { /* attempt 1 answers first: it wins */
      rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
      rein_hedge_decision d = rein_hedge_outcome(&h, 1, &ok, t + 250 * MS);
      assert_int_equal(d.action, REIN_DONE);
      assert_int_equal(d.winner, 1);
    } else if (round == 1) { /* attempt 1 lost; hedge 3 polls, gets it */
      rein_outcome lost = out(REIN_OUTCOME_TIMEOUT);
      expect(rein_hedge_outcome(&h, 1, &lost, t + 250 * MS), REIN_ATTEMPT, 3,
             100 * MS);
      rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
      rein_hedge_decision d = rein_hedge_outcome(&h, 3, &ok, t + 260 * MS);
      assert_int_equal(d.action, REIN_DONE);
      assert_int_equal(d.winner, 3);
    } else { /* hedges 3 and 4 poll after Retry-After; still running */
      expect(rein_hedge_poll(&h, t + 410 * MS), REIN_ATTEMPT, 3, 100 * MS);
      expect(rein_hedge_outcome(&h, 3, &busy, t + 420 * MS), REIN_WAIT, 0,
             300 * MS);
      expect(rein_hedge_poll(&h, t + 720 * MS), REIN_ATTEMPT, 4, -1);
      expect(rein_hedge_outcome(&h, 4, &busy, t + 730 * MS), REIN_WAIT, 0, -1);
      rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
      rein_hedge_decision d = rein_hedge_outcome(&h, 1, &ok, t + 900 * MS);
      assert_int_equal(d.action, REIN_DONE);
    }
  }
  /* Only round 1's timeout reached the budget (counted as failures, the
   * in-progress answers would have taken it below half, refusing round
   * 2's hedges)... */
  assert_true(rein_budget_try_retry(b, 40000 * MS, false, NULL));
  /* ...and without a key a 409 is what it says: fatal. */
  rein_hedge_init(&h, f.hedge, NULL);
  rein_hedge_begin(&h, 50000 * MS);
  rein_hedge_poll(&h, 50100 * MS);
  rein_hedge_decision d = rein_hedge_outcome(&h, 2, &busy, 50110 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(d.cancel, 1u);
  fx_free(&f);
}

/* No hedge that cannot finish before the deadline. */
static void test_deadline(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 3, 100 * MS, true, NULL, 200 * MS);
  rein_hedge h;
  rein_call_opts o = {0};
  o.deadline = 250 * MS;
  rein_hedge_init(&h, f.hedge, &o);
  rein_hedge_decision d = rein_hedge_begin(&h, 0);
  expect(d, REIN_ATTEMPT, 1, 100 * MS);
  assert_int_equal(d.timeout_ns,
                   250 * MS); /* no attempt timeout: to the deadline */
  expect(rein_hedge_poll(&h, 100 * MS), REIN_WAIT, 0, -1); /* 300 > 250 */
  rein_outcome fail = out(REIN_OUTCOME_FAILURE);
  d = rein_hedge_outcome(&h, 1, &fail, 150 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_DEADLINE);
  /* Past the deadline, not even a first attempt. */
  rein_hedge_init(&h, f.hedge, &o);
  d = rein_hedge_begin(&h, 250 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_DEADLINE);
  assert_int_equal(d.sent, 0);
  fx_free(&f);
}

/* A non-idempotent operation hedges only with a key. */
static void test_non_idempotent_needs_key(void **state) {
  (void)state;
  fx f;
  fx_make(&f, 3, 10 * MS, false, NULL, 0);
  rein_hedge h;
  rein_hedge_init(&h, f.hedge, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 10 * MS);
  expect(rein_hedge_poll(&h, 10 * MS), REIN_WAIT, 0, -1);
  rein_outcome fail = out(REIN_OUTCOME_TIMEOUT);
  rein_hedge_decision d = rein_hedge_outcome(&h, 1, &fail, 20 * MS);
  assert_int_equal(d.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  rein_call_opts o = {0};
  o.has_key = true;
  rein_hedge_init(&h, f.hedge, &o);
  rein_hedge_begin(&h, 0);
  expect(rein_hedge_poll(&h, 10 * MS), REIN_ATTEMPT, 2, 10 * MS);
  fx_free(&f);
}

/* An open breaker refuses the first attempt (a hedging breaker is the
 * policy's) and a later hedge. */
static void test_breaker(void **state) {
  (void)state;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  rein_breaker *br;
  assert_int_equal(rein_breaker_new(&bc, &br), REIN_OK);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.breaker = br;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = p;
  rein_hedge_policy *hp;
  assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_OK);
  rein_hedge h;
  rein_hedge_init(&h, hp, NULL);
  rein_hedge_begin(&h, 0);
  rein_breaker_set_mode(br, REIN_BREAKER_FORCED_OPEN);
  expect(rein_hedge_poll(&h, 100 * MS), REIN_WAIT, 0, -1);
  rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
  assert_int_equal(rein_hedge_outcome(&h, 1, &ok, 150 * MS).action, REIN_DONE);
  rein_hedge_init(&h, hp, NULL);
  rein_hedge_decision d = rein_hedge_begin(&h, 200 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  rein_hedge_policy_free(hp);
  rein_policy_free(p);
  rein_breaker_free(br);
}

/* A retry-only breaker (gates: retries) never refuses attempt 1 and
 * refuses hedges while it refuses retries: RETRY_BREAKER. */
static void test_retry_only_breaker(void **state) {
  (void)state;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.gates = REIN_BREAKER_GATES_RETRIES;
  rein_breaker *br;
  assert_int_equal(rein_breaker_new(&bc, &br), REIN_OK);
  rein_breaker_set_mode(br, REIN_BREAKER_FORCED_OPEN);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.breaker = br;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = p;
  rein_hedge_policy *hp;
  assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_OK);
  rein_hedge h;
  rein_hedge_init(&h, hp, NULL);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 100 * MS);
  expect(rein_hedge_poll(&h, 100 * MS), REIN_WAIT, 0, -1);
  rein_outcome fail = out(REIN_OUTCOME_FAILURE);
  rein_hedge_decision d = rein_hedge_outcome(&h, 1, &fail, 150 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_RETRY_BREAKER);
  assert_true(d.dont_retry);
  /* Closed again: hedges flow. */
  rein_breaker_set_mode(br, REIN_BREAKER_NORMAL);
  rein_hedge_init(&h, hp, NULL);
  rein_hedge_begin(&h, 200 * MS);
  expect(rein_hedge_poll(&h, 300 * MS), REIN_ATTEMPT, 2, 100 * MS);
  rein_hedge_policy_free(hp);
  rein_policy_free(p);
  rein_breaker_free(br);
}

/* Hedge at the p95 of what the policy has seen: delay_ns until
 * min_samples, then the quantile's bucket (within 12.5% above). */
static void test_quantile_delay(void **state) {
  (void)state;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = p;
  hc.quantile = 0.95;
  hc.delay_ns = 40 * MS;
  hc.window_ns = 10 * REIN_NS_PER_S;
  hc.min_samples = 100;
  rein_hedge_policy *hp;
  assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_OK);
  int64_t t = 0;
  for (int i = 0; i < 99; i++)
    rein_hedge_observe(hp, t, 10 * MS);
  assert_int_equal(rein_hedge_delay(hp, t), 40 * MS);
  for (int i = 0; i < 1000; i++)
    rein_hedge_observe(hp, t, i % 100 == 0 ? REIN_NS_PER_S : 10 * MS);
  /* The cache holds for window/16; later the quantile shows. */
  t += REIN_NS_PER_S;
  int64_t d = rein_hedge_delay(hp, t);
  if (d < 10 * MS || d > 10 * MS + 10 * MS / 8)
    fail_msg("p95 delay %lld ns, want 10 ms .. 11.25 ms", (long long)d);
  /* 10% slow: p95 is the slow latency. */
  for (int i = 0; i < 1000; i++)
    rein_hedge_observe(hp, t, i % 10 == 0 ? 500 * MS : 10 * MS);
  t += REIN_NS_PER_S;
  d = rein_hedge_delay(hp, t);
  if (d < 500 * MS || d > 500 * MS + 500 * MS / 8)
    fail_msg("p95 delay %lld ns, want 500 .. 562.5 ms", (long long)d);
  /* Two windows later the samples are gone: the fixed delay again. */
  t += 2 * hc.window_ns;
  assert_int_equal(rein_hedge_delay(hp, t), 40 * MS);
  rein_hedge_policy_free(hp);
  rein_policy_free(p);
}

static void test_config_errors(void **state) {
  (void)state;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  static const struct {
    int field;
    const char *want;
  } cases[] = {{0, "hedge.policy"},       {1, "hedge.max_attempts"},
               {2, "hedge.max_attempts"}, {3, "hedge.delay_ns"},
               {4, "hedge.quantile"},     {5, "hedge.window_ns"},
               {6, "hedge.min_samples"},  {7, "hedge.non_fatal"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rein_errbuf e = {{0}};
    rein_hedge_config hc;
    rein_hedge_config_default(&hc);
    hc.policy = p;
    hc.err = &e;
    switch (cases[i].field) {
    case 0:
      hc.policy = NULL;
      break;
    case 1:
      hc.max_attempts = 0;
      break;
    case 2:
      hc.max_attempts = REIN_HEDGE_MAX_ATTEMPTS + 1;
      break;
    case 3:
      hc.delay_ns = -1;
      break;
    case 4:
      hc.quantile = 1.0;
      break;
    case 5:
      hc.window_ns = MS;
      break;
    case 6:
      hc.min_samples = 0;
      break;
    case 7:
      hc.non_fatal = REIN_RETRY_ON(REIN_OUTCOME_SUCCESS);
      break;
    }
    rein_hedge_policy *hp = NULL;
    assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_EINVAL);
    assert_null(hp);
    if (!strstr(e.msg, cases[i].want))
      fail_msg("case %zu: \"%s\" does not name %s", i, e.msg, cases[i].want);
  }
  rein_policy_free(p);
}

/* Random walks: random outcomes at random times, checking that no more
 * than max_attempts are sent, every reported attempt was in flight, cancel
 * masks name only attempts in flight, the call ends exactly once, and a
 * DONE's winner is the attempt that succeeded. */
static void test_random_walk(void **state) {
  (void)state;
  uint64_t seed = rein_test_seed();
  rein_rng rng;
  rein_rng_seed(&rng, seed);
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_TOKEN_BUCKET;
  bc.max_tokens = 10;
  bc.token_ratio = 0.5;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&bc, &b), REIN_OK);
  fx f;
  fx_make(&f, 5, 20 * MS, true, b, 0);
  for (int call = 0; call < 20000; call++) {
    rein_hedge h;
    rein_hedge_init(&h, f.hedge, NULL);
    int64_t now = (int64_t)call * REIN_NS_PER_S;
    rein_hedge_decision d = rein_hedge_begin(&h, now);
    uint32_t inflight = 0, sent = 0;
    int64_t next = -1;
    for (int step = 0; step < 64; step++) {
      if (d.action == REIN_ATTEMPT) {
        assert_int_equal(d.attempt, sent + 1);
        inflight |= 1u << sent;
        sent++;
        if (sent > 5)
          fail_msg("seed %llu: %u sent", (unsigned long long)seed, sent);
      }
      if (d.action == REIN_DONE || d.action == REIN_GIVE_UP) {
        if (d.cancel & ~inflight)
          fail_msg("seed %llu call %d: cancel 0x%x, in flight 0x%x",
                   (unsigned long long)seed, call, d.cancel, inflight);
        break;
      }
      if (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) next = d.next_ns;
      bool answer = inflight && (next < 0 || rein_rng_next(&rng) % 2);
      if (answer) {
        uint32_t k;
        do
          k = (uint32_t)(rein_rng_next(&rng) % sent);
        while (!(inflight & (1u << k)));
        inflight &= ~(1u << k);
        uint64_t r = rein_rng_next(&rng) % 10;
        rein_outcome o = out(r < 3   ? REIN_OUTCOME_SUCCESS
                             : r < 9 ? REIN_OUTCOME_OVERLOADED
                                     : REIN_OUTCOME_FATAL);
        now += (int64_t)(rein_rng_next(&rng) % (30 * MS));
        d = rein_hedge_outcome(&h, k + 1, &o, now);
        if (d.action == REIN_DONE &&
            (d.winner != k + 1 || o.kind != REIN_OUTCOME_SUCCESS))
          fail_msg("seed %llu: winner %u after attempt %u",
                   (unsigned long long)seed, d.winner, k + 1);
      } else if (next >= 0) {
        now += next;
        d = rein_hedge_poll(&h, now);
      } else {
        fail_msg("seed %llu call %d: nothing in flight, no timer, not ended",
                 (unsigned long long)seed, call);
      }
    }
    if (d.action != REIN_DONE && d.action != REIN_GIVE_UP)
      fail_msg("seed %llu call %d: not ended after 64 steps",
               (unsigned long long)seed, call);
    rein_hedge_decision again = rein_hedge_poll(&h, now + 1);
    assert_int_equal(again.action, d.action);
    assert_int_equal(again.cancel, 0u);
  }
  fx_free(&f);
}

/* Events: on_hedge for each hedge (its number, the time since the
 * previous attempt, the latest answer), on_give_up once when the call
 * gives up, never on_retry; the call's user pointer in each. */
typedef struct evlog {
  int hedges, give_ups, retries;
  rein_retry_event last_hedge[4], give_up;
} evlog;

static void on_hedge(void *ctx, const rein_retry_event *ev) {
  evlog *l = ctx;
  if (l->hedges < 4) l->last_hedge[l->hedges] = *ev;
  l->hedges++;
}
static void on_give_up(void *ctx, const rein_retry_event *ev) {
  evlog *l = ctx;
  l->give_up = *ev;
  l->give_ups++;
}
static void on_retry(void *ctx, const rein_retry_event *ev) {
  (void)ev;
  ((evlog *)ctx)->retries++;
}

static void test_events(void **state) {
  (void)state;
  evlog l;
  memset(&l, 0, sizeof l);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.on_hedge = on_hedge;
  pc.on_give_up = on_give_up;
  pc.on_retry = on_retry;
  pc.event_ctx = &l;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.policy = p;
  hc.max_attempts = 3;
  hc.delay_ns = 50 * MS;
  rein_hedge_policy *hp;
  assert_int_equal(rein_hedge_policy_new(&hc, &hp), REIN_OK);
  int tag;
  rein_call_opts opts;
  memset(&opts, 0, sizeof opts);
  opts.user = &tag;
  /* a call won by its first hedge: one on_hedge, no give-up */
  rein_hedge h;
  rein_hedge_init(&h, hp, &opts);
  expect(rein_hedge_begin(&h, 0), REIN_ATTEMPT, 1, 50 * MS);
  assert_int_equal(l.hedges, 0);
  expect(rein_hedge_poll(&h, 50 * MS), REIN_ATTEMPT, 2, 50 * MS);
  assert_int_equal(l.hedges, 1);
  assert_int_equal(l.last_hedge[0].attempt, 2);
  assert_int_equal(l.last_hedge[0].delay_ns, 50 * MS);
  assert_int_equal(l.last_hedge[0].last, REIN_OUTCOME_SUCCESS); /* none */
  assert_ptr_equal(l.last_hedge[0].user, &tag);
  assert_ptr_equal(l.last_hedge[0].policy, p);
  assert_int_equal(l.last_hedge[0].now, 50 * MS);
  rein_outcome ok = out(REIN_OUTCOME_SUCCESS);
  assert_int_equal(rein_hedge_outcome(&h, 2, &ok, 60 * MS).action, REIN_DONE);
  assert_int_equal(l.give_ups, 0);
  /* a non-fatal answer sends the next at once: on_hedge says how soon and
   * after what; then every attempt fails: one on_give_up */
  rein_hedge_init(&h, hp, &opts);
  expect(rein_hedge_begin(&h, 1000 * MS), REIN_ATTEMPT, 1, 50 * MS);
  rein_outcome fail = out(REIN_OUTCOME_OVERLOADED);
  expect(rein_hedge_outcome(&h, 1, &fail, 1010 * MS), REIN_ATTEMPT, 2, 50 * MS);
  assert_int_equal(l.hedges, 2);
  assert_int_equal(l.last_hedge[1].attempt, 2);
  assert_int_equal(l.last_hedge[1].delay_ns, 10 * MS);
  assert_int_equal(l.last_hedge[1].last, REIN_OUTCOME_OVERLOADED);
  expect(rein_hedge_poll(&h, 1060 * MS), REIN_ATTEMPT, 3, -1);
  assert_int_equal(l.hedges, 3);
  assert_int_equal(l.last_hedge[2].attempt, 3);
  expect(rein_hedge_outcome(&h, 2, &fail, 1070 * MS), REIN_WAIT, 0, -1);
  rein_hedge_decision d = rein_hedge_outcome(&h, 3, &fail, 1080 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(l.give_ups, 1);
  assert_int_equal(l.give_up.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(l.give_up.attempt, 3);
  assert_true(l.give_up.dont_retry);
  assert_ptr_equal(l.give_up.user, &tag);
  /* the final decision again: no second event */
  rein_hedge_outcome(&h, 3, &fail, 1090 * MS);
  rein_hedge_poll(&h, 1100 * MS);
  assert_int_equal(l.give_ups, 1);
  assert_int_equal(l.hedges, 3);
  assert_int_equal(l.retries, 0);
  rein_hedge_policy_free(hp);
  rein_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_delay_and_winner),
      cmocka_unit_test(test_max_attempts),
      cmocka_unit_test(test_non_fatal_and_fatal),
      cmocka_unit_test(test_budget_empty),
      cmocka_unit_test(test_pushback),
      cmocka_unit_test(test_deadline),
      cmocka_unit_test(test_in_progress),
      cmocka_unit_test(test_non_idempotent_needs_key),
      cmocka_unit_test(test_breaker),
      cmocka_unit_test(test_retry_only_breaker),
      cmocka_unit_test(test_quantile_delay),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_random_walk),
      cmocka_unit_test(test_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
