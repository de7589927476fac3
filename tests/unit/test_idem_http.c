/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem_http.c: the HTTP idempotency helper, decision by decision.
 *
 * Every path is checked with exact status codes, exact header lists and
 * exact problem+json bodies, against the memory store on a manual clock (so
 * leases expire when the test says). Store failures come from a real SQLite
 * store whose table is dropped under it. A fault loop fails every
 * allocation of a begin/complete/replay cycle in turn. 32 threads race
 * one key (this executable also runs under ThreadSanitizer).
 */
#include "rein_test.h"

#include "rein/clock.h"
#include "rein/idem.h"
#include "rein/idem_http.h"
#include "rein/rng.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- fixture ------------------------------------------------------------- */

typedef struct fx {
  rein_manual_clock mc;
  rein_idem_store *store;
  rein_idem_http *h;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  rein_manual_clock_init(&f->mc, INT64_C(1700000000) * REIN_NS_PER_S);
  rein_idem_config ic;
  rein_idem_config_default(&ic);
  ic.clock = rein_manual_clock_as_clock(&f->mc);
  assert_int_equal(rein_idem_mem_new(&ic, &f->store), REIN_OK);
  assert_int_equal(rein_idem_http_new(NULL, &f->h), REIN_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  rein_idem_http_free(f->h);
  rein_idem_store_free(f->store);
  free(f);
  return 0;
}

static const char BODY[] = "{\"account\":\"a1\",\"amount_cents\":100}";

static rein_idem_http_request mkreq(const rein_idem_http_header *hs, size_t n,
                                    const char *principal, const char *body) {
  rein_idem_http_request r;
  memset(&r, 0, sizeof r);
  r.method = "POST";
  r.route = "/charges";
  r.principal = principal;
  r.headers = hs;
  r.n_headers = n;
  r.body = body;
  r.body_len = body ? strlen(body) : 0;
  r.key_required = true;
  return r;
}

static rein_idem_http_exchange *
begin_key(fx *f, const char *field, const char *principal, const char *body) {
  rein_idem_http_header hs[2] = {{"Content-Type", "application/json"},
                                 {"Idempotency-Key", field}};
  rein_idem_http_request r = mkreq(hs, field ? 2 : 1, principal, body);
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
  assert_non_null(x);
  return x;
}

/* The value of header `name` in a response, or NULL. */
static const char *hval(const rein_idem_http_header *h, size_t n,
                        const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(h[i].name, name) == 0) return h[i].value;
  return NULL;
}

static void expect_reject(rein_idem_http_exchange *x, int status,
                          const char *body, bool retention,
                          const char *retry_after) {
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_REJECT);
  const rein_idem_http_response *r = rein_idem_http_exchange_response(x);
  assert_non_null(r);
  assert_int_equal(r->status, status);
  assert_string_equal(hval(r->headers, r->n_headers, "Content-Type"),
                      "application/problem+json");
  size_t want = 1 + (retention ? 1 : 0) + (retry_after ? 1 : 0);
  assert_int_equal(r->n_headers, want);
  if (retention)
    assert_string_equal(
        hval(r->headers, r->n_headers, "Idempotency-Key-Retention"), "86400");
  else
    assert_null(hval(r->headers, r->n_headers, "Idempotency-Key-Retention"));
  if (retry_after)
    assert_string_equal(hval(r->headers, r->n_headers, "Retry-After"),
                        retry_after);
  assert_int_equal(r->body_len, strlen(body));
  assert_memory_equal(r->body, body, r->body_len);
  assert_null(rein_idem_http_exchange_token(x));
  size_t n = 99;
  assert_null(rein_idem_http_exchange_headers(x, &n));
  assert_int_equal(n, 0);
}

/* ---- parsing ------------------------------------------------------------- */

static void parse_ok(const char *in, const char *want) {
  char out[256];
  size_t n = 0;
  rein_errbuf eb = {{0}};
  rein_status st =
      rein_idem_http_parse_key(in, strlen(in), out, sizeof out, &n, &eb);
  if (st != REIN_OK)
    fail_msg("parse(%s): %s %s", in, rein_status_name(st), eb.msg);
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
}

static void parse_bad(const char *in, size_t len, const char *msg_part) {
  char out[256] = "untouched";
  rein_errbuf eb = {{0}};
  assert_int_equal(
      rein_idem_http_parse_key(in, len, out, sizeof out, NULL, &eb),
      REIN_EPARSE);
  if (!strstr(eb.msg, msg_part))
    fail_msg("parse(%.*s): message '%s' lacks '%s'", (int)len, in, eb.msg,
             msg_part);
  assert_true(strncmp(eb.msg, "Idempotency-Key: column ", 24) == 0);
}

static void test_parse_valid(void **state) {
  parse_ok("\"abc\"", "abc");
  parse_ok("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
           "8e03978e-40d5-43e8-bc93-6894a57f9324");
  parse_ok("  \"a b\"\t ", "a b");
  parse_ok("\"a\\\"b\\\\c\"", "a\"b\\c");
  parse_ok("\" ~!#$%&'()*+,-./:;<=>?@[]^_`{|}\"",
           " ~!#$%&'()*+,-./:;<=>?@[]^_`{|}");
  /* RFC 8941 parameters are valid and ignored. */
  parse_ok("\"k\";v=1", "k");
  parse_ok("\"k\";a=\"s\";b=?1;c=:AQID:;d=-1.5;e=tok/x:y;f", "k");
  parse_ok("\"k\"; *x=2", "k");
  /* Not NUL-terminated input: only len bytes are read. */
  char out[256];
  assert_int_equal(
      rein_idem_http_parse_key("\"xy\"garbage", 4, out, sizeof out, NULL, NULL),
      REIN_OK);
  assert_string_equal(out, "xy");
}

