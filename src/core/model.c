/* SPDX-License-Identifier: Apache-2.0 */
/*
 * model.c: the one policy model (rein/model.h). One table row per policy
 * field: its YAML name, type, bounds, default, doc line and where it lives
 * in a rein_policy_spec (an accessor by field id, not an offset, so the
 * breaker window's two spellings can select the window kind). The
 * setters parse with the core's own grammars (rein_parse_duration,
 * rein/classify.h), the canonical JSON and text are written from the same
 * rows, and the builder is the one place in rein where a spec becomes a
 * budget, a breaker, a throttle and a policy.
 *
 * The JSON written here holds numbers, enum names and classify tokens
 * only (never text from input), so it needs no escaping and no JSON
 * library: the core stays libc-only.
 */
#include "rein/model.h"

#include "internal.h"
#include "rein/input.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- table */

enum fid {
  F_TIMEOUT,
  F_DEADLINE,
  F_ATTEMPTS,
  F_WINDOW,
  F_EXPECTED,
  F_WHEN,
  F_SIGNALS,
  F_BO_KIND,
  F_BO_BASE,
  F_BO_CAP,
  F_BO_JITTER,
  F_BO_MULT,
  F_BU_KIND,
  F_BU_SCOPE,
  F_BU_RATIO,
  F_BU_TTL,
  F_BU_MIN,
  F_BU_MAXTOK,
  F_BU_TOKRATIO,
  F_BU_CAPACITY,
  F_BU_COST,
  F_BU_TCOST,
  F_BU_INC,
  F_BR_SCOPE,
  F_BR_GATES,
  F_BR_RATE,
  F_BR_MINCALLS,
  F_BR_WKIND,
  F_BR_WINDOW,
  F_BR_WCALLS,
  F_BR_BUCKETS,
  F_BR_SLOWCALL,
  F_BR_SLOWRATE,
  F_BR_OPEN,
  F_BR_OJITTER,
  F_BR_PROBES,
  F_TH_SCOPE,
  F_TH_K,
  F_TH_WINDOW,
  F_TH_BUCKETS,
  F_HE_ATTEMPTS,
  F_HE_DELAY,
  F_HE_QUANTILE,
  F_HE_WINDOW,
  F_HE_MINSAMPLES,
  F_COUNT_
};

#define NS_MS 1e6
#define NS_S 1e9
#define NS_H 3600e9
#define NS_DAY366 (366 * 86400e9)

static const char *const backoff_kinds[] = {"none", "constant", "linear",
                                            "exponential", NULL};
static const char *const jitters[] = {"none", "full", "equal", "decorrelated",
                                      NULL};
static const char *const budget_kinds[] = {"ratio", "token_bucket", "quota",
                                           NULL};
static const char *const scopes[] = {"instance", "fleet", NULL};
/* in rein_breaker_gates and rein_breaker_window order */
static const char *const gates[] = {"all", "retries", NULL};
static const char *const window_kinds[] = {"calls", "time", "cumulative",
                                           NULL};

#define RATIO_K (1u << REIN_BUDGET_RATIO)
#define TOKEN_K (1u << REIN_BUDGET_TOKEN_BUCKET)
#define QUOTA_K (1u << REIN_BUDGET_QUOTA)

/* Rows in enum fid order: block, name, type, unit, min, max, min_open,
 * max_open, example, doc, names, kinds, alias. */
