/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contract_admission.c: the `server.admission` block of a contract
 * (the server's side for a proxy, docs/contracts.md): every field lands in
 * rein_admit's config (rein/admit.h) or the proxy's settings, defaults are
 * rein_admit's with a proxy's dont_retry, and bad input is one diagnostic
 * at the field's file:line:col: wrong types, unknown fields with a
 * did-you-mean, durations without units, paths of unknown operations, and
 * the bounds rein_admit's own validation refuses (its message, at the
 * field it names).
 */
#include "rein_test.h"
#include "rein/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS (INT64_C(1000000))
#define S (INT64_C(1000000000))

static rein_contract_set *load(const char *text, rein_status *st) {
  rein_contract_set *s = NULL;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  *st = rein_contract_add_buffer(s, "a.yaml", text, strlen(text));
  return s;
}

/* The one diagnostic of a refused file, as "line:col rule message". */
static void expect_one(const char *text, const char *want) {
  rein_status st;
  rein_contract_set *s = load(text, &st);
  assert_int_equal(st, REIN_EPARSE);
  assert_int_equal(rein_contract_diag_count(s), 1);
  const rein_contract_diag *d = rein_contract_diag_at(s, 0);
  char got[1024];
  snprintf(got, sizeof got, "%u:%u %s %s", d->loc.line, d->loc.col, d->rule,
           d->message);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "want: %s\ngot:  %s\n", want, got);
    fail();
  }
  assert_non_null(d->fix);
  assert_int_equal(rein_contract_admission_count(s), 0);
  rein_contract_set_free(s);
}

#define HEAD                                                                   \
  "service: ledger\n"                                                          \
  "version: 2024-06-01\n"                                                      \
  "operations:\n"                                                              \
  "  charge: {idempotency: key, key_ttl: 24h}\n"                               \
  "  refund: {idempotency: natural}\n"

static void test_every_field(void **state) {
  (void)state;
  rein_status st;
  rein_contract_set *s = load(
      HEAD "server:\n"
           "  admission:\n"
           "    zone: ledger-api\n"
           "    limit: 8\n"
           "    adaptive: true\n"
           "    limit_min: 2\n"
           "    limit_max: 32\n"
           "    aimd_latency: 250ms\n"
           "    aimd_backoff: 0.8\n"
           "    queue: 64\n"
           "    retry_queue: 8\n"
           "    target: 20ms\n"
           "    interval: 100ms\n"
           "    max_wait: 30ms\n"
           "    lifo: false\n"
           "    retry_after_min: 0s\n"
           "    retry_after_max: 2m\n"
           "    retry_after_spread: 0.5\n"
           "    rate_window: 2s\n"
           "    rate_limit: {quota: 100, window: 10s, policy: public}\n"
           "    dont_retry: retries\n"
           "    shed_status: 529\n"
           "    rate_limit_status: 430\n"
           "    ratelimit_headers: false\n"
           "    dont_retry_header: false\n"
           "    attempt_header: X-Attempt\n"
           "    upstream: http://127.0.0.1:8080\n"
           "    paths: {charge: /v1/charges, refund: /v1/refunds}\n"
           "    listen: 127.0.0.1:8081\n",
      &st);
  assert_int_equal(st, REIN_OK);
  assert_int_equal(rein_contract_admission_count(s), 1);
  const rein_contract_admission *a = NULL;
  assert_int_equal(rein_contract_admission_at(s, 0, &a), REIN_OK);
  assert_int_equal(rein_contract_admission_at(s, 1, &a), REIN_ENOTFOUND);
  assert_int_equal(rein_contract_admission_at(s, 0, &a), REIN_OK);
  assert_string_equal(a->service, "ledger");
  assert_string_equal(a->version, "2024-06-01");
  assert_int_equal(a->loc.line, 8);
  const rein_admit_config *c = &a->admit;
  assert_string_equal(c->name, "ledger-api");
  assert_int_equal(c->limit, 8);
  assert_true(c->adaptive);
  assert_int_equal(c->limit_min, 2);
  assert_int_equal(c->limit_max, 32);
  assert_int_equal(c->aimd_latency_ns, 250 * MS);
  assert_true(c->aimd_backoff == 0.8);
  assert_int_equal(c->queue_max, 64);
  assert_int_equal(c->retry_queue_max, 8);
  assert_int_equal(c->target_ns, 20 * MS);
  assert_int_equal(c->interval_ns, 100 * MS);
  assert_int_equal(c->max_wait_ns, 30 * MS);
  assert_false(c->lifo_when_overloaded);
  assert_int_equal(c->retry_after_min_ns, 0);
  assert_int_equal(c->retry_after_max_ns, 120 * S);
  assert_true(c->retry_after_spread == 0.5);
  assert_int_equal(c->rate_window_ns, 2 * S);
  assert_int_equal(c->rl_quota, 100);
  assert_int_equal(c->rl_window_ns, 10 * S);
  assert_string_equal(c->rl_policy, "public");
  assert_int_equal(c->dont_retry, REIN_ADMIT_DONT_RETRY_RETRIES);
  assert_int_equal(a->shed_status, 529);
  assert_int_equal(a->rate_limit_status, 430);
  assert_false(a->ratelimit_headers);
  assert_false(a->dont_retry_header);
  assert_string_equal(a->attempt_header, "X-Attempt");
  assert_string_equal(a->upstream, "http://127.0.0.1:8080");
  assert_int_equal(a->nroutes, 2);
  assert_string_equal(a->routes[0].operation, "charge");
  assert_string_equal(a->routes[0].path, "/v1/charges");
  assert_int_equal(a->routes[0].loc.line, 33);
  assert_string_equal(a->routes[1].operation, "refund");
  assert_string_equal(a->routes[1].path, "/v1/refunds");
  assert_string_equal(a->listen, "127.0.0.1:8081");
  /* Where each field is written. */
  assert_int_equal(a->locs[REIN_CONTRACT_ADM_LIMIT].line, 9);
  assert_int_equal(a->locs[REIN_CONTRACT_ADM_LIMIT].col, 12);
  assert_int_equal(a->locs[REIN_CONTRACT_ADM_PATHS].line, 33);
  /* The config is one rein_admit accepts. */
  rein_admit *adm = NULL;
  assert_int_equal(rein_admit_new(c, &adm), REIN_OK);
  rein_admit_free(adm);
  rein_contract_set_free(s);
}

