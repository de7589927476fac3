/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl_concurrency.c: one rein_curl client shared by several threads
 * (the demo's setup): each thread runs its own easy handles, blocking and
 * through its own multi handle, against the scripted loopback server while
 * the others do the same. Checks that the client's counters add up
 * exactly, that every logical POST got its own key and kept it across its
 * retries, and (label concurrency) that ThreadSanitizer finds no race in
 * the client, the policy twin or the shared budget and breaker; and the
 * same with endpoints from a resolver, each with its breaker, whose slots
 * the threads bind and read concurrently.
 */
#include "rein_test.h"

#include <pthread.h>
#include <string.h>

#include "curl_test_server.h"
#include "rein.h"
#include "rein/curl.h"

enum { THREADS = 4, CALLS = 25 };

typedef struct shared {
  rein_curl *client;
  int port;
} shared;

typedef struct tres {
  int ok, failed;
  char keys[CALLS][64];
} tres;

typedef struct targ {
  shared *s;
  int index;
  tres r;
} targ;

static size_t discard(char *p, size_t s, size_t n, void *c) {
  (void)p, (void)c;
  return s * n;
}

static void *run(void *arg) {
  targ *t = arg;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/t%d", t->s->port, t->index);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, "x");
  rein_curl_opts o = {0};
  o.method = "POST";
  CURLM *m = curl_multi_init();
  for (int i = 0; i < CALLS; i++) {
    rein_curl_result res;
    if (i % 2 == 0) {
      if (rein_curl_perform_ex(t->s->client, e, &o, &res) == REIN_OK) t->r.ok++;
      else t->r.failed++;
    } else {
      rein_curl_call *call;
      rein_curl_step st;
      if (rein_curl_call_new(t->s->client, e, &o, &call) != REIN_OK ||
          rein_curl_multi_add(call, m, &st) != REIN_OK) {
        t->r.failed++;
        continue;
      }
      while (st.state != REIN_CURL_FINISHED) {
        if (st.state == REIN_CURL_WAITING) {
          /* Real time: the fleet's policy runs on the monotonic clock. */
          int64_t now = rein_policy_now(rein_curl_policy(t->s->client));
          if (now >= st.due_ns) rein_curl_multi_resume(call, m, &st);
          else curl_multi_poll(m, NULL, 0, rein_curl_poll_ms(&st, now, 50),
                               NULL);
          continue;
        }
        int running;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)))
          if (msg->msg == CURLMSG_DONE)
            rein_curl_multi_done(call, m, msg, &st);
        if (st.state == REIN_CURL_IN_FLIGHT)
          curl_multi_poll(m, NULL, 0, 50, NULL);
      }
      rein_curl_call_result(call, &res);
      if (res.action == REIN_DONE) t->r.ok++;
      else t->r.failed++;
      rein_curl_call_free(call);
    }
    snprintf(t->r.keys[i], sizeof t->r.keys[i], "%s", res.key);
  }
  curl_multi_cleanup(m);
  curl_easy_cleanup(e);
  return NULL;
}

