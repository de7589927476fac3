/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/sim.h: the discrete-event simulator behind `rein simulate`.
 *
 * A scenario (YAML, see docs/simulator.md) describes client cohorts, servers,
 * tiers, incidents and named retry policies. rein_sim_run plays it on a
 * virtual clock (a rein_manual_clock) and drives the library's own objects:
 * every logical call is a rein_retry walked through rein_retry_begin /
 * rein_retry_next with `now` taken from the virtual clock, against the
 * rein_budget, rein_breaker and rein_throttle the scenario asks for. Nothing
 * here re-implements a policy; the simulator only models the world around it
 * (arrivals, queues, service times, networks, incidents) and measures.
 *
 * Determinism: every random draw comes from rein_rng streams seeded from the
 * run's seed; per-call seeds go through rein_call_opts.seed and the stripe is
 * fixed, so the same scenario, variant and seed give byte-identical output on
 * any machine and thread.
 *
 * Variants: a scenario may name several variants (e.g. "naive" and "rein"),
 * each choosing which policy every cohort and tier uses. --compare runs them
 * on the same seed.
 *
 * Thread level: a loaded rein_sim_scenario is immutable; share it between
 * threads and run several rein_sim_run on it at once. A rein_sim_result is
 * immutable after rein_sim_run returns, a rein_sim_sweep after
 * rein_sim_sweep_run returns (a sweep runs its own threads; see below).
 */
#ifndef REIN_SIM_H
#define REIN_SIM_H

#include "rein/common.h"
#include "rein/errors.h"
#include "rein/model.h"
#include "rein/retry.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_sim_scenario rein_sim_scenario;
typedef struct rein_sim_result rein_sim_result;

/*
 * Load a scenario from a file (`path`) or from memory (`text`, `len`,
 * `filename` used in messages). On a bad scenario returns REIN_EPARSE (YAML
 * syntax) or REIN_EINVAL (a field) and writes one line to `err` (may be NULL):
 *   "file:line:col: field.path: what was expected"
 * with a did-you-mean for unknown fields; text nested deeper than
 * REIN_YAML_MAX_DEPTH (64) levels is refused before libyaml parses it
 * (REIN_EPARSE at the line and column). REIN_EIO when the file cannot be
 * read, REIN_EINVAL when it is not a regular file (a FIFO or a device is
 * refused without blocking), REIN_ETOOBIG past 16 MiB, REIN_ENOMEM on
 * allocation failure. `alloc` may be NULL (malloc).
 * Never crashes on any input (the loader is fuzzed).
 */
REIN_API rein_status rein_sim_scenario_load(const char *path,
                                            const rein_allocator *alloc,
                                            rein_errbuf *err,
                                            rein_sim_scenario **out);
REIN_API rein_status rein_sim_scenario_parse(const char *text, size_t len,
                                             const char *filename,
                                             const rein_allocator *alloc,
                                             rein_errbuf *err,
                                             rein_sim_scenario **out);
/* NULL is a no-op. No run may be using the scenario. */
REIN_API void rein_sim_scenario_free(rein_sim_scenario *s);

REIN_API const char *rein_sim_scenario_name(const rein_sim_scenario *s);

/* The spec the scenario's policy `name` resolved to (rein/model.h; from the
 * scenario's own fields or from the contract it names): the engine builds
 * each client's objects from it with rein_policy_spec_build (the cohort's
 * timeout and idempotency filled in). Strings in it point into the
 * scenario. REIN_ENOTFOUND for an unknown name, REIN_EINVAL for NULL. */
REIN_API rein_status rein_sim_scenario_policy_spec(const rein_sim_scenario *s,
                                                   const char *name,
                                                   rein_policy_spec *out);
/* Warnings of the load (deprecated spellings, at most 16), one line each:
 * "file:line:col: warning: ...". NULL past the end. */
REIN_API size_t rein_sim_scenario_warning_count(const rein_sim_scenario *s);
REIN_API const char *rein_sim_scenario_warning(const rein_sim_scenario *s,
                                               size_t i);