static void test_parse_invalid(void **state) {
  parse_bad("abc", 3, "column 1: expected '\"'");
  parse_bad("8e03978e-40d5", 13, "quote it");
  parse_bad("", 0, "empty value");
  parse_bad("   ", 3, "empty value");
  parse_bad("\"\"", 2, "empty key");
  parse_bad("\"abc", 4, "unterminated");
  parse_bad("\"a\\x\"", 5, "column 3: bad escape");
  parse_bad("\"a\\", 3, "bad escape");
  parse_bad("\"a\tb\"", 5, "column 3: non-printable");
  parse_bad("\"\xc3\xa9\"", 4, "non-ASCII");
  parse_bad("\"a\x7f\"", 4, "non-printable");
  parse_bad("\"a\"x", 4, "column 4: unexpected text");
  parse_bad("\"a\", \"b\"", 8, "a list of keys");
  parse_bad("\"a\";", 4, "bad parameter key");
  parse_bad("\"a\";K=1", 7, "bad parameter key");
  parse_bad("\"a\";k=", 6, "bad parameter value");
  parse_bad("\"a\";k=\"x", 8, "bad parameter value");
  parse_bad("\"a\";k=?2", 8, "bad parameter value");
  parse_bad("\"a\";k=1234567890123456", 22, "bad parameter value");
  parse_bad(":YWJj:", 6, "expected '\"'");
  parse_bad("?1", 2, "expected '\"'");
  parse_bad("42", 2, "expected '\"'");
  /* An embedded NUL is a control byte, not the end of the value. */
  parse_bad("\"a\0b\"", 5, "non-printable");
}

static void test_parse_limits(void **state) {
  char in[300], out[300];
  in[0] = '"';
  memset(in + 1, 'k', 255);
  in[256] = '"';
  size_t n = 0;
  assert_int_equal(rein_idem_http_parse_key(in, 257, out, sizeof out, &n, NULL),
                   REIN_OK);
  assert_int_equal(n, 255);
  assert_int_equal(strlen(out), 255);
  /* 256 characters: too long. */
  memset(in + 1, 'k', 256);
  in[257] = '"';
  parse_bad(in, 258, "longer than 255 characters");
  /* 255 characters written with escapes are 255 characters. */
  char esc[600];
  esc[0] = '"';
  for (int i = 0; i < 255; i++)
    esc[1 + 2 * i] = '\\', esc[2 + 2 * i] = '"';
  esc[511] = '"';
  assert_int_equal(
      rein_idem_http_parse_key(esc, 512, out, sizeof out, &n, NULL), REIN_OK);
  assert_int_equal(n, 255);
  assert_int_equal(out[254], '"');
  /* Output buffer too small, and bad arguments. */
  assert_int_equal(rein_idem_http_parse_key("\"abcd\"", 6, out, 4, NULL, NULL),
                   REIN_ETOOBIG);
  assert_int_equal(rein_idem_http_parse_key(NULL, 1, out, 4, NULL, NULL),
                   REIN_EINVAL);
  assert_int_equal(rein_idem_http_parse_key("\"a\"", 3, NULL, 4, NULL, NULL),
                   REIN_EINVAL);
  assert_int_equal(rein_idem_http_parse_key("\"a\"", 3, out, 0, NULL, NULL),
                   REIN_EINVAL);
}

/* Random inputs from an alphabet rich in the grammar's special bytes: the
 * parser returns OK or EPARSE, never reads past len (ASan), and whatever it
 * accepts survives format -> parse unchanged. */
static void test_parse_random(void **state) {
  static const char alpha[] = "\"\\;=, a1?:*.-\t\x01\x7f\xc3K";
  rein_rng rng;
  rein_rng_seed(&rng, rein_test_seed());
  int accepted = 0;
  for (int iter = 0; iter < 50000; iter++) {
    size_t len = (size_t)rein_rng_range(&rng, 0, 24);
    char *in = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
      in[i] = alpha[rein_rng_range(&rng, 0, (int64_t)sizeof alpha - 2)];
    if (len && rein_rng_range(&rng, 0, 1)) in[0] = '"';
    char out[256], fmt[600], back[256];
    size_t n = 0, fl = 0;
    rein_status st =
        rein_idem_http_parse_key(in, len, out, sizeof out, &n, NULL);
    if (st == REIN_OK) {
      accepted++;
      assert_true(n >= 1 && n <= 255);
      assert_int_equal(strlen(out), n);
      assert_int_equal(rein_idem_http_format_key(out, n, fmt, sizeof fmt, &fl),
                       REIN_OK);
      assert_int_equal(
          rein_idem_http_parse_key(fmt, fl, back, sizeof back, NULL, NULL),
          REIN_OK);
      assert_string_equal(back, out);
    } else if (st != REIN_EPARSE) {
      fail_msg("unexpected %s", rein_status_name(st));
    }
    free(in);
  }
  assert_true(accepted > 100);
}

