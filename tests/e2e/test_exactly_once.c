/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_exactly_once.c: the inbox/outbox crash test, end to end, with real
 * processes: a broker from scripts/services.sh (redis-server, or with
 * --broker nats-server's JetStream or RabbitMQ), examples/ledger as the
 * charge receiver, and two examples/payments-consumer processes sharing one
 * SQLite database and one consumer group (Redis), durable consumer
 * (JetStream) or queue (RabbitMQ).
 *
 *   test_exactly_once CONSUMER LEDGER [--broker redis|jetstream|amqp]
 *                     [--no-inbox] [--messages N] [--random-kills K]
 *
 * 1. publish N payment messages;
 * 2. named crash points: run a consumer with --kill-at=after-effect,
 *    after-commit and during-outbox (twice each), expect it to die by
 *    SIGKILL at that point, restart it;
 * 3. random crashes: SIGKILL one of the two consumers at a random moment,
 *    K times, restarting it each time (half the restarts reuse the dead
 *    consumer's name, so its own pending list is re-read; the other half
 *    take a new name, so the survivor or the newcomer must XAUTOCLAIM; on
 *    JetStream a dead consumer's messages come back after the ack wait, on
 *    RabbitMQ when its connection closes);
 * 4. let both drain, stop them, and check: every payment exactly once in
 *    the local ledger, every charge exactly once at the ledger service
 *    (GET /charges/summary), nothing lost, nothing pending in the broker
 *    (Redis: XPENDING and the group's lag; JetStream: the durable's
 *    num_pending and num_ack_pending; RabbitMQ: the queue's message count
 *    once the consumers have closed), nothing dead-lettered (the dead
 *    stream, or the dead queue).
 * With --no-inbox the consumers run without dedup rows and the test asserts
 * the opposite: the local ledger HAS duplicates (at least one per
 * after-commit kill), so the suite shows it is the inbox that prevents them.
 *
 * Randomness comes from REIN_TEST_SEED (printed). Every wait is bounded.
 */
#include "ledger_proc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef EO_HAVE_NATS
#include <nats/nats.h>
#endif
#ifdef EO_HAVE_AMQP
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include "rein/rng.h"

#define NSLOTS 2

static const char *g_consumer, *g_ledger;
static char g_dir[256], g_stream[96], g_url[128];
static const char *g_rhost;
static int g_rport;
static bool g_no_inbox;
static const char *g_broker = "redis";
static long g_n = 10000, g_random_kills = 55;
static pid_t g_slot[NSLOTS], g_ledger_pid;
static char g_name[NSLOTS][64];
static int g_gen;
static rein_rng g_rng;
static struct timespec g_t0;

static double elapsed(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - g_t0.tv_sec) +
         (double)(t.tv_nsec - g_t0.tv_nsec) / 1e9;
}

static void cleanup(void) {
  for (int i = 0; i < NSLOTS; i++)
    if (g_slot[i] > 0) {
      kill(g_slot[i], SIGKILL);
      waitpid(g_slot[i], NULL, 0);
      g_slot[i] = 0;
    }
  if (g_ledger_pid > 0) {
    kill(g_ledger_pid, SIGTERM);
    waitpid(g_ledger_pid, NULL, 0);
    g_ledger_pid = 0;
  }
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "test_exactly_once: FAIL (%.1f s): ", elapsed());
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n  work dir kept: %s (consumer.log, ledger.log)\n", g_dir);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "tail -n 20 %s/consumer.log >&2", g_dir);
  if (system(cmd) != 0) { /* best effort */
  }
  cleanup();
  exit(1);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static pid_t spawn(char *const argv[], const char *log) {
  pid_t p = fork();
  if (p < 0) die("fork: %s", strerror(errno));
  if (p == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
  }
  return p;
}

/* Waits up to ms for pid; returns true with *status when it exited. */
static bool wait_for(pid_t pid, long ms, int *status) {
  for (long t = 0; t <= ms; t += 5) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0) die("waitpid: %s", strerror(errno));
    sleep_ms(5);
  }
  return false;
}

