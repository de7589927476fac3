/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idem_http.c: the framework-agnostic idempotency decision for HTTP.
 *
 * One call, rein_idem_http_begin, turns a request into PROCEED / REPLAY /
 * REJECT by reading the Idempotency-Key field (sf.c), hashing method, route
 * and body, and asking the store. Everything a framework must send back is
 * built here and owned by the exchange, so an adapter only copies status,
 * headers and body into its own response type. The helper never talks to a
 * socket and never sleeps; it holds no lock (the counters are atomics), so
 * one helper serves every worker thread while each thread passes its own
 * store connection.
 *
 * Stored headers use the store's opaque byte string as "Name: value\r\n"
 * lines. Names and values carrying CR or LF are refused at complete() time,
 * so a stored response can never smuggle a header line into a replay.
 */
#include "rein/idem_http.h"
#include "rein/json.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- allocation ---------------------------------------------------------- */

/* ---- types --------------------------------------------------------------- */

enum { ST_PROCEED_KEYED, ST_PROCEED_UNKEYED, ST_DONE, ST_FINAL };

enum {
  C_PROCEED_KEYED,
  C_PROCEED_UNKEYED,
  C_RECOVERED,
  C_REPLAYS,
  C_MISSING,
  C_INVALID,
  C_IN_PROGRESS,
  C_MISMATCH,
  C_STORE_ERRORS,
  C_COMPLETED,
  C_RELEASED,
  C_STALE,
  C_COUNT
};

struct rein_idem_http {
  int64_t lease_ns;
  int64_t retention_ns;
  char type_base[201];
  char retention_value[24];
  const rein_allocator *alloc;
  _Atomic uint64_t counters[C_COUNT];
};

#define XH_MAX 6

struct rein_idem_http_exchange {
  rein_idem_http *h;
  rein_idem_store *store;
  rein_idem_http_action action;
  int state;
  bool keyed;     /* a valid key was parsed */
  bool has_field; /* the request carried an Idempotency-Key field */
  char key[REIN_IDEM_HTTP_KEY_MAX + 1];
  uint8_t fp[REIN_IDEM_FINGERPRINT_LEN];
  rein_idem_result result; /* NEW token, or REPLAY's stored response */
  rein_status store_status;
  char store_msg[256];
  char retry_after[24];
  /* The response built for REPLAY / REJECT, and PROCEED's extra headers. */
  rein_idem_http_response resp;
  rein_idem_http_header fixed[XH_MAX];
  size_t n_fixed;
  rein_idem_http_header *replay_hdrs; /* owned, REPLAY only */
  char *hdr_copy;                     /* owned, REPLAY only */
  char *body;                         /* owned, REJECT only */
};

static void count(const rein_idem_http *h, int c) {
  atomic_fetch_add_explicit(&((rein_idem_http *)h)->counters[c], 1,
                            memory_order_relaxed);
}

/* ---- config -------------------------------------------------------------- */

#define DAY_NS (INT64_C(86400) * REIN_NS_PER_S)

void rein_idem_http_config_default(rein_idem_http_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->lease_ns = 30 * REIN_NS_PER_S;
  c->retention_ns = DAY_NS;
  c->problem_type_base = "urn:rein:problem:";
}

static rein_status invalid(rein_errbuf *err, const char *msg, int64_t got) {
  if (err)
    snprintf(err->msg, sizeof err->msg, "idem_http.%s, got %" PRId64, msg, got);
  return REIN_EINVAL;
}

