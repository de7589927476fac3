/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet_failover.c: Redis goes away under a running fleet.
 *
 * The test starts its own redis-server (loopback, free port, nothing
 * persisted) so it can kill it: 20 instances, each with its refresher
 * thread and a worker thread making budget and breaker decisions in a
 * closed loop. Then:
 *   1. SIGKILL redis-server: every instance is on its local budget and
 *      breaker within 1 s, logs it exactly once, and keeps deciding (the
 *      local budget grants retries); no decision ever waits on Redis.
 *   2. Restart it on the same port: every instance rejoins (one more log
 *      line each) and leases from the fleet again.
 *   3. SIGSTOP it (a Redis that hangs rather than dies): the command
 *      timeout turns that into the same fallback within 1 s; SIGCONT: back.
 *   4. Everything is freed with Redis stopped: nothing deadlocks (a
 *      watchdog alarm would kill the test).
 * Timings are printed.
 */
#include "rein_test.h"

#include "rein/fleet.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int tf_free_port(void);
pid_t tf_redis_start(int port, char *dir, size_t n);
void tf_redis_kill(pid_t pid, const char *dir);
void tf_name(char *buf, size_t n, const char *base);
int64_t tf_now(void);
void tf_sleep_ms(int64_t ms);

#define N_INST 20
#define BOUND_MS 1000

typedef struct inst {
  rein_fleet *f;
  atomic_int log_down, log_back;
  atomic_llong decisions;
  atomic_llong max_decision_ns;
} inst;

static inst in[N_INST];
static atomic_bool stop;

static void log_cb(void *ctx, const char *line) {
  inst *i = ctx;
  if (strstr(line, "unavailable")) atomic_fetch_add(&i->log_down, 1);
  if (strstr(line, "rejoined")) atomic_fetch_add(&i->log_back, 1);
}

static void *work(void *arg) {
  inst *i = arg;
  rein_budget *b = rein_fleet_budget(i->f);
  rein_breaker *k = rein_fleet_breaker(i->f);
  while (!atomic_load(&stop)) {
    int64_t t = tf_now();
    rein_budget_on_request(b, t);
    rein_breaker_permit p;
    if (rein_breaker_allow(k, t, &p)) rein_breaker_record(k, &p, false, 1, t);
    uint32_t cost;
    rein_budget_try_retry(b, t, false, &cost);
    int64_t d = tf_now() - t;
    if (d > atomic_load(&i->max_decision_ns))
      atomic_store(&i->max_decision_ns, d);
    atomic_fetch_add(&i->decisions, 1);
    tf_sleep_ms(1);
  }
  return NULL;
}

static int count_degraded(void) {
  int n = 0;
  for (int i = 0; i < N_INST; i++) {
    rein_fleet_status s;
    rein_fleet_status_get(in[i].f, &s);
    n += s.degraded;
  }
  return n;
}

/* Waits until `want` instances are degraded (or not, when want is 0);
 * returns the milliseconds it took, or -1 after limit_ms. */
static double wait_degraded(int want, int limit_ms) {
  int64_t t0 = tf_now();
  while (tf_now() - t0 < (int64_t)limit_ms * REIN_NS_PER_MS) {
    if (count_degraded() == want) return (double)(tf_now() - t0) / 1e6;
    tf_sleep_ms(5);
  }
  return -1;
}

static long long total_decisions(void) {
  long long n = 0;
  for (int i = 0; i < N_INST; i++)
    n += atomic_load(&in[i].decisions);
  return n;
}

static pid_t pid = -1;
static char dir[256];

static int teardown(void **state) {
  (void)state;
  if (pid > 0) tf_redis_kill(pid, dir);
  pid = -1;
  return 0;
}

