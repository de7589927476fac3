/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_inbox.c: the inbox, the outbox relay and the Redis Streams adapter
 * against real servers: SQLite files, PostgreSQL (REIN_PG_DSN) and
 * redis-server (REIN_REDIS_HOST/PORT) from scripts/services.sh. Missing
 * services fail the suite; they are not skipped.
 *
 * Processing semantics (processed / duplicate / failed with rollback /
 * dead-lettered / no key / at-least-once mode / hook order) run through a
 * recording fake broker on both databases, so each verdict and each ack is
 * checked exactly. The Redis adapter is tested on its own (groups, history
 * after restart, XAUTOCLAIM takeover with delivery counts, dead-lettering,
 * expiry past the window) and then end to end with the inbox (poison
 * message to the dead stream after max_deliveries, with its last error).
 * Time for retention and outbox leases comes from a manual wall clock.
 */
#include "rein_test.h"

#include "rein/inbox.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
static int g_serial;

/* ---- a recording fake broker ------------------------------------------------
 */

typedef struct fake_broker {
  rein_broker base;
  int64_t window;
  int acks, deads;
  char last_ack[64], last_dead[64];
  char dead_err[512];
  rein_status fail_ack; /* returned by ack when not OK */
  /* handed out by the next read, once */
  const rein_broker_msg *batch;
  size_t batch_n;
  int ack_many_calls;
  char ack_many_ids[256]; /* the ids of the last ack_many, space separated */
} fake_broker;

static rein_status fb_read(rein_broker *base, size_t max, int64_t ms,
                           rein_broker_batch *out) {
  fake_broker *b = (fake_broker *)base;
  out->msgs = b->batch;
  out->n = b->batch ? b->batch_n : 0;
  b->batch = NULL;
  return REIN_OK;
}
static rein_status fb_claim(rein_broker *b, size_t max,
                            rein_broker_batch *out) {
  out->msgs = NULL;
  out->n = 0;
  return REIN_OK;
}
static rein_status fb_ack(rein_broker *base, const rein_broker_msg *m) {
  fake_broker *b = (fake_broker *)base;
  if (b->fail_ack) return b->fail_ack;
  b->acks++;
  snprintf(b->last_ack, sizeof b->last_ack, "%s", m->id);
  return REIN_OK;
}
static rein_status fb_dead(rein_broker *base, const rein_broker_msg *m,
                           const char *err) {
  fake_broker *b = (fake_broker *)base;
  b->deads++;
  snprintf(b->last_dead, sizeof b->last_dead, "%s", m->id);
  snprintf(b->dead_err, sizeof b->dead_err, "%s", err);
  return REIN_OK;
}
static int64_t fb_window(const rein_broker *b) {
  return ((const fake_broker *)b)->window;
}
static const char *fb_errmsg(const rein_broker *b) {
  return "fake";
}
static void fb_free(rein_broker *b) {}
static rein_status fb_ack_many(rein_broker *base,
                               const rein_broker_msg *const *msgs, size_t n) {
  fake_broker *b = (fake_broker *)base;
  b->ack_many_calls++;
  b->ack_many_ids[0] = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(b->ack_many_ids);
    snprintf(b->ack_many_ids + l, sizeof b->ack_many_ids - l, "%s%s",
             i ? " " : "", msgs[i]->id);
  }
  return REIN_OK;
}
static rein_status fb_ack_many_trap(rein_broker *base,
                                    const rein_broker_msg *const *msgs,
                                    size_t n) {
  fail_msg("ack_many read from a version 1 vtable");
  return REIN_EINVAL;
}
static const rein_broker_vtable FB_VT = {REIN_BROKER_VTABLE_VERSION,
                                         "fake",
                                         fb_read,
                                         fb_claim,
                                         fb_ack,
                                         fb_dead,
                                         fb_window,
                                         fb_errmsg,
                                         fb_free,
                                         NULL};
/* the same with ack_many */
static const rein_broker_vtable FB_VT_MANY = {REIN_BROKER_VTABLE_VERSION,
                                              "fake-many",
                                              fb_read,
                                              fb_claim,
                                              fb_ack,
                                              fb_dead,
                                              fb_window,
                                              fb_errmsg,
                                              fb_free,
                                              fb_ack_many};
/* an adapter built against version 1 has no ack_many member: the inbox must
 * not read it (here the member exists, and traps) */
static const rein_broker_vtable FB_VT_V1 = {
    1,       "fake-v1", fb_read,   fb_claim, fb_ack,
    fb_dead, fb_window, fb_errmsg, fb_free,  fb_ack_many_trap};

/* ---- fixture: one inbox on SQLite or PostgreSQL -----------------------------
 */

typedef struct fx {
  bool pg;
  char path[256];
  char schema[64]; /* PostgreSQL: every test in its own schema */
  char dsn[768];
  rein_manual_clock wall;
  fake_broker fb;
  rein_inbox_config cfg;
  rein_inbox *ib;
  rein_errbuf err;
  /* handler behaviour */
  int calls;
  rein_status fail_with;
  const char *outbox_effect;
  bool hook_saw_row; /* after_commit saw the effect from outside */
  int hook_calls;
  int acks_at_hook;
  char log[1024];
} fx;

static void fx_log(void *ctx, const char *line) {
  fx *f = ctx;
  snprintf(f->log, sizeof f->log, "%s", line);
}

static rein_status effect_insert(rein_inbox_tx *tx, const char *key) {
  sqlite3 *db = rein_inbox_tx_sqlite(tx);
  if (db) {
    char *sql = sqlite3_mprintf("INSERT INTO effects(k) VALUES(%Q)", key);
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc == SQLITE_OK ? REIN_OK : REIN_EBACKEND;
  }
  PGconn *pg = rein_inbox_tx_pg(tx);
  const char *v[1] = {key};
  PGresult *r = PQexecParams(pg, "INSERT INTO effects(k) VALUES($1)", 1, NULL,
                             v, NULL, NULL, 0);
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return ok ? REIN_OK : REIN_EBACKEND;
}

static long long q_int(fx *f, const char *sql) {
  if (!f->pg) {
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
      if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
  }
  PGconn *c = PQconnectdb(f->dsn);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *r = PQexec(c, sql);
  long long v = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

static rein_status handler(void *ctx, rein_inbox_tx *tx,
                           const rein_broker_msg *m, char *err, size_t cap) {
  fx *f = ctx;
  f->calls++;
  assert_ptr_equal(rein_inbox_tx_msg(tx), m);
  rein_status st = effect_insert(tx, m->key);
  if (st != REIN_OK) {
    snprintf(err, cap, "effect insert failed");
    return st;
  }
  if (f->outbox_effect) {
    st = rein_inbox_tx_outbox(tx, f->outbox_effect, "http://x/charges", m->body,
                              m->body_len, NULL);
    if (st != REIN_OK) return st;
  }
  if (f->fail_with) {
    snprintf(err, cap, "card declined for %s", m->key);
    return f->fail_with;
  }
  return REIN_OK;
}

static void hook_after_commit(void *ctx, const rein_broker_msg *m) {
  fx *f = ctx;
  f->hook_calls++;
  f->acks_at_hook = f->fb.acks + f->fb.ack_many_calls;
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM effects WHERE k = '%s'",
           m->key);
  f->hook_saw_row = q_int(f, sql) == 1;
}

