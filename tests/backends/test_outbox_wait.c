/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_outbox_wait.c: the push-driven outbox relay (rein_outbox_wait) on a
 * real PostgreSQL (REIN_PG_DSN from scripts/services.sh) and on SQLite.
 *
 * The producer is a forked child with its own inbox and connection, so the
 * relay in the parent is really blocked in rein_outbox_wait when the
 * intent commits (no threads: the child only uses what it opened itself
 * and leaves with _exit). The child reports the CLOCK_MONOTONIC time of
 * its COMMIT through a pipe (the after_commit hook), so the test measures
 * commit-to-wake-up. Each wait runs with a long max_wait, so a missing
 * notification shows up as a timeout, not as a slow pass: a committed
 * intent must wake the relay within 1 s of a 10 s bound, a rolled-back one
 * must not wake it at all, an idle wait must last its bound without
 * spinning (CPU time checked), a terminated listener must be replaced and
 * the relay woken by the next intent, and a listener that cannot connect
 * must degrade to a timed sleep with REIN_ECLOSED. The wait's decision
 * (rein__outbox_wait_decide) is also checked on its own, state by state.
 */
#include "rein_test.h"

#include "rein/inbox.h"
#include "inbox/inbox_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char SECRET[] = "0123456789abcdef0123456789abcdef";
static int g_serial;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static int64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * REIN_NS_PER_S +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void pg_exec(const char *dsn, const char *sql) {
  PGconn *c = PQconnectdb(dsn);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    fail_msg("%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
}

static long long pg_int(const char *dsn, const char *sql) {
  PGconn *c = PQconnectdb(dsn);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *r = PQexec(c, sql);
  long long v = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

/* ---- fixture ----------------------------------------------------------- */

typedef struct fx {
  char schema[64];
  char dsn[768];
  rein_inbox *relay;
  rein_errbuf err;
} fx;

static void base_config(rein_inbox_config *c, const char *dsn,
                        rein_errbuf *err) {
  rein_inbox_config_default(c);
  c->pg_conninfo = dsn;
  c->outbox_secret = SECRET;
  c->outbox_secret_len = strlen(SECRET);
  c->err = err;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  snprintf(f->schema, sizeof f->schema, "rein_test_ow_%d_%d", (int)getpid(),
           ++g_serial);
  char sql[200];
  snprintf(sql, sizeof sql,
           "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", f->schema,
           f->schema);
  pg_exec(rein_test_pg_dsn(), sql);
  snprintf(f->dsn, sizeof f->dsn, "%s options='-csearch_path=%s'",
           rein_test_pg_dsn(), f->schema);
  rein_inbox_config c;
  base_config(&c, f->dsn, &f->err);
  if (rein_inbox_pg_new(&c, &f->relay) != REIN_OK)
    fail_msg("relay inbox: %s", f->err.msg);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  rein_inbox_free(f->relay);
  char sql[128];
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", f->schema);
  pg_exec(rein_test_pg_dsn(), sql);
  free(f);
  return 0;
}

/* ---- the producer: a forked child with its own inbox ------------------- */

typedef struct child_ctx {
  bool fail; /* the handler fails after adding the intent: rollback */
  int fd;    /* the pipe to the parent */
} child_ctx;

static rein_status child_handler(void *ctx, rein_inbox_tx *tx,
                                 const rein_broker_msg *m, char *err,
                                 size_t cap) {
  child_ctx *cc = ctx;
  rein_status st =
      rein_inbox_tx_outbox(tx, "charge", "http://127.0.0.1:9/c", "{}", 2, NULL);
  if (st != REIN_OK) return st;
  if (cc->fail) {
    snprintf(err, cap, "declined for %s", m->key);
    return REIN_EBACKEND;
  }
  return REIN_OK;
}

static void child_after_commit(void *ctx, const rein_broker_msg *m) {
  (void)m;
  child_ctx *cc = ctx;
  int64_t t = mono_ns();
  if (write(cc->fd, &t, sizeof t) != sizeof t) _exit(5);
}

/* Runs in the child: open an inbox, wait `delay_ms` (so the parent is
 * blocked in the wait by then), process one message whose handler adds
 * an intent, and leave. Exit codes say what went wrong. */
static bool g_child_quiet; /* the producer's outbox_notify = false */

static void child_main(const char *dsn, const char *key, bool fail, int fd,
                       int delay_ms) {
  child_ctx cc = {fail, fd};
  rein_errbuf err = {{0}};
  rein_inbox_config c;
  base_config(&c, dsn, &err);
  c.handler = child_handler;
  c.handler_ctx = &cc;
  c.hooks.after_commit = child_after_commit;
  c.hooks.ctx = &cc;
  c.log = NULL;
  c.outbox_notify = !g_child_quiet;
  rein_inbox *ib = NULL;
  if (rein_inbox_pg_new(&c, &ib) != REIN_OK) _exit(2);
  usleep((useconds_t)delay_ms * 1000);
  rein_broker_msg m = {"1-0", key, "{}", 2, 1, -1};
  rein_inbox_verdict v;
  rein_status st = rein_inbox_process(ib, &m, &v);
  if (st != REIN_OK) _exit(3);
  if (v != (fail ? REIN_INBOX_FAILED : REIN_INBOX_PROCESSED)) _exit(4);
  if (fail) {
    int64_t t = mono_ns(); /* the rollback is done */
    if (write(fd, &t, sizeof t) != sizeof t) _exit(5);
  }
  rein_inbox_free(ib);
  _exit(0);
}

typedef struct producer {
  pid_t pid;
  int fd; /* read end */
} producer;

static producer produce(const fx *f, const char *key, bool fail, int delay_ms) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    child_main(f->dsn, key, fail, p[1], delay_ms);
  }
  close(p[1]);
  producer pr = {pid, p[0]};
  return pr;
}

