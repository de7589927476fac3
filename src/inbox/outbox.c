/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox.c: intents recorded in the handler's transaction, and the relay
 * that delivers them with the core retry engine.
 *
 * Design. An effect that cannot join the database transaction (an HTTP
 * charge) is written as a row in the same transaction instead, so it exists
 * if and only if the message's effect committed. The relay then delivers it
 * at least once; exactly-once at the receiver comes from the idempotency
 * key, which is a pure function of (secret, message key, effect name): every
 * redelivery, every relay that died after sending, every two relays racing
 * present the same key. The relay leases rows (a lease, not a lock, so a
 * relay that dies releases them by time) and drives each delivery through
 * rein_retry_run, so backoff, budgets, breakers and server delays apply as
 * for any other call. rein_outbox_wait lets a relay sleep between rounds
 * until the database announces a committed intent (PostgreSQL's
 * LISTEN/NOTIFY, in inbox_pg.c) instead of polling; a database that cannot
 * announce just sleeps out the caller's bound.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "inbox_internal.h"

rein_status rein_outbox_key(const void *secret, size_t secret_len,
                            const char *msg_key, const char *effect,
                            char out[REIN_OUTBOX_KEY_LEN + 1]) {
  if (!secret || !secret_len || !msg_key || !effect || !out) return REIN_EINVAL;
  size_t a = strlen(msg_key), b = strlen(effect);
  unsigned char buf[REIN__INBOX_KEY_MAX + 1 + REIN__OUTBOX_EFFECT_MAX];
  if (a > REIN__INBOX_KEY_MAX || b > REIN__OUTBOX_EFFECT_MAX)
    return REIN_EINVAL;
  memcpy(buf, msg_key, a);
  buf[a] = 0;
  memcpy(buf + a + 1, effect, b);
  unsigned char mac[32];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret, (int)secret_len, buf, a + 1 + b, mac, &len) ||
      len != 32)
    return REIN_ENOMEM;
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    out[2 * i] = hex[mac[i] >> 4];
    out[2 * i + 1] = hex[mac[i] & 15];
  }
  out[64] = 0;
  return REIN_OK;
}

rein__outbox_row *rein__outbox_row_new(const rein_allocator *al, int64_t id,
                                       const char *msg_key, const char *effect,
                                       const char *idem_key, const char *dest,
                                       const void *body, size_t body_len,
                                       uint32_t attempts) {
  size_t a = strlen(msg_key) + 1, b = strlen(effect) + 1,
         c = strlen(idem_key) + 1, d = strlen(dest) + 1;
  rein__outbox_row *r =
      rein_alloc(al, sizeof *r + a + b + c + d + body_len + 1);
  if (!r) return NULL;
  char *p = (char *)(r + 1);
  r->item.id = id;
  r->item.attempts = attempts;
  r->item.msg_key = memcpy(p, msg_key, a), p += a;
  r->item.effect = memcpy(p, effect, b), p += b;
  r->item.idem_key = memcpy(p, idem_key, c), p += c;
  r->item.dest = memcpy(p, dest, d), p += d;
  if (body_len) memcpy(p, body, body_len);
  p[body_len] = 0;
  r->item.body = p;
  r->item.body_len = body_len;
  return r;
}

static bool effect_ok(const char *e) {
  size_t n = strlen(e);
  if (n < 1 || n > REIN__OUTBOX_EFFECT_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = e[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
          c == '-'))
      return false;
  }
  return true;
}

