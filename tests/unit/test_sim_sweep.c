/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim_sweep.c: rein_sim_sweep (rein/sim.h, "sweeps"). Each run of a
 * sweep equals rein_sim_run on seed S + i; the mean, 95% interval, min and
 * max of every field equal what is computed here by hand from those runs;
 * the figures and the JSON are the same with 1, 2 and 5 threads; bad
 * configs (runs 0 or past the cap, threads, variants, seed overflow) are
 * refused with a message before a run starts; a failed run is reported per
 * run; progress is called once per run; nothing leaks when any allocation
 * fails. Labelled `concurrency` so the TSan step runs it.
 */
#include "rein_test.h"

#include "rein.h"
#include "rein/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SCEN =
    "name: t\nseed: 9\nduration: 20s\ninterval: 500ms\n"
    "policies:\n"
    "  a: {max_attempts: 3, backoff: {jitter: full, base: 20ms}}\n"
    "  b: {max_attempts: 3, budget: {ratio: 0.1, scope: cohort},\n"
    "      breaker: {scope: client, min_calls: 5}}\n"
    "servers: [{name: s, concurrency: 4, service_time: {dist: lognormal, "
    "median: 8ms, sigma: 0.5},\n"
    "           queue: {capacity: 50}}]\n"
    "cohorts:\n"
    "  - {name: c, count: 20, target: s, policy: a, timeout: 200ms,\n"
    "     arrival: {mode: poisson, rate: 15}}\n"
    "incidents:\n"
    "  - {kind: outage, server: s, start: 5s, end: 7s, mode: slow, factor: 4}\n"
    "variants:\n"
    "  - {name: a, use: {c: a}}\n"
    "  - {name: b, use: {c: b}}\n";

static rein_sim_scenario *load(const char *text, const char *dur) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", text);
  if (dur) { /* shorter runs for the fault loop */
    char *p = strstr(buf, "duration: 20s");
    memcpy(p + 10, dur, strlen(dur));
  }
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  if (rein_sim_scenario_parse(buf, strlen(buf), "t.yaml", NULL, &eb, &s) !=
      REIN_OK)
    fail_msg("load failed: %s", eb.msg);
  return s;
}

static rein_sim_sweep *sweep_ok(const rein_sim_scenario *s, size_t runs,
                                size_t threads, int keep) {
  static const size_t both[] = {0, 1};
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  rein_errbuf eb = {{0}};
  c.variants = both;
  c.n_variants = 2;
  c.runs = runs;
  c.threads = threads;
  c.keep_results = keep;
  c.err = &eb;
  rein_sim_sweep *sw = NULL;
  rein_status st = rein_sim_sweep_run(s, &c, &sw);
  if (st != REIN_OK)
    fail_msg("sweep failed: %s (%s)", eb.msg, rein_strerror(st));
  return sw;
}

static char *json_of(const rein_sim_sweep *sw) {
  char *b = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&b, &n);
  assert_int_equal(rein_sim_write_sweep_json(sw, m), REIN_OK);
  fclose(m);
  return b;
}

/* Each run is rein_sim_run on seed 9 + r; the aggregates are those runs'
 * mean, t(0.975, 3) = 3.182 times sd / sqrt(4), min and max. */
