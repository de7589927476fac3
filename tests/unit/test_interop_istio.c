/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_istio.c: Istio VirtualService import and export
 * (rein/interop.h, format "istio").
 *
 *  - bad input: malformed YAML, wrong kinds and apiVersions, wrong types,
 *    unknown fields (with a did-you-mean), values Istio refuses, each at
 *    its file:line:col with no calls kept; `rein import` exits 2 and
 *    writes nothing;
 *  - every HTTPRetry field rein cannot represent is a warning naming it
 *    (retryRemoteLocalities, retryIgnorePreviousHosts, mirrors, tcp/tls
 *    routes, delegates, retriable-headers);
 *  - Istio's semantics: no retries = the default policy, attempts counts
 *    retries (0 disables them), HTTP statuses inside retryOn, the default
 *    conditions for an empty retryOn, Go durations;
 *  - the fixtures of tests/interop/fixtures/istio import to the values
 *    their headers state (checked here field by field), and export(import(x))
 *    reads back to the same policies (semantically equal to x as Istio
 *    defines it);
 *  - round trip import(export(c)) == c on every field Istio expresses, for
 *    every caller of the example contracts and a generated corpus (seed
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

static const rein_model_field *mf(rein_model_block b, const char *n) {
  return rein_model_find(b, n, NULL);
}

static rein_interop *import_text(const char *text, rein_status *st) {
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st = rein_interop_import_buffer(ix, "istio", "in.yaml", text, strlen(text));
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

#define VS                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"                 \
  "metadata: {name: r}\nspec:\n  hosts: [a]\n  http:\n"
#define ROUTE "  - route:\n    - destination: {host: a}\n"
#define DR                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"                \
  "metadata: {name: d}\nspec:\n  host: a\n  trafficPolicy:\n"

typedef struct bad_case {
  const char *text;
  unsigned line, col;
  const char *field;
  const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {VS ROUTE "    retries: {attempts: 2\n", 0, 0, NULL, "malformed YAML"},
    {"", 1, 1, NULL, "empty file"},
    {"- 1\n", 1, 1, NULL, "a VirtualService object"},
    {"apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
     "spec: {}\n",
     1, 1, "kind", "rein imports Istio's VirtualService"},
    {"apiVersion: networking.istio.io/v2\nkind: VirtualService\nspec: {}\n", 1,
     1, "apiVersion", "expected networking.istio.io/v1"},
    {"apiVersion: networking.istio.io/v1\nkind: VirtualService\n", 1, 1, "spec",
     "missing"},
    /* unknown fields, with a did-you-mean */
    {VS ROUTE "    retries: {attempts: 2, perTryTimout: 1s}\n", 9, 28,
     "spec.http[0].retries.perTryTimout", "did you mean 'perTryTimeout'"},
    {VS ROUTE "    retires: {attempts: 2}\n", 9, 5, "spec.http[0].retires",
     "did you mean 'retries'"},
    {VS "  - route:\n    - destinaton: {host: a}\n", 8, 7,
     "spec.http[0].route[0].destinaton", "did you mean 'destination'"},
    {VS ROUTE "    retries: {attempts: 2, retryOn: \"5xx,gateway-eror\"}\n", 9,
     37, "spec.http[0].retries.retryOn", "did you mean 'gateway-error'"},
    /* wrong types */
    {VS ROUTE "    retries: {attempts: \"3\"}\n", 9, 25,
     "spec.http[0].retries.attempts", "expected a whole number"},
    {VS ROUTE "    retries: {attempts: 2, perTryTimeout: 2}\n", 9, 43,
     "spec.http[0].retries.perTryTimeout", "expected a duration string"},
    {VS ROUTE "    retries: [3]\n", 9, 14, "spec.http[0].retries",
     "expected an HTTPRetry object"},
    {VS ROUTE "    timeout: 5\n", 9, 14, "spec.http[0].timeout",
     "expected a duration string"},
    {VS ROUTE "    retries: {attempts: 2, retryRemoteLocalities: yes}\n", 9, 51,
     "spec.http[0].retries.retryRemoteLocalities", "true or false"},
    {"apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
     "spec:\n  hosts: a\n  http: []\n",
     4, 10, "spec.hosts", "an array of strings"},
    /* values Istio refuses */
    {VS ROUTE "    retries: {attempts: -1}\n", 9, 25,
     "spec.http[0].retries.attempts", ">= 0"},
    {VS ROUTE "    retries: {attempts: 1.5}\n", 9, 25,
     "spec.http[0].retries.attempts", ">= 0"},
    {VS ROUTE "    retries: {attempts: 2, perTryTimeout: 500us}\n", 9, 43,
     "spec.http[0].retries.perTryTimeout", "at least 1ms"},
    {VS ROUTE "    timeout: 2d\n", 9, 14, "spec.http[0].timeout",
     "not a duration"},
    {VS ROUTE "    retries: {attempts: 2, retryOn: \"5xx,99\"}\n", 9, 37,
     "spec.http[0].retries.retryOn", "not an HTTP status"},
    {VS "  - timeout: 1s\n", 7, 5, "spec.http[0].route", "missing"},
    {VS "  - route:\n    - destination: {subset: v1}\n", 8, 20,
     "spec.http[0].route[0].destination.host", "missing"},
    {"apiVersion: v1\nkind: List\n", 1, 1, "items", "missing"},
    /* DestinationRules: the CRD's types and bounds, unknown fields */
    {VS ROUTE "---\n" DR "      connectionPool: {http: {maxRetries: \"3\"}}\n",
     16, 43, "spec.trafficPolicy.connectionPool.http.maxRetries",
     "a whole number"},
    {VS ROUTE "---\n" DR "      connectionPool: {http: {maxRetries: -1}}\n", 16,
     43, "spec.trafficPolicy.connectionPool.http.maxRetries", "got -1"},
    {VS ROUTE "---\n" DR "      outlierDetection: {maxEjectionPercent: 150}\n",
     16, 46, "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
     "[0, 100]"},
    {VS ROUTE "---\n" DR "      outlierDetection: {consecutive5xxError: 5}\n",
     16, 26, "spec.trafficPolicy.outlierDetection.consecutive5xxError",
     "did you mean 'consecutive5xxErrors'"},
    {VS ROUTE "---\n" DR "      outlierDetection: {baseEjectionTime: 1d}\n", 16,
     44, "spec.trafficPolicy.outlierDetection.baseEjectionTime",
     "not a duration"},
    {VS ROUTE "---\n" DR "      connectionPool: {htp: {}}\n", 16, 24,
     "spec.trafficPolicy.connectionPool.htp", "did you mean 'http'"},
    {VS ROUTE "---\n" DR "      connectionPool: {http: {h2UpgradePolicy: x}}\n",
     16, 48, "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy",
     "expected DEFAULT"},
    {VS ROUTE "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
              "spec:\n  host: a\n  subsets:\n  - labels: {v: a}\n",
     15, 5, "spec.subsets[0].name", "missing"},
    {VS ROUTE "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
              "spec: {trafficPolicy: {}}\n",
     12, 7, "spec.host", "missing"},
    {DR "      outlierDetection: {consecutive5xxErrors: 5}\n", 1, 1, "",
     "a DestinationRule makes no call"},
    /* more retried outcomes than a contract holds (32): refused here, not
     * written as a contract that does not load */
    {VS ROUTE "    retries: {attempts: 2, retryOn: "
              "\"400,401,402,403,404,405,406,407,408,409,410,411,412,413,414,"
              "415,416,417,418,419,420,421,422,423,424,425,426,427,428,429,430,"
              "431,432,433,434,435,436,437,438,439,440\"}\n",
     9, 37, "spec.http[0].retries.retryOn", "a rein contract holds at most 32"},
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

/* `rein import istio` writes nothing when any file has an error. */
static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-istio-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.yaml", dir);
  snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs(VS ROUTE "    retries: {attempts: 2}\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs(VS ROUTE "    retries: {attempts: 2, retryOn: \"5xx,bogus\"}\n", f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import istio '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[512];
  snprintf(want, sizeof want,
           "%s:9:37: error: spec.http[0].retries.retryOn:", bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "import istio '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  assert_int_equal(stat(path, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "export istio '%s'", path);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(o, "kind: VirtualService"));
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
      {VS ROUTE "    retries: {attempts: 2, retryRemoteLocalities: true}\n",
       "spec.http[0].retries.retryRemoteLocalities", "other localities"},
      {VS ROUTE "    retries: {attempts: 2, retryIgnorePreviousHosts: false}\n",
       "spec.http[0].retries.retryIgnorePreviousHosts", "hosts tried before"},
      {VS ROUTE "    retries: {attempts: 2, retryOn: retriable-headers}\n",
       "spec.http[0].retries.retryOn", "response headers"},
      {VS ROUTE "    retries: {attempts: 2, retryOn: envoy-ratelimited}\n",
       "spec.http[0].retries.retryOn", "x-envoy-ratelimited"},
      {VS ROUTE "    mirror: {host: b}\n", "spec.http[0].mirror",
       "mirrored traffic"},
      {VS ROUTE "  tcp:\n  - route: [{destination: {host: a}}]\n", "spec.tcp",
       "Istio retries HTTP only"},
      {VS ROUTE "    retries: {attempts: 2, backoff: 500us}\n",
       "spec.http[0].retries.backoff", "1ms"},
      {VS ROUTE "  - delegate: {name: d}\n", "spec.http[1].delegate",
       "another VirtualService"},
      {"apiVersion: v1\nkind: List\nitems:\n- apiVersion: "
       "networking.istio.io/v1\n  kind: ServiceEntry\n  spec: {}\n"
       "- apiVersion: networking.istio.io/v1\n  kind: VirtualService\n"
       "  spec:\n    http:\n    - route: [{destination: {host: a}}]\n",
       "items[0].kind", "VirtualService and DestinationRule only"},
      /* a DestinationRule's settings that bound retries */
      {VS ROUTE "---\n" DR "      connectionPool: {http: {maxRetries: 3}}\n",
       "spec.trafficPolicy.connectionPool.http.maxRetries",
       "a cap on concurrent retries"},
      {VS ROUTE "---\n" DR
                "      outlierDetection: {consecutive5xxErrors: 5}\n",
       "spec.trafficPolicy.outlierDetection", "ejects hosts"},
      {VS ROUTE "---\n" DR
                "      connectionPool: {http: {http2MaxRequests: 9}}\n",
       "spec.trafficPolicy.connectionPool.http.http2MaxRequests",
       "concurrency limit"},
      {VS ROUTE "---\n" DR
                "      portLevelSettings:\n      - port: {number: 80}\n"
                "        outlierDetection: {interval: 10s}\n",
       "spec.trafficPolicy.portLevelSettings[0].outlierDetection",
       "ejects hosts"},
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
  /* no retries: Istio's default policy */
  rein_interop *ix = import_text(VS ROUTE, &st);
  assert_int_equal(st, REIN_OK);
  const rein_policy_spec *sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 3);
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_REFUSED_STREAM)));
  assert_true(retried(sp, REIN_COND_GRPC(14)));
  assert_true(retried(sp, REIN_COND_GRPC(1)));
  assert_false(retried(sp, REIN_COND_HTTP(503)));
  assert_int_equal(sp->deadline_ns, 0); /* no route timeout */
  assert_string_equal(rein_interop_call_at(ix, 0)->to, "a.*");
  rein_interop_free(ix);
  /* attempts counts retries; 0 disables them */
  ix = import_text(VS ROUTE "    retries: {attempts: 0}\n", &st);
  assert_int_equal(only(ix)->policy.max_attempts, 1);
  rein_interop_free(ix);
  ix = import_text(VS ROUTE "    retries: {perTryTimeout: 1s}\n", &st);
  assert_int_equal(only(ix)->policy.max_attempts, 1);
  assert_int_equal(only(ix)->policy.attempt_timeout_ns, 0); /* no policy */
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0, "spec.http[0].retries",
                       "no effect"));
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0, "spec.http[0].retries",
                       "disables retries"));
  rein_interop_free(ix);
  /* HTTP statuses inside retryOn; an empty retryOn is the default */
  ix = import_text(VS ROUTE "    retries: {attempts: 4, retryOn: \"503,429,"
                            "reset\", backoff: 100ms}\n    timeout: 1m30s\n",
                   &st);
  sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 5);
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_false(retried(sp, REIN_COND_HTTP(500)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET)));
  assert_int_equal(sp->policy.backoff.base_ns, 100 * INT64_C(1000000));
  assert_int_equal(sp->policy.backoff.cap_ns, 1000 * INT64_C(1000000));
  assert_int_equal(sp->deadline_ns, 90 * INT64_C(1000000000));
  rein_interop_free(ix);
  ix = import_text(VS ROUTE "    retries: {attempts: 1, retryOn: \"\"}\n", &st);
  sp = only(ix);
  assert_true(retried(sp, REIN_COND_GRPC(14)));
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0, "spec.http[0].retries",
                       "default conditions"));
  rein_interop_free(ix);
  /* names: exact path, prefix, regex; origin keeps the host */
  ix = import_text(VS
                   "  - match:\n    - uri: {exact: /v1/charge}\n"
                   "    - uri: {prefix: /api/}\n    - uri: {regex: \"/x.*\"}\n"
                   "    route:\n    - destination: {host: pay.prod.svc}\n",
                   &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 3);
  assert_string_equal(rein_interop_call_at(ix, 0)->to,
                      "pay-prod-svc.v1-charge");
  assert_string_equal(rein_interop_call_at(ix, 1)->to, "pay-prod-svc.api-*");
  assert_string_equal(rein_interop_call_at(ix, 2)->to, "pay-prod-svc.*");
  assert_non_null(strstr(rein_interop_call_at(ix, 0)->origin,
                         "exact /v1/charge -> pay.prod.svc"));
  rein_interop_free(ix);
}

