/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retry_gate.c: the retry-only breaker (rein/breaker.h, gates
 * RETRIES; Brooker 2022) decision by decision, and the engine's use of it.
 *
 * - The breaker: allow() (a first attempt) is never refused, whatever the
 *   window holds and even FORCED_OPEN; allow_retry() refuses at and over
 *   the threshold once min_calls outcomes are in, and permits again as soon
 *   as the share falls (count window) — or never forgets (cumulative);
 *   state_at reads OPEN exactly while retries are refused; reset clears;
 *   a permit from before a reset does not count; config bounds.
 * - The engine: a call whose first attempt fails gives up with
 *   RETRY_BREAKER (dont_retry) before the budget is asked (no token taken,
 *   nothing waited), begin() always ATTEMPTs, and a share that crosses the
 *   threshold during a wait refuses the retry on resume.
 * - The claim of issue 18 on the engine alone: clients whose attempts fail
 *   independently with probability x in {0.05, 0.2, 0.5}, 3 retries: the
 *   load is <= 1.1x for x >= 0.2 and about 1 + x at 0.05, every first
 *   attempt is sent. Randomized: prints its seed (REIN_TEST_SEED replays).
 */
#include "rein_test.h"
#include "rein.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

static rein_breaker *gate(rein_breaker_window w, uint32_t size, uint32_t min,
                          double rate) {
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.gates = REIN_BREAKER_GATES_RETRIES;
  c.window = w;
  c.window_size = size;
  c.min_calls = min;
  c.failure_rate = rate;
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_breaker *b = NULL;
  if (rein_breaker_new(&c, &b) != REIN_OK) fail_msg("breaker: %s", e.msg);
  return b;
}

/* One outcome through a first-attempt permit. */
static void put(rein_breaker *b, bool failure, int64_t now) {
  rein_breaker_permit p;
  assert_true(rein_breaker_allow(b, now, &p));
  rein_breaker_record(b, &p, failure, MS, now);
}

static void test_breaker_rule(void **state) {
  (void)state;
  rein_breaker *b = gate(REIN_BREAKER_WINDOW_COUNT, 10, 5, 0.3);
  rein_breaker_permit p;
  /* fewer than min_calls: retries pass even at 100% failures */
  for (int i = 0; i < 4; i++) put(b, true, i);
  assert_true(rein_breaker_allow_retry(b, 10, &p));
  assert_int_equal(p.valid, 1);
  assert_int_equal(rein_breaker_state_at(b, 10), REIN_BREAKER_CLOSED);
  put(b, true, 11); /* 5 of 5 */
  assert_false(rein_breaker_allow_retry(b, 12, &p));
  assert_int_equal(p.valid, 0);
  assert_int_equal(rein_breaker_state_at(b, 12), REIN_BREAKER_OPEN);
  /* a first attempt is never refused, and no open time applies */
  assert_true(rein_breaker_allow(b, 12, &p));
  assert_int_equal(p.valid, 1);
  assert_int_equal(p.probe, 0);
  rein_breaker_record(b, &p, true, MS, 12); /* 6 of 6 */
  /* successes push the share down: 3 failures in the last 10 is 0.3 (at
   * the threshold: refused), 2 in 10 is below (permitted) */
  for (int i = 0; i < 7; i++) put(b, false, 20 + i); /* last 10: 3 f, 7 ok */
  assert_false(rein_breaker_allow_retry(b, 30, &p));
  put(b, false, 31); /* last 10: 2 f, 8 ok */
  assert_true(rein_breaker_allow_retry(b, 32, &p));
  assert_int_equal(rein_breaker_state_at(b, 32), REIN_BREAKER_CLOSED);
  /* the retry's own outcome counts: last 10 f12, 8 ok, f: 2; one more */
  rein_breaker_record(b, &p, true, MS, 33);
  assert_true(rein_breaker_allow_retry(b, 34, &p));
  rein_breaker_record(b, &p, true, MS, 35); /* 8 ok, f33, f35: 2 */
  assert_true(rein_breaker_allow_retry(b, 36, &p));
  rein_breaker_record(b, &p, true, MS, 37); /* 7 ok, 3 f */
  assert_false(rein_breaker_allow_retry(b, 38, &p));
  /* FORCED_OPEN stops every retry, never a first attempt; DISABLED lets
   * everything through and records nothing */
  rein_breaker_reset(b, 40);
  rein_breaker_set_mode(b, REIN_BREAKER_FORCED_OPEN);
  assert_true(rein_breaker_allow(b, 41, &p));
  assert_false(rein_breaker_allow_retry(b, 41, NULL));
  assert_int_equal(rein_breaker_state_at(b, 41), REIN_BREAKER_OPEN);
  rein_breaker_set_mode(b, REIN_BREAKER_DISABLED);
  for (int i = 0; i < 10; i++) put(b, true, 50 + i);
  assert_true(rein_breaker_allow_retry(b, 61, &p));
  rein_breaker_set_mode(b, REIN_BREAKER_NORMAL);
  rein_breaker_stats st;
  rein_breaker_stats_get(b, 62, &st);
  assert_int_equal(st.calls, 0);
  /* a permit handed out before a reset does not count after it */
  for (int i = 0; i < 5; i++) put(b, true, 70 + i);
  assert_false(rein_breaker_allow_retry(b, 75, NULL));
  assert_true(rein_breaker_allow(b, 76, &p));
  rein_breaker_reset(b, 77);
  rein_breaker_record(b, &p, true, MS, 78);
  rein_breaker_stats_get(b, 79, &st);
  assert_int_equal(st.calls, 0);
  assert_true(rein_breaker_allow_retry(b, 79, NULL));
  rein_breaker_free(b);
}

