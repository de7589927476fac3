/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_signal.c: the server-signal parsers, value by value.
 *
 * Every expectation is an exact number: delays in ns, epoch arithmetic
 * checked against dates whose epoch seconds are known (and, in a seeded
 * randomized test, against an independent day-by-day count). Every value is
 * handed to the parser in a malloc'd buffer of exactly its length, so under
 * ASan a read past `len` is a failure, not luck. Malformed input must return
 * REIN_EPARSE and leave the output untouched.
 */
#include "rein_test.h"
#include "rein/signal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S REIN_NS_PER_S
#define MS REIN_NS_PER_MS
#define MAX REIN_SIGNAL_MAX_DELAY_NS
#define UNTOUCHED INT64_C(-777)

/* 1994-11-06T08:49:37Z, the RFC's example date. */
#define T1994 INT64_C(784111777)

/* ------------------------------------------------------------------------ */
/* Exact-length helpers                                                     */
/* ------------------------------------------------------------------------ */

/* A heap copy of exactly n bytes (no terminator), so ASan sees over-reads. */
static char *exact(const char *v, size_t n) {
  char *b = malloc(n ? n : 1);
  assert_non_null(b);
  if (n) memcpy(b, v, n);
  return b;
}

static rein_status ra_n(const char *v, size_t n, int64_t now_ns,
                        int64_t *out) {
  char *b = exact(v, n);
  *out = UNTOUCHED;
  rein_status st = rein_signal_retry_after(b, n, now_ns, out);
  free(b);
  if (st != REIN_OK) assert_int_equal(*out, UNTOUCHED);
  return st;
}

static rein_status ra(const char *v, int64_t now_ns, int64_t *out) {
  return ra_n(v, strlen(v), now_ns, out);
}

/* Retry-After must give exactly `want` ns. */
static void ra_ok(const char *v, int64_t now_ns, int64_t want) {
  int64_t d;
  rein_status st = ra(v, now_ns, &d);
  if (st != REIN_OK) fail_msg("Retry-After \"%s\": status %d", v, (int)st);
  if (d != want)
    fail_msg("Retry-After \"%s\": got %lld ns, want %lld", v, (long long)d,
             (long long)want);
}

static void ra_bad(const char *v, int64_t now_ns) {
  int64_t d;
  rein_status st = ra(v, now_ns, &d);
  if (st != REIN_EPARSE)
    fail_msg("Retry-After \"%s\": want REIN_EPARSE, got %d (%lld ns)", v,
             (int)st, (long long)d);
}

static void gp(const char *v, int64_t want_ns, bool want_stop) {
  size_t n = strlen(v);
  char *b = exact(v, n);
  int64_t d = UNTOUCHED;
  bool stop = !want_stop;
  assert_int_equal(rein_signal_grpc_pushback(b, n, &d, &stop), REIN_OK);
  free(b);
  if (d != want_ns || stop != want_stop)
    fail_msg("pushback \"%s\": got %lld/%d, want %lld/%d", v, (long long)d,
             stop, (long long)want_ns, want_stop);
}

static rein_status rl(const char *v, rein_ratelimit *out) {
  size_t n = strlen(v);
  char *b = exact(v, n);
  out->limit = out->remaining = out->reset_ns = out->window_ns = UNTOUCHED;
  rein_status st = rein_signal_ratelimit(b, n, out);
  free(b);
  if (st != REIN_OK) {
    assert_int_equal(out->limit, UNTOUCHED);
    assert_int_equal(out->remaining, UNTOUCHED);
    assert_int_equal(out->reset_ns, UNTOUCHED);
    assert_int_equal(out->window_ns, UNTOUCHED);
  }
  return st;
}

static void rl_ok(const char *v, int64_t limit, int64_t remaining,
                  int64_t reset_ns, int64_t window_ns) {
  rein_ratelimit r;
  rein_status st = rl(v, &r);
  if (st != REIN_OK) fail_msg("RateLimit '%s': status %d", v, (int)st);
  if (r.limit != limit || r.remaining != remaining || r.reset_ns != reset_ns ||
      r.window_ns != window_ns)
    fail_msg("RateLimit '%s': got %lld/%lld/%lld/%lld want %lld/%lld/%lld/%lld",
             v, (long long)r.limit, (long long)r.remaining,
             (long long)r.reset_ns, (long long)r.window_ns, (long long)limit,
             (long long)remaining, (long long)reset_ns, (long long)window_ns);
}

static void rl_bad(const char *v) {
  rein_ratelimit r;
  rein_status st = rl(v, &r);
  if (st != REIN_EPARSE)
    fail_msg("RateLimit '%s': want REIN_EPARSE, got %d", v, (int)st);
}

static rein_status dr(const char *v, bool *out) {
  size_t n = strlen(v);
  char *b = exact(v, n);
  rein_status st = rein_signal_dont_retry(b, n, out);
  free(b);
  return st;
}

static rein_status feed(rein_signals *s, const char *name, const char *value,
                        int64_t now_ns) {
  size_t nn = strlen(name), vn = strlen(value);
  char *n = exact(name, nn), *v = exact(value, vn);
  rein_status st = rein_signals_feed(s, n, nn, v, vn, now_ns);
  free(n);
  free(v);
  return st;
}

/* ------------------------------------------------------------------------ */
/* Retry-After: delta-seconds                                               */
/* ------------------------------------------------------------------------ */

static void test_retry_after_delta(void **state) {
  (void)state;
  int64_t now = T1994 * S; /* ignored by delta-seconds */
  ra_ok("120", now, 120 * S);
  ra_ok("0", now, 0);
  ra_ok("1", now, S);
  ra_ok("  120\t", now, 120 * S);
  ra_ok("\t \t7 ", now, 7 * S);
  ra_ok("0000000000000000000000000000000000000005", now, 5 * S);
  ra_ok("21599", now, 21599 * S);
  ra_ok("21600", now, MAX);
  ra_ok("21601", now, MAX);
  ra_ok("9223372036854775807", now, MAX);
  ra_ok("9223372036854775808", now, MAX);
  ra_ok("99999999999999999999999999999999999999999999999999", now, MAX);
  ra_ok("120", INT64_MIN, 120 * S);
  ra_ok("120", INT64_MAX, 120 * S);
  ra_bad("", now);
  ra_bad("   ", now);
  ra_bad("\t", now);
  ra_bad("-1", now);
  ra_bad("+1", now);
  ra_bad("1.5", now);
  ra_bad("12a", now);
  ra_bad("1 2", now);
  ra_bad("0x10", now);
  ra_bad("1e3", now);
  ra_bad("soon", now);
  ra_bad("120,", now);
  ra_bad("\xef\xbc\x91", now); /* fullwidth digit one */
  /* Embedded NUL: not a digit, and not the end either. */
  int64_t d;
  assert_int_equal(ra_n("12\0" "3", 4, now, &d), REIN_EPARSE);
  assert_int_equal(ra_n("\0" "12", 3, now, &d), REIN_EPARSE);
  assert_int_equal(ra_n("12\0", 3, now, &d), REIN_EPARSE);
  /* Only `len` bytes count: the rest of the buffer is not the value. */
  assert_int_equal(ra_n("1234", 2, now, &d), REIN_OK);
  assert_int_equal(d, 12 * S);
  assert_int_equal(ra_n("9 junk", 1, now, &d), REIN_OK);
  assert_int_equal(d, 9 * S);
}

