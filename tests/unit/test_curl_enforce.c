/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl_enforce.c: what rein_curl enforces across call boundaries
 * (src/curl/enforce.c), against the scripted loopback server:
 *   - rein_curl_derive_key: vectors computed by sha256sum and `openssl dgst
 *     -hmac`, distinct keys per operation and inbound key, bad input;
 *   - keys PASS_THROUGH / DERIVE: every attempt carries the inbound key or
 *     its derivation; without one a POST gets a minted key;
 *   - rein_curl_dont_retry_reply_for: 503 + Rein-Dont-Retry (+ Retry-After),
 *     gRPC 14 + pushback -1; nothing for a success or a plain give-up;
 *   - pacing: a success with RateLimit r=0 makes the next call wait for the
 *     reset (blocking and multi drivers), capped by pace_max_ns, never past
 *     the deadline, off by default;
 *   - retention: Idempotency-Key-Retention shorter than the next retry's
 *     send time gives up with reason retention.
 * The policy runs on a manual clock; the sleeper advances it.
 */
#include "rein_test.h"

#include <stdio.h>
#include <string.h>

#include "curl_test_server.h"
#include "rein.h"
#include "rein/curl.h"

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS

typedef struct fx {
  ts_server *srv;
  rein_manual_clock clock;
  int64_t sleeps[16];
  int n_sleeps;
  rein_policy *policy;
  rein_curl *client;
  CURL *easy;
  char url[128];
} fx;

static void fake_sleep(void *ctx, int64_t ns) {
  fx *f = ctx;
  if (f->n_sleeps < 16) f->sleeps[f->n_sleeps] = ns;
  f->n_sleeps++;
  rein_manual_clock_advance(&f->clock, ns);
}

static size_t discard(char *p, size_t s, size_t n, void *c) {
  (void)p, (void)c;
  return s * n;
}

/* A POST client: constant 100 ms backoff, 3 attempts; `cc_edit` may change
 * the client config before it is made. */
static void fx_setup(fx *f, void (*cc_edit)(rein_curl_config *),
                     bool idempotent) {
  memset(f, 0, sizeof *f);
  f->srv = ts_start();
  assert_non_null(f->srv);
  rein_manual_clock_init(&f->clock, 1000 * S);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 100 * MS;
  pc.idempotent = idempotent;
  pc.clock = rein_manual_clock_as_clock(&f->clock);
  assert_int_equal(rein_policy_new(&pc, &f->policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f->policy;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = f;
  if (cc_edit) cc_edit(&cc);
  rein_errbuf e = {{0}};
  cc.err = &e;
  if (rein_curl_new(&cc, &f->client) != REIN_OK) fail_msg("curl: %s", e.msg);
  f->easy = curl_easy_init();
  snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d/x", ts_port(f->srv));
  curl_easy_setopt(f->easy, CURLOPT_URL, f->url);
  curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, "{}");
  curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, discard);
}

static void fx_teardown(fx *f) {
  curl_easy_cleanup(f->easy);
  rein_curl_free(f->client);
  rein_policy_free(f->policy);
  ts_stop(f->srv);
}

static rein_status post(fx *f, const char *inbound, rein_curl_result *res) {
  rein_curl_opts o = {0};
  o.method = "POST";
  o.inbound_key = inbound;
  return rein_curl_perform_ex(f->client, f->easy, &o, res);
}

/* ---- derivation -----------------------------------------------------------
 */

