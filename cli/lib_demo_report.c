/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo_report.c: what `rein demo` shows of its rounds: the text table
 * (and the measured-vs-simulated table), the HTML report with the
 * load-over-time charts (inline SVG) and the --json figures (jansson,
 * through rein/json.h). The rounds come from rein-demo-load (lib_demo.c).
 */
#include "lib_demo.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "rein.h"
#include "rein/json.h"

static void fmt_recovery(char *b, size_t n, const demo_round *r, double v) {
  if (v < 0)
    snprintf(b, n, "not within %.1f s", r->observed_after_s);
  else
    snprintf(b, n, "%.2f s", v);
}

void demo_print_summary(FILE *f, const demo_config *c, const demo_round *r,
                        int n) {
  fprintf(f,
          "\nledger capacity %.0f charges/s, offered %.0f charges/s, "
          "outage (%s) %.0f s at t=%.0f s\n\n",
          c->capacity, c->rate, c->stall ? "ledger stalled" : "503s",
          c->outage_s, c->warmup_s);
  fprintf(f, "%-40s", "");
  for (int i = 0; i < n; i++)
    fprintf(f, " %18s", r[i].name);
  fprintf(f, "\n");
  char v[64];
#define ROW(label, ...)                                                        \
  do {                                                                         \
    fprintf(f, "%-40s", label);                                                \
    for (int i = 0; i < n; i++) {                                              \
      snprintf(v, sizeof v, __VA_ARGS__);                                      \
      fprintf(f, " %18s", v);                                                  \
    }                                                                          \
    fprintf(f, "\n");                                                          \
  } while (0)
  ROW("peak load / capacity", "%.2fx", r[i].peak_ratio);
  ROW("peak load (requests/s, 1 s)", "%.0f", r[i].peak_load);
  ROW("peak load / capacity (250 ms)", "%.2fx", r[i].peak_bucket_ratio);
  ROW("amplification (attempts/call)", "%.2fx", r[i].amplification);
  ROW("ledger requests / call", "%.2fx", r[i].ledger_amplification);
  fprintf(f, "%-40s", "recovery after the outage");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n%-40s", "  goodput alone back after");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].goodput_recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n");
  ROW("duplicate charges", "%" PRIu64, r[i].duplicates);
  ROW("charges recorded", "%" PRIu64, r[i].charges);
  ROW("  charged, but the caller saw a failure", "%" PRIu64,
      r[i].charges - r[i].duplicates > r[i].done
          ? r[i].charges - r[i].duplicates - r[i].done
          : 0);
  ROW("calls", "%" PRIu64, r[i].calls);
  ROW("succeeded", "%" PRIu64, r[i].done);
  ROW("gave up", "%" PRIu64, r[i].gave_up);
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++)
      any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "  gave up: %s", rein_giveup_name(g));
    ROW(label, "%" PRIu64, r[i].giveups[g]);
  }
  ROW("unfinished at the end", "%" PRIu64, r[i].unfinished);
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++) {
    char label[64];
    snprintf(label, sizeof label, "attempts: %s",
             rein_outcome_kind_name((rein_outcome_kind)k));
    ROW(label, "%" PRIu64, r[i].outcomes[k]);
  }
  ROW("shed by the ledger (503)", "%" PRIu64, r[i].ledger_shed);
#undef ROW
  fprintf(f, "\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "%s: %s\n", r[i].name, r[i].policy_desc);
}

static void fmt_rec_sim(char *b, size_t n, const demo_sim *m) {
  if (m->recovered_runs == m->runs && m->runs)
    snprintf(b, n, "%.2f s", m->recovery_s);
  else if (m->recovered_runs)
    snprintf(b, n, "%.2f s (%d/%d)", m->recovery_s, m->recovered_runs, m->runs);
  else
    snprintf(b, n, "not recovered");
}

void demo_print_sim(FILE *f, const demo_round *r, const demo_sim *sims, int n) {
  fprintf(f,
          "\nmeasured vs `rein simulate` (same parameters, mean of %d "
          "seeds; docs/fidelity.md)\n\n%-32s",
          sims[0].runs, "");
  for (int i = 0; i < n; i++)
    fprintf(f, " %13s %13s", r[i].name, "simulated");
  fprintf(f, "\n");
  char a[48], b[48];
  for (int row = 0; row < 5; row++) {
    static const char *const labels[] = {
        "peak load / capacity (250 ms)", "amplification (attempts/call)",
        "recovery after the outage", "calls succeeded", "duplicate charges"};
    fprintf(f, "%-32s", labels[row]);
    for (int i = 0; i < n; i++) {
      const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
      switch (row) {
      case 0:
        snprintf(a, sizeof a, "%.2fx", r[i].peak_bucket_ratio);
        snprintf(b, sizeof b, "%.2fx", m->peak_bucket_ratio);
        break;
      case 1:
        snprintf(a, sizeof a, "%.2fx", r[i].amplification);
        snprintf(b, sizeof b, "%.2fx", m->amplification);
        break;
      case 2:
        fmt_recovery(a, sizeof a, &r[i], r[i].recovery_s);
        fmt_rec_sim(b, sizeof b, m);
        break;
      case 3:
        snprintf(a, sizeof a, "%" PRIu64, r[i].done);
        snprintf(b, sizeof b, "%.0f", m->succeeded);
        break;
      default:
        snprintf(a, sizeof a, "%" PRIu64, r[i].duplicates);
        snprintf(b, sizeof b, "%.0f", m->duplicates);
        break;
      }
      fprintf(f, " %13s %13s", a, b);
    }
    fprintf(f, "\n");
  }
}

