/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mem.c: the in-memory idempotency store.
 *
 * For single-process services and tests. One mutex guards a chained hash
 * table keyed by the record id (already a SHA-256, so its first bytes are
 * the hash). A single lock is enough here: every operation is a lookup plus
 * a few stores, far shorter than the request it protects, and it makes the
 * 64-thread race trivially exact. Time comes from the config clock, so tests
 * expire leases and retention by moving a manual clock.
 */
#include "idem_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct mrec {
  struct mrec *next;
  uint8_t id[32], fp[32];
  int state;
  uint64_t fence, nonce;
  int64_t created, expires, lease_until;
  char phase[REIN_IDEM_PHASE_MAX + 1];
  int status;
  char *data; /* headers then body */
  size_t hl, bl;
} mrec;

typedef struct mem {
  pthread_mutex_t lock;
  mrec **buckets;
  size_t nbuckets; /* power of two */
  size_t count;
} mem;

static size_t bucket_of(const mem *m, const uint8_t id[32]) {
  uint64_t h;
  memcpy(&h, id, sizeof h);
  return (size_t)(h & (m->nbuckets - 1));
}

static mrec *find(mem *m, const uint8_t id[32]) {
  for (mrec *r = m->buckets[bucket_of(m, id)]; r; r = r->next)
    if (memcmp(r->id, id, 32) == 0) return r;
  return NULL;
}

/* Doubles the table when it is crowded; failing to grow only makes chains
 * longer, so an allocation failure here is ignored. */
static void maybe_grow(rein_idem_store *s, mem *m) {
  if (m->count < 2 * m->nbuckets || m->nbuckets >= ((size_t)1 << 26)) return;
  size_t nb = m->nbuckets * 2;
  mrec **b = rein_calloc(s->alloc, nb * sizeof *b);
  if (!b) return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    mrec *r = m->buckets[i];
    while (r) {
      mrec *next = r->next;
      uint64_t h;
      memcpy(&h, r->id, sizeof h);
      size_t j = (size_t)(h & (nb - 1));
      r->next = b[j];
      b[j] = r;
      r = next;
    }
  }
  rein_free(s->alloc, m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
}

static void drop_data(rein_idem_store *s, mrec *r) {
  rein_free(s->alloc, r->data);
  r->data = NULL;
  r->hl = r->bl = 0;
  r->status = 0;
}

static void claim(rein_idem_store *s, mrec *r, const rein__idem_begin_args *a,
                  bool fresh, bool keep_phase) {
  r->fence += 1;
  r->nonce = a->nonce;
  r->state = REIN__IDEM_LEASED;
  r->lease_until = a->now + a->lease_ns;
  memcpy(r->fp, a->fp, 32);
  if (fresh) {
    r->created = a->now;
    r->expires = a->now + a->retention_ns;
  }
  if (!keep_phase) r->phase[0] = '\0';
  drop_data(s, r);
}

static rein_status mem_begin(rein_idem_store *s, const rein__idem_begin_args *a,
                             rein_idem_result *out) {
  mem *m = s->impl;
  int64_t now = a->now;
  rein_status st = REIN_OK;
  pthread_mutex_lock(&m->lock);
  mrec *r = find(m, a->id);
  rein__idem_view v;
  if (r) {
    v.fp = r->fp;
    v.state = r->state;
    v.expires = r->expires;
    v.lease_until = r->lease_until;
  }
  switch (rein__idem_decide(r ? &v : NULL, a->fp, now)) {
  case REIN__IDEM_ACT_FRESH:
    if (!r) {
      r = rein_calloc(s->alloc, sizeof *r);
      if (!r) {
        st = rein__idem_fail(s, REIN_ENOMEM,
                             "idem: out of memory for a new record");
        break;
      }
      memcpy(r->id, a->id, 32);
      size_t b = bucket_of(m, a->id);
      r->next = m->buckets[b];
      m->buckets[b] = r;
      m->count++;
      maybe_grow(s, m);
    }
    claim(s, r, a, true, false);
    rein__idem_set_new(out, r->id, r->fence, r->nonce, false, NULL, 0,
                       r->expires - now);
    break;
  case REIN__IDEM_ACT_RECOVER:
    claim(s, r, a, false, true);
    rein__idem_set_new(out, r->id, r->fence, r->nonce, true, r->phase,
                       strlen(r->phase), r->expires - now);
    break;
  case REIN__IDEM_ACT_RECLAIM:
    claim(s, r, a, false, false);
    rein__idem_set_new(out, r->id, r->fence, r->nonce, false, NULL, 0,
                       r->expires - now);
    break;
  case REIN__IDEM_ACT_REPLAY:
    st = rein__idem_set_replay(s, out, r->status, r->data, r->hl,
                               r->data ? r->data + r->hl : NULL, r->bl,
                               r->expires - now);
    break;
  case REIN__IDEM_ACT_BUSY:
    out->outcome = REIN_IDEM_IN_PROGRESS;
    out->retry_after_ns = r->lease_until - now;
    out->expires_in_ns = r->expires > now ? r->expires - now : 0;
    break;
  case REIN__IDEM_ACT_MISMATCH:
    out->outcome = REIN_IDEM_MISMATCH;
    break;
  }
  pthread_mutex_unlock(&m->lock);
  return st;
}

