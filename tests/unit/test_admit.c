/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admit.c: admission control with explicit time: queue-time (CoDel)
 * shedding, adaptive LIFO, retry-first shedding, Retry-After from the drain
 * rate (exact values for constructed scenarios), the GCRA rate limit, the
 * AIMD limit, header strings per the drafts, config validation, the
 * allocation fault loop, and the blocking wrapper agreeing with try + poll.
 */
#include "rein_test.h"

#include "rein/admit.h"
#include "rein/signal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MS REIN_NS_PER_MS
#define S REIN_NS_PER_S

static rein_admit *mk(const rein_admit_config *c) {
  rein_admit *a = NULL;
  assert_int_equal(rein_admit_new(c, &a), REIN_OK);
  assert_non_null(a);
  return a;
}

static rein_admit_stats stats(rein_admit *a, int64_t now) {
  rein_admit_stats s;
  rein_admit_stats_get(a, now, &s);
  return s;
}

/* A config where nothing overloads within a test of a few seconds. */
static void calm(rein_admit_config *c) {
  rein_admit_config_default(c);
  c->target_ns = 60 * S;
  c->interval_ns = 600 * S;
  c->max_wait_ns = 600 * S;
}

/* ------------------------------------------------------------------------ */

static void test_basic_limit_and_queue(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 2;
  c.queue_max = 1;
  c.retry_queue_max = 1;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[4];
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, &d), REIN_ADMIT_ADMITTED);
  assert_int_equal(d.result, REIN_ADMIT_ADMITTED);
  assert_int_equal(d.retry_after_ns, -1);
  assert_int_equal(rein_admit_try(a, &t[1], 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &t[2], 1, 0, &d), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &t[3], 1, 0, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_FULL);
  assert_false(d.dont_retry);
  rein_admit_stats s = stats(a, 0);
  assert_int_equal(s.inflight, 2);
  assert_int_equal(s.queue_len, 1);
  /* Release one: the queued ticket gets the slot. */
  assert_int_equal(rein_admit_release(a, &t[0], 7 * MS, -1), REIN_OK);
  assert_int_equal(rein_admit_poll(a, &t[2], 7 * MS, &d), REIN_ADMIT_ADMITTED);
  assert_int_equal(d.waited_ns, 7 * MS);
  /* Released twice, or a ticket never used: refused, nothing changes. */
  assert_int_equal(rein_admit_release(a, &t[0], 8 * MS, -1), REIN_ESTATE);
  rein_admit_ticket zero;
  memset(&zero, 0, sizeof zero);
  assert_int_equal(rein_admit_release(a, &zero, 8 * MS, -1), REIN_ESTATE);
  assert_int_equal(rein_admit_release(a, &t[3], 8 * MS, -1), REIN_ESTATE);
  assert_int_equal(rein_admit_release(a, &t[1], 8 * MS, -1), REIN_OK);
  assert_int_equal(rein_admit_release(a, &t[2], 8 * MS, -1), REIN_OK);
  s = stats(a, 8 * MS);
  assert_int_equal(s.admitted, 3);
  assert_int_equal(s.released, 3);
  assert_int_equal(s.queued, 1);
  assert_int_equal(s.rejected[REIN_ADMIT_R_QUEUE_FULL], 1);
  assert_int_equal(s.inflight, 0);
  assert_int_equal(s.queue_len, 0);
  rein_admit_free(a);
  rein_admit_free(NULL);
}

static void test_no_queue_and_cancel(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.queue_max = 0;
  c.retry_queue_max = 0;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[3];
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &t[1], 1, 0, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_FULL);
  assert_int_equal(rein_admit_try(a, &t[2], 2, 0, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  rein_admit_release(a, &t[0], 1, -1);
  rein_admit_free(a);

  /* Cancel a queued ticket, and cancel of an admitted one releases it. */
  calm(&c);
  c.limit = 1;
  a = mk(&c);
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &t[1], 1, 0, NULL), REIN_ADMIT_QUEUED);
  rein_admit_cancel(a, &t[1], 1);
  rein_admit_stats s = stats(a, 1);
  assert_int_equal(s.queue_len, 0);
  assert_int_equal(s.cancelled, 1);
  rein_admit_cancel(a, &t[0], 2);
  s = stats(a, 2);
  assert_int_equal(s.inflight, 0);
  assert_int_equal(s.released, 1);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Queue-time shedding                                                      */

static void test_codel_overload_and_short_timeouts(void **state) {
  (void)state;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1;
  c.queue_max = 10;
  c.retry_queue_max = 5;
  c.target_ns = 5 * MS;
  c.interval_ns = 100 * MS;
  c.max_wait_ns = 1 * S;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, B, C, D, E;
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &A, 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &B, 1, 0, &d), REIN_ADMIT_QUEUED);
  /* B has waited above target since 5 ms; not yet for a whole interval. */
  assert_int_equal(rein_admit_poll(a, &B, 50 * MS, &d), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_poll(a, &B, 105 * MS - 1, &d), REIN_ADMIT_QUEUED);
  assert_false(stats(a, 105 * MS - 1).overloaded);
  /* At 5 ms + 100 ms the standing queue makes it overloaded: the queue
   * timeout becomes the target and B (waited 105 ms) is shed. */
  assert_int_equal(rein_admit_poll(a, &B, 105 * MS, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_TIMEOUT);
  assert_int_equal(d.waited_ns, 105 * MS);
  assert_true(d.overloaded);
  assert_false(d.dont_retry); /* a first attempt: it may retry later */
  assert_true(stats(a, 105 * MS).overloaded);
  /* Overloaded: first attempts queue with the short timeout, retries are
   * refused outright and told not to retry. */
  assert_int_equal(rein_admit_try(a, &C, 1, 105 * MS, &d), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &D, 2, 105 * MS, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  assert_true(d.dont_retry);
  assert_int_equal(rein_admit_poll(a, &C, 110 * MS, &d), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_poll(a, &C, 110 * MS + 1, &d),
                   REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_TIMEOUT);
  assert_int_equal(d.waited_ns, 5 * MS + 1);
  /* The queue emptied by shedding, not by service: still overloaded. */
  assert_true(stats(a, 111 * MS).overloaded);
  /* A request that finds a free slot and no queue ends the overload. */
  assert_int_equal(rein_admit_release(a, &A, 111 * MS, -1), REIN_OK);
  assert_int_equal(rein_admit_try(a, &E, 1, 111 * MS, &d), REIN_ADMIT_ADMITTED);
  assert_false(stats(a, 111 * MS).overloaded);
  rein_admit_release(a, &E, 112 * MS, -1);
  rein_admit_stats s = stats(a, 112 * MS);
  assert_int_equal(s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT], 2);
  assert_int_equal(s.rejected[REIN_ADMIT_R_RETRY_SHED], 1);
  rein_admit_free(a);
}