static void test_aggregate_by_hand(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  rein_sim_sweep *sw = sweep_ok(s, 4, 2, 1);
  assert_int_equal(rein_sim_sweep_variants(sw), 2);
  assert_int_equal(rein_sim_sweep_runs(sw), 4);
  assert_int_equal(rein_sim_sweep_seed(sw), 9);
  size_t checked_ci = 0, checked_na = 0;
  for (size_t v = 0; v < 2; v++) {
    assert_int_equal(rein_sim_sweep_variant(sw, v), v);
    rein_sim_field runs[4][64];
    size_t nf = 0;
    for (size_t r = 0; r < 4; r++) {
      rein_sim_run_config c;
      rein_sim_run_config_default(&c);
      c.variant = v;
      c.seed = 9 + r;
      rein_sim_result *res = NULL;
      assert_int_equal(rein_sim_run(s, &c, &res), REIN_OK);
      nf = rein_sim_summary_fields(rein_sim_result_summary(res), runs[r], 64);
      /* the sweep's copy of the run is the same run */
      rein_sim_field got[64];
      assert_int_equal(rein_sim_sweep_fields(sw, v, r, got, 64), nf);
      for (size_t k = 0; k < nf; k++) {
        assert_string_equal(got[k].name, runs[r][k].name);
        assert_true(got[k].value == runs[r][k].value ||
                    (isnan(got[k].value) && isnan(runs[r][k].value)));
      }
      const rein_sim_result *kept = rein_sim_sweep_result(sw, v, r);
      assert_non_null(kept);
      assert_int_equal(rein_sim_result_seed(kept), 9 + r);
      assert_int_equal(rein_sim_sweep_status(sw, v, r, NULL), REIN_OK);
      rein_sim_result_free(res);
    }
    rein_sim_stat st[64];
    assert_int_equal(rein_sim_sweep_stats(sw, v, st, 64), nf);
    for (size_t k = 0; k < nf; k++) {
      double x[4], sum = 0, lo = INFINITY, hi = -INFINITY;
      size_t n = 0;
      for (size_t r = 0; r < 4; r++)
        if (runs[r][k].value != -1) {
          x[n++] = runs[r][k].value;
          sum += runs[r][k].value;
          lo = fmin(lo, runs[r][k].value);
          hi = fmax(hi, runs[r][k].value);
        }
      assert_string_equal(st[k].name, runs[0][k].name);
      assert_int_equal(st[k].n, n);
      if (n == 0) {
        assert_true(st[k].mean == -1 && st[k].ci95 == -1 && st[k].min == -1 &&
                    st[k].max == -1);
        checked_na++;
        continue;
      }
      double mean = sum / (double)n, ss = 0;
      for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
      assert_true(fabs(st[k].mean - mean) <= 1e-12 * fmax(1, fabs(mean)));
      assert_true(st[k].min == lo && st[k].max == hi);
      if (n == 4) {
        double ci = 3.182 * sqrt(ss / 3) / 2;
        assert_true(fabs(st[k].ci95 - ci) <= 1e-12 * fmax(1, ci));
        if (ci > 0) checked_ci++;
      }
    }
  }
  /* some fields varied over the seeds, some never applied (completion_s:
   * no one-shot cohort) */
  assert_true(checked_ci >= 10);
  assert_true(checked_na >= 2);

  /* the JSON writer prints those figures */
  char *j = json_of(sw);
  assert_non_null(strstr(j, "{\"scenario\":\"t\",\"seed\":9,\"runs\":4,"
                            "\"variants\":[{\"variant\":\"a\",\"logical\":"
                            "{\"mean\":"));
  assert_non_null(strstr(j, ",\"completion_s\":{\"mean\":null,\"ci95\":null,"
                            "\"min\":null,\"max\":null,\"n\":0}"));
  rein_sim_stat st[64];
  rein_sim_sweep_stats(sw, 1, st, 64);
  for (size_t k = 0; k < 64; k++)
    if (!strcmp(st[k].name, "amplification")) {
      char want[128];
      snprintf(want, sizeof want, "\"amplification\":{\"mean\":%.6g,",
               st[k].mean);
      assert_non_null(strstr(strstr(j, "{\"variant\":\"b\""), want));
      break;
    }
  assert_int_equal(j[strlen(j) - 1], '\n');
  free(j);
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(s);
}

/* n = 1: the interval is 0 and the one-run JSON is the run's summary in
 * the one frame (scenario, seed, runs, variants[]). */
static void test_one_run(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  c.variant = 1;
  rein_sim_sweep *sw = NULL;
  assert_int_equal(rein_sim_sweep_run(s, &c, &sw), REIN_OK);
  assert_int_equal(rein_sim_sweep_variants(sw), 1);
  assert_int_equal(rein_sim_sweep_variant(sw, 0), 1);
  rein_sim_stat st[64];
  size_t nf = rein_sim_sweep_stats(sw, 0, st, 64);
  for (size_t k = 0; k < nf; k++)
    if (st[k].n) assert_true(st[k].ci95 == 0 && st[k].min == st[k].max);
  char *j = json_of(sw), *b = NULL;
  size_t n = 0;
  FILE *m = open_memstream(&b, &n);
  /* the frame every --json has, one variant or several */
  fputs("{\"scenario\":\"t\",\"seed\":9,\"runs\":1,\"variants\":[", m);
  rein_sim_write_summary_json(rein_sim_sweep_result(sw, 0, 0), m);
  fputs("]}\n", m);
  fclose(m);
  assert_string_equal(j, b);
  free(j);
  free(b);
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(s);
}

