/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ha_redis.c: runs scripts/services.sh start-sentinel / start-cluster for
 * a test (see ha_redis.h) and parses the export lines it prints.
 */
#include "ha_redis.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef REIN_SOURCE_DIR
#define REIN_SOURCE_DIR "."
#endif

static bool on_path(const char *exe) {
  const char *path = getenv("PATH");
  if (!path) return false;
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  char *save = NULL;
  for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", d, exe);
    if (access(p, X_OK) == 0) return true;
  }
  return false;
}

bool rein_ha_have(bool sentinel) {
  return on_path("redis-server") && on_path("redis-cli") &&
         (!sentinel || on_path("redis-sentinel"));
}

static void take(const char *line, const char *name, char *dst, size_t cap) {
  char pre[64];
  snprintf(pre, sizeof pre, "export %s=", name);
  size_t n = strlen(pre);
  if (strncmp(line, pre, n) != 0) return;
  const char *v = line + n;
  if (*v == '\'') v++;
  snprintf(dst, cap, "%s", v);
  size_t l = strlen(dst);
  while (l && (dst[l - 1] == '\n' || dst[l - 1] == '\''))
    dst[--l] = 0;
}

bool rein_ha_start(rein_ha *h, const char *what) {
  memset(h, 0, sizeof *h);
  snprintf(h->dir, sizeof h->dir, "/tmp/rein-ha.XXXXXX");
  if (!mkdtemp(h->dir)) return false;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "%s/scripts/services.sh %s %s", REIN_SOURCE_DIR,
           what, h->dir);
  FILE *p = popen(cmd, "r");
  if (!p) return false;
  char line[512], v[256];
  while (fgets(line, sizeof line, p)) {
    take(line, "REIN_SENTINELS", h->sentinels, sizeof h->sentinels);
    take(line, "REIN_SENTINEL_MASTER", h->master, sizeof h->master);
    take(line, "REIN_CLUSTER_NODES", h->cluster, sizeof h->cluster);
    v[0] = 0;
    take(line, "REIN_SENTINEL_PRIMARY_PORT", v, sizeof v);
    if (v[0]) h->primary_port = atoi(v);
    v[0] = 0;
    take(line, "REIN_SENTINEL_REPLICA_PORT", v, sizeof v);
    if (v[0]) h->replica_port = atoi(v);
  }
  int rc = pclose(p);
  if (rc != 0) {
    fprintf(stderr, "ha_redis: `%s` failed (%d)\n", cmd, rc);
    rein_ha_stop(h);
    return false;
  }
  return true;
}

void rein_ha_stop(rein_ha *h) {
  if (!h->dir[0]) return;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "%s/scripts/services.sh stop %s", REIN_SOURCE_DIR,
           h->dir);
  if (system(cmd) != 0) fprintf(stderr, "ha_redis: `%s` failed\n", cmd);
  h->dir[0] = 0;
}

void rein_ha_kill(const rein_ha *h, int port) {
  char path[400];
  snprintf(path, sizeof path, "%s/redis-%d.pid", h->dir, port);
  FILE *f = fopen(path, "r");
  if (!f) return;
  long pid = 0;
  if (fscanf(f, "%ld", &pid) == 1 && pid > 1) kill((pid_t)pid, SIGKILL);
  fclose(f);
  unlink(path);
}

bool rein_ha_restart(const rein_ha *h, int port) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "sh %s/redis-%d.cmd", h->dir, port);
  return system(cmd) == 0;
}

int rein_ha_primary(const rein_ha *h) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", h->sentinels);
  char *save = NULL;
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char *c = strrchr(t, ':');
    if (!c) continue;
    struct timeval tv = {0, 300000};
    redisContext *r = redisConnectWithTimeout("127.0.0.1", atoi(c + 1), tv);
    if (!r || r->err) {
      if (r) redisFree(r);
      continue;
    }
    redisSetTimeout(r, tv);
    redisReply *rep =
        redisCommand(r, "SENTINEL get-master-addr-by-name %s", h->master);
    int port = 0;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
      port = atoi(rep->element[1]->str);
    if (rep) freeReplyObject(rep);
    redisFree(r);
    if (port) return port;
  }
  return 0;
}
