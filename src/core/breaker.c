/* SPDX-License-Identifier: Apache-2.0 */
/*
 * breaker.c: the circuit breaker of rein/breaker.h, lock-free.
 *
 * The whole state machine lives in one 64-bit atomic word: state (2 bits),
 * half-open probes issued, succeeded and failed (10 bits each) and a 32-bit
 * generation bumped by every transition. A transition is one CAS, so
 * exactly one thread makes it and runs the callback. The OPEN deadline is
 * published in a second word tagged with the generation that set it; a
 * reader that sees OPEN before the deadline is published treats it as not
 * yet elapsed. Outcomes carry the generation of their permit, so results of
 * calls made before a transition never count against the new state.
 *
 * The CLOSED-state window is either time based (striped window.c counters:
 * a success is one CAS on the caller's own cache line) or count based (a
 * ring of the last N outcomes with exchange-maintained totals, exact under
 * concurrency), or CUMULATIVE (the ring's three totals without a ring).
 * Failure rates are only evaluated when a failure or slow call is
 * recorded, since a success can never trip the breaker.
 *
 * A retry-only breaker (gates RETRIES) uses the same window and none of the
 * state machine: allow() always permits (a first attempt), record() only
 * adds to the window, and allow_retry() reads the window and refuses while
 * the share is over the threshold. Nothing is cached, so retries resume on
 * the first read after the share falls, and its first-attempt path is a
 * CLOSED classic breaker's.
 */
#include "rein/breaker.h"
#include "rein/metrics.h"
#include "rein/rng.h"

#include "internal.h"
#include "window.h"

#include <stdatomic.h>
#include <string.h>

#define ST_BITS 2
#define CNT_BITS 10
#define CNT_MASK ((UINT64_C(1) << CNT_BITS) - 1)
#define SH_ISSUED 2
#define SH_OK 12
#define SH_FAIL 22
#define SH_GEN 32

enum { C_CALLS = 0, C_FAIL = 1, C_SLOW = 2 };

struct rein_breaker {
  const rein_breaker_vtable *vt;
  void *impl;
  rein_breaker_config cfg;
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  _Alignas(64) _Atomic uint64_t word;
  _Atomic int64_t open_until;
  _Atomic uint32_t open_gen;
  _Atomic int64_t half_open_since;
  _Atomic int mode;
  /* TIME window */
  rein__window win;
  /* COUNT window */
  _Alignas(64) _Atomic uint64_t pos;
  _Alignas(64) _Atomic int64_t ring_calls, ring_fail, ring_slow;
  _Atomic uint8_t *ring;
};

static inline rein_breaker_state st_of(uint64_t w) {
  return (rein_breaker_state)(w & 3);
}
static inline uint32_t gen_of(uint64_t w) {
  return (uint32_t)(w >> SH_GEN);
}
static inline uint32_t fld(uint64_t w, int sh) {
  return (uint32_t)((w >> sh) & CNT_MASK);
}
static inline uint64_t mk(rein_breaker_state s, uint32_t issued, uint32_t ok,
                          uint32_t fail, uint32_t gen) {
  return (uint64_t)s | ((uint64_t)issued << SH_ISSUED) |
         ((uint64_t)ok << SH_OK) | ((uint64_t)fail << SH_FAIL) |
         ((uint64_t)gen << SH_GEN);
}

void rein_breaker_config_default(rein_breaker_config *c) {
  memset(c, 0, sizeof *c);
  c->window = REIN_BREAKER_WINDOW_TIME;
  c->window_size = 100;
  c->window_ns = 10 * REIN_NS_PER_S;
  c->buckets = 10;
  c->min_calls = 20;
  c->failure_rate = 0.5;
  c->slow_rate = 1.0;
  c->slow_call_ns = 0;
  c->open_ns = 5 * REIN_NS_PER_S;
  c->open_jitter = 0.2;
  c->half_open_probes = 3;
  c->seed = 1;
}

