/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/signal.h: what the server says about retrying, parsed defensively.
 *
 * Parsers for the headers through which a server tells a client when, and
 * whether, to retry:
 *
 *   Retry-After            RFC 9110 10.2.3: delta-seconds or an HTTP-date
 *                          (IMF-fixdate; obsolete RFC 850 and asctime forms
 *                          accepted, as RFC 9110 requires of recipients).
 *   grpc-retry-pushback-ms gRPC A6: a non-negative integer is a delay; a
 *                          negative or unparseable value means don't retry.
 *   RateLimit, RateLimit-Policy
 *                          IETF draft-ietf-httpapi-ratelimit-headers: the
 *                          structured-field form `"name";r=REMAINING;t=RESET`
 *                          and `"name";q=QUOTA;w=WINDOW`, and the older
 *                          dictionary form `limit=L, remaining=R, reset=S`.
 *   Rein-Dont-Retry        rein's "overloaded, don't retry" marker, a
 *                          structured-field boolean: `?1` = do not retry.
 *
 * Nothing here trusts the server beyond sane bounds: every delay is clamped
 * to [0, REIN_SIGNAL_MAX_DELAY_NS] (6 h), and malformed input returns
 * REIN_EPARSE without touching the output, never crashes, never reads past
 * `len`. Values need not be NUL-terminated.
 *
 * Thread level: pure functions; call from anywhere.
 */
#ifndef REIN_SIGNAL_H
#define REIN_SIGNAL_H

#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REIN_SIGNAL_MAX_DELAY_NS (INT64_C(6) * 3600 * 1000000000)

/* Header names rein reads and writes (case-insensitive on the wire). */
#define REIN_HEADER_RETRY_AFTER "Retry-After"
#define REIN_HEADER_GRPC_PUSHBACK "grpc-retry-pushback-ms"
#define REIN_HEADER_RATELIMIT "RateLimit"
#define REIN_HEADER_RATELIMIT_POLICY "RateLimit-Policy"
/* Overloaded, don't retry: "?1". Set by rein servers and by rein clients that
 * gave up because the system is overloaded, so the layer above does not
 * multiply the retries. */
#define REIN_HEADER_DONT_RETRY "Rein-Dont-Retry"
/* The attempt number of a request, 1 for the first attempt (SRE book:
 * attempt count in request metadata); servers shed retries first. */
#define REIN_HEADER_ATTEMPT "Rein-Attempt"
/* How long the server remembers an idempotency key, in seconds, on every
 * keyed response, so a client can check it against its retry window. */
#define REIN_HEADER_IDEM_RETENTION "Idempotency-Key-Retention"

/*
 * Deadline propagation. A client sends, with each attempt, how long it will
 * wait for this attempt's answer (its per-attempt timeout shortened to the
 * call's deadline), so the server never starts work nobody waits for and
 * its own calls downstream fit inside what is left. Always a *relative*
 * time, as gRPC does: the hosts' clocks need not agree. rein writes
 *   Rein-Deadline: <milliseconds left>   (1*15DIGIT)
 * and reads, beside it, the conventions of the neighbours:
 *   grpc-timeout                   gRPC over HTTP/2: 1*8DIGIT and a unit
 *                                  (H M S m u n)
 *   Connect-Timeout-Ms             the Connect protocol: 1*10DIGIT ms
 *   x-envoy-expected-rq-timeout-ms what Envoy's router tells an upstream
 * When a request carries several, the smallest counts (the strictest caller
 * waits least). Every value is clamped to REIN_SIGNAL_MAX_DEADLINE_NS.
 */
#define REIN_HEADER_DEADLINE "Rein-Deadline"
#define REIN_HEADER_GRPC_TIMEOUT "grpc-timeout"
#define REIN_HEADER_CONNECT_TIMEOUT "Connect-Timeout-Ms"
#define REIN_HEADER_ENVOY_EXPECTED_TIMEOUT "x-envoy-expected-rq-timeout-ms"
#define REIN_SIGNAL_MAX_DEADLINE_NS (INT64_C(30) * 86400 * 1000000000)

/* A millisecond count (Rein-Deadline, Connect-Timeout-Ms,
 * x-envoy-expected-rq-timeout-ms): 1*15DIGIT after trimming spaces;
 * `*left_ns` = the value in ns, clamped. REIN_EPARSE when malformed. */
REIN_API rein_status rein_signal_timeout_ms(const char *value, size_t len,
                                            int64_t *left_ns);
/* grpc-timeout (gRPC over HTTP/2, "Timeout"): 1*8DIGIT followed by one of
 * H (hours) M (minutes) S m u n; `*left_ns` clamped. REIN_EPARSE when
 * malformed (gRPC servers fail such a call; so should yours). */
REIN_API rein_status rein_signal_grpc_timeout(const char *value, size_t len,
                                              int64_t *left_ns);
/* Writes the grpc-timeout value for `ns` (> 0) into buf (NUL-terminated):
 * the finest unit whose count fits in 8 digits, rounded down, so the server
 * is never promised more time than the client waits (at least "1n").
 * Returns the length, 0 when `ns` <= 0 or `cap` < 10. */
