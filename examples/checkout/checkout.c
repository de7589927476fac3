/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkout.c: a middle service between a shop and examples/ledger, written
 * to show a retry contract enforced across three processes.
 *
 *   POST /pay      {"account":"acct_1","amount_cents":1250} with an
 *                  Idempotency-Key: charges the ledger (POST /charges)
 *   GET  /metrics  Prometheus text (requests, answers by code, ledger calls)
 *   GET  /healthz
 *
 * Design. The ledger client is rein_curl_new_from_contract: the policy,
 * budget, key mode and signals are the ones `rein check` checked in
 * --contracts (examples/contracts/checkout). Its key mode is `derive`: the
 * key sent to the ledger is rein_curl_derive_key(the shop's key,
 * "ledger.charge"), so the shop's retries, checkout's own retries and a
 * checkout restart all reach the ledger with one key and charge once, with
 * no store here. When checkout's retries end with "don't retry" (the ledger
 * said so, or checkout already retried), it answers 503 + Rein-Dont-Retry
 * (rein_curl_dont_retry_reply_for) so the shop does not multiply the load
 * (--no-propagate answers a plain 503, to measure the difference). With
 * --rate-limit N it admits N requests/s (rein_admit's GCRA) and sends
 * RateLimit on every answer, successes included, for clients that pace.
 *
 * libmicrohttpd runs a thread per connection; the rein_curl client is
 * shared (immutable, atomic counters), each request has its own easy
 * handle. The ledger's bearer token comes from $CHECKOUT_LEDGER_TOKEN (not
 * the command line, where `ps` shows it). Binds 127.0.0.1 only.
 *
 * Deadlines. The shop says how long it waits (Rein-Deadline or its
 * neighbours, rein_deadline_in). checkout passes what is left, less
 * --deadline-reserve-ms for its own answer, to the ledger call
 * (rein_curl_opts.deadline: its retries fit inside, and each attempt tells
 * the ledger its own time left), and answers 504 without calling the
 * ledger when nothing is left. --no-deadline ignores the shop's deadline
 * (the control of the deadline test: the ledger then hears only
 * checkout's own contract timeout).
 */
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "rein/admit.h"
#include "rein/contract.h"
#include "rein/curl.h"
#include "rein/idem_http.h"
#include "rein/signal.h"

#define BODY_MAX (64 * 1024)
#define RESP_MAX (16 * 1024)

typedef struct options {
  unsigned port;
  const char *port_file, *ledger, *contracts, *caller, *to;
  long rate_limit;
  long deadline_reserve_ms;
  bool no_propagate, no_deadline, quiet;
} options;

enum { M_REQ, M_DONT_RETRY, M_DEADLINE, M_COUNT };

typedef struct checkout {
  options opt;
  rein_contract_set *set;
  rein_curl *client;
  rein_admit *admit;        /* with --rate-limit */
  char url[512], auth[600]; /* auth: "Authorization: Bearer ..." or "" */
  _Atomic uint64_t m[M_COUNT], codes[600]; /* codes: answers by status */
} checkout;

typedef struct req_ctx {
  char *body;
  size_t len;
  bool too_big;
} req_ctx;

static void usage(FILE *f) {
  fputs("usage: checkout --ledger URL --contracts DIR [options]\n"
        "  --port N          0 picks a free port (default 0)\n"
        "  --port-file PATH  write the port there once listening\n"
        "  --caller NAME     the contract's caller (default checkout)\n"
        "  --to SVC.OP       the ledger call (default ledger.charge)\n"
        "  --rate-limit N    admit N requests/s; RateLimit on every answer\n"
        "  --no-propagate    a plain 503, not 503 + Rein-Dont-Retry\n"
        "  --no-deadline     ignore the caller's deadline (Rein-Deadline, ...)\n"
        "  --deadline-reserve-ms N  kept from the caller's deadline for the\n"
        "                    answer (default 5)\n"
        "  --quiet           no log lines\n"
        "environment: CHECKOUT_LEDGER_TOKEN (bearer token for the ledger),\n"
        "             CHECKOUT_DERIVE_SECRET (optional HMAC secret for keys)\n",
        f);
}

static int parse_options(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->caller = "checkout";
  o->to = "ledger.charge";
  o->deadline_reserve_ms = 5;
  static const struct option lo[] = {{"port", 1, 0, 'p'},
                                     {"port-file", 1, 0, 'f'},
                                     {"ledger", 1, 0, 'l'},
                                     {"contracts", 1, 0, 'c'},
                                     {"caller", 1, 0, 'C'},
                                     {"to", 1, 0, 't'},
                                     {"rate-limit", 1, 0, 'r'},
                                     {"no-propagate", 0, 0, 'n'},
                                     {"no-deadline", 0, 0, 'D'},
                                     {"deadline-reserve-ms", 1, 0, 'R'},
                                     {"quiet", 0, 0, 'q'},
                                     {"help", 0, 0, 'h'},
                                     {0, 0, 0, 0}};
  int ch;
  char *end;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
    case 'p':
      o->port = (unsigned)strtoul(optarg, &end, 10);
      if (*end || o->port > 65535) goto bad;
      break;
    case 'f':
      o->port_file = optarg;
      break;
    case 'l':
      o->ledger = optarg;
      break;
    case 'c':
      o->contracts = optarg;
      break;
    case 'C':
      o->caller = optarg;
      break;
    case 't':
      o->to = optarg;
      break;
    case 'r':
      o->rate_limit = strtol(optarg, &end, 10);
      if (*end || o->rate_limit < 1 || o->rate_limit > 1000000) goto bad;
      break;
    case 'n':
      o->no_propagate = true;
      break;
    case 'D':
      o->no_deadline = true;
      break;
    case 'R':
      o->deadline_reserve_ms = strtol(optarg, &end, 10);
      if (*end || o->deadline_reserve_ms < 0 ||
          o->deadline_reserve_ms > 60000)
        goto bad;
      break;
    case 'q':
      o->quiet = true;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return -1;
    }
  }
  if (!o->ledger || !o->contracts) {
    fprintf(stderr, "checkout: --ledger and --contracts are required\n");
    usage(stderr);
    return -1;
  }
  return 0;
