/* SPDX-License-Identifier: Apache-2.0 */
/*
 * envoy.c: Envoy route and cluster configuration <-> rein's policy model.
 *
 * The semantics followed are those of Envoy's v3 API reference and router
 * filter documentation (Envoy v1.25.5 docs: config.route.v3.RetryPolicy,
 * VirtualHost, Route, RouteAction, HedgePolicy in route_components.proto;
 * config.cluster.v3.CircuitBreakers in circuit_breaker.proto; the router
 * filter's x-envoy-retry-on, x-envoy-retry-grpc-on and x-envoy-max-retries
 * sections, which define the retry_on tokens and the back-off):
 *
 *  - A route's retry_policy overrides its virtual host's (nothing is
 *    inherited); without either, Envoy does not retry. num_retries counts
 *    retries and defaults to 1 when a policy is present: rein's attempts
 *    are num_retries + 1.
 *  - Back-off: "fully jittered exponential": retry N waits
 *    random[0, (2^N - 1) x base_interval), capped at max_interval
 *    (default 10 x base); base_interval defaults to 25 ms and is rounded
 *    up to 1 ms. rein's exponential backoff with multiplier 2 and full
 *    jitter has the same base, cap and jitter, but its retry N ceiling is
 *    2^(N-1) x base (1, 2, 4, 8 x base where Envoy has 1, 3, 7, 15 x base):
 *    a note says so.
 *  - The route's `timeout` bounds the whole request, every retry
 *    included (default 15 s; 0 disables it): rein's `deadline`.
 *    per_try_timeout is rein's per-attempt `timeout`.
 *  - retry_on tokens become rein's classification names (the table
 *    `tokens` below; docs/interop.md prints it).
 *  - A cluster's circuit_breakers.thresholds[].retry_budget (default
 *    priority) is concurrency-based: the active retries to the cluster may
 *    be at most budget_percent (default 20%) of its active requests, and
 *    min_retry_concurrency (default 3) retries are always allowed. rein's
 *    ratio budget counts retries against requests over a window (ttl) with
 *    a floor of min_per_sec retries per second. They agree on the ratio
 *    when retries and first attempts take about as long (Little's law);
 *    the floor is imported as the same number per second (equal when a
 *    retry takes 1 s): a warning says so. Without a budget Envoy caps
 *    concurrent retries at max_retries (default 3), which rein cannot
 *    express.
 *
 * Reading: YAML or JSON (told apart by the first character), field names
 * in snake_case or protobuf's lowerCamelCase as Envoy accepts. The objects
 * on the way to a retry setting whose fields rein knows in full
 * (RouteConfiguration, VirtualHost, Route, RouteMatch, RouteAction,
 * RetryPolicy and its parts, HedgePolicy, CircuitBreakers, Thresholds,
 * RetryBudget, static_resources) refuse unknown fields with a did-you-mean;
 * the large containers (Bootstrap, Listener, HttpConnectionManager,
 * Cluster) list the fields they leave out in a note, and refuse only a
 * near miss of a field rein reads (circuit_breaker, route_configs).
 *
 * Names: the callee of a route is its cluster (every character a
 * contract name cannot hold as '-'), the operation its match: a path
 * "/v1/charge" is `v1-charge`, a prefix "/api/" `api-*`, the prefix "/"
 * (or "") `*`; a regex, CONNECT or path template match is `*` with a note.
 * The origin keeps the vhost, the match and the cluster as Envoy spells
 * them, and export writes those back when they still name the call.
 */
#include "interop_internal.h"

#include "rein/classify.h"
#include "rein/input.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAXM 64
#define MAX_CLUSTERS 4096
#define NS_MS INT64_C(1000000)
#define NS_S INT64_C(1000000000)
#define ENVOY_BASE_DEFAULT (25 * NS_MS)
#define ENVOY_ROUTE_TIMEOUT (15 * NS_S)

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

/* ------------------------------------------------------------ retry_on */

/* What each retry_on token retries, as rein's classification names
 * (rein/classify.h). NULL `when`: no rein form (warned), or the list of
 * retriable_status_codes (retriable-status-codes). */
typedef struct ro_token {
  const char *name;
  const char *when;
} ro_token;

static const ro_token tokens[] = {
    {"5xx", "5xx, reset, connect-failure, refused-stream, timeout"},
    {"gateway-error", "502, 503, 504, timeout"},
    {"reset", "reset, timeout"},
    {"reset-before-request", "connect-failure, refused-stream"},
    {"connect-failure", "connect-failure"},
    {"retriable-4xx", "409"},
    {"refused-stream", "refused-stream"},
    {"retriable-status-codes", NULL},
    {"retriable-headers", NULL},
    {"envoy-ratelimited", NULL},
    {"http3-post-connect-failure", NULL},
    /* x-envoy-retry-grpc-on */
    {"cancelled", "CANCELLED"},
    {"deadline-exceeded", "DEADLINE_EXCEEDED"},
    {"internal", "INTERNAL"},
    {"resource-exhausted", "RESOURCE_EXHAUSTED"},
    {"unavailable", "UNAVAILABLE"},
};
#define NTOKENS (sizeof tokens / sizeof tokens[0])

/* -------------------------------------------------------------- names */

/* A contract name from Envoy text: every character other than letters,
 * digits, '-' and '_' as '-'. */
static void sanitize(const char *in, size_t n, char *out, size_t cap) {
  rein__ix_sanitize(in, n, out, cap);
}

/* The operation a match names (see the top of the file). */
static void op_of(const char *kind, const char *value, char *out, size_t cap) {
  bool prefix =
      strcmp(kind, "prefix") == 0 || strcmp(kind, "path_separated_prefix") == 0;
  bool path = strcmp(kind, "path") == 0;
  if (!prefix && !path) {
    snprintf(out, cap, "*");
    return;
  }
  const char *v = value[0] == '/' ? value + 1 : value;
  if (prefix && !*v) {
    snprintf(out, cap, "*");
    return;
  }
  char s[200];
  sanitize(v, strlen(v), s, sizeof s);
  if (path && !*s) snprintf(s, sizeof s, "_");
  snprintf(out, cap, "%s%s", s, prefix ? "*" : "");
}

/* ------------------------------------------------------------- import */

typedef struct ecluster {
  const char *name;
  yaml_node_t *at;
  bool budget;
  double percent;
  double min_conc;
} ecluster;

typedef struct eimp {
  ix_doc *d;
  rein_interop *ix;
  ecluster *cl;
  size_t ncl;
  size_t first;       /* the first call of this import */
  bool backoff_noted; /* the (2^N - 1) note, once per file */
  bool cluster_noted; /* the shared-budget note, once per file */
  bool timeout_noted; /* the per-try timeout note, once per file */
  unsigned route_configs;
} eimp;

static void warn(eimp *E, yaml_node_t *n, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
static void warn(eimp *E, yaml_node_t *n, const char *path, const char *fmt,
                 ...) {
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(E->ix, REIN_INTEROP_WARNING, rein__ix_loc(E->d, n), path, fmt,
                 ap);
  va_end(ap);
}

static bool is_type(eimp *E, yaml_node_t *n, ix_jtype t, const char *path,
                    const char *want) {
  if (rein__ix_type(E->d, n) == t) return true;
  rein__ix_type_error(E->d, n, path, want);
  return false;
}

/* Members of a container whose fields rein does not know in full: every
 * key is accepted, but a near miss of one of `used` is an error. */
static size_t lenient_members(eimp *E, yaml_node_t *n, const char *path,
                              const char *const *used, ix_member *m,
                              size_t cap) {
  size_t k = rein__ix_members(E->d, n, path, NULL, m, cap);
  size_t nu = 0;
  while (used[nu])
    nu++;
  /* lowerCamelCase spellings of the used names */
  for (size_t i = 0; i < k; i++) {
    for (size_t u = 0; u < nu; u++) {
      char cam[96];
      size_t o = 0;
      bool up = false;
      for (const char *c = used[u]; *c && o + 1 < sizeof cam; c++) {
        if (*c == '_') {
          up = true;
          continue;
        }
        cam[o++] = up ? (char)toupper((unsigned char)*c) : *c;
        up = false;
      }
      cam[o] = 0;
      if (strcmp(m[i].key, cam) == 0) m[i].key = used[u];
    }
  }
  size_t out = 0;
  for (size_t i = 0; i < k; i++) {
    bool known = false;
    for (size_t u = 0; u < nu && !known; u++)
      known = strcmp(m[i].key, used[u]) == 0;
    const char *best = known ? NULL : rein_suggest(m[i].key, used, nu);
    if (best) {
      char fp[256];
      rein__ix_error(E->d, m[i].k, rein__ix_path(fp, sizeof fp, path, m[i].key),
                     "unknown field '%.60s'; did you mean '%s'?", m[i].key,
                     best);
      continue;
    }
    m[out++] = m[i];
  }
  return out;
}

static bool get_string(eimp *E, yaml_node_t *n, const char *path,
                       const char **out) {
  if (!is_type(E, n, IX_J_STRING, path, "a string")) return false;
  *out = rein__ix_text(n);
  return true;
}

/* A whole number in [lo, hi]: a JSON number, or a string holding one. */
static bool get_uint(eimp *E, yaml_node_t *n, const char *path, double lo,
                     double hi, double *out) {
  double x;
  if (!rein__ix_get_number(E->d, n, path, &x)) return false;
  if (x != floor(x) || x < lo || x > hi) {
    rein__ix_error(E->d, n, path, "expected a whole number in [%g, %g], got %g",
                   lo, hi, x);
    return false;
  }
  *out = x;
  return true;
}

/* A wrapper value: Envoy takes a bare number for UInt32Value, and
 * type.v3.Percent as {value: N}. */
static yaml_node_t *percent_value(eimp *E, yaml_node_t *n, const char *path,
                                  char *vp, size_t cap) {
  static const char *const f[] = {"value", NULL};
  if (!is_type(E, n, IX_J_OBJECT, path, "an object {value: N}")) return NULL;
  ix_member m[2];
  size_t k = rein__ix_members(E->d, n, path, f, m, 2);
  rein__ix_path(vp, cap, path, "value");
  return k ? m[0].v : NULL;
}

/* ---- clusters ---- */

static const char *const cb_fields[] = {"thresholds", "per_host_thresholds",
                                        NULL};
static const char *const th_fields[] = {
    "priority",        "max_connections",      "max_pending_requests",
    "max_requests",    "max_retries",          "retry_budget",
    "track_remaining", "max_connection_pools", NULL};
static const char *const rb_fields[] = {"budget_percent",
                                        "min_retry_concurrency", NULL};

static void retry_budget(eimp *E, ecluster *c, yaml_node_t *n,
                         const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, rb_fields, m, 4);
  c->budget = true;
  c->percent = 20;
  c->min_conc = 3;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "budget_percent") == 0) {
      char vp[256];
      yaml_node_t *v = percent_value(E, m[i].v, fp, vp, sizeof vp);
      double x;
      if (v && rein__ix_get_number(E->d, v, vp, &x)) {
        if (x < 0 || x > 100)
          rein__ix_error(E->d, v, vp,
                         "must be in [0, 100] (a percentage), "
                         "got %g",
                         x);
        else
          c->percent = x;
      }
    } else {
      double x;
      if (get_uint(E, m[i].v, fp, 0, 1e6, &x)) c->min_conc = x;
    }
  }
  warn(E, n, path,
       "Envoy's retry budget is concurrency-based (active retries to the "
       "cluster at most budget_percent of its active requests, at least "
       "min_retry_concurrency at any time); rein's ratio budget counts "
       "retries against requests over a window (ttl 10s) with a floor of "
       "min_per_sec retries per second: imported as ratio = %g and "
       "min_per_sec = %g, which agree when a retry takes about as long as a "
       "first attempt, and about 1 s for the floor",
       c->percent / 100, c->min_conc);
}

