/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_409.c: rein's own client against rein's own server when the
 * first attempt stalls. The ledger works 1.5 s on a charge (--work-ms); the
 * client's attempt times out after 400 ms and retries with the same
 * Idempotency-Key; the ledger answers 409 + Retry-After (the key is in
 * progress); the client waits at least that long and asks again until the
 * stored 201 is replayed (rein/retry.h decision step 0). Before, the 409
 * was FATAL and the call gave up with the charge made but never seen.
 *
 * The principal is sent in ONE place (auth_header) so it can follow the
 * ledger's authentication when that changes.
 */
#include "ledger_proc.h"
#include "rein_test.h"
#include "rein.h"
#include "rein/curl.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *LEDGER_BIN;
static ledger_proc g_live;

/* The only place the test says who it is: a token the ledger verifies
 * (ledger_proc mints it with the key it starts the ledger with). */
static const char *auth_header(void) {
  static char buf[200];
  return ledger_proc_auth_header("alice", buf, sizeof buf);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ctx) {
  int *replayed = ctx;
  size_t len = size * n;
  if (len >= 20 && strncasecmp(buf, "Idempotent-Replayed:", 20) == 0 &&
      strstr(buf, "true"))
    *replayed = 1;
  return len;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p, (void)ctx;
  return size * n;
}

static void test_in_progress_then_replay(void **state) {
  (void)state;
  const char *extra[] = {"--work-ms", "1500", "--lease-ms", "2000", NULL};
  ledger_proc_start(&g_live, LEDGER_BIN, "rein-ledger-409", extra);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 2; /* one retry after the timeout; the polls are free */
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 100 * REIN_NS_PER_MS;
  pc.attempt_timeout_ns = 400 * REIN_NS_PER_MS;
  pc.window_ns = 20 * REIN_NS_PER_S;
  pc.idempotent = false;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  rein_curl *client;
  assert_int_equal(rein_curl_new(&cc, &client), REIN_OK);

  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/charges", g_live.port);
  CURL *easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                   "{\"account\":\"acct_1\",\"amount_cents\":1250,"
                   "\"ref\":\"order-409\"}");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  struct curl_slist *h = curl_slist_append(NULL, auth_header());
  h = curl_slist_append(h, "Content-Type: application/json");
  int replayed = 0;
  rein_curl_opts o = {0};
  o.method = "POST";
  o.headers = h;
  o.header_fn = on_header;
  o.header_ctx = &replayed;
  rein_curl_result res;
  rein_status st = rein_curl_perform_ex(client, easy, &o, &res);
  fprintf(stderr,
          "409 e2e: %s, %u attempts, last status %ld, reason %s, %.2f s, "
          "replayed %d\n",
          rein_strerror(st), res.attempts, res.http_status,
          rein_giveup_name(res.reason), (double)res.elapsed_ns / 1e9, replayed);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(res.http_status, 201);
  assert_true(replayed);
  assert_true(res.attempts >= 3); /* timeout, 409 in progress, replay */
  /* waited at least the Retry-After (>= 1 s) after the 409 */
  assert_true(res.elapsed_ns >= 1400 * REIN_NS_PER_MS);
  curl_easy_cleanup(easy);
  curl_slist_free_all(h);
  rein_curl_free(client);
  rein_policy_free(p);
  int ws = ledger_proc_stop(&g_live);
  g_live.pid = 0;
  (void)ws;
}

static int teardown(void **state) {
  (void)state;
  ledger_proc_kill(&g_live);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s LEDGER_BIN\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_in_progress_then_replay, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
