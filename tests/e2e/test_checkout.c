/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_checkout.c: the retry contract enforced at run time, across real
 * processes: a shop client (rein_curl from examples/contracts/checkout,
 * in this process) -> examples/checkout -> examples/ledger.
 *
 *   derive      checkout sends the ledger rein_curl_derive_key(the shop's
 *               key, "ledger.charge"): the shop's retry, checkout's own
 *               retry (a slow ledger: timeout, 409, replay) and a checkout
 *               restart reach the ledger with the same key, one charge.
 *   dont-retry  the ledger is down (admin outage); checkout retries 3
 *               times, then answers 503 + Rein-Dont-Retry; the shop stops
 *               after one attempt, so the ledger sees at most 3 requests
 *               per payment. With checkout --no-propagate (a plain 503)
 *               the shop retries too and the ledger's load multiplies.
 *   pacing      checkout --rate-limit 2 sends RateLimit on every answer;
 *               the paced shop (the contract honours ratelimit) meets no
 *               429, the unpaced one does.
 *   retention   the ledger keeps keys 1 s (--retention-s 1): a keyed POST
 *               whose retry would be sent after 1 s gives up (retention)
 *               instead of charging twice.
 *   deadline    the shop waits 300 ms (Rein-Deadline); checkout passes
 *               what is left to the ledger, which refuses work it cannot
 *               finish in time: no charge is made after the shop gave up
 *               (under a sanitizer: a few at most, far fewer than without;
 *               see test_deadline_propagation). With checkout
 *               --no-deadline, most are.
 *
 * argv: ledger binary, checkout binary, examples/contracts/checkout.
 */
#include "checkout_proc.h"
#include "rein_test.h"
#include "rein.h"
#include "rein/contract.h"
#include "rein/curl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *LEDGER_BIN, *CHECKOUT_BIN, *CONTRACTS;
static ledger_proc g_ledger;
static checkout_proc g_checkout;
static rein_contract_set *g_set;

static int teardown(void **state) {
  (void)state;
  checkout_proc_stop(&g_checkout);
  ledger_proc_kill(&g_ledger);
  return 0;
}

static rein_curl *client_from(const char *caller, const char *to,
                              rein_curl_pace pace) {
  rein_errbuf e = {{0}};
  rein_curl_config base;
  rein_curl_config_default(&base);
  base.err = &e;
  base.pace = pace;
  rein_curl *c = NULL;
  if (rein_curl_new_from_contract(&base, g_set, caller, to, NULL, NULL, &c) !=
      REIN_OK)
    fail_msg("client %s -> %s: %s", caller, to, e.msg);
  return c;
}

static void reset_resp(void *ctx, CURL *easy, uint32_t attempt) {
  (void)easy, (void)attempt;
  memset(ctx, 0, sizeof(http_resp));
}

/* The shop pays `ref` through checkout with `key` (NULL = the client
 * mints one). */
static rein_status shop_pay(rein_curl *c, const char *key, const char *ref,
                            http_resp *r, rein_curl_result *res) {
  char url[96], body[160];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/pay", g_checkout.port);
  snprintf(body, sizeof body,
           "{\"account\":\"acct_1\",\"amount_cents\":500,\"ref\":\"%s\"}", ref);
  CURL *e = curl_easy_init();
  assert_non_null(e);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_resp_on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  rein_curl_opts o = {0};
  o.method = "POST";
  o.headers = h;
  o.idempotency_key = key;
  o.on_attempt = reset_resp;
  o.on_attempt_ctx = r;
  o.header_fn = http_resp_on_header;
  o.header_ctx = r;
  rein_status st = rein_curl_perform_ex(c, e, &o, res);
  curl_easy_cleanup(e);
  curl_slist_free_all(h);
  return st;
}

/* The value of header `name` in r (trimmed) into out; false when absent. */
static bool header_value(const http_resp *r, const char *name, char *out,
                         size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = r->headers; *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ')
        v++;
      size_t vl = (size_t)(p + len - v);
      while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
        vl--;
      snprintf(out, cap, "%.*s", (int)vl, v);
      return true;
    }
    if (!eol) break;
    p = eol + 1;
  }
  return false;
}

