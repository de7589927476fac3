/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger.c: a small payments ledger over HTTP, the service rein's live demo,
 * crash test and benchmarks run against.
 *
 *   POST /charges            {"account":"acct_1","amount_cents":1250,"ref":..}
 *                            with Idempotency-Key through rein_idem_http
 *   GET  /charges            ?key= ?principal= ?ref= ?after_id= ?limit=
 *   GET  /charges/summary    totals, and duplicates by client ref
 *   GET  /metrics            Prometheus text
 *   GET  /healthz
 *   POST /admin/outage?seconds=N   fail POST /charges for N seconds
 *
 * Design. libmicrohttpd runs one thread per connection; every POST is
 * then admitted by rein_admit (rein/admit.h: a concurrency limit of
 * --workers, a bounded queue of --queue, CoDel-style queueing-time targets,
 * retries shed first by their Rein-Attempt header, Retry-After from the
 * drain rate, optional --rate-limit) and, once admitted, takes one of the
 * --workers slots (each slot owns its own SQLite connection and its own
 * idempotency-store connection, since those are one thread at a time). An
 * overloaded ledger thus answers fast 503s with Retry-After instead of slow
 * timeouts. --work-ms (or --capacity) adds simulated processing time so
 * demos can overload it at modest rates.
 *
 * A long tail. --slow-tail P:DURATION makes each POST /charges, with
 * probability P, wait DURATION more before it is admitted: the shape of
 * "The Tail at Scale" (a few requests 100x slower, from queueing, a pause,
 * a slow disk) that hedged requests are for. The draw is request n's value
 * of a splitmix64 sequence seeded by --seed (n = arrival order, an atomic
 * counter), so it takes no lock; the wait is a sleep in the connection's
 * own thread that holds no lock, no worker slot and no admission ticket,
 * so a slow request delays nobody else. It comes before the idempotency
 * key is taken: a hedge of a slow keyed request charges, and the slow
 * original, when it wakes, replays that charge.
 *
 * Exactly-once: the charge row is UNIQUE on (principal, idempotency key) in
 * the ledger's own table (see ledger_db.c), so even a crash between the
 * charge commit and the store's completion cannot double-charge: the retry
 * that recovers the lease finds the row and answers with it. The charge is
 * committed before any response is sent, so an acknowledged charge exists.
 *
 * Trust. The principal is what a verified `Authorization: Bearer <token>`
 * names (ledger_auth.h: an HMAC-SHA256 token minted with the key given at
 * start-up, `ledger --mint-token P`); no header the client sets freely can
 * claim one. GET /charges lists the caller's own charges; the admin
 * endpoints (POST /admin/outage, GET /charges/summary) take the "_admin"
 * token and a loopback peer. Hostile peers: every request head must arrive
 * within --request-timeout-s, one address holds at most --max-conns-per-ip
 * connections, a head holds at most LEDGER_HDR_MAX fields in
 * LEDGER_CONN_MEMORY bytes, and a key the ledger cannot read is a 400/431,
 * never "no key" (rein_idem_http_read_key). Binds 127.0.0.1 only.
 *
 * Deadlines. A caller says how long it waits (Rein-Deadline, grpc-timeout,
 * Connect-Timeout-Ms or Envoy's x-envoy-expected-rq-timeout-ms;
 * rein_deadline_in). The ledger does no work nobody waits for: once
 * admitted, it refuses (504) a charge it cannot finish in the time left
 * (--work-ms), and it checks again before the insert, so no charge is
 * committed after its caller gave up; a key is released, not stored, so a
 * retry with time left charges. --ignore-deadline turns this off (the
 * control of the deadline tests); a deadline header it cannot read is 400.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ledger_auth.h"
#include "ledger_db.h"
#include "ledger_hdrs.h"
#include "ledger_json.h"
#include "rein/admit.h"
#include "rein/clock.h"
#include "rein/idem.h"
#include "rein/idem_http.h"
#include "rein/input.h"
#include "rein/rng.h"
#include "rein/signal.h"

#define BODY_MAX (64 * 1024)
/* libmicrohttpd's per-connection pool: the request head must fit (it
 * answers 431 itself when it does not). */
#define LEDGER_CONN_MEMORY ((size_t)64 * 1024)
#define ROUTE_CHARGES "/charges"

/* ---- options ------------------------------------------------------------- */

typedef struct options {
  unsigned port;
  const char *port_file;
  const char *db_path;
  const char *store; /* spec; NULL = sqlite:<db_path> */
  bool no_idem;
  bool require_key;
  int64_t lease_ms;
  int64_t retention_s;
  int workers;
  int queue;
  int64_t queue_timeout_ms;
  int64_t admit_target_ms; /* 0 = derived from --work-ms */
  int64_t rate_limit;      /* requests per second; 0 = off */
  int64_t work_us;
  double capacity;
  int64_t fail_start_s, fail_end_s; /* -1 = none */
  int outage_status;
  bool sync_full;
  int64_t purge_interval_s;
  bool quiet;
  const char *auth_key_file; /* NULL = $LEDGER_AUTH_KEY */
  const char *mint_token;    /* --mint-token PRINCIPAL: print, exit */
  int64_t request_timeout_s;
  int64_t idle_timeout_s;
  int64_t max_connections;
  int64_t max_conns_per_ip;
  bool ignore_deadline;
  double slow_p;        /* --slow-tail: probability, [0, 1] */
  int64_t slow_ns;      /* --slow-tail: the added wait */
  uint64_t seed;        /* --seed: the slow-tail draws */
  int crash_at;         /* REIN_LEDGER_CRASH_AT (tests): see crash_point */
} options;

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: ledger [options]\n"
      "  --port N               listen on 127.0.0.1:N (0 = pick a free port, "
      "printed)\n"
      "  --port-file PATH       also write the port to PATH once listening\n"
      "  --db PATH              charges database (SQLite; default ledger.db)\n"
      "  --store SPEC           idempotency store: sqlite:PATH (default: the "
      "--db\n"
      "                         file), memory, pg:CONNINFO, redis:HOST:PORT\n"
      "  --no-idem              no idempotency helper (baseline for "
      "benchmarks)\n"
      "  --require-key          POST /charges without Idempotency-Key -> 400\n"
      "  --lease-ms N           idempotency lease (default 30000)\n"
      "  --retention-s N        idempotency retention (default 86400)\n"
      "  --workers N            worker slots (default 4)\n"
      "  --queue N              requests that may wait for a slot (default "
      "64)\n"
      "  --queue-timeout-ms N   longest wait for a slot before 503 (default "
      "1000)\n"
      "  --admit-target-ms N    CoDel target queueing delay (default: the "
      "larger\n"
      "                         of 5 ms and twice --work-ms)\n"
      "  --rate-limit N         answer 429 above N requests/s (default off)\n"
      "  --work-ms N            simulated work per charge (default 0)\n"
      "  --capacity R           charges/s the ledger serves: sets --work-ms "
      "to\n"
      "                         workers*1000/R\n"
      "  --fail-window S:E      fail POST /charges from S to E seconds after "
      "start\n"
      "  --slow-tail P:DURATION each POST /charges, with probability P in "
      "[0, 1],\n"
      "                         waits DURATION (e.g. 1s, 250ms; at most 1h) "
      "more\n"
      "                         before it is admitted (0.01:1s: 1%% take 1 s "
      "longer)\n"
      "  --seed N               seed of the --slow-tail draws (default 1)\n"
      "  --outage-status N      status during an outage: 503 or 500 (default "
      "503)\n"
      "  --sync normal|full     SQLite synchronous (default normal: survives "
      "a\n"
      "                         process crash; full: also power loss)\n"
      "  --purge-interval-s N   purge expired idempotency keys every N s (60)\n"
      "  --quiet                no log lines on stderr\n"
      "  --ignore-deadline      do charges whose caller's deadline (Rein-Deadline,\n"
      "                         grpc-timeout, ...) has passed (a control)\n"
      "  --auth-key-file PATH   HMAC key for bearer tokens (at least 32 "
      "bytes);\n"
      "                         default: the LEDGER_AUTH_KEY environment "
      "variable\n"
      "  --mint-token P         print the bearer token of principal P "
      "(\"_admin\"\n"
      "                         for the admin endpoints) and exit\n"
      "  --request-timeout-s N  a request's head and body must arrive "
      "within N s\n"
      "                         of the connection opening or the previous "
      "response\n"
      "                         (default 10); else the connection is closed\n"
      "  --idle-timeout-s N     close a connection silent for N s (default "
      "30)\n"
      "  --max-connections N    open connections in all (default 1024)\n"
      "  --max-conns-per-ip N   open connections per client address "
      "(default 64)\n");
}

static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

/* What a valid value of option `c` looks like, for error messages. */
static const char *expected(int c) {
  switch (c) {
  case 'p':
    return "a port in [0, 65535]";
  case 'l':
    return "milliseconds in [1, 86400000]";
  case 'r':
    return "seconds in [1, 31622400]";
  case 'w':
    return "an integer in [1, 256]";
  case 'q':
    return "an integer in [0, 100000]";
  case 'Q':
  case 'W':
    return "milliseconds in [0, 600000]";
  case 'c':
    return "charges per second in (0, 1e7]";
  case 'f':
    return "START:END seconds with 0 <= START < END";
  case 'o':
    return "503 or 500";
  case 'y':
    return "normal or full";
  case 'g':
    return "seconds in [1, 86400]";
  case 'T':
    return "milliseconds in [1, 60000]";
  case 'L':
    return "requests per second in [1, 1000000000]";
  case 'H':
  case 'I':
    return "seconds in [1, 3600]";
  case 'C':
    return "an integer in [1, 16384]";
  case 'K':
    return "an integer in [1, 16384], at most --max-connections";
  case 'S':
    return "P:DURATION, a probability P in [0, 1] and a duration in "
           "(0, 1h] such as 0.01:1s or 0.05:250ms";
  case 'e':
    return "an integer in [0, 18446744073709551615]";
  default:
    return "a valid value";
  }
}

