/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/common.h: what every rein header shares.
 *
 * The export macro, the allocator interface every object takes from its
 * config, and the error buffer through which `_new` functions name the field
 * they rejected. Nothing here has state; nothing here allocates.
 */
#ifndef REIN_COMMON_H
#define REIN_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Public symbols carry REIN_API; everything else is hidden in the shared
 * library (the build uses -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define REIN_API __attribute__((visibility("default")))
#else
#define REIN_API
#endif

/* printf-style format checking where the compiler has it. */
#if defined(__GNUC__) || defined(__clang__)
#define REIN_PRINTF(fmt_idx, args_idx)                                         \
  __attribute__((format(printf, fmt_idx, args_idx)))
#else
#define REIN_PRINTF(fmt_idx, args_idx)
#endif

/* Durations and instants are int64_t nanoseconds. */
#define REIN_NS_PER_US INT64_C(1000)
#define REIN_NS_PER_MS INT64_C(1000000)
#define REIN_NS_PER_S INT64_C(1000000000)

/*
 * Allocator. Every config that leads to an allocation has a
 * `const rein_allocator *alloc` field; NULL means malloc/free. `malloc` may
 * return NULL, and every rein function that allocates then fails cleanly with
 * REIN_ENOMEM and leaks nothing (tests fail every allocation in turn).
 */
typedef struct rein_allocator {
  void *(*malloc)(void *ctx, size_t size);
  void (*free)(void *ctx, void *ptr);
  void *ctx;
} rein_allocator;

/* Allocate / free through `a` (NULL, or NULL members, mean malloc/free).
 * The one place the allocator is dispatched: optional modules and
 * applications that honour a config's allocator call these. rein_free of
 * NULL is a no-op. Thread-safe when the allocator is. */
REIN_API void *rein_alloc(const rein_allocator *a, size_t size);
/* As rein_alloc, with the `size` bytes set to zero. */
REIN_API void *rein_calloc(const rein_allocator *a, size_t size);
REIN_API void rein_free(const rein_allocator *a, void *ptr);

/*
 * Error buffer. Configs carry an optional `rein_errbuf *err`; when a `_new`
 * or a loader fails it writes one line there naming the field and what was
 * expected, e.g. "budget.ratio: must be in (0, 1000], got -1". Untouched on
 * success.
 */
typedef struct rein_errbuf {
  char msg[512];
} rein_errbuf;

#ifdef __cplusplus
}
#endif
#endif /* REIN_COMMON_H */