static long json_int(const char *body, const char *field) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", field);
  const char *p = strstr(body, pat);
  return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

static char *auth(const char *principal) {
  static char buf[2][200];
  static int i;
  i ^= 1;
  return ledger_proc_auth_header(principal, buf[i], sizeof buf[i]);
}

static void outage(unsigned seconds) {
  char path[64];
  snprintf(path, sizeof path, "/admin/outage?seconds=%u", seconds);
  http_resp r;
  assert_int_equal(test_http(g_ledger.port, path, auth("_admin"), "", &r), 200);
}

/* ---- two-hop key derivation ---------------------------------------------- */

static void test_derive_two_hops(void **state) {
  (void)state;
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-derive", NULL);
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      NULL);
  /* The contract's key_ttl bounds checkout's keyed retries (step 5a). */
  rein_curl *mid =
      client_from("checkout", "ledger.charge", REIN_CURL_PACE_AUTO);
  assert_int_equal(
      rein_policy_get_config(rein_curl_policy(mid))->key_retention_ns,
      24 * 3600 * REIN_NS_PER_S);
  rein_curl_free(mid);

  rein_curl *shop = client_from("shop", "checkout.pay", REIN_CURL_PACE_AUTO);
  const char *K = "order-2026-0001";
  char D[REIN_CURL_DERIVED_KEY_LEN + 1], got[128];
  assert_int_equal(rein_curl_derive_key(K, "ledger.charge", NULL, 0, D),
                   REIN_OK);
  static http_resp r;
  rein_curl_result res;
  assert_int_equal(shop_pay(shop, K, "o-1", &r, &res), REIN_OK);
  assert_int_equal(res.http_status, 201);
  assert_true(header_value(&r, "Checkout-Ledger-Key", got, sizeof got));
  assert_string_equal(got, D);
  assert_non_null(strstr(r.body, D)); /* the ledger's row has key D */
  long id = json_int(r.body, "id");
  assert_true(id > 0);

  /* The shop retries the same payment (its answer was lost): same key
   * downstream, the ledger replays. */
  assert_int_equal(shop_pay(shop, K, "o-1", &r, &res), REIN_OK);
  assert_int_equal(json_int(r.body, "id"), id);
  /* checkout restarts: nothing stored there, the key is derived again. */
  checkout_proc_stop(&g_checkout);
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      NULL);
  assert_int_equal(shop_pay(shop, K, "o-1", &r, &res), REIN_OK);
  assert_int_equal(json_int(r.body, "id"), id);
  assert_true(header_value(&r, "Checkout-Ledger-Key", got, sizeof got));
  assert_string_equal(got, D);
  /* Another payment: another key, another charge. */
  assert_int_equal(shop_pay(shop, "order-2026-0002", "o-2", &r, &res), REIN_OK);
  assert_true(json_int(r.body, "id") > id);

  char path[128];
  snprintf(path, sizeof path, "/charges?key=%s", D);
  assert_int_equal(test_http(g_ledger.port, path, auth("checkout"), NULL, &r),
                   200);
  assert_int_equal(json_int(r.body, "count"), 1);
  assert_int_equal(
      test_http(g_ledger.port, "/charges", auth("checkout"), NULL, &r), 200);
  assert_int_equal(json_int(r.body, "count"), 2);
  printf("derive: 4 payments, 2 keys -> %ld charges; key %s -> %s\n",
         json_int(r.body, "count"), K, D);
  rein_curl_free(shop);
  checkout_proc_stop(&g_checkout);
  ledger_proc_stop(&g_ledger);
}

/* The middle hop retries: the ledger works 1.2 s, checkout's attempt times
 * out at 800 ms and asks again with the same derived key (409 in progress,
 * then the replay). One charge, under the derived key. */
