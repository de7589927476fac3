/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_metrics.c: counting, give-ups by reason, NULL-safe adds, the exact
 * Prometheus text (HELP/TYPE lines, labels), truncation with REIN_ETOOBIG,
 * label validation, fault loop.
 */
#include "rein_test.h"
#include "rein.h"

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
  char buf[8192];
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_and_text),
      cmocka_unit_test(test_label_validation),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
