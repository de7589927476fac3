/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fixed_upstream.c: an HTTP upstream with a fixed capacity, for the nginx
 * module's tests and bench: --workers W threads each serve one request at a
 * time and spend --work-ms S on it, so it completes W * 1000 / S requests a
 * second, whatever the load; requests beyond that wait in its accept
 * backlog, unbounded, as a real service's do (no shedding of its own: that
 * is what the proxy in front adds).
 *
 *   GET  /anything         200 "ok" after S ms of work
 *   GET  /stats            served=N busy=B (not counted, no work)
 *   POST /admin/work?ms=N  change S
 *   POST /admin/outage?ms=N  answer 503 (no work) for the next N ms
 *   POST /admin/stall?ms=N   hang for the next N ms: a request that arrives
 *                          meanwhile waits until the stall ends, then is
 *                          served (an upstream that stops answering)
 *
 * Binds 127.0.0.1 on --port (0: any free port) and prints "port N" on
 * stdout once listening. Connection: close on every answer (nginx speaks
 * HTTP/1.0 to upstreams by default).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static _Atomic long work_ms = 20;
static _Atomic long long outage_until_ms, stall_until_ms;
static _Atomic long long served, busy;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(int fd, int status, const char *body) {
  char buf[512];
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   status, status == 200 ? "OK" : "Service Unavailable",
                   strlen(body), body);
  ssize_t off = 0;
  while (off < n) {
    ssize_t w = write(fd, buf + off, (size_t)(n - off));
    if (w <= 0) return;
    off += w;
  }
}

static long query_ms(const char *head) {
  const char *q = strstr(head, "ms=");
  return q ? strtol(q + 3, NULL, 10) : 0;
}

static void serve(int fd) {
  char head[8192];
  size_t len = 0;
  while (len < sizeof head - 1) {
    ssize_t r = read(fd, head + len, sizeof head - 1 - len);
    if (r <= 0) return;
    len += (size_t)r;
    head[len] = '\0';
    if (strstr(head, "\r\n\r\n")) break;
  }
  if (strncmp(head, "GET /stats", 10) == 0) {
    char b[128];
    snprintf(b, sizeof b, "served=%lld busy=%lld work_ms=%ld\n",
             atomic_load(&served), atomic_load(&busy), atomic_load(&work_ms));
    reply(fd, 200, b);
    return;
  }
  if (strncmp(head, "POST /admin/work", 16) == 0) {
    atomic_store(&work_ms, query_ms(head));
    reply(fd, 200, "ok\n");
    return;
  }
  if (strncmp(head, "POST /admin/stall", 17) == 0) {
    atomic_store(&stall_until_ms, now_ms() + query_ms(head));
    reply(fd, 200, "ok\n");
    return;
  }
  if (strncmp(head, "POST /admin/outage", 18) == 0) {
    atomic_store(&outage_until_ms, now_ms() + query_ms(head));
    reply(fd, 200, "ok\n");
    return;
  }
  if (now_ms() < atomic_load(&outage_until_ms)) {
    reply(fd, 503, "outage\n");
    return;
  }
  atomic_fetch_add(&busy, 1);
  long long stall = atomic_load(&stall_until_ms) - now_ms();
  if (stall > 0) {
    struct timespec st = {(time_t)(stall / 1000), (long)(stall % 1000) * 1000000L};
    nanosleep(&st, NULL);
  }
  long ms = atomic_load(&work_ms);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  atomic_fetch_sub(&busy, 1);
  atomic_fetch_add(&served, 1);
  reply(fd, 200, "ok\n");
}

static int lfd;

static void *worker(void *p) {
  (void)p;
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return NULL;
    }
    serve(fd);
    close(fd);
  }
}

int main(int argc, char **argv) {
  int workers = 4, port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--workers"))
      workers = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--work-ms"))
      work_ms = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--port"))
      port = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--workers W] [--work-ms S] [--port P]\n",
              argv[0]);
      return 2;
    }
  }
  if (workers < 1 || workers > 256 || work_ms < 0) {
    fprintf(stderr, "fixed_upstream: --workers in [1, 256], --work-ms >= 0\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)port);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      listen(lfd, 4096) != 0) {
    perror("fixed_upstream: bind/listen");
    return 1;
  }
  socklen_t sl = sizeof sa;
  getsockname(lfd, (struct sockaddr *)&sa, &sl);
  printf("port %d\n", ntohs(sa.sin_port));
  fflush(stdout);
  pthread_t t;
  for (int i = 1; i < workers; i++)
    pthread_create(&t, NULL, worker, NULL);
  worker(NULL);
  return 0;
}
