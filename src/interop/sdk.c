/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sdk.c: the retry defaults of client SDKs -> rein's policy model, in two
 * formats:
 *
 *  - "aws": the AWS shared config file (~/.aws/config, an INI file:
 *    `[default]` and `[profile NAME]` sections with `retry_mode` and
 *    `max_attempts`), read and written. Each profile is one call, to
 *    `aws.PROFILE` (every character a contract name cannot hold as '-'),
 *    whose origin names the section. Environment variables
 *    (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS) are not read: they are not in a
 *    file rein can be pointed at.
 *  - "sdk": a small YAML file naming the SDK clients a service runs, each
 *    with its version and the settings it overrides; every setting left
 *    out takes the SDK's published default:
 *
 *        sdk_clients:
 *          - sdk: go-retryablehttp      # aws | google-api-core | ...
 *            version: v0.7.8
 *            to: payments.charge        # the callee (default SDK.*)
 *            RetryMax: 2                # as the SDK spells it
 *
 *    Read only: a contract does not say which client library runs a call,
 *    and these settings are code (constructor arguments), not a file the
 *    SDK reads, so there is nothing to export to.
 *
 * The defaults, each from the source named (docs/interop.md repeats them):
 *
 *  AWS, standard and adaptive modes (the AWS SDKs and Tools Reference
 *  Guide, "Retry behavior", docs.aws.amazon.com/sdkref/latest/guide/
 *  feature-retry-behavior.html, and botocore's retries/standard.py and
 *  retries/quota.py with STANDARD_RETRY_MODE_VERSION "2.0", the default):
 *  3 attempts; retry i (0-based) waits rand(0, 1) x min(2^i, 20) s, which
 *  is rein's exponential backoff, base 1s, multiplier 2, cap 20s, full
 *  jitter; a retry quota of 500 units, a retry costs 5, a retry after a
 *  timeout 10, a success without retry returns 1 and a successful retry
 *  its cost: rein's quota budget (rein/budget.h) with exactly those
 *  numbers. Retried: HTTP 500, 502, 503, 504, connection errors and
 *  timeouts, and throttling or transient *error codes* (Throttling,
 *  ThrottlingException, RequestTimeout, ...) whatever their status, which
 *  rein cannot see (a warning). Adaptive adds a client-side rate limiter
 *  (a token bucket whose rate follows CUBIC on throttling errors), which
 *  rein cannot represent (a warning).
 *  AWS legacy mode is specific to each SDK; rein reads botocore's (the
 *  AWS CLI's and boto3's), botocore/data/_retry.json: 5 attempts, retry n
 *  waits rand(0, 1) x 2^(n-1) s with no cap, no quota; retried 429, 500,
 *  503, 509 and socket errors, and the throttling codes above.
 *
 *  go-retryablehttp v0.7.8 (github.com/hashicorp/go-retryablehttp,
 *  client.go): RetryMax 4, RetryWaitMin 1s, RetryWaitMax 30s;
 *  DefaultBackoff waits min(RetryWaitMin x 2^i, RetryWaitMax) for retry i
 *  (0-based) with no jitter, or the Retry-After of a 429 or 503;
 *  DefaultRetryPolicy retries transport errors (but redirects, a bad
 *  scheme or header, TLS certificate errors), 429, and 500..599 but 501.
 *
 *  google-api-core 2.29.0 (github.com/googleapis/python-api-core,
 *  google/api_core/retry/retry_base.py): Retry(initial=1.0,
 *  maximum=60.0, multiplier=2.0, timeout=120.0); the sleep of retry n is
 *  uniform(0, min(initial x multiplier^(n-1), maximum)), and a retry whose
 *  sleep would end past the timeout is not made (rein's `window`); no
 *  attempt limit; if_transient_error retries InternalServerError (HTTP
 *  500, gRPC INTERNAL), TooManyRequests (429, RESOURCE_EXHAUSTED),
 *  ServiceUnavailable (503, UNAVAILABLE) and connection errors.
 *
 * The INI reader is this file's own (no other format is INI): libinih,
 * Debian's INI parser, hands its callback no line numbers, and every
 * diagnostic and origin here needs file:line:col.
 */
#include "interop_internal.h"

#include "rein/input.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NS_MS INT64_C(1000000)
#define NS_S INT64_C(1000000000)
#define MAXM 32

static const rein_model_field *mf(rein_model_block b, const char *name) {
  return rein_model_find(b, name, NULL);
}

static void sanitize(const char *in, size_t n, char *out, size_t cap) {
  rein__ix_sanitize(in, n, out, cap);
}

/* ------------------------------------------------------- the policies */

typedef enum aws_mode { AWS_LEGACY, AWS_STANDARD, AWS_ADAPTIVE } aws_mode;
static const char *const aws_modes[] = {"legacy", "standard", "adaptive",
                                        NULL};

/* Once-per-file diagnostics of the SDK policies. */
typedef struct sdk_once {
  bool codes, legacy, quota, new2026, google_attempts, ra_status, r501, tls,
      timeout;
} sdk_once;

/* rein names a timed-out attempt `timeout`, the outcome kind, which also
 * holds HTTP 408 and 504 and gRPC DEADLINE_EXCEEDED. */
static void timeout_note(rein_interop *ix, rein_contract_loc loc,
                         const char *field, const char *sdk,
                         const char *extra, sdk_once *once) {
  if (once->timeout) return;
  once->timeout = true;
  rein__ix_diag(ix, REIN_INTEROP_NOTE, loc, field,
                "%s retries a timed-out attempt; rein's `timeout` is the "
                "outcome kind, which also retries %s (noted once per file)",
                sdk, extra);
}

static void when_add(rein_policy_spec *sp, const char *names) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s", names);
  char *save = NULL;
  for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save))
    rein_model_list_add(sp, mf(REIN_MODEL_RETRY, "when"), p, NULL);
}

static void spec_base(rein_policy_spec *sp) {
  rein_policy_spec_default(sp);
  rein_model_list_clear(sp, mf(REIN_MODEL_RETRY, "when"));
  sp->signals = 0;
  sp->deadline_ns = 0;
  sp->policy.attempt_timeout_ns = 0;
  sp->policy.window_ns = 0;
  sp->policy.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  sp->policy.backoff.jitter = REIN_JITTER_FULL;
  sp->policy.backoff.multiplier = 2;
}

/* The legacy cap: the largest delay `attempts` attempts can draw (botocore
 * has none), at least the base and at most a day (rein's bound). */
static int64_t legacy_cap(uint32_t attempts) {
  int64_t cap = NS_S;
  for (uint32_t n = 2; n < attempts && cap < 86400 * NS_S / 2; n++)
    cap *= 2;
  return cap < 86400 * NS_S ? cap : 86400 * NS_S;
}

