/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_amqp.c: the RabbitMQ broker adapter (AMQP 0-9-1 through
 * librabbitmq, blocking).
 *
 * One adapter is one connection with one channel and one consumer on one
 * work queue. RabbitMQ pushes: basic.consume (manual acks) with basic.qos
 * `prefetch` at start-up, then read waits in amqp_consume_message for the
 * first delivery up to block_ms and takes what else is already buffered
 * without waiting. basic.get in a loop would cost a round trip per message
 * and could only wait by sleeping; the push consumer waits on the socket.
 *
 * Delivery counts. The work queue is a quorum queue by default: RabbitMQ
 * counts how often it handed a message back (a channel closed with it
 * unacked, a requeue) in the x-delivery-count header, so deliveries is
 * that + 1, exact, as the Redis adapter's XPENDING count is. On a classic
 * queue only the redelivered flag exists: redelivered means "delivered at
 * least twice" (deliveries = 2), so poison detection needs a quorum queue.
 *
 * Stale messages. RabbitMQ has no idle-claim: it gives a consumer's unacked
 * messages back to the queue when that consumer's channel or connection
 * closes (a SIGKILLed consumer's socket closes at once; a hung host's when
 * TCP gives up, or after RabbitMQ's consumer_timeout, 30 min by default),
 * and other consumers then receive them. What stays is this adapter's own
 * unacked messages whose handler failed (the inbox leaves them unacked):
 * claim_stale requeues those held at least min_idle (basic.nack requeue)
 * and returns nothing; they come back through read with the count raised.
 *
 * Dead-lettering is basic.reject requeue=false: the queue's
 * x-dead-letter-exchange (a fanout exchange with one durable queue, both
 * declared at start-up) receives it with RabbitMQ's x-death header, in one
 * broker-side step: never both parked and pending. The error text is not
 * carried (a reject has no room for it); the inbox logs it.
 *
 * Delivery ids are "<connection generation>:<delivery tag>": tags are
 * channel-scoped, and acking a tag from a closed channel on a new one would
 * ack the wrong message (or get the channel closed), so such an ack is
 * refused with REIN_ECLOSED; RabbitMQ already requeued that message.
 */
#include <amqp.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "amqp_internal.h"

#define CH 1

typedef struct held {
  uint64_t tag;
  int64_t at_ns; /* when read handed it out (the adapter's clock) */
} held;

typedef struct ab {
  rein_broker base;
  const rein_allocator *alloc;
  amqp_connection_state_t conn; /* NULL when disconnected */
  uint64_t gen;                 /* connection generation, in delivery ids */
  rein__amqp_peer peer;         /* where, as whom, and the RPC timeout */
  char *queue, *dead_exchange, *dead_queue;
  uint16_t prefetch;
  bool quorum, window_ttl;
  int64_t min_idle_ns, window_ns;
  rein_clock clock, wall;
  held *held; /* unacked deliveries on this connection, at most prefetch */
  size_t nheld;
  rein_broker_msg *msgs; /* the current batch */
  char **bufs;           /* per message: id, key, body, NUL-terminated */
  size_t n, cap;
  char errmsg[512];
} ab;

static int64_t now_ns(const ab *b) {
  return b->clock.now_ns ? b->clock.now_ns(b->clock.ctx)
                         : rein_clock_monotonic().now_ns(NULL);
}

/* ==== connection ========================================================== */

static void disconnect(ab *b) {
  if (!b->conn) return;
  /* closing is what gives unacked messages back: best effort, bounded by
   * the socket timeout set at connect */
  rein__amqp_close(b->conn, CH);
  b->conn = NULL;
  b->nheld = 0;
}

/* The reply's words into errmsg; a failed reply means the connection (or
 * its only channel) is gone, so it is dropped and the next call reconnects.
 * REIN_ECLOSED for a library (socket, timeout) failure, REIN_EBACKEND when
 * RabbitMQ closed the channel or connection with a reason. */
static rein_status reply_fail(ab *b, const char *op, amqp_rpc_reply_t r) {
  rein_status st =
      rein__amqp_reply_msg(&b->peer, op, r, b->errmsg, sizeof b->errmsg);
  disconnect(b);
  return st;
}

static rein_status lib_fail(ab *b, const char *op, int err) {
  amqp_rpc_reply_t r = {0};
  r.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION;
  r.library_error = err;
  return reply_fail(b, op, r);
}

#define RPC_OK(b, op)                                                          \
  do {                                                                         \
    amqp_rpc_reply_t r_ = amqp_get_rpc_reply((b)->conn);                       \
    if (r_.reply_type != AMQP_RESPONSE_NORMAL) return reply_fail(b, op, r_);   \
  } while (0)

static amqp_table_entry_t entry_str(const char *k, const char *v) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(v);
  return e;
}

