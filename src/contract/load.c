/* SPDX-License-Identifier: Apache-2.0 */
/*
 * load.c: one contract file (YAML or JSON) into the model, with a precise
 * diagnostic for everything wrong in it.
 *
 * libyaml's document API builds the node tree, and every node keeps its start
 * mark, so each diagnostic points at the offending node itself. The walk is
 * schema-driven by hand: one function per object (service, operation, call,
 * retry, backoff, budget, breaker, throttle), each iterating its mapping and
 * dispatching on the key, so an unknown key gets a did-you-mean from exactly
 * the keys valid at that place. Walking only known structure bounds the
 * recursion by the schema's depth, whatever aliases the input holds. A file
 * with any problem reports all of them and contributes nothing to the set,
 * so rules never run on half a contract.
 */
#include "contract_internal.h"
#include "rein/input.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Bounds that keep hostile input cheap: at most this many diagnostics per
 * file (the rest are counted in one line), fields per object, operations
 * and calls per service. */
#define RC_MAX_FILE_ERRORS 100
#define RC_MAX_FIELDS 64
#define RC_MAX_OPS 10000
#define RC_MAX_CALLS 100000
#define RC_MAX_MERGES 1000 /* merged mappings (`<<`) walked per file */

typedef struct lctx {
  rein_contract_set *s;
  yaml_document_t *doc;
  const char *file;
  uint32_t seq;
  int errors;
  int merges, deep_reported;
} lctx;

static rc_loc loc_of(const lctx *L, const yaml_node_t *n) {
  rc_loc l = {L->file, (uint32_t)n->start_mark.line + 1,
              (uint32_t)n->start_mark.column + 1};
  return l;
}

static void diag(lctx *L, const yaml_node_t *n, const char *rule,
                 const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void diag(lctx *L, const yaml_node_t *n, const char *rule,
                 const char *fix, const char *fmt, ...) {
  char why[768];
  va_list ap;
  L->errors++;
  if (L->errors > RC_MAX_FILE_ERRORS) return; /* counted, summarised later */
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  rein__rc_diag(L->s, loc_of(L, n), L->seq, REIN_CONTRACT_ERROR, rule, why,
                fix);
}

static const char *sval(const yaml_node_t *n) {
  return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                     : NULL;
}

/* "a mapping", "a list", or the scalar quoted (shortened). */
static const char *describe(const yaml_node_t *n, char *buf, size_t len) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a list";
  if (n->type == YAML_SCALAR_NODE) {
    const char *v = sval(n);
    if (!*v) return "an empty value";
    snprintf(buf, len, "'%.40s%s'", v, strlen(v) > 40 ? "..." : "");
    return buf;
  }
  return "nothing";
}

static void wrong_type(lctx *L, const yaml_node_t *n, const char *path,
                       const char *expected, const char *example) {
  char b[64], fix[256];
  snprintf(fix, sizeof fix, "write %s as %s, e.g. `%s`", path, expected,
           example);
  diag(L, n, "E002", fix, "%s: expected %s, got %s", path, expected,
       describe(n, b, sizeof b));
}

static const char *want_scalar(lctx *L, const yaml_node_t *n, const char *path,
                               const char *expected, const char *example) {
  const char *v = sval(n);
  if (!v || !*v) {
    wrong_type(L, n, path, expected, example);
    return NULL;
  }
  return v;
}

static bool want_str(lctx *L, const yaml_node_t *n, const char *path,
                     const char *example, const char **out) {
  const char *v = want_scalar(L, n, path, "a string", example);
  if (!v) return false;
  *out = rein__rc_strdup(L->s, v);
  return *out != NULL;
}

static bool is_integer_text(const char *v) {
  if (*v == '-' || *v == '+') v++;
  if (!*v) return false;
  for (; *v; v++)
    if (!isdigit((unsigned char)*v)) return false;
  return true;
}

static bool want_uint(lctx *L, const yaml_node_t *n, const char *path,
                      unsigned long long lo, unsigned long long hi,
                      const char *example, uint32_t *out) {
  const char *v = want_scalar(L, n, path, "an integer", example);
  if (!v) return false;
  if (!is_integer_text(v)) {
    wrong_type(L, n, path, "an integer", example);
    return false;
  }
  errno = 0;
  long long x = strtoll(v, NULL, 10);
  if (errno || x < (long long)lo || (unsigned long long)x > hi) {
    char fix[256];
    snprintf(fix, sizeof fix, "use a value from %llu to %llu", lo, hi);
    diag(L, n, "E004", fix, "%s: must be in [%llu, %llu], got %s", path, lo, hi,
         v);
    return false;
  }
  *out = (uint32_t)x;
  return true;
}

static bool want_double(lctx *L, const yaml_node_t *n, const char *path,
                        double lo, bool lo_open, double hi, const char *example,
                        double *out) {
  const char *v = want_scalar(L, n, path, "a number", example);
  if (!v) return false;
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end == v || *end || errno || x != x || isinf(x)) {
    wrong_type(L, n, path, "a number", example);
    return false;
  }
  if (x < lo || (lo_open && x == lo) || x > hi) {
    char fix[256];
    snprintf(fix, sizeof fix, "use a value in %s%g, %g]", lo_open ? "(" : "[",
             lo, hi);
    diag(L, n, "E004", fix, "%s: must be in %s%g, %g], got %s", path,
         lo_open ? "(" : "[", lo, hi, v);
    return false;
  }
  *out = x;
  return true;
}

static bool want_duration(lctx *L, const yaml_node_t *n, const char *path,
                          int64_t lo, int64_t hi, const char *example,
                          int64_t *out) {
  const char *v = want_scalar(L, n, path, "a duration", example);
  if (!v) return false;
  int64_t ns;
  rein_status st = rein_contract_parse_duration(v, &ns);
  char fix[256], b1[32];
  if (st == REIN_EPARSE) {
    if (is_integer_text(v)) {
      snprintf(fix, sizeof fix, "write %ss (or %sms, %sh)", v, v, v);
      diag(L, n, "E004", fix, "%s: '%s' has no unit", path, v);
    } else {
      snprintf(fix, sizeof fix,
               "write a number and a unit (ms, s, m, h, d), e.g. `%s`",
               example);
      diag(L, n, "E004", fix, "%s: '%.40s' is not a duration", path, v);
    }
    return false;
  }
  if (st == REIN_ERANGE) {
    if (strchr(v, '-')) {
      snprintf(fix, sizeof fix, "use a positive duration, e.g. `%s`", example);
      diag(L, n, "E004", fix, "%s: '%.40s' is negative", path, v);
    } else {
      diag(L, n, "E004", "use a duration of at most 366d",
           "%s: '%.40s' is absurdly long (more than 366d)", path, v);
    }
    return false;
  }
  if (ns < lo || ns > hi) {
    char b2[32];
    snprintf(fix, sizeof fix, "use a duration from %s to %s",
             rein__rc_dur(lo, b1, sizeof b1), rein__rc_dur(hi, b2, sizeof b2));
    if (ns < lo && lo <= 1) {
      snprintf(fix, sizeof fix, "use a positive duration, e.g. `%s`", example);
      diag(L, n, "E004", fix, "%s: must be greater than 0, got %s", path, v);
    } else if (ns < lo)
      diag(L, n, "E004", fix, "%s: must be at least %s, got %s", path, b1, v);
    else
      diag(L, n, "E004", fix, "%s: must be at most %s, got %s", path, b2, v);
    return false;
  }
  *out = ns;
  return true;
}

static bool want_rate(lctx *L, const yaml_node_t *n, const char *path,
                      double *out) {
  const char *v = want_scalar(L, n, path, "a rate", "500/s");
  if (!v) return false;
  double r;
  rein_status st = rein_contract_parse_rate(v, &r);
  if (st == REIN_EPARSE) {
    diag(L, n, "E004", "write a count per unit: 500/s, 30000/min, 100/h",
         "%s: '%.40s' is not a rate", path, v);
    return false;
  }
  if (st == REIN_ERANGE || r <= 0) {
    diag(L, n, "E004", "use a positive rate of at most 1e9/s, e.g. 500/s",
         "%s: '%.40s' must be a positive rate up to 1e9/s", path, v);
    return false;
  }
  *out = r;
  return true;
}

static bool want_enum(lctx *L, const yaml_node_t *n, const char *path,
                      const char *const *names, size_t count, int *out) {
  const char *v = sval(n);
  if (v)
    for (size_t i = 0; i < count; i++)
      if (strcmp(v, names[i]) == 0) {
        *out = (int)i;
        return true;
      }
  char expected[256] = "";
  for (size_t i = 0; i < count; i++) {
    if (i) strcat(expected, i + 1 == count ? " or " : ", ");
    strcat(expected, names[i]);
  }
  if (!v || !*v) {
    char b[64], fix[320];
    snprintf(fix, sizeof fix, "write one of: %s", expected);
    diag(L, n, "E002", fix, "%s: expected one of %s, got %s", path, expected,
         describe(n, b, sizeof b));
    return false;
  }
  const char *best = rein_suggest(v, names, count);
  char fix[320];
  if (best)
    snprintf(fix, sizeof fix, "write %s: %s",
             strrchr(path, '.') ? strrchr(path, '.') + 1 : path, best);
  else
    snprintf(fix, sizeof fix, "write one of: %s", expected);
  diag(L, n, "E004", fix, "%s: '%.40s' is not one of %s%s%s%s", path, v,
       expected, best ? " (did you mean '" : "", best ? best : "",
       best ? "'?)" : "");
  return false;
}

/* ------------------------------------------------------- mapping walking */

typedef struct kv {
  const char *key;
  yaml_node_t *knode, *v;
} kv;

/* Visit each pair of mapping `m`; non-string keys and duplicates are
 * reported and skipped. Returns false when `m` is not a mapping. */
typedef void (*pair_fn)(lctx *L, void *obj, const char *path, const kv *p);

