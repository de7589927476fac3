/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_internal.h: the rein_curl client's layout, shared by curl.c and the
 * contract bridge (contract.c). Not installed.
 */
#ifndef REIN_CURL_INTERNAL_H
#define REIN_CURL_INTERNAL_H

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
  RC_OUTCOME0, /* + rein_outcome_kind */
  RC_COUNT_ = RC_OUTCOME0 + REIN_OUTCOME_COUNT_
};

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
};

/* enforce.c: the key a call sends for keys = PASS_THROUGH / DERIVE with an
 * inbound key, into out (64 bytes). REIN_EINVAL for a bad inbound key. */
rein_status rein__curl_inbound_key(rein_curl *c, const char *inbound,
                                   char out[64]);
/* enforce.c: remember what a response's RateLimit asks of the next call
 * (now on the policy's clock). */
void rein__curl_pace_note(rein_curl *c, const rein_signals *sig, int64_t now);

void *rein__curl_alloc(const rein_allocator *a, size_t n);
void rein__curl_free(const rein_allocator *a, void *p);

#endif
