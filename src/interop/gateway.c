/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gateway.c: Kubernetes Gateway API retry settings <-> rein's policy model
 * (format "gateway").
 *
 * The semantics followed are those of the Gateway API reference for the
 * experimental channel (v1.4 CRDs, as @kubernetes-models/gateway-api 2.0.0
 * models them): HTTPRoute `rules[].retry` (GEP-1731), `rules[].timeouts`
 * (GEP-1742) and the XBackendTrafficPolicy `retryConstraint` of GEP-3388:
 *
 *  - `retry.attempts` counts retries ("the maximum number of times an
 *    individual request ... should be retried"): rein's attempts are
 *    attempts + 1. Left out, the count is implementation-specific: a
 *    warning, imported as 1 retry. A rule without `retry` is imported with
 *    no retries (a note says an implementation may have its own default).
 *  - `retry.codes` (HTTP statuses 400..599) are rein's retryable statuses;
 *    "implementations SHOULD retry on connection errors (disconnect, reset,
 *    timeout, TCP failure) if a retry stanza is configured": a retry stanza
 *    also retries connect-failure and reset (not rein's `timeout`, which
 *    would add HTTP 408 and 504: a note says so).
 *  - `retry.backoff` is the *minimum* wait between attempts; an
 *    implementation MAY grow it, cap it or jitter it. rein imports the
 *    one thing the API promises, a constant wait of that minimum without
 *    jitter (a note says so); an export writes rein's base and names
 *    every other backoff field in a warning.
 *  - `timeouts.request` bounds the whole call with its retries: rein's
 *    `deadline`; `timeouts.backendRequest` bounds one attempt: rein's
 *    `timeout`. "0s" disables either. Durations are the Gateway API form
 *    (GEP-2257: ^([0-9]{1,5}(h|m|s|ms)){1,4}$).
 *  - `backendRefs` are the callees: the call is `<name>.<operation>`, the
 *    operation from the rule's path match (Exact "/v1/charge" is
 *    `v1-charge`, PathPrefix "/api" `api*`, none or "/" `*`,
 *    RegularExpression `*`), one call per backendRef and match.
 *  - An XBackendTrafficPolicy (gateway.networking.x-k8s.io/v1alpha1) in the
 *    same file gives the calls to its target Services a ratio budget:
 *    percent/100 is rein's ratio, `budget.interval` its ttl,
 *    minRetryRate.count / minRetryRate.interval its min_per_sec (the
 *    defaults of the API's types: 20%, 10s, 10 per 1s; the interval is 1s
 *    to 1h by the CRD's rule). GEP-3388 counts every
 *    retry against the requests of the interval, as rein's ratio budget
 *    does; it is shared by every client of the backend, rein's by the
 *    callers of one instance unless its scope is fleet: a note says so.
 *  - GRPCRoute has no retry or timeouts fields in Gateway API (v1.4): a
 *    GRPCRoute is a warning and left out.
 *
 * A file is one object, several YAML documents ("---", other kinds left out
 * with a warning) or a kubectl `kind: List`, YAML or JSON. `rein export
 * gateway` writes a List: one HTTPRoute per callee Service and an
 * XBackendTrafficPolicy per callee with a ratio budget.
 */
#include "interop_internal.h"

#include "rein/input.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXM 64
#define NS_MS INT64_C(1000000)
#define NS_S INT64_C(1000000000)
#define GW_API "gateway.networking.k8s.io/"
#define GWX_API "gateway.networking.x-k8s.io/v1alpha1"

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

/* ------------------------------------------------------------- import */

typedef struct gimp {
  ix_doc *d;
  rein_interop *ix;
  bool backoff_noted, noretry_noted, budget_noted, timeout_noted;
  const char *route; /* metadata.name of the HTTPRoute being read */
  /* rein__ix_gateway_rules (Linkerd's annotations): the policy every rule
   * starts from, and whether the rules are a GRPCRoute's */
  const rein_policy_spec *base;
  bool grpc;
} gimp;

/* One XBackendTrafficPolicy's budget and its target Services. */
typedef struct gbudget {
  bool ok;
  rein_budget_config b;
  const char *targets[16];
  size_t ntargets;
} gbudget;

static bool is_type(gimp *I, yaml_node_t *n, ix_jtype t, const char *path,
                    const char *want) {
  if (rein__ix_type(I->d, n) == t) return true;
  rein__ix_type_error(I->d, n, path, want);
  return false;
}

static bool get_string(gimp *I, yaml_node_t *n, const char *path,
                       const char **out) {
  if (!is_type(I, n, IX_J_STRING, path, "a string")) return false;
  *out = rein__ix_text(n);
  return true;
}

/* Does `t` have GEP-2257's form: 1..4 groups of 1..5 digits and a unit
 * h, m, s or ms? */
static bool gw_duration_form(const char *t) {
  unsigned groups = 0;
  while (*t) {
    size_t digits = strspn(t, "0123456789");
    if (digits < 1 || digits > 5) return false;
    t += digits;
    if (t[0] == 'm' && t[1] == 's')
      t += 2;
    else if (*t == 'h' || *t == 'm' || *t == 's')
      t++;
    else
      return false;
    groups++;
  }
  return groups >= 1 && groups <= 4;
}

static bool get_duration(gimp *I, yaml_node_t *n, const char *path,
                         int64_t *ns) {
  if (!is_type(I, n, IX_J_STRING, path, "a duration string such as \"2s\""))
    return false;
  const char *t = rein__ix_text(n);
  if (!gw_duration_form(t) || rein_parse_duration(t, ns) != REIN_OK) {
    rein__ix_error(I->d, n, path,
                   "'%.40s' is not a Gateway API duration (GEP-2257: up to "
                   "four groups of 1-5 digits and h, m, s or ms, as in "
                   "\"2s\" or \"1m30s\")",
                   t);
    return false;
  }
  return true;
}

static bool get_int(gimp *I, yaml_node_t *n, const char *path, double lo,
                    double hi, double *out) {
  return rein__ix_get_int(I->d, n, path, lo, hi, out);
}

static void sanitize(const char *in, char *out, size_t cap) {
  rein__ix_sanitize(in, (size_t)-1, out, cap);
}

/* The operation a path match names (kind Exact, PathPrefix or
 * RegularExpression; "" = none). */
static void op_of(const char *kind, const char *value, char *out, size_t cap) {
  bool prefix = strcmp(kind, "PathPrefix") == 0,
       exact = strcmp(kind, "Exact") == 0 || strcmp(kind, "GRPC") == 0;
  const char *v = value[0] == '/' ? value + 1 : value;
  if ((!prefix && !exact) || (prefix && !*v) || !*value) {
    snprintf(out, cap, "*");
    return;
  }
  char s[200];
  sanitize(v, s, sizeof s);
  size_t l = strlen(s);
  if (prefix && l && s[l - 1] == '-') s[l - 1] = 0; /* "/api/" as "/api" */
  if (exact && !*s) snprintf(s, sizeof s, "_");
  snprintf(out, cap, "%s%s", s, prefix ? "*" : "");
}

static void base_spec(rein_policy_spec *sp) {
  rein_policy_spec_default(sp);
  sp->policy.backoff.kind = REIN_BACKOFF_NONE;
  sp->policy.backoff.jitter = REIN_JITTER_NONE;
  sp->policy.backoff.base_ns = 0;
  sp->policy.backoff.cap_ns = 0;
  sp->signals = 0;
  rein_model_list_clear(sp, mf(REIN_MODEL_RETRY, "when"));
  sp->deadline_ns = 0;
  sp->policy.max_attempts = 1;
}

static const char *const retry_fields[] = {"codes", "attempts", "backoff",
                                           NULL};

static void retry(gimp *I, yaml_node_t *n, const char *path,
                  rein_policy_spec *sp) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRouteRetry object")) return;
  ix_member m[8];
  size_t k = rein__ix_members(I->d, n, path, retry_fields, m, 8);
  double attempts = 1;
  bool have_attempts = false;
  char fp[256];
  const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
  /* connection errors: SHOULD be retried under a retry stanza */
  rein_model_list_add(sp, when, "connect-failure", NULL);
  rein_model_list_add(sp, when, "reset", NULL);
  if (!I->timeout_noted) {
    I->timeout_noted = true;
    rein__ix_note(I->d, n, path,
                  "a retry stanza retries connection errors: imported as "
                  "connect-failure and reset; a timed-out attempt is retried "
                  "by rein only when `when` names timeout, which also "
                  "retries HTTP 408 and 504 (not in codes): not added "
                  "(noted once per file)");
  }
  for (size_t i = 0; i < k; i++) {
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "attempts") == 0) {
      if (get_int(I, v, fp, 0, 2147483646.0, &attempts)) have_attempts = true;
    } else if (strcmp(m[i].key, "codes") == 0) {
      if (!is_type(I, v, IX_J_ARRAY, fp, "an array of HTTP statuses")) continue;
      for (size_t j = 0; j < rein__ix_len(v); j++) {
        char ip[256], t[8];
        double c;
        yaml_node_t *cn = rein__ix_item(I->d, v, j);
        rein__ix_path_i(ip, sizeof ip, fp, j);
        if (!get_int(I, cn, ip, 400, 599, &c)) continue;
        snprintf(t, sizeof t, "%.0f", c);
        rein_model_list_add(sp, when, t, NULL);
      }
    } else { /* backoff */
      int64_t ns;
      if (!get_duration(I, v, fp, &ns)) continue;
      /* through the model, whose bounds the contract's are (a backoff
       * of at most 24h) */
      if (ns > 0 && (!rein__ix_set_model_duration(
                         I->d, v, fp, sp, REIN_MODEL_BACKOFF, "base", ns) ||
                     !rein__ix_set_model_duration(
                         I->d, v, fp, sp, REIN_MODEL_BACKOFF, "cap", ns) ||
                     !rein__ix_set_model(I->d, v, fp, sp, REIN_MODEL_BACKOFF,
                                         "kind", "constant")))
        continue;
      if (!I->backoff_noted) {
        I->backoff_noted = true;
        rein__ix_note(I->d, v, fp,
                      "backoff is the minimum wait between attempts; an "
                      "implementation may grow, cap or jitter it: imported "
                      "as a constant wait of that minimum (noted once per "
                      "file)");
      }
    }
  }
  if (!have_attempts)
    rein__ix_warn(I->d, n, rein__ix_path(fp, sizeof fp, path, "attempts"),
                  "not set: the number of retries is implementation-specific "
                  "(Gateway API leaves it open): imported as 1 retry");
  char t[24];
  snprintf(t, sizeof t, "%.0f", attempts + 1);
  rein__ix_set_model(I->d, n, path, sp, REIN_MODEL_RETRY, "attempts", t);
  rein__ix_when_fit(I->d, n, path, sp);
}

