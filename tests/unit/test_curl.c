/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl.c: the libcurl integration against a scripted server on
 * 127.0.0.1 (tests/support-curl).
 *
 * The policy runs on a manual clock and the client sleeps through a fake
 * sleeper that records each wait and advances that clock, so delays are
 * checked exactly (Retry-After 2 s -> a wait of exactly 2 s) and the tests
 * take milliseconds. Covered: the classification table, header handling
 * (Retry-After, RateLimit, don't-retry, signal mask, chained callback),
 * Rein-Attempt numbering, key minting and reuse across retries, the
 * idempotency gate (POST without key, connection refused), deadline refusal
 * and attempt timeouts, dropped connections, the retention warning, the
 * multi-interface driver with several handles, the contract bridge, and
 * allocation failures.
 */
#include "rein_test.h"

#include <ctype.h>
#include <string.h>

#include "curl_test_server.h"
#include "rein.h"
#include "rein/contract.h"
#include "rein/curl.h"

/* ------------------------------------------------------------ fixture */

typedef struct fake_sleeper {
  rein_manual_clock *clock;
  int64_t sleeps[32];
  int n;
} fake_sleeper;

static void fake_sleep(void *ctx, int64_t ns) {
  fake_sleeper *f = ctx;
  if (f->n < 32) f->sleeps[f->n] = ns;
  f->n++;
  rein_manual_clock_advance(f->clock, ns);
}

typedef struct logcap {
  int n;
  char last[512];
} logcap;

static void cap_log(void *ctx, const char *line) {
  logcap *l = ctx;
  l->n++;
  snprintf(l->last, sizeof l->last, "%s", line);
}

/* test_hedged_dup_and_in_progress makes libcurl < 8.5.0 meet its own
 * bug: curl_easy_duphandle of a handle with CURLOPT_COPYPOSTFIELDS and no
 * CURLOPT_POSTFIELDSIZE asks malloc for SIZE_MAX bytes. glibc's malloc
 * answers NULL (duphandle then returns NULL, the case rein handles);
 * AddressSanitizer aborts the process instead unless it may return NULL
 * too. ASAN_OPTIONS from the environment still override the rest. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REIN_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(REIN_TEST_ASAN)
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1";
}
#endif

typedef struct fx {
  ts_server *srv;
  rein_manual_clock clock;
  fake_sleeper sleeper;
  rein_policy *policy;
  rein_curl *client;
  logcap log;
  CURL *easy;
  char url[128];
} fx;

static size_t discard(char *p, size_t s, size_t n, void *c) {
  (void)p;
  (void)c;
  return s * n;
}

/* Policy: `attempts`, exponential 100 ms .. 1 s full jitter, a manual clock,
 * window `window_ns`; the client with `keys`. */
static void fx_setup(fx *f, uint32_t attempts, int64_t window_ns,
                     rein_curl_keys keys) {
  memset(f, 0, sizeof *f);
  f->srv = ts_start();
  assert_non_null(f->srv);
  rein_manual_clock_init(&f->clock, 1000 * REIN_NS_PER_S);
  f->sleeper.clock = &f->clock;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.name = "test";
  pc.max_attempts = attempts;
  pc.backoff.base_ns = 100 * REIN_NS_PER_MS;
  pc.backoff.cap_ns = 1 * REIN_NS_PER_S;
  pc.window_ns = window_ns;
  pc.clock = rein_manual_clock_as_clock(&f->clock);
  pc.seed = 42;
  assert_int_equal(rein_policy_new(&pc, &f->policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f->policy;
  cc.keys = keys;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f->sleeper;
  cc.log = cap_log;
  cc.log_ctx = &f->log;
  assert_int_equal(rein_curl_new(&cc, &f->client), REIN_OK);
  f->easy = curl_easy_init();
  assert_non_null(f->easy);
  curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, discard);
}

static void fx_url(fx *f, const char *path) {
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d%s", ts_port(f->srv),
           path);
  curl_easy_setopt(f->easy, CURLOPT_URL, f->url);
}

static void fx_teardown(fx *f) {
  curl_easy_cleanup(f->easy);
  rein_curl_free(f->client);
  rein_policy_free(f->policy);
  ts_stop(f->srv);
}

/* ------------------------------------------------------------ classify */

static void test_classify_table(void **state) {
  (void)state;
  static const struct {
    CURLcode code;
    long status;
    rein_outcome_kind want;
  } t[] = {
      {CURLE_OK, 200, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 201, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 204, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 301, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 304, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 0, REIN_OUTCOME_SUCCESS},
      {CURLE_OK, 408, REIN_OUTCOME_TIMEOUT}, /* rein/classify.h */
      {CURLE_OK, 425, REIN_OUTCOME_OVERLOADED},
      {CURLE_OK, 429, REIN_OUTCOME_OVERLOADED},
      {CURLE_OK, 500, REIN_OUTCOME_FAILURE},
      {CURLE_OK, 502, REIN_OUTCOME_FAILURE},
      {CURLE_OK, 503, REIN_OUTCOME_OVERLOADED},
      {CURLE_OK, 504, REIN_OUTCOME_TIMEOUT},
      {CURLE_OK, 400, REIN_OUTCOME_FATAL},
      {CURLE_OK, 401, REIN_OUTCOME_FATAL},
      {CURLE_OK, 404, REIN_OUTCOME_FATAL},
      {CURLE_OK, 409, REIN_OUTCOME_FATAL},
      {CURLE_OK, 422, REIN_OUTCOME_FATAL},
      {CURLE_OK, 501, REIN_OUTCOME_FATAL},
      {CURLE_OK, 505, REIN_OUTCOME_FATAL},
      {CURLE_HTTP_RETURNED_ERROR, 503, REIN_OUTCOME_OVERLOADED},
      {CURLE_HTTP_RETURNED_ERROR, 404, REIN_OUTCOME_FATAL},
      {CURLE_COULDNT_CONNECT, 0, REIN_OUTCOME_NOT_SENT},
      {CURLE_COULDNT_RESOLVE_HOST, 0, REIN_OUTCOME_NOT_SENT},
      {CURLE_COULDNT_RESOLVE_PROXY, 0, REIN_OUTCOME_NOT_SENT},
      {CURLE_SSL_CONNECT_ERROR, 0, REIN_OUTCOME_NOT_SENT},
      {CURLE_OPERATION_TIMEDOUT, 0, REIN_OUTCOME_TIMEOUT},
      {CURLE_OPERATION_TIMEDOUT, 200, REIN_OUTCOME_TIMEOUT},
      {CURLE_GOT_NOTHING, 0, REIN_OUTCOME_FAILURE},
      {CURLE_SEND_ERROR, 0, REIN_OUTCOME_FAILURE},
      {CURLE_RECV_ERROR, 0, REIN_OUTCOME_FAILURE},
      {CURLE_PARTIAL_FILE, 200, REIN_OUTCOME_FAILURE},
      {CURLE_URL_MALFORMAT, 0, REIN_OUTCOME_FATAL},
      {CURLE_UNSUPPORTED_PROTOCOL, 0, REIN_OUTCOME_FATAL},
      {CURLE_OUT_OF_MEMORY, 0, REIN_OUTCOME_FATAL},
      {CURLE_ABORTED_BY_CALLBACK, 0, REIN_OUTCOME_FATAL},
      {CURLE_WRITE_ERROR, 0, REIN_OUTCOME_FATAL},
      {CURLE_TOO_MANY_REDIRECTS, 0, REIN_OUTCOME_FATAL},
      {CURLE_PEER_FAILED_VERIFICATION, 0, REIN_OUTCOME_FATAL},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    rein_outcome_kind got = rein_curl_classify(t[i].code, t[i].status);
    if (got != t[i].want)
      fail_msg("code %d status %ld: got %s, want %s", (int)t[i].code,
               t[i].status, rein_outcome_kind_name(got),
               rein_outcome_kind_name(t[i].want));
  }
}

/* Every status the server sends ends in the outcome the table says. */
static void test_classify_live(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, 0, REIN_CURL_KEYS_NONE);
  static const long codes[] = {200, 204, 302, 400, 404, 408, 409,
                               425, 429, 500, 501, 502, 503, 504};
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    char path[32];
    snprintf(path, sizeof path, "/c%ld", codes[i]);
    ts_response r = {(int)codes[i], NULL, 0};
    ts_script(f.srv, path, &r, 1);
    fx_url(&f, path);
    rein_curl_result res;
    rein_curl_perform_ex(f.client, f.easy, NULL, &res);
    assert_int_equal(res.http_status, codes[i]);
    assert_int_equal(res.last, rein_curl_classify(CURLE_OK, codes[i]));
    assert_int_equal(res.attempts, 1);
  }
  fx_teardown(&f);
}

