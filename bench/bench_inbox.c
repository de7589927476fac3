/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_inbox.c: messages per second through a Redis Streams consumer with
 * the inbox (exactly-once effects) against the same consumer without it
 * (dedup = false: the at-least-once baseline), on SQLite and PostgreSQL.
 *
 *   bench_inbox [--messages N] [--runs R] [--db sqlite|pg|both] [--batch B]
 *
 * Each run publishes N messages to a fresh stream, then one consumer polls
 * them (B per read) until all are processed; the effect is one INSERT into
 * a local ledger table in the message's transaction, the ack follows the
 * commit. Both modes do exactly that; the inbox adds the dedup row (INSERT
 * ... ON CONFLICT DO NOTHING) to each transaction. Modes alternate run by
 * run so drift on a shared machine hits both; the median of R runs is
 * reported with the ratio inbox / baseline. Needs REIN_REDIS_HOST/PORT and
 * (for pg) REIN_PG_DSN, e.g. from scripts/services.sh. Bounded: N <= 10^6,
 * each run stops after 120 s.
 */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rein/inbox.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static rein_status effect(void *ctx, rein_inbox_tx *tx,
                          const rein_broker_msg *m, char *err, size_t cap) {
  sqlite3 *db = rein_inbox_tx_sqlite(tx);
  if (db) {
    sqlite3_stmt *st = *(sqlite3_stmt **)ctx;
    sqlite3_bind_text(st, 1, m->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)m->body_len);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      snprintf(err, cap, "%s", sqlite3_errmsg(db));
      return REIN_EBACKEND;
    }
    return REIN_OK;
  }
  PGconn *pg = rein_inbox_tx_pg(tx);
  const char *v[1] = {m->key};
  PGresult *r = PQexecPrepared(pg, "bench_effect", 1, v, NULL, NULL, 0);
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) snprintf(err, cap, "%s", PQerrorMessage(pg));
  PQclear(r);
  return ok ? REIN_OK : REIN_EBACKEND;
}

static redisContext *g_rc;
static const char *g_host;
static int g_port;
static char g_dsn[768]; /* REIN_PG_DSN with search_path = g_schema */
static char g_schema[64];

