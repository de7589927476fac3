/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_inbox_jetstream.c: the NATS JetStream broker adapter against a real
 * nats-server with JetStream (REIN_NATS_URL, from scripts/services.sh), on
 * its own and under the SQLite inbox. A missing server fails the suite; it
 * is not skipped.
 *
 * Each test has its own stream, subject and durable consumer (named after
 * the pid and a serial), so runs do not see each other. Messages are
 * published with libnats directly, as a producer would; what the consumer
 * left behind is read from the server's consumer info (num_pending: not yet
 * delivered; num_ack_pending: delivered, not acknowledged), so "every
 * message acked" is the server's word, not the adapter's. Redelivery tests
 * use a short ack_wait and wait for it on the real clock (bounded loops).
 *
 * The crash test runs consumers as separate processes (this binary again,
 * with --consume: a fresh process, since libnats' threads do not survive
 * fork) and SIGKILLs them at random moments and right after a commit,
 * restarting each; the effects table must end with every key exactly once.
 */
#include "rein_test.h"

#include "rein/inbox.h"

#include <nats/nats.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *nats_url(void) {
  const char *u = getenv("REIN_NATS_URL");
  if (!u || !*u)
    fail_msg("REIN_NATS_URL is not set: start the servers with "
             "eval \"$(scripts/services.sh start DIR)\"");
  return u;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixture: names, a producer connection, a SQLite file ----------------
 */

static int g_serial;

