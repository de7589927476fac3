/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hedge.c: hedged requests, the state machine of rein/hedge.h.
 *
 * A hedged call is a set of attempt slots (at most 8) that share one call's
 * budget, breaker, throttle and deadline, all taken from the rein_policy the
 * hedge policy wraps, so a hedge is paid for exactly as a retry is: a
 * budget withdrawal, a breaker permit, a throttle admission. The order in
 * which a new attempt is refused is the header's; it mirrors rein_retry's
 * admission (deadline, breaker, throttle) plus the budget, and a refusal only
 * stops further hedges. Nothing is cancelled for want of budget.
 *
 * The latency quantile is kept in a window of two half-window generations
 * of log-linear buckets (8 per power of two, so a bucket's upper bound is
 * within 12.5% of any latency in it) with relaxed atomic counters: a record
 * is one fetch_add, a generation is recycled by the first thread that sees a
 * newer epoch (samples racing with the recycling may be lost; the quantile
 * is an estimate). The quantile is recomputed at most every 1/16 of the
 * window and cached, so a call's begin reads one atomic.
 */
#include "rein/hedge.h"
#include "rein/signal.h"

#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "budget_internal.h"
#include "internal.h"

#define SUB_BITS 3
#define SUB (1u << SUB_BITS)
#define OCTAVES 44 /* 2^44 ns > 4.8 h: past the 1 h window */
#define NB (OCTAVES * SUB)

typedef struct gen {
  _Atomic int64_t epoch;
  _Atomic uint32_t total;
  _Atomic uint32_t n[NB];
} gen;

struct rein_hedge_policy {
  rein_hedge_config cfg;
  rein_allocator alloc_copy;
  const rein_allocator *alloc;
  uint32_t non_fatal; /* resolved mask */
  int64_t half;       /* window / 2 */
  _Atomic int64_t cached_delay;
  _Atomic int64_t cached_at; /* INT64_MIN: never */
  gen g[2];
};

enum { H_INIT, H_RUNNING, H_DONE, H_GAVE_UP };

void rein_hedge_config_default(rein_hedge_config *c) {
  memset(c, 0, sizeof *c);
  c->max_attempts = 3;
  c->delay_ns = 100 * REIN_NS_PER_MS;
  c->window_ns = 10 * REIN_NS_PER_S;
  c->min_samples = 100;
}

rein_status rein_hedge_policy_new(const rein_hedge_config *c,
                                  rein_hedge_policy **out) {
  if (!c || !out) return REIN_EINVAL;
  rein_errbuf *err = c->err;
  if (!c->policy)
    return rein__invalid(err, "hedge.policy: required (the rein_policy whose "
                              "budget, breaker and deadline hedges use)");
  if (c->max_attempts < 1 || c->max_attempts > REIN_HEDGE_MAX_ATTEMPTS)
    return rein__invalid(err, "hedge.max_attempts: must be in [1, %d], got %u",
                         REIN_HEDGE_MAX_ATTEMPTS, c->max_attempts);
  if (c->delay_ns < 0 || c->delay_ns > 3600 * REIN_NS_PER_S)
    return rein__invalid(err, "hedge.delay_ns: must be in [0, 1 h], got %lld",
                         (long long)c->delay_ns);
  if (!(c->quantile >= 0.0 && c->quantile < 1.0))
    return rein__invalid(
        err,
        "hedge.quantile: must be 0 (fixed delay) or in (0, 1), "
        "e.g. 0.95, got %g",
        c->quantile);
  if (c->window_ns < 100 * REIN_NS_PER_MS ||
      c->window_ns > 3600 * REIN_NS_PER_S)
    return rein__invalid(err,
                         "hedge.window_ns: must be in [100 ms, 1 h], got %lld",
                         (long long)c->window_ns);
  if (c->min_samples < 1)
    return rein__invalid(err, "hedge.min_samples: must be >= 1");
  if (c->non_fatal & ~((1u << REIN_OUTCOME_COUNT_) - 1))
    return rein__invalid(err, "hedge.non_fatal: unknown outcome bits 0x%x",
                         c->non_fatal & ~((1u << REIN_OUTCOME_COUNT_) - 1));
  if (c->non_fatal & REIN_RETRY_ON(REIN_OUTCOME_SUCCESS))
    return rein__invalid(err, "hedge.non_fatal: success cannot be non-fatal");
  rein_status st = rein_retryable_set_validate(&c->non_fatal_set, err);
  if (st != REIN_OK) return st;
  rein_hedge_policy *p = rein__alloc_aligned(c->alloc, sizeof *p);
  if (!p) return REIN_ENOMEM;
  memset(p, 0, sizeof *p);
  p->cfg = *c;
  if (c->alloc) {
    p->alloc_copy = *c->alloc;
    p->alloc = &p->alloc_copy;
  }
  p->cfg.alloc = p->alloc;
  p->cfg.err = NULL;
  const rein_policy_config *pc = rein_policy_get_config(c->policy);
  p->non_fatal = c->non_fatal ? c->non_fatal : pc->retry_on;
  if (rein_retryable_set_is_empty(&c->non_fatal_set))
    p->cfg.non_fatal_set = pc->retryable;
  p->half = c->window_ns / 2;
  atomic_init(&p->cached_delay, c->delay_ns);
  atomic_init(&p->cached_at, INT64_MIN);
  for (int i = 0; i < 2; i++)
    atomic_init(&p->g[i].epoch, INT64_MIN);
  *out = p;
  return REIN_OK;
}

