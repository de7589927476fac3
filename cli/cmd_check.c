/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_check.c: `rein check FILES|DIRS`: load every contract, resolve the
 * graph and run the rules, printing compiler-style diagnostics (or JSON, or
 * SARIF for code-scanning UIs).
 *
 * Exit codes follow the tool's convention: 0 clean (warnings allowed), 1 at
 * least one error-level finding, 2 usage or input errors (a malformed
 * contract is an input error: its file is reported and nothing is checked,
 * since rules over half a graph would mislead).
 */
#include "cli.h"
#include "rein/contract.h"
#include "rein/input.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: rein check [options] FILE|DIR|-...\n"
    "\n"
    "Check retry contracts across the whole service graph: every *.yaml,\n"
    "*.yml and *.json file under the given paths is one service version\n"
    "(`-` reads one from standard input).\n"
    "\n"
    "  --format F              text (default), json, or sarif (SARIF 2.1.0)\n"
    "  --disable R00N[,R00M]   skip rules (repeatable)\n"
    "  --max-amplification N   R004 threshold on the product of attempts\n"
    "                          along a path (default 10)\n"
    "  --explain R00N          print what a rule checks, an example and the\n"
    "                          fix, then exit\n"
    "  --quiet                 no summary line on stderr\n"
    "\n"
    "Rules: R001 key TTL < retry window (through key chains), R002\n"
    "non-idempotent retried, R003 backoff without jitter in a fleet, R004\n"
    "retry amplification, R005 fleet retry load > capacity, R006 schedule >\n"
    "deadline, R007 retrying non-retryable outcomes, R008 retry ratio above\n"
    "tolerance, R009 pinned version differs, R010 attempt timeout >= callee\n"
    "timeout. See docs/contracts.md.\n"
    "\n"
    "exit: 0 clean, 1 error-level findings, 2 usage or input errors\n";

static int bad(const char *msg, const char *arg) {
  fputs("rein check: ", stderr);
  rein_text_fputs(msg, stderr); /* may quote the argument */
  if (arg) fputs(": ", stderr);
  if (arg) rein_text_fputs(arg, stderr);
  fputs("\n(see rein check --help)\n", stderr);
  return REIN_EXIT_USAGE;
}

static int rule_number(const char *id) {
  const rein_contract_rule_info *r = rein_contract_rule(id);
  if (!r || r->id[0] != 'R') return 0;
  return atoi(r->id + 1);
}

static int explain(const char *id) {
  const rein_contract_rule_info *r = rein_contract_rule(id);
  if (!r) return bad("unknown rule (R001..R010, E001..E008)", id);
  printf("%s %s (%s)\n%s\n\n%s\n", r->id, r->name,
         rein_contract_severity_name(r->severity), r->summary,
         *r->explain ? r->explain : "An input error: see the diagnostic.");
  return REIN_EXIT_OK;
}

/* `-`: one contract from standard input, named <stdin>. */
static rein_status add_stdin(rein_contract_set *s) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) return REIN_ENOMEM;
  for (size_t r; (r = fread(buf + n, 1, cap - n, stdin)) > 0;) {
    n += r;
    if (n == cap) {
      if (cap >= (4u << 20)) break; /* the same limit as files */
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return REIN_ENOMEM;
      }
      buf = nb;
      cap *= 2;
    }
  }
  rein_status st = rein_contract_add_buffer(s, "<stdin>", buf, n);
  free(buf);
  return st;
}

static int run(int argc, char **argv) {
  rein_contract_format fmt = REIN_CONTRACT_FORMAT_TEXT;
  rein_contract_check_opts opts;
  rein_contract_check_opts_default(&opts);
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (!paths) return bad("out of memory", NULL);
  size_t n = 0;
  int quiet = 0, rc = REIN_EXIT_OK;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    char opt[64];
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
    bool inline_value = eq && (size_t)(eq - a) < sizeof opt;
    if (inline_value) { /* --format=json */
      memcpy(opt, a, (size_t)(eq - a));
      opt[eq - a] = 0;
      a = opt;
      v = eq + 1;
    }
    if (strcmp(a, "--") == 0) {
      for (i++; i < argc; i++)
        paths[n++] = argv[i];
      break;
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      paths[n++] = a;
      continue;
    }
    if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      quiet = 1;
      continue;
    }
    if (!v) {
      rc = bad("missing value for", a);
      goto out;
    }
    if (!inline_value) i++;
    if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0) {
      if (rein_contract_format_parse(v, &fmt) != REIN_OK) {
        rc = bad("unknown --format (text|json|sarif)", v);
        goto out;
      }
    } else if (strcmp(a, "--explain") == 0) {
      rc = explain(v);
      goto out;
    } else if (strcmp(a, "--disable") == 0) {
      char buf[256];
      snprintf(buf, sizeof buf, "%s", v);
      for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        int r = rule_number(tok);
        if (!r) {
          rc = bad("unknown rule for --disable (R001..R010)", tok);
          goto out;
        }
        opts.disabled |= REIN_CONTRACT_RULE_BIT(r);
      }
    } else if (strcmp(a, "--max-amplification") == 0) {
      char *end;
      double x = strtod(v, &end);
      if (*end || !(x >= 1 && x <= 1e9)) {
        rc = bad("--max-amplification must be a number >= 1", v);
        goto out;
      }
      opts.max_amplification = x;
    } else {
      rc = bad("unknown option", a);
      goto out;
    }
  }
  if (!n) {
    rc = bad("no contract files or directories given", NULL);
    goto out;
  }
  rein_contract_set *s = NULL;
  rein_status st = rein_contract_set_new(NULL, &s);
  for (size_t i = 0; i < n && st != REIN_ENOMEM; i++) {
    if (strcmp(paths[i], "-") == 0)
      st = add_stdin(s);
    else
      st = rein_contract_add_path(s, paths[i]);
  }
  if (st == REIN_ENOMEM || !s) {
    fprintf(stderr, "rein check: %s\n", rein_strerror(st));
    rein_contract_set_free(s);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  bool load_errors = rein_contract_has_load_errors(s);
  if (!load_errors && rein_contract_check(s, &opts) != REIN_OK) {
    fprintf(stderr, "rein check: out of memory\n");
    rein_contract_set_free(s);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  rein_contract_write(s, fmt, stdout);
  size_t errors = rein_contract_count(s, REIN_CONTRACT_ERROR);
  size_t warnings = rein_contract_count(s, REIN_CONTRACT_WARNING);
  if (!quiet && fmt == REIN_CONTRACT_FORMAT_TEXT)
    fprintf(stderr, "%s: %zu error%s, %zu warning%s in %zu contract%s\n",
            load_errors ? "input errors (rules not run)" : "rein check", errors,
            errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
            rein_contract_service_count(s),
            rein_contract_service_count(s) == 1 ? "" : "s");
  rc = load_errors ? REIN_EXIT_USAGE
       : errors    ? REIN_EXIT_FINDINGS
                   : REIN_EXIT_OK;
  rein_contract_set_free(s);
out:
  free(paths);
  return rc;
}

const rein_cli_command rein_cmd_check = {
    "check", "check retry contracts across the service graph (R001..R010)",
    usage, run};
