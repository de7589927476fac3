/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sf.c: the Idempotency-Key field as draft-ietf-httpapi-idempotency-key-header
 * specifies it: an RFC 8941 Item whose bare item is a String.
 *
 * The parser is strict where the grammar is (quoted, only \" and \\ escape,
 * printable ASCII 0x20-0x7e) because a lenient one lets two spellings of the
 * same key reach the store as different keys, or the same spelling reach it
 * as two. Parameters after the string are valid RFC 8941 and are parsed and
 * ignored; anything else after the string is an error. Errors say where (the
 * 1-based column) and what would have been correct, since the reader is a
 * client developer looking at a 400.
 */
#include "rein/idem_http.h"

#include <stdio.h>
#include <string.h>

static bool is_lcalpha(int c) {
  return c >= 'a' && c <= 'z';
}
static bool is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_digit(int c) {
  return c >= '0' && c <= '9';
}

/* RFC 9110 tchar */
static bool is_tchar(int c) {
  if (is_alpha(c) || is_digit(c)) return true;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_b64(int c) {
  return is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=';
}

static rein_status fail(rein_errbuf *err, size_t col, const char *fmt,
                        const char *what) {
  if (err) {
    char tmp[400];
    snprintf(tmp, sizeof tmp, fmt, what ? what : "");
    snprintf(err->msg, sizeof err->msg, "Idempotency-Key: column %zu: %s", col,
             tmp);
  }
  return REIN_EPARSE;
}

/* Skips one RFC 8941 bare item starting at v[*i] (a parameter value). */
static bool skip_bare_item(const char *v, size_t n, size_t *i) {
  size_t p = *i;
  if (p >= n) return false;
  int c = (unsigned char)v[p];
  if (c == '-' || is_digit(c)) { /* sf-integer / sf-decimal */
    if (c == '-') p++;
    size_t d0 = p;
    while (p < n && is_digit((unsigned char)v[p]))
      p++;
    size_t ndig = p - d0;
    if (ndig == 0 || ndig > 15) return false;
    if (p < n && v[p] == '.') {
      if (ndig > 12) return false;
      p++;
      size_t f0 = p;
      while (p < n && is_digit((unsigned char)v[p]))
        p++;
      if (p == f0 || p - f0 > 3) return false;
    }
  } else if (c == '"') { /* sf-string */
    p++;
    for (;;) {
      if (p >= n) return false;
      int s = (unsigned char)v[p++];
      if (s == '\\') {
        if (p >= n || (v[p] != '"' && v[p] != '\\')) return false;
        p++;
      } else if (s == '"') {
        break;
      } else if (s < 0x20 || s > 0x7e) {
        return false;
      }
    }
  } else if (c == '*' || is_alpha(c)) { /* sf-token */
    p++;
    while (p < n &&
           (is_tchar((unsigned char)v[p]) || v[p] == ':' || v[p] == '/'))
      p++;
  } else if (c == ':') { /* sf-binary */
    p++;
    while (p < n && is_b64((unsigned char)v[p]))
      p++;
    if (p >= n || v[p] != ':') return false;
    p++;
  } else if (c == '?') { /* sf-boolean */
    if (p + 1 >= n || (v[p + 1] != '0' && v[p + 1] != '1')) return false;
    p += 2;
  } else {
    return false;
  }
  *i = p;
  return true;
}

rein_status rein_idem_http_parse_key(const char *value, size_t len, char *out,
                                     size_t cap, size_t *out_len,
                                     rein_errbuf *err) {
  if (!value || !out || cap == 0) return REIN_EINVAL;
  const char *v = value;
  size_t n = len, i = 0;
  /* HTTP strips OWS around a field value; RFC 8941 then discards leading
   * SP. Accept both SP and HTAB at either end. */
  while (i < n && (v[i] == ' ' || v[i] == '\t'))
    i++;
  while (n > i && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (i >= n)
    return fail(err, 1,
                "%sempty value; expected a quoted key such as "
                "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"",
                NULL);
  if (v[i] != '"') {
    return fail(err, i + 1,
                "expected '\"': the key must be an RFC 8941 string, e.g. "
                "Idempotency-Key: \"%s\" (quote it; tokens are not keys)",
                "8e03978e-40d5-43e8-bc93-6894a57f9324");
  }
  i++;
  size_t o = 0;
  for (;;) {
    if (i >= n)
      return fail(err, i + 1, "%sunterminated string: missing closing '\"'",
                  NULL);
    int c = (unsigned char)v[i];
    if (c == '\\') {
      if (i + 1 >= n || (v[i + 1] != '"' && v[i + 1] != '\\'))
        return fail(err, i + 1,
                    "%sbad escape: only \\\" and \\\\ are allowed in a "
                    "string",
                    NULL);
      c = (unsigned char)v[i + 1];
      i += 2;
    } else if (c == '"') {
      i++;
      break;
    } else if (c < 0x20 || c > 0x7e) {
      return fail(err, i + 1,
                  "%snon-printable or non-ASCII byte: keys are printable "
                  "ASCII (0x20-0x7e)",
                  NULL);
    } else {
      i++;
    }
    if (o >= REIN_IDEM_HTTP_KEY_MAX) {
      char lim[32];
      snprintf(lim, sizeof lim, "%d", REIN_IDEM_HTTP_KEY_MAX);
      return fail(err, i, "key longer than %s characters; use a UUID", lim);
    }
    if (o + 1 >= cap) return REIN_ETOOBIG;
    out[o++] = (char)c;
  }
  if (o == 0)
    return fail(err, i, "%sempty key: a key has 1 to 255 characters", NULL);
  /* Parameters: ;key[=bare-item] ... (RFC 8941 3.1.2), parsed and ignored. */
  while (i < n && v[i] == ';') {
    i++;
    while (i < n && v[i] == ' ')
      i++;
    if (i >= n || !(is_lcalpha((unsigned char)v[i]) || v[i] == '*'))
      return fail(err, i + 1,
                  "%sbad parameter key after ';' (lowercase letter or '*' "
                  "expected)",
                  NULL);
    while (i < n &&
           (is_lcalpha((unsigned char)v[i]) || is_digit((unsigned char)v[i]) ||
            v[i] == '_' || v[i] == '-' || v[i] == '.' || v[i] == '*'))
      i++;
    if (i < n && v[i] == '=') {
      i++;
      if (!skip_bare_item(v, n, &i))
        return fail(err, i + 1, "%sbad parameter value", NULL);
    }
  }
  if (i < n) {
    if (v[i] == ',')
      return fail(err, i + 1,
                  "%sa list of keys: send exactly one Idempotency-Key", NULL);
    return fail(err, i + 1, "%sunexpected text after the closing '\"'", NULL);
  }
  out[o] = '\0';
  if (out_len) *out_len = o;
  return REIN_OK;
}

rein_status rein_idem_http_format_key(const char *key, size_t len, char *out,
                                      size_t cap, size_t *needed) {
  if (!key || (!out && cap)) return REIN_EINVAL;
  if (len == 0 || len > REIN_IDEM_HTTP_KEY_MAX) return REIN_ERANGE;
  size_t need = 2;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)key[i];
    if (c < 0x20 || c > 0x7e) return REIN_EPARSE;
    need += (c == '"' || c == '\\') ? 2 : 1;
  }
  if (needed) *needed = need;
  if (need + 1 > cap) return REIN_ETOOBIG;
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < len; i++) {
    if (key[i] == '"' || key[i] == '\\') out[o++] = '\\';
    out[o++] = key[i];
  }
  out[o++] = '"';
  out[o] = '\0';
  return REIN_OK;
}