rein_status rein_inbox_tx_outbox(rein_inbox_tx *tx, const char *effect,
                                 const char *dest, const void *body,
                                 size_t body_len, char *key_out) {
  if (!tx || !effect || !dest || (!body && body_len)) return REIN_EINVAL;
  rein_inbox *ib = rein__inbox_of_tx(tx);
  const rein_inbox_config *c = rein__inbox_cfg(ib);
  char *eb = rein__inbox_errbuf(ib);
  if (!c->outbox_secret) {
    snprintf(eb, REIN__INBOX_ERR_CAP,
             "inbox.outbox_secret: not set; the outbox needs it to derive "
             "idempotency keys");
    return REIN_EINVAL;
  }
  if (!effect_ok(effect)) {
    snprintf(eb, REIN__INBOX_ERR_CAP,
             "outbox effect: expected 1..64 characters of [A-Za-z0-9._:-], "
             "got '%.80s'",
             effect);
    return REIN_EINVAL;
  }
  if (strlen(dest) > REIN__OUTBOX_DEST_MAX) {
    snprintf(eb, REIN__INBOX_ERR_CAP, "outbox dest: longer than %d bytes",
             REIN__OUTBOX_DEST_MAX);
    return REIN_EINVAL;
  }
  if (body_len > REIN__OUTBOX_BODY_MAX) {
    snprintf(eb, REIN__INBOX_ERR_CAP,
             "outbox body: %zu bytes is over the limit of %d", body_len,
             REIN__OUTBOX_BODY_MAX);
    return REIN_ETOOBIG;
  }
  const rein_broker_msg *m = rein_inbox_tx_msg(tx);
  char key[REIN_OUTBOX_KEY_LEN + 1];
  rein_status st = rein_outbox_key(c->outbox_secret, c->outbox_secret_len,
                                   m->key, effect, key);
  if (st != REIN_OK) return st;
  rein__inbox_db *db = rein__inbox_db_of(ib);
  int64_t now = c->wall.now_ns(c->wall.ctx) / REIN_NS_PER_MS;
  st = db->vt->outbox_add(db, m->key, effect, key, dest, body, body_len, now);
  if (st != REIN_OK) {
    snprintf(eb, REIN__INBOX_ERR_CAP, "%s", db->errmsg);
    return st;
  }
  if (key_out) memcpy(key_out, key, sizeof key);
  return REIN_OK;
}

/* ==== relay ================================================================
 */

typedef struct attempt_ctx {
  rein_outbox_deliver_fn fn;
  void *ctx;
  const rein_outbox_item *it;
  uint32_t calls;
  rein_outcome last;
  char err[256];
} attempt_ctx;

static void one_attempt(void *p, const rein_decision *d, rein_outcome *out) {
  attempt_ctx *a = p;
  memset(out, 0, sizeof *out);
  out->kind = REIN_OUTCOME_FAILURE;
  a->err[0] = 0;
  a->fn(a->ctx, a->it, d, out, a->err, sizeof a->err);
  a->err[sizeof a->err - 1] = 0;
  a->calls++;
  a->last = *out;
}

rein_status rein_outbox_relay(rein_inbox *ib, const rein_policy *policy,
                              rein_outbox_deliver_fn fn, void *ctx,
                              const rein_sleeper *sleeper, size_t max,
                              rein_outbox_stats *stats) {
  if (!ib || !policy || !fn || max == 0 || max > 100000) return REIN_EINVAL;
  const rein_inbox_config *c = rein__inbox_cfg(ib);
  rein__inbox_db *db = rein__inbox_db_of(ib);
  char *eb = rein__inbox_errbuf(ib);
  rein__outbox_row **rows = rein_alloc(c->alloc, max * sizeof *rows);
  if (!rows) return REIN_ENOMEM;
  int64_t now = c->wall.now_ns(c->wall.ctx) / REIN_NS_PER_MS;
  size_t n = 0;
  rein_status st = db->vt->outbox_lease(
      db, now, now + c->outbox_lease_ns / REIN_NS_PER_MS, max, rows, &n);
  if (st != REIN_OK) {
    snprintf(eb, REIN__INBOX_ERR_CAP, "%s", db->errmsg);
    rein_free(c->alloc, rows);
    return st;
  }
  size_t i = 0;
  for (; i < n; i++) {
    attempt_ctx a = {fn, ctx, &rows[i]->item, 0, {0}, {0}};
    rein_call_opts opts = {0};
    opts.has_key = true;
    rein_result res;
    rein_status rs =
        rein_retry_run(policy, &opts, one_attempt, &a, sleeper, &res);
    if (stats) stats->attempts += a.calls;
    int64_t end_ms = c->wall.now_ns(c->wall.ctx) / REIN_NS_PER_MS;
    rein__outbox_end how;
    const char *why = NULL;
    char buf[400];
    if (rs == REIN_OK) {
      if (c->hooks.after_deliver)
        c->hooks.after_deliver(c->hooks.ctx, rows[i]->item.id);
      how = REIN__OUTBOX_DELIVERED;
    } else {
      snprintf(buf, sizeof buf, "%s after %u attempt%s (%s)%s%s",
               rein_giveup_name(res.reason), a.calls, a.calls == 1 ? "" : "s",
               rein_outcome_kind_name(a.last.kind), a.err[0] ? ": " : "",
               a.err);
      why = buf;
      how = a.calls && a.last.kind == REIN_OUTCOME_FATAL ? REIN__OUTBOX_FAILED
                                                         : REIN__OUTBOX_RELEASE;
    }
    st = db->vt->outbox_end(db, rows[i]->item.id, how, a.calls, why, end_ms);
    if (st != REIN_OK) {
      snprintf(eb, REIN__INBOX_ERR_CAP, "%s", db->errmsg);
      break;
    }
    if (stats) {
      if (how == REIN__OUTBOX_DELIVERED)
        stats->delivered++;
      else if (how == REIN__OUTBOX_FAILED)
        stats->failed++;
      else
        stats->retry++;
    }
  }
  for (size_t j = 0; j < n; j++)
    rein_free(c->alloc, rows[j]);
  rein_free(c->alloc, rows);
  return st;
}

