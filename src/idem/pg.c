/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg.c: the PostgreSQL idempotency store (libpq).
 *
 * The claim is ONE statement: INSERT ... ON CONFLICT (id) DO UPDATE ...
 * WHERE <claimable> RETURNING. PostgreSQL locks the conflicting row and
 * re-evaluates the WHERE against its latest committed version, so of N
 * concurrent begins exactly one inserts (or takes over) and the rest see a
 * live lease; no explicit transaction or retry loop over serialization
 * failures is needed. When the upsert returns no row, a SELECT reads what is
 * there (REPLAY, IN_PROGRESS, MISMATCH); if that row changed in between
 * (purged, released) the claim is simply tried again, a bounded number of
 * times. Time is the server's now() in nanoseconds, so application clocks
 * never matter. Every statement with data is prepared once per connection
 * and run with binary parameters and results (no quoting, no injection).
 * principal, operation and phase are stored as bytea (any bytes are fine);
 * the key, printable ASCII by contract, as text for operators' eyes.
 */
#include "idem_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_NS "((extract(epoch from now()) * 1000000000)::int8)"

enum { P_CLAIM, P_SEL, P_CP, P_DONE, P_REL, P_PURGE, P_COUNT };

typedef struct pq {
  PGconn *conn;
  bool owns;
  char names[P_COUNT][96];
} pq;

/* OIDs of the built-in types we bind (stable since PostgreSQL 7). */
#define OID_BYTEA 17u
#define OID_INT8 20u
#define OID_INT2 21u
#define OID_INT4 23u
#define OID_TEXT 25u

static void put64(char b[8], int64_t v) {
  uint64_t u = (uint64_t)v;
  for (int i = 7; i >= 0; i--) {
    b[i] = (char)(u & 0xff);
    u >>= 8;
  }
}

static void put32(char b[4], int32_t v) {
  uint32_t u = (uint32_t)v;
  for (int i = 3; i >= 0; i--) {
    b[i] = (char)(u & 0xff);
    u >>= 8;
  }
}

static int64_t get_int(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
  int n = PQgetlength(r, row, col);
  uint64_t u = 0;
  for (int i = 0; i < n; i++)
    u = (u << 8) | p[i];
  /* sign-extend 2- and 4-byte integers */
  if (n == 2) return (int16_t)u;
  if (n == 4) return (int32_t)u;
  return (int64_t)u;
}

static rein_status pg_err(rein_idem_store *s, PGconn *c, PGresult *r,
                          const char *what) {
  if (!c || PQstatus(c) != CONNECTION_OK)
    return rein__idem_fail(s, REIN_ECLOSED, "pg: connection lost during %s: %s",
                           what, c ? PQerrorMessage(c) : "no connection");
  if (!r)
    return rein__idem_fail(s, REIN_ENOMEM, "pg: no result for %s: %s", what,
                           PQerrorMessage(c));
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  return rein__idem_fail(s, REIN_EBACKEND, "pg: SQLSTATE %s during %s: %s",
                         state ? state : "?????", what,
                         msg ? msg : PQerrorMessage(c));
}

static PGresult *run(pq *d, int which, int n, const char *const *v,
                     const int *len, const int *fmt) {
  return PQexecPrepared(d->conn, d->names[which], n, v, len, fmt, 1);
}

/* ---- begin ------------------------------------------------------------- */

