/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_curl_endpoints.c: endpoints per call (rein/curl.h config.endpoints,
 * config.resolve, config.endpoint_breakers) against two or three scripted
 * servers on 127.0.0.1 (tests/support-curl), each a real libmicrohttpd.
 *
 * The blocking and multi tests run the policy on a manual clock with a
 * sleeper that advances it, so breaker windows and "least recently failed"
 * are exact; the hedged test runs on the real clock. Covered: a retry goes
 * to the untried replica (path and query kept, only the origin swapped),
 * round robin of first attempts across calls, every endpoint tried ->
 * least recently failed first, a refused connection moves on (a keyless
 * POST too: NOT_SENT), a 409 in progress is polled where it came from, a
 * per-endpoint breaker skips an open replica and all open ends the call as
 * BREAKER_OPEN with nothing sent (the policy's on_give_up fired), the
 * multi driver, hedges to the other replica (and none sent when no
 * endpoint's breaker permits), a resolver (list per call,
 * bad URL and failure reported), seeded random picks, the contract's
 * breaker block as each endpoint's breaker, config errors, and
 * every allocation failing in turn.
 */
#include "rein_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl_test_server.h"
#include "rein.h"
#include "rein/contract.h"
#include "rein/curl.h"

/* ------------------------------------------------------------ fixture */

typedef struct fake_sleeper {
  rein_manual_clock *clock;
  int n;
} fake_sleeper;

static void fake_sleep(void *ctx, int64_t ns) {
  fake_sleeper *f = ctx;
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

static size_t discard(char *p, size_t s, size_t n, void *c) {
  (void)p, (void)c;
  return s * n;
}

typedef struct fx {
  ts_server *srv[2];
  char base[2][64];
  const char *eps[2];
  rein_manual_clock clock;
  fake_sleeper sleeper;
  rein_policy *policy;
  rein_curl *client;
  rein_curl_config cc;
  logcap log;
  CURL *easy;
} fx;

/* Two servers, a policy of `attempts` (constant 100 ms backoff, no jitter)
 * on a manual clock, a client with both as endpoints (cc kept for
 * variations: call fx_client again after changing f->cc). */
static void fx_client(fx *f) {
  rein_curl_free(f->client);
  f->client = NULL;
  assert_int_equal(rein_curl_new(&f->cc, &f->client), REIN_OK);
}

static void fx_setup(fx *f, uint32_t attempts, rein_breaker *breaker) {
  memset(f, 0, sizeof *f);
  for (int i = 0; i < 2; i++) {
    f->srv[i] = ts_start();
    assert_non_null(f->srv[i]);
    snprintf(f->base[i], sizeof f->base[i], "http://127.0.0.1:%d",
             ts_port(f->srv[i]));
    f->eps[i] = f->base[i];
  }
  rein_manual_clock_init(&f->clock, 1000 * REIN_NS_PER_S);
  f->sleeper.clock = &f->clock;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.name = "endpoints";
  pc.max_attempts = attempts;
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 100 * REIN_NS_PER_MS;
  pc.clock = rein_manual_clock_as_clock(&f->clock);
  pc.breaker = breaker;
  assert_int_equal(rein_policy_new(&pc, &f->policy), REIN_OK);
  rein_curl_config_default(&f->cc);
  f->cc.policy = f->policy;
  f->cc.sleeper.sleep_ns = fake_sleep;
  f->cc.sleeper.ctx = &f->sleeper;
  f->cc.log = cap_log;
  f->cc.log_ctx = &f->log;
  f->cc.endpoints = f->eps;
  f->cc.endpoint_count = 2;
  fx_client(f);
  f->easy = curl_easy_init();
  assert_non_null(f->easy);
  curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, discard);
  /* any origin: each attempt's endpoint replaces it */
  curl_easy_setopt(f->easy, CURLOPT_URL, "http://127.0.0.1:1/p?x=1&y=2");
}

static void fx_teardown(fx *f) {
  curl_easy_cleanup(f->easy);
  rein_curl_free(f->client);
  rein_policy_free(f->policy);
  for (int i = 0; i < 2; i++)
    ts_stop(f->srv[i]);
}

static void script_n(ts_server *s, const char *path, int status, int n) {
  for (int i = 0; i < n; i++) {
    ts_response r = {status, NULL, 0};
    ts_script(s, path, &r, 1);
  }
}

static void assert_trail(const rein_curl_result *r, const int *want,
                         uint32_t n) {
  if (r->attempts != n)
    fail_msg("%u attempts, want %u (%s)", r->attempts, n,
             rein_giveup_name(r->reason));
  for (uint32_t k = 0; k < n; k++)
    if (r->trail[k] != want[k])
      fail_msg("attempt %u went to endpoint %u, want %d", k + 1, r->trail[k],
               want[k]);
  for (uint32_t k = n; k < REIN_CURL_TRAIL_MAX; k++)
    assert_int_equal(r->trail[k], 0xff);
  assert_int_equal(r->endpoint, want[n - 1]);
}

/* ------------------------------------------------------------ blocking */

/* Replica 0 fails (503); every call succeeds: the retry goes to replica 1,
 * and a call whose first attempt is replica 1 (round robin) needs none. The
 * path and query of the handle's URL are what each replica is asked for. */
typedef struct seen_url {
  int n;
  char url[128];
} seen_url;

static void note_url(void *ctx, CURL *easy, uint32_t attempt) {
  seen_url *s = ctx;
  (void)easy, (void)attempt;
  s->n++;
}

static void test_retry_goes_elsewhere(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  script_n(f.srv[0], "/p", 503, 10);
  rein_curl_result res;
  for (int call = 0; call < 4; call++) {
    seen_url seen = {0, {0}};
    rein_curl_opts o = {0};
    o.on_attempt = note_url;
    o.on_attempt_ctx = &seen;
    assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.endpoint_count, 2);
    if (call % 2 == 0) {
      static const int want[] = {0, 1};
      assert_trail(&res, want, 2);
      assert_int_equal(res.endpoints_tried, 3);
    } else {
      static const int want[] = {1};
      assert_trail(&res, want, 1);
      assert_int_equal(res.endpoints_tried, 2);
    }
    assert_int_equal(seen.n, (int)res.attempts);
  }
  ts_request q[16];
  assert_int_equal(ts_requests(f.srv[0], q, 16), 2);
  assert_int_equal(ts_requests(f.srv[1], q, 16), 4);
  for (int i = 0; i < 4; i++) {
    assert_string_equal(q[i].path, "/p");
    assert_string_equal(q[i].arg_x, "1"); /* the query kept */
  }
  assert_int_equal(ts_requests(f.srv[0], q, 16), 2);
  assert_string_equal(q[1].arg_x, "1");
  fx_teardown(&f);
}

