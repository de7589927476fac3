/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: the rein tool's entry point: dispatch to a subcommand, plus
 * --version and `help [command]`.
 *
 * The table of subcommands is generated at build time from cli/cmd_*.c
 * (see cli/CMakeLists.txt), so adding a command is adding one file.
 */
#include "cli.h"
#include "rein/input.h"
#include "rein/version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.inc"

static const rein_cli_command *find_command(const char *name) {
  for (size_t i = 0; rein_cli_commands[i]; i++)
    if (strcmp(rein_cli_commands[i]->name, name) == 0)
      return rein_cli_commands[i];
  return NULL;
}

static void print_overview(FILE *out) {
  fprintf(out,
          "rein %s: the retry contract between services, checked and "
          "enforced.\n\n"
          "usage: rein <command> [options]\n"
          "       rein help [command]\n"
          "       rein --version\n\ncommands:\n",
          rein_version());
  for (size_t i = 0; rein_cli_commands[i]; i++)
    fprintf(out, "  %-10s %s\n", rein_cli_commands[i]->name,
            rein_cli_commands[i]->summary);
  fprintf(out, "\nexit codes: 0 ok, 1 findings or failed check, 2 usage or "
               "input error\n");
}

int rein_cli_is_help(const char *arg) {
  return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int rein_cli_parse_duration(const char *s, long long *ns, char *err,
                            size_t errlen) {
  if (!s || !*s) {
    snprintf(err, errlen, "empty duration (expected e.g. 250ms, 15s, 72h)");
    return -1;
  }
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (end == s || errno || v < 0 || v != v) {
    snprintf(err, errlen,
             "'%s' is not a duration (expected a non-negative number and a "
             "unit: ns, us, ms, s, m, h, d)",
             s);
    return -1;
  }
  static const struct {
    const char *u;
    double mult;
  } units[] = {{"ns", 1},       {"us", 1e3},    {"ms", 1e6},
               {"s", 1e9},      {"m", 60e9},    {"h", 3600e9},
               {"d", 86400e9}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].u) == 0) {
      double r = v * units[i].mult;
      if (r > 9.2e18) {
        snprintf(err, errlen, "'%s' is too long", s);
        return -1;
      }
      *ns = (long long)r;
      return 0;
    }
  }
  snprintf(err, errlen, "'%s': unknown unit '%s' (use ns, us, ms, s, m, h, d)",
           s, end);
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_overview(stderr);
    return REIN_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("rein %s\n", rein_version());
    return REIN_EXIT_OK;
  }
  if (rein_cli_is_help(cmd)) {
    print_overview(stdout);
    return REIN_EXIT_OK;
  }
  if (strcmp(cmd, "help") == 0) {
    if (argc < 3) {
      print_overview(stdout);
      return REIN_EXIT_OK;
    }
    const rein_cli_command *c = find_command(argv[2]);
    if (!c) {
      fputs("rein: no command '", stderr);
      rein_text_fputs(argv[2], stderr);
      fputs("' (see `rein help`)\n", stderr);
      return REIN_EXIT_USAGE;
    }
    fputs(c->usage, stdout);
    return REIN_EXIT_OK;
  }
  const rein_cli_command *c = find_command(cmd);
  if (!c) {
    fputs("rein: no command '", stderr);
    rein_text_fputs(cmd, stderr);
    fputs("' (see `rein help`)\n", stderr);
    return REIN_EXIT_USAGE;
  }
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (rein_cli_is_help(argv[i])) {
      fputs(c->usage, stdout);
      return REIN_EXIT_OK;
    }
  }
  return c->run(argc - 1, argv + 1);
}
