/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem_conformance.c: one suite, four backends.
 *
 * The same table of tests runs against the memory, SQLite, PostgreSQL and
 * Redis stores (argv[1] picks the backend; ctest registers one test per
 * backend). Memory and SQLite read a manual clock, so their waits are exact
 * and instant; PostgreSQL and Redis keep their own time (now(), TIME), so
 * there the suite really sleeps, with short leases and generous margins.
 * PostgreSQL and Redis come from scripts/services.sh (REIN_PG_DSN,
 * REIN_REDIS_HOST/PORT); without them the suite fails, it does not skip.
 * Every test gets a fresh namespace (SQLite file, PG table, Redis prefix).
 */
#include "rein_test.h"

#include "rein/idem.h"
#include "rein/rng.h"

#include <hiredis.h>
#if REIN_TEST_PG /* built with PostgreSQL (REIN_WITH_PG) */
#include <libpq-fe.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef enum { B_MEM, B_SQLITE, B_PG, B_REDIS, B_REDIS_CLUSTER } backend;

/* The cluster's seed nodes (scripts/services.sh start-cluster, run by
 * test_redis_cluster), e.g. "127.0.0.1:7000,127.0.0.1:7001". */
static const char *cluster_nodes(void) {
  const char *v = getenv("REIN_CLUSTER_NODES");
  if (!v || !*v) {
    fprintf(stderr, "REIN_CLUSTER_NODES is not set (scripts/services.sh "
                    "start-cluster DIR)\n");
    exit(1);
  }
  return v;
}

static backend g_backend;
static int g_serial;

typedef struct fx {
  rein_manual_clock clock;
  bool real_time;
  int64_t lease, retention, margin;
  char path[256]; /* SQLite */
  char name[64];  /* PG table / Redis prefix */
  rein_idem_store *s;
} fx;

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / REIN_NS_PER_S),
                        (long)(ns % REIN_NS_PER_S)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static void advance(fx *f, int64_t ns) {
  if (f->real_time)
    sleep_ns(ns);
  else
    rein_manual_clock_advance(&f->clock, ns);
}

static void config_for(fx *f, rein_idem_config *c) {
  rein_idem_config_default(c);
  c->clock = rein_manual_clock_as_clock(&f->clock);
}

static rein_status open_with(fx *f, const rein_idem_config *c,
                             rein_idem_store **out) {
  switch (g_backend) {
  case B_MEM:
    return rein_idem_mem_new(c, out);
  case B_SQLITE: {
    rein_idem_sqlite_config sc;
    rein_idem_sqlite_config_default(&sc);
    sc.path = f->path;
    return rein_idem_sqlite_new(c, &sc, out);
  }
#if !REIN_TEST_PG
  case B_PG:
    return REIN_EINVAL; /* not built: main() refuses "pg" */
#else
  case B_PG: {
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    pc.conninfo = rein_test_pg_dsn();
    pc.table = f->name;
    return rein_idem_pg_new(c, &pc, out);
  }
#endif
  case B_REDIS: {
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.host = rein_test_redis_host();
    rc.port = rein_test_redis_port();
    rc.prefix = f->name;
    return rein_idem_redis_new(c, &rc, out);
  }
  case B_REDIS_CLUSTER: {
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.cluster_nodes = cluster_nodes();
    rc.prefix = f->name;
    return rein_idem_redis_new(c, &rc, out);
  }
  }
  return REIN_EINVAL;
}

static bool is_redis(void) {
  return g_backend == B_REDIS || g_backend == B_REDIS_CLUSTER;
}

/* Another handle on the same data (the memory store is shared as is). */
static rein_idem_store *second(fx *f) {
  if (g_backend == B_MEM) return f->s;
  rein_idem_config c;
  config_for(f, &c);
  rein_idem_store *s = NULL;
  assert_int_equal(open_with(f, &c, &s), REIN_OK);
  return s;
}

static void close_second(fx *f, rein_idem_store *s) {
  if (s != f->s) rein_idem_store_free(s);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  rein_manual_clock_init(&f->clock, INT64_C(1700000000) * REIN_NS_PER_S);
  f->real_time = g_backend == B_PG || is_redis();
  /* real time: generous enough that a loaded CI machine (2 cores, many
   * jobs) does not stall past a lease between two calls of one test */
  f->lease = f->real_time ? 500 * REIN_NS_PER_MS : 30 * REIN_NS_PER_S;
  f->retention =
      f->real_time ? 2000 * REIN_NS_PER_MS : 24 * 3600 * REIN_NS_PER_S;
  f->margin = f->real_time ? 100 * REIN_NS_PER_MS : 1;
  int n = ++g_serial;
  snprintf(f->path, sizeof f->path, "/tmp/rein-idem-conf-%d-%d.db",
           (int)getpid(), n);
  if (is_redis())
    snprintf(f->name, sizeof f->name, "rein:test:%d:%d:", (int)getpid(), n);
  else
    snprintf(f->name, sizeof f->name, "t_%d_%d", (int)getpid(), n);
  rein_idem_config c;
  config_for(f, &c);
  rein_errbuf err = {{0}};
  c.err = &err;
  rein_status st = open_with(f, &c, &f->s);
  if (st != REIN_OK) fail_msg("open: %s: %s", rein_status_name(st), err.msg);
  *state = f;
  return 0;
}

static void drop_sqlite(const char *path) {
  char p[300];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

static int teardown(void **state) {
  fx *f = *state;
  rein_idem_store_free(f->s);
  if (g_backend == B_SQLITE) drop_sqlite(f->path);
#if REIN_TEST_PG
  if (g_backend == B_PG) {
    PGconn *c = PQconnectdb(rein_test_pg_dsn());
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS \"%s\"", f->name);
    PQclear(PQexec(c, sql));
    PQfinish(c);
  }
#endif
  free(f);
  return 0;
}

static const rein_idem_scope A = {"alice", "POST /charges"};
static const rein_idem_scope B = {"bob", "POST /charges"};

static void fp_of(const char *s, uint8_t out[32]) {
  assert_int_equal(rein_idem_fingerprint(s, strlen(s), out), REIN_OK);
}

/* begin and expect `want`; the result is left in *r (caller clears). */
static void begin_expect(fx *f, rein_idem_store *s, const rein_idem_scope *sc,
                         const char *key, const char *payload,
                         rein_idem_outcome want, rein_idem_result *r) {
  uint8_t fp[32];
  fp_of(payload, fp);
  rein_status st = rein_idem_begin(s, sc, key, fp, f->lease, f->retention, r);
  if (st != REIN_OK)
    fail_msg("begin(%s): %s: %s", key, rein_status_name(st),
             rein_idem_store_errmsg(s));
  if (r->outcome != want)
    fail_msg("begin(%s): got %s, want %s", key,
             rein_idem_outcome_name(r->outcome), rein_idem_outcome_name(want));
}

static rein_idem_token begin_new(fx *f, const rein_idem_scope *sc,
                                 const char *key, const char *payload) {
  rein_idem_result r;
  begin_expect(f, f->s, sc, key, payload, REIN_IDEM_NEW, &r);
  rein_idem_token t = r.token;
  rein_idem_result_clear(&r);
  return t;
}