REIN_API size_t rein_signal_grpc_timeout_format(int64_t ns, char *buf,
                                                size_t cap);

/* An inbound request's deadline, header by header (as rein_signals). */
typedef struct rein_deadline_in {
  int64_t left_ns;       /* the smallest value seen; -1 = none */
  const char *malformed; /* the first deadline header that failed to parse
                            (one of the REIN_HEADER_* names); NULL = none */
} rein_deadline_in;

REIN_API void rein_deadline_in_init(rein_deadline_in *d);
/* Feeds one header: unknown names are ignored (REIN_OK); a deadline header
 * that does not parse is recorded in `malformed` and returns REIN_EPARSE
 * (a deadline the server cannot read is an error, never "no deadline":
 * answer 400). REIN_EINVAL for NULL arguments. */
REIN_API rein_status rein_deadline_in_feed(rein_deadline_in *d,
                                           const char *name, size_t name_len,
                                           const char *value, size_t value_len);
/* For servers whose framework looks headers up by name (libmicrohttpd's
 * MHD_lookup_connection_value, nginx, ...): asks `get` for each deadline
 * header (NULL = absent) and feeds what it returns. Same results as feed
 * (REIN_EPARSE at the first malformed one). */
typedef const char *(*rein_header_lookup_fn)(void *ctx, const char *name);
REIN_API rein_status rein_deadline_in_lookup(rein_deadline_in *d,
                                             rein_header_lookup_fn get,
                                             void *ctx);

/* Retry-After: `*delay_ns` = seconds from now (HTTP-date minus `now_unix_ns`,
 * the current wall-clock time in ns since the epoch; a date in the past gives
 * 0). Clamped to the maximum. REIN_EPARSE when malformed. */
REIN_API rein_status rein_signal_retry_after(const char *value, size_t len,
                                             int64_t now_unix_ns,
                                             int64_t *delay_ns);

/* grpc-retry-pushback-ms. Always fills both outputs on REIN_OK; a negative
 * or unparseable value returns REIN_OK with *dont_retry = true (that is the
 * protocol's meaning), *delay_ns = 0. REIN_EINVAL for NULL arguments. */
REIN_API rein_status rein_signal_grpc_pushback(const char *value, size_t len,
                                               int64_t *delay_ns,
                                               bool *dont_retry);

/* RateLimit / RateLimit-Policy, either form; -1 in a field means absent. */
typedef struct rein_ratelimit {
  int64_t limit;     /* quota units per window (q= or limit=) */
  int64_t remaining; /* r= or remaining= */
  int64_t reset_ns;  /* t= or reset= (seconds until reset), clamped */
  int64_t window_ns; /* w= (policy window), clamped */
} rein_ratelimit;

REIN_API rein_status rein_signal_ratelimit(const char *value, size_t len,
                                           rein_ratelimit *out);

/* Rein-Dont-Retry: "?1" -> true, "?0" -> false; anything else REIN_EPARSE. */
REIN_API rein_status rein_signal_dont_retry(const char *value, size_t len,
                                            bool *dont_retry);

/*
 * Everything a response said, accumulated header by header. Start with
 * rein_signals_init, feed each header with rein_signals_feed (unknown names
 * are ignored; malformed known ones are counted in `malformed` and otherwise
 * ignored; both return REIN_OK, REIN_EINVAL only for NULL arguments), then
 * read rein_signals_delay_floor.
 */
typedef struct rein_signals {
  int64_t retry_after_ns; /* -1 absent */
  int64_t pushback_ns;    /* -1 absent */
  bool dont_retry;
  rein_ratelimit ratelimit; /* from RateLimit; fields -1 when absent */
  rein_ratelimit policy;    /* from RateLimit-Policy */
  int64_t idem_retention_ns; /* Idempotency-Key-Retention, -1 absent */
  uint32_t malformed;        /* headers that failed to parse */
} rein_signals;

REIN_API void rein_signals_init(rein_signals *s);
REIN_API rein_status rein_signals_feed(rein_signals *s, const char *name,
                                       size_t name_len, const char *value,
                                       size_t value_len, int64_t now_unix_ns);

/*
 * The least delay the server asked for before the next attempt: the largest of
 * Retry-After, pushback, and (when RateLimit remaining is 0) the reset time.
 * When remaining is low but not 0 (below 10% of the limit, or below 2 when
 * the limit is unknown), paces proactively: reset spread over the remaining
 * units. 0 when nothing asked for a delay. Clamped to the maximum.
 */
REIN_API int64_t rein_signals_delay_floor(const rein_signals *s);

/*
 * The RateLimit part of rein_signals_delay_floor, for pacing the next
 * request after any response (a success included): the reset time when
 * remaining is 0, reset / remaining when remaining is low (as above), else
 * 0; -1 when the response carried no usable RateLimit (remaining or reset
 * absent). Clamped to the maximum.
 */
REIN_API int64_t rein_signals_pace_ns(const rein_signals *s);

#ifdef __cplusplus
}
#endif
#endif /* REIN_SIGNAL_H */