static const char *const timeouts_fields[] = {"request", "backendRequest",
                                              NULL};

static void timeouts(gimp *I, yaml_node_t *n, const char *path,
                     rein_policy_spec *sp) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRouteTimeouts object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(I->d, n, path, timeouts_fields, m, 4);
  int64_t req = 0, be = 0;
  yaml_node_t *ben = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    int64_t ns;
    if (!get_duration(I, m[i].v, fp, &ns)) continue;
    if (strcmp(m[i].key, "request") == 0) {
      req = ns;
      if (ns)
        rein__ix_set_model_duration(I->d, m[i].v, fp, sp, REIN_MODEL_CALL,
                                    "deadline", ns);
    } else {
      be = ns;
      ben = m[i].v;
      if (ns)
        rein__ix_set_model_duration(I->d, m[i].v, fp, sp, REIN_MODEL_CALL,
                                    "timeout", ns);
    }
  }
  if (req && be > req)
    rein__ix_error(I->d, ben,
                   rein__ix_path(fp, sizeof fp, path, "backendRequest"),
                   "longer than timeouts.request (Gateway API refuses it: "
                   "one attempt cannot outlast the call)");
}

static const char *const match_fields[] = {"path", "headers", "queryParams",
                                           "method", NULL};
static const char *const path_fields[] = {"type", "value", NULL};

static const char *const gmatch_fields[] = {"method", "headers", NULL};
static const char *const gmethod_fields[] = {"type", "service", "method", NULL};

/* A GRPCRouteMatch: kind "GRPC", value "service/method" ("" for all). */
static void grpc_match(gimp *I, yaml_node_t *n, const char *path,
                       const char **kind, const char **value) {
  if (!is_type(I, n, IX_J_OBJECT, path, "a GRPCRouteMatch object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(I->d, n, path, gmatch_fields, m, 4);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "headers") == 0) {
      rein__ix_note(I->d, m[i].k, fp,
                    "match conditions the call's name does not hold: "
                    "headers");
      continue;
    }
    if (!is_type(I, m[i].v, IX_J_OBJECT, fp, "a GRPCMethodMatch object"))
      continue;
    ix_member g[4];
    size_t gk = rein__ix_members(I->d, m[i].v, fp, gmethod_fields, g, 4);
    const char *svc = "", *meth = "", *type = "Exact";
    for (size_t j = 0; j < gk; j++) {
      char gp[256];
      rein__ix_path(gp, sizeof gp, fp, g[j].key);
      const char *t;
      if (!get_string(I, g[j].v, gp, &t)) continue;
      if (strcmp(g[j].key, "service") == 0) svc = t;
      if (strcmp(g[j].key, "method") == 0) meth = t;
      if (strcmp(g[j].key, "type") == 0) type = t;
    }
    *kind = "GRPC";
    *value = strcmp(type, "Exact") == 0 && *svc
                 ? rein__ix_printf(I->ix, "%s/%s", svc, meth)
                 : "";
    if (!*value)
      rein__ix_note(I->d, m[i].v, fp,
                    "a regular expression or no service names no "
                    "operation: the call is `*`");
  }
}