/* The same figures, byte for byte, with 1, 2 and 5 threads. */
static void test_threads_determinism(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  rein_sim_sweep *w1 = sweep_ok(s, 6, 1, 0), *w2 = sweep_ok(s, 6, 2, 0),
                 *w5 = sweep_ok(s, 6, 5, 0);
  char *j1 = json_of(w1), *j2 = json_of(w2), *j5 = json_of(w5);
  assert_string_equal(j1, j2);
  assert_string_equal(j1, j5);
  for (size_t v = 0; v < 2; v++) {
    rein_sim_stat a[64], b[64];
    size_t nf = rein_sim_sweep_stats(w1, v, a, 64);
    assert_int_equal(rein_sim_sweep_stats(w2, v, b, 64), nf);
    for (size_t k = 0; k < nf; k++) {
      assert_int_equal(a[k].n, b[k].n);
      assert_memory_equal(&a[k].mean, &b[k].mean, sizeof(double));
      assert_memory_equal(&a[k].ci95, &b[k].ci95, sizeof(double));
    }
    /* without keep_results only the first seed keeps its result */
    assert_non_null(rein_sim_sweep_result(w2, v, 0));
    assert_null(rein_sim_sweep_result(w2, v, 1));
    rein_sim_field f[64];
    assert_int_equal(rein_sim_sweep_fields(w2, v, 5, f, 64), nf);
  }
  assert_null(rein_sim_sweep_result(w2, 2, 0));
  assert_int_equal(rein_sim_sweep_status(w2, 0, 6, NULL), REIN_EINVAL);
  free(j1);
  free(j2);
  free(j5);
  rein_sim_sweep_free(w1);
  rein_sim_sweep_free(w2);
  rein_sim_sweep_free(w5);
  rein_sim_scenario_free(s);
}

static void refused(const rein_sim_scenario *s, rein_sim_sweep_config *c,
                    const char *want) {
  rein_errbuf eb = {{0}};
  c->err = &eb;
  rein_sim_sweep *sw = (rein_sim_sweep *)1;
  assert_int_equal(rein_sim_sweep_run(s, c, &sw), REIN_EINVAL);
  assert_null(sw);
  if (!strstr(eb.msg, want)) fail_msg("message '%s' lacks '%s'", eb.msg, want);
  c->err = NULL; /* eb goes out of scope here */
}

static void test_bad_config(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  rein_sim_sweep_config c;
  size_t many[33] = {0}, bad_idx[] = {0, 7};
  rein_sim_sweep_config_default(&c);
  c.runs = 0;
  refused(s, &c, "sweep: runs must be in 1..10000, got 0");
  c.runs = REIN_SIM_SWEEP_MAX_RUNS + 1;
  refused(s, &c, "sweep: runs must be in 1..10000, got 10001");
  rein_sim_sweep_config_default(&c);
  c.threads = 0;
  refused(s, &c, "sweep: threads must be in 1..64, got 0");
  c.threads = 65;
  refused(s, &c, "sweep: threads must be in 1..64, got 65");
  rein_sim_sweep_config_default(&c);
  c.variants = many;
  c.n_variants = 33;
  refused(s, &c, "sweep: at most 32 variants, got 33");
  c.variants = NULL;
  c.n_variants = 2;
  refused(s, &c, "sweep: n_variants is 2 but variants is NULL");
  c.variants = bad_idx;
  refused(s, &c, "sweep: variant index 7 out of range (the scenario has 2)");
  rein_sim_sweep_config_default(&c);
  c.variant = 2;
  refused(s, &c, "variant index 2 out of range");
  rein_sim_sweep_config_default(&c);
  c.seed = UINT64_MAX;
  c.runs = 2;
  refused(s, &c, "sweep: seeds 18446744073709551615 + 2 runs pass 2^64");
  c.runs = 1; /* one seed, UINT64_MAX itself, is fine */
  rein_sim_sweep *sw = NULL;
  c.err = NULL;
  c.duration_ns = 1000000000;
  assert_int_equal(rein_sim_sweep_run(s, &c, &sw), REIN_OK);
  assert_int_equal(rein_sim_result_seed(rein_sim_sweep_result(sw, 0, 0)),
                   UINT64_MAX);
  rein_sim_sweep_free(sw);
  rein_sim_sweep_config_default(&c);
  refused(NULL, &c, "sweep: NULL scenario");
  assert_int_equal(rein_sim_sweep_run(s, NULL, &sw), REIN_EINVAL);
  assert_int_equal(rein_sim_sweep_run(s, &c, NULL), REIN_EINVAL);
  assert_int_equal(rein_sim_write_sweep_json(NULL, stdout), REIN_EINVAL);
  rein_sim_sweep_free(NULL);
  rein_sim_scenario_free(s);
}

