/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_simulate.c: `rein simulate`: run a scenario through the simulator.
 *
 * One run prints a summary; --compare runs several variants (policies) on
 * the same scenario and seed side by side; --runs N repeats each variant
 * with N seeds and prints the mean and a 95% interval. Runs are independent
 * (a scenario is immutable), so they are spread over --jobs threads; results
 * land in fixed slots, so the output does not depend on which thread ran
 * what. Writers for the time series (CSV, JSON) and the HTML report come
 * from rein_sim; progress goes to stderr only when it is a terminal.
 */
#include "cli.h"
#include "rein.h"
#include "rein/input.h"
#include "rein/json.h"
#include "rein/sim.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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
               "write the time series as CSV ('-' = stdout)"},
    [O_SERIES] = {"series", 0, REIN_CLI_FILE, "FILE",
                  "write the time series as JSON"},
    [O_REPORT] = {"report", 0, REIN_CLI_FILE, "FILE",
                  "write a self-contained HTML report with charts"},
    [O_MAX_MEMORY] = {"max-memory", 0, REIN_CLI_SIZE, "SIZE",
                      "memory budget of the command (e.g. 512MiB, 2GiB;\n"
                      "default: the scenario's max_memory, else half the\n"
                      "RAM, at most what is available); shared by --jobs",
                      NULL, 1 << 20},
    [O_QUIET] = {"quiet", 0, REIN_CLI_FLAG, NULL, "no progress on stderr"},
    {0}};

extern const rein_cli_command rein_cmd_simulate;

#define MAX_SEL 32

typedef struct job {
  size_t variant;
  uint64_t seed;
  rein_sim_result *res;
  rein_status st;
  rein_errbuf err;
} job;

typedef struct pool {
  const rein_sim_scenario *sc;
  job *jobs;
  size_t njobs;
  int64_t duration;
  uint64_t max_memory; /* per run */
  atomic_size_t next, done;
  int progress;
  int last_pct; /* single run: last percentage printed */
  pthread_mutex_t mu;
} pool;

/* Single run: percentage of virtual time done, printed when it changes. */
static void run_progress(void *ctx, double frac) {
  pool *p = ctx;
  int pct = (int)(frac * 100);
  if (pct == p->last_pct) return;
  p->last_pct = pct;
  fprintf(stderr, "\rsimulating... %3d%%", pct);
}

static void *worker(void *arg) {
  pool *p = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&p->next, 1);
    if (i >= p->njobs) break;
    job *j = &p->jobs[i];
    rein_sim_run_config c;
    rein_sim_run_config_default(&c);
    c.variant = j->variant;
    c.seed = j->seed;
    c.duration_ns = p->duration;
    c.max_memory = p->max_memory;
    c.err = &j->err;
    if (p->progress && p->njobs == 1) {
      c.progress = run_progress;
      c.progress_ctx = p;
    }
    j->st = rein_sim_run(p->sc, &c, &j->res);
    size_t d = atomic_fetch_add(&p->done, 1) + 1;
    if (p->progress && p->njobs > 1) {
      pthread_mutex_lock(&p->mu);
      fprintf(stderr, "\rsimulating... %zu/%zu runs", d, p->njobs);
      pthread_mutex_unlock(&p->mu);
    }
  }
  return NULL;
}

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_simulate, msg, arg);
}

/* A name or message from the scenario, escaped for the terminal. */
static const char *esc(char *buf, size_t cap, const char *s) {
  rein_text_escape(buf, cap, s);
  return buf;
}

/* Two-sided 95% Student t quantile for n - 1 degrees of freedom. */
static double t95(size_t n) {
  static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571,
                             2.447, 2.365,  2.306, 2.262, 2.228, 2.201,
                             2.179, 2.160,  2.145, 2.131, 2.120, 2.110,
                             2.101, 2.093,  2.086, 2.080, 2.074, 2.069,
                             2.064, 2.060,  2.056, 2.052, 2.048, 2.045,
                             2.042};
  size_t df = n - 1;
  if (df < sizeof t / sizeof t[0]) return t[df];
  if (df < 60) return 2.000;
  if (df < 120) return 1.980;
  return 1.960;
}

