/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c: counting, give-ups by reason, NULL-safe adds, the exact
 * Prometheus text (HELP/TYPE lines, labels), truncation with REIN_ETOOBIG,
 * label validation, fault loop; histograms (bucket edges, exact seconds,
 * what the retry engine records per attempt and per call), gauges of a
 * watched budget and breaker, and several policies on one page with each
 * family once.
 */
#include "rein_test.h"
#include "rein.h"

#include <stdio.h>
#include <string.h>

static void test_counts_and_text(void **state) {
  (void)state;
  rein_metrics_config c;
  rein_metrics_config_default(&c);
  c.policy = "ledger.charge";
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&c, &m), REIN_OK);
  rein_metrics_add(m, REIN_C_ATTEMPTS, 3);
  rein_metrics_add(m, REIN_C_ATTEMPTS, 2);
  rein_metrics_add(NULL, REIN_C_ATTEMPTS, 2); /* no-op */
  rein_metrics_add_giveup(m, REIN_GIVEUP_BUDGET);
  rein_metrics_add_giveup(m, REIN_GIVEUP_BUDGET);
  rein_metrics_add_giveup(m, 999); /* ignored */
  assert_int_equal(rein_metrics_get(m, REIN_C_ATTEMPTS), 5);
  assert_int_equal(rein_metrics_get_giveup(m, REIN_GIVEUP_BUDGET), 2);
  char buf[32768];
  size_t need;
  assert_int_equal(rein_metrics_write_prometheus(m, buf, sizeof buf, &need, true),
                   REIN_OK);
  assert_int_equal(need, strlen(buf));
  assert_non_null(strstr(buf, "# HELP rein_attempts_total Attempts sent, first attempts and retries.\n"
                              "# TYPE rein_attempts_total counter\n"
                              "rein_attempts_total{policy=\"ledger.charge\"} 5\n"));
  assert_non_null(strstr(buf, "rein_giveups_total{policy=\"ledger.charge\",reason=\"budget\"} 2\n"));
  assert_non_null(strstr(buf, "rein_giveups_total{policy=\"ledger.charge\",reason=\"max_attempts\"} 0\n"));
  char small[32];
  assert_int_equal(rein_metrics_write_prometheus(m, small, sizeof small, &need, true),
                   REIN_ETOOBIG);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_int_equal(rein_metrics_write_prometheus(m, buf, sizeof buf, NULL, false), REIN_OK);
  assert_null(strstr(buf, "# HELP"));
  rein_metrics_free(m);
}

static void test_label_validation(void **state) {
  (void)state;
  rein_metrics_config c;
  rein_metrics_config_default(&c);
  rein_errbuf e;
  c.err = &e;
  c.policy = "bad\"label";
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&c, &m), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "metrics.policy"));
  c.policy = "";
  assert_int_equal(rein_metrics_new(&c, &m), REIN_EINVAL);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_metrics_config c;
  rein_metrics_config_default(&c);
  c.alloc = a;
  rein_metrics *m = NULL;
  if (rein_metrics_new(&c, &m) != REIN_OK) return -1;
  rein_metrics_add(m, REIN_C_CALLS, 1);
  rein_metrics_free(m);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

