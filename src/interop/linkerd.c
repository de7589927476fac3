/* SPDX-License-Identifier: Apache-2.0 */
/*
 * linkerd.c: Linkerd ServiceProfile retry settings <-> rein's policy model
 * (format "linkerd").
 *
 * The semantics followed are those of Linkerd's service profile reference
 * (linkerd.io/v1alpha2 ServiceProfile, Linkerd 2.14-2.18 docs):
 *
 *  - `spec.retryBudget` (retryRatio, minRetriesPerSecond, ttl) is rein's
 *    ratio budget, the same idea (Linkerd's budget is the tower-style
 *    budget rein's ratio budget follows): ratio, min_per_sec, ttl. Without
 *    one Linkerd uses 20%, 10 per second over 10s.
 *  - A route is retried when `isRetryable` is true, on the responses its
 *    `responseClasses` say are failures (isFailure with a status range;
 *    none: any 5xx is a failure). Linkerd has no per-request retry limit:
 *    the budget alone bounds retries, so rein's attempts are its maximum,
 *    1000, with a warning; an export writes isRetryable for attempts > 1
 *    and names the lost count.
 *  - `timeout` bounds the whole request with its retries (default 10s):
 *    rein's `deadline`.
 *  - The callee is the profile's name (the Service FQDN, every character a
 *    contract name cannot hold as '-'); the operation is the route's
 *    condition, method and pathRegex ("GET /books/[^/]*" is
 *    `GET-books-----`, "/api/.*" without a method `api-*`, neither `*`),
 *    and an operation of a contract is written back the other way
 *    (`GET-x` is method GET and pathRegex "/x", `x*` pathRegex "/x.*").
 *  - The conditions rein cannot express (all/any/not combinations,
 *    dstOverrides, opaquePorts) are warnings.
 *
 * A file is one ServiceProfile, several YAML documents or a kubectl List,
 * YAML or JSON; export writes a List of ServiceProfiles, one per callee.
 * Durations are Go's (rein's grammar without d and w).
 */
#include "interop_internal.h"

#include "rein/input.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_MS INT64_C(1000000)
#define NS_S INT64_C(1000000000)
#define LINKERD_ATTEMPTS 1000 /* the model's maximum: no per-request cap */

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

/* ------------------------------------------------------------- import */

typedef struct limp {
  ix_doc *d;
  rein_interop *ix;
  bool attempts_noted, budget_noted;
} limp;

static bool is_type(limp *L, yaml_node_t *n, ix_jtype t, const char *path,
                    const char *want) {
  if (rein__ix_type(L->d, n) == t) return true;
  rein__ix_type_error(L->d, n, path, want);
  return false;
}

static bool get_string(limp *L, yaml_node_t *n, const char *path,
                       const char **out) {
  if (!is_type(L, n, IX_J_STRING, path, "a string")) return false;
  *out = rein__ix_text(n);
  return true;
}

static bool get_duration(limp *L, yaml_node_t *n, const char *path,
                         int64_t *ns) {
  if (!is_type(L, n, IX_J_STRING, path, "a duration string such as \"10s\""))
    return false;
  const char *t = rein__ix_text(n);
  bool go = *t && !strpbrk(t, "dw") && !strstr(t, "min");
  if (!go || rein_parse_duration(t, ns) != REIN_OK) {
    rein__ix_error(L->d, n, path,
                   "'%.40s' is not a duration (Linkerd: Go's form, a number "
                   "and a unit h, m, s, ms, us or ns, as in \"300ms\")",
                   t);
    return false;
  }
  return true;
}

static bool get_number(limp *L, yaml_node_t *n, const char *path, double lo,
                       double hi, bool whole, double *out) {
  double x;
  if (!is_type(L, n, IX_J_NUMBER, path,
               whole ? "a whole number" : "a number") ||
      !rein__ix_get_number(L->d, n, path, &x))
    return false;
  if ((whole && x != floor(x)) || x < lo || x > hi) {
    rein__ix_error(L->d, n, path, "expected a %s in [%g, %g], got %g",
                   whole ? "whole number" : "number", lo, hi, x);
    return false;
  }
  *out = x;
  return true;
}

static void sanitize(const char *in, char *out, size_t cap) {
  rein__ix_sanitize(in, (size_t)-1, out, cap);
}

/* The operation of a route condition: METHOD-path or path (the pathRegex
 * without its leading '/', a trailing ".*" as `*`, other characters a name
 * cannot hold as '-'), `*` for none. */
static void op_of(const char *method, const char *regex, char *out,
                  size_t cap) {
  char p[200] = "", m[32];
  const char *r = regex[0] == '/' ? regex + 1 : regex;
  size_t rl = strlen(r);
  bool any = rl >= 2 && strcmp(r + rl - 2, ".*") == 0;
  char body[200];
  snprintf(body, sizeof body, "%.*s", (int)(any ? rl - 2 : rl), r);
  sanitize(body, p, sizeof p);
  if (any)
    snprintf(p + strlen(p), sizeof p - strlen(p), "*");
  else if (!*p && *regex)
    snprintf(p, sizeof p, "_");
  else if (!*p)
    snprintf(p, sizeof p, "*");
  if (!*method) {
    snprintf(out, cap, "%s", p);
    return;
  }
  sanitize(method, m, sizeof m);
  snprintf(out, cap, "%s-%s", m, p);
}

