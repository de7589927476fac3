/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_fleet.c: what the fleet budget and breaker cost per decision, next
 * to the local ones, and how many Redis commands they send.
 *
 * The workload is bench_decision's: a call is begin + next(outcome); 95%
 * succeed first time, 5% fail and succeed on one retry (no backoff, so the
 * retry follows on the real clock; only the decisions are timed). Every
 * decision reads the monotonic clock (the fleet compares `now` with its
 * last refresh, so a virtual clock would not do; the local runs read it
 * too, for a fair comparison). Three set-ups, same policy:
 *   local     rein_budget (ratio) + rein_breaker (time window)
 *   fleet     rein_fleet's budget + breaker, refresher thread running
 *             against a live Redis every 100 ms
 *   degraded  rein_fleet pointed at a closed port: local fallback path
 * Medians of 5 runs on 1 and 2 threads; then Redis commands per 1,000
 * decisions, from the fleet's own counter and from the server's INFO
 * commandstats. Uses REIN_REDIS_HOST/PORT when set, else starts its own
 * redis-server on a free loopback port (nothing persisted) and stops it.
 *
 *   build/bench/bench_fleet [calls_per_thread]
 */
#include "rein.h"
#include "rein/fleet.h"

#include <hiredis/hiredis.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  rein_policy *policy;
  long calls;
  long decisions;
  uint64_t seed;
  pthread_barrier_t *go;
} job;

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
  job *j = arg;
  rein_rng rng;
  rein_rng_seed(&rng, j->seed);
  long decisions = 0;
  pthread_barrier_wait(j->go);
  for (long i = 0; i < j->calls; i++) {
    rein_retry r;
    rein_call_opts o = {.seed = j->seed + (uint64_t)i};
    rein_retry_init(&r, j->policy, &o);
    rein_decision d = rein_retry_begin(&r, rein_policy_now(j->policy));
    decisions++;
    bool fail_first = (rein_rng_next(&rng) % 100) < 5;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      int64_t now = rein_policy_now(j->policy);
      if (d.action == REIN_ATTEMPT) {
        rein_outcome out = {0};
        out.kind = fail_first && d.attempt == 1 ? REIN_OUTCOME_FAILURE
                                                : REIN_OUTCOME_SUCCESS;
        d = rein_retry_next(&r, &out, now);
      } else {
        d = rein_retry_next(&r, NULL, now); /* no backoff: WAIT(0) */
      }
      decisions++;
    }
  }
  j->decisions = decisions;
  return NULL;
}

static double run(rein_policy *p, int threads, long calls, long *decisions) {
  pthread_t t[8];
  job jobs[8];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
  for (int i = 0; i < threads; i++) {
    jobs[i] = (job){p, calls, 0, 1234 + (uint64_t)i * 7919, &go};
    pthread_create(&t[i], NULL, worker, &jobs[i]);
  }
  pthread_barrier_wait(&go);
  double t0 = wall();
  for (int i = 0; i < threads; i++)
    pthread_join(t[i], NULL);
  double el = wall() - t0;
  pthread_barrier_destroy(&go);
  *decisions = 0;
  for (int i = 0; i < threads; i++)
    *decisions += jobs[i].decisions;
  return el;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

enum { RUNS = 5, SETUPS = 3 };

typedef struct result {
  double ns1, ns2; /* median ns per decision, 1 thread / per thread of 2 */
  long decisions;  /* all runs */
  double seconds;  /* all runs */
} result;

static rein_policy *policy(rein_budget *b, rein_breaker *k) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.budget = b;
  pc.breaker = k;
  /* No backoff, so the retry follows at once on the real clock (the fleet
   * compares real time with its refreshes; a virtual clock would not do). */
  pc.backoff.kind = REIN_BACKOFF_NONE;
  pc.backoff.jitter = REIN_JITTER_NONE;
  rein_policy *p;
  if (rein_policy_new(&pc, &p)) exit(1);
  return p;
}

/* The set-ups take turns, run by run, so that a machine whose load changes
 * (it is shared) weighs on all of them alike. */
static void measure(rein_policy **p, long calls, result *res) {
  double ns1[SETUPS][RUNS], ns2[SETUPS][RUNS];
  memset(res, 0, sizeof(result) * SETUPS);
  for (int i = 0; i < RUNS; i++) {
    for (int s = 0; s < SETUPS; s++) {
      long d1, d2;
      double e1 = run(p[s], 1, calls, &d1);
      double e2 = run(p[s], 2, calls, &d2);
      ns1[s][i] = e1 * 1e9 / (double)d1;
      ns2[s][i] = e2 * 1e9 / (double)d2 * 2;
      res[s].decisions += d1 + d2;
      res[s].seconds += e1 + e2;
    }
  }
  for (int s = 0; s < SETUPS; s++) {
    qsort(ns1[s], RUNS, sizeof(double), cmp);
    qsort(ns2[s], RUNS, sizeof(double), cmp);
    res[s].ns1 = ns1[s][RUNS / 2];
    res[s].ns2 = ns2[s][RUNS / 2];
  }
}

static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  socklen_t n = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &n);
  close(s);
  return ntohs(a.sin_port);
}

/* Server-side count of the script commands (EVALSHA, EVAL, SCRIPT). */
static long long script_calls(const char *host, int port) {
  struct timeval tv = {2, 0};
  redisContext *c = redisConnectWithTimeout(host, port, tv);
  long long n = -1;
  if (c && !c->err) {
    redisReply *r = redisCommand(c, "INFO commandstats");
    if (r && r->type == REDIS_REPLY_STRING) {
      n = 0;
      const char *names[] = {
          "cmdstat_evalsha:calls=", "cmdstat_eval:calls=",
          "cmdstat_script|load:calls=", "cmdstat_script:calls="};
      for (int i = 0; i < 4; i++) {
        const char *p = strstr(r->str, names[i]);
        if (p) n += atoll(p + strlen(names[i]));
      }
    }
    if (r) freeReplyObject(r);
  }
  if (c) redisFree(c);
  return n;
}