static void test_failover(void **state) {
  (void)state;
  alarm(90); /* a deadlock kills the test */
  char name[96];
  int port = tf_free_port();
  dir[0] = 0;
  pid = tf_redis_start(port, dir, sizeof dir);
  tf_name(name, sizeof name, "failover");
  memset(in, 0, sizeof in);
  atomic_store(&stop, false);
  for (int i = 0; i < N_INST; i++) {
    char id[16];
    snprintf(id, sizeof id, "i%d", i);
    rein_fleet_config c;
    rein_fleet_config_default(&c);
    c.redis_port = port;
    c.name = name;
    c.instance_id = id;
    c.refresh_ns = 50 * REIN_NS_PER_MS;
    c.connect_timeout_ns = 150 * REIN_NS_PER_MS;
    c.command_timeout_ns = 150 * REIN_NS_PER_MS;
    c.budget.min_retries_per_sec = 5;
    c.log = log_cb;
    c.log_ctx = &in[i];
    assert_int_equal(rein_fleet_new(&c, &in[i].f), REIN_OK);
  }
  pthread_t th[N_INST];
  for (int i = 0; i < N_INST; i++)
    assert_int_equal(pthread_create(&th[i], NULL, work, &in[i]), 0);
  tf_sleep_ms(200);
  assert_int_equal(count_degraded(), 0);

  /* 1. Redis dies. */
  kill(pid, SIGKILL);
  double down_ms = wait_degraded(N_INST, 3000);
  long long d0 = total_decisions();
  uint64_t local0 = 0;
  for (int i = 0; i < N_INST; i++) {
    rein_fleet_status s;
    rein_fleet_status_get(in[i].f, &s);
    local0 += s.retries_local;
  }
  tf_sleep_ms(300);
  long long d1 = total_decisions();
  uint64_t local1 = 0;
  for (int i = 0; i < N_INST; i++) {
    rein_fleet_status s;
    rein_fleet_status_get(in[i].f, &s);
    local1 += s.retries_local;
    assert_true(s.degraded);
    assert_int_equal(atomic_load(&in[i].log_down), 1);
  }
  fprintf(stderr,
          "failover: redis-server killed: all %d instances on local objects "
          "after %.1f ms (bound %d ms); in the next 300 ms %lld decisions "
          "and %llu retries granted by the local budgets\n",
          N_INST, down_ms, BOUND_MS, d1 - d0,
          (unsigned long long)(local1 - local0));
  if (down_ms < 0 || down_ms > BOUND_MS)
    fail_msg("fallback took %.1f ms (bound %d ms)", down_ms, BOUND_MS);
  assert_true(d1 - d0 > N_INST * 50); /* still deciding, ~1 per ms each */
  assert_true(local1 > 0);

  /* 2. Redis is back on the same port. */
  waitpid(pid, NULL, 0);
  pid = -1; /* reaped: the teardown must not signal a reused pid */
  int64_t tr = tf_now();
  pid = tf_redis_start(port, dir, sizeof dir);
  double started_ms = (double)(tf_now() - tr) / 1e6;
  double up_ms = wait_degraded(0, 5000);
  fprintf(stderr,
          "failover: redis-server restarted (%.0f ms to answer): all "
          "rejoined %.1f ms after it answered\n",
          started_ms, up_ms);
  /* Reconnects back off up to 1 s (docs/fleet.md): every instance is back
   * within that plus one refresh and its round trips. */
  if (up_ms < 0 || up_ms > 1500)
    fail_msg("instances rejoined after %.1f ms (bound 1.5 s)", up_ms);
  tf_sleep_ms(150);
  uint64_t failed = 0;
  for (int i = 0; i < N_INST; i++) {
    rein_fleet_status s;
    rein_fleet_status_get(in[i].f, &s);
    failed += s.failures;
  }
  fprintf(stderr,
          "failover: %.1f failed refreshes per instance during the outage "
          "(reconnects back off from 50 ms to 1 s)\n",
          (double)failed / N_INST);
  for (int i = 0; i < N_INST; i++) {
    rein_fleet_status s;
    rein_fleet_status_get(in[i].f, &s);
    assert_false(s.degraded);
    assert_int_equal(s.degradations, 1);
    assert_int_equal(s.rejoins, 1);
    assert_int_equal(atomic_load(&in[i].log_down), 1);
    assert_int_equal(atomic_load(&in[i].log_back), 1);
  }

  /* 3. Redis hangs. */
  kill(pid, SIGSTOP);
  double hang_ms = wait_degraded(N_INST, 3000);
  fprintf(stderr,
          "failover: redis-server stopped (SIGSTOP): all on local objects "
          "after %.1f ms (command timeout 150 ms, bound %d ms)\n",
          hang_ms, BOUND_MS);
  if (hang_ms < 0 || hang_ms > BOUND_MS)
    fail_msg("fallback on a hung Redis took %.1f ms", hang_ms);
  kill(pid, SIGCONT);
  double cont_ms = wait_degraded(0, 5000);
  fprintf(stderr, "failover: SIGCONT: all rejoined after %.1f ms\n", cont_ms);
  if (cont_ms < 0 || cont_ms > 1500)
    fail_msg("instances rejoined %.1f ms after SIGCONT (bound 1.5 s)", cont_ms);

  /* No decision ever waited on Redis. */
  long long worst = 0;
  for (int i = 0; i < N_INST; i++) {
    long long m = atomic_load(&in[i].max_decision_ns);
    if (m > worst) worst = m;
  }
  fprintf(stderr, "failover: slowest decision %.3f ms\n", (double)worst / 1e6);
  assert_true(worst < 50 * REIN_NS_PER_MS); /* far below any timeout */

  /* 4. Free everything while Redis hangs again. */
  atomic_store(&stop, true);
  for (int i = 0; i < N_INST; i++)
    pthread_join(th[i], NULL);
  kill(pid, SIGSTOP);
  int64_t tf0 = tf_now();
  for (int i = 0; i < N_INST; i++)
    rein_fleet_free(in[i].f);
  double free_ms = (double)(tf_now() - tf0) / 1e6;
  fprintf(stderr, "failover: freed %d instances with Redis hung in %.0f ms\n",
          N_INST, free_ms);
  tf_redis_kill(pid, dir);
  pid = -1;
  alarm(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_failover, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