/* One field of the policy model (rein/model.h): checked with the table's
 * bounds, example and names (so a contract, a scenario and `rein policy`
 * agree on them), reported with the loader's messages, stored by
 * rein_model_set into the call's spec. */
static bool want_model(lctx *L, const yaml_node_t *n, const char *path,
                       const rein_model_field *f, rein_policy_spec *sp) {
  bool ok = false;
  switch (f->type) {
  case REIN_MODEL_DURATION: {
    int64_t ns;
    ok = want_duration(L, n, path, (int64_t)f->min + (f->min_open ? 1 : 0),
                       (int64_t)f->max, f->example, &ns);
    break;
  }
  case REIN_MODEL_COUNT: {
    uint32_t v;
    ok = want_uint(L, n, path, (unsigned long long)f->min,
                   (unsigned long long)f->max, f->example, &v);
    break;
  }
  case REIN_MODEL_NUMBER: {
    double v;
    ok = want_double(L, n, path, f->min, f->min_open, f->max, f->example, &v);
    break;
  }
  case REIN_MODEL_ENUM: {
    size_t cnt = 0;
    int i;
    while (f->names[cnt])
      cnt++;
    ok = want_enum(L, n, path, f->names, cnt, &i);
    break;
  }
  default:
    return false;
  }
  if (!ok) return false;
  rein_errbuf eb = {{0}};
  if (rein_model_set(sp, f, sval(n), &eb) != REIN_OK) {
    diag(L, n, "E004", "see docs/contracts.md for the field", "%s: %s", path,
         eb.msg);
    return false;
  }
  return true;
}

static bool want_map(lctx *L, yaml_node_t *m, const char *path,
                     const char *example) {
  if (m->type != YAML_MAPPING_NODE) {
    wrong_type(L, m, path, "a mapping", example);
    return false;
  }
  return true;
}

static const char *pfx(const char *path, char *buf, size_t len);

/* Does mapping `m` have the key `key` (not counting merge keys)? */
static void subpath(char *out, size_t len, const char *path, const char *key);

static bool map_has(lctx *L, yaml_node_t *m, const char *key) {
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
    const char *s = k ? sval(k) : NULL;
    if (s && strcmp(s, key) == 0) return true;
  }
  return false;
}

/*
 * Visit the pairs of `m`. YAML merge keys (`<<: *defaults`, or a list of
 * them) are honoured as YAML 1.1 specifies: merged pairs come first and a
 * key written in `m` itself (or in any mapping merged into it on the way
 * down, `outer`) replaces the merged one wholesale. Merges nest at most 4
 * deep.
 */
static void walk_map_in(lctx *L, yaml_node_t *m, const char *path, void *obj,
                        pair_fn fn, yaml_node_t *const *outer, int depth) {
  yaml_node_pair_t *start = m->data.mapping.pairs.start;
  yaml_node_pair_t *top = m->data.mapping.pairs.top;
  char pb[192];
  if (top - start > RC_MAX_FIELDS) {
    diag(L, m, "E004", "remove the fields that do not belong here",
         "%s%ld fields in one object (no object has more than %d)",
         pfx(path, pb, sizeof pb), (long)(top - start), RC_MAX_FIELDS);
    return;
  }
  /* chain: the mappings whose own keys override this one's (NULL-ended);
   * for merged list items, the items before them too (earlier wins) */
  yaml_node_t *chain[24];
  int nchain = 0; /* the outer mappings: override this one's own keys */
  for (; outer && outer[nchain] && nchain < 16; nchain++)
    chain[nchain] = outer[nchain];
  int nov = nchain; /* chain[0..nov) override what is merged into m */
  chain[nov++] = m;
  chain[nov] = NULL;
  /* merged mappings first */
  for (yaml_node_pair_t *p = start; p < top; p++) {
    yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
    const char *key = k ? sval(k) : NULL;
    if (!key || !v || strcmp(key, "<<") != 0) continue;
    if (depth >= 4) {
      if (!L->deep_reported++) /* once per file: aliases repeat it */
        diag(L, k, "E004", "flatten the merges",
             "%smerge keys nested more than 4 deep", pfx(path, pb, sizeof pb));
      continue;
    }
    yaml_node_t *one[1] = {v};
    yaml_node_t **list = one;
    size_t n = 1;
    if (v->type == YAML_SEQUENCE_NODE) {
      n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
      list = NULL;
    }
    for (size_t i = 0; i < n; i++) {
      yaml_node_t *src =
          list
              ? list[i]
              : yaml_document_get_node(L->doc, v->data.sequence.items.start[i]);
      if (!src || src->type != YAML_MAPPING_NODE) {
        char mp[200];
        subpath(mp, sizeof mp, path, "<<");
        wrong_type(L, src ? src : v, mp, "a mapping (or a list of them)",
                   "*defaults");
        continue;
      }
      if (++L->merges > RC_MAX_MERGES) {
        if (L->merges == RC_MAX_MERGES + 1)
          diag(L, src, "E004", "merge fewer mappings",
               "more than %d merged mappings in one file", RC_MAX_MERGES);
        continue;
      }
      walk_map_in(L, src, path, obj, fn, chain, depth + 1);
      /* items merged earlier take precedence over later ones */
      if (nov + 1 < (int)(sizeof chain / sizeof *chain)) {
        chain[nov++] = src;
        chain[nov] = NULL;
      }
    }
    chain[nov = nchain + 1] = NULL; /* the next `<<` starts afresh */
  }
  for (yaml_node_pair_t *p = start; p < top; p++) {
    kv e;
    e.knode = yaml_document_get_node(L->doc, p->key);
    e.v = yaml_document_get_node(L->doc, p->value);
    if (!e.knode || !e.v) continue;
    e.key = sval(e.knode);
    if (!e.key) {
      diag(L, e.knode, "E002", "use a plain name as the key",
           "%skeys must be strings", pfx(path, pb, sizeof pb));
      continue;
    }
    if (strcmp(e.key, "<<") == 0) continue;
    if (strncmp(e.key, "x-", 2) == 0) continue; /* extensions: anchors, notes */
    /* overridden by a mapping this one was merged into */
    bool overridden = false;
    for (int c = 0; c < nchain && !overridden; c++)
      overridden = map_has(L, chain[c], e.key);
    if (overridden) continue;
    bool dup = false;
    for (yaml_node_pair_t *q = start; q < p && !dup; q++) {
      yaml_node_t *k2 = yaml_document_get_node(L->doc, q->key);
      const char *s2 = k2 ? sval(k2) : NULL;
      if (s2 && strcmp(s2, e.key) == 0) {
        char fix[256];
        snprintf(fix, sizeof fix,
                 "remove one of the two '%s' fields (first "
                 "at line %zu)",
                 e.key, k2->start_mark.line + 1);
        diag(L, e.knode, "E006", fix, "%sduplicate field '%s'",
             pfx(path, pb, sizeof pb), e.key);
        dup = true;
      }
    }
    if (!dup) fn(L, obj, path, &e);
  }
}

static void walk_map(lctx *L, yaml_node_t *m, const char *path, void *obj,
                     pair_fn fn) {
  walk_map_in(L, m, path, obj, fn, NULL, 0);
}

static void unknown(lctx *L, const char *path, const kv *p,
                    const char *const *known, size_t n) {
  const char *best = rein_suggest(p->key, known, n);
  char fix[512], pb[192];
  if (best) {
    snprintf(fix, sizeof fix, "rename it to '%s'", best);
    diag(L, p->knode, "E003", fix,
         "%sunknown field '%.40s' (did you mean '%s'?)",
         pfx(path, pb, sizeof pb), p->key, best);
  } else {
    size_t o = (size_t)snprintf(fix, sizeof fix, "remove it; fields here: ");
    for (size_t i = 0; i < n && o < sizeof fix; i++)
      o += (size_t)snprintf(fix + o, sizeof fix - o, "%s%s", i ? ", " : "",
                            known[i]);
    diag(L, p->knode, "E003", fix, "%sunknown field '%.40s'",
         pfx(path, pb, sizeof pb), p->key);
  }
}

#define KNOWN(arr) arr, sizeof(arr) / sizeof(arr[0])
#define IS(k) (strcmp(p->key, (k)) == 0)

/* "path: " or "" at the top level. */
static const char *pfx(const char *path, char *buf, size_t len) {
  if (!*path) return "";
  snprintf(buf, len, "%s: ", path);
  return buf;
}

static void subpath(char *out, size_t len, const char *path, const char *key) {
  if (*path)
    snprintf(out, len, "%s.%s", path, key);
  else
    snprintf(out, len, "%s", key);
}

/* ------------------------------------------------------- outcome tokens */

/* Names a contract may write besides numbers, with their tokens; what each
 * means is rein/classify.h's. */
static const char *const token_names[] = {"timeout",
                                          "connect-refused",
                                          "connection-reset",
                                          "dns",
                                          "overloaded",
                                          "failure",
                                          "not-sent",
                                          "connect-failure",
                                          "reset",
                                          "refused-stream",
                                          "1xx",
                                          "2xx",
                                          "3xx",
                                          "4xx",
                                          "5xx",
                                          "CANCELLED",
                                          "UNKNOWN",
                                          "INVALID_ARGUMENT",
                                          "DEADLINE_EXCEEDED",
                                          "NOT_FOUND",
                                          "ALREADY_EXISTS",
                                          "PERMISSION_DENIED",
                                          "RESOURCE_EXHAUSTED",
                                          "FAILED_PRECONDITION",
                                          "ABORTED",
                                          "OUT_OF_RANGE",
                                          "UNIMPLEMENTED",
                                          "INTERNAL",
                                          "UNAVAILABLE",
                                          "DATA_LOSS",
                                          "UNAUTHENTICATED"};
