/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inbox.c: the inbox front end: configuration, the per-message transaction
 * (dedup row + handler + commit, then ack), poison handling, polling a
 * broker, bounded purges, and the broker dispatchers.
 *
 * Design. The order of operations is the whole guarantee, so it lives in
 * one function (rein_inbox_process) and nowhere else: BEGIN, insert the
 * business key, run the handler on the same connection, COMMIT, and only
 * then acknowledge. Every failure before COMMIT rolls back the effect and
 * the dedup row together and leaves the message unacknowledged; every
 * failure after COMMIT leaves a redelivery that the dedup row turns into a
 * skipped duplicate. The database backends (inbox_sqlite.c, inbox_pg.c) sit
 * behind a small vtable; the broker behind rein_broker_vtable.
 *
 * Poison. The broker's delivery count decides: a handler failure on
 * delivery >= max_deliveries dead-letters the message with the handler's
 * error; a message that arrives with more deliveries than that and no
 * verdict (it keeps crashing or stalling its consumer) is dead-lettered
 * before its handler runs again. A key already in the inbox is acked as a
 * duplicate in both cases: it was processed, so it is not poison.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inbox_internal.h"

struct rein_inbox_tx {
  rein_inbox *ib;
  const rein_broker_msg *m;
};

struct rein_inbox {
  rein_inbox_config cfg; /* strings not kept; secret points at `secret` */
  rein__inbox_db *db;
  unsigned char *secret;
  /* a batch's deferred acks (rein_inbox_poll); grows to the largest batch */
  const rein_broker_msg **acks;
  size_t acks_cap;
  char errmsg[512];
};

void rein__inbox_seterr(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
}

/* ==== broker dispatch ===================================================== */

rein_status rein_broker_read(rein_broker *b, size_t max, int64_t block_ms,
                             rein_broker_batch *out) {
  if (!b || !out || !b->vt) return REIN_EINVAL;
  return b->vt->read(b, max, block_ms, out);
}

rein_status rein_broker_claim_stale(rein_broker *b, size_t max,
                                    rein_broker_batch *out) {
  if (!b || !out || !b->vt) return REIN_EINVAL;
  return b->vt->claim_stale(b, max, out);
}

rein_status rein_broker_ack(rein_broker *b, const rein_broker_msg *m) {
  if (!b || !m || !b->vt) return REIN_EINVAL;
  return b->vt->ack(b, m);
}

rein_status rein_broker_ack_many(rein_broker *b,
                                 const rein_broker_msg *const *msgs, size_t n) {
  if (!b || (!msgs && n) || !b->vt) return REIN_EINVAL;
  if (n == 0) return REIN_OK;
  if (b->vt->version >= 2 && b->vt->ack_many)
    return b->vt->ack_many(b, msgs, n);
  for (size_t i = 0; i < n; i++) {
    rein_status st = b->vt->ack(b, msgs[i]);
    if (st != REIN_OK) return st;
  }
  return REIN_OK;
}

rein_status rein_broker_dead_letter(rein_broker *b, const rein_broker_msg *m,
                                    const char *error) {
  if (!b || !m || !b->vt) return REIN_EINVAL;
  return b->vt->dead_letter(b, m, error ? error : "");
}

int64_t rein_broker_redelivery_window_ns(const rein_broker *b) {
  if (!b || !b->vt || !b->vt->redelivery_window_ns) return INT64_MAX;
  return b->vt->redelivery_window_ns(b);
}

const char *rein_broker_errmsg(const rein_broker *b) {
  if (!b || !b->vt || !b->vt->errmsg) return "";
  const char *s = b->vt->errmsg(b);
  return s ? s : "";
}

void rein_broker_free(rein_broker *b) {
  if (b && b->vt && b->vt->free) b->vt->free(b);
}

/* ==== configuration ========================================================
 */