rein_status rein_idem_http_new(const rein_idem_http_config *cin,
                               rein_idem_http **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  rein_idem_http_config def;
  if (!cin) {
    rein_idem_http_config_default(&def);
    cin = &def;
  }
  if (cin->lease_ns < REIN_NS_PER_MS || cin->lease_ns > DAY_NS)
    return invalid(cin->err, "lease_ns: must be in [1 ms, 24 h] (ns)",
                   cin->lease_ns);
  if (cin->retention_ns < cin->lease_ns || cin->retention_ns > 366 * DAY_NS)
    return invalid(cin->err,
                   "retention_ns: must be in [lease_ns, 366 days] (ns)",
                   cin->retention_ns);
  const char *base = cin->problem_type_base ? cin->problem_type_base : "";
  size_t bl = strlen(base);
  if (bl > 200)
    return invalid(cin->err, "problem_type_base: at most 200 bytes",
                   (int64_t)bl);
  for (size_t i = 0; i < bl; i++) {
    unsigned char ch = (unsigned char)base[i];
    if (ch < 0x21 || ch > 0x7e || ch == '"' || ch == '\\')
      return invalid(cin->err,
                     "problem_type_base: printable ASCII without spaces, "
                     "quotes or backslashes; bad byte at offset",
                     (int64_t)i);
  }
  rein_idem_http *h = rein_alloc(cin->alloc, sizeof *h);
  if (!h) return REIN_ENOMEM;
  memset(h, 0, sizeof *h);
  h->lease_ns = cin->lease_ns;
  h->retention_ns = cin->retention_ns;
  memcpy(h->type_base, base, bl + 1);
  snprintf(h->retention_value, sizeof h->retention_value, "%" PRId64,
           cin->retention_ns / REIN_NS_PER_S);
  h->alloc = cin->alloc;
  for (int i = 0; i < C_COUNT; i++)
    atomic_init(&h->counters[i], 0);
  *out = h;
  return REIN_OK;
}

void rein_idem_http_free(rein_idem_http *h) {
  if (!h) return;
  rein_free(h->alloc, h);
}

const char *rein_idem_http_retention_value(const rein_idem_http *h) {
  return h ? h->retention_value : "";
}

void rein_idem_http_get_stats(const rein_idem_http *h,
                              rein_idem_http_stats *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  if (!h) return;
  rein_idem_http *m = (rein_idem_http *)h;
#define G(i) atomic_load_explicit(&m->counters[i], memory_order_relaxed)
  o->proceed_keyed = G(C_PROCEED_KEYED);
  o->proceed_unkeyed = G(C_PROCEED_UNKEYED);
  o->recovered = G(C_RECOVERED);
  o->replays = G(C_REPLAYS);
  o->missing = G(C_MISSING);
  o->invalid = G(C_INVALID);
  o->in_progress = G(C_IN_PROGRESS);
  o->mismatches = G(C_MISMATCH);
  o->store_errors = G(C_STORE_ERRORS);
  o->completed = G(C_COMPLETED);
  o->released = G(C_RELEASED);
  o->stale = G(C_STALE);
#undef G
}

/* ---- problem+json -------------------------------------------------------- */

const char *rein_idem_http_reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 400:
    return "Bad Request";
  case 409:
    return "Conflict";
  case 422:
    return "Unprocessable Content";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "";
  }
}

/* The body is built by jansson (rein/json.h): every string escaped, bytes
 * that are not UTF-8 (a key or a detail quoting client input) as U+FFFD,
 * so a client's JSON parser always accepts it. */
rein_status rein_idem_http_problem(char *buf, size_t cap, size_t *needed,
                                   const char *type, const char *title,
                                   int status, const char *detail) {
  if (!type || !title || (!buf && cap)) return REIN_EINVAL;
  if (needed) *needed = 0;
  json_t *o = json_object();
  if (rein_json_set(o, "type", rein_json_string(type)) ||
      rein_json_set(o, "title", rein_json_string(title)) ||
      rein_json_set(o, "status", json_integer(status)) ||
      (detail && rein_json_set(o, "detail", rein_json_string(detail)))) {
    json_decref(o);
    return REIN_ENOMEM;
  }
  size_t n = json_dumpb(o, buf, cap, REIN_JSON_FLAGS);
  rein_status st = REIN_OK;
  if (n == 0) {
    st = REIN_ENOMEM;
  } else if (n >= cap && cap) {
    /* json_dumpb leaves a short buffer undefined: cut a full copy */
    char *full = json_dumps(o, REIN_JSON_FLAGS);
    if (full) {
      memcpy(buf, full, cap - 1);
      free(full);
    } else {
      st = REIN_ENOMEM;
    }
    buf[cap - 1] = '\0';
  } else if (cap) {
    buf[n] = '\0';
  }
  json_decref(o);
  if (st != REIN_OK) {
    if (cap) buf[0] = '\0';
    return st;
  }
  if (needed) *needed = n;
  return n < cap ? REIN_OK : REIN_ETOOBIG;
}

