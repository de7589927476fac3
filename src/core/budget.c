/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget.c: retry budgets: ratio (Finagle), token bucket (gRPC), quota
 * (AWS SDK standard mode). See rein/budget.h for the semantics.
 *
 * The ratio budget keeps its balance in a striped sliding window
 * (window.c): deposits and withdrawals are added to the caller's stripe, so
 * threads making first attempts never share a cache line. A withdrawal is
 * optimistic: subtract first, then read the whole balance; if it went below
 * zero, give the retry back and refuse. Every granted retry was checked
 * against a balance that already included every other granted retry, so
 * concurrency can cause a spurious refusal but never an overdraft.
 * The token bucket and the quota are single atomic words updated by CAS;
 * a full bucket is left alone on success, so the common case writes nothing.
 */
#include "budget_internal.h"

#include <math.h>
#include <string.h>

#define RATIO_SLOTS 10u

void rein_budget_config_default(rein_budget_config *c) {
  memset(c, 0, sizeof *c);
  c->kind = REIN_BUDGET_RATIO;
  c->ratio = 0.1;
  c->ttl_ns = 10 * REIN_NS_PER_S;
  c->min_retries_per_sec = 10;
  c->max_tokens = 100;
  c->token_ratio = 0.1;
  c->capacity = 500;
  c->retry_cost = 5;
  c->timeout_retry_cost = 10;
  c->success_increment = 1;
}

static rein_status validate(const rein_budget_config *c) {
  rein_errbuf *err = c->err;
  switch (c->kind) {
  case REIN_BUDGET_RATIO:
    if (!(c->ratio >= 0 && c->ratio <= 1000))
      return rein__invalid(err, "budget.ratio: must be in [0, 1000], got %g",
                           c->ratio);
    if (c->ttl_ns < REIN_NS_PER_MS || c->ttl_ns > 3600 * REIN_NS_PER_S)
      return rein__invalid(err, "budget.ttl_ns: must be in [1 ms, 1 h], got %lld ns",
                           (long long)c->ttl_ns);
    if (!(c->min_retries_per_sec >= 0 && c->min_retries_per_sec <= 1e6))
      return rein__invalid(err,
                           "budget.min_retries_per_sec: must be in [0, 1e6], got %g",
                           c->min_retries_per_sec);
    return REIN_OK;
  case REIN_BUDGET_TOKEN_BUCKET:
    if (!(c->max_tokens > 0 && c->max_tokens <= 1000))
      return rein__invalid(err, "budget.max_tokens: must be in (0, 1000], got %g",
                           c->max_tokens);
    if (!(c->token_ratio > 0 && c->token_ratio <= c->max_tokens))
      return rein__invalid(err,
                           "budget.token_ratio: must be in (0, max_tokens], got %g",
                           c->token_ratio);
    return REIN_OK;
  case REIN_BUDGET_QUOTA:
    if (c->capacity < 1 || c->capacity > 1000000)
      return rein__invalid(err, "budget.capacity: must be in [1, 1000000], got %u",
                           c->capacity);
    if (c->retry_cost < 1 || c->retry_cost > c->capacity)
      return rein__invalid(err,
                           "budget.retry_cost: must be in [1, capacity], got %u",
                           c->retry_cost);
    if (c->timeout_retry_cost < 1 || c->timeout_retry_cost > c->capacity)
      return rein__invalid(
          err, "budget.timeout_retry_cost: must be in [1, capacity], got %u",
          c->timeout_retry_cost);
    if (c->success_increment > c->capacity)
      return rein__invalid(err,
                           "budget.success_increment: must be <= capacity, got %u",
                           c->success_increment);
    return REIN_OK;
  default:
    return rein__invalid(err,
                         "budget.kind: must be ratio, token_bucket or quota, got %d",
                         (int)c->kind);
  }
}

static rein_budget *alloc_budget(const rein_allocator *a) {
  rein_budget *b = rein__alloc_aligned(a, sizeof *b);
  if (!b) return NULL;
  if (a) {
    b->alloc_copy = *a;
    b->alloc = &b->alloc_copy;
  }
  return b;
}