static void test_retry_after_args(void **state) {
  (void)state;
  int64_t d = UNTOUCHED;
  assert_int_equal(rein_signal_retry_after("1", 1, 0, NULL), REIN_EINVAL);
  assert_int_equal(rein_signal_retry_after(NULL, 1, 0, &d), REIN_EINVAL);
  assert_int_equal(d, UNTOUCHED);
  assert_int_equal(rein_signal_retry_after(NULL, 0, 0, &d), REIN_EPARSE);
  assert_int_equal(d, UNTOUCHED);
}

/* ------------------------------------------------------------------------ */
/* Retry-After: HTTP-date                                                   */
/* ------------------------------------------------------------------------ */

static void test_retry_after_three_forms(void **state) {
  (void)state;
  int64_t now = (T1994 - 60) * S;
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now, 60 * S);
  ra_ok("Sunday, 06-Nov-94 08:49:37 GMT", now, 60 * S);
  ra_ok("Sun Nov  6 08:49:37 1994", now, 60 * S);
  ra_ok("Sun Nov 06 08:49:37 1994", now, 60 * S);
  /* Optional whitespace around the value. */
  ra_ok(" \tSun, 06 Nov 1994 08:49:37 GMT \t", now, 60 * S);
  /* Sub-second now: the date is a whole second. */
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now + 250 * MS, 59750 * MS);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", T1994 * S - 1, 1);
  /* Exactly now, and in the past: 0. */
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", T1994 * S, 0);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", T1994 * S + 1, 0);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", 1795910400 * S, 0);
  ra_ok("Sat, 01 Jan 0000 00:00:00 GMT", 0, 0);
  /* The weekday is not cross-checked (the date fields decide). */
  ra_ok("Mon, 06 Nov 1994 08:49:37 GMT", now, 60 * S);
  /* Other months and fields, each to the second. */
  ra_ok("Thu, 01 Jan 1970 00:01:00 GMT", 0, 60 * S);
  ra_ok("Thu, 01 Jan 1970 00:00:00 GMT", -60 * S, 60 * S);
  ra_ok("Thu, 01 Jan 1970 00:00:00 GMT", -1, 1);
  ra_ok("Wed, 31 Dec 1969 23:59:59 GMT", -2 * S, S);
  ra_ok("Sun, 29 Nov 2026 01:02:03 GMT", 1795910400 * S, 3723 * S);
  ra_ok("Sunday, 29-Nov-26 01:02:03 GMT", 1795910400 * S, 3723 * S);
  ra_ok("Sun Nov 29 01:02:03 2026", 1795910400 * S, 3723 * S);
}

static void test_retry_after_clamp(void **state) {
  (void)state;
  int64_t now = (T1994 - 21599) * S;
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now, 21599 * S);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now - S, MAX);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now - S + 1, MAX - 1);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", now - 2 * S, MAX);
  ra_ok("Fri, 31 Dec 9999 23:59:59 GMT", 0, MAX);
  ra_ok("Fri Dec 31 23:59:59 9999", INT64_MIN, MAX);
  /* The extremes of now do not overflow anything. */
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MIN, MAX);
  ra_ok("Sun, 06 Nov 1994 08:49:37 GMT", INT64_MAX, 0);
  ra_ok("Sat, 01 Jan 0000 00:00:00 GMT", INT64_MAX, 0);
  ra_ok("Saturday, 01-Jan-00 00:00:00 GMT", INT64_MIN, MAX);
  /* Seen from 2262, "00" is 2300: less than 50 years ahead. */
  ra_ok("Saturday, 01-Jan-00 00:00:00 GMT", INT64_MAX, MAX);
  ra_ok("Friday, 01-Jan-60 00:00:00 GMT", INT64_MAX, 0); /* 2260 */
}

static void test_retry_after_leap_days(void **state) {
  (void)state;
  ra_ok("Thu, 29 Feb 2024 12:00:00 GMT", (1709208000 - 10) * S, 10 * S);
  ra_ok("Tue, 29 Feb 2000 12:00:00 GMT", (951825600 - 10) * S, 10 * S);
  ra_ok("Tue Feb 29 12:00:00 2000", (951825600 - 10) * S, 10 * S);
  /* 2024-02-29 12:00 -> 2024-03-01 00:00 is 12 h: clamped. */
  ra_ok("Fri, 01 Mar 2024 00:00:00 GMT", (1709208000 + 6 * 3600) * S,
        MAX);
  ra_ok("Fri, 01 Mar 2024 00:00:00 GMT", (1709208000 + 12 * 3600 - 5) * S,
        5 * S);
  ra_bad("Wed, 29 Feb 2023 12:00:00 GMT", 0);     /* not a leap year */
  ra_bad("Thu, 29 Feb 1900 12:00:00 GMT", 0);     /* century rule */
  ra_bad("Thu, 30 Feb 2024 12:00:00 GMT", 0);
  ra_ok("Sat, 31 Dec 2016 23:59:60 GMT", 1483228800 * S - S, S); /* leap s */
}

static void test_retry_after_field_ranges(void **state) {
  (void)state;
  int64_t now = 0;
  ra_bad("Sun, 00 Nov 1994 08:49:37 GMT", now);
  ra_bad("Sun, 32 Jan 1994 08:49:37 GMT", now);
  ra_bad("Sun, 31 Apr 1994 08:49:37 GMT", now);
  ra_bad("Sun, 31 Jun 1994 08:49:37 GMT", now);
  ra_bad("Sun, 31 Sep 1994 08:49:37 GMT", now);
  ra_bad("Sun, 31 Nov 1994 08:49:37 GMT", now);
  ra_ok("Sun, 31 Dec 1994 08:49:37 GMT", 788863777 * S, 0);
  ra_bad("Sun, 06 Nov 1994 24:00:00 GMT", now);
  ra_bad("Sun, 06 Nov 1994 08:60:00 GMT", now);
  ra_bad("Sun, 06 Nov 1994 08:49:61 GMT", now);
  ra_bad("Sun, 06 Nov 1994 99:99:99 GMT", now);
  ra_bad("Sun, 06 Foo 1994 08:49:37 GMT", now);
  ra_bad("Sun Nov  0 08:49:37 1994", now);
  ra_bad("Sun Nov 31 08:49:37 1994", now);
  ra_bad("Sunday, 31-Nov-94 08:49:37 GMT", now);
  ra_bad("Sunday, 06-Nov-94 24:49:37 GMT", now);
}