static void test_shared_client(void **state) {
  (void)state;
  ts_server *srv = ts_start();
  assert_non_null(srv);
  /* Every path fails once in three with 503 (1 ms Retry-After floor is
   * below the backoff), so retries happen concurrently. */
  for (int t = 0; t < THREADS; t++) {
    char path[16];
    snprintf(path, sizeof path, "/t%d", t);
    for (int i = 0; i < CALLS; i++) {
      ts_response r[2] = {{503, NULL, 0}, {201, NULL, 0}};
      ts_script(srv, path, i % 3 == 0 ? r : r + 1, i % 3 == 0 ? 2 : 1);
    }
  }
  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 1.0;
  rein_budget *budget;
  assert_int_equal(rein_budget_new(&bc, &budget), REIN_OK);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  kc.min_calls = 1000; /* never opens here */
  rein_breaker *breaker;
  assert_int_equal(rein_breaker_new(&kc, &breaker), REIN_OK);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.backoff.base_ns = REIN_NS_PER_MS;
  pc.backoff.cap_ns = 5 * REIN_NS_PER_MS;
  pc.attempt_timeout_ns = 5 * REIN_NS_PER_S;
  pc.budget = budget;
  pc.breaker = breaker;
  rein_policy *policy;
  assert_int_equal(rein_policy_new(&pc, &policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = policy;
  shared s = {NULL, ts_port(srv)};
  assert_int_equal(rein_curl_new(&cc, &s.client), REIN_OK);
  targ args[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].s = &s;
    args[i].index = i;
    assert_int_equal(pthread_create(&th[i], NULL, run, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  int ok = 0;
  for (int i = 0; i < THREADS; i++) {
    ok += args[i].r.ok;
    assert_int_equal(args[i].r.failed, 0);
  }
  assert_int_equal(ok, THREADS * CALLS);
  rein_curl_stats st;
  rein_curl_get_stats(s.client, &st);
  int retried = THREADS * ((CALLS + 2) / 3);
  assert_int_equal(st.calls, THREADS * CALLS);
  assert_int_equal(st.keys_minted, THREADS * CALLS);
  assert_int_equal(st.successes, THREADS * CALLS);
  assert_int_equal(st.attempts, THREADS * CALLS + retried);
  assert_int_equal(st.outcomes[REIN_OUTCOME_OVERLOADED], retried);
  /* Every logical call its own key; the server saw each key on every
   * attempt of that call (two requests for the retried ones). */
  static ts_request q[THREADS * CALLS * 2];
  size_t nq = ts_requests(srv, q, sizeof q / sizeof q[0]);
  assert_int_equal(nq, THREADS * CALLS + retried);
  for (int i = 0; i < THREADS; i++)
    for (int k = 0; k < CALLS; k++) {
      char want[80];
      snprintf(want, sizeof want, "\"%s\"", args[i].r.keys[k]);
      int seen = 0;
      for (size_t j = 0; j < nq; j++)
        if (!strcmp(q[j].key, want)) seen++;
      assert_int_equal(seen, k % 3 == 0 ? 2 : 1);
    }
  rein_curl_free(s.client);
  rein_policy_free(policy);
  rein_breaker_free(breaker);
  rein_budget_free(budget);
  ts_stop(srv);
}

/* Endpoints from a resolver, with a breaker each, shared by the threads:
 * the first sight of each endpoint binds its slot (under the client's
 * mutex) while other threads read the slots; round robin across all the
 * threads' calls spreads the first attempts exactly. */
static const char *g_eps[3];

static int resolve3(void *ctx, const char **out, size_t cap) {
  (void)ctx;
  for (size_t i = 0; i < 3 && i < cap; i++) out[i] = g_eps[i];
  return 3;
}

static void test_shared_endpoints(void **state) {
  (void)state;
  ts_server *srv[3];
  char base[3][64];
  for (int i = 0; i < 3; i++) {
    srv[i] = ts_start();
    assert_non_null(srv[i]);
    snprintf(base[i], sizeof base[i], "http://127.0.0.1:%d", ts_port(srv[i]));
    g_eps[i] = base[i];
  }
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.attempt_timeout_ns = 5 * REIN_NS_PER_S;
  rein_policy *policy;
  assert_int_equal(rein_policy_new(&pc, &policy), REIN_OK);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  kc.min_calls = 1000; /* never opens here */
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = policy;
  cc.resolve = resolve3;
  cc.endpoint_breakers = true;
  cc.endpoint_breaker = &kc;
  shared s = {NULL, 1}; /* the handles' own port: replaced */
  assert_int_equal(rein_curl_new(&cc, &s.client), REIN_OK);
  targ args[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&args[i], 0, sizeof args[i]);
    args[i].s = &s;
    args[i].index = i;
    assert_int_equal(pthread_create(&th[i], NULL, run, &args[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(args[i].r.ok, CALLS);
    assert_int_equal(args[i].r.failed, 0);
  }
  rein_curl_stats st;
  rein_curl_get_stats(s.client, &st);
  assert_int_equal(st.attempts, THREADS * CALLS);
  assert_int_equal(st.endpoints_unslotted, 0);
  assert_int_equal(st.endpoint_skips, 0);
  static ts_request q[THREADS * CALLS];
  int total = THREADS * CALLS;
  for (int i = 0; i < 3; i++) {
    size_t n = ts_requests(srv[i], q, sizeof q / sizeof q[0]);
    int want = total / 3 + (i < total % 3 ? 1 : 0);
    if ((int)n != want)
      fail_msg("endpoint %d: %zu requests, want %d (round robin)", i, n, want);
  }
  rein_curl_free(s.client);
  rein_policy_free(policy);
  for (int i = 0; i < 3; i++) ts_stop(srv[i]);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_shared_client),
                                     cmocka_unit_test(test_shared_endpoints)};
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return r;
}
