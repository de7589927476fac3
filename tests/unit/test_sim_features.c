/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim_features.c: the model features that let a scenario express a
 * published experiment exactly (issue 18): periodic (constant-rate)
 * open-loop arrivals, the `buffer` outage (a partition that holds every
 * message and delivers them when it heals, against `drop`), recovery
 * measured against the offered load (`recovery: {against: offered}`), and
 * the per-server figures of a sweep aggregated over its seeds. Each test
 * checks exact counts on small deterministic models; the seeds are fixed
 * and printed on failure by the assertion messages.
 */
#include "rein_test.h"

#include "rein.h"
#include "rein/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rein_sim_scenario *load_ok(const char *text) {
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  rein_status st =
      rein_sim_scenario_parse(text, strlen(text), "t.yaml", NULL, &eb, &s);
  if (st != REIN_OK) fail_msg("load failed: %s", eb.msg);
  return s;
}

static void load_bad(const char *text, const char *want) {
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  rein_status st =
      rein_sim_scenario_parse(text, strlen(text), "t.yaml", NULL, &eb, &s);
  if (st == REIN_OK) {
    rein_sim_scenario_free(s);
    fail_msg("loaded, expected '%s'", want);
  }
  if (!strstr(eb.msg, want)) fail_msg("got '%s', expected '%s'", eb.msg, want);
}

static rein_sim_result *run_ok(const rein_sim_scenario *s, size_t variant,
                               uint64_t seed) {
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  rein_errbuf eb = {{0}};
  c.variant = variant;
  c.seed = seed;
  c.err = &eb;
  rein_sim_result *r = NULL;
  rein_status st = rein_sim_run(s, &c, &r);
  if (st != REIN_OK)
    fail_msg("seed %llu: run failed: %s (%s)", (unsigned long long)seed, eb.msg,
             rein_strerror(st));
  return r;
}

/* ------------------------------------------------------------ periodic */

#define PERIODIC(count, rate)                                                  \
  "duration: 10s\ninterval: 100ms\n"                                           \
  "policies: {p: {attempts: 1}}\n"                                             \
  "servers: [{name: s, concurrency: 100, service_time: 1ms}]\n"                \
  "cohorts: [{name: c, count: " #count ", target: s, policy: p, "              \
  "arrival: {mode: periodic, rate: " #rate "}}]\n"

/* The cohort is evenly spaced: count x rate x interval calls in every
 * interval, exactly, on every seed (Poisson arrivals vary around it). */
