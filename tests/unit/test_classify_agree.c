/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_classify_agree.c: for every HTTP status 100..599 and every gRPC
 * status, the contract, the curl client and the simulator agree on "retry"
 * or "don't retry", and all three agree with what the contract says in
 * words: a status it names (or whose class or kind it names) is retried,
 * one it does not name is not.
 *
 * Each case is a contract written as YAML text (the caller's retry.when,
 * or the callee's retryable list), loaded with rein_contract_add_buffer:
 *   contract  rein_policy_from_contract's policy decides the status
 *   curl      a client from rein_curl_new_from_contract: the outcome the
 *             client builds from a response (rein_curl_classify and
 *             rein_curl_condition, as finish_attempt does) goes through
 *             the client's own policy; plus live round trips against the
 *             scripted loopback server (tests/support-curl) for the
 *             statuses the issue named (408, 425, 429, 500..504)
 *   sim       a scenario whose policy retries the same list and whose
 *             server fails every request with that status, run through
 *             rein_sim_run: retried when it made a retry
 * The gRPC statuses go through the contract, the client's policy and the
 * simulator (libcurl carries no gRPC status).
 */
#include "curl_test_server.h"
#include "rein_test.h"
#include "rein.h"
#include "rein/contract.h"
#include "rein/curl.h"
#include "rein/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The lists under test: retry.when (caller) or, when `on_callee`, the
 * callee's retryable list with no retry.when. */
static const struct {
  const char *list;
  int on_callee;
} cases[] = {
    {"504", 0}, /* the case: passed rein check, not retried */
    {"408, 501", 0},
    {"503", 0}, /* did retry 429 too */
    {"500", 0}, /* did retry 502 too */
    {"5xx, overloaded", 0},
    {"429, 503, timeout, connect-refused", 1},
    {"UNAVAILABLE, RESOURCE_EXHAUSTED, 4, 425", 0},
    {"14, failure", 0},
};

/* ---- what the contract says, in words (the documented semantics) ----- */

static int kind_named(const char *list, rein_outcome_kind k) {
  static const char *const names[] = {NULL,       "failure",    "timeout",
                                      "not-sent", "overloaded", "fatal"};
  return k != REIN_OUTCOME_SUCCESS && strstr(list, names[k]) != NULL;
}

/* Does `list` contain the item `item` (comma-separated)? */
static int item_in(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; *p;) {
    while (*p == ',' || *p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    if ((size_t)(e - p) == n && strncmp(p, item, n) == 0) return 1;
    p = e;
  }
  return 0;
}

static int says_retry(const char *list, rein_condition c) {
  rein_outcome_kind k = rein_condition_kind(c);
  if (k == REIN_OUTCOME_SUCCESS) return 0;
  if (kind_named(list, k)) return 1;
  char b[32];
  uint32_t v = REIN_COND_VALUE(c);
  if (REIN_COND_CLASS(c) == 1) {
    snprintf(b, sizeof b, "%u", (unsigned)v);
    if (item_in(list, b)) return 1;
    snprintf(b, sizeof b, "%uxx", (unsigned)(v / 100));
    return item_in(list, b);
  }
  snprintf(b, sizeof b, "%u", (unsigned)v);
  return item_in(list, b) || item_in(list, rein_grpc_code_name(v));
}

/* ---- contract ------------------------------------------------------- */

static rein_contract_set *load(const char *list, int on_callee) {
  char callee[512], caller[512];
  snprintf(callee, sizeof callee,
           "service: svc\nversion: 2024-06-01\noperations:\n"
           "  op:\n    idempotency: natural\n    timeout: 5s\n"
           "%s%s%s",
           on_callee ? "    retryable: [" : "", on_callee ? list : "",
           on_callee ? "]\n" : "");
  snprintf(caller, sizeof caller,
           "service: client\nversion: 2024-06-01\ncalls:\n"
           "  - to: svc.op\n    timeout: 2s\n    retry:\n"
           "      attempts: 2\n"
           "      backoff: {kind: constant, base: 1ms, cap: 1ms, "
           "jitter: none}\n%s%s%s",
           on_callee ? "" : "      when: [", on_callee ? "" : list,
           on_callee ? "" : "]\n");
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(
      rein_contract_add_buffer(s, "svc.yaml", callee, strlen(callee)), REIN_OK);
  assert_int_equal(
      rein_contract_add_buffer(s, "client.yaml", caller, strlen(caller)),
      REIN_OK);
  return s;
}

/* Feed one outcome to a fresh call of `p`: retried when it says WAIT. */
static int engine_retries(const rein_policy *p, rein_outcome_kind kind,
                          rein_condition c) {
  rein_retry r;
  rein_retry_init(&r, p, NULL);
  rein_decision d = rein_retry_begin(&r, 0);
  assert_int_equal(d.action, REIN_ATTEMPT);
  rein_outcome o = {0};
  o.kind = kind;
  o.condition = c;
  d = rein_retry_next(&r, &o, 1000);
  if (d.action == REIN_GIVE_UP && kind != REIN_OUTCOME_SUCCESS)
    assert_int_equal(d.reason, REIN_GIVEUP_NOT_RETRYABLE);
  return d.action == REIN_WAIT;
}

/* ---- simulator ------------------------------------------------------ */

static int sim_retries(const char *list, const char *status) {
  char y[1024];
  snprintf(y, sizeof y,
           "seed: 1\nduration: 1s\ninterval: 1s\n"
           "policies:\n"
           "  p: {max_attempts: 2, backoff: {kind: constant, base: 1ms, "
           "cap: 1ms, jitter: none}, retry_on: [%s]}\n"
           "servers: [{name: s, concurrency: 4, service_time: {dist: "
           "constant, value: 1ms}}]\n"
           "cohorts:\n"
           "  - {name: c, count: 1, target: s, policy: p, timeout: 500ms,\n"
           "     arrival: {mode: closed, think: {dist: constant, value: "
           "10s}}}\n"
           "incidents:\n"
           "  - {kind: failure, server: s, start: 0s, end: 1s, "
           "probability: 1, status: %s}\n",
           list, status);
  rein_errbuf e = {{0}};
  rein_sim_scenario *s;
  if (rein_sim_scenario_parse(y, strlen(y), "agree.yaml", NULL, &e, &s) !=
      REIN_OK)
    fail_msg("scenario: %s\n%s", e.msg, y);
  rein_sim_run_config rc;
  rein_sim_run_config_default(&rc);
  rc.err = &e;
  rein_sim_result *r;
  if (rein_sim_run(s, &rc, &r) != REIN_OK) fail_msg("run: %s", e.msg);
  const rein_sim_summary *sum = rein_sim_result_summary(r);
  assert_true(sum->logical >= 1);
  int retried = sum->retries > 0;
  rein_sim_result_free(r);
  rein_sim_scenario_free(s);
  return retried;
}

/* ---- the table ------------------------------------------------------ */

static void check(const char *list, const char *what, int want, int contract,
                  int curl, int sim, int *bad) {
  if (want == contract && want == curl && want == sim) return;
  (*bad)++;
  fprintf(stderr,
          "disagree: list [%s] status %s: says %s, contract %s, curl %s, "
          "sim %s\n",
          list, what, want ? "retry" : "no", contract ? "retry" : "no",
          curl ? "retry" : "no", sim ? "retry" : "no");
}

static void test_every_status_agrees(void **state) {
  (void)state;
  int bad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *list = cases[i].list;
    rein_contract_set *s = load(list, cases[i].on_callee);
    rein_contract_policy cp;
    rein_errbuf e = {{0}};
    assert_int_equal(rein_policy_from_contract(s, "client", "svc.op", &cp, &e),
                     REIN_OK);
    cp.policy.err = &e;
    rein_policy *cpol;
    if (rein_policy_new(&cp.policy, &cpol) != REIN_OK)
      fail_msg("policy: %s", e.msg);
    rein_curl *client;
    rein_curl_config base;
    rein_curl_config_default(&base);
    base.err = &e;
    if (rein_curl_new_from_contract(&base, s, "client", "svc.op", NULL, NULL,
                                    &client) != REIN_OK)
      fail_msg("client: %s", e.msg);
    const rein_policy *kp = rein_curl_policy(client);
    for (int st = 100; st <= 599; st++) {
      rein_condition c = REIN_COND_HTTP(st);
      char name[8];
      snprintf(name, sizeof name, "%d", st);
      int want = says_retry(list, c);
      int contract = engine_retries(cpol, rein_condition_kind(c), c);
      int curl = engine_retries(kp, rein_curl_classify(CURLE_OK, st),
                                rein_curl_condition(CURLE_OK, st));
      int sim = sim_retries(list, name);
      check(list, name, want, contract, curl, sim, &bad);
    }
    for (uint32_t g = 0; g < REIN_GRPC_CODE_COUNT_; g++) {
      rein_condition c = REIN_COND_GRPC(g);
      rein_outcome_kind k = rein_condition_kind(c);
      int want = says_retry(list, c);
      int contract = engine_retries(cpol, k, c);
      int curl = engine_retries(kp, k, c);
      int sim = sim_retries(list, rein_grpc_code_name(g));
      check(list, rein_grpc_code_name(g), want, contract, curl, sim, &bad);
    }
    rein_curl_free(client);
    rein_policy_free(cpol);
    rein_contract_set_free(s);
  }
  assert_int_equal(bad, 0);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p, (void)ctx;
  return size * n;
}

