/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen.h: the live half of `rein demo`, as its own program
 * (rein-demo-load, loadgen.c): one round of an open-loop client fleet
 * against examples/ledger with an injected outage, measured from the
 * ledger's own counters. loadgen.c reads the parameters from the demo's
 * scenario file and writes the round as JSON; loadgen_round.c is the
 * engine (the ledger process, its tokens, the load threads, the monitor
 * and the analysis of the samples).
 */
#ifndef REIN_LOADGEN_H
#define REIN_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "rein/curl.h"
#include "rein/retry.h"

#define LOAD_MAX_BUCKETS 1024

/* What a round runs: every number comes from the scenario (loadgen.c). */
typedef struct load_config {
  const char *ledger_path; /* the ledger executable */
  double capacity;         /* ledger charges/s */
  int ledger_workers;      /* ledger worker slots */
  int queue;               /* ledger queue length */
  int queue_timeout_ms;    /* ledger queue wait before 503 */
  double rate;             /* offered logical charges/s, whole fleet */
  int threads;             /* client threads (each a curl multi loop) */
  double warmup_s, outage_s, tail_s, drain_s;
  double bucket_s; /* sampling period of the ledger's counters */
  double recovery_tolerance, recovery_hold_s; /* the scenario's recovery */
  bool stall; /* outage = the ledger stops (SIGSTOP) instead of
                 failing every charge with 503 */
  bool verbose;
  /* Behind nginx (the round "nginx"): nginx and ngx_http_rein_module, and
   * the directives `rein export nginx` wrote from the ledger contract's
   * server.admission; the clients call nginx, which passes admitted
   * requests to the ledger. NULL = the clients call the ledger. */
  const char *nginx_path, *nginx_module, *nginx_snippet;
  /* Appended: the tail round (load_run_tail). work_ms > 0 starts the
   * ledger with --work-ms instead of --capacity; slow_tail ("P:DURATION",
   * NULL = none) and seed go to its --slow-tail and --seed. */
  int64_t work_ms;
  const char *slow_tail;
  uint64_t seed;
  double duration_s; /* the tail round's length: calls start in [0, it) */
} load_config;

typedef struct load_round {
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
  double load[LOAD_MAX_BUCKETS]; /* POST /charges per second at the ledger */
  double good[LOAD_MAX_BUCKETS]; /* 201 per second */
} load_round;

/* The tail round: latencies of an open-loop load against a ledger with a
 * long tail (--slow-tail), plain or hedged. */
typedef struct load_tail {
  char name[32];
  uint64_t calls, done, gave_up, unfinished, attempts;
  uint64_t giveups[REIN_GIVEUP_COUNT_]; /* by reason (0: an error) */
  uint64_t ledger_posts, ledger_slow; /* the ledger's own counters */
  double extra_load;        /* ledger_posts / calls - 1 */
  double p50_ms, p99_ms, p999_ms, max_ms; /* from each call's scheduled
                                             start to its answer */
  uint64_t slow_calls; /* calls that took at least half the slow-tail
                          wait: the tail that hedging is to remove */
} load_tail;

/* Run the tail round with `client` (plain, or hedging through
 * rein_curl_config.hedge): starts the ledger with c->work_ms and
 * c->slow_tail, then c->threads threads take Poisson arrivals at c->rate
 * (seeded by c->seed) for c->duration_s, each a blocking keyed POST
 * through rein_curl_perform_ex, and stop at most c->drain_s later.
 * 0, or -1 with a message in `err`. */
int load_run_tail(const load_config *c, rein_curl *client, const char *name,
                  load_tail *out, char *err, size_t errlen);

/* Run one round with `client` (the caller's; its stats give the attempts)
 * named `name`: starts the ledger, drives the fleet, injects the outage,
 * stops the ledger. `keyed`: calls are POSTs the client knows are not
 * idempotent (the rein round); else the client treats them as retryable.
 * 0, or -1 with a message in `err`. */
int load_run_round(const load_config *c, rein_curl *client, const char *name,
                   bool keyed, load_round *out, char *err, size_t errlen);

#endif
