/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_slowloris.c: examples/ledger under a bounded slowloris
 * attack, on loopback.
 *
 * The attacker holds up to N sockets (N = 4,200, or what RLIMIT_NOFILE
 * allows once raised to its hard limit) from 127.0.0.2, each sending a
 * request line and then one header line a second, never finishing its head,
 * and reconnecting any socket the ledger closes; it stops after ATTACK_S
 * seconds. Meanwhile, from 127.0.0.1, a client polls GET /healthz: it must
 * keep answering (a per-address limit leaves room for others, where one
 * global limit did not), and a connection from 127.0.0.3 that dribbles its
 * head must be closed once --request-timeout-s has passed (libmicrohttpd's
 * idle timeout alone is reset by every byte). Any 127.0.0.0/8 address is
 * loopback on Linux, so the three clients are three peers to the ledger.
 *
 * Before the request deadline and the per-address limit, /healthz answered
 * 0 of its polls while 4,150 sockets were held, and the dribbling
 * connection stayed open for the 60 s idle timeout.
 * Usage: test_ledger_slowloris LEDGER_BIN
 */
#include "ledger_proc.h"
#include "rein_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ATTACK_S 12
#define REQUEST_TIMEOUT_S 3
#define N_MAX 4200

static const char *LEDGER_BIN;
static ledger_proc g_live;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A non-blocking socket from `src` to the ledger; -1 when none could be
 * made (fd limit, port exhaustion): the attacker just holds fewer. */
static int open_from(const char *src, unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  /* Closed with RST: no TIME_WAIT eating the source ports. */
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, src, &sa.sin_addr);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

static const char HEAD[] = "POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\n";
static const char LINE[] = "X-Slow: 1\r\n";

typedef struct attack {
  unsigned port;
  int n;
  int *fd;
  bool *sent_head;
  _Atomic int held, reconnects;
  _Atomic bool stop;
} attack;

