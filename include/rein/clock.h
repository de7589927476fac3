/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/clock.h: time, injected.
 *
 * rein never reads the OS clock inside a decision: objects take `now` from the
 * caller, and the few places that need to read time (the blocking wrapper,
 * servers) read it through a rein_clock from their config. The default is
 * CLOCK_MONOTONIC; tests and the simulator use a manual clock they advance by
 * hand. Time is int64_t nanoseconds from an arbitrary origin.
 */
#ifndef REIN_CLOCK_H
#define REIN_CLOCK_H

#include "rein/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A clock: `now_ns(ctx)` returns nanoseconds, never decreasing. A config field
 * whose `now_ns` is NULL means "use rein_clock_monotonic()". Copyable. */
typedef struct rein_clock {
  int64_t (*now_ns)(void *ctx);
  void *ctx;
} rein_clock;

/* The process's CLOCK_MONOTONIC. Thread-safe. */
REIN_API rein_clock rein_clock_monotonic(void);

/* Read a clock; a clock with NULL now_ns reads CLOCK_MONOTONIC. */
REIN_API int64_t rein_clock_now(const rein_clock *c);

/* Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch; only
 * for parsing HTTP dates and for stores that record calendar time. */
REIN_API int64_t rein_clock_wall_ns(void);

/*
 * Manual clock: a caller-allocated clock that moves only when told. Reads and
 * writes are atomic, so one thread may advance it while others read.
 */
typedef struct rein_manual_clock {
  int64_t now; /* read and written with atomic builtins */
} rein_manual_clock;

REIN_API void rein_manual_clock_init(rein_manual_clock *mc, int64_t start_ns);
REIN_API void rein_manual_clock_set(rein_manual_clock *mc, int64_t now_ns);
REIN_API void rein_manual_clock_advance(rein_manual_clock *mc, int64_t delta_ns);
REIN_API int64_t rein_manual_clock_get(const rein_manual_clock *mc);
/* A rein_clock reading `mc`; valid while `mc` lives. */
REIN_API rein_clock rein_manual_clock_as_clock(rein_manual_clock *mc);

#ifdef __cplusplus
}
#endif
#endif /* REIN_CLOCK_H */
