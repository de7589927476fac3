/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retry.c: the retry engine: rein_policy, the per-call state machine, and
 * rein_retry_run, the blocking wrapper written only on top of it.
 *
 * The state machine is the only place where a retry decision is made (the
 * simulator, the curl integration and the blocking wrapper all call it).
 * It never reads a clock, never sleeps and never allocates: `now` comes in,
 * a decision goes out, and the shared objects (budget, breaker, throttle,
 * metrics) are lock-free. The decision order is documented in rein/retry.h;
 * keep the two in step. The user's event callbacks (on_retry, on_give_up)
 * are called from here, on the caller's stack, with no lock held.
 */
#include "rein/retry.h"

#include "rein/signal.h"

#include "budget_internal.h"
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

enum { S_INIT = 0, S_ATTEMPTING, S_WAITING, S_DONE, S_GAVE_UP };

struct rein_policy {
  rein_policy_config cfg;
  char name[65];
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  bool gate_retries; /* the breaker is retry-only (asked once, here) */
  uint32_t stripe_mask; /* cfg.stripes - 1 */
  /* Per-stripe call counters for default seeds; one cache line each,
   * cfg.stripes of them (allocated with the policy). */
  struct {
    _Alignas(64) _Atomic uint64_t n;
  } calls[];
};

void rein_policy_config_default(rein_policy_config *c) {
  memset(c, 0, sizeof *c);
  c->name = "default";
  c->max_attempts = 3;
  rein_backoff_config_default(&c->backoff);
  c->retry_on = REIN_RETRY_ON_DEFAULT;
  c->idempotent = true;
  c->seed = 0x5eed;
}

rein_status rein_policy_new(const rein_policy_config *c, rein_policy **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *err = c->err;
  const char *name = c->name ? c->name : "default";
  size_t nl = strlen(name);
  if (nl < 1 || nl > 64)
    return rein__invalid(err, "policy.name: must be 1..64 characters, got %zu",
                         nl);
  if (c->max_attempts < 1 || c->max_attempts > 1000)
    return rein__invalid(err, "policy.max_attempts: must be in [1, 1000], got %u",
                         c->max_attempts);
  rein_status st = rein_backoff_config_validate(&c->backoff, err);
  if (st != REIN_OK) return st;
  if (c->retry_on & ~((1u << REIN_OUTCOME_COUNT_) - 1))
    return rein__invalid(err, "policy.retry_on: unknown outcome bits 0x%x",
                         c->retry_on & ~((1u << REIN_OUTCOME_COUNT_) - 1));
  if (c->retry_on & REIN_RETRY_ON(REIN_OUTCOME_SUCCESS))
    return rein__invalid(err, "policy.retry_on: success cannot be retryable");
  st = rein_retryable_set_validate(&c->retryable, err);
  if (st != REIN_OK) return st;
  if (c->window_ns < 0)
    return rein__invalid(err, "policy.window_ns: must be >= 0, got %lld",
                         (long long)c->window_ns);
  if (c->attempt_timeout_ns < 0)
    return rein__invalid(err, "policy.attempt_timeout_ns: must be >= 0, got %lld",
                         (long long)c->attempt_timeout_ns);
  if (c->key_retention_ns < 0)
    return rein__invalid(err,
                         "policy.key_retention_ns: must be >= 0 (0 = unknown), "
                         "got %lld",
                         (long long)c->key_retention_ns);
  if ((unsigned)c->retention > REIN_RETENTION_REFUSE)
    return rein__invalid(
        err, "policy.retention: must be AUTO, WARN or REFUSE, got %d",
        (int)c->retention);
  if (c->expected_attempt_ns < 0)
    return rein__invalid(err,
                         "policy.expected_attempt_ns: must be >= 0, got %lld",
                         (long long)c->expected_attempt_ns);
  uint32_t stripes;
  if ((st = rein__stripes(c->stripes, "policy", err, &stripes)) != REIN_OK)
    return st;
  rein_policy *p = rein__alloc_aligned(
      c->alloc, sizeof *p + (size_t)stripes * sizeof p->calls[0]);
  if (!p) return REIN_ENOMEM;
  if (c->alloc) {
    p->alloc_copy = *c->alloc;
    p->alloc = &p->alloc_copy;
  }
  p->cfg = *c;
  p->stripe_mask = stripes - 1;
  memcpy(p->name, name, nl + 1);
  p->cfg.name = p->name;
  p->cfg.alloc = p->alloc;
  p->cfg.err = NULL;
  if (!p->cfg.clock.now_ns) p->cfg.clock = rein_clock_monotonic();
  p->gate_retries = rein__breaker_gates_retries(c->breaker);
  *out = p;
  return REIN_OK;
}

