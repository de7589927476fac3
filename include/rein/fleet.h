/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/fleet.h: a retry budget and a circuit breaker shared by every
 * instance of a caller, coordinated through Redis.
 *
 * A budget that looks conservative per instance is aggressive across 400
 * instances: every instance brings its own floor and its own ratio of its own
 * traffic. A rein_fleet makes the budget and the breaker properties of the
 * fleet instead. Every instance creates one rein_fleet (per caller ->
 * dependency pair, named by `name`) and gets from it a rein_budget and a
 * rein_breaker that plug into rein_policy exactly like local ones.
 *
 * Redis is never on the per-decision path. Decisions touch only local
 * atomics: a lease of retry tokens the instance holds, striped counters of
 * requests and outcomes, and a cached copy of the fleet breaker state. A
 * refresher (a background thread per rein_fleet, or the caller through
 * rein_fleet_tick) runs two Lua scripts every `refresh_ns`, pipelined in one
 * round trip: it reports the counts, tops the lease up, and reads the fleet
 * breaker state (polling, see docs/fleet.md for why not pub/sub and for the
 * propagation bound). The keys and scripts are described in docs/fleet.md.
 *
 * Budget (RATIO only; the anchor is Finagle's RetryBudget): over the ttl
 * window, fleet-wide retries <= ratio * fleet requests + min_retries_per_sec
 * * ttl_s. Leased tokens count as spent until the instance reports them
 * unused, so the bound holds however tokens are spread; a lease not renewed
 * within `lease_ttl_ns` expires in Redis and its tokens return to the fleet.
 *
 * Breaker: instances report outcomes into time buckets in Redis; the fleet
 * window's failure rate (and slow-call rate) decides CLOSED / OPEN /
 * HALF_OPEN for everyone, with resilience4j's rules (rein/breaker.h). In
 * HALF_OPEN the fleet sends at most `half_open_probes` probes in total:
 * each probe is a slot claimed in Redis by one instance.
 *
 * Degradation: when a refresh fails (Redis unreachable, slower than
 * `command_timeout_ns`, or an error), the instance falls back to its own
 * local rein_budget / rein_breaker (made from the same configs), logs one
 * line, shows `degraded` in rein_fleet_status_get, and rejoins at the first
 * refresh that succeeds (one more log line). A decision whose last successful
 * refresh is older than `stale_ns` uses the local objects even if the
 * refresher has not noticed yet, so fallback happens within stale_ns (default
 * 750 ms) whatever the refresher is doing. An OPEN fleet state seen before
 * Redis went away is honoured until its open time ends.
 *
 * Thread level: rein_fleet is internally synchronized. The budget and
 * breaker it hands out are shared by any number of threads (lock-free on the
 * decision path). rein_fleet_tick may be called from any thread (calls are
 * serialized); rein_fleet_free must not race with any other call.
 */
#ifndef REIN_FLEET_H
#define REIN_FLEET_H

#include "rein/breaker.h"
#include "rein/budget.h"
#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_fleet rein_fleet;

/* Log sink: one line, no trailing newline. Called from the refresher (or
 * the thread calling rein_fleet_tick / rein_fleet_free), never from a
 * decision, while the refresh is in progress: it must not call
 * rein_fleet_tick or rein_fleet_free (rein_fleet_status_get is fine). The
 * same holds for breaker.on_state_change. NULL in the config = write
 * "rein-fleet: LINE\n" to stderr. */
typedef void (*rein_fleet_log_fn)(void *ctx, const char *line);

typedef struct rein_fleet_config {
  const char *redis_host;  /* default "127.0.0.1"; copied */
  int redis_port;          /* default 6379; [1, 65535] */
  const char *key_prefix;  /* default "rein:fleet"; copied; keys are
                              PREFIX:{NAME}:... (one cluster slot per fleet) */
  const char *name;        /* the fleet: one caller -> dependency pair; every
                              instance sharing a budget uses the same name;
                              default "default"; [A-Za-z0-9_.:/-]{1,128} */
  const char *instance_id; /* unique per instance; NULL = hostname-pid-random;
                              copied; [A-Za-z0-9_.:/-]{1,128} */

  int64_t refresh_ns;   /* refresher period; default 100 ms; [1 ms, 10 s] */
  int64_t lease_ttl_ns; /* lease life in Redis and locally; 0 = 3 x
                           refresh_ns; >= refresh_ns */
  uint32_t lease_size;  /* most retry tokens an instance holds; default
                           64; [1, 100000]. Each refresh asks for the
                           last interval's retry demand (granted +
                           refused), at least 1, capped here: size it
                           >= an instance's peak retries per
                           refresh_ns */
  int64_t connect_timeout_ns; /* default 200 ms; [1 ms, 10 s] */
  int64_t command_timeout_ns; /* default 200 ms; [1 ms, 10 s] */
  int64_t stale_ns;           /* decisions fall back to local objects when the
                                 last successful refresh is older; 0 = 750 ms;
                                 must be > refresh_ns */

  bool enable_budget;  /* default true */
  bool enable_breaker; /* default true */
  /* The fleet budget's rules (kind must be RATIO: ratio, ttl_ns,
   * min_retries_per_sec) and, as they are, the local fallback budget. Its
   * alloc/err are ignored (the fleet's are used). */
  rein_budget_config budget;
  /* The fleet breaker's rules (window must be TIME: window_ns, buckets,
   * min_calls, failure_rate, slow_rate, slow_call_ns, open_ns,
   * half_open_probes) and the local fallback breaker. on_state_change and
   * metrics see the fleet's transitions as this instance observes them (on
   * the refresher's thread), and the local breaker's while degraded. */
  rein_breaker_config breaker;

  bool start_thread; /* default true: run the refresher thread. false: the
                        caller drives rein_fleet_tick (tests, event loops) */
  bool join_on_new;  /* default true: rein_fleet_new makes one refresh
                        (bounded by the timeouts) so the instance starts in
                        the fleet; false: starts on local objects until the
                        first refresh */
  rein_clock clock;  /* must be the clock of the policies using the budget
                        and breaker (it compares their `now`); default
                        monotonic */
  rein_fleet_log_fn log;
  void *log_ctx;
  const rein_allocator *alloc;
  rein_errbuf *err;
  uint32_t lease_min;         /* tokens an instance asks for even when it made
                                 no retries last interval: what a burst can
                                 spend before the next refresh. Idle instances
                                 hold this many, which the rest of the fleet
                                 cannot use. Default 1; [1, lease_size] */
  const char *redis_password; /* NULL = no AUTH; copied; sent as AUTH on
                                 every (re)connect */
  int redis_db;               /* SELECT on every (re)connect when > 0;
                                 default 0; [0, 1000000] */
  /* Redis Sentinel: "host:port,host:port,..." (up to 16; copied). When
   * set, redis_host/redis_port are ignored: every (re)connect asks the
   * sentinels for the primary of redis_sentinel_master, so after a
   * failover the next refresh finds the new primary (decisions stay on the
   * local objects meanwhile, as for any outage). Default NULL. */
  const char *redis_sentinels;
  const char *redis_sentinel_master; /* default "mymaster" */
  /* Redis Cluster: "host:port,..." seed nodes (up to 16; copied). The
   * fleet's keys share the hash tag {name}, so its scripts touch one slot;
   * every (re)connect asks the cluster (CLUSTER SLOTS) which node serves
   * it, and a MOVED reply makes the next refresh ask again. Exclusive with
   * redis_sentinels. Default NULL. */
  const char *redis_cluster_nodes;
} rein_fleet_config;

REIN_API void rein_fleet_config_default(rein_fleet_config *c);

/*
 * Validates every field (REIN_EINVAL and a message naming e.g.
 * "fleet.refresh_ns" or "budget.kind"), creates the local fallback objects,
 * the fleet budget and breaker, makes the first refresh when join_on_new
 * (a failure there is not an error: the instance starts degraded and logs
 * it), and starts the refresher thread when start_thread. REIN_ENOMEM on
 * allocation failure, REIN_EIO when the thread cannot be started. Never
 * blocks longer than connect_timeout_ns + command_timeout_ns.
 */
REIN_API rein_status rein_fleet_new(const rein_fleet_config *c,
                                    rein_fleet **out);

/*
 * Stops the refresher (waits for an in-flight refresh, bounded by the
 * timeouts), reports the last counts and returns the unused lease to the
 * fleet (best effort, one round trip), closes the connection and frees
 * everything, including the budget and breaker it handed out. NULL is a
 * no-op.
 */
REIN_API void rein_fleet_free(rein_fleet *f);

/* The fleet budget (kind CUSTOM) / breaker; NULL when disabled. Owned by
 * the fleet: valid until rein_fleet_free; never pass them to
 * rein_budget_free / rein_breaker_free. */
REIN_API rein_budget *rein_fleet_budget(rein_fleet *f);
REIN_API rein_breaker *rein_fleet_breaker(rein_fleet *f);

/*
 * One refresh at `now` (on the fleet's clock): connect if needed, report
 * counts, renew the lease, read the breaker state. REIN_OK when Redis
 * answered; REIN_ECLOSED (unreachable), REIN_ETIMEDOUT or REIN_EBACKEND
 * (Redis error; see rein_fleet_status.last_error) otherwise, in which case
 * the instance is degraded until a later refresh succeeds. Blocks at most
 * connect_timeout_ns + command_timeout_ns (plus one EVAL retry after
 * NOSCRIPT). Serialized with the refresher thread.
 */
REIN_API rein_status rein_fleet_tick(rein_fleet *f, int64_t now);

/* What the instance knows, for metrics, health checks and tests. */
typedef struct rein_fleet_status {
  bool joined;           /* the last refresh succeeded */
  bool degraded;         /* decisions use the local objects */
  uint64_t refreshes;    /* successful refreshes */
  uint64_t failures;     /* failed refreshes */
  uint64_t degradations; /* transitions to degraded (each logged once) */
  uint64_t rejoins;      /* transitions back to the fleet */
  uint64_t commands;     /* Redis commands sent (EVALSHA, EVAL, SCRIPT) */
  uint64_t noscript;     /* EVALSHA answered NOSCRIPT (retried with EVAL) */
  int64_t last_ok_ns;    /* fleet clock time of the last good refresh */
  /* budget */
  uint32_t lease_tokens;  /* tokens held now */
  uint64_t requests;      /* first attempts seen by this instance */
  uint64_t retries_fleet; /* retries granted from the lease */
  uint64_t retries_local; /* retries granted by the local fallback */
  uint64_t retries_refused;
  double fleet_requests; /* fleet requests in the window (last refresh) */
  double fleet_retries;  /* fleet retries reported spent in the window */
  double fleet_leased;   /* tokens leased out fleet-wide, unreported */
  /* breaker */
  rein_breaker_state fleet_state; /* last fleet state read */
  uint32_t generation;            /* fleet breaker generation */
  uint64_t probes_claimed;        /* half-open probe slots this instance got */
  uint64_t breaker_rejections;
  char last_error[160]; /* the last refresh failure, "" if none */
} rein_fleet_status;

REIN_API void rein_fleet_status_get(rein_fleet *f, rein_fleet_status *out);

/*
 * Prometheus text (format 0.0.4) of the status: rein_fleet_degraded,
 * rein_fleet_refreshes_total, rein_fleet_refresh_failures_total,
 * rein_fleet_degradations_total, rein_fleet_redis_commands_total,
 * rein_fleet_lease_tokens, rein_fleet_retries_total{source=fleet|local},
 * rein_fleet_breaker_state, labelled fleet="NAME",instance="ID". Same
 * buffer rules as rein_metrics_write_prometheus: REIN_ETOOBIG when it did
 * not fit (`*needed` says how much is needed).
 */
REIN_API rein_status rein_fleet_write_prometheus(rein_fleet *f, char *buf,
                                                 size_t cap, size_t *needed);

#ifdef __cplusplus
}
#endif
#endif /* REIN_FLEET_H */