void rein_inbox_config_default(rein_inbox_config *c) {
  memset(c, 0, sizeof *c);
  c->busy_timeout_ns = 10 * REIN_NS_PER_S;
  c->dedup = true;
  c->retention_ns = 7 * 86400 * REIN_NS_PER_S;
  c->max_deliveries = 5;
  c->outbox_lease_ns = 30 * REIN_NS_PER_S;
  c->outbox_notify = true;
}

static int64_t wall_default(void *ctx) {
  (void)ctx;
  return rein_clock_wall_ns();
}

static int64_t now_ms(const rein_inbox *ib) {
  return ib->cfg.wall.now_ns(ib->cfg.wall.ctx) / REIN_NS_PER_MS;
}

static void logline(const rein_inbox *ib, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logline(const rein_inbox *ib, const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (ib->cfg.log)
    ib->cfg.log(ib->cfg.log_ctx, line);
  else
    fprintf(stderr, "rein inbox: %s\n", line);
}

static rein_status validate(const rein_inbox_config *c) {
  rein_errbuf *e = c->err;
  if (c->busy_timeout_ns < 0 || c->busy_timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.busy_timeout_ns: must be in [0, 600 s], "
                           "got %" PRId64,
                           c->busy_timeout_ns);
  if (c->retention_ns < REIN_NS_PER_MS)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.retention_ns: must be at least 1 ms, got "
                           "%" PRId64,
                           c->retention_ns);
  if (c->max_deliveries < 1 || c->max_deliveries > 1000000)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.max_deliveries: must be in [1, 1000000], "
                           "got %u",
                           c->max_deliveries);
  if (c->outbox_secret && c->outbox_secret_len < 16)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.outbox_secret_len: the HMAC secret must "
                           "be at least 16 bytes, got %zu; use 32 random "
                           "bytes",
                           c->outbox_secret_len);
  if (!c->outbox_secret && c->outbox_secret_len)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.outbox_secret: NULL with a length of %zu",
                           c->outbox_secret_len);
  if (c->outbox_lease_ns < REIN_NS_PER_MS)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "inbox.outbox_lease_ns: must be at least 1 ms, "
                           "got %" PRId64,
                           c->outbox_lease_ns);
  return REIN_OK;
}

rein_status rein__inbox_new(const rein_inbox_config *c, rein__inbox_open open,
                            rein_inbox **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  rein_inbox *ib = rein_calloc(c->alloc, sizeof *ib);
  if (!ib) return REIN_ENOMEM;
  ib->cfg = *c;
  ib->cfg.sqlite_path = NULL;
  ib->cfg.pg_conninfo = NULL;
  ib->cfg.err = NULL;
  if (!ib->cfg.wall.now_ns) ib->cfg.wall.now_ns = wall_default;
  if (!ib->cfg.clock.now_ns) ib->cfg.clock = rein_clock_monotonic();
  if (c->outbox_secret) {
    ib->secret = rein_alloc(c->alloc, c->outbox_secret_len);
    if (!ib->secret) {
      rein_free(c->alloc, ib);
      return REIN_ENOMEM;
    }
    memcpy(ib->secret, c->outbox_secret, c->outbox_secret_len);
    ib->cfg.outbox_secret = ib->secret;
  }
  if (c->broker) {
    int64_t w = rein_broker_redelivery_window_ns(c->broker);
    if (c->retention_ns < w) {
      char msg[480];
      if (w == INT64_MAX)
        snprintf(msg, sizeof msg,
                 "inbox.retention_ns: %" PRId64 " s is shorter than the "
                 "%s broker's redelivery window, which is unbounded; bound "
                 "the window in the broker adapter's config",
                 c->retention_ns / REIN_NS_PER_S, c->broker->vt->name);
      else
        snprintf(msg, sizeof msg,
                 "inbox.retention_ns: %" PRId64 " s is shorter than the "
                 "%s broker's redelivery window of %" PRId64 " s: a "
                 "redelivery after the dedup row is purged would repeat the "
                 "effect; raise retention_ns to at least the window",
                 c->retention_ns / REIN_NS_PER_S, c->broker->vt->name,
                 w / REIN_NS_PER_S);
      if (!c->retention_warn_only) {
        if (c->err) snprintf(c->err->msg, sizeof c->err->msg, "%s", msg);
        rein_free(c->alloc, ib->secret);
        rein_free(c->alloc, ib);
        return REIN_EINVAL;
      }
      logline(ib,
              "WARNING: exactly-once is NOT guaranteed: %s "
              "(retention_warn_only is set, starting anyway)",
              msg);
    }
  }
  st = open(c, &ib->db, c->err);
  if (st != REIN_OK) {
    rein_free(c->alloc, ib->secret);
    rein_free(c->alloc, ib);
    return st;
  }
  *out = ib;
  return REIN_OK;
}

