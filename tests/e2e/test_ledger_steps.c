/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_steps.c: a SIGKILL at every step of a keyed charge.
 *
 * examples/ledger with the SQLite store on its own file takes the
 * idempotency claim, writes the charge and stores the response in one
 * transaction when nothing runs between claim and charge (no --work-ms),
 * and in two (the claim first, as a lease others see as in progress)
 * with --work-ms. For each mode and each step the ledger names
 * (REIN_LEDGER_CRASH_AT: after the claim, after the charge row, after the
 * stored response, after the commit) this test starts the ledger on a
 * fresh database, sends one keyed charge, lets the ledger SIGKILL itself
 * at that step, and reads the database the dead process left:
 *
 *   - the charge and its stored response exist together or not at all
 *     (before the commit: neither; after it: both, the response naming the
 *     charge);
 *   - in one transaction nothing of the claim survives a crash before the
 *     commit either; in two, the claim survives as a lease.
 *
 * Then it restarts the ledger (no crash point) on the same file, retries
 * the same key and body until a 201 (a lease left by the two-transaction
 * mode ends after --lease-ms), retries once more, and checks one charge
 * row for the key, both answers naming it, the second a replay.
 *
 * Usage: test_ledger_steps LEDGER_BIN
 */
#include "ledger_proc.h"
#include "rein_test.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *LEDGER_BIN;

typedef struct run {
  char dir[64];
  pid_t pid;
  unsigned port;
} run;

/* Starts the ledger on DIR/ledger.db (port 0, a fresh port file) with
 * REIN_LEDGER_CRASH_AT=crash (NULL: none) and --work-ms work. */
static void start(run *r, const char *crash, int work_ms) {
  char db[96], pf[96], log[96], work[16];
  snprintf(db, sizeof db, "%s/ledger.db", r->dir);
  snprintf(pf, sizeof pf, "%s/port", r->dir);
  snprintf(log, sizeof log, "%s/ledger.log", r->dir);
  snprintf(work, sizeof work, "%d", work_ms);
  unlink(pf);
  const char *argv[] = {
      LEDGER_BIN,   "--port", "0",         "--port-file", pf,        "--db", db,
      "--lease-ms", "300",    "--work-ms", work,          "--quiet", NULL};
  if (crash)
    setenv("REIN_LEDGER_CRASH_AT", crash, 1);
  else
    unsetenv("REIN_LEDGER_CRASH_AT");
  r->pid = rein_test_spawn(argv, log);
  unsetenv("REIN_LEDGER_CRASH_AT");
  r->port = 0;
  for (int i = 0; i < 1000 && !r->port; i++) {
    FILE *f = fopen(pf, "r");
    if (f) {
      if (fscanf(f, "%u", &r->port) != 1) r->port = 0;
      fclose(f);
    }
    if (!r->port) rein_test_sleep_ms(5);
  }
  if (!r->port) {
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    fail_msg("ledger did not start; see %s", log);
  }
}

/* POST /charges with the key; status 0 when no answer came. */
static void post(const run *r, const char *key, const char *body,
                 http_resp *out) {
  ledger_proc_post_charge(r->port, "alice", key, body, out, 10000);
}

static long charge_id(const char *json) {
  const char *p = strstr(json, "\"id\":");
  if (!p) fail_msg("no charge id in %s", json);
  return strtol(p + 5, NULL, 10);
}

/* What the database holds for `key`: charge rows, and the idempotency
 * record's state (0 none, 1 leased, 3 completed) and stored body. */
typedef struct seen {
  int charges;
  int state;
  long charge; /* the charge row's id; 0 none */
  long stored; /* the id the stored response names; 0 none */
} seen;

