/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sweep.c: several variants of a scenario, each on seeds S .. S+N-1, and
 * the aggregate of every summary field over those runs (rein/sim.h,
 * "sweeps"). This is the one home of the seed convention, the thread pool
 * over runs and the mean / 95% interval that `rein simulate --runs` and
 * `rein demo` print; it used to live in cli/cmd_simulate.c, with a second
 * copy (other seeds, other means) in cli/lib_demo.c.
 *
 * The runs are independent (a scenario is immutable), so threads take
 * them by index from an atomic counter and each writes only its own slot;
 * the aggregation happens afterwards on the calling thread in index order,
 * so every figure is the same for any thread count.
 */
#include "sim_internal.h"

#include "rein/json.h"
#include "rein/sim.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* Room for the summary fields of one run (rein_sim_summary_fields has 35
 * today); checked against the real count when a sweep starts. */
#define FIELDS_CAP 64

/* The per-server figures of a run (rein_sim_server_summary), in this
 * order: kept for every run and aggregated like the summary fields. */
static const char *const SERVER_FIELDS[] = {
    "arrivals", "executed",   "shed",       "wasted",
    "failed",   "peak_queue", "per_logical"};
#define NSF (sizeof SERVER_FIELDS / sizeof SERVER_FIELDS[0])

typedef struct slot {
  rein_sim_result *res; /* kept result, or NULL */
  rein_status st;
  char *msg; /* the run's message when it failed, or NULL */
} slot;

struct rein_sim_sweep {
  const rein_sim_scenario *sc;
  const rein_allocator *alloc;
  size_t nv, runs, nf;
  uint64_t seed;
  size_t variants[REIN_SIM_SWEEP_MAX_VARIANTS];
  slot *slots;          /* nv * runs, variant-major */
  double *values;       /* nv * runs * FIELDS_CAP */
  rein_sim_stat *stats; /* nv * nf */
  size_t ns;            /* servers of the scenario */
  double *svalues;      /* nv * runs * ns * NSF */
  rein_sim_stat *sstats; /* nv * ns * NSF */
  const char *names[FIELDS_CAP];
  rein_status st; /* REIN_OK or the first failed run's status */
};

typedef struct pool {
  rein_sim_sweep *sw;
  const rein_sim_sweep_config *cfg;
  size_t total;
  uint64_t run_memory;
  atomic_size_t next, done;
  pthread_mutex_t mu;
} pool;

void rein_sim_sweep_config_default(rein_sim_sweep_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->runs = 1;
  c->threads = 2;
  c->max_events = UINT64_C(2000000000);
}

/* Two-sided 95% Student t quantile for n - 1 degrees of freedom. */
static double t95(size_t n) {
  static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
                             2.365, 2.306,  2.262, 2.228, 2.201, 2.179, 2.160,
                             2.145, 2.131,  2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080, 2.074,  2.069, 2.064, 2.060, 2.056, 2.052,
                             2.048, 2.045,  2.042};
  size_t df = n - 1;
  if (df < sizeof t / sizeof t[0]) return t[df];
  if (df < 60) return 2.000;
  if (df < 120) return 1.980;
  return 1.960;
}

static void run_progress(void *ctx, double frac) {
  pool *p = ctx;
  pthread_mutex_lock(&p->mu);
  p->cfg->progress(p->cfg->progress_ctx, 0, 1, frac);
  pthread_mutex_unlock(&p->mu);
}

static char *dup_msg(const rein_allocator *a, const char *m) {
  size_t n = strlen(m) + 1;
  char *d = rein__sim_alloc(a, n);
  if (d) memcpy(d, m, n);
  return d;
}

