/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_inbox.c: messages per second through a consumer with the inbox
 * (exactly-once effects) against a hand-written at-least-once consumer on
 * the same broker and database, for Redis Streams, NATS JetStream and
 * RabbitMQ, on SQLite and PostgreSQL.
 *
 *   bench_inbox [--messages N] [--runs R] [--db sqlite|pg|both] [--batch B]
 *               [--broker redis|jetstream|amqp|all] [--hand-tx]
 *               [--hand-ack batch|each] [--js-ack sync|async]
 *               [--only hand|nodedup|inbox]
 *
 * Each run publishes N messages (business key in the broker's key field)
 * to a fresh stream or queue, then one consumer takes them (up to B per
 * read) until all are processed. The effect is one INSERT into a local
 * ledger table, the ack follows it. Three consumers do that work:
 *   hand     written against the broker's own client library (hiredis
 *            XREADGROUP/XACK, libnats Fetch/Ack, librabbitmq
 *            basic.consume/basic.ack) and the database's (sqlite3, libpq)
 *            as a careful engineer writes it: acks batched where the
 *            broker allows (one XACK per read, one basic.ack multiple per
 *            burst; --hand-ack each: one per message, as the inbox does),
 *            the effect in its own autocommit transaction (with
 *            --hand-tx inside BEGIN ... COMMIT, as an effect of two
 *            statements or more needs): the at-least-once consumer a team
 *            writes without rein;
 *   nodedup  rein_inbox with dedup = false (rein's framework, no dedup);
 *   inbox    rein_inbox: the effect and the dedup row in one transaction.
 * The three alternate run by run, their order rotating, so drift on a
 * shared machine hits all. Per round of runs the cost per message of
 * inbox and nodedup relative to hand is taken (hand msg/s over theirs:
 * 1.30 = 30% more time per message), and the median and range of those
 * ratios are reported with the median rates. The hand JetStream consumer
 * acks with natsMsg_Ack (sent, not awaited), as an at-least-once consumer
 * can; rein's adapter acks a batch the same way plus one flush (its
 * single ack is AckSync); `--js-ack sync` makes the hand consumer wait for
 * each ack, to show what that costs.
 *
 * Needs the servers of scripts/services.sh: REIN_REDIS_HOST/PORT, and for
 * the other brokers and PostgreSQL REIN_NATS_URL, REIN_AMQP_URL,
 * REIN_PG_DSN (a broker whose variable is unset is skipped with a note;
 * one asked for by name is an error). Bounded: N <= 10^6, each run stops
 * after 120 s; streams, queues and schemas it made are removed.
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

#ifdef BENCH_HAVE_NATS
#include <nats/nats.h>
#endif
#ifdef BENCH_HAVE_AMQP
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include "rein/inbox.h"

#define MAX_RUNS 50
#define RUN_LIMIT_S 120.0

enum { B_REDIS, B_JETSTREAM, B_AMQP, B_COUNT };
static const char *const BROKER_NAME[B_COUNT] = {"redis", "jetstream", "amqp"};
enum { M_HAND, M_NODEDUP, M_INBOX, M_COUNT };
static const char *const MODE_NAME[M_COUNT] = {"hand", "nodedup", "inbox"};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- the effect: one INSERT, the same statement in every mode ---------- */

typedef struct db {
  sqlite3 *lite; /* borrowed from the inbox, or the hand consumer's own */
  PGconn *pg;
  sqlite3_stmt *st;
} db;

static bool effect_do(db *d, const char *key, size_t body_len, char *err,
                      size_t cap) {
  if (d->lite) {
    sqlite3_bind_text(d->st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(d->st, 2, (sqlite3_int64)body_len);
    int rc = sqlite3_step(d->st);
    sqlite3_reset(d->st);
    if (rc != SQLITE_DONE) {
      snprintf(err, cap, "%s", sqlite3_errmsg(d->lite));
      return false;
    }
    return true;
  }
  const char *v[1] = {key};
  PGresult *r = PQexecPrepared(d->pg, "bench_effect", 1, v, NULL, NULL, 0);
  bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) snprintf(err, cap, "%s", PQerrorMessage(d->pg));
  PQclear(r);
  return ok;
}

