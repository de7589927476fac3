/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein_client_load.c: the rein libcurl client (rein/curl.h) as a caller
 * fleet behind nginx, for the module's outage test: --threads T threads
 * share one rein_curl (one policy, one retry budget) and start --rate R
 * calls a second in all, each call a GET of URL under the policy: at most
 * 3 attempts, --attempt-timeout-ms (default 2000) per attempt,
 * exponential backoff with full jitter
 * from 50 ms, a ratio retry budget of 10% (no floor), a 10 s deadline per
 * call, every server signal honoured (Retry-After, Rein-Dont-Retry,
 * RateLimit: a Retry-After past the deadline ends the call instead of
 * waiting; during a stall nothing completes, the drain rate is 0 and the
 * module says Retry-After: 60). Runs --secs S.
 *
 * Prints, for calls that started in [--from, --to) seconds after the start
 * (the outage window), and for all calls:
 *   window calls=N attempts=A amplification=X ok=K
 *   all calls=N attempts=A amplification=X ok=K
 * Exit 0, or 2 on a usage error.
 */
#include "rein.h"
#include "rein/curl.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct shared {
  rein_curl *client;
  const char *url;
  double rate, secs, from, to, attempt_ms;
  int threads;
  int64_t t0;
  _Atomic uint64_t w_calls, w_attempts, w_ok, a_calls, a_attempts, a_ok;
  _Atomic int64_t longest_ns; /* the slowest call */
} shared;

typedef struct worker {
  shared *sh;
  int id;
} worker;

static size_t discard(char *p, size_t size, size_t n, void *ctx) {
  (void)p, (void)ctx;
  return size * n;
}

static void sleep_until(int64_t t) {
  int64_t now = rein_clock_now(NULL);
  if (t <= now) return;
  struct timespec ts = {(time_t)((t - now) / REIN_NS_PER_S),
                        (long)((t - now) % REIN_NS_PER_S)};
  nanosleep(&ts, NULL);
}

static void *run(void *p) {
  worker *w = p;
  shared *sh = w->sh;
  CURL *easy = curl_easy_init();
  if (!easy) return NULL;
  curl_easy_setopt(easy, CURLOPT_URL, sh->url);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  /* This thread's calls: every threads/rate seconds, offset by its id. */
  int64_t gap = (int64_t)((double)sh->threads / sh->rate * 1e9);
  int64_t next = sh->t0 + gap * w->id / sh->threads;
  int64_t end = sh->t0 + (int64_t)(sh->secs * 1e9);
  while (next < end) {
    sleep_until(next);
    int64_t start = rein_clock_now(NULL);
    next += gap;
    rein_curl_opts o = {0};
    o.method = "GET";
    rein_curl_result res;
    rein_status st = rein_curl_perform_ex(sh->client, easy, &o, &res);
    double at = (double)(start - sh->t0) / 1e9;
    int64_t took = rein_clock_now(NULL) - start;
    int64_t l = atomic_load(&sh->longest_ns);
    while (took > l && !atomic_compare_exchange_weak(&sh->longest_ns, &l, took)) {
    }
    bool ok = st == REIN_OK && res.http_status == 200;
    atomic_fetch_add(&sh->a_calls, 1);
    atomic_fetch_add(&sh->a_attempts, res.attempts);
    if (ok) atomic_fetch_add(&sh->a_ok, 1);
    if (at >= sh->from && at < sh->to) {
      atomic_fetch_add(&sh->w_calls, 1);
      atomic_fetch_add(&sh->w_attempts, res.attempts);
      if (ok) atomic_fetch_add(&sh->w_ok, 1);
    }
    if (next < rein_clock_now(NULL)) next = rein_clock_now(NULL); /* behind */
  }
  curl_easy_cleanup(easy);
  return NULL;
}

static int usage(const char *why) {
  fprintf(stderr,
          "rein_client_load: %s\nusage: rein_client_load URL [--rate R] "
          "[--threads T] [--secs S] [--from A --to B] "
          "[--attempt-timeout-ms N]\n",
          why);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage("URL required");
  static shared sh;
  sh.url = argv[1];
  sh.rate = 50;
  sh.threads = 32;
  sh.secs = 6;
  sh.from = 1;
  sh.to = 4;
  sh.attempt_ms = 2000;
  for (int i = 2; i + 1 < argc; i += 2) {
    double v = strtod(argv[i + 1], NULL);
    if (!strcmp(argv[i], "--rate"))
      sh.rate = v;
    else if (!strcmp(argv[i], "--threads"))
      sh.threads = (int)v;
    else if (!strcmp(argv[i], "--secs"))
      sh.secs = v;
    else if (!strcmp(argv[i], "--from"))
      sh.from = v;
    else if (!strcmp(argv[i], "--to"))
      sh.to = v;
    else if (!strcmp(argv[i], "--attempt-timeout-ms"))
      sh.attempt_ms = v;
    else
      return usage(argv[i]);
  }
  if (!(sh.rate > 0) || sh.threads < 1 || sh.threads > 256 || !(sh.secs > 0))
    return usage("--rate > 0, --threads in [1, 256], --secs > 0");
  curl_global_init(CURL_GLOBAL_DEFAULT);

  rein_budget_config bc;
  rein_budget_config_default(&bc);
  bc.ratio = 0.1;
  bc.min_retries_per_sec = 0;
  rein_budget *budget;
  if (rein_budget_new(&bc, &budget) != REIN_OK) return 1;
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = 3;
  pc.attempt_timeout_ns = (int64_t)(sh.attempt_ms * 1e6);
  pc.backoff.base_ns = 50 * REIN_NS_PER_MS;
  pc.idempotent = true;
  pc.budget = budget;
  rein_policy *policy;
  if (rein_policy_new(&pc, &policy) != REIN_OK) return 1;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = policy;
  cc.deadline_ns = 10 * REIN_NS_PER_S;
  if (rein_curl_new(&cc, &sh.client) != REIN_OK) return 1;

  sh.t0 = rein_clock_now(NULL) + 50 * REIN_NS_PER_MS;
  pthread_t *t = calloc((size_t)sh.threads, sizeof *t);
  worker *w = calloc((size_t)sh.threads, sizeof *w);
  for (int i = 0; i < sh.threads; i++) {
    w[i].sh = &sh;
    w[i].id = i;
    pthread_create(&t[i], NULL, run, &w[i]);
  }
  for (int i = 0; i < sh.threads; i++)
    pthread_join(t[i], NULL);
  uint64_t wc = sh.w_calls, wa = sh.w_attempts, ac = sh.a_calls,
           aa = sh.a_attempts;
  printf("window calls=%llu attempts=%llu amplification=%.3f ok=%llu\n",
         (unsigned long long)wc, (unsigned long long)wa,
         wc ? (double)wa / (double)wc : 0, (unsigned long long)sh.w_ok);
  printf("all calls=%llu attempts=%llu amplification=%.3f ok=%llu "
         "longest_call_s=%.3f\n",
         (unsigned long long)ac, (unsigned long long)aa,
         ac ? (double)aa / (double)ac : 0, (unsigned long long)sh.a_ok,
         (double)atomic_load(&sh.longest_ns) / 1e9);
  rein_curl_stats cs;
  rein_curl_get_stats(sh.client, &cs);
  printf("outcomes");
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    printf(" %s=%llu", rein_outcome_kind_name((rein_outcome_kind)k),
           (unsigned long long)cs.outcomes[k]);
  printf("\n");
  rein_curl_free(sh.client);
  rein_policy_free(policy);
  rein_budget_free(budget);
  free(t);
  free(w);
  curl_global_cleanup();
  return 0;
}
