/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retry_events.c: the policy's on_retry and on_give_up events
 * (rein/retry.h, "Events"): when each fires relative to the decision, what
 * it carries (attempt, delay, reason, dont_retry, last outcome, the call's
 * user pointer), that on_retry fires once per retry and for in-progress
 * polls, that on_give_up fires exactly once per give-up and never for a
 * misuse, that rein_retry_run fires the same sequence, that a retry
 * refused on resume gives on_retry then on_give_up, that nothing is
 * allocated on the decision path, and (TSan) two threads sharing one
 * policy see every event of their own calls.
 */
#include "rein_test.h"
#include "rein.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

enum { MAXEV = 64 };

typedef struct rec {
  int n;
  char kind[MAXEV]; /* 'r' retry, 'g' give up */
  rein_retry_event ev[MAXEV];
  rein_retry *call;   /* the call whose state is checked in the callback */
  int state_ok;       /* the call's state was final / waiting when fired */
} rec;

static void on_retry(void *ctx, const rein_retry_event *ev) {
  rec *r = ctx;
  if (r->n < MAXEV) {
    r->kind[r->n] = 'r';
    r->ev[r->n++] = *ev;
  }
}

static void on_give_up(void *ctx, const rein_retry_event *ev) {
  rec *r = ctx;
  if (r->n < MAXEV) {
    r->kind[r->n] = 'g';
    r->ev[r->n++] = *ev;
  }
  /* fired after the state is updated: the call is over, so a further
   * next() is the misuse answer */
  if (r->call) {
    rein_retry copy = *r->call;
    rein_decision d = rein_retry_next(&copy, NULL, ev->now);
    r->state_ok = d.action == REIN_GIVE_UP && d.reason == REIN_GIVEUP_NONE;
  }
}

/* A counting allocator: the decision path must not use it. */
static atomic_long allocs;
static void *c_alloc(void *ctx, size_t n) {
  (void)ctx;
  atomic_fetch_add(&allocs, 1);
  return malloc(n);
}
static void c_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

static rein_policy *mkp(rec *r, uint32_t attempts, rein_breaker *b,
                        const rein_allocator *a) {
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.max_attempts = attempts;
  c.backoff.jitter = REIN_JITTER_NONE;
  c.backoff.base_ns = 100 * MS;
  c.backoff.cap_ns = 10 * S;
  c.on_retry = on_retry;
  c.on_give_up = on_give_up;
  c.event_ctx = r;
  c.breaker = b;
  c.alloc = a;
  c.window_ns = 0;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&c, &p), REIN_OK);
  return p;
}