/* ------------------------------------------------------------ keys */

static bool is_uuid_v4(const char *s) {
  if (strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
      return false;
    }
  }
  return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static int zero_random(void *ctx, void *buf, size_t n) {
  (void)ctx;
  memset(buf, 0, n);
  return 0;
}
static int failing_random(void *ctx, void *buf, size_t n) {
  (void)ctx;
  (void)buf;
  (void)n;
  return -1;
}

static void test_uuid(void **state) {
  (void)state;
  char a[37], b[37];
  assert_int_equal(rein_curl_uuid_v4(a, NULL, NULL), REIN_OK);
  assert_int_equal(rein_curl_uuid_v4(b, NULL, NULL), REIN_OK);
  assert_true(is_uuid_v4(a));
  assert_true(is_uuid_v4(b));
  assert_string_not_equal(a, b);
  assert_int_equal(rein_curl_uuid_v4(a, zero_random, NULL), REIN_OK);
  assert_string_equal(a, "00000000-0000-4000-8000-000000000000");
  assert_int_equal(rein_curl_uuid_v4(a, failing_random, NULL), REIN_EIO);
  assert_int_equal(rein_curl_uuid_v4(NULL, NULL, NULL), REIN_EINVAL);
}

/* POST: one key minted, sent as an sf-string on every attempt. */
static void test_key_reuse_across_retries(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 4, 0, REIN_CURL_KEYS_NON_IDEMPOTENT);
  ts_response r[] = {
      {503, NULL, 0}, {500, NULL, 0}, {0, NULL, 0}, {201, NULL, 0}};
  ts_script(f.srv, "/charges", r, 4);
  fx_url(&f, "/charges");
  /* libcurl itself resends a request once when a reused connection dies
   * before any answer (docs/http.md); without reuse every drop surfaces. */
  curl_easy_setopt(f.easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "{\"amount\":1}");
  rein_curl_opts o = {0};
  o.method = "POST";
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_int_equal(res.attempts, 4);
  assert_int_equal(res.http_status, 201);
  assert_true(is_uuid_v4(res.key));
  ts_request q[8];
  assert_int_equal(ts_requests(f.srv, q, 8), 4);
  char want[80];
  snprintf(want, sizeof want, "\"%s\"", res.key);
  for (int i = 0; i < 4; i++) {
    assert_string_equal(q[i].method, "POST");
    assert_string_equal(q[i].key, want);
    char n[8];
    snprintf(n, sizeof n, "%d", i + 1);
    assert_string_equal(q[i].attempt, n);
  }
  /* A second logical request gets a new key. */
  ts_response ok = {201, NULL, 0};
  ts_script(f.srv, "/charges", &ok, 1);
  rein_curl_result res2;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res2), REIN_OK);
  assert_string_not_equal(res.key, res2.key);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.keys_minted, 2);
  assert_int_equal(st.calls, 2);
  assert_int_equal(st.attempts, 5);
  assert_int_equal(st.successes, 2);
  assert_int_equal(st.outcomes[REIN_OUTCOME_OVERLOADED], 1);
  assert_int_equal(st.outcomes[REIN_OUTCOME_FAILURE], 2);
  assert_int_equal(st.outcomes[REIN_OUTCOME_SUCCESS], 2);
  fx_teardown(&f);
}

/* GET gets no key; a caller's own key is sent as given; KEYS_ALWAYS keys
 * GET too. */
static void test_key_modes(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 0, REIN_CURL_KEYS_NON_IDEMPOTENT);
  fx_url(&f, "/x");
  rein_curl_opts o = {0};
  o.method = "GET";
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_string_equal(res.key, "");
  o.method = "patch"; /* case-insensitive */
  o.idempotency_key = "order-17 \"x\"";
  curl_easy_setopt(f.easy, CURLOPT_CUSTOMREQUEST, "PATCH");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_string_equal(res.key, "order-17 \"x\"");
  ts_request q[4];
  assert_int_equal(ts_requests(f.srv, q, 4), 2);
  assert_string_equal(q[0].key, "");
  assert_string_equal(q[1].key, "\"order-17 \\\"x\\\"\"");
  assert_string_equal(q[1].method, "PATCH");
  /* A key with a control character is refused. */
  o.idempotency_key = "bad\nkey";
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EINVAL);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ gate */

/* POST, no key, 500: it may have been processed, so no retry. */
static void test_post_without_key_not_retried(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  ts_response r = {500, NULL, 0};
  ts_script(f.srv, "/p", &r, 1);
  fx_url(&f, "/p");
  curl_easy_setopt(f.easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "x");
  rein_curl_opts o = {0};
  o.method = "POST";
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(f.sleeper.n, 0);
  /* The same POST through a dropped connection: also not retried. */
  ts_response drop = {0, NULL, 0};
  ts_script(f.srv, "/p", &drop, 1);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.last, REIN_OUTCOME_FAILURE);
  assert_int_equal(res.last_code, CURLE_GOT_NOTHING);
  assert_int_equal(res.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  fx_teardown(&f);
}

/* Connection refused: provably not sent, so even a POST without a key is
 * retried, up to max_attempts. */
static void test_refused_post_retried(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  int port = ts_closed_port();
  assert_true(port > 0);
  snprintf(f.url, sizeof f.url, "http://127.0.0.1:%d/charges", port);
  curl_easy_setopt(f.easy, CURLOPT_URL, f.url);
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "x");
  rein_curl_opts o = {0};
  o.method = "POST";
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(res.attempts, 3);
  assert_int_equal(res.last, REIN_OUTCOME_NOT_SENT);
  assert_int_equal(res.last_code, CURLE_COULDNT_CONNECT);
  assert_int_equal(res.http_status, 0);
  assert_int_equal(f.sleeper.n, 2);
  assert_true(res.dont_retry); /* it retried, so the layer above must not */
  fx_teardown(&f);
}

/* ------------------------------------------------------------ headers */

