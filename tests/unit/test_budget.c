/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_budget.c: the three budget kinds against their anchors' arithmetic
 * (ratio with and without the floor, expiry after ttl; gRPC token bucket
 * threshold at max/2; AWS quota costs and refunds), config validation with
 * field names, custom vtable dispatch, the allocation fault loop, and
 * counter stripes (1 answers as 16 does).
 */
#include "rein_test.h"
#include "rein.h"

#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

static rein_budget *ratio_budget(double ratio, double floor_per_s) {
  rein_budget_config c;
  rein_budget_config_default(&c);
  c.ratio = ratio;
  c.min_retries_per_sec = floor_per_s;
  c.ttl_ns = 10 * S;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&c, &b), REIN_OK);
  return b;
}

static int count_retries(rein_budget *b, int64_t now, int max) {
  int n = 0;
  while (n < max && rein_budget_try_retry(b, now, false, NULL))
    n++;
  return n;
}

static void test_ratio_exact(void **state) {
  (void)state;
  rein_budget *b = ratio_budget(0.1, 0);
  int64_t now = 100 * S;
  assert_int_equal(count_retries(b, now, 10), 0); /* nothing deposited */
  for (int i = 0; i < 100; i++)
    rein_budget_on_request(b, now);
  assert_int_equal(count_retries(b, now, 1000), 10); /* 10% of 100 */
  for (int i = 0; i < 9; i++)
    rein_budget_on_request(b, now);
  assert_int_equal(count_retries(b, now, 1000), 0); /* 0.9 < 1 */
  rein_budget_on_request(b, now);
  assert_int_equal(count_retries(b, now, 1000), 1);
  rein_budget_free(b);
}

static void test_ratio_floor_and_expiry(void **state) {
  (void)state;
  rein_budget *b = ratio_budget(0.2, 1.0); /* floor: 1/s * 10 s = 10 */
  int64_t now = 50 * S;
  assert_int_equal(count_retries(b, now, 1000), 10);
  for (int i = 0; i < 50; i++)
    rein_budget_on_request(b, now);
  assert_int_equal(count_retries(b, now, 1000), 10); /* 0.2 * 50 */
  /* After the ttl everything (deposits and withdrawals) has expired: the
   * floor is available again, the old deposits are not. */
  assert_int_equal(count_retries(b, now + 11 * S, 1000), 10);
  assert_true(rein_budget_available(b, now + 11 * S) < 0.01);
  rein_budget_free(b);
}

static void test_token_bucket(void **state) {
  (void)state;
  rein_budget_config c;
  rein_budget_config_default(&c);
  c.kind = REIN_BUDGET_TOKEN_BUCKET;
  c.max_tokens = 10;
  c.token_ratio = 0.5;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&c, &b), REIN_OK);
  assert_true(rein_budget_try_retry(b, 0, false, NULL)); /* 10 > 5 */
  for (int i = 0; i < 4; i++)
    rein_budget_on_failure(b, 0);
  assert_true(rein_budget_try_retry(b, 0, false, NULL)); /* 6 > 5 */
  rein_budget_on_failure(b, 0);
  assert_false(rein_budget_try_retry(b, 0, false, NULL)); /* 5 is not > 5 */
  rein_budget_on_success(b, 0, 0);                        /* 5.5 */
  assert_true(rein_budget_try_retry(b, 0, false, NULL));
  assert_true(rein_budget_available(b, 0) > 5.49 &&
              rein_budget_available(b, 0) < 5.51);
  for (int i = 0; i < 100; i++)
    rein_budget_on_failure(b, 0);
  assert_true(rein_budget_available(b, 0) == 0); /* floors at 0 */
  for (int i = 0; i < 100; i++)
    rein_budget_on_success(b, 0, 0);
  assert_true(rein_budget_available(b, 0) == 10); /* caps at max */
  rein_budget_free(b);
}

