/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_sim.c: how fast the simulator runs.
 *
 * 1. events/s on a large scenario (10,000 Poisson clients at 200,000 calls/s
 *    in all, a 4,000-worker server, 5% failures, a budgeted rein policy,
 *    a capacity cut): the whole engine per event, including rein_retry_next,
 *    the budget and the event heap. One core; median of 3 runs.
 * 2. wall time per run of the small M/M/c-with-retries model that
 *    bench/peers/simpy_mmc_retry.py implements in SimPy 3 (the side-by-side
 *    in docs/bench-sim.md), when given its path.
 *
 * usage: bench_sim [--quick | --seconds N] [--reps N] [SMALL_SCENARIO.yaml]
 *   --quick      5 s of virtual time instead of 60 s
 *   --seconds N  N s of virtual time (the capacity cut is at 10-12 s)
 *   --reps N     runs of the large scenario to take the median of (3)
 */
#include "rein.h"
#include "rein/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char LARGE[] =
    "name: bench-large\nseed: 1\nduration: %ds\ninterval: 1s\n"
    "policies:\n"
    "  p: {max_attempts: 3, backoff: {kind: exponential, jitter: full, "
    "base: 20ms, cap: 1s},\n"
    "      budget: {kind: ratio, ratio: 0.2, scope: cohort}}\n"
    "servers:\n"
    "  - {name: s, concurrency: 4000, service_time: {dist: exponential, "
    "mean: 10ms},\n"
    "     failure_probability: 0.05, queue: {capacity: 100000}}\n"
    "cohorts:\n"
    "  - {name: c, count: 10000, target: s, policy: p, timeout: 1s,\n"
    "     arrival: {mode: poisson, rate: 20}}\n"
    "incidents:\n"
    "  - {kind: capacity, server: s, start: 10s, duration: 2s, factor: 0.4}\n";

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median wall and CPU seconds of `reps` runs (CPU time is what one core
 * spent, which stays meaningful on a shared, loaded machine). */
static int time_runs(const rein_sim_scenario *s, int reps, double *median_s,
                     double *median_cpu, uint64_t *events) {
  double t[16], u[16];
  for (int i = 0; i < reps; i++) {
    rein_sim_run_config c;
    rein_sim_run_config_default(&c);
    rein_sim_result *r = NULL;
    double t0 = clock_s(CLOCK_MONOTONIC);
    double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    rein_status st = rein_sim_run(s, &c, &r);
    t[i] = clock_s(CLOCK_MONOTONIC) - t0;
    u[i] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (st != REIN_OK) {
      fprintf(stderr, "run failed: %s\n", rein_strerror(st));
      return -1;
    }
    *events = rein_sim_result_summary(r)->events;
    rein_sim_result_free(r);
  }
  qsort(t, (size_t)reps, sizeof t[0], cmp_d);
  qsort(u, (size_t)reps, sizeof u[0], cmp_d);
  *median_s = t[reps / 2];
  *median_cpu = u[reps / 2];
  return 0;
}

int main(int argc, char **argv) {
  int seconds = 60, reps = 3;
  const char *small = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--quick")) {
      seconds = 5;
    } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = atoi(argv[++i]);
    } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = atoi(argv[++i]);
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: bench_sim [--quick | --seconds N] [--reps N] "
                      "[SMALL_SCENARIO.yaml]\n");
      return 2;
    } else {
      small = argv[i];
    }
  }
  if (seconds < 1 || seconds > 3600 || reps < 1 || reps > 16) {
    fprintf(stderr, "bench_sim: --seconds 1..3600, --reps 1..16\n");
    return 2;
  }
  char text[2048];
  snprintf(text, sizeof text, LARGE, seconds);
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  if (rein_sim_scenario_parse(text, strlen(text), "bench-large", NULL, &eb,
                              &s) != REIN_OK) {
    fprintf(stderr, "%s\n", eb.msg);
    return 1;
  }
  double med, cpu;
  uint64_t ev;
  if (time_runs(s, reps, &med, &cpu, &ev)) return 1;
  printf("bench_sim large (%d s): %llu events, median of %d: wall %.3f s = "
         "%.2f M events/s; cpu %.3f s = %.2f M events/s on one core\n",
         seconds, (unsigned long long)ev, reps, med, ev / med / 1e6, cpu,
         ev / cpu / 1e6);
  rein_sim_scenario_free(s);
  if (small) {
    if (rein_sim_scenario_load(small, NULL, &eb, &s) != REIN_OK) {
      fprintf(stderr, "%s\n", eb.msg);
      return 1;
    }
    if (time_runs(s, 5, &med, &cpu, &ev)) return 1;
    printf("bench_sim small (%s): %llu events per run, median of 5: wall "
           "%.4f s, cpu %.4f s per run (%.2f M events/s)\n",
           small, (unsigned long long)ev, med, cpu, ev / cpu / 1e6);
    rein_sim_scenario_free(s);
  }
  return 0;
}
