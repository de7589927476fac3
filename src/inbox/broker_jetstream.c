/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker_jetstream.c: the NATS JetStream broker adapter (libnats, blocking).
 *
 * One adapter is one pull subscription bound to a durable consumer with
 * explicit acks; every process of a consumer group binds the same durable
 * name. JetStream keeps the delivery count per message and hands a message
 * that was not acknowledged within ack_wait out again through the next
 * fetch, to whichever member pulls first. So there is no takeover step:
 * claim_stale answers an empty batch, and redeliveries arrive through read
 * with num_delivered > 1, which is the count the inbox's poison handling
 * reads (rein_broker_msg.deliveries).
 *
 * Acks are AckSync: the server's confirmation is what lets the inbox say a
 * message is done. Dead-lettering cannot be one transaction in JetStream;
 * it is a confirmed publish to the dead-letter subject (with a Nats-Msg-Id
 * derived from the origin, so the repeat after a crash between publish and
 * ack is dropped by the dead stream's duplicate window) followed by the
 * confirmed ack.
 *
 * The batch (the fetched natsMsgLists, and messages pointing into them) lives
 * in the adapter until the next read or claim. Message timestamps bound the
 * redelivery window as entry IDs do for Redis: a redelivery older than the
 * window is parked as expired, never handed to the inbox.
 */
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inbox_internal.h"

typedef struct jmsg {
  char id[24]; /* the stream sequence, decimal */
  uint64_t seq;
} jmsg;

typedef struct jb {
  rein_broker base;
  const rein_allocator *alloc;
  natsConnection *nc;
  jsCtx *js;
  natsSubscription *sub;
  char *url, *stream, *subject, *durable, *dead_subject, *dead_stream,
      *key_header;
  int64_t timeout_ns, ack_wait_ns, max_deliver, window_ns, reconnect_wait_ns;
  rein_clock wall;
  natsMsg **own; /* the current batch's natsMsgs (owned; cap of them) */
  size_t nown;
  size_t n;          /* messages in msgs */
  natsMsg **natives; /* natives[i] is msgs[i]'s natsMsg */
  rein_broker_msg *msgs;
  jmsg *ids;
  size_t cap;
  char errmsg[512];
} jb;

static int64_t timeout_ms(const jb *b) {
  return b->timeout_ns / REIN_NS_PER_MS;
}

/* Records a libnats failure in errmsg and maps it: a server that is gone or
 * did not answer is ECLOSED, anything it said is EBACKEND. */
static rein_status fail(jb *b, const char *op, natsStatus s, jsErrCode jerr) {
  const char *last = nats_GetLastError(NULL);
  int n = snprintf(b->errmsg, sizeof b->errmsg, "nats %s: %s: %s", b->url, op,
                   natsStatus_GetText(s));
  if (n > 0 && (size_t)n < sizeof b->errmsg && jerr)
    n += snprintf(b->errmsg + n, sizeof b->errmsg - (size_t)n,
                  " (jetstream error %d)", (int)jerr);
  if (n > 0 && (size_t)n < sizeof b->errmsg && last && *last &&
      strcmp(last, natsStatus_GetText(s)) != 0)
    snprintf(b->errmsg + n, sizeof b->errmsg - (size_t)n, ": %s", last);
  switch (s) {
  case NATS_NO_MEMORY:
    return REIN_ENOMEM;
  case NATS_CONNECTION_CLOSED:
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_NO_SERVER:
  case NATS_STALE_CONNECTION:
  case NATS_TIMEOUT:
  case NATS_NO_RESPONDERS:
  case NATS_IO_ERROR:
  case NATS_SYS_ERROR:
  case NATS_CONNECTION_AUTH_FAILED:
    return REIN_ECLOSED;
  default:
    return REIN_EBACKEND;
  }
}

static void release_batch(jb *b) {
  for (size_t i = 0; i < b->nown; i++)
    natsMsg_Destroy(b->own[i]);
  b->nown = 0;
  b->n = 0;
}

static rein_status dead_letter_raw(jb *b, const rein_broker_msg *m,
                                   natsMsg *native, const char *error);

static rein_status ensure_cap(jb *b, size_t n) {
  if (n <= b->cap) return REIN_OK;
  rein_broker_msg *nm = rein_alloc(b->alloc, n * sizeof *nm);
  jmsg *ni = rein_alloc(b->alloc, n * sizeof *ni);
  natsMsg **nn = rein_alloc(b->alloc, n * sizeof *nn);
  natsMsg **no = rein_alloc(b->alloc, n * sizeof *no);
  if (!nm || !ni || !nn || !no) {
    rein_free(b->alloc, nm);
    rein_free(b->alloc, ni);
    rein_free(b->alloc, nn);
    rein_free(b->alloc, no);
    return REIN_ENOMEM;
  }
  if (b->nown) memcpy(no, b->own, b->nown * sizeof *no);
  rein_free(b->alloc, b->msgs);
  rein_free(b->alloc, b->ids);
  rein_free(b->alloc, b->natives);
  rein_free(b->alloc, b->own);
  b->msgs = nm;
  b->ids = ni;
  b->natives = nn;
  b->own = no;
  b->cap = n;
  return REIN_OK;
}

static int64_t wall_ms(const jb *b) {
  return (b->wall.now_ns ? b->wall.now_ns(b->wall.ctx) : rein_clock_wall_ns()) /
         REIN_NS_PER_MS;
}

/*
 * Turns the fetched list into b->msgs. A message without JetStream
 * metadata (not from this consumer: cannot be acked) is skipped; a
 * redelivery past the window is dead-lettered as expired.
 */
static rein_status build(jb *b, rein_broker_batch *out) {
  size_t n = b->nown;
  rein_status st = REIN_OK;
  int64_t now = wall_ms(b);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    natsMsg *nm = b->own[i];
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, nm) != NATS_OK || !meta) continue;
    rein_broker_msg *m = &b->msgs[k];
    memset(m, 0, sizeof *m);
    b->ids[k].seq = meta->Sequence.Stream;
    snprintf(b->ids[k].id, sizeof b->ids[k].id, "%" PRIu64,
             meta->Sequence.Stream);
    m->id = b->ids[k].id;
    m->deliveries =
        meta->NumDelivered > UINT32_MAX
            ? UINT32_MAX
            : (uint32_t)(meta->NumDelivered ? meta->NumDelivered : 1);
    m->enqueued_unix_ms =
        meta->Timestamp > 0 ? meta->Timestamp / REIN_NS_PER_MS : -1;
    jsMsgMetaData_Destroy(meta);
    const char *key = NULL;
    if (natsMsgHeader_Get(nm, b->key_header, &key) == NATS_OK) m->key = key;
    const char *data = natsMsg_GetData(nm);
    m->body = data ? data : ""; /* libnats NUL-terminates payloads */
    m->body_len = data ? (size_t)natsMsg_GetDataLength(nm) : 0;
    b->natives[k] = nm;
    if (m->deliveries > 1 && m->enqueued_unix_ms >= 0 &&
        b->window_ns < INT64_MAX &&
        now - m->enqueued_unix_ms > b->window_ns / REIN_NS_PER_MS) {
      char why[160];
      snprintf(why, sizeof why,
               "expired: redelivered %" PRId64 " s after it was enqueued, "
               "past the redelivery window of %" PRId64 " s",
               (now - m->enqueued_unix_ms) / 1000,
               b->window_ns / REIN_NS_PER_S);
      st = dead_letter_raw(b, m, nm, why);
      if (st != REIN_OK) return st;
      continue;
    }
    k++;
  }
  b->n = k;
  out->msgs = b->msgs;
  out->n = k;
  return REIN_OK;
}