/* Reaps the child and returns the time it reported. */
static int64_t produced(producer pr) {
  int64_t t = 0;
  ssize_t n = read(pr.fd, &t, sizeof t);
  close(pr.fd);
  int status = 0;
  assert_int_equal(waitpid(pr.pid, &status, 0), pr.pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("producer child failed (status %d)", status);
  assert_int_equal(n, (ssize_t)sizeof t);
  return t;
}

/* ---- a deliverer that counts ------------------------------------------- */

static void count_deliver(void *ctx, const rein_outbox_item *it,
                          const rein_decision *attempt, rein_outcome *out,
                          char *err, size_t cap) {
  (void)it;
  (void)attempt;
  (void)err;
  (void)cap;
  (*(int *)ctx)++;
  out->kind = REIN_OUTCOME_SUCCESS;
}

static int relay_round(rein_inbox *ib) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  rein_policy *pol = NULL;
  assert_int_equal(rein_policy_new(&pc, &pol), REIN_OK);
  int n = 0;
  rein_outbox_stats s = {0};
  assert_int_equal(rein_outbox_relay(ib, pol, count_deliver, &n, NULL, 10, &s),
                   REIN_OK);
  rein_policy_free(pol);
  assert_int_equal((int)s.delivered, n);
  return n;
}

/* The first wait LISTENs and returns at once with LISTEN. */
static void listen_first(rein_inbox *ib) {
  rein_outbox_wake why = REIN_OUTBOX_WAKE_TIMEOUT;
  int64_t t0 = mono_ns();
  assert_int_equal(rein_outbox_wait(ib, 10 * REIN_NS_PER_S, &why), REIN_OK);
  assert_int_equal(why, REIN_OUTBOX_WAKE_LISTEN);
  assert_true(mono_ns() - t0 < REIN_NS_PER_S);
}

/* ---- the decision, without I/O ------------------------------------------ */

/* rein__outbox_wait_decide, state by state: the order is the contract
 * (a drained notification beats everything; a fresh LISTEN returns before
 * any block; one connect per call; no listener means a plain sleep; the
 * deadline ends it). */