/* ---- exchange ------------------------------------------------------------ */

static void add_fixed(rein_idem_http_exchange *x, const char *n,
                      const char *v) {
  if (x->n_fixed < XH_MAX) {
    x->fixed[x->n_fixed].name = n;
    x->fixed[x->n_fixed].value = v;
    x->n_fixed++;
  }
}

/* Builds a REJECT with a problem body; the type is base + `kind`. */
static rein_status reject(rein_idem_http_exchange *x, int status,
                          const char *kind, const char *title,
                          const char *detail) {
  char type[256];
  snprintf(type, sizeof type, "%s%s", x->h->type_base, kind);
  size_t need = 0;
  if (rein_idem_http_problem(NULL, 0, &need, type, title, status, detail) !=
      REIN_ETOOBIG)
    return REIN_ENOMEM;
  x->body = rein_alloc(x->h->alloc, need + 1);
  if (!x->body) return REIN_ENOMEM;
  if (rein_idem_http_problem(x->body, need + 1, NULL, type, title, status,
                             detail) != REIN_OK) {
    rein_free(x->h->alloc, x->body);
    x->body = NULL;
    return REIN_ENOMEM;
  }
  x->action = REIN_IDEM_HTTP_REJECT;
  x->state = ST_FINAL;
  add_fixed(x, "Content-Type", REIN_IDEM_HTTP_PROBLEM_CT);
  if (x->has_field)
    add_fixed(x, REIN_HEADER_IDEM_RETENTION, x->h->retention_value);
  x->resp.status = status;
  x->resp.headers = x->fixed;
  x->resp.n_headers = x->n_fixed;
  x->resp.body = x->body;
  x->resp.body_len = need;
  return REIN_OK;
}

/* RFC 9110 tchar: what a field name is made of. */
static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A name that is not a token but carries the key's name: what an obs-fold
 * or a stray byte turned the key field into. */
static bool looks_like_key(const char *name) {
  size_t kl = sizeof REIN_HEADER_IDEM_KEY - 1;
  bool token = name[0] != '\0';
  bool has = false;
  for (const char *p = name; *p; p++) {
    if (!is_tchar((unsigned char)*p)) token = false;
    if (!has && strncasecmp(p, REIN_HEADER_IDEM_KEY, kl) == 0) has = true;
  }
  return has && !token;
}

