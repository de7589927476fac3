/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox_jetstream.c: the outbox's JetStream deliverer (libnats, blocking).
 *
 * The relay hands over one intent at a time; each attempt is one confirmed
 * publish (js_PublishMsg waits for the stream's publish ack) of the intent's
 * body to the subject in its dest. The derived idempotency key travels
 * twice: as Nats-Msg-Id, so the stream itself drops a repeat published
 * within its duplicate window (a relay that died after the ack and before
 * marking the intent delivered publishes again; the ack then says
 * duplicate), and as the business-key header the consuming adapter reads
 * (Rein-Key by default), so a downstream rein_inbox dedups a repeat that
 * came after the window, too. The stream's duplicate window is looked up
 * once at start-up and exposed, because a relay that retries an intent for
 * longer than that window re-opens the gap the Msg-Id closes.
 *
 * The connection reconnects by itself (bounded wait between attempts, as
 * the broker adapter does), so a restarted server costs the attempts that
 * fall into the outage, classified NOT_SENT or TIMEOUT, and the relay's
 * retry policy covers them.
 */
#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>

#include "inbox_internal.h"

struct rein_outbox_jetstream {
  const rein_allocator *alloc;
  natsConnection *nc;
  jsCtx *js;
  char *url, *key_header, *stream;
  int64_t timeout_ns;
  int64_t dup_window_ns;
  bool msg_id;
  rein_outbox_jetstream_stats stats;
};

void rein_outbox_jetstream_config_default(rein_outbox_jetstream_config *c) {
  memset(c, 0, sizeof *c);
  c->url = "nats://127.0.0.1:4222";
  c->timeout_ns = 2 * REIN_NS_PER_S;
  c->reconnect_wait_ns = 250 * REIN_NS_PER_MS;
  c->key_header = "Rein-Key";
  c->msg_id = true;
}

static char *sdup(const rein_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rein_alloc(a, n);
  return d ? memcpy(d, s, n) : NULL;
}

static bool token_ok(const char *s, size_t max) {
  if (!s || !*s || strlen(s) > max) return false;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == ':' || *s == '*' ||
        *s == '>')
      return false;
  return true;
}

void rein_outbox_jetstream_free(rein_outbox_jetstream *o) {
  if (!o) return;
  if (o->js) jsCtx_Destroy(o->js);
  if (o->nc) natsConnection_Destroy(o->nc);
  rein_free(o->alloc, o->url);
  rein_free(o->alloc, o->key_header);
  rein_free(o->alloc, o->stream);
  rein_free(o->alloc, o);
}

/* The stream named `stream`, else the one capturing `subject`: its name and
 * duplicate window. Not finding one is not an error (the window stays 0:
 * unknown); a server that does not answer is. */
static rein_status lookup_stream(rein_outbox_jetstream *o, const char *stream,
                                 const char *subject, rein_errbuf *e) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = o->timeout_ns / REIN_NS_PER_MS;
  jsErrCode jerr = 0;
  natsStatus s = NATS_OK;
  const char *name = stream;
  jsStreamNamesList *names = NULL;
  if (!name) {
    jo.Stream.Info.SubjectsFilter = subject;
    s = js_StreamNames(&names, o->js, &jo, &jerr);
    jo.Stream.Info.SubjectsFilter = NULL;
    if (s == NATS_NOT_FOUND || (s == NATS_OK && (!names || !names->Count))) {
      jsStreamNamesList_Destroy(names);
      return REIN_OK;
    }
    if (s != NATS_OK) {
      jsStreamNamesList_Destroy(names);
      return rein_errbuf_set(e,
                             s == NATS_TIMEOUT ? REIN_ECLOSED : REIN_EBACKEND,
                             "outbox_jetstream: stream names for %s: %s "
                             "(jetstream error %d)",
                             subject, natsStatus_GetText(s), (int)jerr);
    }
    name = names->List[0];
  }
  jsStreamInfo *si = NULL;
  s = js_GetStreamInfo(&si, o->js, name, &jo, &jerr);
  rein_status st = REIN_OK;
  if (s == NATS_OK && si && si->Config) {
    o->dup_window_ns = si->Config->Duplicates;
    if (!(o->stream = sdup(o->alloc, name))) st = REIN_ENOMEM;
  } else if (stream || (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)) {
    st = rein_errbuf_set(e, s == NATS_TIMEOUT ? REIN_ECLOSED : REIN_EBACKEND,
                         "outbox_jetstream: stream info for %s: %s "
                         "(jetstream error %d)",
                         name, natsStatus_GetText(s), (int)jerr);
  }
  jsStreamInfo_Destroy(si);
  jsStreamNamesList_Destroy(names);
  return st;
}

