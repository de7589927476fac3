/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc.c: gRPC service config JSON <-> rein's policy model.
 *
 * The semantics followed are gRFC A6 "gRPC Retry Design"
 * (github.com/grpc/proposal, A6-client-retries.md, last updated
 * 2017-09-13), checked against the runtime the tests drive (Debian
 * python3-grpcio 1.51.1, which is gRPC C-core):
 *
 *  - maxAttempts counts the original request and must be two or greater;
 *    A6 gives clients a maximum of 5 by default (a channel argument can
 *    change it), and higher values are treated as that maximum. rein's
 *    `attempts` also includes the first attempt: the numbers are the same.
 *  - Backoff, in A6's words: "The initial retry attempt will occur at
 *    random(0, initialBackoff). In general, the n-th attempt will occur at
 *    random(0, min(initialBackoff*backoffMultiplier**(n-1), maxBackoff))."
 *    That is rein's exponential backoff (base = initialBackoff, cap =
 *    maxBackoff, multiplier = backoffMultiplier; rein/backoff.h indexes
 *    retry n the same way) with full jitter, U(0, v). Where they differ:
 *    A6's interval is half-open and rein's closed (a measure-zero
 *    difference); rein needs multiplier >= 1 and cap >= base, gRPC accepts
 *    any multiplier > 0 and any maxBackoff > 0 (both mapped below, with a
 *    warning); and after a server pushback A6 resets the delay to the
 *    initial backoff, rein does not. C-core itself does not draw from
 *    [0, current): it jitters current by about +-20% (measured in
 *    tests/interop/grpc_runtime.py; docs/interop.md).
 *  - Throttling (A6): per server name, token_count starts at maxTokens; a
 *    failed RPC takes 1, a successful one gives back tokenRatio, and RPCs
 *    are not retried while token_count <= maxTokens / 2. Only failures with
 *    a retryable status (or a pushback saying not to retry) count. rein's
 *    TOKEN_BUCKET budget is that bucket (rein/budget.h), and
 *    rein_retry_next charges only retryable failures too. A6 keeps
 *    tokenRatio to 3 decimal places; rein gives each call its own bucket
 *    where gRPC shares one per server name.
 *  - `timeout` bounds the whole RPC, every attempt included: rein's
 *    `deadline`. retryPolicy.perAttemptRecvTimeout (not in A6; a later
 *    field C-core parses) is rein's per-attempt `timeout`.
 *
 * Names: a gRPC service is "package.Service" and a contract service name
 * holds letters, digits, '-' and '_'; protobuf identifiers never contain
 * '-', so '.' <-> '-' is lossless ("helloworld.Greeter" is
 * "helloworld-Greeter"). A service-wide entry ({"service": S}) is the call
 * `S.*`, the default entry ({} or an empty service) `*.*`.
 */
#include "interop_internal.h"

#include "rein/classify.h"
#include "rein/input.h"
#include "rein/json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRPC_MAX_ATTEMPTS 5 /* A6: larger values are treated as 5 */
#define MAX_MEMBERS 32
#define MAX_NAMES 4096

/* ------------------------------------------------------------ durations */

rein_status rein_interop_grpc_duration(const char *s, int64_t *ns,
                                       const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = NULL;
  if (!s || !ns) {
    *why = "no value";
    return REIN_EPARSE;
  }
  size_t n = strlen(s);
  if (n < 2 || s[n - 1] != 's') {
    *why = "a duration is seconds with an 's' suffix, e.g. \"0.1s\"";
    return REIN_EPARSE;
  }
  if (s[0] == '-') {
    *why = "a duration must not be negative";
    return REIN_EPARSE;
  }
  const char *p = s;
  uint64_t sec = 0;
  if (*p == '.') {
    *why = "write a 0 before the point (\"0.1s\"): gRPC C-core refuses "
           "\".1s\", though gRFC A6's examples are written so";
    return REIN_EPARSE;
  }
  if (!isdigit((unsigned char)*p)) {
    *why = "expected digits before the 's', e.g. \"1.5s\"";
    return REIN_EPARSE;
  }
  while (isdigit((unsigned char)*p)) {
    if (sec > (uint64_t)INT64_MAX / 10) return REIN_ERANGE;
    sec = sec * 10 + (uint64_t)(*p++ - '0');
  }
  int64_t frac = 0;
  if (*p == '.') {
    p++;
    int digits = 0;
    while (isdigit((unsigned char)*p)) {
      if (++digits > 9) {
        *why = "at most 9 digits after the point (nanoseconds)";
        return REIN_EPARSE;
      }
      frac = frac * 10 + (*p++ - '0');
    }
    if (!digits) {
      *why = "expected digits after the point, e.g. \"0.5s\"";
      return REIN_EPARSE;
    }
    for (; digits < 9; digits++)
      frac *= 10;
  }
  if (p != s + n - 1) {
    *why = "a duration is seconds with an 's' suffix, e.g. \"0.1s\"";
    return REIN_EPARSE;
  }
  if (sec > (uint64_t)(INT64_MAX - frac) / 1000000000u) return REIN_ERANGE;
  *ns = (int64_t)sec * 1000000000 + frac;
  return REIN_OK;
}

const char *rein_interop_grpc_format_duration(int64_t ns, char *buf,
                                              size_t len) {
  if (ns < 0) ns = 0;
  int64_t sec = ns / 1000000000, frac = ns % 1000000000;
  if (!frac) {
    snprintf(buf, len, "%" PRId64 "s", sec);
    return buf;
  }
  char f[16];
  snprintf(f, sizeof f, "%09" PRId64, frac);
  size_t k = strlen(f);
  while (k > 1 && f[k - 1] == '0')
    f[--k] = 0;
  snprintf(buf, len, "%" PRId64 ".%ss", sec, f);
  return buf;
}

