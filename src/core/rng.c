/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rng.c: xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 *
 * Chosen for speed and a small, copyable state: every call of the retry
 * engine carries its own generator, so nothing is shared and a seed
 * reproduces a run exactly.
 */
#include "rein/rng.h"

#include <math.h>

uint64_t rein_splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void rein_rng_seed(rein_rng *r, uint64_t seed) {
  uint64_t st = seed;
  for (int i = 0; i < 4; i++) r->s[i] = rein_splitmix64(&st);
}

/* The step itself is rein_rng_next_inline in rein/rng.h. */
uint64_t rein_rng_next(rein_rng *r) {
  return rein_rng_next_inline(r);
}

double rein_rng_uniform(rein_rng *r) {
  return rein_rng_uniform_inline(r);
}

int64_t rein_rng_range(rein_rng *r, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  if (span == UINT64_MAX) return (int64_t)rein_rng_next(r);
  uint64_t n = span + 1;
  /* Lemire's multiply-shift with rejection: unbiased. */
  unsigned __int128 m = (unsigned __int128)rein_rng_next(r) * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t t = -n % n;
    while (low < t) {
      m = (unsigned __int128)rein_rng_next(r) * n;
      low = (uint64_t)m;
    }
  }
  return (int64_t)((uint64_t)lo + (uint64_t)(m >> 64));
}

double rein_rng_exponential(rein_rng *r, double mean) {
  double u = rein_rng_uniform(r);
  return -mean * log1p(-u);
}

double rein_rng_normal(rein_rng *r) {
  double u1 = rein_rng_uniform(r);
  double u2 = rein_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}
