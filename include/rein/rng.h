/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/rng.h: seeded, per-object pseudo-random numbers.
 *
 * xoshiro256** seeded through splitmix64: fast, small (32 bytes), and
 * reproducible, so the same seed gives the same jitter in a test, in the
 * simulator and in production. There is no shared generator: each object (or
 * each call) owns its state. Not cryptographic; idempotency keys use
 * getrandom() instead.
 *
 * Thread level: a rein_rng is used by one thread at a time.
 */
#ifndef REIN_RNG_H
#define REIN_RNG_H

#include "rein/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_rng {
  uint64_t s[4];
} rein_rng;

/* Seed from one 64-bit value (any value, 0 included). */
REIN_API void rein_rng_seed(rein_rng *r, uint64_t seed);
/* splitmix64 step: a good mixer for deriving seeds from counters. */
REIN_API uint64_t rein_splitmix64(uint64_t *state);
/* Next 64 random bits. */
REIN_API uint64_t rein_rng_next(rein_rng *r);
/* The same step inline, for loops that draw per event (the simulator):
 * the same sequence as rein_rng_next, without the call. */
static inline uint64_t rein_rng_next_inline(rein_rng *r) {
  uint64_t *s = r->s;
  uint64_t x = s[1] * 5;
  uint64_t result = ((x << 7) | (x >> 57)) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}
/* Uniform double in [0, 1) with 53 random bits. */
REIN_API double rein_rng_uniform(rein_rng *r);
/* The same draw inline (the same sequence as rein_rng_uniform). */
static inline double rein_rng_uniform_inline(rein_rng *r) {
  return (double)(rein_rng_next_inline(r) >> 11) * 0x1.0p-53;
}
/* Uniform integer in [lo, hi] (inclusive); returns lo when hi <= lo. Unbiased
 * (Lemire's method). */
REIN_API int64_t rein_rng_range(rein_rng *r, int64_t lo, int64_t hi);
/* Exponential with the given mean (> 0). */
REIN_API double rein_rng_exponential(rein_rng *r, double mean);
/* Standard normal N(0, 1) (Box-Muller; uses two uniforms). */
REIN_API double rein_rng_normal(rein_rng *r);

#ifdef __cplusplus
}
#endif
#endif /* REIN_RNG_H */