bad:
  fprintf(stderr, "checkout: %s: bad value '%s' (see --help)\n",
          argv[optind - 1], optarg);
  return -1;
}

/* ---- answers ------------------------------------------------------------- */

static enum MHD_Result send_answer(checkout *k, struct MHD_Connection *conn,
                                   int status, const char *ct, const char *body,
                                   size_t len, const rein_admit_response *ar,
                                   const rein_curl_reply *rp,
                                   const char *ledger_key) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", ct);
  for (size_t i = 0; ar && i < ar->count; i++)
    MHD_add_response_header(r, ar->headers[i].name, ar->headers[i].value);
  for (size_t i = 0; rp && i < rp->count; i++)
    MHD_add_response_header(r, rp->headers[i].name, rp->headers[i].value);
  if (ledger_key && *ledger_key)
    MHD_add_response_header(r, "Checkout-Ledger-Key", ledger_key);
  if (status >= 100 && status < 600)
    atomic_fetch_add_explicit(&k->codes[status], 1, memory_order_relaxed);
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result problem(checkout *k, struct MHD_Connection *conn,
                               int status, const char *type, const char *title,
                               const char *detail,
                               const rein_admit_response *ar,
                               const rein_curl_reply *rp) {
  char body[1024], t[128];
  size_t n = 0;
  snprintf(t, sizeof t, "urn:rein:problem:checkout-%s", type);
  rein_idem_http_problem(body, sizeof body, &n, t, title, status, detail);
  if (n >= sizeof body) n = sizeof body - 1;
  return send_answer(k, conn, status, REIN_IDEM_HTTP_PROBLEM_CT, body, n, ar,
                     rp, NULL);
}

/* ---- POST /pay ----------------------------------------------------------- */

typedef struct buf {
  char p[RESP_MAX];
  size_t n;
} buf;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  buf *b = ud;
  size_t len = sz * n, room = sizeof b->p - b->n;
  memcpy(b->p + b->n, p, len < room ? len : room);
  b->n += len < room ? len : room;
  return len;
}

static void on_attempt(void *ctx, CURL *easy, uint32_t attempt) {
  (void)easy, (void)attempt;
  ((buf *)ctx)->n = 0; /* each attempt's body replaces the last */
}

