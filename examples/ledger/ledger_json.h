/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_json.h: the little JSON the ledger needs, on jansson: read one
 * flat request object, write escaped strings.
 */
#ifndef LEDGER_JSON_H
#define LEDGER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_ACCOUNT_MAX 64
#define LEDGER_REF_MAX 128

typedef struct ledger_charge_req {
  char account[LEDGER_ACCOUNT_MAX + 1];
  int64_t amount_cents;
  char ref[LEDGER_REF_MAX + 1]; /* optional client reference; "" if absent */
  bool has_ref;
} ledger_charge_req;

/*
 * Parses {"account": "...", "amount_cents": N, "ref": "..."} (ref optional;
 * other members with scalar values are ignored; duplicate members, nested
 * values and text after the object are refused). On failure returns false,
 * leaves `out` zeroed and writes "field: what was expected" into why (cap
 * bytes), e.g. "body: end of file expected near 'x' (line 1, column 30)".
 */
bool ledger_parse_charge(const char *body, size_t len, ledger_charge_req *out,
                         char *why, size_t cap);

/* Appends s as a JSON string literal to buf (at *len, cap total, always
 * NUL-terminated), never overrunning; bytes that are not UTF-8 become
 * U+FFFD. Returns false (and leaves *len) when it did not fit. */
bool ledger_json_str(char *buf, size_t cap, size_t *len, const char *s);

#endif