typedef struct fx {
  char stream[64], subject[96], durable[64], dead_stream[80], dead_subj[96];
  char path[256];
  natsConnection *nc;
  jsCtx *js;
  rein_errbuf err;
  int calls;
  bool fail_all;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  int n = ++g_serial;
  snprintf(f->stream, sizeof f->stream, "rein_t%d_%d", (int)getpid(), n);
  snprintf(f->subject, sizeof f->subject, "rein.t%d_%d.orders.>", (int)getpid(),
           n);
  snprintf(f->durable, sizeof f->durable, "inbox_%d_%d", (int)getpid(), n);
  snprintf(f->dead_stream, sizeof f->dead_stream, "%s_dead", f->stream);
  snprintf(f->dead_subj, sizeof f->dead_subj, "rein.dead.%s", f->stream);
  snprintf(f->path, sizeof f->path, "/tmp/rein_test_js_%d_%d.db", (int)getpid(),
           n);
  unlink(f->path);
  assert_int_equal(natsConnection_ConnectTo(&f->nc, nats_url()), NATS_OK);
  assert_int_equal(natsConnection_JetStream(&f->js, f->nc, NULL), NATS_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  js_DeleteStream(f->js, f->stream, NULL, NULL);
  js_DeleteStream(f->js, f->dead_stream, NULL, NULL);
  jsCtx_Destroy(f->js);
  natsConnection_Destroy(f->nc);
  char p[300];
  unlink(f->path);
  snprintf(p, sizeof p, "%s-wal", f->path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", f->path);
  unlink(p);
  free(f);
  return 0;
}

static void broker_cfg(fx *f, rein_broker_jetstream_config *c) {
  rein_broker_jetstream_config_default(c);
  c->url = nats_url();
  c->stream = f->stream;
  c->subject = f->subject;
  c->durable = f->durable;
  c->err = &f->err;
}

static rein_broker *broker_new(fx *f, int64_t ack_wait_ns) {
  rein_broker_jetstream_config c;
  broker_cfg(f, &c);
  c.ack_wait_ns = ack_wait_ns;
  rein_broker *b = NULL;
  rein_status st = rein_broker_jetstream_new(&c, &b);
  if (st != REIN_OK)
    fail_msg("jetstream_new: %s: %s", rein_status_name(st), f->err.msg);
  return b;
}

/* Publishes one message with business key `key` (NULL: no key header),
 * confirmed by the stream. */
static void publish(fx *f, const char *key, const char *body) {
  char subj[128];
  snprintf(subj, sizeof subj, "%.*s.new", (int)(strlen(f->subject) - 2),
           f->subject);
  natsMsg *m = NULL;
  assert_int_equal(natsMsg_Create(&m, subj, NULL, body, (int)strlen(body)),
                   NATS_OK);
  if (key) assert_int_equal(natsMsgHeader_Set(m, "Rein-Key", key), NATS_OK);
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  natsStatus s = js_PublishMsg(&pa, f->js, m, NULL, &jerr);
  if (s != NATS_OK)
    fail_msg("publish: %s (jetstream error %d)", natsStatus_GetText(s),
             (int)jerr);
  jsPubAck_Destroy(pa);
  natsMsg_Destroy(m);
}

/* The consumer's num_pending and num_ack_pending, from the server. */
static void consumer_state(fx *f, uint64_t *pending, int64_t *ack_pending) {
  jsConsumerInfo *ci = NULL;
  assert_int_equal(
      js_GetConsumerInfo(&ci, f->js, f->stream, f->durable, NULL, NULL),
      NATS_OK);
  *pending = ci->NumPending;
  *ack_pending = ci->NumAckPending;
  jsConsumerInfo_Destroy(ci);
}

static uint64_t stream_msgs(fx *f, const char *stream) {
  jsStreamInfo *si = NULL;
  assert_int_equal(js_GetStreamInfo(&si, f->js, stream, NULL, NULL), NATS_OK);
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

/* The last dead-lettered message's header `h` into out. */
static void dead_header(fx *f, const char *h, char *out, size_t cap) {
  natsMsg *m = NULL;
  assert_int_equal(
      js_GetLastMsg(&m, f->js, f->dead_stream, f->dead_subj, NULL, NULL),
      NATS_OK);
  const char *v = NULL;
  assert_int_equal(natsMsgHeader_Get(m, h, &v), NATS_OK);
  snprintf(out, cap, "%s", v);
  natsMsg_Destroy(m);
}

/* ---- the inbox's handler: one effect row per key --------------------------
 */

static rein_status handler(void *ctx, rein_inbox_tx *tx,
                           const rein_broker_msg *m, char *err, size_t cap) {
  fx *f = ctx;
  f->calls++;
  if (f->fail_all) {
    snprintf(err, cap, "card declined for %s", m->key);
    return REIN_EBACKEND;
  }
  char *sql = sqlite3_mprintf("INSERT INTO effects(k) VALUES(%Q)", m->key);
  int rc = sqlite3_exec(rein_inbox_tx_sqlite(tx), sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  return rc == SQLITE_OK ? REIN_OK : REIN_EBACKEND;
}

static rein_inbox *inbox_new(fx *f, rein_broker *b, uint32_t max_deliveries) {
  rein_inbox_config c;
  rein_inbox_config_default(&c);
  c.sqlite_path = f->path;
  c.broker = b;
  c.handler = handler;
  c.handler_ctx = f;
  c.max_deliveries = max_deliveries;
  c.err = &f->err;
  rein_inbox *ib = NULL;
  rein_status st = rein_inbox_sqlite_new(&c, &ib);
  if (st != REIN_OK)
    fail_msg("inbox: %s: %s", rein_status_name(st), f->err.msg);
  assert_int_equal(sqlite3_exec(rein_inbox_sqlite(ib),
                                "CREATE TABLE IF NOT EXISTS effects(k TEXT "
                                "PRIMARY KEY)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  return ib;
}

static long long q_int(fx *f, const char *sql) {
  sqlite3 *db;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

/* ---- tests -----------------------------------------------------------------
 */

/* Every field is checked before anything connects. */
static void test_config(void **state) {
  fx *f = *state;
  rein_broker_jetstream_config c;
  rein_broker *b = (rein_broker *)1;
  broker_cfg(f, &c);
  c.stream = NULL;
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_null(b);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.stream"));
  broker_cfg(f, &c);
  c.subject = "a..b";
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.subject"));
  broker_cfg(f, &c);
  c.durable = "has.dot";
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.durable"));
  broker_cfg(f, &c);
  c.ack_wait_ns = REIN_NS_PER_MS;
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.ack_wait_ns"));
  broker_cfg(f, &c);
  c.max_deliver = 0;
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.max_deliver"));
  broker_cfg(f, &c);
  c.url = "http://127.0.0.1:1";
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "broker_jetstream.url"));
  /* nothing listens on port 1: unreachable, in libnats' words */
  broker_cfg(f, &c);
  c.url = "nats://127.0.0.1:1";
  c.timeout_ns = 200 * REIN_NS_PER_MS;
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_ECLOSED);
  assert_non_null(strstr(f->err.msg, "nats nats://127.0.0.1:1: connect"));
  assert_null(b);
}

/* Start-up creates the streams and the consumer; a second adapter joins
 * them; the window and the retention check behave as for Redis. */
static void test_startup_and_window(void **state) {
  fx *f = *state;
  rein_broker *a = broker_new(f, 30 * REIN_NS_PER_S);
  rein_broker *b = broker_new(f, 30 * REIN_NS_PER_S); /* existing: fine */
  assert_int_equal(stream_msgs(f, f->stream), 0);
  assert_int_equal(stream_msgs(f, f->dead_stream), 0);
  assert_int_equal(rein_broker_redelivery_window_ns(a),
                   7 * 86400 * REIN_NS_PER_S);
  assert_string_equal(a->vt->name, "nats-jetstream");
  /* retention shorter than the window: the inbox refuses */
  rein_inbox_config c;
  rein_inbox_config_default(&c);
  c.sqlite_path = f->path;
  c.broker = a;
  c.handler = handler;
  c.retention_ns = 3600 * REIN_NS_PER_S;
  c.err = &f->err;
  rein_inbox *ib = NULL;
  assert_int_equal(rein_inbox_sqlite_new(&c, &ib), REIN_EINVAL);
  assert_non_null(strstr(f->err.msg, "nats-jetstream"));
  /* empty: a read with no wait and a short blocking read both say so */
  rein_broker_batch bt;
  int64_t t0 = mono_ms();
  assert_int_equal(rein_broker_read(a, 10, 200, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  assert_true(mono_ms() - t0 >= 150);
  assert_int_equal(rein_broker_read(a, 10, 0, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  assert_int_equal(rein_broker_claim_stale(a, 10, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  rein_broker_free(a);
  rein_broker_free(b);
  rein_broker_free(NULL);
  /* an existing consumer without explicit acks is refused, by name */
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "noack";
  cc.AckPolicy = js_AckNone;
  assert_int_equal(js_AddConsumer(NULL, f->js, f->stream, &cc, NULL, NULL),
                   NATS_OK);
  rein_broker_jetstream_config bc;
  broker_cfg(f, &bc);
  bc.durable = "noack";
  assert_int_equal(rein_broker_jetstream_new(&bc, &a), REIN_EBACKEND);
  assert_null(a);
  assert_non_null(strstr(f->err.msg, "consumer noack"));
  assert_non_null(strstr(f->err.msg, "explicit acks"));
}

enum { N_MSGS = 300, N_DUPS = 30 };

/* N messages (and N_DUPS published twice by the producer) consumed by two
 * inboxes on one SQLite file through two adapters sharing the durable:
 * every effect exactly once, every message acked, nothing left on the
 * consumer. */
static void test_exactly_once(void **state) {
  fx *f = *state;
  rein_broker *b1 = broker_new(f, 30 * REIN_NS_PER_S);
  rein_broker *b2 = broker_new(f, 30 * REIN_NS_PER_S);
  char key[32], body[64];
  for (int i = 0; i < N_MSGS; i++) {
    snprintf(key, sizeof key, "pay-%d", i);
    snprintf(body, sizeof body, "{\"amount\":%d}", i);
    publish(f, key, body);
    if (i % (N_MSGS / N_DUPS) == 0) publish(f, key, body);
  }
  assert_int_equal(stream_msgs(f, f->stream), N_MSGS + N_DUPS);
  rein_inbox *i1 = inbox_new(f, b1, 5);
  rein_inbox *i2 = inbox_new(f, b2, 5);
  rein_inbox_stats s = {0};
  int64_t t0 = mono_ms();
  int idle = 0;
  for (int round = 0; round < 1000 && mono_ms() - t0 < 60000 && idle < 3;
       round++) {
    uint64_t before = s.processed + s.duplicates;
    assert_int_equal(rein_inbox_poll(round % 2 ? i2 : i1, 16, 100, &s),
                     REIN_OK);
    idle = s.processed + s.duplicates == before ? idle + 1 : 0;
  }
  assert_int_equal(s.processed, N_MSGS);
  assert_int_equal(s.duplicates, N_DUPS);
  assert_int_equal(s.failed + s.dead + s.claimed, 0);
  assert_int_equal(f->calls, N_MSGS);
  assert_int_equal(q_int(f, "SELECT count(*) FROM effects"), N_MSGS);
  assert_int_equal(q_int(f, "SELECT count(DISTINCT k) FROM effects"), N_MSGS);
  uint64_t pending;
  int64_t ack_pending;
  consumer_state(f, &pending, &ack_pending);
  assert_int_equal(pending, 0);
  assert_int_equal(ack_pending, 0);
  assert_int_equal(stream_msgs(f, f->dead_stream), 0);
  rein_inbox_free(i1);
  rein_inbox_free(i2);
  rein_broker_free(b1);
  rein_broker_free(b2);
}

/* A message not acked within ack_wait comes back through read with
 * deliveries 2 (same id and body); after the ack nothing is pending. */
static void test_redelivery(void **state) {
  fx *f = *state;
  rein_broker *b = broker_new(f, 500 * REIN_NS_PER_MS);
  publish(f, "k-1", "hello");
  rein_broker_batch bt;
  assert_int_equal(rein_broker_read(b, 10, 1000, &bt), REIN_OK);
  assert_int_equal(bt.n, 1);
  assert_int_equal(bt.msgs[0].deliveries, 1);
  assert_string_equal(bt.msgs[0].key, "k-1");
  assert_int_equal(bt.msgs[0].body_len, 5);
  assert_memory_equal(bt.msgs[0].body, "hello", 5);
  assert_true(bt.msgs[0].enqueued_unix_ms > 0);
  char id[32];
  snprintf(id, sizeof id, "%s", bt.msgs[0].id);
  /* not acked: before ack_wait a read finds nothing ... */
  assert_int_equal(rein_broker_read(b, 10, 0, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  /* ... after it, the same message, delivery 2 */
  int64_t t0 = mono_ms();
  size_t got = 0;
  while (mono_ms() - t0 < 5000) {
    assert_int_equal(rein_broker_read(b, 10, 500, &bt), REIN_OK);
    if ((got = bt.n)) break;
  }
  assert_int_equal(got, 1);
  assert_string_equal(bt.msgs[0].id, id);
  assert_int_equal(bt.msgs[0].deliveries, 2);
  assert_string_equal(bt.msgs[0].key, "k-1");
  assert_int_equal(rein_broker_ack(b, &bt.msgs[0]), REIN_OK);
  uint64_t pending;
  int64_t ack_pending;
  consumer_state(f, &pending, &ack_pending);
  assert_int_equal(pending, 0);
  assert_int_equal(ack_pending, 0);
  /* acked: never again, even after another ack_wait */
  usleep(700000);
  assert_int_equal(rein_broker_read(b, 10, 300, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  rein_broker_free(b);
}

/* A handler that always fails: redelivered after each ack_wait until
 * delivery max_deliveries, then dead-lettered with its last error and
 * acknowledged. A message without a key is dead-lettered at once. */
static void test_dead_letter(void **state) {
  fx *f = *state;
  rein_broker *b = broker_new(f, 300 * REIN_NS_PER_MS);
  rein_inbox *ib = inbox_new(f, b, 3);
  f->fail_all = true;
  publish(f, "pay-poison", "{\"amount\":1}");
  rein_inbox_stats s = {0};
  int64_t t0 = mono_ms();
  while (s.dead == 0 && mono_ms() - t0 < 10000)
    assert_int_equal(rein_inbox_poll(ib, 10, 200, &s), REIN_OK);
  assert_int_equal(s.dead, 1);
  assert_int_equal(s.failed, 2); /* deliveries 1 and 2 */
  assert_int_equal(f->calls, 3);
  assert_int_equal(stream_msgs(f, f->dead_stream), 1);
  char v[512];
  dead_header(f, "Rein-Key", v, sizeof v);
  assert_string_equal(v, "pay-poison");
  dead_header(f, "Rein-Deliveries", v, sizeof v);
  assert_string_equal(v, "3");
  dead_header(f, "Rein-Error", v, sizeof v);
  assert_non_null(strstr(v, "card declined for pay-poison"));
  dead_header(f, "Rein-Origin-Stream", v, sizeof v);
  assert_string_equal(v, f->stream);
  /* no key: parked without running the handler */
  publish(f, NULL, "anonymous");
  int calls = f->calls;
  t0 = mono_ms();
  while (s.dead < 2 && mono_ms() - t0 < 5000)
    assert_int_equal(rein_inbox_poll(ib, 10, 200, &s), REIN_OK);
  assert_int_equal(s.dead, 2);
  assert_int_equal(f->calls, calls);
  dead_header(f, "Rein-Error", v, sizeof v);
  assert_non_null(strstr(v, "no business key"));
  assert_int_equal(stream_msgs(f, f->dead_stream), 2);
  uint64_t pending;
  int64_t ack_pending;
  consumer_state(f, &pending, &ack_pending);
  assert_int_equal(pending, 0);
  assert_int_equal(ack_pending, 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM effects"), 0);
  rein_inbox_free(ib);
  rein_broker_free(b);
}

/* A redelivery past the redelivery window is parked as expired, never
 * handed out (the inbox may have purged its dedup row). */
static void test_expired(void **state) {
  fx *f = *state;
  rein_manual_clock wall;
  rein_manual_clock_init(&wall, rein_clock_wall_ns());
  rein_broker_jetstream_config c;
  broker_cfg(f, &c);
  c.ack_wait_ns = 300 * REIN_NS_PER_MS;
  c.redelivery_window_ns = 3600 * REIN_NS_PER_S;
  c.wall = rein_manual_clock_as_clock(&wall);
  rein_broker *b = NULL;
  assert_int_equal(rein_broker_jetstream_new(&c, &b), REIN_OK);
  publish(f, "old-1", "x");
  rein_broker_batch bt;
  assert_int_equal(rein_broker_read(b, 10, 1000, &bt), REIN_OK);
  assert_int_equal(bt.n, 1); /* first delivery: handed out */
  rein_manual_clock_advance(&wall, 7200 * REIN_NS_PER_S);
  int64_t t0 = mono_ms();
  while (stream_msgs(f, f->dead_stream) == 0 && mono_ms() - t0 < 5000) {
    assert_int_equal(rein_broker_read(b, 10, 300, &bt), REIN_OK);
    assert_int_equal(bt.n, 0);
  }
  assert_int_equal(stream_msgs(f, f->dead_stream), 1);
  char v[512];
  dead_header(f, "Rein-Error", v, sizeof v);
  assert_non_null(strstr(v, "expired"));
  uint64_t pending;
  int64_t ack_pending;
  consumer_state(f, &pending, &ack_pending);
  assert_int_equal(ack_pending, 0);
  rein_broker_free(b);
}

/* ---- crash test: SIGKILLed consumer processes ----------------------------
 */

enum { CRASH_MSGS = 1000, CRASH_KILLS = 16 };

typedef struct child_ctx {
  long commits, kill_at; /* SIGKILL itself after commit number kill_at */
} child_ctx;

static rein_status child_handler(void *ctx, rein_inbox_tx *tx,
                                 const rein_broker_msg *m, char *err,
                                 size_t cap) {
  /* no unique index: a second effect for a key would show as a row */
  char *sql =
      sqlite3_mprintf("INSERT INTO crash_effects(k) VALUES(%Q)", m->key);
  int rc = sqlite3_exec(rein_inbox_tx_sqlite(tx), sql, NULL, NULL, NULL);
  sqlite3_free(sql);
  usleep(1000); /* an effect takes time: kills land mid-stream */
  if (rc != SQLITE_OK) snprintf(err, cap, "insert: %d", rc);
  return rc == SQLITE_OK ? REIN_OK : REIN_EBACKEND;
}

static void child_after_commit(void *ctx, const rein_broker_msg *m) {
  child_ctx *c = ctx;
  if (++c->commits == c->kill_at) raise(SIGKILL); /* committed, not acked */
}

/* --consume URL STREAM SUBJECT DURABLE DB KILL_AT: polls until the effects
 * table holds CRASH_MSGS rows (or 90 s pass); exit 0 when it does. */
static int consume_main(char **a) {
  rein_broker_jetstream_config bc;
  rein_broker_jetstream_config_default(&bc);
  rein_errbuf e = {{0}};
  bc.url = a[0];
  bc.stream = a[1];
  bc.subject = a[2];
  bc.durable = a[3];
  bc.ack_wait_ns = REIN_NS_PER_S;
  bc.err = &e;
  rein_broker *b = NULL;
  if (rein_broker_jetstream_new(&bc, &b) != REIN_OK) {
    fprintf(stderr, "consumer: broker: %s\n", e.msg);
    return 3;
  }
  child_ctx cc = {0, atol(a[5])};
  rein_inbox_config c;
  rein_inbox_config_default(&c);
  c.sqlite_path = a[4];
  c.broker = b;
  c.handler = child_handler;
  c.max_deliveries = 1000; /* kills add deliveries; nothing is poison */
  c.hooks.after_commit = child_after_commit;
  c.hooks.ctx = &cc;
  c.err = &e;
  rein_inbox *ib = NULL;
  if (rein_inbox_sqlite_new(&c, &ib) != REIN_OK) {
    fprintf(stderr, "consumer: inbox: %s\n", e.msg);
    return 3;
  }
  sqlite3_exec(rein_inbox_sqlite(ib),
               "CREATE TABLE IF NOT EXISTS crash_effects(k TEXT)", NULL, NULL,
               NULL);
  int64_t t0 = mono_ms();
  while (mono_ms() - t0 < 90000) {
    rein_status st = rein_inbox_poll(ib, 16, 200, NULL);
    if (st != REIN_OK)
      fprintf(stderr, "consumer: poll: %s: %s\n", rein_status_name(st),
              rein_inbox_errmsg(ib));
    sqlite3_stmt *q;
    long long n = -1;
    if (sqlite3_prepare_v2(rein_inbox_sqlite(ib),
                           "SELECT count(DISTINCT k) FROM crash_effects", -1,
                           &q, NULL) == SQLITE_OK) {
      if (sqlite3_step(q) == SQLITE_ROW) n = sqlite3_column_int64(q, 0);
      sqlite3_finalize(q);
    }
    if (n == CRASH_MSGS) break;
  }
  rein_inbox_free(ib);
  rein_broker_free(b);
  return 0;
}

static pid_t spawn(fx *f, long kill_at) {
  char ka[24];
  snprintf(ka, sizeof ka, "%ld", kill_at);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    char *argv[] = {"/proc/self/exe", "--consume", (char *)nats_url(),
                    f->stream,        f->subject,  f->durable,
                    f->path,          ka,          NULL};
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  return pid;
}

/* Two consumer processes share the durable and a SQLite file; the test
 * SIGKILLs one at a random moment CRASH_KILLS times and restarts it (every
 * other restart armed to kill itself right after its k-th commit, before
 * the ack). Then an in-process inbox drains what the dead ones held: only
 * duplicates may be left. Every key exactly once, nothing pending or
 * unacknowledged on the consumer, nothing dead-lettered. */
static void test_crash(void **state) {
  fx *f = *state;
  uint64_t seed = rein_test_seed();
  srand((unsigned)seed);
  rein_broker *b = broker_new(f, REIN_NS_PER_S); /* creates the consumer */
  rein_inbox *ib = inbox_new(f, b, 1000);        /* creates the tables */
  assert_int_equal(sqlite3_exec(rein_inbox_sqlite(ib),
                                "CREATE TABLE crash_effects(k TEXT)", NULL,
                                NULL, NULL),
                   SQLITE_OK);
  char key[32];
  for (int i = 0; i < CRASH_MSGS; i++) {
    snprintf(key, sizeof key, "crash-%d", i);
    publish(f, key, "{}");
  }
  pid_t kids[2] = {spawn(f, 0), spawn(f, 5)};
  int after_commit_kills = 0, live_kills = 0;
  for (int k = 0; k < CRASH_KILLS; k++) {
    usleep((useconds_t)(20000 + rand() % 100000));
    if (q_int(f, "SELECT count(DISTINCT k) FROM crash_effects") >= CRASH_MSGS)
      break;
    int i = rand() % 2;
    int ws;
    pid_t r = waitpid(kids[i], &ws, WNOHANG);
    if (r == 0) {
      kill(kids[i], SIGKILL);
      assert_int_equal(waitpid(kids[i], &ws, 0), kids[i]);
      live_kills++;
    } else if (r == kids[i] && WIFSIGNALED(ws)) {
      after_commit_kills++; /* it killed itself after a commit */
    }
    kids[i] = spawn(f, k % 2 ? 1 + rand() % 20 : 0);
  }
  /* let both finish; one that killed itself after a commit is restarted
   * unarmed */
  for (int i = 0; i < 2; i++) {
    int64_t t0 = mono_ms();
    for (;;) {
      int ws;
      pid_t r = waitpid(kids[i], &ws, WNOHANG);
      if (r == kids[i] && WIFSIGNALED(ws)) {
        after_commit_kills++;
        kids[i] = spawn(f, 0);
        continue;
      }
      if (r == kids[i]) {
        if (WEXITSTATUS(ws) != 0)
          fail_msg("consumer %d exited %d", i, WEXITSTATUS(ws));
        break;
      }
      if (mono_ms() - t0 > 100000) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], &ws, 0);
        fail_msg("consumer %d did not finish (seed %llu)", i,
                 (unsigned long long)seed);
      }
      usleep(50000);
    }
  }
  /* what the killed consumers held comes back after ack_wait: duplicates */
  rein_inbox_stats s = {0};
  uint64_t pending = 1;
  int64_t ack_pending = 1;
  int64_t t0 = mono_ms();
  while ((pending || ack_pending) && mono_ms() - t0 < 20000) {
    assert_int_equal(rein_inbox_poll(ib, 16, 300, &s), REIN_OK);
    consumer_state(f, &pending, &ack_pending);
  }
  fprintf(stderr,
          "crash: %d SIGKILLs at random moments while work remained, %d "
          "after a commit; the drain saw %llu duplicates\n",
          live_kills, after_commit_kills, (unsigned long long)s.duplicates);
  /* the test tested something: kills landed mid-stream */
  assert_true(live_kills >= CRASH_KILLS / 4);
  assert_true(after_commit_kills >= 1);
  assert_int_equal(s.processed, 0);
  assert_int_equal(pending, 0);
  assert_int_equal(ack_pending, 0);
  assert_int_equal(q_int(f, "SELECT count(*) FROM crash_effects"), CRASH_MSGS);
  assert_int_equal(q_int(f, "SELECT count(DISTINCT k) FROM crash_effects"),
                   CRASH_MSGS);
  assert_int_equal(q_int(f, "SELECT count(*) FROM rein_inbox"), CRASH_MSGS);
  assert_int_equal(stream_msgs(f, f->dead_stream), 0);
  rein_inbox_free(ib);
  rein_broker_free(b);
}

int main(int argc, char **argv) {
  if (argc == 8 && strcmp(argv[1], "--consume") == 0)
    return consume_main(argv + 2);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_config, setup, teardown),
      cmocka_unit_test_setup_teardown(test_startup_and_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_exactly_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_redelivery, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_letter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
