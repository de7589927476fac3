/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_classify.c: the classification table and the retryable set: every
 * name form parses, bad names get a message that quotes them, membership
 * follows the table (a named status, or a named kind), and the printer's
 * text parses back to the same set.
 */
#include "rein_test.h"
#include "rein.h"

#include <string.h>

static void test_table(void **state) {
  (void)state;
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(200)),
                   REIN_OUTCOME_SUCCESS);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(504)),
                   REIN_OUTCOME_TIMEOUT);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(408)),
                   REIN_OUTCOME_TIMEOUT);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(425)),
                   REIN_OUTCOME_OVERLOADED);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(501)),
                   REIN_OUTCOME_FATAL);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(502)),
                   REIN_OUTCOME_FAILURE);
  assert_int_equal(rein_condition_kind(REIN_COND_HTTP(409)),
                   REIN_OUTCOME_FATAL);
  assert_int_equal(rein_condition_kind(REIN_COND_GRPC(14)),
                   REIN_OUTCOME_OVERLOADED);
  assert_int_equal(rein_condition_kind(REIN_COND_GRPC(4)),
                   REIN_OUTCOME_TIMEOUT);
  assert_int_equal(
      rein_condition_kind(REIN_COND_TRANSPORT(REIN_TRANSPORT_REFUSED_STREAM)),
      REIN_OUTCOME_NOT_SENT);
  char b[32];
  assert_string_equal(rein_condition_name(REIN_COND_GRPC(8), b, sizeof b),
                      "RESOURCE_EXHAUSTED");
  assert_string_equal(rein_condition_name(REIN_COND_HTTP(503), b, sizeof b),
                      "503");
}

static void test_parse_and_has(void **state) {
  (void)state;
  rein_retryable_set s;
  rein_errbuf e = {{0}};
  assert_int_equal(
      rein_retryable_set_parse(&s, "503, 5xx 420-422,UNAVAILABLE 8 reset", &e),
      REIN_OK);
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_HTTP(599), REIN_OUTCOME_FAILURE));
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_HTTP(421), REIN_OUTCOME_FATAL));
  assert_false(
      rein_retryable_set_has(&s, REIN_COND_HTTP(429), REIN_OUTCOME_OVERLOADED));
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_GRPC(14), REIN_OUTCOME_OVERLOADED));
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_GRPC(8), REIN_OUTCOME_OVERLOADED));
  assert_false(
      rein_retryable_set_has(&s, REIN_COND_GRPC(13), REIN_OUTCOME_FAILURE));
  assert_true(rein_retryable_set_has(
      &s, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET), REIN_OUTCOME_FAILURE));
  assert_false(
      rein_retryable_set_has(&s, REIN_COND_NONE, REIN_OUTCOME_FAILURE));
  /* kinds are classes: overloaded covers 429 and RESOURCE_EXHAUSTED */
  assert_int_equal(rein_retryable_set_parse(&s, "overloaded, timeout", &e),
                   REIN_OK);
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_HTTP(429), REIN_OUTCOME_OVERLOADED));
  assert_true(
      rein_retryable_set_has(&s, REIN_COND_HTTP(504), REIN_OUTCOME_TIMEOUT));
  assert_false(
      rein_retryable_set_has(&s, REIN_COND_HTTP(500), REIN_OUTCOME_FAILURE));
  assert_false(
      rein_retryable_set_has(&s, REIN_COND_HTTP(200), REIN_OUTCOME_SUCCESS));
  /* old contract spellings */
  assert_int_equal(
      rein_retryable_set_parse(&s,
                               "connect-refused dns connection-reset not-sent "
                               "not_sent failure fatal",
                               &e),
      REIN_OK);
  assert_int_equal(rein_retryable_set_kind_mask(&s),
                   REIN_RETRY_ON(REIN_OUTCOME_NOT_SENT) |
                       REIN_RETRY_ON(REIN_OUTCOME_FAILURE) |
                       REIN_RETRY_ON(REIN_OUTCOME_FATAL));
}

static void test_bad_names(void **state) {
  (void)state;
  const char *bad[] = {"600", "99",      "17",      "0", "OK", "unavailable",
                       "6xx", "504-500", "success", "",  "50x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    rein_retryable_set s;
    rein_retryable_set_clear(&s);
    rein_errbuf e = {{0}};
    assert_int_equal(rein_retryable_set_add(&s, bad[i], strlen(bad[i]), &e),
                     REIN_EINVAL);
    assert_non_null(strstr(e.msg, "retryable: '"));
    assert_non_null(strstr(e.msg, "expected"));
    assert_true(rein_retryable_set_is_empty(&s));
  }
  rein_retryable_set s;
  assert_int_equal(rein_retryable_set_parse(&s, "503, bogus", NULL),
                   REIN_EINVAL);
}

static const char TRANSPORT_AND_KINDS[] =
    "connect-failure, reset, refused-stream, timeout, failure, not_sent, "
    "overloaded, fatal";

static void test_format_round_trip(void **state) {
  (void)state;
  const char *in[] = {"5xx, 429",
                      "500-502, 504, 599, UNAVAILABLE, RESOURCE_EXHAUSTED",
                      "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
                      TRANSPORT_AND_KINDS,
                      "100-599",
                      ""};
  for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
    rein_retryable_set a, b;
    assert_int_equal(rein_retryable_set_parse(&a, in[i], NULL), REIN_OK);
    char txt[512];
    size_t n = rein_retryable_set_format(&a, txt, sizeof txt);
    assert_true(n < sizeof txt);
    assert_int_equal(strlen(txt), n);
    assert_int_equal(rein_retryable_set_parse(&b, txt, NULL), REIN_OK);
    assert_memory_equal(&a, &b, sizeof a);
    char small[8];
    assert_int_equal(rein_retryable_set_format(&a, small, sizeof small), n);
    assert_true(strlen(small) < sizeof small);
  }
  rein_retryable_set a;
  rein_retryable_set_parse(&a, "429, 5xx, 14", NULL);
  char txt[128];
  rein_retryable_set_format(&a, txt, sizeof txt);
  assert_string_equal(txt, "429, 5xx, UNAVAILABLE");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_parse_and_has),
      cmocka_unit_test(test_bad_names),
      cmocka_unit_test(test_format_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