/* Both fail: attempts alternate (untried first, then the least recently
 * failed), and the call gives up after max_attempts. */
static void test_least_recently_failed(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 5, NULL);
  script_n(f.srv[0], "/p", 500, 10);
  script_n(f.srv[1], "/p", 500, 10);
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_MAX_ATTEMPTS);
  static const int want[] = {0, 1, 0, 1, 0};
  assert_trail(&res, want, 5);
  /* three endpoints, the second refusing connections: a keyless POST
   * (NOT_SENT is safe to retry) goes on to the third */
  int closed = ts_closed_port();
  char b3[64];
  snprintf(b3, sizeof b3, "http://127.0.0.1:%d", closed);
  const char *three[] = {f.base[0], b3, f.base[1]};
  f.cc.endpoints = three;
  f.cc.endpoint_count = 3;
  f.cc.keys = REIN_CURL_KEYS_NONE;
  fx_client(&f);
  script_n(f.srv[0], "/p", 200, 0);
  rein_curl_opts o = {0};
  o.method = "POST";
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "{}");
  /* call 1 starts at endpoint 0 (500: a keyless POST is not retried) */
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  /* call 2 starts at endpoint 1: refused, then endpoint 2 (500 again) */
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res),
                   REIN_EGAVEUP);
  static const int want2[] = {1, 2};
  assert_trail(&res, want2, 2);
  assert_int_equal(res.reason, REIN_GIVEUP_NON_IDEMPOTENT);
  fx_teardown(&f);
}

/* A 409 in progress to a keyed request is polled at the replica that has
 * the key, not at the untried one. */
