/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_sdk.c: SDK retry defaults (rein/interop.h, formats "aws",
 * the AWS shared config file, and "sdk", rein's YAML naming SDK clients).
 *
 *  - bad input: INI lines that are not `key = value` or a section, a
 *    retry_mode or max_attempts the SDKs refuse, misspelt settings (with a
 *    did-you-mean), an unknown SDK, a setting of another SDK, wrong types,
 *    each at its file:line:col with no calls kept; `rein import` exits 2
 *    and writes nothing;
 *  - every setting rein cannot represent is a warning naming it
 *    (adaptive's rate limiter, error codes, legacy's per-SDK rules, the
 *    missing attempt limit of google-api-core, 501, a version rein does
 *    not know);
 *  - the published constants: what the fixtures import to is checked
 *    field by field against the sources their headers cite, and run: the
 *    quota budget built from an imported standard profile grants exactly
 *    the retries botocore's RetryQuota does (500 / 5, 500 / 10 after
 *    timeouts, a refund per successful retry), and the back-off ceilings
 *    of retries 1..8 are each SDK's formula;
 *  - round trip: import(export(c)) == c on attempts and on the retry mode
 *    for every caller of the example contracts and a generated corpus
 *    (seed printed: REIN_TEST_SEED replays), everything else named in an
 *    export warning; export(import(x)) == x for the AWS fixture;
 *  - rein_interop_detect names both formats by content, and `rein check`
 *    reports an imported profile at its section's line.
 *
 * argv: EXAMPLES_DIR FIXTURES_DIR REIN_BINARY
 */
#include "../interop/ix_test.h"
#include "rein_test.h"

#include "rein/backoff.h"
#include "rein/budget.h"
#include "rein/classify.h"
#include "rein/contract.h"
#include "rein/interop.h"
#include "rein/model.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *examples_dir, *fixtures_dir, *rein_bin;

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static rein_interop *import_text(const char *fmt, const char *text,
                                 rein_status *st) {
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  *st = rein_interop_import_buffer(ix, fmt,
                                   strcmp(fmt, "aws") ? "in.yaml" : "config",
                                   text, strlen(text));
  return ix;
}

