/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idem.c: the idempotency store's front end, shared by every backend.
 *
 * Everything that must behave identically on all four backends lives here
 * rather than in each backend: argument limits and their messages, the
 * record id (SHA-256 over the length-prefixed principal, operation and key,
 * so principals can never collide by concatenation), the claim nonce
 * (getrandom(2), fetched 32 at a time per store: a fencing token must not
 * be guessable or repeat after a purge), the error-caching policy, the response cap, and the one decision
 * function the clock-driven backends use. Backends see only validated
 * input.
 */
#include "idem_internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

/* ---- config and store -------------------------------------------------- */

static int64_t wall_now(void *ctx) {
  (void)ctx;
  return rein_clock_wall_ns();
}

void rein_idem_config_default(rein_idem_config *c) {
  memset(c, 0, sizeof *c);
  c->max_response = REIN_IDEM_DEFAULT_MAX_RESPONSE;
  c->cacheable = NULL;
  c->clock.now_ns = NULL;
}

bool rein_idem_cacheable_default(void *ctx, int status) {
  (void)ctx;
  if (status >= 200 && status <= 399) return true;
  if (status >= 400 && status <= 499) return status != 409 && status != 429;
  return false;
}

rein_status rein__idem_errbuf(rein_errbuf *err, rein_status st, const char *fmt,
                              ...) {
  va_list ap;
  va_start(ap, fmt);
  rein_errbuf_vset(err, st, fmt, ap);
  va_end(ap);
  return st;
}

rein_status rein__idem_store_alloc(const rein_idem_config *c,
                                   const rein__idem_vtable *vt,
                                   rein_idem_store **out) {
  rein_idem_config def;
  if (!c) {
    rein_idem_config_default(&def);
    c = &def;
  }
  if (!out) return rein__idem_errbuf(c->err, REIN_EINVAL, "idem: out is NULL");
  *out = NULL;
  if (c->max_response > ((size_t)1 << 30))
    return rein__idem_errbuf(c->err, REIN_EINVAL,
                             "idem.max_response: must be in [0, 1 GiB], got "
                             "%zu",
                             c->max_response);
  rein_idem_store *s = rein_calloc(c->alloc, sizeof *s);
  if (!s)
    return rein__idem_errbuf(c->err, REIN_ENOMEM,
                             "idem: out of memory allocating the store");
  s->vt = vt;
  s->max_response = c->max_response;
  s->cacheable = c->cacheable ? c->cacheable : rein_idem_cacheable_default;
  s->cacheable_ctx = c->cacheable_ctx;
  s->clock = c->clock;
  if (!s->clock.now_ns) {
    s->clock.now_ns = wall_now;
    s->clock.ctx = NULL;
  }
  s->alloc = c->alloc;
  pthread_mutex_init(&s->errlock, NULL);
  pthread_mutex_init(&s->nonce_lock, NULL);
  *out = s;
  return REIN_OK;
}

void rein__idem_store_dealloc(rein_idem_store *s) {
  if (!s) return;
  pthread_mutex_destroy(&s->errlock);
  pthread_mutex_destroy(&s->nonce_lock);
  explicit_bzero(s->nonce_pool, sizeof s->nonce_pool);
  rein_free(s->alloc, s);
}

void rein_idem_store_free(rein_idem_store *s) {
  if (!s) return;
  if (s->vt && s->vt->destroy) s->vt->destroy(s);
  rein__idem_store_dealloc(s);
}

const char *rein_idem_store_backend(const rein_idem_store *s) {
  return s && s->vt ? s->vt->name : "none";
}

const char *rein_idem_store_errmsg(const rein_idem_store *s) {
  return s ? s->errmsg : "";
}

void rein_idem_store_errmsg_copy(const rein_idem_store *s, char *buf,
                                 size_t cap) {
  if (!buf || cap == 0) return;
  if (!s) {
    buf[0] = '\0';
    return;
  }
  rein_idem_store *m = (rein_idem_store *)s;
  pthread_mutex_lock(&m->errlock);
  snprintf(buf, cap, "%s", s->errmsg);
  pthread_mutex_unlock(&m->errlock);
}