static void test_quota(void **state) {
  (void)state;
  rein_budget_config c;
  rein_budget_config_default(&c);
  c.kind = REIN_BUDGET_QUOTA;
  c.capacity = 20;
  c.retry_cost = 5;
  c.timeout_retry_cost = 10;
  c.success_increment = 1;
  rein_budget *b;
  assert_int_equal(rein_budget_new(&c, &b), REIN_OK);
  uint32_t cost = 0;
  assert_true(rein_budget_try_retry(b, 0, true, &cost));
  assert_int_equal(cost, 10);
  assert_true(rein_budget_try_retry(b, 0, false, &cost));
  assert_int_equal(cost, 5);
  assert_true(rein_budget_try_retry(b, 0, false, &cost)); /* 5 left -> 0 */
  assert_false(rein_budget_try_retry(b, 0, false, &cost));
  assert_int_equal(cost, 0);
  rein_budget_on_success(b, 0, 5); /* refund of a successful retry */
  assert_true(rein_budget_available(b, 0) == 5);
  rein_budget_on_success(b, 0, 0); /* success without retry: +1 */
  assert_true(rein_budget_available(b, 0) == 6);
  rein_budget_free(b);
}

static void test_validation(void **state) {
  (void)state;
  rein_budget_config c;
  rein_errbuf e;
  rein_budget *b = (rein_budget *)&c;
#define BAD(stmt, field)                                                       \
  do {                                                                         \
    rein_budget_config_default(&c);                                            \
    c.err = &e;                                                                \
    stmt;                                                                      \
    assert_int_equal(rein_budget_new(&c, &b), REIN_EINVAL);                    \
    assert_null(b);                                                            \
    if (!strstr(e.msg, field))                                                 \
      fail_msg("message '%s' lacks '%s'", e.msg, field);                       \
  } while (0)
  BAD(c.ratio = -0.5, "budget.ratio");
  BAD(c.ttl_ns = 0, "budget.ttl_ns");
  BAD(c.min_retries_per_sec = -1, "budget.min_retries_per_sec");
  BAD((c.kind = REIN_BUDGET_TOKEN_BUCKET, c.max_tokens = 0),
      "budget.max_tokens");
  BAD((c.kind = REIN_BUDGET_TOKEN_BUCKET, c.token_ratio = 0),
      "budget.token_ratio");
  BAD((c.kind = REIN_BUDGET_QUOTA, c.capacity = 0), "budget.capacity");
  BAD((c.kind = REIN_BUDGET_QUOTA, c.retry_cost = 600), "budget.retry_cost");
  BAD((c.kind = REIN_BUDGET_QUOTA, c.timeout_retry_cost = 0),
      "budget.timeout_retry_cost");
  BAD(c.kind = (rein_budget_kind)42, "budget.kind");
#undef BAD
  rein_budget_kind k;
  assert_int_equal(rein_budget_kind_parse("token_bucket", &k), REIN_OK);
  assert_int_equal(k, REIN_BUDGET_TOKEN_BUCKET);
  assert_int_equal(rein_budget_kind_parse("bucket", &k), REIN_EINVAL);
}

/* A custom budget allowing exactly `left` retries, counting calls. */
typedef struct {
  int left, requests, successes, failures, destroyed;
} fake_budget;
static void fb_req(void *i, int64_t now) {
  (void)now;
  ((fake_budget *)i)->requests++;
}
static bool fb_try(void *i, int64_t now, bool t, uint32_t *cost) {
  (void)now;
  (void)t;
  fake_budget *f = i;
  if (f->left <= 0) return false;
  f->left--;
  *cost = 7;
  return true;
}
static void fb_ok(void *i, int64_t now, uint32_t cost) {
  (void)now;
  assert_int_equal(cost, 7);
  ((fake_budget *)i)->successes++;
}
static void fb_fail(void *i, int64_t now) {
  (void)now;
  ((fake_budget *)i)->failures++;
}
static double fb_avail(void *i, int64_t now) {
  (void)now;
  return ((fake_budget *)i)->left;
}
static void fb_destroy(void *i) {
  ((fake_budget *)i)->destroyed++;
}
static const rein_budget_vtable fake_vt = {REIN_BUDGET_VTABLE_VERSION,
                                           "fake",
                                           fb_req,
                                           fb_try,
                                           fb_ok,
                                           fb_fail,
                                           fb_avail,
                                           fb_destroy};