static seen inspect(const run *r, const char *key) {
  seen s = {0, 0, 0, 0};
  char db[96];
  snprintf(db, sizeof db, "%s/ledger.db", r->dir);
  sqlite3 *h = NULL;
  if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    fail_msg("open %s: %s", db, sqlite3_errmsg(h));
  sqlite3_stmt *q = NULL;
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT count(*), max(id) FROM "
                                      "ledger_charges WHERE idem_key = ?1",
                                      -1, &q, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(q), SQLITE_ROW);
  s.charges = sqlite3_column_int(q, 0);
  s.charge = (long)sqlite3_column_int64(q, 1);
  sqlite3_finalize(q);
  int rc = sqlite3_prepare_v2(
      h, "SELECT state, body FROM rein_idem WHERE key = ?1", -1, &q, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_ROW) {
      s.state = sqlite3_column_int(q, 0);
      const char *b = (const char *)sqlite3_column_blob(q, 1);
      int n = sqlite3_column_bytes(q, 1);
      if (b && n > 0) {
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", n, b);
        s.stored = charge_id(buf);
      }
    }
    sqlite3_finalize(q);
  } /* else: no table yet, nothing claimed */
  sqlite3_close(h);
  return s;
}

static const char BODY[] = "{\"account\":\"acct_1\",\"amount_cents\":1250}";

static void one(const char *step, int work_ms) {
  bool one_tx = work_ms == 0;
  bool after_commit = strcmp(step, "committed") == 0;
  run r;
  /* a fresh temp dir (mkdtemp fills in the XXXXXX) */
  snprintf(r.dir, sizeof r.dir, "/tmp/rein-ledger-steps.XXXXXX");
  assert_non_null(mkdtemp(r.dir));
  char key[64];
  snprintf(key, sizeof key, "steps-%s-%d", step, work_ms);
  start(&r, step, work_ms);
  http_resp a;
  post(&r, key, BODY, &a);
  int st = 0;
  waitpid(r.pid, &st, 0);
  if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
    fail_msg("%s (%s): the ledger was to SIGKILL itself, got status 0x%x "
             "(answer %ld)",
             step, one_tx ? "one transaction" : "two", st, a.status);
  if (a.status != 0) fail_msg("%s: an answer came: %ld", step, a.status);
  seen s = inspect(&r, key);
  printf("%-9s %-15s after the crash: charges %d, record state %d, stored "
         "response names %ld\n",
         step, one_tx ? "one transaction" : "two", s.charges, s.state,
         s.stored);
  /* the charge and its stored response: together or not at all */
  if (after_commit) {
    assert_int_equal(s.charges, 1);
    assert_int_equal(s.state, 3);
    assert_int_equal(s.stored, s.charge);
  } else {
    assert_int_equal(s.charges, 0);
    assert_int_equal(s.stored, 0);
    /* the claim: gone with the transaction, or a lease of its own */
    assert_int_equal(s.state, one_tx ? 0 : 1);
  }
  /* The retry, on a restarted ledger: a 201 (after the lease, if one was
   * left), then a replay of it; one charge. */
  start(&r, NULL, work_ms);
  http_resp b;
  for (int i = 0; i < 50; i++) {
    post(&r, key, BODY, &b);
    if (b.status != 409) break;
    rein_test_sleep_ms(100); /* the lease of the killed attempt */
  }
  if (b.status != 201)
    fail_msg("%s: retry got %ld: %s", step, b.status, b.body);
  http_resp c;
  post(&r, key, BODY, &c);
  assert_int_equal(c.status, 201);
  assert_int_equal(charge_id(b.body), charge_id(c.body));
  if (!strstr(c.headers, "Idempotent-Replayed") &&
      !strstr(c.headers, "idempotent-replayed"))
    fail_msg("%s: the second retry was not a replay: %s", step, c.headers);
  kill(r.pid, SIGTERM);
  waitpid(r.pid, NULL, 0);
  s = inspect(&r, key);
  assert_int_equal(s.charges, 1);
  assert_int_equal(s.state, 3);
  assert_int_equal(s.stored, charge_id(b.body));
  if (after_commit) assert_int_equal(s.charge, charge_id(b.body));
  ledger_proc_rmdir(r.dir);
}

static void test_steps(void **state) {
  (void)state;
  static const char *const steps[] = {"claimed", "charged", "completed",
                                      "committed"};
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < 4; i++)
      one(steps[i], w ? 1 : 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_ledger_steps LEDGER_BIN\n");
    return 2;
  }
  LEDGER_BIN = argv[1];
  ledger_proc_auth_init();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_steps)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  return rc;
}
