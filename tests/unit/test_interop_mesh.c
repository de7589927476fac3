/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_mesh.c: what `rein check` over a mixed directory stands on
 * in the libraries.
 *
 *  - rein_interop_detect names each format by content (gRPC methodConfig
 *    and retryThrottling; Envoy RouteConfiguration, Listener, Bootstrap,
 *    xDS resources, in snake_case and protobuf JSON names; Istio
 *    VirtualService, a multi-document manifest, a kubectl List) and
 *    nothing else (a rein contract, a Kubernetes Deployment, malformed
 *    text, an empty buffer, resources without "@type");
 *  - rein_contract_add_imported reports a call's findings at its origin's
 *    file:line:col (a file name holding colons included), and its calls
 *    join the contract of the same service whether that contract is added
 *    before or after it (no E006);
 *  - rein_contract_report adds an input error (has_load_errors).
 */
#include "rein_test.h"

#include "rein/contract.h"
#include "rein/interop.h"

#include <string.h>

static const char *detect(const char *text) {
  const char *f = NULL;
  rein_status st = rein_interop_detect(text, strlen(text), &f);
  assert_true(st == REIN_OK || st == REIN_ENOTFOUND);
  assert_true((st == REIN_OK) == (f != NULL));
  return f ? f : "-";
}

static void test_detect(void **state) {
  (void)state;
  assert_string_equal(detect("{\"methodConfig\": []}"), "grpc");
  assert_string_equal(detect("{\"retryThrottling\": {\"maxTokens\": 10}}"),
                      "grpc");
  assert_string_equal(detect("virtual_hosts: []\n"), "envoy");
  assert_string_equal(detect("{\"virtualHosts\": []}"), "envoy");
  assert_string_equal(detect("static_resources: {listeners: []}\n"), "envoy");
  assert_string_equal(detect("name: l\nfilter_chains: []\n"), "envoy");
  assert_string_equal(
      detect("resources:\n  - \"@type\": type.googleapis.com/x.Cluster\n"),
      "envoy");
  assert_string_equal(detect("apiVersion: networking.istio.io/v1\n"
                             "kind: VirtualService\n"),
                      "istio");
  assert_string_equal(detect("apiVersion: networking.istio.io/v1beta1\n"
                             "kind: VirtualService\n---\nkind: Service\n"),
                      "istio");
  assert_string_equal(detect("apiVersion: v1\nkind: List\nitems:\n"
                             "  - apiVersion: networking.istio.io/v1\n"),
                      "istio");
  assert_string_equal(detect("apiVersion: gateway.networking.k8s.io/v1\n"
                             "kind: HTTPRoute\n"),
                      "gateway");
  assert_string_equal(detect("apiVersion: gateway.networking.x-k8s.io/v1alpha1\n"
                             "kind: XBackendTrafficPolicy\n"),
                      "gateway");
  assert_string_equal(detect("apiVersion: linkerd.io/v1alpha2\n"
                             "kind: ServiceProfile\n"),
                      "linkerd");
  assert_string_equal(detect("apiVersion: gateway.networking.k8s.io/v1\n"
                             "kind: HTTPRoute\nmetadata:\n  annotations:\n"
                             "    retry.linkerd.io/http: 5xx\n"),
                      "linkerd");
  assert_string_equal(detect("apiVersion: v1\nkind: List\nitems:\n"
                             "  - apiVersion: linkerd.io/v1alpha2\n"),
                      "linkerd");
  /* not configs rein imports */
  assert_string_equal(detect("service: ledger\nversion: \"1\"\n"), "-");
  assert_string_equal(detect("apiVersion: apps/v1\nkind: Deployment\n"), "-");
  assert_string_equal(detect("resources:\n  - name: x\n"), "-");
  assert_string_equal(detect("virtual_hosts: [\n"), "-");
  assert_string_equal(detect("[1, 2]"), "-");
  const char *f = "x";
  assert_int_equal(rein_interop_detect("", 0, &f), REIN_ENOTFOUND);
  assert_null(f);
  /* never past len: the marker after the end is not seen */
  assert_int_equal(rein_interop_detect("{\"methodConfig\": []}", 5, &f),
                   REIN_ENOTFOUND);
  assert_int_equal(rein_interop_detect("x", 1, NULL), REIN_EINVAL);
}