static void test_retry_after_floors_delay(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  ts_response r[] = {{503, "Retry-After: 2\n", 0}, {200, NULL, 0}};
  ts_script(f.srv, "/ra", r, 2);
  fx_url(&f, "/ra");
  rein_curl_result res;
  int64_t t0 = rein_manual_clock_get(&f.clock);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(f.sleeper.n, 1);
  assert_int_equal(f.sleeper.sleeps[0], 2 * REIN_NS_PER_S); /* exactly */
  assert_int_equal(res.elapsed_ns, 2 * REIN_NS_PER_S);
  assert_int_equal(rein_manual_clock_get(&f.clock) - t0, 2 * REIN_NS_PER_S);
  /* RateLimit with nothing remaining: wait for the reset (3 s). */
  ts_response r2[] = {{429, "RateLimit: \"default\";r=0;t=3\n", 0},
                      {200, NULL, 0}};
  ts_script(f.srv, "/rl", r2, 2);
  fx_url(&f, "/rl");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.sleeper.n, 2);
  assert_int_equal(f.sleeper.sleeps[1], 3 * REIN_NS_PER_S);
  /* grpc pushback in ms. */
  ts_response r3[] = {{503, "grpc-retry-pushback-ms: 1500\n", 0},
                      {200, NULL, 0}};
  ts_script(f.srv, "/pb", r3, 2);
  fx_url(&f, "/pb");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.sleeper.sleeps[2], 1500 * REIN_NS_PER_MS);
  /* A malformed Retry-After is counted and ignored: backoff <= 1 s. */
  ts_response r4[] = {{503, "Retry-After: soon\n", 0}, {200, NULL, 0}};
  ts_script(f.srv, "/bad", r4, 2);
  fx_url(&f, "/bad");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_true(f.sleeper.sleeps[3] <= 100 * REIN_NS_PER_MS);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.malformed_headers, 1);
  fx_teardown(&f);
}

static int64_t fixed_wall(void *ctx) {
  return *(int64_t *)ctx;
}

/* Retry-After as an HTTP-date is read against the injected wall clock; a
 * redirect's headers are forgotten when the next response starts. */
static void test_retry_after_date_and_redirect(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  rein_curl_free(f.client);
  /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s since the epoch. */
  int64_t wall = (784111777 - 3) * REIN_NS_PER_S;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f.policy;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f.sleeper;
  cc.wall.now_ns = fixed_wall;
  cc.wall.ctx = &wall;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response r[] = {{503, "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\n", 0},
                     {200, NULL, 0}};
  ts_script(f.srv, "/date", r, 2);
  fx_url(&f, "/date");
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.sleeper.n, 1);
  assert_int_equal(f.sleeper.sleeps[0], 3 * REIN_NS_PER_S);
  /* 302 with Retry-After: 9, then a 503 without: the 9 s is not used. */
  ts_response r1 = {302, "Location: /to\nRetry-After: 9\n", 0};
  ts_response r2[] = {{503, NULL, 0}, {200, NULL, 0}};
  ts_script(f.srv, "/from", &r1, 1);
  ts_script(f.srv, "/to", r2, 2);
  fx_url(&f, "/from");
  curl_easy_setopt(f.easy, CURLOPT_FOLLOWLOCATION, 1L);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(f.sleeper.n, 2);
  assert_true(f.sleeper.sleeps[1] <= 100 * REIN_NS_PER_MS);
  fx_teardown(&f);
}

/* A client that honours no signals ignores Retry-After. */
static void test_signal_mask(void **state) {
  (void)state;
  fx f;
  memset(&f, 0, sizeof f);
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  rein_curl_free(f.client);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f.policy;
  cc.signals = 0;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f.sleeper;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response r[] = {{503, "Retry-After: 30\nRein-Dont-Retry: ?1\n", 0},
                     {200, NULL, 0}};
  ts_script(f.srv, "/m", r, 2);
  fx_url(&f, "/m");
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  assert_true(f.sleeper.sleeps[0] <= 100 * REIN_NS_PER_MS);
  fx_teardown(&f);
}

static void test_dont_retry_stops(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 5, 0, REIN_CURL_KEYS_NONE);
  ts_response r = {503, "Rein-Dont-Retry: ?1\nRetry-After: 1\n", 0};
  ts_script(f.srv, "/d", &r, 1);
  fx_url(&f, "/d");
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_SERVER_STOP);
  assert_true(res.dont_retry);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(f.sleeper.n, 0);
  /* Negative gRPC pushback means the same. */
  ts_response r2 = {503, "grpc-retry-pushback-ms: -1\n", 0};
  ts_script(f.srv, "/g", &r2, 1);
  fx_url(&f, "/g");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_SERVER_STOP);
  /* 400 is never retried. */
  ts_response r3 = {400, NULL, 0};
  ts_script(f.srv, "/f", &r3, 1);
  fx_url(&f, "/f");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(res.last, REIN_OUTCOME_FATAL);
  assert_int_equal(res.attempts, 1);
  fx_teardown(&f);
}

typedef struct chain {
  int headers, attempts[8], nattempts;
} chain;

static size_t chained(char *buf, size_t s, size_t n, void *ctx) {
  chain *c = ctx;
  if (s * n > 6 && strncasecmp(buf, "X-Seen:", 7) == 0) c->headers++;
  return s * n;
}
static void on_attempt(void *ctx, CURL *easy, uint32_t attempt) {
  chain *c = ctx;
  (void)easy;
  if (c->nattempts < 8) c->attempts[c->nattempts++] = (int)attempt;
}

/* The caller's headers go out on every attempt next to rein's; the
 * caller's header callback and on_attempt are called. */
static void test_caller_hooks(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  ts_response r[] = {{502, "X-Seen: 1\n", 0}, {200, "X-Seen: 2\n", 0}};
  ts_script(f.srv, "/h", r, 2);
  fx_url(&f, "/h");
  struct curl_slist *h = curl_slist_append(NULL, "X-Test: mine");
  chain c = {0};
  rein_curl_opts o = {0};
  o.headers = h;
  o.header_fn = chained;
  o.header_ctx = &c;
  o.on_attempt = on_attempt;
  o.on_attempt_ctx = &c;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, NULL), REIN_OK);
  assert_int_equal(c.headers, 2);
  assert_int_equal(c.nattempts, 2);
  assert_int_equal(c.attempts[0], 1);
  assert_int_equal(c.attempts[1], 2);
  ts_request q[4];
  assert_int_equal(ts_requests(f.srv, q, 4), 2);
  assert_string_equal(q[0].custom, "mine");
  assert_string_equal(q[1].custom, "mine");
  assert_string_equal(q[1].attempt, "2");
  curl_slist_free_all(h);
  fx_teardown(&f);
}

/* The policy's events through rein_curl (rein/retry.h "Events"): the
 * call's opts.user comes back as event.user, on_retry's delay is what the
 * client slept, on_give_up carries the reason of the result. */
typedef struct evlog {
  int retries, giveups;
  void *user[8];
  int64_t delay[8];
  uint32_t attempt[8];
  rein_giveup reason;
} evlog;

static void ev_retry(void *ctx, const rein_retry_event *ev) {
  evlog *l = ctx;
  if (l->retries < 8) {
    l->user[l->retries] = ev->user;
    l->delay[l->retries] = ev->delay_ns;
    l->attempt[l->retries] = ev->attempt;
  }
  l->retries++;
}

static void ev_give_up(void *ctx, const rein_retry_event *ev) {
  evlog *l = ctx;
  l->giveups++;
  l->reason = ev->reason;
}