void rein_inbox_free(rein_inbox *ib) {
  if (!ib) return;
  ib->db->vt->close(ib->db);
  rein_free(ib->cfg.alloc, ib->acks);
  rein_free(ib->cfg.alloc, ib->secret);
  rein_free(ib->cfg.alloc, ib);
}

const char *rein_inbox_errmsg(const rein_inbox *ib) {
  return ib ? ib->errmsg : "";
}

const rein_broker_msg *rein_inbox_tx_msg(const rein_inbox_tx *tx) {
  return tx ? tx->m : NULL;
}

const char *rein_inbox_verdict_name(rein_inbox_verdict v) {
  switch (v) {
  case REIN_INBOX_PROCESSED:
    return "processed";
  case REIN_INBOX_DUPLICATE:
    return "duplicate";
  case REIN_INBOX_FAILED:
    return "failed";
  case REIN_INBOX_DEAD:
    return "dead";
  }
  return "unknown";
}

/* ==== the per-message transaction ========================================= */

static rein_status db_fail(rein_inbox *ib, rein_status st) {
  snprintf(ib->errmsg, sizeof ib->errmsg, "%s", ib->db->errmsg);
  return st;
}

static rein_status broker_fail(rein_inbox *ib, rein_status st) {
  snprintf(ib->errmsg, sizeof ib->errmsg, "broker: %s",
           rein_broker_errmsg(ib->cfg.broker));
  return st;
}

static rein_status ack(rein_inbox *ib, const rein_broker_msg *m) {
  if (!ib->cfg.broker) return REIN_OK;
  rein_status st = rein_broker_ack(ib->cfg.broker, m);
  return st == REIN_OK ? st : broker_fail(ib, st);
}

static rein_status dead(rein_inbox *ib, const rein_broker_msg *m,
                        const char *why, rein_inbox_verdict *v) {
  logline(ib, "dead-lettering message %s (key %s, delivery %u): %s", m->id,
          m->key ? m->key : "(none)", m->deliveries, why);
  *v = REIN_INBOX_DEAD;
  if (!ib->cfg.broker) return REIN_OK;
  rein_status st = rein_broker_dead_letter(ib->cfg.broker, m, why);
  return st == REIN_OK ? st : broker_fail(ib, st);
}

static bool key_ok(const char *k) {
  if (!k) return false;
  size_t n = strlen(k);
  return n >= 1 && n <= REIN__INBOX_KEY_MAX;
}

/* One message; with `deferred` non-NULL a processed or duplicate message is
 * not acked here: *deferred is set and the caller acks it later. */
