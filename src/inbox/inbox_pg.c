/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inbox_pg.c: the inbox's PostgreSQL backend (libpq).
 *
 * One connection; every statement is prepared once at open. The dedup insert
 * is INSERT ... ON CONFLICT DO NOTHING RETURNING 1: a returned row means this
 * transaction inserted the key; none means another transaction committed it
 * first (a concurrent one blocks on the unique index until that one commits
 * or rolls back, so two consumers cannot both see "new"). Outbox intents use
 * ON CONFLICT DO NOTHING too, because in PostgreSQL a failed statement
 * aborts the whole transaction and the handler's effect with it.
 *
 * COMMIT of a transaction that already failed answers "ROLLBACK" without an
 * error; commit() treats that as the failure it is. Leasing intents is one
 * UPDATE over a SELECT ... FOR UPDATE SKIP LOCKED, so concurrent relays take
 * disjoint rows without waiting. The schema is created under an advisory
 * transaction lock, since concurrent CREATE TABLE IF NOT EXISTS can race.
 *
 * Push. The outbox insert also calls pg_notify(channel, '') for the row it
 * inserted (one statement, no extra round trip; not with outbox_notify
 * false), so a committed intent
 * wakes relays blocked in rein_outbox_wait and a rolled-back one does not.
 * The relay listens on a second, dedicated connection: notifications reach
 * a session only between its transactions, and the inbox connection is
 * busy with the relay's and the handlers' statements. The wait is a small
 * decide-then-block loop: drain what libpq has, decide (return, connect,
 * LISTEN, poll the socket, or sleep) from that state and one clock
 * reading with rein__outbox_wait_decide (outbox.c, tested on its own),
 * then block once.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbox_internal.h"

enum {
  P_DEDUP,
  P_OUT_ADD,
  P_OUT_LEASE,
  P_OUT_END,
  P_PURGE_IN,
  P_PURGE_OUT,
  P_COUNTS,
  P_COUNT_
};

static const char *const NAMES[P_COUNT_] = {
    "rein_ib_dedup",   "rein_ib_out_add",  "rein_ib_out_lease",
    "rein_ib_out_end", "rein_ib_purge_in", "rein_ib_purge_out",
    "rein_ib_counts"};

static const char *const SQL[P_COUNT_] = {
    [P_DEDUP] = "INSERT INTO rein_inbox(key, processed_ms) VALUES($1, $2) "
                "ON CONFLICT DO NOTHING RETURNING 1",
    [P_OUT_ADD] = "WITH ins AS (INSERT INTO rein_outbox(msg_key, effect, "
                  "idem_key, dest, body, created_ms) VALUES($1, $2, $3, $4, "
                  "$5, $6) ON CONFLICT DO NOTHING RETURNING id) "
                  "SELECT id, pg_notify($7, '') FROM ins",
    [P_OUT_LEASE] = "UPDATE rein_outbox SET lease_until_ms = $1 WHERE id IN "
                    "(SELECT id FROM rein_outbox WHERE state = 0 AND "
                    "lease_until_ms <= $2 ORDER BY id LIMIT $3 FOR UPDATE "
                    "SKIP LOCKED) RETURNING id, msg_key, effect, idem_key, "
                    "dest, body, attempts",
    [P_OUT_END] = "UPDATE rein_outbox SET state = $2::smallint, attempts = "
                  "attempts + $3::int, last_error = $4, done_ms = CASE WHEN "
                  "$2::smallint <> 0 THEN $5::bigint END, lease_until_ms = "
                  "CASE WHEN $2::smallint = 0 THEN $5::bigint + 1000 ELSE "
                  "lease_until_ms END WHERE id = $1",
    [P_PURGE_IN] = "DELETE FROM rein_inbox WHERE key IN (SELECT key FROM "
                   "rein_inbox WHERE processed_ms < $1 LIMIT $2)",
    [P_PURGE_OUT] = "DELETE FROM rein_outbox WHERE id IN (SELECT id FROM "
                    "rein_outbox WHERE state = 1 AND done_ms < $1 LIMIT $2)",
    [P_COUNTS] = "SELECT (SELECT count(*) FROM rein_inbox), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 0), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 1), "
                 "(SELECT count(*) FROM rein_outbox WHERE state = 2)",
};