static rein_status validate(const rein_breaker_config *c) {
  rein_errbuf *err = c->err;
  if ((unsigned)c->window > REIN_BREAKER_WINDOW_CUMULATIVE)
    return rein__invalid(err,
                         "breaker.window: must be count, time or cumulative, "
                         "got %d",
                         (int)c->window);
  if ((unsigned)c->gates > REIN_BREAKER_GATES_RETRIES)
    return rein__invalid(err, "breaker.gates: must be all or retries, got %d",
                         (int)c->gates);
  if (c->window == REIN_BREAKER_WINDOW_COUNT &&
      (c->window_size < 1 || c->window_size > 100000))
    return rein__invalid(err,
                         "breaker.window_size: must be in [1, 100000], got %u",
                         c->window_size);
  if (c->window == REIN_BREAKER_WINDOW_TIME) {
    if (c->window_ns < REIN_NS_PER_MS || c->window_ns > 3600 * REIN_NS_PER_S)
      return rein__invalid(err,
                           "breaker.window_ns: must be in [1 ms, 1 h], got %lld ns",
                           (long long)c->window_ns);
    if (c->buckets < 1 || c->buckets > 60)
      return rein__invalid(err, "breaker.buckets: must be in [1, 60], got %u",
                           c->buckets);
  }
  if (c->min_calls < 1)
    return rein__invalid(err, "breaker.min_calls: must be >= 1, got %u",
                         c->min_calls);
  if (!(c->failure_rate > 0 && c->failure_rate <= 1))
    return rein__invalid(err, "breaker.failure_rate: must be in (0, 1], got %g",
                         c->failure_rate);
  if (!(c->slow_rate > 0 && c->slow_rate <= 1))
    return rein__invalid(err, "breaker.slow_rate: must be in (0, 1], got %g",
                         c->slow_rate);
  if (c->slow_call_ns < 0)
    return rein__invalid(err, "breaker.slow_call_ns: must be >= 0, got %lld",
                         (long long)c->slow_call_ns);
  if (c->open_ns <= 0 || c->open_ns > 24 * 3600 * REIN_NS_PER_S)
    return rein__invalid(err, "breaker.open_ns: must be in (0, 24 h], got %lld ns",
                         (long long)c->open_ns);
  if (!(c->open_jitter >= 0 && c->open_jitter < 1))
    return rein__invalid(err, "breaker.open_jitter: must be in [0, 1), got %g",
                         c->open_jitter);
  if (c->half_open_probes < 1 || c->half_open_probes > 1000)
    return rein__invalid(err,
                         "breaker.half_open_probes: must be in [1, 1000], got %u",
                         c->half_open_probes);
  return REIN_OK;
}

static rein_breaker *alloc_breaker(const rein_allocator *a) {
  rein_breaker *b = rein__alloc_aligned(a, sizeof *b);
  if (!b) return NULL;
  if (a) {
    b->alloc_copy = *a;
    b->alloc = &b->alloc_copy;
  }
  return b;
}

rein_status rein_breaker_new(const rein_breaker_config *c, rein_breaker **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  uint32_t stripes;
  if ((st = rein__stripes(c->stripes, "breaker", c->err, &stripes)) != REIN_OK)
    return st;
  rein_breaker *b = alloc_breaker(c->alloc);
  if (!b) return REIN_ENOMEM;
  b->cfg = *c;
  b->cfg.err = NULL;
  b->cfg.alloc = b->alloc;
  atomic_init(&b->word, mk(REIN_BREAKER_CLOSED, 0, 0, 0, 0));
  if (c->window == REIN_BREAKER_WINDOW_TIME) {
    st = rein__window_init(&b->win, b->alloc, c->window_ns, c->buckets, 3,
                           stripes);
    if (st != REIN_OK) {
      rein__free_aligned(b->alloc, b);
      return st;
    }
  } else if (c->window == REIN_BREAKER_WINDOW_COUNT) {
    b->ring = rein__calloc(b->alloc, c->window_size);
    if (!b->ring) {
      rein__free_aligned(b->alloc, b);
      return REIN_ENOMEM;
    }
  }
  *out = b;
  return REIN_OK;
}