static rein_status pg_begin(rein_idem_store *s, const rein__idem_begin_args *a,
                            rein_idem_result *out) {
  pq *d = s->impl;
  char lease[8], ret[8], nonce[8];
  put64(lease, a->lease_ns);
  put64(ret, a->retention_ns);
  put64(nonce, (int64_t)a->nonce);
  const char *v[8] = {(const char *)a->id, a->principal, a->operation, a->key,
                      (const char *)a->fp, lease,        ret,          nonce};
  int len[8] = {32,
                (int)strlen(a->principal),
                (int)strlen(a->operation),
                (int)strlen(a->key),
                32,
                8,
                8,
                8};
  int fmt[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  for (int attempt = 0; attempt < 16; attempt++) {
    PGresult *r = run(d, P_CLAIM, 8, v, len, fmt);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
      rein_status st = pg_err(s, d->conn, r, "claim");
      PQclear(r);
      return st;
    }
    if (PQntuples(r) == 1) {
      uint64_t fence = (uint64_t)get_int(r, 0, 0);
      bool recovered = get_int(r, 0, 1) != 0;
      const char *ph = PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
      size_t pl = ph ? (size_t)PQgetlength(r, 0, 2) : 0;
      rein__idem_set_new(out, a->id, fence, a->nonce, recovered, ph, pl,
                         get_int(r, 0, 3));
      PQclear(r);
      return REIN_OK;
    }
    PQclear(r);
    r = run(d, P_SEL, 1, v, len, fmt);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
      rein_status st = pg_err(s, d->conn, r, "select");
      PQclear(r);
      return st;
    }
    if (PQntuples(r) != 1) { /* purged in between: claim again */
      PQclear(r);
      continue;
    }
    uint8_t fp[32] = {0};
    if (PQgetlength(r, 0, 0) == 32) memcpy(fp, PQgetvalue(r, 0, 0), 32);
    rein__idem_view view = {fp, (int)get_int(r, 0, 1), get_int(r, 0, 3),
                            get_int(r, 0, 2)};
    int64_t now = get_int(r, 0, 7);
    rein_status st = REIN_OK;
    bool again = false;
    switch (rein__idem_decide(&view, a->fp, now)) {
    case REIN__IDEM_ACT_REPLAY:
      st = rein__idem_set_replay(
          s, out, (int)get_int(r, 0, 4), PQgetvalue(r, 0, 5),
          (size_t)PQgetlength(r, 0, 5), PQgetvalue(r, 0, 6),
          (size_t)PQgetlength(r, 0, 6), view.expires - now);
      break;
    case REIN__IDEM_ACT_BUSY:
      out->outcome = REIN_IDEM_IN_PROGRESS;
      out->retry_after_ns = view.lease_until - now;
      if (out->retry_after_ns < 1) out->retry_after_ns = 1;
      out->expires_in_ns = view.expires > now ? view.expires - now : 0;
      break;
    case REIN__IDEM_ACT_MISMATCH:
      out->outcome = REIN_IDEM_MISMATCH;
      break;
    default: /* became claimable since the upsert: try again */
      again = true;
      break;
    }
    PQclear(r);
    if (!again) return st;
  }
  return rein__idem_fail(s, REIN_EAGAIN,
                         "pg: the record kept changing during begin; retry");
}

/* ---- guarded updates --------------------------------------------------- */

static rein_status guarded(rein_idem_store *s, int which, int n,
                           const char *const *v, const int *len, const int *fmt,
                           const char *what) {
  pq *d = s->impl;
  PGresult *r = run(d, which, n, v, len, fmt);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    rein_status st = pg_err(s, d->conn, r, what);
    PQclear(r);
    return st;
  }
  bool one = strcmp(PQcmdTuples(r), "1") == 0;
  PQclear(r);
  if (!one)
    return rein__idem_fail(s, REIN_ESTALE,
                           "idem: the token no longer holds the lease (taken "
                           "over, completed, released or expired)");
  return REIN_OK;
}

static rein_status pg_checkpoint(rein_idem_store *s, const rein_idem_token *t,
                                 const char *phase, int64_t extend_ns,
                                 int64_t now) {
  (void)now;
  char fence[8], nonce[8], ext[8];
  put64(fence, (int64_t)t->fence);
  put64(nonce, (int64_t)t->nonce);
  put64(ext, extend_ns);
  const char *v[5] = {(const char *)t->id, fence, nonce, phase, ext};
  int len[5] = {32, 8, 8, (int)strlen(phase), 8};
  int fmt[5] = {1, 1, 1, 1, 1};
  return guarded(s, P_CP, 5, v, len, fmt, "checkpoint");
}

static rein_status pg_complete(rein_idem_store *s, const rein_idem_token *t,
                               const rein_idem_response *r, bool keep,
                               int64_t now) {
  (void)now;
  char fence[8], nonce[8], status[4];
  put64(fence, (int64_t)t->fence);
  put64(nonce, (int64_t)t->nonce);
  put32(status, r->status);
  const char *v[6] = {(const char *)t->id,
                      fence,
                      nonce,
                      status,
                      r->headers_len ? r->headers : "",
                      r->body_len ? (const char *)r->body : ""};
  int len[6] = {32, 8, 8, 4, (int)r->headers_len, (int)r->body_len};
  int fmt[6] = {1, 1, 1, 1, 1, 1};
  if (keep) return guarded(s, P_DONE, 6, v, len, fmt, "complete");
  return guarded(s, P_REL, 3, v, len, fmt, "release");
}

static rein_status pg_purge(rein_idem_store *s, size_t max_batch,
                            size_t *purged, int64_t now) {
  (void)now;
  pq *d = s->impl;
  char lim[8];
  put64(lim, (int64_t)max_batch);
  const char *v[1] = {lim};
  int len[1] = {8}, fmt[1] = {1};
  PGresult *r = run(d, P_PURGE, 1, v, len, fmt);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    rein_status st = pg_err(s, d->conn, r, "purge");
    PQclear(r);
    return st;
  }
  *purged = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return REIN_OK;
}

