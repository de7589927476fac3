/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet_redis.c: the fleet budget protocol against a real Redis,
 * driven step by step with rein_fleet_tick (no refresher thread, a manual
 * clock for the instances' side), so every lease and window figure is
 * exact: how tokens are granted and split between instances, that the
 * fleet-wide bound holds, that leases come back on close and expire when
 * an instance dies, that a flushed script cache (NOSCRIPT) is survived,
 * that Redis errors degrade and recover, and the keys' TTLs.
 */
#include "rein_test.h"

#include "rein/fleet.h"

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

redisContext *tf_redis(int port);
long long tf_int(redisContext *c, const char *fmt, ...);
void tf_name(char *buf, size_t n, const char *base);
int64_t tf_now(void);
void tf_sleep_ms(int64_t ms);
int tf_free_port(void);
pid_t tf_redis_start_auth(int port, char *dir, size_t n, const char *password);
void tf_redis_kill(pid_t pid, const char *dir);

typedef struct logbuf {
  int lines;
  char last[512];
} logbuf;

static void log_cb(void *ctx, const char *line) {
  logbuf *l = ctx;
  l->lines++;
  snprintf(l->last, sizeof l->last, "%s", line);
}

static rein_manual_clock mc;
static logbuf lb;

static void config(rein_fleet_config *c, const char *name, const char *id) {
  rein_fleet_config_default(c);
  c->redis_host = rein_test_redis_host();
  c->redis_port = rein_test_redis_port();
  c->name = name;
  c->instance_id = id;
  c->start_thread = false;
  c->join_on_new = false;
  c->enable_breaker = false;
  c->lease_size = 8;
  c->budget.ratio = 0.1;
  c->budget.ttl_ns = 10 * REIN_NS_PER_S;
  c->budget.min_retries_per_sec = 1; /* floor: 10 tokens */
  c->clock = rein_manual_clock_as_clock(&mc);
  c->log = log_cb;
  c->log_ctx = &lb;
}

static int64_t now_(void) {
  return rein_manual_clock_get(&mc);
}

static void tick(rein_fleet *f) {
  rein_status st = rein_fleet_tick(f, now_());
  if (st != REIN_OK) {
    rein_fleet_status s;
    rein_fleet_status_get(f, &s);
    fail_msg("tick: %s (%s)", rein_status_name(st), s.last_error);
  }
}

static int retries(rein_fleet *f, int n) {
  int g = 0;
  for (int i = 0; i < n; i++)
    g += rein_budget_try_retry(rein_fleet_budget(f), now_(), false, NULL);
  return g;
}

static int setup(void **state) {
  (void)state;
  rein_manual_clock_init(&mc, 100 * REIN_NS_PER_S);
  memset(&lb, 0, sizeof lb);
  return 0;
}

/* Two instances share floor(0.1 x 100 + 10) = 20 retries, exactly. */
static void test_lease_split(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "split");
  rein_fleet_config c;
  rein_fleet *a = NULL, *b = NULL;
  config(&c, name, "a");
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  config(&c, name, "b");
  assert_int_equal(rein_fleet_new(&c, &b), REIN_OK);

  /* Not joined yet: decisions use the local budget. */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_true(s.degraded);
  assert_int_equal(lb.lines, 0); /* not joined is not an outage */

  tick(a); /* no demand yet: a lease of 1 */
  rein_fleet_status_get(a, &s);
  assert_false(s.degraded);
  assert_true(s.joined);
  assert_int_equal(s.lease_tokens, 1);
  assert_true(s.fleet_leased == 1);

  for (int i = 0; i < 100; i++)
    rein_budget_on_request(rein_fleet_budget(a), now_());
  assert_int_equal(retries(a, 10), 1); /* demand 10 -> target 8 (cap) */
  rein_manual_clock_advance(&mc, c.refresh_ns);
  tick(a); /* R = 100, S = 1: 20 - 1 = 19 available, a gets 8 */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 8);
  assert_true(s.fleet_requests == 100);
  assert_true(s.fleet_retries == 1);
  assert_true(s.fleet_leased == 8);

  tick(b); /* 20 - 1 - 8 (a's lease) = 11: b gets 1 (no demand yet) */
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 1);
  assert_int_equal(retries(b, 20), 1);
  rein_manual_clock_advance(&mc, c.refresh_ns);
  tick(b); /* S = 2, a holds 8: 20 - 2 - 8 = 10, b gets 8 */
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 8);
  assert_true(s.fleet_leased == 16);

  assert_int_equal(retries(a, 20), 8);
  tick(a); /* S = 10, b holds 8: 20 - 10 - 8 = 2 */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 2);
  assert_int_equal(retries(a, 20), 2);
  assert_int_equal(retries(b, 20), 8);
  tick(a);
  tick(b);
  assert_int_equal(retries(a, 5) + retries(b, 5), 0); /* budget spent */

  /* 20 granted in total = 0.1 x 100 requests + the 10-token floor. */
  rein_fleet_status sa, sb;
  rein_fleet_status_get(a, &sa);
  rein_fleet_status_get(b, &sb);
  assert_int_equal(sa.retries_fleet + sb.retries_fleet, 20);
  assert_true(sb.fleet_retries == 20);
  assert_int_equal(sa.retries_local + sb.retries_local, 0);

  /* New requests make room again: 50 more -> 5 more retries. */
  for (int i = 0; i < 50; i++)
    rein_budget_on_request(rein_fleet_budget(b), now_());
  tick(b);
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 5);
  rein_fleet_free(a);
  rein_fleet_free(b);
  assert_int_equal(lb.lines, 0);
}

