/* SPDX-License-Identifier: Apache-2.0 */
/*
 * opts.c: the one option parser of the rein tool, driven by each command's
 * table (cli.h), and the help text printed from the same table.
 *
 * Not getopt_long: getopt keeps its position in globals (optind, optarg)
 * and prints its own messages, while this parser keeps its state in a
 * caller's struct, checks and converts each value by the row's kind, and
 * answers a mistyped option or choice with the closest known one (the
 * contract loader's did-you-mean, so the tool and the loader agree on what
 * is close). Long options must be spelled out: no abbreviations, so adding
 * an option never breaks a script that used a prefix of another.
 */
#include "cli.h"
#include "rein/input.h" /* rein_suggest */
#include "rein/input.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ messages */

int rein_cli_usage_error(const rein_cli_command *cmd, const char *msg,
                         const char *arg) {
  fprintf(stderr, "rein %s: ", cmd->name);
  rein_text_fputs(msg, stderr); /* may quote the argument */
  if (arg) {
    fputs(": ", stderr);
    rein_text_fputs(arg, stderr);
  }
  fprintf(stderr, "\n(see rein %s --help)\n", cmd->name);
  return REIN_EXIT_USAGE;
}

const char *rein_cli_suggest(const char *word, const char *const *cands,
                             size_t n) {
  return word && *word ? rein_suggest(word, cands, n) : NULL;
}

int rein_cli_check_word(const rein_cli_command *cmd, const char *what,
                        const char *word) {
  const char *const *w = cmd->operand_words ? cmd->operand_words() : NULL;
  size_t n = 0;
  while (w && w[n] && strcmp(w[n], word) != 0)
    n++;
  if (w && w[n]) return REIN_EXIT_OK;
  char known[256] = "", m[512];
  for (size_t i = 0, o = 0; w && w[i] && o < sizeof known; i++)
    o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "",
                          w[i]);
  const char *dym = rein_cli_suggest(word, w, n);
  if (dym)
    snprintf(m, sizeof m, "unknown %s: %.100s (did you mean '%s'? known: %s)",
             what, word, dym, known);
  else
    snprintf(m, sizeof m, "unknown %s: %.100s (known: %s)", what, word, known);
  return rein_cli_usage_error(cmd, m, NULL);
}

static int fail(rein_cli_parser *p, const char *msg, const char *arg,
                const char *dym) {
  char m[512];
  if (dym) snprintf(m, sizeof m, "%s: %s (did you mean '%s'?)", msg, arg, dym);
  rein_cli_usage_error(p->cmd, dym ? m : msg, dym ? NULL : arg);
  return REIN_CLI_ERROR;
}

/* -------------------------------------------------------------- parser */

void rein_cli_parser_init(rein_cli_parser *p, const rein_cli_command *cmd,
                          int argc, char **argv) {
  memset(p, 0, sizeof *p);
  p->cmd = cmd;
  p->argc = argc;
  p->argv = argv;
  p->i = 1;
}

static size_t count(const rein_cli_option *o) {
  size_t n = 0;
  while (o && o[n].name)
    n++;
  return n;
}

/* "--formt" -> "--format" among the command's long options and --help. */
static int unknown_long(rein_cli_parser *p, const char *name, size_t len) {
  const char *c[65];
  size_t n = 0;
  for (const rein_cli_option *o = p->cmd->options; o && o->name && n < 64; o++)
    c[n++] = o->name;
  c[n++] = "help";
  char w[64], arg[80];
  snprintf(w, sizeof w, "%.*s", (int)(len < 63 ? len : 63), name);
  snprintf(arg, sizeof arg, "--%s", w);
  const char *best = rein_cli_suggest(w, c, n);
  char dym[80];
  if (best) snprintf(dym, sizeof dym, "--%s", best);
  return fail(p, "unknown option", arg, best ? dym : NULL);
}

/* Is `v` one of the space-separated words of `list`? */
static bool in_list(const char *list, const char *v, const char **words,
                    size_t *n, size_t cap, char *store, size_t storecap) {
  bool found = false;
  size_t used = 0;
  *n = 0;
  for (const char *s = list; *s;) {
    while (*s == ' ')
      s++;
    size_t l = strcspn(s, " ");
    if (!l) break;
    if (strlen(v) == l && strncmp(s, v, l) == 0) found = true;
    if (*n < cap && used + l + 1 <= storecap) {
      memcpy(store + used, s, l);
      store[used + l] = 0;
      words[(*n)++] = store + used;
      used += l + 1;
    }
    s += l;
  }
  return found;
}

