/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/breaker.h: circuit breaker.
 *
 * Stops calls to a dependency that is failing, then lets a few probes through
 * to see whether it recovered. Semantics follow resilience4j (the most
 * complete public description of a sliding-window breaker):
 *
 *  CLOSED     calls pass; outcomes go into a sliding window, either COUNT
 *             based (the last `window_size` calls) or TIME based (calls in the
 *             last `window_ns`, kept in `buckets` buckets). When the window
 *             holds at least `min_calls` calls and the failure rate >=
 *             `failure_rate` or the slow-call rate >= `slow_rate`, it OPENs.
 *  OPEN       calls are refused until `open_ns` (+/- `open_jitter` x open_ns,
 *             so a fleet of breakers does not re-probe in step) has passed.
 *  HALF_OPEN  exactly `half_open_probes` calls are permitted; when they have
 *             all reported, the breaker CLOSEs (window cleared) if their
 *             failure rate is below `failure_rate`, else OPENs again. A probe
 *             that never reports is given up on after `open_ns`.
 *
 * A call asks rein_breaker_allow() for a permit and hands it back with its
 * outcome to rein_breaker_record(). The permit carries the breaker generation,
 * so an outcome from before a transition cannot count against the new state.
 * Modes: NORMAL, FORCED_OPEN (refuse everything), DISABLED (permit
 * everything, record nothing).
 *
 * Retry-only breaker (`gates` = REIN_BREAKER_GATES_RETRIES; Brooker 2022,
 * "Fixing retries with token buckets and circuit breakers"): it never
 * refuses a call's first attempt; it refuses retries (and, later, hedges:
 * any attempt after a call's first, asked through
 * rein_breaker_allow_retry) while the window holds at least `min_calls`
 * outcomes and their failure share is >= `failure_rate` (or the slow share
 * >= `slow_rate`). There is no OPEN period and no probing: first attempts
 * keep flowing and keep measuring, so retries resume as soon as the share
 * falls below the threshold. rein_breaker_state_at reads OPEN while
 * retries are refused, CLOSED otherwise. FORCED_OPEN refuses every retry
 * (never a first attempt); DISABLED permits everything and records
 * nothing. The window may be COUNT, TIME, or CUMULATIVE (every outcome
 * since creation or the last reset).
 *
 * Thread level: internally synchronized, lock-free; allow() on a CLOSED
 * breaker writes nothing, record() of a success writes one striped counter.
 * Window counts are exact while no transition races with them; the thread
 * that makes a transition runs the state callback, outside any lock.
 */
#ifndef REIN_BREAKER_H
#define REIN_BREAKER_H

#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_breaker rein_breaker;
struct rein_metrics;

typedef enum rein_breaker_state {
  REIN_BREAKER_CLOSED = 0,
  REIN_BREAKER_OPEN = 1,
  REIN_BREAKER_HALF_OPEN = 2
} rein_breaker_state;

typedef enum rein_breaker_window {
  REIN_BREAKER_WINDOW_COUNT = 0,
  REIN_BREAKER_WINDOW_TIME = 1,
  REIN_BREAKER_WINDOW_CUMULATIVE = 2 /* every outcome since creation (or the
                                        last reset / close) */
} rein_breaker_window;

/* What a breaker refuses. */
typedef enum rein_breaker_gates {
  REIN_BREAKER_GATES_ALL = 0,    /* every call (the classic breaker) */
  REIN_BREAKER_GATES_RETRIES = 1 /* retries and hedges only, never a first
                                    attempt (see above) */
} rein_breaker_gates;

typedef enum rein_breaker_mode {
  REIN_BREAKER_NORMAL = 0,
  REIN_BREAKER_FORCED_OPEN = 1,
  REIN_BREAKER_DISABLED = 2
} rein_breaker_mode;

typedef void (*rein_breaker_callback)(void *ctx, rein_breaker_state from,
                                      rein_breaker_state to, int64_t now);