static void test_format_key(void **state) {
  char out[600], back[300];
  size_t need = 0;
  assert_int_equal(
      rein_idem_http_format_key("a\"b\\c", 5, out, sizeof out, &need), REIN_OK);
  assert_string_equal(out, "\"a\\\"b\\\\c\"");
  assert_int_equal(need, 9);
  assert_int_equal(
      rein_idem_http_parse_key(out, need, back, sizeof back, NULL, NULL),
      REIN_OK);
  assert_string_equal(back, "a\"b\\c");
  assert_int_equal(rein_idem_http_format_key("abc", 3, out, 5, &need),
                   REIN_ETOOBIG);
  assert_int_equal(need, 5);
  assert_int_equal(rein_idem_http_format_key("", 0, out, sizeof out, NULL),
                   REIN_ERANGE);
  char big[256];
  memset(big, 'x', sizeof big);
  assert_int_equal(rein_idem_http_format_key(big, 256, out, sizeof out, NULL),
                   REIN_ERANGE);
  assert_int_equal(rein_idem_http_format_key("a\nb", 3, out, sizeof out, NULL),
                   REIN_EPARSE);
}

static void test_problem(void **state) {
  char buf[256];
  size_t need = 0;
  assert_int_equal(rein_idem_http_problem(buf, sizeof buf, &need, "urn:x:t",
                                          "T \"q\"", 409, "a\\b\n\x01"),
                   REIN_OK);
  const char *want = "{\"type\":\"urn:x:t\",\"title\":\"T \\\"q\\\"\","
                     "\"status\":409,\"detail\":\"a\\\\b\\n\\u0001\"}";
  assert_string_equal(buf, want);
  assert_int_equal(need, strlen(want));
  assert_int_equal(
      rein_idem_http_problem(buf, sizeof buf, NULL, "t", "T", 400, NULL),
      REIN_OK);
  assert_string_equal(buf, "{\"type\":\"t\",\"title\":\"T\",\"status\":400}");
  /* bytes that are not UTF-8 (a key quoted in the detail) become U+FFFD:
   * the body is always UTF-8 JSON */
  assert_int_equal(
      rein_idem_http_problem(buf, sizeof buf, NULL, "t", "T", 400, "k\xff"),
      REIN_OK);
  assert_string_equal(buf, "{\"type\":\"t\",\"title\":\"T\",\"status\":400,"
                           "\"detail\":\"k\xef\xbf\xbd\"}");
  assert_int_equal(rein_idem_http_problem(buf, 10, &need, "t", "T", 400, NULL),
                   REIN_ETOOBIG);
  assert_int_equal(need, 37);
  assert_int_equal(strlen(buf), 9);
  assert_int_equal(rein_idem_http_problem(NULL, 0, &need, "t", "T", 400, NULL),
                   REIN_ETOOBIG);
  assert_int_equal(
      rein_idem_http_problem(buf, sizeof buf, NULL, NULL, "T", 400, NULL),
      REIN_EINVAL);
  assert_string_equal(rein_idem_http_reason(422), "Unprocessable Content");
  assert_string_equal(rein_idem_http_reason(299), "");
}

static void test_config(void **state) {
  rein_idem_http_config c;
  rein_errbuf eb = {{0}};
  rein_idem_http *h = NULL;
  rein_idem_http_config_default(&c);
  assert_int_equal(c.lease_ns, 30 * REIN_NS_PER_S);
  assert_int_equal(c.retention_ns, 86400 * REIN_NS_PER_S);
  assert_string_equal(c.problem_type_base, "urn:rein:problem:");
  c.retention_ns = 3 * 86400 * REIN_NS_PER_S + 999 * REIN_NS_PER_MS;
  assert_int_equal(rein_idem_http_new(&c, &h), REIN_OK);
  assert_string_equal(rein_idem_http_retention_value(h), "259200");
  rein_idem_http_free(h);
  h = NULL;
  rein_idem_http_config_default(&c);
  c.err = &eb;
  c.lease_ns = 0;
  assert_int_equal(rein_idem_http_new(&c, &h), REIN_EINVAL);
  assert_null(h);
  assert_non_null(strstr(eb.msg, "idem_http.lease_ns"));
  rein_idem_http_config_default(&c);
  c.err = &eb;
  c.retention_ns = c.lease_ns - 1;
  assert_int_equal(rein_idem_http_new(&c, &h), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "idem_http.retention_ns"));
  rein_idem_http_config_default(&c);
  c.err = &eb;
  c.problem_type_base = "has space";
  assert_int_equal(rein_idem_http_new(&c, &h), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "idem_http.problem_type_base"));
  assert_int_equal(rein_idem_http_new(&c, NULL), REIN_EINVAL);
  rein_idem_http_free(NULL);
}

/* ---- decisions ----------------------------------------------------------- */

static const char MISSING_BODY[] =
    "{\"type\":\"urn:rein:problem:idempotency-key-missing\","
    "\"title\":\"Idempotency-Key is missing\",\"status\":400,"
    "\"detail\":\"This operation requires an Idempotency-Key header: send a "
    "unique quoted key, e.g. Idempotency-Key: "
    "\\\"8e03978e-40d5-43e8-bc93-6894a57f9324\\\", and the same key on every "
    "retry.\"}";

static void test_missing_key(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, NULL, "alice", BODY);
  expect_reject(x, 400, MISSING_BODY, false, NULL);
  assert_null(rein_idem_http_exchange_key(x));
  assert_null(rein_idem_http_exchange_fingerprint(x));
  /* Nothing to complete on a rejection. */
  rein_idem_http_response resp = {201, NULL, 0, NULL, 0};
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_ESTATE);
  assert_int_equal(rein_idem_http_abandon(x), REIN_ESTATE);
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.missing, 1);
}