static const char *lookup_header(void *ctx, const char *name) {
  return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result pay(checkout *k, struct MHD_Connection *conn,
                           req_ctx *rc) {
  atomic_fetch_add_explicit(&k->m[M_REQ], 1, memory_order_relaxed);
  /* The shop's deadline, on the ledger client's clock, from arrival. */
  int64_t deadline = 0;
  if (!k->opt.no_deadline) {
    rein_deadline_in dl;
    rein_deadline_in_init(&dl);
    if (rein_deadline_in_lookup(&dl, lookup_header, conn) != REIN_OK)
      return problem(k, conn, 400, "deadline", "Invalid deadline",
                     dl.malformed, NULL, NULL);
    if (dl.left_ns >= 0) {
      int64_t left = dl.left_ns - k->opt.deadline_reserve_ms * REIN_NS_PER_MS;
      if (left <= 0) {
        atomic_fetch_add_explicit(&k->m[M_DEADLINE], 1, memory_order_relaxed);
        return problem(k, conn, 504, "deadline", "Deadline exceeded",
                       "No time left of the caller's deadline; the ledger "
                       "was not called.",
                       NULL, NULL);
      }
      deadline = rein_policy_now(rein_curl_policy(k->client)) + left;
      if (deadline == 0) deadline = 1;
    }
  }
  rein_admit_response ar = {0};
  rein_admit_ticket t;
  bool admitted = false;
  if (k->admit) {
    const char *att =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, REIN_HEADER_ATTEMPT);
    rein_admit_decision d;
    rein_admit_result res = rein_admit_acquire(
        k->admit, &t, rein_admit_parse_attempt(att, att ? strlen(att) : 0), &d);
    rein_admit_headers(&d, -1, &ar);
    if (res != REIN_ADMIT_ADMITTED)
      return problem(k, conn, ar.status, "shed", "Checkout busy",
                     "Retry after the Retry-After delay.", &ar, NULL);
    admitted = true;
  }
  enum MHD_Result ret;
  const char *kv =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, REIN_HEADER_IDEM_KEY);
  char key[256];
  rein_errbuf e = {{0}};
  if (!kv || rein_idem_http_parse_key(kv, strlen(kv), key, sizeof key, NULL,
                                      &e) != REIN_OK) {
    ret =
        problem(k, conn, 400, "key", "Idempotency-Key required",
                kv ? e.msg : "POST /pay takes an Idempotency-Key.", &ar, NULL);
    goto out;
  }
  if (rc->too_big || rc->len == 0) {
    ret = problem(k, conn, 400, "body", "Bad body",
                  "A payment body is 1 byte .. 64 KiB of JSON.", &ar, NULL);
    goto out;
  }
  CURL *easy = curl_easy_init();
  struct curl_slist *h =
      curl_slist_append(NULL, "Content-Type: application/json");
  if (h && k->auth[0]) h = curl_slist_append(h, k->auth);
  static _Thread_local buf resp;
  if (!easy || !h) {
    curl_easy_cleanup(easy);
    curl_slist_free_all(h);
    ret = problem(k, conn, 500, "internal", "Out of memory", NULL, &ar, NULL);
    goto out;
  }
  curl_easy_setopt(easy, CURLOPT_URL, k->url);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, rc->body);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)rc->len);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  rein_curl_opts o = {0};
  o.method = "POST";
  o.headers = h;
  o.inbound_key = key;
  o.deadline = deadline;
  o.on_attempt = on_attempt;
  o.on_attempt_ctx = &resp;
  rein_curl_result res;
  resp.n = 0;
  rein_status st = rein_curl_perform_ex(k->client, easy, &o, &res);
  curl_easy_cleanup(easy);
  curl_slist_free_all(h);
  rein_curl_reply rp;
  if (st == REIN_OK) {
    ret = send_answer(k, conn, (int)res.http_status, "application/json", resp.p,
                      resp.n, &ar, NULL, res.key);
  } else if (st != REIN_EGAVEUP) {
    ret = problem(k, conn, 500, "internal", "Ledger call failed",
                  rein_strerror(st), &ar, NULL);
  } else if (res.reason == REIN_GIVEUP_DEADLINE) {
    atomic_fetch_add_explicit(&k->m[M_DEADLINE], 1, memory_order_relaxed);
    char d[200];
    snprintf(d, sizeof d,
             "The caller's deadline ended the ledger call after %u attempts "
             "(last status %ld).",
             res.attempts, res.http_status);
    ret = problem(k, conn, 504, "deadline", "Deadline exceeded", d, &ar, NULL);
  } else if (rein_curl_dont_retry_reply_for(&res, &rp) &&
             !k->opt.no_propagate) {
    atomic_fetch_add_explicit(&k->m[M_DONT_RETRY], 1, memory_order_relaxed);
    char d[200];
    snprintf(d, sizeof d, "The ledger call gave up (%s) after %u attempts.",
             rein_giveup_name(res.reason), res.attempts);
    ret = problem(k, conn, rp.status, "dont-retry", "Ledger overloaded", d, &ar,
                  &rp);
  } else if (res.http_status >= 400 && res.http_status < 500) {
    ret = send_answer(k, conn, (int)res.http_status, "application/json", resp.p,
                      resp.n, &ar, NULL, res.key); /* the ledger's */
  } else {
    char d[200];
    snprintf(d, sizeof d, "The ledger call gave up (%s), last status %ld.",
             rein_giveup_name(res.reason), res.http_status);
    ret = problem(k, conn, 503, "ledger", "Ledger unavailable", d, &ar, NULL);
  }
