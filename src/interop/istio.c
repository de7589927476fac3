/* SPDX-License-Identifier: Apache-2.0 */
/*
 * istio.c: Istio VirtualService retry settings <-> rein's policy model,
 * and the DestinationRules beside them (read, what bounds retries warned,
 * wired to the calls of their host; see the DestinationRule banner).
 *
 * The semantics followed are those of Istio's networking.istio.io/v1
 * VirtualService reference (HTTPRoute.timeout; HTTPRetry: attempts,
 * perTryTimeout, retryOn, retryRemoteLocalities, retryIgnorePreviousHosts,
 * backoff, the fields @kubernetes-models/istio 3.0.1 models) and of the
 * way Istio's control plane turns an HTTPRetry into an Envoy RetryPolicy
 * (pilot's route/retry ConvertPolicy):
 *
 *  - No `retries`: Istio's default policy, 2 retries on
 *    connect-failure,refused-stream,unavailable,cancelled,
 *    retriable-status-codes with no status codes (older releases also
 *    retried 503; a note says so). `attempts` counts retries, and 0 (or
 *    leaving it out) disables retries: rein's attempts are attempts + 1.
 *  - `retryOn` is Envoy's retry_on vocabulary (read by the Envoy importer's
 *    parser, rein__ix_envoy_retry_on), where an HTTP status is also a
 *    condition (Istio moves it to retriable_status_codes); empty means the
 *    default conditions above.
 *  - `perTryTimeout` is rein's attempt `timeout`; the route's `timeout`
 *    (default: none) is rein's `deadline`; `backoff` is Envoy's
 *    base_interval (default 25ms, the cap 10 x base), so the back-off is
 *    Envoy's fully jittered doubling (see envoy.c).
 *  - retryRemoteLocalities and retryIgnorePreviousHosts choose hosts, which
 *    rein does not: warnings.
 *
 * A file is one VirtualService, several as YAML documents ("---", with
 * DestinationRules; other kinds among them left out with a warning), or a
 * `kind: List` of them
 * (what `rein export istio` writes: one VirtualService per callee host, since a
 * VirtualService's rules apply to the traffic of its `hosts`), YAML or
 * JSON. Each route destination of each HTTP route is a call: the callee
 * is the destination host (every character a contract name cannot hold as
 * '-'), the operation the match's uri (exact "/v1/charge" is `v1-charge`,
 * prefix "/api/" `api-*`, none or prefix "/" `*`, regex `*`).
 */
#include "interop_internal.h"

#include "rein/input.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXM 64
#define NS_MS INT64_C(1000000)
#define ISTIO_BASE_DEFAULT (25 * NS_MS)

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

/* ------------------------------------------------------------- import */

typedef struct iimp {
  ix_doc *d;
  rein_interop *ix;
  size_t first;
  bool timeout_noted, default_noted, hosts_noted;
  const char *vs; /* metadata.name of the VirtualService being read */
} iimp;

static bool is_type(iimp *I, yaml_node_t *n, ix_jtype t, const char *path,
                    const char *want) {
  if (rein__ix_type(I->d, n) == t) return true;
  rein__ix_type_error(I->d, n, path, want);
  return false;
}

static bool get_string(iimp *I, yaml_node_t *n, const char *path,
                       const char **out) {
  if (!is_type(I, n, IX_J_STRING, path, "a string")) return false;
  *out = rein__ix_text(n);
  return true;
}

/* An Istio duration: Go's form ("1h", "1m30s", "250ms", "2s"; Istio's
 * reference says 1h/1m/1s/1ms, at least 1ms), which rein's duration
 * grammar reads but for its d, w and min units. */
static bool get_duration(iimp *I, yaml_node_t *n, const char *path,
                         int64_t *ns) {
  if (!is_type(I, n, IX_J_STRING, path, "a duration string such as \"2s\""))
    return false;
  const char *t = rein__ix_text(n);
  bool go = *t && !strpbrk(t, "dw") && !strstr(t, "min");
  if (!go || rein_parse_duration(t, ns) != REIN_OK) {
    rein__ix_error(I->d, n, path,
                   "'%.40s' is not a duration (Istio: a number and a unit, "
                   "h, m, s, ms, us or ns, as in \"2s\" or \"1m30s\")",
                   t);
    return false;
  }
  return true;
}

static void sanitize(const char *in, char *out, size_t cap) {
  rein__ix_sanitize(in, (size_t)-1, out, cap);
}

static void op_of(const char *kind, const char *value, char *out, size_t cap) {
  bool prefix = strcmp(kind, "prefix") == 0, exact = strcmp(kind, "exact") == 0;
  const char *v = value[0] == '/' ? value + 1 : value;
  if ((!prefix && !exact) || (prefix && !*v)) {
    snprintf(out, cap, "*");
    return;
  }
  char s[200];
  sanitize(v, s, sizeof s);
  if (exact && !*s) snprintf(s, sizeof s, "_");
  snprintf(out, cap, "%s%s", s, prefix ? "*" : "");
}

static const char *const retry_fields[] = {"attempts",
                                           "perTryTimeout",
                                           "retryOn",
                                           "retryRemoteLocalities",
                                           "retryIgnorePreviousHosts",
                                           "backoff",
                                           NULL};

/* Istio's policy when a route has no `retries`. */
static void default_policy(iimp *I, yaml_node_t *at, const char *path,
                           rein_policy_spec *sp) {
  bool rsc = false, rhd = false;
  rein__ix_envoy_retry_on(I->d, at, path,
                          "connect-failure,refused-stream,unavailable,"
                          "cancelled",
                          sp, false, &rsc, &rhd, &I->timeout_noted);
  sp->policy.max_attempts = 3;
  if (!I->default_noted) {
    I->default_noted = true;
    rein__ix_note(I->d, at, path,
                  "no retries: Istio's default policy, 2 retries on "
                  "connect-failure, refused-stream, unavailable, cancelled "
                  "(releases before the status-code list was dropped also "
                  "retried 503) (noted once per file)");
  }
}