static void thresholds(eimp *E, ecluster *c, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_ARRAY, path, "an array of thresholds")) return;
  for (size_t j = 0; j < rein__ix_len(n); j++) {
    yaml_node_t *t = rein__ix_item(E->d, n, j);
    char ip[256];
    rein__ix_path_i(ip, sizeof ip, path, j);
    if (!is_type(E, t, IX_J_OBJECT, ip, "an object")) continue;
    ix_member m[MAXM];
    size_t k = rein__ix_members(E->d, t, ip, th_fields, m, MAXM);
    bool high = false;
    yaml_node_t *budget = NULL, *maxr = NULL;
    char fp[256];
    for (size_t i = 0; i < k; i++)
      if (strcmp(m[i].key, "priority") == 0) {
        const char *p;
        rein__ix_path(fp, sizeof fp, ip, "priority");
        if (get_string(E, m[i].v, fp, &p)) {
          if (strcmp(p, "HIGH") == 0)
            high = true;
          else if (strcmp(p, "DEFAULT") != 0)
            rein__ix_error(E->d, m[i].v, fp,
                           "expected DEFAULT or HIGH, got '%.40s'", p);
        }
      }
    for (size_t i = 0; i < k; i++) {
      rein__ix_path(fp, sizeof fp, ip, m[i].key);
      const char *key = m[i].key;
      if (strcmp(key, "priority") == 0) continue;
      if (high) {
        warn(E, m[i].k, fp,
             "a HIGH priority threshold applies to routes with priority "
             "HIGH, which rein does not represent: left out");
        continue;
      }
      if (strcmp(key, "retry_budget") == 0) {
        budget = m[i].v;
        retry_budget(E, c, m[i].v, fp);
      } else if (strcmp(key, "max_retries") == 0) {
        double x;
        if (get_uint(E, m[i].v, fp, 0, 4294967295.0, &x)) maxr = m[i].v;
      } else if (strcmp(key, "track_remaining") == 0) {
        is_type(E, m[i].v, IX_J_BOOL, fp, "true or false");
      } else {
        double x;
        if (get_uint(E, m[i].v, fp, 0, 4294967295.0, &x))
          warn(E, m[i].k, fp,
               "a circuit breaker of Envoy is a concurrency limit, not "
               "rein's failure-rate breaker: left out");
      }
    }
    if (maxr)
      rein__ix_envoy_max_retries(
          E->d, maxr, rein__ix_path(fp, sizeof fp, ip, "max_retries"),
          budget != NULL);
  }
}

void rein__ix_envoy_max_retries(ix_doc *d, yaml_node_t *n, const char *path,
                                bool budget) {
  if (budget)
    rein__ix_note(d, n, path,
                  "Envoy ignores max_retries when retry_budget is set");
  else
    rein__ix_warn(d, n, path,
                  "a cap on concurrent retries to the cluster: rein has no "
                  "such cap (its budgets ration retries by rate): left out");
}

void rein__ix_envoy_outlier(ix_doc *d, yaml_node_t *n, const char *path) {
  rein__ix_warn(d, n, path,
                "outlier detection ejects hosts; rein's breaker is per "
                "callee, not per host: left out");
}

static void circuit_breakers(eimp *E, ecluster *c, yaml_node_t *n,
                             const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, cb_fields, m, 4);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "thresholds") == 0)
      thresholds(E, c, m[i].v, fp);
    else
      warn(E, m[i].k, fp,
           "per-host limits: rein's budgets are per callee, not per host: "
           "left out");
  }
}

static const char *const cluster_used[] = {"name", "circuit_breakers",
                                           "outlier_detection", NULL};

static void cluster(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a Cluster object")) return;
  ix_member m[MAXM * 2];
  size_t k = lenient_members(E, n, path, cluster_used, m, MAXM * 2);
  if (E->ncl >= MAX_CLUSTERS) {
    rein__ix_error(E->d, n, path, "more than %d clusters", MAX_CLUSTERS);
    return;
  }
  ecluster c = {NULL, n, false, 20, 3};
  ix_leftout L = {{0}, 0};
  char fp[256];
  yaml_node_t *cb = NULL;
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "name") == 0) {
      get_string(E, m[i].v, fp, &c.name);
    } else if (strcmp(m[i].key, "circuit_breakers") == 0) {
      cb = m[i].v;
    } else if (strcmp(m[i].key, "outlier_detection") == 0) {
      rein__ix_envoy_outlier(E->d, m[i].k, fp);
    } else {
      rein__ix_leftout_add(&L, m[i].key);
    }
  }
  if (cb)
    circuit_breakers(E, &c, cb,
                     rein__ix_path(fp, sizeof fp, path, "circuit_breakers"));
  rein__ix_leftout_note(E->d, n, path, &L);
  if (!c.name) {
    rein__ix_error(E->d, n, rein__ix_path(fp, sizeof fp, path, "name"),
                   "missing (Envoy refuses a cluster without a name)");
    return;
  }
  for (size_t i = 0; i < E->ncl; i++)
    if (strcmp(E->cl[i].name, c.name) == 0) {
      rein__ix_error(E->d, n, path,
                     "a second cluster named '%.60s' (first at line %zu)",
                     c.name, (size_t)E->cl[i].at->start_mark.line + 1);
      return;
    }
  E->cl[E->ncl++] = c;
}

static const ecluster *find_cluster(const eimp *E, const char *name) {
  for (size_t i = 0; i < E->ncl; i++)
    if (strcmp(E->cl[i].name, name) == 0) return &E->cl[i];
  return NULL;
}

/* ---- retry policy ---- */

static const char *const rp_fields[] = {"retry_on",
                                        "num_retries",
                                        "per_try_timeout",
                                        "per_try_idle_timeout",
                                        "retry_priority",
                                        "retry_host_predicate",
                                        "retry_options_predicates",
                                        "host_selection_retry_max_attempts",
                                        "retriable_status_codes",
                                        "retry_back_off",
                                        "rate_limited_retry_back_off",
                                        "retriable_headers",
                                        "retriable_request_headers",
                                        NULL};
static const char *const bo_fields[] = {"base_interval", "max_interval", NULL};
static const char *const rl_fields[] = {"reset_headers", "max_interval", NULL};
static const char *const rh_fields[] = {"name", "format", NULL};
static const char *const hp_fields[] = {"initial_requests",
                                        "additional_request_chance",
                                        "hedge_on_per_try_timeout", NULL};

static void add_when_d(ix_doc *d, yaml_node_t *n, const char *path,
                       rein_policy_spec *sp, const char *names) {
  rein_errbuf eb = {{0}};
  char buf[128];
  snprintf(buf, sizeof buf, "%s", names);
  char *save = NULL;
  for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save))
    if (rein_model_list_add(sp, mf(REIN_MODEL_RETRY, "when"), p, &eb) !=
        REIN_OK)
      rein__ix_error(d, n, path, "%s", eb.msg);
}

static void add_when(eimp *E, yaml_node_t *n, const char *path,
                     rein_policy_spec *sp, const char *names) {
  add_when_d(E->d, n, path, sp, names);
}

static void back_off(eimp *E, yaml_node_t *n, const char *path,
                     rein_policy_spec *sp) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, bo_fields, m, 4);
  yaml_node_t *bn = NULL, *cn = NULL;
  for (size_t i = 0; i < k; i++)
    if (strcmp(m[i].key, "base_interval") == 0)
      bn = m[i].v;
    else
      cn = m[i].v;
  char fb[256], fc[256];
  rein__ix_path(fb, sizeof fb, path, "base_interval");
  rein__ix_path(fc, sizeof fc, path, "max_interval");
  int64_t base = -1, cap = -1;
  if (!bn)
    rein__ix_error(E->d, n, fb, "missing (Envoy requires it)");
  else if (rein__ix_get_duration(E->d, bn, fb, &base) && base == 0) {
    rein__ix_error(E->d, bn, fb, "must be greater than 0 (Envoy requires it)");
    base = -1;
  }
  if (cn && rein__ix_get_duration(E->d, cn, fc, &cap) && cap == 0) {
    rein__ix_error(E->d, cn, fc, "must be greater than 0 (Envoy requires it)");
    cap = -2;
  }
  if (base < 0 || cap == -2) return;
  if (base < NS_MS) {
    warn(E, bn, fb,
         "Envoy rounds a base interval below 1ms up to 1ms: "
         "imported as 1ms");
    base = NS_MS;
  }
  if (cap == -1) {
    cap = base > INT64_MAX / 10 ? INT64_MAX : base * 10;
  } else if (cap < base) {
    rein__ix_error(E->d, cn, fc,
                   "must be at least base_interval (Envoy requires it)");
    return;
  }
  /* through the model, whose bounds the contract's are */
  yaml_node_t *at = cn ? cn : bn;
  const char *fat = cn ? fc : fb;
  if (rein__ix_set_model_duration(E->d, bn, fb, sp, REIN_MODEL_BACKOFF, "base",
                                  base))
    rein__ix_set_model_duration(E->d, at, fat, sp, REIN_MODEL_BACKOFF, "cap",
                                rein__ix_backoff_cap(E->d, at, fat, cap));
}

static void rate_limited(eimp *E, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, rl_fields, m, 4);
  yaml_node_t *rh = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "reset_headers") == 0) {
      rh = m[i].v;
    } else {
      int64_t ns;
      if (rein__ix_get_duration(E->d, m[i].v, fp, &ns))
        warn(E, m[i].k, fp,
             "Envoy discards a reset header asking for longer than this and "
             "tries the next; rein honours any signalled delay its window "
             "and deadline allow: left out");
    }
  }
  rein__ix_path(fp, sizeof fp, path, "reset_headers");
  if (!rh) {
    rein__ix_error(E->d, n, fp, "missing (Envoy requires at least one)");
    return;
  }
  if (!is_type(E, rh, IX_J_ARRAY, fp, "an array of {name, format}")) return;
  if (!rein__ix_len(rh)) {
    rein__ix_error(E->d, rh, fp,
                   "must not be empty (Envoy requires at "
                   "least one reset header)");
    return;
  }
  for (size_t j = 0; j < rein__ix_len(rh); j++) {
    yaml_node_t *h = rein__ix_item(E->d, rh, j);
    char ip[256];
    rein__ix_path_i(ip, sizeof ip, fp, j);
    if (!is_type(E, h, IX_J_OBJECT, ip, "an object {name, format}")) continue;
    ix_member hm[3];
    size_t hk = rein__ix_members(E->d, h, ip, rh_fields, hm, 3);
    const char *name = NULL, *format = "SECONDS";
    char hp[256];
    for (size_t i = 0; i < hk; i++) {
      rein__ix_path(hp, sizeof hp, ip, hm[i].key);
      if (strcmp(hm[i].key, "name") == 0)
        get_string(E, hm[i].v, hp, &name);
      else if (get_string(E, hm[i].v, hp, &format) &&
               strcmp(format, "SECONDS") != 0 &&
               strcmp(format, "UNIX_TIMESTAMP") != 0)
        rein__ix_error(E->d, hm[i].v, hp,
                       "expected SECONDS or UNIX_TIMESTAMP, got '%.40s'",
                       format);
    }
    if (!name) {
      rein__ix_error(E->d, h, rein__ix_path(hp, sizeof hp, ip, "name"),
                     "missing (Envoy requires it)");
      continue;
    }
    bool secs = strcmp(format, "SECONDS") == 0;
    if (strcasecmp(name, "Retry-After") == 0) {
      sp->signals |= REIN_SIGNAL_RETRY_AFTER;
      if (!secs)
        warn(E, h, ip,
             "Retry-After as a Unix timestamp: rein reads Retry-After as "
             "seconds or an HTTP date; imported as honouring Retry-After");
    } else if (strcasecmp(name, "RateLimit-Reset") == 0 ||
               strcasecmp(name, "X-RateLimit-Reset") == 0) {
      sp->signals |= REIN_SIGNAL_RATELIMIT;
      if (name[0] == 'X' || name[0] == 'x' || !secs)
        warn(E, h, ip,
             "%s (%s): rein reads the RateLimit header fields (reset in "
             "seconds); imported as honouring ratelimit",
             name, format);
    } else {
      warn(E, h, ip,
           "reset header '%.60s': rein reads Retry-After and RateLimit "
           "only: left out",
           name);
    }
  }
  rein__ix_note(E->d, n, path,
                "Envoy waits random(interval, 1.5 x interval) after a reset "
                "header; rein waits the signalled interval");
}