typedef struct rein_breaker_config {
  rein_breaker_window window; /* default TIME */
  uint32_t window_size;       /* COUNT: calls kept; default 100; [1, 100000] */
  int64_t window_ns;          /* TIME: default 10 s; [1 ms, 1 h] */
  uint32_t buckets;           /* TIME: default 10; [1, 60] */
  uint32_t min_calls;         /* default 20; >= 1 */
  double failure_rate;        /* default 0.5; (0, 1] */
  double slow_rate;           /* default 1.0; (0, 1]; 1 with slow_call_ns = 0
                                 disables the slow-call rule */
  int64_t slow_call_ns;       /* a call at least this long is slow; 0 = off */
  int64_t open_ns;            /* default 5 s; > 0 */
  double open_jitter;         /* default 0.2; [0, 1) */
  uint32_t half_open_probes;  /* default 3; [1, 1000] */
  uint64_t seed;              /* seeds the open-duration jitter; default 1 */
  rein_breaker_callback on_state_change; /* optional */
  void *callback_ctx;
  struct rein_metrics *metrics; /* optional, borrowed: counts transitions */
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Appended. ALL (default) or RETRIES: a retry-only breaker, which
   * ignores open_ns, open_jitter and half_open_probes. */
  rein_breaker_gates gates;
  /* Appended. Counter stripes: 0 = 16 (the default: threads update their
   * own cache lines); else a power of two in [1, 16]. 1 for an object only
   * one thread uses (a simulated client): a sixteenth of the counter
   * memory, the same answers. */
  uint32_t stripes;
} rein_breaker_config;

/* A permission to make one call, returned by rein_breaker_allow(). */
typedef struct rein_breaker_permit {
  uint32_t generation;
  uint8_t probe; /* 1 when this call is a half-open probe */
  uint8_t valid; /* 0 when the call was refused */
} rein_breaker_permit;

REIN_API void rein_breaker_config_default(rein_breaker_config *c);
REIN_API rein_status rein_breaker_new(const rein_breaker_config *c,
                                      rein_breaker **out);
REIN_API void rein_breaker_free(rein_breaker *b);

/* May a call go out now? true fills `*permit` (which must then be recorded);
 * false means the breaker is OPEN, FORCED_OPEN, or HALF_OPEN with all probes
 * out. A retry-only breaker always permits (this is the first attempt's
 * question). */
REIN_API bool rein_breaker_allow(rein_breaker *b, int64_t now,
                                 rein_breaker_permit *permit);

/* May an attempt after a call's first (a retry, later a hedge) go out now?
 * The same as rein_breaker_allow for a breaker that gates ALL (and for a
 * custom breaker); for a retry-only breaker, false while the failure (or
 * slow) share of the window is at or above its threshold. Lock-free, never
 * allocates: it reads the window (a time window sums its stripes). */
REIN_API bool rein_breaker_allow_retry(rein_breaker *b, int64_t now,
                                       rein_breaker_permit *permit);

/* The outcome of a permitted call. `failure` counts against the failure
 * rate; `duration_ns` decides whether it was slow. */
REIN_API void rein_breaker_record(rein_breaker *b,
                                  const rein_breaker_permit *permit,
                                  bool failure, int64_t duration_ns,
                                  int64_t now);

/* State as of `now` (an OPEN breaker whose time is up reads HALF_OPEN). */
REIN_API rein_breaker_state rein_breaker_state_at(rein_breaker *b, int64_t now);
REIN_API void rein_breaker_set_mode(rein_breaker *b, rein_breaker_mode mode);
REIN_API rein_breaker_mode rein_breaker_get_mode(const rein_breaker *b);
/* The config the breaker was made from (alloc and err NULL). REIN_EINVAL
 * for NULL; REIN_EUNSUPPORTED for a custom breaker. */
REIN_API rein_status rein_breaker_get_config(const rein_breaker *b,
                                             rein_breaker_config *out);
/* Back to CLOSED with an empty window. */
REIN_API void rein_breaker_reset(rein_breaker *b, int64_t now);

/* Window contents as of `now` (for metrics and tests). */
typedef struct rein_breaker_stats {
  rein_breaker_state state;
  uint64_t calls, failures, slow;
  uint32_t generation;
} rein_breaker_stats;
REIN_API void rein_breaker_stats_get(rein_breaker *b, int64_t now,
                                     rein_breaker_stats *out);

REIN_API const char *rein_breaker_state_name(rein_breaker_state s);

/*
 * Custom breakers (rein/fleet.h). Same rules as custom budgets: thread-safe,
 * never blocking on I/O.
 */
typedef struct rein_breaker_vtable {
  uint32_t version; /* REIN_BREAKER_VTABLE_VERSION */
  const char *name;
  bool (*allow)(void *impl, int64_t now, rein_breaker_permit *permit);
  void (*record)(void *impl, const rein_breaker_permit *permit, bool failure,
                 int64_t duration_ns, int64_t now);
  rein_breaker_state (*state_at)(void *impl, int64_t now);
  void (*destroy)(void *impl);
} rein_breaker_vtable;
#define REIN_BREAKER_VTABLE_VERSION 1u

REIN_API rein_status rein_breaker_new_custom(const rein_breaker_vtable *vt,
                                             void *impl,
                                             const rein_allocator *alloc,
                                             rein_breaker **out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_BREAKER_H */
