/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admit_signal.c: the loop closed. Every header rein_admit_headers
 * writes is fed through the client's parser (rein_signals_feed, the core's
 * signal module) and the client's delay floor must equal the Retry-After the
 * server meant; the don't-retry marker, the RateLimit fields and the
 * idempotency retention must come back as sent.
 */
#include "rein_test.h"

#include "rein/admit.h"
#include "rein/signal.h"

#include <string.h>

#define MS REIN_NS_PER_MS
#define S REIN_NS_PER_S

static rein_signals client_reads(const rein_admit_decision *d,
                                 int64_t idem_retention_ns, int *status) {
  rein_admit_response r;
  assert_int_equal(rein_admit_headers(d, idem_retention_ns, &r), REIN_OK);
  rein_signals s;
  rein_signals_init(&s);
  for (size_t i = 0; i < r.count; i++)
    assert_int_equal(
        rein_signals_feed(&s, r.headers[i].name, strlen(r.headers[i].name),
                          r.headers[i].value, strlen(r.headers[i].value), 0),
        REIN_OK);
  assert_int_equal(s.malformed, 0);
  *status = r.status;
  return s;
}

static int64_t header_seconds(int64_t ns) {
  return (ns + S - 1) / S * S;
}

static void test_overload_503_floor_is_drain_time(void **state) {
  (void)state;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.target_ns = 60 * S;
  c.interval_ns = 600 * S;
  c.max_wait_ns = 600 * S;
  c.limit = 1;
  c.queue_max = 64;
  c.retry_queue_max = 0;
  rein_admit *a = NULL;
  assert_int_equal(rein_admit_new(&c, &a), REIN_OK);
  static rein_admit_ticket t[64];
  int n = 0;
  /* 10 completions in the first second: drain rate 10/s. */
  rein_admit_try(a, &t[n++], 1, 0, NULL);
  for (int k = 1; k <= 10; k++) {
    rein_admit_release(a, &t[n - 1], k * 100 * MS, -1);
    assert_int_equal(rein_admit_try(a, &t[n++], 1, k * 100 * MS, NULL),
                     REIN_ADMIT_ADMITTED);
  }
  /* 25 waiting, and the shed request itself: 2.6 s to drain; the header
   * rounds up to 3. */
  for (int i = 0; i < 25; i++)
    rein_admit_try(a, &t[n++], 1, S, NULL);
  rein_admit_ticket p;
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &p, 2, S, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.retry_after_ns, 2600 * MS);
  int status;
  rein_signals s = client_reads(&d, -1, &status);
  assert_int_equal(status, 503);
  assert_int_equal(s.retry_after_ns, 3 * S);
  assert_int_equal(rein_signals_delay_floor(&s), 3 * S);
  assert_int_equal(rein_signals_delay_floor(&s),
                   header_seconds(d.retry_after_ns));
  assert_true(s.dont_retry); /* a shed retry: do not multiply */
  assert_int_equal(s.idem_retention_ns, -1);
  for (int i = 0; i < n; i++) {
    rein_admit_cancel(a, &t[i], 2 * S);
  }
  rein_admit_free(a);
}

static void test_rate_limit_429_and_pacing(void **state) {
  (void)state;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1000;
  c.rl_quota = 10;
  c.rl_window_ns = 60 * S;
  c.rl_policy = "orders";
  rein_admit *a = NULL;
  assert_int_equal(rein_admit_new(&c, &a), REIN_OK);
  rein_admit_ticket t[12];
  rein_admit_decision d;
  int status;
  /* Plenty left: no delay asked for; the policy comes through. */
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, &d), REIN_ADMIT_ADMITTED);
  rein_signals s = client_reads(&d, 24 * 3600 * S, &status);
  assert_int_equal(status, 0);
  assert_int_equal(s.ratelimit.remaining, 9);
  assert_int_equal(s.ratelimit.reset_ns, 6 * S);
  assert_int_equal(s.policy.limit, 10);
  assert_int_equal(s.policy.window_ns, 60 * S);
  assert_int_equal(s.idem_retention_ns, 24 * 3600 * S);
  assert_int_equal(rein_signals_delay_floor(&s), 0);
  /* Last unit taken: the client waits for the next one (6 s). */
  for (int i = 1; i < 10; i++)
    rein_admit_try(a, &t[i], 1, 0, &d);
  s = client_reads(&d, -1, &status);
  assert_int_equal(s.ratelimit.remaining, 0);
  assert_int_equal(rein_signals_delay_floor(&s), 6 * S);
  /* 429 at 2.5 s: 3.5 s to go, Retry-After 4 and t=4 agree. */
  assert_int_equal(rein_admit_try(a, &t[10], 1, 2500 * MS, &d),
                   REIN_ADMIT_REJECTED);
  assert_int_equal(d.retry_after_ns, 3500 * MS);
  s = client_reads(&d, -1, &status);
  assert_int_equal(status, 429);
  assert_false(s.dont_retry);
  assert_int_equal(s.retry_after_ns, 4 * S);
  assert_int_equal(s.ratelimit.reset_ns, 4 * S);
  assert_int_equal(rein_signals_delay_floor(&s),
                   header_seconds(d.retry_after_ns));
  for (int i = 0; i < 10; i++)
    rein_admit_release(a, &t[i], 3 * S, -1);
  rein_admit_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overload_503_floor_is_drain_time),
      cmocka_unit_test(test_rate_limit_429_and_pacing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
