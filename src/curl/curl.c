/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl.c: libcurl transfers under a rein retry policy.
 *
 * One call (struct rein_curl_call) is the state shared by both drivers:
 * prepare_attempt() sets the per-attempt options on the easy handle (header
 * list with Rein-Attempt and the Idempotency-Key, header callback, timeout),
 * finish_attempt() turns the CURLcode, the HTTP status and the headers the
 * callback collected into a rein_outcome and asks rein_retry_next. The
 * blocking driver (rein_curl_perform_ex) loops over curl_easy_perform and
 * sleeps through the client's rein_sleeper; the multi driver returns to the
 * caller's event loop at every WAIT with the time to re-add the handle.
 * Neither makes a retry decision of its own: what to do next is always the
 * state machine's answer.
 *
 * Endpoints (config.endpoints, config.resolve) are chosen in endpoints.c:
 * ask() picks the endpoint of the next attempt before asking the state
 * machine for it, so a call whose every endpoint's breaker is open ends
 * through rein_retry_refuse as the policy's breaker refusal would.
 *
 * The idempotency gate lives in the state machine and reads the policy's
 * `idempotent` flag, so the client keeps two policies that differ only in
 * that flag (the caller's and a copy sharing its budget, breaker, throttle
 * and metrics) and runs each request under the one matching its method.
 */
#include "curl_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* ------------------------------------------------------------- helpers */

void *rein__curl_alloc(const rein_allocator *a, size_t n) {
  return rein_alloc(a, n);
}

void rein__curl_free(const rein_allocator *a, void *p) {
  rein_free(a, p);
}

static rein_status invalid(rein_errbuf *err, const char *msg) {
  return rein_errbuf_set(err, REIN_EINVAL, "%s", msg);
}

static void count(rein_curl *c, int i, uint64_t n) {
  atomic_fetch_add_explicit(&c->n[i], n, memory_order_relaxed);
}

static int default_random(void *ctx, void *buf, size_t n) {
  (void)ctx;
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

rein_status rein_curl_uuid_v4(char out[37], rein_curl_random_fn random,
                              void *random_ctx) {
  if (!out) return REIN_EINVAL;
  unsigned char b[16];
  if ((random ? random : default_random)(random_ctx, b, sizeof b) != 0)
    return REIN_EIO;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
    out[o++] = hex[b[i] >> 4];
    out[o++] = hex[b[i] & 15];
  }
  out[o] = '\0';
  return REIN_OK;
}

/* --------------------------------------------------------- classification */

/* Local or definitive errors: another attempt would end the same way, and
 * they say nothing about the server. */
static bool local_error(CURLcode code) {
  switch (code) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_FAILED_INIT:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_ABORTED_BY_CALLBACK:
  case CURLE_WRITE_ERROR:
  case CURLE_READ_ERROR:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_UNKNOWN_OPTION:
  case CURLE_FILESIZE_EXCEEDED:
  case CURLE_LOGIN_DENIED:
    return true;
  default:
    return false;
  }
}

rein_condition rein_curl_condition(CURLcode code, long status) {
  switch (code) {
  case CURLE_OK:
  case CURLE_HTTP_RETURNED_ERROR:
    return status >= 100 && status <= 599 ? REIN_COND_HTTP(status)
                                          : REIN_COND_NONE;
  case CURLE_COULDNT_CONNECT:
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_SSL_CONNECT_ERROR:
    /* Before a single request byte went out. */
    return REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE);
  case CURLE_OPERATION_TIMEDOUT:
    return REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT);
  default:
    if (local_error(code)) return REIN_COND_NONE;
    /* GOT_NOTHING, SEND_ERROR, RECV_ERROR, PARTIAL_FILE, HTTP2 stream
     * errors...: the connection broke; the request may have reached the
     * server. */
    return REIN_COND_TRANSPORT(REIN_TRANSPORT_RESET);
  }
}

rein_outcome_kind rein_curl_classify(CURLcode code, long status) {
  if (local_error(code)) return REIN_OUTCOME_FATAL;
  rein_condition c = rein_curl_condition(code, status);
  if (c != REIN_COND_NONE) return rein_condition_kind(c); /* rein/classify.h */
  /* no status (non-HTTP) is a success; a status past 599 is nonsense */
  return status == 0 || status < 400 ? REIN_OUTCOME_SUCCESS
                                     : REIN_OUTCOME_FATAL;
}

/* ------------------------------------------------------------- the client */

void rein_curl_config_default(rein_curl_config *c) {
  memset(c, 0, sizeof *c);
  c->keys = REIN_CURL_KEYS_NON_IDEMPOTENT;
  c->key_header = "Idempotency-Key";
  c->non_idempotent_methods = "POST,PATCH";
  c->signals = REIN_CURL_SIGNAL_ALL;
  c->attempt_header = true;
  c->pace_max_ns = 10 * REIN_NS_PER_S;
  c->endpoint_seed = 1;
}

/* An HTTP field name: 1*tchar. */
static bool is_token(const char *s) {
  if (!*s) return false;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
      return false;
  }
  return true;
}