rein_status rein_breaker_new_custom(const rein_breaker_vtable *vt, void *impl,
                                    const rein_allocator *alloc,
                                    rein_breaker **out) {
  if (!vt || !out || vt->version != REIN_BREAKER_VTABLE_VERSION ||
      !vt->allow || !vt->record)
    return REIN_EINVAL;
  *out = NULL;
  rein_breaker *b = alloc_breaker(alloc);
  if (!b) return REIN_ENOMEM;
  b->vt = vt;
  b->impl = impl;
  *out = b;
  return REIN_OK;
}

void rein_breaker_free(rein_breaker *b) {
  if (!b) return;
  if (b->vt) {
    if (b->vt->destroy) b->vt->destroy(b->impl);
  } else if (b->cfg.window == REIN_BREAKER_WINDOW_TIME) {
    rein__window_destroy(&b->win, b->alloc);
  } else if (b->cfg.window == REIN_BREAKER_WINDOW_COUNT) {
    rein__free(b->alloc, (void *)b->ring);
  }
  rein__free_aligned(b->alloc, b);
}

/* ---------------------------------------------------------------- window */

static void window_clear(rein_breaker *b) {
  if (b->cfg.window == REIN_BREAKER_WINDOW_TIME) {
    rein__window_clear(&b->win);
    return;
  }
  if (b->cfg.window == REIN_BREAKER_WINDOW_CUMULATIVE) {
    /* failures first, as window_read reads them first */
    atomic_store(&b->ring_fail, 0);
    atomic_store(&b->ring_slow, 0);
    atomic_store(&b->ring_calls, 0);
    return;
  }
  for (uint32_t i = 0; i < b->cfg.window_size; i++) {
    uint8_t old = atomic_exchange(&b->ring[i], 0);
    if (old) {
      atomic_fetch_sub(&b->ring_calls, 1);
      atomic_fetch_sub(&b->ring_fail, (old >> 1) & 1);
      atomic_fetch_sub(&b->ring_slow, (old >> 2) & 1);
    }
  }
}

static void window_add(rein_breaker *b, bool fail, bool slow, int64_t now,
                       uint32_t stripe) {
  if (b->cfg.window == REIN_BREAKER_WINDOW_TIME) {
    rein__window_add(&b->win, stripe, C_CALLS, now, 1);
    if (fail) rein__window_add(&b->win, stripe, C_FAIL, now, 1);
    if (slow) rein__window_add(&b->win, stripe, C_SLOW, now, 1);
    return;
  }
  if (b->cfg.window == REIN_BREAKER_WINDOW_CUMULATIVE) {
    /* the call before its failure, so a reader never sees more failures
     * than calls */
    atomic_fetch_add(&b->ring_calls, 1);
    if (fail) atomic_fetch_add(&b->ring_fail, 1);
    if (slow) atomic_fetch_add(&b->ring_slow, 1);
    return;
  }
  uint64_t i = atomic_fetch_add(&b->pos, 1) % b->cfg.window_size;
  uint8_t nv = (uint8_t)(1 | (fail ? 2 : 0) | (slow ? 4 : 0));
  uint8_t old = atomic_exchange(&b->ring[i], nv);
  if (!old) atomic_fetch_add(&b->ring_calls, 1);
  int df = (int)fail - (int)((old >> 1) & 1);
  int ds = (int)slow - (int)((old >> 2) & 1);
  if (df) atomic_fetch_add(&b->ring_fail, df);
  if (ds) atomic_fetch_add(&b->ring_slow, ds);
}

static void window_read(rein_breaker *b, int64_t now, uint64_t *calls,
                        uint64_t *fail, uint64_t *slow) {
  /* Failures and slow calls are read before calls: a reader preempted
   * between the reads then sees more calls, never more failures, than were
   * there together, so a race can delay a trip but never cause one. */
  int64_t c, f, s;
  if (b->cfg.window == REIN_BREAKER_WINDOW_TIME) {
    f = rein__window_sum(&b->win, C_FAIL, now);
    s = b->cfg.slow_call_ns > 0 ? rein__window_sum(&b->win, C_SLOW, now) : 0;
    c = rein__window_sum(&b->win, C_CALLS, now);
  } else {
    f = atomic_load(&b->ring_fail);
    s = atomic_load(&b->ring_slow);
    c = atomic_load(&b->ring_calls);
  }
  *calls = c > 0 ? (uint64_t)c : 0;
  *fail = f > 0 ? (uint64_t)f : 0;
  *slow = s > 0 ? (uint64_t)s : 0;
}

