/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/budget.h: retry budgets: how many retries a client may spend.
 *
 * A budget is shared by every call of a client (or of a cohort, or, through
 * rein/fleet.h, of a whole fleet) and answers one question per retry: may I?
 * Three kinds, each following its anchor:
 *
 *  RATIO (Finagle RetryBudget): every first attempt deposits `ratio` retries,
 *    every retry withdraws one; deposits expire after `ttl`. A floor of
 *    `min_retries_per_sec` x ttl retries is always available so low-traffic
 *    clients can still retry. Over any ttl window:
 *      retries <= ratio * requests + min_retries_per_sec * ttl_s.
 *  TOKEN_BUCKET (gRPC retry throttling, A6): `max_tokens` tokens, starting
 *    full; each failed attempt whose outcome the policy retries costs 1
 *    (rein_retry_next calls rein_budget_on_failure only for those: a 400
 *    takes nothing), each success adds `token_ratio`
 *    (capped at max). A retry is allowed only while tokens > max_tokens / 2.
 *  QUOTA (AWS SDK "standard" retry mode): a bucket of `capacity` units,
 *    starting full; a retry costs `retry_cost` (`timeout_retry_cost` when the
 *    failure was a timeout) and is refused when not enough is left; a
 *    successful retry refunds its cost, a success without retry adds
 *    `success_increment` (capped at capacity).
 *
 * Lock-free (C11 atomics) and zero-allocation per decision. Thread level:
 * internally synchronized; share one budget between any number of threads.
 * Under contention a RATIO budget may refuse a retry it could have granted
 * (it withdraws optimistically and gives back on overdraft) but never grants
 * more than the bound above.
 */
#ifndef REIN_BUDGET_H
#define REIN_BUDGET_H

#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_budget rein_budget;

typedef enum rein_budget_kind {
  REIN_BUDGET_RATIO = 0,
  REIN_BUDGET_TOKEN_BUCKET = 1,
  REIN_BUDGET_QUOTA = 2,
  REIN_BUDGET_CUSTOM = 3 /* created by rein_budget_new_custom (e.g. fleet) */
} rein_budget_kind;

typedef struct rein_budget_config {
  rein_budget_kind kind; /* default RATIO */

  /* RATIO */
  double ratio;               /* default 0.1 (10%); in [0, 1000] */
  int64_t ttl_ns;             /* default 10 s; in [1 ms, 1 h] */
  double min_retries_per_sec; /* default 10; >= 0 */

  /* TOKEN_BUCKET */
  double max_tokens;  /* default 100; in (0, 1000] as gRPC */
  double token_ratio; /* default 0.1; in (0, max_tokens] */

  /* QUOTA */
  uint32_t capacity;           /* default 500 */
  uint32_t retry_cost;         /* default 5 */
  uint32_t timeout_retry_cost; /* default 10 */
  uint32_t success_increment;  /* default 1 */

  const rein_allocator *alloc; /* NULL = malloc */
  rein_errbuf *err;            /* optional: message on REIN_EINVAL */
  /* Appended. Counter stripes: 0 = 16 (the default: threads update their
   * own cache lines); else a power of two in [1, 16]. 1 for an object only
   * one thread uses (a simulated client): a sixteenth of the counter
   * memory, the same answers. */
  uint32_t stripes;
} rein_budget_config;

REIN_API void rein_budget_config_default(rein_budget_config *c);

/* Validates every field of the chosen kind (REIN_EINVAL and a message naming
 * e.g. "budget.ratio"), allocates. REIN_ENOMEM on allocation failure. */
REIN_API rein_status rein_budget_new(const rein_budget_config *c,
                                     rein_budget **out);
/* Frees; NULL is a no-op. No call may be using the budget. */
REIN_API void rein_budget_free(rein_budget *b);

/* A first attempt is being made (RATIO deposits; others ignore it). */
REIN_API void rein_budget_on_request(rein_budget *b, int64_t now);

/*
 * May this call retry now? `timeout` says the failure was a timeout (QUOTA
 * charges timeout_retry_cost). On true, `*cost` (may be NULL) receives what
 * was withdrawn, to be passed back to rein_budget_on_success.
 */
REIN_API bool rein_budget_try_retry(rein_budget *b, int64_t now, bool timeout,
                                    uint32_t *cost);

/* An attempt succeeded; `cost` is what its retry withdrew (0 for a first
 * attempt). TOKEN_BUCKET adds token_ratio; QUOTA refunds or increments. */
REIN_API void rein_budget_on_success(rein_budget *b, int64_t now,
                                     uint32_t cost);

/* An attempt failed (TOKEN_BUCKET takes one token). */
REIN_API void rein_budget_on_failure(rein_budget *b, int64_t now);

/* What a retry could withdraw now, in retries (RATIO: balance including the
 * floor; TOKEN_BUCKET: tokens; QUOTA: units). For metrics and tests. */
REIN_API double rein_budget_available(rein_budget *b, int64_t now);

REIN_API rein_budget_kind rein_budget_get_kind(const rein_budget *b);
/* The config the budget was made from (alloc and err NULL). REIN_EINVAL for
 * NULL; REIN_EUNSUPPORTED for a custom budget. */
REIN_API rein_status rein_budget_get_config(const rein_budget *b,
                                            rein_budget_config *out);

/*
 * Custom budgets (how rein/fleet.h plugs a Redis-backed budget into the same
 * retry engine). The vtable is static const in the implementing file; `impl`
 * is owned by the budget and released through `destroy` on rein_budget_free.
 * Every function must be thread-safe and must not block on I/O.
 */
typedef struct rein_budget_vtable {
  uint32_t version; /* REIN_BUDGET_VTABLE_VERSION */
  const char *name;
  void (*on_request)(void *impl, int64_t now);
  bool (*try_retry)(void *impl, int64_t now, bool timeout, uint32_t *cost);
  void (*on_success)(void *impl, int64_t now, uint32_t cost);
  void (*on_failure)(void *impl, int64_t now);
  double (*available)(void *impl, int64_t now);
  void (*destroy)(void *impl);
} rein_budget_vtable;
#define REIN_BUDGET_VTABLE_VERSION 1u

REIN_API rein_status rein_budget_new_custom(const rein_budget_vtable *vt,
                                            void *impl,
                                            const rein_allocator *alloc,
                                            rein_budget **out);

REIN_API const char *rein_budget_kind_name(rein_budget_kind k);
REIN_API rein_status rein_budget_kind_parse(const char *s, rein_budget_kind *out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_BUDGET_H */