static void pg_exec(const char *dsn, const char *sql) {
  PGconn *c = PQconnectdb(dsn);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
}

/* A fresh schema per test, selected through the conninfo's options, so
 * the suite never touches tables outside it (other suites, benchmarks). */
static void pg_reset(fx *f) {
  snprintf(f->schema, sizeof f->schema, "rein_test_inbox_%d_%d", (int)getpid(),
           g_serial);
  char sql[200];
  snprintf(sql, sizeof sql,
           "DROP SCHEMA IF EXISTS %s CASCADE; CREATE "
           "SCHEMA %s",
           f->schema, f->schema);
  pg_exec(rein_test_pg_dsn(), sql);
  snprintf(f->dsn, sizeof f->dsn, "%s options='-csearch_path=%s'",
           rein_test_pg_dsn(), f->schema);
  pg_exec(f->dsn, "CREATE TABLE effects(k text NOT NULL)");
}

/* The inbox of the fixture's database kind. */
static rein_status inbox_new(const fx *f, const rein_inbox_config *c,
                             rein_inbox **out) {
  return f->pg ? rein_inbox_pg_new(c, out) : rein_inbox_sqlite_new(c, out);
}

static void fx_config(fx *f) {
  rein_inbox_config_default(&f->cfg);
  if (f->pg) {
    f->cfg.pg_conninfo = f->dsn;
  } else {
    f->cfg.sqlite_path = f->path;
  }
  f->cfg.broker = &f->fb.base;
  f->cfg.handler = handler;
  f->cfg.handler_ctx = f;
  f->cfg.max_deliveries = 3;
  f->cfg.outbox_secret = SECRET;
  f->cfg.outbox_secret_len = strlen(SECRET);
  f->cfg.retention_ns = 3 * 86400 * REIN_NS_PER_S;
  f->cfg.wall = rein_manual_clock_as_clock(&f->wall);
  f->cfg.hooks.after_commit = hook_after_commit;
  f->cfg.hooks.ctx = f;
  f->cfg.log = fx_log;
  f->cfg.log_ctx = f;
  f->cfg.err = &f->err;
}