static const rein_model_field fields[F_COUNT_] = {
    {REIN_MODEL_CALL, "timeout", REIN_MODEL_DURATION, "ns", 0, NS_DAY366,
     false, false, "2s", "per-attempt timeout; 0 = none", NULL, 0, NULL},
    {REIN_MODEL_CALL, "deadline", REIN_MODEL_DURATION, "ns", 0, NS_DAY366,
     false, false, "10s", "per logical call, all attempts; 0 = none", NULL, 0,
     NULL},
    {REIN_MODEL_RETRY, "attempts", REIN_MODEL_COUNT, "attempts", 1, 1000, false,
     false, "3", "attempts including the first", NULL, 0, "max_attempts"},
    {REIN_MODEL_RETRY, "window", REIN_MODEL_DURATION, "ns", 0, NS_DAY366,
     false, false, "15m",
     "how long after the first attempt retries may start; 0 = none", NULL, 0,
     NULL},
    {REIN_MODEL_RETRY, "expected_attempt", REIN_MODEL_DURATION, "ns", 0,
     NS_DAY366, false, false, "200ms",
     "time an attempt is expected to take (window refusal); 0 = the timeout",
     NULL, 0, NULL},
    {REIN_MODEL_RETRY, "when", REIN_MODEL_STATUSES, "", 0, 0, false, false,
     "[503, UNAVAILABLE, connect-failure]",
     "what is retried: HTTP statuses and classes, gRPC status names, "
     "transport conditions, outcome kinds",
     NULL, 0, "retry_on"},
    {REIN_MODEL_RETRY, "signals", REIN_MODEL_SIGNALS, "", 0, 0, false, false,
     "[retry-after, pushback, ratelimit, dont-retry]",
     "server signals honoured", NULL, 0, NULL},
    {REIN_MODEL_BACKOFF, "kind", REIN_MODEL_ENUM, "", 0, 3, false, false,
     "exponential", "delay growth", backoff_kinds, 0, NULL},
    {REIN_MODEL_BACKOFF, "base", REIN_MODEL_DURATION, "ns", 0, 86400e9, false,
     false, "100ms", "first delay", NULL, 0, NULL},
    {REIN_MODEL_BACKOFF, "cap", REIN_MODEL_DURATION, "ns", 0, 86400e9, false,
     false, "10s", "largest delay (at least base)", NULL, 0, NULL},
    {REIN_MODEL_BACKOFF, "jitter", REIN_MODEL_ENUM, "", 0, 3, false, false,
     "full", "randomisation of each delay", jitters, 0, NULL},
    {REIN_MODEL_BACKOFF, "multiplier", REIN_MODEL_NUMBER, "", 1, 100, false,
     false, "2", "growth factor (exponential)", NULL, 0, NULL},
    {REIN_MODEL_BUDGET, "kind", REIN_MODEL_ENUM, "", 0, 2, false, false,
     "ratio", "how retries are rationed", budget_kinds, 0, NULL},
    {REIN_MODEL_BUDGET, "scope", REIN_MODEL_ENUM, "", 0, 1, false, false,
     "fleet", "instance: per process; fleet: shared by every instance",
     scopes, 0, NULL},
    {REIN_MODEL_BUDGET, "ratio", REIN_MODEL_NUMBER, "retries/request", 0, 1000,
     false, false, "0.1", "retries allowed per request", NULL, RATIO_K, NULL},
    {REIN_MODEL_BUDGET, "ttl", REIN_MODEL_DURATION, "ns", NS_MS, NS_H, false,
     false, "10s", "how long a request's deposit counts", NULL, RATIO_K,
     NULL},
    {REIN_MODEL_BUDGET, "min_per_sec", REIN_MODEL_NUMBER, "retries/s", 0, 1e6,
     false, false, "10", "retries always allowed per second", NULL, RATIO_K,
     "min_retries_per_sec"},
    {REIN_MODEL_BUDGET, "max_tokens", REIN_MODEL_NUMBER, "tokens", 0, 1000,
     true, false, "100", "bucket size (gRPC maxTokens)", NULL, TOKEN_K, NULL},
    {REIN_MODEL_BUDGET, "token_ratio", REIN_MODEL_NUMBER, "tokens", 0, 1000,
     true, false, "0.1", "tokens a success returns (gRPC tokenRatio)", NULL,
     TOKEN_K, NULL},
    {REIN_MODEL_BUDGET, "capacity", REIN_MODEL_COUNT, "units", 1, 1e6, false,
     false, "500", "quota size", NULL, QUOTA_K, NULL},
    {REIN_MODEL_BUDGET, "retry_cost", REIN_MODEL_COUNT, "units", 1, 1e6, false,
     false, "5", "units a retry takes (at most capacity)", NULL, QUOTA_K,
     NULL},
    {REIN_MODEL_BUDGET, "timeout_retry_cost", REIN_MODEL_COUNT, "units", 1,
     1e6, false, false, "10",
     "units a retry after a timeout takes (at most capacity)", NULL, QUOTA_K,
     NULL},
    {REIN_MODEL_BUDGET, "success_increment", REIN_MODEL_COUNT, "units", 0, 1e6,
     false, false, "1", "units a success returns (at most capacity)", NULL,
     QUOTA_K, NULL},
    {REIN_MODEL_BREAKER, "scope", REIN_MODEL_ENUM, "", 0, 1, false, false,
     "instance", "instance: per process; fleet: shared by every instance",
     scopes, 0, NULL},
    {REIN_MODEL_BREAKER, "gates", REIN_MODEL_ENUM, "", 0, 1, false, false,
     "retries",
     "what it refuses: all calls, or retries only (never a first attempt; "
     "no open time or probes)",
     gates, 0, NULL},
    {REIN_MODEL_BREAKER, "failure_rate", REIN_MODEL_NUMBER, "", 0, 1, true,
     false, "0.5", "failed share of calls that opens it", NULL, 0, NULL},
    {REIN_MODEL_BREAKER, "min_calls", REIN_MODEL_COUNT, "calls", 1, 1e6, false,
     false, "20", "calls in the window before it may open", NULL, 0, NULL},
    {REIN_MODEL_BREAKER, "window_kind", REIN_MODEL_ENUM, "", 0, 2, false,
     false, "cumulative",
     "calls, time or cumulative (every outcome since start); window and "
     "window_calls select it too",
     window_kinds, 0, NULL},
    {REIN_MODEL_BREAKER, "window", REIN_MODEL_DURATION, "ns", NS_MS, NS_H,
     false, false, "10s", "time window (exclusive with window_calls)", NULL,
     0, "window_duration"},
    {REIN_MODEL_BREAKER, "window_calls", REIN_MODEL_COUNT, "calls", 1, 1e5,
     false, false, "100", "count window: the last N calls", NULL, 0,
     "window_size"},
    {REIN_MODEL_BREAKER, "buckets", REIN_MODEL_COUNT, "", 1, 60, false, false,
     "10", "buckets of the time window", NULL, 0, NULL},
    {REIN_MODEL_BREAKER, "slow_call", REIN_MODEL_DURATION, "ns", 0, NS_DAY366,
     false, false, "2s", "a call at least this long is slow; 0 = off", NULL,
     0, NULL},
    {REIN_MODEL_BREAKER, "slow_rate", REIN_MODEL_NUMBER, "", 0, 1, true, false,
     "0.8", "slow share of calls that opens it", NULL, 0, NULL},
    {REIN_MODEL_BREAKER, "open", REIN_MODEL_DURATION, "ns", 0, 86400e9,
     true, false, "5s", "how long it stays open", NULL, 0, NULL},
    {REIN_MODEL_BREAKER, "open_jitter", REIN_MODEL_NUMBER, "", 0, 0.999, false,
     false, "0.2", "randomises the open time by this fraction", NULL, 0,
     NULL},
    {REIN_MODEL_BREAKER, "half_open_probes", REIN_MODEL_COUNT, "calls", 1,
     1000, false, false, "3", "trial calls let through half-open", NULL, 0,
     NULL},
    {REIN_MODEL_THROTTLE, "scope", REIN_MODEL_ENUM, "", 0, 1, false, false,
     "instance", "instance: per process; fleet: shared by every instance",
     scopes, 0, NULL},
    {REIN_MODEL_THROTTLE, "k", REIN_MODEL_NUMBER, "", 1, 100, false, false,
     "2", "accepts multiplier of the SRE formula", NULL, 0, NULL},
    {REIN_MODEL_THROTTLE, "window", REIN_MODEL_DURATION, "ns", NS_MS, NS_H,
     false, false, "2m", "history the formula looks at", NULL, 0, NULL},
    {REIN_MODEL_THROTTLE, "buckets", REIN_MODEL_COUNT, "", 1, 60, false, false,
     "12", "buckets of the window", NULL, 0, NULL},
    {REIN_MODEL_HEDGE, "attempts", REIN_MODEL_COUNT, "", 1,
     REIN_HEDGE_MAX_ATTEMPTS, false, false, "3",
     "attempts in all, the first included", NULL, 0, NULL},
    {REIN_MODEL_HEDGE, "delay", REIN_MODEL_DURATION, "ns", 0, NS_H, false,
     false, "100ms",
     "send a hedge when no answer came after this (with quantile: until "
     "min_samples are seen)",
     NULL, 0, NULL},
    {REIN_MODEL_HEDGE, "quantile", REIN_MODEL_NUMBER, "", 0, 1, false, true,
     "0.95", "0 = the fixed delay; else hedge after this quantile of recent "
             "attempt latencies",
     NULL, 0, NULL},
    {REIN_MODEL_HEDGE, "window", REIN_MODEL_DURATION, "ns", 100 * NS_MS, NS_H,
     false, false, "10s", "latencies the quantile looks at", NULL, 0, NULL},
    {REIN_MODEL_HEDGE, "min_samples", REIN_MODEL_COUNT, "", 1, 1e6, false,
     false, "100", "latencies seen before the quantile is used", NULL, 0,
     NULL},
};

