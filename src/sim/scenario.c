/* SPDX-License-Identifier: Apache-2.0 */
/*
 * scenario.c: load a simulator scenario from YAML.
 *
 * libyaml builds the document tree (with line and column of every node);
 * this file walks it against the schema of docs/simulator.md and fills the
 * plain structs of sim_internal.h. Every rejection names the place and the
 * field: "file:line:col: cohorts[1].arrival.rate: expected a number > 0,
 * got 'fast'", and an unknown field gets a did-you-mean from the known
 * ones. The walk is schema-driven and every list has a size limit, so no
 * input (the loader is fuzzed) can make it loop or allocate without bound.
 *
 * Retry policies are validated here by the library itself: the loader builds
 * and frees a throwaway rein_budget / rein_breaker / rein_throttle /
 * rein_policy for each policy, so a scenario that loads always runs, and the
 * core's message ("budget.ratio: ...") is reported at the policy's line.
 */
#include "sim_internal.h"
#include "rein/contract.h"
#include "rein/interop.h"
#include "rein/input.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_POLICIES 64
#define MAX_SERVERS 64
#define MAX_COHORTS 64
#define MAX_INCIDENTS 256
#define MAX_VARIANTS 32
#define MAX_CLIENTS_PER_COHORT 1000000u
#define MAX_CLIENTS_TOTAL 5000000u
#define MAX_DURATION_NS (INT64_C(7) * 86400 * REIN_NS_PER_S)
#define MAX_POINTS 1000000

/* ---------------------------------------------------------------------- */
/* Allocation helpers shared by src/sim                                    */

void *rein__sim_alloc(const rein_allocator *a, size_t n) {
  if (n == 0) n = 1;
  return a && a->malloc ? a->malloc(a->ctx, n) : malloc(n);
}

void *rein__sim_calloc(const rein_allocator *a, size_t n) {
  void *p = rein__sim_alloc(a, n);
  if (p) memset(p, 0, n);
  return p;
}

void rein__sim_free(const rein_allocator *a, void *p) {
  if (!p) return;
  if (a && a->free)
    a->free(a->ctx, p);
  else
    free(p);
}

double rein__sim_dist_mean(const sim_dist *d) {
  switch (d->kind) {
  case SIM_D_CONSTANT: return d->a;
  case SIM_D_EXPONENTIAL: return d->a;
  case SIM_D_UNIFORM: return (d->a + d->b) / 2;
  case SIM_D_LOGNORMAL: return exp(d->a + d->b * d->b / 2);
  case SIM_D_BIMODAL: return (1 - d->c) * d->a + d->c * d->b;
  case SIM_D_NORMAL: return d->a;
  }
  return d->a;
}

double rein__sim_server_capacity(const sim_server_spec *s) {
  double m = rein__sim_dist_mean(&s->service);
  if (m <= 0) m = 1;
  return s->concurrency * 1e9 / m;
}

/* ---------------------------------------------------------------------- */
/* Loader state and error reporting                                        */

typedef struct ld {
  yaml_document_t doc;
  const char *file;
  rein_errbuf *err;
  rein_sim_scenario *s;
  rein_status st;
} ld;

/* Report `path: msg` at node `n` (or 1:1). Always returns -1. */
static int fail(ld *L, const yaml_node_t *n, const char *path, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));
static int fail(ld *L, const yaml_node_t *n, const char *path, const char *fmt,
                ...) {
  if (L->st == REIN_OK) L->st = REIN_EINVAL;
  if (!L->err) return -1;
  char msg[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  size_t line = n ? n->start_mark.line + 1 : 1;
  size_t col = n ? n->start_mark.column + 1 : 1;
  snprintf(L->err->msg, sizeof L->err->msg, "%s:%zu:%zu: %s: %s", L->file,
           line, col, path && *path ? path : "(top)", msg);
  return -1;
}

static yaml_node_t *node(ld *L, int id) {
  return yaml_document_get_node(&L->doc, id);
}

static const char *kind_name(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_SCALAR_NODE: return "a scalar";
  case YAML_SEQUENCE_NODE: return "a list";
  case YAML_MAPPING_NODE: return "a mapping";
  default: return "nothing";
  }
}

/* Scalar text, NUL-terminated by libyaml. NULL for non-scalars. */
static const char *sval(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                          : NULL;
}

/* Shortened copy of a scalar for messages. */
static const char *shown(const yaml_node_t *n, char *buf, size_t cap) {
  const char *v = sval(n);
  if (!v) return kind_name(n);
  size_t len = strlen(v);
  if (len > 40) {
    snprintf(buf, cap, "'%.37s...'", v);
  } else {
    snprintf(buf, cap, "'%s'", v);
  }
  return buf;
}

/* out = base.field (or field), truncated to cap - 1 characters. */
static void subpath(char *out, size_t cap, const char *base, const char *field) {
  size_t o = 0;
  if (base && *base) {
    for (; *base && o + 1 < cap; base++) out[o++] = *base;
    if (o + 1 < cap) out[o++] = '.';
  }
  for (; *field && o + 1 < cap; field++) out[o++] = *field;
  out[o] = 0;
}

static size_t lev(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 40 || lb > 40) return 99;
  size_t row[41];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (a[i - 1] != b[j - 1]);
      size_t del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev = cur;
    }
  }
  return row[lb];
}

static const char *closest(const char *word, const char *const *known) {
  const char *best = NULL;
  size_t bd = 99;
  size_t len = strlen(word);
  size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
  for (size_t i = 0; known[i]; i++) {
    /* the distance is at least the difference in length */
    size_t lk = strlen(known[i]);
    if ((lk > len ? lk - len : len - lk) > limit) continue;
    size_t d = lev(word, known[i]);
    if (d < bd) bd = d, best = known[i];
  }
  return bd <= limit ? best : NULL;
}

static void list_known(char *buf, size_t cap, const char *const *known) {
  size_t off = 0;
  buf[0] = 0;
  for (size_t i = 0; known[i] && off + 2 < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "",
                            known[i]);
}

/* Check a mapping's keys: scalars, no duplicates, all known. */
static int check_map(ld *L, yaml_node_t *m, const char *path,
                     const char *const *known) {
  if (m->type != YAML_MAPPING_NODE) {
    char b[64];
    return fail(L, m, path, "expected a mapping, got %s", shown(m, b, sizeof b));
  }
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(L, p->key);
    const char *ks = sval(k);
    if (!k || !ks) return fail(L, k ? k : m, path, "keys must be plain names");
    int found = 0;
    for (size_t i = 0; known[i]; i++)
      if (strcmp(known[i], ks) == 0) found = 1;
    char fp[256];
    subpath(fp, sizeof fp, path, ks);
    if (!found) {
      const char *dym = closest(ks, known);
      if (dym) return fail(L, k, fp, "unknown field; did you mean '%s'?", dym);
      char all[256];
      list_known(all, sizeof all, known);
      return fail(L, k, fp, "unknown field (expected one of: %s)", all);
    }
    for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
      const char *qs = sval(node(L, q->key));
      if (qs && strcmp(qs, ks) == 0)
        return fail(L, k, fp, "field given twice");
    }
  }
  return 0;
}

static yaml_node_t *get(ld *L, yaml_node_t *m, const char *key) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    const char *ks = sval(node(L, p->key));
    if (ks && strcmp(ks, key) == 0) return node(L, p->value);
  }
  return NULL;
}

static int require(ld *L, yaml_node_t *m, const char *path, const char *key,
                   yaml_node_t **out) {
  *out = get(L, m, key);
  if (!*out) return fail(L, m, path, "missing required field '%s'", key);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Scalars                                                                 */

static int p_string(ld *L, yaml_node_t *n, const char *path, char *out,
                    size_t cap) {
  const char *v = sval(n);
  if (!v) return fail(L, n, path, "expected a name, got %s", kind_name(n));
  size_t len = strlen(v);
  if (len == 0 || len >= cap)
    return fail(L, n, path, "expected a name of 1 to %zu characters", cap - 1);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if (!(c == '-' || c == '_' || c == '.' || (c >= '0' && c <= '9') ||
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return fail(L, n, path,
                  "expected a name of letters, digits, '-', '_' or '.', got "
                  "'%.40s'",
                  v);
  }
  memcpy(out, v, len + 1);
  return 0;
}

static int p_double(ld *L, yaml_node_t *n, const char *path, double lo,
                    double hi, double *out) {
  const char *v = sval(n);
  char b[64];
  if (v && *v) {
    errno = 0;
    char *end;
    double d = strtod(v, &end);
    if (!*end && !errno && isfinite(d) && d >= lo && d <= hi) {
      *out = d;
      return 0;
    }
  }
  return fail(L, n, path, "expected a number in [%g, %g], got %s", lo, hi,
              shown(n, b, sizeof b));
}

static int p_u32(ld *L, yaml_node_t *n, const char *path, uint32_t lo,
                 uint32_t hi, uint32_t *out) {
  const char *v = sval(n);
  char b[64];
  if (v && *v && ((v[0] >= '0' && v[0] <= '9'))) {
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*end && !errno && x >= lo && x <= hi) {
      *out = (uint32_t)x;
      return 0;
    }
  }
  return fail(L, n, path, "expected an integer in [%u, %u], got %s", lo, hi,
              shown(n, b, sizeof b));
}

static int p_u64(ld *L, yaml_node_t *n, const char *path, uint64_t *out) {
  const char *v = sval(n);
  char b[64];
  if (v && *v && v[0] >= '0' && v[0] <= '9') {
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 0);
    if (!*end && !errno) {
      *out = x;
      return 0;
    }
  }
  return fail(L, n, path, "expected a non-negative integer, got %s",
              shown(n, b, sizeof b));
}

static int p_bool(ld *L, yaml_node_t *n, const char *path, int *out) {
  const char *v = sval(n);
  char b[64];
  if (v) {
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
      *out = 1;
      return 0;
    }
    if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
      *out = 0;
      return 0;
    }
  }
  return fail(L, n, path, "expected true or false, got %s",
              shown(n, b, sizeof b));
}

/* rein/input.h's duration grammar (the one contracts and the command line
 * use: "250ms", "1.5s", "1h30m"; a bare 0); bounds [lo, hi]. */
