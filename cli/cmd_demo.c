/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_demo.c: `rein demo`: a real retry storm on loopback, and rein
 * stopping it.
 *
 * Starts examples/ledger (found next to the rein binary, or --ledger),
 * runs the same open-loop client fleet and the same outage twice, first
 * with a naive retry policy, then with the policy of
 * examples/contracts/ledger, and prints what the ledger saw: peak load
 * relative to capacity, amplification, recovery time, duplicate charges
 * and give-ups by reason. Writes an HTML report with the load-over-time
 * charts (inline SVG) and, with --json, the figures. The engine is
 * cli/lib_demo.c.
 */
#include "cli.h"
#include "lib_demo.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: rein demo [options]\n"
    "\n"
    "Run examples/ledger on loopback and a fleet of clients against it in\n"
    "two rounds, naive then rein, each with the same injected outage; print\n"
    "peak load vs capacity, amplification, recovery time, duplicate charges\n"
    "and give-ups, and write an HTML report. Takes under a minute.\n"
    "\n"
    "  --short            shorter rounds (3 s warm-up, 3 s outage, 7 s tail)\n"
    "  --rate R           offered charges/s for the whole fleet (default 90)\n"
    "  --capacity R       ledger capacity in charges/s (default 100)\n"
    "  --outage S         outage length in seconds (default 3)\n"
    "  --warmup S         seconds before the outage (default 4)\n"
    "  --tail S           seconds after the outage (default 8)\n"
    "  --threads N        client threads, each a curl multi loop (default 2)\n"
    "  --attempts N       the naive client's attempts (default 6)\n"
    "  --ledger PATH      the ledger executable (default: next to rein,\n"
    "                     ../examples/ledger/ledger)\n"
    "  --contracts DIR    contract directory with client -> ledger.charge\n"
    "                     (default: examples/contracts/ledger found from the\n"
    "                     binary or the working directory; else built-in)\n"
    "  --html PATH        report (default rein-demo.html)\n"
    "  --json PATH        also write the figures as JSON\n"
    "  --only naive|rein  run one round\n"
    "  --no-sim           do not run the same situation through the\n"
    "                     simulator (by default: 5 seeds, side by side)\n"
    "  --scenario PATH    write the generated `rein simulate` scenario\n"
    "  --stall            the outage stalls the ledger (SIGSTOP: connections\n"
    "                     queue unanswered, time out, and are processed late\n"
    "                     when it resumes) instead of failing every charge\n"
    "                     with 503 (POST /admin/outage, the default)\n"
    "  --naive-attempt-header\n"
    "                     the naive client also sends Rein-Attempt, so the\n"
    "                     ledger can shed its retries first (as `rein\n"
    "                     simulate` assumes; see docs/fidelity.md)\n"
    "  --verbose          print every sample\n";

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, "rein demo: %s%s%s\n(see rein demo --help)\n", msg,
          arg ? ": " : "", arg ? arg : "");
  return REIN_EXIT_USAGE;
}

static int num(const char *v, double lo, double hi, double *out) {
  char *end;
  double d = strtod(v, &end);
  if (end == v || *end || !(d >= lo && d <= hi)) return -1;
  *out = d;
  return 0;
}