/* Connects, logs in, declares the dead-letter exchange and queue and the
 * work queue, sets the prefetch and starts the consumer. */
static rein_status ensure(ab *b) {
  if (b->conn) return REIN_OK;
  /* connect, login, channel.open; every later RPC (declare, qos,
   * consume, close) is bounded by the same timeout */
  rein_status st =
      rein__amqp_open(&b->peer, CH, &b->conn, b->errmsg, sizeof b->errmsg);
  if (st != REIN_OK) return st;
  b->gen++;
  b->nheld = 0;
  amqp_exchange_declare(b->conn, CH, amqp_cstring_bytes(b->dead_exchange),
                        amqp_cstring_bytes("fanout"), 0, 1, 0, 0,
                        amqp_empty_table);
  RPC_OK(b, "exchange.declare (dead letters)");
  amqp_queue_declare(b->conn, CH, amqp_cstring_bytes(b->dead_queue), 0, 1, 0, 0,
                     amqp_empty_table);
  RPC_OK(b, "queue.declare (dead letters)");
  amqp_queue_bind(b->conn, CH, amqp_cstring_bytes(b->dead_queue),
                  amqp_cstring_bytes(b->dead_exchange), amqp_empty_bytes,
                  amqp_empty_table);
  RPC_OK(b, "queue.bind (dead letters)");
  amqp_table_entry_t args[3];
  int na = 0;
  args[na++] = entry_str("x-dead-letter-exchange", b->dead_exchange);
  if (b->quorum) args[na++] = entry_str("x-queue-type", "quorum");
  if (b->window_ttl) {
    args[na].key = amqp_cstring_bytes("x-message-ttl");
    args[na].value.kind = AMQP_FIELD_KIND_I64;
    args[na].value.value.i64 = b->window_ns / REIN_NS_PER_MS;
    na++;
  }
  amqp_table_t t = {na, args};
  amqp_queue_declare(b->conn, CH, amqp_cstring_bytes(b->queue), 0, 1, 0, 0, t);
  RPC_OK(b, "queue.declare");
  amqp_basic_qos(b->conn, CH, 0, b->prefetch, 0);
  RPC_OK(b, "basic.qos");
  amqp_basic_consume(b->conn, CH, amqp_cstring_bytes(b->queue),
                     amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  RPC_OK(b, "basic.consume");
  return REIN_OK;
}

/* ==== batches ============================================================= */

static void release_batch(ab *b) {
  for (size_t i = 0; i < b->n; i++)
    rein_free(b->alloc, b->bufs[i]);
  b->n = 0;
}

static void held_drop(ab *b, uint64_t tag) {
  for (size_t i = 0; i < b->nheld; i++)
    if (b->held[i].tag == tag) {
      b->held[i] = b->held[--b->nheld];
      return;
    }
}

/* x-delivery-count (quorum queues) as an integer, or -1. */
static int64_t delivery_count(const amqp_basic_properties_t *p) {
  if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) return -1;
  for (int i = 0; i < p->headers.num_entries; i++) {
    const amqp_table_entry_t *e = &p->headers.entries[i];
    static const char name[] = "x-delivery-count";
    if (e->key.len != sizeof name - 1 || memcmp(e->key.bytes, name, e->key.len))
      continue;
    switch (e->value.kind) {
    case AMQP_FIELD_KIND_I8:
      return e->value.value.i8;
    case AMQP_FIELD_KIND_U8:
      return e->value.value.u8;
    case AMQP_FIELD_KIND_I16:
      return e->value.value.i16;
    case AMQP_FIELD_KIND_U16:
      return e->value.value.u16;
    case AMQP_FIELD_KIND_I32:
      return e->value.value.i32;
    case AMQP_FIELD_KIND_U32:
      return e->value.value.u32;
    case AMQP_FIELD_KIND_I64:
      return e->value.value.i64;
    case AMQP_FIELD_KIND_U64:
      return e->value.value.u64 > INT64_MAX ? INT64_MAX
                                            : (int64_t)e->value.value.u64;
    default:
      return -1;
    }
  }
  return -1;
}

