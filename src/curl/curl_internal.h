/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_internal.h: the rein_curl client's layout, shared by curl.c and the
 * contract bridge (contract.c). Not installed.
 */
#ifndef REIN_CURL_INTERNAL_H
#define REIN_CURL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "rein/budget.h"
#include "rein/breaker.h"
#include "rein/curl.h"
#include "rein/throttle.h"

enum {
  RC_CALLS,
  RC_ATTEMPTS,
  RC_SUCCESSES,
  RC_GIVEUPS,
  RC_KEYS,
  RC_RETENTION,
  RC_MALFORMED,
  RC_PACED,
  RC_PACED_NS,
  RC_DERIVED,
  RC_EP_SKIPS,
  RC_EP_REFUSALS,
  RC_EP_UNSLOTTED,
  RC_HEDGE_UNDUP,
  RC_OUTCOME0, /* + rein_outcome_kind */
  RC_COUNT_ = RC_OUTCOME0 + REIN_OUTCOME_COUNT_
};

/* ---- endpoints (endpoints.c) ------------------------------------------ */

/* A base URL's parts, as libcurl's URL API read them. */
typedef struct rein__curl_parts {
  char scheme[16];
  char host[256];
  char port[8];
} rein__curl_parts;

/* What the client keeps per endpoint across calls: its parts and breaker.
 * Filled once (under ep_lock), then read without a lock. */
typedef struct rein__curl_slot {
  char origin[REIN_CURL_ENDPOINT_LEN]; /* scheme://host:port, the lookup key */
  rein__curl_parts parts;
  rein_breaker *breaker; /* NULL = none */
} rein__curl_slot;

/* One call's endpoints: the list, what was tried, and the easy handle's URL
 * with each endpoint's origin (built on the first attempt sent there). */
typedef struct rein__curl_eps {
  uint32_t n;     /* 0 = no endpoints: the handle's URL as it is */
  uint32_t tried; /* bit i */
  int32_t last;   /* the latest attempt's endpoint; -1 none */
  int32_t stick;  /* an in-progress answer came from here: poll it; -1 */
  uint32_t unsent; /* hedges that found no endpoint */
  rein_rng rng;
  rein__curl_slot *slot[REIN_CURL_ENDPOINTS_MAX]; /* NULL: not slotted */
  const rein__curl_parts *parts[REIN_CURL_ENDPOINTS_MAX];
  int64_t failed_ns[REIN_CURL_ENDPOINTS_MAX]; /* last failure in this call;
                                                 INT64_MIN none, INT64_MAX
                                                 in flight */
  CURLU *base;
  CURLU *u[REIN_CURL_ENDPOINTS_MAX];
  rein__curl_parts local[REIN_CURL_ENDPOINTS_MAX]; /* unslotted ones */
} rein__curl_eps;

/* An endpoint chosen for one attempt, with its breaker's permit. */
typedef struct rein__curl_pick {
  int32_t ep; /* -1 = none */
  bool permitted;
  rein_breaker_permit permit;
  int64_t sent_ns;
} rein__curl_pick;

/* Idle multi handles a hedging client keeps for its blocking calls. */
#define REIN__CURL_MULTI_IDLE 8

