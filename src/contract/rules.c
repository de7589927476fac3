/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules.c: the checks R001..R013 over a resolved graph of contracts, and the
 * key-retention table behind `rein ttl`.
 *
 * Every rule is a pass over the current version of each service. The two
 * path rules are linear dynamic programmes over services instead of path
 * enumerations (a graph of 10,000 calls has far too many paths):
 *   R004  Q(S) = the largest product of attempts of any call path arriving at
 *         S; a call c out of S multiplies it by its own attempts.
 *   R001  U(S) = the longest time a key that arrived at S can keep arriving
 *         (its callers' retry windows, summed along pass-through/derive
 *         hops); a keyed call c out of S that passes the key on needs the
 *         callee to remember it for window(c) + U(S).
 * Both keep the argmax predecessor so a finding can name every hop. Cycles
 * are cut where they close (a service being visited counts as no
 * predecessor). All numbers a finding prints come from the same helpers that
 * rein_policy_from_contract uses, so the check and the runtime agree.
 */
#include "contract_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- derived values */

uint32_t rein__rc_attempts(const rc_call *c) {
  return c->has_retry ? c->attempts : 1;
}

uint32_t rein__rc_instances(const rc_call *c) {
  return c->instances ? c->instances : c->from->instances;
}

int64_t rein__rc_attempt_timeout(const rc_call *c) {
  if (c->timeout) return c->timeout;
  return c->op ? c->op->timeout : 0;
}

/* Sum of the largest backoff delays before retries 1..k. */
static int64_t backoff_sum(const rc_call *c, uint32_t k) {
  int64_t s = 0;
  for (uint32_t n = 1; n <= k; n++)
    s += rein_backoff_ceiling(&c->spec.policy.backoff, n);
  return s;
}

/* Worst-case time for attempts 1..k: every attempt times out, every delay
 * is at its ceiling. */
static int64_t schedule_ns(const rc_call *c, uint32_t k) {
  if (!k) return 0;
  return (int64_t)k * rein__rc_attempt_timeout(c) + backoff_sum(c, k - 1);
}

int64_t rein__rc_window(const rc_call *c) {
  if (c->has_window && c->window) return c->window; /* 0s: no window */
  return schedule_ns(c, rein__rc_attempts(c));
}

/* The kind of a token, from rein/classify.h's table (classes: their
 * typical kind; names: the kind they name or belong to). */
int rein__rc_token_kind(uint16_t t) {
  switch (t) {
  case RC_TOK_TIMEOUT:
    return REIN_OUTCOME_TIMEOUT;
  case RC_TOK_CONNECT_REFUSED:
  case RC_TOK_DNS:
  case RC_TOK_NOT_SENT:
  case RC_TOK_CONNECT_FAILURE:
  case RC_TOK_REFUSED_STREAM:
    return REIN_OUTCOME_NOT_SENT;
  case RC_TOK_OVERLOADED:
    return REIN_OUTCOME_OVERLOADED;
  case RC_TOK_FAILURE:
  case RC_TOK_CONNECTION_RESET:
  case RC_TOK_RESET:
  case RC_TOK_CLASS_5XX:
    return REIN_OUTCOME_FAILURE;
  case RC_TOK_CLASS_1XX:
  case RC_TOK_CLASS_2XX:
  case RC_TOK_CLASS_3XX:
    return REIN_OUTCOME_SUCCESS;
  case RC_TOK_CLASS_4XX:
    return REIN_OUTCOME_FATAL;
  default:
    if (t > RC_TOK_GRPC && t <= RC_TOK_GRPC + 16)
      return rein_condition_kind(REIN_COND_GRPC(t - RC_TOK_GRPC));
    return rein_condition_kind(REIN_COND_HTTP(t));
  }
}

const char *rein__rc_token_name(uint16_t t, char *buf, size_t len) {
  static const char *const names[] = {NULL,
                                      "timeout",
                                      "connect-refused",
                                      "connection-reset",
                                      "dns",
                                      "overloaded",
                                      "failure",
                                      "not-sent",
                                      "connect-failure",
                                      "reset",
                                      "refused-stream"};
  if (t >= 1 && t <= RC_TOK_REFUSED_STREAM) return names[t];
  if (t % 1000 == 0 && t >= RC_TOK_CLASS_1XX && t <= RC_TOK_CLASS_5XX) {
    snprintf(buf, len, "%uxx", (unsigned)(t / 1000));
    return buf;
  }
  if (t > RC_TOK_GRPC && t <= RC_TOK_GRPC + 16)
    return rein_grpc_code_name((uint32_t)(t - RC_TOK_GRPC));
  snprintf(buf, len, "%u", (unsigned)t);
  return buf;
}

/* The tokens that decide a call: its retry.when, else the callee's
 * retryable list; NULL when neither is written. */
static const uint16_t *decisive_tokens(const rc_call *c, uint32_t *n) {
  if (c->has_on) {
    *n = c->non;
    return c->on;
  }
  if (c->op && c->op->has_retryable) {
    *n = c->op->nretryable;
    return c->op->retryable;
  }
  *n = 0;
  return NULL;
}

void rein__rc_retryable_set(const rc_call *c, rein_retryable_set *out) {
  rein_retryable_set_clear(out);
  uint32_t n;
  const uint16_t *t = decisive_tokens(c, &n);
  for (uint32_t i = 0; t && i < n; i++) {
    char b[32];
    const char *name = rein__rc_token_name(t[i], b, sizeof b);
    /* the loader only keeps tokens the core parser accepts */
    (void)rein_retryable_set_add(out, name, strlen(name), NULL);
  }
}

/* The kinds a kind-only outcome (no concrete status) is retried on:
 * rein_model_name_kinds of each decisive token. */
uint32_t rein__rc_retry_on_mask(const rc_call *c) {
  uint32_t n;
  const uint16_t *t = decisive_tokens(c, &n);
  if (!t) return REIN_RETRY_ON_DEFAULT;
  /* the model's rule, so a scenario that spells the same list agrees */
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++) {
    char b[32];
    m |= rein_model_name_kinds(rein__rc_token_name(t[i], b, sizeof b));
  }
  return m;
}

/* A definitive answer: retrying it gives the same answer. */
static bool definitive(uint16_t t) {
  if (t == RC_TOK_CLASS_4XX) return true;
  if (t > RC_TOK_GRPC && t <= RC_TOK_GRPC + 16)
    return rein__rc_token_kind(t) == REIN_OUTCOME_FATAL;
  return t >= 400 && t <= 499 && rein__rc_token_kind(t) == REIN_OUTCOME_FATAL;
}

static const char *status_text(uint16_t t) {
  switch (t) {
  case 400:
    return " (Bad Request)";
  case 401:
    return " (Unauthorized)";
  case 403:
    return " (Forbidden)";
  case 404:
    return " (Not Found)";
  case 409:
    return " (Conflict)";
  case 410:
    return " (Gone)";
  case 412:
    return " (Precondition Failed)";
  case 422:
    return " (Unprocessable Content)";
  default:
    return "";
  }
}

