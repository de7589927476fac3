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

#include "rein/clock.h"
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
  REIN_C_RETENTION_LATE,      /* retries sent after the key's known
                                 retention (retention WARN, rein/retry.h 5a) */
  REIN_C_HEDGES,              /* hedged attempts sent (rein/hedge.h; also
                                 counted in REIN_C_RETRIES) */
  REIN_C_HEDGES_CANCELLED,    /* attempts in flight cancelled when a hedged
                                 call ended */
  REIN_C_COUNT_
} rein_counter;

/* Histograms. Only appended. Values are nanoseconds for the *_seconds
 * ones (written in seconds) and plain counts for the others. */
typedef enum rein_histogram {
  /* rein_attempt_duration_seconds: each attempt, from the ATTEMPT decision
   * to its outcome (gRPC A66 grpc.client.attempt.duration). */
  REIN_H_ATTEMPT_DURATION = 0,
  /* rein_retry_delay_seconds: each delay chosen before a retry, after
   * server signals raised it. */
  REIN_H_RETRY_DELAY,
  /* rein_call_retry_delay_seconds: per call with at least one retry, the
   * total time spent waiting between attempts (A96
   * grpc.client.call.retry_delay). */
  REIN_H_CALL_RETRY_DELAY,
  /* rein_call_attempts: attempts per finished call (every call). */
  REIN_H_CALL_ATTEMPTS,
  /* rein_call_retries: retries per call with at least one retry; calls
   * without retries are not recorded (A96 grpc.client.call.retries). */
  REIN_H_CALL_RETRIES,
  REIN_H_COUNT_
} rein_histogram;

/* Upper bounds per histogram, at most this many (+Inf is implicit). */
#define REIN_METRICS_MAX_BOUNDS 48

typedef struct rein_histogram_snapshot {
  size_t n_bounds;
  const int64_t *bounds; /* ascending upper bounds ("le"), n_bounds */
  uint64_t cumulative[REIN_METRICS_MAX_BOUNDS + 1]; /* [n_bounds] is +Inf */
  uint64_t count;                                   /* = cumulative[n_bounds] */
  int64_t sum; /* sum of observed values (saturating) */
} rein_histogram_snapshot;

typedef struct rein_metrics_config {
  const char *policy; /* label value, copied; default "default";
                         [A-Za-z0-9_.:-]{1,64} */
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Reads `now` for the gauges in rein_metrics_write_prometheus (the _many
   * form takes `now` from its caller). Default: monotonic. */
  rein_clock clock;
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

/* Record one value in a histogram (nanoseconds for the *_seconds ones;
 * negative values count as 0). NULL `m` is a no-op. Lock-free. */
REIN_API void rein_metrics_observe(rein_metrics *m, rein_histogram h,
                                   int64_t value);

/* Current totals. */
REIN_API uint64_t rein_metrics_get(const rein_metrics *m, rein_counter c);
REIN_API uint64_t rein_metrics_get_giveup(const rein_metrics *m, int reason);
/* A histogram's current cumulative buckets, count and sum. REIN_EINVAL for
 * a NULL argument or an unknown histogram. */
REIN_API rein_status rein_metrics_histogram_get(const rein_metrics *m,
                                                rein_histogram h,
                                                rein_histogram_snapshot *out);

/*
 * Gauges: the metrics object reads the budget's balance
 * (rein_budget_available: rein_budget_available{policy}) and the breaker's
 * state (rein_breaker_state{policy,state} as a state set: 1 for the current
 * state, 0 for the others) whenever it is written. Pass NULL to stop
 * watching. The watched object must outlive the watch (call with NULL
 * before freeing it). Thread-safe.
 */
struct rein_budget;
struct rein_breaker;
REIN_API void rein_metrics_watch_budget(rein_metrics *m, struct rein_budget *b);
REIN_API void rein_metrics_watch_breaker(rein_metrics *m,
                                         struct rein_breaker *b);

/*
 * Prometheus text exposition format 0.0.4 of `n` metrics objects on one
 * page: each family (HELP, TYPE, then the samples of every object, labelled
 * policy="..."; give-ups also reason="...", histograms le="...") appears
 * once, as the format requires. Gauges read the watched budget and breaker
 * at `now`. Writes at most `cap` bytes including a NUL; `*needed` (may be
 * NULL) receives the full length without the NUL. REIN_ETOOBIG when it did
 * not fit (output then truncated, still NUL-terminated when cap > 0);
 * REIN_EINVAL for a NULL object, n == 0, or two objects with the same
 * policy label (their series would collide).
 */
REIN_API rein_status rein_metrics_write_prometheus_many(
    const rein_metrics *const *ms, size_t n, int64_t now, char *buf, size_t cap,
    size_t *needed);

/*
 * One object; `now` from the config's clock. `with_help` false leaves out
 * the HELP and TYPE lines. Deprecated for several objects on one page:
 * concatenating them splits each family, which the text format forbids;
 * use rein_metrics_write_prometheus_many.
 */
REIN_API rein_status rein_metrics_write_prometheus(const rein_metrics *m,
                                                   char *buf, size_t cap,
                                                   size_t *needed,
                                                   bool with_help);

REIN_API const char *rein_counter_name(rein_counter c);
REIN_API const char *rein_histogram_name(rein_histogram h);

#ifdef __cplusplus
}
#endif
#endif /* REIN_METRICS_H */