static void test_cumulative_and_time(void **state) {
  (void)state;
  /* cumulative: every outcome since creation; 10 failures then 90
   * successes is 0.1 (at 0.1: refused), one more success is below */
  rein_breaker *b = gate(REIN_BREAKER_WINDOW_CUMULATIVE, 1, 10, 0.1);
  for (int i = 0; i < 10; i++) put(b, true, i);
  assert_false(rein_breaker_allow_retry(b, 10, NULL));
  for (int i = 0; i < 90; i++) put(b, false, 100 + i);
  rein_breaker_stats st;
  rein_breaker_stats_get(b, 200, &st);
  assert_int_equal(st.calls, 100);
  assert_int_equal(st.failures, 10);
  assert_false(rein_breaker_allow_retry(b, 200, NULL));
  put(b, false, 201);
  assert_true(rein_breaker_allow_retry(b, 202, NULL));
  /* an hour later nothing is forgotten */
  assert_true(rein_breaker_allow_retry(b, 3600 * S, NULL));
  rein_breaker_stats_get(b, 3600 * S, &st);
  assert_int_equal(st.calls, 101);
  rein_breaker_reset(b, 3600 * S);
  rein_breaker_stats_get(b, 3600 * S, &st);
  assert_int_equal(st.calls, 0);
  rein_breaker_free(b);
  /* time window: the failures age out */
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.gates = REIN_BREAKER_GATES_RETRIES;
  c.window = REIN_BREAKER_WINDOW_TIME;
  c.window_ns = 10 * S;
  c.buckets = 10;
  c.min_calls = 5;
  c.failure_rate = 0.5;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_OK);
  for (int i = 0; i < 5; i++) put(b, true, S + i);
  assert_false(rein_breaker_allow_retry(b, 2 * S, NULL));
  assert_true(rein_breaker_allow_retry(b, 13 * S, NULL)); /* aged out */
  rein_breaker_free(b);
  /* bounds */
  rein_errbuf e = {{0}};
  c.err = &e;
  c.gates = (rein_breaker_gates)2;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "breaker.gates"));
  c.gates = REIN_BREAKER_GATES_RETRIES;
  c.window = (rein_breaker_window)3;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "count, time or cumulative"));
  /* a classic breaker's allow_retry is its allow */
  rein_breaker_config_default(&c);
  c.window = REIN_BREAKER_WINDOW_COUNT;
  c.window_size = 4;
  c.min_calls = 4;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_OK);
  for (int i = 0; i < 4; i++) put(b, true, i);
  assert_false(rein_breaker_allow(b, 5, NULL));
  assert_false(rein_breaker_allow_retry(b, 5, NULL));
  rein_breaker_free(b);
}

