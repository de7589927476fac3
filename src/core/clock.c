/* SPDX-License-Identifier: Apache-2.0 */
/*
 * clock.c: the default monotonic clock and the manual clock.
 *
 * This is the only core file that reads the OS clock. The manual clock is a
 * plain int64_t updated with atomic builtins, so the struct stays usable from
 * C++ and copyable before use. Setting it is a release store and reading it
 * an acquire load: a thread that reads a time sees what the setter did
 * before setting it, which is all a clock promises. (A sequentially
 * consistent store is a locked exchange on x86, a full barrier that waits
 * for every store in flight; the simulator sets the clock at nearly every
 * event, and that barrier cost it several percent.)
 */
#include "rein/clock.h"

#include <time.h>

static int64_t monotonic_now(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

rein_clock rein_clock_monotonic(void) {
  rein_clock c = {monotonic_now, NULL};
  return c;
}

int64_t rein_clock_now(const rein_clock *c) {
  if (c && c->now_ns) return c->now_ns(c->ctx);
  return monotonic_now(NULL);
}

int64_t rein_clock_wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

void rein_manual_clock_init(rein_manual_clock *mc, int64_t start_ns) {
  __atomic_store_n(&mc->now, start_ns, __ATOMIC_RELEASE);
}

void rein_manual_clock_set(rein_manual_clock *mc, int64_t now_ns) {
  __atomic_store_n(&mc->now, now_ns, __ATOMIC_RELEASE);
}

void rein_manual_clock_advance(rein_manual_clock *mc, int64_t delta_ns) {
  __atomic_fetch_add(&mc->now, delta_ns, __ATOMIC_ACQ_REL);
}

int64_t rein_manual_clock_get(const rein_manual_clock *mc) {
  return __atomic_load_n(&mc->now, __ATOMIC_ACQUIRE);
}

static int64_t manual_now(void *ctx) {
  return rein_manual_clock_get((const rein_manual_clock *)ctx);
}

rein_clock rein_manual_clock_as_clock(rein_manual_clock *mc) {
  rein_clock c = {manual_now, mc};
  return c;
}