static void hedge_policy(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, hp_fields, m, 4);
  /* rein's hedge block is gRFC A6's (a hedge after a delay, the next at
   * once after a non-fatal answer); Envoy hedges only when a per-try
   * timeout fires, waits its retry back-off after a failed attempt, and
   * does not implement initial_requests / additional_request_chance. */
  if (!k)
    warn(E, n, path,
         "Envoy's hedging (on per-try timeout) is not rein's hedge block "
         "(gRFC A6's): left out");
  for (size_t i = 0; i < k; i++) {
    char fp[256];
    warn(E, m[i].k, rein__ix_path(fp, sizeof fp, path, m[i].key),
         "Envoy's hedging (a retry on per-try timeout that keeps the first "
         "attempt, with its back-off after failures) is not rein's hedge "
         "block (gRFC A6's): left out, the contract's calls make no hedged "
         "attempts");
  }
}

/* The statuses of retriable_status_codes. */
static void status_codes(eimp *E, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp, bool used) {
  if (!is_type(E, n, IX_J_ARRAY, path, "an array of HTTP statuses")) return;
  for (size_t j = 0; j < rein__ix_len(n); j++) {
    yaml_node_t *e = rein__ix_item(E->d, n, j);
    char ip[256];
    double x;
    rein__ix_path_i(ip, sizeof ip, path, j);
    if (!get_uint(E, e, ip, 100, 599, &x)) continue;
    if (!used) continue;
    char t[8];
    snprintf(t, sizeof t, "%d", (int)x);
    add_when(E, e, ip, sp, t);
  }
  if (!used)
    warn(E, n, path,
         "Envoy ignores retriable_status_codes unless retry_on has "
         "retriable-status-codes: left out");
}

void rein__ix_envoy_retry_on(ix_doc *d, yaml_node_t *n, const char *path,
                             const char *v, rein_policy_spec *sp, bool statuses,
                             bool *rsc, bool *rhd, bool *noted) {
  const char *names[NTOKENS];
  for (size_t t = 0; t < NTOKENS; t++)
    names[t] = tokens[t].name;
  bool timeout = false;
  for (const char *p = v; *p;) {
    while (*p == ',' || *p == ' ')
      p++;
    size_t len = strcspn(p, ", ");
    if (!len) break;
    char tok[64];
    snprintf(tok, sizeof tok, "%.*s", (int)(len < 63 ? len : 63), p);
    p += len;
    if (statuses && strspn(tok, "0123456789") == strlen(tok)) {
      /* Istio: an HTTP status among the conditions */
      long st = strtol(tok, NULL, 10);
      if (st < 100 || st > 599)
        rein__ix_error(d, n, path,
                       "'%s' is not an HTTP status (100..599) nor a retry "
                       "condition",
                       tok);
      else
        add_when_d(d, n, path, sp, tok);
      continue;
    }
    size_t t = 0;
    while (t < NTOKENS && strcmp(tokens[t].name, tok) != 0)
      t++;
    if (t == NTOKENS) {
      const char *best = rein_suggest(tok, names, NTOKENS);
      if (best)
        rein__ix_error(d, n, path,
                       "unknown retry_on condition '%s'; did you mean '%s'?",
                       tok, best);
      else
        rein__ix_error(d, n, path,
                       "unknown retry_on condition '%s' (known: 5xx, "
                       "gateway-error, reset, reset-before-request, "
                       "connect-failure, retriable-4xx, refused-stream, "
                       "retriable-status-codes, retriable-headers, "
                       "envoy-ratelimited, http3-post-connect-failure, "
                       "cancelled, deadline-exceeded, internal, "
                       "resource-exhausted, unavailable)",
                       tok);
      continue;
    }
    if (strcmp(tok, "retriable-status-codes") == 0) {
      *rsc = true;
    } else if (strcmp(tok, "retriable-headers") == 0) {
      *rhd = true;
    } else if (!tokens[t].when) {
      rein__ix_warn(d, n, path, "%s: %s; rein cannot represent it: left out",
                    tok,
                    strcmp(tok, "envoy-ratelimited") == 0
                        ? "retries responses carrying x-envoy-ratelimited"
                        : "retries an HTTP/3 request over TCP after a failure "
                          "past connect");
    } else {
      add_when_d(d, n, path, sp, tokens[t].when);
      timeout |= strstr(tokens[t].when, "timeout") != NULL;
      if (strcmp(tok, "reset-before-request") == 0)
        rein__ix_note(d, n, path,
                      "reset-before-request: a reset before the request "
                      "was sent; imported as connect-failure and "
                      "refused-stream (rein's not-sent conditions)");
    }
  }
  if (timeout && !*noted) {
    *noted = true;
    rein__ix_note(d, n, path,
                  "Envoy retries an attempt that hit per_try_timeout under "
                  "5xx, gateway-error and reset: imported as `timeout`, "
                  "which in rein also retries HTTP 408 and 504 and gRPC "
                  "DEADLINE_EXCEEDED (noted once per file)");
  }
}

static void retry_on(eimp *E, yaml_node_t *n, const char *path,
                     rein_policy_spec *sp, bool *rsc, bool *rhd) {
  const char *v;
  if (get_string(E, n, path, &v))
    rein__ix_envoy_retry_on(E->d, n, path, v, sp, false, rsc, rhd,
                            &E->timeout_noted);
}

static void retry_policy(eimp *E, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a RetryPolicy object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(E->d, n, path, rp_fields, m, MAXM);
  sp->policy.max_attempts = 2; /* num_retries defaults to 1 */
  bool rsc = false, rhd = false;
  yaml_node_t *codes = NULL, *hdrs = NULL, *ro = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++)
    if (strcmp(m[i].key, "retry_on") == 0) {
      ro = m[i].v;
      retry_on(E, m[i].v, rein__ix_path(fp, sizeof fp, path, "retry_on"), sp,
               &rsc, &rhd);
    }
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "retry_on") == 0) {
      continue;
    } else if (strcmp(key, "num_retries") == 0) {
      double x;
      if (get_uint(E, v, fp, 0, 4294967295.0, &x)) {
        char t[24];
        snprintf(t, sizeof t, "%.0f", x + 1);
        rein__ix_set_model(E->d, v, fp, sp, REIN_MODEL_RETRY, "attempts", t);
      }
    } else if (strcmp(key, "per_try_timeout") == 0) {
      int64_t ns;
      if (rein__ix_get_duration(E->d, v, fp, &ns) && ns > 0)
        rein__ix_set_model_duration(E->d, v, fp, sp, REIN_MODEL_CALL, "timeout",
                                    ns);
    } else if (strcmp(key, "per_try_idle_timeout") == 0) {
      int64_t ns;
      if (rein__ix_get_duration(E->d, v, fp, &ns))
        warn(E, m[i].k, fp,
             "an idle timeout per attempt (no bytes for that long): rein "
             "has no idle timeout, only the attempt's timeout: left out");
    } else if (strcmp(key, "retry_priority") == 0 ||
               strcmp(key, "retry_host_predicate") == 0 ||
               strcmp(key, "retry_options_predicates") == 0) {
      warn(E, m[i].k, fp,
           "host selection for retries (Envoy's retry plugins): rein "
           "decides whether and when to retry, not which host: left out");
    } else if (strcmp(key, "host_selection_retry_max_attempts") == 0) {
      double x;
      if (get_uint(E, v, fp, 0, 9.2e18, &x))
        warn(E, m[i].k, fp,
             "how often Envoy re-selects a host for a retry: rein does not "
             "select hosts: left out");
    } else if (strcmp(key, "retriable_status_codes") == 0) {
      codes = v;
    } else if (strcmp(key, "retry_back_off") == 0) {
      back_off(E, v, fp, sp);
    } else if (strcmp(key, "rate_limited_retry_back_off") == 0) {
      rate_limited(E, v, fp, sp);
    } else if (strcmp(key, "retriable_headers") == 0) {
      hdrs = v;
    } else { /* retriable_request_headers */
      if (is_type(E, v, IX_J_ARRAY, fp, "an array of header matchers"))
        warn(E, m[i].k, fp,
             "Envoy retries only requests carrying these headers: rein "
             "cannot condition retries on request headers: left out");
    }
  }
  if (codes)
    status_codes(E, codes,
                 rein__ix_path(fp, sizeof fp, path, "retriable_status_codes"),
                 sp, rsc);
  else if (rsc)
    rein__ix_note(E->d, ro, rein__ix_path(fp, sizeof fp, path, "retry_on"),
                  "retriable-status-codes without retriable_status_codes "
                  "retries no status");
  /* a contract holds at most 32 outcomes: statuses that fill an outcome
   * kind become it (a note), else an error here, not a contract that does
   * not load */
  rein__ix_when_fit(
      E->d, codes ? codes : n,
      codes ? rein__ix_path(fp, sizeof fp, path, "retriable_status_codes")
            : path,
      sp);
  if (hdrs) {
    rein__ix_path(fp, sizeof fp, path, "retriable_headers");
    if (is_type(E, hdrs, IX_J_ARRAY, fp, "an array of header matchers"))
      warn(E, hdrs, fp,
           rhd ? "Envoy retries responses matching these headers: rein "
                 "cannot retry on response headers: left out"
               : "Envoy ignores retriable_headers unless retry_on has "
                 "retriable-headers: left out");
  } else if (rhd) {
    warn(E, ro, rein__ix_path(fp, sizeof fp, path, "retry_on"),
         "retriable-headers: rein cannot retry on response headers: left "
         "out");
  }
  if (!E->backoff_noted) {
    E->backoff_noted = true;
    rein__ix_note(E->d, n, path,
                  "Envoy's retry N waits random[0, (2^N - 1) x "
                  "base_interval) up to max_interval; rein's exponential "
                  "backoff (multiplier 2, full jitter) waits random[0, "
                  "2^(N-1) x base]: the same base, cap and jitter; Envoy's "
                  "ceilings are longer before the cap (noted once per file)");
  }
}

/* ---- routes ---- */

static const char *const rc_fields[] = {
    "@type",
    "name",
    "virtual_hosts",
    "vhds",
    "internal_only_headers",
    "response_headers_to_add",
    "response_headers_to_remove",
    "request_headers_to_add",
    "request_headers_to_remove",
    "most_specific_header_mutations_wins",
    "validate_clusters",
    "max_direct_response_body_size_bytes",
    "cluster_specifier_plugins",
    "request_mirror_policies",
    "ignore_port_in_host_matching",
    "ignore_path_parameters_in_path_matching",
    "typed_per_filter_config",
    "metadata",
    NULL};