rein_status rein_curl_new(const rein_curl_config *cfg, rein_curl **out) {
  if (!cfg || !out) return REIN_EINVAL;
  *out = NULL;
  rein_errbuf *err = cfg->err;
  if (!cfg->policy) return invalid(err, "curl.policy: required");
  if ((unsigned)cfg->keys > REIN_CURL_KEYS_DERIVE)
    return invalid(err, "curl.keys: must be NONE, NON_IDEMPOTENT, ALWAYS, "
                        "PASS_THROUGH or DERIVE");
  if (cfg->operation && strlen(cfg->operation) > 127)
    return invalid(err, "curl.operation: at most 127 characters");
  if (cfg->derive_secret_len > 64 ||
      (cfg->derive_secret_len && !cfg->derive_secret))
    return invalid(err, "curl.derive_secret_len: at most 64 bytes, with "
                        "derive_secret set (0 = no secret: plain SHA-256)");
  if ((unsigned)cfg->pace > REIN_CURL_PACE_ON)
    return invalid(err, "curl.pace: must be AUTO, OFF or ON");
  if (cfg->pace_max_ns < 0 || cfg->pace_max_ns > REIN_SIGNAL_MAX_DELAY_NS)
    return invalid(err, "curl.pace_max_ns: must be in [0, 6 h]");
  const char *kh = cfg->key_header ? cfg->key_header : "Idempotency-Key";
  if (strlen(kh) >= sizeof((rein_curl *)0)->key_header || !is_token(kh))
    return invalid(err, "curl.key_header: must be an HTTP field name of 1..127 "
                        "token characters, e.g. \"Idempotency-Key\"");
  const char *m =
      cfg->non_idempotent_methods ? cfg->non_idempotent_methods : "POST,PATCH";
  if (strlen(m) >= sizeof((rein_curl *)0)->methods)
    return invalid(err, "curl.non_idempotent_methods: at most 255 characters");
  if (cfg->signals & ~REIN_CURL_SIGNAL_ALL)
    return invalid(err, "curl.signals: unknown bits (use REIN_CURL_SIGNAL_*)");
  if (cfg->deadline_ns < 0)
    return invalid(err, "curl.deadline_ns: must be >= 0 (0 = none)");
  if ((unsigned)cfg->deadline_header > REIN_CURL_DEADLINE_NONE)
    return invalid(err, "curl.deadline_header: expected REIN_CURL_DEADLINE_"
                        "REIN, _GRPC or _NONE");

  rein_curl *c = rein__curl_alloc(cfg->alloc, sizeof *c);
  if (!c) return REIN_ENOMEM;
  memset(c, 0, sizeof *c);
  if (cfg->alloc) {
    c->alloc_copy = *cfg->alloc;
    c->alloc = &c->alloc_copy;
  }
  c->cfg = *cfg;
  snprintf(c->key_header, sizeof c->key_header, "%s", kh);
  snprintf(c->methods, sizeof c->methods, "%s", m);
  c->cfg.key_header = c->key_header;
  c->cfg.non_idempotent_methods = c->methods;
  c->cfg.alloc = c->alloc;
  c->cfg.err = NULL;
  snprintf(c->operation, sizeof c->operation, "%s",
           cfg->operation ? cfg->operation : "");
  c->cfg.operation = c->operation;
  if (cfg->derive_secret_len)
    memcpy(c->secret, cfg->derive_secret, cfg->derive_secret_len);
  c->secret_len = cfg->derive_secret_len;
  c->cfg.derive_secret = c->secret_len ? c->secret : NULL;
  c->pace = cfg->pace == REIN_CURL_PACE_ON;
  atomic_init(&c->pace_until, INT64_MIN);

  /* The twin policy: same objects, the other idempotency flag. */
  rein_policy_config pc = *rein_policy_get_config(cfg->policy);
  bool idem = pc.idempotent;
  pc.idempotent = !idem;
  pc.alloc = cfg->alloc;
  pc.err = err;
  rein_status st = rein_policy_new(&pc, &c->copy);
  if (st != REIN_OK) {
    rein__curl_free(c->alloc, c);
    return st;
  }
  c->by_idem[idem ? 1 : 0] = cfg->policy;
  c->by_idem[idem ? 0 : 1] = c->copy;
  c->cfg.hedge = NULL;
  c->hedge_body_max = cfg->hedge_body_max ? cfg->hedge_body_max : 1u << 20;
  if (cfg->hedge) {
    for (int i = 0; i < 2; i++) {
      rein_hedge_config hc = *cfg->hedge;
      hc.policy = c->by_idem[i];
      hc.alloc = cfg->alloc;
      hc.err = err;
      st = rein_hedge_policy_new(&hc, &c->hedge[i]);
      if (st != REIN_OK) {
        rein_curl_free(c);
        return st;
      }
    }
    if (pthread_mutex_init(&c->multi_lock, NULL) != 0) {
      rein_curl_free(c);
      return REIN_ENOMEM;
    }
    c->multi_lock_ready = true;
  }
  if ((st = rein__curl_eps_setup(c, cfg, err)) != REIN_OK) {
    rein_curl_free(c);
    return st;
  }
  *out = c;
  return REIN_OK;
}

void rein_curl_free(rein_curl *c) {
  if (!c) return;
  rein__curl_eps_teardown(c);
  for (uint32_t i = 0; i < c->multi_nidle; i++)
    curl_multi_cleanup(c->multi_idle[i]);
  if (c->multi_lock_ready) pthread_mutex_destroy(&c->multi_lock);
  rein_hedge_policy_free(c->hedge[0]);
  rein_hedge_policy_free(c->hedge[1]);
  rein_policy_free(c->copy);
  rein_policy_free(c->own_policy);
  rein_throttle_free(c->own_throttle);
  rein_breaker_free(c->own_breaker);
  rein_budget_free(c->own_budget);
  rein__curl_free(c->alloc, c);
}

const rein_policy *rein_curl_policy(const rein_curl *c) {
  return c ? c->cfg.policy : NULL;
}

rein_status rein_curl_spec(const rein_curl *c, rein_policy_spec *out) {
  if (!c || !out) return REIN_EINVAL;
  rein_status st = rein_policy_spec_of(c->cfg.policy, out);
  if (st != REIN_OK) return st;
  out->deadline_ns = c->cfg.deadline_ns;
  out->signals = c->cfg.signals & REIN_CURL_SIGNAL_ALL;
  if (c->hedge[0]) {
    out->has_hedge = true;
    out->hedge = *rein_hedge_policy_get_config(c->hedge[0]);
    out->hedge.policy = NULL;
    out->hedge.alloc = NULL;
    out->hedge.err = NULL;
  }
  return REIN_OK;
}

void rein_curl_get_stats(const rein_curl *cc, rein_curl_stats *out) {
  memset(out, 0, sizeof *out);
  if (!cc) return;
  rein_curl *c = (rein_curl *)cc;
#define G(i) atomic_load_explicit(&c->n[i], memory_order_relaxed)
  out->calls = G(RC_CALLS);
  out->attempts = G(RC_ATTEMPTS);
  out->successes = G(RC_SUCCESSES);
  out->giveups = G(RC_GIVEUPS);
  out->keys_minted = G(RC_KEYS);
  out->retention_warnings = G(RC_RETENTION);
  out->malformed_headers = G(RC_MALFORMED);
  out->paced = G(RC_PACED);
  out->paced_ns = (int64_t)G(RC_PACED_NS);
  out->keys_derived = G(RC_DERIVED);
  out->endpoint_skips = G(RC_EP_SKIPS);
  out->endpoint_refusals = G(RC_EP_REFUSALS);
  out->endpoints_unslotted = G(RC_EP_UNSLOTTED);
  out->hedges_undup = G(RC_HEDGE_UNDUP);
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    out->outcomes[k] = G(RC_OUTCOME0 + k);
#undef G
}

/* Is `method` in the comma-separated list? */
static bool method_listed(const char *list, const char *method) {
  size_t ml = strlen(method);
  const char *p = list;
  while (*p) {
    while (*p == ',' || *p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ',' && *e != ' ')
      e++;
    if ((size_t)(e - p) == ml && ml && strncasecmp(p, method, ml) == 0)
      return true;
    p = e;
  }
  return false;
}

/* --------------------------------------------------------------- one call */

enum { CS_INIT, CS_IN_FLIGHT, CS_WAITING, CS_FINISHED };

struct rein_curl_call {
  rein_curl *c;
  CURL *easy;
  CURLM *multi; /* while in flight through the multi driver */
  rein_curl_opts opts;
  const rein_policy *policy;
  rein_retry r;
  rein_decision d;
  int state;
  bool has_key, warned;
  bool begun; /* rein_retry_begin called (multi: after pacing) */
  char key[64];
  struct curl_slist *hdrs;
  rein_signals sig;
  int64_t window_ns; /* for the retention check; 0 = unknown */
  int64_t start_ns;
  int64_t due_ns; /* WAITING: when to resume */
  rein_curl_result res;
  rein__curl_eps eps;   /* endpoints.c; eps.n = 0: none */
  rein__curl_pick pick; /* the next attempt's endpoint */
  struct hedge_run *hr; /* a hedging client's call; NULL otherwise */
};

static int64_t wall_now(const rein_curl *c) {
  return c->cfg.wall.now_ns ? c->cfg.wall.now_ns(c->cfg.wall.ctx)
                            : rein_clock_wall_ns();
}

void rein__curl_log(rein_curl *c, const char *line) {
  if (c->cfg.log)
    c->cfg.log(c->cfg.log_ctx, line);
  else
    fprintf(stderr, "%s\n", line);
}

static void log_line(rein_curl *c, const char *line) {
  rein__curl_log(c, line);
}

/* Trim spaces, tabs and CR/LF at both ends of [*p, *p + *n). */
static void trim(const char **p, size_t *n) {
  while (*n && (**p == ' ' || **p == '\t'))
    (*p)++, (*n)--;
  while (*n && strchr(" \t\r\n", (*p)[*n - 1]))
    (*n)--;
}

