/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox_amqp.c: the outbox's RabbitMQ deliverer (publisher confirms,
 * librabbitmq, blocking).
 *
 * The relay marks an intent delivered when the deliverer says SUCCESS, so
 * SUCCESS must mean "RabbitMQ has stored it". A bare basic.publish only
 * means "written to the socket": a broker that dies, a queue that refuses
 * (x-overflow reject-publish) or a message that routes nowhere loses it
 * without a word. So the channel is in confirm mode and each attempt
 * publishes one message (mandatory, persistent) and waits for the broker's
 * verdict on that delivery tag: ack, nack, or a basic.return before the
 * ack when no queue took it. One message in flight at a time keeps the
 * bookkeeping to one counter (the channel's publish sequence); a verdict
 * for an older tag cannot arrive, because every attempt that ends without
 * one (timeout, lost connection) drops the connection and the next attempt
 * starts a new channel whose tags begin at 1 again.
 *
 * Resending is always safe here because RabbitMQ cannot dedup but the
 * consumer can: message_id is the intent's idempotency key, which the
 * consuming rein_inbox (rein_broker_amqp reads message_id as the business
 * key) inserts into its dedup table.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "amqp_internal.h"

#define CH 1

struct rein_outbox_amqp {
  rein__amqp_peer peer;
  const rein_allocator *alloc;
  amqp_connection_state_t conn; /* NULL when disconnected */
  uint64_t seq;                 /* publishes on this channel = last tag */
  bool confirms;
  int64_t timeout_ns;
  char *content_type;
  rein_clock wall;
  char errmsg[512];
};

void rein_outbox_amqp_config_default(rein_outbox_amqp_config *c) {
  memset(c, 0, sizeof *c);
  c->host = "127.0.0.1";
  c->port = 5672;
  c->vhost = "/";
  c->user = "guest";
  c->password = "guest";
  c->connect_timeout_ns = 2 * REIN_NS_PER_S;
  c->timeout_ns = 5 * REIN_NS_PER_S;
  c->content_type = "application/json";
  c->confirms = true;
}

rein_status rein_outbox_amqp_new(const rein_outbox_amqp_config *c,
                                 rein_outbox_amqp **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  if (c->timeout_ns < REIN_NS_PER_MS || c->timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "outbox_amqp.timeout_ns: must be in [1 ms, 600 s]");
  if (!c->content_type || !*c->content_type || strlen(c->content_type) > 200)
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "outbox_amqp.content_type: expected 1..200 bytes");
  rein_outbox_amqp *d = rein_calloc(c->alloc, sizeof *d);
  if (!d) return REIN_ENOMEM;
  rein_status st = rein__amqp_peer_init(
      &d->peer, "outbox_amqp", c->alloc, c->host, c->port, c->vhost, c->user,
      c->password, c->connect_timeout_ns, c->err);
  if (st != REIN_OK) {
    rein_free(c->alloc, d);
    return st;
  }
  d->alloc = c->alloc;
  d->confirms = c->confirms;
  d->timeout_ns = c->timeout_ns;
  d->wall = c->wall;
  d->content_type = rein__amqp_strdup(c->alloc, c->content_type);
  if (!d->content_type) {
    rein_outbox_amqp_free(d);
    return REIN_ENOMEM;
  }
  *out = d;
  return REIN_OK;
}

/* Politely when the connection is healthy; `lost` skips the close
 * handshake (the peer is gone or hung: nothing to wait for). */
static void drop(rein_outbox_amqp *d, bool lost) {
  if (!d->conn) return;
  if (lost)
    amqp_destroy_connection(d->conn);
  else
    rein__amqp_close(d->conn, CH);
  d->conn = NULL;
  d->seq = 0;
}

void rein_outbox_amqp_free(rein_outbox_amqp *d) {
  if (!d) return;
  drop(d, false);
  rein__amqp_peer_free(&d->peer);
  rein_free(d->alloc, d->content_type);
  rein_free(d->alloc, d);
}

