/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet.c: rein_fleet without a Redis server: configuration checks,
 * allocation faults, and the degraded path (Redis unreachable: a loopback
 * port nobody listens on), where the fleet budget and breaker must decide
 * exactly like local ones made from the same configs, and say so once.
 * The Redis-backed behaviour is in tests/backends/test_fleet*.c.
 */
#include "rein_test.h"

#include "rein/fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A loopback port with nothing listening (bound, read back, closed). */
static int closed_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t n = sizeof a;
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &n), 0);
  close(s);
  return ntohs(a.sin_port);
}

typedef struct logbuf {
  int lines;
  char last[512];
} logbuf;

static void log_cb(void *ctx, const char *line) {
  logbuf *l = ctx;
  l->lines++;
  snprintf(l->last, sizeof l->last, "%s", line);
}

static void base_config(rein_fleet_config *c, rein_manual_clock *mc,
                        logbuf *lb) {
  rein_fleet_config_default(c);
  c->redis_port = closed_port();
  c->name = "unit";
  c->instance_id = "i1";
  c->start_thread = false;
  c->clock = rein_manual_clock_as_clock(mc);
  c->log = log_cb;
  c->log_ctx = lb;
}

static void test_defaults(void **state) {
  (void)state;
  rein_fleet_config c;
  rein_fleet_config_default(&c);
  assert_string_equal(c.redis_host, "127.0.0.1");
  assert_int_equal(c.redis_port, 6379);
  assert_string_equal(c.key_prefix, "rein:fleet");
  assert_int_equal(c.refresh_ns, 100 * REIN_NS_PER_MS);
  assert_int_equal(c.lease_size, 64);
  assert_int_equal(c.lease_min, 1);
  assert_int_equal(c.connect_timeout_ns, 200 * REIN_NS_PER_MS);
  assert_int_equal(c.command_timeout_ns, 200 * REIN_NS_PER_MS);
  assert_true(c.enable_budget && c.enable_breaker);
  assert_true(c.start_thread && c.join_on_new);
  assert_int_equal(c.budget.kind, REIN_BUDGET_RATIO);
  assert_int_equal(c.breaker.window, REIN_BREAKER_WINDOW_TIME);
}

typedef struct bad {
  const char *field;
  void (*mutate)(rein_fleet_config *c);
} bad;

static void m_host(rein_fleet_config *c) {
  c->redis_host = "";
}
static void m_port(rein_fleet_config *c) {
  c->redis_port = 0;
}
static void m_port2(rein_fleet_config *c) {
  c->redis_port = 70000;
}
static void m_prefix(rein_fleet_config *c) {
  c->key_prefix = "a b";
}
static void m_name(rein_fleet_config *c) {
  c->name = "x{y}";
}
static void m_name2(rein_fleet_config *c) {
  c->name = NULL;
}
static void m_id(rein_fleet_config *c) {
  c->instance_id = "#total";
}
static void m_refresh(rein_fleet_config *c) {
  c->refresh_ns = 0;
}
static void m_lease_ttl(rein_fleet_config *c) {
  c->lease_ttl_ns = c->refresh_ns / 2;
}
static void m_lease(rein_fleet_config *c) {
  c->lease_size = 0;
}
static void m_lease_min(rein_fleet_config *c) {
  c->lease_min = 65;
}
static void m_lease_min0(rein_fleet_config *c) {
  c->lease_min = 0;
}
static void m_password(rein_fleet_config *c) {
  c->redis_password = "";
}
static void m_db(rein_fleet_config *c) {
  c->redis_db = -1;
}
static void m_ctimeout(rein_fleet_config *c) {
  c->connect_timeout_ns = 10;
}
static void m_timeout(rein_fleet_config *c) {
  c->command_timeout_ns = 11 * REIN_NS_PER_S;
}
static void m_stale(rein_fleet_config *c) {
  c->stale_ns = c->refresh_ns;
}
static void m_stale2(rein_fleet_config *c) {
  c->refresh_ns = REIN_NS_PER_S;
}
static void m_none(rein_fleet_config *c) {
  c->enable_budget = false;
  c->enable_breaker = false;
}
static void m_kind(rein_fleet_config *c) {
  c->budget.kind = REIN_BUDGET_TOKEN_BUCKET;
}
static void m_window(rein_fleet_config *c) {
  c->breaker.window = REIN_BREAKER_WINDOW_COUNT;
}
static void m_cumulative(rein_fleet_config *c) {
  c->breaker.window = REIN_BREAKER_WINDOW_CUMULATIVE;
}
static void m_gates(rein_fleet_config *c) {
  c->breaker.gates = REIN_BREAKER_GATES_RETRIES;
}
static void m_ratio(rein_fleet_config *c) {
  c->budget.ratio = -1;
}
static void m_rate(rein_fleet_config *c) {
  c->breaker.failure_rate = 2;
}

