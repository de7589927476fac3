/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/hedge.h: hedged requests under the retry policy's budget, breaker,
 * throttle and deadline.
 *
 * A hedged call sends its first attempt, and when no answer has come after
 * the hedging delay, sends another while the first is still in flight (gRPC
 * A6 hedgingPolicy, Envoy hedge_policy, "The Tail at Scale"'s deferred
 * backup requests); up to max_attempts in all. The first acceptable answer
 * wins and the others are cancelled. The delay is fixed, or a quantile of
 * the attempt latencies this policy has seen lately (e.g. p95), so only the
 * slowest few percent of calls are hedged.
 *
 * A rein_hedge_policy (immutable after creation apart from its latency
 * window; share it) wraps a rein_policy: the policy's budget, breaker,
 * throttle, metrics, attempt timeout, expected attempt time, idempotency and
 * clock are the ones hedges use. A rein_hedge (caller-allocated, one per
 * call, no allocation, never sleeps or reads a clock) walks one call:
 *
 *   d = rein_hedge_begin(&h, now)                     -> ATTEMPT | GIVE_UP
 *   then, as events come:
 *     an attempt k answers: d = rein_hedge_outcome(&h, k, &o, now)
 *     d.next_ns passed:     d = rein_hedge_poll(&h, now)
 *   ATTEMPT  send attempt d.attempt now (its timeout d.timeout_ns); then
 *            call rein_hedge_poll after d.next_ns (0: at once, another may
 *            be due), unless an outcome comes first
 *   WAIT     nothing to send; poll after d.next_ns (-1: only outcomes)
 *   DONE     attempt d.winner succeeded; cancel the attempts in d.cancel
 *   GIVE_UP  stop (d.reason); cancel the attempts in d.cancel
 * Bit k-1 of d.cancel is attempt k. A cancelled attempt is never reported
 * back (an outcome after DONE / GIVE_UP is ignored and the final decision
 * returned again, with cancel 0).
 *
 * When another attempt may start (at begin for attempt 1; when the delay
 * has passed, or at once after a non-fatal failure) — first match wins:
 *   1. the call sent max_attempts already                 -> MAX_ATTEMPTS
 *   2. a server said don't retry (outcome.dont_retry, gRPC pushback
 *      "stop")                                            -> SERVER_STOP
 *   3. a hedge of a non-idempotent operation without a key
 *      (attempt 1 is always sent)                         -> NON_IDEMPOTENT
 *   4. now + the expected attempt time (or the attempt timeout) is past
 *      the call's deadline (attempt 1: now at or past it) -> DEADLINE
 *   5. a hedge the budget refuses (each hedge is a retry:
 *      rein_budget_try_retry)                             -> BUDGET
 *   6. the breaker refuses a permit                       -> BREAKER_OPEN
 *      (a retry-only breaker, rein/breaker.h gates: retries, never refuses
 *      attempt 1 and refuses hedges as it refuses retries -> RETRY_BREAKER)
 *   7. the throttle rejects it                            -> THROTTLED
 * A refusal stops hedging for this call and never cancels an attempt in
 * flight: the call goes on with what it sent, and ends GIVE_UP with that
 * reason only when nothing is left in flight. Hedging never waits for a
 * budget to refill.
 *
 * When attempt k answers with outcome o:
 *   a. SUCCESS                      -> DONE (winner k), the rest cancelled
 *   a'. in progress (o.in_progress, a call with a key, no dont_retry: an
 *      idempotency layer's 409 + Retry-After while an earlier attempt with
 *      the same key still runs): neither a failure (no budget token, no
 *      breaker failure) nor fatal. The call waits for what is in flight;
 *      the next hedge, if one is left, goes no sooner than
 *      o.server_delay_ns and, when nothing else is in flight, asks for the
 *      stored answer. Then the start order above, as in c.
 *   b. not non-fatal (its condition not in the non-fatal set, or its kind
 *      not in the non-fatal mask; default: what the policy retries)
 *                                   -> GIVE_UP NOT_RETRYABLE, the rest
 *                                      cancelled (A6: a fatal status ends
 *                                      the call)
 *   c. non-fatal: a failure for the budget (token bucket) and breaker;
 *      o.dont_retry stops further hedges (2.); o.server_delay_ns > 0
 *      (pushback) puts the next hedge that far away; otherwise the next
 *      hedge is due now (A6: a non-fatal answer shortcuts the delay). Then
 *      the start order above; nothing more to send and nothing in flight
 *      -> GIVE_UP with the reason that stopped it.
 * GIVE_UP carries dont_retry as rein_retry does (the system said stop, or
 * this layer already sent more than one attempt).
 *
 * Thread level: a rein_hedge_policy may be shared by any number of threads
 * (its latency window is updated with relaxed atomics and is approximate
 * under races); a rein_hedge is used by one thread at a time.
 */
#ifndef REIN_HEDGE_H
#define REIN_HEDGE_H

#include "rein/retry.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REIN_HEDGE_MAX_ATTEMPTS 8

typedef struct rein_hedge_policy rein_hedge_policy;