/* Several YAML documents ("---"), as Kubernetes manifests are: each
 * VirtualService is read, other kinds are left out with a warning, and a
 * file with none is an error; a broken document refuses the whole file. */
static void test_documents(void **state) {
  (void)state;
#define VSDOC(h)                                                               \
  "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"                 \
  "metadata: {name: " h "}\nspec:\n  http:\n  - route: [{destination: "        \
  "{host: " h "}}]\n    retries: {attempts: 1}\n"
  rein_status st;
  rein_interop *ix = import_text(
      "---\n" VSDOC(
          "a") "---\napiVersion: networking.istio.io/v1\n"
               "kind: DestinationRule\nmetadata: {name: d}\nspec: {host: a}\n"
               "---\n" VSDOC("b") "---\n",
      &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 2);
  assert_string_equal(rein_interop_call_at(ix, 0)->to, "a.*");
  assert_string_equal(rein_interop_call_at(ix, 1)->to, "b.*");
  assert_int_equal(rein_interop_call_at(ix, 1)->loc.line, 20);
  /* the DestinationRule is read, and wired to the call to its host */
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 10, 1, "spec.host",
                       "applies to 1 call of this file: a.*"));
  rein_interop_free(ix);
  ix = import_text("kind: Service\n---\nkind: Deployment\n", &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 0, 0, "", "nothing to import"));
  rein_interop_free(ix);
  ix = import_text(VSDOC("a") "---\n" VSDOC("b") "---\nspec: [\n", &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_int_equal(rein_interop_call_count(ix), 0);
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 0, 0, "", "malformed YAML"));
  rein_interop_free(ix);
