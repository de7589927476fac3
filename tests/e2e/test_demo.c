/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_demo.c: end-to-end test of `rein demo`: a shortened demo (two
 * 13-second rounds against the real examples/ledger on loopback) must show
 * the difference the demo claims:
 *
 *   - the rein round records zero duplicate charges,
 *   - its peak load on the ledger is lower than the naive round's,
 *   - it recovers within twice the outage,
 *   - the naive round shows duplicates or amplification (so the test proves
 *     a difference, not just that rein is quiet),
 *   - the HTML report holds both charts, and renders: headless Chromium
 *     screenshots it (a 1000x1500 PNG far larger than a blank page's).
 *
 * usage: test_demo REIN_BINARY
 * The demo finds rein-demo-load, the ledger, the scenario and the contract
 * through the build tree's mirror of the install layout (no paths given).
 * The figures come from the demo's --json output; on failure the whole
 * JSON and the demo's output are printed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  if (p) p[n] = '\0';
  fclose(f);
  return p;
}

/* The number after "field": inside the object of round `round`. */
static double field(const char *json, const char *round, const char *name) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":{", round);
  const char *r = strstr(json, pat);
  if (!r) return -1e9;
  snprintf(pat, sizeof pat, "\"%s\":", name);
  const char *p = strstr(r, pat);
  if (!p) return -1e9;
  return strtod(p + strlen(pat), NULL);
}

/* The same inside the "simulated" object. */
static double sim_field(const char *json, const char *variant,
                        const char *name) {
  const char *sim = strstr(json, "\"simulated\":{");
  return sim ? field(sim, variant, name) : -1e9;
}

static int failures;
#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "FAIL: " __VA_ARGS__);                                   \
      fputc('\n', stderr);                                                     \
      failures++;                                                              \
    } else {                                                                   \
      printf("ok: " __VA_ARGS__);                                              \
      putchar('\n');                                                           \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_demo REIN\n");
    return 2;
  }
  char dir[] = "/tmp/rein-test-demo-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  char json[128], html[128];
  snprintf(json, sizeof json, "%s/demo.json", dir);
  snprintf(html, sizeof html, "%s/demo.html", dir);
  pid_t pid = fork();
  if (pid == 0) {
    execl(argv[1], argv[1], "demo", "--short", "--json", json, "--html", html,
          (char *)NULL);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "FAIL: rein demo exited with status %d\n",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 1;
  }
  char *j = slurp(json);
  char *h = slurp(html);
  if (!j || !h) {
    fprintf(stderr, "FAIL: missing %s or %s\n", json, html);
    return 1;
  }
  const char *op = strstr(j, "\"outage_s\":");
  double outage = op ? strtod(op + 11, NULL) : -1;
  CHECK(outage > 0, "the JSON names the outage length (%.1f s)", outage);
  double n_dup = field(j, "naive", "duplicates");
  double r_dup = field(j, "rein", "duplicates");
  double n_peak = field(j, "naive", "peak_load");
  double r_peak = field(j, "rein", "peak_load");
  double n_amp = field(j, "naive", "ledger_amplification");
  double r_amp = field(j, "rein", "ledger_amplification");
  double r_rec = field(j, "rein", "recovery_s");
  double r_calls = field(j, "rein", "calls");
  CHECK(r_calls > 100, "rein round made %.0f calls", r_calls);
  CHECK(r_dup == 0, "rein round: %.0f duplicate charges (want 0)", r_dup);
  CHECK(r_peak < n_peak, "peak load: rein %.0f/s < naive %.0f/s", r_peak,
        n_peak);
  CHECK(r_rec >= 0 && r_rec <= 2 * outage,
        "rein recovered %.2f s after a %.0f s outage (want <= %.0f s)", r_rec,
        outage, 2 * outage);
  CHECK(n_dup > 0 || n_amp >= 1.5,
        "naive round: %.0f duplicate charges, %.2fx requests per call "
        "(want duplicates or >= 1.5x)",
        n_dup, n_amp);
  CHECK(n_amp > r_amp, "amplification: naive %.2fx > rein %.2fx", n_amp, r_amp);
  double s_amp = sim_field(j, "naive", "amplification");
  double s_ramp = sim_field(j, "rein", "amplification");
  CHECK(s_amp > s_ramp && s_ramp > 0,
        "simulated side by side: amplification naive %.2fx, rein %.2fx", s_amp,
        s_ramp);
  int svgs = 0;
  for (const char *p = h; (p = strstr(p, "<svg")); p++)
    svgs++;
  CHECK(svgs == 2 && strstr(h, "</html>") && strstr(h, "class=\"rein-series\""),
        "HTML report has %d charts", svgs);
  /* Render it. Chromium is installed by scripts/deps.sh. */
  const char *chromium = getenv("REIN_CHROMIUM");
  if (!chromium) chromium = "/usr/bin/chromium";
  char png[160], cmd[1024];
  snprintf(png, sizeof png, "%s/demo.png", dir);
  snprintf(cmd, sizeof cmd,
           "timeout 120 %s --headless=new --no-sandbox --disable-gpu "
           "--hide-scrollbars --window-size=1000,1500 --screenshot=%s "
           "file://%s >/dev/null 2>&1",
           chromium, png, html);
  int cr = access(chromium, X_OK) == 0 ? system(cmd) : -1;
  FILE *pf = fopen(png, "rb");
  unsigned char hdr[24] = {0};
  long png_size = 0;
  if (pf) {
    if (fread(hdr, 1, sizeof hdr, pf) != sizeof hdr) memset(hdr, 0, sizeof hdr);
    fseek(pf, 0, SEEK_END);
    png_size = ftell(pf);
    fclose(pf);
  }
  unsigned w = (unsigned)hdr[16] << 24 | hdr[17] << 16 | hdr[18] << 8 | hdr[19];
  unsigned hgt =
      (unsigned)hdr[20] << 24 | hdr[21] << 16 | hdr[22] << 8 | hdr[23];
  CHECK(cr == 0 && memcmp(hdr, "\x89PNG", 4) == 0 && w == 1000 && hgt == 1500 &&
            png_size > 40000,
        "Chromium (%s) rendered the report: exit %d, %ux%u PNG of %ld bytes "
        "(a blank page is ~8 KB)",
        chromium, cr, w, hgt, png_size);
  unlink(png);
  if (failures) fprintf(stderr, "demo JSON:\n%s\n", j);
  free(j);
  free(h);
  unlink(json);
  unlink(html);
  rmdir(dir);
  return failures ? 1 : 0;
}