static const char *const block_names[REIN_MODEL_BLOCK_COUNT_] = {
    "call", "retry", "backoff", "budget", "breaker", "throttle", "hedge"};

/* names per block, filled from the table at first use would be global
 * state; they are spelled out instead (test_model checks they match). */
static const char *const names_call[] = {"timeout", "deadline", NULL};
static const char *const names_retry[] = {
    "attempts", "window", "expected_attempt", "when", "signals", NULL};
static const char *const names_backoff[] = {"kind", "base", "cap", "jitter",
                                            "multiplier", NULL};
static const char *const names_budget[] = {
    "kind",       "scope",      "ratio",
    "ttl",        "min_per_sec", "max_tokens",
    "token_ratio", "capacity",  "retry_cost",
    "timeout_retry_cost", "success_increment", NULL};
static const char *const names_breaker[] = {
    "scope",        "gates",     "failure_rate", "min_calls",
    "window_kind",  "window",    "window_calls", "buckets",
    "slow_call",    "slow_rate", "open",         "open_jitter",
    "half_open_probes", NULL};
static const char *const names_throttle[] = {"scope", "k", "window",
                                             "buckets", NULL};
static const char *const names_hedge[] = {"attempts", "delay", "quantile",
                                          "window", "min_samples", NULL};
static const char *const *const block_fields[REIN_MODEL_BLOCK_COUNT_] = {
    names_call,    names_retry,   names_backoff,
    names_budget,  names_breaker, names_throttle, names_hedge};

