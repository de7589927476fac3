/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim_scenarios.c: each shipped scenario reproduces its claim.
 *
 * The scenarios in examples/scenarios/ state a claim about retries (3x
 * amplification, a 10x lower retry wave with jitter, minutes vs seconds of
 * recovery, 64 vs 4 attempts at the bottom tier, a metastable failure,
 * a retry-only breaker holding the load to 1.0x, hedging cutting the
 * p99.9 tenfold for a few percent more load, retries to an untried
 * replica saving every call a failing replica would fail);
 * nothing in them writes the result in. This test runs them through the
 * simulator, on the scenario's seed and on two more, and checks each claim
 * with a tolerance. REIN_SCENARIO_DIR names the directory.
 */
#include "rein_test.h"

#include "rein.h"
#include "rein/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rein_sim_scenario *load(const char *name) {
  const char *dir = getenv("REIN_SCENARIO_DIR");
  if (!dir) fail_msg("REIN_SCENARIO_DIR is not set");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  if (rein_sim_scenario_load(path, NULL, &eb, &s) != REIN_OK)
    fail_msg("%s", eb.msg);
  return s;
}

/* Run variant `name` with seed offset `k` (0 = the scenario's seed). */
static rein_sim_result *run(const rein_sim_scenario *s, const char *name,
                            uint64_t k) {
  size_t v;
  if (rein_sim_variant_find(s, name, &v) != REIN_OK)
    fail_msg("no variant %s", name);
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  rein_errbuf eb = {{0}};
  c.variant = v;
  c.seed = rein_sim_scenario_seed(s) + k;
  c.err = &eb;
  rein_sim_result *r = NULL;
  if (rein_sim_run(s, &c, &r) != REIN_OK) fail_msg("run: %s", eb.msg);
  return r;
}

#define SUM(r) rein_sim_result_summary(r)

/* Extra seeds only in optimized builds: a sanitizer build at -O0 is ~20x
 * slower and checks memory, not the claims' robustness. */
#ifdef __OPTIMIZE__
#define SEEDS 3
#else
#define SEEDS 1
#endif

