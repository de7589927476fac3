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

/* Add `delta` to `counter` in the slot of `now`; returns the epoch tag used
 * (for rein__window_undo). */
uint32_t rein__window_add(rein__window *w, uint32_t stripe, uint32_t counter,
                          int64_t now, int64_t delta);
/* Add `delta` only if the slot still holds epoch `tag` (else the earlier add
 * has expired with its slot and there is nothing to undo). */
void rein__window_undo(rein__window *w, uint32_t stripe, uint32_t counter,
                       int64_t now_at_add, uint32_t tag, int64_t delta);
/* Sum of `counter` over the window ending at `now`. */
int64_t rein__window_sum(rein__window *w, uint32_t counter, int64_t now);
/* Zero every cell (each with an atomic exchange, so concurrent adds are
 * either kept whole or cleared whole). */
void rein__window_clear(rein__window *w);

#endif