static void test_policy_events(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 0, REIN_CURL_KEYS_NONE);
  evlog l;
  memset(&l, 0, sizeof l);
  rein_policy_config pc = *rein_policy_get_config(f.policy);
  pc.on_retry = ev_retry;
  pc.on_give_up = ev_give_up;
  pc.event_ctx = &l;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f.sleeper;
  rein_curl *client = NULL;
  assert_int_equal(rein_curl_new(&cc, &client), REIN_OK);
  ts_response r[] = {{502, NULL, 0}, {503, NULL, 0}, {502, NULL, 0}};
  ts_script(f.srv, "/ev", r, 3);
  fx_url(&f, "/ev");
  int tag = 0;
  rein_curl_opts o = {0};
  o.user = &tag;
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.attempts, 3);
  assert_int_equal(l.retries, 2);
  assert_int_equal(l.giveups, 1);
  assert_int_equal(l.reason, res.reason);
  assert_int_equal(l.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  assert_int_equal(f.sleeper.n, 2);
  for (int i = 0; i < 2; i++) {
    assert_ptr_equal(l.user[i], &tag);
    assert_int_equal(l.attempt[i], (uint32_t)i + 1);
    assert_int_equal(l.delay[i], f.sleeper.sleeps[i]);
  }
  rein_curl_free(client);
  rein_policy_free(p);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ deadlines */

static void test_deadline_refusal(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 5, 0, REIN_CURL_KEYS_NONE);
  ts_response r = {503, "Retry-After: 5\n", 0};
  ts_script(f.srv, "/dl", &r, 1);
  fx_url(&f, "/dl");
  rein_curl_opts o = {0};
  o.deadline = rein_manual_clock_get(&f.clock) + 1 * REIN_NS_PER_S;
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_DEADLINE);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(f.sleeper.n, 0); /* refused now, not after waiting */
  assert_int_equal(res.server_delay_ns, 5 * REIN_NS_PER_S);
  fx_teardown(&f);
}

/* The per-attempt timeout becomes CURLOPT_TIMEOUT_MS; a slow answer is a
 * TIMEOUT and is retried. */
