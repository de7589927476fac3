/* SPDX-License-Identifier: Apache-2.0 */
/*
 * expz.c: exponential variates for the simulator by the ziggurat method.
 *
 * Every Poisson arrival and every exponential service time needs one
 * exponential draw; with -log1p(-u) that was a tenth of the engine's time
 * on the large benchmark scenario. The ziggurat (Marsaglia and Tsang,
 * "The Ziggurat Method for Generating Random Variables", J. Stat. Softw.
 * 5(8), 2000) covers exp(-x) with 256 strips of equal area: one 64-bit draw
 * picks a strip (low 8 bits) and a point in it (top 53 bits), and about 99
 * times in 100 the point lies in the part of the strip wholly under the
 * curve and is returned after one multiply and one compare. The rest take
 * an exp() (the wedge test) or, past the last strip, use memorylessness:
 * the tail beyond r is r plus another Exp(1).
 *
 * The tables are built per run from libm (no global state) in about 256
 * exp/log calls. The draw is exact in distribution up to the 53-bit grid
 * of the point; tests/unit/test_sim_expz.c checks it against the exponential
 * CDF (Kolmogorov-Smirnov), its moments and its tail.
 */
#include "sim_internal.h"

#include <math.h>

/* r: where the tail starts; v: the area of each strip (and of the base
 * strip: the rectangle [0, r] x [0, e^-r] plus the tail beyond r). These
 * two numbers define the 256-strip ziggurat for exp(-x). */
#define EXPZ_R 7.69711747013104972
#define EXPZ_V 0.0039496598225815571993

void rein__sim_expz_init(sim_expz *z) {
  double f = exp(-EXPZ_R);
  z->x[0] = EXPZ_V / f; /* the base strip as a rectangle of width v/f(r) */
  z->f[0] = 0;
  z->x[1] = EXPZ_R;
  z->f[1] = f;
  for (int i = 1; i < 255; i++) {
    /* strip i spans heights f(x[i]) .. f(x[i+1]) with area v */
    double fn = z->f[i] + EXPZ_V / z->x[i];
    z->f[i + 1] = fn;
    z->x[i + 1] = -log(fn);
  }
  z->x[256] = 0;
  z->f[256] = 1;
}

double rein__sim_expz_slow(const sim_expz *z, rein_rng *r, unsigned i,
                           double x) {
  double add = 0;
  for (;;) {
    if (i == 0) {
      /* past the base rectangle's body: the tail, r + Exp(1) */
      add += EXPZ_R;
    } else {
      /* the wedge between the rectangle's inner part and the curve */
      double y = z->f[i] + (z->f[i + 1] - z->f[i]) * rein_rng_uniform_inline(r);
      if (y < exp(-x)) return add + x;
    }
    uint64_t b = rein_rng_next_inline(r);
    i = (unsigned)(b & 255);
    x = (double)(b >> 11) * 0x1.0p-53 * z->x[i];
    if (x < z->x[i + 1]) return add + x;
  }
}