void rein_policy_free(rein_policy *p) {
  if (!p) return;
  rein__free_aligned(p->alloc, p);
}

int64_t rein_policy_now(const rein_policy *p) {
  return rein_clock_now(&p->cfg.clock);
}

const rein_policy_config *rein_policy_get_config(const rein_policy *p) {
  return &p->cfg;
}

/* ------------------------------------------------------- state machine */

void rein_retry_init(rein_retry *r, const rein_policy *p,
                     const rein_call_opts *opts) {
  memset(r, 0, sizeof *r);
  r->policy = p;
  r->stripe = opts && opts->stripe ? opts->stripe & (REIN__STRIPES - 1)
                                   : rein__thread_stripe();
  uint64_t seed;
  if (opts && opts->seed) {
    seed = opts->seed;
  } else {
    rein_policy *mp = (rein_policy *)p; /* the counter is the only mutable part */
    uint64_t i = atomic_fetch_add_explicit(
        &mp->calls[r->stripe & p->stripe_mask].n, 1, memory_order_relaxed);
    seed = p->cfg.seed ^ ((uint64_t)r->stripe << 48) ^ i;
  }
  /* Seeding costs four splitmix64 rounds; most calls succeed at once and
   * never draw, so keep the seed and expand it on first use (call_rng). */
  r->rng.s[0] = seed;
  r->rng_ready = 0;
  r->has_key = opts && opts->has_key;
  r->deadline_ns = opts && opts->deadline ? opts->deadline : INT64_MAX;
  r->end_ns = INT64_MAX;
  r->retention_ns = p->cfg.key_retention_ns;
  r->user = opts ? opts->user : NULL;
  r->state = S_INIT;
}

/* The call's generator, seeded on first use from the kept seed. */
static rein_rng *call_rng(rein_retry *r) {
  if (!r->rng_ready) {
    rein_rng_seed(&r->rng, r->rng.s[0]);
    r->rng_ready = 1;
  }
  return &r->rng;
}

static rein_decision invalid_call(const rein_retry *r) {
  rein_decision d = {REIN_GIVE_UP, REIN_GIVEUP_NONE, false, r->attempt, 0, 0};
  return d;
}

/* Per-call histograms, once when the call ends (A96 records at call end). */
static void observe_call_end(const rein_retry *r, rein_metrics *m) {
  if (!m || r->attempt == 0) return;
  rein_metrics_observe(m, REIN_H_CALL_ATTEMPTS, r->attempt);
  if (r->attempt > 1) {
    rein_metrics_observe(m, REIN_H_CALL_RETRIES, r->attempt - 1);
    rein_metrics_observe(m, REIN_H_CALL_RETRY_DELAY, r->delay_total_ns);
  }
}

/* An event for the user's callback (rein/retry.h, "Events"). */
static void fire(const rein_retry *r, rein_retry_event_fn fn,
                 rein_giveup reason, bool dont_retry, int64_t delay,
                 bool poll, int64_t now) {
  rein_retry_event ev;
  memset(&ev, 0, sizeof ev);
  ev.policy = r->policy;
  ev.user = r->user;
  ev.attempt = r->attempt;
  ev.delay_ns = delay;
  ev.reason = reason;
  ev.dont_retry = dont_retry;
  ev.poll = poll;
  ev.last = (rein_outcome_kind)r->last_kind;
  ev.now = now;
  fn(r->policy->cfg.event_ctx, &ev);
}