static void *worker(void *arg) {
  pool *p = arg;
  rein_sim_sweep *sw = p->sw;
  const rein_sim_sweep_config *cfg = p->cfg;
  for (;;) {
    size_t i = atomic_fetch_add(&p->next, 1);
    if (i >= p->total) break;
    size_t v = i / sw->runs, r = i % sw->runs;
    rein_errbuf eb = {{0}};
    rein_sim_run_config c;
    rein_sim_run_config_default(&c);
    c.variant = sw->variants[v];
    c.seed = sw->seed + (uint64_t)r;
    c.duration_ns = cfg->duration_ns;
    c.max_events = cfg->max_events;
    c.max_memory = p->run_memory;
    c.alloc = cfg->alloc;
    c.err = &eb;
    if (cfg->progress && p->total == 1) {
      c.progress = run_progress;
      c.progress_ctx = p;
    }
    rein_sim_result *res = NULL;
    slot *s = &sw->slots[i];
    s->st = rein_sim_run(sw->sc, &c, &res);
    if (s->st == REIN_OK) {
      rein_sim_field f[FIELDS_CAP];
      size_t n =
          rein_sim_summary_fields(rein_sim_result_summary(res), f, FIELDS_CAP);
      double *out = &sw->values[i * FIELDS_CAP];
      for (size_t k = 0; k < n && k < FIELDS_CAP; k++)
        out[k] = f[k].value;
      const rein_sim_summary *S = rein_sim_result_summary(res);
      double *so = &sw->svalues[i * sw->ns * NSF];
      for (size_t k = 0; k < sw->ns && k < S->n_servers; k++) {
        const rein_sim_server_summary *sv = &S->servers[k];
        double x[NSF] = {(double)sv->arrivals, (double)sv->executed,
                         (double)sv->shed,     (double)sv->wasted,
                         (double)sv->failed,   (double)sv->peak_queue,
                         sv->per_logical};
        memcpy(&so[k * NSF], x, sizeof x);
      }
      if (r == 0 || cfg->keep_results)
        s->res = res;
      else
        rein_sim_result_free(res);
    } else {
      rein_sim_result_free(res);
      s->msg = dup_msg(cfg->alloc, eb.msg[0] ? eb.msg : rein_strerror(s->st));
    }
    size_t d = atomic_fetch_add(&p->done, 1) + 1;
    if (cfg->progress && p->total > 1) {
      pthread_mutex_lock(&p->mu);
      cfg->progress(cfg->progress_ctx, d, p->total,
                    (double)d / (double)p->total);
      pthread_mutex_unlock(&p->mu);
    }
  }
  return NULL;
}

/* Field k of variant v over the runs that succeeded, in run order (the
 * order fixes the floating-point sums). */
/* Value k of variant v in the runs' rows of `stride` values (the summary
 * fields, or every server's figures), named `name`. */
static rein_sim_stat aggregate_in(const rein_sim_sweep *sw, const double *vals,
                                  size_t stride, const char *name, size_t v,
                                  size_t k) {
  rein_sim_stat s = {name, 0, 0, 0, INFINITY, -INFINITY};
  double sum = 0, sq = 0;
  for (size_t r = 0; r < sw->runs; r++) {
    size_t i = v * sw->runs + r;
    if (sw->slots[i].st != REIN_OK) continue;
    double x = vals[i * stride + k];
    if (x == -1) continue;
    s.n++;
    sum += x;
    if (x < s.min) s.min = x;
    if (x > s.max) s.max = x;
  }
  if (!s.n) {
    s.mean = s.ci95 = s.min = s.max = -1;
    return s;
  }
  s.mean = sum / (double)s.n;
  for (size_t r = 0; r < sw->runs; r++) {
    size_t i = v * sw->runs + r;
    if (sw->slots[i].st != REIN_OK) continue;
    double x = vals[i * stride + k];
    if (x != -1) sq += (x - s.mean) * (x - s.mean);
  }
  if (s.n > 1)
    s.ci95 = t95(s.n) * sqrt(sq / (double)(s.n - 1)) / sqrt((double)s.n);
  return s;
}

static rein_sim_stat aggregate(const rein_sim_sweep *sw, size_t v, size_t k) {
  return aggregate_in(sw, sw->values, FIELDS_CAP, sw->names[k], v, k);
}