static void retries(iimp *I, yaml_node_t *n, const char *path,
                    rein_policy_spec *sp) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRetry object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(I->d, n, path, retry_fields, m, MAXM);
  double attempts = 0;
  bool have_on = false, rsc = false, rhd = false, have_attempts = false;
  yaml_node_t *on = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "attempts") == 0) {
      double x; /* an integer field of the CRD: a number, never a string */
      if (is_type(I, v, IX_J_NUMBER, fp, "a whole number") &&
          rein__ix_get_number(I->d, v, fp, &x)) {
        if (x != floor(x) || x < 0 || x > 2147483647.0)
          rein__ix_error(I->d, v, fp,
                         "expected a whole number of retries >= 0, got %g", x);
        else {
          attempts = x;
          have_attempts = true;
        }
      }
    } else if (strcmp(key, "perTryTimeout") == 0) {
      int64_t ns;
      if (get_duration(I, v, fp, &ns)) {
        if (ns < NS_MS)
          rein__ix_error(I->d, v, fp,
                         "must be at least 1ms (Istio requires "
                         "it)");
        else
          rein__ix_set_model_duration(I->d, v, fp, sp, REIN_MODEL_CALL,
                                      "timeout", ns);
      }
    } else if (strcmp(key, "retryOn") == 0) {
      const char *t;
      if (get_string(I, v, fp, &t)) {
        on = v;
        have_on = strspn(t, " ,") < strlen(t);
        if (have_on)
          rein__ix_envoy_retry_on(I->d, v, fp, t, sp, true, &rsc, &rhd,
                                  &I->timeout_noted);
      }
    } else if (strcmp(key, "backoff") == 0) {
      int64_t ns;
      if (get_duration(I, v, fp, &ns)) {
        if (ns < NS_MS) {
          rein__ix_warn(I->d, v, fp,
                        "Envoy rounds a base interval below 1ms "
                        "up to 1ms: imported as 1ms");
          ns = NS_MS;
        }
        /* through the model, whose bounds the contract's are */
        if (rein__ix_set_model_duration(I->d, v, fp, sp, REIN_MODEL_BACKOFF,
                                        "base", ns))
          rein__ix_set_model_duration(
              I->d, v, fp, sp, REIN_MODEL_BACKOFF, "cap",
              rein__ix_backoff_cap(I->d, v, fp,
                                   ns > INT64_MAX / 10 ? INT64_MAX : 10 * ns));
      }
    } else { /* retryRemoteLocalities, retryIgnorePreviousHosts */
      if (is_type(I, v, IX_J_BOOL, fp, "true or false"))
        rein__ix_warn(I->d, m[i].k, fp,
                      "which hosts a retry goes to (%s): rein decides "
                      "whether and when to retry, not which host: left out",
                      strcmp(key, "retryRemoteLocalities") == 0
                          ? "other localities"
                          : "hosts tried before");
    }
  }
  if (!have_on) {
    rein__ix_envoy_retry_on(I->d, n, path,
                            "connect-failure,refused-stream,unavailable,"
                            "cancelled",
                            sp, false, &rsc, &rhd, &I->timeout_noted);
    rein__ix_note(I->d, on ? on : n, path,
                  "no retryOn: Istio's default conditions, connect-failure, "
                  "refused-stream, unavailable, cancelled");
  }
  /* at most 32 outcomes in a contract (rein__ix_when_fit) */
  rein__ix_when_fit(I->d, on ? on : n,
                    on ? rein__ix_path(fp, sizeof fp, path, "retryOn") : path,
                    sp);
  if (rhd)
    rein__ix_warn(I->d, on, rein__ix_path(fp, sizeof fp, path, "retryOn"),
                  "retriable-headers: Istio sets no retriable_headers, and "
                  "rein cannot retry on response headers: left out");
  if (!have_attempts)
    rein__ix_note(I->d, n, path,
                  "no attempts: Istio reads 0, which disables retries");
  if (attempts == 0 && k > (size_t)have_attempts) {
    /* Istio sets no retry policy at all: its other fields do nothing */
    sp->policy.attempt_timeout_ns = 0;
    rein__ix_note(I->d, n, path,
                  "at attempts 0 Istio sets no retry policy: perTryTimeout, "
                  "retryOn and backoff have no effect");
  }
  char t[24];
  snprintf(t, sizeof t, "%.0f", attempts + 1);
  rein__ix_set_model(I->d, n, path, sp, REIN_MODEL_RETRY, "attempts", t);
}

static void base_spec(rein_policy_spec *sp) {
  rein_policy_spec_default(sp);
  sp->policy.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  sp->policy.backoff.jitter = REIN_JITTER_FULL;
  sp->policy.backoff.base_ns = ISTIO_BASE_DEFAULT;
  sp->policy.backoff.cap_ns = 10 * ISTIO_BASE_DEFAULT;
  sp->policy.backoff.multiplier = 2;
  sp->signals = 0;
  rein_model_list_clear(sp, mf(REIN_MODEL_RETRY, "when"));
  sp->deadline_ns = 0; /* Istio: no route timeout unless given */
}

static const char *const match_fields[] = {"name",
                                           "uri",
                                           "scheme",
                                           "method",
                                           "authority",
                                           "headers",
                                           "port",
                                           "sourceLabels",
                                           "gateways",
                                           "queryParams",
                                           "ignoreUriCase",
                                           "withoutHeaders",
                                           "sourceNamespace",
                                           "statPrefix",
                                           NULL};
static const char *const sm_fields[] = {"exact", "prefix", "regex", NULL};

/* The uri of match `n`: its kind and value (kind "" when none). */
static void match(iimp *I, yaml_node_t *n, const char *path, const char **kind,
                  const char **value) {
  *kind = "";
  *value = "";
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPMatchRequest object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(I->d, n, path, match_fields, m, MAXM);
  char fp[256], other[256] = "";
  size_t o = 0;
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "uri") != 0) {
      if (strcmp(m[i].key, "name") != 0 && o < sizeof other)
        o += (size_t)snprintf(other + o, sizeof other - o, "%s%s",
                              o ? ", " : "", m[i].key);
      continue;
    }
    if (!is_type(I, m[i].v, IX_J_OBJECT, fp, "a StringMatch object")) continue;
    ix_member s[4];
    size_t sk = rein__ix_members(I->d, m[i].v, fp, sm_fields, s, 4);
    if (sk > 1) rein__ix_error(I->d, s[1].k, fp, "one of exact, prefix, regex");
    char sp[256];
    if (sk && get_string(I, s[0].v, rein__ix_path(sp, sizeof sp, fp, s[0].key),
                         value)) {
      *kind = s[0].key;
      if (strcmp(*kind, "regex") == 0)
        rein__ix_note(I->d, s[0].v, sp,
                      "a regex names no operation: the call is `*`");
    }
  }
  if (o)
    rein__ix_note(I->d, n, path,
                  "match conditions the call's name does not hold: %s", other);
}

static const char *const dest_fields[] = {"destination", "weight", "headers",
                                          NULL};
static const char *const d_fields[] = {"host", "subset", "port", NULL};

