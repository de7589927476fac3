/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_json.c: the reader of the ledger's one request shape and its JSON
 * string writer, both on jansson (rein/json.h).
 *
 * jansson parses the body (strict RFC 8259: no trailing text, no NUL in
 * strings, duplicate members refused with JSON_REJECT_DUPLICATES, nesting
 * bounded at 2048 levels by jansson itself; the ledger caps the body at
 * 64 KiB before it gets here); this file then checks the shape: one object
 * whose known members have the right types and ranges, other members
 * scalars, integers only for amounts. Strict so that two bodies the ledger
 * treats as the same charge are byte-identical in practice, which the
 * idempotency fingerprint relies on. Every failure is "field: what was
 * expected", the detail of the 400 the ledger answers.
 */
#include "ledger_json.h"

#include "rein/json.h"

#include <stdio.h>
#include <string.h>

#define EXAMPLE "{\"account\":\"acct_1\",\"amount_cents\":1250}"

static bool err(char *why, size_t cap, const char *msg) {
  if (cap) snprintf(why, cap, "%s", msg);
  return false;
}

/* A string member into out (cap bytes with the NUL). */
static bool str(json_t *v, char *out, size_t cap, const char *field, char *why,
                size_t wcap) {
  char msg[160];
  if (!json_is_string(v)) {
    snprintf(msg, sizeof msg, "%s: expected a string", field);
    return err(why, wcap, msg);
  }
  size_t n = json_string_length(v);
  if (n + 1 > cap) {
    snprintf(msg, sizeof msg, "%s: longer than %zu characters", field, cap - 1);
    return err(why, wcap, msg);
  }
  memcpy(out, json_string_value(v), n + 1);
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

static bool check(json_t *root, ledger_charge_req *out, char *why, size_t cap) {
  if (!json_is_object(root))
    return err(why, cap, "body: expected a JSON object like " EXAMPLE);
  bool has_account = false, has_amount = false;
  const char *name;
  json_t *v;
  json_object_foreach(root, name, v) {
    if (!strcmp(name, "account")) {
      if (!str(v, out->account, sizeof out->account, "account", why, cap))
        return false;
      has_account = true;
    } else if (!strcmp(name, "amount_cents")) {
      if (json_is_real(v))
        return err(why, cap,
                   "amount_cents: expected an integer (cents), not a "
                   "fraction");
      if (!json_is_integer(v))
        return err(why, cap,
                   "amount_cents: expected an integer number of cents");
      out->amount_cents = (int64_t)json_integer_value(v);
      has_amount = true;
    } else if (!strcmp(name, "ref")) {
      if (!str(v, out->ref, sizeof out->ref, "ref", why, cap)) return false;
      out->has_ref = true;
    } else if (json_is_object(v) || json_is_array(v)) {
      return err(why, cap, "body: nested objects and arrays are not accepted");
    }
  }
  if (!has_account)
    return err(why, cap, "account: missing (a string such as \"acct_1\")");
  if (!account_ok(out->account))
    return err(why, cap, "account: 1-64 characters of [A-Za-z0-9_.-]");
  if (!has_amount)
    return err(why, cap, "amount_cents: missing (a positive integer)");
  if (out->amount_cents <= 0 || out->amount_cents > INT64_C(100000000000))
    return err(why, cap, "amount_cents: must be in [1, 100000000000]");
  for (const char *p = out->ref; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
      return err(why, cap, "ref: printable ASCII only");
  return true;
}

bool ledger_parse_charge(const char *body, size_t len, ledger_charge_req *out,
                         char *why, size_t cap) {
  memset(out, 0, sizeof *out);
  /* An empty body may come as NULL (Content-Length: 0). */
  if (!body || len == 0)
    return err(why, cap, "body: empty; expected a JSON object like " EXAMPLE);
  json_error_t e;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
  if (!root) {
    /* jansson's text may quote the input; the problem writer keeps the
     * 400's body UTF-8 whatever it holds */
    char msg[256];
    snprintf(msg, sizeof msg, "body: %s (line %d, column %d)", e.text, e.line,
             e.column);
    return err(why, cap, msg);
  }
  bool ok = check(root, out, why, cap);
  json_decref(root);
  if (!ok) memset(out, 0, sizeof *out);
  return ok;
}

bool ledger_json_str(char *buf, size_t cap, size_t *len, const char *s) {
  if (*len >= cap) return false;
  json_t *j = rein_json_string(s);
  size_t room = cap - *len - 1; /* and the NUL */
  size_t n = j ? json_dumpb(j, buf + *len, room, REIN_JSON_FLAGS) : 0;
  json_decref(j);
  if (n == 0 || n > room) {
    buf[*len] = '\0';
    return false;
  }
  *len += n;
  buf[*len] = '\0';
  return true;
}
