/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sim_expz.c: the simulator's exponential sampler (src/sim/expz.c,
 * the ziggurat method) draws from Exp(1).
 *
 * The ziggurat replaces -log1p(-u) for speed, so it must be shown to give
 * the same distribution: its tables close (the 256 strips reach f(0) = 1),
 * a million draws pass a Kolmogorov-Smirnov test against 1 - e^-x at the
 * 0.1% level, their mean and variance are 1 within five standard errors,
 * and the tail past the last strip (x > r = 7.697, reached through the
 * memoryless restart) and far beyond it has the right mass. The seed is
 * printed; REIN_TEST_SEED replays a failure.
 */
#include "rein_test.h"

#include "sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void test_tables(void **state) {
  (void)state;
  sim_expz z;
  rein__sim_expz_init(&z);
  /* the strips shrink to the top and the last one ends at height 1 */
  for (int i = 1; i < 256; i++)
    assert_true(z.x[i + 1] < z.x[i]);
  double top = z.f[255] + 0.0039496598225815571993 / z.x[255];
  assert_true(fabs(top - 1.0) < 1e-9);
  for (int i = 1; i < 256; i++)
    assert_true(fabs(z.f[i] - exp(-z.x[i])) < 1e-12);
}

static void test_distribution(void **state) {
  (void)state;
  enum { N = 1000000 };
  sim_expz z;
  rein__sim_expz_init(&z);
  rein_rng r;
  rein_rng_seed(&r, rein_test_seed());
  double *v = malloc(N * sizeof *v);
  assert_non_null(v);
  double sum = 0, sum2 = 0;
  long past_r = 0, past_10 = 0;
  for (int i = 0; i < N; i++) {
    double x = rein__sim_expz(&z, &r);
    assert_true(x >= 0 && isfinite(x));
    v[i] = x;
    sum += x;
    sum2 += x * x;
    past_r += x > 7.69711747013104972;
    past_10 += x > 10;
  }
  double mean = sum / N, var = sum2 / N - mean * mean;
  /* Exp(1): sd of the mean 1/sqrt(N); of the sample variance about
   * sqrt(8/N) (fourth central moment 9) */
  printf("mean %.5f var %.5f; past r %ld (expect %.0f); past 10 %ld "
         "(expect %.1f)\n",
         mean, var, past_r, N * exp(-7.69711747013104972), past_10,
         N * exp(-10.0));
  assert_true(fabs(mean - 1) < 5 / sqrt(N));
  assert_true(fabs(var - 1) < 5 * sqrt(8.0 / N));
  /* tail counts are Poisson: within 5 sd (and past 10 s: 45 expected) */
  double er = N * exp(-7.69711747013104972), e10 = N * exp(-10.0);
  assert_true(fabs(past_r - er) < 5 * sqrt(er));
  assert_true(fabs(past_10 - e10) < 5 * sqrt(e10) + 1);

  qsort(v, N, sizeof *v, cmp_d);
  double d = 0;
  for (int i = 0; i < N; i++) {
    double f = -expm1(-v[i]);
    double lo = f - (double)i / N, hi = (double)(i + 1) / N - f;
    if (lo > d) d = lo;
    if (hi > d) d = hi;
  }
  /* Kolmogorov: P(sqrt(N) D > 1.95) = 0.001 */
  printf("Kolmogorov-Smirnov D = %.6f (0.1%% critical %.6f)\n", d,
         1.95 / sqrt(N));
  assert_true(d < 1.95 / sqrt(N));
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tables),
      cmocka_unit_test(test_distribution),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
