/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_grpc.c: gRPC service config import and export
 * (rein/interop.h) without a gRPC runtime (tests/interop/grpc_runtime.py
 * runs one).
 *
 *  - bad input: malformed JSON, YAML that is not JSON, wrong types, unknown
 *    fields (listed, with a did-you-mean) and values gRPC refuses, each at
 *    its file:line:col, with no calls kept; `rein import` writes nothing;
 *  - every field rein cannot represent is a warning naming it;
 *  - round trip import(export(c)) == c on every field gRPC expresses, for
 *    every call of the example contracts and for a generated corpus of
 *    random contracts (seed printed: REIN_TEST_SEED replays);
 *  - export(import(x)) semantically equal to x for the fixtures in
 *    tests/interop/fixtures/grpc (written from gRPC's documented
 *    examples).
 *
 * argv: EXAMPLES_DIR FIXTURES_DIR REIN_BINARY
 */
#include "rein_test.h"
#include "../interop/ix_test.h"

#include "rein/contract.h"
#include "rein/input.h"
#include "rein/interop.h"
#include "rein/model.h"

#include <dirent.h>
#include <jansson.h>
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
  *st = rein_interop_import_buffer(ix, "grpc", "in.json", text, strlen(text));
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

/* ------------------------------------------------------------ durations */

static void test_durations(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int64_t ns;
  } ok[] = {{"1s", 1000000000},  {"0.1s", 100000000},
            {"0.000000001s", 1}, {"2.5s", 2500000000},
            {"0s", 0},           {"100.000000000s", 100000000000}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t ns;
    assert_int_equal(rein_interop_grpc_duration(ok[i].s, &ns, NULL), REIN_OK);
    assert_int_equal(ns, ok[i].ns);
  }
  static const char *const bad[] = {"1",  "s",   "-1s",           ".5s", "1.s",
                                    "1S", "1ms", "0.1000000001s", "1 s", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t ns;
    const char *why = NULL;
    assert_int_equal(rein_interop_grpc_duration(bad[i], &ns, &why),
                     REIN_EPARSE);
    assert_non_null(why);
  }
  int64_t ns;
  assert_int_equal(
      rein_interop_grpc_duration("99999999999999999999s", &ns, NULL),
      REIN_ERANGE);
  /* format -> parse is the identity */
  rein_rng rng;
  rein_rng_seed(&rng, rein_test_seed());
  for (int i = 0; i < 10000; i++) {
    int64_t v = (int64_t)(rein_rng_next(&rng) % (UINT64_C(1) << 50));
    if (i % 3 == 0) v -= v % 1000000;
    char b[48];
    rein_interop_grpc_format_duration(v, b, sizeof b);
    assert_int_equal(rein_interop_grpc_duration(b, &ns, NULL), REIN_OK);
    assert_int_equal(ns, v);
  }
}

/* ------------------------------------------------------------ bad input */

typedef struct bad_case {
  const char *text;
  unsigned line, col;
  const char *field;  /* NULL = any */
  const char *needle; /* in the message */
} bad_case;

#define RP                                                                     \
  "\"initialBackoff\": \"0.1s\", \"maxBackoff\": \"1s\", "                     \
  "\"backoffMultiplier\": 2, \"retryableStatusCodes\": [\"UNAVAILABLE\"]"