static const char *ledger =
    "service: ledger\nversion: \"1\"\noperations:\n"
    "  post: {idempotency: none, timeout: 1s}\n";
static const char *imported =
    "service: ledger\nversion: \"1\"\ncalls:\n"
    "  - to: bank.pay\n    origin: \"a:b.yaml:41:7 route x\"\n"
    "    retry: {attempts: 3}\n";
static const char *bank =
    "service: bank\nversion: \"1\"\noperations:\n"
    "  pay: {idempotency: none, timeout: 1s}\n";

static void check_joined(rein_contract_set *s) {
  assert_false(rein_contract_has_load_errors(s));
  assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
  assert_int_equal(rein_contract_service_count(s), 2);
  bool r002 = false;
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    const rein_contract_diag *d = rein_contract_diag_at(s, i);
    assert_string_not_equal(d->rule, "E006");
    if (!strcmp(d->rule, "R002")) {
      r002 = true;
      assert_string_equal(d->loc.file, "a:b.yaml");
      assert_int_equal(d->loc.line, 41);
      assert_int_equal(d->loc.col, 7);
    }
  }
  assert_true(r002); /* a non-idempotent call retried: at the origin */
  const char *caller, *to;
  assert_int_equal(rein_contract_call_count(s), 1);
  assert_int_equal(rein_contract_call_at(s, 0, &caller, &to), REIN_OK);
  assert_string_equal(caller, "ledger");
  assert_string_equal(to, "bank.pay");
}

static void test_imported(void **state) {
  (void)state;
  for (int order = 0; order < 2; order++) {
    rein_contract_set *s;
    assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
    assert_int_equal(rein_contract_add_buffer(s, "bank.yaml", bank,
                                              strlen(bank)),
                     REIN_OK);
    if (order == 0)
      assert_int_equal(
          rein_contract_add_buffer(s, "ledger.yaml", ledger, strlen(ledger)),
          REIN_OK);
    assert_int_equal(rein_contract_add_imported(s, "gen", imported,
                                                strlen(imported)),
                     REIN_OK);
    if (order == 1)
      assert_int_equal(
          rein_contract_add_buffer(s, "ledger.yaml", ledger, strlen(ledger)),
          REIN_OK);
    check_joined(s);
    rein_contract_set_free(s);
  }
  /* the same text as a plain contract: findings at the text's lines */
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  rein_contract_add_buffer(s, "bank.yaml", bank, strlen(bank));
  rein_contract_add_buffer(s, "gen.yaml", imported, strlen(imported));
  rein_contract_check(s, NULL);
  bool seen = false;
  for (size_t i = 0; i < rein_contract_diag_count(s); i++) {
    const rein_contract_diag *d = rein_contract_diag_at(s, i);
    if (!strcmp(d->rule, "R002")) {
      seen = true;
      assert_string_equal(d->loc.file, "gen.yaml");
    }
  }
  assert_true(seen);
  rein_contract_set_free(s);
}

static void test_report(void **state) {
  (void)state;
  rein_contract_set *s;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  rein_contract_loc l = {"x.yaml", 3, 4};
  assert_int_equal(rein_contract_report(s, &l, REIN_CONTRACT_WARNING, "E004",
                                        "a warning", NULL),
                   REIN_OK);
  assert_false(rein_contract_has_load_errors(s));
  assert_int_equal(rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E003",
                                        "unknown field", "fix it"),
                   REIN_OK);
  assert_true(rein_contract_has_load_errors(s));
  const rein_contract_diag *d = rein_contract_diag_at(s, 1);
  assert_string_equal(d->loc.file, "x.yaml");
  assert_int_equal(d->loc.line, 3);
  assert_int_equal(rein_contract_report(s, NULL, REIN_CONTRACT_ERROR, "E003",
                                        "m", NULL),
                   REIN_EINVAL);
  rein_contract_set_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_imported),
      cmocka_unit_test(test_report),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