static int parse_options(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->db_path = "ledger.db";
  o->lease_ms = 30000;
  o->retention_s = 86400;
  o->workers = 4;
  o->queue = 64;
  o->queue_timeout_ms = 1000;
  o->fail_start_s = o->fail_end_s = -1;
  o->outage_status = 503;
  o->purge_interval_s = 60;
  o->request_timeout_s = 10;
  o->idle_timeout_s = 30;
  o->max_connections = 1024;
  o->max_conns_per_ip = 64;
  o->seed = 1;
  static const struct option lo[] = {{"port", 1, 0, 'p'},
                                     {"port-file", 1, 0, 'P'},
                                     {"db", 1, 0, 'd'},
                                     {"store", 1, 0, 's'},
                                     {"no-idem", 0, 0, 'N'},
                                     {"require-key", 0, 0, 'R'},
                                     {"lease-ms", 1, 0, 'l'},
                                     {"retention-s", 1, 0, 'r'},
                                     {"workers", 1, 0, 'w'},
                                     {"queue", 1, 0, 'q'},
                                     {"queue-timeout-ms", 1, 0, 'Q'},
                                     {"work-ms", 1, 0, 'W'},
                                     {"capacity", 1, 0, 'c'},
                                     {"fail-window", 1, 0, 'f'},
                                     {"outage-status", 1, 0, 'o'},
                                     {"sync", 1, 0, 'y'},
                                     {"purge-interval-s", 1, 0, 'g'},
                                     {"quiet", 0, 0, 'z'},
                                     {"ignore-deadline", 0, 0, 'D'},
                                     {"admit-target-ms", 1, 0, 'T'},
                                     {"rate-limit", 1, 0, 'L'},
                                     {"auth-key-file", 1, 0, 'A'},
                                     {"mint-token", 1, 0, 'M'},
                                     {"request-timeout-s", 1, 0, 'H'},
                                     {"idle-timeout-s", 1, 0, 'I'},
                                     {"max-connections", 1, 0, 'C'},
                                     {"max-conns-per-ip", 1, 0, 'K'},
                                     {"slow-tail", 1, 0, 'S'},
                                     {"seed", 1, 0, 'e'},
                                     {"help", 0, 0, 'h'},
                                     {0, 0, 0, 0}};
  int c;
  int64_t v;
  int li = 0;
  while ((c = getopt_long(argc, argv, "", lo, &li)) != -1) {
    switch (c) {
    case 'p':
      if (!parse_i64(optarg, 0, 65535, &v)) goto bad;
      o->port = (unsigned)v;
      break;
    case 'P':
      o->port_file = optarg;
      break;
    case 'd':
      o->db_path = optarg;
      break;
    case 's':
      if (strcmp(optarg, "memory") && strncmp(optarg, "sqlite:", 7) &&
          strncmp(optarg, "pg:", 3) && strncmp(optarg, "redis:", 6)) {
        fprintf(stderr,
                "ledger: --store: expected sqlite:PATH, memory, pg:CONNINFO "
                "or redis:HOST:PORT, got '%s'\n",
                optarg);
        return -1;
      }
      o->store = optarg;
      break;
    case 'N':
      o->no_idem = true;
      break;
    case 'R':
      o->require_key = true;
      break;
    case 'l':
      if (!parse_i64(optarg, 1, 86400000, &o->lease_ms)) goto bad;
      break;
    case 'r':
      if (!parse_i64(optarg, 1, 366 * 86400, &o->retention_s)) goto bad;
      break;
    case 'w':
      if (!parse_i64(optarg, 1, 256, &v)) goto bad;
      o->workers = (int)v;
      break;
    case 'q':
      if (!parse_i64(optarg, 0, 100000, &v)) goto bad;
      o->queue = (int)v;
      break;
    case 'Q':
      if (!parse_i64(optarg, 0, 600000, &o->queue_timeout_ms)) goto bad;
      break;
    case 'W':
      if (!parse_i64(optarg, 0, 600000, &v)) goto bad;
      o->work_us = v * 1000;
      break;
    case 'c': {
      char *end;
      o->capacity = strtod(optarg, &end);
      if (*end || !(o->capacity > 0 && o->capacity <= 1e7)) goto bad;
      break;
    }
    case 'f': {
      long long a, b;
      char tail;
      if (sscanf(optarg, "%lld:%lld%c", &a, &b, &tail) != 2 || a < 0 || b <= a)
        goto bad;
      o->fail_start_s = a;
      o->fail_end_s = b;
      break;
    }
    case 'o':
      if (!parse_i64(optarg, 500, 503, &v) || (v != 500 && v != 503)) goto bad;
      o->outage_status = (int)v;
      break;
    case 'y':
      if (!strcmp(optarg, "full"))
        o->sync_full = true;
      else if (!strcmp(optarg, "normal"))
        o->sync_full = false;
      else
        goto bad;
      break;
    case 'g':
      if (!parse_i64(optarg, 1, 86400, &o->purge_interval_s)) goto bad;
      break;
    case 'D':
      o->ignore_deadline = true;
      break;
    case 'z':
      o->quiet = true;
      break;
    case 'T':
      if (!parse_i64(optarg, 1, 60000, &o->admit_target_ms)) goto bad;
      break;
    case 'L':
      if (!parse_i64(optarg, 1, 1000000000, &o->rate_limit)) goto bad;
      break;
    case 'A':
      o->auth_key_file = optarg;
      break;
    case 'M':
      o->mint_token = optarg;
      break;
    case 'H':
      if (!parse_i64(optarg, 1, 3600, &o->request_timeout_s)) goto bad;
      break;
    case 'I':
      if (!parse_i64(optarg, 1, 3600, &o->idle_timeout_s)) goto bad;
      break;
    case 'C':
      if (!parse_i64(optarg, 1, 16384, &o->max_connections)) goto bad;
      break;
    case 'K':
      if (!parse_i64(optarg, 1, 16384, &o->max_conns_per_ip)) goto bad;
      break;
    case 'S': {
      /* P:DURATION; the duration in rein's one grammar (rein/input.h). */
      const char *colon = strchr(optarg, ':');
      if (!colon || colon == optarg) goto bad;
      char pbuf[64];
      size_t pl = (size_t)(colon - optarg);
      if (pl >= sizeof pbuf) goto bad;
      memcpy(pbuf, optarg, pl);
      pbuf[pl] = '\0';
      char *end;
      errno = 0;
      double pr = strtod(pbuf, &end);
      int64_t ns = 0;
      if (errno || *end || !(pr >= 0 && pr <= 1) ||
          rein_parse_duration(colon + 1, &ns) != REIN_OK || ns <= 0 ||
          ns > 3600 * REIN_NS_PER_S)
        goto bad;
      o->slow_p = pr;
      o->slow_ns = ns;
      break;
    }
    case 'e': {
      char *end;
      errno = 0;
      unsigned long long sv = strtoull(optarg, &end, 10);
      if (errno || end == optarg || *end || optarg[0] == '-') goto bad;
      o->seed = (uint64_t)sv;
      break;
    }
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return -1;
    }
    continue;
  bad:
    fprintf(stderr, "ledger: --%s: bad value '%s': expected %s (see --help)\n",
            lo[li].name, optarg, expected(c));
    return -1;
  }
  if (optind < argc) {
    fprintf(stderr, "ledger: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  if (o->lease_ms > o->retention_s * 1000) {
    fprintf(stderr, "ledger: --lease-ms must not exceed --retention-s\n");
    return -1;
  }
  if (o->max_conns_per_ip > o->max_connections) {
    fprintf(stderr, "ledger: --max-conns-per-ip must not exceed "
                    "--max-connections\n");
    return -1;
  }
  if (o->capacity > 0) o->work_us = (int64_t)(o->workers * 1e6 / o->capacity);
  return 0;
}

/* ---- the service --------------------------------------------------------- */

typedef struct worker {
  ledger_db *db;
  rein_idem_store *store;
  bool shares_db; /* the store uses db's connection (SQLite, same file) */
} worker;

enum {
  M_REQ_CHARGE_POST,
  M_REQ_CHARGE_GET,
  M_REQ_OTHER,
  M_CHARGES,    /* rows inserted */
  M_CHARGE_DUP, /* handler reran on an existing keyed row (recovery) */
  M_SHED,       /* 503 queue full / queue timeout */
  M_OUTAGE,     /* failed during an injected outage */
  M_DB_ERRORS,
  M_STORE_COMPLETE_FAILED,
  M_PURGED, /* expired idempotency keys removed by the janitor */
  M_DEADLINE_START,  /* 504: not enough time left to start the charge */
  M_DEADLINE_COMMIT, /* 504: the deadline passed during the work */
  M_DEADLINE_SEEN,   /* POST /charges that carried a deadline */
  M_SLOW_TAIL,       /* POST /charges slowed by --slow-tail */
  M_COUNT
};

static const int TRACKED_CODES[] = {200, 201, 400, 401, 403, 404, 405,
                                    409, 413, 422, 431, 500, 503, 504};
#define N_CODES (sizeof TRACKED_CODES / sizeof TRACKED_CODES[0])

/* One open connection, for the request deadline (see reaper()). */
typedef struct conn_ctx {
  struct conn_ctx *prev, *next;
  MHD_socket fd;
  int64_t deadline_ns; /* 0: a request is being processed (no deadline) */
  bool closed_by_us;
} conn_ctx;

typedef struct ledger {
  options opt;
  ledger_key key;
  pthread_mutex_t conn_mu; /* guards conns and every conn_ctx */
  conn_ctx conns;          /* list head */
  _Atomic uint64_t timed_out;
  rein_idem_http *idem;
  worker *workers;
  int n_workers;
  rein_idem_store *shared_store; /* memory store, shared by all workers */
  rein_admit *admit;
  pthread_mutex_t mu; /* guards free_slots, n_free, stopping */
  pthread_cond_t janitor_cv;
  int *free_slots;
  int n_free;
  int stopping;
  ledger_db *reader;
  pthread_mutex_t reader_mu;
  _Atomic uint64_t m[M_COUNT];
  _Atomic uint64_t codes[N_CODES + 1];
  _Atomic int64_t inflight;
  _Atomic int64_t outage_until_ns;
  _Atomic uint64_t slow_draws; /* --slow-tail: POST /charges drawn so far */
  int64_t start_ns;
  rein_clock clock;
} ledger;

static void inc(ledger *l, int i) {
  atomic_fetch_add_explicit(&l->m[i], 1, memory_order_relaxed);
}

static int64_t now_ns(ledger *l) {
  return rein_clock_now(&l->clock);
}

static void logf_(ledger *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(ledger *l, const char *fmt, ...) {
  if (l->opt.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("ledger: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_resp(ledger *l, struct MHD_Connection *conn,
                                 int status, const rein_idem_http_header *h1,
                                 size_t n1, const rein_idem_http_header *h2,
                                 size_t n2, const void *body, size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  for (size_t i = 0; i < n1; i++)
    MHD_add_response_header(r, h1[i].name, h1[i].value);
  for (size_t i = 0; i < n2; i++)
    MHD_add_response_header(r, h2[i].name, h2[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  size_t k = 0;
  while (k < N_CODES && TRACKED_CODES[k] != status)
    k++;
  atomic_fetch_add_explicit(&l->codes[k], 1, memory_order_relaxed);
  return ret;
}

static enum MHD_Result send_json(ledger *l, struct MHD_Connection *conn,
                                 int status, const char *body) {
  static const rein_idem_http_header h[] = {
      {"Content-Type", "application/json"}};
  return send_resp(l, conn, status, h, 1, NULL, 0, body, strlen(body));
}

/* A problem+json answer for the ledger's own errors; `extra` headers (e.g.
 * Retry-After) may be NULL. */
static enum MHD_Result send_problem(ledger *l, struct MHD_Connection *conn,
                                    int status, const char *kind,
                                    const char *title, const char *detail,
                                    const rein_idem_http_header *extra,
                                    size_t n_extra) {
  char type[128], body[1024];
  snprintf(type, sizeof type, "urn:rein:problem:ledger-%s", kind);
  size_t need = 0;
  rein_idem_http_problem(body, sizeof body, &need, type, title, status, detail);
  static const rein_idem_http_header h[] = {
      {"Content-Type", REIN_IDEM_HTTP_PROBLEM_CT}};
  return send_resp(l, conn, status, h, 1, extra, n_extra, body, strlen(body));
}

/* ---- admission: rein_admit, then a worker slot --------------------------- */

/* An admitted request always finds a slot: the admission limit is the
 * number of workers. */
static int take_slot(ledger *l) {
  pthread_mutex_lock(&l->mu);
  int slot = l->n_free > 0 ? l->free_slots[--l->n_free] : -1;
  pthread_mutex_unlock(&l->mu);
  return slot;
}

static void give_slot(ledger *l, int slot) {
  pthread_mutex_lock(&l->mu);
  l->free_slots[l->n_free++] = slot;
  pthread_mutex_unlock(&l->mu);
}

static bool in_outage(ledger *l) {
  int64_t now = now_ns(l);
  if (now < atomic_load_explicit(&l->outage_until_ns, memory_order_relaxed))
    return true;
  if (l->opt.fail_start_s >= 0) {
    int64_t since = now - l->start_ns;
    return since >= l->opt.fail_start_s * REIN_NS_PER_S &&
           since < l->opt.fail_end_s * REIN_NS_PER_S;
  }
  return false;
}

/* --slow-tail: whether this request is one of the slow ones. Request n
 * (arrival order) takes the n-th value of the splitmix64 sequence seeded
 * by --seed, so the draws need no lock and one seed gives one set. */
static bool slow_draw(ledger *l) {
  if (l->opt.slow_p <= 0) return false;
  uint64_t n = atomic_fetch_add_explicit(&l->slow_draws, 1,
                                         memory_order_relaxed);
  uint64_t st = l->opt.seed + n * UINT64_C(0x9e3779b97f4a7c15);
  double u = (double)(rein_splitmix64(&st) >> 11) * 0x1.0p-53;
  return u < l->opt.slow_p;
}

/* ---- request context ----------------------------------------------------- */

typedef struct req_ctx {
  char *body;
  size_t len, cap;
  bool too_big;
} req_ctx;

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
  (void)kind;
  return ledger_hdrs_add(cls, key, value) ? MHD_YES : MHD_NO;
}

/* Whether the peer is on loopback (127.0.0.0/8 or ::1). */
static bool peer_is_loopback(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return false;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) ==
           127;
  if (sa->sa_family == AF_INET6) {
    static const unsigned char lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 1};
    return !memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, lo6, 16);
  }
  return false;
}

/* The caller's identity from a verified bearer token; NULL when there is
 * none or it does not verify, with *why saying which. */
static const char *principal_of(ledger *l, struct MHD_Connection *conn,
                                char *out, size_t cap, const char **why) {
  if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Principal")) {
    *why = "X-Principal is not accepted: a principal comes from a verified "
           "token. Send Authorization: Bearer <token> (ledger --mint-token "
           "PRINCIPAL).";
    return NULL;
  }
  const char *auth =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  *why = "Send Authorization: Bearer <token>, a token minted with the "
         "ledger's key (ledger --mint-token PRINCIPAL).";
  if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return NULL;
  const char *t = auth + 7;
  while (*t == ' ')
    t++;
  size_t n = strlen(t);
  while (n && t[n - 1] == ' ')
    n--;
  if (!ledger_auth_verify(&l->key, t, n, out, cap)) {
    *why = "The bearer token does not verify (wrong key, altered, or not "
           "a ledger token); mint one with ledger --mint-token PRINCIPAL.";
    return NULL;
  }
  return out;
}

static enum MHD_Result unauthorized(ledger *l, struct MHD_Connection *conn,
                                    const char *why,
                                    const rein_idem_http_header *extra,
                                    size_t n_extra) {
  rein_idem_http_header h[3] = {
      {"WWW-Authenticate", "Bearer realm=\"ledger\""}};
  size_t n = 1;
  for (size_t i = 0; i < n_extra && n < 3; i++)
    h[n++] = extra[i];
  return send_problem(l, conn, 401, "unauthorized", "Bad credentials", why, h,
                      n);
}

/* The admin endpoints: the "_admin" token, from loopback. NULL when
 * allowed, else the answer already queued in *ret. */
static bool admin_ok(ledger *l, struct MHD_Connection *conn,
                     enum MHD_Result *ret) {
  char p[LEDGER_PRINCIPAL_MAX + 1];
  const char *why;
  if (!peer_is_loopback(conn)) {
    *ret = send_problem(l, conn, 403, "forbidden", "Forbidden",
                        "The admin endpoints answer loopback peers only.", NULL,
                        0);
    return false;
  }
  if (!principal_of(l, conn, p, sizeof p, &why)) {
    *ret = unauthorized(l, conn, why, NULL, 0);
    return false;
  }
  if (strcmp(p, LEDGER_ADMIN_PRINCIPAL) != 0) {
    *ret =
        send_problem(l, conn, 403, "forbidden", "Forbidden",
                     "This endpoint needs the " LEDGER_ADMIN_PRINCIPAL
                     " token (ledger --mint-token " LEDGER_ADMIN_PRINCIPAL ").",
                     NULL, 0);
    return false;
  }
  return true;
}

/* ---- POST /charges ------------------------------------------------------- */

static size_t charge_json(const ledger_charge *c, char *buf, size_t cap) {
  size_t n =
      (size_t)snprintf(buf, cap, "{\"id\":%" PRId64 ",\"principal\":", c->id);
  ledger_json_str(buf, cap, &n, c->principal);
  n += (size_t)snprintf(buf + n, cap - n, ",\"idempotency_key\":");
  if (c->has_key)
    ledger_json_str(buf, cap, &n, c->key);
  else
    n += (size_t)snprintf(buf + n, cap - n, "null");
  n += (size_t)snprintf(buf + n, cap - n, ",\"account\":");
  ledger_json_str(buf, cap, &n, c->account);
  n += (size_t)snprintf(
      buf + n, cap - n,
      ",\"amount_cents\":%" PRId64 ",\"ref\":", c->amount_cents);
  if (c->has_ref)
    ledger_json_str(buf, cap, &n, c->ref);
  else
    n += (size_t)snprintf(buf + n, cap - n, "null");
  n += (size_t)snprintf(buf + n, cap - n, ",\"created_unix_ms\":%" PRId64 "}",
                        c->created_unix_ms);
  return n;
}

/* Test hook: REIN_LEDGER_CRASH_AT=claimed|charged|completed|committed
 * makes the first keyed POST /charges that reaches that point SIGKILL the
 * whole process there (after the claim is taken, after the charge row is
 * written, after the response is stored, after the commit), so a test can
 * restart it and check that the charge and its stored response exist
 * together or not at all (tests/e2e/test_ledger_steps.c). Unset: nothing. */
enum {
  CRASH_NONE,
  CRASH_CLAIMED,
  CRASH_CHARGED,
  CRASH_COMPLETED,
  CRASH_COMMITTED
};

static int crash_at_env(void) {
  static const char *const names[] = {"claimed", "charged", "completed",
                                      "committed"};
  const char *v = getenv("REIN_LEDGER_CRASH_AT");
  if (!v || !*v) return CRASH_NONE;
  for (int i = 0; i < 4; i++)
    if (strcmp(v, names[i]) == 0) return CRASH_CLAIMED + i;
  fprintf(stderr,
          "ledger: REIN_LEDGER_CRASH_AT=%s: expected claimed, "
          "charged, completed or committed\n",
          v);
  exit(2);
}

static void crash_point(const ledger *l, int where) {
  if (l->opt.crash_at == where) raise(SIGKILL);
}

static void sleep_us(int64_t us) {
  if (us <= 0) return;
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static int open_store(ledger *l, worker *w);

/* Frees the exchange; a store whose connection is gone (REIN_ECLOSED: the
 * handle is unusable) is dropped, and the next request on this worker
 * opens a new one. */
static void finish(ledger *l, worker *w, rein_idem_http_exchange *x) {
  if (x && rein_idem_http_exchange_store_status(x) == REIN_ECLOSED &&
      w->store && w->store != l->shared_store) {
    logf_(l, "idempotency store connection lost: %s; reconnecting",
          rein_idem_http_exchange_store_message(x));
    rein_idem_store_free(w->store);
    w->store = NULL;
  }
  rein_idem_http_exchange_free(x);
}

/* 503: the charge was not recorded. `xh` (the exchange's headers: the
 * retention) is added after Retry-After. */
static enum MHD_Result db_unavailable(ledger *l, struct MHD_Connection *conn,
                                      const rein_idem_http_header *xh,
                                      size_t n_xh) {
  rein_idem_http_header h[1 + 4] = {{"Retry-After", "1"}};
  size_t n = 1;
  for (size_t i = 0; i < n_xh && n < 5; i++)
    h[n++] = xh[i];
  return send_problem(l, conn, 503, "database", "Database unavailable",
                      "The charge was not recorded; retry with the same "
                      "Idempotency-Key.",
                      h, n);
}

/* Runs the charge under an acquired worker slot. */
static enum MHD_Result charge_with_slot(ledger *l, worker *w,
                                        struct MHD_Connection *conn,
                                        const char *principal,
                                        const req_ctx *rc,
                                        const ledger_charge_req *creq,
                                        int64_t deadline) {
  rein_idem_http_exchange *x = NULL;
  const rein_idem_http_header *xh = NULL;
  size_t n_xh = 0;
  const char *key = NULL;
  uint8_t fp[32] = {0};
  /* One transaction for the claim, the charge and the stored response,
   * when the store shares the ledger's connection and nothing runs
   * between claim and charge (no --work-ms): one commit a charge instead
   * of two. The claim is then visible to others only with the charge, so
   * a concurrent request with the same key waits for the lock and
   * replays. With --work-ms the claim commits first, as a lease others see
   * as in progress (409) while the work runs. */
  bool tx = false;
  char err[256];
  if (l->idem && w->store && w->shares_db && l->opt.work_us == 0)
    tx = ledger_db_exec(w->db, "BEGIN IMMEDIATE", err, sizeof err) == 0;
  if (l->idem) {
    if (!w->store && open_store(l, w) != 0) {
      rein_idem_http_header ra[2] = {{"Retry-After", "1"},
                                     {REIN_HEADER_IDEM_RETENTION,
                                      rein_idem_http_retention_value(l->idem)}};
      bool keyed = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                               REIN_HEADER_IDEM_KEY) != NULL;
      return send_problem(l, conn, 503, "store",
                          "Idempotency store unavailable",
                          "The request was not processed; retry with the "
                          "same Idempotency-Key.",
                          ra, keyed ? 2 : 1);
    }
    ledger_hdrs hs = {.n = 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &hs);
    rein_idem_http_request req = {
        .method = "POST",
        .route = ROUTE_CHARGES,
        .principal = principal,
        .headers = hs.h,
        .n_headers = hs.n,
        .body = rc->body,
        .body_len = rc->len,
        .key_required = l->opt.require_key,
        .headers_truncated = hs.truncated,
    };
    rein_status st = rein_idem_http_begin(l->idem, w->store, &req, &x);
    if (st != REIN_OK) {
      if (tx) ledger_db_exec(w->db, "ROLLBACK", NULL, 0);
      return send_problem(l, conn, 500, "internal", "Internal error",
                          rein_strerror(st), NULL, 0);
    }
    if (rein_idem_http_exchange_key(x) &&
        rein_idem_http_exchange_action(x) == REIN_IDEM_HTTP_PROCEED)
      crash_point(l, CRASH_CLAIMED);
    if (rein_idem_http_exchange_action(x) != REIN_IDEM_HTTP_PROCEED) {
      /* a replay, a conflict or an error: nothing of ours to commit */
      if (tx) ledger_db_exec(w->db, "ROLLBACK", NULL, 0);
      const rein_idem_http_response *r = rein_idem_http_exchange_response(x);
      if (rein_idem_http_exchange_store_status(x) != REIN_OK)
        logf_(l, "idempotency store failed: %s",
              rein_idem_http_exchange_store_message(x));
      enum MHD_Result ret =
          send_resp(l, conn, r->status, r->headers, r->n_headers, NULL, 0,
                    r->body, r->body_len);
      finish(l, w, x);
      return ret;
    }
    xh = rein_idem_http_exchange_headers(x, &n_xh);
    key = rein_idem_http_exchange_key(x);
    if (key) memcpy(fp, rein_idem_http_exchange_fingerprint(x), sizeof fp);
  }
  sleep_us(l->opt.work_us);
  if (deadline && now_ns(l) >= deadline) {
    /* The caller stopped waiting while we worked: commit nothing, release
     * the key (a retry with time left charges). */
    inc(l, M_DEADLINE_COMMIT);
    if (tx) {
      ledger_db_exec(w->db, "ROLLBACK", NULL, 0); /* the claim with it */
      tx = false;
    }
    rein_idem_http_abandon(x);
    enum MHD_Result ret = send_problem(
        l, conn, 504, "deadline", "Deadline exceeded",
        "The caller's deadline passed before the charge was recorded; "
        "nothing was charged.",
        xh, n_xh);
    finish(l, w, x);
    return ret;
  }
  ledger_charge c;
  bool inserted = false;
  int64_t wall_ms = rein_clock_wall_ns() / REIN_NS_PER_MS;
  /* With the SQLite store on the same connection, the charge and the
   * stored response commit in one transaction (and the claim too, when
   * taken above): after a crash either both exist (the retry replays) or
   * neither (the retry charges). */
  if (!tx && key && w->shares_db &&
      ledger_db_exec(w->db, "BEGIN IMMEDIATE", err, sizeof err) == 0)
    tx = true; /* else the UNIQUE constraint alone */
  if (ledger_db_charge(w->db, principal, key, fp, creq, wall_ms, &c, &inserted,
                       err, sizeof err) != 0) {
    inc(l, M_DB_ERRORS);
    logf_(l, "%s", err);
    if (tx) ledger_db_exec(w->db, "ROLLBACK", NULL, 0);
    /* The insert is one statement (or rolled back): no effect. */
    rein_idem_http_abandon(x);
    enum MHD_Result ret = db_unavailable(l, conn, xh, n_xh);
    finish(l, w, x);
    return ret;
  }
  if (key) crash_point(l, CRASH_CHARGED);
  if (inserted) {
    inc(l, M_CHARGES);
  } else if (key) {
    inc(l, M_CHARGE_DUP);
    logf_(l, "rerun: key already charged as id %" PRId64 "; answering with it",
          c.id);
  }
  int status = 201;
  char body[2048];
  size_t blen;
  const char *ct = "application/json";
  if (key && !inserted && c.has_fp && memcmp(c.fp, fp, 32) != 0) {
    /* The store forgot the key (memory store after a restart, or purged)
     * but the ledger remembers it with another payload. */
    status = 422;
    ct = REIN_IDEM_HTTP_PROBLEM_CT;
    rein_idem_http_problem(body, sizeof body, &blen,
                           "urn:rein:problem:" REIN_IDEM_PROBLEM_KEY_REUSED,
                           "Idempotency-Key reused with a different request",
                           422,
                           "This Idempotency-Key already made a charge with "
                           "a different body; use a new key.");
  } else {
    blen = charge_json(&c, body, sizeof body);
  }
  rein_idem_http_header hdrs[1] = {{"Content-Type", ct}};
  if (x) {
    rein_idem_http_response resp = {status, hdrs, 1, body, blen};
    rein_status st = rein_idem_http_complete(x, &resp, NULL);
    if (key) crash_point(l, CRASH_COMPLETED);
    if (tx) {
      if (ledger_db_exec(w->db, "COMMIT", err, sizeof err) != 0) {
        /* Nothing committed: neither the charge nor the response (nor,
         * in one transaction, the claim). The key stays leased until the
         * lease ends, if the claim committed first; the retry then
         * charges. */
        inc(l, M_DB_ERRORS);
        logf_(l, "%s", err);
        ledger_db_exec(w->db, "ROLLBACK", NULL, 0);
        enum MHD_Result ret = db_unavailable(l, conn, xh, n_xh);
        finish(l, w, x);
        return ret;
      }
      /* A store whose complete cannot run inside our transaction: the
       * charge is committed; record the response on its own. */
      if (st != REIN_OK && st != REIN_ESTALE && st != REIN_ESTATE)
        st = rein_idem_http_complete(x, &resp, NULL);
    }
    if (key) crash_point(l, CRASH_COMMITTED);
    if (st != REIN_OK) {
      /* The charge is durable and unique on the key: a retry reruns the
       * handler, finds the row and answers the same. Send it anyway. */
      inc(l, M_STORE_COMPLETE_FAILED);
      logf_(l, "idempotency complete failed (%s): %s", rein_status_name(st),
            rein_idem_http_exchange_store_message(x));
    }
  }
  enum MHD_Result ret =
      send_resp(l, conn, status, hdrs, 1, xh, n_xh, body, blen);
  finish(l, w, x);
  return ret;
}

static const char *lookup_header(void *ctx, const char *name) {
  return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result post_charge(ledger *l, struct MHD_Connection *conn,
                                   req_ctx *rc) {
  inc(l, M_REQ_CHARGE_POST);
  /* Every answer to a request that carried a key advertises the retention,
   * the ledger's own errors included. */
  bool keyed = l->idem && MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                      REIN_HEADER_IDEM_KEY);
  const rein_idem_http_header rh[1] = {
      {REIN_HEADER_IDEM_RETENTION, rein_idem_http_retention_value(l->idem)}};
  size_t nrh = keyed ? 1 : 0;
  if (in_outage(l)) {
    inc(l, M_OUTAGE);
    return send_problem(
        l, conn, l->opt.outage_status, "outage", "Ledger unavailable",
        "Injected outage: the charge was not processed.", rh, nrh);
  }
  char principal[LEDGER_PRINCIPAL_MAX + 1];
  const char *deny;
  if (!principal_of(l, conn, principal, sizeof principal, &deny))
    return unauthorized(l, conn, deny, rh, nrh);
  if (rc->too_big)
    return send_problem(l, conn, 413, "too-large", "Body too large",
                        "A charge body is at most 64 KiB.", rh, nrh);
  ledger_charge_req creq;
  char why[256];
  if (!ledger_parse_charge(rc->body, rc->len, &creq, why, sizeof why))
    return send_problem(l, conn, 400, "bad-charge", "Invalid charge", why, rh,
                        nrh);
  /* The caller's deadline, on our clock from the moment the request came
   * in; an unreadable one is an error, never "no deadline". */
  int64_t deadline = 0;
  if (!l->opt.ignore_deadline) {
    rein_deadline_in dl;
    rein_deadline_in_init(&dl);
    if (rein_deadline_in_lookup(&dl, lookup_header, conn) != REIN_OK) {
      char dwhy[160];
      snprintf(dwhy, sizeof dwhy,
               "%s: expected a time left (Rein-Deadline: milliseconds; "
               "grpc-timeout: 1-8 digits and H, M, S, m, u or n)",
               dl.malformed ? dl.malformed : "deadline");
      return send_problem(l, conn, 400, "bad-deadline", "Invalid deadline",
                          dwhy, rh, nrh);
    }
    if (dl.left_ns >= 0) {
      inc(l, M_DEADLINE_SEEN);
      deadline = now_ns(l) + dl.left_ns;
      if (deadline == 0) deadline = 1;
    }
  }
  if (slow_draw(l)) {
    /* The long tail: this thread waits holding nothing (no lock, slot,
     * ticket or key), so the other requests go on at their own pace. */
    inc(l, M_SLOW_TAIL);
    sleep_us(l->opt.slow_ns / 1000);
  }
  const char *att =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, REIN_HEADER_ATTEMPT);
  uint32_t attempt = rein_admit_parse_attempt(att, att ? strlen(att) : 0);
  rein_admit_ticket t;
  rein_admit_decision d;
  if (rein_admit_acquire(l->admit, &t, attempt, &d) != REIN_ADMIT_ADMITTED) {
    inc(l, M_SHED);
    rein_admit_response ar;
    rein_admit_headers(&d, keyed ? l->opt.retention_s * REIN_NS_PER_S : -1,
                       &ar);
    rein_idem_http_header h[REIN_ADMIT_MAX_HEADERS];
    for (size_t i = 0; i < ar.count; i++) {
      h[i].name = ar.headers[i].name;
      h[i].value = ar.headers[i].value;
    }
    char detail[200];
    snprintf(detail, sizeof detail,
             "The ledger shed this request (%s); retry after the "
             "Retry-After delay.",
             rein_admit_reason_name(d.reason));
    bool limited = ar.status == 429;
    return send_problem(l, conn, limited ? 429 : 503,
                        limited ? "rate-limited" : "overloaded",
                        limited ? "Rate limit exceeded" : "Ledger overloaded",
                        detail, h, ar.count);
  }
  enum MHD_Result ret;
  if (deadline && now_ns(l) + l->opt.work_us * 1000 > deadline) {
    /* Admitted, but what is left cannot hold the work: do none. */
    inc(l, M_DEADLINE_START);
    ret = send_problem(l, conn, 504, "deadline", "Deadline exceeded",
                       "Too little of the caller's deadline was left to "
                       "record the charge; nothing was charged.",
                       rh, nrh);
    rein_admit_release(l->admit, &t, now_ns(l), -1);
    return ret;
  }
  int slot = take_slot(l);
  if (slot < 0) { /* cannot happen: limit == workers */
    ret = send_problem(l, conn, 500, "internal", "Internal error",
                       "no free worker", rh, nrh);
  } else {
    atomic_fetch_add_explicit(&l->inflight, 1, memory_order_relaxed);
    ret = charge_with_slot(l, &l->workers[slot], conn, principal, rc, &creq,
                           deadline);
    atomic_fetch_sub_explicit(&l->inflight, 1, memory_order_relaxed);
    give_slot(l, slot);
  }
  rein_admit_release(l->admit, &t, now_ns(l), -1);
  return ret;
}

