/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inbox_sqlite.c: the inbox's SQLite backend (the embedded default).
 *
 * One connection, WAL, synchronous=NORMAL (a committed transaction survives
 * a process crash, which is what the inbox promises; FULL would add power
 * loss at an fsync per commit) and a busy timeout, so several consumer
 * processes can share one database file. Every inbox transaction starts with
 * BEGIN IMMEDIATE: it takes the write lock up front, so two consumers that
 * race on one key serialize at BEGIN instead of failing at COMMIT with
 * SQLITE_BUSY after the handler already ran. Statements are prepared once.
 *
 * The dedup insert is INSERT ... ON CONFLICT(key) DO NOTHING; "inserted" is
 * sqlite3_changes() == 1. Outbox leasing is one UPDATE ... RETURNING, atomic
 * on its own.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "inbox_internal.h"

enum {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_DEDUP,
  S_OUT_ADD,
  S_OUT_LEASE,
  S_OUT_END,
  S_PURGE_IN,
  S_PURGE_OUT,
  S_COUNTS,
  S_COUNT_
};

static const char *const SQL[S_COUNT_] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_DEDUP] = "INSERT INTO rein_inbox(key, processed_ms) VALUES(?1, ?2) "
                "ON CONFLICT(key) DO NOTHING",
    [S_OUT_ADD] = "INSERT INTO rein_outbox(msg_key, effect, idem_key, dest, "
                  "body, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_OUT_LEASE] = "UPDATE rein_outbox SET lease_until_ms = ?1 WHERE id IN "
                    "(SELECT id FROM rein_outbox WHERE state = 0 AND "
                    "lease_until_ms <= ?2 ORDER BY id LIMIT ?3) RETURNING "
                    "id, msg_key, effect, idem_key, dest, body, attempts",
    [S_OUT_END] = "UPDATE rein_outbox SET state = ?2, attempts = attempts + "
                  "?3, last_error = ?4, done_ms = CASE WHEN ?2 <> 0 THEN ?5 "
                  "END, lease_until_ms = CASE WHEN ?2 = 0 THEN ?5 + 1000 "
                  "ELSE lease_until_ms END WHERE id = ?1",
    [S_PURGE_IN] = "DELETE FROM rein_inbox WHERE key IN (SELECT key FROM "
                   "rein_inbox WHERE processed_ms < ?1 LIMIT ?2)",
    [S_PURGE_OUT] = "DELETE FROM rein_outbox WHERE id IN (SELECT id FROM "
                    "rein_outbox WHERE state = 1 AND done_ms < ?1 LIMIT ?2)",
    [S_COUNTS] = "SELECT (SELECT count(*) FROM rein_inbox), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 0), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 1), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 2)",
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS rein_inbox("
    " key TEXT PRIMARY KEY, processed_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS rein_inbox_processed"
    " ON rein_inbox(processed_ms);"
    "CREATE TABLE IF NOT EXISTS rein_outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " msg_key TEXT NOT NULL, effect TEXT NOT NULL, idem_key TEXT NOT NULL,"
    " dest TEXT NOT NULL, body BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0," /* 0 pending 1 delivered 2 failed */
    " done_ms INTEGER, last_error TEXT,"
    " UNIQUE(msg_key, effect));"
    "CREATE INDEX IF NOT EXISTS rein_outbox_pending"
    " ON rein_outbox(state, id);";

typedef struct sq {
  rein__inbox_db base;
  sqlite3 *db;
  bool owned;
  sqlite3_stmt *st[S_COUNT_];
} sq;

static rein_status fail(sq *s, const char *op, int rc) {
  rein__inbox_seterr(s->base.errmsg, sizeof s->base.errmsg,
                     "sqlite: %s: %s (code %d)", op,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc), rc);
  int prim = rc & 0xff;
  if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) return REIN_EBUSY;
  if (prim == SQLITE_NOMEM) return REIN_ENOMEM;
  return REIN_EBACKEND;
}