static void test_derive_vectors(void **state) {
  (void)state;
  char k[REIN_CURL_DERIVED_KEY_LEN + 1], k2[REIN_CURL_DERIVED_KEY_LEN + 1];
  /* printf 'rein-derive-v1\0ledger.charge\0order-2026-0001' | sha256sum */
  assert_int_equal(
      rein_curl_derive_key("order-2026-0001", "ledger.charge", NULL, 0, k),
      REIN_OK);
  assert_string_equal(k, "81be69dfbd41c63296de6126d3bfc988b04e03bee28a6778");
  /* ... | openssl dgst -sha256 -hmac secret-1 */
  assert_int_equal(rein_curl_derive_key("order-2026-0001", "ledger.charge",
                                        "secret-1", 8, k),
                   REIN_OK);
  assert_string_equal(k, "027d094bcefb9a47a666fd584b0e3721015f9bda60c5b179");
  /* another operation, another inbound key: unrelated keys */
  rein_curl_derive_key("order-2026-0001", "ledger.refund", NULL, 0, k2);
  assert_string_not_equal(k2,
                          "81be69dfbd41c63296de6126d3bfc988b04e03bee28a6778");
  rein_curl_derive_key("order-2026-0002", "ledger.charge", NULL, 0, k);
  assert_string_not_equal(k, k2);
  /* NULL operation is "" */
  rein_curl_derive_key("a", NULL, NULL, 0, k);
  rein_curl_derive_key("a", "", NULL, 0, k2);
  assert_string_equal(k, k2);
  char big[300];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(rein_curl_derive_key(big, "op", NULL, 0, k), REIN_EINVAL);
  assert_int_equal(rein_curl_derive_key("", "op", NULL, 0, k), REIN_EINVAL);
  assert_int_equal(rein_curl_derive_key("a\tb", "op", NULL, 0, k), REIN_EINVAL);
  assert_int_equal(rein_curl_derive_key("a", "op", big, 65, k), REIN_EINVAL);
  assert_int_equal(rein_curl_derive_key(NULL, "op", NULL, 0, k), REIN_EINVAL);
}

static void derive_cfg(rein_curl_config *c) {
  c->keys = REIN_CURL_KEYS_DERIVE;
  c->operation = "inventory.reserve";
}

static void pass_cfg(rein_curl_config *c) {
  c->keys = REIN_CURL_KEYS_PASS_THROUGH;
}

/* Every attempt (503, 503, 200) carries the derived key as an sf-string. */
static void test_derive_on_every_attempt(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, derive_cfg, false);
  ts_response r[] = {{503, NULL, 0}, {503, NULL, 0}, {200, NULL, 0}};
  ts_script(f.srv, "/x", r, 3);
  rein_curl_result res;
  assert_int_equal(post(&f, "inbound-1", &res), REIN_OK);
  char want[REIN_CURL_DERIVED_KEY_LEN + 1], quoted[64];
  rein_curl_derive_key("inbound-1", "inventory.reserve", NULL, 0, want);
  assert_string_equal(res.key, want);
  snprintf(quoted, sizeof quoted, "\"%s\"", want);
  ts_request q[4];
  assert_int_equal(ts_requests(f.srv, q, 4), 3);
  for (int i = 0; i < 3; i++)
    assert_string_equal(q[i].key, quoted);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.keys_derived, 1);
  assert_int_equal(st.keys_minted, 0);
  /* no inbound key: a POST gets a minted one (36-character UUID) */
  assert_int_equal(post(&f, NULL, &res), REIN_OK);
  assert_int_equal(strlen(res.key), 36);
  /* an inbound key that cannot be one */
  assert_int_equal(post(&f, "bad\nkey", &res), REIN_EINVAL);
  fx_teardown(&f);

  fx_setup(&f, pass_cfg, false);
  assert_int_equal(post(&f, "inbound-1", &res), REIN_OK);
  assert_string_equal(res.key, "inbound-1");
  assert_int_equal(ts_requests(f.srv, q, 4), 1);
  assert_string_equal(q[0].key, "\"inbound-1\"");
  fx_teardown(&f);
}

static void bad_cfg_ops(rein_curl_config *c) {
  static char op[200];
  memset(op, 'o', sizeof op - 1); /* 199 > 127 */
  c->operation = op;
}

static void test_config_validation(void **state) {
  (void)state;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  assert_int_equal(cc.pace, REIN_CURL_PACE_AUTO);
  assert_int_equal(cc.pace_max_ns, 10 * S);
  cc.policy = p;
  rein_errbuf e = {{0}};
  cc.err = &e;
  rein_curl *c;
  bad_cfg_ops(&cc);
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.operation"));
  cc.operation = NULL;
  cc.derive_secret_len = 65;
  cc.derive_secret = "x";
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.derive_secret_len"));
  cc.derive_secret_len = 0;
  cc.pace_max_ns = -1;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.pace_max_ns"));
  cc.pace_max_ns = 0;
  cc.pace = (rein_curl_pace)9;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.pace"));
  cc.pace = REIN_CURL_PACE_ON;
  cc.keys = (rein_curl_keys)5;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.keys"));
  rein_policy_free(p);
}

