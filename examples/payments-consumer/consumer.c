/* SPDX-License-Identifier: Apache-2.0 */
/*
 * payments-consumer: consumes payment messages from a Redis stream, a NATS
 * JetStream stream or a RabbitMQ queue (--broker) with rein_inbox, writes one
 * local ledger row per payment in the same SQLite (or PostgreSQL) transaction
 * as the inbox's dedup row, and sends the charge to examples/ledger (POST
 * /charges) through the outbox, keyed by HMAC(secret, payment id || "charge").
 *
 *   payments-consumer --publish N [--stream S]   publish N payments, exit
 *   payments-consumer [options]                  consume until SIGTERM
 *
 * A message is a stream entry {key: <payment id>, body: <charge JSON>}
 * (Redis), a JetStream message with the payment id in its Rein-Key header,
 * or a RabbitMQ message with the payment id as its message_id. Names follow
 * --stream S: JetStream stream S capturing subject "payments.S" with the
 * durable consumer --group; RabbitMQ queue S (dead letters in "S.dead").
 * JetStream and RabbitMQ are compiled in when rein's adapters for them are
 * built (PAYMENTS_HAVE_NATS, PAYMENTS_HAVE_AMQP).
 * The local table `payments` deliberately has no unique constraint on the
 * payment id: the inbox is what keeps it exactly-once, and --no-inbox (the
 * at-least-once baseline) shows the duplicates a redelivery makes.
 *
 * Crash points for the crash test: --kill-at=after-effect (row written,
 * transaction not committed), after-commit (committed, not acknowledged),
 * during-outbox (charge accepted by the ledger, intent not yet marked
 * delivered). The process raises SIGKILL on the --kill-after'th time it
 * reaches the point (default 1).
 *
 * Threads: the main thread polls the stream through one inbox; each of
 * --relay-threads (default 2) relays charges through an inbox of its own
 * (one connection each: an inbox is one thread at a time), so several
 * charges are in flight at once. The outbox's leases keep the relays on
 * disjoint intents; the shared rein_policy is immutable.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <libpq-fe.h>

#ifdef PAYMENTS_HAVE_NATS
#include <nats/nats.h>
#endif
#ifdef PAYMENTS_HAVE_AMQP
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#include "rein/inbox.h"
#include "rein/retry.h"

typedef enum broker_kind {
  BROKER_REDIS,
  BROKER_JETSTREAM,
  BROKER_AMQP
} broker_kind;

typedef enum kill_point {
  KILL_NONE,
  KILL_AFTER_EFFECT,
  KILL_AFTER_COMMIT,
  KILL_DURING_OUTBOX
} kill_point;

typedef struct opts {
  broker_kind broker;
  const char *nats_url, *amqp_url;
  const char *redis_host;
  int redis_port;
  const char *stream, *group, *consumer;
  const char *db, *pg;
  const char *ledger_url;
  const char *secret;
  int64_t min_idle_ms;
  int batch;
  int max_deliveries;
  kill_point kill_at;
  long kill_after;
  bool no_inbox;
  long publish;
  int64_t exit_idle_ms;
  int64_t outbox_lease_ms;
  int relay_threads;
  bool quiet;
} opts;

static atomic_int g_stop;
static atomic_long g_hits; /* times the kill point was reached */