static void test_attempt_timeout(void **state) {
  (void)state;
  fx f;
  memset(&f, 0, sizeof f);
  fx_setup(&f, 2, 0, REIN_CURL_KEYS_NONE);
  rein_curl_free(f.client);
  rein_policy_free(f.policy);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 2;
  pc.attempt_timeout_ns = 150 * REIN_NS_PER_MS;
  pc.backoff.base_ns = REIN_NS_PER_MS;
  pc.backoff.cap_ns = REIN_NS_PER_MS;
  pc.clock = rein_manual_clock_as_clock(&f.clock);
  assert_int_equal(rein_policy_new(&pc, &f.policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f.policy;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f.sleeper;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response r[] = {{200, NULL, 600}, {200, NULL, 0}};
  ts_script(f.srv, "/slow", r, 2);
  fx_url(&f, "/slow");
  rein_curl_result res;
  rein_status pst = rein_curl_perform_ex(f.client, f.easy, NULL, &res);
  if (pst != REIN_OK)
    fail_msg("gave up: %s after %u attempts, last %s code %d",
             rein_giveup_name(res.reason), res.attempts,
             rein_outcome_kind_name(res.last), (int)res.last_code);
  assert_int_equal(res.attempts, 2);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.outcomes[REIN_OUTCOME_TIMEOUT], 1);
  /* With a deadline closer than the attempt timeout, the attempt gets only
   * what is left (100 ms) and the call then refuses to retry. */
  ts_response r2 = {200, NULL, 600};
  ts_script(f.srv, "/slow2", &r2, 1);
  fx_url(&f, "/slow2");
  rein_curl_opts o = {0};
  o.deadline = rein_manual_clock_get(&f.clock) + 100 * REIN_NS_PER_MS;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  clock_gettime(CLOCK_MONOTONIC, &b);
  int64_t took = (b.tv_sec - a.tv_sec) * REIN_NS_PER_S + b.tv_nsec - a.tv_nsec;
  assert_int_equal(res.last, REIN_OUTCOME_TIMEOUT);
  assert_true(took < 140 * REIN_NS_PER_MS);
  assert_true(took >= 90 * REIN_NS_PER_MS);
  fx_teardown(&f);
}

/* Deadline propagation: each attempt says how long it is waited for (the
 * attempt timeout, shortened to the deadline, rounded down), in
 * Rein-Deadline or grpc-timeout; nothing without a timeout or with NONE;
 * the earlier of opts.deadline and the client's deadline_ns counts. */
static void test_deadline_header(void **state) {
  (void)state;
  fx f;
  memset(&f, 0, sizeof f);
  fx_setup(&f, 2, 0, REIN_CURL_KEYS_NONE);
  rein_curl_free(f.client);
  rein_policy_free(f.policy);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.attempt_timeout_ns = 800 * REIN_NS_PER_MS;
  pc.backoff.base_ns = 100 * REIN_NS_PER_MS;
  pc.backoff.cap_ns = 100 * REIN_NS_PER_MS;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.clock = rein_manual_clock_as_clock(&f.clock);
  assert_int_equal(rein_policy_new(&pc, &f.policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  assert_int_equal(cc.deadline_header, REIN_CURL_DEADLINE_REIN);
  cc.policy = f.policy;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f.sleeper;
  cc.deadline_ns = 5 * REIN_NS_PER_S;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response r[] = {{503, NULL, 0}, {503, NULL, 0}, {200, NULL, 0}};
  ts_script(f.srv, "/d", r, 3);
  fx_url(&f, "/d");
  /* opts.deadline 900 ms away, earlier than deadline_ns (5 s): the first
   * attempt gets its 800 ms; the retry (100 ms of backoff later on the
   * manual clock) would have 800 ms too, but then the one after it could
   * not fit and is refused (DEADLINE). */
  rein_curl_opts o = {0};
  o.deadline = rein_manual_clock_get(&f.clock) + 900 * REIN_NS_PER_MS;
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  ts_request q[8];
  size_t n = ts_requests(f.srv, q, 8);
  if (n != 2)
    fail_msg("%zu attempts, want 2 (%s)", n, rein_giveup_name(res.reason));
  assert_string_equal(q[0].deadline, "800");
  assert_string_equal(q[0].grpc_timeout, "");
  assert_string_equal(q[1].deadline, "800");
  /* A deadline closer than the attempt timeout: the attempt is waited for
   * only what is left, and says so (rounded down). */
  ts_script(f.srv, "/d2", r, 1);
  fx_url(&f, "/d2");
  o.deadline = rein_manual_clock_get(&f.clock) + 333 * REIN_NS_PER_MS + 999999;
  rein_curl_perform_ex(f.client, f.easy, &o, &res);
  n = ts_requests(f.srv, q, 8);
  assert_int_equal(n, 3);
  assert_string_equal(q[2].deadline, "333");
  rein_curl_free(f.client);

  /* grpc-timeout instead. */
  cc.deadline_header = REIN_CURL_DEADLINE_GRPC;
  cc.deadline_ns = 0;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response ok = {200, NULL, 0};
  ts_script(f.srv, "/g", &ok, 1);
  fx_url(&f, "/g");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  n = ts_requests(f.srv, q, 8);
  assert_int_equal(n, 4);
  assert_string_equal(q[n - 1].grpc_timeout, "800000u");
  assert_string_equal(q[n - 1].deadline, "");
  rein_curl_free(f.client);

  /* NONE: nothing; and an invalid value is refused. */
  cc.deadline_header = REIN_CURL_DEADLINE_NONE;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_script(f.srv, "/n", &ok, 1);
  fx_url(&f, "/n");
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  n = ts_requests(f.srv, q, 8);
  assert_int_equal(n, 5);
  assert_string_equal(q[n - 1].deadline, "");
  assert_string_equal(q[n - 1].grpc_timeout, "");
  rein_curl_free(f.client);
  f.client = NULL;
  rein_errbuf e = {{0}};
  cc.err = &e;
  cc.deadline_header = (rein_curl_deadline_header)7;
  rein_curl *bad = NULL;
  assert_int_equal(rein_curl_new(&cc, &bad), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.deadline_header"));
  cc.deadline_header = REIN_CURL_DEADLINE_REIN;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  fx_teardown(&f);
}

/* A hedging client (config.hedge): a slow first attempt is hedged after
 * the delay on a duplicate handle; the hedge wins with the same key; the
 * winner's body reaches write_fn once; the first is cancelled. A fast
 * first attempt sends nothing more; a fatal answer ends the call; without
 * write_fn, REIN_EINVAL; the multi interface refuses a hedging client. */
typedef struct bodycap {
  char b[256];
  size_t n;
  int calls;
} bodycap;

static size_t cap_body(char *p, size_t s, size_t n, void *ctx) {
  bodycap *c = ctx;
  size_t len = s * n, room = sizeof c->b - 1 - c->n;
  memcpy(c->b + c->n, p, len < room ? len : room);
  c->n += len < room ? len : room;
  c->calls++;
  return len;
}

/* One attempt (2 s timeout), hedged once after 100 ms: the client the
 * hedging tests use; `log` (may be NULL) gets its log lines. */
static rein_curl *hedging_client_log(rein_policy **p, rein_curl_log_fn log,
                                     void *log_ctx) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 1;
  pc.attempt_timeout_ns = 2 * REIN_NS_PER_S;
  assert_int_equal(rein_policy_new(&pc, p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.max_attempts = 2;
  hc.delay_ns = 100 * REIN_NS_PER_MS;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = *p;
  cc.hedge = &hc; /* copied by rein_curl_new */
  cc.log = log;
  cc.log_ctx = log_ctx;
  rein_curl *c = NULL;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  return c;
}

static rein_curl *hedging_client(rein_policy **p) {
  return hedging_client_log(p, NULL, NULL);
}

static void test_hedged_perform(void **state) {
  (void)state;
  ts_server *srv = ts_start();
  assert_non_null(srv);
  rein_policy *p;
  rein_curl *c = hedging_client(&p);
  rein_policy_spec sp;
  assert_int_equal(rein_curl_spec(c, &sp), REIN_OK);
  assert_true(sp.has_hedge);
  assert_int_equal(sp.hedge.max_attempts, 2);
  CURL *e = curl_easy_init();
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/h", ts_port(srv));
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{\"a\":1}");
  ts_response slow[] = {{200, NULL, 700}, {201, NULL, 0}};
  ts_script(srv, "/h", slow, 2);
  bodycap body = {{0}, 0, 0};
  rein_curl_opts o = {0};
  o.method = "POST";
  o.write_fn = cap_body;
  o.write_ctx = &body;
  rein_curl_result res;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  clock_gettime(CLOCK_MONOTONIC, &b);
  int64_t took = (b.tv_sec - a.tv_sec) * REIN_NS_PER_S + b.tv_nsec - a.tv_nsec;
  assert_int_equal(res.http_status, 201);
  assert_int_equal(res.attempts, 2);
  if (took >= 500 * REIN_NS_PER_MS)
    fail_msg("hedged call took %lld ms (the slow attempt: 700)",
             (long long)(took / REIN_NS_PER_MS));
  ts_request q[8];
  assert_int_equal(ts_requests(srv, q, 8), 2);
  assert_string_equal(q[0].attempt, "1");
  assert_string_equal(q[1].attempt, "2");
  assert_true(q[0].key[0] != 0);
  assert_string_equal(q[0].key, q[1].key); /* POST: keyed, one key */
  /* the winner's body alone, once (not the loser's appended) */
  assert_int_equal(body.calls, 1);
  assert_string_equal(body.b, "ok");

  /* A fast first attempt: one request. */
  ts_response fast = {200, NULL, 0};
  ts_script(srv, "/h", &fast, 1);
  body.n = 0;
  body.calls = 0;
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(ts_requests(srv, q, 8), 3);
  /* ...on a connection the client kept from the call before (its idle
   * multi handle's cache), not a new one */
  long conns = -1;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
  assert_int_equal(conns, 0);
  /* Fatal: ends the call at once. */
  ts_response nf = {404, NULL, 0};
  ts_script(srv, "/h", &nf, 1);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(res.http_status, 404);
  /* No write_fn: refused by both interfaces. */
  o.write_fn = NULL;
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EINVAL);
  rein_curl_call *call = NULL;
  assert_int_equal(rein_curl_call_new(c, e, NULL, &call), REIN_EINVAL);
  assert_null(call);
  rein_curl_stats st;
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.calls, 3);
  assert_int_equal(st.attempts, 4);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  rein_policy_free(p);
  ts_stop(srv);
}

/* What a hedge may meet. (1) libcurl before 8.5.0 cannot duplicate a
 * handle whose body came from CURLOPT_COPYPOSTFIELDS without
 * CURLOPT_POSTFIELDSIZE: the hedge is not sent (counted, said once), the
 * call goes on with its first attempt and wins with it; when the first
 * attempt fails non-fatally the call ends REIN_EUNSUPPORTED, not with a
 * made-up reason. With the size set first the hedge goes. (2) A keyed
 * hedge that meets the server's 409 + Retry-After (the first attempt, same
 * key, still running) does not end the call: the first attempt's answer
 * wins. */
static void test_hedged_dup_and_in_progress(void **state) {
  (void)state;
  ts_server *srv = ts_start();
  assert_non_null(srv);
  rein_policy *p;
  logcap lg = {0, {0}};
  rein_curl *c = hedging_client_log(&p, cap_log, &lg);
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/d", ts_port(srv));
  bodycap body = {{0}, 0, 0};
  rein_curl_opts o = {0};
  o.method = "POST";
  o.write_fn = cap_body;
  o.write_ctx = &body;
  rein_curl_result res;
  rein_curl_stats st;
  ts_request q[16];

  /* (1a) copied body, no size: the slow first attempt wins alone */
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "{\"a\":1}");
  CURL *probe = curl_easy_duphandle(e);
  bool old_curl = probe == NULL; /* the libcurl bug is present */
  curl_easy_cleanup(probe);
  ts_response slow[] = {{201, NULL, 400}, {201, NULL, 0}};
  ts_script(srv, "/d", slow, old_curl ? 1 : 2); /* (the hedge: no request) */
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.http_status, 201);
  rein_curl_get_stats(c, &st);
  if (old_curl) {
    assert_int_equal(res.attempts, 1);
    assert_int_equal(st.hedges_undup, 1);
    assert_int_equal(ts_requests(srv, q, 16), 1);
    assert_int_equal(lg.n, 1);
    assert_non_null(strstr(lg.last, "CURLOPT_POSTFIELDSIZE"));
    /* (1b) the first attempt fails non-fatally: nothing else could go */
    ts_script(srv, "/d", (ts_response[]){{500, NULL, 300}}, 1);
    assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EUNSUPPORTED);
    assert_int_equal(res.attempts, 1);
    assert_int_equal(res.http_status, 500);
    rein_curl_get_stats(c, &st);
    assert_int_equal(st.hedges_undup, 2);
    assert_int_equal(lg.n, 1); /* said once per client */
  } else {
    print_message("libcurl %s duplicates COPYPOSTFIELDS: hedged\n",
                  curl_version_info(CURLVERSION_NOW)->version);
    assert_int_equal(res.attempts, 2);
    assert_int_equal(st.hedges_undup, 0);
    ts_script(srv, "/d", (ts_response[]){{500, NULL, 300}, {201, NULL, 0}}, 2);
    assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  }
  curl_easy_cleanup(e);
  int before = ts_requests(srv, q, 16);

  /* (1c) the size first: the hedge goes and wins */
  e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 7L);
  curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, "{\"a\":1}");
  ts_script(srv, "/d", slow, 2);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(ts_requests(srv, q, 16), before + 2);
  assert_string_equal(q[before + 1].attempt, "2");

  /* (2) the hedge meets 409 + Retry-After: attempt 1's 201 wins */
  ts_response busy[] = {{201, NULL, 500}, {409, "Retry-After: 1\n", 0}};
  ts_script(srv, "/d", busy, 2);
  body.n = 0;
  body.calls = 0;
  memset(body.b, 0, sizeof body.b);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.http_status, 201);
  assert_int_equal(res.attempts, 2);
  assert_int_equal(ts_requests(srv, q, 16), before + 4);
  assert_string_equal(q[before + 2].key, q[before + 3].key);
  assert_int_equal(body.calls, 1);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  rein_policy_free(p);
  ts_stop(srv);
}

