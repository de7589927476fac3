/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/json.h: the few lines every JSON writer of rein shares on top of
 * jansson (Debian libjansson-dev, `pkg-config jansson`): a string that is
 * valid UTF-8 whatever bytes it was made from, and streaming one value at a
 * time to a FILE or into a caller's buffer.
 *
 * jansson refuses to build a string from bytes that are not UTF-8
 * (json_string returns NULL), and file names, YAML values and HTTP fields
 * need not be UTF-8. rein_json_string repairs them the one way rein does
 * everywhere (rein_utf8_scrub: each byte that is not part of valid UTF-8
 * becomes U+FFFD), so every document rein writes parses as UTF-8 JSON. The
 * SARIF writer also keeps the exact bytes of a file name in its
 * percent-encoded artifact URI (docs/security.md, "JSON").
 *
 * Header only, so the core (src/core) stays libc-only: include it from
 * code that links jansson (rein_contract, rein_sim, rein_idem_http, the
 * `rein` tool, examples/ledger). Everything here is a pure function of its
 * arguments: thread-safe, no global state.
 */
#ifndef REIN_JSON_H
#define REIN_JSON_H

#include "rein/input.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The flags every rein writer dumps with: one line, no spaces, members in
 * the order they were added (the documented schema order), and any value
 * (a streaming writer dumps lone strings and numbers between the parts of
 * the frame it writes itself). Writers of measurements add
 * JSON_REAL_PRECISION(n). */
#define REIN_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)

/*
 * A new JSON string holding `s` (NULL reads as ""), with every byte that
 * is not part of valid UTF-8 replaced by U+FFFD. Returns a new reference,
 * or NULL when out of memory. Valid UTF-8 (the usual case) is checked once
 * and copied once.
 */
static inline json_t *rein_json_string(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  if (rein_utf8_valid_len(s) == n) return json_stringn_nocheck(s, n);
  size_t need = rein_utf8_scrub(NULL, 0, s);
  char *t = (char *)malloc(need + 1);
  if (!t) return NULL;
  rein_utf8_scrub(t, need + 1, s);
  json_t *j = json_stringn_nocheck(t, need);
  free(t);
  return j;
}

/*
 * Set `obj[key]` to `v`, taking the reference to `v` (as
 * json_object_set_new). `key` is the writer's own ASCII member name.
 * Returns 0, or -1 when `v` is NULL (an allocation failed earlier) or the
 * member cannot be added; a writer checks once at the end.
 */
static inline int rein_json_set(json_t *obj, const char *key, json_t *v) {
  if (!v) return -1;
  return json_object_set_new_nocheck(obj, key, v);
}

/* Append `v` to the array `arr`, taking the reference (as
 * json_array_append_new). Returns 0, or -1 as rein_json_set. */
static inline int rein_json_push(json_t *arr, json_t *v) {
  if (!v) return -1;
  return json_array_append_new(arr, v);
}

/* Internal: the output buffer of rein_json_write. */
typedef struct rein__json_out {
  FILE *f;
  size_t n;
  int err;
  char buf[4096];
} rein__json_out;

static inline int rein__json_flush(rein__json_out *o) {
  if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n) o->err = 1;
  o->n = 0;
  return o->err ? -1 : 0;
}

static inline int rein__json_cb(const char *p, size_t len, void *data) {
  rein__json_out *o = (rein__json_out *)data;
  if (len > sizeof o->buf - o->n && rein__json_flush(o)) return -1;
  if (len > sizeof o->buf) {
    if (fwrite(p, 1, len, o->f) != len) o->err = 1;
    return o->err ? -1 : 0;
  }
  memcpy(o->buf + o->n, p, len);
  o->n += len;
  return 0;
}

/*
 * Write `v` to `f` with `flags` (REIN_JSON_FLAGS, optionally with
 * JSON_REAL_PRECISION(n)) in one pass through a 4 KiB buffer on the stack,
 * written to `f` when full and at the end: json_dumpf calls fwrite for
 * every token, most of the time of a large document (docs/benchmarks.md,
 * "JSON writers"). Returns 0, or -1 when `v` is NULL (out of memory) or
 * the write fails.
 */
static inline int rein_json_write(FILE *f, const json_t *v, size_t flags) {
  if (!v) return -1;
  rein__json_out o;
  o.f = f;
  o.n = 0;
  o.err = 0;
  int rc = json_dump_callback(v, rein__json_cb, &o, flags);
  if (rein__json_flush(&o)) rc = -1;
  return rc;
}

/*
 * rein_json_write, then drop the reference to `v`, so a writer can stream
 * a large document one element at a time without holding the whole tree.
 * Returns what rein_json_write returns (-1 also when `v` is NULL).
 */
static inline int rein_json_put(FILE *f, json_t *v, size_t flags) {
  if (!v) return -1;
  int rc = rein_json_write(f, v, flags);
  json_decref(v);
  return rc;
}

#ifdef __cplusplus
}
#endif
#endif /* REIN_JSON_H */
