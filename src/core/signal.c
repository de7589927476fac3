/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signal.c: what the server says about retrying, parsed defensively.
 *
 * Every parser here walks a (pointer, end) cursor over a value that is not
 * NUL-terminated, so no read can pass `len`; every number is accumulated
 * with an explicit bound, so no digit string can overflow; every result is
 * computed into locals and copied out only on success, so a malformed value
 * leaves the caller's output untouched. HTTP-dates are turned into epoch
 * seconds with our own days-from-civil arithmetic rather than timegm or
 * strptime: those depend on the locale and the TZ environment and are not
 * all thread-safe, while the arithmetic is exact, deterministic and pure.
 * RateLimit values are parsed as RFC 8941 structured fields (the whole field
 * must be well-formed, as RFC 8941 requires); only the first list member's
 * parameters are used. Nothing here allocates or keeps state.
 */
#include "rein/signal.h"

#include <stdio.h>
#include <string.h>

#define MAX_DELAY_S (REIN_SIGNAL_MAX_DELAY_NS / REIN_NS_PER_S)
#define MAX_DELAY_MS (REIN_SIGNAL_MAX_DELAY_NS / REIN_NS_PER_MS)

/* 50 average Gregorian years (365.2425 days), for the RFC 850 year rule. */
#define FIFTY_YEARS_S (INT64_C(50) * 31556952)

typedef struct cursor {
  const char *p;
  const char *e;
} cursor;

/* ------------------------------------------------------------------------ */
/* Small lexical helpers                                                    */
/* ------------------------------------------------------------------------ */

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static bool at_end(const cursor *c) { return c->p >= c->e; }

static bool peek_is(const cursor *c, char ch) {
  return c->p < c->e && *c->p == ch;
}

static bool eat(cursor *c, char ch) {
  if (!peek_is(c, ch)) return false;
  c->p++;
  return true;
}

static void skip_sp(cursor *c) {
  while (c->p < c->e && *c->p == ' ') c->p++;
}

static void skip_ows(cursor *c) {
  while (c->p < c->e && is_ows(*c->p)) c->p++;
}

/* Trims optional whitespace (SP, HTAB) from both ends. `value` may be NULL
 * only when len is 0. */
static cursor trimmed(const char *value, size_t len) {
  cursor c = {value, value ? value + len : value};
  while (c.p < c.e && is_ows(*c.p)) c.p++;
  while (c.e > c.p && is_ows(c.e[-1])) c.e--;
  return c;
}

/* Exactly `n` digits; their value. */
static bool fixed_digits(cursor *c, int n, int *out) {
  if (c->e - c->p < n) return false;
  int v = 0;
  for (int i = 0; i < n; i++) {
    char ch = c->p[i];
    if (!is_digit(ch)) return false;
    v = v * 10 + (ch - '0');
  }
  c->p += n;
  *out = v;
  return true;
}

/* 1*DIGIT, saturating at `cap` (so any length is safe). */
static bool digits_saturating(cursor *c, int64_t cap, int64_t *out) {
  if (at_end(c) || !is_digit(*c->p)) return false;
  int64_t v = 0;
  while (c->p < c->e && is_digit(*c->p)) {
    int d = *c->p - '0';
    if (v > (cap - d) / 10)
      v = cap;
    else
      v = v * 10 + d;
    c->p++;
  }
  *out = v;
  return true;
}

/* Consumes the exact bytes of `lit`. */
static bool eat_str(cursor *c, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(c->e - c->p) < n || memcmp(c->p, lit, n) != 0) return false;
  c->p += n;
  return true;
}

/* Matches one of `names` (exact bytes, case-sensitive as RFC 9110 5.6.7
 * requires); returns its index or -1. Consumes nothing on failure. */
