/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim.c: unit tests of the simulator: the scenario loader's messages
 * (file:line:col: field: expected), exact timings of the event engine on
 * deterministic models, the server features (timeouts and wasted work,
 * shedding with Retry-After, duplicates and dedup, optimistic concurrency,
 * capacity cuts, tiers), determinism, and allocation-failure loops for the
 * loader and a whole run.
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
  rein_status st = rein_sim_scenario_parse(text, strlen(text), "t.yaml", NULL,
                                           &eb, &s);
  if (st != REIN_OK) fail_msg("load failed: %s", eb.msg);
  return s;
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
  if (st != REIN_OK) fail_msg("run failed: %s (%s)", eb.msg, rein_strerror(st));
  return r;
}

/* --------------------------------------------------------------------- */
/* Loader errors                                                          */

#define BASE                                                                   \
  "duration: 10s\n"                                                            \
  "policies:\n"                                                                \
  "  p: {max_attempts: 2}\n"                                                   \
  "servers:\n"                                                                 \
  "  - name: s\n"                                                              \
  "    concurrency: 4\n"                                                       \
  "cohorts:\n"                                                                 \
  "  - name: c\n"                                                              \
  "    target: s\n"                                                            \
  "    policy: p\n"                                                            \
  "    arrival: {mode: poisson, rate: 1}\n"

static const struct {
  const char *text;
  rein_status st;
  const char *msg;
} bad_cases[] = {
    {"", REIN_EINVAL, "t.yaml:1:1: (top): the scenario is empty"},
    {"duration: 10s\nfoo: [", REIN_EPARSE, "t.yaml:"},
    {"- 1\n- 2\n", REIN_EINVAL, "t.yaml:1:1: (top): expected a mapping"},
    {BASE "durration: 3s\n", REIN_EINVAL,
     "t.yaml:12:1: durration: unknown field; did you mean 'duration'?"},
    {"duration: 10\n", REIN_EINVAL,
     "t.yaml:1:11: duration: expected a duration with a unit"},
    {"duration: 10s\npolicies:\n  p: {max_attempts: 0}\n", REIN_EINVAL,
     "t.yaml:3:21: policies.p.max_attempts: must be in [1, 1000], got 0"},
    {"duration: 10s\npolicies:\n  p: {backoff: {jitter: ful}}\n", REIN_EINVAL,
     "policies.p.backoff.jitter: expected one of none, full, equal, "
     "decorrelated, got 'ful'; did you mean 'full'?"},
    {"duration: 10s\npolicies:\n  p: {breaker: {gates: retires}}\n", REIN_EINVAL,
     "t.yaml:3:24: policies.p.breaker.gates: expected one of all, retries, "
     "got 'retires'; did you mean 'retries'?"},
    {"duration: 10s\npolicies:\n  p: {breaker: {gates: retries, "
     "window_calls: 50, window_kind: cumulative}}\n",
     REIN_EINVAL,
     "t.yaml:3:64: policies.p.breaker.window_kind: window_kind cumulative "
     "contradicts window_calls; remove window/window_calls"},
    {"duration: 10s\npolicies:\n  p: {breaker: {gates: retries, scope: "
     "fleet}}\n",
     REIN_EINVAL,
     "t.yaml:3:16: policies.p.breaker.gates: gates: retries is per instance"},
    {"duration: 10s\npolicies:\n  p: {budget: {ratio: -1}}\n", REIN_EINVAL,
     "t.yaml:3:23: policies.p.budget.ratio: must be in [0, 1000], got -1"},
    {"duration: 10s\npolicies:\n  p: {budget: {kind: token_bucket, "
     "max_tokens: 5000}}\n",
     REIN_EINVAL,
     "t.yaml:3:48: policies.p.budget.max_tokens: must be in (0, 1000], got "
     "5000"},
    {BASE "    concurency: 3\n", REIN_EINVAL,
     "t.yaml:12:5: cohorts[0].concurency: unknown field"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "    concurency: 3\n",
     REIN_EINVAL,
     "t.yaml:6:5: servers[0].concurency: unknown field; did you mean "
     "'concurrency'?"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "cohorts:\n  - {name: c, target: t, policy: p, arrival: {mode: closed}}\n",
     REIN_EINVAL,
     "t.yaml:7:23: cohorts[0].target: no server named 't'; did you mean 's'?"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "cohorts:\n  - {name: c, target: s, policy: q, arrival: {mode: closed}}\n",
     REIN_EINVAL, "cohorts[0].policy: no policy named 'q'; did you mean 'p'?"},
    {BASE "incidents:\n  - {kind: outage, server: s, start: 5s, end: 2s}\n",
     REIN_EINVAL, "t.yaml:13:47: incidents[0].end: must be after start"},
    {BASE "incidents:\n  - {kind: capacity, server: s, start: 5s, end: 6s}\n",
     REIN_EINVAL, "incidents[0]: missing required field 'factor'"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n"
     "  - {name: a, downstream: b, policy: p}\n"
     "  - {name: b, downstream: a, policy: p}\n",
     REIN_EINVAL, "servers[0].downstream: downstream servers form a cycle"},
    {BASE "variants:\n  - {name: v, use: {cc: p}}\n", REIN_EINVAL,
     "variants[0].use.cc: no cohort or server of that name; did you mean "
     "'c'?"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "    service_time: {dist: lognormal, median: 5ms}\n",
     REIN_EINVAL, "servers[0].service_time: missing required field 'sigma'"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "    service_time: {dist: exponential, mean: 5ms, sigma: 1}\n",
     REIN_EINVAL,
     "servers[0].service_time.sigma: not a parameter of the exponential"},
    {"duration: 10s\nduration: 20s\n", REIN_EINVAL,
     "t.yaml:2:1: duration: field given twice"},
    {"duration: 10s\npolicies:\n  p: {}\nservers:\n  - name: s\n"
     "    admission: {target: 0}\n",
     REIN_EINVAL, "t.yaml:6:16: servers[0].admission: admit.target_ns"},
    {BASE "variants:\n  - {name: v, admission: [s]}\n", REIN_EINVAL,
     "variants[0].admission[0]: server 's' has no admission block"},
    {"duration: 10s\npolicies:\n  p: {retry_on: [503, 5%x]}\n", REIN_EINVAL,
     "t.yaml:3:23: policies.p.retry_on[1]: '5%x' is not a status or an "
     "outcome name; expected an HTTP status (503)"},
    {BASE "incidents:\n  - {kind: failure, server: s, start: 1s, end: 2s, "
          "probability: 1, status: 700}\n",
     REIN_EINVAL, "incidents[0].status: expected an integer in [100, 599]"},
    {BASE "incidents:\n  - {kind: capacity, server: s, start: 1s, end: 2s, "
          "factor: 0.5, status: 503}\n",
     REIN_EINVAL,
     "incidents[0].status: only a failure incident or an error outage has a "
     "status"},
};