/* Close returns the lease; an instance that stops refreshing loses its
 * lease after lease_ttl (in Redis time) and the fleet gets it back. */
static void test_lease_return_and_expiry(void **state) {
  (void)state;
  char name[96], key[160];
  tf_name(name, sizeof name, "expiry");
  redisContext *r = tf_redis(0);
  snprintf(key, sizeof key, "rein:fleet:{%s}:budget:held", name);
  rein_fleet_config c;
  rein_fleet *a = NULL, *b = NULL, *d = NULL;
  config(&c, name, "a");
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  config(&c, name, "b");
  assert_int_equal(rein_fleet_new(&c, &b), REIN_OK);
  config(&c, name, "dead");
  c.lease_ttl_ns = 200 * REIN_NS_PER_MS;
  assert_int_equal(rein_fleet_new(&c, &d), REIN_OK);

  tick(a); /* joined, a lease of 1 each */
  tick(b);
  tick(d);
  assert_int_equal(retries(a, 8), 1);
  assert_int_equal(retries(b, 8), 1);
  assert_int_equal(retries(d, 8), 1);
  tick(a); /* floor 10 - 1 spent - 2 held by b and dead: a gets 7 */
  tick(b); /* 10 - 2 - 7 - 1 = 0 */
  tick(d); /* 10 - 3 - 7 = 0 */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 7);
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 0);
  assert_int_equal(tf_int(r, "HGET %s a", key), 7);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 7);

  /* a closes: its 7 go back. */
  rein_fleet_free(a);
  assert_int_equal(tf_int(r, "HGET %s a", key), -1);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 0);
  assert_int_equal(retries(d, 8), 0);
  tick(d); /* dead takes what a returned: 10 - 3 spent = 7 */
  rein_fleet_status_get(d, &s);
  assert_int_equal(s.lease_tokens, 7);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 7);

  /* dead stops refreshing; after its 200 ms lease ttl, b gets its tokens. */
  tf_sleep_ms(300);
  assert_int_equal(retries(b, 8), 0);
  tick(b);
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 7);
  assert_int_equal(tf_int(r, "HGET %s dead", key), -1);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 7);
  /* ... and dead's own decisions stop using the expired lease too. */
  rein_manual_clock_advance(&mc, 200 * REIN_NS_PER_MS);
  assert_int_equal(retries(d, 3), 0);
  rein_fleet_free(d);
  rein_fleet_free(b);
  assert_int_equal(tf_int(r, "EXISTS %s", key), 1);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 0);
  redisFree(r);
}

/* An instance whose refresh comes after its lease expired does not get its
 * old tokens back: Redis gave them to the fleet already. */
