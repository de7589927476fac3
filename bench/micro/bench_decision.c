/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_decision.c: nanoseconds per retry decision, on one thread and on
 * two threads sharing one budget and one breaker.
 *
 * A "call" is begin + next(outcome): 95% succeed first time; 5% fail, wait
 * (next(NULL) after the jittered delay) and succeed on the retry, so the
 * ratio budget's withdrawals, the breaker's failure path and the backoff
 * all run. Decisions are counted as state-machine calls (begin and every
 * next). Time is a per-thread virtual clock advanced 1 us per call, so the
 * windows roll over as in production. Prints medians of 7 rounds; each
 * round runs one thread, two threads sharing one policy, and two threads
 * with a policy (budget, breaker) each, back to back. The private pair is
 * the machine's own ceiling for two threads (nothing shared in rein); the
 * shared pair's scaling is to be read against it. Ratios are per round
 * (the machine's speed drifts between rounds), then the median.
 *
 *   build/bench/bench_decision [calls_per_thread [fail_percent [retries]]]
 * fail_percent (default 5) is the share of calls whose first attempt
 * fails; 0 leaves only the first-attempt path. A third argument `retries`
 * makes the breaker a retry-only one (gates RETRIES, rein/breaker.h): its
 * allow_retry reads the window on every retry. `hedge` runs the same calls
 * hedged instead (rein/hedge.h, 2 attempts, a fixed 1 ms delay, over the
 * same policy): a call is begin + outcome; a failing-first call's first
 * attempt is slow instead, so the timer fires (poll), the hedge goes out
 * and wins, and the first is cancelled.
 */
#include "rein.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  rein_policy *policy;
  rein_hedge_policy *hedge; /* NULL: retrying calls */
  long calls;
  long decisions;
  uint64_t seed;
  unsigned fail_pct;
  pthread_barrier_t *go;
} job;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *hedge_worker(job *j) {
  rein_rng rng;
  rein_rng_seed(&rng, j->seed);
  int64_t now = 1000 * REIN_NS_PER_S;
  long decisions = 0;
  rein_outcome ok = {0};
  ok.kind = REIN_OUTCOME_SUCCESS;
  pthread_barrier_wait(j->go);
  for (long i = 0; i < j->calls; i++) {
    rein_hedge h;
    rein_call_opts o = {.seed = j->seed + (uint64_t)i};
    rein_hedge_init(&h, j->hedge, &o);
    rein_hedge_decision d = rein_hedge_begin(&h, now);
    decisions++;
    bool slow_first = (rein_rng_next(&rng) % 100) < j->fail_pct;
    if (slow_first && d.action == REIN_ATTEMPT && d.next_ns >= 0) {
      now += d.next_ns;
      d = rein_hedge_poll(&h, now);
      decisions++;
      if (d.action == REIN_ATTEMPT) {
        d = rein_hedge_outcome(&h, d.attempt, &ok, now + 100);
        decisions++;
      }
    } else if (d.action == REIN_ATTEMPT) {
      d = rein_hedge_outcome(&h, 1, &ok, now + 100);
      decisions++;
    }
    now += 1000;
  }
  j->decisions = decisions;
  return NULL;
}