static int setup_common(void **state, bool pg) {
  fx *f = calloc(1, sizeof *f);
  f->pg = pg;
  snprintf(f->path, sizeof f->path, "/tmp/rein-test-inbox-%d-%d.db",
           (int)getpid(), ++g_serial);
  unlink(f->path);
  rein_manual_clock_init(&f->wall, INT64_C(1700000000) * REIN_NS_PER_S);
  f->fb.base.vt = &FB_VT;
  f->fb.window = 2 * 86400 * REIN_NS_PER_S;
  if (pg) pg_reset(f);
  fx_config(f);
  rein_status st = inbox_new(f, &f->cfg, &f->ib);
  if (st != REIN_OK) fail_msg("inbox_new: %s", f->err.msg);
  if (!pg)
    assert_int_equal(sqlite3_exec(rein_inbox_sqlite(f->ib),
                                  "CREATE TABLE effects(k TEXT NOT NULL)", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
  *state = f;
  return 0;
}
static int setup_sqlite(void **state) {
  return setup_common(state, false);
}
static int setup_pg(void **state) {
  return setup_common(state, true);
}

static int teardown(void **state) {
  fx *f = *state;
  rein_inbox_free(f->ib);
  if (f->pg) {
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", f->schema);
    pg_exec(rein_test_pg_dsn(), sql);
  }
  char p[300];
  unlink(f->path);
  snprintf(p, sizeof p, "%s-wal", f->path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", f->path);
  unlink(p);
  free(f);
  return 0;
}

static rein_broker_msg msg(const char *id, const char *key,
                           uint32_t deliveries) {
  rein_broker_msg m = {id, key, "{\"amount_cents\":5}", 18, deliveries, -1};
  return m;
}

static long long effects(fx *f, const char *key) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM effects WHERE k = '%s'", key);
  return q_int(f, sql);
}

static long long inbox_rows(fx *f) {
  return q_int(f, "SELECT count(*) FROM rein_inbox");
}

/* ---- processing semantics (both databases) ---------------------------------
 */

/* rein_inbox_poll acks a batch together after it: through ack_many when
 * the adapter has it (processed and duplicate messages, in batch order;
 * dead-lettered ones by dead_letter), else one ack each, and never reads
 * ack_many from a version 1 vtable. Every commit precedes every ack. */
static void test_poll_acks_batch(void **state) {
  fx *f = *state;
  rein_broker_msg b1[] = {msg("1-0", "pay-a", 1), msg("2-0", "pay-a", 1),
                          msg("3-0", NULL, 1), msg("4-0", "pay-b", 1)};
  f->fb.base.vt = &FB_VT_MANY;
  f->fb.batch = b1;
  f->fb.batch_n = 4;
  rein_inbox_stats st = {0};
  assert_int_equal(rein_inbox_poll(f->ib, 10, 0, &st), REIN_OK);
  assert_int_equal(st.processed, 2);
  assert_int_equal(st.duplicates, 1);
  assert_int_equal(st.dead, 1);
  assert_int_equal(f->fb.ack_many_calls, 1);
  assert_string_equal(f->fb.ack_many_ids, "1-0 2-0 4-0");
  assert_int_equal(f->fb.acks, 0);
  assert_int_equal(f->fb.deads, 1);
  assert_int_equal(f->hook_calls, 2);
  assert_int_equal(f->acks_at_hook, 0);
  assert_int_equal(effects(f, "pay-a"), 1);
  assert_int_equal(effects(f, "pay-b"), 1);

  rein_broker_msg b2[] = {msg("5-0", "pay-c", 1), msg("6-0", "pay-d", 1)};
  f->fb.base.vt = &FB_VT_V1;
  f->fb.batch = b2;
  f->fb.batch_n = 2;
  assert_int_equal(rein_inbox_poll(f->ib, 10, 0, &st), REIN_OK);
  assert_int_equal(f->fb.acks, 2);
  assert_string_equal(f->fb.last_ack, "6-0");

  rein_broker_msg b3[] = {msg("7-0", "pay-e", 1), msg("8-0", "pay-c", 2)};
  f->fb.base.vt = &FB_VT;
  f->fb.batch = b3;
  f->fb.batch_n = 2;
  assert_int_equal(rein_inbox_poll(f->ib, 10, 0, &st), REIN_OK);
  assert_int_equal(f->fb.acks, 4);
  assert_string_equal(f->fb.last_ack, "8-0");
  assert_int_equal(f->fb.ack_many_calls, 1);
  assert_int_equal(st.processed, 5);
  assert_int_equal(st.duplicates, 2);
  /* the dispatcher itself: nothing to ack is fine, a NULL list is not */
  assert_int_equal(rein_broker_ack_many(&f->fb.base, NULL, 0), REIN_OK);
  assert_int_equal(rein_broker_ack_many(&f->fb.base, NULL, 1), REIN_EINVAL);
}

static void test_process_then_duplicate(void **state) {
  fx *f = *state;
  rein_broker_msg m = msg("1-0", "pay-1", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(f->calls, 1);
  assert_int_equal(effects(f, "pay-1"), 1);
  assert_int_equal(f->fb.acks, 1);
  assert_string_equal(f->fb.last_ack, "1-0");
  /* the hook ran after the commit (row visible from another connection)
   * and before the ack */
  assert_int_equal(f->hook_calls, 1);
  assert_true(f->hook_saw_row);
  assert_int_equal(f->acks_at_hook, 0);
  /* the same business key under another delivery id (producer retry or
   * redelivery): skipped and acked */
  rein_broker_msg m2 = msg("2-0", "pay-1", 1);
  assert_int_equal(rein_inbox_process(f->ib, &m2, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_DUPLICATE);
  assert_int_equal(f->calls, 1);
  assert_int_equal(effects(f, "pay-1"), 1);
  assert_int_equal(f->fb.acks, 2);
  assert_string_equal(f->fb.last_ack, "2-0");
  assert_int_equal(f->hook_calls, 1);
  rein_inbox_counts c;
  assert_int_equal(rein_inbox_counts_get(f->ib, &c), REIN_OK);
  assert_int_equal(c.inbox_rows, 1);
}

static void test_failure_rolls_back(void **state) {
  fx *f = *state;
  f->fail_with = REIN_EAGAIN;
  f->outbox_effect = "charge";
  rein_broker_msg m = msg("1-0", "pay-2", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_FAILED);
  assert_int_equal(effects(f, "pay-2"), 0);
  assert_int_equal(inbox_rows(f), 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM rein_outbox"), 0);
  assert_int_equal(f->fb.acks, 0);
  assert_int_equal(f->fb.deads, 0);
  assert_non_null(strstr(rein_inbox_errmsg(f->ib), "card declined"));
  /* the redelivery succeeds and now everything commits together */
  f->fail_with = REIN_OK;
  m.deliveries = 2;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(effects(f, "pay-2"), 1);
  assert_int_equal(inbox_rows(f), 1);
  assert_int_equal(q_int(f, "SELECT count(*) FROM rein_outbox"), 1);
  assert_int_equal(f->fb.acks, 1);
}

static void test_poison_dead_letter(void **state) {
  fx *f = *state;
  f->fail_with = REIN_EPARSE;
  rein_inbox_verdict v;
  for (uint32_t d = 1; d <= 3; d++) {
    rein_broker_msg m = msg("7-0", "pay-7", d);
    assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
    assert_int_equal(v, d < 3 ? REIN_INBOX_FAILED : REIN_INBOX_DEAD);
  }
  assert_int_equal(f->fb.deads, 1);
  assert_string_equal(f->fb.last_dead, "7-0");
  assert_string_equal(f->fb.dead_err, "REIN_EPARSE: card declined for pay-7");
  assert_int_equal(effects(f, "pay-7"), 0);
  assert_int_equal(inbox_rows(f), 0);
  assert_non_null(strstr(f->log, "dead-lettering message 7-0"));
  /* a crash-looping message (more deliveries than allowed, no verdict) is
   * dead-lettered without running its handler again */
  int calls = f->calls;
  rein_broker_msg m = msg("8-0", "pay-8", 4);
  f->fail_with = REIN_OK;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_DEAD);
  assert_int_equal(f->calls, calls);
  assert_non_null(strstr(f->fb.dead_err, "delivered 4 times"));
  /* ... unless it was processed: then it is a duplicate, not poison */
  rein_broker_msg ok = msg("9-0", "pay-9", 1);
  assert_int_equal(rein_inbox_process(f->ib, &ok, &v), REIN_OK);
  ok.deliveries = 50;
  assert_int_equal(rein_inbox_process(f->ib, &ok, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_DUPLICATE);
  /* no business key: dead-lettered, handler not called */
  rein_broker_msg nokey = msg("10-0", NULL, 1);
  assert_int_equal(rein_inbox_process(f->ib, &nokey, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_DEAD);
  assert_string_equal(f->fb.dead_err, "message has no business key field");
}

static void test_ack_failure_is_reported(void **state) {
  fx *f = *state;
  f->fb.fail_ack = REIN_ECLOSED;
  rein_broker_msg m = msg("1-0", "pay-3", 1);
  rein_inbox_verdict v;
  /* committed, not acked: the call says so; the redelivery is skipped */
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_ECLOSED);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(effects(f, "pay-3"), 1);
  assert_non_null(strstr(rein_inbox_errmsg(f->ib), "broker: fake"));
  f->fb.fail_ack = REIN_OK;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_DUPLICATE);
  assert_int_equal(effects(f, "pay-3"), 1);
}

static void test_without_dedup_repeats(void **state) {
  fx *f = *state;
  rein_inbox_free(f->ib);
  f->cfg.dedup = false;
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  rein_broker_msg m = msg("1-0", "pay-4", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(effects(f, "pay-4"), 2);
  assert_int_equal(inbox_rows(f), 0);
}

static void test_purge_batches(void **state) {
  fx *f = *state;
  rein_inbox_verdict v;
  char id[32], key[32];
  for (int i = 0; i < 25; i++) {
    snprintf(id, sizeof id, "%d-0", i);
    snprintf(key, sizeof key, "old-%d", i);
    rein_broker_msg m = msg(id, key, 1);
    assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  }
  rein_manual_clock_advance(&f->wall, 86400 * REIN_NS_PER_S);
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "%d-1", i);
    snprintf(key, sizeof key, "new-%d", i);
    rein_broker_msg m = msg(id, key, 1);
    assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  }
  size_t n = 99;
  /* nothing is older than the retention (3 days) yet */
  assert_int_equal(rein_inbox_purge(f->ib, 10, &n), REIN_OK);
  assert_int_equal(n, 0);
  rein_manual_clock_advance(&f->wall, 2 * 86400 * REIN_NS_PER_S + 1000000);
  size_t want[] = {10, 10, 5, 0};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(rein_inbox_purge(f->ib, 10, &n), REIN_OK);
    assert_int_equal(n, want[i]);
  }
  assert_int_equal(inbox_rows(f), 5);
  assert_int_equal(rein_inbox_purge(f->ib, 0, &n), REIN_EINVAL);
}

/* ---- outbox -----------------------------------------------------------------
 */

typedef struct deliverer {
  int calls;
  int fail_first;         /* FAILURE this many times, then SUCCESS */
  rein_outcome_kind kind; /* used while failing */
  char key[80];
  int after_deliver_calls;
} deliverer;

static void deliver(void *ctx, const rein_outbox_item *it,
                    const rein_decision *d, rein_outcome *out, char *err,
                    size_t cap) {
  deliverer *dl = ctx;
  dl->calls++;
  snprintf(dl->key, sizeof dl->key, "%s", it->idem_key);
  assert_string_equal(it->dest, "http://x/charges");
  assert_int_equal(it->body_len, 18);
  assert_memory_equal(it->body, "{\"amount_cents\":5}", 18);
  if (dl->calls <= dl->fail_first) {
    out->kind = dl->kind;
    snprintf(err, cap, "receiver said no (%d)", dl->calls);
  } else {
    out->kind = REIN_OUTCOME_SUCCESS;
  }
}

static void no_sleep(void *ctx, int64_t ns) {}

static rein_policy *relay_policy(uint32_t attempts) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = attempts;
  pc.backoff.base_ns = 1000;
  pc.backoff.cap_ns = 1000;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  return p;
}

static void after_deliver(void *ctx, int64_t id) {
  ((deliverer *)ctx)->after_deliver_calls++;
}

static void test_outbox_key_vector(void **state) {
  char k[REIN_OUTBOX_KEY_LEN + 1];
  assert_int_equal(
      rein_outbox_key(SECRET, strlen(SECRET), "pay-1", "charge", k), REIN_OK);
  /* printf 'pay-1\0charge' | openssl dgst -sha256 -hmac <SECRET> */
  assert_string_equal(
      k, "2aca795d0f3eff47fb3bc49e73bdead37333d20437eb3e57bf0d5fdc937464b1");
  char k2[REIN_OUTBOX_KEY_LEN + 1];
  /* the separator keeps ("pay-1c", "harge") apart from ("pay-1", "charge") */
  assert_int_equal(
      rein_outbox_key(SECRET, strlen(SECRET), "pay-1c", "harge", k2), REIN_OK);
  assert_string_not_equal(k, k2);
  assert_int_equal(rein_outbox_key(SECRET, 0, "a", "b", k), REIN_EINVAL);
  assert_int_equal(rein_outbox_key(NULL, 3, "a", "b", k), REIN_EINVAL);
}

static void test_outbox_relay(void **state) {
  fx *f = *state;
  deliverer dl = {0};
  dl.fail_first = 2;
  dl.kind = REIN_OUTCOME_FAILURE;
  rein_inbox_free(f->ib);
  f->cfg.hooks.after_deliver = after_deliver;
  f->cfg.hooks.after_commit = NULL;
  f->cfg.hooks.ctx = &dl;
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  f->outbox_effect = "charge";
  rein_broker_msg m = msg("1-0", "pay-1", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  rein_policy *p = relay_policy(5);
  rein_sleeper sl = {no_sleep, NULL};
  rein_outbox_stats st = {0};
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, &st),
                   REIN_OK);
  assert_int_equal(dl.calls, 3);
  assert_int_equal(st.delivered, 1);
  assert_int_equal(st.attempts, 3);
  assert_int_equal(dl.after_deliver_calls, 1);
  assert_string_equal(
      dl.key,
      "2aca795d0f3eff47fb3bc49e73bdead37333d20437eb3e57bf0d5fdc937464b1");
  assert_int_equal(q_int(f, "SELECT attempts FROM rein_outbox"), 3);
  /* delivered intents are not delivered again */
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, &st),
                   REIN_OK);
  assert_int_equal(dl.calls, 3);
  rein_inbox_counts c;
  assert_int_equal(rein_inbox_counts_get(f->ib, &c), REIN_OK);
  assert_int_equal(c.outbox_delivered, 1);
  assert_int_equal(c.outbox_pending, 0);
  /* past the retention, the purge removes the dedup row and the delivered
   * intent */
  rein_manual_clock_advance(&f->wall, 3 * 86400 * REIN_NS_PER_S + 1000000);
  size_t n = 0;
  assert_int_equal(rein_inbox_purge(f->ib, 10, &n), REIN_OK);
  assert_int_equal(n, 1);
  assert_int_equal(rein_inbox_counts_get(f->ib, &c), REIN_OK);
  assert_int_equal(c.outbox_delivered, 0);
  assert_int_equal(c.inbox_rows, 0);
  rein_policy_free(p);
}