static void test_late_refresh(void **state) {
  (void)state;
  char name[96], key[160];
  tf_name(name, sizeof name, "late");
  redisContext *r = tf_redis(0);
  snprintf(key, sizeof key, "rein:fleet:{%s}:budget:held", name);
  rein_fleet_config c;
  rein_fleet *a = NULL, *b = NULL;
  config(&c, name, "a");
  c.refresh_ns = 20 * REIN_NS_PER_MS;
  c.lease_ttl_ns = 30 * REIN_NS_PER_MS;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  config(&c, name, "b");
  assert_int_equal(rein_fleet_new(&c, &b), REIN_OK);
  tick(a);
  tick(b);
  retries(a, 8);
  tick(a); /* floor 10 - 1 (b) - 1 (a spent): a gets 8 */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 8);
  tf_sleep_ms(60); /* a's 30 ms lease expires in Redis */
  rein_manual_clock_advance(&mc, 60 * REIN_NS_PER_MS);
  assert_int_equal(retries(a, 2), 0); /* ... and locally */
  retries(b, 8);
  tick(b); /* a's lease purged; 10 - 2 spent: b gets 8 */
  rein_fleet_status_get(b, &s);
  assert_int_equal(s.lease_tokens, 8);
  tick(a); /* late: its 8 are gone, nothing left */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 0);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 8);
  rein_fleet_free(a);
  rein_fleet_free(b);
  redisFree(r);
}

/* An instance whose retries stop gives back what it holds above its new
 * target at its next refresh: a live idle instance hoards nothing. */
static void test_idle_returns(void **state) {
  (void)state;
  char name[96], key[160];
  tf_name(name, sizeof name, "idle");
  redisContext *r = tf_redis(0);
  snprintf(key, sizeof key, "rein:fleet:{%s}:budget:held", name);
  rein_fleet_config c;
  rein_fleet *a = NULL;
  config(&c, name, "a");
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  assert_int_equal(retries(a, 10), 1);
  tick(a); /* demand 10: 8 (the cap) */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 8);
  assert_int_equal(tf_int(r, "HGET %s a", key), 8);
  tick(a); /* no retries since: back to lease_min (1), 7 returned */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 1);
  assert_int_equal(tf_int(r, "HGET %s a", key), 1);
  assert_int_equal(tf_int(r, "HGET %s #total", key), 1);
  assert_int_equal(retries(a, 3), 1);
  rein_fleet_free(a);
  redisFree(r);
}

/* lease_min: an instance without retries still holds that many tokens. */
static void test_lease_min(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "leasemin");
  rein_fleet_config c;
  rein_fleet *a = NULL;
  config(&c, name, "a");
  c.lease_min = 4;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 4);
  assert_int_equal(retries(a, 6), 4); /* a burst before the next refresh */
  tick(a);                            /* demand 6: 10 - 4 spent = 6 */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.lease_tokens, 6);
  rein_fleet_free(a);
}

/* Four threads take tokens and count requests while refreshes run: every
 * grant is accounted for exactly (Redis's spent + leased = what the
 * instance granted + what it holds) and the bound holds. */
typedef struct drain {
  rein_fleet *f;
  atomic_bool *stop;
  long granted;
} drain;

static void *drainer(void *arg) {
  drain *d = arg;
  rein_budget *b = rein_fleet_budget(d->f);
  while (!atomic_load(d->stop)) {
    int64_t t = now_();
    rein_budget_on_request(b, t);
    for (int i = 0; i < 3; i++)
      d->granted += rein_budget_try_retry(b, t, false, NULL);
  }
  return NULL;
}

static void test_concurrent_drain(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "drain");
  rein_fleet_config c;
  rein_fleet *a = NULL;
  config(&c, name, "a");
  c.lease_size = 500;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  atomic_bool stop = false;
  drain d[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    d[i].f = a;
    d[i].stop = &stop;
    d[i].granted = 0;
    assert_int_equal(pthread_create(&th[i], NULL, drainer, &d[i]), 0);
  }
  for (int i = 0; i < 30; i++) {
    tf_sleep_ms(2);
    tick(a);
  }
  atomic_store(&stop, true);
  long granted = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    granted += d[i].granted;
  }
  tick(a); /* report the last of it */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  fprintf(stderr,
          "drain: %llu requests, %ld retries granted by 4 threads, Redis: "
          "%.0f requests, %.0f spent, %.0f leased (held here %u)\n",
          (unsigned long long)s.requests, granted, s.fleet_requests,
          s.fleet_retries, s.fleet_leased, s.lease_tokens);
  assert_int_equal((long)s.retries_fleet, granted);
  assert_true(s.fleet_requests == (double)s.requests);
  assert_true(s.fleet_retries == (double)granted);
  assert_true(s.fleet_leased == (double)s.lease_tokens);
  assert_true(s.fleet_retries + s.fleet_leased <=
              0.1 * s.fleet_requests + 10 + 1e-9);
  assert_true(granted > 0);
  rein_fleet_free(a);
}