static rein_status check(const rein_sim_scenario *s,
                         const rein_sim_sweep_config *c, uint64_t seed) {
  rein_errbuf *e = c->err;
  if (c->runs < 1 || c->runs > REIN_SIM_SWEEP_MAX_RUNS)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "sweep: runs must be in 1..%d, got %zu",
                           REIN_SIM_SWEEP_MAX_RUNS, c->runs);
  if (c->threads < 1 || c->threads > REIN_SIM_SWEEP_MAX_THREADS)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "sweep: threads must be in 1..%d, got %zu",
                           REIN_SIM_SWEEP_MAX_THREADS, c->threads);
  if (c->n_variants > REIN_SIM_SWEEP_MAX_VARIANTS)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "sweep: at most %d variants, got %zu",
                           REIN_SIM_SWEEP_MAX_VARIANTS, c->n_variants);
  if (c->n_variants && !c->variants)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "sweep: n_variants is %zu but variants is NULL",
                           c->n_variants);
  size_t nvar = rein_sim_variant_count(s);
  size_t n = c->n_variants ? c->n_variants : 1;
  for (size_t v = 0; v < n; v++) {
    size_t idx = c->n_variants ? c->variants[v] : c->variant;
    if (idx >= nvar)
      return rein_errbuf_set(e, REIN_EINVAL,
                             "sweep: variant index %zu out of range (the "
                             "scenario has %zu)",
                             idx, nvar);
  }
  if (seed > UINT64_MAX - (uint64_t)(c->runs - 1))
    return rein_errbuf_set(e, REIN_EINVAL,
                           "sweep: seeds %llu + %zu runs pass 2^64",
                           (unsigned long long)seed, c->runs);
  return REIN_OK;
}

rein_status rein_sim_sweep_run(const rein_sim_scenario *s,
                               const rein_sim_sweep_config *cfg,
                               rein_sim_sweep **out) {
  if (out) *out = NULL;
  if (!s || !cfg || !out)
    return rein_errbuf_set(cfg ? cfg->err : NULL, REIN_EINVAL,
                           "sweep: NULL scenario, config or out");
  uint64_t seed = cfg->seed ? cfg->seed : rein_sim_scenario_seed(s);
  rein_status st = check(s, cfg, seed);
  if (st != REIN_OK) return st;

  const rein_allocator *a = cfg->alloc;
  rein_sim_sweep *sw = rein__sim_calloc(a, sizeof *sw);
  if (!sw)
    return rein_errbuf_set(cfg->err, REIN_ENOMEM, "sweep: out of memory");
  sw->sc = s;
  sw->alloc = a;
  sw->runs = cfg->runs;
  sw->seed = seed;
  sw->nv = cfg->n_variants ? cfg->n_variants : 1;
  for (size_t v = 0; v < sw->nv; v++)
    sw->variants[v] = cfg->n_variants ? cfg->variants[v] : cfg->variant;
  /* the field names do not depend on the values */
  rein_sim_summary zero;
  memset(&zero, 0, sizeof zero);
  rein_sim_field f[FIELDS_CAP];
  sw->nf = rein_sim_summary_fields(&zero, f, FIELDS_CAP);
  if (sw->nf > FIELDS_CAP) sw->nf = FIELDS_CAP; /* not today: 35 */
  for (size_t k = 0; k < sw->nf; k++)
    sw->names[k] = f[k].name;

  size_t total = sw->nv * sw->runs; /* <= 32 * 10000 */
  sw->slots = rein__sim_calloc(a, total * sizeof *sw->slots);
  sw->values = rein__sim_calloc(a, total * FIELDS_CAP * sizeof *sw->values);
  sw->stats = rein__sim_calloc(a, sw->nv * sw->nf * sizeof *sw->stats);
  sw->ns = s->n_servers; /* <= 64 */
  /* a scenario has at least one server (the loader requires it) */
  sw->svalues = rein__sim_calloc(a, total * sw->ns * NSF * sizeof *sw->svalues);
  sw->sstats = rein__sim_calloc(a, sw->nv * sw->ns * NSF * sizeof *sw->sstats);
  if (!sw->slots || !sw->values || !sw->stats || !sw->svalues || !sw->sstats) {
    rein_sim_sweep_free(sw);
    return rein_errbuf_set(cfg->err, REIN_ENOMEM, "sweep: out of memory");
  }

  pool p;
  memset(&p, 0, sizeof p);
  p.sw = sw;
  p.cfg = cfg;
  p.total = total;
  atomic_init(&p.next, 0);
  atomic_init(&p.done, 0);
  size_t nthreads = cfg->threads < total ? cfg->threads : total;
  /* one budget for the sweep: the runs at the same time share it */
  uint64_t budget =
      cfg->max_memory ? cfg->max_memory : rein_sim_scenario_max_memory(s);
  if (!budget) budget = rein_sim_default_memory();
  p.run_memory = budget / nthreads;
  if (!p.run_memory) p.run_memory = 1;
  if (pthread_mutex_init(&p.mu, NULL) != 0) {
    rein_sim_sweep_free(sw);
    return rein_errbuf_set(cfg->err, REIN_ENOMEM,
                           "sweep: cannot create a lock");
  }
  pthread_t th[REIN_SIM_SWEEP_MAX_THREADS];
  size_t started = 0;
  /* a thread that cannot be created leaves its runs to the others */
  for (size_t t = 1; t < nthreads; t++)
    if (pthread_create(&th[started], NULL, worker, &p) == 0) started++;
  worker(&p);
  for (size_t t = 0; t < started; t++)
    pthread_join(th[t], NULL);
  pthread_mutex_destroy(&p.mu);

  sw->st = REIN_OK;
  for (size_t i = 0; i < total; i++) {
    slot *sl = &sw->slots[i];
    if (sl->st == REIN_OK) continue;
    if (sw->st == REIN_OK) {
      sw->st = sl->st;
      rein_errbuf_set(cfg->err, sl->st, "variant %s seed %llu: %s",
                      rein_sim_variant_name(s, sw->variants[i / sw->runs]),
                      (unsigned long long)(seed + i % sw->runs),
                      sl->msg ? sl->msg : rein_strerror(sl->st));
    }
  }
  for (size_t v = 0; v < sw->nv; v++)
    for (size_t k = 0; k < sw->nf; k++)
      sw->stats[v * sw->nf + k] = aggregate(sw, v, k);
  for (size_t v = 0; v < sw->nv; v++)
    for (size_t k = 0; k < sw->ns * NSF; k++)
      sw->sstats[v * sw->ns * NSF + k] = aggregate_in(
          sw, sw->svalues, sw->ns * NSF, SERVER_FIELDS[k % NSF], v, k);
  *out = sw;
  return sw->st;
}

