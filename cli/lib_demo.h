/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo.h: the engine of `rein demo`. The live rounds run in a program
 * of their own, rein-demo-load (examples/ledger/loadgen.h), which `rein
 * demo` finds through the install layout (cmake/ReinLayout.cmake) and
 * starts once per round, reading the round back from its JSON
 * (lib_demo.c); the simulated half runs the same scenario file through
 * libsim (lib_demo.c); the reports are lib_demo_report.c.
 */
#ifndef REIN_CLI_LIB_DEMO_H
#define REIN_CLI_LIB_DEMO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rein/retry.h"

#define DEMO_MAX_BUCKETS 1024

/* What `rein demo` runs: paths found through the layout or given. */
typedef struct demo_paths {
  char load[4096];      /* rein-demo-load */
  char ledger[4096];    /* the ledger executable */
  char scenario[4096];  /* the demo's scenario (share/rein/scenarios) */
  char contracts[4096]; /* the contract directory (share/rein/contracts) */
  char nginx[4096];     /* the round behind nginx: nginx, */
  char nginx_module[4096]; /* and ngx_http_rein_module.so */
} demo_paths;

/* How the rounds run (options of `rein demo`, passed to the harness). */
typedef struct demo_run {
  int threads; /* 0 = the harness's default */
  bool short_run, stall, naive_attempt_header, verbose;
} demo_run;

/* The parameters of the rounds as the harness read them from the
 * scenario (its JSON "config"). */
typedef struct demo_config {
  double capacity;      /* ledger charges/s */
  int ledger_workers;   /* ledger worker slots */
  int queue;            /* ledger queue length */
  int queue_timeout_ms; /* ledger queue wait before 503 */
  double rate;          /* offered logical charges/s, whole fleet */
  int threads;
  double warmup_s, outage_s, tail_s;
  double bucket_s; /* sampling period of the ledger's counters */
  double recovery_tolerance, recovery_hold_s; /* the scenario's recovery */
  bool stall;      /* the outage stalled the ledger (SIGSTOP) */
  bool naive_attempt_header;
} demo_config;

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

/* Fill what `p` leaves empty from the layout around the running rein:
 * ${bindir}/REIN_LAYOUT_LIBEXEC/{rein-demo-load,ledger} and
 * ${bindir}/REIN_LAYOUT_DATA/{scenarios/demo.yaml,contracts/ledger}
 * (installed, or the build tree's mirror). 0, or -1 with the first path
 * not found in `err`. */
int demo_find_layout(demo_paths *p, char *err, size_t errlen);

/* The round behind nginx: fill p->nginx ($REIN_NGINX, else /usr/sbin/nginx,
 * else nginx on PATH) and p->nginx_module ($REIN_NGINX_MODULE, else
 * lib/nginx/modules/ngx_http_rein_module.so beside rein's bin directory,
 * else the build tree's, else Debian's modules directory) where empty. 0,
 * or -1 with what is missing in `why`. */
int demo_find_nginx(demo_paths *p, char *why, size_t whylen);

/* Run one round (`round` "naive", "rein" or "nginx") in rein-demo-load and read it
 * back: the round into `out`, the parameters into `c`. 0, or -1 with a
 * message. */
int demo_run_round(const demo_paths *p, const demo_run *run, const char *round,
                   demo_config *c, demo_round *out, char *err, size_t errlen);
/* Parse rein-demo-load's JSON `text` (loadgen.h). 0, or -1 with a
 * message naming the member that is missing or of the wrong type. */
int demo_parse_round(const char *text, demo_config *c, demo_round *out,
                     char *err, size_t errlen);

/* Run the scenario file for as long as the live rounds ran (`c`):
 * sims[0] variant naive, sims[1] rein, `runs` seeds each. 0 or -1 with a
 * message (--stall has no simulated counterpart). */
int demo_simulate(const char *scenario, const demo_config *c, int runs,
                  demo_sim sims[2], char *err, size_t errlen);

/* Reports (lib_demo_report.c). `sims` may be NULL (not simulated). */
void demo_print_summary(FILE *f, const demo_config *c, const demo_round *r,
                        int n);
void demo_print_sim(FILE *f, const demo_round *r, const demo_sim *sims, int n);
/* The HTML report (rein/report.h's charts). sims NULL: not simulated,
 * `sim_note` says why; `command` goes in the footer. */
int demo_write_html(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims, const char *sim_note,
                    const char *command);
int demo_write_json(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims);

#endif
