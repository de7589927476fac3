/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_concurrency.c: several threads hammering one budget, one breaker and
 * one metrics object keep their invariants: no lost updates (every deposit,
 * window entry and counter add is accounted for), retries never exceed the
 * ratio budget, token/quota budgets never go negative or past capacity, a
 * breaker hands out at most N half-open probes at once. Also run under
 * ThreadSanitizer (label concurrency).
 */
#include "rein_test.h"
#include "rein.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define S REIN_NS_PER_S
#define THREADS 4
#define ITERS 20000

typedef struct {
  rein_budget *budget;
  rein_breaker *breaker;
  rein_metrics *metrics;
  _Atomic long granted;
  _Atomic long probes_out, max_probes_out;
  _Atomic long probes_by_gen[4096]; /* probe permits issued per generation */
  pthread_barrier_t go;
} shared;

static void *ratio_worker(void *arg) {
  shared *s = arg;
  pthread_barrier_wait(&s->go);
  long granted = 0;
  for (int i = 0; i < ITERS; i++) {
    rein_budget_on_request(s->budget, 10 * S);
    /* try to spend more than the budget allows: 2 retries per request */
    granted += rein_budget_try_retry(s->budget, 10 * S, false, NULL);
    granted += rein_budget_try_retry(s->budget, 10 * S, false, NULL);
    rein_metrics_add(s->metrics, REIN_C_ATTEMPTS, 1);
  }
  atomic_fetch_add(&s->granted, granted);
  return NULL;
}

static void run_threads(void *(*fn)(void *), shared *s) {
  pthread_t t[THREADS];
  pthread_barrier_init(&s->go, NULL, THREADS);
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, fn, s);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&s->go);
}

static void test_ratio_budget_never_overdraws(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 0.1;
  bc.min_retries_per_sec = 5; /* floor: 5 * 10 s = 50 */
  bc.ttl_ns = 10 * S;
  shared s;
  memset(&s, 0, sizeof s);
  assert_int_equal(rein_budget_new(&bc, &s.budget), REIN_OK);
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  assert_int_equal(rein_metrics_new(&mc, &s.metrics), REIN_OK);
  run_threads(ratio_worker, &s);
  long requests = (long)THREADS * ITERS;
  long bound = requests / 10 + 50;
  fprintf(stderr, "ratio budget: %d threads, %ld requests, %ld retries granted, bound %ld\n",
          THREADS, requests, (long)s.granted, bound);
  assert_true(s.granted <= bound);
  /* and it is not starved by contention: at least 90% of the bound */
  assert_true(s.granted >= bound * 9 / 10);
  /* no lost updates: remaining balance = deposits + floor - granted */
  double left = rein_budget_available(s.budget, 10 * S);
  assert_true(left > (double)(bound - s.granted) - 0.01 &&
              left < (double)(bound - s.granted) + 0.01);
  assert_int_equal(rein_metrics_get(s.metrics, REIN_C_ATTEMPTS), requests);
  rein_budget_free(s.budget);
  rein_metrics_free(s.metrics);
}

static void *bucket_worker(void *arg) {
  shared *s = arg;
  pthread_barrier_wait(&s->go);
  long granted = 0;
  for (int i = 0; i < ITERS; i++) {
    uint32_t cost;
    if (rein_budget_try_retry(s->budget, S, i % 3 == 0, &cost)) {
      granted++;
      if (i % 2) rein_budget_on_success(s->budget, S, cost);
    }
    if (i % 5 == 0) rein_budget_on_success(s->budget, S, 0);
    rein_budget_on_failure(s->budget, S);
    double a = rein_budget_available(s->budget, S);
    assert_true(a >= 0 && a <= 500);
  }
  atomic_fetch_add(&s->granted, granted);
  return NULL;
}

static void test_bucket_and_quota_stay_in_bounds(void **state) {
  (void)state;
  for (int k = REIN_BUDGET_TOKEN_BUCKET; k <= REIN_BUDGET_QUOTA; k++) {
    rein_budget_config bc;
    rein_budget_config_default(&bc);
    bc.kind = (rein_budget_kind)k;
    shared s;
    memset(&s, 0, sizeof s);
    assert_int_equal(rein_budget_new(&bc, &s.budget), REIN_OK);
    run_threads(bucket_worker, &s);
    assert_true(s.granted > 0);
    rein_budget_free(s.budget);
  }
}