/* Every run over a tiny budget fails; each says so, the first in err. */
static void test_failed_runs(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  rein_errbuf eb = {{0}};
  c.runs = 3;
  c.max_memory = 4096;
  c.err = &eb;
  rein_sim_sweep *sw = NULL;
  assert_int_equal(rein_sim_sweep_run(s, &c, &sw), REIN_ETOOBIG);
  assert_non_null(sw);
  assert_non_null(strstr(eb.msg, "variant a seed 9: memory budget of 2.0 KiB"));
  for (size_t r = 0; r < 3; r++) {
    const char *msg = NULL;
    assert_int_equal(rein_sim_sweep_status(sw, 0, r, &msg), REIN_ETOOBIG);
    assert_non_null(strstr(msg, "memory budget"));
    assert_null(rein_sim_sweep_result(sw, 0, r));
    rein_sim_field f[64];
    assert_int_equal(rein_sim_sweep_fields(sw, 0, r, f, 64), 0);
  }
  rein_sim_stat st[64];
  size_t nf = rein_sim_sweep_stats(sw, 0, st, 64);
  for (size_t k = 0; k < nf; k++)
    assert_int_equal(st[k].n, 0);
  assert_int_equal(rein_sim_write_sweep_json(sw, stdout), REIN_EINVAL);
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(s);
}

/* Called from the sweep's threads: record, assert on the test's thread. */
typedef struct prog {
  int calls[16];
  size_t total;
  double last;
  int single, bad;
} prog;

static void on_progress(void *ctx, size_t done, size_t total, double frac) {
  prog *p = ctx;
  p->total = total;
  if (total == 1) {
    if (done != 0 || frac < p->last || frac > 1) p->bad++;
    p->last = frac;
    p->single++;
    return;
  }
  if (done < 1 || done > total || total >= 16 ||
      frac != (double)done / (double)total) {
    p->bad++;
    return;
  }
  p->calls[done]++;
}

static void test_progress(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, NULL);
  static const size_t both[] = {1, 0};
  prog p;
  memset(&p, 0, sizeof p);
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  c.variants = both;
  c.n_variants = 2;
  c.runs = 3;
  c.progress = on_progress;
  c.progress_ctx = &p;
  rein_sim_sweep *sw = NULL;
  assert_int_equal(rein_sim_sweep_run(s, &c, &sw), REIN_OK);
  assert_int_equal(p.bad, 0);
  assert_int_equal(p.total, 6);
  for (int d = 1; d <= 6; d++)
    assert_int_equal(p.calls[d], 1);
  /* variants in the config's order */
  assert_int_equal(rein_sim_sweep_variant(sw, 0), 1);
  assert_string_equal(rein_sim_result_variant(rein_sim_sweep_result(sw, 0, 0)),
                      "b");
  rein_sim_sweep_free(sw);
  memset(&p, 0, sizeof p);
  c.n_variants = 0;
  c.runs = 1;
  assert_int_equal(rein_sim_sweep_run(s, &c, &sw), REIN_OK);
  assert_int_equal(p.bad, 0);
  assert_int_equal(p.total, 1);
  assert_true(p.single > 0);
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(s);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  rein_sim_sweep_config c;
  rein_sim_sweep_config_default(&c);
  c.runs = 2;
  c.threads = 1; /* the allocation order is then fixed */
  c.alloc = a;
  rein_sim_sweep *sw = NULL;
  rein_status st = rein_sim_sweep_run(ctx, &c, &sw);
  rein_sim_sweep_free(sw);
  return st != REIN_OK;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_sim_scenario *s = load(SCEN, "1s ");
  rein_test_fault_loop(fault_body, s);
  rein_sim_scenario_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_aggregate_by_hand),
      cmocka_unit_test(test_one_run),
      cmocka_unit_test(test_threads_determinism),
      cmocka_unit_test(test_bad_config),
      cmocka_unit_test(test_failed_runs),
      cmocka_unit_test(test_progress),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
