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
 * report has no scripts and no external resources: one file that opens
 * anywhere.
 */
#include "sim_internal.h"

#include "rein/json.h"

#include <math.h>
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
      "giveup_retention"};
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
  fputs("variant,t_s,offered,attempts,retries,successes,failures,rejections,"
        "timeouts,duplicates,load,load_retries,inflight,queue,breaker_open,"
        "capacity_per_s\n",
        f);
  for (size_t i = 0; i < n; i++) {
    const rein_sim_result *r = rs[i];
    for (size_t k = 0; k < r->n_points; k++) {
      const rein_sim_point *p = &r->points[k];
      fprintf(f,
              "%s,%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%u,"
              "%u,%u,%.1f\n",
              r->variant, p->t_s, (unsigned long long)p->offered,
              (unsigned long long)p->attempts, (unsigned long long)p->retries,
              (unsigned long long)p->successes, (unsigned long long)p->failures,
              (unsigned long long)p->rejections,
              (unsigned long long)p->timeouts,
              (unsigned long long)p->duplicates, (unsigned long long)p->load,
              (unsigned long long)p->load_retries, p->inflight, p->queue,
              p->breaker_open, p->capacity_per_s);
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

static void html(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    default:
      fputc(*s, f);
    }
  }
}

static const char *const COLORS[] = {"#d62728", "#1f77b4", "#2ca02c",
                                     "#9467bd", "#ff7f0e", "#8c564b",
                                     "#e377c2", "#17becf"};

static double nice_max(double v) {
  if (v <= 0) return 1;
  double e = pow(10, floor(log10(v)));
  double m = v / e;
  double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
  return n * e;
}

/* Tick label: 800, 2.5k, 1.2M. */
static void tick_label(char *buf, size_t cap, double v) {
  if (v >= 1e6)
    snprintf(buf, cap, "%gM", v / 1e6);
  else if (v >= 1e4)
    snprintf(buf, cap, "%gk", v / 1e3);
  else
    snprintf(buf, cap, "%g", v);
}

typedef double (*series_fn)(const rein_sim_point *p, double interval_s);

static double f_load(const rein_sim_point *p, double iv) {
  return p->load / iv;
}
static double f_goodput(const rein_sim_point *p, double iv) {
  return p->successes / iv;
}
static double f_breaker(const rein_sim_point *p, double iv) {
  (void)iv;
  return p->breaker_open;
}

#define W 960
#define H 300
#define ML 70
#define MR 20
#define MT 30
#define MB 40

static void chart(FILE *f, const rein_sim_scenario *sc,
                  const rein_sim_result *const *rs, size_t n, const char *title,
                  const char *ylabel, series_fn fn, int capacity) {
  double dur = rs[0]->duration_s, iv = rs[0]->interval_s;
  double ymax = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < rs[i]->n_points; k++) {
      double v = fn(&rs[i]->points[k], iv);
      if (v > ymax) ymax = v;
      if (capacity && rs[i]->points[k].capacity_per_s > ymax)
        ymax = rs[i]->points[k].capacity_per_s;
    }
  ymax = nice_max(ymax * 1.05);
  double pw = W - ML - MR, ph = H - MT - MB;
#define X(t) (ML + (t) / dur * pw)
#define Y(v) (MT + ph - (v) / ymax * ph)
  fprintf(f, "<h2>");
  html(f, title);
  fprintf(f,
          "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
          "font-size=\"12\">\n",
          W, H, W, H);
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"#fff\" stroke=\"#999\"/>\n",
          ML, MT, pw, ph);
  /* incidents */
  for (size_t i = 0; i < sc->n_incidents; i++) {
    const sim_incident_spec *in = &sc->incidents[i];
    double a = in->start_ns / 1e9, b = in->end_ns / 1e9;
    if (a > dur) continue;
    if (b > dur) b = dur;
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"#f4a582\" fill-opacity=\"0.35\"/>\n",
            X(a), MT, fmax(X(b) - X(a), 1.5), ph);
    static const char *const kinds[] = {"outage", "capacity cut", "failures"};
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#b2182b\">%s</text>\n",
            X(a) + 2, MT + 12 + (int)(i % 3) * 12, kinds[in->kind]);
  }
  /* grid and axes */
  for (int t = 0; t <= 5; t++) {
    double v = ymax * t / 5;
    char lb[32];
    tick_label(lb, sizeof lb, v);
    fprintf(f,
            "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" "
            "text-anchor=\"end\">%s</text>\n",
            ML, ML + pw, Y(v), Y(v), ML - 6, Y(v) + 4, lb);
  }
  double xstep = nice_max(dur / 8);
  for (double t = 0; t <= dur + 1e-9; t += xstep)
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#999\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\">%gs</text>\n",
            X(t), X(t), MT + ph, MT + ph + 5, X(t), MT + ph + 18, t);
  fprintf(f,
          "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" "
          "text-anchor=\"middle\">",
          MT + ph / 2, MT + ph / 2);
  html(f, ylabel);
  fputs("</text>\n", f);
  /* capacity */
  if (capacity) {
    fputs("<polyline fill=\"none\" stroke=\"#333\" stroke-dasharray=\"6 4\" "
          "stroke-width=\"1.5\" points=\"",
          f);
    const rein_sim_result *r = rs[0];
    for (size_t k = 0; k < r->n_points; k++) {
      double c = r->points[k].capacity_per_s;
      fprintf(f, "%.1f,%.1f %.1f,%.1f ", X(r->points[k].t_s), Y(c),
              X(fmin(r->points[k].t_s + iv, dur)), Y(c));
    }
    fputs("\"/>\n", f);
  }
  for (size_t i = 0; i < n; i++) {
    const rein_sim_result *r = rs[i];
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" "
            "points=\"",
            COLORS[i % 8]);
    for (size_t k = 0; k < r->n_points; k++) {
      double t = fmin(r->points[k].t_s + iv / 2, dur);
      fprintf(f, "%.1f,%.1f ", X(t), Y(fn(&r->points[k], iv)));
    }
    fputs("\"/>\n", f);
  }
  /* legend */
  double lx = ML + 10;
  for (size_t i = 0; i < n; i++) {
    fprintf(f,
            "<rect x=\"%.1f\" y=\"8\" width=\"14\" height=\"4\" "
            "fill=\"%s\"/><text x=\"%.1f\" y=\"14\">",
            lx, COLORS[i % 8], lx + 18);
    html(f, rs[i]->variant);
    fputs("</text>\n", f);
    lx += 30 + 7.5 * (double)strlen(rs[i]->variant);
  }
  if (capacity)
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"10\" y2=\"10\" "
            "stroke=\"#333\" stroke-dasharray=\"6 4\"/><text x=\"%.1f\" "
            "y=\"14\">nominal capacity</text>\n",
            lx, lx + 20, lx + 24);
  fputs("</svg>\n", f);