static int p_dur(ld *L, yaml_node_t *n, const char *path, int64_t lo,
                 int64_t hi, int64_t *out) {
  const char *v = sval(n);
  char b[64], b1[32], b2[32];
  int64_t ns;
  rein_status st = v ? rein_parse_duration(v, &ns) : REIN_EPARSE;
  if (st == REIN_OK && ns >= lo && ns <= hi) {
    *out = ns;
    return 0;
  }
  if (st == REIN_EPARSE)
    return fail(L, n, path,
                "expected a duration with a unit (e.g. 250ms, 15s, 2m, "
                "1h30m), got %s",
                shown(n, b, sizeof b));
  return fail(L, n, path, "expected a duration in [%s, %s], got %s",
              rein_format_duration(lo, b1, sizeof b1),
              rein_format_duration(hi, b2, sizeof b2), shown(n, b, sizeof b));
}

/* A name picked from `names` (NULL-terminated); index in *out. */
static int p_enum(ld *L, yaml_node_t *n, const char *path,
                  const char *const *names, int *out) {
  const char *v = sval(n);
  char all[256], b[64];
  list_known(all, sizeof all, names);
  if (v)
    for (int i = 0; names[i]; i++)
      if (strcmp(names[i], v) == 0) {
        *out = i;
        return 0;
      }
  const char *dym = v ? closest(v, names) : NULL;
  if (dym)
    return fail(L, n, path, "expected one of %s, got %s; did you mean '%s'?",
                all, shown(n, b, sizeof b), dym);
  return fail(L, n, path, "expected one of %s, got %s", all,
              shown(n, b, sizeof b));
}

/* ---------------------------------------------------------------------- */
/* Distributions                                                           */

static const char *const DIST_KEYS[] = {"dist", "value", "mean", "min",
                                        "max",  "median", "sigma", "fast",
                                        "slow", "p_slow", "stddev", NULL};
static const char *const DIST_NAMES[] = {"constant", "exponential", "uniform",
                                         "lognormal", "bimodal", "normal",
                                         NULL};

#define DMAX (INT64_C(3600) * REIN_NS_PER_S)

static int p_dist(ld *L, yaml_node_t *n, const char *path, sim_dist *d) {
  memset(d, 0, sizeof *d);
  if (n->type == YAML_SCALAR_NODE) {
    int64_t v;
    if (p_dur(L, n, path, 0, DMAX, &v)) return -1;
    d->kind = SIM_D_CONSTANT;
    d->a = (double)v;
    return 0;
  }
  if (check_map(L, n, path, DIST_KEYS)) return -1;
  yaml_node_t *k;
  char fp[256];
  subpath(fp, sizeof fp, path, "dist");
  if (require(L, n, path, "dist", &k)) return -1;
  int kind;
  if (p_enum(L, k, fp, DIST_NAMES, &kind)) return -1;
  d->kind = (sim_dist_kind)kind;
  /* which fields each kind needs, in order a, b, c, d */
  static const char *const need[][4] = {
      {"value", NULL, NULL, NULL}, {"mean", NULL, NULL, NULL},
      {"min", "max", NULL, NULL},  {"median", "sigma", NULL, NULL},
      {"fast", "slow", "p_slow", NULL}, {"mean", "stddev", NULL, NULL}};
  double *slot[4] = {&d->a, &d->b, &d->c, &d->d};
  for (size_t i = 0; DIST_KEYS[i]; i++) {
    if (i == 0) continue;
    yaml_node_t *v = get(L, n, DIST_KEYS[i]);
    if (!v) continue;
    int used = 0;
    for (int j = 0; j < 4; j++)
      if (need[kind][j] && strcmp(need[kind][j], DIST_KEYS[i]) == 0) used = 1;
    if (kind == SIM_D_NORMAL &&
        (!strcmp(DIST_KEYS[i], "min") || !strcmp(DIST_KEYS[i], "max")))
      used = 1;
    if (!used) {
      subpath(fp, sizeof fp, path, DIST_KEYS[i]);
      return fail(L, v, fp, "not a parameter of the %s distribution",
                  DIST_NAMES[kind]);
    }
  }
  for (int j = 0; j < 4 && need[kind][j]; j++) {
    yaml_node_t *v;
    subpath(fp, sizeof fp, path, need[kind][j]);
    if (require(L, n, path, need[kind][j], &v)) return -1;
    if (!strcmp(need[kind][j], "sigma")) {
      if (p_double(L, v, fp, 0, 5, slot[j])) return -1;
    } else if (!strcmp(need[kind][j], "p_slow")) {
      if (p_double(L, v, fp, 0, 1, slot[j])) return -1;
    } else {
      int64_t x;
      if (p_dur(L, v, fp, 0, DMAX, &x)) return -1;
      *slot[j] = (double)x;
    }
  }
  if (kind == SIM_D_UNIFORM && d->b < d->a)
    return fail(L, n, path, "uniform: max must be >= min");
  if (kind == SIM_D_LOGNORMAL) {
    if (d->a <= 0) return fail(L, n, path, "lognormal: median must be > 0");
    d->a = log(d->a);
  }
  if (kind == SIM_D_EXPONENTIAL && d->a <= 0)
    return fail(L, n, path, "exponential: mean must be > 0");
  if (kind == SIM_D_NORMAL) {
    d->c = 0;
    d->d = (double)DMAX;
    yaml_node_t *v;
    int64_t x;
    if ((v = get(L, n, "min"))) {
      subpath(fp, sizeof fp, path, "min");
      if (p_dur(L, v, fp, 0, DMAX, &x)) return -1;
      d->c = (double)x;
    }
    if ((v = get(L, n, "max"))) {
      subpath(fp, sizeof fp, path, "max");
      if (p_dur(L, v, fp, 0, DMAX, &x)) return -1;
      d->d = (double)x;
    }
    if (d->d < d->c) return fail(L, n, path, "normal: max must be >= min");
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Policies                                                                */
/*
 * A policy is the model's (rein/model.h): its fields, names, bounds and
 * grammar are the table's, the very ones a contract's call and retry block
 * use, so a policy block can be copied between the two. A scenario policy
 * map is a contract retry block plus the call's timeout and deadline, plus
 * what only a simulated client has (propagate_dont_retry, honor_signals,
 * attempt_header); or `{contract: DIR, caller: NAME, to: SERVICE.OP}`,
 * which takes the policy the contract declares, through
 * rein_spec_from_contract (the same the libcurl client and `rein policy`
 * use). The scenario's older spellings (max_attempts, retry_on,
 * min_retries_per_sec, window_size, window_duration, breaker window:
 * count|time, scope: cohort|client) are read with a deprecation warning.
 */

static const char *const SIM_ONLY[] = {"propagate_dont_retry", "honor_signals",
                                       "attempt_header", "endpoints", NULL};
/* `endpoints:` of a policy, in sim_policy_spec.sticky's order */
static const char *const ENDPOINTS[] = {"spread", "sticky", NULL};
static const char *const BLOCKS[] = {"backoff", "budget", "breaker",
                                     "throttle", "hedge", NULL};
static const char *const FROM_CONTRACT[] = {"contract", "caller", "to", NULL};
static const char *const FROM_IMPORT[] = {"import", "format", "to", NULL};

static void warn(ld *L, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(ld *L, const yaml_node_t *n, const char *fmt, ...) {
  rein_sim_scenario *s = L->s;
  if (s->n_warnings >= SIM_MAX_WARNINGS) return;
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(s->warnings[s->n_warnings++], sizeof s->warnings[0],
           "%s:%zu:%zu: warning: %s", L->file,
           n ? n->start_mark.line + 1 : 1, n ? n->start_mark.column + 1 : 1,
           msg);
}

/* The known keys of a map: the model block(s), their aliases, extras. */
static void keys_of(const char **out, size_t cap, rein_model_block b1,
                    int b2, const char *const *extra, const char *const *more) {
  size_t n = 0, nf;
  const rein_model_field *f = rein_model_fields(&nf);
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < nf && n + 1 < cap; i++)
      if (f[i].block == b1 || (int)f[i].block == b2) {
        const char *k = pass ? f[i].alias : f[i].name;
        if (k) out[n++] = k;
      }
  for (size_t i = 0; extra && extra[i] && n + 1 < cap; i++)
    out[n++] = extra[i];
  for (size_t i = 0; more && more[i] && n + 1 < cap; i++)
    out[n++] = more[i];
  out[n] = NULL;
}

/* One model field of `block` at key `key` with value `v`. */
static int p_field(ld *L, rein_model_block block, const char *key,
                   yaml_node_t *kn, yaml_node_t *v, const char *fp,
                   rein_policy_spec *sp) {
  bool old = false;
  const rein_model_field *f = rein_model_find(block, key, &old);
  if (!f) return fail(L, kn, fp, "unknown field");
  if (old)
    warn(L, kn, "%s: '%s' is deprecated, write '%s' (the contract's name)",
         fp, key, f->name);
  rein_errbuf eb = {{0}};
  if (f->type == REIN_MODEL_STATUSES || f->type == REIN_MODEL_SIGNALS) {
    if (v->type != YAML_SEQUENCE_NODE)
      return fail(L, v, fp,
                  f->type == REIN_MODEL_STATUSES
                      ? "expected a list of statuses or outcomes (503, 5xx, "
                        "UNAVAILABLE, connect-failure, timeout, overloaded)"
                      : "expected a list of signals (retry-after, pushback, "
                        "ratelimit, dont-retry)");
    rein_model_list_clear(sp, f);
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, i++) {
      char ip[280];
      snprintf(ip, sizeof ip, "%s[%d]", fp, i);
      yaml_node_t *en = node(L, *it);
      const char *tv = sval(en);
      char b[64];
      if (!tv)
        return fail(L, en, ip, "expected a name, got %s", shown(en, b, sizeof b));
      if (rein_model_list_add(sp, f, tv, &eb) != REIN_OK)
        return fail(L, en, ip, "%s", eb.msg);
    }
    return 0;
  }
  const char *tv = sval(v);
  char b[64];
  if (!tv) return fail(L, v, fp, "expected a value, got %s", shown(v, b, sizeof b));
  if (rein_model_set(sp, f, tv, &eb) != REIN_OK) {
    const char *dym = f->type == REIN_MODEL_ENUM ? closest(tv, f->names) : NULL;
    if (dym) return fail(L, v, fp, "%s; did you mean '%s'?", eb.msg, dym);
    return fail(L, v, fp, "%s", eb.msg);
  }
  return 0;
}

/* backoff / budget / breaker / throttle */
static int p_block(ld *L, yaml_node_t *n, const char *path,
                   rein_model_block block, rein_policy_spec *sp) {
  const char *known[48];
  static const char *const old_scopes[] = {"cohort", "client", NULL};
  keys_of(known, 48, block, -1, NULL, NULL);
  if (check_map(L, n, path, known)) return -1;
  int window_kind = -1;
  yaml_node_t *n_window = NULL, *n_calls = NULL, *n_kind = NULL;
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
       pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *kn = node(L, pr->key), *v = node(L, pr->value);
    const char *k = sval(kn);
    char fp[256];
    subpath(fp, sizeof fp, path, k);
    const char *tv = sval(v);
    if (!strcmp(k, "scope") && tv &&
        (!strcmp(tv, "cohort") || !strcmp(tv, "client"))) {
      warn(L, v, "%s: '%s' is deprecated, write '%s'", fp, tv,
           strcmp(tv, "cohort") ? "instance" : "fleet");
      rein_scope sc = strcmp(tv, "cohort") ? REIN_SCOPE_INSTANCE
                                           : REIN_SCOPE_FLEET;
      if (block == REIN_MODEL_BUDGET) sp->budget_scope = sc;
      else if (block == REIN_MODEL_BREAKER) sp->breaker_scope = sc;
      else sp->throttle_scope = sc;
      (void)old_scopes;
      continue;
    }
    if (block == REIN_MODEL_BREAKER && !strcmp(k, "window") && tv &&
        (!strcmp(tv, "count") || !strcmp(tv, "time"))) {
      warn(L, v,
           "%s: 'window: %s' is deprecated, write '%s' (the window's kind "
           "follows from which is given)",
           fp, tv, strcmp(tv, "count") ? "window: 10s" : "window_calls: 100");
      window_kind = strcmp(tv, "count") ? REIN_BREAKER_WINDOW_TIME
                                        : REIN_BREAKER_WINDOW_COUNT;
      continue;
    }
    if (block == REIN_MODEL_BREAKER) {
      if (!strcmp(k, "window") || !strcmp(k, "window_duration")) n_window = v;
      else if (!strcmp(k, "window_calls") || !strcmp(k, "window_size"))
        n_calls = v;
      else if (!strcmp(k, "window_kind")) n_kind = v;
    }
    if (p_field(L, block, k, kn, v, fp, sp)) return -1;
  }
  if (window_kind >= 0) sp->breaker.window = (rein_breaker_window)window_kind;
  /* window_kind names what window / window_calls select: the same rule
   * as the contract loader's */
  const char *wk = n_kind ? sval(n_kind) : NULL;
  if (wk && ((n_window && strcmp(wk, "time")) ||
             (n_calls && strcmp(wk, "calls")))) {
    char fp[256];
    subpath(fp, sizeof fp, path, "window_kind");
    return fail(L, n_kind, fp,
                "window_kind %s contradicts %s; %s", wk,
                n_window ? "window" : "window_calls",
                strcmp(wk, "cumulative")
                    ? "remove window_kind (window selects time, window_calls "
                      "selects calls)"
                    : "remove window/window_calls (a cumulative window "
                      "counts every outcome)");
  }
  /* what ships: rein/fleet.h shares a classic breaker only (the
   * contract loader's rule) */
  if (block == REIN_MODEL_BREAKER && sp->breaker_scope == REIN_SCOPE_FLEET &&
      sp->breaker.gates == REIN_BREAKER_GATES_RETRIES) {
    char fp[256];
    subpath(fp, sizeof fp, path, "gates");
    return fail(L, n, fp,
                "gates: retries is per instance (a fleet breaker, "
                "rein/fleet.h, shares one open state and gates every call); "
                "use scope: instance");
  }
  if (block == REIN_MODEL_BUDGET) sp->has_budget = true;
  if (block == REIN_MODEL_BREAKER) sp->has_breaker = true;
  if (block == REIN_MODEL_THROTTLE) sp->has_throttle = true;
  if (block == REIN_MODEL_HEDGE) sp->has_hedge = true;
  return 0;
}

