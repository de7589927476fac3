/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_outbox_relay.c: the push-driven outbox relay (rein_outbox_wait on
 * PostgreSQL's LISTEN/NOTIFY) against polling relays, on a real server.
 *
 *   latency  commit of an intent in a producer (the main thread, its own
 *            inbox and connection; the after_commit hook reads
 *            CLOCK_MONOTONIC) to the deliverer being called in the relay
 *            (a second thread, its own inbox; the deliverer only reads the
 *            clock). Intents arrive one at a time at seeded random gaps of
 *            100-400 ms, so a polling relay sees them at a random phase of
 *            its interval. Modes per round, in this order: listen,
 *            poll at --poll-a ms, poll at --poll-b ms.
 *   idle     no intents for --idle-s seconds: CPU of the relay thread
 *            (CLOCK_THREAD_CPUTIME_ID) and of its PostgreSQL backends
 *            (utime + stime from /proc/<pid>/stat: the inbox connection,
 *            plus the listener's for listen), and the rounds it ran.
 *            Modes: listen, poll at --idle-poll-a ms, poll at
 *            --idle-poll-b ms.
 *
 *   commit   what the NOTIFY costs the producers: --producers threads,
 *            each on its own connection, commit one-row transactions
 *            (BEGIN; INSERT; [SELECT pg_notify(channel, '')]; COMMIT, one
 *            round trip) for --commit-s seconds, without and with the
 *            pg_notify, while a listener LISTENs on the channel.
 *            PostgreSQL serializes the commits of notifying transactions
 *            on one lock, so this is where push could cost throughput.
 *
 * Modes alternate within each round and rounds repeat (A B C A B C ...);
 * the summary gives medians over rounds and per-round ratios against the
 * listen run of the same round (median, min-max). Everything runs in its
 * own schema (search_path), dropped at the end. Needs REIN_PG_DSN
 * (scripts/services.sh) and a server on this machine for the /proc figures.
 */
#include "rein/inbox.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_INTENTS 256
#define MAX_ROUNDS 16
#define RELAY_MAX 64

static const char SECRET[] = "bench-outbox-relay-secret-32byte";

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static void sleep_ns(int64_t ns) {
  struct timespec ts = {(time_t)(ns / REIN_NS_PER_S),
                        (long)(ns % REIN_NS_PER_S)};
  nanosleep(&ts, NULL);
}

/* splitmix64: the spacing of intents, seeded */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* CPU of a process in ns from /proc/<pid>/stat (utime + stime, fields 14
 * and 15); -1 when unreadable (server on another machine or user). */
static int64_t proc_cpu_ns(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  /* after ") " come fields 3.. ; utime is field 14 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
             &ut, &st) != 2)
    return -1;
  long hz = sysconf(_SC_CLK_TCK);
  return (int64_t)((ut + st) * (REIN_NS_PER_S / (hz > 0 ? hz : 100)));
}

/* ---- shared state --------------------------------------------------------
 */

typedef enum mode { M_LISTEN, M_POLL } mode;

typedef struct trial {
  mode m;
  int64_t interval_ns;     /* poll */
  int n;                   /* intents */
  int64_t ts[MAX_INTENTS]; /* handler done: COMMIT about to be sent */
  int64_t t0[MAX_INTENTS]; /* COMMIT returned to the producer */
  int64_t t1[MAX_INTENTS]; /* deliverer called */
  _Atomic int delivered;
  atomic_bool stop;
  int trial_id;
  /* relay thread results */
  rein_inbox *relay;
  int64_t cpu_ns;
  uint64_t rounds;
  int backend_pid;
  rein_status err;
} trial;

typedef struct opts {
  const char *dsn; /* with the schema */
  int rounds, intents, idle_s;
  int poll_a, poll_b, idle_poll_a, idle_poll_b;
  int64_t max_wait_ns;
  uint64_t seed;
  bool latency, idle, commit;
  int producers, commit_s;
} opts;

static void deliver(void *ctx, const rein_outbox_item *it,
                    const rein_decision *attempt, rein_outcome *out, char *err,
                    size_t cap) {
  (void)attempt;
  (void)err;
  (void)cap;
  int64_t now = mono_ns();
  trial *t = ctx;
  int tid = -1, i = -1;
  if (sscanf(it->msg_key, "b-%d-%d", &tid, &i) == 2 && tid == t->trial_id &&
      i >= 0 && i < t->n && t->t1[i] == 0) {
    t->t1[i] = now;
    atomic_fetch_add(&t->delivered, 1);
  }
  out->kind = REIN_OUTCOME_SUCCESS;
}

static void *relay_main(void *arg) {
  trial *t = arg;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *pol = NULL;
  if (rein_policy_new(&pc, &pol) != REIN_OK) {
    t->err = REIN_ENOMEM;
    return NULL;
  }
  int64_t c0 = thread_cpu_ns();
  /* bounded: at most one round per ms of a 10 minute run */
  for (long guard = 0; guard < 600000 && !atomic_load(&t->stop); guard++) {
    rein_outbox_stats s = {0};
    rein_status st =
        rein_outbox_relay(t->relay, pol, deliver, t, NULL, RELAY_MAX, &s);
    t->rounds++;
    if (st != REIN_OK) {
      t->err = st;
      fprintf(stderr, "relay: %s\n", rein_inbox_errmsg(t->relay));
      break;
    }
    if (s.delivered + s.retry + s.failed == RELAY_MAX) continue;
    if (t->m == M_LISTEN) {
      rein_outbox_wake why;
      st = rein_outbox_wait(t->relay, t->interval_ns, &why);
      if (st != REIN_OK)
        fprintf(stderr, "wait: %s\n", rein_inbox_errmsg(t->relay));
    } else {
      sleep_ns(t->interval_ns);
    }
  }
  t->cpu_ns = thread_cpu_ns() - c0;
  rein_policy_free(pol);
  return NULL;
}

/* ---- producer --------------------------------------------------------------
 */

typedef struct prod {
  trial *t;
  int cur;
} prod;

static rein_status prod_handler(void *ctx, rein_inbox_tx *tx,
                                const rein_broker_msg *m, char *err,
                                size_t cap) {
  (void)err;
  (void)cap;
  prod *p = ctx;
  rein_status st = rein_inbox_tx_outbox(tx, "charge", "bench://deliver",
                                        m->body, m->body_len, NULL);
  p->t->ts[p->cur] = mono_ns();
  return st;
}

static void prod_after_commit(void *ctx, const rein_broker_msg *m) {
  (void)m;
  prod *p = ctx;
  p->t->t0[p->cur] = mono_ns();
}

static rein_inbox *open_inbox(const opts *o, rein_inbox_handler h, void *hctx,
                              void (*after)(void *, const rein_broker_msg *)) {
  rein_inbox_config c;
  rein_inbox_config_default(&c);
  rein_errbuf err = {{0}};
  c.pg_conninfo = o->dsn;
  c.outbox_secret = SECRET;
  c.outbox_secret_len = strlen(SECRET);
  c.handler = h;
  c.handler_ctx = hctx;
  c.hooks.after_commit = after;
  c.hooks.ctx = hctx;
  c.err = &err;
  rein_inbox *ib = NULL;
  if (rein_inbox_pg_new(&c, &ib) != REIN_OK) {
    fprintf(stderr, "bench_outbox_relay: inbox: %s\n", err.msg);
    exit(1);
  }
  return ib;
}

static int listener_pid(const char *dsn, const char *channel) {
  PGconn *c = PQconnectdb(dsn);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN \"%s\"'",
           channel);
  PGresult *r = PQexec(c, sql);
  int pid = 0;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    pid = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return pid;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double median(int64_t *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static double median_d(double *v, int n) {
  int64_t tmp[MAX_ROUNDS * 4];
  for (int i = 0; i < n; i++)
    tmp[i] = (int64_t)(v[i] * 1e6);
  return median(tmp, n) / 1e6;
}

static void min_max(const double *v, int n, double *lo, double *hi) {
  *lo = *hi = n ? v[0] : 0;
  for (int i = 1; i < n; i++) {
    if (v[i] < *lo) *lo = v[i];
    if (v[i] > *hi) *hi = v[i];
  }
}

static const char *mode_name(mode m, int64_t interval_ns, char *buf,
                             size_t cap) {
  if (m == M_LISTEN)
    snprintf(buf, cap, "listen");
  else
    snprintf(buf, cap, "poll %" PRId64 " ms", interval_ns / REIN_NS_PER_MS);
  return buf;
}

typedef struct lat_res {
  double sent_med, sent_p90; /* from COMMIT sent (handler done), ms */
  double ret_med;            /* from COMMIT returned to the producer, ms */
  bool ok;                   /* every intent delivered */
} lat_res;

/* The median and p90 of t1 - from[] over the delivered intents, in ms. */
static void lat_stats(const trial *t, const int64_t *from, double *med,
                      double *p90) {
  int64_t lat[MAX_INTENTS];
  int k = 0;
  for (int i = 0; i < t->n; i++)
    if (t->t1[i]) lat[k++] = t->t1[i] - from[i];
  *med = median(lat, k) / 1e6; /* sorts lat */
  if (p90) *p90 = k ? lat[(k * 9) / 10 < k ? (k * 9) / 10 : k - 1] / 1e6 : 0;
}

/* One latency trial. */
static lat_res run_latency(const opts *o, mode m, int64_t interval_ns,
                           int trial_id, uint64_t *rng) {
  static trial t;
  memset(&t, 0, sizeof t);
  t.m = m;
  t.interval_ns = m == M_LISTEN ? o->max_wait_ns : interval_ns;
  t.n = o->intents;
  t.trial_id = trial_id;
  t.relay = open_inbox(o, NULL, NULL, NULL);
  prod p = {&t, 0};
  rein_inbox *pi = open_inbox(o, prod_handler, &p, prod_after_commit);
  pthread_t th;
  pthread_create(&th, NULL, relay_main, &t);
  sleep_ns(200 * REIN_NS_PER_MS); /* the relay is listening/polling */
  for (int i = 0; i < t.n; i++) {
    sleep_ns((int64_t)(100 + rng_next(rng) % 301) * REIN_NS_PER_MS);
    char key[48];
    snprintf(key, sizeof key, "b-%d-%d", trial_id, i);
    rein_broker_msg msg = {key, key, "{}", 2, 1, -1};
    rein_inbox_verdict v;
    p.cur = i;
    if (rein_inbox_process(pi, &msg, &v) != REIN_OK ||
        v != REIN_INBOX_PROCESSED) {
      fprintf(stderr, "producer: %s\n", rein_inbox_errmsg(pi));
      exit(1);
    }
  }
  int64_t until = mono_ns() + interval_ns + 5 * REIN_NS_PER_S;
  while (atomic_load(&t.delivered) < t.n && mono_ns() < until)
    sleep_ns(REIN_NS_PER_MS);
  atomic_store(&t.stop, true);
  /* wake a listening relay at once */
  char sql[200];
  snprintf(sql, sizeof sql, "NOTIFY \"%s\"", rein_outbox_channel(pi));
  PQclear(PQexec(rein_inbox_pg(pi), sql));
  pthread_join(th, NULL);
  lat_res res;
  res.ok = atomic_load(&t.delivered) == t.n && t.err == REIN_OK;
  lat_stats(&t, t.ts, &res.sent_med, &res.sent_p90);
  lat_stats(&t, t.t0, &res.ret_med, NULL);
  rein_inbox_free(pi);
  rein_inbox_free(t.relay);
  return res;
}

typedef struct idle_res {
  double thread_cpu_ms, backend_cpu_ms;
  uint64_t rounds;
} idle_res;

static idle_res run_idle(const opts *o, mode m, int64_t interval_ns) {
  static trial t;
  memset(&t, 0, sizeof t);
  t.m = m;
  t.interval_ns = m == M_LISTEN ? o->max_wait_ns : interval_ns;
  t.n = 0;
  t.trial_id = -1;
  t.relay = open_inbox(o, NULL, NULL, NULL);
  int inbox_pid = PQbackendPID(rein_inbox_pg(t.relay));
  pthread_t th;
  pthread_create(&th, NULL, relay_main, &t);
  sleep_ns(300 * REIN_NS_PER_MS); /* the listener is up */
  int lpid =
      m == M_LISTEN ? listener_pid(o->dsn, rein_outbox_channel(t.relay)) : 0;
  int64_t b0 = proc_cpu_ns(inbox_pid) + (lpid ? proc_cpu_ns(lpid) : 0);
  uint64_t r0 = t.rounds;
  sleep_ns((int64_t)o->idle_s * REIN_NS_PER_S);
  int64_t b1 = proc_cpu_ns(inbox_pid) + (lpid ? proc_cpu_ns(lpid) : 0);
  uint64_t r1 = t.rounds;
  atomic_store(&t.stop, true);
  if (m == M_LISTEN) {
    PGconn *c = PQconnectdb(o->dsn);
    char sql[200];
    snprintf(sql, sizeof sql, "NOTIFY \"%s\"", rein_outbox_channel(t.relay));
    PQclear(PQexec(c, sql));
    PQfinish(c);
  }
  pthread_join(th, NULL);
  idle_res r;
  /* the thread's CPU covers the 300 ms start too: a listen start-up
   * (connect + LISTEN) and a few poll rounds; small next to idle_s */
  r.thread_cpu_ms = t.cpu_ns / 1e6;
  r.backend_cpu_ms = b0 < 0 || b1 < 0 ? -1 : (b1 - b0) / 1e6;
  r.rounds = r1 - r0;
  rein_inbox_free(t.relay);
  return r;
}

/* ---- commit cost of the NOTIFY ------------------------------------------
 */

typedef struct committer {
  const char *dsn;
  const char *sql;
  int64_t until;
  long commits;
  bool failed;
} committer;

static void *commit_main(void *arg) {
  committer *c = arg;
  PGconn *conn = PQconnectdb(c->dsn);
  if (PQstatus(conn) != CONNECTION_OK) {
    c->failed = true;
    PQfinish(conn);
    return NULL;
  }
  /* bounded by time, and by count (10 M) */
  for (long i = 0; i < 10000000 && mono_ns() < c->until; i++) {
    PGresult *r = PQexec(conn, c->sql);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      fprintf(stderr, "commit: %s", PQerrorMessage(conn));
      c->failed = true;
      break;
    }
    c->commits++;
  }
  PQfinish(conn);
  return NULL;
}

/* Commits per second of --producers threads for --commit-s seconds. */
static double run_commit(const opts *o, bool notify, const char *channel,
                         PGconn *listener) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "BEGIN; INSERT INTO bench_commit(k, body) VALUES('k', "
           "'\\x7b7d'::bytea);%s%s%s COMMIT",
           notify ? " SELECT pg_notify('" : "", notify ? channel : "",
           notify ? "', '');" : "");
  committer cs[16];
  pthread_t th[16];
  int64_t t0 = mono_ns();
  for (int i = 0; i < o->producers; i++) {
    cs[i] =
        (committer){o->dsn, sql, t0 + o->commit_s * REIN_NS_PER_S, 0, false};
    pthread_create(&th[i], NULL, commit_main, &cs[i]);
  }
  long total = 0;
  bool failed = false;
  for (int i = 0; i < o->producers; i++) {
    pthread_join(th[i], NULL);
    total += cs[i].commits;
    failed |= cs[i].failed;
  }
  double secs = (mono_ns() - t0) / 1e9;
  /* drain what the listener was sent */
  PQconsumeInput(listener);
  for (PGnotify *n; (n = PQnotifies(listener)) != NULL;)
    PQfreemem(n);
  return failed ? -1 : total / secs;
}

static void usage(void) {
  fprintf(stderr,
          "usage: bench_outbox_relay [--latency] [--idle] [--rounds N]\n"
          "  [--intents N] [--poll-a MS] [--poll-b MS] [--idle-s S]\n"
          "  [--idle-poll-a MS] [--idle-poll-b MS] [--max-wait-ms MS]\n"
          "  [--seed N] [--commit] [--producers N] [--commit-s S]\n"
          "  (REIN_PG_DSN from scripts/services.sh)\n");
  exit(2);
}

int main(int argc, char **argv) {
  opts o = {0};
  o.rounds = 3;
  o.intents = 20;
  o.idle_s = 10;
  o.poll_a = 100;
  o.poll_b = 1000;
  o.idle_poll_a = 10;
  o.idle_poll_b = 100;
  o.max_wait_ns = 2 * REIN_NS_PER_S;
  o.seed = 20261204;
  o.producers = 4;
  o.commit_s = 3;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--latency"))
      o.latency = true;
    else if (!strcmp(a, "--idle"))
      o.idle = true;
    else if (!strcmp(a, "--commit"))
      o.commit = true;
    else if (v && !strcmp(a, "--producers"))
      o.producers = atoi(v), i++;
    else if (v && !strcmp(a, "--commit-s"))
      o.commit_s = atoi(v), i++;
    else if (v && !strcmp(a, "--rounds"))
      o.rounds = atoi(v), i++;
    else if (v && !strcmp(a, "--intents"))
      o.intents = atoi(v), i++;
    else if (v && !strcmp(a, "--poll-a"))
      o.poll_a = atoi(v), i++;
    else if (v && !strcmp(a, "--poll-b"))
      o.poll_b = atoi(v), i++;
    else if (v && !strcmp(a, "--idle-s"))
      o.idle_s = atoi(v), i++;
    else if (v && !strcmp(a, "--idle-poll-a"))
      o.idle_poll_a = atoi(v), i++;
    else if (v && !strcmp(a, "--idle-poll-b"))
      o.idle_poll_b = atoi(v), i++;
    else if (v && !strcmp(a, "--max-wait-ms"))
      o.max_wait_ns = atoll(v) * REIN_NS_PER_MS, i++;
    else if (v && !strcmp(a, "--seed"))
      o.seed = strtoull(v, NULL, 10), i++;
    else
      usage();
  }
  if (!o.latency && !o.idle && !o.commit) o.latency = true;
  if (o.rounds < 1 || o.rounds > MAX_ROUNDS || o.intents < 1 ||
      o.intents > MAX_INTENTS || o.idle_s < 1 || o.idle_s > 60 ||
      o.poll_a < 1 || o.poll_b < 1 || o.idle_poll_a < 1 || o.idle_poll_b < 1 ||
      o.producers < 1 || o.producers > 16 || o.commit_s < 1 || o.commit_s > 20)
    usage();
  const char *base = getenv("REIN_PG_DSN");
  if (!base || !*base) {
    fprintf(stderr, "bench_outbox_relay: REIN_PG_DSN is not set "
                    "(eval \"$(scripts/services.sh start DIR)\")\n");
    return 2;
  }
  char schema[64], dsn[1024], sql[256];
  snprintf(schema, sizeof schema, "rein_bench_relay_%d", (int)getpid());
  snprintf(dsn, sizeof dsn, "%s options='-csearch_path=%s'", base, schema);
  o.dsn = dsn;
  PGconn *adm = PQconnectdb(base);
  if (PQstatus(adm) != CONNECTION_OK) {
    fprintf(stderr, "bench_outbox_relay: %s", PQerrorMessage(adm));
    return 1;
  }
  snprintf(sql, sizeof sql,
           "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
           schema);
  PQclear(PQexec(adm, "SET client_min_messages = warning"));
  PQclear(PQexec(adm, sql));
  double load[3] = {0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  printf("bench_outbox_relay: seed %" PRIu64 ", rounds %d, load %.2f %.2f "
         "%.2f\n",
         o.seed, o.rounds, load[0], load[1], load[2]);
  uint64_t rng = o.seed;
  char nb[32];
  if (o.latency) {
    mode ms[3] = {M_LISTEN, M_POLL, M_POLL};
    int64_t iv[3] = {0, o.poll_a * REIN_NS_PER_MS, o.poll_b * REIN_NS_PER_MS};
    double med[3][MAX_ROUNDS], ret[3][MAX_ROUNDS];
    printf("\nlatency: COMMIT sent by the producer -> deliverer called "
           "(and from COMMIT returned), %d intents per run, gaps 100-400 "
           "ms, listen max_wait %" PRId64 " ms\n",
           o.intents, o.max_wait_ns / REIN_NS_PER_MS);
    printf("%-6s %-14s %12s %12s %16s\n", "round", "mode", "median ms",
           "p90 ms", "from return ms");
    int id = 0;
    for (int r = 0; r < o.rounds; r++)
      for (int k = 0; k < 3; k++) {
        lat_res x = run_latency(&o, ms[k], iv[k], id++, &rng);
        if (!x.ok) {
          fprintf(stderr, "bench_outbox_relay: intents went undelivered\n");
          return 1;
        }
        med[k][r] = x.sent_med;
        ret[k][r] = x.ret_med;
        printf("%-6d %-14s %12.3f %12.3f %16.3f\n", r + 1,
               mode_name(ms[k], iv[k], nb, sizeof nb), x.sent_med, x.sent_p90,
               x.ret_med);
        fflush(stdout);
      }
    printf("\nsummary (median over rounds; ratio = mode / listen in the "
           "same round, median (min-max))\n");
    for (int k = 0; k < 3; k++) {
      double rat[MAX_ROUNDS], lo, hi;
      for (int r = 0; r < o.rounds; r++)
        rat[r] = med[0][r] > 0 ? med[k][r] / med[0][r] : 0;
      min_max(rat, o.rounds, &lo, &hi);
      double m = median_d(med[k], o.rounds), mr = median_d(ret[k], o.rounds);
      if (k == 0)
        printf("  %-14s median %9.3f ms (from return %.3f)\n",
               mode_name(ms[k], iv[k], nb, sizeof nb), m, mr);
      else
        printf("  %-14s median %9.3f ms (from return %.3f)   ratio %.0f "
               "(%.0f-%.0f)\n",
               mode_name(ms[k], iv[k], nb, sizeof nb), m, mr,
               median_d(rat, o.rounds), lo, hi);
    }
  }
  if (o.idle) {
    mode ms[3] = {M_LISTEN, M_POLL, M_POLL};
    int64_t iv[3] = {0, o.idle_poll_a * REIN_NS_PER_MS,
                     o.idle_poll_b * REIN_NS_PER_MS};
    double th[3][MAX_ROUNDS], be[3][MAX_ROUNDS];
    printf("\nidle: %d s without intents; relay thread CPU, its PostgreSQL "
           "backends' CPU (/proc, 10 ms ticks), rounds run\n",
           o.idle_s);
    printf("%-6s %-14s %14s %16s %8s\n", "round", "mode", "thread CPU ms",
           "backend CPU ms", "rounds");
    for (int r = 0; r < o.rounds; r++)
      for (int k = 0; k < 3; k++) {
        idle_res x = run_idle(&o, ms[k], iv[k]);
        th[k][r] = x.thread_cpu_ms;
        be[k][r] = x.backend_cpu_ms;
        printf("%-6d %-14s %14.3f %16.1f %8" PRIu64 "\n", r + 1,
               mode_name(ms[k], iv[k], nb, sizeof nb), x.thread_cpu_ms,
               x.backend_cpu_ms, x.rounds);
        fflush(stdout);
      }
    printf("\nsummary (median over rounds; per-%d s figures)\n", o.idle_s);
    for (int k = 0; k < 3; k++)
      printf("  %-14s thread CPU %9.3f ms   backend CPU %8.1f ms\n",
             mode_name(ms[k], iv[k], nb, sizeof nb), median_d(th[k], o.rounds),
             median_d(be[k], o.rounds));
  }
  if (o.commit) {
    PGconn *l = PQconnectdb(dsn);
    PQclear(PQexec(l, "CREATE TABLE bench_commit(id bigserial PRIMARY KEY, "
                      "k text NOT NULL, body bytea NOT NULL)"));
    char channel[80];
    snprintf(channel, sizeof channel, "rein_outbox.%s", schema);
    snprintf(sql, sizeof sql, "LISTEN \"%s\"", channel);
    PQclear(PQexec(l, sql));
    double none[MAX_ROUNDS], with[MAX_ROUNDS], rat[MAX_ROUNDS], lo, hi;
    printf("\ncommit: %d producers, %d s per run, one-row transactions, a "
           "listener on the channel\n",
           o.producers, o.commit_s);
    printf("%-6s %16s %16s %8s\n", "round", "no notify /s", "notify /s",
           "ratio");
    for (int r = 0; r < o.rounds; r++) {
      /* alternate which goes first */
      if (r % 2 == 0) {
        none[r] = run_commit(&o, false, channel, l);
        with[r] = run_commit(&o, true, channel, l);
      } else {
        with[r] = run_commit(&o, true, channel, l);
        none[r] = run_commit(&o, false, channel, l);
      }
      rat[r] = none[r] > 0 ? with[r] / none[r] : 0;
      printf("%-6d %16.0f %16.0f %8.3f\n", r + 1, none[r], with[r], rat[r]);
      fflush(stdout);
    }
    min_max(rat, o.rounds, &lo, &hi);
    printf("\nsummary: no notify %.0f/s, notify %.0f/s (medians); ratio "
           "notify / none %.3f (%.3f-%.3f)\n",
           median_d(none, o.rounds), median_d(with, o.rounds),
           median_d(rat, o.rounds), lo, hi);
    PQfinish(l);
  }
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
  PQclear(PQexec(adm, sql));
  PQfinish(adm);
  return 0;
}
