/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_idem.c: begin+complete per second for each idempotency backend,
 * side by side with what a user would hand-write on the same server.
 *
 * One operation = claim a fresh key, then store a 64-byte response: what a
 * keyed POST costs on its happy path. The hand-written peers do the least a
 * careful user would: SQLite INSERT OR IGNORE then UPDATE (same WAL and
 * synchronous setting as rein), PostgreSQL INSERT ... ON CONFLICT DO
 * NOTHING then UPDATE (prepared), Redis SET NX PX then SET XX PX. They have
 * no fingerprint check, no fencing and no lease takeover, so the ratio is
 * the price of those. rein and the peer run alternately, 3 times each;
 * medians are printed. PostgreSQL and Redis are measured when REIN_PG_DSN /
 * REIN_REDIS_HOST+PORT are set (scripts/services.sh), else reported as
 * skipped.
 *
 *   bench_idem [--quick] [memory|sqlite|pg|redis ...]   (default: all)
 */
#include "rein/idem.h"
#include "rein/rng.h"

#include <hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE (30 * REIN_NS_PER_S)
#define RETAIN (3600 * REIN_NS_PER_S)

static char body[64];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int g_run; /* distinct keys per run */

/* Keys look like what clients send (random UUIDv4-like hex), for rein and
 * the peers alike: random keys land on random B-tree pages, sequential ones
 * would flatter whichever side used them. */
static int make_key(char *buf, size_t n, int i) {
  uint64_t x =
      ((uint64_t)getpid() << 40) ^ ((uint64_t)g_run << 24) ^ (uint64_t)i;
  uint64_t a = rein_splitmix64(&x), b = rein_splitmix64(&x);
  return snprintf(buf, n, "%016llx-%016llx", (unsigned long long)a,
                  (unsigned long long)b);
}

/* ---- rein -------------------------------------------------------------- */

static double run_rein(rein_idem_store *s, int n) {
  static const rein_idem_scope sc = {"bench", "POST /charges"};
  rein_idem_response resp = {201, "Content-Type: application/json\r\n", 32,
                             body, sizeof body};
  g_run++;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    char key[64];
    int kl = make_key(key, sizeof key, i);
    uint8_t fp[32];
    rein_idem_fingerprint(key, (size_t)kl, fp);
    rein_idem_result r;
    rein_status st = rein_idem_begin(s, &sc, key, fp, LEASE, RETAIN, &r);
    if (st != REIN_OK || r.outcome != REIN_IDEM_NEW) {
      fprintf(stderr, "begin: %s %s\n", rein_status_name(st),
              rein_idem_store_errmsg(s));
      exit(1);
    }
    st = rein_idem_complete(s, &r.token, &resp, NULL);
    if (st != REIN_OK) {
      fprintf(stderr, "complete: %s\n", rein_idem_store_errmsg(s));
      exit(1);
    }
  }
  return n / (now_s() - t0);
}

/* ---- hand-written peers ------------------------------------------------ */

static double run_sqlite_peer(sqlite3 *db, int n) {
  sqlite3_stmt *ins, *upd;
  sqlite3_prepare_v2(db,
                     "INSERT OR IGNORE INTO peer (key, created) VALUES (?1, "
                     "?2)",
                     -1, &ins, NULL);
  sqlite3_prepare_v2(db,
                     "UPDATE peer SET status = ?2, body = ?3 WHERE key "
                     "= ?1",
                     -1, &upd, NULL);
  g_run++;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    char key[64];
    make_key(key, sizeof key, i);
    sqlite3_bind_text(ins, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, (sqlite3_int64)(now_s() * 1e9));
    if (sqlite3_step(ins) != SQLITE_DONE || sqlite3_changes(db) != 1) exit(1);
    sqlite3_reset(ins);
    sqlite3_bind_text(upd, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(upd, 2, 201);
    sqlite3_bind_blob(upd, 3, body, sizeof body, SQLITE_STATIC);
    if (sqlite3_step(upd) != SQLITE_DONE) exit(1);
    sqlite3_reset(upd);
  }
  double r = n / (now_s() - t0);
  sqlite3_finalize(ins);
  sqlite3_finalize(upd);
  return r;
}