static void test_in_progress_sticks(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  ts_response r[] = {{409, "Retry-After: 1\n", 0}, {201, NULL, 0}};
  ts_script(f.srv[0], "/p", r, 2);
  rein_curl_opts o = {0};
  o.method = "POST";
  curl_easy_setopt(f.easy, CURLOPT_POSTFIELDS, "{}");
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &res), REIN_OK);
  static const int want[] = {0, 0};
  assert_trail(&res, want, 2);
  assert_int_equal(res.http_status, 201);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ breakers */

typedef struct events {
  int give_ups;
  rein_giveup last;
} events;

static void on_give_up(void *ctx, const rein_retry_event *ev) {
  events *e = ctx;
  e->give_ups++;
  e->last = ev->reason;
}

static void test_endpoint_breakers(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  /* the policy again, with an event to see the refusal */
  events ev = {0, REIN_GIVEUP_NONE};
  rein_policy_config pc = *rein_policy_get_config(f.policy);
  pc.on_give_up = on_give_up;
  pc.event_ctx = &ev;
  rein_policy *p2;
  assert_int_equal(rein_policy_new(&pc, &p2), REIN_OK);
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.window = REIN_BREAKER_WINDOW_COUNT;
  bc.window_size = 4;
  bc.min_calls = 2;
  bc.failure_rate = 0.5;
  bc.open_ns = 60 * REIN_NS_PER_S;
  f.cc.policy = p2;
  f.cc.endpoint_breakers = true;
  f.cc.endpoint_breaker = &bc;
  fx_client(&f);
  script_n(f.srv[0], "/p", 503, 100);
  rein_curl_result res;
  /* calls 1 and 3 start at replica 0 and fail over; then its breaker
   * (2 failures of 2) is open */
  for (int call = 0; call < 4; call++)
    assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                     REIN_OK);
  rein_curl_stats st;
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.endpoint_skips, 0);
  /* call 5 would start at replica 0: skipped, straight to replica 1 */
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  static const int want[] = {1};
  assert_trail(&res, want, 1);
  rein_curl_get_stats(f.client, &st);
  assert_int_equal(st.endpoint_skips, 1);
  ts_request q[64];
  assert_int_equal(ts_requests(f.srv[0], q, 64), 2);
  /* replica 1 fails too: its breaker opens after two failures */
  script_n(f.srv[1], "/p", 503, 100);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  /* replica 1 twice (its breaker opens after the second 503), replica 0
   * skipped each time; then none is left: BREAKER_OPEN */
  static const int want2[] = {1, 1};
  assert_trail(&res, want2, 2);
  assert_int_equal(res.reason, REIN_GIVEUP_BREAKER_OPEN);
  /* both open: nothing sent, the policy's breaker refusal */
  size_t before = ts_requests(f.srv[1], q, 64);
  ev.give_ups = 0;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_true(res.dont_retry);
  assert_int_equal(res.attempts, 0);
  assert_int_equal(res.endpoint, -1);
  assert_int_equal(ts_requests(f.srv[1], q, 64), before);
  assert_int_equal(ev.give_ups, 1);
  assert_int_equal(ev.last, REIN_GIVEUP_BREAKER_OPEN);
  rein_curl_get_stats(f.client, &st);
  assert_true(st.endpoint_refusals >= 2);
  /* after open_ns (+ up to 20% jitter) the breakers let probes through */
  rein_manual_clock_advance(&f.clock, 80 * REIN_NS_PER_S); /* + jitter */
  script_n(f.srv[0], "/p", 200, 0);
  ts_response ok = {200, NULL, 0};
  for (int i = 0; i < 8; i++)
    ts_script(f.srv[0], "/p", &ok, 1);
  rein_curl_perform_ex(f.client, f.easy, NULL, &res);
  assert_true(res.attempts >= 1);
  rein_curl_free(f.client);
  f.client = NULL;
  rein_policy_free(p2);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ multi */