/* ---------------------------------------------------------------- names */

static void svc_to_rein(const char *in, char *out, size_t cap) {
  size_t o = 0;
  for (; *in && o + 1 < cap; in++)
    out[o++] = *in == '.' ? '-' : *in;
  out[o] = 0;
}

static void svc_to_grpc(const char *in, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < cap; i++)
    out[o++] = in[i] == '-' ? '.' : in[i];
  out[o] = 0;
}

/* A protobuf full name: identifiers ([A-Za-z_][A-Za-z0-9_]*) joined by
 * dots; what a contract name can carry after '.' -> '-'. */
static bool proto_name(const char *s, bool dots) {
  bool start = true;
  if (!*s || strlen(s) > 120) return false;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '.' && dots && !start) {
      start = true;
      continue;
    }
    if (!(isalpha(c) || c == '_' || (!start && isdigit(c)))) return false;
    start = false;
  }
  return !start;
}

/* ----------------------------------------------------------------- import */

static const char *const root_fields[] = {
    "loadBalancingPolicy", "loadBalancingConfig", "methodConfig",
    "retryThrottling",     "healthCheckConfig",   NULL};
static const char *const mc_fields[] = {"name",
                                        "waitForReady",
                                        "timeout",
                                        "maxRequestMessageBytes",
                                        "maxResponseMessageBytes",
                                        "retryPolicy",
                                        "hedgingPolicy",
                                        NULL};
static const char *const name_fields[] = {"service", "method", NULL};
static const char *const rp_fields[] = {"maxAttempts",
                                        "initialBackoff",
                                        "maxBackoff",
                                        "backoffMultiplier",
                                        "retryableStatusCodes",
                                        "perAttemptRecvTimeout",
                                        NULL};
static const char *const hp_fields[] = {"maxAttempts", "hedgingDelay",
                                        "nonFatalStatusCodes", NULL};
static const char *const rt_fields[] = {"maxTokens", "tokenRatio", NULL};

typedef struct imp {
  ix_doc *d;
  rein_interop *ix;
  bool has_throttle;
  double max_tokens, token_ratio;
  /* names seen, for gRPC's "duplicate name" refusal */
  char **seen;
  yaml_node_t **seen_at;
  size_t nseen;
} imp;

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

/* The shared typed readers (interop.c), on this import's document. */
static bool set_field(imp *I, yaml_node_t *n, const char *path,
                      rein_policy_spec *sp, rein_model_block b,
                      const char *name, const char *text) {
  return rein__ix_set_model(I->d, n, path, sp, b, name, text);
}

static bool get_number(imp *I, yaml_node_t *n, const char *path, double *out) {
  return rein__ix_get_number(I->d, n, path, out);
}

static bool get_duration(imp *I, yaml_node_t *n, const char *path,
                         int64_t *ns) {
  return rein__ix_get_duration(I->d, n, path, ns);
}

static bool set_duration(imp *I, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp, rein_model_block b,
                         const char *name, int64_t ns) {
  return rein__ix_set_model_duration(I->d, n, path, sp, b, name, ns);
}

/* The code of a status name exactly as gRPC spells it, or -1. */
static int grpc_code(const char *name) {
  for (uint32_t c = 0; c < REIN_GRPC_CODE_COUNT_; c++)
    if (strcmp(rein_grpc_code_name(c), name) == 0) return (int)c;
  return -1;
}

static void status_codes(imp *I, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp, bool may_be_empty) {
  if (rein__ix_jtype(n) != IX_J_ARRAY) {
    rein__ix_type_error(I->d, n, path, "an array of status names");
    return;
  }
  if (!rein__ix_len(n) && !may_be_empty) {
    rein__ix_error(I->d, n, path,
                   "must not be empty (gRPC refuses a retryPolicy that "
                   "retries no status)");
    return;
  }
  for (size_t i = 0; i < rein__ix_len(n); i++) {
    yaml_node_t *e = rein__ix_item(I->d, n, i);
    char ip[256];
    rein__ix_path_i(ip, sizeof ip, path, i);
    const char *v = rein__ix_text(e);
    if (rein__ix_jtype(e) != IX_J_STRING) {
      rein__ix_error(I->d, e, ip,
                     "expected a status name in quotes such as "
                     "\"UNAVAILABLE\", got %s%s%.20s%s (gRPC C-core refuses "
                     "numeric codes)",
                     rein__ix_jtype_name(rein__ix_jtype(e)), v ? " " : "",
                     v ? v : "", "");
      continue;
    }
    int c = grpc_code(v);
    if (c < 0) {
      char up[64];
      size_t k = 0;
      for (; v[k] && k + 1 < sizeof up; k++)
        up[k] = (char)toupper((unsigned char)v[k]);
      up[k] = 0;
      if (grpc_code(up) >= 0)
        rein__ix_error(I->d, e, ip,
                       "'%.40s' is not a status name; did you mean '%s'? "
                       "(gRPC C-core takes the upper-case names only)",
                       v, up);
      else
        rein__ix_error(I->d, e, ip,
                       "'%.40s' is not a gRPC status name (OK, CANCELLED, "
                       "UNKNOWN, ..., UNAVAILABLE, DATA_LOSS, "
                       "UNAUTHENTICATED)",
                       v);
      continue;
    }
    if (c == 0) {
      rein__ix_warn(I->d, e, ip,
                    "OK is never retried (an OK call has succeeded): left "
                    "out");
      continue;
    }
    rein_errbuf eb = {{0}};
    if (rein_model_list_add(sp, mf(REIN_MODEL_RETRY, "when"), v, &eb) !=
        REIN_OK)
      rein__ix_error(I->d, e, ip, "%s", eb.msg);
  }
}