static const uint16_t token_values[] = {RC_TOK_TIMEOUT,
                                        RC_TOK_CONNECT_REFUSED,
                                        RC_TOK_CONNECTION_RESET,
                                        RC_TOK_DNS,
                                        RC_TOK_OVERLOADED,
                                        RC_TOK_FAILURE,
                                        RC_TOK_NOT_SENT,
                                        RC_TOK_CONNECT_FAILURE,
                                        RC_TOK_RESET,
                                        RC_TOK_REFUSED_STREAM,
                                        RC_TOK_CLASS_1XX,
                                        RC_TOK_CLASS_2XX,
                                        RC_TOK_CLASS_3XX,
                                        RC_TOK_CLASS_4XX,
                                        RC_TOK_CLASS_5XX,
                                        RC_TOK_GRPC + 1,
                                        RC_TOK_GRPC + 2,
                                        RC_TOK_GRPC + 3,
                                        RC_TOK_GRPC + 4,
                                        RC_TOK_GRPC + 5,
                                        RC_TOK_GRPC + 6,
                                        RC_TOK_GRPC + 7,
                                        RC_TOK_GRPC + 8,
                                        RC_TOK_GRPC + 9,
                                        RC_TOK_GRPC + 10,
                                        RC_TOK_GRPC + 11,
                                        RC_TOK_GRPC + 12,
                                        RC_TOK_GRPC + 13,
                                        RC_TOK_GRPC + 14,
                                        RC_TOK_GRPC + 15,
                                        RC_TOK_GRPC + 16};
_Static_assert(sizeof token_names / sizeof *token_names ==
                   sizeof token_values / sizeof *token_values,
               "token_names and token_values differ in length");

