/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.c: the runtime bridge: one call of a checked contract graph into
 * the core's configs (rein_policy_config, rein_budget_config,
 * rein_breaker_config, rein_throttle_config).
 *
 * The loader already keeps backoff, budget, breaker and throttle settings in
 * the core's own config structs, started from their _config_default() and
 * overwritten field by field, so this file only picks the call, fills the
 * policy fields the contract implies (attempts, retry_on from the outcome
 * list, window, per-attempt timeout, idempotency) and copies. The window
 * and retry_on come from the same helpers the rules use: what was checked is
 * what runs.
 */
#include "contract_internal.h"

#include <stdio.h>
#include <string.h>

/* The model's spec of one call: what it declares, defaults elsewhere. The
 * one place a contract call becomes a rein_policy_spec. */
void rein__rc_call_spec(const rc_call *c, rein_policy_spec *sp) {
  *sp = c->spec; /* every scalar field, as rein_model_set stored it */
  rein_policy_config *p = &sp->policy;
  p->name = c->to;
  p->max_attempts = rein__rc_attempts(c);
  p->retry_on = rein__rc_retry_on_mask(c);
  rein__rc_retryable_set(c, &p->retryable);
  p->window_ns = c->has_window ? c->window : 0;
  p->attempt_timeout_ns = rein__rc_attempt_timeout(c);
  p->idempotent =
      !c->op || c->op->idem == RC_IDEM_NATURAL || c->op->idem == RC_IDEM_UNSET;
  p->alloc = NULL; /* the runtime's, not the set's */
  sp->has_budget = c->has_budget && (rein__rc_attempts(c) > 1 || c->has_hedge);
  sp->budget.alloc = NULL;
  sp->budget.err = NULL;
  sp->has_breaker = c->has_breaker;
  sp->breaker.alloc = NULL;
  sp->breaker.err = NULL;
  sp->has_throttle = c->has_throttle;
  sp->throttle.alloc = NULL;
  sp->throttle.err = NULL;
  sp->has_hedge = c->has_hedge;
  sp->hedge.policy = NULL;
  sp->hedge.alloc = NULL;
  sp->hedge.err = NULL;
  sp->deadline_ns = c->deadline;
  sp->signals = c->signals;
  /* the callee's key_ttl bounds the retries of a keyed call (retry.h step
   * 5a; a response's Idempotency-Key-Retention may shorten it) */
  if (c->key != REIN_CONTRACT_KEY_NONE && c->op && c->op->idem == RC_IDEM_KEY)
    p->key_retention_ns = c->op->key_ttl;
}

rein_status rein_spec_from_contract(const rein_contract_set *cs,
                                    const char *caller, const char *to,
                                    rein_policy_spec *out, rein_errbuf *err) {
  rein_contract_policy cp;
  if (!out) return REIN_EINVAL;
  rein_status st = rein_policy_from_contract(cs, caller, to, &cp, err);
  if (st != REIN_OK) return st;
  rein_contract_policy_spec(&cp, out);
  return REIN_OK;
}

void rein_contract_policy_spec(const rein_contract_policy *cp,
                               rein_policy_spec *out) {
  if (!cp || !out) return;
  rein_policy_spec_default(out);
  out->policy = cp->policy;
  out->has_budget = cp->has_budget;
  out->budget = cp->budget;
  out->budget_scope = (rein_scope)cp->budget_scope;
  out->has_breaker = cp->has_breaker;
  out->breaker = cp->breaker;
  out->breaker_scope = (rein_scope)cp->breaker_scope;
  out->has_throttle = cp->has_throttle;
  out->throttle = cp->throttle;
  out->has_hedge = cp->has_hedge;
  out->hedge = cp->hedge;
  out->deadline_ns = cp->deadline_ns;
  out->signals = cp->signals;
}

