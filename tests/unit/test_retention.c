/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retention.c: decision step 5a of the retry state machine (rein/
 * retry.h): a keyed call refuses a retry that would be sent after the
 * server forgot its key, with its own give-up reason (retention), or, in
 * WARN mode, sends it and counts it. The retention comes from the policy
 * (a contract's key_ttl) or from the responses (Idempotency-Key-Retention,
 * rein_outcome.key_retention_ns), whichever is shorter. Manual clock.
 */
#include "rein_test.h"
#include "rein.h"

#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS
#define H (3600 * S)

static rein_policy *mkp(bool idempotent, int64_t retention_ns,
                        rein_retention_mode mode, rein_metrics *m) {
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.max_attempts = 30;
  c.backoff.kind = REIN_BACKOFF_CONSTANT;
  c.backoff.jitter = REIN_JITTER_NONE;
  c.backoff.base_ns = 1 * H;
  c.backoff.cap_ns = 1 * H;
  c.idempotent = idempotent;
  c.key_retention_ns = retention_ns;
  c.retention = mode;
  c.metrics = m;
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_policy *p;
  if (rein_policy_new(&c, &p) != REIN_OK) fail_msg("policy: %s", e.msg);
  return p;
}

static rein_metrics *mkm(void) {
  rein_metrics_config mc;
  rein_metrics_config_default(&mc);
  rein_metrics *m;
  assert_int_equal(rein_metrics_new(&mc, &m), REIN_OK);
  return m;
}

/* A keyed call that fails every hour: returns the final decision and the
 * attempts made. The retention from responses is `said_ns` (0 = none). */
static rein_decision run(const rein_policy *p, bool has_key, int64_t said_ns,
                         uint32_t *attempts) {
  rein_retry r;
  rein_call_opts co = {.has_key = has_key, .seed = 1};
  rein_retry_init(&r, p, &co);
  int64_t now = 0;
  rein_decision d = rein_retry_begin(&r, now);
  while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
    if (d.action == REIN_ATTEMPT) {
      *attempts = d.attempt;
      rein_outcome o = {.kind = REIN_OUTCOME_FAILURE};
      o.key_retention_ns = said_ns;
      now += 10 * MS;
      d = rein_retry_next(&r, &o, now);
    } else {
      now += d.delay_ns;
      d = rein_retry_next(&r, NULL, now);
    }
  }
  return d;
}

/* Policy retention 24 h, a retry every hour: the retry at 24 h (sent at
 * begin + 24 h + 10 ms) is refused; attempts 1..24 (0 h .. 23 h) went. */
static void test_refuse_non_idempotent(void **state) {
  (void)state;
  rein_metrics *m = mkm();
  rein_policy *p = mkp(false, 24 * H, REIN_RETENTION_AUTO, m);
  uint32_t n = 0;
  rein_decision d = run(p, true, 0, &n);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_RETENTION);
  assert_true(d.dont_retry); /* the layer above would be later still */
  assert_int_equal(n, 24);
  assert_string_equal(rein_giveup_name(d.reason), "retention");
  assert_int_equal(rein_metrics_get_giveup(m, REIN_GIVEUP_RETENTION), 1);
  rein_policy_free(p);
  rein_metrics_free(m);
}

/* AUTO on an idempotent policy warns: all 30 attempts go, the late ones
 * counted. REFUSE refuses even when idempotent; WARN never refuses. */
static void test_modes(void **state) {
  (void)state;
  rein_metrics *m = mkm();
  rein_policy *p = mkp(true, 5 * H, REIN_RETENTION_AUTO, m);
  uint32_t n = 0;
  rein_decision d = run(p, true, 0, &n);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(n, 30);
  /* retries decided at 5 h .. 29 h are past the retention: 25 */
  assert_int_equal(rein_metrics_get(m, REIN_C_RETENTION_LATE), 25);
  rein_policy_free(p);
  p = mkp(true, 5 * H, REIN_RETENTION_REFUSE, NULL);
  d = run(p, true, 0, &n);
  assert_int_equal(d.reason, REIN_GIVEUP_RETENTION);
  assert_int_equal(n, 5);
  rein_policy_free(p);
  p = mkp(false, 5 * H, REIN_RETENTION_WARN, NULL);
  d = run(p, true, 0, &n);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  rein_policy_free(p);
  rein_metrics_free(m);
}

/* The server's header shortens the policy's retention (never lengthens
 * it); without a key, or with no retention known, step 5a does nothing. */
static void test_from_response(void **state) {
  (void)state;
  uint32_t n = 0;
  rein_policy *p = mkp(false, 0, REIN_RETENTION_AUTO, NULL);
  rein_decision d = run(p, true, 3 * H, &n);
  assert_int_equal(d.reason, REIN_GIVEUP_RETENTION);
  assert_int_equal(n, 3);
  d = run(p, true, 0, &n); /* unknown: no limit */
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  rein_policy_free(p);
  p = mkp(false, 2 * H, REIN_RETENTION_AUTO, NULL);
  d = run(p, true, 72 * H, &n); /* a longer header does not lengthen it */
  assert_int_equal(d.reason, REIN_GIVEUP_RETENTION);
  assert_int_equal(n, 2);
  d = run(p, false, 0, &n); /* no key: the idempotency gate decides */
  assert_int_equal(d.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  rein_policy_free(p);
}

static void test_validation(void **state) {
  (void)state;
  rein_policy_config c;
  rein_policy_config_default(&c);
  assert_int_equal(c.key_retention_ns, 0);
  assert_int_equal(c.retention, REIN_RETENTION_AUTO);
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_policy *p;
  c.key_retention_ns = -1;
  assert_int_equal(rein_policy_new(&c, &p), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "policy.key_retention_ns"));
  c.key_retention_ns = 0;
  c.retention = (rein_retention_mode)7;
  assert_int_equal(rein_policy_new(&c, &p), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "policy.retention"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refuse_non_idempotent),
      cmocka_unit_test(test_modes),
      cmocka_unit_test(test_from_response),
      cmocka_unit_test(test_validation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
