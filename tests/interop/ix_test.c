/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ix_test.c: see ix_test.h.
 */
#include "ix_test.h"

#include "rein/classify.h"
#include "rein/contract.h"
#include "rein/input.h"
#include "rein/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static const rein_model_field *mf(rein_model_block b, const char *n) {
  return rein_model_find(b, n, NULL);
}

bool ix_warned(const rein_interop *ex, const char *path, const char *field) {
  char f[128];
  snprintf(f, sizeof f, "%s.%s", path, field);
  for (size_t i = 0; i < rein_interop_diag_count(ex); i++) {
    const rein_interop_diag *d = rein_interop_diag_at(ex, i);
    if (d->severity == REIN_INTEROP_WARNING &&
        strncmp(d->field, f, strlen(f)) == 0 &&
        (!d->field[strlen(f)] || d->field[strlen(f)] == '.'))
      return true;
  }
  return false;
}

void ix_random_hedge(rein_rng *r, rein_policy_spec *sp) {
  char t[64];
  sp->has_hedge = true;
  snprintf(t, sizeof t, "%u", 1 + (unsigned)(rein_rng_next(r) % 7));
  rein_model_set(sp, mf(REIN_MODEL_HEDGE, "attempts"), t, NULL);
  int64_t d = (int64_t)(rein_rng_next(r) % (UINT64_C(2) * SEC));
  if (rein_rng_next(r) % 2) d -= d % MS;
  rein_format_duration(d, t, sizeof t);
  rein_model_set(sp, mf(REIN_MODEL_HEDGE, "delay"), t, NULL);
  if (rein_rng_next(r) % 3 == 0)
    rein_model_set(sp, mf(REIN_MODEL_HEDGE, "quantile"), "0.95", NULL);
}

void ix_random_contract(rein_rng *r, char *buf, size_t cap) {
  static const char *const names[] = {"503",
                                      "429",
                                      "5xx",
                                      "500-504",
                                      "409",
                                      "reset",
                                      "timeout",
                                      "connect-failure",
                                      "refused-stream",
                                      "UNAVAILABLE",
                                      "INTERNAL",
                                      "overloaded",
                                      "408",
                                      "4xx",
                                      "301"};
  static const char *const kinds[] = {"none", "constant", "linear",
                                      "exponential"};
  static const char *const jit[] = {"none", "full", "equal", "decorrelated"};
  static const char *const ops[] = {"charge", "*", "refund", "v1-get", "list*"};
  static const char *const ratios[] = {"0.2", "0.25", "0.125", "1", "3"};
  static const char *const mins[] = {"10", "0.5", "0", "2.25", "0.0001"};
  size_t o = (size_t)snprintf(buf, cap,
                              "service: caller\nversion: \"1\"\n"
                              "calls:\n");
  unsigned ncalls = 1 + (unsigned)(rein_rng_next(r) % 4);
  for (unsigned i = 0; i < ncalls; i++) {
    rein_policy_spec sp;
    rein_policy_spec_default(&sp);
    char t[64];
    snprintf(t, sizeof t, "%u", 1 + (unsigned)(rein_rng_next(r) % 8));
    rein_model_set(&sp, mf(REIN_MODEL_RETRY, "attempts"), t, NULL);
    if (rein_rng_next(r) % 2) {
      int64_t ns = 1 + (int64_t)(rein_rng_next(r) % (UINT64_C(3600) * SEC));
      if (rein_rng_next(r) % 2) ns -= ns % MS;
      rein_format_duration(ns, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_CALL, "deadline"), t, NULL);
    }
    if (rein_rng_next(r) % 2) {
      int64_t ns = 1 + (int64_t)(rein_rng_next(r) % (UINT64_C(60) * SEC));
      if (rein_rng_next(r) % 2) ns -= ns % MS;
      rein_format_duration(ns, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_CALL, "timeout"), t, NULL);
    }
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "kind"),
                   kinds[rein_rng_next(r) % 8 < 4 ? 1 : rein_rng_next(r) % 4],
                   NULL);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "jitter"),
                   jit[rein_rng_next(r) % 8 < 5 ? 0 : rein_rng_next(r) % 4],
                   NULL);
    int64_t base = (int64_t)(rein_rng_next(r) % (UINT64_C(10) * SEC));
    if (rein_rng_next(r) % 2) base -= base % MS;
    rein_format_duration(base, t, sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "base"), t, NULL);
    rein_format_duration(base + (int64_t)(rein_rng_next(r) % (60 * SEC)), t,
                         sizeof t);
    rein_model_set(&sp, mf(REIN_MODEL_BACKOFF, "cap"), t, NULL);
    const rein_model_field *when = mf(REIN_MODEL_RETRY, "when");
    rein_model_list_clear(&sp, when);
    unsigned nw = (unsigned)(rein_rng_next(r) % 5);
    for (unsigned k = 0; k < nw; k++)
      rein_model_list_add(
          &sp, when, names[rein_rng_next(r) % (sizeof names / sizeof names[0])],
          NULL);
    const rein_model_field *sig = mf(REIN_MODEL_RETRY, "signals");
    rein_model_list_clear(&sp, sig);
    if (rein_rng_next(r) % 2)
      rein_model_list_add(&sp, sig, "retry-after", NULL);
    o += (size_t)snprintf(buf + o, cap - o, "  - to: \"svc%u.%s\"\n",
                          (unsigned)(rein_rng_next(r) % 3),
                          ops[rein_rng_next(r) % 5]);
    if (rein_rng_next(r) % 3 == 0) {
      sp.has_budget = true;
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "ratio"),
                     ratios[rein_rng_next(r) % 5], NULL);
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "min_per_sec"),
                     mins[rein_rng_next(r) % 5], NULL);
      int64_t ttl = MS + (int64_t)(rein_rng_next(r) % (3599 * SEC));
      if (rein_rng_next(r) % 2) ttl -= ttl % MS;
      rein_format_duration(ttl, t, sizeof t);
      rein_model_set(&sp, mf(REIN_MODEL_BUDGET, "ttl"), t, NULL);
    }
    if (rein_rng_next(r) % 4 == 0) ix_random_hedge(r, &sp);
    o += rein_policy_spec_yaml(&sp, true, 4, buf + o, cap - o);
  }
}
