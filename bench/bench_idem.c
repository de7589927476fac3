/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_idem.c: begin+complete per second for each idempotency backend,
 * side by side with what a careful engineer would hand-write for the same
 * contract on the same server.
 *
 * One operation = claim a fresh key, then store the response (status 201,
 * a 32-byte header blob, a 64-byte body): what a keyed POST costs on its
 * happy path. The hand-written baselines store that same response and keep
 * what the store needs to purge, but none of rein's extra guarantees:
 *   memory      a mutex + chained hash table keyed by the client key,
 *               holding the expiry and a copy of status, headers and body
 *               (rein's memory store also purges by a table scan, so
 *               neither side keeps an expiry index);
 *   SQLite      INSERT OR IGNORE (key, expires_ns) then UPDATE status,
 *               headers, body; a WITHOUT ROWID table with an index on
 *               expires_ns, WAL, the same synchronous mode and busy timeout
 *               as rein's store, two autocommit transactions per operation
 *               (rein: BEGIN IMMEDIATE read+insert COMMIT, then an
 *               autocommit guarded UPDATE);
 *   PostgreSQL  INSERT ... ON CONFLICT DO NOTHING RETURNING, then UPDATE
 *               status, headers, body (prepared, bytea sent binary); an
 *               index on expires_ns; the same server and session settings;
 *   Redis       SET NX PX, then SET XX PX of status+headers+body in one
 *               value (Redis expires keys itself, no index needed).
 * They keep no fingerprint (no 422 on a reused key), no fencing token, no
 * lease takeover and no principal scoping, so the ratio is the price of
 * those.
 *
 * rein and its baseline run in rounds, the order alternating (round 1 rein
 * then baseline, round 2 baseline then rein, ...), after one warm-up each;
 * each round gives one ratio (rein run / baseline run of the same round),
 * and the median and min-max of those ratios are printed, next to the
 * median and min-max of each side's rate. PostgreSQL and Redis are measured
 * when REIN_PG_DSN / REIN_REDIS_HOST+PORT are set (scripts/services.sh),
 * else reported as skipped. Every run is bounded by its operation count
 * (the "ops" column) and by 2 s (0.5 s with --quick), whichever comes
 * first, so a slow disk or a loaded machine cannot stretch the benchmark;
 * rates are operations done / time taken.
 *
 *   bench_idem [--quick] [--rounds N] [memory|sqlite|pg|redis ...]
 *   (default: all backends, 5 rounds)
 */
#include "rein/idem.h"
#include "rein/rng.h"

#include <hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEASE (30 * REIN_NS_PER_S)
#define RETAIN (3600 * REIN_NS_PER_S)
#define MAX_ROUNDS 21

static char body[64];
static const char headers[] = "Content-Type: application/json\r\n";
#define HEADERS_LEN 32 /* the first 32 bytes of headers[], as rein stores */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock nanoseconds, read once per begin by the baselines (rein's
 * store reads its config clock once per decision). */
static int64_t wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int g_run;            /* distinct keys per run */
static double g_max_s = 2.0; /* a run stops after this many seconds */

/* True once a run that started at t0 has used its time (checked every 64
 * operations, so the clock read costs nothing measurable). */
static bool over(int i, double t0) {
  return (i & 63) == 0 && i > 0 && now_s() - t0 > g_max_s;
}

/* Keys look like what clients send (random UUIDv4-like hex), for rein and
 * the baselines alike: random keys land on random B-tree pages, sequential
 * ones would flatter whichever side used them. */
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
  rein_idem_response resp = {201, headers, HEADERS_LEN, body, sizeof body};
  g_run++;
  double t0 = now_s();
  int i = 0;
  for (; i < n && !over(i, t0); i++) {
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
  return i / (now_s() - t0);
}

/* ---- hand-written baseline: memory ------------------------------------- */

/* What a careful engineer writes for one process: one mutex over a chained
 * hash table (FNV-1a of the key), doubled when crowded; begin inserts an
 * in-progress record with its expiry, complete copies status, headers and
 * body into one allocation. */