/* Which honoured-signal bit a header name belongs to; ALL for the retention
 * header (always read), 0 for names rein does not read. */
static uint32_t signal_bit(const char *name, size_t n) {
#define IS(h) (n == sizeof(h) - 1 && strncasecmp(name, h, n) == 0)
  if (IS(REIN_HEADER_RETRY_AFTER)) return REIN_CURL_SIGNAL_RETRY_AFTER;
  if (IS(REIN_HEADER_GRPC_PUSHBACK)) return REIN_CURL_SIGNAL_PUSHBACK;
  if (IS(REIN_HEADER_RATELIMIT) || IS(REIN_HEADER_RATELIMIT_POLICY))
    return REIN_CURL_SIGNAL_RATELIMIT;
  if (IS(REIN_HEADER_DONT_RETRY)) return REIN_CURL_SIGNAL_DONT_RETRY;
  if (IS(REIN_HEADER_IDEM_RETENTION)) return REIN_CURL_SIGNAL_ALL;
  return 0;
#undef IS
}

/* One response header line into `sig` (the signals the client honours). */
static void feed_header(rein_curl *c, rein_signals *sig, const char *buf,
                        size_t len) {
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
    /* A new response (after a 1xx or a redirect): forget the last one's. */
    rein_signals_init(sig);
  } else {
    const char *colon = memchr(buf, ':', len);
    if (colon) {
      const char *name = buf;
      size_t nl = (size_t)(colon - buf);
      const char *val = colon + 1;
      size_t vl = len - nl - 1;
      trim(&name, &nl);
      trim(&val, &vl);
      uint32_t bit = signal_bit(name, nl);
      if (bit && (bit & c->cfg.signals))
        rein_signals_feed(sig, name, nl, val, vl, wall_now(c));
    }
  }
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ctx) {
  rein_curl_call *call = ctx;
  size_t len = size * nitems;
  feed_header(call->c, &call->sig, buf, len);
  if (call->opts.header_fn)
    return call->opts.header_fn(buf, size, nitems, call->opts.header_ctx);
  return len;
}

static rein_status call_init(rein_curl_call *call, rein_curl *c, CURL *easy,
                             const rein_curl_opts *opts) {
  memset(call, 0, sizeof *call);
  call->c = c;
  call->easy = easy;
  if (opts) call->opts = *opts;
  const rein_policy *p = c->cfg.policy;
  bool idempotent = rein_policy_get_config(p)->idempotent;
  if (call->opts.method) {
    idempotent = !method_listed(c->methods, call->opts.method);
    p = c->by_idem[idempotent ? 1 : 0];
  }
  call->policy = p;
  if (call->opts.idempotency_key) {
    size_t kl = strlen(call->opts.idempotency_key);
    if (kl == 0 || kl >= sizeof call->key) return REIN_EINVAL;
    for (size_t i = 0; i < kl; i++) {
      unsigned char ch = (unsigned char)call->opts.idempotency_key[i];
      if (ch < 0x20 || ch > 0x7e) return REIN_EINVAL;
    }
    memcpy(call->key, call->opts.idempotency_key, kl + 1);
    call->has_key = true;
  } else if (call->opts.inbound_key &&
             (c->cfg.keys == REIN_CURL_KEYS_PASS_THROUGH ||
              c->cfg.keys == REIN_CURL_KEYS_DERIVE)) {
    rein_status st =
        rein__curl_inbound_key(c, call->opts.inbound_key, call->key);
    if (st != REIN_OK) return st;
    call->has_key = true;
  } else if (c->cfg.keys == REIN_CURL_KEYS_ALWAYS ||
             (c->cfg.keys != REIN_CURL_KEYS_NONE && !idempotent)) {
    rein_status st =
        rein_curl_uuid_v4(call->key, c->cfg.random, c->cfg.random_ctx);
    if (st != REIN_OK) return st;
    call->has_key = true;
    count(c, RC_KEYS, 1);
  }
  call->start_ns = rein_policy_now(p);
  rein_call_opts co = {0};
  co.has_key = call->has_key;
  co.seed = call->opts.seed;
  co.deadline = call->opts.deadline;
  co.user = call->opts.user; /* event.user of the policy's on_retry etc. */
  if (c->cfg.deadline_ns &&
      (!co.deadline || call->start_ns + c->cfg.deadline_ns < co.deadline))
    co.deadline = call->start_ns + c->cfg.deadline_ns;
  rein_retry_init(&call->r, p, &co);
  int64_t window = rein_policy_get_config(p)->window_ns;
  if (window == 0 && co.deadline) window = co.deadline - call->start_ns;
  call->window_ns = window;
  rein_signals_init(&call->sig);
  call->res.action = REIN_GIVE_UP;
  call->res.last = REIN_OUTCOME_SUCCESS;
  call->res.last_code = CURLE_OK;
  if (call->has_key) memcpy(call->res.key, call->key, sizeof call->key);
  call->state = CS_INIT;
  call->res.endpoint = -1;
  memset(call->res.trail, 0xff, sizeof call->res.trail);
  call->pick.ep = -1;
  rein_status st = rein__curl_eps_init(c, &call->eps, easy, call->opts.seed);
  if (st != REIN_OK) return st;
  call->res.endpoint_count = call->eps.n;
  return REIN_OK;
}

/* Restore what rein set on the handle. */
static void call_release(rein_curl_call *call) {
  if (!call->easy) return;
  curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->opts.headers);
  curl_easy_setopt(call->easy, CURLOPT_HEADERFUNCTION, NULL);
  curl_easy_setopt(call->easy, CURLOPT_HEADERDATA, NULL);
  curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, 0L);
  curl_slist_free_all(call->hdrs);
  call->hdrs = NULL;
  rein__curl_eps_release(&call->eps, call->easy);
}

/* The request headers of attempt `attempt` (timeout `timeout_ns`): the
 * caller's, Rein-Attempt, the deadline header and the key. */
static rein_status attempt_headers(const rein_curl_call *call, uint32_t attempt,
                                   int64_t timeout_ns,
                                   struct curl_slist **out) {
  const rein_curl *c = call->c;
  struct curl_slist *h = NULL, *t;
  for (const struct curl_slist *s = call->opts.headers; s; s = s->next) {
    if (!(t = curl_slist_append(h, s->data))) goto oom;
    h = t;
  }
  char line[256];
  if (c->cfg.attempt_header) {
    snprintf(line, sizeof line, "%s: %" PRIu32, REIN_HEADER_ATTEMPT, attempt);
    if (!(t = curl_slist_append(h, line))) goto oom;
    h = t;
  }
  /* How long this attempt's answer is of use to the caller. Unkeyed, no
   * retry can reuse the server's work: the attempt's own timeout (already
   * shortened to the deadline). Keyed, a retry replays what the server
   * finished after an attempt timed out: the time left of the call's
   * deadline, and nothing when the call has none. */
  int64_t left = timeout_ns;
  if (call->has_key)
    left = call->r.deadline_ns == INT64_MAX
               ? 0
               : call->r.deadline_ns - rein_policy_now(call->policy);
  if (c->cfg.deadline_header != REIN_CURL_DEADLINE_NONE && left > 0) {
    if (c->cfg.deadline_header == REIN_CURL_DEADLINE_GRPC) {
      char v[32];
      rein_signal_grpc_timeout_format(left, v, sizeof v);
      snprintf(line, sizeof line, "%s: %s", REIN_HEADER_GRPC_TIMEOUT, v);
    } else {
      snprintf(line, sizeof line, "%s: %" PRId64, REIN_HEADER_DEADLINE,
               left / REIN_NS_PER_MS);
    }
    if (!(t = curl_slist_append(h, line))) goto oom;
    h = t;
  }
  if (call->has_key) {
    /* sf-string: the key is printable ASCII; escape " and \. */
    size_t o = (size_t)snprintf(line, sizeof line, "%s: \"", c->key_header);
    for (const char *k = call->key; *k && o + 4 < sizeof line; k++) {
      if (*k == '"' || *k == '\\') line[o++] = '\\';
      line[o++] = *k;
    }
    line[o++] = '"';
    line[o] = '\0';
    if (!(t = curl_slist_append(h, line))) goto oom;
    h = t;
  }
  *out = h;
  return REIN_OK;
oom:
  curl_slist_free_all(h);
  return REIN_ENOMEM;
}