void rein_hedge_policy_free(rein_hedge_policy *p) {
  if (p) rein__free_aligned(p->alloc, p);
}

const rein_hedge_config *
rein_hedge_policy_get_config(const rein_hedge_policy *p) {
  return p ? &p->cfg : NULL;
}

/* ---------------------------------------------------------------- latency */

static unsigned bucket_of(int64_t ns) {
  if (ns < (int64_t)SUB) return ns < 0 ? 0u : (unsigned)ns;
  unsigned o = 63u - (unsigned)__builtin_clzll((unsigned long long)ns);
  unsigned sub = (unsigned)(ns >> (o - SUB_BITS)) & (SUB - 1);
  unsigned b = (o - SUB_BITS + 1) * SUB + sub;
  return b < NB ? b : NB - 1;
}

/* The largest latency bucket b holds. */
static int64_t bucket_top(unsigned b) {
  if (b < SUB) return (int64_t)b;
  unsigned o = b / SUB + SUB_BITS - 1, sub = b % SUB;
  if (o >= 62) return INT64_MAX;
  return (int64_t)(((uint64_t)(SUB + sub + 1) << (o - SUB_BITS)) - 1);
}

static int64_t epoch_of(const rein_hedge_policy *p, int64_t now) {
  return now >= 0 ? now / p->half : -((-now - 1) / p->half) - 1;
}

void rein_hedge_observe(rein_hedge_policy *p, int64_t now, int64_t latency_ns) {
  if (!p || p->cfg.quantile <= 0.0) return;
  int64_t e = epoch_of(p, now);
  gen *g = &p->g[e & 1];
  int64_t seen = atomic_load_explicit(&g->epoch, memory_order_acquire);
  if (seen != e) {
    if (seen > e) return; /* a late sample from an older generation */
    if (atomic_compare_exchange_strong_explicit(
            &g->epoch, &seen, e, memory_order_acq_rel, memory_order_acquire)) {
      for (unsigned i = 0; i < NB; i++)
        atomic_store_explicit(&g->n[i], 0, memory_order_relaxed);
      atomic_store_explicit(&g->total, 0, memory_order_relaxed);
    } else if (seen != e) {
      return;
    }
  }
  atomic_fetch_add_explicit(&g->n[bucket_of(latency_ns)], 1,
                            memory_order_relaxed);
  atomic_fetch_add_explicit(&g->total, 1, memory_order_relaxed);
}

