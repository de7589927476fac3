/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim_replicas.c: a server with `replicas: N` and attempts that reach
 * them as rein_curl's endpoints do (docs/http.md "Endpoints"; issue 18
 * item 5, the simulator side of tests/e2e/test_curl_replicas.c): two
 * replicas, one answering 503 to everything; 3 attempts, no budget. With
 * `endpoints: spread` (the default) every call succeeds and no retry goes
 * back to the failing replica; with `endpoints: sticky` (one URL per call)
 * the calls that started on the failing replica fail, about half. First
 * attempts take the caller's next replica round robin, so they split
 * evenly; hedges go to the replica the call has not tried, and when
 * every one was tried, to the oldest failure before one in flight; a tier's
 * downstream calls spread the same way; and the loader refuses a bad
 * `replicas`, `replica` or `endpoints` with file:line:col, the field and
 * what was expected. Randomised runs print their seed.
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

/* The load fails with exactly `want`. */
static void load_bad(const char *text, const char *want) {
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  rein_status st =
      rein_sim_scenario_parse(text, strlen(text), "t.yaml", NULL, &eb, &s);
  if (st == REIN_OK) {
    rein_sim_scenario_free(s);
    fail_msg("loaded, expected '%s'", want);
  }
  assert_int_equal(st, REIN_EINVAL);
  if (strcmp(eb.msg, want)) fail_msg("got '%s', expected '%s'", eb.msg, want);
}

static rein_sim_result *run_ok(const rein_sim_scenario *s, const char *variant,
                               uint64_t seed) {
  size_t v;
  if (rein_sim_variant_find(s, variant, &v) != REIN_OK)
    fail_msg("no variant %s", variant);
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  rein_errbuf eb = {{0}};
  c.variant = v;
  c.seed = seed;
  c.err = &eb;
  rein_sim_result *r = NULL;
  rein_status st = rein_sim_run(s, &c, &r);
  if (st != REIN_OK)
    fail_msg("seed %llu: run failed: %s (%s)", (unsigned long long)seed, eb.msg,
             rein_strerror(st));
  return r;
}

/* Replica `j` of server `k`. */
static const rein_sim_server_summary *replica(const rein_sim_result *r,
                                              size_t k, size_t j,
                                              size_t want_n) {
  const rein_sim_server_summary *rows;
  size_t n = rein_sim_result_replicas(r, k, &rows);
  assert_int_equal(n, want_n);
  assert_non_null(rows);
  return &rows[j];
}

/* Two replicas, replica 0 failing everything (a failure incident naming
 * it), Poisson callers that stop 5 s before the end so every call ends. */
static const char FAILING[] =
    "name: failing\n"
    "seed: 7\n"
    "duration: 30s\n"
    "policies:\n"
    "  spread: {attempts: 3, backoff: {kind: constant, base: 5ms, jitter: "
    "none}}\n"
    "  sticky: {attempts: 3, backoff: {kind: constant, base: 5ms, jitter: "
    "none}, endpoints: sticky}\n"
    "servers:\n"
    "  - {name: b, replicas: 2, concurrency: 50, service_time: {dist: "
    "exponential, mean: 2ms}}\n"
    "cohorts:\n"
    "  - {name: c, count: 40, target: b, policy: spread, timeout: 1s,\n"
    "     arrival: {mode: poisson, rate: 5}, active: {until: 25s}}\n"
    "incidents:\n"
    "  - {kind: failure, server: b, replica: 0, start: 0s, end: 30s, "
    "probability: 1, status: 503}\n"
    "variants:\n"
    "  - {name: spread, use: {c: spread}}\n"
    "  - {name: sticky, use: {c: sticky}}\n";

