/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_auth.c: HMAC-SHA256 bearer tokens for the example ledger.
 *
 * The principal is whatever a verified token names, never a header the
 * client may set freely: the idempotency scope (principal, operation) is
 * only a boundary between callers if callers cannot claim each other's
 * names. libcrypto does the HMAC; CRYPTO_memcmp compares MACs in constant
 * time so a forger learns nothing from the timing of a refusal.
 */
#include "ledger_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOMAIN "rein-ledger-token-v1:"

int ledger_auth_load_key(const char *file, ledger_key *key, char *err,
                         size_t cap) {
  memset(key, 0, sizeof *key);
  const char *src = file ? file : "$" LEDGER_AUTH_KEY_ENV;
  if (file) {
    FILE *f = fopen(file, "rb");
    if (!f) {
      snprintf(err, cap, "ledger: --auth-key-file %s: cannot open", file);
      return -1;
    }
    key->len = fread(key->k, 1, sizeof key->k, f);
    int more = fgetc(f);
    fclose(f);
    if (more != EOF) {
      snprintf(err, cap, "ledger: --auth-key-file %s: longer than %d bytes",
               file, LEDGER_KEY_MAX);
      return -1;
    }
  } else {
    const char *e = getenv(LEDGER_AUTH_KEY_ENV);
    if (!e || !*e) {
      snprintf(err, cap,
               "ledger: no authentication key: give --auth-key-file PATH or "
               "set %s (at least %d bytes; e.g. `openssl rand -hex 32`)",
               LEDGER_AUTH_KEY_ENV, LEDGER_KEY_MIN);
      return -1;
    }
    size_t n = strlen(e);
    if (n > sizeof key->k) {
      snprintf(err, cap, "ledger: %s: longer than %d bytes", src,
               LEDGER_KEY_MAX);
      return -1;
    }
    memcpy(key->k, e, n);
    key->len = n;
  }
  if (key->len && key->k[key->len - 1] == '\n') key->len--;
  if (key->len && key->k[key->len - 1] == '\r') key->len--;
  if (key->len < LEDGER_KEY_MIN) {
    snprintf(err, cap, "ledger: %s: the key must be at least %d bytes, got %zu",
             src, LEDGER_KEY_MIN, key->len);
    return -1;
  }
  return 0;
}

bool ledger_auth_principal_ok(const char *p) {
  size_t n = 0;
  for (; p[n]; n++) {
    char c = p[n];
    if (n >= LEDGER_PRINCIPAL_MAX ||
        !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '@' ||
          c == '-'))
      return false;
  }
  return n > 0;
}

static bool mac_hex(const ledger_key *key, const char *p, size_t n,
                    char hex[65]) {
  unsigned char msg[sizeof DOMAIN - 1 + LEDGER_PRINCIPAL_MAX];
  memcpy(msg, DOMAIN, sizeof DOMAIN - 1);
  memcpy(msg + sizeof DOMAIN - 1, p, n);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  if (!HMAC(EVP_sha256(), key->k, (int)key->len, msg, sizeof DOMAIN - 1 + n, md,
            &ml) ||
      ml != 32)
    return false;
  static const char digits[] = "0123456789abcdef";
  for (unsigned i = 0; i < 32; i++) {
    hex[2 * i] = digits[md[i] >> 4];
    hex[2 * i + 1] = digits[md[i] & 15];
  }
  hex[64] = '\0';
  return true;
}

bool ledger_auth_mint(const ledger_key *key, const char *principal, char *out,
                      size_t cap) {
  if (!ledger_auth_principal_ok(principal) || cap < LEDGER_TOKEN_MAX + 1)
    return false;
  size_t n = strlen(principal);
  char hex[65];
  if (!mac_hex(key, principal, n, hex)) return false;
  snprintf(out, cap, "%s.%s", principal, hex);
  return true;
}

bool ledger_auth_verify(const ledger_key *key, const char *token, size_t len,
                        char *principal, size_t cap) {
  if (len < 66 || len > LEDGER_TOKEN_MAX || cap < LEDGER_PRINCIPAL_MAX + 1)
    return false;
  size_t n = len - 65;
  if (token[n] != '.') return false;
  char p[LEDGER_PRINCIPAL_MAX + 1];
  memcpy(p, token, n);
  p[n] = '\0';
  if (strlen(p) != n || !ledger_auth_principal_ok(p)) return false;
  char hex[65];
  if (!mac_hex(key, p, n, hex)) return false;
  if (CRYPTO_memcmp(hex, token + n + 1, 64) != 0) return false;
  memcpy(principal, p, n + 1);
  return true;
}