int64_t rein_hedge_delay(const rein_hedge_policy *pc, int64_t now) {
  if (!pc) return 0;
  if (pc->cfg.quantile <= 0.0) return pc->cfg.delay_ns;
  rein_hedge_policy *p = (rein_hedge_policy *)pc; /* the cache is mutable */
  int64_t at = atomic_load_explicit(&p->cached_at, memory_order_relaxed);
  int64_t refresh = p->cfg.window_ns / 16;
  if (at != INT64_MIN && now >= at && now - at < refresh)
    return atomic_load_explicit(&p->cached_delay, memory_order_relaxed);
  int64_t e = epoch_of(p, now);
  uint64_t total = 0;
  bool live[2];
  for (int i = 0; i < 2; i++) {
    int64_t ge = atomic_load_explicit(&p->g[i].epoch, memory_order_acquire);
    live[i] = ge == e || ge == e - 1;
    if (live[i])
      total += atomic_load_explicit(&p->g[i].total, memory_order_relaxed);
  }
  int64_t d = p->cfg.delay_ns;
  if (total >= p->cfg.min_samples) {
    uint64_t want = (uint64_t)(p->cfg.quantile * (double)total);
    if (want < 1) want = 1;
    uint64_t cum = 0;
    for (unsigned b = 0; b < NB; b++) {
      for (int i = 0; i < 2; i++)
        if (live[i])
          cum += atomic_load_explicit(&p->g[i].n[b], memory_order_relaxed);
      if (cum >= want) {
        d = bucket_top(b);
        break;
      }
    }
  }
  atomic_store_explicit(&p->cached_delay, d, memory_order_relaxed);
  atomic_store_explicit(&p->cached_at, now, memory_order_relaxed);
  return d;
}

/* ---------------------------------------------------------- state machine */

void rein_hedge_init(rein_hedge *h, const rein_hedge_policy *p,
                     const rein_call_opts *opts) {
  /* Everything but the slots, which are written when an attempt starts
   * (start()) and read only for attempts sent. */
  memset(h, 0, offsetof(rein_hedge, slot));
  h->policy = p;
  h->stripe = opts && opts->stripe ? opts->stripe & (REIN__STRIPES - 1)
                                   : rein__thread_stripe();
  uint64_t seed = opts && opts->seed
                      ? opts->seed
                      : rein_policy_get_config(p->cfg.policy)->seed ^
                            ((uint64_t)(uintptr_t)h >> 4);
  h->rng.s[0] = seed;
  h->has_key = opts && opts->has_key;
  h->deadline_ns = opts && opts->deadline ? opts->deadline : INT64_MAX;
  h->user = opts ? opts->user : NULL;
  h->state = H_INIT;
}

static rein_rng *hedge_rng(rein_hedge *h) {
  if (!h->rng_ready) {
    rein_rng_seed(&h->rng, h->rng.s[0]);
    h->rng_ready = 1;
  }
  return &h->rng;
}

static const rein_policy_config *pcfg(const rein_hedge *h) {
  return rein_policy_get_config(h->policy->cfg.policy);
}

static rein_hedge_decision decision(const rein_hedge *h, rein_action a) {
  rein_hedge_decision d;
  memset(&d, 0, sizeof d);
  d.action = a;
  d.sent = h->sent;
  d.next_ns = -1;
  return d;
}

static rein_hedge_decision final_decision(const rein_hedge *h) {
  rein_hedge_decision d =
      decision(h, h->state == H_DONE ? REIN_DONE : REIN_GIVE_UP);
  d.winner = h->winner;
  d.reason = (rein_giveup)h->final_reason;
  d.dont_retry = h->final_dont_retry;
  return d;
}

/* The policy's events (rein/retry.h "Events"): on the caller's thread,
 * after the state is updated, just before the decision is returned. */
__attribute__((noinline, cold)) static void
fire(const rein_hedge *h, rein_retry_event_fn fn, uint32_t attempt,
     int64_t delay, rein_giveup why, bool dont, int64_t now) {
  const rein_policy_config *c = pcfg(h);
  rein_retry_event ev;
  memset(&ev, 0, sizeof ev);
  ev.policy = h->policy->cfg.policy;
  ev.user = h->user;
  ev.attempt = attempt;
  ev.delay_ns = delay;
  ev.reason = why;
  ev.dont_retry = dont;
  ev.last = (rein_outcome_kind)h->last_kind;
  ev.now = now;
  fn(c->event_ctx, &ev);
}

