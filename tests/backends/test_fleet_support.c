/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet_support.c: helpers shared by the fleet backend tests: a direct
 * hiredis connection to the test Redis (to look at the keys the scripts
 * write), unique fleet names per run, free loopback ports, and a private
 * redis-server the failover test can kill and restart. Each test file
 * declares the prototypes it uses (the block below is copied there).
 *
 *   redisContext *tf_redis(int port);      port 0 = REIN_REDIS_PORT
 *   long long tf_int(redisContext *c, const char *fmt, ...);
 *   void tf_name(char *buf, size_t n, const char *base);
 *   int tf_free_port(void);
 *   pid_t tf_redis_start(int port, char *dir, size_t n);
 *   pid_t tf_redis_start_auth(int port, char *dir, size_t n,
 *                             const char *password);
 *   void tf_redis_kill(pid_t pid, const char *dir);
 *   int64_t tf_now(void);
 *   void tf_sleep_ms(int64_t ms);
 */
#include "rein_test.h"

#include "rein/clock.h"

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

redisContext *tf_redis(int port);
long long tf_int(redisContext *c, const char *fmt, ...);
void tf_name(char *buf, size_t n, const char *base);
int tf_free_port(void);
pid_t tf_redis_start(int port, char *dir, size_t n);
pid_t tf_redis_start_auth(int port, char *dir, size_t n, const char *password);
void tf_redis_kill(pid_t pid, const char *dir);
int64_t tf_now(void);
void tf_sleep_ms(int64_t ms);

redisContext *tf_redis(int port) {
  const char *host = port ? "127.0.0.1" : rein_test_redis_host();
  if (!port) port = rein_test_redis_port();
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  if (!c || c->err)
    fail_msg("cannot connect to Redis at %s:%d: %s", host, port,
             c ? c->errstr : "out of memory");
  return c;
}

/* Runs a command; returns its integer reply (or a string reply parsed as an
 * integer, or -1 for nil; -2 for an OK status). Fails the test on error. */
long long tf_int(redisContext *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *r = redisvCommand(c, fmt, ap);
  va_end(ap);
  if (!r) fail_msg("redis command \"%s\" failed: %s", fmt, c->errstr);
  long long v;
  switch (r->type) {
  case REDIS_REPLY_INTEGER:
    v = r->integer;
    break;
  case REDIS_REPLY_STRING:
    v = strtoll(r->str, NULL, 10);
    break;
  case REDIS_REPLY_NIL:
    v = -1;
    break;
  case REDIS_REPLY_STATUS:
    v = -2;
    break;
  default:
    fail_msg("redis command \"%s\": unexpected reply (%s)", fmt,
             r->type == REDIS_REPLY_ERROR ? r->str : "?");
    v = 0;
  }
  freeReplyObject(r);
  return v;
}

void tf_name(char *buf, size_t n, const char *base) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(buf, n, "%s-%ld-%ld%09ld", base, (long)getpid(), (long)ts.tv_sec,
           ts.tv_nsec);
}

int tf_free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

int64_t tf_now(void) {
  rein_clock c = rein_clock_monotonic();
  return rein_clock_now(&c);
}

void tf_sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Answers at all (a NOAUTH error counts: the server is up). */
static bool pings(int port) {
  struct timeval tv = {0, 200000};
  redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c && !c->err) {
    redisReply *r = redisCommand(c, "PING");
    ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return ok;
}

/* Starts redis-server on 127.0.0.1:port, nothing persisted, in a temp dir
 * (created when dir[0] is 0, reused otherwise); waits until it answers. */
pid_t tf_redis_start(int port, char *dir, size_t n) {
  return tf_redis_start_auth(port, dir, n, NULL);
}

/* Same, with --requirepass when `password` is not NULL. */
pid_t tf_redis_start_auth(int port, char *dir, size_t n, const char *password) {
  if (!dir[0]) {
    snprintf(dir, n, "/tmp/rein-fleet-redis-XXXXXX");
    if (!mkdtemp(dir)) fail_msg("mkdtemp failed");
  }
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Keep the test's stdout/stderr pipes free: a server outliving a
     * failed test must not hold them open. */
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
      dup2(nul, 0);
      dup2(nul, 1);
      dup2(nul, 2);
      if (nul > 2) close(nul);
    }
    char log[300];
    snprintf(log, sizeof log, "%s/redis.log", dir);
    if (password)
      execlp("redis-server", "redis-server", "--port", ports, "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
             "--logfile", log, "--requirepass", password, (char *)NULL);
    else
      execlp("redis-server", "redis-server", "--port", ports, "--bind",
             "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
             "--logfile", log, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    if (pings(port)) return pid;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
      fail_msg("redis-server exited at start (see %s/redis.log)", dir);
    tf_sleep_ms(10);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  fail_msg("redis-server on port %d did not answer in 2 s", port);
  return -1;
}

void tf_redis_kill(pid_t pid, const char *dir) {
  if (pid > 0) {
    kill(pid, SIGCONT);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
  }
  if (dir && dir[0]) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
    }
  }
}