/* Hedged calls on the caller's multi handle: four calls at once, found
 * through CURLOPT_PRIVATE (hedges run on duplicates, which keep it). /m0's
 * first attempt is slow: HEDGING with the hedge due 100 ms after the
 * start, the hedge wins, the slow one is cancelled; /m1 answers at once
 * (one attempt, never HEDGING after); /m2's 500 is non-fatal: the hedge
 * goes at once and wins; /m3's 404 is fatal and ends the call. A message
 * of another call is refused, and so is resume when nothing is due. */
typedef struct hcall {
  CURL *easy;
  rein_curl_call *call;
  rein_curl_step step;
  bodycap body;
  bool hedging_seen;
  char url[96];
} hcall;

static void test_hedged_multi(void **state) {
  (void)state;
  ts_server *srv = ts_start();
  assert_non_null(srv);
  rein_policy *p;
  rein_curl *c = hedging_client(&p);
  ts_response m0[] = {{200, NULL, 700}, {201, NULL, 0}};
  ts_response m1[] = {{200, NULL, 0}};
  ts_response m2[] = {{500, NULL, 0}, {202, NULL, 0}};
  ts_response m3[] = {{404, NULL, 0}};
  ts_script(srv, "/m0", m0, 2);
  ts_script(srv, "/m1", m1, 1);
  ts_script(srv, "/m2", m2, 2);
  ts_script(srv, "/m3", m3, 1);
  enum { N = 4 };
  static hcall h[N];
  memset(h, 0, sizeof h);
  CURLM *multi = curl_multi_init();
  assert_non_null(multi);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < N; i++) {
    h[i].easy = curl_easy_init();
    snprintf(h[i].url, sizeof h[i].url, "http://127.0.0.1:%d/m%d", ts_port(srv),
             i);
    curl_easy_setopt(h[i].easy, CURLOPT_URL, h[i].url);
    curl_easy_setopt(h[i].easy, CURLOPT_PRIVATE, (char *)&h[i]);
    rein_curl_opts o = {0};
    o.write_fn = cap_body;
    o.write_ctx = &h[i].body;
    assert_int_equal(rein_curl_call_new(c, h[i].easy, &o, &h[i].call), REIN_OK);
    assert_int_equal(rein_curl_multi_add(h[i].call, multi, &h[i].step),
                     REIN_OK);
    /* every call may hedge: the hedge timer runs from the start */
    assert_int_equal(h[i].step.state, REIN_CURL_HEDGING);
    assert_true(h[i].step.due_ns > 0);
  }
  int64_t deadline = rein_policy_now(p) + 5 * REIN_NS_PER_S;
  for (;;) {
    int finished = 0;
    int poll_ms = 100;
    int64_t now = rein_policy_now(p);
    for (int i = 0; i < N; i++) {
      if (h[i].step.state == REIN_CURL_HEDGING && now >= h[i].step.due_ns) {
        h[i].hedging_seen = true;
        assert_int_equal(rein_curl_multi_resume(h[i].call, multi, &h[i].step),
                         REIN_OK);
      }
      if (h[i].step.state == REIN_CURL_IN_FLIGHT)
        assert_int_equal(rein_curl_multi_resume(h[i].call, multi, NULL),
                         REIN_ESTATE);
      if (h[i].step.state == REIN_CURL_FINISHED) finished++;
      int ms = rein_curl_poll_ms(&h[i].step, now, poll_ms);
      if (ms < poll_ms) poll_ms = ms;
    }
    if (finished == N) break;
    assert_true(rein_policy_now(p) < deadline);
    int running;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      hcall *owner = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&owner);
      assert_non_null(owner);
      hcall *other = owner == &h[0] ? &h[1] : &h[0];
      if (other->step.state != REIN_CURL_FINISHED)
        assert_int_equal(rein_curl_multi_done(other->call, multi, msg, NULL),
                         REIN_EINVAL);
      assert_int_equal(
          rein_curl_multi_done(owner->call, multi, msg, &owner->step), REIN_OK);
    }
    curl_multi_poll(multi, NULL, 0, poll_ms, NULL);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  int64_t took = (b.tv_sec - a.tv_sec) * REIN_NS_PER_S + b.tv_nsec - a.tv_nsec;
  if (took >= 500 * REIN_NS_PER_MS)
    fail_msg("hedged calls took %lld ms (the slow attempt: 700)",
             (long long)(took / REIN_NS_PER_MS));
  rein_curl_result r[N];
  for (int i = 0; i < N; i++)
    rein_curl_call_result(h[i].call, &r[i]);
  assert_int_equal(r[0].action, REIN_DONE);
  assert_int_equal(r[0].http_status, 201);
  assert_int_equal(r[0].attempts, 2);
  assert_true(h[0].hedging_seen);
  assert_int_equal(h[0].body.calls, 1);
  assert_int_equal(r[1].action, REIN_DONE);
  assert_int_equal(r[1].attempts, 1);
  assert_int_equal(r[2].action, REIN_DONE);
  assert_int_equal(r[2].http_status, 202);
  assert_int_equal(r[2].attempts, 2);
  assert_int_equal(r[3].action, REIN_GIVE_UP);
  assert_int_equal(r[3].reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(r[3].attempts, 1);
  assert_int_equal(rein_curl_multi_resume(h[0].call, multi, NULL), REIN_ESTATE);
  ts_request q[16];
  assert_int_equal(ts_requests(srv, q, 16), 6);
  rein_curl_stats st;
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.calls, 4);
  assert_int_equal(st.attempts, 6);
  assert_int_equal(st.successes, 3);
  assert_int_equal(st.giveups, 1);
  /* the caller's handles as they were: reusable, their PRIVATE kept */
  for (int i = 0; i < N; i++) {
    hcall *back = NULL;
    curl_easy_getinfo(h[i].easy, CURLINFO_PRIVATE, (char **)&back);
    assert_ptr_equal(back, &h[i]);
    rein_curl_call_free(h[i].call);
    curl_easy_cleanup(h[i].easy);
  }
  /* A call freed while its attempts are in flight: removed, no leak. */
  ts_response slow2[] = {{200, NULL, 300}, {200, NULL, 300}};
  ts_script(srv, "/m0", slow2, 2);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, h[0].url);
  bodycap bc = {{0}, 0, 0};
  rein_curl_opts o = {0};
  o.write_fn = cap_body;
  o.write_ctx = &bc;
  rein_curl_call *call;
  assert_int_equal(rein_curl_call_new(c, e, &o, &call), REIN_OK);
  rein_curl_step step;
  assert_int_equal(rein_curl_multi_add(call, multi, &step), REIN_OK);
  while (rein_policy_now(p) < step.due_ns) {
    int running;
    curl_multi_perform(multi, &running);
    curl_multi_poll(multi, NULL, 0, 10, NULL);
  }
  assert_int_equal(rein_curl_multi_resume(call, multi, &step), REIN_OK);
  assert_int_equal(step.state, REIN_CURL_IN_FLIGHT); /* two in flight */
  rein_curl_call_free(call);
  int running = -1;
  curl_multi_perform(multi, &running);
  assert_int_equal(running, 0);
  curl_easy_cleanup(e);
  curl_multi_cleanup(multi);
  rein_curl_free(c);
  rein_policy_free(p);
  ts_stop(srv);
}