static const char SCHEMA[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7226617282);"
    "CREATE TABLE IF NOT EXISTS rein_inbox("
    " key text PRIMARY KEY, processed_ms bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS rein_inbox_processed"
    " ON rein_inbox(processed_ms);"
    "CREATE TABLE IF NOT EXISTS rein_outbox("
    " id bigserial PRIMARY KEY,"
    " msg_key text NOT NULL, effect text NOT NULL, idem_key text NOT NULL,"
    " dest text NOT NULL, body bytea NOT NULL, created_ms bigint NOT NULL,"
    " lease_until_ms bigint NOT NULL DEFAULT 0,"
    " attempts integer NOT NULL DEFAULT 0,"
    " state smallint NOT NULL DEFAULT 0,"
    " done_ms bigint, last_error text,"
    " UNIQUE(msg_key, effect));"
    "CREATE INDEX IF NOT EXISTS rein_outbox_pending"
    " ON rein_outbox(state, id);"
    "COMMIT;";

/* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
#define CHANNEL_MAX 63

typedef struct pg {
  rein__inbox_db base;
  PGconn *conn;
  bool owned;
  char channel[CHANNEL_MAX + 1];
  PQconninfoOption *opts; /* the inbox connection's parameters */
  PGconn *lconn;          /* the listener; NULL until the first wait */
  bool listening;
  bool notify; /* cfg.outbox_notify */
} pg;

static rein_status fail_res(pg *p, const char *op, PGresult *res) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = res ? PQresultErrorMessage(res) : "";
  if (!msg || !*msg) msg = PQerrorMessage(p->conn);
  char clean[400];
  snprintf(clean, sizeof clean, "%s", msg ? msg : "");
  size_t n = strlen(clean);
  while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
    clean[--n] = 0;
  rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                     "postgres: %s: %s%s%s", op, clean,
                     state ? " SQLSTATE " : "", state ? state : "");
  /* connection exceptions (08xxx) and operator intervention (57P01..:
   * the server is shutting the session down) mean the connection is gone
   * even while libpq has not noticed yet */
  if (PQstatus(p->conn) != CONNECTION_OK ||
      (state && (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3))))
    return REIN_ECLOSED;
  return REIN_EBACKEND;
}

/* Runs a command with no rows; REIN_OK when it succeeded. */
static rein_status cmd(pg *p, const char *sql) {
  PGresult *r = PQexec(p->conn, sql);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) st = fail_res(p, sql, r);
  PQclear(r);
  return st;
}

/* The outbox insert with outbox_notify false: no NOTIFY. */
static const char OUT_ADD_QUIET[] =
    "INSERT INTO rein_outbox(msg_key, effect, idem_key, dest, body, "
    "created_ms) VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING "
    "RETURNING id";

/* Prepares every statement; on failure deallocates the ones made. */
static rein_status prepare_all(pg *p) {
  for (int i = 0; i < P_COUNT_; i++) {
    const char *text = i == P_OUT_ADD && !p->notify ? OUT_ADD_QUIET : SQL[i];
    PGresult *r = PQprepare(p->conn, NAMES[i], text, 0, NULL);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
      rein_status st = fail_res(p, "prepare", r);
      PQclear(r);
      for (int j = 0; j < i; j++) {
        char sql[64];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", NAMES[j]);
        PQclear(PQexec(p->conn, sql));
      }
      return st;
    }
    PQclear(r);
  }
  return REIN_OK;
}

/*
 * Before work that starts outside a transaction: an owned connection that
 * was lost (server restart, network, pg_terminate_backend) is reset and
 * its statements prepared again, so a consumer recovers by itself after
 * one failed call. A borrowed connection is its owner's to reset.
 */
