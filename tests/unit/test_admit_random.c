/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admit_random.c: random operation sequences against invariants.
 *
 * A seeded driver issues try / poll / cancel / release / settle /
 * set_limit / acquire-free operations with random attempt numbers at
 * random, non-decreasing times, on several configurations, and keeps its
 * own book of every ticket (what each call returned, what `notify` said).
 * After every operation it checks:
 *   - the admit's gauges equal the book: in-flight = tickets ADMITTED and
 *     not released, queue length = tickets QUEUED;
 *   - counters balance: admitted = released + in-flight; every ticket that
 *     ever entered the queue left it exactly one way or is still there;
 *   - a ticket reported changed by notify is no longer QUEUED, and one not
 *     reported did not change behind the driver's back;
 *   - with a fixed limit, in-flight never exceeds it;
 *   - after a settle at `now`, no ticket is still queued beyond its
 *     timeout (max_wait_ns; target_ns while overloaded);
 *   - every decision is well formed (REJECTED has a reason and a
 *     Retry-After within the clamp; headers build, with a status).
 * The seed is printed; REIN_TEST_SEED replays a failure.
 */
#include "rein_test.h"

#include "rein/admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS REIN_NS_PER_MS
#define N 64 /* tickets in the book */

enum { B_FREE, B_QUEUED, B_ADMITTED };

typedef struct book {
  rein_admit *a;
  rein_admit_config c;
  rein_admit_ticket t[N];
  int st[N];
  int64_t enq[N];
  bool changed[N]; /* notify said so */
  uint64_t rng;
  int64_t now;
  uint64_t n_admitted, n_released, n_queued, n_left_queue;
  bool fixed_limit;
  uint32_t limit;
} book;

static uint64_t rnd(book *b) {
  b->rng ^= b->rng << 13;
  b->rng ^= b->rng >> 7;
  b->rng ^= b->rng << 17;
  return b->rng;
}

static void on_notify(void *ctx, rein_admit_ticket *t) {
  book *b = ctx;
  int i = (int)(uintptr_t)t->user;
  assert_int_equal(b->st[i], B_QUEUED);
  b->changed[i] = true;
}

static void check_decision(const book *b, const rein_admit_decision *d) {
  if (d->result == REIN_ADMIT_REJECTED && d->reason != REIN_ADMIT_R_NONE) {
    assert_true(d->reason < REIN_ADMIT_R_COUNT_);
    assert_true(d->retry_after_ns >= b->c.retry_after_min_ns);
    assert_true(d->retry_after_ns <= b->c.retry_after_max_ns);
    rein_admit_response r;
    assert_int_equal(rein_admit_headers(d, -1, &r), REIN_OK);
    assert_true(r.status == 503 || r.status == 429);
    assert_true(r.count >= 1);
  } else if (d->result == REIN_ADMIT_ADMITTED) {
    assert_int_equal(d->retry_after_ns, -1);
  }
}

/* Record what a call said about ticket i. */
static void record(book *b, int i, rein_admit_result r, bool was_queued) {
  if (r == REIN_ADMIT_ADMITTED) {
    b->st[i] = B_ADMITTED;
    b->n_admitted++;
    if (was_queued) b->n_left_queue++;
  } else if (r == REIN_ADMIT_QUEUED) {
    if (!was_queued) b->n_queued++;
    b->st[i] = B_QUEUED;
  } else {
    b->st[i] = B_FREE;
    if (was_queued) b->n_left_queue++;
  }
}

/* Tickets notify reported: learn their new state by polling. */
static void drain(book *b) {
  for (int i = 0; i < N; i++) {
    if (!b->changed[i]) continue;
    b->changed[i] = false;
    rein_admit_decision d;
    rein_admit_result r = rein_admit_poll(b->a, &b->t[i], b->now, &d);
    assert_int_not_equal(r, REIN_ADMIT_QUEUED);
    check_decision(b, &d);
    record(b, i, r, true);
  }
}