/* ----------------------------------------------------------- transitions */

static void notify(rein_breaker *b, rein_breaker_state from,
                   rein_breaker_state to, int64_t now) {
  if (b->cfg.metrics) {
    rein_counter c = to == REIN_BREAKER_OPEN        ? REIN_C_BREAKER_OPENED
                     : to == REIN_BREAKER_HALF_OPEN ? REIN_C_BREAKER_HALF_OPENED
                                                    : REIN_C_BREAKER_CLOSED;
    rein_metrics_add(b->cfg.metrics, c, 1);
  }
  if (b->cfg.on_state_change)
    b->cfg.on_state_change(b->cfg.callback_ctx, from, to, now);
}

/* Open duration for generation `gen`, jittered deterministically from the
 * seed (no shared rng to synchronize). */
static int64_t open_duration(const rein_breaker *b, uint32_t gen) {
  if (b->cfg.open_jitter <= 0) return b->cfg.open_ns;
  uint64_t st = b->cfg.seed ^ ((uint64_t)gen * UINT64_C(0x9e3779b97f4a7c15));
  double u = (double)(rein_splitmix64(&st) >> 11) * 0x1.0p-53; /* [0,1) */
  double f = 1.0 + b->cfg.open_jitter * (2.0 * u - 1.0);
  return (int64_t)((double)b->cfg.open_ns * f);
}

/* CAS `old` -> OPEN with a new generation; on success publish the deadline. */
static bool to_open(rein_breaker *b, uint64_t old, int64_t now,
                    int64_t until) {
  uint32_t ng = gen_of(old) + 1;
  uint64_t nw = mk(REIN_BREAKER_OPEN, 0, 0, 0, ng);
  if (!atomic_compare_exchange_strong(&b->word, &old, nw)) return false;
  if (until < 0) until = now + open_duration(b, ng);
  atomic_store_explicit(&b->open_until, until, memory_order_relaxed);
  atomic_store_explicit(&b->open_gen, ng, memory_order_release);
  notify(b, st_of(old), REIN_BREAKER_OPEN, now);
  return true;
}

bool rein_breaker_allow(rein_breaker *b, int64_t now,
                        rein_breaker_permit *permit) {
  rein_breaker_permit dummy;
  if (!permit) permit = &dummy;
  memset(permit, 0, sizeof *permit);
  if (b->vt) return b->vt->allow(b->impl, now, permit);
  int mode = atomic_load_explicit(&b->mode, memory_order_relaxed);
  /* A retry-only breaker never leaves CLOSED (only reset() writes its
   * word), so a first attempt to it is permitted below like any CLOSED
   * call; FORCED_OPEN is the one place it needs its own answer. */
  if (mode == REIN_BREAKER_FORCED_OPEN &&
      b->cfg.gates != REIN_BREAKER_GATES_RETRIES)
    return false;
  for (;;) {
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    if (mode == REIN_BREAKER_DISABLED) {
      permit->generation = gen_of(w);
      permit->valid = 1;
      return true;
    }
    switch (st_of(w)) {
    case REIN_BREAKER_CLOSED:
      permit->generation = gen_of(w);
      permit->valid = 1;
      return true;
    case REIN_BREAKER_OPEN: {
      if (atomic_load_explicit(&b->open_gen, memory_order_acquire) !=
          gen_of(w))
        return false; /* deadline not yet published: still opening */
      if (now < atomic_load_explicit(&b->open_until, memory_order_relaxed))
        return false;
      uint32_t ng = gen_of(w) + 1;
      uint64_t nw = mk(REIN_BREAKER_HALF_OPEN, 1, 0, 0, ng);
      atomic_store_explicit(&b->half_open_since, now, memory_order_relaxed);
      if (!atomic_compare_exchange_strong(&b->word, &w, nw)) continue;
      notify(b, REIN_BREAKER_OPEN, REIN_BREAKER_HALF_OPEN, now);
      permit->generation = ng;
      permit->probe = 1;
      permit->valid = 1;
      return true;
    }
    case REIN_BREAKER_HALF_OPEN: {
      uint32_t issued = fld(w, SH_ISSUED);
      if (issued < b->cfg.half_open_probes) {
        uint64_t nw = w + ((uint64_t)1 << SH_ISSUED);
        if (!atomic_compare_exchange_weak(&b->word, &w, nw)) continue;
        permit->generation = gen_of(w);
        permit->probe = 1;
        permit->valid = 1;
        return true;
      }
      /* All probes out. If they never come back, start a new cycle. */
      int64_t since =
          atomic_load_explicit(&b->half_open_since, memory_order_relaxed);
      if (now - since >= b->cfg.open_ns) {
        if (to_open(b, w, now, now)) continue;
        continue;
      }
      return false;
    }
    }
    return false;
  }
}