rein_status rein_budget_new(const rein_budget_config *c, rein_budget **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  uint32_t stripes;
  if ((st = rein__stripes(c->stripes, "budget", c->err, &stripes)) != REIN_OK)
    return st;
  rein_budget *b = alloc_budget(c->alloc);
  if (!b) return REIN_ENOMEM;
  b->kind = c->kind;
  b->cfg = *c;
  b->cfg.alloc = NULL;
  b->cfg.err = NULL;
  switch (c->kind) {
  case REIN_BUDGET_RATIO:
    b->deposit_milli = llround(c->ratio * 1000.0);
    b->reserve_milli = llround(c->min_retries_per_sec *
                               ((double)c->ttl_ns / REIN_NS_PER_S) * 1000.0);
    st = rein__window_init(&b->win, b->alloc, c->ttl_ns, RATIO_SLOTS, 1,
                           stripes);
    if (st != REIN_OK) {
      rein__free_aligned(b->alloc, b);
      return st;
    }
    break;
  case REIN_BUDGET_TOKEN_BUCKET:
    b->max_tokens_milli = llround(c->max_tokens * 1000.0);
    b->token_ratio_milli = llround(c->token_ratio * 1000.0);
    atomic_init(&b->tokens, b->max_tokens_milli);
    break;
  case REIN_BUDGET_QUOTA:
    b->capacity = c->capacity;
    b->retry_cost = c->retry_cost;
    b->timeout_retry_cost = c->timeout_retry_cost;
    b->success_increment = c->success_increment;
    atomic_init(&b->tokens, c->capacity);
    break;
  default:
    break;
  }
  *out = b;
  return REIN_OK;
}

rein_status rein_budget_new_custom(const rein_budget_vtable *vt, void *impl,
                                   const rein_allocator *alloc,
                                   rein_budget **out) {
  if (!vt || !out || vt->version != REIN_BUDGET_VTABLE_VERSION ||
      !vt->try_retry)
    return REIN_EINVAL;
  *out = NULL;
  rein_budget *b = alloc_budget(alloc);
  if (!b) return REIN_ENOMEM;
  b->kind = REIN_BUDGET_CUSTOM;
  b->vt = vt;
  b->impl = impl;
  *out = b;
  return REIN_OK;
}

void rein_budget_free(rein_budget *b) {
  if (!b) return;
  if (b->vt) {
    if (b->vt->destroy) b->vt->destroy(b->impl);
  } else if (b->kind == REIN_BUDGET_RATIO) {
    rein__window_destroy(&b->win, b->alloc);
  }
  rein__free_aligned(b->alloc, b);
}

void rein__budget_on_request_s(rein_budget *b, int64_t now, uint32_t stripe) {
  if (b->vt) {
    if (b->vt->on_request) b->vt->on_request(b->impl, now);
    return;
  }
  if (b->kind == REIN_BUDGET_RATIO && b->deposit_milli > 0)
    rein__window_add(&b->win, stripe, 0, now, b->deposit_milli);
}

void rein_budget_on_request(rein_budget *b, int64_t now) {
  rein__budget_on_request_s(b, now, rein__thread_stripe());
}

/* CAS-subtract `amount` from `w` if at least `amount` is there. */
static bool take(_Atomic int64_t *w, int64_t amount) {
  int64_t cur = atomic_load_explicit(w, memory_order_relaxed);
  while (cur >= amount) {
    if (atomic_compare_exchange_weak_explicit(w, &cur, cur - amount,
                                              memory_order_acq_rel,
                                              memory_order_relaxed))
      return true;
  }
  return false;
}

/* CAS-add `amount` to `w`, saturating at `max` and at 0. */
static void give(_Atomic int64_t *w, int64_t amount, int64_t max) {
  int64_t cur = atomic_load_explicit(w, memory_order_relaxed);
  for (;;) {
    int64_t nv = cur + amount;
    if (nv > max) nv = max;
    if (nv < 0) nv = 0;
    if (nv == cur) return;
    if (atomic_compare_exchange_weak_explicit(w, &cur, nv, memory_order_acq_rel,
                                              memory_order_relaxed))
      return;
  }
}

