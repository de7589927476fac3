/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_signal.c: libFuzzer target for every server-signal parser.
 *
 * The input is copied into a malloc'd buffer of exactly its size, so ASan
 * reports any read past `len` (the parsers get no NUL terminator). Each
 * parser gets the whole input; rein_signals_feed gets it under every known
 * header name, and once more split into a name and a value at the first
 * ':' so the name matching is fuzzed too. Beyond "no crash, no UB", the
 * target checks the contract: statuses are OK or EPARSE, a failing parse
 * leaves its output untouched, and every delay is within [0, 6 h].
 */
#include "rein/signal.h"

#include <stdlib.h>
#include <string.h>

#define MAX REIN_SIGNAL_MAX_DELAY_NS
#define CANARY INT64_C(-777)

static void check(int cond) {
  if (!cond) abort();
}

static int64_t now_from(const uint8_t *d, size_t n) {
  /* A "now" derived from the input: around the present, or anything. */
  uint64_t v = 0;
  for (size_t i = 0; i < n && i < 8; i++) v = (v << 8) | d[n - 1 - i];
  if (n && (d[0] & 1)) return (int64_t)v;
  return INT64_C(1795910400) * REIN_NS_PER_S +
         (int64_t)(v % (UINT64_C(200) * 365 * 86400)) * REIN_NS_PER_S -
         INT64_C(100) * 365 * 86400 * REIN_NS_PER_S;
}

static void one(const char *b, size_t n, int64_t now) {
  int64_t d = CANARY;
  rein_status st = rein_signal_retry_after(b, n, now, &d);
  check(st == REIN_OK || st == REIN_EPARSE);
  check(st == REIN_OK ? (d >= 0 && d <= MAX) : d == CANARY);

  bool stop = false;
  d = CANARY;
  check(rein_signal_grpc_pushback(b, n, &d, &stop) == REIN_OK);
  check(d >= 0 && d <= MAX);
  check(!stop || d == 0);

  rein_ratelimit r = {CANARY, CANARY, CANARY, CANARY};
  st = rein_signal_ratelimit(b, n, &r);
  check(st == REIN_OK || st == REIN_EPARSE);
  if (st == REIN_OK) {
    check(r.limit >= -1 && r.remaining >= -1);
    check(r.reset_ns >= -1 && r.reset_ns <= MAX);
    check(r.window_ns >= -1 && r.window_ns <= MAX);
  } else {
    check(r.limit == CANARY && r.remaining == CANARY &&
          r.reset_ns == CANARY && r.window_ns == CANARY);
  }

  bool v = true;
  st = rein_signal_dont_retry(b, n, &v);
  check(st == REIN_OK || (st == REIN_EPARSE && v));

  /* Deadlines: a value in [0, max] or REIN_EPARSE with the output kept;
   * what grpc-timeout_format writes parses back to at most the value. */
  for (int g = 0; g < 2; g++) {
    d = CANARY;
    st = g ? rein_signal_grpc_timeout(b, n, &d) : rein_signal_timeout_ms(b, n, &d);
    check(st == REIN_OK || st == REIN_EPARSE);
    check(st == REIN_OK ? (d >= 0 && d <= REIN_SIGNAL_MAX_DEADLINE_NS)
                        : d == CANARY);
    if (st == REIN_OK && d > 0) {
      char f[32];
      size_t fl = rein_signal_grpc_timeout_format(d, f, sizeof f);
      int64_t back = -1;
      check(fl > 0 && rein_signal_grpc_timeout(f, fl, &back) == REIN_OK);
      check(back >= 0 && back <= d);
    }
  }
  rein_deadline_in di;
  rein_deadline_in_init(&di);
  static const char *const dnames[] = {
      REIN_HEADER_DEADLINE, REIN_HEADER_GRPC_TIMEOUT,
      REIN_HEADER_CONNECT_TIMEOUT, REIN_HEADER_ENVOY_EXPECTED_TIMEOUT};
  for (size_t i = 0; i < 4; i++) {
    st = rein_deadline_in_feed(&di, dnames[i], strlen(dnames[i]), b, n);
    check(st == REIN_OK || (st == REIN_EPARSE && di.malformed));
  }
  check(di.left_ns >= -1 && di.left_ns <= REIN_SIGNAL_MAX_DEADLINE_NS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *b = malloc(size ? size : 1);
  if (!b) return 0;
  if (size) memcpy(b, data, size);
  int64_t now = now_from(data, size);
  one(b, size, now);

  static const char *const names[] = {
      REIN_HEADER_RETRY_AFTER, REIN_HEADER_GRPC_PUSHBACK,
      REIN_HEADER_RATELIMIT,   REIN_HEADER_RATELIMIT_POLICY,
      REIN_HEADER_DONT_RETRY,  REIN_HEADER_IDEM_RETENTION};
  rein_signals s;
  rein_signals_init(&s);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    check(rein_signals_feed(&s, names[i], strlen(names[i]), b, size, now) ==
          REIN_OK);
  int64_t f = rein_signals_delay_floor(&s);
  check(f >= 0 && f <= MAX);
  check(s.malformed <= 6);

  /* "Name: value" */
  char *colon = size ? memchr(b, ':', size) : NULL;
  if (colon) {
    size_t nl = (size_t)(colon - b);
    rein_signals_init(&s);
    check(rein_signals_feed(&s, b, nl, colon + 1, size - nl - 1, now) ==
          REIN_OK);
    f = rein_signals_delay_floor(&s);
    check(f >= 0 && f <= MAX);
  }
  free(b);
  return 0;
}
