/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/retry.h: the retry engine: a per-call state machine and its blocking
 * wrapper.
 *
 * A rein_policy (immutable, shared) says how to retry: attempts, backoff,
 * which outcomes are retryable, the retry window, and the shared budget,
 * breaker, throttle and metrics it consults. A rein_retry (caller-allocated,
 * one per logical call, no allocation) walks one call through it:
 *
 *   d = rein_retry_begin(&r, now)            -> ATTEMPT | GIVE_UP
 *   loop:
 *     ATTEMPT: send attempt d.attempt, then
 *              d = rein_retry_next(&r, &outcome, now)
 *                                            -> DONE | WAIT | GIVE_UP
 *     WAIT:    after d.delay_ns (timer, event loop, sleep),
 *              d = rein_retry_next(&r, NULL, now)
 *                                            -> ATTEMPT | WAIT | GIVE_UP
 *
 * Nothing here sleeps or reads a clock: `now` comes from the caller (read it
 * once per decision from the policy's clock, rein_policy_now). That makes
 * every decision deterministic under a manual clock and usable from any
 * event loop. rein_retry_run is the blocking wrapper, written only on top of
 * these two functions.
 *
 * Decision order after a failed attempt (first match wins):
 *   0. the server says an earlier attempt with this call's key is still in
 *      progress (outcome.in_progress, e.g. rein_idem_http's 409 with
 *      Retry-After) and the call has a key: not a failure (no budget token,
 *      no breaker failure); WAIT max(outcome.server_delay_ns, backoff) and
 *      send again with the same key, until the replay comes or the window
 *      / deadline would be passed (-> WINDOW / DEADLINE). Such attempts do
 *      not count against max_attempts when the call has a window or a
 *      deadline to bound them; without either they do (-> MAX_ATTEMPTS).
 *      Without a key the outcome is judged by its kind like any other.
 *   1. the outcome is not retryable                        -> NOT_RETRYABLE
 *      (its condition is not in the policy's retryable set, or, with no
 *      condition or no set, its kind is not in retry_on). Only a retryable
 *      failure takes a token from a TOKEN_BUCKET budget (gRPC A6: failures
 *      whose status is not retryable do not throttle retries).
 *   2. the server said don't retry (outcome.dont_retry)   -> SERVER_STOP
 *   3. non-idempotent, no key, and the request may have
 *      reached the server (anything but NOT_SENT)         -> NON_IDEMPOTENT
 *   4. attempts used up                                   -> MAX_ATTEMPTS
 *   5. delay = max(backoff(n), outcome.server_delay_ns); if now + delay +
 *      expected attempt time ends past the retry window   -> WINDOW
 *      ... or past the call's deadline                    -> DEADLINE
 *  5a. the call has a key, the key's retention is known (the policy's
 *      key_retention_ns, or the shortest Idempotency-Key-Retention a
 *      response of this call carried: rein_outcome.key_retention_ns), and
 *      the retry would be sent at or after begin + retention, when the
 *      server may have forgotten the key and would run the request again:
 *      retention REFUSE (AUTO on a non-idempotent policy) -> RETENTION
 *      WARN (AUTO on an idempotent policy): counted
 *      (REIN_C_RETENTION_LATE) and sent. Step 0's polls are checked too.
 *  5b. the breaker is retry-only (rein/breaker.h, gates RETRIES) and
 *      its failure share is at or over the threshold     -> RETRY_BREAKER
 *      (before the budget: no token is taken, nothing waited for; step
 *      0's polls skip it, and are asked on resume like any retry)
 *   6. the budget refuses                                 -> BUDGET
 *   7. WAIT(delay); on_retry fires; then on resume:
 *                                   breaker refuses       -> BREAKER_OPEN
 *                                   (retry-only breaker)  -> RETRY_BREAKER
 *                                   throttle rejects      -> THROTTLED
 * A server delay is a floor on the next delay, never a reason to retry
 * sooner. begin() applies the breaker and throttle checks to the first
 * attempt, so a call can fail fast without sending anything; a retry-only
 * breaker is never consulted there (it never refuses a first attempt).
 *
 * Events (resilience4j's and Polly's habit; rein_policy_config.on_retry,
 * on_give_up): plain function pointers the state machine calls, on the
 * caller's thread, inside the rein_retry_begin / rein_retry_next that made
 * the decision, after the call's state is updated and just before it
 * returns. No lock is held (the engine takes none; the breaker's state
 * callback has returned), nothing is allocated, and the event is on the
 * stack: copy what you keep. A callback must not call rein_retry_* on the
 * same rein_retry.
 *   on_retry    when next() decides to retry: the returned decision is
 *               WAIT(delay_ns) for the retry (or for an in-progress poll,
 *               step 0: event.poll). Fired once per retry, not for a
 *               repeated next(NULL) before the delay is up. The retry may
 *               still be refused on resume (step 7), and then on_give_up
 *               follows.
 *   on_give_up  when begin() or next() returns GIVE_UP with a reason (not
 *               for the misuse GIVE_UP with reason NONE): exactly once per
 *               call that gives up, with the reason and dont_retry the
 *               decision carries.
 *   on_hedge    (rein/hedge.h) when rein_hedge_begin / _poll / _outcome
 *               returns ATTEMPT for a hedge (attempt 2, 3, ...):
 *               event.attempt is the hedge's number, delay_ns the time
 *               since the previous attempt was sent, last the kind of the
 *               latest answer (SUCCESS when none has come: the delay ran
 *               out). A hedged call also fires on_give_up as above when it
 *               ends GIVE_UP (attempt = attempts sent); never on_retry.
 *
 * "Don't retry" propagation: a GIVE_UP carries dont_retry = true when rein
 * stopped because the system is overloaded or this layer already retried
 * (SERVER_STOP, BUDGET, BREAKER_OPEN, RETRY_BREAKER, THROTTLED, RETENTION,
 * and MAX_ATTEMPTS /
 * WINDOW / DEADLINE after at least one retry). Return it to your caller (e.g.
 * the Rein-Dont-Retry header) so the layer above does not multiply the load.
 *
 * Thread level: rein_policy is immutable after creation (share freely; the
 * objects it points to are internally synchronized). A rein_retry is used by
 * one thread at a time.
 */
#ifndef REIN_RETRY_H
#define REIN_RETRY_H

#include "rein/backoff.h"
#include "rein/breaker.h"
#include "rein/budget.h"
#include "rein/classify.h"
#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"
#include "rein/metrics.h"
#include "rein/rng.h"
#include "rein/throttle.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_policy rein_policy;

#define REIN_RETRY_ON_DEFAULT                                                  \
  (REIN_RETRY_ON(REIN_OUTCOME_FAILURE) | REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT) | \
   REIN_RETRY_ON(REIN_OUTCOME_NOT_SENT) |                                      \
   REIN_RETRY_ON(REIN_OUTCOME_OVERLOADED))