static const bad_case bad_cases[] = {
    /* malformed JSON */
    {"{\"methodConfig\": [\n  {\"name\": [{}]\n  \"timeout\": \"1s\"}]}", 3, 3,
     NULL, "malformed JSON"},
    {"{\"methodConfig\": [{\"name\": [{}]}]", 1, 34, NULL, "end of the text"},
    {"", 1, 1, NULL, "empty file"},
    {"{\"methodConfig\": []}\n{\"methodConfig\": []}", 2, 1, NULL,
     "text after"},
    {"[1, 2]", 1, 1, NULL, "expected a service config object"},
    /* YAML that is not JSON */
    {"methodConfig:\n  - name: [{}]\n", 1, 1, NULL, "not JSON"},
    {"{\"methodConfig\": [{\"name\": [{}], \"timeout\": 1s}]}", 1, 45,
     "methodConfig[0].timeout", "not JSON"},
    {"{\"methodConfig\": [{\"name\": [{}],\n  \"waitForReady\": yes}]}", 2, 19,
     "methodConfig[0].waitForReady", "true or false"},
    {"{methodConfig: []}", 1, 2, NULL, "double quotes"},
    {"{\"methodConfig\": [{\"name\": &n [{}]},\n {\"name\": *n}]}", 1, 28, NULL,
     "anchor or alias"},
    {"{\"methodConfig\": [{\"name\": [{\"service\": \"a&b*\"}]},\n"
     " {\"name\": *n}]} # & in a comment",
     2, 11, NULL, "'*' outside a string"},
    /* unknown fields: listed, with a did-you-mean */
    {"{\"methodConfigs\": []}", 1, 2, "methodConfigs",
     "did you mean 'methodConfig'"},
    {"{\"method_config\": []}", 1, 2, "method_config",
     "did you mean 'methodConfig'"},
    {"{\"methodConfig\": [{\"name\": [{}],\n  \"retryPolicy\": "
     "{\"maxAttempts\": 3, " RP ", \"maxBackof\": \"1s\"}}]}",
     2, 148, "methodConfig[0].retryPolicy.maxBackof",
     "known: maxAttempts, initialBackoff, maxBackoff"},
    {"{\"methodConfig\": [{\"name\": [{\"service\": \"a.B\", \"metod\": "
     "\"M\"}]}]}",
     1, 48, "methodConfig[0].name[0].metod", "did you mean 'method'"},
    /* wrong types */
    {"{\"methodConfig\": {\"name\": []}}", 1, 18, "methodConfig",
     "expected an array of method configs, got an object"},
    {"{\"methodConfig\": [{\"name\": [{}], \"timeout\": 5}]}", 1, 45,
     "methodConfig[0].timeout", "expected a duration string"},
    {"{\"methodConfig\": [{\"name\": [{\"service\": 7}]}]}", 1, 41,
     "methodConfig[0].name[0].service", "expected a string"},
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "[3], " RP "}}]}",
     1, 65, "methodConfig[0].retryPolicy.maxAttempts", "expected a number"},
    /* values gRPC refuses */
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "1, " RP "}}]}",
     1, 65, "methodConfig[0].retryPolicy.maxAttempts", "at least 2"},
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "3, \"initialBackoff\": \"0.1\", \"maxBackoff\": \"1s\", "
     "\"backoffMultiplier\": 2, \"retryableStatusCodes\": "
     "[\"UNAVAILABLE\"]}}]}",
     1, 86, "methodConfig[0].retryPolicy.initialBackoff", "'s' suffix"},
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "3, \"initialBackoff\": \"0.1s\", \"maxBackoff\": \"1s\", "
     "\"backoffMultiplier\": 0, \"retryableStatusCodes\": "
     "[\"UNAVAILABLE\"]}}]}",
     1, 135, "methodConfig[0].retryPolicy.backoffMultiplier", "greater than 0"},
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "3, \"initialBackoff\": \"0.1s\", \"maxBackoff\": \"1s\", "
     "\"backoffMultiplier\": 2, \"retryableStatusCodes\": "
     "[\"unavailable\"]}}]}",
     1, 163, "methodConfig[0].retryPolicy.retryableStatusCodes[0]",
     "did you mean 'UNAVAILABLE'"},
    {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": {\"maxAttempts\": "
     "3, \"initialBackoff\": \"0.1s\", \"backoffMultiplier\": 2, "
     "\"retryableStatusCodes\": [\"UNAVAILABLE\"]}}]}",
     1, 49, "methodConfig[0].retryPolicy.maxBackoff", "missing"},
    {"{\"methodConfig\": [{\"name\": [{\"method\": \"M\"}]}]}", 1, 29,
     "methodConfig[0].name[0]", "method without a service"},
    {"{\"methodConfig\": [{\"name\": [{}]},\n {\"name\": [{}]}]}", 2, 12,
     "methodConfig[1].name[0]", "first at line 1"},
    {"{\"methodConfig\": [{\"name\": [{}], \"timeout\": \"1s\"}],\n "
     "\"retryThrottling\": {\"maxTokens\": 10.5, \"tokenRatio\": 0.1}}",
     2, 35, "retryThrottling.maxTokens", "whole number"},
    {"{\"methodConfig\": [{\"name\": [{}], \"timeout\": \"1s\"}],\n "
     "\"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 0.0001}}",
     2, 53, "retryThrottling.tokenRatio", "at least 0.001"},
    {"{\"methodConfig\": [{\"name\": [{\"service\": \"a b\"}]}]}", 1, 41,
     "methodConfig[0].name[0].service", "not a protobuf"},
    {"{\"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 1}}", 1, 1,
     "methodConfig", "nothing to import"},
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
      assert_string_equal(rein_interop_diag_at(ix, k)->loc.file, "in.json");
    assert_int_equal(rein_interop_call_count(ix), 0);
    char *out = NULL;
    size_t n;
    assert_int_equal(rein_interop_write_contract(ix, &out, &n), REIN_EINVAL);
    assert_null(out);
    rein_interop_free(ix);
  }
  assert_int_equal(failures, 0);
}

/* Several unknown fields: every one is listed. */
static void test_unknown_listed(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix =
      import_text("{\"methodConfig\": [{\"name\": [{}], \"retries\": 1,\n"
                  "  \"timeot\": \"1s\"}], \"retryThrotling\": {}, \"x\": 1}",
                  &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 1, 34, "methodConfig[0].retries",
                       "unknown field 'retries'"));
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 2, 3, "methodConfig[0].timeot",
                       "did you mean 'timeout'"));
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 2, 21, "retryThrotling",
                       "did you mean 'retryThrottling'"));
  assert_true(has_diag(ix, REIN_INTEROP_ERROR, 2, 43, "x",
                       "known: loadBalancingPolicy"));
  assert_int_equal(rein_interop_count(ix, REIN_INTEROP_ERROR), 4);
  rein_interop_free(ix);
}

