/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_redis.c: the Redis Streams broker adapter (hiredis, blocking).
 *
 * One adapter is one consumer of one consumer group. Reads come in two
 * phases: first the consumer's own pending entries (XREADGROUP ... 0: what
 * this consumer name held when it last died), then new ones (... >). Entries
 * left pending by any consumer for min_idle are taken over with XAUTOCLAIM,
 * whose cursor the adapter keeps so successive claims walk the whole pending
 * list. Redis counts deliveries per entry; XPENDING over the batch's ID
 * range reads them, which is what poison detection in the inbox uses.
 *
 * Dead-lettering is MULTI { XADD dead-stream; XACK } EXEC, so an entry is
 * never both parked and pending, nor acknowledged without being parked.
 * Entry IDs are "<ms>-<seq>": the ms part is when Redis accepted the entry,
 * which bounds the redelivery window: a redelivery of an entry older than
 * the window is dead-lettered as expired, never handed to the inbox.
 *
 * The batch (messages and the reply they point into) lives in the adapter
 * until the next read or claim, so a batch costs one allocation per call.
 *
 * Replies are read through the shared bounded connection (src/redis):
 * reply limits and a deadline per call. Fields are matched and read by
 * their length, never as C strings: a business key with a NUL byte would
 * otherwise be cut at the NUL and taken for a duplicate of a different
 * key (its effect skipped). Such an entry is dead-lettered with the reason,
 * whole.
 */
#include "rein_redis.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "inbox_internal.h"

typedef struct rb {
  rein_broker base;
  const rein_allocator *alloc;
  redisContext *ctx;
  char *host, *stream, *group, *consumer, *dead, *key_field, *body_field;
  int port;
  int64_t timeout_ns, min_idle_ns, window_ns;
  rein_clock wall;
  bool history_done;
  char hist_cursor[64];
  char claim_cursor[64];
  redisReply *held; /* reply the current batch points into */
  rein_broker_msg *msgs;
  size_t *klen; /* the key's length as Redis sent it, per message */
  size_t cap;
  char errmsg[512];
} rb;

static struct timeval tv_of(int64_t ns) {
  struct timeval tv;
  tv.tv_sec = (time_t)(ns / REIN_NS_PER_S);
  tv.tv_usec = (suseconds_t)((ns % REIN_NS_PER_S) / 1000);
  return tv;
}

static rein_status conn_fail(rb *b, const char *op) {
  snprintf(b->errmsg, sizeof b->errmsg, "redis %s:%d: %s: %s", b->host, b->port,
           op, b->ctx ? b->ctx->errstr : "cannot allocate context");
  rein_status st = b->ctx ? rein__redis_status(b->ctx) : REIN_ENOMEM;
  /* the inbox treats every broker failure alike; keep ECLOSED for an
   * unreachable server as documented, and say what else happened */
  return st == REIN_ENOMEM || st == REIN_ECLOSED ? REIN_ECLOSED : st;
}

/* (Re)connects when the context is missing or broken. */
static rein_status ensure(rb *b) {
  if (b->ctx && !b->ctx->err) return REIN_OK;
  /* a failed context is dead (a half-read reply, a deadline passed):
   * connect afresh */
  rein__redis_free(b->ctx);
  b->ctx =
      rein__redis_connect(b->host, b->port, b->timeout_ns, b->timeout_ns, NULL);
  if (!b->ctx || b->ctx->err) return conn_fail(b, "connect");
  /* named, so operators (and tests) can find the consumer in CLIENT LIST */
  char name[256];
  snprintf(name, sizeof name, "rein-inbox:%s", b->consumer);
  const char *argv[3] = {"CLIENT", "SETNAME", name};
  redisReply *r = rein__redis_command(b->ctx, rein__redis_now() + b->timeout_ns,
                                      3, argv, NULL);
  if (!r) return conn_fail(b, "CLIENT SETNAME");
  freeReplyObject(r);
  return REIN_OK;
}

