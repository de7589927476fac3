/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_store_loss.c: the ledger when its idempotency store dies.
 *
 * Starts a private redis-server (its own port and temp dir, no persistence:
 * killing it loses every key) and the ledger on it, then:
 *   1. charges once (201);
 *   2. kills redis-server with SIGKILL: the next POSTs get 503 (nothing
 *      charged, Retry-After), never a hang or a crash;
 *   3. restarts redis-server on the same port, empty: the ledger reconnects
 *      by itself and charges again;
 *   4. retries the first charge's key: the store has forgotten it, so the
 *      handler runs again, finds the charge by its UNIQUE (principal, key)
 *      and answers with the same charge: still exactly one charge per key.
 * A private server, not the shared one of scripts/services.sh, because the
 * test kills it. Labelled backend: it fails (does not skip) without
 * redis-server. Usage: test_ledger_store_loss LEDGER_BIN
 */
#include "ledger_proc.h"
#include "rein_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *LEDGER_BIN;
static char g_dir[64];
static pid_t g_redis;
static ledger_proc g_ledger;
static unsigned g_redis_port, g_port;

static unsigned free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t sl = sizeof sa;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd);
  return ntohs(sa.sin_port);
}

static bool can_connect(unsigned port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

static void start_redis(void) {
  char port[16], log[96];
  snprintf(port, sizeof port, "%u", g_redis_port);
  snprintf(log, sizeof log, "%s/redis.log", g_dir);
  const char *argv[] = {"redis-server", "--port", port,  "--bind",
                        "127.0.0.1",    "--save", "",    "--appendonly",
                        "no",           "--dir",  g_dir, NULL};
  g_redis = rein_test_spawn(argv, log);
  for (int i = 0; i < 500 && !can_connect(g_redis_port); i++) {
    int st;
    if (waitpid(g_redis, &st, WNOHANG) == g_redis)
      fail_msg("redis-server exited (is it installed? scripts/deps.sh); "
               "see %s",
               log);
    rein_test_sleep_ms(10);
  }
  if (!can_connect(g_redis_port)) fail_msg("redis-server did not start");
}

static void kill_redis(void) {
  if (g_redis > 0) {
    kill(g_redis, SIGKILL);
    waitpid(g_redis, NULL, 0);
    g_redis = 0;
  }
}

static void post(const char *key, const char *body, http_resp *r) {
  if (ledger_proc_post_charge(g_port, "alice", key, body, r, 10000) != 0)
    fail_msg("POST: cannot connect to the ledger on port %u", g_port);
}

static long charge_id(const http_resp *r) {
  const char *p = strstr(r->body, "\"id\":");
  if (!p) fail_msg("no id in %s", r->body);
  return strtol(p + 5, NULL, 10);
}

static const char B1[] = "{\"account\":\"acct_1\",\"amount_cents\":500}";
static const char B2[] = "{\"account\":\"acct_2\",\"amount_cents\":700}";

static void test_store_loss(void **state) {
  snprintf(g_dir, sizeof g_dir, "/tmp/rein-ledger-store.XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  g_redis_port = free_port();
  start_redis();
  char spec[64];
  snprintf(spec, sizeof spec, "redis:127.0.0.1:%u", g_redis_port);
  const char *extra[] = {"--store", spec, "--workers", "1", NULL};
  ledger_proc_start(&g_ledger, LEDGER_BIN, "rein-ledger-store", extra);
  g_port = g_ledger.port;

  http_resp r;
  post("k1", B1, &r);
  assert_int_equal(r.status, 201);
  long id1 = charge_id(&r);

  kill_redis();
  /* The connection is gone: 503 and nothing charged; the next one finds
   * the server still down while reconnecting: 503 again. */
  for (int i = 0; i < 2; i++) {
    post("k2", B2, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.headers, "Retry-After: 1"));
    assert_non_null(strstr(r.body, "store"));
  }

  start_redis(); /* same port, no data */
  post("k2", B2, &r);
  assert_int_equal(r.status, 201);
  long id2 = charge_id(&r);
  assert_true(id2 != id1);
  /* The store forgot k1; the ledger did not. */
  post("k1", B1, &r);
  assert_int_equal(r.status, 201);
  assert_null(strstr(r.headers, "Idempotent-Replayed"));
  assert_int_equal(charge_id(&r), id1);
  /* Now the store has it again: a true replay. */
  post("k1", B1, &r);
  assert_int_equal(r.status, 201);
  assert_non_null(strstr(r.headers, "Idempotent-Replayed: true"));
  assert_int_equal(charge_id(&r), id1);
  /* And another body under k1 is refused. */
  post("k1", B2, &r);
  assert_int_equal(r.status, 422);

  char cmd[160];
  snprintf(cmd, sizeof cmd, "grep -q 'connection lost' '%s/ledger.log'",
           g_ledger.dir);
  assert_int_equal(system(cmd), 0); /* the ledger logged the reconnect */
  int st = ledger_proc_stop(&g_ledger);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  kill_redis();
  ledger_proc_rmdir(g_dir);
}

static int cleanup(void **state) {
  (void)state;
  ledger_proc_kill(&g_ledger);
  kill_redis();
  ledger_proc_rmdir(g_dir);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s LEDGER_BIN\n", argv[0]);
    return 2;
  }
  LEDGER_BIN = argv[1];
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_store_loss, cleanup),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return rc;
}
