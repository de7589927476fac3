/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo.h: the engine of `rein demo`: one round of a client fleet
 * against examples/ledger with an injected outage, measured from the
 * ledger's own counters, and the report writers.
 */
#ifndef REIN_CLI_LIB_DEMO_H
#define REIN_CLI_LIB_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rein/retry.h"

#define DEMO_MAX_BUCKETS 1024

typedef struct demo_config {
  const char *ledger_path;   /* the ledger executable */
  const char *contracts_dir; /* examples/contracts/ledger; NULL = built-in */
  double capacity;           /* ledger charges/s (--capacity) */
  int ledger_workers;        /* ledger worker slots */
  int queue;                 /* ledger queue length */
  int queue_timeout_ms;      /* ledger queue wait before 503 */
  double rate;               /* offered logical charges/s, whole fleet */
  int threads;               /* client threads (each a curl multi loop) */
  double warmup_s, outage_s, tail_s, drain_s;
  double bucket_s;           /* sampling period of the ledger's counters */
  /* The naive client: the rein round's attempts, base and timeout, without
   * jitter, budget, breaker, throttle, keys or server signals. */
  uint32_t naive_attempts;
  int64_t naive_base_ns, naive_cap_ns, attempt_timeout_ns;
  bool stall;                /* outage = the ledger stops (SIGSTOP) instead
                                of failing every charge with 503 */
  bool naive_attempt_header; /* the naive client sends Rein-Attempt too */
  uint64_t seed;
  bool verbose;
} demo_config;

void demo_config_default(demo_config *c);

typedef struct demo_round {
  char name[16];
  char policy_desc[256];
  /* client side */
  uint64_t calls, done, gave_up, unfinished, attempts;
  uint64_t giveups[REIN_GIVEUP_COUNT_];
  uint64_t keys;
  uint64_t outcomes[REIN_OUTCOME_COUNT_]; /* attempts by outcome */
  /* ledger side */
  uint64_t ledger_posts, ledger_ok, ledger_shed, charges, duplicates;
  double peak_load, peak_ratio, amplification, ledger_amplification;
  double peak_bucket_ratio, baseline_load;
  double baseline_good, recovery_s; /* recovery_s < 0: not recovered */
  double goodput_recovery_s;        /* goodput alone back; < 0: not */
  double outage_start_s, outage_end_s, observed_after_s;
  int nbuckets;
  double load[DEMO_MAX_BUCKETS]; /* POST /charges per second at the ledger */
  double good[DEMO_MAX_BUCKETS]; /* 201 per second */
} demo_round;

/* The same situation through `rein simulate`'s engine: means over `runs`
 * seeds of one variant. */
typedef struct demo_sim {
  int runs, recovered_runs;
  double amplification, peak_bucket_ratio, recovery_s; /* recovery: mean of
                                                           recovered runs */
  double succeeded, duplicates, calls;
  double giveups[REIN_GIVEUP_COUNT_];
} demo_sim;

/* The `rein simulate` scenario mirroring `c` (YAML) into `out`. 0, or -1 with
 * a message (e.g. --stall has no simulated counterpart). */
int demo_scenario_text(const demo_config *c, char *out, size_t cap,
                       char *err, size_t errlen);
/* Run the scenario: sims[0] naive, sims[1] rein. 0 or -1 with a message. */
int demo_simulate(const demo_config *c, int runs, demo_sim sims[2],
                  char *err, size_t errlen);
void demo_print_sim(FILE *f, const demo_round *r, const demo_sim *sims,
                    int n);

/* Run one round: `rein_round` false = naive, true = rein. 0 on success; -1
 * with a message in `err`. */
int demo_run_round(const demo_config *c, bool rein_round, demo_round *out,
                   char *err, size_t errlen);

void demo_print_summary(FILE *f, const demo_config *c, const demo_round *r,
                        int n);
/* `sims` may be NULL (not simulated). */
int demo_write_html(const char *path, const demo_config *c,
                    const demo_round *r, int n, const demo_sim *sims);
int demo_write_json(const char *path, const demo_config *c,
                    const demo_round *r, int n, const demo_sim *sims);

/* Locate a file relative to the running executable: tries each of
 * `rels` (e.g. "../examples/ledger/ledger") from the executable's
 * directory; 0 and the path in `out` when one exists. */
int demo_find_near_exe(const char *const *rels, int n, char *out, size_t cap);

#endif
