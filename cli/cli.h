/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h: what a rein subcommand looks like.
 *
 * Each subcommand lives in cli/cmd_<name>.c and defines
 *   const rein_cli_command rein_cmd_<name> = {"name", "summary", usage, run};
 * The build generates the command table from the file names. Exit codes:
 * 0 success, 1 findings or failure of what was checked, 2 usage or input
 * error. Progress goes to stderr, and only when stderr is a terminal.
 */
#ifndef REIN_CLI_H
#define REIN_CLI_H

#include <stdio.h>

typedef struct rein_cli_command {
  const char *name;
  const char *summary; /* one line for `rein help` */
  const char *usage;   /* full text for `rein help NAME` and NAME --help */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
} rein_cli_command;

#define REIN_EXIT_OK 0
#define REIN_EXIT_FINDINGS 1
#define REIN_EXIT_USAGE 2

/* Parse "250ms", "15s", "2m", "72h", "1d", "500us", "10ns" into ns. 0 on
 * success, -1 on error (message written to `err`, size `errlen`). */
int rein_cli_parse_duration(const char *s, long long *ns, char *err,
                            size_t errlen);

/* true when `arg` is --help or -h. */
int rein_cli_is_help(const char *arg);

#endif