/* Does callee token u cover caller token t? */
static bool covers(uint16_t u, uint16_t t) {
  if (u == t) return true;
  if (u % 1000 == 0 && u >= RC_TOK_CLASS_1XX && u <= RC_TOK_CLASS_5XX)
    return t >= u / 10 && t <= u / 10 + 99;
  /* the names that are whole kinds cover every condition of that kind
   * (rein/classify.h); the transport names cover only themselves and their
   * older spellings */
  switch (u) {
  case RC_TOK_TIMEOUT:
  case RC_TOK_OVERLOADED:
  case RC_TOK_FAILURE:
  case RC_TOK_NOT_SENT:
    return rein__rc_token_kind(u) == rein__rc_token_kind(t);
  case RC_TOK_CONNECT_FAILURE:
  case RC_TOK_CONNECT_REFUSED:
  case RC_TOK_DNS:
    return t == RC_TOK_CONNECT_FAILURE || t == RC_TOK_CONNECT_REFUSED ||
           t == RC_TOK_DNS;
  case RC_TOK_RESET:
  case RC_TOK_CONNECTION_RESET:
    return t == RC_TOK_RESET || t == RC_TOK_CONNECTION_RESET;
  default:
    return false;
  }
}

static const char *num(double v, char *buf, size_t len) {
  if (v >= 1e15 || v != v) {
    snprintf(buf, len, "%.3g", v);
    return buf;
  }
  if (v < 100 && v != floor(v)) {
    snprintf(buf, len, "%.3g", v);
    return buf;
  }
  char t[32];
  snprintf(t, sizeof t, "%.0f", v);
  size_t l = strlen(t), o = 0;
  for (size_t i = 0; i < l && o + 2 < len; i++) {
    if (i && (l - i) % 3 == 0) buf[o++] = ',';
    buf[o++] = t[i];
  }
  buf[o] = 0;
  return buf;
}

static const char *rate_str(double per_sec, char *buf, size_t len) {
  char b[32];
  if (per_sec > 0 && per_sec < 1)
    snprintf(buf, len, "%s/min", num(per_sec * 60, b, sizeof b));
  else
    snprintf(buf, len, "%s/s", num(per_sec, b, sizeof b));
  return buf;
}

/* The location that best names a call's retry window. */
static rc_loc window_loc(const rc_call *c) {
  if (c->has_window) return c->window_loc;
  return c->retry_loc;
}

typedef struct rctx {
  rein_contract_set *s;
  const rein_contract_check_opts *o;
  bool ok;
} rctx;

static rc_diag *finding(rctx *R, const rc_svc *v, rc_loc loc, int rule,
                        const char *why, const char *fix) {
  static const char *const ids[] = {"R000", "R001", "R002", "R003", "R004",
                                    "R005", "R006", "R007", "R008", "R009",
                                    "R010", "R011", "R012", "R013"};
  const rein_contract_rule_info *ri = rein_contract_rule_n(rule);
  rc_diag *d = rein__rc_diag(R->s, loc, v->file_seq,
                             ri ? ri->severity : REIN_CONTRACT_ERROR, ids[rule],
                             why, fix);
  if (!d) R->ok = false;
  return d;
}

static void related(rctx *R, rc_diag *d, rc_loc loc, const char *msg) {
  if (d && !rein__rc_related(R->s, d, loc, msg)) R->ok = false;
}

/* --------------------------------------------------------------- R001 */

static bool forwards_key(const rc_call *c) {
  return c->key == REIN_CONTRACT_KEY_PASS_THROUGH ||
         c->key == REIN_CONTRACT_KEY_DERIVE;
}

static int64_t upstream_u(rc_svc *v) {
  if (v->mark_u == 2) return v->u;
  if (v->mark_u == 1) return 0; /* cycle: cut here */
  v->mark_u = 1;
  int64_t best = 0;
  rc_call *pred = NULL;
  for (size_t i = 0; i < v->nin; i++) {
    rc_call *c = v->in[i];
    if (c->key == REIN_CONTRACT_KEY_NONE) continue;
    int64_t w = rein__rc_window(c);
    if (forwards_key(c)) w += upstream_u(c->from);
    if (w > best || !pred) {
      best = w;
      pred = c;
    }
  }
  v->u = best;
  v->u_pred = pred;
  v->mark_u = 2;
  return best;
}

static void reset_marks(rein_contract_set *s) {
  for (size_t i = 0; i < s->nsvcs; i++) {
    s->svcs[i]->mark_u = s->svcs[i]->mark_q = 0;
    s->svcs[i]->u_pred = s->svcs[i]->q_pred = NULL;
  }
}

/* The key chain ending with call c: c, the call that brought the key to
 * c's caller, and so on while keys are forwarded, stopping where a cycle
 * closes. path[0] = c. Returns the number of calls. */
static int key_chain(rc_call *c, const rc_call **path, int max) {
  int n = 0;
  for (rc_call *p = c; p && n < max;) {
    for (int k = 0; k < n; k++)
      if (path[k] == p) return n;
    path[n++] = p;
    if (!forwards_key(p)) break;
    upstream_u(p->from);
    p = p->from->u_pred;
  }
  return n;
}

/* Window needed at c's callee for the key c carries: the retry windows
 * summed along its chain. */
static int64_t key_need(rc_call *c) {
  const rc_call *path[64];
  int n = key_chain(c, path, 64);
  int64_t w = 0;
  for (int k = 0; k < n; k++)
    w += rein__rc_window(path[k]);
  return w;
}

/* "merchant (72h) -> processor (30s) -> card-network.charge". */
static void chain_text(const rc_call *const *path, int n, char *buf,
                       size_t len) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = n - 1; i >= 0 && o < len; i--) {
    char d[32];
    o += (size_t)snprintf(buf + o, len - o, "%s (%s) -> ", path[i]->from->name,
                          rein__rc_dur(rein__rc_window(path[i]), d, sizeof d));
  }
  if (o < len)
    snprintf(buf + o, len - o, "%s.%s", path[0]->callee->name,
             path[0]->op->name);
}

static void rule_r001(rctx *R) {
  rein_contract_set *s = R->s;
  for (size_t i = 0; i < s->nsvcs; i++) {
    rc_svc *x = s->svcs[i];
    if (!x->current) continue;
    for (size_t j = 0; j < x->nin; j++) {
      rc_call *c = x->in[j];
      rc_op *op = c->op;
      if (op->idem != RC_IDEM_KEY || !op->key_ttl ||
          c->key == REIN_CONTRACT_KEY_NONE)
        continue;
      int64_t need = key_need(c);
      if (need <= op->key_ttl) continue;
      char ttl[32], needs[32], chain[512], why[1024], fix[512];
      rein__rc_dur(op->key_ttl, ttl, sizeof ttl);
      rein__rc_dur(need, needs, sizeof needs);
      const rc_call *path[64];
      int hops = key_chain(c, path, 64);
      chain_text(path, hops, chain, sizeof chain);
      if (hops == 1) {
        snprintf(why, sizeof why,
                 "%s.%s keeps idempotency keys for %s, but %s retries it for "
                 "up to %s: a retry after %s finds no key and runs again "
                 "(a duplicate effect)",
                 x->name, op->name, ttl, c->from->name, needs, ttl);
        snprintf(fix, sizeof fix,
                 "raise key_ttl to at least %s, or shorten %s's retry window "
                 "to under %s",
                 needs, c->from->name, ttl);
      } else {
        const rc_call *origin = path[hops - 1];
        snprintf(why, sizeof why,
                 "%s.%s keeps idempotency keys for %s, but the same key "
                 "reaches it through %s for up to %s: a retry after %s finds "
                 "no key and runs again (a duplicate effect)",
                 x->name, op->name, ttl, chain, needs, ttl);
        snprintf(fix, sizeof fix,
                 "raise key_ttl to at least %s (see `rein ttl`), or shorten "
                 "%s's retry window so the chain stays under %s",
                 needs, origin->from->name, ttl);
      }
      rc_diag *d = finding(R, x, op->key_ttl_loc, 1, why, fix);
      for (int h = hops - 1; h >= 0; h--) {
        const rc_call *p = path[h];
        char w[32], m[256];
        snprintf(m, sizeof m, "%s retries %s.%s for up to %s (key: %s)",
                 p->from->name, p->to_svc, p->to_op,
                 rein__rc_dur(rein__rc_window(p), w, sizeof w),
                 rein_contract_key_name(p->key));
        related(R, d, window_loc(p), m);
      }
    }
  }
}