static void test_key_optional(void **state) {
  fx *f = *state;
  rein_idem_http_header hs[1] = {{"Accept", "*/*"}};
  rein_idem_http_request r = mkreq(hs, 1, "alice", BODY);
  r.key_required = false;
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  assert_null(rein_idem_http_exchange_response(x));
  assert_null(rein_idem_http_exchange_token(x));
  size_t n = 9;
  assert_null(rein_idem_http_exchange_headers(x, &n));
  assert_int_equal(n, 0);
  rein_idem_http_response resp = {201, NULL, 0, "ok", 2};
  bool stored = true;
  assert_int_equal(rein_idem_http_complete(x, &resp, &stored), REIN_OK);
  assert_false(stored);
  assert_int_equal(rein_idem_http_abandon(x), REIN_OK);
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.proceed_unkeyed, 1);
  assert_int_equal(s.completed, 0);
}

static const char INVALID_TOKEN_BODY[] =
    "{\"type\":\"urn:rein:problem:idempotency-key-invalid\","
    "\"title\":\"Idempotency-Key is malformed\",\"status\":400,"
    "\"detail\":\"Idempotency-Key: column 1: expected '\\\"': the key must be "
    "an RFC 8941 string, e.g. Idempotency-Key: "
    "\\\"8e03978e-40d5-43e8-bc93-6894a57f9324\\\" (quote it; tokens are not "
    "keys)\"}";

static void test_invalid_key(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, "abc-123", "alice", BODY);
  expect_reject(x, 400, INVALID_TOKEN_BODY, true, NULL);
  rein_idem_http_exchange_free(x);
  x = begin_key(f, "\"abc", "alice", BODY);
  const rein_idem_http_response *r = rein_idem_http_exchange_response(x);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(r->body, "column 5: unterminated string"));
  rein_idem_http_exchange_free(x);
  /* Two Idempotency-Key fields (any case). */
  rein_idem_http_header hs[2] = {{"Idempotency-Key", "\"a\""},
                                 {"idempotency-key", "\"b\""}};
  rein_idem_http_request req = mkreq(hs, 2, "alice", BODY);
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &req, &x), REIN_OK);
  r = rein_idem_http_exchange_response(x);
  assert_int_equal(r->status, 400);
  assert_non_null(strstr(r->body, "more than one Idempotency-Key"));
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.invalid, 3);
  assert_int_equal(s.proceed_keyed, 0);
}

/* A key the helper cannot read is never "no key", even where keys are
 * optional: libmicrohttpd 0.9.75 turns a folded key line into a broken
 * NAME, and a framework that caps its header count may drop the key or a
 * second one. Each of these used to PROCEED unkeyed (a retry then charged
 * twice). */
static void test_unreadable_key(void **state) {
  fx *f = *state;
  static const struct {
    const char *name, *value;
    const char *detail_part;
  } broken[] = {
      {"Idempotency-Key;x=1", "\"k\"", "field name is malformed"},
      {"Idempotency-Key ", "\"k\"", "field name is malformed"},
      {"Idempotency-Key\"k\"", "", "field name is malformed"},
      {"X-A Idempotency-Key", "\"k\"", "field name is malformed"},
  };
  for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
    rein_idem_http_header hs[2] = {{"Accept", "*/*"},
                                   {broken[i].name, broken[i].value}};
    rein_idem_http_request r = mkreq(hs, 2, "alice", BODY);
    r.key_required = false;
    rein_idem_http_exchange *x = NULL;
    assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
    const rein_idem_http_response *resp = rein_idem_http_exchange_response(x);
    if (!resp || resp->status != 400)
      fail_msg("header '%s': expected a 400, got %s", broken[i].name,
               resp ? "another status" : "PROCEED");
    assert_non_null(strstr(resp->body, broken[i].detail_part));
    assert_string_equal(
        hval(resp->headers, resp->n_headers, "Idempotency-Key-Retention"),
        "86400");
    rein_idem_http_exchange_free(x);
  }
  /* A valid token that merely contains the name is another header. */
  rein_idem_http_header other[1] = {{"X-Idempotency-Key-Hint", "1"}};
  rein_idem_http_request r = mkreq(other, 1, "alice", BODY);
  r.key_required = false;
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  rein_idem_http_exchange_free(x);
  /* Truncated headers: 431, with or without a key among those kept. */
  for (int keyed = 0; keyed < 2; keyed++) {
    rein_idem_http_header hs[1] = {{"Idempotency-Key", "\"t\""}};
    r = mkreq(hs, (size_t)keyed, "alice", BODY);
    r.key_required = false;
    r.headers_truncated = true;
    assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
    const rein_idem_http_response *resp = rein_idem_http_exchange_response(x);
    assert_non_null(resp);
    assert_int_equal(resp->status, 431);
    assert_non_null(strstr(resp->body, "could not read all request headers"));
    rein_idem_http_exchange_free(x);
  }
  /* The building block says the same. */
  char key[256];
  rein_errbuf eb = {{0}};
  rein_idem_http_header dup[2] = {{"Idempotency-Key", "\"a\""},
                                  {"IDEMPOTENCY-KEY", "\"a\""}};
  r = mkreq(dup, 2, "alice", BODY);
  assert_int_equal(rein_idem_http_read_key(&r, key, sizeof key, &eb),
                   REIN_EPARSE);
  assert_non_null(strstr(eb.msg, "more than one"));
  r = mkreq(dup, 1, "alice", BODY);
  assert_int_equal(rein_idem_http_read_key(&r, key, sizeof key, &eb), REIN_OK);
  assert_string_equal(key, "a");
  r = mkreq(other, 1, "alice", BODY);
  assert_int_equal(rein_idem_http_read_key(&r, key, sizeof key, &eb),
                   REIN_ENOTFOUND);
  assert_int_equal(rein_idem_http_read_key(NULL, key, sizeof key, &eb),
                   REIN_EINVAL);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.invalid, 6);
  assert_int_equal(s.proceed_keyed, 0);
}