/* Runs a prepared statement that returns no rows. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static rein_status sq_begin(rein__inbox_db *d) {
  sq *s = (sq *)d;
  int rc = step_done(s->st[S_BEGIN]);
  return rc == SQLITE_OK ? REIN_OK : fail(s, "BEGIN IMMEDIATE", rc);
}

static rein_status sq_commit(rein__inbox_db *d) {
  sq *s = (sq *)d;
  int rc = step_done(s->st[S_COMMIT]);
  if (rc == SQLITE_OK) return REIN_OK;
  rein_status st = fail(s, "COMMIT", rc);
  if (!sqlite3_get_autocommit(s->db)) step_done(s->st[S_ROLLBACK]);
  return st;
}

static void sq_rollback(rein__inbox_db *d) {
  sq *s = (sq *)d;
  if (!sqlite3_get_autocommit(s->db)) step_done(s->st[S_ROLLBACK]);
}

static rein_status sq_dedup(rein__inbox_db *d, const char *key, int64_t now_ms,
                            bool *inserted) {
  sq *s = (sq *)d;
  sqlite3_stmt *st = s->st[S_DEDUP];
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now_ms);
  int rc = step_done(st);
  if (rc != SQLITE_OK) return fail(s, "insert into rein_inbox", rc);
  *inserted = sqlite3_changes(s->db) == 1;
  return REIN_OK;
}

static rein_status sq_outbox_add(rein__inbox_db *d, const char *msg_key,
                                 const char *effect, const char *idem_key,
                                 const char *dest, const void *body, size_t len,
                                 int64_t now_ms) {
  sq *s = (sq *)d;
  sqlite3_stmt *st = s->st[S_OUT_ADD];
  sqlite3_bind_text(st, 1, msg_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, effect, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, idem_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 5, len ? body : "", (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, now_ms);
  int rc = step_done(st);
  if (rc == SQLITE_OK) return REIN_OK;
  rein_status r = fail(s, "insert into rein_outbox", rc);
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return REIN_ECONFLICT;
  return r;
}

static rein_status sq_outbox_lease(rein__inbox_db *d, int64_t now_ms,
                                   int64_t until_ms, size_t max,
                                   rein__outbox_row **rows, size_t *n) {
  sq *s = (sq *)d;
  *n = 0;
  sqlite3_stmt *st = s->st[S_OUT_LEASE];
  sqlite3_bind_int64(st, 1, until_ms);
  sqlite3_bind_int64(st, 2, now_ms);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
  rein_status ret = REIN_OK;
  int rc;
  /* The UPDATE's effect happens on the first step; RETURNING rows then
   * come one per step. An allocation failure part way keeps stepping so
   * the statement completes (the unreturned rows stay leased until the
   * lease ends, which only delays them). */
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (ret != REIN_OK || *n >= max) continue;
    const void *body = sqlite3_column_blob(st, 5);
    size_t blen = (size_t)sqlite3_column_bytes(st, 5);
    rein__outbox_row *r =
        rein__outbox_row_new(s->base.alloc, sqlite3_column_int64(st, 0),
                             (const char *)sqlite3_column_text(st, 1),
                             (const char *)sqlite3_column_text(st, 2),
                             (const char *)sqlite3_column_text(st, 3),
                             (const char *)sqlite3_column_text(st, 4), body,
                             blen, (uint32_t)sqlite3_column_int64(st, 6));
    if (!r) {
      ret = REIN_ENOMEM;
      continue;
    }
    rows[(*n)++] = r;
  }
  if (rc != SQLITE_DONE && ret == REIN_OK) ret = fail(s, "lease outbox", rc);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  if (ret != REIN_OK) {
    for (size_t i = 0; i < *n; i++)
      rein_free(s->base.alloc, rows[i]);
    *n = 0;
  }
  return ret;
}

static rein_status sq_outbox_end(rein__inbox_db *d, int64_t id,
                                 rein__outbox_end how, uint32_t attempts,
                                 const char *error, int64_t now_ms) {
  sq *s = (sq *)d;
  sqlite3_stmt *st = s->st[S_OUT_END];
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, (int)how);
  sqlite3_bind_int64(st, 3, attempts);
  if (error)
    sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 4);
  sqlite3_bind_int64(st, 5, now_ms);
  int rc = step_done(st);
  return rc == SQLITE_OK ? REIN_OK : fail(s, "update rein_outbox", rc);
}

static rein_status sq_purge(rein__inbox_db *d, int64_t older_than_ms,
                            size_t batch, size_t *n_in, size_t *n_out) {
  sq *s = (sq *)d;
  *n_in = *n_out = 0;
  rein_status r = sq_begin(d);
  if (r != REIN_OK) return r;
  sqlite3_stmt *a = s->st[S_PURGE_IN], *b = s->st[S_PURGE_OUT];
  sqlite3_bind_int64(a, 1, older_than_ms);
  sqlite3_bind_int64(a, 2, (sqlite3_int64)batch);
  int rc = step_done(a);
  if (rc != SQLITE_OK) goto bad;
  *n_in = (size_t)sqlite3_changes(s->db);
  sqlite3_bind_int64(b, 1, older_than_ms);
  sqlite3_bind_int64(b, 2, (sqlite3_int64)batch);
  rc = step_done(b);
  if (rc != SQLITE_OK) goto bad;
  *n_out = (size_t)sqlite3_changes(s->db);
  return sq_commit(d);
bad:
  r = fail(s, "purge", rc);
  sq_rollback(d);
  *n_in = *n_out = 0;
  return r;
}