static void add_call(iimp *I, yaml_node_t *at, const char *route,
                     const char *kind, const char *value, const char *host,
                     const rein_policy_spec *spec) {
  char svc[160], op[220], to[400];
  sanitize(host, svc, sizeof svc);
  if (!*svc) snprintf(svc, sizeof svc, "_");
  op_of(kind, value, op, sizeof op);
  snprintf(to, sizeof to, "%s.%s", svc, op);
  for (unsigned dup = 2; dup < 10000; dup++) {
    bool seen = false;
    for (size_t i = I->first; i < I->ix->ncalls && !seen; i++)
      seen = strcmp(I->ix->calls[i].to, to) == 0;
    if (!seen) break;
    snprintf(to, sizeof to, "%s.%s-%u", svc, op, dup);
    if (dup == 2)
      rein__ix_note(I->d, at, "",
                    "a second route to %s.%s (they differ by what the "
                    "call's name does not hold): named %s",
                    svc, op, to);
  }
  rein_interop_call c;
  c.spec = *spec;
  c.loc = rein__ix_loc(I->d, at);
  c.to = rein__ix_strdup(I->ix, to);
  c.origin =
      rein__ix_printf(I->ix, "%s:%u:%u %s/%s: %s %s -> %s", I->d->file,
                      c.loc.line, c.loc.col, I->vs ? I->vs : "", route,
                      *kind ? kind : "prefix", *kind ? value : "/", host);
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(I->ix, &c);
}

static const char *const http_fields[] = {"name",
                                          "match",
                                          "route",
                                          "redirect",
                                          "directResponse",
                                          "delegate",
                                          "rewrite",
                                          "timeout",
                                          "retries",
                                          "fault",
                                          "mirror",
                                          "mirrors",
                                          "mirrorPercentage",
                                          "mirrorPercent",
                                          "corsPolicy",
                                          "headers",
                                          NULL};

static void http_route(iimp *I, yaml_node_t *n, const char *path, size_t idx) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an HTTPRoute object")) return;
  ix_member m[MAXM];
  size_t k = rein__ix_members(I->d, n, path, http_fields, m, MAXM);
  rein_policy_spec sp;
  base_spec(&sp);
  yaml_node_t *matches = NULL, *dests = NULL, *rt = NULL;
  const char *name = NULL;
  char fp[256], rname[160];
  ix_leftout L = {{0}, 0};
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "name") == 0) {
      get_string(I, v, fp, &name);
    } else if (strcmp(key, "match") == 0) {
      if (is_type(I, v, IX_J_ARRAY, fp, "an array of HTTPMatchRequest"))
        matches = v;
    } else if (strcmp(key, "route") == 0) {
      if (is_type(I, v, IX_J_ARRAY, fp, "an array of HTTPRouteDestination"))
        dests = v;
    } else if (strcmp(key, "timeout") == 0) {
      int64_t ns;
      if (get_duration(I, v, fp, &ns))
        rein__ix_set_model_duration(I->d, v, fp, &sp, REIN_MODEL_CALL,
                                    "deadline", ns);
    } else if (strcmp(key, "retries") == 0) {
      rt = v;
    } else if (strcmp(key, "delegate") == 0) {
      rein__ix_warn(I->d, m[i].k, fp,
                    "the routes are in another VirtualService: import that "
                    "one; nothing is imported from this route");
      return;
    } else if (strcmp(key, "redirect") == 0 ||
               strcmp(key, "directResponse") == 0) {
      rein__ix_note(I->d, m[i].k, fp,
                    "answered by the proxy, no upstream call: nothing to "
                    "import");
      return;
    } else if (strcmp(key, "mirror") == 0 || strcmp(key, "mirrors") == 0) {
      rein__ix_warn(I->d, m[i].k, fp,
                    "mirrored traffic is an extra call rein does not "
                    "represent: left out");
    } else {
      rein__ix_leftout_add(&L, key);
    }
  }
  rein__ix_leftout_note(I->d, n, path, &L);
  rein__ix_path(fp, sizeof fp, path, "retries");
  if (rt)
    retries(I, rt, fp, &sp);
  else
    default_policy(I, n, fp, &sp);
  if (!dests || !rein__ix_len(dests)) {
    rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "route"),
                   "missing or empty (an HTTP route needs a destination, a "
                   "redirect, a direct response or a delegate)");
    return;
  }
  snprintf(rname, sizeof rname, "%s", name ? name : "");
  if (!name) snprintf(rname, sizeof rname, "http[%zu]", idx);
  size_t nm = matches ? rein__ix_len(matches) : 0;
  for (size_t mi = 0; mi < (nm ? nm : 1); mi++) {
    const char *kind = "", *value = "";
    char mp[256];
    yaml_node_t *mn = nm ? rein__ix_item(I->d, matches, mi) : n;
    if (nm) {
      rein__ix_path(fp, sizeof fp, path, "match");
      match(I, mn, rein__ix_path_i(mp, sizeof mp, fp, mi), &kind, &value);
    }
    const char *hosts[64];
    size_t nh = 0;
    rein__ix_path(fp, sizeof fp, path, "route");
    for (size_t j = 0; j < rein__ix_len(dests); j++) {
      yaml_node_t *dn = rein__ix_item(I->d, dests, j);
      char dp[256];
      rein__ix_path_i(dp, sizeof dp, fp, j);
      if (!is_type(I, dn, IX_J_OBJECT, dp, "an HTTPRouteDestination object"))
        continue;
      ix_member dm[4];
      size_t dk = rein__ix_members(I->d, dn, dp, dest_fields, dm, 4);
      yaml_node_t *dest = NULL;
      for (size_t i = 0; i < dk; i++)
        if (strcmp(dm[i].key, "destination") == 0) dest = dm[i].v;
      char ddp[256];
      rein__ix_path(ddp, sizeof ddp, dp, "destination");
      if (!dest) {
        if (mi == 0) rein__ix_error(I->d, dn, ddp, "missing");
        continue;
      }
      if (!is_type(I, dest, IX_J_OBJECT, ddp, "a Destination object")) continue;
      ix_member hm[4];
      size_t hk = rein__ix_members(I->d, dest, ddp, d_fields, hm, 4);
      const char *host = NULL;
      for (size_t i = 0; i < hk; i++) {
        char hp[256];
        rein__ix_path(hp, sizeof hp, ddp, hm[i].key);
        if (strcmp(hm[i].key, "host") == 0)
          get_string(I, hm[i].v, hp, &host);
        else if (mi == 0)
          rein__ix_note(I->d, hm[i].k, hp,
                        "a %s of the host: the call is to the host", hm[i].key);
      }
      if (!host) {
        char hp[256];
        if (mi == 0)
          rein__ix_error(I->d, dest, rein__ix_path(hp, sizeof hp, ddp, "host"),
                         "missing (Istio requires it)");
        continue;
      }
      bool seen = false;
      for (size_t h = 0; h < nh && !seen; h++)
        seen = strcmp(hosts[h], host) == 0;
      if (seen) {
        if (mi == 0)
          rein__ix_note(I->d, dn, dp,
                        "another subset or port of %s: one call for the "
                        "host, with the route's policy",
                        host);
        continue;
      }
      if (nh == 64) {
        rein__ix_error(I->d, dn, dp, "more than 64 destination hosts");
        continue;
      }
      hosts[nh++] = host;
      add_call(I, nm ? mn : dn, rname, kind, value, host, &sp);
    }
  }
}

