/* SPDX-License-Identifier: Apache-2.0 */
/*
 * input.c: reading untrusted input (rein/input.h): the bounded regular-file
 * reader, the YAML depth pre-scan, sizes, the terminal escaper, and the
 * UTF-8 check and repair under every JSON writer (rein/json.h).
 *
 * They live in the core, not in rein_contract or rein_sim, because both of
 * those read the same kinds of files and the `rein` tool prints what both
 * report: one reader, one pre-scan and one escaper, so a fix to any of them
 * reaches every caller. The pre-scan is a line-oriented approximation of
 * YAML's lexical rules, biased to count too deep rather than too shallow:
 * it skips text (quotes, block scalars) only where libyaml would also read
 * it as text, so nothing it skips can hide nesting from it.
 */
#include "internal.h"
#include "rein/input.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ----------------------------------------------------------- file reading */

static rein_status fail(rein_errbuf *err, rein_status st, const char *fmt, ...)
    REIN_PRINTF(3, 4);
static rein_status fail(rein_errbuf *err, rein_status st, const char *fmt,
                        ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return st;
}

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a file";
}

rein_status rein_file_read(const char *path, size_t max_bytes,
                           const rein_allocator *alloc, rein_errbuf *err,
                           char **out, size_t *len) {
  if (!out || !len) return REIN_EINVAL;
  *out = NULL;
  *len = 0;
  if (!path) return REIN_EINVAL;
  /* O_NONBLOCK: opening a FIFO for reading blocks until a writer appears;
   * with it the open returns and fstat says what the path is. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return fail(err, REIN_EIO, "cannot open: %s", strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail(err, REIN_EIO, "cannot stat: %s", strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, REIN_EINVAL, "not a regular file (%s)",
                file_kind(st.st_mode));
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  if ((uint64_t)st.st_size > max_bytes) {
    close(fd);
    return fail(err, REIN_ETOOBIG, "larger than %zu bytes", max_bytes);
  }
  /* st_size is a hint (files in /proc say 0, a file may grow while read):
   * read to EOF, never past max_bytes + 1 */
  size_t cap = (size_t)st.st_size + 1, n = 0;
  if (cap < 4096) cap = 4096;
  if (cap > max_bytes + 1) cap = max_bytes + 1;
  char *buf = rein__alloc(alloc, cap + 1);
  if (!buf) {
    close(fd);
    return fail(err, REIN_ENOMEM, "out of memory");
  }
  for (;;) {
    if (n == cap) {
      if (cap > max_bytes) {
        close(fd);
        rein__free(alloc, buf);
        return fail(err, REIN_ETOOBIG, "larger than %zu bytes", max_bytes);
      }
      size_t nc = cap * 2 < max_bytes + 1 ? cap * 2 : max_bytes + 1;
      char *nb = rein__alloc(alloc, nc + 1);
      if (!nb) {
        close(fd);
        rein__free(alloc, buf);
        return fail(err, REIN_ENOMEM, "out of memory");
      }
      memcpy(nb, buf, n);
      rein__free(alloc, buf);
      buf = nb;
      cap = nc;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      rein__free(alloc, buf);
      return fail(err, REIN_EIO, "read error: %s", strerror(e));
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return REIN_OK;
}

/* --------------------------------------------------------- YAML pre-scan */

typedef struct yscan {
  const char *p;
  size_t len, i, line, line_start;
} yscan;

/* Macros, not functions: they run once per byte, and fuzz and sanitizer
 * builds do not inline. */
#define ysp(c) ((c) == ' ' || (c) == '\t' || (c) == '\r')
#define yend(y, i) ((i) >= (y)->len || (y)->p[i] == '\n')
#define yblank_after(y, i)                                                     \
  ((i) >= (y)->len || ysp((y)->p[i]) || (y)->p[i] == '\n')

/* The index of the '\n' ending the line at i (or len): memchr, not a loop
 * of compares (sanitizer and fuzz builds trace every compare). */
static size_t yeol(const yscan *y, size_t i) {
  const char *nl = i < y->len ? memchr(y->p + i, '\n', y->len - i) : NULL;
  return nl ? (size_t)(nl - y->p) : y->len;
}

/* The bytes the rest-of-line scan must look at; every other byte is part
 * of a plain scalar or a key and only ends a value start. */
static const unsigned char yspecial[256] = {
    ['\n'] = 1, [' '] = 1, ['\t'] = 1, ['\r'] = 1, ['#'] = 1,
    ['['] = 1,  ['{'] = 1, [']'] = 1,  ['}'] = 1,  ['"'] = 1,
    ['\''] = 1, [','] = 1, [':'] = 1,  ['?'] = 1,  ['|'] = 1,
    ['>'] = 1,  ['&'] = 1, ['!'] = 1,  ['*'] = 1};

static rein_status ydeep(const yscan *y, size_t at, size_t *line, size_t *col) {
  if (line) *line = y->line;
  if (col) {
    size_t c = 1;
    for (size_t k = y->line_start; k < at && k < y->len; k++)
      if (((unsigned char)y->p[k] & 0xC0) != 0x80) c++;
    *col = c;
  }
  return REIN_ETOOBIG;
}

/* Skip a quoted scalar starting at y->i (the quote), across lines. */
static void yquote(yscan *y) {
  char q = y->p[y->i++];
  while (y->i < y->len) {
    char c = y->p[y->i];
    if (c == '\n') {
      y->i++;
      y->line++;
      y->line_start = y->i;
      continue;
    }
    if (q == '"' && c == '\\') {
      y->i += y->i + 1 < y->len && y->p[y->i + 1] != '\n' ? 2 : 1;
      continue;
    }
    if (c == q) {
      if (q == '\'' && y->i + 1 < y->len && y->p[y->i + 1] == '\'') {
        y->i += 2;
        continue;
      }
      y->i++;
      return;
    }
    y->i++;
  }
}

rein_status rein_yaml_check_depth(const char *text, size_t len,
                                  unsigned max_depth, size_t *line,
                                  size_t *col) {
  if (!text && len) return REIN_EINVAL;
  if (!max_depth) max_depth = REIN_YAML_MAX_DEPTH;
  /* block levels: the column of each open block node, outermost first */
  size_t ind[REIN_YAML_MAX_DEPTH > 256 ? REIN_YAML_MAX_DEPTH : 256];
  size_t cap = sizeof ind / sizeof ind[0];
  if (max_depth >= cap) max_depth = (unsigned)cap - 1;
  size_t nb = 0, flow = 0;
  bool in_bs = false; /* inside a block scalar */
  size_t bs_indent = 0;
  yscan y = {text, len, 0, 1, 0};
  while (y.i < y.len) {
    /* ---- start of a line */
    size_t ls = y.i, ind_n = 0;
    while (ls + ind_n < y.len && y.p[ls + ind_n] == ' ')
      ind_n++;
    size_t j = ls + ind_n;
    while (j < y.len && ysp(y.p[j]))
      j++;
    bool blank = yend(&y, j);
    if (in_bs) {
      if (blank || ind_n > bs_indent) {
        y.i = yeol(&y, y.i);
        goto next_line;
      }
      in_bs = false;
    }
    bool value_start = true; /* a node may start here (after `- `, `: `) */
    char last = 0;           /* last non-space character (flow context) */
    if (flow == 0 && !blank && y.p[j] != '#') {
      y.i = ls + ind_n;
      if (ind_n == 0 && y.p[y.i] == '%') { /* a directive */
        y.i = yeol(&y, y.i);
        goto next_line;
      }
      if (ind_n == 0 && y.i + 3 <= y.len &&
          (!strncmp(y.p + y.i, "---", 3) || !strncmp(y.p + y.i, "...", 3)) &&
          yblank_after(&y, y.i + 3)) { /* a document marker */
        nb = 0;
        y.i += 3;
      } else {
        while (nb && ind[nb - 1] >= ind_n)
          nb--;
        if (nb + 1 > max_depth) return ydeep(&y, y.i, line, col);
        ind[nb++] = ind_n;
        /* compact nested collections: `- - - x`, `? a`, `- key: v` */
        while ((y.p[y.i] == '-' || y.p[y.i] == '?' || y.p[y.i] == ':') &&
               yblank_after(&y, y.i + 1)) {
          y.i++;
          while (y.i < y.len && ysp(y.p[y.i]))
            y.i++;
          if (yend(&y, y.i) || y.p[y.i] == '#') break;
          if (nb + 1 > max_depth) return ydeep(&y, y.i, line, col);
          ind[nb++] = y.i - ls;
        }
      }
    } else {
      y.i = j;
    }
    /* ---- the rest of the line */
    while (y.i < y.len) {
      { /* most bytes: skip them with locals (no struct access per byte) */
        const char *p = y.p;
        size_t i = y.i, n = y.len;
        while (i < n && !yspecial[(unsigned char)p[i]])
          i++;
        if (i != y.i) {
          value_start = false;
          last = p[i - 1];
          y.i = i;
        }
        if (i >= n) break;
      }
      char c = y.p[y.i];
      if (c == '\n') break;
      bool tok = y.i == y.line_start || ysp(y.p[y.i - 1]);
      if (ysp(c)) {
        y.i++;
        continue;
      }
      if (c == '#' && tok) {
        y.i = yeol(&y, y.i);
        break;
      }
      if (flow) {
        if (c == '[' || c == '{') {
          if (nb + ++flow > max_depth) return ydeep(&y, y.i, line, col);
        } else if (c == ']' || c == '}') {
          flow--;
          value_start = false;
        } else if ((c == '"' || c == '\'') &&
                   (value_start || !last || strchr("[{,:?", last))) {
          yquote(&y);
          last = c;
          value_start = false;
          continue;
        } else if (c == ',' || c == '?') {
          value_start = true;
        } else if (c == ':') {
          value_start = true;
        } else {
          value_start = false;
        }
        last = c;
        y.i++;
        if (!flow) value_start = false;
        continue;
      }
      /* block context */
      if ((c == '[' || c == '{') && (tok || value_start)) {
        if (nb + ++flow > max_depth) return ydeep(&y, y.i, line, col);
        last = c;
        value_start = true;
        y.i++;
        continue;
      }
      if (value_start && (c == '"' || c == '\'')) {
        yquote(&y);
        value_start = false;
        continue;
      }
      if (value_start && (c == '|' || c == '>')) {
        in_bs = true;
        bs_indent = nb ? ind[nb - 1] : 0;
        y.i = yeol(&y, y.i);
        break;
      }
      if (value_start && (c == '&' || c == '!' || c == '*')) {
        while (!yblank_after(&y, y.i))
          y.i++;
        continue; /* a property: the node itself may follow */
      }
      if (c == ':' && yblank_after(&y, y.i + 1)) {
        value_start = true;
        y.i++;
        continue;
      }
      value_start = false;
      y.i++;
    }
  next_line:
    if (y.i < y.len) { /* at '\n' */
      y.i++;
      y.line++;
      y.line_start = y.i;
    }
  }
  return REIN_OK;
}

/* ------------------------------------------------------------------ sizes */

rein_status rein_parse_size(const char *s, uint64_t *bytes) {
  if (!s || !bytes) return REIN_EINVAL;
  while (*s == ' ')
    s++;
  if (!(*s >= '0' && *s <= '9')) return REIN_EPARSE;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || !isfinite(v) || v < 0) return REIN_ERANGE;
  for (const char *q = s; q < end; q++) /* no hex, no exponents */
    if (!((*q >= '0' && *q <= '9') || *q == '.')) return REIN_EPARSE;
  while (*end == ' ')
    end++;
  static const struct {
    const char *u;
    double mult;
  } units[] = {{"", 1},
               {"B", 1},
               {"KiB", 1024.0},
               {"MiB", 1048576.0},
               {"GiB", 1073741824.0},
               {"TiB", 1099511627776.0},
               {"KB", 1e3},
               {"MB", 1e6},
               {"GB", 1e9},
               {"TB", 1e12}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(end, units[i].u) == 0) {
      double b = v * units[i].mult;
      if (b > 4611686018427387904.0) return REIN_ERANGE;
      *bytes = (uint64_t)b;
      return REIN_OK;
    }
  return REIN_EPARSE;
}

const char *rein_format_size(uint64_t b, char *buf, size_t cap) {
  static const char *const u[] = {"KiB", "MiB", "GiB", "TiB"};
  if (b < 1024) {
    snprintf(buf, cap, "%llu B", (unsigned long long)b);
    return buf;
  }
  double v = (double)b / 1024;
  int k = 0;
  while (v >= 1024 && k < 3) {
    v /= 1024;
    k++;
  }
  snprintf(buf, cap, v < 10 ? "%.1f %s" : "%.0f %s", v, u[k]);
  return buf;
}

/* --------------------------------------------------------------- durations */

/* Units of rein_parse_duration, longest spelling first where one is a
 * prefix of another ("ms" and "min" before "m"). */
static const struct {
  const char *u;
  int64_t ns;
} dur_units[] = {{"ns", 1},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"min", 60000000000},
                 {"s", 1000000000},
                 {"m", 60000000000},
                 {"h", 3600000000000},
                 {"d", 86400000000000},
                 {"w", 604800000000000}};