/*
 * A read is natsSubscription_Fetch: libnats first asks for what is there
 * without waiting, and only when that is nothing sends a request that
 * waits up to block_ms, so a read returns as soon as it has messages
 * rather than waiting out block_ms for a full batch (which, with block_ms
 * above ack_wait, would let messages time out before they are handed
 * out). block_ms 0 waits 1 ms for that second request; what the server
 * sends after that is queued in the subscription and comes with the next
 * read (not lost; its ack_wait runs). The server's late "no messages"
 * answer to such a short request can also end the next read early, with
 * an empty batch, which the vtable allows. A timeout with nothing is an
 * empty batch, not an error.
 */
/* Moves a fetched list's messages into b->own (room for them is made
 * first) and frees the list's array; on ENOMEM the list is destroyed. */
static rein_status take(jb *b, natsMsgList *l) {
  size_t c = l->Count > 0 ? (size_t)l->Count : 0;
  if (ensure_cap(b, b->nown + c) != REIN_OK) {
    natsMsgList_Destroy(l);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < c; i++) {
    b->own[b->nown++] = l->Msgs[i];
    l->Msgs[i] = NULL;
  }
  natsMsgList_Destroy(l); /* the array only: its entries are NULL now */
  return REIN_OK;
}

static rein_status jb_read(rein_broker *base, size_t max, int64_t block_ms,
                           rein_broker_batch *out) {
  jb *b = (jb *)base;
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000 || block_ms < 0) return REIN_EINVAL;
  release_batch(b);
  jsErrCode jerr = 0;
  natsStatus s = NATS_OK;
  /* libnats 3.4.1 (Debian 12's) writes past the array of a
   * natsSubscription_Fetch of N when more than N/2 messages are already
   * queued in the subscription and more arrive (its loop compares the
   * count with N minus the queued ones: nats.c #749, fixed in 3.10).
   * Messages queue there when the server answers a pull after it timed
   * out, which a 1 ms read makes common. So queued messages are taken
   * with Fetch(1), which finds its one message queued and sends no
   * request; a pull of `max` goes out only when nothing is queued (a
   * message that arrives in the instant between the check and the pull
   * is the one case left). */
  while (b->nown < max) {
    int queued = 0;
    if (natsSubscription_GetPending(b->sub, &queued, NULL) != NATS_OK ||
        queued <= 0)
      break;
    natsMsgList one = {0};
    s = natsSubscription_Fetch(&one, b->sub, 1, 1, &jerr);
    if (s != NATS_OK || one.Count != 1) {
      natsMsgList_Destroy(&one);
      s = NATS_OK; /* only status messages were queued */
      break;
    }
    if (take(b, &one) != REIN_OK) {
      release_batch(b);
      snprintf(b->errmsg, sizeof b->errmsg, "nats: out of memory");
      return REIN_ENOMEM;
    }
  }
  if (b->nown == 0) {
    natsMsgList l = {0};
    s = natsSubscription_Fetch(&l, b->sub, (int)max,
                               block_ms > 0 ? block_ms : 1, &jerr);
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) s = NATS_OK;
    if (s != NATS_OK) {
      natsMsgList_Destroy(&l);
      return fail(b, "fetch", s, jerr);
    }
    if (take(b, &l) != REIN_OK) {
      snprintf(b->errmsg, sizeof b->errmsg, "nats: out of memory");
      return REIN_ENOMEM;
    }
  }
  return build(b, out);
}