typedef struct rein_outcome {
  rein_outcome_kind kind;
  int64_t server_delay_ns; /* floor on the next delay (Retry-After,
                              pushback; see rein_signals_delay_floor); 0 none */
  bool dont_retry;         /* the server or a lower layer said don't retry */
  /* Appended (zero = not given, today's kind-only behaviour; in this order
   * they fit in the struct's padding, so its size is unchanged): */
  bool in_progress;         /* the server is still processing an earlier
                               attempt with the same key (HTTP 409 with
                               Retry-After from rein_idem_http): step 0 */
  rein_condition condition; /* the concrete status (REIN_COND_HTTP(504),
                               REIN_COND_GRPC(14), REIN_COND_TRANSPORT(..));
                               with a policy retryable set it decides step 1 */
  /* Appended: how long the server keeps this call's key, as the response
   * said (Idempotency-Key-Retention); 0 = not said. The call keeps the
   * shortest retention it has heard (and the policy's key_retention_ns)
   * for step 5a. */
  int64_t key_retention_ns;
} rein_outcome;

typedef enum rein_action {
  REIN_ATTEMPT = 0, /* send an attempt now */
  REIN_WAIT = 1,    /* wait delay_ns, then call rein_retry_next(r, NULL, now) */
  REIN_DONE = 2,    /* the call succeeded */
  REIN_GIVE_UP = 3  /* stop; see reason and dont_retry */
} rein_action;