/* `rein import` writes nothing when any file has an error. */
static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-interop-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.json", dir);
  snprintf(bad, sizeof bad, "%s/bad.json", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs("{\"methodConfig\": [{\"name\": [{}], \"timeout\": \"1s\"}]}\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs("{\"methodConfig\": [{\"name\": [{}],\n \"timeout\": \"1\"}]}\n", f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import grpc '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[300];
  snprintf(want, sizeof want, "%s:2:13: error: methodConfig[0].timeout:", bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0); /* not even the directory */
  rc = rein_test_run(rein_bin, &o, "import grpc '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  assert_int_equal(stat(path, &sb), 0);
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
      "{\"methodConfig\": [{\"name\": [{\"service\": \"a.B\"}],\n"
      "  \"waitForReady\": true, \"maxRequestMessageBytes\": 1024,\n"
      "  \"retryPolicy\": {\"maxAttempts\": 9, \"initialBackoff\": \"2s\",\n"
      "    \"maxBackoff\": \"1s\", \"backoffMultiplier\": 0.5,\n"
      "    \"retryableStatusCodes\": [\"OK\", \"UNAVAILABLE\"]}}],\n"
      " \"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 0.1234},\n"
      " \"loadBalancingConfig\": [], \"healthCheckConfig\": {}}",
      &st);
  if (st != REIN_OK) dump(ix);
  assert_int_equal(st, REIN_OK);
  static const char *const fields[] = {
      "methodConfig[0].waitForReady",
      "methodConfig[0].maxRequestMessageBytes",
      "methodConfig[0].retryPolicy.maxAttempts",
      "methodConfig[0].retryPolicy.maxBackoff",
      "methodConfig[0].retryPolicy.backoffMultiplier",
      "methodConfig[0].retryPolicy.retryableStatusCodes[0]",
      "retryThrottling.tokenRatio",
      "loadBalancingConfig",
      "healthCheckConfig"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (!has_diag(ix, REIN_INTEROP_WARNING, 0, 0, fields[i], NULL)) {
      fprintf(stderr, "no warning for %s\n", fields[i]);
      dump(ix);
      fail();
    }
  }
  assert_int_equal(rein_interop_count(ix, REIN_INTEROP_WARNING),
                   sizeof fields / sizeof fields[0]);
  assert_int_equal(rein_interop_call_count(ix), 1);
  const rein_interop_call *c = rein_interop_call_at(ix, 0);
  assert_string_equal(c->to, "a-B.*");
  assert_non_null(strstr(c->origin, "in.json:1:29 a.B (every method)"));
  assert_int_equal(c->spec.policy.max_attempts, 5);
  assert_int_equal(c->spec.policy.backoff.base_ns, 1000000000);
  assert_int_equal(c->spec.policy.backoff.cap_ns, 1000000000);
  assert_true(c->spec.policy.backoff.multiplier == 1);
  assert_true(c->spec.has_budget);
  assert_true(c->spec.budget.token_ratio == 0.123);
  rein_interop_free(ix);
}

/* ------------------------------------------------------------ round trip */

/* What gRPC expresses of a spec, and what an import of its export gives
 * back; compared field by field. */
typedef struct proj {
  uint32_t attempts;
  int64_t deadline, attempt_timeout;
  uint32_t codes; /* bit c: gRPC code c retried */
  int64_t ceil[6];
  int jitter;
  bool bucket;
  double max_tokens, token_ratio;
  uint32_t hedge_attempts; /* 0: not hedged */
  int64_t hedge_delay;
} proj;

static uint32_t grpc_codes(const rein_policy_spec *sp) {
  uint32_t m = 0;
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++) {
    rein_condition cond = REIN_COND_GRPC(c);
    rein_outcome_kind k = rein_condition_kind(cond);
    bool r = rein_retryable_set_is_empty(&sp->policy.retryable)
                 ? (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0
                 : rein_retryable_set_has(&sp->policy.retryable, cond, k);
    if (r) m |= 1u << c;
  }
  return m;
}

/* What a contract's spec should come back as. */
static proj expect(const rein_policy_spec *sp) {
  proj p;
  memset(&p, 0, sizeof p);
  uint32_t codes = grpc_codes(sp);
  if (sp->has_hedge && sp->hedge.max_attempts > 1) {
    /* a hedgingPolicy: the hedge's attempts and fixed delay, the
     * non-fatal statuses, the call's deadline, the bucket */
    p.attempts = 1;
    p.hedge_attempts = sp->hedge.max_attempts > 5 ? 5 : sp->hedge.max_attempts;
    p.hedge_delay = sp->hedge.delay_ns;
    p.codes = codes;
    p.deadline = sp->deadline_ns;
    p.ceil[0] = -1;
    if (sp->has_budget && sp->budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
      p.bucket = true;
      p.max_tokens = sp->budget.max_tokens;
      p.token_ratio = sp->budget.token_ratio;
    }
    return p;
  }
  bool retries = sp->policy.max_attempts > 1 && codes;
  p.attempts =
      retries ? (sp->policy.max_attempts > 5 ? 5 : sp->policy.max_attempts) : 1;
  p.deadline = sp->deadline_ns;
  if (!p.deadline && sp->policy.max_attempts <= 1)
    p.deadline = sp->policy.attempt_timeout_ns;
  if (!retries) return p;
  p.attempt_timeout = sp->policy.attempt_timeout_ns;
  p.codes = codes;
  p.jitter = REIN_JITTER_FULL;
  rein_backoff_config b = sp->policy.backoff;
  b.jitter = REIN_JITTER_FULL; /* the export's: DECORRELATED's ceiling
                                  differs */
  if (b.kind == REIN_BACKOFF_EXPONENTIAL || b.kind == REIN_BACKOFF_CONSTANT) {
    for (uint32_t n = 1; n < 6; n++)
      p.ceil[n] = rein_backoff_ceiling(&b, n) ? rein_backoff_ceiling(&b, n) : 1;
  } else {
    p.ceil[0] = -1; /* not expressible: not compared */
  }
  if (sp->has_budget && sp->budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
    p.bucket = true;
    p.max_tokens = sp->budget.max_tokens;
    p.token_ratio = sp->budget.token_ratio;
  }
  return p;
}

static proj got(const rein_policy_spec *sp, bool compare_ceil) {
  proj p;
  memset(&p, 0, sizeof p);
  p.attempts = sp->policy.max_attempts;
  p.deadline = sp->deadline_ns;
  if (sp->has_hedge) {
    p.hedge_attempts = sp->hedge.max_attempts;
    p.hedge_delay = sp->hedge.delay_ns;
    p.codes = grpc_codes(sp);
    p.ceil[0] = -1;
    if (sp->has_budget && sp->budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
      p.bucket = true;
      p.max_tokens = sp->budget.max_tokens;
      p.token_ratio = sp->budget.token_ratio;
    }
    return p;
  }
  if (p.attempts <= 1) return p;
  p.attempt_timeout = sp->policy.attempt_timeout_ns;
  p.codes = grpc_codes(sp);
  p.jitter = (int)sp->policy.backoff.jitter;
  if (compare_ceil)
    for (uint32_t n = 1; n < 6; n++)
      p.ceil[n] = rein_backoff_ceiling(&sp->policy.backoff, n);
  else
    p.ceil[0] = -1;
  if (sp->has_budget && sp->budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
    p.bucket = true;
    p.max_tokens = sp->budget.max_tokens;
    p.token_ratio = sp->budget.token_ratio;
  }
  return p;
}

static bool same(const proj *a, const proj *b, char *why, size_t n) {
  if (a->attempts != b->attempts) {
    snprintf(why, n, "attempts %u vs %u", a->attempts, b->attempts);
    return false;
  }
  if (a->hedge_attempts != b->hedge_attempts ||
      a->hedge_delay != b->hedge_delay) {
    snprintf(why, n, "hedge %u after %lld vs %u after %lld", a->hedge_attempts,
             (long long)a->hedge_delay, b->hedge_attempts,
             (long long)b->hedge_delay);
    return false;
  }
  if (a->deadline != b->deadline) {
    snprintf(why, n, "deadline %lld vs %lld", (long long)a->deadline,
             (long long)b->deadline);
    return false;
  }
  if (a->attempt_timeout != b->attempt_timeout) {
    snprintf(why, n, "timeout %lld vs %lld", (long long)a->attempt_timeout,
             (long long)b->attempt_timeout);
    return false;
  }
  if (a->codes != b->codes) {
    snprintf(why, n, "codes %#x vs %#x", a->codes, b->codes);
    return false;
  }
  if (a->jitter != b->jitter) {
    snprintf(why, n, "jitter %d vs %d", a->jitter, b->jitter);
    return false;
  }
  if (a->ceil[0] != -1 && b->ceil[0] != -1)
    for (int k = 1; k < 6; k++)
      if (a->ceil[k] != b->ceil[k]) {
        snprintf(why, n, "backoff ceiling %d: %lld vs %lld", k,
                 (long long)a->ceil[k], (long long)b->ceil[k]);
        return false;
      }
  if (a->bucket != b->bucket || a->max_tokens != b->max_tokens ||
      a->token_ratio != b->token_ratio) {
    snprintf(why, n, "bucket %d %.17g %.17g vs %d %.17g %.17g", a->bucket,
             a->max_tokens, a->token_ratio, b->bucket, b->max_tokens,
             b->token_ratio);
    return false;
  }
  return true;
}

/* Export `caller`'s calls of `s`, import the text, and compare every call.
 * Returns the number of calls compared. */
static size_t hedged_compared; /* of the round trips: hedged calls */

static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *json = NULL;
  size_t len;
  rein_status st = rein_interop_export(ex, "grpc", s, caller, &json, &len);
  if (st != REIN_OK) {
    fprintf(stderr, "%s: export of %s failed\n", what, caller);
    dump(ex);
    fail();
  }
  rein_interop *im;
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  st = rein_interop_import_buffer(im, "grpc", "exported.json", json, len);
  if (st != REIN_OK) {
    fprintf(stderr, "%s: import of the export failed:\n%s\n", what, json);
    dump(im);
    fail();
  }
  size_t compared = 0, n = rein_contract_call_count(s);
  for (size_t i = 0; i < n; i++) {
    const char *c, *to;
    rein_contract_call_at(s, i, &c, &to);
    if (strcmp(c, caller) != 0) continue;
    rein_policy_spec sp;
    assert_int_equal(rein_spec_from_contract(s, caller, to, &sp, NULL),
                     REIN_OK);
    proj want = expect(&sp);
    const rein_interop_call *back = NULL;
    for (size_t k = 0; k < rein_interop_call_count(im); k++)
      if (strcmp(rein_interop_call_at(im, k)->to, to) == 0)
        back = rein_interop_call_at(im, k);
    if (!back) {
      fprintf(stderr, "%s: %s -> %s did not come back:\n%s\n", what, caller, to,
              json);
      fail();
    }
    proj have = got(&back->spec, want.ceil[0] != -1);
    /* the first bucket written is the channel's: calls after it come back
     * with that one (export warned) */
    if (want.bucket && have.bucket &&
        (want.max_tokens != have.max_tokens ||
         want.token_ratio != have.token_ratio) &&
        rein_interop_count(ex, REIN_INTEROP_WARNING))
      have.max_tokens = want.max_tokens, have.token_ratio = want.token_ratio;
    char why[256];
    if (!same(&want, &have, why, sizeof why)) {
      fprintf(stderr, "%s: %s -> %s: %s\n%s\n", what, caller, to, why, json);
      dump(ex);
      fail();
    }
    /* an inexpressible jitter was warned about */
    if (want.attempts > 1 && sp.policy.backoff.jitter != REIN_JITTER_FULL)
      assert_true(has_diag(ex, REIN_INTEROP_WARNING, 0, 0, NULL, "jitter"));
    /* a hedge at a quantile was warned about */
    if (want.hedge_attempts && sp.hedge.quantile > 0)
      assert_true(has_diag(ex, REIN_INTEROP_WARNING, 0, 0, NULL, "quantile"));
    hedged_compared += want.hedge_attempts != 0;
    compared++;
  }
  rein_free(NULL, json);
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
  static const char *const codes[] = {"CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ABORTED",
                                      "RESOURCE_EXHAUSTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED",
                                      "503",
                                      "5xx",
                                      "overloaded",
                                      "timeout",
                                      "connect-failure",
                                      "failure",
                                      "429"};
  static const char *const kinds[] = {"none", "constant", "linear",
                                      "exponential"};
  static const char *const jit[] = {"none", "full", "equal", "decorrelated"};
  size_t o = (size_t)snprintf(buf, cap,
                              "service: caller\nversion: \"1\"\n"
                              "calls:\n");
  unsigned ncalls = 1 + (unsigned)(rein_rng_next(r) % 4);
  int bucket = (int)(rein_rng_next(r) % 3); /* 0 none, 1 token, 2 ratio */
  unsigned mt = 1 + (unsigned)(rein_rng_next(r) % 1000);
  unsigned milli = 1 + (unsigned)(rein_rng_next(r) % (mt * 1000));
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
    double m = 1 + (double)(rein_rng_next(r) % 1000000) / 1e5;
    if (rein_rng_next(r) % 3 == 0) m = floor(m);
    snprintf(t, sizeof t, "%.17g", m);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "multiplier"), t, NULL);
    const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
    rein_model_list_clear(&sp, when);
    unsigned nw = (unsigned)(rein_rng_next(r) % 5);
    for (unsigned k = 0; k < nw; k++)
      rein_model_list_add(
          &sp, when, codes[rein_rng_next(r) % (sizeof codes / sizeof codes[0])],
          NULL);
    const rein_model_field *sig = mf(REIN_MODEL_RETRY, "signals");
    rein_model_list_clear(&sp, sig);
    static const char *const sigs[] = {"retry-after", "pushback", "ratelimit",
                                       "dont-retry"};
    for (int k = 0; k < 4; k++)
      if (rein_rng_next(r) % 2) rein_model_list_add(&sp, sig, sigs[k], NULL);
    if (bucket == 1) {
      sp.has_budget = true;
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "kind"), "token_bucket", NULL);
      snprintf(t, sizeof t, "%u", mt);
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "max_tokens"), t, NULL);
      snprintf(t, sizeof t, "%.3f", milli / 1000.0);
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "token_ratio"), t, NULL);
    } else if (bucket == 2) {
      sp.has_budget = true;
    }
    if (rein_rng_next(r) % 4 == 0) ix_random_hedge(r, &sp);
    char meth[16];
    snprintf(meth, sizeof meth, "Method%u", (unsigned)(rein_rng_next(r) % 5));
    o += (size_t)snprintf(buf + o, cap - o, "  - to: \"pkg%u-Svc%u.%s\"\n",
                          (unsigned)(rein_rng_next(r) % 3), i,
                          i == 1 && rein_rng_next(r) % 2 ? "*" : meth);
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
      /* two calls drew the same callee: E006, a draw, not a failure */
      bool dup = false;
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
  assert_true(hedged_compared > 0);
  fprintf(stderr,
          "corpus round trip: %zu contracts, %zu calls, %zu hedged (seed "
          "%llu)\n",
          contracts, calls, hedged_compared, (unsigned long long)seed);
  assert_true(contracts >= 500);
}

