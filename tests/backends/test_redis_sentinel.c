/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_redis_sentinel.c: keys through a Redis failover (issue 15, "Redis
 * is one machine"). A Sentinel set (1 primary, 1 replica, 3 sentinels,
 * from scripts/services.sh start-sentinel) serves the idempotency store and
 * the fleet; 1,000 charges run through the store, each begin -> effect
 * counted -> complete, every failed step retried with the same key
 * (bounded); after charge 300 the replica's link is cut and kept down
 * (it lags), and 150 ms (or 100 charges) later the primary is SIGKILLed.
 * Once the
 * sentinels name the new primary the old one is started again (it comes
 * back as a replica, so durable mode has a replica to WAIT for).
 *
 * Durable mode (wait_replicas = 1) must end with 0 duplicated effects and
 * 0 lost acknowledged charges (an acknowledged key whose begin is not a
 * REPLAY afterwards). The default mode's counts are measured and printed;
 * they depend on what was in flight at the kill, and may be 0 on a run.
 * Both modes also time 1,000 claims (begin + complete) before the chaos:
 * the cost of durability, printed for docs/idempotency.md.
 *
 * Meanwhile a fleet on the same sentinels keeps deciding: a thread takes a
 * decision every millisecond; the longest gap between two decisions and
 * the time the fleet spent on its local objects are measured and bounded.
 */
#include "ha_redis.h"
#include "rein_test.h"

#include "rein/fleet.h"
#include "rein/idem.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHARGES 1000
#define KILL_AT 300
#define CHARGE_BUDGET_MS 30000 /* one charge gives up after this */

static int64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static int64_t us_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static rein_idem_store *open_store(const rein_ha *h, int wait) {
  rein_errbuf err = {{0}};
  rein_idem_config c;
  rein_idem_config_default(&c);
  c.err = &err;
  rein_idem_redis_config rc;
  rein_idem_redis_config_default(&rc);
  rc.sentinels = h->sentinels;
  rc.sentinel_master = h->master;
  rc.timeout_ms = 300;
  rc.wait_replicas = wait;
  rc.wait_timeout_ms = 300;
  rein_idem_store *s = NULL;
  rein_status st = rein_idem_redis_new(&c, &rc, &s);
  if (st != REIN_OK) fail_msg("rein_idem_redis_new: %s", err.msg);
  return s;
}

static const rein_idem_scope SCOPE = {"tenant", "POST /charges"};
static const int64_t LEASE = 1000 * REIN_NS_PER_MS;
static const int64_t RETAIN = 3600 * REIN_NS_PER_S;

typedef struct tally {
  int effects[CHARGES];
  bool acked[CHARGES];
  int errors, stale, in_progress;
  char last_err[256];
} tally;

/* One charge, retried with the same key: true when acknowledged. */
static bool charge(rein_idem_store *s, const char *run, int i, tally *t) {
  char key[64];
  snprintf(key, sizeof key, "%s-%d", run, i);
  uint8_t fp[32];
  rein_idem_fingerprint(key, strlen(key), fp);
  int64_t give_up = ms_now() + CHARGE_BUDGET_MS;
  while (ms_now() < give_up) {
    rein_idem_result r;
    rein_status st = rein_idem_begin(s, &SCOPE, key, fp, LEASE, RETAIN, &r);
    if (st != REIN_OK) {
      t->errors++;
      rein_idem_store_errmsg_copy(s, t->last_err, sizeof t->last_err);
      sleep_ms(20);
      continue;
    }
    if (r.outcome == REIN_IDEM_REPLAY) {
      rein_idem_result_clear(&r);
      return true; /* done earlier; the reply is the stored one */
    }
    if (r.outcome == REIN_IDEM_IN_PROGRESS) {
      t->in_progress++;
      int64_t ms = r.retry_after_ns / REIN_NS_PER_MS;
      rein_idem_result_clear(&r);
      sleep_ms(ms < 1 ? 1 : ms > 100 ? 100 : (int)ms);
      continue;
    }
    assert_int_equal(r.outcome, REIN_IDEM_NEW);
    rein_idem_token tok = r.token;
    rein_idem_result_clear(&r);
    t->effects[i]++; /* the charge happens */
    rein_idem_response resp = {200, "", 0, "ok", 2};
    for (;;) {
      st = rein_idem_complete(s, &tok, &resp, NULL);
      if (st == REIN_OK) return true;
      if (st == REIN_ESTALE) break; /* the claim is gone: begin tells */
      t->errors++;
      rein_idem_store_errmsg_copy(s, t->last_err, sizeof t->last_err);
      if (ms_now() >= give_up) return false;
      sleep_ms(20);
    }
    t->stale++;
  }
  return false;
}

/* ---- the fleet, deciding through the failover ------------------------ */

typedef struct decider {
  rein_fleet *f;
  atomic_bool stop;
  int64_t max_gap_us, decisions;
  int64_t degraded_ms, degraded_since;
} decider;