/* ------------------------------------------------------------ retention */

static void test_retention_warning(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, 60 * REIN_NS_PER_S, REIN_CURL_KEYS_NON_IDEMPOTENT);
  ts_response r[] = {{201, "Idempotency-Key-Retention: 10\n", 0},
                     {201, "Idempotency-Key-Retention: 10\n", 0},
                     {201, "Idempotency-Key-Retention: 86400\n", 0}};
  ts_script(f.srv, "/k", r, 3);
  fx_url(&f, "/k");
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "x");
  rein_curl_opts o = {0};
  o.method = "POST";
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_true(res.retention_warning);
  assert_int_equal(f.log.n, 1);
  assert_non_null(strstr(f.log.last, "keeps Idempotency-Key for 10 s"));
  assert_non_null(strstr(f.log.last, "up to 60 s"));
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_true(res.retention_warning);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_false(res.retention_warning);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.retention_warnings, 2);
  assert_int_equal(f.log.n, 1); /* one line per client */
  fx_teardown(&f);
}

/* ------------------------------------------------------------ multi */

typedef struct mcall {
  CURL *easy;
  rein_curl_call *call;
  rein_curl_step step;
  char url[128];
} mcall;

static void test_multi(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 4, 0, REIN_CURL_KEYS_NON_IDEMPOTENT);
  ts_response a[] = {{503, "Retry-After: 1\n", 0}, {200, NULL, 0}};
  ts_response c[] = {{500, NULL, 0}, {0, NULL, 0}, {200, NULL, 0}};
  ts_response d[] = {{404, NULL, 0}};
  ts_script(f.srv, "/a", a, 2);
  ts_script(f.srv, "/c", c, 3);
  ts_script(f.srv, "/d", d, 1);
  const char *paths[] = {"/a", "/b", "/c", "/d"};
  enum { N = 4 };
  mcall m[N];
  CURLM *multi = curl_multi_init();
  assert_non_null(multi);
  for (int i = 0; i < N; i++) {
    m[i].easy = curl_easy_init();
    snprintf(m[i].url, sizeof m[i].url, "http://127.0.0.1:%d%s", ts_port(f.srv),
             paths[i]);
    curl_easy_setopt(m[i].easy, CURLOPT_URL, m[i].url);
    curl_easy_setopt(m[i].easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(m[i].easy, CURLOPT_FORBID_REUSE, 1L);
    rein_curl_opts o = {0};
    o.user = &m[i];
    o.method = i == 2 ? "POST" : "GET";
    if (i == 2) curl_easy_setopt(m[i].easy, CURLOPT_POSTFIELDS, "x");
    assert_int_equal(rein_curl_call_new(f.client, m[i].easy, &o, &m[i].call),
                     REIN_OK);
    assert_ptr_equal(rein_curl_call_user(m[i].call), &m[i]);
    assert_ptr_equal(rein_curl_call_easy(m[i].call), m[i].easy);
    assert_int_equal(rein_curl_multi_add(m[i].call, multi, &m[i].step),
                     REIN_OK);
    assert_int_equal(m[i].step.state, REIN_CURL_IN_FLIGHT);
    assert_int_equal(rein_curl_multi_add(m[i].call, multi, &m[i].step),
                     REIN_ESTATE);
  }
  int64_t t0 = rein_manual_clock_get(&f.clock);
  int64_t first_due_a = 0;
  for (int rounds = 0; rounds < 2000; rounds++) {
    int finished = 0, in_flight = 0;
    int64_t now = rein_manual_clock_get(&f.clock), next_due = INT64_MAX;
    for (int i = 0; i < N; i++) {
      if (m[i].step.state == REIN_CURL_WAITING && now >= m[i].step.due_ns)
        assert_int_equal(rein_curl_multi_resume(m[i].call, multi, &m[i].step),
                         REIN_OK);
      if (m[i].step.state == REIN_CURL_FINISHED) finished++;
      if (m[i].step.state == REIN_CURL_IN_FLIGHT) in_flight++;
      if (m[i].step.state == REIN_CURL_WAITING && m[i].step.due_ns < next_due)
        next_due = m[i].step.due_ns;
    }
    if (finished == N) break;
    if (in_flight == 0) {
      /* Only waits left: the manual clock jumps to the next due time (a real
       * loop would curl_multi_poll for rein_curl_poll_ms). */
      int ms = 0;
      for (int i = 0; i < N; i++)
        if (m[i].step.state == REIN_CURL_WAITING) {
          ms = rein_curl_poll_ms(&m[i].step, now, 60000);
          break;
        }
      assert_true(ms >= 0);
      rein_manual_clock_set(&f.clock, next_due);
      continue;
    }
    int running;
    curl_multi_perform(multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      mcall *owner = NULL;
      for (int i = 0; i < N; i++)
        if (m[i].easy == msg->easy_handle) owner = &m[i];
      assert_non_null(owner);
      /* Another call's message is refused. */
      mcall *other = owner == &m[0] ? &m[1] : &m[0];
      assert_int_equal(rein_curl_multi_done(other->call, multi, msg, NULL),
                       REIN_EINVAL);
      assert_int_equal(
          rein_curl_multi_done(owner->call, multi, msg, &owner->step), REIN_OK);
      if (owner == &m[0] && owner->step.state == REIN_CURL_WAITING)
        first_due_a = owner->step.due_ns;
    }
    if (running) curl_multi_poll(multi, NULL, 0, 100, NULL);
  }
  rein_curl_result r[N];
  for (int i = 0; i < N; i++) {
    assert_int_equal(m[i].step.state, REIN_CURL_FINISHED);
    rein_curl_call_result(m[i].call, &r[i]);
    assert_int_equal(rein_curl_multi_resume(m[i].call, multi, NULL),
                     REIN_ESTATE);
  }
  assert_int_equal(r[0].action, REIN_DONE);
  assert_int_equal(r[0].attempts, 2);
  assert_int_equal(first_due_a, t0 + 1 * REIN_NS_PER_S); /* Retry-After */
  assert_int_equal(r[1].action, REIN_DONE);
  assert_int_equal(r[1].attempts, 1);
  assert_int_equal(r[2].action, REIN_DONE); /* keyed POST: retried */
  assert_int_equal(r[2].attempts, 3);
  assert_int_equal(r[3].action, REIN_GIVE_UP);
  assert_int_equal(r[3].reason, REIN_GIVEUP_NOT_RETRYABLE);
  assert_int_equal(r[3].attempts, 1);
  /* The POST's three attempts carried one key. */
  ts_request q[16];
  size_t nq = ts_requests(f.srv, q, 16);
  assert_int_equal(nq, 7);
  char key[80] = "";
  int seen = 0;
  for (size_t i = 0; i < nq; i++) {
    if (strcmp(q[i].path, "/c") != 0) {
      assert_string_equal(q[i].key, "");
      continue;
    }
    if (!seen) snprintf(key, sizeof key, "%s", q[i].key);
    assert_string_equal(q[i].key, key);
    seen++;
  }
  assert_int_equal(seen, 3);
  for (int i = 0; i < N; i++) {
    rein_curl_call_free(m[i].call);
    curl_easy_cleanup(m[i].easy);
  }
  curl_multi_cleanup(multi);
  fx_teardown(&f);
}