static rein_status reject(ab *b, uint64_t tag) {
  int rc = amqp_basic_reject(b->conn, CH, tag, 0);
  if (rc != AMQP_STATUS_OK) return lib_fail(b, "basic.reject", rc);
  held_drop(b, tag);
  return REIN_OK;
}

/* Adds one delivery to the batch, or dead-letters it at once (a key with
 * a NUL byte; a redelivery past the window). Takes nothing from `env`: it
 * copies what the batch keeps. */
static rein_status add(ab *b, const amqp_envelope_t *env) {
  const amqp_basic_properties_t *p = &env->message.properties;
  uint64_t tag = env->delivery_tag;
  if (b->nheld < b->prefetch) b->held[b->nheld++] = (held){tag, now_ns(b)};
  bool has_key = (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0;
  if (has_key && memchr(p->message_id.bytes, 0, p->message_id.len))
    return reject(b, tag); /* refused whole, never cut at the NUL */
  int64_t count = delivery_count(p);
  uint32_t deliveries = 1;
  if (count >= 0)
    deliveries = count >= UINT32_MAX - 1 ? UINT32_MAX : (uint32_t)count + 1;
  else if (env->redelivered)
    deliveries = 2;
  if (env->redelivered && deliveries < 2) deliveries = 2;
  int64_t enq_ms =
      p->_flags & AMQP_BASIC_TIMESTAMP_FLAG ? (int64_t)p->timestamp * 1000 : -1;
  if (deliveries > 1 && enq_ms >= 0 && b->window_ns < INT64_MAX) {
    int64_t wall =
        b->wall.now_ns ? b->wall.now_ns(b->wall.ctx) : rein_clock_wall_ns();
    if (wall / REIN_NS_PER_MS - enq_ms > b->window_ns / REIN_NS_PER_MS)
      return reject(b, tag); /* expired: park rather than risk an effect */
  }
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 16;
    rein_broker_msg *nm = rein_alloc(b->alloc, nc * sizeof *nm);
    char **nb = rein_alloc(b->alloc, nc * sizeof *nb);
    if (!nm || !nb) {
      rein_free(b->alloc, nm);
      rein_free(b->alloc, nb);
      return REIN_ENOMEM;
    }
    if (b->n) {
      memcpy(nm, b->msgs, b->n * sizeof *nm);
      memcpy(nb, b->bufs, b->n * sizeof *nb);
    }
    rein_free(b->alloc, b->msgs);
    rein_free(b->alloc, b->bufs);
    b->msgs = nm;
    b->bufs = nb;
    b->cap = nc;
  }
  size_t klen = has_key ? p->message_id.len : 0;
  size_t blen = env->message.body.len;
  char *buf = rein_alloc(b->alloc, 48 + klen + 1 + blen + 1);
  if (!buf) return REIN_ENOMEM;
  char *id = buf, *key = buf + 48, *body = key + klen + 1;
  snprintf(id, 48, "%" PRIu64 ":%" PRIu64, b->gen, tag);
  if (klen) memcpy(key, p->message_id.bytes, klen);
  key[klen] = 0;
  if (blen) memcpy(body, env->message.body.bytes, blen);
  body[blen] = 0;
  rein_broker_msg *m = &b->msgs[b->n];
  b->bufs[b->n++] = buf;
  memset(m, 0, sizeof *m);
  m->id = id;
  m->key = has_key ? key : NULL;
  m->body = body;
  m->body_len = blen;
  m->deliveries = deliveries;
  m->enqueued_unix_ms = enq_ms;
  return REIN_OK;
}