static rein_status inbox_effect(void *ctx, rein_inbox_tx *tx,
                                const rein_broker_msg *m, char *err,
                                size_t cap) {
  (void)tx; /* the db already holds the inbox's own connection */
  return effect_do(ctx, m->key, m->body_len, err, cap) ? REIN_OK
                                                       : REIN_EBACKEND;
}

/* Creates the ledger table and prepares the INSERT on an open connection. */
static bool effect_prepare(db *d, bool inbox) {
  if (d->lite) {
    return sqlite3_exec(d->lite,
                        "CREATE TABLE IF NOT EXISTS ledger(k TEXT, n INT)",
                        NULL, NULL, NULL) == SQLITE_OK &&
           sqlite3_prepare_v2(d->lite, "INSERT INTO ledger VALUES(?1, ?2)", -1,
                              &d->st, NULL) == SQLITE_OK;
  }
  PQclear(PQexec(d->pg, "SET client_min_messages = warning"));
  PQclear(PQexec(d->pg, "DROP TABLE IF EXISTS bench_ledger"));
  if (inbox) PQclear(PQexec(d->pg, "TRUNCATE rein_inbox"));
  PQclear(PQexec(d->pg, "CREATE TABLE bench_ledger(k text)"));
  PGresult *r = PQprepare(d->pg, "bench_effect",
                          "INSERT INTO bench_ledger VALUES($1)", 1, NULL);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "bench_inbox: prepare: %s", PQerrorMessage(d->pg));
  PQclear(r);
  return ok;
}

static char g_dsn[768]; /* REIN_PG_DSN with search_path = g_schema */
static char g_schema[64];

/* The hand consumer's own connection, configured as the inbox configures
 * its own (SQLite: WAL, synchronous NORMAL). */
static bool hand_db_open(db *d, bool pg, const char *path) {
  memset(d, 0, sizeof *d);
  if (pg) {
    d->pg = PQconnectdb(g_dsn);
    if (PQstatus(d->pg) != CONNECTION_OK) {
      fprintf(stderr, "bench_inbox: %s", PQerrorMessage(d->pg));
      return false;
    }
  } else {
    if (sqlite3_open(path, &d->lite) != SQLITE_OK ||
        sqlite3_exec(d->lite,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL,
                     NULL, NULL) != SQLITE_OK)
      return false;
    sqlite3_busy_timeout(d->lite, 5000);
  }
  return effect_prepare(d, false);
}

static void hand_db_close(db *d) {
  sqlite3_finalize(d->st);
  if (d->lite) sqlite3_close(d->lite);
  if (d->pg) PQfinish(d->pg);
  memset(d, 0, sizeof *d);
}

/* ---- brokers: publish, the hand consumer, the rein adapter -------------- */

/* --hand-tx: the hand consumer's effect in BEGIN/COMMIT; --hand-ack each:
 * one ack per message */
static bool g_hand_tx, g_hand_ack_each;

/* The hand consumer's effect: one autocommit INSERT, or (--hand-tx) the
 * same INSERT inside BEGIN ... COMMIT, as an effect of more than one
 * statement needs in any consumer. */
static bool hand_effect(db *d, const char *key, size_t body_len, char *err,
                        size_t cap) {
  if (!g_hand_tx) return effect_do(d, key, body_len, err, cap);
  bool ok;
  if (d->lite) {
    ok = sqlite3_exec(d->lite, "BEGIN IMMEDIATE", NULL, NULL, NULL) ==
             SQLITE_OK &&
         effect_do(d, key, body_len, err, cap) &&
         sqlite3_exec(d->lite, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) sqlite3_exec(d->lite, "ROLLBACK", NULL, NULL, NULL);
    return ok;
  }
  PGresult *r = PQexec(d->pg, "BEGIN");
  ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  ok = ok && effect_do(d, key, body_len, err, cap);
  r = PQexec(d->pg, ok ? "COMMIT" : "ROLLBACK");
  ok = ok && PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  return ok;
}

static const char *g_redis_host;
static int g_redis_port;
static redisContext *g_rc;

static int redis_publish(const char *stream, long n) {
  long pending = 0;
  for (long i = 0; i < n; i++) {
    redisAppendCommand(g_rc,
                       "XADD %s * key pay-%ld body {\"amount_cents\":%ld}",
                       stream, i, 100 + i % 900);
    if (++pending == 1000 || i + 1 == n) {
      for (; pending; pending--) {
        redisReply *r;
        if (redisGetReply(g_rc, (void **)&r) != REDIS_OK) return -1;
        bool bad = r->type == REDIS_REPLY_ERROR;
        freeReplyObject(r);
        if (bad) return -1;
      }
    }
  }
  return 0;
}