bool rein__budget_try_retry_s(rein_budget *b, int64_t now, bool timeout,
                              uint32_t *cost, uint32_t stripe) {
  uint32_t dummy;
  if (!cost) cost = &dummy;
  *cost = 0;
  if (b->vt) return b->vt->try_retry(b->impl, now, timeout, cost);
  switch (b->kind) {
  case REIN_BUDGET_RATIO: {
    uint32_t tag = rein__window_add(&b->win, stripe, 0, now, -1000);
    int64_t bal = rein__window_sum(&b->win, 0, now) + b->reserve_milli;
    if (bal >= 0) {
      *cost = 1;
      return true;
    }
    rein__window_undo(&b->win, stripe, 0, now, tag, 1000);
    return false;
  }
  case REIN_BUDGET_TOKEN_BUCKET:
    return atomic_load_explicit(&b->tokens, memory_order_acquire) * 2 >
           b->max_tokens_milli;
  case REIN_BUDGET_QUOTA: {
    uint32_t c = timeout ? b->timeout_retry_cost : b->retry_cost;
    if (!take(&b->tokens, c)) return false;
    *cost = c;
    return true;
  }
  default:
    return false;
  }
}

bool rein_budget_try_retry(rein_budget *b, int64_t now, bool timeout,
                           uint32_t *cost) {
  return rein__budget_try_retry_s(b, now, timeout, cost, rein__thread_stripe());
}

void rein_budget_on_success(rein_budget *b, int64_t now, uint32_t cost) {
  if (b->vt) {
    if (b->vt->on_success) b->vt->on_success(b->impl, now, cost);
    return;
  }
  if (b->kind == REIN_BUDGET_TOKEN_BUCKET) {
    if (atomic_load_explicit(&b->tokens, memory_order_relaxed) <
        b->max_tokens_milli)
      give(&b->tokens, b->token_ratio_milli, b->max_tokens_milli);
  } else if (b->kind == REIN_BUDGET_QUOTA) {
    int64_t add = cost > 0 ? (int64_t)cost : (int64_t)b->success_increment;
    if (add > 0 &&
        atomic_load_explicit(&b->tokens, memory_order_relaxed) < b->capacity)
      give(&b->tokens, add, b->capacity);
  }
}

void rein_budget_on_failure(rein_budget *b, int64_t now) {
  if (b->vt) {
    if (b->vt->on_failure) b->vt->on_failure(b->impl, now);
    return;
  }
  if (b->kind == REIN_BUDGET_TOKEN_BUCKET)
    give(&b->tokens, -1000, b->max_tokens_milli);
}

double rein_budget_available(rein_budget *b, int64_t now) {
  if (b->vt) return b->vt->available ? b->vt->available(b->impl, now) : 0;
  switch (b->kind) {
  case REIN_BUDGET_RATIO:
    return (double)(rein__window_sum(&b->win, 0, now) + b->reserve_milli) /
           1000.0;
  case REIN_BUDGET_TOKEN_BUCKET:
    return (double)atomic_load(&b->tokens) / 1000.0;
  case REIN_BUDGET_QUOTA:
    return (double)atomic_load(&b->tokens);
  default:
    return 0;
  }
}

rein_budget_kind rein_budget_get_kind(const rein_budget *b) {
  return b->kind;
}

static const char *const budget_names[] = {"ratio", "token_bucket", "quota",
                                           "custom"};

const char *rein_budget_kind_name(rein_budget_kind k) {
  return (unsigned)k < 4 ? budget_names[k] : "unknown";
}

rein_status rein_budget_kind_parse(const char *s, rein_budget_kind *out) {
  for (int i = 0; s && i < 3; i++)
    if (strcmp(s, budget_names[i]) == 0) {
      *out = (rein_budget_kind)i;
      return REIN_OK;
    }
  return REIN_EINVAL;
}

rein_status rein_budget_get_config(const rein_budget *b,
                                   rein_budget_config *out) {
  if (!b || !out) return REIN_EINVAL;
  if (b->kind == REIN_BUDGET_CUSTOM) return REIN_EUNSUPPORTED;
  *out = b->cfg;
  return REIN_OK;
}