void rein_sim_sweep_free(rein_sim_sweep *sw) {
  if (!sw) return;
  const rein_allocator *a = sw->alloc;
  if (sw->slots)
    for (size_t i = 0; i < sw->nv * sw->runs; i++) {
      rein_sim_result_free(sw->slots[i].res);
      rein__sim_free(a, sw->slots[i].msg);
    }
  rein__sim_free(a, sw->slots);
  rein__sim_free(a, sw->values);
  rein__sim_free(a, sw->stats);
  rein__sim_free(a, sw->svalues);
  rein__sim_free(a, sw->sstats);
  rein__sim_free(a, sw);
}

size_t rein_sim_sweep_variants(const rein_sim_sweep *sw) {
  return sw ? sw->nv : 0;
}
size_t rein_sim_sweep_runs(const rein_sim_sweep *sw) {
  return sw ? sw->runs : 0;
}
uint64_t rein_sim_sweep_seed(const rein_sim_sweep *sw) {
  return sw ? sw->seed : 0;
}
size_t rein_sim_sweep_variant(const rein_sim_sweep *sw, size_t v) {
  return sw && v < sw->nv ? sw->variants[v] : 0;
}

static const slot *slot_at(const rein_sim_sweep *sw, size_t v, size_t r) {
  if (!sw || v >= sw->nv || r >= sw->runs) return NULL;
  return &sw->slots[v * sw->runs + r];
}

rein_status rein_sim_sweep_status(const rein_sim_sweep *sw, size_t v, size_t r,
                                  const char **msg) {
  const slot *s = slot_at(sw, v, r);
  if (msg) *msg = s && s->msg ? s->msg : "";
  return s ? s->st : REIN_EINVAL;
}

const rein_sim_result *rein_sim_sweep_result(const rein_sim_sweep *sw, size_t v,
                                             size_t r) {
  const slot *s = slot_at(sw, v, r);
  return s ? s->res : NULL;
}

size_t rein_sim_sweep_fields(const rein_sim_sweep *sw, size_t v, size_t r,
                             rein_sim_field *out, size_t cap) {
  const slot *s = slot_at(sw, v, r);
  if (!s || s->st != REIN_OK) return 0;
  const double *x = &sw->values[(v * sw->runs + r) * FIELDS_CAP];
  for (size_t k = 0; k < sw->nf && k < cap; k++)
    out[k] = (rein_sim_field){sw->names[k], x[k]};
  return sw->nf;
}