const rein_model_field *rein_model_fields(size_t *n) {
  if (n) *n = F_COUNT_;
  return fields;
}

const char *rein_model_block_name(rein_model_block b) {
  return (unsigned)b < REIN_MODEL_BLOCK_COUNT_ ? block_names[b] : "unknown";
}

const char *const *rein_model_names(rein_model_block b) {
  static const char *const none[] = {NULL};
  return (unsigned)b < REIN_MODEL_BLOCK_COUNT_ ? block_fields[b] : none;
}

const rein_model_field *rein_model_find(rein_model_block b, const char *name,
                                        bool *deprecated) {
  if (deprecated) *deprecated = false;
  if (!name) return NULL;
  for (size_t i = 0; i < F_COUNT_; i++)
    if (fields[i].block == b && strcmp(fields[i].name, name) == 0)
      return &fields[i];
  for (size_t i = 0; i < F_COUNT_; i++)
    if (fields[i].block == b && fields[i].alias &&
        strcmp(fields[i].alias, name) == 0) {
      if (deprecated) *deprecated = true;
      return &fields[i];
    }
  return NULL;
}

/* ------------------------------------------------------------- defaults */

void rein_policy_spec_default(rein_policy_spec *s) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  rein_policy_config_default(&s->policy);
  rein_budget_config_default(&s->budget);
  rein_breaker_config_default(&s->breaker);
  rein_throttle_config_default(&s->throttle);
  rein_hedge_config_default(&s->hedge);
  s->signals = REIN_SIGNAL_ALL;
}

void rein_policy_build_default(rein_policy_build *b) {
  if (!b) return;
  memset(b, 0, sizeof *b); /* a zero clock reads CLOCK_MONOTONIC */
}

/* ------------------------------------------------------------ accessors */

static int fid_of(const rein_model_field *f) {
  if (!f || f < fields || f >= fields + F_COUNT_) return -1;
  return (int)(f - fields);
}

static int64_t *dur_slot(rein_policy_spec *s, int id) {
  switch (id) {
  case F_TIMEOUT: return &s->policy.attempt_timeout_ns;
  case F_DEADLINE: return &s->deadline_ns;
  case F_WINDOW: return &s->policy.window_ns;
  case F_EXPECTED: return &s->policy.expected_attempt_ns;
  case F_BO_BASE: return &s->policy.backoff.base_ns;
  case F_BO_CAP: return &s->policy.backoff.cap_ns;
  case F_BU_TTL: return &s->budget.ttl_ns;
  case F_BR_WINDOW: return &s->breaker.window_ns;
  case F_BR_SLOWCALL: return &s->breaker.slow_call_ns;
  case F_BR_OPEN: return &s->breaker.open_ns;
  case F_TH_WINDOW: return &s->throttle.window_ns;
  case F_HE_DELAY: return &s->hedge.delay_ns;
  case F_HE_WINDOW: return &s->hedge.window_ns;
  default: return NULL;
  }
}

static uint32_t *count_slot(rein_policy_spec *s, int id) {
  switch (id) {
  case F_ATTEMPTS: return &s->policy.max_attempts;
  case F_BU_CAPACITY: return &s->budget.capacity;
  case F_BU_COST: return &s->budget.retry_cost;
  case F_BU_TCOST: return &s->budget.timeout_retry_cost;
  case F_BU_INC: return &s->budget.success_increment;
  case F_BR_MINCALLS: return &s->breaker.min_calls;
  case F_BR_WCALLS: return &s->breaker.window_size;
  case F_BR_BUCKETS: return &s->breaker.buckets;
  case F_BR_PROBES: return &s->breaker.half_open_probes;
  case F_TH_BUCKETS: return &s->throttle.buckets;
  case F_HE_ATTEMPTS: return &s->hedge.max_attempts;
  case F_HE_MINSAMPLES: return &s->hedge.min_samples;
  default: return NULL;
  }
}

static double *num_slot(rein_policy_spec *s, int id) {
  switch (id) {
  case F_BO_MULT: return &s->policy.backoff.multiplier;
  case F_BU_RATIO: return &s->budget.ratio;
  case F_BU_MIN: return &s->budget.min_retries_per_sec;
  case F_BU_MAXTOK: return &s->budget.max_tokens;
  case F_BU_TOKRATIO: return &s->budget.token_ratio;
  case F_BR_RATE: return &s->breaker.failure_rate;
  case F_BR_SLOWRATE: return &s->breaker.slow_rate;
  case F_BR_OJITTER: return &s->breaker.open_jitter;
  case F_TH_K: return &s->throttle.k;
  case F_HE_QUANTILE: return &s->hedge.quantile;
  default: return NULL;
  }
}

