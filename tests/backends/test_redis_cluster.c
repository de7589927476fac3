/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_redis_cluster.c: the idempotency store and the fleet on a Redis
 * Cluster of 3 primaries (scripts/services.sh start-cluster, started here
 * in a temp dir of its own).
 *
 *  - keys spread: 600 records land on more than one node (all three, in
 *    practice), each call routed by its record's slot;
 *  - MOVED and ASK: 2,000 slots are resharded (with their keys) to
 *    another node behind the store's back while a second store reads every
 *    record in a loop; no read fails, and afterwards every record still
 *    replays through MOVED; then a slot is left half migrated
 *    (MIGRATING/IMPORTING, one record moved): it replays through ASK,
 *    the slot's others from the first node; then the rest move and the
 *    slot is handed over;
 *  - the idempotency conformance suite (test_idem_conformance.c, argv
 *    "redis-cluster") passes on the cluster;
 *  - a fleet joins through the node serving its {name} slot.
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

static const char *g_conformance; /* path of test_idem_memory */
static rein_ha g_ha;

static const rein_idem_scope SCOPE = {"tenant", "POST /charges"};
#define KEYS 600

static int setup(void **state) {
  if (!rein_ha_have(false)) return 0;
  if (!rein_ha_start(&g_ha, "start-cluster")) {
    fprintf(stderr, "scripts/services.sh start-cluster failed\n");
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  rein_ha_stop(&g_ha);
  return 0;
}

static void need(void) {
  if (!rein_ha_have(false)) {
    printf("SKIP: redis-server/redis-cli not installed (scripts/deps.sh "
           "installs them)\n");
    skip();
  }
}

/* Ports of the cluster's nodes, from REIN_CLUSTER_NODES. */
static int ports(int *out) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", g_ha.cluster);
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t && n < 3;
       t = strtok_r(NULL, ",", &save))
    out[n++] = atoi(strrchr(t, ':') + 1);
  return n;
}

static long long node_int(int port, const char *cmd) {
  redisContext *c = redisConnect("127.0.0.1", port);
  assert_true(c && !c->err);
  redisReply *r = redisCommand(c, cmd);
  assert_non_null(r);
  long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  freeReplyObject(r);
  redisFree(c);
  return v;
}

static rein_idem_store *open_store(void) {
  rein_errbuf err = {{0}};
  rein_idem_config c;
  rein_idem_config_default(&c);
  c.err = &err;
  rein_idem_redis_config rc;
  rein_idem_redis_config_default(&rc);
  rc.cluster_nodes = g_ha.cluster;
  rc.prefix = "rein:cl:";
  rein_idem_store *s = NULL;
  if (rein_idem_redis_new(&c, &rc, &s) != REIN_OK)
    fail_msg("rein_idem_redis_new: %s", err.msg);
  return s;
}

static void put(rein_idem_store *s, int i) {
  char key[32];
  snprintf(key, sizeof key, "k%d", i);
  uint8_t fp[32];
  rein_idem_fingerprint(key, strlen(key), fp);
  rein_idem_result r;
  assert_int_equal(rein_idem_begin(s, &SCOPE, key, fp, REIN_NS_PER_S,
                                   600 * REIN_NS_PER_S, &r),
                   REIN_OK);
  assert_int_equal(r.outcome, REIN_IDEM_NEW);
  rein_idem_response resp = {201, "", 0, key, strlen(key)};
  assert_int_equal(rein_idem_complete(s, &r.token, &resp, NULL), REIN_OK);
  rein_idem_result_clear(&r);
}

static void replays(rein_idem_store *s, int i) {
  char key[32];
  snprintf(key, sizeof key, "k%d", i);
  uint8_t fp[32];
  rein_idem_fingerprint(key, strlen(key), fp);
  rein_idem_result r;
  rein_status st = rein_idem_begin(s, &SCOPE, key, fp, REIN_NS_PER_S,
                                   600 * REIN_NS_PER_S, &r);
  if (st != REIN_OK)
    fail_msg("k%d: %s: %s", i, rein_status_name(st), rein_idem_store_errmsg(s));
  if (r.outcome != REIN_IDEM_REPLAY)
    fail_msg("k%d: outcome %d, expected REPLAY", i, (int)r.outcome);
  assert_int_equal(r.response.status, 201);
  assert_memory_equal(r.response.body, key, strlen(key));
  rein_idem_result_clear(&r);
}

typedef struct replayer {
  atomic_bool stop;
  int reads, failures;
  char last[200];
} replayer;

/* Reads every record again and again until told to stop. */
static void *replay_loop(void *arg) {
  replayer *rp = arg;
  rein_idem_store *s = open_store();
  while (!atomic_load(&rp->stop)) {
    for (int i = 0; i < KEYS && !atomic_load(&rp->stop); i++) {
      char key[32];
      snprintf(key, sizeof key, "k%d", i);
      uint8_t fp[32];
      rein_idem_fingerprint(key, strlen(key), fp);
      rein_idem_result r;
      rein_status st = rein_idem_begin(s, &SCOPE, key, fp, REIN_NS_PER_S,
                                       600 * REIN_NS_PER_S, &r);
      rp->reads++;
      if (st != REIN_OK || r.outcome != REIN_IDEM_REPLAY) {
        rp->failures++;
        snprintf(rp->last, sizeof rp->last, "k%d: %s %s", i,
                 rein_status_name(st), rein_idem_store_errmsg(s));
      }
      rein_idem_result_clear(&r);
    }
  }
  rein_idem_store_free(s);
  return NULL;
}

