/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem_http_fuzz.c: libFuzzer target for the untrusted-input parts of
 * the HTTP idempotency helper (built only with REIN_FUZZ and clang).
 *
 * The Idempotency-Key field comes straight from clients, so the parser must
 * never read past `len`, crash, or accept something it cannot give back:
 * every accepted key must survive format -> parse unchanged. The same bytes
 * are also used as the `detail` of a problem body, which must come out as a
 * JSON object with no raw control bytes and balanced string quotes.
 */
#include "rein/idem_http.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *s, size_t n) {
  if (n < 2 || s[0] != '{' || s[n - 1] != '}') abort();
  bool in = false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20) abort();
    if (in && c == '\\') {
      i++;
      if (i >= n) abort();
      continue;
    }
    if (c == '"') in = !in;
  }
  if (in) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[256], fmt[600], back[256];
  size_t n = 0, fl = 0;
  rein_errbuf eb;
  rein_status st = rein_idem_http_parse_key((const char *)data, size, out,
                                            sizeof out, &n, &eb);
  if (st == REIN_OK) {
    if (n < 1 || n > 255 || strlen(out) != n) abort();
    if (rein_idem_http_format_key(out, n, fmt, sizeof fmt, &fl) != REIN_OK)
      abort();
    if (rein_idem_http_parse_key(fmt, fl, back, sizeof back, NULL, NULL) !=
            REIN_OK ||
        strcmp(back, out) != 0)
      abort();
  } else if (st != REIN_EPARSE) {
    abort();
  }
  char *detail = malloc(size + 1);
  if (!detail) return 0;
  memcpy(detail, data, size);
  detail[size] = '\0';
  size_t need = 0;
  rein_idem_http_problem(NULL, 0, &need, "urn:x", "t", 400, detail);
  char *buf = malloc(need + 1);
  if (buf) {
    if (rein_idem_http_problem(buf, need + 1, NULL, "urn:x", "t", 400,
                               detail) != REIN_OK)
      abort();
    check_json(buf, strlen(buf));
    free(buf);
  }
  free(detail);
  return 0;
}