#undef X
#undef Y
}

static void cell(FILE *f, const char *name, double v) {
  fputs("<td>", f);
  if (v == -1)
    fputs("&ndash;", f);
  else if (!strcmp(name, "recovered"))
    fputs(v > 0 ? "yes" : "no", f);
  else if (v == floor(v) && fabs(v) < 1e15)
    fprintf(f, "%.0f", v);
  else
    fprintf(f, "%.3g", v);
  fputs("</td>", f);
}

rein_status rein_sim_write_report_html(const rein_sim_scenario *sc,
                                       const rein_sim_result *const *rs,
                                       size_t n, FILE *f) {
  if (!sc || !rs || !n || !f) return REIN_EINVAL;
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>rein simulate: ",
        f);
  html(f, sc->name);
  fputs("</title>\n<style>body{font-family:sans-serif;margin:24px;"
        "color:#222;max-width:1000px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}"
        "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}"
        "h2{font-size:16px;margin:18px 0 4px}.note{color:#555;font-size:13px}"
        "</style></head><body>\n<h1>rein simulate: ",
        f);
  html(f, sc->name);
  fputs("</h1>\n", f);
  if (sc->description) {
    fputs("<p>", f);
    html(f, sc->description);
    fputs("</p>\n", f);
  }
  fprintf(f,
          "<p class=\"note\">seed %llu &middot; %.0f s simulated &middot; "
          "interval %.3g s &middot; primary server <b>",
          (unsigned long long)rs[0]->seed, rs[0]->duration_s,
          rs[0]->interval_s);
  html(f, sc->servers[sc->primary].name);
  fputs("</b> &middot; incidents shaded &middot; every variant runs the "
        "same arrivals (same seed) through rein's own retry engine</p>\n",
        f);
  char title[160];
  snprintf(title, sizeof title, "Load on %s (attempts arriving per second)",
           sc->servers[sc->primary].name);
  chart(f, sc, rs, n, title, "attempts/s", f_load, 1);
  chart(f, sc, rs, n, "Goodput (logical calls that succeeded, per second)",
        "successes/s", f_goodput, 0);
  int any_breaker = 0;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < rs[i]->n_points; k++)
      if (rs[i]->points[k].breaker_open) any_breaker = 1;
  if (any_breaker)
    chart(f, sc, rs, n, "Clients whose breaker is open", "clients", f_breaker,
          0);
  fputs("<h2>Summary</h2>\n<table><tr><th>metric</th>", f);
  for (size_t i = 0; i < n; i++) {
    fputs("<th>", f);
    html(f, rs[i]->variant);
    fputs("</th>", f);
  }
  fputs("</tr>\n", f);
  rein_sim_field fl[64];
  size_t nf = rein_sim_summary_fields(&rs[0]->summary, fl, 64);
  for (size_t j = 0; j < nf; j++) {
    fprintf(f, "<tr><td>%s</td>", fl[j].name);
    for (size_t i = 0; i < n; i++) {
      rein_sim_field g[64];
      rein_sim_summary_fields(&rs[i]->summary, g, 64);
      cell(f, fl[j].name, g[j].value);
    }
    fputs("</tr>\n", f);
  }
  for (size_t k = 0; k < sc->n_servers; k++) {
    fputs("<tr><td>attempts per logical call at ", f);
    html(f, sc->servers[k].name);
    fputs("</td>", f);
    for (size_t i = 0; i < n; i++)
      cell(f, "", rs[i]->summary.servers[k].per_logical);
    fputs("</tr>\n", f);
  }
  fputs("</table>\n<p class=\"note\">Definitions: docs/simulator.md. "
        "amplification = client attempts / logical calls; peak_load_ratio = "
        "largest per-interval arrivals at the primary server / its nominal "
        "capacity; recovery_s = from the end of the last incident until "
        "goodput stays within the tolerance of its pre-incident level (and "
        "load no higher) for the hold window.</p>\n</body></html>\n",
        f);
  return ferror(f) ? REIN_EIO : REIN_OK;
}
