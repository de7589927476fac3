/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sim_internal.h: the scenario model shared by the loader, the engine and
 * the writers of src/sim. Not installed.
 *
 * The loader turns YAML into these plain structs once; the engine reads them
 * (never writes) so one scenario can be run by several threads at once.
 * Durations are int64_t ns; distributions hold their parameters in ns.
 */
#ifndef REIN_SIM_INTERNAL_H
#define REIN_SIM_INTERNAL_H

#include "rein.h"
#include "rein/model.h"
#include "rein/sim.h"
#ifdef REIN_SIM_ADMIT
#include "rein/admit.h"
#endif

#define SIM_NAME_MAX 64
#define SIM_MAX_REPLICAS 64 /* a server's `replicas` (a bit each per call) */
#define SIM_MAX_WARNINGS 16

typedef enum sim_dist_kind {
  SIM_D_CONSTANT = 0,
  SIM_D_EXPONENTIAL,
  SIM_D_UNIFORM,
  SIM_D_LOGNORMAL,
  SIM_D_BIMODAL,
  SIM_D_NORMAL
} sim_dist_kind;

/* constant: a; exponential: mean a; uniform: [a, b]; lognormal: mu = a
 * (ln of the median in ns), sigma = b; bimodal: fast a, slow b, p(slow) c;
 * normal: mean a, stddev b, truncated to [c, d]. */
typedef struct sim_dist {
  sim_dist_kind kind;
  double a, b, c, d;
} sim_dist;

/* A named policy of the scenario: the model's spec (rein/model.h: what a
 * contract declares, read through the same table; scopes FLEET = one object
 * per cohort, INSTANCE = one per client) plus what only a simulated client
 * has. */
typedef struct sim_policy_spec {
  char name[SIM_NAME_MAX];
  rein_policy_spec spec;
  int propagate;     /* a tier using it returns dont_retry upstream */
  int honor_signals; /* feed Retry-After / pushback / dont_retry in */
  int attempt_header; /* requests carry their attempt number (Rein-Attempt):
                         admission can shed retries first; 0: it sees
                         every attempt as a first one */
  int sticky;         /* `endpoints: sticky`: every attempt of a call goes
                         to the replica its first attempt went to (one URL
                         behind a DNS name); 0 (`spread`, the default):
                         later attempts go to a replica the call has not
                         tried, as rein_curl's endpoints (docs/http.md) */
} sim_policy_spec;

typedef enum sim_arrival {
  SIM_ARRIVAL_POISSON = 0,
  SIM_ARRIVAL_CLOSED = 1,
  SIM_ARRIVAL_ONE_SHOT = 2,
  SIM_ARRIVAL_PERIODIC = 3 /* open loop, evenly spaced (engine.c) */
} sim_arrival;

typedef struct sim_cohort_spec {
  char name[SIM_NAME_MAX];
  uint32_t count;
  sim_arrival arrival;
  double rate;       /* poisson, periodic: logical calls/s per client */
  sim_dist think;    /* closed, one-shot after a give-up */
  sim_dist start;    /* when each client starts (closed, one-shot) */
  int64_t begin_ns, end_ns; /* active window; end 0 = until the end */
  int64_t timeout_ns;  /* per-attempt timeout */
  int64_t deadline_ns; /* per logical call; 0 none */
  int idempotent, key;
  uint32_t target;     /* server index */
  uint32_t policy;     /* default policy index */
} sim_cohort_spec;

typedef enum sim_queue_kind { SIM_FIFO = 0, SIM_LIFO = 1 } sim_queue_kind;

typedef struct sim_server_spec {
  char name[SIM_NAME_MAX];
  uint32_t concurrency;
  sim_dist service;
  uint32_t queue_cap;
  sim_queue_kind queue_kind;
  int64_t per_inflight_ns;   /* latency += this x in-flight */
  double threshold_rate;     /* arrivals/s above which latency x factor */
  double threshold_factor;
  sim_dist network;          /* one-way delay per message */
  int has_network;
  double failure_p;
  /* shedding */
  int shed;
  uint32_t shed_queue_over;  /* 0 = off */
  int64_t shed_wait_over_ns; /* 0 = off */
  int64_t retry_after_ns;    /* 0 none; -1 auto (queue / drain rate) */
  int64_t pushback_ns;
  int shed_dont_retry;
  int dedup;                 /* honours idempotency keys */
  uint32_t occ_keys;         /* optimistic concurrency resource; 0 off */
  int has_downstream;
  uint32_t downstream;       /* server index */
  uint32_t policy;           /* for downstream calls */
  int64_t timeout_ns;        /* downstream attempt timeout */
  int idempotent;
  /* rein admission control (rein/admit.h) in front of the workers */
  int has_admission;
  uint32_t adm_limit, adm_queue, adm_retry_queue;
  int64_t adm_target_ns, adm_interval_ns, adm_max_wait_ns;
  int64_t adm_ra_min_ns, adm_ra_max_ns;
  int adm_lifo, adm_dont_retry;
  /* `replicas: N` (1..SIM_MAX_REPLICAS, default 1): N independent copies,
   * each with this concurrency, queue, service time and admission; the
   * engine gives each its own state (engine.c, "Replicas") */
  uint32_t replicas;
} sim_server_spec;