static void test_retry_then_give_up(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  rein_allocator a = {c_alloc, c_free, NULL};
  rein_policy *p = mkp(&r, 3, NULL, &a);
  long before = atomic_load(&allocs);
  int tag = 7;
  rein_call_opts o = {.user = &tag, .seed = 1};
  rein_retry call;
  rein_retry_init(&call, p, &o);
  r.call = &call;
  rein_outcome fail = {.kind = REIN_OUTCOME_TIMEOUT};
  rein_decision d = rein_retry_begin(&call, 0);
  assert_int_equal(r.n, 0); /* a first attempt is not an event */
  d = rein_retry_next(&call, &fail, 10 * MS);
  assert_int_equal(d.action, REIN_WAIT);
  /* fired inside the next() that returned the WAIT, with its delay */
  assert_int_equal(r.n, 1);
  assert_int_equal(r.kind[0], 'r');
  assert_int_equal(r.ev[0].attempt, 1);
  assert_int_equal(r.ev[0].delay_ns, d.delay_ns);
  assert_int_equal(r.ev[0].delay_ns, 100 * MS);
  assert_int_equal(r.ev[0].reason, REIN_GIVEUP_NONE);
  assert_int_equal(r.ev[0].last, REIN_OUTCOME_TIMEOUT);
  assert_false(r.ev[0].poll);
  assert_ptr_equal(r.ev[0].user, &tag);
  assert_ptr_equal(r.ev[0].policy, p);
  assert_int_equal(r.ev[0].now, 10 * MS);
  /* asking again before the delay is up: the same WAIT, no new event */
  d = rein_retry_next(&call, NULL, 50 * MS);
  assert_int_equal(d.action, REIN_WAIT);
  assert_int_equal(r.n, 1);
  d = rein_retry_next(&call, NULL, 110 * MS);
  assert_int_equal(d.action, REIN_ATTEMPT);
  assert_int_equal(r.n, 1);
  d = rein_retry_next(&call, &fail, 120 * MS);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.ev[1].attempt, 2);
  assert_int_equal(r.ev[1].delay_ns, 200 * MS);
  d = rein_retry_next(&call, NULL, 320 * MS);
  d = rein_retry_next(&call, &fail, 330 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(r.n, 3);
  assert_int_equal(r.kind[2], 'g');
  assert_int_equal(r.ev[2].reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(r.ev[2].dont_retry, d.dont_retry);
  assert_true(r.ev[2].dont_retry);
  assert_int_equal(r.ev[2].attempt, 3);
  assert_int_equal(r.ev[2].delay_ns, 0);
  assert_int_equal(r.state_ok, 1);
  /* misuse after the end: GIVE_UP NONE, no event */
  d = rein_retry_next(&call, &fail, 400 * MS);
  assert_int_equal(d.reason, REIN_GIVEUP_NONE);
  assert_int_equal(r.n, 3);
  /* a success: no event at all */
  memset(&r, 0, sizeof r);
  rein_retry_init(&call, p, NULL);
  rein_retry_begin(&call, 0);
  rein_outcome ok = {.kind = REIN_OUTCOME_SUCCESS};
  d = rein_retry_next(&call, &ok, MS);
  assert_int_equal(d.action, REIN_DONE);
  assert_int_equal(r.n, 0);
  /* not retryable: one give-up event with the outcome's dont_retry */
  rein_retry_init(&call, p, NULL);
  rein_retry_begin(&call, 0);
  rein_outcome fatal = {.kind = REIN_OUTCOME_FATAL};
  d = rein_retry_next(&call, &fatal, MS);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.ev[0].reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(r.ev[0].last, REIN_OUTCOME_FATAL);
  assert_null(r.ev[0].user);
  assert_int_equal(atomic_load(&allocs), before); /* nothing allocated */
  rein_policy_free(p);
}

static void test_give_up_at_begin_and_on_resume(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.window = REIN_BREAKER_WINDOW_COUNT;
  bc.window_size = 10;
  bc.min_calls = 1;
  bc.failure_rate = 0.5;
  bc.open_jitter = 0;
  rein_breaker *b = NULL;
  assert_int_equal(rein_breaker_new(&bc, &b), REIN_OK);
  rein_policy *p = mkp(&r, 3, b, NULL);
  rein_outcome fail = {.kind = REIN_OUTCOME_FAILURE};
  /* the failure opens the breaker; the retry is scheduled (on_retry) and
   * refused on resume (on_give_up BREAKER_OPEN) */
  rein_retry call;
  rein_retry_init(&call, p, NULL);
  rein_retry_begin(&call, 0);
  rein_decision d = rein_retry_next(&call, &fail, MS);
  assert_int_equal(d.action, REIN_WAIT);
  d = rein_retry_next(&call, NULL, MS + d.delay_ns);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(d.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.kind[0], 'r');
  assert_int_equal(r.kind[1], 'g');
  assert_int_equal(r.ev[1].reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_true(r.ev[1].dont_retry);
  assert_int_equal(r.ev[1].attempt, 1);
  /* a call refused at begin(): one give-up with attempt 0 */
  memset(&r, 0, sizeof r);
  rein_retry_init(&call, p, NULL);
  d = rein_retry_begin(&call, 2 * MS);
  assert_int_equal(d.action, REIN_GIVE_UP);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.ev[0].attempt, 0);
  assert_int_equal(r.ev[0].reason, REIN_GIVEUP_BREAKER_OPEN);
  rein_policy_free(p);
  rein_breaker_free(b);
}

static void test_poll_event(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  rein_policy *p = mkp(&r, 3, NULL, NULL);
  rein_call_opts o = {.has_key = true, .deadline = 60 * S};
  rein_retry call;
  rein_retry_init(&call, p, &o);
  rein_retry_begin(&call, 0);
  rein_outcome busy = {.kind = REIN_OUTCOME_FAILURE, .in_progress = true,
                       .server_delay_ns = 2 * S};
  rein_decision d = rein_retry_next(&call, &busy, MS);
  assert_int_equal(d.action, REIN_WAIT);
  assert_int_equal(r.n, 1);
  assert_true(r.ev[0].poll);
  assert_int_equal(r.ev[0].delay_ns, 2 * S);
  rein_policy_free(p);
}

/* rein_retry_run fires what the state machine fires. */
typedef struct script {
  int i;
  const rein_outcome_kind *k;
} script;

static void attempt_fn(void *ctx, const rein_decision *d, rein_outcome *o) {
  (void)d;
  script *s = ctx;
  o->kind = s->k[s->i++];
}

static void no_sleep(void *ctx, int64_t ns) {
  (void)ctx;
  (void)ns;
}

static void test_run_fires_the_same(void **state) {
  (void)state;
  rec r;
  memset(&r, 0, sizeof r);
  rein_policy *p = mkp(&r, 4, NULL, NULL);
  static const rein_outcome_kind k[] = {REIN_OUTCOME_FAILURE,
                                        REIN_OUTCOME_OVERLOADED,
                                        REIN_OUTCOME_SUCCESS};
  script sc = {0, k};
  rein_sleeper sl = {no_sleep, NULL};
  rein_result res;
  int tag;
  rein_call_opts o = {.user = &tag};
  assert_int_equal(rein_retry_run(p, &o, attempt_fn, &sc, &sl, &res),
                   REIN_OK);
  assert_int_equal(res.attempts, 3);
  assert_int_equal(r.n, 2);
  assert_int_equal(r.kind[0], 'r');
  assert_int_equal(r.kind[1], 'r');
  assert_int_equal(r.ev[0].attempt, 1);
  assert_int_equal(r.ev[0].last, REIN_OUTCOME_FAILURE);
  assert_int_equal(r.ev[1].attempt, 2);
  assert_int_equal(r.ev[1].last, REIN_OUTCOME_OVERLOADED);
  assert_ptr_equal(r.ev[1].user, &tag);
  rein_policy_free(p);
}

/* Two threads share one policy; each call counts its own events through
 * its user pointer (the callback touches only the call's counters). */
typedef struct tcount {
  int retries, giveups;
} tcount;

static void t_retry(void *ctx, const rein_retry_event *ev) {
  (void)ctx;
  ((tcount *)ev->user)->retries++;
}
static void t_give_up(void *ctx, const rein_retry_event *ev) {
  atomic_fetch_add((atomic_long *)ctx, 1);
  ((tcount *)ev->user)->giveups++;
}

typedef struct tjob {
  rein_policy *p;
  long calls, bad, giveups;
} tjob;

static void *worker(void *arg) {
  tjob *j = arg;
  rein_outcome fail = {.kind = REIN_OUTCOME_FAILURE};
  for (long i = 0; i < j->calls; i++) {
    tcount c = {0, 0};
    rein_call_opts o = {.user = &c, .seed = (uint64_t)i + 1};
    rein_retry r;
    rein_retry_init(&r, j->p, &o);
    int64_t now = i * S;
    rein_decision d = rein_retry_begin(&r, now);
    int waits = 0;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_WAIT) {
        waits++;
        d = rein_retry_next(&r, NULL, now += d.delay_ns);
      } else {
        d = rein_retry_next(&r, &fail, now += MS);
      }
    }
    if (c.retries != waits || c.giveups != 1) j->bad++;
    j->giveups++;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  atomic_long total = 0;
  rein_policy_config c;
  rein_policy_config_default(&c);
  c.on_retry = t_retry;
  c.on_give_up = t_give_up;
  c.event_ctx = &total;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&c, &p), REIN_OK);
  pthread_t t[2];
  tjob j[2] = {{p, 5000, 0, 0}, {p, 5000, 0, 0}};
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, &j[i]);
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  assert_int_equal(j[0].bad + j[1].bad, 0);
  assert_int_equal(atomic_load(&total), j[0].giveups + j[1].giveups);
  rein_policy_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_then_give_up),
      cmocka_unit_test(test_give_up_at_begin_and_on_resume),
      cmocka_unit_test(test_poll_event),
      cmocka_unit_test(test_run_fires_the_same),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