/* Set the options of attempt d.attempt on the handle. */
static rein_status prepare_attempt(rein_curl_call *call) {
  rein_curl *c = call->c;
  struct curl_slist *h = NULL;
  if (attempt_headers(call, call->d.attempt, call->d.timeout_ns, &h) != REIN_OK)
    return REIN_ENOMEM;
  curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, h);
  curl_slist_free_all(call->hdrs);
  call->hdrs = h;
  curl_easy_setopt(call->easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(call->easy, CURLOPT_HEADERDATA, call);
  long ms = 0;
  if (call->d.timeout_ns > 0) {
    int64_t v = (call->d.timeout_ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
    ms = v > 0x7fffffffL ? 0x7fffffffL : (long)v;
  }
  curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, ms);
  rein_signals_init(&call->sig);
  if (call->eps.n) {
    int64_t now = rein_policy_now(call->policy);
    if (call->pick.ep < 0 &&
        !rein__curl_eps_pick(c, &call->eps, call->d.attempt, now, &call->pick))
      return REIN_ENOMEM; /* not reached: ask() picked before ATTEMPT */
    if (rein__curl_eps_send(&call->eps, call->easy, &call->pick,
                            call->d.attempt, now, &call->res) != REIN_OK)
      return REIN_ENOMEM;
  }
  count(c, RC_ATTEMPTS, 1);
  call->res.attempts = call->d.attempt;
  if (call->opts.on_attempt)
    call->opts.on_attempt(call->opts.on_attempt_ctx, call->easy,
                          call->d.attempt);
  return REIN_OK;
}

static void finish_call(rein_curl_call *call, int64_t now) {
  call->state = CS_FINISHED;
  call->res.action = call->d.action;
  call->res.reason = call->d.reason;
  call->res.dont_retry = call->d.dont_retry;
  call->res.elapsed_ns = now - call->start_ns;
  count(call->c, call->d.action == REIN_DONE ? RC_SUCCESSES : RC_GIVEUPS, 1);
}

/* 409 with a Retry-After: the same key is being processed. */
static bool is_in_progress(long status, const rein_signals *sig) {
  return status == 409 && sig->retry_after_ns >= 0;
}

/* The outcome of the attempt on `easy` that ended with `code`, its
 * response's signals in `sig`; counted, and noted in the call's result. */
static rein_outcome classify_attempt(rein_curl_call *call, CURL *easy,
                                     CURLcode code, const rein_signals *sig) {
  rein_curl *c = call->c;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  rein_outcome o = {0};
  o.kind = rein_curl_classify(code, status);
  o.condition = rein_curl_condition(code, status);
  if (status > 0) {
    o.server_delay_ns = rein_signals_delay_floor(sig);
    o.dont_retry = sig->dont_retry;
    /* rein_idem_http's answer to a key whose first request still runs
     * (draft-ietf-httpapi-idempotency-key-header: 409): ask again after
     * Retry-After with the same key to get the stored response. */
    o.in_progress = call->has_key && is_in_progress(status, sig);
    if (call->has_key && sig->idem_retention_ns > 0)
      o.key_retention_ns = sig->idem_retention_ns;
  }
  if (sig->malformed) count(c, RC_MALFORMED, sig->malformed);
  count(c, RC_OUTCOME0 + (int)o.kind, 1);
  call->res.last = o.kind;
  call->res.last_code = code;
  call->res.http_status = status;
  call->res.server_delay_ns = o.server_delay_ns;
  if (call->has_key && !call->warned && sig->idem_retention_ns >= 0 &&
      call->window_ns > 0 && sig->idem_retention_ns < call->window_ns) {
    call->warned = true;
    call->res.retention_warning = true;
    count(c, RC_RETENTION, 1);
    int expected = 0;
    if (atomic_compare_exchange_strong(&c->retention_logged, &expected, 1)) {
      char line[400];
      snprintf(line, sizeof line,
               "rein curl: warning: the server keeps %s for %" PRId64
               " s but policy '%s' retries for up to %" PRId64
               " s: a retry after the key expired would run the request "
               "twice; raise the server's retention or shorten the retry "
               "window",
               c->key_header, sig->idem_retention_ns / REIN_NS_PER_S,
               rein_policy_get_config(call->policy)->name,
               call->window_ns / REIN_NS_PER_S);
      log_line(c, line);
    }
  }
  if (status > 0) rein__curl_pace_note(c, sig, rein_policy_now(call->policy));
  return o;
}

/* Classify the attempt that ended with `code` and ask the state machine. */
static void finish_attempt(rein_curl_call *call, CURLcode code) {
  rein_outcome o = classify_attempt(call, call->easy, code, &call->sig);
  int64_t now = rein_policy_now(call->policy);
  if (call->eps.n) rein__curl_eps_done(&call->eps, &call->pick, &o, now);
  call->pick.ep = -1;
  call->d = rein_retry_next(&call->r, &o, now);
  if (call->d.action == REIN_DONE || call->d.action == REIN_GIVE_UP)
    finish_call(call, now);
  else if (call->d.action == REIN_WAIT)
    call->due_ns = now + call->d.delay_ns;
}

/* A local failure (no memory for the header list) after ATTEMPT: end the
 * attempt as FATAL so the state machine releases what it holds. */
static void abort_attempt(rein_curl_call *call) {
  rein_outcome o = {.kind = REIN_OUTCOME_FATAL};
  int64_t now = rein_policy_now(call->policy);
  call->d = rein_retry_next(&call->r, &o, now);
  call->res.last = REIN_OUTCOME_FATAL;
  call->res.last_code = CURLE_OUT_OF_MEMORY;
  finish_call(call, now);
}

/*
 * The state machine's next step: begin() for the first attempt, else
 * next(NULL) after a WAIT. With endpoints, the endpoint is chosen first
 * (once the wait is over): when every endpoint's breaker refuses, the call
 * ends as the policy's breaker refusal (rein_retry_refuse). A pick whose
 * decision is not ATTEMPT is dropped (its permit unreported, as a
 * cancelled hedge's).
 */
static rein_decision ask(rein_curl_call *call, bool first, int64_t now) {
  call->pick.ep = -1;
  if (call->eps.n && (first || now >= call->due_ns) &&
      !rein__curl_eps_pick(call->c, &call->eps,
                           first ? 1 : call->res.attempts + 1, now,
                           &call->pick)) {
    count(call->c, RC_EP_REFUSALS, 1);
    return rein_retry_refuse(&call->r, REIN_GIVEUP_BREAKER_OPEN, now);
  }
  rein_decision d = first ? rein_retry_begin(&call->r, now)
                          : rein_retry_next(&call->r, NULL, now);
  if (d.action != REIN_ATTEMPT) call->pick.ep = -1;
  return d;
}

