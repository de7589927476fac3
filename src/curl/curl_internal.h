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
};

void *rein__curl_alloc(const rein_allocator *a, size_t n);
void rein__curl_free(const rein_allocator *a, void *p);

#endif