/* ---------------------------------------------------- DestinationRule */

/*
 * A DestinationRule's traffic policy (Istio's networking.istio.io/v1
 * DestinationRule reference; the fields @kubernetes-models/istio 3.0.1
 * models) bounds retries in two places, both Envoy cluster settings that
 * Istio's control plane writes: connectionPool.http.maxRetries is the
 * cluster's circuit_breakers max_retries (a cap on concurrent retries),
 * and outlierDetection is the cluster's outlier_detection (hosts ejected
 * after consecutive errors). rein represents neither (the Envoy importer's
 * mapping, rein__ix_envoy_max_retries and rein__ix_envoy_outlier: warnings
 * at the fields); the other concurrency limits are Envoy circuit breakers
 * too (warnings), the rest is not retry settings (a note). Each rule is
 * wired to the calls of the file whose destination host it names: a note
 * after the file's last document lists them.
 */

#define MAX_DR 64

typedef struct idr {
  const char *name, *host, *field;
  rein_contract_loc loc;
} idr;
typedef struct idrs {
  size_t n;
  idr r[MAX_DR];
} idrs;

static const char *const dr_spec_fields[] = {
    "host", "trafficPolicy", "subsets", "exportTo", "workloadSelector", NULL};
static const char *const tp_fields[] = {
    "loadBalancer",      "connectionPool", "outlierDetection", "tls",
    "portLevelSettings", "tunnel",         "proxyProtocol",    NULL};
static const char *const pls_fields[] = {
    "port", "loadBalancer", "connectionPool", "outlierDetection", "tls", NULL};
static const char *const cp_fields[] = {"tcp", "http", NULL};
static const char *const cph_fields[] = {"http1MaxPendingRequests",
                                         "http2MaxRequests",
                                         "maxRequestsPerConnection",
                                         "maxRetries",
                                         "idleTimeout",
                                         "h2UpgradePolicy",
                                         "useClientProtocol",
                                         "maxConcurrentStreams",
                                         NULL};
static const char *const cpt_fields[] = {
    "maxConnections",        "connectTimeout", "tcpKeepalive",
    "maxConnectionDuration", "idleTimeout",    NULL};
static const char *const od_fields[] = {"consecutiveErrors",
                                        "consecutive5xxErrors",
                                        "consecutiveGatewayErrors",
                                        "consecutiveLocalOriginFailures",
                                        "splitExternalLocalOriginErrors",
                                        "interval",
                                        "baseEjectionTime",
                                        "maxEjectionPercent",
                                        "minHealthPercent",
                                        NULL};
static const char *const subset_fields[] = {"name", "labels", "trafficPolicy",
                                            NULL};

/* An integer field of the CRD: a whole number in [lo, hi]. */
static bool get_int(iimp *I, yaml_node_t *n, const char *path, double lo,
                    double hi, double *out) {
  return rein__ix_get_int(I->d, n, path, lo, hi, out);
}

static void outlier(iimp *I, yaml_node_t *n, yaml_node_t *key,
                    const char *path) {
  if (!is_type(I, n, IX_J_OBJECT, path, "an OutlierDetection object")) return;
  ix_member m[16];
  size_t k = rein__ix_members(I->d, n, path, od_fields, m, 16);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *f = m[i].key;
    rein__ix_path(fp, sizeof fp, path, f);
    double x;
    int64_t ns;
    if (strcmp(f, "interval") == 0 || strcmp(f, "baseEjectionTime") == 0) {
      if (get_duration(I, m[i].v, fp, &ns) && ns < NS_MS)
        rein__ix_error(I->d, m[i].v, fp,
                       "must be at least 1ms (Istio "
                       "requires it)");
    } else if (strcmp(f, "maxEjectionPercent") == 0 ||
               strcmp(f, "minHealthPercent") == 0) {
      get_int(I, m[i].v, fp, 0, 100, &x);
    } else if (strcmp(f, "splitExternalLocalOriginErrors") == 0) {
      is_type(I, m[i].v, IX_J_BOOL, fp, "true or false");
    } else {
      if (get_int(I, m[i].v, fp, 0, 4294967295.0, &x) &&
          strcmp(f, "consecutiveErrors") == 0)
        rein__ix_note(I->d, m[i].k, fp,
                      "deprecated: Istio reads it as consecutive5xxErrors");
    }
  }
  rein__ix_envoy_outlier(I->d, key, path);
}

static void connection_pool(iimp *I, yaml_node_t *n, const char *path) {
  if (!is_type(I, n, IX_J_OBJECT, path, "a ConnectionPoolSettings object"))
    return;
  ix_member m[4];
  size_t k = rein__ix_members(I->d, n, path, cp_fields, m, 4);
  char fp[256], vp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    bool http = strcmp(m[i].key, "http") == 0;
    if (!is_type(I, m[i].v, IX_J_OBJECT, fp,
                 http ? "an HTTPSettings object" : "a TCPSettings object"))
      continue;
    ix_member s[16];
    size_t sk = rein__ix_members(I->d, m[i].v, fp,
                                 http ? cph_fields : cpt_fields, s, 16);
    ix_leftout L = {{0}, 0};
    for (size_t j = 0; j < sk; j++) {
      const char *f = s[j].key;
      rein__ix_path(vp, sizeof vp, fp, f);
      double x;
      int64_t ns;
      if (strcmp(f, "idleTimeout") == 0 || strcmp(f, "connectTimeout") == 0 ||
          strcmp(f, "maxConnectionDuration") == 0) {
        if (get_duration(I, s[j].v, vp, &ns)) rein__ix_leftout_add(&L, f);
      } else if (strcmp(f, "h2UpgradePolicy") == 0) {
        const char *t;
        if (get_string(I, s[j].v, vp, &t) && strcmp(t, "DEFAULT") &&
            strcmp(t, "DO_NOT_UPGRADE") && strcmp(t, "UPGRADE"))
          rein__ix_error(I->d, s[j].v, vp,
                         "expected DEFAULT, DO_NOT_UPGRADE or UPGRADE, got "
                         "'%.40s'",
                         t);
      } else if (strcmp(f, "useClientProtocol") == 0) {
        is_type(I, s[j].v, IX_J_BOOL, vp, "true or false");
      } else if (strcmp(f, "tcpKeepalive") == 0) {
        if (is_type(I, s[j].v, IX_J_OBJECT, vp, "a TcpKeepalive object"))
          rein__ix_leftout_add(&L, f);
      } else if (get_int(I, s[j].v, vp, 0, 2147483647.0, &x)) {
        if (strcmp(f, "maxRetries") == 0)
          rein__ix_envoy_max_retries(I->d, s[j].v, vp, false);
        else if (strcmp(f, "maxRequestsPerConnection") == 0)
          rein__ix_leftout_add(&L, f);
        else /* the cluster's circuit breakers (Envoy's thresholds) */
          rein__ix_warn(I->d, s[j].k, vp,
                        "a circuit breaker of Envoy is a concurrency limit, "
                        "not rein's failure-rate breaker: left out");
      }
    }
    rein__ix_leftout_note(I->d, m[i].k, fp, &L);
  }
}