static void test_custom(void **state) {
  (void)state;
  fake_budget f = {2, 0, 0, 0, 0};
  rein_budget *b;
  assert_int_equal(rein_budget_new_custom(&fake_vt, &f, NULL, &b), REIN_OK);
  assert_int_equal(rein_budget_get_kind(b), REIN_BUDGET_CUSTOM);
  rein_budget_on_request(b, 0);
  uint32_t cost;
  assert_true(rein_budget_try_retry(b, 0, false, &cost));
  assert_int_equal(cost, 7);
  rein_budget_on_success(b, 0, cost);
  rein_budget_on_failure(b, 0);
  assert_true(rein_budget_available(b, 0) == 1);
  rein_budget_free(b);
  assert_int_equal(f.requests, 1);
  assert_int_equal(f.successes, 1);
  assert_int_equal(f.failures, 1);
  assert_int_equal(f.destroyed, 1);
  rein_budget_vtable bad = fake_vt;
  bad.version = 99;
  assert_int_equal(rein_budget_new_custom(&bad, &f, NULL, &b), REIN_EINVAL);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  rein_budget_config c;
  rein_budget_config_default(&c);
  c.kind = *(rein_budget_kind *)ctx;
  c.alloc = a;
  rein_budget *b = NULL;
  rein_status st = rein_budget_new(&c, &b);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    assert_null(b);
    return -1;
  }
  rein_budget_on_request(b, 1);
  rein_budget_free(b);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  for (int k = 0; k < 3; k++) {
    rein_budget_kind kind = (rein_budget_kind)k;
    rein_test_fault_loop(fault_body, &kind);
  }
}

/* `stripes` (budget, breaker, throttle, policy): 1 gives the same answers
 * as the default 16 on one thread (a ratio budget through a run of
 * deposits, withdrawals and expiries); anything but 0 or a power of two in
 * [1, 16] is refused naming the field. */
static void test_stripes(void **state) {
  (void)state;
  rein_budget *b[2];
  for (int i = 0; i < 2; i++) {
    rein_budget_config c;
    rein_budget_config_default(&c);
    c.ratio = 0.2;
    c.min_retries_per_sec = 0;
    c.ttl_ns = 10 * S;
    c.stripes = i ? 1 : 0;
    assert_int_equal(rein_budget_new(&c, &b[i]), REIN_OK);
  }
  uint64_t st = 7;
  int64_t now = 0;
  for (int k = 0; k < 20000; k++) {
    now += (int64_t)(rein_splitmix64(&st) % (50 * MS));
    bool retry = rein_splitmix64(&st) % 4 == 0;
    bool got[2];
    for (int i = 0; i < 2; i++) {
      if (retry)
        got[i] = rein_budget_try_retry(b[i], now, false, NULL);
      else
        rein_budget_on_request(b[i], now), got[i] = true;
    }
    if (got[0] != got[1])
      fail_msg("step %d: 16 stripes %d, 1 stripe %d", k, got[0], got[1]);
  }
  for (int i = 0; i < 2; i++)
    rein_budget_free(b[i]);
  rein_errbuf e = {{0}};
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.err = &e;
  rein_budget *bad = NULL;
  bc.stripes = 3;
  assert_int_equal(rein_budget_new(&bc, &bad), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "budget.stripes"));
  bc.stripes = 32;
  assert_int_equal(rein_budget_new(&bc, &bad), REIN_EINVAL);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  kc.err = &e;
  kc.stripes = 6;
  rein_breaker *k = NULL;
  assert_int_equal(rein_breaker_new(&kc, &k), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "breaker.stripes"));
  kc.stripes = 1;
  assert_int_equal(rein_breaker_new(&kc, &k), REIN_OK);
  rein_breaker_free(k);
  rein_throttle_config tc;
  rein_throttle_config_default(&tc);
  tc.err = &e;
  tc.stripes = 17;
  rein_throttle *t = NULL;
  assert_int_equal(rein_throttle_new(&tc, &t), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "throttle.stripes"));
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.err = &e;
  pc.stripes = 12;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "policy.stripes"));
  pc.stripes = 1;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_retry r;
  rein_retry_init(&r, p, NULL); /* a default seed: the one counter */
  assert_int_equal(rein_retry_begin(&r, 0).action, REIN_ATTEMPT);
  rein_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratio_exact),
      cmocka_unit_test(test_ratio_floor_and_expiry),
      cmocka_unit_test(test_token_bucket),
      cmocka_unit_test(test_quota),
      cmocka_unit_test(test_validation),
      cmocka_unit_test(test_custom),
      cmocka_unit_test(test_fault_loop),
      cmocka_unit_test(test_stripes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