/* ------------------------------------------------------------- fixtures */

/* A service config as name -> what it runs, for semantic comparison. */
static json_t *normalize(json_t *sc, const char *what) {
  json_t *out = json_object();
  json_t *mcs = json_object_get(sc, "methodConfig");
  size_t i;
  json_t *mc;
  json_array_foreach(mcs, i, mc) {
    json_t *norm = json_object();
    const char *t = json_string_value(json_object_get(mc, "timeout"));
    int64_t ns = 0;
    if (t) assert_int_equal(rein_interop_grpc_duration(t, &ns, NULL), REIN_OK);
    json_object_set_new(norm, "timeout", json_integer(ns));
    json_t *rp = json_object_get(mc, "retryPolicy");
    if (rp) {
      json_int_t att = json_integer_value(json_object_get(rp, "maxAttempts"));
      json_object_set_new(norm, "maxAttempts", json_integer(att > 5 ? 5 : att));
      int64_t ib = 0, mb = 0;
      rein_interop_grpc_duration(
          json_string_value(json_object_get(rp, "initialBackoff")), &ib, NULL);
      rein_interop_grpc_duration(
          json_string_value(json_object_get(rp, "maxBackoff")), &mb, NULL);
      json_object_set_new(norm, "initialBackoff", json_integer(ib));
      json_object_set_new(norm, "maxBackoff", json_integer(mb));
      json_object_set_new(norm, "backoffMultiplier",
                          json_real(json_number_value(
                              json_object_get(rp, "backoffMultiplier"))));
      unsigned codes = 0;
      size_t k;
      json_t *c;
      json_array_foreach(json_object_get(rp, "retryableStatusCodes"), k, c) {
        for (unsigned g = 1; g < 17; g++)
          if (strcmp(json_string_value(c), rein_grpc_code_name(g)) == 0)
            codes |= 1u << g;
      }
      json_object_set_new(norm, "codes", json_integer(codes));
    }
    json_t *hp = json_object_get(mc, "hedgingPolicy");
    if (hp) {
      json_int_t att = json_integer_value(json_object_get(hp, "maxAttempts"));
      json_object_set_new(norm, "hedgeAttempts",
                          json_integer(att > 5 ? 5 : att));
      int64_t hd = 0;
      const char *ds = json_string_value(json_object_get(hp, "hedgingDelay"));
      if (ds) rein_interop_grpc_duration(ds, &hd, NULL);
      json_object_set_new(norm, "hedgingDelay", json_integer(hd));
      unsigned codes = 0;
      size_t k;
      json_t *c;
      json_array_foreach(json_object_get(hp, "nonFatalStatusCodes"), k, c) {
        for (unsigned g = 1; g < 17; g++)
          if (strcmp(json_string_value(c), rein_grpc_code_name(g)) == 0)
            codes |= 1u << g;
      }
      json_object_set_new(norm, "nonFatal", json_integer(codes));
    }
    size_t k;
    json_t *nm;
    json_array_foreach(json_object_get(mc, "name"), k, nm) {
      const char *svc = json_string_value(json_object_get(nm, "service"));
      const char *m = json_string_value(json_object_get(nm, "method"));
      char key[256];
      snprintf(key, sizeof key, "%s/%s", svc && *svc ? svc : "*",
               m && *m ? m : "*");
      json_object_set(out, key, norm);
    }
    json_decref(norm);
  }
  json_t *rt = json_object_get(sc, "retryThrottling");
  if (rt) {
    json_t *n = json_object();
    json_object_set_new(
        n, "maxTokens",
        json_real(json_number_value(json_object_get(rt, "maxTokens"))));
    json_object_set_new(
        n, "tokenRatioMilli",
        json_integer((json_int_t)floor(
            json_number_value(json_object_get(rt, "tokenRatio")) * 1000 +
            1e-6)));
    json_object_set_new(out, "(retryThrottling)", n);
  }
  (void)what;
  return out;
}

