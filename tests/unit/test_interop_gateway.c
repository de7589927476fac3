/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_gateway.c: Kubernetes Gateway API import and export
 * (rein/interop.h, format "gateway").
 *
 *  - bad input: malformed YAML, wrong kinds and apiVersions, wrong types,
 *    unknown fields (with a did-you-mean), values Gateway API refuses
 *    (codes outside 400..599, durations outside GEP-2257, a backendRequest
 *    longer than the request timeout, percent above 100), each at its
 *    file:line:col with no calls kept; `rein import` exits 2 and writes
 *    nothing;
 *  - every field rein cannot represent is a warning naming it (attempts
 *    left to the implementation, GRPCRoute, other kinds in a manifest);
 *  - Gateway API's semantics: attempts counts retries, codes and the
 *    connection errors a retry stanza retries, backoff as the minimum wait,
 *    request/backendRequest as deadline/timeout, "0s" disables, the
 *    XBackendTrafficPolicy budget (percent, interval, minRetryRate and their
 *    defaults) on the calls to its target Services in any document order;
 *  - the fixtures of tests/interop/fixtures/gateway import to the values
 *    their headers state, and export(import(x)) reads back to the same
 *    policies;
 *  - round trip import(export(c)) == c on every field Gateway API expresses,
 *    for every caller of the example contracts and a generated corpus (seed
 *    printed: REIN_TEST_SEED replays); everything else named in a warning.
 *
 * argv: EXAMPLES_DIR FIXTURES_DIR REIN_BINARY
 */
#include "../interop/ix_test.h"
#include "rein_test.h"

#include "rein/classify.h"
#include "rein/contract.h"
#include "rein/input.h"
#include "rein/interop.h"
#include "rein/model.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *examples_dir, *fixtures_dir, *rein_bin;

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)


static rein_interop *import_text(const char *text, rein_status *st) {
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st =
      rein_interop_import_buffer(ix, "gateway", "in.yaml", text, strlen(text));
  return ix;
}

static bool has_diag(const rein_interop *ix, rein_interop_severity sev,
                     unsigned line, unsigned col, const char *field,
                     const char *needle) {
  for (size_t i = 0; i < rein_interop_diag_count(ix); i++) {
    const rein_interop_diag *d = rein_interop_diag_at(ix, i);
    if (d->severity == sev && (!line || d->loc.line == line) &&
        (!col || d->loc.col == col) &&
        (!field || strcmp(d->field, field) == 0) &&
        (!needle || strstr(d->message, needle)))
      return true;
  }
  return false;
}