static void test_derive_middle_retry(void **state) {
  (void)state;
  const char *slow[] = {"--work-ms", "1200", "--lease-ms", "2000", NULL};
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-mid", slow);
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      NULL);
  rein_policy_config pc; /* one patient attempt: only checkout retries */
  rein_policy_config_default(&pc);
  pc.max_attempts = 1;
  pc.attempt_timeout_ns = 10 * REIN_NS_PER_S;
  pc.idempotent = false;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  rein_curl *shop;
  assert_int_equal(rein_curl_new(&cc, &shop), REIN_OK);
  static http_resp r;
  rein_curl_result res;
  assert_int_equal(shop_pay(shop, "order-mid-1", "m-1", &r, &res), REIN_OK);
  assert_int_equal(res.http_status, 201);
  char D[REIN_CURL_DERIVED_KEY_LEN + 1], got[128];
  rein_curl_derive_key("order-mid-1", "ledger.charge", NULL, 0, D);
  assert_true(header_value(&r, "Checkout-Ledger-Key", got, sizeof got));
  assert_string_equal(got, D);
  uint64_t mid = test_metric(g_checkout.port, "checkout_ledger_attempts_total");
  uint64_t charges = test_metric(g_ledger.port, "rein_ledger_charges_total");
  printf("derive, checkout retrying: %llu ledger attempts with key %s, %llu "
         "charge\n",
         (unsigned long long)mid, D, (unsigned long long)charges);
  assert_true(mid >= 2);
  assert_int_equal(charges, 1);
  rein_curl_free(shop);
  rein_policy_free(p);
  checkout_proc_stop(&g_checkout);
  ledger_proc_stop(&g_ledger);
}

/* ---- don't retry, across three processes --------------------------------- */

/* N payments during a ledger outage; returns the ledger requests they
 * caused and the shop's attempts. */
static void pay_during_outage(int n, bool propagated, uint64_t *ledger_reqs,
                              uint64_t *shop_attempts) {
  rein_curl *shop = client_from("shop", "checkout.pay", REIN_CURL_PACE_AUTO);
  uint64_t before =
      test_metric(g_ledger.port, "rein_ledger_outage_failures_total");
  *shop_attempts = 0;
  for (int i = 0; i < n; i++) {
    static http_resp r;
    rein_curl_result res;
    char ref[32];
    snprintf(ref, sizeof ref, "out-%d-%d", propagated, i);
    assert_int_equal(shop_pay(shop, NULL, ref, &r, &res), REIN_EGAVEUP);
    assert_int_equal(res.http_status, 503);
    if (propagated) {
      assert_int_equal(res.reason, REIN_GIVEUP_SERVER_STOP);
      assert_int_equal(res.attempts, 1);
    } else {
      assert_int_equal(res.reason, REIN_GIVEUP_MAX_ATTEMPTS);
    }
    *shop_attempts += res.attempts;
  }
  *ledger_reqs =
      test_metric(g_ledger.port, "rein_ledger_outage_failures_total") - before;
  rein_curl_free(shop);
}

static void test_dont_retry_three_processes(void **state) {
  (void)state;
  enum { N = 4 };
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-stop", NULL);
  outage(300);
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      NULL);
  uint64_t led, shop_att;
  pay_during_outage(N, true, &led, &shop_att);
  uint64_t replies =
      test_metric(g_checkout.port, "checkout_dont_retry_replies_total");
  uint64_t mid = test_metric(g_checkout.port, "checkout_ledger_attempts_total");
  checkout_proc_stop(&g_checkout);
  printf("dont-retry propagated: %d payments, shop attempts %llu, checkout "
         "attempts %llu, ledger requests %llu\n",
         N, (unsigned long long)shop_att, (unsigned long long)mid,
         (unsigned long long)led);
  assert_int_equal(shop_att, N);
  assert_int_equal(replies, N);
  assert_int_equal(led, mid); /* every ledger request is a checkout attempt */
  assert_true(led >= N && led <= 3 * N); /* checkout's retries only */

  /* The control: checkout answers a plain 503; the shop retries each one. */
  const char *plain[] = {"--no-propagate", NULL};
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      plain);
  uint64_t led2, shop_att2;
  pay_during_outage(N, false, &led2, &shop_att2);
  checkout_proc_stop(&g_checkout);
  printf("dont-retry not propagated: shop attempts %llu, ledger requests "
         "%llu (%.1fx)\n",
         (unsigned long long)shop_att2, (unsigned long long)led2,
         (double)led2 / (double)led);
  assert_int_equal(shop_att2, 3 * N);
  assert_true(led2 > 3 * N);
  assert_true(led2 >= 2 * led);
  ledger_proc_stop(&g_ledger);
}