#undef VSDOC
}

/* Subsets of one host are one call; export orders a host's routes (exact,
 * regex, longer prefixes, the catch-all) and writes Go durations. */
static void test_export_shape(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix = import_text(
      VS "  - route:\n    - destination: {host: a, subset: v1}\n"
         "      weight: 80\n    - destination: {host: a, subset: v2}\n"
         "      weight: 20\n",
      &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 1);
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0, "spec.http[0].route[1]",
                       "another subset or port of a"));
  rein_interop_free(ix);
  static const char contract[] =
      "service: web\nversion: \"1\"\ncalls:\n"
      "  - to: \"a.*\"\n    deadline: 1d\n    retry: {attempts: 2}\n"
      "  - to: \"a.api*\"\n    timeout: 1500ms\n    retry: {attempts: 3}\n"
      "  - to: \"a.api-v2*\"\n    retry: {attempts: 2}\n"
      "  - to: a.v1-charge\n    retry: {attempts: 2}\n";
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  if (rein_contract_add_buffer(s, "web.yaml", contract, strlen(contract)) !=
      REIN_OK) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    fail();
  }
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  char *text;
  size_t tl;
  assert_int_equal(rein_interop_export(ix, "istio", s, NULL, &text, &tl),
                   REIN_OK);
  const char *e = strstr(text, "exact: \"/v1-charge\""),
             *p2 = strstr(text, "prefix: \"/api-v2\""),
             *p1 = strstr(text, "prefix: \"/api\""),
             *all = strstr(text, "name: \"a.*\"");
  if (!e || !p2 || !p1 || !all || !(e < p2 && p2 < p1 && p1 < all)) {
    fprintf(stderr, "route order:\n%s\n", text);
    fail();
  }
  assert_non_null(strstr(text, "timeout: \"24h\""));
  assert_non_null(strstr(text, "perTryTimeout: \"1500ms\""));
  size_t nvs = 0; /* one VirtualService for the one host */
  for (const char *q = text; (q = strstr(q, "kind: VirtualService")); q++)
    nvs++;
  assert_int_equal(nvs, 1);
  rein_free(NULL, text);
  rein_interop_free(ix);
  rein_contract_set_free(s);
}