static rein_decision give_up(rein_retry *r, rein_giveup reason,
                             bool dont_retry, int64_t now) {
  const rein_policy_config *c = &r->policy->cfg;
  r->state = S_GAVE_UP;
  observe_call_end(r, c->metrics);
  REIN__METRICS_ADD(c->metrics, REIN_C_GIVEUPS, 1);
  rein_metrics_add_giveup(c->metrics, (int)reason);
  if (c->on_give_up) fire(r, c->on_give_up, reason, dont_retry, 0, false, now);
  rein_decision d = {REIN_GIVE_UP, reason, dont_retry, r->attempt, 0, 0};
  return d;
}

/* Admission of the next attempt: deadline, throttle, breaker. `retried`
 * (a retry, not the first attempt) is a constant at each of the two call
 * sites, so the first attempt's copy carries no retry-only-breaker test. */
static inline __attribute__((always_inline)) rein_decision
admit(rein_retry *r, int64_t now, bool retried) {
  const rein_policy_config *c = &r->policy->cfg;
  if (now >= r->deadline_ns)
    return give_up(r, REIN_GIVEUP_DEADLINE, retried, now);
  /* A retry-only breaker (gate_retries): a first attempt is never refused
   * by it (allow() hands out the permit that records its outcome); a retry
   * asks allow_retry(). */
  /* An open breaker refuses before the throttle counts the request: the
   * throttle must not learn "requests without accepts" from calls that were
   * never going to be sent, or it keeps refusing long after the breaker
   * lets traffic through again. (The read is a snapshot; allow() below
   * makes the real decision and hands out the permit.) */
  if (c->breaker && c->throttle &&
      (retried || !r->policy->gate_retries) &&
      rein_breaker_state_at(c->breaker, now) == REIN_BREAKER_OPEN) {
    REIN__METRICS_ADD(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
    return give_up(r,
                   r->policy->gate_retries ? REIN_GIVEUP_RETRY_BREAKER
                                           : REIN_GIVEUP_BREAKER_OPEN,
                   true, now);
  }
  if (c->throttle && !rein_throttle_admit(c->throttle, now, call_rng(r))) {
    REIN__METRICS_ADD(c->metrics, REIN_C_THROTTLED, 1);
    return give_up(r, REIN_GIVEUP_THROTTLED, true, now);
  }
  if (c->breaker &&
      !(retried && r->policy->gate_retries
            ? rein_breaker_allow_retry(c->breaker, now, &r->permit)
            : rein_breaker_allow(c->breaker, now, &r->permit))) {
    REIN__METRICS_ADD(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
    return give_up(r,
                   r->policy->gate_retries ? REIN_GIVEUP_RETRY_BREAKER
                                           : REIN_GIVEUP_BREAKER_OPEN,
                   true, now);
  }
  r->attempt++;
  r->attempt_start_ns = now;
  r->state = S_ATTEMPTING;
  if (r->attempt == 1) {
    if (c->budget) rein__budget_on_request_s(c->budget, now, r->stripe);
  } else {
    REIN__METRICS_ADD(c->metrics, REIN_C_RETRIES, 1);
  }
  REIN__METRICS_ADD(c->metrics, REIN_C_ATTEMPTS, 1);
  int64_t timeout = c->attempt_timeout_ns;
  if (r->deadline_ns != INT64_MAX) {
    int64_t left = r->deadline_ns - now;
    if (timeout == 0 || left < timeout) timeout = left;
  }
  rein_decision d = {REIN_ATTEMPT, REIN_GIVEUP_NONE, false, r->attempt, 0,
                     timeout};
  return d;
}

rein_decision rein_retry_begin(rein_retry *r, int64_t now) {
  if (r->state != S_INIT) return invalid_call(r);
  const rein_policy_config *c = &r->policy->cfg;
  r->start_ns = now;
  if (c->window_ns > 0) r->end_ns = now + c->window_ns;
  REIN__METRICS_ADD(c->metrics, REIN_C_CALLS, 1);
  return admit(r, now, false);
}

/* A transport that cannot place the attempt it is about to ask for (its
 * own admission, e.g. every endpoint's breaker open: rein/curl.h) ends the
 * call as admission would have: counted and reported like the refusal at
 * begin() or on resume, with nothing held (no permit, no budget token). */
rein_decision rein_retry_refuse(rein_retry *r, rein_giveup reason,
                                int64_t now) {
  if ((r->state != S_INIT && r->state != S_WAITING) ||
      reason <= REIN_GIVEUP_NONE || reason >= REIN_GIVEUP_COUNT_)
    return invalid_call(r);
  const rein_policy_config *c = &r->policy->cfg;
  if (r->state == S_INIT) {
    r->start_ns = now;
    if (c->window_ns > 0) r->end_ns = now + c->window_ns;
    REIN__METRICS_ADD(c->metrics, REIN_C_CALLS, 1);
  }
  if (reason == REIN_GIVEUP_BREAKER_OPEN ||
      reason == REIN_GIVEUP_RETRY_BREAKER)
    REIN__METRICS_ADD(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
  return give_up(r, reason, true, now);
}

static bool is_failure_for_breaker(rein_outcome_kind k) {
  return k == REIN_OUTCOME_FAILURE || k == REIN_OUTCOME_TIMEOUT ||
         k == REIN_OUTCOME_NOT_SENT || k == REIN_OUTCOME_OVERLOADED;
}

/* Step 1 of the decision order: the concrete condition against the
 * policy's retryable set when both are given, else the kind against
 * retry_on. */
static bool is_retryable(const rein_policy_config *c, const rein_outcome *o,
                         rein_outcome_kind kind) {
  if (o->condition != REIN_COND_NONE &&
      !rein_retryable_set_is_empty(&c->retryable))
    return rein_retryable_set_has(&c->retryable, o->condition, kind);
  return (c->retry_on & REIN_RETRY_ON(kind)) != 0;
}

static int64_t add_sat(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  return a + b;
}

rein_decision rein_retry_next(rein_retry *r, const rein_outcome *o,
                              int64_t now) {
  const rein_policy_config *c = &r->policy->cfg;
  if (r->state == S_WAITING) {
    if (o) return invalid_call(r);
    if (now < r->ready_at_ns) {
      rein_decision d = {REIN_WAIT, REIN_GIVEUP_NONE, false, r->attempt,
                         r->ready_at_ns - now, 0};
      return d;
    }
    return admit(r, now, true);
  }
  if (r->state != S_ATTEMPTING || !o) return invalid_call(r);

  rein_outcome_kind kind = o->kind;
  if ((unsigned)kind >= REIN_OUTCOME_COUNT_) kind = REIN_OUTCOME_FAILURE;
  r->last_kind = (uint8_t)kind;
  int64_t took = now - r->attempt_start_ns;
  REIN__METRICS_OBSERVE(c->metrics, REIN_H_ATTEMPT_DURATION, took);
  if (c->breaker)
    rein_breaker_record(c->breaker, &r->permit, is_failure_for_breaker(kind),
                        took, now);
  if (c->throttle &&
      (kind == REIN_OUTCOME_SUCCESS || kind == REIN_OUTCOME_FATAL))
    rein_throttle_on_accept(c->throttle, now);
  if (kind == REIN_OUTCOME_SUCCESS) {
    if (c->budget) rein_budget_on_success(c->budget, now, r->budget_cost);
    r->state = S_DONE;
    observe_call_end(r, c->metrics);
    REIN__METRICS_ADD(c->metrics, REIN_C_SUCCESSES, 1);
    rein_decision d = {REIN_DONE, REIN_GIVEUP_NONE, false, r->attempt, 0, 0};
    return d;
  }
  r->budget_cost = 0;
  bool retried = r->attempt > 1;

  /* 0. in progress: the first attempt is still running at the server; wait
   * and ask again with the same key (it is not a failure of anything). */
  bool poll = o->in_progress && r->has_key && !o->dont_retry;
  bool bounded = r->end_ns != INT64_MAX || r->deadline_ns != INT64_MAX;
  uint32_t used = r->attempt - r->polls; /* attempts that count */
  if (poll) {
    if (!bounded && used >= c->max_attempts)
      return give_up(r, REIN_GIVEUP_MAX_ATTEMPTS, retried, now);
  } else {
    /* 1. retryable? Only a retryable failure takes a token (A6). */
    if (!is_retryable(c, o, kind))
      return give_up(r, REIN_GIVEUP_NOT_RETRYABLE, o->dont_retry, now);
    if (c->budget) rein_budget_on_failure(c->budget, now);
    if (o->dont_retry) return give_up(r, REIN_GIVEUP_SERVER_STOP, true, now);
    if (!c->idempotent && !r->has_key && kind != REIN_OUTCOME_NOT_SENT)
      return give_up(r, REIN_GIVEUP_NON_IDEMPOTENT, false, now);
    if (used >= c->max_attempts)
      return give_up(r, REIN_GIVEUP_MAX_ATTEMPTS, retried, now);
  }

  int64_t delay =
      rein_backoff_delay(&c->backoff, used, r->prev_delay_ns, call_rng(r));
  int64_t floor = o->server_delay_ns;
  if (floor > REIN_SIGNAL_MAX_DELAY_NS) floor = REIN_SIGNAL_MAX_DELAY_NS;
  if (floor > delay) {
    delay = floor;
    REIN__METRICS_ADD(c->metrics, REIN_C_SERVER_DELAYS, 1);
  }
  int64_t expected =
      c->expected_attempt_ns ? c->expected_attempt_ns : c->attempt_timeout_ns;
  int64_t finish = add_sat(add_sat(now, delay), expected);
  if (finish > r->end_ns) return give_up(r, REIN_GIVEUP_WINDOW, retried, now);
  if (add_sat(now, delay) >= r->deadline_ns ||
      (expected > 0 && finish > r->deadline_ns))
    return give_up(r, REIN_GIVEUP_DEADLINE, retried, now);
  /* 5a. the key's retention: a retry sent after the server forgot the key
   * runs the request a second time. */
  if (o->key_retention_ns > 0 &&
      (r->retention_ns == 0 || o->key_retention_ns < r->retention_ns))
    r->retention_ns = o->key_retention_ns;
  if (r->has_key && r->retention_ns > 0 &&
      add_sat(now, delay) >= add_sat(r->start_ns, r->retention_ns)) {
    bool refuse = c->retention == REIN_RETENTION_REFUSE ||
                  (c->retention == REIN_RETENTION_AUTO && !c->idempotent);
    /* dont_retry: a retry from the layer above would come later still,
     * past the same retention (a derived key is forgotten as well). */
    if (refuse) return give_up(r, REIN_GIVEUP_RETENTION, true, now);
    REIN__METRICS_ADD(c->metrics, REIN_C_RETENTION_LATE, 1);
  }
  if (poll) {
    if (bounded) r->polls++;
    r->state = S_WAITING;
    r->ready_at_ns = now + delay;
    if (c->on_retry)
      fire(r, c->on_retry, REIN_GIVEUP_NONE, false, delay, true, now);
    rein_decision d = {REIN_WAIT, REIN_GIVEUP_NONE, false, r->attempt, delay,
                       0};
    return d;
  }
  /* 5b. a retry-only breaker: retries stop while the failure share is over
   * its threshold; asked before the budget, so no token is taken. */
  if (r->policy->gate_retries &&
      rein_breaker_state_at(c->breaker, now) == REIN_BREAKER_OPEN) {
    REIN__METRICS_ADD(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
    return give_up(r, REIN_GIVEUP_RETRY_BREAKER, true, now);
  }
  if (c->budget) {
    uint32_t cost = 0;
    if (!rein__budget_try_retry_s(c->budget, now,
                                  kind == REIN_OUTCOME_TIMEOUT, &cost,
                                  r->stripe)) {
      REIN__METRICS_ADD(c->metrics, REIN_C_BUDGET_REJECTIONS, 1);
      return give_up(r, REIN_GIVEUP_BUDGET, true, now);
    }
    r->budget_cost = cost;
  }
  r->state = S_WAITING;
  r->prev_delay_ns = delay;
  r->delay_total_ns = add_sat(r->delay_total_ns, delay);
  REIN__METRICS_OBSERVE(c->metrics, REIN_H_RETRY_DELAY, delay);
  r->ready_at_ns = now + delay;
  if (c->on_retry)
    fire(r, c->on_retry, REIN_GIVEUP_NONE, false, delay, false, now);
  rein_decision d = {REIN_WAIT, REIN_GIVEUP_NONE, false, r->attempt, delay, 0};
  return d;
}

/* -------------------------------------------------------- blocking wrapper */

static void default_sleep(void *ctx, int64_t ns) {
  (void)ctx;
  if (ns <= 0) return;
  struct timespec ts = {(time_t)(ns / REIN_NS_PER_S),
                        (long)(ns % REIN_NS_PER_S)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

rein_status rein_retry_run(const rein_policy *p, const rein_call_opts *opts,
                           rein_attempt_fn fn, void *ctx,
                           const rein_sleeper *sleeper, rein_result *res) {
  if (!p || !fn || !res) return REIN_EINVAL;
  memset(res, 0, sizeof *res);
  void (*sleep_fn)(void *, int64_t) =
      sleeper && sleeper->sleep_ns ? sleeper->sleep_ns : default_sleep;
  void *sleep_ctx = sleeper ? sleeper->ctx : NULL;
  rein_retry r;
  rein_retry_init(&r, p, opts);
  int64_t t0 = rein_policy_now(p);
  rein_decision d = rein_retry_begin(&r, t0);
  for (;;) {
    if (d.action == REIN_ATTEMPT) {
      rein_outcome o;
      memset(&o, 0, sizeof o);
      o.kind = REIN_OUTCOME_FAILURE;
      fn(ctx, &d, &o);
      res->attempts = d.attempt;
      res->last = o.kind;
      d = rein_retry_next(&r, &o, rein_policy_now(p));
    } else if (d.action == REIN_WAIT) {
      sleep_fn(sleep_ctx, d.delay_ns);
      d = rein_retry_next(&r, NULL, rein_policy_now(p));
    } else {
      break;
    }
  }
  res->action = d.action;
  res->reason = d.reason;
  res->dont_retry = d.dont_retry;
  res->elapsed_ns = rein_policy_now(p) - t0;
  return d.action == REIN_DONE ? REIN_OK : REIN_EGAVEUP;
}

/* ---------------------------------------------------------------- names */

const char *rein_action_name(rein_action a) {
  static const char *const n[] = {"attempt", "wait", "done", "give_up"};
  return (unsigned)a < 4 ? n[a] : "unknown";
}

static const char *const giveup_names[REIN_GIVEUP_COUNT_] = {
    "none",           "max_attempts", "window",    "deadline",
    "budget",         "breaker_open", "throttled", "not_retryable",
    "non_idempotent", "server_stop",  "retention", "retry_breaker"};

const char *rein_giveup_name(rein_giveup g) {
  return (unsigned)g < REIN_GIVEUP_COUNT_ ? giveup_names[g] : "unknown";
}

static const char *const outcome_names[REIN_OUTCOME_COUNT_] = {
    "success", "failure", "timeout", "not_sent", "overloaded", "fatal"};

const char *rein_outcome_kind_name(rein_outcome_kind k) {
  return (unsigned)k < REIN_OUTCOME_COUNT_ ? outcome_names[k] : "unknown";
}

rein_status rein_outcome_kind_parse(const char *s, rein_outcome_kind *out) {
  for (int i = 0; s && i < REIN_OUTCOME_COUNT_; i++)
    if (strcmp(s, outcome_names[i]) == 0) {
      *out = (rein_outcome_kind)i;
      return REIN_OK;
    }
  return REIN_EINVAL;
}