/* Bucket edges are inclusive ("le"), values print as exact seconds. */
static void test_histogram_edges(void **state) {
  (void)state;
  rein_metrics_config c;
  rein_metrics_config_default(&c);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&c, &m), REIN_OK);
  rein_metrics_observe(m, REIN_H_ATTEMPT_DURATION, 10000);    /* 10 us: le=0.00001 */
  rein_metrics_observe(m, REIN_H_ATTEMPT_DURATION, 10001);    /* next bucket */
  rein_metrics_observe(m, REIN_H_ATTEMPT_DURATION, -5);       /* counts as 0 */
  rein_metrics_observe(m, REIN_H_ATTEMPT_DURATION, 200 * REIN_NS_PER_S); /* +Inf */
  rein_metrics_observe(NULL, REIN_H_ATTEMPT_DURATION, 1);     /* no-op */
  rein_histogram_snapshot s;
  assert_int_equal(rein_metrics_histogram_get(m, REIN_H_ATTEMPT_DURATION, &s),
                   REIN_OK);
  assert_int_equal(s.count, 4);
  assert_int_equal(s.cumulative[0], 1);       /* le=0 */
  assert_int_equal(s.cumulative[1], 2);       /* le=0.00001 */
  assert_int_equal(s.cumulative[2], 3);       /* le=0.00005 */
  assert_int_equal(s.cumulative[s.n_bounds - 1], 3);
  assert_int_equal(s.sum, 10000 + 10001 + 200 * REIN_NS_PER_S);
  assert_int_equal(rein_metrics_histogram_get(m, REIN_H_COUNT_, &s),
                   REIN_EINVAL);
  char buf[32768];
  assert_int_equal(rein_metrics_write_prometheus(m, buf, sizeof buf, NULL, true),
                   REIN_OK);
  assert_non_null(strstr(buf, "# TYPE rein_attempt_duration_seconds histogram\n"));
  assert_non_null(strstr(buf,
      "rein_attempt_duration_seconds_bucket{policy=\"default\",le=\"0.00001\"} 2\n"));
  assert_non_null(strstr(buf,
      "rein_attempt_duration_seconds_bucket{policy=\"default\",le=\"0.065\"} 3\n"));
  assert_non_null(strstr(buf,
      "rein_attempt_duration_seconds_bucket{policy=\"default\",le=\"+Inf\"} 4\n"));
  assert_non_null(strstr(buf,
      "rein_attempt_duration_seconds_sum{policy=\"default\"} 200.000020001\n"));
  assert_non_null(strstr(buf, "rein_attempt_duration_seconds_count{policy=\"default\"} 4\n"));
  assert_non_null(strstr(buf, "rein_call_retries_bucket{policy=\"default\",le=\"5\"} 0\n"));
  /* no watched objects: no gauges */
  assert_null(strstr(buf, "rein_budget_available"));
  assert_null(strstr(buf, "rein_breaker_state"));
  rein_metrics_free(m);
}

static void one_call(const rein_policy *p, rein_manual_clock *mc,
                     const rein_outcome_kind *kinds, int n) {
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, rein_manual_clock_get(mc));
  for (int i = 0; d.action != REIN_DONE && d.action != REIN_GIVE_UP; ) {
    if (d.action == REIN_WAIT) {
      rein_manual_clock_advance(mc, d.delay_ns);
      d = rein_retry_next(&r, NULL, rein_manual_clock_get(mc));
      continue;
    }
    rein_manual_clock_advance(mc, 3 * 1000000); /* every attempt takes 3 ms */
    rein_outcome o = {0};
    o.kind = kinds[i < n ? i : n - 1];
    i++;
    d = rein_retry_next(&r, &o, rein_manual_clock_get(mc));
  }
}

/* What the engine records: attempt durations, each delay, and per call the
 * attempts, the retries and the total delay (A96: only calls with retries). */
static void test_engine_records(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, 1000 * REIN_NS_PER_S);
  rein_metrics_config mcfg;
  rein_metrics_config_default(&mcfg);
  mcfg.policy = "svc.op";
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mcfg, &m), REIN_OK);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 100 * 1000000LL;
  pc.metrics = m;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_outcome_kind ok[] = {REIN_OUTCOME_SUCCESS};
  rein_outcome_kind fail_ok[] = {REIN_OUTCOME_FAILURE, REIN_OUTCOME_FAILURE,
                                 REIN_OUTCOME_SUCCESS};
  rein_outcome_kind fail[] = {REIN_OUTCOME_FAILURE};
  one_call(p, &mc, ok, 1);      /* 1 attempt */
  one_call(p, &mc, fail_ok, 3); /* 3 attempts, 2 delays of 100 ms */
  one_call(p, &mc, fail, 1);    /* 3 attempts, gives up */
  rein_histogram_snapshot s;
  rein_metrics_histogram_get(m, REIN_H_ATTEMPT_DURATION, &s);
  assert_int_equal(s.count, 7);
  assert_int_equal(s.sum, 7 * 3 * 1000000LL);
  rein_metrics_histogram_get(m, REIN_H_RETRY_DELAY, &s);
  assert_int_equal(s.count, 4);
  assert_int_equal(s.sum, 4 * 100 * 1000000LL);
  rein_metrics_histogram_get(m, REIN_H_CALL_ATTEMPTS, &s);
  assert_int_equal(s.count, 3);
  assert_int_equal(s.sum, 7);
  assert_int_equal(s.cumulative[0], 1); /* le=1: the call that succeeded at once */
  assert_int_equal(s.cumulative[2], 3); /* le=3 */
  rein_metrics_histogram_get(m, REIN_H_CALL_RETRIES, &s);
  assert_int_equal(s.count, 2); /* the first call had no retries */
  assert_int_equal(s.sum, 4);
  rein_metrics_histogram_get(m, REIN_H_CALL_RETRY_DELAY, &s);
  assert_int_equal(s.count, 2);
  assert_int_equal(s.sum, 4 * 100 * 1000000LL);
  rein_policy_free(p);
  rein_metrics_free(m);
}