/* ---- GET /charges -------------------------------------------------------- */

typedef struct list_buf {
  char *p;
  size_t len, cap;
  int64_t n;
  bool oom;
} list_buf;

static void list_row(void *ctx, const ledger_charge *c) {
  list_buf *b = ctx;
  if (b->oom) return;
  if (b->cap - b->len < 2200) {
    size_t nc = b->cap * 2;
    char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = nc;
  }
  if (b->n > 0) b->p[b->len++] = ',';
  b->len += charge_json(c, b->p + b->len, b->cap - b->len);
  b->n++;
}

static enum MHD_Result get_charges(ledger *l, struct MHD_Connection *conn) {
  inc(l, M_REQ_CHARGE_GET);
  const char *key =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "key");
  const char *principal =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "principal");
  /* A caller lists its own charges; only the admin token lists anyone's
   * (and every principal's when ?principal= is absent). */
  char me[LEDGER_PRINCIPAL_MAX + 1];
  const char *why;
  if (!principal_of(l, conn, me, sizeof me, &why))
    return unauthorized(l, conn, why, NULL, 0);
  if (strcmp(me, LEDGER_ADMIN_PRINCIPAL) != 0) {
    if (principal && strcmp(principal, me) != 0)
      return send_problem(l, conn, 403, "forbidden", "Forbidden",
                          "principal: a caller may list only its own "
                          "charges.",
                          NULL, 0);
    principal = me;
  }
  const char *ref =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ref");
  const char *after =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "after_id");
  const char *lim =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
  int64_t after_id = 0, limit = 1000;
  if ((after && !parse_i64(after, 0, INT64_MAX, &after_id)) ||
      (lim && !parse_i64(lim, 1, 100000, &limit)))
    return send_problem(l, conn, 400, "bad-query", "Invalid query",
                        "after_id: integer >= 0; limit: 1..100000", NULL, 0);
  list_buf b = {malloc(8192), 0, 8192, 0, false};
  if (!b.p) return MHD_NO;
  b.len = (size_t)snprintf(b.p, b.cap, "{\"charges\":[");
  char err[256];
  pthread_mutex_lock(&l->reader_mu);
  int r = ledger_db_list(l->reader, principal, key, ref, after_id, limit,
                         list_row, &b, err, sizeof err);
  pthread_mutex_unlock(&l->reader_mu);
  enum MHD_Result ret;
  if (r != 0 || b.oom) {
    ret = send_problem(l, conn, 500, "database", "Database error",
                       b.oom ? "out of memory" : err, NULL, 0);
  } else {
    char tail[64];
    snprintf(tail, sizeof tail, "],\"count\":%" PRId64 "}", b.n);
    size_t tl = strlen(tail);
    if (b.cap - b.len <= tl) {
      char *np = realloc(b.p, b.cap + tl + 1);
      if (!np) {
        free(b.p);
        return MHD_NO;
      }
      b.p = np;
      b.cap += tl + 1;
    }
    memcpy(b.p + b.len, tail, tl + 1);
    ret = send_json(l, conn, 200, b.p);
  }
  free(b.p);
  return ret;
}