static void test_periodic_even(void **state) {
  (void)state;
  static const char *const texts[] = {PERIODIC(1, 40), PERIODIC(4, 10),
                                      PERIODIC(90, 1)};
  static const uint64_t per_interval[] = {4, 4, 9};
  for (size_t t = 0; t < 3; t++) {
    rein_sim_scenario *s = load_ok(texts[t]);
    for (uint64_t seed = 1; seed <= 5; seed++) {
      rein_sim_result *r = run_ok(s, 0, seed);
      const rein_sim_point *p;
      size_t n = rein_sim_result_series(r, &p);
      assert_int_equal(n, 100);
      for (size_t k = 0; k < n; k++)
        if (p[k].offered != per_interval[t])
          fail_msg("case %zu seed %llu interval %zu: %llu calls, want %llu", t,
                   (unsigned long long)seed, k,
                   (unsigned long long)p[k].offered,
                   (unsigned long long)per_interval[t]);
      assert_int_equal(rein_sim_result_summary(r)->logical,
                       100 * per_interval[t]);
      rein_sim_result_free(r);
    }
    rein_sim_scenario_free(s);
  }
  /* the same scenario with Poisson arrivals is not even */
  rein_sim_scenario *s =
      load_ok("duration: 10s\ninterval: 100ms\n"
              "policies: {p: {attempts: 1}}\n"
              "servers: [{name: s, concurrency: 100, service_time: 1ms}]\n"
              "cohorts: [{name: c, count: 90, target: s, policy: p, "
              "arrival: {mode: poisson, rate: 1}}]\n");
  rein_sim_result *r = run_ok(s, 0, 1);
  const rein_sim_point *p;
  size_t n = rein_sim_result_series(r, &p), uneven = 0;
  for (size_t k = 0; k < n; k++)
    uneven += p[k].offered != 9;
  assert_true(uneven > 50);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_periodic_loader(void **state) {
  (void)state;
  const char *head = "duration: 10s\npolicies: {p: {attempts: 1}}\n"
                     "servers: [{name: s}]\n"
                     "cohorts:\n  - name: c\n    target: s\n    policy: p\n";
  char t[512];
  snprintf(t, sizeof t, "%s    arrival: {mode: periodic}\n", head);
  load_bad(t, "t.yaml:8:14: cohorts[0].arrival: missing required field "
              "'rate'");
  snprintf(t, sizeof t, "%s    arrival: {mode: periodic, rate: 1, think: 1s}\n",
           head);
  load_bad(t, "t.yaml:8:47: cohorts[0].arrival.think: the periodic mode has "
              "no think time (use rate)");
  snprintf(t, sizeof t, "%s    arrival: {mode: periodic, rate: 1, start: 1s}\n",
           head);
  load_bad(t, "t.yaml:8:47: cohorts[0].arrival.start: the periodic mode has "
              "no start");
  snprintf(t, sizeof t, "%s    arrival: {mode: periodc, rate: 1}\n", head);
  load_bad(t, "t.yaml:8:21: cohorts[0].arrival.mode: expected one of "
              "poisson, closed, one_shot, periodic, got 'periodc'; did you "
              "mean 'periodic'?");
  snprintf(t, sizeof t, "%s    arrival: {mode: closed, rate: 1}\n", head);
  load_bad(t, "cohorts[0].arrival.rate: only the poisson and periodic modes "
              "have a rate");
  /* the cohort's rate is what rein_sim_scenario_cohort reports */
  snprintf(t, sizeof t,
           "%s    count: 3\n    arrival: {mode: periodic, rate: 2}\n", head);
  rein_sim_scenario *s = load_ok(t);
  rein_sim_cohort_info ci;
  assert_int_equal(rein_sim_scenario_cohort(s, 0, &ci), REIN_OK);
  assert_true(ci.rate == 2);
  rein_sim_scenario_free(s);
}

/* -------------------------------------------------------------- buffer */

#define PARTITION(mode)                                                        \
  "duration: 10s\ninterval: 1s\n"                                              \
  "policies: {p: {attempts: 3, backoff: {kind: constant, base: 100ms, "        \
  "jitter: none}}}\n"                                                          \
  "servers: [{name: s, concurrency: 100, service_time: 10ms}]\n"               \
  "cohorts: [{name: c, count: 10, target: s, policy: p, timeout: 200ms, "      \
  "arrival: {mode: periodic, rate: 1}}]\n"                                     \
  "incidents: [{kind: outage, server: s, start: 2s, end: 4s, mode: " mode      \
  "}]\n"

/* A buffering partition delivers every request it held when it heals: the
 * server sees the same attempts as under `drop`, none during the outage
 * and all of them at its end, and serves them for callers that are long
 * gone (wasted work); `drop` loses them. */
static void test_buffer_vs_drop(void **state) {
  (void)state;
  rein_sim_scenario *sb = load_ok(PARTITION("buffer"));
  rein_sim_scenario *sd = load_ok(PARTITION("drop"));
  for (uint64_t seed = 1; seed <= 3; seed++) {
    rein_sim_result *rb = run_ok(sb, 0, seed), *rd = run_ok(sd, 0, seed);
    const rein_sim_summary *B = rein_sim_result_summary(rb),
                           *D = rein_sim_result_summary(rd);
    const rein_sim_point *pb, *pd;
    rein_sim_result_series(rb, &pb);
    rein_sim_result_series(rd, &pd);
    /* the same attempts in the outage (20 calls x 3, all timed out either
     * way); under buffer all of them reach the server when it heals */
    uint64_t in_b = pb[2].attempts + pb[3].attempts;
    assert_int_equal(in_b, pd[2].attempts + pd[3].attempts);
    if (in_b < 50)
      fail_msg("seed %llu: %llu attempts in the outage",
               (unsigned long long)seed, (unsigned long long)in_b);
    assert_int_equal(pb[2].load + pb[3].load, 0);
    assert_int_equal(pd[2].load + pd[3].load, in_b);
    if (pb[4].load < in_b || pb[4].load < 3 * pd[4].load)
      fail_msg("seed %llu: load at the heal %llu (drop %llu)",
               (unsigned long long)seed, (unsigned long long)pb[4].load,
               (unsigned long long)pd[4].load);
    if (B->wasted < in_b * 3 / 4)
      fail_msg("seed %llu: wasted %llu of %llu held", (unsigned long long)seed,
               (unsigned long long)B->wasted, (unsigned long long)in_b);
    assert_int_equal(D->wasted, 0);
    assert_true(pb[2].capacity_per_s == 0);
    rein_sim_result_free(rb);
    rein_sim_result_free(rd);
  }
  rein_sim_scenario_free(sb);
  rein_sim_scenario_free(sd);
}

/* An answer that leaves the server during the partition is held too: a
 * call in service when it starts ends when it heals. */
static void test_buffer_holds_answers(void **state) {
  (void)state;
  rein_sim_scenario *s =
      load_ok("duration: 5s\n"
              "policies: {p: {attempts: 1}}\n"
              "servers: [{name: s, service_time: 500ms}]\n"
              "cohorts: [{name: c, target: s, policy: p, timeout: 10s, "
              "arrival: {mode: one_shot, start: 900ms}}]\n"
              "incidents: [{kind: outage, server: s, start: 1s, end: 3s, "
              "mode: buffer}]\n");
  rein_sim_result *r = run_ok(s, 0, 1);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->successes, 1);
  /* begun at 0.9 s, answered at 1.4 s, delivered at 3 s: 2.1 s */
  if (fabs(S->latency_p50_ms - 2100) > 2100 * 0.02)
    fail_msg("latency %.1f ms, want 2100", S->latency_p50_ms);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  load_bad("duration: 5s\npolicies: {p: {attempts: 1}}\n"
           "servers: [{name: s}]\n"
           "cohorts: [{name: c, target: s, policy: p, "
           "arrival: {mode: one_shot}}]\n"
           "incidents: [{kind: outage, server: s, start: 1s, end: 3s, "
           "mode: bufer}]\n",
           "t.yaml:5:65: incidents[0].mode: expected one of error, drop, "
           "slow, refuse, buffer, got 'bufer'; did you mean 'buffer'?");
}