static void run_multi(fx *f, rein_curl_call *call, rein_curl_step *st) {
  CURLM *m = curl_multi_init();
  assert_int_equal(rein_curl_multi_add(call, m, st), REIN_OK);
  for (int spins = 0; st->state != REIN_CURL_FINISHED && spins < 10000;
       spins++) {
    if (st->state == REIN_CURL_WAITING) {
      int64_t now = rein_manual_clock_get(&f->clock);
      if (now < st->due_ns)
        rein_manual_clock_advance(&f->clock, st->due_ns - now);
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
  assert_int_equal(st->state, REIN_CURL_FINISHED);
  curl_multi_cleanup(m);
}

static void test_multi_endpoints(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  script_n(f.srv[0], "/p", 503, 10);
  for (int i = 0; i < 2; i++) {
    rein_curl_call *call;
    assert_int_equal(rein_curl_call_new(f.client, f.easy, NULL, &call),
                     REIN_OK);
    rein_curl_step st;
    run_multi(&f, call, &st);
    rein_curl_result res;
    rein_curl_call_result(call, &res);
    assert_int_equal(res.action, REIN_DONE);
    if (i == 0) {
      static const int want[] = {0, 1};
      assert_trail(&res, want, 2);
    } else {
      static const int want[] = {1};
      assert_trail(&res, want, 1);
    }
    rein_curl_call_free(call);
  }
  /* an early resume changes nothing (no pick before the wait is over) */
  rein_curl_call *call;
  assert_int_equal(rein_curl_call_new(f.client, f.easy, NULL, &call), REIN_OK);
  CURLM *m = curl_multi_init();
  rein_curl_step st;
  assert_int_equal(rein_curl_multi_add(call, m, &st), REIN_OK);
  while (st.state == REIN_CURL_IN_FLIGHT) {
    int running, left;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(m, &left)))
      if (msg->msg == CURLMSG_DONE) rein_curl_multi_done(call, m, msg, &st);
    if (st.state == REIN_CURL_IN_FLIGHT) curl_multi_poll(m, NULL, 0, 50, NULL);
  }
  assert_int_equal(st.state, REIN_CURL_WAITING); /* replica 0's 503 */
  assert_int_equal(rein_curl_multi_resume(call, m, &st), REIN_OK);
  assert_int_equal(st.state, REIN_CURL_WAITING);
  rein_manual_clock_advance(&f.clock, 100 * REIN_NS_PER_MS);
  assert_int_equal(rein_curl_multi_resume(call, m, &st), REIN_OK);
  assert_int_equal(st.state, REIN_CURL_IN_FLIGHT);
  rein_curl_call_free(call); /* in flight: removed, handle restored */
  curl_multi_cleanup(m);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ hedged */

typedef struct bodycap {
  char b[64];
  size_t n;
} bodycap;

static size_t cap_body(char *p, size_t s, size_t n, void *ctx) {
  bodycap *c = ctx;
  size_t len = s * n, room = sizeof c->b - 1 - c->n;
  memcpy(c->b + c->n, p, len < room ? len : room);
  c->n += len < room ? len : room;
  return len;
}

static void test_hedge_elsewhere(void **state) {
  (void)state;
  ts_server *srv[2];
  char base[2][64];
  const char *eps[2];
  for (int i = 0; i < 2; i++) {
    srv[i] = ts_start();
    assert_non_null(srv[i]);
    snprintf(base[i], sizeof base[i], "http://127.0.0.1:%d", ts_port(srv[i]));
    eps[i] = base[i];
  }
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 1;
  pc.attempt_timeout_ns = 2 * REIN_NS_PER_S;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.max_attempts = 2;
  hc.delay_ns = 100 * REIN_NS_PER_MS;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  cc.hedge = &hc;
  cc.endpoints = eps;
  cc.endpoint_count = 2;
  rein_curl *c;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://x.invalid/h?q=1");
  ts_response slow = {200, NULL, 700};
  ts_script(srv[0], "/h", &slow, 1);
  bodycap body = {{0}, 0};
  rein_curl_opts o = {0};
  o.write_fn = cap_body;
  o.write_ctx = &body;
  rein_curl_result res;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  clock_gettime(CLOCK_MONOTONIC, &b);
  int64_t took = (b.tv_sec - a.tv_sec) * REIN_NS_PER_S + b.tv_nsec - a.tv_nsec;
  if (took >= 500 * REIN_NS_PER_MS)
    fail_msg("hedged call took %lld ms (replica 0: 700)",
             (long long)(took / REIN_NS_PER_MS));
  assert_int_equal(res.attempts, 2);
  static const int want[] = {0, 1};
  assert_trail(&res, want, 2);
  assert_string_equal(body.b, "ok");
  ts_request q[4];
  assert_int_equal(ts_requests(srv[0], q, 4), 1);
  assert_int_equal(ts_requests(srv[1], q, 4), 1);
  assert_string_equal(q[0].path, "/h");
  /* the caller's handle points at its own URL again */
  curl_easy_cleanup(e);
  rein_curl_free(c);

  /* three attempts: replica 0 slow, the hedge to replica 1 fails at once,
   * the third goes back to replica 1 (it failed; replica 0 is still in
   * flight, which comes last) and wins */
  hc.max_attempts = 3;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://x.invalid/h3");
  ts_script(srv[0], "/h3", &slow, 1);
  ts_response r1[] = {{500, NULL, 0}, {201, NULL, 0}};
  ts_script(srv[1], "/h3", r1, 2);
  body.n = 0;
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.http_status, 201);
  static const int want3[] = {0, 1, 1};
  assert_trail(&res, want3, 3);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  hc.max_attempts = 2;

  /* hedging with endpoint breakers, both forced open: nothing is sent */
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.window = REIN_BREAKER_WINDOW_COUNT;
  bc.window_size = 2;
  bc.min_calls = 1;
  bc.open_ns = 60 * REIN_NS_PER_S;
  cc.endpoint_breakers = true;
  cc.endpoint_breaker = &bc;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://x.invalid/h");
  ts_response fail[] = {{500, NULL, 0}, {500, NULL, 0}};
  ts_script(srv[0], "/h", fail, 2);
  ts_script(srv[1], "/h", fail, 2);
  /* one call: 500 at replica 0 (non-fatal: hedge at once) then replica 1 */
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EGAVEUP);
  static const int want2[] = {0, 1};
  assert_trail(&res, want2, 2);
  size_t n0 = ts_requests(srv[0], q, 4), n1 = ts_requests(srv[1], q, 4);
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_int_equal(res.attempts, 0);
  assert_int_equal(ts_requests(srv[0], q, 4), n0);
  assert_int_equal(ts_requests(srv[1], q, 4), n1);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  rein_policy_free(p);
  for (int i = 0; i < 2; i++)
    ts_stop(srv[i]);
}