static void start_consumer(int slot, const char *kill_at, long kill_after,
                           bool new_name) {
  if (new_name || !g_name[slot][0])
    snprintf(g_name[slot], sizeof g_name[slot], "c%d-%d", slot, ++g_gen);
  char redis[128], db[300], ka[64], kaf[32];
  snprintf(redis, sizeof redis, "%s:%d", g_rhost, g_rport);
  snprintf(db, sizeof db, "%s/consumer.db", g_dir);
  char *argv[40];
  int n = 0;
  argv[n++] = (char *)g_consumer;
  argv[n++] = "--broker";
  argv[n++] = (char *)g_broker;
  argv[n++] = "--redis";
  argv[n++] = redis;
  argv[n++] = "--stream";
  argv[n++] = g_stream;
  argv[n++] = "--group";
  argv[n++] = "payments";
  argv[n++] = "--consumer";
  argv[n++] = g_name[slot];
  argv[n++] = "--db";
  argv[n++] = db;
  argv[n++] = "--ledger-url";
  argv[n++] = g_url;
  argv[n++] = "--min-idle-ms"; /* JetStream: the ack wait */
  argv[n++] = strcmp(g_broker, "jetstream") ? "300" : "1000";
  argv[n++] = "--batch";
  argv[n++] = "20";
  argv[n++] = "--max-deliveries";
  argv[n++] = "1000";
  argv[n++] = "--outbox-lease-ms";
  argv[n++] = "1000";
  argv[n++] = "--quiet";
  if (g_no_inbox) argv[n++] = "--no-inbox";
  if (kill_at) {
    snprintf(ka, sizeof ka, "--kill-at=%s", kill_at);
    snprintf(kaf, sizeof kaf, "--kill-after=%ld", kill_after);
    argv[n++] = ka;
    argv[n++] = kaf;
  }
  argv[n] = NULL;
  char log[300];
  snprintf(log, sizeof log, "%s/consumer.log", g_dir);
  g_slot[slot] = spawn(argv, log);
}

/* A consumer must never exit on its own; one that did is a failure. */
static void check_alive(void) {
  for (int i = 0; i < NSLOTS; i++) {
    int st;
    if (g_slot[i] > 0 && waitpid(g_slot[i], &st, WNOHANG) == g_slot[i])
      die("consumer %s exited on its own (status 0x%x)", g_name[i], st);
  }
}

static void sigkill_slot(int slot) {
  kill(g_slot[slot], SIGKILL);
  int st;
  if (!wait_for(g_slot[slot], 10000, &st))
    die("consumer %s did not die on SIGKILL", g_name[slot]);
  g_slot[slot] = 0;
}

/* ---- observations -------------------------------------------------------- */

/* What is in the broker, per --broker: a connection of the test's own. */
enum { BK_REDIS, BK_JETSTREAM, BK_AMQP };
static int g_bk;
static redisContext *g_redis;

static long long redis_int(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(g_redis, fmt, ap);
  va_end(ap);
  if (!r) die("redis: %s", g_redis->errstr);
  long long v = -1;
  if (r->type == REDIS_REPLY_INTEGER)
    v = r->integer;
  else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
           r->element[0]->type == REDIS_REPLY_INTEGER)
    v = r->element[0]->integer; /* XPENDING summary: count first */
  else if (r->type == REDIS_REPLY_ERROR)
    die("redis: %s", r->str);
  freeReplyObject(r);
  return v;
}

/* The group's lag (entries it has not read yet); -1 when Redis cannot say. */
static long long redis_lag(void) {
  long long lag = -1;
  redisReply *r = redisCommand(g_redis, "XINFO GROUPS %s", g_stream);
  if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
    redisReply *g = r->element[0];
    for (size_t j = 0; j + 1 < g->elements; j += 2)
      if (!strcmp(g->element[j]->str, "lag"))
        lag = g->element[j + 1]->type == REDIS_REPLY_INTEGER
                  ? g->element[j + 1]->integer
                  : -1;
  }
  freeReplyObject(r);
  return lag;
}

#ifdef EO_HAVE_NATS
static natsConnection *g_nc;
static jsCtx *g_js;

static long long js_stream_msgs(const char *name) {
  jsStreamInfo *si = NULL;
  jsErrCode jerr = 0;
  if (js_GetStreamInfo(&si, g_js, name, NULL, &jerr) != NATS_OK)
    die("js_GetStreamInfo %s: %s (%d)", name, nats_GetLastError(NULL),
        (int)jerr);
  long long v = (long long)si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return v;
}
#endif

#ifdef EO_HAVE_AMQP
static amqp_connection_state_t g_amqp;

/* A passive queue.declare: the queue's ready messages (not the ones a live
 * consumer holds unacknowledged; RabbitMQ requeues those when it closes). */