static bool want_tokens(lctx *L, yaml_node_t *n, const char *path,
                        uint16_t *toks, rc_loc *locs, uint32_t *count) {
  if (n->type != YAML_SEQUENCE_NODE) {
    wrong_type(L, n, path, "a list of outcomes", "[503, 429, timeout]");
    return false;
  }
  *count = 0;
  bool ok = true;
  uint32_t i = 0;
  for (yaml_node_item_t *it = n->data.sequence.items.start;
       it < n->data.sequence.items.top; it++, i++) {
    yaml_node_t *e = yaml_document_get_node(L->doc, *it);
    if (!e) continue;
    char ip[192];
    snprintf(ip, sizeof ip, "%s[%u]", path, i);
    const char *v = sval(e);
    if (!v || !*v) {
      wrong_type(L, e, ip, "an HTTP status or an outcome name", "503");
      ok = false;
      continue;
    }
    uint16_t tok = 0;
    /* a range of HTTP statuses, as rein/classify.h reads it: its statuses */
    unsigned ra, rb;
    char rtail;
    if (sscanf(v, "%3u-%3u%c", &ra, &rb, &rtail) == 2 && ra >= 100 &&
        rb <= 599 && ra <= rb) {
      if (*count + (rb - ra + 1) > RC_MAX_TOKENS) {
        diag(L, e, "E004", "merge codes into classes such as 5xx",
             "%s: more than %d outcomes", path, RC_MAX_TOKENS);
        return false;
      }
      for (unsigned x = ra; x <= rb; x++) {
        if (locs) locs[*count] = loc_of(L, e);
        toks[(*count)++] = (uint16_t)x;
      }
      continue;
    }
    if (is_integer_text(v)) {
      long x = strtol(v, NULL, 10);
      if (x >= 100 && x <= 599) tok = (uint16_t)x;
      if (x >= 1 && x <= 16) tok = (uint16_t)(RC_TOK_GRPC + x); /* gRPC */
    } else {
      for (size_t k = 0; k < sizeof token_values / sizeof *token_values; k++)
        if (strcmp(v, token_names[k]) == 0) tok = token_values[k];
    }
    if (!tok) {
      const char *best = rein_suggest(v, KNOWN(token_names));
      char fix[320];
      if (best)
        snprintf(fix, sizeof fix, "write %s", best);
      else
        snprintf(fix, sizeof fix,
                 "use an HTTP status 100..599, a class 1xx..5xx, a gRPC "
                 "status (UNAVAILABLE, or its code 1..16), or one of "
                 "timeout, connect-failure, reset, refused-stream, "
                 "overloaded, failure, not-sent");
      diag(L, e, "E004", fix, "%s: '%.40s' is not an outcome%s%s%s", ip, v,
           best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
      ok = false;
      continue;
    }
    if (*count >= RC_MAX_TOKENS) {
      diag(L, e, "E004", "merge codes into classes such as 5xx",
           "%s: more than %d outcomes", path, RC_MAX_TOKENS);
      return false;
    }
    if (locs) locs[*count] = loc_of(L, e);
    toks[(*count)++] = tok;
  }
  return ok;
}

/* -------------------------------------------------------------- brokers */

#define DAY366 (INT64_C(366) * 86400 * REIN_NS_PER_S)

static bool want_bool(lctx *L, const yaml_node_t *n, const char *path,
                      bool *out);

/* `broker:` on a call (the producer side: what the broker deduplicates of
 * what this call re-publishes) or on an operation (the consumer side:
 * whether it deduplicates redeliveries itself). One block, two field sets:
 * a field of the other side is refused with where it belongs. */
static const char *const broker_kinds[] = {"jetstream", "kafka", "rabbitmq",
                                           "redis-streams"};
static const char *const broker_call_fields[] = {
    "kind", "duplicate_window", "idempotent_producer", "description"};
static const char *const broker_op_fields[] = {"kind", "inbox", "description"};

typedef struct bctx {
  rc_broker *b;
  bool consumer;
  yaml_node_t *kind, *dw, *ip; /* where kind, duplicate_window and
                                  idempotent_producer are written */
} bctx;

static void broker_pair(lctx *L, void *obj, const char *path, const kv *p) {
  bctx *x = obj;
  rc_broker *b = x->b;
  char fp[192], pb[192];
  subpath(fp, sizeof fp, path, p->key);
  if (IS("kind")) {
    int i;
    x->kind = p->v;
    if (want_enum(L, p->v, fp, KNOWN(broker_kinds), &i)) {
      b->kind = (rc_broker_kind)(i + 1);
      b->kind_loc = loc_of(L, p->v);
    }
  } else if (!x->consumer && IS("duplicate_window")) {
    x->dw = p->knode;
    if (want_duration(L, p->v, fp, 1, DAY366, "2m", &b->duplicate_window)) {
      b->has_duplicate_window = true;
      b->duplicate_window_loc = loc_of(L, p->v);
    }
  } else if (!x->consumer && IS("idempotent_producer")) {
    x->ip = p->knode;
    if (want_bool(L, p->v, fp, &b->idempotent_producer)) {
      b->has_idempotent_producer = true;
      b->idempotent_producer_loc = loc_of(L, p->v);
    }
  } else if (x->consumer && IS("inbox")) {
    if (want_bool(L, p->v, fp, &b->inbox)) {
      b->has_inbox = true;
      b->inbox_loc = loc_of(L, p->v);
    }
  } else if (IS("description")) {
    const char *d;
    want_str(L, p->v, fp, "the orders stream", &d);
  } else if (!x->consumer && IS("inbox")) {
    diag(L, p->knode, "E003",
         "move it to the consuming operation's broker block "
         "(operations.NAME.broker.inbox)",
         "%sinbox is the consumer's (an operation's broker block), not a "
         "publishing call's",
         pfx(path, pb, sizeof pb));
  } else if (x->consumer &&
             (IS("duplicate_window") || IS("idempotent_producer"))) {
    char fix[192];
    snprintf(fix, sizeof fix,
             "move it to the publishing call's broker block "
             "(calls[N].broker.%s)",
             p->key);
    diag(L, p->knode, "E003", fix,
         "%s%s is the producer's (a call's broker block), not a consuming "
         "operation's",
         pfx(path, pb, sizeof pb), p->key);
  } else if (x->consumer) {
    unknown(L, path, p, KNOWN(broker_op_fields));
  } else {
    unknown(L, path, p, KNOWN(broker_call_fields));
  }
}

static void load_broker(lctx *L, rc_broker *b, yaml_node_t *n, const char *path,
                        bool consumer) {
  if (!want_map(L, n, path,
                consumer ? "{kind: jetstream, inbox: true}"
                         : "{kind: jetstream, duplicate_window: 2m}"))
    return;
  bctx x = {b, consumer, NULL, NULL, NULL};
  b->loc = loc_of(L, n);
  walk_map(L, n, path, &x, broker_pair);
  if (!x.kind) {
    diag(L, n, "E005",
         "add kind: jetstream (or kafka, rabbitmq, redis-streams)",
         "%s: missing field 'kind'", path);
    return;
  }
  if (!b->kind) return;
  const char *kind = broker_kinds[b->kind - 1];
  if (x.dw && b->kind != RC_BROKER_JETSTREAM) {
    char fix[192];
    snprintf(fix, sizeof fix, "remove it (%s has no duplicate window%s)", kind,
             b->kind == RC_BROKER_KAFKA ? "; see idempotent_producer" : "");
    diag(L, x.dw, "E004", fix,
         "%s.duplicate_window: only for kind: jetstream, this broker is %s",
         path, kind);
  }
  if (x.ip && b->kind != RC_BROKER_KAFKA) {
    diag(L, x.ip, "E004", "remove it (only a Kafka producer has one)",
         "%s.idempotent_producer: only for kind: kafka, this broker is %s",
         path, kind);
  }
  if (b->kind == RC_BROKER_JETSTREAM && !b->has_duplicate_window)
    b->duplicate_window = RC_JETSTREAM_DUP_WINDOW_NS; /* nats-server's */
}

/* ----------------------------------------------------------- operations */

static const char *const op_fields[] = {
    "idempotency",     "key_ttl", "key_header",  "retryable",
    "max_retry_ratio", "timeout", "description", "broker"};

static void op_pair(lctx *L, void *obj, const char *path, const kv *p) {
  rc_op *o = obj;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  if (IS("idempotency")) {
    static const char *const names[] = {"natural", "key", "none"};
    int i;
    if (want_enum(L, p->v, fp, KNOWN(names), &i)) {
      o->idem = (rc_idem)(i + 1);
      o->idem_loc = loc_of(L, p->v);
    }
  } else if (IS("key_ttl")) {
    o->key_ttl_loc = loc_of(L, p->v); /* even when invalid: no E005 */
    want_duration(L, p->v, fp, REIN_NS_PER_S, DAY366, "24h", &o->key_ttl);
  } else if (IS("key_header")) {
    want_str(L, p->v, fp, "Idempotency-Key", &o->key_header);
  } else if (IS("retryable")) {
    if (want_tokens(L, p->v, fp, o->retryable, NULL, &o->nretryable)) {
      o->has_retryable = true;
      o->retryable_loc = loc_of(L, p->v);
    }
  } else if (IS("max_retry_ratio")) {
    if (want_double(L, p->v, fp, 0, false, 100, "0.1", &o->max_retry_ratio)) {
      o->has_max_retry_ratio = true;
      o->max_retry_ratio_loc = loc_of(L, p->v);
    }
  } else if (IS("timeout")) {
    if (want_duration(L, p->v, fp, 1, DAY366, "2s", &o->timeout))
      o->timeout_loc = loc_of(L, p->v);
  } else if (IS("description")) {
    const char *d;
    want_str(L, p->v, fp, "what it does", &d);
  } else if (IS("broker")) {
    load_broker(L, &o->broker, p->v, fp, true);
  } else {
    unknown(L, path, p, KNOWN(op_fields));
  }
}

static bool valid_name(const char *v) {
  if (!*v || strlen(v) > 128) return false;
  for (; *v; v++)
    if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_') return false;
  return true;
}

static void load_ops(lctx *L, rc_svc *svc, yaml_node_t *m) {
  if (!want_map(L, m, "operations", "{charge: {idempotency: key}}")) return;
  size_t n = (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
  if (n > RC_MAX_OPS) {
    diag(L, m, "E004", "split the service, or check fewer operations",
         "operations: %zu operations (at most %d per service)", n, RC_MAX_OPS);
    return;
  }
  svc->ops = rein__rc_alloc(L->s, (n ? n : 1) * sizeof *svc->ops);
  /* duplicate names: an open-addressing set of indexes (+1), so a service
   * with thousands of operations stays linear */
  size_t hcap = 16;
  while (hcap < 2 * n)
    hcap *= 2;
  uint32_t *seen = rein__rc_alloc(L->s, hcap * sizeof *seen);
  if (!svc->ops || !seen) return;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
    yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
    if (!k || !v) continue;
    const char *name = sval(k);
    if (!name || !valid_name(name)) {
      char b[64];
      diag(L, k, "E004", "name operations with letters, digits, - and _",
           "operations: %s is not a valid operation name",
           describe(k, b, sizeof b));
      continue;
    }
    bool dup = false;
    uint64_t h = 1469598103934665603ull;
    for (const char *q = name; *q; q++)
      h = (h ^ (unsigned char)*q) * 1099511628211ull;
    size_t slot = h & (hcap - 1);
    for (; seen[slot]; slot = (slot + 1) & (hcap - 1))
      if (strcmp(svc->ops[seen[slot] - 1].name, name) == 0) {
        dup = true;
        break;
      }
    if (dup) {
      diag(L, k, "E006", "remove or rename one of them",
           "operations: duplicate operation '%s'", name);
      continue;
    }
    rc_op *o = &svc->ops[svc->nops++];
    seen[slot] = (uint32_t)svc->nops;
    o->name = rein__rc_strdup(L->s, name);
    if (!o->name) return;
    o->loc = loc_of(L, k);
    char path[192];
    snprintf(path, sizeof path, "operations.%s", name);
    if (v->type == YAML_SCALAR_NODE && !*sval(v)) {
      continue; /* `charge:` with nothing: all defaults */
    }
    if (!want_map(L, v, path, "{idempotency: key, key_ttl: 24h}")) continue;
    walk_map(L, v, path, o, op_pair);
    if (o->idem == RC_IDEM_KEY && !o->key_ttl_loc.line) {
      diag(L, v, "E005", "add key_ttl: 24h (how long keys are remembered)",
           "%s: idempotency: key needs key_ttl", path);
    }
    if (o->key_ttl && o->idem != RC_IDEM_KEY) {
      diag(L, k, "E004", "set idempotency: key, or remove key_ttl",
           "%s: key_ttl is set but idempotency is not 'key'", path);
    }
    if (!o->key_header) o->key_header = "Idempotency-Key";
  }
}

/* ---------------------------------------------------------------- retry */

/* The field names of each policy block come from the model. */
#define MODEL_KNOWN(b) rein_model_names(b), model_count(b)

static size_t model_count(rein_model_block b) {
  size_t n = 0;
  for (const char *const *k = rein_model_names(b); *k; k++)
    n++;
  return n;
}

typedef struct callctx {
  rc_call *c;
  bool base_set, cap_set, mult_set;
  yaml_node_t *cap_node;
} callctx;

static void backoff_pair(lctx *L, void *obj, const char *path, const kv *p) {
  callctx *x = obj;
  rc_call *c = x->c;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  const rein_model_field *f = rein_model_find(REIN_MODEL_BACKOFF, p->key, NULL);
  if (!f) {
    unknown(L, path, p, MODEL_KNOWN(REIN_MODEL_BACKOFF));
    return;
  }
  bool ok = want_model(L, p->v, fp, f, &c->spec);
  if (!ok) return;
  if (IS("kind")) c->kind_loc = loc_of(L, p->v);
  else if (IS("jitter")) c->jitter_loc = loc_of(L, p->v);
  else if (IS("base")) x->base_set = true;
  else if (IS("cap")) {
    x->cap_set = true;
    x->cap_node = p->v;
  } else if (IS("multiplier")) x->mult_set = true;
}

typedef struct budgetctx {
  rc_call *c;
  yaml_node_t *kind_fields[11]; /* node of each field given, by index */
} budgetctx;

static void budget_pair(lctx *L, void *obj, const char *path, const kv *p) {
  budgetctx *x = obj;
  rc_call *c = x->c;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  const char *const *names = rein_model_names(REIN_MODEL_BUDGET);
  for (size_t k = 0; k < 11 && names[k]; k++)
    if (IS(names[k])) x->kind_fields[k] = p->knode;
  const rein_model_field *f = rein_model_find(REIN_MODEL_BUDGET, p->key, NULL);
  if (!f) {
    unknown(L, path, p, MODEL_KNOWN(REIN_MODEL_BUDGET));
    return;
  }
  bool ok = want_model(L, p->v, fp, f, &c->spec);
  if (ok && (IS("ratio") || IS("token_ratio"))) c->ratio_loc = loc_of(L, p->v);
}

typedef struct breakerctx {
  rc_call *c;
  yaml_node_t *window, *window_calls, *scope, *window_kind, *gates;
} breakerctx;

static void breaker_pair(lctx *L, void *obj, const char *path, const kv *p) {
  breakerctx *x = obj;
  rc_call *c = x->c;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  const rein_model_field *f =
      rein_model_find(REIN_MODEL_BREAKER, p->key, NULL);
  if (!f) {
    unknown(L, path, p, MODEL_KNOWN(REIN_MODEL_BREAKER));
    return;
  }
  if (IS("window")) x->window = p->knode;
  else if (IS("window_calls")) x->window_calls = p->knode;
  else if (IS("scope")) x->scope = p->knode;
  else if (IS("window_kind")) x->window_kind = p->v;
  else if (IS("gates")) x->gates = p->v;
  want_model(L, p->v, fp, f, &c->spec);
}

static void throttle_pair(lctx *L, void *obj, const char *path, const kv *p) {
  rc_call *c = obj;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  const rein_model_field *f =
      rein_model_find(REIN_MODEL_THROTTLE, p->key, NULL);
  if (!f) {
    unknown(L, path, p, MODEL_KNOWN(REIN_MODEL_THROTTLE));
    return;
  }
  want_model(L, p->v, fp, f, &c->spec);
}

static void hedge_pair(lctx *L, void *obj, const char *path, const kv *p) {
  rc_call *c = obj;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  const rein_model_field *f = rein_model_find(REIN_MODEL_HEDGE, p->key, NULL);
  if (!f) {
    unknown(L, path, p, MODEL_KNOWN(REIN_MODEL_HEDGE));
    return;
  }
  want_model(L, p->v, fp, f, &c->spec);
}

static const char *const retry_fields[] = {
    "attempts", "backoff",  "window",  "expected_attempt", "when",
    "budget",   "breaker",  "throttle", "signals", "hedge"};

static void retry_pair(lctx *L, void *obj, const char *path, const kv *p) {
  rc_call *c = obj;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  if (IS("attempts")) {
    if (want_model(L, p->v, fp,
                   rein_model_find(REIN_MODEL_RETRY, "attempts", NULL),
                   &c->spec)) {
      c->attempts = c->spec.policy.max_attempts;
      c->attempts_loc = loc_of(L, p->v);
    }
  } else if (IS("backoff")) {
    if (!want_map(L, p->v, fp,
                  "{kind: exponential, base: 100ms, cap: 10s, "
                  "jitter: full}"))
      return;
    callctx x = {c, false, false, false, NULL};
    c->has_backoff = true;
    c->backoff_loc = loc_of(L, p->v);
    int before = L->errors;
    walk_map(L, p->v, fp, &x, backoff_pair);
    if (L->errors == before && c->spec.policy.backoff.cap_ns < c->spec.policy.backoff.base_ns) {
      char fix[128], b1[32];
      snprintf(fix, sizeof fix, "set cap to at least the base (%s)",
               rein__rc_dur(c->spec.policy.backoff.base_ns, b1, sizeof b1));
      diag(L, x.cap_node ? x.cap_node : p->v, "E004", fix,
           "%s.cap: must not be below base", fp);
    }
  } else if (IS("window")) {
    if (want_model(L, p->v, fp,
                   rein_model_find(REIN_MODEL_RETRY, "window", NULL),
                   &c->spec)) {
      c->window = c->spec.policy.window_ns;
      c->has_window = true;
      c->window_loc = loc_of(L, p->v);
    }
  } else if (IS("when")) {
    if (want_tokens(L, p->v, fp, c->on, c->on_locs, &c->non)) {
      c->has_on = true;
      c->on_loc = loc_of(L, p->v);
    }
  } else if (IS("budget")) {
    if (!want_map(L, p->v, fp, "{kind: ratio, ratio: 0.1, scope: fleet}"))
      return;
    budgetctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    c->has_budget = true;
    c->budget_loc = loc_of(L, p->v);
    walk_map(L, p->v, fp, &x, budget_pair);
    /* fields of another kind (the model says which kinds each applies to) */
    static const char *const kinds[] = {"ratio", "token_bucket", "quota"};
    const char *const *bn = rein_model_names(REIN_MODEL_BUDGET);
    if (c->spec.budget_scope == REIN_SCOPE_FLEET &&
        c->spec.budget.kind != REIN_BUDGET_RATIO)
      diag(L, x.kind_fields[1] ? x.kind_fields[1] : p->v, "E004",
           "use kind: ratio for a fleet budget, or scope: instance",
           "%s: a fleet budget must be kind ratio (rein/fleet.h shares a "
           "ratio budget through Redis)",
           fp);
    for (int k = 2; k < 11 && bn[k]; k++) {
      const rein_model_field *bf =
          rein_model_find(REIN_MODEL_BUDGET, bn[k], NULL);
      if (!x.kind_fields[k] || !bf->kinds ||
          (bf->kinds & (1u << c->spec.budget.kind)))
        continue;
      int owner = 0;
      while (owner < 2 && !(bf->kinds & (1u << owner)))
        owner++;
      char fix[192];
      snprintf(fix, sizeof fix, "remove %s, or set kind: %s", bn[k],
               kinds[owner]);
      diag(L, x.kind_fields[k], "E004", fix,
           "%s.%s: applies to kind %s, but this budget is kind %s", fp, bn[k],
           kinds[owner], kinds[c->spec.budget.kind]);
    }
  } else if (IS("breaker")) {
    if (!want_map(L, p->v, fp, "{failure_rate: 0.5, open: 5s}")) return;
    breakerctx x = {c, NULL, NULL, NULL, NULL, NULL};
    c->has_breaker = true;
    c->breaker_loc = loc_of(L, p->v);
    int before = L->errors;
    walk_map(L, p->v, fp, &x, breaker_pair);
    /* window_kind names the kind that window / window_calls select; given
     * with the other one, or cumulative with either, it contradicts them */
    const char *wk = x.window_kind ? sval(x.window_kind) : NULL;
    yaml_node_t *clash = NULL;
    if (wk && L->errors == before) {
      if (x.window && strcmp(wk, "time")) clash = x.window;
      else if (x.window_calls && strcmp(wk, "calls")) clash = x.window_calls;
    }
    if (clash)
      diag(L, x.window_kind, "E004",
           !strcmp(wk, "cumulative")
               ? "remove `window`/`window_calls` (a cumulative window counts "
                 "every outcome), or the window_kind"
               : "remove window_kind (`window` selects time, `window_calls` "
                 "selects calls)",
           "%s: window_kind %s contradicts %s", fp, wk,
           clash == x.window ? "window" : "window_calls");
    else if (c->spec.breaker_scope == REIN_SCOPE_FLEET && x.window_kind &&
             c->spec.breaker.window != REIN_BREAKER_WINDOW_TIME)
      diag(L, x.window_kind, "E004",
           "use a time window (`window: 10s`) for a fleet breaker",
           "%s: a fleet breaker counts outcomes in time buckets; window_kind "
           "%s is per instance only",
           fp, wk ? wk : "?");
    else if (c->spec.breaker_scope == REIN_SCOPE_FLEET &&
             c->spec.breaker.gates == REIN_BREAKER_GATES_RETRIES)
      diag(L, x.gates, "E004",
           "use `scope: instance` for a retry-only breaker",
           "%s: gates: retries is per instance (a fleet breaker shares one "
           "open state through Redis and gates every call)",
           fp);
    else if (x.window && x.window_calls)
      diag(L, x.window_calls, "E004",
           "keep `window` (time based) or `window_calls` (count based)",
           "%s: window and window_calls are exclusive", fp);
    else if (x.window_calls && c->spec.breaker_scope == REIN_SCOPE_FLEET)
      diag(L, x.window_calls, "E004",
           "use a time window (`window: 10s`) for a fleet breaker",
           "%s: a fleet breaker counts outcomes in time buckets; "
           "window_calls is per instance only",
           fp);
  } else if (IS("throttle")) {
    if (!want_map(L, p->v, fp, "{k: 2, window: 2m}")) return;
    c->has_throttle = true;
    c->throttle_loc = loc_of(L, p->v);
    walk_map(L, p->v, fp, c, throttle_pair);
    if (c->spec.throttle_scope == REIN_SCOPE_FLEET)
      diag(L, p->v, "E004", "remove `scope: fleet` from the throttle",
           "%s: a fleet throttle is not supported (rein/fleet.h shares "
           "budgets and breakers; each instance throttles on what it sees)",
           fp);
  } else if (IS("hedge")) {
    if (!want_map(L, p->v, fp, "{attempts: 2, delay: 50ms}")) return;
    c->has_hedge = true;
    c->hedge_loc = loc_of(L, p->v);
    walk_map(L, p->v, fp, c, hedge_pair);
  } else if (IS("expected_attempt")) {
    want_model(L, p->v, fp,
               rein_model_find(REIN_MODEL_RETRY, "expected_attempt", NULL),
               &c->spec);
  } else if (IS("signals")) {
    if (p->v->type != YAML_SEQUENCE_NODE) {
      wrong_type(L, p->v, fp, "a list of signals",
                 "[retry-after, pushback, ratelimit, dont-retry]");
      return;
    }
    static const char *const names[] = {"retry-after", "pushback", "ratelimit",
                                        "dont-retry"};
    uint32_t i = 0;
    for (yaml_node_item_t *it = p->v->data.sequence.items.start;
         it < p->v->data.sequence.items.top; it++, i++) {
      yaml_node_t *e = yaml_document_get_node(L->doc, *it);
      char ip[200];
      snprintf(ip, sizeof ip, "%s[%u]", fp, i);
      int k;
      if (e && want_enum(L, e, ip, KNOWN(names), &k)) c->signals |= 1u << k;
    }
  } else {
    unknown(L, path, p, KNOWN(retry_fields));
  }
}

/* ----------------------------------------------------------------- calls */

static const char *const call_fields[] = {
    "to",  "instances",   "rate",        "timeout", "deadline", "retry",
    "key", "pin_version", "description", "origin",  "broker"};

static void call_pair(lctx *L, void *obj, const char *path, const kv *p) {
  rc_call *c = obj;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  if (IS("to")) {
    const char *v =
        want_scalar(L, p->v, fp, "service.operation", "ledger.charge");
    if (!v) return;
    const char *dot = strchr(v, '.');
    if (!dot || dot == v || !dot[1] || strchr(dot + 1, '.')) {
      diag(L, p->v, "E004",
           "write the callee as service.operation, e.g. "
           "`to: ledger.charge`",
           "%s: '%.60s' is not service.operation", fp, v);
      return;
    }
    c->to = rein__rc_strdup(L->s, v);
    c->to_svc = rein__rc_strndup(L->s, v, (size_t)(dot - v));
    c->to_op = rein__rc_strdup(L->s, dot + 1);
    c->to_loc = loc_of(L, p->v);
  } else if (IS("instances")) {
    if (want_uint(L, p->v, fp, 1, 1000000, "4", &c->instances))
      c->instances_loc = loc_of(L, p->v);
  } else if (IS("rate")) {
    if (want_rate(L, p->v, fp, &c->rate)) c->rate_loc = loc_of(L, p->v);
  } else if (IS("timeout") || IS("deadline")) {
    const rein_model_field *f = rein_model_find(REIN_MODEL_CALL, p->key, NULL);
    if (want_model(L, p->v, fp, f, &c->spec)) {
      if (IS("timeout")) {
        c->timeout = c->spec.policy.attempt_timeout_ns;
        c->timeout_loc = loc_of(L, p->v);
      } else {
        c->deadline = c->spec.deadline_ns;
        c->deadline_loc = loc_of(L, p->v);
      }
    }
  } else if (IS("retry")) {
    if (!want_map(L, p->v, fp, "{attempts: 3, backoff: {kind: exponential}}"))
      return;
    c->has_retry = true;
    c->retry_loc = loc_of(L, p->v);
    c->attempts = 3;
    c->attempts_loc = c->retry_loc;
    walk_map(L, p->v, fp, c, retry_pair);
  } else if (IS("key")) {
    static const char *const names[] = {"none", "originate", "pass-through",
                                        "derive"};
    int i;
    if (want_enum(L, p->v, fp, KNOWN(names), &i)) {
      c->key = (rein_contract_key)i;
      c->key_loc = loc_of(L, p->v);
    }
  } else if (IS("pin_version")) {
    if (want_str(L, p->v, fp, "2024-06-01", &c->pin))
      c->pin_loc = loc_of(L, p->v);
  } else if (IS("description")) {
    const char *d;
    want_str(L, p->v, fp, "what it is for", &d);
  } else if (IS("origin")) {
    /* where an imported call came from (rein import: "file:line:col
     * name"); kept, never interpreted */
    if (want_str(L, p->v, fp, "service_config.json:4:7 pkg.Svc/Method",
                 &c->origin))
      c->origin_loc = loc_of(L, p->v);
  } else if (IS("broker")) {
    load_broker(L, &c->broker, p->v, fp, false);
  } else {
    unknown(L, path, p, KNOWN(call_fields));
  }
}

static void load_calls(lctx *L, rc_svc *svc, yaml_node_t *n) {
  if (n->type != YAML_SEQUENCE_NODE) {
    wrong_type(L, n, "calls", "a list of calls",
               "[{to: ledger.charge, rate: 50/s}]");
    return;
  }
  size_t cnt =
      (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (cnt > RC_MAX_CALLS) {
    diag(L, n, "E004", "split the service's calls across services",
         "calls: %zu calls (at most %d per service)", cnt, RC_MAX_CALLS);
    return;
  }
  svc->calls = rein__rc_alloc(L->s, (cnt ? cnt : 1) * sizeof *svc->calls);
  if (!svc->calls) return;
  for (yaml_node_item_t *it = n->data.sequence.items.start;
       it < n->data.sequence.items.top; it++) {
    yaml_node_t *e = yaml_document_get_node(L->doc, *it);
    if (!e) continue;
    uint32_t idx = (uint32_t)(it - n->data.sequence.items.start);
    rc_call *c = &svc->calls[svc->ncalls];
    c->from = svc;
    c->index = idx;
    c->loc = loc_of(L, e);
    rein_policy_spec_default(&c->spec);
    c->attempts = 1;
    c->attempts_loc = c->loc;
    char path[64];
    snprintf(path, sizeof path, "calls[%u]", idx);
    if (!want_map(L, e, path, "{to: ledger.charge, rate: 50/s}")) continue;
    int before = L->errors;
    walk_map(L, e, path, c, call_pair);
    if (!c->to && L->errors == before) {
      diag(L, e, "E005", "add `to: service.operation`",
           "%s: missing field 'to'", path);
    }
    for (size_t k = 0; c->to && k < svc->ncalls && svc->ncalls < 4096; k++)
      if (svc->calls[k].to && strcmp(svc->calls[k].to, c->to) == 0) {
        char fix[160];
        snprintf(fix, sizeof fix,
                 "merge the two into one call (the runtime looks a policy "
                 "up by caller and callee; first at line %u)",
                 svc->calls[k].to_loc.line);
        diag(L, e, "E006", fix, "%s: a second call to %s", path, c->to);
        break;
      }
    if (c->to && svc->name)
      c->fleet_name = rein__rc_printf(L->s, "%s/%s", svc->name, c->to);
    if (!c->retry_loc.line) c->retry_loc = c->loc;
    if (!c->timeout_loc.line) c->timeout_loc = c->loc;
    if (c->has_retry && L->errors == before) {
      /* what the runtime would refuse is refused here, by the same code:
       * the cross-field bounds (cap >= base, token_ratio <= max_tokens,
       * quota costs <= capacity) as rein_policy_spec_build checks them */
      rein_policy_spec sp;
      rein__rc_call_spec(c, &sp);
      rein_errbuf eb = {{0}};
      rein_policy_build pb;
      rein_policy_build_default(&pb);
      pb.err = &eb;
      rein_policy_objects o;
      sp.policy.name = "contract";
      rein_status bst = rein_policy_spec_build(&sp, &pb, &o);
      rein_policy_objects_free(&o);
      if (bst == REIN_EINVAL) {
        yaml_node_t *rn = e;
        diag(L, rn, "E004", "see docs/contracts.md for the field's bounds",
             "%s.retry: the runtime refuses this policy: %s", path, eb.msg);
      }
    }
    svc->ncalls++;
  }
}

/* -------------------------------------------------------------- service */

/* --------------------------------------------------- server.admission */

/* The block's fields, in rein_contract_adm_field order (the names the nginx
 * module's rein_zone takes, where it has one). */
static const char *const adm_fields[] = {
    "limit",           "adaptive",        "limit_min",
    "limit_max",       "aimd_latency",    "aimd_backoff",
    "queue",           "retry_queue",     "target",
    "interval",        "max_wait",        "lifo",
    "retry_after_min", "retry_after_max", "retry_after_spread",
    "rate_window",     "rate_limit",      "dont_retry",
    "zone",            "shed_status",     "rate_limit_status",
    "ratelimit_headers", "dont_retry_header", "attempt_header",
    "upstream",        "paths",           "listen"};

/* rein_admit's name for each field (its messages start "admit.NAME:"). */
static const char *const adm_admit_names[] = {
    "limit",       "adaptive",    "limit_min",   "limit_max",
    "aimd_latency_ns", "aimd_backoff", "queue_max", "retry_queue_max",
    "target_ns",   "interval_ns", "max_wait_ns", "lifo_when_overloaded",
    "retry_after_min_ns", "retry_after_max_ns", "retry_after_spread",
    "rate_window_ns", "rl_", "dont_retry", "name", NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL};

static const char *const adm_rl_fields[] = {"quota", "window", "policy"};

typedef struct admctx {
  rein_contract_admission *a;
  yaml_node_t *nodes[REIN_CONTRACT_ADM_COUNT_];
  yaml_node_t *rl_nodes[3];
  yaml_node_t *paths;
  const char *zone;
} admctx;

static bool want_bool(lctx *L, const yaml_node_t *n, const char *path,
                      bool *out) {
  static const char *const names[] = {"false", "true"};
  int i;
  if (!want_enum(L, n, path, KNOWN(names), &i)) return false;
  *out = i == 1;
  return true;
}

/* An HTTP field name (RFC 9110 token), at most 64 characters. */
static bool header_name_ok(const char *v) {
  size_t n = strlen(v);
  if (!n || n > 64) return false;
  for (; *v; v++)
    if (!isalnum((unsigned char)*v) && !strchr("!#$%&'*+-.^_`|~", *v))
      return false;
  return true;
}

/* A path or URL part nginx reads as one word: printable, no blanks, no
 * quote, brace or ';'. */
static bool nginx_word_ok(const char *v) {
  if (!*v || strlen(v) > 512) return false;
  for (; *v; v++)
    if ((unsigned char)*v <= ' ' || (unsigned char)*v >= 0x7f ||
        strchr("\"'{};#$\\", *v))
      return false;
  return true;
}

static void adm_rl_pair(lctx *L, void *obj, const char *path, const kv *p) {
  admctx *x = obj;
  rein_admit_config *c = &x->a->admit;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  if (IS("quota")) {
    x->rl_nodes[0] = p->v;
    want_uint(L, p->v, fp, 0, UINT32_MAX, "100", &c->rl_quota);
  } else if (IS("window")) {
    x->rl_nodes[1] = p->v;
    want_duration(L, p->v, fp, 0, DAY366, "1s", &c->rl_window_ns);
  } else if (IS("policy")) {
    x->rl_nodes[2] = p->v;
    want_str(L, p->v, fp, "public", &c->rl_policy);
  } else {
    unknown(L, path, p, KNOWN(adm_rl_fields));
  }
}

static void adm_pair(lctx *L, void *obj, const char *path, const kv *p) {
  admctx *x = obj;
  rein_contract_admission *a = x->a;
  rein_admit_config *c = &a->admit;
  char fp[192];
  subpath(fp, sizeof fp, path, p->key);
  size_t f = 0;
  while (f < REIN_CONTRACT_ADM_COUNT_ && strcmp(adm_fields[f], p->key) != 0)
    f++;
  if (f == REIN_CONTRACT_ADM_COUNT_) {
    unknown(L, path, p, KNOWN(adm_fields));
    return;
  }
  x->nodes[f] = p->v;
  a->locs[f] = loc_of(L, p->v);
  const uint64_t U32 = UINT32_MAX;
  switch ((rein_contract_adm_field)f) {
  case REIN_CONTRACT_ADM_LIMIT:
    want_uint(L, p->v, fp, 0, U32, "64", &c->limit);
    break;
  case REIN_CONTRACT_ADM_ADAPTIVE:
    want_bool(L, p->v, fp, &c->adaptive);
    break;
  case REIN_CONTRACT_ADM_LIMIT_MIN:
    want_uint(L, p->v, fp, 0, U32, "1", &c->limit_min);
    break;
  case REIN_CONTRACT_ADM_LIMIT_MAX:
    want_uint(L, p->v, fp, 0, U32, "1024", &c->limit_max);
    break;
  case REIN_CONTRACT_ADM_AIMD_LATENCY:
    want_duration(L, p->v, fp, 0, DAY366, "1s", &c->aimd_latency_ns);
    break;
  case REIN_CONTRACT_ADM_AIMD_BACKOFF:
    want_double(L, p->v, fp, -1e9, false, 1e9, "0.9", &c->aimd_backoff);
    break;
  case REIN_CONTRACT_ADM_QUEUE:
    want_uint(L, p->v, fp, 0, U32, "128", &c->queue_max);
    break;
  case REIN_CONTRACT_ADM_RETRY_QUEUE:
    want_uint(L, p->v, fp, 0, U32, "32", &c->retry_queue_max);
    break;
  case REIN_CONTRACT_ADM_TARGET:
    want_duration(L, p->v, fp, 0, DAY366, "5ms", &c->target_ns);
    break;
  case REIN_CONTRACT_ADM_INTERVAL:
    want_duration(L, p->v, fp, 0, DAY366, "100ms", &c->interval_ns);
    break;
  case REIN_CONTRACT_ADM_MAX_WAIT:
    want_duration(L, p->v, fp, 0, DAY366, "100ms", &c->max_wait_ns);
    break;
  case REIN_CONTRACT_ADM_LIFO:
    want_bool(L, p->v, fp, &c->lifo_when_overloaded);
    break;
  case REIN_CONTRACT_ADM_RETRY_AFTER_MIN:
    want_duration(L, p->v, fp, 0, DAY366, "1s", &c->retry_after_min_ns);
    break;
  case REIN_CONTRACT_ADM_RETRY_AFTER_MAX:
    want_duration(L, p->v, fp, 0, DAY366, "60s", &c->retry_after_max_ns);
    break;
  case REIN_CONTRACT_ADM_RETRY_AFTER_SPREAD:
    want_double(L, p->v, fp, -1e9, false, 1e9, "0.5", &c->retry_after_spread);
    break;
  case REIN_CONTRACT_ADM_RATE_WINDOW:
    want_duration(L, p->v, fp, 0, DAY366, "1s", &c->rate_window_ns);
    break;
  case REIN_CONTRACT_ADM_RATE_LIMIT:
    if (want_map(L, p->v, fp, "{quota: 100, window: 1s, policy: public}")) {
      c->rl_window_ns = REIN_NS_PER_S;
      walk_map(L, p->v, fp, x, adm_rl_pair);
      if (!x->rl_nodes[0])
        diag(L, p->v, "E005", "add quota: N (requests per window)",
             "%s: missing field 'quota'", fp);
    }
    break;
  case REIN_CONTRACT_ADM_DONT_RETRY: {
    static const char *const names[] = {"never", "retries", "overloaded"};
    int i;
    if (want_enum(L, p->v, fp, KNOWN(names), &i))
      c->dont_retry = (rein_admit_dont_retry)i;
    break;
  }
  case REIN_CONTRACT_ADM_ZONE:
    want_str(L, p->v, fp, "api", &x->zone);
    break;
  case REIN_CONTRACT_ADM_SHED_STATUS:
    want_uint(L, p->v, fp, 400, 599, "503", &a->shed_status);
    break;
  case REIN_CONTRACT_ADM_RATE_LIMIT_STATUS:
    want_uint(L, p->v, fp, 400, 599, "429", &a->rate_limit_status);
    break;
  case REIN_CONTRACT_ADM_RATELIMIT_HEADERS:
    want_bool(L, p->v, fp, &a->ratelimit_headers);
    break;
  case REIN_CONTRACT_ADM_DONT_RETRY_HEADER:
    want_bool(L, p->v, fp, &a->dont_retry_header);
    break;
  case REIN_CONTRACT_ADM_ATTEMPT_HEADER:
    if (want_str(L, p->v, fp, "Rein-Attempt", &a->attempt_header) &&
        !header_name_ok(a->attempt_header))
      diag(L, p->v, "E004",
           "write an HTTP header name: letters, digits and !#$%&'*+-.^_`|~",
           "%s: '%.60s' is not an HTTP header name", fp, a->attempt_header);
    break;
  case REIN_CONTRACT_ADM_UPSTREAM:
    if (want_str(L, p->v, fp, "http://127.0.0.1:8080", &a->upstream) &&
        ((strncmp(a->upstream, "http://", 7) != 0 &&
          strncmp(a->upstream, "https://", 8) != 0) ||
         !nginx_word_ok(a->upstream)))
      diag(L, p->v, "E004",
           "write the URL the proxy passes to, e.g. http://127.0.0.1:8080",
           "%s: '%.60s' is not an http:// or https:// URL", fp, a->upstream);
    break;
  case REIN_CONTRACT_ADM_PATHS:
    if (want_map(L, p->v, fp, "{charge: /v1/charges}")) x->paths = p->v;
    break;
  case REIN_CONTRACT_ADM_LISTEN:
    if (want_str(L, p->v, fp, "127.0.0.1:8080", &a->listen) &&
        !nginx_word_ok(a->listen))
      diag(L, p->v, "E004",
           "write an address and port, or a port, e.g. 127.0.0.1:8080",
           "%s: '%.60s' is not an address nginx can listen on", fp,
           a->listen);
    break;
  default:
    break;
  }
}

/* rein_admit's validation of the block: a refusal is reported at the field
 * its message names ("admit.interval_ns: ..."), or at the block. */
static void adm_validate(lctx *L, admctx *x, yaml_node_t *block) {
  rein_errbuf eb = {{0}};
  rein_admit_config c = x->a->admit;
  c.err = &eb;
  rein_admit *probe = NULL;
  rein_status st = rein_admit_new(&c, &probe);
  rein_admit_free(probe);
  if (st == REIN_ENOMEM) {
    L->s->oom = true;
    return;
  }
  if (st == REIN_OK) return;
  yaml_node_t *at = block;
  const char *field = "server.admission";
  char fb[96];
  if (strncmp(eb.msg, "admit.", 6) == 0) {
    const char *name = eb.msg + 6;
    size_t nl = strcspn(name, ":");
    for (size_t f = 0; f < REIN_CONTRACT_ADM_COUNT_; f++) {
      const char *an = adm_admit_names[f];
      if (!an) continue;
      bool hit = strcmp(an, "rl_") == 0 ? strncmp(name, "rl_", 3) == 0
                                        : strlen(an) == nl &&
                                              strncmp(name, an, nl) == 0;
      if (!hit) continue;
      if (f == REIN_CONTRACT_ADM_RATE_LIMIT) {
        int k = strncmp(name, "rl_quota", 8) == 0    ? 0
                : strncmp(name, "rl_window", 9) == 0 ? 1
                                                     : 2;
        snprintf(fb, sizeof fb, "server.admission.rate_limit.%s",
                 adm_rl_fields[k]);
        if (x->rl_nodes[k])
          at = x->rl_nodes[k];
        else if (x->nodes[f])
          at = x->nodes[f];
      } else {
        snprintf(fb, sizeof fb, "server.admission.%s", adm_fields[f]);
        if (x->nodes[f]) at = x->nodes[f];
      }
      field = fb;
      break;
    }
  }
  diag(L, at, "E004",
       "use a value rein_admit accepts (docs/admission.md lists the bounds)",
       "%s: rein_admit refuses the zone: %s", field, eb.msg);
}

static void load_admission(lctx *L, rc_svc *svc, yaml_node_t *n) {
  const char *path = "server.admission";
  if (!want_map(L, n, path, "{limit: 4, queue: 64}")) return;
  rein_contract_admission *a = rein__rc_alloc(L->s, sizeof *a);
  if (!a) return;
  memset(a, 0, sizeof *a);
  rein_admit_config_default(&a->admit);
  a->admit.dont_retry = REIN_ADMIT_DONT_RETRY_OVERLOADED; /* a proxy's */
  a->shed_status = 503;
  a->rate_limit_status = 429;
  a->ratelimit_headers = a->dont_retry_header = true;
  a->attempt_header = "Rein-Attempt";
  a->loc = loc_of(L, n);
  admctx x;
  memset(&x, 0, sizeof x);
  x.a = a;
  bool rq_set, lmin_set, lmax_set;
  int before = L->errors;
  walk_map(L, n, path, &x, adm_pair);
  rq_set = x.nodes[REIN_CONTRACT_ADM_RETRY_QUEUE] != NULL;
  lmin_set = x.nodes[REIN_CONTRACT_ADM_LIMIT_MIN] != NULL;
  lmax_set = x.nodes[REIN_CONTRACT_ADM_LIMIT_MAX] != NULL;
  /* As the module: a retry queue above a smaller queue follows it; an
   * adaptive limit's bounds follow the limit when not given. */
  if (!rq_set && a->admit.retry_queue_max > a->admit.queue_max)
    a->admit.retry_queue_max = a->admit.queue_max;
  if (a->admit.adaptive) {
    if (!lmin_set && a->admit.limit_min > a->admit.limit)
      a->admit.limit_min = a->admit.limit;
    if (!lmax_set && a->admit.limit_max < a->admit.limit)
      a->admit.limit_max = a->admit.limit;
  }
  a->admit.name = x.zone ? x.zone : svc->name;
  a->service = svc->name;
  a->version = svc->version;
  /* paths: operation -> location */
  if (x.paths) {
    size_t np = (size_t)(x.paths->data.mapping.pairs.top -
                         x.paths->data.mapping.pairs.start);
    rein_contract_route *r =
        rein__rc_alloc(L->s, (np ? np : 1) * sizeof *r);
    if (!r) return;
    const char **ops = rein__rc_alloc(L->s, (svc->nops + 1) * sizeof *ops);
    if (!ops) return;
    for (size_t i = 0; i < svc->nops; i++)
      ops[i] = svc->ops[i].name;
    size_t nr = 0;
    for (yaml_node_pair_t *p = x.paths->data.mapping.pairs.start;
         p < x.paths->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
      yaml_node_t *v = yaml_document_get_node(L->doc, p->value);
      const char *op = k ? sval(k) : NULL;
      if (!k || !v) continue;
      if (!op) {
        diag(L, k, "E002", "use an operation name as the key",
             "server.admission.paths: keys must be operation names");
        continue;
      }
      if (strncmp(op, "x-", 2) == 0) continue;
      bool found = false;
      for (size_t i = 0; i < svc->nops && !found; i++)
        found = strcmp(ops[i], op) == 0;
      char fp[192];
      snprintf(fp, sizeof fp, "server.admission.paths.%.60s", op);
      if (!found) {
        const char *best = rein_suggest(op, ops, svc->nops);
        char fix[192];
        if (best)
          snprintf(fix, sizeof fix, "rename it to '%s'", best);
        else
          snprintf(fix, sizeof fix,
                   "add the operation under `operations:`, or remove it");
        diag(L, k, "E004", fix, "%s: no operation '%.60s' in this contract%s%s%s",
             fp, op, best ? " (did you mean '" : "", best ? best : "",
             best ? "'?)" : "");
        continue;
      }
      const char *pv = want_scalar(L, v, fp, "a path", "/v1/charges");
      if (!pv) continue;
      if (pv[0] != '/' || !nginx_word_ok(pv)) {
        diag(L, v, "E004", "write a URL path starting with '/', e.g. /v1/charges",
             "%s: '%.60s' is not a URL path (a '/' first, no blanks, quotes, "
             "braces, ';' or '$')",
             fp, pv);
        continue;
      }
      for (size_t j = 0; j < nr; j++)
        if (strcmp(r[j].path, pv) == 0) {
          diag(L, v, "E006", "give each operation its own path",
               "%s: path '%.60s' is also operation '%s''s", fp, pv,
               r[j].operation);
          pv = NULL;
          break;
        }
      if (!pv) continue;
      r[nr].operation = rein__rc_strdup(L->s, op);
      r[nr].path = rein__rc_strdup(L->s, pv);
      r[nr].loc = loc_of(L, v);
      nr++;
    }
    a->routes = r;
    a->nroutes = nr;
  }
  if (L->errors == before) adm_validate(L, &x, n);
  svc->adm = a;
}

static void server_pair(lctx *L, void *obj, const char *path, const kv *p) {
  yaml_node_t **adm = obj;
  static const char *const fields[] = {"admission"};
  if (IS("admission"))
    *adm = p->v;
  else
    unknown(L, path, p, KNOWN(fields));
}

static const char *const top_fields[] = {
    "service",     "version",    "instances", "capacity", "owner",
    "description", "operations", "calls",     "server"};

typedef struct topctx {
  rc_svc *svc;
  yaml_node_t *ops, *calls, *server;
  bool saw_service, saw_version;
} topctx;

static void top_pair(lctx *L, void *obj, const char *path, const kv *p) {
  topctx *t = obj;
  rc_svc *v = t->svc;
  if (IS("service")) {
    t->saw_service = true;
    const char *name = want_scalar(L, p->v, "service", "a name", "payments");
    if (!name) return;
    if (!valid_name(name)) {
      diag(L, p->v, "E004",
           "use letters, digits, - and _ only (no dots: calls name "
           "service.operation)",
           "service: '%.60s' is not a valid service name", name);
      return;
    }
    v->name = rein__rc_strdup(L->s, name);
    v->loc = loc_of(L, p->v);
  } else if (IS("version")) {
    t->saw_version = true;
    const char *ver =
        want_scalar(L, p->v, "version", "a date or semver", "2024-06-01");
    if (!ver) return;
    const char *q = ver[0] == 'v' ? ver + 1 : ver;
    bool ok = isdigit((unsigned char)*q) && strlen(ver) <= 64;
    for (const char *r = q; ok && *r; r++)
      ok = isalnum((unsigned char)*r) || *r == '.' || *r == '-' || *r == '+';
    if (!ok) {
      diag(L, p->v, "E004", "write a date (2024-06-01) or a semver (1.4.0)",
           "version: '%.60s' is neither a date nor a semver", ver);
      return;
    }
    v->version = rein__rc_strdup(L->s, ver);
    v->version_loc = loc_of(L, p->v);
  } else if (IS("instances")) {
    if (want_uint(L, p->v, "instances", 1, 1000000, "4", &v->instances))
      v->instances_loc = loc_of(L, p->v);
  } else if (IS("capacity")) {
    if (want_rate(L, p->v, "capacity", &v->capacity))
      v->capacity_loc = loc_of(L, p->v);
  } else if (IS("owner") || IS("description")) {
    const char *d;
    want_str(L, p->v, p->key, "text", &d);
  } else if (IS("operations")) {
    t->ops = p->v;
  } else if (IS("calls")) {
    t->calls = p->v;
  } else if (IS("server")) {
    t->server = p->v;
  } else {
    unknown(L, path, p, KNOWN(top_fields));
  }
}

/* An imported call (rein_contract_add_imported) is reported where its
 * config says it: every place of the call becomes its origin's
 * "FILE:LINE:COL" (the first ":LINE:COL " of the text; FILE may hold
 * colons). False when the origin names no place. */
static bool origin_loc(lctx *L, const char *o, rc_loc *out) {
  for (const char *p = strchr(o, ':'); p; p = strchr(p + 1, ':')) {
    char *e1, *e2;
    unsigned long ln = strtoul(p + 1, &e1, 10);
    if (e1 == p + 1 || *e1 != ':') continue;
    unsigned long col = strtoul(e1 + 1, &e2, 10);
    if (e2 == e1 + 1 || (*e2 && *e2 != ' ') || ln > UINT32_MAX ||
        col > UINT32_MAX)
      continue;
    out->file = rein__rc_strndup(L->s, o, (size_t)(p - o));
    out->line = (uint32_t)ln;
    out->col = (uint32_t)col;
    return out->file != NULL;
  }
  return false;
}

static void at_origin(lctx *L, rc_svc *v) {
  bool first = true;
  for (size_t i = 0; i < v->ncalls; i++) {
    rc_call *c = &v->calls[i];
    rc_loc o;
    if (!c->origin || !origin_loc(L, c->origin, &o)) continue;
    rc_loc *all[] = {&c->loc,         &c->to_loc,      &c->instances_loc,
                     &c->rate_loc,    &c->timeout_loc, &c->deadline_loc,
                     &c->retry_loc,   &c->attempts_loc, &c->backoff_loc,
                     &c->jitter_loc,  &c->kind_loc,    &c->window_loc,
                     &c->on_loc,      &c->budget_loc,  &c->ratio_loc,
                     &c->breaker_loc, &c->throttle_loc, &c->key_loc,
                     &c->pin_loc,     &c->origin_loc};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
      *all[k] = o;
    for (size_t k = 0; k < RC_MAX_TOKENS; k++)
      c->on_locs[k] = o;
    if (first) { /* the service is where its first call is */
      v->loc = v->version_loc = v->instances_loc = v->capacity_loc = o;
      first = false;
    }
  }
}

static rc_svc *load_root(lctx *L, yaml_node_t *root) {
  if (root->type != YAML_MAPPING_NODE) {
    char b[64];
    diag(L, root, "E002",
         "start the file with `service: NAME` and `version: DATE` fields",
         "a contract must be a mapping (service, version, operations, "
         "calls), got %s",
         describe(root, b, sizeof b));
    return NULL;
  }
  rc_svc *v = rein__rc_alloc(L->s, sizeof *v);
  if (!v) return NULL;
  v->file_seq = L->seq;
  v->loc = loc_of(L, root);
  v->instances = 1;
  topctx t = {v, NULL, NULL, NULL, false, false};
  walk_map(L, root, "", &t, top_pair);
  if (!t.saw_service)
    diag(L, root, "E005", "add `service: NAME` at the top of the file",
         "missing field 'service'");
  if (!t.saw_version)
    diag(L, root, "E005",
         "add `version: 2024-06-01` (a date or semver) at the top",
         "missing field 'version'");
  if (t.ops) load_ops(L, v, t.ops);
  if (t.calls) load_calls(L, v, t.calls);
  if (t.server && want_map(L, t.server, "server", "{admission: {limit: 4}}")) {
    yaml_node_t *adm = NULL;
    walk_map(L, t.server, "server", &adm, server_pair);
    if (adm) load_admission(L, v, adm);
  }
  if (L->errors || L->s->oom) return NULL;
  if (L->s->loading_imported) {
    v->imported = true;
    at_origin(L, v);
  }
  return v;
}

rein_status rein__rc_load_buffer(rein_contract_set *s, const char *name,
                                 const char *data, size_t len) {
  lctx L = {s, NULL, rein__rc_strdup(s, name), s->nfiles++, 0, 0, 0};
  if (!L.file) return REIN_ENOMEM;
  size_t before = s->ndiags;
  /* libyaml's scanner is quadratic in the nesting depth: refuse deep text
   * before it sees it (the schema itself is a few levels deep) */
  size_t dl, dc;
  unsigned maxd = s->max_depth ? s->max_depth : REIN_YAML_MAX_DEPTH;
  if (rein_yaml_check_depth(data, len, maxd, &dl, &dc) != REIN_OK) {
    rc_loc l = {L.file, (uint32_t)dl, (uint32_t)dc};
    char why[160];
    snprintf(why, sizeof why,
             "malformed YAML: nested deeper than %u levels (max_depth)", maxd);
    rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E001", why,
                  "a contract is a few levels deep: close the brackets, or "
                  "check the indentation");
    return s->oom ? REIN_ENOMEM : REIN_EPARSE;
  }
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    s->oom = true;
    return REIN_ENOMEM;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  yaml_document_t doc;
  if (!yaml_parser_load(&parser, &doc)) {
    if (parser.error == YAML_MEMORY_ERROR) {
      s->oom = true;
    } else {
      rc_loc l = {L.file, (uint32_t)parser.problem_mark.line + 1,
                  (uint32_t)parser.problem_mark.column + 1};
      char why[512];
      snprintf(why, sizeof why, "malformed YAML: %s%s%s",
               parser.problem ? parser.problem : "syntax error",
               parser.context ? " " : "", parser.context ? parser.context : "");
      rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E001", why,
                    "fix the syntax here: indentation, ':' after keys, "
                    "closed quotes and brackets");
    }
    yaml_parser_delete(&parser);
    return s->oom ? REIN_ENOMEM : REIN_EPARSE;
  }
  L.doc = &doc;
  rc_svc *svc = NULL;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    rc_loc l = {L.file, 1, 1};
    rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E005",
                  "empty contract: missing field 'service'",
                  "add `service: NAME` and `version: DATE`");
  } else {
    svc = load_root(&L, root);
    /* A second document is a mistake (one contract per file). */
    yaml_document_t doc2;
    if (yaml_parser_load(&parser, &doc2)) {
      yaml_node_t *r2 = yaml_document_get_root_node(&doc2);
      if (r2) {
        rc_loc l = {L.file, (uint32_t)r2->start_mark.line + 1,
                    (uint32_t)r2->start_mark.column + 1};
        rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E001",
                      "more than one YAML document in a contract file",
                      "put each service's contract in its own file");
      }
      yaml_document_delete(&doc2);
    } else if (parser.error == YAML_MEMORY_ERROR) {
      s->oom = true;
    } else {
      rc_loc l = {L.file, (uint32_t)parser.problem_mark.line + 1,
                  (uint32_t)parser.problem_mark.column + 1};
      char why[512];
      snprintf(why, sizeof why, "malformed YAML: %s",
               parser.problem ? parser.problem : "syntax error");
      rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E001", why,
                    "fix the syntax here");
    }
  }
  if (L.errors > RC_MAX_FILE_ERRORS) {
    rc_loc l = {L.file, 1, 1};
    char why[128];
    snprintf(why, sizeof why, "%d more errors in this file not shown",
             L.errors - RC_MAX_FILE_ERRORS);
    rein__rc_diag(s, l, L.seq, REIN_CONTRACT_ERROR, "E004", why,
                  "fix the errors above and check again");
  }
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (svc && s->ndiags == before && !s->oom) rein__rc_add_service(s, svc);
  if (s->oom) return REIN_ENOMEM;
  return s->ndiags > before ? REIN_EPARSE : REIN_OK;
}