static const char *const rm_fields[] = {"all",       "any",    "not",
                                        "pathRegex", "method", NULL};

/* A route's RequestMatch: its method and pathRegex (combinations warned). */
static void condition(limp *L, yaml_node_t *n, const char *path,
                      const char **method, const char **regex) {
  if (!is_type(L, n, IX_J_OBJECT, path, "a RequestMatch object")) return;
  ix_member m[8];
  size_t k = rein__ix_members(L->d, n, path, rm_fields, m, 8);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "method") == 0)
      get_string(L, m[i].v, fp, method);
    else if (strcmp(m[i].key, "pathRegex") == 0)
      get_string(L, m[i].v, fp, regex);
    else
      rein__ix_warn(L->d, m[i].k, fp,
                    "a %s combination of conditions: the call's name holds "
                    "one method and one pathRegex: left out of the name",
                    m[i].key);
  }
}

static const char *const rc_fields[] = {"condition", "isFailure", NULL};
static const char *const resp_fields[] = {"all", "any", "not", "status", NULL};
static const char *const status_fields[] = {"min", "max", NULL};

/* responseClasses into sp's `when`: every failure status range. Returns
 * whether any class was a failure class. */
static bool response_classes(limp *L, yaml_node_t *n, const char *path,
                             rein_policy_spec *sp) {
  if (!is_type(L, n, IX_J_ARRAY, path, "an array of ResponseClass"))
    return false;
  bool any = false;
  const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
  for (size_t i = 0; i < rein__ix_len(n); i++) {
    char ip[256], fp[256];
    yaml_node_t *c = rein__ix_item(L->d, n, i);
    rein__ix_path_i(ip, sizeof ip, path, i);
    if (!is_type(L, c, IX_J_OBJECT, ip, "a ResponseClass object")) continue;
    ix_member m[4];
    size_t k = rein__ix_members(L->d, c, ip, rc_fields, m, 4);
    bool failure = false;
    double lo = 100, hi = 599;
    bool have_status = false;
    for (size_t j = 0; j < k; j++) {
      rein__ix_path(fp, sizeof fp, ip, m[j].key);
      if (strcmp(m[j].key, "isFailure") == 0) {
        if (is_type(L, m[j].v, IX_J_BOOL, fp, "true or false"))
          failure = strcmp(rein__ix_text(m[j].v), "true") == 0 ||
                    strcmp(rein__ix_text(m[j].v), "True") == 0 ||
                    strcmp(rein__ix_text(m[j].v), "TRUE") == 0;
        continue;
      }
      if (!is_type(L, m[j].v, IX_J_OBJECT, fp, "a ResponseMatch object"))
        continue;
      ix_member r[4];
      size_t rk = rein__ix_members(L->d, m[j].v, fp, resp_fields, r, 4);
      for (size_t x = 0; x < rk; x++) {
        char rp[256];
        rein__ix_path(rp, sizeof rp, fp, r[x].key);
        if (strcmp(r[x].key, "status") != 0) {
          rein__ix_warn(L->d, r[x].k, rp,
                        "a %s combination of response conditions: rein reads "
                        "a status range: left out",
                        r[x].key);
          continue;
        }
        if (!is_type(L, r[x].v, IX_J_OBJECT, rp, "a Range object")) continue;
        ix_member s[4];
        size_t sk = rein__ix_members(L->d, r[x].v, rp, status_fields, s, 4);
        for (size_t y = 0; y < sk; y++) {
          char sp2[256];
          double v;
          rein__ix_path(sp2, sizeof sp2, rp, s[y].key);
          if (!get_number(L, s[y].v, sp2, 100, 599, true, &v)) continue;
          if (strcmp(s[y].key, "min") == 0)
            lo = v;
          else
            hi = v;
        }
        have_status = true;
        if (lo > hi)
          rein__ix_error(L->d, r[x].v, rp, "min %g is above max %g", lo, hi);
      }
    }
    if (!failure) continue;
    if (!have_status) {
      rein__ix_warn(L->d, c, ip,
                    "a failure class without a status range: rein cannot "
                    "say which responses it holds: left out");
      continue;
    }
    any = true;
    char t[16];
    snprintf(t, sizeof t, lo == hi ? "%.0f" : "%.0f-%.0f", lo, hi);
    rein_model_list_add(sp, when, t, NULL);
  }
  return any;
}

static const char *const route_fields[] = {
    "name", "condition", "responseClasses", "isRetryable", "timeout", NULL};