static bool retried(const rein_policy_spec *sp, rein_condition c) {
  rein_outcome_kind k = rein_condition_kind(c);
  if (rein_retryable_set_is_empty(&sp->policy.retryable))
    return (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0;
  return rein_retryable_set_has(&sp->policy.retryable, c, k);
}

/* ------------------------------------------------------------ bad input */

#define RT                                                                     \
  "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n"                \
  "metadata: {name: r}\nspec:\n  rules:\n"
#define RULE "  - backendRefs: [{name: a, port: 80}]\n"
#define BTP                                                                    \
  "apiVersion: gateway.networking.x-k8s.io/v1alpha1\n"                         \
  "kind: XBackendTrafficPolicy\nmetadata: {name: b}\nspec:\n"                  \
  "  targetRefs: [{group: \"\", kind: Service, name: a}]\n"

typedef struct bad_case {
  const char *text;
  unsigned line, col;
  const char *field;
  const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {RT RULE "    retry: {attempts: 2\n", 0, 0, NULL, "malformed YAML"},
    {"", 1, 1, NULL, "empty file"},
    {"- 1\n", 1, 1, NULL, "an HTTPRoute object"},
    {"apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nspec: {}\n", 1,
     1, "kind", "rein imports Gateway API HTTPRoutes"},
    {"apiVersion: gateway.networking.k8s.io/v2\nkind: HTTPRoute\nspec: {}\n", 1,
     1, "apiVersion", "expected gateway.networking.k8s.io/v1"},
    {"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n", 1, 1,
     "spec", "missing"},
    /* unknown fields, with a did-you-mean */
    {RT RULE "    retry: {attempts: 2, backof: 1s}\n", 7, 26,
     "spec.rules[0].retry.backof", "did you mean 'backoff'"},
    {RT RULE "    retries: {attempts: 2}\n", 7, 5, "spec.rules[0].retries",
     "did you mean 'retry'"},
    {RT RULE "    timeouts: {requst: 1s}\n", 7, 16,
     "spec.rules[0].timeouts.requst", "did you mean 'request'"},
    {RT "  - backendRefs: [{nme: a}]\n", 6, 20,
     "spec.rules[0].backendRefs[0].nme", "did you mean 'name'"},
    {BTP "  retryConstraint: {budget: {percnt: 20}}\n---\n" RT RULE, 6, 30,
     "spec.retryConstraint.budget.percnt", "did you mean 'percent'"},
    /* wrong types and values Gateway API refuses */
    {RT RULE "    retry: {attempts: \"3\"}\n", 7, 23,
     "spec.rules[0].retry.attempts", "expected a whole number"},
    {RT RULE "    retry: {attempts: 1.5}\n", 7, 23,
     "spec.rules[0].retry.attempts", "whole number"},
    {RT RULE "    retry: {attempts: 2, codes: [399]}\n", 7, 34,
     "spec.rules[0].retry.codes[0]", "[400, 599]"},
    {RT RULE "    retry: {attempts: 2, codes: 503}\n", 7, 33,
     "spec.rules[0].retry.codes", "an array"},
    {RT RULE "    retry: {attempts: 2, backoff: 1.5s}\n", 7, 35,
     "spec.rules[0].retry.backoff", "GEP-2257"},
    {RT RULE "    timeouts: {request: 100000s}\n", 7, 25,
     "spec.rules[0].timeouts.request", "GEP-2257"},
    {RT RULE "    timeouts: {request: 1d}\n", 7, 25,
     "spec.rules[0].timeouts.request", "GEP-2257"},
    {RT RULE "    timeouts: {request: 1s, backendRequest: 2s}\n", 7, 45,
     "spec.rules[0].timeouts.backendRequest", "longer than"},
    {RT RULE "    retry: [3]\n", 7, 12, "spec.rules[0].retry",
     "expected an HTTPRouteRetry object"},
    {RT "  - backendRefs: [{port: 80}]\n", 6, 19,
     "spec.rules[0].backendRefs[0].name", "missing"},
    {RT "  - matches: [{path: {type: Glob, value: /a}}]\n" RULE, 6, 29,
     "spec.rules[0].matches[0].path.type", "expected Exact"},
    {BTP "  retryConstraint: {budget: {percent: 101}}\n---\n" RT RULE, 6, 39,
     "spec.retryConstraint.budget.percent", "[0, 100]"},
    {BTP "  retryConstraint: {minRetryRate: {count: 0}}\n---\n" RT RULE, 6, 43,
     "spec.retryConstraint.minRetryRate.count", "[1, "},
    {BTP "  retryConstraint: {budget: {interval: 2h}}\n---\n" RT RULE, 6, 40,
     "spec.retryConstraint.budget.interval", "1s to 1h"},
    {BTP "  retryConstraint: {budget: {interval: 500ms}}\n---\n" RT RULE, 6, 40,
     "spec.retryConstraint.budget.interval", "1s to 1h"},
    /* more outcomes than a contract holds */
    {RT RULE "    retry: {attempts: 2, codes: [400, 402, 404, 406, 408, 410, "
             "412, 414, 416, 418, 420, 422, 424, 426, 428, 430, 432, 434, "
             "436, 438, 440, 442, 444, 446, 448, 450, 452, 454, 456, 458, "
             "460, 462, 464]}\n",
     7, 12, "spec.rules[0].retry", "at most 32"},
    /* nothing to import */
    {RT "  - matches: [{path: {value: /a}}]\n", 1, 1, "", "nothing to import"},
    {BTP, 1, 1, "", "nothing to import"},
};

static void test_bad_input(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    const bad_case *b = &bad_cases[i];
    rein_status st;
    rein_interop *ix = import_text(b->text, &st);
    if (st != REIN_EPARSE || !has_diag(ix, REIN_INTEROP_ERROR, b->line, b->col,
                                       b->field, b->needle)) {
      fprintf(stderr, "case %zu: status %d, wanted %u:%u %s '%s'; got:\n", i,
              st, b->line, b->col, b->field ? b->field : "", b->needle);
      rein_interop_write_diags(ix, stderr);
      failures++;
    }
    assert_int_equal(rein_interop_call_count(ix), 0);
    char *out = NULL;
    size_t n;
    assert_int_equal(rein_interop_write_contract(ix, &out, &n), REIN_EINVAL);
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
}

/* `rein import gateway` writes nothing when any file has an error. */
static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-gateway-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.yaml", dir);
  snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs(RT RULE "    retry: {attempts: 2, codes: [503]}\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs(RT RULE "    retry: {attempts: 2, codes: [503, 700]}\n", f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import gateway '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[512];
  snprintf(want, sizeof want,
           "%s:7:39: error: spec.rules[0].retry.codes[1]:", bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "import gateway '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  assert_int_equal(stat(path, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "export gateway '%s'", path);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(o, "kind: HTTPRoute"));
  assert_non_null(strstr(o, "codes: [503]"));
  free(o);
  unlink(path);
  rmdir(out);
  unlink(good);
  unlink(bad);
  rmdir(dir);
}

/* ------------------------------------------------------------- warnings */

static void test_warnings(void **state) {
  (void)state;
  static const struct {
    const char *text, *field, *needle;
  } w[] = {
      {RT RULE "    retry: {codes: [503]}\n", "spec.rules[0].retry.attempts",
       "implementation-specific"},
      {"apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\n"
       "metadata: {name: g}\nspec: {}\n---\n" RT RULE,
       "kind", "GRPCRoute has no retry"},
      {"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n"
       "  kind: Service\n  metadata: {name: a}\n"
       "- apiVersion: gateway.networking.k8s.io/v1\n  kind: HTTPRoute\n"
       "  metadata: {name: r}\n  spec:\n    rules:\n"
       "    - backendRefs: [{name: a, port: 80}]\n",
       "items[0].kind", "HTTPRoutes and XBackendTrafficPolicies only"},
  };
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    rein_status st;
    rein_interop *ix = import_text(w[i].text, &st);
    if (st != REIN_OK ||
        !has_diag(ix, REIN_INTEROP_WARNING, 0, 0, w[i].field, w[i].needle)) {
      fprintf(stderr, "warning %zu (%s) missing:\n", i, w[i].field);
      rein_interop_write_diags(ix, stderr);
      fail();
    }
    rein_interop_free(ix);
  }
}

/* ------------------------------------------------------------ semantics */

static const rein_policy_spec *only(rein_interop *ix) {
  assert_int_equal(rein_interop_call_count(ix), 1);
  return &rein_interop_call_at(ix, 0)->spec;
}

static void test_semantics(void **state) {
  (void)state;
  rein_status st;
  /* no retry stanza: no retries */
  rein_interop *ix = import_text(RT RULE, &st);
  assert_int_equal(st, REIN_OK);
  const rein_policy_spec *sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 1);
  assert_int_equal(sp->deadline_ns, 0);
  assert_string_equal(rein_interop_call_at(ix, 0)->to, "a.*");
  rein_interop_free(ix);
  /* attempts counts retries; codes; connection errors; backoff minimum */
  ix = import_text(RT RULE "    retry: {attempts: 3, codes: [503, 429], "
                           "backoff: 1m30s}\n"
                           "    timeouts: {request: 1h, backendRequest: 0s}\n",
                   &st);
  sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 4);
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_false(retried(sp, REIN_COND_HTTP(500)));
  assert_false(retried(sp, REIN_COND_HTTP(504)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET)));
  assert_false(retried(sp, REIN_COND_GRPC(14)));
  assert_int_equal(sp->policy.backoff.kind, REIN_BACKOFF_CONSTANT);
  assert_int_equal(sp->policy.backoff.base_ns, 90 * SEC);
  assert_int_equal(sp->policy.backoff.jitter, REIN_JITTER_NONE);
  assert_int_equal(sp->deadline_ns, 3600 * SEC);
  assert_int_equal(sp->policy.attempt_timeout_ns, 0); /* 0s disables */
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0,
                       "spec.rules[0].retry.backoff", "minimum wait"));
  rein_interop_free(ix);
  /* names: Exact, PathPrefix, RegularExpression; origin keeps the port */
  ix = import_text(RT "  - matches:\n    - path: {type: Exact, value: "
                      "/v1/charge}\n    - path: {value: /api/}\n"
                      "    - path: {type: RegularExpression, value: \"/x.*\"}\n"
                      "    backendRefs: [{name: pay, port: 8443}]\n",
                   &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 3);
  assert_string_equal(rein_interop_call_at(ix, 0)->to, "pay.v1-charge");
  assert_string_equal(rein_interop_call_at(ix, 1)->to, "pay.api*");
  assert_string_equal(rein_interop_call_at(ix, 2)->to, "pay.*");
  assert_non_null(strstr(rein_interop_call_at(ix, 0)->origin,
                         "Exact /v1/charge -> pay:8443"));
  rein_interop_free(ix);
  /* the budget: after or before the route, defaults, only retrying calls,
   * only its targets */
  static const char *const orders[] = {
      BTP "  retryConstraint:\n    budget: {percent: 30}\n"
          "    minRetryRate: {count: 30, interval: 1m}\n---\n" RT RULE
          "    retry: {attempts: 2}\n"
          "  - backendRefs: [{name: b, port: 80}]\n    retry: {attempts: 2}\n",
      RT RULE "    retry: {attempts: 2}\n"
              "  - backendRefs: [{name: b, port: 80}]\n"
              "    retry: {attempts: 2}\n---\n" BTP
              "  retryConstraint:\n    budget: {percent: 30}\n"
              "    minRetryRate: {count: 30, interval: 1m}\n"};
  for (int o = 0; o < 2; o++) {
    ix = import_text(orders[o], &st);
    assert_int_equal(st, REIN_OK);
    assert_int_equal(rein_interop_call_count(ix), 2);
    sp = &rein_interop_call_at(ix, 0)->spec;
    assert_true(sp->has_budget);
    assert_int_equal(sp->budget.kind, REIN_BUDGET_RATIO);
    assert_true(fabs(sp->budget.ratio - 0.3) < 1e-12);
    assert_int_equal(sp->budget.ttl_ns, 10 * SEC); /* the default interval */
    assert_true(fabs(sp->budget.min_retries_per_sec - 0.5) < 1e-12);
    assert_false(rein_interop_call_at(ix, 1)->spec.has_budget); /* b */
    rein_interop_free(ix);
  }
  ix = import_text(BTP "  retryConstraint: {}\n---\n" RT RULE
                       "    retry: {attempts: 1}\n",
                   &st);
  sp = only(ix);
  assert_true(fabs(sp->budget.ratio - 0.2) < 1e-12);
  assert_true(fabs(sp->budget.min_retries_per_sec - 10) < 1e-12);
  rein_interop_free(ix);
  ix = import_text(BTP "  retryConstraint: {}\n---\n" RT RULE, &st);
  assert_false(only(ix)->has_budget); /* no retries: nothing to budget */
  rein_interop_free(ix);
}

