/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_http.c: examples/ledger over real HTTP on loopback.
 *
 * Each test starts its own ledger process (options chosen for what it
 * checks) and talks to it with libcurl:
 *   - principals come from verified tokens (ledger_proc_token): B reusing
 *     A's key gets neither A's charge nor a conflict; a raw name, a forged
 *     token or X-Principal is a 401; listings are the caller's own; the
 *     admin endpoints need the _admin token;
 *   - a key the ledger cannot read is a 400/431, never "no key": 70 or 300
 *     filler headers before it, a second key past the 64th header, a folded
 *     key line; an empty body is a 400 (it crashed the ASan build);
 *   - the key contract on the wire: 400 missing/malformed, 422 reuse,
 *     replay with Idempotent-Replayed, the retention header on every keyed
 *     response, problem+json bodies;
 *   - 409 with Retry-After while the first request is still running;
 *   - load shedding (503 + Retry-After) when the queue is full;
 *   - injected outage, metrics, health, bad input, graceful SIGTERM.
 * Usage: test_ledger_http LEDGER_BIN
 */
#include "ledger_proc.h"
#include "rein_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *LEDGER_BIN;
/* The ledger a test is running, so a failed assertion does not leave it
 * behind (teardown kills it). */
static ledger_proc g_live;

static void ledger_start(ledger_proc *lp, const char *const *extra) {
  ledger_proc_start(lp, LEDGER_BIN, "rein-ledger-http", extra);
  g_live = *lp;
}