/* JetStream redelivers through fetch after ack_wait: nothing to take over. */
static rein_status jb_claim(rein_broker *base, size_t max,
                            rein_broker_batch *out) {
  out->msgs = NULL;
  out->n = 0;
  if (max == 0 || max > 100000) return REIN_EINVAL;
  return REIN_OK;
}

/* The natsMsg behind m: by position in the current batch, else by id. */
static natsMsg *native_of(jb *b, const rein_broker_msg *m) {
  size_t n = b->n;
  if (b->msgs && m >= b->msgs && m < b->msgs + n) {
    size_t i = (size_t)(m - b->msgs);
    if (b->natives[i] && m->id == b->ids[i].id) return b->natives[i];
  }
  for (size_t i = 0; i < n && m->id; i++)
    if (b->msgs[i].id && strcmp(b->msgs[i].id, m->id) == 0)
      return b->natives[i];
  return NULL;
}

static rein_status ack_native(jb *b, natsMsg *nm) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms(b);
  jsErrCode jerr = 0;
  natsStatus s = natsMsg_AckSync(nm, &jo, &jerr);
  return s == NATS_OK ? REIN_OK : fail(b, "ack", s, jerr);
}

static rein_status jb_ack(rein_broker *base, const rein_broker_msg *m) {
  jb *b = (jb *)base;
  natsMsg *nm = native_of(b, m);
  if (!nm) {
    snprintf(b->errmsg, sizeof b->errmsg,
             "jetstream: ack: message %s is not in the current batch "
             "(acks must come before the next read)",
             m->id ? m->id : "(no id)");
    return REIN_EINVAL;
  }
  return ack_native(b, nm);
}

