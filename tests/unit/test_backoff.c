/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_backoff.c: exact un-jittered schedules for every kind (with the
 * documented indexing: n = 1 is the first retry), the cap, and statistical
 * checks of each jitter distribution: range always, mean within tolerance
 * over many draws.
 */
#include "rein_test.h"
#include "rein.h"

#include <math.h>
#include <string.h>

#define MS REIN_NS_PER_MS

static rein_backoff_config cfg(rein_backoff_kind k, rein_jitter j) {
  rein_backoff_config c;
  rein_backoff_config_default(&c);
  c.kind = k;
  c.jitter = j;
  c.base_ns = 100 * MS;
  c.cap_ns = 1000 * MS;
  return c;
}

static void test_unjittered_schedules(void **state) {
  (void)state;
  rein_backoff_config c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_NONE);
  const int64_t expo[] = {100, 200, 400, 800, 1000, 1000};
  for (uint32_t n = 1; n <= 6; n++)
    assert_int_equal(rein_backoff_delay(&c, n, 0, NULL), expo[n - 1] * MS);
  assert_int_equal(rein_backoff_delay(&c, 0, 0, NULL), 100 * MS); /* 0 -> 1 */
  assert_int_equal(rein_backoff_delay(&c, 4000000000u, 0, NULL), 1000 * MS);
  c.multiplier = 3;
  assert_int_equal(rein_backoff_delay(&c, 3, 0, NULL), 900 * MS);
  c = cfg(REIN_BACKOFF_LINEAR, REIN_JITTER_NONE);
  const int64_t lin[] = {100, 200, 300, 1000};
  const uint32_t ln[] = {1, 2, 3, 20};
  for (int i = 0; i < 4; i++)
    assert_int_equal(rein_backoff_delay(&c, ln[i], 0, NULL), lin[i] * MS);
  c = cfg(REIN_BACKOFF_CONSTANT, REIN_JITTER_NONE);
  assert_int_equal(rein_backoff_delay(&c, 1, 0, NULL), 100 * MS);
  assert_int_equal(rein_backoff_delay(&c, 9, 0, NULL), 100 * MS);
  c = cfg(REIN_BACKOFF_NONE, REIN_JITTER_NONE);
  assert_int_equal(rein_backoff_delay(&c, 5, 0, NULL), 0);
  c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_FULL);
  assert_int_equal(rein_backoff_ceiling(&c, 3), 400 * MS);
}

static void check_dist(rein_jitter j, uint32_t n, double lo_ms, double hi_ms,
                       double mean_ms) {
  rein_backoff_config c = cfg(REIN_BACKOFF_EXPONENTIAL, j);
  rein_rng r;
  rein_rng_seed(&r, rein_test_seed() + j * 100 + n);
  enum { N = 100000 };
  double sum = 0, mn = 1e18, mx = -1;
  for (int i = 0; i < N; i++) {
    double d = (double)rein_backoff_delay(&c, n, 0, &r) / MS;
    if (d < mn) mn = d;
    if (d > mx) mx = d;
    sum += d;
  }
  assert_true(mn >= lo_ms && mx <= hi_ms);
  /* the draws fill the range */
  assert_true(mn < lo_ms + (hi_ms - lo_ms) * 0.01);
  assert_true(mx > hi_ms - (hi_ms - lo_ms) * 0.01);
  double sd = (hi_ms - lo_ms) / sqrt(12.0) / sqrt((double)N);
  if (fabs(sum / N - mean_ms) > 6 * sd)
    fail_msg("jitter %s n=%u: mean %.3f ms, expected %.3f +- %.3f",
             rein_jitter_name(j), n, sum / N, mean_ms, 6 * sd);
}

static void test_full_jitter(void **state) {
  (void)state;
  check_dist(REIN_JITTER_FULL, 1, 0, 100, 50);   /* U(0, 100ms) */
  check_dist(REIN_JITTER_FULL, 3, 0, 400, 200);  /* U(0, 400ms) */
  check_dist(REIN_JITTER_FULL, 9, 0, 1000, 500); /* capped */
}

static void test_equal_jitter(void **state) {
  (void)state;
  check_dist(REIN_JITTER_EQUAL, 1, 50, 100, 75);   /* 50 + U(0, 50) */
  check_dist(REIN_JITTER_EQUAL, 4, 400, 800, 600); /* 400 + U(0, 400) */
}