/* AWS's policy of `mode` with `attempts` (0 = the mode's default). */
static void aws_spec(aws_mode mode, uint32_t attempts, rein_policy_spec *sp) {
  spec_base(sp);
  rein_backoff_config *b = &sp->policy.backoff;
  b->base_ns = NS_S;
  if (mode == AWS_LEGACY) {
    sp->policy.max_attempts = attempts ? attempts : 5;
    b->cap_ns = legacy_cap(sp->policy.max_attempts);
    when_add(sp, "429, 500, 503, 509, connect-failure, reset, timeout");
    return;
  }
  sp->policy.max_attempts = attempts ? attempts : 3;
  b->cap_ns = 20 * NS_S;
  when_add(sp, "429, 500, 502, 503, 504, connect-failure, reset, timeout");
  sp->has_budget = true;
  rein_budget_config_default(&sp->budget);
  sp->budget.kind = REIN_BUDGET_QUOTA;
  sp->budget.capacity = 500;
  sp->budget.retry_cost = 5;
  sp->budget.timeout_retry_cost = 10;
  sp->budget.success_increment = 1;
  sp->budget_scope = REIN_SCOPE_INSTANCE;
}

/* What rein cannot say of AWS's `mode`, at `loc`. */
static void aws_diags(rein_interop *ix, rein_contract_loc loc,
                      const char *field, aws_mode mode, bool mode_given,
                      sdk_once *once) {
  if (!mode_given)
    rein__ix_diag(ix, REIN_INTEROP_NOTE, loc, field,
                  "no retry_mode: legacy, the default the AWS SDKs and Tools "
                  "Reference Guide states (the AWS CLI v2 and several newer "
                  "SDKs default to standard: set retry_mode to be sure)");
  if (!once->codes) {
    once->codes = true;
    rein__ix_diag(
        ix, REIN_INTEROP_WARNING, loc, field,
        "AWS SDKs also retry throttling and transient error codes "
        "(Throttling, ThrottlingException, TooManyRequestsException, "
        "RequestTimeout, PriorRequestNotComplete, SlowDown, ...) whatever "
        "the HTTP status (often 400): rein retries by status and cannot "
        "see error codes, so it retries 429, the status most of them come "
        "with, and no 400 (noted once per file)");
  }
  timeout_note(ix, loc, field, "the AWS SDK",
               "HTTP 408, gRPC DEADLINE_EXCEEDED and, in legacy mode, 504, "
               "which the SDK does not",
               once);
  if (mode == AWS_LEGACY) {
    if (!once->legacy) {
      once->legacy = true;
      rein__ix_diag(
          ix, REIN_INTEROP_WARNING, loc, field,
          "legacy mode is specific to each SDK: rein imports botocore's "
          "(AWS CLI, boto3; data/_retry.json): 5 attempts, retry n waits "
          "rand(0, 1) x 2^(n-1) s with no cap (the cap written is the "
          "largest such delay), no retry quota, and not its per-service "
          "rules (DynamoDB 10 attempts from 50ms, ...); other SDKs' legacy "
          "modes differ (Java: 3 retries from 100ms)");
    }
    return;
  }
  if (!once->quota) {
    once->quota = true;
    rein__ix_diag(ix, REIN_INTEROP_NOTE, loc, field,
                  "the retry quota (500 units, retry 5, timeout retry 10, "
                  "success 1) is rein's quota budget; an SDK keeps one per "
                  "client object, rein one per caller instance");
  }
  if (!once->new2026) {
    once->new2026 = true;
    rein__ix_diag(
        ix, REIN_INTEROP_NOTE, loc, field,
        "standard mode as published before 2026 (botocore "
        "STANDARD_RETRY_MODE_VERSION 2.0); the opt-in 2026 behaviour "
        "(AWS_NEW_RETRIES_2026: a 50ms base for non-throttling errors, a "
        "retry cost of 14, x-amz-retry-after) is not imported");
  }
  if (mode == AWS_ADAPTIVE)
    rein__ix_diag(ix, REIN_INTEROP_WARNING, loc, field,
                  "adaptive mode's client-side rate limiter (a token bucket "
                  "whose fill rate follows CUBIC on throttling errors, and "
                  "may delay first attempts) has no rein form: left out, "
                  "the rest is standard mode");
}

/* -------------------------------------------------------- AWS, import */

typedef struct aws_prof {
  char name[200];    /* the profile name */
  char section[200]; /* the section as written, for diagnostics */
  rein_contract_loc loc;
  bool has_mode, has_attempts, bad;
  aws_mode mode;
  rein_contract_loc mode_loc, attempts_loc;
  double attempts;
  ix_leftout other; /* keys that are not retry settings */
} aws_prof;

typedef struct aws_imp {
  rein_interop *ix;
  const char *file;
  sdk_once once;
  aws_prof cur;
  bool in_profile, any_section;
} aws_imp;

static rein_contract_loc at(const aws_imp *A, size_t line, size_t col) {
  rein_contract_loc l = {A->file, (uint32_t)line, (uint32_t)col};
  return l;
}

