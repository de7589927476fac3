/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_breaker.c: the breaker's state machine under a manual clock: trips on
 * failure rate and slow-call rate only after min_calls, stays open for the
 * jittered duration, admits exactly N half-open probes, closes or reopens on
 * their verdict, ignores outcomes from an older generation, forced and
 * disabled modes, the callback, both window kinds, validation, fault loop.
 */
#include "rein_test.h"
#include "rein.h"

#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

typedef struct {
  int n;
  rein_breaker_state from[16], to[16];
} transitions;

static void on_change(void *ctx, rein_breaker_state from, rein_breaker_state to,
                      int64_t now) {
  (void)now;
  transitions *t = ctx;
  if (t->n < 16) {
    t->from[t->n] = from;
    t->to[t->n] = to;
  }
  t->n++;
}

static rein_breaker *mk(rein_breaker_window w, transitions *t,
                        rein_metrics *m) {
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.window = w;
  c.window_size = 10;
  c.window_ns = 10 * S;
  c.buckets = 10;
  c.min_calls = 5;
  c.failure_rate = 0.5;
  c.open_ns = 2 * S;
  c.open_jitter = 0;
  c.half_open_probes = 2;
  c.on_state_change = on_change;
  c.callback_ctx = t;
  c.metrics = m;
  rein_breaker *b;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_OK);
  return b;
}

static void call(rein_breaker *b, int64_t now, bool fail) {
  rein_breaker_permit p;
  assert_true(rein_breaker_allow(b, now, &p));
  rein_breaker_record(b, &p, fail, 1 * MS, now);
}

static void lifecycle(rein_breaker_window w) {
  transitions t = {0};
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mc, &m), REIN_OK);
  rein_breaker *b = mk(w, &t, m);
  int64_t now = 1000 * S;
  /* 4 failures: below min_calls, stays closed */
  for (int i = 0; i < 4; i++) call(b, now, true);
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_CLOSED);
  /* 5th call fails: 5/5 >= 50% with min_calls reached -> OPEN */
  call(b, now, true);
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_OPEN);
  assert_int_equal(t.n, 1);
  assert_int_equal(t.to[0], REIN_BREAKER_OPEN);
  rein_breaker_permit p;
  assert_false(rein_breaker_allow(b, now + 1999 * MS, &p));
  assert_int_equal(p.valid, 0);
  /* after open_ns: exactly 2 probes */
  rein_breaker_permit p1, p2, p3;
  assert_true(rein_breaker_allow(b, now + 2 * S, &p1));
  assert_true(p1.probe);
  assert_true(rein_breaker_allow(b, now + 2 * S, &p2));
  assert_false(rein_breaker_allow(b, now + 2 * S, &p3));
  assert_int_equal(rein_breaker_state_at(b, now + 2 * S), REIN_BREAKER_HALF_OPEN);
  /* one probe fails: 1/2 >= 50% -> reopen at once */
  rein_breaker_record(b, &p1, true, MS, now + 2 * S);
  assert_int_equal(rein_breaker_state_at(b, now + 2 * S), REIN_BREAKER_OPEN);
  /* the other probe's late success belongs to an old generation: ignored */
  rein_breaker_record(b, &p2, false, MS, now + 2 * S);
  assert_int_equal(rein_breaker_state_at(b, now + 2 * S), REIN_BREAKER_OPEN);
  /* next cycle: both probes succeed -> CLOSED with an empty window */
  now += 4 * S;
  assert_true(rein_breaker_allow(b, now, &p1));
  assert_true(rein_breaker_allow(b, now, &p2));
  rein_breaker_record(b, &p1, false, MS, now);
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_HALF_OPEN);
  rein_breaker_record(b, &p2, false, MS, now);
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_CLOSED);
  rein_breaker_stats st;
  rein_breaker_stats_get(b, now, &st);
  assert_int_equal(st.calls, 0);
  /* transitions: open, half, open, half, closed */
  assert_int_equal(t.n, 5);
  const rein_breaker_state want[] = {REIN_BREAKER_OPEN, REIN_BREAKER_HALF_OPEN,
                                     REIN_BREAKER_OPEN, REIN_BREAKER_HALF_OPEN,
                                     REIN_BREAKER_CLOSED};
  for (int i = 0; i < 5; i++) assert_int_equal(t.to[i], want[i]);
  assert_int_equal(rein_metrics_get(m, REIN_C_BREAKER_OPENED), 2);
  assert_int_equal(rein_metrics_get(m, REIN_C_BREAKER_HALF_OPENED), 2);
  assert_int_equal(rein_metrics_get(m, REIN_C_BREAKER_CLOSED), 1);
  /* mostly successes keep it closed: 4 fail of 10 */
  for (int i = 0; i < 6; i++) call(b, now, false);
  for (int i = 0; i < 4; i++) call(b, now, true);
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_CLOSED);
  rein_breaker_free(b);
  rein_metrics_free(m);
}