static void test_decorrelated_jitter(void **state) {
  (void)state;
  rein_backoff_config c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_DECORRELATED);
  rein_rng r;
  rein_rng_seed(&r, rein_test_seed());
  /* first retry: U(base, 3*base) = U(100, 300), mean 200 */
  double sum = 0;
  enum { N = 100000 };
  for (int i = 0; i < N; i++) {
    int64_t d = rein_backoff_delay(&c, 1, 0, &r);
    assert_true(d >= 100 * MS && d <= 300 * MS);
    sum += (double)d / MS;
  }
  assert_true(fabs(sum / N - 200) < 1.5);
  /* chained: each draw in [base, min(cap, 3*prev)] */
  int64_t prev = 0;
  for (int i = 0; i < 10000; i++) {
    int64_t d = rein_backoff_delay(&c, (uint32_t)(i % 8) + 1, prev, &r);
    int64_t hi = 3 * (prev ? prev : 100 * MS);
    if (hi > 1000 * MS) hi = 1000 * MS;
    assert_true(d >= 100 * MS && d <= hi);
    prev = d;
  }
  /* prev 500ms: min(1000, U(100, 1500)): mean (495000 + 1000 * 500) / 1400
   * = 710.7 */
  sum = 0;
  for (int i = 0; i < N; i++) sum += (double)rein_backoff_delay(&c, 5, 500 * MS, &r) / MS;
  assert_true(fabs(sum / N - 710.7) < 4);
}

/* The documented formula, min(cap, U(base, 3 * prev)), at prev = cap: the
 * draw is uniform on [base, 3 cap] and everything above the cap becomes the
 * cap. base 100 ms, cap 1 s: P(d = cap) = 2000 / 2900 = 0.6897, mean
 * ((1000^2 - 100^2) / 2 + 1000 * 2000) / 2900 = 860.3 ms. Drawing
 * U(base, min(cap, 3 prev)) instead gives mean 550 ms and P(d = cap) = 0. */
static void test_decorrelated_at_cap(void **state) {
  (void)state;
  rein_backoff_config c =
      cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_DECORRELATED);
  rein_rng r;
  uint64_t seed = rein_test_seed();
  rein_rng_seed(&r, seed);
  enum { N = 1000000 };
  double sum = 0;
  long at_cap = 0;
  for (int i = 0; i < N; i++) {
    int64_t d = rein_backoff_delay(&c, 7, c.cap_ns, &r);
    assert_true(d >= c.base_ns && d <= c.cap_ns);
    sum += (double)d / MS;
    at_cap += d == c.cap_ns;
  }
  double mean = sum / N, p = (double)at_cap / N;
  print_message("decorrelated at prev = cap (seed %llu): mean %.1f ms, "
                "P(=cap) %.4f\n",
                (unsigned long long)seed, mean, p);
  assert_true(fabs(mean - 860.3) < 3);
  assert_true(fabs(p - 2000.0 / 2900.0) < 0.005);
}

static void test_validation(void **state) {
  (void)state;
  rein_backoff_config c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_FULL);
  rein_errbuf e;
  assert_int_equal(rein_backoff_config_validate(&c, &e), REIN_OK);
  c.base_ns = -1;
  assert_int_equal(rein_backoff_config_validate(&c, &e), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "backoff.base_ns"));
  c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_FULL);
  c.cap_ns = 50 * MS;
  assert_int_equal(rein_backoff_config_validate(&c, &e), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "backoff.cap_ns"));
  c = cfg(REIN_BACKOFF_EXPONENTIAL, REIN_JITTER_FULL);
  c.multiplier = 0.5;
  assert_int_equal(rein_backoff_config_validate(&c, &e), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "backoff.multiplier"));
  c = cfg((rein_backoff_kind)9, REIN_JITTER_FULL);
  assert_int_equal(rein_backoff_config_validate(&c, NULL), REIN_EINVAL);
  c = cfg(REIN_BACKOFF_EXPONENTIAL, (rein_jitter)7);
  assert_int_equal(rein_backoff_config_validate(&c, &e), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "backoff.jitter"));
}

static void test_names(void **state) {
  (void)state;
  rein_backoff_kind k;
  rein_jitter j;
  assert_int_equal(rein_backoff_kind_parse("linear", &k), REIN_OK);
  assert_int_equal(k, REIN_BACKOFF_LINEAR);
  assert_int_equal(rein_backoff_kind_parse("quadratic", &k), REIN_EINVAL);
  assert_int_equal(rein_jitter_parse("decorrelated", &j), REIN_OK);
  assert_int_equal(j, REIN_JITTER_DECORRELATED);
  assert_string_equal(rein_jitter_name(REIN_JITTER_EQUAL), "equal");
  assert_string_equal(rein_backoff_kind_name(REIN_BACKOFF_EXPONENTIAL),
                      "exponential");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unjittered_schedules),
      cmocka_unit_test(test_full_jitter),
      cmocka_unit_test(test_equal_jitter),
      cmocka_unit_test(test_decorrelated_jitter),
      cmocka_unit_test(test_decorrelated_at_cap),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