static void aws_err(aws_imp *A, size_t line, size_t col, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void aws_err(aws_imp *A, size_t line, size_t col, const char *field,
                    const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(A->ix, REIN_INTEROP_ERROR, at(A, line, col), field, fmt, ap);
  va_end(ap);
}

/* The profile just read becomes a call. */
static void aws_flush(aws_imp *A) {
  if (!A->in_profile) return;
  A->in_profile = false;
  aws_prof *P = &A->cur;
  if (P->bad) return;
  char field[260];
  snprintf(field, sizeof field, "[%s]", P->section);
  if (P->other.n)
    rein__ix_diag(A->ix, REIN_INTEROP_NOTE, P->loc, field,
                  "not retry settings, left out of the contract: %s",
                  P->other.list);
  uint32_t attempts = 0;
  if (P->has_attempts) {
    if (P->attempts > 1000) {
      rein__ix_diag(A->ix, REIN_INTEROP_WARNING, P->attempts_loc, field,
                    "max_attempts %.0f: rein makes at most 1000 attempts: "
                    "imported as 1000",
                    P->attempts);
      attempts = 1000;
    } else {
      attempts = (uint32_t)P->attempts;
    }
  }
  aws_mode mode = P->has_mode ? P->mode : AWS_LEGACY;
  rein_interop_call c;
  aws_spec(mode, attempts, &c.spec);
  aws_diags(A->ix, P->has_mode ? P->mode_loc : P->loc, field, mode,
            P->has_mode, &A->once);
  char op[160], to[200];
  sanitize(P->name, strlen(P->name), op, sizeof op);
  snprintf(to, sizeof to, "aws.%s", op);
  for (size_t i = A->ix->ncalls; i-- > 0;) /* [default] and [profile default] */
    if (strcmp(A->ix->calls[i].to, to) == 0) {
      rein__ix_diag(A->ix, REIN_INTEROP_ERROR, P->loc, field,
                    "a second section of profile '%s' (also at line %u): "
                    "the SDKs read one; remove the other",
                    P->name, A->ix->calls[i].loc.line);
      return;
    }
  c.loc = P->loc;
  c.to = rein__ix_strdup(A->ix, to);
  c.origin = rein__ix_printf(A->ix, "%s:%u:%u [%s]", A->file, P->loc.line,
                             P->loc.col, P->section);
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(A->ix, &c);
}

/* Section header `[...]` at line `ln`: `s` is the text after '[' (n bytes
 * up to ']'), `col` the column of '['. */
static void aws_section(aws_imp *A, const char *s, size_t n, size_t ln,
                        size_t col) {
  aws_flush(A);
  A->any_section = true;
  while (n && isspace((unsigned char)*s)) {
    s++;
    n--;
  }
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  char sec[200];
  snprintf(sec, sizeof sec, "%.*s", (int)(n < 190 ? n : 190), s);
  const char *name = NULL;
  if (strcmp(sec, "default") == 0) {
    name = "default";
  } else if (strcmp(sec, "profile") == 0) {
    aws_err(A, ln, col, sec, "a profile section needs a name: [profile NAME]");
    return;
  } else if (strncmp(sec, "profile", 7) == 0 &&
             isspace((unsigned char)sec[7])) {
    name = sec + 8;
    while (isspace((unsigned char)*name))
      name++;
    if (!*name) {
      aws_err(A, ln, col, sec,
              "a profile section needs a name: [profile NAME]");
      return;
    }
  }
  if (!name) {
    static const char *const others[] = {"sso-session", "services", "plugins",
                                         "preview", NULL};
    bool known = false;
    for (size_t i = 0; others[i] && !known; i++)
      known = strncmp(sec, others[i], strlen(others[i])) == 0;
    rein__ix_diag(A->ix, known ? REIN_INTEROP_NOTE : REIN_INTEROP_WARNING,
                  at(A, ln, col), sec,
                  known ? "not a profile: no retry settings, left out"
                        : "not a profile of the config file (the SDKs read "
                          "[default] and [profile NAME]; [NAME] is the "
                          "credentials file's form): left out");
    return;
  }
  memset(&A->cur, 0, sizeof A->cur);
  snprintf(A->cur.name, sizeof A->cur.name, "%s", name);
  snprintf(A->cur.section, sizeof A->cur.section, "%s", sec);
  A->cur.loc = at(A, ln, col);
  A->in_profile = true;
}

static void aws_key(aws_imp *A, const char *key, size_t kn, const char *val,
                    size_t vn, size_t ln, size_t kcol, size_t vcol) {
  if (!A->in_profile) return; /* a non-profile section: left out above */
  aws_prof *P = &A->cur;
  char k[64], v[128], field[300];
  snprintf(k, sizeof k, "%.*s", (int)(kn < 60 ? kn : 60), key);
  snprintf(v, sizeof v, "%.*s", (int)(vn < 120 ? vn : 120), val);
  snprintf(field, sizeof field, "[%s].%s", P->section, k);
  if (strcmp(k, "retry_mode") == 0) {
    if (P->has_mode) {
      aws_err(A, ln, kcol, field, "given twice (first at line %u)",
              P->mode_loc.line);
      P->bad = true;
      return;
    }
    size_t i = 0;
    while (aws_modes[i] && strcmp(aws_modes[i], v) != 0)
      i++;
    if (!aws_modes[i]) {
      const char *best = rein_suggest(v, aws_modes, 3);
      aws_err(A, ln, vcol, field,
              "'%s' is not a retry mode: expected legacy, standard or "
              "adaptive%s%s%s",
              v, best ? " (did you mean '" : "", best ? best : "",
              best ? "'?)" : "");
      P->bad = true;
      return;
    }
    P->has_mode = true;
    P->mode = (aws_mode)i;
    P->mode_loc = at(A, ln, vcol);
  } else if (strcmp(k, "max_attempts") == 0) {
    if (P->has_attempts) {
      aws_err(A, ln, kcol, field, "given twice (first at line %u)",
              P->attempts_loc.line);
      P->bad = true;
      return;
    }
    char *end;
    double x = strtod(v, &end);
    bool digits = *v && strspn(v, "0123456789") == strlen(v);
    if (!digits || end == v || *end || x < 1 || !isfinite(x)) {
      aws_err(A, ln, vcol, field,
              "'%s': expected a whole number of attempts greater than 0 "
              "(the first included; 1 disables retries)",
              v);
      P->bad = true;
      return;
    }
    P->has_attempts = true;
    P->attempts = x;
    P->attempts_loc = at(A, ln, vcol);
  } else {
    static const char *const near[] = {"retry_mode", "max_attempts", NULL};
    const char *best = rein_suggest(k, near, 2);
    if (best) {
      aws_err(A, ln, kcol, field,
              "unknown setting '%s'; did you mean '%s'? (the retry "
              "settings of a profile: retry_mode, max_attempts)",
              k, best);
      P->bad = true;
      return;
    }
    rein__ix_leftout_add(&P->other, k);
  }
}

static void aws_import_text(rein_interop *ix, const char *file,
                            const char *data, size_t len) {
  aws_imp A;
  memset(&A, 0, sizeof A);
  A.ix = ix;
  A.file = file;
  size_t first = ix->ncalls;
  /* UTF-8 text, as the YAML formats' reader requires (names reach the
   * contract's YAML through the origins) */
  const char *nul = memchr(data, 0, len);
  size_t upto = nul ? (size_t)(nul - data) : len;
  char *copy = rein_alloc(&ix->alloc, upto + 1);
  if (!copy) {
    ix->oom = true;
    return;
  }
  memcpy(copy, data, upto);
  copy[upto] = 0;
  size_t valid = rein_utf8_valid_len(copy);
  rein_free(&ix->alloc, copy);
  if (valid < upto) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < valid; i++) {
      col = data[i] == '\n' ? 1 : col + 1;
      line += data[i] == '\n';
    }
    aws_err(&A, line, col, "",
            "not UTF-8 (byte 0x%02x): a config file is UTF-8 text",
            (unsigned char)data[valid]);
    return;
  }
  size_t ln = 0;
  bool nested = false; /* inside `key =` with indented sub-settings */
  bool nested_any = false;
  size_t nested_line = 0;
  char nested_key[64] = "";
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && data[e] != '\n')
      e++;
    ln++;
    size_t n = e - i;
    const char *s = data + i;
    i = e + 1;
    if (n && s[n - 1] == '\r') n--;
    if (memchr(s, 0, n)) {
      aws_err(&A, ln, (size_t)((const char *)memchr(s, 0, n) - s) + 1, "",
              "a NUL byte: not a text file");
      break;
    }
    size_t ind = 0;
    while (ind < n && (s[ind] == ' ' || s[ind] == '\t'))
      ind++;
    if (ind == n || s[ind] == '#' || s[ind] == ';') continue;
    if (ind > 0) {
      if (nested) { /* a sub-setting (s3 =, then indented lines) */
        nested_any = true;
        continue;
      }
      aws_err(&A, ln, ind + 1, "",
              "an indented line outside a sub-setting: only the settings "
              "under a `key =` line with no value (such as `s3 =`) are "
              "indented");
      continue;
    }
    if (nested && nested_any && A.in_profile)
      rein__ix_diag(ix, REIN_INTEROP_NOTE, at(&A, nested_line, 1),
                    A.cur.section, "sub-settings of %s: not retry settings, "
                    "left out", nested_key);
    nested = false;
    if (s[0] == '[') {
      const char *close = memchr(s, ']', n);
      if (!close) {
        aws_err(&A, ln, n + 1, "", "a section header without ']'");
        continue;
      }
      size_t rest = (size_t)(close - s) + 1;
      while (rest < n && isspace((unsigned char)s[rest]))
        rest++;
      if (rest < n && s[rest] != '#' && s[rest] != ';') {
        aws_err(&A, ln, rest + 1, "",
                "text after the section header: one [SECTION] per line");
        continue;
      }
      aws_section(&A, s + 1, (size_t)(close - s) - 1, ln, 1);
      continue;
    }
    const char *eq = memchr(s, '=', n);
    if (!eq) {
      aws_err(&A, ln, 1, "",
              "expected `key = value` or a [section] (an AWS config "
              "file is an INI file)");
      continue;
    }
    if (!A.any_section) {
      aws_err(&A, ln, 1, "",
              "a setting before any section: put it under [default] or "
              "[profile NAME]");
      continue;
    }
    size_t kn = (size_t)(eq - s);
    while (kn && isspace((unsigned char)s[kn - 1]))
      kn--;
    size_t v0 = (size_t)(eq - s) + 1;
    while (v0 < n && isspace((unsigned char)s[v0]))
      v0++;
    size_t vn = n - v0;
    while (vn && isspace((unsigned char)s[v0 + vn - 1]))
      vn--;
    if (!kn) {
      aws_err(&A, ln, 1, "", "a setting without a name");
      continue;
    }
    if (!vn) { /* `s3 =`: sub-settings follow, indented */
      nested = true;
      nested_any = false;
      nested_line = ln;
      snprintf(nested_key, sizeof nested_key, "%.*s",
               (int)(kn < 60 ? kn : 60), s);
      if ((kn == 10 && memcmp(s, "retry_mode", 10) == 0) ||
          (kn == 12 && memcmp(s, "max_attempts", 12) == 0)) {
        char field[300];
        snprintf(field, sizeof field, "[%s].%.*s", A.cur.section, (int)kn, s);
        aws_err(&A, ln, (size_t)(eq - s) + 2, A.in_profile ? field : "",
                "no value: expected %s", kn == 10
                                             ? "legacy, standard or adaptive"
                                             : "a whole number above 0");
        A.cur.bad = true;
      }
      continue;
    }
    aws_key(&A, s, kn, s + v0, vn, ln, 1, v0 + 1);
  }
  if (nested && nested_any && A.in_profile)
    rein__ix_diag(ix, REIN_INTEROP_NOTE, at(&A, nested_line, 1),
                  A.cur.section, "sub-settings of %s: not retry settings, "
                  "left out", nested_key);
  aws_flush(&A);
  if (ix->ncalls == first && !ix->errors)
    aws_err(&A, ln ? 1 : 0, ln ? 1 : 0, "",
            "no [default] or [profile NAME] section: nothing to import");
}

