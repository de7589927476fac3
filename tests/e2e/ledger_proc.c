/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_proc.c: start and stop examples/ledger for e2e tests, and the
 * shared libcurl callbacks (contract in ledger_proc.h).
 */
#include "ledger_proc.h"

#include "ledger_auth.h"
#include "rein_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void rein_test_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

void ledger_proc_rmdir(const char *dir) {
  if (!dir[0]) return;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

pid_t rein_test_spawn(const char *const *argv, const char *log) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execvp(argv[0], (char *const *)argv);
    _exit(127);
  }
  return pid;
}

void ledger_proc_auth_init(void) {
  setenv(LEDGER_AUTH_KEY_ENV, LEDGER_PROC_KEY, 1);
}

char *ledger_proc_token(const char *principal, char *buf, size_t cap) {
  ledger_key k;
  memset(&k, 0, sizeof k);
  memcpy(k.k, LEDGER_PROC_KEY, sizeof LEDGER_PROC_KEY - 1);
  k.len = sizeof LEDGER_PROC_KEY - 1;
  if (!ledger_auth_mint(&k, principal, buf, cap))
    fail_msg("cannot mint a token for principal '%s'", principal);
  return buf;
}

char *ledger_proc_auth_header(const char *principal, char *buf, size_t cap) {
  char tok[LEDGER_TOKEN_MAX + 1];
  ledger_proc_token(principal, tok, sizeof tok);
  snprintf(buf, cap, "Authorization: Bearer %s", tok);
  return buf;
}

void ledger_proc_start(ledger_proc *lp, const char *bin, const char *tag,
                       const char *const *extra) {
  ledger_proc_auth_init();
  memset(lp, 0, sizeof *lp);
  snprintf(lp->dir, sizeof lp->dir, "/tmp/%s.XXXXXX", tag);
  assert_non_null(mkdtemp(lp->dir));
  char db[96], pf[96], log[96];
  snprintf(db, sizeof db, "%s/ledger.db", lp->dir);
  snprintf(pf, sizeof pf, "%s/port", lp->dir);
  snprintf(log, sizeof log, "%s/ledger.log", lp->dir);
  const char *argv[40];
  int a = 0;
  argv[a++] = bin;
  argv[a++] = "--port";
  argv[a++] = "0";
  argv[a++] = "--port-file";
  argv[a++] = pf;
  argv[a++] = "--db";
  argv[a++] = db;
  for (int i = 0; extra && extra[i] && a < 39; i++)
    argv[a++] = extra[i];
  argv[a] = NULL;
  pid_t pid = rein_test_spawn(argv, log);
  lp->pid = pid;
  for (int i = 0; i < 1000 && !lp->port; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      if (fscanf(f, "%u", &lp->port) != 1) lp->port = 0;
      fclose(f);
    }
    if (!lp->port) rein_test_sleep_ms(5);
  }
  if (!lp->port) {
    /* leave no process behind; keep the dir for its log */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    lp->pid = 0;
    lp->dir[0] = '\0'; /* not removed by ledger_proc_kill/stop */
    fail_msg("ledger did not start; see %s", log);
  }
}

int ledger_proc_stop(ledger_proc *lp) {
  int st = 0;
  if (lp->pid > 0) {
    kill(lp->pid, SIGTERM);
    waitpid(lp->pid, &st, 0);
    lp->pid = 0;
  }
  ledger_proc_rmdir(lp->dir);
  lp->dir[0] = '\0';
  return st;
}

void ledger_proc_kill(ledger_proc *lp) {
  if (lp->pid > 0) {
    kill(lp->pid, SIGKILL);
    waitpid(lp->pid, NULL, 0);
    lp->pid = 0;
  }
  ledger_proc_rmdir(lp->dir);
  lp->dir[0] = '\0';
}

static size_t append(char *buf, size_t cap, size_t *len, const char *p,
                     size_t k) {
  size_t room = cap - 1 - *len, c = k < room ? k : room;
  memcpy(buf + *len, p, c);
  *len += c;
  buf[*len] = '\0';
  return k;
}

int ledger_proc_post_charge(unsigned port, const char *principal,
                            const char *key, const char *body, http_resp *r,
                            int timeout_ms) {
  char auth[200], kh[160] = "", req[4096];
  if (key) snprintf(kh, sizeof kh, "Idempotency-Key: \"%s\"\r\n", key);
  int n = snprintf(req, sizeof req,
                   "POST /charges HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n%s"
                   "Content-Type: application/json\r\nContent-Length: "
                   "%zu\r\nConnection: close\r\n\r\n%s",
                   ledger_proc_auth_header(principal, auth, sizeof auth), kh,
                   strlen(body), body);
  if (n < 0 || (size_t)n >= sizeof req) fail_msg("charge request too long");
  return ledger_proc_raw(port, NULL, req, (size_t)n, r, timeout_ms);
}

size_t http_resp_on_body(char *p, size_t sz, size_t n, void *ud) {
  http_resp *r = ud;
  return append(r->body, sizeof r->body, &r->body_len, p, sz * n);
}

size_t http_resp_on_header(char *p, size_t sz, size_t n, void *ud) {
  http_resp *r = ud;
  return append(r->headers, sizeof r->headers, &r->hdr_len, p, sz * n);
}

int ledger_proc_raw(unsigned port, const char *src, const char *req, size_t len,
                    http_resp *r, int timeout_ms) {
  memset(r, 0, sizeof *r);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  if (src) {
    inet_pton(AF_INET, src, &sa.sin_addr);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      close(fd);
      return -1;
    }
  }
  sa.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    off += (size_t)w;
  }
  char buf[sizeof r->headers + sizeof r->body];
  size_t n = 0;
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long left = timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 +
                              (t.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0 || n == sizeof buf) break;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)left) <= 0) break;
    ssize_t k = recv(fd, buf + n, sizeof buf - n, 0);
    if (k <= 0) break;
    n += (size_t)k;
  }
  close(fd);
  size_t hl = 0;
  while (hl + 3 < n && memcmp(buf + hl, "\r\n\r\n", 4) != 0)
    hl++;
  if (hl + 3 >= n) hl = n;
  r->hdr_len = hl < sizeof r->headers - 1 ? hl : sizeof r->headers - 1;
  memcpy(r->headers, buf, r->hdr_len);
  r->headers[r->hdr_len] = '\0';
  if (hl + 4 <= n) {
    r->body_len = n - hl - 4;
    if (r->body_len > sizeof r->body - 1) r->body_len = sizeof r->body - 1;
    memcpy(r->body, buf + hl + 4, r->body_len);
  }
  r->body[r->body_len] = '\0';
  if (!strncmp(r->headers, "HTTP/1.", 7) && r->hdr_len > 12)
    r->status = strtol(r->headers + 9, NULL, 10);
  return 0;
}
