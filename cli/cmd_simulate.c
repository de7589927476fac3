/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_simulate.c: `rein simulate`: run a scenario through the simulator.
 *
 * One run prints a summary; --compare runs several variants (policies) on
 * the same scenario and seed side by side; --runs N repeats each variant
 * with N seeds and prints the mean and a 95% interval. The runs, their
 * seeds, the --jobs threads and the aggregation are rein_sim's sweep
 * (rein/sim.h), so the output does not depend on which thread ran what;
 * this file parses options, prints the text table and picks the writers
 * (JSON, the time series as CSV or JSON, the HTML report, all from
 * rein_sim). Progress goes to stderr only when it is a terminal.
 */
#include "cli.h"
#include "rein.h"
#include "rein/input.h"
#include "rein/json.h"
#include "rein/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  O_VARIANT,
  O_COMPARE,
  O_RUNS,
  O_JOBS,
  O_SEED,
  O_DURATION,
  O_JSON,
  O_CSV,
  O_SERIES,
  O_REPORT,
  O_LOG_Y,
  O_MAX_MEMORY,
  O_QUIET
};

static const rein_cli_option options[] = {
    [O_VARIANT] = {"variant", 0, REIN_CLI_STRING, "NAME",
                   "run this variant (default: the first one)"},
    [O_COMPARE] = {"compare", 0, REIN_CLI_STRING, "A,B,...",
                   "run every variant (or only these, in this order)\n"
                   "on the same seed, side by side",
                   NULL, 0, 0, REIN_CLI_OPTIONAL_VALUE},
    [O_RUNS] = {"runs", 0, REIN_CLI_INT, "N",
                "repeat with seeds S, S+1, ..., S+N-1 (S = the\n"
                "scenario's seed or --seed); mean and 95% interval",
                NULL, 1, 1000},
    [O_JOBS] = {"jobs", 0, REIN_CLI_INT, "N",
                "threads for several runs (default 2)", NULL, 1, 64},
    [O_SEED] = {"seed", 0, REIN_CLI_STRING, "N",
                "seed instead of the scenario's"},
    [O_DURATION] = {"duration", 0, REIN_CLI_DURATION, "DUR",
                    "simulate this long instead (e.g. 60s)", NULL, 1},
    [O_JSON] = {"json", 0, REIN_CLI_FLAG, NULL, "print the summary as JSON"},
    [O_CSV] = {"csv", 0, REIN_CLI_FILE, "FILE",
               "write the time series as CSV ('-' = stdout); with\n"
               "--runs every seed's, a row per variant, seed, interval"},
    [O_SERIES] = {"series", 0, REIN_CLI_FILE, "FILE",
                  "write the time series as JSON (with --runs every\n"
                  "seed's)"},
    [O_REPORT] = {"report", 0, REIN_CLI_FILE, "FILE",
                  "write a self-contained HTML report with charts"},
    [O_LOG_Y] = {"log-y", 0, REIN_CLI_FLAG, NULL,
                 "the report's y axes on a log scale"},
    [O_MAX_MEMORY] = {"max-memory", 0, REIN_CLI_SIZE, "SIZE",
                      "memory budget of the command (e.g. 512MiB, 2GiB;\n"
                      "default: the scenario's max_memory, else half the\n"
                      "RAM, at most what is available); shared by --jobs",
                      NULL, 1 << 20},
    [O_QUIET] = {"quiet", 0, REIN_CLI_FLAG, NULL, "no progress on stderr"},
    {0}};

extern const rein_cli_command rein_cmd_simulate;

#define MAX_SEL 32

/* Progress on stderr: a single run's percentage when it changes, else
 * runs done (the sweep serialises the calls). */
static void on_progress(void *ctx, size_t done, size_t total, double frac) {
  int *last_pct = ctx;
  if (total > 1) {
    fprintf(stderr, "\rsimulating... %zu/%zu runs", done, total);
    return;
  }
  int pct = (int)(frac * 100);
  if (pct == *last_pct) return;
  *last_pct = pct;
  fprintf(stderr, "\rsimulating... %3d%%", pct);
}

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_simulate, msg, arg);
}

/* A name or message from the scenario, escaped for the terminal. */
static const char *esc(char *buf, size_t cap, const char *s) {
  rein_text_escape(buf, cap, s);
  return buf;
}

static void fmt_val(char *buf, size_t cap, const char *name, double v) {
  if (v == -1)
    snprintf(buf, cap, "-");
  else if (!strcmp(name, "recovered"))
    snprintf(buf, cap, "%s", v > 0 ? "yes" : "no");
  else if (v == floor(v) && fabs(v) < 1e15)
    snprintf(buf, cap, "%.0f", v);
  else
    snprintf(buf, cap, "%.4g", v);
}