static bool pg_exec(const char *dsn, const char *sql) {
  PGconn *c = PQconnectdb(dsn);
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PGresult *r = PQexec(c, sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "bench_inbox: %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  return ok;
}

static int publish(const char *stream, long n) {
  long pending = 0;
  for (long i = 0; i < n; i++) {
    redisAppendCommand(g_rc,
                       "XADD %s * key pay-%ld body "
                       "{\"amount_cents\":%ld}",
                       stream, i, 100 + i % 900);
    if (++pending == 1000 || i + 1 == n) {
      for (; pending; pending--) {
        void *r;
        if (redisGetReply(g_rc, &r) != REDIS_OK) return -1;
        freeReplyObject(r);
      }
    }
  }
  return 0;
}

/* One run: messages/s, or < 0 on error. */
static double run(bool pg, bool dedup, long n, int batch, int serial) {
  char stream[96], path[128];
  snprintf(stream, sizeof stream, "bench-inbox-%d-%d", (int)getpid(), serial);
  snprintf(path, sizeof path, "/tmp/bench-inbox-%d-%d.db", (int)getpid(),
           serial);
  if (publish(stream, n) != 0) return -1;
  rein_errbuf e = {{0}};
  rein_broker_redis_config bc;
  rein_broker_redis_config_default(&bc);
  bc.host = g_host;
  bc.port = g_port;
  bc.stream = stream;
  bc.group = "bench";
  bc.consumer = "c1";
  bc.err = &e;
  rein_broker *b = NULL;
  if (rein_broker_redis_new(&bc, &b) != REIN_OK) {
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
    return -1;
  }
  rein_inbox_config ic;
  rein_inbox_config_default(&ic);
  if (pg) {
    ic.pg_conninfo = g_dsn;
  } else {
    ic.sqlite_path = path;
  }
  ic.broker = b;
  ic.dedup = dedup;
  ic.handler = effect;
  sqlite3_stmt *st = NULL; /* prepared below, once the connection exists */
  ic.handler_ctx = &st;
  ic.err = &e;
  rein_inbox *ib = NULL;
  if ((pg ? rein_inbox_pg_new(&ic, &ib) : rein_inbox_sqlite_new(&ic, &ib)) !=
      REIN_OK) {
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
    rein_broker_free(b);
    return -1;
  }
  double rate = -1;
  if (!pg) {
    sqlite3 *db = rein_inbox_sqlite(ib);
    if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS ledger(k TEXT, n INT)",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO ledger VALUES(?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK)
      goto out;
  } else {
    PGconn *c = rein_inbox_pg(ib);
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    PQclear(PQexec(c, "DROP TABLE IF EXISTS bench_ledger"));
    PQclear(PQexec(c, "TRUNCATE rein_inbox"));
    PGresult *r = PQexec(c, "CREATE TABLE bench_ledger(k text)");
    PQclear(r);
    r = PQprepare(c, "bench_effect", "INSERT INTO bench_ledger VALUES($1)", 1,
                  NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) goto out;
  }
  {
    rein_inbox_stats s = {0};
    double t0 = now_s(), deadline = t0 + 120;
    while (s.processed + s.duplicates < (uint64_t)n && now_s() < deadline) {
      if (rein_inbox_poll(ib, (size_t)batch, 0, &s) != REIN_OK) {
        fprintf(stderr, "bench_inbox: poll: %s\n", rein_inbox_errmsg(ib));
        goto out;
      }
    }
    double dt = now_s() - t0;
    if (s.processed == (uint64_t)n) rate = (double)n / dt;
  }
out:
  sqlite3_finalize(st);
  rein_inbox_free(ib);
  rein_broker_free(b);
  freeReplyObject(redisCommand(g_rc, "DEL %s", stream));
  char p2[160];
  unlink(path);
  snprintf(p2, sizeof p2, "%s-wal", path);
  unlink(p2);
  snprintf(p2, sizeof p2, "%s-shm", path);
  unlink(p2);
  return rate;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  long n = 20000;
  int runs = 5, batch = 100;
  const char *which = "both";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--messages") && i + 1 < argc)
      n = atol(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--db") && i + 1 < argc)
      which = argv[++i];
    else {
      fprintf(stderr, "usage: bench_inbox [--messages N] [--runs R] "
                      "[--db sqlite|pg|both] [--batch B]\n");
      return 2;
    }
  }
  if (n < 1 || n > 1000000 || runs < 1 || runs > 50 || batch < 1 ||
      batch > 10000) {
    fprintf(stderr, "bench_inbox: out of range (messages <= 10^6, runs <= "
                    "50, batch <= 10000)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  g_host = getenv("REIN_REDIS_HOST");
  const char *p = getenv("REIN_REDIS_PORT");
  bool want_pg = strcmp(which, "sqlite") != 0;
  if (!g_host || !p || (want_pg && !getenv("REIN_PG_DSN"))) {
    fprintf(stderr,
            "bench_inbox: needs REIN_REDIS_HOST, REIN_REDIS_PORT%s "
            "(eval \"$(scripts/services.sh start DIR)\")\n",
            want_pg ? " and REIN_PG_DSN" : "");
    return 1;
  }
  g_port = atoi(p);
  g_rc = redisConnect(g_host, g_port);
  if (!g_rc || g_rc->err) {
    fprintf(stderr, "bench_inbox: cannot connect to redis\n");
    return 1;
  }
  if (want_pg) {
    /* a schema of its own: never touches anyone else's tables */
    snprintf(g_schema, sizeof g_schema, "bench_inbox_%d", (int)getpid());
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", g_schema);
    if (!pg_exec(getenv("REIN_PG_DSN"), sql)) return 1;
    snprintf(g_dsn, sizeof g_dsn, "%s options='-csearch_path=%s'",
             getenv("REIN_PG_DSN"), g_schema);
  }
  printf("bench_inbox: %ld messages per run, %d runs, batch %d; effect = 1 "
         "INSERT per message, one transaction and one XACK per message\n",
         n, runs, batch);
  printf("%-8s %14s %14s %8s\n", "db", "baseline msg/s", "inbox msg/s",
         "ratio");
  int serial = 0, rc = 1;
  for (int d = 0; d < 2; d++) {
    bool pg = d == 1;
    if ((pg && !strcmp(which, "sqlite")) || (!pg && !strcmp(which, "pg")))
      continue;
    double base[50], inbox[50];
    for (int r = 0; r < runs; r++) {
      bool first_inbox = r % 2;
      for (int k = 0; k < 2; k++) {
        bool dedup = first_inbox ? k == 0 : k == 1;
        double v = run(pg, dedup, n, batch, ++serial);
        if (v < 0) goto fail;
        (dedup ? inbox : base)[r] = v;
      }
    }
    qsort(base, (size_t)runs, sizeof base[0], cmp);
    qsort(inbox, (size_t)runs, sizeof inbox[0], cmp);
    double mb = base[runs / 2], mi = inbox[runs / 2];
    printf("%-8s %14.0f %14.0f %8.3f\n", pg ? "postgres" : "sqlite", mb, mi,
           mi / mb);
    fflush(stdout);
  }
  rc = 0;
fail:
  if (want_pg) {
    char sql[160];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", g_schema);
    pg_exec(getenv("REIN_PG_DSN"), sql);
  }
  redisFree(g_rc);
  return rc;
}
