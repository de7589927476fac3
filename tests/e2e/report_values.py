#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""report_values.py REIN SCENARIO|demo CHROMIUM: the values a reader sees
in `rein simulate --report` are the simulation's (SCENARIO), and in `rein
demo`'s report the live rounds' (demo: a short live demo, against its own
--json).

Headless Chromium renders the report inside a test page whose script reads
back, from the rendered SVG, every chart's y-axis labels (text and height),
every hover column's tooltip text and, at each column's centre, the height
of every series' drawn line. Then, for the linear and the log report:
  - each tooltip value equals the value in `--csv` (same run, same seed),
    through the report's own number format;
  - the drawn line at each column, mapped back through the labelled axis,
    equals the tooltip's value (within 1.5% of the axis span);
  - the y labels of an axis share one unit (no "8000" beside "10k") and
    step evenly; the x axis has a title;
  - the series are drawn in the Okabe-Ito palette.
The report carries no script of its own: the reading is the test's.
"""
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile

REIN, SCENARIO, CHROMIUM = sys.argv[1:4]
fails = 0


def bad(msg):
    global fails
    fails += 1
    print("FAIL:", msg)


READER = r"""<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="REPORT" width="1100" height="3000"></iframe>
<script>
document.getElementById('f').onload = function () {
  const d = this.contentDocument, charts = [];
  for (const svg of d.querySelectorAll('svg')) {
    // a tick's height: its grid line's, as drawn
    const ticks = [...svg.querySelectorAll('text.rein-ytick')].map(t =>
      [t.textContent, t.previousElementSibling.getBBox().y]);
    const texts = [...svg.querySelectorAll('text')].map(t => t.textContent);
    const paths = [...svg.querySelectorAll('path.rein-series')];
    const cols = [...svg.querySelectorAll('g.rein-hover')].map(g => {
      const r = g.querySelector('rect').getBBox(), cx = r.x + r.width / 2;
      const ys = paths.map(p => {
        const L = p.getTotalLength();
        if (!L) return null;
        let lo = 0, hi = L;
        const a = p.getPointAtLength(0), z = p.getPointAtLength(L);
        if (cx < a.x - 0.5 || cx > z.x + 0.5) return null;
        for (let i = 0; i < 40; i++) {
          const m = (lo + hi) / 2;
          if (p.getPointAtLength(m).x < cx) lo = m; else hi = m;
        }
        const at = (lo + hi) / 2, q = p.getPointAtLength(at);
        if (Math.abs(q.x - cx) >= 1.0) return null;
        // a line that rises within a pixel here (a spike between two
        // sub-pixel steps) has no single height at cx: not read
        const a0 = p.getPointAtLength(Math.max(0, at - 1.5));
        const a1 = p.getPointAtLength(Math.min(L, at + 1.5));
        if (Math.abs(a1.y - a0.y) > 2.5 && Math.abs(a1.x - a0.x) < 1.0)
          return null;
        return q.y;
      });
      return {title: g.querySelector('title').textContent, ys: ys,
              x: g.getAttribute('data-x'),
              series: paths.map(p => p.getAttribute('data-series'))};
    });
    charts.push({id: svg.id, log: svg.getAttribute('data-log-y'),
                 ticks: ticks, texts: texts, cols: cols});
  }
  document.getElementById('out').textContent = JSON.stringify(charts);
};
</script></body></html>"""


def fmt(v):
    """The report's number format (rein_report_number), for comparison."""
    if v == math.floor(v) and abs(v) < 1e15 or abs(v) >= 1000:
        return "{:,.0f}".format(v).replace("-0", "0") if v != 0 else "0"
    dec = 2 - math.floor(math.log10(abs(v)))
    dec = max(0, min(12, dec))
    s = "%.*f" % (dec, v)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def tick_value(text):
    m = re.fullmatch(r"(-?[\d,.]+)([kM]?)", text)
    if not m:
        return None, None
    v = float(m.group(1).replace(",", ""))
    return v * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)], m.group(2)


def render(html, tmp):
    reader = os.path.join(tmp, "reader.html")
    with open(reader, "w") as f:
        f.write(READER.replace("REPORT", "file://" + html))
    out = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
         "--allow-file-access-from-files", "--virtual-time-budget=20000",
         "--dump-dom", "file://" + reader],
        capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="out">(.*?)</pre>', out.stdout, re.S)
    if not m or m.group(1) == "pending":
        bad("chromium did not run the reader: " + out.stderr[-400:])
        return []
    txt = m.group(1).replace("&lt;", "<").replace("&gt;", ">") \
        .replace("&quot;", '"').replace("&amp;", "&")
    return json.loads(txt)


def check(charts, expected, log):
    want = expected
    seen = set()
    for ch in charts:
        if ch["id"] not in want and ch["id"] != "breaker":
            continue
        seen.add(ch["id"])
        if ch["log"] != ("1" if log else "0"):
            bad("%s: data-log-y %s" % (ch["id"], ch["log"]))
        if not any("time since the" in t for t in ch["texts"]):
            bad("%s: no x-axis title" % ch["id"])
        ticks = []
        units = set()
        for text, y in ch["ticks"]:
            v, u = tick_value(text)
            if v is None:
                bad("%s: tick label %r" % (ch["id"], text))
                continue
            if v != 0:
                units.add(u)
            ticks.append((v, y))
        if not log and len(units) > 1:
            bad("%s: tick labels mix units %s" % (ch["id"], sorted(units)))
        if len(ticks) < (2 if log else 3):
            bad("%s: %d ticks" % (ch["id"], len(ticks)))
            continue
        vals = [v for v, _ in ticks]
        if not log:
            steps = {round(b - a, 9) for a, b in zip(vals, vals[1:])}
            if len(steps) != 1:
                bad("%s: uneven ticks %s" % (ch["id"], vals))
        # the axis, from its labels: value <- height (linear or log)
        (v0, y0), (v1, y1) = ticks[0], ticks[-1]
        if log:
            def value(y):
                return 10 ** (math.log10(v0) + (y - y0) / (y1 - y0) *
                              (math.log10(v1) - math.log10(v0)))
        else:
            def value(y):
                return v0 + (y - y0) / (y1 - y0) * (v1 - v0)
        span = v1 - v0
        checked = 0
        for col in ch["cols"]:
            lines = col["title"].split("\n")
            x = float(lines[0].split("=")[1].split()[0].replace(",", ""))
            if abs(x - float(col["x"])) > 1e-9:
                bad("%s: tooltip x %s, column at %s" % (ch["id"], x, col["x"]))
            for name, line, y in zip(col["series"], lines[1:], col["ys"]):
                label, _, rest = line.partition(": ")
                if label != name:
                    bad("%s: tooltip line %r for series %r" % (ch["id"],
                                                               line, name))
                    continue
                if rest == "no value" or y is None:
                    continue
                shown = rest.split()[0]
                if ch["id"] in want and name in want[ch["id"]]:
                    src = want[ch["id"]][name].get(round(x, 3))
                    if src is None or fmt(src) != shown:
                        bad("%s %s at %s s: tooltip %s, source %s" % (
                            ch["id"], name, x, shown, src))
                v = float(shown.replace(",", ""))
                got = value(y)
                if log:
                    if v >= v0 * 1.5 and abs(math.log10(got) - math.log10(v)) > 0.03:
                        bad("%s %s at %s s: drawn at %.4g, value %s (log)" % (
                            ch["id"], name, x, got, shown))
                elif abs(got - v) > 0.015 * span:
                    bad("%s %s at %s s: drawn at %.4g, tooltip %s" % (
                        ch["id"], name, x, got, shown))
                checked += 1
        if checked < 50:
            bad("%s: only %d values read back" % (ch["id"], checked))
        print("ok: %s chart%s: %d drawn values match their tooltips and the "
              "CSV; %d y labels in one unit" % (ch["id"], " (log)" if log
                                                else "", checked, len(ticks)))
    for c in want:
        if c not in seen:
            bad("no %s chart" % c)


def palette_ok(text):
    okabe_ito = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00",
                 "#56B4E9", "#000000", "#F0E442", "#444"}
    if "<script" in text.lower():
        bad("the report carries a script")
    strokes = set(re.findall(r'class="rein-series"[^>]*stroke="([^"]+)"',
                             text))
    if not strokes or strokes - okabe_ito:
        bad("series colours outside the palette: %s" % (strokes - okabe_ito))


def simulate(tmp):
    csv_path = os.path.join(tmp, "s.csv")
    for log in (False, True):
        html = os.path.join(tmp, "r%d.html" % log)
        cmd = [REIN, "simulate", SCENARIO, "--compare", "--quiet",
               "--report", html, "--csv", csv_path]
        if log:
            cmd.append("--log-y")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            bad("rein simulate exited %d: %s" % (r.returncode, r.stderr))
            continue
        rows = list(csv.DictReader(open(csv_path)))
        ts = sorted({float(row["t_s"]) for row in rows})
        iv = ts[1] - ts[0]
        expected = {"load": {}, "goodput": {}}
        for row in rows:
            x = round(float(row["t_s"]) + iv / 2, 3)
            expected["load"].setdefault(row["variant"], {})[x] = \
                float(row["load"]) / iv
            expected["goodput"].setdefault(row["variant"], {})[x] = \
                float(row["successes"]) / iv
        palette_ok(open(html).read())
        check(render(html, tmp), expected, log)


def demo(tmp):
    """rein demo's report against its own --json (the live rounds)."""
    html, js = os.path.join(tmp, "d.html"), os.path.join(tmp, "d.json")
    r = subprocess.run([REIN, "demo", "--short", "--no-sim", "--html", html,
                        "--json", js], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        bad("rein demo exited %d: %s" % (r.returncode, r.stderr[-600:]))
        return
    d = json.load(open(js))
    expected = {"load": {}, "goodput": {}}
    for name, rd in d["rounds"].items():
        for key, chart in (("load", "load"), ("good", "goodput")):
            expected[chart][name] = {
                round((b + 0.5) * d["bucket_s"], 3): v
                for b, v in enumerate(rd[key])}
    text = open(html).read()
    palette_ok(text)
    if "Not simulated in this run: --no-sim was given" not in text:
        bad("the demo report does not say why it was not simulated")
    check(render(html, tmp), expected, False)


with tempfile.TemporaryDirectory() as tmp:
    if SCENARIO == "demo":
        demo(tmp)
    else:
        simulate(tmp)
print("report_values: %s" % ("FAILED %d" % fails if fails else "passed"))
sys.exit(1 if fails else 0)