/* A table cell: one run's value, or the mean +- the 95% half-width. */
static void stat_cell(char *cellb, size_t cap, const char *name,
                      const rein_sim_stat *s, long runs) {
  if (runs > 1) {
    char m[32], h[32];
    fmt_val(m, sizeof m, name, s->mean);
    if (s->n > 1 && strcmp(name, "recovered")) {
      snprintf(h, sizeof h, "%.3g", s->ci95);
      snprintf(cellb, cap, "%.24s +- %.24s", m, h);
    } else {
      snprintf(cellb, cap, "%s", m);
    }
  } else {
    /* one run: its value (the mean of one, -1 when not applicable) */
    fmt_val(cellb, cap, name, s->mean);
  }
}

static int write_file(const char *path, int kind, const rein_sim_scenario *sc,
                      const rein_sim_result *const *rs, size_t n,
                      const rein_sim_report_config *rc_cfg) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!f) {
    char b[256];
    fprintf(stderr, "rein simulate: cannot write %s\n", esc(b, sizeof b, path));
    return -1;
  }
  rein_status st;
  if (kind == 0)
    st = rein_sim_write_series_csv(rs, n, f);
  else if (kind == 1)
    st = rein_sim_write_series_json(rs, n, f);
  else
    st = rein_sim_write_report_html(sc, rs, n, rc_cfg, f);
  int rc = st == REIN_OK ? 0 : -1;
  if (f != stdout) {
    if (fclose(f) != 0) rc = -1;
  } else {
    fflush(f);
  }
  if (rc) {
    char b[256];
    fprintf(stderr, "rein simulate: error writing %s\n",
            esc(b, sizeof b, path));
  }
  return rc;
}

