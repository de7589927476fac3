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
 *
 *   build/bench/bench_decision peer [calls [reps]]
 * is the peer mode (issue 16, bench/peers/decision_peers.sh): ns per *call*,
 * one thread, on the real clock, for the work a retry library in another
 * language does per call, so it can be set beside tenacity and cockatiel.
 * The policy: max_attempts 3, zero-delay backoff (NONE, no jitter), no
 * breaker; with no budget, or with a ratio budget (ratio 1, so every retry
 * of the retry row is granted: the budget's bookkeeping runs, it never
 * refuses). Two rows: first_ok (the operation succeeds on its first
 * attempt) and retry_ok (the first attempt fails, the retry succeeds; the
 * wait is 0 ns, so nothing sleeps). Two ways to make the call: `run`, the
 * blocking wrapper rein_retry_run with default call options (it reads the
 * policy's clock itself), and `sm`, the state machine driven by hand
 * (init, begin, next) with rein_policy_now read once per decision. The
 * operation is the same out-of-line function in both. Each of the 8
 * (row, api, budget) cases is warmed up, then timed `reps` times (default
 * 9: a rep is short and the machine noisy) over `calls` calls (default
 * 200000), the cases interleaved rep by rep; the median and min-max per
 * case are printed as key=value lines that the peer scripts print too,
 * after a comment line with the cost of one clock read (most of a rein
 * call here: run reads the clock 3 times per first_ok call, sm twice).
 * Every call is checked to end DONE after the expected number of
 * attempts, or the mode fails.
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
    jobs[i] =
        (job){p[i], hp, calls, 0, 1234 + (uint64_t)i * 7919, fail_pct, &go};
    pthread_create(&t[i], NULL, worker, &jobs[i]);
  }
  pthread_barrier_wait(&go);
  double t0 = wall();
  for (int i = 0; i < threads; i++)
    pthread_join(t[i], NULL);
  double el = wall() - t0;
  pthread_barrier_destroy(&go);
  *decisions = 0;
  for (int i = 0; i < threads; i++)
    *decisions += jobs[i].decisions;
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

/* ------------------------------------------------------------ peer mode */

typedef struct {
  int fail_first; /* retry_ok row: attempt 1 fails */
  long attempts;  /* attempts made, checked against the row */
} peer_op;

/* The operation: what the peer scripts' function does (return a value,
 * or fail its first attempt). Out of line so both APIs pay one call. */
static __attribute__((noinline)) void
peer_attempt(void *ctx, const rein_decision *d, rein_outcome *out) {
  peer_op *op = ctx;
  op->attempts++;
  out->kind = op->fail_first && d->attempt == 1 ? REIN_OUTCOME_FAILURE
                                                : REIN_OUTCOME_SUCCESS;
}

/* N calls through rein_retry_run; the number that ended DONE. */
static long peer_run(const rein_policy *p, peer_op *op, long n) {
  long done = 0;
  for (long i = 0; i < n; i++) {
    rein_result res;
    if (rein_retry_run(p, NULL, peer_attempt, op, NULL, &res) == REIN_OK)
      done++;
  }
  return done;
}

/* N calls through the state machine, reading the clock per decision. */
static long peer_sm(const rein_policy *p, peer_op *op, long n) {
  long done = 0;
  for (long i = 0; i < n; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, rein_policy_now(p));
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_ATTEMPT) {
        rein_outcome out;
        memset(&out, 0, sizeof out);
        peer_attempt(op, &d, &out);
        d = rein_retry_next(&r, &out, rein_policy_now(p));
      } else {
        /* The delay is 0 ns: nothing to sleep (a caller would). */
        d = rein_retry_next(&r, NULL, rein_policy_now(p));
      }
    }
    done += d.action == REIN_DONE;
  }
  return done;
}

static int peer_main(int argc, char **argv) {
  long calls = argc > 2 ? atol(argv[2]) : 200000;
  int reps = argc > 3 ? atoi(argv[3]) : 9;
  if (calls < 1 || reps < 1 || reps > 99 || argc > 4) {
    fprintf(stderr, "usage: bench_decision peer [calls [reps]]\n");
    return 2;
  }
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 1.0; /* every first attempt pays for one retry */
  rein_budget *budget;
  if (rein_budget_new(&bc, &budget) != REIN_OK) return 1;
  rein_policy *pol[2]; /* [0] no budget, [1] ratio budget */
  for (int b = 0; b < 2; b++) {
    rein_policy_config pc;
    rein_policy_config_default(&pc);
    pc.max_attempts = 3;
    pc.backoff.kind = REIN_BACKOFF_NONE;
    pc.backoff.jitter = REIN_JITTER_NONE;
    pc.backoff.base_ns = 0;
    pc.backoff.cap_ns = 0;
    pc.budget = b ? budget : NULL;
    if (rein_policy_new(&pc, &pol[b]) != REIN_OK) return 1;
  }
  static const char *const rows[2] = {"first_ok", "retry_ok"};
  static const char *const apis[2] = {"run", "sm"};
  static const char *const budgets[2] = {"none", "ratio"};
  enum { CASES = 8 };
  double ns[CASES][99];
  long warm = calls / 10 > 0 ? calls / 10 : 1;
  for (int rep = -1; rep < reps; rep++) /* rep -1: warm-up */
    for (int c = 0; c < CASES; c++) {
      int row = c >> 2, api = (c >> 1) & 1, b = c & 1;
      long n = rep < 0 ? warm : calls;
      peer_op op = {row, 0};
      double t0 = wall();
      long done = api ? peer_sm(pol[b], &op, n) : peer_run(pol[b], &op, n);
      double el = wall() - t0;
      if (done != n || op.attempts != n * (row + 1)) {
        fprintf(stderr,
                "bench_decision peer: %s %s %s: %ld of %ld calls done, %ld "
                "attempts\n",
                rows[row], apis[api], budgets[b], done, n, op.attempts);
        return 1;
      }
      if (rep >= 0) ns[c][rep] = el * 1e9 / (double)n;
    }
  printf("bench_decision peer: ns per call, 1 thread, real clock "
         "(CLOCK_MONOTONIC), max_attempts 3, zero-delay backoff, no "
         "breaker; median of %d reps of %ld calls\n",
         reps, calls);
  /* What one read of the policy's clock costs here: run reads it 3 times
   * per first_ok call (5 per retry_ok), sm 2 (4). */
  int64_t sink = 0;
  double t0 = wall();
  for (long i = 0; i < calls; i++)
    sink += rein_policy_now(pol[0]);
  double clock_ns = (wall() - t0) * 1e9 / (double)calls;
  printf("# one rein_policy_now (clock_gettime CLOCK_MONOTONIC): %.1f ns "
         "(%s)\n",
         clock_ns, sink ? "read" : "?");
  for (int c = 0; c < CASES; c++) {
    qsort(ns[c], (size_t)reps, sizeof(double), cmp);
    printf("peer=rein row=%s api=%s budget=%s ns_per_call=%.1f min=%.1f "
           "max=%.1f calls=%ld reps=%d\n",
           rows[c >> 2], apis[(c >> 1) & 1], budgets[c & 1], ns[c][reps / 2],
           ns[c][0], ns[c][reps - 1], calls, reps);
  }
  for (int b = 0; b < 2; b++)
    rein_policy_free(pol[b]);
  rein_budget_free(budget);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "peer") == 0) return peer_main(argc, argv);
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