rein_status rein_idem_http_read_key(const rein_idem_http_request *r, char *out,
                                    size_t cap, rein_errbuf *err) {
  if (!r || !out || !cap || (!r->lookup && !r->headers && r->n_headers))
    return REIN_EINVAL;
  out[0] = '\0';
  if (r->headers_truncated)
    return rein_errbuf_set(
        err, REIN_ETOOBIG,
        "the service could not read all request headers, so it cannot tell "
        "whether the request carries an Idempotency-Key: send fewer or "
        "shorter headers");
  const char *v = NULL;
  if (r->lookup) {
    v = r->lookup(r->lookup_ctx, REIN_HEADER_IDEM_KEY);
  } else {
    for (size_t i = 0; i < r->n_headers; i++) {
      const rein_idem_http_header *hd = &r->headers[i];
      if (!hd->name) continue;
      if (strcasecmp(hd->name, REIN_HEADER_IDEM_KEY) == 0) {
        if (v)
          return rein_errbuf_set(err, REIN_EPARSE,
                                 "The request has more than one "
                                 "Idempotency-Key field; send exactly one.");
        v = hd->value ? hd->value : "";
      } else if (looks_like_key(hd->name)) {
        return rein_errbuf_set(
            err, REIN_EPARSE,
            "Idempotency-Key: the field name is malformed (a folded "
            "continuation line or a stray character in the name); send the "
            "key as one line, Idempotency-Key: \"<key>\"");
      }
    }
  }
  if (!v) return REIN_ENOTFOUND;
  rein_errbuf eb;
  eb.msg[0] = '\0';
  rein_status st = rein_idem_http_parse_key(v, strlen(v), out, cap, NULL, &eb);
  if (st == REIN_OK) return REIN_OK;
  out[0] = '\0';
  return rein_errbuf_set(err, st == REIN_ETOOBIG ? REIN_EPARSE : st, "%s",
                         eb.msg[0] ? eb.msg
                                   : "Idempotency-Key: not a valid key");
}

static void copy_store_msg(rein_idem_http_exchange *x, rein_status st) {
  x->store_status = st;
  rein_idem_store_errmsg_copy(x->store, x->store_msg, sizeof x->store_msg);
}

/* Splits the stored "Name: value\r\n" lines into a header array, then adds
 * Idempotent-Replayed and the retention header. */
static rein_status build_replay(rein_idem_http_exchange *x) {
  const rein_idem_response *sr = &x->result.response;
  size_t n = 0;
  for (size_t i = 0; i + 1 < sr->headers_len; i++)
    if (sr->headers[i] == '\r' && sr->headers[i + 1] == '\n') n++;
  x->hdr_copy = rein_alloc(x->h->alloc, sr->headers_len + 1);
  x->replay_hdrs = rein_alloc(x->h->alloc, (n + 2) * sizeof *x->replay_hdrs);
  if (!x->hdr_copy || !x->replay_hdrs) return REIN_ENOMEM;
  if (sr->headers_len) memcpy(x->hdr_copy, sr->headers, sr->headers_len);
  x->hdr_copy[sr->headers_len] = '\0';
  size_t k = 0;
  char *p = x->hdr_copy, *end = x->hdr_copy + sr->headers_len;
  while (p < end && k < n) {
    char *eol = strstr(p, "\r\n");
    if (!eol) break;
    *eol = '\0';
    char *colon = strchr(p, ':');
    if (colon) {
      *colon = '\0';
      char *v = colon + 1;
      while (*v == ' ')
        v++;
      x->replay_hdrs[k].name = p;
      x->replay_hdrs[k].value = v;
      k++;
    }
    p = eol + 2;
  }
  x->replay_hdrs[k].name = REIN_HEADER_IDEM_REPLAYED;
  x->replay_hdrs[k++].value = "true";
  x->replay_hdrs[k].name = REIN_HEADER_IDEM_RETENTION;
  x->replay_hdrs[k++].value = x->h->retention_value;
  x->action = REIN_IDEM_HTTP_REPLAY;
  x->state = ST_FINAL;
  x->resp.status = sr->status;
  x->resp.headers = x->replay_hdrs;
  x->resp.n_headers = k;
  x->resp.body = sr->body;
  x->resp.body_len = sr->body_len;
  return REIN_OK;
}

