/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_idem_sqlite_crash.c: a process SIGKILLed in the middle of SQLite
 * writes leaves the idempotency database consistent.
 *
 * A child runs begin/checkpoint/complete in a loop and reports each key on a
 * pipe only after complete() returned (the moment a client would have seen
 * the acknowledgement). The parent kills it with SIGKILL after a random
 * number of acknowledgements plus a random delay, so the kill lands inside
 * begin, checkpoint or complete. Afterwards: PRAGMA integrity_check is
 * "ok", every acknowledged key replays its exact response, the key in
 * flight is in some legal state, and a fresh begin works. Repeated several
 * times on one database. The seed is printed (REIN_TEST_SEED replays it).
 */
#include "rein_test.h"

#include "rein/idem.h"
#include "rein/rng.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEASE (5 * REIN_NS_PER_S)
#define RETAIN (3600 * REIN_NS_PER_S)

static char g_path[256];

static rein_idem_store *open_store(void) {
  rein_idem_sqlite_config sc;
  rein_idem_sqlite_config_default(&sc);
  sc.path = g_path;
  rein_idem_store *s = NULL;
  rein_errbuf err = {{0}};
  rein_idem_config c;
  rein_idem_config_default(&c);
  c.err = &err;
  if (rein_idem_sqlite_new(&c, &sc, &s) != REIN_OK)
    fail_msg("open %s: %s", g_path, err.msg);
  return s;
}

static void key_of(int round, int i, char *buf, size_t n) {
  snprintf(buf, n, "crash-%d-%d", round, i);
}

static void child(int round, int fd) {
  rein_idem_store *s = open_store();
  for (int i = 0; i < 200000; i++) {
    char key[48];
    key_of(round, i, key, sizeof key);
    uint8_t fp[32];
    rein_idem_fingerprint(key, strlen(key), fp);
    rein_idem_result r;
    if (rein_idem_begin(s, NULL, key, fp, LEASE, RETAIN, &r) != REIN_OK ||
        r.outcome != REIN_IDEM_NEW)
      _exit(3);
    if (rein_idem_checkpoint(s, &r.token, "charged", 0) != REIN_OK) _exit(4);
    rein_idem_response resp = {201, "K: v\r\n", 6, key, strlen(key)};
    if (rein_idem_complete(s, &r.token, &resp, NULL) != REIN_OK) _exit(5);
    if (write(fd, &i, sizeof i) != sizeof i) _exit(6);
  }
  _exit(0);
}

static void test_sigkill_mid_write(void **state) {
  (void)state;
  snprintf(g_path, sizeof g_path, "/tmp/rein-idem-crash-%d.db", (int)getpid());
  rein_idem_store_free(open_store()); /* create the table */
  rein_rng rng;
  rein_rng_seed(&rng, rein_test_seed());
  for (int round = 0; round < 8; round++) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      child(round, p[1]);
    }
    close(p[1]);
    int want = (int)rein_rng_range(&rng, 1, 60), got = 0, last = -1, v;
    while (got < want && read(p[0], &v, sizeof v) == sizeof v) {
      last = v;
      got++;
    }
    usleep((useconds_t)rein_rng_range(&rng, 0, 3000));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status))
      fail_msg("round %d: child exited %d before the kill", round,
               WEXITSTATUS(status));
    while (read(p[0], &v, sizeof v) == sizeof v) last = v;
    close(p[0]);

    sqlite3 *db;
    assert_int_equal(sqlite3_open(g_path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q,
                                        NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);

    rein_idem_store *s = open_store();
    for (int i = 0; i <= last + 1; i++) {
      char key[48];
      key_of(round, i, key, sizeof key);
      uint8_t fp[32];
      rein_idem_fingerprint(key, strlen(key), fp);
      rein_idem_result r;
      rein_status st = rein_idem_begin(s, NULL, key, fp, LEASE, RETAIN, &r);
      if (st != REIN_OK)
        fail_msg("round %d key %s: %s: %s", round, key, rein_status_name(st),
                 rein_idem_store_errmsg(s));
      if (i <= last) {
        /* acknowledged: must replay exactly */
        if (r.outcome != REIN_IDEM_REPLAY)
          fail_msg("round %d: acknowledged key %s came back %s", round, key,
                   rein_idem_outcome_name(r.outcome));
        assert_int_equal(r.response.status, 201);
        assert_int_equal(r.response.body_len, strlen(key));
        assert_memory_equal(r.response.body, key, strlen(key));
      } else {
        /* in flight at the kill: absent (NEW), leased or completed */
        assert_true(r.outcome == REIN_IDEM_NEW ||
                    r.outcome == REIN_IDEM_IN_PROGRESS ||
                    r.outcome == REIN_IDEM_REPLAY);
      }
      rein_idem_result_clear(&r);
    }
    rein_idem_store_free(s);
    fprintf(stderr, "round %d: killed after %d acknowledged charges\n", round,
            last + 1);
  }
  char p[300];
  unlink(g_path);
  snprintf(p, sizeof p, "%s-wal", g_path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", g_path);
  unlink(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigkill_mid_write),
  };
  return cmocka_run_group_tests_name("idem_sqlite_crash", tests, NULL, NULL);
}