/* --------------------------------------------------------------- R002 */

static bool only_not_sent(const rc_call *c) {
  if (!c->has_on || !c->non) return false;
  for (uint32_t i = 0; i < c->non; i++)
    if (rein__rc_token_kind(c->on[i]) != REIN_OUTCOME_NOT_SENT) return false;
  return true;
}

static void rule_r002(rctx *R, rc_call *c) {
  uint32_t a = rein__rc_attempts(c);
  if (a < 2 || !c->op || only_not_sent(c)) return;
  char why[768], fix[512];
  if (c->op->idem == RC_IDEM_NONE) {
    snprintf(why, sizeof why,
             "%s.%s is not idempotent (idempotency: none) and %s retries it "
             "up to %u attempts: a retry after a timeout or 5xx can apply it "
             "twice",
             c->to_svc, c->to_op, c->from->name, a);
    snprintf(fix, sizeof fix,
             "set attempts: 1, or retry only connect-refused (when: "
             "[connect-refused]), or give %s.%s idempotency: key",
             c->to_svc, c->to_op);
  } else if (c->op->idem == RC_IDEM_KEY && c->key == REIN_CONTRACT_KEY_NONE) {
    snprintf(why, sizeof why,
             "%s.%s deduplicates by idempotency key but %s sends none and "
             "retries up to %u attempts: each retry is a new operation",
             c->to_svc, c->to_op, c->from->name, a);
    snprintf(fix, sizeof fix,
             "set key: originate (or pass-through to forward the key %s "
             "received), sent in %s",
             c->from->name, c->op->key_header);
  } else {
    return;
  }
  finding(R, c->from, c->attempts_loc, 2, why, fix);
}

/* --------------------------------------------------------------- R003 */

static void rule_r003(rctx *R, rc_call *c) {
  uint32_t a = rein__rc_attempts(c), inst = rein__rc_instances(c);
  if (a < 2 || inst < 2 || c->spec.policy.backoff.jitter != REIN_JITTER_NONE ||
      c->spec.policy.backoff.kind == REIN_BACKOFF_NONE)
    return;
  int64_t t = rein__rc_attempt_timeout(c);
  double per = c->rate > 0 && t > 0 ? c->rate * (double)t / 1e9 : 1;
  if (per < 1) per = 1;
  double wave = floor(inst * per + 0.5);
  char times[128] = "", b[32], w[32], r[32], tt[32], why[768], fix[256];
  int64_t at = 0;
  size_t o = 0;
  uint32_t show = a - 1 < 3 ? a - 1 : 3;
  for (uint32_t n = 1; n <= show; n++) {
    at += rein_backoff_ceiling(&c->spec.policy.backoff, n);
    o += (size_t)snprintf(times + o, sizeof times - o, "%s+%s",
                          n > 1 ? ", " : "", rein__rc_dur(at, b, sizeof b));
  }
  if (a - 1 > show) snprintf(times + o, sizeof times - o, ", ...");
  char how[128];
  if (c->rate > 0 && t > 0)
    snprintf(how, sizeof how, "%u x %s x %s timeout", inst,
             rate_str(c->rate, r, sizeof r), rein__rc_dur(t, tt, sizeof tt));
  else
    snprintf(how, sizeof how, "one per instance");
  snprintf(why, sizeof why,
           "%s backoff without jitter across %u instances of %s: the %s calls "
           "in flight when %s fails (%s) retry in the same instant, at %s",
           rein_backoff_kind_name(c->spec.policy.backoff.kind), inst, c->from->name,
           num(wave, w, sizeof w), c->to_svc, how, times);
  snprintf(fix, sizeof fix,
           "set jitter: full (spreads each wave over its whole backoff "
           "interval)");
  rc_loc loc = c->jitter_loc.line ? c->jitter_loc
               : c->has_backoff   ? c->backoff_loc
                                  : c->retry_loc;
  finding(R, c->from, loc, 3, why, fix);
}

/* --------------------------------------------------------------- R004 */

static double upstream_q(rc_svc *v) {
  if (v->mark_q == 2) return v->q;
  if (v->mark_q == 1) return 1; /* cycle: cut here */
  v->mark_q = 1;
  double best = 1;
  rc_call *pred = NULL;
  for (size_t i = 0; i < v->nin; i++) {
    rc_call *c = v->in[i];
    double q = rein__rc_attempts(c) * upstream_q(c->from);
    if (q > 1e300) q = 1e300;
    if (q > best) {
      best = q;
      pred = c;
    }
  }
  v->q = best;
  v->q_pred = pred;
  v->mark_q = 2;
  return best;
}

