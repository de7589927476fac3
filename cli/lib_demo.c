/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo.c: `rein demo`'s two halves. The live one runs in
 * rein-demo-load (examples/ledger/loadgen.h), started here as a child once
 * per round, whose JSON on stdout is read back into a demo_round; the
 * simulated one runs the same scenario file (share/rein/scenarios/
 * demo.yaml, the one place the demo's numbers are written) through
 * libsim's sweep. What it runs is found through the install layout
 * (cmake/ReinLayout.cmake): relative to the running rein, the same
 * relative paths installed and in the build tree.
 */
#include "lib_demo.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rein.h"
#include "rein/sim.h"

#ifndef REIN_LAYOUT_LIBEXEC
#define REIN_LAYOUT_LIBEXEC "../libexec/rein"
#endif
#ifndef REIN_LAYOUT_DATA
#define REIN_LAYOUT_DATA "../share/rein"
#endif

/* The largest JSON a round writes: two series of 1024 buckets and the
 * figures fit in far less. */
#define MAX_ROUND_JSON (1u << 20)

/* ------------------------------------------------------ the layout */

/* `rel` (a layout path, then a file) from the running rein's directory,
 * resolved; 0 when it exists. */
static int near_exe(const char *dir, const char *file, char *out, size_t cap) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return -1;
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  char p[2 * PATH_MAX], real[PATH_MAX];
  snprintf(p, sizeof p, "%s/%s/%s", exe, dir, file);
  if (!realpath(p, real) || strlen(real) >= cap) return -1;
  snprintf(out, cap, "%s", real);
  return 0;
}

int demo_find_layout(demo_paths *p, char *err, size_t errlen) {
  struct {
    char *out;
    const char *dir, *file;
  } want[] = {
      {p->load, REIN_LAYOUT_LIBEXEC, "rein-demo-load"},
      {p->ledger, REIN_LAYOUT_LIBEXEC, "ledger"},
      {p->scenario, REIN_LAYOUT_DATA, "scenarios/demo.yaml"},
      {p->contracts, REIN_LAYOUT_DATA, "contracts/ledger"},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (want[i].out[0]) continue;
    if (near_exe(want[i].dir, want[i].file, want[i].out, 4096) != 0) {
      snprintf(err, errlen,
               "cannot find %s/%s next to the rein binary (install rein, or "
               "build it: cmake --build build)",
               want[i].dir, want[i].file);
      return -1;
    }
  }
  return 0;
}

static bool executable(const char *path) {
  struct stat st;
  return path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         access(path, X_OK) == 0;
}

static bool readable(const char *path) {
  struct stat st;
  return path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         access(path, R_OK) == 0;
}