rein_status rein_policy_from_contract(const rein_contract_set *cs,
                                      const char *caller, const char *to,
                                      rein_contract_policy *out,
                                      rein_errbuf *err) {
  if (!cs || !caller || !to || !out) {
    if (err) snprintf(err->msg, sizeof err->msg, "NULL argument");
    return REIN_EINVAL;
  }
  rein_contract_set *s = (rein_contract_set *)cs; /* resolution is a cache */
  if (!rein__rc_resolve(s)) return REIN_ENOMEM;
  rc_svc *v = rein__rc_find(s, caller);
  if (!v) {
    if (err)
      snprintf(err->msg, sizeof err->msg, "no contract for service '%s'",
               caller);
    return REIN_ENOTFOUND;
  }
  rc_call *c = NULL;
  for (size_t i = 0; i < v->ncalls && !c; i++)
    if (v->calls[i].to && strcmp(v->calls[i].to, to) == 0) c = &v->calls[i];
  if (!c) {
    if (err) {
      size_t o = (size_t)snprintf(err->msg, sizeof err->msg,
                                  "%s (version %s) has no call to '%s'", caller,
                                  v->version ? v->version : "?", to);
      for (size_t i = 0; i < v->ncalls && o < sizeof err->msg; i++)
        o += (size_t)snprintf(err->msg + o, sizeof err->msg - o, "%s%s",
                              i ? ", " : "; its calls: ", v->calls[i].to);
    }
    return REIN_ENOTFOUND;
  }
  memset(out, 0, sizeof *out);
  rein_policy_spec sp;
  rein__rc_call_spec(c, &sp);
  out->policy = sp.policy;
  out->has_budget = sp.has_budget;
  out->budget = sp.budget;
  out->budget_scope = (rein_contract_scope)sp.budget_scope;
  out->has_breaker = sp.has_breaker;
  out->breaker = sp.breaker;
  out->has_throttle = sp.has_throttle;
  out->throttle = sp.throttle;
  out->has_hedge = sp.has_hedge;
  out->hedge = sp.hedge;
  out->deadline_ns = c->deadline;
  out->key = c->key;
  out->key_header = c->op ? c->op->key_header : "Idempotency-Key";
  out->key_ttl_ns = c->op && c->op->idem == RC_IDEM_KEY ? c->op->key_ttl : 0;
  out->signals = sp.signals;
  out->caller = v->name;
  out->callee = c->to_svc;
  out->operation = c->to_op;
  out->breaker_scope = (rein_contract_scope)sp.breaker_scope;
  out->fleet_name = c->fleet_name;
  return REIN_OK;
}

size_t rein_contract_call_count(const rein_contract_set *s) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->nsvcs; i++)
    if (s->svcs[i]->current) n += s->svcs[i]->ncalls;
  return n;
}

rein_status rein_contract_call_at(const rein_contract_set *s, size_t i,
                                  const char **caller, const char **to) {
  if (!s || !caller || !to) return REIN_EINVAL;
  for (size_t k = 0; k < s->nsvcs; k++) {
    const rc_svc *v = s->svcs[k];
    if (!v->current) continue;
    if (i < v->ncalls) {
      *caller = v->name;
      *to = v->calls[i].to;
      return REIN_OK;
    }
    i -= v->ncalls;
  }
  return REIN_ENOTFOUND;
}

rein_status rein_contract_call_where(const rein_contract_set *s, size_t i,
                                     rein_contract_loc *loc,
                                     const char **origin) {
  if (!s || !loc || !origin) return REIN_EINVAL;
  for (size_t k = 0; k < s->nsvcs; k++) {
    const rc_svc *v = s->svcs[k];
    if (!v->current) continue;
    if (i < v->ncalls) {
      *loc = v->calls[i].loc;
      *origin = v->calls[i].origin;
      return REIN_OK;
    }
    i -= v->ncalls;
  }
  return REIN_ENOTFOUND;
}

size_t rein_contract_admission_count(const rein_contract_set *s) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->nsvcs; i++)
    if (s->svcs[i]->current && s->svcs[i]->adm) n++;
  return n;
}

rein_status rein_contract_admission_at(const rein_contract_set *s, size_t i,
                                       const rein_contract_admission **out) {
  if (!s || !out) return REIN_EINVAL;
  for (size_t k = 0; k < s->nsvcs; k++) {
    const rc_svc *v = s->svcs[k];
    if (!v->current || !v->adm) continue;
    if (i-- == 0) {
      *out = v->adm;
      return REIN_OK;
    }
  }
  return REIN_ENOTFOUND;
}