/* SIGTERM; asserts a clean exit (status 0); the files are removed. */
static void ledger_stop(ledger_proc *lp) {
  int st = ledger_proc_stop(lp);
  g_live.pid = 0;
  g_live.dir[0] = '\0';
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static int kill_leftover(void **state) {
  (void)state;
  ledger_proc_kill(&g_live);
  return 0;
}

/* ---- HTTP ---------------------------------------------------------------- */

/* "Authorization: Bearer <token>" of `principal`, cached (main thread:
 * prepared before any request thread starts). */
static const char *auth_of(const char *principal) {
  static struct {
    char p[64];
    char h[200];
  } cache[16];
  static int n;
  for (int i = 0; i < n; i++)
    if (!strcmp(cache[i].p, principal)) return cache[i].h;
  assert_true(n < 16);
  snprintf(cache[n].p, sizeof cache[n].p, "%s", principal);
  ledger_proc_auth_header(principal, cache[n].h, sizeof cache[n].h);
  return cache[n++].h;
}

/* Marks a header list that must go out without any credential. */
static const char NO_AUTH[] = "X-Test-No-Auth: 1";

/* One request; `hdrs` NULL-terminated "Name: value" strings. Without an
 * Authorization or X-Principal header (or NO_AUTH) the request carries a
 * token: "_admin"'s for the admin endpoints and GET /charges, else
 * "anonymous"'s. */
static void http(unsigned port, const char *method, const char *path,
                 const char *const *hdrs, const char *body, http_resp *r) {
  bool has_auth = false;
  for (int i = 0; hdrs && hdrs[i]; i++)
    if (!strncasecmp(hdrs[i], "Authorization:", 14) ||
        !strncasecmp(hdrs[i], "X-Principal:", 12) || hdrs[i] == NO_AUTH)
      has_auth = true;
  bool admin = !strncmp(path, "/admin/", 7) ||
               !strncmp(path, "/charges/summary", 16) ||
               (!strcmp(method, "GET") && !strncmp(path, "/charges", 8));
  const char *dflt = has_auth ? NULL : auth_of(admin ? "_admin" : "anonymous");
  memset(r, 0, sizeof *r);
  CURL *c = curl_easy_init();
  assert_non_null(c);
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
  struct curl_slist *hs = NULL;
  for (int i = 0; hdrs && hdrs[i]; i++)
    if (hdrs[i] != NO_AUTH) hs = curl_slist_append(hs, hdrs[i]);
  if (dflt) hs = curl_slist_append(hs, dflt);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_resp_on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_resp_on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
}

/* A response header's value (first match, case-insensitive) or NULL. */
static const char *hdr(const http_resp *r, const char *name, char *buf,
                       size_t cap) {
  size_t nl = strlen(name);
  const char *p = r->headers;
  while (p && *p) {
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ')
        v++;
      size_t k = strcspn(v, "\r\n");
      if (k >= cap) k = cap - 1;
      memcpy(buf, v, k);
      buf[k] = '\0';
      return buf;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NULL;
}

static long json_id(const http_resp *r) {
  const char *p = strstr(r->body, "\"id\":");
  if (!p) fail_msg("no id in %s", r->body);
  return strtol(p + 5, NULL, 10);
}

static void expect_header(const http_resp *r, const char *name,
                          const char *want) {
  char buf[256];
  const char *v = hdr(r, name, buf, sizeof buf);
  if (!want) {
    if (v) fail_msg("unexpected %s: %s", name, v);
    return;
  }
  if (!v) fail_msg("missing %s in:\n%s", name, r->headers);
  assert_string_equal(v, want);
}

static void expect_problem(const http_resp *r, long status, const char *type) {
  assert_int_equal(r->status, status);
  expect_header(r, "Content-Type", "application/problem+json");
  char want[160];
  snprintf(want, sizeof want, "{\"type\":\"urn:rein:problem:%s\",", type);
  if (strncmp(r->body, want, strlen(want)) != 0)
    fail_msg("body %s does not start with %s", r->body, want);
  snprintf(want, sizeof want, "\"status\":%ld,", status);
  assert_non_null(strstr(r->body, want));
  assert_non_null(strstr(r->body, "\"title\":\""));
  assert_non_null(strstr(r->body, "\"detail\":\""));
}

/* Polls /metrics until it contains `line` (a whole sample line), at most
 * 10 s, so tests wait for a state instead of guessing a delay. */
static void wait_metric(unsigned port, const char *line) {
  char want[160];
  snprintf(want, sizeof want, "\n%s\n", line);
  http_resp r;
  for (int i = 0; i < 1000; i++) {
    http(port, "GET", "/metrics", NULL, NULL, &r);
    if (strstr(r.body, want)) return;
    rein_test_sleep_ms(10);
  }
  fail_msg("metrics never showed '%s'", line);
}

static const char B1[] = "{\"account\":\"acct_1\",\"amount_cents\":1250}";
static const char B2[] = "{\"account\":\"acct_2\",\"amount_cents\":99}";

/* ---- tests --------------------------------------------------------------- */

static void test_principals(void **state) {
  ledger_proc lp;
  ledger_start(&lp, NULL);
  http_resp r;
  const char *alice[] = {auth_of("alice"), "Idempotency-Key: \"order-17\"",
                         NULL};
  const char *bob[] = {auth_of("bob"), "Idempotency-Key: \"order-17\"", NULL};
  const char *carol[] = {auth_of("carol"), "Idempotency-Key: \"order-17\"",
                         NULL};
  http(lp.port, "POST", "/charges", alice, B1, &r);
  assert_int_equal(r.status, 201);
  long a_id = json_id(&r);
  assert_non_null(strstr(r.body, "\"principal\":\"alice\""));
  /* Bob, same key, another body: his own charge, not 422, not Alice's. */
  http(lp.port, "POST", "/charges", bob, B2, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", NULL);
  long b_id = json_id(&r);
  assert_true(b_id != a_id);
  assert_non_null(strstr(r.body, "\"principal\":\"bob\""));
  assert_null(strstr(r.body, "alice"));
  /* Carol, same key, Alice's exact body: not a replay of
   * Alice's response either. */
  http(lp.port, "POST", "/charges", carol, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", NULL);
  long c_id = json_id(&r);
  assert_true(c_id != a_id && c_id != b_id);
  /* Each replays only their own. */
  http(lp.port, "POST", "/charges", alice, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", "true");
  assert_int_equal(json_id(&r), a_id);
  http(lp.port, "POST", "/charges", bob, B2, &r);
  expect_header(&r, "Idempotent-Replayed", "true");
  assert_int_equal(json_id(&r), b_id);
  /* Bob's key is Bob's: Alice's body under it is a 422 for Bob. */
  http(lp.port, "POST", "/charges", bob, B1, &r);
  expect_problem(&r, 422, "idempotency-key-reused");
  /* The ledger has exactly three charges under the key (the admin token
   * lists everyone's). */
  http(lp.port, "GET", "/charges?key=order-17", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"count\":3}"));
  /* Anyone else lists only their own, and may not ask for another's. */
  const char *bob_only[] = {auth_of("bob"), NULL};
  http(lp.port, "GET", "/charges?key=order-17", bob_only, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"count\":1}"));
  assert_null(strstr(r.body, "alice"));
  http(lp.port, "GET", "/charges", bob_only, NULL, &r);
  assert_non_null(strstr(r.body, "\"count\":1}"));
  http(lp.port, "GET", "/charges?principal=alice", bob_only, NULL, &r);
  expect_problem(&r, 403, "ledger-forbidden");
  /* Claiming a principal is not authenticating as it: a bare name, a
   * token signed with another key, an altered token, X-Principal. Each is
   * a 401 and replays nothing of Alice's. */
  char forged[200], other_key_tok[200];
  snprintf(forged, sizeof forged, "%s", auth_of("alice"));
  forged[strlen(forged) - 1] ^= 1;
  snprintf(other_key_tok, sizeof other_key_tok,
           "Authorization: Bearer alice.%064d", 0);
  const char *spoof[][3] = {
      {"Authorization: Bearer alice", "Idempotency-Key: \"order-17\"", NULL},
      {forged, "Idempotency-Key: \"order-17\"", NULL},
      {other_key_tok, "Idempotency-Key: \"order-17\"", NULL},
      {"X-Principal: alice", "Idempotency-Key: \"order-17\"", NULL},
      {NO_AUTH, "Idempotency-Key: \"order-17\"", NULL},
  };
  for (size_t i = 0; i < sizeof spoof / sizeof spoof[0]; i++) {
    http(lp.port, "POST", "/charges", spoof[i], B1, &r);
    if (r.status != 401)
      fail_msg("'%s' was accepted (%ld): %s", spoof[i][0], r.status, r.body);
    expect_problem(&r, 401, "ledger-unauthorized");
    assert_null(strstr(r.body, "\"id\":"));
    http(lp.port, "GET", "/charges", spoof[i], NULL, &r);
    assert_int_equal(r.status, 401);
  }
  /* The admin endpoints: no credential -> 401, a caller's token -> 403. */
  const char *none[] = {NO_AUTH, NULL};
  const char *alice_only[] = {auth_of("alice"), NULL};
  http(lp.port, "POST", "/admin/outage?seconds=30", none, "", &r);
  expect_problem(&r, 401, "ledger-unauthorized");
  http(lp.port, "POST", "/admin/outage?seconds=30", alice_only, "", &r);
  expect_problem(&r, 403, "ledger-forbidden");
  http(lp.port, "GET", "/charges/summary", none, NULL, &r);
  expect_problem(&r, 401, "ledger-unauthorized");
  http(lp.port, "GET", "/charges/summary", alice_only, NULL, &r);
  expect_problem(&r, 403, "ledger-forbidden");
  http(lp.port, "POST", "/charges", alice, B1, &r);
  assert_int_equal(r.status, 201); /* no outage was injected */
  /* Malformed credentials are refused, not mapped to anonymous. */
  const char *basic[] = {"Authorization: Basic YTpi", "Idempotency-Key: \"x\"",
                         NULL};
  http(lp.port, "POST", "/charges", basic, B1, &r);
  expect_problem(&r, 401, "ledger-unauthorized");
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  ledger_stop(&lp);
}

static void test_key_contract(void **state) {
  ledger_proc lp;
  const char *args[] = {"--require-key", "--retention-s", "7200", NULL};
  ledger_start(&lp, args);
  http_resp r;
  const char *nokey[] = {auth_of("alice"), NULL};
  http(lp.port, "POST", "/charges", nokey, B1, &r);
  expect_problem(&r, 400, "idempotency-key-missing");
  expect_header(&r, "Idempotency-Key-Retention", NULL);
  const char *token[] = {auth_of("alice"), "Idempotency-Key: order-1", NULL};
  http(lp.port, "POST", "/charges", token, B1, &r);
  expect_problem(&r, 400, "idempotency-key-invalid");
  expect_header(&r, "Idempotency-Key-Retention", "7200");
  assert_non_null(strstr(r.body, "column 1"));
  char longkey[400];
  int n = snprintf(longkey, sizeof longkey, "Idempotency-Key: \"");
  memset(longkey + n, 'k', 256);
  snprintf(longkey + n + 256, sizeof longkey - (size_t)n - 256, "\"");
  const char *toolong[] = {longkey, NULL};
  http(lp.port, "POST", "/charges", toolong, B1, &r);
  expect_problem(&r, 400, "idempotency-key-invalid");
  assert_non_null(strstr(r.body, "longer than 255"));
  const char *two[] = {"Idempotency-Key: \"a\"", "Idempotency-Key: \"b\"",
                       NULL};
  http(lp.port, "POST", "/charges", two, B1, &r);
  expect_problem(&r, 400, "idempotency-key-invalid");
  assert_non_null(strstr(r.body, "more than one Idempotency-Key"));
  const char *ok[] = {auth_of("alice"),
                      "Idempotency-Key: \"a \\\"quoted\\\" key\"", NULL};
  http(lp.port, "POST", "/charges", ok, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Content-Type", "application/json");
  expect_header(&r, "Idempotency-Key-Retention", "7200");
  expect_header(&r, "Idempotent-Replayed", NULL);
  assert_non_null(
      strstr(r.body, "\"idempotency_key\":\"a \\\"quoted\\\" key\""));
  char first[16384];
  snprintf(first, sizeof first, "%s", r.body);
  http(lp.port, "POST", "/charges", ok, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", "true");
  expect_header(&r, "Idempotency-Key-Retention", "7200");
  expect_header(&r, "Content-Type", "application/json");
  assert_string_equal(r.body, first);
  http(lp.port, "POST", "/charges", ok, B2, &r);
  expect_problem(&r, 422, "idempotency-key-reused");
  expect_header(&r, "Idempotency-Key-Retention", "7200");
  /* Invalid bodies are refused before the key is used. */
  const char *k2[] = {"Idempotency-Key: \"k2\"", NULL};
  http(lp.port, "POST", "/charges", k2,
       "{\"account\":\"a\",\"amount_cents\":1.5}", &r);
  expect_problem(&r, 400, "ledger-bad-charge");
  expect_header(&r, "Idempotency-Key-Retention", "7200");
  assert_non_null(strstr(r.body, "amount_cents: expected an integer"));
  http(lp.port, "POST", "/charges", k2, "{\"amount_cents\":5}", &r);
  expect_problem(&r, 400, "ledger-bad-charge");
  assert_non_null(strstr(r.body, "account: missing"));
  http(lp.port, "POST", "/charges", k2, B2, &r);
  assert_int_equal(r.status, 201);
  ledger_stop(&lp);
}

/* A raw POST /charges as `principal` with `extra` header lines (each
 * ending in CRLF) and `body`; Connection: close. */
static void raw_post(unsigned port, const char *principal, const char *extra,
                     const char *body, const char *te, http_resp *r) {
  size_t cap = 64 * 1024;
  char *req = malloc(cap);
  assert_non_null(req);
  int n = snprintf(req, cap,
                   "POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s"
                   "Content-Type: application/json\r\n",
                   auth_of(principal), extra);
  if (te)
    n += snprintf(req + n, cap - (size_t)n, "%s\r\n", te);
  else
    n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n",
                  strlen(body));
  n += snprintf(req + n, cap - (size_t)n, "Connection: close\r\n\r\n%s", body);
  assert_true((size_t)n < cap);
  if (ledger_proc_raw(port, NULL, req, (size_t)n, r, 10000) != 0)
    fail_msg("cannot send to the ledger");
  free(req);
}

/* `n` filler header lines. */
static char *fillers(int n) {
  char *f = malloc((size_t)n * 24 + 1);
  assert_non_null(f);
  size_t o = 0;
  for (int i = 0; i < n; i++)
    o += (size_t)sprintf(f + o, "X-Filler-%d: %d\r\n", i, i);
  f[o] = '\0';
  return f;
}

/* A key the ledger cannot read must never turn into "no key": each of
 * these ran the charge unkeyed before (default mode, no --require-key),
 * so sending it twice charged twice. */
static void test_unreadable_keys(void **state) {
  ledger_proc lp;
  ledger_start(&lp, NULL);
  http_resp r;
  char extra[32 * 1024];
  /* (a) The key after 70 filler headers is read: the retry replays. */
  char *f70 = fillers(70);
  snprintf(extra, sizeof extra, "%sIdempotency-Key: \"flood\"\r\n", f70);
  raw_post(lp.port, "alice", extra, B1, NULL, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  long id = json_id(&r);
  raw_post(lp.port, "alice", extra, B1, NULL, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", "true");
  assert_int_equal(json_id(&r), id);
  /* A second key past the 64th header is still a duplicate. */
  snprintf(extra, sizeof extra,
           "Idempotency-Key: \"d1\"\r\n%sIdempotency-Key: \"d2\"\r\n", f70);
  raw_post(lp.port, "alice", extra, B1, NULL, &r);
  expect_problem(&r, 400, "idempotency-key-invalid");
  assert_non_null(strstr(r.body, "more than one Idempotency-Key"));
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  free(f70);
  /* More fields than the ledger holds (256): 431, never a guess. */
  char *f300 = fillers(300);
  snprintf(extra, sizeof extra, "%sIdempotency-Key: \"many\"\r\n", f300);
  raw_post(lp.port, "alice", extra, B1, NULL, &r);
  assert_int_equal(r.status, 431);
  free(f300);
  /* A head beyond libmicrohttpd's 64 KiB pool: its own 431. */
  {
    size_t cap = 80 * 1024;
    char *big = malloc(cap);
    assert_non_null(big);
    int n = snprintf(big, cap,
                     "POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "%s\r\nX-Big: ",
                     auth_of("alice"));
    memset(big + n, 'a', 70 * 1024);
    n += 70 * 1024;
    n += snprintf(big + n, cap - (size_t)n,
                  "\r\nIdempotency-Key: \"big\"\r\nContent-Length: 2\r\n"
                  "Connection: close\r\n\r\n{}");
    assert_int_equal(ledger_proc_raw(lp.port, NULL, big, (size_t)n, &r, 10000),
                     0);
    assert_int_equal(r.status, 431);
    free(big);
  }
  /* (b) A folded key line: libmicrohttpd 0.9.75 glues the continuation
   * onto the name; both sends are refused, nothing is charged. */
  for (int i = 0; i < 2; i++) {
    raw_post(lp.port, "alice", "Idempotency-Key: \"fold\"\r\n ;x=1\r\n", B2,
             NULL, &r);
    expect_problem(&r, 400, "idempotency-key-invalid");
    expect_header(&r, "Idempotency-Key-Retention", "86400");
    assert_non_null(strstr(r.body, "field name is malformed"));
  }
  raw_post(lp.port, "alice", "Idempotency-Key:\r\n \"fold2\"\r\n", B2, NULL,
           &r);
  expect_problem(&r, 400, "idempotency-key-invalid");
  http(lp.port, "GET", "/charges/summary", NULL, NULL, &r);
  assert_non_null(strstr(r.body, "\"charges\":1,"));
  ledger_stop(&lp);
}

/* An empty body (Content-Length: 0, or an empty chunked body) is a 400;
 * it crashed the sanitizer build (NULL + 0 in the JSON reader). */
static void test_empty_body(void **state) {
  ledger_proc lp;
  ledger_start(&lp, NULL);
  http_resp r;
  raw_post(lp.port, "alice", "Idempotency-Key: \"e1\"\r\n", "", NULL, &r);
  expect_problem(&r, 400, "ledger-bad-charge");
  assert_non_null(strstr(r.body, "body: empty"));
  raw_post(lp.port, "alice", "", "0\r\n\r\n", "Transfer-Encoding: chunked", &r);
  expect_problem(&r, 400, "ledger-bad-charge");
  http(lp.port, "POST", "/charges", NULL, "", &r);
  expect_problem(&r, 400, "ledger-bad-charge");
  http(lp.port, "GET", "/healthz", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  ledger_stop(&lp);
}

/* Seconds until the ledger closes a connection that sent `first` and then
 * `drip` every 300 ms (NULL: nothing more); -1 when it stayed open for
 * `limit_s`. */
static double closed_after(unsigned port, const char *first, const char *drip,
                           double limit_s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (first) send(fd, first, strlen(first), MSG_NOSIGNAL);
  double el = 0;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int k = poll(&p, 1, 300);
    clock_gettime(CLOCK_MONOTONIC, &t);
    el = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
    if (k > 0) {
      char b[4096];
      ssize_t n = recv(fd, b, sizeof b, 0);
      if (n <= 0) break; /* closed */
    }
    if (el > limit_s) {
      el = -1;
      break;
    }
    if (drip && send(fd, drip, strlen(drip), MSG_NOSIGNAL) < 0) break;
  }
  close(fd);
  return el;
}

/* The request deadline: a connection that sends nothing, one that
 * dribbles its head, one that dribbles its body, and a keep-alive
 * connection idle after its first answer are all closed about
 * --request-timeout-s after they started waiting; the idle timeout alone
 * (reset by every byte) never closed the dribbling ones. */
static void test_request_deadline(void **state) {
  ledger_proc lp;
  const char *args[] = {"--request-timeout-s", "2", NULL};
  ledger_start(&lp, args);
  char head[512];
  snprintf(head, sizeof head,
           "POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
           "Content-Length: 100\r\n\r\n",
           auth_of("alice"));
  struct {
    const char *what, *first, *drip;
  } cases[] = {
      {"silent", NULL, NULL},
      {"head", "POST /charges HTTP/1.1\r\n", "X-Slow: 1\r\n"},
      {"body", head, " "},
      {"keep-alive", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double s = closed_after(lp.port, cases[i].first, cases[i].drip, 8.0);
    fprintf(stderr, "request deadline 2 s: %s connection closed after %.1f s\n",
            cases[i].what, s);
    if (s < 1.5 || s > 5.0)
      fail_msg("%s: closed after %.1f s, expected about 2 s", cases[i].what, s);
  }
  http_resp r;
  http(lp.port, "GET", "/metrics", NULL, NULL, &r);
  assert_non_null(strstr(r.body, "\nrein_ledger_request_timeouts_total 4\n"));
  ledger_stop(&lp);
}

typedef struct bg_post {
  unsigned port;
  const char *const *hdrs;
  const char *body;
  http_resp r;
} bg_post;

static void *bg(void *arg) {
  bg_post *b = arg;
  http(b->port, "POST", "/charges", b->hdrs, b->body, &b->r);
  return NULL;
}

static void test_in_progress(void **state) {
  ledger_proc lp;
  const char *args[] = {"--work-ms", "1500", "--lease-ms", "5000", NULL};
  ledger_start(&lp, args);
  const char *k[] = {"Idempotency-Key: \"slow\"", NULL};
  bg_post b = {lp.port, k, B1, {0}};
  pthread_t t;
  pthread_create(&t, NULL, bg, &b);
  /* The first request holds the key once the helper said PROCEED. */
  wait_metric(lp.port, "rein_idem_http_proceed_keyed_total 1");
  http_resp r;
  http(lp.port, "POST", "/charges", k, B1, &r);
  expect_problem(&r, 409, "idempotency-key-in-progress");
  char buf[32];
  const char *ra = hdr(&r, "Retry-After", buf, sizeof buf);
  assert_non_null(ra);
  long s = atol(ra);
  /* Most of the 5 s lease remains (the handler runs 1.5 s). */
  assert_true(s >= 3 && s <= 5);
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  pthread_join(t, NULL);
  assert_int_equal(b.r.status, 201);
  http(lp.port, "POST", "/charges", k, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", "true");
  assert_int_equal(json_id(&r), json_id(&b.r));
  ledger_stop(&lp);
}

static void test_shed(void **state) {
  ledger_proc lp;
  const char *args[] = {"--workers", "1",    "--queue",   "0",
                        "--work-ms", "1000", "--no-idem", NULL};
  ledger_start(&lp, args);
  bg_post b = {lp.port, NULL, B1, {0}};
  pthread_t t;
  pthread_create(&t, NULL, bg, &b);
  wait_metric(lp.port, "rein_ledger_inflight 1");
  http_resp r;
  http(lp.port, "POST", "/charges", NULL, B2, &r);
  expect_problem(&r, 503, "ledger-overloaded");
  char buf[32];
  assert_non_null(hdr(&r, "Retry-After", buf, sizeof buf));
  assert_true(atol(buf) >= 1);
  pthread_join(t, NULL);
  assert_int_equal(b.r.status, 201);
  http(lp.port, "GET", "/metrics", NULL, NULL, &r);
  assert_non_null(strstr(r.body, "\nrein_ledger_shed_total 1\n"));
  assert_non_null(strstr(r.body, "\nrein_ledger_charges_total 1\n"));
  assert_non_null(strstr(r.body, "\nrein_ledger_capacity_per_second 1.000\n"));
  assert_non_null(
      strstr(r.body, "\nrein_admit_rejected_total{reason=\"queue_full\"} 1\n"));
  /* No helper in this mode: no helper metrics. */
  assert_null(strstr(r.body, "rein_idem_http_"));
  ledger_stop(&lp);
}

/* Retries are shed first: with one request running and one first attempt
 * queued, a retry (Rein-Attempt: 2) is refused at once and told not to
 * multiply the load; a rate limit answers 429 with RateLimit headers. */
static void test_retry_shed_and_rate_limit(void **state) {
  ledger_proc lp;
  const char *args[] = {
      "--workers",          "1",    "--queue", "2", "--work-ms", "800",
      "--queue-timeout-ms", "5000", NULL};
  ledger_start(&lp, args);
  const char *k1[] = {"Idempotency-Key: \"s1\"", NULL};
  const char *k2[] = {"Idempotency-Key: \"s2\"", NULL};
  bg_post b1 = {lp.port, k1, B1, {0}}, b2 = {lp.port, k2, B1, {0}};
  pthread_t t1, t2;
  pthread_create(&t1, NULL, bg, &b1);
  wait_metric(lp.port, "rein_ledger_inflight 1");
  pthread_create(&t2, NULL, bg, &b2);
  wait_metric(lp.port, "rein_ledger_queue_depth 1");
  http_resp r;
  const char *retry[] = {"Idempotency-Key: \"s3\"", "Rein-Attempt: 2", NULL};
  http(lp.port, "POST", "/charges", retry, B1, &r);
  expect_problem(&r, 503, "ledger-overloaded");
  expect_header(&r, "Rein-Dont-Retry", "?1");
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  assert_non_null(strstr(r.body, "retry_shed"));
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  assert_int_equal(b1.r.status, 201);
  assert_int_equal(b2.r.status, 201);
  ledger_stop(&lp);

  const char *rl[] = {"--rate-limit", "2", NULL};
  ledger_start(&lp, rl);
  int ok = 0, limited = 0;
  for (int i = 0; i < 4; i++) {
    http(lp.port, "POST", "/charges", NULL, B1, &r);
    if (r.status == 201) ok++;
    if (r.status == 429) {
      limited++;
      expect_problem(&r, 429, "ledger-rate-limited");
      char buf[128];
      assert_non_null(hdr(&r, "Retry-After", buf, sizeof buf));
      assert_non_null(hdr(&r, "RateLimit-Policy", buf, sizeof buf));
      assert_string_equal(buf, "\"charges\";q=2;w=1");
      assert_non_null(hdr(&r, "RateLimit", buf, sizeof buf));
    }
  }
  assert_true(ok >= 2);
  assert_true(limited >= 1);
  ledger_stop(&lp);
}

static void test_outage_metrics_health(void **state) {
  ledger_proc lp;
  ledger_start(&lp, NULL);
  http_resp r;
  http(lp.port, "GET", "/healthz", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"status\":\"ok\"}");
  http(lp.port, "POST", "/admin/outage?seconds=30", NULL, "", &r);
  assert_int_equal(r.status, 200);
  const char *k[] = {"Idempotency-Key: \"o1\"", NULL};
  http(lp.port, "POST", "/charges", k, B1, &r);
  expect_problem(&r, 503, "ledger-outage");
  expect_header(&r, "Idempotency-Key-Retention", "86400");
  http(lp.port, "POST", "/charges", NULL, B1, &r);
  expect_problem(&r, 503, "ledger-outage");
  expect_header(&r, "Idempotency-Key-Retention", NULL);
  http(lp.port, "POST", "/admin/outage?seconds=0", NULL, "", &r);
  assert_int_equal(r.status, 200);
  /* The failed attempt did not consume the key. */
  http(lp.port, "POST", "/charges", k, B1, &r);
  assert_int_equal(r.status, 201);
  http(lp.port, "POST", "/charges", k, B1, &r);
  expect_header(&r, "Idempotent-Replayed", "true");
  http(lp.port, "POST", "/admin/outage?seconds=x", NULL, "", &r);
  expect_problem(&r, 400, "ledger-bad-query");
  http(lp.port, "GET", "/nope", NULL, NULL, &r);
  expect_problem(&r, 404, "ledger-not-found");
  http(lp.port, "DELETE", "/charges", NULL, NULL, &r);
  expect_problem(&r, 405, "ledger-method");
  http(lp.port, "GET", "/charges/summary", NULL, NULL, &r);
  assert_string_equal(r.body,
                      "{\"charges\":1,\"keyed\":1,\"amount_cents\":1250,"
                      "\"refs\":0,\"duplicate_charges\":0}");
  http(lp.port, "GET", "/metrics", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  expect_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  const char *want[] = {
      "\nrein_ledger_requests_total{route=\"POST /charges\"} 4\n",
      "\nrein_ledger_responses_total{code=\"201\"} 2\n",
      "\nrein_ledger_outage_failures_total 2\n",
      "\nrein_ledger_charges_total 1\n",
      "\nrein_idem_http_replays_total 1\n",
      "\nrein_idem_http_completed_total 1\n",
      "\nrein_ledger_outage 0\n",
      "# TYPE rein_ledger_charges_total counter\n",
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!strstr(r.body, want[i]))
      fail_msg("metrics lack %s:\n%s", want[i], r.body);
  ledger_stop(&lp);
}

/* The fail window and duplicate accounting by client ref (demo needs). */
static void test_fail_window_and_refs(void **state) {
  ledger_proc lp;
  const char *args[] = {"--fail-window", "0:2", "--outage-status", "500", NULL};
  ledger_start(&lp, args);
  http_resp r;
  const char *body = "{\"account\":\"a\",\"amount_cents\":5,\"ref\":\"r-1\"}";
  http(lp.port, "POST", "/charges", NULL, body, &r);
  expect_problem(&r, 500, "ledger-outage");
  wait_metric(lp.port, "rein_ledger_outage 0");
  http(lp.port, "POST", "/charges", NULL, body, &r);
  assert_int_equal(r.status, 201);
  http(lp.port, "POST", "/charges", NULL, body, &r); /* no key: duplicate */
  assert_int_equal(r.status, 201);
  http(lp.port, "GET", "/charges/summary", NULL, NULL, &r);
  assert_string_equal(r.body, "{\"charges\":2,\"keyed\":0,\"amount_cents\":10,"
                              "\"refs\":1,\"duplicate_charges\":1}");
  http(lp.port, "GET", "/charges?ref=r-1&limit=1", NULL, NULL, &r);
  assert_non_null(strstr(r.body, "\"count\":1}"));
  ledger_stop(&lp);
}

/* Keys expire from the store after the retention and the janitor purges
 * them; the ledger's own UNIQUE (principal, key) still answers a late
 * retry with the original charge instead of charging again. */
static void test_retention_purge(void **state) {
  ledger_proc lp;
  const char *args[] = {"--retention-s",      "1", "--lease-ms", "200",
                        "--purge-interval-s", "1", NULL};
  ledger_start(&lp, args);
  http_resp r;
  const char *k[] = {"Idempotency-Key: \"late\"", NULL};
  http(lp.port, "POST", "/charges", k, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotency-Key-Retention", "1");
  long id = json_id(&r);
  bool purged = false;
  for (int i = 0; i < 40 && !purged; i++) {
    rein_test_sleep_ms(100);
    http(lp.port, "GET", "/metrics", NULL, NULL, &r);
    purged = strstr(r.body, "\nrein_ledger_idem_purged_total 1\n") != NULL;
  }
  assert_true(purged);
  /* The store forgot the key: this runs the handler again (no replay
   * marker), which finds the charge and answers with it. */
  http(lp.port, "POST", "/charges", k, B1, &r);
  assert_int_equal(r.status, 201);
  expect_header(&r, "Idempotent-Replayed", NULL);
  assert_int_equal(json_id(&r), id);
  /* Another body under the forgotten key is still refused. */
  http(lp.port, "POST", "/charges", k, B2, &r);
  expect_problem(&r, 422, "idempotency-key-reused");
  http(lp.port, "GET", "/metrics", NULL, NULL, &r);
  assert_non_null(strstr(r.body, "\nrein_ledger_charges_total 1\n"));
  assert_non_null(strstr(r.body, "\nrein_ledger_charge_reruns_total 1\n"));
  ledger_stop(&lp);
}

/* SIGTERM while a charge is running: it finishes (201), then the ledger
 * exits 0. */
static void test_graceful_sigterm(void **state) {
  ledger_proc lp;
  const char *args[] = {"--work-ms", "800", NULL};
  ledger_start(&lp, args);
  const char *k[] = {"Idempotency-Key: \"term\"", NULL};
  bg_post b = {lp.port, k, B1, {0}};
  pthread_t t;
  pthread_create(&t, NULL, bg, &b);
  wait_metric(lp.port, "rein_ledger_inflight 1");
  kill(lp.pid, SIGTERM);
  pthread_join(t, NULL);
  assert_int_equal(b.r.status, 201);
  ledger_stop(&lp); /* asserts exit status 0 */
}

/* Bad options: exit status 2 and a message naming the option. */
static void test_bad_options(void **state) {
  static const struct {
    const char *opt, *val, *msg;
    const char *key; /* $LEDGER_AUTH_KEY in the child; "" = unset */
  } cases[] = {
      {"--quiet", NULL, "no authentication key", ""},
      {"--quiet", NULL, "at least 32 bytes, got 5", "short"},
      {"--auth-key-file", "/nonexistent/key", "cannot open", NULL},
      {"--mint-token", "a.b", "--mint-token: bad principal", NULL},
      {"--request-timeout-s", "0", "--request-timeout-s", NULL},
      {"--max-conns-per-ip", "5000", "must not exceed", NULL},
      {"--workers", "0", "--workers", NULL},
      {"--store", "mysql:x", "--store: expected sqlite:PATH", NULL},
      {"--fail-window", "5:1", "--fail-window", NULL},
      {"--outage-status", "404", "--outage-status", NULL},
      {"--sync", "sometimes", "--sync", NULL},
      {"--port", "70000", "--port", NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char log[] = "/tmp/rein-ledger-opts.XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the test is single-threaded here: setenv is safe */
      dup2(fd, 2);
      ledger_proc_auth_init();
      if (cases[i].key && !cases[i].key[0]) unsetenv("LEDGER_AUTH_KEY");
      if (cases[i].key && cases[i].key[0])
        setenv("LEDGER_AUTH_KEY", cases[i].key, 1);
      execl(LEDGER_BIN, LEDGER_BIN, cases[i].opt, cases[i].val, (char *)NULL);
      _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    close(fd);
    char buf[512] = {0};
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(log);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) != 2 || !strstr(buf, cases[i].msg))
      fail_msg("%s %s: exit %d, stderr '%s'", cases[i].opt,
               cases[i].val ? cases[i].val : "", WEXITSTATUS(st), buf);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LEDGER_BIN\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_principals, kill_leftover),
      cmocka_unit_test_teardown(test_key_contract, kill_leftover),
      cmocka_unit_test_teardown(test_unreadable_keys, kill_leftover),
      cmocka_unit_test_teardown(test_empty_body, kill_leftover),
      cmocka_unit_test_teardown(test_request_deadline, kill_leftover),
      cmocka_unit_test_teardown(test_in_progress, kill_leftover),
      cmocka_unit_test_teardown(test_shed, kill_leftover),
      cmocka_unit_test_teardown(test_retry_shed_and_rate_limit, kill_leftover),
      cmocka_unit_test_teardown(test_outage_metrics_health, kill_leftover),
      cmocka_unit_test_teardown(test_fail_window_and_refs, kill_leftover),
      cmocka_unit_test_teardown(test_retention_purge, kill_leftover),
      cmocka_unit_test_teardown(test_graceful_sigterm, kill_leftover),
      cmocka_unit_test(test_bad_options),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