static rein_policy *policy_over(rein_breaker *b, rein_budget *budget,
                                uint32_t attempts) {
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.max_attempts = attempts;
  c.backoff.jitter = REIN_JITTER_NONE;
  c.backoff.base_ns = 100 * MS;
  c.breaker = b;
  c.budget = budget;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&c, &p), REIN_OK);
  return p;
}

static void test_engine(void **state) {
  (void)state;
  rein_breaker *b = gate(REIN_BREAKER_WINDOW_COUNT, 100, 6, 0.5);
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_QUOTA;
  bc.capacity = 100;
  bc.retry_cost = 5;
  bc.timeout_retry_cost = 5;
  bc.success_increment = 0;
  rein_budget *budget = NULL;
  assert_int_equal(rein_budget_new(&bc, &budget), REIN_OK);
  rein_policy *p = policy_over(b, budget, 3);
  rein_outcome fail = {.kind = REIN_OUTCOME_FAILURE};
  rein_outcome ok = {.kind = REIN_OUTCOME_SUCCESS};
  int64_t now = 0;
  /* below min_calls the first two failed calls retry (and succeed) */
  for (int i = 0; i < 2; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, now += MS);
    assert_int_equal(d.action, REIN_ATTEMPT);
    d = rein_retry_next(&r, &fail, now += MS);
    assert_int_equal(d.action, REIN_WAIT);
    d = rein_retry_next(&r, NULL, now += d.delay_ns);
    assert_int_equal(d.action, REIN_ATTEMPT);
    assert_int_equal(d.attempt, 2);
    d = rein_retry_next(&r, &fail, now += MS);
    assert_int_equal(d.action, REIN_WAIT);
    d = rein_retry_next(&r, NULL, now += d.delay_ns);
    assert_int_equal(d.action, REIN_ATTEMPT);
    d = rein_retry_next(&r, &ok, now += MS);
    assert_int_equal(d.action, REIN_DONE);
  }
  /* window: 4 failures, 2 successes: 0.67 >= 0.5. A new call is sent; its
   * failure gives up at once, with no wait and no budget token */
  double units = rein_budget_available(budget, now);
  fprintf(stderr, "quota units after 4 retries: %g\n", units);
  assert_true(units < 100); /* the retries took theirs */
  for (int i = 0; i < 3; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, now += MS);
    assert_int_equal(d.action, REIN_ATTEMPT);
    assert_int_equal(d.attempt, 1);
    d = rein_retry_next(&r, &fail, now += MS);
    assert_int_equal(d.action, REIN_GIVE_UP);
    assert_int_equal(d.reason, REIN_GIVEUP_RETRY_BREAKER);
    assert_true(d.dont_retry);
    assert_int_equal(d.attempt, 1);
    assert_string_equal(rein_giveup_name(d.reason), "retry_breaker");
  }
  /* 5b comes before the budget: no retry was withdrawn */
  assert_true(rein_budget_available(budget, now) == units);
  /* successes bring the share under 0.5: 7 f in 18 */
  for (int i = 0; i < 9; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, now += MS);
    assert_int_equal(d.action, REIN_ATTEMPT);
    d = rein_retry_next(&r, &ok, now += MS);
    assert_int_equal(d.action, REIN_DONE);
  }
  /* a retry is permitted (8 f in 19); during its wait the share reaches
   * 0.5 (other calls fail: 11 in 22), and on resume it is refused */
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, now += MS);
  d = rein_retry_next(&r, &fail, now += MS);
  assert_int_equal(d.action, REIN_WAIT);
  for (int i = 0; i < 3; i++) put(b, true, now + 1);
  assert_int_equal(rein_breaker_state_at(b, now + 2), REIN_BREAKER_OPEN);
  d = rein_retry_next(&r, NULL, now += d.delay_ns);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_RETRY_BREAKER);
  assert_true(d.dont_retry);
  rein_policy_free(p);
  rein_budget_free(budget);
  rein_breaker_free(b);
}