static long long amqp_ready(const char *queue) {
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(
      g_amqp, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  if (!ok) die("passive queue.declare %s failed", queue);
  return (long long)ok->message_count;
}
#endif

static void broker_connect(void) {
  switch (g_bk) {
  case BK_REDIS:
    g_redis = redisConnect(g_rhost, g_rport);
    if (!g_redis || g_redis->err) die("redis connect failed");
    return;
  case BK_JETSTREAM:
#ifdef EO_HAVE_NATS
    if (natsConnection_ConnectTo(&g_nc, getenv("REIN_NATS_URL")) != NATS_OK ||
        natsConnection_JetStream(&g_js, g_nc, NULL) != NATS_OK)
      die("cannot connect to %s", getenv("REIN_NATS_URL"));
#endif
    return;
  case BK_AMQP: {
#ifdef EO_HAVE_AMQP
    static char url[512];
    struct amqp_connection_info ci;
    snprintf(url, sizeof url, "%s", getenv("REIN_AMQP_URL"));
    amqp_default_connection_info(&ci);
    if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK)
      die("cannot parse REIN_AMQP_URL");
    if (!*ci.vhost) ci.vhost = "/";
    g_amqp = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(g_amqp);
    if (!sock || amqp_socket_open(sock, ci.host, ci.port) != 0 ||
        amqp_login(g_amqp, ci.vhost, 1, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                   ci.user, ci.password)
                .reply_type != AMQP_RESPONSE_NORMAL ||
        !amqp_channel_open(g_amqp, 1) ||
        amqp_get_rpc_reply(g_amqp).reply_type != AMQP_RESPONSE_NORMAL)
      die("cannot connect to RabbitMQ at %s:%d", ci.host, ci.port);
#endif
    return;
  }
  }
}

/* Messages the broker holds for the consumers once publishing is done. */
static long long broker_count(void) {
  switch (g_bk) {
#ifdef EO_HAVE_NATS
  case BK_JETSTREAM:
    return js_stream_msgs(g_stream);
#endif
#ifdef EO_HAVE_AMQP
  case BK_AMQP:
    return amqp_ready(g_stream);
#endif
  default:
    return redis_int("XLEN %s", g_stream);
  }
}

/* Messages not yet acknowledged, read or unread; 0 when the group is done.
 * Redis: XPENDING, and with `lag` the entries the group has not read (an
 * unknown lag counts as 1). RabbitMQ: the ready ones only while consumers
 * live; call it again after they closed for the whole count. */
static long long broker_pending(bool lag) {
  switch (g_bk) {
#ifdef EO_HAVE_NATS
  case BK_JETSTREAM: {
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    if (js_GetConsumerInfo(&ci, g_js, g_stream, "payments", NULL, &jerr) !=
        NATS_OK)
      die("js_GetConsumerInfo: %s (%d)", nats_GetLastError(NULL), (int)jerr);
    long long v = (long long)ci->NumPending + (long long)ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return v;
  }
#endif
#ifdef EO_HAVE_AMQP
  case BK_AMQP:
    return amqp_ready(g_stream);
#endif
  default: {
    long long p = redis_int("XPENDING %s payments", g_stream);
    if (p != 0 || !lag) return p;
    long long l = redis_lag();
    return l < 0 ? 1 : l;
  }
  }
}

static long long broker_dead(void) {
  char name[128];
  switch (g_bk) {
#ifdef EO_HAVE_NATS
  case BK_JETSTREAM:
    snprintf(name, sizeof name, "%s_dead", g_stream);
    return js_stream_msgs(name);
#endif
#ifdef EO_HAVE_AMQP
  case BK_AMQP:
    snprintf(name, sizeof name, "%s.dead", g_stream);
    return amqp_ready(name);
#endif
  default:
    (void)name;
    return redis_int("XLEN %s:dead", g_stream);
  }
}