/* Quota exactness: capacity C, cost 1, no refunds: exactly C granted. */
static void *quota_drain(void *arg) {
  shared *s = arg;
  pthread_barrier_wait(&s->go);
  long g = 0;
  for (int i = 0; i < ITERS; i++) g += rein_budget_try_retry(s->budget, S, false, NULL);
  atomic_fetch_add(&s->granted, g);
  return NULL;
}

static void test_quota_exact(void **state) {
  (void)state;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_QUOTA;
  bc.capacity = 12345;
  bc.retry_cost = 1;
  shared s;
  memset(&s, 0, sizeof s);
  assert_int_equal(rein_budget_new(&bc, &s.budget), REIN_OK);
  run_threads(quota_drain, &s);
  assert_int_equal(s.granted, 12345);
  rein_budget_free(s.budget);
}

static void *breaker_worker(void *arg) {
  shared *s = arg;
  pthread_barrier_wait(&s->go);
  for (int i = 0; i < ITERS; i++) {
    rein_breaker_permit p;
    int64_t now = S + (int64_t)(i / 100) * S; /* time moves: open/half-open cycles */
    if (!rein_breaker_allow(s->breaker, now, &p)) continue;
    if (p.probe) {
      atomic_fetch_add(&s->probes_by_gen[p.generation % 4096], 1);
      long out = atomic_fetch_add(&s->probes_out, 1) + 1;
      long mx = atomic_load(&s->max_probes_out);
      while (out > mx && !atomic_compare_exchange_weak(&s->max_probes_out, &mx, out)) {
      }
    }
    bool fail = (i % 10) < 6; /* 60% failures: keeps tripping */
    rein_breaker_record(s->breaker, &p, fail, 1000, now);
    if (p.probe) atomic_fetch_sub(&s->probes_out, 1);
  }
  return NULL;
}

static void test_breaker_probes_bounded(void **state) {
  (void)state;
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.min_calls = 10;
  c.open_ns = S;
  c.open_jitter = 0.1;
  c.half_open_probes = 3;
  shared s;
  memset(&s, 0, sizeof s);
  assert_int_equal(rein_breaker_new(&c, &s.breaker), REIN_OK);
  run_threads(breaker_worker, &s);
  /* Each half-open round (one generation) hands out at most 3 probes. More
   * can be in flight at once across rounds: a round whose probes have not
   * all reported is given up on after open_ns, and these threads' clocks
   * drift apart by seconds. */
  rein_breaker_stats st;
  rein_breaker_stats_get(s.breaker, 1000 * S, &st);
  assert_true(st.generation > 2); /* it did cycle */
  assert_true(st.generation < 4096);
  long max_round = 0;
  for (int g = 0; g < 4096; g++)
    if (s.probes_by_gen[g] > max_round) max_round = s.probes_by_gen[g];
  fprintf(stderr,
          "breaker: %u generations; max probes per half-open round %ld "
          "(limit 3); max in flight across rounds %ld\n",
          st.generation, max_round, (long)s.max_probes_out);
  assert_true(max_round <= 3);
  assert_true(max_round >= 1);
  rein_breaker_free(s.breaker);
}

/* No lost updates in the breaker's count window: N threads each record M
 * successes into a window larger than N*M. */
static void *count_worker(void *arg) {
  shared *s = arg;
  pthread_barrier_wait(&s->go);
  for (int i = 0; i < ITERS; i++) {
    rein_breaker_permit p;
    if (rein_breaker_allow(s->breaker, S, &p))
      rein_breaker_record(s->breaker, &p, i % 4 == 0, 1000, S);
  }
  return NULL;
}

static void test_breaker_windows_exact(void **state) {
  (void)state;
  for (int w = 0; w < 2; w++) {
    rein_breaker_config c;
    rein_breaker_config_default(&c);
    c.window = (rein_breaker_window)w;
    c.window_size = 100000;
    c.failure_rate = 0.9; /* 25% failures never trip */
    shared s;
    memset(&s, 0, sizeof s);
    assert_int_equal(rein_breaker_new(&c, &s.breaker), REIN_OK);
    run_threads(count_worker, &s);
    rein_breaker_stats st;
    rein_breaker_stats_get(s.breaker, S, &st);
    assert_int_equal(st.calls, (uint64_t)THREADS * ITERS);
    assert_int_equal(st.failures, (uint64_t)THREADS * ITERS / 4);
    rein_breaker_free(s.breaker);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratio_budget_never_overdraws),
      cmocka_unit_test(test_bucket_and_quota_stay_in_bounds),
      cmocka_unit_test(test_quota_exact),
      cmocka_unit_test(test_breaker_probes_bounded),
      cmocka_unit_test(test_breaker_windows_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