static void test_fixtures(void **state) {
  (void)state;
  DIR *d = opendir(fixtures_dir);
  assert_non_null(d);
  size_t n = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t l = strlen(e->d_name);
    if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir, e->d_name);
    rein_interop *im;
    assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
    rein_status st = rein_interop_import_file(im, "grpc", path);
    if (st != REIN_OK) dump(im);
    assert_int_equal(st, REIN_OK);
    char *yaml;
    size_t yl;
    assert_int_equal(rein_interop_write_contract(im, &yaml, &yl), REIN_OK);
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    if (rein_contract_add_buffer(s, "imported.yaml", yaml, yl) != REIN_OK) {
      fprintf(stderr, "%s\n", yaml);
      rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
      fail();
    }
    /* every call kept its origin */
    for (size_t i = 0; i < rein_contract_call_count(s); i++) {
      rein_contract_loc loc;
      const char *origin;
      assert_int_equal(rein_contract_call_where(s, i, &loc, &origin), REIN_OK);
      assert_non_null(origin);
      assert_non_null(strstr(origin, path));
    }
    rein_interop *ex;
    assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
    char *json;
    size_t jl;
    assert_int_equal(rein_interop_export(ex, "grpc", s, NULL, &json, &jl),
                     REIN_OK);
    json_error_t je;
    /* the fixture's '#' header is for people; jansson reads JSON */
    char *raw = NULL;
    size_t rl = 0;
    assert_int_equal(rein_file_read(path, 1 << 20, NULL, NULL, &raw, &rl),
                     REIN_OK);
    char *body = raw;
    while (*body == '#') {
      char *nl = strchr(body, '\n');
      body = nl ? nl + 1 : body + strlen(body);
    }
    json_t *a = json_loads(body, 0, &je);
    rein_free(NULL, raw);
    json_t *b = json_loadb(json, jl, 0, &je);
    assert_non_null(a);
    assert_non_null(b);
    /* names with the same settings share a method config again */
    assert_int_equal(json_array_size(json_object_get(a, "methodConfig")),
                     json_array_size(json_object_get(b, "methodConfig")));
    json_t *na = normalize(a, path), *nb = normalize(b, "export");
    if (!json_equal(na, nb)) {
      char *sa = json_dumps(na, JSON_SORT_KEYS),
           *sb = json_dumps(nb, JSON_SORT_KEYS);
      fprintf(stderr,
              "%s: not semantically equal\n  source: %s\n  export: %s\n", path,
              sa, sb);
      free(sa);
      free(sb);
      fail();
    }
    json_decref(na);
    json_decref(nb);
    json_decref(a);
    json_decref(b);
    rein_free(NULL, json);
    rein_free(NULL, yaml);
    rein_interop_free(ex);
    rein_interop_free(im);
    rein_contract_set_free(s);
    n++;
  }
  closedir(d);
  fprintf(stderr, "fixtures: %zu\n", n);
  assert_true(n >= 3);
}