/* How long the call waits for an earlier response's RateLimit reset before
 * its first attempt: 0 when it would pass the call's deadline (it is then
 * sent at once, and the server's answer decides). Counted. */
static int64_t pace_wait(rein_curl_call *call, int64_t now) {
  int64_t w = rein_curl_pace_ns(call->c, now);
  if (w <= 0) return 0;
  if (call->r.deadline_ns != INT64_MAX && now + w >= call->r.deadline_ns)
    return 0;
  count(call->c, RC_PACED, 1);
  count(call->c, RC_PACED_NS, (uint64_t)w);
  return w;
}

/* ------------------------------------------------------ blocking driver */

static void default_sleep(void *ctx, int64_t ns) {
  (void)ctx;
  if (ns <= 0) return;
  struct timespec ts = {(time_t)(ns / REIN_NS_PER_S),
                        (long)(ns % REIN_NS_PER_S)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ------------------------------------------------------- hedged driver */

/* One attempt of a hedged call: its handle (the caller's for attempt 1, a
 * duplicate after), its header list, and what its response said, kept
 * apart until it wins. */
typedef struct hedge_att {
  rein_curl_call *call;
  CURL *easy;
  bool own, added;
  struct curl_slist *hdrs;
  rein_signals sig;
  char *body, *head;
  size_t body_len, body_cap, head_len, head_cap;
  bool too_big;
  rein__curl_pick pick; /* its endpoint (ep -1: none; or no endpoints) */
} hedge_att;

static bool grow_into(rein_curl *c, char **p, size_t *len, size_t *cap,
                      const char *src, size_t n, size_t max) {
  if (*len + n > max) return false;
  if (*len + n > *cap) {
    size_t nc = *cap ? *cap : 4096;
    while (nc < *len + n)
      nc *= 2;
    if (nc > max) nc = max;
    char *q = rein__curl_alloc(c->alloc, nc);
    if (!q) return false;
    if (*len) memcpy(q, *p, *len);
    rein__curl_free(c->alloc, *p);
    *p = q;
    *cap = nc;
  }
  memcpy(*p + *len, src, n);
  *len += n;
  return true;
}

static size_t hedge_on_body(char *buf, size_t size, size_t n, void *ctx) {
  hedge_att *a = ctx;
  size_t len = size * n;
  if (!grow_into(a->call->c, &a->body, &a->body_len, &a->body_cap, buf, len,
                 a->call->c->hedge_body_max)) {
    a->too_big = true;
    return 0; /* CURLE_WRITE_ERROR */
  }
  return len;
}

static size_t hedge_on_header(char *buf, size_t size, size_t n, void *ctx) {
  hedge_att *a = ctx;
  size_t len = size * n;
  feed_header(a->call->c, &a->sig, buf, len);
  if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) a->head_len = 0;
  if (a->call->opts.header_fn && !grow_into(a->call->c, &a->head, &a->head_len,
                                            &a->head_cap, buf, len, 64 * 1024))
    return 0;
  return len;
}

static void hedge_att_free(rein_curl *c, CURLM *m, hedge_att *a) {
  if (a->added) curl_multi_remove_handle(m, a->easy);
  if (a->own) curl_easy_cleanup(a->easy);
  curl_slist_free_all(a->hdrs);
  rein__curl_free(c->alloc, a->body);
  rein__curl_free(c->alloc, a->head);
  memset(a, 0, sizeof *a);
}

/* Start attempt d->attempt on the multi handle. */
static rein_status hedge_send(rein_curl_call *call, CURLM *m, hedge_att *att,
                              const rein_hedge_decision *d,
                              const rein__curl_pick *pick) {
  rein_curl *c = call->c;
  hedge_att *a = &att[d->attempt - 1];
  memset(a, 0, sizeof *a);
  a->call = call;
  a->pick = *pick;
  if (d->attempt == 1) {
    a->easy = call->easy;
  } else {
    a->easy = curl_easy_duphandle(call->easy);
    if (!a->easy) return REIN_EUNSUPPORTED; /* see hedge_undup */
    a->own = true;
  }
  if (attempt_headers(call, d->attempt, d->timeout_ns, &a->hdrs) != REIN_OK)
    return REIN_ENOMEM;
  rein_signals_init(&a->sig);
  curl_easy_setopt(a->easy, CURLOPT_HTTPHEADER, a->hdrs);
  curl_easy_setopt(a->easy, CURLOPT_HEADERFUNCTION, hedge_on_header);
  curl_easy_setopt(a->easy, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(a->easy, CURLOPT_WRITEFUNCTION, hedge_on_body);
  curl_easy_setopt(a->easy, CURLOPT_WRITEDATA, a);
  long ms = 0;
  if (d->timeout_ns > 0) {
    int64_t v = (d->timeout_ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
    ms = v > 0x7fffffffL ? 0x7fffffffL : (long)v;
  }
  curl_easy_setopt(a->easy, CURLOPT_TIMEOUT_MS, ms);
  if (a->pick.ep >= 0 &&
      rein__curl_eps_send(&call->eps, a->easy, &a->pick, d->attempt,
                          rein_policy_now(call->policy), &call->res) != REIN_OK)
    return REIN_ENOMEM;
  count(c, RC_ATTEMPTS, 1);
  call->res.attempts = d->attempt;
  if (call->opts.on_attempt)
    call->opts.on_attempt(call->opts.on_attempt_ctx, a->easy, d->attempt);
  if (curl_multi_add_handle(m, a->easy) != CURLM_OK) return REIN_EBACKEND;
  a->added = true;
  return REIN_OK;
}

/*
 * A hedged call (config.hedge): rein_hedge's decisions carried out on the
 * caller's multi handle (rein_curl_multi_*; the blocking call runs the same
 * code on a private one). The run keeps each attempt's handle, headers and
 * response apart until one wins. A decision that sends asks again at once
 * when the next hedge is due now; otherwise the call returns to the event
 * loop: IN_FLIGHT (only libcurl's messages move it), HEDGING (also resume
 * at due_ns, when the next hedge is due) or WAITING (nothing in flight: a
 * retry's backoff).
 */
typedef struct hedge_run {
  rein_hedge h;
  hedge_att att[REIN_HEDGE_MAX_ATTEMPTS];
  rein_hedge_decision d;
  int64_t next_at; /* the hedge machine's timer; INT64_MAX none */
  /* Hedges that found no endpoint (every breaker refused): held as in
   * flight for the hedge machine until nothing real is, then reported as
   * not sent with "stop hedging", so the call ends with what it sent. */
  uint32_t unplaced, inflight;
  uint32_t undup; /* of those, hedges whose handle could not be made */
  bool refused_end;
  rein_status failed; /* a local failure ended the call */
} hedge_run;

static bool hedged_needs_write_fn(rein_curl *c, const rein_curl_opts *opts) {
  if (opts && opts->write_fn) return false;
  log_line(c, "rein curl: a hedging client needs rein_curl_opts.write_fn "
              "(each attempt's body is kept apart; the winner's goes there)");
  return true;
}

/* The caller's handle as it was: its headers, rein's callbacks off. */
static void hedged_restore(rein_curl_call *call) {
  CURL *easy = call->easy;
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, call->opts.headers);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, NULL);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, NULL);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, NULL);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 0L);
}

/* Cancel what is in flight and free every attempt's handle and buffers. */
static void hedged_drop(rein_curl_call *call) {
  hedge_run *hr = call->hr;
  for (int k = 0; k < REIN_HEDGE_MAX_ATTEMPTS; k++)
    if (hr->att[k].easy) hedge_att_free(call->c, call->multi, &hr->att[k]);
  hr->inflight = 0;
  hedged_restore(call);
}