static rein_status decide(rein_idem_http_exchange *x,
                          const rein_idem_http_request *req,
                          const char *operation) {
  rein_errbuf eb;
  eb.msg[0] = '\0';
  rein_status st = rein_idem_http_read_key(req, x->key, sizeof x->key, &eb);
  if (st == REIN_ENOTFOUND) {
    if (!req->key_required) {
      x->action = REIN_IDEM_HTTP_PROCEED;
      x->state = ST_PROCEED_UNKEYED;
      count(x->h, C_PROCEED_UNKEYED);
      return REIN_OK;
    }
    count(x->h, C_MISSING);
    return reject(x, 400, REIN_IDEM_PROBLEM_KEY_MISSING,
                  "Idempotency-Key is missing",
                  "This operation requires an Idempotency-Key header: send "
                  "a unique quoted key, e.g. Idempotency-Key: "
                  "\"8e03978e-40d5-43e8-bc93-6894a57f9324\", and the same "
                  "key on every retry.");
  }
  /* Unreadable counts as carried: the answer advertises the retention. */
  x->has_field = true;
  if (st == REIN_ETOOBIG) {
    count(x->h, C_INVALID);
    return reject(x, 431, REIN_IDEM_PROBLEM_KEY_INVALID,
                  "Request header fields too large", eb.msg);
  }
  if (st != REIN_OK) {
    x->key[0] = '\0';
    count(x->h, C_INVALID);
    return reject(x, 400, REIN_IDEM_PROBLEM_KEY_INVALID,
                  "Idempotency-Key is malformed",
                  eb.msg[0] ? eb.msg : "Idempotency-Key: not a valid key");
  }
  uint8_t *fp = x->fp;
  rein_idem_bytes parts[3] = {
      {req->method, strlen(req->method)},
      {req->route, strlen(req->route)},
      {req->body_len ? req->body : "", req->body_len},
  };
  st = rein_idem_fingerprint_parts(parts, 3, fp);
  if (st == REIN_ENOMEM) return st;
  if (st == REIN_OK) x->keyed = true;
  rein_idem_scope scope = {req->principal, operation};
  if (st == REIN_OK)
    st = rein_idem_begin(x->store, &scope, x->key, fp, x->h->lease_ns,
                         x->h->retention_ns, &x->result);
  if (st == REIN_ENOMEM) return st;
  if (st != REIN_OK) {
    copy_store_msg(x, st);
    count(x->h, C_STORE_ERRORS);
    add_fixed(x, REIN_HEADER_RETRY_AFTER, "1");
    return reject(x, 503, REIN_IDEM_PROBLEM_STORE,
                  "Idempotency store unavailable",
                  "The request was not processed because the idempotency "
                  "store failed; retry with the same Idempotency-Key.");
  }
  switch (x->result.outcome) {
  case REIN_IDEM_NEW:
    x->action = REIN_IDEM_HTTP_PROCEED;
    x->state = ST_PROCEED_KEYED;
    count(x->h, C_PROCEED_KEYED);
    if (x->result.recovered) count(x->h, C_RECOVERED);
    add_fixed(x, REIN_HEADER_IDEM_RETENTION, x->h->retention_value);
    return REIN_OK;
  case REIN_IDEM_REPLAY:
    count(x->h, C_REPLAYS);
    return build_replay(x);
  case REIN_IDEM_IN_PROGRESS: {
    int64_t ns = x->result.retry_after_ns;
    int64_t s = ns <= 0 ? 1 : (ns + REIN_NS_PER_S - 1) / REIN_NS_PER_S;
    if (s < 1) s = 1;
    snprintf(x->retry_after, sizeof x->retry_after, "%" PRId64, s);
    add_fixed(x, REIN_HEADER_RETRY_AFTER, x->retry_after);
    count(x->h, C_IN_PROGRESS);
    return reject(x, 409, REIN_IDEM_PROBLEM_IN_PROGRESS,
                  "A request with this Idempotency-Key is in progress",
                  "Another request with the same Idempotency-Key is being "
                  "processed; retry after the Retry-After delay with the "
                  "same key to get its result.");
  }
  case REIN_IDEM_MISMATCH:
    count(x->h, C_MISMATCH);
    return reject(x, 422, REIN_IDEM_PROBLEM_KEY_REUSED,
                  "Idempotency-Key reused with a different request",
                  "This Idempotency-Key was already used with a different "
                  "method, route or body; use a new key for a new request.");
  default:
    copy_store_msg(x, REIN_EBACKEND);
    count(x->h, C_STORE_ERRORS);
    add_fixed(x, REIN_HEADER_RETRY_AFTER, "1");
    return reject(x, 503, REIN_IDEM_PROBLEM_STORE,
                  "Idempotency store unavailable",
                  "The idempotency store gave an unknown answer.");
  }
}