static void match(gimp *I, yaml_node_t *n, const char *path, const char **kind,
                  const char **value) {
  *kind = "";
  *value = "";
  if (I->grpc) {
    grpc_match(I, n, path, kind, value);
    return;
  }
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRouteMatch object")) return;
  ix_member m[8];
  size_t k = rein__ix_members(I->d, n, path, match_fields, m, 8);
  char fp[256], other[128] = "";
  size_t o = 0;
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "path") != 0) {
      if (o < sizeof other)
        o += (size_t)snprintf(other + o, sizeof other - o, "%s%s",
                              o ? ", " : "", m[i].key);
      continue;
    }
    if (!is_type(I, m[i].v, IX_J_OBJECT, fp, "an HTTPPathMatch object"))
      continue;
    ix_member p[4];
    size_t pk = rein__ix_members(I->d, m[i].v, fp, path_fields, p, 4);
    const char *type = "PathPrefix", *val = "/";
    for (size_t j = 0; j < pk; j++) {
      char pp[256];
      rein__ix_path(pp, sizeof pp, fp, p[j].key);
      if (strcmp(p[j].key, "type") == 0) {
        if (get_string(I, p[j].v, pp, &type) && strcmp(type, "Exact") != 0 &&
            strcmp(type, "PathPrefix") != 0 &&
            strcmp(type, "RegularExpression") != 0)
          rein__ix_error(I->d, p[j].v, pp,
                         "'%.40s': expected Exact, PathPrefix or "
                         "RegularExpression",
                         type);
      } else {
        get_string(I, p[j].v, pp, &val);
      }
    }
    *kind = type;
    *value = val;
    if (strcmp(type, "RegularExpression") == 0)
      rein__ix_note(I->d, m[i].v, fp,
                    "a regular expression names no operation: the call is "
                    "`*`");
  }
  if (o)
    rein__ix_note(I->d, n, path,
                  "match conditions the call's name does not hold: %s", other);
}

static void add_call(gimp *I, yaml_node_t *at, const char *rule,
                     const char *kind, const char *value, const char *svc_name,
                     const char *port, const rein_policy_spec *spec) {
  char svc[160], op[220], to[400];
  sanitize(svc_name, svc, sizeof svc);
  if (!*svc) snprintf(svc, sizeof svc, "_");
  op_of(kind, value, op, sizeof op);
  snprintf(to, sizeof to, "%s.%s", svc, op);
  for (unsigned dup = 2; dup < 10000; dup++) {
    bool seen = false;
    for (size_t i = I->d->first_call; i < I->ix->ncalls && !seen; i++)
      seen = strcmp(I->ix->calls[i].to, to) == 0;
    if (!seen) break;
    snprintf(to, sizeof to, "%s.%s-%u", svc, op, dup);
    if (dup == 2)
      rein__ix_note(I->d, at, "",
                    "a second rule to %s.%s (they differ by what the call's "
                    "name does not hold): named %s",
                    svc, op, to);
  }
  rein_interop_call c;
  c.spec = *spec;
  c.loc = rein__ix_loc(I->d, at);
  c.to = rein__ix_strdup(I->ix, to);
  c.origin = rein__ix_printf(
      I->ix, "%s:%u:%u %s/%s: %s %s -> %s:%s", I->d->file, c.loc.line,
      c.loc.col, I->route ? I->route : "", rule, *kind ? kind : "PathPrefix",
      *kind ? value : "/", svc_name, port);
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(I->ix, &c);
}

static const char *const backend_fields[] = {
    "group", "kind", "name", "namespace", "port", "weight", "filters", NULL};
static const char *const rule_fields[] = {"name",
                                          "matches",
                                          "filters",
                                          "backendRefs",
                                          "timeouts",
                                          "retry",
                                          "sessionPersistence",
                                          NULL};

static void rule(gimp *I, yaml_node_t *n, const char *path, size_t idx) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRouteRule object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(I->d, n, path, rule_fields, m, MAXM);
  rein_policy_spec sp;
  if (I->base)
    sp = *I->base;
  else
    base_spec(&sp);
  yaml_node_t *matches = NULL, *refs = NULL, *rt = NULL;
  const char *name = NULL;
  char fp[256], rname[160];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "name") == 0) {
      get_string(I, v, fp, &name);
    } else if (strcmp(key, "matches") == 0) {
      if (is_type(I, v, IX_J_ARRAY, fp, "an array of HTTPRouteMatch"))
        matches = v;
    } else if (strcmp(key, "backendRefs") == 0) {
      if (is_type(I, v, IX_J_ARRAY, fp, "an array of HTTPBackendRef")) refs = v;
    } else if (strcmp(key, "timeouts") == 0) {
      timeouts(I, v, fp, &sp);
    } else if (strcmp(key, "retry") == 0) {
      rt = v;
    } else if (strcmp(key, "filters") == 0) {
      rein__ix_note(I->d, m[i].k, fp,
                    "filters change the request, not its retries: left out "
                    "(a RequestMirror filter's extra call is not "
                    "represented)");
    } else {
      rein__ix_note(I->d, m[i].k, fp,
                    "session persistence chooses a backend, not retries: "
                    "left out");
    }
  }
  if (rt && I->base) {
    rein__ix_warn(I->d, rt, rein__ix_path(fp, sizeof fp, path, "retry"),
                  "Linkerd takes retries from the retry.linkerd.io "
                  "annotations, not from rules[].retry: left out");
  } else if (rt) {
    retry(I, rt, rein__ix_path(fp, sizeof fp, path, "retry"), &sp);
  } else if (!I->noretry_noted && !I->base) {
    I->noretry_noted = true;
    rein__ix_note(I->d, n, path,
                  "no retry: imported with no retries (an implementation may "
                  "retry by its own default) (noted once per file)");
  }
  if (!refs || !rein__ix_len(refs)) {
    for (size_t mi = 0; matches && mi < rein__ix_len(matches); mi++) {
      const char *kind, *value; /* checked all the same */
      char mp[256];
      rein__ix_path(fp, sizeof fp, path, "matches");
      match(I, rein__ix_item(I->d, matches, mi),
            rein__ix_path_i(mp, sizeof mp, fp, mi), &kind, &value);
    }
    rein__ix_note(I->d, n, rein__ix_path(fp, sizeof fp, path, "backendRefs"),
                  "no backendRefs: the gateway answers (404 or 500), no "
                  "upstream call: nothing to import");
    return;
  }
  snprintf(rname, sizeof rname, "%s", name ? name : "");
  if (!name) snprintf(rname, sizeof rname, "rules[%zu]", idx);
  size_t nm = matches ? rein__ix_len(matches) : 0;
  for (size_t mi = 0; mi < (nm ? nm : 1); mi++) {
    const char *kind = "", *value = "";
    yaml_node_t *mn = nm ? rein__ix_item(I->d, matches, mi) : n;
    if (nm) {
      char mp[256];
      rein__ix_path(fp, sizeof fp, path, "matches");
      match(I, mn, rein__ix_path_i(mp, sizeof mp, fp, mi), &kind, &value);
    }
    const char *names[64];
    size_t nn = 0;
    rein__ix_path(fp, sizeof fp, path, "backendRefs");
    for (size_t j = 0; j < rein__ix_len(refs); j++) {
      yaml_node_t *bn = rein__ix_item(I->d, refs, j);
      char bp[256];
      rein__ix_path_i(bp, sizeof bp, fp, j);
      if (!is_type(I, bn, IX_J_OBJECT, bp, "an HTTPBackendRef object"))
        continue;
      ix_member bm[8];
      size_t bk = rein__ix_members(I->d, bn, bp, backend_fields, bm, 8);
      const char *bname = NULL, *bkind = "Service";
      char port[16] = "";
      for (size_t i = 0; i < bk; i++) {
        char vp[256];
        rein__ix_path(vp, sizeof vp, bp, bm[i].key);
        if (strcmp(bm[i].key, "name") == 0) {
          get_string(I, bm[i].v, vp, &bname);
        } else if (strcmp(bm[i].key, "kind") == 0) {
          get_string(I, bm[i].v, vp, &bkind);
        } else if (strcmp(bm[i].key, "port") == 0) {
          double p;
          if (get_int(I, bm[i].v, vp, 1, 65535, &p))
            snprintf(port, sizeof port, "%.0f", p);
        } else if (strcmp(bm[i].key, "weight") == 0) {
          double w;
          get_int(I, bm[i].v, vp, 0, 1000000, &w);
        } else if (mi == 0 && strcmp(bm[i].key, "filters") == 0) {
          rein__ix_note(I->d, bm[i].k, vp,
                        "filters change the request, not its retries: left "
                        "out");
        }
      }
      if (!bname) {
        char np[256];
        if (mi == 0)
          rein__ix_error(I->d, bn, rein__ix_path(np, sizeof np, bp, "name"),
                         "missing (Gateway API requires it)");
        continue;
      }
      if (mi == 0 && strcmp(bkind, "Service") != 0)
        rein__ix_note(I->d, bn, bp,
                      "a %.40s backend: the call is named by its name", bkind);
      bool seen = false;
      for (size_t h = 0; h < nn && !seen; h++)
        seen = strcmp(names[h], bname) == 0;
      if (seen || nn == 64) continue;
      names[nn++] = bname;
      add_call(I, nm ? mn : bn, rname, kind, value, bname, port, &sp);
    }
  }
}