/* ------------------------------------------------------------ round trip */

typedef struct proj {
  uint32_t attempts;
  int64_t deadline, tmo, base, cap;
} proj;

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

/* Export `caller` of `s`, import the export, and hold every call to what
 * Istio expresses, everything else warned. Returns the calls compared. */
static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex, *im;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text = NULL;
  size_t len;
  if (rein_interop_export(ex, "istio", s, caller, &text, &len) != REIN_OK) {
    fprintf(stderr, "%s: export of %s failed\n", what, caller);
    rein_interop_write_diags(ex, stderr);
    fail();
  }
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  if (rein_interop_import_buffer(im, "istio", "exported.yaml", text, len) !=
      REIN_OK) {
    fprintf(stderr, "%s: import of the export failed:\n%s\n", what, text);
    rein_interop_write_diags(im, stderr);
    fail();
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
    proj want = {sp.policy.max_attempts, sp.deadline_ns,
                 sp.policy.attempt_timeout_ns, 0, 0};
    proj have = {b->policy.max_attempts, b->deadline_ns,
                 b->policy.attempt_timeout_ns, 0, 0};
    if (want.deadline > 0 && want.deadline < 1000000) want.deadline = 1000000;
    if (want.attempts <= 1) {
      want.tmo = 0; /* attempts 0 drops the retry policy */
      if (sp.policy.attempt_timeout_ns)
        assert_true(ix_warned(ex, path, "timeout"));
    } else {
      if (want.tmo > 0 && want.tmo < 1000000) want.tmo = 1000000;
      int64_t base = bo->kind == REIN_BACKOFF_NONE ? 1000000 : bo->base_ns;
      if (base < 1000000) base = 1000000;
      want.base = base;
      /* Envoy's 10 x base, held to rein's largest cap (a day), which the
       * import warns about */
      want.cap = 10 * base > 86400 * INT64_C(1000000000)
                     ? 86400 * INT64_C(1000000000)
                     : 10 * base;
      have.base = b->policy.backoff.base_ns;
      have.cap = b->policy.backoff.cap_ns;
    }
    char why[200] = "";
    if (want.attempts != have.attempts)
      snprintf(why, sizeof why, "attempts %u vs %u", want.attempts,
               have.attempts);
    else if (want.deadline != have.deadline)
      snprintf(why, sizeof why, "deadline %lld vs %lld",
               (long long)want.deadline, (long long)have.deadline);
    else if (want.tmo != have.tmo)
      snprintf(why, sizeof why, "timeout %lld vs %lld", (long long)want.tmo,
               (long long)have.tmo);
    else if (want.base != have.base || want.cap != have.cap)
      snprintf(why, sizeof why, "backoff %lld..%lld vs %lld..%lld",
               (long long)want.base, (long long)want.cap, (long long)have.base,
               (long long)have.cap);
    rein_condition dc = want.attempts > 1 ? when_differs(&sp, b) : 0;
    if (!*why && dc && !ix_warned(ex, path, "retry.when")) {
      char nb[32];
      snprintf(why, sizeof why, "`when` differs on %s, not warned",
               rein_condition_name(dc, nb, sizeof nb));
    }
    /* every field Istio cannot express is named in a warning */
    const char *lost = NULL;
    if (!*why && want.attempts > 1) {
      if (bo->jitter != REIN_JITTER_FULL &&
          !ix_warned(ex, path, "retry.backoff.jitter"))
        lost = "retry.backoff.jitter";
      else if (bo->kind == REIN_BACKOFF_EXPONENTIAL && bo->multiplier != 2 &&
               !ix_warned(ex, path, "retry.backoff.multiplier"))
        lost = "retry.backoff.multiplier";
      else if (bo->kind != REIN_BACKOFF_EXPONENTIAL &&
               !ix_warned(ex, path, "retry.backoff.kind"))
        lost = "retry.backoff.kind";
      else if (bo->kind == REIN_BACKOFF_EXPONENTIAL && bo->cap_ns != want.cap &&
               !ix_warned(ex, path, "retry.backoff.cap"))
        lost = "retry.backoff.cap";
      else if (sp.signals && !ix_warned(ex, path, "retry.signals"))
        lost = "retry.signals";
      else if (sp.has_budget && !ix_warned(ex, path, "retry.budget"))
        lost = "retry.budget";
      else if (sp.policy.window_ns > 0 && !ix_warned(ex, path, "retry.window"))
        lost = "retry.window";
      else if (sp.has_breaker && !ix_warned(ex, path, "retry.breaker"))
        lost = "retry.breaker";
      else if (sp.has_throttle && !ix_warned(ex, path, "retry.throttle"))
        lost = "retry.throttle";
      else if (sp.policy.key_retention_ns > 0 &&
               !ix_warned(ex, path, "key_ttl"))
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

static rein_interop *import_file(const char *name);

/* A DestinationRule bounds retries where Istio writes it into Envoy's
 * cluster: maxRetries (circuit_breakers max_retries) and outlierDetection,
 * neither of which rein represents: warnings at their fields, and a note
 * wiring each rule to the calls of its host, in any document order and
 * with Istio's short host names. */
static void test_destination_rule(void **state) {
  (void)state;
  rein_interop *ix = import_file("reviews-destination-rule.yaml");
  assert_int_equal(rein_interop_call_count(ix), 1);
  const rein_interop_call *c = rein_interop_call_at(ix, 0);
  assert_string_equal(c->to, "reviews-prod-svc-cluster-local.*");
  assert_int_equal(c->spec.policy.max_attempts, 3);
  assert_false(c->spec.has_budget);
  assert_false(c->spec.has_breaker);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 47, 23,
                       "items[1].spec.trafficPolicy.connectionPool.http."
                       "maxRetries",
                       "a cap on concurrent retries"));
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 48, 7,
                       "items[1].spec.trafficPolicy.outlierDetection",
                       "ejects hosts"));
  assert_true(
      has_diag(ix, REIN_INTEROP_WARNING, 45, 11, NULL, "concurrency limit"));
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 34, 3, "items[1].spec.host",
                       "reviews-cb-policy (host reviews.prod.svc.cluster."
                       "local) applies to 1 call of this file: "
                       "reviews-prod-svc-cluster-local.*"));
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 59, 3, "items[2].spec.host",
                       "no route of this file goes to host ratings"));
  rein_interop_free(ix);
  /* the rule first, its short host name, two routes to the host */
  rein_status st;
  ix = import_text(
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
      "metadata: {name: r}\nspec:\n  host: reviews\n  trafficPolicy:\n"
      "    connectionPool: {http: {maxRetries: 1}}\n"
      "---\n" VS "  - match: [{uri: {prefix: /a}}]\n    route:\n"
      "    - destination: {host: reviews.prod.svc.cluster.local}\n"
      "  - route:\n    - destination: {host: reviews.prod.svc.cluster.local}\n"
      "  - route:\n    - destination: {host: details}\n",
      &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 3);
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 1, 1, "spec.host",
                       "applies to 2 calls of this file: "
                       "reviews-prod-svc-cluster-local.a*, "
                       "reviews-prod-svc-cluster-local.*;"));
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 7, 41,
                       "spec.trafficPolicy.connectionPool.http.maxRetries",
                       NULL));
  rein_interop_free(ix);
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

