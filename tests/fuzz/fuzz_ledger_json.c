/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ledger_json.c: libFuzzer target for examples/ledger's request
 * reader (ledger_json.c).
 *
 * The input is the POST /charges body, copied into a malloc'd buffer of
 * exactly its size (ASan reports any read past `len`: the reader gets no
 * NUL), and an empty input is passed as NULL, as libmicrohttpd does for
 * Content-Length: 0. Beyond "no crash, no UB", the target checks the
 * contract: a failure says why in "field: ..." form; a success has a
 * valid account, an amount in range and a printable ref, and the account
 * written back with ledger_json_str fits and is NUL-terminated.
 */
#include "ledger_json.h"

#include <stdlib.h>
#include <string.h>

static void check(int cond) {
  if (!cond) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 70 * 1024) return 0; /* the ledger refuses > 64 KiB bodies */
  char *body = size ? malloc(size) : NULL;
  if (size && !body) return 0;
  if (size) memcpy(body, data, size);
  ledger_charge_req req;
  char why[256];
  why[0] = '\0';
  bool ok = ledger_parse_charge(body, size, &req, why, sizeof why);
  if (!ok) {
    check(why[0] != '\0' && strchr(why, ':') != NULL);
  } else {
    check(req.account[0] != '\0');
    check(strlen(req.account) <= LEDGER_ACCOUNT_MAX);
    check(req.amount_cents >= 1 && req.amount_cents <= INT64_C(100000000000));
    check(strlen(req.ref) <= LEDGER_REF_MAX);
    for (const char *p = req.ref; *p; p++)
      check((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e);
    check(req.has_ref || req.ref[0] == '\0');
    char out[2 * 6 * LEDGER_REF_MAX + 8];
    size_t n = 0;
    check(ledger_json_str(out, sizeof out, &n, req.account));
    check(n < sizeof out && out[n] == '\0' && out[0] == '"');
    n = 0;
    check(ledger_json_str(out, sizeof out, &n, req.ref));
  }
  /* Small caps for the reason never overrun. */
  char tiny[4] = "";
  ledger_parse_charge(body, size, &req, tiny, sizeof tiny);
  check(strlen(tiny) < sizeof tiny);
  free(body);
  return 0;
}
