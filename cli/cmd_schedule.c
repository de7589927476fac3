/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_schedule.c: `rein schedule`: print the retry schedule a backoff policy
 * produces for a few clients that all failed at the same instant.
 *
 * It makes synchronized waves visible without any setup: with no jitter
 * every client retries at the same moments; with jitter the moments spread.
 * The delays come from rein_backoff_delay itself, seeded per client.
 */
#include "cli.h"
#include "rein.h"

#include <stdlib.h>
#include <string.h>

enum {
  OPT_CLIENTS,
  OPT_ATTEMPTS,
  OPT_BACKOFF,
  OPT_JITTER,
  OPT_BASE,
  OPT_CAP,
  OPT_MULTIPLIER,
  OPT_SEED,
};

static const rein_cli_option options[] = {
    [OPT_CLIENTS] = {"clients", 0, REIN_CLI_INT, "N",
                     "clients to show (default 5, max 1000)", NULL, 1, 1000},
    [OPT_ATTEMPTS] = {"attempts", 0, REIN_CLI_INT, "N",
                      "attempts per client including the first (default 5)",
                      NULL, 1, 100},
    [OPT_BACKOFF] = {"backoff", 0, REIN_CLI_CHOICE, "KIND",
                     "none|constant|linear|exponential (default exponential)",
                     "none constant linear exponential"},
    [OPT_JITTER] = {"jitter", 0, REIN_CLI_CHOICE, "KIND",
                    "none|full|equal|decorrelated (default full)",
                    "none full equal decorrelated"},
    [OPT_BASE] = {"base", 0, REIN_CLI_DURATION, "DUR",
                  "base delay (default 100ms)"},
    [OPT_CAP] = {"cap", 0, REIN_CLI_DURATION, "DUR",
                 "largest delay (default 10s)"},
    [OPT_MULTIPLIER] = {"multiplier", 0, REIN_CLI_NUMBER, "X",
                        "exponential growth factor (default 2)"},
    [OPT_SEED] = {"seed", 0, REIN_CLI_STRING, "N",
                  "seed for the jitter (default 1)"},
    {0}};

extern const rein_cli_command rein_cmd_schedule;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_schedule, msg, arg);
}

static int run(int argc, char **argv) {
  rein_backoff_config bc;
  rein_backoff_config_default(&bc);
  long clients = 5, attempts = 5;
  unsigned long long seed = 1;
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_schedule, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    switch (o) {
    case OPT_CLIENTS:
      clients = (long)p.n;
      break;
    case OPT_ATTEMPTS:
      attempts = (long)p.n;
      break;
    case OPT_BACKOFF: /* choices: checked by the parser */
      rein_backoff_kind_parse(p.value, &bc.kind);
      break;
    case OPT_JITTER:
      rein_jitter_parse(p.value, &bc.jitter);
      break;
    case OPT_BASE:
      bc.base_ns = p.n;
      break;
    case OPT_CAP:
      bc.cap_ns = p.n;
      break;
    case OPT_MULTIPLIER:
      bc.multiplier = p.x;
      break;
    case OPT_SEED:
      seed = strtoull(p.value, NULL, 0);
      break;
    case REIN_CLI_OPERAND:
      return bad("unexpected argument", p.value);
    default: /* REIN_CLI_ERROR: printed */
      return REIN_EXIT_USAGE;
    }
  }
  rein_errbuf eb = {{0}};
  if (rein_backoff_config_validate(&bc, &eb) != REIN_OK)
    return bad(eb.msg, NULL);

  printf("backoff %s, jitter %s, base %.3fs, cap %.3fs; retry start times "
         "(s after the failure):\n",
         rein_backoff_kind_name(bc.kind), rein_jitter_name(bc.jitter),
         bc.base_ns / 1e9, bc.cap_ns / 1e9);
  printf("%-8s", "client");
  for (long n = 1; n < attempts; n++)
    printf(" %9s%-2ld", "retry ", n);
  printf("\n");
  for (long c = 0; c < clients; c++) {
    rein_rng rng;
    uint64_t st = seed + (uint64_t)c;
    rein_rng_seed(&rng, rein_splitmix64(&st));
    int64_t t = 0, prev = 0;
    printf("%-8ld", c + 1);
    for (long n = 1; n < attempts; n++) {
      prev = rein_backoff_delay(&bc, (uint32_t)n, prev, &rng);
      t += prev;
      printf(" %11.3f", t / 1e9);
    }
    printf("\n");
  }
  return REIN_EXIT_OK;
}

const rein_cli_command rein_cmd_schedule = {
    .name = "schedule",
    .summary = "print the retry times a backoff policy gives N clients",
    .run = run,
    .options = options,
    .synopsis = "schedule [options]",
    .description = "Print when each of N clients retries after one shared "
                   "failure at t=0,\n"
                   "using rein's backoff (delay before retry n; n=1 is the "
                   "first retry).\n",
    .exit_status = "0 printed, 2 usage error or a policy the core refuses\n",
};
