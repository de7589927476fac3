/* SPDX-License-Identifier: Apache-2.0 */
/*
 * report.c: the charts, numbers and page furniture of rein's HTML reports
 * (rein/report.h), shared by the simulator's report (output.c) and the
 * demo's.
 *
 * A chart is inline SVG drawn from fixed-format numbers: axes whose ticks
 * step 1-2-5 with one unit per axis, an optional log scale, bands for
 * incidents, one path per series in the Okabe-Ito palette with a dash
 * pattern of its own, and a hover column per time step whose <title> is
 * the browser's tooltip with every series' exact value. No scripts.
 */
#include "rein/report.h"
#include "rein/version.h"

#include <math.h>
#include <string.h>

#define W 960
#define H 330
#define ML 78
#define MR 24
#define MT 40
#define MB 56

/* Okabe & Ito, "Color Universal Design" (2008): eight colours that stay
 * apart under protanopia, deuteranopia and tritanopia. */
static const char *const PALETTE[] = {"#0072B2", "#D55E00", "#009E73",
                                      "#CC79A7", "#E69F00", "#56B4E9",
                                      "#000000", "#F0E442"};
#define NPAL (sizeof PALETTE / sizeof PALETTE[0])
/* ... and a dash pattern each, so print and greyscale keep them apart. */
static const char *const DASHES[] = {"",        "7 3",   "2 2",     "9 3 2 3",
                                     "4 2 1 2", "12 4",  "1 3",     "6 2 6 6"};

const char *rein_report_color(size_t i) {
  return PALETTE[i % NPAL];
}