static void test_lifecycle_time(void **state) {
  (void)state;
  lifecycle(REIN_BREAKER_WINDOW_TIME);
}

static void test_lifecycle_count(void **state) {
  (void)state;
  lifecycle(REIN_BREAKER_WINDOW_COUNT);
}

static void test_windows_slide(void **state) {
  (void)state;
  transitions t = {0};
  /* time window: failures older than 10 s no longer count */
  rein_breaker *b = mk(REIN_BREAKER_WINDOW_TIME, &t, NULL);
  int64_t now = 500 * S;
  for (int i = 0; i < 4; i++) call(b, now, true);
  now += 11 * S;
  call(b, now, true); /* only 1 call in the window now */
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_CLOSED);
  rein_breaker_stats st;
  rein_breaker_stats_get(b, now, &st);
  assert_int_equal(st.calls, 1);
  assert_int_equal(st.failures, 1);
  rein_breaker_free(b);
  /* count window: only the last 10 calls count */
  b = mk(REIN_BREAKER_WINDOW_COUNT, &t, NULL);
  for (int i = 0; i < 4; i++) call(b, now, true);
  for (int i = 0; i < 10; i++) call(b, now, false);
  rein_breaker_stats_get(b, now, &st);
  assert_int_equal(st.calls, 10);
  assert_int_equal(st.failures, 0);
  for (int i = 0; i < 4; i++) call(b, now, true); /* 4 of 10 */
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_CLOSED);
  call(b, now, true); /* 5 of 10 -> open */
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_OPEN);
  rein_breaker_free(b);
}

static void test_slow_calls(void **state) {
  (void)state;
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.min_calls = 4;
  c.slow_call_ns = 500 * MS;
  c.slow_rate = 0.75;
  rein_breaker *b;
  assert_int_equal(rein_breaker_new(&c, &b), REIN_OK);
  rein_breaker_permit p;
  for (int i = 0; i < 3; i++) {
    assert_true(rein_breaker_allow(b, S, &p));
    rein_breaker_record(b, &p, false, 600 * MS, S); /* slow success */
  }
  assert_true(rein_breaker_allow(b, S, &p));
  rein_breaker_record(b, &p, false, 10 * MS, S);
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_CLOSED); /* 3/4 slow, checked only on slow */
  assert_true(rein_breaker_allow(b, S, &p));
  rein_breaker_record(b, &p, false, 700 * MS, S); /* 4/5 slow >= 75% */
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_OPEN);
  rein_breaker_free(b);
}

static void test_open_jitter_and_stuck_probe(void **state) {
  (void)state;
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.min_calls = 1;
  c.open_ns = 10 * S;
  c.open_jitter = 0.2;
  c.half_open_probes = 1;
  int64_t lo = 100 * S, hi = 0;
  for (uint64_t seed = 1; seed <= 200; seed++) {
    c.seed = seed;
    rein_breaker *b;
    assert_int_equal(rein_breaker_new(&c, &b), REIN_OK);
    call(b, 0, true);
    /* find when it lets a probe through, to 10 ms */
    int64_t t = 0;
    rein_breaker_permit p;
    while (!rein_breaker_allow(b, t, &p)) t += 10 * MS;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
    assert_true(t >= 8 * S && t <= 12 * S + 10 * MS);
    /* a probe that never reports is given up on after open_ns */
    rein_breaker_permit q;
    assert_false(rein_breaker_allow(b, t + 5 * S, &q));
    assert_true(rein_breaker_allow(b, t + 10 * S, &q));
    assert_true(q.probe);
    rein_breaker_free(b);
  }
  /* the jitter actually spreads the reopen times over most of +-20% */
  assert_true(lo < 8500 * MS && hi > 11500 * MS);
}