static void complete_ok(fx *f, const rein_idem_token *t, int status,
                        const char *body, bool want_stored) {
  rein_idem_response resp = {status, "X-Test: 1\r\n", 11, body, strlen(body)};
  bool stored = !want_stored;
  rein_status st = rein_idem_complete(f->s, t, &resp, &stored);
  if (st != REIN_OK)
    fail_msg("complete: %s: %s", rein_status_name(st),
             rein_idem_store_errmsg(f->s));
  assert_int_equal(stored, want_stored);
}

static void expect_replay(fx *f, const rein_idem_scope *sc, const char *key,
                          const char *payload, int status, const char *body) {
  rein_idem_result r;
  begin_expect(f, f->s, sc, key, payload, REIN_IDEM_REPLAY, &r);
  assert_int_equal(r.response.status, status);
  assert_int_equal(r.response.headers_len, 11);
  assert_memory_equal(r.response.headers, "X-Test: 1\r\n", 11);
  assert_int_equal(r.response.body_len, strlen(body));
  assert_memory_equal(r.response.body, body, strlen(body));
  assert_true(r.expires_in_ns > 0 && r.expires_in_ns <= f->retention);
  rein_idem_result_clear(&r);
}

/* ---- state transitions ------------------------------------------------- */

static void test_new_complete_replay(void **state) {
  fx *f = *state;
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k1", "pay 10", REIN_IDEM_NEW, &r);
  assert_int_equal(r.token.fence, 1);
  assert_false(r.recovered);
  assert_string_equal(r.phase, "");
  if (!f->real_time)
    assert_int_equal(r.expires_in_ns, f->retention);
  else
    assert_true(r.expires_in_ns > f->retention / 2);
  rein_idem_token t = r.token;
  rein_idem_result_clear(&r);
  complete_ok(f, &t, 201, "{\"id\":1}", true);
  expect_replay(f, &A, "k1", "pay 10", 201, "{\"id\":1}");
  expect_replay(f, &A, "k1", "pay 10", 201, "{\"id\":1}");
  /* the token is spent */
  rein_idem_response resp = {200, NULL, 0, "x", 1};
  assert_int_equal(rein_idem_complete(f->s, &t, &resp, NULL), REIN_ESTALE);
  assert_int_equal(rein_idem_abandon(f->s, &t), REIN_ESTALE);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "p", 0), REIN_ESTALE);
  expect_replay(f, &A, "k1", "pay 10", 201, "{\"id\":1}");
  /* empty headers and body replay as empty, non-NULL */
  t = begin_new(f, &A, "k-empty", "p");
  rein_idem_response empty = {204, NULL, 0, NULL, 0};
  assert_int_equal(rein_idem_complete(f->s, &t, &empty, NULL), REIN_OK);
  begin_expect(f, f->s, &A, "k-empty", "p", REIN_IDEM_REPLAY, &r);
  assert_int_equal(r.response.status, 204);
  assert_int_equal(r.response.body_len, 0);
  assert_int_equal(r.response.headers_len, 0);
  assert_non_null(r.response.body);
  assert_non_null(r.response.headers);
  rein_idem_result_clear(&r);
  /* binary bodies round-trip byte for byte */
  t = begin_new(f, &A, "k-bin", "p");
  unsigned char bin[300];
  for (int i = 0; i < 300; i++)
    bin[i] = (unsigned char)(i * 7);
  rein_idem_response rb = {200, "A\0B", 3, bin, sizeof bin};
  assert_int_equal(rein_idem_complete(f->s, &t, &rb, NULL), REIN_OK);
  begin_expect(f, f->s, &A, "k-bin", "p", REIN_IDEM_REPLAY, &r);
  assert_int_equal(r.response.headers_len, 3);
  assert_memory_equal(r.response.headers, "A\0B", 3);
  assert_int_equal(r.response.body_len, sizeof bin);
  assert_memory_equal(r.response.body, bin, sizeof bin);
  rein_idem_result_clear(&r);
}

static void test_in_progress(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "k2", "pay");
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k2", "pay", REIN_IDEM_IN_PROGRESS, &r);
  assert_true(r.retry_after_ns > 0 && r.retry_after_ns <= f->lease);
  if (!f->real_time) assert_int_equal(r.retry_after_ns, f->lease);
  assert_true(r.expires_in_ns > 0);
  rein_idem_result_clear(&r);
  if (!f->real_time) {
    advance(f, f->lease / 3);
    begin_expect(f, f->s, &A, "k2", "pay", REIN_IDEM_IN_PROGRESS, &r);
    assert_int_equal(r.retry_after_ns, f->lease - f->lease / 3);
    rein_idem_result_clear(&r);
  }
  /* a second handle sees the same */
  rein_idem_store *s2 = second(f);
  begin_expect(f, s2, &A, "k2", "pay", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  close_second(f, s2);
  complete_ok(f, &t, 200, "ok", true);
  expect_replay(f, &A, "k2", "pay", 200, "ok");
}

static void test_mismatch(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "k3", "pay 10");
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k3", "pay 99", REIN_IDEM_MISMATCH, &r);
  assert_int_equal(r.token.fence, 0);
  assert_int_equal(r.response.body_len, 0);
  assert_null(r.response.body);
  rein_idem_result_clear(&r);
  complete_ok(f, &t, 200, "ten", true);
  begin_expect(f, f->s, &A, "k3", "pay 99", REIN_IDEM_MISMATCH, &r);
  rein_idem_result_clear(&r);
  expect_replay(f, &A, "k3", "pay 10", 200, "ten");
}

static void test_lease_takeover_and_stale_token(void **state) {
  fx *f = *state;
  rein_idem_token old = begin_new(f, &A, "k4", "pay");
  assert_int_equal(rein_idem_checkpoint(f->s, &old, "charged", 0), REIN_OK);
  advance(f, f->lease + f->margin);
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k4", "pay", REIN_IDEM_NEW, &r);
  assert_true(r.recovered);
  assert_string_equal(r.phase, "charged");
  assert_int_equal(r.token.fence, 2);
  assert_true(memcmp(r.token.id, old.id, 32) == 0);
  rein_idem_token now = r.token;
  rein_idem_result_clear(&r);
  /* the old holder is refused everything, and changes nothing */
  rein_idem_response resp = {200, NULL, 0, "old", 3};
  assert_int_equal(rein_idem_complete(f->s, &old, &resp, NULL), REIN_ESTALE);
  assert_string_not_equal(rein_idem_store_errmsg(f->s), "");
  assert_int_equal(rein_idem_checkpoint(f->s, &old, "x", 0), REIN_ESTALE);
  assert_int_equal(rein_idem_abandon(f->s, &old), REIN_ESTALE);
  begin_expect(f, f->s, &A, "k4", "pay", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  /* a forged token with the right fence but wrong nonce is refused too */
  rein_idem_token forged = now;
  forged.nonce ^= 1;
  assert_int_equal(rein_idem_complete(f->s, &forged, &resp, NULL), REIN_ESTALE);
  complete_ok(f, &now, 200, "new", true);
  expect_replay(f, &A, "k4", "pay", 200, "new");
}

static void test_expired_lease_not_taken_over_still_completes(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "k5", "pay");
  advance(f, f->lease + f->margin);
  complete_ok(f, &t, 200, "late", true);
  expect_replay(f, &A, "k5", "pay", 200, "late");
}