/* Step 0's poll (in progress, keyed) skips 5b: it is scheduled, and asked
 * on resume like any attempt after the first. */
static void test_poll(void **state) {
  (void)state;
  rein_breaker *b = gate(REIN_BREAKER_WINDOW_COUNT, 10, 2, 0.5);
  rein_policy *p = policy_over(b, NULL, 3);
  put(b, true, 0);
  put(b, true, 1);
  assert_int_equal(rein_breaker_state_at(b, 2), REIN_BREAKER_OPEN);
  rein_call_opts o = {.has_key = true, .deadline = 60 * S};
  rein_retry r;
  rein_retry_init(&r, p, &o);
  rein_decision d = rein_retry_begin(&r, 2);
  assert_int_equal(d.action, REIN_ATTEMPT);
  rein_outcome busy = {.kind = REIN_OUTCOME_FAILURE, .in_progress = true};
  d = rein_retry_next(&r, &busy, 3);
  assert_int_equal(d.action, REIN_WAIT);
  d = rein_retry_next(&r, NULL, 3 + d.delay_ns);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_RETRY_BREAKER);
  rein_policy_free(p);
  rein_breaker_free(b);
}

/* With an adaptive throttle too: the engine's "breaker open before the
 * throttle" pre-check must not refuse a first attempt of a retry-only
 * breaker. */
static void test_with_throttle(void **state) {
  (void)state;
  rein_breaker *b = gate(REIN_BREAKER_WINDOW_COUNT, 10, 1, 0.1);
  rein_throttle_config tc;
  rein_throttle_config_default(&tc);
  rein_throttle *t = NULL;
  assert_int_equal(rein_throttle_new(&tc, &t), REIN_OK);
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.breaker = b;
  c.throttle = t;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&c, &p), REIN_OK);
  put(b, true, 0);
  assert_int_equal(rein_breaker_state_at(b, 1), REIN_BREAKER_OPEN);
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, 1);
  assert_int_equal(d.action, REIN_ATTEMPT);
  rein_policy_free(p);
  rein_throttle_free(t);
  rein_breaker_free(b);
}

/* Load per call for clients whose attempts fail with probability x. */
static double load(double x, bool with_gate, uint64_t seed,
                   uint64_t *first_attempts, uint64_t *calls_out) {
  enum { CLIENTS = 20, CALLS = 300 };
  rein_rng rng;
  rein_rng_seed(&rng, seed);
  uint64_t attempts = 0, first = 0, calls = 0;
  for (int c = 0; c < CLIENTS; c++) {
    rein_breaker *b =
        with_gate ? gate(REIN_BREAKER_WINDOW_COUNT, 100, 20, 0.1) : NULL;
    rein_policy *p = policy_over(b, NULL, 4);
    int64_t now = 0;
    for (int i = 0; i < CALLS; i++) {
      rein_retry r;
      rein_call_opts o = {.seed = seed + (uint64_t)(c * CALLS + i) + 1};
      rein_retry_init(&r, p, &o);
      rein_decision d = rein_retry_begin(&r, now += S);
      calls++;
      while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
        if (d.action == REIN_WAIT) {
          d = rein_retry_next(&r, NULL, now += d.delay_ns);
          continue;
        }
        attempts++;
        if (d.attempt == 1) first++;
        bool f = (double)(rein_rng_next(&rng) >> 11) * 0x1.0p-53 < x;
        rein_outcome o2 = {.kind = f ? REIN_OUTCOME_FAILURE
                                     : REIN_OUTCOME_SUCCESS};
        d = rein_retry_next(&r, &o2, now += MS);
      }
    }
    rein_policy_free(p);
    rein_breaker_free(b);
  }
  *first_attempts = first;
  *calls_out = calls;
  return (double)attempts / (double)calls;
}