/* ------------------------------------------------------------ recovery */

/* The remedy stops a cohort (here: `batch` goes away when the outage
 * starts). Goodput never returns to the pre-incident level, so recovery
 * against the baseline never comes; against the offered load it comes as
 * soon as what is asked is served. */
#define RECOVERY(against)                                                      \
  "duration: 30s\ninterval: 1s\n"                                              \
  "recovery: {tolerance: 0.05, hold: 3s" against "}\n"                         \
  "policies: {p: {attempts: 2}}\n"                                             \
  "servers: [{name: s, concurrency: 10, service_time: 10ms}]\n"                \
  "cohorts:\n"                                                                 \
  "  - {name: web, count: 50, target: s, policy: p, "                          \
  "arrival: {mode: periodic, rate: 2}}\n"                                      \
  "  - {name: batch, count: 50, target: s, policy: p, active: {until: 10s}, "  \
  "arrival: {mode: periodic, rate: 4}}\n"                                      \
  "incidents: [{kind: outage, server: s, start: 10s, end: 15s, mode: "         \
  "error}]\n"

static void test_recovery_against_offered(void **state) {
  (void)state;
  rein_sim_scenario *sb = load_ok(RECOVERY(""));
  rein_sim_scenario *sbb = load_ok(RECOVERY(", against: baseline"));
  rein_sim_scenario *so = load_ok(RECOVERY(", against: offered"));
  for (uint64_t seed = 1; seed <= 3; seed++) {
    rein_sim_result *rb = run_ok(sb, 0, seed), *rbb = run_ok(sbb, 0, seed),
                    *ro = run_ok(so, 0, seed);
    const rein_sim_summary *B = rein_sim_result_summary(rb),
                           *BB = rein_sim_result_summary(rbb),
                           *O = rein_sim_result_summary(ro);
    assert_int_equal(B->recovered, 0);
    assert_int_equal(BB->recovered, 0);
    assert_true(BB->recovery_s == B->recovery_s);
    if (O->recovered != 1 || O->recovery_s > 1)
      fail_msg("seed %llu: against offered: recovered %d after %g s",
               (unsigned long long)seed, O->recovered, O->recovery_s);
    /* the baseline is still measured and reported */
    assert_true(fabs(O->baseline_goodput_per_s - 300) < 10);
    rein_sim_result_free(rb);
    rein_sim_result_free(rbb);
    rein_sim_result_free(ro);
  }
  rein_sim_scenario_free(sb);
  rein_sim_scenario_free(sbb);
  rein_sim_scenario_free(so);
  /* against the offered load no baseline is needed: an incident at 0 */
  rein_sim_scenario *s =
      load_ok("duration: 20s\ninterval: 1s\n"
              "recovery: {hold: 2s, against: offered}\n"
              "policies: {p: {attempts: 1}}\n"
              "servers: [{name: s, concurrency: 10, service_time: 10ms}]\n"
              "cohorts: [{name: c, count: 10, target: s, policy: p, "
              "arrival: {mode: periodic, rate: 10}}]\n"
              "incidents: [{kind: outage, server: s, start: 0s, end: 5s, "
              "mode: error}]\n");
  rein_sim_result *r = run_ok(s, 0, 1);
  assert_int_equal(rein_sim_result_summary(r)->recovered, 1);
  assert_true(rein_sim_result_summary(r)->baseline_goodput_per_s == -1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  load_bad("duration: 5s\nrecovery: {against: offerd}\n"
           "policies: {p: {attempts: 1}}\nservers: [{name: s}]\n"
           "cohorts: [{name: c, target: s, policy: p, "
           "arrival: {mode: one_shot}}]\n",
           "t.yaml:2:21: recovery.against: expected one of baseline, "
           "offered, got 'offerd'; did you mean 'offered'?");
}

/* --------------------------------------------------------- determinism */

static char *csv_of(const rein_sim_result *r) {
  char *b = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&b, &n);
  const rein_sim_result *rs[1] = {r};
  rein_sim_write_series_csv(rs, 1, m);
  rein_sim_write_summary_json(r, m);
  fclose(m);
  return b;
}

