/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo_html.c: `rein demo`'s HTML report: findings written from the
 * rounds' figures, the table, the load and goodput charts (rein/report.h,
 * the simulator's report's charts: a tooltip per sampling period, the
 * outage shaded, the capacity line), measured beside simulated (or why
 * not), the policies, the recovery definition the scenario gave, and the
 * command in the footer. No scripts.
 */
#include "lib_demo.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "rein.h"
#include "rein/report.h"

/* One chart of the rounds' load (with the capacity line) or goodput,
 * the outage shaded, through rein/report.h. */
static int chart(FILE *f, const demo_config *c, const demo_round *r, int n,
                 bool goodput, const char *id, const char *title) {
  static double xs[DEMO_MAX_BUCKETS], cap[DEMO_MAX_BUCKETS];
  rein_chart_series ser[4];
  int nb = 0, ns = 0;
  for (int i = 0; i < n; i++)
    if (r[i].nbuckets > nb) nb = r[i].nbuckets;
  for (int b = 0; b < nb; b++) {
    xs[b] = (b + 0.5) * c->bucket_s;
    cap[b] = c->capacity;
  }
  for (int i = 0; i < n && ns < 3; i++)
    ser[ns++] =
        (rein_chart_series){r[i].name, xs, goodput ? r[i].good : r[i].load,
                            (size_t)r[i].nbuckets, false};
  if (!goodput)
    ser[ns++] =
        (rein_chart_series){"ledger capacity", xs, cap, (size_t)nb, true};
  rein_chart_band band = {c->warmup_s, c->warmup_s + c->outage_s,
                          c->stall ? "outage (ledger stalled)"
                                   : "outage (503 to every charge)"};
  rein_chart ch;
  rein_chart_default(&ch);
  ch.id = id;
  ch.title = title;
  ch.x_label = "time since the round started (s)";
  ch.y_label =
      goodput ? "charges answered 201 per second" : "POST /charges per second";
  ch.x_unit = "s";
  ch.y_unit = goodput ? "charges/s" : "requests/s";
  ch.x_max = nb * c->bucket_s;
  ch.series = ser;
  ch.n_series = (size_t)ns;
  ch.bands = &band;
  ch.n_bands = 1;
  return rein_chart_write_svg(&ch, f) == REIN_OK ? 0 : -1;
}

/* "6.25 s", or "> 8 s (not recovered)" when the round ended first. */
static const char *recovery_text(char *b, size_t cap, const demo_round *r,
                                 double v) {
  char x[32];
  if (v < 0)
    snprintf(b, cap, "&gt; %s s (not recovered)",
             rein_report_number(r->observed_after_s, x, sizeof x));
  else
    snprintf(b, cap, "%s s", rein_report_number(v, x, sizeof x));
  return b;
}

/* The findings, written from the rounds' figures. */
static void findings(FILE *f, const demo_config *c, const demo_round *r,
                     int n) {
  char a[64], b[64], d[96];
  fputs("<h2>Findings</h2>\n<ul>\n", f);
  for (int i = 0; i < n; i++) {
    fprintf(f, "<li><b>");
    rein_report_html(f, r[i].name);
    fprintf(f,
            "</b>: load on the ledger peaked at %s&times; its capacity "
            "(%s requests/s against %s); ",
            rein_report_number(r[i].peak_ratio, a, sizeof a),
            rein_report_number(r[i].peak_load, b, sizeof b),
            rein_report_number(c->capacity, d, sizeof d));
    fprintf(f, "%s attempts per call; %s of %s calls succeeded; ",
            rein_report_number(r[i].amplification, a, sizeof a),
            rein_report_number((double)r[i].done, b, sizeof b),
            rein_report_number((double)r[i].calls, d, sizeof d));
    if (r[i].recovery_s >= 0)
      fprintf(f, "the ledger was back to normal %s after the outage",
              recovery_text(a, sizeof a, &r[i], r[i].recovery_s));
    else
      fprintf(f,
              "the ledger had <b>not recovered</b> %s s after the outage, "
              "when the round ended",
              rein_report_number(r[i].observed_after_s, a, sizeof a));
    if (r[i].duplicates)
      fprintf(f, "; <b>%s charges were made twice</b>",
              rein_report_number((double)r[i].duplicates, a, sizeof a));
    else
      fputs("; no charge was made twice", f);
    fputs(".</li>\n", f);
  }
  if (n == 2) {
    const demo_round *x = &r[0], *y = &r[1];
    double ds = (double)y->done - (double)x->done;
    fputs("<li><b>", f);
    rein_report_html(f, y->name);
    fprintf(f, "</b> against <b>");
    rein_report_html(f, x->name);
    fprintf(f, "</b>: peak load %s&times; against %s&times;, ",
            rein_report_number(y->peak_ratio, a, sizeof a),
            rein_report_number(x->peak_ratio, b, sizeof b));
    if (ds == 0)
      fputs("as many calls succeeded", f);
    else
      fprintf(
          f, "%s %s calls succeeded (%s%s%%)",
          rein_report_number(fabs(ds), a, sizeof a), ds > 0 ? "more" : "fewer",
          ds > 0 ? "+" : "-",
          rein_report_number(x->done ? 100.0 * fabs(ds) / (double)x->done : 0,
                             b, sizeof b));
    if (ds < 0)
      fputs(": rein gave calls up during the outage (budget, breaker, "
            "throttle) rather than retrying them into the ledger",
            f);
    fputs(".</li>\n", f);
  }
  fputs("</ul>\n", f);
}

