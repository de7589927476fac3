/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_auth.h: the ledger's credentials. A bearer token names a principal
 * and proves that whoever minted it held the ledger's key:
 *
 *   token = PRINCIPAL "." hex(HMAC-SHA256(key, "rein-ledger-token-v1:"
 * PRINCIPAL))
 *
 * PRINCIPAL is 1-64 characters of [A-Za-z0-9_:@-]; the reserved principal
 * "_admin" may call the admin endpoints. The key (32 bytes or more) comes
 * from a file or the LEDGER_AUTH_KEY environment variable, never from the
 * command line. Tokens do not expire: a real service adds an expiry and a
 * key id. The one implementation of minting, used by the ledger's
 * --mint-token and by the tests. Pure functions; thread-safe.
 */
#ifndef LEDGER_AUTH_H
#define LEDGER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_PRINCIPAL_MAX 64
#define LEDGER_KEY_MIN 32
#define LEDGER_KEY_MAX 1024
#define LEDGER_TOKEN_MAX (LEDGER_PRINCIPAL_MAX + 1 + 64)
#define LEDGER_ADMIN_PRINCIPAL "_admin"
#define LEDGER_AUTH_KEY_ENV "LEDGER_AUTH_KEY"

typedef struct ledger_key {
  uint8_t k[LEDGER_KEY_MAX];
  size_t len;
} ledger_key;

/* Reads the key from `file` (its bytes, one trailing newline dropped) or,
 * when file is NULL, from $LEDGER_AUTH_KEY. 0, or -1 with the reason in
 * err (cap bytes). */
int ledger_auth_load_key(const char *file, ledger_key *key, char *err,
                         size_t cap);

/* Whether `p` is a valid principal name. */
bool ledger_auth_principal_ok(const char *p);

/* Writes the token for `principal` into out (cap >= LEDGER_TOKEN_MAX + 1);
 * false when the principal is invalid or cap too small. */
bool ledger_auth_mint(const ledger_key *key, const char *principal, char *out,
                      size_t cap);

/* Verifies `token` (len bytes); on success writes its principal into
 * principal (cap >= LEDGER_PRINCIPAL_MAX + 1). The MAC is compared in
 * constant time. */
bool ledger_auth_verify(const ledger_key *key, const char *token, size_t len,
                        char *principal, size_t cap);

#endif