static rein_status process_one(rein_inbox *ib, const rein_broker_msg *m,
                               rein_inbox_verdict *verdict, bool *deferred) {
  if (deferred) *deferred = false;
  if (!ib->cfg.handler) {
    snprintf(ib->errmsg, sizeof ib->errmsg, "inbox.handler: not set");
    return REIN_EINVAL;
  }
  *verdict = REIN_INBOX_FAILED;
  if (!key_ok(m->key))
    return dead(ib, m,
                m->key ? "business key longer than 255 bytes or empty"
                       : "message has no business key field",
                verdict);
  rein__inbox_db *db = ib->db;
  rein_status st;
  if (ib->cfg.dedup) {
    bool inserted = false;
    if (db->vt->begin_dedup) {
      st = db->vt->begin_dedup(db, m->key, now_ms(ib), &inserted);
      if (st != REIN_OK) return db_fail(ib, st);
    } else {
      st = db->vt->begin(db);
      if (st != REIN_OK) return db_fail(ib, st);
      st = db->vt->dedup(db, m->key, now_ms(ib), &inserted);
      if (st != REIN_OK) {
        db_fail(ib, st);
        db->vt->rollback(db);
        return st;
      }
    }
    if (!inserted) {
      /* processed before: nothing to write, acknowledge the redelivery */
      db->vt->rollback(db);
      *verdict = REIN_INBOX_DUPLICATE;
      if (deferred && ib->cfg.broker) {
        *deferred = true;
        return REIN_OK;
      }
      return ack(ib, m);
    }
  } else {
    st = db->vt->begin(db);
    if (st != REIN_OK) return db_fail(ib, st);
  }
  if (m->deliveries > ib->cfg.max_deliveries) {
    db->vt->rollback(db);
    char why[160];
    snprintf(why, sizeof why,
             "delivered %u times (max_deliveries %u) without a verdict: "
             "it crashed or stalled its consumers",
             m->deliveries, ib->cfg.max_deliveries);
    return dead(ib, m, why, verdict);
  }
  rein_inbox_tx tx = {ib, m};
  char err[400];
  err[0] = 0;
  rein_status hs =
      ib->cfg.handler(ib->cfg.handler_ctx, &tx, m, err, sizeof err);
  if (hs != REIN_OK) {
    db->vt->rollback(db);
    err[sizeof err - 1] = 0;
    char why[480];
    snprintf(why, sizeof why, "%s: %s", rein_status_name(hs),
             err[0] ? err : rein_strerror(hs));
    if (m->deliveries >= ib->cfg.max_deliveries)
      return dead(ib, m, why, verdict);
    snprintf(ib->errmsg, sizeof ib->errmsg, "handler: %s", why);
    *verdict = REIN_INBOX_FAILED;
    return REIN_OK;
  }
  st = db->vt->commit(db);
  if (st != REIN_OK) return db_fail(ib, st);
  if (ib->cfg.hooks.after_commit)
    ib->cfg.hooks.after_commit(ib->cfg.hooks.ctx, m);
  *verdict = REIN_INBOX_PROCESSED;
  if (deferred && ib->cfg.broker) {
    *deferred = true;
    return REIN_OK;
  }
  return ack(ib, m);
}

rein_status rein_inbox_process(rein_inbox *ib, const rein_broker_msg *m,
                               rein_inbox_verdict *verdict) {
  if (!ib || !m || !verdict) return REIN_EINVAL;
  if (!ib->cfg.handler) {
    snprintf(ib->errmsg, sizeof ib->errmsg, "inbox.handler: not set");
    return REIN_EINVAL;
  }
  return process_one(ib, m, verdict, NULL);
}

static void count(rein_inbox_stats *s, rein_inbox_verdict v) {
  if (!s) return;
  switch (v) {
  case REIN_INBOX_PROCESSED:
    s->processed++;
    break;
  case REIN_INBOX_DUPLICATE:
    s->duplicates++;
    break;
  case REIN_INBOX_FAILED:
    s->failed++;
    break;
  case REIN_INBOX_DEAD:
    s->dead++;
    break;
  }
}

/* Processes a batch. With an adapter that has ack_many, its processed and
 * duplicate messages are acked together after it (also after an error:
 * what was committed is acked); otherwise each is acked after its commit,
 * which keeps a prefetch window (RabbitMQ's) refilling while the batch
 * runs. Without room for the deferred acks it acks one by one too. */