static void check(book *b) {
  rein_admit_stats s;
  rein_admit_stats_get(b->a, b->now, &s);
  uint32_t q = 0, f = 0;
  for (int i = 0; i < N; i++) {
    if (b->st[i] == B_QUEUED) q++;
    if (b->st[i] == B_ADMITTED) f++;
  }
  assert_int_equal(s.queue_len, q);
  assert_int_equal(s.inflight, f);
  assert_int_equal(s.admitted, b->n_admitted);
  assert_int_equal(s.released, b->n_released);
  assert_int_equal(s.admitted, s.released + s.inflight);
  assert_int_equal(s.queued, b->n_queued);
  assert_int_equal(s.queued, b->n_left_queue + q);
  if (b->fixed_limit) assert_true(s.inflight <= b->limit);
}

/* A ticket in state `st`, from a random start; -1 when there is none. */
static int pick(book *b, int st) {
  int start = (int)(rnd(b) % N);
  for (int k = 0; k < N; k++) {
    int i = (start + k) % N;
    if (b->st[i] == st) return i;
  }
  return -1;
}

static void step(book *b) {
  b->now += (int64_t)(rnd(b) % (3 * MS));
  int i;
  rein_admit_decision d;
  switch (rnd(b) % 8) {
  case 0:
  case 1:
  case 2: /* a new request */
    if ((i = pick(b, B_FREE)) < 0) break;
    {
      uint32_t attempt = (uint32_t)(rnd(b) % 3); /* 0 counts as 1 */
      b->t[i].user = (void *)(uintptr_t)i;
      rein_admit_result r = rein_admit_try(b->a, &b->t[i], attempt, b->now, &d);
      assert_int_equal(d.result, r);
      check_decision(b, &d);
      drain(b);
      record(b, i, r, false);
    }
    break;
  case 3: /* finish */
    i = pick(b, rnd(b) % 8 ? B_ADMITTED : B_FREE);
    if (i < 0) break;
    if (b->st[i] == B_ADMITTED) {
      assert_int_equal(rein_admit_release(b->a, &b->t[i], b->now, -1), REIN_OK);
      b->st[i] = B_FREE;
      b->n_released++;
      drain(b);
    } else if (b->st[i] == B_FREE) {
      /* released twice / never admitted: refused; a stale ticket */
      if (rnd(b) % 2)
        assert_int_equal(rein_admit_release(b->a, &b->t[i], b->now, -1),
                         REIN_ESTATE);
    }
    break;
  case 4: /* poll a waiter */
    if ((i = pick(b, B_QUEUED)) < 0) break;
    {
      rein_admit_result r = rein_admit_poll(b->a, &b->t[i], b->now, &d);
      check_decision(b, &d);
      b->changed[i] = false; /* we know now */
      drain(b);
      record(b, i, r, true);
    }
    break;
  case 5: /* a client goes away */
    if ((i = pick(b, rnd(b) % 2 ? B_QUEUED : B_ADMITTED)) < 0) break;
    if (b->st[i] == B_QUEUED) {
      rein_admit_cancel(b->a, &b->t[i], b->now);
      b->st[i] = B_FREE;
      b->n_left_queue++;
      drain(b);
    } else if (b->st[i] == B_ADMITTED && rnd(b) % 4 == 0) {
      rein_admit_cancel(b->a, &b->t[i], b->now); /* = release */
      b->st[i] = B_FREE;
      b->n_released++;
      drain(b);
    }
    break;
  case 6: /* the timer */
    rein_admit_settle(b->a, b->now);
    drain(b);
    {
      rein_admit_stats s;
      rein_admit_stats_get(b->a, b->now, &s);
      int64_t limit = s.overloaded ? b->c.target_ns : b->c.max_wait_ns;
      for (int k = 0; k < N; k++)
        if (b->st[k] == B_QUEUED && !b->changed[k])
          assert_true(b->now - b->t[k].enq_ns_ <= limit);
    }
    break;
  case 7: /* capacity changes */
    if (!b->fixed_limit && rnd(b) % 8 == 0) {
      uint32_t l = 1 + (uint32_t)(rnd(b) % 8);
      assert_int_equal(rein_admit_set_limit(b->a, l, b->now), REIN_OK);
      drain(b);
    }
    break;
  }
  check(b);
}