/* ---- don't retry, upward ------------------------------------------------ */

static void test_dont_retry_reply(void **state) {
  (void)state;
  rein_curl_result res = {0};
  rein_curl_reply rp;
  res.action = REIN_DONE;
  assert_false(rein_curl_dont_retry_reply_for(&res, &rp));
  assert_int_equal(rp.status, 0);
  res.action = REIN_GIVE_UP;
  res.reason = REIN_GIVEUP_NOT_RETRYABLE;
  assert_false(rein_curl_dont_retry_reply_for(&res, &rp));
  res.reason = REIN_GIVEUP_SERVER_STOP;
  res.dont_retry = true;
  assert_true(rein_curl_dont_retry_reply_for(&res, &rp));
  assert_int_equal(rp.status, 503);
  assert_int_equal(rp.grpc_status, 14);
  assert_int_equal(rp.count, 1);
  assert_string_equal(rp.headers[0].name, "Rein-Dont-Retry");
  assert_string_equal(rp.headers[0].value, "?1");
  assert_string_equal(rp.grpc_trailer.name, "grpc-retry-pushback-ms");
  assert_string_equal(rp.grpc_trailer.value, "-1");
  res.server_delay_ns = 1200 * MS; /* rounded up */
  assert_true(rein_curl_dont_retry_reply_for(&res, &rp));
  assert_int_equal(rp.count, 2);
  assert_string_equal(rp.headers[1].name, "Retry-After");
  assert_string_equal(rp.headers[1].value, "2");
  assert_false(rein_curl_dont_retry_reply_for(NULL, &rp));
  assert_false(rein_curl_dont_retry_reply_for(&res, NULL));
}

/* ---- pacing ---------------------------------------------------------------
 */

static void pace_on(rein_curl_config *c) {
  c->pace = REIN_CURL_PACE_ON;
}

#define RL_EMPTY "RateLimit: \"d\";r=0;t=2\n"

static void test_pace_blocking(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, pace_on, true);
  ts_response r[] = {{200, RL_EMPTY, 0}, {200, NULL, 0}, {200, RL_EMPTY, 0}};
  ts_script(f.srv, "/x", r, 3);
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.n_sleeps, 0);
  int64_t now = rein_policy_now(f.policy);
  assert_int_equal(rein_curl_pace_ns(f.client, now), 2 * S);
  /* the next call waits for the reset, then is sent once */
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.n_sleeps, 1);
  assert_int_equal(f.sleeps[0], 2 * S);
  assert_int_equal(res.attempts, 1);
  /* that response had no RateLimit: nothing changes; then r=0 again, but
   * the call's deadline comes before the reset: sent at once */
  assert_int_equal(rein_curl_pace_ns(f.client, rein_policy_now(f.policy)), 0);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  rein_curl_opts o = {0};
  o.deadline = rein_policy_now(f.policy) + 1 * S;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_int_equal(f.n_sleeps, 1);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.paced, 1);
  assert_int_equal(st.paced_ns, 2 * S);
  fx_teardown(&f);
}

static void pace_capped(rein_curl_config *c) {
  c->pace = REIN_CURL_PACE_ON;
  c->pace_max_ns = 300 * MS;
}

static void test_pace_cap_low_and_off(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, pace_capped, true);
  /* remaining low (1 of 100): reset spread over what is left, capped */
  ts_response r[] = {
      {200, "RateLimit-Policy: \"d\";q=100;w=10\nRateLimit: \"d\";r=1;t=10\n",
       0},
      {200, "RateLimit: \"d\";r=50;t=10\n", 0}};
  ts_script(f.srv, "/x", r, 2);
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(rein_curl_pace_ns(f.client, rein_policy_now(f.policy)),
                   300 * MS);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.n_sleeps, 1);
  assert_int_equal(f.sleeps[0], 300 * MS);
  /* plenty remaining: the wait is cleared */
  assert_int_equal(rein_curl_pace_ns(f.client, rein_policy_now(f.policy)), 0);
  fx_teardown(&f);
  /* off by default (AUTO without a contract) */
  fx_setup(&f, NULL, true);
  ts_response r2[] = {{200, RL_EMPTY, 0}};
  ts_script(f.srv, "/x", r2, 1);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(rein_curl_pace_ns(f.client, rein_policy_now(f.policy)), 0);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  assert_int_equal(f.n_sleeps, 0);
  fx_teardown(&f);
}