static void test_amplification(void **state) {
  (void)state;
  rein_sim_scenario *s = load("amplification.yaml");
  for (uint64_t k = 0; k < SEEDS; k++) {
    rein_sim_result *a = run(s, "naive", k), *b = run(s, "budget-10pct", k);
    double x = SUM(a)->amplification, y = SUM(b)->amplification;
    fprintf(stderr, "amplification seed+%llu: naive %.3f, budget %.3f\n",
            (unsigned long long)k, x, y);
    assert_true(x > 2.9 && x <= 3.0);
    assert_true(y > 1.05 && y < 1.2);
    assert_true(SUM(b)->giveups_by_reason[REIN_GIVEUP_BUDGET] > 0);
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  rein_sim_scenario_free(s);
}

static void test_thundering_herd(void **state) {
  (void)state;
  rein_sim_scenario *s = load("thundering-herd.yaml");
  for (uint64_t k = 0; k < SEEDS; k++) {
    rein_sim_result *a = run(s, "no-jitter", k), *b = run(s, "full-jitter", k);
    double x = SUM(a)->peak_retry_ratio, y = SUM(b)->peak_retry_ratio;
    fprintf(stderr, "thundering-herd seed+%llu: peak retry wave / capacity: "
            "no jitter %.1f, full jitter %.2f (%.1fx)\n",
            (unsigned long long)k, x, y, x / y);
    assert_true(x >= 10 * y);
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  rein_sim_scenario_free(s);
}

static void test_schema_registry(void **state) {
  (void)state;
  rein_sim_scenario *s = load("schema-registry.yaml");
  const double outage = 15;
  for (uint64_t k = 0; k < (SEEDS > 1 ? 2 : 1); k++) {
    rein_sim_result *n = run(s, "naive", k), *r = run(s, "rein", k),
                    *pi = run(s, "budget-per-instance", k),
                    *fl = run(s, "budget-fleet", k);
    fprintf(stderr,
            "schema-registry seed+%llu: recovery naive %.0fs (%s), rein "
            "%.0fs, per-instance budgets %.0fs (%s), fleet budget %.0fs\n",
            (unsigned long long)k, SUM(n)->recovery_s,
            SUM(n)->recovered ? "recovered" : "not recovered",
            SUM(r)->recovery_s, SUM(pi)->recovery_s,
            SUM(pi)->recovered ? "recovered" : "not recovered",
            SUM(fl)->recovery_s);
    assert_true(SUM(n)->recovery_s >= 10 * outage);
    assert_int_equal(SUM(r)->recovered, 1);
    assert_true(SUM(r)->recovery_s <= 2 * outage);
    assert_true(SUM(pi)->recovery_s >= 10 * outage);
    assert_int_equal(SUM(fl)->recovered, 1);
    assert_true(SUM(fl)->recovery_s <= 2 * outage);
    assert_true(SUM(pi)->retries > 50 * SUM(fl)->retries);
    rein_sim_result_free(n);
    rein_sim_result_free(r);
    rein_sim_result_free(pi);
    rein_sim_result_free(fl);
  }
  rein_sim_scenario_free(s);
}

static void test_retry_layers(void **state) {
  (void)state;
  rein_sim_scenario *s = load("retry-layers.yaml");
  rein_sim_result *a = run(s, "naive", 0), *b = run(s, "rein", 0);
  const rein_sim_summary *x = SUM(a), *y = SUM(b);
  /* servers: api, svc, db */
  fprintf(stderr, "retry-layers: attempts at db per user request: naive "
          "%.2f, rein %.2f\n", x->servers[2].per_logical,
          y->servers[2].per_logical);
  assert_string_equal(x->servers[2].name, "db");
  /* calls still in flight at the end are counted as begun */
  assert_true(x->servers[2].per_logical > 60 && x->servers[2].per_logical <= 64);
  assert_true(y->servers[2].per_logical <= 4.0 + 1e-9);
  assert_true(y->servers[2].per_logical > 3.9);
  assert_int_equal(y->giveups_by_reason[REIN_GIVEUP_SERVER_STOP], y->giveups);
  rein_sim_result_free(a);
  rein_sim_result_free(b);
  rein_sim_scenario_free(s);
}

/* Load on a server per logical call of its own cohort: the three cohorts
 * are periodic with the same count and rate, so each makes a third of the
 * calls (give or take one per interval). */
static double load_of(const rein_sim_summary *x, size_t k) {
  return (double)x->servers[k].arrivals / ((double)x->logical / 3.0);
}

static void test_retry_breaker(void **state) {
  (void)state;
  rein_sim_scenario *s = load("retry-breaker.yaml");
  static const double rate[3] = {0.05, 0.2, 0.5};
  static const char *const gated[] = {"retry-breaker",
                                      "retry-breaker-cumulative"};
  for (uint64_t k = 0; k < SEEDS; k++) {
    rein_sim_result *pl = run(s, "plain", k);
    const rein_sim_summary *p = SUM(pl);
    assert_int_equal(p->n_servers, 3);
    for (size_t i = 0; i < 3; i++) {
      /* no breaker: 1 + x + x^2 + x^3 */
      double want = 1 + rate[i] + rate[i] * rate[i] +
                    rate[i] * rate[i] * rate[i];
      fprintf(stderr, "retry-breaker seed+%llu: plain, x = %.2f: load %.3fx "
              "(1+x+x^2+x^3 = %.3f)\n",
              (unsigned long long)k, rate[i], load_of(p, i), want);
      assert_true(fabs(load_of(p, i) - want) < 0.03 * want);
    }
    for (int g = 0; g < 2; g++) {
      rein_sim_result *rb = run(s, gated[g], k);
      const rein_sim_summary *x = SUM(rb);
      for (size_t i = 0; i < 3; i++)
        fprintf(stderr, "retry-breaker seed+%llu: %s, x = %.2f: load "
                "%.3fx\n",
                (unsigned long long)k, gated[g], rate[i], load_of(x, i));
      fprintf(stderr, "retry-breaker seed+%llu: %s: %llu retries stopped, "
              "%llu retries sent, %llu calls, %llu attempts\n",
              (unsigned long long)k, gated[g],
              (unsigned long long)x->giveups_by_reason[REIN_GIVEUP_RETRY_BREAKER],
              (unsigned long long)x->retries, (unsigned long long)x->logical,
              (unsigned long long)x->attempts);
      /* x >= 0.2: the load returns to about 1.0x */
      assert_true(load_of(x, 1) <= 1.1);
      assert_true(load_of(x, 2) <= 1.1);
      /* x = 0.05: retries still go out, about 1 + x */
      assert_true(load_of(x, 0) > 1.02 && load_of(x, 0) < 1.06);
      /* first attempts are never refused: every call sent its first
       * attempt, and no call gave up on an open breaker */
      assert_int_equal(x->attempts - x->retries, x->logical);
      assert_int_equal(x->giveups_by_reason[REIN_GIVEUP_BREAKER_OPEN], 0);
      assert_true(x->giveups_by_reason[REIN_GIVEUP_RETRY_BREAKER] > 0);
      rein_sim_result_free(rb);
    }
    rein_sim_result_free(pl);
  }
  rein_sim_scenario_free(s);
}

/* "The Tail at Scale" shape: hedged at p95, p99.9 falls >= 10x for < 5%
 * more requests; a fixed delay does the same; every hedge that lost was
 * cancelled. */
static void test_hedging(void **state) {
  (void)state;
  rein_sim_scenario *s = load("hedging.yaml");
  for (uint64_t k = 0; k < SEEDS; k++) {
    rein_sim_result *a = run(s, "plain", k);
    double p = SUM(a)->latency_p999_ms;
    static const char *const hv[] = {"hedged", "hedged-fixed"};
    for (int i = 0; i < 2; i++) {
      rein_sim_result *b = run(s, hv[i], k);
      const rein_sim_summary *h = SUM(b);
      double extra = (double)h->attempts / (double)h->logical - 1.0;
      fprintf(stderr,
              "hedging seed+%llu: %s: p99.9 %.1f ms -> %.1f ms (%.0fx), p99 "
              "%.1f -> %.1f ms, %.2f%% more requests, %llu hedges, %llu "
              "cancelled\n",
              (unsigned long long)k, hv[i], p, h->latency_p999_ms,
              p / h->latency_p999_ms, SUM(a)->latency_p99_ms,
              h->latency_p99_ms, 100 * extra, (unsigned long long)h->hedges,
              (unsigned long long)h->hedges_cancelled);
      assert_true(p >= 10 * h->latency_p999_ms);
      assert_true(extra > 0 && extra < 0.05);
      assert_true(h->hedges > 0 && h->hedges_cancelled <= h->hedges);
      assert_true(h->hedges_cancelled * 10 >= h->hedges * 9);
      assert_true(h->successes >= SUM(a)->successes - SUM(a)->successes / 1000);
      rein_sim_result_free(b);
    }
    rein_sim_result_free(a);
  }
  rein_sim_scenario_free(s);
}

/* Two replicas, one answering 503 to everything: retries to the replica
 * the call has not tried (rein_curl's endpoints) make every call succeed
 * and never go back to the failing one; every attempt behind one URL
 * fails the half of the calls that started there (test_curl_replicas.c's
 * live figures: 100/100 against about 50/100). */
static void test_replicas(void **state) {
  (void)state;
  rein_sim_scenario *s = load("replicas.yaml");
  for (uint64_t k = 0; k < SEEDS; k++) {
    rein_sim_result *a = run(s, "endpoints", k), *b = run(s, "one-url", k);
    const rein_sim_summary *x = SUM(a), *y = SUM(b);
    const rein_sim_server_summary *ra, *rb;
    assert_int_equal(rein_sim_result_replicas(a, 0, &ra), 2);
    assert_int_equal(rein_sim_result_replicas(b, 0, &rb), 2);
    fprintf(stderr,
            "replicas seed+%llu: endpoints %llu/%llu succeeded (%s %llu "
            "arrivals, all failed; %s %llu), one URL %.1f%% succeeded (%s "
            "%llu arrivals)\n",
            (unsigned long long)k, (unsigned long long)x->successes,
            (unsigned long long)x->logical, ra[0].name,
            (unsigned long long)ra[0].arrivals, ra[1].name,
            (unsigned long long)ra[1].arrivals, 100 * y->success_ratio,
            rb[0].name, (unsigned long long)rb[0].arrivals);
    /* endpoints: every call succeeded (the callers stop a second before
     * the end, so every call ended) */
    assert_int_equal(x->successes, x->logical);
    assert_int_equal(x->giveups, 0);
    assert_int_equal(ra[0].failed, ra[0].arrivals);
    assert_int_equal(ra[1].failed, 0);
    /* each call's first attempt alternates: half start on the failing
     * replica and come to the other at once */
    assert_true(ra[0].arrivals * 2 >= x->logical - 20 &&
                ra[0].arrivals * 2 <= x->logical + 20);
    assert_true(x->amplification > 1.45 && x->amplification < 1.55);
    /* one URL: the half that started on replica 0 spent 3 attempts there */
    assert_true(y->success_ratio > 0.45 && y->success_ratio < 0.55);
    assert_int_equal(y->successes + y->giveups, y->logical);
    assert_int_equal(y->giveups_by_reason[REIN_GIVEUP_MAX_ATTEMPTS],
                     y->giveups);
    assert_int_equal(rb[0].arrivals, 3 * y->giveups);
    assert_int_equal(rb[1].arrivals, y->successes);
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  rein_sim_scenario_free(s);
}

static void test_metastable(void **state) {
  (void)state;
  rein_sim_scenario *s = load("metastable.yaml");
  for (uint64_t k = 0; k < (SEEDS > 1 ? 2 : 1); k++) {
    rein_sim_result *a = run(s, "naive", k), *b = run(s, "rein", k),
                    *c = run(s, "naive-admission", k);
    const rein_sim_summary *x = SUM(a), *y = SUM(b), *z = SUM(c);
    fprintf(stderr, "metastable seed+%llu: baseline goodput %.0f/s; naive "
            "%s after %.0fs, goodput %.0f/s; rein recovered after %.0fs; "
            "naive clients + rein admission recovered after %.0fs, goodput "
            "%.0f/s, wasted %llu\n",
            (unsigned long long)k, x->baseline_goodput_per_s,
            x->recovered ? "recovered" : "still down", x->recovery_s,
            x->goodput_per_s, y->recovery_s, z->recovery_s, z->goodput_per_s,
            (unsigned long long)z->wasted);
    /* the server's half: admission keeps goodput near the offered load */
    assert_int_equal(z->recovered, 1);
    assert_true(z->recovery_s < 10);
    assert_true(z->goodput_per_s > 0.9 * x->baseline_goodput_per_s);
    assert_true(z->wasted < x->wasted / 100);
    rein_sim_result_free(c);
    /* healthy before: 70% of capacity, all served */
    assert_true(fabs(x->baseline_goodput_per_s - 1400) < 50);
    /* the trigger lasts 5 s; naive stays down for the rest of the run */
    assert_int_equal(x->recovered, 0);
    assert_true(x->recovery_s > 100);
    assert_int_equal(y->recovered, 1);
    assert_true(y->recovery_s < 30);
    assert_true(y->goodput_per_s > 3 * x->goodput_per_s);
    rein_sim_result_free(a);
    rein_sim_result_free(b);
  }
  rein_sim_scenario_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_amplification),
      cmocka_unit_test(test_thundering_herd),
      cmocka_unit_test(test_schema_registry),
      cmocka_unit_test(test_retry_layers),
      cmocka_unit_test(test_metastable),
      cmocka_unit_test(test_retry_breaker),
      cmocka_unit_test(test_hedging),
      cmocka_unit_test(test_replicas),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