/* Runs a command; on REIN_OK *out is a non-error reply the caller frees. */
static rein_status cmd_until(rb *b, redisReply **out, int argc,
                             const char **argv, const size_t *lens,
                             int64_t extra_ns) {
  *out = NULL;
  rein_status st = ensure(b);
  if (st != REIN_OK) return st;
  redisReply *r = rein__redis_command(
      b->ctx, rein__redis_now() + b->timeout_ns + extra_ns, argc, argv, lens);
  if (!r) return conn_fail(b, argv[0]);
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(b->errmsg, sizeof b->errmsg, "redis: %s: %s", argv[0], r->str);
    freeReplyObject(r);
    return REIN_EBACKEND;
  }
  *out = r;
  return REIN_OK;
}

static rein_status cmd(rb *b, redisReply **out, int argc, const char **argv,
                       const size_t *lens) {
  return cmd_until(b, out, argc, argv, lens, 0);
}

static void release_batch(rb *b) {
  if (b->held) freeReplyObject(b->held);
  b->held = NULL;
}

static int64_t id_ms(const char *id) {
  char *end;
  long long v = strtoll(id, &end, 10);
  return end != id && *end == '-' ? (int64_t)v : -1;
}

static rein_status dead_letter_raw(rb *b, const rein_broker_msg *m,
                                   size_t key_len, const char *error);

static bool field_is(const redisReply *f, const char *name) {
  size_t n = strlen(name);
  return f->len == n && memcmp(f->str, name, n) == 0;
}

/*
 * The entries of a stream reply ([[id, [f, v, ...] | nil], ...]) as
 * messages, pointing into `entries`: at most `cap`; klen[i] is the key's
 * length as sent (a key with a NUL byte has klen > strlen(key)). Entries
 * without a string id are skipped. Pure: the fuzz target calls it.
 */
size_t rein__broker_redis_decode(const redisReply *entries,
                                 const char *key_field, const char *body_field,
                                 rein_broker_msg *msgs, size_t *klen,
                                 size_t cap) {
  size_t n =
      entries && entries->type == REDIS_REPLY_ARRAY ? entries->elements : 0;
  size_t k = 0;
  for (size_t i = 0; i < n && k < cap; i++) {
    const redisReply *e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 1 ||
        e->element[0]->type != REDIS_REPLY_STRING)
      continue;
    rein_broker_msg *m = &msgs[k];
    memset(m, 0, sizeof *m);
    klen[k] = 0;
    k++;
    m->id = e->element[0]->str;
    m->body = "";
    m->deliveries = 1;
    m->enqueued_unix_ms = id_ms(m->id);
    if (e->elements >= 2 && e->element[1]->type == REDIS_REPLY_ARRAY) {
      const redisReply *f = e->element[1];
      for (size_t j = 0; j + 1 < f->elements; j += 2) {
        if (f->element[j]->type != REDIS_REPLY_STRING ||
            f->element[j + 1]->type != REDIS_REPLY_STRING)
          continue;
        if (field_is(f->element[j], key_field)) {
          m->key = f->element[j + 1]->str;
          klen[k - 1] = f->element[j + 1]->len;
        } else if (field_is(f->element[j], body_field)) {
          m->body = f->element[j + 1]->str;
          m->body_len = f->element[j + 1]->len;
        }
      }
    }
  }
  return k;
}

/*
 * Turns an entries array ([[id, [f, v, ...] | nil], ...]) into b->msgs.
 * `first_delivery`: the entries come from "new" reads (deliveries = 1);
 * otherwise the counts are read with XPENDING.
 */