static void test_checkpoint_extends_lease(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "k6", "pay");
  advance(f, f->lease / 2);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "step1", f->lease), REIN_OK);
  advance(f, f->lease / 2);
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k6", "pay", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  /* checkpoint without extension leaves the lease alone */
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "step2", 0), REIN_OK);
  advance(f, f->lease / 2 + f->margin);
  begin_expect(f, f->s, &A, "k6", "pay", REIN_IDEM_NEW, &r);
  assert_true(r.recovered);
  assert_string_equal(r.phase, "step2");
  rein_idem_result_clear(&r);
}

static void test_abandon(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "k7", "pay 1");
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "half", 0), REIN_OK);
  assert_int_equal(rein_idem_abandon(f->s, &t), REIN_OK);
  assert_int_equal(rein_idem_abandon(f->s, &t), REIN_ESTALE);
  /* released: a new claim, even with another payload; not a recovery */
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k7", "pay 2", REIN_IDEM_NEW, &r);
  assert_false(r.recovered);
  assert_string_equal(r.phase, "");
  assert_int_equal(r.token.fence, 2);
  rein_idem_token t2 = r.token;
  rein_idem_result_clear(&r);
  complete_ok(f, &t2, 200, "two", true);
  expect_replay(f, &A, "k7", "pay 2", 200, "two");
  begin_expect(f, f->s, &A, "k7", "pay 1", REIN_IDEM_MISMATCH, &r);
  rein_idem_result_clear(&r);
}

static void test_retention(void **state) {
  fx *f = *state;
  int64_t half = f->retention / 2;
  rein_idem_token t = begin_new(f, &A, "k8", "pay");
  advance(f, half);
  /* abandon + reclaim keeps the retention of the FIRST request */
  assert_int_equal(rein_idem_abandon(f->s, &t), REIN_OK);
  rein_idem_result r;
  begin_expect(f, f->s, &A, "k8", "pay", REIN_IDEM_NEW, &r);
  if (!f->real_time)
    assert_int_equal(r.expires_in_ns, f->retention - half);
  else
    assert_true(r.expires_in_ns <= f->retention - half);
  t = r.token;
  rein_idem_result_clear(&r);
  complete_ok(f, &t, 200, "v1", true);
  expect_replay(f, &A, "k8", "pay", 200, "v1");
  advance(f, f->retention - half + f->margin);
  /* retention over: forgotten, a fresh claim (any payload) */
  begin_expect(f, f->s, &A, "k8", "other", REIN_IDEM_NEW, &r);
  assert_false(r.recovered);
  if (!f->real_time) assert_int_equal(r.expires_in_ns, f->retention);
  rein_idem_result_clear(&r);
}

static void test_lease_outlives_retention(void **state) {
  fx *f = *state;
  if (f->real_time) return; /* needs a lease longer than the retention */
  uint8_t fp[32];
  fp_of("pay", fp);
  rein_idem_result r;
  int64_t ret = 2 * f->lease;
  assert_int_equal(rein_idem_begin(f->s, &A, "k9", fp, f->lease, ret, &r),
                   REIN_OK);
  rein_idem_token t = r.token;
  rein_idem_result_clear(&r);
  advance(f, f->lease - 1);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "p", 2 * f->lease), REIN_OK);
  advance(f, f->lease + 2); /* retention over, lease live */
  assert_int_equal(rein_idem_begin(f->s, &A, "k9", fp, f->lease, ret, &r),
                   REIN_OK);
  assert_int_equal(r.outcome, REIN_IDEM_IN_PROGRESS);
  assert_int_equal(r.expires_in_ns, 0);
  rein_idem_result_clear(&r);
  size_t n = 99;
  assert_int_equal(rein_idem_purge(f->s, 10, &n), REIN_OK);
  assert_int_equal(n, 0);
  complete_ok(f, &t, 200, "x", true);
  assert_int_equal(rein_idem_purge(f->s, 10, &n), REIN_OK);
  assert_int_equal(n, 1);
}

/* ---- error caching ----------------------------------------------------- */

static void test_error_caching_default(void **state) {
  fx *f = *state;
  static const struct {
    int status;
    bool stored;
  } cases[] = {{200, true},  {201, true},  {302, true},  {400, true},
               {404, true},  {422, true},  {409, false}, {429, false},
               {500, false}, {503, false}, {102, false}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char key[32];
    snprintf(key, sizeof key, "ec-%d", cases[i].status);
    rein_idem_token t = begin_new(f, &A, key, "p");
    complete_ok(f, &t, cases[i].status, "body", cases[i].stored);
    if (cases[i].stored) {
      expect_replay(f, &A, key, "p", cases[i].status, "body");
    } else {
      /* released like abandon: the retry runs again */
      rein_idem_result r;
      begin_expect(f, f->s, &A, key, "p", REIN_IDEM_NEW, &r);
      assert_int_equal(r.token.fence, 2);
      assert_false(r.recovered);
      rein_idem_result_clear(&r);
    }
  }
  assert_true(rein_idem_cacheable_default(NULL, 299));
  assert_false(rein_idem_cacheable_default(NULL, 599));
}

static bool only_200(void *ctx, int status) {
  (*(int *)ctx)++;
  return status == 200;
}

static void test_error_caching_custom(void **state) {
  fx *f = *state;
  rein_idem_store_free(f->s);
  f->s = NULL;
  int calls = 0;
  rein_idem_config c;
  config_for(f, &c);
  c.cacheable = only_200;
  c.cacheable_ctx = &calls;
  assert_int_equal(open_with(f, &c, &f->s), REIN_OK);
  rein_idem_token t = begin_new(f, &A, "c1", "p");
  complete_ok(f, &t, 404, "nf", false);
  t = begin_new(f, &A, "c1", "p");
  complete_ok(f, &t, 200, "ok", true);
  expect_replay(f, &A, "c1", "p", 200, "ok");
  assert_int_equal(calls, 2);
}

/* ---- purge ------------------------------------------------------------- */

static void test_purge_batches(void **state) {
  fx *f = *state;
  for (int i = 0; i < 25; i++) {
    char key[16];
    snprintf(key, sizeof key, "p-%d", i);
    rein_idem_token t = begin_new(f, &A, key, "p");
    if (i % 2)
      complete_ok(f, &t, 200, "x", true);
    else
      assert_int_equal(rein_idem_abandon(f->s, &t), REIN_OK);
  }
  size_t n = 99;
  assert_int_equal(rein_idem_purge(f->s, 10, &n), REIN_OK);
  assert_int_equal(n, 0); /* nothing expired yet */
  advance(f, f->retention + f->margin);
  /* a record made now is not purged */
  rein_idem_token live = begin_new(f, &A, "live", "p");
  complete_ok(f, &live, 200, "x", true);
  if (is_redis()) {
    /* Redis expires by PX: purge has nothing to do */
    assert_int_equal(rein_idem_purge(f->s, 10, &n), REIN_OK);
    assert_int_equal(n, 0);
  } else {
    size_t want[] = {10, 10, 5, 0};
    for (int i = 0; i < 4; i++) {
      assert_int_equal(rein_idem_purge(f->s, 10, &n), REIN_OK);
      assert_int_equal(n, want[i]);
    }
  }
  expect_replay(f, &A, "live", "p", 200, "x");
  rein_idem_result r;
  begin_expect(f, f->s, &A, "p-1", "p", REIN_IDEM_NEW, &r);
  rein_idem_result_clear(&r);
  assert_int_equal(rein_idem_purge(f->s, 0, &n), REIN_EINVAL);
  assert_non_null(strstr(rein_idem_store_errmsg(f->s), "max_batch"));
}