/* Build and free the objects once with the one builder, so the core's own
 * validation speaks (cap below base, token_ratio above max_tokens, ...). */
static int validate_policy(ld *L, yaml_node_t *n, const char *path,
                           const sim_policy_spec *p) {
  rein_errbuf eb = {{0}};
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.alloc = L->s->alloc;
  b.err = &eb;
  rein_policy_spec sp = p->spec;
  sp.policy.name = p->name[0] ? p->name : "policy";
  rein_policy_objects o;
  rein_status st = rein_policy_spec_build(&sp, &b, &o);
  rein_policy_objects_free(&o);
  if (st == REIN_ENOMEM) {
    L->st = REIN_ENOMEM;
    return fail(L, n, path, "out of memory");
  }
  if (st != REIN_OK)
    return fail(L, n, path, "%s", eb.msg[0] ? eb.msg : rein_strerror(st));
  return 0;
}

/* `{contract: DIR, caller: NAME, to: SERVICE.OP}`: the contract's policy. */
static int p_from_contract(ld *L, yaml_node_t *n, const char *path,
                           sim_policy_spec *p) {
  char fp[256], dir[1024], caller[SIM_NAME_MAX * 2], to[SIM_NAME_MAX * 2];
  yaml_node_t *v;
  subpath(fp, sizeof fp, path, "contract");
  if (require(L, n, path, "contract", &v)) return -1;
  const char *dv = sval(v);
  char sb[64];
  if (!dv || !*dv || strlen(dv) >= sizeof dir)
    return fail(L, v, fp, "expected a path to a contract file or directory "
                "(at most %zu bytes), got %s",
                sizeof dir - 1, shown(v, sb, sizeof sb));
  snprintf(dir, sizeof dir, "%s", dv);
  subpath(fp, sizeof fp, path, "caller");
  if (require(L, n, path, "caller", &v) ||
      p_string(L, v, fp, caller, sizeof caller))
    return -1;
  subpath(fp, sizeof fp, path, "to");
  if (require(L, n, path, "to", &v) || p_string(L, v, fp, to, sizeof to))
    return -1;
  /* a relative path is relative to the scenario file's directory */
  char full[2048];
  const char *slash = strrchr(L->file, '/');
  if (dir[0] != '/' && slash)
    snprintf(full, sizeof full, "%.*s/%s", (int)(slash - L->file), L->file,
             dir);
  else
    snprintf(full, sizeof full, "%s", dir);
  subpath(fp, sizeof fp, path, "contract");
  yaml_node_t *cn = get(L, n, "contract");
  rein_contract_config cc;
  rein_contract_config_default(&cc);
  cc.alloc = L->s->alloc;
  rein_contract_set *cs = NULL;
  const char *paths[1] = {full};
  rein_status st = rein_contract_load(&cc, paths, 1, &cs);
  if (st == REIN_ENOMEM) {
    L->st = REIN_ENOMEM;
    return fail(L, cn, fp, "out of memory");
  }
  if (st != REIN_OK) {
    char first[300] = "";
    if (cs && rein_contract_diag_count(cs)) {
      const rein_contract_diag *d = rein_contract_diag_at(cs, 0);
      snprintf(first, sizeof first, " (first: %s:%u:%u: %s)",
               d->loc.file ? d->loc.file : "?", d->loc.line, d->loc.col,
               d->message);
    }
    rein_contract_set_free(cs);
    return fail(L, cn, fp, "the contracts in '%s' do not load%s; run `rein "
                "check %s`",
                full, first, full);
  }
  rein_errbuf eb = {{0}};
  st = rein_spec_from_contract(cs, caller, to, &p->spec, &eb);
  rein_contract_set_free(cs);
  if (st != REIN_OK)
    return fail(L, n, path, "%s", eb.msg[0] ? eb.msg : rein_strerror(st));
  p->spec.policy.name = NULL; /* pointed into the set */
  /* the client honours what the contract says it honours */
  p->honor_signals = p->spec.signals != 0;
  return 0;
}

/* `{import: FILE, format: FORMAT, to: CALLEE}`: the policy a config a team
 * already runs gives one call (rein/interop.h: Envoy, gRPC service config,
 * Istio), imported into the model as `rein import` imports it. `format`
 * defaults to the file's content (rein_interop_detect); `to` is the callee
 * as `rein import` names it ("front.*", "api-Payments.Charge"), and may be
 * left out when the file makes one call. */