/* A hedge that finds every endpoint's breaker refusing is not sent: the
 * call goes on with what is in flight. Replica 1's breaker is open again
 * (its half-open probe failed) and replica 0's only probe is the slow
 * attempt in flight, so the third attempt has nowhere to go. */
static void test_hedge_no_endpoint_left(void **state) {
  (void)state;
  ts_server *srv[2];
  char base[2][64];
  const char *eps[2];
  for (int i = 0; i < 2; i++) {
    srv[i] = ts_start();
    assert_non_null(srv[i]);
    snprintf(base[i], sizeof base[i], "http://127.0.0.1:%d", ts_port(srv[i]));
    eps[i] = base[i];
  }
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 1;
  pc.attempt_timeout_ns = 3 * REIN_NS_PER_S;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_hedge_config hc;
  rein_hedge_config_default(&hc);
  hc.max_attempts = 3;
  hc.delay_ns = 100 * REIN_NS_PER_MS;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.window = REIN_BREAKER_WINDOW_COUNT;
  bc.window_size = 2;
  bc.min_calls = 1;
  bc.open_ns = 1 * REIN_NS_PER_S;
  bc.open_jitter = 0;
  bc.half_open_probes = 1;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  cc.hedge = &hc;
  cc.endpoints = eps;
  cc.endpoint_count = 2;
  cc.endpoint_breakers = true;
  cc.endpoint_breaker = &bc;
  rein_curl *c;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://x.invalid/h");
  bodycap body = {{0}, 0};
  rein_curl_opts o = {0};
  o.write_fn = cap_body;
  o.write_ctx = &body;
  rein_curl_result res;
  /* call 1: 500 at replica 0, a hedge at once to replica 1, 500: both
   * open */
  ts_response fail = {500, NULL, 0};
  ts_script(srv[0], "/h", &fail, 1);
  ts_script(srv[1], "/h", &fail, 1);
  ts_script(srv[1], "/h", &fail, 1); /* for call 2's probe */
  ts_response slow = {200, NULL, 700};
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EGAVEUP);
  assert_int_equal(res.attempts, 2);
  /* the third attempt found both open, nothing in flight: the call ends
   * as a breaker refusal */
  assert_int_equal(res.reason, REIN_GIVEUP_BREAKER_OPEN);
  assert_true(res.dont_retry);
  rein_curl_stats st;
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.endpoint_skips, 2);
  struct timespec pause = {1, 100 * 1000 * 1000};
  nanosleep(&pause, NULL); /* both half-open */
  ts_script(srv[0], "/h", &slow, 1);
  /* call 2 starts at replica 1 (its probe: 500, open again), hedges at
   * once to replica 0 (its probe: slow), and after 100 ms has no endpoint
   * for the third attempt */
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_OK);
  assert_int_equal(res.http_status, 200);
  static const int want[] = {1, 0};
  assert_trail(&res, want, 2);
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.endpoint_skips, 4); /* attempt 3: both refused */
  ts_request q[8];
  assert_int_equal(ts_requests(srv[0], q, 8), 2);
  assert_int_equal(ts_requests(srv[1], q, 8), 2);
  curl_easy_cleanup(e);
  rein_curl_free(c);
  rein_policy_free(p);
  for (int i = 0; i < 2; i++)
    ts_stop(srv[i]);
}