static mrec *holder(mem *m, const rein_idem_token *t) {
  mrec *r = find(m, t->id);
  if (!r || r->state != REIN__IDEM_LEASED || r->fence != t->fence ||
      r->nonce != t->nonce)
    return NULL;
  return r;
}

static rein_status stale(rein_idem_store *s) {
  return rein__idem_fail(s, REIN_ESTALE,
                         "idem: the token no longer holds the lease (taken "
                         "over, completed, released or expired)");
}

static rein_status mem_checkpoint(rein_idem_store *s, const rein_idem_token *t,
                                  const char *phase, int64_t extend_ns,
                                  int64_t now) {
  mem *m = s->impl;
  pthread_mutex_lock(&m->lock);
  mrec *r = holder(m, t);
  if (r) {
    snprintf(r->phase, sizeof r->phase, "%s", phase);
    if (extend_ns > 0) r->lease_until = now + extend_ns;
  }
  pthread_mutex_unlock(&m->lock);
  return r ? REIN_OK : stale(s);
}

static rein_status mem_complete(rein_idem_store *s, const rein_idem_token *t,
                                const rein_idem_response *resp, bool keep,
                                int64_t now) {
  (void)now;
  mem *m = s->impl;
  char *data = NULL;
  if (keep) {
    data = rein_alloc(s->alloc, resp->headers_len + resp->body_len + 1);
    if (!data)
      return rein__idem_fail(s, REIN_ENOMEM,
                             "idem: out of memory storing a response of %zu "
                             "bytes",
                             resp->headers_len + resp->body_len);
    if (resp->headers_len) memcpy(data, resp->headers, resp->headers_len);
    if (resp->body_len)
      memcpy(data + resp->headers_len, resp->body, resp->body_len);
  }
  pthread_mutex_lock(&m->lock);
  mrec *r = holder(m, t);
  if (r) {
    drop_data(s, r);
    if (keep) {
      r->state = REIN__IDEM_COMPLETED;
      r->status = resp->status;
      r->data = data;
      r->hl = resp->headers_len;
      r->bl = resp->body_len;
      data = NULL;
    } else {
      r->state = REIN__IDEM_RELEASED;
      r->phase[0] = '\0';
    }
  }
  pthread_mutex_unlock(&m->lock);
  rein_free(s->alloc, data);
  return r ? REIN_OK : stale(s);
}

static rein_status mem_purge(rein_idem_store *s, size_t max_batch,
                             size_t *purged, int64_t now) {
  mem *m = s->impl;
  size_t n = 0;
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < m->nbuckets && n < max_batch; i++) {
    mrec **pp = &m->buckets[i];
    while (*pp && n < max_batch) {
      mrec *r = *pp;
      if (rein__idem_expired(r->state, r->expires, r->lease_until, now)) {
        *pp = r->next;
        drop_data(s, r);
        rein_free(s->alloc, r);
        m->count--;
        n++;
      } else {
        pp = &r->next;
      }
    }
  }
  pthread_mutex_unlock(&m->lock);
  *purged = n;
  return REIN_OK;
}

static void mem_destroy(rein_idem_store *s) {
  mem *m = s->impl;
  if (!m) return;
  for (size_t i = 0; i < m->nbuckets; i++) {
    mrec *r = m->buckets[i];
    while (r) {
      mrec *next = r->next;
      drop_data(s, r);
      rein_free(s->alloc, r);
      r = next;
    }
  }
  rein_free(s->alloc, m->buckets);
  pthread_mutex_destroy(&m->lock);
  rein_free(s->alloc, m);
  s->impl = NULL;
}

static const rein__idem_vtable mem_vtable = {REIN__IDEM_VTABLE_VERSION,
                                             "memory",
                                             true,
                                             mem_begin,
                                             mem_checkpoint,
                                             mem_complete,
                                             mem_purge,
                                             mem_destroy};

rein_status rein_idem_mem_new(const rein_idem_config *c,
                              rein_idem_store **out) {
  if (out) *out = NULL;
  rein_idem_store *s;
  rein_status st = rein__idem_store_alloc(c, &mem_vtable, out ? &s : NULL);
  if (st != REIN_OK) return st;
  rein_errbuf *err = c ? c->err : NULL;
  mem *m = rein_calloc(s->alloc, sizeof *m);
  if (m) {
    m->nbuckets = 64;
    m->buckets = rein_calloc(s->alloc, m->nbuckets * sizeof *m->buckets);
  }
  if (!m || !m->buckets) {
    if (m) rein_free(s->alloc, m);
    rein__idem_store_dealloc(s);
    return rein__idem_errbuf(err, REIN_ENOMEM,
                             "idem: out of memory creating a memory store");
  }
  pthread_mutex_init(&m->lock, NULL);
  s->impl = m;
  *out = s;
  return REIN_OK;
}