/* SCRIPT FLUSH (what a restart does): EVALSHA gets NOSCRIPT, the refresh
 * falls back to EVAL and succeeds. */
static void test_noscript(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "noscript");
  redisContext *r = tf_redis(0);
  rein_fleet_config c;
  config(&c, name, "a");
  c.enable_breaker = true;
  rein_fleet *a = NULL;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.commands, 4); /* 2 SCRIPT LOAD + 2 EVALSHA */
  assert_int_equal(s.noscript, 0);
  assert_int_equal(tf_int(r, "SCRIPT FLUSH"), -2);
  tick(a);
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.noscript, 2);
  assert_int_equal(s.commands, 8); /* + 2 EVALSHA + 2 EVAL */
  assert_int_equal(s.refreshes, 2);
  tick(a); /* EVAL loaded the scripts again: EVALSHA works */
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.noscript, 2);
  assert_int_equal(s.commands, 10);
  rein_fleet_free(a);
  redisFree(r);
}

/* A Redis error (a key of the wrong type) fails the refresh: degraded,
 * logged once, local budget; fixed, the next refresh rejoins. */
static void test_backend_error(void **state) {
  (void)state;
  char name[96], key[160];
  tf_name(name, sizeof name, "wrongtype");
  redisContext *r = tf_redis(0);
  snprintf(key, sizeof key, "rein:fleet:{%s}:budget:win", name);
  rein_fleet_config c;
  config(&c, name, "a");
  rein_fleet *a = NULL;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  tf_int(r, "DEL %s", key);
  assert_int_equal(tf_int(r, "SET %s x", key), -2);
  assert_int_equal(rein_fleet_tick(a, now_()), REIN_EBACKEND);
  assert_int_equal(rein_fleet_tick(a, now_()), REIN_EBACKEND);
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_true(s.degraded);
  assert_int_equal(s.degradations, 1);
  assert_int_equal(s.failures, 2);
  assert_non_null(strstr(s.last_error, "WRONGTYPE"));
  assert_int_equal(lb.lines, 1);
  assert_non_null(strstr(lb.last, "REIN_EBACKEND"));
  /* Local budget now: its floor (10) is there. */
  assert_int_equal(retries(a, 12), 10);
  assert_int_equal(tf_int(r, "DEL %s", key), 1);
  tick(a);
  rein_fleet_status_get(a, &s);
  assert_false(s.degraded);
  assert_int_equal(s.rejoins, 1);
  assert_int_equal(lb.lines, 2);
  assert_non_null(strstr(lb.last, "rejoined"));
  /* The 10 local retries were reported as spent: 10 - 10 = 0 left. */
  assert_true(s.fleet_retries == 10);
  assert_int_equal(s.lease_tokens, 0);
  rein_fleet_free(a);
  redisFree(r);
}

/* Decisions fall back to the local budget when the last good refresh is
 * older than stale_ns, even with nobody noticing an outage. */
static void test_stale(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "stale");
  rein_fleet_config c;
  config(&c, name, "a");
  c.budget.min_retries_per_sec = 0.3; /* fleet and local floor: 3 */
  rein_fleet *a = NULL;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a); /* a lease of 1 */
  assert_int_equal(retries(a, 5), 1);
  tick(a); /* 3 - 1 spent = 2 more */
  assert_int_equal(retries(a, 5), 2);
  rein_manual_clock_advance(&mc, 760 * REIN_NS_PER_MS); /* > 750 ms */
  assert_int_equal(retries(a, 5), 3);                   /* the local floor */
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_int_equal(s.retries_fleet, 3);
  assert_int_equal(s.retries_local, 3);
  assert_int_equal(rein_budget_available(rein_fleet_budget(a), now_()), 0);
  rein_fleet_free(a);
}

