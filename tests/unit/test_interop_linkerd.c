/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_linkerd.c: Linkerd ServiceProfile import and export
 * (rein/interop.h, format "linkerd").
 *
 *  - bad input: malformed YAML, wrong kinds and apiVersions, wrong types,
 *    unknown fields (with a did-you-mean), a retryBudget missing a field
 *    the CRD requires, a status range upside down, each at its
 *    file:line:col with no calls kept; `rein import` exits 2 and writes
 *    nothing;
 *  - every field rein cannot represent is a warning naming it
 *    (all/any/not conditions, dstOverrides, the missing retry limit);
 *  - Linkerd's semantics: isRetryable with the profile's budget (or
 *    Linkerd's default 20%, 10/s, 10s), failure classes as retryable
 *    statuses (none: 5xx), the route timeout (default 10s) as deadline;
 *  - exports are checked against the ServiceProfile CRD's OpenAPI schema
 *    (linkerd2 charts/linkerd-crds/templates/serviceprofile.yaml, v1alpha2),
 *    re-expressed as this file's own checks (check_profiles): types,
 *    required fields, no field the schema does not have;
 *  - the fixtures import to the values their headers state, and
 *    export(import(x)) reads back to the same policies;
 *  - round trip import(export(c)) == c on every field a ServiceProfile
 *    expresses, for every caller of the example contracts and a generated
 *    corpus (seed printed: REIN_TEST_SEED replays); everything else named
 *    in a warning.
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
#include <yaml.h>

static const char *examples_dir, *fixtures_dir, *rein_bin;

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)


static rein_interop *import_text(const char *text, rein_status *st) {
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st =
      rein_interop_import_buffer(ix, "linkerd", "in.yaml", text, strlen(text));
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

/* ---------------------------------------------- the CRD's schema, checked */

/* The ServiceProfile v1alpha2 schema as checks on a libyaml tree: the
 * fields each object may have, their types, the required ones. Returns
 * NULL when `text` (a List of ServiceProfiles, as rein writes it) holds,
 * else why not (a static buffer). */
static char why_buf[300];

static yaml_node_t *member(yaml_document_t *d, yaml_node_t *n, const char *k) {
  if (!n || n->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(d, p->key);
    if (key && key->type == YAML_SCALAR_NODE &&
        strcmp((char *)key->data.scalar.value, k) == 0)
      return yaml_document_get_node(d, p->value);
  }
  return NULL;
}

static const char *only_keys(yaml_document_t *d, yaml_node_t *n,
                             const char *const *keys, const char *where) {
  if (!n || n->type != YAML_MAPPING_NODE) {
    snprintf(why_buf, sizeof why_buf, "%s: not an object", where);
    return why_buf;
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *key = yaml_document_get_node(d, p->key);
    bool ok = false;
    for (size_t i = 0; keys[i] && !ok; i++)
      ok = strcmp((char *)key->data.scalar.value, keys[i]) == 0;
    if (!ok) {
      snprintf(why_buf, sizeof why_buf, "%s: field %s not in the schema", where,
               (char *)key->data.scalar.value);
      return why_buf;
    }
  }
  return NULL;
}

typedef enum { T_STRING, T_INT, T_NUMBER, T_BOOL } stype;

static bool scalar_is(yaml_node_t *n, stype t) {
  if (!n || n->type != YAML_SCALAR_NODE) return false;
  const char *v = (const char *)n->data.scalar.value;
  bool plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  char *end;
  switch (t) {
  case T_STRING:
    return !plain || (strtod(v, &end), *end != 0);
  case T_INT:
    return plain && (strtoll(v, &end, 10), *v && *end == 0);
  case T_NUMBER:
    return plain && (strtod(v, &end), *v && *end == 0);
  case T_BOOL:
    return plain && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0);
  }
  return false;
}