rein_status rein_idem_http_begin(const rein_idem_http *h,
                                 rein_idem_store *store,
                                 const rein_idem_http_request *req,
                                 rein_idem_http_exchange **out) {
  if (out) *out = NULL;
  if (!h || !store || !req || !out || !req->method || !req->route ||
      !req->method[0] || !req->route[0] || (!req->body && req->body_len) ||
      (!req->lookup && !req->headers && req->n_headers))
    return REIN_EINVAL;
  char operation[REIN_IDEM_SCOPE_MAX + 1];
  int ol =
      snprintf(operation, sizeof operation, "%s %s", req->method, req->route);
  if (ol < 0 || (size_t)ol >= sizeof operation) return REIN_EINVAL;
  if (req->principal && strlen(req->principal) > REIN_IDEM_SCOPE_MAX)
    return REIN_EINVAL;
  rein_idem_http_exchange *x = rein_alloc(h->alloc, sizeof *x);
  if (!x) return REIN_ENOMEM;
  memset(x, 0, sizeof *x);
  x->h = (rein_idem_http *)h;
  x->store = store;
  rein_status st = decide(x, req, operation);
  if (st != REIN_OK) {
    rein_idem_http_exchange_free(x);
    return st;
  }
  *out = x;
  return REIN_OK;
}

void rein_idem_http_exchange_free(rein_idem_http_exchange *x) {
  if (!x) return;
  const rein_allocator *a = x->h->alloc;
  rein_idem_result_clear(&x->result);
  rein_free(a, x->replay_hdrs);
  rein_free(a, x->hdr_copy);
  rein_free(a, x->body);
  rein_free(a, x);
}

rein_idem_http_action
rein_idem_http_exchange_action(const rein_idem_http_exchange *x) {
  return x ? x->action : REIN_IDEM_HTTP_REJECT;
}

const rein_idem_http_response *
rein_idem_http_exchange_response(const rein_idem_http_exchange *x) {
  if (!x || x->action == REIN_IDEM_HTTP_PROCEED) return NULL;
  return &x->resp;
}

const rein_idem_http_header *
rein_idem_http_exchange_headers(const rein_idem_http_exchange *x, size_t *n) {
  if (n) *n = 0;
  if (!x || x->action != REIN_IDEM_HTTP_PROCEED) return NULL;
  if (n) *n = x->n_fixed;
  return x->n_fixed ? x->fixed : NULL;
}

const char *rein_idem_http_exchange_key(const rein_idem_http_exchange *x) {
  return x && x->keyed ? x->key : NULL;
}

const uint8_t *
rein_idem_http_exchange_fingerprint(const rein_idem_http_exchange *x) {
  return x && x->keyed ? x->fp : NULL;
}

const rein_idem_token *
rein_idem_http_exchange_token(const rein_idem_http_exchange *x) {
  if (!x || x->action != REIN_IDEM_HTTP_PROCEED || !x->keyed) return NULL;
  return &x->result.token;
}

bool rein_idem_http_exchange_recovered(const rein_idem_http_exchange *x) {
  return x && x->action == REIN_IDEM_HTTP_PROCEED && x->keyed &&
         x->result.recovered;
}

const char *rein_idem_http_exchange_phase(const rein_idem_http_exchange *x) {
  if (!x || x->action != REIN_IDEM_HTTP_PROCEED || !x->keyed) return "";
  return x->result.phase;
}

rein_status
rein_idem_http_exchange_store_status(const rein_idem_http_exchange *x) {
  return x ? x->store_status : REIN_EINVAL;
}