/* Another writer holds SQLite's write lock past busy_timeout: the call
 * fails with REIN_EBUSY, runs no handler and acks nothing; once the lock
 * is free the message goes through. */
static void test_sqlite_busy(void **state) {
  fx *f = *state;
  rein_inbox_free(f->ib);
  f->cfg.busy_timeout_ns = 20 * REIN_NS_PER_MS;
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  sqlite3 *other;
  assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
  assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                   SQLITE_OK);
  rein_broker_msg m = msg("1-0", "pay-busy", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_EBUSY);
  assert_non_null(strstr(rein_inbox_errmsg(f->ib), "BEGIN IMMEDIATE"));
  assert_int_equal(f->calls, 0);
  assert_int_equal(f->fb.acks, 0);
  assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(other);
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(f->fb.acks, 1);
}

static void test_outbox_giveup_and_fatal(void **state) {
  fx *f = *state;
  f->outbox_effect = "charge";
  rein_inbox_verdict v;
  rein_broker_msg m = msg("1-0", "pay-1", 1);
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  rein_policy *p = relay_policy(2);
  rein_sleeper sl = {no_sleep, NULL};
  deliverer dl = {0};
  dl.fail_first = 100;
  dl.kind = REIN_OUTCOME_TIMEOUT;
  rein_outbox_stats st = {0};
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, &st),
                   REIN_OK);
  assert_int_equal(st.retry, 1);
  assert_int_equal(dl.calls, 2);
  char *err = NULL;
  {
    long long a = q_int(f, "SELECT attempts FROM rein_outbox");
    assert_int_equal(a, 2);
  }
  (void)err;
  /* released with a 1 s pause: not leased again at once */
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, &st),
                   REIN_OK);
  assert_int_equal(dl.calls, 2);
  rein_manual_clock_advance(&f->wall, 1001 * REIN_NS_PER_MS);
  dl.kind = REIN_OUTCOME_FATAL;
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, &st),
                   REIN_OK);
  assert_int_equal(dl.calls, 3);
  assert_int_equal(st.failed, 1);
  rein_inbox_counts c;
  assert_int_equal(rein_inbox_counts_get(f->ib, &c), REIN_OK);
  assert_int_equal(c.outbox_failed, 1);
  assert_int_equal(c.outbox_pending, 0);
  assert_int_equal(q_int(f, "SELECT attempts FROM rein_outbox"), 3);
  rein_policy_free(p);
}

static void test_outbox_lease_blocks_second_relay(void **state) {
  fx *f = *state;
  f->outbox_effect = "charge";
  rein_inbox_verdict v;
  rein_broker_msg m = msg("1-0", "pay-1", 1);
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  /* a relay that leased and died: simulate by leasing through SQL */
  long long now_ms = rein_manual_clock_get(&f->wall) / REIN_NS_PER_MS;
  char sql[200];
  snprintf(sql, sizeof sql, "UPDATE rein_outbox SET lease_until_ms = %lld",
           now_ms + 30000);
  if (f->pg) {
    pg_exec(f->dsn, sql);
  } else {
    sqlite3_exec(rein_inbox_sqlite(f->ib), sql, NULL, NULL, NULL);
  }
  rein_policy *p = relay_policy(2);
  rein_sleeper sl = {no_sleep, NULL};
  deliverer dl = {0};
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, NULL),
                   REIN_OK);
  assert_int_equal(dl.calls, 0);
  rein_manual_clock_advance(&f->wall, 30 * REIN_NS_PER_S);
  assert_int_equal(rein_outbox_relay(f->ib, p, deliver, &dl, &sl, 10, NULL),
                   REIN_OK);
  assert_int_equal(dl.calls, 1);
  rein_policy_free(p);
}