static const char *check_profile(yaml_document_t *d, yaml_node_t *p) {
  static const char *const top[] = {"apiVersion", "kind", "metadata", "spec",
                                    NULL};
  static const char *const spec_k[] = {"dstOverrides", "opaquePorts",
                                       "retryBudget", "routes", NULL};
  static const char *const budget_k[] = {"minRetriesPerSecond", "retryRatio",
                                         "ttl", NULL};
  static const char *const route_k[] = {"condition", "isRetryable",     "name",
                                        "timeout",   "responseClasses", NULL};
  static const char *const cond_k[] = {"pathRegex", "method", "all",
                                       "any",       "not",    NULL};
  static const char *const class_k[] = {"condition", "isFailure", NULL};
  static const char *const resp_k[] = {"all", "any", "not", "status", NULL};
  static const char *const range_k[] = {"max", "min", NULL};
  const char *why;
  if ((why = only_keys(d, p, top, "item"))) return why;
  yaml_node_t *api = member(d, p, "apiVersion"), *kind = member(d, p, "kind");
  if (!api || strcmp((char *)api->data.scalar.value, "linkerd.io/v1alpha2") ||
      !kind || strcmp((char *)kind->data.scalar.value, "ServiceProfile"))
    return "apiVersion linkerd.io/v1alpha2, kind ServiceProfile";
  if (!scalar_is(member(d, member(d, p, "metadata"), "name"), T_STRING))
    return "metadata.name: a string";
  yaml_node_t *spec = member(d, p, "spec");
  if ((why = only_keys(d, spec, spec_k, "spec"))) return why;
  yaml_node_t *b = member(d, spec, "retryBudget");
  if (b) {
    if ((why = only_keys(d, b, budget_k, "retryBudget"))) return why;
    if (!scalar_is(member(d, b, "minRetriesPerSecond"), T_INT) ||
        !scalar_is(member(d, b, "retryRatio"), T_NUMBER) ||
        !scalar_is(member(d, b, "ttl"), T_STRING))
      return "retryBudget: minRetriesPerSecond (integer), retryRatio "
             "(number) and ttl (string) required";
  }
  yaml_node_t *routes = member(d, spec, "routes");
  if (!routes) return NULL;
  if (routes->type != YAML_SEQUENCE_NODE) return "routes: not an array";
  for (yaml_node_item_t *it = routes->data.sequence.items.start;
       it < routes->data.sequence.items.top; it++) {
    yaml_node_t *r = yaml_document_get_node(d, *it);
    if ((why = only_keys(d, r, route_k, "route"))) return why;
    if (!scalar_is(member(d, r, "name"), T_STRING))
      return "route.name: a string, required";
    yaml_node_t *c = member(d, r, "condition");
    if (!c) return "route.condition: required";
    if ((why = only_keys(d, c, cond_k, "route.condition"))) return why;
    if (member(d, c, "method") && !scalar_is(member(d, c, "method"), T_STRING))
      return "condition.method: a string";
    if (member(d, c, "pathRegex") &&
        !scalar_is(member(d, c, "pathRegex"), T_STRING))
      return "condition.pathRegex: a string";
    if (member(d, r, "isRetryable") &&
        !scalar_is(member(d, r, "isRetryable"), T_BOOL))
      return "route.isRetryable: a boolean";
    if (member(d, r, "timeout") &&
        !scalar_is(member(d, r, "timeout"), T_STRING))
      return "route.timeout: a string";
    yaml_node_t *rc = member(d, r, "responseClasses");
    if (!rc) continue;
    if (rc->type != YAML_SEQUENCE_NODE) return "responseClasses: an array";
    for (yaml_node_item_t *ci = rc->data.sequence.items.start;
         ci < rc->data.sequence.items.top; ci++) {
      yaml_node_t *k = yaml_document_get_node(d, *ci);
      if ((why = only_keys(d, k, class_k, "responseClass"))) return why;
      yaml_node_t *m = member(d, k, "condition");
      if (!m) return "responseClass.condition: required";
      if ((why = only_keys(d, m, resp_k, "responseClass.condition")))
        return why;
      if (member(d, k, "isFailure") &&
          !scalar_is(member(d, k, "isFailure"), T_BOOL))
        return "responseClass.isFailure: a boolean";
      yaml_node_t *st = member(d, m, "status");
      if (st) {
        if ((why = only_keys(d, st, range_k, "status"))) return why;
        if ((member(d, st, "min") && !scalar_is(member(d, st, "min"), T_INT)) ||
            (member(d, st, "max") && !scalar_is(member(d, st, "max"), T_INT)))
          return "status.min/max: integers";
      }
    }
  }
  return NULL;
}

