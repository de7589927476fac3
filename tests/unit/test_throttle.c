/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_throttle.c: the SRE-book formula p = max(0, (req - K*acc)/(req + 1))
 * exactly, its effect on admissions statistically, recovery as accepts
 * return and old requests leave the window, and validation.
 */
#include "rein_test.h"
#include "rein.h"

#include <math.h>
#include <string.h>

#define S REIN_NS_PER_S

static rein_throttle *mk(double k) {
  rein_throttle_config c;
  rein_throttle_config_default(&c);
  c.k = k;
  c.window_ns = 60 * S;
  c.buckets = 6;
  rein_throttle *t;
  assert_int_equal(rein_throttle_new(&c, &t), REIN_OK);
  return t;
}

static void test_formula(void **state) {
  (void)state;
  rein_throttle *t = mk(2.0);
  rein_rng r;
  rein_rng_seed(&r, rein_test_seed());
  int64_t now = 100 * S;
  assert_true(rein_throttle_probability(t, now) == 0);
  /* 100 requests, 10 accepted: p = (100 - 20) / 101 */
  for (int i = 0; i < 100; i++) (void)rein_throttle_admit(t, now, &r);
  for (int i = 0; i < 10; i++) rein_throttle_on_accept(t, now);
  assert_true(fabs(rein_throttle_probability(t, now) - 80.0 / 101.0) < 1e-12);
  /* healthy backend: accepts >= requests / K -> p = 0 */
  for (int i = 0; i < 40; i++) rein_throttle_on_accept(t, now);
  assert_true(rein_throttle_probability(t, now) == 0);
  rein_throttle_free(t);
}

static void test_rejects_in_proportion(void **state) {
  (void)state;
  rein_throttle *t = mk(2.0);
  rein_rng r;
  rein_rng_seed(&r, rein_test_seed() + 1);
  int64_t now = 10 * S;
  /* a backend that accepts nothing: after N requests p = N/(N+1) -> 1 */
  int sent = 0;
  for (int i = 0; i < 10000; i++) sent += rein_throttle_admit(t, now, &r);
  /* expected sends ~ sum 1/(i+1) ~ ln(10000) + 0.58 ~ 9.8 */
  assert_true(sent >= 3 && sent <= 30);
  /* A backend accepting 25% of what it gets (below 1/K): requests counted
   * include the locally rejected ones, so the throttle keeps cutting the
   * load it sends; the probability stays exactly the formula... */
  rein_throttle_free(t);
  t = mk(2.0);
  sent = 0;
  int accepted = 0;
  for (int i = 0; i < 40000; i++) {
    if (rein_throttle_admit(t, now, &r)) {
      sent++;
      if (rein_rng_uniform(&r) < 0.25) {
        rein_throttle_on_accept(t, now);
        accepted++;
      }
    }
  }
  double want = (40000.0 - 2.0 * accepted) / 40001.0;
  assert_true(fabs(rein_throttle_probability(t, now) - want) < 1e-12);
  if (sent > 2000) fail_msg("sent %d of 40000 to a failing backend", sent);
  /* ...while one accepting 60% (above 1/K) is never throttled. */
  rein_throttle *h = mk(2.0);
  sent = 0;
  for (int i = 0; i < 40000; i++) {
    if (rein_throttle_admit(h, now, &r)) {
      sent++;
      if (rein_rng_uniform(&r) < 0.6) rein_throttle_on_accept(h, now);
    }
  }
  if (sent < 39000) fail_msg("healthy backend throttled: sent %d of 40000", sent);
  rein_throttle_free(h);
  /* the window forgets: 2 min later everything is admitted again */
  assert_true(rein_throttle_probability(t, now + 120 * S) == 0);
  rein_throttle_free(t);
}

static void test_validation(void **state) {
  (void)state;
  rein_throttle_config c;
  rein_errbuf e;
  rein_throttle *t;
  rein_throttle_config_default(&c);
  c.err = &e;
  c.k = 0.5;
  assert_int_equal(rein_throttle_new(&c, &t), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "throttle.k"));
  rein_throttle_config_default(&c);
  c.err = &e;
  c.buckets = 0;
  assert_int_equal(rein_throttle_new(&c, &t), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "throttle.buckets"));
  rein_throttle_config_default(&c);
  c.err = &e;
  c.window_ns = 0;
  assert_int_equal(rein_throttle_new(&c, &t), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "throttle.window_ns"));
}

static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_throttle_config c;
  rein_throttle_config_default(&c);
  c.alloc = a;
  rein_throttle *t = NULL;
  if (rein_throttle_new(&c, &t) != REIN_OK) return -1;
  rein_throttle_on_accept(t, 1);
  rein_throttle_free(t);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_formula),
      cmocka_unit_test(test_rejects_in_proportion),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
