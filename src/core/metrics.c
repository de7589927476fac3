/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.c: striped counters and histograms per policy, gauges read from
 * a watched budget and breaker, and their Prometheus text form.
 *
 * Each stripe is a cache-line-aligned block of all cells (counters, give-ups
 * by reason, then each histogram's buckets and sum); a thread adds to its
 * own stripe with a relaxed fetch_add and a reader sums the stripes. Totals
 * are therefore exact once writers are quiet and never torn. Histogram
 * buckets are stored per bucket (not cumulative), so one observation is one
 * fetch_add on its bucket and one on the sum; the writer accumulates. The
 * bucket is found by binary search over static bounds (A66's latency
 * boundaries for durations, small integers for counts). Several objects are
 * written family by family, so that a page with many policies still has
 * each metric family once.
 */
#include "rein/metrics.h"
#include "rein/breaker.h"
#include "rein/budget.h"
#include "rein/retry.h"

#include "internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NS_US 1000LL
#define NS_MS 1000000LL
#define NS_S 1000000000LL

/* gRPC A66's latency bucket boundaries, in nanoseconds. */
static const int64_t latency_bounds[] = {
    0,           10 * NS_US,  50 * NS_US,  100 * NS_US, 300 * NS_US,
    600 * NS_US, 800 * NS_US, 1 * NS_MS,   2 * NS_MS,   3 * NS_MS,
    4 * NS_MS,   5 * NS_MS,   6 * NS_MS,   8 * NS_MS,   10 * NS_MS,
    13 * NS_MS,  16 * NS_MS,  20 * NS_MS,  25 * NS_MS,  30 * NS_MS,
    40 * NS_MS,  50 * NS_MS,  65 * NS_MS,  80 * NS_MS,  100 * NS_MS,
    130 * NS_MS, 160 * NS_MS, 200 * NS_MS, 250 * NS_MS, 300 * NS_MS,
    400 * NS_MS, 500 * NS_MS, 650 * NS_MS, 800 * NS_MS, 1 * NS_S,
    2 * NS_S,    5 * NS_S,    10 * NS_S,   20 * NS_S,   50 * NS_S,
    100 * NS_S};
static const int64_t attempt_bounds[] = {1, 2, 3, 4, 5, 6, 8, 10};
/* A96's recommended boundaries for retries per call. */
static const int64_t retry_bounds[] = {1, 2, 3, 4, 5};

#define NB(a) (sizeof(a) / sizeof(a)[0])

static const struct {
  const char *name, *help;
  const int64_t *bounds;
  unsigned n_bounds;
  bool seconds;
} hist_info[REIN_H_COUNT_] = {
    {"rein_attempt_duration_seconds",
     "Time from each attempt's start to its outcome.", latency_bounds,
     NB(latency_bounds), true},
    {"rein_retry_delay_seconds",
     "Delay chosen before each retry, after server signals.", latency_bounds,
     NB(latency_bounds), true},
    {"rein_call_retry_delay_seconds",
     "Total delay between attempts, per call with retries.", latency_bounds,
     NB(latency_bounds), true},
    {"rein_call_attempts", "Attempts per finished call.", attempt_bounds,
     NB(attempt_bounds), false},
    {"rein_call_retries", "Retries per call with at least one retry.",
     retry_bounds, NB(retry_bounds), false},
};

/* Cells of a histogram: one per bound, one for +Inf, one for the sum. */
static unsigned hist_cells(unsigned h) {
  return hist_info[h].n_bounds + 2;
}

#define NCOUNT (REIN_C_COUNT_ + REIN_GIVEUP_COUNT_)

struct rein_metrics {
  char policy[65];
  const rein_allocator *alloc;
  rein_allocator alloc_copy;
  rein_clock clock;
  unsigned hist_base[REIN_H_COUNT_]; /* first cell of each histogram */
  unsigned slots_padded;             /* cells per stripe */
  _Atomic(rein_budget *) budget;
  _Atomic(rein_breaker *) breaker;
  _Atomic uint64_t *cells; /* [REIN__STRIPES][slots_padded] */
};

void rein_metrics_config_default(rein_metrics_config *c) {
  memset(c, 0, sizeof *c);
  c->policy = "default";
  c->clock = rein_clock_monotonic();
}

rein_status rein_metrics_new(const rein_metrics_config *c, rein_metrics **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  const char *p = c->policy ? c->policy : "default";
  size_t n = strlen(p);
  if (n < 1 || n > 64)
    return rein__invalid(
        c->err, "metrics.policy: must be 1..64 characters, got %zu", n);
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
  m->clock = c->clock;
  unsigned slots = NCOUNT;
  for (unsigned h = 0; h < REIN_H_COUNT_; h++) {
    m->hist_base[h] = slots;
    slots += hist_cells(h);
  }
  m->slots_padded = (slots + 7) / 8 * 8;
  atomic_init(&m->budget, NULL);
  atomic_init(&m->breaker, NULL);
  m->cells = rein__alloc_aligned(
      m->alloc, (size_t)REIN__STRIPES * m->slots_padded * sizeof(uint64_t));
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
  size_t i = (size_t)rein__thread_stripe() * m->slots_padded + slot;
  atomic_fetch_add_explicit(&m->cells[i], n, memory_order_relaxed);
}

static uint64_t get_slot(const rein_metrics *m, unsigned slot) {
  uint64_t s = 0;
  for (unsigned i = 0; i < REIN__STRIPES; i++)
    s += atomic_load_explicit(&m->cells[(size_t)i * m->slots_padded + slot],
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

/* The bucket of `v`: the first bound >= v, or n (the +Inf bucket). */
static unsigned bucket_of(const int64_t *b, unsigned n, int64_t v) {
  unsigned lo = 0, hi = n;
  while (lo < hi) {
    unsigned mid = (lo + hi) / 2;
    if (b[mid] >= v)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

void rein_metrics_observe(rein_metrics *m, rein_histogram h, int64_t value) {
  if (!m || (unsigned)h >= REIN_H_COUNT_) return;
  if (value < 0) value = 0;
  unsigned n = hist_info[h].n_bounds;
  unsigned base = m->hist_base[h];
  add_slot(m, base + bucket_of(hist_info[h].bounds, n, value), 1);
  add_slot(m, base + n + 1, (uint64_t)value);
}

rein_status rein_metrics_histogram_get(const rein_metrics *m, rein_histogram h,
                                       rein_histogram_snapshot *out) {
  if (!m || !out || (unsigned)h >= REIN_H_COUNT_) return REIN_EINVAL;
  unsigned n = hist_info[h].n_bounds, base = m->hist_base[h];
  out->n_bounds = n;
  out->bounds = hist_info[h].bounds;
  uint64_t acc = 0;
  for (unsigned i = 0; i <= n; i++) {
    acc += get_slot(m, base + i);
    out->cumulative[i] = acc;
  }
  out->count = acc;
  uint64_t s = get_slot(m, base + n + 1);
  out->sum = s > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)s;
  return REIN_OK;
}

void rein_metrics_watch_budget(rein_metrics *m, struct rein_budget *b) {
  if (m) atomic_store_explicit(&m->budget, b, memory_order_release);
}

void rein_metrics_watch_breaker(rein_metrics *m, struct rein_breaker *b) {
  if (m) atomic_store_explicit(&m->breaker, b, memory_order_release);
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
    {"rein_throttled_total",
     "Attempts rejected locally by adaptive throttling."},
    {"rein_breaker_rejections_total", "Attempts refused by an open breaker."},
    {"rein_breaker_opened_total", "Breaker transitions to open."},
    {"rein_breaker_half_opened_total", "Breaker transitions to half-open."},
    {"rein_breaker_closed_total", "Breaker transitions to closed."},
    {"rein_server_delays_total", "Retries whose delay a server signal raised."},
    {"rein_retention_late_total",
     "Retries sent after the server's key retention had passed."},
    {"rein_hedges_total", "Hedged attempts sent (also counted as retries)."},
    {"rein_hedges_cancelled_total",
     "Attempts in flight cancelled when a hedged call ended."},
};

const char *rein_counter_name(rein_counter c) {
  return (unsigned)c < REIN_C_COUNT_ ? counter_info[c].name : "unknown";
}

const char *rein_histogram_name(rein_histogram h) {
  return (unsigned)h < REIN_H_COUNT_ ? hist_info[h].name : "unknown";
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

/* Nanoseconds as decimal seconds, exactly and without trailing zeros
 * ("0.00001", "1.5", "100"): no rounding and no exponent, so bucket
 * boundaries read back as written. */
static void emit_seconds(out_buf *o, uint64_t ns) {
  uint64_t whole = ns / (uint64_t)NS_S, frac = ns % (uint64_t)NS_S;
  if (!frac) {
    emit(o, "%llu", (unsigned long long)whole);
    return;
  }
  char f[10];
  snprintf(f, sizeof f, "%09llu", (unsigned long long)frac);
  int end = 8;
  while (end > 0 && f[end] == '0')
    end--;
  f[end + 1] = '\0';
  emit(o, "%llu.%s", (unsigned long long)whole, f);
}

static void emit_value(out_buf *o, uint64_t v, bool seconds) {
  if (seconds)
    emit_seconds(o, v);
  else
    emit(o, "%llu", (unsigned long long)v);
}

static void emit_head(out_buf *o, const char *name, const char *help,
                      const char *type) {
  emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void emit_counter(out_buf *o, const rein_metrics *m, unsigned c) {
  if (c == REIN_C_GIVEUPS) {
    for (int r = 1; r < REIN_GIVEUP_COUNT_; r++)
      emit(o, "%s{policy=\"%s\",reason=\"%s\"} %llu\n", counter_info[c].name,
           m->policy, rein_giveup_name((rein_giveup)r),
           (unsigned long long)rein_metrics_get_giveup(m, r));
  } else {
    emit(o, "%s{policy=\"%s\"} %llu\n", counter_info[c].name, m->policy,
         (unsigned long long)rein_metrics_get(m, (rein_counter)c));
  }
}

static void emit_histogram(out_buf *o, const rein_metrics *m, unsigned h) {
  rein_histogram_snapshot s;
  rein_metrics_histogram_get(m, (rein_histogram)h, &s);
  const char *name = hist_info[h].name;
  bool sec = hist_info[h].seconds;
  for (size_t i = 0; i < s.n_bounds; i++) {
    emit(o, "%s_bucket{policy=\"%s\",le=\"", name, m->policy);
    emit_value(o, (uint64_t)s.bounds[i], sec);
    emit(o, "\"} %llu\n", (unsigned long long)s.cumulative[i]);
  }
  emit(o, "%s_bucket{policy=\"%s\",le=\"+Inf\"} %llu\n", name, m->policy,
       (unsigned long long)s.count);
  emit(o, "%s_sum{policy=\"%s\"} ", name, m->policy);
  emit_value(o, (uint64_t)s.sum, sec);
  emit(o, "\n%s_count{policy=\"%s\"} %llu\n", name, m->policy,
       (unsigned long long)s.count);
}

static const char *const breaker_states[] = {"closed", "open", "half_open"};

static void write_page(out_buf *o, const rein_metrics *const *ms, size_t n,
                       int64_t now, bool with_help) {
  for (unsigned c = 0; c < REIN_C_COUNT_; c++) {
    if (with_help)
      emit_head(o, counter_info[c].name, counter_info[c].help, "counter");
    for (size_t i = 0; i < n; i++)
      emit_counter(o, ms[i], c);
  }
  for (unsigned h = 0; h < REIN_H_COUNT_; h++) {
    if (with_help)
      emit_head(o, hist_info[h].name, hist_info[h].help, "histogram");
    for (size_t i = 0; i < n; i++)
      emit_histogram(o, ms[i], h);
  }
  bool any_budget = false, any_breaker = false;
  for (size_t i = 0; i < n; i++) {
    rein_metrics *mi = (rein_metrics *)ms[i];
    any_budget |=
        atomic_load_explicit(&mi->budget, memory_order_acquire) != NULL;
    any_breaker |=
        atomic_load_explicit(&mi->breaker, memory_order_acquire) != NULL;
  }
  if (any_budget) {
    if (with_help)
      emit_head(o, "rein_budget_available",
                "Retries the budget would allow now (tokens, units).", "gauge");
    for (size_t i = 0; i < n; i++) {
      rein_metrics *mi = (rein_metrics *)ms[i];
      rein_budget *b = atomic_load_explicit(&mi->budget, memory_order_acquire);
      if (b)
        emit(o, "rein_budget_available{policy=\"%s\"} %.6g\n", mi->policy,
             rein_budget_available(b, now));
    }
  }
  if (any_breaker) {
    if (with_help)
      emit_head(o, "rein_breaker_state",
                "Breaker state: 1 for the current state, 0 for the others.",
                "gauge");
    for (size_t i = 0; i < n; i++) {
      rein_metrics *mi = (rein_metrics *)ms[i];
      rein_breaker *b =
          atomic_load_explicit(&mi->breaker, memory_order_acquire);
      if (!b) continue;
      rein_breaker_state st = rein_breaker_state_at(b, now);
      for (unsigned s = 0; s < 3; s++)
        emit(o, "rein_breaker_state{policy=\"%s\",state=\"%s\"} %d\n",
             mi->policy, breaker_states[s], (unsigned)st == s ? 1 : 0);
    }
  }
}

static rein_status finish_out(out_buf *o, char *buf, size_t cap,
                              size_t *needed) {
  if (needed) *needed = o->len;
  if (o->len >= cap) {
    if (cap) buf[cap - 1] = '\0';
    return REIN_ETOOBIG;
  }
  return REIN_OK;
}

rein_status rein_metrics_write_prometheus_many(const rein_metrics *const *ms,
                                               size_t n, int64_t now, char *buf,
                                               size_t cap, size_t *needed) {
  if (!ms || n == 0 || (!buf && cap)) return REIN_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (!ms[i]) return REIN_EINVAL;
    for (size_t j = 0; j < i; j++)
      if (strcmp(ms[i]->policy, ms[j]->policy) == 0) return REIN_EINVAL;
  }
  out_buf o = {buf, cap, 0};
  write_page(&o, ms, n, now, true);
  return finish_out(&o, buf, cap, needed);
}

rein_status rein_metrics_write_prometheus(const rein_metrics *m, char *buf,
                                          size_t cap, size_t *needed,
                                          bool with_help) {
  if (!m || (!buf && cap)) return REIN_EINVAL;
  out_buf o = {buf, cap, 0};
  write_page(&o, &m, 1, rein_clock_now(&m->clock), with_help);
  return finish_out(&o, buf, cap, needed);
}