/* ---- scope isolation --------------------------------------------------- */

static void test_principal_isolation(void **state) {
  fx *f = *state;
  /* A in progress: B with the same key and operation is not blocked */
  rein_idem_token ta = begin_new(f, &A, "shared-key", "alice pays 10");
  rein_idem_result r;
  begin_expect(f, f->s, &B, "shared-key", "bob pays 99", REIN_IDEM_NEW, &r);
  assert_true(memcmp(r.token.id, ta.id, 32) != 0);
  assert_int_equal(r.token.fence, 1);
  rein_idem_token tb = r.token;
  rein_idem_result_clear(&r);
  complete_ok(f, &ta, 201, "alice-secret", true);
  /* B never sees A's response nor a conflict */
  complete_ok(f, &tb, 201, "bob-result", true);
  expect_replay(f, &B, "shared-key", "bob pays 99", 201, "bob-result");
  expect_replay(f, &A, "shared-key", "alice pays 10", 201, "alice-secret");
  /* B with A's exact payload: still B's own record */
  expect_replay(f, &B, "shared-key", "bob pays 99", 201, "bob-result");
  rein_idem_scope b2 = {"bob", "POST /refunds"};
  begin_expect(f, f->s, &b2, "shared-key", "alice pays 10", REIN_IDEM_NEW, &r);
  rein_idem_result_clear(&r);
  /* no concatenation collisions: ("ab","c") vs ("a","bc") */
  rein_idem_scope x = {"ab", "c"}, y = {"a", "bc"};
  rein_idem_token tx = begin_new(f, &x, "k", "p");
  rein_idem_token ty = begin_new(f, &y, "k", "p");
  assert_true(memcmp(tx.id, ty.id, 32) != 0);
  /* any bytes in principal, operation and phase (not only UTF-8) */
  rein_idem_scope bin = {"\xff\xfe tenant", "op\x01\x80"};
  rein_idem_token tbin = begin_new(f, &bin, "k", "p");
  assert_int_equal(rein_idem_checkpoint(f->s, &tbin, "\xc3\x28 phase", 0),
                   REIN_OK);
  complete_ok(f, &tbin, 200, "bin", true);
  expect_replay(f, &bin, "k", "p", 200, "bin");
  /* NULL scope = empty principal and operation */
  rein_idem_token tn = begin_new(f, NULL, "k", "p");
  rein_idem_scope empty = {"", ""};
  begin_expect(f, f->s, &empty, "k", "p", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  (void)tn;
}

/* ---- limits ------------------------------------------------------------ */

static void expect_einval(fx *f, const rein_idem_scope *sc, const char *key,
                          int64_t lease, int64_t ret, const char *needle) {
  uint8_t fp[32];
  fp_of("p", fp);
  rein_idem_result r;
  memset(&r, 0x5a, sizeof r);
  r.priv_buf_ = NULL;
  assert_int_equal(rein_idem_begin(f->s, sc, key, fp, lease, ret, &r),
                   REIN_EINVAL);
  assert_int_equal(r.outcome, REIN_IDEM_NONE);
  const char *m = rein_idem_store_errmsg(f->s);
  if (!strstr(m, needle)) fail_msg("message \"%s\" lacks \"%s\"", m, needle);
}

static void test_limits(void **state) {
  fx *f = *state;
  char k255[256], k256[257];
  memset(k255, 'k', 255);
  k255[255] = '\0';
  memset(k256, 'k', 256);
  k256[256] = '\0';
  rein_idem_token t = begin_new(f, &A, k255, "p");
  complete_ok(f, &t, 200, "long", true);
  expect_replay(f, &A, k255, "p", 200, "long");
  t = begin_new(f, &A, "with space ~!", "p");
  (void)t;
  int64_t L = f->lease, R = f->retention;
  expect_einval(f, &A, "", L, R, "key");
  expect_einval(f, &A, NULL, L, R, "key");
  expect_einval(f, &A, k256, L, R, "255");
  expect_einval(f, &A, "bad\nkey", L, R, "0x0a");
  expect_einval(f, &A, "caf\xc3\xa9", L, R, "printable");
  rein_idem_scope longp = {k256, "op"};
  expect_einval(f, &longp, "k", L, R, "principal");
  rein_idem_scope longo = {"p", k256};
  expect_einval(f, &longo, "k", L, R, "operation");
  expect_einval(f, &A, "k", 0, R, "lease_ns");
  expect_einval(f, &A, "k", -5, R, "lease_ns");
  expect_einval(f, &A, "k", L, L - 1, "retention_ns");
  expect_einval(f, &A, "k", L, INT64_MAX, "retention_ns");
  uint8_t fp[32];
  fp_of("p", fp);
  rein_idem_result r;
  assert_int_equal(rein_idem_begin(f->s, &A, "k", NULL, L, R, &r), REIN_EINVAL);
  assert_non_null(strstr(rein_idem_store_errmsg(f->s), "fingerprint"));

  /* response cap: 1 MiB by default, headers + body */
  t = begin_new(f, &A, "big", "p");
  size_t cap = REIN_IDEM_DEFAULT_MAX_RESPONSE;
  char *body = malloc(cap + 1);
  memset(body, 'b', cap + 1);
  rein_idem_response big = {200, "H: v\r\n", 6, body, cap - 5};
  assert_int_equal(rein_idem_complete(f->s, &t, &big, NULL), REIN_ETOOBIG);
  const char *m = rein_idem_store_errmsg(f->s);
  assert_non_null(strstr(m, "max_response"));
  assert_non_null(strstr(m, "1048576"));
  /* nothing changed: still in progress, and the lease is still ours */
  begin_expect(f, f->s, &A, "big", "p", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  big.body_len = cap - 6; /* exactly the cap */
  assert_int_equal(rein_idem_complete(f->s, &t, &big, NULL), REIN_OK);
  begin_expect(f, f->s, &A, "big", "p", REIN_IDEM_REPLAY, &r);
  assert_int_equal(r.response.body_len, cap - 6);
  assert_memory_equal(r.response.body, body, cap - 6);
  rein_idem_result_clear(&r);
  free(body);

  /* bad completes and checkpoints */
  t = begin_new(f, &A, "bad", "p");
  rein_idem_response bad = {99, NULL, 0, NULL, 0};
  assert_int_equal(rein_idem_complete(f->s, &t, &bad, NULL), REIN_EINVAL);
  bad.status = 600;
  assert_int_equal(rein_idem_complete(f->s, &t, &bad, NULL), REIN_EINVAL);
  bad.status = 200;
  bad.body_len = 3;
  assert_int_equal(rein_idem_complete(f->s, &t, &bad, NULL), REIN_EINVAL);
  assert_int_equal(rein_idem_complete(f->s, &t, NULL, NULL), REIN_EINVAL);
  assert_int_equal(rein_idem_complete(f->s, NULL, &bad, NULL), REIN_EINVAL);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, k256, 0), REIN_EINVAL);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, "p", 5), REIN_EINVAL);
  assert_int_equal(rein_idem_checkpoint(f->s, &t, k255, 0), REIN_OK);
  advance(f, f->lease + f->margin);
  begin_expect(f, f->s, &A, "bad", "p", REIN_IDEM_NEW, &r);
  assert_string_equal(r.phase, k255);
  rein_idem_result_clear(&r);
  /* smaller cap from the config */
  rein_idem_store_free(f->s);
  rein_idem_config c;
  config_for(f, &c);
  c.max_response = 4;
  assert_int_equal(open_with(f, &c, &f->s), REIN_OK);
  t = begin_new(f, &A, "small", "p");
  rein_idem_response five = {200, NULL, 0, "12345", 5};
  assert_int_equal(rein_idem_complete(f->s, &t, &five, NULL), REIN_ETOOBIG);
  five.body_len = 4;
  assert_int_equal(rein_idem_complete(f->s, &t, &five, NULL), REIN_OK);
  /* the NULL store */
  assert_int_equal(rein_idem_begin(NULL, &A, "k", fp, L, R, &r), REIN_EINVAL);
  assert_int_equal(rein_idem_purge(NULL, 1, NULL), REIN_EINVAL);
  rein_idem_store_free(NULL);
}