static rein_status two_intents(void *ctx, rein_inbox_tx *tx,
                               const rein_broker_msg *m, char *err,
                               size_t cap) {
  char k[REIN_OUTBOX_KEY_LEN + 1];
  rein_status st = rein_inbox_tx_outbox(tx, "charge", "u", "b", 1, k);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(strlen(k), 64);
  assert_int_equal(rein_inbox_tx_outbox(tx, "charge", "u", "b", 1, NULL),
                   REIN_ECONFLICT);
  assert_int_equal(rein_inbox_tx_outbox(tx, "bad effect", "u", "b", 1, NULL),
                   REIN_EINVAL);
  assert_non_null(
      strstr(rein_inbox_errmsg(*(rein_inbox **)ctx), "outbox effect"));
  assert_int_equal(rein_inbox_tx_outbox(tx, "", "u", "b", 1, NULL),
                   REIN_EINVAL);
  assert_int_equal(rein_inbox_tx_outbox(tx, "email", "u", "b", 1, NULL),
                   REIN_OK);
  return REIN_OK;
}

static void test_outbox_limits(void **state) {
  fx *f = *state;
  rein_inbox_free(f->ib);
  f->cfg.handler = two_intents;
  f->cfg.handler_ctx = &f->ib;
  f->cfg.hooks.after_commit = NULL;
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  rein_broker_msg m = msg("1-0", "pay-1", 1);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, &m, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(q_int(f, "SELECT count(*) FROM rein_outbox"), 2);
}

/* ---- configuration
 * ------------------------------------------------------------ */

static void expect_invalid_of(bool pg, rein_inbox_config *c,
                              const char *field) {
  rein_errbuf e = {{0}};
  c->err = &e;
  rein_inbox *ib = (rein_inbox *)&e; /* set to NULL on failure */
  rein_status st =
      pg ? rein_inbox_pg_new(c, &ib) : rein_inbox_sqlite_new(c, &ib);
  assert_int_equal(st, REIN_EINVAL);
  assert_null(ib);
  if (!strstr(e.msg, field)) fail_msg("expected '%s' in '%s'", field, e.msg);
}

/* The config checks are the SQLite constructor's; PostgreSQL's required
 * field with its own. */
static void expect_invalid(rein_inbox_config *c, const char *field) {
  expect_invalid_of(false, c, field);
}
static void expect_invalid_pg(rein_inbox_config *c, const char *field) {
  expect_invalid_of(true, c, field);
}

static void test_config_validation(void **state) {
  fx *f = *state;
  rein_inbox_config c = f->cfg;
  c.sqlite_path = NULL;
  expect_invalid(&c, "inbox.sqlite_path");
  c = f->cfg;
  c.pg_conninfo = NULL;
  expect_invalid_pg(&c, "inbox.pg_conninfo");
  c = f->cfg;
  c.max_deliveries = 0;
  expect_invalid(&c, "inbox.max_deliveries");
  c = f->cfg;
  c.outbox_secret_len = 8;
  expect_invalid(&c, "inbox.outbox_secret_len");
  c = f->cfg;
  c.retention_ns = 0;
  expect_invalid(&c, "inbox.retention_ns");
  c = f->cfg;
  c.outbox_lease_ns = 0;
  expect_invalid(&c, "inbox.outbox_lease_ns");
  c = f->cfg;
  c.busy_timeout_ns = -1;
  expect_invalid(&c, "inbox.busy_timeout_ns");
  /* retention shorter than the broker's window: refused, naming both */
  c = f->cfg;
  c.retention_ns = 86400 * REIN_NS_PER_S;
  expect_invalid(&c, "86400 s is shorter than the fake broker's redelivery "
                     "window of 172800 s");
  /* ... or a loud warning when configured so */
  c.retention_warn_only = true;
  c.err = NULL;
  rein_inbox *ib = NULL;
  f->log[0] = 0;
  assert_int_equal(rein_inbox_sqlite_new(&c, &ib), REIN_OK);
  assert_non_null(strstr(f->log, "WARNING: exactly-once is NOT guaranteed"));
  rein_inbox_free(ib);
  /* an unbounded window cannot be covered */
  f->fb.window = INT64_MAX;
  c = f->cfg;
  expect_invalid(&c, "unbounded");
  f->fb.window = 2 * 86400 * REIN_NS_PER_S;
  /* a database that cannot be opened */
  c = f->cfg;
  c.sqlite_path = "/nonexistent-dir/x.db";
  rein_errbuf e = {{0}};
  c.err = &e;
  assert_int_equal(rein_inbox_sqlite_new(&c, &ib), REIN_EBACKEND);
  assert_non_null(strstr(e.msg, "inbox.sqlite_path: sqlite: open"));
  c = f->cfg;
  c.pg_conninfo = "host=127.0.0.1 port=1 connect_timeout=2";
  c.err = &e;
  assert_int_equal(rein_inbox_pg_new(&c, &ib), REIN_ECLOSED);
  assert_non_null(strstr(e.msg, "inbox.pg_conninfo: postgres: connect"));
  /* NULLs */
  assert_int_equal(rein_inbox_sqlite_new(NULL, &ib), REIN_EINVAL);
  assert_int_equal(rein_inbox_pg_new(NULL, &ib), REIN_EINVAL);
  rein_inbox_verdict v;
  assert_int_equal(rein_inbox_process(f->ib, NULL, &v), REIN_EINVAL);
  assert_int_equal(rein_inbox_poll(NULL, 1, 0, NULL), REIN_EINVAL);
  rein_inbox_free(NULL);
}

static int new_free_body(void *ctx, const rein_allocator *a) {
  fx *f = ctx;
  rein_inbox_config c = f->cfg;
  c.alloc = a;
  c.sqlite_path = ":memory:";
  rein_inbox *ib = NULL;
  rein_status st = rein_inbox_sqlite_new(&c, &ib);
  if (st != REIN_OK) return -1;
  /* outbox relay allocates too */
  rein_policy *p = relay_policy(1);
  rein_sleeper sl = {no_sleep, NULL};
  deliverer dl = {0};
  st = rein_outbox_relay(ib, p, deliver, &dl, &sl, 4, NULL);
  rein_policy_free(p);
  rein_inbox_free(ib);
  return st == REIN_OK ? 0 : -1;
}

static void test_alloc_faults(void **state) {
  rein_test_fault_loop(new_free_body, *state);
}

/* ---- Redis Streams adapter
 * ---------------------------------------------------- */

static redisContext *rc_connect(void) {
  redisContext *c =
      redisConnect(rein_test_redis_host(), rein_test_redis_port());
  assert_non_null(c);
  assert_int_equal(c->err, 0);
  return c;
}

static rein_broker *redis_broker(const char *stream, const char *consumer,
                                 int64_t min_idle_ns, int64_t window_ns) {
  rein_broker_redis_config c;
  rein_broker_redis_config_default(&c);
  c.host = rein_test_redis_host();
  c.port = rein_test_redis_port();
  c.stream = stream;
  c.group = "g";
  c.consumer = consumer;
  c.min_idle_ns = min_idle_ns;
  if (window_ns) c.redelivery_window_ns = window_ns;
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_broker *b = NULL;
  rein_status st = rein_broker_redis_new(&c, &b);
  if (st != REIN_OK) fail_msg("rein_broker_redis_new: %s", e.msg);
  return b;
}

static void stream_name(char *buf, size_t cap, const char *what) {
  snprintf(buf, cap, "rein-test-inbox-%d-%d-%s", (int)getpid(), ++g_serial,
           what);
}

