/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.c: the SQLite idempotency store, rein's embedded default.
 *
 * One row per record in a WITHOUT ROWID table keyed by the 32-byte record
 * id. begin reads and writes inside BEGIN IMMEDIATE (or, when the caller
 * has a transaction open on the same connection, inside a savepoint of
 * it, so a handler can take the claim, make its effect and store the
 * response in one commit): the write lock is taken
 * before the read, so two begins (in threads or processes) can never both
 * see "absent" and both claim; the loser waits in SQLite's busy handler for
 * up to busy_timeout_ms and then gets REIN_EBUSY. checkpoint, complete and
 * abandon are single guarded UPDATEs (WHERE state = leased AND fence AND
 * nonce match), atomic on their own. WAL with synchronous=FULL makes each
 * commit durable before it returns, and a process killed mid-write leaves
 * the database as of the last commit. All statements are prepared once.
 */
#include "idem_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_SAVE, /* begin inside the caller's transaction: a savepoint */
  Q_RELEASE,
  Q_UNDO,
  Q_SEL,
  Q_PUT,
  Q_CP,
  Q_DONE,
  Q_REL,
  Q_PURGE,
  Q_COUNT
};

typedef struct sq {
  sqlite3 *db;
  bool owns;
  sqlite3_stmt *q[Q_COUNT];
} sq;

