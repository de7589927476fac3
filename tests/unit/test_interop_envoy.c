/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_envoy.c: Envoy import and export (rein/interop.h, format
 * "envoy").
 *
 *  - bad input: malformed YAML and JSON, wrong types, unknown fields
 *    (listed, with a did-you-mean), values Envoy refuses, each at its
 *    file:line:col with no calls kept; `rein import` exits 2 and writes
 *    nothing;
 *  - every field rein cannot represent is a warning naming it;
 *  - each retry_on condition maps to the classification names
 *    docs/interop.md gives, and back;
 *  - golden contracts for the fixtures in tests/interop/fixtures/envoy
 *    (written from Envoy's documented examples; REIN_UPDATE_GOLDEN=1
 *    rewrites them);
 *  - round trip import(export(c)) == c on every field Envoy expresses, for
 *    every call of the example contracts and a generated corpus (seed
 *    printed: REIN_TEST_SEED replays), anything else warned;
 *  - export(import(x)) semantically equal to x for the fixtures, compared
 *    through a reading of the Envoy files that does not use rein's reader
 *    (libyaml into jansson, the documented defaults and retry_on
 *    meanings).
 *
 * argv: EXAMPLES_DIR FIXTURES_DIR REIN_BINARY
 */
#include "rein_test.h"

#include "rein/classify.h"
#include "rein/contract.h"
#include "rein/input.h"
#include "rein/interop.h"
#include "rein/model.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static const char *examples_dir, *fixtures_dir, *rein_bin;

static const rein_model_field *mf(rein_model_block b, const char *n) {
  return rein_model_find(b, n, NULL);
}

static rein_interop *import_text(const char *text, rein_status *st) {
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st = rein_interop_import_buffer(ix, "envoy", "in.yaml", text, strlen(text));
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

static void dump(const rein_interop *ix) {
  rein_interop_write_diags(ix, stderr);
}

/* ------------------------------------------------------------ bad input */

typedef struct bad_case {
  const char *text;
  unsigned line, col;
  const char *field;
  const char *needle;
} bad_case;

#define VH "virtual_hosts:\n- name: v\n  domains: [\"*\"]\n  routes:\n"

static const bad_case bad_cases[] = {
    /* malformed YAML and JSON */
    {VH "  - match: {prefix: \"/\"\n    route: {cluster: a}\n", 6, 5, NULL,
     "malformed YAML"},
    {"{\"virtual_hosts\": [{\"name\": \"v\",}", 1, 34, NULL, "malformed JSON"},
    {"", 1, 1, NULL, "empty file"},
    {"virtual_hosts: []\n---\nvirtual_hosts: []\n", 3, 1, NULL,
     "second document"},
    {"- 1\n- 2\n", 1, 1, NULL, "expected an Envoy config object"},
    {VH "  - match: &m {prefix: \"/\"}\n    route: {cluster: a}\n", 5, 12, NULL,
     "YAML anchor"},
    {"{\"virtual_hosts\": [{\"name\": \"v\", \"domains\": [\"*\"],\n"
     " \"routes\": [{\"match\": {\"prefix\": \"/\"}, \"route\": "
     "{\"cluster\": a}}]}]}",
     2, 61, "virtual_hosts[0].routes[0].route.cluster", "not JSON"},
    /* unknown fields: listed, with a did-you-mean */
    {"virtual_host:\n- name: v\n", 1, 1, "virtual_host",
     "did you mean 'virtual_hosts'"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {retry_on: 5xx, num_retry: 2}\n",
     8, 37, "virtual_hosts[0].routes[0].route.retry_policy.num_retry",
     "did you mean 'num_retries'"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {retry_on: \"5xx,gateway-eror\"}\n",
     8, 32, "virtual_hosts[0].routes[0].route.retry_policy.retry_on",
     "did you mean 'gateway-error'"},
    {VH "  - match: {prefix: \"/\"}\n    route: {cluster: a, timout: 1s}\n", 6,
     25, "virtual_hosts[0].routes[0].route.timout", "did you mean 'timeout'"},
    {"static_resources:\n  clusters:\n  - name: a\n    circuit_breaker: {}\n",
     4, 5, "static_resources.clusters[0].circuit_breaker",
     "did you mean 'circuit_breakers'"},
    {"static_resources:\n  clusters:\n  - name: a\n    circuit_breakers:\n"
     "      thresholds:\n      - retry_budget: {budget_percent: {value: "
     "20}, min_concurrency: 3}\n",
     6, 53,
     "static_resources.clusters[0].circuit_breakers.thresholds[0]."
     "retry_budget.min_concurrency",
     "known: budget_percent, min_retry_concurrency"},
    /* wrong types */
    {"virtual_hosts: {name: v}\n", 1, 16, "virtual_hosts",
     "expected an array of virtual hosts, got an object"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {num_retries: two}\n",
     8, 35, "virtual_hosts[0].routes[0].route.retry_policy.num_retries",
     "expected a number, got a string"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      timeout: 5\n",
     8, 16, "virtual_hosts[0].routes[0].route.timeout",
     "expected a duration string"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {retry_on: 503}\n",
     8, 32, "virtual_hosts[0].routes[0].route.retry_policy.retry_on",
     "expected a string, got a number"},
    /* values Envoy refuses */
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {retry_back_off: {max_interval: 1s}}\n",
     8, 38,
     "virtual_hosts[0].routes[0].route.retry_policy.retry_back_off."
     "base_interval",
     "missing"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy:\n        retry_back_off: {base_interval: 1s, "
        "max_interval: 0.5s}\n",
     9, 59,
     "virtual_hosts[0].routes[0].route.retry_policy.retry_back_off."
     "max_interval",
     "at least base_interval"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      timeout: 1.5\n",
     8, 16, "virtual_hosts[0].routes[0].route.timeout",
     "expected a duration string"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy:\n        retry_on: retriable-status-codes\n"
        "        retriable_status_codes: [42]\n",
     10, 34,
     "virtual_hosts[0].routes[0].route.retry_policy.retriable_status_codes[0]",
     "[100, 599]"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      timeout: \"1.5\"\n",
     8, 16, "virtual_hosts[0].routes[0].route.timeout", "'s' suffix"},
    {VH "  - route: {cluster: a}\n", 5, 5, "virtual_hosts[0].routes[0].match",
     "missing"},
    {VH "  - match: {prefix: \"/\", path: \"/x\"}\n    route: {cluster: a}\n",
     5, 26, "virtual_hosts[0].routes[0].match.path", "second path specifier"},
    {VH "  - match: {prefix: \"/\"}\n    route: {timeout: 1s}\n", 6, 12,
     "virtual_hosts[0].routes[0].route", "no cluster"},
    {"virtual_hosts:\n- domains: [\"*\"]\n  routes: []\n", 2, 3,
     "virtual_hosts[0].name", "missing"},
    {"static_resources:\n  clusters:\n  - name: a\n  - name: a\n", 4, 5,
     "static_resources.clusters[1]", "second cluster named 'a'"},
    {"static_resources:\n  clusters:\n  - name: a\n", 1, 1, "",
     "clusters but no routes"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {num_retries: 1.5}\n",
     8, 35, "virtual_hosts[0].routes[0].route.retry_policy.num_retries",
     "expected a whole number"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy: {num_retries: -1}\n",
     8, 35, "virtual_hosts[0].routes[0].route.retry_policy.num_retries",
     "expected a whole number"},
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy:\n        rate_limited_retry_back_off: "
        "{reset_headers: []}\n",
     9, 54,
     "virtual_hosts[0].routes[0].route.retry_policy."
     "rate_limited_retry_back_off.reset_headers",
     "must not be empty"},
    {"virtual_hosts:\n- name: v\n  routes: []\n", 2, 3,
     "virtual_hosts[0].domains", "missing"},
    {"resources:\n- name: x\n", 2, 3, "resources[0]", "no \"@type\""},
    {"admin: {}\n", 1, 1, "", "no route to a cluster"},
    {"foo: 1\n", 1, 1, "", "not an Envoy config"},
    /* more retried outcomes than a contract holds (32): refused here, not
     * written as a contract that does not load */
    {VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
        "      retry_policy:\n        retry_on: retriable-status-codes\n"
        "        retriable_status_codes: [400,401,402,403,404,405,406,407,408,409,410,411,412,413,414,415,416,417,418,419,420,421,422,423,424,425,426,427,428,429,430,431,432,433,434,435,436,437,438,439,440]\n",
     10, 33, "virtual_hosts[0].routes[0].route.retry_policy."
     "retriable_status_codes", "a rein contract holds at most 32"},
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
      dump(ix);
      failures++;
    }
    for (size_t k = 0; k < rein_interop_diag_count(ix); k++)
      assert_string_equal(rein_interop_diag_at(ix, k)->loc.file, "in.yaml");
    assert_int_equal(rein_interop_call_count(ix), 0);
    char *out = NULL;
    size_t n;
    assert_int_equal(rein_interop_write_contract(ix, &out, &n), REIN_EINVAL);
    assert_null(out);
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
}