/* The call ends with the hedge machine's last decision (or a local
 * failure): the result, the counters, the losers cancelled. */
static void hedged_finish(rein_curl_call *call) {
  rein_curl *c = call->c;
  hedge_run *hr = call->hr;
  const rein_hedge_decision *d = &hr->d;
  int64_t now = rein_policy_now(call->policy);
  if (hr->failed != REIN_OK && d->action != REIN_DONE &&
      d->action != REIN_GIVE_UP) {
    /* a local failure: what is in flight is abandoned */
    call->res.action = REIN_GIVE_UP;
    call->res.reason = REIN_GIVEUP_NONE;
  } else {
    call->res.action = d->action;
    call->res.reason = d->reason;
    call->res.dont_retry = d->dont_retry;
    if (d->action == REIN_GIVE_UP && hr->refused_end) {
      /* it ended because no endpoint could take its next attempt */
      call->res.reason = REIN_GIVEUP_BREAKER_OPEN;
      call->res.dont_retry = true;
      count(c, RC_EP_REFUSALS, 1);
    }
  }
  call->res.attempts = d->sent - call->eps.unsent;
  call->res.elapsed_ns = now - call->start_ns;
  count(c, call->res.action == REIN_DONE ? RC_SUCCESSES : RC_GIVEUPS, 1);
  hedged_drop(call);
  call->multi = NULL;
  call->state = CS_FINISHED;
}

static void hedged_step(const rein_curl_call *call, rein_curl_step *step) {
  if (!step) return;
  const hedge_run *hr = call->hr;
  step->due_ns = 0;
  if (call->state == CS_FINISHED) {
    step->state = REIN_CURL_FINISHED;
  } else if (call->state == CS_WAITING) {
    step->state = REIN_CURL_WAITING;
    step->due_ns = call->due_ns;
  } else if (hr->next_at != INT64_MAX) {
    step->state = REIN_CURL_HEDGING;
    step->due_ns = hr->next_at;
  } else {
    step->state = REIN_CURL_IN_FLIGHT;
  }
}

/*
 * curl_easy_duphandle gave no handle for a hedge. Besides memory, libcurl
 * before 8.5.0 (Debian 12 has 7.88.1) cannot duplicate a handle whose body
 * was set with CURLOPT_COPYPOSTFIELDS and no CURLOPT_POSTFIELDSIZE (curl
 * pull request 12317). The hedge is not sent and hedging stops; the call
 * goes on with what is in flight and, when that is not enough, ends with
 * REIN_EUNSUPPORTED (a local failure: the next attempt could not be made).
 * Counted (hedges_undup) and said once per client.
 */
static void hedge_undup(rein_curl_call *call) {
  rein_curl *c = call->c;
  count(c, RC_HEDGE_UNDUP, 1);
  int expected = 0;
  if (atomic_compare_exchange_strong(&c->undup_logged, &expected, 1))
    log_line(c, "rein curl: curl_easy_duphandle failed, so a hedge was not "
                "sent; libcurl before 8.5.0 cannot duplicate a handle with "
                "CURLOPT_COPYPOSTFIELDS unless CURLOPT_POSTFIELDSIZE was set "
                "before it: set the size first, or use CURLOPT_POSTFIELDS");
}

/* Carry out hr->d until the call must wait for an answer or a timer. */
static rein_status hedged_drive(rein_curl_call *call, CURLM *m,
                                rein_curl_step *step) {
  rein_curl *c = call->c;
  hedge_run *hr = call->hr;
  rein_hedge_decision *d = &hr->d;
  rein_status st = REIN_OK;
  call->multi = m; /* what hedged_drop removes the handles from */
  for (;;) {
    int64_t now = rein_policy_now(call->policy);
    if (d->action == REIN_WAIT && hr->inflight == 0 && hr->unplaced) {
      if (hr->unplaced & hr->undup) {
        st = REIN_EUNSUPPORTED; /* see hedge_undup */
        break;
      }
      uint32_t k = (uint32_t)__builtin_ctz(hr->unplaced);
      hr->unplaced &= hr->unplaced - 1;
      rein_outcome o = {.kind = REIN_OUTCOME_NOT_SENT, .dont_retry = true};
      *d = rein_hedge_outcome(&hr->h, k + 1, &o, now);
      hr->refused_end = true;
      continue;
    }
    if (d->action == REIN_ATTEMPT) {
      rein__curl_pick pk = {.ep = -1};
      if (call->eps.n && d->attempt > 1 &&
          !rein__curl_eps_pick(c, &call->eps, d->attempt, now, &pk)) {
        hr->unplaced |= 1u << (d->attempt - 1);
        call->eps.unsent++;
        d->action = REIN_WAIT; /* stop hedging; see hedge_run */
        d->next_ns = -1;
        hr->next_at = INT64_MAX;
        continue;
      }
      if (d->attempt == 1) pk = call->pick; /* chosen before begin */
      /* after one hedge could not be made, none is tried again */
      st = d->attempt > 1 && hr->undup ? REIN_EUNSUPPORTED
                                       : hedge_send(call, m, hr->att, d, &pk);
      if (st == REIN_EUNSUPPORTED && d->attempt > 1) { /* held as unplaced */
        st = REIN_OK;
        hedge_undup(call);
        hr->unplaced |= 1u << (d->attempt - 1);
        hr->undup |= 1u << (d->attempt - 1);
        call->eps.unsent++;
        d->action = REIN_WAIT;
        d->next_ns = -1;
        hr->next_at = INT64_MAX;
        continue;
      }
      if (st != REIN_OK) break;
      hr->inflight++;
      hr->refused_end = false;
      hr->next_at = d->next_ns < 0 ? INT64_MAX : now + d->next_ns;
      if (d->next_ns == 0) {
        *d = rein_hedge_poll(&hr->h, now);
        continue;
      }
      break;
    }
    if (d->action == REIN_WAIT) {
      hr->next_at = d->next_ns < 0 ? INT64_MAX : now + d->next_ns;
      if (hr->inflight == 0 && hr->next_at == INT64_MAX) {
        /* nothing in flight and no timer: the machine cannot move again
         * (not reached; ended rather than left hanging) */
        st = REIN_ESTATE;
      }
    }
    break;
  }
  if (st != REIN_OK || d->action == REIN_DONE || d->action == REIN_GIVE_UP) {
    hr->failed = st;
    hedged_finish(call);
  } else {
    if (hr->inflight > 0) {
      call->state = CS_IN_FLIGHT;
    } else {
      call->state = CS_WAITING;
      call->due_ns = hr->next_at;
    }
  }
  hedged_step(call, step);
  return st;
}

/* The first attempt: its endpoint, then rein_hedge_begin. */
static rein_status hedged_begin(rein_curl_call *call, CURLM *m, int64_t now,
                                rein_curl_step *step) {
  rein_curl *c = call->c;
  hedge_run *hr = call->hr;
  call->begun = true;
  call->pick.ep = -1;
  if (call->eps.n && !rein__curl_eps_pick(c, &call->eps, 1, now, &call->pick)) {
    /* every endpoint's breaker refuses: nothing starts (the policy's
     * breaker refusal) */
    count(c, RC_EP_REFUSALS, 1);
    count(c, RC_GIVEUPS, 1);
    call->res.action = REIN_GIVE_UP;
    call->res.reason = REIN_GIVEUP_BREAKER_OPEN;
    call->res.dont_retry = true;
    call->res.elapsed_ns = now - call->start_ns;
    call->state = CS_FINISHED;
    hedged_step(call, step);
    return REIN_OK;
  }
  const rein_hedge_policy *hp = c->hedge[call->policy == c->by_idem[1] ? 1 : 0];
  rein_call_opts co = {0};
  co.has_key = call->has_key;
  co.deadline = call->r.deadline_ns == INT64_MAX ? 0 : call->r.deadline_ns;
  co.seed = call->opts.seed;
  co.user = call->opts.user;
  rein_hedge_init(&hr->h, hp, &co);
  hr->next_at = INT64_MAX;
  hr->d = rein_hedge_begin(&hr->h, now);
  return hedged_drive(call, m, step);
}