static const char *const spec_fields[] = {"parentRefs", "hostnames", "rules",
                                          "useDefaultGateways", NULL};
/* kind and apiVersion of an object (already known to be one), its
 * metadata.name and spec: the Kubernetes header reader of interop.c. */
static void header(gimp *I, yaml_node_t *n, const char *path, const char **api,
                   const char **kind, const char **name, yaml_node_t **spec) {
  ix_k8s_head h;
  rein__ix_k8s_head(I->d, n, path, "an object", &h);
  *api = h.api;
  *kind = h.kind;
  *name = h.name;
  *spec = h.spec;
}

static void http_route(gimp *I, yaml_node_t *spec, const char *fp) {
  if (!is_type(I, spec, IX_J_OBJECT, fp,
               I->grpc ? "a GRPCRoute spec" : "an HTTPRoute spec"))
    return;
  ix_member sm[8];
  size_t sk = rein__ix_members(I->d, spec, fp, spec_fields, sm, 8);
  for (size_t i = 0; i < sk; i++) {
    char sp[256];
    rein__ix_path(sp, sizeof sp, fp, sm[i].key);
    if (strcmp(sm[i].key, "rules") != 0) continue;
    if (!is_type(I, sm[i].v, IX_J_ARRAY, sp, "an array of HTTPRouteRule"))
      continue;
    for (size_t j = 0; j < rein__ix_len(sm[i].v); j++) {
      char ip[256];
      rule(I, rein__ix_item(I->d, sm[i].v, j),
           rein__ix_path_i(ip, sizeof ip, sp, j), j);
    }
  }
}

void rein__ix_gateway_rules(ix_doc *d, yaml_node_t *spec, const char *path,
                            const char *route, bool grpc,
                            const rein_policy_spec *base) {
  gimp I;
  memset(&I, 0, sizeof I);
  I.d = d;
  I.ix = d->ix;
  I.route = route;
  I.grpc = grpc;
  I.base = base;
  http_route(&I, spec, path);
}

static const char *const btp_fields[] = {"targetRefs", "retryConstraint",
                                         "sessionPersistence", NULL};
static const char *const tref_fields[] = {"group", "kind", "name", NULL};
static const char *const rc_fields[] = {"budget", "minRetryRate", NULL};
static const char *const bd_fields[] = {"percent", "interval", NULL};
static const char *const rr_fields[] = {"count", "interval", NULL};

/* An XBackendTrafficPolicy spec into *g. */
static void traffic_policy(gimp *I, yaml_node_t *spec, const char *fp,
                           gbudget *g) {
  memset(g, 0, sizeof *g);
  rein_budget_config_default(&g->b);
  g->b.kind = REIN_BUDGET_RATIO;
  g->b.ratio = 0.2;
  g->b.ttl_ns = 10 * NS_S;
  g->b.min_retries_per_sec = 10;
  if (!is_type(I, spec, IX_J_OBJECT, fp, "a BackendTrafficPolicy spec")) return;
  ix_member m[4];
  size_t k = rein__ix_members(I->d, spec, fp, btp_fields, m, 4);
  bool rc = false;
  size_t before = I->ix->errors;
  for (size_t i = 0; i < k; i++) {
    char p[256];
    rein__ix_path(p, sizeof p, fp, m[i].key);
    if (strcmp(m[i].key, "sessionPersistence") == 0) {
      rein__ix_note(I->d, m[i].k, p,
                    "session persistence chooses a backend, not retries: "
                    "left out");
    } else if (strcmp(m[i].key, "targetRefs") == 0) {
      if (!is_type(I, m[i].v, IX_J_ARRAY, p, "an array of target references"))
        continue;
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char tp[256];
        yaml_node_t *t = rein__ix_item(I->d, m[i].v, j);
        rein__ix_path_i(tp, sizeof tp, p, j);
        if (!is_type(I, t, IX_J_OBJECT, tp, "a target reference")) continue;
        ix_member tm[4];
        size_t tk = rein__ix_members(I->d, t, tp, tref_fields, tm, 4);
        const char *name = NULL, *kind = NULL, *s;
        for (size_t x = 0; x < tk; x++) {
          char vp[256];
          rein__ix_path(vp, sizeof vp, tp, tm[x].key);
          if (!get_string(I, tm[x].v, vp, &s)) continue;
          if (strcmp(tm[x].key, "name") == 0) name = s;
          if (strcmp(tm[x].key, "kind") == 0) kind = s;
        }
        if (!name || !kind) {
          rein__ix_error(I->d, t, tp, "needs group, kind and name");
          continue;
        }
        if (g->ntargets < 16) g->targets[g->ntargets++] = name;
      }
    } else {
      rc = true;
      if (!is_type(I, m[i].v, IX_J_OBJECT, p, "a RetryConstraint object"))
        continue;
      ix_member cm[4];
      size_t ck = rein__ix_members(I->d, m[i].v, p, rc_fields, cm, 4);
      for (size_t j = 0; j < ck; j++) {
        char cp[256];
        rein__ix_path(cp, sizeof cp, p, cm[j].key);
        bool budget = strcmp(cm[j].key, "budget") == 0;
        if (!is_type(I, cm[j].v, IX_J_OBJECT, cp, "an object")) continue;
        ix_member bm[4];
        size_t bk = rein__ix_members(I->d, cm[j].v, cp,
                                     budget ? bd_fields : rr_fields, bm, 4);
        double count = 10;
        int64_t interval = NS_S;
        for (size_t x = 0; x < bk; x++) {
          char vp[256];
          rein__ix_path(vp, sizeof vp, cp, bm[x].key);
          double v;
          int64_t ns;
          if (strcmp(bm[x].key, "interval") == 0) {
            if (!get_duration(I, bm[x].v, vp, &ns)) continue;
            if (budget && (ns < NS_S || ns > 3600 * NS_S)) {
              rein__ix_error(I->d, bm[x].v, vp,
                             "must be 1s to 1h (the CRD's rule)");
              continue;
            }
            if (!ns) {
              rein__ix_error(I->d, bm[x].v, vp, "must be more than 0s");
              continue;
            }
            if (budget)
              g->b.ttl_ns = ns;
            else
              interval = ns;
          } else if (budget) {
            if (get_int(I, bm[x].v, vp, 0, 100, &v)) g->b.ratio = v / 100;
          } else if (get_int(I, bm[x].v, vp, 1, 2147483647.0, &v)) {
            count = v;
          }
        }
        if (!budget)
          g->b.min_retries_per_sec = count / ((double)interval / NS_S);
      }
    }
  }
  if (!rc)
    rein__ix_note(I->d, spec, fp,
                  "no retryConstraint: GEP-3388's default budget (20%% over "
                  "10s, at least 10 retries per second)");
  g->ok = I->ix->errors == before;
}