void rein_report_html(FILE *f, const char *s) {
  if (!f || !s) return;
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

/* |v| as an integer with thousands separators, sign in front. */
static void grouped(double v, char *buf, size_t cap) {
  char digits[40];
  snprintf(digits, sizeof digits, "%.0f", fabs(v));
  size_t nd = strlen(digits), o = 0;
  char out[64];
  if (v < 0 && strcmp(digits, "0") != 0) out[o++] = '-';
  for (size_t i = 0; i < nd && o + 2 < sizeof out; i++) {
    out[o++] = digits[i];
    size_t left = nd - 1 - i;
    if (left && left % 3 == 0) out[o++] = ',';
  }
  out[o] = 0;
  snprintf(buf, cap, "%s", out);
}

const char *rein_report_number(double v, char *buf, size_t cap) {
  if (!buf || !cap) return buf;
  if (!isfinite(v)) {
    snprintf(buf, cap, "n/a");
    return buf;
  }
  if ((v == floor(v) && fabs(v) < 1e15) || fabs(v) >= 1000) {
    grouped(v, buf, cap);
    return buf;
  }
  int dec = 2 - (int)floor(log10(fabs(v)));
  if (dec < 0) dec = 0;
  if (dec > 12) dec = 12;
  snprintf(buf, cap, "%.*f", dec, v);
  char *dot = strchr(buf, '.');
  if (dot) {
    char *e = buf + strlen(buf) - 1;
    while (e > dot && *e == '0') *e-- = 0;
    if (e == dot) *e = 0;
  }
  if (!strcmp(buf, "-0")) snprintf(buf, cap, "0");
  return buf;
}

const char *rein_report_css(void) {
  return "body{font-family:system-ui,sans-serif;margin:24px;color:#222;"
         "max-width:1000px;line-height:1.4}"
         "table{border-collapse:collapse;margin:6px 0}"
         "td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}"
         "th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}"
         "h2{font-size:16px;margin:20px 0 4px}.note{color:#555;font-size:13px}"
         ".rein-hover rect{fill:transparent}"
         ".rein-hover:hover rect{fill:rgba(0,0,0,0.07)}"
         "footer{margin-top:28px;color:#666;font-size:12px;border-top:1px "
         "solid #ddd;padding-top:6px}code{font-size:12px}";
}

void rein_report_footer(FILE *f, const char *command) {
  if (!f) return;
  fputs("<footer class=\"rein-footer\">Made by rein ", f);
  rein_report_html(f, rein_version());
  if (command && *command) {
    fputs(" &middot; <code>", f);
    rein_report_html(f, command);
    fputs("</code>", f);
  }
  fputs("</footer>\n", f);
}

void rein_chart_default(rein_chart *c) {
  if (c) memset(c, 0, sizeof *c);
}

/* The 1-2-5 step that puts about `want` intervals under `span`. */
static double nice_step(double span, int want) {
  if (!(span > 0)) return 1;
  double raw = span / want;
  double e = pow(10, floor(log10(raw)));
  double m = raw / e;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * e;
}

/* One unit for every tick of a linear axis: chosen by the axis top. */
static void tick_text(double v, double top, char *buf, size_t cap) {
  char n[48];
  if (v == 0)
    snprintf(buf, cap, "0");
  else if (top >= 1e6)
    snprintf(buf, cap, "%sM", rein_report_number(v / 1e6, n, sizeof n));
  else if (top >= 1e4)
    snprintf(buf, cap, "%sk", rein_report_number(v / 1e3, n, sizeof n));
  else
    snprintf(buf, cap, "%s", rein_report_number(v, n, sizeof n));
}

/* A log axis' decade label: 1, 10, 100, 1k, 10k, 1M, 0.1. */
static void decade_text(double v, char *buf, size_t cap) {
  char n[48];
  if (v >= 1e6)
    snprintf(buf, cap, "%sM", rein_report_number(v / 1e6, n, sizeof n));
  else if (v >= 1e3)
    snprintf(buf, cap, "%sk", rein_report_number(v / 1e3, n, sizeof n));
  else
    snprintf(buf, cap, "%s", rein_report_number(v, n, sizeof n));
}

static bool has(double y) {
  return isfinite(y) && y >= 0;
}

typedef struct axis {
  bool log;
  double lo, hi; /* linear: 0..hi; log: lo..hi (decades) */
  double ph;
} axis;

static double ypos(const axis *a, double v) {
  double frac;
  if (a->log) {
    double lv = v > a->lo ? log10(v) : log10(a->lo);
    frac = (lv - log10(a->lo)) / (log10(a->hi) - log10(a->lo));
  } else {
    frac = v / a->hi;
  }
  if (frac < 0) frac = 0;
  if (frac > 1.02) frac = 1.02;
  return MT + a->ph - frac * a->ph;
}

/* The value of series s at x (its point with that x, found from *cur
 * onwards: x is ascending); NaN when it has none. */
static double value_at(const rein_chart_series *s, size_t *cur, double x) {
  while (*cur < s->n && s->x[*cur] < x - 1e-9) (*cur)++;
  if (*cur < s->n && fabs(s->x[*cur] - x) <= 1e-9) return s->y[*cur];
  return NAN;
}

rein_status rein_chart_write_svg(const rein_chart *c, FILE *f) {
  if (!c || !f || !c->series || !c->n_series ||
      c->n_series > REIN_CHART_MAX_SERIES)
    return REIN_EINVAL;
  for (size_t i = 0; i < c->n_series; i++)
    if (c->series[i].n && (!c->series[i].x || !c->series[i].y))
      return REIN_EINVAL;
  if (c->n_bands && !c->bands) return REIN_EINVAL;

  double xmax = c->x_max, ymax = 0, ymin_pos = INFINITY;
  for (size_t i = 0; i < c->n_series; i++)
    for (size_t k = 0; k < c->series[i].n; k++) {
      const rein_chart_series *s = &c->series[i];
      if (c->x_max <= 0 && s->x[k] > xmax) xmax = s->x[k];
      if (!has(s->y[k])) continue;
      if (s->y[k] > ymax) ymax = s->y[k];
      if (s->y[k] > 0 && s->y[k] < ymin_pos) ymin_pos = s->y[k];
    }
  if (!(xmax > 0)) xmax = 1;
  double pw = W - ML - MR;
  axis ax = {c->log_y, 0, 1, H - MT - MB};
  double ystep = 0;
  if (c->log_y) {
    if (!isfinite(ymin_pos)) ymin_pos = 1;
    ax.lo = pow(10, floor(log10(ymin_pos)));
    ax.hi = pow(10, ceil(log10(ymax > 0 ? ymax : 1)));
    if (ax.hi <= ax.lo) ax.hi = ax.lo * 10;
  } else {
    ystep = nice_step(ymax > 0 ? ymax : 1, 6);
    ax.hi = ceil((ymax > 0 ? ymax : 1) / ystep - 1e-9) * ystep;
    if (ax.hi < ymax) ax.hi += ystep;
  }
#define X(t) (ML + (t) / xmax * pw)

  fputs("<h2>", f);
  rein_report_html(f, c->title);
  fputs("</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", f);
  if (c->id) {
    fputs(" id=\"", f);
    rein_report_html(f, c->id);
    fputs("\"", f);
  }
  fprintf(f,
          " width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
          "font-family=\"sans-serif\" font-size=\"12\" role=\"img\" "
          "aria-label=\"",
          W, H, W, H);
  rein_report_html(f, c->title);
  fprintf(f, "\" data-log-y=\"%d\">\n", c->log_y ? 1 : 0);
  fprintf(f,
          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"#fff\" stroke=\"#999\"/>\n",
          ML, MT, pw, ax.ph);
  /* bands */
  for (size_t i = 0; i < c->n_bands; i++) {
    double a = c->bands[i].x0, b = c->bands[i].x1;
    if (a > xmax) continue;
    if (a < 0) a = 0;
    if (b > xmax) b = xmax;
    fprintf(f,
            "<rect class=\"rein-band\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
            "height=\"%.1f\" fill=\"#888\" fill-opacity=\"0.16\"/>\n",
            X(a), MT, fmax(X(b) - X(a), 1.5), ax.ph);
    if (c->bands[i].label) {
      fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"#444\">", X(a) + 3,
              MT + 13 + (int)(i % 3) * 13);
      rein_report_html(f, c->bands[i].label);
      fputs("</text>\n", f);
    }
  }
  /* y grid and ticks */
  char lb[64];
  if (c->log_y) {
    for (double v = ax.lo; v <= ax.hi * 1.0001; v *= 10) {
      decade_text(v, lb, sizeof lb);
      double y = ypos(&ax, v);
      fprintf(f,
              "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"#ddd\"/><text class=\"rein-ytick\" data-value=\"%g\" "
              "x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              ML, ML + pw, y, y, v, ML - 6, y + 4, lb);
    }
  } else {
    int nt = (int)llround(ax.hi / ystep);
    for (int t = 0; t <= nt; t++) {
      double v = ystep * t;
      tick_text(v, ax.hi, lb, sizeof lb);
      double y = ypos(&ax, v);
      fprintf(f,
              "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"#ddd\"/><text class=\"rein-ytick\" data-value=\"%g\" "
              "x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
              ML, ML + pw, y, y, v, ML - 6, y + 4, lb);
    }
  }
  /* x ticks */
  double xstep = nice_step(xmax, 8);
  for (int t = 0; t * xstep <= xmax + 1e-9; t++) {
    double v = t * xstep;
    fprintf(f,
            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#999\"/><text x=\"%.1f\" y=\"%.1f\" "
            "text-anchor=\"middle\">%s</text>\n",
            X(v), X(v), MT + ax.ph, MT + ax.ph + 5, X(v), MT + ax.ph + 18,
            rein_report_number(v, lb, sizeof lb));
  }
  /* axis titles */
  fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
          ML + pw / 2, H - 10);
  rein_report_html(f, c->x_label);
  fputs("</text>\n", f);
  fprintf(f,
          "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" "
          "text-anchor=\"middle\">",
          MT + ax.ph / 2, MT + ax.ph / 2);
  rein_report_html(f, c->y_label);
  if (c->log_y) fputs(" (log scale)", f);
  fputs("</text>\n", f);
  /* series: the palette's first, references last (on top) */
  size_t pal = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n_series; i++) {
      const rein_chart_series *s = &c->series[i];
      if (s->reference != (pass == 1)) continue;
      const char *col = s->reference ? "#444" : PALETTE[pal % NPAL];
      const char *dash = s->reference ? "6 4" : DASHES[pal % NPAL];
      if (!s->reference) pal++;
      fputs("<path class=\"rein-series\" data-series=\"", f);
      rein_report_html(f, s->name);
      fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s%s%s d=\"",
              col, s->reference ? "1.4" : "1.8",
              *dash ? " stroke-dasharray=\"" : "", dash, *dash ? "\"" : "");
      bool pen = false;
      for (size_t k = 0; k < s->n; k++) {
        if (!has(s->y[k]) || s->x[k] > xmax + 1e-9) {
          pen = false;
          continue;
        }
        fprintf(f, "%s%.1f,%.1f ", pen ? "L" : "M", X(s->x[k]),
                ypos(&ax, s->y[k]));
        pen = true;
      }
      fputs("\"/>\n", f);
    }
  /* legend: a line swatch in each series' colour and dash */
  double lx = ML + 4;
  pal = 0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < c->n_series; i++) {
      const rein_chart_series *s = &c->series[i];
      if (s->reference != (pass == 1)) continue;
      const char *col = s->reference ? "#444" : PALETTE[pal % NPAL];
      const char *dash = s->reference ? "6 4" : DASHES[pal % NPAL];
      if (!s->reference) pal++;
      fprintf(f,
              "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"16\" y2=\"16\" stroke=\"%s\" "
              "stroke-width=\"2.5\"%s%s%s/><text x=\"%.1f\" y=\"20\">",
              lx, lx + 26, col, *dash ? " stroke-dasharray=\"" : "", dash,
              *dash ? "\"" : "", lx + 31);
      rein_report_html(f, s->name);
      fputs("</text>\n", f);
      lx += 44 + 7.0 * (double)strlen(s->name ? s->name : "");
    }
  /* hover columns: the time steps of the first series that has points */
  const rein_chart_series *base = NULL;
  for (size_t i = 0; i < c->n_series && !base; i++)
    if (c->series[i].n && !c->series[i].reference) base = &c->series[i];
  if (!base) base = &c->series[0];
  size_t cur[REIN_CHART_MAX_SERIES] = {0};
  char vb[64];
  for (size_t k = 0; k < base->n; k++) {
    double x = base->x[k];
    if (x > xmax + 1e-9) break;
    double a = k ? (base->x[k - 1] + x) / 2 : 0;
    double b = k + 1 < base->n ? (x + base->x[k + 1]) / 2 : xmax;
    if (b > xmax) b = xmax;
    fprintf(f,
            "<g class=\"rein-hover\" data-x=\"%g\"><rect x=\"%.1f\" y=\"%d\" "
            "width=\"%.1f\" height=\"%.1f\"/><title>",
            x, X(a), MT, fmax(X(b) - X(a), 0.5), ax.ph);
    /* x to the millisecond (a time step's centre: 12.375 s) */
    snprintf(vb, sizeof vb, "%.3f", x);
    char *e = vb + strlen(vb) - 1;
    while (e > vb && *e == '0') *e-- = 0;
    if (*e == '.') *e = 0;
    fputs("x = ", f);
    fputs(vb, f);
    if (c->x_unit) {
      fputc(' ', f);
      rein_report_html(f, c->x_unit);
    }
    for (size_t i = 0; i < c->n_series; i++) {
      double v = value_at(&c->series[i], &cur[i], x);
      fputc('\n', f);
      rein_report_html(f, c->series[i].name);
      fputs(": ", f);
      if (!has(v)) {
        fputs("no value", f);
        continue;
      }
      fputs(rein_report_number(v, vb, sizeof vb), f);
      if (c->y_unit) {
        fputc(' ', f);
        rein_report_html(f, c->y_unit);
      }
    }
    fputs("</title></g>\n", f);
  }
  fputs("</svg>\n", f);
#undef X
  return ferror(f) ? REIN_EIO : REIN_OK;
}