/* Why a call gave up. Only appended. */
typedef enum rein_giveup {
  REIN_GIVEUP_NONE = 0,
  REIN_GIVEUP_MAX_ATTEMPTS = 1,
  REIN_GIVEUP_WINDOW = 2,   /* the retry would end past the window */
  REIN_GIVEUP_DEADLINE = 3, /* ... past the call's deadline */
  REIN_GIVEUP_BUDGET = 4,   /* retry budget exhausted */
  REIN_GIVEUP_BREAKER_OPEN = 5,
  REIN_GIVEUP_THROTTLED = 6,      /* adaptive throttle rejected locally */
  REIN_GIVEUP_NOT_RETRYABLE = 7,  /* outcome not retryable (step 1) */
  REIN_GIVEUP_NON_IDEMPOTENT = 8, /* not idempotent and no key */
  REIN_GIVEUP_SERVER_STOP = 9,    /* the server said don't retry */
  REIN_GIVEUP_RETENTION = 10,     /* the retry would be sent after the
                                     server forgot the call's key (5a) */
  REIN_GIVEUP_RETRY_BREAKER = 11, /* a retry-only breaker stopped retries
                                     (5b, 7): the failure share is over its
                                     threshold; the first attempt was sent */
  REIN_GIVEUP_COUNT_
} rein_giveup;

typedef struct rein_decision {
  rein_action action;
  rein_giveup reason;  /* GIVE_UP: why; otherwise NONE */
  bool dont_retry;     /* GIVE_UP: tell the layer above not to retry */
  uint32_t attempt;    /* ATTEMPT: 1 for the first attempt, 2 for the first
                          retry...; otherwise attempts made so far */
  int64_t delay_ns;    /* WAIT: how long to wait */
  int64_t timeout_ns;  /* ATTEMPT: timeout for this attempt: the policy's,
                          shortened to the deadline; 0 = none */
} rein_decision;

/* What a keyed call does with a retry that would be sent after the server
 * forgot its key (decision step 5a). */
typedef enum rein_retention_mode {
  REIN_RETENTION_AUTO = 0,  /* REFUSE for non-idempotent operations, WARN
                               for idempotent ones (the default) */
  REIN_RETENTION_WARN = 1,  /* send it; count rein_retention_late_total */
  REIN_RETENTION_REFUSE = 2 /* give up: REIN_GIVEUP_RETENTION */
} rein_retention_mode;

/* What an event callback is told (see "Events" above). Filled by the
 * library on its stack; members are only appended, so a callback compiled
 * against an older header reads the members it knows. */
typedef struct rein_retry_event {
  const rein_policy *policy;
  void *user;              /* rein_call_opts.user of the call */
  uint32_t attempt;        /* attempts sent so far: on_retry, the attempt
                              that failed (the retry is attempt + 1);
                              on_give_up, 0 when begin() refused the call */
  int64_t delay_ns;        /* on_retry: the wait before the retry;
                              on_hedge: the time since the previous
                              attempt was sent; on_give_up: 0 */
  rein_giveup reason;      /* on_give_up: why; on_retry: NONE */
  bool dont_retry;         /* on_give_up: the decision's dont_retry */
  bool poll;               /* on_retry: an in-progress poll (step 0), not
                              a failure */
  rein_outcome_kind last;  /* the last attempt's outcome (attempt > 0) */
  int64_t now;             /* the decision's `now` */
} rein_retry_event;

typedef void (*rein_retry_event_fn)(void *ctx, const rein_retry_event *ev);

