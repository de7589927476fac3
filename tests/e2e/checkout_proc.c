/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkout_proc.c: start and stop examples/checkout for e2e tests, and the
 * HTTP helpers of checkout_proc.h.
 */
#include "checkout_proc.h"

#include "ledger_auth.h"
#include "rein_test.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void checkout_proc_start(checkout_proc *cp, const char *bin,
                         const char *contracts, unsigned ledger_port,
                         const char *const *extra) {
  memset(cp, 0, sizeof *cp);
  char tok[LEDGER_TOKEN_MAX + 1];
  ledger_proc_token("checkout", tok, sizeof tok);
  setenv("CHECKOUT_LEDGER_TOKEN", tok, 1);
  snprintf(cp->dir, sizeof cp->dir, "/tmp/rein-checkout.XXXXXX");
  assert_non_null(mkdtemp(cp->dir));
  char pf[96], log[96], url[64];
  snprintf(pf, sizeof pf, "%s/port", cp->dir);
  snprintf(log, sizeof log, "%s/checkout.log", cp->dir);
  snprintf(url, sizeof url, "http://127.0.0.1:%u", ledger_port);
  const char *argv[32] = {bin,       "--port",   "0", "--port-file",
                          pf,        "--ledger", url, "--contracts",
                          contracts, "--quiet"};
  int a = 10;
  for (int i = 0; extra && extra[i] && a < 31; i++)
    argv[a++] = extra[i];
  argv[a] = NULL;
  cp->pid = rein_test_spawn(argv, log);
  for (int i = 0; i < 1000 && !cp->port; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      if (fscanf(f, "%u", &cp->port) != 1) cp->port = 0;
      fclose(f);
    }
    if (!cp->port) rein_test_sleep_ms(5);
  }
  if (!cp->port) {
    kill(cp->pid, SIGKILL);
    waitpid(cp->pid, NULL, 0);
    cp->pid = 0;
    cp->dir[0] = '\0'; /* kept for its log */
    fail_msg("checkout did not start; see %s", log);
  }
}

void checkout_proc_stop(checkout_proc *cp) {
  if (cp->pid > 0) {
    kill(cp->pid, SIGTERM);
    waitpid(cp->pid, NULL, 0);
    cp->pid = 0;
  }
  ledger_proc_rmdir(cp->dir);
  cp->dir[0] = '\0';
}

long test_http(unsigned port, const char *path, const char *hdr,
               const char *body, http_resp *r) {
  memset(r, 0, sizeof *r);
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
  CURL *e = curl_easy_init();
  assert_non_null(e);
  struct curl_slist *h = hdr ? curl_slist_append(NULL, hdr) : NULL;
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_resp_on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_resp_on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  if (body) curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
  if (curl_easy_perform(e) == CURLE_OK)
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(e);
  curl_slist_free_all(h);
  return r->status;
}

uint64_t test_metric(unsigned port, const char *name) {
  static http_resp r; /* 20 KiB: not on the stack */
  assert_int_equal(test_http(port, "/metrics", NULL, NULL, &r), 200);
  size_t nl = strlen(name);
  for (const char *p = r.body; (p = strstr(p, name)); p += nl) {
    if ((p == r.body || p[-1] == '\n') && p[nl] == ' ')
      return strtoull(p + nl + 1, NULL, 10);
  }
  return 0;
}