/* XREADGROUP up to `batch`, then per entry the effect, then one XACK for
 * the batch (--hand-ack each: an XACK after each effect). */
static long redis_hand(const char *stream, long n, int batch, db *d) {
  redisContext *c = redisConnect(g_redis_host, g_redis_port);
  if (!c || c->err) return -1;
  freeReplyObject(redisCommand(c, "XGROUP CREATE %s hand 0", stream));
  long done = 0;
  char err[256];
  double deadline = now_s() + RUN_LIMIT_S;
  while (done < n && now_s() < deadline) {
    redisReply *r = redisCommand(c,
                                 "XREADGROUP GROUP hand c1 COUNT %d BLOCK 100 "
                                 "STREAMS %s >",
                                 batch, stream);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      freeReplyObject(r);
      break;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
      redisReply *entries = r->element[0]->element[1];
      const char *av[3 + 10000];
      size_t al[3 + 10000], na = 3;
      av[0] = "XACK";
      av[1] = stream;
      av[2] = "hand";
      for (int k = 0; k < 3; k++)
        al[k] = strlen(av[k]);
      for (size_t i = 0; i < entries->elements; i++) {
        redisReply *e = entries->element[i], *f = e->element[1];
        const char *key = NULL;
        size_t blen = 0;
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
          if (!strcmp(f->element[j]->str, "key")) key = f->element[j + 1]->str;
          if (!strcmp(f->element[j]->str, "body"))
            blen = f->element[j + 1]->len;
        }
        if (!key || !hand_effect(d, key, blen, err, sizeof err)) {
          freeReplyObject(r);
          redisFree(c);
          return -1;
        }
        av[na] = e->element[0]->str;
        al[na++] = e->element[0]->len;
        bool last = i + 1 == entries->elements;
        if (g_hand_ack_each || last) {
          redisReply *a = redisCommandArgv(c, (int)na, av, al);
          bool ok = a && a->type == REDIS_REPLY_INTEGER;
          freeReplyObject(a);
          if (!ok) {
            freeReplyObject(r);
            redisFree(c);
            return -1;
          }
          na = 3;
        }
        done++;
      }
    }
    freeReplyObject(r);
  }
  redisFree(c);
  return done;
}

static rein_broker *redis_adapter(const char *stream) {
  rein_errbuf e = {{0}};
  rein_broker_redis_config bc;
  rein_broker_redis_config_default(&bc);
  bc.host = g_redis_host;
  bc.port = g_redis_port;
  bc.stream = stream;
  bc.group = "bench";
  bc.consumer = "c1";
  bc.err = &e;
  rein_broker *b = NULL;
  if (rein_broker_redis_new(&bc, &b) != REIN_OK)
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
  return b;
}

static void redis_cleanup(const char *stream) {
  freeReplyObject(redisCommand(g_rc, "DEL %s %s:dead", stream, stream));
}

#ifdef BENCH_HAVE_NATS
static const char *g_nats_url;
static bool g_js_ack_async = true; /* --js-ack sync: AckSync each */
static natsConnection *g_nc;
static jsCtx *g_js;

static void js_names(const char *name, char *subject, size_t cap) {
  snprintf(subject, cap, "bench.%s", name);
}

