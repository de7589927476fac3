/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h: what a rein subcommand looks like, and the one option parser they
 * all use.
 *
 * Each subcommand lives in cli/cmd_<name>.c and defines
 *   const rein_cli_command rein_cmd_<name> = {.name = "name", ...};
 * The build generates the command table from the file names. Exit codes:
 * 0 success, 1 findings or failure of what was checked, 2 usage or input
 * error. Progress goes to stderr, and only when stderr is a terminal.
 *
 * A command's options are one table (rein_cli_option rows, curl's
 * tool_getparam habit): the parser (rein_cli_next), `rein help NAME` and
 * `NAME --help` (rein_cli_usage), the man page rein-NAME(1) (`rein __man`,
 * run at build time) and shell completion (`rein __complete`, called by the
 * scripts in cli/completion/) all read it, so an option exists in all of
 * them or in none. See cli/opts.c and cli/docgen.c.
 */
#ifndef REIN_CLI_H
#define REIN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What follows an option (and what its operands are: `operands`). */
typedef enum rein_cli_arg {
  REIN_CLI_FLAG = 0, /* nothing (operands: none) */
  REIN_CLI_STRING,   /* any text */
  REIN_CLI_FILE,     /* a path to a file (completion offers files) */
  REIN_CLI_DIR,      /* a directory */
  REIN_CLI_CHOICE,   /* one word of `choices`; checked, did-you-mean */
  REIN_CLI_INT,      /* a decimal integer in [lo, hi] -> .n */
  REIN_CLI_NUMBER,   /* a real number in [lo, hi] -> .x */
  REIN_CLI_DURATION, /* "250ms", "15s" (rein_cli_parse_duration) -> .n */
  REIN_CLI_SIZE      /* "512MiB" (rein_parse_size), at least lo -> .size */
} rein_cli_arg;

/* The value may only be given as --name=VALUE (`--compare` alone is a flag,
 * `--compare=A,B` a list). */
#define REIN_CLI_OPTIONAL_VALUE 1u

/* One option. A command's table is indexed by its own enum (designated
 * initializers, `[OPT_FORMAT] = {...}`) and ends with a row whose name is
 * NULL; rein_cli_next returns the index. */
typedef struct rein_cli_option {
  const char *name;    /* long name without the dashes: "format" */
  char short_name;     /* 'f', or 0 */
  rein_cli_arg arg;    /* what follows */
  const char *metavar; /* the value's name in help: "F", "DUR" */
  const char *help;    /* one sentence; '\n' continues on the next line */
  const char *choices; /* REIN_CLI_CHOICE: "text json sarif" */
  double lo, hi;       /* numeric kinds: bounds, checked when lo < hi
                          (REIN_CLI_SIZE, REIN_CLI_DURATION: lo only) */
  unsigned flags;      /* REIN_CLI_OPTIONAL_VALUE */
} rein_cli_option;

typedef struct rein_cli_command {
  const char *name;
  const char *summary; /* one line for `rein help` and the man page NAME */
  const char *usage;   /* a hand-written help text, or NULL: generated */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
  const rein_cli_option *options;    /* the table, or NULL */
  const char *synopsis;    /* after "rein ": "check [options] FILE|DIR..." */
  const char *description; /* paragraphs, blank-line separated */
  const char *notes;       /* after the options (may be NULL) */
  const char *exit_status; /* "0 clean, 1 findings, 2 usage or input error" */
  rein_cli_arg operands;   /* what the operands are, for completion */
  /* The words the first operand may be (the FORMAT of import and export),
   * NULL-terminated, or NULL when it is free: completion offers them and
   * rein_cli_check_word checks them. */
  const char *const *(*operand_words)(void);
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

/* ------------------------------------------------------------ the parser */

/* What rein_cli_next returns besides an option's index. */
#define REIN_CLI_END (-1)     /* no arguments left */
#define REIN_CLI_OPERAND (-2) /* an operand: .value */
#define REIN_CLI_ERROR (-3)   /* a usage error, already printed on stderr */

/* One pass over argv; caller-allocated, no global state (getopt's optind
 * is global: this is not getopt). */
typedef struct rein_cli_parser {
  const rein_cli_command *cmd;
  int argc;
  char **argv;
  int i;              /* next argv index */
  bool operands_only; /* after "--" */
  const char *value;  /* the value as written (NULL for a flag) */
  long long n;        /* REIN_CLI_INT, REIN_CLI_DURATION (ns) */
  double x;           /* REIN_CLI_NUMBER */
  uint64_t size;      /* REIN_CLI_SIZE (bytes) */
} rein_cli_parser;

/* Start parsing `argv` (argv[0] is the command name, skipped). */
void rein_cli_parser_init(rein_cli_parser *p, const rein_cli_command *cmd,
                          int argc, char **argv);

/*
 * The next option or operand, in command-line order. Options may come
 * before, between or after operands; "--" makes every later argument an
 * operand; "-" is an operand. Accepts --name VALUE, --name=VALUE, -s VALUE
 * and -sVALUE. The value is checked against the row's kind and bounds and
 * converted (.n, .x, .size). Returns the option's index in the table,
 * REIN_CLI_OPERAND, REIN_CLI_END, or REIN_CLI_ERROR after printing
 * "rein NAME: what is wrong: the argument" on stderr, with a did-you-mean
 * for a mistyped option or choice and "(see rein NAME --help)".
 */
int rein_cli_next(rein_cli_parser *p);

/* Print "rein NAME: msg[: arg]" and the --help pointer on stderr (the
 * argument escaped for the terminal); returns REIN_EXIT_USAGE. */
int rein_cli_usage_error(const rein_cli_command *cmd, const char *msg,
                         const char *arg);

/* REIN_EXIT_OK when `word` is one of cmd->operand_words(); otherwise
 * prints "rein NAME: unknown WHAT: word (did you mean 'x'? known: a, b)"
 * and returns REIN_EXIT_USAGE. */
int rein_cli_check_word(const rein_cli_command *cmd, const char *what,
                        const char *word);

/* The candidate closest to `word` (case-insensitive edits), or NULL when
 * none is close enough to be what was meant. */
const char *rein_cli_suggest(const char *word, const char *const *cands,
                             size_t n);

/* The help text: the hand-written `usage` if any, else generated from the
 * table (synopsis, description, options, notes, exit status). */
void rein_cli_usage(const rein_cli_command *cmd, FILE *out);

/* true when `f` should get colour: it is a terminal, NO_COLOR is unset or
 * empty (no-color.org) and TERM is not "dumb". */
bool rein_cli_colour(FILE *f);

/* ------------------------------------------- docgen.c: man and completion */

/* Write rein(1) (cmd NULL: the overview over `cmds`) or rein-NAME(1) as
 * roff (man(7) macros) to `out`. */
void rein_cli_write_man(const rein_cli_command *const *cmds,
                        const rein_cli_command *cmd, FILE *out);

/* `rein __complete WORD...`: the words of the command line after "rein" up
 * to the one being completed (possibly empty). Prints one candidate per
 * line, or "@file" / "@dir" for the shell to complete paths. */
int rein_cli_complete(const rein_cli_command *const *cmds, int nwords,
                      char **words, FILE *out);

#endif