int demo_find_nginx(demo_paths *p, char *why, size_t whylen) {
  const char *env = getenv("REIN_NGINX");
  if (!p->nginx[0] && env && *env)
    snprintf(p->nginx, sizeof p->nginx, "%s", env);
  if (!p->nginx[0] && executable("/usr/sbin/nginx"))
    snprintf(p->nginx, sizeof p->nginx, "/usr/sbin/nginx");
  const char *path = getenv("PATH");
  for (const char *d = path; !p->nginx[0] && d && *d;) {
    size_t n = strcspn(d, ":");
    char c[sizeof p->nginx];
    if (n + 7 < sizeof c) {
      memcpy(c, d, n);
      memcpy(c + n, "/nginx", 7);
      if (executable(c)) memcpy(p->nginx, c, n + 7);
    }
    d += n + (d[n] == ':');
  }
  if (!executable(p->nginx)) {
    snprintf(why, whylen,
             "no nginx (apt-get install nginx, or set REIN_NGINX)");
    return -1;
  }
  env = getenv("REIN_NGINX_MODULE");
  if (!p->nginx_module[0] && env && *env)
    snprintf(p->nginx_module, sizeof p->nginx_module, "%s", env);
  if (!p->nginx_module[0])
    near_exe("../lib/nginx/modules", "ngx_http_rein_module.so",
             p->nginx_module, sizeof p->nginx_module);
#ifdef REIN_DEMO_NGINX_MODULE
  if (!p->nginx_module[0] && readable(REIN_DEMO_NGINX_MODULE))
    snprintf(p->nginx_module, sizeof p->nginx_module, "%s",
             REIN_DEMO_NGINX_MODULE);
#endif
  if (!p->nginx_module[0] &&
      readable("/usr/lib/nginx/modules/ngx_http_rein_module.so"))
    snprintf(p->nginx_module, sizeof p->nginx_module,
             "/usr/lib/nginx/modules/ngx_http_rein_module.so");
  if (!readable(p->nginx_module)) {
    snprintf(why, whylen,
             "no ngx_http_rein_module.so (build it: cmake -DREIN_WITH_NGINX=ON, "
             "docs/nginx.md; or set REIN_NGINX_MODULE)");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------ one round, a child */

/* Run argv with stdout into a buffer (caller frees), stderr inherited.
 * The exit status, or -1. */
static int run_child(char *const argv[], char **out, size_t *outlen) {
  int fds[2];
  *out = NULL;
  *outlen = 0;
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  size_t cap = 65536, n = 0;
  char *b = malloc(cap);
  bool over = false;
  for (ssize_t k; b;) {
    if (n + 1 == cap) {
      if (cap >= MAX_ROUND_JSON) {
        over = true;
        break;
      }
      char *nb = realloc(b, cap * 2);
      if (!nb) break;
      b = nb;
      cap *= 2;
    }
    k = read(fds[0], b + n, cap - 1 - n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    n += (size_t)k;
  }
  close(fds[0]);
  if (over) kill(pid, SIGTERM);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!b || over) {
    free(b);
    return -1;
  }
  b[n] = '\0';
  *out = b;
  *outlen = n;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int demo_run_round(const demo_paths *p, const demo_run *run, const char *round,
                   demo_config *c, demo_round *out, char *err, size_t errlen) {
  char threads[16];
  const char *argv[20];
  int a = 0;
  argv[a++] = p->load;
  argv[a++] = "--ledger";
  argv[a++] = p->ledger;
  argv[a++] = "--scenario";
  argv[a++] = p->scenario;
  argv[a++] = "--contracts";
  argv[a++] = p->contracts;
  argv[a++] = "--round";
  argv[a++] = round;
  if (run->threads > 0) {
    snprintf(threads, sizeof threads, "%d", run->threads);
    argv[a++] = "--threads";
    argv[a++] = threads;
  }
  if (run->short_run) argv[a++] = "--short";
  if (run->stall) argv[a++] = "--stall";
  if (run->naive_attempt_header) argv[a++] = "--naive-attempt-header";
  if (run->verbose) argv[a++] = "--verbose";
  if (!strcmp(round, "nginx")) {
    argv[a++] = "--nginx";
    argv[a++] = p->nginx;
    argv[a++] = "--nginx-module";
    argv[a++] = p->nginx_module;
  }
  argv[a] = NULL;
  char *text = NULL;
  size_t len = 0;
  int st = run_child((char *const *)argv, &text, &len);
  int rc = -1;
  if (st != 0)
    snprintf(err, errlen, "%s exited with status %d", p->load, st);
  else
    rc = demo_parse_round(text, c, out, err, errlen);
  free(text);
  return rc;
}

/* -------------------------------------------------- the JSON, read */

typedef struct rd {
  json_t *obj;
  const char *where, *bad; /* the first member missing or mistyped */
} rd;

static double num(rd *r, const char *key) {
  json_t *v = json_object_get(r->obj, key);
  if (!json_is_number(v)) {
    if (!r->bad) r->bad = key;
    return 0;
  }
  return json_number_value(v);
}

static uint64_t count(rd *r, const char *key) {
  double v = num(r, key);
  if (v < 0 || v > 1e18 || v != floor(v)) {
    if (!r->bad) r->bad = key;
    return 0;
  }
  return (uint64_t)v;
}

static void text(rd *r, const char *key, char *out, size_t cap) {
  json_t *v = json_object_get(r->obj, key);
  if (!json_is_string(v)) {
    if (!r->bad) r->bad = key;
    return;
  }
  snprintf(out, cap, "%s", json_string_value(v));
}

static int series(rd *r, const char *key, double *out) {
  json_t *v = json_object_get(r->obj, key);
  size_t n = json_array_size(v);
  if (!json_is_array(v) || n > DEMO_MAX_BUCKETS) {
    if (!r->bad) r->bad = key;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *x = json_array_get(v, i);
    if (!json_is_number(x) && !r->bad) r->bad = key;
    out[i] = json_number_value(x);
  }
  return (int)n;
}

int demo_parse_round(const char *json, demo_config *c, demo_round *out,
                     char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  memset(c, 0, sizeof *c);
  json_error_t je;
  json_t *root = json_loads(json ? json : "", 0, &je);
  if (!json_is_object(root)) {
    snprintf(err, errlen, "rein-demo-load wrote no JSON object: %s", je.text);
    json_decref(root);
    return -1;
  }
  rd cf = {json_object_get(root, "config"), "config", NULL};
  rd r = {json_object_get(root, "round"), "round", NULL};
  rd *bad = NULL;
  if (!json_is_object(cf.obj) || !json_is_object(r.obj)) {
    snprintf(err, errlen, "rein-demo-load's JSON has no config or round");
    json_decref(root);
    return -1;
  }
  c->capacity = num(&cf, "capacity");
  c->ledger_workers = (int)count(&cf, "ledger_workers");
  c->queue = (int)count(&cf, "queue");
  c->queue_timeout_ms = (int)count(&cf, "queue_timeout_ms");
  c->rate = num(&cf, "rate");
  c->threads = (int)count(&cf, "threads");
  c->warmup_s = num(&cf, "warmup_s");
  c->outage_s = num(&cf, "outage_s");
  c->tail_s = num(&cf, "tail_s");
  c->bucket_s = num(&cf, "bucket_s");
  c->recovery_tolerance = num(&cf, "recovery_tolerance");
  c->recovery_hold_s = num(&cf, "recovery_hold_s");
  char kind[16] = "";
  text(&cf, "outage_kind", kind, sizeof kind);
  c->stall = !strcmp(kind, "stall");
  c->naive_attempt_header =
      json_is_true(json_object_get(cf.obj, "naive_attempt_header"));
  text(&r, "name", out->name, sizeof out->name);
  text(&r, "policy", out->policy_desc, sizeof out->policy_desc);
  out->calls = count(&r, "calls");
  out->done = count(&r, "succeeded");
  out->gave_up = count(&r, "gave_up");
  out->unfinished = count(&r, "unfinished");
  out->attempts = count(&r, "attempts");
  out->keys = count(&r, "keys");
  out->ledger_posts = count(&r, "ledger_posts");
  out->ledger_ok = count(&r, "ledger_ok");
  out->ledger_shed = count(&r, "shed");
  out->charges = count(&r, "charges");
  out->duplicates = count(&r, "duplicates");
  out->peak_load = num(&r, "peak_load");
  out->peak_ratio = num(&r, "peak_ratio");
  out->peak_bucket_ratio = num(&r, "peak_bucket_ratio");
  out->amplification = num(&r, "amplification");
  out->ledger_amplification = num(&r, "ledger_amplification");
  out->baseline_load = num(&r, "baseline_load");
  out->baseline_good = num(&r, "baseline_goodput");
  out->recovery_s = num(&r, "recovery_s");
  out->goodput_recovery_s = num(&r, "goodput_recovery_s");
  out->outage_start_s = num(&r, "outage_start_s");
  out->outage_end_s = num(&r, "outage_end_s");
  out->observed_after_s = num(&r, "observed_after_s");
  rd g = {json_object_get(r.obj, "giveups"), "round.giveups", NULL};
  for (int k = 1; k < REIN_GIVEUP_COUNT_; k++)
    out->giveups[k] = count(&g, rein_giveup_name((rein_giveup)k));
  rd o = {json_object_get(r.obj, "outcomes"), "round.outcomes", NULL};
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    out->outcomes[k] = count(&o, rein_outcome_kind_name((rein_outcome_kind)k));
  int nl = series(&r, "load", out->load);
  int ng = series(&r, "good", out->good);
  out->nbuckets = nl < ng ? nl : ng;
  if (nl != ng && !r.bad) r.bad = "good";
  if (c->bucket_s <= 0 && !cf.bad) cf.bad = "bucket_s";
  bad = cf.bad ? &cf : r.bad ? &r : g.bad ? &g : o.bad ? &o : NULL;
  if (bad)
    snprintf(err, errlen,
             "rein-demo-load's JSON: %s.%s missing or not of "
             "its type",
             bad->where, bad->bad);
  json_decref(root);
  return bad ? -1 : 0;
}

/* ------------------------------------------------ the same, simulated */

int demo_simulate(const char *scenario, const demo_config *c, int runs,
                  demo_sim sims[2], char *err, size_t errlen) {
  memset(sims, 0, 2 * sizeof *sims);
  if (c->stall) {
    snprintf(err, errlen,
             "--stall has no simulated counterpart (the simulator has no "
             "server that keeps accepting and later processes everything)");
    return -1;
  }
  rein_sim_scenario *sc = NULL;
  rein_errbuf eb = {{0}};
  if (rein_sim_scenario_load(scenario, NULL, &eb, &sc) != REIN_OK) {
    snprintf(err, errlen, "%s", eb.msg);
    return -1;
  }
  int header = 0;
  if (c->naive_attempt_header &&
      (rein_sim_scenario_policy_client(sc, "naive", NULL, &header) != REIN_OK ||
       !header)) {
    snprintf(err, errlen,
             "the live naive client sent Rein-Attempt (--naive-attempt-"
             "header), the scenario's does not (attempt_header: false)");
    rein_sim_scenario_free(sc);
    return -1;
  }
  /* rein_sim's sweep runs both variants on the scenario's seeds (its
   * `seed: 1`, so 1..runs) and aggregates; the figures are picked by name */
  static const char *const names[2] = {"naive", "rein"};
  size_t idx[2];
  for (int v = 0; v < 2; v++)
    if (rein_sim_variant_find(sc, names[v], &idx[v]) != REIN_OK) {
      snprintf(err, errlen, "%s has no variant %s", scenario, names[v]);
      rein_sim_scenario_free(sc);
      return -1;
    }
  rein_sim_sweep_config cfg;
  rein_sim_sweep_config_default(&cfg);
  cfg.variants = idx;
  cfg.n_variants = 2;
  cfg.runs = runs > 0 ? (size_t)runs : 0;
  /* as long as the live rounds (--short cuts the tail) */
  cfg.duration_ns =
      (int64_t)llround((c->warmup_s + c->outage_s + c->tail_s) * 1e9);
  cfg.err = &eb;
  rein_sim_sweep *sw = NULL;
  int rc = 0;
  if (rein_sim_sweep_run(sc, &cfg, &sw) != REIN_OK) {
    snprintf(err, errlen, "simulation: %s", eb.msg);
    rc = -1;
  }
  for (int v = 0; v < 2 && rc == 0; v++) {
    demo_sim *m = &sims[v];
    m->runs = runs;
    rein_sim_stat stats[64];
    size_t nf = rein_sim_sweep_stats(sw, (size_t)v, stats, 64);
    for (size_t k = 0; k < nf && k < 64; k++) {
      /* a field no run applies to (n 0, mean -1) reads as 0 */
      double mean = stats[k].n ? stats[k].mean : 0;
      const char *f = stats[k].name;
      if (!strcmp(f, "amplification"))
        m->amplification = mean;
      else if (!strcmp(f, "peak_load_ratio"))
        m->peak_bucket_ratio = mean;
      else if (!strcmp(f, "successes"))
        m->succeeded = mean;
      else if (!strcmp(f, "duplicates"))
        m->duplicates = mean;
      else if (!strcmp(f, "logical"))
        m->calls = mean;
      else if (!strncmp(f, "giveup_", 7))
        for (int g = 1; g < REIN_GIVEUP_COUNT_; g++)
          if (!strcmp(f + 7, rein_giveup_name((rein_giveup)g)))
            m->giveups[g] = mean;
    }
    /* recovery: the mean over the runs that recovered (the sweep's mean
     * of recovery_s also counts the lower bounds of those that did not) */
    for (int i = 0; i < runs; i++) {
      rein_sim_field fl[64];
      size_t n = rein_sim_sweep_fields(sw, (size_t)v, (size_t)i, fl, 64);
      double rec = -1, rs = 0;
      for (size_t k = 0; k < n && k < 64; k++) {
        if (!strcmp(fl[k].name, "recovered")) rec = fl[k].value;
        if (!strcmp(fl[k].name, "recovery_s")) rs = fl[k].value;
      }
      if (rec == 1) {
        m->recovered_runs++;
        m->recovery_s += rs;
      }
    }
    m->recovery_s = m->recovered_runs ? m->recovery_s / m->recovered_runs : -1;
  }
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(sc);
  return rc;
}