static void test_retry_after_malformed_dates(void **state) {
  (void)state;
  int64_t now = 0;
  /* Case-sensitive, as RFC 9110 5.6.7 says. */
  ra_bad("sun, 06 nov 1994 08:49:37 gmt", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37 gmt", now);
  ra_bad("SUN, 06 NOV 1994 08:49:37 GMT", now);
  /* Wrong separators, widths, zones, trailing bytes. */
  ra_bad("Sun,06 Nov 1994 08:49:37 GMT", now);
  ra_bad("Sun, 6 Nov 1994 08:49:37 GMT", now);
  ra_bad("Sun, 06 Nov 94 08:49:37 GMT", now);
  ra_bad("Sun, 06 Nov 01994 08:49:37 GMT", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37 UTC", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37 +0000", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMTX", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37 GMT x", now);
  ra_bad("Sun, 06 Nov 1994 08:49:37  GMT", now);
  ra_bad("Sun, 06 Nov 1994 8:49:37 GMT", now);
  ra_bad("Sun, 06-Nov-1994 08:49:37 GMT", now);
  ra_bad("Sunday, 06 Nov 1994 08:49:37 GMT", now);
  ra_bad("Sunday, 06-Nov-1994 08:49:37 GMT", now);
  ra_bad("Sunday 06-Nov-94 08:49:37 GMT", now);
  ra_bad("Sun, 06-Nov-94 08:49:37 GMT", now);
  ra_bad("Sun Nov 6 08:49:37 1994", now);
  ra_bad("Sun Nov  6 08:49:37 94", now);
  ra_bad("Sun Nov  6 08:49:37 1994 GMT", now);
  ra_bad("Sun  Nov  6 08:49:37 1994", now);
  ra_bad("Sund, 06 Nov 1994 08:49:37 GMT", now);
  ra_bad("Xyz, 06 Nov 1994 08:49:37 GMT", now);
  ra_bad("Sun", now);
  ra_bad("Sunday", now);
  ra_bad(",", now);
  /* An embedded NUL anywhere breaks the date. */
  const char *v = "Sun, 06 Nov 1994 08:49:37 GMT";
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++) {
    char buf[64];
    memcpy(buf, v, n);
    buf[i] = '\0';
    int64_t d;
    if (ra_n(buf, n, now, &d) != REIN_EPARSE)
      fail_msg("NUL at %zu accepted", i);
  }
}

/* Every proper prefix of a valid date is malformed (and read exactly). */
static void test_retry_after_truncated(void **state) {
  (void)state;
  const char *dates[] = {"Sun, 06 Nov 1994 08:49:37 GMT",
                         "Sunday, 06-Nov-94 08:49:37 GMT",
                         "Sun Nov  6 08:49:37 1994"};
  int64_t now = (T1994 - 60) * S;
  for (size_t k = 0; k < 3; k++) {
    size_t n = strlen(dates[k]);
    int64_t d;
    assert_int_equal(ra_n(dates[k], n, now, &d), REIN_OK);
    assert_int_equal(d, 60 * S);
    for (size_t len = 0; len < n; len++) {
      rein_status st = ra_n(dates[k], len, now, &d);
      /* A prefix ending at a space is trimmed to a shorter prefix. */
      if (st != REIN_EPARSE)
        fail_msg("prefix %zu of \"%s\" gave %d", len, dates[k], (int)st);
    }
  }
}

/* RFC 9110 5.6.7: a two-digit year more than 50 years ahead is in the past. */
static void test_rfc850_two_digit_years(void **state) {
  (void)state;
  /* now = 1999-12-31 23:59:00: "00" is 2000, "99" is 1999. */
  int64_t now = INT64_C(946684740) * S;
  ra_ok("Friday, 31-Dec-99 23:59:59 GMT", now, 59 * S);
  ra_ok("Saturday, 01-Jan-00 00:00:00 GMT", now, 60 * S);
  ra_ok("Saturday, 01-Jan-00 00:00:00 GMT", now + 30 * S, 30 * S);
  /* 29 Feb 00 exists in 2000 (2 months ahead: clamped)... */
  ra_ok("Tuesday, 29-Feb-00 12:00:00 GMT", now, MAX);
  /* ... but seen from 1950 "00" is 1900, which had no 29 February. */
  int64_t y1950 = INT64_C(-631152000) * S;
  ra_bad("Tuesday, 29-Feb-00 12:00:00 GMT", y1950);
  ra_ok("Thursday, 01-Mar-00 00:00:00 GMT", y1950, 0); /* 1900: past */
  /* 50 years from 1950-01-01 (in average Gregorian years) is 2000-01-01
   * 03:00: midnight is within, March is not. */
  ra_ok("Saturday, 01-Jan-00 00:00:00 GMT", y1950, MAX);
  /* From 1994 the example date is 1994. */
  ra_ok("Sunday, 06-Nov-94 08:49:37 GMT", (T1994 - 60) * S, 60 * S);
  /* From 2026-11-29: "94" is 1994 (past), "76" in January is 2076 (less
   * than 50 years ahead: clamped), "76" in December is more than 50 years
   * ahead, so 1976 (past). */
  int64_t y2026 = INT64_C(1795910400) * S;
  ra_ok("Sunday, 06-Nov-94 08:49:37 GMT", y2026, 0);
  ra_ok("Wednesday, 01-Jan-76 00:00:00 GMT", y2026, MAX);
  ra_ok("Tuesday, 01-Dec-76 00:00:00 GMT", y2026, 0);
  ra_ok("Sunday, 29-Nov-26 00:00:10 GMT", y2026, 10 * S);
  /* The exact edge: 50 average Gregorian years (50 x 365.2425 days) after
   * 2026-11-29T00:00:00Z is 2076-11-28T03:00:00Z. At it: 2076; past it:
   * more than 50 years ahead, so 1976. */
  ra_ok("Saturday, 28-Nov-76 03:00:00 GMT", y2026, MAX);
  ra_ok("Saturday, 28-Nov-76 03:00:01 GMT", y2026, 0);
}

/* An independent epoch count (year by year, month by month) to check the
 * era arithmetic against, over random dates in all three forms. */