static rein_status revive(pg *p) {
  if (PQstatus(p->conn) == CONNECTION_OK) return REIN_OK;
  if (!p->owned) return fail_res(p, "connection lost (borrowed)", NULL);
  PQreset(p->conn);
  if (PQstatus(p->conn) != CONNECTION_OK) return fail_res(p, "reconnect", NULL);
  return prepare_all(p);
}

static rein_status pg_begin(rein__inbox_db *d) {
  rein_status st = revive((pg *)d);
  return st == REIN_OK ? cmd((pg *)d, "BEGIN") : st;
}

static rein_status pg_commit(rein__inbox_db *d) {
  pg *p = (pg *)d;
  PGresult *r = PQexec(p->conn, "COMMIT");
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    st = fail_res(p, "COMMIT", r);
  } else if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
    rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                       "postgres: COMMIT answered %s: the transaction had "
                       "failed and was rolled back",
                       PQcmdStatus(r));
    st = REIN_EBACKEND;
  }
  PQclear(r);
  if (st != REIN_OK && PQtransactionStatus(p->conn) != PQTRANS_IDLE)
    cmd(p, "ROLLBACK");
  return st;
}

static void pg_rollback(rein__inbox_db *d) {
  pg *p = (pg *)d;
  PGTransactionStatusType ts = PQtransactionStatus(p->conn);
  if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
    PGresult *r = PQexec(p->conn, "ROLLBACK");
    PQclear(r);
  }
}

static PGresult *run(pg *p, int which, int n, const char *const *vals,
                     const int *lens, const int *fmts) {
  return PQexecPrepared(p->conn, NAMES[which], n, vals, lens, fmts, 0);
}

static rein_status pg_dedup(rein__inbox_db *d, const char *key, int64_t now_ms,
                            bool *inserted) {
  pg *p = (pg *)d;
  char ms[24];
  snprintf(ms, sizeof ms, "%lld", (long long)now_ms);
  const char *v[2] = {key, ms};
  PGresult *r = run(p, P_DEDUP, 2, v, NULL, NULL);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
    st = fail_res(p, "insert into rein_inbox", r);
  else
    *inserted = PQntuples(r) == 1;
  PQclear(r);
  return st;
}

/*
 * BEGIN and the dedup insert in one round trip (libpq pipeline mode), so
 * the inbox costs no extra round trip over a plain BEGIN; the handler's
 * statements and COMMIT follow as usual. Any failure rolls back.
 */
static rein_status pg_begin_dedup(rein__inbox_db *d, const char *key,
                                  int64_t now_ms, bool *inserted) {
  pg *p = (pg *)d;
  rein_status st0 = revive(p);
  if (st0 != REIN_OK) return st0;
  PGconn *c = p->conn;
  if (PQenterPipelineMode(c) != 1) {
    rein_status st = pg_begin(d);
    if (st == REIN_OK) st = pg_dedup(d, key, now_ms, inserted);
    if (st != REIN_OK) pg_rollback(d);
    return st;
  }
  char ms[24];
  snprintf(ms, sizeof ms, "%lld", (long long)now_ms);
  const char *v[2] = {key, ms};
  rein_status st = REIN_OK;
  if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) ||
      !PQsendQueryPrepared(c, NAMES[P_DEDUP], 2, v, NULL, NULL, 0) ||
      !PQpipelineSync(c))
    st = fail_res(p, "send BEGIN + insert into rein_inbox", NULL);
  /* results: BEGIN, NULL, INSERT, NULL, SYNC */
  int q = 0;
  bool synced = false;
  for (int guard = 0; guard < 16 && !synced; guard++) {
    PGresult *r = PQgetResult(c);
    if (!r) {
      if (PQstatus(c) != CONNECTION_OK) break;
      q++;
      continue;
    }
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_PIPELINE_SYNC) {
      synced = true;
    } else if (q == 0) {
      if (s != PGRES_COMMAND_OK && st == REIN_OK) st = fail_res(p, "BEGIN", r);
    } else if (s == PGRES_TUPLES_OK) {
      *inserted = PQntuples(r) == 1;
    } else if (st == REIN_OK) {
      st = fail_res(p, "insert into rein_inbox", r);
    }
    PQclear(r);
  }
  if (!synced && st == REIN_OK) st = fail_res(p, "pipeline ended early", NULL);
  PQexitPipelineMode(c);
  if (st != REIN_OK && PQstatus(c) != CONNECTION_OK) st = REIN_ECLOSED;
  if (st != REIN_OK) pg_rollback(d);
  return st;
}