typedef enum sim_incident_kind {
  SIM_INC_OUTAGE = 0,
  SIM_INC_CAPACITY = 1,
  SIM_INC_FAILURE = 2
} sim_incident_kind;

typedef enum sim_outage_mode {
  SIM_OUT_ERROR = 0,  /* answers 5xx at once */
  SIM_OUT_DROP = 1,   /* requests vanish: callers time out */
  SIM_OUT_SLOW = 2,   /* service time x factor */
  SIM_OUT_REFUSE = 3, /* connection refused: NOT_SENT */
  SIM_OUT_BUFFER = 4  /* a partition that holds requests and answers and
                         delivers them all when it ends */
} sim_outage_mode;

typedef struct sim_incident_spec {
  sim_incident_kind kind;
  sim_outage_mode mode;
  uint32_t server;
  int64_t start_ns, end_ns;
  double factor;      /* slow / capacity */
  double probability; /* failure */
  uint32_t status;    /* error outage / failure: the rein_condition
                         answered, an HTTP status or a gRPC status (default
                         HTTP 500; its kind from rein/classify.h) */
  int32_t replica;    /* the one replica it hits; -1 (default) all */
} sim_incident_spec;

/* `recovery: {against: ...}` (in RECOVERY_AGAINST's order, scenario.c) */
typedef enum sim_recovery {
  SIM_RECOVERY_BASELINE = 0, /* the goodput and load before the incident */
  SIM_RECOVERY_OFFERED = 1   /* the logical calls begun in the window */
} sim_recovery;

typedef struct sim_variant_spec {
  char name[SIM_NAME_MAX];
  uint32_t *cohort_policy; /* per cohort */
  uint32_t *server_policy; /* per server */
  uint8_t *admission;      /* per server: use its admission block */
} sim_variant_spec;

struct rein_sim_scenario {
  const rein_allocator *alloc;
  char name[SIM_NAME_MAX];
  char *description;
  uint64_t seed;
  int64_t duration_ns, interval_ns;
  int64_t baseline_ns;      /* 0: everything before the first incident */
  int64_t recovery_hold_ns;
  double recovery_tolerance;
  int recovery_against;     /* sim_recovery: what recovery is measured
                               against */
  uint32_t primary;         /* server shown in the time series */
  uint64_t max_memory;      /* bytes, 0 = the run config's (or default) */
  size_t n_policies, n_cohorts, n_servers, n_incidents, n_variants;
  sim_policy_spec *policies;
  sim_cohort_spec *cohorts;
  sim_server_spec *servers;
  sim_incident_spec *incidents;
  sim_variant_spec *variants;
  size_t n_warnings; /* deprecated spellings read, one line each */
  char warnings[SIM_MAX_WARNINGS][256];
};

/* Mean of a distribution in ns (truncation of normal ignored). */
double rein__sim_dist_mean(const sim_dist *d);
/* Nominal capacity of a server in requests/s: concurrency / mean service. */
double rein__sim_server_capacity(const sim_server_spec *s);

void *rein__sim_alloc(const rein_allocator *a, size_t n);
void *rein__sim_calloc(const rein_allocator *a, size_t n);
void rein__sim_free(const rein_allocator *a, void *p);

/* Exponential variates by the ziggurat method (expz.c): the tables of the
 * 256 strips (x[i] their right edges, f[i] = exp(-x[i])), built once per
 * run. rein__sim_expz(z, r) returns an Exp(1) draw; about 99% of draws
 * take one rein_rng_next, a multiply and a compare. */
typedef struct sim_expz {
  double x[257], f[257];
} sim_expz;

void rein__sim_expz_init(sim_expz *z);
/* The uncommon path: strip `i` (0 = the tail) and its point `x` missed the
 * inner rectangle. */
double rein__sim_expz_slow(const sim_expz *z, rein_rng *r, unsigned i,
                           double x);

static inline double rein__sim_expz(const sim_expz *z, rein_rng *r) {
  uint64_t b = rein_rng_next_inline(r);
  unsigned i = (unsigned)(b & 255);
  double x = (double)(b >> 11) * 0x1.0p-53 * z->x[i];
  if (__builtin_expect(x < z->x[i + 1], 1)) return x;
  return rein__sim_expz_slow(z, r, i, x);
}

#define SIM_LAT_BUCKETS (64 * 60)

struct rein_sim_result {
  const rein_allocator *alloc;
  char variant[SIM_NAME_MAX];
  char scenario[SIM_NAME_MAX];
  uint64_t seed;
  double interval_s, duration_s;
  double inc_start_s, inc_end_s; /* -1 when no incident */
  size_t n_points;
  rein_sim_point *points;
  rein_sim_summary summary;
  rein_sim_server_summary *servers;
  char (*server_names)[SIM_NAME_MAX];
  /* one row per replica of every server, server by server; server k's
   * are [replica_first[k], replica_first[k + 1]) */
  rein_sim_server_summary *replicas;
  char (*replica_names)[SIM_NAME_MAX + 16]; /* "NAME[i]" */
  uint32_t *replica_first;
};

#endif
