/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/report.h: the building blocks of rein's HTML reports (libsim).
 *
 * `rein simulate --report` and `rein demo` write reports a team pastes into
 * a postmortem. Both draw their charts and number their tables here, so the
 * two look and read the same: line charts as inline SVG with a hover
 * tooltip per time step giving every series' exact value, an x-axis title,
 * legends with line swatches, y-axes whose ticks step 1-2-5 and share one
 * unit (0, 2k, 4k, 6k; never "8000" beside "10k"), an optional log scale,
 * and the Okabe-Ito palette (distinguishable with the common colour-vision
 * deficiencies), each series also with its own dash pattern. No scripts and
 * no external resources: one file that opens anywhere.
 *
 * Everything is written with fixed formats, so the same data gives
 * byte-identical output. Nothing here allocates or keeps state.
 */
#ifndef REIN_REPORT_H
#define REIN_REPORT_H

#include "rein/common.h"
#include "rein/errors.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One line of a chart: n points (x[i], y[i]); a y that is NaN or negative
 * is a gap (no value at that x). */
typedef struct rein_chart_series {
  const char *name; /* legend and tooltips */
  const double *x;
  const double *y;
  size_t n;
  bool reference; /* drawn dark grey and dashed, after the palette's
                     series (a capacity line, a target) */
} rein_chart_series;

/* A shaded span of x with a label: an outage, an incident. */
typedef struct rein_chart_band {
  double x0, x1;
  const char *label;
} rein_chart_band;

typedef struct rein_chart {
  const char *id;      /* the svg element's id (ASCII letters, digits, -) */
  const char *title;   /* above the chart */
  const char *x_label; /* axis title, e.g. "time since start (s)" */
  const char *y_label; /* axis title, e.g. "attempts per second" */
  const char *x_unit;  /* in tooltips after the x value: "s" */
  const char *y_unit;  /* in tooltips after each y value: "attempts/s" */
  bool log_y;          /* logarithmic y (decades); gaps and zeros are
                          drawn at the axis floor */
  double x_max;        /* 0 = the largest x of any series */
  const rein_chart_series *series;
  size_t n_series; /* at most REIN_CHART_MAX_SERIES */
  const rein_chart_band *bands;
  size_t n_bands;
} rein_chart;

#define REIN_CHART_MAX_SERIES 8

REIN_API void rein_chart_default(rein_chart *c);

/*
 * Writes the chart as an <svg> element (with its title as an <h2> before
 * it). Each time step of the first series with x values is one hover
 * column: a <g class="rein-hover"> holding a transparent full-height rect
 * and a <title> "x = 12.5 s" followed by one line per series "naive:
 * 4,912 attempts/s" (the browser's native tooltip). Series are
 * <path class="rein-series" data-series="NAME">; the y ticks are
 * <text class="rein-ytick"> at the height of their value.
 * REIN_EINVAL for a NULL chart or file, no series, more than
 * REIN_CHART_MAX_SERIES, or a series with NULL x or y and n > 0;
 * REIN_EIO when the stream failed.
 */
REIN_API rein_status rein_chart_write_svg(const rein_chart *c, FILE *f);

/* The i-th colour of the palette ("#0072B2", ...), i modulo its size. */
REIN_API const char *rein_report_color(size_t i);

/* Writes s with &, <, >, " escaped; NULL writes nothing. */
REIN_API void rein_report_html(FILE *f, const char *s);

/*
 * A number for people: integers with thousands separators ("15,100"),
 * others with three significant digits and no exponent ("3.87",
 * "0.0123"; 1,000 and above rounded to an integer, "1,235"); -0 as "0";
 * NaN and infinities as "n/a". Returns buf.
 */
REIN_API const char *rein_report_number(double v, char *buf, size_t cap);

/* The style sheet every rein report uses (a <style> element's content). */
REIN_API const char *rein_report_css(void);

/* The footer: "rein VERSION", the command line when given (escaped), and
 * what made the report. */
REIN_API void rein_report_footer(FILE *f, const char *command);

#ifdef __cplusplus
}
#endif
#endif /* REIN_REPORT_H */