/* Two policies on one page: every family's HELP/TYPE once, then the samples
 * of both; gauges of the watched budget and breaker. */
static void test_many_and_gauges(void **state) {
  (void)state;
  rein_metrics_config c;
  rein_metrics_config_default(&c);
  rein_metrics *a, *b;
  c.policy = "a";
  assert_int_equal(rein_metrics_new(&c, &a), REIN_OK);
  c.policy = "b";
  assert_int_equal(rein_metrics_new(&c, &b), REIN_OK);
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.kind = REIN_BUDGET_TOKEN_BUCKET;
  rein_budget *bud;
  assert_int_equal(rein_budget_new(&bc, &bud), REIN_OK);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  rein_breaker *brk;
  assert_int_equal(rein_breaker_new(&kc, &brk), REIN_OK);
  rein_metrics_watch_budget(a, bud);
  rein_metrics_watch_breaker(b, brk);
  rein_metrics_add(a, REIN_C_CALLS, 2);
  rein_metrics_add(b, REIN_C_CALLS, 5);
  const rein_metrics *ms[] = {a, b};
  char buf[65536];
  size_t need;
  assert_int_equal(rein_metrics_write_prometheus_many(ms, 2, 0, buf, sizeof buf,
                                                      &need),
                   REIN_OK);
  assert_int_equal(need, strlen(buf));
  const char *h = strstr(buf, "# TYPE rein_calls_total counter\n");
  assert_non_null(h);
  assert_null(strstr(h + 1, "# TYPE rein_calls_total counter\n"));
  assert_non_null(strstr(buf, "# TYPE rein_calls_total counter\n"
                              "rein_calls_total{policy=\"a\"} 2\n"
                              "rein_calls_total{policy=\"b\"} 5\n"));
  /* every HELP line names a different family */
  for (const char *p = strstr(buf, "# HELP "); p; p = strstr(p + 1, "# HELP ")) {
    char name[128];
    assert_int_equal(sscanf(p, "# HELP %127s", name), 1);
    char key[160];
    snprintf(key, sizeof key, "# HELP %s ", name);
    assert_null(strstr(p + 1, key));
  }
  assert_non_null(strstr(buf, "# TYPE rein_budget_available gauge\n"
                              "rein_budget_available{policy=\"a\"} "));
  assert_null(strstr(buf, "rein_budget_available{policy=\"b\"}"));
  assert_non_null(strstr(buf, "rein_breaker_state{policy=\"b\",state=\"closed\"} 1\n"
                              "rein_breaker_state{policy=\"b\",state=\"open\"} 0\n"
                              "rein_breaker_state{policy=\"b\",state=\"half_open\"} 0\n"));
  /* the same label twice would make colliding series */
  const rein_metrics *dup[] = {a, a};
  assert_int_equal(rein_metrics_write_prometheus_many(dup, 2, 0, buf, sizeof buf,
                                                      NULL),
                   REIN_EINVAL);
  const rein_metrics *none[] = {NULL};
  assert_int_equal(rein_metrics_write_prometheus_many(none, 1, 0, buf, sizeof buf,
                                                      NULL),
                   REIN_EINVAL);
  char small[64];
  assert_int_equal(rein_metrics_write_prometheus_many(ms, 2, 0, small,
                                                      sizeof small, &need),
                   REIN_ETOOBIG);
  assert_true(need > sizeof small);
  rein_metrics_watch_budget(a, NULL);
  rein_metrics_watch_breaker(b, NULL);
  assert_int_equal(rein_metrics_write_prometheus_many(ms, 2, 0, buf, sizeof buf,
                                                      NULL),
                   REIN_OK);
  assert_null(strstr(buf, "rein_budget_available"));
  rein_budget_free(bud);
  rein_breaker_free(brk);
  rein_metrics_free(a);
  rein_metrics_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_and_text),
      cmocka_unit_test(test_label_validation),
      cmocka_unit_test(test_histogram_edges),
      cmocka_unit_test(test_engine_records),
      cmocka_unit_test(test_many_and_gauges),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