/* Several unknown fields are all listed; protobuf's JSON names are
 * accepted. */
static void test_names(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix = import_text(
      VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
         "      retryPolicy: {retryOn: 5xx, numRetries: 2, perTryTimeot: 1s}\n"
         "    rout: {}\n",
      &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_true(
      has_diag(ix, REIN_INTEROP_ERROR, 8, 50,
               "virtual_hosts[0].routes[0].route.retry_policy.perTryTimeot",
               "did you mean 'per_try_timeout'"));
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 9, 5,
                       "virtual_hosts[0].routes[0].rout",
                       "did you mean 'route'"));
  assert_int_equal(rein_interop_count(ix, REIN_INTEROP_ERROR), 2);
  rein_interop_free(ix);
  /* both spellings of one field: a duplicate */
  ix = import_text(VH "  - match: {prefix: \"/\"}\n    route:\n"
                      "      cluster: a\n      retry_policy: {}\n"
                      "      retryPolicy: {}\n",
                   &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 9, 7,
                       "virtual_hosts[0].routes[0].route.retry_policy",
                       "duplicate member"));
  rein_interop_free(ix);
}

/* Each field docs/interop.md lists as "left out" is named in a diagnostic
 * at its path (a warning; a note where the doc says so). */
static void test_listed(void **state) {
  (void)state;
#define R0 "virtual_hosts[0].routes[0].route."
#define RT VH "  - match: {prefix: \"/\"}\n    route: {cluster: a, "
#define RP                                                                     \
  VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"              \
     "      retry_policy: "
  static const struct {
    const char *text;
    rein_interop_severity sev;
    const char *field;
  } c[] = {
      {RT "idle_timeout: 1s}\n", REIN_INTEROP_WARNING, R0 "idle_timeout"},
      {RT "max_stream_duration: {max_stream_duration: 1s}}\n",
       REIN_INTEROP_WARNING, R0 "max_stream_duration"},
      {RT "max_grpc_timeout: 1s}\n", REIN_INTEROP_WARNING,
       R0 "max_grpc_timeout"},
      {RT "grpc_timeout_offset: 1s}\n", REIN_INTEROP_WARNING,
       R0 "grpc_timeout_offset"},
      {RT "flush_timeout: 1s}\n", REIN_INTEROP_WARNING, R0 "flush_timeout"},
      {RT "retry_policy_typed_config: {}}\n", REIN_INTEROP_WARNING,
       R0 "retry_policy_typed_config"},
      {RT "early_data_policy: {}}\n", REIN_INTEROP_WARNING,
       R0 "early_data_policy"},
      {RT "priority: HIGH}\n", REIN_INTEROP_WARNING, R0 "priority"},
      {RT "internal_redirect_policy: {}}\n", REIN_INTEROP_WARNING,
       R0 "internal_redirect_policy"},
      {RT "request_body_buffer_limit: 1024}\n", REIN_INTEROP_WARNING,
       R0 "request_body_buffer_limit"},
      {VH "  - match: {prefix: \"/\"}\n    route: {cluster_header: x}\n",
       REIN_INTEROP_WARNING, R0 "cluster_header"},
      {VH "  - match: {prefix: \"/\"}\n    route: {cluster_specifier_plugin: "
          "x}\n",
       REIN_INTEROP_WARNING, R0 "cluster_specifier_plugin"},
      {VH "  - match: {prefix: \"/\"}\n    route: {cluster: a}\n"
          "    per_request_buffer_limit_bytes: 1024\n",
       REIN_INTEROP_WARNING,
       "virtual_hosts[0].routes[0]."
       "per_request_buffer_limit_bytes"},
      {"virtual_hosts:\n- name: v\n  domains: [\"*\"]\n  matcher: {}\n"
       "  routes:\n  - match: {prefix: \"/\"}\n    route: {cluster: a}\n",
       REIN_INTEROP_WARNING, "virtual_hosts[0].matcher"},
      {"vhds: {config_source: {ads: {}}}\n" VH
       "  - match: {prefix: \"/\"}\n    route: {cluster: a}\n",
       REIN_INTEROP_WARNING, "vhds"},
      {RP "{retry_priority: {name: x}, retry_options_predicates: [{name: "
          "y}]}\n",
       REIN_INTEROP_WARNING, R0 "retry_policy.retry_priority"},
      {RP "{retry_priority: {name: x}, retry_options_predicates: [{name: "
          "y}]}\n",
       REIN_INTEROP_WARNING, R0 "retry_policy.retry_options_predicates"},
      {RP "{rate_limited_retry_back_off: {reset_headers: [{name: "
          "X-RateLimit-Reset, format: UNIX_TIMESTAMP}, {name: X-Other}], "
          "max_interval: 300s}}\n",
       REIN_INTEROP_WARNING,
       R0 "retry_policy.rate_limited_retry_back_off.reset_headers[0]"},
      {RP "{rate_limited_retry_back_off: {reset_headers: [{name: "
          "X-RateLimit-Reset, format: UNIX_TIMESTAMP}, {name: X-Other}], "
          "max_interval: 300s}}\n",
       REIN_INTEROP_WARNING,
       R0 "retry_policy.rate_limited_retry_back_off.reset_headers[1]"},
      {RP "{rate_limited_retry_back_off: {reset_headers: [{name: "
          "Retry-After}], max_interval: 300s}}\n",
       REIN_INTEROP_WARNING,
       R0 "retry_policy.rate_limited_retry_back_off.max_interval"},
      {"static_resources:\n  clusters:\n  - name: a\n"
       "    outlier_detection: {}\n    circuit_breakers:\n      thresholds:\n"
       "      - {max_connections: 10}\n      - {priority: HIGH, max_retries: "
       "5}\n      per_host_thresholds: [{max_connections: 1}]\n",
       REIN_INTEROP_WARNING, "static_resources.clusters[0].outlier_detection"},
      {"static_resources:\n  clusters:\n  - name: a\n"
       "    circuit_breakers:\n      thresholds:\n"
       "      - {max_connections: 10}\n",
       REIN_INTEROP_WARNING,
       "static_resources.clusters[0].circuit_breakers.thresholds[0]."
       "max_connections"},
      {"static_resources:\n  clusters:\n  - name: a\n"
       "    circuit_breakers:\n      thresholds:\n"
       "      - {priority: HIGH, max_retries: 5}\n",
       REIN_INTEROP_WARNING,
       "static_resources.clusters[0].circuit_breakers.thresholds[0]."
       "max_retries"},
      {"static_resources:\n  clusters:\n  - name: a\n"
       "    circuit_breakers:\n      per_host_thresholds: [{max_connections: "
       "1}]\n",
       REIN_INTEROP_WARNING,
       "static_resources.clusters[0].circuit_breakers.per_host_thresholds"},
      {"filter_chains:\n- filters:\n  - name: hcm\n    typed_config:\n"
       "      \"@type\": type.googleapis.com/envoy.extensions.filters.network."
       "http_connection_manager.v3.HttpConnectionManager\n"
       "      rds: {route_config_name: r}\n",
       REIN_INTEROP_WARNING, NULL},
      {"dynamic_resources: {}\nstatic_resources: {}\n", REIN_INTEROP_WARNING,
       "dynamic_resources"},
      {VH "  - match: {safe_regex: {regex: \"/x.*\"}}\n    route: {cluster: "
          "a}\n",
       REIN_INTEROP_NOTE, NULL},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    rein_status st;
    rein_interop *ix = import_text(c[i].text, &st);
    bool ok = false;
    for (size_t k = 0; k < rein_interop_diag_count(ix) && !ok; k++) {
      const rein_interop_diag *d = rein_interop_diag_at(ix, k);
      ok = d->severity == c[i].sev &&
           (c[i].field ? strcmp(d->field, c[i].field) == 0
                       : strstr(d->field, "rds") || strstr(d->field, "match"));
    }
    if (!ok) {
      fprintf(stderr, "listed %zu: no %s at %s:\n", i,
              c[i].sev == REIN_INTEROP_NOTE ? "note" : "warning",
              c[i].field ? c[i].field : "(rds / match)");
      dump(ix);
      failures++;
    }
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
  /* the names of the other match kinds */
  static const struct {
    const char *match, *to;
  } nm[] = {{"{path_separated_prefix: \"/api\"}", "a.api*"},
            {"{safe_regex: {regex: \"/x.*\"}}", "a.*"},
            {"{connect_matcher: {}}", "a.*"}};
  for (size_t i = 0; i < sizeof nm / sizeof nm[0]; i++) {
    char text[512];
    snprintf(text, sizeof text, VH "  - match: %s\n    route: {cluster: a}\n",
             nm[i].match);
    rein_status st;
    rein_interop *ix = import_text(text, &st);
    if (st != REIN_OK || rein_interop_call_count(ix) != 1 ||
        strcmp(rein_interop_call_at(ix, 0)->to, nm[i].to) != 0) {
      fprintf(stderr, "match %s: wanted %s\n", nm[i].match, nm[i].to);
      dump(ix);
      fail();
    }
    rein_interop_free(ix);
  }
#undef R0
#undef RT
#undef RP
}

/* `rein import` writes nothing when any file has an error. */
static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-envoy-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.yaml", dir);
  snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs(VH "  - match: {prefix: \"/\"}\n    route: {cluster: a}\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs(VH "  - match: {prefix: \"/\"}\n    route: {cluster: a, "
           "retry_policy: {num_retries: -1}}\n",
        f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import envoy '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[512];
  snprintf(want, sizeof want,
           "%s:6:53: error: "
           "virtual_hosts[0].routes[0].route.retry_policy.num_retries:",
           bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0); /* not even the directory */
  rc = rein_test_run(rein_bin, &o, "import envoy '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  assert_int_equal(stat(path, &sb), 0);
  /* and back out: `rein export envoy` of what was written */
  rc = rein_test_run(rein_bin, &o, "export envoy '%s'", path);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(o, "static_resources:"));
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
  rein_status st;
  rein_interop *ix = import_text(
      "static_resources:\n"
      "  clusters:\n"
      "  - name: a\n"
      "    outlier_detection: {}\n"
      "    circuit_breakers:\n"
      "      thresholds:\n"
      "      - max_connections: 10\n"
      "        max_retries: 5\n"
      "      - priority: HIGH\n"
      "        max_retries: 9\n"
      "      per_host_thresholds: []\n"
      "  listeners:\n"
      "  - filter_chains:\n"
      "    - filters:\n"
      "      - name: envoy.filters.network.http_connection_manager\n"
      "        typed_config:\n"
      "          route_config:\n"
      "            virtual_hosts:\n"
      "            - name: v\n"
      "              domains: [\"*\"]\n"
      "              hedge_policy: {initial_requests: 2}\n"
      "              per_request_buffer_limit_bytes: 1024\n"
      "              routes:\n"
      "              - match: {path: \"/x\"}\n"
      "                route:\n"
      "                  cluster: a\n"
      "                  idle_timeout: 5s\n"
      "                  retry_policy:\n"
      "                    retry_on: "
      "\"5xx,retriable-headers,envoy-ratelimited\"\n"
      "                    per_try_idle_timeout: 1s\n"
      "                    retry_host_predicate:\n"
      "                    - name: envoy.retry_host_predicates.previous_hosts\n"
      "                    host_selection_retry_max_attempts: 3\n"
      "                    retriable_headers: [{name: x-retry}]\n"
      "                    retriable_request_headers: [{name: x-idem}]\n"
      "                    retriable_status_codes: [429]\n"
      "                    retry_back_off: {base_interval: 0.0005s}\n"
      "                    rate_limited_retry_back_off:\n"
      "                      reset_headers: [{name: X-Wait}]\n"
      "                      max_interval: 60s\n",
      &st);
  if (st != REIN_OK) dump(ix);
  assert_int_equal(st, REIN_OK);
  static const char *const P =
      "static_resources.listeners[0].filter_chains[0].filters[0]."
      "typed_config.route_config.virtual_hosts[0]";
  static const char *const fields[] = {
      "static_resources.clusters[0].outlier_detection",
      "static_resources.clusters[0].circuit_breakers.thresholds[0]."
      "max_connections",
      "static_resources.clusters[0].circuit_breakers.thresholds[0]."
      "max_retries",
      "static_resources.clusters[0].circuit_breakers.thresholds[1]."
      "max_retries",
      "static_resources.clusters[0].circuit_breakers.per_host_thresholds",
      "%s.hedge_policy.initial_requests",
      "%s.per_request_buffer_limit_bytes",
      "%s.routes[0].route.idle_timeout",
      "%s.routes[0].route.retry_policy.retry_on", /* envoy-ratelimited */
      "%s.routes[0].route.retry_policy.per_try_idle_timeout",
      "%s.routes[0].route.retry_policy.retry_host_predicate",
      "%s.routes[0].route.retry_policy.host_selection_retry_max_attempts",
      "%s.routes[0].route.retry_policy.retriable_headers",
      "%s.routes[0].route.retry_policy.retriable_request_headers",
      "%s.routes[0].route.retry_policy.retriable_status_codes",
      "%s.routes[0].route.retry_policy.retry_back_off.base_interval",
      "%s.routes[0].route.retry_policy.rate_limited_retry_back_off."
      "reset_headers[0]",
      "%s.routes[0].route.retry_policy.rate_limited_retry_back_off."
      "max_interval",
  };
  size_t nf = sizeof fields / sizeof fields[0];
  for (size_t i = 0; i < nf; i++) {
    char f[512];
    snprintf(f, sizeof f, fields[i], P);
    if (!has_diag(ix, REIN_INTEROP_WARNING, 0, 0, f, NULL)) {
      fprintf(stderr, "no warning for %s\n", f);
      dump(ix);
      fail();
    }
  }
  assert_int_equal(rein_interop_count(ix, REIN_INTEROP_WARNING), nf);
  assert_int_equal(rein_interop_call_count(ix), 1);
  const rein_interop_call *c = rein_interop_call_at(ix, 0);
  assert_string_equal(c->to, "a.x");
  assert_non_null(strstr(c->origin, "in.yaml:24:17 v: path /x -> a"));
  assert_int_equal(c->spec.policy.max_attempts, 2); /* default: 1 retry */
  assert_int_equal(c->spec.policy.backoff.base_ns, 1000000);
  assert_int_equal(c->spec.policy.backoff.cap_ns, 10000000);
  assert_int_equal(c->spec.deadline_ns, INT64_C(15000000000));
  assert_int_equal(c->spec.signals, 0);
  assert_false(c->spec.has_budget);
  /* 429 is not retried: retry_on lacks retriable-status-codes */
  assert_false(rein_retryable_set_has(
      &c->spec.policy.retryable, REIN_COND_HTTP(429), REIN_OUTCOME_OVERLOADED));
  rein_interop_free(ix);
}

/* ------------------------------------------------------------- retry_on */

static bool retried(const rein_policy_spec *sp, rein_condition c) {
  rein_outcome_kind k = rein_condition_kind(c);
  if (rein_retryable_set_is_empty(&sp->policy.retryable))
    return (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0;
  return rein_retryable_set_has(&sp->policy.retryable, c, k);
}

/* One route with `retry_on` (and retriable_status_codes [429]). */
static rein_interop *import_retry_on(const char *ro) {
  char text[1024];
  snprintf(text, sizeof text,
           VH "  - match: {prefix: \"/\"}\n    route:\n      cluster: a\n"
              "      retry_policy: {retry_on: \"%s\", "
              "retriable_status_codes: [429]}\n",
           ro);
  rein_status st;
  rein_interop *ix = import_text(text, &st);
  if (st != REIN_OK) dump(ix);
  assert_int_equal(st, REIN_OK);
  return ix;
}

static void test_retry_on(void **state) {
  (void)state;
  static const struct {
    const char *ro;
    const char *yes; /* retried conditions */
    const char *no;  /* not retried */
  } cases[] = {
      {"5xx", "500 501 503 599 reset connect-failure refused-stream timeout",
       "429 409 UNAVAILABLE"},
      {"gateway-error", "502 503 504 timeout", "500 501 reset connect-failure"},
      {"reset", "reset timeout", "503 connect-failure"},
      {"connect-failure", "connect-failure", "reset 503 refused-stream"},
      {"refused-stream", "refused-stream", "reset connect-failure"},
      {"reset-before-request", "connect-failure refused-stream", "reset 503"},
      {"retriable-4xx", "409", "400 429 503"},
      {"retriable-status-codes", "429", "503 409"},
      {"cancelled", "CANCELLED", "UNAVAILABLE 503"},
      {"deadline-exceeded", "DEADLINE_EXCEEDED", "UNAVAILABLE"},
      {"internal", "INTERNAL", "UNKNOWN"},
      {"resource-exhausted", "RESOURCE_EXHAUSTED", "UNAVAILABLE 429"},
      {"unavailable", "UNAVAILABLE", "RESOURCE_EXHAUSTED 503"},
      {"", "", "503 reset UNAVAILABLE"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rein_interop *ix = import_retry_on(cases[i].ro);
    const rein_policy_spec *sp = &rein_interop_call_at(ix, 0)->spec;
    for (int pass = 0; pass < 2; pass++) {
      char list[256];
      snprintf(list, sizeof list, "%s", pass ? cases[i].no : cases[i].yes);
      for (char *t = strtok(list, " "); t; t = strtok(NULL, " ")) {
        rein_retryable_set one;
        assert_int_equal(rein_retryable_set_parse(&one, t, NULL), REIN_OK);
        rein_condition c;
        if (!strcmp(t, "timeout"))
          c = REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT);
        else if (one.http[0] || one.http[1] || one.http[2] || one.http[3] ||
                 one.http[4] || one.http[5] || one.http[6] || one.http[7] ||
                 one.http[8] || one.http[9])
          c = REIN_COND_HTTP(atoi(t));
        else if (one.grpc)
          c = REIN_COND_GRPC((uint32_t)__builtin_ctz(one.grpc));
        else
          c = REIN_COND_TRANSPORT((uint32_t)__builtin_ctz(one.transport));
        if (retried(sp, c) != !pass) {
          fprintf(stderr, "retry_on '%s': %s should%s be retried\n",
                  cases[i].ro, t, pass ? " not" : "");
          fail();
        }
      }
    }
    rein_interop_free(ix);
  }
  /* gRPC and HTTP statuses back out: the export's retry_on */
  static const struct {
    const char *when, *want;
  } back[] = {
      {"[5xx, reset, connect-failure, refused-stream, timeout]",
       "retry_on: \"5xx\""},
      {"[502, 503, 504, timeout]", "retry_on: \"gateway-error\""},
      {"[reset, timeout, 409]", "retry_on: \"reset,retriable-4xx\""},
      {"[UNAVAILABLE, CANCELLED]", "retry_on: \"cancelled,unavailable\""},
      {"[429, 503]", "retriable_status_codes: [429, 503]"},
  };
  for (size_t i = 0; i < sizeof back / sizeof back[0]; i++) {
    char text[512];
    snprintf(text, sizeof text,
             "service: c\nversion: \"1\"\ncalls:\n  - to: s.op\n"
             "    retry: {attempts: 3, when: %s}\n",
             back[i].when);
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    assert_int_equal(rein_contract_add_buffer(s, "c.yaml", text, strlen(text)),
                     REIN_OK);
    rein_interop *ex;
    assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
    char *out;
    size_t n;
    assert_int_equal(rein_interop_export(ex, "envoy", s, NULL, &out, &n),
                     REIN_OK);
    if (!strstr(out, back[i].want)) {
      fprintf(stderr, "%s: no '%s' in\n%s\n", back[i].when, back[i].want, out);
      fail();
    }
    /* nothing about `when` was lost but the timeout kind's extras */
    for (size_t k = 0; k < rein_interop_diag_count(ex); k++) {
      const rein_interop_diag *d = rein_interop_diag_at(ex, k);
      if (d->severity == REIN_INTEROP_WARNING &&
          strstr(d->field, "retry.when") && !strstr(d->message, "`timeout`")) {
        dump(ex);
        fail();
      }
    }
    rein_free(NULL, out);
    rein_interop_free(ex);
    rein_contract_set_free(s);
  }
}

/* --------------------------------------------------------------- golden */

static char *slurp(const char *path, size_t *n) {
  char *b = NULL;
  size_t len = 0;
  if (rein_file_read(path, 1 << 22, NULL, NULL, &b, &len) != REIN_OK)
    return NULL;
  if (n) *n = len;
  return b;
}

/* Import a fixture under its base name (so origins do not hold the build
 * path); returns the handle. */
static rein_interop *import_fixture(const char *name, rein_status *st) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  size_t n = 0;
  char *text = slurp(path, &n);
  assert_non_null(text);
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st = rein_interop_import_buffer(ix, "envoy", name, text, n);
  rein_free(NULL, text);
  return ix;
}

static bool is_fixture(const char *name) {
  size_t l = strlen(name);
  return (l > 5 && strcmp(name + l - 5, ".yaml") == 0) ||
         (l > 5 && strcmp(name + l - 5, ".json") == 0);
}

static void test_golden(void **state) {
  (void)state;
  DIR *d = opendir(fixtures_dir);
  assert_non_null(d);
  size_t n = 0;
  bool update = getenv("REIN_UPDATE_GOLDEN") != NULL;
  for (struct dirent *e; (e = readdir(d));) {
    if (!is_fixture(e->d_name)) continue;
    rein_status st;
    rein_interop *ix = import_fixture(e->d_name, &st);
    if (st != REIN_OK) dump(ix);
    assert_int_equal(st, REIN_OK);
    char *yaml;
    size_t yl;
    assert_int_equal(rein_interop_write_contract(ix, &yaml, &yl), REIN_OK);
    char gpath[1200];
    snprintf(gpath, sizeof gpath, "%s/golden/%.*s.contract.yaml", fixtures_dir,
             (int)(strlen(e->d_name) - 5), e->d_name);
    if (update) {
      FILE *f = fopen(gpath, "w");
      assert_non_null(f);
      fwrite(yaml, 1, yl, f);
      fclose(f);
    }
    size_t gl;
    char *want = slurp(gpath, &gl);
    if (!want || gl != yl || memcmp(want, yaml, yl) != 0) {
      fprintf(stderr, "%s differs from %s (REIN_UPDATE_GOLDEN=1 rewrites):\n%s",
              e->d_name, gpath, yaml);
      fail();
    }
    /* it loads as a contract, every call with its origin */
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    assert_int_equal(rein_contract_add_buffer(s, "g.yaml", yaml, yl), REIN_OK);
    for (size_t i = 0; i < rein_contract_call_count(s); i++) {
      rein_contract_loc loc;
      const char *origin;
      assert_int_equal(rein_contract_call_where(s, i, &loc, &origin), REIN_OK);
      assert_non_null(origin);
      assert_non_null(strstr(origin, e->d_name));
    }
    rein_contract_set_free(s);
    rein_free(NULL, want);
    rein_free(NULL, yaml);
    rein_interop_free(ix);
    n++;
  }
  closedir(d);
  fprintf(stderr, "golden: %zu fixtures\n", n);
  assert_true(n >= 5);
}

/* ------------------------------------------------------------ round trip */

/* What Envoy expresses of a spec. */
typedef struct proj {
  uint32_t attempts;
  int64_t deadline, tmo, base, cap;
  uint32_t signals;
  bool budget;
  double ratio, min;
} proj;

static proj expect(const rein_policy_spec *sp) {
  proj p;
  memset(&p, 0, sizeof p);
  p.attempts = sp->policy.max_attempts;
  p.deadline = sp->deadline_ns;
  p.tmo = sp->policy.attempt_timeout_ns;
  if (p.attempts <= 1) return p;
  const rein_backoff_config *b = &sp->policy.backoff;
  int64_t base = b->base_ns, cap = b->cap_ns;
  if (b->kind == REIN_BACKOFF_CONSTANT) cap = base;
  if (b->kind == REIN_BACKOFF_NONE) base = cap = 1000000;
  if (base < 1000000) base = 1000000;
  if (cap < base) cap = base;
  p.base = base;
  p.cap = cap;
  p.signals = sp->signals & (REIN_SIGNAL_RETRY_AFTER | REIN_SIGNAL_RATELIMIT);
  if (sp->has_budget && sp->budget.kind == REIN_BUDGET_RATIO) {
    p.budget = true;
    p.ratio = sp->budget.ratio > 1 ? 1 : sp->budget.ratio;
    p.min = floor(sp->budget.min_retries_per_sec + 0.5);
  }
  return p;
}

static proj got(const rein_policy_spec *sp) {
  proj p;
  memset(&p, 0, sizeof p);
  p.attempts = sp->policy.max_attempts;
  p.deadline = sp->deadline_ns;
  p.tmo = sp->policy.attempt_timeout_ns;
  if (p.attempts <= 1) return p;
  assert_int_equal(sp->policy.backoff.kind, REIN_BACKOFF_EXPONENTIAL);
  assert_int_equal(sp->policy.backoff.jitter, REIN_JITTER_FULL);
  assert_true(sp->policy.backoff.multiplier == 2);
  p.base = sp->policy.backoff.base_ns;
  p.cap = sp->policy.backoff.cap_ns;
  p.signals = sp->signals;
  if (sp->has_budget) {
    p.budget = true;
    p.ratio = sp->budget.ratio;
    p.min = sp->budget.min_retries_per_sec;
  }
  return p;
}

static bool warned(const rein_interop *ex, const char *path,
                   const char *field) {
  char f[128];
  snprintf(f, sizeof f, "%s.%s", path, field);
  for (size_t i = 0; i < rein_interop_diag_count(ex); i++) {
    const rein_interop_diag *d = rein_interop_diag_at(ex, i);
    if (d->severity == REIN_INTEROP_WARNING &&
        strncmp(d->field, f, strlen(f)) == 0)
      return true;
  }
  return false;
}

/* The conditions on which two specs differ, or 0. */
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

static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text = NULL;
  size_t len;
  rein_status st = rein_interop_export(ex, "envoy", s, caller, &text, &len);
  if (st != REIN_OK) {
    fprintf(stderr, "%s: export of %s failed\n", what, caller);
    dump(ex);
    fail();
  }
  rein_interop *im;
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  st = rein_interop_import_buffer(im, "envoy", "exported.yaml", text, len);
  if (st != REIN_OK) {
    fprintf(stderr, "%s: import of the export failed:\n%s\n", what, text);
    dump(im);
    fail();
  }
  size_t compared = 0, n = rein_contract_call_count(s), idx = 0;
  for (size_t i = 0; i < n; i++) {
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
    proj want = expect(&sp), have = got(&back->spec);
    /* one budget per cluster: another call's, when the export said so */
    if (want.budget != have.budget || want.ratio != have.ratio ||
        want.min != have.min) {
      if (warned(ex, path, "retry.budget") || (!want.budget && have.budget)) {
        want.budget = have.budget;
        want.ratio = have.ratio;
        want.min = have.min;
      }
    }
    char why[256] = "";
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
    else if (want.signals != have.signals)
      snprintf(why, sizeof why, "signals %#x vs %#x", want.signals,
               have.signals);
    else if (want.budget != have.budget || want.ratio != have.ratio ||
             want.min != have.min)
      snprintf(why, sizeof why, "budget %d %g %g vs %d %g %g", want.budget,
               want.ratio, want.min, have.budget, have.ratio, have.min);
    rein_condition dc = want.attempts > 1 ? when_differs(&sp, &back->spec) : 0;
    if (!*why && dc && !warned(ex, path, "retry.when")) {
      char nb[32];
      snprintf(why, sizeof why, "`when` differs on %s, not warned",
               rein_condition_name(dc, nb, sizeof nb));
    }
    if (*why) {
      fprintf(stderr, "%s: %s -> %s: %s\n%s\n", what, caller, to, why, text);
      dump(ex);
      fail();
    }
    if (want.attempts > 1 && sp.policy.backoff.jitter != REIN_JITTER_FULL)
      assert_true(warned(ex, path, "retry.backoff.jitter"));
    if (want.attempts > 1 && sp.has_breaker)
      assert_true(warned(ex, path, "retry.breaker"));
    if (want.attempts > 1 && sp.has_throttle)
      assert_true(warned(ex, path, "retry.throttle"));
    /* every other field Envoy cannot express is named in a warning */
    if (want.attempts > 1) {
      const rein_backoff_config *b = &sp.policy.backoff;
      const char *lost = NULL;
      if (b->kind == REIN_BACKOFF_EXPONENTIAL && b->multiplier != 2 &&
          !warned(ex, path, "retry.backoff.multiplier"))
        lost = "retry.backoff.multiplier";
      else if ((b->kind == REIN_BACKOFF_LINEAR ||
                b->kind == REIN_BACKOFF_NONE) &&
               !warned(ex, path, "retry.backoff.kind"))
        lost = "retry.backoff.kind";
      else if (b->kind != REIN_BACKOFF_NONE && b->base_ns < 1000000 &&
               !warned(ex, path, "retry.backoff.base"))
        lost = "retry.backoff.base";
      else if ((sp.signals & (REIN_SIGNAL_PUSHBACK | REIN_SIGNAL_DONT_RETRY)) &&
               !warned(ex, path, "retry.signals"))
        lost = "retry.signals";
      else if (sp.policy.window_ns > 0 && !warned(ex, path, "retry.window"))
        lost = "retry.window";
      else if (sp.policy.expected_attempt_ns > 0 &&
               !warned(ex, path, "retry.expected_attempt"))
        lost = "retry.expected_attempt";
      else if (sp.policy.key_retention_ns > 0 && !warned(ex, path, "key_ttl"))
        lost = "key_ttl";
      else if (!sp.policy.idempotent && !warned(ex, path, "retry"))
        lost = "retry (not idempotent)";
      else if (sp.has_budget && sp.budget.kind != REIN_BUDGET_RATIO &&
               !warned(ex, path, "retry.budget.kind"))
        lost = "retry.budget.kind";
      if (lost) {
        fprintf(stderr, "%s: %s -> %s: %s not warned\n%s\n", what, caller, to,
                lost, text);
        dump(ex);
        fail();
      }
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
    size_t n = rein_contract_call_count(s);
    const char *done[64];
    size_t ndone = 0;
    for (size_t i = 0; i < n; i++) {
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

/* A random contract of one caller: 1..4 calls with random policies. */
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
                                      "failure",
                                      "408",
                                      "4xx"};
  static const char *const kinds[] = {"none", "constant", "linear",
                                      "exponential"};
  static const char *const jit[] = {"none", "full", "equal", "decorrelated"};
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
    int64_t ns;
    if (rein_rng_next(r) % 2) {
      ns = 1 + (int64_t)(rein_rng_next(r) % (UINT64_C(3600) * 1000000000));
      rein_format_duration(ns, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_CALL, "deadline"), t, NULL);
    }
    if (rein_rng_next(r) % 2) {
      ns = 1 + (int64_t)(rein_rng_next(r) % (UINT64_C(60) * 1000000000));
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
    int64_t capv =
        base + (int64_t)(rein_rng_next(r) % (UINT64_C(60) * 1000000000));
    rein_format_duration(base, t, sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "base"), t, NULL);
    rein_format_duration(capv, t, sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "cap"), t, NULL);
    const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
    rein_model_list_clear(&sp, when);
    unsigned nw = (unsigned)(rein_rng_next(r) % 5);
    for (unsigned k = 0; k < nw; k++)
      rein_model_list_add(
          &sp, when, names[rein_rng_next(r) % (sizeof names / sizeof names[0])],
          NULL);
    const rein_model_field *sig = mf(REIN_MODEL_RETRY, "signals");
    rein_model_list_clear(&sp, sig);
    static const char *const sigs[] = {"retry-after", "pushback", "ratelimit",
                                       "dont-retry"};
    for (int k = 0; k < 4; k++)
      if (rein_rng_next(r) % 2) rein_model_list_add(&sp, sig, sigs[k], NULL);
    /* multipliers other than Envoy's 2 (warned on export) */
    if (rein_rng_next(r) % 4 == 0)
      rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "multiplier"),
                     rein_rng_next(r) % 2 ? "1.5" : "3", NULL);
    if (rein_rng_next(r) % 8 == 0) {
      sp.has_budget = true; /* a quota budget has no Envoy form */
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "kind"), "quota", NULL);
    } else if (rein_rng_next(r) % 2) {
      sp.has_budget = true;
      snprintf(t, sizeof t, "%.2f", (double)(rein_rng_next(r) % 150) / 100.0);
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "ratio"), t, NULL);
      snprintf(t, sizeof t, "%u", (unsigned)(rein_rng_next(r) % 20));
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "min_per_sec"), t, NULL);
    }
    static const char *const ops[] = {"charge", "*", "refund", "v1-get",
                                      "list*"};
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
    rein_status st =
        rein_contract_add_buffer(s, "random.yaml", buf, strlen(buf));
    if (st != REIN_OK) {
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

/* An Envoy file as a jansson tree, read with libyaml directly (not
 * through rein's reader): plain scalars that look like numbers become
 * numbers, the rest strings. */
static json_t *yaml_node_json(yaml_document_t *doc, yaml_node_t *n) {
  if (!n) return json_null();
  if (n->type == YAML_SCALAR_NODE) {
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
      char *end;
      double x = strtod(v, &end);
      if (*v && !*end && (isdigit((unsigned char)*v) || *v == '-'))
        return json_real(x);
      if (!strcmp(v, "true")) return json_true();
      if (!strcmp(v, "false")) return json_false();
    }
    return json_string(v);
  }
  if (n->type == YAML_SEQUENCE_NODE) {
    json_t *a = json_array();
    for (yaml_node_item_t *i = n->data.sequence.items.start;
         i < n->data.sequence.items.top; i++)
      json_array_append_new(
          a, yaml_node_json(doc, yaml_document_get_node(doc, *i)));
    return a;
  }
  json_t *o = json_object();
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    /* protobuf JSON names -> the proto's snake_case */
    char key[128];
    size_t o2 = 0;
    for (const char *c = (const char *)k->data.scalar.value;
         *c && o2 + 2 < sizeof key; c++) {
      if (isupper((unsigned char)*c)) {
        key[o2++] = '_';
        key[o2++] = (char)tolower((unsigned char)*c);
      } else {
        key[o2++] = *c;
      }
    }
    key[o2] = 0;
    json_object_set_new(
        o, key, yaml_node_json(doc, yaml_document_get_node(doc, p->value)));
  }
  return o;
}

