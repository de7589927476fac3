/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_hdrs.c: collect a request's header fields for the idempotency
 * helper without ever dropping one silently.
 *
 * The set is fixed-size (the head is bounded by libmicrohttpd's pool
 * anyway); the field after the last slot marks it truncated instead of
 * vanishing, and the helper answers 431 for a truncated set: a key, or a
 * second key, may have been among the fields that did not fit.
 */
#include "ledger_hdrs.h"

bool ledger_hdrs_add(ledger_hdrs *s, const char *name, const char *value) {
  if (s->n == LEDGER_HDR_MAX) {
    s->truncated = true;
    return false;
  }
  s->h[s->n].name = name;
  s->h[s->n].value = value ? value : "";
  s->n++;
  return true;
}

rein_status ledger_hdrs_key(const ledger_hdrs *s, char *out, size_t cap,
                            rein_errbuf *err) {
  rein_idem_http_request r = {
      .method = "POST",
      .route = "/charges",
      .headers = s->h,
      .n_headers = s->n,
      .headers_truncated = s->truncated,
  };
  return rein_idem_http_read_key(&r, out, cap, err);
}