static void test_spread_and_moved(void **state) {
  need();
  rein_idem_store *s = open_store();
  for (int i = 0; i < KEYS; i++)
    put(s, i);
  int p[3];
  assert_int_equal(ports(p), 3);
  int holding = 0;
  long long total = 0;
  for (int i = 0; i < 3; i++) {
    long long n = node_int(p[i], "DBSIZE");
    printf("node :%d holds %lld records\n", p[i], n);
    total += n;
    holding += n > 0;
  }
  assert_true(holding > 1);
  assert_int_equal(total, KEYS);

  /* move 2,000 slots (and their records) from the first node to the
   * second behind the store's back: its slot map is now stale; meanwhile
   * a second store keeps reading every record (during a slot's migration
   * the source answers ASK for a key already moved) */
  replayer rp = {.stop = false};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, replay_loop, &rp), 0);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "from=$(redis-cli -p %d cluster myid) && "
           "to=$(redis-cli -p %d cluster myid) && "
           "redis-cli --cluster reshard 127.0.0.1:%d --cluster-from $from "
           "--cluster-to $to --cluster-slots 2000 --cluster-yes "
           ">%s/reshard.log 2>&1",
           p[0], p[1], p[0], g_ha.dir);
  assert_int_equal(system(cmd), 0);
  atomic_store(&rp.stop, true);
  pthread_join(th, NULL);
  printf("during the reshard: %d reads, %d failed (%s)\n", rp.reads,
         rp.failures, rp.last);
  assert_true(rp.reads > 0);
  assert_int_equal(rp.failures, 0);
  long long after = node_int(p[0], "DBSIZE");
  printf("after resharding 2,000 slots: node :%d holds %lld records\n", p[0],
         after);
  for (int i = 0; i < KEYS; i++)
    replays(s, i); /* MOVED followed, the map corrected */

  /* ASK: a slot half migrated (it still belongs to the first node, which
   * has already handed one of its records to the second): the first node
   * answers ASK for that record, and only ASKING + the script on the
   * second node finds it, while the slot's other records are still served
   * where they were. A slot holding two records or more is preferred, so
   * both paths run (the test's 600 records put two in slot 3591). Every
   * record replays; then the slot's remaining records move
   * too (a slot handed over with a record left behind orphans it: the
   * new owner answers NEW) and every record replays; then the slot is
   * given to the second node for good and every record replays through
   * MOVED. */
  snprintf(cmd, sizeof cmd,
           "a=%d; b=%d; key=$(redis-cli -p $a randomkey) && "
           "for k in $(redis-cli -p $a --scan); do "
           "s=$(redis-cli -p $a cluster keyslot \"$k\"); "
           "[ $(redis-cli -p $a cluster countkeysinslot $s) -gt 1 ] && "
           "{ key=$k; break; }; done; "
           "slot=$(redis-cli -p $a cluster keyslot \"$key\") && "
           "echo slot $slot holds $(redis-cli -p $a cluster countkeysinslot "
           "$slot) records && "
           "aid=$(redis-cli -p $a cluster myid) && "
           "bid=$(redis-cli -p $b cluster myid) && "
           "redis-cli -p $b cluster setslot $slot importing $aid >/dev/null && "
           "redis-cli -p $a cluster setslot $slot migrating $bid >/dev/null && "
           "redis-cli -p $a migrate 127.0.0.1 $b \"$key\" 0 5000 | grep -q OK "
           "&& echo $slot > %s/ask.slot",
           p[0], p[1], g_ha.dir);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < KEYS; i++)
    replays(s, i);
  snprintf(cmd, sizeof cmd,
           "slot=$(cat %s/ask.slot) && "
           "for k in $(redis-cli -p %d cluster getkeysinslot $slot 1000); do "
           "redis-cli -p %d migrate 127.0.0.1 %d \"$k\" 0 5000 | grep -q OK "
           "|| exit 1; done; "
           "[ $(redis-cli -p %d cluster countkeysinslot $slot) -eq 0 ]",
           g_ha.dir, p[0], p[0], p[1], p[0]);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < KEYS; i++)
    replays(s, i);
  snprintf(cmd, sizeof cmd,
           "slot=$(cat %s/ask.slot) && bid=$(redis-cli -p %d cluster myid) && "
           "for p in %d %d %d; do redis-cli -p $p cluster setslot $slot node "
           "$bid >/dev/null || exit 1; done",
           g_ha.dir, p[1], p[0], p[1], p[2]);
  assert_int_equal(system(cmd), 0);
  for (int i = 0; i < KEYS; i++)
    replays(s, i);
  rein_idem_store_free(s);
}

static void test_conformance(void **state) {
  need();
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "REIN_CLUSTER_NODES='%s' '%s' redis-cluster",
           g_ha.cluster, g_conformance);
  int rc = system(cmd);
  assert_int_equal(rc, 0);
}

static void test_fleet(void **state) {
  need();
  rein_fleet_config c;
  rein_fleet_config_default(&c);
  c.redis_cluster_nodes = g_ha.cluster;
  c.start_thread = false;
  c.name = "cluster.test";
  rein_fleet *f = NULL;
  assert_int_equal(rein_fleet_new(&c, &f), REIN_OK);
  assert_int_equal(rein_fleet_tick(f, rein_clock_now(&c.clock)), REIN_OK);
  rein_fleet_status fs;
  rein_fleet_status_get(f, &fs);
  assert_false(fs.degraded);
  assert_true(fs.joined);
  rein_fleet_free(f);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-OF-test_idem_memory\n", argv[0]);
    return 2;
  }
  g_conformance = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spread_and_moved),
      cmocka_unit_test(test_fleet),
      cmocka_unit_test(test_conformance),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