/* ---- proactive pacing by RateLimit --------------------------------------- */

static uint64_t pay_many(rein_curl *shop, int n, const char *tag) {
  const char *name = "checkout_responses_total{code=\"429\"}";
  uint64_t before = test_metric(g_checkout.port, name);
  for (int i = 0; i < n; i++) {
    static http_resp r;
    rein_curl_result res;
    char ref[32];
    snprintf(ref, sizeof ref, "%s-%d", tag, i);
    rein_status st = shop_pay(shop, NULL, ref, &r, &res);
    if (st != REIN_OK)
      fail_msg("%s payment %d: %s after %u attempts, status %ld", tag, i,
               rein_giveup_name(res.reason), res.attempts, res.http_status);
  }
  return test_metric(g_checkout.port, name) - before;
}

static void test_pacing(void **state) {
  (void)state;
  enum { M = 8 };
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-pace", NULL);
  const char *rl[] = {"--rate-limit", "2", NULL};
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port, rl);
  /* The contract honours ratelimit: pacing is on (AUTO). */
  rein_curl *paced = client_from("shop", "checkout.pay", REIN_CURL_PACE_AUTO);
  uint64_t p429 = pay_many(paced, M, "paced");
  rein_curl_stats ps;
  rein_curl_get_stats(paced, &ps);
  rein_test_sleep_ms(1500); /* the bucket fills again */
  rein_curl *unpaced = client_from("shop", "checkout.pay", REIN_CURL_PACE_OFF);
  uint64_t u429 = pay_many(unpaced, M, "unpaced");
  rein_curl_stats us;
  rein_curl_get_stats(unpaced, &us);
  printf("pacing (2 req/s): paced %d payments, %llu waits (%.1f s), %llu "
         "attempts, 429s %llu; unpaced %llu attempts, 429s %llu\n",
         M, (unsigned long long)ps.paced, (double)ps.paced_ns / 1e9,
         (unsigned long long)ps.attempts, (unsigned long long)p429,
         (unsigned long long)us.attempts, (unsigned long long)u429);
  assert_int_equal(p429, 0);
  assert_int_equal(ps.attempts, M);
  assert_true(ps.paced >= 1);
  assert_true(u429 > 0);
  assert_int_equal(us.paced, 0);
  rein_curl_free(paced);
  rein_curl_free(unpaced);
  checkout_proc_stop(&g_checkout);
  ledger_proc_stop(&g_ledger);
}

/* ---- key retention at run time --------------------------------------------
 */

static void test_retention_refused(void **state) {
  (void)state;
  const char *extra[] = {"--retention-s", "1", "--lease-ms", "500", NULL};
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-ret", extra);
  outage(300);
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.backoff.kind = REIN_BACKOFF_CONSTANT;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = 1500 * REIN_NS_PER_MS;
  pc.idempotent = false;
  rein_policy *p;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = p;
  cc.log = NULL;
  rein_curl *c;
  assert_int_equal(rein_curl_new(&cc, &c), REIN_OK);
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/charges", g_ledger.port);
  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                   "{\"account\":\"acct_1\",\"amount_cents\":1}");
  static http_resp r;
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_resp_on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
  struct curl_slist *h = curl_slist_append(NULL, auth("alice"));
  rein_curl_opts o = {0};
  o.method = "POST";
  o.headers = h;
  rein_curl_result res;
  /* 503 + Idempotency-Key-Retention: 1; the retry would go at 1.5 s. */
  assert_int_equal(rein_curl_perform_ex(c, e, &o, &res), REIN_EGAVEUP);
  assert_int_equal(res.reason, REIN_GIVEUP_RETENTION);
  assert_int_equal(res.attempts, 1);
  assert_true(res.dont_retry); /* a caller's retry would be later still */
  assert_true(res.elapsed_ns < REIN_NS_PER_S);
  printf("retention: ledger keeps keys 1 s, retry due at 1.5 s: gave up "
         "(%s) after %u attempt\n",
         rein_giveup_name(res.reason), res.attempts);
  curl_easy_cleanup(e);
  curl_slist_free_all(h);
  rein_curl_free(c);
  rein_policy_free(p);
  ledger_proc_stop(&g_ledger);
}