REIN_API uint64_t rein_sim_scenario_seed(const rein_sim_scenario *s);
REIN_API int64_t rein_sim_scenario_duration(const rein_sim_scenario *s);
/* Clients in all cohorts together. */
REIN_API uint64_t rein_sim_scenario_clients(const rein_sim_scenario *s);
/* Variants in file order; a scenario without a `variants` section has one,
 * named "default". */
REIN_API size_t rein_sim_variant_count(const rein_sim_scenario *s);
REIN_API const char *rein_sim_variant_name(const rein_sim_scenario *s,
                                           size_t i);
/* REIN_ENOTFOUND when no variant has that name. */
REIN_API rein_status rein_sim_variant_find(const rein_sim_scenario *s,
                                           const char *name, size_t *idx);

typedef struct rein_sim_run_config {
  size_t variant;   /* index; default 0 */
  uint64_t seed;    /* 0 = the scenario's seed */
  int64_t duration_ns; /* 0 = the scenario's duration */
  uint64_t max_events; /* stop (REIN_ETOOBIG) after this many; default 2e9 */
  /* Called now and then with the fraction of virtual time done; optional. */
  void (*progress)(void *ctx, double fraction);
  void *progress_ctx;
  const rein_allocator *alloc;
  rein_errbuf *err;
  /* Memory budget of the run in bytes (appended in 0.2). 0 = the
   * scenario's max_memory, else half of the physical RAM, at most
   * MemAvailable. The engine accounts for everything it allocates (clients,
   * calls, requests, events, server queues, series, policy objects); the
   * run stops with REIN_ETOOBIG and a message naming what grew before the
   * budget is passed, and a scenario whose clients and series alone do not
   * fit is refused before it starts. */
  uint64_t max_memory;
} rein_sim_run_config;

REIN_API void rein_sim_run_config_default(rein_sim_run_config *c);

/* The default memory budget of a run: half of the physical memory, at most
 * MemAvailable (/proc/meminfo), at least 64 MiB. Reads /proc each call. */
REIN_API uint64_t rein_sim_default_memory(void);
/* The scenario's max_memory in bytes; 0 when it sets none. */
REIN_API uint64_t rein_sim_scenario_max_memory(const rein_sim_scenario *s);

/*
 * Run one variant of `s` to the end of its duration. REIN_OK and a result in
 * `*out`; REIN_EINVAL when a policy, budget, breaker or throttle rejects its
 * configuration (message in c->err), REIN_ENOMEM, REIN_ETOOBIG when
 * max_events was reached or the memory budget (max_memory) would be passed.
 * Deterministic in (scenario, variant, seed).
 */
REIN_API rein_status rein_sim_run(const rein_sim_scenario *s,
                                  const rein_sim_run_config *c,
                                  rein_sim_result **out);
REIN_API void rein_sim_result_free(rein_sim_result *r);

/* One interval of the time series. Counts are of things that happened in
 * [t_s, t_s + interval); gauges (inflight, queue, breaker_open, capacity)
 * are sampled at the interval's end. */
typedef struct rein_sim_point {
  double t_s;
  uint64_t offered;     /* logical calls begun by client cohorts */
  uint64_t attempts;    /* attempts sent by client cohorts */
  uint64_t retries;     /* ... of which retries (attempt >= 2) */
  uint64_t successes;   /* logical calls that ended DONE (goodput) */
  uint64_t failures;    /* logical calls that gave up */
  uint64_t rejections;  /* attempts the primary server shed or refused */
  uint64_t timeouts;    /* client attempts that timed out */
  uint64_t duplicates;  /* duplicate side effects */
  uint64_t load;        /* attempts arriving at the primary server */
  uint64_t load_retries; /* ... of which retries */
  uint32_t inflight;    /* client logical calls in progress */
  uint32_t queue;       /* primary server queue length */
  uint32_t breaker_open; /* clients whose breaker is open */
  double capacity_per_s; /* primary server capacity at that time */
} rein_sim_point;

typedef struct rein_sim_server_summary {
  const char *name;
  uint64_t arrivals;    /* attempts that reached the server */
  uint64_t executed;    /* attempts served to completion with success */
  uint64_t shed;        /* shed by load shedding or a full queue */
  uint64_t wasted;      /* completed after the caller had timed out */
  uint64_t failed;      /* answered with an error */
  uint32_t peak_queue;
  double per_logical;   /* arrivals / client logical calls */
} rein_sim_server_summary;

