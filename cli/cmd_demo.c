/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_demo.c: `rein demo`: a real retry storm on loopback, and rein
 * stopping it.
 *
 * Runs rein-demo-load (examples/ledger/loadgen.c) once per round: it
 * starts examples/ledger and runs the same open-loop client fleet and the
 * same outage twice, first with a naive retry policy, then with the
 * policy of examples/contracts/ledger, and writes what the ledger saw as
 * JSON: peak load relative to capacity, amplification, recovery time,
 * duplicate charges and give-ups by reason. Every number of the rounds
 * comes from the demo's scenario (examples/scenarios/demo.yaml), which is
 * then run through the simulator for the side-by-side table. Programs
 * and files are found through the install layout (cmake/ReinLayout.cmake).
 * Writes an HTML report with the load-over-time charts (inline SVG) and,
 * with --json, the figures. The engine is cli/lib_demo.c, the reports
 * cli/lib_demo_report.c.
 */
#include "cli.h"
#include "lib_demo.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  OPT_SHORT,
  OPT_THREADS,
  OPT_LEDGER,
  OPT_CONTRACTS,
  OPT_SCENARIO,
  OPT_HTML,
  OPT_JSON,
  OPT_ONLY,
  OPT_NO_SIM,
  OPT_STALL,
  OPT_NAIVE_ATTEMPT_HEADER,
  OPT_VERBOSE,
  OPT_BEHIND_NGINX,
};

static const rein_cli_option options[] = {
    [OPT_SHORT] = {"short", 0, REIN_CLI_FLAG, NULL,
                   "shorter rounds: the tail after the outage is cut\n"
                   "to 5 s (live and simulated)"},
    [OPT_THREADS] = {"threads", 0, REIN_CLI_INT, "N",
                     "client threads, each a curl multi loop (default 2)", NULL,
                     1, 16},
    [OPT_LEDGER] = {"ledger", 0, REIN_CLI_FILE, "PATH",
                    "the ledger executable (default: $REIN_LEDGER, else\n"
                    "libexec/rein/ledger beside rein's bin directory)"},
    [OPT_CONTRACTS] = {"contracts", 0, REIN_CLI_DIR, "DIR",
                       "contract directory of the live rein round, with\n"
                       "client -> ledger.charge (default:\n"
                       "share/rein/contracts/ledger beside rein's bin\n"
                       "directory; the simulation uses the contract the\n"
                       "scenario names)"},
    [OPT_SCENARIO] = {"scenario", 0, REIN_CLI_FILE, "PATH",
                      "the demo's scenario: the ledger's capacity, the\n"
                      "offered rate, the outage, the naive policy, for\n"
                      "both the live rounds and the simulation (default:\n"
                      "share/rein/scenarios/demo.yaml)"},
    [OPT_HTML] = {"html", 0, REIN_CLI_FILE, "PATH",
                  "report (default rein-demo.html)"},
    [OPT_JSON] = {"json", 0, REIN_CLI_FILE, "PATH",
                  "also write the figures as JSON"},
    [OPT_ONLY] = {"only", 0, REIN_CLI_CHOICE, "naive|rein", "run one round",
                  "naive rein"},
    [OPT_NO_SIM] = {"no-sim", 0, REIN_CLI_FLAG, NULL,
                    "do not run the same situation through the\n"
                    "simulator (by default: 5 seeds, side by side)"},
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
    [OPT_BEHIND_NGINX] = {"behind-nginx", 0, REIN_CLI_FLAG, NULL,
                          "one more round: the rein client behind Debian's\n"
                          "nginx with ngx_http_rein_module, its directives\n"
                          "what `rein export nginx` writes from the ledger\n"
                          "contract (skipped, saying why, without nginx or\n"
                          "the module; $REIN_NGINX, $REIN_NGINX_MODULE)"},
    {0}};

extern const rein_cli_command rein_cmd_demo;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_demo, msg, arg);
}