/* Give the calls of this file to g's targets g's budget. */
static void apply_budget(gimp *I, const gbudget *g, size_t from, size_t to) {
  for (size_t i = from; i < to; i++) {
    rein_interop_call *c = &I->ix->calls[i];
    if (c->spec.policy.max_attempts <= 1) continue;
    for (size_t t = 0; t < g->ntargets; t++) {
      char svc[160];
      sanitize(g->targets[t], svc, sizeof svc);
      size_t l = strlen(svc);
      if (strncmp(c->to, svc, l) == 0 && c->to[l] == '.') {
        c->spec.has_budget = true;
        c->spec.budget = g->b;
        c->spec.budget_scope = REIN_SCOPE_INSTANCE;
      }
    }
  }
}

static bool is_btp(const char *api, const char *kind) {
  return api && kind && strcmp(api, GWX_API) == 0 &&
         (strcmp(kind, "XBackendTrafficPolicy") == 0 ||
          strcmp(kind, "BackendTrafficPolicy") == 0);
}

static void object(gimp *I, yaml_node_t *n, const char *path, bool in_list) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRoute object")) return;
  const char *api = NULL, *kind = NULL, *name = NULL;
  yaml_node_t *spec = NULL;
  char fp[256];
  header(I, n, path, &api, &kind, &name, &spec);
  rein__ix_path(fp, sizeof fp, path, "spec");
  if (is_btp(api, kind)) {
    if (!spec) {
      rein__ix_error(I->d, n, fp, "missing");
      return;
    }
    gbudget g;
    traffic_policy(I, spec, fp, &g);
    if (!g.ok) return; /* the routes of the file's other documents apply it */
    if (!I->budget_noted) {
      I->budget_noted = true;
      rein__ix_note(I->d, n, path,
                    "GEP-3388's budget is shared by every client of the "
                    "backend; rein's ratio budget (the same count of retries "
                    "against requests over the interval) is per caller "
                    "instance unless its scope is fleet: imported per "
                    "instance, for the calls of this file to its targets "
                    "that retry (noted once per file)");
    }
    return;
  }
  if (kind && strcmp(kind, "GRPCRoute") == 0) {
    rein__ix_warn(I->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                  "GRPCRoute has no retry or timeouts fields in Gateway API "
                  "(v1.4): nothing to import, left out");
    return;
  }
  if (kind && strcmp(kind, "HTTPRoute") != 0 && (in_list || I->d->nmore)) {
    rein__ix_warn(I->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                  "'%.40s': rein imports Gateway API HTTPRoutes and "
                  "XBackendTrafficPolicies only: left out",
                  kind);
    return;
  }
  if (!kind || strcmp(kind, "HTTPRoute") != 0) {
    rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                   "%s%.40s%s: rein imports Gateway API HTTPRoutes (their "
                   "rules' retry and timeouts) and XBackendTrafficPolicies",
                   kind ? "'" : "missing", kind ? kind : "", kind ? "'" : "");
    return;
  }
  if (!api ||
      (strcmp(api, GW_API "v1") != 0 && strcmp(api, GW_API "v1beta1") != 0)) {
    rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "apiVersion"),
                   "%s%.60s%s: expected gateway.networking.k8s.io/v1 or "
                   "v1beta1",
                   api ? "'" : "missing", api ? api : "", api ? "'" : "");
    return;
  }
  if (!spec) {
    rein__ix_error(I->d, n, fp, "missing");
    return;
  }
  I->route = name;
  size_t from = I->ix->ncalls;
  http_route(I, spec, fp);
  /* the budgets of the file's other documents (d->more holds every
   * document but this one; read again quietly, their diagnostics are given
   * when their own document is imported) */
  for (size_t i = 0; i < I->d->nmore; i++) {
    rein_interop *scratch;
    if (rein_interop_new(NULL, &scratch) != REIN_OK) {
      I->ix->oom = true;
      return;
    }
    ix_doc q = *I->d;
    q.ix = scratch;
    q.doc = I->d->more[i];
    gimp Q = {.d = &q, .ix = scratch};
    yaml_node_t *r = rein__ix_root(&q);
    if (r && rein__ix_type(&q, r) == IX_J_OBJECT) {
      const char *a = NULL, *kd = NULL, *nm = NULL;
      yaml_node_t *s = NULL;
      header(&Q, r, "", &a, &kd, &nm, &s);
      if (is_btp(a, kd) && s) {
        gbudget g;
        traffic_policy(&Q, s, "spec", &g);
        if (g.ok) apply_budget(I, &g, from, I->ix->ncalls);
      }
    }
    rein_interop_free(scratch);
  }
}