typedef struct rein_hedge_config {
  const rein_policy *policy; /* required; borrowed (must outlive this) */
  uint32_t max_attempts;     /* attempts in all, the first included (A6
                                maxAttempts); default 3; [1, 8] */
  int64_t delay_ns;          /* the hedging delay (A6 hedgingDelay); with a
                                quantile, the delay until min_samples
                                latencies are known; default 100 ms;
                                [0, 1 h] */
  double quantile;           /* 0 = always delay_ns; in (0, 1): hedge after
                                that quantile of the attempt latencies seen
                                in the last window (0.95 = p95); default 0 */
  int64_t window_ns;         /* the latency window; default 10 s;
                                [100 ms, 1 h] */
  uint32_t min_samples;      /* latencies needed before the quantile is
                                used; default 100; >= 1 */
  uint32_t non_fatal;        /* REIN_RETRY_ON mask of the outcome kinds after
                                which hedging goes on; 0 = the policy's
                                retry_on (the default) */
  rein_retryable_set non_fatal_set; /* by condition (A6
                                       nonFatalStatusCodes); empty = the
                                       policy's retryable set */
  const rein_allocator *alloc;
  rein_errbuf *err;
} rein_hedge_config;

REIN_API void rein_hedge_config_default(rein_hedge_config *c);
/* Validates (REIN_EINVAL naming e.g. "hedge.max_attempts") and allocates
 * (REIN_ENOMEM). */
REIN_API rein_status rein_hedge_policy_new(const rein_hedge_config *c,
                                           rein_hedge_policy **out);
REIN_API void rein_hedge_policy_free(rein_hedge_policy *p);
REIN_API const rein_hedge_config *
rein_hedge_policy_get_config(const rein_hedge_policy *p);
/* The delay a call beginning now waits before its first hedge: delay_ns,
 * or the quantile of the window's latencies once it holds min_samples. */
REIN_API int64_t rein_hedge_delay(const rein_hedge_policy *p, int64_t now);
/* Record an attempt's latency into the window (rein_hedge_outcome does it
 * for every answered attempt; for latencies measured elsewhere). */
REIN_API void rein_hedge_observe(rein_hedge_policy *p, int64_t now,
                                 int64_t latency_ns);

typedef struct rein_hedge_decision {
  rein_action action;  /* ATTEMPT, WAIT, DONE or GIVE_UP */
  rein_giveup reason;  /* GIVE_UP: why; otherwise NONE */
  bool dont_retry;     /* GIVE_UP: tell the layer above not to retry */
  uint32_t attempt;    /* ATTEMPT: the attempt to send (1, 2, ...) */
  int64_t timeout_ns;  /* ATTEMPT: its timeout (the policy's, shortened to
                          the deadline); 0 = none */
  int64_t next_ns;     /* ATTEMPT / WAIT: poll after this long; -1 = wait
                          for an outcome */
  uint32_t cancel;     /* DONE / GIVE_UP: attempts to cancel (bit k-1) */
  uint32_t winner;     /* DONE: the attempt that succeeded */
  uint32_t sent;       /* attempts sent so far */
} rein_hedge_decision;

typedef struct rein_hedge_slot {
  int64_t start_ns;
  rein_breaker_permit permit;
  uint32_t budget_cost;
} rein_hedge_slot;

/* One hedged call's state. Caller-allocated; fields are private. */
typedef struct rein_hedge {
  const rein_hedge_policy *policy;
  rein_rng rng;
  int64_t start_ns, deadline_ns, next_at_ns;
  uint32_t sent, inflight, stripe;
  uint8_t state, has_key, stop, rng_ready, last_kind, final_reason,
      final_dont_retry;
  uint32_t winner;
  rein_hedge_slot slot[REIN_HEDGE_MAX_ATTEMPTS];
  void *user; /* rein_call_opts.user, for the events (after the slots:
                 rein_hedge_init clears what precedes them) */
} rein_hedge;

/* Prepare `h` for one call (opts: has_key, deadline, seed, stripe, user as
 * for rein_retry). Never fails, never allocates. The policy's on_hedge and
 * on_give_up events (rein/retry.h, "Events") fire inside begin / poll /
 * outcome, just before they return the decision. */
REIN_API void rein_hedge_init(rein_hedge *h, const rein_hedge_policy *p,
                              const rein_call_opts *opts);
/* Start: ATTEMPT 1, or GIVE_UP (DEADLINE, BREAKER_OPEN, THROTTLED). */
REIN_API rein_hedge_decision rein_hedge_begin(rein_hedge *h, int64_t now);
/* The timer of the last ATTEMPT / WAIT passed (early calls are harmless:
 * WAIT with the time left). */
REIN_API rein_hedge_decision rein_hedge_poll(rein_hedge *h, int64_t now);
/* Attempt `attempt` (in flight) answered with `o`. */
REIN_API rein_hedge_decision rein_hedge_outcome(rein_hedge *h,
                                                uint32_t attempt,
                                                const rein_outcome *o,
                                                int64_t now);

#ifdef __cplusplus
}
#endif
#endif /* REIN_HEDGE_H */