rein_status rein_parse_duration(const char *s, int64_t *ns) {
  if (!s || !ns) return REIN_EINVAL;
  while (*s == ' ')
    s++;
  if (*s == '-') return REIN_ERANGE;
  if (*s == '+') s++;
  if (!*s) return REIN_EPARSE;
  if (strcmp(s, "0") == 0) {
    *ns = 0;
    return REIN_OK;
  }
  int64_t total = 0;
  const char *p = s;
  while (*p) {
    const char *d = p;
    while ((*p >= '0' && *p <= '9') || *p == '.')
      p++;
    if (p == d) return REIN_EPARSE;
    size_t nd = (size_t)(p - d), k, nu = sizeof dur_units / sizeof dur_units[0];
    for (k = 0; k < nu; k++) {
      size_t l = strlen(dur_units[k].u);
      if (strncmp(p, dur_units[k].u, l) == 0 &&
          !((p[l] >= 'a' && p[l] <= 'z') || (p[l] >= 'A' && p[l] <= 'Z')))
        break;
    }
    if (k == nu) return REIN_EPARSE;
    int64_t mult = dur_units[k].ns, part;
    if (memchr(d, '.', nd)) {
      char num[64];
      if (nd >= sizeof num) return REIN_EPARSE;
      memcpy(num, d, nd);
      num[nd] = 0;
      char *end;
      errno = 0;
      double v = strtod(num, &end);
      if (*end || errno || !isfinite(v)) return REIN_EPARSE;
      double r = v * (double)mult + 0.5;
      if (r >= 9.2e18) return REIN_ERANGE;
      part = (int64_t)r;
    } else {
      int64_t v = 0;
      for (const char *q = d; q < p; q++) {
        if (v > (INT64_MAX - 9) / 10) return REIN_ERANGE;
        v = v * 10 + (*q - '0');
      }
      if (v && mult > INT64_MAX / v) return REIN_ERANGE;
      part = v * mult;
    }
    if (part > INT64_MAX - total) return REIN_ERANGE;
    total += part;
    p += strlen(dur_units[k].u);
  }
  *ns = total;
  return REIN_OK;
}