static rein_status pg_outbox_add(rein__inbox_db *d, const char *msg_key,
                                 const char *effect, const char *idem_key,
                                 const char *dest, const void *body, size_t len,
                                 int64_t now_ms) {
  pg *p = (pg *)d;
  char ms[24];
  snprintf(ms, sizeof ms, "%lld", (long long)now_ms);
  const char *v[7] = {
      msg_key, effect,    idem_key, dest, len ? (const char *)body : "",
      ms,      p->channel};
  int lens[7] = {0, 0, 0, 0, (int)len, 0, 0};
  int fmts[7] = {0, 0, 0, 0, 1, 0, 0};
  PGresult *r = run(p, P_OUT_ADD, p->notify ? 7 : 6, v, lens, fmts);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
    st = fail_res(p, "insert into rein_outbox", r);
  } else if (PQntuples(r) == 0) {
    rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                       "outbox: an intent for effect '%s' of message '%s' "
                       "already exists",
                       effect, msg_key);
    st = REIN_ECONFLICT;
  }
  PQclear(r);
  return st;
}

static rein_status pg_outbox_lease(rein__inbox_db *d, int64_t now_ms,
                                   int64_t until_ms, size_t max,
                                   rein__outbox_row **rows, size_t *n) {
  pg *p = (pg *)d;
  *n = 0;
  rein_status st0 = revive(p);
  if (st0 != REIN_OK) return st0;
  char a[24], b[24], c[24];
  snprintf(a, sizeof a, "%lld", (long long)until_ms);
  snprintf(b, sizeof b, "%lld", (long long)now_ms);
  snprintf(c, sizeof c, "%zu", max);
  const char *v[3] = {a, b, c};
  PGresult *r = run(p, P_OUT_LEASE, 3, v, NULL, NULL);
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
    rein_status st = fail_res(p, "lease outbox", r);
    PQclear(r);
    return st;
  }
  rein_status st = REIN_OK;
  int nt = PQntuples(r);
  for (int i = 0; i < nt && (size_t)i < max; i++) {
    size_t blen = 0;
    unsigned char *body =
        PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 5), &blen);
    if (!body) {
      st = REIN_ENOMEM;
      break;
    }
    rein__outbox_row *row = rein__outbox_row_new(
        p->base.alloc, strtoll(PQgetvalue(r, i, 0), NULL, 10),
        PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
        PQgetvalue(r, i, 4), body, blen,
        (uint32_t)strtoul(PQgetvalue(r, i, 6), NULL, 10));
    PQfreemem(body);
    if (!row) {
      st = REIN_ENOMEM;
      break;
    }
    rows[(*n)++] = row;
  }
  PQclear(r);
  if (st != REIN_OK) {
    for (size_t i = 0; i < *n; i++)
      rein_free(p->base.alloc, rows[i]);
    *n = 0;
  }
  return st;
}

static rein_status pg_outbox_end(rein__inbox_db *d, int64_t id,
                                 rein__outbox_end how, uint32_t attempts,
                                 const char *error, int64_t now_ms) {
  pg *p = (pg *)d;
  char a[24], b[8], c[16], e[24];
  snprintf(a, sizeof a, "%lld", (long long)id);
  snprintf(b, sizeof b, "%d", (int)how);
  snprintf(c, sizeof c, "%u", attempts);
  snprintf(e, sizeof e, "%lld", (long long)now_ms);
  const char *v[5] = {a, b, c, error, e};
  PGresult *r = run(p, P_OUT_END, 5, v, NULL, NULL);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
    st = fail_res(p, "update rein_outbox", r);
  PQclear(r);
  return st;
}