static void retry_policy(imp *I, yaml_node_t *n, const char *path,
                         rein_policy_spec *sp) {
  if (rein__ix_jtype(n) != IX_J_OBJECT) {
    rein__ix_type_error(I->d, n, path, "an object");
    return;
  }
  ix_member m[MAX_MEMBERS];
  size_t k = rein__ix_members(I->d, n, path, rp_fields, m, MAX_MEMBERS);
  yaml_node_t *got[6] = {0};
  for (size_t i = 0; i < k; i++)
    for (int f = 0; f < 6; f++)
      if (strcmp(m[i].key, rp_fields[f]) == 0) got[f] = m[i].v;
  char fp[256];
  for (int f = 0; f < 5; f++)
    if (!got[f] && !(f == 4 && got[5]))
      rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, rp_fields[f]),
                     "missing (gRPC refuses a retryPolicy without it)");
  /* maxAttempts */
  double x;
  if (got[0] &&
      get_number(I, got[0], rein__ix_path(fp, sizeof fp, path, "maxAttempts"),
                 &x)) {
    if (x != floor(x)) {
      rein__ix_error(I->d, got[0], fp, "must be a whole number, got %g", x);
    } else if (x < 2) {
      rein__ix_error(I->d, got[0], fp,
                     "must be at least 2 (it counts the original attempt; "
                     "leave retryPolicy out for no retries), got %g",
                     x);
    } else {
      if (x > GRPC_MAX_ATTEMPTS) {
        rein__ix_warn(I->d, got[0], fp,
                      "gRPC treats values above 5 as 5 (gRFC A6's default "
                      "client maximum): imported as attempts: 5, not %g",
                      x);
        x = GRPC_MAX_ATTEMPTS;
      }
      char t[16];
      snprintf(t, sizeof t, "%d", (int)x);
      set_field(I, got[0], fp, sp, REIN_MODEL_RETRY, "attempts", t);
    }
  }
  /* backoff */
  int64_t base = -1, cap = -1;
  yaml_node_t *bn = got[1], *cn = got[2];
  if (bn &&
      get_duration(I, bn, rein__ix_path(fp, sizeof fp, path, "initialBackoff"),
                   &base) &&
      base == 0) {
    rein__ix_error(I->d, bn, fp, "must be greater than 0 (as gRPC requires)");
    base = -1;
  }
  char fc[256];
  if (cn &&
      get_duration(I, cn, rein__ix_path(fc, sizeof fc, path, "maxBackoff"),
                   &cap) &&
      cap == 0) {
    rein__ix_error(I->d, cn, fc, "must be greater than 0 (as gRPC requires)");
    cap = -1;
  }
  if (base > 0 && cap > 0) {
    if (cap < base) {
      rein__ix_warn(I->d, cn, fc,
                    "is below initialBackoff: gRPC then draws every delay "
                    "from [0, maxBackoff); imported as base = cap = "
                    "maxBackoff");
      base = cap;
    }
    set_duration(I, bn, fp, sp, REIN_MODEL_BACKOFF, "base", base);
    set_duration(I, cn, fc, sp, REIN_MODEL_BACKOFF, "cap", cap);
  }
  if (got[3] &&
      get_number(I, got[3],
                 rein__ix_path(fp, sizeof fp, path, "backoffMultiplier"), &x)) {
    if (x <= 0) {
      rein__ix_error(I->d, got[3], fp,
                     "must be greater than 0 (as gRPC requires), got %g", x);
    } else {
      if (x < 1) {
        rein__ix_warn(I->d, got[3], fp,
                      "%g < 1 makes gRPC's delays shrink; rein's backoff "
                      "never shrinks: imported as multiplier 1",
                      x);
        x = 1;
      }
      char t[40];
      snprintf(t, sizeof t, "%.17g", x);
      set_field(I, got[3], fp, sp, REIN_MODEL_BACKOFF, "multiplier", t);
    }
  }
  int64_t pat;
  if (got[5] &&
      get_duration(I, got[5],
                   rein__ix_path(fp, sizeof fp, path, "perAttemptRecvTimeout"),
                   &pat)) {
    if (pat == 0)
      rein__ix_error(I->d, got[5], fp, "must be greater than 0");
    else
      set_duration(I, got[5], fp, sp, REIN_MODEL_CALL, "timeout", pat);
  }
  if (got[4])
    status_codes(I, got[4],
                 rein__ix_path(fp, sizeof fp, path, "retryableStatusCodes"), sp,
                 got[5] != NULL);
}

/* hedgingPolicy -> the hedge block (gRFC A6, as grpc-js runs it): up to
 * maxAttempts attempts in flight, the next sent hedgingDelay after the
 * previous one (default 0s: all at once) or at once after a non-fatal
 * status; nonFatalStatusCodes (default none: every status ends the call)
 * become `when`, which is what a rein hedge goes on after. */