const char *rein_format_duration(int64_t ns, char *buf, size_t cap) {
  if (!buf || !cap) return buf;
  if (ns <= 0) {
    snprintf(buf, cap, "0s");
    return buf;
  }
  static const struct {
    const char *u;
    int64_t ns;
  } parts[] = {{"d", 86400000000000},
               {"h", 3600000000000},
               {"m", 60000000000},
               {"s", 1000000000},
               {"ms", 1000000},
               {"us", 1000},
               {"ns", 1}};
  size_t o = 0;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0] && ns; i++) {
    int64_t q = ns / parts[i].ns;
    if (!q) continue;
    ns -= q * parts[i].ns;
    if (o < cap)
      o += (size_t)snprintf(buf + o, cap - o, "%lld%s", (long long)q,
                            parts[i].u);
  }
  return buf;
}

/* ---------------------------------------------------------------- escaping */

/* Length of the valid UTF-8 sequence at `p` (1..4) and its code point, or
 * 0 when the bytes there are not valid UTF-8 (overlong, surrogate, past
 * U+10FFFF, cut short). */
static int utf8_seq(const unsigned char *p, uint32_t *cp) {
  unsigned char c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (int k = 1; k < n; k++) {
    if ((p[k] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
    v = v << 6 | (p[k] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

static bool is_bidi(uint32_t cp) {
  return cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

/* The escape for the character at `p` into e (NUL-terminated), or NULL when
 * it is shown as is; `*n` is its length in bytes. */
static const char *escape_at(const unsigned char *p, int *n, char e[12]) {
  uint32_t cp;
  int k = utf8_seq(p, &cp);
  if (!k) {
    *n = 1;
    snprintf(e, 12, "\\x%02x", p[0]);
    return e;
  }
  *n = k;
  if (cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp <= 0x9F) && !is_bidi(cp))
    return NULL;
  switch (cp) {
  case '\n':
    return "\\n";
  case '\r':
    return "\\r";
  case '\t':
    return "\\t";
  case 0x1B:
    return "\\e";
  }
  if (cp < 0x80)
    snprintf(e, 12, "\\x%02x", (unsigned)cp);
  else
    snprintf(e, 12, "\\u%04x", (unsigned)cp);
  return e;
}

/* Every byte that may need an escape: C0, DEL and all of 0x80..0xFF (the
 * start of any non-ASCII character). What strcspn skips is printable ASCII
 * and copied as is, without decoding it a byte at a time. */
static const char specials[] =
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
    "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"
    "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f"
    "\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c\x9d\x9e\x9f"
    "\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf"
    "\xb0\xb1\xb2\xb3\xb4\xb5\xb6\xb7\xb8\xb9\xba\xbb\xbc\xbd\xbe\xbf"
    "\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xc7\xc8\xc9\xca\xcb\xcc\xcd\xce\xcf"
    "\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
    "\xe0\xe1\xe2\xe3\xe4\xe5\xe6\xe7\xe8\xe9\xea\xeb\xec\xed\xee\xef"
    "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff";

size_t rein_text_escape(char *out, size_t cap, const char *s) {
  size_t need = 0, used = 0;
  bool full = false;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    size_t run = strcspn((const char *)p, specials);
    if (run) {
      if (!full && cap && used + run < cap) {
        memcpy(out + used, p, run);
        used += run;
      } else if (!full && cap) { /* ASCII: cut anywhere */
        memcpy(out + used, p, cap - 1 - used);
        used = cap - 1;
        full = true;
      }
      need += run;
      p += run;
      continue;
    }
    int n;
    char e[12];
    const char *x = escape_at(p, &n, e);
    size_t xl = x ? strlen(x) : (size_t)n;
    if (!full && cap && used + xl < cap) {
      memcpy(out + used, x ? x : (const char *)p, xl);
      used += xl;
    } else {
      full = true;
    }
    need += xl;
    p += n;
  }
  if (cap) out[used] = 0;
  return need;
}

int rein_text_fputs(const char *s, FILE *f) {
  const unsigned char *p = (const unsigned char *)(s ? s : ""), *run = p;
  int rc = 0;
  while (*p) {
    p += strcspn((const char *)p, specials);
    if (!*p) break;
    int n;
    char e[12];
    const char *x = escape_at(p, &n, e);
    if (x) {
      if (p > run && fwrite(run, 1, (size_t)(p - run), f) != (size_t)(p - run))
        return EOF;
      rc = fputs(x, f);
      if (rc == EOF) return EOF;
      run = p + n;
    }
    p += n;
  }
  if (p > run && fwrite(run, 1, (size_t)(p - run), f) != (size_t)(p - run))
    return EOF;
  return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------ UTF-8 */

size_t rein_utf8_valid_len(const char *s) {
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  const unsigned char *b = p;
  for (;;) {
    /* ASCII runs byte by byte: strcspn with a 128-byte set rebuilds its
     * table on every call, and most strings here are short */
    while (*p && *p < 0x80)
      p++;
    if (!*p) break;
    uint32_t cp;
    int n = utf8_seq(p, &cp);
    if (!n) break;
    p += n;
  }
  return (size_t)(p - b);
}

size_t rein_utf8_scrub(char *out, size_t cap, const char *s) {
  static const char fffd[] = "\xEF\xBF\xBD";
  size_t need = 0, used = 0;
  bool full = cap == 0;
  const unsigned char *p = (const unsigned char *)(s ? s : "");
  while (*p) {
    size_t k = rein_utf8_valid_len((const char *)p);
    const char *piece = (const char *)p;
    size_t pl = k;
    if (!k) { /* one byte that is not part of valid UTF-8 */
      piece = fffd;
      pl = 3;
      k = 1;
    }
    if (!full) {
      size_t room = cap - 1 - used;
      size_t take = pl <= room ? pl : room;
      if (take < pl) { /* cut at a character boundary */
        while (take && ((unsigned char)piece[take] & 0xC0) == 0x80)
          take--;
        if (piece == fffd) take = 0;
        full = true;
      }
      memcpy(out + used, piece, take);
      used += take;
    }
    need += pl;
    p += k;
  }
  if (cap) out[used] = '\0';
  return need;
}

/* ----------------------------------------------------------- did you mean
 * One home for every "did you mean" rein prints: the contract and scenario
 * loaders, the importers and the CLI's options and commands. */

size_t rein_edit_distance(const char *a, const char *b, size_t cap) {
  /* Optimal string alignment: edits plus adjacent transpositions, so
   * "atempts" and "gte" are one edit from "attempts" and "get". */
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return cap + 1;
  /* the distance is at least the difference in length: most candidates
   * of a did-you-mean are out of reach before any cell is computed */
  if ((la > lb ? la - lb : lb - la) > cap) return cap + 1;
  /* three rows of the matrix (i - 2, i - 1, i) are all the recurrence
   * reads: a 65 x 65 array on the stack was 34 KB per call to set up (and,
   * under ASan, to poison and unpoison), for each of a did-you-mean's
   * candidates */
  size_t rows[3][65];
#define M(i, j) rows[(i) % 3][j]
  size_t big = cap + 1;
  for (size_t j = 0; j <= lb; j++)
    M(0, j) = j;
  /* only the band |i - j| <= cap can hold a distance within cap (Ukkonen):
   * the cells just outside it read as cap + 1 */
  for (size_t i = 1; i <= la; i++) {
    size_t jlo = i > cap ? i - cap : 1, jhi = i + cap < lb ? i + cap : lb;
    M(i, 0) = i;
    if (jlo > 1) M(i, jlo - 1) = big;
    if (jhi > i - 1 + cap) M(i - 1, jhi) = big;
    size_t best = (size_t)-1;
    int ca = tolower((unsigned char)a[i - 1]);
    int pa = i > 1 ? tolower((unsigned char)a[i - 2]) : -1;
    for (size_t j = jlo; j <= jhi; j++) {
      int cb = tolower((unsigned char)b[j - 1]);
      size_t v = M(i - 1, j - 1) + (ca != cb);
      if (M(i - 1, j) + 1 < v) v = M(i - 1, j) + 1;
      if (M(i, j - 1) + 1 < v) v = M(i, j - 1) + 1;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          pa == cb && M(i - 2, j - 2) + 1 < v)
        v = M(i - 2, j - 2) + 1;
      M(i, j) = v;
      if (v < best) best = v;
    }
    if (lb && best > cap) return big;
  }
  size_t d = M(la, lb);
#undef M
  return d > big ? big : d;
}

const char *rein_suggest(const char *word, const char *const *cands, size_t n) {
  if (!word || !cands) return NULL;
  size_t len = strlen(word);
  size_t cap = len <= 3 ? 1 : len <= 6 ? 2 : 3;
  const char *best = NULL;
  size_t bd = cap + 1;
  for (size_t i = 0; i < n; i++) {
    size_t d = rein_edit_distance(word, cands[i], cap);
    if (d < bd) {
      bd = d;
      best = cands[i];
    }
  }
  return best;
}
