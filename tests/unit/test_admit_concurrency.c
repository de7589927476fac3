/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_admit_concurrency.c: many threads admitting and releasing at once,
 * through every entry point (try + poll, cancel, the blocking acquire), on
 * the real monotonic clock with tight targets so the queue, the overload
 * switch and LIFO all happen. Asserts the invariants: in-flight (as counted
 * by the handlers themselves) never exceeds the limit, every admitted ticket
 * is released, and the admit's counters balance with what the threads saw.
 * A timer thread calls rein_admit_settle meanwhile, and `notify` counts the
 * hand-offs, as an event loop would. Labelled `concurrency` so it also runs
 * under ThreadSanitizer.
 */
#include "rein_test.h"

#include "rein/admit.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define THREADS 8
#define ITERS 2500

typedef struct shared {
  rein_admit *a;
  uint32_t limit_cap;
  _Atomic int cur;     /* handlers running right now */
  _Atomic int max_cur; /* the most ever seen */
  _Atomic int violations;
  _Atomic bool stop;         /* tells the timer thread to finish */
  _Atomic uint64_t notified; /* notify calls */
} shared;

/* notify runs under the admit's lock: count only, never call back. */
static void on_notify(void *ctx, rein_admit_ticket *t) {
  shared *sh = ctx;
  (void)t;
  atomic_fetch_add(&sh->notified, 1);
}