static json_t *load_yaml(const char *text, size_t n) {
  yaml_parser_t p;
  yaml_document_t doc;
  assert_true(yaml_parser_initialize(&p));
  yaml_parser_set_input_string(&p, (const unsigned char *)text, n);
  assert_true(yaml_parser_load(&p, &doc));
  json_t *j = yaml_node_json(&doc, yaml_document_get_root_node(&doc));
  yaml_document_delete(&doc);
  yaml_parser_delete(&p);
  return j;
}

static int64_t dur(json_t *v, int64_t dflt) {
  if (!json_is_string(v)) return dflt;
  int64_t ns;
  assert_int_equal(rein_interop_grpc_duration(json_string_value(v), &ns, NULL),
                   REIN_OK);
  return ns;
}

/* What Envoy's documentation says each retry_on condition retries
 * ("timeout": an attempt that hit per_try_timeout). */
static void conditions(json_t *rp, json_t *out) {
  const char *ro = json_string_value(json_object_get(rp, "retry_on"));
  char buf[512];
  snprintf(buf, sizeof buf, "%s", ro ? ro : "");
  for (char *t = strtok(buf, ", "); t; t = strtok(NULL, ", ")) {
    const char *add = "";
    if (!strcmp(t, "5xx"))
      add = "5xx reset connect-failure refused-stream timeout";
    else if (!strcmp(t, "gateway-error"))
      add = "502 503 504 timeout";
    else if (!strcmp(t, "reset"))
      add = "reset timeout";
    else if (!strcmp(t, "retriable-4xx"))
      add = "409";
    else if (!strcmp(t, "retriable-status-codes")) {
      size_t i;
      json_t *c;
      json_array_foreach(json_object_get(rp, "retriable_status_codes"), i, c) {
        char k[16];
        snprintf(k, sizeof k, "%d", (int)json_number_value(c));
        json_object_set_new(out, k, json_true());
      }
    } else
      add = t; /* connect-failure, refused-stream, the gRPC names */
    char a[128];
    snprintf(a, sizeof a, "%s", add);
    for (char *save, *w = strtok_r(a, " ", &save); w;
         w = strtok_r(NULL, " ", &save)) {
      if (!strcmp(w, "5xx")) {
        for (int s = 500; s < 600; s++) {
          char k[8];
          snprintf(k, sizeof k, "%d", s);
          json_object_set_new(out, k, json_true());
        }
      } else {
        json_object_set_new(out, w, json_true());
      }
    }
    (void)0;
  }
}

