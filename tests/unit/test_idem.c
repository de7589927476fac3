/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem.c: the idempotency store's front end on its own: fingerprints
 * against known SHA-256 vectors, length-prefixed parts, the default
 * error-caching policy, names, config defaults, result handling and the
 * claim nonces (distinct across the pool's refills and across stores). The
 * store semantics are in tests/backends/test_idem_conformance.c.
 */
#include "rein_test.h"

#include "rein/idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *b, char out[65]) {
  for (int i = 0; i < 32; i++)
    sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_fingerprint_vectors(void **state) {
  (void)state;
  uint8_t d[32];
  char h[65];
  assert_int_equal(rein_idem_fingerprint("abc", 3, d), REIN_OK);
  hex(d, h);
  assert_string_equal(
      h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(rein_idem_fingerprint(NULL, 0, d), REIN_OK);
  hex(d, h);
  assert_string_equal(
      h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_int_equal(rein_idem_fingerprint(NULL, 1, d), REIN_EINVAL);
  assert_int_equal(rein_idem_fingerprint("x", 1, NULL), REIN_EINVAL);
}

static void test_fingerprint_parts(void **state) {
  (void)state;
  uint8_t a[32], b[32], c[32];
  rein_idem_bytes p1[2] = {{"ab", 2}, {"c", 1}};
  rein_idem_bytes p2[2] = {{"a", 1}, {"bc", 2}};
  assert_int_equal(rein_idem_fingerprint_parts(p1, 2, a), REIN_OK);
  assert_int_equal(rein_idem_fingerprint_parts(p2, 2, b), REIN_OK);
  assert_true(memcmp(a, b, 32) != 0);
  assert_int_equal(rein_idem_fingerprint_parts(p1, 2, c), REIN_OK);
  assert_memory_equal(a, c, 32);
  /* parts differ from the plain hash of the concatenation */
  assert_int_equal(rein_idem_fingerprint("abc", 3, c), REIN_OK);
  assert_true(memcmp(a, c, 32) != 0);
  rein_idem_bytes bad[1] = {{NULL, 3}};
  assert_int_equal(rein_idem_fingerprint_parts(bad, 1, a), REIN_EINVAL);
  assert_int_equal(rein_idem_fingerprint_parts(NULL, 1, a), REIN_EINVAL);
  assert_int_equal(rein_idem_fingerprint_parts(NULL, 0, a), REIN_OK);
}

static void test_cacheable_default(void **state) {
  (void)state;
  for (int s = 100; s < 600; s++) {
    bool want =
        (s >= 200 && s < 400) || (s >= 400 && s < 500 && s != 409 && s != 429);
    assert_int_equal(rein_idem_cacheable_default(NULL, s), want);
  }
}

static void test_names_and_defaults(void **state) {
  (void)state;
  assert_string_equal(rein_idem_outcome_name(REIN_IDEM_NEW), "NEW");
  assert_string_equal(rein_idem_outcome_name(REIN_IDEM_REPLAY), "REPLAY");
  assert_string_equal(rein_idem_outcome_name(REIN_IDEM_IN_PROGRESS),
                      "IN_PROGRESS");
  assert_string_equal(rein_idem_outcome_name(REIN_IDEM_MISMATCH), "MISMATCH");
  assert_string_equal(rein_idem_outcome_name((rein_idem_outcome)77), "NONE");
  rein_idem_config c;
  rein_idem_config_default(&c);
  assert_int_equal(c.max_response, 1048576);
  assert_null(c.cacheable);
  assert_null(c.alloc);
  rein_idem_sqlite_config sc;
  rein_idem_sqlite_config_default(&sc);
  assert_string_equal(sc.table, "rein_idem");
  assert_int_equal(sc.busy_timeout_ms, 5000);
  assert_true(sc.synchronous_full);
#if REIN_TEST_PG
  rein_idem_pg_config pc;
  rein_idem_pg_config_default(&pc);
  assert_string_equal(pc.table, "rein_idem");
#endif
  rein_idem_redis_config rc;
  rein_idem_redis_config_default(&rc);
  assert_int_equal(rc.port, 6379);
  assert_string_equal(rc.prefix, "rein:idem:");
  rein_idem_result r;
  memset(&r, 0, sizeof r);
  rein_idem_result_clear(&r);
  rein_idem_result_clear(&r);
  rein_idem_result_clear(NULL);
  assert_string_equal(rein_idem_store_backend(NULL), "none");
  assert_string_equal(rein_idem_store_errmsg(NULL), "");
}

/* The memory store with the default wall clock: a record made now is live. */
static void test_wall_clock_default(void **state) {
  (void)state;
  rein_idem_store *s;
  assert_int_equal(rein_idem_mem_new(NULL, &s), REIN_OK);
  uint8_t fp[32] = {1};
  rein_idem_result r;
  assert_int_equal(
      rein_idem_begin(s, NULL, "k", fp, REIN_NS_PER_S, REIN_NS_PER_S, &r),
      REIN_OK);
  assert_int_equal(r.outcome, REIN_IDEM_NEW);
  assert_int_equal(
      rein_idem_begin(s, NULL, "k", fp, REIN_NS_PER_S, REIN_NS_PER_S, &r),
      REIN_OK);
  assert_int_equal(r.outcome, REIN_IDEM_IN_PROGRESS);
  char msg[64];
  rein_idem_store_errmsg_copy(s, msg, sizeof msg);
  assert_string_equal(msg, "");
  assert_int_equal(
      rein_idem_begin(s, NULL, "", fp, REIN_NS_PER_S, REIN_NS_PER_S, &r),
      REIN_EINVAL);
  rein_idem_store_errmsg_copy(s, msg, sizeof msg);
  assert_non_null(strstr(msg, "idem: key"));
  rein_idem_store_free(s);
}

/* Claim nonces come from a per-store pool of getrandom output, 32 at a
 * time: 1,000 claims (31 refills and pool boundaries) on one memory store
 * and 1,000 on a second store all carry distinct, non-zero nonces. */
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_nonces_distinct(void **state) {
  (void)state;
  enum { N = 1000 };
  static uint64_t seen[2 * N];
  rein_idem_scope sc = {"p", "op"};
  uint8_t fp[32] = {7};
  for (int st = 0; st < 2; st++) {
    rein_idem_store *s;
    assert_int_equal(rein_idem_mem_new(NULL, &s), REIN_OK);
    for (int i = 0; i < N; i++) {
      char key[32];
      snprintf(key, sizeof key, "k%d", i);
      rein_idem_result r;
      assert_int_equal(rein_idem_begin(s, &sc, key, fp, REIN_NS_PER_S,
                                       3600 * REIN_NS_PER_S, &r),
                       REIN_OK);
      assert_int_equal(r.outcome, REIN_IDEM_NEW);
      seen[st * N + i] = r.token.nonce;
      rein_idem_result_clear(&r);
    }
    rein_idem_store_free(s);
  }
  qsort(seen, 2 * N, sizeof seen[0], cmp_u64);
  assert_true(seen[0] != 0);
  for (int i = 1; i < 2 * N; i++)
    if (seen[i] == seen[i - 1])
      fail_msg("nonce %llx handed out twice", (unsigned long long)seen[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fingerprint_vectors),
      cmocka_unit_test(test_nonces_distinct),
      cmocka_unit_test(test_fingerprint_parts),
      cmocka_unit_test(test_cacheable_default),
      cmocka_unit_test(test_names_and_defaults),
      cmocka_unit_test(test_wall_clock_default),
  };
  return cmocka_run_group_tests_name("idem", tests, NULL, NULL);
}
