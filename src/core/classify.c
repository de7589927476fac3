/* SPDX-License-Identifier: Apache-2.0 */
/*
 * classify.c: the one classification table (HTTP status, gRPC status,
 * transport condition -> outcome kind) and the retryable set: its parser,
 * its membership test and its printer.
 *
 * Every part of rein that turns a status into a retry decision reads
 * rein_condition_kind() and rein_retryable_set_has(): the contract checker
 * (through the policy it builds), rein_curl_classify and the simulator. The
 * set is a fixed-size bitmap so a policy carries it by value and a decision
 * is a few shifts: no allocation, no locks, no pointers to keep alive.
 */
#include "rein/classify.h"

#include "internal.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------- the table */

static const char *const grpc_names[REIN_GRPC_CODE_COUNT_] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED"};

static const uint8_t grpc_kinds[REIN_GRPC_CODE_COUNT_] = {
    REIN_OUTCOME_SUCCESS,    /* OK */
    REIN_OUTCOME_FATAL,      /* CANCELLED: the caller cancelled */
    REIN_OUTCOME_FAILURE,    /* UNKNOWN */
    REIN_OUTCOME_FATAL,      /* INVALID_ARGUMENT */
    REIN_OUTCOME_TIMEOUT,    /* DEADLINE_EXCEEDED */
    REIN_OUTCOME_FATAL,      /* NOT_FOUND */
    REIN_OUTCOME_FATAL,      /* ALREADY_EXISTS */
    REIN_OUTCOME_FATAL,      /* PERMISSION_DENIED */
    REIN_OUTCOME_OVERLOADED, /* RESOURCE_EXHAUSTED */
    REIN_OUTCOME_FATAL,      /* FAILED_PRECONDITION */
    REIN_OUTCOME_FAILURE,    /* ABORTED: a concurrency conflict */
    REIN_OUTCOME_FATAL,      /* OUT_OF_RANGE */
    REIN_OUTCOME_FATAL,      /* UNIMPLEMENTED */
    REIN_OUTCOME_FAILURE,    /* INTERNAL */
    REIN_OUTCOME_OVERLOADED, /* UNAVAILABLE: as HTTP 503 */
    REIN_OUTCOME_FATAL,      /* DATA_LOSS */
    REIN_OUTCOME_FATAL};     /* UNAUTHENTICATED */

static const char *const transport_names[REIN_TRANSPORT_COUNT_] = {
    "connect-failure", "reset", "timeout", "refused-stream"};

static const uint8_t transport_kinds[REIN_TRANSPORT_COUNT_] = {
    REIN_OUTCOME_NOT_SENT, REIN_OUTCOME_FAILURE, REIN_OUTCOME_TIMEOUT,
    REIN_OUTCOME_NOT_SENT};

static rein_outcome_kind http_kind(uint32_t s) {
  if (s < 100 || s > 599) return REIN_OUTCOME_FAILURE;
  if (s < 400) return REIN_OUTCOME_SUCCESS;
  switch (s) {
  case 408:
  case 504:
    return REIN_OUTCOME_TIMEOUT;
  case 425:
  case 429:
  case 503:
    return REIN_OUTCOME_OVERLOADED;
  case 501: /* Not Implemented */
  case 505: /* HTTP Version Not Supported */
  case 506: /* Variant Also Negotiates */
  case 508: /* Loop Detected */
  case 510: /* Not Extended */
  case 511: /* Network Authentication Required */
    return REIN_OUTCOME_FATAL;
  default:
    return s >= 500 ? REIN_OUTCOME_FAILURE : REIN_OUTCOME_FATAL;
  }
}

rein_outcome_kind rein_condition_kind(rein_condition c) {
  uint32_t v = REIN_COND_VALUE(c);
  switch (REIN_COND_CLASS(c)) {
  case 1:
    return http_kind(v);
  case 2:
    return v < REIN_GRPC_CODE_COUNT_ ? (rein_outcome_kind)grpc_kinds[v]
                                     : REIN_OUTCOME_FAILURE;
  case 3:
    return v < REIN_TRANSPORT_COUNT_ ? (rein_outcome_kind)transport_kinds[v]
                                     : REIN_OUTCOME_FAILURE;
  default:
    return REIN_OUTCOME_FAILURE;
  }
}