static void test_short_waits_never_overload(void **state) {
  (void)state;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[2];
  int cur = 0;
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &t[1], 1, 0, NULL), REIN_ADMIT_QUEUED);
  /* A queue that never empties for 2 s, but nobody waits above 4 ms. */
  for (int k = 1; k <= 500; k++) {
    int64_t now = k * 4 * MS;
    assert_int_equal(rein_admit_release(a, &t[cur], now, -1), REIN_OK);
    rein_admit_decision d;
    assert_int_equal(rein_admit_poll(a, &t[!cur], now, &d),
                     REIN_ADMIT_ADMITTED);
    assert_int_equal(d.waited_ns, 4 * MS);
    cur = !cur;
    assert_int_equal(rein_admit_try(a, &t[!cur], 1, now, NULL),
                     REIN_ADMIT_QUEUED);
    assert_false(stats(a, now).overloaded);
  }
  rein_admit_cancel(a, &t[!cur], 2 * S + 1);
  rein_admit_release(a, &t[cur], 2 * S + 1, -1);
  rein_admit_free(a);
}

static rein_admit *overloaded_one_slot(bool lifo, rein_admit_ticket *A,
                                       rein_admit_ticket *B) {
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1;
  c.max_wait_ns = S;
  c.lifo_when_overloaded = lifo;
  rein_admit *a = mk(&c);
  assert_int_equal(rein_admit_try(a, A, 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, B, 1, 0, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_poll(a, B, 105 * MS, NULL), REIN_ADMIT_REJECTED);
  assert_true(stats(a, 105 * MS).overloaded);
  return a;
}

static void test_adaptive_lifo(void **state) {
  (void)state;
  rein_admit_ticket A, B, C[3];
  rein_admit_decision d;
  rein_admit *a = overloaded_one_slot(true, &A, &B);
  for (int i = 0; i < 3; i++)
    assert_int_equal(rein_admit_try(a, &C[i], 1, (105 + i) * MS, NULL),
                     REIN_ADMIT_QUEUED);
  /* LIFO while overloaded: the newest waiter gets the slot. */
  rein_admit_release(a, &A, 108 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &C[2], 108 * MS, &d),
                   REIN_ADMIT_ADMITTED);
  assert_int_equal(d.waited_ns, 1 * MS);
  assert_int_equal(rein_admit_poll(a, &C[0], 108 * MS, NULL),
                   REIN_ADMIT_QUEUED);
  rein_admit_release(a, &C[2], 109 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &C[1], 109 * MS, NULL),
                   REIN_ADMIT_ADMITTED);
  assert_true(stats(a, 109 * MS).overloaded);
  /* The last waiter is served: the queue drained by service, overload over. */
  rein_admit_release(a, &C[1], 109 * MS + 500 * REIN_NS_PER_US, -1);
  assert_int_equal(rein_admit_poll(a, &C[0], 110 * MS, &d),
                   REIN_ADMIT_ADMITTED);
  assert_int_equal(d.waited_ns, 4 * MS + 500 * REIN_NS_PER_US);
  assert_false(stats(a, 110 * MS).overloaded);
  rein_admit_release(a, &C[0], 111 * MS, -1);
  rein_admit_free(a);

  /* Same with LIFO off: FIFO. */
  a = overloaded_one_slot(false, &A, &B);
  for (int i = 0; i < 3; i++)
    rein_admit_try(a, &C[i], 1, (105 + i) * MS, NULL);
  rein_admit_release(a, &A, 108 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &C[0], 108 * MS, NULL),
                   REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_poll(a, &C[2], 108 * MS, NULL),
                   REIN_ADMIT_QUEUED);
  rein_admit_release(a, &C[0], 108 * MS, -1);
  rein_admit_release(a, &C[1], 108 * MS, -1);
  rein_admit_release(a, &C[2], 108 * MS, -1);
  assert_int_equal(stats(a, 108 * MS).inflight, 0);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Retries shed first                                                       */

typedef struct notes {
  int n;
  rein_admit_ticket *last;
} notes;

static void on_notify(void *ctx, rein_admit_ticket *t) {
  notes *n = ctx;
  n->n++;
  n->last = t;
}