static rein_status ensure(rein_outbox_amqp *d) {
  if (d->conn) return REIN_OK;
  rein_status st =
      rein__amqp_open(&d->peer, CH, &d->conn, d->errmsg, sizeof d->errmsg);
  if (st != REIN_OK) return st;
  d->seq = 0;
  if (d->confirms) {
    amqp_confirm_select(d->conn, CH);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(d->conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
      st = rein__amqp_reply_msg(&d->peer, "confirm.select", r, d->errmsg,
                                sizeof d->errmsg);
      drop(d, true);
      return st;
    }
  }
  return REIN_OK;
}

static int64_t mono(void) {
  return rein_clock_monotonic().now_ns(NULL);
}

/* A channel.close or connection.close frame into words. */
static void close_words(rein_outbox_amqp *d, const amqp_frame_t *f, char *err,
                        size_t cap) {
  amqp_rpc_reply_t c = {0};
  c.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
  c.reply = f->payload.method;
  rein__amqp_reply_msg(&d->peer, "publish", c, err, cap);
}

/* Without confirms: read what has already arrived (returns, a close) so
 * it does not pile up, without waiting. Bounded in count. */
static void drain(rein_outbox_amqp *d) {
  for (int i = 0; d->conn && i < 1000; i++) {
    if (!amqp_frames_enqueued(d->conn) && !amqp_data_in_buffer(d->conn)) {
      struct pollfd pf = {amqp_get_sockfd(d->conn), POLLIN, 0};
      if (poll(&pf, 1, 0) <= 0) return;
    }
    amqp_frame_t f;
    struct timeval tv = {0, 0};
    int rc = amqp_simple_wait_frame_noblock(d->conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return;
    if (rc != AMQP_STATUS_OK ||
        (f.frame_type == AMQP_FRAME_METHOD &&
         (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
          f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD))) {
      drop(d, true);
      return;
    }
  }
}

static amqp_table_entry_t hdr_i32(const char *k, int32_t v) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_I32;
  e.value.value.i32 = v;
  return e;
}

static amqp_table_entry_t hdr_str(const char *k, const char *v) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(k);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(v);
  return e;
}