rein_status rein__idem_fail(rein_idem_store *s, rein_status st, const char *fmt,
                            ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&s->errlock);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  pthread_mutex_unlock(&s->errlock);
  va_end(ap);
  return st;
}

bool rein__idem_valid_ident(const char *s) {
  if (!s || !*s) return false;
  size_t n = strlen(s);
  if (n > 63) return false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool alpha =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
    bool digit = ch >= '0' && ch <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

void rein__idem_hex(const uint8_t id[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[id[i] >> 4];
    hex[2 * i + 1] = digits[id[i] & 15];
  }
  hex[64] = '\0';
}

/* ---- hashing ----------------------------------------------------------- */

/* SHA-256, fetched from OpenSSL's default provider once per process.
 * EVP_DigestInit_ex with EVP_sha256() fetches the implementation on every
 * call (OpenSSL 3: a provider lookup under locks, ~6,400 instructions,
 * two thirds of a memory-store begin); the fetched EVP_MD is immutable
 * and thread-safe to share, so this is the one process-wide cache here,
 * set once through pthread_once and never freed (as OpenSSL's own
 * algorithm caches are kept until exit). NULL when the fetch failed:
 * digest() then falls back to EVP_sha256(). */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void sha256_fetch(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void) {
  pthread_once(&sha256_once, sha256_fetch);
  return sha256_md ? sha256_md : EVP_sha256();
}

static rein_status sha_parts(const char *tag, const rein_idem_bytes *parts,
                             size_t n, uint8_t out[32]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) return REIN_ENOMEM;
  int ok = EVP_DigestInit_ex(md, sha256(), NULL);
  if (ok && tag) ok = EVP_DigestUpdate(md, tag, strlen(tag) + 1);
  for (size_t i = 0; ok && i < n; i++) {
    uint8_t len[8];
    uint64_t l = parts[i].len;
    for (int b = 7; b >= 0; b--) {
      len[b] = (uint8_t)(l & 0xff);
      l >>= 8;
    }
    ok = EVP_DigestUpdate(md, len, sizeof len);
    if (ok && parts[i].len)
      ok = EVP_DigestUpdate(md, parts[i].data, parts[i].len);
  }
  unsigned int outlen = 0;
  if (ok) ok = EVP_DigestFinal_ex(md, out, &outlen);
  EVP_MD_CTX_free(md);
  return ok && outlen == 32 ? REIN_OK : REIN_EIO;
}

rein_status rein_idem_fingerprint(const void *data, size_t len,
                                  uint8_t out[32]) {
  if (!out || (!data && len)) return REIN_EINVAL;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) return REIN_ENOMEM;
  unsigned int outlen = 0;
  int ok = EVP_DigestInit_ex(md, sha256(), NULL) &&
           (len == 0 || EVP_DigestUpdate(md, data, len)) &&
           EVP_DigestFinal_ex(md, out, &outlen);
  EVP_MD_CTX_free(md);
  return ok && outlen == 32 ? REIN_OK : REIN_EIO;
}

rein_status rein_idem_fingerprint_parts(const rein_idem_bytes *parts, size_t n,
                                        uint8_t out[32]) {
  if (!out || (!parts && n)) return REIN_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!parts[i].data && parts[i].len) return REIN_EINVAL;
  return sha_parts(NULL, parts, n, out);
}

/* ---- decisions --------------------------------------------------------- */

bool rein__idem_expired(int state, int64_t expires, int64_t lease_until,
                        int64_t now) {
  if (now < expires) return false;
  return !(state == REIN__IDEM_LEASED && lease_until > now);
}

