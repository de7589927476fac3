/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_interop_nginx.c: `rein export nginx` without nginx (the nginx_export
 * e2e part runs the snippet in Debian's nginx): the exact text for one
 * service, every value written in the module's grammar, the warnings for
 * what the module cannot say (at the contract's line:col), the service
 * filter, the errors when nothing has a server.admission block, and the
 * format table (export only: importing "nginx" is not found).
 */
#include "rein_test.h"
#include "rein/interop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rein_contract_set *load2(const char *a, const char *b) {
  rein_contract_set *s = NULL;
  assert_int_equal(rein_contract_set_new(NULL, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "a.yaml", a, strlen(a)),
                   REIN_OK);
  if (b)
    assert_int_equal(rein_contract_add_buffer(s, "b.yaml", b, strlen(b)),
                     REIN_OK);
  return s;
}

static const char ledger[] =
    "service: ledger\n"
    "version: 2024-06-01\n"
    "operations:\n"
    "  charge: {idempotency: key, key_ttl: 24h}\n"
    "server:\n"
    "  admission:\n"
    "    limit: 4\n"
    "    queue: 32\n"
    "    retry_queue: 4\n"
    "    target: 20ms\n"
    "    interval: 2m\n"
    "    rate_limit: {quota: 100, window: 2m}\n"
    "    upstream: http://127.0.0.1:8080\n"
    "    listen: 127.0.0.1:8081\n"
    "    paths: {charge: /charges}\n";

static const char want_ledger[] =
    "# Written by `rein export nginx`: rein's admission control for ledger "
    "2024-06-01,\n"
    "# as ngx_http_rein_module directives (docs/nginx.md). Include this file "
    "in\n"
    "# nginx's http {} block, with the module loaded (load_module\n"
    "# .../ngx_http_rein_module.so).\n"
    "\n"
    "rein_zone ledger limit=4\n"
    "          queue=32 retry_queue=4 target=20ms interval=2m max_wait=100ms "
    "lifo=on\n"
    "          retry_after_min=1s retry_after_max=1m retry_after_spread=0.00 "
    "rate_window=1s\n"
    "          rate=100/120s policy=default dont_retry=overloaded;\n"
    "\n"
    "server {\n"
    "    listen 127.0.0.1:8081;\n"
    "\n"
    "    # ledger.charge\n"
    "    location /charges {\n"
    "        rein_admit ledger;\n"
    "        rein_attempt_header Rein-Attempt;\n"
    "        rein_shed_status 503;\n"
    "        rein_rate_limit_status 429;\n"
    "        rein_ratelimit_headers on;\n"
    "        rein_dont_retry_header on;\n"
    "        proxy_pass http://127.0.0.1:8080;\n"
    "    }\n"
    "\n"
    "    # rein_admit's metrics of every zone (Prometheus text)\n"
    "    location = /metrics {\n"
    "        rein_metrics;\n"
    "        allow 127.0.0.1;\n"
    "        deny all;\n"
    "    }\n"
    "}\n";

static char *export(rein_contract_set *s, const char *svc, rein_status *st,
                    rein_interop **ixo) {
  rein_interop *ix = NULL;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  char *out = NULL;
  size_t n = 0;
  *st = rein_interop_export(ix, "nginx", s, svc, &out, &n);
  if (*st == REIN_OK) assert_int_equal(strlen(out), n);
  *ixo = ix;
  return out;
}

static void test_text(void **state) {
  (void)state;
  rein_contract_set *s = load2(ledger, NULL);
  rein_status st;
  rein_interop *ix;
  char *out = export(s, NULL, &st, &ix);
  assert_int_equal(st, REIN_OK);
  if (strcmp(out, want_ledger) != 0) fprintf(stderr, "got:\n%s", out);
  assert_string_equal(out, want_ledger);
  assert_int_equal(rein_interop_diag_count(ix), 0);
  rein_free(NULL, out);
  rein_interop_free(ix);
  rein_contract_set_free(s);
}

static void test_warnings(void **state) {
  (void)state;
  rein_contract_set *s = load2("service: w\n"
                               "version: 1.0.0\n"
                               "server:\n"
                               "  admission:\n"
                               "    adaptive: true\n"
                               "    aimd_backoff: 0.8\n"
                               "    target: 1500us\n"
                               "    retry_after_spread: 0.125\n",
                               NULL);
  rein_status st;
  rein_interop *ix;
  char *out = export(s, NULL, &st, &ix);
  assert_int_equal(st, REIN_OK);
  assert_non_null(strstr(out, " target=2ms "));
  assert_non_null(strstr(out, " retry_after_spread=0.13 ")); /* 0.125 up */
  assert_non_null(strstr(out, "    location / {\n"));
  assert_null(strstr(out, "listen"));
  assert_null(strstr(out, "proxy_pass"));
  struct {
    unsigned line, col;
    const char *field, *msg;
  } want[] = {
      {6, 19, "server.admission.aimd_backoff", "0.8 cannot be expressed"},
      {7, 13, "server.admission.target", "1500000 ns: nginx times are whole "
                                         "milliseconds: 2ms written"},
      {8, 25, "server.admission.retry_after_spread",
       "0.125: the nginx module reads two decimals: 0.13 written"},
      {5, 5, "server.admission.listen", "not set"},
      {5, 5, "server.admission.upstream", "not set"},
  };
  size_t nw = sizeof want / sizeof want[0];
  assert_int_equal(rein_interop_diag_count(ix), nw);
  for (size_t i = 0; i < nw; i++) {
    bool found = false;
    for (size_t k = 0; k < rein_interop_diag_count(ix) && !found; k++) {
      const rein_interop_diag *d = rein_interop_diag_at(ix, k);
      found = d->severity == REIN_INTEROP_WARNING &&
              d->loc.line == want[i].line && d->loc.col == want[i].col &&
              strcmp(d->loc.file, "a.yaml") == 0 &&
              strcmp(d->field, want[i].field) == 0 &&
              strstr(d->message, want[i].msg) != NULL;
    }
    if (!found) fprintf(stderr, "missing: %s %s\n", want[i].field, want[i].msg);
    assert_true(found);
  }
  rein_free(NULL, out);
  rein_interop_free(ix);
  rein_contract_set_free(s);
}

static void test_services(void **state) {
  (void)state;
  rein_contract_set *s =
      load2(ledger, "service: b\nversion: 1.0.0\nserver:\n  admission:\n"
                    "    zone: bee\n    limit: 2\n    listen: 8082\n");
  rein_status st;
  rein_interop *ix;
  /* Every service: both zones, two server blocks. */
  char *out = export(s, NULL, &st, &ix);
  assert_int_equal(st, REIN_OK);
  assert_non_null(strstr(out, "for ledger 2024-06-01, b 1.0.0,\n"));
  assert_non_null(strstr(out, "rein_zone ledger limit=4"));
  assert_non_null(strstr(out, "rein_zone bee limit=2"));
  assert_non_null(strstr(out, "    listen 8082;\n"));
  rein_free(NULL, out);
  rein_interop_free(ix);
  /* One service. */
  out = export(s, "b", &st, &ix);
  assert_int_equal(st, REIN_OK);
  assert_null(strstr(out, "rein_zone ledger"));
  assert_non_null(strstr(out, "rein_zone bee limit=2"));
  rein_free(NULL, out);
  rein_interop_free(ix);
  /* A service without the block. */
  out = export(s, "nope", &st, &ix);
  assert_int_equal(st, REIN_ENOTFOUND);
  assert_null(out);
  assert_non_null(strstr(rein_interop_diag_at(ix, 0)->message,
                         "nope has no server.admission block"));
  rein_interop_free(ix);
  rein_contract_set_free(s);
  /* No block at all (a caller's contract only). */
  s = load2("service: c\nversion: 1.0.0\n", NULL);
  out = export(s, NULL, &st, &ix);
  assert_int_equal(st, REIN_ENOTFOUND);
  assert_non_null(strstr(rein_interop_diag_at(ix, 0)->message,
                         "no contract has a server.admission block"));
  rein_interop_free(ix);
  rein_contract_set_free(s);
}

static void test_format_table(void **state) {
  (void)state;
  bool in_import = false, in_export = false, sdk_in = false,
       sdk_out = false;
  for (const char *const *f = rein_interop_formats(); *f; f++) {
    in_import |= strcmp(*f, "nginx") == 0;
    sdk_in |= strcmp(*f, "sdk") == 0;
  }
  for (const char *const *f = rein_interop_export_formats(); *f; f++) {
    in_export |= strcmp(*f, "nginx") == 0;
    sdk_out |= strcmp(*f, "sdk") == 0;
  }
  assert_false(in_import);
  assert_true(in_export);
  assert_true(sdk_in);   /* sdk is import only */
  assert_false(sdk_out);
  rein_interop *ix = NULL;
  assert_int_equal(rein_interop_new(NULL, &ix), REIN_OK);
  assert_int_equal(rein_interop_import_buffer(ix, "nginx", "x.conf", "x", 1),
                   REIN_ENOTFOUND);
  rein_interop_free(ix);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_services),
      cmocka_unit_test(test_format_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