static void route(limp *L, yaml_node_t *n, const char *path, const char *svc,
                  const rein_budget_config *budget) {
  if (!is_type(L, n, IX_J_OBJECT, path, "a RouteSpec object")) return;
  ix_member m[8];
  size_t k = rein__ix_members(L->d, n, path, route_fields, m, 8);
  rein_policy_spec sp;
  rein_policy_spec_default(&sp);
  sp.signals = 0;
  sp.policy.backoff.kind = REIN_BACKOFF_NONE;
  sp.policy.backoff.jitter = REIN_JITTER_NONE;
  sp.policy.backoff.base_ns = 0;
  sp.policy.backoff.cap_ns = 0;
  sp.policy.max_attempts = 1;
  sp.deadline_ns = 10 * NS_S; /* Linkerd's default route timeout */
  const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
  rein_model_list_clear(&sp, when);
  const char *name = NULL, *method = "", *regex = "";
  bool retryable = false, classes = false, cond = false;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    yaml_node_t *v = m[i].v;
    if (strcmp(m[i].key, "name") == 0) {
      get_string(L, v, fp, &name);
    } else if (strcmp(m[i].key, "condition") == 0) {
      cond = true;
      condition(L, v, fp, &method, &regex);
    } else if (strcmp(m[i].key, "responseClasses") == 0) {
      classes = response_classes(L, v, fp, &sp);
    } else if (strcmp(m[i].key, "isRetryable") == 0) {
      if (is_type(L, v, IX_J_BOOL, fp, "true or false"))
        retryable = tolower((unsigned char)rein__ix_text(v)[0]) == 't';
    } else {
      int64_t ns;
      if (get_duration(L, v, fp, &ns)) sp.deadline_ns = ns;
    }
  }
  if (!name)
    rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "name"),
                   "missing (Linkerd requires it)");
  if (!cond)
    rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "condition"),
                   "missing (Linkerd requires it)");
  if (!name || !cond) return;
  if (!classes) rein_model_list_add(&sp, when, "500-599", NULL);
  if (!rein__ix_when_fit(L->d, n, path, &sp)) return;
  if (retryable) {
    sp.policy.max_attempts = LINKERD_ATTEMPTS;
    sp.has_budget = true;
    sp.budget = *budget;
    sp.budget_scope = REIN_SCOPE_INSTANCE;
    if (!L->attempts_noted) {
      L->attempts_noted = true;
      rein__ix_warn(L->d, n, rein__ix_path(fp, sizeof fp, path, "isRetryable"),
                    "Linkerd has no per-request retry limit (only the retry "
                    "budget bounds retries): imported as rein's maximum, %d "
                    "attempts, with the profile's budget (warned once per "
                    "file)",
                    LINKERD_ATTEMPTS);
    }
  }
  char s[160], op[220], to[400];
  sanitize(svc, s, sizeof s);
  if (!*s) snprintf(s, sizeof s, "_");
  op_of(method, regex, op, sizeof op);
  snprintf(to, sizeof to, "%s.%s", s, op);
  for (unsigned dup = 2; dup < 10000; dup++) {
    bool seen = false;
    for (size_t i = L->d->first_call; i < L->ix->ncalls && !seen; i++)
      seen = strcmp(L->ix->calls[i].to, to) == 0;
    if (!seen) break;
    snprintf(to, sizeof to, "%s.%s-%u", s, op, dup);
  }
  rein_interop_call c;
  c.spec = sp;
  c.loc = rein__ix_loc(L->d, n);
  c.to = rein__ix_strdup(L->ix, to);
  /* origin: where, the route name, then "METHOD\tREGEX -> svc" */
  c.origin = rein__ix_printf(L->ix, "%s:%u:%u %s: %s %s -> %s", L->d->file,
                             c.loc.line, c.loc.col, name,
                             *method ? method : "-", *regex ? regex : "-", svc);
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(L->ix, &c);
}

static const char *const budget_fields[] = {"retryRatio", "minRetriesPerSecond",
                                            "ttl", NULL};