const char *rein_grpc_code_name(uint32_t code) {
  return code < REIN_GRPC_CODE_COUNT_ ? grpc_names[code] : "unknown";
}

const char *rein_transport_name(rein_transport t) {
  return (unsigned)t < REIN_TRANSPORT_COUNT_ ? transport_names[t] : "unknown";
}

const char *rein_condition_name(rein_condition c, char *buf, size_t len) {
  if (!buf || !len) return buf;
  uint32_t v = REIN_COND_VALUE(c);
  switch (REIN_COND_CLASS(c)) {
  case 1:
    snprintf(buf, len, "%u", (unsigned)v);
    break;
  case 2:
    snprintf(buf, len, "%s", rein_grpc_code_name(v));
    break;
  case 3:
    snprintf(buf, len, "%s", rein_transport_name((rein_transport)v));
    break;
  default:
    snprintf(buf, len, "none");
  }
  return buf;
}

/* ------------------------------------------------------------- the set */

static const char *const kind_names[REIN_OUTCOME_COUNT_] = {
    "success", "failure", "timeout", "not_sent", "overloaded", "fatal"};

static void http_set(rein_retryable_set *s, uint32_t lo, uint32_t hi) {
  for (uint32_t v = lo; v <= hi; v++)
    s->http[v / 64] |= UINT64_C(1) << (v % 64);
}

static bool http_has(const rein_retryable_set *s, uint32_t v) {
  return v < 640 && (s->http[v / 64] >> (v % 64)) & 1u;
}

void rein_retryable_set_clear(rein_retryable_set *s) {
  memset(s, 0, sizeof *s);
}

bool rein_retryable_set_is_empty(const rein_retryable_set *s) {
  for (int i = 0; i < 10; i++)
    if (s->http[i]) return false;
  return !s->grpc && !s->transport && !s->kinds;
}

/* Parse a decimal number of 1..4 digits into *v. */
static bool digits(const char *p, size_t n, uint32_t *v) {
  if (n == 0 || n > 4) return false;
  uint32_t x = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
    x = x * 10 + (uint32_t)(p[i] - '0');
  }
  *v = x;
  return true;
}