static void test_config_validation(void **state) {
  fx *f = *state;
  rein_idem_config c;
  config_for(f, &c);
  rein_errbuf err = {{0}};
  c.err = &err;
  c.max_response = ((size_t)1 << 30) + 1;
  rein_idem_store *s = (rein_idem_store *)&err;
  assert_int_equal(open_with(f, &c, &s), REIN_EINVAL);
  assert_null(s);
  assert_non_null(strstr(err.msg, "max_response"));
  config_for(f, &c);
  c.err = &err;
  switch (g_backend) {
  case B_MEM:
    assert_int_equal(rein_idem_mem_new(&c, NULL), REIN_EINVAL);
    break;
  case B_SQLITE: {
    rein_idem_sqlite_config sc;
    rein_idem_sqlite_config_default(&sc);
    sc.path = f->path;
    sc.table = "bad name;";
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "table"));
    sc.table = NULL;
    sc.busy_timeout_ms = -1;
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "busy_timeout_ms"));
    sc.busy_timeout_ms = 10;
    sc.path = "/nonexistent-dir/x.db";
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_EBACKEND);
    assert_non_null(strstr(err.msg, "SQLITE_CANTOPEN"));
    sc.path = NULL;
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_EINVAL);
    break;
  }
#if !REIN_TEST_PG
  case B_PG:
    break;
#else
  case B_PG: {
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    assert_int_equal(rein_idem_pg_new(&c, &pc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "conninfo"));
    pc.conninfo = rein_test_pg_dsn();
    pc.table = "x\"; DROP TABLE y; --";
    assert_int_equal(rein_idem_pg_new(&c, &pc, &s), REIN_EINVAL);
    break;
  }
#endif
  case B_REDIS: {
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.port = 0;
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "port"));
    rc.port = rein_test_redis_port();
    rc.prefix = "has space";
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "prefix"));
    break;
  }
  case B_REDIS_CLUSTER: {
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.cluster_nodes = "127.0.0.1";
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_EINVAL);
    assert_non_null(strstr(err.msg, "cluster_nodes"));
    rc.cluster_nodes = cluster_nodes();
    rc.sentinels = "127.0.0.1:26379";
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_EINVAL);
    break;
  }
  }
  assert_string_equal(rein_idem_store_backend(f->s),
                      g_backend == B_MEM      ? "memory"
                      : g_backend == B_SQLITE ? "sqlite"
                      : g_backend == B_PG     ? "postgresql"
                                              : "redis");
}

/* ---- backend failure --------------------------------------------------- */

static void test_backend_failure(void **state) {
  fx *f = *state;
  rein_idem_token t = begin_new(f, &A, "f1", "p");
  complete_ok(f, &t, 200, "kept", true);
  rein_idem_config c;
  config_for(f, &c);
  rein_errbuf err = {{0}};
  c.err = &err;
  rein_idem_store *s = NULL;
  rein_idem_result r;
  uint8_t fp[32];
  fp_of("p", fp);
  switch (g_backend) {
  case B_MEM: {
    /* the only thing that can fail is memory: a REPLAY copy */
    rein_test_alloc ta;
    rein_test_alloc_init(&ta, -1);
    c.alloc = &ta.a;
    assert_int_equal(rein_idem_mem_new(&c, &s), REIN_OK);
    rein_idem_token t2;
    assert_int_equal(
        rein_idem_begin(s, &A, "f", fp, f->lease, f->retention, &r), REIN_OK);
    t2 = r.token;
    rein_idem_response resp = {200, NULL, 0, "v", 1};
    ta.fail_at = ta.count;
    assert_int_equal(rein_idem_complete(s, &t2, &resp, NULL), REIN_ENOMEM);
    assert_int_equal(rein_idem_complete(s, &t2, &resp, NULL), REIN_OK);
    ta.fail_at = ta.count;
    assert_int_equal(
        rein_idem_begin(s, &A, "f", fp, f->lease, f->retention, &r),
        REIN_ENOMEM);
    assert_int_equal(r.outcome, REIN_IDEM_NONE);
    ta.fail_at = ta.count;
    assert_int_equal(
        rein_idem_begin(s, &A, "new", fp, f->lease, f->retention, &r),
        REIN_ENOMEM);
    assert_int_equal(
        rein_idem_begin(s, &A, "f", fp, f->lease, f->retention, &r), REIN_OK);
    assert_int_equal(r.outcome, REIN_IDEM_REPLAY);
    rein_idem_result_clear(&r);
    rein_idem_store_free(s);
    assert_int_equal(ta.live, 0);
    break;
  }
  case B_SQLITE: {
    /* another connection holds the write lock: EBUSY after the timeout */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    rein_idem_sqlite_config sc;
    rein_idem_sqlite_config_default(&sc);
    sc.db = db;
    sc.owns_db = false;
    sc.busy_timeout_ms = 30;
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_OK);
    sqlite3 *locker;
    assert_int_equal(sqlite3_open(f->path, &locker), SQLITE_OK);
    assert_int_equal(sqlite3_exec(locker, "BEGIN EXCLUSIVE", 0, 0, 0),
                     SQLITE_OK);
    assert_int_equal(
        rein_idem_begin(s, &A, "f2", fp, f->lease, f->retention, &r),
        REIN_EBUSY);
    assert_non_null(strstr(rein_idem_store_errmsg(s), "SQLITE_BUSY"));
    assert_int_equal(sqlite3_exec(locker, "COMMIT", 0, 0, 0), SQLITE_OK);
    sqlite3_close(locker);
    assert_int_equal(
        rein_idem_begin(s, &A, "f1", fp, f->lease, f->retention, &r), REIN_OK);
    assert_int_equal(r.outcome, REIN_IDEM_REPLAY);
    rein_idem_result_clear(&r);
    rein_idem_store_free(s); /* not owned: db stays open */
    assert_int_equal(sqlite3_exec(db, "SELECT 1", 0, 0, 0), SQLITE_OK);
    sqlite3_close(db);
    break;
  }
#if !REIN_TEST_PG
  case B_PG:
    break;
#else
  case B_PG: {
    PGconn *conn = PQconnectdb(rein_test_pg_dsn());
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    pc.conn = conn;
    pc.owns_conn = true;
    pc.table = f->name;
    assert_int_equal(rein_idem_pg_new(&c, &pc, &s), REIN_OK);
    shutdown(PQsocket(conn), SHUT_RDWR);
    rein_status st =
        rein_idem_begin(s, &A, "f2", fp, f->lease, f->retention, &r);
    assert_int_equal(st, REIN_ECLOSED);
    assert_non_null(strstr(rein_idem_store_errmsg(s), "pg:"));
    assert_int_equal(r.outcome, REIN_IDEM_NONE);
    rein_idem_store_free(s); /* owned: finished */
    pc.conn = NULL;
    pc.conninfo = "host=127.0.0.1 port=1 connect_timeout=2";
    assert_int_equal(rein_idem_pg_new(&c, &pc, &s), REIN_ECLOSED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "cannot connect"));
    break;
  }