/* A batch's acks: each sent without waiting (natsMsg_Ack), then one
 * flush, whose PONG says the server has read every one of them: one round
 * trip for the batch instead of one per message. Weaker than AckSync only
 * in that the consumer's own answer is not awaited; an ack the server
 * then loses comes back as a redelivery, which the inbox skips. */
static rein_status jb_ack_many(rein_broker *base,
                               const rein_broker_msg *const *msgs, size_t n) {
  jb *b = (jb *)base;
  for (size_t i = 0; i < n; i++) {
    natsMsg *nm = native_of(b, msgs[i]);
    if (!nm) {
      snprintf(b->errmsg, sizeof b->errmsg,
               "jetstream: ack: message %s is not in the current batch "
               "(acks must come before the next read)",
               msgs[i]->id ? msgs[i]->id : "(no id)");
      return REIN_EINVAL;
    }
    natsStatus s = natsMsg_Ack(nm, NULL);
    if (s != NATS_OK) return fail(b, "ack", s, 0);
  }
  natsStatus s = natsConnection_FlushTimeout(b->nc, timeout_ms(b));
  return s == NATS_OK ? REIN_OK : fail(b, "ack (flush)", s, 0);
}

/* Header values are one line: CR and LF become spaces. */
static void one_line(char *dst, size_t cap, const char *src) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < cap; i++)
    dst[i] = src[i] == '\r' || src[i] == '\n' ? ' ' : src[i];
  dst[i] = 0;
}