/* The retry-only breaker's rule: enough outcomes, and a share at or over
 * the threshold (the trip rule of a CLOSED breaker). */
static bool over_threshold(rein_breaker *b, int64_t now) {
  uint64_t calls, fails, slows;
  window_read(b, now, &calls, &fails, &slows);
  if (calls < b->cfg.min_calls) return false;
  if ((double)fails >= b->cfg.failure_rate * (double)calls) return true;
  return b->cfg.slow_call_ns > 0 &&
         (double)slows >= b->cfg.slow_rate * (double)calls;
}

bool rein_breaker_allow_retry(rein_breaker *b, int64_t now,
                              rein_breaker_permit *permit) {
  if (b->vt || b->cfg.gates != REIN_BREAKER_GATES_RETRIES)
    return rein_breaker_allow(b, now, permit);
  rein_breaker_permit dummy;
  if (!permit) permit = &dummy;
  memset(permit, 0, sizeof *permit);
  int mode = atomic_load_explicit(&b->mode, memory_order_relaxed);
  if (mode == REIN_BREAKER_FORCED_OPEN) return false;
  if (mode == REIN_BREAKER_NORMAL && over_threshold(b, now)) return false;
  permit->generation =
      gen_of(atomic_load_explicit(&b->word, memory_order_acquire));
  permit->valid = 1;
  return true;
}

bool rein__breaker_gates_retries(const rein_breaker *b) {
  return b && !b->vt && b->cfg.gates == REIN_BREAKER_GATES_RETRIES;
}

void rein_breaker_record(rein_breaker *b, const rein_breaker_permit *permit,
                         bool failure, int64_t duration_ns, int64_t now) {
  if (!permit || !permit->valid) return;
  if (b->vt) {
    b->vt->record(b->impl, permit, failure, duration_ns, now);
    return;
  }
  if (atomic_load_explicit(&b->mode, memory_order_relaxed) !=
      REIN_BREAKER_NORMAL)
    return;
  bool slow = b->cfg.slow_call_ns > 0 && duration_ns >= b->cfg.slow_call_ns;
  uint32_t n = b->cfg.half_open_probes;
  if (permit->probe) {
    bool bad = failure || slow;
    uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
    for (;;) {
      if (st_of(w) != REIN_BREAKER_HALF_OPEN || gen_of(w) != permit->generation)
        return;
      uint32_t ok = fld(w, SH_OK) + (bad ? 0 : 1);
      uint32_t fail = fld(w, SH_FAIL) + (bad ? 1 : 0);
      /* Decide as soon as the remaining probes cannot change the verdict. */
      bool must_open = (double)fail / n >= b->cfg.failure_rate;
      bool must_close = (double)(n - ok) / n < b->cfg.failure_rate;
      if (must_open) {
        if (to_open(b, w, now, -1)) return;
      } else if (must_close || ok + fail >= n) {
        uint64_t nw = mk(REIN_BREAKER_CLOSED, 0, 0, 0, gen_of(w) + 1);
        if (atomic_compare_exchange_strong(&b->word, &w, nw)) {
          window_clear(b);
          notify(b, REIN_BREAKER_HALF_OPEN, REIN_BREAKER_CLOSED, now);
          return;
        }
      } else {
        uint64_t nw = mk(REIN_BREAKER_HALF_OPEN, fld(w, SH_ISSUED), ok, fail,
                         gen_of(w));
        if (atomic_compare_exchange_weak(&b->word, &w, nw)) return;
      }
      w = atomic_load_explicit(&b->word, memory_order_acquire);
    }
  }
  uint64_t w = atomic_load_explicit(&b->word, memory_order_acquire);
  if (st_of(w) != REIN_BREAKER_CLOSED || gen_of(w) != permit->generation)
    return;
  window_add(b, failure, slow, now, rein__thread_stripe());
  /* A retry-only breaker (never a probe permit, always CLOSED: it got
   * here) has no transitions: the window is all there is. */
  if ((!failure && !slow) || b->cfg.gates == REIN_BREAKER_GATES_RETRIES)
    return;
  uint64_t calls, fails, slows;
  window_read(b, now, &calls, &fails, &slows);
  if (calls < b->cfg.min_calls) return;
  bool trip = (double)fails >= b->cfg.failure_rate * (double)calls;
  if (b->cfg.slow_call_ns > 0 &&
      (double)slows >= b->cfg.slow_rate * (double)calls)
    trip = true;
  if (trip) to_open(b, w, now, -1);
}