static void test_proceed_complete_replay(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, "\"k-1\"", "alice", BODY);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  assert_null(rein_idem_http_exchange_response(x));
  assert_string_equal(rein_idem_http_exchange_key(x), "k-1");
  /* The fingerprint: SHA-256 over (method, route, body), length-prefixed. */
  uint8_t want_fp[32];
  rein_idem_bytes parts[3] = {
      {"POST", 4}, {"/charges", 8}, {BODY, strlen(BODY)}};
  assert_int_equal(rein_idem_fingerprint_parts(parts, 3, want_fp), REIN_OK);
  assert_memory_equal(rein_idem_http_exchange_fingerprint(x), want_fp, 32);
  const rein_idem_token *t = rein_idem_http_exchange_token(x);
  assert_non_null(t);
  assert_int_equal(t->fence, 1);
  assert_false(rein_idem_http_exchange_recovered(x));
  assert_string_equal(rein_idem_http_exchange_phase(x), "");
  size_t n = 0;
  const rein_idem_http_header *xh = rein_idem_http_exchange_headers(x, &n);
  assert_int_equal(n, 1);
  assert_string_equal(xh[0].name, "Idempotency-Key-Retention");
  assert_string_equal(xh[0].value, "86400");
  assert_int_equal(rein_idem_http_checkpoint(x, "charged", 0), REIN_OK);
  /* The handler's response, including headers the helper must not store. */
  rein_idem_http_header rh[4] = {{"Content-Type", "application/json"},
                                 {"Location", "/charges/7"},
                                 {"Idempotent-Replayed", "false"},
                                 {"idempotency-key-retention", "1"}};
  const char rbody[] = "{\"id\":7}";
  rein_idem_http_response resp = {201, rh, 4, rbody, strlen(rbody)};
  bool stored = false;
  assert_int_equal(rein_idem_http_complete(x, &resp, &stored), REIN_OK);
  assert_true(stored);
  assert_int_equal(rein_idem_http_complete(x, &resp, &stored), REIN_ESTATE);
  rein_idem_http_exchange_free(x);

  /* The retry replays it: same status, headers, body, plus the marker. */
  rein_manual_clock_advance(&f->mc, 3600 * REIN_NS_PER_S);
  x = begin_key(f, "\"k-1\"", "alice", BODY);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_REPLAY);
  const rein_idem_http_response *r = rein_idem_http_exchange_response(x);
  assert_int_equal(r->status, 201);
  assert_int_equal(r->n_headers, 4);
  assert_string_equal(r->headers[0].name, "Content-Type");
  assert_string_equal(r->headers[0].value, "application/json");
  assert_string_equal(r->headers[1].name, "Location");
  assert_string_equal(r->headers[1].value, "/charges/7");
  assert_string_equal(r->headers[2].name, "Idempotent-Replayed");
  assert_string_equal(r->headers[2].value, "true");
  assert_string_equal(r->headers[3].name, "Idempotency-Key-Retention");
  assert_string_equal(r->headers[3].value, "86400");
  assert_int_equal(r->body_len, strlen(rbody));
  assert_memory_equal(r->body, rbody, r->body_len);
  assert_null(rein_idem_http_exchange_token(x));
  assert_int_equal(rein_idem_http_abandon(x), REIN_ESTATE);
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.proceed_keyed, 1);
  assert_int_equal(s.completed, 1);
  assert_int_equal(s.replays, 1);
}

static void test_replay_empty_response(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, "\"e\"", NULL, NULL);
  rein_idem_http_response resp = {204, NULL, 0, NULL, 0};
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_OK);
  rein_idem_http_exchange_free(x);
  x = begin_key(f, "\"e\"", NULL, NULL);
  const rein_idem_http_response *r = rein_idem_http_exchange_response(x);
  assert_int_equal(r->status, 204);
  assert_int_equal(r->n_headers, 2);
  assert_string_equal(r->headers[0].name, "Idempotent-Replayed");
  assert_int_equal(r->body_len, 0);
  rein_idem_http_exchange_free(x);
}

static const char CONFLICT_BODY[] =
    "{\"type\":\"urn:rein:problem:idempotency-key-in-progress\","
    "\"title\":\"A request with this Idempotency-Key is in progress\","
    "\"status\":409,\"detail\":\"Another request with the same "
    "Idempotency-Key is being processed; retry after the Retry-After delay "
    "with the same key to get its result.\"}";

static void test_in_progress(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *a = begin_key(f, "\"k-2\"", "alice", BODY);
  assert_int_equal(rein_idem_http_exchange_action(a), REIN_IDEM_HTTP_PROCEED);
  /* 10.5 s into a 30 s lease: 19.5 s remain -> Retry-After: 20. */
  rein_manual_clock_advance(&f->mc, 10500 * REIN_NS_PER_MS);
  rein_idem_http_exchange *b = begin_key(f, "\"k-2\"", "alice", BODY);
  expect_reject(b, 409, CONFLICT_BODY, true, "20");
  rein_idem_http_exchange_free(b);
  /* 0.2 s left -> at least 1. */
  rein_manual_clock_advance(&f->mc, 19300 * REIN_NS_PER_MS);
  b = begin_key(f, "\"k-2\"", "alice", BODY);
  expect_reject(b, 409, CONFLICT_BODY, true, "1");
  rein_idem_http_exchange_free(b);
  rein_idem_http_response resp = {201, NULL, 0, "x", 1};
  assert_int_equal(rein_idem_http_complete(a, &resp, NULL), REIN_OK);
  rein_idem_http_exchange_free(a);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.in_progress, 2);
}