static void rule_r004(rctx *R) {
  rein_contract_set *s = R->s;
  double limit = R->o->max_amplification > 0 ? R->o->max_amplification : 10;
  for (size_t i = 0; i < s->nsvcs; i++)
    if (s->svcs[i]->current) upstream_q(s->svcs[i]);
  for (size_t i = 0; i < s->nsvcs; i++) {
    rc_svc *v = s->svcs[i];
    /* v->q_pred is the last hop of the worst path ending at v; report it
     * once, at the end of the path: only if nothing continues it. */
    if (!v->current || !v->q_pred || v->q <= limit) continue;
    bool continued = false;
    for (size_t j = 0; j < v->ncalls && !continued; j++) {
      rc_call *d = &v->calls[j];
      /* continued only if the successor's worst path really extends this
       * one (on a cycle the successor may have been computed from a cut) */
      if (d->callee && d->callee->q_pred == d && d->callee->q >= v->q)
        continued = true;
    }
    if (continued) continue;
    const rc_call *path[64];
    int n = 0;
    for (const rc_call *p = v->q_pred; p && n < 64; p = p->from->q_pred) {
      bool seen = false;
      for (int k = 0; k < n && !seen; k++)
        seen = path[k] == p;
      if (seen) break; /* a cycle closes here */
      path[n++] = p;
    }
    char route[512] = "", prod[256] = "", why[1024], fix[768], b[32];
    size_t o = 0, q = 0;
    int retrying = 0;
    o += (size_t)snprintf(route + o, sizeof route - o, "%s",
                          path[n - 1]->from->name);
    for (int k = n - 1; k >= 0; k--) {
      if (o < sizeof route)
        o += (size_t)snprintf(route + o, sizeof route - o, " -> %s",
                              path[k]->callee->name);
      uint32_t a = rein__rc_attempts(path[k]);
      if (a > 1) {
        if (q < sizeof prod)
          q += (size_t)snprintf(prod + q, sizeof prod - q, "%s%u",
                                retrying ? " x " : "", a);
        retrying++;
      }
    }
    const rc_call *bottom = path[0], *deepest = path[0];
    for (int k = 0; k < n; k++)
      if (rein__rc_attempts(path[k]) > 1) {
        deepest = path[k];
        break;
      }
    char lb[32];
    snprintf(why, sizeof why,
             "retries multiply along %s: %s = %s attempts reach %s.%s for "
             "one request (limit %s)",
             route, prod, num(v->q, b, sizeof b), bottom->callee->name,
             bottom->to_op, num(limit, lb, sizeof lb));
    char inner[256] = "";
    size_t io = 0;
    for (int k = n - 2; k >= 0; k--)
      if (rein__rc_attempts(path[k]) > 1 && io < sizeof inner)
        io += (size_t)snprintf(inner + io, sizeof inner - io, "%s%s",
                               io ? ", " : "", path[k]->from->name);
    if (*inner)
      snprintf(fix, sizeof fix,
               "retry at one layer only: keep retries in %s (the edge) and "
               "set attempts: 1 in %s, which then pass don't-retry upwards",
               path[n - 1]->from->name, inner);
    else
      snprintf(fix, sizeof fix,
               "retry at one layer only: lower attempts so the product stays "
               "under %s",
               num(limit, b, sizeof b));
    rc_diag *d = finding(R, deepest->from, deepest->attempts_loc, 4, why, fix);
    int layer = 1;
    for (int k = n - 1; k >= 0; k--) {
      uint32_t a = rein__rc_attempts(path[k]);
      if (a < 2) continue;
      char m[256];
      snprintf(m, sizeof m, "layer %d: %s -> %s.%s makes %u attempts", layer++,
               path[k]->from->name, path[k]->to_svc, path[k]->to_op, a);
      related(R, d, path[k]->attempts_loc, m);
    }
  }
}

/* --------------------------------------------------------------- R005 */

/* Sustained attempts per first attempt a budgeted caller can make when
 * every attempt fails, and the per-second floor its budget adds. */
static double budget_factor(const rc_call *c, double *floor_per_sec) {
  double a = rein__rc_attempts(c);
  *floor_per_sec = 0;
  if (!c->has_budget || a < 2) return a;
  double f = a;
  switch (c->spec.budget.kind) {
  case REIN_BUDGET_RATIO:
    f = 1 + c->spec.budget.ratio;
    *floor_per_sec =
        c->spec.budget.min_retries_per_sec * (c->spec.budget_scope == REIN_SCOPE_FLEET
                                             ? 1
                                             : (double)rein__rc_instances(c));
    break;
  case REIN_BUDGET_TOKEN_BUCKET:
    f = 1 + c->spec.budget.token_ratio;
    break;
  case REIN_BUDGET_QUOTA:
    f = 1 + (c->spec.budget.retry_cost
                 ? (double)c->spec.budget.success_increment / c->spec.budget.retry_cost
                 : 0);
    break;
  default:
    break;
  }
  return f < a ? f : a;
}

static void rule_r005(rctx *R) {
  rein_contract_set *s = R->s;
  for (size_t i = 0; i < s->nsvcs; i++) {
    rc_svc *x = s->svcs[i];
    if (!x->current || x->capacity <= 0 || !x->nin) continue;
    double normal = 0, worst = 0, budgeted = 0;
    bool any_budget = false;
    for (size_t j = 0; j < x->nin; j++) {
      rc_call *c = x->in[j];
      if (c->rate <= 0) continue;
      double base = rein__rc_instances(c) * c->rate, fl;
      double f = budget_factor(c, &fl);
      double b = base * f + fl;
      if (b > base * rein__rc_attempts(c)) b = base * rein__rc_attempts(c);
      normal += base;
      any_budget |= c->has_budget && rein__rc_attempts(c) > 1;
      worst += base * rein__rc_attempts(c);
      budgeted += b;
    }
    if (budgeted <= x->capacity) continue;
    char n1[32], n2[32], n3[32], cap[32], why[768], fix[512];
    rate_str(normal, n1, sizeof n1);
    rate_str(worst, n2, sizeof n2);
    rate_str(budgeted, n3, sizeof n3);
    rate_str(x->capacity, cap, sizeof cap);
    char with[96];
    if (any_budget)
      snprintf(with, sizeof with, "%s without budgets and %s with them", n2,
               n3);
    else
      snprintf(with, sizeof with, "%s (no caller has a retry budget)", n2);
    if (normal > x->capacity)
      snprintf(why, sizeof why,
               "first attempts alone put %s on %s, over its capacity of %s; "
               "with retries the fleet can send %s",
               n1, x->name, cap, with);
    else
      snprintf(why, sizeof why,
               "when %s fails, its callers can send %s against a capacity "
               "of %s (%s normally): retries alone keep it overloaded",
               x->name, with, cap, n1);
    snprintf(fix, sizeof fix,
             "give each caller a retry budget shared by its fleet (budget: "
             "{kind: ratio, ratio: 0.1, scope: fleet}) so retries stay "
             "within %s, or raise capacity to %s",
             cap, n3);
    rc_diag *d = finding(R, x, x->capacity_loc, 5, why, fix);
    for (size_t j = 0; j < x->nin; j++) {
      rc_call *c = x->in[j];
      if (c->rate <= 0) continue;
      char m[384], r[32], tot[32], tb[32], fb[32], btxt[96];
      double fl, f = budget_factor(c, &fl);
      double base = rein__rc_instances(c) * c->rate;
      if (c->has_budget)
        snprintf(btxt, sizeof btxt, "%s budget (%s): %s",
                 rein_budget_kind_name(c->spec.budget.kind),
                 rein_contract_scope_name((rein_contract_scope)c->spec.budget_scope),
                 rate_str(base * f + fl < base * rein__rc_attempts(c)
                              ? base * f + fl
                              : base * rein__rc_attempts(c),
                          tb, sizeof tb));
      else
        snprintf(btxt, sizeof btxt, "no budget");
      (void)fb;
      snprintf(m, sizeof m, "%s: %u x %s x %u attempts = %s (%s)",
               c->from->name, rein__rc_instances(c),
               rate_str(c->rate, r, sizeof r), rein__rc_attempts(c),
               rate_str(base * rein__rc_attempts(c), tot, sizeof tot), btxt);
      related(R, d, c->rate_loc.line ? c->rate_loc : c->loc, m);
    }
  }
}

/* --------------------------------------------------------------- R006 */

