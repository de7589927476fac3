/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl_replicas.c: endpoints per call (rein/curl.h config.endpoints)
 * against two real examples/ledger processes on loopback, each with its own
 * temp SQLite database. Replica A is in an injected outage for the whole
 * test (--fail-window 0:600: every POST /charges is a 503); replica B is
 * healthy. N keyed POST /charges calls (default 100) under one policy of 3
 * attempts:
 *
 *   endpoints  one client with both replicas: first attempts alternate
 *              (round robin), every retry goes to the replica the call has
 *              not tried: all N succeed, no attempt after a failure goes
 *              back to A while B is untried, A sees one attempt per call
 *              that started there, B charges N times.
 *   single     the same policy without endpoints, each call's URL one
 *              replica, alternating: the calls that start on A spend their
 *              3 attempts there and fail, about half (the fraction is
 *              printed and must be within [0.3, 0.7]).
 *
 * argv: the ledger binary [N]. Prints one line per round with the figures
 * docs/http.md "Endpoints" quotes.
 */
#include "checkout_proc.h"
#include "ledger_proc.h"
#include "rein_test.h"
#include "rein.h"
#include "rein/curl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *LEDGER_BIN;
static int N = 100;
static ledger_proc g_a, g_b;

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p, (void)ctx;
  return size * n;
}

static rein_policy *policy_3(void) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.name = "replicas";
  pc.max_attempts = 3;
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 5 * REIN_NS_PER_MS;
  pc.attempt_timeout_ns = 2 * REIN_NS_PER_S;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  return p;
}

typedef struct round_stats {
  int ok, failed, attempts, back_to_failed;
  int first_on[2];
} round_stats;

/* One keyed charge through `c`; the handle's URL is replica `url_port`'s
 * (with endpoints, only its path counts). */
static void charge(rein_curl *c, CURL *easy, unsigned url_port, int i,
                   const char *tag, struct curl_slist *hdrs, round_stats *rs,
                   bool check_trail) {
  char url[96], body[160];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/charges", url_port);
  snprintf(body, sizeof body,
           "{\"account\":\"acct_%d\",\"amount_cents\":100,\"ref\":\"%s-%d\"}",
           i % 7, tag, i);
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
  rein_curl_opts o = {0};
  o.method = "POST"; /* a minted Idempotency-Key, the same on every attempt */
  o.headers = hdrs;
  rein_curl_result res;
  rein_status st = rein_curl_perform_ex(c, easy, &o, &res);
  if (st == REIN_OK && res.http_status == 201)
    rs->ok++;
  else
    rs->failed++;
  rs->attempts += (int)res.attempts;
  if (!check_trail) return;
  assert_int_equal(res.endpoint_count, 2);
  assert_true(res.attempts >= 1 && res.attempts <= 3);
  rs->first_on[res.trail[0] & 1]++;
  /* previous_hosts: after a failure, never the failed replica again while
   * the other is untried */
  uint32_t tried = 0, failed = 0;
  for (uint32_t k = 0; k < res.attempts; k++) {
    uint32_t ep = res.trail[k];
    assert_true(ep < 2);
    if (k > 0 && (failed & (1u << ep)) && tried != 3) rs->back_to_failed++;
    tried |= 1u << ep;
    if (k + 1 < res.attempts) failed |= 1u << ep; /* it was retried */
  }
}

static void test_two_replicas(void **state) {
  (void)state;
  const char *outage[] = {"--fail-window", "0:600", "--quiet", NULL};
  const char *healthy[] = {"--quiet", NULL};
  ledger_proc_start(&g_a, LEDGER_BIN, "rein-replica-a", outage);
  ledger_proc_start(&g_b, LEDGER_BIN, "rein-replica-b", healthy);
  char auth[200];
  ledger_proc_auth_header("alice", auth, sizeof auth);
  struct curl_slist *hdrs = curl_slist_append(NULL, auth);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  char ea[64], eb[64];
  snprintf(ea, sizeof ea, "http://127.0.0.1:%u", g_a.port);
  snprintf(eb, sizeof eb, "http://127.0.0.1:%u", g_b.port);
  const char *eps[] = {ea, eb};
  rein_policy *p = policy_3();
  CURL *easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);

  /* ---- round 1: both replicas as endpoints */
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  cc.endpoints = eps;
  cc.endpoint_count = 2;
  rein_curl *c;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  round_stats r1 = {0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < N; i++)
    charge(c, easy, g_a.port, i, "ep", hdrs, &r1, true);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s1 =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  uint64_t a_fail = test_metric(g_a.port, "rein_ledger_outage_failures_total");
  uint64_t b_charges = test_metric(g_b.port, "rein_ledger_charges_total");
  printf("replicas: endpoints: %d/%d succeeded, %d attempts (%d first on "
         "A, %d on B), %d retries back to the failed replica; A answered "
         "%llu 503s, B charged %llu; %.2f s\n",
         r1.ok, N, r1.attempts, r1.first_on[0], r1.first_on[1],
         r1.back_to_failed, (unsigned long long)a_fail,
         (unsigned long long)b_charges, s1);
  assert_int_equal(r1.ok, N);
  assert_int_equal(r1.back_to_failed, 0);
  assert_int_equal(r1.first_on[0], N / 2 + N % 2); /* round robin */
  assert_int_equal(r1.attempts, N + r1.first_on[0]);
  assert_int_equal(a_fail, (uint64_t)r1.first_on[0]);
  assert_int_equal(b_charges, (uint64_t)N);
  rein_curl_free(c);

  /* ---- round 2: one URL per call, alternating, same policy */
  rein_curl_config_default(&cc);
  cc.policy = p;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  round_stats r2 = {0};
  for (int i = 0; i < N; i++)
    charge(c, easy, i % 2 ? g_b.port : g_a.port, i, "single", hdrs, &r2, false);
  double frac = (double)r2.failed / N;
  uint64_t a_fail2 =
      test_metric(g_a.port, "rein_ledger_outage_failures_total") - a_fail;
  printf("replicas: single URL: %d/%d succeeded, %d failed (%.2f), %d "
         "attempts; A answered %llu 503s\n",
         r2.ok, N, r2.failed, frac, r2.attempts, (unsigned long long)a_fail2);
  if (frac < 0.3 || frac > 0.7)
    fail_msg("without endpoints %.2f of the calls failed; expected about "
             "half (calls starting on the failing replica)",
             frac);
  assert_int_equal(a_fail2, (uint64_t)(3 * r2.failed)); /* 3 attempts each */
  rein_curl_free(c);
  curl_easy_cleanup(easy);
  curl_slist_free_all(hdrs);
  rein_policy_free(p);
  ledger_proc_stop(&g_a);
  g_a.pid = 0;
  ledger_proc_stop(&g_b);
  g_b.pid = 0;
}

static int teardown(void **state) {
  (void)state;
  ledger_proc_kill(&g_a);
  ledger_proc_kill(&g_b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s LEDGER_BIN [N]\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  if (argc > 2) N = atoi(argv[2]);
  if (N < 2 || N > 10000) {
    fprintf(stderr, "test_curl_replicas: N must be in [2, 10000]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_two_replicas, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