/* ------------------------------------------------------------ resolver */

typedef struct resolver {
  const char *list[4];
  int n; /* < 0: fail */
  int calls;
} resolver;

static int resolve(void *ctx, const char **out, size_t cap) {
  resolver *r = ctx;
  r->calls++;
  if (r->n < 0) return -1;
  for (int i = 0; i < r->n && (size_t)i < cap; i++)
    out[i] = r->list[i];
  return r->n;
}

static void test_resolver(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  script_n(f.srv[0], "/p", 503, 10);
  resolver rv = {{f.base[1], f.base[0]}, 2, 0};
  f.cc.endpoints = NULL;
  f.cc.endpoint_count = 0;
  f.cc.resolve = resolve;
  f.cc.resolve_ctx = &rv;
  fx_client(&f);
  rein_curl_result res;
  /* list [1, 0]: call 1 starts at index 0 (replica 1), call 2 at index 1
   * (replica 0: 503) and moves to index 0 */
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  static const int want1[] = {0};
  assert_trail(&res, want1, 1);
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  static const int want2[] = {1, 0};
  assert_trail(&res, want2, 2);
  assert_int_equal(rv.calls, 2);
  /* none: the handle's URL as it is (127.0.0.1:1: refused) */
  rv.n = 0;
  rein_curl_perform_ex(f.client, f.easy, NULL, &res);
  assert_int_equal(res.endpoint_count, 0);
  assert_int_equal(res.endpoint, -1);
  assert_int_equal(res.last, REIN_OUTCOME_NOT_SENT);
  /* a bad URL and a failing resolver: nothing sent, said in the log */
  rv.n = 1;
  rv.list[0] = "http://127.0.0.1:1/with/path";
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_EINVAL);
  assert_non_null(strstr(f.log.last, "with/path"));
  assert_non_null(strstr(f.log.last, "resolved endpoint 0"));
  rv.n = -1;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res),
                   REIN_ENOTFOUND);
  assert_non_null(strstr(f.log.last, "resolver failed"));
  rein_curl_call *call = NULL;
  assert_int_equal(rein_curl_call_new(f.client, f.easy, NULL, &call),
                   REIN_ENOTFOUND);
  assert_null(call);
  fx_teardown(&f);
}

/* PICK_RANDOM: the same seed picks the same first endpoint. */
static void test_random_pick(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 1, NULL);
  f.cc.endpoint_pick = REIN_CURL_PICK_RANDOM;
  fx_client(&f);
  uint32_t seen = 0;
  for (uint64_t seed = 1; seed <= 16; seed++) {
    rein_curl_opts o = {0};
    o.seed = seed;
    rein_curl_result r1, r2;
    assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &r1), REIN_OK);
    assert_int_equal(rein_curl_perform_ex(f.client, f.easy, &o, &r2), REIN_OK);
    assert_int_equal(r1.endpoint, r2.endpoint);
    seen |= 1u << r1.endpoint;
  }
  assert_int_equal(seen, 3); /* both are picked by some seed */
  fx_teardown(&f);
}

/* ------------------------------------------------------------ contract */

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* From a contract, endpoint_breakers takes the contract's breaker block:
 * here 2 calls, open 300 ms, so replica 0 is skipped after two failures
 * and probed again 400 ms later (the default breaker: 20 calls, 5 s). */