static void test_loader_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    rein_errbuf eb = {{0}};
    rein_sim_scenario *s = NULL;
    rein_status st = rein_sim_scenario_parse(
        bad_cases[i].text, strlen(bad_cases[i].text), "t.yaml", NULL, &eb, &s);
    if (st != bad_cases[i].st || !strstr(eb.msg, bad_cases[i].msg))
      fail_msg("case %zu: got %s '%s', want %s containing '%s'", i,
               rein_status_name(st), eb.msg, rein_status_name(bad_cases[i].st),
               bad_cases[i].msg);
    assert_null(s);
  }
}

static void test_loader_defaults(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(BASE);
  assert_string_equal(rein_sim_scenario_name(s), "scenario");
  assert_int_equal(rein_sim_scenario_seed(s), 1);
  assert_int_equal(rein_sim_scenario_duration(s), 10 * REIN_NS_PER_S);
  assert_int_equal(rein_sim_variant_count(s), 1);
  assert_string_equal(rein_sim_variant_name(s, 0), "default");
  size_t idx = 9;
  assert_int_equal(rein_sim_variant_find(s, "default", &idx), REIN_OK);
  assert_int_equal(idx, 0);
  assert_int_equal(rein_sim_variant_find(s, "nope", &idx), REIN_ENOTFOUND);
  rein_sim_scenario_free(s);
  rein_sim_scenario_free(NULL);
}