static const char *const vh_fields[] = {"name",
                                        "domains",
                                        "routes",
                                        "matcher",
                                        "require_tls",
                                        "virtual_clusters",
                                        "rate_limits",
                                        "request_headers_to_add",
                                        "request_headers_to_remove",
                                        "response_headers_to_add",
                                        "response_headers_to_remove",
                                        "cors",
                                        "typed_per_filter_config",
                                        "include_request_attempt_count",
                                        "include_attempt_count_in_response",
                                        "retry_policy",
                                        "retry_policy_typed_config",
                                        "hedge_policy",
                                        "include_is_timeout_retry_header",
                                        "per_request_buffer_limit_bytes",
                                        "request_mirror_policies",
                                        "metadata",
                                        NULL};
static const char *const route_fields[] = {"name",
                                           "match",
                                           "route",
                                           "redirect",
                                           "direct_response",
                                           "filter_action",
                                           "non_forwarding_action",
                                           "metadata",
                                           "decorator",
                                           "typed_per_filter_config",
                                           "request_headers_to_add",
                                           "request_headers_to_remove",
                                           "response_headers_to_add",
                                           "response_headers_to_remove",
                                           "tracing",
                                           "per_request_buffer_limit_bytes",
                                           "stat_prefix",
                                           NULL};
static const char *const match_fields[] = {"prefix",
                                           "path",
                                           "safe_regex",
                                           "connect_matcher",
                                           "path_separated_prefix",
                                           "path_match_policy",
                                           "case_sensitive",
                                           "runtime_fraction",
                                           "headers",
                                           "query_parameters",
                                           "grpc",
                                           "tls_context",
                                           "dynamic_metadata",
                                           "filter_state",
                                           NULL};
static const char *const ra_fields[] = {"cluster",
                                        "cluster_header",
                                        "weighted_clusters",
                                        "cluster_specifier_plugin",
                                        "inline_cluster_specifier_plugin",
                                        "cluster_not_found_response_code",
                                        "metadata_match",
                                        "prefix_rewrite",
                                        "regex_rewrite",
                                        "path_rewrite_policy",
                                        "path_rewrite",
                                        "host_rewrite_literal",
                                        "auto_host_rewrite",
                                        "host_rewrite_header",
                                        "host_rewrite_path_regex",
                                        "append_x_forwarded_host",
                                        "timeout",
                                        "idle_timeout",
                                        "flush_timeout",
                                        "early_data_policy",
                                        "retry_policy",
                                        "retry_policy_typed_config",
                                        "request_mirror_policies",
                                        "priority",
                                        "rate_limits",
                                        "include_vh_rate_limits",
                                        "hash_policy",
                                        "cors",
                                        "max_grpc_timeout",
                                        "grpc_timeout_offset",
                                        "upgrade_configs",
                                        "internal_redirect_policy",
                                        "internal_redirect_action",
                                        "max_internal_redirects",
                                        "hedge_policy",
                                        "max_stream_duration",
                                        "request_body_buffer_limit",
                                        NULL};
static const char *const wc_fields[] = {
    "clusters",    "total_weight",           "runtime_key_prefix",
    "header_name", "random_value_specifier", NULL};
static const char *const cw_fields[] = {"name",
                                        "cluster_header",
                                        "weight",
                                        "metadata_match",
                                        "request_headers_to_add",
                                        "request_headers_to_remove",
                                        "response_headers_to_add",
                                        "response_headers_to_remove",
                                        "typed_per_filter_config",
                                        "host_rewrite_literal",
                                        NULL};

/* What a virtual host gives its routes. */
typedef struct vhost {
  const char *name;
  bool has_retry;
  rein_policy_spec retry; /* parsed from its retry_policy */
  bool hedge;
} vhost;

static void base_spec(rein_policy_spec *sp) {
  rein_policy_spec_default(sp);
  sp->policy.max_attempts = 1; /* no retry policy: no retries */
  sp->policy.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  sp->policy.backoff.jitter = REIN_JITTER_FULL;
  sp->policy.backoff.base_ns = ENVOY_BASE_DEFAULT;
  sp->policy.backoff.cap_ns = 10 * ENVOY_BASE_DEFAULT;
  sp->policy.backoff.multiplier = 2;
  sp->signals = 0; /* Envoy reads reset headers only when told */
  rein_model_list_clear(sp, mf(REIN_MODEL_RETRY, "when"));
  sp->deadline_ns = ENVOY_ROUTE_TIMEOUT;
}

/* The match: its kind and value for the origin, or false. */
static bool route_match(eimp *E, yaml_node_t *n, const char *path,
                        const char **kind, const char **value) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a RouteMatch object")) return false;
  ix_member m[MAXM];
  size_t k = rein__ix_members(E->d, n, path, match_fields, m, MAXM);
  ix_leftout L = {{0}, 0};
  int found = 0;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    rein__ix_path(fp, sizeof fp, path, key);
    bool spec = strcmp(key, "prefix") == 0 || strcmp(key, "path") == 0 ||
                strcmp(key, "path_separated_prefix") == 0;
    bool other = strcmp(key, "safe_regex") == 0 ||
                 strcmp(key, "connect_matcher") == 0 ||
                 strcmp(key, "path_match_policy") == 0;
    if (spec || other) {
      if (found++) {
        rein__ix_error(E->d, m[i].k, fp,
                       "a second path specifier (Envoy takes one of "
                       "prefix, path, safe_regex, connect_matcher, "
                       "path_separated_prefix, path_match_policy)");
        continue;
      }
      *kind = key;
      if (spec) {
        get_string(E, m[i].v, fp, value);
      } else {
        *value = "";
        if (strcmp(key, "safe_regex") == 0 &&
            rein__ix_type(E->d, m[i].v) == IX_J_OBJECT) {
          static const char *const re_fields[] = {"google_re2", "regex", NULL};
          ix_member rm[3];
          size_t rk = rein__ix_members(E->d, m[i].v, fp, re_fields, rm, 3);
          for (size_t j = 0; j < rk; j++)
            if (strcmp(rm[j].key, "regex") == 0) {
              char rp[256];
              get_string(E, rm[j].v, rein__ix_path(rp, sizeof rp, fp, "regex"),
                         value);
            }
        }
        rein__ix_note(E->d, m[i].k, fp,
                      "a %s match names no operation: the call is every "
                      "operation of the cluster (`*`)",
                      key);
      }
    } else {
      rein__ix_leftout_add(&L, key);
    }
  }
  if (!found) {
    rein__ix_error(E->d, n, path,
                   "no path specifier (Envoy requires one of prefix, path, "
                   "safe_regex, connect_matcher, path_separated_prefix, "
                   "path_match_policy)");
    return false;
  }
  if (L.n)
    rein__ix_note(E->d, n, path,
                  "the call's name holds the path only; also matched on: %s",
                  L.list);
  return *value != NULL;
}

/* Add the call of one route to one cluster. */
static void add_call(eimp *E, yaml_node_t *at, const vhost *vh,
                     const char *kind, const char *value, const char *cluster,
                     const rein_policy_spec *spec) {
  char svc[160], op[220];
  sanitize(cluster, strlen(cluster), svc, sizeof svc);
  if (!*svc) snprintf(svc, sizeof svc, "_");
  op_of(kind, value, op, sizeof op);
  rein_interop_call c;
  c.spec = *spec;
  c.loc = rein__ix_loc(E->d, at);
  const ecluster *cl = find_cluster(E, cluster);
  if (cl && cl->budget && c.spec.policy.max_attempts > 1) {
    c.spec.has_budget = true;
    char t[40];
    rein__ix_set_model(E->d, at, "", &c.spec, REIN_MODEL_BUDGET, "kind",
                       "ratio");
    snprintf(t, sizeof t, "%.17g", cl->percent / 100);
    rein__ix_set_model(E->d, at, "", &c.spec, REIN_MODEL_BUDGET, "ratio", t);
    snprintf(t, sizeof t, "%.17g", cl->min_conc);
    rein__ix_set_model(E->d, at, "", &c.spec, REIN_MODEL_BUDGET, "min_per_sec",
                       t);
    if (!E->cluster_noted) {
      E->cluster_noted = true;
      rein__ix_note(E->d, cl->at, "",
                    "Envoy shares a cluster's retry budget between every "
                    "route to it; each call of the contract gets its own "
                    "(noted once per file)");
    }
  }
  /* one call per callee: a second route to the same name gets a suffix */
  char to[400];
  snprintf(to, sizeof to, "%s.%s", svc, op);
  for (unsigned dup = 2; dup < 10000; dup++) {
    bool seen = false;
    for (size_t i = E->first; i < E->ix->ncalls && !seen; i++)
      seen = strcmp(E->ix->calls[i].to, to) == 0;
    if (!seen) break;
    snprintf(to, sizeof to, "%s.%s-%u", svc, op, dup);
    if (dup == 2)
      rein__ix_note(E->d, at, "",
                    "a second route to %s.%s (they differ by what the "
                    "call's name does not hold: domains, headers): named %s",
                    svc, op, to);
  }
  c.to = rein__ix_strdup(E->ix, to);
  c.origin = rein__ix_printf(E->ix, "%s:%u:%u %s: %s %s -> %s", E->d->file,
                             c.loc.line, c.loc.col, vh->name ? vh->name : "",
                             kind, value, cluster);
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(E->ix, &c);
}

static void weighted(eimp *E, yaml_node_t *n, const char *path,
                     const char ***names, size_t *nn, yaml_node_t ***ats) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a WeightedCluster object")) return;
  ix_member m[8];
  size_t k = rein__ix_members(E->d, n, path, wc_fields, m, 8);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    if (strcmp(m[i].key, "clusters") != 0) continue;
    rein__ix_path(fp, sizeof fp, path, "clusters");
    if (!is_type(E, m[i].v, IX_J_ARRAY, fp, "an array of clusters")) return;
    size_t len = rein__ix_len(m[i].v);
    *names = rein_alloc(&E->ix->alloc, (len + 1) * sizeof **names);
    *ats = rein_alloc(&E->ix->alloc, (len + 1) * sizeof **ats);
    if (!*names || !*ats) {
      E->ix->oom = true;
      return;
    }
    for (size_t j = 0; j < len; j++) {
      yaml_node_t *w = rein__ix_item(E->d, m[i].v, j);
      char ip[256];
      rein__ix_path_i(ip, sizeof ip, fp, j);
      if (!is_type(E, w, IX_J_OBJECT, ip, "an object {name, weight}")) continue;
      ix_member wm[16];
      size_t wk = rein__ix_members(E->d, w, ip, cw_fields, wm, 16);
      for (size_t q = 0; q < wk; q++) {
        char qp[256];
        rein__ix_path(qp, sizeof qp, ip, wm[q].key);
        if (strcmp(wm[q].key, "name") == 0) {
          const char *s;
          if (get_string(E, wm[q].v, qp, &s)) {
            (*names)[*nn] = s;
            (*ats)[(*nn)++] = w;
          }
        } else if (strcmp(wm[q].key, "cluster_header") == 0) {
          warn(E, wm[q].k, qp,
               "the cluster comes from a request header: no callee to "
               "name: left out");
        }
      }
    }
    rein__ix_note(E->d, m[i].v, fp,
                  "traffic is split between %zu clusters: each is a call "
                  "with the route's policy",
                  *nn);
  }
}