rein_breaker_state rein_breaker_state_at(rein_breaker *b, int64_t now) {
  if (b->vt)
    return b->vt->state_at ? b->vt->state_at(b->impl, now)
                           : REIN_BREAKER_CLOSED;
  int mode = atomic_load(&b->mode);
  if (mode == REIN_BREAKER_FORCED_OPEN) return REIN_BREAKER_OPEN;
  if (mode == REIN_BREAKER_DISABLED) return REIN_BREAKER_CLOSED;
  if (b->cfg.gates == REIN_BREAKER_GATES_RETRIES)
    return over_threshold(b, now) ? REIN_BREAKER_OPEN : REIN_BREAKER_CLOSED;
  uint64_t w = atomic_load(&b->word);
  if (st_of(w) == REIN_BREAKER_OPEN &&
      atomic_load(&b->open_gen) == gen_of(w) &&
      now >= atomic_load(&b->open_until))
    return REIN_BREAKER_HALF_OPEN;
  return st_of(w);
}

void rein_breaker_set_mode(rein_breaker *b, rein_breaker_mode mode) {
  if (b->vt) return;
  atomic_store(&b->mode, (int)mode);
}

rein_breaker_mode rein_breaker_get_mode(const rein_breaker *b) {
  if (b->vt) return REIN_BREAKER_NORMAL;
  return (rein_breaker_mode)atomic_load(&((rein_breaker *)b)->mode);
}

void rein_breaker_reset(rein_breaker *b, int64_t now) {
  if (b->vt) return;
  uint64_t w = atomic_load(&b->word);
  for (;;) {
    uint64_t nw = mk(REIN_BREAKER_CLOSED, 0, 0, 0, gen_of(w) + 1);
    if (atomic_compare_exchange_weak(&b->word, &w, nw)) break;
  }
  window_clear(b);
  if (st_of(w) != REIN_BREAKER_CLOSED)
    notify(b, st_of(w), REIN_BREAKER_CLOSED, now);
}

void rein_breaker_stats_get(rein_breaker *b, int64_t now,
                            rein_breaker_stats *out) {
  memset(out, 0, sizeof *out);
  out->state = rein_breaker_state_at(b, now);
  if (b->vt) return;
  out->generation = gen_of(atomic_load(&b->word));
  window_read(b, now, &out->calls, &out->failures, &out->slow);
}

static const char *const state_names[] = {"closed", "open", "half_open"};

const char *rein_breaker_state_name(rein_breaker_state s) {
  return (unsigned)s < 3 ? state_names[s] : "unknown";
}

rein_status rein_breaker_get_config(const rein_breaker *b,
                                    rein_breaker_config *out) {
  if (!b || !out) return REIN_EINVAL;
  if (b->vt) return REIN_EUNSUPPORTED;
  *out = b->cfg;
  out->alloc = NULL;
  out->err = NULL;
  return REIN_OK;
}