static void rule_r006(rctx *R, rc_call *c) {
  uint32_t a = rein__rc_attempts(c);
  int64_t t = rein__rc_attempt_timeout(c);
  if (a < 2 || !c->deadline || !t) return;
  int64_t total = schedule_ns(c, a);
  if (total <= c->deadline) return;
  uint32_t fit = 0;
  while (fit < a && schedule_ns(c, fit + 1) <= c->deadline)
    fit++;
  char tot[32], dl[32], tt[32], bo[32], why[768], fix[512], nt[32];
  rein__rc_dur(total, tot, sizeof tot);
  rein__rc_dur(c->deadline, dl, sizeof dl);
  snprintf(why, sizeof why,
           "the retry schedule takes up to %s (%u attempts x %s timeout + %s "
           "backoff) but the deadline is %s: only %u of %u attempts can run",
           tot, a, rein__rc_dur(t, tt, sizeof tt),
           rein__rc_dur(backoff_sum(c, a - 1), bo, sizeof bo), dl, fit, a);
  int64_t fit_t = (c->deadline - backoff_sum(c, a - 1)) / a;
  if (fit_t > 0)
    snprintf(fix, sizeof fix,
             "set attempts: %u, or a per-attempt timeout of at most %s, or "
             "raise the deadline to %s",
             fit ? fit : 1, rein__rc_dur(fit_t, nt, sizeof nt), tot);
  else
    snprintf(fix, sizeof fix, "set attempts: %u, or raise the deadline to %s",
             fit ? fit : 1, tot);
  finding(R, c->from, c->deadline_loc, 6, why, fix);
}

/* --------------------------------------------------------------- R007 */

static void rule_r007(rctx *R, rc_call *c) {
  if (rein__rc_attempts(c) < 2 || !c->has_on) return;
  for (uint32_t i = 0; i < c->non; i++) {
    uint16_t t = c->on[i];
    char tb[16], why[768], fix[384];
    const char *tn = rein__rc_token_name(t, tb, sizeof tb);
    if (definitive(t)) {
      snprintf(why, sizeof why,
               "retry.when lists %s%s, a definitive answer: a retry gets the "
               "same answer and only adds load",
               tn, status_text(t));
      snprintf(fix, sizeof fix, "remove %s from retry.when", tn);
    } else if (c->op && c->op->has_retryable) {
      bool ok = false;
      for (uint32_t k = 0; k < c->op->nretryable && !ok; k++)
        ok = covers(c->op->retryable[k], t);
      if (ok) continue;
      char list[192] = "";
      size_t o = 0;
      for (uint32_t k = 0; k < c->op->nretryable && o < sizeof list; k++) {
        char b[16];
        o += (size_t)snprintf(
            list + o, sizeof list - o, "%s%s", k ? ", " : "",
            rein__rc_token_name(c->op->retryable[k], b, sizeof b));
      }
      snprintf(why, sizeof why,
               "retry.when lists %s, but %s.%s declares only %s as safe to "
               "retry",
               tn, c->to_svc, c->to_op, *list ? list : "nothing");
      snprintf(fix, sizeof fix,
               "remove %s from retry.when, or have %s declare it in retryable",
               tn, c->to_svc);
    } else {
      continue;
    }
    finding(R, c->from, c->on_locs[i], 7, why, fix);
  }
}

/* --------------------------------------------------------------- R008 */

static void rule_r008(rctx *R, rc_call *c) {
  uint32_t a = rein__rc_attempts(c);
  if (a < 2 || !c->op || !c->op->has_max_retry_ratio) return;
  double ratio;
  const char *how;
  char hb[64];
  if (c->has_budget && c->spec.budget.kind == REIN_BUDGET_RATIO) {
    ratio = c->spec.budget.ratio;
    how = "its ratio budget";
  } else if (c->has_budget && c->spec.budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
    ratio = c->spec.budget.token_ratio;
    how = "its token bucket's token_ratio";
  } else if (c->has_budget && c->spec.budget.kind == REIN_BUDGET_QUOTA) {
    ratio = c->spec.budget.retry_cost
                ? (double)c->spec.budget.success_increment / c->spec.budget.retry_cost
                : 0;
    how = "its quota (success_increment / retry_cost)";
  } else {
    ratio = a - 1;
    snprintf(hb, sizeof hb, "%u attempts and no budget", a);
    how = hb;
  }
  if (ratio <= c->op->max_retry_ratio + 1e-12) return;
  char why[768], fix[384], r1[32], r2[32];
  snprintf(why, sizeof why,
           "%s may send %s retries per request (%s), but %s.%s tolerates at "
           "most %s",
           c->from->name, num(ratio, r1, sizeof r1), how, c->to_svc, c->to_op,
           num(c->op->max_retry_ratio, r2, sizeof r2));
  snprintf(fix, sizeof fix,
           "add budget: {kind: ratio, ratio: %s} (or lower), or agree a "
           "higher max_retry_ratio with %s",
           r2, c->to_svc);
  rc_loc loc = c->has_budget
                   ? (c->ratio_loc.line ? c->ratio_loc : c->budget_loc)
                   : c->attempts_loc;
  finding(R, c->from, loc, 8, why, fix);
}

/* --------------------------------------------------------------- R009 */

static void diff_op(const rc_op *old, const rc_op *cur, char *buf, size_t len,
                    size_t *o) {
  char a[32], b[32];
#define ADD(...)                                                               \
  do {                                                                         \
    if (*o < len)                                                              \
      *o += (size_t)snprintf(buf + *o, len - *o, "%s", *o ? "; " : "");        \
    if (*o < len) *o += (size_t)snprintf(buf + *o, len - *o, __VA_ARGS__);     \
  } while (0)
  static const char *const idem[] = {"unset", "natural", "key", "none"};
  if (old->idem != cur->idem)
    ADD("%s.idempotency %s -> %s", cur->name, idem[old->idem], idem[cur->idem]);
  if (old->key_ttl != cur->key_ttl)
    ADD("%s.key_ttl %s -> %s", cur->name,
        rein__rc_dur(old->key_ttl, a, sizeof a),
        rein__rc_dur(cur->key_ttl, b, sizeof b));
  if (old->timeout != cur->timeout)
    ADD("%s.timeout %s -> %s", cur->name,
        rein__rc_dur(old->timeout, a, sizeof a),
        rein__rc_dur(cur->timeout, b, sizeof b));
  if (old->has_max_retry_ratio != cur->has_max_retry_ratio ||
      old->max_retry_ratio != cur->max_retry_ratio)
    ADD("%s.max_retry_ratio %g -> %g", cur->name, old->max_retry_ratio,
        cur->max_retry_ratio);
  if (old->nretryable != cur->nretryable ||
      memcmp(old->retryable, cur->retryable,
             cur->nretryable * sizeof *cur->retryable) != 0)
    ADD("%s.retryable changed", cur->name);
  if (old->key_header && cur->key_header &&
      strcmp(old->key_header, cur->key_header) != 0)
    ADD("%s.key_header %s -> %s", cur->name, old->key_header, cur->key_header);
#undef ADD
}

