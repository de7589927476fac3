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

static const char usage[] =
    "usage: rein schedule [options]\n"
    "\n"
    "Print when each of N clients retries after one shared failure at t=0,\n"
    "using rein's backoff (delay before retry n; n=1 is the first retry).\n"
    "\n"
    "  --clients N      clients to show (default 5, max 1000)\n"
    "  --attempts N     attempts per client including the first (default 5)\n"
    "  --backoff KIND   none|constant|linear|exponential (default exponential)\n"
    "  --jitter KIND    none|full|equal|decorrelated (default full)\n"
    "  --base DUR       base delay (default 100ms)\n"
    "  --cap DUR        largest delay (default 10s)\n"
    "  --multiplier X   exponential growth factor (default 2)\n"
    "  --seed N         seed for the jitter (default 1)\n";

static int bad(const char *msg, const char *arg) {
  fprintf(stderr, "rein schedule: %s%s%s\n%s", msg, arg ? ": " : "",
          arg ? arg : "", usage);
  return REIN_EXIT_USAGE;
}

static int run(int argc, char **argv) {
  rein_backoff_config bc;
  rein_backoff_config_default(&bc);
  long clients = 5, attempts = 5;
  unsigned long long seed = 1;
  char err[256];
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long long ns;
    if (!v) return bad("missing value for", a);
    if (strcmp(a, "--clients") == 0) {
      clients = strtol(v, NULL, 10);
      if (clients < 1 || clients > 1000) return bad("--clients must be 1..1000", v);
    } else if (strcmp(a, "--attempts") == 0) {
      attempts = strtol(v, NULL, 10);
      if (attempts < 1 || attempts > 100) return bad("--attempts must be 1..100", v);
    } else if (strcmp(a, "--backoff") == 0) {
      if (rein_backoff_kind_parse(v, &bc.kind) != REIN_OK)
        return bad("unknown --backoff (none|constant|linear|exponential)", v);
    } else if (strcmp(a, "--jitter") == 0) {
      if (rein_jitter_parse(v, &bc.jitter) != REIN_OK)
        return bad("unknown --jitter (none|full|equal|decorrelated)", v);
    } else if (strcmp(a, "--base") == 0 || strcmp(a, "--cap") == 0) {
      if (rein_cli_parse_duration(v, &ns, err, sizeof err) != 0)
        return bad(err, NULL);
      if (a[2] == 'b') bc.base_ns = ns; else bc.cap_ns = ns;
    } else if (strcmp(a, "--multiplier") == 0) {
      bc.multiplier = strtod(v, NULL);
    } else if (strcmp(a, "--seed") == 0) {
      seed = strtoull(v, NULL, 0);
    } else {
      return bad("unknown option", a);
    }
  }
  rein_errbuf eb = {{0}};
  if (rein_backoff_config_validate(&bc, &eb) != REIN_OK) return bad(eb.msg, NULL);

  printf("backoff %s, jitter %s, base %.3fs, cap %.3fs; retry start times "
         "(s after the failure):\n",
         rein_backoff_kind_name(bc.kind), rein_jitter_name(bc.jitter),
         bc.base_ns / 1e9, bc.cap_ns / 1e9);
  printf("%-8s", "client");
  for (long n = 1; n < attempts; n++) printf(" %9s%-2ld", "retry ", n);
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
    "schedule", "print the retry times a backoff policy gives N clients",
    usage, run};