static int64_t slow_epoch(int y, int mo, int d, int h, int mi, int s) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = 0;
  for (int yy = 1970; yy < y; yy++)
    days += 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
  for (int yy = y; yy < 1970; yy++)
    days -= 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  for (int m = 1; m < mo; m++) days += dim[m - 1] + (m == 2 && leap);
  days += d - 1;
  return days * 86400 + h * 3600 + mi * 60 + s;
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static void test_dates_randomized(void **state) {
  (void)state;
  static const char *mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static const char *wd[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                              "Sun"};
  static const char *wdl[7] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                               "Friday", "Saturday", "Sunday"};
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  uint64_t x = rein_test_seed();
  for (int i = 0; i < 3000; i++) {
    int y = 1700 + (int)(splitmix(&x) % 560); /* int64 ns: 1678..2261 */
    int mo = 1 + (int)(splitmix(&x) % 12);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int d = 1 + (int)(splitmix(&x) % (uint64_t)(dim[mo - 1] +
                                                  (mo == 2 && leap)));
    int h = (int)(splitmix(&x) % 24), mi = (int)(splitmix(&x) % 60);
    int s = (int)(splitmix(&x) % 60);
    int64_t t = slow_epoch(y, mo, d, h, mi, s);
    int64_t ahead = (int64_t)(splitmix(&x) % 21600); /* < 6 h */
    int64_t frac = (int64_t)(splitmix(&x) % (uint64_t)S);
    int64_t now = (t - ahead) * S - frac;
    int64_t want = ahead * S + frac;
    /* 1970-01-01 was a Thursday (index 3). */
    int w = (int)(((t / 86400 % 7) + 7 + 3 - (t < 0 && t % 86400 ? 1 : 0)) %
                  7);
    char buf[3][64];
    snprintf(buf[0], sizeof buf[0], "%s, %02d %s %04d %02d:%02d:%02d GMT",
             wd[w], d, mon[mo - 1], y, h, mi, s);
    snprintf(buf[1], sizeof buf[1], "%s, %02d-%s-%02d %02d:%02d:%02d GMT",
             wdl[w], d, mon[mo - 1], y % 100, h, mi, s);
    snprintf(buf[2], sizeof buf[2], "%s %s %2d %02d:%02d:%02d %04d", wd[w],
             mon[mo - 1], d, h, mi, s, y);
    for (int k = 0; k < 3; k++) {
      int64_t got;
      rein_status st = ra(buf[k], now, &got);
      if (st != REIN_OK || got != want)
        fail_msg("\"%s\" now=%lld: status %d, got %lld want %lld", buf[k],
                 (long long)now, (int)st, (long long)got, (long long)want);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* grpc-retry-pushback-ms                                                   */
/* ------------------------------------------------------------------------ */

static void test_grpc_pushback(void **state) {
  (void)state;
  gp("0", 0, false);
  gp("250", 250 * MS, false);
  gp(" 250\t", 250 * MS, false);
  gp("007", 7 * MS, false);
  gp("-0", 0, false); /* the integer zero */
  gp("21599999", 21599999 * MS, false);
  gp("21600000", MAX, false);
  gp("21600001", MAX, false);
  gp("99999999999999999999999999999", MAX, false);
  /* Negative or not an integer: don't retry. */
  gp("-1", 0, true);
  gp("-250", 0, true);
  gp("-99999999999999999999999999999", 0, true);
  gp("", 0, true);
  gp("   ", 0, true);
  gp("abc", 0, true);
  gp("1.5", 0, true);
  gp("+5", 0, true);
  gp("5ms", 0, true);
  gp("- 5", 0, true);
  gp("--5", 0, true);
  gp("-", 0, true);
  gp("1 2", 0, true);
  /* Exact length, embedded NUL. */
  char *b = exact("12\0" "3", 4);
  int64_t d = 1;
  bool stop = false;
  assert_int_equal(rein_signal_grpc_pushback(b, 4, &d, &stop), REIN_OK);
  assert_true(stop);
  assert_int_equal(d, 0);
  assert_int_equal(rein_signal_grpc_pushback(b, 2, &d, &stop), REIN_OK);
  assert_false(stop);
  assert_int_equal(d, 12 * MS);
  free(b);
  /* Bad arguments: REIN_EINVAL, outputs untouched. */
  d = UNTOUCHED;
  stop = true;
  assert_int_equal(rein_signal_grpc_pushback("1", 1, NULL, &stop),
                   REIN_EINVAL);
  assert_int_equal(rein_signal_grpc_pushback("1", 1, &d, NULL), REIN_EINVAL);
  assert_int_equal(rein_signal_grpc_pushback(NULL, 1, &d, &stop),
                   REIN_EINVAL);
  assert_int_equal(d, UNTOUCHED);
  assert_true(stop);
  assert_int_equal(rein_signal_grpc_pushback(NULL, 0, &d, &stop), REIN_OK);
  assert_true(stop);
  assert_int_equal(d, 0);
}

/* ------------------------------------------------------------------------ */
/* Deadlines                                                                */
/* ------------------------------------------------------------------------ */

#define DMAX REIN_SIGNAL_MAX_DEADLINE_NS

/* want < 0: REIN_EPARSE with the output untouched. */
static void dl(bool grpc, const char *v, int64_t want) {
  size_t n = strlen(v);
  char *b = exact(v, n);
  int64_t d = UNTOUCHED;
  rein_status st = grpc ? rein_signal_grpc_timeout(b, n, &d)
                        : rein_signal_timeout_ms(b, n, &d);
  free(b);
  if (want < 0) {
    if (st != REIN_EPARSE || d != UNTOUCHED)
      fail_msg("%s \"%s\": want REIN_EPARSE, got %d (%lld)",
               grpc ? "grpc-timeout" : "ms", v, (int)st, (long long)d);
    return;
  }
  if (st != REIN_OK || d != want)
    fail_msg("%s \"%s\": got %d/%lld ns, want %lld", grpc ? "grpc-timeout" : "ms",
             v, (int)st, (long long)d, (long long)want);
}

static void test_deadline_values(void **state) {
  (void)state;
  dl(false, "0", 0);
  dl(false, "250", 250 * MS);
  dl(false, " 250 ", 250 * MS);
  dl(false, "999999999999999", DMAX); /* 15 digits: clamped */
  dl(false, "1000000000000000", -1);  /* 16 digits */
  dl(false, "", -1);
  dl(false, "-5", -1);
  dl(false, "5ms", -1);
  dl(false, "1.5", -1);
  dl(false, "1 2", -1);
  dl(true, "100m", 100 * MS);
  dl(true, "1S", S);
  dl(true, "2M", 120 * S);
  dl(true, "1H", 3600 * S);
  dl(true, "7u", 7000);
  dl(true, "9n", 9);
  dl(true, "99999999n", 99999999);
  dl(true, "99999999H", DMAX);
  dl(true, "123456789n", -1); /* 9 digits */
  dl(true, "100", -1);        /* no unit */
  dl(true, "100ms", -1);
  dl(true, "100s", -1);       /* units are case-sensitive */
  dl(true, "m", -1);
  dl(true, "", -1);
  /* Exact length: "12m" inside a longer buffer. */
  int64_t d = 0;
  assert_int_equal(rein_signal_grpc_timeout("12mXYZ", 3, &d), REIN_OK);
  assert_int_equal(d, 12 * MS);
  assert_int_equal(rein_signal_grpc_timeout("1", 1, NULL), REIN_EINVAL);
  assert_int_equal(rein_signal_timeout_ms(NULL, 2, &d), REIN_EINVAL);
}

/* Formatting rounds down, never promises more than the client waits, and
 * reads back within one unit of the value. */
static void test_grpc_timeout_format(void **state) {
  (void)state;
  char b[32];
  assert_int_equal(rein_signal_grpc_timeout_format(0, b, sizeof b), 0);
  assert_int_equal(rein_signal_grpc_timeout_format(-1, b, sizeof b), 0);
  assert_int_equal(rein_signal_grpc_timeout_format(5, b, 9), 0);
  assert_true(rein_signal_grpc_timeout_format(1, b, sizeof b) > 0);
  assert_string_equal(b, "1n");
  rein_signal_grpc_timeout_format(99999999, b, sizeof b);
  assert_string_equal(b, "99999999n");
  rein_signal_grpc_timeout_format(100000000, b, sizeof b);
  assert_string_equal(b, "100000u");
  rein_signal_grpc_timeout_format(250 * MS + 999, b, sizeof b);
  assert_string_equal(b, "250000u");
  rein_signal_grpc_timeout_format(INT64_MAX, b, sizeof b);
  assert_string_equal(b, "2562047H");
  uint64_t seed = rein_test_seed(), x = seed | 1;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int64_t ns = (int64_t)(x >> (1 + x % 62)) + 1;
    size_t n = rein_signal_grpc_timeout_format(ns, b, sizeof b);
    int64_t back = -1;
    if (!n || rein_signal_grpc_timeout(b, n, &back) != REIN_OK)
      fail_msg("seed %llu: %lld -> \"%s\" does not parse",
               (unsigned long long)seed, (long long)ns, b);
    /* The unit is the finest that fits 8 digits: at most 1e-5 of the
     * value (just past a switch from n to u, or u to m, or m to S). */
    if (back > ns || (ns < DMAX && ns - back > ns / 100000 + 1))
      fail_msg("seed %llu: %lld -> \"%s\" -> %lld", (unsigned long long)seed,
               (long long)ns, b, (long long)back);
  }
}

static const char *lookup_table(void *ctx, const char *name) {
  const char *const *kv = ctx;
  for (; kv[0]; kv += 2)
    if (!strcmp(kv[0], name)) return kv[1];
  return NULL;
}

static void test_deadline_in(void **state) {
  (void)state;
  rein_deadline_in d;
  rein_deadline_in_init(&d);
  assert_int_equal(d.left_ns, -1);
  assert_null(d.malformed);
  assert_int_equal(rein_deadline_in_feed(&d, "Content-Type", 12, "x", 1),
                   REIN_OK);
  assert_int_equal(d.left_ns, -1);
  assert_int_equal(rein_deadline_in_feed(&d, "rein-deadline", 13, "300", 3),
                   REIN_OK);
  assert_int_equal(d.left_ns, 300 * MS);
  /* The smallest of several counts, in any order. */
  assert_int_equal(rein_deadline_in_feed(&d, "grpc-timeout", 12, "1S", 2),
                   REIN_OK);
  assert_int_equal(d.left_ns, 300 * MS);
  assert_int_equal(
      rein_deadline_in_feed(&d, "X-Envoy-Expected-Rq-Timeout-Ms", 30, "120", 3),
      REIN_OK);
  assert_int_equal(d.left_ns, 120 * MS);
  /* Malformed: an error, named; the value seen so far stays. */
  assert_int_equal(rein_deadline_in_feed(&d, "Connect-Timeout-Ms", 18, "1e3", 3),
                   REIN_EPARSE);
  assert_string_equal(d.malformed, REIN_HEADER_CONNECT_TIMEOUT);
  assert_int_equal(d.left_ns, 120 * MS);
  assert_int_equal(rein_deadline_in_feed(NULL, "a", 1, "1", 1), REIN_EINVAL);

  const char *ok[] = {"grpc-timeout", "2S", REIN_HEADER_DEADLINE, "1500",
                      NULL};
  rein_deadline_in_init(&d);
  assert_int_equal(rein_deadline_in_lookup(&d, lookup_table, (void *)ok),
                   REIN_OK);
  assert_int_equal(d.left_ns, 1500 * MS);
  const char *none[] = {"Other", "1", NULL};
  rein_deadline_in_init(&d);
  assert_int_equal(rein_deadline_in_lookup(&d, lookup_table, (void *)none),
                   REIN_OK);
  assert_int_equal(d.left_ns, -1);
  const char *bad[] = {"grpc-timeout", "2 S", NULL};
  rein_deadline_in_init(&d);
  assert_int_equal(rein_deadline_in_lookup(&d, lookup_table, (void *)bad),
                   REIN_EPARSE);
  assert_string_equal(d.malformed, "grpc-timeout");
  assert_int_equal(rein_deadline_in_lookup(&d, NULL, NULL), REIN_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* RateLimit / RateLimit-Policy                                             */
/* ------------------------------------------------------------------------ */

static void test_ratelimit_list_form(void **state) {
  (void)state;
  rl_ok("\"default\";r=50;t=30", -1, 50, 30 * S, -1);
  rl_ok("\"default\";q=100;w=60", 100, -1, -1, 60 * S);
  rl_ok("default;r=5;t=1", -1, 5, S, -1);
  rl_ok("*;r=5", -1, 5, -1, -1);
  rl_ok("  \"default\";r=0;t=0  ", -1, 0, 0, -1);
  rl_ok("\"default\"", -1, -1, -1, -1);
  rl_ok("\"a\"; r=3;  t=4", -1, 3, 4 * S, -1);
  /* The first item counts; the rest must still be well-formed. */
  rl_ok("\"a\";r=1;t=2, \"b\";r=9;t=9", -1, 1, 2 * S, -1);
  rl_ok("\"a\";r=1;t=2 ,\t\"b\";r=-9", -1, 1, 2 * S, -1);
  rl_ok("\"a\";r=1,(\"x\" 1);y=2", -1, 1, -1, -1);
  /* Unknown parameters are ignored, whatever their type. */
  rl_ok("\"a\";pk=:cHsdsRa894=:;r=3;qu=\"requests\";t=4;x=?1;y=1.5;z",
        -1, 3, 4 * S, -1);
  /* Escaped string, duplicate parameter (the last wins, RFC 8941). */
  rl_ok("\"a\\\"b\\\\c\";r=1;r=2", -1, 2, -1, -1);
  /* Older policy form: an integer item is the quota. */
  rl_ok("100;w=60", 100, -1, -1, 60 * S);
  rl_ok("10;w=1, 50;w=60", 10, -1, -1, S);
  rl_ok("100;q=7", 7, -1, -1, -1);
  /* An inner list as the first member carries nothing. */
  rl_ok("(\"a\" \"b\");r=1", -1, -1, -1, -1);
  /* Both halves in one value are kept. */
  rl_ok("\"x\";q=100;r=5;t=10;w=60", 100, 5, 10 * S, 60 * S);
}

static void test_ratelimit_dict_form(void **state) {
  (void)state;
  rl_ok("limit=100, remaining=50, reset=30", 100, 50, 30 * S, -1);
  rl_ok("limit=100,remaining=50,reset=30", 100, 50, 30 * S, -1);
  rl_ok("reset=30, remaining=50", -1, 50, 30 * S, -1);
  rl_ok("remaining=0", -1, 0, -1, -1);
  rl_ok("foo=\"x\", limit=10;w=1, bar, baz=(1 2), remaining=3", 10, 3, -1, -1);
  rl_ok("limit=1, limit=2", 2, -1, -1, -1);
  rl_bad("limit=-1");
  rl_bad("remaining=-5, limit=10");
  rl_bad("reset=1.5");
  rl_bad("limit=\"100\"");
  /* A bare key is also a one-token list, and lists are tried first. */
  rl_ok("limit", -1, -1, -1, -1);
  rl_bad("remaining=5, limit");  /* boolean true: not an integer */
  rl_bad("limit=(1 2)");
  rl_bad("limit=100,");
  rl_bad("limit=100, remaining=");
  rl_bad("Limit=100");      /* keys are lowercase */
  rl_bad("limit = 100");
}

static void test_ratelimit_bounds(void **state) {
  (void)state;
  rl_ok("\"a\";t=21599", -1, -1, 21599 * S, -1);
  rl_ok("\"a\";t=21600", -1, -1, MAX, -1);
  rl_ok("\"a\";t=21601;w=999999999999999", -1, -1, MAX, MAX);
  rl_ok("reset=999999999999999", -1, -1, MAX, -1);
  rl_ok("\"a\";q=999999999999999;r=999999999999999", 999999999999999,
        999999999999999, -1, -1);
  /* RFC 8941 integers have at most 15 digits. */
  rl_bad("\"a\";q=1000000000000000");
  rl_bad("\"a\";r=99999999999999999999999999");
  rl_bad("limit=1000000000000000");
  /* Negative, non-integer, non-number values of known parameters. */
  rl_bad("\"a\";r=-1");
  rl_bad("default;r=-1");   /* must not slip through as a dictionary */
  rl_bad("\"a\";t=-30");
  rl_bad("\"a\";q=-1");
  rl_bad("\"a\";w=-1");
  rl_bad("-100;w=60");
  rl_bad("\"a\";t=1.5");
  rl_bad("\"a\";r=\"5\"");
  rl_bad("\"a\";r");
  rl_bad("\"a\";r=?1");
  rl_bad("\"a\";r=abc");
}

static void test_ratelimit_garbage(void **state) {
  (void)state;
  rl_bad("");
  rl_bad("   ");
  rl_bad(",");
  rl_bad("\"unterminated;r=1");
  rl_bad("\"a\";r=1,");
  rl_bad("\"a\";r=1, ");
  rl_bad(", \"a\";r=1");
  rl_bad("\"a\";R=1");
  rl_bad("\"a\";r=1 junk");
  rl_bad("\"a\";;r=1");
  rl_bad("\"a\";r=");
  rl_bad("\"a\";=1");
  rl_bad("\"a\"r=1");
  rl_bad("\"a\\x\";r=1");
  rl_bad("\"a\";r=1.");
  rl_bad("\"a\";r=1.2345");
  rl_bad("(\"a\" \"b\";r=1");
  rl_bad("\"a\";pk=:abc");
  rl_bad("\"a\";pk=:a*c:");
  rl_bad("\"\xc3\xa9\";r=1");
  rl_bad("\"a\";r=1\x01");
  rl_bad("1-2");
  /* Embedded NUL, exact length. */
  rein_ratelimit r;
  char *b = exact("\"a\";r=1\0", 8);
  assert_int_equal(rein_signal_ratelimit(b, 8, &r), REIN_EPARSE);
  assert_int_equal(rein_signal_ratelimit(b, 7, &r), REIN_OK);
  assert_int_equal(r.remaining, 1);
  free(b);
  assert_int_equal(rein_signal_ratelimit("1", 1, NULL), REIN_EINVAL);
  assert_int_equal(rein_signal_ratelimit(NULL, 1, &r), REIN_EINVAL);
  assert_int_equal(rein_signal_ratelimit(NULL, 0, &r), REIN_EPARSE);
  /* Every prefix of a well-formed value parses or fails, reading exactly. */
  const char *v = "\"default\";r=50;t=30, \"b\";pk=:AAA=:;q=\"x\"";
  for (size_t len = 0; len <= strlen(v); len++) {
    char *p = exact(v, len);
    rein_status st = rein_signal_ratelimit(p, len, &r);
    free(p);
    assert_true(st == REIN_OK || st == REIN_EPARSE);
  }
}

/* ------------------------------------------------------------------------ */
/* Rein-Dont-Retry                                                          */
/* ------------------------------------------------------------------------ */

static void test_dont_retry(void **state) {
  (void)state;
  bool v = false;
  assert_int_equal(dr("?1", &v), REIN_OK);
  assert_true(v);
  assert_int_equal(dr("?0", &v), REIN_OK);
  assert_false(v);
  assert_int_equal(dr(" \t?1 ", &v), REIN_OK);
  assert_true(v);
  const char *bad[] = {"", " ", "?", "?2", "1", "0", "?10", "??1", "?1;a",
                       "? 1", "true", "?1,?0", "!1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = true;
    if (dr(bad[i], &v) != REIN_EPARSE) fail_msg("\"%s\" accepted", bad[i]);
    assert_true(v);
  }
  char *b = exact("?1\0", 3);
  v = false;
  assert_int_equal(rein_signal_dont_retry(b, 3, &v), REIN_EPARSE);
  assert_int_equal(rein_signal_dont_retry(b, 1, &v), REIN_EPARSE);
  assert_int_equal(rein_signal_dont_retry(b, 2, &v), REIN_OK);
  assert_true(v);
  free(b);
  assert_int_equal(rein_signal_dont_retry("?1", 2, NULL), REIN_EINVAL);
  assert_int_equal(rein_signal_dont_retry(NULL, 2, &v), REIN_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* rein_signals: feed and delay_floor                                       */
/* ------------------------------------------------------------------------ */

static void assert_clear(const rein_ratelimit *r) {
  assert_int_equal(r->limit, -1);
  assert_int_equal(r->remaining, -1);
  assert_int_equal(r->reset_ns, -1);
  assert_int_equal(r->window_ns, -1);
}

static void test_signals_init(void **state) {
  (void)state;
  rein_signals s;
  memset(&s, 0x5a, sizeof s);
  rein_signals_init(&s);
  assert_int_equal(s.retry_after_ns, -1);
  assert_int_equal(s.pushback_ns, -1);
  assert_false(s.dont_retry);
  assert_clear(&s.ratelimit);
  assert_clear(&s.policy);
  assert_int_equal(s.idem_retention_ns, -1);
  assert_int_equal(s.malformed, 0);
  assert_int_equal(rein_signals_delay_floor(&s), 0);
  assert_int_equal(rein_signals_delay_floor(NULL), 0);
  rein_signals_init(NULL); /* no-op */
}

static void test_signals_feed_names(void **state) {
  (void)state;
  int64_t now = (T1994 - 60) * S;
  rein_signals s;
  rein_signals_init(&s);
  assert_int_equal(feed(&s, "retry-after", "5", now), REIN_OK);
  assert_int_equal(s.retry_after_ns, 5 * S);
  assert_int_equal(feed(&s, "RETRY-AFTER", "Sun, 06 Nov 1994 08:49:37 GMT",
                        now),
                   REIN_OK);
  assert_int_equal(s.retry_after_ns, 60 * S); /* the larger one */
  assert_int_equal(feed(&s, "Retry-After", "3", now), REIN_OK);
  assert_int_equal(s.retry_after_ns, 60 * S);
  assert_int_equal(feed(&s, "GRPC-Retry-Pushback-MS", "1500", now), REIN_OK);
  assert_int_equal(s.pushback_ns, 1500 * MS);
  assert_false(s.dont_retry);
  assert_int_equal(feed(&s, "ratelimit", "\"d\";r=5;t=10", now), REIN_OK);
  assert_int_equal(s.ratelimit.remaining, 5);
  assert_int_equal(s.ratelimit.reset_ns, 10 * S);
  assert_int_equal(feed(&s, "RATELIMIT-POLICY", "\"d\";q=100;w=60", now),
                   REIN_OK);
  assert_int_equal(s.policy.limit, 100);
  assert_int_equal(s.policy.window_ns, 60 * S);
  assert_int_equal(s.ratelimit.limit, -1);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "86400", now),
                   REIN_OK);
  assert_int_equal(s.idem_retention_ns, 86400 * S);
  assert_int_equal(feed(&s, "rein-dont-retry", "?0", now), REIN_OK);
  assert_false(s.dont_retry);
  assert_int_equal(feed(&s, "Rein-Dont-Retry", "?1", now), REIN_OK);
  assert_true(s.dont_retry);
  assert_int_equal(feed(&s, "Rein-Dont-Retry", "?0", now), REIN_OK);
  assert_true(s.dont_retry); /* sticky: any ?1 wins */
  assert_int_equal(s.malformed, 0);

  /* Unknown names, prefixes and extensions of known ones: ignored. */
  rein_signals before;
  memcpy(&before, &s, sizeof s);
  assert_int_equal(feed(&s, "X-Retry-After", "1", now), REIN_OK);
  assert_int_equal(feed(&s, "Retry-After2", "1", now), REIN_OK);
  assert_int_equal(feed(&s, "Retry-Afte", "1", now), REIN_OK);
  assert_int_equal(feed(&s, "RateLimit-Policy-X", "garbage", now), REIN_OK);
  assert_int_equal(feed(&s, "", "1", now), REIN_OK);
  assert_int_equal(feed(&s, "Retry_After", "1", now), REIN_OK);
  assert_memory_equal(&before, &s, sizeof s);

  /* Names and values are read to their lengths only. */
  rein_signals_init(&s);
  char *n = exact("Retry-AfterXYZ", 14), *v = exact("42junk", 6);
  assert_int_equal(rein_signals_feed(&s, n, 11, v, 2, now), REIN_OK);
  assert_int_equal(s.retry_after_ns, 42 * S);
  free(n);
  free(v);

  assert_int_equal(rein_signals_feed(NULL, "a", 1, "b", 1, 0), REIN_EINVAL);
  assert_int_equal(rein_signals_feed(&s, NULL, 1, "b", 1, 0), REIN_EINVAL);
  assert_int_equal(rein_signals_feed(&s, "a", 1, NULL, 1, 0), REIN_EINVAL);
}

static void test_signals_feed_malformed(void **state) {
  (void)state;
  rein_signals s;
  rein_signals_init(&s);
  assert_int_equal(feed(&s, "Retry-After", "soon", 0), REIN_OK);
  assert_int_equal(feed(&s, "RateLimit", "\"a\";r=-1", 0), REIN_OK);
  assert_int_equal(feed(&s, "RateLimit-Policy", "", 0), REIN_OK);
  assert_int_equal(feed(&s, "Rein-Dont-Retry", "yes", 0), REIN_OK);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "-1", 0), REIN_OK);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "1d", 0), REIN_OK);
  assert_int_equal(s.malformed, 6);
  assert_int_equal(s.retry_after_ns, -1);
  assert_clear(&s.ratelimit);
  assert_clear(&s.policy);
  assert_false(s.dont_retry);
  assert_int_equal(s.idem_retention_ns, -1);
  /* Unparseable pushback is a valid signal (don't retry), not malformed. */
  assert_int_equal(feed(&s, "grpc-retry-pushback-ms", "nope", 0), REIN_OK);
  assert_true(s.dont_retry);
  assert_int_equal(s.pushback_ns, -1);
  assert_int_equal(s.malformed, 6);
  /* The counter saturates. */
  s.malformed = UINT32_MAX - 1;
  feed(&s, "Retry-After", "x", 0);
  feed(&s, "Retry-After", "x", 0);
  assert_int_equal(s.malformed, UINT32_MAX);
}