static void on_term(int sig) {
  (void)sig;
  atomic_store(&g_stop, 1);
}

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: payments-consumer [options]\n"
      "  --broker B             redis | jetstream | amqp (default redis)\n"
      "  --nats URL             (default $REIN_NATS_URL, else "
      "nats://127.0.0.1:4222)\n"
      "  --amqp URL             (default $REIN_AMQP_URL, else "
      "amqp://guest:guest@127.0.0.1:5672/)\n"
      "  --redis HOST:PORT      (default $REIN_REDIS_HOST:$REIN_REDIS_PORT)\n"
      "  --stream S --group G   (default payments / payments)\n"
      "  --consumer NAME        unique per live consumer (default c-<pid>)\n"
      "  --db PATH              SQLite database (default payments.db)\n"
      "  --pg CONNINFO          use PostgreSQL instead of SQLite\n"
      "  --ledger-url URL       POST charges here via the outbox, e.g.\n"
      "                         http://127.0.0.1:8080/charges (none: no "
      "outbox)\n"
      "  --secret S             HMAC secret for outbox keys (>= 16 bytes)\n"
      "  (the ledger's bearer token, from `ledger --mint-token P`, is read\n"
      "   from the LEDGER_TOKEN environment variable, never the command "
      "line)\n"
      "  --min-idle-ms N        XAUTOCLAIM min idle; JetStream ack wait;\n"
      "                         RabbitMQ own-unacked requeue (default 2000)\n"
      "  --batch N              messages per read (default 50)\n"
      "  --max-deliveries N     dead-letter a failing message then (default "
      "5)\n"
      "  --kill-at POINT        after-effect | after-commit | during-outbox\n"
      "  --kill-after N         SIGKILL on the N-th time at POINT (default 1)\n"
      "  --no-inbox             at-least-once baseline: no dedup rows\n"
      "  --exit-idle-ms N       exit 0 after N ms without work (0 = never)\n"
      "  --outbox-lease-ms N    (default 5000)\n"
      "  --relay-threads N      charges in flight (default 2; 0 = relay in\n"
      "                         the polling thread)\n"
      "  --publish N            publish N payments pay-000000.. and exit\n"
      "  --quiet\n");
}