static void retry_budget(limp *L, yaml_node_t *n, const char *path,
                         rein_budget_config *b) {
  if (!is_type(L, n, IX_J_OBJECT, path, "a RetryBudget object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(L->d, n, path, budget_fields, m, 4);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    double v;
    if (strcmp(m[i].key, "retryRatio") == 0) {
      if (get_number(L, m[i].v, fp, 0, 1000, false, &v)) b->ratio = v;
    } else if (strcmp(m[i].key, "minRetriesPerSecond") == 0) {
      if (get_number(L, m[i].v, fp, 0, 4294967295.0, true, &v))
        b->min_retries_per_sec = v;
    } else {
      int64_t ns;
      if (!get_duration(L, m[i].v, fp, &ns)) continue;
      if (ns < NS_MS || ns > 3600 * NS_S)
        rein__ix_error(L->d, m[i].v, fp, "rein's budget ttl is 1ms to 1h");
      else
        b->ttl_ns = ns;
    }
  }
  if (k < 3)
    rein__ix_error(L->d, n, path,
                   "retryRatio, minRetriesPerSecond and ttl are all required "
                   "(Linkerd's CRD)");
}

/* ------------------------------------ Linkerd 2.16+ route annotations */

static const char *const annotation_keys[] = {
    "retry.linkerd.io/http",      "retry.linkerd.io/grpc",
    "retry.linkerd.io/limit",     "retry.linkerd.io/timeout",
    "timeout.linkerd.io/request", "timeout.linkerd.io/response",
    "timeout.linkerd.io/idle",    NULL};

/* retry.linkerd.io/grpc's names and rein's */
static const char *const grpc_names[][2] = {
    {"cancelled", "CANCELLED"},
    {"deadline-exceeded", "DEADLINE_EXCEEDED"},
    {"internal", "INTERNAL"},
    {"resource-exhausted", "RESOURCE_EXHAUSTED"},
    {"unavailable", "UNAVAILABLE"}};

/* One element of retry.linkerd.io/http into `when`; false when it is not
 * one of xxx, xxx-yyy, gateway-error, 5xx. */
static bool http_element(const char *e, size_t n, rein_policy_spec *sp) {
  const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
  char t[32];
  if (n == 0 || n >= sizeof t) return false;
  memcpy(t, e, n);
  t[n] = 0;
  if (strcmp(t, "gateway-error") == 0)
    return rein_model_list_add(sp, when, "502-504", NULL) == REIN_OK;
  if (strcmp(t, "5xx") == 0)
    return rein_model_list_add(sp, when, "500-599", NULL) == REIN_OK;
  unsigned a, b;
  int used = 0;
  if (sscanf(t, "%3u-%3u%n", &a, &b, &used) == 2 && (size_t)used == n &&
      n == 7 && a >= 100 && a <= b && b <= 599)
    return rein_model_list_add(sp, when, t, NULL) == REIN_OK;
  used = 0;
  if (sscanf(t, "%3u%n", &a, &used) == 1 && (size_t)used == n && n == 3 &&
      a >= 100 && a <= 599)
    return rein_model_list_add(sp, when, t, NULL) == REIN_OK;
  return false;
}

/* The retry and timeout annotations of a route (`ann`, metadata.annotations)
 * into sp; other annotations are not retry settings and are not read. */
static void annotations(limp *L, yaml_node_t *ann, const char *path, bool grpc,
                        rein_policy_spec *sp) {
  rein_policy_spec_default(sp);
  sp->signals = 0;
  sp->policy.backoff.kind = REIN_BACKOFF_NONE;
  sp->policy.backoff.jitter = REIN_JITTER_NONE;
  sp->policy.backoff.base_ns = 0;
  sp->policy.backoff.cap_ns = 0;
  sp->policy.max_attempts = 1;
  sp->deadline_ns = 0;
  const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
  rein_model_list_clear(sp, when);
  if (!ann) return;
  if (!is_type(L, ann, IX_J_OBJECT, path, "an object of annotations")) return;
  ix_member m[64];
  size_t k = rein__ix_members(L->d, ann, path, NULL, m, 64);
  bool retry = false;
  double limit = 1;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    bool r = strncmp(key, "retry.linkerd.io/", 17) == 0,
         t = strncmp(key, "timeout.linkerd.io/", 19) == 0;
    if (!r && !t) continue; /* not a retry setting */
    snprintf(fp, sizeof fp, "%s[\"%s\"]", path, key);
    size_t j = 0;
    while (annotation_keys[j] && strcmp(annotation_keys[j], key) != 0)
      j++;
    if (!annotation_keys[j]) {
      const char *best = rein_suggest(key, annotation_keys, 7);
      rein__ix_error(L->d, m[i].k, fp,
                     "unknown Linkerd annotation%s%s%s (known: "
                     "retry.linkerd.io/http, grpc, limit, timeout; "
                     "timeout.linkerd.io/request, response, idle)",
                     best ? "; did you mean '" : "", best ? best : "",
                     best ? "'?" : "");
      continue;
    }
    const char *v;
    if (!is_type(L, m[i].v, IX_J_STRING, fp,
                 "a string (annotation values are strings: quote it)"))
      continue;
    v = rein__ix_text(m[i].v);
    if (r) retry = true;
    if (j == 0 || j == 1) { /* http, grpc */
      if ((j == 0) == grpc) {
        rein__ix_warn(L->d, m[i].k, fp,
                      "not valid on a%s (Linkerd ignores it): left out",
                      grpc ? " GRPCRoute" : "n HTTPRoute");
        continue;
      }
      for (const char *e = v; *e;) {
        size_t n = strcspn(e, ",");
        const char *x = e;
        while (n && *x == ' ')
          x++, n--;
        while (n && x[n - 1] == ' ')
          n--;
        bool ok = false;
        if (j == 0) {
          ok = http_element(x, n, sp);
        } else {
          for (size_t g = 0; g < 5 && !ok; g++)
            if (strlen(grpc_names[g][0]) == n &&
                strncmp(grpc_names[g][0], x, n) == 0)
              ok = rein_model_list_add(sp, when, grpc_names[g][1], NULL) ==
                   REIN_OK;
        }
        if (!ok)
          rein__ix_error(L->d, m[i].v, fp, "'%.*s': expected %s",
                         (int)(n > 40 ? 40 : n), x,
                         j == 0 ? "xxx, xxx-yyy, gateway-error or 5xx"
                                : "cancelled, deadline-exceeded, internal, "
                                  "resource-exhausted or unavailable");
        e += strcspn(e, ",");
        if (*e) e++;
      }
    } else if (j == 2) { /* limit */
      char *end;
      double x = strtod(v, &end);
      if (!*v || *end || x != floor(x) || x < 0 || x > 999)
        rein__ix_error(L->d, m[i].v, fp,
                       "'%.40s': expected a whole number of retries 0..999", v);
      else
        limit = x;
    } else {
      int64_t ns;
      if (!get_duration(L, m[i].v, fp, &ns)) continue;
      if (j == 3) {
        sp->policy.attempt_timeout_ns = ns;
        rein_model_list_add(sp, when, "timeout", NULL);
        rein__ix_note(L->d, m[i].v, fp,
                      "a timed-out attempt is retried: `when` holds timeout, "
                      "which in rein also retries HTTP 408 and 504");
      } else if (j == 4) {
        sp->deadline_ns = ns;
      } else {
        rein__ix_warn(L->d, m[i].k, fp,
                      "%s: rein bounds an attempt (retry.linkerd.io/timeout) "
                      "and the call (timeout.linkerd.io/request), not %s: "
                      "left out",
                      j == 5 ? "the time a backend response may be in flight"
                             : "the time a stream may be idle",
                      j == 5 ? "the response alone" : "idleness");
      }
    }
  }
  rein__ix_when_fit(L->d, ann, path, sp);
  if (retry) {
    char t[16];
    snprintf(t, sizeof t, "%.0f", limit + 1);
    rein__ix_set_model(L->d, ann, path, sp, REIN_MODEL_RETRY, "attempts", t);
    rein__ix_note(L->d, ann, path,
                  "Linkerd retries at once (no back-off) and only requests "
                  "with a body up to 64KiB");
  }
}