static void rule_r009(rctx *R, rc_call *c) {
  if (!c->pin || !c->callee || !c->callee->version ||
      strcmp(c->pin, c->callee->version) == 0)
    return;
  rc_svc *old = NULL;
  for (rc_svc *v = c->callee; v; v = v->next_version)
    if (v->version && strcmp(v->version, c->pin) == 0) old = v;
  char changes[512] = "", why[1024], fix[256];
  size_t o = 0;
  if (old) {
    const rc_op *oo = NULL;
    for (size_t k = 0; k < old->nops; k++)
      if (strcmp(old->ops[k].name, c->to_op) == 0) oo = &old->ops[k];
    if (!oo)
      snprintf(changes, sizeof changes, "%s.%s did not exist in %s", c->to_svc,
               c->to_op, c->pin);
    else if (c->op)
      diff_op(oo, c->op, changes, sizeof changes, &o);
    if (old->capacity != c->callee->capacity && o + 2 < sizeof changes) {
      char a[32], b[32];
      o += (size_t)snprintf(changes + o, sizeof changes - o,
                            "%scapacity %s -> %s", o ? "; " : "",
                            rate_str(old->capacity, a, sizeof a),
                            rate_str(c->callee->capacity, b, sizeof b));
    }
    if (!*changes)
      snprintf(changes, sizeof changes, "nothing %s relies on", c->from->name);
    snprintf(why, sizeof why,
             "%s pins %s %s but the current contract is %s; changed: %s",
             c->from->name, c->to_svc, c->pin, c->callee->version, changes);
  } else {
    snprintf(why, sizeof why,
             "%s pins %s %s but the current contract is %s, and %s is not "
             "among the checked files, so what changed is unknown",
             c->from->name, c->to_svc, c->pin, c->callee->version, c->pin);
  }
  snprintf(fix, sizeof fix, "review the changes, then set pin_version: %s",
           c->callee->version);
  finding(R, c->from, c->pin_loc, 9, why, fix);
}

/* --------------------------------------------------------------- R010 */

static void rule_r010(rctx *R, rc_call *c) {
  if (!c->op || !c->timeout || !c->op->timeout || c->timeout < c->op->timeout)
    return;
  char a[32], b[32], s2[32], why[768], fix[384];
  rein__rc_dur(c->timeout, a, sizeof a);
  rein__rc_dur(c->op->timeout, b, sizeof b);
  snprintf(why, sizeof why,
           "per-attempt timeout %s is not below %s.%s's own timeout %s: %s "
           "can still be working when it was already given up on, and a "
           "retry doubles that wasted work",
           a, c->to_svc, c->to_op, b, c->to_svc);
  snprintf(fix, sizeof fix,
           "set timeout below %s (e.g. %s), or lower %s.%s's timeout", b,
           rein__rc_dur(c->op->timeout * 8 / 10, s2, sizeof s2), c->to_svc,
           c->to_op);
  finding(R, c->from, c->timeout_loc, 10, why, fix);
}

/* --------------------------------------------------------------- R011 */

/* A hedged call duplicates work while the first attempt may still run:
 * never on a non-idempotent operation, only with the key on a keyed one. */
static void rule_r011_call(rctx *R, rc_call *c) {
  if (!c->has_hedge || c->spec.hedge.max_attempts < 2 || !c->op) return;
  char why[768], fix[384];
  uint32_t h = c->spec.hedge.max_attempts;
  if (c->op->idem == RC_IDEM_NONE) {
    snprintf(why, sizeof why,
             "%s hedges %s.%s (up to %u attempts at once), which is not "
             "idempotent (idempotency: none): a hedge runs it a second time "
             "while the first may still be running",
             c->from->name, c->to_svc, c->to_op, h);
    snprintf(fix, sizeof fix,
             "remove the hedge, or give %s.%s idempotency: key and send it "
             "(key: originate)",
             c->to_svc, c->to_op);
  } else if (c->op->idem == RC_IDEM_KEY && c->key == REIN_CONTRACT_KEY_NONE) {
    snprintf(why, sizeof why,
             "%s hedges %s.%s, which deduplicates by idempotency key, but "
             "sends no key: a hedge would be a new operation (rein_hedge sends "
             "no hedge of a keyless non-idempotent call, so it never runs)",
             c->from->name, c->to_svc, c->to_op);
    snprintf(fix, sizeof fix, "set key: originate (sent in %s)",
             c->op->key_header);
  } else {
    return;
  }
  finding(R, c->from, c->hedge_loc, 11, why, fix);
}

/* When the callee is slower than the hedge delay, every call is hedged. */
static void rule_r011_load(rctx *R) {
  rein_contract_set *s = R->s;
  for (size_t i = 0; i < s->nsvcs; i++) {
    rc_svc *x = s->svcs[i];
    if (!x->current || x->capacity <= 0 || !x->nin) continue;
    double normal = 0, hedged = 0;
    bool any = false;
    for (size_t j = 0; j < x->nin; j++) {
      rc_call *c = x->in[j];
      if (c->rate <= 0) continue;
      double base = rein__rc_instances(c) * c->rate;
      normal += base;
      if (!c->has_hedge || c->spec.hedge.max_attempts < 2) {
        hedged += base;
        continue;
      }
      any = true;
      double h = c->spec.hedge.max_attempts, fl = 0;
      double f = h;
      if (c->has_budget) {
        /* the budget pays for hedges as for retries */
        budget_factor(c, &fl);
        double bf = c->spec.budget.kind == REIN_BUDGET_RATIO
                        ? 1 + c->spec.budget.ratio
                    : c->spec.budget.kind == REIN_BUDGET_TOKEN_BUCKET
                        ? 1 + c->spec.budget.token_ratio
                        : h;
        f = bf < h ? bf : h;
      }
      double b = base * f + (c->has_budget ? fl : 0);
      hedged += b < base * h ? b : base * h;
    }
    if (!any || normal > x->capacity || hedged <= x->capacity) continue;
    char n1[32], n2[32], cap[32], why[768], fix[384];
    rate_str(normal, n1, sizeof n1);
    rate_str(hedged, n2, sizeof n2);
    rate_str(x->capacity, cap, sizeof cap);
    snprintf(why, sizeof why,
             "when %s slows down past its callers' hedge delay, every call "
             "is hedged: %s against a capacity of %s (%s normally), and the "
             "hedges keep it slow",
             x->name, n2, cap, n1);
    snprintf(fix, sizeof fix,
             "give the hedging callers a retry budget shared by the fleet "
             "(it pays for hedges: budget: {kind: ratio, ratio: 0.1, scope: "
             "fleet}), fewer hedge attempts, or capacity above %s",
             n2);
    rc_diag *d = finding(R, x, x->capacity_loc, 11, why, fix);
    for (size_t j = 0; j < x->nin; j++) {
      rc_call *c = x->in[j];
      if (c->rate <= 0 || !c->has_hedge || c->spec.hedge.max_attempts < 2)
        continue;
      char m[320], r[32], tot[32];
      snprintf(m, sizeof m, "%s: %u x %s hedged up to %u attempts = %s%s",
               c->from->name, rein__rc_instances(c),
               rate_str(c->rate, r, sizeof r), c->spec.hedge.max_attempts,
               rate_str(rein__rc_instances(c) * c->rate *
                            c->spec.hedge.max_attempts,
                        tot, sizeof tot),
               c->has_budget ? " (before its budget)" : " (no budget)");
      related(R, d, c->hedge_loc, m);
    }
  }
}

/* --------------------------------------------------------------- R012 */

/* Does call c retry an answer with HTTP status `st`? (No `when` and no
 * `retryable`: the runtime's default kinds, everything but fatal.) */
static bool retries_status(const rc_call *c, uint32_t st) {
  rein_retryable_set set;
  rein__rc_retryable_set(c, &set);
  rein_condition cond = REIN_COND_HTTP(st);
  rein_outcome_kind k = rein_condition_kind(cond);
  if (rein_retryable_set_is_empty(&set))
    return k != REIN_OUTCOME_FATAL && k != REIN_OUTCOME_SUCCESS;
  return rein_retryable_set_has(&set, cond, k);
}