/* The summary; field meanings in docs/simulator.md. -1 = not applicable. */
typedef struct rein_sim_summary {
  uint64_t logical, attempts, retries, successes, giveups, timeouts;
  uint64_t giveups_by_reason[REIN_GIVEUP_COUNT_];
  uint64_t duplicates, extra_executions, wasted, server_attempts, events;
  double amplification, peak_amplification;
  double peak_load_ratio, peak_retry_ratio;
  double goodput_per_s, baseline_goodput_per_s, success_ratio;
  double latency_p50_ms, latency_p99_ms, latency_p999_ms;
  double recovery_s; /* -1 when there is no incident */
  int recovered;     /* 1 recovered, 0 never (recovery_s is then a lower
                        bound), -1 no incident */
  double completion_s; /* one-shot cohorts: when the last client succeeded;
                          -1 none or not all succeeded */
  uint64_t oneshot_clients, oneshot_done;
  size_t n_servers;
  const rein_sim_server_summary *servers; /* in scenario order; owned by
                                             the result, valid until
                                             rein_sim_result_free */
  /* Appended: hedged calls (a policy with a `hedge` block): hedges sent
   * (also counted in retries), and attempts in flight cancelled when their
   * call ended (a cancelled request still queued at its server is dropped
   * there; one already in service runs on: `wasted`). */
  uint64_t hedges, hedges_cancelled;
} rein_sim_summary;

/* The summary and the time series of a result; both stay valid until
 * rein_sim_result_free. NULL / 0 for a NULL result. */
REIN_API const rein_sim_summary *rein_sim_result_summary(
    const rein_sim_result *r);
REIN_API size_t rein_sim_result_series(const rein_sim_result *r,
                                       const rein_sim_point **points);
REIN_API const char *rein_sim_result_variant(const rein_sim_result *r);
REIN_API uint64_t rein_sim_result_seed(const rein_sim_result *r);
/* The replicas of server `server` (scenario order; a server's `replicas`,
 * docs/simulator.md "Replicas"): returns how many (1 for a server without
 * `replicas`) and points *rows (may be NULL) at one row per replica, in
 * replica order, named "NAME[i]", owned by the result. The server's own
 * row (summary.servers) adds them up (peak_queue: the largest replica's).
 * 0 and NULL for a NULL result or a server out of range. Appended in
 * 0.3. */
REIN_API size_t rein_sim_result_replicas(const rein_sim_result *r,
                                         size_t server,
                                         const rein_sim_server_summary **rows);

/* The summary's scalar fields as (name, value) pairs, in a fixed order, for
 * tables, JSON and aggregation over runs. Returns how many there are; fills
 * at most `cap`. Names are the JSON field names. */
typedef struct rein_sim_field {
  const char *name;
  double value;
} rein_sim_field;
REIN_API size_t rein_sim_summary_fields(const rein_sim_summary *s,
                                        rein_sim_field *out, size_t cap);

/* Writers. Each returns REIN_OK or REIN_EIO. Several results (variants)
 * share one file: the series gain a `variant` column/field. */
REIN_API rein_status rein_sim_write_summary_json(const rein_sim_result *r,
                                                 FILE *f);
REIN_API rein_status rein_sim_write_series_csv(
    const rein_sim_result *const *rs, size_t n, FILE *f);
REIN_API rein_status rein_sim_write_series_json(
    const rein_sim_result *const *rs, size_t n, FILE *f);
/* The report's options. */
typedef struct rein_sim_report_config {
  const char *command; /* the command line, shown in the footer; NULL none */
  bool log_y;          /* logarithmic y axes */
} rein_sim_report_config;
REIN_API void rein_sim_report_config_default(rein_sim_report_config *c);
/* One self-contained HTML page (rein/report.h's charts): load on the
 * primary server per variant with the capacity line and incidents shaded,
 * goodput per variant, clients with an open breaker when any, each with a
 * tooltip per interval giving every variant's exact value; findings
 * written from the figures; the summary table with labels for people
 * (rein_sim_field_label) and "> N s" for a run that never recovered; the
 * rein version and the command line in the footer. No scripts, no
 * external resources. cfg NULL = defaults. REIN_ENOMEM, REIN_EIO. */