static int enum_get(const rein_policy_spec *s, int id) {
  switch (id) {
  case F_BO_KIND: return (int)s->policy.backoff.kind;
  case F_BO_JITTER: return (int)s->policy.backoff.jitter;
  case F_BU_KIND: return (int)s->budget.kind;
  case F_BU_SCOPE: return (int)s->budget_scope;
  case F_BR_SCOPE: return (int)s->breaker_scope;
  case F_BR_GATES: return (int)s->breaker.gates;
  case F_BR_WKIND: return (int)s->breaker.window;
  case F_TH_SCOPE: return (int)s->throttle_scope;
  default: return -1;
  }
}

static void enum_put(rein_policy_spec *s, int id, int v) {
  switch (id) {
  case F_BO_KIND: s->policy.backoff.kind = (rein_backoff_kind)v; break;
  case F_BO_JITTER: s->policy.backoff.jitter = (rein_jitter)v; break;
  case F_BU_KIND: s->budget.kind = (rein_budget_kind)v; break;
  case F_BU_SCOPE: s->budget_scope = (rein_scope)v; break;
  case F_BR_SCOPE: s->breaker_scope = (rein_scope)v; break;
  case F_BR_GATES: s->breaker.gates = (rein_breaker_gates)v; break;
  case F_BR_WKIND: s->breaker.window = (rein_breaker_window)v; break;
  case F_TH_SCOPE: s->throttle_scope = (rein_scope)v; break;
  default: break;
  }
}

/* ------------------------------------------------------------- setters */

static rein_status bounds(const rein_model_field *f, double v,
                          const char *text, rein_errbuf *err) {
  bool lo = f->min_open ? v > f->min : v >= f->min;
  bool hi = f->max_open ? v < f->max : v <= f->max;
  if (lo && hi) return REIN_OK;
  char a[48], b[48];
  if (f->type == REIN_MODEL_DURATION) {
    rein_format_duration((int64_t)f->min, a, sizeof a);
    rein_format_duration((int64_t)f->max, b, sizeof b);
  } else {
    snprintf(a, sizeof a, "%.15g", f->min);
    snprintf(b, sizeof b, "%.15g", f->max);
  }
  return rein_errbuf_set(err, REIN_ERANGE, "must be in %s%s, %s%s, got %.60s",
                         f->min_open ? "(" : "[", a, b, f->max_open ? ")" : "]",
                         text);
}

static bool is_count_text(const char *t) {
  if (!*t) return false;
  for (const char *p = t; *p; p++)
    if (*p < '0' || *p > '9') return false;
  return true;
}

rein_status rein_model_set(rein_policy_spec *s, const rein_model_field *f,
                           const char *text, rein_errbuf *err) {
  int id = fid_of(f);
  if (!s || id < 0 || !text)
    return rein_errbuf_set(err, REIN_EINVAL, "NULL argument or unknown field");
  switch (f->type) {
  case REIN_MODEL_DURATION: {
    int64_t ns;
    rein_status st = rein_parse_duration(text, &ns);
    if (st == REIN_EPARSE)
      return rein_errbuf_set(err, REIN_EPARSE,
                             "expected a duration such as %s (a number and a "
                             "unit: ns, us, ms, s, m, h, d, w; or 1h30m), got "
                             "'%.60s'",
                             f->example, text);
    if (st != REIN_OK) return bounds(f, INFINITY, text, err);
    if (bounds(f, (double)ns, text, err) != REIN_OK) return REIN_ERANGE;
    *dur_slot(s, id) = ns;
    if (id == F_BR_WINDOW) s->breaker.window = REIN_BREAKER_WINDOW_TIME;
    return REIN_OK;
  }
  case REIN_MODEL_COUNT: {
    if (!is_count_text(text))
      return rein_errbuf_set(err, REIN_EPARSE,
                             "expected a whole number such as %s, got '%.60s'",
                             f->example, text);
    errno = 0;
    unsigned long long v = strtoull(text, NULL, 10);
    if (errno || v > UINT32_MAX) return bounds(f, INFINITY, text, err);
    if (bounds(f, (double)v, text, err) != REIN_OK) return REIN_ERANGE;
    *count_slot(s, id) = (uint32_t)v;
    if (id == F_BR_WCALLS) s->breaker.window = REIN_BREAKER_WINDOW_COUNT;
    return REIN_OK;
  }
  case REIN_MODEL_NUMBER: {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || v != v || isinf(v) ||
        !((*text >= '0' && *text <= '9') || *text == '.' || *text == '-'))
      return rein_errbuf_set(err, REIN_EPARSE,
                             "expected a number such as %s, got '%.60s'",
                             f->example, text);
    if (bounds(f, v, text, err) != REIN_OK) return REIN_ERANGE;
    *num_slot(s, id) = v;
    return REIN_OK;
  }
  case REIN_MODEL_ENUM: {
    for (int k = 0; f->names[k]; k++)
      if (strcmp(f->names[k], text) == 0) {
        enum_put(s, id, k);
        return REIN_OK;
      }
    char known[160];
    size_t o = 0;
    known[0] = 0;
    for (int k = 0; f->names[k] && o < sizeof known; k++)
      o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", k ? ", " : "",
                            f->names[k]);
    return rein_errbuf_set(err, REIN_EPARSE,
                           "expected one of %s, got '%.60s'", known, text);
  }
  default:
    return rein_errbuf_set(err, REIN_EINVAL, "a list: give its items one by one");
  }
}