static rein_status build(rb *b, redisReply *entries, bool first_delivery,
                         rein_broker_batch *out) {
  size_t n = entries ? entries->elements : 0;
  if (n > b->cap) {
    rein_broker_msg *nm = rein_alloc(b->alloc, n * sizeof *nm);
    size_t *nk = rein_alloc(b->alloc, n * sizeof *nk);
    if (!nm || !nk) {
      rein_free(b->alloc, nm);
      rein_free(b->alloc, nk);
      return REIN_ENOMEM;
    }
    rein_free(b->alloc, b->msgs);
    rein_free(b->alloc, b->klen);
    b->msgs = nm;
    b->klen = nk;
    b->cap = n;
  }
  size_t k = rein__broker_redis_decode(entries, b->key_field, b->body_field,
                                       b->msgs, b->klen, b->cap);
  /* A key with a NUL byte is refused whole, never cut at the NUL. */
  size_t w = 0;
  for (size_t i = 0; i < k; i++) {
    rein_broker_msg *m = &b->msgs[i];
    if (m->key && strlen(m->key) != b->klen[i]) {
      char why[160];
      snprintf(why, sizeof why,
               "business key contains a NUL byte (at byte %zu of %zu); "
               "refused rather than truncated",
               strlen(m->key), b->klen[i]);
      rein_status st = dead_letter_raw(b, m, b->klen[i], why);
      if (st != REIN_OK) return st;
      continue;
    }
    if (w != i) {
      b->msgs[w] = *m;
      b->klen[w] = b->klen[i];
    }
    w++;
  }
  k = w;
  if (k && !first_delivery) {
    char cnt[24];
    snprintf(cnt, sizeof cnt, "%zu", k * 2);
    const char *argv[] = {"XPENDING",    b->stream,         b->group,
                          b->msgs[0].id, b->msgs[k - 1].id, cnt,
                          b->consumer};
    redisReply *r;
    rein_status st = cmd(b, &r, 7, argv, NULL);
    if (st != REIN_OK) return st;
    size_t j = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
      redisReply *p = r->element[i];
      if (p->type != REDIS_REPLY_ARRAY || p->elements < 4 ||
          p->element[0]->type != REDIS_REPLY_STRING ||
          p->element[3]->type != REDIS_REPLY_INTEGER ||
          p->element[3]->integer < 1 || p->element[3]->integer > UINT32_MAX)
        continue;
      while (j < k && strcmp(b->msgs[j].id, p->element[0]->str) != 0)
        j++;
      if (j == k) break;
      b->msgs[j].deliveries = (uint32_t)p->element[3]->integer;
    }
    freeReplyObject(r);
    /* Past the window the inbox may have purged the dedup row: park the
     * entry rather than risk a second effect. */
    int64_t now_ms =
        (b->wall.now_ns ? b->wall.now_ns(b->wall.ctx) : rein_clock_wall_ns()) /
        REIN_NS_PER_MS;
    w = 0;
    for (size_t i = 0; i < k; i++) {
      rein_broker_msg *m = &b->msgs[i];
      if (m->deliveries > 1 && m->enqueued_unix_ms >= 0 &&
          b->window_ns < INT64_MAX &&
          now_ms - m->enqueued_unix_ms > b->window_ns / REIN_NS_PER_MS) {
        char why[160];
        snprintf(why, sizeof why,
                 "expired: redelivered %" PRId64 " s after it was enqueued, "
                 "past the redelivery window of %" PRId64 " s",
                 (now_ms - m->enqueued_unix_ms) / 1000,
                 b->window_ns / REIN_NS_PER_S);
        st = dead_letter_raw(b, m, b->klen[i], why);
        if (st != REIN_OK) return st;
        continue;
      }
      if (w != i) {
        b->msgs[w] = *m;
        b->klen[w] = b->klen[i];
      }
      w++;
    }
    k = w;
  }
  out->msgs = b->msgs;
  out->n = k;
  return REIN_OK;
}

/* The entries of the first stream in an XREADGROUP reply, or NULL. */
static redisReply *xread_entries(redisReply *r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1) return NULL;
  redisReply *s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 ||
      s->element[1]->type != REDIS_REPLY_ARRAY)
    return NULL;
  return s->element[1];
}