/* Find every cluster's retry budget and every route, anywhere. */
static void walk(json_t *j, json_t *clusters, json_t *vhosts) {
  if (json_is_array(j)) {
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) walk(v, clusters, vhosts);
    return;
  }
  if (!json_is_object(j)) return;
  json_t *vh = json_object_get(j, "virtual_hosts");
  if (json_is_array(vh)) json_array_extend(vhosts, vh);
  json_t *cb = json_object_get(j, "circuit_breakers");
  const char *name = json_string_value(json_object_get(j, "name"));
  if (cb && name) {
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(cb, "thresholds"), i, t) {
      json_t *rb = json_object_get(t, "retry_budget");
      const char *pr = json_string_value(json_object_get(t, "priority"));
      if (!rb || (pr && strcmp(pr, "DEFAULT"))) continue;
      json_t *b = json_object();
      json_t *pct =
          json_object_get(json_object_get(rb, "budget_percent"), "value");
      json_t *mc = json_object_get(rb, "min_retry_concurrency");
      json_object_set_new(b, "percent",
                          json_real(pct ? json_number_value(pct) : 20));
      json_object_set_new(b, "min", json_real(mc ? json_number_value(mc) : 3));
      json_object_set_new(clusters, name, b);
    }
  }
  const char *k;
  json_t *v;
  json_object_foreach(j, k, v) if (strcmp(k, "virtual_hosts"))
      walk(v, clusters, vhosts);
}