rein_status rein_outbox_jetstream_new(const rein_outbox_jetstream_config *c,
                                      rein_outbox_jetstream **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *e = c->err;
  if (!c->url || strncmp(c->url, "nats://", 7) != 0 || !c->url[7] ||
      strlen(c->url) > 400)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.url: expected nats://host:port");
  if (c->timeout_ns < REIN_NS_PER_MS || c->timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.timeout_ns: must be in "
                           "[1 ms, 600 s]");
  if (c->reconnect_wait_ns < 10 * REIN_NS_PER_MS ||
      c->reconnect_wait_ns > 60 * REIN_NS_PER_S)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.reconnect_wait_ns: must be in "
                           "[10 ms, 60 s]");
  if (!token_ok(c->key_header, 200))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.key_header: expected 1..200 "
                           "printable characters without spaces or colons");
  if (c->stream && !token_ok(c->stream, 200))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.stream: expected a stream name");
  if (c->subject && !rein__nats_subject_ok(c->subject, true))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "outbox_jetstream.subject: expected a NATS subject");
  rein_outbox_jetstream *o = rein_calloc(c->alloc, sizeof *o);
  if (!o) return REIN_ENOMEM;
  o->alloc = c->alloc;
  o->timeout_ns = c->timeout_ns;
  o->msg_id = c->msg_id;
  o->url = sdup(c->alloc, c->url);
  o->key_header = sdup(c->alloc, c->key_header);
  if (!o->url || !o->key_header) {
    rein_outbox_jetstream_free(o);
    return REIN_ENOMEM;
  }
  natsOptions *no = NULL;
  natsStatus s = natsOptions_Create(&no);
  if (s == NATS_OK) s = natsOptions_SetURL(no, o->url);
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(no, o->timeout_ns / REIN_NS_PER_MS);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(no, c->reconnect_wait_ns / REIN_NS_PER_MS);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(no, INT_MAX);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectJitter(
        no, c->reconnect_wait_ns / 4 / REIN_NS_PER_MS, 0);
  if (s == NATS_OK) s = natsConnection_Connect(&o->nc, no);
  natsOptions_Destroy(no);
  if (s == NATS_OK) s = natsConnection_JetStream(&o->js, o->nc, NULL);
  if (s != NATS_OK) {
    rein_status st = s == NATS_NO_MEMORY ? REIN_ENOMEM : REIN_ECLOSED;
    rein_errbuf_set(e, st, "outbox_jetstream: nats %s: connect: %s", o->url,
                    natsStatus_GetText(s));
    rein_outbox_jetstream_free(o);
    return st;
  }
  if (c->stream || c->subject) {
    rein_status st = lookup_stream(o, c->stream, c->subject, e);
    if (st != REIN_OK) {
      rein_outbox_jetstream_free(o);
      return st;
    }
  }
  *out = o;
  return REIN_OK;
}

int64_t
rein_outbox_jetstream_duplicate_window_ns(const rein_outbox_jetstream *o) {
  return o ? o->dup_window_ns : 0;
}

const char *rein_outbox_jetstream_stream(const rein_outbox_jetstream *o) {
  return o && o->stream ? o->stream : "";
}

void rein_outbox_jetstream_stats_get(const rein_outbox_jetstream *o,
                                     rein_outbox_jetstream_stats *out) {
  if (!out) return;
  if (!o) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = o->stats;
}

/* A JetStream API error on a publish: repeating cannot help for these
 * (FATAL: the intent is marked failed for an operator); any other one
 * (storage failed, insufficient resources, no leader yet) may pass. */
static rein_outcome_kind api_error_kind(jsErrCode jerr) {
  switch ((int)jerr) {
  case JSStreamMessageExceedsMaximumErr:
  case JSStreamSealedErr:
  case JSStreamNotMatchErr:
  case JSStreamWrongLastMsgIDErr:
  case JSStreamWrongLastSequenceErr:
    return REIN_OUTCOME_FATAL;
  default:
    return REIN_OUTCOME_FAILURE;
  }
}