REIN_API rein_status rein_sim_write_report_html(
    const rein_sim_scenario *s, const rein_sim_result *const *rs, size_t n,
    const rein_sim_report_config *cfg, FILE *f);
/* A summary field's label for people ("attempts per logical call" for
 * "amplification"); the name itself for a name it does not know. */
REIN_API const char *rein_sim_field_label(const char *name);

/* ------------------------------------------------------------- sweeps
 *
 * A sweep runs one or several variants of a scenario on `runs` consecutive
 * seeds each and aggregates every summary field over the runs: n, mean,
 * the half-width of a two-sided 95% Student-t interval, min, max. `rein
 * simulate --runs` and `rein demo` both use it.
 *
 * Seeds (the one convention): run i (0-based) of every variant uses seed
 * S + i, S = cfg.seed, or the scenario's seed when cfg.seed is 0. This is
 * what `rein simulate --runs` has always printed ("seed S .. S+N-1"); the
 * demo's generated scenario says `seed: 1`, so its seeds stay 1..N.
 *
 * Threads: the runs (variants x seeds) are taken in order by cfg.threads
 * threads (the calling thread is one of them); each result lands in its
 * slot (variant, run), so everything a sweep returns, and every writer's
 * output, is the same for any thread count.
 *
 * Memory: cfg.max_memory is the budget of the whole sweep (0 = the
 * scenario's max_memory, else rein_sim_default_memory()); the runs that
 * execute at the same time share it evenly: each run's max_memory is the
 * budget / min(threads, total runs). Only the first run of each variant
 * keeps its rein_sim_result (series, servers) unless cfg.keep_results is
 * set; the others are freed as soon as their summary fields (64 doubles)
 * are copied, so a sweep holds n_variants results plus 512 bytes a run.
 *
 * Bounds: 1..REIN_SIM_SWEEP_MAX_RUNS runs per variant, 1..
 * REIN_SIM_SWEEP_MAX_VARIANTS variants, 1..REIN_SIM_SWEEP_MAX_THREADS
 * threads; anything else is refused (REIN_EINVAL, message in cfg.err)
 * before a run starts. No global state.
 */
#define REIN_SIM_SWEEP_MAX_RUNS 10000
#define REIN_SIM_SWEEP_MAX_VARIANTS 32
#define REIN_SIM_SWEEP_MAX_THREADS 64

typedef struct rein_sim_sweep rein_sim_sweep;

typedef struct rein_sim_sweep_config {
  size_t variant;         /* index when n_variants is 0; default 0 */
  const size_t *variants; /* several variants side by side, in this order; */
  size_t n_variants;      /* copied by rein_sim_sweep_run; default none */
  size_t runs;            /* seeds per variant; default 1 */
  uint64_t seed;          /* first seed; 0 = the scenario's */
  int64_t duration_ns;    /* 0 = the scenario's duration */
  uint64_t max_events;    /* per run, as rein_sim_run_config; default 2e9 */
  size_t threads;         /* default 2 */
  uint64_t max_memory;    /* of the whole sweep; 0 = see above */
  int keep_results;       /* 1: keep every run's result; 0 (default): only
                             the first seed of each variant */
  /* Progress, optional. With one run in all: called as that run advances
   * (done 0, total 1, fraction of its virtual time). With several: called
   * each time a run ends (done runs of total, fraction = done / total).
   * Calls are serialised (made under the sweep's lock), from any of the
   * sweep's threads. */
  void (*progress)(void *ctx, size_t done, size_t total, double fraction);
  void *progress_ctx;
  const rein_allocator *alloc; /* the sweep's and each run's memory;
                                  thread-safe when threads > 1 */
  rein_errbuf *err;
} rein_sim_sweep_config;

REIN_API void rein_sim_sweep_config_default(rein_sim_sweep_config *c);