static rein_status rb_read(rein_broker *base, size_t max, int64_t block_ms,
                           rein_broker_batch *out) {
  rb *b = (rb *)base;
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000 || block_ms < 0) return REIN_EINVAL;
  release_batch(b);
  char cnt[24], blk[24];
  snprintf(cnt, sizeof cnt, "%zu", max);
  rein_status st;
  redisReply *r;
  while (!b->history_done) {
    const char *argv[] = {"XREADGROUP", "GROUP",   b->group,
                          b->consumer,  "COUNT",   cnt,
                          "STREAMS",    b->stream, b->hist_cursor};
    st = cmd(b, &r, 9, argv, NULL);
    if (st != REIN_OK) return st;
    redisReply *e = xread_entries(r);
    if (!e || e->elements == 0) {
      freeReplyObject(r);
      b->history_done = true;
      break;
    }
    redisReply *last = e->element[e->elements - 1];
    if (last->type == REDIS_REPLY_ARRAY && last->elements >= 1 &&
        last->element[0]->type == REDIS_REPLY_STRING)
      snprintf(b->hist_cursor, sizeof b->hist_cursor, "%s",
               last->element[0]->str);
    b->held = r;
    st = build(b, e, false, out);
    if (st != REIN_OK || out->n) return st;
    release_batch(b); /* all expired: look further */
  }
  snprintf(blk, sizeof blk, "%lld", (long long)block_ms);
  const char *argv[] = {"XREADGROUP", "GROUP",   b->group, b->consumer,
                        "COUNT",      cnt,       "BLOCK",  blk,
                        "STREAMS",    b->stream, ">"};
  const char *argv_nb[] = {"XREADGROUP", "GROUP",   b->group,
                           b->consumer,  "COUNT",   cnt,
                           "STREAMS",    b->stream, ">"};
  if (block_ms > 0) {
    if (ensure(b) != REIN_OK) return conn_fail(b, "XREADGROUP");
    /* the socket timeout must outlast the block too */
    redisSetTimeout(b->ctx, tv_of(b->timeout_ns + block_ms * REIN_NS_PER_MS));
    st = cmd_until(b, &r, 11, argv, NULL, block_ms * REIN_NS_PER_MS);
    if (b->ctx && !b->ctx->err) redisSetTimeout(b->ctx, tv_of(b->timeout_ns));
  } else {
    st = cmd(b, &r, 9, argv_nb, NULL);
  }
  if (st != REIN_OK) return st;
  b->held = r;
  return build(b, xread_entries(r), true, out);
}

static rein_status rb_claim(rein_broker *base, size_t max,
                            rein_broker_batch *out) {
  rb *b = (rb *)base;
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000) return REIN_EINVAL;
  release_batch(b);
  char cnt[24], idle[24];
  snprintf(cnt, sizeof cnt, "%zu", max);
  snprintf(idle, sizeof idle, "%lld",
           (long long)(b->min_idle_ns / REIN_NS_PER_MS));
  const char *argv[] = {"XAUTOCLAIM", b->stream,       b->group, b->consumer,
                        idle,         b->claim_cursor, "COUNT",  cnt};
  redisReply *r;
  rein_status st = cmd(b, &r, 8, argv, NULL);
  if (st != REIN_OK) return st;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    snprintf(b->errmsg, sizeof b->errmsg,
             "redis: XAUTOCLAIM: unexpected reply type %d", r->type);
    freeReplyObject(r);
    return REIN_EBACKEND;
  }
  snprintf(b->claim_cursor, sizeof b->claim_cursor, "%s", r->element[0]->str);
  b->held = r;
  redisReply *e =
      r->element[1]->type == REDIS_REPLY_ARRAY ? r->element[1] : NULL;
  return build(b, e, false, out);
}

static rein_status rb_ack(rein_broker *base, const rein_broker_msg *m) {
  rb *b = (rb *)base;
  const char *argv[] = {"XACK", b->stream, b->group, m->id};
  redisReply *r;
  rein_status st = cmd(b, &r, 4, argv, NULL);
  if (st == REIN_OK) freeReplyObject(r);
  return st;
}

/* One XACK per 256 ids: a batch's acks in one round trip (two or more
 * for a batch of more than 256), with no allocation. */