static void test_signals_feed_repeats(void **state) {
  (void)state;
  rein_signals s;
  rein_signals_init(&s);
  /* RateLimit: a second field line continues the list; the first counts.
   * A malformed first line does not block a good second one. */
  assert_int_equal(feed(&s, "RateLimit", "\"a\";r=", 0), REIN_OK);
  assert_int_equal(feed(&s, "RateLimit", "\"a\";r=1;t=2", 0), REIN_OK);
  assert_int_equal(feed(&s, "RateLimit", "\"b\";r=9;t=9", 0), REIN_OK);
  assert_int_equal(s.ratelimit.remaining, 1);
  assert_int_equal(s.ratelimit.reset_ns, 2 * S);
  assert_int_equal(s.malformed, 1);
  /* Pushback: the larger delay; a stop elsewhere keeps the delay. */
  assert_int_equal(feed(&s, "grpc-retry-pushback-ms", "200", 0), REIN_OK);
  assert_int_equal(feed(&s, "grpc-retry-pushback-ms", "100", 0), REIN_OK);
  assert_int_equal(s.pushback_ns, 200 * MS);
  assert_int_equal(feed(&s, "grpc-retry-pushback-ms", "-1", 0), REIN_OK);
  assert_true(s.dont_retry);
  assert_int_equal(s.pushback_ns, 200 * MS);
  /* Retention: the shortest one is what a client can rely on. */
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "86400", 0),
                   REIN_OK);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", " 3600 ", 0),
                   REIN_OK);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "7200", 0), REIN_OK);
  assert_int_equal(s.idem_retention_ns, 3600 * S);
  /* Retention is not a delay: no 6 h clamp, only saturation. */
  rein_signals_init(&s);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention", "259200", 0),
                   REIN_OK);
  assert_int_equal(s.idem_retention_ns, 259200 * S);
  rein_signals_init(&s);
  assert_int_equal(feed(&s, "Idempotency-Key-Retention",
                        "999999999999999999999999", 0),
                   REIN_OK);
  assert_int_equal(s.idem_retention_ns, INT64_MAX / S * S);
  assert_int_equal(rein_signals_delay_floor(&s), 0);
}