static rein_hedge_decision finish(rein_hedge *h, int state, rein_giveup why,
                                  bool dont_retry, int64_t now) {
  const rein_policy_config *c = pcfg(h);
  h->state = (uint8_t)state;
  h->final_reason = (uint8_t)why;
  h->final_dont_retry = dont_retry;
  rein_metrics_observe(c->metrics, REIN_H_CALL_ATTEMPTS, h->sent);
  if (h->sent > 1)
    rein_metrics_observe(c->metrics, REIN_H_CALL_RETRIES, h->sent - 1);
  rein_metrics_add(c->metrics,
                   state == H_DONE ? REIN_C_SUCCESSES : REIN_C_GIVEUPS, 1);
  if (state != H_DONE) rein_metrics_add_giveup(c->metrics, (int)why);
  rein_hedge_decision d = final_decision(h);
  d.cancel = h->inflight;
  uint32_t n = (uint32_t)__builtin_popcount(h->inflight);
  if (n) rein_metrics_add(c->metrics, REIN_C_HEDGES_CANCELLED, n);
  h->inflight = 0;
  if (state != H_DONE && c->on_give_up)
    fire(h, c->on_give_up, h->sent, 0, why, dont_retry, now);
  return d;
}

static bool nothing_in_flight(const rein_hedge *h) {
  return h->inflight == 0;
}

/* As rein_retry: stopped because the system said so or is overloaded, or
 * this layer already sent more than one attempt. */
static bool dont_retry_for(rein_giveup why, uint32_t sent) {
  return why == REIN_GIVEUP_SERVER_STOP || why == REIN_GIVEUP_BUDGET ||
         why == REIN_GIVEUP_BREAKER_OPEN || why == REIN_GIVEUP_THROTTLED ||
         why == REIN_GIVEUP_RETENTION || why == REIN_GIVEUP_RETRY_BREAKER ||
         sent > 1;
}

/* The expected time of one attempt, for the deadline rule. */
static int64_t expected_ns(const rein_policy_config *c) {
  return c->expected_attempt_ns ? c->expected_attempt_ns
                                : c->attempt_timeout_ns;
}

/* Try to start the next attempt (the header's order 1-7). Returns ATTEMPT,
 * or sets h->stop and returns WAIT (something in flight) or GIVE_UP. */