static int p_from_import(ld *L, yaml_node_t *n, const char *path,
                         sim_policy_spec *p) {
  char fp[256], file[1024], format[32] = "", to[SIM_NAME_MAX * 2] = "";
  yaml_node_t *v, *fn;
  subpath(fp, sizeof fp, path, "import");
  if (require(L, n, path, "import", &fn)) return -1;
  const char *fv = sval(fn);
  char sb[64];
  if (!fv || !*fv || strlen(fv) >= sizeof file)
    return fail(L, fn, fp, "expected a path to a config file (at most %zu "
                "bytes), got %s",
                sizeof file - 1, shown(fn, sb, sizeof sb));
  snprintf(file, sizeof file, "%s", fv);
  if ((v = get(L, n, "format"))) {
    subpath(fp, sizeof fp, path, "format");
    if (p_string(L, v, fp, format, sizeof format)) return -1;
  }
  if ((v = get(L, n, "to"))) {
    subpath(fp, sizeof fp, path, "to");
    const char *tv = sval(v);
    if (!tv || !*tv || strlen(tv) >= sizeof to)
      return fail(L, v, fp, "expected the callee as `rein import` names it "
                  "(\"ledger.*\", \"api-Payments.Charge\"), got %s",
                  shown(v, sb, sizeof sb));
    snprintf(to, sizeof to, "%s", tv);
  }
  char full[2048];
  const char *slash = strrchr(L->file, '/');
  if (file[0] != '/' && slash)
    snprintf(full, sizeof full, "%.*s/%s", (int)(slash - L->file), L->file,
             file);
  else
    snprintf(full, sizeof full, "%s", file);
  subpath(fp, sizeof fp, path, "import");
  rein_errbuf eb = {{0}};
  char *buf = NULL;
  size_t len = 0;
  rein_status st = rein_file_read(full, 4u << 20, L->s->alloc, &eb, &buf, &len);
  if (st != REIN_OK)
    return fail(L, fn, fp, "cannot read '%s': %s", full, eb.msg);
  const char *fmt = format[0] ? format : NULL;
  if (!fmt && rein_interop_detect(buf, len, &fmt) != REIN_OK) {
    rein_free(L->s->alloc, buf);
    return fail(L, fn, fp, "'%s' is not a config rein can import (a gRPC "
                "service config, Envoy routes or an Istio VirtualService); "
                "give its format: grpc, envoy or istio", full);
  }
  rein_interop_config c;
  rein_interop_config_default(&c);
  c.alloc = L->s->alloc;
  rein_interop *ix = NULL;
  st = rein_interop_new(&c, &ix);
  if (st == REIN_OK) st = rein_interop_import_buffer(ix, fmt, full, buf, len);
  rein_free(L->s->alloc, buf);
  int rc = 0;
  if (st == REIN_ENOTFOUND) {
    subpath(fp, sizeof fp, path, "format");
    rc = fail(L, get(L, n, "format"), fp, "unknown format '%s' (grpc, envoy, "
              "istio)", fmt);
  } else if (st != REIN_OK) {
    const rein_interop_diag *d = NULL;
    for (size_t i = 0; ix && i < rein_interop_diag_count(ix) && !d; i++)
      if (rein_interop_diag_at(ix, i)->severity == REIN_INTEROP_ERROR)
        d = rein_interop_diag_at(ix, i);
    if (st == REIN_ENOMEM) L->st = REIN_ENOMEM;
    rc = fail(L, fn, fp, "'%s' does not import%s%s:%u:%u: %s%s%s; run `rein "
              "import %s %s`",
              full, d ? " (first: " : "", d ? d->loc.file : "",
              d ? d->loc.line : 0, d ? d->loc.col : 0,
              d && d->field && *d->field ? d->field : "",
              d ? ": " : "", d ? d->message : "", fmt, full);
  } else {
    const rein_interop_call *hit = NULL;
    size_t nc = rein_interop_call_count(ix);
    char known[256] = "";
    for (size_t i = 0, o = 0; i < nc; i++) {
      const rein_interop_call *ic = rein_interop_call_at(ix, i);
      if ((to[0] && !strcmp(ic->to, to)) || (!to[0] && nc == 1)) hit = ic;
      if (o < sizeof known)
        o += (size_t)snprintf(known + o, sizeof known - o, "%s%s",
                              i ? ", " : "", ic->to);
    }
    subpath(fp, sizeof fp, path, "to");
    if (!hit)
      rc = fail(L, get(L, n, "to") ? get(L, n, "to") : n, fp,
                "%s: %s makes no call %s%s (its calls: %s)", full, fmt,
                to[0] ? "to " : "", to[0] ? to : "alone: name one with to:",
                known[0] ? known : "none");
    else {
      p->spec = hit->spec;
      p->spec.policy.name = NULL; /* pointed into the handle */
      p->honor_signals = p->spec.signals != 0;
    }
  }
  rein_interop_free(ix);
  return rc;
}

static int p_policy(ld *L, yaml_node_t *n, const char *path,
                    sim_policy_spec *p) {
  const char *known[64];
  keys_of(known, 64, REIN_MODEL_RETRY, REIN_MODEL_CALL, BLOCKS, SIM_ONLY);
  size_t nk = 0;
  while (known[nk])
    nk++;
  for (size_t i = 0; FROM_CONTRACT[i] && nk + 1 < 64; i++)
    known[nk++] = FROM_CONTRACT[i];
  for (size_t i = 0; FROM_IMPORT[i] && nk + 1 < 64; i++)
    if (strcmp(FROM_IMPORT[i], "to")) known[nk++] = FROM_IMPORT[i];
  known[nk] = NULL;
  if (check_map(L, n, path, known)) return -1;
  rein_policy_spec_default(&p->spec);
  p->propagate = 1;
  p->honor_signals = 1;
  p->attempt_header = 1;
  if (get(L, n, "contract")) {
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
      const char *k = sval(node(L, pr->key));
      int ok = 0;
      for (size_t i = 0; FROM_CONTRACT[i]; i++) ok |= !strcmp(k, FROM_CONTRACT[i]);
      for (size_t i = 0; SIM_ONLY[i]; i++) ok |= !strcmp(k, SIM_ONLY[i]);
      char fp[256];
      subpath(fp, sizeof fp, path, k);
      if (!ok)
        return fail(L, node(L, pr->key), fp,
                    "a policy taken from a contract takes only contract, "
                    "caller, to and %s, %s, %s, %s; change the contract "
                    "instead",
                    SIM_ONLY[0], SIM_ONLY[1], SIM_ONLY[2], SIM_ONLY[3]);
    }
    if (p_from_contract(L, n, path, p)) return -1;
  } else if (get(L, n, "import")) {
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
      const char *k = sval(node(L, pr->key));
      int ok = 0;
      for (size_t i = 0; FROM_IMPORT[i]; i++) ok |= !strcmp(k, FROM_IMPORT[i]);
      for (size_t i = 0; SIM_ONLY[i]; i++) ok |= !strcmp(k, SIM_ONLY[i]);
      char fp[256];
      subpath(fp, sizeof fp, path, k);
      if (!ok)
        return fail(L, node(L, pr->key), fp,
                    "a policy imported from a config takes only import, "
                    "format, to and %s, %s, %s, %s; change the config "
                    "instead",
                    SIM_ONLY[0], SIM_ONLY[1], SIM_ONLY[2], SIM_ONLY[3]);
    }
    if (p_from_import(L, n, path, p)) return -1;
  }
  for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
       pr < n->data.mapping.pairs.top; pr++) {
    yaml_node_t *kn = node(L, pr->key), *v = node(L, pr->value);
    const char *k = sval(kn);
    char fp[256];
    subpath(fp, sizeof fp, path, k);
    int *flag = !strcmp(k, "propagate_dont_retry") ? &p->propagate
                : !strcmp(k, "honor_signals")      ? &p->honor_signals
                : !strcmp(k, "attempt_header")     ? &p->attempt_header
                                                   : NULL;
    if (flag) {
      if (p_bool(L, v, fp, flag)) return -1;
      continue;
    }
    if (!strcmp(k, "endpoints")) {
      if (p_enum(L, v, fp, ENDPOINTS, &p->sticky)) return -1;
      continue;
    }
    int is_from = 0;
    for (size_t i = 0; FROM_CONTRACT[i]; i++) is_from |= !strcmp(k, FROM_CONTRACT[i]);
    for (size_t i = 0; FROM_IMPORT[i]; i++) is_from |= !strcmp(k, FROM_IMPORT[i]);
    if (is_from) continue;
    rein_model_block blk = !strcmp(k, "backoff")    ? REIN_MODEL_BACKOFF
                           : !strcmp(k, "budget")   ? REIN_MODEL_BUDGET
                           : !strcmp(k, "breaker")  ? REIN_MODEL_BREAKER
                           : !strcmp(k, "throttle") ? REIN_MODEL_THROTTLE
                           : !strcmp(k, "hedge")    ? REIN_MODEL_HEDGE
                                                    : REIN_MODEL_RETRY;
    if (blk != REIN_MODEL_RETRY) {
      if (p_block(L, v, fp, blk, &p->spec)) return -1;
      continue;
    }
    if (rein_model_find(REIN_MODEL_CALL, k, NULL)) blk = REIN_MODEL_CALL;
    if (p_field(L, blk, k, kn, v, fp, &p->spec)) return -1;
    if (!strcmp(k, "signals")) p->honor_signals = p->spec.signals != 0;
  }
  return validate_policy(L, n, path, p);
}

#define FIELD(key)                                                             \
  (subpath(fp, sizeof fp, path, key), (v = get(L, n, key)) != NULL)

/* Resolve the name in `n` among `names[0..count)` (NULL-terminated), or
 * fail with a did-you-mean or the list of what is defined. `kind` and
 * `plural` name the thing in the message ("policy", "policies"). */
static int find_named(ld *L, yaml_node_t *n, const char *path,
                      const char *kind, const char *plural,
                      const char *const *names, size_t count, uint32_t *out) {
  const char *v = sval(n);
  if (v)
    for (size_t i = 0; i < count; i++)
      if (strcmp(names[i], v) == 0) {
        *out = (uint32_t)i;
        return 0;
      }
  char b[64];
  const char *dym = v ? closest(v, names) : NULL;
  if (dym)
    return fail(L, n, path, "no %s named %s; did you mean '%s'?", kind,
                shown(n, b, sizeof b), dym);
  char all[256];
  list_known(all, sizeof all, names);
  return fail(L, n, path, "no %s named %s (%s: %s)", kind,
              shown(n, b, sizeof b), plural, all[0] ? all : "none defined");
}

static int find_policy(ld *L, yaml_node_t *n, const char *path,
                       uint32_t *out) {
  rein_sim_scenario *s = L->s;
  const char *names[MAX_POLICIES + 1];
  for (size_t i = 0; i < s->n_policies; i++) names[i] = s->policies[i].name;
  names[s->n_policies] = NULL;
  return find_named(L, n, path, "policy", "policies", names, s->n_policies,
                    out);
}

static int find_server(ld *L, yaml_node_t *n, const char *path,
                       uint32_t *out) {
  rein_sim_scenario *s = L->s;
  const char *names[MAX_SERVERS + 1];
  for (size_t i = 0; i < s->n_servers; i++) names[i] = s->servers[i].name;
  names[s->n_servers] = NULL;
  return find_named(L, n, path, "server", "servers", names, s->n_servers,
                    out);
}

/* ---------------------------------------------------------------------- */
/* Servers, cohorts, incidents, variants                                   */

static const char *const SERVER_KEYS[] = {
    "name",    "concurrency", "service_time", "queue",  "latency",
    "network", "failure_probability", "shed", "dedup", "occ",
    "downstream", "policy", "timeout", "idempotent", "admission", "replicas",
    NULL};
static const char *const ADMISSION_KEYS[] = {
    "limit", "queue", "retry_queue", "target", "interval", "max_wait",
    "lifo", "dont_retry", "retry_after_min", "retry_after_max", NULL};
static const char *const ADM_DONT_RETRY[] = {"never", "retries", "overloaded",
                                             NULL};