/* ---- deadline propagation ------------------------------------------------ */

/* 12 shops pay at once, each waiting DL_MS for an answer, into a ledger
 * that serves one charge at a time (50 ms each) from a long FIFO queue
 * (CoDel and the queue timeout out of the way): payments queue far past
 * the shop's deadline. (Every process here is 127.0.0.1, so the ledger's
 * per-address connection limit is lifted.) Work the ledger does after the shop gave up is a
 * charge whose created_unix_ms is later than the shop's deadline (wall
 * clock; the three processes share the host's). */
enum { DL_THREADS = 12, DL_EACH = 8, DL_MS = 300 };

typedef struct dl_shop {
  rein_curl *client;
  int t;
  int64_t deadline_ms[DL_EACH]; /* wall clock */
  int ok;
} dl_shop;

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *dl_shop_run(void *arg) {
  dl_shop *sh = arg;
  char url[96];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/pay", g_checkout.port);
  for (int i = 0; i < DL_EACH; i++) {
    char body[160];
    snprintf(body, sizeof body,
             "{\"account\":\"acct_1\",\"amount_cents\":100,\"ref\":\"d-%d-%d\"}",
             sh->t, i);
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    http_resp *r = calloc(1, sizeof *r);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_resp_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/json");
    rein_curl_opts o = {0};
    o.method = "POST";
    o.headers = h;
    o.on_attempt = reset_resp;
    o.on_attempt_ctx = r;
    sh->deadline_ms[i] = wall_ms() + DL_MS;
    o.deadline =
        rein_policy_now(rein_curl_policy(sh->client)) + DL_MS * REIN_NS_PER_MS;
    rein_curl_result res;
    if (rein_curl_perform_ex(sh->client, e, &o, &res) == REIN_OK &&
        res.http_status == 201)
      sh->ok++;
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    free(r);
  }
  return NULL;
}

typedef struct dl_result {
  int paid;      /* the shop got its 201 in time */
  int charges;   /* rows in the ledger */
  int late;      /* of them, created after the shop's deadline */
  int dup_refs;  /* refs charged more than once */
  uint64_t refused, seen;
} dl_result;

static void dl_round(bool propagate, dl_result *out) {
  memset(out, 0, sizeof *out);
  const char *lx[] = {"--workers", "1", "--work-ms", "50", "--queue", "200",
                      "--queue-timeout-ms", "20000", "--admit-target-ms",
                      "20000", "--max-conns-per-ip", "1000", NULL};
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-co-deadline", lx);
  const char *cx[] = {"--no-deadline", NULL};
  checkout_proc_start(&g_checkout, CHECKOUT_BIN, CONTRACTS, g_ledger.port,
                      propagate ? NULL : cx);
  rein_curl *shop = client_from("shop", "checkout.pay", REIN_CURL_PACE_AUTO);
  static dl_shop sh[DL_THREADS];
  pthread_t th[DL_THREADS];
  for (int t = 0; t < DL_THREADS; t++) {
    memset(&sh[t], 0, sizeof sh[t]);
    sh[t].client = shop;
    sh[t].t = t;
    assert_int_equal(pthread_create(&th[t], NULL, dl_shop_run, &sh[t]), 0);
  }
  for (int t = 0; t < DL_THREADS; t++) {
    pthread_join(th[t], NULL);
    out->paid += sh[t].ok;
  }
  rein_curl_free(shop);
  /* checkout's own calls outlive the shop's (800 ms attempts, 3 of them
   * in a 5 s deadline without propagation): wait until the ledger has
   * nothing in flight or queued for a while, at most 15 s. */
  int quiet = 0;
  for (int i = 0; i < 150 && quiet < 5; i++) {
    rein_test_sleep_ms(100);
    quiet = test_metric(g_ledger.port, "rein_ledger_inflight") == 0 &&
                    test_metric(g_ledger.port, "rein_ledger_queue_depth") == 0
                ? quiet + 1
                : 0;
  }
  out->refused =
      test_metric(g_ledger.port, "rein_ledger_deadline_refused_total{stage=\"start\"}") +
      test_metric(g_ledger.port, "rein_ledger_deadline_refused_total{stage=\"commit\"}");
  out->seen = test_metric(g_ledger.port, "rein_ledger_deadline_requests_total");
  /* Every charge, page by page (the _admin token sees all principals). */
  static char seen_ref[DL_THREADS][DL_EACH];
  memset(seen_ref, 0, sizeof seen_ref);
  long after = 0;
  for (;;) {
    static http_resp r;
    char path[96];
    snprintf(path, sizeof path, "/charges?after_id=%ld&limit=40", after);
    assert_int_equal(test_http(g_ledger.port, path, auth("_admin"), NULL, &r),
                     200);
    int rows = 0;
    for (const char *p = r.body; (p = strstr(p, "{\"id\":")); p++) {
      long id = strtol(p + 6, NULL, 10);
      const char *ref = strstr(p, "\"ref\":\"d-");
      const char *cr = strstr(p, "\"created_unix_ms\":");
      assert_non_null(ref);
      assert_non_null(cr);
      int t = -1, i = -1;
      assert_int_equal(sscanf(ref, "\"ref\":\"d-%d-%d\"", &t, &i), 2);
      assert_true(t >= 0 && t < DL_THREADS && i >= 0 && i < DL_EACH);
      long long created = strtoll(cr + 18, NULL, 10);
      out->charges++;
      if (seen_ref[t][i]++) out->dup_refs++;
      if (created > sh[t].deadline_ms[i]) out->late++;
      after = id;
      rows++;
    }
    if (rows < 40) break;
  }
  checkout_proc_stop(&g_checkout);
  ledger_proc_stop(&g_ledger);
}