static void gateway_import(rein_interop *ix, ix_doc *d) {
  yaml_node_t *root = rein__ix_root(d);
  gimp I;
  memset(&I, 0, sizeof I);
  I.d = d;
  I.ix = ix;
  yaml_node_t *items;
  int shape =
      rein__ix_k8s_root(d, "an HTTPRoute object, or a List of them", &items);
  if (!shape || (shape == 2 && !items)) return;
  if (shape == 2) {
    /* a kubectl List: policies first, they apply to every route of it */
    gbudget g[32];
    size_t ng = 0;
    for (int pass = 0; pass < 2; pass++)
      for (size_t j = 0; j < rein__ix_len(items); j++) {
        char ip[64];
        yaml_node_t *it = rein__ix_item(d, items, j);
        rein__ix_path_i(ip, sizeof ip, "items", j);
        const char *a = NULL, *kd = NULL;
        if (rein__ix_type(d, it) == IX_J_OBJECT) {
          ix_member im[8];
          size_t ik = rein__ix_members(d, it, ip, NULL, im, 8);
          for (size_t x = 0; x < ik; x++) {
            if (rein__ix_type(d, im[x].v) != IX_J_STRING) continue;
            if (strcmp(im[x].key, "apiVersion") == 0)
              a = rein__ix_text(im[x].v);
            if (strcmp(im[x].key, "kind") == 0) kd = rein__ix_text(im[x].v);
          }
        }
        if (is_btp(a, kd) != (pass == 0)) continue;
        if (pass == 0) {
          const char *api = NULL, *kind2 = NULL, *nm = NULL;
          yaml_node_t *spec = NULL;
          header(&I, it, ip, &api, &kind2, &nm, &spec);
          char sp[96];
          rein__ix_path(sp, sizeof sp, ip, "spec");
          if (!spec) {
            rein__ix_error(d, it, sp, "missing");
          } else if (ng < 32) {
            traffic_policy(&I, spec, sp, &g[ng]);
            if (g[ng].ok) ng++;
          }
        } else {
          size_t from = ix->ncalls;
          object(&I, it, ip, true);
          for (size_t x = 0; x < ng; x++)
            apply_budget(&I, &g[x], from, ix->ncalls);
        }
      }
  } else {
    object(&I, root, "", false);
  }
  if (d->doc_index == d->nmore && ix->ncalls == d->first_call && !ix->errors)
    rein__ix_error(d, root, "", "no rule with a backendRef: nothing to import");
}

/* ------------------------------------------------------------- export */

typedef struct gcall {
  const char *to;
  rein_contract_loc loc;
  char path[32];
  rein_policy_spec sp;
  char svc[200];
  char port[16];
  char kind[24]; /* Exact, PathPrefix, RegularExpression, or "" (all) */
  char value[400];
} gcall;