rein__idem_act rein__idem_decide(const rein__idem_view *v, const uint8_t fp[32],
                                 int64_t now) {
  if (!v || rein__idem_expired(v->state, v->expires, v->lease_until, now))
    return REIN__IDEM_ACT_FRESH;
  if (v->state == REIN__IDEM_RELEASED) return REIN__IDEM_ACT_RECLAIM;
  if (memcmp(v->fp, fp, 32) != 0) return REIN__IDEM_ACT_MISMATCH;
  if (v->state == REIN__IDEM_COMPLETED) return REIN__IDEM_ACT_REPLAY;
  if (v->lease_until > now) return REIN__IDEM_ACT_BUSY;
  return REIN__IDEM_ACT_RECOVER;
}

rein_status rein__idem_set_replay(rein_idem_store *s, rein_idem_result *out,
                                  int status, const void *hd, size_t hl,
                                  const void *bd, size_t bl,
                                  int64_t expires_in) {
  char *buf = rein_alloc(s->alloc, hl + bl + 2);
  if (!buf) {
    rein_idem_result_clear(out);
    return rein__idem_fail(s, REIN_ENOMEM,
                           "idem: out of memory copying a stored response "
                           "of %zu bytes",
                           hl + bl);
  }
  if (hl) memcpy(buf, hd, hl);
  buf[hl] = '\0';
  if (bl) memcpy(buf + hl + 1, bd, bl);
  buf[hl + 1 + bl] = '\0';
  out->outcome = REIN_IDEM_REPLAY;
  out->response.status = status;
  out->response.headers = buf;
  out->response.headers_len = hl;
  out->response.body = buf + hl + 1;
  out->response.body_len = bl;
  out->expires_in_ns = expires_in > 0 ? expires_in : 0;
  out->priv_buf_ = buf;
  out->priv_alloc_ = s->alloc;
  return REIN_OK;
}

void rein__idem_set_new(rein_idem_result *out, const uint8_t id[32],
                        uint64_t fence, uint64_t nonce, bool recovered,
                        const char *phase, size_t phase_len,
                        int64_t expires_in) {
  out->outcome = REIN_IDEM_NEW;
  memcpy(out->token.id, id, 32);
  out->token.fence = fence;
  out->token.nonce = nonce;
  out->recovered = recovered;
  if (phase_len > REIN_IDEM_PHASE_MAX) phase_len = REIN_IDEM_PHASE_MAX;
  if (recovered && phase && phase_len) memcpy(out->phase, phase, phase_len);
  out->phase[recovered ? phase_len : 0] = '\0';
  out->expires_in_ns = expires_in > 0 ? expires_in : 0;
}

void rein_idem_result_clear(rein_idem_result *r) {
  if (!r) return;
  if (r->priv_buf_) rein_free(r->priv_alloc_, r->priv_buf_);
  memset(r, 0, sizeof *r);
}

const char *rein_idem_outcome_name(rein_idem_outcome o) {
  switch (o) {
  case REIN_IDEM_NEW:
    return "NEW";
  case REIN_IDEM_REPLAY:
    return "REPLAY";
  case REIN_IDEM_IN_PROGRESS:
    return "IN_PROGRESS";
  case REIN_IDEM_MISMATCH:
    return "MISMATCH";
  default:
    return "NONE";
  }
}

/* ---- operations -------------------------------------------------------- */

static rein_status check_text(rein_idem_store *s, const char *what,
                              const char *v, size_t *len) {
  size_t n = strnlen(v, REIN_IDEM_SCOPE_MAX + 1);
  if (n > REIN_IDEM_SCOPE_MAX)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: %s: must be at most 255 bytes, got more; "
                           "use a shorter name",
                           what);
  *len = n;
  return REIN_OK;
}

static rein_status check_key(rein_idem_store *s, const char *key) {
  if (!key)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: key: must be 1..255 printable ASCII bytes, "
                           "got NULL");
  size_t n = strnlen(key, REIN_IDEM_KEY_MAX + 1);
  if (n == 0 || n > REIN_IDEM_KEY_MAX)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: key: must be 1..255 printable ASCII bytes, "
                           "got %s",
                           n == 0 ? "an empty key" : "more than 255 bytes");
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)key[i];
    if (ch < 0x20 || ch > 0x7e)
      return rein__idem_fail(s, REIN_EINVAL,
                             "idem: key: byte %zu is 0x%02x; only printable "
                             "ASCII (0x20..0x7e) is allowed",
                             i, ch);
  }
  return REIN_OK;
}