static bool has_diag(const rein_interop *ix, rein_interop_severity sev,
                     unsigned line, unsigned col, const char *needle) {
  for (size_t i = 0; i < rein_interop_diag_count(ix); i++) {
    const rein_interop_diag *d = rein_interop_diag_at(ix, i);
    if (d->severity == sev && (!line || d->loc.line == line) &&
        (!col || d->loc.col == col) &&
        (!needle || strstr(d->message, needle) || strstr(d->field, needle)))
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

typedef struct bad_case {
  const char *format, *text;
  unsigned line, col;
  const char *needle;
} bad_case;

static void test_bad_input(void **state) {
  (void)state;
  static const bad_case cases[] = {
      {"aws", "[default]\nretry_mode = standrd\n", 2, 14, "did you mean 'standard'"},
      {"aws", "[default]\nretry_mode = Standard\n", 2, 14, "not a retry mode"},
      {"aws", "[default]\nmax_attempts = 0\n", 2, 16, "greater than 0"},
      {"aws", "[default]\nmax_attempts = three\n", 2, 16, "whole number"},
      {"aws", "[default]\nmax_attempts = 2.5\n", 2, 16, "whole number"},
      {"aws", "[default]\nmax_attempts = -1\n", 2, 16, "whole number"},
      {"aws", "[default]\nmax_attempts =\n", 2, 15, "no value"},
      {"aws", "[default]\nretry_mod = standard\n", 2, 1, "did you mean 'retry_mode'"},
      {"aws", "[default]\nmax_attempt = 3\n", 2, 1, "did you mean 'max_attempts'"},
      {"aws", "[default]\nretry_mode = standard\nretry_mode = legacy\n", 3, 1,
       "given twice"},
      {"aws", "[default]\nregion\n", 2, 1, "key = value"},
      {"aws", "[default\nregion = x\n", 1, 9, "without ']'"},
      {"aws", "[default] x\n", 1, 11, "after the section header"},
      {"aws", "region = x\n[default]\n", 1, 1, "before any section"},
      {"aws", "[default]\n  region = x\n", 2, 3, "indented line"},
      {"aws", "[profile ]\nregion = x\n", 1, 1, "needs a name"},
      {"aws", "[default]\nregion = x\n[profile default]\n", 3, 1,
       "a second section"},
      {"aws", "# nothing\n", 1, 1, "nothing to import"},
      {"aws", "[sso-session a]\nsso_region = x\n", 1, 1, "nothing to import"},
      {"aws", "[default]\n= x\n", 2, 1, "without a name"},
      {"aws", "[profile \xe4]\nretry_mode = standard\n", 1, 10, "not UTF-8"},
      {"sdk", "sdk_clients: [\n", 0, 0, NULL},
      {"sdk", "clients: []\n", 1, 1, "unknown field 'clients'"},
      {"sdk", "sdk_clients: {}\n", 1, 14, "an array"},
      {"sdk", "sdk_clients: []\n", 1, 14, "empty"},
      {"sdk", "sdk_clients:\n  - to: a.b\n", 2, 5, "missing"},
      {"sdk", "sdk_clients:\n  - sdk: go-retryablehtp\n", 2, 10,
       "did you mean 'go-retryablehttp'"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    RetryMax: 3\n", 3, 5,
       "a setting of go-retryablehttp, not of aws"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    retries: 3\n", 3, 5,
       "unknown field 'retries'"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    retry_mode: fast\n", 3, 17,
       "not a retry mode"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    max_attempts: \"3\"\n", 3, 19,
       "a whole number"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    max_attempts: 0\n", 3, 19,
       "greater than 0"},
      {"sdk", "sdk_clients:\n  - sdk: go-retryablehttp\n    RetryMax: 1.5\n",
       3, 15, "whole number"},
      {"sdk",
       "sdk_clients:\n  - sdk: go-retryablehttp\n    RetryWaitMin: 1\n", 3, 19,
       "Go duration"},
      {"sdk",
       "sdk_clients:\n  - sdk: go-retryablehttp\n    RetryWaitMax: 1d\n", 3,
       19, "not a Go duration"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    initial: \"1\"\n",
       3, 14, "a number of seconds"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    timeout: -1\n", 3,
       14, "non-negative"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    multiplier: 0\n",
       3, 17, "(0, 100]"},
      {"sdk",
       "sdk_clients:\n  - sdk: google-api-core\n    timeout: 1\n"
       "    deadline: 2\n",
       4, 5, "one setting"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    to: s3\n", 3, 9,
       "not a callee"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n  - sdk: aws\n", 3, 5,
       "a second client"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    to: a.b\n    to: a.c\n", 4, 5,
       "duplicate"},
      {"sdk", "sdk_clients:\n  - 3\n", 2, 5, "an SDK client object"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const bad_case *c = &cases[i];
    rein_status st;
    rein_interop *ix = import_text(c->format, c->text, &st);
    bool ok = st == REIN_EPARSE && rein_interop_call_count(ix) == 0 &&
              (c->line == 0 ? rein_interop_count(ix, REIN_INTEROP_ERROR) > 0
                            : has_diag(ix, REIN_INTEROP_ERROR, c->line, c->col,
                                       c->needle));
    if (!ok) {
      fprintf(stderr, "case %zu (%s) %s:\n%s\n", i, c->format,
              rein_status_name(st), c->text);
      rein_interop_write_diags(ix, stderr);
    }
    assert_true(ok);
    rein_interop_free(ix);
  }
}

static void test_cli_nothing_written(void **state) {
  (void)state;
  char dir[] = "/tmp/rein-sdk-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char good[256], bad[256], out[256];
  snprintf(good, sizeof good, "%s/good.ini", dir);
  snprintf(bad, sizeof bad, "%s/bad.ini", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  FILE *f = fopen(good, "w");
  fputs("[default]\nretry_mode = standard\nmax_attempts = 4\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs("[default]\nretry_mode = standard\nmax_attempts = lots\n", f);
  fclose(f);
  char *o;
  int rc = rein_test_run(rein_bin, &o, "import aws '%s' '%s' -o '%s'", good,
                         bad, out);
  assert_int_equal(rc, 2);
  char want[512];
  snprintf(want, sizeof want, "%s:3:16: error: [default].max_attempts:", bad);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  assert_non_null(strstr(o, "nothing written"));
  free(o);
  struct stat sb;
  assert_int_not_equal(stat(out, &sb), 0);
  rc = rein_test_run(rein_bin, &o, "import aws '%s' -o '%s'", good, out);
  assert_int_equal(rc, 0);
  free(o);
  char path[300];
  snprintf(path, sizeof path, "%s/good.yaml", out);
  rc = rein_test_run(rein_bin, &o, "export aws '%s'", path);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(o, "[default]\nretry_mode = standard\n"
                            "max_attempts = 4\n"));
  free(o);
  /* sdk has no export: a usage error that says why */
  rc = rein_test_run(rein_bin, &o, "export sdk '%s'", path);
  assert_int_equal(rc, 2);
  assert_non_null(strstr(o, "rein does not export sdk"));
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
    const char *format, *text;
    unsigned line;
    rein_interop_severity sev;
    const char *needle;
  } cases[] = {
      {"aws", "[default]\nretry_mode = adaptive\n", 2, REIN_INTEROP_WARNING,
       "rate limiter"},
      {"aws", "[default]\nretry_mode = standard\n", 2, REIN_INTEROP_WARNING,
       "error codes"},
      {"aws", "[default]\nregion = x\n", 1, REIN_INTEROP_WARNING,
       "legacy mode is specific to each SDK"},
      {"aws", "[default]\nregion = x\n", 1, REIN_INTEROP_NOTE,
       "no retry_mode: legacy"},
      {"aws", "[default]\nregion = x\noutput = json\n", 1, REIN_INTEROP_NOTE,
       "region, output"},
      {"aws", "[default]\nmax_attempts = 5000\n", 2, REIN_INTEROP_WARNING,
       "imported as 1000"},
      {"aws", "[dev]\nregion = x\n[default]\n", 1, REIN_INTEROP_WARNING,
       "credentials file's form"},
      {"aws", "[default]\ns3 =\n  max_concurrent_requests = 2\n", 2,
       REIN_INTEROP_NOTE, "sub-settings of s3"},
      {"sdk", "sdk_clients:\n  - sdk: go-retryablehttp\n", 2,
       REIN_INTEROP_WARNING, "but 501"},
      {"sdk", "sdk_clients:\n  - sdk: go-retryablehttp\n    version: v0.5.0\n",
       3, REIN_INTEROP_WARNING, "rein knows go-retryablehttp v0.7.8"},
      {"sdk", "sdk_clients:\n  - sdk: go-retryablehttp\n    RetryMax: -2\n",
       3, REIN_INTEROP_WARNING, "imported as 0"},
      {"sdk",
       "sdk_clients:\n  - sdk: go-retryablehttp\n    RetryWaitMin: 1m\n", 2,
       REIN_INTEROP_WARNING, "constant back-off"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n", 2,
       REIN_INTEROP_WARNING, "no attempt limit"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    multiplier: 0.5\n",
       3, REIN_INTEROP_WARNING, "imported as 1"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    version: \"1.34\"\n",
       3, REIN_INTEROP_WARNING, "not 1.34's"},
      {"sdk", "sdk_clients:\n  - sdk: google-api-core\n    deadline: 30\n", 3,
       REIN_INTEROP_NOTE, "deprecated name"},
      {"sdk", "sdk_clients:\n  - sdk: aws\n    retry_mode: adaptive\n", 3,
       REIN_INTEROP_WARNING, "rate limiter"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rein_status st;
    rein_interop *ix = import_text(cases[i].format, cases[i].text, &st);
    bool ok = st == REIN_OK && rein_interop_call_count(ix) >= 1 &&
              has_diag(ix, cases[i].sev, cases[i].line, 0, cases[i].needle);
    if (!ok) {
      fprintf(stderr, "case %zu %s:\n%s\n", i, rein_status_name(st),
              cases[i].text);
      rein_interop_write_diags(ix, stderr);
    }
    assert_true(ok);
    rein_interop_free(ix);
  }
}

/* ---------------------------------------------- the published constants */

static rein_interop *import_fixture(const char *format, const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  rein_interop *ix;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  if (rein_interop_import_file(ix, format, path) != REIN_OK) {
    rein_interop_write_diags(ix, stderr);
    fail();
  }
  return ix;
}

static const rein_interop_call *call_named(const rein_interop *ix,
                                           const char *to) {
  for (size_t i = 0; i < rein_interop_call_count(ix); i++)
    if (strcmp(rein_interop_call_at(ix, i)->to, to) == 0)
      return rein_interop_call_at(ix, i);
  fprintf(stderr, "no call %s\n", to);
  fail();
  return NULL;
}

/* v(n) for each retry n up to 8 the policy makes is min(cap, first x
 * mult^(n-1)) (each SDK's formula, written independently of rein's
 * backoff code). */
static void check_ceilings(const rein_policy_spec *sp, double first_s,
                           double mult, double cap_s) {
  double v = first_s;
  uint32_t last = sp->policy.max_attempts - 1;
  for (uint32_t n = 1; n <= 8 && n <= last; n++, v *= mult) {
    double want = v < cap_s ? v : cap_s;
    int64_t got = rein_backoff_ceiling(&sp->policy.backoff, n);
    if (llabs(got - (int64_t)(want * 1e9 + 0.5)) > 1000) {
      fprintf(stderr, "retry %u: ceiling %lld ns, want %.9g s\n", n,
              (long long)got, want);
      fail();
    }
  }
}

/* botocore's RetryQuota (quota.py): 500 units; acquire(5), or 10 after a
 * timeout, fails when fewer are left; a successful retry gives its cost
 * back. The budget built from the imported spec must agree. */
static void check_quota(const rein_policy_spec *sp) {
  assert_true(sp->has_budget);
  rein_budget *b;
  rein_budget_config c = sp->budget;
  assert_int_equal(rein_budget_new(&c, &b), REIN_OK);
  int granted = 0;
  uint32_t cost = 0, last = 0;
  while (granted < 1000 && rein_budget_try_retry(b, 0, false, &cost)) {
    granted++;
    last = cost;
  }
  assert_int_equal(granted, 100); /* 500 / 5 */
  assert_int_equal(last, 5);
  rein_budget_on_success(b, 0, 5); /* a retry succeeded: 5 back */
  assert_true(rein_budget_try_retry(b, 0, false, &cost));
  assert_false(rein_budget_try_retry(b, 0, false, &cost));
  rein_budget_free(b);
  assert_int_equal(rein_budget_new(&c, &b), REIN_OK);
  granted = 0;
  while (granted < 1000 && rein_budget_try_retry(b, 0, true, &cost)) {
    granted++;
    last = cost;
  }
  assert_int_equal(granted, 50); /* 500 / 10 */
  assert_int_equal(last, 10);
  rein_budget_on_success(b, 0, 0); /* a first attempt succeeded: 1 back */
  assert_true(rein_budget_available(b, 0) == 1);
  rein_budget_free(b);
}

static void test_fixture_values(void **state) {
  (void)state;
  rein_interop *ix = import_fixture("aws", "aws-config.ini");
  assert_int_equal(rein_interop_call_count(ix), 3);
  const rein_interop_call *c = call_named(ix, "aws.default");
  assert_non_null(strstr(c->origin, "aws-config.ini:16:1 [default]"));
  const rein_policy_spec *sp = &c->spec;
  assert_int_equal(sp->policy.max_attempts, 5);
  assert_int_equal(sp->policy.backoff.jitter, REIN_JITTER_FULL);
  check_ceilings(sp, 1, 2, 20); /* rand(0,1) x min(2^i, 20) */
  check_quota(sp);
  assert_int_equal(sp->budget.kind, REIN_BUDGET_QUOTA);
  assert_int_equal(sp->signals, 0);
  assert_int_equal(sp->deadline_ns, 0);
  static const unsigned std_yes[] = {429, 500, 502, 503, 504};
  static const unsigned std_no[] = {400, 404, 409, 501, 505, 509};
  for (size_t i = 0; i < 5; i++)
    assert_true(retried(sp, REIN_COND_HTTP(std_yes[i])));
  for (size_t i = 0; i < 6; i++)
    assert_false(retried(sp, REIN_COND_HTTP(std_no[i])));
  assert_true(
      retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT)));
  c = call_named(ix, "aws.batch"); /* adaptive: standard + a warning */
  assert_int_equal(c->spec.policy.max_attempts, 3);
  check_quota(&c->spec);
  assert_true(has_diag(ix, REIN_INTEROP_WARNING, 24, 14, "rate limiter"));
  c = call_named(ix, "aws.ops"); /* legacy, botocore's */
  sp = &c->spec;
  assert_int_equal(sp->policy.max_attempts, 5);
  assert_false(sp->has_budget);
  check_ceilings(sp, 1, 2, 1e9); /* rand x 2^(n-1), no cap within 5 */
  assert_true(retried(sp, REIN_COND_HTTP(509)));
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_false(retried(sp, REIN_COND_HTTP(502)));
  /* 504 only through rein's timeout kind, and a note says so */
  assert_true(has_diag(ix, REIN_INTEROP_NOTE, 0, 0, "in legacy mode, 504"));
  rein_interop_free(ix);

  ix = import_fixture("sdk", "clients.yaml");
  assert_int_equal(rein_interop_call_count(ix), 5);
  c = call_named(ix, "payments.charge"); /* go-retryablehttp defaults */
  sp = &c->spec;
  assert_non_null(strstr(c->origin, "sdk_clients[0] go-retryablehttp v0.7.8"));
  assert_int_equal(sp->policy.max_attempts, 5);
  assert_int_equal(sp->policy.backoff.jitter, REIN_JITTER_NONE);
  check_ceilings(sp, 1, 2, 30);
  assert_int_equal(sp->signals, REIN_SIGNAL_RETRY_AFTER);
  assert_false(sp->has_budget);
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_true(retried(sp, REIN_COND_HTTP(502)));
  assert_true(retried(sp, REIN_COND_HTTP(599)));
  assert_false(retried(sp, REIN_COND_HTTP(404)));
  assert_true(retried(sp, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET)));
  sp = &call_named(ix, "ledger.post")->spec; /* its overrides */
  assert_int_equal(sp->policy.max_attempts, 3);
  check_ceilings(sp, 0.5, 2, 5);
  sp = &call_named(ix, "storage.upload")->spec; /* google-api-core */
  assert_int_equal(sp->policy.max_attempts, 1000);
  assert_int_equal(sp->policy.window_ns, 120 * SEC);
  assert_int_equal(sp->policy.backoff.jitter, REIN_JITTER_FULL);
  check_ceilings(sp, 1, 2, 60);
  assert_int_equal(sp->signals, 0);
  assert_true(retried(sp, REIN_COND_HTTP(500)));
  assert_true(retried(sp, REIN_COND_HTTP(503)));
  assert_true(retried(sp, REIN_COND_HTTP(429)));
  assert_false(retried(sp, REIN_COND_HTTP(502)));
  assert_false(retried(sp, REIN_COND_HTTP(504)));
  assert_true(retried(sp, REIN_COND_GRPC(14)));
  assert_true(retried(sp, REIN_COND_GRPC(13)));
  assert_true(retried(sp, REIN_COND_GRPC(8)));
  assert_false(retried(sp, REIN_COND_GRPC(4)));
  sp = &call_named(ix, "pubsub.publish")->spec;
  assert_int_equal(sp->policy.window_ns, 60 * SEC);
  check_ceilings(sp, 0.1, 1.3, 10);
  sp = &call_named(ix, "dynamodb.put")->spec;
  assert_int_equal(sp->policy.max_attempts, 4);
  check_ceilings(sp, 1, 2, 20);
  check_quota(sp);
  rein_interop_free(ix);
}

/* Does the contract written from `ix` load, and build every call? */
static rein_contract_set *load_written(const rein_interop *ix) {
  char *yaml;
  size_t n;
  assert_int_equal(rein_interop_write_contract(ix, &yaml, &n), REIN_OK);
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  if (rein_contract_add_buffer(s, "w.yaml", yaml, n) != REIN_OK) {
    fprintf(stderr, "%s\n", yaml);
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    fail();
  }
  rein_free(NULL, yaml);
  return s;
}

static void test_fixtures_load(void **state) {
  (void)state;
  static const char *const f[][2] = {{"aws", "aws-config.ini"},
                                     {"sdk", "clients.yaml"}};
  for (size_t i = 0; i < 2; i++) {
    rein_interop *ix = import_fixture(f[i][0], f[i][1]);
    rein_contract_set *s = load_written(ix);
    for (size_t k = 0; k < rein_interop_call_count(ix); k++) {
      rein_policy_spec sp;
      rein_errbuf eb = {{0}};
      assert_int_equal(rein_spec_from_contract(s, rein_interop_caller(ix),
                                               rein_interop_call_at(ix, k)->to,
                                               &sp, &eb),
                       REIN_OK);
      rein_policy_objects o;
      assert_int_equal(rein_policy_spec_build(&sp, NULL, &o), REIN_OK);
      rein_policy_objects_free(&o);
    }
    rein_contract_set_free(s);
    rein_interop_free(ix);
  }
}

/* Profile names are INI text, which need not be UTF-8 nor printable: the
 * origin written for each call must still be YAML that loads (C0 and C1
 * controls, DEL, NEL, U+2028, a BOM; found by
 * fuzz_interop_aws with U+0091 in a profile name). */
static void test_unprintable_names_load(void **state) {
  (void)state;
  static const char text[] =
      "[profile a\x01" "b]\nretry_mode = standard\n"
      "[profile c\xc2\x91" "d]\nretry_mode = standard\n"
      "[profile e\x7f" "f]\nretry_mode = standard\n"
      "[profile g\xe2\x80\xa8" "h\xef\xbb\xbf" "i\xc2\x85" "j]\n"
      "retry_mode = standard\n";
  rein_status st;
  rein_interop *ix = import_text("aws", text, &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_interop_call_count(ix), 4);
  rein_contract_set *s = load_written(ix);
  rein_contract_set_free(s);
  rein_interop_free(ix);
}

/* ------------------------------------------------------------ round trips */

/* Export `caller` of `s` as aws and import it back: every call keeps its
 * attempts, and comes back as it went when it was standard or legacy mode;
 * every other difference was warned. Returns the calls compared. */
static size_t round_trip(const rein_contract_set *s, const char *caller,
                         const char *what) {
  rein_interop *ex;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text = NULL;
  size_t tn = 0;
  rein_status st = rein_interop_export(ex, "aws", s, caller, &text, &tn);
  if (st != REIN_OK) {
    fprintf(stderr, "%s: export of %s: %s\n", what, caller,
            rein_status_name(st));
    rein_interop_write_diags(ex, stderr);
    fail();
  }
  rein_interop *im;
  assert_int_equal(rein_interop_new(NULL, &im), REIN_OK);
  if (rein_interop_import_buffer(im, "aws", "e.ini", text, tn) != REIN_OK) {
    fprintf(stderr, "%s: the export does not import:\n%s\n", what, text);
    rein_interop_write_diags(im, stderr);
    fail();
  }
  size_t n = rein_contract_call_count(s), idx = 0, compared = 0;
  for (size_t i = 0; i < n; i++) {
    const char *c, *to;
    rein_contract_call_at(s, i, &c, &to);
    if (strcmp(c, caller) != 0) continue;
    char path[32];
    snprintf(path, sizeof path, "calls[%zu]", idx);
    rein_policy_spec sp;
    rein_errbuf eb = {{0}};
    assert_int_equal(rein_spec_from_contract(s, caller, to, &sp, &eb),
                     REIN_OK);
    assert_true(idx < rein_interop_call_count(im));
    const rein_policy_spec *b = &rein_interop_call_at(im, idx)->spec;
    idx++;
    char why[256] = "";
    char x[4096], y[4096];
    rein_policy_spec_json(&sp, x, sizeof x);
    rein_policy_spec_json(b, y, sizeof y);
    if (b->policy.max_attempts != sp.policy.max_attempts)
      snprintf(why, sizeof why, "attempts %u vs %u", sp.policy.max_attempts,
               b->policy.max_attempts);
    else if (strcmp(x, y) != 0) {
      /* not the mode written: each field that differs must be warned */
      const rein_backoff_config *p = &sp.policy.backoff, *q = &b->policy.backoff;
      char w1[2048], w2[2048];
      const rein_model_field *wf = rein_model_find(REIN_MODEL_RETRY, "when", NULL);
      rein_model_get(&sp, wf, w1, sizeof w1);
      rein_model_get(b, wf, w2, sizeof w2);
      const char *lost = NULL;
      if ((p->kind != q->kind || p->base_ns != q->base_ns ||
           p->cap_ns != q->cap_ns || p->jitter != q->jitter ||
           p->multiplier != q->multiplier) &&
          !ix_warned(ex, path, "retry.backoff"))
        lost = "retry.backoff";
      else if (strcmp(w1, w2) != 0 && !ix_warned(ex, path, "retry.when"))
        lost = "retry.when";
      else if ((sp.has_budget != b->has_budget ||
                (sp.has_budget &&
                 (sp.budget.kind != b->budget.kind ||
                  sp.budget.capacity != b->budget.capacity ||
                  sp.budget.retry_cost != b->budget.retry_cost ||
                  sp.budget.timeout_retry_cost != b->budget.timeout_retry_cost ||
                  sp.budget.success_increment != b->budget.success_increment ||
                  sp.budget_scope != b->budget_scope))) &&
               !ix_warned(ex, path, "retry.budget"))
        lost = "retry.budget";
      else if (sp.signals && !ix_warned(ex, path, "retry.signals"))
        lost = "retry.signals";
      else if (sp.deadline_ns && !ix_warned(ex, path, "deadline"))
        lost = "deadline";
      else if (sp.policy.attempt_timeout_ns && !ix_warned(ex, path, "timeout"))
        lost = "timeout";
      else if (sp.policy.window_ns && !ix_warned(ex, path, "retry.window"))
        lost = "retry.window";
      else if (sp.policy.expected_attempt_ns &&
               !ix_warned(ex, path, "retry.expected_attempt"))
        lost = "retry.expected_attempt";
      else if (sp.has_breaker && !ix_warned(ex, path, "retry.breaker"))
        lost = "retry.breaker";
      else if (sp.has_throttle && !ix_warned(ex, path, "retry.throttle"))
        lost = "retry.throttle";
      else if (sp.policy.key_retention_ns && !ix_warned(ex, path, "key_ttl"))
        lost = "key_ttl";
      else if (!sp.policy.idempotent && !ix_warned(ex, path, "retry"))
        lost = "the idempotency gate";
      if (lost) snprintf(why, sizeof why, "%s lost, not warned", lost);
    }
    if (*why) {
      fprintf(stderr, "%s: %s -> %s: %s\n%s\n%s\n%s\n", what, caller, to, why,
              text, x, y);
      rein_interop_write_diags(ex, stderr);
      fail();
    }
    compared++;
  }
  assert_int_equal(idx, rein_interop_call_count(im));
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
  size_t calls = 0, contracts = 0;
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

/* export(import(x)) == x for the AWS fixture: the same profiles, modes
 * (adaptive is written as standard: its rate limiter was warned) and
 * attempts. */
static void test_fixture_round_trip(void **state) {
  (void)state;
  rein_interop *ix = import_fixture("aws", "aws-config.ini");
  rein_contract_set *s = load_written(ix);
  rein_interop *ex;
  assert_int_equal(rein_interop_new(NULL, &ex), REIN_OK);
  char *text;
  size_t n;
  assert_int_equal(
      rein_interop_export(ex, "aws", s, rein_interop_caller(ix), &text, &n),
      REIN_OK);
  assert_int_equal(rein_interop_count(ex, REIN_INTEROP_WARNING), 0);
  const char *want[] = {"[default]\nretry_mode = standard\nmax_attempts = 5\n",
                        "[profile batch]\nretry_mode = standard\n"
                        "max_attempts = 3\n",
                        "[profile ops]\nretry_mode = legacy\n"
                        "max_attempts = 5\n"};
  for (size_t i = 0; i < 3; i++) {
    if (!strstr(text, want[i])) fprintf(stderr, "%s", text);
    assert_non_null(strstr(text, want[i]));
  }
  rein_interop *back;
  assert_int_equal(rein_interop_new(NULL, &back), REIN_OK);
  assert_int_equal(rein_interop_import_buffer(back, "aws", "e.ini", text, n),
                   REIN_OK);
  assert_int_equal(rein_interop_call_count(back), 3);
  for (size_t i = 0; i < 3; i++) {
    char x[4096], y[4096];
    const rein_interop_call *a = rein_interop_call_at(ix, i),
                            *b = rein_interop_call_at(back, i);
    assert_string_equal(a->to, b->to);
    rein_policy_spec_json(&a->spec, x, sizeof x);
    rein_policy_spec_json(&b->spec, y, sizeof y);
    assert_string_equal(x, y);
  }
  rein_free(NULL, text);
  rein_interop_free(back);
  rein_interop_free(ex);
  rein_contract_set_free(s);
  rein_interop_free(ix);
}

/* ------------------------------------------------------- detect, check */

static char *slurp(const char *name, size_t *n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", fixtures_dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *b = malloc(1 << 16);
  *n = fread(b, 1, 1 << 16, f);
  fclose(f);
  return b;
}

static void test_detect(void **state) {
  (void)state;
  size_t n;
  const char *fmt;
  char *b = slurp("aws-config.ini", &n);
  assert_int_equal(rein_interop_detect(b, n, &fmt), REIN_OK);
  assert_string_equal(fmt, "aws");
  free(b);
  b = slurp("clients.yaml", &n);
  assert_int_equal(rein_interop_detect(b, n, &fmt), REIN_OK);
  assert_string_equal(fmt, "sdk");
  free(b);
  static const char *const not_aws[] = {
      "service: a\nversion: \"1\"\n", "[1, 2]\n", "  [default]\n",
      "[defaults]\nx = 1\n", "[profile]\n", "x = 1\n[default]\n"};
  for (size_t i = 0; i < sizeof not_aws / sizeof *not_aws; i++)
    assert_int_equal(rein_interop_detect(not_aws[i], strlen(not_aws[i]), &fmt),
                     REIN_ENOTFOUND);
  const char *t = "# c\n; c\n\n[profile x]\n";
  assert_int_equal(rein_interop_detect(t, strlen(t), &fmt), REIN_OK);
  assert_string_equal(fmt, "aws");
  /* rein check reads the config file beside contracts, by content, and
   * reports an imported profile at its section's line */
  char *o;
  char path[1024];
  snprintf(path, sizeof path, "%s/aws-config.ini", fixtures_dir);
  int rc = rein_test_run(rein_bin, &o, "check -q '%s'", path);
  assert_int_equal(rc, 1);
  char want[1100];
  snprintf(want, sizeof want, "%s:16:1: error[E007]", path);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  free(o);
  snprintf(path, sizeof path, "%s/clients.yaml", fixtures_dir);
  rc = rein_test_run(rein_bin, &o, "check -q '%s'", path);
  assert_int_equal(rc, 1);
  snprintf(want, sizeof want, "%s:17:5: error[E007]", path);
  if (!strstr(o, want)) fprintf(stderr, "%s", o);
  assert_non_null(strstr(o, want));
  free(o);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s EXAMPLES_DIR FIXTURES_DIR REIN\n", argv[0]);
    return 2;
  }
  examples_dir = argv[1];
  fixtures_dir = argv[2];
  rein_bin = argv[3];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_cli_nothing_written),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_fixture_values),
      cmocka_unit_test(test_fixtures_load),
      cmocka_unit_test(test_unprintable_names_load),
      cmocka_unit_test(test_examples_round_trip),
      cmocka_unit_test(test_corpus_round_trip),
      cmocka_unit_test(test_fixture_round_trip),
      cmocka_unit_test(test_detect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