out:
  if (admitted) {
    rein_clock mono = rein_clock_monotonic();
    rein_admit_release(k->admit, &t, rein_clock_now(&mono), -1);
  }
  return ret;
}

/* ---- other routes -------------------------------------------------------- */

static enum MHD_Result metrics(checkout *k, struct MHD_Connection *conn) {
  char body[8192];
  rein_curl_stats cs;
  rein_curl_get_stats(k->client, &cs);
  size_t n = (size_t)snprintf(
      body, sizeof body,
      "# TYPE checkout_requests_total counter\n"
      "checkout_requests_total %llu\n"
      "# TYPE checkout_dont_retry_replies_total counter\n"
      "checkout_dont_retry_replies_total %llu\n"
      "# TYPE checkout_ledger_calls_total counter\n"
      "checkout_ledger_calls_total %llu\n"
      "# TYPE checkout_ledger_attempts_total counter\n"
      "checkout_ledger_attempts_total %llu\n"
      "# TYPE checkout_keys_derived_total counter\n"
      "checkout_keys_derived_total %llu\n"
      "# TYPE checkout_deadline_refused_total counter\n"
      "checkout_deadline_refused_total %llu\n"
      "# TYPE checkout_responses_total counter\n",
      (unsigned long long)k->m[M_REQ], (unsigned long long)k->m[M_DONT_RETRY],
      (unsigned long long)cs.calls, (unsigned long long)cs.attempts,
      (unsigned long long)cs.keys_derived,
      (unsigned long long)k->m[M_DEADLINE]);
  for (int c = 100; c < 600 && n < sizeof body - 64; c++) {
    uint64_t v = atomic_load_explicit(&k->codes[c], memory_order_relaxed);
    if (v)
      n += (size_t)snprintf(body + n, sizeof body - n,
                            "checkout_responses_total{code=\"%d\"} %llu\n", c,
                            (unsigned long long)v);
  }
  return send_answer(k, conn, 200, "text/plain; version=0.0.4", body, n, NULL,
                     NULL, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *size, void **con_cls) {
  (void)version;
  checkout *k = cls;
  bool post = strcmp(method, "POST") == 0;
  if (!*con_cls) {
    req_ctx *rc = calloc(1, sizeof *rc);
    if (!rc) return MHD_NO;
    *con_cls = rc;
    return MHD_YES;
  }
  req_ctx *rc = *con_cls;
  if (*size) { /* body bytes */
    if (!rc->too_big && rc->len + *size <= BODY_MAX) {
      char *nb = realloc(rc->body, rc->len + *size + 1);
      if (!nb) return MHD_NO;
      rc->body = nb;
      memcpy(rc->body + rc->len, data, *size);
      rc->len += *size;
      rc->body[rc->len] = '\0';
    } else {
      rc->too_big = true;
    }
    *size = 0;
    return MHD_YES;
  }
  if (post && !strcmp(url, "/pay")) return pay(k, conn, rc);
  if (!post && !strcmp(url, "/metrics")) return metrics(k, conn);
  if (!post && !strcmp(url, "/healthz"))
    return send_answer(k, conn, 200, "application/json", "{\"status\":\"ok\"}",
                       15, NULL, NULL, NULL);
  return problem(k, conn, 404, "not-found", "Not found",
                 "POST /pay, GET /metrics, GET /healthz", NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)conn, (void)toe;
  req_ctx *rc = *con_cls;
  if (rc) free(rc->body);
  free(rc);
  *con_cls = NULL;
}

/* ---- start-up ------------------------------------------------------------ */

static void quiet_log(void *ctx, const char *l) {
  (void)ctx, (void)l;
}

static int setup(checkout *k) {
  rein_contract_config cc;
  rein_contract_config_default(&cc);
  const char *paths[1] = {k->opt.contracts};
  rein_status st = rein_contract_load(&cc, paths, 1, &k->set);
  if (st != REIN_OK) {
    fprintf(stderr,
            "checkout: %s: contracts do not load (%s); run `rein "
            "check %s`\n",
            k->opt.contracts, rein_status_name(st), k->opt.contracts);
    return -1;
  }
  rein_errbuf e = {{0}};
  rein_curl_config base;
  rein_curl_config_default(&base);
  base.err = &e;
  const char *secret = getenv("CHECKOUT_DERIVE_SECRET");
  if (secret && *secret) {
    base.derive_secret = secret;
    base.derive_secret_len = strlen(secret) > 64 ? 64 : strlen(secret);
  }
  if (k->opt.quiet) base.log = quiet_log;
  st = rein_curl_new_from_contract(&base, k->set, k->opt.caller, k->opt.to,
                                   NULL, NULL, &k->client);
  if (st != REIN_OK) {
    fprintf(stderr, "checkout: %s -> %s: %s\n", k->opt.caller, k->opt.to,
            e.msg[0] ? e.msg : rein_status_name(st));
    return -1;
  }
  snprintf(k->url, sizeof k->url, "%s/charges", k->opt.ledger);
  const char *tok = getenv("CHECKOUT_LEDGER_TOKEN");
  if (tok && *tok) {
    if (strlen(tok) > 512) {
      fprintf(stderr, "checkout: CHECKOUT_LEDGER_TOKEN: too long\n");
      return -1;
    }
    snprintf(k->auth, sizeof k->auth, "Authorization: Bearer %s", tok);
  }
  if (k->opt.rate_limit) {
    rein_admit_config ac;
    rein_admit_config_default(&ac);
    ac.rl_quota = (uint32_t)k->opt.rate_limit;
    ac.rl_policy = "checkout";
    ac.err = &e;
    if (rein_admit_new(&ac, &k->admit) != REIN_OK) {
      fprintf(stderr, "checkout: admission: %s\n", e.msg);
      return -1;
    }
  }
  return 0;
}

static int write_port_file(const char *path, unsigned port) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fprintf(f, "%u\n", port);
  return fclose(f) != 0 ? -1 : rename(tmp, path);
}