/* -------------------------------------------------------------- hedging */

/* hedgingPolicy -> the hedge block; its refusals as gRPC's (grpc-js 1.14)
 * at the field. */
static void test_hedging(void **state) {
  (void)state;
  rein_status st;
  rein_interop *ix = import_text(
      "{\"methodConfig\": [{\"name\": [{\"service\": \"a.B\"}],\n"
      "  \"timeout\": \"3s\",\n"
      "  \"hedgingPolicy\": {\"maxAttempts\": 3, \"hedgingDelay\": \"0.5s\",\n"
      "    \"nonFatalStatusCodes\": [\"UNAVAILABLE\", \"ABORTED\"]}},\n"
      " {\"name\": [{\"service\": \"c.D\"}],\n"
      "  \"hedgingPolicy\": {\"maxAttempts\": 9}}],\n"
      " \"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 0.5}}",
      &st);
  if (st != REIN_OK) dump(ix);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 2);
  const rein_interop_call *c = rein_interop_call_at(ix, 0);
  assert_true(c->spec.has_hedge);
  assert_int_equal(c->spec.hedge.max_attempts, 3);
  assert_int_equal(c->spec.hedge.delay_ns, 500000000);
  assert_true(c->spec.hedge.quantile == 0);
  assert_int_equal(c->spec.policy.max_attempts, 1);
  assert_int_equal(c->spec.deadline_ns, 3000000000);
  /* the non-fatal statuses are what the hedge goes on after: `when` */
  rein_condition u = REIN_COND_GRPC(14), ab = REIN_COND_GRPC(10),
                 in = REIN_COND_GRPC(13);
  assert_true(rein_retryable_set_has(&c->spec.policy.retryable, u,
                                     rein_condition_kind(u)));
  assert_true(rein_retryable_set_has(&c->spec.policy.retryable, ab,
                                     rein_condition_kind(ab)));
  assert_false(rein_retryable_set_has(&c->spec.policy.retryable, in,
                                      rein_condition_kind(in)));
  /* retryThrottling applies to hedges (A6) */
  assert_true(c->spec.has_budget);
  assert_int_equal(c->spec.budget.kind, REIN_BUDGET_TOKEN_BUCKET);
  /* defaults: hedgingDelay 0s, no non-fatal status (every status ends the
   * call); 9 attempts are gRPC's 5 */
  c = rein_interop_call_at(ix, 1);
  assert_true(c->spec.has_hedge);
  assert_int_equal(c->spec.hedge.max_attempts, 5);
  assert_int_equal(c->spec.hedge.delay_ns, 0);
  assert_true(rein_retryable_set_is_empty(&c->spec.policy.retryable));
  assert_int_equal(c->spec.policy.retry_on, 0);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 6, 0,
                       "methodConfig[1].hedgingPolicy.maxAttempts",
                       "imported as hedge attempts: 5"));
  /* the contract written and read back hedges the same way */
  char *yaml;
  size_t yl;
  assert_int_equal(rein_interop_write_contract(ix, &yaml, &yl), REIN_OK);
  assert_non_null(strstr(yaml, "hedge: {attempts: 3, delay: 500ms"));
  assert_non_null(strstr(yaml, "when: []"));
  rein_free(NULL, yaml);
  rein_interop_free(ix);

  static const struct {
    const char *text, *field, *needle;
  } bad[] = {
      {"{\"methodConfig\": [{\"name\": [{}], \"retryPolicy\": "
       "{\"maxAttempts\": "
       "2, \"initialBackoff\": \"1s\", \"maxBackoff\": \"1s\", "
       "\"backoffMultiplier\": 2, \"retryableStatusCodes\": "
       "[\"UNAVAILABLE\"]}, "
       "\"hedgingPolicy\": {\"maxAttempts\": 2}}]}",
       "methodConfig[0].hedgingPolicy", "not both"},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": {}}]}",
       "methodConfig[0].hedgingPolicy.maxAttempts", "missing"},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": "
       "{\"maxAttempts\": 1}}]}",
       "methodConfig[0].hedgingPolicy.maxAttempts", "at least 2"},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": "
       "{\"maxAttempts\": 2.5}}]}",
       "methodConfig[0].hedgingPolicy.maxAttempts", "whole number"},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": "
       "{\"maxAttempts\": 2, \"hedgingDelay\": \"soon\"}}]}",
       "methodConfig[0].hedgingPolicy.hedgingDelay", NULL},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": "
       "{\"maxAttempts\": 2, \"nonFatalStatusCodes\": [\"unavailable\"]}}]}",
       "methodConfig[0].hedgingPolicy.nonFatalStatusCodes[0]", "did you mean"},
      {"{\"methodConfig\": [{\"name\": [{}], \"hedgingPolicy\": "
       "{\"maxAttempts\": 2, \"hedgeDelay\": \"1s\"}}]}",
       "methodConfig[0].hedgingPolicy.hedgeDelay", NULL},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ix = import_text(bad[i].text, &st);
    if (st != REIN_EPARSE ||
        !has_diag(ix, REIN_INTEROP_ERROR, 0, 0, bad[i].field, bad[i].needle)) {
      fprintf(stderr, "hedging case %zu: %s\n", i, bad[i].text);
      dump(ix);
      fail();
    }
    assert_int_equal(rein_interop_call_count(ix), 0);
    rein_interop_free(ix);
  }
}

