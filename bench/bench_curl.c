/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_curl.c: what rein_curl costs per HTTP call, next to plain libcurl.
 *
 * A libmicrohttpd server on 127.0.0.1 answers every GET with 200 "ok"
 * (internal select thread, keep-alive). The same easy handle then makes N
 * sequential calls three ways: curl_easy_perform alone (the peer),
 * rein_curl_perform_ex (blocking driver: state machine, header list with
 * Rein-Attempt, header parsing into rein_signals, timeout), and
 * rein_curl_perform_ex on a POST-like call that also mints an
 * Idempotency-Key from getrandom(). Each way runs ROUNDS times; the
 * median calls/s and the median per-call overhead are printed. Everything
 * is loopback; the server's own cost is in all three.
 *
 * usage: bench_curl [calls per round, default 5000] [rounds, default 5]
 */
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "rein.h"
#include "rein/curl.h"

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  (void)cls, (void)url, (void)method, (void)version, (void)upload;
  if (!*con_cls) {
    *con_cls = conn;
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0;
    return MHD_YES;
  }
  static const char body[] = "ok";
  struct MHD_Response *r = MHD_create_response_from_buffer(
      2, (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Idempotency-Key-Retention", "86400");
  enum MHD_Result ret = MHD_queue_response(conn, 200, r);
  MHD_destroy_response(r);
  return ret;
}

static size_t discard(char *p, size_t s, size_t n, void *c) {
  (void)p, (void)c;
  return s * n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the calling (client) thread: stable on a shared machine,
 * and excludes the server thread. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (n < 1 || rounds < 1 || rounds > 99) {
    fprintf(stderr, "usage: bench_curl [calls] [rounds <= 99]\n");
    return 2;
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL, handle,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
  if (!d) return 1;
  int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);

  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.attempt_timeout_ns = 5 * REIN_NS_PER_S;
  pc.window_ns = 60 * REIN_NS_PER_S;
  rein_policy *policy;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  rein_curl *client;
  if (rein_policy_new(&pc, &policy) != REIN_OK) return 1;
  cc.policy = policy;
  if (rein_curl_new(&cc, &client) != REIN_OK) return 1;

  CURL *e = curl_easy_init();
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_perform(e); /* connect once */

  static const char *const names[] = {"curl_easy_perform",
                                      "rein_curl_perform (GET)",
                                      "rein_curl_perform (keyed)"};
  double rate[3][99], cpu[3][99];
  rein_curl_opts keyed = {0};
  keyed.method = "POST"; /* only to mint a key; the request stays a GET */
  for (int r = 0; r < rounds; r++) {
    for (int way = 0; way < 3; way++) {
      double t0 = now_s(), c0 = cpu_s();
      for (int i = 0; i < n; i++) {
        if (way == 0) {
          if (curl_easy_perform(e) != CURLE_OK) return 1;
        } else if (rein_curl_perform_ex(client, e, way == 2 ? &keyed : NULL,
                                        NULL) != REIN_OK) {
          return 1;
        }
      }
      rate[way][r] = n / (now_s() - t0);
      cpu[way][r] = (cpu_s() - c0) / n * 1e6;
    }
  }
  printf("bench_curl: %d sequential GETs per round on loopback keep-alive, "
         "%d rounds, median\n", n, rounds);
  double base = 0, cbase = 0;
  printf("  %-28s %12s %14s %8s\n", "", "wall calls/s", "client CPU/call",
         "ratio");
  for (int way = 0; way < 3; way++) {
    qsort(rate[way], (size_t)rounds, sizeof(double), cmp);
    qsort(cpu[way], (size_t)rounds, sizeof(double), cmp);
    double med = rate[way][rounds / 2], cmed = cpu[way][rounds / 2];
    if (way == 0) base = med, cbase = cmed;
    printf("  %-28s %12.0f %11.2f us %8.3f\n", names[way], med, cmed,
           med / base);
  }
  printf("  rein client CPU per call: +%.2f us (GET), +%.2f us (keyed)\n",
         cpu[1][rounds / 2] - cbase, cpu[2][rounds / 2] - cbase);
  curl_easy_cleanup(e);
  rein_curl_free(client);
  rein_policy_free(policy);
  curl_global_cleanup();
  MHD_stop_daemon(d);
  return 0;
}
