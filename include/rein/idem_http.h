/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/idem_http.h: idempotency keys over HTTP, for any server framework.
 *
 * The helper sits between an HTTP framework and an idempotency store
 * (rein/idem.h). It knows HTTP (the Idempotency-Key field, status codes,
 * problem+json bodies, Retry-After) and nothing about any framework: the
 * caller hands it the method, the route, the principal, a way to read
 * request headers and the body bytes, and gets back a decision:
 *
 *   PROCEED  run the handler. When the request carried a key the caller now
 *            holds the store's lease; after the handler ran it calls
 *            rein_idem_http_complete() with the response it sends (stored
 *            and replayed to retries) or rein_idem_http_abandon() when the
 *            handler failed with no effect. Add the headers of
 *            rein_idem_http_exchange_headers() to the response.
 *   REPLAY   send rein_idem_http_exchange_response(): the original status,
 *            headers and body plus `Idempotent-Replayed: true`.
 *   REJECT   send rein_idem_http_exchange_response(), one of
 *              400  Idempotency-Key missing (where required), malformed
 *                   or ambiguous (see "An unreadable key" below)
 *              431  the framework dropped headers (headers_truncated)
 *              409  the same key is being processed; Retry-After = the
 *                   remaining lease in whole seconds (at least 1)
 *              422  the key was used with a different request
 *              503  the store failed; Retry-After: 1; nothing ran
 *            each with an RFC 9457 application/problem+json body
 *            {"type","title","status","detail"}.
 *
 * The key. Idempotency-Key is parsed as draft-ietf-httpapi-idempotency-key-
 * header specifies: an RFC 8941 Item whose value is a String (quoted; only
 * \" and \\ escape; printable ASCII), optionally with parameters, which are
 * ignored. Tokens (unquoted keys), lists, empty strings and keys longer than
 * 255 characters are rejected with 400 and a detail naming the column and
 * the fix. Two Idempotency-Key fields in one request are rejected too.
 *
 * An unreadable key is an error, never "no key". A request whose key the
 * helper cannot read unambiguously is rejected, even where keys are
 * optional, because running it unkeyed would let its retry charge twice:
 *   400  two Idempotency-Key fields; a field whose name contains
 *        "Idempotency-Key" but is not a valid field name (an obs-fold or a
 *        stray byte: libmicrohttpd 0.9.75 glues a folded line ` ;x=1` onto
 *        the NAME, giving "Idempotency-Key;x=1", and keeps
 *        "Idempotency-Key " with its trailing space); a malformed value
 *   431  the framework could not hand over every header
 *        (request.headers_truncated): a key, or a second key, may be among
 *        the ones it dropped.
 * Only the array form of the headers can see duplicates and broken names;
 * with the lookup callback the framework decides.
 *
 * The fingerprint is SHA-256 over (method, route, body), each part with a
 * 64-bit length prefix (rein_idem_fingerprint_parts): the same key sent
 * with a different body, or to another route, is a 422, never a replay.
 * The body is hashed byte for byte; a service that wants "same JSON, other
 * spacing" to count as the same request canonicalizes before calling.
 *
 * Scope. The store scope is (principal, "METHOD route"): principal B sending
 * principal A's key reaches a record of its own, so it neither replays A's
 * response nor gets a conflict. The principal must come from
 * authentication, never from a field the client may set freely.
 *
 * Retention. Every response to a request that carried an Idempotency-Key
 * (proceed, replay and every rejection) gets
 * `Idempotency-Key-Retention: <seconds>` (REIN_HEADER_IDEM_RETENTION), the
 * configured retention, so a client can check it covers its retry window.
 *
 * Thread level: a rein_idem_http is immutable after creation; share it
 * freely. Its counters are atomic. A rein_idem_http_exchange is used by one
 * thread at a time, and so is the store it was begun with unless that store
 * is internally synchronized (memory): open one SQLite/PostgreSQL/Redis
 * store per worker thread and pass it to rein_idem_http_begin.
 */
#ifndef REIN_IDEM_HTTP_H
#define REIN_IDEM_HTTP_H

#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"
#include "rein/idem.h"
#include "rein/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define REIN_HEADER_IDEM_KEY "Idempotency-Key"
#define REIN_HEADER_IDEM_REPLAYED "Idempotent-Replayed"
#define REIN_IDEM_HTTP_KEY_MAX 255
#define REIN_IDEM_HTTP_PROBLEM_CT "application/problem+json"

/* Problem types (RFC 9457 "type"), appended to config.problem_type_base. */
#define REIN_IDEM_PROBLEM_KEY_MISSING "idempotency-key-missing"
#define REIN_IDEM_PROBLEM_KEY_INVALID "idempotency-key-invalid"
#define REIN_IDEM_PROBLEM_IN_PROGRESS "idempotency-key-in-progress"
#define REIN_IDEM_PROBLEM_KEY_REUSED "idempotency-key-reused"
#define REIN_IDEM_PROBLEM_STORE "idempotency-store-unavailable"

/* One header: NUL-terminated name and value. */
typedef struct rein_idem_http_header {
  const char *name;
  const char *value;
} rein_idem_http_header;

/* Reads a request header by name (case-insensitive); returns the value
 * (NUL-terminated, owned by the caller's framework) or NULL when absent.
 * libmicrohttpd's MHD_lookup_connection_value fits with a small adapter. */
typedef const char *(*rein_idem_http_lookup_fn)(void *ctx, const char *name);

/* What a request brings. Borrowed for the duration of begin. */
typedef struct rein_idem_http_request {
  const char *method;    /* "POST"; required */
  const char *route;     /* the route template ("/charges"), not the raw
                            path with ids; required */
  const char *principal; /* authenticated caller; NULL = "" (anonymous) */
  /* Headers: either the lookup callback, or the array (when lookup is
   * NULL). With the array, a name present twice is detected; with the
   * callback the framework decides (most return the first). */
  rein_idem_http_lookup_fn lookup;
  void *lookup_ctx;
  const rein_idem_http_header *headers;
  size_t n_headers;
  const void *body; /* may be NULL when body_len is 0 */
  size_t body_len;
  bool key_required; /* no key -> 400; false -> PROCEED without a lease */
  /* The framework dropped some of the request's headers (a cap on their
   * count or size): the helper answers 431 instead of guessing that the
   * key, or a second key, was not among them. */
  bool headers_truncated;
} rein_idem_http_request;

/* A response: what the handler sends (to complete) or what the helper
 * built (replay, reject). */
typedef struct rein_idem_http_response {
  int status;
  const rein_idem_http_header *headers;
  size_t n_headers;
  const void *body;
  size_t body_len;
} rein_idem_http_response;

typedef struct rein_idem_http_config {
  int64_t lease_ns;     /* default 30 s; [1 ms, 24 h] */
  int64_t retention_ns; /* default 24 h; [lease_ns, 366 days] */
  /* RFC 9457 type prefix; copied; default "urn:rein:problem:"; at most 200
   * bytes, printable ASCII without '"' or '\\'. */
  const char *problem_type_base;
  const rein_allocator *alloc;
  rein_errbuf *err;
} rein_idem_http_config;

typedef struct rein_idem_http rein_idem_http;
typedef struct rein_idem_http_exchange rein_idem_http_exchange;

typedef enum rein_idem_http_action {
  REIN_IDEM_HTTP_PROCEED = 1,
  REIN_IDEM_HTTP_REPLAY = 2,
  REIN_IDEM_HTTP_REJECT = 3
} rein_idem_http_action;

/* What happened, counted by the helper (atomic, relaxed). */
typedef struct rein_idem_http_stats {
  uint64_t proceed_keyed;   /* NEW: handler ran under a lease */
  uint64_t proceed_unkeyed; /* no key, not required */
  uint64_t recovered;       /* NEW taking over an expired lease */
  uint64_t replays;         /* 200/201/... replayed */
  uint64_t missing;         /* 400 no key */
  uint64_t invalid;         /* 400 malformed key */
  uint64_t in_progress;     /* 409 */
  uint64_t mismatches;      /* 422 */
  uint64_t store_errors;    /* 503 from begin, and failed complete/abandon */
  uint64_t completed;       /* responses stored */
  uint64_t released;        /* abandoned, or complete() of a non-cacheable
                               status */
  uint64_t stale;           /* complete/abandon refused: REIN_ESTALE */
} rein_idem_http_stats;

REIN_API void rein_idem_http_config_default(rein_idem_http_config *c);

/* Validates and copies `c` (NULL = defaults). REIN_OK, REIN_EINVAL (message
 * naming the field in c->err) or REIN_ENOMEM. */
REIN_API rein_status rein_idem_http_new(const rein_idem_http_config *c,
                                        rein_idem_http **out);
/* NULL is a no-op. Exchanges must be freed first. */
REIN_API void rein_idem_http_free(rein_idem_http *h);

/*
 * Decide what to do with `req`, using `store` (borrowed; it must stay valid,
 * and unused by other threads unless internally synchronized, until the
 * exchange is freed). On REIN_OK `*out` is a new exchange: read its action
 * and response, and free it with rein_idem_http_exchange_free. A store
 * failure is not an error of this call: it becomes a REJECT 503 whose
 * rein_idem_http_exchange_store_status() says what failed.
 * Returns REIN_OK, REIN_EINVAL (NULL h/store/req/out, missing method or
 * route, NULL body with body_len > 0) or REIN_ENOMEM.
 */
REIN_API rein_status rein_idem_http_begin(const rein_idem_http *h,
                                          rein_idem_store *store,
                                          const rein_idem_http_request *req,
                                          rein_idem_http_exchange **out);

REIN_API rein_idem_http_action
rein_idem_http_exchange_action(const rein_idem_http_exchange *x);

/* The response to send for REPLAY and REJECT (NULL for PROCEED). Owned by
 * the exchange; valid until it is freed. Bodies of rejections are
 * NUL-terminated JSON (body_len excludes the NUL). */
REIN_API const rein_idem_http_response *
rein_idem_http_exchange_response(const rein_idem_http_exchange *x);

/* Headers to add to the handler's own response on PROCEED (the retention
 * header when keyed; none otherwise). `*n` gets the count. Owned by the
 * exchange. */
REIN_API const rein_idem_http_header *
rein_idem_http_exchange_headers(const rein_idem_http_exchange *x, size_t *n);

/* The parsed key (NULL when the request had none or it was malformed). */
REIN_API const char *
rein_idem_http_exchange_key(const rein_idem_http_exchange *x);
/* The request fingerprint (REIN_IDEM_FINGERPRINT_LEN bytes: SHA-256 over
 * method, route and body, as above) of a request with a valid key; NULL
 * otherwise. A handler that records its effect under the key stores it to
 * tell a reused key from a retry when the store has forgotten the key. */
REIN_API const uint8_t *
rein_idem_http_exchange_fingerprint(const rein_idem_http_exchange *x);
/* The store's token on a keyed PROCEED (NULL otherwise): its fence can be
 * handed to downstream systems as a fencing token. */
REIN_API const rein_idem_token *
rein_idem_http_exchange_token(const rein_idem_http_exchange *x);
/* On a keyed PROCEED: whether an expired lease was taken over, and the dead
 * holder's last checkpoint ("" when none). */
REIN_API bool
rein_idem_http_exchange_recovered(const rein_idem_http_exchange *x);
REIN_API const char *
rein_idem_http_exchange_phase(const rein_idem_http_exchange *x);
/* REIN_OK, or the store error behind a 503 REJECT (or the last failed
 * complete/abandon), with the store's message copied at the time. */
REIN_API rein_status
rein_idem_http_exchange_store_status(const rein_idem_http_exchange *x);
REIN_API const char *
rein_idem_http_exchange_store_message(const rein_idem_http_exchange *x);

/*
 * After the handler ran on a keyed PROCEED: store `resp` so retries replay
 * it. The stored headers are resp's headers minus Idempotent-Replayed and
 * the retention header (added afresh on replay). Whether a status is stored
 * is the store's cacheable policy (default: 2xx, 3xx, 4xx except 409/429);
 * one that is not releases the key instead. `*stored` (optional) says
 * which. On an unkeyed PROCEED: no-op, REIN_OK, *stored false.
 * Returns REIN_OK; REIN_ESTALE (the lease was taken over while the handler
 * ran; nothing stored: the handler's effect must itself be idempotent);
 * REIN_ETOOBIG (response above the store's cap; the lease is still held:
 * abandon or complete with less); REIN_ESTATE (not a PROCEED, or already
 * completed/abandoned); REIN_EINVAL; REIN_ENOMEM; or a store error.
 */
REIN_API rein_status
rein_idem_http_complete(rein_idem_http_exchange *x,
                        const rein_idem_http_response *resp, bool *stored);

/* After a handler failed with NO effect on a keyed PROCEED: release the key
 * so a retry runs again. No-op on an unkeyed PROCEED. Same returns as
 * complete (without ETOOBIG). */
REIN_API rein_status rein_idem_http_abandon(rein_idem_http_exchange *x);

/* Record a recovery point for a multi-step handler (rein_idem_checkpoint);
 * REIN_ESTATE when not a keyed PROCEED. */
REIN_API rein_status rein_idem_http_checkpoint(rein_idem_http_exchange *x,
                                               const char *phase,
                                               int64_t extend_lease_ns);

/* Frees the exchange. NULL is a no-op. A keyed PROCEED freed without
 * complete or abandon keeps its lease until the lease ends (the safe
 * default: the helper cannot know whether the handler had an effect). */
REIN_API void rein_idem_http_exchange_free(rein_idem_http_exchange *x);

/* The retention header's value ("86400"), for responses the service sends
 * itself before or instead of begin (e.g. a body that fails validation)
 * to a request that carried a key. Owned by `h`. */
REIN_API const char *rein_idem_http_retention_value(const rein_idem_http *h);

/* Snapshot of the counters. */
REIN_API void rein_idem_http_get_stats(const rein_idem_http *h,
                                       rein_idem_http_stats *out);

/* ---- building blocks (pure; thread-safe) ------------------------------- */

/*
 * Parse an Idempotency-Key field value of `len` bytes (need not be
 * NUL-terminated) into `out` (cap >= 256 holds any valid key), NUL-terminated,
 * `*out_len` (optional) = its length. REIN_OK; REIN_EPARSE with a message in
 * `err` (optional): "Idempotency-Key: column N: what, and how to fix";
 * REIN_ETOOBIG when `cap` is too small; REIN_EINVAL for NULL pointers.
 */
REIN_API rein_status rein_idem_http_parse_key(const char *value, size_t len,
                                              char *out, size_t cap,
                                              size_t *out_len,
                                              rein_errbuf *err);

/*
 * Find and parse the Idempotency-Key of `req` with the rules above (the
 * array form, or the lookup callback when set). REIN_OK: the key is in
 * `out` (cap >= 256), NUL-terminated. REIN_ENOTFOUND: the request has no
 * key field and nothing that looks like one. REIN_EPARSE: a key the helper
 * cannot read unambiguously (two fields, a broken field name containing
 * "Idempotency-Key", a malformed value); REIN_ETOOBIG: headers_truncated.
 * Both with a message in `err` (optional) saying what was wrong and how to
 * fix it. REIN_EINVAL for NULL pointers. Pure; thread-safe.
 */
REIN_API rein_status rein_idem_http_read_key(const rein_idem_http_request *req,
                                             char *out, size_t cap,
                                             rein_errbuf *err);

/* Serialize `key` (1..255 printable ASCII bytes) as an sf-string, for
 * clients: `"abc"`, escaping " and \. Writes at most `cap` bytes including
 * the NUL; `*needed` (optional) = length without NUL. REIN_OK, REIN_ERANGE
 * (length), REIN_EPARSE (non-printable byte), REIN_ETOOBIG, REIN_EINVAL. */
REIN_API rein_status rein_idem_http_format_key(const char *key, size_t len,
                                               char *out, size_t cap,
                                               size_t *needed);

/*
 * An RFC 9457 problem body {"type":..,"title":..,"status":..,"detail":..}
 * with strings JSON-escaped (detail may be NULL: omitted), built with
 * jansson: bytes that are not UTF-8 come out as U+FFFD, so the body is
 * always UTF-8 JSON. Writes at most `cap` bytes including the NUL;
 * `*needed` (optional) = full length without the NUL. REIN_OK,
 * REIN_ETOOBIG (truncated, NUL-terminated when cap > 0), REIN_EINVAL
 * (NULL type/title), REIN_ENOMEM (jansson could not allocate; `*needed`
 * is 0).
 */
REIN_API rein_status rein_idem_http_problem(char *buf, size_t cap,
                                            size_t *needed, const char *type,
                                            const char *title, int status,
                                            const char *detail);

/* Reason phrase for the statuses the helper emits ("Conflict", ...), "" for
 * others. */
REIN_API const char *rein_idem_http_reason(int status);

#ifdef __cplusplus
}
#endif
#endif /* REIN_IDEM_HTTP_H */