static void test_deadline_propagation(void **state) {
  (void)state;
  dl_result with, without;
  dl_round(true, &with);
  dl_round(false, &without);
  printf("deadline propagated: %d payments, %d paid in time, %d charges, "
         "%d after the shop's deadline; ledger refused %llu of %llu\n",
         DL_THREADS * DL_EACH, with.paid, with.charges, with.late,
         (unsigned long long)with.refused, (unsigned long long)with.seen);
  printf("deadline not propagated: %d paid in time, %d charges, %d after the "
         "shop's deadline; ledger refused %llu of %llu\n",
         without.paid, without.charges, without.late,
         (unsigned long long)without.refused, (unsigned long long)without.seen);
  assert_int_equal(with.dup_refs, 0);
  assert_int_equal(without.dup_refs, 0);
#if REIN_TEST_SANITIZED
  /* The deadline travels as time left (Rein-Deadline), so the time between
   * checkout writing it and the ledger reading it is not counted; under a
   * sanitizer on a loaded machine that transit reaches tens of ms, and a
   * charge can land just after the shop's deadline (3 of 96 once, against
   * 91 without propagation). The claim there: a few, far fewer than
   * without. The plain build asserts none. */
  if (with.late > DL_THREADS * DL_EACH / 20 || with.late * 10 >= without.late)
    fail_msg("propagated: %d charges after the deadline (without: %d)",
             with.late, without.late);
#else
  assert_int_equal(with.late, 0);
#endif
  assert_true(with.refused > 0);
  assert_true(with.paid > 0);
  assert_true(without.late > 0);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s LEDGER CHECKOUT CONTRACTS_DIR\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  CHECKOUT_BIN = argv[2];
  CONTRACTS = argv[3];
  ledger_proc_auth_init();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const char *paths[1] = {CONTRACTS};
  if (rein_contract_load(NULL, paths, 1, &g_set) != REIN_OK) {
    fprintf(stderr, "%s: contracts do not load\n", CONTRACTS);
    return 2;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_derive_two_hops, teardown),
      cmocka_unit_test_teardown(test_derive_middle_retry, teardown),
      cmocka_unit_test_teardown(test_dont_retry_three_processes, teardown),
      cmocka_unit_test_teardown(test_pacing, teardown),
      cmocka_unit_test_teardown(test_retention_refused, teardown),
      cmocka_unit_test_teardown(test_deadline_propagation, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  rein_contract_set_free(g_set);
  curl_global_cleanup();
  return rc;
}