int demo_write_html(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims, const char *sim_note,
                    const char *command) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  char a[64], b[64], o1[32], o2[32];
  fprintf(f,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>rein demo: a retry storm, and rein stopping it</title>\n"
          "<style>%s</style></head><body>\n<h1>rein demo</h1>\n",
          rein_report_css());
  fprintf(f,
          "<p>examples/ledger on loopback: capacity %s charges/s (%d "
          "workers, queue %d, %d ms queue timeout, 503 + Retry-After when "
          "shedding). An open-loop fleet offers %s charges/s; for %s s from "
          "t = %s s the ledger %s. Same workload, same outage, %s. Figures "
          "come from the ledger's own counters; hover a chart for exact "
          "values.</p>\n",
          rein_report_number(c->capacity, a, sizeof a), c->ledger_workers,
          c->queue, c->queue_timeout_ms,
          rein_report_number(c->rate, b, sizeof b),
          rein_report_number(c->outage_s, o1, sizeof o1),
          rein_report_number(c->warmup_s, o2, sizeof o2),
          c->stall ? "stalls (SIGSTOP: connections queue, nothing is "
                     "answered, then everything queued is processed)"
                   : "fails every charge with 503",
          n == 2 ? "two client policies" : "one client policy");
  findings(f, c, r, n);
  fputs("<table><tr><th>figure</th>", f);
  for (int i = 0; i < n; i++) {
    fputs("<th>", f);
    rein_report_html(f, r[i].name);
    fputs("</th>", f);
  }
  fputs("</tr>\n", f);
  char v[96];
#define HROW(label, expr)                                                      \
  do {                                                                         \
    fprintf(f, "<tr><td>%s</td>", label);                                      \
    for (int i = 0; i < n; i++)                                                \
      fprintf(f, "<td>%s</td>", expr);                                         \
    fprintf(f, "</tr>\n");                                                     \
  } while (0)
#define NUM(x) rein_report_number((double)(x), v, sizeof v)
  HROW("peak load / capacity", NUM(r[i].peak_ratio));
  HROW("attempts per logical call", NUM(r[i].amplification));
  HROW("recovery after the outage",
       recovery_text(v, sizeof v, &r[i], r[i].recovery_s));
  HROW("goodput alone back after",
       recovery_text(v, sizeof v, &r[i], r[i].goodput_recovery_s));
  HROW("charges made twice", NUM(r[i].duplicates));
  HROW("logical calls", NUM(r[i].calls));
  HROW("calls that succeeded", NUM(r[i].done));
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++)
      any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "gave up: %s", rein_giveup_name(g));
    HROW(label, NUM(r[i].giveups[g]));
  }
  HROW("shed by the ledger (503)", NUM(r[i].ledger_shed));
