/*
 * bench_decision.c: nanoseconds per retry decision, on one thread and on
 * two threads sharing one budget and one breaker.
 *
 * A "call" is begin + next(outcome): 95% succeed first time; 5% fail, wait
 * (next(NULL) after the jittered delay) and succeed on the retry, so the
 * ratio budget's withdrawals, the breaker's failure path and the backoff
 * all run. Decisions are counted as state-machine calls (begin and every
 * next). Time is a per-thread virtual clock advanced 1 us per call, so the
 * windows roll over as in production. Prints medians of 7 runs.
 *
 *   build/bench/bench_decision [calls_per_thread]
 */
#include "rein.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
  rein_policy *policy;
  long calls;
  long decisions;
  uint64_t seed;
  pthread_barrier_t *go;
} job;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  job *j = arg;
  rein_rng rng;
  rein_rng_seed(&rng, j->seed);
  int64_t now = 1000 * REIN_NS_PER_S;
  long decisions = 0;
  pthread_barrier_wait(j->go);
  for (long i = 0; i < j->calls; i++) {
    rein_retry r;
    rein_call_opts o = {.seed = j->seed + (uint64_t)i};
    rein_retry_init(&r, j->policy, &o);
    rein_decision d = rein_retry_begin(&r, now);
    decisions++;
    bool fail_first = (rein_rng_next(&rng) % 100) < 5;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_ATTEMPT) {
        rein_outcome out = {fail_first && d.attempt == 1 ? REIN_OUTCOME_FAILURE
                                                         : REIN_OUTCOME_SUCCESS,
                            0, false};
        d = rein_retry_next(&r, &out, now);
      } else {
        now += d.delay_ns;
        d = rein_retry_next(&r, NULL, now);
      }
      decisions++;
    }
    now += 1000;
  }
  j->decisions = decisions;
  return NULL;
}

static double run(rein_policy *p, int threads, long calls, long *decisions) {
  pthread_t t[8];
  job jobs[8];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){p, calls, 0, 1234 + (uint64_t)i * 7919, &go};
    pthread_create(&t[i], NULL, worker, &jobs[i]);
  }
  pthread_barrier_wait(&go);
  double t0 = wall();
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double el = wall() - t0;
  pthread_barrier_destroy(&go);
  *decisions = 0;
  for (int i = 0; i < threads; i++) *decisions += jobs[i].decisions;
  return el;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 2000000;
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  rein_budget *budget;
  rein_breaker *breaker;
  if (rein_budget_new(&bc, &budget) || rein_breaker_new(&kc, &breaker)) return 1;
  rein_policy_config pc;
  rein_policy_config_default(&pc); /* exponential backoff, full jitter */
  pc.budget = budget;
  pc.breaker = breaker;
  rein_policy *p;
  if (rein_policy_new(&pc, &p)) return 1;

  enum { RUNS = 7 };
  double ns1[RUNS], ns2[RUNS], thr1[RUNS], thr2[RUNS];
  for (int k = 0; k < RUNS; k++) {
    long d1, d2;
    double e1 = run(p, 1, calls, &d1);
    double e2 = run(p, 2, calls, &d2);
    ns1[k] = e1 * 1e9 / (double)d1;
    ns2[k] = e2 * 1e9 / (double)d2 * 2; /* per decision per thread */
    thr1[k] = (double)d1 / e1;
    thr2[k] = (double)d2 / e2;
  }
  qsort(ns1, RUNS, sizeof(double), cmp);
  qsort(ns2, RUNS, sizeof(double), cmp);
  qsort(thr1, RUNS, sizeof(double), cmp);
  qsort(thr2, RUNS, sizeof(double), cmp);
  printf("bench_decision: begin+next with ratio budget, time-window breaker, "
         "exponential backoff + full jitter; 5%% of calls retry once\n");
  printf("  1 thread : %6.1f ns/decision (median of %d; min %.1f, max %.1f), "
         "%.1f M decisions/s\n",
         ns1[RUNS / 2], RUNS, ns1[0], ns1[RUNS - 1], thr1[RUNS / 2] / 1e6);
  printf("  2 threads: %6.1f ns/decision per thread, %.1f M decisions/s total\n",
         ns2[RUNS / 2], thr2[RUNS / 2] / 1e6);
  printf("  2-thread / 1-thread throughput: %.2fx (median runs)\n",
         thr2[RUNS / 2] / thr1[RUNS / 2]);
  rein_policy_free(p);
  rein_breaker_free(breaker);
  rein_budget_free(budget);
  return 0;
}