static rein_status process_batch(rein_inbox *ib, const rein_broker_batch *b,
                                 rein_inbox_stats *stats) {
  const rein_broker_vtable *vt = ib->cfg.broker->vt;
  bool many = vt->version >= 2 && vt->ack_many;
  if (many && b->n > ib->acks_cap) {
    const rein_broker_msg **a = rein_alloc(ib->cfg.alloc, b->n * sizeof *a);
    if (a) {
      rein_free(ib->cfg.alloc, ib->acks);
      ib->acks = a;
      ib->acks_cap = b->n;
    }
  }
  bool defer = many && b->n <= ib->acks_cap;
  size_t na = 0;
  rein_status st = REIN_OK;
  for (size_t i = 0; i < b->n; i++) {
    rein_inbox_verdict v;
    bool deferred = false;
    st = process_one(ib, &b->msgs[i], &v, defer ? &deferred : NULL);
    if (st != REIN_OK) break;
    if (deferred) ib->acks[na++] = &b->msgs[i];
    count(stats, v);
  }
  if (na) {
    rein_status as = rein_broker_ack_many(ib->cfg.broker, ib->acks, na);
    if (as != REIN_OK) {
      as = broker_fail(ib, as);
      if (st == REIN_OK) st = as;
    }
  }
  return st;
}

rein_status rein_inbox_poll(rein_inbox *ib, size_t max, int64_t block_ms,
                            rein_inbox_stats *stats) {
  if (!ib || max == 0 || block_ms < 0) return REIN_EINVAL;
  if (!ib->cfg.broker) {
    snprintf(ib->errmsg, sizeof ib->errmsg, "inbox.broker: not set");
    return REIN_EINVAL;
  }
  rein_broker_batch b;
  rein_status st = rein_broker_claim_stale(ib->cfg.broker, max, &b);
  if (st != REIN_OK) return broker_fail(ib, st);
  if (stats) stats->claimed += b.n;
  st = process_batch(ib, &b, stats);
  if (st != REIN_OK) return st;
  /* after a claim that found work, do not block: there may be more */
  st = rein_broker_read(ib->cfg.broker, max, b.n ? 0 : block_ms, &b);
  if (st != REIN_OK) return broker_fail(ib, st);
  return process_batch(ib, &b, stats);
}

rein_status rein_inbox_purge(rein_inbox *ib, size_t batch, size_t *deleted) {
  if (deleted) *deleted = 0;
  if (!ib || batch == 0) return REIN_EINVAL;
  int64_t older = now_ms(ib) - ib->cfg.retention_ns / REIN_NS_PER_MS;
  size_t a = 0, b = 0;
  rein_status st = ib->db->vt->purge(ib->db, older, batch, &a, &b);
  if (st != REIN_OK) return db_fail(ib, st);
  if (deleted) *deleted = a > b ? a : b;
  return REIN_OK;
}

rein_status rein_inbox_counts_get(rein_inbox *ib, rein_inbox_counts *out) {
  if (!ib || !out) return REIN_EINVAL;
  memset(out, 0, sizeof *out);
  rein_status st = ib->db->vt->counts(ib->db, out);
  return st == REIN_OK ? st : db_fail(ib, st);
}

/* ==== internal accessors for outbox.c and the database libraries
 * ======================================
 */

rein__inbox_db *rein__inbox_db_of(const rein_inbox *ib) {
  return ib ? ib->db : NULL;
}
rein__inbox_db *rein__inbox_db_of_tx(const rein_inbox_tx *tx) {
  return tx ? tx->ib->db : NULL;
}
rein_inbox *rein__inbox_of_tx(rein_inbox_tx *tx) {
  return tx->ib;
}
const rein_inbox_config *rein__inbox_cfg(const rein_inbox *ib) {
  return &ib->cfg;
}
char *rein__inbox_errbuf(rein_inbox *ib) {
  return ib->errmsg;
}