/* Removes what the run made in the broker, and the test's connection. */
static void broker_drop(void) {
  char name[128];
  switch (g_bk) {
  case BK_REDIS:
    redis_int("DEL %s %s:dead", g_stream, g_stream);
    redisFree(g_redis);
    break;
  case BK_JETSTREAM:
#ifdef EO_HAVE_NATS
    snprintf(name, sizeof name, "%s_dead", g_stream);
    js_DeleteStream(g_js, g_stream, NULL, NULL);
    js_DeleteStream(g_js, name, NULL, NULL);
    jsCtx_Destroy(g_js);
    natsConnection_Destroy(g_nc);
    nats_Close();
#endif
    break;
  case BK_AMQP:
#ifdef EO_HAVE_AMQP
    amqp_queue_delete(g_amqp, 1, amqp_cstring_bytes(g_stream), 0, 0);
    snprintf(name, sizeof name, "%s.dead", g_stream);
    amqp_queue_delete(g_amqp, 1, amqp_cstring_bytes(name), 0, 0);
    snprintf(name, sizeof name, "%s.dlx", g_stream);
    amqp_exchange_delete(g_amqp, 1, amqp_cstring_bytes(name), 0);
    amqp_channel_close(g_amqp, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(g_amqp, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(g_amqp);
#endif
    break;
  }
  (void)name;
}

static long long sql_int(const char *sql) {
  char path[300];
  snprintf(path, sizeof path, "%s/consumer.db", g_dir);
  sqlite3 *db;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
    die("open %s: %s", path, sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

typedef struct buf {
  char b[4096];
  size_t n;
} buf;

static size_t on_body(char *p, size_t s, size_t n, void *ud) {
  buf *b = ud;
  size_t len = s * n, room = sizeof b->b - 1 - b->n;
  if (len > room) len = room;
  memcpy(b->b + b->n, p, len);
  b->n += len;
  b->b[b->n] = 0;
  return s * n;
}

static long long json_field(const char *json, const char *name) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", name);
  const char *p = strstr(json, pat);
  if (!p) die("ledger summary has no %s: %s", name, json);
  return strtoll(p + strlen(pat), NULL, 10);
}

static void ledger_summary(long long *charges, long long *refs,
                           long long *dups) {
  char url[160];
  snprintf(url, sizeof url, "%s/summary", g_url);
  CURL *c = curl_easy_init();
  buf b = {{0}, 0};
  char auth[200];
  struct curl_slist *hs = curl_slist_append(
      NULL, ledger_proc_auth_header("_admin", auth, sizeof auth));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  curl_slist_free_all(hs);
  if (rc != CURLE_OK || status != 200)
    die("GET %s: %s (status %ld)", url, curl_easy_strerror(rc), status);
  *charges = json_field(b.b, "charges");
  *refs = json_field(b.b, "refs");
  *dups = json_field(b.b, "duplicate_charges");
}

static long long done_count(void) {
  /* with the inbox: dedup rows; without: distinct payments recorded */
  return sql_int(g_no_inbox ? "SELECT count(DISTINCT payment_id) FROM payments"
                            : "SELECT count(*) FROM rein_inbox");
}

/* ---- main ------------------------------------------------------------------
 */

int main(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &g_t0);
  if (argc < 3) {
    fprintf(stderr, "usage: test_exactly_once CONSUMER LEDGER [--broker "
                    "redis|jetstream|amqp] [--no-inbox] [--messages N] "
                    "[--random-kills K]\n");
    return 2;
  }
  g_consumer = argv[1];
  g_ledger = argv[2];
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--no-inbox"))
      g_no_inbox = true;
    else if (!strcmp(argv[i], "--broker") && i + 1 < argc)
      g_broker = argv[++i];
    else if (!strcmp(argv[i], "--messages") && i + 1 < argc)
      g_n = atol(argv[++i]);
    else if (!strcmp(argv[i], "--random-kills") && i + 1 < argc)
      g_random_kills = atol(argv[++i]);
    else {
      fprintf(stderr, "test_exactly_once: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  const char *need = NULL;
  if (!strcmp(g_broker, "redis")) {
    g_bk = BK_REDIS;
  } else if (!strcmp(g_broker, "jetstream")) {
    g_bk = BK_JETSTREAM;
    need = "REIN_NATS_URL";
#ifndef EO_HAVE_NATS
    fprintf(stderr, "test_exactly_once: FAIL: built without JetStream\n");
    return 1;
#endif
  } else if (!strcmp(g_broker, "amqp")) {
    g_bk = BK_AMQP;
    need = "REIN_AMQP_URL";
#ifndef EO_HAVE_AMQP
    fprintf(stderr, "test_exactly_once: FAIL: built without RabbitMQ\n");
    return 1;
#endif
  } else {
    fprintf(stderr, "test_exactly_once: unknown broker %s\n", g_broker);
    return 2;
  }
  g_rhost = getenv("REIN_REDIS_HOST");
  const char *rp = getenv("REIN_REDIS_PORT");
  if ((g_bk == BK_REDIS && (!g_rhost || !rp)) || (need && !getenv(need))) {
    fprintf(stderr,
            "test_exactly_once: FAIL: %s not set (start services with "
            "scripts/services.sh)\n",
            need ? need : "REIN_REDIS_HOST/PORT");
    return 1;
  }
  if (!g_rhost) g_rhost = "127.0.0.1";
  g_rport = rp ? atoi(rp) : 6379;
  const char *seed_s = getenv("REIN_TEST_SEED");
  uint64_t seed = seed_s ? strtoull(seed_s, NULL, 10)
                         : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
  fprintf(stderr,
          "seed: %" PRIu64 " (set REIN_TEST_SEED=%" PRIu64 " to replay)\n",
          seed, seed);
  rein_rng_seed(&g_rng, seed);
  snprintf(g_dir, sizeof g_dir, "/tmp/rein-eo.XXXXXX");
  if (!mkdtemp(g_dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(g_stream, sizeof g_stream, "eo-%d-%" PRIu64, (int)getpid(), seed);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  broker_connect();

  /* the ledger service: its key and the consumers' token go through the
   * environment, which every child inherits */
  ledger_proc_auth_init();
  char tok[200];
  setenv("LEDGER_TOKEN",
         ledger_proc_token("payments-consumer", tok, sizeof tok), 1);
  char pf[300], ldb[300], llog[300];
  snprintf(pf, sizeof pf, "%s/ledger.port", g_dir);
  snprintf(ldb, sizeof ldb, "%s/ledger.db", g_dir);
  snprintf(llog, sizeof llog, "%s/ledger.log", g_dir);
  char *largv[] = {
      (char *)g_ledger, "--port", "0",       "--port-file", pf, "--db", ldb,
      "--lease-ms",     "2000",   "--quiet", NULL};
  g_ledger_pid = spawn(largv, llog);
  int port = 0;
  for (int i = 0; i < 400 && !port; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      if (fscanf(f, "%d", &port) != 1) port = 0;
      fclose(f);
    }
    if (!port) sleep_ms(10);
  }
  if (!port) die("ledger did not start (see %s)", llog);
  snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d/charges", port);

  /* 1. publish */
  {
    char redis[128], nbuf[32], log[300];
    snprintf(redis, sizeof redis, "%s:%d", g_rhost, g_rport);
    snprintf(nbuf, sizeof nbuf, "%ld", g_n);
    snprintf(log, sizeof log, "%s/consumer.log", g_dir);
    char *pargv[] = {(char *)g_consumer, "--broker",  (char *)g_broker,
                     "--redis",          redis,       "--stream",
                     g_stream,           "--publish", nbuf,
                     "--quiet",          NULL};
    int st;
    pid_t p = spawn(pargv, log);
    if (!wait_for(p, 60000, &st) || !WIFEXITED(st) || WEXITSTATUS(st))
      die("publishing %ld messages failed", g_n);
  }
  if (broker_count() != g_n) die("message count in the broker mismatch");
  fprintf(stderr, "published %ld payments to %s (%s) in %.1f s%s\n", g_n,
          g_stream, g_broker, elapsed(),
          g_no_inbox ? " (consumers run with --no-inbox)" : "");

  /* 2. named crash points: slot 0 dies at each, slot 1 runs throughout */
  start_consumer(1, NULL, 0, true);
  static const char *const points[] = {"after-effect", "after-commit",
                                       "during-outbox"};
  int named = 0, after_commit_kills = 0;
  for (int round = 0; round < 2; round++) {
    for (int p = 0; p < 3; p++) {
      long k = (long)rein_rng_range(&g_rng, 1, 15);
      start_consumer(0, points[p], k, rein_rng_range(&g_rng, 0, 1) == 1);
      int st;
      if (!wait_for(g_slot[0], 30000, &st))
        die("consumer with --kill-at=%s --kill-after=%ld never reached it "
            "(%lld of %ld payments done: if all, the other consumer drained "
            "the broker first; raise --messages)",
            points[p], k, done_count(), g_n);
      if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        die("consumer with --kill-at=%s ended with status 0x%x, not SIGKILL",
            points[p], st);
      g_slot[0] = 0;
      named++;
      if (p == 1) after_commit_kills++;
      check_alive();
    }
  }
  fprintf(stderr, "named crash points: %d SIGKILLs (%.1f s)\n", named,
          elapsed());

  /* 3. random SIGKILLs while they work */
  start_consumer(0, NULL, 0, true);
  long kills = 0;
  for (; kills < g_random_kills; kills++) {
    sleep_ms((long)rein_rng_range(&g_rng, 50, 450));
    check_alive();
    int slot = (int)rein_rng_range(&g_rng, 0, NSLOTS - 1);
    sigkill_slot(slot);
    start_consumer(slot, NULL, 0, rein_rng_range(&g_rng, 0, 1) == 1);
  }
  long long done_at_end_of_kills = done_count();
  fprintf(stderr,
          "random crash points: %ld SIGKILLs; %lld of %ld payments done when "
          "the last one landed (%.1f s)\n",
          kills, done_at_end_of_kills, g_n, elapsed());

  /* 4. drain */
  long long pending = -1, outbox_open = -1, done = -1;
  for (int i = 0; i < 1800; i++) { /* <= 90 s */
    check_alive();
    done = done_count();
    outbox_open = sql_int("SELECT count(*) FROM rein_outbox WHERE state = 0");
    pending = broker_pending(true);
    if (done == g_n && outbox_open == 0 && pending == 0) break;
    sleep_ms(50);
  }
  for (int i = 0; i < NSLOTS; i++) {
    kill(g_slot[i], SIGTERM);
    int st;
    if (!wait_for(g_slot[i], 10000, &st)) die("consumer ignored SIGTERM");
    /* A consumer restarted just before the drain may get SIGTERM before it
     * has installed its handler and die of it: that is one more kill, which
     * the test tolerates by design; anything else must be a clean exit. */
    bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    bool early_term = WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
    if (!clean && !early_term)
      die("consumer %s exit status 0x%x after SIGTERM", g_name[i], st);
    g_slot[i] = 0;
  }
  fprintf(stderr,
          "drained (%.1f s): done %lld, outbox open %lld, pending "
          "%lld\n",
          elapsed(), done, outbox_open, pending);

  /* 5. verify */
  long long rows = sql_int("SELECT count(*) FROM payments");
  long long distinct = sql_int("SELECT count(DISTINCT payment_id) FROM "
                               "payments");
  long long delivered =
      sql_int("SELECT count(*) FROM rein_outbox WHERE state = 1");
  long long failed = sql_int("SELECT count(*) FROM rein_outbox WHERE state "
                             "= 2");
  long long charges, refs, dups;
  ledger_summary(&charges, &refs, &dups);
  pending = broker_pending(false); /* RabbitMQ: with the requeued unacked */
  long long dead = broker_dead();
  fprintf(stderr,
          "local ledger: %lld rows, %lld distinct payments; outbox: %lld "
          "delivered, %lld failed; ledger service: %lld charges, %lld refs, "
          "%lld duplicate charges; pending %lld; dead-lettered %lld\n",
          rows, distinct, delivered, failed, charges, refs, dups, pending,
          dead);
  if (distinct != g_n)
    die("lost payments: %lld of %ld recorded", distinct, g_n);
  if (pending != 0) die("%s: %lld messages pending", g_broker, pending);
  if (dead != 0) die("%lld messages dead-lettered", dead);
  if (failed != 0) die("%lld outbox intents failed", failed);
  if (charges != g_n || refs != g_n || dups != 0)
    die("ledger service: %lld charges for %lld refs, %lld duplicates; want "
        "exactly %ld, 0 duplicates",
        charges, refs, dups, g_n);
  if (g_no_inbox) {
    if (rows - distinct < after_commit_kills)
      die("--no-inbox: expected duplicate effects (at least %d, one per "
          "after-commit kill), found %lld",
          after_commit_kills, rows - distinct);
    fprintf(stderr,
            "OK: without the inbox the local ledger has %lld "
            "duplicate effects, as expected\n",
            rows - distinct);
  } else {
    if (rows != g_n)
      die("duplicate effects: %lld rows for %ld payments", rows, g_n);
    if (delivered != g_n)
      die("outbox: %lld delivered, want %ld", delivered, g_n);
    fprintf(stderr,
            "OK: %ld payments exactly once locally and at the "
            "ledger after %d named and %ld random SIGKILLs (%.1f s)\n",
            g_n, named, kills, elapsed());
  }
  broker_drop();
  cleanup();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
  if (system(cmd) != 0) { /* leave it */
  }
  curl_global_cleanup();
  return 0;
}