static void bound(char *b, size_t cap, double v) {
  snprintf(b, cap, "%.15g", v);
}

/* Check and convert the value of `o`; REIN_CLI_ERROR when it is wrong. */
static int convert(rein_cli_parser *p, const rein_cli_option *o, int idx) {
  const char *v = p->value;
  char m[400], lo[32], hi[32];
  bound(lo, sizeof lo, o->lo);
  bound(hi, sizeof hi, o->hi);
  bool bounded = o->lo < o->hi;
  switch (o->arg) {
  case REIN_CLI_CHOICE: {
    const char *w[32];
    char store[512];
    size_t n;
    if (in_list(o->choices, v, w, &n, 32, store, sizeof store)) return idx;
    char list[512];
    size_t off = 0;
    list[0] = 0;
    for (size_t k = 0; k < n && off < sizeof list; k++)
      off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
                              k ? ", " : "", w[k]);
    snprintf(m, sizeof m, "--%s must be one of %s", o->name, list);
    return fail(p, m, v, rein_cli_suggest(v, w, n));
  }
  case REIN_CLI_INT: {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno || (bounded && (n < o->lo || n > o->hi))) {
      if (bounded)
        snprintf(m, sizeof m, "--%s must be %s..%s", o->name, lo, hi);
      else
        snprintf(m, sizeof m, "--%s must be an integer", o->name);
      return fail(p, m, v, NULL);
    }
    p->n = n;
    return idx;
  }
  case REIN_CLI_NUMBER: {
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) ||
        (bounded && !(x >= o->lo && x <= o->hi))) {
      if (bounded)
        snprintf(m, sizeof m, "--%s must be %s..%s", o->name, lo, hi);
      else
        snprintf(m, sizeof m, "--%s must be a number", o->name);
      return fail(p, m, v, NULL);
    }
    p->x = x;
    return idx;
  }
  case REIN_CLI_DURATION: {
    char err[256];
    if (rein_cli_parse_duration(v, &p->n, err, sizeof err) != 0) {
      snprintf(m, sizeof m, "--%s: %s", o->name, err);
      return fail(p, m, NULL, NULL);
    }
    if (o->lo > 0 && (double)p->n < o->lo) {
      snprintf(m, sizeof m, "--%s must be > 0", o->name);
      return fail(p, m, v, NULL);
    }
    return idx;
  }
  case REIN_CLI_SIZE:
    if (rein_parse_size(v, &p->size) != REIN_OK || (double)p->size < o->lo) {
      char b[32];
      snprintf(m, sizeof m,
               "--%s must be a size of at least %s, e.g. 512MiB or 2GiB",
               o->name, rein_format_size((uint64_t)o->lo, b, sizeof b));
      return fail(p, m, v, NULL);
    }
    return idx;
  default:
    return idx;
  }
}

int rein_cli_next(rein_cli_parser *p) {
  p->value = NULL;
  if (p->i >= p->argc) return REIN_CLI_END;
  const char *a = p->argv[p->i++];
  if (p->operands_only || a[0] != '-' || a[1] == 0) {
    p->value = a;
    return REIN_CLI_OPERAND;
  }
  if (strcmp(a, "--") == 0) {
    p->operands_only = true;
    return rein_cli_next(p);
  }
  const rein_cli_option *opts = p->cmd->options;
  size_t n = count(opts);
  const rein_cli_option *o = NULL;
  const char *inline_v = NULL;
  if (a[1] == '-') { /* --name, --name=VALUE */
    const char *name = a + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    for (size_t k = 0; k < n && !o; k++)
      if (strlen(opts[k].name) == len && strncmp(opts[k].name, name, len) == 0)
        o = &opts[k];
    if (!o) return unknown_long(p, name, len);
    if (eq) inline_v = eq + 1;
  } else { /* -s, -sVALUE */
    for (size_t k = 0; k < n && !o; k++)
      if (opts[k].short_name && opts[k].short_name == a[1]) o = &opts[k];
    if (!o || (o->arg == REIN_CLI_FLAG && a[2]))
      return fail(p, "unknown option", a, NULL);
    if (a[2]) inline_v = a + 2;
  }
  int idx = (int)(o - opts);
  char m[96];
  if (o->arg == REIN_CLI_FLAG) {
    if (inline_v) {
      snprintf(m, sizeof m, "--%s takes no value", o->name);
      return fail(p, m, a, NULL);
    }
    return idx;
  }
  if (o->flags & REIN_CLI_OPTIONAL_VALUE) {
    p->value = inline_v;
    return inline_v ? convert(p, o, idx) : idx;
  }
  if (!inline_v) {
    if (p->i >= p->argc) {
      snprintf(m, sizeof m, "missing value for --%s", o->name);
      return fail(p, m, NULL, NULL);
    }
    inline_v = p->argv[p->i++];
  }
  p->value = inline_v;
  return convert(p, o, idx);
}