typedef struct stat {
  double mean, half, min, max;
  size_t n; /* runs where the field applied (value != -1) */
} stat;

static stat aggregate(job *jobs, size_t runs, size_t field) {
  stat s = {0, 0, INFINITY, -INFINITY, 0};
  double sum = 0, sq = 0;
  for (size_t r = 0; r < runs; r++) {
    rein_sim_field f[64];
    rein_sim_summary_fields(rein_sim_result_summary(jobs[r].res), f, 64);
    double v = f[field].value;
    if (v == -1) continue;
    s.n++;
    sum += v;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
  }
  if (!s.n) {
    s.mean = -1;
    return s;
  }
  s.mean = sum / (double)s.n;
  for (size_t r = 0; r < runs; r++) {
    rein_sim_field f[64];
    rein_sim_summary_fields(rein_sim_result_summary(jobs[r].res), f, 64);
    double v = f[field].value;
    if (v != -1) sq += (v - s.mean) * (v - s.mean);
  }
  if (s.n > 1) s.half = t95(s.n) * sqrt(sq / (double)(s.n - 1)) / sqrt((double)s.n);
  return s;
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

static void json_num(double v) {
  if (v == -1 || !isfinite(v))
    fputs("null", stdout);
  else if (v == floor(v) && fabs(v) < 1e15)
    printf("%.0f", v);
  else
    printf("%.6g", v);
}

/* A scenario or variant name (from the file) as a JSON string. */
static void json_name(const char *s) {
  rein_json_put(stdout, rein_json_string(s), REIN_JSON_FLAGS);
}

static int write_file(const char *path, int kind, const rein_sim_scenario *sc,
                      const rein_sim_result *const *rs, size_t n) {
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
    st = rein_sim_write_report_html(sc, rs, n, f);
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
  int json = 0, quiet = 0, compare_all = 0;
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
  uint64_t base = seed ? seed : rein_sim_scenario_seed(sc);

  size_t njobs = nsel * (size_t)runs;
  job *jobs = calloc(njobs, sizeof *jobs);
  if (!jobs) {
    rein_sim_scenario_free(sc);
    fprintf(stderr, "rein simulate: out of memory\n");
    return REIN_EXIT_FINDINGS;
  }
  for (size_t v = 0; v < nsel; v++)
    for (long r = 0; r < runs; r++) {
      job *j = &jobs[v * (size_t)runs + (size_t)r];
      j->variant = sel[v];
      j->seed = base + (uint64_t)r;
    }
  pool p;
  memset(&p, 0, sizeof p);
  p.sc = sc;
  p.jobs = jobs;
  p.njobs = njobs;
  p.duration = duration;
  p.progress = !quiet && isatty(2);
  p.last_pct = -1;
  pthread_mutex_init(&p.mu, NULL);
  size_t nthreads = (size_t)jobs_n < njobs ? (size_t)jobs_n : njobs;
  /* one budget for the command: runs at the same time share it */
  if (!max_memory) max_memory = rein_sim_scenario_max_memory(sc);
  if (!max_memory) max_memory = rein_sim_default_memory();
  p.max_memory = max_memory / nthreads;
  pthread_t th[64];
  size_t started = 0;
  for (size_t t = 1; t < nthreads; t++)
    if (pthread_create(&th[started], NULL, worker, &p) == 0) started++;
  worker(&p);
  for (size_t t = 0; t < started; t++) pthread_join(th[t], NULL);
  pthread_mutex_destroy(&p.mu);
  if (p.progress) fprintf(stderr, "\r%40s\r", "");

  int rc = REIN_EXIT_OK;
  for (size_t i = 0; i < njobs; i++)
    if (jobs[i].st != REIN_OK) {
      char b1[256], b2[256], b3[1024];
      fprintf(stderr, "rein simulate: %s: variant %s seed %llu: %s\n",
              esc(b1, sizeof b1, path),
              esc(b2, sizeof b2, rein_sim_variant_name(sc, jobs[i].variant)),
              (unsigned long long)jobs[i].seed,
              esc(b3, sizeof b3,
                  jobs[i].err.msg[0] ? jobs[i].err.msg
                                     : rein_strerror(jobs[i].st)));
      rc = jobs[i].st == REIN_EINVAL ? REIN_EXIT_USAGE : REIN_EXIT_FINDINGS;
    }
  if (rc != REIN_EXIT_OK) goto out;

  /* the first seed of each variant, for series and the report */
  const rein_sim_result *firsts[MAX_SEL];
  for (size_t v = 0; v < nsel; v++) firsts[v] = jobs[v * (size_t)runs].res;

  rein_sim_field names[64];
  size_t nf = rein_sim_summary_fields(rein_sim_result_summary(firsts[0]),
                                      names, 64);
  if (runs == 1 && nsel == 1 && json) {
    rein_sim_write_summary_json(firsts[0], stdout);
    fputc('\n', stdout);
  } else if (runs == 1 && json) {
    fputs("{\"scenario\":", stdout);
    json_name(rein_sim_scenario_name(sc));
    printf(",\"seed\":%llu,\"variants\":[", (unsigned long long)base);
    for (size_t v = 0; v < nsel; v++) {
      if (v) fputc(',', stdout);
      rein_sim_write_summary_json(firsts[v], stdout);
    }
    printf("]}\n");
  } else if (json) {
    fputs("{\"scenario\":", stdout);
    json_name(rein_sim_scenario_name(sc));
    printf(",\"seed\":%llu,\"runs\":%ld,\"variants\":[",
           (unsigned long long)base, runs);
    for (size_t v = 0; v < nsel; v++) {
      fputs(v ? ",{\"variant\":" : "{\"variant\":", stdout);
      json_name(rein_sim_variant_name(sc, sel[v]));
      for (size_t k = 0; k < nf; k++) {
        stat s = aggregate(&jobs[v * (size_t)runs], (size_t)runs, k);
        printf(",\"%s\":{\"mean\":", names[k].name);
        json_num(s.mean);
        printf(",\"ci95\":");
        json_num(s.n ? s.half : -1);
        printf(",\"min\":");
        json_num(s.n ? s.min : -1);
        printf(",\"max\":");
        json_num(s.n ? s.max : -1);
        printf(",\"n\":%zu}", s.n);
      }
      printf("}");
    }
    printf("]}\n");
  } else {
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
      printf("%-24s", names[k].name);
      for (size_t v = 0; v < nsel; v++) {
        char cellb[64];
        if (runs > 1) {
          stat s = aggregate(&jobs[v * (size_t)runs], (size_t)runs, k);
          char m[32], h[32];
          fmt_val(m, sizeof m, names[k].name, s.mean);
          if (s.n > 1 && strcmp(names[k].name, "recovered")) {
            snprintf(h, sizeof h, "%.3g", s.half);
            snprintf(cellb, sizeof cellb, "%.24s +- %.24s", m, h);
          } else {
            snprintf(cellb, sizeof cellb, "%s", m);
          }
        } else {
          rein_sim_field f[64];
          rein_sim_summary_fields(rein_sim_result_summary(firsts[v]), f, 64);
          fmt_val(cellb, sizeof cellb, names[k].name, f[k].value);
        }
        printf(" %*s", w, cellb);
      }
      printf("\n");
    }
    const rein_sim_summary *s0 = rein_sim_result_summary(firsts[0]);
    for (size_t k = 0; k < s0->n_servers; k++) {
      char label[300];
      snprintf(label, sizeof label, "per_logical@%s",
               esc(eb1, sizeof eb1, s0->servers[k].name));
      printf("%-24s", label);
      for (size_t v = 0; v < nsel; v++) {
        char cellb[32];
        fmt_val(cellb, sizeof cellb, "",
                rein_sim_result_summary(firsts[v])->servers[k].per_logical);
        printf(" %*s", w, cellb);
      }
      printf("\n");
    }
  }
  if (csv && write_file(csv, 0, sc, firsts, nsel)) rc = REIN_EXIT_FINDINGS;
  if (series && write_file(series, 1, sc, firsts, nsel))
    rc = REIN_EXIT_FINDINGS;
  if (report && write_file(report, 2, sc, firsts, nsel))
    rc = REIN_EXIT_FINDINGS;
out:
  for (size_t i = 0; i < njobs; i++) rein_sim_result_free(jobs[i].res);
  free(jobs);
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