static void test_retries_shed_first(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.queue_max = 4;
  c.retry_queue_max = 2;
  notes nt = {0, NULL};
  c.notify = on_notify;
  c.notify_ctx = &nt;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, R1, R2, F[5];
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &A, 1, 0, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_try(a, &R1, 2, 0, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &F[0], 1, 1, NULL), REIN_ADMIT_QUEUED);
  /* Queue at retry_queue_max: retries refused, first attempts still queue. */
  assert_int_equal(rein_admit_try(a, &R2, 3, 2, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  assert_int_equal(d.attempt, 3);
  assert_true(d.dont_retry);
  assert_false(d.overloaded);
  assert_int_equal(rein_admit_try(a, &F[1], 1, 3, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &F[2], 1, 4, NULL), REIN_ADMIT_QUEUED);
  /* Full: a first attempt displaces the queued retry... */
  assert_int_equal(nt.n, 0);
  assert_int_equal(rein_admit_try(a, &F[3], 1, 5, &d), REIN_ADMIT_QUEUED);
  assert_int_equal(nt.n, 1);
  assert_ptr_equal(nt.last, &R1);
  assert_int_equal(rein_admit_poll(a, &R1, 5, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_DISPLACED);
  assert_int_equal(d.waited_ns, 5);
  assert_true(d.dont_retry);
  /* ...and with no retry left to displace, it is refused itself. */
  assert_int_equal(rein_admit_try(a, &F[4], 1, 6, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_FULL);
  assert_false(d.dont_retry);
  /* Releases hand slots out in order; notify tells the event loop. */
  rein_admit_release(a, &A, 10, -1);
  assert_int_equal(nt.n, 2);
  assert_ptr_equal(nt.last, &F[0]);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(rein_admit_poll(a, &F[i], 10, NULL), REIN_ADMIT_ADMITTED);
    rein_admit_release(a, &F[i], 10, -1);
  }
  rein_admit_stats s = stats(a, 10);
  assert_int_equal(s.rejected[REIN_ADMIT_R_DISPLACED], 1);
  assert_int_equal(s.rejected[REIN_ADMIT_R_RETRY_SHED], 1);
  assert_int_equal(s.rejected[REIN_ADMIT_R_QUEUE_FULL], 1);
  assert_int_equal(s.admitted, 5);
  assert_int_equal(s.released, 5);
  rein_admit_free(a);
}

static void test_settle_applies_timeouts(void **state) {
  (void)state;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1;
  notes nt = {0, NULL};
  c.notify = on_notify;
  c.notify_ctx = &nt;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, B;
  rein_admit_settle(a, 0); /* empty: nothing to do */
  rein_admit_try(a, &A, 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &B, 1, 0, NULL), REIN_ADMIT_QUEUED);
  rein_admit_settle(a, 100 * MS);
  assert_int_equal(nt.n, 0);
  /* Nobody calls with B; the timer shed it at max_wait and said so. */
  rein_admit_settle(a, 100 * MS + 1);
  assert_int_equal(nt.n, 1);
  assert_ptr_equal(nt.last, &B);
  rein_admit_decision d;
  assert_int_equal(rein_admit_poll(a, &B, 100 * MS + 1, &d),
                   REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_TIMEOUT);
  rein_admit_release(a, &A, 101 * MS, -1);
  rein_admit_settle(NULL, 0);
  rein_admit_free(a);
}

static void test_first_attempts_served_before_retries(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, R, F;
  rein_admit_try(a, &A, 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &R, 2, 0, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &F, 1, MS, NULL), REIN_ADMIT_QUEUED);
  rein_admit_release(a, &A, 2 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &F, 2 * MS, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_poll(a, &R, 2 * MS, NULL), REIN_ADMIT_QUEUED);
  rein_admit_release(a, &F, 3 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &R, 3 * MS, NULL), REIN_ADMIT_ADMITTED);
  rein_admit_release(a, &R, 3 * MS, -1);
  rein_admit_free(a);
}

