/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/metrics.h: counters per policy, and Prometheus text exposition.
 *
 * A rein_metrics counts what a policy did: calls, attempts, retries, give-ups
 * by reason, budget rejections, breaker transitions, local throttling.
 * Attach it to a policy (rein_policy_config.metrics) and/or a breaker; write
 * it out with rein_metrics_write_prometheus. Counters are striped so that
 * threads counting at once do not share a cache line.
 *
 * Thread level: internally synchronized; counting is lock-free.
 */
#ifndef REIN_METRICS_H
#define REIN_METRICS_H

#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_metrics rein_metrics;

/* What is counted. Only appended. */
typedef enum rein_counter {
  REIN_C_CALLS = 0,           /* logical calls begun */
  REIN_C_ATTEMPTS,            /* attempts sent (first + retries) */
  REIN_C_RETRIES,             /* attempts after the first */
  REIN_C_SUCCESSES,           /* calls that ended DONE */
  REIN_C_GIVEUPS,             /* calls that ended GIVE_UP (any reason) */
  REIN_C_BUDGET_REJECTIONS,   /* retries refused by the budget */
  REIN_C_THROTTLED,           /* attempts rejected by the adaptive throttle */
  REIN_C_BREAKER_REJECTIONS,  /* attempts refused by an open breaker */
  REIN_C_BREAKER_OPENED,      /* transitions to OPEN */
  REIN_C_BREAKER_HALF_OPENED, /* transitions to HALF_OPEN */
  REIN_C_BREAKER_CLOSED,      /* transitions to CLOSED */
  REIN_C_SERVER_DELAYS,       /* retries whose delay a server signal raised */
  REIN_C_COUNT_
} rein_counter;

typedef struct rein_metrics_config {
  const char *policy; /* label value, copied; default "default"; [A-Za-z0-9_.:-]{1,64} */
  const rein_allocator *alloc;
  rein_errbuf *err;
} rein_metrics_config;

REIN_API void rein_metrics_config_default(rein_metrics_config *c);
REIN_API rein_status rein_metrics_new(const rein_metrics_config *c,
                                      rein_metrics **out);
REIN_API void rein_metrics_free(rein_metrics *m);

/* Add `n` to a counter. NULL `m` is a no-op (so code can count
 * unconditionally). */
REIN_API void rein_metrics_add(rein_metrics *m, rein_counter c, uint64_t n);
/* Give-ups by reason; `reason` is a rein_giveup value (rein/retry.h). */
REIN_API void rein_metrics_add_giveup(rein_metrics *m, int reason);

/* Current totals. */
REIN_API uint64_t rein_metrics_get(const rein_metrics *m, rein_counter c);
REIN_API uint64_t rein_metrics_get_giveup(const rein_metrics *m, int reason);

/*
 * Prometheus text exposition format 0.0.4 (HELP, TYPE, samples labelled
 * policy="..."; give-ups also reason="..."). Writes at most `cap` bytes
 * including a NUL; `*needed` (may be NULL) receives the full length without
 * the NUL. REIN_ETOOBIG when it did not fit (output then truncated, still
 * NUL-terminated when cap > 0). Several metrics objects can share one page:
 * pass `with_help` false for all but the first.
 */
REIN_API rein_status rein_metrics_write_prometheus(const rein_metrics *m,
                                                   char *buf, size_t cap,
                                                   size_t *needed,
                                                   bool with_help);

REIN_API const char *rein_counter_name(rein_counter c);

#ifdef __cplusplus
}
#endif
#endif /* REIN_METRICS_H */
