/* SPDX-License-Identifier: Apache-2.0 */
/*
 * budget_internal.h: the budget's layout, shared with retry.c so the engine
 * can pass its stripe hint down without a public API for it.
 */
#ifndef REIN_CORE_BUDGET_INTERNAL_H
#define REIN_CORE_BUDGET_INTERNAL_H

#include "rein/budget.h"
#include "window.h"

#include <stdatomic.h>

struct rein_budget {
  const rein_budget_vtable *vt; /* custom budgets only; NULL for built-ins */
  void *impl;
  rein_budget_kind kind;
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  /* RATIO: milli-retries; deposit = ratio * 1000 per request */
  rein__window win;
  int64_t deposit_milli, reserve_milli;
  /* TOKEN_BUCKET (milli-tokens) and QUOTA (units) */
  _Alignas(64) _Atomic int64_t tokens;
  int64_t max_tokens_milli, token_ratio_milli;
  uint32_t capacity, retry_cost, timeout_retry_cost, success_increment;
  rein_budget_config cfg; /* as given (alloc, err cleared): get_config */
};

void rein__budget_on_request_s(rein_budget *b, int64_t now, uint32_t stripe);
bool rein__budget_try_retry_s(rein_budget *b, int64_t now, bool timeout,
                              uint32_t *cost, uint32_t stripe);

#endif