static const char *const signal_names[] = {"retry-after", "pushback",
                                           "ratelimit", "dont-retry", NULL};

/* retry_on from the set: every kind it names or touches, never SUCCESS;
 * FATAL only when the kind itself is named (a 4xx status named makes that
 * status retryable, not every local error). */
uint32_t rein_model_name_kinds(const char *name) {
  rein_retryable_set one;
  rein_retryable_set_clear(&one);
  if (!name || rein_retryable_set_add(&one, name, strlen(name), NULL) != REIN_OK)
    return 0;
  if (one.kinds) return one.kinds & ~REIN_RETRY_ON(REIN_OUTCOME_SUCCESS);
  /* a whole class counts as its typical kind: 5xx FAILURE, 4xx FATAL
   * (so none), 1xx..3xx none */
  size_t n = strlen(name);
  if (n == 3 && (name[1] == 'x' || name[1] == 'X')) {
    return name[0] == '5' ? REIN_RETRY_ON(REIN_OUTCOME_FAILURE) : 0;
  }
  return rein_retryable_set_kind_mask(&one) &
         ~(REIN_RETRY_ON(REIN_OUTCOME_SUCCESS) |
           REIN_RETRY_ON(REIN_OUTCOME_FATAL));
}

void rein_model_list_clear(rein_policy_spec *s, const rein_model_field *f) {
  int id = fid_of(f);
  if (!s) return;
  if (id == F_WHEN) {
    rein_retryable_set_clear(&s->policy.retryable);
    s->policy.retry_on = 0;
  } else if (id == F_SIGNALS) {
    s->signals = 0;
  }
}

rein_status rein_model_list_add(rein_policy_spec *s, const rein_model_field *f,
                                const char *text, rein_errbuf *err) {
  int id = fid_of(f);
  if (!s || !text || (id != F_WHEN && id != F_SIGNALS))
    return rein_errbuf_set(err, REIN_EINVAL, "not a list field");
  if (id == F_SIGNALS) {
    for (int k = 0; signal_names[k]; k++)
      if (strcmp(signal_names[k], text) == 0) {
        s->signals |= 1u << k;
        return REIN_OK;
      }
    return rein_errbuf_set(err, REIN_EPARSE,
                           "expected one of retry-after, pushback, ratelimit, "
                           "dont-retry, got '%.60s'",
                           text);
  }
  rein_errbuf eb = {{0}};
  if (rein_retryable_set_add(&s->policy.retryable, text, strlen(text), &eb) !=
      REIN_OK) {
    const char *m = eb.msg;
    if (strncmp(m, "retryable: ", 11) == 0) m += 11;
    return rein_errbuf_set(err, REIN_EPARSE, "%s", m);
  }
  s->policy.retry_on |= rein_model_name_kinds(text);
  return REIN_OK;
}

/* ------------------------------------------------------------- getters */

/* %.17g, or fewer digits when they read back the same. */
static void fmt_num(double v, char *buf, size_t len) {
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(buf, len, "%.0f", v);
    return;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, len, "%.*g", p, v);
    if (strtod(buf, NULL) == v) return;
  }
}

const char *rein_model_get(const rein_policy_spec *s, const rein_model_field *f,
                           char *buf, size_t len) {
  int id = fid_of(f);
  if (!buf || !len) return buf;
  buf[0] = 0;
  if (!s || id < 0) return buf;
  rein_policy_spec *m = (rein_policy_spec *)s; /* the slots are read only */
  switch (f->type) {
  case REIN_MODEL_DURATION:
    rein_format_duration(*dur_slot(m, id), buf, len);
    break;
  case REIN_MODEL_COUNT:
    snprintf(buf, len, "%u", *count_slot(m, id));
    break;
  case REIN_MODEL_NUMBER:
    fmt_num(*num_slot(m, id), buf, len);
    break;
  case REIN_MODEL_ENUM: {
    int v = enum_get(s, id), n = 0;
    while (f->names[n])
      n++;
    snprintf(buf, len, "%s", v >= 0 && v < n ? f->names[v] : "unknown");
    break;
  }
  case REIN_MODEL_STATUSES:
    if (rein_retryable_set_is_empty(&s->policy.retryable)) {
      /* a kind-only policy: its retry_on mask as kind names */
      size_t o = 0;
      for (int k = 1; k < REIN_OUTCOME_COUNT_ && o < len; k++)
        if (s->policy.retry_on & REIN_RETRY_ON(k))
          o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
                                k == REIN_OUTCOME_NOT_SENT
                                    ? "not-sent"
                                    : rein_outcome_kind_name(
                                          (rein_outcome_kind)k));
    } else {
      rein_retryable_set_format(&s->policy.retryable, buf, len);
    }
    break;
  case REIN_MODEL_SIGNALS: {
    size_t o = 0;
    for (int k = 0; signal_names[k] && o < len; k++)
      if (s->signals & (1u << k))
        o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
                              signal_names[k]);
    break;
  }
  }
  return buf;
}

