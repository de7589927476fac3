/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/classify.h: the one classification table: what each HTTP status,
 * gRPC status and transport condition is, and the retryable set a policy
 * retries.
 *
 * A transport (rein_curl, the simulator, your own) reports how an attempt
 * ended as a rein_outcome: an outcome kind (SUCCESS, FAILURE, TIMEOUT,
 * NOT_SENT, OVERLOADED, FATAL) and, when it knows one, the concrete
 * condition (rein_condition: an HTTP status, a gRPC status or a transport
 * condition). rein_condition_kind() is the table that gives every
 * condition its kind; every part of rein that classifies (the contract
 * checker, rein_curl_classify, the simulator) reads it, so they cannot
 * disagree. docs/contracts.md prints the table.
 *
 *   HTTP 100..399                         SUCCESS
 *   HTTP 408, 504                         TIMEOUT
 *   HTTP 425, 429, 503                    OVERLOADED
 *   HTTP 501, 505, 506, 508, 510, 511     FATAL (definitive server answers)
 *   HTTP other 5xx                        FAILURE
 *   HTTP other 4xx                        FATAL
 *   gRPC OK                               SUCCESS
 *   gRPC DEADLINE_EXCEEDED                TIMEOUT
 *   gRPC RESOURCE_EXHAUSTED, UNAVAILABLE  OVERLOADED
 *   gRPC UNKNOWN, ABORTED, INTERNAL       FAILURE
 *   gRPC any other code                   FATAL
 *   connect-failure, refused-stream       NOT_SENT (provably never processed)
 *   reset                                 FAILURE
 *   timeout                               TIMEOUT
 *
 * A rein_retryable_set (a plain value: 600 HTTP bits, 17 gRPC bits, the
 * transport conditions and the outcome kinds; no pointers, no allocation;
 * copy it freely) is what a policy retries. A condition is in the set when
 * it is named (HTTP 503, gRPC UNAVAILABLE, connect-failure), or when its
 * outcome kind is named: `overloaded` covers 425, 429, 503,
 * RESOURCE_EXHAUSTED, UNAVAILABLE and a shed request; `timeout` covers the
 * transport timeout, 408, 504 and DEADLINE_EXCEEDED; `failure` every
 * FAILURE above; `not-sent` connect-failure and refused-stream. So
 * `[503]` retries 503 only (not 429), `[500]` retries 500 only (not 502),
 * `[5xx]` every 5xx, and `[overloaded]` every overload signal.
 *
 * Names (rein_retryable_set_add): an HTTP status `503`; a class `5xx`
 * (1xx..5xx); a range `500-504`; a gRPC status name exactly as gRPC's
 * retryableStatusCodes spells it (`UNAVAILABLE`) or its code `0`..`16`
 * (a bare number below 100 is a gRPC code, 100..599 an HTTP status); a
 * transport condition `connect-failure` (aliases `connect-refused`, `dns`),
 * `reset` (alias `connection-reset`), `timeout`, `refused-stream`; an
 * outcome kind `failure`, `overloaded`, `not-sent` (or `not_sent`),
 * `fatal`. `timeout` names both the transport condition and the TIMEOUT
 * kind, which includes it.
 *
 * Everything here is pure: no allocation, no global state, thread-safe.
 */
#ifndef REIN_CLASSIFY_H
#define REIN_CLASSIFY_H

#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How one attempt ended, as the transport classified it. */
typedef enum rein_outcome_kind {
  REIN_OUTCOME_SUCCESS = 0,
  REIN_OUTCOME_FAILURE = 1,    /* transient; may have been processed (5xx) */
  REIN_OUTCOME_TIMEOUT = 2,    /* no answer within the attempt timeout */
  REIN_OUTCOME_NOT_SENT = 3,   /* provably never reached the server
                                  (connection refused, DNS failure) */
  REIN_OUTCOME_OVERLOADED = 4, /* rejected for load: 429, 503, shed */
  REIN_OUTCOME_FATAL = 5       /* definitive: 400, 409, 422 - never retried
                                  unless the policy's retryable set names
                                  the status */
} rein_outcome_kind;
#define REIN_OUTCOME_COUNT_ 6

/* Bit for retry_on masks and rein_retryable_set.kinds. */
#define REIN_RETRY_ON(kind) (1u << (kind))

/* Transport conditions (no status). Only appended. */
typedef enum rein_transport {
  REIN_TRANSPORT_CONNECT_FAILURE = 0, /* connect refused, DNS, TLS handshake */
  REIN_TRANSPORT_RESET = 1,           /* connection reset / closed mid-way */
  REIN_TRANSPORT_TIMEOUT = 2,         /* no answer within the timeout */
  REIN_TRANSPORT_REFUSED_STREAM = 3   /* HTTP/2 REFUSED_STREAM, GOAWAY
                                         past the stream: not processed */
} rein_transport;
#define REIN_TRANSPORT_COUNT_ 4