void rein_outbox_jetstream_deliver(void *ctx, const rein_outbox_item *it,
                                   const rein_decision *attempt,
                                   rein_outcome *out, char *err, size_t cap) {
  rein_outbox_jetstream *o = ctx;
  memset(out, 0, sizeof *out);
  out->kind = REIN_OUTCOME_FATAL;
  if (!o || !it || !it->dest || !it->idem_key) {
    snprintf(err, cap, "outbox_jetstream: NULL deliverer or item");
    return;
  }
  if (!rein__nats_subject_ok(it->dest, false)) {
    /* libnats would send it as is: "a b" publishes to "a" with reply "b" */
    snprintf(err, cap,
             "outbox_jetstream: dest '%.200s' is not a NATS subject "
             "(dot-separated tokens, no spaces or wildcards)",
             it->dest);
    o->stats.failures++;
    return;
  }
  natsMsg *m = NULL;
  natsStatus s =
      natsMsg_Create(&m, it->dest, NULL, it->body, (int)it->body_len);
  if (s != NATS_OK) {
    /* an invalid subject is the intent's fault; memory is not */
    out->kind =
        s == NATS_NO_MEMORY ? REIN_OUTCOME_NOT_SENT : REIN_OUTCOME_FATAL;
    snprintf(err, cap, "outbox_jetstream: subject '%.200s': %s", it->dest,
             natsStatus_GetText(s));
    return;
  }
  char att[16];
  snprintf(att, sizeof att, "%u", attempt ? attempt->attempt : 1);
  s = natsMsgHeader_Set(m, o->key_header, it->idem_key);
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Rein-Attempt", att);
  if (s == NATS_OK && it->effect)
    s = natsMsgHeader_Set(m, "Rein-Effect", it->effect);
  if (s != NATS_OK) {
    natsMsg_Destroy(m);
    out->kind = REIN_OUTCOME_NOT_SENT;
    snprintf(err, cap, "outbox_jetstream: headers: %s", natsStatus_GetText(s));
    return;
  }
  int64_t to =
      attempt && attempt->timeout_ns > 0 ? attempt->timeout_ns : o->timeout_ns;
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (o->msg_id) po.MsgId = it->idem_key; /* sets the Nats-Msg-Id header */
  po.MaxWait = (to + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
  jsPubAck *pa = NULL;
  jsErrCode jerr = 0;
  s = js_PublishMsg(&pa, o->js, m, &po, &jerr);
  natsMsg_Destroy(m);
  if (s == NATS_OK) {
    out->kind = REIN_OUTCOME_SUCCESS;
    o->stats.published++;
    if (pa && pa->Duplicate) o->stats.duplicates++;
    jsPubAck_Destroy(pa);
    return;
  }
  jsPubAck_Destroy(pa);
  switch (s) {
  case NATS_TIMEOUT:
    out->kind = REIN_OUTCOME_TIMEOUT; /* it may have been stored */
    o->stats.timeouts++;
    break;
  case NATS_NO_RESPONDERS:
  case NATS_CONNECTION_CLOSED:
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_NO_SERVER:
  case NATS_STALE_CONNECTION:
  case NATS_IO_ERROR:
  case NATS_INSUFFICIENT_BUFFER:
  case NATS_NO_MEMORY:
    out->kind = REIN_OUTCOME_NOT_SENT; /* nothing stored it */
    o->stats.not_sent++;
    break;
  case NATS_MAX_PAYLOAD:
  case NATS_INVALID_SUBJECT:
  case NATS_INVALID_ARG:
    out->kind = REIN_OUTCOME_FATAL;
    o->stats.failures++;
    break;
  default:
    out->kind = jerr ? api_error_kind(jerr) : REIN_OUTCOME_FAILURE;
    o->stats.failures++;
    break;
  }
  const char *last = nats_GetLastError(NULL);
  snprintf(err, cap, "nats %s: publish to %.200s: %s (jetstream error %d)%s%s",
           o->url, it->dest, natsStatus_GetText(s), (int)jerr,
           last && *last ? ": " : "", last ? last : "");
}