size_t rein_sim_sweep_stats(const rein_sim_sweep *sw, size_t v,
                            rein_sim_stat *out, size_t cap) {
  if (!sw || v >= sw->nv) return 0;
  for (size_t k = 0; k < sw->nf && k < cap; k++)
    out[k] = sw->stats[v * sw->nf + k];
  return sw->nf;
}

size_t rein_sim_sweep_servers(const rein_sim_sweep *sw) {
  return sw ? sw->ns : 0;
}

const char *rein_sim_sweep_server_name(const rein_sim_sweep *sw, size_t i) {
  return sw && i < sw->ns ? sw->sc->servers[i].name : NULL;
}

size_t rein_sim_sweep_server_stats(const rein_sim_sweep *sw, size_t v,
                                   size_t server, rein_sim_stat *out,
                                   size_t cap) {
  if (!sw || v >= sw->nv || server >= sw->ns) return 0;
  const rein_sim_stat *st = &sw->sstats[(v * sw->ns + server) * NSF];
  for (size_t k = 0; k < NSF && k < cap; k++)
    out[k] = st[k];
  return NSF;
}

/* --------------------------------------------------------------- JSON */

/* Integers as integers, other numbers with 6 significant digits (as
 * printf's %.6g, which `rein simulate --runs --json` has always printed),
 * -1 and what is not finite as null. */
static void num(FILE *f, double v) {
  if (v == -1 || !isfinite(v))
    fputs("null", f);
  else if (v == floor(v) && fabs(v) < 1e15)
    fprintf(f, "%.0f", v);
  else
    fprintf(f, "%.6g", v);
}

/* ,"NAME":{"mean":..,"ci95":..,"min":..,"max":..,"n":..} */
static void stat_json(FILE *f, const rein_sim_stat *s) {
  fprintf(f, ",\"%s\":{\"mean\":", s->name);
  num(f, s->mean);
  fputs(",\"ci95\":", f);
  num(f, s->n ? s->ci95 : -1);
  fputs(",\"min\":", f);
  num(f, s->n ? s->min : -1);
  fputs(",\"max\":", f);
  num(f, s->n ? s->max : -1);
  fprintf(f, ",\"n\":%zu}", s->n);
}

static int name(FILE *f, const char *s) {
  return rein_json_put(f, rein_json_string(s), REIN_JSON_FLAGS);
}

rein_status rein_sim_write_sweep_json(const rein_sim_sweep *sw, FILE *f) {
  if (!sw || !f || sw->st != REIN_OK) return REIN_EINVAL;
  int bad = 0;
  /* one shape for one variant or many (a flat summary for one until
   * 2026-12-03): the frame, then a summary (one run) or the aggregates
   * (several) per variant */
  fputs("{\"scenario\":", f);
  bad |= name(f, rein_sim_scenario_name(sw->sc));
  fprintf(f, ",\"seed\":%llu,\"runs\":%zu,\"variants\":[",
          (unsigned long long)sw->seed, sw->runs);
  if (sw->runs == 1) {
    for (size_t v = 0; v < sw->nv; v++) {
      if (v) fputc(',', f);
      rein_status st = rein_sim_write_summary_json(sw->slots[v].res, f);
      if (st != REIN_OK) return st;
    }
    fputs("]}\n", f);
    return ferror(f) ? REIN_EIO : bad ? REIN_ENOMEM : REIN_OK;
  }
  for (size_t v = 0; v < sw->nv; v++) {
    fputs(v ? ",{\"variant\":" : "{\"variant\":", f);
    bad |= name(f, rein_sim_variant_name(sw->sc, sw->variants[v]));
    for (size_t k = 0; k < sw->nf; k++)
      stat_json(f, &sw->stats[v * sw->nf + k]);
    fputs(",\"servers\":[", f);
    for (size_t k = 0; k < sw->ns; k++) {
      fputs(k ? ",{\"name\":" : "{\"name\":", f);
      bad |= name(f, sw->sc->servers[k].name);
      for (size_t j = 0; j < NSF; j++) {
        const rein_sim_stat *s = &sw->sstats[(v * sw->ns + k) * NSF + j];
        stat_json(f, s);
      }
      fputc('}', f);
    }
    fputs("]}", f);
  }
  fputs("]}\n", f);
  return ferror(f) ? REIN_EIO : bad ? REIN_ENOMEM : REIN_OK;
}