static rein_status purge_one(pg *p, int which, const char *older,
                             const char *batch, size_t *n) {
  const char *v[2] = {older, batch};
  PGresult *r = run(p, which, 2, v, NULL, NULL);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
    st = fail_res(p, "purge", r);
  else
    *n = (size_t)strtoull(PQcmdTuples(r), NULL, 10);
  PQclear(r);
  return st;
}

static rein_status pg_purge(rein__inbox_db *d, int64_t older_than_ms,
                            size_t batch, size_t *n_in, size_t *n_out) {
  pg *p = (pg *)d;
  *n_in = *n_out = 0;
  rein_status st0 = revive(p);
  if (st0 != REIN_OK) return st0;
  char a[24], b[24];
  snprintf(a, sizeof a, "%lld", (long long)older_than_ms);
  snprintf(b, sizeof b, "%zu", batch);
  rein_status st = purge_one(p, P_PURGE_IN, a, b, n_in);
  if (st == REIN_OK) st = purge_one(p, P_PURGE_OUT, a, b, n_out);
  return st;
}

static rein_status pg_counts(rein__inbox_db *d, rein_inbox_counts *out) {
  pg *p = (pg *)d;
  rein_status st0 = revive(p);
  if (st0 != REIN_OK) return st0;
  PGresult *r = run(p, P_COUNTS, 0, NULL, NULL, NULL);
  rein_status st = REIN_OK;
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    st = fail_res(p, "count", r);
  } else {
    out->inbox_rows = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->outbox_pending = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    out->outbox_delivered = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    out->outbox_failed = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
  }
  PQclear(r);
  return st;
}

/* ==== push: LISTEN/NOTIFY ================================================= */

static void quiet_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

static void lost_listener(pg *p, const char *op) {
  rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                     "postgres: outbox listener: %s: %s", op,
                     p->lconn ? PQerrorMessage(p->lconn) : "no connection");
  size_t n = strlen(p->base.errmsg);
  while (n && (p->base.errmsg[n - 1] == '\n' || p->base.errmsg[n - 1] == ' '))
    p->base.errmsg[--n] = 0;
  if (p->lconn) PQfinish(p->lconn);
  p->lconn = NULL;
  p->listening = false;
}

/* Milliseconds for poll(): rounded up, so that a poll that times out
 * leaves the deadline behind and the next decision returns. */
