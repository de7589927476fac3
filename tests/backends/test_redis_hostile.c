/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_redis_hostile.c: a hostile or broken Redis cannot stall rein past
 * its documented bounds (issue 15, item 7). Each of rein's three Redis
 * users (the idempotency store, the fleet, the Redis Streams broker) is
 * pointed at a fake server (tests/support/hostile_redis.c) that answers
 * garbage, an array header of 2^31-1 elements, a bulk string of 2^31-1
 * bytes, nested million-element arrays, a drip of one byte every 20 ms, or
 * nothing at all. Every call must come back with a clear error within its
 * bound (measured; the margin is generous for a loaded machine): before the
 * bounded connection layer the huge array cost 7 s in rein_fleet_new and
 * 9 s in rein_fleet_free, and the drip never ended.
 */
#include "hostile_redis.h"
#include "rein_test.h"

#include "rein/fleet.h"
#include "rein/idem.h"
#include "rein/inbox.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TIMEOUT_MS 200
/* The bound is the documented one; MARGIN covers a loaded 2-core box. */
#define MARGIN_MS 1500

static int64_t ms_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const rein_hostile_mode MODES[] = {
    REIN_HOSTILE_GARBAGE, REIN_HOSTILE_HUGE_ARRAY, REIN_HOSTILE_HUGE_BULK,
    REIN_HOSTILE_NESTED,  REIN_HOSTILE_DRIP,       REIN_HOSTILE_BLACKHOLE};

/* What the error must say for each mode (any of the words). */
static void assert_clear(rein_hostile_mode m, const char *msg) {
  const char *want[3] = {NULL, NULL, NULL};
  switch (m) {
  case REIN_HOSTILE_GARBAGE:
    want[0] = "protocol error";
    break;
  case REIN_HOSTILE_HUGE_ARRAY:
    want[0] = "array of 2147483647 elements";
    break;
  case REIN_HOSTILE_HUGE_BULK: /* the cap or the deadline, whichever first */
    want[0] = "bytes in one reply";
    want[1] = "timed out";
    break;
  case REIN_HOSTILE_NESTED:
    want[0] = "elements in one reply";
    want[1] = "timed out";
    break;
  case REIN_HOSTILE_DRIP:
  case REIN_HOSTILE_BLACKHOLE:
    want[0] = "timed out";
    break;
  }
  for (int i = 0; i < 3 && want[i]; i++)
    if (strcasestr(msg, want[i])) return;
  fail_msg("%s: the error \"%s\" does not say \"%s\"",
           rein_hostile_mode_name(m), msg, want[0]);
}

static void check_time(const char *who, rein_hostile_mode m, int64_t took,
                       int64_t bound) {
  printf("  %-28s %-14s %5lld ms (bound %lld ms)\n", who,
         rein_hostile_mode_name(m), (long long)took, (long long)bound);
  if (took > bound + MARGIN_MS)
    fail_msg("%s against %s took %lld ms, bound %lld ms", who,
             rein_hostile_mode_name(m), (long long)took, (long long)bound);
}

static void test_idem_store(void **state) {
  for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++) {
    rein_hostile *h = rein_hostile_start(MODES[i], 20);
    rein_errbuf err = {{0}};
    rein_idem_config c;
    rein_idem_config_default(&c);
    c.err = &err;
    rein_idem_redis_config rc;
    rein_idem_redis_config_default(&rc);
    rc.port = rein_hostile_port(h);
    rc.timeout_ms = TIMEOUT_MS;
    rein_idem_store *s = NULL;
    int64_t t0 = ms_now();
    rein_status st = rein_idem_redis_new(&c, &rc, &s);
    int64_t took = ms_now() - t0;
    assert_int_not_equal(st, REIN_OK);
    assert_null(s);
    /* documented: connect and each of the two SCRIPT LOADs within
     * timeout_ms; the first SCRIPT LOAD fails */
    check_time("rein_idem_redis_new", MODES[i], took, 2 * TIMEOUT_MS);
    assert_clear(MODES[i], err.msg);
    rein_hostile_stop(h);
  }
}

static void quiet(void *ctx, const char *line) {
  (void)ctx, (void)line;
}

static void test_fleet(void **state) {
  for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++) {
    rein_hostile *h = rein_hostile_start(MODES[i], 20);
    rein_fleet_config c;
    rein_fleet_config_default(&c);
    c.redis_port = rein_hostile_port(h);
    c.connect_timeout_ns = 100 * REIN_NS_PER_MS;
    c.command_timeout_ns = 200 * REIN_NS_PER_MS;
    c.start_thread = false;
    c.log = quiet;
    rein_fleet *f = NULL;
    int64_t t0 = ms_now();
    assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
    int64_t took = ms_now() - t0;
    check_time("rein_fleet_new", MODES[i], took, 300);
    rein_fleet_status fs;
    rein_fleet_status_get(f, &fs);
    assert_true(fs.degraded);
    assert_clear(MODES[i], fs.last_error);
    /* a refresh against the same server: the same bound */
    t0 = ms_now();
    assert_int_not_equal(rein_fleet_tick(f, rein_clock_now(&c.clock)), REIN_OK);
    check_time("rein_fleet_tick", MODES[i], ms_now() - t0, 300);
    t0 = ms_now();
    rein_fleet_free(f);
    check_time("rein_fleet_free", MODES[i], ms_now() - t0, 300);
    rein_hostile_stop(h);
  }
}

static void test_broker(void **state) {
  for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++) {
    rein_hostile *h = rein_hostile_start(MODES[i], 20);
    rein_errbuf err = {{0}};
    rein_broker_redis_config c;
    rein_broker_redis_config_default(&c);
    c.port = rein_hostile_port(h);
    c.connect_timeout_ns = TIMEOUT_MS * REIN_NS_PER_MS;
    c.stream = "s";
    c.group = "g";
    c.consumer = "c";
    c.err = &err;
    rein_broker *b = NULL;
    int64_t t0 = ms_now();
    rein_status st = rein_broker_redis_new(&c, &b);
    int64_t took = ms_now() - t0;
    assert_int_not_equal(st, REIN_OK);
    assert_null(b);
    /* connect, then CLIENT SETNAME within the timeout */
    check_time("rein_broker_redis_new", MODES[i], took, 2 * TIMEOUT_MS);
    assert_clear(MODES[i], err.msg);
    rein_hostile_stop(h);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idem_store),
      cmocka_unit_test(test_fleet),
      cmocka_unit_test(test_broker),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