static rein_status dead_letter_raw(jb *b, const rein_broker_msg *m,
                                   natsMsg *native, const char *error) {
  natsMsg *dm = NULL;
  natsStatus s =
      natsMsg_Create(&dm, b->dead_subject, NULL, m->body, (int)m->body_len);
  if (s != NATS_OK) return fail(b, "dead-letter", s, 0);
  char err[400], deliv[16], msgid[280];
  one_line(err, sizeof err, error);
  snprintf(deliv, sizeof deliv, "%u", m->deliveries);
  snprintf(msgid, sizeof msgid, "%s:%s", b->stream, m->id);
  if (m->key) s = natsMsgHeader_Set(dm, "Rein-Key", m->key);
  if (s == NATS_OK) s = natsMsgHeader_Set(dm, "Rein-Error", err);
  if (s == NATS_OK) s = natsMsgHeader_Set(dm, "Rein-Deliveries", deliv);
  if (s == NATS_OK) s = natsMsgHeader_Set(dm, "Rein-Origin-Stream", b->stream);
  if (s == NATS_OK) s = natsMsgHeader_Set(dm, "Rein-Origin-Seq", m->id);
  if (s != NATS_OK) {
    natsMsg_Destroy(dm);
    return fail(b, "dead-letter headers", s, 0);
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = msgid;
  po.MaxWait = timeout_ms(b);
  jsErrCode jerr = 0;
  jsPubAck *pa = NULL;
  s = js_PublishMsg(&pa, b->js, dm, &po, &jerr);
  natsMsg_Destroy(dm);
  jsPubAck_Destroy(pa);
  if (s != NATS_OK) return fail(b, "dead-letter publish", s, jerr);
  return ack_native(b, native);
}

static rein_status jb_dead_letter(rein_broker *base, const rein_broker_msg *m,
                                  const char *error) {
  jb *b = (jb *)base;
  natsMsg *nm = native_of(b, m);
  if (!nm) {
    snprintf(b->errmsg, sizeof b->errmsg,
             "jetstream: dead-letter: message %s is not in the current "
             "batch",
             m->id ? m->id : "(no id)");
    return REIN_EINVAL;
  }
  return dead_letter_raw(b, m, nm, error);
}

static int64_t jb_window(const rein_broker *base) {
  return ((const jb *)base)->window_ns;
}

static const char *jb_errmsg(const rein_broker *base) {
  return ((const jb *)base)->errmsg;
}

static void jb_free(rein_broker *base) {
  jb *b = (jb *)base;
  release_batch(b);
  if (b->sub) natsSubscription_Destroy(b->sub);
  if (b->js) jsCtx_Destroy(b->js);
  if (b->nc) natsConnection_Destroy(b->nc);
  char *strs[] = {b->url,          b->stream,      b->subject,   b->durable,
                  b->dead_subject, b->dead_stream, b->key_header};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    rein_free(b->alloc, strs[i]);
  rein_free(b->alloc, b->msgs);
  rein_free(b->alloc, b->ids);
  rein_free(b->alloc, b->natives);
  rein_free(b->alloc, b->own);
  rein_free(b->alloc, b);
}

static const rein_broker_vtable JB_VT = {REIN_BROKER_VTABLE_VERSION,
                                         "nats-jetstream",
                                         jb_read,
                                         jb_claim,
                                         jb_ack,
                                         jb_dead_letter,
                                         jb_window,
                                         jb_errmsg,
                                         jb_free,
                                         jb_ack_many};

/* ==== start-up ============================================================ */

void rein_broker_jetstream_config_default(rein_broker_jetstream_config *c) {
  memset(c, 0, sizeof *c);
  c->url = "nats://127.0.0.1:4222";
  c->timeout_ns = 2 * REIN_NS_PER_S;
  c->key_header = "Rein-Key";
  c->ack_wait_ns = 30 * REIN_NS_PER_S;
  c->max_deliver = -1;
  c->redelivery_window_ns = 7 * 86400 * REIN_NS_PER_S;
  c->reconnect_wait_ns = 250 * REIN_NS_PER_MS;
}

static char *sdup(const rein_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rein_alloc(a, n);
  return d ? memcpy(d, s, n) : NULL;
}

/* Stream, consumer and header names: printable, no spaces, no wildcards
 * or dots (JetStream refuses them in names). */
static bool name_ok(const char *s, bool dots) {
  if (!s || !*s || strlen(s) > 200) return false;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '*' || *s == '>' ||
        (!dots && (*s == '.' || *s == ':')))
      return false;
  return true;
}

/* A subject: dot-separated tokens; wildcards allowed where `wild`
 * (inbox_internal.h: the outbox deliverer checks its dest with it). */
bool rein__nats_subject_ok(const char *s, bool wild) {
  if (!s || !*s || strlen(s) > 200 || *s == '.' || s[strlen(s) - 1] == '.' ||
      strstr(s, ".."))
    return false;
  for (const char *p = s; *p; p++) {
    if ((unsigned char)*p <= 0x20 || *p == 0x7f) return false;
    if (!wild && (*p == '*' || *p == '>')) return false;
  }
  return true;
}