/* Export groups a Service's rules (exact, regex, longer prefixes, the
 * catch-all), at most 16 to an HTTPRoute, writes Gateway API durations and
 * one XBackendTrafficPolicy per Service. */
static void test_export_shape(void **state) {
  (void)state;
  char contract[8192];
  size_t o = (size_t)snprintf(
      contract, sizeof contract,
      "service: web\nversion: \"1\"\ncalls:\n"
      "  - to: \"a.*\"\n    deadline: 1d\n    retry: {attempts: 2}\n"
      "  - to: \"a.api*\"\n    timeout: 1500ms\n    retry: {attempts: 3, "
      "budget: {kind: ratio, ratio: 0.15, ttl: 30s, min_per_sec: 2}}\n"
      "  - to: \"a.api-v2*\"\n    retry: {attempts: 2}\n"
      "  - to: a.v1-charge\n    timeout: 90s\n    retry: {attempts: 2}\n");
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(contract + o, sizeof contract - o,
                          "  - to: a.op%d\n    retry: {attempts: 2}\n", i);
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  if (rein_contract_add_buffer(s, "web.yaml", contract, strlen(contract)) !=
      REIN_OK) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    fail();
  }
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  char *text;
  size_t tl;
  assert_int_equal(rein_interop_export(ix, "gateway", s, NULL, &text, &tl),
                   REIN_OK);
  const char *e = strstr(text, "value: \"/v1-charge\""),
             *p2 = strstr(text, "value: \"/api-v2\""),
             *p1 = strstr(text, "value: \"/api\""),
             *all = strstr(text, "request: \"24h\"");
  if (!e || !p2 || !p1 || !all || !(e < p2 && p2 < p1 && p1 < all)) {
    fprintf(stderr, "rule order:\n%s\n", text);
    fail();
  }
  assert_non_null(strstr(text, "backendRequest: \"1s500ms\""));
  assert_non_null(strstr(text, "backendRequest: \"1m30s\""));
  assert_non_null(strstr(text, "name: \"a-2\""));
  assert_non_null(strstr(text, "percent: 15\n"));
  assert_non_null(strstr(text, "interval: \"30s\""));
  assert_non_null(strstr(text, "count: 2\n"));
  size_t nr = 0, nb = 0;
  for (const char *q = text; (q = strstr(q, "kind: HTTPRoute")); q++)
    nr++;
  for (const char *q = text; (q = strstr(q, "kind: XBackendTrafficPolicy"));
       q++)
    nb++;
  assert_int_equal(nr, 2); /* 24 rules: 16 + 8 */
  assert_int_equal(nb, 1);
  /* the other retrying calls to a come under the budget: warned */
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 0, 0, "calls[0].retry.budget",
                       "applies to every retry"));
  rein_free(NULL, text);
  rein_interop_free(ix);
  rein_contract_set_free(s);
}