typedef struct rein_policy_config {
  const char *name;          /* for metrics and messages; copied; default
                                "default" */
  uint32_t max_attempts;     /* including the first; default 3; [1, 1000] */
  rein_backoff_config backoff; /* default: exponential, full jitter,
                                  100 ms .. 10 s */
  uint32_t retry_on;         /* REIN_RETRY_ON mask; default
                                REIN_RETRY_ON_DEFAULT */
  int64_t window_ns;         /* how long after begin retries may still start
                                and finish; 0 = no window */
  int64_t attempt_timeout_ns; /* per-attempt timeout; 0 = none */
  int64_t expected_attempt_ns; /* time an attempt is expected to take, for
                                  window refusal; 0 = attempt_timeout_ns */
  bool idempotent;           /* the operation is idempotent by nature;
                                default true */
  rein_budget *budget;       /* optional, borrowed (must outlive the policy) */
  rein_breaker *breaker;     /* optional, borrowed */
  rein_throttle *throttle;   /* optional, borrowed */
  rein_metrics *metrics;     /* optional, borrowed */
  rein_clock clock;          /* for rein_policy_now and rein_retry_run;
                                default monotonic */
  uint64_t seed;             /* seeds per-call jitter when a call gives no
                                seed of its own: call i made on counter
                                stripe s gets a seed mixed from (seed, s, i);
                                default 0x5eed. For reproducible jitter set
                                rein_call_opts.seed (the simulator does). */
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Appended. What is retried, by concrete status (rein/classify.h):
   * when non-empty, an outcome that carries a condition is retryable iff
   * rein_retryable_set_has(&retryable, condition, kind); an outcome without
   * one (condition REIN_COND_NONE) and every outcome when the set is empty
   * (the default) are decided by `retry_on` as before. Contracts fill both
   * (retry_on = rein_retryable_set_kind_mask). */
  rein_retryable_set retryable;
  /* Appended. How long the callee keeps an idempotency key (a contract's
   * key_ttl); 0 = unknown. A response's Idempotency-Key-Retention
   * (rein_outcome.key_retention_ns) shortens it for that call. */
  int64_t key_retention_ns;
  rein_retention_mode retention; /* what step 5a does; default AUTO */
  /* Appended. Events (see "Events" above); NULL = none. */
  rein_retry_event_fn on_retry;
  rein_retry_event_fn on_give_up;
  void *event_ctx; /* passed to every event */
  /* Appended. A hedge sent (rein/hedge.h; see "Events"); NULL = none. */
  rein_retry_event_fn on_hedge;
  /* Appended. Stripes of the per-call seed counters: as the budget's
   * `stripes` (0 = 16; a power of two in [1, 16]). */
  uint32_t stripes;
} rein_policy_config;

REIN_API void rein_policy_config_default(rein_policy_config *c);
/* Validates every field (REIN_EINVAL naming e.g. "policy.max_attempts" or
 * "backoff.cap_ns"); REIN_ENOMEM on allocation failure. */
REIN_API rein_status rein_policy_new(const rein_policy_config *c,
                                     rein_policy **out);
REIN_API void rein_policy_free(rein_policy *p);
/* Read the policy's clock. */
REIN_API int64_t rein_policy_now(const rein_policy *p);
/* The config the policy was made from (pointers as given; name copied). */
REIN_API const rein_policy_config *rein_policy_get_config(const rein_policy *p);

/* Per-call options; NULL means all defaults. */
typedef struct rein_call_opts {
  bool has_key;     /* the request carries an idempotency key */
  int64_t deadline; /* absolute, on the policy's clock; 0 = none */
  uint64_t seed;    /* 0 = derive from the policy's seed and a call counter */
  uint32_t stripe;  /* counter stripe hint (any value; only its low bits
                       are used); 0 = derive from the calling thread. Only
                       affects speed and default seeds, never decisions. */
  /* Appended. Handed to the policy's event callbacks as event.user. */
  void *user;
} rein_call_opts;