static void hedging_policy(imp *I, yaml_node_t *n, const char *path,
                           rein_policy_spec *sp) {
  if (rein__ix_jtype(n) != IX_J_OBJECT) {
    rein__ix_type_error(I->d, n, path, "an object");
    return;
  }
  ix_member m[MAX_MEMBERS];
  size_t k = rein__ix_members(I->d, n, path, hp_fields, m, MAX_MEMBERS);
  yaml_node_t *got[3] = {0};
  for (size_t i = 0; i < k; i++)
    for (int f = 0; f < 3; f++)
      if (strcmp(m[i].key, hp_fields[f]) == 0) got[f] = m[i].v;
  char fp[256];
  if (!got[0]) {
    rein__ix_error(I->d, n, rein__ix_path(fp, sizeof fp, path, "maxAttempts"),
                   "missing (gRPC refuses a hedgingPolicy without it)");
    return;
  }
  double x;
  if (!get_number(I, got[0], rein__ix_path(fp, sizeof fp, path, "maxAttempts"),
                  &x))
    return;
  if (x != floor(x) || x < 2) {
    rein__ix_error(I->d, got[0], fp,
                   "must be a whole number of at least 2 (it counts the "
                   "first attempt; leave hedgingPolicy out for no hedges), "
                   "got %g",
                   x);
    return;
  }
  if (x > GRPC_MAX_ATTEMPTS) {
    rein__ix_warn(I->d, got[0], fp,
                  "gRPC treats values above 5 as 5 (gRFC A6's default "
                  "client maximum): imported as hedge attempts: 5, not %g",
                  x);
    x = GRPC_MAX_ATTEMPTS;
  }
  sp->has_hedge = true;
  char t[16];
  snprintf(t, sizeof t, "%d", (int)x);
  set_field(I, got[0], fp, sp, REIN_MODEL_HEDGE, "attempts", t);
  int64_t delay = 0;
  if (got[1] &&
      get_duration(I, got[1],
                   rein__ix_path(fp, sizeof fp, path, "hedgingDelay"), &delay))
    set_duration(I, got[1], fp, sp, REIN_MODEL_HEDGE, "delay", delay);
  else if (!got[1])
    set_duration(I, n, path, sp, REIN_MODEL_HEDGE, "delay", 0);
  if (got[2])
    status_codes(I, got[2],
                 rein__ix_path(fp, sizeof fp, path, "nonFatalStatusCodes"), sp,
                 true);
}

static bool seen_name(imp *I, yaml_node_t *n, const char *path,
                      const char *key) {
  for (size_t i = 0; i < I->nseen; i++)
    if (strcmp(I->seen[i], key) == 0) {
      rein__ix_error(I->d, n, path,
                     "a second method config for %s (first at line %zu); "
                     "gRPC refuses duplicate names",
                     key, (size_t)I->seen_at[i]->start_mark.line + 1);
      return true;
    }
  if (I->nseen >= MAX_NAMES) {
    rein__ix_error(I->d, n, path, "more than %d names", MAX_NAMES);
    return true;
  }
  I->seen[I->nseen] = rein__ix_strdup(I->ix, key);
  if (!I->seen[I->nseen]) return true; /* out of memory: ix->oom */
  I->seen_at[I->nseen++] = n;
  return false;
}

static void method_config(imp *I, yaml_node_t *n, const char *path) {
  if (rein__ix_jtype(n) != IX_J_OBJECT) {
    rein__ix_type_error(I->d, n, path, "an object");
    return;
  }
  ix_member m[MAX_MEMBERS];
  size_t k = rein__ix_members(I->d, n, path, mc_fields, m, MAX_MEMBERS);
  rein_policy_spec sp;
  rein_policy_spec_default(&sp);
  sp.policy.max_attempts = 1; /* no retryPolicy: no retries */
  sp.policy.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  sp.policy.backoff.jitter = REIN_JITTER_FULL;
  sp.signals = REIN_SIGNAL_PUSHBACK; /* grpc-retry-pushback-ms, nothing else */
  rein_model_list_clear(&sp, mf(REIN_MODEL_RETRY, "when"));
  yaml_node_t *names = NULL, *rp = NULL, *hp = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    yaml_node_t *v = m[i].v;
    if (strcmp(m[i].key, "name") == 0) {
      names = v;
    } else if (strcmp(m[i].key, "timeout") == 0) {
      int64_t ns;
      if (get_duration(I, v, fp, &ns) && ns > 0)
        set_duration(I, v, fp, &sp, REIN_MODEL_CALL, "deadline", ns);
    } else if (strcmp(m[i].key, "retryPolicy") == 0) {
      rp = v;
      retry_policy(I, v, fp, &sp);
    } else if (strcmp(m[i].key, "hedgingPolicy") == 0) {
      hp = v;
      hedging_policy(I, v, fp, &sp);
    } else if (strcmp(m[i].key, "waitForReady") == 0) {
      if (rein__ix_jtype(v) != IX_J_BOOL)
        rein__ix_type_error(I->d, v, fp, "true or false");
      else
        rein__ix_warn(I->d, v, fp,
                      "rein does not represent waitForReady (whether a call "
                      "waits for a connection instead of failing fast): "
                      "left out");
    } else { /* max{Request,Response}MessageBytes */
      double x;
      if (get_number(I, v, fp, &x))
        rein__ix_warn(I->d, v, fp,
                      "a message size limit is not a retry setting; rein "
                      "does not represent it: left out");
    }
  }
  if (rp && hp)
    rein__ix_error(I->d, hp,
                   rein__ix_path(fp, sizeof fp, path, "hedgingPolicy"),
                   "a method config has a retryPolicy or a hedgingPolicy, "
                   "not both (gRFC A6; grpc-js refuses both)");
  if (!names) {
    rein__ix_warn(I->d, n, path,
                  "no name: this method config applies to no method; left "
                  "out");
    return;
  }
  rein__ix_path(fp, sizeof fp, path, "name");
  if (rein__ix_jtype(names) != IX_J_ARRAY) {
    rein__ix_type_error(I->d, names, fp, "an array of {service, method}");
    return;
  }
  if (I->has_throttle && (sp.policy.max_attempts > 1 || sp.has_hedge)) {
    char t[40];
    sp.has_budget = true;
    set_field(I, names, fp, &sp, REIN_MODEL_BUDGET, "kind", "token_bucket");
    snprintf(t, sizeof t, "%.17g", I->max_tokens);
    set_field(I, names, fp, &sp, REIN_MODEL_BUDGET, "max_tokens", t);
    snprintf(t, sizeof t, "%.17g", I->token_ratio);
    set_field(I, names, fp, &sp, REIN_MODEL_BUDGET, "token_ratio", t);
  }
  for (size_t i = 0; i < rein__ix_len(names); i++) {
    yaml_node_t *e = rein__ix_item(I->d, names, i);
    char ip[256];
    rein__ix_path_i(ip, sizeof ip, fp, i);
    if (rein__ix_jtype(e) != IX_J_OBJECT) {
      rein__ix_type_error(I->d, e, ip, "an object {\"service\", \"method\"}");
      continue;
    }
    ix_member nm[4];
    size_t nk = rein__ix_members(I->d, e, ip, name_fields, nm, 4);
    const char *svc = "", *meth = NULL;
    bool ok = true;
    for (size_t j = 0; j < nk; j++) {
      char jp[256];
      rein__ix_path(jp, sizeof jp, ip, nm[j].key);
      if (rein__ix_jtype(nm[j].v) != IX_J_STRING) {
        rein__ix_type_error(I->d, nm[j].v, jp, "a string");
        ok = false;
        continue;
      }
      const char *v = rein__ix_text(nm[j].v);
      bool svc_key = strcmp(nm[j].key, "service") == 0;
      if (*v && !proto_name(v, svc_key)) {
        rein__ix_error(I->d, nm[j].v, jp, "'%.60s' is not a protobuf %s name",
                       v, svc_key ? "service (package.Service)" : "method");
        ok = false;
        continue;
      }
      if (svc_key)
        svc = v;
      else if (*v)
        meth = v;
    }
    if (!ok) continue;
    if (meth && !*svc) {
      rein__ix_error(I->d, e, ip,
                     "a method without a service (gRPC refuses it)");
      continue;
    }
    char key[300];
    snprintf(key, sizeof key, "%s/%s", *svc ? svc : "*", meth ? meth : "*");
    if (seen_name(I, e, ip, key)) continue;
    char rs[160];
    svc_to_rein(*svc ? svc : "*", rs, sizeof rs);
    rein_interop_call c;
    c.spec = sp;
    c.loc = rein__ix_loc(I->d, e);
    c.to = rein__ix_printf(I->ix, "%s.%s", rs, meth ? meth : "*");
    c.origin = rein__ix_printf(
        I->ix, "%s:%u:%u %s", I->d->file, c.loc.line, c.loc.col,
        !*svc  ? "(default: every method)"
        : meth ? key
               : rein__ix_printf(I->ix, "%s (every method)", svc));
    if (!c.to || !c.origin) return;
    c.spec.policy.name = c.to;
    rein__ix_add_call(I->ix, &c);
  }
}