/* ------------------------------------------------------------ round trip */


static rein_condition when_differs(const rein_policy_spec *a,
                                   const rein_policy_spec *b) {
  for (uint32_t s = 100; s < 600; s++)
    if (retried(a, REIN_COND_HTTP(s)) != retried(b, REIN_COND_HTTP(s)))
      return REIN_COND_HTTP(s);
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    if (retried(a, REIN_COND_GRPC(c)) != retried(b, REIN_COND_GRPC(c)))
      return REIN_COND_GRPC(c);
  for (uint32_t t = 0; t < REIN_TRANSPORT_COUNT_; t++)
    if (retried(a, REIN_COND_TRANSPORT(t)) !=
        retried(b, REIN_COND_TRANSPORT(t)))
      return REIN_COND_TRANSPORT(t);
  return 0;
}

static int64_t up_ms(int64_t ns) {
  return ns > 0 ? (ns + MS - 1) / MS * MS : 0;
}

/* Export `caller` of `s`, import the export, and hold every call to what
 * Gateway API expresses, everything else warned. Returns the calls
 * compared. */
static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex, *im;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text = NULL;
  size_t len;
  if (rein_interop_export(ex, "gateway", s, caller, &text, &len) != REIN_OK) {
    fprintf(stderr, "%s: export of %s failed\n", what, caller);
    rein_interop_write_diags(ex, stderr);
    fail();
  }
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  if (rein_interop_import_buffer(im, "gateway", "exported.yaml", text, len) !=
      REIN_OK) {
    fprintf(stderr, "%s: import of the export failed:\n%s\n", what, text);
    rein_interop_write_diags(im, stderr);
    fail();
  }
  { /* what the import writes is a contract that loads */
    char *yaml;
    size_t yl;
    rein_contract_set *again;
    assert_int_equal(rein_interop_write_contract(im, &yaml, &yl), REIN_OK);
    assert_int_equal(rein_contract_set_new(NULL, &again), REIN_OK);
    if (rein_contract_add_buffer(again, "again.yaml", yaml, yl) != REIN_OK) {
      fprintf(stderr, "%s: the imported contract does not load:\n%s\n", what,
              yaml);
      rein_contract_write(again, REIN_CONTRACT_FORMAT_TEXT, stderr);
      fail();
    }
    rein_contract_set_free(again);
    rein_free(NULL, yaml);
  }
  size_t compared = 0, idx = 0;
  for (size_t i = 0; i < rein_contract_call_count(s); i++) {
    const char *c, *to;
    rein_contract_call_at(s, i, &c, &to);
    if (strcmp(c, caller) != 0) continue;
    char path[32];
    snprintf(path, sizeof path, "calls[%zu]", idx++);
    rein_policy_spec sp;
    assert_int_equal(rein_spec_from_contract(s, caller, to, &sp, NULL),
                     REIN_OK);
    const rein_interop_call *back = NULL;
    for (size_t k = 0; k < rein_interop_call_count(im); k++)
      if (strcmp(rein_interop_call_at(im, k)->to, to) == 0)
        back = rein_interop_call_at(im, k);
    if (!back) {
      fprintf(stderr, "%s: %s -> %s did not come back:\n%s\n", what, caller, to,
              text);
      fail();
    }
    const rein_policy_spec *b = &back->spec;
    const rein_backoff_config *bo = &sp.policy.backoff;
    uint32_t att = sp.policy.max_attempts;
    int64_t dl = up_ms(sp.deadline_ns),
            tmo = up_ms(sp.policy.attempt_timeout_ns);
    if (dl && tmo > dl) {
      tmo = dl;
      assert_true(ix_warned(ex, path, "timeout"));
    }
    int64_t base =
        att > 1 && bo->kind != REIN_BACKOFF_NONE ? up_ms(bo->base_ns) : 0;
    char why[200] = "";
    if (att != b->policy.max_attempts)
      snprintf(why, sizeof why, "attempts %u vs %u", att,
               b->policy.max_attempts);
    else if (dl != b->deadline_ns)
      snprintf(why, sizeof why, "deadline %lld vs %lld", (long long)dl,
               (long long)b->deadline_ns);
    else if (tmo != b->policy.attempt_timeout_ns)
      snprintf(why, sizeof why, "timeout %lld vs %lld", (long long)tmo,
               (long long)b->policy.attempt_timeout_ns);
    else if (base != b->policy.backoff.base_ns)
      snprintf(why, sizeof why, "backoff base %lld vs %lld", (long long)base,
               (long long)b->policy.backoff.base_ns);
    rein_condition dc = att > 1 ? when_differs(&sp, b) : 0;
    if (!*why && dc && !ix_warned(ex, path, "retry.when")) {
      char nb[32];
      snprintf(why, sizeof why, "`when` differs on %s, not warned",
               rein_condition_name(dc, nb, sizeof nb));
    }
    /* the budget: the same ratio budget, or a warning */
    bool want_b = sp.has_budget && att > 1;
    if (!*why && want_b != b->has_budget && !ix_warned(ex, path, "retry.budget"))
      snprintf(why, sizeof why, "budget %d vs %d, not warned", want_b,
               b->has_budget);
    if (!*why && want_b && b->has_budget && !ix_warned(ex, path, "retry.budget")) {
      const rein_budget_config *x = &sp.budget, *y = &b->budget;
      if (fabs(floor(x->ratio * 100 + 0.5) / 100 - y->ratio) > 1e-9 &&
          !ix_warned(ex, path, "retry.budget.ratio"))
        snprintf(why, sizeof why, "budget ratio %g vs %g", x->ratio, y->ratio);
      else if ((x->ttl_ns < SEC ? SEC : up_ms(x->ttl_ns)) != y->ttl_ns ||
               (x->ttl_ns < SEC && !ix_warned(ex, path, "retry.budget.ttl")))
        snprintf(why, sizeof why, "budget ttl %lld vs %lld",
                 (long long)x->ttl_ns, (long long)y->ttl_ns);
      else if (fabs(x->min_retries_per_sec - y->min_retries_per_sec) >
                   1e-9 * (1 + x->min_retries_per_sec) &&
               !ix_warned(ex, path, "retry.budget.min_per_sec"))
        snprintf(why, sizeof why, "budget min_per_sec %g vs %g",
                 x->min_retries_per_sec, y->min_retries_per_sec);
    }
    /* every field Gateway API cannot express is named in a warning */
    const char *lost = NULL;
    if (!*why && att > 1) {
      if (bo->kind != REIN_BACKOFF_NONE && bo->jitter != REIN_JITTER_NONE &&
          !ix_warned(ex, path, "retry.backoff.jitter"))
        lost = "retry.backoff.jitter";
      else if ((bo->kind == REIN_BACKOFF_EXPONENTIAL ||
                bo->kind == REIN_BACKOFF_LINEAR) &&
               !ix_warned(ex, path, "retry.backoff.kind"))
        lost = "retry.backoff.kind";
      else if (bo->kind != REIN_BACKOFF_NONE && bo->base_ns % MS &&
               !ix_warned(ex, path, "retry.backoff.base"))
        lost = "retry.backoff.base";
      else if (sp.signals && !ix_warned(ex, path, "retry.signals"))
        lost = "retry.signals";
      else if (sp.policy.window_ns > 0 && !ix_warned(ex, path, "retry.window"))
        lost = "retry.window";
      else if (sp.has_breaker && !ix_warned(ex, path, "retry.breaker"))
        lost = "retry.breaker";
      else if (sp.has_throttle && !ix_warned(ex, path, "retry.throttle"))
        lost = "retry.throttle";
      else if (sp.policy.key_retention_ns > 0 && !ix_warned(ex, path, "key_ttl"))
        lost = "key_ttl";
      if (lost) snprintf(why, sizeof why, "%s lost, not warned", lost);
    }
    if (*why) {
      fprintf(stderr, "%s: %s -> %s: %s\n%s\n", what, caller, to, why, text);
      rein_interop_write_diags(ex, stderr);
      fail();
    }
    compared++;
  }
  rein_free(NULL, text);
  rein_interop_free(ex);
  rein_interop_free(im);
  return compared;
}