/* An Envoy config as (cluster, match) -> what its retries do. */
static json_t *normalize(json_t *cfg) {
  json_t *clusters = json_object(), *vhosts = json_array(),
         *out = json_object();
  walk(cfg, clusters, vhosts);
  size_t i;
  json_t *vh;
  json_array_foreach(vhosts, i, vh) {
    json_t *vrp = json_object_get(vh, "retry_policy");
    size_t j;
    json_t *r;
    json_array_foreach(json_object_get(vh, "routes"), j, r) {
      json_t *ra = json_object_get(r, "route");
      if (!ra) continue;
      json_t *m = json_object_get(r, "match");
      const char *kind = json_object_get(m, "path") ? "path" : "prefix";
      const char *val = json_string_value(json_object_get(m, kind));
      json_t *rp = json_object_get(ra, "retry_policy");
      if (!rp) rp = vrp;
      json_t *n = json_object();
      json_object_set_new(n, "timeout",
                          json_integer(dur(json_object_get(ra, "timeout"),
                                           INT64_C(15000000000))));
      json_t *nr = rp ? json_object_get(rp, "num_retries") : NULL;
      double retries = !rp                  ? 0
                       : json_is_string(nr) ? atof(json_string_value(nr))
                       : nr                 ? json_number_value(nr)
                                            : 1;
      json_object_set_new(n, "num_retries", json_integer((json_int_t)retries));
      if (rp) {
        json_object_set_new(
            n, "per_try_timeout",
            json_integer(dur(json_object_get(rp, "per_try_timeout"), 0)));
        json_t *bo = json_object_get(rp, "retry_back_off");
        int64_t base = dur(json_object_get(bo, "base_interval"), 25000000);
        if (base < 1000000) base = 1000000;
        int64_t cap = dur(json_object_get(bo, "max_interval"), 10 * base);
        json_object_set_new(n, "base", json_integer(base));
        json_object_set_new(n, "max", json_integer(cap));
        json_t *conds = json_object();
        conditions(rp, conds);
        json_object_set_new(n, "retry_on", conds);
        json_t *hdrs = json_object();
        size_t h;
        json_t *hd;
        json_array_foreach(
            json_object_get(json_object_get(rp, "rate_limited_retry_back_off"),
                            "reset_headers"),
            h, hd) {
          const char *hn = json_string_value(json_object_get(hd, "name"));
          json_object_set_new(hdrs,
                              strcasecmp(hn, "Retry-After") == 0 ? "retry-after"
                                                                 : "ratelimit",
                              json_true());
        }
        json_object_set_new(n, "reset_headers", hdrs);
      }
      json_t *cls = json_array();
      const char *cl = json_string_value(json_object_get(ra, "cluster"));
      if (cl) json_array_append_new(cls, json_string(cl));
      size_t w;
      json_t *wc;
      json_array_foreach(
          json_object_get(json_object_get(ra, "weighted_clusters"), "clusters"),
          w, wc) json_array_append(cls, json_object_get(wc, "name"));
      size_t q;
      json_t *c;
      json_array_foreach(cls, q, c) {
        json_t *nn = json_deep_copy(n);
        json_t *b = json_object_get(clusters, json_string_value(c));
        if (b && retries > 0) json_object_set(nn, "budget", b);
        char key[600];
        snprintf(key, sizeof key, "%s %s %s", json_string_value(c), kind, val);
        json_object_set_new(out, key, nn);
      }
      json_decref(cls);
      json_decref(n);
    }
  }
  json_decref(clusters);
  json_decref(vhosts);
  return out;
}