static void random_contract(rein_rng *r, char *buf, size_t cap) {
  static const char *const names[] = {"503",
                                      "429",
                                      "5xx",
                                      "500-504",
                                      "409",
                                      "reset",
                                      "timeout",
                                      "connect-failure",
                                      "refused-stream",
                                      "UNAVAILABLE",
                                      "CANCELLED",
                                      "INTERNAL",
                                      "DEADLINE_EXCEEDED",
                                      "RESOURCE_EXHAUSTED",
                                      "UNKNOWN",
                                      "overloaded",
                                      "408",
                                      "4xx"};
  static const char *const kinds[] = {"none", "constant", "linear",
                                      "exponential"};
  static const char *const jit[] = {"none", "full", "equal", "decorrelated"};
  static const char *const ops[] = {"charge", "*", "refund", "v1-get", "list*"};
  size_t o = (size_t)snprintf(buf, cap,
                              "service: caller\nversion: \"1\"\n"
                              "calls:\n");
  unsigned ncalls = 1 + (unsigned)(rein_rng_next(r) % 4);
  for (unsigned i = 0; i < ncalls; i++) {
    rein_policy_spec sp;
    rein_policy_spec_default(&sp);
    char t[64];
    snprintf(t, sizeof t, "%u", 1 + (unsigned)(rein_rng_next(r) % 8));
    rein_model_set(&sp, mf(REIN_MODEL_RETRY, "attempts"), t, NULL);
    if (rein_rng_next(r) % 2) {
      int64_t ns =
          1 + (int64_t)(rein_rng_next(r) % (UINT64_C(3600) * 1000000000));
      rein_format_duration(ns, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_CALL, "deadline"), t, NULL);
    }
    if (rein_rng_next(r) % 2) {
      int64_t ns =
          1 + (int64_t)(rein_rng_next(r) % (UINT64_C(60) * 1000000000));
      rein_format_duration(ns, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_CALL, "timeout"), t, NULL);
    }
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "kind"),
                   kinds[rein_rng_next(r) % 8 < 5 ? 3 : rein_rng_next(r) % 4],
                   NULL);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "jitter"),
                   jit[rein_rng_next(r) % 8 < 5 ? 1 : rein_rng_next(r) % 4],
                   NULL);
    int64_t base = (int64_t)(rein_rng_next(r) % (UINT64_C(10) * 1000000000));
    if (rein_rng_next(r) % 4 == 0) base -= base % 1000000;
    /* the cap Istio implies (10 x base) half of the time */
    int64_t capv =
        rein_rng_next(r) % 2
            ? 10 * (base < 1000000 ? 1000000 : base)
            : base + (int64_t)(rein_rng_next(r) % (UINT64_C(60) * 1000000000));
    rein_format_duration(base, t, sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "base"), t, NULL);
    rein_format_duration(capv, t, sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "cap"), t, NULL);
    if (rein_rng_next(r) % 4 == 0)
      rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "multiplier"), "3", NULL);
    const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
    rein_model_list_clear(&sp, when);
    unsigned nw = (unsigned)(rein_rng_next(r) % 5);
    for (unsigned k = 0; k < nw; k++)
      rein_model_list_add(
          &sp, when, names[rein_rng_next(r) % (sizeof names / sizeof names[0])],
          NULL);
    const rein_model_field *sig = mf(REIN_MODEL_RETRY, "signals");
    rein_model_list_clear(&sp, sig);
    if (rein_rng_next(r) % 2)
      rein_model_list_add(&sp, sig, "retry-after", NULL);
    if (rein_rng_next(r) % 3 == 0) sp.has_budget = true;
    o += (size_t)snprintf(buf + o, cap - o, "  - to: \"svc%u.%s\"\n",
                          (unsigned)(rein_rng_next(r) % 3),
                          ops[rein_rng_next(r) % 5]);
    o += rein_policy_spec_yaml(&sp, true, 4, buf + o, cap - o);
  }
}