static void test_examples_round_trip(void **state) {
  (void)state;
  DIR *d = opendir(examples_dir);
  assert_non_null(d);
  size_t calls = 0, dirs = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", examples_dir, e->d_name);
    const char *paths[] = {path};
    rein_contract_set *s;
    assert_int_equal(rein_contract_load(NULL, paths, 1, &s), REIN_OK);
    const char *done[64];
    size_t ndone = 0;
    for (size_t i = 0; i < rein_contract_call_count(s); i++) {
      const char *c, *to;
      rein_contract_call_at(s, i, &c, &to);
      bool seen = false;
      for (size_t k = 0; k < ndone; k++)
        seen |= strcmp(done[k], c) == 0;
      if (seen || ndone == 64) continue;
      done[ndone++] = c;
      calls += round_trip(s, c, path);
    }
    rein_contract_set_free(s);
    dirs++;
  }
  closedir(d);
  fprintf(stderr, "example round trip: %zu calls in %zu directories\n", calls,
          dirs);
  assert_true(dirs >= 8);
  assert_true(calls >= 10);
}


static void test_corpus_round_trip(void **state) {
  (void)state;
  uint64_t seed = rein_test_seed();
  rein_rng r;
  rein_rng_seed(&r, seed);
  size_t calls = 0, contracts = 0, budgets = 0;
  char *buf = malloc(1 << 16);
  assert_non_null(buf);
  for (int i = 0; i < 600; i++) {
    ix_random_contract(&r, buf, 1 << 16);
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    if (rein_contract_add_buffer(s, "random.yaml", buf, strlen(buf)) !=
        REIN_OK) {
      bool dup = false; /* two calls drew the same callee: E006 */
      for (size_t k = 0; k < rein_contract_diag_count(s); k++)
        dup |= strcmp(rein_contract_diag_at(s, k)->rule, "E006") == 0;
      if (!dup) {
        fprintf(stderr, "seed %llu contract %d does not load:\n%s\n",
                (unsigned long long)seed, i, buf);
        rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
        fail();
      }
      rein_contract_set_free(s);
      continue;
    }
    char what[64];
    snprintf(what, sizeof what, "seed %llu contract %d",
             (unsigned long long)seed, i);
    calls += round_trip(s, "caller", what);
    budgets += strstr(buf, "budget:") != NULL;
    contracts++;
    rein_contract_set_free(s);
  }
  free(buf);
  fprintf(stderr,
          "corpus round trip: %zu contracts, %zu calls, %zu with a budget "
          "(seed %llu)\n",
          contracts, calls, budgets, (unsigned long long)seed);
  assert_true(contracts >= 300);
  assert_true(budgets >= 50);
}