/* -------------------------------------------------------- AWS, export */

/* Does `sp` say what AWS `mode` with its attempts says? */
static bool same_as(const rein_policy_spec *sp, aws_mode mode) {
  rein_policy_spec a;
  aws_spec(mode, sp->policy.max_attempts, &a);
  char x[4096], y[4096];
  rein_policy_spec_json(sp, x, sizeof x);
  rein_policy_spec_json(&a, y, sizeof y);
  return strcmp(x, y) == 0;
}

/* The profile a call is written as: its origin's section when that still
 * names it (an import from AWS), else its operation's (or its name's). */
static void profile_of(const char *to, const char *origin, char *out,
                       size_t cap) {
  const char *b = origin ? strrchr(origin, '[') : NULL;
  const char *e = b ? strchr(b, ']') : NULL;
  if (b && e && !e[1]) {
    char sec[200];
    snprintf(sec, sizeof sec, "%.*s", (int)(e - b - 1), b + 1);
    const char *name = strcmp(sec, "default") == 0 ? "default"
                       : strncmp(sec, "profile ", 8) == 0 ? sec + 8
                                                          : NULL;
    char op[200], want[220];
    if (name) {
      sanitize(name, strlen(name), op, sizeof op);
      snprintf(want, sizeof want, "aws.%s", op);
      if (strcmp(want, to) == 0) {
        snprintf(out, cap, "%s", name);
        return;
      }
    }
  }
  const char *dot = strchr(to, '.');
  if (dot && strncmp(to, "aws.", 4) == 0 && strcmp(dot + 1, "*") != 0)
    sanitize(dot + 1, strlen(dot + 1), out, cap);
  else
    sanitize(to, strlen(to), out, cap);
}