static void test_defaults(void **state) {
  (void)state;
  rein_status st;
  rein_contract_set *s = load(HEAD "server:\n"
                                   "  admission: {queue: 8}\n",
                              &st);
  assert_int_equal(st, REIN_OK);
  const rein_contract_admission *a = NULL;
  assert_int_equal(rein_contract_admission_at(s, 0, &a), REIN_OK);
  rein_admit_config d;
  rein_admit_config_default(&d);
  const rein_admit_config *c = &a->admit;
  assert_string_equal(c->name, "ledger"); /* the service */
  assert_int_equal(c->limit, d.limit);
  assert_int_equal(c->queue_max, 8);
  /* rein_admit's default retry queue (32) follows a smaller queue, as the
   * nginx module does. */
  assert_int_equal(c->retry_queue_max, 8);
  assert_int_equal(c->target_ns, d.target_ns);
  assert_int_equal(c->interval_ns, d.interval_ns);
  assert_int_equal(c->max_wait_ns, d.max_wait_ns);
  assert_int_equal(c->retry_after_min_ns, d.retry_after_min_ns);
  assert_int_equal(c->retry_after_max_ns, d.retry_after_max_ns);
  assert_int_equal(c->rl_quota, 0);
  assert_false(c->adaptive);
  assert_true(c->lifo_when_overloaded);
  /* A proxy's default, as the module's. */
  assert_int_equal(c->dont_retry, REIN_ADMIT_DONT_RETRY_OVERLOADED);
  assert_int_equal(a->shed_status, 503);
  assert_int_equal(a->rate_limit_status, 429);
  assert_true(a->ratelimit_headers);
  assert_true(a->dont_retry_header);
  assert_string_equal(a->attempt_header, "Rein-Attempt");
  assert_null(a->upstream);
  assert_null(a->listen);
  assert_int_equal(a->nroutes, 0);
  assert_int_equal(a->locs[REIN_CONTRACT_ADM_LIMIT].line, 0);
  rein_contract_set_free(s);
}