static void xadd(redisContext *c, const char *stream, const char *key,
                 const char *body) {
  redisReply *r =
      redisCommand(c, "XADD %s * key %s body %s", stream, key, body);
  assert_non_null(r);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  freeReplyObject(r);
}

static long long rint_cmd(redisContext *c, const char *fmt, const char *s) {
  redisReply *r = redisCommand(c, fmt, s);
  assert_non_null(r);
  long long v = -1;
  if (r->type == REDIS_REPLY_INTEGER)
    v = r->integer;
  else if (r->type == REDIS_REPLY_ARRAY && r->elements)
    v = r->element[0]->integer;
  freeReplyObject(r);
  return v;
}

static void test_redis_adapter(void **state) {
  char s[128];
  stream_name(s, sizeof s, "adapter");
  redisContext *rc = rc_connect();
  rein_broker *a = redis_broker(s, "A", 0, 0);
  assert_string_equal(a->vt->name, "redis-streams");
  assert_int_equal(rein_broker_redelivery_window_ns(a),
                   7 * 86400 * REIN_NS_PER_S);
  xadd(rc, s, "k1", "b1");
  xadd(rc, s, "k2", "b2");
  xadd(rc, s, "k3", "b3");
  rein_broker_batch b;
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_OK);
  assert_int_equal(b.n, 3);
  assert_string_equal(b.msgs[0].key, "k1");
  assert_string_equal(b.msgs[2].body, "b3");
  assert_int_equal(b.msgs[2].body_len, 2);
  assert_int_equal(b.msgs[0].deliveries, 1);
  assert_true(b.msgs[0].enqueued_unix_ms > 1600000000000LL);
  char id2[64];
  snprintf(id2, sizeof id2, "%s", b.msgs[1].id);
  assert_int_equal(rein_broker_ack(a, &b.msgs[0]), REIN_OK);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 2);
  /* nothing new: an empty batch after the block time */
  assert_int_equal(rein_broker_read(a, 10, 20, &b), REIN_OK);
  assert_int_equal(b.n, 0);
  /* A dies; a restarted A re-reads what it held, with delivery counts */
  rein_broker_free(a);
  a = redis_broker(s, "A", 60 * REIN_NS_PER_S, 0);
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_OK);
  assert_int_equal(b.n, 2);
  assert_string_equal(b.msgs[0].id, id2);
  assert_string_equal(b.msgs[0].key, "k2");
  assert_int_equal(b.msgs[0].deliveries, 2);
  /* a min-idle claim by A itself finds nothing younger than 60 s */
  assert_int_equal(rein_broker_claim_stale(a, 10, &b), REIN_OK);
  assert_int_equal(b.n, 0);
  /* B takes over A's messages with XAUTOCLAIM (min idle 0) */
  rein_broker *bb = redis_broker(s, "B", 0, 0);
  assert_int_equal(rein_broker_claim_stale(bb, 10, &b), REIN_OK);
  assert_int_equal(b.n, 2);
  assert_string_equal(b.msgs[0].key, "k2");
  assert_int_equal(b.msgs[0].deliveries, 3);
  assert_string_equal(b.msgs[1].key, "k3");
  /* dead-letter: parked with the error, and acked */
  assert_int_equal(rein_broker_dead_letter(bb, &b.msgs[0], "boom"), REIN_OK);
  assert_int_equal(rein_broker_ack(bb, &b.msgs[1]), REIN_OK);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  char dead[160];
  snprintf(dead, sizeof dead, "%s:dead", s);
  redisReply *r = redisCommand(rc, "XRANGE %s - +", dead);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  assert_int_equal(r->elements, 1);
  redisReply *fields = r->element[0]->element[1];
  bool saw_err = false, saw_key = false, saw_deliv = false;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const char *k = fields->element[i]->str, *v = fields->element[i + 1]->str;
    if (!strcmp(k, "error")) saw_err = !strcmp(v, "boom");
    if (!strcmp(k, "key")) saw_key = !strcmp(v, "k2");
    if (!strcmp(k, "deliveries")) saw_deliv = !strcmp(v, "3");
  }
  freeReplyObject(r);
  assert_true(saw_err && saw_key && saw_deliv);
  rein_broker_free(a);
  rein_broker_free(bb);
  freeReplyObject(redisCommand(rc, "DEL %s %s", s, dead));
  redisFree(rc);
}

static void test_redis_expired_redelivery(void **state) {
  char s[128];
  stream_name(s, sizeof s, "expired");
  redisContext *rc = rc_connect();
  rein_broker *a = redis_broker(s, "A", 0, REIN_NS_PER_S);
  /* an entry enqueued in 1970 by its ID */
  redisReply *r = redisCommand(rc, "XADD %s 1000-0 key old body x", s);
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  freeReplyObject(r);
  rein_broker_batch b;
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_OK);
  assert_int_equal(b.n, 1); /* a first delivery is never "expired" */
  assert_int_equal(rein_broker_claim_stale(a, 10, &b), REIN_OK);
  assert_int_equal(b.n, 0); /* its redelivery is parked instead */
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  char dead[160];
  snprintf(dead, sizeof dead, "%s:dead", s);
  assert_int_equal(rint_cmd(rc, "XLEN %s", dead), 1);
  rein_broker_free(a);
  freeReplyObject(redisCommand(rc, "DEL %s %s", s, dead));
  redisFree(rc);
}

/* The adapter compares entry IDs with its injected wall clock: the same
 * redelivery is fine today and expired two days later. */
static void test_redis_expiry_clock(void **state) {
  char s[128];
  stream_name(s, sizeof s, "expclock");
  redisContext *rc = rc_connect();
  rein_manual_clock wall;
  rein_manual_clock_init(&wall, rein_clock_wall_ns());
  rein_broker_redis_config c;
  rein_broker_redis_config_default(&c);
  c.host = rein_test_redis_host();
  c.port = rein_test_redis_port();
  c.stream = s;
  c.group = "g";
  c.consumer = "A";
  c.min_idle_ns = 0;
  c.redelivery_window_ns = 86400 * REIN_NS_PER_S;
  c.wall = rein_manual_clock_as_clock(&wall);
  rein_broker *a = NULL;
  assert_int_equal(rein_broker_redis_new(&c, &a), REIN_OK);
  xadd(rc, s, "k1", "b1");
  rein_broker_batch b;
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_OK);
  assert_int_equal(b.n, 1);
  assert_int_equal(rein_broker_claim_stale(a, 10, &b), REIN_OK);
  assert_int_equal(b.n, 1); /* within the window: redelivered */
  assert_int_equal(b.msgs[0].deliveries, 2);
  rein_manual_clock_advance(&wall, 2 * 86400 * REIN_NS_PER_S);
  assert_int_equal(rein_broker_claim_stale(a, 10, &b), REIN_OK);
  assert_int_equal(b.n, 0); /* past it: parked as expired */
  char dead[160];
  snprintf(dead, sizeof dead, "%s:dead", s);
  redisReply *r = redisCommand(rc, "XRANGE %s - +", dead);
  assert_int_equal(r->elements, 1);
  redisReply *fields = r->element[0]->element[1];
  bool ok = false;
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    if (!strcmp(fields->element[i]->str, "error")) {
      /* the age is 2 days minus the ms between reading the clock and
       * XADD: 172799 or 172800 s */
      const char *e = fields->element[i + 1]->str;
      long age = !strncmp(e, "expired: redelivered ", 21)
                     ? strtol(e + 21, NULL, 10)
                     : 0;
      ok = age >= 172790 && age <= 172800 &&
           strstr(e, "past the redelivery window of 86400 s") != NULL;
    }
  freeReplyObject(r);
  assert_true(ok);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  rein_broker_free(a);
  freeReplyObject(redisCommand(rc, "DEL %s %s", s, dead));
  redisFree(rc);
}

