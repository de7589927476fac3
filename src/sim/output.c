/* SPDX-License-Identifier: Apache-2.0 */
/*
 * output.c: what a simulator run writes: the summary fields, the summary as
 * JSON, the time series as CSV and JSON, and the self-contained HTML report
 * with inline SVG charts.
 *
 * Everything is printed with fixed formats from values that are themselves
 * deterministic, so the same run gives byte-identical files. Every string in
 * the JSON goes through jansson (rein/json.h); the summary is one small
 * object, and the series is streamed (a point at a time, never one tree). The
 * report (its charts and numbers from report.c, rein/report.h) has no
 * scripts and no external resources: one file that opens anywhere.
 */
#include "sim_internal.h"

#include "rein/json.h"
#include "rein/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t rein_sim_summary_fields(const rein_sim_summary *s, rein_sim_field *out,
                               size_t cap) {
  rein_sim_field f[64];
  size_t n = 0;
#define F(nm, v) f[n++] = (rein_sim_field){nm, (double)(v)}
  F("logical", s->logical);
  F("attempts", s->attempts);
  F("retries", s->retries);
  F("successes", s->successes);
  F("giveups", s->giveups);
  F("timeouts", s->timeouts);
  F("amplification", s->amplification);
  F("peak_amplification", s->peak_amplification);
  F("peak_load_ratio", s->peak_load_ratio);
  F("peak_retry_ratio", s->peak_retry_ratio);
  F("goodput_per_s", s->goodput_per_s);
  F("baseline_goodput_per_s", s->baseline_goodput_per_s);
  F("success_ratio", s->success_ratio);
  F("latency_p50_ms", s->latency_p50_ms);
  F("latency_p99_ms", s->latency_p99_ms);
  F("latency_p999_ms", s->latency_p999_ms);
  F("recovery_s", s->recovery_s);
  F("recovered", s->recovered);
  F("completion_s", s->completion_s);
  F("oneshot_done", s->oneshot_done);
  F("duplicates", s->duplicates);
  F("extra_executions", s->extra_executions);
  F("wasted", s->wasted);
  F("total_work", s->server_attempts);
  F("events", s->events);
  F("hedges", s->hedges);
  F("hedges_cancelled", s->hedges_cancelled);
  static const char *const gnames[REIN_GIVEUP_COUNT_] = {
      NULL,
      "giveup_max_attempts",
      "giveup_window",
      "giveup_deadline",
      "giveup_budget",
      "giveup_breaker_open",
      "giveup_throttled",
      "giveup_not_retryable",
      "giveup_non_idempotent",
      "giveup_server_stop",
      "giveup_retention",
      "giveup_retry_breaker"};
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++)
    if (gnames[g]) F(gnames[g], s->giveups_by_reason[g]);
#undef F
  for (size_t i = 0; i < n && i < cap; i++)
    out[i] = f[i];
  return n;
}

/* Integers as integers, -1 (not applicable) and what is not finite as
 * null, the rest as reals (written with 6 significant digits). */
static json_t *num(double v) {
  if (v == -1 || !isfinite(v)) return json_null();
  if (v == floor(v) && fabs(v) < 1e15) return json_integer((json_int_t)v);
  return json_real(v);
}

/* Summary members, in the documented order; the seed goes in the frame
 * (a uint64_t, which jansson's signed integers cannot all hold). */