/*
 * Run the sweep. REIN_EINVAL (and *out NULL) for a NULL argument or a
 * config out of bounds (message "sweep: runs must be in 1..10000, got 0"
 * and the like); REIN_ENOMEM. Otherwise every run is made, *out holds the
 * sweep, and the return is REIN_OK when all of them succeeded, else the
 * status of the first failed run in (variant, run) order, with
 * "variant NAME seed N: message" in cfg.err; rein_sim_sweep_status says
 * how each run ended. The scenario must stay loaded until
 * rein_sim_sweep_free.
 */
REIN_API rein_status rein_sim_sweep_run(const rein_sim_scenario *s,
                                        const rein_sim_sweep_config *cfg,
                                        rein_sim_sweep **out);
/* NULL is a no-op; frees every kept result. */
REIN_API void rein_sim_sweep_free(rein_sim_sweep *sw);

/* Shape: variants side by side (v = 0..n-1 in cfg order), runs per
 * variant, the first seed S; rein_sim_sweep_variant maps v to the
 * scenario's variant index. 0 for a NULL sweep or v out of range. */
REIN_API size_t rein_sim_sweep_variants(const rein_sim_sweep *sw);
REIN_API size_t rein_sim_sweep_runs(const rein_sim_sweep *sw);
REIN_API uint64_t rein_sim_sweep_seed(const rein_sim_sweep *sw);
REIN_API size_t rein_sim_sweep_variant(const rein_sim_sweep *sw, size_t v);

/* How run r (seed S + r) of variant v ended, and its message ("" when
 * none) in *msg (may be NULL). REIN_EINVAL out of range. */
REIN_API rein_status rein_sim_sweep_status(const rein_sim_sweep *sw, size_t v,
                                           size_t r, const char **msg);
/* The result of run r of variant v, owned by the sweep; NULL when the run
 * failed, when it was not kept (r > 0 without keep_results) or out of
 * range. */
REIN_API const rein_sim_result *rein_sim_sweep_result(const rein_sim_sweep *sw,
                                                      size_t v, size_t r);
/* The summary fields of run r of variant v (rein_sim_summary_fields'
 * order and names), kept for every run that succeeded. Returns how many;
 * fills at most `cap`; 0 for a failed run or out of range. */
REIN_API size_t rein_sim_sweep_fields(const rein_sim_sweep *sw, size_t v,
                                      size_t r, rein_sim_field *out,
                                      size_t cap);

/* One summary field of one variant over the runs that succeeded. Values
 * of -1 (not applicable) are left out: n counts the others. mean is their
 * mean; ci95 the half-width t(0.975, n-1) * sd / sqrt(n) with sd the
 * sample standard deviation (n - 1) and t from a table for df 1..30, then
 * 2.000 below df 60, 1.980 below 120, 1.960 from there; 0 when n is 1.
 * mean, ci95, min and max are -1 when n is 0. The mean of `recovered` is
 * the fraction of runs that recovered (a run without incident says -1). */
typedef struct rein_sim_stat {
  const char *name; /* the field's name, static */
  size_t n;
  double mean, ci95, min, max;
} rein_sim_stat;
/* Every field of variant v, in rein_sim_summary_fields' order. Returns how
 * many; fills at most `cap`; 0 out of range. */
REIN_API size_t rein_sim_sweep_stats(const rein_sim_sweep *sw, size_t v,
                                     rein_sim_stat *out, size_t cap);

/* The servers of the sweep's scenario (in scenario order) and their
 * figures over the runs: rein_sim_sweep_server_stats fills, for server
 * `server` of variant v, the stats (as rein_sim_sweep_stats) of arrivals,
 * executed, shed, wasted, failed, peak_queue and per_logical, in that
 * order, kept for every run that succeeded (not only the kept results).
 * Returns how many there are (7); fills at most `cap`; 0 out of range.
 * rein_sim_sweep_server_name: NULL out of range; the string lives as long
 * as the scenario. */
REIN_API size_t rein_sim_sweep_servers(const rein_sim_sweep *sw);
REIN_API const char *rein_sim_sweep_server_name(const rein_sim_sweep *sw,
                                                size_t i);
REIN_API size_t rein_sim_sweep_server_stats(const rein_sim_sweep *sw, size_t v,
                                            size_t server, rein_sim_stat *out,
                                            size_t cap);