struct rein_curl {
  rein_curl_config cfg; /* strings point into the fields below */
  char key_header[128];
  char methods[256];
  rein_allocator alloc_copy;
  const rein_allocator *alloc;
  /* by_idem[1]: the policy for idempotent requests, [0]: non-idempotent;
   * one of them is cfg.policy, the other a copy made here. */
  const rein_policy *by_idem[2];
  rein_policy *copy;
  /* Owned when made from a contract. */
  rein_policy *own_policy;
  rein_budget *own_budget;
  rein_breaker *own_breaker;
  rein_throttle *own_throttle;
  _Atomic uint64_t n[RC_COUNT_];
  _Atomic int retention_logged;
  _Atomic int undup_logged; /* the duphandle warning, once per client */
  /* Key derivation and pacing (enforce.c). */
  char operation[128];
  unsigned char secret[64];
  size_t secret_len;
  bool pace; /* config.pace resolved */
  /* No call starts before this (policy clock); INT64_MIN = none. */
  _Atomic int64_t pace_until;
  /* Hedging (config.hedge): over by_idem[0] and by_idem[1]; NULL = none. */
  rein_hedge_policy *hedge[2];
  size_t hedge_body_max;
  /* Blocking hedged calls run on a multi handle of their own: the idle
   * ones are kept here (with their connection caches), so the next call,
   * on any thread, reuses its connections instead of opening new ones. */
  pthread_mutex_t multi_lock;
  bool multi_lock_ready;
  CURLM *multi_idle[REIN__CURL_MULTI_IDLE];
  uint32_t multi_nidle;
  /* Endpoints (endpoints.c). cfg.endpoints points into ep_urls. */
  char (*ep_urls)[REIN_CURL_ENDPOINT_LEN];
  const char **ep_list;
  bool ep_breakers;
  rein_breaker_config ep_breaker;
  rein__curl_slot ep_slot[REIN_CURL_ENDPOINT_SLOTS];
  _Atomic uint32_t ep_nslots;
  pthread_mutex_t ep_lock;
  bool ep_lock_ready;
  _Atomic uint64_t ep_rr; /* round robin (and PICK_RANDOM's call counter) */
};

/* enforce.c: the key a call sends for keys = PASS_THROUGH / DERIVE with an
 * inbound key, into out (64 bytes). REIN_EINVAL for a bad inbound key. */
rein_status rein__curl_inbound_key(rein_curl *c, const char *inbound,
                                   char out[64]);
/* enforce.c: remember what a response's RateLimit asks of the next call
 * (now on the policy's clock). */
void rein__curl_pace_note(rein_curl *c, const rein_signals *sig, int64_t now);

/* endpoints.c. Client: validate and copy config.endpoints, the breaker
 * config, bind the configured endpoints to slots (REIN_EINVAL naming
 * "curl.endpoints[i]", REIN_ENOMEM); free what that made. */
rein_status rein__curl_eps_setup(rein_curl *c, const rein_curl_config *cfg,
                                 rein_errbuf *err);
void rein__curl_eps_teardown(rein_curl *c);
/* Call: the endpoint list (resolved now) and the easy handle's URL. REIN_OK
 * with e->n = 0 when the client has none. REIN_EINVAL (a bad resolved URL,
 * logged), REIN_ENOTFOUND (the resolver failed), REIN_ENOMEM. */
rein_status rein__curl_eps_init(rein_curl *c, rein__curl_eps *e, CURL *easy,
                                uint64_t seed);
/* The endpoint for attempt `attempt` (1 = the first); false when every
 * endpoint's breaker refused (out->ep = -1). Never allocates. */
bool rein__curl_eps_pick(rein_curl *c, rein__curl_eps *e, uint32_t attempt,
                         int64_t now, rein__curl_pick *out);
/* Point `easy` at endpoint p->ep (CURLOPT_CURLU) and note it as attempt
 * `attempt`'s in `res`. REIN_ENOMEM. */
rein_status rein__curl_eps_send(rein__curl_eps *e, CURL *easy,
                                rein__curl_pick *p, uint32_t attempt,
                                int64_t now, rein_curl_result *res);
/* The attempt sent to p->ep ended with `o`: its breaker, the call's
 * failure order. */
void rein__curl_eps_done(rein__curl_eps *e, const rein__curl_pick *p,
                         const rein_outcome *o, int64_t now);
/* Forget the URL handles; `easy` (may be NULL) back to its own URL. */
void rein__curl_eps_release(rein__curl_eps *e, CURL *easy);

/* curl.c: one line through config.log (stderr when NULL). */
void rein__curl_log(rein_curl *c, const char *line);

void *rein__curl_alloc(const rein_allocator *a, size_t n);
void rein__curl_free(const rein_allocator *a, void *p);

#endif