static int match_name(cursor *c, const char *const *names, int count) {
  for (int i = 0; i < count; i++) {
    size_t n = strlen(names[i]);
    if ((size_t)(c->e - c->p) >= n && memcmp(c->p, names[i], n) == 0) {
      c->p += n;
      return i;
    }
  }
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Calendar arithmetic (proleptic Gregorian, UTC, no leap seconds)          */
/* ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

/* Days since 1970-01-01 of the date y-m-d (m in 1..12). Counts from March so
 * the leap day is the last day of the shifted year; 400-year eras of 146097
 * days make the arithmetic exact for any year. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  if (m <= 2) y--;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;                          /* [0, 399] */
  int64_t mp = m > 2 ? m - 3 : m + 9;                   /* March = 0 */
  int64_t doy = (153 * mp + 2) / 5 + d - 1;             /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
  return era * 146097 + doe - 719468; /* 719468: 0000-03-01 .. 1970-01-01 */
}

static bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m) {
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* The calendar year that contains epoch second `s`. */
static int64_t year_of(int64_t s) {
  int64_t days = floor_div(s, 86400);
  int64_t y = 1970 + floor_div(days * 400, 146097);
  while (days_from_civil(y + 1, 1, 1) <= days) y++;
  while (days_from_civil(y, 1, 1) > days) y--;
  return y;
}

typedef struct civil {
  int64_t year;
  int month, day, hour, min, sec;
} civil;

static bool civil_valid(const civil *t) {
  return t->month >= 1 && t->month <= 12 && t->day >= 1 &&
         t->day <= days_in_month(t->year, t->month) && t->hour < 24 &&
         t->min < 60 && t->sec <= 60; /* 60: a leap second */
}

/* Epoch seconds; a leap second :60 counts as :00 of the next minute. */
static int64_t civil_to_epoch(const civil *t) {
  return days_from_civil(t->year, t->month, t->day) * 86400 +
         t->hour * 3600 + t->min * 60 + t->sec;
}

/* ------------------------------------------------------------------------ */
/* HTTP-date (RFC 9110 5.6.7)                                               */
/* ------------------------------------------------------------------------ */

static const char *const day_short[7] = {"Mon", "Tue", "Wed", "Thu",
                                         "Fri", "Sat", "Sun"};
static const char *const day_long[7] = {"Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday",
                                        "Sunday"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};

/* time-of-day = hour ":" minute ":" second, two digits each. */
static bool time_of_day(cursor *c, civil *t) {
  return fixed_digits(c, 2, &t->hour) && eat(c, ':') &&
         fixed_digits(c, 2, &t->min) && eat(c, ':') &&
         fixed_digits(c, 2, &t->sec);
}

static bool month(cursor *c, civil *t) {
  int m = match_name(c, month_names, 12);
  t->month = m + 1;
  return m >= 0;
}

/* IMF-fixdate after "Sun,": SP 2DIGIT SP month SP 4DIGIT SP time SP "GMT" */
static bool imf_fixdate(cursor *c, civil *t) {
  int y;
  if (!(eat(c, ' ') && fixed_digits(c, 2, &t->day) && eat(c, ' ') &&
        month(c, t) && eat(c, ' ') && fixed_digits(c, 4, &y) &&
        eat(c, ' ') && time_of_day(c, t) && eat(c, ' ')))
    return false;
  t->year = y;
  return eat_str(c, "GMT") && at_end(c);
}

/* asctime after "Sun": SP month SP (2DIGIT / SP DIGIT) SP time SP 4DIGIT */
static bool asctime_date(cursor *c, civil *t) {
  int y;
  if (!(eat(c, ' ') && month(c, t) && eat(c, ' '))) return false;
  if (eat(c, ' ')) {
    if (!fixed_digits(c, 1, &t->day)) return false;
  } else if (!fixed_digits(c, 2, &t->day)) {
    return false;
  }
  if (!(eat(c, ' ') && time_of_day(c, t) && eat(c, ' ') &&
        fixed_digits(c, 4, &y)))
    return false;
  t->year = y;
  return at_end(c);
}

/* RFC 850 after "Sunday,": SP 2DIGIT "-" month "-" 2DIGIT SP time SP "GMT".
 * The year is resolved against `now_s` (RFC 9110: a date more than 50 years
 * in the future means the most recent past year with the same last two
 * digits): the one year with those digits whose date falls in
 * (now - 50 y, now + 50 y]. */
static bool rfc850_date(cursor *c, int64_t now_s, civil *t) {
  int yy;
  if (!(eat(c, ' ') && fixed_digits(c, 2, &t->day) && eat(c, '-') &&
        month(c, t) && eat(c, '-') && fixed_digits(c, 2, &yy) &&
        eat(c, ' ') && time_of_day(c, t) && eat(c, ' ') &&
        eat_str(c, "GMT") && at_end(c)))
    return false;
  /* The fields are validated by the caller once the year is known (29 Feb
   * depends on it); days_from_civil is plain arithmetic, so an out-of-range
   * day only shifts the probe by a few days and cannot misbehave. */
  int64_t limit = now_s + FIFTY_YEARS_S;
  civil probe = *t;
  probe.year = floor_div(year_of(now_s), 100) * 100 + yy;
  if (civil_to_epoch(&probe) > limit) {
    probe.year -= 100;
  } else {
    civil next = probe;
    next.year += 100;
    if (civil_to_epoch(&next) <= limit) probe.year += 100;
  }
  t->year = probe.year;
  return true;
}

/* Parses an HTTP-date in any of the three forms into epoch seconds. The
 * weekday must be a valid name for the form but is not checked against the
 * date (RFC 9110 does not ask recipients to; the date fields decide). */
static bool http_date(cursor c, int64_t now_s, int64_t *out) {
  civil t;
  memset(&t, 0, sizeof t);
  bool ok;
  if (match_name(&c, day_long, 7) >= 0) {
    ok = eat(&c, ',') && rfc850_date(&c, now_s, &t);
  } else if (match_name(&c, day_short, 7) >= 0) {
    if (eat(&c, ','))
      ok = imf_fixdate(&c, &t);
    else
      ok = asctime_date(&c, &t);
  } else {
    ok = false;
  }
  if (!ok || !civil_valid(&t)) return false;
  *out = civil_to_epoch(&t);
  return true;
}

/* ------------------------------------------------------------------------ */
/* Retry-After, grpc-retry-pushback-ms, Rein-Dont-Retry                     */
/* ------------------------------------------------------------------------ */

/* delta-seconds = 1*DIGIT, the whole (trimmed) value; saturates at `cap`. */
static bool delta_seconds(cursor c, int64_t cap, int64_t *out) {
  int64_t v;
  if (!digits_saturating(&c, cap, &v) || !at_end(&c)) return false;
  *out = v;
  return true;
}

rein_status rein_signal_retry_after(const char *value, size_t len,
                                    int64_t now_unix_ns, int64_t *delay_ns) {
  if (!delay_ns || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  if (at_end(&c)) return REIN_EPARSE;
  if (is_digit(*c.p)) {
    int64_t s;
    if (!delta_seconds(c, MAX_DELAY_S, &s)) return REIN_EPARSE;
    *delay_ns = s * REIN_NS_PER_S;
    return REIN_OK;
  }
  int64_t now_s = floor_div(now_unix_ns, REIN_NS_PER_S);
  int64_t now_frac = now_unix_ns % REIN_NS_PER_S; /* no overflow at MIN */
  if (now_frac < 0) now_frac += REIN_NS_PER_S;     /* now [0, 1e9) */
  int64_t date_s;
  if (!http_date(c, now_s, &date_s)) return REIN_EPARSE;
  int64_t ds = date_s - now_s; /* both within ~3e11: cannot overflow */
  int64_t d;
  if (ds <= 0)
    d = 0;
  else if (ds > MAX_DELAY_S + 1)
    d = REIN_SIGNAL_MAX_DELAY_NS;
  else
    d = ds * REIN_NS_PER_S - now_frac;
  if (d < 0) d = 0;
  if (d > REIN_SIGNAL_MAX_DELAY_NS) d = REIN_SIGNAL_MAX_DELAY_NS;
  *delay_ns = d;
  return REIN_OK;
}

rein_status rein_signal_grpc_pushback(const char *value, size_t len,
                                      int64_t *delay_ns, bool *dont_retry) {
  if (!delay_ns || !dont_retry || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  bool negative = eat(&c, '-');
  int64_t ms;
  if (!delta_seconds(c, MAX_DELAY_MS, &ms) || (negative && ms != 0)) {
    /* gRPC A6: negative or not an integer = the server says stop. "-0" is
     * the integer zero, so it is a zero delay. */
    *delay_ns = 0;
    *dont_retry = true;
    return REIN_OK;
  }
  *delay_ns = ms * REIN_NS_PER_MS;
  *dont_retry = false;
  return REIN_OK;
}

rein_status rein_signal_dont_retry(const char *value, size_t len,
                                   bool *dont_retry) {
  if (!dont_retry || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  if (c.e - c.p != 2 || c.p[0] != '?' || (c.p[1] != '0' && c.p[1] != '1'))
    return REIN_EPARSE;
  *dont_retry = c.p[1] == '1';
  return REIN_OK;
}

/* ------------------------------------------------------------------------ */
/* Deadlines: Rein-Deadline, grpc-timeout, Connect-Timeout-Ms, Envoy's      */
/* ------------------------------------------------------------------------ */

#define MAX_DEADLINE_MS (REIN_SIGNAL_MAX_DEADLINE_NS / REIN_NS_PER_MS)

/* 1*`max_digits` DIGIT, the whole trimmed value. */
static bool bounded_digits(cursor *c, int max_digits, int64_t *out) {
  const char *start = c->p;
  int64_t v = 0;
  while (c->p < c->e && is_digit(*c->p)) {
    if (c->p - start >= max_digits) return false;
    v = v * 10 + (*c->p - '0'); /* at most 15 digits: no overflow */
    c->p++;
  }
  if (c->p == start) return false;
  *out = v;
  return true;
}

rein_status rein_signal_timeout_ms(const char *value, size_t len,
                                   int64_t *left_ns) {
  if (!left_ns || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  int64_t ms;
  if (!bounded_digits(&c, 15, &ms) || !at_end(&c)) return REIN_EPARSE;
  *left_ns = ms > MAX_DEADLINE_MS ? REIN_SIGNAL_MAX_DEADLINE_NS
                                  : ms * REIN_NS_PER_MS;
  return REIN_OK;
}

rein_status rein_signal_grpc_timeout(const char *value, size_t len,
                                     int64_t *left_ns) {
  if (!left_ns || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  int64_t v;
  if (!bounded_digits(&c, 8, &v) || c.e - c.p != 1) return REIN_EPARSE;
  int64_t unit;
  switch (*c.p) {
  case 'H': unit = 3600 * REIN_NS_PER_S; break;
  case 'M': unit = 60 * REIN_NS_PER_S; break;
  case 'S': unit = REIN_NS_PER_S; break;
  case 'm': unit = REIN_NS_PER_MS; break;
  case 'u': unit = 1000; break;
  case 'n': unit = 1; break;
  default: return REIN_EPARSE;
  }
  /* v < 1e8 and unit <= 3.6e12: the product fits in 63 bits (3.6e20 does
   * not), so compare first. */
  *left_ns = v > REIN_SIGNAL_MAX_DEADLINE_NS / unit ? REIN_SIGNAL_MAX_DEADLINE_NS
                                                    : v * unit;
  return REIN_OK;
}

size_t rein_signal_grpc_timeout_format(int64_t ns, char *buf, size_t cap) {
  static const struct {
    char unit;
    int64_t ns;
  } units[] = {{'n', 1},
               {'u', 1000},
               {'m', REIN_NS_PER_MS},
               {'S', REIN_NS_PER_S},
               {'M', 60 * REIN_NS_PER_S},
               {'H', 3600 * REIN_NS_PER_S}};
  if (ns <= 0 || !buf || cap < 10) return 0;
  size_t i = 0;
  while (i + 1 < sizeof units / sizeof units[0] && ns / units[i].ns > 99999999)
    i++;
  int64_t v = ns / units[i].ns;
  if (v > 99999999) v = 99999999;
  int n = snprintf(buf, cap, "%lld%c", (long long)v, units[i].unit);
  return n > 0 ? (size_t)n : 0;
}

/* ------------------------------------------------------------------------ */
/* RFC 8941 structured fields, the subset RateLimit needs                   */
/* ------------------------------------------------------------------------ */

typedef enum sf_kind {
  SF_INTEGER,
  SF_DECIMAL,
  SF_STRING,
  SF_TOKEN,
  SF_BYTES,
  SF_BOOLEAN
} sf_kind;

typedef struct sf_item {
  sf_kind kind;
  int64_t integer; /* SF_INTEGER: the value; SF_BOOLEAN: 0 or 1 */
} sf_item;

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" );
 * returns its bytes through *k / *n. */
static bool sf_key(cursor *c, const char **k, size_t *n) {
  if (at_end(c) || !(is_lcalpha(*c->p) || *c->p == '*')) return false;
  const char *s = c->p++;
  while (c->p < c->e) {
    char ch = *c->p;
    if (!(is_lcalpha(ch) || is_digit(ch) || ch == '_' || ch == '-' ||
          ch == '.' || ch == '*'))
      break;
    c->p++;
  }
  *k = s;
  *n = (size_t)(c->p - s);
  return true;
}

static bool key_is(const char *k, size_t n, const char *want) {
  return strlen(want) == n && memcmp(k, want, n) == 0;
}

/* sf-integer (<= 15 digits) or sf-decimal (<= 12 "." <= 3 digits). */
static bool sf_number(cursor *c, sf_item *it) {
  bool neg = eat(c, '-');
  int64_t v = 0;
  int n = 0;
  while (c->p < c->e && is_digit(*c->p)) {
    if (++n > 15) return false;
    v = v * 10 + (*c->p - '0');
    c->p++;
  }
  if (n == 0) return false;
  if (eat(c, '.')) {
    if (n > 12) return false;
    int f = 0;
    while (c->p < c->e && is_digit(*c->p)) {
      if (++f > 3) return false;
      c->p++;
    }
    if (f == 0) return false;
    it->kind = SF_DECIMAL;
    it->integer = 0;
    return true;
  }
  it->kind = SF_INTEGER;
  it->integer = neg ? -v : v;
  return true;
}

/* sf-string: printable ASCII between DQUOTEs; "\" escapes only DQUOTE and
 * "\". */
static bool sf_string(cursor *c) {
  if (!eat(c, '"')) return false;
  while (c->p < c->e) {
    char ch = *c->p++;
    if (ch == '"') return true;
    if (ch == '\\') {
      if (at_end(c) || (*c->p != '"' && *c->p != '\\')) return false;
      c->p++;
    } else if ((unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e) {
      return false;
    }
  }
  return false; /* unterminated */
}

static bool is_tchar(char ch) {
  if (is_alpha(ch) || is_digit(ch)) return true;
  return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ) */
static bool sf_token(cursor *c) {
  if (at_end(c) || !(is_alpha(*c->p) || *c->p == '*')) return false;
  c->p++;
  while (c->p < c->e && (is_tchar(*c->p) || *c->p == ':' || *c->p == '/'))
    c->p++;
  return true;
}

/* sf-binary = ":" *base64 ":" */
static bool sf_bytes(cursor *c) {
  if (!eat(c, ':')) return false;
  while (c->p < c->e) {
    char ch = *c->p++;
    if (ch == ':') return true;
    if (!(is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '/' ||
          ch == '='))
      return false;
  }
  return false;
}

static bool sf_bare_item(cursor *c, sf_item *it) {
  if (at_end(c)) return false;
  char ch = *c->p;
  if (ch == '-' || is_digit(ch)) return sf_number(c, it);
  it->integer = 0;
  if (ch == '"') {
    it->kind = SF_STRING;
    return sf_string(c);
  }
  if (ch == ':') {
    it->kind = SF_BYTES;
    return sf_bytes(c);
  }
  if (ch == '?') {
    c->p++;
    if (at_end(c) || (*c->p != '0' && *c->p != '1')) return false;
    it->kind = SF_BOOLEAN;
    it->integer = *c->p++ == '1';
    return true;
  }
  it->kind = SF_TOKEN;
  return sf_token(c);
}

/* Where the parameters of one item go: known keys are integers >= 0. */
typedef struct rl_sink {
  rein_ratelimit *out; /* NULL: parse and discard */
  bool bad;            /* a known key had a value we must reject */
} rl_sink;

static void rl_store(rl_sink *s, int64_t *field, const sf_item *v,
                     bool seconds) {
  if (v->kind != SF_INTEGER || v->integer < 0) {
    s->bad = true;
    return;
  }
  if (!seconds) {
    *field = v->integer; /* <= 15 digits: fits */
    return;
  }
  *field = v->integer > MAX_DELAY_S ? REIN_SIGNAL_MAX_DELAY_NS
                                    : v->integer * REIN_NS_PER_S;
}

/* Records a list-form parameter: q (quota) r (remaining) t (reset, s)
 * w (window, s). Others (pk, qu, ...) are ignored. */
static void rl_param(rl_sink *s, const char *k, size_t n, const sf_item *v) {
  if (!s->out || n != 1) return;
  switch (k[0]) {
  case 'q': rl_store(s, &s->out->limit, v, false); break;
  case 'r': rl_store(s, &s->out->remaining, v, false); break;
  case 't': rl_store(s, &s->out->reset_ns, v, true); break;
  case 'w': rl_store(s, &s->out->window_ns, v, true); break;
  default: break;
  }
}

/* parameters = *( ";" *SP key [ "=" bare-item ] ) */
static bool sf_params(cursor *c, rl_sink *s) {
  while (eat(c, ';')) {
    skip_sp(c);
    const char *k;
    size_t n;
    if (!sf_key(c, &k, &n)) return false;
    sf_item v = {SF_BOOLEAN, 1};
    if (eat(c, '=') && !sf_bare_item(c, &v)) return false;
    rl_param(s, k, n, &v);
  }
  return true;
}

/* inner-list = "(" *SP [ item *( 1*SP item ) *SP ] ")" parameters */
static bool sf_inner_list(cursor *c) {
  if (!eat(c, '(')) return false;
  rl_sink none = {NULL, false};
  for (;;) {
    skip_sp(c);
    if (eat(c, ')')) return sf_params(c, &none);
    sf_item it;
    if (!sf_bare_item(c, &it) || !sf_params(c, &none)) return false;
    if (at_end(c) || (*c->p != ' ' && *c->p != ')')) return false;
  }
}

/* List form: `"name";r=10;t=30, ...` or `"name";q=100;w=60`, or the
 * older policy form `100;w=60` (an integer item is the quota). The whole
 * list must parse; the first member's parameters are taken. Returns
 * RL_OK, RL_SYNTAX (not a list: try the dictionary form) or RL_VALUE (a
 * well-formed list with a value we reject: negative, not an integer). */
enum { RL_OK, RL_SYNTAX, RL_VALUE };
static int rl_list(cursor c, rein_ratelimit *r) {
  rl_sink first = {r, false};
  rl_sink none = {NULL, false};
  for (bool is_first = true;; is_first = false) {
    rl_sink *s = is_first ? &first : &none;
    if (peek_is(&c, '(')) {
      if (!sf_inner_list(&c)) return RL_SYNTAX;
    } else {
      sf_item it;
      if (!sf_bare_item(&c, &it)) return RL_SYNTAX;
      if (is_first && it.kind == SF_INTEGER) {
        if (it.integer < 0) first.bad = true;
        r->limit = it.integer;
      }
      if (!sf_params(&c, s)) return RL_SYNTAX;
    }
    skip_ows(&c);
    if (at_end(&c)) break;
    if (!eat(&c, ',')) return RL_SYNTAX;
    skip_ows(&c);
    if (at_end(&c)) return RL_SYNTAX; /* trailing comma */
  }
  return first.bad ? RL_VALUE : RL_OK;
}

/* Dictionary form (draft -06): `limit=100, remaining=50, reset=30`. Known
 * members must be non-negative integers; their parameters and unknown
 * members are ignored; a repeated key: the last one wins (RFC 8941). */
static bool rl_dict(cursor c, rein_ratelimit *r) {
  rl_sink none = {NULL, false};
  for (;;) {
    const char *k;
    size_t n;
    if (!sf_key(&c, &k, &n)) return false;
    sf_item v = {SF_BOOLEAN, 1};
    if (eat(&c, '=')) {
      if (peek_is(&c, '(')) {
        if (!sf_inner_list(&c)) return false;
        v.kind = SF_TOKEN; /* not an integer: rejected if the key is known */
      } else if (!sf_bare_item(&c, &v) || !sf_params(&c, &none)) {
        return false;
      }
    } else if (!sf_params(&c, &none)) {
      return false;
    }
    rl_sink s = {r, false};
    if (key_is(k, n, "limit"))
      rl_store(&s, &r->limit, &v, false);
    else if (key_is(k, n, "remaining"))
      rl_store(&s, &r->remaining, &v, false);
    else if (key_is(k, n, "reset"))
      rl_store(&s, &r->reset_ns, &v, true);
    if (s.bad) return false;
    skip_ows(&c);
    if (at_end(&c)) return true;
    if (!eat(&c, ',')) return false;
    skip_ows(&c);
    if (at_end(&c)) return false;
  }
}

static void ratelimit_clear(rein_ratelimit *r) {
  r->limit = -1;
  r->remaining = -1;
  r->reset_ns = -1;
  r->window_ns = -1;
}

rein_status rein_signal_ratelimit(const char *value, size_t len,
                                  rein_ratelimit *out) {
  if (!out || (!value && len)) return REIN_EINVAL;
  cursor c = trimmed(value, len);
  if (at_end(&c)) return REIN_EPARSE;
  rein_ratelimit r;
  ratelimit_clear(&r);
  int lst = rl_list(c, &r);
  if (lst == RL_VALUE) return REIN_EPARSE;
  if (lst == RL_SYNTAX) {
    ratelimit_clear(&r);
    if (!rl_dict(c, &r)) return REIN_EPARSE;
  }
  *out = r;
  return REIN_OK;
}

/* ------------------------------------------------------------------------ */
/* Accumulating a response's headers                                        */
/* ------------------------------------------------------------------------ */

void rein_signals_init(rein_signals *s) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  s->retry_after_ns = -1;
  s->pushback_ns = -1;
  s->dont_retry = false;
  ratelimit_clear(&s->ratelimit);
  ratelimit_clear(&s->policy);
  s->idem_retention_ns = -1;
  s->malformed = 0;
}

static bool name_is(const char *name, size_t n, const char *want) {
  size_t wn = strlen(want);
  if (n != wn) return false;
  for (size_t i = 0; i < n; i++) {
    char a = name[i], b = want[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

static bool ratelimit_empty(const rein_ratelimit *r) {
  return r->limit < 0 && r->remaining < 0 && r->reset_ns < 0 &&
         r->window_ns < 0;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

rein_status rein_signals_feed(rein_signals *s, const char *name,
                              size_t name_len, const char *value,
                              size_t value_len, int64_t now_unix_ns) {
  if (!s || (!name && name_len) || (!value && value_len)) return REIN_EINVAL;
  rein_status st = REIN_OK;
  if (name_is(name, name_len, REIN_HEADER_RETRY_AFTER)) {
    int64_t d;
    st = rein_signal_retry_after(value, value_len, now_unix_ns, &d);
    if (st == REIN_OK) s->retry_after_ns = max64(s->retry_after_ns, d);
  } else if (name_is(name, name_len, REIN_HEADER_GRPC_PUSHBACK)) {
    int64_t d;
    bool stop;
    st = rein_signal_grpc_pushback(value, value_len, &d, &stop);
    if (st == REIN_OK) {
      if (stop)
        s->dont_retry = true;
      else
        s->pushback_ns = max64(s->pushback_ns, d);
    }
  } else if (name_is(name, name_len, REIN_HEADER_RATELIMIT) ||
             name_is(name, name_len, REIN_HEADER_RATELIMIT_POLICY)) {
    rein_ratelimit *dst = name_len == strlen(REIN_HEADER_RATELIMIT)
                              ? &s->ratelimit
                              : &s->policy;
    rein_ratelimit r;
    st = rein_signal_ratelimit(value, value_len, &r);
    /* A later field line continues the same list: its members come after
     * the first, which is the one that counts. */
    if (st == REIN_OK && ratelimit_empty(dst)) *dst = r;
  } else if (name_is(name, name_len, REIN_HEADER_DONT_RETRY)) {
    bool stop;
    st = rein_signal_dont_retry(value, value_len, &stop);
    if (st == REIN_OK && stop) s->dont_retry = true;
  } else if (name_is(name, name_len, REIN_HEADER_IDEM_RETENTION)) {
    int64_t sec;
    if (!delta_seconds(trimmed(value, value_len), INT64_MAX / REIN_NS_PER_S,
                       &sec)) {
      st = REIN_EPARSE;
    } else {
      int64_t ns = sec * REIN_NS_PER_S;
      /* The shortest retention stated is the one a client can rely on. */
      if (s->idem_retention_ns < 0 || ns < s->idem_retention_ns)
        s->idem_retention_ns = ns;
    }
  }
  /* Malformed: counted and otherwise ignored, as if the header were absent;
   * the call itself succeeds (a bad header must not fail a response). */
  if (st == REIN_EPARSE && s->malformed < UINT32_MAX) s->malformed++;
  return REIN_OK;
}

int64_t rein_signals_pace_ns(const rein_signals *s) {
  if (!s) return -1;
  const rein_ratelimit *rl = &s->ratelimit;
  if (rl->remaining < 0 || rl->reset_ns < 0) return -1;
  int64_t wait = 0;
  if (rl->remaining == 0) {
    wait = rl->reset_ns;
  } else {
    int64_t limit = rl->limit >= 0 ? rl->limit : s->policy.limit;
    /* remaining < 10% of limit, i.e. remaining < ceil(limit / 10),
     * written so that no product can overflow. */
    bool low = limit >= 0 ? rl->remaining < limit / 10 + (limit % 10 != 0)
                          : rl->remaining < 2;
    if (low) wait = rl->reset_ns / rl->remaining;
  }
  return wait > REIN_SIGNAL_MAX_DELAY_NS ? REIN_SIGNAL_MAX_DELAY_NS : wait;
}

int64_t rein_signals_delay_floor(const rein_signals *s) {
  if (!s) return 0;
  int64_t floor = 0;
  floor = max64(floor, s->retry_after_ns);
  floor = max64(floor, s->pushback_ns);
  floor = max64(floor, rein_signals_pace_ns(s));
  if (floor > REIN_SIGNAL_MAX_DELAY_NS) floor = REIN_SIGNAL_MAX_DELAY_NS;
  return floor;
}

/* ------------------------------------------------------------------------ */
/* An inbound request's deadline                                            */
/* ------------------------------------------------------------------------ */

void rein_deadline_in_init(rein_deadline_in *d) {
  if (!d) return;
  d->left_ns = -1;
  d->malformed = NULL;
}

static const char *const deadline_names[] = {
    REIN_HEADER_DEADLINE, REIN_HEADER_GRPC_TIMEOUT, REIN_HEADER_CONNECT_TIMEOUT,
    REIN_HEADER_ENVOY_EXPECTED_TIMEOUT};

rein_status rein_deadline_in_feed(rein_deadline_in *d, const char *name,
                                  size_t name_len, const char *value,
                                  size_t value_len) {
  if (!d || (!name && name_len) || (!value && value_len)) return REIN_EINVAL;
  int which = -1;
  for (int i = 0; i < 4 && which < 0; i++)
    if (name_is(name, name_len, deadline_names[i])) which = i;
  if (which < 0) return REIN_OK;
  int64_t left;
  rein_status st = which == 1
                       ? rein_signal_grpc_timeout(value, value_len, &left)
                       : rein_signal_timeout_ms(value, value_len, &left);
  if (st != REIN_OK) {
    if (!d->malformed) d->malformed = deadline_names[which];
    return REIN_EPARSE;
  }
  if (d->left_ns < 0 || left < d->left_ns) d->left_ns = left;
  return REIN_OK;
}

rein_status rein_deadline_in_lookup(rein_deadline_in *d,
                                    rein_header_lookup_fn get, void *ctx) {
  if (!d || !get) return REIN_EINVAL;
  for (int i = 0; i < 4; i++) {
    const char *v = get(ctx, deadline_names[i]);
    if (!v) continue;
    rein_status st = rein_deadline_in_feed(d, deadline_names[i],
                                           strlen(deadline_names[i]), v,
                                           strlen(v));
    if (st != REIN_OK) return st;
  }
  return REIN_OK;
}