static json_t *summary_members(const rein_sim_result *r) {
  const rein_sim_summary *s = &r->summary;
  json_t *o = json_object(), *g = NULL, *servers = NULL;
  int bad = rein_json_set(o, "duration_s", num(r->duration_s));
  rein_sim_field fl[64];
  size_t n = rein_sim_summary_fields(s, fl, 64);
  for (size_t i = 0; !bad && i < n; i++) {
    if (!strncmp(fl[i].name, "giveup_", 7)) continue;
    json_t *v =
        !strcmp(fl[i].name, "recovered")
            ? (s->recovered < 0 ? json_null() : json_boolean(s->recovered))
            : num(fl[i].value);
    bad = rein_json_set(o, fl[i].name, v);
  }
  bad = bad || rein_json_set(o, "giveups_by_reason", g = json_object());
  for (int k = 1; !bad && k < REIN_GIVEUP_COUNT_; k++)
    bad = rein_json_set(g, rein_giveup_name((rein_giveup)k),
                        json_integer((json_int_t)s->giveups_by_reason[k]));
  bad = bad || rein_json_set(o, "servers", servers = json_array());
  for (size_t k = 0; !bad && k < s->n_servers; k++) {
    const rein_sim_server_summary *v = &s->servers[k];
    json_t *e = NULL;
    bad = rein_json_push(servers, e = json_object()) ||
          rein_json_set(e, "name", rein_json_string(v->name)) ||
          rein_json_set(e, "arrivals", json_integer((json_int_t)v->arrivals)) ||
          rein_json_set(e, "executed", json_integer((json_int_t)v->executed)) ||
          rein_json_set(e, "shed", json_integer((json_int_t)v->shed)) ||
          rein_json_set(e, "wasted", json_integer((json_int_t)v->wasted)) ||
          rein_json_set(e, "failed", json_integer((json_int_t)v->failed)) ||
          rein_json_set(e, "peak_queue", json_integer(v->peak_queue)) ||
          rein_json_set(e, "per_logical", num(v->per_logical));
    /* a replicated server: a row per replica (none otherwise, so the
     * output of a scenario without replicas is as before) */
    const rein_sim_server_summary *rows;
    size_t nr = rein_sim_result_replicas(r, k, &rows);
    json_t *ra = NULL;
    if (!bad && nr > 1)
      bad = rein_json_set(e, "replicas", ra = json_array());
    for (size_t j = 0; !bad && nr > 1 && j < nr; j++) {
      const rein_sim_server_summary *u = &rows[j];
      json_t *x = NULL;
      bad = rein_json_push(ra, x = json_object()) ||
            rein_json_set(x, "name", rein_json_string(u->name)) ||
            rein_json_set(x, "arrivals",
                          json_integer((json_int_t)u->arrivals)) ||
            rein_json_set(x, "executed",
                          json_integer((json_int_t)u->executed)) ||
            rein_json_set(x, "shed", json_integer((json_int_t)u->shed)) ||
            rein_json_set(x, "wasted", json_integer((json_int_t)u->wasted)) ||
            rein_json_set(x, "failed", json_integer((json_int_t)u->failed)) ||
            rein_json_set(x, "peak_queue", json_integer(u->peak_queue)) ||
            rein_json_set(x, "per_logical", num(u->per_logical));
    }
  }
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* The flags of the measurement writers: reals with 6 significant digits,
 * what the hand-written writers printed (%.6g). */
#define SIM_JSON_FLAGS (REIN_JSON_FLAGS | JSON_REAL_PRECISION(6))

rein_status rein_sim_write_summary_json(const rein_sim_result *r, FILE *f) {
  if (!r || !f) return REIN_EINVAL;
  int bad = 0;
  fputs("{\"scenario\":", f);
  bad |= rein_json_put(f, rein_json_string(r->scenario), SIM_JSON_FLAGS);
  fputs(",\"variant\":", f);
  bad |= rein_json_put(f, rein_json_string(r->variant), SIM_JSON_FLAGS);
  fprintf(f, ",\"seed\":%llu,", (unsigned long long)r->seed);
  bad |= rein_json_put(f, summary_members(r), SIM_JSON_FLAGS | JSON_EMBED);
  fputs("}", f);
  if (ferror(f)) return REIN_EIO;
  return bad ? REIN_ENOMEM : REIN_OK;
}

rein_status rein_sim_write_series_csv(const rein_sim_result *const *rs,
                                      size_t n, FILE *f) {
  if (!rs || !f) return REIN_EINVAL;
  fputs(
      "variant,seed,t_s,offered,attempts,retries,successes,failures,rejections,"
      "timeouts,duplicates,load,load_retries,inflight,queue,breaker_open,"
      "capacity_per_s\n",
      f);
  for (size_t i = 0; i < n; i++) {
    const rein_sim_result *r = rs[i];
    for (size_t k = 0; k < r->n_points; k++) {
      const rein_sim_point *p = &r->points[k];
      fprintf(
          f,
          "%s,%llu,%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,"
          "%u,%u,%u,%.1f\n",
          r->variant, (unsigned long long)r->seed, p->t_s,
          (unsigned long long)p->offered, (unsigned long long)p->attempts,
          (unsigned long long)p->retries, (unsigned long long)p->successes,
          (unsigned long long)p->failures, (unsigned long long)p->rejections,
          (unsigned long long)p->timeouts, (unsigned long long)p->duplicates,
          (unsigned long long)p->load, (unsigned long long)p->load_retries,
          p->inflight, p->queue, p->breaker_open, p->capacity_per_s);
    }
  }
  return ferror(f) ? REIN_EIO : REIN_OK;
}

/* The series' strings (variant names) go through jansson; each point is
 * numbers under constant keys, nothing to escape, and is written with one
 * fprintf: jansson took twice as long for the whole command on a
 * 60,000-point series (docs/benchmarks.md, "JSON writers"). t_s and
 * capacity_per_s are finite by construction (the loader bounds interval,
 * duration and capacity). */
rein_status rein_sim_write_series_json(const rein_sim_result *const *rs,
                                       size_t n, FILE *f) {
  if (!rs || !f) return REIN_EINVAL;
  int bad = 0;
  fputs("{\"series\":[", f);
  for (size_t i = 0; i < n; i++) {
    const rein_sim_result *r = rs[i];
    fputs(i ? ",{\"variant\":" : "{\"variant\":", f);
    bad |= rein_json_put(f, rein_json_string(r->variant), SIM_JSON_FLAGS);
    fprintf(f, ",\"seed\":%llu,\"interval_s\":", (unsigned long long)r->seed);
    bad |= rein_json_put(f, num(r->interval_s), SIM_JSON_FLAGS);
    fputs(",\"points\":[", f);
    for (size_t k = 0; k < r->n_points; k++) {
      const rein_sim_point *p = &r->points[k];
      fprintf(f,
              "%s{\"t_s\":%.3f,\"offered\":%llu,\"attempts\":%llu,"
              "\"retries\":%llu,\"successes\":%llu,\"failures\":%llu,"
              "\"rejections\":%llu,\"timeouts\":%llu,\"duplicates\":%llu,"
              "\"load\":%llu,\"load_retries\":%llu,\"inflight\":%u,"
              "\"queue\":%u,\"breaker_open\":%u,\"capacity_per_s\":%.1f}",
              k ? "," : "", p->t_s, (unsigned long long)p->offered,
              (unsigned long long)p->attempts, (unsigned long long)p->retries,
              (unsigned long long)p->successes, (unsigned long long)p->failures,
              (unsigned long long)p->rejections,
              (unsigned long long)p->timeouts,
              (unsigned long long)p->duplicates, (unsigned long long)p->load,
              (unsigned long long)p->load_retries, p->inflight, p->queue,
              p->breaker_open, p->capacity_per_s);
    }
    fputs("]}", f);
  }
  fputs("]}\n", f);
  if (ferror(f)) return REIN_EIO;
  return bad ? REIN_ENOMEM : REIN_OK;
}

/* ---------------------------------------------------------------------- */
/* HTML report                                                             */

/* Labels for people, in rein_sim_summary_fields' names. */
static const struct {
  const char *name, *label;
} LABELS[] = {
    {"logical", "logical calls"},
    {"attempts", "attempts sent"},
    {"retries", "retries sent"},
    {"successes", "calls that succeeded"},
    {"giveups", "calls that gave up"},
    {"timeouts", "attempts that timed out"},
    {"amplification", "attempts per logical call"},
    {"peak_amplification", "peak attempts per call (one interval)"},
    {"peak_load_ratio", "peak load / capacity"},
    {"peak_retry_ratio", "peak share of retries in the load"},
    {"goodput_per_s", "goodput (successes per second)"},
    {"baseline_goodput_per_s", "goodput before the incident (per second)"},
    {"success_ratio", "share of calls that succeeded"},
    {"latency_p50_ms", "call latency p50 (ms)"},
    {"latency_p99_ms", "call latency p99 (ms)"},
    {"latency_p999_ms", "call latency p99.9 (ms)"},
    {"recovery_s", "recovery after the incident (s)"},
    {"recovered", "recovered"},
    {"completion_s", "time to finish the one-shot work (s)"},
    {"oneshot_done", "one-shot calls finished"},
    {"duplicates", "duplicate side effects"},
    {"extra_executions", "extra executions on the server"},
    {"wasted", "work done after the caller gave up"},
    {"total_work", "attempts the servers took"},
    {"events", "simulation events"},
    {"giveup_max_attempts", "gave up: attempts used up"},
    {"giveup_window", "gave up: retry window ended"},
    {"giveup_deadline", "gave up: deadline"},
    {"giveup_budget", "gave up: retry budget empty"},
    {"giveup_breaker_open", "gave up: breaker open"},
    {"giveup_throttled", "gave up: throttled"},
    {"giveup_not_retryable", "gave up: not retryable"},
    {"giveup_non_idempotent", "gave up: not idempotent"},
    {"giveup_server_stop", "gave up: server said stop"},
    {"giveup_retention", "gave up: key retention ended"},
    {"giveup_retry_breaker", "retries stopped by a retry-only breaker"},
};

const char *rein_sim_field_label(const char *name) {
  if (!name) return "";
  for (size_t i = 0; i < sizeof LABELS / sizeof LABELS[0]; i++)
    if (!strcmp(LABELS[i].name, name)) return LABELS[i].label;
  return name;
}

void rein_sim_report_config_default(rein_sim_report_config *c) {
  if (c) memset(c, 0, sizeof *c);
}

typedef double (*series_fn)(const rein_sim_point *p, double interval_s);

static double f_load(const rein_sim_point *p, double iv) {
  return (double)p->load / iv;
}
static double f_goodput(const rein_sim_point *p, double iv) {
  return (double)p->successes / iv;
}
static double f_breaker(const rein_sim_point *p, double iv) {
  (void)iv;
  return p->breaker_open;
}

/* One chart of `fn` per variant (and the capacity line when asked), with
 * the scenario's incidents as bands. */
static rein_status chart(FILE *f, const rein_sim_scenario *sc,
                         const rein_sim_result *const *rs, size_t n,
                         const rein_sim_report_config *cfg, const char *id,
                         const char *title, const char *ylabel,
                         const char *yunit, series_fn fn, int capacity) {
  size_t ns = n + (capacity ? 1 : 0);
  if (ns > REIN_CHART_MAX_SERIES) {
    n = REIN_CHART_MAX_SERIES - (capacity ? 1 : 0);
    ns = REIN_CHART_MAX_SERIES;
  }
  rein_chart_series ser[REIN_CHART_MAX_SERIES];
  double *bufs[REIN_CHART_MAX_SERIES] = {0};
  rein_status st = REIN_OK;
  double iv = rs[0]->interval_s > 0 ? rs[0]->interval_s : 1;
  for (size_t i = 0; i < ns; i++) {
    const rein_sim_result *r = rs[i < n ? i : 0];
    bufs[i] = malloc(2 * (r->n_points ? r->n_points : 1) * sizeof(double));
    if (!bufs[i]) {
      st = REIN_ENOMEM;
      goto out;
    }
    double *x = bufs[i], *y = bufs[i] + r->n_points;
    for (size_t k = 0; k < r->n_points; k++) {
      if (i < n) {
        x[k] = fmin(r->points[k].t_s + iv / 2, r->duration_s);
        y[k] = fn(&r->points[k], iv);
      } else { /* capacity: a value per interval, at the same x */
        x[k] = fmin(r->points[k].t_s + iv / 2, r->duration_s);
        y[k] = r->points[k].capacity_per_s;
      }
    }
    ser[i] = (rein_chart_series){i < n ? r->variant : "nominal capacity", x,
                                 y, r->n_points, i >= n};
  }
  rein_chart_band bands[64];
  size_t nb = 0;
  static const char *const kinds[] = {"outage", "capacity cut", "failures"};
  for (size_t i = 0; i < sc->n_incidents && nb < 64; i++) {
    const sim_incident_spec *in = &sc->incidents[i];
    bands[nb++] = (rein_chart_band){in->start_ns / 1e9, in->end_ns / 1e9,
                                    kinds[in->kind]};
  }
  rein_chart c;
  rein_chart_default(&c);
  c.id = id;
  c.title = title;
  c.x_label = "time since the start (s)";
  c.y_label = ylabel;
  c.x_unit = "s";
  c.y_unit = yunit;
  c.log_y = cfg->log_y;
  c.x_max = rs[0]->duration_s;
  c.series = ser;
  c.n_series = ns;
  c.bands = bands;
  c.n_bands = nb;
  st = rein_chart_write_svg(&c, f);
out:
  for (size_t i = 0; i < ns; i++) free(bufs[i]);
  return st;
}

/* A summary cell: people's numbers, "–" for not applicable, "> N s" for a
 * recovery that never came (the run ended N s after the incident). */
static void cell(FILE *f, const char *name, double v,
                 const rein_sim_summary *S) {
  char b[64];
  fputs("<td>", f);
  if (v == -1)
    fputs("&ndash;", f);
  else if (!strcmp(name, "recovered"))
    fputs(v > 0 ? "yes" : "no", f);
  else if (!strcmp(name, "recovery_s") && S && S->recovered == 0)
    fprintf(f, "&gt; %s (not recovered)", rein_report_number(v, b, sizeof b));
  else
    fputs(rein_report_number(v, b, sizeof b), f);
  fputs("</td>", f);
}

/* Findings, one sentence a variant and one comparison, from the figures. */
static void findings(FILE *f, const rein_sim_scenario *sc,
                     const rein_sim_result *const *rs, size_t n) {
  char a[64], b[64], c[64];
  fputs("<h2>Findings</h2>\n<ul>\n", f);
  for (size_t i = 0; i < n; i++) {
    const rein_sim_summary *S = &rs[i]->summary;
    fputs("<li><b>", f);
    rein_report_html(f, rs[i]->variant);
    fprintf(f,
            "</b>: %s attempts per logical call; load on ",
            rein_report_number(S->amplification, a, sizeof a));
    rein_report_html(f, sc->servers[sc->primary].name);
    fprintf(f, " peaked at %s&times; its capacity; %s of %s calls succeeded",
            rein_report_number(S->peak_load_ratio, a, sizeof a),
            rein_report_number((double)S->successes, b, sizeof b),
            rein_report_number((double)S->logical, c, sizeof c));
    if (S->recovered == 1)
      fprintf(f, "; goodput recovered %s s after the incident ended",
              rein_report_number(S->recovery_s, a, sizeof a));
    else if (S->recovered == 0)
      fprintf(f,
              "; goodput had <b>not recovered</b> when the run ended, %s s "
              "after the incident",
              rein_report_number(S->recovery_s, a, sizeof a));
    if (S->duplicates)
      fprintf(f, "; %s duplicate side effects",
              rein_report_number((double)S->duplicates, a, sizeof a));
    fputs(".</li>\n", f);
  }
  if (n >= 2) {
    const rein_sim_summary *A = &rs[0]->summary, *B = &rs[n - 1]->summary;
    if (A->attempts > 0) {
      double d = 100.0 * ((double)B->attempts - (double)A->attempts) /
                 (double)A->attempts;
      fputs("<li><b>", f);
      rein_report_html(f, rs[n - 1]->variant);
      fprintf(f, "</b> sent %s%% %s attempts than <b>",
              rein_report_number(fabs(d), a, sizeof a),
              d <= 0 ? "fewer" : "more");
      rein_report_html(f, rs[0]->variant);
      double ds = (double)B->successes - (double)A->successes;
      if (ds == 0)
        fputs("</b> with as many successes", f);
      else
        fprintf(f, "</b>, with %s %s successes",
                rein_report_number(fabs(ds), b, sizeof b),
                ds > 0 ? "more" : "fewer");
      if (A->recovered >= 0 && B->recovered >= 0) {
        if (A->recovered == 1 && B->recovered == 1)
          fprintf(f, "; it recovered %s s %s",
                  rein_report_number(fabs(A->recovery_s - B->recovery_s), c,
                                     sizeof c),
                  B->recovery_s <= A->recovery_s ? "sooner" : "later");
        else if (B->recovered != A->recovered) {
          fputs("; only <b>", f);
          rein_report_html(f, B->recovered == 1 ? rs[n - 1]->variant
                                                : rs[0]->variant);
          fputs("</b> recovered", f);
        }
      }
      fputs(".</li>\n", f);
    }
  }
  fputs("</ul>\n", f);
}

rein_status rein_sim_write_report_html(const rein_sim_scenario *sc,
                                       const rein_sim_result *const *rs,
                                       size_t n,
                                       const rein_sim_report_config *cfg_in,
                                       FILE *f) {
  if (!sc || !rs || !n || !f) return REIN_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!rs[i]) return REIN_EINVAL;
  rein_sim_report_config cfg;
  rein_sim_report_config_default(&cfg);
  if (cfg_in) cfg = *cfg_in;
  char b1[64], b2[64];
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>rein simulate: ",
        f);
  rein_report_html(f, sc->name);
  fprintf(f, "</title>\n<style>%s</style></head><body>\n<h1>rein simulate: ",
          rein_report_css());
  rein_report_html(f, sc->name);
  fputs("</h1>\n", f);
  if (sc->description) {
    fputs("<p>", f);
    rein_report_html(f, sc->description);
    fputs("</p>\n", f);
  }
  fprintf(f, "<p class=\"note\">seed %llu &middot; %s s simulated &middot; "
             "one point every %s s &middot; primary server <b>",
          (unsigned long long)rs[0]->seed,
          rein_report_number(rs[0]->duration_s, b1, sizeof b1),
          rein_report_number(rs[0]->interval_s, b2, sizeof b2));
  rein_report_html(f, sc->servers[sc->primary].name);
  fputs("</b> &middot; incidents shaded &middot; every variant runs the "
        "same arrivals (same seed) through rein's own retry engine &middot; "
        "hover a chart for exact values</p>\n",
        f);
  findings(f, sc, rs, n);
  char title[200];
  snprintf(title, sizeof title, "Load on %s (attempts arriving per second)",
           sc->servers[sc->primary].name);
  rein_status st = chart(f, sc, rs, n, &cfg, "load", title,
                         "attempts per second", "attempts/s", f_load, 1);
  if (st == REIN_OK)
    st = chart(f, sc, rs, n, &cfg, "goodput",
               "Goodput (logical calls that succeeded, per second)",
               "successes per second", "successes/s", f_goodput, 0);
  int any_breaker = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < rs[i]->n_points; k++)
      if (rs[i]->points[k].breaker_open) any_breaker = 1;
  if (st == REIN_OK && any_breaker)
    st = chart(f, sc, rs, n, &cfg, "breaker", "Clients whose breaker is open",
               "clients", "clients", f_breaker, 0);
  if (st != REIN_OK) return st;
  fputs("<h2>Summary</h2>\n<table><tr><th>figure</th>", f);
  for (size_t i = 0; i < n; i++) {
    fputs("<th>", f);
    rein_report_html(f, rs[i]->variant);
    fputs("</th>", f);
  }
  fputs("</tr>\n", f);
  rein_sim_field fl[64];
  size_t nf = rein_sim_summary_fields(&rs[0]->summary, fl, 64);
  for (size_t j = 0; j < nf; j++) {
    fputs("<tr><td title=\"", f);
    rein_report_html(f, fl[j].name);
    fputs("\">", f);
    rein_report_html(f, rein_sim_field_label(fl[j].name));
    fputs("</td>", f);
    for (size_t i = 0; i < n; i++) {
      rein_sim_field g[64];
      rein_sim_summary_fields(&rs[i]->summary, g, 64);
      cell(f, fl[j].name, g[j].value, &rs[i]->summary);
    }
    fputs("</tr>\n", f);
  }
  for (size_t k = 0; k < sc->n_servers; k++) {
    fputs("<tr><td>attempts per logical call at ", f);
    rein_report_html(f, sc->servers[k].name);
    fputs("</td>", f);
    for (size_t i = 0; i < n; i++)
      cell(f, "", rs[i]->summary.servers[k].per_logical, NULL);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n<p class=\"note\">Definitions: docs/simulator.md (hover "
        "a figure's name for its field in <code>--json</code>). Attempts per "
        "logical call = client attempts / logical calls; peak load / "
        "capacity = the largest per-interval arrivals at the primary server "
        "over its nominal capacity; recovery = from the end of the last "
        "incident until goodput stays within the tolerance of its "
        "pre-incident level (and load no higher) for the hold window; "
        "&ldquo;&gt; N&rdquo; means the run ended N s after the incident "
        "without that happening.</p>\n",
        f);
  rein_report_footer(f, cfg.command);
  fputs("</body></html>\n", f);
  return ferror(f) ? REIN_EIO : REIN_OK;
}
