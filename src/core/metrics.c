/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: striped counters per policy and their Prometheus text form.
 *
 * Each stripe is a cache-line-aligned block of all counters; a thread adds
 * to its own stripe with a relaxed fetch_add and a reader sums the stripes.
 * Totals are therefore exact once writers are quiet and never torn.
 */
#include "rein/metrics.h"
#include "rein/retry.h"

#include "internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NSLOTS (REIN_C_COUNT_ + REIN_GIVEUP_COUNT_)
#define SLOTS_PADDED ((NSLOTS + 7) / 8 * 8)

struct rein_metrics {
  char policy[65];
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  _Atomic uint64_t *cells; /* [REIN__STRIPES][SLOTS_PADDED] */
};

void rein_metrics_config_default(rein_metrics_config *c) {
  memset(c, 0, sizeof *c);
  c->policy = "default";
}

rein_status rein_metrics_new(const rein_metrics_config *c, rein_metrics **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  const char *p = c->policy ? c->policy : "default";
  size_t n = strlen(p);
  if (n < 1 || n > 64)
    return rein__invalid(c->err, "metrics.policy: must be 1..64 characters, got %zu",
                         n);
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
          ch == '-'))
      return rein__invalid(c->err,
                           "metrics.policy: character %zu ('%c') not in "
                           "[A-Za-z0-9_.:-]",
                           i, ch);
  }
  rein_metrics *m = rein__calloc(c->alloc, sizeof *m);
  if (!m) return REIN_ENOMEM;
  if (c->alloc) {
    m->alloc_copy = *c->alloc;
    m->alloc = &m->alloc_copy;
  }
  memcpy(m->policy, p, n + 1);
  m->cells = rein__alloc_aligned(m->alloc, (size_t)REIN__STRIPES *
                                               SLOTS_PADDED * sizeof(uint64_t));
  if (!m->cells) {
    rein__free(m->alloc, m);
    return REIN_ENOMEM;
  }
  *out = m;
  return REIN_OK;
}

void rein_metrics_free(rein_metrics *m) {
  if (!m) return;
  rein__free_aligned(m->alloc, (void *)m->cells);
  rein__free(m->alloc, m);
}

static void add_slot(rein_metrics *m, unsigned slot, uint64_t n) {
  size_t i = (size_t)rein__thread_stripe() * SLOTS_PADDED + slot;
  atomic_fetch_add_explicit(&m->cells[i], n, memory_order_relaxed);
}

static uint64_t get_slot(const rein_metrics *m, unsigned slot) {
  uint64_t s = 0;
  for (unsigned i = 0; i < REIN__STRIPES; i++)
    s += atomic_load_explicit(&m->cells[(size_t)i * SLOTS_PADDED + slot],
                              memory_order_relaxed);
  return s;
}

void rein_metrics_add(rein_metrics *m, rein_counter c, uint64_t n) {
  if (!m || (unsigned)c >= REIN_C_COUNT_) return;
  add_slot(m, (unsigned)c, n);
}

void rein_metrics_add_giveup(rein_metrics *m, int reason) {
  if (!m || reason < 0 || reason >= REIN_GIVEUP_COUNT_) return;
  add_slot(m, REIN_C_COUNT_ + (unsigned)reason, 1);
}

uint64_t rein_metrics_get(const rein_metrics *m, rein_counter c) {
  if (!m || (unsigned)c >= REIN_C_COUNT_) return 0;
  return get_slot(m, (unsigned)c);
}

uint64_t rein_metrics_get_giveup(const rein_metrics *m, int reason) {
  if (!m || reason < 0 || reason >= REIN_GIVEUP_COUNT_) return 0;
  return get_slot(m, REIN_C_COUNT_ + (unsigned)reason);
}

static const struct {
  const char *name, *help;
} counter_info[REIN_C_COUNT_] = {
    {"rein_calls_total", "Logical calls begun."},
    {"rein_attempts_total", "Attempts sent, first attempts and retries."},
    {"rein_retries_total", "Attempts after the first."},
    {"rein_successes_total", "Calls that succeeded."},
    {"rein_giveups_total", "Calls that gave up, by reason."},
    {"rein_budget_rejections_total", "Retries refused by the retry budget."},
    {"rein_throttled_total", "Attempts rejected locally by adaptive throttling."},
    {"rein_breaker_rejections_total", "Attempts refused by an open breaker."},
    {"rein_breaker_opened_total", "Breaker transitions to open."},
    {"rein_breaker_half_opened_total", "Breaker transitions to half-open."},
    {"rein_breaker_closed_total", "Breaker transitions to closed."},
    {"rein_server_delays_total", "Retries whose delay a server signal raised."},
};

const char *rein_counter_name(rein_counter c) {
  return (unsigned)c < REIN_C_COUNT_ ? counter_info[c].name : "unknown";
}

typedef struct {
  char *buf;
  size_t cap, len;
} out_buf;

static void emit(out_buf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void emit(out_buf *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = o->len < o->cap ? o->cap - o->len : 0;
  int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

rein_status rein_metrics_write_prometheus(const rein_metrics *m, char *buf,
                                          size_t cap, size_t *needed,
                                          bool with_help) {
  if (!m || (!buf && cap)) return REIN_EINVAL;
  out_buf o = {buf, cap, 0};
  for (unsigned c = 0; c < REIN_C_COUNT_; c++) {
    if (with_help)
      emit(&o, "# HELP %s %s\n# TYPE %s counter\n", counter_info[c].name,
           counter_info[c].help, counter_info[c].name);
    if (c == REIN_C_GIVEUPS) {
      for (int r = 1; r < REIN_GIVEUP_COUNT_; r++)
        emit(&o, "%s{policy=\"%s\",reason=\"%s\"} %llu\n", counter_info[c].name,
             m->policy, rein_giveup_name((rein_giveup)r),
             (unsigned long long)rein_metrics_get_giveup(m, r));
    } else {
      emit(&o, "%s{policy=\"%s\"} %llu\n", counter_info[c].name, m->policy,
           (unsigned long long)rein_metrics_get(m, (rein_counter)c));
    }
  }
  if (needed) *needed = o.len;
  if (o.len >= cap) {
    if (cap) buf[cap - 1] = '\0';
    return REIN_ETOOBIG;
  }
  return REIN_OK;
}
