/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/throttle.h: client-side adaptive throttling (Google SRE book, ch. 21).
 *
 * Each client tracks, over a sliding window, `requests` (attempts it wanted to
 * send, including those it rejected itself) and `accepts` (attempts the
 * backend accepted: a success or a definitive answer, not an overload
 * rejection, timeout or failure). Before sending, it rejects locally with
 * probability
 *
 *     p = max(0, (requests - K * accepts) / (requests + 1))
 *
 * so a client of a backend that rejects most requests stops sending most of
 * them, and starts again as accepts return. K (default 2) trades backend load
 * for client-side false rejections.
 *
 * Thread level: internally synchronized (lock-free striped counters); the
 * random draw uses the caller's rng.
 */
#ifndef REIN_THROTTLE_H
#define REIN_THROTTLE_H

#include "rein/common.h"
#include "rein/errors.h"
#include "rein/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_throttle rein_throttle;

typedef struct rein_throttle_config {
  double k;          /* default 2.0; [1, 100] */
  int64_t window_ns; /* default 2 min (the SRE book's); [1 ms, 1 h] */
  uint32_t buckets;  /* default 12; [1, 60] */
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Appended. Counter stripes: 0 = 4 (the default: threads update their
   * own cache lines); else a power of two in [1, 16]. 1 for an object only
   * one thread uses (a simulated client): a sixteenth of the counter
   * memory, the same answers. */
  uint32_t stripes;
} rein_throttle_config;

REIN_API void rein_throttle_config_default(rein_throttle_config *c);
REIN_API rein_status rein_throttle_new(const rein_throttle_config *c,
                                       rein_throttle **out);
REIN_API void rein_throttle_free(rein_throttle *t);
/* The config the throttle was made from (alloc and err NULL). */
REIN_API rein_status rein_throttle_get_config(const rein_throttle *t,
                                              rein_throttle_config *out);

/* Count a request and decide: true = send it, false = reject locally. */
REIN_API bool rein_throttle_admit(rein_throttle *t, int64_t now, rein_rng *rng);
/* The backend accepted a request. */
REIN_API void rein_throttle_on_accept(rein_throttle *t, int64_t now);
/* The current rejection probability (for metrics and tests). */
REIN_API double rein_throttle_probability(rein_throttle *t, int64_t now);

#ifdef __cplusplus
}
#endif
#endif /* REIN_THROTTLE_H */
