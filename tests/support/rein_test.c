/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein_test.c: the counting, failing allocator and the seed and service
 * helpers shared by all tests (see rein_test.h).
 */
#include "rein_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

static void *talloc(void *ctx, size_t n) {
  rein_test_alloc *t = ctx;
  long i = t->count++;
  if (t->fail_at >= 0 && i == t->fail_at) return NULL;
  void *p = malloc(n);
  if (p) t->live++;
  return p;
}

static void tfree(void *ctx, void *p) {
  rein_test_alloc *t = ctx;
  if (!p) return;
  t->live--;
  free(p);
}

void rein_test_alloc_init(rein_test_alloc *t, long fail_at) {
  t->a.malloc = talloc;
  t->a.free = tfree;
  t->a.ctx = t;
  t->fail_at = fail_at;
  t->count = 0;
  t->live = 0;
}

uint64_t rein_test_seed(void) {
  static int printed;
  static uint64_t seed = 20261129;
  if (!printed) {
    const char *e = getenv("REIN_TEST_SEED");
    if (e && *e) seed = strtoull(e, NULL, 0);
    fprintf(stderr, "seed: %llu (set REIN_TEST_SEED=%llu to replay)\n",
            (unsigned long long)seed, (unsigned long long)seed);
    printed = 1;
  }
  return seed;
}

static const char *need_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) {
    fprintf(stderr,
            "%s is not set: backend tests need real servers; run them via "
            "`make check` or eval \"$(scripts/services.sh start DIR)\"\n",
            name);
    fail_msg("missing %s", name);
  }
  return v;
}

const char *rein_test_redis_host(void) {
  return need_env("REIN_REDIS_HOST");
}

int rein_test_redis_port(void) {
  return atoi(need_env("REIN_REDIS_PORT"));
}

const char *rein_test_pg_dsn(void) {
  return need_env("REIN_PG_DSN");
}

void rein_test_fault_loop(int (*body)(void *ctx, const rein_allocator *a),
                          void *ctx) {
  for (long i = 0; i < 100000; i++) {
    rein_test_alloc t;
    rein_test_alloc_init(&t, i);
    int rc = body(ctx, &t.a);
    if (t.live != 0) fail_msg("fault loop: %ld allocations leaked when allocation %ld failed", t.live, i);
    if (t.count <= i) {
      /* No allocation failed: the run must have succeeded. */
      if (rc != 0) fail_msg("fault loop: run with no failure returned %d", rc);
      return;
    }
    if (rc == 0) fail_msg("fault loop: allocation %ld failed but body returned 0", i);
  }
  fail_msg("fault loop: did not terminate");
}

int rein_test_run(const char *bin, char **out, const char *fmt, ...) {
  char args[4096], cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  for (size_t r; (r = fread(buf + n, 1, cap - n - 1, p)) > 0;) {
    n += r;
    if (cap - n < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
      assert_non_null(buf);
    }
  }
  buf[n] = 0;
  int st = pclose(p);
  if (out)
    *out = buf;
  else
    free(buf);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