static rein_status sq_counts(rein__inbox_db *d, rein_inbox_counts *out) {
  sq *s = (sq *)d;
  sqlite3_stmt *st = s->st[S_COUNTS];
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->inbox_rows = sqlite3_column_int64(st, 0);
    out->outbox_pending = sqlite3_column_int64(st, 1);
    out->outbox_delivered = sqlite3_column_int64(st, 2);
    out->outbox_failed = sqlite3_column_int64(st, 3);
    rc = SQLITE_OK;
  }
  sqlite3_reset(st);
  return rc == SQLITE_OK ? REIN_OK : fail(s, "count", rc);
}

static void sq_close(rein__inbox_db *d) {
  if (!d) return;
  sq *s = (sq *)d;
  for (int i = 0; i < S_COUNT_; i++)
    sqlite3_finalize(s->st[i]);
  if (s->owned) sqlite3_close(s->db);
  rein_free(s->base.alloc, s);
}

static const rein__inbox_db_vt SQ_VT = {REIN__INBOX_DB_VT_VERSION,
                                        "sqlite",
                                        sq_begin,
                                        sq_commit,
                                        sq_rollback,
                                        sq_dedup,
                                        sq_outbox_add,
                                        sq_outbox_lease,
                                        sq_outbox_end,
                                        sq_purge,
                                        sq_counts,
                                        sq_close,
                                        NULL,
                                        NULL,
                                        NULL};

static struct sqlite3 *handle(const rein__inbox_db *d) {
  return d && d->vt == &SQ_VT ? ((const sq *)d)->db : NULL;
}

struct sqlite3 *rein_inbox_sqlite(const rein_inbox *ib) {
  return handle(rein__inbox_db_of(ib));
}

struct sqlite3 *rein_inbox_tx_sqlite(const rein_inbox_tx *tx) {
  return handle(rein__inbox_db_of_tx(tx));
}

#define SETUP_RETRY_MS 20

/* Run `sql`, retrying up to `tries` times, SETUP_RETRY_MS apart, while the
 * database is busy or locked. Only for one-off set-up statements. */
static int exec_busy_retry(sqlite3 *db, const char *sql, int64_t tries) {
  int rc;
  for (int64_t i = 0;; i++) {
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) return rc;
    if (i + 1 >= tries) return rc;
    struct timespec ts = {0, SETUP_RETRY_MS * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static rein_status sqlite_open(const rein_inbox_config *c, rein__inbox_db **out,
                               rein_errbuf *err) {
  sq *s = rein_calloc(c->alloc, sizeof *s);
  if (!s) return REIN_ENOMEM;
  s->base.vt = &SQ_VT;
  s->base.alloc = c->alloc;
  int rc;
  if (c->sqlite_db) {
    s->db = c->sqlite_db;
  } else {
    rc = sqlite3_open_v2(
        c->sqlite_path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    s->owned = true;
    if (rc != SQLITE_OK) goto bad;
  }
  int64_t ms = c->busy_timeout_ns / REIN_NS_PER_MS;
  rc = sqlite3_busy_timeout(s->db, ms > INT32_MAX ? INT32_MAX : (int)ms);
  /* Set-up can race another process opening the same file (two consumers
   * starting at once): switching to WAL and creating the schema may return
   * SQLITE_BUSY without the busy handler being called (SQLite does so when
   * waiting could deadlock). Retry it within the busy timeout, and create
   * the schema under BEGIN IMMEDIATE so the write lock is taken up front. */
  int64_t tries = ms / SETUP_RETRY_MS + 1;
  if (rc == SQLITE_OK)
    rc = exec_busy_retry(s->db, "PRAGMA journal_mode=WAL", tries);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  bool own_txn = sqlite3_get_autocommit(s->db) != 0; /* caller's txn? */
  if (rc == SQLITE_OK && own_txn)
    rc = exec_busy_retry(s->db, "BEGIN IMMEDIATE", tries);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(s->db, SCHEMA, NULL, NULL, NULL);
    if (own_txn) {
      if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
      if (rc != SQLITE_OK) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
  }
  for (int i = 0; rc == SQLITE_OK && i < S_COUNT_; i++)
    rc = sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &s->st[i], NULL);
  if (rc != SQLITE_OK) goto bad;
  *out = &s->base;
  return REIN_OK;
bad:;
  rein_status r = fail(s, c->sqlite_db ? "prepare" : "open", rc);
  if (err)
    snprintf(err->msg, sizeof err->msg, "inbox.sqlite_path: %.450s",
             s->base.errmsg);
  if (r == REIN_EBUSY || r == REIN_ENOMEM) {
    /* keep */
  } else {
    r = REIN_EBACKEND;
  }
  sq_close(&s->base);
  return r;
}

rein_status rein_inbox_sqlite_new(const rein_inbox_config *c,
                                  rein_inbox **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  if (!c->sqlite_db && (!c->sqlite_path || !*c->sqlite_path))
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "inbox.sqlite_path: required (or sqlite_db) for "
                           "the SQLite inbox; use \":memory:\" for a "
                           "throwaway one");
  return rein__inbox_new(c, sqlite_open, out);
}