static const char REUSED_BODY[] =
    "{\"type\":\"urn:rein:problem:idempotency-key-reused\","
    "\"title\":\"Idempotency-Key reused with a different request\","
    "\"status\":422,\"detail\":\"This Idempotency-Key was already used with "
    "a different method, route or body; use a new key for a new request.\"}";

static void test_mismatch(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, "\"k-3\"", "alice", BODY);
  rein_idem_http_response resp = {201, NULL, 0, "x", 1};
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_OK);
  rein_idem_http_exchange_free(x);
  x = begin_key(f, "\"k-3\"", "alice",
                "{\"account\":\"a1\",\"amount_cents\":999}");
  expect_reject(x, 422, REUSED_BODY, true, NULL);
  rein_idem_http_exchange_free(x);
  /* Also while the first is still in progress. */
  x = begin_key(f, "\"k-4\"", "alice", BODY);
  rein_idem_http_exchange *y = begin_key(f, "\"k-4\"", "alice", "{}");
  expect_reject(y, 422, REUSED_BODY, true, NULL);
  rein_idem_http_exchange_free(y);
  rein_idem_http_exchange_free(x);
}

static void test_recovered_and_stale(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *a = begin_key(f, "\"k-5\"", "alice", BODY);
  assert_int_equal(rein_idem_http_checkpoint(a, "debited", 0), REIN_OK);
  rein_manual_clock_advance(&f->mc, 31 * REIN_NS_PER_S);
  rein_idem_http_exchange *b = begin_key(f, "\"k-5\"", "alice", BODY);
  assert_int_equal(rein_idem_http_exchange_action(b), REIN_IDEM_HTTP_PROCEED);
  assert_true(rein_idem_http_exchange_recovered(b));
  assert_string_equal(rein_idem_http_exchange_phase(b), "debited");
  assert_int_equal(rein_idem_http_exchange_token(b)->fence, 2);
  /* The dead holder's complete is refused and changes nothing. */
  rein_idem_http_response ra = {201, NULL, 0, "A", 1};
  assert_int_equal(rein_idem_http_complete(a, &ra, NULL), REIN_ESTALE);
  assert_int_equal(rein_idem_http_complete(a, &ra, NULL), REIN_ESTATE);
  rein_idem_http_exchange_free(a);
  rein_idem_http_response rb = {201, NULL, 0, "B", 1};
  assert_int_equal(rein_idem_http_complete(b, &rb, NULL), REIN_OK);
  rein_idem_http_exchange_free(b);
  rein_idem_http_exchange *c = begin_key(f, "\"k-5\"", "alice", BODY);
  const rein_idem_http_response *r = rein_idem_http_exchange_response(c);
  assert_int_equal(r->status, 201);
  assert_memory_equal(r->body, "B", 1);
  rein_idem_http_exchange_free(c);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.recovered, 1);
  assert_int_equal(s.stale, 1);
}

static void test_abandon_and_5xx(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = begin_key(f, "\"k-6\"", "alice", BODY);
  assert_int_equal(rein_idem_http_abandon(x), REIN_OK);
  assert_int_equal(rein_idem_http_abandon(x), REIN_ESTATE);
  rein_idem_http_exchange_free(x);
  /* Released: runs again, not recovered, and may change the body. */
  x = begin_key(f, "\"k-6\"", "alice", "{}");
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  assert_false(rein_idem_http_exchange_recovered(x));
  /* A 503 is not stored: the key is released. */
  rein_idem_http_response resp = {503, NULL, 0, "down", 4};
  bool stored = true;
  assert_int_equal(rein_idem_http_complete(x, &resp, &stored), REIN_OK);
  assert_false(stored);
  rein_idem_http_exchange_free(x);
  x = begin_key(f, "\"k-6\"", "alice", "{}");
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats s;
  rein_idem_http_get_stats(f->h, &s);
  assert_int_equal(s.released, 2);
}

/* Principal B reusing A's key: neither A's response nor a conflict. */
static void test_principals_isolated(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *a = begin_key(f, "\"shared\"", "alice", BODY);
  /* While A holds the key, B is not blocked. */
  rein_idem_http_exchange *b = begin_key(f, "\"shared\"", "bob", BODY);
  assert_int_equal(rein_idem_http_exchange_action(b), REIN_IDEM_HTTP_PROCEED);
  rein_idem_http_response rb = {201, NULL, 0, "bob's", 5};
  assert_int_equal(rein_idem_http_complete(b, &rb, NULL), REIN_OK);
  rein_idem_http_exchange_free(b);
  rein_idem_http_response ra = {201, NULL, 0, "alice's", 7};
  assert_int_equal(rein_idem_http_complete(a, &ra, NULL), REIN_OK);
  rein_idem_http_exchange_free(a);
  /* Carol, same key, different body: her own NEW, no 422. */
  rein_idem_http_exchange *c = begin_key(f, "\"shared\"", "carol", "{}");
  assert_int_equal(rein_idem_http_exchange_action(c), REIN_IDEM_HTTP_PROCEED);
  rein_idem_http_exchange_free(c);
  /* Each replays only their own. */
  a = begin_key(f, "\"shared\"", "alice", BODY);
  assert_memory_equal(rein_idem_http_exchange_response(a)->body, "alice's", 7);
  rein_idem_http_exchange_free(a);
  b = begin_key(f, "\"shared\"", "bob", BODY);
  assert_memory_equal(rein_idem_http_exchange_response(b)->body, "bob's", 5);
  rein_idem_http_exchange_free(b);
}

static const char *lookup_cb(void *ctx, const char *name) {
  const char **kv = ctx;
  return strcasecmp(name, kv[0]) == 0 ? kv[1] : NULL;
}