/* The admission block of a server: rein/admit.h's config, validated by
 * rein_admit_new itself. */
static int p_admission(ld *L, yaml_node_t *n, const char *path,
                       sim_server_spec *sv) {
#ifndef REIN_SIM_ADMIT
  (void)sv;
  return fail(L, n, path, "this build has no rein_admit (src/server)");
#else
  char fp[256];
  yaml_node_t *v;
  int e;
  if (check_map(L, n, path, ADMISSION_KEYS)) return -1;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = sv->concurrency;
  if (FIELD("limit") && p_u32(L, v, fp, 1, 1048576, &c.limit)) return -1;
  if (FIELD("queue") && p_u32(L, v, fp, 0, 1048576, &c.queue_max)) return -1;
  if (c.retry_queue_max > c.queue_max) c.retry_queue_max = c.queue_max;
  if (FIELD("retry_queue") && p_u32(L, v, fp, 0, 1048576, &c.retry_queue_max))
    return -1;
  if (FIELD("target") && p_dur(L, v, fp, 0, DMAX, &c.target_ns)) return -1;
  if (FIELD("interval") && p_dur(L, v, fp, 0, DMAX, &c.interval_ns)) return -1;
  if (FIELD("max_wait") && p_dur(L, v, fp, 0, DMAX, &c.max_wait_ns)) return -1;
  int lifo = c.lifo_when_overloaded;
  if (FIELD("lifo") && p_bool(L, v, fp, &lifo)) return -1;
  c.lifo_when_overloaded = lifo != 0;
  if (FIELD("dont_retry")) {
    if (p_enum(L, v, fp, ADM_DONT_RETRY, &e)) return -1;
    c.dont_retry = (rein_admit_dont_retry)e;
  }
  if (FIELD("retry_after_min") && p_dur(L, v, fp, 0, DMAX, &c.retry_after_min_ns))
    return -1;
  if (FIELD("retry_after_max") && p_dur(L, v, fp, 0, DMAX, &c.retry_after_max_ns))
    return -1;
  rein_errbuf eb = {{0}};
  c.err = &eb;
  c.alloc = L->s->alloc;
  rein_admit *a = NULL;
  rein_status st = rein_admit_new(&c, &a);
  rein_admit_free(a);
  if (st == REIN_ENOMEM) {
    L->st = REIN_ENOMEM;
    return fail(L, n, path, "out of memory");
  }
  if (st != REIN_OK) return fail(L, n, path, "%s", eb.msg);
  sv->has_admission = 1;
  sv->adm_limit = c.limit;
  sv->adm_queue = c.queue_max;
  sv->adm_retry_queue = c.retry_queue_max;
  sv->adm_target_ns = c.target_ns;
  sv->adm_interval_ns = c.interval_ns;
  sv->adm_max_wait_ns = c.max_wait_ns;
  sv->adm_ra_min_ns = c.retry_after_min_ns;
  sv->adm_ra_max_ns = c.retry_after_max_ns;
  sv->adm_lifo = lifo;
  sv->adm_dont_retry = (int)c.dont_retry;
  return 0;
#endif
}
static const char *const QUEUE_KEYS[] = {"capacity", "discipline", NULL};
static const char *const LATENCY_KEYS[] = {"per_inflight", "threshold_rate",
                                           "factor", NULL};
static const char *const SHED_KEYS[] = {"queue_over", "wait_over",
                                        "retry_after", "pushback",
                                        "dont_retry", NULL};
static const char *const OCC_KEYS[] = {"keys", NULL};

static int p_server_pass1(ld *L, yaml_node_t *n, const char *path,
                          sim_server_spec *sv) {
  char fp[256];
  yaml_node_t *v;
  if (check_map(L, n, path, SERVER_KEYS)) return -1;
  subpath(fp, sizeof fp, path, "name");
  if (require(L, n, path, "name", &v) || p_string(L, v, fp, sv->name,
                                                  sizeof sv->name))
    return -1;
  sv->concurrency = 1;
  sv->service.kind = SIM_D_CONSTANT;
  sv->service.a = 10e6;
  sv->queue_cap = 1000;
  sv->idempotent = 1;
  sv->threshold_factor = 1;
  sv->replicas = 1;
  if (FIELD("replicas") &&
      p_u32(L, v, fp, 1, SIM_MAX_REPLICAS, &sv->replicas))
    return -1;
  if (FIELD("concurrency") && p_u32(L, v, fp, 1, 1000000, &sv->concurrency))
    return -1;
  if (FIELD("service_time") && p_dist(L, v, fp, &sv->service)) return -1;
  if (FIELD("queue")) {
    static const char *const DISC[] = {"fifo", "lifo", NULL};
    char qp[256];
    snprintf(qp, sizeof qp, "%s", fp);
    yaml_node_t *q = v;
    if (check_map(L, q, qp, QUEUE_KEYS)) return -1;
    subpath(fp, sizeof fp, qp, "capacity");
    if ((v = get(L, q, "capacity")) &&
        p_u32(L, v, fp, 0, 10000000, &sv->queue_cap))
      return -1;
    subpath(fp, sizeof fp, qp, "discipline");
    int e;
    if ((v = get(L, q, "discipline"))) {
      if (p_enum(L, v, fp, DISC, &e)) return -1;
      sv->queue_kind = (sim_queue_kind)e;
    }
  }
  if (FIELD("latency")) {
    char lp[256];
    snprintf(lp, sizeof lp, "%s", fp);
    yaml_node_t *q = v;
    if (check_map(L, q, lp, LATENCY_KEYS)) return -1;
    subpath(fp, sizeof fp, lp, "per_inflight");
    if ((v = get(L, q, "per_inflight")) &&
        p_dur(L, v, fp, 0, DMAX, &sv->per_inflight_ns))
      return -1;
    subpath(fp, sizeof fp, lp, "threshold_rate");
    if ((v = get(L, q, "threshold_rate")) &&
        p_double(L, v, fp, 0, 1e12, &sv->threshold_rate))
      return -1;
    subpath(fp, sizeof fp, lp, "factor");
    if ((v = get(L, q, "factor")) &&
        p_double(L, v, fp, 1, 1e6, &sv->threshold_factor))
      return -1;
  }
  if (FIELD("network")) {
    if (p_dist(L, v, fp, &sv->network)) return -1;
    sv->has_network = 1;
  }
  if (FIELD("failure_probability") && p_double(L, v, fp, 0, 1, &sv->failure_p))
    return -1;
  if (FIELD("shed")) {
    char sp[256];
    snprintf(sp, sizeof sp, "%s", fp);
    yaml_node_t *q = v;
    if (check_map(L, q, sp, SHED_KEYS)) return -1;
    sv->shed = 1;
    subpath(fp, sizeof fp, sp, "queue_over");
    if ((v = get(L, q, "queue_over")) &&
        p_u32(L, v, fp, 1, 10000000, &sv->shed_queue_over))
      return -1;
    subpath(fp, sizeof fp, sp, "wait_over");
    if ((v = get(L, q, "wait_over")) &&
        p_dur(L, v, fp, 1, DMAX, &sv->shed_wait_over_ns))
      return -1;
    subpath(fp, sizeof fp, sp, "retry_after");
    if ((v = get(L, q, "retry_after"))) {
      if (sval(v) && !strcmp(sval(v), "auto"))
        sv->retry_after_ns = -1;
      else if (p_dur(L, v, fp, 0, DMAX, &sv->retry_after_ns))
        return fail(L, v, fp, "expected a duration or 'auto'");
    }
    subpath(fp, sizeof fp, sp, "pushback");
    if ((v = get(L, q, "pushback")) &&
        p_dur(L, v, fp, 0, DMAX, &sv->pushback_ns))
      return -1;
    subpath(fp, sizeof fp, sp, "dont_retry");
    if ((v = get(L, q, "dont_retry")) && p_bool(L, v, fp, &sv->shed_dont_retry))
      return -1;
    if (!sv->shed_queue_over && !sv->shed_wait_over_ns)
      return fail(L, q, sp, "give queue_over or wait_over (when to shed)");
  }
  if (FIELD("dedup") && p_bool(L, v, fp, &sv->dedup)) return -1;
  if (FIELD("occ")) {
    char op[256];
    snprintf(op, sizeof op, "%s", fp);
    yaml_node_t *q = v;
    if (check_map(L, q, op, OCC_KEYS)) return -1;
    subpath(fp, sizeof fp, op, "keys");
    if (require(L, q, op, "keys", &v) ||
        p_u32(L, v, fp, 1, 1000000, &sv->occ_keys))
      return -1;
  }
  if (FIELD("timeout") && p_dur(L, v, fp, 0, DMAX, &sv->timeout_ns)) return -1;
  if (FIELD("idempotent") && p_bool(L, v, fp, &sv->idempotent)) return -1;
  if (FIELD("admission") && p_admission(L, v, fp, sv)) return -1;
  return 0;
}

static int p_server_pass2(ld *L, yaml_node_t *n, const char *path,
                          sim_server_spec *sv, uint32_t self) {
  char fp[256];
  yaml_node_t *v;
  if (FIELD("downstream")) {
    if (find_server(L, v, fp, &sv->downstream)) return -1;
    if (sv->downstream == self)
      return fail(L, v, fp, "a server cannot call itself");
    sv->has_downstream = 1;
    yaml_node_t *pn;
    char pp[256];
    subpath(pp, sizeof pp, path, "policy");
    if (!(pn = get(L, n, "policy")))
      return fail(L, n, path,
                  "a server with a downstream needs 'policy' (how it retries "
                  "its downstream calls)");
    if (find_policy(L, pn, pp, &sv->policy)) return -1;
  } else if (FIELD("policy")) {
    return fail(L, v, fp, "only a server with a 'downstream' uses a policy");
  }
  return 0;
}

static const char *const COHORT_KEYS[] = {
    "name", "count", "target", "arrival", "active", "timeout", "deadline",
    "idempotent", "key", "policy", NULL};
static const char *const ARRIVAL_KEYS[] = {"mode", "rate", "think", "start",
                                           NULL};
static const char *const ACTIVE_KEYS[] = {"from", "until", NULL};
/* in sim_arrival's order */
static const char *const MODES[] = {"poisson", "closed", "one_shot", "periodic",
                                    NULL};