static int64_t floor_of(const char *const *hdrs, size_t n) {
  rein_signals s;
  rein_signals_init(&s);
  for (size_t i = 0; i + 1 < n; i += 2)
    assert_int_equal(feed(&s, hdrs[i], hdrs[i + 1], 0), REIN_OK);
  return rein_signals_delay_floor(&s);
}

#define FLOOR(...)                                                             \
  floor_of((const char *const[]){__VA_ARGS__},                                 \
           sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *))

static void test_delay_floor(void **state) {
  (void)state;
  assert_int_equal(FLOOR("X-Nothing", "1"), 0);
  assert_int_equal(FLOOR("Retry-After", "5"), 5 * S);
  assert_int_equal(FLOOR("grpc-retry-pushback-ms", "7000"), 7 * S);
  assert_int_equal(FLOOR("Retry-After", "5", "grpc-retry-pushback-ms",
                         "7000"),
                   7 * S);
  assert_int_equal(FLOOR("Retry-After", "9", "grpc-retry-pushback-ms",
                         "7000"),
                   9 * S);
  assert_int_equal(FLOOR("Retry-After", "0"), 0);
  /* Don't-retry does not make a delay. */
  assert_int_equal(FLOOR("Rein-Dont-Retry", "?1"), 0);
  assert_int_equal(FLOOR("grpc-retry-pushback-ms", "-1"), 0);
  /* Exhausted: wait for the reset. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0;t=30"), 30 * S);
  assert_int_equal(FLOOR("RateLimit", "limit=10, remaining=0, reset=30"),
                   30 * S);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0;t=30", "Retry-After", "40"),
                   40 * S);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0;t=30", "Retry-After", "20"),
                   30 * S);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0;t=0"), 0);
  /* Exhausted but no reset given: nothing to wait for. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0"), 0);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0", "RateLimit-Policy",
                         "\"d\";q=100;w=60"),
                   0);
  /* Only RateLimit's remaining/reset count, not the policy's. */
  assert_int_equal(FLOOR("RateLimit-Policy", "\"d\";q=100;r=0;t=30"), 0);
  /* Reset clamped at 6 h. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=0;t=86400"), MAX);
  assert_int_equal(FLOOR("Retry-After", "99999999"), MAX);
}

static void test_delay_floor_pacing(void **state) {
  (void)state;
  /* Limit from the policy: 100/window; below 10 remaining is "low". */
  const char *pol = "\"d\";q=100;w=60";
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit",
                         "\"d\";r=5;t=10"),
                   2 * S);
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit",
                         "\"d\";r=9;t=10"),
                   INT64_C(1111111111));
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit",
                         "\"d\";r=10;t=10"),
                   0);
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit",
                         "\"d\";r=1;t=10"),
                   10 * S);
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit",
                         "\"d\";r=50;t=10"),
                   0);
  /* No reset: no pacing. */
  assert_int_equal(FLOOR("RateLimit-Policy", pol, "RateLimit", "\"d\";r=1"),
                   0);
  /* Limit in RateLimit itself (dictionary form) wins over the policy. */
  assert_int_equal(FLOOR("RateLimit", "limit=1000, remaining=50, reset=60"),
                   INT64_C(1200000000));
  assert_int_equal(FLOOR("RateLimit", "limit=1000, remaining=100, reset=60"),
                   0);
  assert_int_equal(FLOOR("RateLimit-Policy", "\"d\";q=10000",
                         "RateLimit", "limit=1000, remaining=100, reset=60"),
                   0);
  /* 10% of 15 is 1.5: remaining 1 is below it, 2 is not. */
  assert_int_equal(FLOOR("RateLimit", "limit=15, remaining=1, reset=6"),
                   6 * S);
  assert_int_equal(FLOOR("RateLimit", "limit=15, remaining=2, reset=6"), 0);
  /* Limit unknown: only remaining 1 is low. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=1;t=10"), 10 * S);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=2;t=10"), 0);
  /* Limit 0 with units left: inconsistent, no pacing. */
  assert_int_equal(FLOOR("RateLimit", "limit=0, remaining=1, reset=10"), 0);
  /* Pacing vs. other floors: the largest. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=1;t=10", "Retry-After", "3"),
                   10 * S);
  assert_int_equal(FLOOR("RateLimit", "\"d\";r=1;t=10", "Retry-After", "30"),
                   30 * S);
  /* Huge limits do not overflow the 10% test. */
  assert_int_equal(FLOOR("RateLimit", "\"d\";q=999999999999999;"
                                      "r=99999999999999;t=100"),
                   0); /* 100 s / 99999999999999 rounds down to 0 ns */
  assert_int_equal(FLOOR("RateLimit", "\"d\";q=999999999999999;"
                                      "r=99999999999;t=99999999999999"),
                   216); /* 6 h (clamped) / 99999999999 */
  assert_int_equal(FLOOR("RateLimit", "\"d\";q=999999999999999;"
                                      "r=100000000000000;t=100"),
                   0);
  /* Hand-built structs beyond the bounds are clamped and do not overflow. */
  rein_signals s;
  rein_signals_init(&s);
  s.retry_after_ns = INT64_MAX;
  assert_int_equal(rein_signals_delay_floor(&s), MAX);
  rein_signals_init(&s);
  s.ratelimit.limit = INT64_MAX;
  s.ratelimit.remaining = INT64_MAX / 11;
  s.ratelimit.reset_ns = INT64_MAX;
  assert_int_equal(rein_signals_delay_floor(&s), 11);
  s.ratelimit.remaining = INT64_MAX / 9;
  assert_int_equal(rein_signals_delay_floor(&s), 0);
  s.ratelimit.remaining = 0;
  assert_int_equal(rein_signals_delay_floor(&s), MAX);
}