static rein_status sq_err(rein_idem_store *s, sqlite3 *db, int rc,
                          const char *what) {
  int ext = db ? sqlite3_extended_errcode(db) : rc;
  rein_status st = REIN_EBACKEND;
  int prim = rc & 0xff;
  if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
    st = REIN_EBUSY;
  else if (prim == SQLITE_NOMEM)
    st = REIN_ENOMEM;
  else if (prim == SQLITE_IOERR || prim == SQLITE_FULL)
    st = REIN_EIO;
  const char *name = prim == SQLITE_BUSY       ? "SQLITE_BUSY"
                     : prim == SQLITE_LOCKED   ? "SQLITE_LOCKED"
                     : prim == SQLITE_READONLY ? "SQLITE_READONLY"
                     : prim == SQLITE_CORRUPT  ? "SQLITE_CORRUPT"
                     : prim == SQLITE_IOERR    ? "SQLITE_IOERR"
                     : prim == SQLITE_CANTOPEN ? "SQLITE_CANTOPEN"
                     : prim == SQLITE_MISUSE   ? "SQLITE_MISUSE"
                                               : "SQLITE_ERROR";
  return rein__idem_fail(s, st, "sqlite: %s (%d, extended %d) during %s: %s",
                         name, rc, ext, what,
                         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void bind_token(sqlite3_stmt *q, const rein_idem_token *t) {
  sqlite3_bind_blob(q, 1, t->id, 32, SQLITE_STATIC);
  sqlite3_bind_int64(q, 2, (sqlite3_int64)t->fence);
  sqlite3_bind_int64(q, 3, (sqlite3_int64)t->nonce);
}

/* ---- begin ------------------------------------------------------------- */

/* Writes the claimed row from `r` fields. */
static int put_row(sq *d, const rein__idem_begin_args *a, uint64_t fence,
                   int64_t created, int64_t expires, const char *phase,
                   int phase_len) {
  sqlite3_stmt *q = d->q[Q_PUT];
  sqlite3_bind_blob(q, 1, a->id, 32, SQLITE_STATIC);
  sqlite3_bind_text(q, 2, a->principal, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 3, a->operation, -1, SQLITE_STATIC);
  sqlite3_bind_text(q, 4, a->key, -1, SQLITE_STATIC);
  sqlite3_bind_blob(q, 5, a->fp, 32, SQLITE_STATIC);
  sqlite3_bind_int64(q, 6, (sqlite3_int64)fence);
  sqlite3_bind_int64(q, 7, (sqlite3_int64)a->nonce);
  sqlite3_bind_int64(q, 8, created);
  sqlite3_bind_int64(q, 9, expires);
  sqlite3_bind_int64(q, 10, a->now + a->lease_ns);
  if (phase && phase_len > 0)
    sqlite3_bind_text(q, 11, phase, phase_len, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(q, 11);
  int rc = step_done(q);
  sqlite3_clear_bindings(q);
  return rc;
}

static rein_status sq_begin(rein_idem_store *s, const rein__idem_begin_args *a,
                            rein_idem_result *out) {
  sq *d = s->impl;
  int64_t now = a->now;
  /* Inside the caller's transaction on this connection (a handler that
   * commits its effect and the stored response together, and takes the
   * claim in that same transaction): a savepoint in it, durable only with
   * the caller's COMMIT. Otherwise a transaction of its own. */
  bool joined = !sqlite3_get_autocommit(d->db);
  int rc = step_done(d->q[joined ? Q_SAVE : Q_BEGIN]);
  if (rc != SQLITE_OK)
    return sq_err(s, d->db, rc, joined ? "SAVEPOINT" : "BEGIN IMMEDIATE");
  rein_status st = REIN_OK;
  sqlite3_stmt *q = d->q[Q_SEL];
  sqlite3_bind_blob(q, 1, a->id, 32, SQLITE_STATIC);
  rc = sqlite3_step(q);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    st = sq_err(s, d->db, rc, "SELECT");
    goto rollback;
  }
  bool found = rc == SQLITE_ROW;
  uint8_t fp[32] = {0};
  rein__idem_view v = {fp, 0, 0, 0};
  uint64_t fence = 0;
  int64_t created = 0;
  if (found) {
    const void *f = sqlite3_column_blob(q, 0);
    if (f && sqlite3_column_bytes(q, 0) == 32) memcpy(fp, f, 32);
    v.state = sqlite3_column_int(q, 1);
    fence = (uint64_t)sqlite3_column_int64(q, 2);
    created = sqlite3_column_int64(q, 4);
    v.expires = sqlite3_column_int64(q, 5);
    v.lease_until = sqlite3_column_int64(q, 6);
  }
  switch (rein__idem_decide(found ? &v : NULL, a->fp, now)) {
  case REIN__IDEM_ACT_FRESH:
    sqlite3_reset(q);
    rc = put_row(d, a, fence + 1, now, now + a->retention_ns, NULL, 0);
    if (rc != SQLITE_OK) {
      st = sq_err(s, d->db, rc, "INSERT");
      goto rollback;
    }
    rein__idem_set_new(out, a->id, fence + 1, a->nonce, false, NULL, 0,
                       a->retention_ns);
    break;
  case REIN__IDEM_ACT_RECOVER:
  case REIN__IDEM_ACT_RECLAIM: {
    bool recover = v.state == REIN__IDEM_LEASED;
    char phase[REIN_IDEM_PHASE_MAX + 1];
    int pl = 0;
    if (recover && sqlite3_column_type(q, 7) == SQLITE_TEXT) {
      pl = sqlite3_column_bytes(q, 7);
      if (pl > (int)REIN_IDEM_PHASE_MAX) pl = REIN_IDEM_PHASE_MAX;
      memcpy(phase, sqlite3_column_text(q, 7), (size_t)pl);
    }
    phase[pl] = '\0';
    sqlite3_reset(q);
    rc = put_row(d, a, fence + 1, created, v.expires, phase, pl);
    if (rc != SQLITE_OK) {
      st = sq_err(s, d->db, rc, "UPDATE");
      goto rollback;
    }
    rein__idem_set_new(out, a->id, fence + 1, a->nonce, recover, phase,
                       (size_t)pl, v.expires - now);
    break;
  }
  case REIN__IDEM_ACT_REPLAY:
    st = rein__idem_set_replay(
        s, out, sqlite3_column_int(q, 8), sqlite3_column_blob(q, 9),
        (size_t)sqlite3_column_bytes(q, 9), sqlite3_column_blob(q, 10),
        (size_t)sqlite3_column_bytes(q, 10), v.expires - now);
    sqlite3_reset(q);
    if (st != REIN_OK) goto rollback;
    break;
  case REIN__IDEM_ACT_BUSY:
    sqlite3_reset(q);
    out->outcome = REIN_IDEM_IN_PROGRESS;
    out->retry_after_ns = v.lease_until - now;
    out->expires_in_ns = v.expires > now ? v.expires - now : 0;
    break;
  case REIN__IDEM_ACT_MISMATCH:
    sqlite3_reset(q);
    out->outcome = REIN_IDEM_MISMATCH;
    break;
  }
  rc = step_done(d->q[joined ? Q_RELEASE : Q_COMMIT]);
  if (rc != SQLITE_OK) {
    st = sq_err(s, d->db, rc, joined ? "RELEASE" : "COMMIT");
    goto rollback;
  }
  return REIN_OK;
rollback:
  sqlite3_reset(q);
  if (joined) {
    /* undo this begin's writes, keep the caller's transaction */
    step_done(d->q[Q_UNDO]);
    step_done(d->q[Q_RELEASE]);
  } else if (!sqlite3_get_autocommit(d->db)) {
    step_done(d->q[Q_ROLLBACK]);
  }
  return st;
}

/* ---- guarded updates --------------------------------------------------- */

static rein_status guarded(rein_idem_store *s, sqlite3_stmt *q,
                           const char *what) {
  sq *d = s->impl;
  int rc = step_done(q);
  sqlite3_clear_bindings(q);
  if (rc != SQLITE_OK) return sq_err(s, d->db, rc, what);
  if (sqlite3_changes(d->db) != 1)
    return rein__idem_fail(s, REIN_ESTALE,
                           "idem: the token no longer holds the lease (taken "
                           "over, completed, released or expired)");
  return REIN_OK;
}

static rein_status sq_checkpoint(rein_idem_store *s, const rein_idem_token *t,
                                 const char *phase, int64_t extend_ns,
                                 int64_t now) {
  sq *d = s->impl;
  sqlite3_stmt *q = d->q[Q_CP];
  bind_token(q, t);
  sqlite3_bind_text(q, 4, phase, -1, SQLITE_STATIC);
  sqlite3_bind_int64(q, 5, extend_ns > 0 ? now + extend_ns : 0);
  return guarded(s, q, "checkpoint UPDATE");
}

static rein_status sq_complete(rein_idem_store *s, const rein_idem_token *t,
                               const rein_idem_response *r, bool keep,
                               int64_t now) {
  (void)now;
  sq *d = s->impl;
  sqlite3_stmt *q = d->q[keep ? Q_DONE : Q_REL];
  bind_token(q, t);
  if (keep) {
    sqlite3_bind_int(q, 4, r->status);
    sqlite3_bind_blob(q, 5, r->headers_len ? r->headers : "",
                      (int)r->headers_len, SQLITE_STATIC);
    sqlite3_bind_blob(q, 6, r->body_len ? r->body : "", (int)r->body_len,
                      SQLITE_STATIC);
  }
  return guarded(s, q, keep ? "complete UPDATE" : "release UPDATE");
}

static rein_status sq_purge(rein_idem_store *s, size_t max_batch,
                            size_t *purged, int64_t now) {
  sq *d = s->impl;
  sqlite3_stmt *q = d->q[Q_PURGE];
  sqlite3_bind_int64(q, 1, now);
  sqlite3_bind_int64(q, 2, (sqlite3_int64)max_batch);
  int rc = step_done(q);
  if (rc != SQLITE_OK) return sq_err(s, d->db, rc, "purge DELETE");
  *purged = (size_t)sqlite3_changes(d->db);
  return REIN_OK;
}

static void sq_destroy(rein_idem_store *s) {
  sq *d = s->impl;
  if (!d) return;
  for (int i = 0; i < Q_COUNT; i++)
    sqlite3_finalize(d->q[i]);
  if (d->owns) sqlite3_close_v2(d->db);
  rein_free(s->alloc, d);
  s->impl = NULL;
}

static const rein__idem_vtable sq_vtable = {REIN__IDEM_VTABLE_VERSION,
                                            "sqlite",
                                            true,
                                            sq_begin,
                                            sq_checkpoint,
                                            sq_complete,
                                            sq_purge,
                                            sq_destroy};

/* ---- construction ------------------------------------------------------ */

void rein_idem_sqlite_config_default(rein_idem_sqlite_config *sc) {
  memset(sc, 0, sizeof *sc);
  sc->table = "rein_idem";
  sc->busy_timeout_ms = 5000;
  sc->synchronous_full = true;
}

static int exec_sql(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static rein_status setup(rein_idem_store *s, sq *d, const char *t,
                         const rein_idem_sqlite_config *sc) {
  char sql[1024];
  int rc = sqlite3_busy_timeout(d->db, sc->busy_timeout_ms);
  if (rc == SQLITE_OK) rc = exec_sql(d->db, "PRAGMA journal_mode=WAL");
  if (rc == SQLITE_OK)
    rc = exec_sql(d->db, sc->synchronous_full ? "PRAGMA synchronous=FULL"
                                              : "PRAGMA synchronous=NORMAL");
  if (rc != SQLITE_OK) return sq_err(s, d->db, rc, "PRAGMA setup");
  snprintf(sql, sizeof sql,
           "CREATE TABLE IF NOT EXISTS \"%s\" ("
           "id BLOB PRIMARY KEY NOT NULL, principal TEXT NOT NULL, "
           "operation TEXT NOT NULL, key TEXT NOT NULL, fp BLOB NOT NULL, "
           "state INTEGER NOT NULL, fence INTEGER NOT NULL, "
           "nonce INTEGER NOT NULL, created_ns INTEGER NOT NULL, "
           "expires_ns INTEGER NOT NULL, lease_ns INTEGER NOT NULL, "
           "phase TEXT, status INTEGER, headers BLOB, body BLOB"
           ") WITHOUT ROWID;"
           "CREATE INDEX IF NOT EXISTS \"%s_expires\" ON \"%s\"(expires_ns);",
           t, t, t);
  rc = exec_sql(d->db, sql);
  if (rc != SQLITE_OK) return sq_err(s, d->db, rc, "CREATE TABLE");
  const char *fmt[Q_COUNT] = {
      [Q_BEGIN] = "BEGIN IMMEDIATE",
      [Q_COMMIT] = "COMMIT",
      [Q_ROLLBACK] = "ROLLBACK",
      [Q_SAVE] = "SAVEPOINT rein_idem_begin",
      [Q_RELEASE] = "RELEASE rein_idem_begin",
      [Q_UNDO] = "ROLLBACK TO rein_idem_begin",
      [Q_SEL] = "SELECT fp, state, fence, nonce, created_ns, expires_ns, "
                "lease_ns, phase, status, headers, body FROM \"%s\" "
                "WHERE id = ?1",
      [Q_PUT] = "INSERT OR REPLACE INTO \"%s\" (id, principal, operation, "
                "key, fp, state, fence, nonce, created_ns, expires_ns, "
                "lease_ns, phase, status, headers, body) VALUES (?1, ?2, ?3, "
                "?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL)",
      [Q_CP] = "UPDATE \"%s\" SET phase = ?4, lease_ns = CASE WHEN ?5 > 0 "
               "THEN ?5 ELSE lease_ns END WHERE id = ?1 AND state = 1 AND "
               "fence = ?2 AND nonce = ?3",
      [Q_DONE] = "UPDATE \"%s\" SET state = 3, status = ?4, headers = ?5, "
                 "body = ?6 WHERE id = ?1 AND state = 1 AND fence = ?2 AND "
                 "nonce = ?3",
      [Q_REL] = "UPDATE \"%s\" SET state = 2, phase = NULL, status = NULL, "
                "headers = NULL, body = NULL WHERE id = ?1 AND state = 1 AND "
                "fence = ?2 AND nonce = ?3",
      [Q_PURGE] = "DELETE FROM \"%s\" WHERE id IN (SELECT id FROM \"%s\" "
                  "WHERE expires_ns <= ?1 AND NOT (state = 1 AND lease_ns > "
                  "?1) LIMIT ?2)",
  };
  for (int i = 0; i < Q_COUNT; i++) {
    snprintf(sql, sizeof sql, fmt[i], t, t);
    rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->q[i],
                            NULL);
    if (rc != SQLITE_OK) return sq_err(s, d->db, rc, "prepare");
  }
  return REIN_OK;
}

rein_status rein_idem_sqlite_new(const rein_idem_config *c,
                                 const rein_idem_sqlite_config *sc,
                                 rein_idem_store **out) {
  rein_errbuf *err = c ? c->err : NULL;
  rein_idem_sqlite_config def;
  if (!sc) {
    rein_idem_sqlite_config_default(&def);
    sc = &def;
  }
  sqlite3 *given = sc->db;
  bool owns = given && sc->owns_db;
  rein_status st = REIN_OK;
  const char *t = sc->table ? sc->table : "rein_idem";
  if (out) *out = NULL;
  if (!out)
    st = rein__idem_errbuf(err, REIN_EINVAL, "idem.sqlite: out is NULL");
  else if (!given && (!sc->path || !*sc->path))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.sqlite.path: set a database file (or pass "
                           "an open connection in .db)");
  else if (given && sc->path)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.sqlite: set either .path or .db, not both");
  else if (!rein__idem_valid_ident(t))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.sqlite.table: must match "
                           "[A-Za-z_][A-Za-z0-9_]{0,62}, got \"%s\"",
                           t);
  else if (sc->busy_timeout_ms < 0 || sc->busy_timeout_ms > 600000)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.sqlite.busy_timeout_ms: must be in [0, "
                           "600000], got %d",
                           sc->busy_timeout_ms);
  rein_idem_store *s = NULL;
  if (st == REIN_OK) st = rein__idem_store_alloc(c, &sq_vtable, &s);
  sq *d = NULL;
  if (st == REIN_OK) {
    d = rein_calloc(s->alloc, sizeof *d);
    if (!d)
      st = rein__idem_errbuf(err, REIN_ENOMEM, "idem.sqlite: out of memory");
  }
  if (st != REIN_OK) {
    rein__idem_store_dealloc(s);
    if (owns) sqlite3_close_v2(given);
    return st;
  }
  s->impl = d;
  if (given) {
    d->db = given;
    d->owns = owns;
  } else {
    int rc = sqlite3_open_v2(sc->path, &d->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    d->owns = true;
    if (rc != SQLITE_OK) st = sq_err(s, d->db, rc, "open");
  }
  if (st == REIN_OK) st = setup(s, d, t, sc);
  if (st != REIN_OK) {
    rein__idem_errbuf(err, st, "idem.sqlite: %s%s%s", s->errmsg,
                      given ? "" : "; file ", given ? "" : sc->path);
    rein_idem_store_free(s);
    return st;
  }
  *out = s;
  return REIN_OK;
}