static void test_load_missing_file(void **state) {
  (void)state;
  rein_errbuf eb = {{0}};
  rein_sim_scenario *s = NULL;
  assert_int_equal(rein_sim_scenario_load("/nonexistent/x.yaml", NULL, &eb, &s),
                   REIN_EIO);
  assert_non_null(strstr(eb.msg, "/nonexistent/x.yaml: cannot open"));
}

/* --------------------------------------------------------------------- */
/* Engine: exact timings on deterministic models                          */

static void test_exact_latency(void **state) {
  (void)state;
  /* one client, one call, 10 ms service, 1 ms network each way */
  rein_sim_scenario *s = load_ok(
      "duration: 5s\ninterval: 1s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, service_time: 10ms, network: 1ms}]\n"
      "cohorts: [{name: c, target: s, policy: p, arrival: {mode: one_shot}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->logical, 1);
  assert_int_equal(S->attempts, 1);
  assert_int_equal(S->successes, 1);
  assert_true(fabs(S->completion_s - 0.012) < 1e-9);
  /* histogram buckets are within 1/64 of the value */
  assert_true(fabs(S->latency_p50_ms - 12.0) < 12.0 / 64 + 1e-9);
  assert_int_equal(S->oneshot_done, 1);
  assert_int_equal(S->servers[0].arrivals, 1);
  assert_int_equal(S->servers[0].executed, 1);
  /* start, arrive, service done, response, the (stale) timeout, ticks */
  assert_int_equal(S->events, 4 + 1 + 5);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_timeouts_and_wasted_work(void **state) {
  (void)state;
  /* service 2 s, timeout 500 ms, 3 attempts with a constant 100 ms backoff:
   * every attempt times out, the server still does all three (wasted). */
  rein_sim_scenario *s = load_ok(
      "duration: 10s\n"
      "policies: {p: {max_attempts: 3, backoff: {kind: constant, jitter: "
      "none, base: 100ms}}}\n"
      "servers: [{name: s, concurrency: 10, service_time: 2s}]\n"
      "cohorts: [{name: c, target: s, policy: p, timeout: 500ms, arrival: "
      "{mode: one_shot, think: 100s}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->attempts, 3);
  assert_int_equal(S->timeouts, 3);
  assert_int_equal(S->giveups, 1);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_MAX_ATTEMPTS], 1);
  assert_int_equal(S->wasted, 3);
  assert_int_equal(S->servers[0].wasted, 3);
  assert_int_equal(S->extra_executions, 2); /* idempotent: not duplicates */
  assert_int_equal(S->duplicates, 0);
  const rein_sim_point *p;
  size_t n = rein_sim_result_series(r, &p);
  assert_int_equal(n, 10);
  /* attempts at 0, 0.6, 1.2 s: all in interval 0 and 1 */
  assert_int_equal(p[0].attempts, 2);
  assert_int_equal(p[1].attempts, 1);
  assert_int_equal(p[1].retries, 1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_drop_does_not_blame_reused_request(void **state) {
  (void)state;
  /* A's attempt arrives during a drop outage: the server releases the
   * request at once and A times out at 301 ms. B's attempt (sent at 20 ms)
   * reuses the released request record and is served 20..520 ms, within
   * B's 1 s timeout. A's timeout must not mark B's request abandoned:
   * nothing was wasted (the dropped request never ran). */
  rein_sim_scenario *s = load_ok(
      "duration: 2s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, concurrency: 1, service_time: 500ms}]\n"
      "cohorts:\n"
      "  - {name: a, target: s, policy: p, timeout: 300ms,\n"
      "     arrival: {mode: one_shot, think: 100s, start: 1ms}}\n"
      "  - {name: b, target: s, policy: p, timeout: 1s,\n"
      "     arrival: {mode: one_shot, think: 100s, start: 20ms}}\n"
      "incidents: [{kind: outage, mode: drop, server: s, start: 0s, "
      "end: 10ms}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->attempts, 2);
  assert_int_equal(S->timeouts, 1);
  assert_int_equal(S->successes, 1);
  assert_int_equal(S->wasted, 0);
  assert_int_equal(S->servers[0].wasted, 0);
  assert_int_equal(S->servers[0].executed, 1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_duplicates_and_dedup(void **state) {
  (void)state;
  const char *fmt =
      "duration: 10s\n"
      "policies: {p: {max_attempts: 2, backoff: {kind: constant, jitter: "
      "none, base: 100ms}}}\n"
      "servers: [{name: s, concurrency: 10, service_time: 1s, dedup: %s}]\n"
      "cohorts: [{name: c, count: 5, target: s, policy: p, timeout: 500ms, "
      "idempotent: false, key: true, arrival: {mode: one_shot, think: 100s}}]\n";
  char text[1024];
  snprintf(text, sizeof text, fmt, "false");
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, 0, 0);
  /* each of 5 calls: attempt 1 times out but executes, attempt 2 too */
  assert_int_equal(rein_sim_result_summary(r)->duplicates, 5);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  snprintf(text, sizeof text, fmt, "true");
  s = load_ok(text);
  r = run_ok(s, 0, 0);
  assert_int_equal(rein_sim_result_summary(r)->duplicates, 0);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_non_idempotent_without_key(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 10s\n"
      "policies: {p: {max_attempts: 3}}\n"
      "servers: [{name: s, service_time: 1s}]\n"
      "cohorts: [{name: c, target: s, policy: p, timeout: 500ms, "
      "idempotent: false, arrival: {mode: one_shot, think: 100s}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->attempts, 1);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_NON_IDEMPOTENT], 1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_shed_retry_after(void **state) {
  (void)state;
  /* 2 clients at t=0, one worker, shed when anything is queued: the second
   * is shed with Retry-After 700 ms; honouring it, its retry starts >= 700
   * ms later even though the backoff is 10 ms. */
  const char *fmt =
      "duration: 5s\n"
      "policies: {p: {max_attempts: 2, honor_signals: %s, backoff: {kind: "
      "constant, jitter: none, base: 10ms}}}\n"
      "servers: [{name: s, concurrency: 1, service_time: 100ms, "
      "shed: {queue_over: 1, retry_after: 700ms}}]\n"
      "cohorts: [{name: c, count: 3, target: s, policy: p, arrival: {mode: "
      "one_shot, think: 100s}}]\n";
  char text[1024];
  snprintf(text, sizeof text, fmt, "true");
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->servers[0].shed, 1);
  assert_int_equal(S->successes, 3);
  assert_true(S->completion_s >= 0.7 && S->completion_s < 0.9);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  snprintf(text, sizeof text, fmt, "false");
  s = load_ok(text);
  r = run_ok(s, 0, 0);
  S = rein_sim_result_summary(r);
  /* ignoring it, the retry comes after 10 ms and queues */
  assert_true(S->completion_s < 0.35);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_shed_dont_retry(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 5s\n"
      "policies: {p: {max_attempts: 3}}\n"
      "servers: [{name: s, concurrency: 1, service_time: 100ms, "
      "shed: {queue_over: 1, dont_retry: true}}]\n"
      "cohorts: [{name: c, count: 3, target: s, policy: p, arrival: {mode: "
      "one_shot, think: 100s}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_SERVER_STOP], 1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_occ_contention(void **state) {
  (void)state;
  /* 50 clients update one key at once: only one optimistic write per
   * "round" wins, the rest conflict and retry: total work >> logical. */
  rein_sim_scenario *s = load_ok(
      "duration: 60s\n"
      "policies: {p: {max_attempts: 1000, backoff: {kind: exponential, "
      "jitter: full, base: 5ms, cap: 200ms}}}\n"
      "servers: [{name: s, concurrency: 50, service_time: 10ms, occ: {keys: "
      "1}}]\n"
      "cohorts: [{name: c, count: 50, target: s, policy: p, arrival: {mode: "
      "one_shot}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->oneshot_done, 50);
  assert_int_equal(S->servers[0].executed, 50);
  assert_true(S->server_attempts > 3 * 50);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_capacity_cut_and_outage_modes(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 4s\ninterval: 1s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, concurrency: 10, service_time: 10ms}]\n"
      "cohorts: [{name: c, count: 100, target: s, policy: p, timeout: 100ms, "
      "arrival: {mode: poisson, rate: 10}}]\n"
      "incidents:\n"
      "  - {kind: capacity, server: s, start: 1s, end: 2s, factor: 0.5}\n"
      "  - {kind: outage, server: s, start: 2s, end: 3s, mode: drop}\n"
      "  - {kind: outage, server: s, start: 3s, end: 4s, mode: refuse}\n");
  rein_sim_result *r = run_ok(s, 0, 5);
  const rein_sim_point *p;
  rein_sim_result_series(r, &p);
  assert_true(fabs(p[0].capacity_per_s - 1000) < 1e-6);
  assert_true(fabs(p[1].capacity_per_s - 500) < 1e-6);
  assert_true(p[2].capacity_per_s == 0);
  /* drops end in timeouts; refusals in give-ups without timeouts */
  assert_true(p[2].timeouts > 900);
  assert_int_equal(p[2].successes, 0);
  assert_int_equal(p[3].successes, 0);
  assert_true(p[3].rejections > 900);
  assert_true(p[0].successes > 900);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->recovered, 0); /* ends with the incident */
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_tiers_propagation(void **state) {
  (void)state;
  const char *fmt =
      "duration: 20s\n"
      "policies: {p: {max_attempts: 3, propagate_dont_retry: %s, backoff: "
      "{kind: constant, jitter: none, base: 1ms}}}\n"
      "servers:\n"
      "  - {name: a, concurrency: 100, service_time: 1ms, downstream: b, "
      "policy: p}\n"
      "  - {name: b, concurrency: 100, service_time: 1ms, "
      "failure_probability: 1}\n"
      "cohorts: [{name: c, count: 10, target: a, policy: p, arrival: {mode: "
      "one_shot, think: 1000s}}]\n";
  char text[1024];
  snprintf(text, sizeof text, fmt, "false");
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->servers[0].arrivals, 30);
  assert_int_equal(S->servers[1].arrivals, 90);
  assert_true(fabs(S->servers[1].per_logical - 9.0) < 1e-9);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  snprintf(text, sizeof text, fmt, "true");
  s = load_ok(text);
  r = run_ok(s, 0, 0);
  S = rein_sim_result_summary(r);
  assert_int_equal(S->servers[0].arrivals, 10);
  assert_int_equal(S->servers[1].arrivals, 30);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_SERVER_STOP], 10);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_admission_server(void **state) {
  (void)state;
  /* 4 clients at once, a limit of 1 and no queue: one is admitted; three
   * first attempts are rejected with Retry-After (at least 1 s by
   * default); after it the three retries arrive together: one is admitted,
   * two are shed with Rein-Dont-Retry (a retry shed under the default
   * policy), and those calls stop at once (server_stop). */
  rein_sim_scenario *s = load_ok(
      "duration: 10s\n"
      "policies: {p: {max_attempts: 3, backoff: {kind: constant, jitter: "
      "none, base: 10ms}}}\n"
      "servers: [{name: s, concurrency: 1, service_time: 100ms,\n"
      "           admission: {limit: 1, queue: 0, retry_queue: 0}}]\n"
      "cohorts: [{name: c, count: 4, target: s, policy: p, timeout: 5s, "
      "arrival: {mode: one_shot, think: 100s}}]\n"
      "variants:\n  - {name: plain, admission: []}\n"
      "  - {name: admit}\n");
  rein_sim_result *r = run_ok(s, 1, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_int_equal(S->attempts, 7);
  assert_int_equal(S->servers[0].shed, 5);
  assert_int_equal(S->servers[0].executed, 2);
  assert_int_equal(S->successes, 2);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_SERVER_STOP], 2);
  assert_true(S->latency_p99_ms >= 1000);
  rein_sim_result_free(r);
  r = run_ok(s, 0, 0);
  S = rein_sim_result_summary(r);
  /* without admission the FIFO queue serves all four in 400 ms */
  assert_int_equal(S->servers[0].shed, 0);
  assert_true(fabs(S->completion_s - 0.4) < 1e-6);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);

  /* The same clients without the attempt header: admission cannot tell
   * retries from first attempts, so it sheds them with Retry-After alone
   * (no Rein-Dont-Retry) and they come back: 4 + 3 + 2 attempts, one
   * served per round, the last call gives up after its third attempt. */
  s = load_ok(
      "duration: 10s\n"
      "policies: {p: {max_attempts: 3, attempt_header: false, backoff: "
      "{kind: constant, jitter: none, base: 10ms}}}\n"
      "servers: [{name: s, concurrency: 1, service_time: 100ms,\n"
      "           admission: {limit: 1, queue: 0, retry_queue: 0}}]\n"
      "cohorts: [{name: c, count: 4, target: s, policy: p, timeout: 5s, "
      "arrival: {mode: one_shot, think: 100s}}]\n");
  r = run_ok(s, 0, 0);
  S = rein_sim_result_summary(r);
  assert_int_equal(S->attempts, 9);
  assert_int_equal(S->servers[0].shed, 6);
  assert_int_equal(S->servers[0].executed, 3);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_SERVER_STOP], 0);
  assert_int_equal(S->giveups_by_reason[REIN_GIVEUP_MAX_ATTEMPTS], 1);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