static const char *check_profiles(const char *text, size_t len) {
  yaml_parser_t p;
  yaml_document_t d;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  if (!yaml_parser_load(&p, &d)) {
    yaml_parser_delete(&p);
    return "not YAML";
  }
  const char *why = NULL;
  yaml_node_t *root = yaml_document_get_root_node(&d);
  yaml_node_t *items = member(&d, root, "items");
  if (!items || items->type != YAML_SEQUENCE_NODE ||
      items->data.sequence.items.start == items->data.sequence.items.top)
    why = "a List with items";
  for (yaml_node_item_t *it = items ? items->data.sequence.items.start : NULL;
       !why && it < items->data.sequence.items.top; it++)
    why = check_profile(&d, yaml_document_get_node(&d, *it));
  yaml_document_delete(&d);
  yaml_parser_delete(&p);
  return why;
}

/* The checks refuse what the schema refuses (so they can fail). */
static void test_schema_checks(void **state) {
  (void)state;
#define LIST                                                                   \
  "apiVersion: v1\nkind: List\nitems:\n- apiVersion: linkerd.io/v1alpha2\n"    \
  "  kind: ServiceProfile\n  metadata: {name: a.b.svc.cluster.local}\n"        \
  "  spec:\n"
  static const char good[] = LIST "    routes: [{name: r, condition: {}}]\n";
  assert_null(check_profiles(good, strlen(good)));
  static const char *const bad[] = {
      LIST "    routes: [{name: r}]\n",
      LIST "    routes: [{condition: {}}]\n",
      LIST "    routes: [{name: r, condition: {}, isRetryable: yes}]\n",
      LIST "    routes: [{name: r, condition: {}, retries: 3}]\n",
      LIST "    retryBudget: {retryRatio: 0.2, ttl: 10s}\n",
      LIST "    retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 1.5, "
           "ttl: 10s}\n",
      LIST "    routes: [{name: r, condition: {}, responseClasses: "
           "[{isFailure: true}]}]\n",
      LIST "    routes: [{name: r, condition: {}, responseClasses: "
           "[{condition: {status: {min: \"500\"}}}]}]\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (!check_profiles(bad[i], strlen(bad[i]))) {
      fprintf(stderr, "schema check %zu accepted:\n%s\n", i, bad[i]);
      fail();
    }
  /* every fixture holds (its '#' header is a YAML comment) */
  DIR *dir = opendir(fixtures_dir);
  assert_non_null(dir);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(dir));) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir, e->d_name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[1 << 15];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    if (strstr(buf, "kind: List") || strstr(buf, "\"kind\": \"List\"")) {
      const char *why = check_profiles(buf, len);
      if (why) fprintf(stderr, "%s: %s\n", e->d_name, why);
      assert_null(why);
      n++;
    }
  }
  closedir(dir);
  assert_true(n >= 1);
#undef LIST
}

/* ------------------------------------------------------------ bad input */

#define SP                                                                     \
  "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\n"                    \
  "metadata: {name: a.default.svc.cluster.local}\nspec:\n  routes:\n"
#define ROUTE "  - name: r\n    condition: {method: GET, pathRegex: /a}\n"

typedef struct bad_case {
  const char *text;
  unsigned line, col;
  const char *field;
  const char *needle;
} bad_case;