/*
 * One delivery, waiting at most `ns` (0: only what has arrived) for it to
 * start. *got false when none came. The wait is for the socket, not inside
 * amqp_consume_message: a message is three frames (method, header, body),
 * and a consume that times out between them has eaten the method frame,
 * so the rest would be skipped as unexpected and the delivery stay unacked
 * here for ever. Once a delivery has started it gets the full
 * connect_timeout_ns to arrive; running out then drops the connection
 * (RabbitMQ requeues), never a frame.
 */
static rein_status consume_one(ab *b, int64_t ns, bool *got) {
  *got = false;
  amqp_maybe_release_buffers(b->conn);
  if (!amqp_frames_enqueued(b->conn) && !amqp_data_in_buffer(b->conn)) {
    struct pollfd pf = {amqp_get_sockfd(b->conn), POLLIN, 0};
    int ms = (int)((ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS);
    int rc = poll(&pf, 1, ms);
    if (rc == 0 || (rc < 0 && errno == EINTR)) return REIN_OK;
    if (rc < 0) return lib_fail(b, "poll", AMQP_STATUS_SOCKET_ERROR);
  }
  amqp_envelope_t env;
  struct timeval tv = rein__amqp_tv(b->peer.timeout_ns);
  amqp_rpc_reply_t r = amqp_consume_message(b->conn, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    size_t before = b->n;
    rein_status st = add(b, &env);
    amqp_destroy_envelope(&env);
    *got = b->n > before;
    return st;
  }
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
      r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
    /* another frame: a close (queue deleted, consumer_timeout, a refused
     * ack) ends the channel; a cancel ends the consumer; anything else is
     * skipped (no delivery is ever half read, see above) */
    amqp_frame_t f;
    int rc = amqp_simple_wait_frame_noblock(b->conn, &f, &tv);
    if (rc != AMQP_STATUS_OK) return lib_fail(b, "consume", rc);
    if (f.frame_type == AMQP_FRAME_METHOD &&
        (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
         f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
      amqp_rpc_reply_t c = {0};
      c.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
      c.reply = f.payload.method;
      return reply_fail(b, "consume", c);
    }
    if (f.frame_type == AMQP_FRAME_METHOD &&
        f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      snprintf(b->errmsg, sizeof b->errmsg,
               "amqp %s:%d: consume: RabbitMQ cancelled the consumer "
               "(queue %s deleted?)",
               b->peer.host, b->peer.port, b->queue);
      disconnect(b);
      return REIN_EBACKEND;
    }
    return REIN_OK;
  }
  /* a timeout here is a delivery stalled half way: drop the connection */
  return reply_fail(b, "consume", r);
}

/*
 * ensure(), and while the broker is unreachable or refuses (a restarting
 * node refuses, then declares fail until its queues are back), again after
 * a pause of 50 ms doubling to 400 ms, until `deadline`: a read's block_ms
 * is also how long it waits for the broker to come back. Bounded in time
 * (the deadline) and count (64 tries).
 */
static rein_status ensure_until(ab *b, int64_t deadline) {
  rein_status st = ensure(b);
  int64_t pause = 50 * REIN_NS_PER_MS;
  for (int i = 0; st != REIN_OK && st != REIN_ENOMEM && i < 64; i++) {
    int64_t left = deadline - now_ns(b);
    if (left <= 0) break;
    int64_t ns = pause < left ? pause : left;
    poll(NULL, 0, (int)((ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS));
    pause = pause * 2 > 400 * REIN_NS_PER_MS ? 400 * REIN_NS_PER_MS : pause * 2;
    st = ensure(b);
  }
  return st;
}

static rein_status ab_read(rein_broker *base, size_t max, int64_t block_ms,
                           rein_broker_batch *out) {
  ab *b = (ab *)base;
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000 || block_ms < 0) return REIN_EINVAL;
  release_batch(b);
  int64_t deadline = now_ns(b) + block_ms * REIN_NS_PER_MS;
  rein_status st = ensure_until(b, deadline);
  if (st != REIN_OK) return st;
  /* bounded in count (passes) and time (the deadline, for the first) */
  for (size_t pass = 0; b->n < max && pass < max + 10000; pass++) {
    int64_t wait = 0;
    if (b->n == 0) {
      wait = deadline - now_ns(b);
      if (wait < 0) wait = 0;
    }
    bool got;
    st = consume_one(b, wait, &got);
    if (st != REIN_OK) {
      if (b->n) break; /* hand out what came; the error repeats next call */
      /* the connection went (a broker restart): reconnect within the
       * same deadline, then wait on the new consumer */
      if (b->conn || (st = ensure_until(b, deadline)) != REIN_OK) return st;
      continue;
    }
    /* nothing came (a parked delivery or a skipped frame count as
     * nothing): stop once there is a batch or the time is up */
    if (!got && (b->n || now_ns(b) >= deadline)) break;
  }
  out->msgs = b->msgs;
  out->n = b->n;
  return REIN_OK;
}

static rein_status ab_claim(rein_broker *base, size_t max,
                            rein_broker_batch *out) {
  ab *b = (ab *)base;
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000) return REIN_EINVAL;
  release_batch(b);
  if (!b->conn) return REIN_OK; /* nothing held: RabbitMQ has them back */
  int64_t now = now_ns(b);
  size_t done = 0;
  for (size_t i = 0; i < b->nheld && done < max;) {
    if (now - b->held[i].at_ns < b->min_idle_ns) {
      i++;
      continue;
    }
    int rc = amqp_basic_nack(b->conn, CH, b->held[i].tag, 0, 1);
    if (rc != AMQP_STATUS_OK) return lib_fail(b, "basic.nack", rc);
    b->held[i] = b->held[--b->nheld];
    done++;
  }
  return REIN_OK;
}