/* Freeing a call that is still in flight removes its handle. */
static void test_multi_free_in_flight(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 0, REIN_CURL_KEYS_NONE);
  ts_response r = {200, NULL, 300};
  ts_script(f.srv, "/s", &r, 1);
  fx_url(&f, "/s");
  CURLM *multi = curl_multi_init();
  rein_curl_call *call;
  rein_curl_step step;
  assert_int_equal(rein_curl_call_new(f.client, f.easy, NULL, &call), REIN_OK);
  assert_int_equal(rein_curl_multi_add(call, multi, &step), REIN_OK);
  int running;
  curl_multi_perform(multi, &running);
  rein_curl_call_free(call);
  /* The handle can be added again, so it is no longer in the multi. */
  assert_int_equal(curl_multi_add_handle(multi, f.easy), CURLM_OK);
  curl_multi_remove_handle(multi, f.easy);
  curl_multi_cleanup(multi);
  assert_int_equal(rein_curl_poll_ms(&step, 0, 77), 77);
  rein_curl_step w = {REIN_CURL_WAITING, 5 * REIN_NS_PER_MS + 1};
  assert_int_equal(rein_curl_poll_ms(&w, 0, 1000), 6);
  assert_int_equal(rein_curl_poll_ms(&w, 10 * REIN_NS_PER_MS, 1000), 0);
  assert_int_equal(rein_curl_poll_ms(&w, 0, 3), 3);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ contract */

static void test_contract_client(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 2, 0, REIN_CURL_KEYS_NONE);
  const char *paths[] = {REIN_SOURCE_DIR "/examples/contracts/ledger"};
  rein_contract_set *set = NULL;
  assert_int_equal(rein_contract_load(NULL, paths, 1, &set), REIN_OK);
  assert_int_equal(rein_contract_check(set, NULL), REIN_OK);
  rein_curl_config base;
  rein_curl_config_default(&base);
  base.sleeper.sleep_ns = fake_sleep;
  base.sleeper.ctx = &f.sleeper;
  rein_errbuf eb = {{0}};
  base.err = &eb;
  rein_clock clk = rein_manual_clock_as_clock(&f.clock);
  rein_curl *c = NULL;
  assert_int_equal(rein_curl_new_from_contract(&base, set, "client", "nobody.x",
                                               NULL, &clk, &c),
                   REIN_ENOTFOUND);
  assert_null(c);
  assert_true(eb.msg[0] != '\0');
  assert_int_equal(rein_curl_new_from_contract(&base, set, "client",
                                               "ledger.charge", NULL, &clk, &c),
                   REIN_OK);
  const rein_policy_config *pc = rein_policy_get_config(rein_curl_policy(c));
  assert_int_equal(pc->max_attempts, 4);
  assert_int_equal(pc->window_ns, 60 * REIN_NS_PER_S);
  assert_non_null(pc->budget);
  assert_non_null(pc->breaker);
  fx_url(&f, "/charges");
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "{}");
  rein_curl_opts o = {0};
  o.method = "POST";
  o.seed = 7;
  rein_curl_result res;
  /* Warm the adaptive throttle the contract declares (k = 2): after a few
   * accepted requests it admits every retry; and fill its retry budget
   * (10% of successes with no floor: 10 successes buy one retry). */
  for (int i = 0; i < 30; i++)
    assert_int_equal(rein_curl_perform_ex(c, f.easy, &o, &res), REIN_OK);
  ts_response r[] = {{503, "Retry-After: 1\n", 0},
                     {201, "Idempotency-Key-Retention: 86400\n", 0}};
  ts_script(f.srv, "/charges", r, 2);
  assert_int_equal(rein_curl_perform_ex(c, f.easy, &o, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  assert_true(is_uuid_v4(res.key));
  assert_false(res.retention_warning);
  assert_int_equal(f.sleeper.sleeps[0], 1 * REIN_NS_PER_S);
  /* The contract's deadline (5 s): a Retry-After of 10 s is refused. */
  ts_response r2 = {503, "Retry-After: 10\n", 0};
  ts_script(f.srv, "/charges", &r2, 1);
  assert_int_equal(rein_curl_perform_ex(c, f.easy, &o, &res), REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_DEADLINE);
  rein_curl_free(c);
  rein_contract_set_free(set);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ config, faults
 */

static void test_config_errors(void **state) {
  (void)state;
  rein_errbuf eb = {{0}};
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.err = &eb;
  rein_curl *c = (rein_curl *)1;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_null(c);
  assert_non_null(strstr(eb.msg, "curl.policy"));
  rein_policy *p;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  cc.policy = p;
  cc.key_header = "Bad Header";
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "curl.key_header"));
  cc.key_header = NULL;
  cc.signals = 99;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "curl.signals"));
  cc.signals = REIN_CURL_SIGNAL_ALL;
  cc.deadline_ns = -1;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "curl.deadline_ns"));
  cc.deadline_ns = 0;
  cc.keys = (rein_curl_keys)7;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "curl.keys"));
  assert_int_equal(rein_curl_new(NULL, &c), REIN_EINVAL);
  assert_int_equal(rein_curl_perform(NULL, NULL), REIN_EINVAL);
  assert_int_equal(rein_curl_call_new(NULL, NULL, NULL, NULL), REIN_EINVAL);
  rein_curl_free(NULL);
  rein_curl_call_free(NULL);
  /* A failing random source: the keyed call fails before sending. */
  cc.keys = REIN_CURL_KEYS_ALWAYS;
  cc.random = failing_random;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://127.0.0.1:1/");
  assert_int_equal(rein_curl_perform(c, e), REIN_EIO);
  rein_curl_call *call = NULL;
  assert_int_equal(rein_curl_call_new(c, e, NULL, &call), REIN_EIO);
  assert_null(call);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  rein_policy_free(p);
}

typedef struct fault_ctx {
  rein_policy *policy;
} fault_ctx;

static int fault_body(void *vctx, const rein_allocator *a) {
  fault_ctx *fc = vctx;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = fc->policy;
  cc.alloc = a;
  rein_curl *c = NULL;
  rein_status st = rein_curl_new(&cc, &c);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    return -1;
  }
  CURL *e = curl_easy_init();
  rein_curl_call *call = NULL;
  st = rein_curl_call_new(c, e, NULL, &call);
  int rc = 0;
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    rc = -1;
  }
  rein_curl_call_free(call);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  return rc;
}

static void test_alloc_faults(void **state) {
  (void)state;
  fault_ctx fc;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  assert_int_equal(rein_policy_new(&pc, &fc.policy), REIN_OK);
  rein_test_fault_loop(fault_body, &fc);
  rein_policy_free(fc.policy);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classify_table),
      cmocka_unit_test(test_classify_live),
      cmocka_unit_test(test_uuid),
      cmocka_unit_test(test_key_reuse_across_retries),
      cmocka_unit_test(test_key_modes),
      cmocka_unit_test(test_post_without_key_not_retried),
      cmocka_unit_test(test_refused_post_retried),
      cmocka_unit_test(test_retry_after_floors_delay),
      cmocka_unit_test(test_retry_after_date_and_redirect),
      cmocka_unit_test(test_signal_mask),
      cmocka_unit_test(test_dont_retry_stops),
      cmocka_unit_test(test_caller_hooks),
      cmocka_unit_test(test_policy_events),
      cmocka_unit_test(test_deadline_refusal),
      cmocka_unit_test(test_attempt_timeout),
      cmocka_unit_test(test_deadline_header),
      cmocka_unit_test(test_hedged_perform),
      cmocka_unit_test(test_hedged_multi),
      cmocka_unit_test(test_hedged_dup_and_in_progress),
      cmocka_unit_test(test_retention_warning),
      cmocka_unit_test(test_multi),
      cmocka_unit_test(test_multi_free_in_flight),
      cmocka_unit_test(test_contract_client),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_alloc_faults),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return r;
}
