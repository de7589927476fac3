/* SPDX-License-Identifier: Apache-2.0 */
/*
 * throttle.c: client-side adaptive throttling (SRE book, "Handling
 * Overload"). Requests and accepts live in a striped sliding window
 * (window.c); the rejection probability is computed from their sums at each
 * admission and drawn with the caller's rng. Four stripes rather than the
 * default sixteen: admit() reads the whole window on every call, so the
 * read cost matters as much as write contention here.
 */
#include "rein/throttle.h"

#include "window.h"

#include <string.h>

#define THROTTLE_STRIPES 4u

struct rein_throttle {
  double k;
  rein_throttle_config cfg; /* as given (alloc, err cleared) */
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  rein__window win;
};

void rein_throttle_config_default(rein_throttle_config *c) {
  memset(c, 0, sizeof *c);
  c->k = 2.0;
  c->window_ns = 120 * REIN_NS_PER_S;
  c->buckets = 12;
}

rein_status rein_throttle_new(const rein_throttle_config *c,
                              rein_throttle **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  if (!(c->k >= 1 && c->k <= 100))
    return rein__invalid(c->err, "throttle.k: must be in [1, 100], got %g", c->k);
  if (c->window_ns < REIN_NS_PER_MS || c->window_ns > 3600 * REIN_NS_PER_S)
    return rein__invalid(c->err,
                         "throttle.window_ns: must be in [1 ms, 1 h], got %lld ns",
                         (long long)c->window_ns);
  if (c->buckets < 1 || c->buckets > 60)
    return rein__invalid(c->err, "throttle.buckets: must be in [1, 60], got %u",
                         c->buckets);
  uint32_t stripes = THROTTLE_STRIPES;
  if (c->stripes) {
    rein_status sst = rein__stripes(c->stripes, "throttle", c->err, &stripes);
    if (sst != REIN_OK) return sst;
  }
  rein_throttle *t = rein__alloc_aligned(c->alloc, sizeof *t);
  if (!t) return REIN_ENOMEM;
  if (c->alloc) {
    t->alloc_copy = *c->alloc;
    t->alloc = &t->alloc_copy;
  }
  t->k = c->k;
  t->cfg = *c;
  t->cfg.alloc = NULL;
  t->cfg.err = NULL;
  rein_status st = rein__window_init(&t->win, t->alloc, c->window_ns,
                                     c->buckets, 2, stripes);
  if (st != REIN_OK) {
    rein__free_aligned(t->alloc, t);
    return st;
  }
  *out = t;
  return REIN_OK;
}

void rein_throttle_free(rein_throttle *t) {
  if (!t) return;
  rein__window_destroy(&t->win, t->alloc);
  rein__free_aligned(t->alloc, t);
}

double rein_throttle_probability(rein_throttle *t, int64_t now) {
  double req = (double)rein__window_sum(&t->win, 0, now);
  double acc = (double)rein__window_sum(&t->win, 1, now);
  double p = (req - t->k * acc) / (req + 1.0);
  return p > 0 ? p : 0;
}

bool rein_throttle_admit(rein_throttle *t, int64_t now, rein_rng *rng) {
  double p = rein_throttle_probability(t, now);
  rein__window_add(&t->win, rein__thread_stripe(), 0, now, 1);
  if (p <= 0) return true;
  return rein_rng_uniform(rng) >= p;
}

void rein_throttle_on_accept(rein_throttle *t, int64_t now) {
  rein__window_add(&t->win, rein__thread_stripe(), 1, now, 1);
}

rein_status rein_throttle_get_config(const rein_throttle *t,
                                     rein_throttle_config *out) {
  if (!t || !out) return REIN_EINVAL;
  *out = t->cfg;
  return REIN_OK;
}