static void pg_destroy(rein_idem_store *s) {
  pq *d = s->impl;
  if (!d) return;
  if (d->owns && d->conn) PQfinish(d->conn);
  rein_free(s->alloc, d);
  s->impl = NULL;
}

static const rein__idem_vtable pg_vtable = {REIN__IDEM_VTABLE_VERSION,
                                            "postgresql",
                                            false,
                                            pg_begin,
                                            pg_checkpoint,
                                            pg_complete,
                                            pg_purge,
                                            pg_destroy};

/* ---- construction ------------------------------------------------------ */

void rein_idem_pg_config_default(rein_idem_pg_config *pc) {
  memset(pc, 0, sizeof *pc);
  pc->table = "rein_idem";
}

#define X                                                                      \
  "(t.expires_ns <= EXCLUDED.created_ns AND NOT (t.state = 1 AND "             \
  "t.lease_ns > EXCLUDED.created_ns))"

static rein_status setup(rein_idem_store *s, pq *d, const char *t) {
  char sql[4096];
  /* DDL carries no data (the table name was validated as an identifier);
   * the advisory lock keeps concurrent first-time creators from racing in
   * the catalog. */
  snprintf(sql, sizeof sql,
           "BEGIN; SELECT pg_advisory_xact_lock(5272011);"
           "CREATE TABLE IF NOT EXISTS \"%s\" (id bytea PRIMARY KEY, "
           "principal bytea NOT NULL, operation bytea NOT NULL, key text NOT "
           "NULL, fp bytea NOT NULL, state int2 NOT NULL, fence int8 NOT "
           "NULL, nonce int8 NOT NULL, created_ns int8 NOT NULL, expires_ns "
           "int8 NOT NULL, lease_ns int8 NOT NULL, recovered int2 NOT NULL "
           "DEFAULT 0, phase bytea, status int4, headers bytea, body bytea);"
           "CREATE INDEX IF NOT EXISTS \"%s_expires\" ON \"%s\" (expires_ns);"
           "COMMIT;",
           t, t, t);
  PGresult *r = PQexec(d->conn, sql);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    rein_status st = pg_err(s, d->conn, r, "CREATE TABLE");
    PQclear(r);
    PQclear(PQexec(d->conn, "ROLLBACK"));
    return st;
  }
  PQclear(r);
  static const char *const fmt[P_COUNT] = {
      [P_CLAIM] =
          "INSERT INTO \"%1$s\" AS t (id, principal, operation, key, fp, "
          "state, fence, nonce, created_ns, expires_ns, lease_ns, recovered, "
          "phase, status, headers, body) VALUES ($1, $2, $3, $4, $5, 1, 1, "
          "$8, " NOW_NS ", " NOW_NS " + $7, " NOW_NS " + $6, 0, NULL, NULL, "
          "NULL, NULL) ON CONFLICT (id) DO UPDATE SET fence = t.fence + 1, "
          "nonce = EXCLUDED.nonce, state = 1, fp = EXCLUDED.fp, lease_ns = "
          "EXCLUDED.lease_ns, recovered = CASE WHEN " X " OR t.state = 2 "
          "THEN 0 ELSE 1 END, phase = CASE WHEN " X " OR t.state = 2 THEN "
          "NULL ELSE t.phase END, created_ns = CASE WHEN " X " THEN "
          "EXCLUDED.created_ns ELSE t.created_ns END, expires_ns = CASE WHEN " X
          " THEN EXCLUDED.expires_ns ELSE t.expires_ns END, principal = "
          "EXCLUDED.principal, operation = EXCLUDED.operation, key = "
          "EXCLUDED.key, status = NULL, headers = NULL, body = NULL WHERE " X
          " OR t.state = 2 OR (t.state = 1 AND t.lease_ns <= "
          "EXCLUDED.created_ns AND t.fp = EXCLUDED.fp) RETURNING fence, "
          "recovered, phase, expires_ns - " NOW_NS,
      [P_SEL] = "SELECT fp, state, lease_ns, expires_ns, status, headers, "
                "body, " NOW_NS " FROM \"%1$s\" WHERE id = $1",
      [P_CP] = "UPDATE \"%1$s\" SET phase = $4, lease_ns = CASE WHEN $5 > 0 "
               "THEN " NOW_NS " + $5 ELSE lease_ns END WHERE id = $1 AND "
               "state = 1 AND fence = $2 AND nonce = $3",
      [P_DONE] = "UPDATE \"%1$s\" SET state = 3, status = $4, headers = $5, "
                 "body = $6 WHERE id = $1 AND state = 1 AND fence = $2 AND "
                 "nonce = $3",
      [P_REL] = "UPDATE \"%1$s\" SET state = 2, phase = NULL WHERE id = $1 "
                "AND state = 1 AND fence = $2 AND nonce = $3",
      [P_PURGE] = "DELETE FROM \"%1$s\" WHERE id IN (SELECT id FROM \"%1$s\" "
                  "WHERE expires_ns <= " NOW_NS " AND NOT (state = 1 AND "
                  "lease_ns > " NOW_NS ") ORDER BY expires_ns LIMIT $1 FOR "
                  "UPDATE SKIP LOCKED)",
  };
  static const Oid types[P_COUNT][8] = {
      [P_CLAIM] = {OID_BYTEA, OID_BYTEA, OID_BYTEA, OID_TEXT, OID_BYTEA,
                   OID_INT8, OID_INT8, OID_INT8},
      [P_SEL] = {OID_BYTEA},
      [P_CP] = {OID_BYTEA, OID_INT8, OID_INT8, OID_BYTEA, OID_INT8},
      [P_DONE] = {OID_BYTEA, OID_INT8, OID_INT8, OID_INT4, OID_BYTEA,
                  OID_BYTEA},
      [P_REL] = {OID_BYTEA, OID_INT8, OID_INT8},
      [P_PURGE] = {OID_INT8},
  };
  static const int nparams[P_COUNT] = {8, 1, 5, 6, 3, 1};
  static const char *const suffix[P_COUNT] = {"claim", "sel", "cp",
                                              "done",  "rel", "purge"};
  for (int i = 0; i < P_COUNT; i++) {
    snprintf(d->names[i], sizeof d->names[i], "rein_idem_%s_%s", t, suffix[i]);
    snprintf(sql, sizeof sql, fmt[i], t);
    r = PQprepare(d->conn, d->names[i], sql, nparams[i], types[i]);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
      const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
      /* 42P05: already prepared on this connection by another store with
       * the same table (same text): fine. */
      if (!(state && strcmp(state, "42P05") == 0)) {
        rein_status st = pg_err(s, d->conn, r, "prepare");
        PQclear(r);
        return st;
      }
    }
    PQclear(r);
  }
  return REIN_OK;
}
#undef X