/* The stream `name` capturing `subject`, created when missing. */
static rein_status ensure_stream(jb *b, const char *name, const char *subject) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms(b);
  jsErrCode jerr = 0;
  jsStreamInfo *si = NULL;
  natsStatus s = js_GetStreamInfo(&si, b->js, name, &jo, &jerr);
  jsStreamInfo_Destroy(si);
  if (s == NATS_OK) return REIN_OK;
  if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
    return fail(b, "stream info", s, jerr);
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = name;
  const char *subjects[1] = {subject};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  jerr = 0;
  si = NULL;
  s = js_AddStream(&si, b->js, &sc, &jo, &jerr);
  jsStreamInfo_Destroy(si);
  /* another process may have created it in between */
  if (s == NATS_OK || jerr == JSStreamNameExistErr) return REIN_OK;
  return fail(b, "add stream", s, jerr);
}

static rein_status ensure_consumer(jb *b) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms(b);
  jsErrCode jerr = 0;
  jsConsumerInfo *ci = NULL;
  natsStatus s =
      js_GetConsumerInfo(&ci, b->js, b->stream, b->durable, &jo, &jerr);
  if (s == NATS_OK) {
    /* an existing consumer is used as it is, but without explicit acks
     * the inbox's ack-after-commit means nothing: refuse it */
    bool explicit_ack = ci->Config && ci->Config->AckPolicy == js_AckExplicit;
    jsConsumerInfo_Destroy(ci);
    if (explicit_ack) return REIN_OK;
    snprintf(b->errmsg, sizeof b->errmsg,
             "jetstream: consumer %s on stream %s exists without explicit "
             "acks (AckPolicy must be explicit)",
             b->durable, b->stream);
    return REIN_EBACKEND;
  }
  jsConsumerInfo_Destroy(ci);
  if (s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr)
    return fail(b, "consumer info", s, jerr);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = b->durable;
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = b->ack_wait_ns;
  cc.MaxDeliver = b->max_deliver;
  cc.FilterSubject = b->subject;
  jerr = 0;
  ci = NULL;
  s = js_AddConsumer(&ci, b->js, b->stream, &cc, &jo, &jerr);
  jsConsumerInfo_Destroy(ci);
  /* the same config from a racing process is accepted by the server */
  if (s == NATS_OK) return REIN_OK;
  return fail(b, "add consumer", s, jerr);
}

static rein_status connect_all(jb *b) {
  natsOptions *o = NULL;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, b->url);
  if (s == NATS_OK) s = natsOptions_SetTimeout(o, timeout_ms(b));
  /* a lost connection is retried for ever, every reconnect_wait (+ up to a
   * quarter in jitter): libnats' default (60 attempts 2 s apart) gives up
   * after 2 minutes and waits 2 s after a quick restart; calls in between
   * fail within their own timeouts, so none blocks on the outage */
  int64_t rw_ms = b->reconnect_wait_ns / REIN_NS_PER_MS;
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, rw_ms);
  if (s == NATS_OK) s = natsOptions_SetReconnectJitter(o, rw_ms / 4, 0);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, INT_MAX);
  if (s == NATS_OK) s = natsConnection_Connect(&b->nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) return fail(b, "connect", s, 0);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms(b);
  s = natsConnection_JetStream(&b->js, b->nc, &jo);
  if (s != NATS_OK) return fail(b, "jetstream context", s, 0);
  rein_status st = ensure_stream(b, b->stream, b->subject);
  if (st == REIN_OK) st = ensure_stream(b, b->dead_stream, b->dead_subject);
  if (st == REIN_OK) st = ensure_consumer(b);
  if (st != REIN_OK) return st;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = b->stream;
  so.Consumer = b->durable; /* bind: never create a second consumer */
  jsErrCode jerr = 0;
  s = js_PullSubscribe(&b->sub, b->js, b->subject, b->durable, &jo, &so, &jerr);
  if (s != NATS_OK) return fail(b, "pull subscribe", s, jerr);
  return REIN_OK;
}