static void route(eimp *E, yaml_node_t *n, const char *path, const vhost *vh) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a Route object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(E->d, n, path, route_fields, m, MAXM);
  yaml_node_t *match = NULL, *action = NULL;
  ix_leftout L = {{0}, 0};
  char fp[256];
  bool other_action = false;
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    if (strcmp(key, "match") == 0)
      match = m[i].v;
    else if (strcmp(key, "route") == 0)
      action = m[i].v;
    else if (strcmp(key, "redirect") == 0 ||
             strcmp(key, "direct_response") == 0 ||
             strcmp(key, "filter_action") == 0 ||
             strcmp(key, "non_forwarding_action") == 0)
      other_action = true;
    else if (strcmp(key, "per_request_buffer_limit_bytes") == 0)
      warn(E, m[i].k, rein__ix_path(fp, sizeof fp, path, key),
           "Envoy does not retry a request larger than its buffer; rein "
           "has no such limit: left out");
    else if (strcmp(key, "name") != 0)
      rein__ix_leftout_add(&L, key);
  }
  rein__ix_leftout_note(E->d, n, path, &L);
  const char *kind = NULL, *value = NULL;
  if (!match) {
    rein__ix_error(E->d, n, rein__ix_path(fp, sizeof fp, path, "match"),
                   "missing (Envoy requires it)");
    return;
  }
  if (!route_match(E, match, rein__ix_path(fp, sizeof fp, path, "match"), &kind,
                   &value))
    return;
  if (!action) {
    if (!other_action)
      rein__ix_error(E->d, n, path,
                     "no action (Envoy requires one of route, redirect, "
                     "direct_response)");
    else
      rein__ix_note(E->d, n, path,
                    "answered by Envoy itself (no upstream): no call");
    return;
  }
  char ap[256];
  rein__ix_path(ap, sizeof ap, path, "route");
  if (!is_type(E, action, IX_J_OBJECT, ap, "a RouteAction object")) return;
  ix_member a[MAXM];
  size_t ak = rein__ix_members(E->d, action, ap, ra_fields, a, MAXM);
  rein_policy_spec sp;
  base_spec(&sp);
  bool own_retry = false, own_hedge = false;
  const char *cl = NULL;
  const char **wnames = NULL;
  yaml_node_t **wats = NULL;
  size_t nw = 0;
  ix_leftout AL = {{0}, 0};
  int targets = 0;
  for (size_t i = 0; i < ak; i++)
    if (strcmp(a[i].key, "retry_policy") == 0) {
      own_retry = true;
      retry_policy(E, a[i].v, rein__ix_path(fp, sizeof fp, ap, "retry_policy"),
                   &sp);
    }
  if (!own_retry && vh->has_retry) {
    int64_t dl = sp.deadline_ns;
    sp = vh->retry;
    sp.deadline_ns = dl;
  }
  for (size_t i = 0; i < ak; i++) {
    const char *key = a[i].key;
    yaml_node_t *v = a[i].v;
    rein__ix_path(fp, sizeof fp, ap, key);
    if (strcmp(key, "retry_policy") == 0) {
      continue;
    } else if (strcmp(key, "cluster") == 0) {
      targets++;
      get_string(E, v, fp, &cl);
    } else if (strcmp(key, "weighted_clusters") == 0) {
      targets++;
      weighted(E, v, fp, &wnames, &nw, &wats);
    } else if (strcmp(key, "cluster_header") == 0 ||
               strcmp(key, "cluster_specifier_plugin") == 0 ||
               strcmp(key, "inline_cluster_specifier_plugin") == 0) {
      targets++;
      warn(E, a[i].k, fp,
           "the cluster is chosen per request: no callee to name: the "
           "route is left out");
    } else if (strcmp(key, "timeout") == 0) {
      int64_t ns;
      if (rein__ix_get_duration(E->d, v, fp, &ns)) {
        sp.deadline_ns = 0;
        if (ns > 0)
          rein__ix_set_model_duration(E->d, v, fp, &sp, REIN_MODEL_CALL,
                                      "deadline", ns);
      }
    } else if (strcmp(key, "hedge_policy") == 0) {
      own_hedge = true;
      hedge_policy(E, v, fp);
    } else if (strcmp(key, "idle_timeout") == 0 ||
               strcmp(key, "max_stream_duration") == 0 ||
               strcmp(key, "max_grpc_timeout") == 0 ||
               strcmp(key, "grpc_timeout_offset") == 0 ||
               strcmp(key, "flush_timeout") == 0) {
      warn(E, a[i].k, fp,
           "a stream or gRPC-header timeout: rein bounds a call by its "
           "deadline (the route's timeout) and each attempt by its "
           "timeout only: left out");
    } else if (strcmp(key, "retry_policy_typed_config") == 0 ||
               strcmp(key, "early_data_policy") == 0 ||
               strcmp(key, "priority") == 0 ||
               strcmp(key, "internal_redirect_policy") == 0 ||
               strcmp(key, "request_body_buffer_limit") == 0) {
      warn(E, a[i].k, fp, "rein cannot represent it: left out");
    } else {
      rein__ix_leftout_add(&AL, key);
    }
  }
  rein__ix_leftout_note(E->d, action, ap, &AL);
  if (!own_hedge && vh->hedge)
    rein__ix_note(E->d, action, ap,
                  "the virtual host's hedge_policy applies here (left out, "
                  "warned there)");
  if (targets > 1) {
    rein__ix_error(E->d, action, ap,
                   "more than one of cluster, weighted_clusters, "
                   "cluster_header (Envoy takes one)");
    return;
  }
  if (!targets) {
    rein__ix_error(E->d, action, ap,
                   "no cluster (Envoy requires one of cluster, "
                   "weighted_clusters, cluster_header, "
                   "cluster_specifier_plugin)");
    return;
  }
  if (cl) add_call(E, n, vh, kind, value, cl, &sp);
  for (size_t j = 0; j < nw; j++)
    add_call(E, wats[j], vh, kind, value, wnames[j], &sp);
  rein_free(&E->ix->alloc, wnames);
  rein_free(&E->ix->alloc, wats);
}

static void virtual_host(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a VirtualHost object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(E->d, n, path, vh_fields, m, MAXM);
  vhost vh;
  memset(&vh, 0, sizeof vh);
  base_spec(&vh.retry);
  ix_leftout L = {{0}, 0};
  yaml_node_t *routes = NULL, *domains = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "name") == 0) {
      get_string(E, v, fp, &vh.name);
    } else if (strcmp(key, "domains") == 0) {
      domains = v;
      is_type(E, v, IX_J_ARRAY, fp, "an array of domains");
    } else if (strcmp(key, "routes") == 0) {
      routes = v;
    } else if (strcmp(key, "retry_policy") == 0) {
      vh.has_retry = true;
      retry_policy(E, v, fp, &vh.retry);
    } else if (strcmp(key, "hedge_policy") == 0) {
      vh.hedge = true;
      hedge_policy(E, v, fp);
    } else if (strcmp(key, "retry_policy_typed_config") == 0) {
      warn(E, m[i].k, fp,
           "a retry policy extension: rein cannot represent "
           "it: left out");
    } else if (strcmp(key, "per_request_buffer_limit_bytes") == 0) {
      warn(E, m[i].k, fp,
           "Envoy does not retry a request larger than its buffer; rein "
           "has no such limit: left out");
    } else if (strcmp(key, "matcher") == 0) {
      warn(E, m[i].k, fp,
           "a generic matcher tree: rein reads routes only: left out");
    } else {
      rein__ix_leftout_add(&L, key);
    }
  }
  rein__ix_leftout_note(E->d, n, path, &L);
  if (!vh.name)
    rein__ix_error(E->d, n, rein__ix_path(fp, sizeof fp, path, "name"),
                   "missing (Envoy requires it)");
  if (!domains)
    rein__ix_error(E->d, n, rein__ix_path(fp, sizeof fp, path, "domains"),
                   "missing (Envoy requires at least one)");
  if (!routes) return;
  rein__ix_path(fp, sizeof fp, path, "routes");
  if (!is_type(E, routes, IX_J_ARRAY, fp, "an array of routes")) return;
  for (size_t j = 0; j < rein__ix_len(routes); j++) {
    char ip[256];
    route(E, rein__ix_item(E->d, routes, j),
          rein__ix_path_i(ip, sizeof ip, fp, j), &vh);
  }
}

static void route_configuration(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a RouteConfiguration object")) return;
  E->route_configs++;
  ix_member m[MAXM];
  size_t k = rein__ix_members(E->d, n, path, rc_fields, m, MAXM);
  ix_leftout L = {{0}, 0};
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "virtual_hosts") == 0) {
      if (!is_type(E, m[i].v, IX_J_ARRAY, fp, "an array of virtual hosts"))
        continue;
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char ip[256];
        virtual_host(E, rein__ix_item(E->d, m[i].v, j),
                     rein__ix_path_i(ip, sizeof ip, fp, j));
      }
    } else if (strcmp(key, "vhds") == 0) {
      warn(E, m[i].k, fp,
           "virtual hosts discovered at run time (VHDS): import the "
           "virtual hosts themselves");
    } else if (strcmp(key, "@type") != 0 && strcmp(key, "name") != 0) {
      rein__ix_leftout_add(&L, key);
    }
  }
  rein__ix_leftout_note(E->d, n, path, &L);
}

/* ---- containers ---- */

static const char *const hcm_used[] = {"route_config", "rds", "scoped_routes",
                                       NULL};

static void http_connection_manager(eimp *E, yaml_node_t *n, const char *path) {
  ix_member m[MAXM * 2];
  size_t k = lenient_members(E, n, path, hcm_used, m, MAXM * 2);
  ix_leftout L = {{0}, 0};
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "route_config") == 0)
      route_configuration(E, m[i].v, fp);
    else if (strcmp(m[i].key, "rds") == 0 ||
             strcmp(m[i].key, "scoped_routes") == 0)
      warn(E, m[i].k, fp,
           "routes from a discovery service: import the RouteConfiguration "
           "it serves (a file of its own)");
    else if (strcmp(m[i].key, "@type") != 0)
      rein__ix_leftout_add(&L, m[i].key);
  }
  rein__ix_leftout_note(E->d, n, path, &L);
}

static const char *const filter_used[] = {"name", "typed_config", NULL};
static const char *const chain_used[] = {"filters", NULL};
static const char *const listener_used[] = {"filter_chains",
                                            "default_filter_chain", NULL};

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* The "@type" of an object, or NULL. */
static const char *type_url(eimp *E, yaml_node_t *n) {
  if (rein__ix_type(E->d, n) != IX_J_OBJECT) return NULL;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    const char *k = rein__ix_text(yaml_document_get_node(&E->d->doc, p->key));
    yaml_node_t *v = yaml_document_get_node(&E->d->doc, p->value);
    if (k && strcmp(k, "@type") == 0 && rein__ix_type(E->d, v) == IX_J_STRING)
      return rein__ix_text(v);
  }
  return NULL;
}

static void filter_chain(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a FilterChain object")) return;
  ix_member m[MAXM];
  size_t k = lenient_members(E, n, path, chain_used, m, MAXM);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    if (strcmp(m[i].key, "filters") != 0) continue;
    rein__ix_path(fp, sizeof fp, path, "filters");
    if (!is_type(E, m[i].v, IX_J_ARRAY, fp, "an array of filters")) continue;
    for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
      yaml_node_t *f = rein__ix_item(E->d, m[i].v, j);
      char ip[256];
      rein__ix_path_i(ip, sizeof ip, fp, j);
      if (!is_type(E, f, IX_J_OBJECT, ip, "a Filter object")) continue;
      ix_member fm[8];
      size_t fk = lenient_members(E, f, ip, filter_used, fm, 8);
      const char *name = "";
      yaml_node_t *tc = NULL;
      for (size_t q = 0; q < fk; q++)
        if (strcmp(fm[q].key, "name") == 0 &&
            rein__ix_type(E->d, fm[q].v) == IX_J_STRING)
          name = rein__ix_text(fm[q].v);
        else if (strcmp(fm[q].key, "typed_config") == 0)
          tc = fm[q].v;
      const char *t = tc ? type_url(E, tc) : NULL;
      bool hcm =
          (t && ends_with(t, ".HttpConnectionManager")) ||
          strcmp(name, "envoy.filters.network.http_connection_manager") == 0;
      if (hcm && tc) {
        char tp[256];
        rein__ix_path(tp, sizeof tp, ip, "typed_config");
        if (is_type(E, tc, IX_J_OBJECT, tp, "an object"))
          http_connection_manager(E, tc, tp);
      }
    }
  }
}