static void test_fixtures(void **state) {
  (void)state;
  DIR *d = opendir(fixtures_dir);
  assert_non_null(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!is_fixture(e->d_name)) continue;
    rein_status st;
    rein_interop *im = import_fixture(e->d_name, &st);
    assert_int_equal(st, REIN_OK);
    char *yaml;
    size_t yl;
    assert_int_equal(rein_interop_write_contract(im, &yaml, &yl), REIN_OK);
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    assert_int_equal(rein_contract_add_buffer(s, "i.yaml", yaml, yl), REIN_OK);
    rein_interop *ex;
    assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
    char *text;
    size_t tl;
    assert_int_equal(rein_interop_export(ex, "envoy", s, NULL, &text, &tl),
                     REIN_OK);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir, e->d_name);
    size_t rl = 0;
    char *raw = slurp(path, &rl);
    assert_non_null(raw);
    json_t *a = load_yaml(raw, rl), *b = load_yaml(text, tl);
    json_t *na = normalize(a), *nb = normalize(b);
    assert_true(json_object_size(na) > 0);
    if (!json_equal(na, nb)) {
      char *sa = json_dumps(na, JSON_SORT_KEYS | JSON_INDENT(1)),
           *sb = json_dumps(nb, JSON_SORT_KEYS | JSON_INDENT(1));
      fprintf(stderr,
              "%s: not semantically equal\n  source: %s\n  export: %s\n",
              e->d_name, sa, sb);
      free(sa);
      free(sb);
      fail();
    }
    json_decref(na);
    json_decref(nb);
    json_decref(a);
    json_decref(b);
    rein_free(NULL, raw);
    rein_free(NULL, text);
    rein_free(NULL, yaml);
    rein_interop_free(ex);
    rein_interop_free(im);
    rein_contract_set_free(s);
    n++;
  }
  closedir(d);
  fprintf(stderr, "fixtures: %zu semantically equal after the round trip\n", n);
  assert_true(n >= 5);
}