static void ewarn(rein_interop *ix, const gcall *c, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ewarn(rein_interop *ix, const gcall *c, const char *field,
                  const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s%s%s", c->path, *field ? "." : "", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, REIN_INTEROP_WARNING, c->loc, fp, fmt, ap);
  va_end(ap);
}

/* The backend and match of a call: its origin's when that still names it
 * (an import from Gateway API), else its name's. */
static void call_route(gcall *c, const char *origin) {
  const char *dot = strchr(c->to, '.');
  size_t sl = dot ? (size_t)(dot - c->to) : strlen(c->to);
  const char *op = dot ? dot + 1 : "*";
  const char *arrow = NULL;
  for (const char *a = origin ? strstr(origin, " -> ") : NULL; a;
       a = strstr(a + 1, " -> "))
    arrow = a;
  const char *colon = NULL;
  for (const char *p = origin; arrow && p < arrow; p++)
    if (p[0] == ':' && p[1] == ' ') colon = p;
  if (arrow && colon) {
    const char *k = colon + 2, *sp = strchr(k, ' ');
    const char *pc = strrchr(arrow + 4, ':');
    if (sp && sp < arrow + 1 && pc) {
      char kind[24], value[400], svc[200], s[200], o[220];
      snprintf(kind, sizeof kind, "%.*s", (int)(sp - k), k);
      snprintf(value, sizeof value, "%.*s", (int)(arrow - sp - 1), sp + 1);
      snprintf(svc, sizeof svc, "%.*s", (int)(pc - arrow - 4), arrow + 4);
      sanitize(svc, s, sizeof s);
      op_of(kind, value, o, sizeof o);
      if (strlen(s) == sl && strncmp(s, c->to, sl) == 0 && strcmp(o, op) == 0) {
        snprintf(c->kind, sizeof c->kind, "%s", kind);
        snprintf(c->value, sizeof c->value, "%s", value);
        snprintf(c->svc, sizeof c->svc, "%s", svc);
        snprintf(c->port, sizeof c->port, "%s", pc + 1);
        if (strcmp(c->kind, "PathPrefix") == 0 && strcmp(c->value, "/") == 0)
          c->kind[0] = 0;
        return;
      }
    }
  }
  snprintf(c->svc, sizeof c->svc, "%.*s", (int)sl, c->to);
  size_t ol = strlen(op);
  if (strcmp(op, "*") == 0) {
    c->kind[0] = 0;
  } else if (op[ol - 1] == '*') {
    snprintf(c->kind, sizeof c->kind, "PathPrefix");
    snprintf(c->value, sizeof c->value, "/%.*s", (int)(ol - 1), op);
  } else {
    snprintf(c->kind, sizeof c->kind, "Exact");
    snprintf(c->value, sizeof c->value, "/%s", strcmp(op, "_") ? op : "");
  }
}

/* ns as a Gateway API duration ("1h30m", "250ms"), at most 4 groups of at
 * most 5 digits; sub-millisecond rounds up to the next ms. */
static void gdur(FILE *f, int64_t ns) {
  int64_t ms = (ns + NS_MS - 1) / NS_MS;
  int64_t h = ms / 3600000, mi = ms / 60000 % 60, s = ms / 1000 % 60,
          r = ms % 1000;
  if (h > 99999) h = 99999;
  fputc('"', f);
  if (h) fprintf(f, "%lldh", (long long)h);
  if (mi) fprintf(f, "%lldm", (long long)mi);
  if (s) fprintf(f, "%llds", (long long)s);
  if (r || !ms) fprintf(f, "%lldms", (long long)r);
  fputc('"', f);
}

static void lost(rein_interop *ix, const gcall *c) {
  const rein_policy_spec *sp = &c->sp;
  const rein_backoff_config *b = &sp->policy.backoff;
  if (b->kind == REIN_BACKOFF_EXPONENTIAL || b->kind == REIN_BACKOFF_LINEAR)
    ewarn(ix, c, "retry.backoff.kind",
          "Gateway API states only the minimum wait (backoff); how it grows "
          "is the implementation's: %s growth cannot be expressed, written "
          "as the base",
          b->kind == REIN_BACKOFF_LINEAR ? "linear" : "exponential");
  if (b->kind != REIN_BACKOFF_NONE && b->kind != REIN_BACKOFF_CONSTANT &&
      b->cap_ns != b->base_ns)
    ewarn(ix, c, "retry.backoff.cap",
          "no Gateway API form (an implementation MAY cap): left out");
  if (b->kind == REIN_BACKOFF_EXPONENTIAL && b->multiplier != 2)
    ewarn(ix, c, "retry.backoff.multiplier", "no Gateway API form: left out");
  if (b->kind != REIN_BACKOFF_NONE && b->jitter != REIN_JITTER_NONE)
    ewarn(ix, c, "retry.backoff.jitter",
          "Gateway API says no jitter kind (an implementation MAY jitter, "
          "never below backoff, which rein's %s jitter can): left out",
          rein_jitter_name(b->jitter));
  if (sp->signals)
    ewarn(ix, c, "retry.signals",
          "an HTTPRoute reads no server signal (Retry-After, ...): left out");
  if (sp->policy.window_ns > 0)
    ewarn(ix, c, "retry.window",
          "no retry window in Gateway API (timeouts.request bounds every "
          "retry): left out");
  if (sp->policy.expected_attempt_ns > 0)
    ewarn(ix, c, "retry.expected_attempt", "no Gateway API form: left out");
  if (!sp->policy.idempotent)
    ewarn(ix, c, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, a gateway retries it whatever (no such gate)");
  if (sp->policy.key_retention_ns > 0)
    ewarn(ix, c, "key_ttl",
          "the callee's idempotency-key TTL has no Gateway API form: left "
          "out");
  if (sp->has_breaker)
    ewarn(ix, c, "retry.breaker", "no Gateway API form: left out");
  if (sp->has_throttle)
    ewarn(ix, c, "retry.throttle",
          "no adaptive (client-side) throttle in Gateway API: left out");
}

/* The `when` of sp as codes (written into `codes`, count returned); what
 * it cannot say is warned. */
static size_t codes_of(rein_interop *ix, const gcall *c, unsigned *codes) {
  const rein_policy_spec *sp = &c->sp;
  size_t n = 0;
  bool empty = rein_retryable_set_is_empty(&sp->policy.retryable);
  for (unsigned s = 100; s < 600; s++) {
    rein_condition cd = REIN_COND_HTTP(s);
    rein_outcome_kind k = rein_condition_kind(cd);
    bool on = empty ? (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0
                    : rein_retryable_set_has(&sp->policy.retryable, cd, k);
    if (!on) continue;
    if (s >= 400)
      codes[n++] = s;
    else
      ewarn(ix, c, "retry.when",
            "HTTP %u: Gateway API's codes are 400..599: left out", s);
  }
  bool grpc = false, conn[REIN_TRANSPORT_COUNT_];
  for (uint32_t g = 1; g < REIN_GRPC_CODE_COUNT_; g++) {
    rein_condition cd = REIN_COND_GRPC(g);
    rein_outcome_kind k = rein_condition_kind(cd);
    grpc |= empty ? (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0
                  : rein_retryable_set_has(&sp->policy.retryable, cd, k);
  }
  if (grpc)
    ewarn(ix, c, "retry.when",
          "gRPC statuses: an HTTPRoute retries on HTTP statuses only (and "
          "GRPCRoute has no retry): left out");
  for (uint32_t t = 0; t < REIN_TRANSPORT_COUNT_; t++) {
    rein_condition cd = REIN_COND_TRANSPORT(t);
    rein_outcome_kind k = rein_condition_kind(cd);
    conn[t] = empty ? (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0
                    : rein_retryable_set_has(&sp->policy.retryable, cd, k);
  }
  if (!conn[REIN_TRANSPORT_CONNECT_FAILURE] || !conn[REIN_TRANSPORT_RESET])
    ewarn(ix, c, "retry.when",
          "a gateway SHOULD retry connection errors (disconnect, reset, "
          "timeout, TCP failure) whenever a retry is set: connect-failure "
          "and reset are retried after the export too");
  if (conn[REIN_TRANSPORT_TIMEOUT])
    ewarn(ix, c, "retry.when",
          "a timed-out attempt: a gateway SHOULD retry it, but it has no "
          "name in codes (rein reads a retry stanza back as connect-failure "
          "and reset): left out");
  if (conn[REIN_TRANSPORT_REFUSED_STREAM])
    ewarn(ix, c, "retry.when",
          "refused-stream has no Gateway API name: left out");
  return n;
}

static void write_rule(rein_interop *ix, FILE *f, const gcall *c) {
  const rein_policy_spec *sp = &c->sp;
  fputs("    - ", f);
  if (c->kind[0]) {
    fprintf(f, "matches:\n      - path:\n          type: %s\n          value: ",
            c->kind);
    rein__ix_yaml_quote(f, c->value);
    fputs("\n      ", f);
  }
  fputs("backendRefs:\n      - name: ", f);
  rein__ix_yaml_quote(f, c->svc);
  fprintf(f, "\n        port: %s\n", c->port[0] ? c->port : "80");
  unsigned retries = sp->policy.max_attempts - 1;
  int64_t tmo = retries ? sp->policy.attempt_timeout_ns : 0;
  int64_t dl = sp->deadline_ns;
  if (!retries && sp->policy.attempt_timeout_ns)
    tmo = sp->policy.attempt_timeout_ns; /* one attempt: still bounded */
  if (dl && tmo > dl) {
    ewarn(ix, c, "timeout",
          "longer than the deadline, which Gateway API refuses: written as "
          "the deadline");
    tmo = dl;
  }
  if (dl > 0 || tmo > 0) {
    fputs("      timeouts:\n", f);
    if (dl > 0) {
      fputs("        request: ", f);
      gdur(f, dl);
      fputc('\n', f);
    }
    if (tmo > 0) {
      fputs("        backendRequest: ", f);
      gdur(f, tmo);
      fputc('\n', f);
    }
    if ((dl > 0 && dl % NS_MS) || (tmo > 0 && tmo % NS_MS))
      ewarn(ix, c, dl % NS_MS ? "deadline" : "timeout",
            "Gateway API durations are whole milliseconds: rounded up");
  }
  fprintf(f, "      retry:\n        attempts: %u\n", retries);
  if (!retries) return;
  unsigned codes[600];
  size_t nc = codes_of(ix, c, codes);
  if (nc) {
    fputs("        codes: [", f);
    for (size_t i = 0; i < nc; i++)
      fprintf(f, "%s%u", i ? ", " : "", codes[i]);
    fputs("]\n", f);
  }
  const rein_backoff_config *b = &sp->policy.backoff;
  if (b->kind != REIN_BACKOFF_NONE && b->base_ns > 0) {
    fputs("        backoff: ", f);
    gdur(f, b->base_ns);
    fputc('\n', f);
    if (b->base_ns % NS_MS)
      ewarn(ix, c, "retry.backoff.base",
            "Gateway API durations are whole milliseconds: rounded up");
  }
  lost(ix, c);
}

/* The XBackendTrafficPolicy of a callee's budget. */
static void write_budget(rein_interop *ix, FILE *f, const gcall *c,
                         const char *name) {
  const rein_budget_config *b = &c->sp.budget;
  if (b->kind != REIN_BUDGET_RATIO) {
    ewarn(ix, c, "retry.budget.kind",
          "a %s budget has no Gateway API form (GEP-3388's budget is a "
          "ratio): left out",
          rein_budget_kind_name(b->kind));
    return;
  }
  double pct = b->ratio * 100;
  if (pct > 100) {
    ewarn(ix, c, "retry.budget.ratio",
          "%g: GEP-3388's percent is at most 100: written as 100", b->ratio);
    pct = 100;
  }
  if (pct != floor(pct))
    ewarn(ix, c, "retry.budget.ratio",
          "%g: GEP-3388's percent is a whole number: rounded to %.0f%%",
          b->ratio, floor(pct + 0.5));
  pct = floor(pct + 0.5);
  if (c->sp.budget_scope == REIN_SCOPE_FLEET)
    ewarn(ix, c, "retry.budget.scope",
          "a gateway keeps the budget itself; rein's fleet scope (shared "
          "through Redis by every caller) cannot be expressed");
  double mps = b->min_retries_per_sec;
  double count = mps;
  int64_t iv = NS_S;
  if (count < 1e-6) {
    /* minRetryRate.count is at least 1: the lowest rate it can say */
    ewarn(ix, c, "retry.budget.min_per_sec",
          "%g: minRetryRate.count is at least 1: written as 1 per 99999h", mps);
    count = 1;
    iv = 99999 * 3600 * NS_S;
  } else if (count != floor(count)) {
    count = mps * 1000; /* over 1000 s */
    iv = 1000 * NS_S;
    if (count != floor(count)) {
      ewarn(ix, c, "retry.budget.min_per_sec",
            "%g: minRetryRate is a whole count over an interval: rounded", mps);
      count = floor(count + 0.5);
      if (count < 1) count = 1;
    }
  }
  int64_t ttl = b->ttl_ns;
  if (ttl < NS_S) {
    ewarn(ix, c, "retry.budget.ttl",
          "GEP-3388's interval is 1s to 1h: written as 1s");
    ttl = NS_S;
  } else if (ttl % NS_MS) {
    ewarn(ix, c, "retry.budget.ttl",
          "Gateway API durations are whole milliseconds: rounded up");
  }
  fputs("- apiVersion: " GWX_API "\n  kind: XBackendTrafficPolicy\n"
        "  metadata:\n    name: ",
        f);
  rein__ix_yaml_quote(f, name);
  fputs("\n  spec:\n    targetRefs:\n    - group: \"\"\n      kind: Service\n"
        "      name: ",
        f);
  rein__ix_yaml_quote(f, c->svc);
  fprintf(f,
          "\n    retryConstraint:\n      budget:\n        percent: %.0f\n"
          "        interval: ",
          pct);
  gdur(f, ttl);
  fprintf(f, "\n      minRetryRate:\n        count: %.0f\n        interval: ",
          count);
  gdur(f, iv);
  fputc('\n', f);
}

static int rank(const gcall *c) {
  if (!c->kind[0]) return 3;
  if (strcmp(c->kind, "Exact") == 0) return 0;
  return strcmp(c->kind, "RegularExpression") == 0 ? 1 : 2;
}

static int rule_cmp(const void *a, const void *b) {
  const gcall *x = *(const gcall *const *)a, *y = *(const gcall *const *)b;
  int rx = rank(x), ry = rank(y);
  if (rx != ry) return rx - ry;
  size_t lx = strlen(x->value), ly = strlen(y->value);
  if (rx == 2 && lx != ly) return lx > ly ? -1 : 1;
  return strcmp(x->value, y->value);
}

static rein_status gateway_export(rein_interop *ix, const rein_contract_set *s,
                                  const char *caller, char **out, size_t *len) {
  size_t n = rein_contract_call_count(s), nc = 0, idx = 0;
  gcall *calls = rein_alloc(&ix->alloc, (n + 1) * sizeof *calls);
  gcall **order = rein_alloc(&ix->alloc, (n + 1) * sizeof *order);
  rein_status st = REIN_OK;
  if (!calls || !order) {
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *origin;
    gcall *e = &calls[nc];
    memset(e, 0, sizeof *e);
    if (rein__ix_export_call(ix, s, caller, i, &idx, e->path, sizeof e->path,
                             &e->to, &origin, &e->loc, &e->sp, &st) <= 0)
      continue;
    call_route(e, origin);
    order[nc++] = e;
  }
  char *text = NULL;
  size_t tn = 0;
  FILE *f = nc ? open_memstream(&text, &tn) : NULL;
  if (!f) {
    rein_contract_loc none = {"", 0, 0};
    if (!nc && st == REIN_OK)
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "%s has no calls in the contracts", caller);
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    return nc ? REIN_ENOMEM : st == REIN_OK ? REIN_ENOTFOUND : st;
  }
  fputs("# Written by `rein export gateway`: the retry settings of ", f);
  fputs(caller, f);
  fputs("'s calls as Gateway API\n# HTTPRoutes (experimental channel: "
        "rules[].retry, GEP-1731), one per callee\n# Service, and "
        "XBackendTrafficPolicies for retry budgets (GEP-3388).\n"
        "apiVersion: v1\nkind: List\nitems:\n",
        f);
  /* stable grouping by Service, in order of first appearance */
  for (size_t i = 0; i < nc;) {
    size_t k = 1;
    for (size_t j = i + 1; j < nc; j++)
      if (strcmp(order[j]->svc, order[i]->svc) == 0) {
        gcall *t = order[j];
        memmove(order + i + k + 1, order + i + k, (j - i - k) * sizeof *order);
        order[i + k++] = t;
      }
    gcall **g = order + i;
    qsort(g, k, sizeof *g, rule_cmp);
    char name[200];
    sanitize(g[0]->svc, name, sizeof name);
    for (char *p = name; *p; p++)
      *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    /* an HTTPRoute holds at most 16 rules (the CRD's maxItems) */
    for (size_t j = 0; j < k; j++) {
      if (j % 16 == 0) {
        fputs("- apiVersion: " GW_API "v1\n  kind: HTTPRoute\n  metadata:\n"
              "    name: ",
              f);
        char rn[220];
        snprintf(rn, sizeof rn, j ? "%s-%zu" : "%s", name, j / 16 + 1);
        rein__ix_yaml_quote(f, rn);
        fputs("\n  spec:\n    rules:\n", f);
      }
      write_rule(ix, f, g[j]);
    }
    /* one budget per Service: the first call's that has one */
    const gcall *bc = NULL;
    for (size_t j = 0; j < k; j++) {
      const gcall *c = g[j];
      if (!c->sp.has_budget || c->sp.policy.max_attempts <= 1) continue;
      if (!bc) {
        bc = c;
      } else if (memcmp(&c->sp.budget, &bc->sp.budget,
                        offsetof(rein_budget_config, alloc)) != 0) {
        ewarn(ix, c, "retry.budget",
              "GEP-3388 allows one budget per Service; %s's budget is "
              "written for %s (it differs from this one's): this call's "
              "budget cannot be expressed",
              bc->to, c->svc);
      }
    }
    if (bc) {
      write_budget(ix, f, bc, name);
      for (size_t j = 0; j < k; j++)
        if (!g[j]->sp.has_budget && g[j]->sp.policy.max_attempts > 1)
          ewarn(ix, g[j], "retry.budget",
                "no budget, but %s's budget for Service %s applies to every "
                "retry to it (one XBackendTrafficPolicy per Service)",
                bc->to, bc->svc);
    }
    i += k;
  }
  rein_contract_loc none = {"", 0, 0};
  rein__ix_diag(ix, REIN_INTEROP_NOTE, none, "",
                "rules[].retry is Gateway API's experimental channel "
                "(GEP-1731) and XBackendTrafficPolicy is "
                "gateway.networking.x-k8s.io (GEP-3388): install the "
                "experimental CRDs; backendRefs without a known port are "
                "written with port 80");
  rein_free(&ix->alloc, calls);
  rein_free(&ix->alloc, order);
  if (fclose(f) != 0) {
    free(text);
    return REIN_ENOMEM;
  }
  rein_status fin = rein__ix_finish_text(ix, text, tn, out, len);
  return fin != REIN_OK ? fin : st;
}

const ix_format rein__ix_gateway = {.name = "gateway",
                                    .yaml = true,
                                    .proto_names = false,
                                    .multi_doc = true,
                                    .import = gateway_import,
                                    .export_ = gateway_export};
