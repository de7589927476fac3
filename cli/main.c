/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: the rein tool's entry point: dispatch to a subcommand, plus
 * --version, `help [command]` and two hidden commands the build and the
 * shells use: `__man DIR` (write the man pages) and `__complete WORD...`
 * (completion candidates; cli/docgen.c).
 *
 * The table of subcommands is generated at build time from cli/cmd_*.c
 * (see cli/CMakeLists.txt), so adding a command is adding one file. A
 * mistyped command gets the closest one as a did-you-mean.
 */
#include "cli.h"
#include "rein/input.h"
#include "rein/version.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.inc"

static const rein_cli_command *find_command(const char *name) {
  for (size_t i = 0; rein_cli_commands[i]; i++)
    if (strcmp(rein_cli_commands[i]->name, name) == 0)
      return rein_cli_commands[i];
  return NULL;
}

/* "rein: no command 'chek' (did you mean 'check'?)" on stderr; exit 2. */
static int no_command(const char *name) {
  const char *names[64];
  size_t n = 0;
  for (size_t i = 0; rein_cli_commands[i] && n < 63; i++)
    names[n++] = rein_cli_commands[i]->name;
  names[n++] = "help";
  const char *best = rein_cli_suggest(name, names, n);
  fputs("rein: no command '", stderr);
  rein_text_fputs(name, stderr);
  if (best)
    fprintf(stderr, "'; did you mean '%s'? (see `rein help`)\n", best);
  else
    fputs("' (see `rein help`)\n", stderr);
  return REIN_EXIT_USAGE;
}

/* `rein __man DIR`: rein.1 and rein-NAME.1 for every command. */
static int write_man(const char *dir) {
  for (size_t i = 0; i == 0 || rein_cli_commands[i - 1]; i++) {
    const rein_cli_command *c = i ? rein_cli_commands[i - 1] : NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/rein%s%s.1", dir, c ? "-" : "",
             c ? c->name : "");
    FILE *f = fopen(path, "w");
    if (!f) {
      fprintf(stderr, "rein __man: cannot write %s: %s\n", path,
              strerror(errno));
      return REIN_EXIT_USAGE;
    }
    rein_cli_write_man(rein_cli_commands, c, f);
    if (fclose(f) != 0) {
      fprintf(stderr, "rein __man: error writing %s\n", path);
      return REIN_EXIT_USAGE;
    }
  }
  return REIN_EXIT_OK;
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
               "input error\n"
               "manual: man rein, man rein-COMMAND\n");
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
  } units[] = {{"ns", 1},   {"us", 1e3},   {"ms", 1e6},   {"s", 1e9},
               {"m", 60e9}, {"h", 3600e9}, {"d", 86400e9}};
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
  if (strcmp(cmd, "__man") == 0 && argc == 3) return write_man(argv[2]);
  if (strcmp(cmd, "__complete") == 0)
    return rein_cli_complete(rein_cli_commands, argc - 2, argv + 2, stdout);
  if (strcmp(cmd, "help") == 0) {
    if (argc < 3) {
      print_overview(stdout);
      return REIN_EXIT_OK;
    }
    const rein_cli_command *c = find_command(argv[2]);
    if (!c) return no_command(argv[2]);
    rein_cli_usage(c, stdout);
    return REIN_EXIT_OK;
  }
  const rein_cli_command *c = find_command(cmd);
  if (!c) return no_command(cmd);
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (rein_cli_is_help(argv[i])) {
      rein_cli_usage(c, stdout);
      return REIN_EXIT_OK;
    }
  }
  return c->run(argc - 1, argv + 1);
}