static void test_invalid(void **state) {
  (void)state;
  static const bad cases[] = {
      {"fleet.redis_host", m_host},
      {"fleet.redis_port", m_port},
      {"fleet.redis_port", m_port2},
      {"fleet.key_prefix", m_prefix},
      {"fleet.name", m_name},
      {"fleet.name", m_name2},
      {"fleet.instance_id", m_id},
      {"fleet.refresh_ns", m_refresh},
      {"fleet.lease_ttl_ns", m_lease_ttl},
      {"fleet.lease_size", m_lease},
      {"fleet.lease_min", m_lease_min},
      {"fleet.lease_min", m_lease_min0},
      {"fleet.redis_password", m_password},
      {"fleet.redis_db", m_db},
      {"fleet.connect_timeout_ns", m_ctimeout},
      {"fleet.command_timeout_ns", m_timeout},
      {"fleet.stale_ns", m_stale},
      {"fleet.stale_ns", m_stale2},
      {"fleet.enable_budget", m_none},
      {"budget.kind", m_kind},
      {"breaker.window", m_window},
      {"breaker.window", m_cumulative},
      {"breaker.gates", m_gates},
      {"budget.ratio", m_ratio},
      {"breaker.failure_rate", m_rate},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    rein_manual_clock mc;
    rein_manual_clock_init(&mc, REIN_NS_PER_S);
    logbuf lb = {0, ""};
    rein_fleet_config c;
    base_config(&c, &mc, &lb);
    c.join_on_new = false;
    rein_errbuf err;
    memset(&err, 0, sizeof err);
    c.err = &err;
    cases[i].mutate(&c);
    rein_fleet *f = (rein_fleet *)1;
    assert_int_equal(rein_fleet_new(&c, &f), REIN_EINVAL);
    assert_null(f);
    if (strncmp(err.msg, cases[i].field, strlen(cases[i].field)) != 0)
      fail_msg("case %zu: expected a message naming %s, got \"%s\"", i,
               cases[i].field, err.msg);
  }
  assert_int_equal(rein_fleet_new(NULL, NULL), REIN_EINVAL);
}

static int fault_body(void *ctx, const rein_allocator *a) {
  (void)ctx;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, REIN_NS_PER_S);
  logbuf lb = {0, ""};
  rein_fleet_config c;
  base_config(&c, &mc, &lb);
  c.join_on_new = false;
  c.alloc = a;
  rein_fleet *f = NULL;
  rein_status st = rein_fleet_new(&c, &f);
  if (st != REIN_OK) {
    assert_int_equal(st, REIN_ENOMEM);
    assert_null(f);
    return 1;
  }
  assert_non_null(rein_fleet_budget(f));
  assert_non_null(rein_fleet_breaker(f));
  rein_fleet_free(f);
  return 0;
}

static void test_fault_loop(void **state) {
  (void)state;
  rein_test_fault_loop(fault_body, NULL);
}

/* Unreachable Redis: the fleet budget decides exactly like a local budget
 * with the same config, and the outage is logged once however many
 * refreshes fail. */
static void test_degraded_budget(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, 10 * REIN_NS_PER_S);
  logbuf lb = {0, ""};
  rein_fleet_config c;
  base_config(&c, &mc, &lb);
  c.budget.ratio = 0.1;
  c.budget.min_retries_per_sec = 1;
  c.budget.ttl_ns = 10 * REIN_NS_PER_S;
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  rein_fleet_status s;
  rein_fleet_status_get(f, &s);
  assert_true(s.degraded);
  assert_false(s.joined);
  assert_int_equal(s.failures, 1);
  assert_int_equal(s.degradations, 1);
  assert_int_equal(lb.lines, 1);
  assert_non_null(strstr(lb.last, "unavailable"));
  assert_non_null(strstr(lb.last, "REIN_ECLOSED"));
  assert_true(strlen(s.last_error) > 0);
  for (int i = 0; i < 3; i++) {
    rein_manual_clock_advance(&mc, c.refresh_ns);
    assert_int_equal(rein_fleet_tick(f, rein_manual_clock_get(&mc)),
                     REIN_ECLOSED);
  }
  rein_fleet_status_get(f, &s);
  assert_int_equal(s.failures, 4);
  assert_int_equal(s.degradations, 1);
  assert_int_equal(lb.lines, 1); /* logged once */

  rein_budget_config lc = c.budget;
  rein_budget *local = NULL;
  assert_int_equal(rein_budget_new(&lc, &local), REIN_OK);
  rein_budget *fb = rein_fleet_budget(f);
  assert_int_equal(rein_budget_get_kind(fb), REIN_BUDGET_CUSTOM);
  int64_t now = rein_manual_clock_get(&mc);
  int granted_f = 0, granted_l = 0;
  for (int i = 0; i < 100; i++) {
    rein_budget_on_request(fb, now);
    rein_budget_on_request(local, now);
  }
  for (int i = 0; i < 50; i++) {
    uint32_t cost = 0;
    granted_f += rein_budget_try_retry(fb, now, false, &cost);
    granted_l += rein_budget_try_retry(local, now, false, &cost);
  }
  assert_int_equal(granted_f, granted_l);
  assert_int_equal(granted_l, 20); /* 0.1 x 100 + 1/s x 10 s */
  assert_true(rein_budget_available(fb, now) ==
              rein_budget_available(local, now));
  rein_fleet_status_get(f, &s);
  assert_int_equal(s.requests, 100);
  assert_int_equal(s.retries_local, 20);
  assert_int_equal(s.retries_fleet, 0);
  assert_int_equal(s.retries_refused, 30);
  rein_budget_free(local);
  rein_fleet_free(f);
  assert_int_equal(lb.lines, 1); /* free does not reconnect */
}