#endif
  case B_REDIS: {
    redisContext *ctx =
        redisConnect(rein_test_redis_host(), rein_test_redis_port());
    assert_true(ctx && !ctx->err);
    /* scripts flushed (server restart, SCRIPT FLUSH): NOSCRIPT -> EVAL */
    redisReply *fl = redisCommand(ctx, "SCRIPT FLUSH");
    assert_non_null(fl);
    freeReplyObject(fl);
    expect_replay(f, &A, "f1", "p", 200, "kept");
    rein_idem_token t3 = begin_new(f, &A, "f3", "p");
    complete_ok(f, &t3, 200, "after flush", true);
    expect_replay(f, &A, "f3", "p", 200, "after flush");
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.ctx = ctx;
    rc.owns_ctx = true;
    rc.prefix = f->name;
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_OK);
    shutdown(ctx->fd, SHUT_RDWR);
    assert_int_equal(
        rein_idem_begin(s, &A, "f2", fp, f->lease, f->retention, &r),
        REIN_ECLOSED);
    assert_non_null(strstr(rein_idem_store_errmsg(s), "redis:"));
    rein_idem_store_free(s);
    rein_idem_redis_config_default(&rc);
    rc.port = 1;
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_ECLOSED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    break;
  }
  case B_REDIS_CLUSTER: {
    /* scripts flushed on every node: each answers NOSCRIPT once, EVAL */
    char list[512];
    snprintf(list, sizeof list, "%s", cluster_nodes());
    char *save = NULL;
    for (char *node = strtok_r(list, ",", &save); node;
         node = strtok_r(NULL, ",", &save)) {
      redisContext *ctx =
          redisConnect("127.0.0.1", atoi(strrchr(node, ':') + 1));
      assert_true(ctx && !ctx->err);
      freeReplyObject(redisCommand(ctx, "SCRIPT FLUSH"));
      redisFree(ctx);
    }
    expect_replay(f, &A, "f1", "p", 200, "kept");
    rein_idem_token t3 = begin_new(f, &A, "f3", "p");
    complete_ok(f, &t3, 200, "after flush", true);
    expect_replay(f, &A, "f3", "p", 200, "after flush");
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.cluster_nodes = "127.0.0.1:1";
    assert_int_equal(rein_idem_redis_new(&c, &rc, &s), REIN_ECLOSED);
    assert_null(s);
    assert_non_null(strstr(err.msg, "127.0.0.1:1"));
    break;
  }
  }
  /* nothing corrupted: the main handle still replays, and works */
  expect_replay(f, &A, "f1", "p", 200, "kept");
  begin_expect(f, f->s, &A, "f2", "p", REIN_IDEM_NEW, &r);
  rein_idem_result_clear(&r);
  char buf[8];
  rein_idem_store_errmsg_copy(f->s, buf, sizeof buf);
}

/* ---- allocation faults ------------------------------------------------- */

static fx *g_fx;

static int fault_body(void *ctx, const rein_allocator *a) {
  fx *f = ctx;
  rein_idem_config c;
  config_for(f, &c);
  c.alloc = a;
  rein_idem_store *s = NULL;
  rein_status st = open_with(f, &c, &s);
  if (st != REIN_OK) {
    if (s) fail_msg("failed _new left *out set");
    if (st != REIN_ENOMEM) fail_msg("_new: %s", rein_status_name(st));
    return -1;
  }
  uint8_t fp[32];
  fp_of("p", fp);
  rein_idem_result r;
  int rc = -1;
  char key[32];
  static int n;
  snprintf(key, sizeof key, "fault-%d", ++n);
  st = rein_idem_begin(s, &A, key, fp, f->lease, f->retention, &r);
  if (st == REIN_OK) {
    rein_idem_response resp = {200, NULL, 0, "v", 1};
    st = rein_idem_complete(s, &r.token, &resp, NULL);
    rein_idem_result_clear(&r);
  }
  if (st == REIN_OK) {
    st = rein_idem_begin(s, &A, key, fp, f->lease, f->retention, &r);
    if (st == REIN_OK && r.outcome == REIN_IDEM_REPLAY) rc = 0;
    rein_idem_result_clear(&r);
  }
  if (st != REIN_OK && st != REIN_ENOMEM)
    fail_msg("fault loop: %s", rein_status_name(st));
  rein_idem_store_free(s);
  return rc;
}

static void test_alloc_fault_loop(void **state) {
  g_fx = *state;
  rein_test_fault_loop(fault_body, g_fx);
}

/* ---- concurrency ------------------------------------------------------- */

#define THREADS 64

typedef struct race {
  fx *f;
  pthread_barrier_t go, done;
  int rounds;
  int counts[THREADS][8];
  int errors;
  pthread_mutex_t lock;
} race;

typedef struct racer {
  race *r;
  int idx;
} racer;

static void *race_thread(void *arg) {
  racer *me = arg;
  race *rc = me->r;
  fx *f = rc->f;
  rein_idem_store *s = f->s;
  if (g_backend != B_MEM) {
    rein_idem_config c;
    config_for(f, &c);
    if (open_with(f, &c, &s) != REIN_OK) s = NULL;
  }
  uint8_t fp[32];
  fp_of("same payload", fp);
  for (int round = 0; round < rc->rounds; round++) {
    char key[32];
    snprintf(key, sizeof key, "race-%d", round);
    pthread_barrier_wait(&rc->go);
    if (!s) {
      pthread_mutex_lock(&rc->lock);
      rc->errors++;
      pthread_mutex_unlock(&rc->lock);
      pthread_barrier_wait(&rc->done);
      continue;
    }
    rein_idem_result r;
    rein_status st = rein_idem_begin(s, &A, key, fp, 10 * REIN_NS_PER_S,
                                     60 * REIN_NS_PER_S, &r);
    if (st != REIN_OK) {
      char msg[256];
      rein_idem_store_errmsg_copy(s, msg, sizeof msg);
      fprintf(stderr, "racer %d: %s: %s\n", me->idx, rein_status_name(st), msg);
      pthread_mutex_lock(&rc->lock);
      rc->errors++;
      pthread_mutex_unlock(&rc->lock);
      pthread_barrier_wait(&rc->done);
      continue;
    }
    rc->counts[me->idx][r.outcome]++;
    /* the winner completes only after all 64 have asked, so every loser
     * must have seen the live lease */
    pthread_barrier_wait(&rc->done);
    if (r.outcome == REIN_IDEM_NEW) {
      rein_idem_response resp = {200, NULL, 0, "once", 4};
      if (rein_idem_complete(s, &r.token, &resp, NULL) != REIN_OK) {
        pthread_mutex_lock(&rc->lock);
        rc->errors++;
        pthread_mutex_unlock(&rc->lock);
      }
    }
    rein_idem_result_clear(&r);
  }
  if (s != f->s) rein_idem_store_free(s);
  return NULL;
}