static enum MHD_Result get_summary(ledger *l, struct MHD_Connection *conn) {
  inc(l, M_REQ_CHARGE_GET);
  enum MHD_Result deny;
  if (!admin_ok(l, conn, &deny)) return deny;
  ledger_summary s;
  char err[256];
  pthread_mutex_lock(&l->reader_mu);
  int r = ledger_db_summary(l->reader, &s, err, sizeof err);
  pthread_mutex_unlock(&l->reader_mu);
  if (r != 0)
    return send_problem(l, conn, 500, "database", "Database error", err, NULL,
                        0);
  char body[512];
  snprintf(body, sizeof body,
           "{\"charges\":%" PRId64 ",\"keyed\":%" PRId64
           ",\"amount_cents\":%" PRId64 ",\"refs\":%" PRId64
           ",\"duplicate_charges\":%" PRId64 "}",
           s.charges, s.keyed, s.amount_cents, s.refs, s.duplicate_charges);
  return send_json(l, conn, 200, body);
}

/* ---- GET /metrics -------------------------------------------------------- */

static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
  if (*n >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
  va_end(ap);
  if (w > 0) *n += (size_t)w;
  if (*n > cap) *n = cap;
}

static enum MHD_Result get_metrics(ledger *l, struct MHD_Connection *conn) {
  inc(l, M_REQ_OTHER);
  size_t cap = 16384, n = 0;
  char *b = malloc(cap);
  if (!b) return MHD_NO;
#define G(i)                                                                   \
  (unsigned long long)atomic_load_explicit(&l->m[i], memory_order_relaxed)
  put(b, cap, &n,
      "# HELP rein_ledger_requests_total Requests received, by route.\n"
      "# TYPE rein_ledger_requests_total counter\n"
      "rein_ledger_requests_total{route=\"POST /charges\"} %llu\n"
      "rein_ledger_requests_total{route=\"GET /charges\"} %llu\n"
      "rein_ledger_requests_total{route=\"other\"} %llu\n",
      G(M_REQ_CHARGE_POST), G(M_REQ_CHARGE_GET), G(M_REQ_OTHER));
  put(b, cap, &n,
      "# HELP rein_ledger_responses_total Responses sent, by status.\n"
      "# TYPE rein_ledger_responses_total counter\n");
  for (size_t i = 0; i <= N_CODES; i++) {
    unsigned long long v =
        atomic_load_explicit(&l->codes[i], memory_order_relaxed);
    if (i < N_CODES)
      put(b, cap, &n, "rein_ledger_responses_total{code=\"%d\"} %llu\n",
          TRACKED_CODES[i], v);
    else
      put(b, cap, &n, "rein_ledger_responses_total{code=\"other\"} %llu\n", v);
  }
  put(b, cap, &n,
      "# HELP rein_ledger_charges_total Charges recorded (rows inserted).\n"
      "# TYPE rein_ledger_charges_total counter\n"
      "rein_ledger_charges_total %llu\n"
      "# HELP rein_ledger_charge_reruns_total Handler reruns that found the "
      "keyed charge already recorded (crash recovery).\n"
      "# TYPE rein_ledger_charge_reruns_total counter\n"
      "rein_ledger_charge_reruns_total %llu\n"
      "# HELP rein_ledger_shed_total Requests shed with 503 (queue full or "
      "queue wait too long).\n"
      "# TYPE rein_ledger_shed_total counter\n"
      "rein_ledger_shed_total %llu\n"
      "# HELP rein_ledger_outage_failures_total Requests failed by an "
      "injected outage.\n"
      "# TYPE rein_ledger_outage_failures_total counter\n"
      "rein_ledger_outage_failures_total %llu\n"
      "# HELP rein_ledger_db_errors_total Charge inserts that failed.\n"
      "# TYPE rein_ledger_db_errors_total counter\n"
      "rein_ledger_db_errors_total %llu\n"
      "# HELP rein_ledger_idem_complete_failures_total Responses the "
      "idempotency store did not record.\n"
      "# TYPE rein_ledger_idem_complete_failures_total counter\n"
      "rein_ledger_idem_complete_failures_total %llu\n"
      "# HELP rein_ledger_idem_purged_total Expired idempotency keys purged.\n"
      "# TYPE rein_ledger_idem_purged_total counter\n"
      "rein_ledger_idem_purged_total %llu\n"
      "# HELP rein_ledger_request_timeouts_total Connections closed because "
      "a request did not arrive within --request-timeout-s.\n"
      "# TYPE rein_ledger_request_timeouts_total counter\n"
      "rein_ledger_request_timeouts_total %llu\n"
      "# HELP rein_ledger_deadline_requests_total POST /charges that carried "
      "the caller's deadline.\n"
      "# TYPE rein_ledger_deadline_requests_total counter\n"
      "rein_ledger_deadline_requests_total %llu\n"
      "# HELP rein_ledger_deadline_refused_total Charges refused with 504 "
      "because the caller's deadline left too little time (start) or passed "
      "during the work (commit); nothing was charged.\n"
      "# TYPE rein_ledger_deadline_refused_total counter\n"
      "rein_ledger_deadline_refused_total{stage=\"start\"} %llu\n"
      "rein_ledger_deadline_refused_total{stage=\"commit\"} %llu\n",
      G(M_CHARGES), G(M_CHARGE_DUP), G(M_SHED), G(M_OUTAGE), G(M_DB_ERRORS),
      G(M_STORE_COMPLETE_FAILED), G(M_PURGED),
      (unsigned long long)atomic_load(&l->timed_out), G(M_DEADLINE_SEEN),
      G(M_DEADLINE_START), G(M_DEADLINE_COMMIT));
  put(b, cap, &n,
      "# HELP rein_ledger_slow_tail_total POST /charges that --slow-tail "
      "made wait longer.\n"
      "# TYPE rein_ledger_slow_tail_total counter\n"
      "rein_ledger_slow_tail_total %llu\n",
      G(M_SLOW_TAIL));
#undef G
  rein_admit_stats as;
  rein_admit_stats_get(l->admit, now_ns(l), &as);
  int waiting = (int)as.queue_len;
  double capacity =
      l->opt.work_us > 0 ? l->n_workers * 1e6 / (double)l->opt.work_us : 0.0;
  put(b, cap, &n,
      "# HELP rein_ledger_inflight Requests holding a worker.\n"
      "# TYPE rein_ledger_inflight gauge\n"
      "rein_ledger_inflight %lld\n"
      "# HELP rein_ledger_queue_depth Requests waiting for a worker.\n"
      "# TYPE rein_ledger_queue_depth gauge\n"
      "rein_ledger_queue_depth %d\n"
      "# HELP rein_ledger_workers Worker slots.\n"
      "# TYPE rein_ledger_workers gauge\n"
      "rein_ledger_workers %d\n"
      "# HELP rein_ledger_capacity_per_second Charges per second the "
      "simulated work allows (0 = not limited).\n"
      "# TYPE rein_ledger_capacity_per_second gauge\n"
      "rein_ledger_capacity_per_second %.3f\n"
      "# HELP rein_ledger_outage Whether an outage is injected now.\n"
      "# TYPE rein_ledger_outage gauge\n"
      "rein_ledger_outage %d\n",
      (long long)atomic_load(&l->inflight), waiting, l->n_workers, capacity,
      in_outage(l) ? 1 : 0);
  put(b, cap, &n,
      "# HELP rein_admit_admitted_total Requests admitted.\n"
      "# TYPE rein_admit_admitted_total counter\n"
      "rein_admit_admitted_total %llu\n"
      "# HELP rein_admit_queued_total Requests that waited in the queue.\n"
      "# TYPE rein_admit_queued_total counter\n"
      "rein_admit_queued_total %llu\n"
      "# HELP rein_admit_rejected_total Requests shed, by reason.\n"
      "# TYPE rein_admit_rejected_total counter\n",
      (unsigned long long)as.admitted, (unsigned long long)as.queued);
  for (int r = 1; r < REIN_ADMIT_R_COUNT_; r++)
    put(b, cap, &n, "rein_admit_rejected_total{reason=\"%s\"} %llu\n",
        rein_admit_reason_name((rein_admit_reason)r),
        (unsigned long long)as.rejected[r]);
  put(b, cap, &n,
      "# HELP rein_admit_overloaded Whether admission counts the ledger as "
      "overloaded (standing queue).\n"
      "# TYPE rein_admit_overloaded gauge\n"
      "rein_admit_overloaded %d\n"
      "# HELP rein_admit_drain_rate Completions per second, last window.\n"
      "# TYPE rein_admit_drain_rate gauge\n"
      "rein_admit_drain_rate %.3f\n",
      as.overloaded ? 1 : 0, as.drain_rate);
  if (l->idem) {
    rein_idem_http_stats s;
    rein_idem_http_get_stats(l->idem, &s);
    struct {
      const char *name, *help;
      uint64_t v;
    } im[] = {
        {"proceed_keyed", "keyed requests that ran the handler",
         s.proceed_keyed},
        {"proceed_unkeyed", "requests without a key that ran",
         s.proceed_unkeyed},
        {"recovered", "expired leases taken over", s.recovered},
        {"replays", "responses replayed", s.replays},
        {"missing", "400: key missing", s.missing},
        {"invalid", "400: key malformed", s.invalid},
        {"conflicts", "409: key in progress", s.in_progress},
        {"mismatches", "422: key reused with another request", s.mismatches},
        {"store_errors", "store failures", s.store_errors},
        {"completed", "responses stored", s.completed},
        {"released", "keys released (abandon or non-cacheable)", s.released},
        {"stale", "complete/abandon refused: lease taken over", s.stale},
    };
    for (size_t i = 0; i < sizeof im / sizeof im[0]; i++)
      put(b, cap, &n,
          "# HELP rein_idem_http_%s_total Idempotency helper: %s.\n"
          "# TYPE rein_idem_http_%s_total counter\n"
          "rein_idem_http_%s_total %llu\n",
          im[i].name, im[i].help, im[i].name, im[i].name,
          (unsigned long long)im[i].v);
  }
  static const rein_idem_http_header h[] = {
      {"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}};
  enum MHD_Result ret = send_resp(l, conn, 200, h, 1, NULL, 0, b, n);
  free(b);
  return ret;
}

static enum MHD_Result post_outage(ledger *l, struct MHD_Connection *conn) {
  inc(l, M_REQ_OTHER);
  enum MHD_Result deny;
  if (!admin_ok(l, conn, &deny)) return deny;
  const char *s =
      MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds");
  int64_t sec;
  if (!s || !parse_i64(s, 0, 3600, &sec))
    return send_problem(l, conn, 400, "bad-query", "Invalid query",
                        "seconds: integer in [0, 3600] (0 ends an outage)",
                        NULL, 0);
  int64_t until = sec ? now_ns(l) + sec * REIN_NS_PER_S : 0;
  atomic_store(&l->outage_until_ns, until);
  logf_(l, "outage injected for %" PRId64 " s", sec);
  char body[64];
  snprintf(body, sizeof body, "{\"outage_seconds\":%" PRId64 "}", sec);
  return send_json(l, conn, 200, body);
}

/* ---- the request deadline ------------------------------------------------ */

/* libmicrohttpd's own timeout is an idle timeout, reset by every byte, so
 * a client that sends one header byte every few seconds holds a thread
 * forever (slowloris). The ledger adds what nginx calls
 * client_header_timeout / client_body_timeout, as one deadline: from the
 * moment a connection opens, or its previous response was sent, the whole
 * next request (head and body) must arrive within --request-timeout-s.
 * The reaper thread shuts down the socket of a connection past its
 * deadline; libmicrohttpd's connection thread then sees EOF and closes it.
 * No deadline runs while a request is being processed. */

static conn_ctx *ctx_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void set_deadline(ledger *l, struct MHD_Connection *conn, bool run) {
  conn_ctx *c = ctx_of(conn);
  if (!c) return;
  int64_t dl = run ? now_ns(l) + l->opt.request_timeout_s * REIN_NS_PER_S : 0;
  pthread_mutex_lock(&l->conn_mu);
  c->deadline_ns = dl;
  pthread_mutex_unlock(&l->conn_mu);
}

static void notify_conn(void *cls, struct MHD_Connection *conn,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode toe) {
  ledger *l = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    conn_ctx *c = calloc(1, sizeof *c);
    if (!c) return; /* untracked: only the idle timeout applies */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
    c->deadline_ns = now_ns(l) + l->opt.request_timeout_s * REIN_NS_PER_S;
    pthread_mutex_lock(&l->conn_mu);
    c->next = l->conns.next;
    c->prev = &l->conns;
    l->conns.next->prev = c;
    l->conns.next = c;
    pthread_mutex_unlock(&l->conn_mu);
    *socket_context = c;
  } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_ctx *c = *socket_context;
    if (!c) return;
    /* Unlinked under the lock before libmicrohttpd closes the fd, so the
     * reaper never shuts down a descriptor reused by someone else. */
    pthread_mutex_lock(&l->conn_mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    pthread_mutex_unlock(&l->conn_mu);
    free(c);
    *socket_context = NULL;
  }
}

static void *reaper(void *arg) {
  ledger *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stopping) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += 200 * 1000 * 1000;
    if (dl.tv_nsec >= 1000000000) dl.tv_sec++, dl.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&l->janitor_cv, &l->mu, &dl);
    if (l->stopping) break;
    pthread_mutex_unlock(&l->mu);
    int64_t now = now_ns(l);
    pthread_mutex_lock(&l->conn_mu);
    for (conn_ctx *c = l->conns.next; c != &l->conns; c = c->next) {
      if (c->deadline_ns && now > c->deadline_ns && !c->closed_by_us &&
          c->fd != MHD_INVALID_SOCKET) {
        shutdown(c->fd, SHUT_RDWR);
        c->closed_by_us = true;
        atomic_fetch_add_explicit(&l->timed_out, 1, memory_order_relaxed);
      }
    }
    pthread_mutex_unlock(&l->conn_mu);
    pthread_mutex_lock(&l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* ---- dispatch ------------------------------------------------------------ */

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  ledger *l = cls;
  req_ctx *rc = *con_cls;
  if (!rc) {
    rc = calloc(1, sizeof *rc);
    if (!rc) return MHD_NO;
    *con_cls = rc;
    return MHD_YES;
  }
  if (*upload_data_size) {
    if (!rc->too_big) {
      if (rc->len + *upload_data_size > BODY_MAX) {
        rc->too_big = true;
      } else {
        if (rc->len + *upload_data_size + 1 > rc->cap) {
          size_t nc = rc->cap ? rc->cap : 1024;
          while (nc < rc->len + *upload_data_size + 1)
            nc *= 2;
          char *np = realloc(rc->body, nc);
          if (!np) return MHD_NO;
          rc->body = np;
          rc->cap = nc;
        }
        memcpy(rc->body + rc->len, upload_data, *upload_data_size);
        rc->len += *upload_data_size;
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  set_deadline(l, conn, false); /* the whole request arrived in time */
  bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET");
  if (!strcmp(url, ROUTE_CHARGES)) {
    if (post) return post_charge(l, conn, rc);
    if (get) return get_charges(l, conn);
  } else if (!strcmp(url, "/charges/summary")) {
    if (get) return get_summary(l, conn);
  } else if (!strcmp(url, "/metrics")) {
    if (get) return get_metrics(l, conn);
  } else if (!strcmp(url, "/healthz")) {
    if (get) {
      inc(l, M_REQ_OTHER);
      return send_json(l, conn, 200, "{\"status\":\"ok\"}");
    }
  } else if (!strcmp(url, "/admin/outage")) {
    if (post) return post_outage(l, conn);
  } else {
    inc(l, M_REQ_OTHER);
    return send_problem(l, conn, 404, "not-found", "Not found",
                        "Routes: POST/GET /charges, GET /charges/summary, "
                        "GET /metrics, GET /healthz, POST /admin/outage",
                        NULL, 0);
  }
  inc(l, M_REQ_OTHER);
  return send_problem(l, conn, 405, "method", "Method not allowed", url, NULL,
                      0);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  ledger *l = cls;
  (void)toe;
  /* The next request on this connection gets a fresh deadline. */
  set_deadline(l, conn, true);
  req_ctx *rc = *con_cls;
  if (!rc) return;
  free(rc->body);
  free(rc);
  *con_cls = NULL;
}

/* ---- setup --------------------------------------------------------------- */

static int open_store(ledger *l, worker *w) {
  rein_idem_store **out = &w->store;
  *out = NULL;
  const char *spec = l->opt.store;
  char defspec[4096];
  if (!spec) {
    snprintf(defspec, sizeof defspec, "sqlite:%s", l->opt.db_path);
    spec = defspec;
  }
  rein_errbuf eb = {{0}};
  rein_idem_config ic;
  rein_idem_config_default(&ic);
  ic.err = &eb;
  rein_status st;
  if (!strcmp(spec, "memory")) {
    if (!l->shared_store) {
      st = rein_idem_mem_new(&ic, &l->shared_store);
      if (st != REIN_OK) goto fail;
    }
    *out = l->shared_store;
    return 0;
  } else if (!strncmp(spec, "sqlite:", 7)) {
    rein_idem_sqlite_config sc;
    rein_idem_sqlite_config_default(&sc);
    if (!strcmp(spec + 7, l->opt.db_path)) {
      /* Same file as the charges: share the worker's connection. */
      sc.db = ledger_db_handle(w->db);
      sc.owns_db = false;
      w->shares_db = true;
    } else {
      sc.path = spec + 7;
    }
    sc.synchronous_full = l->opt.sync_full;
    sc.busy_timeout_ms = 10000;
    st = rein_idem_sqlite_new(&ic, &sc, out);
  } else if (!strncmp(spec, "pg:", 3)) {
    rein_idem_pg_config pc;
    rein_idem_pg_config_default(&pc);
    pc.conninfo = spec + 3;
    st = rein_idem_pg_new(&ic, &pc, out);
  } else if (!strncmp(spec, "redis:", 6)) {
    rein_idem_redis_config rcfg;
    rein_idem_redis_config_default(&rcfg);
    char host[256];
    int port;
    const char *colon = strrchr(spec + 6, ':');
    if (!colon || (size_t)(colon - (spec + 6)) >= sizeof host ||
        sscanf(colon + 1, "%d", &port) != 1) {
      fprintf(stderr, "ledger: --store redis:HOST:PORT expected, got %s\n",
              spec);
      return -1;
    }
    memcpy(host, spec + 6, (size_t)(colon - (spec + 6)));
    host[colon - (spec + 6)] = '\0';
    rcfg.host = host;
    rcfg.port = port;
    st = rein_idem_redis_new(&ic, &rcfg, out);
  } else {
    fprintf(stderr,
            "ledger: --store: expected sqlite:PATH, memory, pg:CONNINFO or "
            "redis:HOST:PORT, got '%s'\n",
            spec);
    return -1;
  }
  if (st == REIN_OK) return 0;
fail:
  fprintf(stderr, "ledger: cannot open idempotency store %s: %s (%s)\n", spec,
          rein_strerror(st), eb.msg);
  return -1;
}

static void *janitor(void *arg) {
  ledger *l = arg;
  pthread_mutex_lock(&l->mu);
  while (!l->stopping) {
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += l->opt.purge_interval_s;
    while (!l->stopping &&
           pthread_cond_timedwait(&l->janitor_cv, &l->mu, &dl) != ETIMEDOUT) {
    }
    if (l->stopping) break;
    pthread_mutex_unlock(&l->mu);
    /* Purging is work like a request: it must be admitted (never queued:
     * when the ledger is busy it waits for the next round). */
    rein_admit_ticket t;
    rein_admit_result ar = rein_admit_try(l->admit, &t, 1, now_ns(l), NULL);
    if (ar == REIN_ADMIT_QUEUED) rein_admit_cancel(l->admit, &t, now_ns(l));
    int slot = ar == REIN_ADMIT_ADMITTED ? take_slot(l) : -1;
    if (slot < 0) {
      if (ar == REIN_ADMIT_ADMITTED)
        rein_admit_release(l->admit, &t, now_ns(l), -1);
      pthread_mutex_lock(&l->mu);
      continue;
    }
    size_t total = 0, got = 0;
    for (int i = 0; i < 20; i++) {
      if (rein_idem_purge(l->workers[slot].store, 500, &got) != REIN_OK) break;
      total += got;
      if (got < 500) break;
    }
    if (total) logf_(l, "purged %zu expired idempotency keys", total);
    atomic_fetch_add_explicit(&l->m[M_PURGED], total, memory_order_relaxed);
    give_slot(l, slot);
    rein_admit_release(l->admit, &t, now_ns(l), -1);
    pthread_mutex_lock(&l->mu);
  }
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

static void teardown(ledger *l) {
  for (int i = 0; i < l->n_workers; i++) {
    /* The store may borrow the worker's connection: free it first. */
    if (l->workers[i].store != l->shared_store)
      rein_idem_store_free(l->workers[i].store);
    ledger_db_close(l->workers[i].db);
  }
  rein_idem_store_free(l->shared_store);
  ledger_db_close(l->reader);
  rein_idem_http_free(l->idem);
  free(l->workers);
  free(l->free_slots);
  rein_admit_free(l->admit);
}

static int write_port_file(const char *path, unsigned port) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%u\n", port);
  if (fclose(f) != 0) return -1;
  return rename(tmp, path);
}

int main(int argc, char **argv) {
  static ledger L;
  ledger *l = &L;
  if (parse_options(argc, argv, &l->opt) != 0) return 2;
  l->opt.crash_at = crash_at_env();
  {
    char kerr[512];
    if (ledger_auth_load_key(l->opt.auth_key_file, &l->key, kerr,
                             sizeof kerr) != 0) {
      fprintf(stderr, "%s\n", kerr);
      return 2;
    }
  }
  if (l->opt.mint_token) {
    char tok[LEDGER_TOKEN_MAX + 1];
    if (!ledger_auth_mint(&l->key, l->opt.mint_token, tok, sizeof tok)) {
      fprintf(stderr,
              "ledger: --mint-token: bad principal '%s': expected 1-%d "
              "characters of [A-Za-z0-9_:@-]\n",
              l->opt.mint_token, LEDGER_PRINCIPAL_MAX);
      return 2;
    }
    printf("%s\n", tok);
    return 0;
  }
  pthread_mutex_init(&l->conn_mu, NULL);
  l->conns.next = l->conns.prev = &l->conns;
  l->clock = rein_clock_monotonic();
  l->start_ns = now_ns(l);
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->janitor_cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&l->reader_mu, NULL);

  /* Signals: handled by sigwait in this thread only. */
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  pthread_sigmask(SIG_BLOCK, &ss, NULL);
  signal(SIGPIPE, SIG_IGN);

  char err[512];
  l->n_workers = l->opt.workers;
  l->workers = calloc((size_t)l->n_workers, sizeof *l->workers);
  l->free_slots = calloc((size_t)l->n_workers, sizeof *l->free_slots);
  if (!l->workers || !l->free_slots) return 1;
  if (ledger_db_open(l->opt.db_path, l->opt.sync_full, &l->reader, err,
                     sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    teardown(l);
    return 1;
  }
  for (int i = 0; i < l->n_workers; i++) {
    if (ledger_db_open(l->opt.db_path, l->opt.sync_full, &l->workers[i].db, err,
                       sizeof err) != 0) {
      fprintf(stderr, "%s\n", err);
      teardown(l);
      return 1;
    }
    if (!l->opt.no_idem && open_store(l, &l->workers[i]) != 0) {
      teardown(l);
      return 1;
    }
    l->free_slots[l->n_free++] = i;
  }
  {
    rein_admit_config ac;
    rein_admit_config_default(&ac);
    rein_errbuf eb = {{0}};
    ac.err = &eb;
    ac.limit = (uint32_t)l->n_workers;
    ac.queue_max = (uint32_t)l->opt.queue;
    ac.retry_queue_max = (uint32_t)(l->opt.queue / 2);
    int64_t target = l->opt.admit_target_ms
                         ? l->opt.admit_target_ms * REIN_NS_PER_MS
                         : 2 * l->opt.work_us * REIN_NS_PER_US;
    if (target < 5 * REIN_NS_PER_MS) target = 5 * REIN_NS_PER_MS;
    ac.target_ns = target;
    ac.interval_ns =
        4 * target < 100 * REIN_NS_PER_MS ? 100 * REIN_NS_PER_MS : 4 * target;
    int64_t mw = l->opt.queue_timeout_ms * REIN_NS_PER_MS;
    ac.max_wait_ns = mw < target ? target : mw;
    if (ac.interval_ns > 600 * REIN_NS_PER_S)
      ac.interval_ns = 600 * REIN_NS_PER_S;
    if (l->opt.rate_limit) {
      ac.rl_quota = (uint32_t)l->opt.rate_limit;
      ac.rl_window_ns = REIN_NS_PER_S;
      ac.rl_policy = "charges";
    }
    ac.clock = l->clock;
    if (rein_admit_new(&ac, &l->admit) != REIN_OK) {
      fprintf(stderr, "ledger: admission: %s\n", eb.msg);
      teardown(l);
      return 1;
    }
  }
  if (!l->opt.no_idem) {
    rein_idem_http_config hc;
    rein_idem_http_config_default(&hc);
    rein_errbuf eb = {{0}};
    hc.lease_ns = l->opt.lease_ms * REIN_NS_PER_MS;
    hc.retention_ns = l->opt.retention_s * REIN_NS_PER_S;
    hc.err = &eb;
    if (rein_idem_http_new(&hc, &l->idem) != REIN_OK) {
      fprintf(stderr, "ledger: %s\n", eb.msg);
      teardown(l);
      return 1;
    }
  }

  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)l->opt.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
      0, NULL, NULL, handle, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)l->opt.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)l->opt.max_conns_per_ip,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)l->opt.idle_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, LEDGER_CONN_MEMORY,
      MHD_OPTION_NOTIFY_CONNECTION, notify_conn, l,
      MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, completed, l, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "ledger: cannot listen on 127.0.0.1:%u\n", l->opt.port);
    teardown(l);
    return 1;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : l->opt.port;
  printf("ledger: listening on http://127.0.0.1:%u\n", port);
  fflush(stdout);
  if (l->opt.port_file && write_port_file(l->opt.port_file, port) != 0) {
    fprintf(stderr, "ledger: cannot write %s\n", l->opt.port_file);
    MHD_stop_daemon(d);
    teardown(l);
    return 1;
  }
  logf_(l,
        "db=%s store=%s workers=%d queue=%d work=%" PRId64 "us lease=%" PRId64
        "ms retention=%" PRId64 "s",
        l->opt.db_path,
        l->opt.no_idem ? "none" : (l->opt.store ? l->opt.store : "sqlite"),
        l->n_workers, l->opt.queue, l->opt.work_us, l->opt.lease_ms,
        l->opt.retention_s);
  pthread_t jt, rt;
  bool have_janitor =
      !l->opt.no_idem && pthread_create(&jt, NULL, janitor, l) == 0;
  if (pthread_create(&rt, NULL, reaper, l) != 0) {
    fprintf(stderr, "ledger: cannot start the reaper thread\n");
    MHD_stop_daemon(d);
    teardown(l);
    return 1;
  }

  int sig = 0;
  sigwait(&ss, &sig);
  logf_(l, "signal %d: draining and stopping", sig);
  /* Stop accepting, give requests in flight up to 5 s to finish, then
   * close every connection. */
  MHD_socket lsock = MHD_quiesce_daemon(d); /* closed after stop */
  for (int i = 0; i < 500; i++) {
    pthread_mutex_lock(&l->mu);
    pthread_mutex_unlock(&l->mu);
    rein_admit_stats as;
    rein_admit_stats_get(l->admit, now_ns(l), &as);
    bool idle = as.inflight == 0 && as.queue_len == 0;
    if (idle) break;
    sleep_us(10000);
  }
  pthread_mutex_lock(&l->mu);
  l->stopping = 1;
  pthread_cond_broadcast(&l->janitor_cv);
  pthread_mutex_unlock(&l->mu);
  MHD_stop_daemon(d);
  if (lsock != MHD_INVALID_SOCKET) close(lsock);
  if (have_janitor) pthread_join(jt, NULL);
  pthread_join(rt, NULL);
  teardown(l);
  return 0;
}