static void xwarn(rein_interop *ix, rein_contract_loc loc, const char *path,
                  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void xwarn(rein_interop *ix, rein_contract_loc loc, const char *path,
                  const char *field, const char *fmt, ...) {
  char fp[256];
  snprintf(fp, sizeof fp, "%s%s%s", path, *field ? "." : "", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, REIN_INTEROP_WARNING, loc, fp, fmt, ap);
  va_end(ap);
}

/* What a config file's profile cannot say of `sp` (written as standard
 * mode with its attempts). */
static void aws_lost(rein_interop *ix, rein_contract_loc loc, const char *path,
                     const rein_policy_spec *sp) {
  rein_policy_spec a;
  aws_spec(AWS_STANDARD, sp->policy.max_attempts, &a);
  const rein_backoff_config *b = &sp->policy.backoff, *ab = &a.policy.backoff;
  if (b->kind != ab->kind || b->base_ns != ab->base_ns ||
      b->cap_ns != ab->cap_ns || b->jitter != ab->jitter ||
      b->multiplier != ab->multiplier)
    xwarn(ix, loc, path, "retry.backoff",
          "the SDKs' standard back-off is fixed (rand(0, 1) x min(2^i, 20) "
          "s: exponential from 1s, cap 20s, full jitter): this one cannot "
          "be expressed");
  char x[2048], y[2048];
  rein_model_get(sp, mf(REIN_MODEL_RETRY, "when"), x, sizeof x);
  rein_model_get(&a, mf(REIN_MODEL_RETRY, "when"), y, sizeof y);
  if (strcmp(x, y) != 0)
    xwarn(ix, loc, path, "retry.when",
          "what the SDKs retry is fixed (500, 502, 503, 504, throttling "
          "errors, connection errors and timeouts): [%s] cannot be "
          "expressed",
          x);
  if (!sp->has_budget || sp->budget.kind != REIN_BUDGET_QUOTA ||
      sp->budget.capacity != 500 || sp->budget.retry_cost != 5 ||
      sp->budget.timeout_retry_cost != 10 ||
      sp->budget.success_increment != 1 ||
      sp->budget_scope != REIN_SCOPE_INSTANCE)
    xwarn(ix, loc, path, "retry.budget",
          "standard mode always has its retry quota (500 units, retry 5, "
          "timeout retry 10, success 1, per client): %s cannot be "
          "expressed",
          sp->has_budget ? "this budget" : "no budget");
  if (sp->signals)
    xwarn(ix, loc, path, "retry.signals",
          "the SDKs' standard mode reads no server signal: left out");
  if (sp->deadline_ns)
    xwarn(ix, loc, path, "deadline",
          "the config file has no call deadline: left out");
  if (sp->policy.attempt_timeout_ns)
    xwarn(ix, loc, path, "timeout",
          "the config file has no attempt timeout (the SDKs set "
          "connect and read timeouts in code): left out");
  if (sp->policy.window_ns)
    xwarn(ix, loc, path, "retry.window", "no AWS form: left out");
  if (sp->policy.expected_attempt_ns)
    xwarn(ix, loc, path, "retry.expected_attempt", "no AWS form: left out");
  if (sp->has_breaker)
    xwarn(ix, loc, path, "retry.breaker", "no AWS form: left out");
  if (sp->has_throttle)
    xwarn(ix, loc, path, "retry.throttle",
          "rein's adaptive throttle is not adaptive mode's rate limiter: "
          "left out (retry_mode = standard)");
  if (!sp->policy.idempotent)
    xwarn(ix, loc, path, "retry",
          "the callee is not idempotent: rein retries it only with an "
          "idempotency key, the SDKs retry it whatever");
  if (sp->policy.key_retention_ns > 0)
    xwarn(ix, loc, path, "key_ttl",
          "the callee's idempotency-key TTL has no AWS form: left out");
}

static rein_status aws_export(rein_interop *ix, const rein_contract_set *s,
                              const char *caller, char **out, size_t *len) {
  char *text = NULL;
  size_t tn = 0;
  FILE *f = open_memstream(&text, &tn);
  if (!f) return REIN_ENOMEM;
  fputs("# Written by `rein export aws`: the retry settings of ", f);
  fputs(caller, f);
  fputs("'s calls as\n# AWS shared config profiles (~/.aws/config), one per "
        "call.\n",
        f);
  size_t n = rein_contract_call_count(s), idx = 0, nw = 0;
  char (*names)[200] = rein_alloc(&ix->alloc, (n + 1) * sizeof *names);
  rein_status st = REIN_OK;
  if (!names) {
    fclose(f);
    free(text);
    return REIN_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    const char *to, *origin;
    rein_contract_loc loc;
    char path[32];
    rein_policy_spec sp;
    if (rein__ix_export_call(ix, s, caller, i, &idx, path, sizeof path, &to,
                             &origin, &loc, &sp, &st) <= 0)
      continue;
    char prof[200];
    profile_of(to, origin, prof, sizeof prof);
    if (!*prof) snprintf(prof, sizeof prof, "_");
    bool dup = false;
    for (size_t j = 0; j < nw && !dup; j++)
      dup = strcmp(names[j], prof) == 0;
    for (unsigned k = 2; dup && k < 100000; k++) {
      char t[200];
      snprintf(t, sizeof t, "%.180s-%u", prof, k);
      dup = false;
      for (size_t j = 0; j < nw && !dup; j++)
        dup = strcmp(names[j], t) == 0;
      if (!dup) {
        rein__ix_diag(ix, REIN_INTEROP_NOTE, loc, path,
                      "a second call named as profile %s: written as %s",
                      prof, t);
        snprintf(prof, sizeof prof, "%s", t);
      }
    }
    snprintf(names[nw++], sizeof names[0], "%s", prof);
    aws_mode mode = same_as(&sp, AWS_LEGACY) ? AWS_LEGACY : AWS_STANDARD;
    if (strcmp(prof, "default") == 0)
      fputs("\n[default]\n", f);
    else
      fprintf(f, "\n[profile %s]\n", prof);
    fprintf(f, "retry_mode = %s\nmax_attempts = %u\n", aws_modes[mode],
            sp.policy.max_attempts);
    if (mode == AWS_STANDARD) aws_lost(ix, loc, path, &sp);
  }
  rein_free(&ix->alloc, names);
  if (fclose(f) != 0) {
    free(text);
    return REIN_ENOMEM;
  }
  if (!nw) {
    free(text);
    rein_contract_loc none = {"", 0, 0};
    if (st == REIN_OK)
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "%s has no calls in the contracts", caller);
    return st == REIN_OK ? REIN_ENOTFOUND : st;
  }
  rein_status fin = rein__ix_finish_text(ix, text, tn, out, len);
  return fin != REIN_OK ? fin : st;
}

/* ------------------------------------------------------- "sdk" import */

typedef enum sdk_kind { SDK_AWS, SDK_GOOGLE, SDK_RETRYABLEHTTP } sdk_kind;

static const char *const sdk_names[] = {"aws", "google-api-core",
                                        "go-retryablehttp", NULL};