/* The new features keep a run a function of (scenario, variant, seed):
 * periodic arrivals with a buffer outage, twice on each seed, give the
 * same series and summary byte for byte; another seed another phase. */
static void test_features_deterministic(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 10s\ninterval: 100ms\n"
      "recovery: {hold: 1s, against: offered}\n"
      "policies: {p: {attempts: 3, backoff: {base: 50ms}}}\n"
      "servers: [{name: s, concurrency: 4, service_time: {dist: "
      "exponential, mean: 5ms}}]\n"
      "cohorts: [{name: c, count: 30, target: s, policy: p, timeout: 100ms, "
      "arrival: {mode: periodic, rate: 7}}]\n"
      "incidents: [{kind: outage, server: s, start: 3s, end: 5s, "
      "mode: buffer}]\n");
  char *prev = NULL;
  for (uint64_t seed = 1; seed <= 3; seed++) {
    rein_sim_result *a = run_ok(s, 0, seed), *b = run_ok(s, 0, seed);
    char *ja = csv_of(a), *jb = csv_of(b);
    if (strcmp(ja, jb))
      fail_msg("seed %llu: two runs differ", (unsigned long long)seed);
    if (prev && !strcmp(prev, ja))
      fail_msg("seed %llu: the same output as seed %llu",
               (unsigned long long)seed, (unsigned long long)seed - 1);
    free(prev);
    prev = ja;
    free(jb);
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  free(prev);
  rein_sim_scenario_free(s);
}