static bool eq(const char *p, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

static rein_status bad_name(rein_errbuf *err, const char *p, size_t n,
                            const char *why) {
  return rein__invalid(err,
                       "retryable: '%.*s' %s; expected an HTTP status (503), "
                       "a class (5xx), a range (500-504), a gRPC status "
                       "(UNAVAILABLE or 14), a transport condition "
                       "(connect-failure, reset, timeout, refused-stream) or "
                       "an outcome kind (failure, overloaded, not-sent, "
                       "fatal)",
                       (int)(n > 40 ? 40 : n), p, why);
}

rein_status rein_retryable_set_add(rein_retryable_set *s, const char *p,
                                   size_t n, rein_errbuf *err) {
  if (!s || (!p && n)) return rein__invalid(err, "retryable: NULL argument");
  uint32_t v, w;
  /* 503, or a gRPC code 0..16 */
  if (digits(p, n, &v)) {
    if (v >= 100 && v <= 599) {
      http_set(s, v, v);
      return REIN_OK;
    }
    if (v == 0) return bad_name(err, p, n, "is gRPC OK, a success");
    if (v < REIN_GRPC_CODE_COUNT_) {
      s->grpc |= 1u << v;
      return REIN_OK;
    }
    return bad_name(err, p, n,
                    "is neither an HTTP status (100..599) nor a gRPC code "
                    "(1..16)");
  }
  /* 5xx */
  if (n == 3 && p[0] >= '1' && p[0] <= '5' && p[1] == 'x' && p[2] == 'x') {
    uint32_t c = (uint32_t)(p[0] - '0') * 100;
    http_set(s, c, c + 99);
    return REIN_OK;
  }
  /* 500-504 */
  const char *dash = memchr(p, '-', n);
  if (dash && digits(p, (size_t)(dash - p), &v) &&
      digits(dash + 1, n - (size_t)(dash - p) - 1, &w)) {
    if (v < 100 || w > 599 || v > w)
      return bad_name(err, p, n,
                      "is not a range of HTTP statuses A-B with "
                      "100 <= A <= B <= 599");
    http_set(s, v, w);
    return REIN_OK;
  }
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    if (eq(p, n, grpc_names[c])) {
      s->grpc |= 1u << c;
      return REIN_OK;
    }
  if (eq(p, n, "OK")) return bad_name(err, p, n, "is gRPC OK, a success");
  /* transport conditions and their older spellings */
  if (eq(p, n, "connect-failure") || eq(p, n, "connect-refused") ||
      eq(p, n, "dns")) {
    s->transport |= 1u << REIN_TRANSPORT_CONNECT_FAILURE;
    return REIN_OK;
  }
  if (eq(p, n, "reset") || eq(p, n, "connection-reset")) {
    s->transport |= 1u << REIN_TRANSPORT_RESET;
    return REIN_OK;
  }
  if (eq(p, n, "refused-stream")) {
    s->transport |= 1u << REIN_TRANSPORT_REFUSED_STREAM;
    return REIN_OK;
  }
  /* kinds (timeout: the kind, which includes the transport timeout) */
  if (eq(p, n, "not-sent")) {
    s->kinds |= REIN_RETRY_ON(REIN_OUTCOME_NOT_SENT);
    return REIN_OK;
  }
  for (int k = 1; k < REIN_OUTCOME_COUNT_; k++)
    if (eq(p, n, kind_names[k])) {
      s->kinds |= REIN_RETRY_ON(k);
      return REIN_OK;
    }
  if (eq(p, n, "success")) return bad_name(err, p, n, "is never retried");
  return bad_name(err, p, n, "is not a status or an outcome name");
}

rein_status rein_retryable_set_parse(rein_retryable_set *s, const char *list,
                                     rein_errbuf *err) {
  if (!s || !list) return rein__invalid(err, "retryable: NULL argument");
  rein_retryable_set t;
  rein_retryable_set_clear(&t);
  const char *p = list;
  for (;;) {
    while (*p == ',' || *p == ' ' || *p == '\t')
      p++;
    if (!*p) break;
    const char *e = p;
    while (*e && *e != ',' && *e != ' ' && *e != '\t')
      e++;
    rein_status st = rein_retryable_set_add(&t, p, (size_t)(e - p), err);
    if (st != REIN_OK) return st;
    p = e;
  }
  *s = t;
  return REIN_OK;
}

bool rein_retryable_set_has(const rein_retryable_set *s, rein_condition c,
                            rein_outcome_kind kind) {
  if (kind == REIN_OUTCOME_SUCCESS) return false;
  if ((unsigned)kind < REIN_OUTCOME_COUNT_ && (s->kinds & REIN_RETRY_ON(kind)))
    return true;
  uint32_t v = REIN_COND_VALUE(c);
  switch (REIN_COND_CLASS(c)) {
  case 1:
    return v >= 100 && v <= 599 && http_has(s, v);
  case 2:
    return v < REIN_GRPC_CODE_COUNT_ && (s->grpc >> v) & 1u;
  case 3:
    return v < REIN_TRANSPORT_COUNT_ && (s->transport >> v) & 1u;
  default:
    return false;
  }
}

uint32_t rein_retryable_set_kind_mask(const rein_retryable_set *s) {
  uint32_t m = s->kinds;
  for (uint32_t v = 100; v <= 599; v++)
    if (http_has(s, v)) m |= REIN_RETRY_ON(http_kind(v));
  for (uint32_t c = 0; c < REIN_GRPC_CODE_COUNT_; c++)
    if ((s->grpc >> c) & 1u) m |= REIN_RETRY_ON(grpc_kinds[c]);
  for (uint32_t t = 0; t < REIN_TRANSPORT_COUNT_; t++)
    if ((s->transport >> t) & 1u) m |= REIN_RETRY_ON(transport_kinds[t]);
  return m & ~REIN_RETRY_ON(REIN_OUTCOME_SUCCESS);
}

rein_status rein_retryable_set_validate(const rein_retryable_set *s,
                                        rein_errbuf *err) {
  if (!s) return rein__invalid(err, "policy.retryable: NULL");
  for (uint32_t v = 0; v < 640; v++)
    if ((v < 100 || v > 599) && http_has(s, v))
      return rein__invalid(err,
                           "policy.retryable: HTTP status %u is outside "
                           "100..599",
                           (unsigned)v);
  if (s->grpc & ~((1u << REIN_GRPC_CODE_COUNT_) - 2u))
    return rein__invalid(err,
                         "policy.retryable: gRPC bits 0x%x (OK or a code "
                         "above 16)",
                         s->grpc & ~((1u << REIN_GRPC_CODE_COUNT_) - 2u));
  if (s->transport & ~((1u << REIN_TRANSPORT_COUNT_) - 1u))
    return rein__invalid(err, "policy.retryable: unknown transport bits 0x%x",
                         s->transport & ~((1u << REIN_TRANSPORT_COUNT_) - 1u));
  if (s->kinds & ~((1u << REIN_OUTCOME_COUNT_) - 1u))
    return rein__invalid(err, "policy.retryable: unknown kind bits 0x%x",
                         s->kinds & ~((1u << REIN_OUTCOME_COUNT_) - 1u));
  if (s->kinds & REIN_RETRY_ON(REIN_OUTCOME_SUCCESS))
    return rein__invalid(err, "policy.retryable: success cannot be retryable");
  return REIN_OK;
}

/* Append to a bounded text; keeps counting past the end. */
typedef struct out {
  char *buf;
  size_t len, n;
} out;

static void put(out *o, const char *fmt, unsigned a, unsigned b,
                const char *str) {
  char t[64];
  int k;
  if (str)
    k = snprintf(t, sizeof t, "%s%s", o->n ? ", " : "", str);
  else if (fmt)
    k = snprintf(t, sizeof t, fmt, o->n ? ", " : "", a, b);
  else
    k = 0;
  if (k <= 0) return;
  for (int i = 0; i < k; i++, o->n++)
    if (o->n + 1 < o->len) o->buf[o->n] = t[i];
  if (o->len) o->buf[o->n + 1 < o->len ? o->n : o->len - 1] = '\0';
}

size_t rein_retryable_set_format(const rein_retryable_set *s, char *buf,
                                 size_t len) {
  out o = {buf, buf ? len : 0, 0};
  if (o.len) buf[0] = '\0';
  for (uint32_t cls = 1; cls <= 5; cls++) {
    uint32_t lo = cls * 100, hi = lo + 99, v = lo;
    bool full = true;
    for (uint32_t x = lo; x <= hi && full; x++)
      full = http_has(s, x);
    if (full) {
      put(&o, "%s%uxx", cls, 0, NULL);
      continue;
    }
    while (v <= hi) {
      if (!http_has(s, v)) {
        v++;
        continue;
      }
      uint32_t e = v;
      while (e + 1 <= hi && http_has(s, e + 1))
        e++;
      if (e == v)
        put(&o, "%s%u", v, 0, NULL);
      else
        put(&o, "%s%u-%u", v, e, NULL);
      v = e + 1;
    }
  }
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    if ((s->grpc >> c) & 1u) put(&o, NULL, 0, 0, grpc_names[c]);
  for (uint32_t t = 0; t < REIN_TRANSPORT_COUNT_; t++)
    if (((s->transport >> t) & 1u) &&
        !(t == REIN_TRANSPORT_TIMEOUT &&
          (s->kinds & REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT))))
      put(&o, NULL, 0, 0, transport_names[t]);
  for (int k = 1; k < REIN_OUTCOME_COUNT_; k++)
    if (s->kinds & REIN_RETRY_ON(k)) put(&o, NULL, 0, 0, kind_names[k]);
  return o.n;
}