rein_status rein_broker_jetstream_new(const rein_broker_jetstream_config *c,
                                      rein_broker **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *e = c->err;
  static const char *const what =
      ": expected 1..200 printable characters without spaces, dots, "
      "colons or wildcards";
  if (!c->url || strncmp(c->url, "nats://", 7) != 0 || !c->url[7] ||
      strlen(c->url) > 400)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.url: expected "
                           "nats://host:port");
  if (!name_ok(c->stream, false))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_jetstream.stream%s", what);
  if (!rein__nats_subject_ok(c->subject, true))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.subject: expected a NATS "
                           "subject such as \"orders.>\"");
  if (!name_ok(c->durable, false))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_jetstream.durable%s", what);
  if (c->dead_subject && !rein__nats_subject_ok(c->dead_subject, false))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.dead_subject: expected a NATS "
                           "subject without wildcards");
  if (c->dead_stream &&
      (!name_ok(c->dead_stream, false) || !strcmp(c->dead_stream, c->stream)))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.dead_stream%s, different from "
                           "stream",
                           what);
  if (!name_ok(c->key_header, false))
    return rein_errbuf_set(e, REIN_EINVAL, "broker_jetstream.key_header%s",
                           what);
  if (c->timeout_ns < REIN_NS_PER_MS || c->timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.timeout_ns: must be in "
                           "[1 ms, 600 s]");
  if (c->ack_wait_ns < 100 * REIN_NS_PER_MS ||
      c->ack_wait_ns > 86400 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.ack_wait_ns: must be in "
                           "[100 ms, 1 day]");
  if (c->max_deliver == 0 || c->max_deliver < -1)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.max_deliver: -1 (unlimited) "
                           "or at least 1, got %" PRId64,
                           c->max_deliver);
  if (c->redelivery_window_ns < REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.redelivery_window_ns: must be "
                           "at least 1 s");
  if (c->reconnect_wait_ns < 10 * REIN_NS_PER_MS ||
      c->reconnect_wait_ns > 60 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "broker_jetstream.reconnect_wait_ns: must be in "
                           "[10 ms, 60 s]");
  jb *b = rein_calloc(c->alloc, sizeof *b);
  if (!b) return REIN_ENOMEM;
  b->base.vt = &JB_VT;
  b->alloc = c->alloc;
  b->timeout_ns = c->timeout_ns;
  b->ack_wait_ns = c->ack_wait_ns;
  b->max_deliver = c->max_deliver;
  b->window_ns = c->redelivery_window_ns;
  b->reconnect_wait_ns = c->reconnect_wait_ns;
  b->wall = c->wall;
  b->url = sdup(c->alloc, c->url);
  b->stream = sdup(c->alloc, c->stream);
  b->subject = sdup(c->alloc, c->subject);
  b->durable = sdup(c->alloc, c->durable);
  b->key_header = sdup(c->alloc, c->key_header);
  if (c->dead_subject) {
    b->dead_subject = sdup(c->alloc, c->dead_subject);
  } else if ((b->dead_subject = rein_alloc(c->alloc, strlen(c->stream) + 11))) {
    sprintf(b->dead_subject, "rein.dead.%s", c->stream);
  }
  if (c->dead_stream) {
    b->dead_stream = sdup(c->alloc, c->dead_stream);
  } else if ((b->dead_stream = rein_alloc(c->alloc, strlen(c->stream) + 6))) {
    sprintf(b->dead_stream, "%s_dead", c->stream);
  }
  if (!b->url || !b->stream || !b->subject || !b->durable || !b->key_header ||
      !b->dead_subject || !b->dead_stream) {
    jb_free(&b->base);
    return REIN_ENOMEM;
  }
  rein_status st = connect_all(b);
  if (st != REIN_OK) {
    if (e)
      snprintf(e->msg, sizeof e->msg, "broker_jetstream: %.450s", b->errmsg);
    jb_free(&b->base);
    return st;
  }
  *out = &b->base;
  return REIN_OK;
}