static void test_lookup_callback(void **state) {
  fx *f = *state;
  const char *kv[2] = {"idempotency-key", "\"cb\""};
  rein_idem_http_request r = mkreq(NULL, 0, "alice", BODY);
  r.lookup = lookup_cb;
  r.lookup_ctx = kv;
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_OK);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_PROCEED);
  assert_string_equal(rein_idem_http_exchange_key(x), "cb");
  rein_idem_http_exchange_free(x);
}

static void test_bad_arguments(void **state) {
  fx *f = *state;
  rein_idem_http_exchange *x = (void *)1;
  rein_idem_http_request r = mkreq(NULL, 0, "alice", BODY);
  assert_int_equal(rein_idem_http_begin(NULL, f->store, &r, &x), REIN_EINVAL);
  assert_null(x);
  assert_int_equal(rein_idem_http_begin(f->h, NULL, &r, &x), REIN_EINVAL);
  assert_int_equal(rein_idem_http_begin(f->h, f->store, NULL, &x), REIN_EINVAL);
  r.method = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_EINVAL);
  r = mkreq(NULL, 0, "alice", BODY);
  r.body = NULL;
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_EINVAL);
  char longp[300];
  memset(longp, 'p', 299);
  longp[299] = '\0';
  r = mkreq(NULL, 0, longp, BODY);
  assert_int_equal(rein_idem_http_begin(f->h, f->store, &r, &x), REIN_EINVAL);
  /* Response headers that would smuggle a line are refused at complete. */
  x = begin_key(f, "\"k-7\"", "alice", BODY);
  rein_idem_http_header bad[1] = {{"X-A", "v\r\nSet-Cookie: x"}};
  rein_idem_http_response resp = {201, bad, 1, NULL, 0};
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_EINVAL);
  rein_idem_http_header bad2[1] = {{"X:A", "v"}};
  resp.headers = bad2;
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_EINVAL);
  resp.headers = NULL;
  resp.n_headers = 0;
  resp.status = 99;
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_EINVAL);
  /* Still held: a good complete works after the refused ones. */
  resp.status = 200;
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_OK);
  rein_idem_http_exchange_free(x);
  rein_idem_http_exchange_free(NULL);
  assert_int_equal(rein_idem_http_exchange_action(NULL), REIN_IDEM_HTTP_REJECT);
}

/* The store's response cap surfaces as ETOOBIG and the lease stays held. */
static void test_response_too_big(void **state) {
  rein_idem_config ic;
  rein_idem_config_default(&ic);
  ic.max_response = 8;
  rein_idem_store *s = NULL;
  rein_idem_http *h = NULL;
  assert_int_equal(rein_idem_mem_new(&ic, &s), REIN_OK);
  assert_int_equal(rein_idem_http_new(NULL, &h), REIN_OK);
  rein_idem_http_header hs[1] = {{"Idempotency-Key", "\"big\""}};
  rein_idem_http_request r = mkreq(hs, 1, "alice", BODY);
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(h, s, &r, &x), REIN_OK);
  rein_idem_http_response resp = {201, NULL, 0, "0123456789", 10};
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_ETOOBIG);
  resp.body_len = 8;
  assert_int_equal(rein_idem_http_complete(x, &resp, NULL), REIN_OK);
  rein_idem_http_exchange_free(x);
  rein_idem_http_free(h);
  rein_idem_store_free(s);
}

/* A store that fails: SQLite whose table is dropped under it -> 503. */
static void test_store_failure(void **state) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/rein-idem-http-%d.db", (int)getpid());
  unlink(path);
  rein_idem_sqlite_config sc;
  rein_idem_sqlite_config_default(&sc);
  sc.path = path;
  rein_idem_store *s = NULL;
  rein_idem_http *h = NULL;
  assert_int_equal(rein_idem_sqlite_new(NULL, &sc, &s), REIN_OK);
  assert_int_equal(rein_idem_http_new(NULL, &h), REIN_OK);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "DROP TABLE rein_idem", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  rein_idem_http_header hs[1] = {{"Idempotency-Key", "\"k\""}};
  rein_idem_http_request r = mkreq(hs, 1, "alice", BODY);
  rein_idem_http_exchange *x = NULL;
  assert_int_equal(rein_idem_http_begin(h, s, &r, &x), REIN_OK);
  assert_int_equal(rein_idem_http_exchange_action(x), REIN_IDEM_HTTP_REJECT);
  const rein_idem_http_response *resp = rein_idem_http_exchange_response(x);
  assert_int_equal(resp->status, 503);
  assert_string_equal(hval(resp->headers, resp->n_headers, "Retry-After"), "1");
  assert_string_equal(
      hval(resp->headers, resp->n_headers, "Idempotency-Key-Retention"),
      "86400");
  assert_non_null(strstr(resp->body, "idempotency-store-unavailable"));
  assert_int_not_equal(rein_idem_http_exchange_store_status(x), REIN_OK);
  assert_non_null(strstr(rein_idem_http_exchange_store_message(x), "sqlite"));
  rein_idem_http_exchange_free(x);
  rein_idem_http_stats st;
  rein_idem_http_get_stats(h, &st);
  assert_int_equal(st.store_errors, 1);
  rein_idem_http_free(h);
  rein_idem_store_free(s);
  unlink(path);
  char wal[80];
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(wal);
  snprintf(wal, sizeof wal, "%s-shm", path);
  unlink(wal);
}

/* 32 threads send the same key at once through one helper and one memory
 * store: exactly one runs the handler; every other gets 409 or the replay
 * of that one response; the atomic counters add up. */