static int run(int argc, char **argv) {
  static demo_paths paths; /* 16 KiB of paths: kept off the stack */
  memset(&paths, 0, sizeof paths);
  demo_run dr = {0};
  const char *html = "rein-demo.html", *json = NULL, *only = NULL;
  bool no_sim = false, behind = false;
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_demo, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    switch (o) {
    case OPT_SHORT:
      dr.short_run = true;
      break;
    case OPT_STALL:
      dr.stall = true;
      break;
    case OPT_NAIVE_ATTEMPT_HEADER:
      dr.naive_attempt_header = true;
      break;
    case OPT_NO_SIM:
      no_sim = true;
      break;
    case OPT_VERBOSE:
      dr.verbose = true;
      break;
    case OPT_BEHIND_NGINX:
      behind = true;
      break;
    case OPT_THREADS: /* bounds: checked by the parser */
      dr.threads = (int)p.n;
      break;
    case OPT_LEDGER:
      snprintf(paths.ledger, sizeof paths.ledger, "%s", p.value);
      break;
    case OPT_CONTRACTS:
      snprintf(paths.contracts, sizeof paths.contracts, "%s", p.value);
      break;
    case OPT_SCENARIO:
      snprintf(paths.scenario, sizeof paths.scenario, "%s", p.value);
      break;
    case OPT_HTML:
      html = p.value;
      break;
    case OPT_JSON:
      json = p.value;
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
  /* $REIN_LEDGER, $REIN_DEMO_LOAD: other programs than the layout's (a
   * test's stand-in harness, a ledger built elsewhere) */
  const char *env = getenv("REIN_LEDGER");
  if (!paths.ledger[0] && env && *env)
    snprintf(paths.ledger, sizeof paths.ledger, "%s", env);
  env = getenv("REIN_DEMO_LOAD");
  if (env && *env) snprintf(paths.load, sizeof paths.load, "%s", env);
  char err[1024] = "";
  if (demo_find_layout(&paths, err, sizeof err) != 0) {
    fprintf(stderr,
            "rein demo: %s, or pass --ledger, --scenario and "
            "--contracts\n",
            err);
    return REIN_EXIT_USAGE;
  }
  if (access(paths.ledger, X_OK) != 0) {
    fprintf(stderr, "rein demo: %s: not an executable ledger\n", paths.ledger);
    return REIN_EXIT_USAGE;
  }
  static demo_round rounds[3];
  demo_config c = {0};
  int n = 0;
  int rc = REIN_EXIT_OK;
  for (int k = 0; k < 2; k++) {
    const char *name = k ? "rein" : "naive";
    if (only && strcmp(only, name)) continue;
    fprintf(stderr, "rein demo: %s round...\n", name);
    if (demo_run_round(&paths, &dr, name, &c, &rounds[n], err, sizeof err) !=
        0) {
      fprintf(stderr, "rein demo: %s round failed: %s\n", name, err);
      rc = REIN_EXIT_FINDINGS;
      break;
    }
    n++;
  }
  if (behind && rc == REIN_EXIT_OK) {
    char why[1024];
    if (demo_find_nginx(&paths, why, sizeof why) != 0) {
      fprintf(stderr, "rein demo: the round behind nginx is skipped: %s\n",
              why);
    } else {
      fprintf(stderr, "rein demo: nginx round (%s, %s)...\n", paths.nginx,
              paths.nginx_module);
      if (demo_run_round(&paths, &dr, "nginx", &c, &rounds[n], err,
                         sizeof err) != 0) {
        fprintf(stderr, "rein demo: nginx round failed: %s\n", err);
        rc = REIN_EXIT_FINDINGS;
      } else {
        n++;
      }
    }
  }
  static demo_sim sims[2];
  bool simulated = false;
  char sim_note[1024] = "--no-sim was given";
  if (n > 0 && !no_sim) {
    if (demo_simulate(paths.scenario, &c, 5, sims, sim_note, sizeof sim_note) ==
        0)
      simulated = true;
    else
      fprintf(stderr, "rein demo: not simulated: %s\n", sim_note);
  }
  /* the report's footer names the command that made it */
  char cmdline[1024];
  size_t cl = (size_t)snprintf(cmdline, sizeof cmdline, "rein demo");
  for (int i = 1; i < argc && cl < sizeof cmdline; i++)
    cl +=
        (size_t)snprintf(cmdline + cl, sizeof cmdline - cl,
                         strpbrk(argv[i], " \t'\"") ? " '%s'" : " %s", argv[i]);
  if (n > 0) {
    demo_print_summary(stdout, &c, rounds, n);
    if (simulated) demo_print_sim(stdout, rounds, sims, n);
    printf("scenario: %s\n", paths.scenario);
    if (demo_write_html(html, &c, rounds, n, simulated ? sims : NULL, sim_note,
                        cmdline) != 0) {
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
        "and give-ups, and write an HTML report. Takes under a minute.\n"
        "The rounds run in rein-demo-load (libexec/rein), with every number\n"
        "taken from the demo's scenario (share/rein/scenarios/demo.yaml),\n"
        "which the simulator then runs for the side-by-side table.\n"
        "--behind-nginx adds a round: the rein client behind nginx with\n"
        "ngx_http_rein_module (docs/nginx.md), reported beside the others\n"
        "(the simulator has no nginx: it is not in the simulated table).\n",
    .exit_status = "0 the demo ran, 1 a round failed or a file could not be\n"
                   "written, 2 usage error or nothing to start (no ledger,\n"
                   "rein-demo-load or scenario in the install layout)\n",
};