static int js_publish(const char *name, long n) {
  char subject[128];
  js_names(name, subject, sizeof subject);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name;
  const char *subjects[1] = {subject};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  jsErrCode jerr = 0;
  if (js_AddStream(NULL, g_js, &sc, NULL, &jerr) != NATS_OK) {
    fprintf(stderr, "bench_inbox: js_AddStream: %s (%d)\n",
            nats_GetLastError(NULL), (int)jerr);
    return -1;
  }
  for (long i = 0; i < n; i++) {
    char key[32], body[48];
    snprintf(key, sizeof key, "pay-%ld", i);
    int bl =
        snprintf(body, sizeof body, "{\"amount_cents\":%ld}", 100 + i % 900);
    natsMsg *m = NULL;
    if (natsMsg_Create(&m, subject, NULL, body, bl) != NATS_OK ||
        natsMsgHeader_Set(m, "Rein-Key", key) != NATS_OK ||
        js_PublishMsgAsync(g_js, &m, NULL) != NATS_OK) {
      natsMsg_Destroy(m);
      return -1;
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 30000;
  return js_PublishAsyncComplete(g_js, &po) == NATS_OK ? 0 : -1;
}

static long js_hand(const char *name, long n, int batch, db *d) {
  char subject[128];
  js_names(name, subject, sizeof subject);
  natsSubscription *sub = NULL;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = name;
  so.Config.AckPolicy = js_AckExplicit;
  jsErrCode jerr = 0;
  if (js_PullSubscribe(&sub, g_js, subject, "hand", NULL, &so, &jerr) !=
      NATS_OK) {
    fprintf(stderr, "bench_inbox: js_PullSubscribe: %s\n",
            nats_GetLastError(NULL));
    return -1;
  }
  long done = 0;
  char err[256];
  double deadline = now_s() + RUN_LIMIT_S;
  while (done < n && now_s() < deadline) {
    natsMsgList list = {0};
    natsStatus s = natsSubscription_Fetch(&list, sub, batch, 100, &jerr);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) break;
    bool ok = true;
    for (int i = 0; ok && i < list.Count; i++) {
      natsMsg *m = list.Msgs[i];
      const char *key = NULL;
      ok = natsMsgHeader_Get(m, "Rein-Key", &key) == NATS_OK &&
           hand_effect(d, key, (size_t)natsMsg_GetDataLength(m), err,
                       sizeof err) &&
           (g_js_ack_async ? natsMsg_Ack(m, NULL)
                           : natsMsg_AckSync(m, NULL, &jerr)) == NATS_OK;
      done += ok;
    }
    natsMsgList_Destroy(&list);
    if (!ok) break;
  }
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return done;
}

static rein_broker *js_adapter(const char *name) {
  char subject[128];
  js_names(name, subject, sizeof subject);
  rein_errbuf e = {{0}};
  rein_broker_jetstream_config c;
  rein_broker_jetstream_config_default(&c);
  c.url = g_nats_url;
  c.stream = name;
  c.subject = subject;
  c.durable = "bench";
  c.err = &e;
  rein_broker *b = NULL;
  if (rein_broker_jetstream_new(&c, &b) != REIN_OK)
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
  return b;
}

static void js_cleanup(const char *name) {
  char dead[160];
  snprintf(dead, sizeof dead, "%s_dead", name);
  js_DeleteStream(g_js, name, NULL, NULL);
  js_DeleteStream(g_js, dead, NULL, NULL);
}
#endif

#ifdef BENCH_HAVE_AMQP
static char g_amqp_buf[512];
static struct amqp_connection_info g_amqp;

static amqp_connection_state_t amqp_open(void) {
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t *s = amqp_tcp_socket_new(c);
  if (!s || amqp_socket_open(s, g_amqp.host, g_amqp.port) != 0 ||
      amqp_login(c, g_amqp.vhost, 1, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                 g_amqp.user, g_amqp.password)
              .reply_type != AMQP_RESPONSE_NORMAL ||
      !amqp_channel_open(c, 1) ||
      amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) {
    amqp_destroy_connection(c);
    return NULL;
  }
  return c;
}

static void amqp_close(amqp_connection_state_t c) {
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

/* The hand consumer's queue: durable, quorum, as rein's adapter makes it
 * (without its dead-letter exchange and TTL, which cost nothing per
 * message). */
static bool amqp_declare_hand(amqp_connection_state_t c, const char *queue) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes("x-queue-type");
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes("quorum");
  amqp_table_t t = {1, &e};
  amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, t);
  return amqp_get_rpc_reply(c).reply_type == AMQP_RESPONSE_NORMAL;
}

/* Publishes with publisher confirms and waits for the last one, so every
 * message is in the queue before the clock starts. */