static void svg_chart(FILE *f, const demo_config *c, const demo_round *r, int n,
                      bool goodput, const char *title) {
  const int W = 860, H = 300, L = 60, R = 20, T = 30, B = 40;
  double tmax = 0, ymax = c->capacity * 1.2;
  for (int i = 0; i < n; i++) {
    double t = r[i].nbuckets * c->bucket_s;
    if (t > tmax) tmax = t;
    for (int b = 0; b < r[i].nbuckets; b++) {
      double y = goodput ? r[i].good[b] : r[i].load[b];
      if (y > ymax) ymax = y;
    }
  }
  if (tmax <= 0) tmax = 1;
  /* A 1-2-5 step giving at most 8 grid lines. */
  double step = 1;
  for (int k = 0; ymax / step > 8 && k < 30; k++)
    step *= k % 3 == 1 ? 2.5 : 2;
  ymax = ceil(ymax / step) * step;
  double pw = W - L - R, ph = H - T - B;
#define X(t) (L + (t) / tmax * pw)
#define Y(v) (T + ph - (v) / ymax * ph)
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
          "aria-label=\"%s\">\n",
          W, H, W, H, title);
  fprintf(f,
          "<text x=\"%d\" y=\"18\" font-size=\"14\" "
          "font-weight=\"bold\">%s</text>\n",
          L, title);
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"#fde2e2\"/>\n",
          X(c->warmup_s), T, X(c->warmup_s + c->outage_s) - X(c->warmup_s), ph);
  fprintf(f,
          "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
          "fill=\"#a33\">outage</text>\n",
          X(c->warmup_s) + 4, T + 12);
  for (double y = 0; y <= ymax + 1e-9; y += step) {
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" font-size=\"10\" "
            "text-anchor=\"end\">%.0f</text>\n",
            L, Y(y), W - R, Y(y), L - 4, Y(y) + 3, y);
  }
  for (double t = 0; t <= tmax + 1e-9; t += 2) {
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
            "text-anchor=\"middle\">%.0fs</text>\n",
            X(t), H - B + 14, t);
  }
  fprintf(f,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\" "
          "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%.1f\" "
          "font-size=\"10\" text-anchor=\"end\">capacity %.0f/s</text>\n",
          L, Y(c->capacity), W - R, Y(c->capacity), W - R - 2,
          Y(c->capacity) - 4, c->capacity);
  static const char *const colors[] = {"#d62728", "#1f77b4", "#2ca02c"};
  for (int i = 0; i < n; i++) {
    fprintf(f,
            "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
            "points=\"",
            colors[i % 3]);
    for (int b = 0; b < r[i].nbuckets; b++) {
      double y = goodput ? r[i].good[b] : r[i].load[b];
      fprintf(f, "%.1f,%.1f ", X((b + 0.5) * c->bucket_s), Y(y));
    }
    fprintf(f,
            "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"12\" "
            "fill=\"%s\">%s</text>\n",
            W - R - 160 + i * 70, T - 10, colors[i % 3], r[i].name);
  }
  fprintf(f,
          "<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
          "transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">%s"
          "</text>\n",
          T + ph / 2, T + ph / 2, goodput ? "charges/s (201)" : "requests/s");
  fprintf(f, "</svg>\n");
#undef X
#undef Y
}