/* ------------------------------------------------------------ help text */

/* "-f, --format F" (or "    --json" beside short options). */
static int left(const rein_cli_option *o, bool shorts, char *b, size_t cap) {
  char s[8] = "";
  if (o->short_name)
    snprintf(s, sizeof s, "-%c, ", o->short_name);
  else if (shorts)
    snprintf(s, sizeof s, "    ");
  const char *mv = o->metavar ? o->metavar : "";
  if (o->flags & REIN_CLI_OPTIONAL_VALUE)
    return snprintf(b, cap, "%s--%s[=%s]", s, o->name, mv);
  return snprintf(b, cap, "%s--%s%s%s", s, o->name, *mv ? " " : "", mv);
}

/* Text with '\n' continuation lines, each after `indent` spaces. */
static void indented(FILE *out, const char *text, int indent) {
  for (const char *s = text; *s;) {
    size_t l = strcspn(s, "\n");
    fprintf(out, "%.*s\n", (int)l, s);
    s += l;
    if (*s == '\n' && s[1]) fprintf(out, "%*s", indent, "");
    if (*s) s++;
  }
}

static void block(FILE *out, const char *text) {
  if (!text || !*text) return;
  fputs(text, out);
  if (text[strlen(text) - 1] != '\n') fputc('\n', out);
}

void rein_cli_usage(const rein_cli_command *cmd, FILE *out) {
  if (cmd->usage) {
    fputs(cmd->usage, out);
    return;
  }
  fputs("usage: rein ", out);
  indented(out, cmd->synopsis ? cmd->synopsis : cmd->name,
           (int)strlen("usage: rein ") + (int)strlen(cmd->name) + 1);
  if (cmd->description) {
    fputc('\n', out);
    block(out, cmd->description);
  }
  const rein_cli_option *o = cmd->options;
  bool shorts = false;
  int w = 0;
  char b[96];
  for (size_t k = 0; o && o[k].name; k++)
    shorts = shorts || o[k].short_name;
  for (size_t k = 0; o && o[k].name; k++) {
    int l = left(&o[k], shorts, b, sizeof b);
    if (l <= 22 && l > w) w = l;
  }
  w += 4; /* two before, two after */
  fputc('\n', out);
  for (size_t k = 0; o && o[k].name; k++) {
    int l = left(&o[k], shorts, b, sizeof b);
    if (l + 4 > w)
      fprintf(out, "  %s\n%*s", b, w, "");
    else
      fprintf(out, "  %-*s", w - 2, b);
    indented(out, o[k].help ? o[k].help : "", w);
  }
  fprintf(out, "  %s%-*s%s\n", shorts ? "-h, " : "", w - 2 - (shorts ? 4 : 0),
          "--help", "print this help and exit");
  if (cmd->notes) {
    fputc('\n', out);
    block(out, cmd->notes);
  }
  if (cmd->exit_status) {
    fputs("\nexit: ", out);
    block(out, cmd->exit_status);
  }
}

/* -------------------------------------------------------------- colour */

bool rein_cli_colour(FILE *f) {
  const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
  if (nc && *nc) return false;
  if (term && strcmp(term, "dumb") == 0) return false;
  return isatty(fileno(f)) == 1;
}