static rein_status rb_ack_many(rein_broker *base,
                               const rein_broker_msg *const *msgs, size_t n) {
  rb *b = (rb *)base;
  enum { CHUNK = 256 };
  const char *argv[3 + CHUNK];
  argv[0] = "XACK";
  argv[1] = b->stream;
  argv[2] = b->group;
  for (size_t at = 0; at < n;) {
    size_t k = n - at < CHUNK ? n - at : CHUNK;
    for (size_t i = 0; i < k; i++)
      argv[3 + i] = msgs[at + i]->id;
    redisReply *r;
    rein_status st = cmd(b, &r, (int)(3 + k), argv, NULL);
    if (st != REIN_OK) return st;
    freeReplyObject(r);
    at += k;
  }
  return REIN_OK;
}

static rein_status dead_letter_raw(rb *b, const rein_broker_msg *m,
                                   size_t key_len, const char *error) {
  rein_status st = ensure(b);
  if (st != REIN_OK) return st;
  char deliv[16];
  snprintf(deliv, sizeof deliv, "%u", m->deliveries);
  const char *key = m->key ? m->key : "";
  const char *xadd[] = {"XADD",     b->dead,         "*",       "key",
                        key,        "body",          m->body,   "error",
                        error,      "deliveries",    deliv,     "origin_id",
                        m->id,      "origin_stream", b->stream, "consumer",
                        b->consumer};
  size_t xl[17];
  for (int i = 0; i < 17; i++)
    xl[i] = strlen(xadd[i]);
  xl[4] = m->key ? key_len : 0;
  xl[6] = m->body_len;
  const char *xack[] = {"XACK", b->stream, b->group, m->id};
  redisAppendCommand(b->ctx, "MULTI");
  redisAppendCommandArgv(b->ctx, 17, xadd, xl);
  redisAppendCommandArgv(b->ctx, 4, xack, NULL);
  redisAppendCommand(b->ctx, "EXEC");
  st = REIN_OK;
  int64_t deadline = rein__redis_now() + b->timeout_ns;
  for (int i = 0; i < 4; i++) {
    redisReply *r = NULL;
    if (rein__redis_get_reply(b->ctx, deadline, &r) != REDIS_OK || !r)
      return conn_fail(b, "dead-letter");
    if (st == REIN_OK && r->type == REDIS_REPLY_ERROR) {
      snprintf(b->errmsg, sizeof b->errmsg, "redis: dead-letter: %s", r->str);
      st = REIN_EBACKEND;
    } else if (st == REIN_OK && i == 3 && r->type != REDIS_REPLY_ARRAY) {
      snprintf(b->errmsg, sizeof b->errmsg,
               "redis: dead-letter: EXEC was aborted");
      st = REIN_EBACKEND;
    }
    freeReplyObject(r);
  }
  return st;
}

static rein_status rb_dead_letter(rein_broker *base, const rein_broker_msg *m,
                                  const char *error) {
  return dead_letter_raw((rb *)base, m, m->key ? strlen(m->key) : 0, error);
}

static int64_t rb_window(const rein_broker *base) {
  return ((const rb *)base)->window_ns;
}

static const char *rb_errmsg(const rein_broker *base) {
  return ((const rb *)base)->errmsg;
}

static void rb_free(rein_broker *base) {
  rb *b = (rb *)base;
  release_batch(b);
  rein__redis_free(b->ctx);
  char *strs[] = {b->host, b->stream,    b->group,     b->consumer,
                  b->dead, b->key_field, b->body_field};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    rein_free(b->alloc, strs[i]);
  rein_free(b->alloc, b->msgs);
  rein_free(b->alloc, b->klen);
  rein_free(b->alloc, b);
}

static const rein_broker_vtable RB_VT = {REIN_BROKER_VTABLE_VERSION,
                                         "redis-streams",
                                         rb_read,
                                         rb_claim,
                                         rb_ack,
                                         rb_dead_letter,
                                         rb_window,
                                         rb_errmsg,
                                         rb_free,
                                         rb_ack_many};

void rein_broker_redis_config_default(rein_broker_redis_config *c) {
  memset(c, 0, sizeof *c);
  c->host = "127.0.0.1";
  c->port = 6379;
  c->connect_timeout_ns = 2 * REIN_NS_PER_S;
  c->key_field = "key";
  c->body_field = "body";
  c->start_id = "0";
  c->min_idle_ns = 30 * REIN_NS_PER_S;
  c->redelivery_window_ns = 7 * 86400 * REIN_NS_PER_S;
}