static void rule_r012(rctx *R, rc_call *c) {
  const rc_svc *v = c->callee;
  if (!v || !v->adm || rein__rc_attempts(c) < 2) return;
  const rein_contract_admission *a = v->adm;
  bool shed = retries_status(c, a->shed_status);
  bool limited = a->admit.rl_quota > 0 && retries_status(c, a->rate_limit_status);
  if (!shed && !limited) return;
  bool marks = a->dont_retry_header &&
               a->admit.dont_retry != REIN_ADMIT_DONT_RETRY_NEVER;
  bool no_ra = !(c->signals & REIN_CONTRACT_SIGNAL_RETRY_AFTER);
  bool no_dr = shed && marks && !(c->signals & REIN_CONTRACT_SIGNAL_DONT_RETRY);
  bool no_rl = limited && a->ratelimit_headers &&
               !(c->signals & REIN_CONTRACT_SIGNAL_RATELIMIT);
  if (!no_ra && !no_dr && !no_rl) return;
  static const char *const dr_names[] = {"never", "retries", "overloaded"};
  char missing[96] = "", statuses[32], why[768], fix[384];
  snprintf(missing, sizeof missing, "%s%s%s%s%s", no_ra ? "retry-after" : "",
           no_ra && (no_dr || no_rl) ? ", " : "", no_dr ? "dont-retry" : "",
           no_dr && no_rl ? ", " : "", no_rl ? "ratelimit" : "");
  if (shed && limited)
    snprintf(statuses, sizeof statuses, "%u and %u", a->shed_status,
             a->rate_limit_status);
  else
    snprintf(statuses, sizeof statuses, "%u",
             shed ? a->shed_status : a->rate_limit_status);
  snprintf(why, sizeof why,
           "retries %s's shed answers (%s) but does not honour %s: %s sheds "
           "at its proxy with Retry-After (its drain time)%s%s%s, so this "
           "caller's retries come back on its own backoff into the overload "
           "being shed%s",
           v->name, statuses, missing, v->name,
           marks ? " and Rein-Dont-Retry (dont_retry: " : "",
           marks ? dr_names[a->admit.dont_retry] : "", marks ? ")" : "",
           no_dr ? ", including those it was told not to retry" : "");
  snprintf(fix, sizeof fix, "add %s to retry.signals (or stop retrying %s)",
           missing, statuses);
  rc_diag *d = finding(R, c->from, c->has_retry ? c->retry_loc : c->loc, 12,
                       why, fix);
  char rel[160];
  snprintf(rel, sizeof rel, "%s's server.admission (zone %s)", v->name,
           a->admit.name);
  related(R, d, a->loc, rel);
}

/* --------------------------------------------------------------- R013 */

static const char *const broker_names[] = {"", "jetstream", "kafka", "rabbitmq",
                                           "redis-streams"};

/* Does the consuming operation absorb a duplicate itself: an inbox, a
 * naturally idempotent operation, or a keyed one this call sends the key
 * to? */
static bool absorbs_duplicates(const rc_call *c) {
  const rc_op *op = c->op;
  if (!op) return false;
  return (op->broker.has_inbox && op->broker.inbox) ||
         op->idem == RC_IDEM_NATURAL ||
         (op->idem == RC_IDEM_KEY && c->key != REIN_CONTRACT_KEY_NONE);
}

/* "up to 5m (retry.window)" or "up to 3m10s (3 attempts x 1m timeout +
 * 10s backoff)": the window R001 uses, with where it comes from. */
static void window_text(const rc_call *c, char *buf, size_t len) {
  char w[32], t[32], b[32];
  int64_t win = rein__rc_window(c);
  uint32_t a = rein__rc_attempts(c);
  rein__rc_dur(win, w, sizeof w);
  if (c->has_window && c->window)
    snprintf(buf, len, "%s (retry.window)", w);
  else
    snprintf(buf, len, "%s (%u attempts x %s timeout + %s backoff)", w, a,
             rein__rc_dur(rein__rc_attempt_timeout(c), t, sizeof t),
             rein__rc_dur(backoff_sum(c, a - 1), b, sizeof b));
}

/* (a) the producer side: a call that re-publishes through a broker. */
static void rule_r013_call(rctx *R, rc_call *c) {
  const rc_broker *b = &c->broker;
  if (!b->kind || rein__rc_attempts(c) < 2 || absorbs_duplicates(c)) return;
  char win[128], why[1024], fix[640], dw[32], need[32], rel[192];
  window_text(c, win, sizeof win);
  const char *bn = broker_names[b->kind];
  char inbox[160];
  snprintf(inbox, sizeof inbox,
           "give %s an inbox that deduplicates by a message id set once per "
           "message (its broker: {kind: %s, inbox: true})",
           c->to, bn);
  rc_diag *d;
  if (b->kind == RC_BROKER_JETSTREAM) {
    int64_t w = rein__rc_window(c);
    if (w <= b->duplicate_window) return;
    rein__rc_dur(b->duplicate_window, dw, sizeof dw);
    rein__rc_dur(w, need, sizeof need);
    snprintf(why, sizeof why,
             "%s publishes to %s through jetstream with retries for up to "
             "%s, but the stream deduplicates Nats-Msg-Id for %s%s: a "
             "re-publish after %s is a duplicate the broker keeps",
             c->from->name, c->to, win, dw,
             b->has_duplicate_window ? "" : " (the nats-server default)", dw);
    snprintf(fix, sizeof fix,
             "raise the stream's duplicate_window to at least %s (and "
             "broker.duplicate_window with it), bound the retries to %s "
             "(retry.window: %s), or %s",
             need, dw, dw, inbox);
    d = finding(R, c->from, window_loc(c), 13, why, fix);
    snprintf(rel, sizeof rel, "the stream's duplicate_window: %s%s", dw,
             b->has_duplicate_window ? ""
                                     : " (not written: nats-server's "
                                       "default)");
    related(R, d, b->has_duplicate_window ? b->duplicate_window_loc : b->loc,
            rel);
    return;
  }
  if (b->kind == RC_BROKER_KAFKA && b->has_idempotent_producer &&
      b->idempotent_producer) {
    snprintf(why, sizeof why,
             "%s re-publishes to %s through kafka for up to %s, but kafka's "
             "idempotent producer deduplicates only the producer's own "
             "resends within one producer session (producer id and epoch): "
             "a re-publish by the caller is a new record, and a producer "
             "restart starts a new session",
             c->from->name, c->to, win);
    snprintf(fix, sizeof fix,
             "%s, or set attempts: 1 and leave resends to the producer "
             "(delivery.timeout.ms)",
             inbox);
  } else if (b->kind == RC_BROKER_KAFKA) {
    snprintf(why, sizeof why,
             "%s re-publishes to %s through kafka for up to %s without an "
             "idempotent producer (idempotent_producer: %s): the broker "
             "cannot deduplicate re-publishes, so a retry after a lost "
             "acknowledgement writes the record twice",
             c->from->name, c->to, win,
             b->has_idempotent_producer ? "false" : "not set");
    snprintf(fix, sizeof fix,
             "%s; set idempotent_producer: true (enable.idempotence=true) "
             "for the producer's own resends",
             inbox);
  } else {
    snprintf(why, sizeof why,
             "%s re-publishes to %s through %s for up to %s, but %s does not "
             "deduplicate published messages: a retry after a lost %s is a "
             "second message the broker delivers",
             c->from->name, c->to, bn, win, bn,
             b->kind == RC_BROKER_RABBITMQ ? "publisher confirm"
                                           : "XADD reply");
    snprintf(fix, sizeof fix, "%s, or set attempts: 1", inbox);
  }
  d = finding(R, c->from, c->has_retry ? c->retry_loc : c->loc, 13, why, fix);
  if (b->has_idempotent_producer) {
    snprintf(rel, sizeof rel, "broker: kind %s, idempotent_producer: %s", bn,
             b->idempotent_producer ? "true" : "false");
    related(R, d, b->idempotent_producer_loc, rel);
  } else {
    snprintf(rel, sizeof rel, "broker: kind %s", bn);
    related(R, d, b->kind_loc.line ? b->kind_loc : b->loc, rel);
  }
}