/* The version whose defaults rein knows ("" = any: a cross-SDK spec). */
static const char *const sdk_versions[] = {"", "2.29.0", "v0.7.8"};
static const char *const sdk_settings[][5] = {
    {"retry_mode", "max_attempts", NULL},
    {"initial", "maximum", "multiplier", "timeout", "deadline"},
    {"RetryMax", "RetryWaitMin", "RetryWaitMax", NULL}};
static const char *const client_fields[] = {
    "sdk",          "version", "to",         "retry_mode", "max_attempts",
    "initial",      "maximum", "multiplier", "timeout",    "deadline",
    "RetryMax",     "RetryWaitMin", "RetryWaitMax", NULL};

typedef struct simp {
  ix_doc *d;
  rein_interop *ix;
  sdk_once once;
} simp;

static bool setting_of(sdk_kind k, const char *key) {
  for (size_t i = 0; i < 5 && sdk_settings[k][i]; i++)
    if (strcmp(sdk_settings[k][i], key) == 0) return true;
  return false;
}

/* A Go duration ("1s", "500ms", "1m30s"): rein's grammar but d, w, min. */
static bool go_duration(simp *S, yaml_node_t *n, const char *path,
                        int64_t *ns) {
  if (rein__ix_type(S->d, n) != IX_J_STRING) {
    rein__ix_type_error(S->d, n, path, "a Go duration such as \"500ms\"");
    return false;
  }
  const char *t = rein__ix_text(n);
  if (!*t || strpbrk(t, "dw") || strstr(t, "min") ||
      rein_parse_duration(t, ns) != REIN_OK) {
    rein__ix_error(S->d, n, path,
                   "'%.40s' is not a Go duration (a number and a unit, h, "
                   "m, s, ms, us or ns, as in \"500ms\" or \"1m30s\")",
                   t);
    return false;
  }
  return true;
}

/* A number of seconds, as Python takes it (a float or an int). */
static bool seconds(simp *S, yaml_node_t *n, const char *path, double *out,
                    bool positive) {
  if (rein__ix_type(S->d, n) != IX_J_NUMBER) {
    rein__ix_type_error(S->d, n, path, "a number of seconds");
    return false;
  }
  if (!rein__ix_get_number(S->d, n, path, out)) return false;
  if (*out < 0 || (positive && *out == 0) || *out > 86400) {
    rein__ix_error(S->d, n, path,
                   "%g: expected %s number of seconds up to 86400", *out,
                   positive ? "a positive" : "a non-negative");
    return false;
  }
  return true;
}

static void google_spec(simp *S, yaml_node_t *at, const char *path,
                        ix_member *m, size_t k, rein_policy_spec *sp) {
  double initial = 1.0, maximum = 60.0, mult = 2.0, timeout = 120.0;
  bool no_timeout = false;
  yaml_node_t *tn = NULL, *mn = at;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "initial") == 0) {
      seconds(S, v, fp, &initial, false);
    } else if (strcmp(key, "maximum") == 0) {
      seconds(S, v, fp, &maximum, false);
    } else if (strcmp(key, "multiplier") == 0) {
      mn = v;
      if (rein__ix_type(S->d, v) != IX_J_NUMBER)
        rein__ix_type_error(S->d, v, fp, "a number");
      else if (rein__ix_get_number(S->d, v, fp, &mult) &&
               (mult <= 0 || mult > 100)) {
        rein__ix_error(S->d, v, fp, "%g: expected a number in (0, 100]",
                       mult);
        mult = 2;
      }
    } else if (strcmp(key, "timeout") == 0 || strcmp(key, "deadline") == 0) {
      if (tn) {
        rein__ix_error(S->d, m[i].k, fp,
                       "timeout and deadline are one setting (deadline is "
                       "its deprecated name): give one");
        continue;
      }
      tn = v;
      if (strcmp(key, "deadline") == 0)
        rein__ix_note(S->d, m[i].k, fp,
                      "deadline is the deprecated name of timeout: read as "
                      "timeout");
      if (rein__ix_type(S->d, v) == IX_J_NULL)
        no_timeout = true;
      else
        seconds(S, v, fp, &timeout, false);
    }
  }
  spec_base(sp);
  rein_backoff_config *b = &sp->policy.backoff;
  if (mult < 1) {
    rein__ix_warn(S->d, mn, path,
                  "multiplier %g shrinks the delays; rein's never shrink: "
                  "imported as 1",
                  mult);
    mult = 1;
  }
  double base = initial < maximum ? initial : maximum;
  b->base_ns = (int64_t)llround(base * 1e9);
  b->cap_ns = (int64_t)llround(maximum * 1e9);
  b->multiplier = mult;
  if (b->cap_ns == 0) b->kind = REIN_BACKOFF_NONE;
  when_add(sp, "429, 500, 503, INTERNAL, RESOURCE_EXHAUSTED, UNAVAILABLE, "
               "connect-failure, reset");
  sp->policy.max_attempts = 1000;
  if (!no_timeout && timeout == 0) {
    sp->policy.max_attempts = 1;
    rein__ix_note(S->d, tn, path,
                  "timeout 0: every retry's sleep ends past it, so no "
                  "retry is made: imported as 1 attempt");
  } else if (!no_timeout) {
    sp->policy.window_ns = (int64_t)llround(timeout * 1e9);
  }
  if (sp->policy.max_attempts > 1 && !S->once.google_attempts) {
    S->once.google_attempts = true;
    rein__ix_warn(S->d, at, path,
                  "google-api-core's Retry has no attempt limit, only its "
                  "timeout%s: imported as rein's most attempts, 1000%s "
                  "(noted once per file)",
                  no_timeout ? " (none here: it retries forever)" : "",
                  no_timeout ? "" : ", with the timeout as the retry window");
  }
  rein__ix_note(S->d, at, path,
                "the default Retry is what code passing Retry() gets; a "
                "generated (GAPIC) client method carries its own retry "
                "settings from its service config: import that as grpc");
}