static void traffic_policy(iimp *I, yaml_node_t *n, const char *path,
                           bool port_level) {
  if (!is_type(I, n, IX_J_OBJECT, path,
               port_level ? "a PortTrafficPolicy object"
                          : "a TrafficPolicy object"))
    return;
  ix_member m[16];
  size_t k = rein__ix_members(I->d, n, path,
                              port_level ? pls_fields : tp_fields, m, 16);
  char fp[256];
  ix_leftout L = {{0}, 0};
  for (size_t i = 0; i < k; i++) {
    const char *f = m[i].key;
    rein__ix_path(fp, sizeof fp, path, f);
    if (strcmp(f, "connectionPool") == 0) {
      connection_pool(I, m[i].v, fp);
    } else if (strcmp(f, "outlierDetection") == 0) {
      outlier(I, m[i].v, m[i].k, fp);
    } else if (strcmp(f, "portLevelSettings") == 0) {
      if (!is_type(I, m[i].v, IX_J_ARRAY, fp, "an array of PortTrafficPolicy"))
        continue;
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char ip[256];
        traffic_policy(I, rein__ix_item(I->d, m[i].v, j),
                       rein__ix_path_i(ip, sizeof ip, fp, j), true);
      }
    } else {
      rein__ix_leftout_add(&L, f);
    }
  }
  rein__ix_leftout_note(I->d, n, path, &L);
}

/* A DestinationRule's spec (`fp`), metadata.name `name`. */
static void destination_rule(iimp *I, yaml_node_t *n, yaml_node_t *spec,
                             const char *fp, const char *name) {
  if (!spec) {
    rein__ix_error(I->d, n, fp, "missing");
    return;
  }
  if (!is_type(I, spec, IX_J_OBJECT, fp, "a DestinationRule spec")) return;
  ix_member m[8];
  size_t k = rein__ix_members(I->d, spec, fp, dr_spec_fields, m, 8);
  const char *host = NULL;
  char sp[256];
  for (size_t i = 0; i < k; i++) {
    const char *f = m[i].key;
    rein__ix_path(sp, sizeof sp, fp, f);
    if (strcmp(f, "host") == 0) {
      get_string(I, m[i].v, sp, &host);
    } else if (strcmp(f, "trafficPolicy") == 0) {
      traffic_policy(I, m[i].v, sp, false);
    } else if (strcmp(f, "subsets") == 0) {
      if (!is_type(I, m[i].v, IX_J_ARRAY, sp, "an array of Subset")) continue;
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char ip[256], tp[256];
        yaml_node_t *s = rein__ix_item(I->d, m[i].v, j);
        rein__ix_path_i(ip, sizeof ip, sp, j);
        if (!is_type(I, s, IX_J_OBJECT, ip, "a Subset object")) continue;
        ix_member sm[4];
        size_t sk = rein__ix_members(I->d, s, ip, subset_fields, sm, 4);
        bool named = false;
        for (size_t x = 0; x < sk; x++) {
          rein__ix_path(tp, sizeof tp, ip, sm[x].key);
          const char *t;
          if (strcmp(sm[x].key, "name") == 0)
            named = get_string(I, sm[x].v, tp, &t);
          else if (strcmp(sm[x].key, "trafficPolicy") == 0)
            traffic_policy(I, sm[x].v, tp, false);
          else
            is_type(I, sm[x].v, IX_J_OBJECT, tp, "a map of labels");
        }
        if (!named)
          rein__ix_error(I->d, s, rein__ix_path(tp, sizeof tp, ip, "name"),
                         "missing (Istio requires it)");
      }
    } else if (strcmp(f, "exportTo") == 0) {
      is_type(I, m[i].v, IX_J_ARRAY, sp, "an array of strings");
    } else {
      is_type(I, m[i].v, IX_J_OBJECT, sp, "a WorkloadSelector object");
    }
  }
  if (!host) {
    if (I->ix->errors == 0 || !k)
      rein__ix_error(I->d, spec, rein__ix_path(sp, sizeof sp, fp, "host"),
                     "missing (Istio requires it)");
    return;
  }
  idrs *R = I->d->state;
  if (!R) R = I->d->state = rein__ix_alloc(I->ix, sizeof *R);
  if (!R || R->n == MAX_DR) {
    if (R)
      rein__ix_error(I->d, n, fp, "more than %d DestinationRules in one file",
                     MAX_DR);
    return;
  }
  idr *r = &R->r[R->n++];
  r->name = rein__ix_strdup(I->ix, name ? name : "");
  r->host = rein__ix_strdup(I->ix, host);
  r->field = rein__ix_strdup(I->ix, rein__ix_path(sp, sizeof sp, fp, "host"));
  r->loc = rein__ix_loc(I->d, n);
}

/* Does a DestinationRule's `rule` host name the destination `host`? The
 * same name, a short name of it (`reviews` for reviews.prod.svc...: Istio
 * resolves short names in the rule's namespace, which rein assumes is the
 * route's), or a wildcard (`*.example.com`). */
static bool host_match(const char *rule, const char *host) {
  if (strcmp(rule, host) == 0 || strcmp(rule, "*") == 0) return true;
  size_t rl = strlen(rule), hl = strlen(host);
  if (rule[0] == '*' && rule[1] == '.')
    return hl > rl - 1 && strcmp(host + hl - (rl - 1), rule + 1) == 0;
  if (!strchr(rule, '.') && hl > rl && strncmp(host, rule, rl) == 0 &&
      host[rl] == '.')
    return true;
  return !strchr(host, '.') && rl > hl && strncmp(rule, host, hl) == 0 &&
         rule[hl] == '.';
}

/* After the file's last document: which calls each rule bounds. */
static void wire_rules(iimp *I) {
  const idrs *R = I->d->state;
  for (size_t i = 0; R && i < R->n; i++) {
    const idr *r = &R->r[i];
    char list[512] = "";
    size_t o = 0, n = 0;
    for (size_t c = I->d->first_call; c < I->ix->ncalls; c++) {
      const rein_interop_call *call = &I->ix->calls[c];
      const char *h = NULL;
      for (const char *a = strstr(call->origin, " -> "); a;
           a = strstr(a + 1, " -> "))
        h = a + 4;
      if (!h || !host_match(r->host, h)) continue;
      n++;
      if (o < sizeof list)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "",
                              call->to);
    }
    if (n)
      rein__ix_diag(I->ix, REIN_INTEROP_NOTE, r->loc, r->field,
                    "DestinationRule %s (host %s) applies to %zu call%s of "
                    "this file: %s; what it bounds is warned above",
                    r->name, r->host, n, n == 1 ? "" : "s", list);
    else
      rein__ix_diag(I->ix, REIN_INTEROP_NOTE, r->loc, r->field,
                    "DestinationRule %s: no route of this file goes to host "
                    "%s; give it with the VirtualService that does",
                    r->name, r->host);
  }
}