static void test_redis_config(void **state) {
  rein_broker_redis_config c;
  rein_broker_redis_config_default(&c);
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_broker *b = NULL;
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_redis.stream"));
  c.stream = "s";
  c.group = "g g";
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_redis.group"));
  c.group = "g";
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_redis.consumer"));
  c.consumer = "c";
  c.body_field = "key";
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_redis.body_field"));
  c.body_field = "body";
  c.redelivery_window_ns = 5;
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "redelivery_window_ns"));
  c.redelivery_window_ns = REIN_NS_PER_S;
  c.port = 0;
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EINVAL);
  /* nothing listens on port 1 */
  c.port = 1;
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_ECLOSED);
  assert_non_null(strstr(e.msg, "broker_redis: redis 127.0.0.1:1: connect"));
  assert_null(b);
  /* a key of the wrong type: Redis refuses, the adapter says so */
  redisContext *rc = rc_connect();
  char s[128];
  stream_name(s, sizeof s, "wrongtype");
  freeReplyObject(redisCommand(rc, "SET %s x", s));
  c.host = rein_test_redis_host();
  c.port = rein_test_redis_port();
  c.stream = s;
  assert_int_equal(rein_broker_redis_new(&c, &b), REIN_EBACKEND);
  assert_non_null(strstr(e.msg, "WRONGTYPE"));
  freeReplyObject(redisCommand(rc, "DEL %s", s));
  redisFree(rc);
}

/* ---- races and lost connections --------------------------------------------
 */

typedef struct racer {
  atomic_int inside;
  atomic_int calls;
  rein_inbox *ib;
  rein_broker_msg m;
  rein_inbox_verdict v;
  rein_status st;
} racer;

static rein_status slow_handler(void *ctx, rein_inbox_tx *tx,
                                const rein_broker_msg *m, char *err,
                                size_t cap) {
  racer *r = ctx;
  atomic_fetch_add(&r->calls, 1);
  rein_status st = effect_insert(tx, m->key);
  atomic_store(&r->inside, 1);
  usleep(300000); /* hold the transaction while the other one arrives */
  return st;
}

static void *race_thread(void *p) {
  racer *r = p;
  r->st = rein_inbox_process(r->ib, &r->m, &r->v);
  return NULL;
}

/* Two consumers get the same key at once: the second waits for the first
 * (SQLite: at BEGIN IMMEDIATE; PostgreSQL: on the unique index) and then
 * sees a duplicate. The effect happens once. */
static void test_concurrent_same_key(void **state) {
  fx *f = *state;
  racer a = {0}, b = {0};
  fake_broker fb2 = f->fb;
  fb2.acks = fb2.deads = 0;
  rein_inbox_config c = f->cfg;
  c.handler = slow_handler;
  c.hooks.after_commit = NULL;
  c.handler_ctx = &a;
  assert_int_equal(inbox_new(f, &c, &a.ib), REIN_OK);
  c.handler_ctx = &b;
  c.broker = &fb2.base;
  assert_int_equal(inbox_new(f, &c, &b.ib), REIN_OK);
  a.m = msg("1-0", "race", 1);
  b.m = msg("1-0", "race", 1);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, race_thread, &a), 0);
  for (int i = 0; i < 2000 && !atomic_load(&a.inside); i++)
    usleep(1000);
  assert_int_equal(atomic_load(&a.inside), 1);
  b.st = rein_inbox_process(b.ib, &b.m, &b.v);
  pthread_join(t, NULL);
  assert_int_equal(a.st, REIN_OK);
  assert_int_equal(a.v, REIN_INBOX_PROCESSED);
  assert_int_equal(b.st, REIN_OK);
  assert_int_equal(b.v, REIN_INBOX_DUPLICATE);
  assert_int_equal(atomic_load(&b.calls), 0);
  assert_int_equal(effects(f, "race"), 1);
  rein_inbox_free(a.ib);
  rein_inbox_free(b.ib);
}

/* The server drops the inbox's connection: one call fails with
 * REIN_ECLOSED and acks nothing; the next reconnects and succeeds. */
static void test_pg_reconnect(void **state) {
  fx *f = *state;
  rein_inbox_verdict v;
  rein_broker_msg m1 = msg("1-0", "pay-1", 1);
  assert_int_equal(rein_inbox_process(f->ib, &m1, &v), REIN_OK);
  int pid = PQbackendPID(rein_inbox_pg(f->ib));
  PGconn *c = PQconnectdb(rein_test_pg_dsn());
  char sql[80];
  snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
  PGresult *r = PQexec(c, sql);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  PQclear(r);
  PQfinish(c);
  usleep(100000);
  rein_broker_msg m2 = msg("2-0", "pay-2", 1);
  assert_int_equal(rein_inbox_process(f->ib, &m2, &v), REIN_ECLOSED);
  assert_non_null(strstr(rein_inbox_errmsg(f->ib), "postgres"));
  assert_int_equal(f->fb.acks, 1);
  assert_int_equal(rein_inbox_process(f->ib, &m2, &v), REIN_OK);
  assert_int_equal(v, REIN_INBOX_PROCESSED);
  assert_int_equal(f->fb.acks, 2);
  assert_int_equal(effects(f, "pay-2"), 1);
  assert_int_equal(inbox_rows(f), 2);
}

/* Redis drops the adapter's connection: one call fails, the next one
 * reconnects (and the consumer's pending entries are still its own). */
static void test_redis_reconnect(void **state) {
  char s[128];
  stream_name(s, sizeof s, "reconnect");
  redisContext *rc = rc_connect();
  char consumer[64];
  snprintf(consumer, sizeof consumer, "rc-%d-%d", (int)getpid(), g_serial);
  rein_broker *a = redis_broker(s, consumer, 0, 0);
  xadd(rc, s, "k1", "b1");
  char name[128];
  snprintf(name, sizeof name, "name=rein-inbox:%s ", consumer);
  redisReply *r = redisCommand(rc, "CLIENT LIST");
  assert_int_equal(r->type, REDIS_REPLY_STRING);
  char *line = strstr(r->str, name);
  assert_non_null(line);
  while (line > r->str && line[-1] != '\n')
    line--;
  long long id = strtoll(line + 3, NULL, 10); /* "id=N ..." */
  freeReplyObject(r);
  r = redisCommand(rc, "CLIENT KILL ID %lld", id);
  assert_int_equal(r->type, REDIS_REPLY_INTEGER);
  assert_int_equal(r->integer, 1);
  freeReplyObject(r);
  rein_broker_batch b;
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_ECLOSED);
  assert_non_null(strstr(rein_broker_errmsg(a), "XREADGROUP"));
  assert_int_equal(rein_broker_read(a, 10, 0, &b), REIN_OK);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.msgs[0].key, "k1");
  assert_int_equal(rein_broker_ack(a, &b.msgs[0]), REIN_OK);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  rein_broker_free(a);
  freeReplyObject(redisCommand(rc, "DEL %s", s));
  redisFree(rc);
}