int demo_write_html(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>rein demo: a retry storm, and rein stopping it</title>\n"
          "<style>body{font-family:sans-serif;max-width:900px;margin:2em "
          "auto;color:#222}table{border-collapse:collapse}td,th{border:1px "
          "solid #ccc;padding:4px 10px;text-align:right}th:first-child,"
          "td:first-child{text-align:left}pre{background:#f6f6f6;padding:"
          "8px}</style></head><body>\n"
          "<h1>rein demo</h1>\n<p>examples/ledger on loopback: capacity "
          "%.0f charges/s (%d workers, queue %d, %d ms queue timeout, "
          "503 + Retry-After when shedding). An open-loop fleet offers "
          "%.0f charges/s; for %.0f s from t=%.0f s the ledger %s. Same "
          "workload, same outage, two client policies. Figures come from "
          "the ledger's own counters.</p>\n",
          c->capacity, c->ledger_workers, c->queue, c->queue_timeout_ms,
          c->rate, c->outage_s, c->warmup_s,
          c->stall ? "stalls (SIGSTOP: connections queue, nothing is "
                     "answered, then everything queued is processed)"
                   : "fails every charge with 503");
  fprintf(f, "<table><tr><th></th>");
  for (int i = 0; i < n; i++)
    fprintf(f, "<th>%s</th>", r[i].name);
  fprintf(f, "</tr>\n");
  char v[64];
#define HROW(label, ...)                                                       \
  do {                                                                         \
    fprintf(f, "<tr><td>%s</td>", label);                                      \
    for (int i = 0; i < n; i++) {                                              \
      snprintf(v, sizeof v, __VA_ARGS__);                                      \
      fprintf(f, "<td>%s</td>", v);                                            \
    }                                                                          \
    fprintf(f, "</tr>\n");                                                     \
  } while (0)
  HROW("peak load / capacity", "%.2fx", r[i].peak_ratio);
  HROW("amplification (attempts per call)", "%.2fx", r[i].amplification);
  fprintf(f, "<tr><td>recovery after the outage</td>");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].recovery_s);
    fprintf(f, "<td>%s</td>", v);
  }
  fprintf(f, "</tr>\n<tr><td>goodput alone back after</td>");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].goodput_recovery_s);
    fprintf(f, "<td>%s</td>", v);
  }
  fprintf(f, "</tr>\n");
  HROW("duplicate charges", "%" PRIu64, r[i].duplicates);
  HROW("calls", "%" PRIu64, r[i].calls);
  HROW("succeeded", "%" PRIu64, r[i].done);
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++)
      any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "gave up: %s", rein_giveup_name(g));
    HROW(label, "%" PRIu64, r[i].giveups[g]);
  }
  HROW("shed by the ledger (503)", "%" PRIu64, r[i].ledger_shed);