/* "<gen>:<tag>" of this connection, or an error. */
static rein_status tag_of(ab *b, const rein_broker_msg *m, uint64_t *tag) {
  char *end;
  unsigned long long g = strtoull(m->id, &end, 10);
  if (*end != ':') {
    snprintf(b->errmsg, sizeof b->errmsg, "amqp: not a delivery id: %.100s",
             m->id);
    return REIN_EINVAL;
  }
  if (!b->conn || g != b->gen) {
    snprintf(b->errmsg, sizeof b->errmsg,
             "amqp: delivery %.100s came on an earlier connection; RabbitMQ "
             "requeued it when that connection closed",
             m->id);
    return REIN_ECLOSED;
  }
  *tag = strtoull(end + 1, NULL, 10);
  return REIN_OK;
}

static rein_status ab_ack(rein_broker *base, const rein_broker_msg *m) {
  ab *b = (ab *)base;
  uint64_t tag;
  rein_status st = tag_of(b, m, &tag);
  if (st != REIN_OK) return st;
  int rc = amqp_basic_ack(b->conn, CH, tag, 0);
  if (rc != AMQP_STATUS_OK) return lib_fail(b, "basic.ack", rc);
  held_drop(b, tag);
  return REIN_OK;
}

static rein_status ab_dead_letter(rein_broker *base, const rein_broker_msg *m,
                                  const char *error) {
  (void)error; /* a reject carries no text; the inbox logs it */
  ab *b = (ab *)base;
  uint64_t tag;
  rein_status st = tag_of(b, m, &tag);
  if (st != REIN_OK) return st;
  return reject(b, tag);
}

static int64_t ab_window(const rein_broker *base) {
  return ((const ab *)base)->window_ns;
}

static const char *ab_errmsg(const rein_broker *base) {
  return ((const ab *)base)->errmsg;
}

static void ab_free(rein_broker *base) {
  ab *b = (ab *)base;
  release_batch(b);
  disconnect(b);
  rein__amqp_peer_free(&b->peer);
  char *strs[] = {b->queue, b->dead_exchange, b->dead_queue};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    rein_free(b->alloc, strs[i]);
  rein_free(b->alloc, b->held);
  rein_free(b->alloc, b->msgs);
  rein_free(b->alloc, b->bufs);
  rein_free(b->alloc, b);
}