/* ---- inbox over Redis, end to end
 * -------------------------------------------- */

static rein_status poison_handler(void *ctx, rein_inbox_tx *tx,
                                  const rein_broker_msg *m, char *err,
                                  size_t cap) {
  rein_status st = effect_insert(tx, m->key);
  assert_int_equal(st, REIN_OK);
  if (!strcmp(m->key, "poison")) {
    snprintf(err, cap, "amount is not a number");
    return REIN_EPARSE;
  }
  return REIN_OK;
}

static void test_poll_over_redis(void **state) {
  fx *f = *state;
  char s[128];
  stream_name(s, sizeof s, "poll");
  redisContext *rc = rc_connect();
  for (int i = 0; i < 20; i++) {
    char k[16];
    snprintf(k, sizeof k, "p%d", i);
    xadd(rc, s, k, "{}");
  }
  xadd(rc, s, "poison", "{}");
  xadd(rc, s, "p3", "{}"); /* the producer published p3 twice */
  rein_broker *b = redis_broker(s, "A", 0, 86400 * REIN_NS_PER_S);
  rein_inbox_free(f->ib);
  f->cfg.broker = b;
  f->cfg.handler = poison_handler;
  f->cfg.max_deliveries = 3;
  f->cfg.wall.now_ns = NULL; /* real time: the stream's IDs are real */
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  rein_inbox_stats st = {0};
  for (int i = 0; i < 10 && st.dead == 0; i++)
    assert_int_equal(rein_inbox_poll(f->ib, 8, 10, &st), REIN_OK);
  assert_int_equal(st.processed, 20);
  assert_int_equal(st.duplicates, 1);
  assert_int_equal(st.failed, 2);
  assert_int_equal(st.dead, 1);
  assert_true(st.claimed >= 2);
  assert_int_equal(effects(f, "poison"), 0);
  assert_int_equal(effects(f, "p3"), 1);
  assert_int_equal(inbox_rows(f), 20);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  char dead[160];
  snprintf(dead, sizeof dead, "%s:dead", s);
  redisReply *r = redisCommand(rc, "XRANGE %s - +", dead);
  assert_int_equal(r->elements, 1);
  redisReply *fields = r->element[0]->element[1];
  bool ok = false;
  for (size_t i = 0; i + 1 < fields->elements; i += 2)
    if (!strcmp(fields->element[i]->str, "error"))
      ok = !strcmp(fields->element[i + 1]->str,
                   "REIN_EPARSE: amount is not a number");
  freeReplyObject(r);
  assert_true(ok);
  rein_inbox_free(f->ib);
  f->ib = NULL;
  rein_broker_free(b);
  freeReplyObject(redisCommand(rc, "DEL %s %s", s, dead));
  redisFree(rc);
}

/* Issue 15 item 10: keys that differ only after a NUL byte. Read as C
 * strings, "a\0b" and "a\0c" were both "a": the second was a false
 * duplicate and its effect was skipped. Now neither is truncated: each is
 * refused loudly (dead-lettered whole, with the reason), none skipped. */
static void test_redis_nul_key(void **state) {
  fx *f = *state;
  char s[128];
  stream_name(s, sizeof s, "nulkey");
  redisContext *rc = rc_connect();
  const char *keys[2] = {"a\0b", "a\0c"};
  for (int i = 0; i < 2; i++) {
    const char *argv[7] = {"XADD", s, "*", "key", keys[i], "body", "{}"};
    size_t len[7] = {4, strlen(s), 1, 3, 3, 4, 2};
    redisReply *r = redisCommandArgv(rc, 7, argv, len);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    freeReplyObject(r);
  }
  xadd(rc, s, "a", "{}"); /* the plain prefix is a key of its own */
  rein_broker *b = redis_broker(s, "A", 0, 86400 * REIN_NS_PER_S);
  rein_inbox_free(f->ib);
  f->cfg.broker = b;
  f->cfg.handler = poison_handler;
  f->cfg.wall.now_ns = NULL;
  assert_int_equal(inbox_new(f, &f->cfg, &f->ib), REIN_OK);
  rein_inbox_stats st = {0};
  assert_int_equal(rein_inbox_poll(f->ib, 8, 10, &st), REIN_OK);
  assert_int_equal(st.duplicates, 0); /* never a false duplicate */
  assert_int_equal(st.processed, 1);
  assert_int_equal(effects(f, "a"), 1);
  assert_int_equal(rint_cmd(rc, "XPENDING %s g", s), 0);
  char dead[160];
  snprintf(dead, sizeof dead, "%s:dead", s);
  redisReply *r = redisCommand(rc, "XRANGE %s - +", dead);
  assert_int_equal(r->type, REDIS_REPLY_ARRAY);
  assert_int_equal(r->elements, 2);
  for (size_t e = 0; e < 2; e++) {
    redisReply *fields = r->element[e]->element[1];
    bool why = false, whole = false;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
      redisReply *k = fields->element[i], *v = fields->element[i + 1];
      if (!strcmp(k->str, "error")) why = strstr(v->str, "NUL byte") != NULL;
      if (!strcmp(k->str, "key"))
        whole = v->len == 3 && memcmp(v->str, keys[e], 3) == 0;
    }
    assert_true(why);
    assert_true(whole);
  }
  freeReplyObject(r);
  rein_inbox_free(f->ib);
  f->ib = NULL;
  rein_broker_free(b);
  freeReplyObject(redisCommand(rc, "DEL %s %s", s, dead));
  redisFree(rc);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
#define TS(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)
#define TP(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_outbox_key_vector),
      TS(test_process_then_duplicate),
      TP(test_process_then_duplicate),
      TS(test_poll_acks_batch),
      TP(test_poll_acks_batch),
      TS(test_failure_rolls_back),
      TP(test_failure_rolls_back),
      TS(test_poison_dead_letter),
      TP(test_poison_dead_letter),
      TS(test_ack_failure_is_reported),
      TP(test_ack_failure_is_reported),
      TS(test_without_dedup_repeats),
      TP(test_without_dedup_repeats),
      TS(test_purge_batches),
      TP(test_purge_batches),
      TS(test_outbox_relay),
      TP(test_outbox_relay),
      TS(test_outbox_giveup_and_fatal),
      TP(test_outbox_giveup_and_fatal),
      TS(test_outbox_lease_blocks_second_relay),
      TP(test_outbox_lease_blocks_second_relay),
      TS(test_outbox_limits),
      TP(test_outbox_limits),
      TS(test_config_validation),
      TS(test_alloc_faults),
      cmocka_unit_test(test_redis_adapter),
      cmocka_unit_test(test_redis_expired_redelivery),
      cmocka_unit_test(test_redis_config),
      cmocka_unit_test(test_redis_expiry_clock),
      TS(test_poll_over_redis),
      TS(test_redis_nul_key),
      TS(test_concurrent_same_key),
      TP(test_concurrent_same_key),
      TP(test_pg_reconnect),
      TS(test_sqlite_busy),
      cmocka_unit_test(test_redis_reconnect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