static void quiet_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

rein_status rein_idem_pg_new(const rein_idem_config *c,
                             const rein_idem_pg_config *pc,
                             rein_idem_store **out) {
  rein_errbuf *err = c ? c->err : NULL;
  rein_idem_pg_config def;
  if (!pc) {
    rein_idem_pg_config_default(&def);
    pc = &def;
  }
  PGconn *given = (PGconn *)pc->conn;
  bool owns = given && pc->owns_conn;
  const char *t = pc->table ? pc->table : "rein_idem";
  rein_status st = REIN_OK;
  if (out) *out = NULL;
  if (!out)
    st = rein__idem_errbuf(err, REIN_EINVAL, "idem.pg: out is NULL");
  else if (!given && !pc->conninfo)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.pg.conninfo: set a libpq connection string "
                           "(or pass an open connection in .conn)");
  else if (given && pc->conninfo)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.pg: set either .conninfo or .conn, not both");
  else if (!rein__idem_valid_ident(t) || strlen(t) > 40)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.pg.table: must match "
                           "[A-Za-z_][A-Za-z0-9_]{0,39}, got \"%s\"",
                           t);
  rein_idem_store *s = NULL;
  if (st == REIN_OK) st = rein__idem_store_alloc(c, &pg_vtable, &s);
  pq *d = NULL;
  if (st == REIN_OK) {
    d = rein_calloc(s->alloc, sizeof *d);
    if (!d) st = rein__idem_errbuf(err, REIN_ENOMEM, "idem.pg: out of memory");
  }
  if (st != REIN_OK) {
    rein__idem_store_dealloc(s);
    if (owns) PQfinish(given);
    return st;
  }
  s->impl = d;
  if (given) {
    d->conn = given;
    d->owns = owns;
  } else {
    d->conn = PQconnectdb(pc->conninfo);
    d->owns = true;
    /* Our own connection: keep the server's NOTICEs (e.g. "relation
     * already exists, skipping" from CREATE TABLE IF NOT EXISTS) off the
     * application's stderr. A connection the caller gave keeps its own. */
    if (d->conn) PQsetNoticeProcessor(d->conn, quiet_notice, NULL);
  }
  if (!d->conn)
    st = rein__idem_fail(s, REIN_ENOMEM, "pg: out of memory connecting");
  else if (PQstatus(d->conn) != CONNECTION_OK)
    st = rein__idem_fail(s, REIN_ECLOSED, "pg: cannot connect: %s",
                         PQerrorMessage(d->conn));
  if (st == REIN_OK) st = setup(s, d, t);
  if (st != REIN_OK) {
    rein__idem_errbuf(err, st, "idem.pg: %s", s->errmsg);
    rein_idem_store_free(s);
    return st;
  }
  *out = s;
  return REIN_OK;
}