/* ------------------------------------------------------ fault loops */

static const char fault_text[] =
    "static_resources:\n"
    "  clusters:\n"
    "  - name: a\n"
    "    circuit_breakers: {thresholds: [{retry_budget: {}}]}\n"
    "  listeners:\n"
    "  - filter_chains:\n"
    "    - filters:\n"
    "      - name: envoy.filters.network.http_connection_manager\n"
    "        typed_config:\n"
    "          route_config:\n"
    "            virtual_hosts:\n"
    "            - name: v\n"
    "              domains: [\"*\"]\n"
    "              hedge_policy: {hedge_on_per_try_timeout: true}\n"
    "              routes:\n"
    "              - match: {path: \"/x\"}\n"
    "                route:\n"
    "                  weighted_clusters: {clusters: [{name: a}, {name: b}]}\n"
    "                  retry_policy: {retry_on: \"5xx,unavailable\", "
    "num_retries: 3}\n";

static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_interop_config c;
  rein_interop_config_default(&c);
  c.alloc = a;
  rein_interop *ix = NULL, *ex = NULL;
  char *yaml = NULL, *out = NULL;
  size_t yl = 0, ol = 0;
  rein_contract_set *s = NULL;
  int rc = 1;
  if (rein_interop_new(&c, &ix) != REIN_OK) goto done;
  rein_status st = rein_interop_import_buffer(ix, "envoy", "f.yaml", fault_text,
                                              sizeof fault_text - 1);
  if (st == REIN_ENOMEM) goto done;
  assert_int_equal(st, REIN_OK);
  if (rein_interop_write_contract(ix, &yaml, &yl) != REIN_OK) goto done;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "f.yaml", yaml, yl), REIN_OK);
  if (rein_interop_new(&c, &ex) != REIN_OK) goto done;
  st = rein_interop_export(ex, "envoy", s, NULL, &out, &ol);
  if (st == REIN_ENOMEM) {
    assert_null(out);
    goto done;
  }
  assert_int_equal(st, REIN_OK);
  rc = 0;
done:
  rein_free(a, out);
  rein_free(a, yaml);
  rein_interop_free(ex);
  rein_interop_free(ix);
  rein_contract_set_free(s);
  return rc;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_interop_envoy EXAMPLES FIXTURES REIN\n");
    return 2;
  }
  examples_dir = argv[1];
  fixtures_dir = argv[2];
  rein_bin = argv[3];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_cli_nothing_written),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_listed),
      cmocka_unit_test(test_retry_on),
      cmocka_unit_test(test_golden),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixtures),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
