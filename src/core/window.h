/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.h: striped sliding-window counters (internal).
 *
 * The shared objects of the core (ratio budget, time-window breaker,
 * throttle) all need "how many X in the last T", updated by many threads on
 * the hot path. A window is `nslots` time slots of width slot_ns, times
 * `ncounters` counters, times `nstripes` stripes; a thread adds to its own
 * stripe (its own cache lines) and a reader sums all of them.
 *
 * Each cell is one 64-bit atomic word packing the slot's epoch (low 24 bits
 * of now / slot_ns) with a 40-bit signed value, so rolling a slot over to a
 * new epoch and adding to it is a single CAS: no update is ever lost and no
 * stale value is ever counted. A reader includes a cell only when its epoch
 * is among the last `nslots`. The 24-bit epoch aliases only if a slot stays
 * untouched for exactly a multiple of 2^24 slot widths (194 days at 1 s).
 */
#ifndef REIN_CORE_WINDOW_H
#define REIN_CORE_WINDOW_H

#include "internal.h"

#include <stdatomic.h>

typedef struct rein__window {
  int64_t slot_ns;
  uint32_t nslots, ncounters, nstripes;
  size_t stripe_cells; /* cells per stripe, padded to a cache line; the
                          last one is the stripe's slot hint */
  _Atomic uint64_t *cells;
  /* Stripes ever written (bit s = stripe s): a sum reads only those, so a
   * window shared by two threads costs two stripes to read, not sixteen.
   * Bits are only ever set, each before its stripe's first write, so after
   * warm-up this line is only read. */
  _Alignas(64) _Atomic uint32_t used;
} rein__window;

rein_status rein__window_init(rein__window *w, const rein_allocator *a,
                              int64_t window_ns, uint32_t nslots,
                              uint32_t ncounters, uint32_t nstripes);
void rein__window_destroy(rein__window *w, const rein_allocator *a);

/* Add `delta` only if the slot still holds epoch `tag` (else the earlier add
 * has expired with its slot and there is nothing to undo). */
void rein__window_undo(rein__window *w, uint32_t stripe, uint32_t counter,
                       int64_t now_at_add, uint32_t tag, int64_t delta);
/* Sum of `counter` over the window ending at `now`. */
int64_t rein__window_sum(rein__window *w, uint32_t counter, int64_t now);
/* Zero every cell (each with an atomic exchange, so concurrent adds are
 * either kept whole or cleared whole). */
void rein__window_clear(rein__window *w);

/* ---- the hot path, inline (a successful call adds twice: the budget's
 * deposit and the breaker's success) ---- */

#define REIN__WIN_TAG_BITS 24
#define REIN__WIN_TAG_MASK ((UINT64_C(1) << REIN__WIN_TAG_BITS) - 1)
#define REIN__WIN_VAL_BITS 40
#define REIN__WIN_VAL_MASK ((UINT64_C(1) << REIN__WIN_VAL_BITS) - 1)

static inline uint64_t rein__window_pack(uint32_t tag, int64_t v) {
  return ((uint64_t)tag << REIN__WIN_VAL_BITS) |
         ((uint64_t)v & REIN__WIN_VAL_MASK);
}

static inline uint32_t rein__window_tag(uint64_t c) {
  return (uint32_t)(c >> REIN__WIN_VAL_BITS);
}

static inline int64_t rein__window_val(uint64_t c) {
  uint64_t v = c & REIN__WIN_VAL_MASK;
  if (v & (UINT64_C(1) << (REIN__WIN_VAL_BITS - 1)))
    v |= ~REIN__WIN_VAL_MASK; /* sign-extend */
  return (int64_t)v;
}

static inline _Atomic uint64_t *rein__window_cell(const rein__window *w,
                                                  uint32_t stripe,
                                                  uint32_t counter,
                                                  uint32_t slot) {
  size_t idx = (size_t)(stripe & (w->nstripes - 1)) * w->stripe_cells +
               (size_t)counter * w->nslots + slot;
  return &w->cells[idx];
}

/* The slow path of the epoch lookup: `now` is past stripe `stripe`'s
 * hint (a new slot, or the stripe's first write): computes the epoch and
 * slot, marks the stripe used (before its first write, so a sum never
 * misses it) and refreshes the hint. Out of line: once a slot width. */
uint64_t rein__window_roll(rein__window *w, uint32_t stripe, int64_t now,
                           uint32_t *slot);

/* The epoch of `now` (>= 0) and its slot index (epoch % nslots) from
 * stripe `stripe`'s hint: the epoch << 9 | a valid bit 0x100 | the slot
 * (a zeroed hint is invalid, so a stripe's first write takes the slow
 * path). */
static inline __attribute__((always_inline)) uint64_t
rein__window_epoch(rein__window *w, uint32_t stripe, int64_t now,
                   uint32_t *slot) {
  const _Atomic uint64_t *hint =
      &w->cells[(size_t)(stripe & (w->nstripes - 1)) * w->stripe_cells +
                w->stripe_cells - 1];
  uint64_t h = atomic_load_explicit(hint, memory_order_relaxed);
  uint64_t e = h >> 9;
  if ((h & 0x100) &&
      (uint64_t)now - e * (uint64_t)w->slot_ns < (uint64_t)w->slot_ns) {
    *slot = (uint32_t)(h & 0xff);
    return e;
  }
  return rein__window_roll(w, stripe, now, slot);
}

/* Add `delta` to `counter` in the slot of `now`; returns the epoch tag used
 * (for rein__window_undo). Inline: a successful call adds twice (the
 * budget's deposit, the breaker's success). */
static inline __attribute__((always_inline)) uint32_t
rein__window_add(rein__window *w, uint32_t stripe, uint32_t counter,
                 int64_t now, int64_t delta) {
  if (now < 0) now = 0;
  uint32_t slot;
  uint64_t e = rein__window_epoch(w, stripe, now, &slot);
  uint32_t tag = (uint32_t)(e & REIN__WIN_TAG_MASK);
  _Atomic uint64_t *c = rein__window_cell(w, stripe, counter, slot);
  uint64_t old = atomic_load_explicit(c, memory_order_relaxed);
  for (;;) {
    uint64_t nv = rein__window_tag(old) == tag
                      ? rein__window_pack(tag, rein__window_val(old) + delta)
                      : rein__window_pack(tag, delta);
    if (atomic_compare_exchange_weak_explicit(c, &old, nv, memory_order_acq_rel,
                                              memory_order_relaxed))
      return tag;
  }
}

#endif