static int amqp_publish(const char *queue, long n, bool hand) {
  amqp_connection_state_t c = amqp_open();
  if (!c) return -1;
  int rc = -1;
  if (hand && !amqp_declare_hand(c, queue)) goto out;
  amqp_confirm_select(c, 1);
  if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) goto out;
  for (long i = 0; i < n; i++) {
    char key[32], body[48];
    snprintf(key, sizeof key, "pay-%ld", i);
    snprintf(body, sizeof body, "{\"amount_cents\":%ld}", 100 + i % 900);
    amqp_basic_properties_t p = {0};
    p._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.message_id = amqp_cstring_bytes(key);
    p.delivery_mode = 2;
    if (amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0,
                           0, &p, amqp_cstring_bytes(body)) != 0)
      goto out;
  }
  /* confirms carry the highest tag acknowledged (multiple = true covers
   * the ones below it) */
  uint64_t confirmed = 0;
  double deadline = now_s() + 60;
  while (confirmed < (uint64_t)n && now_s() < deadline) {
    amqp_frame_t f;
    struct timeval tv = {1, 0};
    int s = amqp_simple_wait_frame_noblock(c, &f, &tv);
    if (s == AMQP_STATUS_TIMEOUT) continue;
    if (s != AMQP_STATUS_OK) goto out;
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) goto out;
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t *a = f.payload.method.decoded;
      if (a->delivery_tag > confirmed) confirmed = a->delivery_tag;
    }
  }
  if (confirmed == (uint64_t)n) rc = 0;
out:
  amqp_close(c);
  return rc;
}

static long amqp_hand(const char *queue, long n, db *d) {
  amqp_connection_state_t c = amqp_open();
  if (!c) return -1;
  amqp_basic_qos(c, 1, 0, 64, 0); /* the adapter's default prefetch */
  amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  long done = 0, unacked = 0;
  char err[256], key[128];
  if (amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL) done = -1;
  double deadline = now_s() + RUN_LIMIT_S;
  while (done >= 0 && done < n && now_s() < deadline) {
    amqp_envelope_t env;
    struct timeval tv = {0, 100000};
    amqp_maybe_release_buffers(c);
    amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
        r.library_error == AMQP_STATUS_TIMEOUT)
      continue;
    if (r.reply_type != AMQP_RESPONSE_NORMAL) break;
    amqp_bytes_t id = env.message.properties.message_id;
    size_t kl = id.len < sizeof key ? id.len : sizeof key - 1;
    memcpy(key, id.bytes, kl);
    key[kl] = 0;
    bool ok = hand_effect(d, key, env.message.body.len, err, sizeof err);
    uint64_t tag = env.delivery_tag;
    amqp_destroy_envelope(&env);
    if (!ok) break;
    done++;
    /* batched: one basic.ack (multiple) once nothing more has arrived, or
     * every 32 (half the prefetch, so the broker never waits for acks) */
    if (g_hand_ack_each || ++unacked >= 32 ||
        (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c))) {
      if (amqp_basic_ack(c, 1, tag, !g_hand_ack_each) != 0) break;
      unacked = 0;
    }
  }
  amqp_close(c);
  return done;
}

static rein_broker *amqp_adapter(const char *queue) {
  rein_errbuf e = {{0}};
  rein_broker_amqp_config c;
  rein_broker_amqp_config_default(&c);
  c.host = g_amqp.host;
  c.port = g_amqp.port;
  c.vhost = g_amqp.vhost;
  c.user = g_amqp.user;
  c.password = g_amqp.password;
  c.queue = queue;
  c.err = &e;
  rein_broker *b = NULL;
  if (rein_broker_amqp_new(&c, &b) != REIN_OK)
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
  return b;
}

static void amqp_cleanup(const char *queue) {
  amqp_connection_state_t c = amqp_open();
  if (!c) return;
  char name[200];
  amqp_queue_delete(c, 1, amqp_cstring_bytes(queue), 0, 0);
  snprintf(name, sizeof name, "%s.dead", queue);
  amqp_queue_delete(c, 1, amqp_cstring_bytes(name), 0, 0);
  snprintf(name, sizeof name, "%s.dlx", queue);
  amqp_exchange_delete(c, 1, amqp_cstring_bytes(name), 0);
  amqp_close(c);
}
#endif

/* Publishes n messages for one run; a consumer with the rein adapter is
 * created (and freed) first where the adapter declares the queue itself. */
static int publish(int bk, int mode, const char *name, long n) {
  switch (bk) {
  case B_REDIS:
    return redis_publish(name, n);
#ifdef BENCH_HAVE_NATS
  case B_JETSTREAM:
    return js_publish(name, n);
#endif
#ifdef BENCH_HAVE_AMQP
  case B_AMQP:
    if (mode != M_HAND) {
      rein_broker *b = amqp_adapter(name); /* declares its queue */
      if (!b) return -1;
      rein_broker_free(b);
    }
    return amqp_publish(name, n, mode == M_HAND);
#endif
  }
  return -1;
}