/* ------------------------------------------------- servers over seeds */

/* A sweep keeps every run's per-server figures and aggregates them as it
 * does the summary fields: the mean of per_logical at each server is the
 * mean over the runs' own values (checked against keep_results), with an
 * interval; and the --runs JSON carries them under servers[]. */
static void test_sweep_servers(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 5s\n"
      "policies: {p: {attempts: 3, backoff: {base: 1ms}}, "
      "q: {attempts: 2, backoff: {base: 1ms}}}\n"
      "servers:\n"
      "  - {name: front, concurrency: 50, service_time: 1ms, downstream: "
      "back, policy: q}\n"
      "  - {name: back, concurrency: 50, service_time: 1ms, "
      "failure_probability: 0.3}\n"
      "cohorts: [{name: c, count: 20, target: front, policy: p, "
      "arrival: {mode: poisson, rate: 5}}]\n");
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  c.runs = 4;
  c.keep_results = 1;
  rein_errbuf eb = {{0}};
  c.err = &eb;
  rein_sim_sweep *sw = NULL;
  if (rein_sim_sweep_run(s, &c, &sw) != REIN_OK) fail_msg("sweep: %s", eb.msg);
  assert_int_equal(rein_sim_sweep_servers(sw), 2);
  assert_string_equal(rein_sim_sweep_server_name(sw, 1), "back");
  assert_null(rein_sim_sweep_server_name(sw, 2));
  for (size_t k = 0; k < 2; k++) {
    rein_sim_stat st[8];
    assert_int_equal(rein_sim_sweep_server_stats(sw, 0, k, st, 8), 7);
    assert_string_equal(st[0].name, "arrivals");
    assert_string_equal(st[6].name, "per_logical");
    double sum = 0, sum_arr = 0;
    for (size_t r = 0; r < 4; r++) {
      const rein_sim_summary *S =
          rein_sim_result_summary(rein_sim_sweep_result(sw, 0, r));
      sum += S->servers[k].per_logical;
      sum_arr += (double)S->servers[k].arrivals;
    }
    assert_int_equal(st[6].n, 4);
    assert_true(fabs(st[6].mean - sum / 4) < 1e-9);
    assert_true(fabs(st[0].mean - sum_arr / 4) < 1e-9);
    assert_true(st[0].ci95 > 0 && st[0].min < st[0].max);
  }
  assert_int_equal(rein_sim_sweep_server_stats(sw, 1, 0, NULL, 0), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  assert_int_equal(rein_sim_write_sweep_json(sw, m), REIN_OK);
  fclose(m);
  if (!strstr(buf, "\"servers\":[{\"name\":\"front\",\"arrivals\":{\"mean\":"))
    fail_msg("no servers[] in %s", buf);
  if (!strstr(buf, "{\"name\":\"back\",\"arrivals\":{\"mean\":"))
    fail_msg("no back server in %s", buf);
  free(buf);
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_periodic_even),
      cmocka_unit_test(test_periodic_loader),
      cmocka_unit_test(test_buffer_vs_drop),
      cmocka_unit_test(test_buffer_holds_answers),
      cmocka_unit_test(test_recovery_against_offered),
      cmocka_unit_test(test_features_deterministic),
      cmocka_unit_test(test_sweep_servers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
