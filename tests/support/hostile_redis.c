/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile_redis.c: the misbehaving fake Redis server of hostile_redis.h.
 * One thread polls the listening socket and its connections every few
 * milliseconds; a connection gets its hostile answer once it has sent
 * anything (a client's first command), all non-blocking so the thread never
 * waits on a client and stops within one poll tick.
 */
#include "hostile_redis.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 16
#define SEND_CAP ((int64_t)256 << 20)

typedef struct conn {
  int fd;
  bool started;
  int64_t sent, next_drip;
  int step; /* NESTED: headers sent */
} conn;

struct rein_hostile {
  rein_hostile_mode mode;
  int drip_ms, lfd, port;
  conn c[MAXC];
  int n;
  pthread_t th;
  atomic_bool stop;
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nb(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static bool say(conn *c, const char *s, size_t n) {
  ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);
  if (w > 0) c->sent += w;
  return w == (ssize_t)n;
}

static void serve(rein_hostile *h, conn *c) {
  static char chunk[65536];
  if (!c->started) return;
  switch (h->mode) {
  case REIN_HOSTILE_GARBAGE:
    if (c->sent == 0) say(c, "!garbage\r\n", 10);
    break;
  case REIN_HOSTILE_HUGE_ARRAY:
    if (c->sent == 0) say(c, "*2147483647\r\n", 13);
    break;
  case REIN_HOSTILE_HUGE_BULK:
    if (c->sent == 0) {
      say(c, "$2147483647\r\n", 13);
      memset(chunk, 'x', sizeof chunk);
    }
    while (c->sent < SEND_CAP && say(c, chunk, sizeof chunk)) {
    }
    break;
  case REIN_HOSTILE_NESTED:
    while (c->step < 64 && say(c, "*1000000\r\n", 10))
      c->step++;
    break;
  case REIN_HOSTILE_DRIP:
    if (now_ms() >= c->next_drip && c->sent < SEND_CAP) {
      static const char head[] = "$100000\r\n";
      char b = c->sent < (int64_t)sizeof head - 1 ? head[c->sent] : 'x';
      say(c, &b, 1);
      c->next_drip = now_ms() + h->drip_ms;
    }
    break;
  case REIN_HOSTILE_BLACKHOLE:
    break;
  }
}

static void *run(void *arg) {
  rein_hostile *h = arg;
  char buf[4096];
  while (!atomic_load(&h->stop)) {
    struct pollfd p[MAXC + 1];
    p[0].fd = h->lfd;
    p[0].events = POLLIN;
    for (int i = 0; i < h->n; i++) {
      p[i + 1].fd = h->c[i].fd;
      p[i + 1].events = POLLIN;
    }
    poll(p, (nfds_t)h->n + 1, 2);
    if ((p[0].revents & POLLIN) && h->n < MAXC) {
      int fd = accept(h->lfd, NULL, NULL);
      if (fd >= 0) {
        nb(fd);
        memset(&h->c[h->n], 0, sizeof h->c[h->n]);
        h->c[h->n++].fd = fd;
      }
    }
    for (int i = 0; i < h->n; i++) {
      conn *c = &h->c[i];
      ssize_t r = recv(c->fd, buf, sizeof buf, 0);
      if (r > 0) c->started = true;
      if (r == 0) { /* the client left */
        close(c->fd);
        h->c[i--] = h->c[--h->n];
        continue;
      }
      serve(h, c);
    }
  }
  return NULL;
}

rein_hostile *rein_hostile_start(rein_hostile_mode mode, int drip_ms) {
  rein_hostile *h = calloc(1, sizeof *h);
  if (!h) abort();
  h->mode = mode;
  h->drip_ms = drip_ms > 0 ? drip_ms : 20;
  h->lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (h->lfd < 0 || bind(h->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(h->lfd, 16) != 0 ||
      getsockname(h->lfd, (struct sockaddr *)&a, &al) != 0) {
    fprintf(stderr, "hostile_redis: cannot listen: %s\n", strerror(errno));
    abort();
  }
  nb(h->lfd);
  h->port = ntohs(a.sin_port);
  if (pthread_create(&h->th, NULL, run, h) != 0) abort();
  return h;
}

int rein_hostile_port(const rein_hostile *h) {
  return h->port;
}

const char *rein_hostile_mode_name(rein_hostile_mode m) {
  static const char *const names[] = {"garbage",   "huge array",
                                      "huge bulk", "nested arrays",
                                      "drip",      "black hole"};
  return (unsigned)m < 6 ? names[m] : "?";
}

void rein_hostile_stop(rein_hostile *h) {
  if (!h) return;
  atomic_store(&h->stop, true);
  pthread_join(h->th, NULL);
  for (int i = 0; i < h->n; i++)
    close(h->c[i].fd);
  close(h->lfd);
  free(h);
}