static void test_concurrency_64_threads(void **state) {
  fx *f = *state;
  race *rc = calloc(1, sizeof *rc);
  rc->f = f;
  rc->rounds = g_backend == B_MEM ? 20 : g_backend == B_SQLITE ? 4 : 3;
  pthread_mutex_init(&rc->lock, NULL);
  pthread_barrier_init(&rc->go, NULL, THREADS);
  pthread_barrier_init(&rc->done, NULL, THREADS);
  pthread_t th[THREADS];
  racer rs[THREADS];
  for (int i = 0; i < THREADS; i++) {
    rs[i].r = rc;
    rs[i].idx = i;
    assert_int_equal(pthread_create(&th[i], NULL, race_thread, &rs[i]), 0);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(rc->errors, 0);
  int total[8] = {0};
  for (int i = 0; i < THREADS; i++)
    for (int o = 0; o < 8; o++)
      total[o] += rc->counts[i][o];
  fprintf(stderr,
          "%s: %d rounds x %d threads: NEW %d, IN_PROGRESS %d, "
          "REPLAY %d, MISMATCH %d\n",
          rein_idem_store_backend(f->s), rc->rounds, THREADS,
          total[REIN_IDEM_NEW], total[REIN_IDEM_IN_PROGRESS],
          total[REIN_IDEM_REPLAY], total[REIN_IDEM_MISMATCH]);
  /* exactly one execution per key */
  assert_int_equal(total[REIN_IDEM_NEW], rc->rounds);
  assert_int_equal(total[REIN_IDEM_MISMATCH], 0);
  assert_int_equal(total[REIN_IDEM_REPLAY], 0);
  assert_int_equal(total[REIN_IDEM_IN_PROGRESS], rc->rounds * (THREADS - 1));
  for (int round = 0; round < rc->rounds; round++) {
    char key[32];
    snprintf(key, sizeof key, "race-%d", round);
    rein_idem_result r;
    uint8_t fp[32];
    fp_of("same payload", fp);
    assert_int_equal(rein_idem_begin(f->s, &A, key, fp, 10 * REIN_NS_PER_S,
                                     60 * REIN_NS_PER_S, &r),
                     REIN_OK);
    assert_int_equal(r.outcome, REIN_IDEM_REPLAY);
    assert_memory_equal(r.response.body, "once", 4);
    rein_idem_result_clear(&r);
  }
  pthread_barrier_destroy(&rc->go);
  pthread_barrier_destroy(&rc->done);
  pthread_mutex_destroy(&rc->lock);
  free(rc);
}

/* ---- complete inside the caller's transaction ------------------------- */

/* SQLite and PostgreSQL: complete is one statement with no BEGIN of its
 * own, so on a connection the caller passed in it joins the caller's open
 * transaction; the effect and the stored response commit (or roll back)
 * together. On SQLite begin joins it too (a savepoint), so the claim can
 * be part of that one commit. Memory and Redis have no transactions:
 * nothing to test. */
static void test_complete_joins_caller_transaction(void **state) {
  fx *f = *state;
  if (g_backend == B_MEM || is_redis()) return;
  rein_idem_config c;
  config_for(f, &c);
  rein_idem_store *s = NULL;
  sqlite3 *db = NULL;
#if REIN_TEST_PG
  PGconn *pg = NULL;
#endif
  if (g_backend == B_SQLITE) {
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    rein_idem_sqlite_config sc;
    rein_idem_sqlite_config_default(&sc);
    sc.db = db;
    assert_int_equal(rein_idem_sqlite_new(&c, &sc, &s), REIN_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE effect (k TEXT)", 0, 0, 0),
                     SQLITE_OK);
  }
#if REIN_TEST_PG
  else {
    pg = PQconnectdb(rein_test_pg_dsn());
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    pc.conn = pg;
    pc.table = f->name;
    assert_int_equal(rein_idem_pg_new(&c, &pc, &s), REIN_OK);
  }
#define EXEC(sql)                                                              \
  do {                                                                         \
    if (db) {                                                                  \
      assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK);             \
    } else {                                                                   \
      PGresult *res_ = PQexec(pg, sql);                                        \
      assert_int_equal(PQresultStatus(res_), PGRES_COMMAND_OK);                \
      PQclear(res_);                                                           \
    }                                                                          \
  } while (0)
#else
#define EXEC(sql) assert_int_equal(sqlite3_exec(db, sql, 0, 0, 0), SQLITE_OK)
#endif
  rein_idem_result r;
  begin_expect(f, s, &A, "tx", "p", REIN_IDEM_NEW, &r);
  rein_idem_token t = r.token;
  rein_idem_result_clear(&r);
  rein_idem_response resp = {201, NULL, 0, "charged", 7};
  /* rolled back: the record is still leased, nothing stored */
  EXEC(db ? "BEGIN IMMEDIATE" : "BEGIN");
  assert_int_equal(rein_idem_complete(s, &t, &resp, NULL), REIN_OK);
  EXEC("ROLLBACK");
  begin_expect(f, f->s, &A, "tx", "p", REIN_IDEM_IN_PROGRESS, &r);
  rein_idem_result_clear(&r);
  /* committed with the effect: both visible */
  EXEC(db ? "BEGIN IMMEDIATE" : "BEGIN");
  if (db) EXEC("INSERT INTO effect VALUES ('tx')");
  assert_int_equal(rein_idem_complete(s, &t, &resp, NULL), REIN_OK);
  EXEC("COMMIT");
  begin_expect(f, f->s, &A, "tx", "p", REIN_IDEM_REPLAY, &r);
  assert_memory_equal(r.response.body, "charged", 7);
  rein_idem_result_clear(&r);
  if (db) {
    /* begin inside the caller's transaction joins it (a savepoint): the
     * claim, the effect and the response commit together or not at all.
     * Rolled back, the claim is gone (another connection claims anew)... */
    EXEC("BEGIN IMMEDIATE");
    begin_expect(f, s, &A, "tx2", "p", REIN_IDEM_NEW, &r);
    rein_idem_result_clear(&r);
    EXEC("ROLLBACK");
    begin_expect(f, f->s, &A, "tx2", "p", REIN_IDEM_NEW, &r);
    rein_idem_result_clear(&r);
    /* ...committed, all three are there, and a replay follows */
    EXEC("BEGIN IMMEDIATE");
    begin_expect(f, s, &A, "tx3", "p", REIN_IDEM_NEW, &r);
    t = r.token;
    rein_idem_result_clear(&r);
    EXEC("INSERT INTO effect VALUES ('tx3')");
    assert_int_equal(rein_idem_complete(s, &t, &resp, NULL), REIN_OK);
    EXEC("COMMIT");
    begin_expect(f, f->s, &A, "tx3", "p", REIN_IDEM_REPLAY, &r);
    assert_memory_equal(r.response.body, "charged", 7);
    rein_idem_result_clear(&r);
    /* the store still works on its own afterwards */
    begin_expect(f, s, &A, "tx4", "p", REIN_IDEM_NEW, &r);
    rein_idem_result_clear(&r);
  }
#undef EXEC
  rein_idem_store_free(s); /* not owned: the connection stays open */
  if (db) sqlite3_close(db);
#if REIN_TEST_PG
  if (pg) PQfinish(pg);
#endif
}

/* ---- fencing under contention ----------------------------------------- */