/* (b) the consumer side: an operation that says it has no inbox on an
 * at-least-once broker. */
static void rule_r013_ops(rctx *R) {
  rein_contract_set *s = R->s;
  static const char *const redelivery[] = {
      "",
      "a message not acknowledged within the consumer's ack_wait is "
      "delivered again",
      "a consumer that fails or rebalances before committing its offset "
      "reads the records again",
      "a message unacknowledged when its channel closes is requeued and "
      "delivered again",
      "a pending entry another consumer claims with XCLAIM or XAUTOCLAIM is "
      "delivered again"};
  for (size_t i = 0; i < s->nsvcs && R->ok; i++) {
    rc_svc *v = s->svcs[i];
    if (!v->current) continue;
    for (size_t k = 0; k < v->nops; k++) {
      rc_op *op = &v->ops[k];
      const rc_broker *b = &op->broker;
      if (!b->kind || !b->has_inbox || b->inbox ||
          op->idem == RC_IDEM_NATURAL || op->idem == RC_IDEM_KEY)
        continue;
      const char *bn = broker_names[b->kind];
      char why[768], fix[384];
      snprintf(why, sizeof why,
               "%s.%s consumes from %s without an inbox (inbox: false) and "
               "is not declared idempotent: %s delivers at least once (%s), "
               "so every redelivery runs it again",
               v->name, op->name, bn, bn, redelivery[b->kind]);
      snprintf(fix, sizeof fix,
               "set inbox: true and deduplicate by message id before the "
               "effect (rein/inbox.h), or make %s idempotent and declare "
               "idempotency: natural",
               op->name);
      rc_diag *d = finding(R, v, b->inbox_loc, 13, why, fix);
      for (size_t j = 0; j < v->nin; j++) {
        const rc_call *c = v->in[j];
        if (c->op != op || !c->broker.kind) continue;
        char rel[192];
        snprintf(rel, sizeof rel, "%s publishes to it through %s",
                 c->from->name, broker_names[c->broker.kind]);
        related(R, d, c->loc, rel);
      }
    }
  }
}

/* -------------------------------------------------------------- driver */

void rein_contract_check_opts_default(rein_contract_check_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_amplification = 10;
}

#define ON(n) (!(o->disabled & REIN_CONTRACT_RULE_BIT(n)))

rein_status rein_contract_check(rein_contract_set *s,
                                const rein_contract_check_opts *opts) {
  if (!s) return REIN_EINVAL;
  if (s->oom) return REIN_ENOMEM;
  if (s->checked) return REIN_OK;
  rein_contract_check_opts d;
  rein_contract_check_opts_default(&d);
  const rein_contract_check_opts *o = opts ? opts : &d;
  if (!rein__rc_resolve(s)) return REIN_ENOMEM;
  rctx R = {s, o, true};
  reset_marks(s);
  if (ON(1)) rule_r001(&R);
  for (size_t i = 0; i < s->nsvcs && R.ok; i++) {
    rc_svc *v = s->svcs[i];
    if (!v->current) continue;
    for (size_t j = 0; j < v->ncalls; j++) {
      rc_call *c = &v->calls[j];
      if (ON(2)) rule_r002(&R, c);
      if (ON(3)) rule_r003(&R, c);
      if (ON(6)) rule_r006(&R, c);
      if (ON(7)) rule_r007(&R, c);
      if (ON(8)) rule_r008(&R, c);
      if (ON(9)) rule_r009(&R, c);
      if (ON(10)) rule_r010(&R, c);
      if (ON(11)) rule_r011_call(&R, c);
      if (ON(12)) rule_r012(&R, c);
      if (ON(13)) rule_r013_call(&R, c);
    }
  }
  if (ON(4) && R.ok) rule_r004(&R);
  if (ON(5) && R.ok) rule_r005(&R);
  if (ON(11) && R.ok) rule_r011_load(&R);
  if (ON(13) && R.ok) rule_r013_ops(&R);
  if (!R.ok || s->oom) return REIN_ENOMEM;
  s->checked = true;
  /* Sort now, so the const readers never write and may run concurrently. */
  (void)rein_contract_diag_at(s, 0);
  return REIN_OK;
}

/* ------------------------------------------------------------------ ttl */

rein_status rein_contract_ttls(rein_contract_set *s,
                               const rein_contract_ttl **out, size_t *n) {
  if (!s || !out || !n) return REIN_EINVAL;
  if (s->oom || !rein__rc_resolve(s)) return REIN_ENOMEM;
  if (!s->ttls) {
    size_t cnt = 0;
    for (size_t i = 0; i < s->nsvcs; i++) {
      if (!s->svcs[i]->current) continue;
      for (size_t k = 0; k < s->svcs[i]->nops; k++)
        cnt += s->svcs[i]->ops[k].idem == RC_IDEM_KEY;
    }
    rein_contract_ttl *t = rein__rc_alloc(s, (cnt ? cnt : 1) * sizeof *t);
    if (!t) return REIN_ENOMEM;
    for (size_t i = 0; i < s->nsvcs; i++)
      s->svcs[i]->mark_u = 0;
    size_t m = 0;
    for (size_t i = 0; i < s->nsvcs; i++) {
      rc_svc *x = s->svcs[i];
      if (!x->current) continue;
      for (size_t k = 0; k < x->nops; k++) {
        rc_op *op = &x->ops[k];
        if (op->idem != RC_IDEM_KEY) continue;
        rein_contract_ttl *e = &t[m++];
        e->service = x->name;
        e->operation = op->name;
        e->declared_ns = op->key_ttl;
        e->loc = op->key_ttl_loc.line ? op->key_ttl_loc : op->loc;
        rc_call *worst = NULL;
        for (size_t j = 0; j < x->nin; j++) {
          rc_call *c = x->in[j];
          if (c->op != op || c->key == REIN_CONTRACT_KEY_NONE) continue;
          int64_t need = key_need(c);
          if (!worst || need > e->required_ns) {
            worst = c;
            e->required_ns = need;
          }
        }
        if (worst) {
          char chain[512];
          const rc_call *path[64];
          int hops = key_chain(worst, path, 64);
          chain_text(path, hops, chain, sizeof chain);
          e->chain = rein__rc_strdup(s, chain);
        } else {
          e->chain = "";
        }
      }
    }
    if (s->oom) return REIN_ENOMEM;
    s->ttls = t;
    s->nttls = m;
  }
  *out = s->ttls;
  *n = s->nttls;
  return REIN_OK;
}