static void *decide(void *arg) {
  decider *d = arg;
  rein_budget *b = rein_fleet_budget(d->f);
  rein_breaker *k = rein_fleet_breaker(d->f);
  int64_t last = us_now();
  while (!atomic_load(&d->stop)) {
    int64_t now = rein_clock_now(NULL);
    rein_budget_on_request(b, now);
    uint32_t cost;
    if (rein_budget_try_retry(b, now, false, &cost))
      rein_budget_on_success(b, now, cost);
    rein_breaker_permit p;
    if (rein_breaker_allow(k, now, &p))
      rein_breaker_record(k, &p, false, 1000, now);
    int64_t t = us_now();
    if (t - last > d->max_gap_us) d->max_gap_us = t - last;
    last = t;
    d->decisions++;
    rein_fleet_status fs;
    rein_fleet_status_get(d->f, &fs);
    int64_t m = ms_now();
    if (fs.degraded && !d->degraded_since) d->degraded_since = m;
    if (!fs.degraded && d->degraded_since) {
      d->degraded_ms += m - d->degraded_since;
      d->degraded_since = 0;
    }
    sleep_ms(1);
  }
  if (d->degraded_since) d->degraded_ms += ms_now() - d->degraded_since;
  return NULL;
}

static void quiet(void *ctx, const char *line) {
  (void)ctx;
  fprintf(stderr, "  fleet: %s\n", line);
}

/* ---- the fault: kill the primary, restart it once it has been replaced */

typedef struct chaos {
  rein_ha *h;
  atomic_int progress; /* charges done */
  atomic_bool stop;
  int old;
  int64_t killed_at, failover_ms;
  bool restarted;
  const char *name;
} chaos;

static void *chaos_run(void *arg) {
  chaos *c = arg;
  while (!atomic_load(&c->stop) && atomic_load(&c->progress) < KILL_AT)
    sleep_ms(1);
  if (atomic_load(&c->stop)) return NULL;
  /* The replica lags: its link is cut and it may not resync (the
   * primary's default user loses PSYNC and SYNC; ACL changes are not
   * replicated, and the restarted primary starts clean), and the primary
   * dies 150 ms later. The writes in between exist on the primary only:
   * asynchronous replication loses them, durable mode must refuse to count
   * them. */
  redisContext *pc = redisConnect("127.0.0.1", c->old);
  if (pc && !pc->err) {
    redisReply *r = redisCommand(pc, "ACL SETUSER default -psync -sync");
    if (r) freeReplyObject(r);
    r = redisCommand(pc, "CLIENT KILL TYPE replica");
    if (r) freeReplyObject(r);
  }
  if (pc) redisFree(pc);
  /* the lag window: 150 ms, or 100 more charges, whichever ends first (so
   * the kill lands inside the run however fast the charges go) */
  int64_t cut = ms_now();
  while (ms_now() - cut < 150 && atomic_load(&c->progress) < KILL_AT + 100)
    sleep_ms(1);
  rein_ha_kill(c->h, c->old);
  c->killed_at = ms_now();
  printf("%s: SIGKILL primary :%d after %d charges\n", c->name, c->old,
         atomic_load(&c->progress));
  while (!atomic_load(&c->stop) && ms_now() - c->killed_at < 60000) {
    int p = rein_ha_primary(c->h);
    if (p && p != c->old) {
      c->failover_ms = ms_now() - c->killed_at;
      c->restarted = rein_ha_restart(c->h, c->old);
      printf("%s: sentinels named :%d after %lld ms; old primary restarted "
             "(it rejoins as a replica)\n",
             c->name, p, (long long)c->failover_ms);
      break;
    }
    sleep_ms(20);
  }
  return NULL;
}

/* ---- one run ----------------------------------------------------------- */

/* The set of the running test; the teardown stops it even when an
 * assertion ended the test early. */
static rein_ha g_ha;

static int stop_set(void **state) {
  rein_ha_stop(&g_ha);
  return 0;
}