/* Latency percentiles of 20,000 unqueued single-attempt calls follow the
 * service-time distribution (the histogram is within 1/64). */
static void check_dist(const char *dist, double p50_ms, double p99_ms,
                       double tol) {
  char text[1024];
  snprintf(text, sizeof text,
           "seed: 5\nduration: 100s\n"
           "policies: {p: {max_attempts: 1}}\n"
           "servers: [{name: s, concurrency: 100000, service_time: %s}]\n"
           "cohorts: [{name: c, count: 200, target: s, policy: p, timeout: "
           "0, arrival: {mode: poisson, rate: 1}}]\n",
           dist);
  rein_sim_scenario *s = load_ok(text);
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  if (fabs(S->latency_p50_ms - p50_ms) > tol * p50_ms ||
      fabs(S->latency_p99_ms - p99_ms) > tol * p99_ms)
    fail_msg("%s: p50 %.3f (want %.3f), p99 %.3f (want %.3f)", dist,
             S->latency_p50_ms, p50_ms, S->latency_p99_ms, p99_ms);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static void test_distributions(void **state) {
  (void)state;
  check_dist("20ms", 20, 20, 0.02);
  /* exponential mean 10 ms: median 10 ln 2, p99 10 ln 100 */
  check_dist("{dist: exponential, mean: 10ms}", 6.931, 46.05, 0.05);
  check_dist("{dist: uniform, min: 10ms, max: 30ms}", 20, 29.8, 0.03);
  /* lognormal: median as given; p99 = median e^(2.326 sigma) */
  check_dist("{dist: lognormal, median: 20ms, sigma: 0.5}", 20, 63.96, 0.05);
  check_dist("{dist: bimodal, fast: 5ms, slow: 100ms, p_slow: 0.1}", 5, 100,
             0.02);
  /* truncated to [15, 25]: p99 close to the upper bound */
  check_dist("{dist: normal, mean: 20ms, stddev: 5ms, min: 15ms, max: 25ms}",
             20, 24.8, 0.03);
}

static void test_load_dependent_latency(void **state) {
  (void)state;
  /* 5 requests at once, 10 ms + 1 ms per request in flight (counted when
   * service starts: the first sees 1, the fifth 5): they finish at 11, 12,
   * 13, 14 and 15 ms. */
  rein_sim_scenario *s = load_ok(
      "duration: 1s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, concurrency: 10, service_time: 10ms, latency: "
      "{per_inflight: 1ms}}]\n"
      "cohorts: [{name: c, count: 5, target: s, policy: p, arrival: {mode: "
      "one_shot}}]\n");
  rein_sim_result *r = run_ok(s, 0, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  assert_true(fabs(S->completion_s - 0.015) < 1e-12);
  assert_true(fabs(S->latency_p50_ms - 13) < 13.0 / 64);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  /* above the threshold rate, latency is multiplied */
  s = load_ok(
      "duration: 1s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, concurrency: 10, service_time: 10ms, latency: "
      "{threshold_rate: 3, factor: 5}}]\n"
      "cohorts: [{name: c, count: 5, target: s, policy: p, arrival: {mode: "
      "one_shot}}]\n");
  r = run_ok(s, 0, 0);
  S = rein_sim_result_summary(r);
  /* the 4th and 5th arrivals see a rate above 3/s: 50 ms */
  assert_true(fabs(S->completion_s - 0.050) < 1e-12);
  assert_true(fabs(S->latency_p50_ms - 10) < 10.0 / 64);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

static const char *const SMALL =
    "seed: 9\nduration: 20s\ninterval: 500ms\n"
    "policies:\n"
    "  a: {max_attempts: 3, backoff: {jitter: full, base: 20ms}}\n"
    "  b: {max_attempts: 3, budget: {ratio: 0.1, scope: cohort},\n"
    "      breaker: {scope: client, min_calls: 5}, throttle: {scope: cohort}}\n"
    "servers: [{name: s, concurrency: 4, service_time: {dist: lognormal, "
    "median: 8ms, sigma: 0.5},\n"
    "           queue: {capacity: 50, discipline: lifo}, network: {dist: "
    "normal, mean: 1ms, stddev: 300us},\n"
    "           latency: {per_inflight: 100us, threshold_rate: 300, factor: 2}}]\n"
    "cohorts:\n"
    "  - {name: c, count: 20, target: s, policy: a, timeout: 200ms,\n"
    "     arrival: {mode: poisson, rate: 15}}\n"
    "  - {name: d, count: 10, target: s, policy: a, timeout: 200ms,\n"
    "     arrival: {mode: closed, think: {dist: bimodal, fast: 10ms, slow: "
    "300ms, p_slow: 0.3}}}\n"
    "incidents:\n"
    "  - {kind: outage, server: s, start: 5s, end: 7s, mode: slow, factor: 4}\n"
    "  - {kind: failure, server: s, start: 8s, end: 9s, probability: 0.5}\n"
    "variants:\n"
    "  - {name: a, use: {c: a, d: a}}\n"
    "  - {name: b, use: {c: b, d: b}}\n";

static void test_determinism(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(SMALL);
  for (size_t v = 0; v < 2; v++) {
    rein_sim_result *r1 = run_ok(s, v, 0), *r2 = run_ok(s, v, 0),
                    *r3 = run_ok(s, v, 10);
    const rein_sim_point *p1, *p2, *p3;
    size_t n1 = rein_sim_result_series(r1, &p1);
    size_t n2 = rein_sim_result_series(r2, &p2);
    rein_sim_result_series(r3, &p3);
    assert_int_equal(n1, 40);
    assert_int_equal(n1, n2);
    assert_memory_equal(p1, p2, n1 * sizeof *p1);
    assert_true(memcmp(p1, p3, n1 * sizeof *p1) != 0);
    rein_sim_field f1[64], f2[64];
    size_t nf = rein_sim_summary_fields(rein_sim_result_summary(r1), f1, 64);
    rein_sim_summary_fields(rein_sim_result_summary(r2), f2, 64);
    for (size_t i = 0; i < nf; i++) assert_true(f1[i].value == f2[i].value);
    /* and the writers agree byte for byte */
    char *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    FILE *m1 = open_memstream(&b1, &l1), *m2 = open_memstream(&b2, &l2);
    const rein_sim_result *a1[] = {r1}, *a2[] = {r2};
    rein_sim_write_series_csv(a1, 1, m1);
    rein_sim_write_summary_json(r1, m1);
    rein_sim_write_report_html(s, a1, 1, NULL, m1);
    rein_sim_write_series_csv(a2, 1, m2);
    rein_sim_write_summary_json(r2, m2);
    rein_sim_write_report_html(s, a2, 1, NULL, m2);
    fclose(m1);
    fclose(m2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    assert_non_null(strstr(b1, "<svg"));
    assert_non_null(strstr(b1, "\"amplification\":"));
    free(b1);
    free(b2);
    rein_sim_result_free(r1);
    rein_sim_result_free(r2);
    rein_sim_result_free(r3);
  }
  rein_sim_scenario_free(s);
}

static void test_series_sums(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(SMALL);
  rein_sim_result *r = run_ok(s, 1, 0);
  const rein_sim_summary *S = rein_sim_result_summary(r);
  const rein_sim_point *p;
  size_t n = rein_sim_result_series(r, &p);
  uint64_t off = 0, att = 0, ret = 0, suc = 0, fai = 0;
  for (size_t k = 0; k < n; k++)
    off += p[k].offered, att += p[k].attempts, ret += p[k].retries,
        suc += p[k].successes, fai += p[k].failures;
  assert_int_equal(off, S->logical);
  assert_int_equal(att, S->attempts);
  assert_int_equal(ret, S->retries);
  assert_int_equal(suc, S->successes);
  assert_int_equal(fai, S->giveups);
  uint64_t g = 0;
  for (int i = 0; i < REIN_GIVEUP_COUNT_; i++) g += S->giveups_by_reason[i];
  assert_int_equal(g, S->giveups);
  assert_true(S->logical >= S->successes + S->giveups);
  assert_true(fabs(S->amplification - (double)S->attempts / S->logical) <
              1e-12);
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
}

/* --------------------------------------------------------------------- */
/* Allocation failure                                                     */

static int body_load(void *ctx, const rein_allocator *a) {
  rein_sim_scenario *s = NULL;
  rein_status st = rein_sim_scenario_parse(SMALL, strlen(SMALL), "t.yaml", a,
                                           NULL, &s);
  (void)ctx;
  if (st != REIN_OK) return -1;
  rein_sim_scenario_free(s);
  return 0;
}

static void test_load_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(body_load, NULL);
}

static int body_run(void *ctx, const rein_allocator *a) {
  const rein_sim_scenario *s = ctx;
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  c.alloc = a;
  c.variant = 1;
  c.duration_ns = 3 * REIN_NS_PER_S;
  rein_sim_result *r = NULL;
  rein_status st = rein_sim_run(s, &c, &r);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    assert_null(r);
    return -1;
  }
  rein_sim_result_free(r);
  return 0;
}

static void test_run_fault_loop(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(SMALL);
  rein_test_fault_loop(body_run, s);
  rein_sim_scenario_free(s);
}

static void test_run_fault_loop_admission(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(
      "duration: 3s\n"
      "policies: {p: {max_attempts: 3}}\n"
      "servers: [{name: s, concurrency: 2, service_time: {dist: exponential, "
      "mean: 20ms},\n"
      "           admission: {limit: 2, queue: 10, retry_queue: 2}}]\n"
      "cohorts: [{name: c, count: 50, target: s, policy: p, timeout: 300ms, "
      "arrival: {mode: poisson, rate: 3}}]\n"
      "variants: [{name: x, admission: []}, {name: y, admission: [s]}]\n");
  rein_test_fault_loop(body_run, s); /* runs variant 1: with admission */
  rein_sim_scenario_free(s);
}

static void test_max_events(void **state) {
  (void)state;
  rein_sim_scenario *s = load_ok(SMALL);
  rein_sim_run_config c;
  rein_sim_run_config_default(&c);
  rein_errbuf eb = {{0}};
  c.err = &eb;
  c.max_events = 100;
  rein_sim_result *r = NULL;
  assert_int_equal(rein_sim_run(s, &c, &r), REIN_ETOOBIG);
  assert_null(r);
  assert_non_null(strstr(eb.msg, "max_events"));
  c.variant = 7;
  assert_int_equal(rein_sim_run(s, &c, &r), REIN_EINVAL);
  rein_sim_scenario_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loader_errors),
      cmocka_unit_test(test_loader_defaults),
      cmocka_unit_test(test_load_missing_file),
      cmocka_unit_test(test_exact_latency),
      cmocka_unit_test(test_timeouts_and_wasted_work),
      cmocka_unit_test(test_drop_does_not_blame_reused_request),
      cmocka_unit_test(test_duplicates_and_dedup),
      cmocka_unit_test(test_non_idempotent_without_key),
      cmocka_unit_test(test_shed_retry_after),
      cmocka_unit_test(test_shed_dont_retry),
      cmocka_unit_test(test_occ_contention),
      cmocka_unit_test(test_capacity_cut_and_outage_modes),
      cmocka_unit_test(test_tiers_propagation),
      cmocka_unit_test(test_admission_server),
      cmocka_unit_test(test_distributions),
      cmocka_unit_test(test_load_dependent_latency),
      cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_series_sums),
      cmocka_unit_test(test_load_fault_loop),
      cmocka_unit_test(test_run_fault_loop),
      cmocka_unit_test(test_run_fault_loop_admission),
      cmocka_unit_test(test_max_events),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