/* ------------------------------------------------------------- fixtures */

static rein_interop *import_file(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  if (rein_interop_import_file(ix, "gateway", path) != REIN_OK) {
    rein_interop_write_diags(ix, stderr);
    fail();
  }
  return ix;
}

static const rein_policy_spec *call_named(const rein_interop *ix,
                                          const char *to) {
  for (size_t i = 0; i < rein_interop_call_count(ix); i++)
    if (strcmp(rein_interop_call_at(ix, i)->to, to) == 0)
      return &rein_interop_call_at(ix, i)->spec;
  fprintf(stderr, "no call %s\n", to);
  fail();
  return NULL;
}

/* What each fixture's header says it means, as Gateway API documents it. */
static void test_fixture_values(void **state) {
  (void)state;
  rein_interop *ix = import_file("retry-codes.yaml");
  assert_int_equal(rein_interop_call_count(ix), 2);
  const rein_policy_spec *sp = call_named(ix, "cart.cart*");
  assert_int_equal(sp->policy.max_attempts, 3);
  assert_int_equal(sp->deadline_ns, 10 * SEC);
  assert_int_equal(sp->policy.attempt_timeout_ns, 2 * SEC);
  assert_int_equal(sp->policy.backoff.base_ns, 100 * MS);
  for (unsigned s = 400; s < 600; s++)
    assert_int_equal(retried(sp, REIN_COND_HTTP(s)),
                     s == 500 || s == 502 || s == 503 || s == 504);
  sp = call_named(ix, "cart.health");
  assert_int_equal(sp->policy.max_attempts, 1);
  rein_interop_free(ix);

  ix = import_file("budget-multidoc.yaml");
  sp = call_named(ix, "payments.v1-charge");
  assert_int_equal(sp->policy.max_attempts, 4);
  assert_int_equal(sp->deadline_ns, 90 * SEC);
  assert_int_equal(sp->policy.backoff.base_ns, 250 * MS);
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_false(retried(sp, REIN_COND_HTTP(500)));
  assert_true(sp->has_budget);
  assert_true(fabs(sp->budget.ratio - 0.25) < 1e-12);
  assert_int_equal(sp->budget.ttl_ns, 20 * SEC);
  assert_true(fabs(sp->budget.min_retries_per_sec - 5) < 1e-12);
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 34, 7, "spec.rules[0].matches[0]",
                       "method"));
  rein_interop_free(ix);

  ix = import_file("mesh-list.json");
  sp = call_named(ix, "ledger.*");
  assert_int_equal(sp->policy.max_attempts, 2);
  assert_int_equal(sp->policy.attempt_timeout_ns, 2 * SEC);
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET)));
  assert_false(retried(sp, REIN_COND_HTTP(503)));
  assert_true(sp->has_budget);
  assert_true(fabs(sp->budget.ratio - 0.1) < 1e-12);
  assert_int_equal(sp->budget.ttl_ns, 10 * SEC);
  assert_true(fabs(sp->budget.min_retries_per_sec - 0.5) < 1e-12);
  rein_interop_free(ix);
}