#undef HROW
  fprintf(f, "</table>\n<p>The trade: while the ledger is down or just back, "
             "rein gives calls up early (budget, breaker, throttle) instead of "
             "retrying them into it, so fewer calls of the incident window "
             "succeed; in exchange the load stays near capacity, the ledger "
             "comes back without a retry storm, and no charge is made twice."
             "</p>\n<h2>Load on the ledger</h2>\n");
  svg_chart(f, c, r, n, false, "POST /charges received per second");
  fprintf(f, "<h2>Goodput</h2>\n");
  svg_chart(f, c, r, n, true, "charges answered 201 per second");
  if (sims) {
    fprintf(
        f,
        "<h2>Measured and simulated</h2>\n<p>The same situation "
        "through <code>rein simulate</code>'s engine (the same retry "
        "engine and admission code on a virtual clock; the "
        "scenario file this run read its parameters from; mean of %d seeds). "
        "Where they differ, docs/fidelity.md says why.</p>\n"
        "<table><tr><th></th>",
        sims[0].runs);
    for (int i = 0; i < n; i++)
      fprintf(f, "<th>%s</th><th>%s simulated</th>", r[i].name, r[i].name);
    fprintf(f, "</tr>\n");
    char a[48], b[48];
    static const char *const labels[] = {
        "peak load / capacity (250 ms)", "amplification (attempts per call)",
        "recovery after the outage", "calls succeeded"};
    for (int row = 0; row < 4; row++) {
      fprintf(f, "<tr><td>%s</td>", labels[row]);
      for (int i = 0; i < n; i++) {
        const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
        if (row == 0) {
          snprintf(a, sizeof a, "%.2fx", r[i].peak_bucket_ratio);
          snprintf(b, sizeof b, "%.2fx", m->peak_bucket_ratio);
        } else if (row == 1) {
          snprintf(a, sizeof a, "%.2fx", r[i].amplification);
          snprintf(b, sizeof b, "%.2fx", m->amplification);
        } else if (row == 2) {
          fmt_recovery(a, sizeof a, &r[i], r[i].recovery_s);
          fmt_rec_sim(b, sizeof b, m);
        } else {
          snprintf(a, sizeof a, "%" PRIu64, r[i].done);
          snprintf(b, sizeof b, "%.0f", m->succeeded);
        }
        fprintf(f, "<td>%s</td><td>%s</td>", a, b);
      }
      fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
  }
  fprintf(f, "<h2>Policies</h2>\n<ul>\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "<li><b>%s</b>: %s</li>\n", r[i].name, r[i].policy_desc);
  fprintf(f, "</ul>\n<p>Recovery: from the end of the outage to the first "
             "one-second window whose goodput is within 20%% of the "
             "pre-outage goodput and whose load is at most 1.2x the "
             "pre-outage load (the ledger serves the normal load, and no "
             "retry storm is left); the definition of <code>rein "
             "simulate</code> with tolerance 0.2 and a 1 s hold. Goodput "
             "alone: the first one-second window with goodput at least 80%% "
             "of the pre-outage goodput, however much else the ledger "
             "received. A breaker holds a client back for its open time "
             "after the ledger is healthy again: that delay is the price "
             "of not hammering it while it is not.</p>\n</body></html>\n");
  return fclose(f) == 0 ? 0 : -1;
}

static json_t *series(const double *v, int n) {
  json_t *a = json_array();
  for (int i = 0; a && i < n; i++)
    rein_json_push(a, json_real(v[i]));
  return a;
}

static json_t *round_json(const demo_round *r) {
  json_t *o = json_object(), *g = json_object();
  int bad = !o || !g;
#define U(k, v) bad |= rein_json_set(o, k, json_integer((json_int_t)(v)))
#define D(k, v) bad |= rein_json_set(o, k, json_real(v))
  D("peak_load", r->peak_load);
  D("peak_ratio", r->peak_ratio);
  D("peak_bucket_ratio", r->peak_bucket_ratio);
  D("amplification", r->amplification);
  D("ledger_amplification", r->ledger_amplification);
  D("recovery_s", r->recovery_s);
  D("goodput_recovery_s", r->goodput_recovery_s);
  U("duplicates", r->duplicates);
  U("charges", r->charges);
  U("calls", r->calls);
  U("succeeded", r->done);
  U("gave_up", r->gave_up);
  U("unfinished", r->unfinished);
  U("attempts", r->attempts);
  U("ledger_posts", r->ledger_posts);
  U("shed", r->ledger_shed);
  D("baseline_goodput", r->baseline_good);
#undef U
#undef D
  for (int k = 1; k < REIN_GIVEUP_COUNT_; k++)
    bad |= rein_json_set(g, rein_giveup_name((rein_giveup)k),
                         json_integer((json_int_t)r->giveups[k]));
  bad |= rein_json_set(o, "giveups", g);
  bad |= rein_json_set(o, "load", series(r->load, r->nbuckets));
  bad |= rein_json_set(o, "good", series(r->good, r->nbuckets));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *sim_json(const demo_sim *m) {
  json_t *o = json_object();
  int bad = !o;
  bad |= rein_json_set(o, "runs", json_integer(m->runs));
  bad |= rein_json_set(o, "peak_bucket_ratio", json_real(m->peak_bucket_ratio));
  bad |= rein_json_set(o, "amplification", json_real(m->amplification));
  bad |= rein_json_set(o, "recovery_s", json_real(m->recovery_s));
  bad |= rein_json_set(o, "recovered_runs", json_integer(m->recovered_runs));
  bad |= rein_json_set(o, "succeeded", json_real(m->succeeded));
  bad |= rein_json_set(o, "duplicates", json_real(m->duplicates));
  bad |= rein_json_set(o, "calls", json_real(m->calls));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int demo_write_json(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims) {
  json_t *root = json_object(), *rounds = json_object();
  int bad = !root || !rounds;
  bad |= rein_json_set(root, "capacity", json_real(c->capacity));
  bad |= rein_json_set(root, "rate", json_real(c->rate));
  bad |= rein_json_set(root, "outage_s", json_real(c->outage_s));
  bad |= rein_json_set(root, "outage_kind",
                       json_string(c->stall ? "stall" : "fail"));
  bad |= rein_json_set(root, "warmup_s", json_real(c->warmup_s));
  bad |= rein_json_set(root, "tail_s", json_real(c->tail_s));
  bad |= rein_json_set(root, "bucket_s", json_real(c->bucket_s));
  for (int i = 0; i < n; i++)
    bad |= rein_json_set(rounds, r[i].name, round_json(&r[i]));
  bad |= rein_json_set(root, "rounds", rounds);
  if (sims) {
    json_t *s = json_object();
    bad |= !s;
    bad |= rein_json_set(s, "naive", sim_json(&sims[0]));
    bad |= rein_json_set(s, "rein", sim_json(&sims[1]));
    bad |= rein_json_set(root, "simulated", s);
  }
  FILE *f = bad ? NULL : fopen(path, "w");
  if (f) {
    bad |= rein_json_write(f, root, REIN_JSON_FLAGS | JSON_REAL_PRECISION(6));
    bad |= fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
  }
  json_decref(root);
  return f && !bad ? 0 : -1;
}