static void annotated_route(limp *L, yaml_node_t *n, const char *path,
                            const char *kind, const char *name,
                            yaml_node_t *ann, yaml_node_t *spec) {
  char fp[256];
  bool grpc = strcmp(kind, "GRPCRoute") == 0;
  rein_policy_spec base;
  annotations(L, ann,
              rein__ix_path(fp, sizeof fp, path, "metadata.annotations"), grpc,
              &base);
  rein__ix_path(fp, sizeof fp, path, "spec");
  if (!spec) {
    rein__ix_error(L->d, n, fp, "missing");
    return;
  }
  rein__ix_gateway_rules(L->d, spec, fp, name, grpc, &base);
}

static const char *const spec_fields[] = {"routes", "retryBudget",
                                          "dstOverrides", "opaquePorts", NULL};

static void profile(limp *L, yaml_node_t *n, const char *path, bool in_list) {
  ix_k8s_head h;
  if (!rein__ix_k8s_head(L->d, n, path, "a ServiceProfile object", &h)) return;
  const char *api = h.api, *kind = h.kind, *name = h.name;
  yaml_node_t *spec = h.spec, *ann = h.annotations;
  char fp[256];
  if (kind &&
      (strcmp(kind, "HTTPRoute") == 0 || strcmp(kind, "GRPCRoute") == 0)) {
    if (!api || (strcmp(api, "gateway.networking.k8s.io/v1") != 0 &&
                 strcmp(api, "gateway.networking.k8s.io/v1beta1") != 0 &&
                 strcmp(api, "gateway.networking.k8s.io/v1alpha2") != 0 &&
                 strcmp(api, "policy.linkerd.io/v1beta3") != 0 &&
                 strcmp(api, "policy.linkerd.io/v1beta2") != 0)) {
      rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "apiVersion"),
                     "%s%.60s%s: expected gateway.networking.k8s.io/v1 (or "
                     "v1beta1, v1alpha2) or policy.linkerd.io/v1beta3",
                     api ? "'" : "missing", api ? api : "", api ? "'" : "");
      return;
    }
    annotated_route(L, n, path, kind, name, ann, spec);
    return;
  }
  if ((in_list || L->d->nmore) && kind && strcmp(kind, "ServiceProfile") != 0) {
    rein__ix_warn(L->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                  "'%.40s': rein imports Linkerd ServiceProfiles and "
                  "annotated HTTPRoutes/GRPCRoutes only: left out",
                  kind);
    return;
  }
  if (!kind || strcmp(kind, "ServiceProfile") != 0) {
    rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                   "%s%.40s%s: rein imports Linkerd ServiceProfiles (routes' "
                   "isRetryable and timeout, the retry budget) and "
                   "HTTPRoutes/GRPCRoutes with retry.linkerd.io annotations",
                   kind ? "'" : "missing", kind ? kind : "", kind ? "'" : "");
    return;
  }
  if (!api || (strcmp(api, "linkerd.io/v1alpha2") != 0 &&
               strcmp(api, "linkerd.io/v1alpha1") != 0)) {
    rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "apiVersion"),
                   "%s%.60s%s: expected linkerd.io/v1alpha2 (or v1alpha1)",
                   api ? "'" : "missing", api ? api : "", api ? "'" : "");
    return;
  }
  if (!name) {
    rein__ix_error(L->d, n, rein__ix_path(fp, sizeof fp, path, "metadata.name"),
                   "missing: the profile's name is the Service's FQDN");
    return;
  }
  rein__ix_path(fp, sizeof fp, path, "spec");
  if (!spec) {
    rein__ix_error(L->d, n, fp, "missing");
    return;
  }
  if (!is_type(L, spec, IX_J_OBJECT, fp, "a ServiceProfile spec")) return;
  ix_member sm[8];
  size_t sk = rein__ix_members(L->d, spec, fp, spec_fields, sm, 8);
  rein_budget_config b;
  rein_budget_config_default(&b);
  b.kind = REIN_BUDGET_RATIO;
  b.ratio = 0.2;
  b.min_retries_per_sec = 10;
  b.ttl_ns = 10 * NS_S;
  yaml_node_t *routes = NULL;
  bool have_budget = false;
  for (size_t i = 0; i < sk; i++) {
    char sp[256];
    rein__ix_path(sp, sizeof sp, fp, sm[i].key);
    if (strcmp(sm[i].key, "routes") == 0) {
      if (is_type(L, sm[i].v, IX_J_ARRAY, sp, "an array of RouteSpec"))
        routes = sm[i].v;
    } else if (strcmp(sm[i].key, "retryBudget") == 0) {
      have_budget = true;
      retry_budget(L, sm[i].v, sp, &b);
    } else if (strcmp(sm[i].key, "dstOverrides") == 0) {
      rein__ix_warn(L->d, sm[i].k, sp,
                    "traffic split between authorities: rein decides whether "
                    "and when to retry, not where: left out");
    } else {
      rein__ix_note(L->d, sm[i].k, sp,
                    "opaque ports are not retried by Linkerd (no HTTP): left "
                    "out");
    }
  }
  if (!have_budget && !L->budget_noted) {
    L->budget_noted = true;
    rein__ix_note(L->d, spec, fp,
                  "no retryBudget: Linkerd's default, 20%% over 10s, at "
                  "least 10 retries per second (noted once per file)");
  }
  if (!routes) {
    char rp[256];
    rein__ix_note(L->d, spec, rein__ix_path(rp, sizeof rp, fp, "routes"),
                  "none: Linkerd retries nothing through this profile");
    return;
  }
  for (size_t j = 0; j < rein__ix_len(routes); j++) {
    char ip[256], rp[256];
    rein__ix_path(rp, sizeof rp, fp, "routes");
    route(L, rein__ix_item(L->d, routes, j),
          rein__ix_path_i(ip, sizeof ip, rp, j), name, &b);
  }
}