static void test_load_claim(void **state) {
  (void)state;
  uint64_t seed = rein_test_seed();
  static const double xs[] = {0.05, 0.2, 0.5};
  for (int i = 0; i < 3; i++) {
    uint64_t f0, c0, f1, c1;
    double plain = load(xs[i], false, seed, &f0, &c0);
    double gated = load(xs[i], true, seed, &f1, &c1);
    fprintf(stderr,
            "x = %.2f: load %.3fx without, %.3fx with a retry-only breaker "
            "(failure_rate 0.1 over the last 100, min 20); first attempts "
            "%llu of %llu calls\n",
            xs[i], plain, gated, (unsigned long long)f1,
            (unsigned long long)c1);
    double x = xs[i];
    assert_true(fabs(plain - (1 + x + x * x + x * x * x)) < 0.05);
    assert_int_equal(f1, c1); /* never a first attempt refused */
    if (x >= 0.2) assert_true(gated <= 1.1);
    else assert_true(gated > 1 + x / 2 && gated < 1 + 1.5 * x);
  }
}

/* Two threads on one retry-only breaker (TSan): every first attempt is
 * permitted, no outcome is lost (count and cumulative windows are exact),
 * and allow_retry answers without a lock. */
typedef struct gjob {
  rein_breaker *b;
  long refused_first, retries_refused;
} gjob;

static void *gworker(void *arg) {
  gjob *j = arg;
  for (long i = 0; i < 20000; i++) {
    rein_breaker_permit p;
    if (!rein_breaker_allow(j->b, i, &p)) j->refused_first++;
    rein_breaker_record(j->b, &p, i % 3 == 0, MS, i);
    if (!rein_breaker_allow_retry(j->b, i, &p)) j->retries_refused++;
    else rein_breaker_record(j->b, &p, i % 3 == 0, MS, i);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  for (int w = 0; w < 2; w++) {
    rein_breaker *b =
        w ? gate(REIN_BREAKER_WINDOW_CUMULATIVE, 1, 10, 0.3)
          : gate(REIN_BREAKER_WINDOW_COUNT, 1000, 10, 0.3);
    gjob j[2] = {{b, 0, 0}, {b, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, gworker, &j[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    rein_breaker_stats st;
    rein_breaker_stats_get(b, 0, &st);
    long recorded = 2 * 20000 * 2 - j[0].retries_refused - j[1].retries_refused;
    fprintf(stderr, "%s window: %llu outcomes (%ld recorded), %llu failures, "
            "%ld retries refused\n",
            w ? "cumulative" : "count", (unsigned long long)st.calls,
            recorded, (unsigned long long)st.failures,
            j[0].retries_refused + j[1].retries_refused);
    assert_int_equal(j[0].refused_first + j[1].refused_first, 0);
    /* 1/3 failures >= 0.3: retries are refused once min_calls are in */
    assert_true(j[0].retries_refused + j[1].retries_refused > 30000);
    if (w) assert_int_equal(st.calls, (uint64_t)recorded);
    else assert_int_equal(st.calls, 1000);
    rein_breaker_free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_breaker_rule),
      cmocka_unit_test(test_cumulative_and_time),
      cmocka_unit_test(test_engine),
      cmocka_unit_test(test_poll),
      cmocka_unit_test(test_with_throttle),
      cmocka_unit_test(test_load_claim),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