static int parse(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  o->redis_host =
      getenv("REIN_REDIS_HOST") ? getenv("REIN_REDIS_HOST") : "127.0.0.1";
  o->redis_port =
      getenv("REIN_REDIS_PORT") ? atoi(getenv("REIN_REDIS_PORT")) : 6379;
  o->nats_url = getenv("REIN_NATS_URL") ? getenv("REIN_NATS_URL")
                                        : "nats://127.0.0.1:4222";
  o->amqp_url = getenv("REIN_AMQP_URL") ? getenv("REIN_AMQP_URL")
                                        : "amqp://guest:guest@127.0.0.1:5672/";
  o->stream = "payments";
  o->group = "payments";
  o->db = "payments.db";
  o->secret = "payments-consumer-demo-secret-0001";
  o->min_idle_ms = 2000;
  o->batch = 50;
  o->max_deliveries = 5;
  o->kill_after = 1;
  o->outbox_lease_ms = 5000;
  o->relay_threads = 2;
  static const struct option lo[] = {{"broker", 1, 0, 'B'},
                                     {"nats", 1, 0, 'n'},
                                     {"amqp", 1, 0, 'a'},
                                     {"redis", 1, 0, 'r'},
                                     {"stream", 1, 0, 's'},
                                     {"group", 1, 0, 'g'},
                                     {"consumer", 1, 0, 'c'},
                                     {"db", 1, 0, 'd'},
                                     {"pg", 1, 0, 'P'},
                                     {"ledger-url", 1, 0, 'u'},
                                     {"secret", 1, 0, 'S'},
                                     {"min-idle-ms", 1, 0, 'i'},
                                     {"batch", 1, 0, 'b'},
                                     {"max-deliveries", 1, 0, 'm'},
                                     {"kill-at", 1, 0, 'k'},
                                     {"kill-after", 1, 0, 'K'},
                                     {"no-inbox", 0, 0, 'N'},
                                     {"exit-idle-ms", 1, 0, 'e'},
                                     {"outbox-lease-ms", 1, 0, 'l'},
                                     {"publish", 1, 0, 'x'},
                                     {"relay-threads", 1, 0, 't'},
                                     {"quiet", 0, 0, 'q'},
                                     {"help", 0, 0, 'h'},
                                     {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    char *end = NULL;
    switch (ch) {
    case 'B':
      if (!strcmp(optarg, "redis"))
        o->broker = BROKER_REDIS;
      else if (!strcmp(optarg, "jetstream"))
        o->broker = BROKER_JETSTREAM;
      else if (!strcmp(optarg, "amqp"))
        o->broker = BROKER_AMQP;
      else
        goto bad;
      break;
    case 'n':
      o->nats_url = optarg;
      break;
    case 'a':
      o->amqp_url = optarg;
      break;
    case 'r': {
      static char host[256];
      const char *colon = strrchr(optarg, ':');
      if (!colon || (size_t)(colon - optarg) >= sizeof host) goto bad;
      memcpy(host, optarg, (size_t)(colon - optarg));
      host[colon - optarg] = 0;
      o->redis_host = host;
      o->redis_port = (int)strtol(colon + 1, &end, 10);
      if (*end || o->redis_port < 1 || o->redis_port > 65535) goto bad;
      break;
    }
    case 's':
      o->stream = optarg;
      break;
    case 'g':
      o->group = optarg;
      break;
    case 'c':
      o->consumer = optarg;
      break;
    case 'd':
      o->db = optarg;
      break;
    case 'P':
      o->pg = optarg;
      break;
    case 'u':
      o->ledger_url = optarg;
      break;
    case 'S':
      o->secret = optarg;
      break;
    case 'i':
      o->min_idle_ms = strtoll(optarg, &end, 10);
      if (*end || o->min_idle_ms < 0) goto bad;
      break;
    case 'b':
      o->batch = (int)strtol(optarg, &end, 10);
      if (*end || o->batch < 1 || o->batch > 10000) goto bad;
      break;
    case 'm':
      o->max_deliveries = (int)strtol(optarg, &end, 10);
      if (*end || o->max_deliveries < 1) goto bad;
      break;
    case 'k':
      if (!strcmp(optarg, "after-effect"))
        o->kill_at = KILL_AFTER_EFFECT;
      else if (!strcmp(optarg, "after-commit"))
        o->kill_at = KILL_AFTER_COMMIT;
      else if (!strcmp(optarg, "during-outbox"))
        o->kill_at = KILL_DURING_OUTBOX;
      else
        goto bad;
      break;
    case 'K':
      o->kill_after = strtol(optarg, &end, 10);
      if (*end || o->kill_after < 1) goto bad;
      break;
    case 'N':
      o->no_inbox = true;
      break;
    case 'e':
      o->exit_idle_ms = strtoll(optarg, &end, 10);
      if (*end || o->exit_idle_ms < 0) goto bad;
      break;
    case 'l':
      o->outbox_lease_ms = strtoll(optarg, &end, 10);
      if (*end || o->outbox_lease_ms < 1) goto bad;
      break;
    case 't':
      o->relay_threads = (int)strtol(optarg, &end, 10);
      if (*end || o->relay_threads < 0 || o->relay_threads > 16) goto bad;
      break;
    case 'x':
      o->publish = strtol(optarg, &end, 10);
      if (*end || o->publish < 1 || o->publish > 10000000) goto bad;
      break;
    case 'q':
      o->quiet = true;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return -1;
    }
    continue;
  bad:
    fprintf(stderr, "payments-consumer: %s: bad value '%s' (see --help)\n",
            argv[optind - 1], optarg);
    return -1;
  }
  if (optind < argc) {
    fprintf(stderr, "payments-consumer: unexpected argument '%s'\n",
            argv[optind]);
    return -1;
  }
  return 0;
}

/* The named crash point: die the hard way, as a power cut would. */
static void maybe_kill(const opts *o, kill_point here) {
  if (o->kill_at != here) return;
  if (atomic_fetch_add(&g_hits, 1) + 1 < o->kill_after) return;
  if (!o->quiet)
    fprintf(stderr, "payments-consumer[%d]: SIGKILL at the named point\n",
            (int)getpid());
  raise(SIGKILL);
  _exit(137);
}

/* ---- the broker ----------------------------------------------------------
 */

#ifdef PAYMENTS_HAVE_AMQP
/* --amqp URL split into host, port, vhost, user and password (pointing into
 * a copy of the URL, which amqp_parse_url cuts up in place). */
static int amqp_target(const opts *o, struct amqp_connection_info *ci) {
  static char url[512];
  snprintf(url, sizeof url, "%s", o->amqp_url);
  amqp_default_connection_info(ci);
  if (amqp_parse_url(url, ci) != AMQP_STATUS_OK) {
    fprintf(stderr, "payments-consumer: --amqp: cannot parse the URL\n");
    return -1;
  }
  if (!*ci->vhost) ci->vhost = "/";
  return 0;
}
#endif

/* The consumer's rein_broker for --broker; the JetStream and RabbitMQ
 * adapters create their stream, consumer and queues when missing, so the
 * publisher opens one too before it publishes. */
static rein_status open_broker(const opts *o, rein_errbuf *eb,
                               rein_broker **out) {
  switch (o->broker) {
  case BROKER_REDIS: {
    rein_broker_redis_config c;
    rein_broker_redis_config_default(&c);
    c.host = o->redis_host;
    c.port = o->redis_port;
    c.stream = o->stream;
    c.group = o->group;
    c.consumer = o->consumer;
    c.min_idle_ns = o->min_idle_ms * REIN_NS_PER_MS;
    c.err = eb;
    return rein_broker_redis_new(&c, out);
  }
  case BROKER_JETSTREAM: {
#ifdef PAYMENTS_HAVE_NATS
    char subject[200];
    snprintf(subject, sizeof subject, "payments.%s", o->stream);
    rein_broker_jetstream_config c;
    rein_broker_jetstream_config_default(&c);
    c.url = o->nats_url;
    c.stream = o->stream;
    c.subject = subject;
    c.durable = o->group;
    /* a message unacknowledged this long (its consumer died) comes back */
    c.ack_wait_ns =
        (o->min_idle_ms < 100 ? 100 : o->min_idle_ms) * REIN_NS_PER_MS;
    c.err = eb;
    return rein_broker_jetstream_new(&c, out);
#else
    break;
#endif
  }
  case BROKER_AMQP: {
#ifdef PAYMENTS_HAVE_AMQP
    struct amqp_connection_info ci;
    if (amqp_target(o, &ci) != 0) return REIN_EINVAL;
    rein_broker_amqp_config c;
    rein_broker_amqp_config_default(&c);
    c.host = ci.host;
    c.port = ci.port;
    c.vhost = ci.vhost;
    c.user = ci.user;
    c.password = ci.password;
    c.queue = o->stream;
    c.min_idle_ns = o->min_idle_ms * REIN_NS_PER_MS;
    c.err = eb;
    return rein_broker_amqp_new(&c, out);
#else
    break;
#endif
  }
  }
  snprintf(eb->msg, sizeof eb->msg, "this build has no %s adapter",
           o->broker == BROKER_JETSTREAM ? "JetStream" : "RabbitMQ");
  return REIN_EINVAL;
}

/* ---- publishing ------------------------------------------------------------
 */

/* Payment i: its id (the business key) and its charge JSON. */
static int payment(long i, char *key, size_t kcap, char *body, size_t bcap) {
  snprintf(key, kcap, "pay-%06ld", i);
  return snprintf(body, bcap,
                  "{\"account\":\"acct_%ld\",\"amount_cents\":%ld,"
                  "\"ref\":\"%s\"}",
                  i % 97, 100 + i % 900, key);
}

static int publish_redis(const opts *o) {
  redisContext *c = redisConnect(o->redis_host, o->redis_port);
  if (!c || c->err) {
    fprintf(stderr, "payments-consumer: redis %s:%d: %s\n", o->redis_host,
            o->redis_port, c ? c->errstr : "no memory");
    redisFree(c);
    return 1;
  }
  long pending = 0;
  for (long i = 0; i < o->publish; i++) {
    char key[32], body[160];
    payment(i, key, sizeof key, body, sizeof body);
    redisAppendCommand(c, "XADD %s * key %s body %s", o->stream, key, body);
    if (++pending == 500 || i + 1 == o->publish) {
      for (; pending > 0; pending--) {
        void *r = NULL;
        if (redisGetReply(c, &r) != REDIS_OK) {
          fprintf(stderr, "payments-consumer: XADD: %s\n", c->errstr);
          redisFree(c);
          return 1;
        }
        freeReplyObject(r);
      }
    }
  }
  redisFree(c);
  return 0;
}

#ifdef PAYMENTS_HAVE_NATS
/* Asynchronous publishes, the key in the Rein-Key header, then one wait
 * for every publish ack: each message is stored in the stream once this
 * returns 0. */
static int publish_jetstream(const opts *o) {
  char subject[200];
  snprintf(subject, sizeof subject, "payments.%s", o->stream);
  natsConnection *nc = NULL;
  jsCtx *js = NULL;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 1000; /* then wait (up to StallWait) */
  jo.PublishAsync.StallWait = 10000;
  natsStatus s = natsConnection_ConnectTo(&nc, o->nats_url);
  if (s == NATS_OK) s = natsConnection_JetStream(&js, nc, &jo);
  for (long i = 0; s == NATS_OK && i < o->publish; i++) {
    char key[32], body[160];
    int len = payment(i, key, sizeof key, body, sizeof body);
    natsMsg *m = NULL;
    s = natsMsg_Create(&m, subject, NULL, body, len);
    if (s == NATS_OK) s = natsMsgHeader_Set(m, "Rein-Key", key);
    if (s == NATS_OK) s = js_PublishMsgAsync(js, &m, NULL);
    natsMsg_Destroy(m); /* NULL once the publish has taken it */
  }
  if (s == NATS_OK) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 30000;
    s = js_PublishAsyncComplete(js, &po);
  }
  if (s != NATS_OK)
    fprintf(stderr, "payments-consumer: publish to %s: %s\n", o->nats_url,
            natsStatus_GetText(s));
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  return s == NATS_OK ? 0 : 1;
}
#endif