static int poll_ms(int64_t ns) {
  if (ns <= 0) return 0;
  int64_t ms = (ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Opens the listener without blocking past `end` on `clk`: PQconnectStart
 * and PQconnectPoll, each wait a poll() on the socket. */
static bool listener_connect(pg *p, const rein_clock *clk, int64_t end) {
  const char *kw[64], *val[64];
  int n = 0;
  for (PQconninfoOption *o = p->opts; o && o->keyword && n < 63; o++)
    if (o->val && *o->val) {
      kw[n] = o->keyword;
      val[n++] = o->val;
    }
  kw[n] = val[n] = NULL;
  p->lconn = PQconnectStartParams(kw, val, 0);
  if (!p->lconn) {
    rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                       "postgres: outbox listener: out of memory");
    return false;
  }
  PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
  for (int guard = 0; guard < 1000; guard++) {
    if (PQstatus(p->lconn) == CONNECTION_BAD) break;
    if (ps == PGRES_POLLING_OK) {
      PQsetNoticeProcessor(p->lconn, quiet_notice, NULL);
      return true;
    }
    if (ps == PGRES_POLLING_FAILED) break;
    int64_t left = end - clk->now_ns(clk->ctx);
    if (left <= 0) {
      rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                         "postgres: outbox listener: connect: no answer "
                         "within the wait");
      PQfinish(p->lconn);
      p->lconn = NULL;
      return false;
    }
    struct pollfd pf = {PQsocket(p->lconn),
                        ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
    if (pf.fd < 0) break;
    if (poll(&pf, 1, poll_ms(left)) > 0) ps = PQconnectPoll(p->lconn);
  }
  lost_listener(p, "connect");
  return false;
}

static bool listener_listen(pg *p) {
  char *id = PQescapeIdentifier(p->lconn, p->channel, strlen(p->channel));
  if (!id) {
    lost_listener(p, "quote channel");
    return false;
  }
  char sql[CHANNEL_MAX * 2 + 16];
  snprintf(sql, sizeof sql, "LISTEN %s", id);
  PQfreemem(id);
  PGresult *r = PQexec(p->lconn, sql);
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  if (!ok) {
    lost_listener(p, "LISTEN");
    return false;
  }
  p->listening = true;
  return true;
}

/* Reads what the server sent and counts (and frees) the notifications;
 * a dead connection is dropped. */
static int listener_drain(pg *p) {
  if (!p->lconn) return 0;
  if (!PQconsumeInput(p->lconn) || PQstatus(p->lconn) != CONNECTION_OK) {
    lost_listener(p, "connection lost");
    return 0;
  }
  int n = 0;
  for (PGnotify *nt; (nt = PQnotifies(p->lconn)) != NULL; n++)
    PQfreemem(nt);
  return n;
}

static rein_status pg_outbox_wait(rein__inbox_db *d, int64_t max_wait_ns,
                                  const rein_clock *clk,
                                  rein_outbox_wake *why) {
  pg *p = (pg *)d;
  int64_t end = clk->now_ns(clk->ctx) + max_wait_ns;
  rein__outbox_wait_state s = {0};
  /* 2 steps per poll wake-up at most; a wake-up that brings no
   * notification (a parameter-status message) only loops again */
  for (int guard = 0; guard < 10000; guard++) {
    s.notified += listener_drain(p);
    s.have_conn = p->lconn != NULL;
    s.listening = p->listening;
    s.left_ns = end - clk->now_ns(clk->ctx);
    int64_t block = 0;
    switch (rein__outbox_wait_decide(&s, &block, why)) {
    case REIN__WAIT_RETURN:
      return s.tried && !s.have_conn ? REIN_ECLOSED : REIN_OK;
    case REIN__WAIT_CONNECT:
      if (!listener_connect(p, clk, end)) s.tried = true;
      break;
    case REIN__WAIT_LISTEN:
      if (listener_listen(p))
        s.listened = true;
      else
        s.tried = true; /* dropped; reconnect on the next call */
      break;
    case REIN__WAIT_POLL: {
      struct pollfd pf = {PQsocket(p->lconn), POLLIN, 0};
      if (poll(&pf, 1, poll_ms(block)) < 0 && errno != EINTR)
        lost_listener(p, "poll");
      break;
    }
    case REIN__WAIT_SLEEP:
      poll(NULL, 0, poll_ms(block));
      break;
    }
  }
  *why = REIN_OUTBOX_WAKE_TIMEOUT;
  return REIN_OK;
}

static const char *pg_outbox_channel(const rein__inbox_db *d) {
  return ((const pg *)d)->channel;
}

/* "rein_outbox.<schema of rein_outbox>", cut to CHANNEL_MAX bytes at a
 * UTF-8 character boundary so that LISTEN (an identifier) and pg_notify
 * (text) see the same name. */
static rein_status derive_channel(pg *p) {
  PGresult *r = PQexec(p->conn, "SELECT n.nspname FROM pg_class c JOIN "
                                "pg_namespace n ON n.oid = c.relnamespace "
                                "WHERE c.oid = 'rein_outbox'::regclass");
  if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
    rein_status st = fail_res(p, "find the schema of rein_outbox", r);
    PQclear(r);
    return st;
  }
  snprintf(p->channel, sizeof p->channel, "rein_outbox.%s",
           PQgetvalue(r, 0, 0));
  PQclear(r);
  size_t n = strlen(p->channel);
  if (n == CHANNEL_MAX)
    while (n && ((unsigned char)p->channel[n] & 0xC0) == 0x80)
      p->channel[--n] = 0;
  return REIN_OK;
}