static const char *const spec_fields[] = {"hosts", "gateways", "http", "tls",
                                          "tcp",   "exportTo", NULL};

/* Is `api` (of object `n` at `path`) one of Istio's networking versions?
 * An error when not. */
static bool api_ok(iimp *I, yaml_node_t *n, const char *path, const char *api) {
  if (api && (strcmp(api, "networking.istio.io/v1") == 0 ||
              strcmp(api, "networking.istio.io/v1beta1") == 0 ||
              strcmp(api, "networking.istio.io/v1alpha3") == 0))
    return true;
  char fp[256];
  rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "apiVersion"),
                 "%s%.60s%s: expected networking.istio.io/v1, v1beta1 or "
                 "v1alpha3",
                 api ? "'" : "missing", api ? api : "", api ? "'" : "");
  return false;
}

static void virtual_service(iimp *I, yaml_node_t *n, const char *path,
                            bool in_list) {
  ix_k8s_head h;
  I->vs = NULL;
  if (!rein__ix_k8s_head(I->d, n, path, "a VirtualService object", &h)) return;
  yaml_node_t *spec = h.spec;
  const char *api = h.api, *kind = h.kind;
  char fp[256];
  I->vs = h.name;
  if (kind && strcmp(kind, "DestinationRule") == 0) {
    if (!api_ok(I, n, path, api)) return;
    destination_rule(I, n, spec, rein__ix_path(fp, sizeof fp, path, "spec"),
                     I->vs);
    return;
  }
  if (in_list && kind && strcmp(kind, "VirtualService") != 0) {
    /* a manifest list mixes kinds: the others are not retry settings rein
     * reads (DestinationRule, Service, Deployment, ...) */
    rein__ix_warn(I->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                  "'%.40s': rein imports Istio's VirtualService and "
                  "DestinationRule only: left out",
                  kind);
    return;
  }
  if (!kind || strcmp(kind, "VirtualService") != 0) {
    rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "kind"),
                   "%s%.40s%s: rein imports Istio's VirtualService (its HTTP "
                   "routes' retries and timeout) and DestinationRule",
                   kind ? "'" : "missing", kind ? kind : "", kind ? "'" : "");
    return;
  }
  if (!api_ok(I, n, path, api)) return;
  rein__ix_path(fp, sizeof fp, path, "spec");
  if (!spec) {
    rein__ix_error(I->d, n, fp, "missing");
    return;
  }
  if (!is_type(I, spec, IX_J_OBJECT, fp, "a VirtualService spec")) return;
  ix_member sm[8];
  size_t sk = rein__ix_members(I->d, spec, fp, spec_fields, sm, 8);
  bool http = false;
  for (size_t i = 0; i < sk; i++) {
    char sp[256];
    rein__ix_path(sp, sizeof sp, fp, sm[i].key);
    if (strcmp(sm[i].key, "http") == 0) {
      if (!is_type(I, sm[i].v, IX_J_ARRAY, sp, "an array of HTTPRoute"))
        continue;
      http = true;
      for (size_t j = 0; j < rein__ix_len(sm[i].v); j++) {
        char ip[256];
        http_route(I, rein__ix_item(I->d, sm[i].v, j),
                   rein__ix_path_i(ip, sizeof ip, sp, j), j);
      }
    } else if (strcmp(sm[i].key, "tls") == 0 || strcmp(sm[i].key, "tcp") == 0) {
      if (is_type(I, sm[i].v, IX_J_ARRAY, sp, "an array of routes") &&
          rein__ix_len(sm[i].v))
        rein__ix_warn(I->d, sm[i].k, sp,
                      "%s routes: Istio retries HTTP only, and rein imports "
                      "HTTP routes: left out",
                      sm[i].key);
    } else if (strcmp(sm[i].key, "hosts") == 0 ||
               strcmp(sm[i].key, "gateways") == 0 ||
               strcmp(sm[i].key, "exportTo") == 0) {
      if (!is_type(I, sm[i].v, IX_J_ARRAY, sp, "an array of strings")) continue;
      for (size_t j = 0; j < rein__ix_len(sm[i].v); j++) {
        char ip[256];
        const char *t;
        get_string(I, rein__ix_item(I->d, sm[i].v, j),
                   rein__ix_path_i(ip, sizeof ip, sp, j), &t);
      }
      if (strcmp(sm[i].key, "hosts") != 0 || I->hosts_noted) continue;
      I->hosts_noted = true;
      rein__ix_note(I->d, sm[i].k, sp,
                    "the calls are named by their destination hosts, not by "
                    "the VirtualService's hosts (noted once per file)");
    }
  }
  if (!http)
    rein__ix_error(I->d, spec, fp, "no http routes: nothing to import");
}

static void istio_import(rein_interop *ix, ix_doc *d) {
  yaml_node_t *root = rein__ix_root(d);
  iimp I;
  memset(&I, 0, sizeof I);
  I.d = d;
  I.ix = ix;
  I.first = ix->ncalls;
  yaml_node_t *items;
  int shape = rein__ix_k8s_root(d, "a VirtualService object, or a List of them",
                                &items);
  if (!shape || (shape == 2 && !items)) return;
  if (shape == 2) { /* a kubectl List */
    for (size_t j = 0; j < rein__ix_len(items); j++) {
      char ip[64];
      virtual_service(&I, rein__ix_item(d, items, j),
                      rein__ix_path_i(ip, sizeof ip, "items", j), true);
    }
  } else {
    /* one of several documents ("---"): other kinds are left out */
    virtual_service(&I, root, "", d->nmore > 0);
  }
  /* after the file's last document: nothing at all is an error */
  if (d->doc_index == d->nmore && ix->ncalls == d->first_call && !ix->errors)
    rein__ix_error(d, root, "",
                   "no route to a destination: nothing to "
                   "import%s",
                   d->state ? " (a DestinationRule makes no call: give it "
                              "with the VirtualService of its host)"
                            : "");
  else if (d->doc_index == d->nmore && !ix->errors)
    wire_rules(&I);
}

/* ------------------------------------------------------------- export */

typedef struct icall {
  const char *to;
  rein_contract_loc loc;
  char path[32];
  rein_policy_spec sp;
  char host[200];
  char kind[16]; /* exact, prefix, regex, or "" (every operation) */
  char value[400];
} icall;