#ifdef PAYMENTS_HAVE_AMQP
/* Waits until RabbitMQ has confirmed every publish up to tag `want` (a
 * confirm with multiple set covers the tags below it), keeping the highest
 * tag confirmed in *confirmed; -1 on a nack, a return (no such queue), an
 * error or 30 s without progress. */
static int amqp_confirmed(amqp_connection_state_t c, uint64_t want,
                          uint64_t *confirmed) {
  for (int waits = 0; *confirmed < want && waits < 30;) {
    amqp_frame_t f;
    struct timeval tv = {1, 0};
    int s = amqp_simple_wait_frame_noblock(c, &f, &tv);
    if (s == AMQP_STATUS_TIMEOUT) {
      waits++;
      continue;
    }
    if (s != AMQP_STATUS_OK) return -1;
    if (f.frame_type != AMQP_FRAME_METHOD) continue; /* a return's body */
    if (f.payload.method.id == AMQP_BASIC_NACK_METHOD ||
        f.payload.method.id == AMQP_BASIC_RETURN_METHOD) /* no queue */
      return -1;
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t *a = f.payload.method.decoded;
      if (a->delivery_tag > *confirmed) *confirmed = a->delivery_tag;
    }
  }
  return *confirmed >= want ? 0 : -1;
}

/* basic.publish to the queue (the default exchange), message_id = the
 * payment id, persistent, with publisher confirms: 500 at a time, each
 * group confirmed before the next, so every message is in the queue (on a
 * majority of a quorum queue) once this returns 0. */