static void retry_throttling(imp *I, yaml_node_t *n, const char *path) {
  if (rein__ix_jtype(n) != IX_J_OBJECT) {
    rein__ix_type_error(I->d, n, path, "an object");
    return;
  }
  ix_member m[MAX_MEMBERS];
  size_t k = rein__ix_members(I->d, n, path, rt_fields, m, MAX_MEMBERS);
  yaml_node_t *mt = NULL, *tr = NULL;
  for (size_t i = 0; i < k; i++)
    if (strcmp(m[i].key, "maxTokens") == 0)
      mt = m[i].v;
    else
      tr = m[i].v;
  char fp[256], fr[256];
  rein__ix_path(fp, sizeof fp, path, "maxTokens");
  rein__ix_path(fr, sizeof fr, path, "tokenRatio");
  if (!mt) rein__ix_error(I->d, n, fp, "missing (gRPC refuses it)");
  if (!tr) rein__ix_error(I->d, n, fr, "missing (gRPC refuses it)");
  double x, y;
  bool ok = true;
  if (mt && get_number(I, mt, fp, &x)) {
    if (x != floor(x) || x <= 0 || x > 1000) {
      rein__ix_error(I->d, mt, fp,
                     "must be a whole number in (0, 1000] (rein's token "
                     "bucket holds at most 1000; gRPC C-core refuses "
                     "fractions and 0), got %g",
                     x);
      ok = false;
    }
  } else {
    ok = false;
  }
  if (tr && get_number(I, tr, fr, &y)) {
    double milli = floor(y * 1000 + 1e-6);
    if (y <= 0 || milli < 1) {
      rein__ix_error(I->d, tr, fr,
                     "must be at least 0.001 (gRPC keeps 3 decimal places "
                     "and refuses 0), got %g",
                     y);
      ok = false;
    } else if (fabs(milli / 1000 - y) > 1e-12) {
      rein__ix_warn(I->d, tr, fr,
                    "gRPC keeps 3 decimal places: %.17g runs as %.3f; "
                    "imported as that",
                    y, milli / 1000);
      y = milli / 1000;
    }
  } else {
    ok = false;
  }
  if (!ok) return;
  I->has_throttle = true;
  I->max_tokens = x;
  I->token_ratio = y;
}

static void grpc_import(rein_interop *ix, ix_doc *d) {
  yaml_node_t *root = rein__ix_root(d);
  imp I = {d, ix, false, 0, 0, NULL, NULL, 0};
  if (rein__ix_jtype(root) != IX_J_OBJECT) {
    rein__ix_type_error(d, root, "", "a service config object");
    return;
  }
  I.seen = rein_alloc(&ix->alloc, MAX_NAMES * sizeof *I.seen);
  I.seen_at = rein_alloc(&ix->alloc, MAX_NAMES * sizeof *I.seen_at);
  if (!I.seen || !I.seen_at) {
    ix->oom = true;
    goto out;
  }
  ix_member m[MAX_MEMBERS];
  size_t k = rein__ix_members(d, root, "", root_fields, m, MAX_MEMBERS);
  /* retryThrottling first: it applies to every method config */
  for (size_t i = 0; i < k; i++)
    if (strcmp(m[i].key, "retryThrottling") == 0)
      retry_throttling(&I, m[i].v, m[i].key);
  size_t first = ix->ncalls;
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    if (strcmp(key, "methodConfig") == 0) {
      if (rein__ix_jtype(m[i].v) != IX_J_ARRAY) {
        rein__ix_type_error(d, m[i].v, key, "an array of method configs");
        continue;
      }
      for (size_t j = 0; j < rein__ix_len(m[i].v); j++) {
        char ip[64];
        rein__ix_path_i(ip, sizeof ip, key, j);
        method_config(&I, rein__ix_item(d, m[i].v, j), ip);
      }
    } else if (strcmp(key, "retryThrottling") != 0) {
      rein__ix_warn(d, m[i].k, key,
                    "not a retry setting: rein does not represent it (left "
                    "out of the contract)");
    }
  }
  size_t buckets = 0;
  for (size_t i = first; i < ix->ncalls; i++)
    buckets += ix->calls[i].spec.has_budget;
  if (buckets > 1)
    rein__ix_note(d, root, "retryThrottling",
                  "gRPC shares one token bucket between every method of a "
                  "channel; each of the %zu retrying calls of the contract "
                  "gets its own bucket",
                  buckets);
  if (ix->ncalls == first && !ix->errors)
    rein__ix_error(d, root, "methodConfig",
                   "no method config with a name: nothing to import");