static rein_hedge_decision start(rein_hedge *h, int64_t now) {
  const rein_policy_config *c = pcfg(h);
  const rein_hedge_config *hc = &h->policy->cfg;
  bool first = h->sent == 0;
  /* A retry-only breaker (rein/breaker.h gates: retries) gates hedges and
   * never a first attempt. */
  bool gates_retries = c->breaker && rein__breaker_gates_retries(c->breaker);
  rein_giveup breaker_reason =
      gates_retries ? REIN_GIVEUP_RETRY_BREAKER : REIN_GIVEUP_BREAKER_OPEN;
  rein_giveup why = REIN_GIVEUP_NONE;
  bool dont = false;
  uint32_t cost = 0;
  if (h->stop) {
    why = (rein_giveup)h->stop;
  } else if (h->sent >= hc->max_attempts) {
    why = REIN_GIVEUP_MAX_ATTEMPTS;
  } else if (!first && !c->idempotent && !h->has_key) {
    why = REIN_GIVEUP_NON_IDEMPOTENT;
  } else if (first ? now >= h->deadline_ns
                   : (now >= h->deadline_ns ||
                      (expected_ns(c) > 0 &&
                       now + expected_ns(c) > h->deadline_ns))) {
    why = REIN_GIVEUP_DEADLINE;
  } else if (!first && c->budget &&
             !rein__budget_try_retry_s(c->budget, now, false, &cost,
                                       h->stripe)) {
    rein_metrics_add(c->metrics, REIN_C_BUDGET_REJECTIONS, 1);
    why = REIN_GIVEUP_BUDGET;
  } else if (c->breaker && c->throttle && (!first || !gates_retries) &&
             rein_breaker_state_at(c->breaker, now) == REIN_BREAKER_OPEN) {
    /* As rein_retry: the open breaker refuses before the throttle counts. */
    rein_metrics_add(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
    why = breaker_reason;
  } else if (c->throttle &&
             !rein_throttle_admit(c->throttle, now, hedge_rng(h))) {
    rein_metrics_add(c->metrics, REIN_C_THROTTLED, 1);
    why = REIN_GIVEUP_THROTTLED;
  } else if (c->breaker &&
             !(!first && gates_retries
                   ? rein_breaker_allow_retry(c->breaker, now,
                                              &h->slot[h->sent].permit)
                   : rein_breaker_allow(c->breaker, now,
                                        &h->slot[h->sent].permit))) {
    rein_metrics_add(c->metrics, REIN_C_BREAKER_REJECTIONS, 1);
    why = breaker_reason;
  }
  if (why != REIN_GIVEUP_NONE) {
    /* A budget unit withdrawn for a hedge the breaker or throttle then
     * refused is not handed back (as in rein_retry, where the budget is
     * asked before the wait and the breaker after it). */
    h->stop = (uint8_t)why;
    dont = dont_retry_for(why, h->sent);
    if (nothing_in_flight(h)) return finish(h, H_GAVE_UP, why, dont, now);
    return decision(h, REIN_WAIT);
  }
  uint32_t k = h->sent++;
  h->slot[k].start_ns = now;
  h->slot[k].budget_cost = cost;
  h->inflight |= 1u << k;
  if (first) {
    if (c->budget) rein__budget_on_request_s(c->budget, now, h->stripe);
  } else {
    rein_metrics_add(c->metrics, REIN_C_RETRIES, 1);
    rein_metrics_add(c->metrics, REIN_C_HEDGES, 1);
    /* the call's state is final for this decision (the next hedge's time
     * is not part of the event) */
    if (c->on_hedge)
      fire(h, c->on_hedge, k + 1, now - h->slot[k - 1].start_ns,
           REIN_GIVEUP_NONE, false, now);
  }
  rein_metrics_add(c->metrics, REIN_C_ATTEMPTS, 1);
  rein_hedge_decision d = decision(h, REIN_ATTEMPT);
  d.attempt = k + 1;
  int64_t timeout = c->attempt_timeout_ns;
  if (h->deadline_ns != INT64_MAX) {
    int64_t left = h->deadline_ns - now;
    if (timeout == 0 || left < timeout) timeout = left;
  }
  d.timeout_ns = timeout;
  if (h->sent < hc->max_attempts) {
    int64_t delay = rein_hedge_delay(h->policy, now);
    if (h->next_at_ns > now + delay) delay = h->next_at_ns - now; /* pushback */
    h->next_at_ns = now + delay;
    d.next_ns = delay;
  } else {
    h->next_at_ns = INT64_MAX;
  }
  return d;
}

rein_hedge_decision rein_hedge_begin(rein_hedge *h, int64_t now) {
  if (h->state != H_INIT) return final_decision(h);
  const rein_policy_config *c = pcfg(h);
  h->state = H_RUNNING;
  h->start_ns = now;
  h->next_at_ns = now;
  rein_metrics_add(c->metrics, REIN_C_CALLS, 1);
  return start(h, now);
}

rein_hedge_decision rein_hedge_poll(rein_hedge *h, int64_t now) {
  if (h->state != H_RUNNING) return final_decision(h);
  if (h->stop || h->sent >= h->policy->cfg.max_attempts)
    return decision(h, REIN_WAIT);
  if (now < h->next_at_ns) {
    rein_hedge_decision d = decision(h, REIN_WAIT);
    d.next_ns = h->next_at_ns - now;
    return d;
  }
  return start(h, now);
}

static bool is_non_fatal(const rein_hedge_policy *p, const rein_outcome *o,
                         rein_outcome_kind kind) {
  if (o->condition != REIN_COND_NONE &&
      !rein_retryable_set_is_empty(&p->cfg.non_fatal_set))
    return rein_retryable_set_has(&p->cfg.non_fatal_set, o->condition, kind);
  return (p->non_fatal & REIN_RETRY_ON(kind)) != 0;
}

static bool is_failure_for_breaker(rein_outcome_kind k) {
  return k == REIN_OUTCOME_FAILURE || k == REIN_OUTCOME_TIMEOUT ||
         k == REIN_OUTCOME_NOT_SENT || k == REIN_OUTCOME_OVERLOADED;
}

rein_hedge_decision rein_hedge_outcome(rein_hedge *h, uint32_t attempt,
                                       const rein_outcome *o, int64_t now) {
  if (h->state != H_RUNNING || !o || attempt < 1 || attempt > h->sent ||
      !(h->inflight & (1u << (attempt - 1)))) {
    rein_hedge_decision d =
        h->state == H_RUNNING ? decision(h, REIN_WAIT) : final_decision(h);
    if (h->state == H_RUNNING && h->next_at_ns != INT64_MAX && !h->stop)
      d.next_ns = h->next_at_ns > now ? h->next_at_ns - now : 0;
    return d;
  }
  const rein_policy_config *c = pcfg(h);
  rein_hedge_policy *hp = (rein_hedge_policy *)h->policy;
  uint32_t k = attempt - 1;
  h->inflight &= ~(1u << k);
  rein_outcome_kind kind = o->kind;
  if ((unsigned)kind >= REIN_OUTCOME_COUNT_) kind = REIN_OUTCOME_FAILURE;
  h->last_kind = (uint8_t)kind;
  int64_t took = now - h->slot[k].start_ns;
  rein_metrics_observe(c->metrics, REIN_H_ATTEMPT_DURATION, took);
  rein_hedge_observe(hp, now, took);
  if (c->breaker)
    rein_breaker_record(c->breaker, &h->slot[k].permit,
                        is_failure_for_breaker(kind), took, now);
  if (c->throttle &&
      (kind == REIN_OUTCOME_SUCCESS || kind == REIN_OUTCOME_FATAL))
    rein_throttle_on_accept(c->throttle, now);
  if (kind == REIN_OUTCOME_SUCCESS) {
    if (c->budget)
      rein_budget_on_success(c->budget, now, h->slot[k].budget_cost);
    h->winner = attempt;
    return finish(h, H_DONE, REIN_GIVEUP_NONE, false, now);
  }
  int64_t floor = o->server_delay_ns;
  if (floor > REIN_SIGNAL_MAX_DELAY_NS) floor = REIN_SIGNAL_MAX_DELAY_NS;
  if (o->in_progress && h->has_key && !o->dont_retry) {
    /* The server still runs an earlier attempt with the same key (an
     * idempotency layer's 409 + Retry-After): neither a failure nor fatal.
     * The call waits for what is in flight; the next hedge, which polls
     * for the stored answer when nothing else is left, goes no sooner than
     * the server asked. */
    if (floor > 0 && h->next_at_ns != INT64_MAX &&
        h->next_at_ns < now + floor) {
      h->next_at_ns = now + floor;
      rein_metrics_add(c->metrics, REIN_C_SERVER_DELAYS, 1);
    }
  } else {
    if (!is_non_fatal(h->policy, o, kind))
      return finish(h, H_GAVE_UP, REIN_GIVEUP_NOT_RETRYABLE, o->dont_retry,
                    now);
    if (c->budget) rein_budget_on_failure(c->budget, now);
    if (o->dont_retry && !h->stop) h->stop = REIN_GIVEUP_SERVER_STOP;
    if (floor > 0) {
      h->next_at_ns = now + floor;
      rein_metrics_add(c->metrics, REIN_C_SERVER_DELAYS, 1);
    } else if (h->next_at_ns != INT64_MAX) {
      h->next_at_ns = now; /* A6: a non-fatal answer sends the next at once */
    }
  }
  if (h->stop || h->sent >= h->policy->cfg.max_attempts) {
    if (nothing_in_flight(h)) {
      rein_giveup why =
          h->stop ? (rein_giveup)h->stop : REIN_GIVEUP_MAX_ATTEMPTS;
      return finish(h, H_GAVE_UP, why, dont_retry_for(why, h->sent), now);
    }
    return decision(h, REIN_WAIT);
  }
  if (now < h->next_at_ns) {
    rein_hedge_decision d = decision(h, REIN_WAIT);
    d.next_ns = h->next_at_ns - now;
    return d;
  }
  return start(h, now);
}