/* The same over the wire, for the statuses the issue named. */
static void test_live_round_trips(void **state) {
  (void)state;
  static const int statuses[] = {408, 425, 429, 500, 501, 502, 503, 504};
  int bad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ts_server *srv = ts_start(); /* one per case: it scripts 16 paths */
    assert_non_null(srv);
    rein_contract_set *s = load(cases[i].list, cases[i].on_callee);
    rein_curl *client;
    rein_errbuf e = {{0}};
    rein_curl_config base;
    rein_curl_config_default(&base);
    base.err = &e;
    if (rein_curl_new_from_contract(&base, s, "client", "svc.op", NULL, NULL,
                                    &client) != REIN_OK)
      fail_msg("client: %s", e.msg);
    for (size_t k = 0; k < sizeof statuses / sizeof *statuses; k++) {
      char path[64], url[128];
      snprintf(path, sizeof path, "/c%zu/s%d", i, statuses[k]);
      ts_response r[] = {{statuses[k], NULL, 0}, {200, NULL, 0}};
      ts_script(srv, path, r, 2);
      snprintf(url, sizeof url, "http://127.0.0.1:%d%s", ts_port(srv), path);
      CURL *easy = curl_easy_init();
      curl_easy_setopt(easy, CURLOPT_URL, url);
      curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
      rein_curl_result res;
      rein_curl_perform_ex(client, easy, NULL, &res);
      curl_easy_cleanup(easy);
      int want = says_retry(cases[i].list, REIN_COND_HTTP(statuses[k]));
      int got = res.attempts == 2;
      if (want != got) {
        bad++;
        fprintf(stderr,
                "live: list [%s] status %d: says %s, client %s (%s, %u "
                "attempts, last %ld)\n",
                cases[i].list, statuses[k], want ? "retry" : "no",
                got ? "retried" : "gave up", rein_giveup_name(res.reason),
                res.attempts, res.http_status);
      }
    }
    rein_curl_free(client);
    rein_contract_set_free(s);
    ts_stop(srv);
  }
  assert_int_equal(bad, 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_status_agrees),
      cmocka_unit_test(test_live_round_trips),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