typedef struct hrec {
  struct hrec *next;
  uint64_t h;
  char key[64];
  size_t kl;
  int state; /* 1 in progress, 2 done */
  int64_t expires;
  int status;
  char *data; /* headers then body */
  size_t hl, bl;
} hrec;

typedef struct htab {
  pthread_mutex_t lock;
  hrec **b;
  size_t nb, count; /* nb: power of two */
} htab;

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ull;
  }
  return h;
}

static hrec *h_find(htab *t, uint64_t h, const char *key, size_t kl) {
  for (hrec *r = t->b[h & (t->nb - 1)]; r; r = r->next)
    if (r->h == h && r->kl == kl && memcmp(r->key, key, kl) == 0) return r;
  return NULL;
}

static void h_grow(htab *t) {
  if (t->count < 2 * t->nb) return;
  size_t nb = t->nb * 2;
  hrec **b = calloc(nb, sizeof *b);
  if (!b) return; /* longer chains, still correct */
  for (size_t i = 0; i < t->nb; i++)
    for (hrec *r = t->b[i], *next; r; r = next) {
      next = r->next;
      r->next = b[r->h & (nb - 1)];
      b[r->h & (nb - 1)] = r;
    }
  free(t->b);
  t->b = b;
  t->nb = nb;
}

/* 1 = claimed, 0 = the key exists (replay or in progress), -1 = no memory */
static int h_begin(htab *t, const char *key, size_t kl, int64_t now) {
  if (kl > sizeof((hrec *)0)->key) return -1;
  uint64_t h = fnv1a(key, kl);
  pthread_mutex_lock(&t->lock);
  hrec *r = h_find(t, h, key, kl);
  int rc = 0;
  if (!r || r->expires <= now) {
    if (!r) {
      r = calloc(1, sizeof *r);
      if (!r) {
        pthread_mutex_unlock(&t->lock);
        return -1;
      }
      r->h = h;
      memcpy(r->key, key, kl);
      r->kl = kl;
      r->next = t->b[h & (t->nb - 1)];
      t->b[h & (t->nb - 1)] = r;
      t->count++;
      h_grow(t);
    } else {
      free(r->data);
      r->data = NULL;
    }
    r->state = 1;
    r->expires = now + RETAIN;
    rc = 1;
  }
  pthread_mutex_unlock(&t->lock);
  return rc;
}

static int h_complete(htab *t, const char *key, size_t kl, int status,
                      const char *hd, size_t hl, const char *bd, size_t bl) {
  char *data = malloc(hl + bl + 1);
  if (!data) return -1;
  memcpy(data, hd, hl);
  memcpy(data + hl, bd, bl);
  uint64_t h = fnv1a(key, kl);
  pthread_mutex_lock(&t->lock);
  hrec *r = h_find(t, h, key, kl);
  if (r && r->state == 1) {
    r->state = 2;
    r->status = status;
    r->data = data;
    r->hl = hl;
    r->bl = bl;
    data = NULL;
  }
  pthread_mutex_unlock(&t->lock);
  int rc = data ? -1 : 0;
  free(data);
  return rc;
}

static htab *h_new(void) {
  htab *t = calloc(1, sizeof *t);
  if (!t) exit(1);
  pthread_mutex_init(&t->lock, NULL);
  t->nb = 1024;
  t->b = calloc(t->nb, sizeof *t->b);
  if (!t->b) exit(1);
  return t;
}

static void h_free(htab *t) {
  for (size_t i = 0; i < t->nb; i++)
    for (hrec *r = t->b[i], *next; r; r = next) {
      next = r->next;
      free(r->data);
      free(r);
    }
  free(t->b);
  pthread_mutex_destroy(&t->lock);
  free(t);
}

static double run_mem_base(htab *t, int n) {
  g_run++;
  double t0 = now_s();
  int i = 0;
  for (; i < n && !over(i, t0); i++) {
    char key[64];
    int kl = make_key(key, sizeof key, i);
    if (h_begin(t, key, (size_t)kl, wall_ns()) != 1) exit(1);
    if (h_complete(t, key, (size_t)kl, 201, headers, HEADERS_LEN, body,
                   sizeof body) != 0)
      exit(1);
  }
  return i / (now_s() - t0);
}