static void listener(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "a Listener object")) return;
  ix_member m[MAXM * 2];
  size_t k = lenient_members(E, n, path, listener_used, m, MAXM * 2);
  ix_leftout L = {{0}, 0};
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "filter_chains") == 0) {
      if (!is_type(E, m[i].v, IX_J_ARRAY, fp, "an array of filter chains"))
        continue;
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char ip[256];
        filter_chain(E, rein__ix_item(E->d, m[i].v, j),
                     rein__ix_path_i(ip, sizeof ip, fp, j));
      }
    } else if (strcmp(m[i].key, "default_filter_chain") == 0) {
      filter_chain(E, m[i].v, fp);
    } else if (strcmp(m[i].key, "@type") != 0 && strcmp(m[i].key, "name")) {
      rein__ix_leftout_add(&L, m[i].key);
    }
  }
  rein__ix_leftout_note(E->d, n, path, &L);
}

static void each(eimp *E, yaml_node_t *arr, const char *path, const char *want,
                 void (*fn)(eimp *, yaml_node_t *, const char *)) {
  if (!is_type(E, arr, IX_J_ARRAY, path, want)) return;
  for (size_t j = 0; j < rein__ix_len(arr); j++) {
    char ip[256];
    fn(E, rein__ix_item(E->d, arr, j), rein__ix_path_i(ip, sizeof ip, path, j));
  }
}

static const char *const sr_fields[] = {"listeners", "clusters", "secrets",
                                        NULL};

static void static_resources(eimp *E, yaml_node_t *n, const char *path) {
  if (!is_type(E, n, IX_J_OBJECT, path, "an object")) return;
  ix_member m[4];
  size_t k = rein__ix_members(E->d, n, path, sr_fields, m, 4);
  char fp[256];
  for (int pass = 0; pass < 2; pass++) /* clusters first */
    for (size_t i = 0; i < k; i++) {
      rein__ix_path(fp, sizeof fp, path, m[i].key);
      if (pass == 0 && strcmp(m[i].key, "clusters") == 0)
        each(E, m[i].v, fp, "an array of clusters", cluster);
      else if (pass == 1 && strcmp(m[i].key, "listeners") == 0)
        each(E, m[i].v, fp, "an array of listeners", listener);
      else if (pass == 1 && strcmp(m[i].key, "secrets") == 0)
        rein__ix_note(E->d, m[i].k, fp, "not retry settings: left out");
    }
}

static const char *const boot_used[] = {"static_resources", NULL};

static void bootstrap(eimp *E, yaml_node_t *n) {
  ix_member m[MAXM * 2];
  size_t k = lenient_members(E, n, "", boot_used, m, MAXM * 2);
  ix_leftout L = {{0}, 0};
  for (size_t i = 0; i < k; i++) {
    if (strcmp(m[i].key, "static_resources") == 0)
      static_resources(E, m[i].v, "static_resources");
    else if (strcmp(m[i].key, "dynamic_resources") == 0)
      warn(E, m[i].k, "dynamic_resources",
           "configuration from discovery services: import the "
           "RouteConfiguration and Cluster files they serve");
    else
      rein__ix_leftout_add(&L, m[i].key);
  }
  rein__ix_leftout_note(E->d, n, "", &L);
}

static const char *const res_used[] = {"resources", NULL};

/* An xDS file: {resources: [{"@type": ..., ...}]} (a DiscoveryResponse). */
static void resources(eimp *E, yaml_node_t *n) {
  ix_member m[16];
  size_t k = lenient_members(E, n, "", res_used, m, 16);
  yaml_node_t *arr = NULL;
  for (size_t i = 0; i < k; i++)
    if (strcmp(m[i].key, "resources") == 0) arr = m[i].v;
  if (!is_type(E, arr, IX_J_ARRAY, "resources", "an array of resources"))
    return;
  for (int pass = 0; pass < 2; pass++)
    for (size_t j = 0; j < rein__ix_len(arr); j++) {
      yaml_node_t *r = rein__ix_item(E->d, arr, j);
      char ip[64];
      rein__ix_path_i(ip, sizeof ip, "resources", j);
      if (pass == 0 && !is_type(E, r, IX_J_OBJECT, ip, "an object")) continue;
      const char *t = type_url(E, r);
      if (!t) {
        if (pass == 0)
          rein__ix_error(E->d, r, ip,
                         "no \"@type\" (an xDS resource names its type, "
                         "e.g. type.googleapis.com/"
                         "envoy.config.route.v3.RouteConfiguration)");
        continue;
      }
      bool is_cluster = ends_with(t, "envoy.config.cluster.v3.Cluster");
      if (pass == 0 && is_cluster)
        cluster(E, r, ip);
      else if (pass == 1 &&
               ends_with(t, "envoy.config.route.v3.RouteConfiguration"))
        route_configuration(E, r, ip);
      else if (pass == 1 && ends_with(t, "envoy.config.listener.v3.Listener"))
        listener(E, r, ip);
      else if (pass == 1 && !is_cluster)
        rein__ix_note(E->d, r, ip, "a %.100s: not retry settings, left out", t);
    }
}

/* Is `key` (or its lowerCamelCase) a member of `n`? */
static bool has(eimp *E, yaml_node_t *n, const char *key, const char *camel) {
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    const char *k = rein__ix_text(yaml_document_get_node(&E->d->doc, p->key));
    if (k && (strcmp(k, key) == 0 || (camel && strcmp(k, camel) == 0)))
      return true;
  }
  return false;
}

static void envoy_import(rein_interop *ix, ix_doc *d) {
  yaml_node_t *root = rein__ix_root(d);
  eimp E;
  memset(&E, 0, sizeof E);
  E.d = d;
  E.ix = ix;
  E.first = ix->ncalls;
  if (rein__ix_type(d, root) != IX_J_OBJECT) {
    rein__ix_type_error(d, root, "",
                        "an Envoy config object (a RouteConfiguration, "
                        "Bootstrap, Listener, Cluster or {resources: [...]})");
    return;
  }
  E.cl = rein_alloc(&ix->alloc, MAX_CLUSTERS * sizeof *E.cl);
  if (!E.cl) {
    ix->oom = true;
    return;
  }
  const char *t = type_url(&E, root);
  bool any_route = false;
  if ((t && ends_with(t, "RouteConfiguration")) ||
      has(&E, root, "virtual_hosts", "virtualHosts")) {
    any_route = true;
    route_configuration(&E, root, "");
  } else if (has(&E, root, "resources", NULL)) {
    resources(&E, root);
  } else if ((t && ends_with(t, "Listener")) ||
             has(&E, root, "filter_chains", "filterChains")) {
    listener(&E, root, "");
  } else if ((t && ends_with(t, "Cluster")) ||
             has(&E, root, "circuit_breakers", "circuitBreakers") ||
             has(&E, root, "connect_timeout", "connectTimeout") ||
             has(&E, root, "load_assignment", "loadAssignment")) {
    cluster(&E, root, "");
  } else if (has(&E, root, "listeners", NULL) ||
             has(&E, root, "clusters", NULL)) {
    static_resources(&E, root, "");
  } else if (has(&E, root, "static_resources", "staticResources") ||
             has(&E, root, "admin", NULL) || has(&E, root, "node", NULL) ||
             has(&E, root, "dynamic_resources", "dynamicResources")) {
    bootstrap(&E, root);
  } else {
    static const char *const tops[] = {"virtual_hosts", "static_resources",
                                       "filter_chains", "circuit_breakers",
                                       "resources",     "listeners",
                                       "clusters",      NULL};
    /* a near miss of what tells the kinds apart, or nothing Envoy */
    ix_member m[MAXM * 2];
    size_t k = rein__ix_members(d, root, "", NULL, m, MAXM * 2);
    bool told = false;
    for (size_t i = 0; i < k && !told; i++) {
      const char *best = rein_suggest(m[i].key, tops, 7);
      if (best) {
        rein__ix_error(d, m[i].k, m[i].key,
                       "unknown field '%.60s'; did you mean '%s'?", m[i].key,
                       best);
        told = true;
      }
    }
    if (!told)
      rein__ix_error(d, root, "",
                     "not an Envoy config rein reads: expected a "
                     "RouteConfiguration (virtual_hosts), a Bootstrap "
                     "(static_resources), a Listener (filter_chains), a "
                     "Cluster, or an xDS file {resources: [...]}");
  }
  (void)any_route;
  if (ix->ncalls == E.first && !ix->errors) {
    if (E.ncl && !E.route_configs)
      rein__ix_error(d, root, "",
                     "clusters but no routes: rein imports calls from "
                     "routes; give the routes and clusters in one file (a "
                     "Bootstrap's static_resources or an xDS resources "
                     "list)");
    else
      rein__ix_error(d, root, "", "no route to a cluster: nothing to import");
  }
  rein_free(&ix->alloc, E.cl);
}

/* ------------------------------------------------------------- export */

typedef struct ecall {
  const char *to;
  rein_contract_loc loc;
  char path[32];
  rein_policy_spec sp;
  char cluster[200];
  char kind[32];
  char value[400];
} ecall;

typedef struct exp_ {
  rein_interop *ix;
  rein_contract_loc loc; /* the call's, in its contract */
  const char *path;      /* "calls[2]" */
} exp_;

