/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_ledger_helper.c: what the HTTP idempotency helper itself costs per
 * request, without HTTP or a database: rein_idem_http_begin + complete for
 * a new key (the PROCEED path), and begin for a completed key (the REPLAY
 * path), on the memory store, single thread. The ledger benchmark
 * (bench_ledger.sh) measures the whole service; this isolates the helper's
 * share (parsing, SHA-256 fingerprint and record id, the store's map,
 * building and copying the response).
 *
 * Usage: bench_ledger_helper [N]   (default 200000 requests per path)
 */
#include "rein/clock.h"
#include "rein/idem_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char BODY[] = "{\"account\":\"acct_bench\",\"amount_cents\":1250}";

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  if (n < 1) n = 1;
  rein_idem_store *store = NULL;
  rein_idem_http *h = NULL;
  if (rein_idem_mem_new(NULL, &store) != REIN_OK ||
      rein_idem_http_new(NULL, &h) != REIN_OK)
    return 1;
  char *keys = malloc((size_t)n * 48);
  if (!keys) return 1;
  for (long i = 0; i < n; i++)
    snprintf(keys + i * 48, 48, "\"bench-%ld-8e03978e-40d5\"", i);
  rein_idem_http_header rh[1] = {{"Content-Type", "application/json"}};
  const char rbody[] = "{\"id\":1,\"principal\":\"bench\",\"account\":"
                       "\"acct_bench\",\"amount_cents\":1250}";
  rein_idem_http_response resp = {201, rh, 1, rbody, strlen(rbody)};
  rein_clock mono = rein_clock_monotonic();
  int64_t t0 = rein_clock_now(&mono);
  for (long i = 0; i < n; i++) {
    rein_idem_http_header hs[3] = {{"Content-Type", "application/json"},
                                   {"Authorization", "Bearer bench"},
                                   {"Idempotency-Key", keys + i * 48}};
    rein_idem_http_request req = {.method = "POST",
                                  .route = "/charges",
                                  .principal = "bench",
                                  .headers = hs,
                                  .n_headers = 3,
                                  .body = BODY,
                                  .body_len = strlen(BODY),
                                  .key_required = true};
    rein_idem_http_exchange *x = NULL;
    if (rein_idem_http_begin(h, store, &req, &x) != REIN_OK ||
        rein_idem_http_exchange_action(x) != REIN_IDEM_HTTP_PROCEED ||
        rein_idem_http_complete(x, &resp, NULL) != REIN_OK)
      return 1;
    rein_idem_http_exchange_free(x);
  }
  int64_t t1 = rein_clock_now(&mono);
  for (long i = 0; i < n; i++) {
    rein_idem_http_header hs[3] = {{"Content-Type", "application/json"},
                                   {"Authorization", "Bearer bench"},
                                   {"Idempotency-Key", keys + i * 48}};
    rein_idem_http_request req = {.method = "POST",
                                  .route = "/charges",
                                  .principal = "bench",
                                  .headers = hs,
                                  .n_headers = 3,
                                  .body = BODY,
                                  .body_len = strlen(BODY),
                                  .key_required = true};
    rein_idem_http_exchange *x = NULL;
    if (rein_idem_http_begin(h, store, &req, &x) != REIN_OK ||
        rein_idem_http_exchange_action(x) != REIN_IDEM_HTTP_REPLAY)
      return 1;
    rein_idem_http_exchange_free(x);
  }
  int64_t t2 = rein_clock_now(&mono);
  double new_ns = (double)(t1 - t0) / (double)n;
  double rep_ns = (double)(t2 - t1) / (double)n;
  printf("# idem_http helper, memory store, 1 thread, %ld requests per path\n",
         n);
  printf("%-28s %10.0f ns/request %12.0f requests/s\n",
         "begin+complete (new key)", new_ns, 1e9 / new_ns);
  printf("%-28s %10.0f ns/request %12.0f requests/s\n", "begin (replay)",
         rep_ns, 1e9 / rep_ns);
  free(keys);
  rein_idem_http_free(h);
  rein_idem_store_free(store);
  return 0;
}