/* Every other exporter writes a hedged call unhedged, and says so. */
static void test_hedge_elsewhere(void **state) {
  (void)state;
  static const char a[] = "service: a\nversion: \"1\"\ncalls:\n"
                          "  - to: b.get\n    retry:\n      attempts: 2\n"
                          "      hedge: {attempts: 3, delay: 20ms}\n";
  static const char b[] = "service: b\nversion: \"1\"\noperations:\n"
                          "  get: {idempotency: natural}\n";
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "a.yaml", a, strlen(a)),
                   REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "b.yaml", b, strlen(b)),
                   REIN_OK);
  size_t n = 0;
  for (const char *const *f = rein_interop_export_formats(); *f; f++) {
    if (strcmp(*f, "nginx") == 0) continue; /* the server side */
    rein_interop *ex;
    assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
    char *out = NULL;
    size_t len;
    assert_int_equal(rein_interop_export(ex, *f, s, "a", &out, &len), REIN_OK);
    bool warned = has_diag(ex, REIN_INTEROP_WARNING, 0, 0, "calls[0]",
                           "has no hedged requests");
    if (strcmp(*f, "grpc") == 0) {
      assert_false(warned);
      assert_non_null(strstr(out, "\"hedgingPolicy\""));
    } else if (!warned) {
      fprintf(stderr, "%s: no warning for the hedge\n", *f);
      dump(ex);
      fail();
    }
    rein_free(NULL, out);
    rein_interop_free(ex);
    n++;
  }
  assert_true(n >= 6);
  rein_contract_set_free(s);
}