static void retryablehttp_spec(simp *S, yaml_node_t *at, const char *path,
                               ix_member *m, size_t k, rein_policy_spec *sp) {
  double rmax = 4;
  int64_t wmin = NS_S, wmax = 30 * NS_S;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    yaml_node_t *v = m[i].v;
    rein__ix_path(fp, sizeof fp, path, key);
    if (strcmp(key, "RetryMax") == 0) {
      double x;
      if (rein__ix_type(S->d, v) != IX_J_NUMBER)
        rein__ix_type_error(S->d, v, fp, "a whole number");
      else if (rein__ix_get_number(S->d, v, fp, &x)) {
        if (x != floor(x) || fabs(x) > 2147483647.0)
          rein__ix_error(S->d, v, fp, "%g: expected a whole number (an int)",
                         x);
        else if (x < 0) {
          rein__ix_warn(S->d, v, fp,
                        "%g: go-retryablehttp makes no retry below 0: "
                        "imported as 0",
                        x);
          rmax = 0;
        } else if (x > 999) {
          rein__ix_warn(S->d, v, fp,
                        "%g retries: rein makes at most 1000 attempts: "
                        "imported as 999 retries",
                        x);
          rmax = 999;
        } else {
          rmax = x;
        }
      }
    } else if (strcmp(key, "RetryWaitMin") == 0) {
      go_duration(S, v, fp, &wmin);
    } else if (strcmp(key, "RetryWaitMax") == 0) {
      go_duration(S, v, fp, &wmax);
    }
  }
  spec_base(sp);
  rein_backoff_config *b = &sp->policy.backoff;
  b->jitter = REIN_JITTER_NONE;
  if (wmax > 86400 * NS_S) wmax = 86400 * NS_S;
  if (wmin > wmax) {
    rein__ix_warn(S->d, at, path,
                  "RetryWaitMin above RetryWaitMax: every wait is "
                  "RetryWaitMax, imported as a constant back-off");
    wmin = wmax;
  }
  b->base_ns = wmin;
  b->cap_ns = wmax;
  if (wmin == 0) b->kind = REIN_BACKOFF_NONE;
  sp->policy.max_attempts = (uint32_t)rmax + 1;
  when_add(sp, "429, 5xx, connect-failure, reset, refused-stream, timeout");
  sp->signals = REIN_SIGNAL_RETRY_AFTER;
  if (!S->once.r501) {
    S->once.r501 = true;
    rein__ix_warn(S->d, at, path,
                  "go-retryablehttp retries every 5xx but 501; rein's 5xx "
                  "includes 501, which the contract retries and the client "
                  "does not (noted once per file)");
  }
  if (!S->once.ra_status) {
    S->once.ra_status = true;
    rein__ix_note(S->d, at, path,
                  "go-retryablehttp waits a 429's or 503's Retry-After "
                  "instead of its back-off; rein waits the longer of the "
                  "two, and honours Retry-After on any retried status");
  }
  timeout_note(S->ix, rein__ix_loc(S->d, at), path, "go-retryablehttp",
               "HTTP 408, which go-retryablehttp does not", &S->once);
  if (!S->once.tls) {
    S->once.tls = true;
    rein__ix_note(S->d, at, path,
                  "go-retryablehttp does not retry TLS certificate errors, "
                  "too many redirects, a bad scheme or header; rein counts "
                  "a failed TLS handshake as connect-failure, which it "
                  "retries");
  }
}

static void sdk_client(simp *S, yaml_node_t *n, const char *path, size_t idx) {
  if (rein__ix_type(S->d, n) != IX_J_OBJECT) {
    rein__ix_type_error(S->d, n, path, "an SDK client object");
    return;
  }
  ix_member m[MAXM];
  size_t k = rein__ix_members(S->d, n, path, client_fields, m, MAXM);
  const char *sdk = NULL, *version = NULL, *to = NULL;
  yaml_node_t *sdk_n = NULL, *ver_n = NULL, *to_n = NULL;
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    const char **slot = strcmp(m[i].key, "sdk") == 0       ? &sdk
                        : strcmp(m[i].key, "version") == 0 ? &version
                        : strcmp(m[i].key, "to") == 0      ? &to
                                                           : NULL;
    if (!slot) continue;
    if (rein__ix_type(S->d, m[i].v) != IX_J_STRING) {
      rein__ix_type_error(S->d, m[i].v, fp, "a string");
      continue;
    }
    *slot = rein__ix_text(m[i].v);
    if (slot == &sdk) sdk_n = m[i].v;
    if (slot == &version) ver_n = m[i].v;
    if (slot == &to) to_n = m[i].v;
  }
  if (!sdk) {
    if (!sdk_n)
      rein__ix_error(S->d, n, rein__ix_path(fp, sizeof fp, path, "sdk"),
                     "missing: which SDK (aws, google-api-core, "
                     "go-retryablehttp)");
    return;
  }
  size_t kind = 0;
  while (sdk_names[kind] && strcmp(sdk_names[kind], sdk) != 0)
    kind++;
  rein__ix_path(fp, sizeof fp, path, "sdk");
  if (!sdk_names[kind]) {
    const char *best = rein_suggest(sdk, sdk_names, 3);
    rein__ix_error(S->d, sdk_n, fp,
                   "'%.60s' is not an SDK rein knows the defaults of%s%s%s "
                   "(known: aws, google-api-core, go-retryablehttp)",
                   sdk, best ? "; did you mean '" : "", best ? best : "",
                   best ? "'?" : "");
    return;
  }
  sdk_kind sk = (sdk_kind)kind;
  bool bad = false;
  for (size_t i = 0; i < k; i++) {
    const char *key = m[i].key;
    if (!strcmp(key, "sdk") || !strcmp(key, "version") || !strcmp(key, "to") ||
        setting_of(sk, key))
      continue;
    size_t o = 0;
    char list[128] = "";
    for (size_t j = 0; j < 5 && sdk_settings[sk][j]; j++)
      o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "",
                            sdk_settings[sk][j]);
    size_t other = 0;
    while (other < 3 && (other == kind || !setting_of((sdk_kind)other, key)))
      other++;
    rein__ix_error(S->d, m[i].k, rein__ix_path(fp, sizeof fp, path, key),
                   "'%s' is a setting of %s, not of %s (%s takes: %s)", key,
                   other < 3 ? sdk_names[other] : "another SDK", sdk, sdk,
                   list);
    bad = true;
  }
  if (bad) return;
  rein__ix_path(fp, sizeof fp, path, "version");
  if (!version) {
    if (sdk_versions[kind][0])
      rein__ix_note(S->d, n, fp, "no version: %s %s's defaults", sdk,
                    sdk_versions[kind]);
    else
      rein__ix_note(S->d, n, fp,
                    "no version: the defaults the AWS SDKs publish (standard "
                    "mode is the same in every SDK)");
  } else if (sdk_versions[kind][0] &&
             strcmp(version, sdk_versions[kind]) != 0 &&
             !(version[0] != 'v' && sdk_versions[kind][0] == 'v' &&
               strcmp(version, sdk_versions[kind] + 1) == 0)) {
    rein__ix_warn(S->d, ver_n, fp,
                  "rein knows %s %s's defaults, not %.40s's: the values "
                  "imported are %s's (check that yours are the same)",
                  sdk, sdk_versions[kind], version, sdk_versions[kind]);
  }
  char callee[200];
  if (to) {
    const char *dot = strchr(to, '.');
    bool ok = dot && dot > to && dot[1];
    for (const char *p = to; ok && *p; p++)
      ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
           (p == dot) || (p > dot && *p == '*');
    if (!ok || strlen(to) > 190) {
      rein__ix_error(S->d, to_n, rein__ix_path(fp, sizeof fp, path, "to"),
                     "'%.60s' is not a callee: expected service.operation "
                     "(letters, digits, - and _; `*` in the operation)",
                     to);
      bad = true; /* the settings are still checked */
    }
    snprintf(callee, sizeof callee, "%s", to);
  } else {
    char s[80];
    sanitize(sdk, strlen(sdk), s, sizeof s);
    snprintf(callee, sizeof callee, "%s.*", s);
  }
  for (size_t i = S->d->first_call; !bad && i < S->ix->ncalls; i++)
    if (strcmp(S->ix->calls[i].to, callee) == 0) {
      rein__ix_error(S->d, to_n ? to_n : n,
                     rein__ix_path(fp, sizeof fp, path, "to"),
                     "a second client calling %s (the first at line %u): "
                     "give each client its own `to`",
                     callee, S->ix->calls[i].loc.line);
      bad = true;
    }
  rein_interop_call c;
  if (sk == SDK_AWS) {
    aws_mode mode = AWS_LEGACY;
    bool mode_given = false;
    double attempts = 0;
    yaml_node_t *mode_n = n;
    for (size_t i = 0; i < k; i++) {
      rein__ix_path(fp, sizeof fp, path, m[i].key);
      yaml_node_t *v = m[i].v;
      if (strcmp(m[i].key, "retry_mode") == 0) {
        if (rein__ix_type(S->d, v) != IX_J_STRING) {
          rein__ix_type_error(S->d, v, fp, "legacy, standard or adaptive");
          continue;
        }
        const char *t = rein__ix_text(v);
        size_t j = 0;
        while (aws_modes[j] && strcmp(aws_modes[j], t) != 0)
          j++;
        if (!aws_modes[j]) {
          const char *best = rein_suggest(t, aws_modes, 3);
          rein__ix_error(S->d, v, fp,
                         "'%.40s' is not a retry mode: expected legacy, "
                         "standard or adaptive%s%s%s",
                         t, best ? " (did you mean '" : "", best ? best : "",
                         best ? "'?)" : "");
          continue;
        }
        mode = (aws_mode)j;
        mode_given = true;
        mode_n = v;
      } else if (strcmp(m[i].key, "max_attempts") == 0) {
        double x;
        if (rein__ix_type(S->d, v) != IX_J_NUMBER)
          rein__ix_type_error(S->d, v, fp, "a whole number");
        else if (rein__ix_get_number(S->d, v, fp, &x)) {
          if (x != floor(x) || x < 1)
            rein__ix_error(S->d, v, fp,
                           "%g: expected a whole number of attempts "
                           "greater than 0",
                           x);
          else if (x > 1000) {
            rein__ix_warn(S->d, v, fp,
                          "%g: rein makes at most 1000 attempts: imported "
                          "as 1000",
                          x);
            attempts = 1000;
          } else {
            attempts = x;
          }
        }
      }
    }
    aws_spec(mode, (uint32_t)attempts, &c.spec);
    rein__ix_path(fp, sizeof fp, path, "retry_mode");
    aws_diags(S->ix, rein__ix_loc(S->d, mode_n), fp, mode, mode_given,
              &S->once);
  } else if (sk == SDK_GOOGLE) {
    google_spec(S, n, path, m, k, &c.spec);
  } else {
    retryablehttp_spec(S, n, path, m, k, &c.spec);
  }
  if (bad) return;
  c.loc = rein__ix_loc(S->d, n);
  c.to = rein__ix_strdup(S->ix, callee);
  c.origin = rein__ix_printf(S->ix, "%s:%u:%u sdk_clients[%zu] %s%s%s",
                             S->d->file, c.loc.line, c.loc.col, idx, sdk,
                             version ? " " : "", version ? version : "");
  if (!c.to || !c.origin) return;
  c.spec.policy.name = c.to;
  rein__ix_add_call(S->ix, &c);
}