const char *
rein_idem_http_exchange_store_message(const rein_idem_http_exchange *x) {
  return x ? x->store_msg : "";
}

/* ---- after the handler --------------------------------------------------- */

static bool skip_stored(const char *name) {
  return strcasecmp(name, REIN_HEADER_IDEM_REPLAYED) == 0 ||
         strcasecmp(name, REIN_HEADER_IDEM_RETENTION) == 0;
}

static bool has_crlf(const char *s) {
  return strpbrk(s, "\r\n") != NULL;
}

/* Accounts for the result of a store call made after the handler. */
static rein_status after(rein_idem_http_exchange *x, rein_status st) {
  if (st == REIN_ESTALE) {
    count(x->h, C_STALE);
    x->state = ST_DONE;
  } else if (st != REIN_OK && st != REIN_ETOOBIG && st != REIN_EINVAL &&
             st != REIN_ENOMEM) {
    copy_store_msg(x, st);
    count(x->h, C_STORE_ERRORS);
  }
  return st;
}

rein_status rein_idem_http_complete(rein_idem_http_exchange *x,
                                    const rein_idem_http_response *resp,
                                    bool *stored) {
  if (stored) *stored = false;
  if (!x || !resp) return REIN_EINVAL;
  if (x->state == ST_PROCEED_UNKEYED) return REIN_OK;
  if (x->state != ST_PROCEED_KEYED) return REIN_ESTATE;
  if (resp->status < 100 || resp->status > 599 ||
      (!resp->body && resp->body_len) || (!resp->headers && resp->n_headers))
    return REIN_EINVAL;
  size_t hl = 0;
  for (size_t i = 0; i < resp->n_headers; i++) {
    const rein_idem_http_header *hd = &resp->headers[i];
    if (!hd->name || !hd->value || !hd->name[0] || has_crlf(hd->name) ||
        has_crlf(hd->value) || strchr(hd->name, ':'))
      return REIN_EINVAL;
    if (skip_stored(hd->name)) continue;
    hl += strlen(hd->name) + 2 + strlen(hd->value) + 2;
  }
  char *blob = NULL;
  if (hl) {
    blob = rein_alloc(x->h->alloc, hl + 1);
    if (!blob) return REIN_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < resp->n_headers; i++) {
      const rein_idem_http_header *hd = &resp->headers[i];
      if (skip_stored(hd->name)) continue;
      o += (size_t)sprintf(blob + o, "%s: %s\r\n", hd->name, hd->value);
    }
  }
  rein_idem_response sr = {resp->status, blob, hl, resp->body, resp->body_len};
  bool st_stored = false;
  rein_status st =
      rein_idem_complete(x->store, &x->result.token, &sr, &st_stored);
  rein_free(x->h->alloc, blob);
  if (st == REIN_OK) {
    x->state = ST_DONE;
    count(x->h, st_stored ? C_COMPLETED : C_RELEASED);
    if (stored) *stored = st_stored;
  }
  return after(x, st);
}

rein_status rein_idem_http_abandon(rein_idem_http_exchange *x) {
  if (!x) return REIN_EINVAL;
  if (x->state == ST_PROCEED_UNKEYED) return REIN_OK;
  if (x->state != ST_PROCEED_KEYED) return REIN_ESTATE;
  rein_status st = rein_idem_abandon(x->store, &x->result.token);
  if (st == REIN_OK) {
    x->state = ST_DONE;
    count(x->h, C_RELEASED);
  }
  return after(x, st);
}

rein_status rein_idem_http_checkpoint(rein_idem_http_exchange *x,
                                      const char *phase,
                                      int64_t extend_lease_ns) {
  if (!x) return REIN_EINVAL;
  if (x->state != ST_PROCEED_KEYED) return REIN_ESTATE;
  rein_status st =
      rein_idem_checkpoint(x->store, &x->result.token, phase, extend_lease_ns);
  return after(x, st);
}