/* ==== waiting for intents ================================================= */

#define WAIT_MAX_NS (3600 * REIN_NS_PER_S)

/* SQLite and any database that cannot announce: sleep out max_wait_ns on
 * the inbox's clock (bounded: a clock that stands still ends the loop
 * after 64 sleeps). */
static void sleep_out(const rein_clock *clk, int64_t max_wait_ns) {
  int64_t end = clk->now_ns(clk->ctx) + max_wait_ns;
  for (int i = 0; i < 64; i++) {
    int64_t left = end - clk->now_ns(clk->ctx);
    if (left <= 0) return;
    struct timespec ts = {(time_t)(left / REIN_NS_PER_S),
                          (long)(left % REIN_NS_PER_S)};
    nanosleep(&ts, NULL);
  }
}

/*
 * The order of the decision: a notification drained in this call wins
 * (NOTIFY), then a LISTEN made in this call (LISTEN: the caller must look
 * for what was committed before it); without a listener connect once per
 * call while time is left; with one that is not listening, LISTEN; then
 * the deadline (TIMEOUT); else block for the time left, on the socket or,
 * without a listener, in a plain sleep.
 */
rein__outbox_wait_step
rein__outbox_wait_decide(const rein__outbox_wait_state *s, int64_t *block_ns,
                         rein_outbox_wake *why) {
  *block_ns = 0;
  if (s->notified) {
    *why = REIN_OUTBOX_WAKE_NOTIFY;
    return REIN__WAIT_RETURN;
  }
  if (s->listened) {
    *why = REIN_OUTBOX_WAKE_LISTEN;
    return REIN__WAIT_RETURN;
  }
  if (!s->have_conn && !s->tried && s->left_ns > 0) return REIN__WAIT_CONNECT;
  if (s->have_conn && !s->listening) return REIN__WAIT_LISTEN;
  if (s->left_ns <= 0) {
    *why = REIN_OUTBOX_WAKE_TIMEOUT;
    return REIN__WAIT_RETURN;
  }
  *block_ns = s->left_ns;
  return s->have_conn ? REIN__WAIT_POLL : REIN__WAIT_SLEEP;
}

rein_status rein_outbox_wait(rein_inbox *ib, int64_t max_wait_ns,
                             rein_outbox_wake *why) {
  if (!ib || !why || max_wait_ns < 0 || max_wait_ns > WAIT_MAX_NS)
    return REIN_EINVAL;
  *why = REIN_OUTBOX_WAKE_TIMEOUT;
  const rein_inbox_config *c = rein__inbox_cfg(ib);
  rein__inbox_db *db = rein__inbox_db_of(ib);
  if (!db->vt->outbox_wait) {
    sleep_out(&c->clock, max_wait_ns);
    return REIN_OK;
  }
  rein_status st = db->vt->outbox_wait(db, max_wait_ns, &c->clock, why);
  if (st != REIN_OK)
    snprintf(rein__inbox_errbuf(ib), REIN__INBOX_ERR_CAP, "%s", db->errmsg);
  return st;
}

const char *rein_outbox_channel(const rein_inbox *ib) {
  rein__inbox_db *db = rein__inbox_db_of(ib);
  if (!db || !db->vt->outbox_channel) return "";
  const char *s = db->vt->outbox_channel(db);
  return s ? s : "";
}

const char *rein_outbox_wake_name(rein_outbox_wake w) {
  switch (w) {
  case REIN_OUTBOX_WAKE_TIMEOUT:
    return "timeout";
  case REIN_OUTBOX_WAKE_NOTIFY:
    return "notify";
  case REIN_OUTBOX_WAKE_LISTEN:
    return "listen";
  }
  return "unknown";
}