static void test_dont_retry_policies(void **state) {
  (void)state;
  rein_admit_ticket A, B, C;
  rein_admit_decision d;
  /* OVERLOADED: every rejection made while overloaded is marked. */
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1;
  c.queue_max = 1;
  c.retry_queue_max = 1;
  c.max_wait_ns = S;
  c.dont_retry = REIN_ADMIT_DONT_RETRY_OVERLOADED;
  rein_admit *a = mk(&c);
  rein_admit_try(a, &A, 1, 0, NULL);
  rein_admit_try(a, &B, 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &C, 1, MS, &d), REIN_ADMIT_REJECTED);
  assert_false(d.dont_retry); /* queue full, not yet overloaded */
  assert_int_equal(rein_admit_poll(a, &B, 105 * MS, &d), REIN_ADMIT_REJECTED);
  assert_true(d.overloaded);
  assert_true(d.dont_retry);
  rein_admit_release(a, &A, 106 * MS, -1);
  rein_admit_free(a);
  /* RETRIES (default): a queued retry that times out is marked too. */
  rein_admit_config_default(&c);
  c.limit = 1;
  a = mk(&c);
  rein_admit_try(a, &A, 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &B, 2, 0, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_poll(a, &B, 100 * MS + 1, &d),
                   REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_QUEUE_TIMEOUT);
  assert_false(d.overloaded);
  assert_true(d.dont_retry);
  rein_admit_release(a, &A, 101 * MS, -1);
  rein_admit_free(a);
  /* NEVER: not even shed retries. */
  calm(&c);
  c.limit = 1;
  c.retry_queue_max = 0;
  c.dont_retry = REIN_ADMIT_DONT_RETRY_NEVER;
  a = mk(&c);
  rein_admit_try(a, &A, 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &B, 2, 0, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  assert_false(d.dont_retry);
  rein_admit_release(a, &A, 1, -1);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Retry-After tracks the drain rate                                        */

/* A shed retry probes Retry-After at the current queue length. */
static int64_t probe(rein_admit *a, int64_t now) {
  rein_admit_ticket p;
  rein_admit_decision d;
  assert_int_equal(rein_admit_try(a, &p, 2, now, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  return d.retry_after_ns;
}

static void test_retry_after_tracks_drain_rate(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 2;
  c.queue_max = 64;
  c.retry_queue_max = 0;
  c.rate_window_ns = S;
  rein_admit *a = mk(&c);
  enum { N = 256 };
  static rein_admit_ticket t[N];
  int head = 0, next = 0; /* t[head..next) are admitted or queued, in order */
  /* Window [0, 1 s]: two slots, 10 completions. */
  for (; next < 2; next++)
    assert_int_equal(rein_admit_try(a, &t[next], 1, 0, NULL),
                     REIN_ADMIT_ADMITTED);
  for (int k = 1; k <= 10; k++) {
    int64_t now = k * 100 * MS;
    assert_int_equal(rein_admit_release(a, &t[head++], now, -1), REIN_OK);
    assert_int_equal(rein_admit_try(a, &t[next++], 1, now, NULL),
                     REIN_ADMIT_ADMITTED);
  }
  assert_true(stats(a, S).drain_rate == 10.0);
  /* 30 waiting at 10/s: a request shed now comes back behind them and
   * needs its own completion too: 31 / 10 = 3.1 s. */
  for (int i = 0; i < 30; i++)
    assert_int_equal(rein_admit_try(a, &t[next++], 1, S, NULL),
                     REIN_ADMIT_QUEUED);
  assert_int_equal(probe(a, S), 3100 * MS);
  /* Window (1 s, 2 s]: 5 completions, the queue kept at 30: 6.2 s. */
  for (int k = 1; k <= 5; k++) {
    int64_t now = S + k * 200 * MS;
    assert_int_equal(rein_admit_release(a, &t[head++], now, -1), REIN_OK);
    assert_int_equal(rein_admit_try(a, &t[next++], 1, now, NULL),
                     REIN_ADMIT_QUEUED);
  }
  assert_true(stats(a, 2 * S).drain_rate == 5.0);
  assert_int_equal(probe(a, 2 * S), 6200 * MS);
  /* 60 waiting at 5/s: 12.2 s; the header says 13. */
  for (int i = 0; i < 30; i++)
    rein_admit_try(a, &t[next++], 1, 2 * S, NULL);
  rein_admit_ticket p;
  rein_admit_decision d;
  rein_admit_try(a, &p, 2, 2 * S, &d);
  assert_int_equal(d.retry_after_ns, 12200 * MS);
  assert_int_equal(d.queue_len, 60);
  rein_admit_response r;
  assert_int_equal(rein_admit_headers(&d, -1, &r), REIN_OK);
  assert_int_equal(r.status, 503);
  assert_string_equal(r.headers[0].name, "Retry-After");
  assert_string_equal(r.headers[0].value, "13");
  /* Window (2 s, 3 s] with two completions: (58 + 1) / 2 = 29.5 s; then
   * nothing completes in (3 s, 4 s]: clamped to the maximum (60 s). */
  rein_admit_release(a, &t[head++], 2500 * MS, -1);
  rein_admit_release(a, &t[head++], 3 * S, -1);
  assert_int_equal(probe(a, 3 * S), 29500 * MS);
  assert_int_equal(stats(a, 4 * S).drain_rate, 0);
  assert_int_equal(probe(a, 4 * S), 60 * S);
  /* Clean up: cancel the waiters, release the admitted. */
  for (int i = head; i < next; i++) {
    rein_admit_cancel(a, &t[i], 4 * S);
    rein_admit_release(a, &t[i], 4 * S, -1);
  }
  rein_admit_stats s = stats(a, 4 * S);
  assert_int_equal(s.inflight, 0);
  assert_int_equal(s.queue_len, 0);
  rein_admit_free(a);
}

static void test_retry_after_spread(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.queue_max = 8;
  c.retry_queue_max = 0;
  c.retry_after_min_ns = 0;
  c.retry_after_max_ns = 5 * S;
  c.retry_after_spread = 1.0;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[5];
  /* 10 completions in the first second: 10/s. */
  rein_admit_try(a, &t[0], 1, 0, NULL);
  for (int k = 1; k <= 10; k++) {
    rein_admit_release(a, &t[0], k * 100 * MS, -1);
    rein_admit_try(a, &t[0], 1, k * 100 * MS, NULL);
  }
  /* 3 waiting: 0.3 s -> base 1 s, spread over 1..2 s. */
  for (int i = 1; i <= 3; i++)
    rein_admit_try(a, &t[i], 1, S, NULL);
  int64_t want1[] = {1, 2, 1, 2};
  for (int i = 0; i < 4; i++)
    assert_int_equal(probe(a, S), want1[i] * S);
  /* 25 waiting would be 2.5 s -> base 3 s, spread 3..6 s, clamped at 5 s. */
  calm(&c);
  c.limit = 1;
  c.queue_max = 32;
  c.retry_queue_max = 0;
  c.retry_after_max_ns = 5 * S;
  c.retry_after_spread = 1.0;
  rein_admit *b = mk(&c);
  static rein_admit_ticket u[26];
  rein_admit_try(b, &u[0], 1, 0, NULL);
  for (int k = 1; k <= 10; k++) {
    rein_admit_release(b, &u[0], k * 100 * MS, -1);
    rein_admit_try(b, &u[0], 1, k * 100 * MS, NULL);
  }
  for (int i = 1; i <= 25; i++)
    rein_admit_try(b, &u[i], 1, S, NULL);
  int64_t want2[] = {3, 4, 5, 5, 3, 4};
  for (int i = 0; i < 6; i++)
    assert_int_equal(probe(b, S), want2[i] * S);
  for (int i = 0; i <= 3; i++)
    rein_admit_cancel(a, &t[i], 2 * S);
  for (int i = 0; i <= 25; i++)
    rein_admit_cancel(b, &u[i], 2 * S);
  rein_admit_free(a);
  rein_admit_free(b);
}

static void test_retry_after_clamps(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.retry_queue_max = 0;
  c.retry_after_min_ns = 2 * S;
  c.retry_after_max_ns = 5 * S;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, B;
  rein_admit_try(a, &A, 1, 0, NULL);
  /* Empty queue, no completion measured yet, the slot just taken: the
   * rate is unknown, not zero, so the minimum (a cold start does not send
   * every early caller away for the maximum). */
  assert_int_equal(probe(a, 0), 2 * S);
  /* Held for 500 ms, still inside the first window: at most one
   * completion per 500 ms, (0 + 1) x 0.5 s, clamped up to the minimum. */
  assert_int_equal(probe(a, 500 * MS), 2 * S);
  /* A queue of one behind it at 900 ms: (1 + 1) x 0.9 s = 1.8 s, still
   * the minimum. */
  rein_admit_try(a, &B, 1, 900 * MS, NULL);
  assert_int_equal(probe(a, 900 * MS), 2 * S);
  /* A whole window (1 s) went by with the slot held and nothing
   * completed: a measured rate of 0, the maximum. */
  assert_int_equal(probe(a, 1500 * MS), 5 * S);
  rein_admit_cancel(a, &B, 1);
  rein_admit_release(a, &A, 1, -1);
  rein_admit_free(a);
}

/* An upstream that hangs: the last window measured 10/s, then no slot is
 * taken or given back. The drain rate is bounded by one completion per
 * time since the slots last moved, so Retry-After grows with the hang
 * instead of repeating the rate from before it. */
static void test_retry_after_stalled_slots(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.queue_max = 8;
  c.retry_queue_max = 0;
  c.retry_after_min_ns = 0;
  c.rate_window_ns = 2 * S;
  rein_admit *a = mk(&c);
  rein_admit_ticket A, B;
  rein_admit_try(a, &A, 1, 0, NULL);
  for (int k = 1; k <= 20; k++) {
    rein_admit_release(a, &A, k * 100 * MS, -1);
    rein_admit_try(a, &A, 1, k * 100 * MS, NULL);
  }
  assert_true(stats(a, 2 * S).drain_rate == 10.0);
  /* The slot last moved at 2 s. One waiter: (1 + 1) / 10 = 0.2 s. */
  assert_int_equal(rein_admit_try(a, &B, 1, 2 * S, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(probe(a, 2 * S), 200 * MS);
  /* 50 ms later the window's rate still holds (1 / 50 ms is above it). */
  assert_int_equal(probe(a, 2050 * MS), 200 * MS);
  /* 1 s without a move: at most 1/s, so 2 s; 1.9 s without one: 3.8 s. */
  assert_int_equal(probe(a, 3 * S), 2 * S);
  assert_int_equal(probe(a, 3900 * MS), 3800 * MS);
  /* The slot moves again: back to the window's rate (still 10/s: the
   * window that started at 2 s is not complete). */
  rein_admit_release(a, &A, 3900 * MS, -1); /* B takes the slot */
  rein_admit_ticket C;
  assert_int_equal(rein_admit_try(a, &C, 1, 3900 * MS, NULL),
                   REIN_ADMIT_QUEUED);
  assert_int_equal(probe(a, 3900 * MS), 200 * MS);
  rein_admit_cancel(a, &C, 3900 * MS);
  rein_admit_release(a, &B, 3900 * MS, -1);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Rate limit and headers                                                   */

static void expect_header(const rein_admit_response *r, size_t i,
                          const char *name, const char *value) {
  assert_true(i < r->count);
  assert_string_equal(r->headers[i].name, name);
  assert_string_equal(r->headers[i].value, value);
}

static void test_rate_limit_headers(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 100;
  c.rl_quota = 10;
  c.rl_window_ns = 60 * S;
  c.rl_policy = "api";
  rein_admit *a = mk(&c);
  rein_admit_ticket t[12];
  rein_admit_decision d;
  rein_admit_response r;
  /* GCRA: 10 per 60 s = one unit every 6 s, bursts of 10. */
  assert_int_equal(rein_admit_try(a, &t[0], 1, 0, &d), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_headers(&d, -1, &r), REIN_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.count, 2);
  expect_header(&r, 0, "RateLimit-Policy", "\"api\";q=10;w=60");
  expect_header(&r, 1, "RateLimit", "\"api\";r=9;t=6");
  for (int i = 1; i < 10; i++)
    assert_int_equal(rein_admit_try(a, &t[i], 1, 0, &d), REIN_ADMIT_ADMITTED);
  rein_admit_headers(&d, -1, &r);
  /* Nothing left: t is the time until the next unit, not until full. */
  expect_header(&r, 1, "RateLimit", "\"api\";r=0;t=6");
  /* The 11th: 429, wait 6 s for the next unit; t equals Retry-After. */
  assert_int_equal(rein_admit_try(a, &t[10], 1, 0, &d), REIN_ADMIT_REJECTED);
  assert_int_equal(d.reason, REIN_ADMIT_R_RATE_LIMITED);
  assert_int_equal(d.retry_after_ns, 6 * S);
  assert_false(d.dont_retry);
  rein_admit_headers(&d, -1, &r);
  assert_int_equal(r.status, 429);
  assert_int_equal(r.count, 3);
  expect_header(&r, 0, "Retry-After", "6");
  expect_header(&r, 1, "RateLimit-Policy", "\"api\";q=10;w=60");
  expect_header(&r, 2, "RateLimit", "\"api\";r=0;t=6");
  /* 4.5 s later: 1.5 s to go, Retry-After rounds up to 2. */
  assert_int_equal(rein_admit_try(a, &t[10], 1, 4500 * MS, &d),
                   REIN_ADMIT_REJECTED);
  assert_int_equal(d.retry_after_ns, 1500 * MS);
  rein_admit_headers(&d, -1, &r);
  expect_header(&r, 0, "Retry-After", "2");
  /* At 6 s one unit is back. */
  assert_int_equal(rein_admit_try(a, &t[10], 1, 6 * S, &d),
                   REIN_ADMIT_ADMITTED);
  assert_int_equal(d.rl_remaining, 0);
  assert_int_equal(stats(a, 6 * S).rejected[REIN_ADMIT_R_RATE_LIMITED], 2);
  for (int i = 0; i <= 10; i++)
    rein_admit_release(a, &t[i], 7 * S, -1);
  rein_admit_free(a);
}

static void test_headers_overload_and_retention(void **state) {
  (void)state;
  rein_admit_decision d;
  memset(&d, 0, sizeof d);
  d.result = REIN_ADMIT_REJECTED;
  d.reason = REIN_ADMIT_R_RETRY_SHED;
  d.dont_retry = true;
  d.retry_after_ns = 2 * S + 1;
  d.rl_remaining = -1;
  rein_admit_response r;
  assert_int_equal(rein_admit_headers(&d, 72 * 3600 * S, &r), REIN_OK);
  assert_int_equal(r.status, 503);
  assert_int_equal(r.count, 3);
  expect_header(&r, 0, "Retry-After", "3");
  expect_header(&r, 1, "Rein-Dont-Retry", "?1");
  expect_header(&r, 2, "Idempotency-Key-Retention", "259200");
  /* Admitted, no rate limit, keyed: only the retention. */
  memset(&d, 0, sizeof d);
  d.result = REIN_ADMIT_ADMITTED;
  d.rl_remaining = -1;
  assert_int_equal(rein_admit_headers(&d, 86400 * S + 999, &r), REIN_OK);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.count, 1);
  expect_header(&r, 0, "Idempotency-Key-Retention", "86400");
  assert_int_equal(rein_admit_headers(&d, -1, &r), REIN_OK);
  assert_int_equal(r.count, 0);
  assert_int_equal(rein_admit_headers(NULL, -1, &r), REIN_EINVAL);
  assert_int_equal(rein_admit_headers(&d, -1, NULL), REIN_EINVAL);
  /* The longest policy name fits with every header. */
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  c.queue_max = 0;
  c.retry_queue_max = 0;
  c.rl_quota = 1000000000;
  c.rl_window_ns = 86400 * S;
  c.rl_policy = "abcdefghijklmnopqrstuvwxyz012345";
  rein_admit *a = mk(&c);
  rein_admit_ticket A, B;
  rein_admit_try(a, &A, 1, 0, NULL);
  rein_admit_try(a, &B, 2, 0, &d);
  assert_int_equal(d.reason, REIN_ADMIT_R_RETRY_SHED);
  rein_admit_headers(&d, 600 * 86400 * S, &r);
  assert_int_equal(r.count, 5);
  expect_header(&r, 2, "RateLimit-Policy",
                "\"abcdefghijklmnopqrstuvwxyz012345\";q=1000000000;w=86400");
  expect_header(&r, 3, "RateLimit",
                "\"abcdefghijklmnopqrstuvwxyz012345\";r=999999998;t=1");
  rein_admit_release(a, &A, 1, -1);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Adaptive limit (AIMD)                                                    */

static void test_aimd(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.adaptive = true;
  c.limit = 4;
  c.limit_min = 2;
  c.limit_max = 5;
  c.aimd_latency_ns = 100 * MS;
  c.aimd_backoff = 0.5;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[8];
  for (int i = 0; i < 3; i++)
    rein_admit_try(a, &t[i], 1, 0, NULL);
  /* In-flight 3 >= 4/2 and fast: +1. */
  rein_admit_release(a, &t[0], 10 * MS, -1);
  assert_int_equal(stats(a, 10 * MS).limit, 5);
  /* At limit_max: stays. */
  rein_admit_release(a, &t[1], 20 * MS, -1);
  assert_int_equal(stats(a, 20 * MS).limit, 5);
  /* Slow (latency measured from admission): x0.5, floor 2. */
  rein_admit_release(a, &t[2], 150 * MS, -1);
  assert_int_equal(stats(a, 150 * MS).limit, 2);
  rein_admit_try(a, &t[3], 1, 150 * MS, NULL);
  rein_admit_release(a, &t[3], 151 * MS, 500 * MS); /* explicit latency */
  assert_int_equal(stats(a, 151 * MS).limit, 2);    /* limit_min */
  /* In-flight 1 >= 2/2: grows again. */
  rein_admit_try(a, &t[4], 1, 200 * MS, NULL);
  rein_admit_release(a, &t[4], 201 * MS, -1);
  assert_int_equal(stats(a, 201 * MS).limit, 3);
  /* In-flight 1 < 3/2: no growth. */
  rein_admit_try(a, &t[5], 1, 300 * MS, NULL);
  rein_admit_release(a, &t[5], 301 * MS, -1);
  assert_int_equal(stats(a, 301 * MS).limit, 3);
  rein_admit_free(a);
}

static void test_set_limit(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 1;
  rein_admit *a = mk(&c);
  rein_admit_ticket t[4];
  rein_admit_try(a, &t[0], 1, 0, NULL);
  for (int i = 1; i < 4; i++)
    assert_int_equal(rein_admit_try(a, &t[i], 1, 0, NULL), REIN_ADMIT_QUEUED);
  /* Raising the limit hands the new slots out at once. */
  assert_int_equal(rein_admit_set_limit(a, 3, MS), REIN_OK);
  assert_int_equal(rein_admit_poll(a, &t[1], MS, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_poll(a, &t[2], MS, NULL), REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_poll(a, &t[3], MS, NULL), REIN_ADMIT_QUEUED);
  /* Lowering it preempts nobody; releases do not refill above it. */
  assert_int_equal(rein_admit_set_limit(a, 1, 2 * MS), REIN_OK);
  rein_admit_release(a, &t[0], 3 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &t[3], 3 * MS, NULL), REIN_ADMIT_QUEUED);
  rein_admit_release(a, &t[1], 3 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &t[3], 3 * MS, NULL), REIN_ADMIT_QUEUED);
  rein_admit_release(a, &t[2], 4 * MS, -1);
  assert_int_equal(rein_admit_poll(a, &t[3], 4 * MS, NULL),
                   REIN_ADMIT_ADMITTED);
  assert_int_equal(rein_admit_set_limit(a, 0, 5 * MS), REIN_EINVAL);
  assert_int_equal(stats(a, 5 * MS).limit, 1);
  rein_admit_release(a, &t[3], 5 * MS, -1);
  rein_admit_free(a);
}

static void test_prometheus(void **state) {
  (void)state;
  rein_admit_config c;
  calm(&c);
  c.limit = 2;
  c.queue_max = 1;
  c.retry_queue_max = 1;
  c.name = "ledger";
  rein_admit *a = mk(&c);
  rein_admit_ticket t[5];
  rein_admit_try(a, &t[0], 1, 0, NULL);
  rein_admit_try(a, &t[1], 1, 0, NULL);
  assert_int_equal(rein_admit_try(a, &t[2], 1, 0, NULL), REIN_ADMIT_QUEUED);
  assert_int_equal(rein_admit_try(a, &t[3], 1, 0, NULL), REIN_ADMIT_REJECTED);
  assert_int_equal(rein_admit_try(a, &t[4], 2, 0, NULL), REIN_ADMIT_REJECTED);
  rein_admit_release(a, &t[0], S, -1); /* hands the slot to t[2] */
  char buf[4096];
  size_t need = 0;
  assert_int_equal(
      rein_admit_write_prometheus(a, S, buf, sizeof buf, &need, false),
      REIN_OK);
  const char *want =
      "rein_admit_admitted_total{admit=\"ledger\"} 3\n"
      "rein_admit_queued_total{admit=\"ledger\"} 1\n"
      "rein_admit_released_total{admit=\"ledger\"} 1\n"
      "rein_admit_cancelled_total{admit=\"ledger\"} 0\n"
      "rein_admit_rejected_total{admit=\"ledger\",reason=\"queue_full\"} 1\n"
      "rein_admit_rejected_total{admit=\"ledger\",reason=\"retry_shed\"} 1\n"
      "rein_admit_rejected_total{admit=\"ledger\",reason=\"displaced\"} 0\n"
      "rein_admit_rejected_total{admit=\"ledger\",reason=\"queue_timeout\"} "
      "0\n"
      "rein_admit_rejected_total{admit=\"ledger\",reason=\"rate_limited\"} 0\n"
      "rein_admit_inflight{admit=\"ledger\"} 2\n"
      "rein_admit_queue_length{admit=\"ledger\"} 0\n"
      "rein_admit_limit{admit=\"ledger\"} 2\n"
      "rein_admit_overloaded{admit=\"ledger\"} 0\n"
      "rein_admit_drain_rate{admit=\"ledger\"} 1.000\n";
  assert_string_equal(buf, want);
  assert_int_equal(need, strlen(want));
  /* With HELP and TYPE lines. */
  assert_int_equal(
      rein_admit_write_prometheus(a, S, buf, sizeof buf, &need, true), REIN_OK);
  const char *head = "# HELP rein_admit_admitted_total Requests admitted "
                     "(at once or queued).\n# TYPE rein_admit_admitted_total "
                     "counter\nrein_admit_admitted_total{admit=\"ledger\"} 3\n";
  assert_true(strncmp(buf, head, strlen(head)) == 0);
  assert_non_null(strstr(buf, "# TYPE rein_admit_drain_rate gauge\n"));
  size_t full = need;
  /* Too small: truncated, NUL-terminated, the full length reported. */
  char small[32];
  assert_int_equal(
      rein_admit_write_prometheus(a, S, small, sizeof small, &need, true),
      REIN_ETOOBIG);
  assert_int_equal(need, full);
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_int_equal(rein_admit_write_prometheus(a, S, NULL, 0, &need, false),
                   REIN_ETOOBIG);
  assert_int_equal(need, strlen(want));
  assert_int_equal(rein_admit_write_prometheus(a, S, NULL, 5, &need, false),
                   REIN_EINVAL);
  rein_admit_release(a, &t[1], S, -1);
  rein_admit_release(a, &t[2], S, -1);
  rein_admit_free(a);
}

/* ------------------------------------------------------------------------ */
/* Config, allocation, parsing                                              */

typedef void (*mutator)(rein_admit_config *c);
#define MUT(name, body)                                                        \
  static void name(rein_admit_config *c) {                                     \
    body;                                                                      \
  }
MUT(m_limit0, c->limit = 0)
MUT(m_limit_big, c->limit = (1u << 20) + 1)
MUT(m_queue_big, c->queue_max = (1u << 20) + 1)
MUT(m_retry_q, c->retry_queue_max = c->queue_max + 1)
MUT(m_target0, c->target_ns = 0)
MUT(m_target_big, c->target_ns = 61 * S)
MUT(m_interval, c->interval_ns = c->target_ns - 1)
MUT(m_max_wait, c->max_wait_ns = 1)
MUT(m_ra_min, c->retry_after_min_ns = -1)
MUT(m_ra_max, c->retry_after_max_ns = 7 * 3600 * S)
MUT(m_window, c->rate_window_ns = 10)
MUT(m_dont, c->dont_retry = (rein_admit_dont_retry)7)
MUT(m_rl_quota, c->rl_quota = 2000000000u)
MUT(m_rl_window, {
  c->rl_quota = 5;
  c->rl_window_ns = 1500 * MS;
})
MUT(m_rl_policy, {
  c->rl_quota = 5;
  c->rl_policy = "a b";
})
MUT(m_rl_policy_null, {
  c->rl_quota = 5;
  c->rl_policy = NULL;
})
MUT(m_lmin, {
  c->adaptive = true;
  c->limit_min = 0;
})
MUT(m_lmax, {
  c->adaptive = true;
  c->limit_max = 3;
})
MUT(m_aimd_lat, {
  c->adaptive = true;
  c->aimd_latency_ns = 0;
})
MUT(m_aimd_back, {
  c->adaptive = true;
  c->aimd_backoff = 1.0;
})
MUT(m_name, c->name = "bad name")
MUT(m_spread, c->retry_after_spread = -0.5)
MUT(m_name_null, c->name = NULL)

static void test_config_validation(void **state) {
  (void)state;
  static const struct {
    mutator m;
    const char *prefix;
  } cases[] = {
      {m_limit0, "admit.limit: must be in [1, 1048576], got 0"},
      {m_limit_big, "admit.limit:"},
      {m_queue_big, "admit.queue_max:"},
      {m_retry_q, "admit.retry_queue_max: must be <= queue_max (128), got 129"},
      {m_target0, "admit.target_ns: must be in (0, 60 s], got 0"},
      {m_target_big, "admit.target_ns:"},
      {m_interval, "admit.interval_ns:"},
      {m_max_wait, "admit.max_wait_ns:"},
      {m_ra_min, "admit.retry_after_min_ns:"},
      {m_ra_max, "admit.retry_after_max_ns:"},
      {m_window, "admit.rate_window_ns:"},
      {m_dont, "admit.dont_retry: unknown value 7"},
      {m_rl_quota, "admit.rl_quota:"},
      {m_rl_window, "admit.rl_window_ns: must be a whole number of seconds"},
      {m_rl_policy, "admit.rl_policy: must match [A-Za-z0-9_.:-]{1,32}, got "
                    "\"a b\""},
      {m_rl_policy_null, "admit.rl_policy:"},
      {m_lmin, "admit.limit_min:"},
      {m_lmax, "admit.limit_max: must be in [limit (64), 1048576], got 3"},
      {m_aimd_lat, "admit.aimd_latency_ns:"},
      {m_aimd_back, "admit.aimd_backoff:"},
      {m_name,
       "admit.name: must match [A-Za-z0-9_.:-]{1,64}, got \"bad name\""},
      {m_name_null, "admit.name:"},
      {m_spread, "admit.retry_after_spread: must be in [0, 4], got -0.5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rein_admit_config c;
    rein_admit_config_default(&c);
    rein_errbuf err = {{0}};
    c.err = &err;
    cases[i].m(&c);
    rein_admit *a = (rein_admit *)&c; /* must be reset to NULL */
    assert_int_equal(rein_admit_new(&c, &a), REIN_EINVAL);
    assert_null(a);
    if (strncmp(err.msg, cases[i].prefix, strlen(cases[i].prefix)) != 0)
      fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, err.msg,
               cases[i].prefix);
  }
  /* Adaptive fields are not checked when adaptive is off. */
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 5000;
  rein_admit *a = NULL;
  assert_int_equal(rein_admit_new(&c, &a), REIN_OK);
  rein_admit_free(a);
  assert_int_equal(rein_admit_new(NULL, &a), REIN_EINVAL);
  assert_int_equal(rein_admit_new(&c, NULL), REIN_EINVAL);
}

static int fault_body(void *ctx, const rein_allocator *al) {
  (void)ctx;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.alloc = al;
  c.rl_quota = 3;
  rein_admit *a = NULL;
  rein_status st = rein_admit_new(&c, &a);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    assert_null(a);
    return -1;
  }
  rein_admit_ticket t;
  assert_int_equal(rein_admit_try(a, &t, 1, 0, NULL), REIN_ADMIT_ADMITTED);
  rein_admit_release(a, &t, 1, -1);
  rein_admit_free(a);
  return 0;
}

static void test_alloc_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

static void test_parse_attempt(void **state) {
  (void)state;
#define PA(s) rein_admit_parse_attempt(s, sizeof(s) - 1)
  assert_int_equal(PA("1"), 1);
  assert_int_equal(PA("3"), 3);
  assert_int_equal(PA(" 2\t"), 2);
  assert_int_equal(PA("0"), 1);
  assert_int_equal(PA(""), 1);
  assert_int_equal(PA("  "), 1);
  assert_int_equal(PA("-2"), 1);
  assert_int_equal(PA("2x"), 1);
  assert_int_equal(PA("1000"), 1000);
  assert_int_equal(PA("1001"), 1000);
  assert_int_equal(PA("99999999999999999999999"), 1000);
  assert_int_equal(rein_admit_parse_attempt(NULL, 5), 1);
  assert_int_equal(rein_admit_parse_attempt("42", 1), 4); /* len respected */
#undef PA
  assert_string_equal(rein_admit_reason_name(REIN_ADMIT_R_RETRY_SHED),
                      "retry_shed");
  assert_string_equal(rein_admit_reason_name(REIN_ADMIT_R_COUNT_), "unknown");
}

/* ------------------------------------------------------------------------ */
/* Blocking wrapper = try + poll                                            */

typedef struct acq {
  rein_admit *a;
  rein_admit_ticket t;
  uint32_t attempt;
  rein_admit_decision d;
  rein_admit_result r;
} acq;

static void *acquirer(void *p) {
  acq *q = p;
  q->r = rein_admit_acquire(q->a, &q->t, q->attempt, &q->d);
  return NULL;
}

static void wait_queue_len(rein_admit *a, uint32_t n) {
  for (int i = 0; i < 5000; i++) {
    if (stats(a, 0).queue_len == n) return;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  fail_msg("queue never reached %u", n);
}

static void test_blocking_matches_polling(void **state) {
  (void)state;
  for (int blocking = 0; blocking <= 1; blocking++) {
    rein_manual_clock mc;
    rein_manual_clock_init(&mc, 0);
    rein_admit_config c;
    rein_admit_config_default(&c);
    c.limit = 1;
    c.max_wait_ns = 50 * MS;
    c.clock = rein_manual_clock_as_clock(&mc);
    rein_admit *a = mk(&c);
    rein_admit_ticket A;
    assert_int_equal(rein_admit_try(a, &A, 1, 0, NULL), REIN_ADMIT_ADMITTED);

    /* 1: handed the slot when A is released at 3 ms. */
    acq q = {a, {0}, 1, {0}, REIN_ADMIT_QUEUED};
    pthread_t th;
    if (blocking) {
      assert_int_equal(pthread_create(&th, NULL, acquirer, &q), 0);
      wait_queue_len(a, 1);
    } else {
      q.r = rein_admit_try(a, &q.t, 1, 0, &q.d);
      assert_int_equal(q.r, REIN_ADMIT_QUEUED);
    }
    rein_manual_clock_set(&mc, 3 * MS);
    rein_admit_release(a, &A, 3 * MS, -1);
    if (blocking)
      pthread_join(th, NULL);
    else
      q.r = rein_admit_poll(a, &q.t, 3 * MS, &q.d);
    assert_int_equal(q.r, REIN_ADMIT_ADMITTED);
    assert_int_equal(q.d.waited_ns, 3 * MS);

    /* 2: times out when the clock passes max_wait. */
    acq q2 = {a, {0}, 1, {0}, REIN_ADMIT_QUEUED};
    if (blocking) {
      assert_int_equal(pthread_create(&th, NULL, acquirer, &q2), 0);
      wait_queue_len(a, 1);
    } else {
      assert_int_equal(rein_admit_try(a, &q2.t, 1, 3 * MS, NULL),
                       REIN_ADMIT_QUEUED);
    }
    rein_manual_clock_set(&mc, 53 * MS + 1);
    if (blocking)
      pthread_join(th, NULL);
    else
      q2.r = rein_admit_poll(a, &q2.t, 53 * MS + 1, &q2.d);
    assert_int_equal(q2.r, REIN_ADMIT_REJECTED);
    assert_int_equal(q2.d.reason, REIN_ADMIT_R_QUEUE_TIMEOUT);
    assert_int_equal(q2.d.waited_ns, 50 * MS + 1);

    rein_admit_release(a, &q.t, 60 * MS, -1);
    rein_admit_stats s = stats(a, 60 * MS);
    assert_int_equal(s.admitted, 2);
    assert_int_equal(s.inflight, 0);
    assert_int_equal(s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT], 1);
    rein_admit_free(a);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic_limit_and_queue),
      cmocka_unit_test(test_no_queue_and_cancel),
      cmocka_unit_test(test_codel_overload_and_short_timeouts),
      cmocka_unit_test(test_short_waits_never_overload),
      cmocka_unit_test(test_adaptive_lifo),
      cmocka_unit_test(test_retries_shed_first),
      cmocka_unit_test(test_settle_applies_timeouts),
      cmocka_unit_test(test_first_attempts_served_before_retries),
      cmocka_unit_test(test_dont_retry_policies),
      cmocka_unit_test(test_retry_after_tracks_drain_rate),
      cmocka_unit_test(test_retry_after_spread),
      cmocka_unit_test(test_retry_after_clamps),
      cmocka_unit_test(test_retry_after_stalled_slots),
      cmocka_unit_test(test_rate_limit_headers),
      cmocka_unit_test(test_headers_overload_and_retention),
      cmocka_unit_test(test_aimd),
      cmocka_unit_test(test_set_limit),
      cmocka_unit_test(test_prometheus),
      cmocka_unit_test(test_config_validation),
      cmocka_unit_test(test_alloc_fault_loop),
      cmocka_unit_test(test_parse_attempt),
      cmocka_unit_test(test_blocking_matches_polling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