/*
 * `rein simulate --json` for a sweep that succeeded, one line, one shape
 * for one variant or several:
 *   {"scenario":..,"seed":S,"runs":N,"variants":[ENTRY, ...]}
 * an ENTRY per variant in cfg order:
 *  - one run (N = 1): rein_sim_write_summary_json of the run (with its
 *    "variant", "seed" and "servers");
 *  - several runs: {"variant":NAME, FIELD:{"mean":..,"ci95":..,"min":..,
 *    "max":..,"n":..}, ..., "servers":[{"name":..,"arrivals":{...}, ...,
 *    "per_logical":{...}}]} (rein_sim_sweep_stats and
 *    rein_sim_sweep_server_stats) with integers as integers, other
 *    numbers with 6 significant digits, -1 and what is not finite as null
 *    (and ci95, min, max null when n is 0).
 * (Until 2026-12-03 one variant on one run was the flat summary object
 * and the frame had no "runs" then; CHANGELOG.md.)
 * It ends with a newline. Names go through jansson (rein/json.h).
 * REIN_OK, REIN_EIO, REIN_ENOMEM, REIN_EINVAL for NULL or a sweep that
 * did not succeed.
 */
REIN_API rein_status rein_sim_write_sweep_json(const rein_sim_sweep *sw,
                                               FILE *f);


/* ------------------------------------------ a scenario's parameters
 * For a live harness that mirrors a scenario (examples/ledger's
 * rein-demo-load runs the ledger, its clients and its outage from the
 * scenario `rein demo` simulates), so the numbers live in the scenario
 * file only. Strings point into the scenario and live as long as it. */

typedef struct rein_sim_cohort_info {
  const char *name, *target, *policy; /* target server, default policy */
  uint64_t count;      /* clients */
  double rate;         /* open loop (poisson, periodic): calls/s per
                          client; else 0 */
  int64_t timeout_ns;  /* per attempt */
  int64_t deadline_ns; /* per logical call; 0 none */
} rein_sim_cohort_info;

typedef struct rein_sim_server_info {
  const char *name;
  uint32_t concurrency;
  double capacity; /* requests/s: concurrency / mean service time */
  int has_admission;
  uint32_t adm_limit, adm_queue, adm_retry_queue;
  int64_t adm_max_wait_ns;
} rein_sim_server_info;

typedef struct rein_sim_incident_info {
  const char *kind;   /* "outage", "capacity" or "failure" */
  const char *mode;   /* outages: "error", "drop", "slow", "refuse",
                         "buffer" */
  const char *server;
  int64_t start_ns, end_ns;
} rein_sim_incident_info;

/* Cohort / incident `i` in file order; server by name. REIN_ENOTFOUND past
 * the end or for an unknown name, REIN_EINVAL for NULL. Thread-safe on a
 * loaded scenario (they only read it). */
REIN_API rein_status rein_sim_scenario_cohort(const rein_sim_scenario *s,
                                              size_t i,
                                              rein_sim_cohort_info *out);
REIN_API rein_status rein_sim_scenario_server(const rein_sim_scenario *s,
                                              const char *name,
                                              rein_sim_server_info *out);
REIN_API rein_status rein_sim_scenario_incident(const rein_sim_scenario *s,
                                                size_t i,
                                                rein_sim_incident_info *out);
/* The sampling interval of the time series (the scenario's `interval`). */
REIN_API int64_t rein_sim_scenario_interval(const rein_sim_scenario *s);
/* The scenario's recovery definition (`recovery: {tolerance, hold}`):
 * either pointer may be NULL. */
REIN_API void rein_sim_scenario_recovery(const rein_sim_scenario *s,
                                         double *tolerance, int64_t *hold_ns);
/* The simulated-client fields of policy `name` (`honor_signals`,
 * `attempt_header`, 0 or 1; either pointer may be NULL). REIN_ENOTFOUND for
 * an unknown name. */
REIN_API rein_status rein_sim_scenario_policy_client(
    const rein_sim_scenario *s, const char *name, int *honor_signals,
    int *attempt_header);

#ifdef __cplusplus
}
#endif
#endif /* REIN_SIM_H */