static void *worker(void *arg) {
  job *j = arg;
  if (j->hedge) return hedge_worker(j);
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
    bool fail_first = (rein_rng_next(&rng) % 100) < j->fail_pct;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_ATTEMPT) {
        rein_outcome out = {0};
        out.kind = fail_first && d.attempt == 1 ? REIN_OUTCOME_FAILURE
                                                : REIN_OUTCOME_SUCCESS;
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

static rein_hedge_policy *g_hedge[2]; /* hedge mode: over p[0], p[1] */

/* Thread i uses p[i]. */
static double run(rein_policy *const *p, int threads, long calls,
                  unsigned fail_pct, long *decisions) {
  pthread_t t[8];
  job jobs[8];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    rein_hedge_policy *hp =
        g_hedge[0] ? (p[i] == p[0] && i ? g_hedge[0] : g_hedge[i]) : NULL;
    jobs[i] = (job){p[i], hp, calls, 0, 1234 + (uint64_t)i * 7919, fail_pct,
                    &go};
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

/* A policy with its own default ratio budget and time-window breaker. */
static int make_policy(rein_policy **p, rein_budget **b, rein_breaker **k,
                       bool retry_only) {
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  if (retry_only) kc.gates = REIN_BREAKER_GATES_RETRIES;
  if (rein_budget_new(&bc, b) || rein_breaker_new(&kc, k)) return 1;
  rein_policy_config pc;
  rein_policy_config_default(&pc); /* exponential backoff, full jitter */
  pc.budget = *b;
  pc.breaker = *k;
  return rein_policy_new(&pc, p) != REIN_OK;
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 2000000;
  int fp = argc > 2 ? atoi(argv[2]) : 5;
  bool retry_only = argc > 3 && strcmp(argv[3], "retries") == 0;
  bool hedge = argc > 3 && strcmp(argv[3], "hedge") == 0;
  if (calls < 1 || fp < 0 || fp > 100 || (argc > 3 && !retry_only && !hedge)) {
    fprintf(stderr, "usage: bench_decision [calls_per_thread [fail_percent "
                    "[retries|hedge]]]\n");
    return 2;
  }
  unsigned fail_pct = (unsigned)fp;
  rein_policy *p[2];
  rein_budget *budget[2];
  rein_breaker *breaker[2];
  for (int i = 0; i < 2; i++)
    if (make_policy(&p[i], &budget[i], &breaker[i], retry_only)) return 1;
  if (hedge)
    for (int i = 0; i < 2; i++) {
      rein_hedge_config hc;
      rein_hedge_config_default(&hc);
      hc.policy = p[i];
      hc.max_attempts = 2;
      hc.delay_ns = REIN_NS_PER_MS;
      if (rein_hedge_policy_new(&hc, &g_hedge[i]) != REIN_OK) return 1;
    }
  rein_policy *shared[2] = {p[0], p[0]};

  enum { RUNS = 7 };
  double ns1[RUNS], ns2[RUNS], thr1[RUNS], thr2[RUNS], thrp[RUNS];
  double r_shared[RUNS], r_private[RUNS];
  for (int k = 0; k < RUNS; k++) {
    long d1, d2, dp;
    double e1 = run(shared, 1, calls, fail_pct, &d1);
    double e2 = run(shared, 2, calls, fail_pct, &d2);
    double ep = run(p, 2, calls, fail_pct, &dp);
    ns1[k] = e1 * 1e9 / (double)d1;
    ns2[k] = e2 * 1e9 / (double)d2 * 2; /* per decision per thread */
    thr1[k] = (double)d1 / e1;
    thr2[k] = (double)d2 / e2;
    thrp[k] = (double)dp / ep;
    r_shared[k] = thr2[k] / thr1[k];
    r_private[k] = thrp[k] / thr1[k];
  }
  qsort(ns1, RUNS, sizeof(double), cmp);
  qsort(ns2, RUNS, sizeof(double), cmp);
  qsort(thr1, RUNS, sizeof(double), cmp);
  qsort(thr2, RUNS, sizeof(double), cmp);
  qsort(thrp, RUNS, sizeof(double), cmp);
  qsort(r_shared, RUNS, sizeof(double), cmp);
  qsort(r_private, RUNS, sizeof(double), cmp);
  if (hedge)
    printf("bench_decision: hedged calls (2 attempts, 1 ms delay) with ratio "
           "budget, time-window breaker; %u%% of calls hedge once\n",
           fail_pct);
  else
    printf("bench_decision: begin+next with ratio budget, time-window %s"
           "breaker, exponential backoff + full jitter; %u%% of calls retry "
           "once\n",
           retry_only ? "retry-only " : "", fail_pct);
  printf("  1 thread : %6.1f ns/decision (median of %d; min %.1f, max %.1f), "
         "%.1f M decisions/s\n",
         ns1[RUNS / 2], RUNS, ns1[0], ns1[RUNS - 1], thr1[RUNS / 2] / 1e6);
  printf("  2 threads: %6.1f ns/decision per thread, %.1f M decisions/s total "
         "(one shared budget and breaker)\n",
         ns2[RUNS / 2], thr2[RUNS / 2] / 1e6);
  printf("  2 threads: %.1f M decisions/s total with a policy each (nothing "
         "shared: the machine's ceiling)\n",
         thrp[RUNS / 2] / 1e6);
  printf("  2-thread / 1-thread throughput: shared %.2fx, private %.2fx "
         "(median of per-round ratios; shared min %.2f max %.2f)\n",
         r_shared[RUNS / 2], r_private[RUNS / 2], r_shared[0],
         r_shared[RUNS - 1]);
  for (int i = 0; i < 2; i++) {
    rein_hedge_policy_free(g_hedge[i]);
    rein_policy_free(p[i]);
    rein_breaker_free(breaker[i]);
    rein_budget_free(budget[i]);
  }
  return 0;
}