/* export(import(x)) reads back to the same policies, call by call, and the
 * export names the same backends and ports. */
static void test_fixtures_round_trip(void **state) {
  (void)state;
  DIR *d = opendir(fixtures_dir);
  assert_non_null(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    rein_interop *ix = import_file(e->d_name);
    char *yaml;
    size_t yl;
    assert_int_equal(rein_interop_write_contract(ix, &yaml, &yl), REIN_OK);
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    assert_int_equal(rein_contract_add_buffer(s, "c.yaml", yaml, yl), REIN_OK);
    rein_interop *ex, *im;
    assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
    char *text;
    size_t tl;
    assert_int_equal(rein_interop_export(ex, "gateway", s, NULL, &text, &tl),
                     REIN_OK);
    assert_int_equal(rein_interop_count(ex, REIN_INTEROP_WARNING), 0);
    assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
    assert_int_equal(
        rein_interop_import_buffer(im, "gateway", "again.yaml", text, tl),
        REIN_OK);
    assert_int_equal(rein_interop_call_count(im), rein_interop_call_count(ix));
    for (size_t i = 0; i < rein_interop_call_count(ix); i++) {
      const rein_interop_call *a = rein_interop_call_at(ix, i);
      const rein_policy_spec *x = &a->spec, *y = call_named(im, a->to);
      bool same =
          x->policy.max_attempts == y->policy.max_attempts &&
          x->deadline_ns == y->deadline_ns &&
          x->policy.attempt_timeout_ns == y->policy.attempt_timeout_ns &&
          x->policy.backoff.kind == y->policy.backoff.kind &&
          x->policy.backoff.base_ns == y->policy.backoff.base_ns &&
          (x->policy.max_attempts <= 1 || !when_differs(x, y)) &&
          x->has_budget == y->has_budget &&
          (!x->has_budget || (fabs(x->budget.ratio - y->budget.ratio) < 1e-12 &&
                              x->budget.ttl_ns == y->budget.ttl_ns &&
                              fabs(x->budget.min_retries_per_sec -
                                   y->budget.min_retries_per_sec) < 1e-12));
      if (!same) {
        fprintf(stderr, "%s: %s differs after the round trip:\n%s\n", e->d_name,
                a->to, text);
        fail();
      }
      const char *be = strstr(a->origin, " -> ");
      assert_non_null(be);
      char want[300], name[200];
      snprintf(name, sizeof name, "%s", be + 4);
      char *colon = strrchr(name, ':');
      assert_non_null(colon);
      *colon = 0;
      snprintf(want, sizeof want, "- name: \"%s\"\n        port: %s\n", name,
               colon + 1);
      assert_non_null(strstr(text, want));
    }
    rein_free(NULL, text);
    rein_free(NULL, yaml);
    rein_interop_free(im);
    rein_interop_free(ex);
    rein_contract_set_free(s);
    rein_interop_free(ix);
    n++;
  }
  closedir(d);
  fprintf(stderr, "fixtures: %zu read back the same after the round trip\n", n);
  assert_true(n >= 3);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_interop_gateway EXAMPLES FIXTURES REIN\n");
    return 2;
  }
  examples_dir = argv[1];
  fixtures_dir = argv[2];
  rein_bin = argv[3];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_cli_nothing_written),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_export_shape),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixture_values),
      cmocka_unit_test(test_fixtures_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