static void linkerd_import(rein_interop *ix, ix_doc *d) {
  yaml_node_t *root = rein__ix_root(d);
  limp L;
  memset(&L, 0, sizeof L);
  L.d = d;
  L.ix = ix;
  yaml_node_t *items;
  int shape = rein__ix_k8s_root(d, "a ServiceProfile object, or a List of them",
                                &items);
  if (!shape || (shape == 2 && !items)) return;
  if (shape == 2) { /* a kubectl List */
    for (size_t j = 0; j < rein__ix_len(items); j++) {
      char ip[64];
      profile(&L, rein__ix_item(d, items, j),
              rein__ix_path_i(ip, sizeof ip, "items", j), true);
    }
  } else {
    profile(&L, root, "", false);
  }
  if (d->doc_index == d->nmore && ix->ncalls == d->first_call && !ix->errors)
    rein__ix_error(d, root, "", "no route: nothing to import");
}

/* ------------------------------------------------------------- export */

typedef struct lcall {
  const char *to;
  rein_contract_loc loc;
  char path[32];
  rein_policy_spec sp;
  char svc[200];
  char name[300];
  char method[32];
  char regex[400];
} lcall;

static void ewarn(rein_interop *ix, const lcall *c, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ewarn(rein_interop *ix, const lcall *c, const char *field,
                  const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s%s%s", c->path, *field ? "." : "", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, REIN_INTEROP_WARNING, c->loc, fp, fmt, ap);
  va_end(ap);
}

/* The profile, route name and condition of a call: its origin's when that
 * still names it (an import from Linkerd), else its name's. */
static void call_route(lcall *c, const char *origin) {
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
  const char *nm = origin ? strchr(origin, ' ') : NULL;
  if (arrow && colon && nm && nm < colon) {
    const char *k = colon + 2, *sp = strchr(k, ' ');
    if (sp && sp < arrow) {
      char method[32], regex[400], svc[200], s[200], o[220];
      snprintf(method, sizeof method, "%.*s", (int)(sp - k), k);
      snprintf(regex, sizeof regex, "%.*s", (int)(arrow - sp - 1), sp + 1);
      snprintf(svc, sizeof svc, "%s", arrow + 4);
      if (strcmp(method, "-") == 0) method[0] = 0;
      if (strcmp(regex, "-") == 0) regex[0] = 0;
      sanitize(svc, s, sizeof s);
      op_of(method, regex, o, sizeof o);
      size_t ol = strlen(o);
      if (strlen(s) == sl && strncmp(s, c->to, sl) == 0 &&
          strncmp(o, op, ol) == 0 &&
          (!op[ol] || (op[ol] == '-' && isdigit((unsigned char)op[ol + 1])))) {
        snprintf(c->method, sizeof c->method, "%s", method);
        snprintf(c->regex, sizeof c->regex, "%s", regex);
        snprintf(c->svc, sizeof c->svc, "%s", svc);
        snprintf(c->name, sizeof c->name, "%.*s", (int)(colon - nm - 1),
                 nm + 1);
        return;
      }
    }
  }
  snprintf(c->svc, sizeof c->svc, "%.*s", (int)sl, c->to);
  snprintf(c->name, sizeof c->name, "%s", op);
  /* the name's operation as a condition: a method prefix it spells */
  static const char *const methods[] = {"GET",    "HEAD",  "POST",    "PUT",
                                        "DELETE", "PATCH", "OPTIONS", NULL};
  const char *rest = op;
  for (size_t i = 0; methods[i]; i++) {
    size_t ml = strlen(methods[i]);
    if (strncmp(op, methods[i], ml) == 0 && op[ml] == '-' && op[ml + 1]) {
      snprintf(c->method, sizeof c->method, "%s", methods[i]);
      rest = op + ml + 1;
      break;
    }
  }
  size_t rl = strlen(rest);
  if (strcmp(rest, "*") == 0)
    snprintf(c->regex, sizeof c->regex, "%s", c->method[0] ? "/.*" : "");
  else if (rl && rest[rl - 1] == '*')
    snprintf(c->regex, sizeof c->regex, "/%.*s.*", (int)(rl - 1), rest);
  else
    snprintf(c->regex, sizeof c->regex, "/%s", strcmp(rest, "_") ? rest : "");
}

/* ns as a Go duration ("10s", "1500ms"): the largest exact unit. */
static void qdur(FILE *f, int64_t ns) {
  static const struct {
    int64_t ns;
    const char *u;
  } units[] = {{INT64_C(3600000000000), "h"}, {INT64_C(60000000000), "m"},
               {INT64_C(1000000000), "s"},    {INT64_C(1000000), "ms"},
               {INT64_C(1000), "us"},         {1, "ns"}};
  size_t k = 0;
  while (ns && ns % units[k].ns)
    k++;
  fprintf(f, "\"%lld%s\"", (long long)(ns / units[k].ns), units[k].u);
}

static bool retries(const rein_policy_spec *sp, rein_condition cd) {
  rein_outcome_kind k = rein_condition_kind(cd);
  if (rein_retryable_set_is_empty(&sp->policy.retryable))
    return (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0;
  return rein_retryable_set_has(&sp->policy.retryable, cd, k);
}

static void lost(rein_interop *ix, const lcall *c) {
  const rein_policy_spec *sp = &c->sp;
  unsigned a = sp->policy.max_attempts;
  if (a > 1 && a != LINKERD_ATTEMPTS)
    ewarn(ix, c, "retry.attempts",
          "%u: Linkerd has no per-request retry limit (only the budget "
          "bounds retries; a ServiceProfile cannot say %u): written as "
          "isRetryable",
          a, a);
  if (a <= 1) return;
  if (sp->policy.backoff.kind != REIN_BACKOFF_NONE)
    ewarn(ix, c, "retry.backoff",
          "Linkerd retries at once (a ServiceProfile has no back-off): "
          "left out");
  if (sp->policy.attempt_timeout_ns)
    ewarn(ix, c, "timeout",
          "a ServiceProfile has no attempt timeout (its route timeout bounds "
          "the retries too): left out");
  if (sp->signals)
    ewarn(ix, c, "retry.signals", "Linkerd reads no server signal: left out");
  if (sp->policy.window_ns > 0)
    ewarn(ix, c, "retry.window", "no Linkerd form: left out");
  if (sp->policy.expected_attempt_ns > 0)
    ewarn(ix, c, "retry.expected_attempt", "no Linkerd form: left out");
  if (!sp->policy.idempotent)
    ewarn(ix, c, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, Linkerd whatever (no such gate)");
  if (sp->policy.key_retention_ns > 0)
    ewarn(ix, c, "key_ttl", "no Linkerd form: left out");
  if (sp->has_breaker)
    ewarn(ix, c, "retry.breaker",
          "Linkerd's failure accrual ejects endpoints; it is not rein's "
          "breaker: left out");
  if (sp->has_throttle)
    ewarn(ix, c, "retry.throttle", "no Linkerd form: left out");
  bool grpc = false, transport = false;
  for (uint32_t g = 1; g < REIN_GRPC_CODE_COUNT_; g++)
    grpc |= retries(sp, REIN_COND_GRPC(g));
  for (uint32_t t = 0; t < REIN_TRANSPORT_COUNT_; t++)
    transport |= retries(sp, REIN_COND_TRANSPORT(t));
  if (grpc)
    ewarn(ix, c, "retry.when",
          "gRPC statuses: a ServiceProfile classifies HTTP statuses only: "
          "left out");
  if (transport)
    ewarn(ix, c, "retry.when",
          "transport failures: a ServiceProfile's response classes are HTTP "
          "statuses: left out");
}

static void write_route(rein_interop *ix, FILE *f, const lcall *c) {
  const rein_policy_spec *sp = &c->sp;
  fputs("    - name: ", f);
  rein__ix_yaml_quote(f, c->name);
  fputs(c->method[0] || c->regex[0] ? "\n      condition:\n"
                                    : "\n      condition: {}\n",
        f);
  if (c->method[0]) {
    fputs("        method: ", f);
    rein__ix_yaml_quote(f, c->method);
    fputc('\n', f);
  }
  if (c->regex[0]) {
    fputs("        pathRegex: ", f);
    rein__ix_yaml_quote(f, c->regex);
    fputc('\n', f);
  }
  /* failure classes: the retried HTTP statuses, as ranges */
  bool first = true;
  for (unsigned s = 100; s < 600; s++) {
    if (!retries(sp, REIN_COND_HTTP(s))) continue;
    unsigned e = s;
    while (e + 1 < 600 && retries(sp, REIN_COND_HTTP(e + 1)))
      e++;
    if (first) fputs("      responseClasses:\n", f);
    first = false;
    fprintf(f,
            "      - condition:\n          status:\n            min: %u\n"
            "            max: %u\n        isFailure: true\n",
            s, e);
    s = e;
  }
  if (first && sp->policy.max_attempts > 1)
    ewarn(ix, c, "retry.when",
          "retries no HTTP status: a ServiceProfile without response "
          "classes treats every 5xx as a failure, so the route retries "
          "5xx");
  if (sp->deadline_ns > 0) {
    fputs("      timeout: ", f);
    qdur(f, sp->deadline_ns);
    fputc('\n', f);
  } else {
    ewarn(ix, c, "deadline",
          "none: a ServiceProfile route always has a timeout (default 10s, "
          "which applies)");
  }
  fprintf(f, "      isRetryable: %s\n",
          sp->policy.max_attempts > 1 ? "true" : "false");
  lost(ix, c);
}

static rein_status linkerd_export(rein_interop *ix, const rein_contract_set *s,
                                  const char *caller, char **out, size_t *len) {
  size_t n = rein_contract_call_count(s), nc = 0, idx = 0;
  lcall *calls = rein_alloc(&ix->alloc, (n + 1) * sizeof *calls);
  bool *done = rein_alloc(&ix->alloc, (n + 1) * sizeof *done);
  rein_status st = REIN_OK;
  if (!calls || !done) {
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, done);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *origin;
    lcall *e = &calls[nc];
    memset(e, 0, sizeof *e);
    if (rein__ix_export_call(ix, s, caller, i, &idx, e->path, sizeof e->path,
                             &e->to, &origin, &e->loc, &e->sp, &st) <= 0)
      continue;
    call_route(e, origin);
    done[nc++] = false;
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
    rein_free(&ix->alloc, done);
    return nc ? REIN_ENOMEM : st == REIN_OK ? REIN_ENOTFOUND : st;
  }
  fputs("# Written by `rein export linkerd`: the retry settings of ", f);
  fputs(caller, f);
  fputs("'s calls as\n# Linkerd ServiceProfiles, one per callee (name: the "
        "Service's FQDN).\napiVersion: v1\nkind: List\nitems:\n",
        f);
  for (size_t i = 0; i < nc; i++) {
    if (done[i]) continue;
    const lcall *bc = NULL;
    fputs("- apiVersion: linkerd.io/v1alpha2\n  kind: ServiceProfile\n"
          "  metadata:\n    name: ",
          f);
    rein__ix_yaml_quote(f, calls[i].svc);
    fputs("\n  spec:\n    routes:\n", f);
    for (size_t j = i; j < nc; j++) {
      if (done[j] || strcmp(calls[j].svc, calls[i].svc) != 0) continue;
      done[j] = true;
      write_route(ix, f, &calls[j]);
      const rein_policy_spec *sp = &calls[j].sp;
      if (sp->policy.max_attempts <= 1) continue;
      if (!sp->has_budget) {
        ewarn(ix, &calls[j], "retry.budget",
              "none: Linkerd always budgets retries (the profile's "
              "retryBudget, or 20%%, 10/s over 10s)");
      } else if (sp->budget.kind != REIN_BUDGET_RATIO) {
        ewarn(ix, &calls[j], "retry.budget.kind",
              "a %s budget has no Linkerd form (Linkerd's budget is a "
              "ratio): left out",
              rein_budget_kind_name(sp->budget.kind));
      } else if (!bc) {
        bc = &calls[j];
      } else if (memcmp(&sp->budget, &bc->sp.budget,
                        offsetof(rein_budget_config, alloc)) != 0) {
        ewarn(ix, &calls[j], "retry.budget",
              "a ServiceProfile has one retryBudget; %s's is written: this "
              "call's cannot be expressed",
              bc->to);
      }
      if (sp->has_budget && sp->budget_scope == REIN_SCOPE_FLEET)
        ewarn(ix, &calls[j], "retry.budget.scope",
              "Linkerd's budget is per proxy: rein's fleet scope cannot be "
              "expressed");
    }
    if (bc) {
      const rein_budget_config *b = &bc->sp.budget;
      double mps = b->min_retries_per_sec;
      if (mps != floor(mps))
        ewarn(ix, bc, "retry.budget.min_per_sec",
              "%g: minRetriesPerSecond is a whole number: rounded", mps);
      fprintf(f,
              "    retryBudget:\n      retryRatio: %.15g\n"
              "      minRetriesPerSecond: %.0f\n      ttl: ",
              b->ratio, floor(mps + 0.5));
      qdur(f, b->ttl_ns);
      fputc('\n', f);
    }
  }
  rein_free(&ix->alloc, calls);
  rein_free(&ix->alloc, done);
  if (fclose(f) != 0) {
    free(text);
    return REIN_ENOMEM;
  }
  rein_status fin = rein__ix_finish_text(ix, text, tn, out, len);
  return fin != REIN_OK ? fin : st;
}

const ix_format rein__ix_linkerd = {.name = "linkerd",
                                    .yaml = true,
                                    .proto_names = false,
                                    .multi_doc = true,
                                    .import = linkerd_import,
                                    .export_ = linkerd_export};