static const rein_broker_vtable AB_VT = {REIN_BROKER_VTABLE_VERSION,
                                         "rabbitmq",
                                         ab_read,
                                         ab_claim,
                                         ab_ack,
                                         ab_dead_letter,
                                         ab_window,
                                         ab_errmsg,
                                         ab_free,
                                         NULL};

/* ==== construction ======================================================== */

void rein_broker_amqp_config_default(rein_broker_amqp_config *c) {
  memset(c, 0, sizeof *c);
  c->host = "127.0.0.1";
  c->port = 5672;
  c->vhost = "/";
  c->user = "guest";
  c->password = "guest";
  c->connect_timeout_ns = 2 * REIN_NS_PER_S;
  c->prefetch = 64;
  c->quorum = true;
  c->window_ttl = true;
  c->min_idle_ns = 30 * REIN_NS_PER_S;
  c->redelivery_window_ns = 7 * 86400 * REIN_NS_PER_S;
}

static char *suffixed(const rein_allocator *a, const char *s, const char *x) {
  size_t n = strlen(s), m = strlen(x);
  char *d = rein_alloc(a, n + m + 1);
  if (d) {
    memcpy(d, s, n);
    memcpy(d + n, x, m + 1);
  }
  return d;
}

rein_status rein_broker_amqp_new(const rein_broker_amqp_config *c,
                                 rein_broker **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *e = c->err;
  static const char *const what =
      ": expected 1..200 printable characters without spaces";
  if (!rein__amqp_name_ok(c->queue))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_amqp.queue%s", what);
  if (c->dead_exchange && !rein__amqp_name_ok(c->dead_exchange))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_amqp.dead_exchange%s", what);
  if (c->dead_queue && !rein__amqp_name_ok(c->dead_queue))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_amqp.dead_queue%s", what);
  if (c->prefetch < 1)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_amqp.prefetch: must be in [1, 65535]");
  if (c->min_idle_ns < 0 || c->min_idle_ns > 86400 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_amqp.min_idle_ns: must be in [0, 1 day]");
  /* x-message-ttl is at most 2^32-1 ms (49 days) */
  if (c->redelivery_window_ns < REIN_NS_PER_S ||
      (c->window_ttl &&
       c->redelivery_window_ns / REIN_NS_PER_MS > INT64_C(4294967295)))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_amqp.redelivery_window_ns: must be at "
                           "least 1 s (and at most 49 days with window_ttl)");
  ab *b = rein_calloc(c->alloc, sizeof *b);
  if (!b) return REIN_ENOMEM;
  rein_status st = rein__amqp_peer_init(&b->peer, "broker_amqp", c->alloc,
                                        c->host, c->port, c->vhost, c->user,
                                        c->password, c->connect_timeout_ns, e);
  if (st != REIN_OK) {
    rein_free(c->alloc, b);
    return st;
  }
  b->base.vt = &AB_VT;
  b->alloc = c->alloc;
  b->prefetch = c->prefetch;
  b->quorum = c->quorum;
  b->window_ttl = c->window_ttl;
  b->min_idle_ns = c->min_idle_ns;
  b->window_ns = c->redelivery_window_ns;
  b->clock = c->clock;
  b->wall = c->wall;
  b->queue = rein__amqp_strdup(c->alloc, c->queue);
  b->dead_exchange = c->dead_exchange
                         ? rein__amqp_strdup(c->alloc, c->dead_exchange)
                         : suffixed(c->alloc, c->queue, ".dlx");
  b->dead_queue = c->dead_queue ? rein__amqp_strdup(c->alloc, c->dead_queue)
                                : suffixed(c->alloc, c->queue, ".dead");
  b->held = rein_alloc(c->alloc, (size_t)c->prefetch * sizeof *b->held);
  if (!b->queue || !b->dead_exchange || !b->dead_queue || !b->held) {
    ab_free(&b->base);
    return REIN_ENOMEM;
  }
  st = ensure(b);
  if (st != REIN_OK) {
    if (e) snprintf(e->msg, sizeof e->msg, "broker_amqp: %.450s", b->errmsg);
    ab_free(&b->base);
    return st;
  }
  *out = &b->base;
  return REIN_OK;
}