static void test_corpus_round_trip(void **state) {
  (void)state;
  uint64_t seed = rein_test_seed();
  rein_rng r;
  rein_rng_seed(&r, seed);
  size_t calls = 0, contracts = 0;
  char *buf = malloc(1 << 16);
  assert_non_null(buf);
  for (int i = 0; i < 600; i++) {
    random_contract(&r, buf, 1 << 16);
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
    contracts++;
    rein_contract_set_free(s);
  }
  free(buf);
  fprintf(stderr, "corpus round trip: %zu contracts, %zu calls (seed %llu)\n",
          contracts, calls, (unsigned long long)seed);
  assert_true(contracts >= 300);
}

/* ------------------------------------------------------------- fixtures */

static rein_interop *import_file(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  if (rein_interop_import_file(ix, "istio", path) != REIN_OK) {
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

#define MS INT64_C(1000000)

/* What each fixture's header says it means, as Istio documents it. */
static void test_fixture_values(void **state) {
  (void)state;
  rein_interop *ix = import_file("ratings-retry.yaml");
  const rein_policy_spec *sp =
      call_named(ix, "ratings-prod-svc-cluster-local.*");
  assert_int_equal(sp->policy.max_attempts, 4);
  assert_int_equal(sp->policy.attempt_timeout_ns, 2000 * MS);
  assert_int_equal(sp->deadline_ns, 10000 * MS);
  for (unsigned s = 502; s <= 504; s++)
    assert_true(retried(sp, REIN_COND_HTTP(s)));
  assert_false(retried(sp, REIN_COND_HTTP(500)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_REFUSED_STREAM)));
  rein_interop_free(ix);

  ix = import_file("reviews-routes.yaml");
  assert_int_equal(rein_interop_call_count(ix), 3);
  sp = call_named(ix, "reviews-prod-svc-cluster-local.consumercatalog*");
  assert_int_equal(sp->policy.max_attempts, 3);
  assert_int_equal(sp->policy.attempt_timeout_ns, 1500 * MS);
  assert_int_equal(sp->deadline_ns, 5000 * MS);
  assert_int_equal(sp->policy.backoff.base_ns, 100 * MS);
  assert_int_equal(sp->policy.backoff.cap_ns, 1000 * MS);
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET)));
  sp = call_named(ix, "reviews-prod-svc-cluster-local.*"); /* the default */
  assert_int_equal(sp->policy.max_attempts, 3);
  assert_true(retried(sp, REIN_COND_GRPC(14)));
  assert_int_equal(sp->deadline_ns, 0);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 36, 7,
                       "spec.http[0].retries.retryRemoteLocalities", NULL));
  rein_interop_free(ix);

  ix = import_file("grpc-backend.json");
  sp =
      call_named(ix, "inventory-shop-svc-cluster-local.shop-Inventory-Reserve");
  assert_int_equal(sp->policy.max_attempts, 5);
  assert_int_equal(sp->policy.attempt_timeout_ns, 500 * MS);
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    assert_int_equal(retried(sp, REIN_COND_GRPC(c)),
                     c == 1 || c == 4 || c == 8 || c == 14);
  sp =
      call_named(ix, "inventory-shop-svc-cluster-local.shop-Inventory-Release");
  assert_int_equal(sp->policy.max_attempts, 1);
  rein_interop_free(ix);

  ix = import_file("mesh-list.yaml");
  sp = call_named(ix, "payments.v1-charge");
  assert_int_equal(sp->policy.max_attempts, 2);
  assert_int_equal(sp->policy.attempt_timeout_ns, 800 * MS);
  sp = call_named(ix, "ledger.*");
  assert_int_equal(sp->policy.max_attempts, 6);
  assert_int_equal(sp->deadline_ns, 90000 * MS);
  assert_true(retried(sp, REIN_COND_HTTP(501)));
  rein_interop_free(ix);
}