/* An event loop's timer: settle the queue every 50 us while workers run. */
static void *timer(void *p) {
  shared *sh = p;
  while (!atomic_load(&sh->stop)) {
    rein_admit_settle(sh->a, rein_clock_now(NULL));
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

typedef struct worker {
  shared *sh;
  int id;
  uint64_t seed;
  uint64_t admitted, queued, cancelled, released;
  uint64_t rejected[REIN_ADMIT_R_COUNT_];
} worker;

static uint64_t next_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int64_t mono(void) {
  return rein_clock_now(NULL);
}

static void run_handler(worker *w, rein_admit_ticket *t) {
  shared *sh = w->sh;
  int c = atomic_fetch_add(&sh->cur, 1) + 1;
  if ((uint32_t)c > sh->limit_cap) atomic_fetch_add(&sh->violations, 1);
  int m = atomic_load(&sh->max_cur);
  while (c > m && !atomic_compare_exchange_weak(&sh->max_cur, &m, c)) {
  }
  unsigned spin = (unsigned)(next_rand(&w->seed) % 200);
  for (volatile unsigned i = 0; i < spin; i++) {
  }
  if (next_rand(&w->seed) % 2 == 0) sched_yield();
  atomic_fetch_sub(&sh->cur, 1);
  assert_int_equal(rein_admit_release(sh->a, t, mono(), -1), REIN_OK);
  w->released++;
}

static void *work(void *p) {
  worker *w = p;
  rein_admit *a = w->sh->a;
  for (int i = 0; i < ITERS; i++) {
    rein_admit_ticket t;
    rein_admit_decision d;
    uint32_t attempt = next_rand(&w->seed) % 4 == 0 ? 2 : 1;
    rein_admit_result r;
    if (w->id % 2 == 1) {
      r = rein_admit_acquire(a, &t, attempt, &d);
      assert_int_not_equal(r, REIN_ADMIT_QUEUED);
      if (d.waited_ns > 0 || d.reason == REIN_ADMIT_R_QUEUE_TIMEOUT ||
          d.reason == REIN_ADMIT_R_DISPLACED)
        w->queued++; /* it went through the queue */
    } else {
      r = rein_admit_try(a, &t, attempt, mono(), &d);
      if (r == REIN_ADMIT_QUEUED) {
        w->queued++;
        bool give_up = next_rand(&w->seed) % 8 == 0;
        int spins = 0;
        while ((r = rein_admit_poll(a, &t, mono(), &d)) == REIN_ADMIT_QUEUED) {
          if (give_up && ++spins > 3) {
            rein_admit_cancel(a, &t, mono());
            r = rein_admit_poll(a, &t, mono(), &d);
            break;
          }
          sched_yield();
        }
        if (r == REIN_ADMIT_REJECTED && d.reason == REIN_ADMIT_R_NONE) {
          w->cancelled++;
          continue;
        }
        if (give_up && r == REIN_ADMIT_ADMITTED && spins > 3) {
          /* granted before the cancel: cancel released it */
          w->admitted++;
          w->released++;
          continue;
        }
      }
    }
    if (r == REIN_ADMIT_ADMITTED) {
      w->admitted++;
      run_handler(w, &t);
    } else {
      w->rejected[d.reason]++;
    }
  }
  return NULL;
}

static void run(bool adaptive) {
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 2;
  c.queue_max = 6;
  c.retry_queue_max = 2;
  c.target_ns = 200 * REIN_NS_PER_US;
  c.interval_ns = 2 * REIN_NS_PER_MS;
  c.max_wait_ns = 5 * REIN_NS_PER_MS;
  c.rate_window_ns = 10 * REIN_NS_PER_MS;
  c.adaptive = adaptive;
  c.limit_min = 1;
  c.limit_max = 3;
  c.aimd_latency_ns = 50 * REIN_NS_PER_US;
  shared sh;
  memset(&sh, 0, sizeof sh);
  sh.limit_cap = adaptive ? c.limit_max : c.limit;
  c.notify = on_notify;
  c.notify_ctx = &sh;
  assert_int_equal(rein_admit_new(&c, &sh.a), REIN_OK);
  pthread_t tm;
  assert_int_equal(pthread_create(&tm, NULL, timer, &sh), 0);

  uint64_t seed = rein_test_seed();
  worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].sh = &sh;
    w[i].id = i;
    w[i].seed = seed * 2654435761u + (uint64_t)i * 97 + 1;
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  worker tot;
  memset(&tot, 0, sizeof tot);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    if (i == THREADS - 1) {
      atomic_store(&sh.stop, true);
      pthread_join(tm, NULL);
    }
    tot.admitted += w[i].admitted;
    tot.queued += w[i].queued;
    tot.cancelled += w[i].cancelled;
    tot.released += w[i].released;
    for (int r = 0; r < REIN_ADMIT_R_COUNT_; r++)
      tot.rejected[r] += w[i].rejected[r];
  }
  rein_admit_stats s;
  rein_admit_stats_get(sh.a, mono(), &s);
  fprintf(stderr,
          "%s: admitted %llu queued %llu cancelled %llu max in-flight %d; "
          "rejected: queue_full %llu retry_shed %llu displaced %llu "
          "timeout %llu\n",
          adaptive ? "adaptive" : "fixed", (unsigned long long)s.admitted,
          (unsigned long long)s.queued, (unsigned long long)s.cancelled,
          atomic_load(&sh.max_cur),
          (unsigned long long)s.rejected[REIN_ADMIT_R_QUEUE_FULL],
          (unsigned long long)s.rejected[REIN_ADMIT_R_RETRY_SHED],
          (unsigned long long)s.rejected[REIN_ADMIT_R_DISPLACED],
          (unsigned long long)s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT]);
  assert_int_equal(atomic_load(&sh.violations), 0);
  assert_true((uint32_t)atomic_load(&sh.max_cur) <= sh.limit_cap);
  assert_int_equal(s.inflight, 0);
  assert_int_equal(s.queue_len, 0);
  assert_int_equal(s.admitted, tot.admitted);
  assert_int_equal(s.released, tot.released);
  assert_int_equal(s.released, s.admitted);
  assert_int_equal(s.cancelled, tot.cancelled);
  uint64_t rej = 0;
  for (int r = 1; r < REIN_ADMIT_R_COUNT_; r++) {
    assert_int_equal(s.rejected[r], tot.rejected[r]);
    rej += s.rejected[r];
  }
  assert_int_equal(s.rejected[REIN_ADMIT_R_NONE], 0);
  /* Every request ended exactly one way. */
  assert_int_equal(s.admitted + rej + s.cancelled, (uint64_t)THREADS * ITERS);
  /* Every queued ticket left the queue exactly one way. */
  assert_true(s.queued >= s.cancelled + s.rejected[REIN_ADMIT_R_DISPLACED] +
                              s.rejected[REIN_ADMIT_R_QUEUE_TIMEOUT]);
  assert_true(s.queued > 0);
  /* Each queued ticket is reported at most once (blocked acquirers are
   * woken through their condition variable instead). */
  assert_true(atomic_load(&sh.notified) <= s.queued);
  assert_true(atomic_load(&sh.notified) > 0);
  rein_admit_free(sh.a);
}

static void test_fixed_limit(void **state) {
  (void)state;
  run(false);
}

static void test_adaptive_limit(void **state) {
  (void)state;
  run(true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_limit),
      cmocka_unit_test(test_adaptive_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