static void test_contract_breakers(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 3, NULL);
  char dir[] = "/tmp/rein-ep-contract.XXXXXX";
  assert_non_null(mkdtemp(dir));
  char svc[96], cli[96];
  snprintf(svc, sizeof svc, "%s/svc.yaml", dir);
  snprintf(cli, sizeof cli, "%s/cli.yaml", dir);
  write_file(svc, "service: svc\nversion: 2024-06-01\noperations:\n"
                  "  get:\n    idempotency: natural\n    timeout: 1s\n");
  write_file(cli, "service: cli\nversion: 2024-06-01\ncalls:\n"
                  "  - to: svc.get\n    timeout: 1s\n    retry:\n"
                  "      attempts: 3\n"
                  "      backoff: {kind: constant, base: 10ms, jitter: none}\n"
                  "      when: [503]\n"
                  "      breaker: {window_kind: calls, window_calls: 4, "
                  "min_calls: 2, failure_rate: 0.9, open: 300ms, "
                  "open_jitter: 0}\n");
  const char *paths[] = {dir};
  rein_contract_set *set = NULL;
  rein_errbuf eb = {{0}};
  rein_contract_config ccfg;
  rein_contract_config_default(&ccfg);
  ccfg.err = &eb;
  if (rein_contract_load(&ccfg, paths, 1, &set) != REIN_OK)
    fail_msg("contract: %s", eb.msg);
  rein_curl_config base = f.cc;
  base.policy = NULL;
  base.err = &eb;
  base.endpoint_breakers = true;
  rein_curl *c = NULL;
  rein_clock clk = rein_manual_clock_as_clock(&f.clock);
  if (rein_curl_new_from_contract(&base, set, "cli", "svc.get", NULL, &clk,
                                  &c) != REIN_OK)
    fail_msg("client: %s", eb.msg);
  script_n(f.srv[0], "/p", 503, 100);
  rein_curl_result res;
  /* calls 1 and 3 start on replica 0 (503) and move on: two failures */
  for (int i = 0; i < 4; i++)
    assert_int_equal(rein_curl_perform_ex(c, f.easy, NULL, &res), REIN_OK);
  rein_curl_stats st;
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.endpoint_skips, 0);
  /* the contract's breaker (2 calls): replica 0 skipped now */
  assert_int_equal(rein_curl_perform_ex(c, f.easy, NULL, &res), REIN_OK);
  rein_curl_get_stats(c, &st);
  assert_int_equal(st.endpoint_skips, 1);
  static const int want[] = {1};
  assert_trail(&res, want, 1);
  /* 400 ms later (open: 300ms) a call starting there probes it */
  rein_manual_clock_advance(&f.clock, 400 * REIN_NS_PER_MS);
  rein_curl_perform_ex(c, f.easy, NULL, &res); /* starts on replica 1 */
  assert_int_equal(rein_curl_perform_ex(c, f.easy, NULL, &res), REIN_OK);
  static const int want2[] = {0, 1};
  assert_trail(&res, want2, 2);
  rein_curl_free(c);
  rein_contract_set_free(set);
  remove(svc);
  remove(cli);
  rmdir(dir);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ config */

