/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_admit.c: nanoseconds per admit/release pair (rein_admit_try +
 * rein_admit_release), on one thread and on two threads sharing one
 * rein_admit.
 *
 * Cases:
 *   fast/1t        limit 64, one thread: the lock-free fast path
 *   fast/2t        limit 64, two threads on one object: the same path with
 *                  its cache line bouncing between cores
 *   peer-mutex/Nt  the hand-rolled limiter: a counter under a pthread mutex
 *   peer-sem/Nt    a POSIX semaphore, sem_trywait + sem_post
 *   ratelimit/1t   as fast/1t with the GCRA rate limit on (quota never hit)
 *   adaptive/2t    as fast/2t with the AIMD limit updating on every release
 *   hold/1t        limit 1, one thread, rein_admit_acquire on the real
 *                  clock, the handler busy-loops 200 iterations holding
 *                  the slot: the baseline for queue/2t
 *   queue/2t       the same with two threads: requests collide and block
 *                  on the condition variable until the other releases, so
 *                  the mutex path, the queue and the hand-off are measured
 *                  (ns/pair includes the other thread's handler time)
 *
 * `now` is a per-thread virtual clock advanced 100 ns per pair, so the
 * drain-rate window rolls over as in production; reading a real clock is
 * not included. ns/pair is wall time / pairs per thread (what one caller
 * pays); the median of 7 runs is printed.
 *
 *   build/bench/bench_admit [pairs_per_thread [case-prefix]]
 */
#include "rein/admit.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
  rein_admit *a;
  long pairs;
  pthread_barrier_t *go;
  long queued;
  int hold;   /* busy-loop iterations while holding the slot */
  bool block; /* rein_admit_acquire on the real clock instead of try */
  int peer;   /* 0 rein_admit; 1 mutex + counter; 2 POSIX semaphore */
  struct peers *p;
} job;

/* The peers: what a server hand-rolls instead. A counter under a
 * pthread mutex, and a POSIX semaphore (sem_trywait / sem_post, futex-based
 * and lock-free when uncontended on Linux). Both only limit concurrency: no
 * queue-time targets, no retry preference, no signals. */
typedef struct peers {
  pthread_mutex_t mu;
  unsigned inflight, limit;
  sem_t sem;
} peers;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  job *j = arg;
  int64_t now = 1000 * REIN_NS_PER_S;
  rein_admit_ticket t;
  pthread_barrier_wait(j->go);
  if (j->peer == 1) {
    for (long i = 0; i < j->pairs; i++) {
      pthread_mutex_lock(&j->p->mu);
      bool ok = j->p->inflight < j->p->limit;
      if (ok) j->p->inflight++;
      pthread_mutex_unlock(&j->p->mu);
      if (ok) {
        pthread_mutex_lock(&j->p->mu);
        j->p->inflight--;
        pthread_mutex_unlock(&j->p->mu);
      }
    }
    return NULL;
  }
  if (j->peer == 2) {
    for (long i = 0; i < j->pairs; i++)
      if (sem_trywait(&j->p->sem) == 0) sem_post(&j->p->sem);
    return NULL;
  }
  for (long i = 0; i < j->pairs; i++) {
    rein_admit_result r;
    if (j->block) {
      rein_admit_decision d;
      r = rein_admit_acquire(j->a, &t, 1, &d);
      now = rein_clock_now(NULL);
      if (d.waited_ns > 0) j->queued++;
    } else {
      now += 100;
      r = rein_admit_try(j->a, &t, 1, now, NULL);
    }
    if (r == REIN_ADMIT_ADMITTED) {
      for (volatile int k = 0; k < j->hold; k++) {
      }
      rein_admit_release(j->a, &t, now, 50);
    }
  }
  return NULL;
}

static double run_once(const rein_admit_config *c, int threads, long pairs,
                       int hold, bool block, int peer, long *queued) {
  peers pp;
  pthread_mutex_init(&pp.mu, NULL);
  pp.inflight = 0;
  pp.limit = c->limit;
  sem_init(&pp.sem, 0, c->limit);
  rein_admit *a = NULL;
  if (rein_admit_new(c, &a) != REIN_OK) {
    fprintf(stderr, "rein_admit_new failed\n");
    exit(1);
  }
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  job jobs[2];
  pthread_t th[2];
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){a, pairs, &go, 0, hold, block, peer, &pp};
    pthread_create(&th[i], NULL, worker, &jobs[i]);
  }
  pthread_barrier_wait(&go);
  double t0 = wall();
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  double t1 = wall();
  *queued = 0;
  for (int i = 0; i < threads; i++)
    *queued += jobs[i].queued;
  pthread_barrier_destroy(&go);
  rein_admit_free(a);
  pthread_mutex_destroy(&pp.mu);
  sem_destroy(&pp.sem);
  return (t1 - t0) * 1e9 / (double)pairs;
}

static const char *g_only; /* run only the cases whose name starts so */

static int cmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static void bench(const char *name, const rein_admit_config *c, int threads,
                  long pairs, int hold, bool block, int peer) {
  if (g_only && strncmp(name, g_only, strlen(g_only)) != 0) return;
  enum { RUNS = 7 };
  double ns[RUNS];
  long queued = 0;
  for (int r = 0; r < RUNS; r++)
    ns[r] = run_once(c, threads, pairs, hold, block, peer, &queued);
  qsort(ns, RUNS, sizeof ns[0], cmp);
  printf("%-14s threads=%d pairs/thread=%ld  median %.1f ns/pair  "
         "(min %.1f, max %.1f)",
         name, threads, pairs, ns[RUNS / 2], ns[0], ns[RUNS - 1]);
  if (queued) printf("  queued %.1f%%", 100.0 * queued / (threads * pairs));
  printf("\n");
}

int main(int argc, char **argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 2000000;
  g_only = argc > 2 ? argv[2] : NULL;
  if (pairs < 1) pairs = 1;
  rein_admit_config c;
  rein_admit_config_default(&c);
  bench("fast/1t", &c, 1, pairs, 0, false, 0);
  bench("fast/2t", &c, 2, pairs, 0, false, 0);
  bench("peer-mutex/1t", &c, 1, pairs, 0, false, 1);
  bench("peer-mutex/2t", &c, 2, pairs, 0, false, 1);
  bench("peer-sem/1t", &c, 1, pairs, 0, false, 2);
  bench("peer-sem/2t", &c, 2, pairs, 0, false, 2);
  rein_admit_config rl = c;
  rl.rl_quota = 1000000000;
  rl.rl_window_ns = REIN_NS_PER_S;
  bench("ratelimit/1t", &rl, 1, pairs, 0, false, 0);
  rein_admit_config ad = c;
  ad.adaptive = true;
  bench("adaptive/2t", &ad, 2, pairs, 0, false, 0);
  rein_admit_config q = c;
  q.limit = 1;
  q.max_wait_ns = 600 * REIN_NS_PER_S;
  q.interval_ns = 600 * REIN_NS_PER_S;
  bench("hold/1t", &q, 1, pairs / 10, 200, true, 0);
  bench("queue/2t", &q, 2, pairs / 10, 200, true, 0);
  return 0;
}