static void pg_close(rein__inbox_db *d) {
  if (!d) return;
  pg *p = (pg *)d;
  if (p->lconn) PQfinish(p->lconn);
  if (p->opts) PQconninfoFree(p->opts);
  if (p->conn) {
    if (p->owned) {
      PQfinish(p->conn);
    } else {
      /* a borrowed connection keeps working for its owner: drop our
       * prepared statements */
      for (int i = 0; i < P_COUNT_; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", NAMES[i]);
        PQclear(PQexec(p->conn, sql));
      }
    }
  }
  rein_free(p->base.alloc, p);
}

static const rein__inbox_db_vt PG_VT = {REIN__INBOX_DB_VT_VERSION,
                                        "postgres",
                                        pg_begin,
                                        pg_commit,
                                        pg_rollback,
                                        pg_dedup,
                                        pg_outbox_add,
                                        pg_outbox_lease,
                                        pg_outbox_end,
                                        pg_purge,
                                        pg_counts,
                                        pg_close,
                                        pg_begin_dedup,
                                        pg_outbox_wait,
                                        pg_outbox_channel};

static struct pg_conn *handle(const rein__inbox_db *d) {
  return d && d->vt == &PG_VT ? ((const pg *)d)->conn : NULL;
}

struct pg_conn *rein_inbox_pg(const rein_inbox *ib) {
  return handle(rein__inbox_db_of(ib));
}

struct pg_conn *rein_inbox_tx_pg(const rein_inbox_tx *tx) {
  return handle(rein__inbox_db_of_tx(tx));
}

static rein_status pg_open(const rein_inbox_config *c, rein__inbox_db **out,
                           rein_errbuf *err) {
  pg *p = rein_calloc(c->alloc, sizeof *p);
  if (!p) return REIN_ENOMEM;
  p->base.vt = &PG_VT;
  p->base.alloc = c->alloc;
  p->notify = c->outbox_notify;
  rein_status st = REIN_OK;
  if (c->pg_conn) {
    p->conn = c->pg_conn;
  } else {
    p->conn = PQconnectdb(c->pg_conninfo);
    p->owned = true;
    if (!p->conn) {
      rein_free(c->alloc, p);
      return REIN_ENOMEM;
    }
    if (PQstatus(p->conn) != CONNECTION_OK) {
      st = fail_res(p, "connect", NULL);
      goto bad;
    }
    PQsetNoticeProcessor(p->conn, quiet_notice, NULL);
  }
  PGresult *r = PQexec(p->conn, SCHEMA);
  if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
    st = fail_res(p, "create tables", r);
    PQclear(r);
    pg_rollback(&p->base);
    goto bad;
  }
  PQclear(r);
  st = derive_channel(p);
  if (st != REIN_OK) goto bad;
  p->opts = PQconninfo(p->conn);
  if (!p->opts) {
    rein__inbox_seterr(p->base.errmsg, sizeof p->base.errmsg,
                       "postgres: PQconninfo: out of memory");
    st = REIN_ENOMEM;
    goto bad;
  }
  st = prepare_all(p);
  if (st != REIN_OK) goto bad;
  *out = &p->base;
  return REIN_OK;
bad:
  if (err)
    snprintf(err->msg, sizeof err->msg, "inbox.pg_conninfo: %.450s",
             p->base.errmsg);
  if (p->owned) PQfinish(p->conn);
  if (p->opts) PQconninfoFree(p->opts);
  rein_free(c->alloc, p);
  return st == REIN_ECLOSED ? REIN_ECLOSED : REIN_EBACKEND;
}

rein_status rein_inbox_pg_new(const rein_inbox_config *c, rein_inbox **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  if (!c->pg_conn && (!c->pg_conninfo || !*c->pg_conninfo))
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "inbox.pg_conninfo: required (or pg_conn) for the "
                           "PostgreSQL inbox, e.g. \"host=127.0.0.1 "
                           "port=5432 dbname=app\"");
  return rein__inbox_new(c, pg_open, out);
}