/* ------------------------------------------------------------------------ */
/* Random bytes: never crash, never read past len, outputs in bounds         */
/* ------------------------------------------------------------------------ */

static void test_random_bytes(void **state) {
  (void)state;
  static const char alphabet[] = "0123456789 \t,;=-:?\"()*.abcdefqrtwGMTSunNov"
                                 "\\\x00\x7f\xff";
  uint64_t x = rein_test_seed() ^ 0x5151;
  for (int i = 0; i < 20000; i++) {
    size_t n = (size_t)(splitmix(&x) % 40);
    char *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t j = 0; j < n; j++)
      b[j] = alphabet[splitmix(&x) % (sizeof alphabet - 1)];
    int64_t now = (int64_t)splitmix(&x);
    int64_t d = UNTOUCHED;
    rein_status st = rein_signal_retry_after(b, n, now, &d);
    assert_true(st == REIN_OK || st == REIN_EPARSE);
    if (st == REIN_OK)
      assert_true(d >= 0 && d <= MAX);
    else
      assert_int_equal(d, UNTOUCHED);
    bool stop;
    assert_int_equal(rein_signal_grpc_pushback(b, n, &d, &stop), REIN_OK);
    assert_true(d >= 0 && d <= MAX);
    rein_ratelimit r;
    st = rein_signal_ratelimit(b, n, &r);
    assert_true(st == REIN_OK || st == REIN_EPARSE);
    if (st == REIN_OK) {
      assert_true(r.limit >= -1 && r.remaining >= -1);
      assert_true(r.reset_ns >= -1 && r.reset_ns <= MAX);
      assert_true(r.window_ns >= -1 && r.window_ns <= MAX);
    }
    st = rein_signal_dont_retry(b, n, &stop);
    assert_true(st == REIN_OK || st == REIN_EPARSE);
    free(b);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_retry_after_delta),
      cmocka_unit_test(test_retry_after_args),
      cmocka_unit_test(test_retry_after_three_forms),
      cmocka_unit_test(test_retry_after_clamp),
      cmocka_unit_test(test_retry_after_leap_days),
      cmocka_unit_test(test_retry_after_field_ranges),
      cmocka_unit_test(test_retry_after_malformed_dates),
      cmocka_unit_test(test_retry_after_truncated),
      cmocka_unit_test(test_rfc850_two_digit_years),
      cmocka_unit_test(test_dates_randomized),
      cmocka_unit_test(test_grpc_pushback),
      cmocka_unit_test(test_deadline_values),
      cmocka_unit_test(test_grpc_timeout_format),
      cmocka_unit_test(test_deadline_in),
      cmocka_unit_test(test_ratelimit_list_form),
      cmocka_unit_test(test_ratelimit_dict_form),
      cmocka_unit_test(test_ratelimit_bounds),
      cmocka_unit_test(test_ratelimit_garbage),
      cmocka_unit_test(test_dont_retry),
      cmocka_unit_test(test_signals_init),
      cmocka_unit_test(test_signals_feed_names),
      cmocka_unit_test(test_signals_feed_malformed),
      cmocka_unit_test(test_signals_feed_repeats),
      cmocka_unit_test(test_delay_floor),
      cmocka_unit_test(test_delay_floor_pacing),
      cmocka_unit_test(test_random_bytes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