static char *sdup(const rein_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rein_alloc(a, n);
  return d ? memcpy(d, s, n) : NULL;
}

static bool name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 200) return false;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f) return false;
  return true;
}

rein_status rein_broker_redis_new(const rein_broker_redis_config *c,
                                  rein_broker **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *e = c->err;
  static const char *const what =
      ": expected 1..200 printable characters without spaces";
  if (!c->host || !*c->host)
    return rein_errbuf_set(e, REIN_EINVAL, "broker_redis.host: required");
  if (c->port < 1 || c->port > 65535)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.port: must be in [1, 65535], "
                           "got %d",
                           c->port);
  if (!name_ok(c->stream))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_redis.stream%s", what);
  if (!name_ok(c->group))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_redis.group%s", what);
  if (!name_ok(c->consumer))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.consumer%s (unique per live "
                           "consumer)",
                           what);
  if (c->dead_stream && !name_ok(c->dead_stream))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_redis.dead_stream%s", what);
  if (!name_ok(c->key_field))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_redis.key_field%s", what);
  if (!name_ok(c->body_field) || !strcmp(c->body_field, c->key_field))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.body_field%s, different from "
                           "key_field",
                           what);
  if (!name_ok(c->start_id))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.start_id: expected a stream ID "
                           "such as \"0\" or \"$\"");
  if (c->connect_timeout_ns < REIN_NS_PER_MS ||
      c->connect_timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.connect_timeout_ns: must be in "
                           "[1 ms, 600 s]");
  if (c->min_idle_ns < 0 || c->min_idle_ns > 86400 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.min_idle_ns: must be in [0, 1 day]");
  if (c->redelivery_window_ns < REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_redis.redelivery_window_ns: must be at "
                           "least 1 s");
  rb *b = rein_calloc(c->alloc, sizeof *b);
  if (!b) return REIN_ENOMEM;
  b->base.vt = &RB_VT;
  b->alloc = c->alloc;
  b->port = c->port;
  b->timeout_ns = c->connect_timeout_ns;
  b->min_idle_ns = c->min_idle_ns;
  b->window_ns = c->redelivery_window_ns;
  b->wall = c->wall;
  snprintf(b->hist_cursor, sizeof b->hist_cursor, "0");
  snprintf(b->claim_cursor, sizeof b->claim_cursor, "0-0");
  b->host = sdup(c->alloc, c->host);
  b->stream = sdup(c->alloc, c->stream);
  b->group = sdup(c->alloc, c->group);
  b->consumer = sdup(c->alloc, c->consumer);
  b->key_field = sdup(c->alloc, c->key_field);
  b->body_field = sdup(c->alloc, c->body_field);
  if (c->dead_stream) {
    b->dead = sdup(c->alloc, c->dead_stream);
  } else if (c->stream &&
             (b->dead = rein_alloc(c->alloc, strlen(c->stream) + 6))) {
    sprintf(b->dead, "%s:dead", c->stream);
  }
  if (!b->host || !b->stream || !b->group || !b->consumer || !b->dead ||
      !b->key_field || !b->body_field) {
    rb_free(&b->base);
    return REIN_ENOMEM;
  }
  rein_status st = ensure(b);
  if (st == REIN_OK) {
    const char *argv[] = {"XGROUP", "CREATE",    b->stream,
                          b->group, c->start_id, "MKSTREAM"};
    redisReply *r;
    st = cmd(b, &r, 6, argv, NULL);
    if (st == REIN_OK)
      freeReplyObject(r);
    else if (st == REIN_EBACKEND && strstr(b->errmsg, "BUSYGROUP"))
      st = REIN_OK; /* the group exists: join it */
  }
  if (st != REIN_OK) {
    if (e) snprintf(e->msg, sizeof e->msg, "broker_redis: %.450s", b->errmsg);
    rb_free(&b->base);
    return st;
  }
  *out = &b->base;
  return REIN_OK;
}