static void test_config_errors(void **state) {
  (void)state;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_errbuf e = {{0}};
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  assert_int_equal(cc.endpoint_pick, REIN_CURL_PICK_ROUND_ROBIN);
  assert_false(cc.endpoint_breakers);
  cc.policy = p;
  cc.err = &e;
  rein_curl *c = NULL;
  static const struct {
    const char *url, *want;
  } bad[] = {
      {"http://127.0.0.1:80/x", "has a path"},
      {"http://127.0.0.1:80?q=1", "has a query"},
      {"http://u:pw@127.0.0.1:80", "credentials"},
      {"127.0.0.1:80", "curl.endpoints[1]"},
      {"http://127.0.0.1:8080", "the same endpoint"},
      {"http://[::1", "curl.endpoints[1]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *eps[] = {"http://127.0.0.1:8080", bad[i].url};
    cc.endpoints = eps;
    cc.endpoint_count = 2;
    e.msg[0] = 0;
    assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
    assert_null(c);
    if (!strstr(e.msg, bad[i].want) || !strstr(e.msg, "curl.endpoints[1]"))
      fail_msg("%s: message \"%s\", want \"%s\"", bad[i].url, e.msg,
               bad[i].want);
  }
  const char *many[REIN_CURL_ENDPOINTS_MAX + 1];
  cc.endpoints = many;
  cc.endpoint_count = REIN_CURL_ENDPOINTS_MAX + 1;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.endpoint_count"));
  cc.endpoints = NULL;
  cc.endpoint_count = 1;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  cc.endpoint_count = 0;
  cc.endpoint_pick = (rein_curl_pick)5;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "curl.endpoint_pick"));
  cc.endpoint_pick = REIN_CURL_PICK_ROUND_ROBIN;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  bc.failure_rate = 2;
  cc.endpoint_breakers = true;
  cc.endpoint_breaker = &bc;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "breaker.failure_rate"));
  /* a default port is the same endpoint as the explicit one */
  const char *same[] = {"http://127.0.0.1", "http://127.0.0.1:80"};
  cc.endpoint_breakers = false;
  cc.endpoints = same;
  cc.endpoint_count = 2;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_EINVAL);
  /* the easy handle without a URL: the call fails, said in the log */
  logcap lc = {0, {0}};
  const char *one[] = {"http://127.0.0.1:1"};
  cc.endpoints = one;
  cc.endpoint_count = 1;
  cc.log = cap_log;
  cc.log_ctx = &lc;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  CURL *easy = curl_easy_init();
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(c, easy, NULL, &res), REIN_EINVAL);
  assert_non_null(strstr(lc.last, "CURLOPT_URL"));
  curl_easy_cleanup(easy);
  rein_curl_free(c);
  rein_policy_free(p);
}

/* rein allocates nothing per attempt with endpoints: a blocking call of
 * five attempts across two replicas makes no allocation through the
 * client's allocator (the header list and the URL handles are libcurl's,
 * as before). */
static void test_no_alloc_per_attempt(void **state) {
  (void)state;
  fx f;
  fx_setup(&f, 5, NULL);
  rein_test_alloc ta;
  rein_test_alloc_init(&ta, -1);
  f.cc.alloc = &ta.a;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  f.cc.endpoint_breakers = true;
  f.cc.endpoint_breaker = &bc;
  fx_client(&f);
  long made = ta.count;
  script_n(f.srv[0], "/p", 500, 2); /* the fifth attempt: 200 */
  script_n(f.srv[1], "/p", 500, 2);
  rein_curl_result res;
  assert_int_equal(rein_curl_perform_ex(f.client, f.easy, NULL, &res), REIN_OK);
  static const int want[] = {0, 1, 0, 1, 0};
  assert_trail(&res, want, 5);
  assert_int_equal(ta.count, made);
  rein_curl_free(f.client);
  f.client = NULL;
  assert_int_equal(ta.live, 0);
  fx_teardown(&f);
}

/* ------------------------------------------------------------ faults */

typedef struct fault_ctx {
  rein_policy *policy;
  const char *const *eps;
} fault_ctx;

static int fault_body(void *vctx, const rein_allocator *a) {
  fault_ctx *fc = vctx;
  rein_breaker_config bc;
  rein_breaker_config_default(&bc);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = fc->policy;
  cc.alloc = a;
  cc.endpoints = fc->eps;
  cc.endpoint_count = 2;
  cc.endpoint_breakers = true;
  cc.endpoint_breaker = &bc;
  rein_curl *c = NULL;
  rein_status st = rein_curl_new(&cc, &c);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    return -1;
  }
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, "http://x.invalid/p");
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
  static const char *const eps[] = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
  fc.eps = eps;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  assert_int_equal(rein_policy_new(&pc, &fc.policy), REIN_OK);
  rein_test_fault_loop(fault_body, &fc);
  rein_policy_free(fc.policy);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_goes_elsewhere),
      cmocka_unit_test(test_least_recently_failed),
      cmocka_unit_test(test_in_progress_sticks),
      cmocka_unit_test(test_endpoint_breakers),
      cmocka_unit_test(test_multi_endpoints),
      cmocka_unit_test(test_hedge_elsewhere),
      cmocka_unit_test(test_hedge_no_endpoint_left),
      cmocka_unit_test(test_resolver),
      cmocka_unit_test(test_random_pick),
      cmocka_unit_test(test_contract_breakers),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_no_alloc_per_attempt),
      cmocka_unit_test(test_alloc_faults),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return r;
}