static void run(rein_admit_config *c, bool fixed, uint64_t seed, int steps) {
  book *b = calloc(1, sizeof *b);
  assert_non_null(b);
  b->c = *c;
  b->c.notify = on_notify;
  b->c.notify_ctx = b;
  b->rng = seed | 1;
  b->fixed_limit = fixed;
  b->limit = c->limit;
  assert_int_equal(rein_admit_new(&b->c, &b->a), REIN_OK);
  for (int k = 0; k < steps; k++)
    step(b);
  /* Wind down: everything leaves, the book balances to zero. */
  for (int i = 0; i < N; i++) {
    if (b->st[i] == B_QUEUED) {
      rein_admit_cancel(b->a, &b->t[i], b->now);
      b->st[i] = B_FREE;
      b->n_left_queue++;
      drain(b);
    }
  }
  for (int i = 0; i < N; i++) {
    if (b->st[i] == B_ADMITTED) {
      rein_admit_release(b->a, &b->t[i], b->now, -1);
      b->st[i] = B_FREE;
      b->n_released++;
      drain(b);
    }
  }
  check(b);
  rein_admit_stats s;
  rein_admit_stats_get(b->a, b->now, &s);
  fprintf(stderr,
          "  limit %u queue %u: admitted %llu queued %llu cancelled %llu "
          "rejected full %llu retry %llu displaced %llu timeout %llu "
          "rate %llu\n",
          b->c.limit, b->c.queue_max, (unsigned long long)s.admitted,
          (unsigned long long)s.queued, (unsigned long long)s.cancelled,
          (unsigned long long)s.rejected[REIN_ADMIT_R_QUEUE_FULL],
          (unsigned long long)s.rejected[REIN_ADMIT_R_RETRY_SHED],
          (unsigned long long)s.rejected[REIN_ADMIT_R_DISPLACED],
          (unsigned long long)s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT],
          (unsigned long long)s.rejected[REIN_ADMIT_R_RATE_LIMITED]);
  /* The sequence reached the interesting states. */
  assert_true(s.admitted > 1000);
  if (b->c.queue_max > 0) {
    assert_true(s.queued > 50);
    assert_true(s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT] > 0);
  }
  rein_admit_free(b->a);
  free(b);
}

static void test_random_sequences(void **state) {
  (void)state;
  uint64_t seed = rein_test_seed();
  for (int v = 0; v < 6; v++) {
    rein_admit_config c;
    rein_admit_config_default(&c);
    c.limit = 1 + (uint32_t)v;
    c.queue_max = (uint32_t)(v * 5);
    c.retry_queue_max = c.queue_max / 3;
    c.target_ns = 2 * MS;
    c.interval_ns = 20 * MS;
    c.max_wait_ns = 30 * MS;
    c.lifo_when_overloaded = v % 2 == 0;
    c.rate_window_ns = 50 * MS;
    c.dont_retry = (rein_admit_dont_retry)(v % 3);
    c.retry_after_spread = v == 3 ? 0.5 : 0;
    if (v == 4) {
      c.rl_quota = 200;
      c.rl_window_ns = REIN_NS_PER_S;
    }
    bool fixed = v < 3;
    if (v == 5) {
      c.adaptive = true;
      c.limit_max = 8;
      c.aimd_latency_ns = 10 * MS;
      fixed = false;
    }
    run(&c, fixed, seed * 31 + (uint64_t)v, 20000);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_sequences),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