static int run(int argc, char **argv) {
  const char *path = NULL, *variant = NULL, *compare = NULL;
  const char *csv = NULL, *series = NULL, *report = NULL;
  int json = 0, quiet = 0, compare_all = 0, log_y = 0;
  long runs = 1, jobs_n = 2;
  unsigned long long seed = 0;
  long long duration = 0;
  uint64_t max_memory = 0;
  rein_cli_parser a;
  rein_cli_parser_init(&a, &rein_cmd_simulate, argc, argv);
  for (int o; (o = rein_cli_next(&a)) != REIN_CLI_END;) {
    const char *v = a.value;
    char *end;
    if (o == O_JSON)
      json = 1;
    else if (o == O_QUIET)
      quiet = 1;
    else if (o == O_COMPARE && v)
      compare = v;
    else if (o == O_COMPARE)
      compare_all = 1;
    else if (o == O_VARIANT)
      variant = v;
    else if (o == O_RUNS)
      runs = (long)a.n;
    else if (o == O_JOBS)
      jobs_n = (long)a.n;
    else if (o == O_DURATION)
      duration = a.n;
    else if (o == O_MAX_MEMORY)
      max_memory = a.size;
    else if (o == O_CSV)
      csv = v;
    else if (o == O_SERIES)
      series = v;
    else if (o == O_REPORT)
      report = v;
    else if (o == O_LOG_Y)
      log_y = 1;
    else if (o == O_SEED) {
      seed = strtoull(v, &end, 0);
      if (*end || !*v || seed == 0)
        return bad("--seed must be an integer > 0", v);
    } else if (o == REIN_CLI_OPERAND) {
      if (path) return bad("more than one scenario given", v);
      path = v;
    } else
      return REIN_EXIT_USAGE; /* REIN_CLI_ERROR: printed */
  }
  if (!path) return bad("no scenario file given", NULL);
  if (variant && (compare || compare_all))
    return bad("--variant and --compare exclude each other", NULL);

  rein_errbuf eb = {{0}};
  rein_sim_scenario *sc = NULL;
  rein_status st = rein_sim_scenario_load(path, NULL, &eb, &sc);
  if (st != REIN_OK) {
    rein_text_fputs(eb.msg[0] ? eb.msg : rein_strerror(st), stderr);
    fputc('\n', stderr);
    return st == REIN_ENOMEM ? REIN_EXIT_FINDINGS : REIN_EXIT_USAGE;
  }
  for (size_t i = 0; i < rein_sim_scenario_warning_count(sc); i++)
    rein_text_fputs(rein_sim_scenario_warning(sc, i), stderr), fputc('\n', stderr);

  /* which variants */
  size_t sel[MAX_SEL], nsel = 0;
  if (compare_all) {
    for (size_t i = 0; i < rein_sim_variant_count(sc) && nsel < MAX_SEL; i++)
      sel[nsel++] = i;
  } else if (compare || variant) {
    char list[512];
    snprintf(list, sizeof list, "%s", compare ? compare : variant);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      size_t idx;
      if (rein_sim_variant_find(sc, t, &idx) != REIN_OK) {
        char b1[256], b2[256];
        fprintf(stderr, "rein simulate: %s: no variant named '%s' (variants:",
                esc(b1, sizeof b1, path), esc(b2, sizeof b2, t));
        for (size_t i = 0; i < rein_sim_variant_count(sc); i++)
          fprintf(stderr, " %s",
                  esc(b1, sizeof b1, rein_sim_variant_name(sc, i)));
        fprintf(stderr, ")\n");
        rein_sim_scenario_free(sc);
        return REIN_EXIT_USAGE;
      }
      if (nsel == MAX_SEL) break;
      sel[nsel++] = idx;
    }
    if (!nsel) {
      rein_sim_scenario_free(sc);
      return bad("empty variant list", NULL);
    }
  } else {
    sel[nsel++] = 0;
  }
  rein_sim_sweep_config sc_cfg;
  rein_sim_sweep_config_default(&sc_cfg);
  sc_cfg.variants = sel;
  sc_cfg.n_variants = nsel;
  sc_cfg.runs = (size_t)runs;
  sc_cfg.seed = seed;
  sc_cfg.duration_ns = duration;
  sc_cfg.threads = (size_t)jobs_n;
  sc_cfg.max_memory = max_memory;
  /* --csv and --series write every seed: keep every run's result */
  sc_cfg.keep_results = (csv || series) && runs > 1;
  int last_pct = -1, progress = !quiet && isatty(2);
  if (progress) {
    sc_cfg.progress = on_progress;
    sc_cfg.progress_ctx = &last_pct;
  }
  sc_cfg.err = &eb;
  eb.msg[0] = '\0';
  rein_sim_sweep *sw = NULL;
  st = rein_sim_sweep_run(sc, &sc_cfg, &sw);
  if (progress) fprintf(stderr, "\r%40s\r", "");
  if (!sw) {
    char b1[1024];
    fprintf(stderr, "rein simulate: %s\n",
            esc(b1, sizeof b1, eb.msg[0] ? eb.msg : rein_strerror(st)));
    rein_sim_scenario_free(sc);
    return st == REIN_EINVAL ? REIN_EXIT_USAGE : REIN_EXIT_FINDINGS;
  }
  uint64_t base = rein_sim_sweep_seed(sw);

  int rc = REIN_EXIT_OK;
  for (size_t v = 0; v < nsel; v++)
    for (size_t r = 0; r < (size_t)runs; r++) {
      const char *msg;
      rein_status rst = rein_sim_sweep_status(sw, v, r, &msg);
      if (rst == REIN_OK) continue;
      char b1[256], b2[256], b3[1024];
      fprintf(stderr, "rein simulate: %s: variant %s seed %llu: %s\n",
              esc(b1, sizeof b1, path),
              esc(b2, sizeof b2, rein_sim_variant_name(sc, sel[v])),
              (unsigned long long)(base + r), esc(b3, sizeof b3, msg));
      rc = rst == REIN_EINVAL ? REIN_EXIT_USAGE : REIN_EXIT_FINDINGS;
    }
  if (rc != REIN_EXIT_OK) goto out;

  /* the first seed of each variant, for series and the report */
  const rein_sim_result *firsts[MAX_SEL];
  for (size_t v = 0; v < nsel; v++)
    firsts[v] = rein_sim_sweep_result(sw, v, 0);

  if (json) {
    if (rein_sim_write_sweep_json(sw, stdout) != REIN_OK)
      rc = REIN_EXIT_FINDINGS;
  } else {
    rein_sim_stat stats[MAX_SEL][64];
    size_t nf = 0;
    for (size_t v = 0; v < nsel; v++)
      nf = rein_sim_sweep_stats(sw, v, stats[v], 64);
    char eb1[256];
    printf("scenario %s, seed %llu%s",
           esc(eb1, sizeof eb1, rein_sim_scenario_name(sc)),
           (unsigned long long)base, runs > 1 ? "" : "\n");
    if (runs > 1)
      printf(" .. %llu (%ld runs; mean +- 95%% interval)\n",
             (unsigned long long)(base + (uint64_t)runs - 1), runs);
    int w = runs > 1 ? 24 : 14;
    printf("%-24s", "metric");
    for (size_t v = 0; v < nsel; v++)
      printf(" %*s", w,
             esc(eb1, sizeof eb1, rein_sim_variant_name(sc, sel[v])));
    printf("\n");
    for (size_t k = 0; k < nf; k++) {
      const char *name = stats[0][k].name;
      printf("%-24s", name);
      for (size_t v = 0; v < nsel; v++) {
        char cellb[64];
        stat_cell(cellb, sizeof cellb, name, &stats[v][k], runs);
        printf(" %*s", w, cellb);
      }
      printf("\n");
    }
    /* attempts per logical call at each server, over the seeds too */
    for (size_t k = 0; k < rein_sim_sweep_servers(sw); k++) {
      char label[300];
      snprintf(label, sizeof label, "per_logical@%s",
               esc(eb1, sizeof eb1, rein_sim_sweep_server_name(sw, k)));
      printf("%-24s", label);
      for (size_t v = 0; v < nsel; v++) {
        char cellb[64];
        rein_sim_stat ss[8];
        size_t n = rein_sim_sweep_server_stats(sw, v, k, ss, 8);
        for (size_t j = 0; j < n; j++)
          if (!strcmp(ss[j].name, "per_logical"))
            stat_cell(cellb, sizeof cellb, "", &ss[j], runs);
        printf(" %*s", w, cellb);
      }
      printf("\n");
    }
    /* replicated servers: arrivals and failures per replica (the first
     * seed's run; --json has every field) */
    for (size_t k = 0; firsts[0] && k < rein_sim_sweep_servers(sw); k++) {
      const rein_sim_server_summary *rows;
      size_t nr = rein_sim_result_replicas(firsts[0], k, &rows);
      for (size_t j = 0; nr > 1 && j < nr; j++) {
        char label[300];
        snprintf(label, sizeof label, "arrivals/failed@%s%s",
                 esc(eb1, sizeof eb1, rows[j].name),
                 runs > 1 ? " (first seed)" : "");
        printf("%-24s", label);
        for (size_t v = 0; v < nsel; v++) {
          const rein_sim_server_summary *rv;
          char cellb[64] = "-";
          if (firsts[v] && rein_sim_result_replicas(firsts[v], k, &rv) == nr)
            snprintf(cellb, sizeof cellb, "%llu/%llu",
                     (unsigned long long)rv[j].arrivals,
                     (unsigned long long)rv[j].failed);
          printf(" %*s", w, cellb);
        }
        printf("\n");
      }
    }
  }
  /* the report's footer names the command that made it */
  char cmdline[1024];
  size_t cl = (size_t)snprintf(cmdline, sizeof cmdline, "rein simulate");
  for (int i = 1; i < argc && cl < sizeof cmdline; i++) {
    bool q = strpbrk(argv[i], " \t'\"") != NULL || !*argv[i];
    cl += (size_t)snprintf(cmdline + cl, sizeof cmdline - cl, q ? " '%s'" : " %s",
                           argv[i]);
  }
  rein_sim_report_config rcfg;
  rein_sim_report_config_default(&rcfg);
  rcfg.command = cmdline;
  rcfg.log_y = log_y;
  /* the series of every run, variant by variant, seeds in order (each
   * row or entry names its variant and seed) */
  const rein_sim_result **all = NULL;
  size_t nall = 0;
  if (csv || series) {
    all = malloc(nsel * (size_t)runs * sizeof *all);
    if (!all) {
      fprintf(stderr, "rein simulate: out of memory\n");
      rc = REIN_EXIT_FINDINGS;
      goto out;
    }
    for (size_t v = 0; v < nsel; v++)
      for (size_t r = 0; r < (size_t)runs; r++)
        all[nall++] = rein_sim_sweep_result(sw, v, r);
  }
  if (csv && write_file(csv, 0, sc, all, nall, &rcfg)) rc = REIN_EXIT_FINDINGS;
  if (series && write_file(series, 1, sc, all, nall, &rcfg))
    rc = REIN_EXIT_FINDINGS;
  free(all);
  if (report && write_file(report, 2, sc, firsts, nsel, &rcfg))
    rc = REIN_EXIT_FINDINGS;
out:
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(sc);
  return rc;
}

const rein_cli_command rein_cmd_simulate = {
    .name = "simulate",
    .summary = "run a scenario through rein's retry engine on a virtual clock",
    .run = run,
    .options = options,
    .operands = REIN_CLI_FILE,
    .synopsis = "simulate SCENARIO.yaml [options]",
    .description =
        "Run a scenario (client cohorts, servers, incidents, retry policies)\n"
        "on a virtual clock through rein's own retry engine, and measure it.\n",
    .notes = "Same scenario, variant and seed give byte-identical output.\n"
             "Scenario format and metric definitions: docs/simulator.md.\n",
    .exit_status = "0 ok, 1 a run failed, 2 usage or scenario error.\n"};
