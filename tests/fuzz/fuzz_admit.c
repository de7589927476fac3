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
 *
 * When bit 2 of the fourth byte is set, the same operations run in lock
 * step on a private admit and a shared one (rein_admit_new_shared, in a
 * block of this process's memory) with the same configuration and no
 * notify callback (the driver polls every queued ticket instead): rein/
 * admit.h promises the same decisions, so every result, every decision
 * field and the gauges after every operation must be equal; the shared
 * one is also reconfigured (rein_admit_shared_reconfigure, to the same
 * settings) and asked to reclaim a process that is not there, which must
 * change nothing.
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
  /* lock-step mode: the shared twin, its tickets, its block */
  rein_admit *b;
  rein_admit_ticket tb[NT];
  void *mem;
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

/* The private and the shared admit decided alike. */
static void same(const rein_admit_decision *x, const rein_admit_decision *y) {
  CHECK(x->result == y->result);
  CHECK(x->reason == y->reason);
  CHECK(x->attempt == y->attempt);
  CHECK(x->overloaded == y->overloaded);
  CHECK(x->dont_retry == y->dont_retry);
  CHECK(x->retry_after_ns == y->retry_after_ns);
  CHECK(x->waited_ns == y->waited_ns);
  CHECK(x->queue_len == y->queue_len);
  CHECK(x->rl_quota == y->rl_quota);
  CHECK(x->rl_window_s == y->rl_window_s);
  CHECK(x->rl_remaining == y->rl_remaining);
  CHECK(x->rl_reset_s == y->rl_reset_s);
}

static rein_admit_result do_try(drv *d, int i, uint32_t attempt,
                                rein_admit_decision *dec) {
  rein_admit_result r = rein_admit_try(d->a, &d->t[i], attempt, d->now, dec);
  if (d->b) {
    rein_admit_decision e;
    d->tb[i].user = d->t[i].user;
    CHECK(rein_admit_try(d->b, &d->tb[i], attempt, d->now, &e) == r);
    same(dec, &e);
  }
  return r;
}

static rein_admit_result do_poll(drv *d, int i, rein_admit_decision *dec) {
  rein_admit_result r = rein_admit_poll(d->a, &d->t[i], d->now, dec);
  if (d->b) {
    rein_admit_decision e;
    CHECK(rein_admit_poll(d->b, &d->tb[i], d->now, &e) == r);
    same(dec, &e);
  }
  return r;
}

static rein_status do_release(drv *d, int i) {
  rein_status st = rein_admit_release(d->a, &d->t[i], d->now, -1);
  if (d->b) CHECK(rein_admit_release(d->b, &d->tb[i], d->now, -1) == st);
  return st;
}

static void do_cancel(drv *d, int i) {
  rein_admit_cancel(d->a, &d->t[i], d->now);
  if (d->b) rein_admit_cancel(d->b, &d->tb[i], d->now);
}

static void do_settle(drv *d) {
  rein_admit_settle(d->a, d->now);
  if (d->b) rein_admit_settle(d->b, d->now);
}

static rein_status do_set_limit(drv *d, uint32_t limit) {
  rein_status st = rein_admit_set_limit(d->a, limit, d->now);
  if (d->b) CHECK(rein_admit_set_limit(d->b, limit, d->now) == st);
  return st;
}

static void drain(drv *d) {
  for (int i = 0; i < NT; i++) {
    /* Without notify (lock step), every queued ticket is polled. */
    if (d->b ? d->st[i] != B_QUEUED : !d->changed[i]) continue;
    d->changed[i] = false;
    rein_admit_decision dec;
    rein_admit_result r = do_poll(d, i, &dec);
    if (!d->b) CHECK(r != REIN_ADMIT_QUEUED);
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
  if (d->b) {
    rein_admit_stats u;
    rein_admit_stats_get(d->b, d->now, &u);
    CHECK(u.admitted == s.admitted && u.queued == s.queued);
    CHECK(u.released == s.released && u.cancelled == s.cancelled);
    for (int k = 0; k < REIN_ADMIT_R_COUNT_; k++)
      CHECK(u.rejected[k] == s.rejected[k]);
    CHECK(u.inflight == s.inflight && u.queue_len == s.queue_len);
    CHECK(u.limit == s.limit && u.overloaded == s.overloaded);
    CHECK(u.drain_rate == s.drain_rate);
  }
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
  bool lockstep = data[3] & 4;
  if (!lockstep) {
    c.notify = on_notify;
    c.notify_ctx = d;
  }
  CHECK(rein_admit_new(&c, &d->a) == REIN_OK);
  size_t msize = 0;
  if (lockstep) {
    msize = rein_admit_shared_size(&c);
    CHECK(msize > 0);
    d->mem = malloc(msize);
    if (!d->mem) {
      rein_admit_free(d->a);
      free(d);
      return 0;
    }
    CHECK(rein_admit_new_shared(&c, d->mem, msize, &d->b) == REIN_OK);
    rein_admit *again = NULL;
    CHECK(rein_admit_attach_shared(d->mem, msize, &again) == REIN_OK);
    CHECK(again != NULL);
  }

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
      r = do_try(d, i, (uint32_t)(b >> 6), &dec);
      CHECK(dec.result == r);
      round_trip(&dec);
      drain(d);
      learn(d, i, r);
      break;
    case 2:
      if (d->st[i] == B_ADMITTED) {
        CHECK(do_release(d, i) == REIN_OK);
        d->st[i] = B_FREE;
        drain(d);
      } else if (d->st[i] == B_FREE) {
        CHECK(do_release(d, i) == REIN_ESTATE);
      }
      break;
    case 3:
      if (d->st[i] != B_QUEUED) break;
      r = do_poll(d, i, &dec);
      d->changed[i] = false;
      round_trip(&dec);
      drain(d);
      learn(d, i, r);
      break;
    case 4:
      if (d->st[i] == B_FREE) break;
      do_cancel(d, i);
      d->st[i] = B_FREE;
      d->changed[i] = false;
      drain(d);
      break;
    case 5:
      if (d->b && (b & 0x80) && !c.adaptive) {
        /* the same settings again (at the limit the private one has now),
         * and a process that is not there */
        rein_admit_stats s;
        rein_admit_stats_get(d->a, d->now, &s);
        rein_admit_config same_cfg = c;
        same_cfg.limit = s.limit;
        uint32_t n = 1;
        /* a limit past what the block was sized for is refused, and
         * changes nothing */
        rein_status want = rein_admit_shared_size(&same_cfg) > msize
                               ? REIN_EINVAL
                               : REIN_OK;
        CHECK(rein_admit_shared_reconfigure(d->b, &same_cfg, d->now) == want);
        CHECK(rein_admit_reclaim(d->b, 0x7ffffff0, d->now, &n) == REIN_OK);
        CHECK(n == 0);
        drain(d);
        break;
      }
      /* fall through */
    case 6:
      do_settle(d);
      drain(d);
      break;
    case 7:
      CHECK(do_set_limit(d, 1 + (uint32_t)(b >> 5)) == REIN_OK);
      drain(d);
      break;
    }
    check(d);
  }
  for (int i = 0; i < NT; i++) {
    if (d->st[i] != B_FREE) do_cancel(d, i);
    d->st[i] = B_FREE;
    d->changed[i] = false;
    drain(d);
  }
  for (int i = 0; i < NT; i++) {
    /* Cancelling may have handed slots to others: release those too. */
    if (d->st[i] == B_ADMITTED) {
      do_release(d, i);
      d->st[i] = B_FREE;
    }
  }
  check(d);
  rein_admit_free(d->a);
  rein_admit_free(d->b); /* a no-op: the block is ours */
  free(d->mem);
  free(d);
  return 0;
}
