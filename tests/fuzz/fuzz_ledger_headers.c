/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ledger_headers.c: libFuzzer target for the ledger's header
 * collection and key reading (examples/ledger/ledger_hdrs.c over
 * rein_idem_http_read_key), with no sockets.
 *
 * The input is a request head: lines split at '\n' (a trailing '\r' is
 * dropped), each "name:value" at its first ':'. A line that starts with a
 * space or a tab is glued onto the previous field's NAME, which is what
 * libmicrohttpd 0.9.75 does with an obs-fold, so the fuzzer sees the names
 * the service sees. Every field is its own exact-size malloc'd copy.
 * Contract checked: the status is OK, ENOTFOUND, EPARSE or ETOOBIG; OK
 * means exactly one field is named Idempotency-Key, the set is complete,
 * and the key is 1-255 printable bytes; ENOTFOUND means no field is named
 * Idempotency-Key and the set is complete; a truncated set is always ETOOBIG.
 */
#include "ledger_hdrs.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void check(int cond) {
  if (!cond) abort();
}

#define LINES_MAX 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char *names[LINES_MAX], *values[LINES_MAX];
  size_t nf = 0;
  const char *p = (const char *)data, *end = p + size;
  while (p < end && nf < LINES_MAX) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) eol = end;
    size_t ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r') ll--;
    if (ll && (p[0] == ' ' || p[0] == '\t') && nf > 0) {
      /* obs-fold, glued onto the previous name as libmicrohttpd does */
      size_t ol = strlen(names[nf - 1]);
      char *nn = realloc(names[nf - 1], ol + ll + 1);
      check(nn != NULL);
      memcpy(nn + ol, p, ll);
      nn[ol + ll] = '\0';
      names[nf - 1] = nn;
    } else {
      const char *colon = memchr(p, ':', ll);
      size_t nl = colon ? (size_t)(colon - p) : ll;
      size_t vl = colon ? ll - nl - 1 : 0;
      const char *v = colon ? colon + 1 : "";
      while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
      names[nf] = malloc(nl + 1);
      values[nf] = malloc(vl + 1);
      check(names[nf] && values[nf]);
      memcpy(names[nf], p, nl);
      names[nf][nl] = '\0';
      memcpy(values[nf], v, vl);
      values[nf][vl] = '\0';
      nf++;
    }
    p = eol + 1;
  }
  ledger_hdrs hs = {.n = 0};
  for (size_t i = 0; i < nf; i++)
    ledger_hdrs_add(&hs, names[i], values[i]);
  char key[REIN_IDEM_HTTP_KEY_MAX + 1];
  rein_errbuf eb = {{0}};
  rein_status st = ledger_hdrs_key(&hs, key, sizeof key, &eb);
  check(st == REIN_OK || st == REIN_ENOTFOUND || st == REIN_EPARSE ||
        st == REIN_ETOOBIG);
  size_t exact = 0;
  for (size_t i = 0; i < hs.n; i++)
    if (strcasecmp(hs.h[i].name, REIN_HEADER_IDEM_KEY) == 0) exact++;
  check(hs.truncated == (nf > LEDGER_HDR_MAX));
  if (hs.truncated) check(st == REIN_ETOOBIG);
  if (st == REIN_OK) {
    check(exact == 1 && !hs.truncated);
    size_t kl = strlen(key);
    check(kl >= 1 && kl <= REIN_IDEM_HTTP_KEY_MAX);
    for (size_t i = 0; i < kl; i++)
      check(key[i] >= 0x20 && key[i] <= 0x7e);
  }
  if (st == REIN_ENOTFOUND) check(exact == 0 && !hs.truncated);
  if (exact > 1) check(st == REIN_EPARSE || st == REIN_ETOOBIG);
  if (st == REIN_EPARSE || st == REIN_ETOOBIG) check(eb.msg[0] != '\0');
  for (size_t i = 0; i < nf; i++) {
    free(names[i]);
    free(values[i]);
  }
  return 0;
}