/* Run a multi call to the end, advancing the manual clock at each wait;
 * returns the number of waits. */
static int run_multi(fx *f, rein_curl_call *call, CURLM *m,
                     rein_curl_step *st) {
  int waits = 0;
  for (int guard = 0; st->state != REIN_CURL_FINISHED && guard < 10000;
       guard++) {
    if (st->state == REIN_CURL_WAITING) {
      int64_t now = rein_policy_now(f->policy);
      /* early: keeps waiting */
      assert_int_equal(rein_curl_multi_resume(call, m, st), REIN_OK);
      assert_int_equal(st->state, REIN_CURL_WAITING);
      rein_manual_clock_advance(&f->clock, st->due_ns - now);
      waits++;
      assert_int_equal(rein_curl_multi_resume(call, m, st), REIN_OK);
      continue;
    }
    int running, left;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &left)))
      if (msg->msg == CURLMSG_DONE)
        assert_int_equal(rein_curl_multi_done(call, m, msg, st), REIN_OK);
    if (st->state == REIN_CURL_IN_FLIGHT) curl_multi_poll(m, NULL, 0, 50, NULL);
  }
  return waits;
}

static void test_pace_multi(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, pace_on, true);
  ts_response r[] = {{200, RL_EMPTY, 0}, {200, NULL, 0}};
  ts_script(f.srv, "/x", r, 2);
  CURLM *m = curl_multi_init();
  for (int i = 0; i < 2; i++) {
    rein_curl_call *call;
    assert_int_equal(rein_curl_call_new(f.client, f.easy, NULL, &call),
                     REIN_OK);
    rein_curl_step st;
    int64_t t0 = rein_policy_now(f.policy);
    assert_int_equal(rein_curl_multi_add(call, m, &st), REIN_OK);
    if (i == 1) {
      assert_int_equal(st.state, REIN_CURL_WAITING);
      assert_int_equal(st.due_ns, t0 + 2 * S);
    }
    assert_int_equal(run_multi(&f, call, m, &st), i);
    rein_curl_result res;
    rein_curl_call_result(call, &res);
    assert_int_equal(res.action, REIN_DONE);
    assert_int_equal(res.attempts, 1);
    rein_curl_call_free(call);
  }
  assert_int_equal(ts_requests(f.srv, NULL, 0), 2);
  curl_multi_cleanup(m);
  fx_teardown(&f);
}

/* ---- retention from the response ----------------------------------------- */

static void test_retention_header(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, NULL, false);
  /* The server keeps keys 1 s (rounded down from what it says), the next
   * retry would be sent 2 s after the first attempt. */
  rein_policy_free(f.policy);
  rein_curl_free(f.client);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 2 * S;
  pc.idempotent = false;
  pc.clock = rein_manual_clock_as_clock(&f.clock);
  assert_int_equal(rein_policy_new(&pc, &f.policy), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = f.policy;
  cc.sleeper.sleep_ns = fake_sleep;
  cc.sleeper.ctx = &f;
  assert_int_equal(rein_curl_new(&cc, &f.client), REIN_OK);
  ts_response r[] = {{503, "Idempotency-Key-Retention: 1\n", 0},
                     {503, "Idempotency-Key-Retention: 1\n", 0}};
  ts_script(f.srv, "/x", r, 2);
  rein_curl_result res;
  assert_int_equal(post(&f, NULL, &res), REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_RETENTION);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(f.n_sleeps, 0);
  /* a GET (idempotent, no key) is not bound by it */
  rein_curl_opts o = {0};
  o.method = "GET";
  curl_easy_setopt(f.easy, CURLOPT_HTTPGET, 1L);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  assert_int_equal(res.attempts, 2);
  fx_teardown(&f);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_derive_vectors),
      cmocka_unit_test(test_derive_on_every_attempt),
      cmocka_unit_test(test_config_validation),
      cmocka_unit_test(test_dont_retry_reply),
      cmocka_unit_test(test_pace_blocking),
      cmocka_unit_test(test_pace_cap_low_and_off),
      cmocka_unit_test(test_pace_multi),
      cmocka_unit_test(test_retention_header),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