/* Whether the ledger closed `fd` (EOF or an error). */
static bool peer_closed(int fd) {
  char b[256];
  ssize_t k = recv(fd, b, sizeof b, MSG_DONTWAIT);
  return k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void *attacker(void *arg) {
  attack *a = arg;
  double end = now_s() + ATTACK_S;
  bool first = true;
  while (!atomic_load(&a->stop) && now_s() < end) {
    /* Every socket at once, then at most 600 reconnects a tick. */
    int held = 0, budget = first ? a->n : 600;
    first = false;
    for (int i = 0; i < a->n; i++) {
      if (a->fd[i] >= 0 && peer_closed(a->fd[i])) {
        close(a->fd[i]);
        a->fd[i] = -1;
      }
      if (a->fd[i] < 0 && budget > 0) {
        budget--;
        a->fd[i] = open_from("127.0.0.2", a->port);
        a->sent_head[i] = false;
        if (a->fd[i] >= 0) atomic_fetch_add(&a->reconnects, 1);
      }
      if (a->fd[i] < 0) continue;
      const char *what = a->sent_head[i] ? LINE : HEAD;
      size_t len = a->sent_head[i] ? sizeof LINE - 1 : sizeof HEAD - 1;
      ssize_t w = send(a->fd[i], what, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w == (ssize_t)len)
        a->sent_head[i] = true;
      else if (w < 0 && errno != EAGAIN && errno != ENOTCONN &&
               errno != EWOULDBLOCK) {
        close(a->fd[i]);
        a->fd[i] = -1;
        continue;
      }
      held++;
    }
    atomic_store(&a->held, held);
    rein_test_sleep_ms(1000);
  }
  for (int i = 0; i < a->n; i++)
    if (a->fd[i] >= 0) close(a->fd[i]);
  return NULL;
}

typedef struct dribble {
  unsigned port;
  double closed_after; /* seconds; < 0 when never closed */
} dribble;

/* Sends its head one line every 500 ms from 127.0.0.3 and times how long
 * the ledger keeps the connection. */
static void *dribbler(void *arg) {
  dribble *d = arg;
  d->closed_after = -1;
  int fd = open_from("127.0.0.3", d->port);
  if (fd < 0) return NULL;
  struct pollfd p = {fd, POLLOUT, 0};
  poll(&p, 1, 2000);
  double t0 = now_s();
  send(fd, HEAD, sizeof HEAD - 1, MSG_NOSIGNAL);
  while (now_s() - t0 < REQUEST_TIMEOUT_S + 7) {
    rein_test_sleep_ms(500);
    if (peer_closed(fd) ||
        send(fd, LINE, sizeof LINE - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      d->closed_after = now_s() - t0;
      break;
    }
  }
  close(fd);
  return NULL;
}

static int healthz(unsigned port) {
  static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            "Connection: close\r\n\r\n";
  http_resp r;
  if (ledger_proc_raw(port, "127.0.0.1", req, sizeof req - 1, &r, 2000) != 0)
    return 0;
  return r.status == 200 && strstr(r.body, "\"ok\"") != NULL;
}

static void test_slowloris(void **state) {
  (void)state;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  int n = N_MAX;
  if (rl.rlim_cur < (rlim_t)N_MAX + 200) n = (int)rl.rlim_cur - 200;
  if (n < 100) skip();
  fprintf(stderr,
          "slowloris: %d sockets from 127.0.0.2 for %d s (RLIMIT_NOFILE "
          "%llu)%s\n",
          n, ATTACK_S, (unsigned long long)rl.rlim_cur,
          n <= 4096 ? "; fewer than the old 4096 global limit, so this run "
                      "cannot tell a global limit from a per-address one"
                    : "");
  char rt[16];
  snprintf(rt, sizeof rt, "%d", REQUEST_TIMEOUT_S);
  const char *args[] = {"--request-timeout-s", rt, "--quiet", NULL};
  ledger_proc_start(&g_live, LEDGER_BIN, "rein-ledger-slowloris", args);
  unsigned port = g_live.port;
  assert_true(healthz(port));

  attack a = {.port = port, .n = n};
  a.fd = malloc(sizeof *a.fd * (size_t)n);
  a.sent_head = calloc((size_t)n, sizeof *a.sent_head);
  assert_non_null(a.fd);
  assert_non_null(a.sent_head);
  for (int i = 0; i < n; i++)
    a.fd[i] = -1;
  pthread_t at, dt;
  pthread_create(&at, NULL, attacker, &a);
  rein_test_sleep_ms(2500); /* the attacker's sockets are open */
  dribble d = {port, -1};
  pthread_create(&dt, NULL, dribbler, &d);
  int polls = 0, ok = 0;
  double t0 = now_s();
  while (now_s() - t0 < ATTACK_S - 4) {
    polls++;
    ok += healthz(port);
    rein_test_sleep_ms(250);
  }
  int held = atomic_load(&a.held);
  pthread_join(dt, NULL);
  atomic_store(&a.stop, true);
  pthread_join(at, NULL);
  fprintf(stderr,
          "slowloris: attacker held %d sockets (%d connects); /healthz %d "
          "of %d; dribbling head closed after %.1f s (deadline %d s)\n",
          held, atomic_load(&a.reconnects), ok, polls, d.closed_after,
          REQUEST_TIMEOUT_S);
  free(a.fd);
  free(a.sent_head);
  /* Generous for a loaded machine: the old ledger answered none. */
  if (ok * 10 < polls * 8)
    fail_msg("/healthz answered %d of %d polls under slowloris", ok, polls);
  if (d.closed_after < 0)
    fail_msg("a head dribbled past the %d s deadline was not closed",
             REQUEST_TIMEOUT_S);
  assert_true(d.closed_after >= REQUEST_TIMEOUT_S - 1.0);
  assert_true(d.closed_after <= REQUEST_TIMEOUT_S + 3.0);
  /* After the attack: the ledger answers and stops cleanly. */
  assert_true(healthz(port));
  int st = ledger_proc_stop(&g_live);
  g_live.pid = 0;
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static int kill_leftover(void **state) {
  (void)state;
  ledger_proc_kill(&g_live);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LEDGER_BIN\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_slowloris, kill_leftover),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