static double run_pg_peer(PGconn *c, int n) {
  g_run++;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    char key[64];
    make_key(key, sizeof key, i);
    const char *v1[1] = {key};
    PGresult *r = PQexecPrepared(c, "peer_ins", 1, v1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) exit(1);
    PQclear(r);
    const char *v2[2] = {key, body};
    int len[2] = {(int)strlen(key), sizeof body};
    int fmt[2] = {0, 1};
    r = PQexecPrepared(c, "peer_upd", 2, v2, len, fmt, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) exit(1);
    PQclear(r);
  }
  return n / (now_s() - t0);
}

static double run_redis_peer(redisContext *c, int n) {
  g_run++;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    char key[64];
    make_key(key, sizeof key, i);
    redisReply *r = redisCommand(c, "SET %s inprogress NX PX 3600000", key);
    if (!r || r->type != REDIS_REPLY_STATUS) exit(1);
    freeReplyObject(r);
    r = redisCommand(c, "SET %s %b XX PX 3600000", key, body, sizeof body);
    if (!r || r->type != REDIS_REPLY_STATUS) exit(1);
    freeReplyObject(r);
  }
  return n / (now_s() - t0);
}

/* ---- driver ------------------------------------------------------------ */

typedef double (*runner)(void *ctx, int n);

/* rein and its peer measured alternately, 3 times each, so drift in a
 * shared machine's load hits both; medians returned. */
static void median_pair(double (*f)(void *, int), void *fctx,
                        double (*g)(void *, int), void *gctx, int n, double *fm,
                        double *gm) {
  double v[3], w[3];
  f(fctx, n / 10 + 1); /* warm-up */
  if (g) g(gctx, n / 10 + 1);
  for (int i = 0; i < 3; i++) {
    v[i] = f(fctx, n);
    w[i] = g ? g(gctx, n) : 0;
  }
  qsort(v, 3, sizeof v[0], cmp_d);
  qsort(w, 3, sizeof w[0], cmp_d);
  *fm = v[1];
  *gm = w[1];
}

static double rein_r(void *ctx, int n) {
  return run_rein(ctx, n);
}
static double sq_r(void *ctx, int n) {
  return run_sqlite_peer(ctx, n);
}
static double pg_r(void *ctx, int n) {
  return run_pg_peer(ctx, n);
}
static double rd_r(void *ctx, int n) {
  return run_redis_peer(ctx, n);
}

static void row(const char *name, int n, double rein, double peer,
                const char *peer_name) {
  if (peer > 0)
    printf("%-10s %8d %12.0f %12.0f %7.2f  %s\n", name, n, rein, peer,
           rein / peer, peer_name);
  else
    printf("%-10s %8d %12.0f %12s %7s  %s\n", name, n, rein, "-", "-",
           peer_name);
  fflush(stdout);
}

static int g_argc;
static char **g_argv;

static bool want(const char *name) {
  bool any = false;
  for (int i = 1; i < g_argc; i++) {
    if (g_argv[i][0] == '-') continue;
    any = true;
    if (strcmp(g_argv[i], name) == 0) return true;
  }
  return !any;
}