/* Every key carries a TTL, so a fleet that stops leaves nothing. */
static void test_ttls(void **state) {
  (void)state;
  char name[96];
  tf_name(name, sizeof name, "ttl");
  redisContext *r = tf_redis(0);
  rein_fleet_config c;
  config(&c, name, "a");
  c.enable_breaker = true;
  c.breaker.window_ns = 2 * REIN_NS_PER_S;
  c.breaker.open_ns = REIN_NS_PER_S;
  rein_fleet *a = NULL;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  rein_breaker_permit p;
  assert_true(rein_breaker_allow(rein_fleet_breaker(a), now_(), &p));
  rein_breaker_record(rein_fleet_breaker(a), &p, false, 1, now_());
  for (int i = 0; i < 10; i++)
    rein_budget_on_request(rein_fleet_budget(a), now_());
  retries(a, 1);
  tick(a);
  retries(a, 1);
  tick(a);
  static const struct {
    const char *suffix;
    long long max_ms;
  } keys[] = {
      {"budget:win", 10000 + 300 + 1000},
      {"budget:leases", 10000 + 300 + 1000},
      {"budget:held", 10000 + 300 + 1000},
      {"breaker:win", 2 * 3000 + 1000},
      {"breaker:state", 2 * 3000 + 1000},
  };
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char key[200];
    snprintf(key, sizeof key, "rein:fleet:{%s}:%s", name, keys[i].suffix);
    long long t = tf_int(r, "PTTL %s", key);
    if (t <= keys[i].max_ms - 500 || t > keys[i].max_ms)
      fail_msg("%s: PTTL %lld, expected (%lld, %lld]", key, t,
               keys[i].max_ms - 500, keys[i].max_ms);
  }
  rein_fleet_free(a);
  redisFree(r);
}

/* AUTH and SELECT against a private redis-server with requirepass:
 * missing or wrong password is a backend error (degraded, the message
 * says why); the right one joins, and the keys land in the chosen db. */
static pid_t auth_pid = -1;
static char auth_dir[256];

static int auth_teardown(void **state) {
  (void)state;
  if (auth_pid > 0) tf_redis_kill(auth_pid, auth_dir);
  auth_pid = -1;
  return 0;
}

static void test_auth_select(void **state) {
  (void)state;
  char name[96], key[160];
  int port = tf_free_port();
  auth_dir[0] = 0;
  auth_pid = tf_redis_start_auth(port, auth_dir, sizeof auth_dir, "s3cret-pw");
  tf_name(name, sizeof name, "auth");
  rein_fleet_config c;
  rein_fleet *a = NULL;
  config(&c, name, "a");
  c.redis_port = port;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  assert_int_equal(rein_fleet_tick(a, now_()), REIN_EBACKEND);
  rein_fleet_status s;
  rein_fleet_status_get(a, &s);
  assert_true(s.degraded);
  assert_non_null(strstr(s.last_error, "NOAUTH"));
  rein_fleet_free(a);

  c.redis_password = "wrong";
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  assert_int_equal(rein_fleet_tick(a, now_()), REIN_EBACKEND);
  rein_fleet_status_get(a, &s);
  assert_non_null(strstr(s.last_error, "AUTH: "));
  rein_fleet_free(a);

  c.redis_password = "s3cret-pw";
  c.redis_db = 3;
  assert_int_equal(rein_fleet_new(&c, &a), REIN_OK);
  tick(a);
  rein_fleet_status_get(a, &s);
  assert_false(s.degraded);
  assert_int_equal(s.lease_tokens, 1);
  assert_int_equal(s.commands, 5); /* AUTH, SELECT, 2 LOAD, 1 EVALSHA */
  redisContext *r = tf_redis(port);
  assert_int_equal(tf_int(r, "AUTH s3cret-pw"), -2);
  snprintf(key, sizeof key, "rein:fleet:{%s}:budget:held", name);
  assert_int_equal(tf_int(r, "EXISTS %s", key), 0); /* not in db 0 */
  assert_int_equal(tf_int(r, "SELECT 3"), -2);
  assert_int_equal(tf_int(r, "EXISTS %s", key), 1);
  redisFree(r);
  rein_fleet_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_lease_split, setup),
      cmocka_unit_test_setup(test_lease_return_and_expiry, setup),
      cmocka_unit_test_setup(test_late_refresh, setup),
      cmocka_unit_test_setup(test_idle_returns, setup),
      cmocka_unit_test_setup(test_lease_min, setup),
      cmocka_unit_test_setup(test_concurrent_drain, setup),
      cmocka_unit_test_setup(test_noscript, setup),
      cmocka_unit_test_setup(test_backend_error, setup),
      cmocka_unit_test_setup(test_stale, setup),
      cmocka_unit_test_setup(test_ttls, setup),
      cmocka_unit_test_setup_teardown(test_auth_select, setup, auth_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