/* Unreachable Redis: the fleet breaker is the local breaker. */
static void test_degraded_breaker(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, 10 * REIN_NS_PER_S);
  logbuf lb = {0, ""};
  rein_fleet_config c;
  base_config(&c, &mc, &lb);
  c.breaker.min_calls = 5;
  c.breaker.failure_rate = 0.5;
  c.breaker.open_ns = REIN_NS_PER_S;
  c.breaker.open_jitter = 0;
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  rein_breaker *b = rein_fleet_breaker(f);
  int64_t now = rein_manual_clock_get(&mc);
  for (int i = 0; i < 5; i++) {
    rein_breaker_permit p;
    assert_true(rein_breaker_allow(b, now, &p));
    assert_int_equal(p.valid, 1);
    rein_breaker_record(b, &p, true, 1000, now);
  }
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_OPEN);
  rein_breaker_permit p;
  assert_false(rein_breaker_allow(b, now, &p));
  assert_int_equal(p.valid, 0);
  now += REIN_NS_PER_S + 1;
  assert_int_equal(rein_breaker_state_at(b, now), REIN_BREAKER_HALF_OPEN);
  rein_fleet_status s;
  rein_fleet_status_get(f, &s);
  assert_int_equal(s.breaker_rejections, 1);
  rein_fleet_free(f);
}

static void test_prometheus(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, REIN_NS_PER_S);
  logbuf lb = {0, ""};
  rein_fleet_config c;
  base_config(&c, &mc, &lb);
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  char buf[4096];
  size_t need = 0;
  assert_int_equal(rein_fleet_write_prometheus(f, buf, sizeof buf, &need),
                   REIN_OK);
  assert_int_equal(need, strlen(buf));
  assert_non_null(
      strstr(buf, "rein_fleet_degraded{fleet=\"unit\",instance=\"i1\"} 1\n"));
  assert_non_null(strstr(
      buf, "rein_fleet_refresh_failures_total{fleet=\"unit\",instance=\"i1\"}"
           " 1\n"));
  assert_non_null(strstr(buf, "source=\"local\"} 0\n"));
  char small[64];
  size_t need2 = 0;
  assert_int_equal(rein_fleet_write_prometheus(f, small, sizeof small, &need2),
                   REIN_ETOOBIG);
  assert_int_equal(need2, need);
  assert_true(strlen(small) < sizeof small);
  rein_fleet_free(f);
}

static void test_null(void **state) {
  (void)state;
  rein_fleet_free(NULL);
  assert_null(rein_fleet_budget(NULL));
  assert_null(rein_fleet_breaker(NULL));
  assert_int_equal(rein_fleet_tick(NULL, 0), REIN_EINVAL);
  rein_fleet_status s;
  rein_fleet_status_get(NULL, &s);
  assert_int_equal(s.refreshes, 0);
}

/* Only one of the two objects. */
static void test_breaker_only(void **state) {
  (void)state;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, REIN_NS_PER_S);
  logbuf lb = {0, ""};
  rein_fleet_config c;
  base_config(&c, &mc, &lb);
  c.enable_budget = false;
  c.budget.kind = REIN_BUDGET_QUOTA; /* ignored when disabled */
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  assert_null(rein_fleet_budget(f));
  assert_non_null(rein_fleet_breaker(f));
  rein_fleet_free(f);
}

/* With the thread on, free() stops it promptly even while every refresh
 * fails. */
static void test_thread_stops(void **state) {
  (void)state;
  logbuf lb = {0, ""};
  rein_fleet_config c;
  rein_fleet_config_default(&c);
  c.redis_port = closed_port();
  c.refresh_ns = 5 * REIN_NS_PER_MS;
  c.log = log_cb;
  c.log_ctx = &lb;
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  struct timespec ts = {0, 60 * 1000 * 1000};
  nanosleep(&ts, NULL);
  rein_fleet_status s;
  rein_fleet_status_get(f, &s);
  assert_true(s.failures >= 3);
  assert_int_equal(s.degradations, 1);
  rein_clock mono = rein_clock_monotonic();
  int64_t t0 = rein_clock_now(&mono);
  rein_fleet_free(f);
  assert_true(rein_clock_now(&mono) - t0 < 500 * REIN_NS_PER_MS);
  assert_int_equal(lb.lines, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_fault_loop),
      cmocka_unit_test(test_degraded_budget),
      cmocka_unit_test(test_degraded_breaker),
      cmocka_unit_test(test_prometheus),
      cmocka_unit_test(test_null),
      cmocka_unit_test(test_breaker_only),
      cmocka_unit_test(test_thread_stops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