static const bad_case bad_cases[] = {
    {SP ROUTE "    isRetryable: [\n", 0, 0, NULL, "malformed YAML"},
    {"", 1, 1, NULL, "empty file"},
    {"- 1\n", 1, 1, NULL, "a ServiceProfile object"},
    {"apiVersion: linkerd.io/v1alpha2\nkind: Server\nspec: {}\n", 1, 1, "kind",
     "rein imports Linkerd ServiceProfiles"},
    {"apiVersion: linkerd.io/v1\nkind: ServiceProfile\nmetadata: {name: a}\n"
     "spec: {}\n",
     1, 1, "apiVersion", "expected linkerd.io/v1alpha2"},
    {"apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nspec: {}\n", 1, 1,
     "metadata.name", "missing"},
    {SP ROUTE "    isRetriable: true\n", 8, 5, "spec.routes[0].isRetriable",
     "did you mean 'isRetryable'"},
    {SP "  - name: r\n    condition: {methd: GET}\n", 7, 17,
     "spec.routes[0].condition.methd", "did you mean 'method'"},
    {SP ROUTE "  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 10, "
              "tl: 10s}\n",
     8, 59, "spec.retryBudget.tl", "did you mean 'ttl'"},
    {SP ROUTE "    isRetryable: \"true\"\n", 8, 18,
     "spec.routes[0].isRetryable", "true or false"},
    {SP ROUTE "    timeout: 10\n", 8, 14, "spec.routes[0].timeout",
     "a duration string"},
    {SP ROUTE "    timeout: 1d\n", 8, 14, "spec.routes[0].timeout",
     "not a duration"},
    {SP ROUTE "  retryBudget: {retryRatio: 0.2, ttl: 10s}\n", 8, 16,
     "spec.retryBudget", "all required"},
    {SP ROUTE "  retryBudget: {retryRatio: 0.2, minRetriesPerSecond: 1.5, "
              "ttl: 10s}\n",
     8, 55, "spec.retryBudget.minRetriesPerSecond", "whole number"},
    {SP ROUTE "    responseClasses:\n    - condition: {status: {min: 504, "
              "max: 500}}\n      isFailure: true\n",
     9, 27, "spec.routes[0].responseClasses[0].condition.status", "above max"},
    {SP ROUTE "    responseClasses:\n    - condition: {status: {min: 700}}\n",
     9, 33, "spec.routes[0].responseClasses[0].condition.status.min",
     "[100, 599]"},
    {SP ROUTE "    responseClasses:\n    - condition: {status: {min: 250, "
              "max: 504}}\n      isFailure: true\n",
     6, 5, "spec.routes[0]", "at most 32"},
    {SP "  - condition: {method: GET}\n", 6, 5, "spec.routes[0].name",
     "missing"},
    {SP "  - name: r\n", 6, 5, "spec.routes[0].condition", "missing"},
    {"apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\n"
     "metadata: {name: a}\nspec: {}\n",
     1, 1, "", "nothing to import"},
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
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
}

/* `rein import linkerd` writes nothing when any file has an error. */
static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-linkerd-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.yaml", dir);
  snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs(SP ROUTE "    isRetryable: true\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs(SP ROUTE "    isRetryable: true\n    timeout: soon\n", f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import linkerd '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[512];
  snprintf(want, sizeof want, "%s:9:14: error: spec.routes[0].timeout:", bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "import linkerd '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  rc = rein_test_run(rein_bin, &o, "export linkerd '%s'", path);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(o, "kind: ServiceProfile"));
  assert_non_null(strstr(o, "isRetryable: true"));
  free(o);
  unlink(path);
  rmdir(out);
  unlink(good);
  unlink(bad);
  rmdir(dir);
}

/* ------------------------------------------------- warnings, semantics */

static void test_warnings(void **state) {
  (void)state;
  static const struct {
    const char *text, *field, *needle;
  } w[] = {
      {SP ROUTE "    isRetryable: true\n", "spec.routes[0].isRetryable",
       "no per-request retry limit"},
      {SP "  - name: r\n    condition: {all: [{method: GET}]}\n",
       "spec.routes[0].condition.all", "combination"},
      {SP ROUTE "    responseClasses:\n    - condition: {not: {status: "
                "{min: 200, max: 299}}}\n      isFailure: true\n",
       "spec.routes[0].responseClasses[0].condition.not", "combination"},
      {SP ROUTE "  dstOverrides: [{authority: b, weight: 10}]\n",
       "spec.dstOverrides", "traffic split"},
      {"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: "
       "Service\n  metadata: {name: a}\n- apiVersion: linkerd.io/v1alpha2\n"
       "  kind: ServiceProfile\n  metadata: {name: a}\n  spec:\n"
       "    routes: [{name: r, condition: {method: GET}}]\n",
       "items[0].kind", "annotated HTTPRoutes/GRPCRoutes only"},
  };
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    rein_status st;
    const char *t = w[i].text;
    rein_interop *ix = import_text(t, &st);
    if (st != REIN_OK ||
        !has_diag(ix, REIN_INTEROP_WARNING, 0, 0, w[i].field, w[i].needle)) {
      fprintf(stderr, "warning %zu (%s) missing:\n%s\n", i, w[i].field, t);
      rein_interop_write_diags(ix, stderr);
      fail();
    }
    rein_interop_free(ix);
  }
}

