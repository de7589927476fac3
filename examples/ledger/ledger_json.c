/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_json.c: a strict reader for the ledger's one request shape and a
 * JSON string writer.
 *
 * The request body is small and flat, so a recursive-descent reader of one
 * object with scalar members is enough and keeps the example free of a JSON
 * dependency. It is strict (no trailing garbage, no duplicate known members,
 * integers only for amounts) so that two bodies the ledger treats as the same
 * charge are byte-identical in practice, which the idempotency fingerprint
 * relies on.
 */
#include "ledger_json.h"

#include <stdio.h>
#include <string.h>

typedef struct rd {
  const char *p, *end;
  char *why;
  size_t cap;
} rd;

static bool err(rd *r, const char *msg) {
  if (r->cap) snprintf(r->why, r->cap, "%s", msg);
  return false;
}

static void ws(rd *r) {
  while (r->p < r->end &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

/* Reads a JSON string into out (cap bytes incl. NUL); only ASCII escapes
 * needed by keys and account names are decoded (\uXXXX below 0x80). */
static bool str(rd *r, char *out, size_t cap, const char *field) {
  char msg[160];
  if (r->p >= r->end || *r->p != '"') {
    snprintf(msg, sizeof msg, "%s: expected a string", field);
    return err(r, msg);
  }
  r->p++;
  size_t o = 0;
  while (r->p < r->end && *r->p != '"') {
    unsigned char c = (unsigned char)*r->p++;
    if (c < 0x20) {
      snprintf(msg, sizeof msg, "%s: control character in string", field);
      return err(r, msg);
    }
    if (c == '\\') {
      if (r->p >= r->end) break;
      char e = *r->p++;
      switch (e) {
      case '"':
        c = '"';
        break;
      case '\\':
        c = '\\';
        break;
      case '/':
        c = '/';
        break;
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'r':
        c = '\r';
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'u': {
        unsigned v = 0;
        for (int i = 0; i < 4; i++) {
          if (r->p >= r->end) return err(r, "body: truncated \\u escape");
          char h = *r->p++;
          v <<= 4;
          if (h >= '0' && h <= '9')
            v |= (unsigned)(h - '0');
          else if (h >= 'a' && h <= 'f')
            v |= (unsigned)(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F')
            v |= (unsigned)(h - 'A' + 10);
          else
            return err(r, "body: bad \\u escape");
        }
        if (v == 0 || v >= 0x80) {
          snprintf(msg, sizeof msg, "%s: only ASCII \\u escapes are accepted",
                   field);
          return err(r, msg);
        }
        c = (unsigned char)v;
        break;
      }
      default:
        return err(r, "body: bad escape in string");
      }
    }
    if (out) {
      if (o + 1 >= cap) {
        snprintf(msg, sizeof msg, "%s: longer than %zu characters", field,
                 cap - 1);
        return err(r, msg);
      }
      out[o++] = (char)c;
    }
  }
  if (r->p >= r->end) return err(r, "body: unterminated string");
  r->p++;
  if (out) out[o] = '\0';
  return true;
}

static bool integer(rd *r, int64_t *v) {
  const char *s = r->p;
  bool neg = false;
  if (s < r->end && *s == '-') neg = true, s++;
  if (s >= r->end || *s < '0' || *s > '9')
    return err(r, "amount_cents: expected an integer number of cents");
  int64_t x = 0;
  int nd = 0;
  while (s < r->end && *s >= '0' && *s <= '9') {
    if (++nd > 15) return err(r, "amount_cents: too large");
    x = x * 10 + (*s++ - '0');
  }
  if (s < r->end && (*s == '.' || *s == 'e' || *s == 'E'))
    return err(r, "amount_cents: expected an integer (cents), not a "
                  "fraction");
  r->p = s;
  *v = neg ? -x : x;
  return true;
}

/* Skips a scalar value of an ignored member. */
static bool skip_scalar(rd *r) {
  if (r->p >= r->end) return err(r, "body: truncated");
  char c = *r->p;
  if (c == '"') return str(r, NULL, 0, "body");
  if (c == '{' || c == '[')
    return err(r, "body: nested objects and arrays are not accepted");
  const char *s = r->p;
  while (s < r->end &&
         (strchr("+-.0123456789eE", *s) || (*s >= 'a' && *s <= 'z')))
    s++;
  size_t n = (size_t)(s - r->p);
  bool ok = (n == 4 && !memcmp(r->p, "true", 4)) ||
            (n == 5 && !memcmp(r->p, "false", 5)) ||
            (n == 4 && !memcmp(r->p, "null", 4)) ||
            (n > 0 && (r->p[0] == '-' || (r->p[0] >= '0' && r->p[0] <= '9')));
  if (!ok) return err(r, "body: bad JSON value");
  r->p = s;
  return true;
}

static bool account_ok(const char *a) {
  if (!a[0]) return false;
  for (; *a; a++) {
    char c = *a;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

bool ledger_parse_charge(const char *body, size_t len, ledger_charge_req *out,
                         char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  /* An empty body may come as NULL (Content-Length: 0): refuse it before
   * any pointer arithmetic on it. */
  if (!body || len == 0) {
    rd e = {"", "", why, cap};
    return err(&e, "body: empty; expected a JSON object like "
                   "{\"account\":\"acct_1\",\"amount_cents\":1250}");
  }
  rd r = {body, body + len, why, cap};
  bool has_account = false, has_amount = false;
  ws(&r);
  if (r.p >= r.end || *r.p != '{')
    return err(&r, "body: expected a JSON object like "
                   "{\"account\":\"acct_1\",\"amount_cents\":1250}");
  r.p++;
  ws(&r);
  if (r.p < r.end && *r.p == '}') {
    r.p++;
  } else {
    for (;;) {
      char name[32];
      ws(&r);
      if (r.p < r.end && *r.p == '"') {
        /* Member names longer than `name` are unknown members. */
        const char *save = r.p;
        if (!str(&r, name, sizeof name, "body")) {
          r.p = save;
          if (!str(&r, NULL, 0, "body")) return false;
          name[0] = '\0';
        }
      } else {
        return err(&r, "body: expected a member name in double quotes");
      }
      ws(&r);
      if (r.p >= r.end || *r.p != ':') return err(&r, "body: expected ':'");
      r.p++;
      ws(&r);
      if (!strcmp(name, "account")) {
        if (has_account) return err(&r, "account: given twice");
        if (!str(&r, out->account, sizeof out->account, "account"))
          return false;
        has_account = true;
      } else if (!strcmp(name, "amount_cents")) {
        if (has_amount) return err(&r, "amount_cents: given twice");
        if (!integer(&r, &out->amount_cents)) return false;
        has_amount = true;
      } else if (!strcmp(name, "ref")) {
        if (out->has_ref) return err(&r, "ref: given twice");
        if (!str(&r, out->ref, sizeof out->ref, "ref")) return false;
        out->has_ref = true;
      } else if (!skip_scalar(&r)) {
        return false;
      }
      ws(&r);
      if (r.p < r.end && *r.p == ',') {
        r.p++;
        continue;
      }
      if (r.p < r.end && *r.p == '}') {
        r.p++;
        break;
      }
      return err(&r, "body: expected ',' or '}'");
    }
  }
  ws(&r);
  if (r.p != r.end) return err(&r, "body: unexpected text after the object");
  if (!has_account)
    return err(&r, "account: missing (a string such as \"acct_1\")");
  if (!account_ok(out->account))
    return err(&r, "account: 1-64 characters of [A-Za-z0-9_.-]");
  if (!has_amount) return err(&r, "amount_cents: missing (a positive integer)");
  if (out->amount_cents <= 0 || out->amount_cents > INT64_C(100000000000))
    return err(&r, "amount_cents: must be in [1, 100000000000]");
  for (const char *p = out->ref; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      return err(&r, "ref: printable ASCII only");
  return true;
}

bool ledger_json_str(char *buf, size_t cap, size_t *len, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t o = *len;
#define PUT(ch)                                                                \
  do {                                                                         \
    if (o + 1 >= cap) return false;                                            \
    buf[o++] = (ch);                                                           \
  } while (0)
  PUT('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      PUT('\\');
      PUT((char)c);
    } else if (c < 0x20 || c == 0x7f) {
      PUT('\\');
      PUT('u');
      PUT('0');
      PUT('0');
      PUT(hex[c >> 4]);
      PUT(hex[c & 15]);
    } else {
      PUT((char)c);
    }
  }
  PUT('"');
#undef PUT
  buf[o] = '\0';
  *len = o;
  return true;
}
