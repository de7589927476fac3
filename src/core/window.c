/* SPDX-License-Identifier: Apache-2.0 */
/*
 * window.c: striped sliding-window counters; see window.h for the layout and
 * why each cell packs epoch and value into one atomic word.
 */
#include "window.h"

rein_status rein__window_init(rein__window *w, const rein_allocator *a,
                              int64_t window_ns, uint32_t nslots,
                              uint32_t ncounters, uint32_t nstripes) {
  w->nslots = nslots;
  w->ncounters = ncounters;
  w->nstripes = nstripes; /* a power of two: stripes are masked */
  atomic_init(&w->used, 0);
  w->slot_ns = window_ns / nslots;
  if (w->slot_ns < 1) w->slot_ns = 1;
  size_t per = (size_t)nslots * ncounters + 1; /* + the slot hint */
  size_t line = REIN__CACHELINE / sizeof(uint64_t);
  w->stripe_cells = (per + line - 1) / line * line;
  w->cells = rein__alloc_aligned(a, w->stripe_cells * nstripes *
                                        sizeof(_Atomic uint64_t));
  if (!w->cells) return REIN_ENOMEM;
  for (size_t i = 0; i < w->stripe_cells * nstripes; i++)
    atomic_init(&w->cells[i], 0);
  return REIN_OK;
}

void rein__window_destroy(rein__window *w, const rein_allocator *a) {
  rein__free_aligned(a, (void *)w->cells);
  w->cells = NULL;
}

uint64_t rein__window_roll(rein__window *w, uint32_t stripe, int64_t now,
                           uint32_t *slot) {
  uint64_t e = (uint64_t)(now / w->slot_ns);
  *slot = (uint32_t)(e % w->nslots);
  uint32_t bit = UINT32_C(1) << (stripe & (w->nstripes - 1));
  if (!(atomic_load_explicit(&w->used, memory_order_relaxed) & bit))
    atomic_fetch_or_explicit(&w->used, bit, memory_order_seq_cst);
  _Atomic uint64_t *hint =
      &w->cells[(size_t)(stripe & (w->nstripes - 1)) * w->stripe_cells +
                w->stripe_cells - 1];
  atomic_store_explicit(hint, e << 9 | 0x100 | *slot, memory_order_relaxed);
  return e;
}

void rein__window_undo(rein__window *w, uint32_t stripe, uint32_t counter,
                       int64_t now_at_add, uint32_t tag, int64_t delta) {
  uint32_t slot;
  (void)rein__window_epoch(w, stripe, now_at_add < 0 ? 0 : now_at_add, &slot);
  _Atomic uint64_t *c = rein__window_cell(w, stripe, counter, slot);
  uint64_t old = atomic_load_explicit(c, memory_order_relaxed);
  while (rein__window_tag(old) == tag) {
    if (atomic_compare_exchange_weak_explicit(
            c, &old, rein__window_pack(tag, rein__window_val(old) + delta),
            memory_order_acq_rel, memory_order_relaxed))
      return;
  }
}

int64_t rein__window_sum(rein__window *w, uint32_t counter, int64_t now) {
  if (now < 0) now = 0;
  uint64_t e = (uint64_t)(now / w->slot_ns);
  uint32_t cur = (uint32_t)(e & REIN__WIN_TAG_MASK);
  int64_t sum = 0;
  uint32_t used = atomic_load_explicit(&w->used, memory_order_seq_cst);
  for (uint32_t s = 0; s < w->nstripes; s++) {
    if (!(used & (UINT32_C(1) << s))) continue;
    const _Atomic uint64_t *base =
        &w->cells[(size_t)s * w->stripe_cells + (size_t)counter * w->nslots];
    for (uint32_t i = 0; i < w->nslots; i++) {
      uint64_t c = atomic_load_explicit(&base[i], memory_order_acquire);
      uint32_t age = (cur - rein__window_tag(c)) & (uint32_t)REIN__WIN_TAG_MASK;
      if (age < w->nslots) sum += rein__window_val(c);
    }
  }
  return sum;
}

void rein__window_clear(rein__window *w) {
  for (size_t i = 0; i < w->stripe_cells * w->nstripes; i++)
    atomic_exchange_explicit(&w->cells[i], 0, memory_order_acq_rel);
}
