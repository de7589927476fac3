/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ha_redis.h: Redis Sentinel and Cluster sets for tests, started with
 * scripts/services.sh (start-sentinel, start-cluster) in a temp directory
 * of their own and stopped with `services.sh stop`. One home for how the
 * sets are made: the script; this is the C side that runs it, reads its
 * exports and can SIGKILL and restart one server.
 */
#ifndef REIN_TEST_HA_REDIS_H
#define REIN_TEST_HA_REDIS_H

#include <stdbool.h>

typedef struct rein_ha {
  char dir[256];
  char sentinels[256]; /* REIN_SENTINELS */
  char master[64];     /* REIN_SENTINEL_MASTER */
  int primary_port, replica_port;
  char cluster[256]; /* REIN_CLUSTER_NODES */
} rein_ha;

/* Whether redis-server (and, for a sentinel set, redis-sentinel) is on
 * PATH; tests skip with a message only when it is not. */
bool rein_ha_have(bool sentinel);
/* Starts a set ("start-sentinel" or "start-cluster"); false with the
 * script's output on stderr when it failed. */
bool rein_ha_start(rein_ha *h, const char *what);
void rein_ha_stop(rein_ha *h);
/* SIGKILL the redis-server on `port` of the set / start it again with its
 * recorded command line (DIR/redis-PORT.cmd). */
void rein_ha_kill(const rein_ha *h, int port);
bool rein_ha_restart(const rein_ha *h, int port);
/* The port the sentinels name as primary now (asks the first that
 * answers); 0 when none answers. */
int rein_ha_primary(const rein_ha *h);

#endif
