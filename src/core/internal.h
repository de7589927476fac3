/* SPDX-License-Identifier: Apache-2.0 */
/*
 * internal.h: helpers shared by the core's files; not installed.
 *
 * Allocation through the config's allocator, error messages into the
 * caller's rein_errbuf, and the stripe hint that keeps threads off each
 * other's cache lines. Non-static names here are rein__*.
 */
#ifndef REIN_CORE_INTERNAL_H
#define REIN_CORE_INTERNAL_H

#include "rein/common.h"
#include "rein/errors.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#define REIN__CACHELINE 64
/* Counter stripes per shared object: a power of two. */
#define REIN__STRIPES 16u

void *rein__alloc(const rein_allocator *a, size_t n);
void *rein__calloc(const rein_allocator *a, size_t n);
void rein__free(const rein_allocator *a, void *p);
/* Aligned to 64 bytes; freed with rein__free_aligned. */
void *rein__alloc_aligned(const rein_allocator *a, size_t n);
void rein__free_aligned(const rein_allocator *a, void *p);

/* Writes the message to `err` (if non-NULL) and returns REIN_EINVAL. */
rein_status rein__invalid(rein_errbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A stripe index in [0, REIN__STRIPES) for the calling thread: a hash of
 * its pthread_self (inline: it runs once a call, in rein_retry_init). */
static inline uint32_t rein__thread_stripe(void) {
  uint64_t h = (uint64_t)(uintptr_t)pthread_self();
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  return (uint32_t)h & (REIN__STRIPES - 1);
}

/* rein_metrics_add / _observe without the call when the policy has no
 * metrics (the hot path of a policy without them pays one test). */
#define REIN__METRICS_ADD(m, c, n)                                            \
  do {                                                                        \
    if (m) rein_metrics_add((m), (c), (n));                                   \
  } while (0)
#define REIN__METRICS_OBSERVE(m, h, v)                                        \
  do {                                                                        \
    if (m) rein_metrics_observe((m), (h), (v));                               \
  } while (0)

/* A config's `stripes`: 0 = REIN__STRIPES, else a power of two in [1,
 * REIN__STRIPES]; REIN_EINVAL (message naming `what`) otherwise. */
rein_status rein__stripes(uint32_t v, const char *what, rein_errbuf *err,
                          uint32_t *out);

/* The breaker is a retry-only one (gates RETRIES, not custom): the policy
 * asks once, at creation (breaker.c). */
struct rein_breaker;
bool rein__breaker_gates_retries(const struct rein_breaker *b);

#endif
