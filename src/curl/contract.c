/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contract.c: a rein_curl client whose policy is a contract's.
 *
 * rein_policy_from_contract gives the configs the contract declares; this
 * file creates the objects (budget, breaker, throttle, policy), hands them
 * to a new client that owns them, and maps the call's key mode (originate,
 * pass-through, derive), key header, the callee's key_ttl (the policy's
 * key_retention_ns), honoured signals (ratelimit turns pacing on) and
 * deadline onto the client config, and, with config.endpoint_breakers, the
 * contract's breaker block to each endpoint's breaker. So the policy that
 * `rein check` checked is the one the HTTP client runs. Built only when the
 * contract library is; otherwise the function reports REIN_EUNSUPPORTED.
 */
#include "curl_internal.h"

#include <stdio.h>
#include <string.h>

#ifdef REIN_CURL_HAVE_CONTRACT
#include "rein/contract.h"

/* The contract's honoured-signal bits are used as rein_curl's as they are. */
_Static_assert(REIN_CURL_SIGNAL_RETRY_AFTER == REIN_CONTRACT_SIGNAL_RETRY_AFTER &&
                   REIN_CURL_SIGNAL_PUSHBACK == REIN_CONTRACT_SIGNAL_PUSHBACK &&
                   REIN_CURL_SIGNAL_RATELIMIT == REIN_CONTRACT_SIGNAL_RATELIMIT &&
                   REIN_CURL_SIGNAL_DONT_RETRY == REIN_CONTRACT_SIGNAL_DONT_RETRY,
               "signal bits differ between rein/curl.h and rein/contract.h");

rein_status rein_curl_new_from_contract(const rein_curl_config *base,
                                        const rein_contract_set *set,
                                        const char *caller, const char *to,
                                        rein_metrics *metrics,
                                        const rein_clock *clock,
                                        rein_curl **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  if (!set || !caller || !to) return REIN_EINVAL;
  rein_curl_config cfg;
  if (base) cfg = *base;
  else rein_curl_config_default(&cfg);
  rein_contract_policy cp;
  rein_status st = rein_policy_from_contract(set, caller, to, &cp, cfg.err);
  if (st != REIN_OK) return st;
  /* the one builder: the same objects `rein policy` and the simulator make */
  rein_policy_spec sp;
  if ((st = rein_spec_from_contract(set, caller, to, &sp, cfg.err)) != REIN_OK)
    return st;
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.alloc = cfg.alloc;
  b.err = cfg.err;
  b.metrics = metrics;
  if (clock) b.clock = *clock;
  rein_policy_objects o;
  if ((st = rein_policy_spec_build(&sp, &b, &o)) != REIN_OK) return st;
  rein_policy *policy = o.policy;
  cfg.policy = policy;
  /* A hedged call: the client makes its hedge policies over its two
   * idempotency twins from the same config (rein_curl_new). */
  rein_hedge_policy_free(o.hedge);
  o.hedge = NULL;
  cfg.hedge = sp.has_hedge ? &sp.hedge : NULL;
  switch (cp.key) {
  case REIN_CONTRACT_KEY_ORIGINATE:
    cfg.keys = REIN_CURL_KEYS_NON_IDEMPOTENT;
    break;
  case REIN_CONTRACT_KEY_PASS_THROUGH:
    cfg.keys = REIN_CURL_KEYS_PASS_THROUGH;
    break;
  case REIN_CONTRACT_KEY_DERIVE:
    cfg.keys = REIN_CURL_KEYS_DERIVE;
    break;
  default:
    cfg.keys = REIN_CURL_KEYS_NONE;
    break;
  }
  if (!cfg.operation) cfg.operation = to;
  if (cfg.pace == REIN_CURL_PACE_AUTO)
    cfg.pace = cp.signals & REIN_CONTRACT_SIGNAL_RATELIMIT ? REIN_CURL_PACE_ON
                                                           : REIN_CURL_PACE_OFF;
  if (cp.key_header) cfg.key_header = cp.key_header;
  cfg.signals = cp.signals & REIN_CURL_SIGNAL_ALL;
  cfg.deadline_ns = cp.deadline_ns;
  /* A breaker per endpoint, when asked for: the contract's breaker block
   * (the model's config, which the builder made the policy's breaker
   * from), unless the caller gave one. */
  rein_breaker_config ebc;
  if (cfg.endpoint_breakers && !cfg.endpoint_breaker && sp.has_breaker) {
    ebc = sp.breaker;
    ebc.metrics = NULL; /* the policy's breaker counts into metrics */
    ebc.on_state_change = NULL;
    cfg.endpoint_breaker = &ebc;
  }
  rein_curl *c = NULL;
  if ((st = rein_curl_new(&cfg, &c)) != REIN_OK) goto fail;
  c->own_policy = o.policy;
  c->own_budget = o.budget;
  c->own_breaker = o.breaker;
  c->own_throttle = o.throttle;
  *out = c;
  return REIN_OK;
fail:
  rein_policy_objects_free(&o);
  return st;
}

#else

rein_status rein_curl_new_from_contract(const rein_curl_config *base,
                                        const struct rein_contract_set *set,
                                        const char *caller, const char *to,
                                        rein_metrics *metrics,
                                        const rein_clock *clock,
                                        rein_curl **out) {
  (void)set, (void)caller, (void)to, (void)metrics, (void)clock;
  if (out) *out = NULL;
  if (base && base->err)
    snprintf(base->err->msg, sizeof base->err->msg,
             "rein_curl was built without the contract library (libyaml)");
  return REIN_EUNSUPPORTED;
}

#endif