/* ------------------------------------------------------- canonical JSON */

typedef struct jw {
  char *buf;
  size_t len, n;
} jw;

static void put(jw *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(jw *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = w->n < w->len ? w->len - w->n : 0;
  int k = vsnprintf(room ? w->buf + w->n : NULL, room, fmt, ap);
  va_end(ap);
  if (k > 0) w->n += (size_t)k;
}

/* Is the field part of the spec as it stands (budget fields of the kind,
 * the breaker window of its kind)? */
static bool applies(const rein_policy_spec *s, int id) {
  const rein_model_field *f = &fields[id];
  if (f->block == REIN_MODEL_BUDGET && f->kinds &&
      !(f->kinds & (1u << s->budget.kind)))
    return false;
  if (id == F_BR_WINDOW || id == F_BR_BUCKETS)
    return s->breaker.window == REIN_BREAKER_WINDOW_TIME;
  if (id == F_BR_WCALLS) return s->breaker.window == REIN_BREAKER_WINDOW_COUNT;
  if (id == F_BO_MULT) return s->policy.backoff.kind == REIN_BACKOFF_EXPONENTIAL;
  return true;
}

static void put_list(jw *w, const char *list) {
  put(w, "[");
  int first = 1;
  for (const char *p = list; *p;) {
    while (*p == ',' || *p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    if (e > p) {
      put(w, "%s\"%.*s\"", first ? "" : ",", (int)(e - p), p);
      first = 0;
    }
    p = e;
  }
  put(w, "]");
}

size_t rein_policy_spec_json(const rein_policy_spec *s, char *buf,
                             size_t len) {
  jw w = {buf, len, 0};
  if (buf && len) buf[0] = 0;
  if (!s) return 0;
  put(&w, "{");
  for (int b = 0; b < REIN_MODEL_BLOCK_COUNT_; b++) {
    put(&w, "%s\"%s\":", b ? "," : "", block_names[b]);
    if ((b == REIN_MODEL_BUDGET && !s->has_budget) ||
        (b == REIN_MODEL_BREAKER && !s->has_breaker) ||
        (b == REIN_MODEL_THROTTLE && !s->has_throttle) ||
        (b == REIN_MODEL_HEDGE && !s->has_hedge)) {
      put(&w, "null");
      continue;
    }
    put(&w, "{");
    int first = 1;
    for (int id = 0; id < F_COUNT_; id++) {
      const rein_model_field *f = &fields[id];
      if ((int)f->block != b || !applies(s, id)) continue;
      char v[2048];
      rein_model_get(s, f, v, sizeof v);
      put(&w, "%s\"%s\":", first ? "" : ",", f->name);
      first = 0;
      if (f->type == REIN_MODEL_COUNT || f->type == REIN_MODEL_NUMBER)
        put(&w, "%s", v);
      else if (f->type == REIN_MODEL_STATUSES || f->type == REIN_MODEL_SIGNALS)
        put_list(&w, v);
      else
        put(&w, "\"%s\"", v);
    }
    put(&w, "}");
  }
  put(&w, "}");
  return w.n;
}

/* ------------------------------------------------------------------ YAML */

static void put_block_flow(jw *w, const rein_policy_spec *s, int b) {
  put(w, "{");
  int first = 1;
  for (int id = 0; id < F_COUNT_; id++) {
    const rein_model_field *f = &fields[id];
    if ((int)f->block != b || !applies(s, id)) continue;
    char v[2048];
    rein_model_get(s, f, v, sizeof v);
    put(w, "%s%s: ", first ? "" : ", ", f->name);
    first = 0;
    if (f->type == REIN_MODEL_STATUSES || f->type == REIN_MODEL_SIGNALS)
      put(w, "[%s]", v);
    else
      put(w, "%s", v);
  }
  put(w, "}");
}

size_t rein_policy_spec_yaml(const rein_policy_spec *s, bool contract,
                             unsigned indent, char *buf, size_t len) {
  jw w = {buf, len, 0};
  if (buf && len) buf[0] = 0;
  if (!s) return 0;
  if (indent > 64) indent = 64;
  unsigned in2 = contract ? indent + 2 : indent;
  for (int id = 0; id < F_COUNT_; id++) {
    const rein_model_field *f = &fields[id];
    if (f->block != REIN_MODEL_CALL && f->block != REIN_MODEL_RETRY) continue;
    if (contract && id == F_ATTEMPTS) put(&w, "%*sretry:\n", (int)indent, "");
    char v[2048];
    rein_model_get(s, f, v, sizeof v);
    put(&w, "%*s%s: ", (int)(f->block == REIN_MODEL_CALL ? indent : in2), "",
        f->name);
    if (f->type == REIN_MODEL_STATUSES || f->type == REIN_MODEL_SIGNALS)
      put(&w, "[%s]\n", v);
    else
      put(&w, "%s\n", v);
  }
  for (int b = REIN_MODEL_BACKOFF; b < REIN_MODEL_BLOCK_COUNT_; b++) {
    if ((b == REIN_MODEL_BUDGET && !s->has_budget) ||
        (b == REIN_MODEL_BREAKER && !s->has_breaker) ||
        (b == REIN_MODEL_THROTTLE && !s->has_throttle) ||
        (b == REIN_MODEL_HEDGE && !s->has_hedge))
      continue;
    put(&w, "%*s%s: ", (int)in2, "", block_names[b]);
    put_block_flow(&w, s, b);
    put(&w, "\n");
  }
  return w.n;
}

/* ------------------------------------------------------------- builder */

void rein_policy_objects_free(rein_policy_objects *o) {
  if (!o) return;
  rein_hedge_policy_free(o->hedge);
  rein_policy_free(o->policy);
  if (o->own_throttle) rein_throttle_free(o->throttle);
  if (o->own_breaker) rein_breaker_free(o->breaker);
  if (o->own_budget) rein_budget_free(o->budget);
  memset(o, 0, sizeof *o);
}

rein_status rein_policy_spec_build(const rein_policy_spec *s,
                                   const rein_policy_build *b,
                                   rein_policy_objects *out) {
  if (!out) return REIN_EINVAL;
  memset(out, 0, sizeof *out);
  if (!s) return REIN_EINVAL;
  rein_policy_build def;
  if (!b) {
    rein_policy_build_default(&def);
    b = &def;
  }
  rein_status st = REIN_OK;
  if (s->has_budget) {
    if (b->budget) {
      out->budget = b->budget;
    } else {
      rein_budget_config c = s->budget;
      c.alloc = b->alloc;
      c.err = b->err;
      if (b->stripes) c.stripes = b->stripes;
      if ((st = rein_budget_new(&c, &out->budget)) != REIN_OK) goto fail;
      out->own_budget = true;
    }
  }
  if (s->has_breaker) {
    if (b->breaker) {
      out->breaker = b->breaker;
    } else {
      rein_breaker_config c = s->breaker;
      c.alloc = b->alloc;
      c.err = b->err;
      c.metrics = b->metrics;
      if (b->stripes) c.stripes = b->stripes;
      if (b->breaker_seed) c.seed = b->breaker_seed;
      else if (b->seed) c.seed = b->seed;
      if ((st = rein_breaker_new(&c, &out->breaker)) != REIN_OK) goto fail;
      out->own_breaker = true;
    }
  }
  if (s->has_throttle) {
    if (b->throttle) {
      out->throttle = b->throttle;
    } else {
      rein_throttle_config c = s->throttle;
      c.alloc = b->alloc;
      c.err = b->err;
      if (b->stripes) c.stripes = b->stripes;
      if ((st = rein_throttle_new(&c, &out->throttle)) != REIN_OK) goto fail;
      out->own_throttle = true;
    }
  }
  rein_policy_config pc = s->policy;
  pc.budget = out->budget;
  pc.breaker = out->breaker;
  pc.throttle = out->throttle;
  pc.metrics = b->metrics;
  pc.clock = b->clock;
  if (b->seed) pc.seed = b->seed;
  pc.alloc = b->alloc;
  pc.err = b->err;
  if (b->stripes) pc.stripes = b->stripes;
  if ((st = rein_policy_new(&pc, &out->policy)) != REIN_OK) goto fail;
  if (s->has_hedge) {
    rein_hedge_config hc = s->hedge;
    hc.policy = out->policy;
    hc.alloc = b->alloc;
    hc.err = b->err;
    if ((st = rein_hedge_policy_new(&hc, &out->hedge)) != REIN_OK) goto fail;
  }
  return REIN_OK;
fail:
  rein_policy_objects_free(out);
  return st;
}

rein_status rein_policy_spec_of(const rein_policy *p, rein_policy_spec *out) {
  if (!p || !out) return REIN_EINVAL;
  rein_policy_spec_default(out);
  const rein_policy_config *c = rein_policy_get_config(p);
  out->policy = *c;
  out->policy.budget = NULL;
  out->policy.breaker = NULL;
  out->policy.throttle = NULL;
  out->policy.metrics = NULL;
  out->policy.alloc = NULL;
  out->policy.err = NULL;
  if (c->budget && rein_budget_get_config(c->budget, &out->budget) == REIN_OK)
    out->has_budget = true;
  if (c->breaker &&
      rein_breaker_get_config(c->breaker, &out->breaker) == REIN_OK)
    out->has_breaker = true;
  if (c->throttle &&
      rein_throttle_get_config(c->throttle, &out->throttle) == REIN_OK)
    out->has_throttle = true;
  return REIN_OK;
}
