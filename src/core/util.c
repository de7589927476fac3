/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.c: allocation through the injected allocator, error messages, and the
 * per-thread stripe hint.
 *
 * The stripe hint hashes pthread_self() instead of keeping a thread-local
 * counter: it needs no global state and no registration, and two threads
 * rarely collide among 16 stripes (a collision costs speed, never
 * correctness).
 */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *rein_alloc(const rein_allocator *a, size_t n) {
  if (a && a->malloc) return a->malloc(a->ctx, n);
  return malloc(n);
}

void rein_free(const rein_allocator *a, void *p) {
  if (!p) return;
  if (a && a->free) {
    a->free(a->ctx, p);
    return;
  }
  free(p);
}

void *rein__alloc(const rein_allocator *a, size_t n) {
  return rein_alloc(a, n);
}

void *rein_calloc(const rein_allocator *a, size_t n) {
  void *p = rein_alloc(a, n);
  if (p) memset(p, 0, n);
  return p;
}

void *rein__calloc(const rein_allocator *a, size_t n) {
  return rein_calloc(a, n);
}

void rein__free(const rein_allocator *a, void *p) {
  rein_free(a, p);
}

/* Over-allocate and keep the original pointer just before the aligned one. */
void *rein__alloc_aligned(const rein_allocator *a, size_t n) {
  size_t extra = REIN__CACHELINE + sizeof(void *);
  unsigned char *raw = rein__alloc(a, n + extra);
  if (!raw) return NULL;
  uintptr_t p = ((uintptr_t)raw + extra) & ~(uintptr_t)(REIN__CACHELINE - 1);
  memcpy((void *)(p - sizeof(void *)), &raw, sizeof(void *));
  memset((void *)p, 0, n);
  return (void *)p;
}

void rein__free_aligned(const rein_allocator *a, void *p) {
  if (!p) return;
  void *raw;
  memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof(void *));
  rein__free(a, raw);
}

rein_status rein_errbuf_vset(rein_errbuf *err, rein_status st, const char *fmt,
                             va_list ap) {
  if (err) vsnprintf(err->msg, sizeof err->msg, fmt, ap);
  return st;
}

rein_status rein_errbuf_set(rein_errbuf *err, rein_status st, const char *fmt,
                            ...) {
  va_list ap;
  va_start(ap, fmt);
  rein_errbuf_vset(err, st, fmt, ap);
  va_end(ap);
  return st;
}

rein_status rein__stripes(uint32_t v, const char *what, rein_errbuf *err,
                          uint32_t *out) {
  if (v == 0) v = REIN__STRIPES;
  if (v > REIN__STRIPES || (v & (v - 1)) != 0)
    return rein__invalid(err,
                         "%s.stripes: must be 0 (16) or a power of two in "
                         "[1, 16], got %u",
                         what, v);
  *out = v;
  return REIN_OK;
}

rein_status rein__invalid(rein_errbuf *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  rein_errbuf_vset(err, REIN_EINVAL, fmt, ap);
  va_end(ap);
  return REIN_EINVAL;
}