/* SQLite with the same journal and synchronous settings on both sides. */
static void bench_sqlite(bool full, bool quick) {
  char path[128], ppath[128];
  snprintf(path, sizeof path, "/tmp/rein-bench-idem-%d.db", (int)getpid());
  snprintf(ppath, sizeof ppath, "/tmp/rein-bench-peer-%d.db", (int)getpid());
  rein_idem_sqlite_config sc;
  rein_idem_sqlite_config_default(&sc);
  sc.path = path;
  sc.synchronous_full = full;
  rein_idem_store *s;
  if (rein_idem_sqlite_new(NULL, &sc, &s) != REIN_OK) exit(1);
  sqlite3 *db;
  sqlite3_open(ppath, &db);
  sqlite3_exec(db,
               full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
               NULL, NULL, NULL);
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; CREATE TABLE peer (key TEXT PRIMARY "
               "KEY, created INTEGER, status INTEGER, body BLOB) WITHOUT "
               "ROWID",
               NULL, NULL, NULL);
  int n = full ? (quick ? 300 : 3000) : (quick ? 3000 : 30000);
  double a, b;
  median_pair(rein_r, s, sq_r, db, n, &a, &b);
  row(full ? "sqlite" : "sqlite-nrm", n, a, b,
      full ? "INSERT OR IGNORE + UPDATE (synchronous=FULL)"
           : "INSERT OR IGNORE + UPDATE (synchronous=NORMAL)");
  rein_idem_store_free(s);
  sqlite3_close(db);
  for (int i = 0; i < 2; i++) {
    const char *p = i ? ppath : path;
    char x[160];
    unlink(p);
    snprintf(x, sizeof x, "%s-wal", p);
    unlink(x);
    snprintf(x, sizeof x, "%s-shm", p);
    unlink(x);
  }
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  bool quick = false;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--quick") == 0) quick = true;
  signal(SIGPIPE, SIG_IGN);
  memset(body, 'x', sizeof body);
  printf("# begin+complete per second (median of 3), rein vs hand-written\n");
  printf("%-10s %8s %12s %12s %7s  %s\n", "backend", "ops", "rein/s", "peer/s",
         "ratio", "peer");

  /* memory */
  rein_idem_store *s;
  int n;
  if (want("memory")) {
    rein_idem_mem_new(NULL, &s);
    n = quick ? 20000 : 200000;
    double a, b;
    median_pair(rein_r, s, NULL, NULL, n, &a, &b);
    row("memory", n, a, 0, "(no peer)");
    rein_idem_store_free(s);
  }
  if (want("sqlite")) {
    bench_sqlite(true, quick);  /* WAL + synchronous=FULL: fsync-bound */
    bench_sqlite(false, quick); /* WAL + synchronous=NORMAL: CPU-bound */
  }

  /* PostgreSQL */
  const char *dsn = getenv("REIN_PG_DSN");
  if (!want("pg")) {
  } else if (dsn && *dsn) {
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    pc.conninfo = dsn;
    pc.table = "rein_idem_bench";
    if (rein_idem_pg_new(NULL, &pc, &s) != REIN_OK) return 1;
    PGconn *c = PQconnectdb(dsn);
    PQclear(PQexec(c, "SET client_min_messages = warning; DROP TABLE IF "
                      "EXISTS peer_idem; CREATE TABLE "
                      "peer_idem (key text PRIMARY KEY, created timestamptz "
                      "NOT NULL DEFAULT now(), status int4, body bytea)"));
    PQclear(PQprepare(c, "peer_ins",
                      "INSERT INTO peer_idem (key) VALUES ($1) ON CONFLICT "
                      "DO NOTHING RETURNING key",
                      1, NULL));
    PQclear(PQprepare(c, "peer_upd",
                      "UPDATE peer_idem SET status = 201, body = $2 WHERE "
                      "key = $1",
                      2, NULL));
    n = quick ? 500 : 5000;
    double a, b;
    median_pair(rein_r, s, pg_r, c, n, &a, &b);
    row("postgresql", n, a, b, "INSERT ON CONFLICT DO NOTHING + UPDATE");
    PQclear(PQexec(c, "DROP TABLE IF EXISTS peer_idem; DROP TABLE IF EXISTS "
                      "rein_idem_bench"));
    PQfinish(c);
    rein_idem_store_free(s);
  } else {
    printf("%-10s skipped: REIN_PG_DSN not set (scripts/services.sh)\n",
           "postgresql");
  }

  /* Redis */
  const char *host = getenv("REIN_REDIS_HOST"),
             *port = getenv("REIN_REDIS_PORT");
  if (!want("redis")) {
  } else if (host && port) {
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.host = host;
    rc.port = atoi(port);
    rc.prefix = "rein:bench:";
    if (rein_idem_redis_new(NULL, &rc, &s) != REIN_OK) return 1;
    redisContext *c = redisConnect(host, atoi(port));
    n = quick ? 1000 : 10000;
    double a, b;
    median_pair(rein_r, s, rd_r, c, n, &a, &b);
    row("redis", n, a, b, "SET NX PX + SET XX PX");
    redisFree(c);
    rein_idem_store_free(s);
  } else {
    printf("%-10s skipped: REIN_REDIS_HOST/PORT not set\n", "redis");
  }
  return 0;
}