static const rein_policy_spec *only(rein_interop *ix) {
  assert_int_equal(rein_interop_call_count(ix), 1);
  return &rein_interop_call_at(ix, 0)->spec;
}

static void test_semantics(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix = import_text(SP ROUTE, &st);
  assert_int_equal(st, REIN_OK);
  const rein_policy_spec *sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 1); /* isRetryable false */
  assert_int_equal(sp->deadline_ns, 10 * SEC);  /* the default timeout */
  assert_string_equal(rein_interop_call_at(ix, 0)->to,
                      "a-default-svc-cluster-local.GET-a");
  rein_interop_free(ix);
  ix = import_text(SP ROUTE "    isRetryable: true\n    timeout: 250ms\n", &st);
  sp = only(ix);
  assert_int_equal(sp->policy.max_attempts, 1000);
  assert_int_equal(sp->deadline_ns, 250 * MS);
  assert_int_equal(sp->policy.backoff.kind, REIN_BACKOFF_NONE);
  for (unsigned s = 100; s < 600; s++) /* no classes: 5xx */
    assert_int_equal(retried(sp, REIN_COND_HTTP(s)), s >= 500);
  assert_true(sp->has_budget); /* Linkerd's default budget */
  assert_true(fabs(sp->budget.ratio - 0.2) < 1e-12);
  assert_true(fabs(sp->budget.min_retries_per_sec - 10) < 1e-12);
  assert_int_equal(sp->budget.ttl_ns, 10 * SEC);
  rein_interop_free(ix);
  ix = import_text(SP ROUTE "    isRetryable: true\n    responseClasses:\n"
                            "    - condition: {status: {min: 502, max: 504}}\n"
                            "      isFailure: true\n"
                            "    - condition: {status: {min: 500, max: 500}}\n"
                            "      isFailure: false\n"
                            "  retryBudget: {retryRatio: 0.5, "
                            "minRetriesPerSecond: 3, ttl: 1m}\n",
                   &st);
  sp = only(ix);
  for (unsigned s = 100; s < 600; s++)
    assert_int_equal(retried(sp, REIN_COND_HTTP(s)), s >= 502 && s <= 504);
  assert_true(fabs(sp->budget.ratio - 0.5) < 1e-12);
  assert_true(fabs(sp->budget.min_retries_per_sec - 3) < 1e-12);
  assert_int_equal(sp->budget.ttl_ns, 60 * SEC);
  rein_interop_free(ix);
  /* names: no method is the path alone, ".*" is `*`; no condition `*` */
  ix = import_text(SP "  - name: r\n    condition: {pathRegex: /x/.*}\n"
                      "  - name: s\n    condition: {}\n",
                   &st);
  assert_int_equal(rein_interop_call_count(ix), 2);
  assert_string_equal(rein_interop_call_at(ix, 0)->to,
                      "a-default-svc-cluster-local.x-*");
  assert_string_equal(rein_interop_call_at(ix, 1)->to,
                      "a-default-svc-cluster-local.*");
  rein_interop_free(ix);
}


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

/* Export `caller` of `s`, check it against the CRD schema, import it, and
 * hold every call to what a ServiceProfile expresses, everything else
 * warned. Returns the calls compared. */