void rein_outbox_amqp_deliver(void *ctx, const rein_outbox_item *it,
                              const rein_decision *attempt, rein_outcome *out,
                              char *err, size_t cap) {
  rein_outbox_amqp *d = ctx;
  memset(out, 0, sizeof *out);
  out->kind = REIN_OUTCOME_FATAL;
  if (!d || !it || !it->dest || !it->idem_key) {
    snprintf(err, cap, "outbox_amqp: NULL deliverer or item");
    return;
  }
  /* dest: "<exchange>/<routing key>" */
  const char *slash = strchr(it->dest, '/');
  size_t xlen = slash ? (size_t)(slash - it->dest) : 0;
  size_t klen = slash ? strlen(slash + 1) : 0;
  if (!slash || xlen > 127 || klen < 1 || klen > 255) {
    snprintf(err, cap,
             "outbox_amqp: dest '%.100s': expected \"<exchange>/<routing "
             "key>\" (exchange 0..127 bytes, key 1..255)",
             it->dest);
    return;
  }
  amqp_bytes_t exchange = {xlen, (void *)it->dest};
  amqp_bytes_t rkey = {klen, (void *)(slash + 1)};

  rein_status st = ensure(d);
  if (st != REIN_OK) {
    out->kind = REIN_OUTCOME_NOT_SENT;
    snprintf(err, cap, "%s", d->errmsg);
    return;
  }
  int64_t wall =
      d->wall.now_ns ? d->wall.now_ns(d->wall.ctx) : rein_clock_wall_ns();
  uint32_t n = attempt && attempt->attempt ? attempt->attempt : 1;
  amqp_table_entry_t hs[2] = {
      hdr_i32("Rein-Attempt", n > INT32_MAX ? INT32_MAX : (int32_t)n),
      hdr_str("Rein-Effect", it->effect ? it->effect : "")};
  amqp_basic_properties_t p;
  memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
             AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
             AMQP_BASIC_HEADERS_FLAG;
  p.content_type = amqp_cstring_bytes(d->content_type);
  p.delivery_mode = 2; /* persistent */
  p.message_id = amqp_cstring_bytes(it->idem_key);
  p.timestamp = wall > 0 ? (uint64_t)(wall / REIN_NS_PER_S) : 0;
  p.headers.num_entries = 2;
  p.headers.entries = hs;
  amqp_bytes_t body = {it->body_len, (void *)it->body};
  int rc = amqp_basic_publish(d->conn, CH, exchange, rkey, 1, 0, &p, body);
  if (rc != AMQP_STATUS_OK) {
    /* some bytes may have left: not NOT_SENT */
    out->kind = REIN_OUTCOME_FAILURE;
    rein__amqp_lib_msg(&d->peer, "basic.publish", rc, err, cap);
    drop(d, true);
    return;
  }
  d->seq++;
  if (!d->confirms) {
    drain(d);
    out->kind = REIN_OUTCOME_SUCCESS; /* written, not known to be stored */
    return;
  }

  int64_t to =
      attempt && attempt->timeout_ns > 0 ? attempt->timeout_ns : d->timeout_ns;
  int64_t deadline = mono() + to;
  bool returned = false;
  char why[200] = "";
  /* bounded in time (the deadline) and count (frames) */
  for (int frames = 0; frames < 100000; frames++) {
    int64_t left = deadline - mono();
    if (left <= 0) break;
    amqp_frame_t f;
    struct timeval tv = rein__amqp_tv(left);
    rc = amqp_simple_wait_frame_noblock(d->conn, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) {
      out->kind = REIN_OUTCOME_FAILURE; /* it may have been stored */
      rein__amqp_lib_msg(&d->peer, "waiting for the confirm", rc, err, cap);
      drop(d, true);
      return;
    }
    if (f.frame_type != AMQP_FRAME_METHOD) continue; /* a return's content */
    amqp_method_number_t id = f.payload.method.id;
    if (id == AMQP_BASIC_RETURN_METHOD) {
      amqp_basic_return_t *m = f.payload.method.decoded;
      returned = true;
      snprintf(why, sizeof why, "%u %.*s", (unsigned)m->reply_code,
               (int)m->reply_text.len, (const char *)m->reply_text.bytes);
      continue;
    }
    if (id == AMQP_BASIC_ACK_METHOD || id == AMQP_BASIC_NACK_METHOD) {
      uint64_t tag;
      bool multiple;
      if (id == AMQP_BASIC_ACK_METHOD) {
        amqp_basic_ack_t *m = f.payload.method.decoded;
        tag = m->delivery_tag;
        multiple = m->multiple;
      } else {
        amqp_basic_nack_t *m = f.payload.method.decoded;
        tag = m->delivery_tag;
        multiple = m->multiple;
      }
      if (tag != d->seq && !(multiple && tag > d->seq)) continue;
      if (id == AMQP_BASIC_NACK_METHOD) {
        out->kind = REIN_OUTCOME_FAILURE;
        snprintf(err, cap,
                 "amqp %s:%d: dest %.100s: RabbitMQ refused the "
                 "message (basic.nack)",
                 d->peer.host, d->peer.port, it->dest);
      } else if (returned) {
        out->kind = REIN_OUTCOME_FAILURE;
        snprintf(err, cap, "amqp %s:%d: dest %.100s: unroutable (%s)",
                 d->peer.host, d->peer.port, it->dest, why);
      } else {
        out->kind = REIN_OUTCOME_SUCCESS;
      }
      return;
    }
    if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
      out->kind = REIN_OUTCOME_FAILURE;
      close_words(d, &f, err, cap);
      drop(d, true);
      return;
    }
  }
  out->kind = REIN_OUTCOME_TIMEOUT;
  snprintf(err, cap, "amqp %s:%d: dest %.100s: no confirm within %lld ms",
           d->peer.host, d->peer.port, it->dest,
           (long long)(to / REIN_NS_PER_MS));
  drop(d, true);
}