static int publish_amqp(const opts *o) {
  struct amqp_connection_info ci;
  if (amqp_target(o, &ci) != 0) return 1;
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t *sock = amqp_tcp_socket_new(c);
  int rc = 1;
  uint64_t confirmed = 0;
  if (!sock || amqp_socket_open(sock, ci.host, ci.port) != 0 ||
      amqp_login(c, ci.vhost, 1, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                 ci.password)
              .reply_type != AMQP_RESPONSE_NORMAL ||
      !amqp_channel_open(c, 1) ||
      amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL ||
      !amqp_confirm_select(c, 1) ||
      amqp_get_rpc_reply(c).reply_type != AMQP_RESPONSE_NORMAL)
    goto out;
  for (long i = 0; i < o->publish; i++) {
    char key[32], body[160];
    payment(i, key, sizeof key, body, sizeof body);
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.message_id = amqp_cstring_bytes(key);
    p.delivery_mode = 2; /* persistent */
    if (amqp_basic_publish(c, 1, amqp_empty_bytes,
                           amqp_cstring_bytes(o->stream), 1, 0, &p,
                           amqp_cstring_bytes(body)) != AMQP_STATUS_OK)
      goto out;
    if (((i + 1) % 500 == 0 || i + 1 == o->publish) &&
        amqp_confirmed(c, (uint64_t)i + 1, &confirmed) != 0)
      goto out;
  }
  rc = 0;
out:
  if (rc)
    fprintf(stderr, "payments-consumer: publish to %s:%d failed\n", ci.host,
            ci.port);
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
  return rc;
}
#endif

static int publish(const opts *o) {
  int rc = 1;
  if (o->broker == BROKER_REDIS) {
    rc = publish_redis(o);
  } else {
    /* the adapter declares what the messages go to; open it once first */
    rein_errbuf eb = {{0}};
    rein_broker *b = NULL;
    if (open_broker(o, &eb, &b) != REIN_OK) {
      fprintf(stderr, "payments-consumer: %s\n", eb.msg);
      return 1;
    }
    rein_broker_free(b);
#ifdef PAYMENTS_HAVE_NATS
    if (o->broker == BROKER_JETSTREAM) rc = publish_jetstream(o);
#endif
#ifdef PAYMENTS_HAVE_AMQP
    if (o->broker == BROKER_AMQP) rc = publish_amqp(o);
#endif
  }
  if (rc == 0 && !o->quiet)
    fprintf(stderr, "payments-consumer: published %ld payments to %s\n",
            o->publish, o->stream);
  return rc;
}