out:
  rein_free(&ix->alloc, I.seen);
  rein_free(&ix->alloc, I.seen_at);
}

/* ----------------------------------------------------------------- export */

typedef struct exp_ {
  rein_interop *ix;
  rein_contract_loc loc;
  const char *path;
  int *prec; /* the digits every real written so far needs */
} exp_;

/* A JSON real, noting the fewest significant digits that read back as
 * `v` (the document is dumped with the largest: 0.1, not
 * 0.10000000000000001). */
static json_t *jreal(exp_ *E, double v) {
  int p = 1;
  for (; p < 17; p++) {
    char b[40];
    snprintf(b, sizeof b, "%.*g", p, v);
    if (strtod(b, NULL) == v) break;
  }
  if (p > *E->prec) *E->prec = p;
  return json_real(v);
}

static void ewarn(exp_ *E, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ewarn(exp_ *E, const char *field, const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s.%s", E->path, field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(E->ix, REIN_INTEROP_WARNING, E->loc, fp, fmt, ap);
  va_end(ap);
}

static json_t *jdur(int64_t ns) {
  char b[48];
  return json_string(rein_interop_grpc_format_duration(ns, b, sizeof b));
}

/* Is gRPC code c retried by the spec? */
static bool retries_code(const rein_policy_spec *sp, uint32_t c) {
  rein_condition cond = REIN_COND_GRPC(c);
  rein_outcome_kind k = rein_condition_kind(cond);
  if (rein_retryable_set_is_empty(&sp->policy.retryable))
    return (sp->policy.retry_on & REIN_RETRY_ON(k)) != 0;
  return rein_retryable_set_has(&sp->policy.retryable, cond, k);
}

/* Warn about every `when` name that is not a gRPC status. */
static void when_warnings(exp_ *E, const rein_policy_spec *sp) {
  char list[2048];
  rein_model_get(sp, mf(REIN_MODEL_RETRY, "when"), list, sizeof list);
  for (char *p = list; *p;) {
    while (*p == ',' || *p == ' ')
      p++;
    char *e = p;
    while (*e && *e != ',')
      e++;
    if (e == p) break;
    char save = *e;
    *e = 0;
    rein_retryable_set one;
    rein_retryable_set_clear(&one);
    rein_retryable_set_add(&one, p, strlen(p), NULL);
    bool http = false;
    for (int w = 0; w < 10; w++)
      http |= one.http[w] != 0;
    if (http)
      ewarn(E, "retry.when",
            "%s is an HTTP status: a gRPC client retries gRPC statuses only; "
            "left out",
            p);
    else if (one.transport && !one.kinds)
      ewarn(E, "retry.when",
            "%s is a transport condition: gRPC reports it as a status "
            "(UNAVAILABLE, DEADLINE_EXCEEDED), which must be named; left out",
            p);
    else if (one.kinds)
      rein__ix_diag(E->ix, REIN_INTEROP_NOTE, E->loc, E->path,
                    "retry.when: %s is written as the gRPC statuses of that "
                    "kind",
                    p);
    *e = save;
    p = e;
  }
}

static json_t *retry_policy_json(exp_ *E, const rein_policy_spec *sp) {
  json_t *rp = json_object();
  uint32_t att = sp->policy.max_attempts;
  if (att > GRPC_MAX_ATTEMPTS) {
    ewarn(E, "retry.attempts",
          "%u attempts: gRPC treats maxAttempts above 5 as 5 (gRFC A6); "
          "written as 5",
          att);
    att = GRPC_MAX_ATTEMPTS;
  }
  rein_json_set(rp, "maxAttempts", json_integer(att));
  const rein_backoff_config *b = &sp->policy.backoff;
  int64_t base = b->base_ns, cap = b->cap_ns;
  double mult = b->multiplier;
  switch (b->kind) {
  case REIN_BACKOFF_EXPONENTIAL:
    break;
  case REIN_BACKOFF_CONSTANT:
    cap = base;
    mult = 1; /* exactly a constant delay */
    break;
  case REIN_BACKOFF_LINEAR:
    ewarn(E, "retry.backoff.kind",
          "linear growth has no gRPC form: written as exponential from base "
          "with multiplier 2, capped at cap");
    mult = 2;
    break;
  case REIN_BACKOFF_NONE:
    ewarn(E, "retry.backoff.kind",
          "no delay has no gRPC form (it needs delays > 0): written as 1ns");
    base = cap = 1;
    mult = 1;
    break;
  }
  if (base <= 0) {
    ewarn(E, "retry.backoff.base",
          "gRPC needs initialBackoff > 0: written as 1ns");
    base = 1;
  }
  if (cap <= 0) cap = base;
  if (b->jitter != REIN_JITTER_FULL) {
    static const char *const j[] = {"none", "full", "equal", "decorrelated"};
    ewarn(E, "retry.backoff.jitter",
          "gRPC draws every delay from [0, current) (full jitter, gRFC A6); "
          "jitter: %s cannot be expressed, and runs as full",
          (unsigned)b->jitter < 4 ? j[b->jitter] : "?");
  }
  rein_json_set(rp, "initialBackoff", jdur(base));
  rein_json_set(rp, "maxBackoff", jdur(cap));
  rein_json_set(rp, "backoffMultiplier",
                mult == floor(mult) && mult < 1e15
                    ? json_integer((json_int_t)mult)
                    : jreal(E, mult));
  if (sp->policy.attempt_timeout_ns > 0) {
    rein_json_set(rp, "perAttemptRecvTimeout",
                  jdur(sp->policy.attempt_timeout_ns));
    ewarn(E, "timeout",
          "written as retryPolicy.perAttemptRecvTimeout, which gRPC C-core "
          "1.51 accepts but does not enforce by default: bound the attempt "
          "on the server too");
  }
  when_warnings(E, sp);
  json_t *codes = json_array();
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    if (retries_code(sp, c))
      rein_json_push(codes, json_string(rein_grpc_code_name(c)));
  if (!json_array_size(codes)) {
    ewarn(E, "retry.when",
          "retries no gRPC status: gRPC refuses an empty "
          "retryableStatusCodes, so the retryPolicy is left out (one "
          "attempt)");
    json_decref(codes);
    json_decref(rp);
    return NULL;
  }
  rein_json_set(rp, "retryableStatusCodes", codes);
  return rp;
}

/* The hedge block as a hedgingPolicy (gRFC A6). Only a fixed delay has a
 * gRPC form; the non-fatal statuses are the gRPC statuses `when` holds, as
 * a rein hedge goes on after what the policy retries. */
static json_t *hedging_policy_json(exp_ *E, const rein_policy_spec *sp) {
  json_t *hp = json_object();
  const rein_hedge_config *h = &sp->hedge;
  uint32_t att = h->max_attempts;
  if (att > GRPC_MAX_ATTEMPTS) {
    ewarn(E, "retry.hedge.attempts",
          "%u attempts: gRPC treats maxAttempts above 5 as 5 (gRFC A6); "
          "written as 5",
          att);
    att = GRPC_MAX_ATTEMPTS;
  }
  rein_json_set(hp, "maxAttempts", json_integer(att));
  rein_json_set(hp, "hedgingDelay", jdur(h->delay_ns));
  if (h->quantile > 0) {
    char w[48], d[48];
    rein_format_duration(h->window_ns, w, sizeof w);
    rein_format_duration(h->delay_ns, d, sizeof d);
    ewarn(E, "retry.hedge.quantile",
          "gRPC hedges after a fixed hedgingDelay: hedging at quantile %g of "
          "the last %s cannot be expressed; written as the fixed delay %s",
          h->quantile, w, d);
  }
  if (sp->policy.max_attempts > 1)
    ewarn(E, "retry.attempts",
          "a gRPC method config has a retryPolicy or a hedgingPolicy, not "
          "both: the hedge is written, and attempts: %u with its backoff "
          "left out (a hedged call makes at most hedge.attempts attempts, "
          "in rein too)",
          sp->policy.max_attempts);
  if (sp->policy.attempt_timeout_ns > 0)
    ewarn(E, "timeout",
          "a hedgingPolicy has no per-attempt timeout (the method's timeout "
          "bounds the call): left out");
  when_warnings(E, sp);
  json_t *codes = json_array();
  for (uint32_t c = 1; c < REIN_GRPC_CODE_COUNT_; c++)
    if (retries_code(sp, c))
      rein_json_push(codes, json_string(rein_grpc_code_name(c)));
  if (json_array_size(codes))
    rein_json_set(hp, "nonFatalStatusCodes", codes);
  else
    json_decref(codes); /* none: every status ends the call, as in rein */
  return hp;
}

static void other_warnings(exp_ *E, const rein_policy_spec *sp) {
  if (sp->policy.window_ns > 0)
    ewarn(E, "retry.window",
          "gRPC has no retry window (retries are bounded by maxAttempts and "
          "the call's timeout): left out");
  if (sp->policy.expected_attempt_ns > 0)
    ewarn(E, "retry.expected_attempt", "no gRPC form: left out");
  if (!(sp->signals & REIN_SIGNAL_PUSHBACK))
    ewarn(E, "retry.signals",
          "gRPC always honours grpc-retry-pushback-ms; not honouring "
          "pushback cannot be expressed");
  if (sp->signals & (REIN_SIGNAL_RETRY_AFTER | REIN_SIGNAL_RATELIMIT))
    ewarn(E, "retry.signals",
          "retry-after and ratelimit are HTTP headers a gRPC client does "
          "not read: left out");
  if (!sp->policy.idempotent)
    ewarn(E, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, gRPC retries it whatever (no such gate)");
  if (sp->has_breaker)
    ewarn(E, "retry.breaker", "gRPC has no circuit breaker: left out");
  if (sp->has_throttle)
    ewarn(E, "retry.throttle",
          "gRPC has no adaptive (client-side) throttle: left out");
}

static rein_status grpc_export(rein_interop *ix, const rein_contract_set *s,
                               const char *caller, char **out, size_t *len) {
  json_t *root = json_object(), *mcs = json_array();
  json_t *throttle = NULL;
  rein_contract_loc throttle_loc = {"", 0, 0};
  size_t n = rein_contract_call_count(s), ncalls = 0, idx = 0;
  rein_status st = REIN_OK;
  int prec = 1;
  for (size_t i = 0; i < n; i++) {
    const char *to, *origin;
    rein_contract_loc loc;
    char path[64];
    rein_policy_spec sp;
    if (rein__ix_export_call(ix, s, caller, i, &idx, path, sizeof path, &to,
                             &origin, &loc, &sp, &st) <= 0)
      continue;
    exp_ E = {ix, loc, path, &prec};
    ncalls++;
    const char *dot = strchr(to, '.');
    json_t *name = json_object();
    char svc[160];
    svc_to_grpc(to, dot ? (size_t)(dot - to) : strlen(to), svc, sizeof svc);
    const char *op = dot ? dot + 1 : "*";
    if (strcmp(svc, "*") != 0) {
      rein_json_set(name, "service", rein_json_string(svc));
      if (strcmp(op, "*") != 0)
        rein_json_set(name, "method", rein_json_string(op));
    } else if (strcmp(op, "*") != 0) {
      ewarn(&E, "to",
            "%s: a method of every service has no gRPC name (a method needs "
            "its service): left out",
            to);
      json_decref(name);
      continue;
    }
    if (*svc != '*' &&
        (!proto_name(svc, true) || (strcmp(op, "*") && !proto_name(op, false))))
      ewarn(&E, "to", "%s is not a protobuf service/method name: written as is",
            to);
    json_t *mc = json_object(), *names = json_array();
    rein_json_push(names, name);
    rein_json_set(mc, "name", names);
    bool hedged = sp.has_hedge && sp.hedge.max_attempts > 1;
    int64_t tmo = sp.deadline_ns;
    if (!tmo && !hedged && sp.policy.max_attempts <= 1 &&
        sp.policy.attempt_timeout_ns) {
      rein__ix_diag(ix, REIN_INTEROP_NOTE, loc, path,
                    "timeout: one attempt, so the attempt timeout is the "
                    "call's timeout");
      tmo = sp.policy.attempt_timeout_ns;
    }
    if (tmo) rein_json_set(mc, "timeout", jdur(tmo));
    if (hedged || sp.policy.max_attempts > 1) {
      if (hedged) {
        rein_json_set(mc, "hedgingPolicy", hedging_policy_json(&E, &sp));
      } else {
        json_t *rp = retry_policy_json(&E, &sp);
        if (rp) rein_json_set(mc, "retryPolicy", rp);
      }
      other_warnings(&E, &sp);
      if (sp.has_budget && sp.budget.kind == REIN_BUDGET_TOKEN_BUCKET) {
        double mt = sp.budget.max_tokens, tr = sp.budget.token_ratio;
        if (mt != floor(mt)) {
          ewarn(&E, "retry.budget.max_tokens",
                "gRPC takes a whole number of tokens: %g written as %g", mt,
                ceil(mt));
          mt = ceil(mt);
        }
        double milli = floor(tr * 1000 + 1e-6);
        if (milli < 1) milli = 1;
        if (fabs(milli / 1000 - tr) > 1e-12) {
          ewarn(&E, "retry.budget.token_ratio",
                "gRPC keeps 3 decimal places: %g written as %.3f", tr,
                milli / 1000);
        }
        tr = milli / 1000;
        if (sp.budget_scope == REIN_SCOPE_FLEET)
          ewarn(&E, "retry.budget.scope",
                "gRPC's bucket is one per client process and server name; a "
                "fleet-wide bucket cannot be expressed");
        json_t *t = json_object();
        rein_json_set(t, "maxTokens", json_integer((json_int_t)mt));
        rein_json_set(t, "tokenRatio", jreal(&E, tr));
        if (!throttle) {
          throttle = t;
          throttle_loc = loc;
        } else {
          if (!json_equal(throttle, t))
            ewarn(&E, "retry.budget",
                  "gRPC has one retryThrottling per channel: this call's "
                  "bucket differs from the one written (line %u); left out",
                  throttle_loc.line);
          json_decref(t);
        }
      } else if (sp.has_budget) {
        ewarn(&E, "retry.budget.kind",
              "a %s budget has no gRPC form (gRPC throttles with a token "
              "bucket only): left out",
              rein_budget_kind_name(sp.budget.kind));
      }
    }
    /* calls with the same settings share one method config (as a service
     * config is usually written): compare everything but the names */
    json_t *merged = NULL;
    size_t nm = json_array_size(mcs);
    for (size_t j = 0; j < nm && nm <= 1000 && !merged; j++) {
      json_t *o = json_array_get(mcs, j);
      json_t *a = json_deep_copy(o), *b = json_deep_copy(mc);
      if (a && b) {
        json_object_del(a, "name");
        json_object_del(b, "name");
        if (json_equal(a, b)) merged = o;
      }
      json_decref(a);
      json_decref(b);
    }
    if (merged) {
      json_array_extend(json_object_get(merged, "name"), names);
      json_decref(mc);
    } else {
      rein_json_push(mcs, mc);
    }
  }
  if (!ncalls && st == REIN_OK) {
    rein_contract_loc none = {"", 0, 0};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                  "%s has no calls in the contracts", caller);
    json_decref(root);
    json_decref(mcs);
    json_decref(throttle);
    return REIN_ENOTFOUND;
  }
  rein_json_set(root, "methodConfig", mcs);
  if (throttle) rein_json_set(root, "retryThrottling", throttle);
  char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                    JSON_REAL_PRECISION(prec));
  json_decref(root);
  if (!text) return REIN_ENOMEM;
  size_t k = strlen(text);
  char *b = rein_alloc(&ix->alloc, k + 2);
  if (!b) {
    free(text);
    return REIN_ENOMEM;
  }
  memcpy(b, text, k);
  b[k] = '\n';
  b[k + 1] = 0;
  free(text);
  *out = b;
  *len = k + 1;
  return st;
}

const ix_format rein__ix_grpc = {.name = "grpc",
                                 .import = grpc_import,
                                 .export_ = grpc_export,
                                 .hedges = true};