/* libcurl reported one of the call's handles done. */
static rein_status hedged_done(rein_curl_call *call, CURLM *m,
                               const CURLMsg *msg, rein_curl_step *step) {
  hedge_run *hr = call->hr;
  hedge_att *a = NULL;
  for (int k = 0; k < REIN_HEDGE_MAX_ATTEMPTS; k++)
    if (hr->att[k].added && hr->att[k].easy == msg->easy_handle)
      a = &hr->att[k];
  if (!a) return REIN_EINVAL;
  if (m != call->multi) return REIN_EINVAL;
  CURLcode code = msg->data.result; /* read before removing: msg dies */
  curl_multi_remove_handle(m, a->easy);
  a->added = false;
  hr->inflight--;
  if (a->too_big) code = CURLE_WRITE_ERROR;
  rein_outcome o = classify_attempt(call, a->easy, code, &a->sig);
  if (a->too_big) o.kind = REIN_OUTCOME_FATAL;
  int64_t now = rein_policy_now(call->policy);
  if (a->pick.ep >= 0) rein__curl_eps_done(&call->eps, &a->pick, &o, now);
  hr->d = rein_hedge_outcome(&hr->h, (uint32_t)(a - hr->att) + 1, &o, now);
  hr->refused_end = false;
  if (hr->d.action == REIN_DONE) {
    /* the winner's response, to the caller */
    const rein_curl_opts *opts = &call->opts;
    if (a->head_len && opts->header_fn)
      for (size_t i = 0; i < a->head_len;) {
        const char *e = memchr(a->head + i, '\n', a->head_len - i);
        size_t n = e ? (size_t)(e - (a->head + i)) + 1 : a->head_len - i;
        opts->header_fn(a->head + i, 1, n, opts->header_ctx);
        i += n;
      }
    if (a->body_len) opts->write_fn(a->body, 1, a->body_len, opts->write_ctx);
  }
  return hedged_drive(call, m, step);
}

/* The call's timer came (a hedge due, or a retry's backoff over). */
static rein_status hedged_resume(rein_curl_call *call, CURLM *m,
                                 rein_curl_step *step) {
  hedge_run *hr = call->hr;
  int64_t now = rein_policy_now(call->policy);
  if (!call->begun) {
    if (now < call->due_ns) { /* early: keep waiting for the reset */
      hedged_step(call, step);
      return REIN_OK;
    }
    return hedged_begin(call, m, now, step);
  }
  if (call->state == CS_IN_FLIGHT && hr->next_at == INT64_MAX)
    return REIN_ESTATE; /* nothing is due: only libcurl moves it */
  if (m != call->multi) return REIN_EINVAL;
  if (now < hr->next_at) { /* early */
    hedged_step(call, step);
    return REIN_OK;
  }
  hr->d = rein_hedge_poll(&hr->h, now);
  return hedged_drive(call, m, step);
}

/* A multi handle for one blocking hedged call: an idle one of the
 * client's (its connections still open) or a new one. */
static CURLM *multi_take(rein_curl *c) {
  CURLM *m = NULL;
  pthread_mutex_lock(&c->multi_lock);
  if (c->multi_nidle) m = c->multi_idle[--c->multi_nidle];
  pthread_mutex_unlock(&c->multi_lock);
  if (!m && (m = curl_multi_init()))
    /* keep the connections of a few calls' attempts between calls */
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 8L);
  return m;
}

/* Back to the client when there is room (nothing on it: the call removed
 * its handles), else closed. */
static void multi_give(rein_curl *c, CURLM *m) {
  pthread_mutex_lock(&c->multi_lock);
  if (c->multi_nidle < REIN__CURL_MULTI_IDLE) {
    c->multi_idle[c->multi_nidle++] = m;
    m = NULL;
  }
  pthread_mutex_unlock(&c->multi_lock);
  if (m) curl_multi_cleanup(m);
}

/*
 * Blocking: the multi driver on a multi handle of its own (an idle one
 * of the client's, with its open connections: multi_take). A wait with
 * nothing in flight (pacing, a retry's backoff) sleeps through the
 * client's sleeper, as the plain blocking driver does; otherwise the loop
 * waits in curl_multi_poll for an answer or the hedge timer.
 */