/* gRPC status codes 0..16 (grpc/status.h). */
#define REIN_GRPC_CODE_COUNT_ 17

/*
 * The concrete condition an attempt ended with, in one 32-bit value:
 * REIN_COND_NONE (the transport knows only the kind), an HTTP status, a
 * gRPC status code or a transport condition. Zero-initialized outcomes
 * carry REIN_COND_NONE.
 */
typedef uint32_t rein_condition;
#define REIN_COND_NONE 0u
#define REIN_COND_HTTP(status) (0x10000u | ((uint32_t)(status)&0xffffu))
#define REIN_COND_GRPC(code) (0x20000u | ((uint32_t)(code)&0xffffu))
#define REIN_COND_TRANSPORT(t) (0x30000u | ((uint32_t)(t)&0xffffu))
#define REIN_COND_CLASS(c) ((c) >> 16) /* 0 none, 1 HTTP, 2 gRPC, 3 transp. */
#define REIN_COND_VALUE(c) ((c)&0xffffu)

/* The table above: the kind of condition `c`. An HTTP status outside
 * 100..599 or a gRPC code above 16 is FAILURE; REIN_COND_NONE is FAILURE. */
REIN_API rein_outcome_kind rein_condition_kind(rein_condition c);

/* The name of `c` ("503", "UNAVAILABLE", "connect-failure", "none") into
 * `buf` (always NUL-terminated when len > 0); returns buf. */
REIN_API const char *rein_condition_name(rein_condition c, char *buf,
                                         size_t len);

/* "OK" .. "UNAUTHENTICATED"; "unknown" above 16. */
REIN_API const char *rein_grpc_code_name(uint32_t code);
/* "connect-failure", "reset", "timeout", "refused-stream"; "unknown". */
REIN_API const char *rein_transport_name(rein_transport t);

typedef struct rein_retryable_set {
  uint64_t http[10];  /* bit s % 64 of word s / 64: HTTP status s (100..599) */
  uint32_t grpc;      /* bit c: gRPC code c (1..16; OK is never retryable) */
  uint32_t transport; /* bit t: rein_transport t */
  uint32_t kinds;     /* REIN_RETRY_ON(kind): every condition of that kind
                         (never SUCCESS) */
} rein_retryable_set;

/* Empty the set (equivalently: zero it). */
REIN_API void rein_retryable_set_clear(rein_retryable_set *s);
REIN_API bool rein_retryable_set_is_empty(const rein_retryable_set *s);

/*
 * Add one name (see the grammar above; `len` bytes, no NUL needed). REIN_OK,
 * or REIN_EINVAL with a message in `err` (may be NULL) that quotes the name
 * and says what was expected; the set is unchanged then.
 */
REIN_API rein_status rein_retryable_set_add(rein_retryable_set *s,
                                            const char *name, size_t len,
                                            rein_errbuf *err);
/* Clear `s`, then add every name of `list` (separated by commas and/or
 * spaces, e.g. "503, 5xx, UNAVAILABLE, timeout"). REIN_EINVAL as above. */
REIN_API rein_status rein_retryable_set_parse(rein_retryable_set *s,
                                              const char *list,
                                              rein_errbuf *err);

/*
 * Is an attempt that ended with condition `c` and kind `kind` retryable?
 * True when `c` is named in the set or `kind` is one of its kinds; with
 * REIN_COND_NONE only the kinds decide. SUCCESS is never retryable.
 */
REIN_API bool rein_retryable_set_has(const rein_retryable_set *s,
                                     rein_condition c, rein_outcome_kind kind);

/* The kinds the set touches: its own kinds plus the kind of every
 * condition it names (a REIN_RETRY_ON mask; what a kind-only transport
 * would retry). */
REIN_API uint32_t rein_retryable_set_kind_mask(const rein_retryable_set *s);

/* REIN_OK, or REIN_EINVAL naming "policy.retryable" when a bit is set that
 * no name can set (HTTP outside 100..599, gRPC OK or above 16, unknown
 * transport, the SUCCESS kind or an unknown kind). */
REIN_API rein_status rein_retryable_set_validate(const rein_retryable_set *s,
                                                 rein_errbuf *err);

/*
 * The set's names, comma-separated ("5xx, 429, UNAVAILABLE, timeout"):
 * full classes as `Nxx`, runs of statuses as `A-B`, then gRPC names,
 * transport conditions and kinds. Parsing the text gives the same set.
 * Writes at most len - 1 characters and a NUL; returns the length the
 * full text has (like snprintf), so a return >= len means truncated.
 */
REIN_API size_t rein_retryable_set_format(const rein_retryable_set *s,
                                          char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* REIN_CLASSIFY_H */
