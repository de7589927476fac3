/* SPDX-License-Identifier: Apache-2.0 */
/*
 * outbox_http.c: the outbox's HTTP deliverer (libcurl easy interface).
 *
 * One easy handle per deliverer, reused across attempts so keep-alive holds
 * one connection to the receiver. Every attempt POSTs the intent's body with
 * the derived key as an RFC 8941 sf-string (Idempotency-Key: "<hex>"; hex
 * needs no escaping) and Rein-Attempt, then classifies the answer for the
 * retry engine. Response headers go through rein_signals, so Retry-After on
 * a 409/429/503 becomes the floor of the next delay and Rein-Dont-Retry
 * stops retrying.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "inbox_internal.h"
#include "rein/signal.h"

struct rein_outbox_http {
  CURL *curl;
  rein_outbox_http_config cfg;
  char *content_type; /* "Content-Type: ..." */
  char *auth;
  rein_signals sig;
};

void rein_outbox_http_config_default(rein_outbox_http_config *c) {
  memset(c, 0, sizeof *c);
  c->content_type = "application/json";
  c->timeout_ns = 5 * REIN_NS_PER_S;
}

static char *dup_str(const rein_allocator *a, const char *prefix,
                     const char *s) {
  size_t p = strlen(prefix), n = strlen(s);
  char *d = rein_alloc(a, p + n + 1);
  if (!d) return NULL;
  memcpy(d, prefix, p);
  memcpy(d + p, s, n + 1);
  return d;
}

static bool header_ok(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
  return true;
}

rein_status rein_outbox_http_new(const rein_outbox_http_config *c,
                                 rein_outbox_http **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  if (!c->content_type || !*c->content_type || !header_ok(c->content_type))
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "outbox_http.content_type: expected a "
                           "media type without control characters");
  if (c->auth_header &&
      (!strchr(c->auth_header, ':') || !header_ok(c->auth_header)))
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "outbox_http.auth_header: expected "
                           "\"Name: value\" without control "
                           "characters");
  if (c->timeout_ns < REIN_NS_PER_MS || c->timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(c->err, REIN_EINVAL,
                           "outbox_http.timeout_ns: must be in "
                           "[1 ms, 600 s]");
  rein_outbox_http *h = rein_calloc(c->alloc, sizeof *h);
  if (!h) return REIN_ENOMEM;
  h->cfg = *c;
  h->cfg.err = NULL;
  h->content_type = dup_str(c->alloc, "Content-Type: ", c->content_type);
  h->auth = c->auth_header ? dup_str(c->alloc, "", c->auth_header) : NULL;
  h->curl = curl_easy_init();
  if (!h->content_type || (c->auth_header && !h->auth) || !h->curl) {
    rein_outbox_http_free(h);
    return REIN_ENOMEM;
  }
  h->cfg.content_type = NULL;
  h->cfg.auth_header = NULL;
  *out = h;
  return REIN_OK;
}

void rein_outbox_http_free(rein_outbox_http *h) {
  if (!h) return;
  if (h->curl) curl_easy_cleanup(h->curl);
  rein_free(h->cfg.alloc, h->content_type);
  rein_free(h->cfg.alloc, h->auth);
  rein_free(h->cfg.alloc, h);
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  rein_outbox_http *h = ud;
  size_t len = size * n;
  const char *colon = memchr(p, ':', len);
  if (colon) {
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
      v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
      vl--;
    rein_signals_feed(&h->sig, p, nl, v, vl, rein_clock_wall_ns());
  }
  return len;
}

void rein_outbox_http_deliver(void *ctx, const rein_outbox_item *it,
                              const rein_decision *attempt, rein_outcome *out,
                              char *err, size_t cap) {
  rein_outbox_http *h = ctx;
  memset(out, 0, sizeof *out);
  out->kind = REIN_OUTCOME_FATAL;
  if (!h || !it) {
    snprintf(err, cap, "outbox_http: NULL deliverer or item");
    return;
  }
  char keyh[REIN_OUTBOX_KEY_LEN + 64], att[48];
  snprintf(keyh, sizeof keyh, "Idempotency-Key: \"%s\"", it->idem_key);
  snprintf(att, sizeof att, "Rein-Attempt: %u", attempt ? attempt->attempt : 1);
  struct curl_slist *hl = NULL, *t;
  const char *hs[] = {keyh, att, h->content_type, "Expect:", h->auth};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    if (!hs[i]) continue;
    t = curl_slist_append(hl, hs[i]);
    if (!t) {
      curl_slist_free_all(hl);
      out->kind = REIN_OUTCOME_NOT_SENT;
      snprintf(err, cap, "outbox_http: out of memory");
      return;
    }
    hl = t;
  }
  int64_t to = attempt && attempt->timeout_ns > 0 ? attempt->timeout_ns
                                                  : h->cfg.timeout_ns;
  long to_ms = (long)((to + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS);
  rein_signals_init(&h->sig);
  CURL *c = h->curl;
  curl_easy_setopt(c, CURLOPT_URL, it->dest);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)it->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->body_len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, to_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, to_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hl);
  if (rc != CURLE_OK) {
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
      out->kind = REIN_OUTCOME_NOT_SENT;
    else if (rc == CURLE_OPERATION_TIMEDOUT)
      out->kind = REIN_OUTCOME_TIMEOUT;
    else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
      out->kind = REIN_OUTCOME_FATAL;
    else
      out->kind = REIN_OUTCOME_FAILURE;
    snprintf(err, cap, "%s: %s", it->dest, curl_easy_strerror(rc));
    return;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  out->server_delay_ns = rein_signals_delay_floor(&h->sig);
  out->dont_retry = h->sig.dont_retry;
  if (status >= 200 && status < 300) {
    out->kind = REIN_OUTCOME_SUCCESS;
    return;
  }
  if (status == 409 || status == 429 || status == 503)
    out->kind = REIN_OUTCOME_OVERLOADED;
  else if (status >= 500)
    out->kind = REIN_OUTCOME_FAILURE;
  else
    out->kind = REIN_OUTCOME_FATAL;
  snprintf(err, cap, "%s answered %ld", it->dest, status);
}