static void ewarn(exp_ *X, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ewarn(exp_ *X, const char *field, const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s%s%s", X->path, *field ? "." : "", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(X->ix, REIN_INTEROP_WARNING, X->loc, fp, fmt, ap);
  va_end(ap);
}

/* The route of a call: what its origin says when that still names the
 * call (an import from Envoy), else what its name says. */
static void call_route(ecall *c, const char *origin) {
  const char *dot = strchr(c->to, '.');
  size_t sl = dot ? (size_t)(dot - c->to) : strlen(c->to);
  const char *op = dot ? dot + 1 : "*";
  if (origin) {
    const char *arrow = strstr(origin, " -> ");
    for (const char *a = arrow; a; a = strstr(a + 1, " -> "))
      arrow = a;
    const char *colon = NULL;
    for (const char *p = origin; arrow && p < arrow; p++)
      if (p[0] == ':' && p[1] == ' ') colon = p;
    if (arrow && colon) {
      const char *k = colon + 2, *sp = strchr(k, ' ');
      if (sp && sp < arrow + 1) {
        char kind[32], value[400], cl[200], s[200], o[220];
        snprintf(kind, sizeof kind, "%.*s", (int)(sp - k), k);
        snprintf(value, sizeof value, "%.*s", (int)(arrow - sp - 1), sp + 1);
        snprintf(cl, sizeof cl, "%s", arrow + 4);
        sanitize(cl, strlen(cl), s, sizeof s);
        op_of(kind, value, o, sizeof o);
        if (strlen(s) == sl && strncmp(s, c->to, sl) == 0 &&
            strcmp(o, op) == 0) {
          snprintf(c->kind, sizeof c->kind, "%s", kind);
          snprintf(c->value, sizeof c->value, "%s", value);
          snprintf(c->cluster, sizeof c->cluster, "%s", cl);
          return;
        }
      }
    }
  }
  snprintf(c->cluster, sizeof c->cluster, "%.*s", (int)sl, c->to);
  size_t ol = strlen(op);
  if (strcmp(op, "*") == 0) {
    snprintf(c->kind, sizeof c->kind, "prefix");
    snprintf(c->value, sizeof c->value, "/");
  } else if (ol && op[ol - 1] == '*') {
    snprintf(c->kind, sizeof c->kind, "prefix");
    snprintf(c->value, sizeof c->value, "/%.*s", (int)(ol - 1), op);
  } else {
    snprintf(c->kind, sizeof c->kind, "path");
    snprintf(c->value, sizeof c->value, "/%s", strcmp(op, "_") ? op : "");
  }
}

/* Envoy's first match wins: exact paths, then regexes, then the longer
 * prefixes first. */
static int route_rank(const ecall *c) {
  if (strcmp(c->kind, "path") == 0) return 0;
  if (strcmp(c->kind, "prefix") && strcmp(c->kind, "path_separated_prefix"))
    return 1;
  return 2;
}

static int route_cmp(const void *a, const void *b) {
  const ecall *x = *(const ecall *const *)a, *y = *(const ecall *const *)b;
  int rx = route_rank(x), ry = route_rank(y);
  if (rx != ry) return rx - ry;
  if (rx == 2) {
    size_t lx = strlen(x->value), ly = strlen(y->value);
    if (lx != ly) return lx > ly ? -1 : 1;
  }
  return strcmp(x->value, y->value);
}

static void ind(FILE *f, int n) {
  for (int i = 0; i < n; i++)
    fputc(' ', f);
}

static void qdur(FILE *f, int64_t ns) {
  char b[48];
  rein__ix_yaml_quote(f, rein_interop_grpc_format_duration(ns, b, sizeof b));
}

static bool has_c(const rein_retryable_set *s, rein_condition c) {
  return rein_retryable_set_has(s, c, rein_condition_kind(c));
}

/* retry_on and retriable_status_codes for the spec's `when`. */
size_t rein__ix_envoy_when(rein_interop *ix, rein_contract_loc loc,
                           const char *callpath, const rein_policy_spec *sp,
                           char *list, size_t cap, unsigned *codes) {
  exp_ X_ = {ix, loc, callpath}, *X = &X_;
  rein_retryable_set S = sp->policy.retryable;
  if (rein_retryable_set_is_empty(&S)) S.kinds = sp->policy.retry_on;
  S.kinds &= ~REIN_RETRY_ON(REIN_OUTCOME_SUCCESS);
  rein_retryable_set N = S; /* without the TIMEOUT kind: what is named */
  N.kinds &= ~REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT);
  bool T = has_c(&S, REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT));
  bool h5 = true;
  for (unsigned s = 500; s < 600; s++)
    h5 &= has_c(&N, REIN_COND_HTTP(s));
  bool rst = has_c(&N, REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET));
  bool cf = has_c(&N, REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE));
  bool rs = has_c(&N, REIN_COND_TRANSPORT(REIN_TRANSPORT_REFUSED_STREAM));
  bool t5xx = h5 && rst && cf && rs;
  bool tgw = !t5xx && has_c(&N, REIN_COND_HTTP(502)) &&
             has_c(&N, REIN_COND_HTTP(503)) && has_c(&N, REIN_COND_HTTP(504));
  bool trst = !t5xx && rst, tcf = !t5xx && cf, trs = !t5xx && rs;
  size_t o = 0;
  list[0] = 0;
#define TOK(s)                                                                 \
  o += o < cap ? (size_t)snprintf(list + o, cap - o, "%s%s", o ? "," : "", s)  \
               : 0
  if (t5xx) TOK("5xx");
  if (tgw) TOK("gateway-error");
  if (trst) TOK("reset");
  if (tcf) TOK("connect-failure");
  if (trs) TOK("refused-stream");
  bool t409 = has_c(&N, REIN_COND_HTTP(409));
  if (t409) TOK("retriable-4xx");
  static const struct {
    uint32_t code;
    const char *tok;
  } g[] = {{1, "cancelled"},
           {4, "deadline-exceeded"},
           {13, "internal"},
           {8, "resource-exhausted"},
           {14, "unavailable"}};
  char lost[256] = "";
  size_t lo = 0;
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++) {
    if (!has_c(&N, REIN_COND_GRPC(c))) continue;
    size_t k = 0;
    while (k < 5 && g[k].code != c)
      k++;
    if (k < 5)
      TOK(g[k].tok);
    else
      lo += (size_t)snprintf(lost + lo, sizeof lost - lo, "%s%s",
                             lo ? ", " : "", rein_grpc_code_name(c));
  }
  if (lo)
    ewarn(X, "retry.when",
          "%s: Envoy retries the gRPC statuses cancelled, "
          "deadline-exceeded, internal, resource-exhausted and unavailable "
          "only: left out",
          lost);
  /* the other statuses: retriable_status_codes */
  size_t nc = 0;
  for (unsigned s = 100; s < 600; s++) {
    if (!has_c(&N, REIN_COND_HTTP(s))) continue;
    if ((t5xx && s >= 500) || (tgw && s >= 502 && s <= 504) ||
        (t409 && s == 409))
      continue;
    codes[nc++] = s;
  }
  if (nc) TOK("retriable-status-codes");
  bool tmo_tok = t5xx || tgw || trst;
  if (T && !tmo_tok)
    ewarn(X, "retry.when",
          "timeout: Envoy retries a timed-out attempt only under 5xx, "
          "gateway-error or reset, which would retry more than the "
          "contract: left out");
  if (!T && tmo_tok)
    ewarn(X, "retry.when",
          "%s also retries an attempt that hit per_try_timeout, which the "
          "contract does not retry",
          t5xx  ? "5xx"
          : tgw ? "gateway-error"
                : "reset");
  if (S.kinds & REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT)) {
    char tl[64] = "";
    size_t to = 0;
    if (!has_c(&N, REIN_COND_HTTP(408)))
      to += (size_t)snprintf(tl + to, sizeof tl - to, "408");
    if (!has_c(&N, REIN_COND_HTTP(504)) && !t5xx && !tgw)
      to += (size_t)snprintf(tl + to, sizeof tl - to, "%s504", to ? ", " : "");
    if (!has_c(&N, REIN_COND_GRPC(4)))
      to += (size_t)snprintf(tl + to, sizeof tl - to, "%sDEADLINE_EXCEEDED",
                             to ? ", " : "");
    if (to)
      ewarn(X, "retry.when",
            "`timeout` in rein also retries %s, which Envoy retries only "
            "when named: left out",
            tl);
  }
#undef TOK
  return nc;
}

static void write_retry_on(exp_ *X, FILE *f, int in,
                           const rein_policy_spec *sp) {
  char list[512];
  unsigned codes[600];
  size_t nc =
      rein__ix_envoy_when(X->ix, X->loc, X->path, sp, list, sizeof list, codes);
  if (*list) {
    ind(f, in);
    fputs("retry_on: ", f);
    rein__ix_yaml_quote(f, list);
    fputc('\n', f);
  } else {
    ewarn(X, "retry.when",
          "retries nothing Envoy can name: written without retry_on (Envoy "
          "then retries nothing)");
  }
  if (nc) {
    ind(f, in);
    fputs("retriable_status_codes: [", f);
    for (size_t i = 0; i < nc; i++)
      fprintf(f, "%s%u", i ? ", " : "", codes[i]);
    fputs("]\n", f);
  }
}

static void write_backoff(exp_ *X, FILE *f, int in,
                          const rein_policy_spec *sp) {
  const rein_backoff_config *b = &sp->policy.backoff;
  int64_t base = b->base_ns, cap = b->cap_ns;
  switch (b->kind) {
  case REIN_BACKOFF_EXPONENTIAL:
    if (b->multiplier != 2)
      ewarn(X, "retry.backoff.multiplier",
            "Envoy's back-off doubles (its retry N waits up to (2^N - 1) x "
            "base_interval): multiplier %g cannot be expressed, written as 2",
            b->multiplier);
    break;
  case REIN_BACKOFF_CONSTANT:
    cap = base; /* every retry then waits random[0, base) */
    break;
  case REIN_BACKOFF_LINEAR:
    ewarn(X, "retry.backoff.kind",
          "linear growth has no Envoy form: written as Envoy's doubling "
          "back-off from base, capped at cap");
    break;
  case REIN_BACKOFF_NONE:
    ewarn(X, "retry.backoff.kind",
          "no delay has no Envoy form (the base interval is at least 1ms): "
          "written as 1ms");
    base = cap = NS_MS;
    break;
  }
  if (base < NS_MS) {
    ewarn(X, "retry.backoff.base",
          "Envoy rounds a base interval below 1ms up to 1ms: written as 1ms");
    base = NS_MS;
  }
  if (cap < base) cap = base;
  if (b->jitter != REIN_JITTER_FULL) {
    static const char *const j[] = {"none", "full", "equal", "decorrelated"};
    ewarn(X, "retry.backoff.jitter",
          "Envoy always draws full jitter, random[0, ceiling): jitter: %s "
          "cannot be expressed, and runs as full",
          (unsigned)b->jitter < 4 ? j[b->jitter] : "?");
  }
  ind(f, in);
  fputs("retry_back_off:\n", f);
  ind(f, in + 2);
  fputs("base_interval: ", f);
  qdur(f, base);
  fputc('\n', f);
  ind(f, in + 2);
  fputs("max_interval: ", f);
  qdur(f, cap);
  fputc('\n', f);
}

static void write_signals(exp_ *X, FILE *f, int in,
                          const rein_policy_spec *sp) {
  uint32_t s = sp->signals;
  if (s & REIN_SIGNAL_PUSHBACK)
    ewarn(X, "retry.signals",
          "pushback (grpc-retry-pushback-ms): Envoy does not read it: left "
          "out");
  if (s & REIN_SIGNAL_DONT_RETRY)
    ewarn(X, "retry.signals",
          "dont-retry: Envoy has no header that stops its retries: left out");
  if (!(s & (REIN_SIGNAL_RETRY_AFTER | REIN_SIGNAL_RATELIMIT))) return;
  ind(f, in);
  fputs("rate_limited_retry_back_off:\n", f);
  ind(f, in + 2);
  fputs("reset_headers:\n", f);
  if (s & REIN_SIGNAL_RETRY_AFTER) {
    ind(f, in + 2);
    fputs("- name: \"Retry-After\"\n", f);
    ind(f, in + 4);
    fputs("format: SECONDS\n", f);
  }
  if (s & REIN_SIGNAL_RATELIMIT) {
    ind(f, in + 2);
    fputs("- name: \"RateLimit-Reset\"\n", f);
    ind(f, in + 4);
    fputs("format: SECONDS\n", f);
  }
}