typedef struct race {
  fx *f;
  pthread_barrier_t *bar;
  int action, status;
} race;

static void *race_one(void *arg) {
  race *r = arg;
  pthread_barrier_wait(r->bar);
  rein_idem_http_header hs[1] = {{"Idempotency-Key", "\"race\""}};
  rein_idem_http_request req = mkreq(hs, 1, "alice", BODY);
  rein_idem_http_exchange *x = NULL;
  if (rein_idem_http_begin(r->f->h, r->f->store, &req, &x) != REIN_OK)
    return NULL;
  r->action = rein_idem_http_exchange_action(x);
  if (r->action == REIN_IDEM_HTTP_PROCEED) {
    rein_idem_http_response resp = {201, NULL, 0, "won", 3};
    r->status = rein_idem_http_complete(x, &resp, NULL) == REIN_OK ? 201 : -1;
  } else {
    const rein_idem_http_response *rr = rein_idem_http_exchange_response(x);
    r->status = rr->status;
    if (rr->status == 201 && (rr->body_len != 3 || memcmp(rr->body, "won", 3)))
      r->status = -2;
  }
  rein_idem_http_exchange_free(x);
  return NULL;
}

static void test_concurrent_same_key(void **state) {
  fx *f = *state;
  enum { N = 32 };
  pthread_t th[N];
  race rs[N];
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, N);
  for (int i = 0; i < N; i++) {
    rs[i] = (race){f, &bar, 0, 0};
    pthread_create(&th[i], NULL, race_one, &rs[i]);
  }
  for (int i = 0; i < N; i++)
    pthread_join(th[i], NULL);
  pthread_barrier_destroy(&bar);
  int proceed = 0, conflict = 0, replay = 0;
  for (int i = 0; i < N; i++) {
    if (rs[i].action == REIN_IDEM_HTTP_PROCEED) {
      proceed++;
      assert_int_equal(rs[i].status, 201);
    } else if (rs[i].action == REIN_IDEM_HTTP_REJECT) {
      conflict++;
      assert_int_equal(rs[i].status, 409);
    } else {
      replay++;
      assert_int_equal(rs[i].action, REIN_IDEM_HTTP_REPLAY);
      assert_int_equal(rs[i].status, 201);
    }
  }
  assert_int_equal(proceed, 1);
  assert_int_equal(conflict + replay, N - 1);
  rein_idem_http_stats st;
  rein_idem_http_get_stats(f->h, &st);
  assert_int_equal(st.proceed_keyed, 1);
  assert_int_equal(st.in_progress, (uint64_t)conflict);
  assert_int_equal(st.replays, (uint64_t)replay);
  assert_int_equal(st.completed, 1);
}

/* Every allocation of a full cycle (new, begin, complete, replay, reject)
 * fails in turn: a clean error, nothing leaked. */
static int cycle(void *ctx, const rein_allocator *a) {
  rein_idem_config ic;
  rein_idem_config_default(&ic);
  ic.alloc = a;
  rein_idem_http_config hc;
  rein_idem_http_config_default(&hc);
  hc.alloc = a;
  rein_idem_store *s = NULL;
  rein_idem_http *h = NULL;
  rein_idem_http_exchange *x = NULL;
  int rc = 1;
  if (rein_idem_mem_new(&ic, &s) != REIN_OK) goto out;
  if (rein_idem_http_new(&hc, &h) != REIN_OK) goto out;
  rein_idem_http_header hs[1] = {{"Idempotency-Key", "\"f\""}};
  rein_idem_http_request r = mkreq(hs, 1, "alice", BODY);
  if (rein_idem_http_begin(h, s, &r, &x) != REIN_OK) goto out;
  rein_idem_http_header rh[1] = {{"Content-Type", "text/plain"}};
  rein_idem_http_response resp = {201, rh, 1, "ok", 2};
  if (rein_idem_http_complete(x, &resp, NULL) != REIN_OK) goto out;
  rein_idem_http_exchange_free(x);
  x = NULL;
  if (rein_idem_http_begin(h, s, &r, &x) != REIN_OK) goto out;
  if (rein_idem_http_exchange_action(x) != REIN_IDEM_HTTP_REPLAY) goto out;
  rein_idem_http_exchange_free(x);
  x = NULL;
  r.body = "{}";
  r.body_len = 2;
  if (rein_idem_http_begin(h, s, &r, &x) != REIN_OK) goto out;
  if (rein_idem_http_exchange_response(x)->status != 422) goto out;
  rc = 0;
out:
  rein_idem_http_exchange_free(x);
  rein_idem_http_free(h);
  rein_idem_store_free(s);
  return rc;
}

static void test_alloc_faults(void **state) {
  rein_test_fault_loop(cycle, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_valid),
      cmocka_unit_test(test_parse_invalid),
      cmocka_unit_test(test_parse_limits),
      cmocka_unit_test(test_parse_random),
      cmocka_unit_test(test_format_key),
      cmocka_unit_test(test_problem),
      cmocka_unit_test(test_config),
      cmocka_unit_test_setup_teardown(test_missing_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_optional, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreadable_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_proceed_complete_replay, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_replay_empty_response, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_in_progress, setup, teardown),
      cmocka_unit_test_setup_teardown(test_mismatch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recovered_and_stale, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_abandon_and_5xx, setup, teardown),
      cmocka_unit_test_setup_teardown(test_principals_isolated, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_lookup_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_same_key, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
      cmocka_unit_test(test_response_too_big),
      cmocka_unit_test(test_store_failure),
      cmocka_unit_test(test_alloc_faults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