/* ---- the handler
 * -------------------------------------------------------------- */

typedef struct app {
  opts *o;
  sqlite3_stmt *ins; /* SQLite: prepared on the inbox's connection */
} app;

/* The integer "amount_cents" of a message body (JSON, jansson), or 0 when
 * the body is not an object with one. */
static int64_t amount_of(const char *body) {
  json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
  json_t *v = json_object_get(root, "amount_cents");
  int64_t amount = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
  json_decref(root);
  return amount;
}

static rein_status handle(void *ctx, rein_inbox_tx *tx,
                          const rein_broker_msg *m, char *err, size_t cap) {
  app *a = ctx;
  int64_t amount = amount_of(m->body);
  if (amount <= 0) {
    snprintf(err, cap, "body: expected \"amount_cents\": N > 0");
    return REIN_EPARSE;
  }
  sqlite3 *db = rein_inbox_tx_sqlite(tx);
  if (db) {
    sqlite3_bind_text(a->ins, 1, m->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(a->ins, 2, amount);
    sqlite3_bind_text(a->ins, 3, m->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(a->ins);
    sqlite3_reset(a->ins);
    if (rc != SQLITE_DONE) {
      snprintf(err, cap, "insert payments: %s", sqlite3_errmsg(db));
      return REIN_EBACKEND;
    }
  } else {
    PGconn *pg = rein_inbox_tx_pg(tx);
    char amt[24];
    snprintf(amt, sizeof amt, "%lld", (long long)amount);
    const char *v[3] = {m->key, amt, m->id};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO payments(payment_id, "
                               "amount_cents, delivery_id) VALUES($1, $2, $3)",
                               3, NULL, v, NULL, NULL, 0);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) snprintf(err, cap, "insert payments: %s", PQerrorMessage(pg));
    PQclear(r);
    if (!ok) return REIN_EBACKEND;
  }
  if (a->o->ledger_url) {
    rein_status st = rein_inbox_tx_outbox(tx, "charge", a->o->ledger_url,
                                          m->body, m->body_len, NULL);
    /* ECONFLICT: this payment's charge intent exists already. With the
     * inbox that cannot happen; without it (--no-inbox) it is the
     * redelivery, and the receiver dedups the charge by its key anyway. */
    if (st != REIN_OK && st != REIN_ECONFLICT) {
      snprintf(err, cap, "outbox: %s", rein_status_name(st));
      return st;
    }
  }
  maybe_kill(a->o, KILL_AFTER_EFFECT);
  return REIN_OK;
}

static void after_commit(void *ctx, const rein_broker_msg *m) {
  (void)m;
  maybe_kill(ctx, KILL_AFTER_COMMIT);
}

static void after_deliver(void *ctx, int64_t id) {
  (void)id;
  maybe_kill(ctx, KILL_DURING_OUTBOX);
}

/* ---- relay threads ------------------------------------------------------ */

typedef struct relayer {
  rein_inbox_config cfg; /* the main inbox's, without broker and handler */
  const rein_policy *policy;
  const char *auth;
  const opts *o;
  pthread_t t;
  atomic_ulong progress; /* intents finished (delivered, released, failed) */
} relayer;

static void *relay_main(void *p) {
  relayer *r = p;
  rein_errbuf eb = {{0}};
  r->cfg.err = &eb;
  rein_inbox *ib = NULL;
  rein_outbox_http *http = NULL;
  rein_outbox_http_config hc;
  rein_outbox_http_config_default(&hc);
  hc.auth_header = r->auth;
  hc.err = &eb;
  rein_status opened = r->o->pg ? rein_inbox_pg_new(&r->cfg, &ib)
                                : rein_inbox_sqlite_new(&r->cfg, &ib);
  if (opened != REIN_OK || rein_outbox_http_new(&hc, &http) != REIN_OK) {
    fprintf(stderr, "payments-consumer: relay: %s\n", eb.msg);
    atomic_store(&g_stop, 1);
  }
  while (!atomic_load(&g_stop)) {
    rein_outbox_stats s = {0};
    rein_status st = rein_outbox_relay(ib, r->policy, rein_outbox_http_deliver,
                                       http, NULL, 20, &s);
    if (st != REIN_OK && !r->o->quiet)
      fprintf(stderr, "payments-consumer: relay: %s: %s\n",
              rein_status_name(st), rein_inbox_errmsg(ib));
    uint64_t n = s.delivered + s.retry + s.failed;
    atomic_fetch_add(&r->progress, n);
    if (n == 0) usleep(st == REIN_OK ? 20000 : 50000);
  }
  rein_outbox_http_free(http);
  rein_inbox_free(ib);
  return NULL;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char APP_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS payments("
    " id INTEGER PRIMARY KEY, payment_id TEXT NOT NULL,"
    " amount_cents INTEGER NOT NULL, delivery_id TEXT NOT NULL)";

static const char APP_SCHEMA_PG[] =
    "CREATE TABLE IF NOT EXISTS payments("
    " id bigserial PRIMARY KEY, payment_id text NOT NULL,"
    " amount_cents bigint NOT NULL, delivery_id text NOT NULL)";

static int run(opts *o);

int main(int argc, char **argv) {
  opts o;
  if (parse(argc, argv, &o) != 0) return 2;
  int rc = o.publish ? publish(&o) : run(&o);
#ifdef PAYMENTS_HAVE_NATS
  if (o.broker == BROKER_JETSTREAM) nats_Close(); /* libnats' own threads */
#endif
  return rc;
}

static int run(opts *op) {
  opts o = *op;
  char cname[64];
  if (!o.consumer) {
    snprintf(cname, sizeof cname, "c-%d", (int)getpid());
    o.consumer = cname;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); /* hiredis and libcurl write to sockets */

  rein_errbuf eb = {{0}};
  rein_broker *broker = NULL;
  rein_status st = open_broker(&o, &eb, &broker);
  if (st != REIN_OK) {
    fprintf(stderr, "payments-consumer: %s: %s\n", rein_status_name(st),
            eb.msg);
    return 1;
  }

  app a = {&o, NULL};
  rein_inbox_config ic;
  rein_inbox_config_default(&ic);
  if (o.pg) {
    ic.pg_conninfo = o.pg;
  } else {
    ic.sqlite_path = o.db;
  }
  ic.broker = broker;
  ic.dedup = !o.no_inbox;
  ic.handler = handle;
  ic.handler_ctx = &a;
  ic.max_deliveries = (uint32_t)o.max_deliveries;
  ic.outbox_secret = o.secret;
  ic.outbox_secret_len = strlen(o.secret);
  ic.outbox_lease_ns = o.outbox_lease_ms * REIN_NS_PER_MS;
  ic.hooks.after_commit = after_commit;
  ic.hooks.after_deliver = after_deliver;
  ic.hooks.ctx = &o;
  ic.err = &eb;
  rein_inbox *ib = NULL;
  st = o.pg ? rein_inbox_pg_new(&ic, &ib) : rein_inbox_sqlite_new(&ic, &ib);
  if (st != REIN_OK) {
    fprintf(stderr, "payments-consumer: %s: %s\n", rein_status_name(st),
            eb.msg);
    rein_broker_free(broker);
    return 1;
  }
  int rc = 0;
  sqlite3 *db = rein_inbox_sqlite(ib);
  if (db) {
    if (sqlite3_exec(db, APP_SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO payments(payment_id, amount_cents, "
                           "delivery_id) VALUES(?1, ?2, ?3)",
                           -1, &a.ins, NULL) != SQLITE_OK) {
      fprintf(stderr, "payments-consumer: %s\n", sqlite3_errmsg(db));
      rc = 1;
      goto out;
    }
  } else {
    PGresult *r = PQexec(rein_inbox_pg(ib), APP_SCHEMA_PG);
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
      fprintf(stderr, "payments-consumer: %s\n",
              PQerrorMessage(rein_inbox_pg(ib)));
      rc = 1;
      goto out;
    }
  }

  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.name = "outbox-charge";
  pc.max_attempts = 6;
  pc.backoff.base_ns = 20 * REIN_NS_PER_MS;
  pc.backoff.cap_ns = 1000 * REIN_NS_PER_MS;
  pc.attempt_timeout_ns = 3 * REIN_NS_PER_S;
  pc.err = &eb;
  rein_policy *policy = NULL;
  rein_outbox_http *http = NULL;
  relayer relays[16];
  int n_relays = 0;
  char auth[300];
  const char *token = getenv("LEDGER_TOKEN");
  if (o.ledger_url &&
      (!token || !*token || strlen(token) > 250 || strpbrk(token, "\r\n"))) {
    fprintf(stderr, "payments-consumer: --ledger-url needs the ledger's "
                    "bearer token in LEDGER_TOKEN (ledger --mint-token P)\n");
    return 2;
  }
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
  if (o.ledger_url && o.relay_threads > 0) {
    if (rein_policy_new(&pc, &policy) != REIN_OK) {
      fprintf(stderr, "payments-consumer: %s\n", eb.msg);
      rc = 1;
      goto out2;
    }
    for (; n_relays < o.relay_threads; n_relays++) {
      relayer *r = &relays[n_relays];
      memset(r, 0, sizeof *r);
      r->cfg = ic;
      r->cfg.broker = NULL;
      r->cfg.handler = NULL;
      r->policy = policy;
      r->auth = auth;
      r->o = &o;
      if (pthread_create(&r->t, NULL, relay_main, r) != 0) {
        fprintf(stderr, "payments-consumer: cannot start a relay thread\n");
        atomic_store(&g_stop, 1);
        rc = 1;
        break;
      }
    }
  } else if (o.ledger_url) {
    rein_outbox_http_config hc;
    rein_outbox_http_config_default(&hc);
    hc.auth_header = auth;
    hc.err = &eb;
    if (rein_policy_new(&pc, &policy) != REIN_OK ||
        rein_outbox_http_new(&hc, &http) != REIN_OK) {
      fprintf(stderr, "payments-consumer: %s\n", eb.msg);
      rc = 1;
      goto out2;
    }
  }

  rein_inbox_stats stats = {0};
  rein_outbox_stats ost = {0};
  int64_t last_work = mono_ms(), last_purge = 0;
  while (!atomic_load(&g_stop)) {
    rein_inbox_stats before = stats;
    st = rein_inbox_poll(ib, (size_t)o.batch, 200, &stats);
    if (st != REIN_OK) {
      if (!o.quiet)
        fprintf(stderr, "payments-consumer: poll: %s: %s\n",
                rein_status_name(st), rein_inbox_errmsg(ib));
      usleep(50000);
    }
    uint64_t delivered = ost.delivered + ost.retry + ost.failed;
    for (int i = 0; i < n_relays; i++)
      delivered += atomic_load(&relays[i].progress);
    if (http) {
      st = rein_outbox_relay(ib, policy, rein_outbox_http_deliver, http, NULL,
                             100, &ost);
      if (st != REIN_OK && !o.quiet)
        fprintf(stderr, "payments-consumer: relay: %s: %s\n",
                rein_status_name(st), rein_inbox_errmsg(ib));
    }
    uint64_t now_delivered = ost.delivered + ost.retry + ost.failed;
    for (int i = 0; i < n_relays; i++)
      now_delivered += atomic_load(&relays[i].progress);
    bool work = memcmp(&before, &stats, sizeof stats) != 0 ||
                now_delivered != delivered;
    int64_t now = mono_ms();
    if (work) last_work = now;
    if (now - last_purge > 10000) {
      size_t n;
      rein_inbox_purge(ib, 1000, &n);
      last_purge = now;
    }
    if (o.exit_idle_ms && now - last_work > o.exit_idle_ms) break;
  }
  if (!o.quiet) {
    uint64_t relayed = ost.delivered + ost.retry + ost.failed;
    for (int i = 0; i < n_relays; i++)
      relayed += atomic_load(&relays[i].progress);
    fprintf(stderr,
            "payments-consumer[%s]: processed %" PRIu64 ", duplicates %" PRIu64
            ", failed %" PRIu64 ", dead %" PRIu64 ", claimed %" PRIu64
            "; charge deliveries finished %" PRIu64 "\n",
            o.consumer, stats.processed, stats.duplicates, stats.failed,
            stats.dead, stats.claimed, relayed);
  }
out2:
  atomic_store(&g_stop, 1);
  for (int i = 0; i < n_relays; i++)
    pthread_join(relays[i].t, NULL);
  rein_outbox_http_free(http);
  rein_policy_free(policy);
out:
  sqlite3_finalize(a.ins);
  rein_inbox_free(ib);
  rein_broker_free(broker);
  return rc;
}