#undef HROW
  fputs("</table>\n", f);
  int bad = chart(f, c, r, n, false, "load", "Load on the ledger");
  bad |= chart(f, c, r, n, true, "goodput", "Goodput");
  fputs("<h2>Measured and simulated</h2>\n", f);
  if (sims) {
    fprintf(f,
            "<p>The same situation through <code>rein simulate</code>'s "
            "engine (the same retry engine and admission code on a virtual "
            "clock; the scenario file this run read its parameters from; "
            "mean of %d seeds). Where they differ, docs/fidelity.md says "
            "why.</p>\n<table><tr><th>figure</th>",
            sims[0].runs);
    for (int i = 0; i < n; i++) {
      if (strcmp(r[i].name, "naive") && strcmp(r[i].name, "rein"))
        continue; /* no simulated counterpart (behind nginx) */
      fputs("<th>", f);
      rein_report_html(f, r[i].name);
      fputs("</th><th>", f);
      rein_report_html(f, r[i].name);
      fputs(" simulated</th>", f);
    }
    fputs("</tr>\n", f);
    static const char *const labels[] = {
        "peak load / capacity (one sampling period)",
        "attempts per logical call", "recovery after the outage",
        "calls that succeeded"};
    for (int row = 0; row < 4; row++) {
      fprintf(f, "<tr><td>%s</td>", labels[row]);
      for (int i = 0; i < n; i++) {
        if (strcmp(r[i].name, "naive") && strcmp(r[i].name, "rein")) continue;
        const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
        if (row == 0) {
          rein_report_number(r[i].peak_bucket_ratio, a, sizeof a);
          rein_report_number(m->peak_bucket_ratio, b, sizeof b);
        } else if (row == 1) {
          rein_report_number(r[i].amplification, a, sizeof a);
          rein_report_number(m->amplification, b, sizeof b);
        } else if (row == 2) {
          recovery_text(a, sizeof a, &r[i], r[i].recovery_s);
          if (m->recovered_runs == 0)
            snprintf(b, sizeof b, "not recovered in any seed");
          else {
            char x[32], y[32];
            snprintf(b, sizeof b, "%s s (%s of %d seeds)",
                     rein_report_number(m->recovery_s, x, sizeof x),
                     rein_report_number(m->recovered_runs, y, sizeof y),
                     m->runs);
          }
        } else {
          rein_report_number((double)r[i].done, a, sizeof a);
          rein_report_number(m->succeeded, b, sizeof b);
        }
        fprintf(f, "<td>%s</td><td>%s</td>", a, b);
      }
      fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
  } else {
    fputs("<p>Not simulated in this run: ", f);
    rein_report_html(f, sim_note && *sim_note ? sim_note : "no reason given");
    fputs(".</p>\n", f);
  }
  fputs("<h2>Policies</h2>\n<ul>\n", f);
  for (int i = 0; i < n; i++) {
    fputs("<li><b>", f);
    rein_report_html(f, r[i].name);
    fputs("</b>: ", f);
    rein_report_html(f, r[i].policy_desc);
    fputs("</li>\n", f);
  }
  char tol[32], hold[32], load[32], back[32];
  rein_report_number((1 - c->recovery_tolerance) * 100, back, sizeof back);
  rein_report_number(c->recovery_tolerance * 100, tol, sizeof tol);
  rein_report_number(c->recovery_hold_s, hold, sizeof hold);
  rein_report_number(1 + c->recovery_tolerance, load, sizeof load);
  fprintf(f,
          "</ul>\n<p class=\"note\">Recovery: from the end of the outage to "
          "the first %s s window whose goodput is within %s%% of the "
          "pre-outage goodput and whose load is at most %s&times; the "
          "pre-outage load (the ledger serves the normal load, and no retry "
          "storm is left): <code>rein simulate</code>'s definition, with the "
          "tolerance and hold of the scenario this run read. Goodput alone: "
          "the first %s s window with goodput at least %s%% of the "
          "pre-outage goodput, however much else the ledger received. "
          "&ldquo;&gt; N s&rdquo;: the round ended N s after the outage "
          "without that happening.</p>\n",
          hold, tol, load, hold, back);
  rein_report_footer(f, command);
  fputs("</body></html>\n", f);
  if (fclose(f) != 0) bad = -1;
  return bad ? -1 : 0;
}

