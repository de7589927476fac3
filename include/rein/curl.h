/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/curl.h: HTTP calls through libcurl under a rein retry policy.
 *
 * A rein_curl client pairs a rein_policy with what an HTTP client needs
 * around it: it classifies each attempt (CURLcode and HTTP status) into a
 * rein_outcome, reads what the server said (Retry-After, RateLimit,
 * grpc-retry-pushback-ms, Rein-Dont-Retry, Idempotency-Key-Retention)
 * through rein_signals, sets the per-attempt timeout and the call's
 * deadline, numbers attempts (`Rein-Attempt: N`), and gives a non-idempotent
 * request one Idempotency-Key for all of its attempts. Every retry decision
 * is the state machine's (rein_retry_begin / rein_retry_next): there is no
 * other retry logic here.
 *
 * Two ways to drive a request:
 *
 *   blocking    rein_curl_perform(client, easy): attempts with
 *               curl_easy_perform, waits through the client's rein_sleeper.
 *   event loop  rein_curl_call_new + rein_curl_multi_add / _done / _resume:
 *               the call says when its easy handle is in flight, when it
 *               must be re-added (an absolute time on the policy's clock)
 *               and when it is finished. Nothing sleeps; the caller's loop
 *               runs curl_multi_poll with a timeout up to the next due time.
 *
 *   CURLM *m = curl_multi_init();
 *   rein_curl_call *call;
 *   rein_curl_call_new(client, easy, NULL, &call);
 *   rein_curl_step st;
 *   rein_curl_multi_add(call, m, &st);
 *   while (st.state != REIN_CURL_FINISHED) {
 *     int64_t now = rein_policy_now(policy);
 *     if (st.state == REIN_CURL_WAITING && now >= st.due_ns)
 *       rein_curl_multi_resume(call, m, &st);
 *     else {
 *       int running, left;
 *       curl_multi_perform(m, &running);
 *       CURLMsg *msg;
 *       while ((msg = curl_multi_info_read(m, &left)))
 *         if (msg->msg == CURLMSG_DONE)   // one call here; map many calls
 *           rein_curl_multi_done(call, m, msg, &st);  // with `user`
 *       curl_multi_poll(m, NULL, 0, rein_curl_poll_ms(&st, now, 1000), NULL);
 *     }
 *   }
 *
 * Classification (rein_curl_condition, rein_curl_classify; docs/http.md):
 * each attempt gets a condition and a kind from rein/classify.h's table, so
 * a contract's retryable set (`when: [504]`) is what the client retries.
 *   CURLE_COULDNT_CONNECT, _RESOLVE_HOST, _RESOLVE_PROXY, SSL_CONNECT_ERROR
 *                                        -> connect-failure (NOT_SENT)
 *   CURLE_OPERATION_TIMEDOUT             -> timeout (TIMEOUT)
 *   GOT_NOTHING, SEND_ERROR, RECV_ERROR, PARTIAL_FILE and other transport
 *   errors                               -> reset (FAILURE)
 *   local errors (bad URL, out of memory, callback aborted, write error,
 *   unsupported protocol, too many redirects, peer verification)
 *                                        -> no condition, FATAL
 *   an HTTP status 100..599              -> that status, its kind from the
 *                                           table (408/504 TIMEOUT, 425/429/
 *                                           503 OVERLOADED, 501/505/506/508/
 *                                           510/511 FATAL, other 5xx
 *                                           FAILURE, other 4xx FATAL)
 *   no status (non-HTTP)                 -> SUCCESS
 * A 409 with Retry-After (when honoured) on a request that carries a key
 * is "in progress"
 * (rein_outcome.in_progress: rein_idem_http's answer while the first
 * request with that key still runs): the state machine waits at least the
 * Retry-After and sends again with the same key until the stored response
 * is replayed or the window / deadline ends (rein/retry.h, step 0).
 *
 * Idempotency. A request is non-idempotent when its method (rein_curl_opts
 * .method) is listed in config.non_idempotent_methods (default "POST,PATCH"),
 * or, with no method given, when the policy says so (idempotent = false).
 * A non-idempotent request runs under a non-idempotent copy of the policy
 * (same budget, breaker, throttle and metrics), so the state machine's gate
 * applies: it is retried only with a key, or when the failure provably
 * happened before sending (NOT_SENT). With config.keys =
 * REIN_CURL_KEYS_NON_IDEMPOTENT (the default) such a request gets
 * `Idempotency-Key: "<uuid>"` (an RFC 8941 sf-string holding a random v4
 * UUID from getrandom(), the same on every attempt of the call).
 * Keys across a boundary (a service calling on behalf of a keyed request):
 * REIN_CURL_KEYS_PASS_THROUGH sends opts.inbound_key as it is,
 * REIN_CURL_KEYS_DERIVE sends rein_curl_derive_key(inbound, operation).
 * A response's Idempotency-Key-Retention goes to the state machine
 * (rein_outcome.key_retention_ns), which refuses a keyed retry that would
 * be sent after it (rein/retry.h step 5a, REIN_GIVEUP_RETENTION).
 * When a response carries Idempotency-Key-Retention shorter than the
 * policy's retry window (window_ns, else the call's deadline), the client
 * counts a retention warning (rein_curl_stats) and logs one line through
 * config.log (once per client; the counter counts every call).
 *
 * The easy handle. rein_curl owns these options while a call runs and sets
 * them on every attempt: CURLOPT_HTTPHEADER (opts.headers plus Rein-Attempt
 * and Idempotency-Key), CURLOPT_HEADERFUNCTION / CURLOPT_HEADERDATA (chained
 * to opts.header_fn), CURLOPT_TIMEOUT_MS (the decision's timeout: the
 * policy's attempt timeout, shortened to the deadline; 0 = none), and with
 * endpoints CURLOPT_CURLU. Set everything else (URL, method, body, write
 * callback) before the call. The
 * write callback sees the body of every attempt: reset it in opts.on_attempt.
 * After the call the handle keeps rein's header list pointer only until
 * rein_curl_call_free (blocking: until rein_curl_perform returns, which
 * resets CURLOPT_HTTPHEADER to opts.headers).
 *
 * Endpoints (config.endpoints / config.resolve, docs/http.md "Endpoints"):
 * a call may go to several replicas. Each attempt's endpoint is chosen
 * just before the state machine is asked for it: the first by round robin
 * (or a seeded random pick), every retry and hedge one the call has not
 * tried, then the least recently failed; an in-progress 409 is polled at
 * the replica that answered it. The handle's URL keeps its path and query;
 * its scheme, host and port are the endpoint's (CURLOPT_CURLU, set per
 * attempt and cleared when the call ends). With config.endpoint_breakers
 * an endpoint whose breaker refuses is skipped while another permits; when
 * none does the call gives up BREAKER_OPEN without sending (through
 * rein_retry_refuse, so the policy's metrics and on_give_up see it), and a
 * hedge with no endpoint is not sent (the call goes on with what is in
 * flight). rein_curl_result.trail says where each attempt went.
 *
 * Thread level: a rein_curl is immutable after creation except for its
 * atomic counters, its pacing time (one atomic) and its endpoint slots
 * (filled once under a mutex, read without one); share it between
 * threads. A rein_curl_call (and its easy
 * handle) is used by one thread at a time, as libcurl requires.
 */
#ifndef REIN_CURL_H
#define REIN_CURL_H

#include <curl/curl.h>

#include "rein/common.h"
#include "rein/errors.h"
#include "rein/model.h"
#include "rein/retry.h"
#include "rein/signal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_curl rein_curl;
typedef struct rein_curl_call rein_curl_call;
struct rein_contract_set;

/* When the client adds an Idempotency-Key. */
typedef enum rein_curl_keys {
  REIN_CURL_KEYS_NONE = 0,           /* never (a caller may pass its own) */
  REIN_CURL_KEYS_NON_IDEMPOTENT = 1, /* to non-idempotent requests (default) */
  REIN_CURL_KEYS_ALWAYS = 2,         /* to every request */
  /* A service calling on behalf of a keyed request (contract key modes;
   * give the request's key as rein_curl_opts.inbound_key). Without an
   * inbound key, as NON_IDEMPOTENT. */
  REIN_CURL_KEYS_PASS_THROUGH = 3, /* send the inbound key as it is */
  REIN_CURL_KEYS_DERIVE = 4        /* send rein_curl_derive_key(inbound key,
                                      config.operation, config.derive_secret) */
} rein_curl_keys;

/* Proactive pacing by RateLimit (rein_curl_pace_ns). */
typedef enum rein_curl_pace {
  REIN_CURL_PACE_AUTO = 0, /* rein_curl_new: off; rein_curl_new_from_contract:
                              on when the call honours the ratelimit signal */
  REIN_CURL_PACE_OFF = 1,
  REIN_CURL_PACE_ON = 2
} rein_curl_pace;

/* Server signals the client honours (bits; the same values as
 * REIN_CONTRACT_SIGNAL_* in rein/contract.h). */
#define REIN_CURL_SIGNAL_RETRY_AFTER 1u
#define REIN_CURL_SIGNAL_PUSHBACK 2u
#define REIN_CURL_SIGNAL_RATELIMIT 4u
#define REIN_CURL_SIGNAL_DONT_RETRY 8u
#define REIN_CURL_SIGNAL_ALL 15u

/* Which header carries the time an attempt is waited for. */
typedef enum rein_curl_deadline_header {
  REIN_CURL_DEADLINE_REIN = 0, /* Rein-Deadline: <milliseconds> (default) */
  REIN_CURL_DEADLINE_GRPC = 1, /* grpc-timeout: <1-8 digits><H|M|S|m|u|n> */
  REIN_CURL_DEADLINE_NONE = 2  /* do not propagate */
} rein_curl_deadline_header;

/* One log line (no trailing newline). */
typedef void (*rein_curl_log_fn)(void *ctx, const char *line);
/* Fill `buf` with `n` random bytes; 0 on success. */
typedef int (*rein_curl_random_fn)(void *ctx, void *buf, size_t n);

/* Endpoints (config.endpoints, config.resolve; docs/http.md "Endpoints"). */
#define REIN_CURL_ENDPOINTS_MAX 16  /* per call */
#define REIN_CURL_ENDPOINT_SLOTS 32 /* endpoints a client keeps state for */
#define REIN_CURL_ENDPOINT_LEN 280  /* longest base URL, NUL included */
#define REIN_CURL_TRAIL_MAX 16      /* attempts whose endpoint a result lists */

/* How a call's first attempt picks its endpoint. */
typedef enum rein_curl_pick {
  REIN_CURL_PICK_ROUND_ROBIN = 0, /* the next one, across the client's calls
                                     (default) */
  REIN_CURL_PICK_RANDOM = 1       /* uniform, from a generator seeded by
                                     opts.seed, else by endpoint_seed and a
                                     call counter */
} rein_curl_pick;

/* The endpoints of one call: write up to `cap` base URLs
 * ("scheme://host[:port]") into out[] and return how many (0 = none: the
 * easy handle's URL as it is); a negative value fails the call before
 * anything is sent (REIN_ENOTFOUND), and so does a bad URL (REIN_EINVAL,
 * logged through config.log). Called once per call, at its start
 * (rein_curl_perform_ex, rein_curl_call_new), on the caller's thread, so
 * it must be thread-safe when the client is shared; the strings are
 * parsed and copied before that function goes on (they need not outlive
 * it). */
typedef int (*rein_curl_resolve_fn)(void *ctx, const char **out, size_t cap);

typedef struct rein_curl_config {
  const rein_policy *policy; /* required; borrowed (must outlive the client) */
  rein_sleeper sleeper;      /* blocking waits; NULL sleep_ns = nanosleep */
  rein_curl_keys keys;       /* default REIN_CURL_KEYS_NON_IDEMPOTENT */
  const char *key_header;    /* default "Idempotency-Key"; copied */
  const char *non_idempotent_methods; /* comma-separated, case-insensitive;
                                         default "POST,PATCH"; copied */
  uint32_t signals;     /* REIN_CURL_SIGNAL_* honoured; default ALL */
  bool attempt_header;  /* send Rein-Attempt: N; default true */
  int64_t deadline_ns;  /* default per-call deadline, relative to the
                           call's start; 0 = none */
  rein_clock wall;      /* for Retry-After HTTP-dates; NULL now_ns =
                           CLOCK_REALTIME */
  rein_curl_log_fn log; /* NULL = write the line to stderr */
  void *log_ctx;
  rein_curl_random_fn random; /* key bytes; NULL = getrandom() */
  void *random_ctx;
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Appended. Key derivation (keys = DERIVE): the operation named in the
   * derivation, e.g. the contract's "ledger.charge" (copied; NULL = "");
   * an optional HMAC secret (copied, at most 64 bytes; NULL = plain
   * SHA-256, which any party that knows the inbound key can recompute). */
  const char *operation;
  const void *derive_secret;
  size_t derive_secret_len;
  /* Pacing: when a response carries RateLimit with nothing or little left
   * (rein_signals_pace_ns), the client's next call first waits for the
   * reset instead of meeting a 429. At most pace_max_ns per call (default
   * 10 s; [0, 6 h]); never past the call's deadline (it is then sent at
   * once). */
  rein_curl_pace pace;
  int64_t pace_max_ns;
  /* Appended. Deadline propagation (rein/signal.h): each attempt tells the
   * server how long its answer is of use, rounded down, in
   * `Rein-Deadline: <ms>` (the default), `grpc-timeout: <n><unit>`, or not
   * at all. Unkeyed, that is the attempt's timeout (the policy's, shortened
   * to the call's deadline; rein_decision.timeout_ns): no retry can reuse
   * work finished after it. Keyed, it is the time left of the call's
   * deadline, since a retry replays what the server finished after an
   * attempt timed out; a keyed call without a deadline sends nothing, and
   * so does an unkeyed attempt without a timeout. */
  rein_curl_deadline_header deadline_header;
  /* Appended. Hedged requests (rein/hedge.h, docs/hedging.md): NULL = none;
   * else its attempts, delay, quantile, window and min_samples (copied;
   * its policy ignored: the client's, for each idempotency). A hedging
   * client's calls run on the caller's multi handle (rein_curl_call_*;
   * rein_curl_perform_ex on a multi handle of its own): attempt k >= 2 on
   * a curl_easy_duphandle of the caller's handle (which keeps its
   * CURLOPT_PRIVATE), each attempt's body and headers kept apart (up to
   * hedge_body_max bytes each) and the winner's handed to opts.write_fn
   * and opts.header_fn, which a hedged call requires (REIN_EINVAL without
   * write_fn); the losers are removed from the multi handle (cancelled).
   * See REIN_CURL_HEDGING. A handle libcurl cannot duplicate (before
   * 8.5.0: CURLOPT_COPYPOSTFIELDS without CURLOPT_POSTFIELDSIZE set
   * first) sends no hedge: the call goes on with its first attempt and,
   * when that is not enough, ends REIN_EUNSUPPORTED (stats.hedges_undup,
   * one log line per client). A keyed hedge that meets an in-progress 409
   * (rein/hedge.h a') waits for the attempts in flight. */
  const rein_hedge_config *hedge;
  size_t hedge_body_max; /* per attempt; 0 = 1 MiB; larger bodies fail the
                            attempt (CURLE_WRITE_ERROR, FATAL) */
  /* Appended. Endpoints (docs/http.md "Endpoints"): the replicas a call may
   * go to, as base URLs "scheme://host[:port]" (no path, query, fragment or
   * credentials; at most REIN_CURL_ENDPOINTS_MAX, each shorter than
   * REIN_CURL_ENDPOINT_LEN; copied). Each attempt sends the easy handle's
   * URL with its scheme, host and port replaced by its endpoint's (libcurl's
   * URL API: CURLOPT_CURLU; path and query kept). The first attempt takes
   * the next endpoint by `endpoint_pick`; each later attempt (a retry, a
   * hedge) one the call has not tried yet, in list order after the last;
   * when every endpoint was tried, the one whose last failure in this call
   * is the oldest (Envoy's retry_host_predicate previous_hosts). NULL /
   * 0 = none. `resolve` (optional) gives the list per call instead. */
  const char *const *endpoints;
  size_t endpoint_count;
  rein_curl_resolve_fn resolve;
  void *resolve_ctx;
  rein_curl_pick endpoint_pick; /* default ROUND_ROBIN */
  uint64_t endpoint_seed;       /* PICK_RANDOM without opts.seed; default 1 */
  /* A breaker per endpoint (rein/breaker.h), made from endpoint_breaker
   * (copied; NULL = from a contract, its breaker block when it has one,
   * else rein_breaker_config_default; each endpoint's open-jitter seed
   * offset by its slot). An attempt skips an endpoint whose breaker refuses
   * while another endpoint permits; when none does, the call gives up as the
   * policy's breaker would (REIN_GIVEUP_BREAKER_OPEN, dont_retry, nothing
   * sent). Outcomes are recorded per endpoint as the policy's breaker records
   * them (failure, timeout, not sent, overloaded are failures). A client
   * keeps state for at most REIN_CURL_ENDPOINT_SLOTS distinct endpoints
   * (configured ones first, then resolved ones as first seen); one past
   * that has no breaker and counts in stats.endpoints_unslotted. */
  bool endpoint_breakers;
  const rein_breaker_config *endpoint_breaker;
} rein_curl_config;

REIN_API void rein_curl_config_default(rein_curl_config *c);

/* Validates the config (REIN_EINVAL naming e.g. "curl.policy" or
 * "curl.key_header") and allocates. REIN_ENOMEM on allocation failure. */
REIN_API rein_status rein_curl_new(const rein_curl_config *c, rein_curl **out);

/*
 * A client whose policy comes from a contract: the call from `caller` to
 * `to` ("service.operation") in `set`, through rein_policy_from_contract.
 * The client creates and owns the policy, budget, breaker and throttle the
 * contract declares (a fleet-scoped budget becomes a local one), takes
 * keys (originate -> NON_IDEMPOTENT, otherwise NONE), the key header, the
 * honoured signals and the per-call deadline from it; the rest of `base`
 * (may be NULL: defaults) is used as given, its `policy` ignored.
 * `metrics` (optional, borrowed) is attached to the policy and breaker.
 * `clock` (optional) replaces the policy's clock (tests, simulations).
 * REIN_ENOTFOUND when the set has no such call (message in base->err),
 * REIN_EINVAL, REIN_ENOMEM.
 */
REIN_API rein_status rein_curl_new_from_contract(
    const rein_curl_config *base, const struct rein_contract_set *set,
    const char *caller, const char *to, rein_metrics *metrics,
    const rein_clock *clock, rein_curl **out);

/* NULL is a no-op. No call may be running. */
REIN_API void rein_curl_free(rein_curl *c);

/* The policy calls run under (for rein_policy_now and its config). */
REIN_API const rein_policy *rein_curl_policy(const rein_curl *c);

/* The policy calls run under, read back as the model's spec (rein/model.h:
 * rein_policy_spec_of of the running policy, with the deadline and the
 * honoured signals of this client): what test_model compares with the
 * contract and the simulator. REIN_EINVAL for NULL. */
REIN_API rein_status rein_curl_spec(const rein_curl *c, rein_policy_spec *out);

/* Per-call options; NULL means all defaults. */
typedef struct rein_curl_opts {
  const char *method;          /* "POST", "GET", ... to decide idempotency;
                                  NULL = the policy's idempotent flag */
  struct curl_slist *headers;  /* the caller's request headers (borrowed) */
  const char *idempotency_key; /* send this key (raw; sent as an sf-string)
                                  instead of minting one; NULL = mint when
                                  config.keys says so */
  int64_t deadline;            /* absolute, on the policy's clock; 0 = none;
                                  the earlier of this and the client's
                                  deadline_ns counts (a server passes the
                                  deadline its caller sent, e.g.
                                  rein_deadline_in, so its retries fit) */
  uint64_t seed;               /* jitter seed; 0 = the policy's default */
  /* Called before every attempt (reset a response buffer, rewind a body). */
  void (*on_attempt)(void *ctx, CURL *easy, uint32_t attempt);
  void *on_attempt_ctx;
  /* Chained header callback (libcurl's signature; return size to go on). */
  size_t (*header_fn)(char *buf, size_t size, size_t n, void *ctx);
  void *header_ctx;
  void *user; /* returned by rein_curl_call_user; also the
                 event.user of the policy's on_retry and
                 on_give_up (rein/retry.h) */
  /* Appended. The key of the request this call serves (raw, as read from
   * the inbound Idempotency-Key, e.g. by rein_idem_http_read_key; at most
   * REIN_CURL_INBOUND_KEY_MAX bytes of printable ASCII); borrowed. Used
   * with keys = PASS_THROUGH or DERIVE; NULL = none. */
  const char *inbound_key;
  /* Appended (hedging clients): where the winning attempt's body goes,
   * with libcurl's write-callback signature. */
  size_t (*write_fn)(char *buf, size_t size, size_t n, void *ctx);
  void *write_ctx;
} rein_curl_opts;

/* What a finished call did. */
typedef struct rein_curl_result {
  rein_action action;      /* REIN_DONE or REIN_GIVE_UP */
  rein_giveup reason;      /* GIVE_UP: why */
  bool dont_retry;         /* GIVE_UP: tell the layer above not to retry */
  uint32_t attempts;       /* attempts sent */
  rein_outcome_kind last;  /* the last attempt's outcome */
  CURLcode last_code;      /* the last attempt's CURLcode */
  long http_status;        /* the last attempt's status; 0 = none */
  int64_t elapsed_ns;      /* begin to end, on the policy's clock */
  int64_t server_delay_ns; /* the last response's delay floor */
  bool retention_warning;  /* advertised retention < retry window */
  char key[64];            /* the Idempotency-Key value sent (raw); "" none */
  /* Appended. Endpoints: indexes into the call's list (config.endpoints,
   * or what resolve gave); -1 / 0xff = none (a client without endpoints). */
  int32_t endpoint;         /* the last attempt's */
  uint32_t endpoints_tried; /* bit i: endpoint i was sent an attempt */
  uint32_t endpoint_count;  /* the call's endpoints */
  uint8_t trail[REIN_CURL_TRAIL_MAX]; /* attempt k's endpoint at [k - 1];
                                         0xff: not sent (a hedge with no
                                         endpoint left) or past the last */
} rein_curl_result;

/* Counters of one client (monotonic totals). */
typedef struct rein_curl_stats {
  uint64_t calls, attempts, successes, giveups;
  uint64_t outcomes[REIN_OUTCOME_COUNT_]; /* by rein_outcome_kind */
  uint64_t keys_minted;
  uint64_t retention_warnings; /* calls whose server retention < window */
  uint64_t malformed_headers;  /* signal headers that did not parse */
  /* Appended. */
  uint64_t paced;        /* calls that waited for a RateLimit reset first */
  int64_t paced_ns;      /* total time they waited */
  uint64_t keys_derived; /* keys from rein_curl_derive_key */
  /* Appended (endpoints). */
  uint64_t endpoint_skips;      /* endpoints passed over: breaker refused */
  uint64_t endpoint_refusals;   /* calls ended: every endpoint refused */
  uint64_t endpoints_unslotted; /* resolved endpoints past the slots */
  /* Appended (hedging). */
  uint64_t hedges_undup; /* hedges not sent: curl_easy_duphandle failed */
} rein_curl_stats;

REIN_API void rein_curl_get_stats(const rein_curl *c, rein_curl_stats *out);

/*
 * Blocking: run `easy` to the end under the client's policy. REIN_OK when a
 * attempt succeeded, REIN_EGAVEUP when the call gave up (see `res`; may be
 * NULL), REIN_EINVAL for NULL arguments (and, with endpoints, a handle
 * without a URL or a bad resolved endpoint; logged), REIN_ENOMEM (header
 * list), REIN_EIO (no random bytes for a key), REIN_ENOTFOUND (the
 * endpoint resolver failed). The handle may be reused afterwards.
 */
REIN_API rein_status rein_curl_perform_ex(rein_curl *c, CURL *easy,
                                          const rein_curl_opts *opts,
                                          rein_curl_result *res);
/* rein_curl_perform_ex with default options and no result. */
REIN_API rein_status rein_curl_perform(rein_curl *c, CURL *easy);

/* ---- event-driven calls (multi interface) ------------------------------ */

typedef enum rein_curl_state {
  REIN_CURL_IN_FLIGHT = 0, /* the easy handle is in the multi handle */
  REIN_CURL_WAITING = 1,   /* call rein_curl_multi_resume at due_ns */
  REIN_CURL_FINISHED = 2,  /* done or gave up: rein_curl_call_result */
  /* A hedging client's call (config.hedge) with attempts in flight and the
   * next hedge due at due_ns: pass libcurl's messages for any of its
   * handles to rein_curl_multi_done, and call rein_curl_multi_resume at
   * due_ns. */
  REIN_CURL_HEDGING = 3
} rein_curl_state;

typedef struct rein_curl_step {
  rein_curl_state state;
  int64_t due_ns; /* WAITING, HEDGING: when to resume, on the policy's clock */
} rein_curl_step;

/* A call of `easy` under `c`; nothing is sent yet. Copies `opts` (the
 * strings and lists it points to are borrowed until the call is freed);
 * mints the key and resolves the endpoints (config.resolve) now.
 * REIN_EINVAL, REIN_ENOMEM, REIN_EIO, REIN_ENOTFOUND (the resolver
 * failed). */
REIN_API rein_status rein_curl_call_new(rein_curl *c, CURL *easy,
                                        const rein_curl_opts *opts,
                                        rein_curl_call **out);
/* Frees; removes the handle from its multi handle if still in flight and
 * restores CURLOPT_HTTPHEADER to opts.headers. NULL is a no-op. */
REIN_API void rein_curl_call_free(rein_curl_call *call);
REIN_API CURL *rein_curl_call_easy(const rein_curl_call *call);
REIN_API void *rein_curl_call_user(const rein_curl_call *call);
/* The result; meaningful when the call is FINISHED. */
REIN_API void rein_curl_call_result(const rein_curl_call *call,
                                    rein_curl_result *res);

/*
 * Start the call: rein_retry_begin, then curl_multi_add_handle (IN_FLIGHT),
 * or FINISHED when it gave up before sending (breaker, throttle, deadline).
 * REIN_ESTATE when already started; REIN_EBACKEND when libcurl refused the
 * handle (the call is then FINISHED with last_code set); REIN_ENOMEM.
 */
REIN_API rein_status rein_curl_multi_add(rein_curl_call *call, CURLM *m,
                                         rein_curl_step *step);
/*
 * The multi handle reported `msg` (CURLMSG_DONE) for this call's handle:
 * removes it, classifies the attempt and asks the state machine. Gives
 * FINISHED, or WAITING with due_ns (never re-adds by itself). For a hedged
 * call `msg` may be any of its attempts' handles; the answer may also send
 * a hedge at once (IN_FLIGHT, HEDGING). REIN_EINVAL when `msg` is not this
 * call's, REIN_ESTATE when not in flight.
 */
REIN_API rein_status rein_curl_multi_done(rein_curl_call *call, CURLM *m,
                                          const CURLMsg *msg,
                                          rein_curl_step *step);
/*
 * A WAITING (or HEDGING) call's due time came: reads the policy's clock,
 * asks the state machine and re-adds the handle (IN_FLIGHT), or sends the
 * hedge (HEDGING, IN_FLIGHT), or waits more (e.g. when called early), or
 * FINISHED (breaker, throttle). REIN_ESTATE when neither waiting nor
 * hedging.
 */
REIN_API rein_status rein_curl_multi_resume(rein_curl_call *call, CURLM *m,
                                            rein_curl_step *step);
/* Milliseconds to poll before `step` is due (rounded up), at most `max_ms`;
 * `max_ms` when it is neither WAITING nor HEDGING. */
REIN_API int rein_curl_poll_ms(const rein_curl_step *step, int64_t now,
                               int max_ms);

/* ---- enforcing the contract (src/curl/enforce.c) ----------------------- */

#define REIN_CURL_INBOUND_KEY_MAX 255
#define REIN_CURL_DERIVED_KEY_LEN 48

/*
 * The key a service sends downstream for the request whose key is
 * `inbound` (raw), for `operation` (e.g. "ledger.charge"; NULL = ""):
 * the first 24 bytes of HMAC-SHA256(secret, "rein-derive-v1" NUL operation
 * NUL inbound), or of SHA-256 of the same bytes when `secret` is NULL, as
 * 48 lowercase hex digits. The same inputs give the same key on every
 * retry, on every instance and after a restart; two operations, or two
 * inbound keys, give unrelated keys. REIN_EINVAL when `inbound` is empty,
 * longer than REIN_CURL_INBOUND_KEY_MAX or not printable ASCII, or
 * secret_len > 64. Pure; thread-safe.
 */
REIN_API rein_status rein_curl_derive_key(
    const char *inbound, const char *operation, const void *secret,
    size_t secret_len, char out[REIN_CURL_DERIVED_KEY_LEN + 1]);

/* A service's own answer when its downstream call gave up with
 * "don't retry" (rein_curl_dont_retry_reply_for). */
typedef struct rein_curl_reply_header {
  const char *name;  /* REIN_HEADER_* (rein/signal.h) */
  const char *value; /* points into the reply's storage */
} rein_curl_reply_header;

typedef struct rein_curl_reply {
  int status;      /* HTTP: 503 */
  int grpc_status; /* gRPC: 14 (UNAVAILABLE) */
  size_t count;    /* HTTP response headers: Rein-Dont-Retry: ?1, and
                      Retry-After: <s> when the downstream asked for a delay */
  rein_curl_reply_header headers[2];
  /* gRPC trailer instead: grpc-retry-pushback-ms: -1 (A6: don't retry) */
  rein_curl_reply_header grpc_trailer;
  char store_[32];
} rein_curl_reply;

/*
 * When `res` (a finished call) gave up with dont_retry, fills `out` with
 * the status and headers the service should answer its own caller with, so
 * that the layer above does not retry and multiply the load (rein/retry.h,
 * "Don't retry" propagation), and returns true. Otherwise (success, or a
 * give-up the caller may retry) returns false and leaves `out` zeroed; the
 * service answers as it would. Pure; thread-safe.
 */
REIN_API bool rein_curl_dont_retry_reply_for(const rein_curl_result *res,
                                             rein_curl_reply *out);

/* How long a call starting at `now` (the policy's clock) waits before its
 * first attempt because of an earlier response's RateLimit: 0 when pacing
 * is off or nothing asked for a wait; at most config.pace_max_ns. */
REIN_API int64_t rein_curl_pace_ns(const rein_curl *c, int64_t now);

/* ---- pieces, for other transports and tests ---------------------------- */

/* The outcome kind of an attempt that ended with `code` and HTTP `status`
 * (0 = none). Pure. */
REIN_API rein_outcome_kind rein_curl_classify(CURLcode code, long status);
/* Its condition (an HTTP status, a transport condition, or REIN_COND_NONE
 * for local errors and non-HTTP transfers): what the client passes to
 * rein_retry_next in rein_outcome.condition. Pure. */
REIN_API rein_condition rein_curl_condition(CURLcode code, long status);

/* A random v4 UUID, 36 characters and a NUL, from `random` (NULL =
 * getrandom()). REIN_EIO when no random bytes; REIN_EINVAL. */
REIN_API rein_status rein_curl_uuid_v4(char out[37], rein_curl_random_fn random,
                                       void *random_ctx);

#ifdef __cplusplus
}
#endif
#endif /* REIN_CURL_H */