static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex, *im;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text = NULL;
  size_t len;
  if (rein_interop_export(ex, "linkerd", s, caller, &text, &len) != REIN_OK) {
    fprintf(stderr, "%s: export of %s failed\n", what, caller);
    rein_interop_write_diags(ex, stderr);
    fail();
  }
  const char *bad = check_profiles(text, len);
  if (bad) {
    fprintf(stderr, "%s: the export breaks the CRD schema: %s\n%s\n", what, bad,
            text);
    fail();
  }
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  if (rein_interop_import_buffer(im, "linkerd", "exported.yaml", text, len) !=
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
    uint32_t att = sp.policy.max_attempts;
    uint32_t want_att = att > 1 ? 1000 : 1;
    int64_t dl = sp.deadline_ns ? sp.deadline_ns : 10 * SEC;
    char why[200] = "";
    if (want_att != b->policy.max_attempts)
      snprintf(why, sizeof why, "attempts %u vs %u", want_att,
               b->policy.max_attempts);
    else if (att > 1 && att != 1000 && !ix_warned(ex, path, "retry.attempts"))
      snprintf(why, sizeof why, "attempts %u lost, not warned", att);
    else if (dl != b->deadline_ns)
      snprintf(why, sizeof why, "deadline %lld vs %lld", (long long)dl,
               (long long)b->deadline_ns);
    else if (!sp.deadline_ns && !ix_warned(ex, path, "deadline"))
      snprintf(why, sizeof why, "no deadline became 10s, not warned");
    rein_condition dc = att > 1 ? when_differs(&sp, b) : 0;
    if (!*why && dc && !ix_warned(ex, path, "retry.when")) {
      char nb[32];
      snprintf(why, sizeof why, "`when` differs on %s, not warned",
               rein_condition_name(dc, nb, sizeof nb));
    }
    bool want_b = sp.has_budget && att > 1;
    if (!*why && att > 1 && !ix_warned(ex, path, "retry.budget")) {
      const rein_budget_config *x = &sp.budget, *y = &b->budget;
      if (!want_b)
        snprintf(why, sizeof why, "no budget, not warned");
      else if (fabs(x->ratio - y->ratio) > 1e-12 * (1 + x->ratio))
        snprintf(why, sizeof why, "budget ratio %g vs %g", x->ratio, y->ratio);
      else if (x->ttl_ns != y->ttl_ns)
        snprintf(why, sizeof why, "budget ttl %lld vs %lld",
                 (long long)x->ttl_ns, (long long)y->ttl_ns);
      else if (fabs(floor(x->min_retries_per_sec + 0.5) -
                    y->min_retries_per_sec) > 1e-9 ||
               (x->min_retries_per_sec != y->min_retries_per_sec &&
                !ix_warned(ex, path, "retry.budget.min_per_sec")))
        snprintf(why, sizeof why, "budget min_per_sec %g vs %g",
                 x->min_retries_per_sec, y->min_retries_per_sec);
    }
    const char *lost = NULL;
    if (!*why && att > 1) {
      if (sp.policy.backoff.kind != REIN_BACKOFF_NONE &&
          !ix_warned(ex, path, "retry.backoff"))
        lost = "retry.backoff";
      else if (sp.policy.attempt_timeout_ns && !ix_warned(ex, path, "timeout"))
        lost = "timeout";
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
  if (rein_interop_import_file(ix, "linkerd", path) != REIN_OK) {
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

/* What each fixture's header says it means, as Linkerd documents it. */
static void test_fixture_values(void **state) {
  (void)state;
  rein_interop *ix = import_file("books.yaml");
  assert_int_equal(rein_interop_call_count(ix), 3);
  const rein_policy_spec *sp =
      call_named(ix, "books-default-svc-cluster-local.GET-books--json");
  assert_int_equal(sp->policy.max_attempts, 1000);
  assert_int_equal(sp->deadline_ns, 300 * MS);
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_false(retried(sp, REIN_COND_HTTP(429)));
  assert_true(fabs(sp->budget.ratio - 0.2) < 1e-12);
  sp = call_named(ix, "books-default-svc-cluster-local.POST-books--json");
  assert_int_equal(sp->policy.max_attempts, 1);
  assert_int_equal(sp->deadline_ns, 10 * SEC);
  sp = call_named(ix, "books-default-svc-cluster-local.GET-books--------json");
  assert_int_equal(sp->policy.max_attempts, 1000);
  assert_int_equal(sp->deadline_ns, 10 * SEC);
  rein_interop_free(ix);

  ix = import_file("authors-list.json");
  sp = call_named(ix,
                  "authors-default-svc-cluster-local.GET-authors--------json");
  assert_int_equal(sp->policy.max_attempts, 1000);
  assert_int_equal(sp->deadline_ns, 2 * SEC);
  for (unsigned s = 100; s < 600; s++)
    assert_int_equal(retried(sp, REIN_COND_HTTP(s)), s >= 502 && s <= 504);
  assert_true(fabs(sp->budget.ratio - 0.05) < 1e-12);
  assert_true(fabs(sp->budget.min_retries_per_sec - 2) < 1e-12);
  assert_int_equal(sp->budget.ttl_ns, 60 * SEC);
  sp = call_named(ix, "authors-default-svc-cluster-local.*");
  assert_int_equal(sp->policy.max_attempts, 1);
  assert_int_equal(sp->deadline_ns, 90 * SEC);
  rein_interop_free(ix);
}

/* export(import(x)) reads back to the same policies, call by call, with
 * the same profile names, route names and conditions, and no warning. */
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
    assert_int_equal(rein_interop_export(ex, "linkerd", s, NULL, &text, &tl),
                     REIN_OK);
    if (rein_interop_count(ex, REIN_INTEROP_WARNING)) {
      rein_interop_write_diags(ex, stderr);
      fail();
    }
    assert_null(check_profiles(text, tl));
    assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
    assert_int_equal(
        rein_interop_import_buffer(im, "linkerd", "again.yaml", text, tl),
        REIN_OK);
    assert_int_equal(rein_interop_call_count(im), rein_interop_call_count(ix));
    for (size_t i = 0; i < rein_interop_call_count(ix); i++) {
      const rein_interop_call *a = rein_interop_call_at(ix, i);
      const rein_policy_spec *x = &a->spec, *y = call_named(im, a->to);
      bool same =
          x->policy.max_attempts == y->policy.max_attempts &&
          x->deadline_ns == y->deadline_ns && !when_differs(x, y) &&
          x->has_budget == y->has_budget &&
          (!x->has_budget ||
           (fabs(x->budget.ratio - y->budget.ratio) < 1e-12 &&
            x->budget.ttl_ns == y->budget.ttl_ns &&
            x->budget.min_retries_per_sec == y->budget.min_retries_per_sec));
      /* the route name and condition as the source spells them */
      const char *o1 = strchr(a->origin, ' ') + 1;
      const char *o2 = strchr(rein_interop_call_at(im, i)->origin, ' ') + 1;
      if (!same || strcmp(o1, o2) != 0) {
        fprintf(stderr, "%s: %s differs after the round trip (%s | %s):\n%s\n",
                e->d_name, a->to, o1, o2, text);
        fail();
      }
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
  assert_true(n >= 2);
}

/* Linkerd 2.16+ retry and timeout annotations on HTTPRoute and GRPCRoute
 * (Linkerd 2.16 reference, "Retries" and "Timeouts": retry.linkerd.io/http
 * xxx, xxx-yyy, gateway-error, 5xx; /grpc cancelled, deadline-exceeded,
 * internal, resource-exhausted, unavailable; /limit default 1; /timeout
 * per attempt; timeout.linkerd.io/request the whole call). */
#define ANN_HTTP                                                               \
  "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n"     \
  "  name: books\n  annotations:\n"
#define ANN_SPEC                                                               \
  "spec:\n  rules:\n  - matches: [{path: {type: PathPrefix, value: "           \
  "/books}}]\n"                                                                \
  "    backendRefs: [{name: books, port: 7002}]\n"
#define ANN_GRPC                                                               \
  "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata:\n"     \
  "  name: emoji\n  annotations:\n"
#define GRPC_SPEC                                                              \
  "spec:\n  rules:\n  - matches: [{method: {service: emojivoto.v1.Emoji, "     \
  "method: ListAll}}]\n    backendRefs: [{name: emoji-svc, port: 8080}]\n"

static void test_annotations(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix = import_text(
      ANN_HTTP
      "    retry.linkerd.io/http: gateway-error,429,500-501\n"
      "    retry.linkerd.io/limit: \"2\"\n"
      "    retry.linkerd.io/timeout: 300ms\n"
      "    timeout.linkerd.io/request: 5s\n"
      "    kubectl.kubernetes.io/last-applied-configuration: x\n" ANN_SPEC
      "---\n" ANN_GRPC
      "    retry.linkerd.io/grpc: unavailable,internal\n" GRPC_SPEC,
      &st);
  if (st != REIN_OK) rein_interop_write_diags(ix, stderr);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 2);
  const rein_policy_spec *sp = call_named(ix, "books.books*");
  assert_int_equal(sp->policy.max_attempts, 3);
  assert_int_equal(sp->policy.attempt_timeout_ns, 300 * MS);
  assert_int_equal(sp->deadline_ns, 5 * SEC);
  assert_int_equal(sp->policy.backoff.kind, REIN_BACKOFF_NONE);
  for (unsigned s = 400; s < 600; s++)
    assert_int_equal(retried(sp, REIN_COND_HTTP(s)),
                     s == 429 || s == 500 || s == 501 ||
                         (s >= 502 && s <= 504) ||
                         s == 408); /* retry.linkerd.io/timeout: timeout */
  sp = call_named(ix, "emoji-svc.emojivoto-v1-Emoji-ListAll");
  assert_int_equal(sp->policy.max_attempts, 2); /* the default limit, 1 */
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    assert_int_equal(retried(sp, REIN_COND_GRPC(c)), c == 13 || c == 14);
  assert_non_null(strstr(rein_interop_call_at(ix, 1)->origin,
                         "GRPC emojivoto.v1.Emoji/ListAll -> emoji-svc:8080"));
  rein_interop_free(ix);
  /* no annotation: no retries */
  ix = import_text(ANN_HTTP "    a: b\n" ANN_SPEC, &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(only(ix)->policy.max_attempts, 1);
  rein_interop_free(ix);
  /* warnings */
  ix = import_text(ANN_GRPC "    retry.linkerd.io/http: 5xx\n"
                            "    timeout.linkerd.io/idle: 1m\n" GRPC_SPEC,
                   &st);
  assert_int_equal(st, REIN_OK);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 6, 5,
                       "metadata.annotations[\"retry.linkerd.io/http\"]",
                       "not valid on a GRPCRoute"));
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 7, 5,
                       "metadata.annotations[\"timeout.linkerd.io/idle\"]",
                       "idle"));
  rein_interop_free(ix);
  ix = import_text(ANN_HTTP "    retry.linkerd.io/http: 5xx\n" ANN_SPEC
                            "    retry: {attempts: 3}\n",
                   &st);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 0, 0, "spec.rules[0].retry",
                       "annotations"));
  rein_interop_free(ix);
  /* errors, each at its place */
  static const bad_case bad[] = {
      {ANN_HTTP "    retry.linkerd.io/limmit: \"3\"\n" ANN_SPEC, 6, 5,
       "metadata.annotations[\"retry.linkerd.io/limmit\"]",
       "did you mean 'retry.linkerd.io/limit'"},
      {ANN_HTTP "    retry.linkerd.io/http: 5xx,6xx\n" ANN_SPEC, 6, 28,
       "metadata.annotations[\"retry.linkerd.io/http\"]", "'6xx'"},
      {ANN_HTTP "    retry.linkerd.io/limit: 3\n" ANN_SPEC, 6, 29,
       "metadata.annotations[\"retry.linkerd.io/limit\"]", "quote it"},
      {ANN_HTTP "    retry.linkerd.io/limit: \"-1\"\n" ANN_SPEC, 6, 29,
       "metadata.annotations[\"retry.linkerd.io/limit\"]", "whole number"},
      {ANN_GRPC "    retry.linkerd.io/grpc: unavailabel\n" GRPC_SPEC, 6, 28,
       "metadata.annotations[\"retry.linkerd.io/grpc\"]", "'unavailabel'"},
      {ANN_HTTP "    timeout.linkerd.io/request: 1d\n" ANN_SPEC, 6, 33,
       "metadata.annotations[\"timeout.linkerd.io/request\"]",
       "not a duration"},
      {"apiVersion: policy.linkerd.io/v1\nkind: HTTPRoute\nmetadata: "
       "{name: r}\n" ANN_SPEC,
       1, 1, "apiVersion", "policy.linkerd.io/v1beta3"},
  };
  int failures = 0;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ix = import_text(bad[i].text, &st);
    if (st != REIN_EPARSE ||
        !has_diag(ix, REIN_INTEROP_ERROR, bad[i].line, bad[i].col, bad[i].field,
                  bad[i].needle)) {
      fprintf(stderr, "annotation case %zu:\n", i);
      rein_interop_write_diags(ix, stderr);
      failures++;
    }
    assert_int_equal(rein_interop_call_count(ix), 0);
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_interop_linkerd EXAMPLES FIXTURES REIN\n");
    return 2;
  }
  examples_dir = argv[1];
  fixtures_dir = argv[2];
  rein_bin = argv[3];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_checks),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_cli_nothing_written),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_semantics),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixture_values),
      cmocka_unit_test(test_annotations),
      cmocka_unit_test(test_fixtures_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
