/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein_test.h: helpers every rein test may use.
 *
 * - A counting allocator that fails the n-th allocation, for fault loops
 *   ("fail every allocation of _new in turn, expect a clean error and no
 *   leak").
 * - The test seed: REIN_TEST_SEED from the environment, else a fixed default;
 *   printed once so a failing randomized test can be replayed.
 * - Service coordinates for backend tests (started by scripts/services.sh);
 *   a backend test that finds none fails, it does not skip.
 */
#ifndef REIN_TEST_H
#define REIN_TEST_H

/* REIN_TEST_SANITIZED: 1 in an ASan or TSan build (gcc and clang), for
 * tests that scale their work or their timing claims down there. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define REIN_TEST_SANITIZED 1
#endif
#endif
#if !defined(REIN_TEST_SANITIZED) &&                                           \
    (defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__))
#define REIN_TEST_SANITIZED 1
#endif
#ifndef REIN_TEST_SANITIZED
#define REIN_TEST_SANITIZED 0
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three above first */
#include <cmocka.h>

#include "rein/common.h"

typedef struct rein_test_alloc {
  rein_allocator a;  /* pass &t.a as a config's alloc */
  long fail_at;      /* fail the allocation with this index (0-based); -1 never */
  long count;        /* allocations attempted */
  long live;         /* allocations not yet freed */
} rein_test_alloc;

void rein_test_alloc_init(rein_test_alloc *t, long fail_at);

/* The seed for randomized tests; prints "seed: N (set REIN_TEST_SEED=N to
 * replay)" to stderr on first use. */
uint64_t rein_test_seed(void);

/* Run `'BIN' ARGS 2>&1` (ARGS formatted from fmt: quote what needs it) and
 * return its exit code (-1 when it did not exit); its whole output into
 * `*out` (malloc'd, NUL-terminated; free it) when `out` is not NULL. */
int rein_test_run(const char *bin, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Service coordinates from the environment; each fails the test (cmocka
 * fail_msg) when the variable is missing. */
const char *rein_test_redis_host(void);
int rein_test_redis_port(void);
const char *rein_test_pg_dsn(void);

/*
 * Run `body(ctx, alloc)` with allocation i failing, for i = 0, 1, ... until a
 * run makes no failing allocation. Asserts each failing run returns
 * non-zero, and that nothing is left allocated after each run.
 * `body` returns 0 on success and must clean up whatever it created.
 */
void rein_test_fault_loop(int (*body)(void *ctx, const rein_allocator *a),
                          void *ctx);

#endif