/* ---- hand-written baseline: SQLite ------------------------------------- */

typedef struct sq_base {
  sqlite3 *db;
  sqlite3_stmt *ins, *upd;
} sq_base;

static double run_sqlite_base(sq_base *b, int n) {
  g_run++;
  double t0 = now_s();
  int i = 0;
  for (; i < n && !over(i, t0); i++) {
    char key[64];
    make_key(key, sizeof key, i);
    sqlite3_bind_text(b->ins, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(b->ins, 2, (sqlite3_int64)(wall_ns() + RETAIN));
    if (sqlite3_step(b->ins) != SQLITE_DONE || sqlite3_changes(b->db) != 1) {
      fprintf(stderr, "baseline INSERT: %s\n", sqlite3_errmsg(b->db));
      exit(1);
    }
    sqlite3_reset(b->ins);
    sqlite3_bind_text(b->upd, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(b->upd, 2, 201);
    sqlite3_bind_blob(b->upd, 3, headers, HEADERS_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(b->upd, 4, body, sizeof body, SQLITE_STATIC);
    if (sqlite3_step(b->upd) != SQLITE_DONE || sqlite3_changes(b->db) != 1) {
      fprintf(stderr, "baseline UPDATE: %s\n", sqlite3_errmsg(b->db));
      exit(1);
    }
    sqlite3_reset(b->upd);
  }
  return i / (now_s() - t0);
}

/* ---- hand-written baseline: PostgreSQL --------------------------------- */

static double run_pg_base(PGconn *c, int n) {
  g_run++;
  double t0 = now_s();
  int i = 0;
  for (; i < n && !over(i, t0); i++) {
    char key[64], exp[32];
    make_key(key, sizeof key, i);
    snprintf(exp, sizeof exp, "%lld", (long long)(wall_ns() + RETAIN));
    const char *v1[2] = {key, exp};
    PGresult *r = PQexecPrepared(c, "base_ins", 2, v1, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
      fprintf(stderr, "baseline INSERT: %s\n", PQerrorMessage(c));
      exit(1);
    }
    PQclear(r);
    const char *v2[4] = {key, "201", headers, body};
    int len[4] = {0, 0, HEADERS_LEN, sizeof body};
    int fmt[4] = {0, 0, 1, 1};
    r = PQexecPrepared(c, "base_upd", 4, v2, len, fmt, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      fprintf(stderr, "baseline UPDATE: %s\n", PQerrorMessage(c));
      exit(1);
    }
    PQclear(r);
  }
  return i / (now_s() - t0);
}

/* ---- hand-written baseline: Redis -------------------------------------- */

static double run_redis_base(redisContext *c, int n) {
  g_run++;
  double t0 = now_s();
  int i = 0;
  for (; i < n && !over(i, t0); i++) {
    char key[64];
    make_key(key, sizeof key, i);
    redisReply *r = redisCommand(c, "SET %s p NX PX 3600000", key);
    if (!r || r->type != REDIS_REPLY_STATUS) exit(1);
    freeReplyObject(r);
    /* status, then headers, then body in one value: "201\n" + hd + bd */
    char val[4 + HEADERS_LEN + sizeof body];
    memcpy(val, "201\n", 4);
    memcpy(val + 4, headers, HEADERS_LEN);
    memcpy(val + 4 + HEADERS_LEN, body, sizeof body);
    r = redisCommand(c, "SET %s %b XX PX 3600000", key, val, sizeof val);
    if (!r || r->type != REDIS_REPLY_STATUS) exit(1);
    freeReplyObject(r);
  }
  return i / (now_s() - t0);
}

/* ---- driver ------------------------------------------------------------ */

typedef double (*runner)(void *ctx, int n);

static int g_rounds = 5;

static double rein_r(void *ctx, int n) {
  return run_rein(ctx, n);
}
static double mem_r(void *ctx, int n) {
  return run_mem_base(ctx, n);
}
static double sq_r(void *ctx, int n) {
  return run_sqlite_base(ctx, n);
}
static double pg_r(void *ctx, int n) {
  return run_pg_base(ctx, n);
}
static double rd_r(void *ctx, int n) {
  return run_redis_base(ctx, n);
}

/* One warm-up each, then g_rounds rounds of one rein run and one baseline
 * run, the order alternating by round so load drift on a shared machine
 * hits both sides alike. Prints each side's median (min-max) rate and the
 * median (min-max) of the per-round ratios rein / baseline. */
static void compare(const char *name, int n, runner f, void *fctx, runner g,
                    void *gctx, const char *base_name) {
  double v[MAX_ROUNDS], w[MAX_ROUNDS], q[MAX_ROUNDS];
  int k = g_rounds;
  f(fctx, n / 10 + 1);
  g(gctx, n / 10 + 1);
  for (int i = 0; i < k; i++) {
    if (i % 2 == 0) {
      v[i] = f(fctx, n);
      w[i] = g(gctx, n);
    } else {
      w[i] = g(gctx, n);
      v[i] = f(fctx, n);
    }
    q[i] = v[i] / w[i];
  }
  qsort(v, (size_t)k, sizeof v[0], cmp_d);
  qsort(w, (size_t)k, sizeof w[0], cmp_d);
  qsort(q, (size_t)k, sizeof q[0], cmp_d);
  /* the median of an even count is the mean of the middle two */
  double mv = (v[(k - 1) / 2] + v[k / 2]) / 2,
         mw = (w[(k - 1) / 2] + w[k / 2]) / 2,
         mq = (q[(k - 1) / 2] + q[k / 2]) / 2;
  char a[48], b[48], c[32];
  snprintf(a, sizeof a, "%.0f (%.0f-%.0f)", mv, v[0], v[k - 1]);
  snprintf(b, sizeof b, "%.0f (%.0f-%.0f)", mw, w[0], w[k - 1]);
  snprintf(c, sizeof c, "%.2f (%.2f-%.2f)", mq, q[0], q[k - 1]);
  printf("%-10s %7d %-24s %-24s %-18s %s\n", name, n, a, b, c, base_name);
  fflush(stdout);
}

static int g_argc;
static char **g_argv;

static bool want(const char *name) {
  bool any = false;
  for (int i = 1; i < g_argc; i++) {
    if (g_argv[i][0] == '-') {
      if (strcmp(g_argv[i], "--rounds") == 0) i++;
      continue;
    }
    any = true;
    if (strcmp(g_argv[i], name) == 0) return true;
  }
  return !any;
}

static void unlink_db(const char *p) {
  char x[160];
  unlink(p);
  snprintf(x, sizeof x, "%s-wal", p);
  unlink(x);
  snprintf(x, sizeof x, "%s-shm", p);
  unlink(x);
}

/* SQLite: the baseline gets what rein's store sets up (src/idem/sqlite.c):
 * WAL, the same synchronous mode, a 5 s busy timeout, a WITHOUT ROWID table
 * and an index on the expiry column; statements prepared once. */
static void bench_sqlite(bool full, bool quick) {
  char path[128], bpath[128];
  snprintf(path, sizeof path, "/tmp/rein-bench-idem-%d.db", (int)getpid());
  snprintf(bpath, sizeof bpath, "/tmp/rein-bench-base-%d.db", (int)getpid());
  unlink_db(path);
  unlink_db(bpath);
  rein_idem_sqlite_config sc;
  rein_idem_sqlite_config_default(&sc);
  sc.path = path;
  sc.synchronous_full = full;
  rein_idem_store *s;
  if (rein_idem_sqlite_new(NULL, &sc, &s) != REIN_OK) exit(1);
  sq_base b = {0};
  if (sqlite3_open(bpath, &b.db) != SQLITE_OK) exit(1);
  sqlite3_busy_timeout(b.db, sc.busy_timeout_ms);
  int rc =
      sqlite3_exec(b.db,
                   full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                        : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                   NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(b.db,
                      "CREATE TABLE idem (key TEXT PRIMARY KEY, expires_ns "
                      "INTEGER NOT NULL, status INTEGER, headers BLOB, body "
                      "BLOB) WITHOUT ROWID; CREATE INDEX idem_expires ON "
                      "idem (expires_ns);",
                      NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(b.db,
                            "INSERT OR IGNORE INTO idem (key, expires_ns) "
                            "VALUES (?1, ?2)",
                            -1, SQLITE_PREPARE_PERSISTENT, &b.ins, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v3(b.db,
                            "UPDATE idem SET status = ?2, headers = ?3, body "
                            "= ?4 WHERE key = ?1 AND status IS NULL",
                            -1, SQLITE_PREPARE_PERSISTENT, &b.upd, NULL);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "baseline setup: %s\n", sqlite3_errmsg(b.db));
    exit(1);
  }
  int n = full ? (quick ? 300 : 3000) : (quick ? 3000 : 30000);
  compare(full ? "sqlite" : "sqlite-nrm", n, rein_r, s, sq_r, &b,
          full ? "INSERT OR IGNORE + UPDATE, expiry index, WAL, "
                 "synchronous=FULL"
               : "INSERT OR IGNORE + UPDATE, expiry index, WAL, "
                 "synchronous=NORMAL");
  rein_idem_store_free(s);
  sqlite3_finalize(b.ins);
  sqlite3_finalize(b.upd);
  sqlite3_close(b.db);
  unlink_db(path);
  unlink_db(bpath);
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  bool quick = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
      g_max_s = 0.5;
    }
    if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      g_rounds = atoi(argv[++i]);
      if (g_rounds < 1 || g_rounds > MAX_ROUNDS) {
        fprintf(stderr, "bench_idem: --rounds must be in [1, %d]\n",
                MAX_ROUNDS);
        return 2;
      }
    }
  }
  signal(SIGPIPE, SIG_IGN);
  memset(body, 'x', sizeof body);
  printf("# begin+complete per second, rein vs hand-written baseline: %d "
         "rounds, order alternating; median (min-max) of each side and of "
         "the per-round ratio rein/baseline\n",
         g_rounds);
  printf("%-10s %7s %-24s %-24s %-18s %s\n", "backend", "ops", "rein/s",
         "baseline/s", "ratio", "baseline");

  rein_idem_store *s;
  int n;
  if (want("memory")) {
    if (rein_idem_mem_new(NULL, &s) != REIN_OK) return 1;
    htab *t = h_new();
    n = quick ? 20000 : 200000;
    compare("memory", n, rein_r, s, mem_r, t,
            "mutex + chained hash table, response copied");
    h_free(t);
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
    PGresult *r =
        PQexec(c, "SET client_min_messages = warning; DROP TABLE IF "
                  "EXISTS base_idem; CREATE TABLE base_idem (key text "
                  "PRIMARY KEY, expires_ns int8 NOT NULL, status int4, "
                  "headers bytea, body bytea); CREATE INDEX "
                  "base_idem_expires ON base_idem (expires_ns)");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      fprintf(stderr, "baseline setup: %s\n", PQerrorMessage(c));
      return 1;
    }
    PQclear(r);
    PQclear(PQprepare(c, "base_ins",
                      "INSERT INTO base_idem (key, expires_ns) VALUES ($1, "
                      "$2) ON CONFLICT DO NOTHING RETURNING key",
                      2, NULL));
    PQclear(PQprepare(c, "base_upd",
                      "UPDATE base_idem SET status = $2, headers = $3, body "
                      "= $4 WHERE key = $1 AND status IS NULL",
                      4, NULL));
    n = quick ? 500 : 5000;
    compare("postgresql", n, rein_r, s, pg_r, c,
            "INSERT ON CONFLICT DO NOTHING + UPDATE, expiry index");
    PQclear(PQexec(c, "DROP TABLE IF EXISTS base_idem; DROP TABLE IF EXISTS "
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
    if (!c || c->err) {
      fprintf(stderr, "baseline: cannot connect to Redis\n");
      return 1;
    }
    n = quick ? 1000 : 10000;
    compare("redis", n, rein_r, s, rd_r, c,
            "SET NX PX + SET XX PX of status+headers+body");
    redisFree(c);
    rein_idem_store_free(s);
  } else {
    printf("%-10s skipped: REIN_REDIS_HOST/PORT not set\n", "redis");
  }
  return 0;
}