static void ewarn(rein_interop *ix, const icall *c, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ewarn(rein_interop *ix, const icall *c, const char *field,
                  const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s%s%s", c->path, *field ? "." : "", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, REIN_INTEROP_WARNING, c->loc, fp, fmt, ap);
  va_end(ap);
}

/* The destination and match of a call: its origin's when that still names
 * it (an import from Istio), else its name's. */
static void call_route(icall *c, const char *origin) {
  const char *dot = strchr(c->to, '.');
  size_t sl = dot ? (size_t)(dot - c->to) : strlen(c->to);
  const char *op = dot ? dot + 1 : "*";
  const char *arrow = origin ? strstr(origin, " -> ") : NULL;
  for (const char *a = arrow; a; a = strstr(a + 1, " -> "))
    arrow = a;
  /* "FILE:L:C VS/ROUTE: KIND VALUE -> HOST": the value may hold ": " (a
   * regex), so the first ": " followed by a match kind Istio has, whose
   * match still names this call, is taken */
  for (const char *p = origin; arrow && p < arrow; p++) {
    if (p[0] != ':' || p[1] != ' ') continue;
    const char *k = p + 2, *sp = strchr(k, ' ');
    if (!sp || sp > arrow) continue;
    char kind[16], value[400], host[200], s[200], o[220];
    snprintf(kind, sizeof kind, "%.*s", (int)(sp - k), k);
    if (strcmp(kind, "exact") && strcmp(kind, "prefix") &&
        strcmp(kind, "regex"))
      continue;
    snprintf(value, sizeof value, "%.*s", (int)(arrow - sp - 1), sp + 1);
    snprintf(host, sizeof host, "%s", arrow + 4);
    sanitize(host, s, sizeof s);
    op_of(kind, value, o, sizeof o);
    if (strlen(s) == sl && strncmp(s, c->to, sl) == 0 && strcmp(o, op) == 0) {
      snprintf(c->kind, sizeof c->kind, "%s", kind);
      snprintf(c->value, sizeof c->value, "%s", value);
      snprintf(c->host, sizeof c->host, "%s", host);
      if (strcmp(c->kind, "prefix") == 0 && strcmp(c->value, "/") == 0)
        c->kind[0] = 0;
      return;
    }
  }
  snprintf(c->host, sizeof c->host, "%.*s", (int)sl, c->to);
  size_t ol = strlen(op);
  if (strcmp(op, "*") == 0) {
    c->kind[0] = 0;
  } else if (op[ol - 1] == '*') {
    snprintf(c->kind, sizeof c->kind, "prefix");
    snprintf(c->value, sizeof c->value, "/%.*s", (int)(ol - 1), op);
  } else {
    snprintf(c->kind, sizeof c->kind, "exact");
    snprintf(c->value, sizeof c->value, "/%s", strcmp(op, "_") ? op : "");
  }
}

/* Istio takes the first matching route: exact paths, regexes, the longer
 * prefixes, then every operation. */
static int rank(const icall *c) {
  if (!c->kind[0]) return 3;
  if (strcmp(c->kind, "exact") == 0) return 0;
  return strcmp(c->kind, "regex") == 0 ? 1 : 2;
}

static int route_cmp(const void *a, const void *b) {
  const icall *x = *(const icall *const *)a, *y = *(const icall *const *)b;
  int rx = rank(x), ry = rank(y);
  if (rx != ry) return rx - ry;
  size_t lx = strlen(x->value), ly = strlen(y->value);
  if (rx == 2 && lx != ly) return lx > ly ? -1 : 1;
  return strcmp(x->value, y->value);
}

/* ns as a Go duration Istio reads ("24h", "90s", "1500ms"): the largest
 * unit that holds it exactly (rein's own form has d and w, Go's not). */
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

/* What Istio's HTTPRetry cannot say of the call's policy. */
static void lost(rein_interop *ix, const icall *c) {
  const rein_policy_spec *sp = &c->sp;
  const rein_backoff_config *b = &sp->policy.backoff;
  if (b->kind == REIN_BACKOFF_EXPONENTIAL && b->multiplier != 2)
    ewarn(ix, c, "retry.backoff.multiplier",
          "Istio's back-off is Envoy's doubling: multiplier %g cannot be "
          "expressed, written as 2",
          b->multiplier);
  if (b->kind != REIN_BACKOFF_EXPONENTIAL)
    ewarn(ix, c, "retry.backoff.kind",
          "%s growth has no Istio form: written as Envoy's doubling from "
          "base (cap 10 x base)",
          b->kind == REIN_BACKOFF_CONSTANT ? "constant"
          : b->kind == REIN_BACKOFF_LINEAR ? "linear"
                                           : "no delay: 1ms and");
  int64_t base = b->kind == REIN_BACKOFF_NONE ? NS_MS : b->base_ns;
  if (base < NS_MS) {
    ewarn(ix, c, "retry.backoff.base",
          "Envoy rounds a base interval below 1ms up to 1ms: written as 1ms");
    base = NS_MS;
  }
  if (b->kind == REIN_BACKOFF_EXPONENTIAL && b->cap_ns != 10 * base)
    ewarn(ix, c, "retry.backoff.cap",
          "Istio sets only the base interval; Envoy caps at 10 x base: cap "
          "cannot be expressed");
  if (b->jitter != REIN_JITTER_FULL)
    ewarn(ix, c, "retry.backoff.jitter",
          "Envoy always draws full jitter: cannot be expressed, runs as "
          "full");
  if (sp->signals)
    ewarn(ix, c, "retry.signals",
          "Istio sets no reset headers (Envoy's rate_limited_retry_back_off) "
          "and reads no other server signal: left out");
  if (sp->has_budget)
    ewarn(ix, c, "retry.budget",
          "a VirtualService has no retry budget (Envoy's cluster "
          "retry_budget is not set by Istio): left out");
  if (sp->policy.window_ns > 0)
    ewarn(ix, c, "retry.window",
          "Istio has no retry window (the route's timeout bounds every "
          "retry): left out");
  if (sp->policy.expected_attempt_ns > 0)
    ewarn(ix, c, "retry.expected_attempt", "no Istio form: left out");
  if (!sp->policy.idempotent)
    ewarn(ix, c, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, Istio retries it whatever (no such gate)");
  if (sp->policy.key_retention_ns > 0)
    ewarn(ix, c, "key_ttl",
          "the callee's idempotency-key TTL has no Istio form: left out");
  if (sp->has_breaker)
    ewarn(ix, c, "retry.breaker",
          "Istio's outlier detection ejects hosts; it is not rein's "
          "failure-rate breaker: left out");
  if (sp->has_throttle)
    ewarn(ix, c, "retry.throttle",
          "Istio has no adaptive (client-side) throttle: left out");
}

static void write_route(rein_interop *ix, FILE *f, const icall *c) {
  const rein_policy_spec *sp = &c->sp;
  fputs("    - name: ", f);
  rein__ix_yaml_quote(f, c->to);
  fputc('\n', f);
  if (c->kind[0]) {
    fprintf(f, "      match:\n      - uri:\n          %s: ", c->kind);
    rein__ix_yaml_quote(f, c->value);
    fputc('\n', f);
  }
  fputs("      route:\n      - destination:\n          host: ", f);
  rein__ix_yaml_quote(f, c->host);
  fputc('\n', f);
  if (sp->deadline_ns > 0) {
    fputs("      timeout: ", f);
    qdur(f, sp->deadline_ns < NS_MS ? NS_MS : sp->deadline_ns);
    fputc('\n', f);
    if (sp->deadline_ns < NS_MS)
      ewarn(ix, c, "deadline",
            "Istio's timeout is at least 1ms: written as "
            "1ms");
  }
  unsigned retries = sp->policy.max_attempts - 1;
  fprintf(f, "      retries:\n        attempts: %u\n", retries);
  if (!retries) {
    if (sp->policy.attempt_timeout_ns)
      ewarn(ix, c, "timeout",
            "an attempt timeout without retries: Istio drops the retry "
            "policy (perTryTimeout with it) at attempts 0: left out");
    return;
  }
  if (sp->policy.attempt_timeout_ns) {
    int64_t t = sp->policy.attempt_timeout_ns;
    if (t < NS_MS) {
      ewarn(ix, c, "timeout",
            "Istio's perTryTimeout is at least 1ms: "
            "written as 1ms");
      t = NS_MS;
    }
    fputs("        perTryTimeout: ", f);
    qdur(f, t);
    fputc('\n', f);
  }
  char list[4096]; /* tokens and up to 500 statuses of 4 bytes: no cut */
  unsigned codes[600];
  size_t nc =
      rein__ix_envoy_when(ix, c->loc, c->path, sp, list, sizeof list, codes);
  size_t o = strlen(list);
  for (size_t i = 0; i < nc; i++)
    o += (size_t)snprintf(list + o, sizeof list - o, "%s%u", o ? "," : "",
                          codes[i]);
  if (!*list) {
    /* an empty retryOn would be Istio's default conditions */
    snprintf(list, sizeof list, "retriable-status-codes");
    ewarn(ix, c, "retry.when",
          "retries nothing Istio can name: written as retriable-status-codes "
          "with no status (which retries nothing; an empty retryOn would "
          "be Istio's default conditions)");
  }
  fputs("        retryOn: ", f);
  rein__ix_yaml_quote(f, list);
  fputc('\n', f);
  const rein_backoff_config *b = &sp->policy.backoff;
  int64_t base = b->kind == REIN_BACKOFF_NONE ? NS_MS : b->base_ns;
  if (base < NS_MS) base = NS_MS;
  if (base != ISTIO_BASE_DEFAULT) {
    fputs("        backoff: ", f);
    qdur(f, base);
    fputc('\n', f);
  }
  lost(ix, c);
}

static rein_status istio_export(rein_interop *ix, const rein_contract_set *s,
                                const char *caller, char **out, size_t *len) {
  size_t n = rein_contract_call_count(s), nc = 0, idx = 0;
  icall *calls = rein_alloc(&ix->alloc, (n + 1) * sizeof *calls);
  icall **order = rein_alloc(&ix->alloc, (n + 1) * sizeof *order);
  bool *done = rein_alloc(&ix->alloc, (n + 1) * sizeof *done);
  rein_status st = REIN_OK;
  if (!calls || !order || !done) {
    rein_free(&ix->alloc, calls);
    rein_free(&ix->alloc, order);
    rein_free(&ix->alloc, done);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *origin;
    icall *e = &calls[nc];
    memset(e, 0, sizeof *e);
    if (rein__ix_export_call(ix, s, caller, i, &idx, e->path, sizeof e->path,
                             &e->to, &origin, &e->loc, &e->sp, &st) <= 0)
      continue;
    call_route(e, origin);
    order[nc] = e;
    done[nc] = false;
    nc++;
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
    rein_free(&ix->alloc, done);
    return nc ? REIN_ENOMEM : st == REIN_OK ? REIN_ENOTFOUND : st;
  }
  fputs("# Written by `rein export istio`: the retry settings of ", f);
  fputs(caller, f);
  fputs("'s calls as\n# Istio VirtualServices, one per callee host (apply "
        "with kubectl apply -f).\napiVersion: v1\nkind: List\nitems:\n",
        f);
  /* one VirtualService per host, in order of first appearance */
  for (size_t i = 0; i < nc; i++) {
    if (done[i]) continue;
    size_t k = 0;
    icall **g = order + i; /* reorder in place: this host's calls first */
    for (size_t j = i; j < nc; j++)
      if (!done[j] && strcmp(order[j]->host, order[i]->host) == 0) {
        icall *t = order[j];
        bool dj = done[j];
        order[j] = order[i + k];
        done[j] = done[i + k];
        order[i + k] = t;
        done[i + k] = dj;
        k++;
      }
    for (size_t j = i; j < i + k; j++)
      done[j] = true;
    qsort(g, k, sizeof *g, route_cmp);
    char name[200];
    sanitize(g[0]->host, name, sizeof name);
    for (char *p = name; *p; p++)
      *p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
    fputs("- apiVersion: networking.istio.io/v1\n  kind: VirtualService\n"
          "  metadata:\n    name: ",
          f);
    rein__ix_yaml_quote(f, name);
    fputs("\n  spec:\n    hosts:\n    - ", f);
    rein__ix_yaml_quote(f, g[0]->host);
    fputs("\n    http:\n", f);
    for (size_t j = 0; j < k; j++)
      write_route(ix, f, g[j]);
  }
  rein_contract_loc none = {"", 0, 0};
  rein__ix_diag(ix, REIN_INTEROP_NOTE, none, "",
                "Istio's sidecar retries as Envoy does: retry N waits "
                "random[0, (2^N - 1) x base) up to 10 x base, rein's "
                "random[0, 2^(N-1) x base]: the same base, cap and jitter");
  rein_free(&ix->alloc, calls);
  rein_free(&ix->alloc, order);
  rein_free(&ix->alloc, done);
  if (fclose(f) != 0) {
    free(text);
    return REIN_ENOMEM;
  }
  rein_status fin = rein__ix_finish_text(ix, text, tn, out, len);
  return fin != REIN_OK ? fin : st;
}

const ix_format rein__ix_istio = {.name = "istio",
                                  .yaml = true,
                                  .proto_names = false,
                                  .multi_doc = true,
                                  .import = istio_import,
                                  .export_ = istio_export};
