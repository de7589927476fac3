/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enforce.c: the parts of a retry contract a client enforces across a call
 * boundary rather than within one call: the key a service sends downstream
 * for a keyed request it serves (pass-through, or derived from the inbound
 * key and the operation), the answer a service gives its own caller when
 * its downstream call gave up with "don't retry", and pacing by RateLimit
 * from one call to the next.
 *
 * Derivation is a keyed hash, not a random key, because a middle service
 * that retries, restarts or runs on another instance must send the same
 * downstream key for the same inbound request, and nothing has to be
 * stored for that. Pacing is one atomic time per client ("no call before
 * T"), written by every response that carries RateLimit: the freshest
 * answer wins, as the server's bucket is the truth.
 */
#include "curl_internal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ derivation */

static bool printable(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return false;
  return true;
}

rein_status rein_curl_derive_key(const char *inbound, const char *operation,
                                 const void *secret, size_t secret_len,
                                 char out[REIN_CURL_DERIVED_KEY_LEN + 1]) {
  if (!inbound || !out) return REIN_EINVAL;
  out[0] = '\0';
  size_t il = strlen(inbound);
  const char *op = operation ? operation : "";
  size_t ol = strlen(op);
  if (il == 0 || il > REIN_CURL_INBOUND_KEY_MAX || !printable(inbound, il))
    return REIN_EINVAL;
  if (ol > 127 || secret_len > 64 || (secret_len && !secret))
    return REIN_EINVAL;
  static const char tag[] = "rein-derive-v1";
  unsigned char msg[sizeof tag + 128 + REIN_CURL_INBOUND_KEY_MAX + 1];
  size_t n = 0;
  memcpy(msg, tag, sizeof tag); /* with its NUL: the separator */
  n += sizeof tag;
  memcpy(msg + n, op, ol);
  n += ol;
  msg[n++] = '\0';
  memcpy(msg + n, inbound, il);
  n += il;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdl = 0;
  if (secret_len) {
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, msg, n, md, &mdl))
      return REIN_EINVAL;
  } else if (!EVP_Digest(msg, n, md, &mdl, EVP_sha256(), NULL)) {
    return REIN_EINVAL;
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < REIN_CURL_DERIVED_KEY_LEN / 2; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 15];
  }
  out[REIN_CURL_DERIVED_KEY_LEN] = '\0';
  return REIN_OK;
}

rein_status rein__curl_inbound_key(rein_curl *c, const char *inbound,
                                   char out[64]) {
  size_t il = strlen(inbound);
  if (il == 0 || il > REIN_CURL_INBOUND_KEY_MAX || !printable(inbound, il))
    return REIN_EINVAL;
  if (c->cfg.keys == REIN_CURL_KEYS_PASS_THROUGH) {
    if (il >= 64) return REIN_EINVAL; /* rein_curl_result.key holds 63 */
    memcpy(out, inbound, il + 1);
    return REIN_OK;
  }
  rein_status st = rein_curl_derive_key(inbound, c->operation, c->secret,
                                        c->secret_len, out);
  if (st == REIN_OK)
    atomic_fetch_add_explicit(&c->n[RC_DERIVED], 1, memory_order_relaxed);
  return st;
}

/* ------------------------------------------------- don't retry, upward */

bool rein_curl_dont_retry_reply_for(const rein_curl_result *res,
                                    rein_curl_reply *out) {
  if (!out) return false;
  memset(out, 0, sizeof *out);
  if (!res || res->action != REIN_GIVE_UP || !res->dont_retry) return false;
  out->status = 503;
  out->grpc_status = 14; /* UNAVAILABLE */
  out->headers[0].name = REIN_HEADER_DONT_RETRY;
  out->headers[0].value = "?1";
  out->count = 1;
  if (res->server_delay_ns > 0) {
    /* Retry-After in whole seconds, rounded up: a caller that retries
     * anyway (it does not read Rein-Dont-Retry) waits at least as long as
     * the layer below asked. */
    int64_t s = (res->server_delay_ns + REIN_NS_PER_S - 1) / REIN_NS_PER_S;
    snprintf(out->store_, sizeof out->store_, "%lld", (long long)s);
    out->headers[1].name = REIN_HEADER_RETRY_AFTER;
    out->headers[1].value = out->store_;
    out->count = 2;
  }
  out->grpc_trailer.name = REIN_HEADER_GRPC_PUSHBACK;
  out->grpc_trailer.value = "-1";
  return true;
}

/* ---------------------------------------------------------------- pacing */

void rein__curl_pace_note(rein_curl *c, const rein_signals *sig, int64_t now) {
  if (!c->pace) return;
  int64_t wait = rein_signals_pace_ns(sig);
  if (wait < 0) return; /* no RateLimit in this response */
  atomic_store_explicit(&c->pace_until, wait > 0 ? now + wait : INT64_MIN,
                        memory_order_relaxed);
}

int64_t rein_curl_pace_ns(const rein_curl *cc, int64_t now) {
  if (!cc || !cc->pace) return 0;
  rein_curl *c = (rein_curl *)cc; /* the atomic is the only mutable part */
  int64_t until = atomic_load_explicit(&c->pace_until, memory_order_relaxed);
  if (until == INT64_MIN || until <= now) return 0;
  int64_t wait = until - now;
  return wait > c->cfg.pace_max_ns ? c->cfg.pace_max_ns : wait;
}