static void run(int wait, const char *name) {
  if (!rein_ha_have(true)) {
    printf("SKIP: redis-server/redis-sentinel not installed "
           "(scripts/deps.sh installs them)\n");
    skip();
  }
  if (!rein_ha_start(&g_ha, "start-sentinel"))
    fail_msg("scripts/services.sh start-sentinel failed");
  rein_idem_store *s = open_store(&g_ha, wait);

  /* the cost: 1,000 claims (begin + complete), no faults */
  static int64_t lat[1000];
  for (int i = 0; i < 1000; i++) {
    char key[64];
    snprintf(key, sizeof key, "lat-%s-%d", name, i);
    uint8_t fp[32];
    rein_idem_fingerprint(key, strlen(key), fp);
    int64_t t0 = us_now();
    rein_idem_result r;
    assert_int_equal(rein_idem_begin(s, &SCOPE, key, fp, LEASE, RETAIN, &r),
                     REIN_OK);
    assert_int_equal(r.outcome, REIN_IDEM_NEW);
    rein_idem_response resp = {200, "", 0, "ok", 2};
    assert_int_equal(rein_idem_complete(s, &r.token, &resp, NULL), REIN_OK);
    rein_idem_result_clear(&r);
    lat[i] = us_now() - t0;
  }
  qsort(lat, 1000, sizeof lat[0], cmp64);
  printf("%s: 1,000 claims (begin + complete): median %lld us, p99 %lld us, "
         "max %lld us\n",
         name, (long long)lat[500], (long long)lat[990], (long long)lat[999]);

  rein_fleet_config fc;
  rein_fleet_config_default(&fc);
  fc.redis_sentinels = g_ha.sentinels;
  fc.redis_sentinel_master = g_ha.master;
  fc.refresh_ns = 50 * REIN_NS_PER_MS;
  fc.log = quiet;
  char fname[64];
  snprintf(fname, sizeof fname, "sentinel.%s", name);
  fc.name = fname;
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&fc, &f), REIN_OK);
  decider d = {.f = f};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, decide, &d), 0);

  static tally t;
  memset(&t, 0, sizeof t);
  int lost_charges = 0;
  chaos c = {
      .h = &g_ha, .old = g_ha.primary_port, .failover_ms = -1, .name = name};
  pthread_t cth;
  assert_int_equal(pthread_create(&cth, NULL, chaos_run, &c), 0);
  for (int i = 0; i < CHARGES; i++) {
    bool ok = charge(s, name, i, &t);
    t.acked[i] = ok;
    if (!ok) lost_charges++;
    atomic_store(&c.progress, i + 1);
  }
  /* the fault thread ends once the old primary is back (or after 60 s) */
  pthread_join(cth, NULL);
  assert_true(c.restarted);
  int64_t failover_ms = c.failover_ms;
  /* the fleet finds the new primary at its next refresh after the
   * sentinels switched (its reconnect backoff is at most 1 s) */
  for (int k = 0; k < 200; k++) {
    rein_fleet_status fs;
    rein_fleet_status_get(f, &fs);
    if (!fs.degraded) break;
    sleep_ms(50);
  }

  /* every acknowledged charge is still there */
  int dup = 0, lost = 0, effects = 0;
  for (int i = 0; i < CHARGES; i++) {
    effects += t.effects[i];
    if (t.effects[i] > 1) dup += t.effects[i] - 1;
    if (!t.acked[i]) continue;
    char key[64];
    snprintf(key, sizeof key, "%s-%d", name, i);
    uint8_t fp[32];
    rein_idem_fingerprint(key, strlen(key), fp);
    rein_idem_result r;
    rein_status st = REIN_ECLOSED;
    for (int k = 0; k < 100 && st != REIN_OK; k++) {
      st = rein_idem_begin(s, &SCOPE, key, fp, LEASE, RETAIN, &r);
      if (st != REIN_OK) sleep_ms(20);
    }
    assert_int_equal(st, REIN_OK);
    if (r.outcome != REIN_IDEM_REPLAY) lost++;
    rein_idem_result_clear(&r);
  }
  atomic_store(&d.stop, true);
  pthread_join(th, NULL);
  rein_fleet_status fs;
  rein_fleet_status_get(f, &fs);
  printf("%s: %d charges, %d effects, %d duplicated, %d acknowledged then "
         "lost, %d not acknowledged; %d errors retried, %d stale "
         "completes, %d in-progress waits; failover %lld ms; last error: "
         "%s\n",
         name, CHARGES, effects, dup, lost, lost_charges, t.errors, t.stale,
         t.in_progress, (long long)failover_ms, t.last_err);
  printf("%s: fleet: %lld decisions, longest gap between two %lld ms, on "
         "local objects for %lld ms, %llu rejoins, degraded now %d\n",
         name, (long long)d.decisions, (long long)(d.max_gap_us / 1000),
         (long long)d.degraded_ms, (unsigned long long)fs.rejoins, fs.degraded);
  rein_fleet_free(f);
  rein_idem_store_free(s);
  rein_ha_stop(&g_ha);

  assert_int_equal(lost_charges, 0); /* every charge finished in its budget */
  /* decisions never wait for Redis: a gap is scheduling, not I/O */
  assert_true(d.max_gap_us < 500 * 1000);
  assert_false(fs.degraded); /* the fleet is back on the new primary */
  assert_true(d.degraded_ms < 20000);
  assert_true(failover_ms >= 0 && failover_ms < 30000);
  if (wait > 0) {
    assert_int_equal(dup, 0);
    assert_int_equal(lost, 0);
  }
}

static void test_durable(void **state) {
  run(1, "durable");
}
static void test_default(void **state) {
  run(0, "default");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_durable, stop_set),
      cmocka_unit_test_teardown(test_default, stop_set),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