/* export(import(x)) reads back to the same policies, call by call, and the
 * export names the same destination hosts and uri matches. */
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
    assert_int_equal(rein_interop_export(ex, "istio", s, NULL, &text, &tl),
                     REIN_OK);
    assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
    assert_int_equal(
        rein_interop_import_buffer(im, "istio", "again.yaml", text, tl),
        REIN_OK);
    assert_int_equal(rein_interop_call_count(im), rein_interop_call_count(ix));
    for (size_t i = 0; i < rein_interop_call_count(ix); i++) {
      const rein_interop_call *a = rein_interop_call_at(ix, i);
      const rein_policy_spec *x = &a->spec, *y = call_named(im, a->to);
      bool same =
          x->policy.max_attempts == y->policy.max_attempts &&
          x->deadline_ns == y->deadline_ns &&
          (x->policy.max_attempts <= 1 ||
           (x->policy.attempt_timeout_ns == y->policy.attempt_timeout_ns &&
            x->policy.backoff.base_ns == y->policy.backoff.base_ns &&
            x->policy.backoff.cap_ns == y->policy.backoff.cap_ns &&
            !when_differs(x, y)));
      if (!same) {
        fprintf(stderr, "%s: %s differs after the round trip:\n%s\n", e->d_name,
                a->to, text);
        fail();
      }
      /* the destination host and the match, as the source spells them */
      const char *host = strstr(a->origin, " -> ");
      assert_non_null(host);
      char want[300];
      snprintf(want, sizeof want, "host: \"%s\"", host + 4);
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
  assert_true(n >= 4);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_interop_istio EXAMPLES FIXTURES REIN\n");
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
      cmocka_unit_test(test_documents),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixture_values),
      cmocka_unit_test(test_fixtures_round_trip),
      cmocka_unit_test(test_destination_rule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