static void test_modes(void **state) {
  (void)state;
  transitions t = {0};
  rein_breaker *b = mk(REIN_BREAKER_WINDOW_TIME, &t, NULL);
  rein_breaker_permit p;
  rein_breaker_set_mode(b, REIN_BREAKER_FORCED_OPEN);
  assert_false(rein_breaker_allow(b, S, &p));
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_OPEN);
  rein_breaker_set_mode(b, REIN_BREAKER_DISABLED);
  for (int i = 0; i < 50; i++) call(b, S, true);
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_CLOSED);
  rein_breaker_set_mode(b, REIN_BREAKER_NORMAL);
  assert_int_equal(rein_breaker_get_mode(b), REIN_BREAKER_NORMAL);
  for (int i = 0; i < 5; i++) call(b, S, true);
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_OPEN);
  rein_breaker_reset(b, S);
  assert_int_equal(rein_breaker_state_at(b, S), REIN_BREAKER_CLOSED);
  assert_true(rein_breaker_allow(b, S, &p));
  assert_string_equal(rein_breaker_state_name(REIN_BREAKER_HALF_OPEN), "half_open");
  rein_breaker_free(b);
}

static void test_validation(void **state) {
  (void)state;
  rein_breaker_config c;
  rein_errbuf e;
  rein_breaker *b;
#define BAD(stmt, field)                                                       \
  do {                                                                         \
    rein_breaker_config_default(&c);                                           \
    c.err = &e;                                                                \
    stmt;                                                                      \
    assert_int_equal(rein_breaker_new(&c, &b), REIN_EINVAL);                   \
    if (!strstr(e.msg, field)) fail_msg("message '%s' lacks '%s'", e.msg, field); \
  } while (0)
  BAD(c.failure_rate = 0, "breaker.failure_rate");
  BAD(c.failure_rate = 1.5, "breaker.failure_rate");
  BAD(c.min_calls = 0, "breaker.min_calls");
  BAD(c.open_ns = 0, "breaker.open_ns");
  BAD(c.open_jitter = 1, "breaker.open_jitter");
  BAD(c.half_open_probes = 0, "breaker.half_open_probes");
  BAD(c.buckets = 0, "breaker.buckets");
  BAD(c.window_ns = 10, "breaker.window_ns");
  BAD((c.window = REIN_BREAKER_WINDOW_COUNT, c.window_size = 0), "breaker.window_size");
  BAD(c.slow_call_ns = -1, "breaker.slow_call_ns");
#undef BAD
}

static int fault_body(void *ctx, const rein_allocator *a) {
  rein_breaker_config c;
  rein_breaker_config_default(&c);
  c.window = *(rein_breaker_window *)ctx;
  c.alloc = a;
  rein_breaker *b = NULL;
  rein_status st = rein_breaker_new(&c, &b);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    return -1;
  }
  call(b, 1, true);
  rein_breaker_free(b);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_breaker_window w = REIN_BREAKER_WINDOW_TIME;
  rein_test_fault_loop(fault_body, &w);
  w = REIN_BREAKER_WINDOW_COUNT;
  rein_test_fault_loop(fault_body, &w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lifecycle_time),
      cmocka_unit_test(test_lifecycle_count),
      cmocka_unit_test(test_windows_slide),
      cmocka_unit_test(test_slow_calls),
      cmocka_unit_test(test_open_jitter_and_stuck_probe),
      cmocka_unit_test(test_modes),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