static rein_status perform_hedged(rein_curl *c, CURL *easy,
                                  const rein_curl_opts *opts,
                                  rein_curl_result *res) {
  if (hedged_needs_write_fn(c, opts)) return REIN_EINVAL;
  rein_curl_call call;
  hedge_run hr;
  rein_status st = call_init(&call, c, easy, opts);
  if (st != REIN_OK) return st;
  memset(&hr, 0, sizeof hr);
  call.hr = &hr;
  CURLM *m = multi_take(c);
  if (!m) {
    call_release(&call);
    return REIN_ENOMEM;
  }
  void (*sleep_fn)(void *, int64_t) =
      c->cfg.sleeper.sleep_ns ? c->cfg.sleeper.sleep_ns : default_sleep;
  rein_curl_step step;
  st = rein_curl_multi_add(&call, m, &step);
  while (st == REIN_OK && step.state != REIN_CURL_FINISHED) {
    int64_t now = rein_policy_now(call.policy);
    if (step.state == REIN_CURL_WAITING) {
      if (step.due_ns > now) sleep_fn(c->cfg.sleeper.ctx, step.due_ns - now);
      st = rein_curl_multi_resume(&call, m, &step);
      continue;
    }
    if (step.state == REIN_CURL_HEDGING && now >= step.due_ns) {
      st = rein_curl_multi_resume(&call, m, &step);
      continue;
    }
    int running = 0;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    bool answered = false;
    while (!answered && (msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      st = rein_curl_multi_done(&call, m, msg, &step);
      answered = true;
    }
    if (answered) continue;
    int ms = rein_curl_poll_ms(&step, rein_policy_now(call.policy), 1000);
    curl_multi_poll(m, NULL, 0, ms, NULL);
  }
  if (call.state != CS_FINISHED) { /* a local failure left it running */
    hr.failed = st;
    hedged_finish(&call);
  }
  multi_give(c, m);
  call_release(&call);
  if (res) *res = call.res;
  if (st != REIN_OK) return st;
  return call.res.action == REIN_DONE ? REIN_OK : REIN_EGAVEUP;
}

rein_status rein_curl_perform_ex(rein_curl *c, CURL *easy,
                                 const rein_curl_opts *opts,
                                 rein_curl_result *res) {
  if (!c || !easy) return REIN_EINVAL;
  if (c->hedge[0]) return perform_hedged(c, easy, opts, res);
  rein_curl_call call;
  rein_status st = call_init(&call, c, easy, opts);
  if (st != REIN_OK) return st;
  count(c, RC_CALLS, 1);
  void (*sleep_fn)(void *, int64_t) =
      c->cfg.sleeper.sleep_ns ? c->cfg.sleeper.sleep_ns : default_sleep;
  int64_t pace = pace_wait(&call, rein_policy_now(call.policy));
  if (pace > 0) sleep_fn(c->cfg.sleeper.ctx, pace);
  call.d = ask(&call, true, rein_policy_now(call.policy));
  for (;;) {
    if (call.d.action == REIN_ATTEMPT) {
      st = prepare_attempt(&call);
      if (st != REIN_OK) {
        abort_attempt(&call);
        break;
      }
      call.state = CS_IN_FLIGHT;
      CURLcode code = curl_easy_perform(easy);
      finish_attempt(&call, code);
    } else if (call.d.action == REIN_WAIT) {
      call.state = CS_WAITING;
      sleep_fn(c->cfg.sleeper.ctx, call.d.delay_ns);
      call.d = ask(&call, false, rein_policy_now(call.policy));
    } else {
      if (call.state != CS_FINISHED)
        finish_call(&call, rein_policy_now(call.policy));
      break;
    }
  }
  call_release(&call);
  if (res) *res = call.res;
  if (st != REIN_OK) return st;
  return call.res.action == REIN_DONE ? REIN_OK : REIN_EGAVEUP;
}

rein_status rein_curl_perform(rein_curl *c, CURL *easy) {
  return rein_curl_perform_ex(c, easy, NULL, NULL);
}

/* --------------------------------------------------------- multi driver */

rein_status rein_curl_call_new(rein_curl *c, CURL *easy,
                               const rein_curl_opts *opts,
                               rein_curl_call **out) {
  if (!c || !easy || !out) return REIN_EINVAL;
  *out = NULL;
  if (c->hedge[0] && hedged_needs_write_fn(c, opts)) return REIN_EINVAL;
  rein_curl_call *call = rein__curl_alloc(c->alloc, sizeof *call);
  if (!call) return REIN_ENOMEM;
  rein_status st = call_init(call, c, easy, opts);
  if (st != REIN_OK) {
    rein__curl_free(c->alloc, call);
    return st;
  }
  if (c->hedge[0]) {
    call->hr = rein__curl_alloc(c->alloc, sizeof *call->hr);
    if (!call->hr) {
      call_release(call);
      rein__curl_free(c->alloc, call);
      return REIN_ENOMEM;
    }
    memset(call->hr, 0, sizeof *call->hr);
  }
  *out = call;
  return REIN_OK;
}

void rein_curl_call_free(rein_curl_call *call) {
  if (!call) return;
  if (call->hr) {
    if (call->state != CS_FINISHED) hedged_drop(call);
    rein__curl_free(call->c->alloc, call->hr);
  } else if (call->state == CS_IN_FLIGHT && call->multi) {
    curl_multi_remove_handle(call->multi, call->easy);
  }
  call_release(call);
  rein__curl_free(call->c->alloc, call);
}

CURL *rein_curl_call_easy(const rein_curl_call *call) {
  return call ? call->easy : NULL;
}

void *rein_curl_call_user(const rein_curl_call *call) {
  return call ? call->opts.user : NULL;
}

void rein_curl_call_result(const rein_curl_call *call, rein_curl_result *res) {
  if (call && res) *res = call->res;
}

static void set_step(const rein_curl_call *call, rein_curl_step *step) {
  if (!step) return;
  step->due_ns = 0;
  if (call->state == CS_IN_FLIGHT) {
    step->state = REIN_CURL_IN_FLIGHT;
  } else if (call->state == CS_WAITING) {
    step->state = REIN_CURL_WAITING;
    step->due_ns = call->due_ns;
  } else {
    step->state = REIN_CURL_FINISHED;
  }
}

/* Act on call->d after begin / next(NULL): add the handle, wait or finish. */
static rein_status advance(rein_curl_call *call, CURLM *m, int64_t now,
                           rein_curl_step *step) {
  rein_status st = REIN_OK;
  if (call->d.action == REIN_ATTEMPT) {
    st = prepare_attempt(call);
    if (st != REIN_OK) {
      abort_attempt(call);
    } else {
      CURLMcode mc = curl_multi_add_handle(m, call->easy);
      if (mc != CURLM_OK) {
        rein_outcome o = {.kind = REIN_OUTCOME_FATAL};
        call->d = rein_retry_next(&call->r, &o, now);
        call->res.last = REIN_OUTCOME_FATAL;
        call->res.last_code = CURLE_FAILED_INIT;
        finish_call(call, now);
        st = REIN_EBACKEND;
      } else {
        call->multi = m;
        call->state = CS_IN_FLIGHT;
      }
    }
  } else if (call->d.action == REIN_WAIT) {
    call->state = CS_WAITING;
    call->due_ns = now + call->d.delay_ns;
  } else if (call->state != CS_FINISHED) {
    finish_call(call, now);
  }
  set_step(call, step);
  return st;
}

rein_status rein_curl_multi_add(rein_curl_call *call, CURLM *m,
                                rein_curl_step *step) {
  if (!call || !m) return REIN_EINVAL;
  if (call->state != CS_INIT) return REIN_ESTATE;
  count(call->c, RC_CALLS, 1);
  int64_t now = rein_policy_now(call->policy);
  int64_t pace = pace_wait(call, now);
  if (pace > 0) { /* wait for the reset first: resume begins the call */
    call->state = CS_WAITING;
    call->due_ns = now + pace;
    set_step(call, step);
    return REIN_OK;
  }
  if (call->hr) return hedged_begin(call, m, now, step);
  call->begun = true;
  call->d = ask(call, true, now);
  return advance(call, m, now, step);
}

rein_status rein_curl_multi_done(rein_curl_call *call, CURLM *m,
                                 const CURLMsg *msg, rein_curl_step *step) {
  if (!call || !m || !msg) return REIN_EINVAL;
  if (msg->msg != CURLMSG_DONE) return REIN_EINVAL;
  if (call->hr) {
    if (call->state != CS_IN_FLIGHT) return REIN_ESTATE;
    return hedged_done(call, m, msg, step);
  }
  if (msg->easy_handle != call->easy) return REIN_EINVAL;
  if (call->state != CS_IN_FLIGHT) return REIN_ESTATE;
  CURLcode code = msg->data.result; /* read before removing: msg dies */
  curl_multi_remove_handle(m, call->easy);
  call->multi = NULL;
  finish_attempt(call, code);
  if (call->state != CS_FINISHED) call->state = CS_WAITING;
  set_step(call, step);
  return REIN_OK;
}

rein_status rein_curl_multi_resume(rein_curl_call *call, CURLM *m,
                                   rein_curl_step *step) {
  if (!call || !m) return REIN_EINVAL;
  if (call->hr) {
    if (call->state != CS_WAITING && call->state != CS_IN_FLIGHT)
      return REIN_ESTATE;
    return hedged_resume(call, m, step);
  }
  if (call->state != CS_WAITING) return REIN_ESTATE;
  int64_t now = rein_policy_now(call->policy);
  if (!call->begun) {
    if (now < call->due_ns) { /* early: keep waiting for the reset */
      set_step(call, step);
      return REIN_OK;
    }
    call->begun = true;
    call->d = ask(call, true, now);
  } else {
    call->d = ask(call, false, now);
  }
  return advance(call, m, now, step);
}

int rein_curl_poll_ms(const rein_curl_step *step, int64_t now, int max_ms) {
  if (!step ||
      (step->state != REIN_CURL_WAITING && step->state != REIN_CURL_HEDGING))
    return max_ms;
  int64_t left = step->due_ns - now;
  if (left <= 0) return 0;
  int64_t ms = (left + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
  return ms < max_ms ? (int)ms : max_ms;
}
