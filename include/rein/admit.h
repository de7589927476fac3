/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/admit.h: the server's half of the retry contract: admission control
 * that sheds load before the queue melts, and the signals that tell callers
 * whether and when to retry.
 *
 * A rein_admit sits in front of a request handler. Each request asks it for
 * a slot (rein_admit_try) and gets one of:
 *
 *   ADMITTED  run the handler now, then rein_admit_release the ticket;
 *   QUEUED    all slots are busy; the ticket waits in a bounded queue: poll
 *             it (rein_admit_poll) or block on it (rein_admit_acquire does
 *             both steps for thread-per-request servers);
 *   REJECTED  answer at once with the status and headers that
 *             rein_admit_headers builds from the decision (503 or 429,
 *             Retry-After from the drain rate, RateLimit, Rein-Dont-Retry).
 *
 * The algorithm (docs/admission.md has the full story):
 *
 * - A concurrency limit (fixed, or adaptive by AIMD on latency after Netflix
 *   concurrency-limits' AIMDLimit) and a bounded queue.
 * - Queueing-time targets in the spirit of CoDel: the server is OVERLOADED
 *   once the oldest waiter has been waiting longer than `target_ns` without
 *   a break for a whole `interval_ns` (a standing queue: the minimum queueing
 *   delay over the interval exceeded the target). It leaves that state when
 *   the queue drains by service (the queue empties through grants, or a
 *   request finds a free slot and an empty queue).
 * - While overloaded (Facebook, "Fail at Scale"): queued requests time out
 *   after `target_ns` instead of `max_wait_ns`, and the queue is served LIFO
 *   (adaptive LIFO) so the requests served are the ones whose callers are
 *   still waiting.
 * - Retries are shed first. The caller passes the request's attempt number
 *   (header Rein-Attempt, 1 = first attempt). A retry is queued only while
 *   the server is not overloaded and the queue is shorter than
 *   `retry_queue_max`; a first attempt that finds the queue full displaces
 *   the newest queued retry; queued first attempts are served before queued
 *   retries.
 * - An optional rate limit (a GCRA token bucket: `rl_quota` requests per
 *   `rl_window_ns`, bursts up to the quota) answered with 429.
 *
 * Time: every decision takes `now` (ns, any origin, never decreasing) from
 * the caller; nothing here reads a clock except rein_admit_acquire, which
 * reads the config's clock. No global state.
 *
 * Thread level: internally synchronized. try/release take a lock-free fast
 * path (C11 atomics) while the queue is empty and the server is not
 * overloaded; queueing, polling and dispatch take one mutex. A ticket belongs
 * to one request: one thread at a time calls functions on it.
 */
#ifndef REIN_ADMIT_H
#define REIN_ADMIT_H

#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_admit rein_admit;

/* What a decision says. */
typedef enum rein_admit_result {
  REIN_ADMIT_ADMITTED = 0, /* run the handler, then release the ticket */
  REIN_ADMIT_QUEUED = 1,   /* waiting for a slot: poll, wait or cancel */
  REIN_ADMIT_REJECTED = 2  /* answer now; see the reason */
} rein_admit_result;

/* Why a request was rejected. Only appended. */
typedef enum rein_admit_reason {
  REIN_ADMIT_R_NONE = 0,      /* not rejected */
  REIN_ADMIT_R_QUEUE_FULL,    /* no slot and the queue is full */
  REIN_ADMIT_R_RETRY_SHED,    /* a retry refused: overloaded or queue above
                                 retry_queue_max */
  REIN_ADMIT_R_DISPLACED,     /* a queued retry pushed out by a first attempt */
  REIN_ADMIT_R_QUEUE_TIMEOUT, /* waited longer than allowed (target_ns while
                                 overloaded, max_wait_ns otherwise) */
  REIN_ADMIT_R_RATE_LIMITED,  /* the rate limit is exhausted (429) */
  REIN_ADMIT_R_COUNT_
} rein_admit_reason;

/* When to add "Rein-Dont-Retry: ?1" to a rejection. */
typedef enum rein_admit_dont_retry {
  REIN_ADMIT_DONT_RETRY_NEVER = 0,
  /* Default: when a retry (attempt > 1) is shed for any reason but the rate
   * limit: the caller has already retried into a server that cannot keep
   * up; another layer retrying would multiply the load. */
  REIN_ADMIT_DONT_RETRY_RETRIES,
  /* As RETRIES, and also every rejection made while overloaded. */
  REIN_ADMIT_DONT_RETRY_OVERLOADED
} rein_admit_dont_retry;

typedef struct rein_admit_ticket rein_admit_ticket;

typedef struct rein_admit_config {
  /* Concurrency limit: requests admitted and not yet released. Default 64;
   * [1, 1048576]. With `adaptive`, the initial limit. */
  uint32_t limit;
  /* Bounded queue length; 0 = no queue (a pure concurrency limiter).
   * Default 128; <= 1048576. */
  uint32_t queue_max;
  /* Retries (attempt > 1) are queued only while fewer than this many
   * requests wait. Default 32; <= queue_max. */
  uint32_t retry_queue_max;
  /* CoDel target: acceptable standing queueing delay. Default 5 ms;
   * (0, 60 s]. */
  int64_t target_ns;
  /* CoDel interval: how long the delay must stay above target before the
   * server counts as overloaded; about a worst-case round trip. Default
   * 100 ms; [target_ns, 600 s]. */
  int64_t interval_ns;
  /* Queue timeout while not overloaded. Default 100 ms; [target_ns, 600 s]. */
  int64_t max_wait_ns;
  /* Serve the queue LIFO while overloaded (adaptive LIFO). Default true. */
  bool lifo_when_overloaded;

  /* Retry-After = (queue length + 1) / drain rate, clamped to [min, max]
   * and rounded up to whole seconds in the header; the rate is at most one
   * completion per time since a slot was last taken or given back while
   * slots are held (a hung upstream drains nothing). Defaults 1 s and
   * 60 s; 0 <= min <= max <= 6 h. */
  int64_t retry_after_min_ns;
  int64_t retry_after_max_ns;
  /* Window over which the drain (completion) rate is measured: the rate is
   * completions in the last complete window / its length. Default 1 s;
   * [1 ms, 60 s]. */
  int64_t rate_window_ns;
  /* Default REIN_ADMIT_DONT_RETRY_RETRIES. */
  rein_admit_dont_retry dont_retry;

  /* Rate limit: `rl_quota` requests per `rl_window_ns` (GCRA: a token bucket
   * of size rl_quota refilled at rl_quota / rl_window). 0 = off (default).
   * Quota <= 1e9; window a whole number of seconds in [1 s, 1 day] (the
   * headers speak seconds). `rl_policy` names the policy in the RateLimit
   * headers: copied, [A-Za-z0-9_.:-]{1,32}, default "default". */
  uint32_t rl_quota;
  int64_t rl_window_ns;
  const char *rl_policy;

  /* Adaptive limit, AIMD after Netflix concurrency-limits' AIMDLimit: a
   * release whose latency exceeds `aimd_latency_ns` multiplies the limit by
   * `aimd_backoff`; any other release adds 1 while in-flight >= limit / 2.
   * Kept in [limit_min, limit_max]. Off by default. */
  bool adaptive;
  uint32_t limit_min;      /* default 1 */
  uint32_t limit_max;      /* default 1024; >= limit >= limit_min */
  int64_t aimd_latency_ns; /* default 1 s; > 0 */
  double aimd_backoff;     /* default 0.9; in [0.5, 1) */

  /* Read only by rein_admit_acquire. NULL now_ns = CLOCK_MONOTONIC. */
  rein_clock clock;
  /* Called (with the admit's lock held: do not call back into rein_admit)
   * when a QUEUED ticket becomes ADMITTED or REJECTED during someone else's
   * call, so an event loop can resume the request. May be NULL. */
  void (*notify)(void *ctx, rein_admit_ticket *t);
  void *notify_ctx;

  const rein_allocator *alloc;
  rein_errbuf *err;

  /* Label value of the Prometheus output (admit="..."): copied,
   * [A-Za-z0-9_.:-]{1,64}, default "default". */
  const char *name;

  /* Spread the Retry-After of overload rejections (503) so that clients
   * shed at the same moment do not come back at the same moment (clients
   * that floor their next attempt on Retry-After would otherwise return as
   * one synchronized wave). With base = the drain time in whole seconds,
   * successive rejections get base, base+1, ..., base+ceil(base*spread)
   * seconds, round-robin (deterministic, exactly uniform), clamped to
   * retry_after_max_ns. 0 = off (default); [0, 4]. Rate-limit rejections
   * (429) keep their exact wait. */
  double retry_after_spread;
} rein_admit_config;

/*
 * A ticket: one request's place in the admission controller. Caller-allocated
 * (on the handler's stack, in a connection context), no init needed before
 * rein_admit_try; it must stay at the same address until it is released,
 * rejected or cancelled, and must not be passed to rein_admit_try again
 * before then. A zeroed ticket counts as never used (releasing it is
 * refused). It may be reused for the next request once settled. Fields are
 * private except `user`.
 */
struct rein_admit_ticket {
  void *user; /* the caller's, untouched (e.g. the connection for notify) */
  /* private */
  rein_admit_ticket *prev_, *next_;
  void *waiter_;
  int64_t enq_ns_, start_ns_, waited_ns_, retry_after_ns_;
  int64_t rl_remaining_, rl_reset_ns_;
  uint32_t attempt_;
  int state_;  /* atomic; 0 = never used */
  int reason_; /* rein_admit_reason */
  bool overloaded_, dont_retry_;
};

/*
 * A decision: everything the response needs, snapshotted when it was made,
 * so rein_admit_headers is a pure function of it.
 */
typedef struct rein_admit_decision {
  rein_admit_result result;
  rein_admit_reason reason;
  uint32_t attempt;       /* as given to rein_admit_try */
  bool overloaded;        /* the server was overloaded at the decision */
  bool dont_retry;        /* send Rein-Dont-Retry: ?1 */
  int64_t retry_after_ns; /* REJECTED: how long to wait (clamped); else -1 */
  int64_t waited_ns;      /* time spent queued (ADMITTED or REJECTED) */
  int64_t queue_len;      /* requests waiting at the decision */
  /* Rate limit snapshot; rl_quota 0 = no rate limit applies. */
  uint32_t rl_quota;
  int64_t rl_window_s;
  int64_t rl_remaining;
  /* RateLimit t=, seconds rounded up: until the bucket is full again while
   * units remain; when none remain (r=0), until the next unit, which on a
   * 429 equals Retry-After. */
  int64_t rl_reset_s;
  const char *rl_policy; /* valid while the rein_admit lives */
} rein_admit_decision;

/* Counters and gauges. */
typedef struct rein_admit_stats {
  uint64_t admitted; /* tickets that became ADMITTED (directly or queued) */
  uint64_t queued;   /* tickets that entered the queue */
  uint64_t released;
  uint64_t cancelled; /* queued tickets cancelled by their caller */
  uint64_t rejected[REIN_ADMIT_R_COUNT_];
  uint32_t inflight;
  uint32_t queue_len;
  uint32_t limit;
  bool overloaded;
  double drain_rate; /* completions per second over the last window */
} rein_admit_stats;

REIN_API void rein_admit_config_default(rein_admit_config *c);

/* Validates every field (REIN_EINVAL and a message in c->err naming the
 * field, e.g. "admit.target_ns: must be in (0, 60 s], got 0") and copies
 * what it keeps. REIN_ENOMEM when allocation fails (nothing leaks). */
REIN_API rein_status rein_admit_new(const rein_admit_config *c,
                                    rein_admit **out);

/* Frees `a` (NULL is a no-op). No ticket may be queued or admitted; their
 * memory is the caller's and is not touched. */
REIN_API void rein_admit_free(rein_admit *a);

/*
 * Ask for a slot for a request whose attempt number is `attempt` (1 = first
 * attempt; 0 is taken as 1). Returns ADMITTED, QUEUED or REJECTED, also in
 * d->result when `d` is not NULL (d is filled in every case). On ADMITTED
 * the caller must later call rein_admit_release; on QUEUED it must poll,
 * wait or cancel. A REJECTED ticket needs nothing more.
 */
REIN_API rein_admit_result rein_admit_try(rein_admit *a, rein_admit_ticket *t,
                                          uint32_t attempt, int64_t now,
                                          rein_admit_decision *d);

/* Where a QUEUED ticket stands at `now`: still QUEUED, ADMITTED (run it,
 * then release) or REJECTED (e.g. it waited past its timeout). Applies the
 * queue timeouts. For tickets in other states, reports their state. */
REIN_API rein_admit_result rein_admit_poll(rein_admit *a, rein_admit_ticket *t,
                                           int64_t now, rein_admit_decision *d);

/* The caller gives up on a QUEUED ticket (e.g. its client disconnected). An
 * ADMITTED ticket is released instead (without a latency sample). No-op for
 * other states. */
REIN_API void rein_admit_cancel(rein_admit *a, rein_admit_ticket *t,
                                int64_t now);

/*
 * The handler finished an ADMITTED request. `latency_ns` feeds the adaptive
 * limit; pass -1 to use now - (time admitted). REIN_ESTATE (and nothing
 * changes) when the ticket is not ADMITTED: released twice, rejected, or
 * never used (a zeroed ticket).
 */
REIN_API rein_status rein_admit_release(rein_admit *a, rein_admit_ticket *t,
                                        int64_t now, int64_t latency_ns);

/*
 * Blocking convenience for thread-per-request servers, built on try/poll:
 * returns ADMITTED or REJECTED, never QUEUED; while queued it sleeps on a
 * condition variable and is woken when a slot is handed to it or its queue
 * timeout passes (time read from the config's clock). Gives the same
 * decisions as try + poll at the same instants.
 */
REIN_API rein_admit_result rein_admit_acquire(rein_admit *a,
                                              rein_admit_ticket *t,
                                              uint32_t attempt,
                                              rein_admit_decision *d);

/*
 * Change the concurrency limit at run time (capacity added or lost; the
 * simulator's capacity incidents). With `adaptive`, clamped to [limit_min,
 * limit_max] and the AIMD goes on from there. A higher limit hands the new
 * slots to queued requests at once; a lower one takes effect as in-flight
 * requests finish (none is preempted). REIN_EINVAL when `limit` is outside
 * [1, 1048576].
 */
REIN_API rein_status rein_admit_set_limit(rein_admit *a, uint32_t limit,
                                          int64_t now);

/*
 * Bring the queue up to date at `now` without a ticket: apply the queue
 * timeouts, update the overload state, hand free slots to waiters (each
 * change reported through `notify`). Event loops and simulators call it on
 * a timer (about every target_ns while anything is queued) so timeouts
 * apply even when no request arrives or finishes. Cheap when the queue is
 * empty (no lock).
 */
REIN_API void rein_admit_settle(rein_admit *a, int64_t now);

/* Counters and gauges at `now` (rolls the drain-rate window if due). */
REIN_API void rein_admit_stats_get(rein_admit *a, int64_t now,
                                   rein_admit_stats *s);

/*
 * Prometheus text exposition format 0.0.4: counters rein_admit_admitted_total,
 * _queued_total, _released_total, _cancelled_total, _rejected_total (by
 * reason) and gauges rein_admit_inflight, _queue_length, _limit,
 * _overloaded, _drain_rate (completions/s), each labelled admit="name".
 * Same contract as rein_metrics_write_prometheus: at most `cap` bytes
 * including a NUL, `*needed` (may be NULL) gets the full length, REIN_ETOOBIG
 * when truncated; `with_help` false omits HELP/TYPE lines (for all but the
 * first of several objects on one page).
 */
REIN_API rein_status rein_admit_write_prometheus(rein_admit *a, int64_t now,
                                                 char *buf, size_t cap,
                                                 size_t *needed,
                                                 bool with_help);

/*
 * Rein-Attempt header value -> attempt number: a decimal integer >= 1.
 * NULL, empty or malformed values give 1 (a request that does not say is
 * treated as a first attempt); values above 1000 give 1000.
 */
REIN_API uint32_t rein_admit_parse_attempt(const char *value, size_t len);

REIN_API const char *rein_admit_reason_name(rein_admit_reason r);

/* ------------------------------------------------------------------------ */
/* Shared between processes                                                 */
/* ------------------------------------------------------------------------ */

/*
 * One admission controller for several processes (the workers of a
 * pre-forking server such as nginx), placed in memory they all map
 * (MAP_SHARED, a shared-memory zone). The block holds offsets only, no
 * pointer, so each process may map it at any address.
 *
 * The same calls work on it (try, poll, cancel, release, acquire,
 * set_limit, settle, stats, Prometheus), with the same decisions, and these
 * differences:
 *
 * - Every call takes one process-shared, robust mutex (there is no
 *   lock-free fast path: every slot holder must be a node of the block's
 *   ticket table, owned by a process id, so a crash can be accounted for).
 * - The caller's rein_admit_ticket stays in its own memory, as before; the
 *   block keeps a node for it while it is ADMITTED or QUEUED.
 * - A process that dies while holding the mutex leaves nothing locked: the
 *   next caller rebuilds the queues and counts from the ticket table and
 *   takes back the dead holder's tickets. The tickets of a process that
 *   died at any other moment are taken back by rein_admit_reclaim (its pid
 *   known, e.g. from waitpid) or rein_admit_reclaim_dead (any owner that no
 *   longer exists). Metrics rein_admit_reclaimed_total and
 *   rein_admit_repairs_total count both.
 * - config.notify must be NULL (another process cannot call it) and
 *   config.clock is ignored (acquire polls every 1 ms on CLOCK_MONOTONIC);
 *   `now` must come from CLOCK_MONOTONIC in every process.
 * - rein_admit_free on it does nothing: the memory is the caller's, and
 *   stays valid while any process uses it.
 *
 * Thread level: internally synchronized, across threads and processes.
 */

/* Bytes a block needs for `c`: the controller and a ticket table of
 * limit (limit_max when adaptive) + queue_max + 64 entries. 0 when the
 * sizes are out of range. */
REIN_API size_t rein_admit_shared_size(const rein_admit_config *c);

/* Initialize a shared admit in `mem` (`size` bytes, any alignment, zeroed
 * here), validating `c` as rein_admit_new does. REIN_EINVAL with a message
 * when `size` is below rein_admit_shared_size(c), when c->notify is set,
 * or when the system has no process-shared robust mutex. `*out` points
 * into `mem`. Call once, before other processes attach. */
REIN_API rein_status rein_admit_new_shared(const rein_admit_config *c,
                                          void *mem, size_t size,
                                          rein_admit **out);

/* The shared admit another process initialized in `mem` (mapped at any
 * address). REIN_EINVAL when `mem` holds none, or one from an incompatible
 * build of this library. */
REIN_API rein_status rein_admit_attach_shared(void *mem, size_t size,
                                             rein_admit **out);

/* Change the settings of a live shared admit (a server reloading its
 * configuration keeps the state: in-flight counts, queue, rates). Every
 * field is validated as by rein_admit_new; REIN_EINVAL also when `a` is
 * not shared or when limit + queue_max need more tickets than the block
 * holds. The limit is set to c->limit; queued tickets stay queued. */
REIN_API rein_status rein_admit_shared_reconfigure(rein_admit *a,
                                                  const rein_admit_config *c,
                                                  int64_t now);

/* Take back every ticket owned by process `pid` (which must be gone): its
 * slots are released (counted as releases) and its queued tickets leave
 * the queue (counted as cancels). `*count` (may be NULL) gets how many.
 * REIN_EINVAL when `a` is not shared or pid <= 0. */
REIN_API rein_status rein_admit_reclaim(rein_admit *a, int pid, int64_t now,
                                        uint32_t *count);

/* As rein_admit_reclaim, for every owner other than the caller that no
 * longer exists (kill(pid, 0) fails with ESRCH; a zombie not yet reaped
 * counts as alive). One scan of the table under the mutex. */
REIN_API rein_status rein_admit_reclaim_dead(rein_admit *a, int64_t now,
                                             uint32_t *count);

/* ------------------------------------------------------------------------ */
/* Signals out                                                              */
/* ------------------------------------------------------------------------ */

#define REIN_ADMIT_MAX_HEADERS 6

typedef struct rein_admit_header {
  const char *name;  /* static string, e.g. REIN_HEADER_RETRY_AFTER */
  const char *value; /* points into the response's storage */
} rein_admit_header;

/* Caller-allocated; filled by rein_admit_headers. */
typedef struct rein_admit_response {
  /* 0 when admitted (the handler chooses the status), 503 when shed for
   * overload, 429 when rate limited. */
  int status;
  size_t count;
  rein_admit_header headers[REIN_ADMIT_MAX_HEADERS];
  char store_[320];
} rein_admit_response;

/*
 * The response status and headers for a decision, for any HTTP framework:
 *
 *   Retry-After: <seconds>                 on rejections: ceil(retry_after)
 *   Rein-Dont-Retry: ?1                    when d->dont_retry
 *   RateLimit-Policy: "<name>";q=<Q>;w=<W> when a rate limit applies
 *   RateLimit: "<name>";r=<R>;t=<T>        when a rate limit applies
 *   Idempotency-Key-Retention: <seconds>   when idem_retention_ns >= 0 (the
 *                                          request carried a key; pass -1
 *                                          otherwise), rounded down
 *
 * Order as listed. Header names are the REIN_HEADER_* macros of
 * rein/signal.h. REIN_EINVAL for NULL arguments. Pure; thread-safe.
 */
REIN_API rein_status rein_admit_headers(const rein_admit_decision *d,
                                        int64_t idem_retention_ns,
                                        rein_admit_response *out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_ADMIT_H */
