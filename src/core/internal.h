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

#include <stdarg.h>

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

/* A stripe index in [0, REIN__STRIPES) for the calling thread. */
uint32_t rein__thread_stripe(void);

/* The breaker is a retry-only one (gates RETRIES, not custom): the policy
 * asks once, at creation (breaker.c). */
struct rein_breaker;
bool rein__breaker_gates_retries(const struct rein_breaker *b);

#endif