static pid_t start_redis(int port, char *dir, size_t n) {
  snprintf(dir, n, "/tmp/rein-bench-fleet-XXXXXX");
  if (!mkdtemp(dir)) return -1;
  char ports[16];
  snprintf(ports, sizeof ports, "%d", port);
  char log[200];
  snprintf(log, sizeof log, "%s/redis.log", dir);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("redis-server", "redis-server", "--port", ports, "--bind",
           "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
           "--logfile", log, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    if (script_calls("127.0.0.1", port) >= 0) return pid;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  return -1;
}

static rein_fleet *fleet(const char *host, int port, const char *name) {
  rein_fleet_config c;
  rein_fleet_config_default(&c);
  c.redis_host = host;
  c.redis_port = port;
  c.name = name;
  /* The lease is never the limit here (see docs/fleet.md): a 100 ms
   * interval of this loop asks for ~20k retries, even the first one after
   * the other set-ups' turn. */
  c.lease_size = 100000;
  c.lease_min = 30000;
  c.log = NULL;
  rein_fleet *f;
  if (rein_fleet_new(&c, &f) != REIN_OK) {
    fprintf(stderr, "bench_fleet: rein_fleet_new failed\n");
    exit(1);
  }
  return f;
}

static void quiet(void *ctx, const char *line) {
  (void)ctx;
  (void)line;
}

int main(int argc, char **argv) {
  long calls = argc > 1 ? atol(argv[1]) : 500000;
  const char *host = getenv("REIN_REDIS_HOST");
  const char *ports = getenv("REIN_REDIS_PORT");
  int port = ports ? atoi(ports) : 0;
  pid_t own = -1;
  char dir[128] = "";
  if (!host || !port) {
    host = "127.0.0.1";
    port = free_port();
    own = start_redis(port, dir, sizeof dir);
    if (own < 0) {
      fprintf(stderr, "bench_fleet: cannot start redis-server\n");
      return 1;
    }
  }

  rein_budget_config bc;
  rein_budget_config_default(&bc);
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  rein_budget *lb;
  rein_breaker *lk;
  if (rein_budget_new(&bc, &lb) || rein_breaker_new(&kc, &lk)) return 1;

  char name[64];
  snprintf(name, sizeof name, "bench-%ld", (long)getpid());
  rein_fleet *f = fleet(host, port, name);

  rein_fleet_config dc;
  rein_fleet_config_default(&dc);
  dc.redis_port = free_port(); /* nobody listens */
  dc.name = name;
  dc.log = quiet;
  rein_fleet *df;
  if (rein_fleet_new(&dc, &df) != REIN_OK) return 1;

  rein_policy *p[SETUPS] = {
      policy(lb, lk), policy(rein_fleet_budget(f), rein_fleet_breaker(f)),
      policy(rein_fleet_budget(df), rein_fleet_breaker(df))};
  long long srv0 = script_calls(host, port);
  rein_fleet_status s0;
  rein_fleet_status_get(f, &s0);
  double t0 = wall();
  result res[SETUPS];
  measure(p, calls, res);
  double all_s = wall() - t0;
  rein_fleet_status s1;
  rein_fleet_status_get(f, &s1);
  long long srv1 = script_calls(host, port);
  result local = res[0], fl = res[1], deg = res[2];
  for (int s = 0; s < SETUPS; s++)
    rein_policy_free(p[s]);
  rein_fleet_free(f);
  rein_fleet_free(df);
  rein_budget_free(lb);
  rein_breaker_free(lk);

  uint64_t cmds = s1.commands - s0.commands;
  printf("bench_fleet: begin+next, ratio budget + time-window breaker, 5%% "
         "of calls retry once; clock read per decision; %ld calls/thread/run, "
         "median of %d runs\n",
         calls, RUNS);
  printf("  %-9s %10s %16s %8s\n", "", "1 thread", "2 threads (each)",
         "vs local");
  printf("  %-9s %7.1f ns %13.1f ns %8s\n", "local", local.ns1, local.ns2,
         "1.00x");
  printf("  %-9s %7.1f ns %13.1f ns %7.2fx\n", "fleet", fl.ns1, fl.ns2,
         fl.ns1 / local.ns1);
  printf("  %-9s %7.1f ns %13.1f ns %7.2fx\n", "degraded", deg.ns1, deg.ns2,
         deg.ns1 / local.ns1);
  double cps = (double)cmds / all_s, dps = (double)fl.decisions / fl.seconds;
  printf("  Redis commands over the whole %.1f s: %llu sent by the fleet "
         "instance, %lld seen by the server (INFO commandstats) = %.1f per "
         "second, whatever the traffic (one refresh = 2 pipelined EVALSHA "
         "every 100 ms)\n",
         all_s, (unsigned long long)cmds, srv1 - srv0, cps);
  printf("  at the measured fleet rate of %.2f M decisions/s: %.4f Redis "
         "commands per 1,000 decisions\n",
         dps / 1e6, 1000.0 * cps / dps);
  printf("  fleet retries granted from leases: %llu, refused: %llu; "
         "degradations during the run: %llu\n",
         (unsigned long long)(s1.retries_fleet - s0.retries_fleet),
         (unsigned long long)(s1.retries_refused - s0.retries_refused),
         (unsigned long long)(s1.degradations - s0.degradations));
  if (own > 0) {
    kill(own, SIGTERM);
    waitpid(own, NULL, 0);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}
