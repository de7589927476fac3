/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backoff.c: delay before retry n, with jitter.
 *
 * Pure arithmetic on an immutable config and the caller's rng, so it can be
 * called from any thread and the simulator reproduces it exactly. Computed in
 * double and clamped before converting back, so a large n or multiplier
 * saturates at the cap instead of overflowing.
 */
#include "rein/backoff.h"

#include "internal.h"

#include <math.h>
#include <string.h>

void rein_backoff_config_default(rein_backoff_config *c) {
  memset(c, 0, sizeof *c);
  c->kind = REIN_BACKOFF_EXPONENTIAL;
  c->jitter = REIN_JITTER_FULL;
  c->base_ns = 100 * REIN_NS_PER_MS;
  c->cap_ns = 10 * REIN_NS_PER_S;
  c->multiplier = 2.0;
}

rein_status rein_backoff_config_validate(const rein_backoff_config *c,
                                         rein_errbuf *err) {
  if (!c) return rein__invalid(err, "backoff: config is NULL");
  if ((unsigned)c->kind > REIN_BACKOFF_EXPONENTIAL)
    return rein__invalid(err, "backoff.kind: unknown kind %d", (int)c->kind);
  if ((unsigned)c->jitter > REIN_JITTER_DECORRELATED)
    return rein__invalid(err, "backoff.jitter: unknown jitter %d",
                         (int)c->jitter);
  if (c->base_ns < 0)
    return rein__invalid(err, "backoff.base_ns: must be >= 0, got %lld",
                         (long long)c->base_ns);
  if (c->cap_ns < c->base_ns)
    return rein__invalid(err,
                         "backoff.cap_ns: must be >= base_ns (%lld), got %lld",
                         (long long)c->base_ns, (long long)c->cap_ns);
  if (c->cap_ns > 24 * 3600 * REIN_NS_PER_S)
    return rein__invalid(err, "backoff.cap_ns: must be <= 24h, got %lld ns",
                         (long long)c->cap_ns);
  if (c->kind == REIN_BACKOFF_EXPONENTIAL &&
      !(c->multiplier >= 1.0 && c->multiplier <= 100.0))
    return rein__invalid(err, "backoff.multiplier: must be in [1, 100], got %g",
                         c->multiplier);
  return REIN_OK;
}

static int64_t clamp_ns(double v, int64_t cap) {
  if (!(v > 0)) return 0;
  if (v >= (double)cap) return cap;
  return (int64_t)v;
}

int64_t rein_backoff_ceiling(const rein_backoff_config *c, uint32_t n) {
  if (n == 0) n = 1;
  if (c->jitter == REIN_JITTER_DECORRELATED)
    return clamp_ns((double)c->base_ns * pow(3.0, (double)n), c->cap_ns);
  switch (c->kind) {
  case REIN_BACKOFF_NONE:
    return 0;
  case REIN_BACKOFF_CONSTANT:
    return c->base_ns < c->cap_ns ? c->base_ns : c->cap_ns;
  case REIN_BACKOFF_LINEAR:
    return clamp_ns((double)c->base_ns * (double)n, c->cap_ns);
  case REIN_BACKOFF_EXPONENTIAL:
    return clamp_ns((double)c->base_ns * pow(c->multiplier, (double)(n - 1)),
                    c->cap_ns);
  }
  return 0;
}

int64_t rein_backoff_delay(const rein_backoff_config *c, uint32_t n,
                           int64_t prev_ns, rein_rng *rng) {
  if (c->jitter == REIN_JITTER_DECORRELATED) {
    /* min(cap, U(base, 3 * prev)): draw over the whole range and clamp
     * after, so a call that has reached the cap stays there with
     * probability 1 - (cap - base) / (3 prev - base), as the AWS
     * "decorrelated jitter" formula does. Clamping the range first
     * (U(base, min(cap, 3 prev))) would never return the cap. The upper
     * end is bounded only so 3 * prev cannot overflow (prev may be a
     * server delay floor, far above the cap). */
    int64_t prev = prev_ns > 0 ? prev_ns : c->base_ns;
    if (prev > INT64_MAX / 4) prev = INT64_MAX / 4;
    int64_t hi = 3 * prev;
    if (hi <= c->base_ns) return c->base_ns;
    int64_t d = rein_rng_range(rng, c->base_ns, hi);
    return d < c->cap_ns ? d : c->cap_ns;
  }
  int64_t v = rein_backoff_ceiling(c, n);
  switch (c->jitter) {
  case REIN_JITTER_NONE:
    return v;
  case REIN_JITTER_FULL:
    return rein_rng_range(rng, 0, v);
  case REIN_JITTER_EQUAL:
    return v / 2 + rein_rng_range(rng, 0, v - v / 2);
  default:
    return v;
  }
}

static const char *const kind_names[] = {"none", "constant", "linear",
                                         "exponential"};
static const char *const jitter_names[] = {"none", "full", "equal",
                                           "decorrelated"};

const char *rein_backoff_kind_name(rein_backoff_kind k) {
  return (unsigned)k < 4 ? kind_names[k] : "unknown";
}

const char *rein_jitter_name(rein_jitter j) {
  return (unsigned)j < 4 ? jitter_names[j] : "unknown";
}

rein_status rein_backoff_kind_parse(const char *s, rein_backoff_kind *out) {
  for (int i = 0; s && i < 4; i++)
    if (strcmp(s, kind_names[i]) == 0) {
      *out = (rein_backoff_kind)i;
      return REIN_OK;
    }
  return REIN_EINVAL;
}

rein_status rein_jitter_parse(const char *s, rein_jitter *out) {
  for (int i = 0; s && i < 4; i++)
    if (strcmp(s, jitter_names[i]) == 0) {
      *out = (rein_jitter)i;
      return REIN_OK;
    }
  return REIN_EINVAL;
}