/* ------------------------------------------------------ fault loops */

static const char fault_text[] =
    "{\"methodConfig\": [{\"name\": [{\"service\": \"a.B\", \"method\": "
    "\"M\"}, {\"service\": \"c.D\"}, {}],\n"
    "  \"timeout\": \"2s\", \"waitForReady\": true,\n"
    "  \"retryPolicy\": {\"maxAttempts\": 7, \"initialBackoff\": \"0.1s\",\n"
    "    \"maxBackoff\": \"1s\", \"backoffMultiplier\": 2,\n"
    "    \"retryableStatusCodes\": [\"UNAVAILABLE\"]}},\n"
    " {\"name\": [{\"service\": \"e.F\"}],\n"
    "  \"hedgingPolicy\": {\"maxAttempts\": 2, \"hedgingDelay\": \"0.1s\"}}],\n"
    " \"retryThrottling\": {\"maxTokens\": 10, \"tokenRatio\": 0.1}}";

/* Import, write the contract, load it, export it: every allocation of the
 * handles fails in turn; each run ends cleanly with nothing left. */
static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_interop_config c;
  rein_interop_config_default(&c);
  c.alloc = a;
  rein_interop *ix = NULL, *ex = NULL;
  char *yaml = NULL, *json = NULL;
  size_t yl = 0, jl = 0;
  rein_contract_set *s = NULL;
  int rc = 1;
  if (rein_interop_new(&c, &ix) != REIN_OK) goto out;
  rein_status st = rein_interop_import_buffer(ix, "grpc", "f.json", fault_text,
                                              sizeof fault_text - 1);
  if (st == REIN_ENOMEM) goto out;
  assert_int_equal(st, REIN_OK);
  if (rein_interop_write_contract(ix, &yaml, &yl) != REIN_OK) goto out;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "f.yaml", yaml, yl), REIN_OK);
  if (rein_interop_new(&c, &ex) != REIN_OK) goto out;
  st = rein_interop_export(ex, "grpc", s, NULL, &json, &jl);
  if (st == REIN_ENOMEM) {
    assert_null(json);
    goto out;
  }
  assert_int_equal(st, REIN_OK);
  rc = 0;
out:
  rein_free(a, json);
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
    fprintf(stderr, "usage: test_interop_grpc EXAMPLES FIXTURES REIN\n");
    return 2;
  }
  examples_dir = argv[1];
  fixtures_dir = argv[2];
  rein_bin = argv[3];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_durations),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_unknown_listed),
      cmocka_unit_test(test_cli_nothing_written),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_hedging),
      cmocka_unit_test(test_hedge_elsewhere),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixtures),
      cmocka_unit_test(test_fault_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
