/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_admit.c: libFuzzer target for admission control.
 *
 * The input is read three ways:
 *   - as a Rein-Attempt header value (rein_admit_parse_attempt must give
 *     1..1000 and never read past the end);
 *   - its first four bytes as a configuration (limit, queue, retry
 *     threshold, LIFO, don't-retry policy, rate limit, adaptive limit);
 *   - the rest as a sequence of operations on eight tickets (try with an
 *     attempt number, poll, release, cancel, settle, set_limit) at
 *     advancing times.
 * After every operation the admit's gauges must equal the driver's own book
 * of ticket states, and every rejection's headers must round-trip through
 * the client's parser (rein_signals) to a delay floor equal to the
 * Retry-After sent. Any violation aborts.
 */
#include "rein/admit.h"
#include "rein/signal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NT 8
#define MS REIN_NS_PER_MS

enum { B_FREE, B_QUEUED, B_ADMITTED };

typedef struct drv {
  rein_admit *a;
  rein_admit_ticket t[NT];
  int st[NT];
  bool changed[NT];
  int64_t now;
} drv;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_admit: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static void on_notify(void *ctx, rein_admit_ticket *t) {
  drv *d = ctx;
  int i = (int)(uintptr_t)t->user;
  CHECK(i >= 0 && i < NT && d->st[i] == B_QUEUED);
  d->changed[i] = true;
}

static void round_trip(const rein_admit_decision *dec) {
  rein_admit_response r;
  CHECK(rein_admit_headers(dec, 3600 * REIN_NS_PER_S, &r) == REIN_OK);
  if (dec->result != REIN_ADMIT_REJECTED || dec->reason == REIN_ADMIT_R_NONE)
    return;
  CHECK(r.status == 503 || r.status == 429);
  rein_signals s;
  rein_signals_init(&s);
  for (size_t i = 0; i < r.count; i++)
    CHECK(rein_signals_feed(&s, r.headers[i].name, strlen(r.headers[i].name),
                            r.headers[i].value, strlen(r.headers[i].value),
                            0) == REIN_OK);
  CHECK(s.malformed == 0);
  int64_t want = (dec->retry_after_ns + REIN_NS_PER_S - 1) / REIN_NS_PER_S *
                 REIN_NS_PER_S;
  CHECK(s.retry_after_ns == want);
  CHECK(rein_signals_delay_floor(&s) >= want);
  CHECK(s.dont_retry == dec->dont_retry);
  CHECK(s.idem_retention_ns == 3600 * REIN_NS_PER_S);
}

static void learn(drv *d, int i, rein_admit_result r) {
  d->st[i] = r == REIN_ADMIT_ADMITTED ? B_ADMITTED
             : r == REIN_ADMIT_QUEUED ? B_QUEUED
                                      : B_FREE;
}

static void drain(drv *d) {
  for (int i = 0; i < NT; i++) {
    if (!d->changed[i]) continue;
    d->changed[i] = false;
    rein_admit_decision dec;
    rein_admit_result r = rein_admit_poll(d->a, &d->t[i], d->now, &dec);
    CHECK(r != REIN_ADMIT_QUEUED);
    round_trip(&dec);
    learn(d, i, r);
  }
}

static void check(drv *d) {
  rein_admit_stats s;
  rein_admit_stats_get(d->a, d->now, &s);
  uint32_t q = 0, f = 0;
  for (int i = 0; i < NT; i++) {
    q += d->st[i] == B_QUEUED;
    f += d->st[i] == B_ADMITTED;
  }
  CHECK(s.queue_len == q);
  CHECK(s.inflight == f);
  CHECK(s.admitted == s.released + s.inflight);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t at = rein_admit_parse_attempt((const char *)data, size);
  CHECK(at >= 1 && at <= 1000);
  if (size < 4) return 0;

  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = 1 + data[0] % 4;
  c.queue_max = data[1] % 6;
  c.retry_queue_max = data[2] % (c.queue_max + 1);
  c.lifo_when_overloaded = data[3] & 1;
  c.dont_retry = (rein_admit_dont_retry)((data[3] >> 1) % 3);
  c.target_ns = 2 * MS;
  c.interval_ns = 10 * MS;
  c.max_wait_ns = 20 * MS;
  c.rate_window_ns = 30 * MS;
  c.retry_after_min_ns = 0;
  c.retry_after_max_ns = 5 * REIN_NS_PER_S;
  if (data[3] & 8) {
    c.rl_quota = 1 + data[2] % 5;
    c.rl_window_ns = REIN_NS_PER_S;
  }
  if (data[3] & 32) c.retry_after_spread = 1.0;
  if (data[3] & 16) {
    c.adaptive = true;
    c.limit_max = 6;
    c.aimd_latency_ns = 3 * MS;
  }
  drv *d = calloc(1, sizeof *d);
  if (!d) return 0;
  c.notify = on_notify;
  c.notify_ctx = d;
  CHECK(rein_admit_new(&c, &d->a) == REIN_OK);

  for (size_t k = 4; k < size; k++) {
    uint8_t b = data[k];
    int i = (b >> 3) % NT;
    d->now += (int64_t)(b >> 6) * MS + (b & 1);
    rein_admit_decision dec;
    rein_admit_result r;
    switch (b & 7) {
    case 0:
    case 1:
      if (d->st[i] != B_FREE) break;
      d->t[i].user = (void *)(uintptr_t)i;
      r = rein_admit_try(d->a, &d->t[i], (uint32_t)(b >> 6), d->now, &dec);
      CHECK(dec.result == r);
      round_trip(&dec);
      drain(d);
      learn(d, i, r);
      break;
    case 2:
      if (d->st[i] == B_ADMITTED) {
        CHECK(rein_admit_release(d->a, &d->t[i], d->now, -1) == REIN_OK);
        d->st[i] = B_FREE;
        drain(d);
      } else if (d->st[i] == B_FREE) {
        CHECK(rein_admit_release(d->a, &d->t[i], d->now, -1) == REIN_ESTATE);
      }
      break;
    case 3:
      if (d->st[i] != B_QUEUED) break;
      r = rein_admit_poll(d->a, &d->t[i], d->now, &dec);
      d->changed[i] = false;
      round_trip(&dec);
      drain(d);
      learn(d, i, r);
      break;
    case 4:
      if (d->st[i] == B_FREE) break;
      rein_admit_cancel(d->a, &d->t[i], d->now);
      d->st[i] = B_FREE;
      d->changed[i] = false;
      drain(d);
      break;
    case 5:
    case 6:
      rein_admit_settle(d->a, d->now);
      drain(d);
      break;
    case 7:
      CHECK(rein_admit_set_limit(d->a, 1 + (uint32_t)(b >> 5), d->now) ==
            REIN_OK);
      drain(d);
      break;
    }
    check(d);
  }
  for (int i = 0; i < NT; i++) {
    if (d->st[i] != B_FREE) rein_admit_cancel(d->a, &d->t[i], d->now);
    d->st[i] = B_FREE;
    d->changed[i] = false;
    drain(d);
  }
  for (int i = 0; i < NT; i++) {
    /* Cancelling may have handed slots to others: release those too. */
    if (d->st[i] == B_ADMITTED) {
      rein_admit_release(d->a, &d->t[i], d->now, -1);
      d->st[i] = B_FREE;
    }
  }
  check(d);
  rein_admit_free(d->a);
  free(d);
  return 0;
}
