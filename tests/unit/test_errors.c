/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_errors.c: the status table: names and messages exist for every code,
 * codes keep their values, unknown codes are handled; version functions
 * agree with the macros.
 */
#include "rein_test.h"
#include "rein.h"

#include <string.h>

static void test_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(rein_status_name(REIN_OK), "REIN_OK");
  assert_string_equal(rein_status_name(REIN_EINVAL), "REIN_EINVAL");
  assert_string_equal(rein_status_name(REIN_ESTALE), "REIN_ESTALE");
  assert_string_equal(rein_strerror(REIN_ENOMEM), "out of memory");
  assert_string_equal(rein_status_name((rein_status)-9999), "REIN_UNKNOWN");
  assert_string_equal(rein_strerror((rein_status)12345), "unknown status");
#define CHECK(name, value, msg)                                                \
  assert_int_equal((int)name, value);                                          \
  assert_true(strlen(rein_strerror(name)) > 0);                                \
  assert_string_equal(rein_status_name(name), #name);
  REIN_STATUS_TABLE(CHECK)
#undef CHECK
}

static void test_values_are_stable(void **state) {
  (void)state;
  /* Codes are only appended: these must never change. */
  assert_int_equal(REIN_OK, 0);
  assert_int_equal(REIN_EINVAL, -1);
  assert_int_equal(REIN_ENOMEM, -2);
  assert_int_equal(REIN_ESTALE, -7);
  assert_int_equal(REIN_EGAVEUP, -17);
}

static void test_errbuf_and_alloc(void **state) {
  (void)state;
  rein_errbuf e;
  assert_int_equal(rein_errbuf_set(&e, REIN_ERANGE, "x.y: must be > %d, got %d", 0, -3),
                   REIN_ERANGE);
  assert_string_equal(e.msg, "x.y: must be > 0, got -3");
  assert_int_equal(rein_errbuf_set(NULL, REIN_EINVAL, "ignored"), REIN_EINVAL);
  char big[600];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  rein_errbuf_set(&e, REIN_EINVAL, "%s", big); /* truncated, terminated */
  assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
  rein_test_alloc t;
  rein_test_alloc_init(&t, 1); /* the second allocation fails */
  void *p = rein_alloc(&t.a, 16);
  assert_non_null(p);
  assert_null(rein_alloc(&t.a, 16));
  rein_free(&t.a, p);
  rein_free(&t.a, NULL);
  assert_int_equal(t.live, 0);
  p = rein_alloc(NULL, 8); /* malloc */
  assert_non_null(p);
  rein_free(NULL, p);
}

static void test_version(void **state) {
  (void)state;
  assert_string_equal(rein_version(), REIN_VERSION_STRING);
  assert_int_equal(rein_version_number(), REIN_VERSION_NUMBER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_messages),
      cmocka_unit_test(test_values_are_stable),
      cmocka_unit_test(test_errbuf_and_alloc),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