static int p_cohort(ld *L, yaml_node_t *n, const char *path,
                    sim_cohort_spec *c) {
  char fp[256];
  yaml_node_t *v;
  if (check_map(L, n, path, COHORT_KEYS)) return -1;
  subpath(fp, sizeof fp, path, "name");
  if (require(L, n, path, "name", &v) ||
      p_string(L, v, fp, c->name, sizeof c->name))
    return -1;
  c->count = 1;
  c->idempotent = 1;
  c->timeout_ns = REIN_NS_PER_S;
  c->think.kind = SIM_D_CONSTANT;
  c->start.kind = SIM_D_CONSTANT;
  if (FIELD("count") &&
      p_u32(L, v, fp, 1, MAX_CLIENTS_PER_COHORT, &c->count))
    return -1;
  subpath(fp, sizeof fp, path, "target");
  if (require(L, n, path, "target", &v) || find_server(L, v, fp, &c->target))
    return -1;
  subpath(fp, sizeof fp, path, "policy");
  if (require(L, n, path, "policy", &v) || find_policy(L, v, fp, &c->policy))
    return -1;
  subpath(fp, sizeof fp, path, "arrival");
  if (require(L, n, path, "arrival", &v)) return -1;
  {
    char ap[256];
    snprintf(ap, sizeof ap, "%s", fp);
    yaml_node_t *a = v;
    if (check_map(L, a, ap, ARRIVAL_KEYS)) return -1;
    int e;
    subpath(fp, sizeof fp, ap, "mode");
    if (require(L, a, ap, "mode", &v) || p_enum(L, v, fp, MODES, &e))
      return -1;
    c->arrival = (sim_arrival)e;
    int open =
        c->arrival == SIM_ARRIVAL_POISSON || c->arrival == SIM_ARRIVAL_PERIODIC;
    subpath(fp, sizeof fp, ap, "rate");
    if ((v = get(L, a, "rate"))) {
      if (!open)
        return fail(L, v, fp,
                    "only the poisson and periodic modes have a rate (the "
                    "%s mode has think)",
                    MODES[e]);
      if (p_double(L, v, fp, 1e-6, 1e6, &c->rate)) return -1;
    } else if (open) {
      return fail(L, a, ap,
                  "missing required field 'rate' (logical calls per second "
                  "per client)");
    }
    subpath(fp, sizeof fp, ap, "think");
    if ((v = get(L, a, "think"))) {
      if (open)
        return fail(L, v, fp, "the %s mode has no think time (use rate)",
                    MODES[e]);
      if (p_dist(L, v, fp, &c->think)) return -1;
    }
    subpath(fp, sizeof fp, ap, "start");
    if ((v = get(L, a, "start"))) {
      /* (poisson has always read and ignored it) */
      if (c->arrival == SIM_ARRIVAL_PERIODIC)
        return fail(L, v, fp,
                    "the periodic mode has no start (its phase is drawn per "
                    "run; use active.from to start the cohort later)");
      if (p_dist(L, v, fp, &c->start)) return -1;
    }
  }
  if (FIELD("active")) {
    char ap[256];
    snprintf(ap, sizeof ap, "%s", fp);
    yaml_node_t *a = v;
    if (check_map(L, a, ap, ACTIVE_KEYS)) return -1;
    subpath(fp, sizeof fp, ap, "from");
    if ((v = get(L, a, "from")) &&
        p_dur(L, v, fp, 0, MAX_DURATION_NS, &c->begin_ns))
      return -1;
    subpath(fp, sizeof fp, ap, "until");
    if ((v = get(L, a, "until")) &&
        p_dur(L, v, fp, 1, MAX_DURATION_NS, &c->end_ns))
      return -1;
    if (c->end_ns && c->end_ns <= c->begin_ns)
      return fail(L, a, ap, "'until' must be after 'from'");
  }
  if (FIELD("timeout") && p_dur(L, v, fp, 0, DMAX, &c->timeout_ns)) return -1;
  if (FIELD("deadline") && p_dur(L, v, fp, 0, MAX_DURATION_NS,
                                 &c->deadline_ns))
    return -1;
  if (FIELD("idempotent") && p_bool(L, v, fp, &c->idempotent)) return -1;
  if (FIELD("key") && p_bool(L, v, fp, &c->key)) return -1;
  return 0;
}

static const char *const INCIDENT_KEYS[] = {
    "kind", "server", "start",       "end",    "duration",
    "mode", "factor", "probability", "status", "replica", NULL};
static const char *const INC_KINDS[] = {"outage", "capacity", "failure", NULL};
/* in sim_outage_mode's order */
static const char *const OUT_MODES[] = {"error",  "drop",   "slow",
                                        "refuse", "buffer", NULL};

static int p_incident(ld *L, yaml_node_t *n, const char *path,
                      sim_incident_spec *inc) {
  char fp[256];
  yaml_node_t *v;
  int e;
  if (check_map(L, n, path, INCIDENT_KEYS)) return -1;
  subpath(fp, sizeof fp, path, "kind");
  if (require(L, n, path, "kind", &v) || p_enum(L, v, fp, INC_KINDS, &e))
    return -1;
  inc->kind = (sim_incident_kind)e;
  subpath(fp, sizeof fp, path, "server");
  if (require(L, n, path, "server", &v) || find_server(L, v, fp, &inc->server))
    return -1;
  inc->replica = -1;
  if (FIELD("replica")) {
    const sim_server_spec *sv = &L->s->servers[inc->server];
    uint32_t r;
    char b[64];
    const char *x = sval(v);
    if (sv->replicas < 2)
      return fail(L, v, fp,
                  "server '%s' has one replica; give it 'replicas: N' (N >= "
                  "2) to hit one of them, or drop 'replica'",
                  sv->name);
    if (!x || *x < '0' || *x > '9' ||
        p_u32(L, v, fp, 0, sv->replicas - 1, &r))
      return fail(L, v, fp,
                  "expected a replica index of server '%s' in [0, %u], got "
                  "%s",
                  sv->name, sv->replicas - 1, shown(v, b, sizeof b));
    inc->replica = (int32_t)r;
  }
  subpath(fp, sizeof fp, path, "start");
  if (require(L, n, path, "start", &v) ||
      p_dur(L, v, fp, 0, MAX_DURATION_NS, &inc->start_ns))
    return -1;
  yaml_node_t *en = get(L, n, "end"), *dn = get(L, n, "duration");
  if (en && dn)
    return fail(L, dn, path, "give either 'end' or 'duration', not both");
  if (!en && !dn)
    return fail(L, n, path, "missing required field 'end' (or 'duration')");
  if (en) {
    subpath(fp, sizeof fp, path, "end");
    if (p_dur(L, en, fp, 0, MAX_DURATION_NS, &inc->end_ns)) return -1;
    if (inc->end_ns <= inc->start_ns)
      return fail(L, en, fp, "must be after start");
  } else {
    int64_t d;
    subpath(fp, sizeof fp, path, "duration");
    if (p_dur(L, dn, fp, 1, MAX_DURATION_NS, &d)) return -1;
    inc->end_ns = inc->start_ns + d;
  }
  inc->factor = 1;
  if (FIELD("mode")) {
    if (inc->kind != SIM_INC_OUTAGE)
      return fail(L, v, fp, "only an outage has a mode");
    if (p_enum(L, v, fp, OUT_MODES, &e)) return -1;
    inc->mode = (sim_outage_mode)e;
  }
  if (FIELD("factor")) {
    if (inc->kind == SIM_INC_CAPACITY) {
      if (p_double(L, v, fp, 0, 1, &inc->factor)) return -1;
    } else if (inc->kind == SIM_INC_OUTAGE && inc->mode == SIM_OUT_SLOW) {
      if (p_double(L, v, fp, 1, 1e6, &inc->factor)) return -1;
    } else {
      return fail(L, v, fp,
                  "only a capacity incident or a slow outage has a factor");
    }
  } else if (inc->kind == SIM_INC_CAPACITY) {
    return fail(L, n, path,
                "missing required field 'factor' (capacity left, e.g. 0.2)");
  } else if (inc->kind == SIM_INC_OUTAGE && inc->mode == SIM_OUT_SLOW) {
    return fail(L, n, path,
                "missing required field 'factor' (service time multiplier)");
  }
  if (FIELD("probability")) {
    if (inc->kind != SIM_INC_FAILURE)
      return fail(L, v, fp, "only a failure incident has a probability");
    if (p_double(L, v, fp, 0, 1, &inc->probability)) return -1;
  } else if (inc->kind == SIM_INC_FAILURE) {
    return fail(L, n, path, "missing required field 'probability'");
  }
  inc->status = REIN_COND_HTTP(500);
  if (FIELD("status")) {
    if (!(inc->kind == SIM_INC_FAILURE ||
          (inc->kind == SIM_INC_OUTAGE && inc->mode == SIM_OUT_ERROR)))
      return fail(L, v, fp,
                  "only a failure incident or an error outage has a status");
    /* an HTTP status 100..599 or a gRPC status name (rein/classify.h) */
    const char *sv =
        v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "";
    uint32_t code = REIN_GRPC_CODE_COUNT_;
    for (uint32_t c = 0; c < REIN_GRPC_CODE_COUNT_; c++)
      if (strcmp(sv, rein_grpc_code_name(c)) == 0) code = c;
    if (code < REIN_GRPC_CODE_COUNT_) {
      inc->status = REIN_COND_GRPC(code);
    } else {
      uint32_t st;
      if (p_u32(L, v, fp, 100, 599, &st)) return -1;
      inc->status = REIN_COND_HTTP(st);
    }
  }
  return 0;
}

static const char *const VARIANT_KEYS[] = {"name", "use", "admission", NULL};