static void test_errors(void **state) {
  (void)state;
  expect_one(HEAD "server:\n  admision: {limit: 4}\n",
             "7:3 E003 server: unknown field 'admision' (did you mean "
             "'admission'?)");
  expect_one(HEAD "server:\n  admission:\n    limt: 4\n",
             "8:5 E003 server.admission: unknown field 'limt' (did you mean "
             "'limit'?)");
  expect_one(HEAD "server:\n  admission:\n    limit: many\n",
             "8:12 E002 server.admission.limit: expected an integer, got "
             "'many'");
  expect_one(HEAD "server:\n  admission:\n    target: 20\n",
             "8:13 E004 server.admission.target: '20' has no unit");
  expect_one(HEAD "server:\n  admission:\n    dont_retry: overload\n",
             "8:17 E004 server.admission.dont_retry: 'overload' is not one "
             "of never, retries or overloaded (did you mean 'overloaded'?)");
  expect_one(HEAD "server:\n  admission:\n    lifo: maybe\n",
             "8:11 E004 server.admission.lifo: 'maybe' is not one of false "
             "or true");
  expect_one(HEAD "server:\n  admission:\n    shed_status: 200\n",
             "8:18 E004 server.admission.shed_status: must be in [400, 599], "
             "got 200");
  expect_one(HEAD "server:\n  admission:\n    upstream: 127.0.0.1:80\n",
             "8:15 E004 server.admission.upstream: '127.0.0.1:80' is not an "
             "http:// or https:// URL");
  expect_one(HEAD "server:\n  admission:\n    attempt_header: 'a b'\n",
             "8:21 E004 server.admission.attempt_header: 'a b' is not an "
             "HTTP header name");
  expect_one(HEAD "server:\n  admission:\n    paths: {charg: /c}\n",
             "8:13 E004 server.admission.paths.charg: no operation 'charg' "
             "in this contract (did you mean 'charge'?)");
  expect_one(HEAD "server:\n  admission:\n    paths: {charge: c}\n",
             "8:21 E004 server.admission.paths.charge: 'c' is not a URL path "
             "(a '/' first, no blanks, quotes, braces, ';' or '$')");
  expect_one(HEAD "server:\n  admission:\n    listen: 'a b'\n",
             "8:13 E004 server.admission.listen: 'a b' is not an address "
             "nginx can listen on");
  expect_one(HEAD "server:\n  admission:\n    rate_limit: {window: 1s}\n",
             "8:17 E005 server.admission.rate_limit: missing field 'quota'");
}

/* Bounds are rein_admit's: its message, at the field it names. */
static void test_admit_bounds(void **state) {
  (void)state;
  expect_one(HEAD "server:\n  admission:\n    limit: 0\n",
             "8:12 E004 server.admission.limit: rein_admit refuses the zone: "
             "admit.limit: must be in [1, 1048576], got 0");
  expect_one(HEAD "server:\n  admission:\n"
                  "    target: 10ms\n    interval: 5ms\n",
             "9:15 E004 server.admission.interval: rein_admit refuses the "
             "zone: admit.interval_ns: must be in [target_ns (10000000), "
             "600 s], got 5000000");
  expect_one(HEAD "server:\n  admission:\n"
                  "    queue: 8\n    retry_queue: 9\n",
             "9:18 E004 server.admission.retry_queue: rein_admit refuses the "
             "zone: admit.retry_queue_max: must be <= queue_max (8), got 9");
  expect_one(HEAD "server:\n  admission:\n"
                  "    rate_limit: {quota: 10, window: 500ms}\n",
             "8:37 E004 server.admission.rate_limit.window: rein_admit "
             "refuses the zone: admit.rl_window_ns: must be a whole number "
             "of seconds in [1 s, 1 day], got 500000000");
  expect_one(HEAD "server:\n  admission:\n    retry_after_spread: 5\n",
             "8:25 E004 server.admission.retry_after_spread: rein_admit "
             "refuses the zone: admit.retry_after_spread: must be in [0, 4], "
             "got 5");
  /* A zone name rein_admit cannot label its metrics with. */
  expect_one(HEAD "server:\n  admission:\n    zone: 'a b'\n",
             "8:11 E004 server.admission.zone: rein_admit refuses the zone: "
             "admit.name: must match [A-Za-z0-9_.:-]{1,64}, got \"a b\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_field),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_admit_bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