static rein_broker *adapter(int bk, const char *name) {
  switch (bk) {
  case B_REDIS:
    return redis_adapter(name);
#ifdef BENCH_HAVE_NATS
  case B_JETSTREAM:
    return js_adapter(name);
#endif
#ifdef BENCH_HAVE_AMQP
  case B_AMQP:
    return amqp_adapter(name);
#endif
  }
  return NULL;
}

static long hand(int bk, const char *name, long n, int batch, db *d) {
  switch (bk) {
  case B_REDIS:
    return redis_hand(name, n, batch, d);
#ifdef BENCH_HAVE_NATS
  case B_JETSTREAM:
    return js_hand(name, n, batch, d);
#endif
#ifdef BENCH_HAVE_AMQP
  case B_AMQP:
    return amqp_hand(name, n, d);
#endif
  }
  return -1;
}

static void cleanup(int bk, const char *name) {
  switch (bk) {
  case B_REDIS:
    redis_cleanup(name);
    break;
#ifdef BENCH_HAVE_NATS
  case B_JETSTREAM:
    js_cleanup(name);
    break;
#endif
#ifdef BENCH_HAVE_AMQP
  case B_AMQP:
    amqp_cleanup(name);
    break;
#endif
  }
}

/* One run: messages/s, or < 0 on error. */
static double run(int bk, bool pg, int mode, long n, int batch, int serial) {
  char name[96], path[128];
  snprintf(name, sizeof name, "bench_inbox_%d_%d", (int)getpid(), serial);
  snprintf(path, sizeof path, "/tmp/bench-inbox-%d-%d.db", (int)getpid(),
           serial);
  double rate = -1;
  rein_broker *b = NULL;
  rein_inbox *ib = NULL;
  db d = {0};
  if (publish(bk, mode, name, n) != 0) {
    fprintf(stderr, "bench_inbox: publishing to %s failed\n", BROKER_NAME[bk]);
    goto out;
  }
  if (mode == M_HAND) {
    if (!hand_db_open(&d, pg, path)) goto out;
    double t0 = now_s();
    long done = hand(bk, name, n, batch, &d);
    double dt = now_s() - t0;
    if (done == n)
      rate = (double)n / dt;
    else
      fprintf(stderr, "bench_inbox: hand consumer on %s: %ld of %ld\n",
              BROKER_NAME[bk], done, n);
    hand_db_close(&d);
    goto out;
  }
  if (!(b = adapter(bk, name))) goto out;
  rein_errbuf e = {{0}};
  rein_inbox_config ic;
  rein_inbox_config_default(&ic);
  if (pg)
    ic.pg_conninfo = g_dsn;
  else
    ic.sqlite_path = path;
  ic.broker = b;
  ic.dedup = mode == M_INBOX;
  ic.handler = inbox_effect;
  ic.handler_ctx = &d;
  ic.err = &e;
  if ((pg ? rein_inbox_pg_new(&ic, &ib) : rein_inbox_sqlite_new(&ic, &ib)) !=
      REIN_OK) {
    fprintf(stderr, "bench_inbox: %s\n", e.msg);
    goto out;
  }
  if (pg)
    d.pg = rein_inbox_pg(ib);
  else
    d.lite = rein_inbox_sqlite(ib);
  if (!effect_prepare(&d, true)) goto out;
  {
    rein_inbox_stats s = {0};
    double t0 = now_s(), deadline = t0 + RUN_LIMIT_S;
    while (s.processed + s.duplicates < (uint64_t)n && now_s() < deadline) {
      if (rein_inbox_poll(ib, (size_t)batch, 100, &s) != REIN_OK) {
        fprintf(stderr, "bench_inbox: poll: %s\n", rein_inbox_errmsg(ib));
        goto out;
      }
    }
    double dt = now_s() - t0;
    if (s.processed == (uint64_t)n) rate = (double)n / dt;
  }
out:
  sqlite3_finalize(d.st); /* the inbox's connection is the inbox's to close */
  rein_inbox_free(ib);
  rein_broker_free(b);
  cleanup(bk, name);
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

static double median(double *v, int n) {
  double s[MAX_RUNS];
  memcpy(s, v, (size_t)n * sizeof *v);
  qsort(s, (size_t)n, sizeof s[0], cmp);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

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

/* Connects to the broker; false (with a note) when it is not available. */
static bool broker_up(int bk, bool named) {
  switch (bk) {
  case B_REDIS:
    g_redis_host = getenv("REIN_REDIS_HOST");
    if (!g_redis_host || !getenv("REIN_REDIS_PORT")) break;
    g_redis_port = atoi(getenv("REIN_REDIS_PORT"));
    g_rc = redisConnect(g_redis_host, g_redis_port);
    if (g_rc && !g_rc->err) return true;
    fprintf(stderr, "bench_inbox: cannot connect to redis\n");
    return false;
  case B_JETSTREAM:
#ifdef BENCH_HAVE_NATS
    g_nats_url = getenv("REIN_NATS_URL");
    if (!g_nats_url) break;
    if (natsConnection_ConnectTo(&g_nc, g_nats_url) == NATS_OK &&
        natsConnection_JetStream(&g_js, g_nc, NULL) == NATS_OK)
      return true;
    fprintf(stderr, "bench_inbox: cannot connect to %s\n", g_nats_url);
    return false;
#else
    if (named)
      fprintf(stderr, "bench_inbox: built without libnats (REIN_WITH_NATS)\n");
    return false;
#endif
  case B_AMQP:
#ifdef BENCH_HAVE_AMQP
    if (!getenv("REIN_AMQP_URL")) break;
    snprintf(g_amqp_buf, sizeof g_amqp_buf, "%s", getenv("REIN_AMQP_URL"));
    amqp_default_connection_info(&g_amqp);
    if (amqp_parse_url(g_amqp_buf, &g_amqp) != AMQP_STATUS_OK) {
      fprintf(stderr, "bench_inbox: cannot parse REIN_AMQP_URL\n");
      return false;
    }
    if (!*g_amqp.vhost) g_amqp.vhost = "/";
    return true;
#else
    if (named)
      fprintf(stderr,
              "bench_inbox: built without librabbitmq (REIN_WITH_AMQP)\n");
    return false;
#endif
  }
  fprintf(stderr,
          "bench_inbox: %s: its server is not set (eval \"$(scripts/"
          "services.sh start DIR)\"); skipped\n",
          BROKER_NAME[bk]);
  return false;
}

static void broker_down(int bk) {
  if (bk == B_REDIS && g_rc) redisFree(g_rc);
#ifdef BENCH_HAVE_NATS
  if (bk == B_JETSTREAM) {
    jsCtx_Destroy(g_js);
    natsConnection_Destroy(g_nc);
  }
#endif
}

int main(int argc, char **argv) {
  long n = 20000;
  int runs = 5, batch = 100;
  const char *which = "both", *brokers = "all";
  int only = -1; /* --only MODE: that consumer alone (for strace, perf) */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--messages") && i + 1 < argc)
      n = atol(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--db") && i + 1 < argc)
      which = argv[++i];
    else if (!strcmp(argv[i], "--broker") && i + 1 < argc)
      brokers = argv[++i];
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      i++;
      for (int m = 0; m < M_COUNT; m++)
        if (!strcmp(argv[i], MODE_NAME[m])) only = m;
      if (only < 0) {
        fprintf(stderr, "bench_inbox: --only hand|nodedup|inbox\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--hand-tx"))
      g_hand_tx = true;
    else if (!strcmp(argv[i], "--hand-ack") && i + 1 < argc &&
             (!strcmp(argv[i + 1], "each") || !strcmp(argv[i + 1], "batch")))
      g_hand_ack_each = !strcmp(argv[++i], "each");
#ifdef BENCH_HAVE_NATS
    else if (!strcmp(argv[i], "--js-ack") && i + 1 < argc &&
             (!strcmp(argv[i + 1], "sync") || !strcmp(argv[i + 1], "async")))
      g_js_ack_async = !strcmp(argv[++i], "async");
#endif
    else {
      fprintf(stderr,
              "usage: bench_inbox [--messages N] [--runs R] "
              "[--db sqlite|pg|both] [--batch B] "
              "[--broker redis|jetstream|amqp|all] "
              "[--hand-tx] [--hand-ack batch|each] [--js-ack sync|async] "
              "[--only hand|nodedup|inbox]\n");
      return 2;
    }
  }
  bool want[B_COUNT] = {false};
  for (int k = 0; k < B_COUNT; k++)
    want[k] = !strcmp(brokers, "all") || !strcmp(brokers, BROKER_NAME[k]);
  if (n < 1 || n > 1000000 || runs < 1 || runs > MAX_RUNS || batch < 1 ||
      batch > 10000 || (!want[0] && !want[1] && !want[2]) ||
      (strcmp(which, "sqlite") && strcmp(which, "pg") &&
       strcmp(which, "both"))) {
    fprintf(stderr, "bench_inbox: out of range (messages <= 10^6, runs <= "
                    "50, batch <= 10000, --broker redis|jetstream|amqp|all, "
                    "--db sqlite|pg|both)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  bool want_pg = strcmp(which, "sqlite") != 0;
  if (want_pg && !getenv("REIN_PG_DSN")) {
    fprintf(stderr,
            "bench_inbox: --db %s needs REIN_PG_DSN (eval \"$("
            "scripts/services.sh start DIR)\")\n",
            which);
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
         "INSERT per message in a transaction%s; hand acks %s%s\n",
         n, runs, batch, g_hand_tx ? " (hand: in BEGIN/COMMIT)" : "",
         g_hand_ack_each ? "one per message" : "batched",
#ifdef BENCH_HAVE_NATS
         !g_js_ack_async ? ", JetStream AckSync" :
#endif
                         "");
  printf("%-10s %-8s %12s %12s %12s %14s %18s\n", "broker", "db", "hand msg/s",
         "nodedup", "inbox msg/s", "nodedup cost", "inbox cost (range)");
  int serial = 0, rc = 0, ran = 0;
  for (int bk = 0; bk < B_COUNT && rc == 0; bk++) {
    if (!want[bk]) continue;
    if (!broker_up(bk, strcmp(brokers, "all") != 0)) {
      if (strcmp(brokers, "all")) rc = 1;
      continue;
    }
    for (int dbi = 0; dbi < 2 && rc == 0; dbi++) {
      bool pg = dbi == 1;
      if ((pg && !strcmp(which, "sqlite")) || (!pg && !strcmp(which, "pg")))
        continue;
      double v[M_COUNT][MAX_RUNS], ri[MAX_RUNS], rn[MAX_RUNS];
      for (int r = 0; r < runs && rc == 0; r++) {
        for (int k = 0; k < M_COUNT; k++) {
          int mode = (r + k) % M_COUNT; /* the order rotates run by run */
          if (only >= 0 && mode != only) {
            v[mode][r] = 1; /* not run: no ratio is printed */
            continue;
          }
          double x = run(bk, pg, mode, n, batch, ++serial);
          if (x < 0) {
            fprintf(stderr, "bench_inbox: %s/%s/%s run failed\n",
                    BROKER_NAME[bk], pg ? "postgres" : "sqlite",
                    MODE_NAME[mode]);
            rc = 1;
            break;
          }
          v[mode][r] = x;
        }
        if (rc == 0) {
          /* cost per message relative to the hand consumer's */
          ri[r] = v[M_HAND][r] / v[M_INBOX][r];
          rn[r] = v[M_HAND][r] / v[M_NODEDUP][r];
        }
      }
      if (rc) break;
      double lo = ri[0], hi = ri[0];
      for (int r = 1; r < runs; r++) {
        lo = ri[r] < lo ? ri[r] : lo;
        hi = ri[r] > hi ? ri[r] : hi;
      }
      char range[48];
      snprintf(range, sizeof range, "%.3f (%.2f-%.2f)", median(ri, runs), lo,
               hi);
      if (only >= 0) {
        printf("%-10s %-8s %s only: %.0f msg/s\n", BROKER_NAME[bk],
               pg ? "postgres" : "sqlite", MODE_NAME[only],
               median(v[only], runs));
        ran++;
        continue;
      }
      printf("%-10s %-8s %12.0f %12.0f %12.0f %14.3f %18s\n", BROKER_NAME[bk],
             pg ? "postgres" : "sqlite", median(v[M_HAND], runs),
             median(v[M_NODEDUP], runs), median(v[M_INBOX], runs),
             median(rn, runs), range);
      fflush(stdout);
      ran++;
    }
    broker_down(bk);
  }
  if (want_pg) {
    char sql[160];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", g_schema);
    pg_exec(getenv("REIN_PG_DSN"), sql);
  }
  if (rc == 0 && ran == 0) {
    fprintf(stderr, "bench_inbox: no broker ran\n");
    rc = 1;
  }
  return rc;
}