static int p_variant(ld *L, yaml_node_t *n, const char *path,
                     sim_variant_spec *va) {
  char fp[256];
  yaml_node_t *v;
  rein_sim_scenario *s = L->s;
  if (check_map(L, n, path, VARIANT_KEYS)) return -1;
  subpath(fp, sizeof fp, path, "name");
  if (require(L, n, path, "name", &v) ||
      p_string(L, v, fp, va->name, sizeof va->name))
    return -1;
  for (size_t i = 0; i < s->n_cohorts; i++)
    va->cohort_policy[i] = s->cohorts[i].policy;
  for (size_t i = 0; i < s->n_servers; i++) {
    va->server_policy[i] = s->servers[i].policy;
    va->admission[i] = (uint8_t)s->servers[i].has_admission;
  }
  if (FIELD("admission")) {
    /* exactly the listed servers use their admission block */
    if (v->type != YAML_SEQUENCE_NODE)
      return fail(L, v, fp, "expected a list of server names");
    memset(va->admission, 0, s->n_servers);
    int i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start;
         it < v->data.sequence.items.top; it++, i++) {
      char ip[280];
      snprintf(ip, sizeof ip, "%s[%d]", fp, i);
      uint32_t k;
      if (find_server(L, node(L, *it), ip, &k)) return -1;
      if (!s->servers[k].has_admission)
        return fail(L, node(L, *it), ip,
                    "server '%s' has no admission block", s->servers[k].name);
      va->admission[k] = 1;
    }
  }
  if (!FIELD("use")) return 0;
  if (v->type != YAML_MAPPING_NODE)
    return fail(L, v, fp,
                "expected a mapping from cohort or server name to policy");
  char up[256];
  snprintf(up, sizeof up, "%s", fp);
  for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
       p < v->data.mapping.pairs.top; p++) {
    yaml_node_t *k = node(L, p->key), *pv = node(L, p->value);
    const char *ks = sval(k);
    if (!ks || !pv) return fail(L, k ? k : v, up, "keys must be plain names");
    char kp[320];
    snprintf(kp, sizeof kp, "%s.%s", up, ks);
    uint32_t pol;
    if (find_policy(L, pv, kp, &pol)) return -1;
    int found = 0;
    for (size_t i = 0; i < s->n_cohorts; i++)
      if (!strcmp(s->cohorts[i].name, ks)) va->cohort_policy[i] = pol, found = 1;
    for (size_t i = 0; i < s->n_servers; i++)
      if (!strcmp(s->servers[i].name, ks)) {
        if (!s->servers[i].has_downstream)
          return fail(L, k, kp,
                      "server '%s' has no downstream, so no policy to choose",
                      ks);
        va->server_policy[i] = pol, found = 1;
      }
    if (!found) {
      const char *names[MAX_COHORTS + MAX_SERVERS + 1];
      size_t m = 0;
      for (size_t i = 0; i < s->n_cohorts; i++) names[m++] = s->cohorts[i].name;
      for (size_t i = 0; i < s->n_servers; i++) names[m++] = s->servers[i].name;
      names[m] = NULL;
      const char *dym = closest(ks, names);
      if (dym)
        return fail(L, k, kp, "no cohort or server of that name; did you mean "
                              "'%s'?", dym);
      return fail(L, k, kp, "no cohort or server of that name");
    }
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Top level                                                               */

static const char *const TOP_KEYS[] = {
    "name",      "description", "seed",       "duration", "interval",
    "primary",   "recovery",    "policies",   "servers",  "cohorts",
    "incidents", "variants",    "max_memory", NULL};
static const char *const RECOVERY_KEYS[] = {"tolerance", "hold", "baseline",
                                            "against", NULL};
/* in sim_recovery's order */
static const char *const RECOVERY_AGAINST[] = {"baseline", "offered", NULL};

static int seq_check(ld *L, yaml_node_t *n, const char *path, size_t max,
                     size_t *count) {
  if (n->type != YAML_SEQUENCE_NODE)
    return fail(L, n, path, "expected a list, got %s", kind_name(n));
  size_t c = (size_t)(n->data.sequence.items.top -
                      n->data.sequence.items.start);
  if (c > max) return fail(L, n, path, "at most %zu entries", max);
  *count = c;
  return 0;
}

static void free_parts(rein_sim_scenario *s) {
  const rein_allocator *a = s->alloc;
  if (s->variants)
    for (size_t i = 0; i < s->n_variants; i++) {
      rein__sim_free(a, s->variants[i].cohort_policy);
      rein__sim_free(a, s->variants[i].server_policy);
      rein__sim_free(a, s->variants[i].admission);
    }
  rein__sim_free(a, s->variants);
  rein__sim_free(a, s->policies);
  rein__sim_free(a, s->cohorts);
  rein__sim_free(a, s->servers);
  rein__sim_free(a, s->incidents);
  rein__sim_free(a, s->description);
}

#define ALLOC_ARRAY(ptr, n)                                                    \
  do {                                                                         \
    (ptr) = rein__sim_calloc(s->alloc, sizeof *(ptr) * ((n) ? (n) : 1));       \
    if (!(ptr)) {                                                              \
      L->st = REIN_ENOMEM;                                                     \
      return fail(L, NULL, "", "out of memory");                               \
    }                                                                          \
  } while (0)

static int load_top(ld *L, yaml_node_t *root) {
  rein_sim_scenario *s = L->s;
  char fp[256];
  yaml_node_t *v, *n = root;
  const char *path = "";
  if (check_map(L, root, "", TOP_KEYS)) return -1;
  snprintf(s->name, sizeof s->name, "scenario");
  s->seed = 1;
  s->interval_ns = REIN_NS_PER_S;
  s->recovery_hold_ns = 10 * REIN_NS_PER_S;
  s->recovery_tolerance = 0.05;
  if (FIELD("name") && p_string(L, v, fp, s->name, sizeof s->name)) return -1;
  if (FIELD("description")) {
    const char *d = sval(v);
    if (!d) return fail(L, v, fp, "expected text");
    size_t len = strlen(d);
    if (len > 4000) return fail(L, v, fp, "at most 4000 characters");
    s->description = rein__sim_alloc(s->alloc, len + 1);
    if (!s->description) {
      L->st = REIN_ENOMEM;
      return fail(L, v, fp, "out of memory");
    }
    memcpy(s->description, d, len + 1);
  }
  if (FIELD("seed") && p_u64(L, v, fp, &s->seed)) return -1;
  if (FIELD("max_memory")) {
    const char *t = sval(v);
    uint64_t b = 0;
    if (!t || rein_parse_size(t, &b) != REIN_OK || b < (1u << 20))
      return fail(L, v, fp,
                  "expected a size of at least 1MiB, e.g. 512MiB or 2GiB, "
                  "got %s",
                  t ? t : kind_name(v));
    s->max_memory = b;
  }
  subpath(fp, sizeof fp, path, "duration");
  if (require(L, n, path, "duration", &v) ||
      p_dur(L, v, fp, REIN_NS_PER_MS, MAX_DURATION_NS, &s->duration_ns))
    return -1;
  if (FIELD("interval") &&
      p_dur(L, v, fp, REIN_NS_PER_MS, MAX_DURATION_NS, &s->interval_ns))
    return -1;
  if (s->duration_ns / s->interval_ns > MAX_POINTS)
    return fail(L, v ? v : root, "interval",
                "duration / interval must be at most %d points", MAX_POINTS);
  if (FIELD("recovery")) {
    char rp[256];
    snprintf(rp, sizeof rp, "%s", fp);
    yaml_node_t *r = v;
    if (check_map(L, r, rp, RECOVERY_KEYS)) return -1;
    subpath(fp, sizeof fp, rp, "tolerance");
    if ((v = get(L, r, "tolerance")) &&
        p_double(L, v, fp, 0, 1, &s->recovery_tolerance))
      return -1;
    subpath(fp, sizeof fp, rp, "hold");
    if ((v = get(L, r, "hold")) &&
        p_dur(L, v, fp, 0, MAX_DURATION_NS, &s->recovery_hold_ns))
      return -1;
    subpath(fp, sizeof fp, rp, "baseline");
    if ((v = get(L, r, "baseline")) &&
        p_dur(L, v, fp, 0, MAX_DURATION_NS, &s->baseline_ns))
      return -1;
    subpath(fp, sizeof fp, rp, "against");
    if ((v = get(L, r, "against")) &&
        p_enum(L, v, fp, RECOVERY_AGAINST, &s->recovery_against))
      return -1;
  }

  /* policies: a mapping name -> policy */
  subpath(fp, sizeof fp, path, "policies");
  if (require(L, n, path, "policies", &v)) return -1;
  if (v->type != YAML_MAPPING_NODE)
    return fail(L, v, fp, "expected a mapping from policy name to policy");
  {
    yaml_node_t *pm = v;
    size_t np = (size_t)(pm->data.mapping.pairs.top -
                         pm->data.mapping.pairs.start);
    if (np == 0) return fail(L, pm, fp, "define at least one policy");
    if (np > MAX_POLICIES) return fail(L, pm, fp, "at most %d policies",
                                       MAX_POLICIES);
    ALLOC_ARRAY(s->policies, np);
    for (size_t i = 0; i < np; i++) {
      yaml_node_pair_t *p = pm->data.mapping.pairs.start + i;
      yaml_node_t *k = node(L, p->key), *pv = node(L, p->value);
      char pp[256];
      if (!k || !pv) return fail(L, pm, fp, "malformed entry");
      snprintf(pp, sizeof pp, "policies.%.60s", sval(k) ? sval(k) : "?");
      if (p_string(L, k, pp, s->policies[i].name, SIM_NAME_MAX)) return -1;
      for (size_t j = 0; j < i; j++)
        if (!strcmp(s->policies[j].name, s->policies[i].name))
          return fail(L, k, pp, "policy defined twice");
      s->n_policies = i + 1;
      if (p_policy(L, pv, pp, &s->policies[i])) return -1;
    }
  }

  /* servers */
  subpath(fp, sizeof fp, path, "servers");
  if (require(L, n, path, "servers", &v)) return -1;
  size_t ns;
  yaml_node_t *sn = v;
  if (seq_check(L, sn, fp, MAX_SERVERS, &ns)) return -1;
  if (ns == 0) return fail(L, sn, fp, "define at least one server");
  ALLOC_ARRAY(s->servers, ns);
  for (size_t i = 0; i < ns; i++) {
    char ip[64];
    snprintf(ip, sizeof ip, "servers[%zu]", i);
    yaml_node_t *e = node(L, sn->data.sequence.items.start[i]);
    if (!e || p_server_pass1(L, e, ip, &s->servers[i])) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(s->servers[j].name, s->servers[i].name))
        return fail(L, get(L, e, "name"), ip, "server name used twice");
    s->n_servers = i + 1;
  }
  for (size_t i = 0; i < ns; i++) {
    char ip[64];
    snprintf(ip, sizeof ip, "servers[%zu]", i);
    yaml_node_t *e = node(L, sn->data.sequence.items.start[i]);
    if (p_server_pass2(L, e, ip, &s->servers[i], (uint32_t)i)) return -1;
  }
  /* tier chains must end: walk each chain at most ns steps */
  for (size_t i = 0; i < ns; i++) {
    uint32_t cur = (uint32_t)i;
    size_t steps = 0;
    while (s->servers[cur].has_downstream) {
      cur = s->servers[cur].downstream;
      if (++steps > ns) {
        char ip[64];
        snprintf(ip, sizeof ip, "servers[%zu].downstream", i);
        return fail(L, node(L, sn->data.sequence.items.start[i]), ip,
                    "downstream servers form a cycle");
      }
    }
  }

  /* cohorts */
  subpath(fp, sizeof fp, path, "cohorts");
  if (require(L, n, path, "cohorts", &v)) return -1;
  size_t nc;
  yaml_node_t *cn = v;
  if (seq_check(L, cn, fp, MAX_COHORTS, &nc)) return -1;
  if (nc == 0) return fail(L, cn, fp, "define at least one cohort");
  ALLOC_ARRAY(s->cohorts, nc);
  uint64_t total = 0;
  for (size_t i = 0; i < nc; i++) {
    char ip[64];
    snprintf(ip, sizeof ip, "cohorts[%zu]", i);
    yaml_node_t *e = node(L, cn->data.sequence.items.start[i]);
    if (!e || p_cohort(L, e, ip, &s->cohorts[i])) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(s->cohorts[j].name, s->cohorts[i].name))
        return fail(L, get(L, e, "name"), ip, "cohort name used twice");
    for (size_t j = 0; j < ns; j++)
      if (!strcmp(s->servers[j].name, s->cohorts[i].name))
        return fail(L, get(L, e, "name"), ip,
                    "a server already has this name (variants refer to "
                    "both by name)");
    total += s->cohorts[i].count;
    if (total > MAX_CLIENTS_TOTAL)
      return fail(L, e, ip, "at most %u clients in all cohorts",
                  MAX_CLIENTS_TOTAL);
    s->n_cohorts = i + 1;
  }

  /* primary server */
  s->primary = s->cohorts[0].target;
  if (FIELD("primary") && find_server(L, v, fp, &s->primary)) return -1;

  /* incidents */
  if (FIELD("incidents")) {
    size_t ni;
    yaml_node_t *in = v;
    if (seq_check(L, in, fp, MAX_INCIDENTS, &ni)) return -1;
    ALLOC_ARRAY(s->incidents, ni);
    for (size_t i = 0; i < ni; i++) {
      char ip[64];
      snprintf(ip, sizeof ip, "incidents[%zu]", i);
      yaml_node_t *e = node(L, in->data.sequence.items.start[i]);
      if (!e || p_incident(L, e, ip, &s->incidents[i])) return -1;
      s->n_incidents = i + 1;
    }
  }

  /* variants */
  size_t nv = 1;
  yaml_node_t *vn = NULL;
  if (FIELD("variants")) {
    vn = v;
    if (seq_check(L, vn, fp, MAX_VARIANTS, &nv)) return -1;
    if (nv == 0) return fail(L, vn, fp, "list at least one variant");
  }
  ALLOC_ARRAY(s->variants, nv);
  for (size_t i = 0; i < nv; i++) {
    sim_variant_spec *va = &s->variants[i];
    s->n_variants = i + 1;
    ALLOC_ARRAY(va->cohort_policy, s->n_cohorts);
    ALLOC_ARRAY(va->server_policy, s->n_servers);
    ALLOC_ARRAY(va->admission, s->n_servers);
    if (!vn) {
      snprintf(va->name, sizeof va->name, "default");
      for (size_t j = 0; j < s->n_cohorts; j++)
        va->cohort_policy[j] = s->cohorts[j].policy;
      for (size_t j = 0; j < s->n_servers; j++) {
        va->server_policy[j] = s->servers[j].policy;
        va->admission[j] = (uint8_t)s->servers[j].has_admission;
      }
      continue;
    }
    char ip[64];
    snprintf(ip, sizeof ip, "variants[%zu]", i);
    yaml_node_t *e = node(L, vn->data.sequence.items.start[i]);
    if (!e || p_variant(L, e, ip, va)) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp(s->variants[j].name, va->name))
        return fail(L, get(L, e, "name"), ip, "variant name used twice");
  }
  return 0;
}

