/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/backoff.h: how long to wait before retry n.
 *
 * Indexing: n = 1 is the delay before the FIRST RETRY (the second attempt),
 * n = 2 before the second retry, and so on. With v(n) the un-jittered value:
 *
 *   NONE         v = 0
 *   CONSTANT     v = base
 *   LINEAR       v = min(cap, base * n)
 *   EXPONENTIAL  v = min(cap, base * multiplier^(n-1))   (multiplier 2 = doubling)
 *
 * and the jitter applied to v:
 *
 *   NONE          d = v
 *   FULL          d = U(0, v)                      (AWS "full jitter")
 *   EQUAL         d = v/2 + U(0, v/2)
 *   DECORRELATED  d = min(cap, U(base, 3 * prev))  prev = previous delay, base
 *                                                  before the first retry; the
 *                                                  kind is ignored for this one
 *
 * U(a, b) is uniform on [a, b]. The config is a plain value: immutable once
 * validated, share it freely between threads; the rng is the caller's.
 */
#ifndef REIN_BACKOFF_H
#define REIN_BACKOFF_H

#include "rein/common.h"
#include "rein/errors.h"
#include "rein/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rein_backoff_kind {
  REIN_BACKOFF_NONE = 0,
  REIN_BACKOFF_CONSTANT = 1,
  REIN_BACKOFF_LINEAR = 2,
  REIN_BACKOFF_EXPONENTIAL = 3
} rein_backoff_kind;

typedef enum rein_jitter {
  REIN_JITTER_NONE = 0,
  REIN_JITTER_FULL = 1,
  REIN_JITTER_EQUAL = 2,
  REIN_JITTER_DECORRELATED = 3
} rein_jitter;

typedef struct rein_backoff_config {
  rein_backoff_kind kind; /* default EXPONENTIAL */
  rein_jitter jitter;     /* default FULL */
  int64_t base_ns;        /* default 100 ms; >= 0 */
  int64_t cap_ns;         /* default 10 s; >= base_ns */
  double multiplier;      /* EXPONENTIAL only; default 2.0; in [1, 100] */
} rein_backoff_config;

/* Fill `c` with the defaults above. */
REIN_API void rein_backoff_config_default(rein_backoff_config *c);

/* REIN_OK, or REIN_EINVAL with a message naming the field in `err` (may be
 * NULL). Field names are prefixed with "backoff.". */
REIN_API rein_status rein_backoff_config_validate(const rein_backoff_config *c,
                                                  rein_errbuf *err);

/*
 * Delay before retry `n` (n >= 1; n = 0 is treated as 1). `prev_ns` is the
 * previous delay returned for this call (0 before the first retry); it is only
 * read by DECORRELATED. `rng` may be NULL only when jitter is NONE. Never
 * allocates; never fails; result in [0, cap] (DECORRELATED: [base, cap]).
 */
REIN_API int64_t rein_backoff_delay(const rein_backoff_config *c, uint32_t n,
                                    int64_t prev_ns, rein_rng *rng);

/* The un-jittered value v(n): the largest delay retry n can draw (for
 * DECORRELATED, the largest possible given only the cap: min(cap, base*3^n)). */
REIN_API int64_t rein_backoff_ceiling(const rein_backoff_config *c, uint32_t n);

/* Short names used by the CLI, contracts and scenarios: "none", "constant",
 * "linear", "exponential"; "none", "full", "equal", "decorrelated". Parsers
 * return REIN_EINVAL for an unknown name. */
REIN_API const char *rein_backoff_kind_name(rein_backoff_kind k);
REIN_API const char *rein_jitter_name(rein_jitter j);
REIN_API rein_status rein_backoff_kind_parse(const char *s, rein_backoff_kind *out);
REIN_API rein_status rein_jitter_parse(const char *s, rein_jitter *out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_BACKOFF_H */