static void test_decide_table(void **state) {
  (void)state;
  typedef rein__outbox_wait_state S;
  const int64_t L = 5 * REIN_NS_PER_S;
  struct {
    S s;
    rein__outbox_wait_step step;
    rein_outbox_wake why; /* for RETURN */
    int64_t block;
  } rows[] = {
      /* first call: connect, then LISTEN, then return LISTEN */
      {{false, false, false, false, 0, L}, REIN__WAIT_CONNECT, 0, 0},
      {{true, false, false, false, 0, L}, REIN__WAIT_LISTEN, 0, 0},
      {{true, true, true, false, 0, L},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_LISTEN,
       0},
      /* listening: block on the socket for the time left */
      {{true, true, false, false, 0, L}, REIN__WAIT_POLL, 0, L},
      {{true, true, false, false, 3, L},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_NOTIFY,
       0},
      /* a notification beats a LISTEN made in the same call, and the
       * deadline */
      {{true, true, true, false, 1, 0},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_NOTIFY,
       0},
      {{true, true, false, false, 0, 0},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_TIMEOUT,
       0},
      {{true, true, false, false, 0, -7},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_TIMEOUT,
       0},
      /* lost and the reconnect failed in this call: sleep, never retry
       * in a loop */
      {{false, false, false, true, 0, L}, REIN__WAIT_SLEEP, 0, L},
      {{false, false, false, true, 0, 0},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_TIMEOUT,
       0},
      /* no time left: do not start a connect */
      {{false, false, false, false, 0, 0},
       REIN__WAIT_RETURN,
       REIN_OUTBOX_WAKE_TIMEOUT,
       0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t block = -1;
    rein_outbox_wake why = (rein_outbox_wake)99;
    rein__outbox_wait_step st =
        rein__outbox_wait_decide(&rows[i].s, &block, &why);
    if (st != rows[i].step || block != rows[i].block ||
        (st == REIN__WAIT_RETURN && why != rows[i].why))
      fail_msg("row %zu: step %d block %lld why %d, want %d %lld %d", i,
               (int)st, (long long)block, (int)why, (int)rows[i].step,
               (long long)rows[i].block, (int)rows[i].why);
  }
}

/* ---- tests ------------------------------------------------------------- */

static void test_channel_name(void **state) {
  fx *f = *state;
  char want[128];
  snprintf(want, sizeof want, "rein_outbox.%s", f->schema);
  assert_string_equal(rein_outbox_channel(f->relay), want);
  assert_string_equal(rein_outbox_wake_name(REIN_OUTBOX_WAKE_NOTIFY), "notify");
  rein_outbox_wake why;
  assert_int_equal(rein_outbox_wait(NULL, 0, &why), REIN_EINVAL);
  assert_int_equal(rein_outbox_wait(f->relay, -1, &why), REIN_EINVAL);
  assert_int_equal(rein_outbox_wait(f->relay, 0, NULL), REIN_EINVAL);
  assert_int_equal(rein_outbox_wait(f->relay, 3601 * REIN_NS_PER_S, &why),
                   REIN_EINVAL);
  /* max_wait 0 before any listener: returns at once, opens nothing */
  assert_int_equal(rein_outbox_wait(f->relay, 0, &why), REIN_OK);
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
}

/* A committed intent from another connection wakes a blocked relay within
 * milliseconds (asserted under 1 s of a 10 s bound) and is then there for
 * the round to deliver. */
static void test_commit_wakes(void **state) {
  fx *f = *state;
  listen_first(f->relay);
  rein_outbox_wake why = REIN_OUTBOX_WAKE_LISTEN;
  assert_int_equal(rein_outbox_wait(f->relay, 0, &why), REIN_OK);
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  for (int round = 0; round < 3; round++) {
    char key[32];
    snprintf(key, sizeof key, "pay-%d", round);
    producer pr = produce(f, key, false, 300);
    int64_t t0 = mono_ns();
    assert_int_equal(rein_outbox_wait(f->relay, 10 * REIN_NS_PER_S, &why),
                     REIN_OK);
    int64_t woke = mono_ns();
    int64_t committed = produced(pr);
    assert_int_equal(why, REIN_OUTBOX_WAKE_NOTIFY);
    int64_t lat = woke - committed;
    fprintf(stderr, "  commit -> wake-up: %.3f ms (blocked %.1f ms)\n",
            lat / 1e6, (woke - t0) / 1e6);
    assert_true(woke - t0 > 100 * REIN_NS_PER_MS); /* it really blocked */
    assert_true(lat < REIN_NS_PER_S);
    assert_int_equal(relay_round(f->relay), 1);
    /* the notification was drained: nothing left to wake on */
    assert_int_equal(rein_outbox_wait(f->relay, 0, &why), REIN_OK);
    assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  }
}

/* An intent whose transaction rolls back sends nothing: the wait runs to
 * its bound, and there is nothing to deliver. */
static void test_rollback_silent(void **state) {
  fx *f = *state;
  listen_first(f->relay);
  producer pr = produce(f, "pay-rb", true, 100);
  rein_outbox_wake why = REIN_OUTBOX_WAKE_NOTIFY;
  int64_t t0 = mono_ns();
  assert_int_equal(rein_outbox_wait(f->relay, 1500 * REIN_NS_PER_MS, &why),
                   REIN_OK);
  int64_t took = mono_ns() - t0;
  int64_t rolled_back = produced(pr);
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  assert_true(rolled_back - t0 < 1400 * REIN_NS_PER_MS); /* within the wait */
  assert_true(took >= 1500 * REIN_NS_PER_MS);
  assert_int_equal(relay_round(f->relay), 0);
  rein_inbox_counts n;
  assert_int_equal(rein_inbox_counts_get(f->relay, &n), REIN_OK);
  assert_int_equal(n.outbox_pending, 0);
}

/* A producer with outbox_notify false commits its intent without a NOTIFY:
 * the waiting relay runs to its bound (the polling fallback) and the next
 * round delivers the intent. */
static void test_notify_off(void **state) {
  fx *f = *state;
  listen_first(f->relay);
  g_child_quiet = true;
  producer pr = produce(f, "pay-quiet", false, 100);
  g_child_quiet = false;
  rein_outbox_wake why = REIN_OUTBOX_WAKE_NOTIFY;
  int64_t t0 = mono_ns();
  assert_int_equal(rein_outbox_wait(f->relay, 1500 * REIN_NS_PER_MS, &why),
                   REIN_OK);
  int64_t took = mono_ns() - t0;
  int64_t committed = produced(pr);
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  assert_true(committed - t0 < 1400 * REIN_NS_PER_MS); /* within the wait */
  assert_true(took >= 1500 * REIN_NS_PER_MS);
  assert_int_equal(relay_round(f->relay), 1);
}

/* Nothing to do: the wait lasts max_wait and burns no CPU doing it. */
static void test_idle_timeout(void **state) {
  fx *f = *state;
  listen_first(f->relay);
  rein_outbox_wake why = REIN_OUTBOX_WAKE_NOTIFY;
  int64_t t0 = mono_ns(), c0 = cpu_ns();
  assert_int_equal(rein_outbox_wait(f->relay, 1000 * REIN_NS_PER_MS, &why),
                   REIN_OK);
  int64_t took = mono_ns() - t0, cpu = cpu_ns() - c0;
  fprintf(stderr, "  idle wait: %.1f ms, CPU %.3f ms\n", took / 1e6, cpu / 1e6);
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  assert_true(took >= 1000 * REIN_NS_PER_MS);
  assert_true(took < 1500 * REIN_NS_PER_MS);
  assert_true(cpu < 50 * REIN_NS_PER_MS);
}

static int listener_pid(const fx *f) {
  char sql[300];
  snprintf(sql, sizeof sql,
           "SELECT pid FROM pg_stat_activity WHERE query = "
           "'LISTEN \"rein_outbox.%s\"'",
           f->schema);
  return (int)pg_int(rein_test_pg_dsn(), sql);
}

/* The listening backend is terminated: the next wait opens a new listener
 * and says LISTEN (intents may have been missed), and the next committed
 * intent wakes the relay as before. */
static void test_listener_terminated(void **state) {
  fx *f = *state;
  listen_first(f->relay);
  int pid = listener_pid(f);
  assert_true(pid > 0);
  assert_int_not_equal(pid, PQbackendPID(rein_inbox_pg(f->relay)));
  char sql[80];
  snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", pid);
  pg_exec(rein_test_pg_dsn(), sql);
  rein_outbox_wake why = REIN_OUTBOX_WAKE_TIMEOUT;
  int64_t t0 = mono_ns();
  assert_int_equal(rein_outbox_wait(f->relay, 10 * REIN_NS_PER_S, &why),
                   REIN_OK);
  assert_int_equal(why, REIN_OUTBOX_WAKE_LISTEN);
  assert_true(mono_ns() - t0 < 2 * REIN_NS_PER_S);
  int pid2 = listener_pid(f);
  assert_true(pid2 > 0);
  assert_int_not_equal(pid2, pid);
  producer pr = produce(f, "pay-after", false, 300);
  assert_int_equal(rein_outbox_wait(f->relay, 10 * REIN_NS_PER_S, &why),
                   REIN_OK);
  int64_t woke = mono_ns();
  int64_t committed = produced(pr);
  assert_int_equal(why, REIN_OUTBOX_WAKE_NOTIFY);
  assert_true(woke - committed < REIN_NS_PER_S);
  assert_int_equal(relay_round(f->relay), 1);
}

/* A listener that cannot connect (the role may hold one connection, the
 * inbox's): the wait sleeps out its bound, returns REIN_ECLOSED with the
 * server's words, and does not spin. */
static void test_listener_refused(void **state) {
  fx *f = *state;
  char role[64], schema[80], sql[600], dsn[900];
  snprintf(role, sizeof role, "rein_ow_role_%d", (int)getpid());
  snprintf(schema, sizeof schema, "%s_r", f->schema);
  snprintf(sql, sizeof sql,
           "DROP SCHEMA IF EXISTS %s CASCADE; DROP ROLE IF EXISTS %s; "
           "CREATE ROLE %s LOGIN CONNECTION LIMIT 1; "
           "CREATE SCHEMA %s AUTHORIZATION %s",
           schema, role, role, schema, role);
  pg_exec(rein_test_pg_dsn(), sql);
  snprintf(dsn, sizeof dsn, "%s user=%s options='-csearch_path=%s'",
           rein_test_pg_dsn(), role, schema);
  rein_inbox_config c;
  rein_errbuf err = {{0}};
  base_config(&c, dsn, &err);
  rein_inbox *ib = NULL;
  if (rein_inbox_pg_new(&c, &ib) != REIN_OK) fail_msg("inbox: %s", err.msg);
  rein_outbox_wake why = REIN_OUTBOX_WAKE_NOTIFY;
  for (int i = 0; i < 2; i++) {
    int64_t t0 = mono_ns(), c0 = cpu_ns();
    rein_status st = rein_outbox_wait(ib, 500 * REIN_NS_PER_MS, &why);
    int64_t took = mono_ns() - t0, cpu = cpu_ns() - c0;
    assert_int_equal(st, REIN_ECLOSED);
    assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
    assert_non_null(strstr(rein_inbox_errmsg(ib), "outbox listener"));
    assert_true(took >= 500 * REIN_NS_PER_MS);
    assert_true(took < 1500 * REIN_NS_PER_MS);
    assert_true(cpu < 50 * REIN_NS_PER_MS);
  }
  fprintf(stderr, "  refused listener: %s\n", rein_inbox_errmsg(ib));
  rein_inbox_free(ib);
  snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE; DROP ROLE %s", schema,
           role);
  pg_exec(rein_test_pg_dsn(), sql);
}