rein_status rein_sim_scenario_parse(const char *text, size_t len,
                                    const char *filename,
                                    const rein_allocator *alloc,
                                    rein_errbuf *err,
                                    rein_sim_scenario **out) {
  if (!out || (!text && len)) return REIN_EINVAL;
  *out = NULL;
  if (!filename) filename = "<scenario>";
  rein_sim_scenario *s = rein__sim_calloc(alloc, sizeof *s);
  if (!s) {
    if (err) snprintf(err->msg, sizeof err->msg, "%s: out of memory", filename);
    return REIN_ENOMEM;
  }
  s->alloc = alloc;
  ld L;
  memset(&L, 0, sizeof L);
  L.file = filename;
  L.err = err;
  L.s = s;
  /* libyaml's scanner is quadratic in the nesting depth: refuse deep text
   * before it sees it (a scenario is a few levels deep) */
  size_t dl, dc;
  if (rein_yaml_check_depth(text, len, REIN_YAML_MAX_DEPTH, &dl, &dc) !=
      REIN_OK) {
    if (err)
      snprintf(err->msg, sizeof err->msg,
               "%s:%zu:%zu: (yaml): nested deeper than %d levels", filename, dl,
               dc, REIN_YAML_MAX_DEPTH);
    rein__sim_free(alloc, s);
    return REIN_EPARSE;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    rein__sim_free(alloc, s);
    if (err) snprintf(err->msg, sizeof err->msg, "%s: out of memory", filename);
    return REIN_ENOMEM;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""),
                               len);
  if (!yaml_parser_load(&parser, &L.doc)) {
    if (err) {
      const char *prob = parser.problem ? parser.problem : "malformed YAML";
      if (parser.error == YAML_MEMORY_ERROR)
        snprintf(err->msg, sizeof err->msg, "%s: out of memory", filename);
      else
        snprintf(err->msg, sizeof err->msg, "%s:%zu:%zu: (yaml): %s%s%s",
                 filename, parser.problem_mark.line + 1,
                 parser.problem_mark.column + 1, prob,
                 parser.context ? " " : "",
                 parser.context ? parser.context : "");
    }
    rein_status st = parser.error == YAML_MEMORY_ERROR ? REIN_ENOMEM
                                                       : REIN_EPARSE;
    yaml_parser_delete(&parser);
    rein__sim_free(alloc, s);
    return st;
  }
  yaml_parser_delete(&parser);
  yaml_node_t *root = yaml_document_get_root_node(&L.doc);
  int rc;
  if (!root) {
    rc = fail(&L, NULL, "", "the scenario is empty (expected a mapping with "
                            "duration, policies, servers, cohorts)");
  } else {
    rc = load_top(&L, root);
  }
  yaml_document_delete(&L.doc);
  if (rc) {
    free_parts(s);
    rein__sim_free(alloc, s);
    return L.st == REIN_OK ? REIN_EINVAL : L.st;
  }
  *out = s;
  return REIN_OK;
}

rein_status rein_sim_scenario_load(const char *path,
                                   const rein_allocator *alloc,
                                   rein_errbuf *err, rein_sim_scenario **out) {
  if (!path || !out) return REIN_EINVAL;
  *out = NULL;
  char *buf = NULL;
  size_t len = 0;
  rein_errbuf eb;
  rein_status st =
      rein_file_read(path, (size_t)16 << 20, alloc, &eb, &buf, &len);
  if (st != REIN_OK) {
    if (err)
      snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", path, eb.msg);
    return st;
  }
  st = rein_sim_scenario_parse(buf, len, path, alloc, err, out);
  rein__sim_free(alloc, buf);
  return st;
}

void rein_sim_scenario_free(rein_sim_scenario *s) {
  if (!s) return;
  free_parts(s);
  rein__sim_free(s->alloc, s);
}

const char *rein_sim_scenario_name(const rein_sim_scenario *s) {
  return s ? s->name : "";
}
uint64_t rein_sim_scenario_seed(const rein_sim_scenario *s) {
  return s ? s->seed : 0;
}
int64_t rein_sim_scenario_duration(const rein_sim_scenario *s) {
  return s ? s->duration_ns : 0;
}
uint64_t rein_sim_scenario_clients(const rein_sim_scenario *s) {
  uint64_t n = 0;
  for (size_t i = 0; s && i < s->n_cohorts; i++) n += s->cohorts[i].count;
  return n;
}
uint64_t rein_sim_scenario_max_memory(const rein_sim_scenario *s) {
  return s ? s->max_memory : 0;
}
size_t rein_sim_variant_count(const rein_sim_scenario *s) {
  return s ? s->n_variants : 0;
}
const char *rein_sim_variant_name(const rein_sim_scenario *s, size_t i) {
  return s && i < s->n_variants ? s->variants[i].name : NULL;
}
rein_status rein_sim_variant_find(const rein_sim_scenario *s, const char *name,
                                  size_t *idx) {
  if (!s || !name) return REIN_EINVAL;
  for (size_t i = 0; i < s->n_variants; i++)
    if (!strcmp(s->variants[i].name, name)) {
      if (idx) *idx = i;
      return REIN_OK;
    }
  return REIN_ENOTFOUND;
}

rein_status rein_sim_scenario_policy_spec(const rein_sim_scenario *s,
                                          const char *name,
                                          rein_policy_spec *out) {
  if (!s || !name || !out) return REIN_EINVAL;
  for (size_t i = 0; i < s->n_policies; i++)
    if (strcmp(s->policies[i].name, name) == 0) {
      *out = s->policies[i].spec;
      out->policy.name = s->policies[i].name;
      return REIN_OK;
    }
  return REIN_ENOTFOUND;
}

size_t rein_sim_scenario_warning_count(const rein_sim_scenario *s) {
  return s ? s->n_warnings : 0;
}

const char *rein_sim_scenario_warning(const rein_sim_scenario *s, size_t i) {
  return s && i < s->n_warnings ? s->warnings[i] : NULL;
}