static int run(int argc, char **argv) {
  demo_config c;
  demo_config_default(&c);
  const char *html = "rein-demo.html", *json = NULL, *only = NULL;
  const char *scenario = NULL;
  bool no_sim = false;
  char ledger[4096] = "", contracts[4096] = "";
  bool contracts_given = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (rein_cli_is_help(a)) {
      fputs(usage, stdout);
      return REIN_EXIT_OK;
    }
    if (!strcmp(a, "--short")) {
      c.warmup_s = 3;
      c.outage_s = 3;
      c.tail_s = 7;
      continue;
    }
    if (!strcmp(a, "--stall")) {
      c.stall = true;
      continue;
    }
    if (!strcmp(a, "--naive-attempt-header")) {
      c.naive_attempt_header = true;
      continue;
    }
    if (!strcmp(a, "--no-sim")) {
      no_sim = true;
      continue;
    }
    if (!strcmp(a, "--verbose")) {
      c.verbose = true;
      continue;
    }
    static const char *const valued[] = {
        "--rate",   "--capacity",  "--outage", "--warmup", "--tail",
        "--threads", "--attempts", "--ledger", "--contracts", "--html",
        "--json",   "--only",      "--scenario", NULL};
    bool known = false;
    for (int k = 0; valued[k]; k++) known = known || !strcmp(a, valued[k]);
    if (!known) return bad("unknown option", a);
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return bad("missing value for", a);
    i++;
    double d;
    if (!strcmp(a, "--rate")) {
      if (num(v, 1, 2000, &c.rate)) return bad("--rate must be 1..2000", v);
    } else if (!strcmp(a, "--capacity")) {
      if (num(v, 1, 2000, &c.capacity))
        return bad("--capacity must be 1..2000", v);
    } else if (!strcmp(a, "--outage")) {
      if (num(v, 1, 20, &c.outage_s)) return bad("--outage must be 1..20", v);
    } else if (!strcmp(a, "--warmup")) {
      if (num(v, 2, 20, &c.warmup_s)) return bad("--warmup must be 2..20", v);
    } else if (!strcmp(a, "--tail")) {
      if (num(v, 2, 30, &c.tail_s)) return bad("--tail must be 2..30", v);
    } else if (!strcmp(a, "--threads")) {
      if (num(v, 1, 16, &d)) return bad("--threads must be 1..16", v);
      c.threads = (int)d;
    } else if (!strcmp(a, "--attempts")) {
      if (num(v, 1, 20, &d)) return bad("--attempts must be 1..20", v);
      c.naive_attempts = (uint32_t)d;
    } else if (!strcmp(a, "--ledger")) {
      snprintf(ledger, sizeof ledger, "%s", v);
    } else if (!strcmp(a, "--contracts")) {
      snprintf(contracts, sizeof contracts, "%s", v);
      contracts_given = true;
    } else if (!strcmp(a, "--html")) {
      html = v;
    } else if (!strcmp(a, "--json")) {
      json = v;
    } else if (!strcmp(a, "--scenario")) {
      scenario = v;
    } else if (!strcmp(a, "--only")) {
      if (strcmp(v, "naive") && strcmp(v, "rein"))
        return bad("--only takes naive or rein", v);
      only = v;
    } else {
      return bad("unknown option", a);
    }
  }
  if (c.warmup_s + c.outage_s + c.tail_s > 40)
    return bad("warm-up + outage + tail must stay within 40 s", NULL);
  if (!ledger[0]) {
    static const char *const rels[] = {"../examples/ledger/ledger",
                                       "examples/ledger/ledger",
                                       "../build/examples/ledger/ledger"};
    const char *env = getenv("REIN_LEDGER");
    if (env && *env) snprintf(ledger, sizeof ledger, "%s", env);
    else if (demo_find_near_exe(rels, 3, ledger, sizeof ledger) != 0) {
      fprintf(stderr,
              "rein demo: cannot find the ledger next to the rein binary "
              "(../examples/ledger/ledger); build it (cmake --build build "
              "--target ledger) or pass --ledger PATH\n");
      return REIN_EXIT_USAGE;
    }
  }
  if (access(ledger, X_OK) != 0) {
    fprintf(stderr, "rein demo: %s: not an executable ledger\n", ledger);
    return REIN_EXIT_USAGE;
  }
  if (!contracts_given) {
    static const char *const rels[] = {"../../examples/contracts/ledger",
                                       "../examples/contracts/ledger"};
    if (demo_find_near_exe(rels, 2, contracts, sizeof contracts) != 0 &&
        access("examples/contracts/ledger/client.yaml", R_OK) == 0)
      snprintf(contracts, sizeof contracts, "examples/contracts/ledger");
  }
  c.ledger_path = ledger;
  c.contracts_dir = contracts[0] ? contracts : NULL;

  curl_global_init(CURL_GLOBAL_DEFAULT);
  static demo_round rounds[2];
  int n = 0;
  char err[512] = "";
  int rc = REIN_EXIT_OK;
  for (int k = 0; k < 2; k++) {
    bool rein_round = k == 1;
    if (only && strcmp(only, rein_round ? "rein" : "naive")) continue;
    fprintf(stderr, "rein demo: %s round (%.0f s)...\n",
            rein_round ? "rein" : "naive",
            c.warmup_s + c.outage_s + c.tail_s);
    if (demo_run_round(&c, rein_round, &rounds[n], err, sizeof err) != 0) {
      fprintf(stderr, "rein demo: %s round failed: %s\n",
              rein_round ? "rein" : "naive", err);
      rc = REIN_EXIT_FINDINGS;
      break;
    }
    n++;
  }
  static demo_sim sims[2];
  bool simulated = false;
  if (scenario) {
    static char text[8192];
    FILE *sf = NULL;
    if (demo_scenario_text(&c, text, sizeof text, err, sizeof err) != 0 ||
        !(sf = fopen(scenario, "w")) || fputs(text, sf) < 0) {
      fprintf(stderr, "rein demo: cannot write the scenario %s%s%s\n",
              scenario, err[0] ? ": " : "", err);
      rc = REIN_EXIT_FINDINGS;
    }
    if (sf && fclose(sf) != 0) rc = REIN_EXIT_FINDINGS;
    err[0] = '\0';
  }
  if (n > 0 && !no_sim) {
    if (demo_simulate(&c, 5, sims, err, sizeof err) == 0)
      simulated = true;
    else
      fprintf(stderr, "rein demo: not simulated: %s\n", err);
  }
  if (n > 0) {
    demo_print_summary(stdout, &c, rounds, n);
    if (simulated) demo_print_sim(stdout, rounds, sims, n);
    if (demo_write_html(html, &c, rounds, n, simulated ? sims : NULL) != 0) {
      fprintf(stderr, "rein demo: cannot write %s\n", html);
      rc = REIN_EXIT_FINDINGS;
    } else {
      printf("report: %s\n", html);
    }
    if (json &&
        demo_write_json(json, &c, rounds, n, simulated ? sims : NULL) != 0) {
      fprintf(stderr, "rein demo: cannot write %s\n", json);
      rc = REIN_EXIT_FINDINGS;
    }
  }
  curl_global_cleanup();
  return rc;
}

const rein_cli_command rein_cmd_demo = {
    "demo", "a live retry storm against examples/ledger, naive vs rein",
    usage, run};