/* 16 threads, real time, a 20 ms lease and holders that sleep up to twice
 * the lease before completing: leases expire and are taken over while
 * their holders still run. Exactly one complete per key may succeed, every
 * other (stale) holder must get REIN_ESTALE, fences must be distinct, and
 * everyone ends up replaying the winner's body. */
#define FTHREADS 16
#define FKEYS 4
#define FLEASE (20 * REIN_NS_PER_MS)

typedef struct fence_race {
  fx *f;
  rein_idem_store *shared; /* memory: one store with the wall clock */
  pthread_mutex_t lock;
  int wins[FKEYS];
  int stale[FKEYS];
  int errors;
  uint64_t fences[FKEYS][256];
  int nfences[FKEYS];
  char winner[FKEYS][16];
  char seen[FKEYS][FTHREADS][16];
  uint64_t seed;
} fence_race;

typedef struct fence_arg {
  fence_race *fr;
  int idx;
} fence_arg;

static rein_status open_wall(fx *f, rein_idem_store **out) {
  rein_idem_config c;
  rein_idem_config_default(&c); /* wall clock for memory and SQLite */
  return open_with(f, &c, out);
}

static void *fence_thread(void *arg) {
  fence_arg *fa = arg;
  fence_race *fr = fa->fr;
  rein_idem_store *s = fr->shared;
  if (!s && open_wall(fr->f, &s) != REIN_OK) s = NULL;
  uint64_t rs = fr->seed ^ (uint64_t)(fa->idx + 1) * 0x9e3779b97f4a7c15ull;
  char me[16];
  snprintf(me, sizeof me, "t%d", fa->idx);
  uint8_t fp[32];
  fp_of("fenced", fp);
  for (int k = 0; k < FKEYS && s; k++) {
    char key[32];
    snprintf(key, sizeof key, "fence-%d", k);
    for (int it = 0; it < 400; it++) {
      rein_idem_result r;
      rein_status st =
          rein_idem_begin(s, &A, key, fp, FLEASE, 60 * REIN_NS_PER_S, &r);
      if (st != REIN_OK) {
        pthread_mutex_lock(&fr->lock);
        fr->errors++;
        pthread_mutex_unlock(&fr->lock);
        break;
      }
      if (r.outcome == REIN_IDEM_REPLAY) {
        size_t n = r.response.body_len < 15 ? r.response.body_len : 15;
        memcpy(fr->seen[k][fa->idx], r.response.body, n);
        fr->seen[k][fa->idx][n] = '\0';
        rein_idem_result_clear(&r);
        break;
      }
      if (r.outcome == REIN_IDEM_IN_PROGRESS) {
        int64_t w = r.retry_after_ns < 5 * REIN_NS_PER_MS ? r.retry_after_ns
                                                          : 5 * REIN_NS_PER_MS;
        rein_idem_result_clear(&r);
        sleep_ns(w);
        continue;
      }
      if (r.outcome != REIN_IDEM_NEW) {
        pthread_mutex_lock(&fr->lock);
        fr->errors++;
        pthread_mutex_unlock(&fr->lock);
        rein_idem_result_clear(&r);
        break;
      }
      rein_idem_token t = r.token;
      rein_idem_result_clear(&r);
      pthread_mutex_lock(&fr->lock);
      if (fr->nfences[k] < 256) fr->fences[k][fr->nfences[k]++] = t.fence;
      pthread_mutex_unlock(&fr->lock);
      /* work for U(0, 2 x lease): about half the holders overrun */
      sleep_ns((int64_t)(rein_splitmix64(&rs) % (uint64_t)(2 * FLEASE)));
      rein_idem_response resp = {200, NULL, 0, me, strlen(me)};
      st = rein_idem_complete(s, &t, &resp, NULL);
      pthread_mutex_lock(&fr->lock);
      if (st == REIN_OK) {
        fr->wins[k]++;
        snprintf(fr->winner[k], sizeof fr->winner[k], "%s", me);
      } else if (st == REIN_ESTALE) {
        fr->stale[k]++;
      } else {
        fr->errors++;
      }
      pthread_mutex_unlock(&fr->lock);
    }
  }
  if (s && s != fr->shared) rein_idem_store_free(s);
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_fencing_under_contention(void **state) {
  fx *f = *state;
  fence_race *fr = calloc(1, sizeof *fr);
  fr->f = f;
  fr->seed = rein_test_seed();
  pthread_mutex_init(&fr->lock, NULL);
  if (g_backend == B_MEM) assert_int_equal(open_wall(f, &fr->shared), REIN_OK);
  pthread_t th[FTHREADS];
  fence_arg fa[FTHREADS];
  for (int i = 0; i < FTHREADS; i++) {
    fa[i].fr = fr;
    fa[i].idx = i;
    assert_int_equal(pthread_create(&th[i], NULL, fence_thread, &fa[i]), 0);
  }
  for (int i = 0; i < FTHREADS; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(fr->errors, 0);
  for (int k = 0; k < FKEYS; k++) {
    fprintf(stderr, "%s key %d: %d claims, 1 win, %d stale completes refused\n",
            rein_idem_store_backend(f->s), k, fr->nfences[k], fr->stale[k]);
    assert_int_equal(fr->wins[k], 1);
    assert_int_equal(fr->stale[k], fr->nfences[k] - 1);
    qsort(fr->fences[k], (size_t)fr->nfences[k], sizeof(uint64_t), cmp_u64);
    for (int i = 1; i < fr->nfences[k]; i++)
      assert_true(fr->fences[k][i] > fr->fences[k][i - 1]);
    for (int i = 0; i < FTHREADS; i++)
      if (fr->seen[k][i][0]) assert_string_equal(fr->seen[k][i], fr->winner[k]);
  }
  rein_idem_store_free(fr->shared);
  pthread_mutex_destroy(&fr->lock);
  free(fr);
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *b = argc > 1 ? argv[1] : "memory";
  if (strcmp(b, "memory") == 0)
    g_backend = B_MEM;
  else if (strcmp(b, "sqlite") == 0)
    g_backend = B_SQLITE;
#if REIN_TEST_PG
  else if (strcmp(b, "pg") == 0)
    g_backend = B_PG;
#endif
  else if (strcmp(b, "redis") == 0)
    g_backend = B_REDIS;
  else if (strcmp(b, "redis-cluster") == 0)
    g_backend = B_REDIS_CLUSTER;
  else {
    fprintf(stderr, "usage: %s memory|sqlite|pg|redis|redis-cluster\n",
            argv[0]);
    return 2;
  }
  fprintf(stderr, "idem conformance: backend %s\n", b);
  /* hiredis writes with write(2): a dead socket raises SIGPIPE, which a
   * Redis client process must ignore (documented in rein/idem.h). */
  signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_new_complete_replay),
      T(test_in_progress),
      T(test_mismatch),
      T(test_lease_takeover_and_stale_token),
      T(test_expired_lease_not_taken_over_still_completes),
      T(test_checkpoint_extends_lease),
      T(test_abandon),
      T(test_retention),
      T(test_lease_outlives_retention),
      T(test_error_caching_default),
      T(test_error_caching_custom),
      T(test_purge_batches),
      T(test_principal_isolation),
      T(test_limits),
      T(test_config_validation),
      T(test_backend_failure),
      T(test_alloc_fault_loop),
      T(test_concurrency_64_threads),
      T(test_fencing_under_contention),
      T(test_complete_joins_caller_transaction),
  };
#undef T
  return cmocka_run_group_tests_name(b, tests, NULL, NULL);
}