/* SQLite cannot announce: the wait sleeps its bound. */
static void test_sqlite_sleeps(void **state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof path, "/tmp/rein-test-ow-%d.db", (int)getpid());
  unlink(path);
  rein_inbox_config c;
  rein_errbuf err = {{0}};
  base_config(&c, NULL, &err);
  c.pg_conninfo = NULL;
  c.sqlite_path = path;
  rein_inbox *ib = NULL;
  assert_int_equal(rein_inbox_sqlite_new(&c, &ib), REIN_OK);
  assert_string_equal(rein_outbox_channel(ib), "");
  rein_outbox_wake why = REIN_OUTBOX_WAKE_NOTIFY;
  int64_t t0 = mono_ns();
  assert_int_equal(rein_outbox_wait(ib, 200 * REIN_NS_PER_MS, &why), REIN_OK);
  int64_t took = mono_ns() - t0;
  assert_int_equal(why, REIN_OUTBOX_WAKE_TIMEOUT);
  assert_true(took >= 200 * REIN_NS_PER_MS);
  assert_true(took < 1000 * REIN_NS_PER_MS);
  rein_inbox_free(ib);
  char p[160];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decide_table),
      cmocka_unit_test_setup_teardown(test_channel_name, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_wakes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollback_silent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_notify_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listener_terminated, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_listener_refused, setup, teardown),
      cmocka_unit_test(test_sqlite_sleeps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
