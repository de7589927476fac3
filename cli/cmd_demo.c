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

enum {
  OPT_SHORT,
  OPT_RATE,
  OPT_CAPACITY,
  OPT_OUTAGE,
  OPT_WARMUP,
  OPT_TAIL,
  OPT_THREADS,
  OPT_ATTEMPTS,
  OPT_LEDGER,
  OPT_CONTRACTS,
  OPT_HTML,
  OPT_JSON,
  OPT_ONLY,
  OPT_NO_SIM,
  OPT_SCENARIO,
  OPT_STALL,
  OPT_NAIVE_ATTEMPT_HEADER,
  OPT_VERBOSE,
};

static const rein_cli_option options[] = {
    [OPT_SHORT] = {"short", 0, REIN_CLI_FLAG, NULL,
                   "shorter rounds (3 s warm-up, 3 s outage, 7 s tail)"},
    [OPT_RATE] = {"rate", 0, REIN_CLI_NUMBER, "R",
                  "offered charges/s for the whole fleet (default 90)", NULL, 1,
                  2000},
    [OPT_CAPACITY] = {"capacity", 0, REIN_CLI_NUMBER, "R",
                      "ledger capacity in charges/s (default 100)", NULL, 1,
                      2000},
    [OPT_OUTAGE] = {"outage", 0, REIN_CLI_NUMBER, "S",
                    "outage length in seconds (default 3)", NULL, 1, 20},
    [OPT_WARMUP] = {"warmup", 0, REIN_CLI_NUMBER, "S",
                    "seconds before the outage (default 4)", NULL, 2, 20},
    [OPT_TAIL] = {"tail", 0, REIN_CLI_NUMBER, "S",
                  "seconds after the outage (default 8)", NULL, 2, 30},
    [OPT_THREADS] = {"threads", 0, REIN_CLI_INT, "N",
                     "client threads, each a curl multi loop (default 2)", NULL,
                     1, 16},
    [OPT_ATTEMPTS] = {"attempts", 0, REIN_CLI_INT, "N",
                      "the naive client's attempts (default 6)", NULL, 1, 20},
    [OPT_LEDGER] = {"ledger", 0, REIN_CLI_FILE, "PATH",
                    "the ledger executable (default: next to rein,\n"
                    "../examples/ledger/ledger)"},
    [OPT_CONTRACTS] = {"contracts", 0, REIN_CLI_DIR, "DIR",
                       "contract directory with client -> ledger.charge\n"
                       "(default: examples/contracts/ledger found from the\n"
                       "binary or the working directory; else built-in)"},
    [OPT_HTML] = {"html", 0, REIN_CLI_FILE, "PATH",
                  "report (default rein-demo.html)"},
    [OPT_JSON] = {"json", 0, REIN_CLI_FILE, "PATH",
                  "also write the figures as JSON"},
    [OPT_ONLY] = {"only", 0, REIN_CLI_CHOICE, "naive|rein", "run one round",
                  "naive rein"},
    [OPT_NO_SIM] = {"no-sim", 0, REIN_CLI_FLAG, NULL,
                    "do not run the same situation through the\n"
                    "simulator (by default: 5 seeds, side by side)"},
    [OPT_SCENARIO] = {"scenario", 0, REIN_CLI_FILE, "PATH",
                      "write the generated `rein simulate` scenario"},
    [OPT_STALL] = {"stall", 0, REIN_CLI_FLAG, NULL,
                   "the outage stalls the ledger (SIGSTOP: connections\n"
                   "queue unanswered, time out, and are processed late\n"
                   "when it resumes) instead of failing every charge\n"
                   "with 503 (POST /admin/outage, the default)"},
    [OPT_NAIVE_ATTEMPT_HEADER] = {"naive-attempt-header", 0, REIN_CLI_FLAG,
                                  NULL,
                                  "the naive client also sends Rein-Attempt, "
                                  "so the\n"
                                  "ledger can shed its retries first (as "
                                  "`rein\n"
                                  "simulate` assumes; see docs/fidelity.md)"},
    [OPT_VERBOSE] = {"verbose", 0, REIN_CLI_FLAG, NULL, "print every sample"},
    {0}};

extern const rein_cli_command rein_cmd_demo;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_demo, msg, arg);
}

static int run(int argc, char **argv) {
  demo_config c;
  demo_config_default(&c);
  const char *html = "rein-demo.html", *json = NULL, *only = NULL;
  const char *scenario = NULL;
  bool no_sim = false;
  char ledger[4096] = "", contracts[4096] = "";
  bool contracts_given = false;
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_demo, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    switch (o) {
    case OPT_SHORT:
      c.warmup_s = 3;
      c.outage_s = 3;
      c.tail_s = 7;
      break;
    case OPT_STALL:
      c.stall = true;
      break;
    case OPT_NAIVE_ATTEMPT_HEADER:
      c.naive_attempt_header = true;
      break;
    case OPT_NO_SIM:
      no_sim = true;
      break;
    case OPT_VERBOSE:
      c.verbose = true;
      break;
    case OPT_RATE: /* bounds: checked by the parser */
      c.rate = p.x;
      break;
    case OPT_CAPACITY:
      c.capacity = p.x;
      break;
    case OPT_OUTAGE:
      c.outage_s = p.x;
      break;
    case OPT_WARMUP:
      c.warmup_s = p.x;
      break;
    case OPT_TAIL:
      c.tail_s = p.x;
      break;
    case OPT_THREADS:
      c.threads = (int)p.n;
      break;
    case OPT_ATTEMPTS:
      c.naive_attempts = (uint32_t)p.n;
      break;
    case OPT_LEDGER:
      snprintf(ledger, sizeof ledger, "%s", p.value);
      break;
    case OPT_CONTRACTS:
      snprintf(contracts, sizeof contracts, "%s", p.value);
      contracts_given = true;
      break;
    case OPT_HTML:
      html = p.value;
      break;
    case OPT_JSON:
      json = p.value;
      break;
    case OPT_SCENARIO:
      scenario = p.value;
      break;
    case OPT_ONLY:
      only = p.value;
      break;
    case REIN_CLI_OPERAND:
      return bad("unexpected argument", p.value);
    default: /* REIN_CLI_ERROR: printed */
      return REIN_EXIT_USAGE;
    }
  }
  if (c.warmup_s + c.outage_s + c.tail_s > 40)
    return bad("warm-up + outage + tail must stay within 40 s", NULL);
  if (!ledger[0]) {
    static const char *const rels[] = {"../examples/ledger/ledger",
                                       "examples/ledger/ledger",
                                       "../build/examples/ledger/ledger"};
    const char *env = getenv("REIN_LEDGER");
    if (env && *env)
      snprintf(ledger, sizeof ledger, "%s", env);
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
            rein_round ? "rein" : "naive", c.warmup_s + c.outage_s + c.tail_s);
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
      fprintf(stderr, "rein demo: cannot write the scenario %s%s%s\n", scenario,
              err[0] ? ": " : "", err);
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
    .name = "demo",
    .summary = "a live retry storm against examples/ledger, naive vs rein",
    .run = run,
    .options = options,
    .synopsis = "demo [options]",
    .description =
        "Run examples/ledger on loopback and a fleet of clients against it in\n"
        "two rounds, naive then rein, each with the same injected outage; "
        "print\n"
        "peak load vs capacity, amplification, recovery time, duplicate "
        "charges\n"
        "and give-ups, and write an HTML report. Takes under a minute.\n",
    .exit_status = "0 the demo ran, 1 a round failed or a file could not be\n"
                   "written, 2 usage error or no ledger to start\n",
};
