/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_hdrs.h: the request's header fields as the ledger hands them to
 * the idempotency helper. Plain buffers, no libmicrohttpd, so the fuzzer
 * drives exactly the code the service runs.
 */
#ifndef LEDGER_HDRS_H
#define LEDGER_HDRS_H

#include <stdbool.h>
#include <stddef.h>

#include "rein/idem_http.h"

/* Header fields a request may carry; more -> 431 (never dropped: a dropped
 * Idempotency-Key would run the charge unkeyed). */
#define LEDGER_HDR_MAX 256

typedef struct ledger_hdrs {
  rein_idem_http_header h[LEDGER_HDR_MAX];
  size_t n;
  bool truncated; /* a field did not fit: the set is not the request's */
} ledger_hdrs;

/* Appends one field (name and value borrowed; value NULL = ""). Returns
 * false, and marks the set truncated, once LEDGER_HDR_MAX are held. */
bool ledger_hdrs_add(ledger_hdrs *s, const char *name, const char *value);

/* The request's Idempotency-Key from the set: rein_idem_http_read_key's
 * answers (REIN_OK, REIN_ENOTFOUND, REIN_EPARSE, REIN_ETOOBIG). */
rein_status ledger_hdrs_key(const ledger_hdrs *s, char *out, size_t cap,
                            rein_errbuf *err);

#endif