static rein_status check_lease(rein_idem_store *s, const char *what,
                               int64_t ns) {
  if (ns < REIN_NS_PER_MS || ns > 24 * 3600 * REIN_NS_PER_S)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: %s: must be in [1 ms, 24 h], got %lld ns",
                           what, (long long)ns);
  return REIN_OK;
}

/* A claim nonce from the store's pool of getrandom(2) output (refilled 32
 * at a time; each value is handed out once and wiped from the pool). */
static rein_status draw_nonce(rein_idem_store *s, uint64_t *nonce) {
  pthread_mutex_lock(&s->nonce_lock);
  if (s->nonce_left == 0) {
    int err = 0;
    for (int tries = 0; tries < 8; tries++) {
      ssize_t n = getrandom(s->nonce_pool, sizeof s->nonce_pool, 0);
      if (n == (ssize_t)sizeof s->nonce_pool) {
        s->nonce_left = (uint32_t)(sizeof s->nonce_pool / sizeof(uint64_t));
        break;
      }
      err = n < 0 ? errno : EIO; /* a short read: ask again */
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    if (s->nonce_left == 0) {
      pthread_mutex_unlock(&s->nonce_lock);
      return rein__idem_fail(s, REIN_EIO, "idem: getrandom failed: %s",
                             strerror(err));
    }
  }
  uint32_t i = --s->nonce_left;
  *nonce = s->nonce_pool[i];
  s->nonce_pool[i] = 0;
  pthread_mutex_unlock(&s->nonce_lock);
  return REIN_OK;
}

rein_status rein_idem_begin(rein_idem_store *s, const rein_idem_scope *scope,
                            const char *key, const uint8_t fingerprint[32],
                            int64_t lease_ns, int64_t retention_ns,
                            rein_idem_result *out) {
  if (!out)
    return s ? rein__idem_fail(s, REIN_EINVAL, "idem: out is NULL")
             : REIN_EINVAL;
  memset(out, 0, sizeof *out);
  if (!s) return REIN_EINVAL;
  rein__idem_begin_args a;
  memset(&a, 0, sizeof a);
  a.principal = scope && scope->principal ? scope->principal : "";
  a.operation = scope && scope->operation ? scope->operation : "";
  a.key = key;
  size_t pl = 0, ol = 0;
  rein_status st = check_key(s, key);
  if (st == REIN_OK) st = check_text(s, "principal", a.principal, &pl);
  if (st == REIN_OK) st = check_text(s, "operation", a.operation, &ol);
  if (st == REIN_OK && !fingerprint)
    st = rein__idem_fail(s, REIN_EINVAL,
                         "idem: fingerprint: must point at 32 bytes "
                         "(rein_idem_fingerprint), got NULL");
  if (st == REIN_OK) st = check_lease(s, "lease_ns", lease_ns);
  if (st == REIN_OK && (retention_ns < lease_ns ||
                        retention_ns > 366 * 24 * 3600 * REIN_NS_PER_S))
    st = rein__idem_fail(s, REIN_EINVAL,
                         "idem: retention_ns: must be in [lease_ns, 366 "
                         "days], got %lld ns with lease_ns %lld",
                         (long long)retention_ns, (long long)lease_ns);
  if (st != REIN_OK) return st;
  rein_idem_bytes parts[3] = {
      {a.principal, pl}, {a.operation, ol}, {key, strlen(key)}};
  st = sha_parts("rein-idem-v1", parts, 3, a.id);
  if (st != REIN_OK)
    return rein__idem_fail(s, st, "idem: SHA-256 of the scope failed");
  st = draw_nonce(s, &a.nonce);
  if (st != REIN_OK) return st;
  a.fp = fingerprint;
  a.lease_ns = lease_ns;
  a.retention_ns = retention_ns;
  if (s->vt->uses_clock) a.now = rein_clock_now(&s->clock);
  st = s->vt->begin(s, &a, out);
  if (st != REIN_OK) rein_idem_result_clear(out);
  return st;
}

static rein_status check_token(rein_idem_store *s, const rein_idem_token *t) {
  if (!t) return rein__idem_fail(s, REIN_EINVAL, "idem: token is NULL");
  return REIN_OK;
}

rein_status rein_idem_checkpoint(rein_idem_store *s,
                                 const rein_idem_token *token,
                                 const char *phase, int64_t extend_lease_ns) {
  if (!s) return REIN_EINVAL;
  rein_status st = check_token(s, token);
  if (st != REIN_OK) return st;
  if (!phase) phase = "";
  if (strnlen(phase, REIN_IDEM_PHASE_MAX + 1) > REIN_IDEM_PHASE_MAX)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: phase: must be at most 255 bytes");
  if (extend_lease_ns != 0) {
    st = check_lease(s, "extend_lease_ns", extend_lease_ns);
    if (st != REIN_OK) return st;
  }
  int64_t now = s->vt->uses_clock ? rein_clock_now(&s->clock) : 0;
  return s->vt->checkpoint(s, token, phase, extend_lease_ns, now);
}

rein_status rein_idem_complete(rein_idem_store *s, const rein_idem_token *token,
                               const rein_idem_response *resp, bool *stored) {
  if (stored) *stored = false;
  if (!s) return REIN_EINVAL;
  rein_status st = check_token(s, token);
  if (st != REIN_OK) return st;
  if (!resp) return rein__idem_fail(s, REIN_EINVAL, "idem: response is NULL");
  if (resp->status < 100 || resp->status > 599)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: response.status: must be in 100..599, got "
                           "%d",
                           resp->status);
  if ((!resp->headers && resp->headers_len) || (!resp->body && resp->body_len))
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: response: NULL headers/body with a "
                           "non-zero length");
  size_t total = resp->headers_len + resp->body_len;
  if (total < resp->headers_len || total > s->max_response)
    return rein__idem_fail(s, REIN_ETOOBIG,
                           "idem: response of %zu bytes (headers %zu + body "
                           "%zu) exceeds max_response %zu; raise "
                           "rein_idem_config.max_response or store a "
                           "smaller response (the lease is still held)",
                           total, resp->headers_len, resp->body_len,
                           s->max_response);
  bool keep = s->cacheable(s->cacheable_ctx, resp->status);
  int64_t now = s->vt->uses_clock ? rein_clock_now(&s->clock) : 0;
  st = s->vt->complete(s, token, resp, keep, now);
  if (st == REIN_OK && stored) *stored = keep;
  return st;
}

rein_status rein_idem_abandon(rein_idem_store *s,
                              const rein_idem_token *token) {
  if (!s) return REIN_EINVAL;
  rein_status st = check_token(s, token);
  if (st != REIN_OK) return st;
  int64_t now = s->vt->uses_clock ? rein_clock_now(&s->clock) : 0;
  rein_idem_response none = {0, NULL, 0, NULL, 0};
  return s->vt->complete(s, token, &none, false, now);
}

rein_status rein_idem_purge(rein_idem_store *s, size_t max_batch,
                            size_t *purged) {
  if (purged) *purged = 0;
  if (!s) return REIN_EINVAL;
  if (max_batch == 0 || max_batch > 1000000)
    return rein__idem_fail(s, REIN_EINVAL,
                           "idem: max_batch: must be in [1, 1000000], got %zu",
                           max_batch);
  int64_t now = s->vt->uses_clock ? rein_clock_now(&s->clock) : 0;
  size_t n = 0;
  rein_status st = s->vt->purge(s, max_batch, &n, now);
  if (purged) *purged = n;
  return st;
}