/* One call's state. Caller-allocated; fields are private. Copyable. */
typedef struct rein_retry {
  const rein_policy *policy;
  rein_rng rng;
  int64_t start_ns, end_ns, deadline_ns;
  int64_t attempt_start_ns, ready_at_ns, prev_delay_ns;
  uint32_t attempt, budget_cost, stripe;
  uint8_t state, has_key, last_kind, rng_ready;
  rein_breaker_permit permit;
  int64_t delay_total_ns; /* waited between attempts so far (metrics) */
  uint32_t polls; /* attempts answered "in progress" (not counted against
                     max_attempts) */
  int64_t retention_ns; /* the key's known retention; 0 = unknown (5a) */
  void *user;           /* rein_call_opts.user, for events */
} rein_retry;

/* Prepare `r` for one call of `p`. Never fails, never allocates. */
REIN_API void rein_retry_init(rein_retry *r, const rein_policy *p,
                              const rein_call_opts *opts);
/* Start the call: ATTEMPT (attempt 1) or GIVE_UP (BREAKER_OPEN, THROTTLED).
 * Calling it twice gives GIVE_UP with reason NONE and changes nothing. */
REIN_API rein_decision rein_retry_begin(rein_retry *r, int64_t now);
/* After an ATTEMPT: pass its outcome. After a WAIT: pass NULL. A call in the
 * wrong state (outcome after WAIT, NULL after ATTEMPT, anything after DONE or
 * GIVE_UP) returns GIVE_UP with reason NONE and changes nothing. */
REIN_API rein_decision rein_retry_next(rein_retry *r, const rein_outcome *o,
                                       int64_t now);

/* Before asking for the next attempt (instead of begin(), or of next(NULL)
 * once a WAIT is over): the caller's own admission refused it, e.g. a
 * client whose every endpoint's breaker is open (rein/curl.h, "Endpoints").
 * Ends the call as the policy's admission would: GIVE_UP with `reason`
 * and dont_retry, counted (a call refused before begin() counts as a
 * call; BREAKER_OPEN / RETRY_BREAKER as a breaker rejection), on_give_up
 * fired. Valid only before begin() or while WAITING (nothing is held then);
 * otherwise, or for reason NONE, GIVE_UP with reason NONE and nothing
 * changed. Never allocates. */
REIN_API rein_decision rein_retry_refuse(rein_retry *r, rein_giveup reason,
                                         int64_t now);

/* Blocking wrapper. */
typedef void (*rein_attempt_fn)(void *ctx, const rein_decision *attempt,
                                rein_outcome *out);
typedef struct rein_sleeper {
  void (*sleep_ns)(void *ctx, int64_t ns); /* NULL = nanosleep */
  void *ctx;
} rein_sleeper;

typedef struct rein_result {
  rein_action action;  /* DONE or GIVE_UP */
  rein_giveup reason;
  bool dont_retry;
  uint32_t attempts;
  rein_outcome_kind last; /* outcome of the last attempt (if any) */
  int64_t elapsed_ns;
} rein_result;

/*
 * Run one call to the end: begin, then for each ATTEMPT call `fn`, for each
 * WAIT sleep through `sleeper` (NULL = nanosleep) and read the policy's clock
 * again. REIN_OK when the call succeeded, REIN_EGAVEUP when it gave up (see
 * `res`), REIN_EINVAL for NULL arguments. Makes exactly the decisions the
 * state machine makes; there is no other retry logic.
 */
REIN_API rein_status rein_retry_run(const rein_policy *p,
                                    const rein_call_opts *opts,
                                    rein_attempt_fn fn, void *ctx,
                                    const rein_sleeper *sleeper,
                                    rein_result *res);

REIN_API const char *rein_action_name(rein_action a);
/* "max_attempts", "window", "deadline", "budget", "breaker_open",
 * "throttled", "not_retryable", "non_idempotent", "server_stop",
 * "retention", "retry_breaker" */
REIN_API const char *rein_giveup_name(rein_giveup g);
/* "success", "failure", "timeout", "not_sent", "overloaded", "fatal" */
REIN_API const char *rein_outcome_kind_name(rein_outcome_kind k);
REIN_API rein_status rein_outcome_kind_parse(const char *s,
                                             rein_outcome_kind *out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_RETRY_H */