int main(int argc, char **argv) {
  static checkout K;
  checkout *k = &K;
  if (parse_options(argc, argv, &k->opt) != 0) return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (setup(k) != 0) return 2;
  sigset_t ss;
  sigemptyset(&ss);
  sigaddset(&ss, SIGTERM);
  sigaddset(&ss, SIGINT);
  pthread_sigmask(SIG_BLOCK, &ss, NULL); /* threads inherit the mask */
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)k->opt.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
      0, NULL, NULL, handle, k, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
      MHD_OPTION_NOTIFY_COMPLETED, completed, k, MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "checkout: cannot listen on 127.0.0.1:%u\n", k->opt.port);
    return 1;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : k->opt.port;
  if (!k->opt.quiet)
    printf("checkout: listening on http://127.0.0.1:%u\n", port);
  fflush(stdout);
  if (k->opt.port_file && write_port_file(k->opt.port_file, port) != 0) {
    fprintf(stderr, "checkout: cannot write %s\n", k->opt.port_file);
    MHD_stop_daemon(d);
    return 1;
  }
  int sig = 0;
  sigwait(&ss, &sig);
  MHD_stop_daemon(d);
  rein_admit_free(k->admit);
  rein_curl_free(k->client);
  rein_contract_set_free(k->set);
  curl_global_cleanup();
  return 0;
}