static void test_spread_vs_sticky(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(FAILING);
  for (uint64_t seed = 7; seed < 10; seed++) {
    rein_sim_result *a = run_ok(s, "spread", seed);
    rein_sim_result *b = run_ok(s, "sticky", seed);
    const rein_sim_summary *x = rein_sim_result_summary(a),
                           *y = rein_sim_result_summary(b);
    const rein_sim_server_summary *a0 = replica(a, 0, 0, 2),
                                  *a1 = replica(a, 0, 1, 2),
                                  *b0 = replica(b, 0, 0, 2),
                                  *b1 = replica(b, 0, 1, 2);
    double failed = (double)y->giveups / (double)y->logical;
    fprintf(stderr,
            "replicas seed %llu: spread %llu/%llu succeeded (b[0] %llu "
            "arrivals, b[1] %llu); sticky %llu/%llu succeeded, %.1f%% "
            "failed (b[0] %llu arrivals, %llu failed; b[1] %llu)\n",
            (unsigned long long)seed, (unsigned long long)x->successes,
            (unsigned long long)x->logical, (unsigned long long)a0->arrivals,
            (unsigned long long)a1->arrivals, (unsigned long long)y->successes,
            (unsigned long long)y->logical, 100 * failed,
            (unsigned long long)b0->arrivals, (unsigned long long)b0->failed,
            (unsigned long long)b1->arrivals);
    /* spread: every call succeeded; a call that started on b[0] went on
     * to b[1] and never back, so b[1] saw each call once, b[0] only the
     * first attempts that landed there */
    assert_true(x->logical > 3000);
    assert_int_equal(x->successes, x->logical);
    assert_int_equal(x->giveups, 0);
    assert_int_equal(a1->arrivals, x->logical);
    assert_int_equal(a1->failed, 0);
    assert_int_equal(a0->failed, a0->arrivals);
    assert_int_equal(a0->arrivals + a1->arrivals, x->attempts);
    /* sticky: the calls that started on b[0] spent 3 attempts there */
    assert_true(failed > 0.4 && failed < 0.6);
    assert_int_equal(y->successes + y->giveups, y->logical);
    assert_int_equal(y->giveups_by_reason[REIN_GIVEUP_MAX_ATTEMPTS],
                     y->giveups);
    assert_int_equal(b0->arrivals, 3 * y->giveups);
    assert_int_equal(b1->arrivals, y->successes);
    /* the server's row adds its replicas' */
    const rein_sim_server_summary *sv = &y->servers[0];
    assert_int_equal(sv->arrivals, b0->arrivals + b1->arrivals);
    assert_int_equal(sv->failed, b0->failed + b1->failed);
    assert_string_equal(b0->name, "b[0]");
    assert_string_equal(b1->name, "b[1]");
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  rein_sim_scenario_free(s);
}

/* Healthy replicas, one attempt: the first attempts split evenly. Each
 * client takes its next replica per call (client i starts at i mod N), so
 * the counts differ by at most the number of clients. */
static void test_round_robin_even(void **state) {
  (void)state;
  static const char *const mode[] = {"poisson", "periodic", "closed"};
  for (int m = 0; m < 3; m++)
    for (unsigned n = 2; n <= 5; n += 3) {
      char text[2048];
      snprintf(text, sizeof text,
               "name: rr\nseed: 3\nduration: 20s\n"
               "policies:\n  one: {attempts: 1}\n"
               "servers:\n  - {name: b, replicas: %u, concurrency: 100, "
               "service_time: {dist: exponential, mean: 1ms}}\n"
               "cohorts:\n  - {name: c, count: 7, target: b, policy: one, "
               "timeout: 1s, arrival: {mode: %s%s}}\n",
               n, mode[m],
               m < 2 ? ", rate: 50" : ", think: {dist: constant, value: 10ms}");
      rein_sim_scenario *s = load_ok(text);
      rein_sim_result *r = run_ok(s, "default", 3);
      const rein_sim_summary *x = rein_sim_result_summary(r);
      uint64_t lo = UINT64_MAX, hi = 0, sum = 0;
      for (unsigned j = 0; j < n; j++) {
        uint64_t a = replica(r, 0, j, n)->arrivals;
        sum += a;
        if (a < lo) lo = a;
        if (a > hi) hi = a;
      }
      fprintf(stderr, "round robin (seed 3) %s over %u replicas: %llu calls, "
              "%llu..%llu a replica\n", mode[m], n,
              (unsigned long long)x->logical, (unsigned long long)lo,
              (unsigned long long)hi);
      assert_true(x->logical > 2000);
      assert_int_equal(sum, x->attempts);
      assert_true(hi - lo <= 7);
      rein_sim_result_free(r);
      rein_sim_scenario_free(s);
    }
}

/* Replica 0 is slow (a slow outage naming it): a hedge goes to the other
 * replica (spread) and wins; behind one URL it queues on the slow one. */
static void test_hedge_other_replica(void **state) {
  (void)state;
  static const char text[] =
      "name: hedge\nseed: 5\nduration: 20s\n"
      "policies:\n"
      "  spread: {attempts: 1, hedge: {attempts: 2, delay: 20ms}}\n"
      "  sticky: {attempts: 1, hedge: {attempts: 2, delay: 20ms}, "
      "endpoints: sticky}\n"
      "servers:\n  - {name: b, replicas: 2, concurrency: 100, service_time: "
      "{dist: constant, value: 5ms}}\n"
      "cohorts:\n  - {name: c, count: 10, target: b, policy: spread, "
      "timeout: 5s, arrival: {mode: poisson, rate: 10}, active: {until: "
      "15s}}\n"
      "incidents:\n  - {kind: outage, mode: slow, factor: 100, server: b, "
      "replica: 0, start: 0s, end: 20s}\n"
      "variants:\n  - {name: spread, use: {c: spread}}\n"
      "  - {name: sticky, use: {c: sticky}}\n";
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *a = run_ok(s, "spread", 5), *b = run_ok(s, "sticky", 5);
  const rein_sim_summary *x = rein_sim_result_summary(a),
                         *y = rein_sim_result_summary(b);
  const rein_sim_server_summary *a1 = replica(a, 0, 1, 2),
                                *b1 = replica(b, 0, 1, 2);
  fprintf(stderr, "hedge (seed 5): spread p99 %.1f ms, %llu hedges, b[1] "
          "%llu arrivals; sticky p99 %.1f ms, %llu hedges, b[1] %llu\n",
          x->latency_p99_ms, (unsigned long long)x->hedges,
          (unsigned long long)a1->arrivals, y->latency_p99_ms,
          (unsigned long long)y->hedges, (unsigned long long)b1->arrivals);
  assert_int_equal(x->successes, x->logical);
  /* every call that started on the slow replica hedged, to b[1] */
  assert_true(x->hedges > x->logical / 3);
  assert_int_equal(a1->arrivals, x->logical);
  assert_true(x->latency_p99_ms < 40);
  /* sticky: the hedge joined the first attempt on b[0] */
  assert_int_equal(b1->arrivals, y->logical - y->hedges);
  assert_true(y->latency_p99_ms > 400);
  rein_sim_result_free(a);
  rein_sim_result_free(b);
  rein_sim_scenario_free(s);
}

/* Three attempts in flight over two replicas: the third finds both
 * tried and both busy, and takes the one after the last used (rule 3,
 * in-flight ones last, in list order): each call puts 2 attempts on the
 * replica it started on and 1 on the other, and first attempts
 * alternate, so the replicas see 1.5 attempts a call each. */
static void test_hedge_all_tried(void **state) {
  (void)state;
  static const char text[] =
      "name: all\nseed: 4\nduration: 10s\n"
      "policies:\n  h: {attempts: 1, hedge: {attempts: 3, delay: 10ms}}\n"
      "servers:\n  - {name: b, replicas: 2, concurrency: 500, service_time: "
      "50ms}\n"
      "cohorts:\n  - {name: c, count: 4, target: b, policy: h, timeout: 1s, "
      "arrival: {mode: periodic, rate: 10}, active: {until: 9s}}\n";
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, "default", 4);
  const rein_sim_summary *x = rein_sim_result_summary(r);
  uint64_t a0 = replica(r, 0, 0, 2)->arrivals,
           a1 = replica(r, 0, 1, 2)->arrivals;
  fprintf(stderr, "hedge all tried (seed 4): %llu calls, %llu hedges, b[0] "
          "%llu, b[1] %llu arrivals\n", (unsigned long long)x->logical,
          (unsigned long long)x->hedges, (unsigned long long)a0,
          (unsigned long long)a1);
  assert_int_equal(x->successes, x->logical);
  assert_int_equal(x->hedges, 2 * x->logical);
  assert_int_equal(a0 + a1, 3 * x->logical);
  assert_int_equal(2 * a0, 3 * x->logical);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  /* replica 1 answers 503 at once (an error outage naming it): the third
   * attempt of a call finds replica 0 busy and replica 1 failed, and goes
   * to 1 (in-flight ones last); a call that started on 1 sends its hedge
   * to 0 and its third to 1. So 1 sees 2 attempts a call, 0 one (a rule
   * that ignored what is in flight gives 1.5 each). */
  char t2[1024];
  snprintf(t2, sizeof t2,
           "%sincidents:\n  - {kind: outage, mode: error, server: b, "
           "replica: 1, start: 0s, end: 10s}\n",
           text);
  s = load_ok(t2);
  r = run_ok(s, "default", 4);
  x = rein_sim_result_summary(r);
  a0 = replica(r, 0, 0, 2)->arrivals;
  a1 = replica(r, 0, 1, 2)->arrivals;
  fprintf(stderr, "hedge all tried, b[1] failing (seed 4): %llu calls, "
          "b[0] %llu, b[1] %llu arrivals\n", (unsigned long long)x->logical,
          (unsigned long long)a0, (unsigned long long)a1);
  assert_int_equal(x->successes, x->logical);
  assert_int_equal(a0, x->logical);
  assert_int_equal(a1, 2 * x->logical);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

/* A tier's downstream calls spread over the replicas of its downstream
 * the same way: the front retries on the healthy back replica. */
static void test_downstream_spread(void **state) {
  (void)state;
  static const char text[] =
      "name: tier\nseed: 2\nduration: 20s\n"
      "policies:\n  one: {attempts: 1}\n"
      "  three: {attempts: 3, backoff: {kind: constant, base: 1ms, jitter: "
      "none}}\n"
      "servers:\n"
      "  - {name: front, replicas: 3, concurrency: 50, downstream: back, "
      "policy: three, timeout: 1s}\n"
      "  - {name: back, replicas: 2, concurrency: 50}\n"
      "cohorts:\n  - {name: c, count: 10, target: front, policy: one, "
      "timeout: 2s, arrival: {mode: poisson, rate: 20}, active: {until: "
      "15s}}\n"
      "incidents:\n  - {kind: failure, server: back, replica: 1, start: 0s, "
      "end: 20s, probability: 1}\n";
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, "default", 2);
  const rein_sim_summary *x = rein_sim_result_summary(r);
  const rein_sim_server_summary *b0 = replica(r, 1, 0, 2),
                                *b1 = replica(r, 1, 1, 2);
  uint64_t fr = 0;
  for (size_t j = 0; j < 3; j++) fr += replica(r, 0, j, 3)->arrivals;
  fprintf(stderr, "tier (seed 2): %llu/%llu succeeded; back[0] %llu, "
          "back[1] %llu arrivals (%llu failed)\n",
          (unsigned long long)x->successes, (unsigned long long)x->logical,
          (unsigned long long)b0->arrivals, (unsigned long long)b1->arrivals,
          (unsigned long long)b1->failed);
  assert_int_equal(x->successes, x->logical);
  assert_int_equal(fr, x->logical);
  assert_int_equal(b0->arrivals, x->logical);
  assert_int_equal(b1->failed, b1->arrivals);
  assert_true(b1->arrivals > x->logical / 3);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

/* A server without `replicas` has one replica, its own row. */
static void test_one_replica(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "name: one\nseed: 1\nduration: 5s\npolicies:\n  p: {attempts: 2}\n"
      "servers:\n  - {name: b}\ncohorts:\n  - {name: c, count: 2, target: "
      "b, policy: p, timeout: 1s, arrival: {mode: closed}}\n");
  rein_sim_result *r = run_ok(s, "default", 1);
  const rein_sim_summary *x = rein_sim_result_summary(r);
  const rein_sim_server_summary *rows;
  assert_int_equal(rein_sim_result_replicas(r, 0, &rows), 1);
  assert_int_equal(rows[0].arrivals, x->servers[0].arrivals);
  assert_string_equal(rows[0].name, "b[0]");
  assert_int_equal(rein_sim_result_replicas(r, 1, &rows), 0);
  assert_null(rows);
  assert_int_equal(rein_sim_result_replicas(NULL, 0, NULL), 0);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

#define HEAD                                                                   \
  "name: bad\nduration: 5s\npolicies:\n  p: {attempts: 2}\n"
#define COHORT                                                                 \
  "cohorts:\n  - {name: c, count: 1, target: b, policy: p, arrival: {mode: "   \
  "closed}}\n"

static void test_loader_errors(void **state) {
  (void)state;
  load_bad(HEAD "servers:\n  - {name: b, replicas: 0}\n" COHORT,
           "t.yaml:6:25: servers[0].replicas: expected an integer in [1, "
           "64], got '0'");
  load_bad(HEAD "servers:\n  - {name: b, replicas: 65}\n" COHORT,
           "t.yaml:6:25: servers[0].replicas: expected an integer in [1, "
           "64], got '65'");
  load_bad(HEAD "servers:\n  - {name: b, replicas: two}\n" COHORT,
           "t.yaml:6:25: servers[0].replicas: expected an integer in [1, "
           "64], got 'two'");
  load_bad(HEAD "servers:\n  - {name: b, replicas: 2}\n" COHORT
                "incidents:\n  - {kind: failure, server: b, replica: 2, "
                "start: 0s, end: 1s, probability: 1}\n",
           "t.yaml:10:41: incidents[0].replica: expected a replica index of "
           "server 'b' in [0, 1], got '2'");
  load_bad(HEAD "servers:\n  - {name: b, replicas: 2}\n" COHORT
                "incidents:\n  - {kind: failure, server: b, replica: -1, "
                "start: 0s, end: 1s, probability: 1}\n",
           "t.yaml:10:41: incidents[0].replica: expected a replica index of "
           "server 'b' in [0, 1], got '-1'");
  load_bad(HEAD "servers:\n  - {name: b}\n" COHORT
                "incidents:\n  - {kind: failure, server: b, replica: 0, "
                "start: 0s, end: 1s, probability: 1}\n",
           "t.yaml:10:41: incidents[0].replica: server 'b' has one replica; "
           "give it 'replicas: N' (N >= 2) to hit one of them, or drop "
           "'replica'");
  load_bad("name: bad\nduration: 5s\npolicies:\n  p: {attempts: 2, "
           "endpoints: spred}\nservers:\n  - {name: b}\n" COHORT,
           "t.yaml:4:31: policies.p.endpoints: expected one of spread, "
           "sticky, got 'spred'; did you mean 'spread'?");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spread_vs_sticky),
      cmocka_unit_test(test_round_robin_even),
      cmocka_unit_test(test_hedge_other_replica),
      cmocka_unit_test(test_hedge_all_tried),
      cmocka_unit_test(test_downstream_spread),
      cmocka_unit_test(test_one_replica),
      cmocka_unit_test(test_loader_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