static void sdk_import(rein_interop *ix, ix_doc *d) {
  simp S;
  memset(&S, 0, sizeof S);
  S.d = d;
  S.ix = ix;
  yaml_node_t *root = rein__ix_root(d);
  if (rein__ix_type(d, root) != IX_J_OBJECT) {
    rein__ix_type_error(d, root, "", "an object with sdk_clients");
    return;
  }
  static const char *const top[] = {"sdk_clients", NULL};
  ix_member m[2];
  size_t k = rein__ix_members(d, root, "", top, m, 2);
  yaml_node_t *list = k ? m[0].v : NULL;
  if (!list) {
    if (!ix->errors)
      rein__ix_error(d, root, "sdk_clients",
                     "missing: the list of SDK clients");
    return;
  }
  if (rein__ix_type(d, list) != IX_J_ARRAY) {
    rein__ix_type_error(d, list, "sdk_clients", "an array of SDK clients");
    return;
  }
  if (!rein__ix_len(list)) {
    rein__ix_error(d, list, "sdk_clients", "empty: nothing to import");
    return;
  }
  for (size_t i = 0; i < rein__ix_len(list); i++) {
    char p[64];
    sdk_client(&S, rein__ix_item(d, list, i),
               rein__ix_path_i(p, sizeof p, "sdk_clients", i), i);
  }
}

/* ------------------------------------------------------------- detect */

bool rein__ix_aws_detect(const char *data, size_t len) {
  size_t i = 0;
  while (i < len) { /* the first line that is not blank or a comment */
    size_t e = i;
    while (e < len && data[e] != '\n')
      e++;
    size_t s = i;
    while (s < e && (data[s] == ' ' || data[s] == '\t' || data[s] == '\r'))
      s++;
    if (s < e && data[s] != '#' && data[s] != ';') {
      if (s != i || data[s] != '[') return false;
      const char *close = memchr(data + s, ']', e - s);
      if (!close) return false;
      size_t n = (size_t)(close - data - s) - 1;
      const char *t = data + s + 1;
      return (n == 7 && memcmp(t, "default", 7) == 0) ||
             (n > 8 && memcmp(t, "profile", 7) == 0 &&
              (t[7] == ' ' || t[7] == '\t'));
    }
    i = e + 1;
  }
  return false;
}

const ix_format rein__ix_aws = {.name = "aws",
                                .import_text = aws_import_text,
                                .export_ = aws_export};

const ix_format rein__ix_sdk = {.name = "sdk",
                                .yaml = true,
                                .import = sdk_import,
                                .export_ = NULL};