static void other_warnings(exp_ *X, const rein_policy_spec *sp,
                           const ecall *c) {
  (void)c;
  if (sp->policy.window_ns > 0)
    ewarn(X, "retry.window",
          "Envoy has no retry window (the route's timeout bounds every "
          "retry): left out");
  if (sp->policy.expected_attempt_ns > 0)
    ewarn(X, "retry.expected_attempt", "no Envoy form: left out");
  if (!sp->policy.idempotent)
    ewarn(X, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, Envoy retries it whatever (no such gate)");
  if (sp->policy.key_retention_ns > 0)
    ewarn(X, "key_ttl",
          "the callee's idempotency-key TTL has no Envoy form: left out");
  if (sp->has_breaker)
    ewarn(X, "retry.breaker",
          "Envoy's circuit breakers are concurrency limits and its outlier "
          "detection ejects hosts; neither is rein's failure-rate breaker: "
          "left out");
  if (sp->has_throttle)
    ewarn(X, "retry.throttle",
          "Envoy has no adaptive (client-side) throttle: left out");
}

static void write_route(exp_ *X, FILE *f, const ecall *c) {
  const rein_policy_spec *sp = &c->sp;
  fputs("              - match:\n", f);
  ind(f, 18);
  if (strcmp(c->kind, "safe_regex") == 0) {
    fputs("safe_regex:\n", f);
    ind(f, 20);
    fputs("regex: ", f);
    rein__ix_yaml_quote(f, c->value);
  } else if (strcmp(c->kind, "prefix") == 0 || strcmp(c->kind, "path") == 0 ||
             strcmp(c->kind, "path_separated_prefix") == 0) {
    fprintf(f, "%s: ", c->kind);
    rein__ix_yaml_quote(f, c->value);
  } else {
    ewarn(X, "to",
          "the route matched by %s: written as prefix \"/\" (every "
          "operation)",
          c->kind);
    fputs("prefix: \"/\"", f);
  }
  fputc('\n', f);
  fputs("                route:\n", f);
  ind(f, 18);
  fputs("cluster: ", f);
  rein__ix_yaml_quote(f, c->cluster);
  fputc('\n', f);
  ind(f, 18);
  fputs("timeout: ", f);
  qdur(f, sp->deadline_ns);
  fputc('\n', f);
  bool retries = sp->policy.max_attempts > 1;
  if (!retries && !sp->policy.attempt_timeout_ns) return;
  ind(f, 18);
  fputs("retry_policy:\n", f);
  ind(f, 20);
  fprintf(f, "num_retries: %u\n", sp->policy.max_attempts - 1);
  if (sp->policy.attempt_timeout_ns) {
    ind(f, 20);
    fputs("per_try_timeout: ", f);
    qdur(f, sp->policy.attempt_timeout_ns);
    fputc('\n', f);
  }
  if (!retries) return;
  write_retry_on(X, f, 20, sp);
  write_backoff(X, f, 20, sp);
  write_signals(X, f, 20, sp);
  other_warnings(X, sp, c);
}

/* The shortest %g that reads back as v. */
static void fnum(FILE *f, double v) {
  char b[40];
  for (int p = 1; p <= 17; p++) {
    snprintf(b, sizeof b, "%.*g", p, v);
    if (strtod(b, NULL) == v) break;
  }
  fputs(b, f);
}

/* The cluster's retry budget from its calls' ratio budgets. */
static void write_cluster(rein_interop *ix, FILE *f, ecall *const *cs,
                          size_t n) {
  const ecall *first = NULL;
  for (size_t i = 0; i < n; i++) {
    exp_ X = {ix, cs[i]->loc, cs[i]->path};
    const rein_policy_spec *sp = &cs[i]->sp;
    if (sp->policy.max_attempts <= 1 || !sp->has_budget) continue;
    const rein_budget_config *b = &sp->budget;
    if (b->kind != REIN_BUDGET_RATIO) {
      ewarn(&X, "retry.budget.kind",
            "a %s budget has no Envoy form (Envoy's retry budget is a "
            "share of active requests): left out",
            rein_budget_kind_name(b->kind));
      continue;
    }
    if (!first) {
      first = cs[i];
      if (b->ratio > 1)
        ewarn(&X, "retry.budget.ratio",
              "%g: Envoy's budget_percent is at most 100: written as 100",
              b->ratio);
      if (b->min_retries_per_sec != floor(b->min_retries_per_sec))
        ewarn(&X, "retry.budget.min_per_sec",
              "Envoy's min_retry_concurrency is a whole number: %g written "
              "as %g",
              b->min_retries_per_sec, floor(b->min_retries_per_sec + 0.5));
      ewarn(&X, "retry.budget",
            "Envoy's retry budget is concurrency-based (active retries at "
            "most budget_percent of active requests, at least "
            "min_retry_concurrency at once), rein's counts retries against "
            "requests over ttl (%gs) with a floor of min_per_sec per "
            "second: written as budget_percent = 100 x ratio and "
            "min_retry_concurrency = min_per_sec; the ttl has no Envoy form",
            (double)b->ttl_ns / 1e9);
      if (sp->budget_scope == REIN_SCOPE_FLEET)
        ewarn(&X, "retry.budget.scope",
              "Envoy's budget is one per Envoy instance and cluster; a "
              "fleet-wide budget cannot be expressed");
    } else if (first->sp.budget.ratio != b->ratio ||
               first->sp.budget.min_retries_per_sec != b->min_retries_per_sec) {
      ewarn(&X, "retry.budget",
            "Envoy has one retry budget per cluster: this call's differs "
            "from the one written (line %u); left out",
            first->loc.line);
    }
  }
  const ecall *c0 = cs[0];
  fputs("  - name: ", f);
  rein__ix_yaml_quote(f, c0->cluster);
  fputs("\n    type: STRICT_DNS\n    connect_timeout: \"1s\"\n"
        "    load_assignment:\n      cluster_name: ",
        f);
  rein__ix_yaml_quote(f, c0->cluster);
  char host[200];
  sanitize(c0->cluster, strlen(c0->cluster), host, sizeof host);
  fputs("\n      endpoints:\n      - lb_endpoints:\n        - endpoint:\n"
        "            address:\n              socket_address:\n"
        "                address: ",
        f);
  rein__ix_yaml_quote(f, host);
  fputs("\n                port_value: 80\n", f);
  if (!first) return;
  const rein_budget_config *b = &first->sp.budget;
  double pct = b->ratio > 1 ? 100 : b->ratio * 100;
  fputs("    circuit_breakers:\n      thresholds:\n"
        "      - priority: DEFAULT\n        retry_budget:\n"
        "          budget_percent:\n            value: ",
        f);
  fnum(f, pct);
  fprintf(f, "\n          min_retry_concurrency: %.0f\n",
          floor(b->min_retries_per_sec + 0.5));
}

static rein_status envoy_export(rein_interop *ix, const rein_contract_set *s,
                                const char *caller, char **out, size_t *len) {
  size_t n = rein_contract_call_count(s), nc = 0, idx = 0;
  ecall *calls = rein_alloc(&ix->alloc, (n + 1) * sizeof *calls);
  ecall **order = rein_alloc(&ix->alloc, (n + 1) * sizeof *order);
  rein_status st = REIN_OK;
  if (!calls || !order) {
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *origin;
    ecall *e = &calls[nc];
    memset(e, 0, sizeof *e);
    if (rein__ix_export_call(ix, s, caller, i, &idx, e->path, sizeof e->path,
                             &e->to, &origin, &e->loc, &e->sp, &st) <= 0)
      continue;
    call_route(e, origin);
    order[nc] = e;
    nc++;
  }
  if (!nc) {
    rein_contract_loc none = {"", 0, 0};
    if (st == REIN_OK)
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "%s has no calls in the contracts", caller);
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    return st == REIN_OK ? REIN_ENOTFOUND : st;
  }
  char *text = NULL;
  size_t tn = 0;
  FILE *f = open_memstream(&text, &tn);
  if (!f) {
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    return REIN_ENOMEM;
  }
  fputs("# Written by `rein export envoy`: the retry settings of ", f);
  fputs(caller, f);
  fputs("'s calls as an\n# Envoy bootstrap (one virtual host and cluster per "
        "callee). The listener\n# address and each cluster's endpoint "
        "(SERVICE:80) are placeholders.\n",
        f);
  fputs("static_resources:\n  listeners:\n  - name: ", f);
  rein__ix_yaml_quote(f, caller);
  fputs("\n    address:\n      socket_address:\n        address: "
        "\"127.0.0.1\"\n        port_value: 10000\n    filter_chains:\n"
        "    - filters:\n      - name: "
        "envoy.filters.network.http_connection_manager\n        "
        "typed_config:\n          \"@type\": type.googleapis.com/"
        "envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager\n          stat_prefix: ",
        f);
  rein__ix_yaml_quote(f, caller);
  fputs("\n          http_filters:\n          - name: "
        "envoy.filters.http.router\n            typed_config:\n"
        "              \"@type\": type.googleapis.com/"
        "envoy.extensions.filters.http.router.v3.Router\n"
        "          route_config:\n            name: ",
        f);
  rein__ix_yaml_quote(f, caller);
  fputs("\n            virtual_hosts:\n", f);
  /* group by cluster, in order of first appearance */
  bool *done = calloc(nc, sizeof *done);
  ecall **group = calloc(nc, sizeof *group);
  size_t nclusters = 0;
  ecall **firsts = calloc(nc, sizeof *firsts);
  size_t *gsize = calloc(nc, sizeof *gsize);
  ecall ***groups = calloc(nc, sizeof *groups);
  bool ok = done && group && firsts && gsize && groups;
  size_t gi = 0;
  for (size_t i = 0; ok && i < nc; i++) {
    if (done[i]) continue;
    size_t k = 0;
    for (size_t j = i; j < nc; j++)
      if (!done[j] && strcmp(order[j]->cluster, order[i]->cluster) == 0) {
        done[j] = true;
        group[gi + k++] = order[j];
      }
    qsort(group + gi, k, sizeof *group, route_cmp);
    groups[nclusters] = group + gi;
    gsize[nclusters++] = k;
    gi += k;
  }
  for (size_t g = 0; ok && g < nclusters; g++) {
    ecall **cs = groups[g];
    fputs("            - name: ", f);
    rein__ix_yaml_quote(f, cs[0]->cluster);
    fputs("\n              domains: [", f);
    rein__ix_yaml_quote(f, cs[0]->cluster);
    fputs("]\n              routes:\n", f);
    for (size_t i = 0; i < gsize[g]; i++) {
      exp_ X = {ix, cs[i]->loc, cs[i]->path};
      write_route(&X, f, cs[i]);
    }
  }
  fputs("  clusters:\n", f);
  for (size_t g = 0; ok && g < nclusters; g++)
    write_cluster(ix, f, groups[g], gsize[g]);
  bool budget = false;
  for (size_t i = 0; i < nc; i++)
    budget |= order[i]->sp.has_budget && order[i]->sp.policy.max_attempts > 1;
  rein_contract_loc none = {"", 0, 0};
  rein__ix_diag(ix, REIN_INTEROP_NOTE, none, "",
                "Envoy's retry N waits random[0, (2^N - 1) x base_interval) "
                "up to max_interval, rein's random[0, 2^(N-1) x base]: the "
                "same base, cap and jitter; Envoy's ceilings are longer "
                "before the cap");
  if (!budget)
    rein__ix_diag(ix, REIN_INTEROP_NOTE, none, "",
                  "no retry budget: Envoy then caps concurrent retries to "
                  "each cluster at max_retries (default 3), which the "
                  "contracts do not");
  free(done);
  free(group);
  free(firsts);
  free(gsize);
  free(groups);
  rein_free(&ix->alloc, calls);
  rein_free(&ix->alloc, order);
  if (fclose(f) != 0 || !ok) {
    free(text);
    return REIN_ENOMEM;
  }
  rein_status fin = rein__ix_finish_text(ix, text, tn, out, len);
  return fin != REIN_OK ? fin : st;
}

const ix_format rein__ix_envoy = {.name = "envoy",
                                  .yaml = true,
                                  .proto_names = true,
                                  .import = envoy_import,
                                  .export_ = envoy_export};
