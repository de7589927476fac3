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
#include "lib_mesh.h"
#include "rein/contract.h"
#include "rein/input.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
  OPT_FORMAT,
  OPT_DISABLE,
  OPT_MAX_AMPLIFICATION,
  OPT_EXPLAIN,
  OPT_QUIET,
  OPT_FROM,
  OPT_OVERLAY,
};

static const rein_cli_option options[] = {
    [OPT_FORMAT] = {"format", 'f', REIN_CLI_CHOICE, "F",
                    "text (default), json, or sarif (SARIF 2.1.0)",
                    "text json sarif"},
    [OPT_DISABLE] = {"disable", 0, REIN_CLI_STRING, "R00N[,R00M]",
                     "skip rules (repeatable)"},
    [OPT_MAX_AMPLIFICATION] = {"max-amplification", 0, REIN_CLI_NUMBER, "N",
                               "R004 threshold on the product of attempts\n"
                               "along a path (default 10)",
                               NULL, 1, 1e9},
    [OPT_EXPLAIN] = {"explain", 0, REIN_CLI_STRING, "R00N",
                     "print what a rule checks, an example and the\n"
                     "fix, then exit"},
    [OPT_QUIET] = {"quiet", 'q', REIN_CLI_FLAG, NULL,
                   "no summary line, no import warnings on stderr"},
    [OPT_FROM] = {"from", 0, REIN_CLI_STRING, "FORMAT",
                  "read every file that is not a rein contract as\n"
                  "FORMAT (grpc, envoy, istio, gateway, linkerd,\n"
                  "aws, sdk; default: by content)"},
    [OPT_OVERLAY] = {"overlay", 0, REIN_CLI_FILE, "FILE",
                     "the rein overlay of the configs (default:\n"
                     "rein-overlay.yaml at the top of each DIR)"},
    {0}};

extern const rein_cli_command rein_cmd_check;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_check, msg, arg);
}

static bool known_format(const char *f) {
  for (const char *const *w = rein_cli_mesh_formats(); *w; w++)
    if (!strcmp(*w, f)) return true;
  return false;
}

static int rule_number(const char *id) {
  const rein_contract_rule_info *r = rein_contract_rule(id);
  if (!r || r->id[0] != 'R') return 0;
  return atoi(r->id + 1);
}

static int explain(const char *id) {
  const rein_contract_rule_info *r = rein_contract_rule(id);
  if (!r) return bad("unknown rule (R001..R013, E001..E008)", id);
  printf("%s %s (%s)\n%s\n\n%s\n", r->id, r->name,
         rein_contract_severity_name(r->severity), r->summary,
         *r->explain ? r->explain : "An input error: see the diagnostic.");
  return REIN_EXIT_OK;
}

/* `-`: one contract (or config) from standard input, named <stdin>. */
static rein_status add_stdin(rein_contract_set *s, rein_cli_mesh *mesh) {
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
  rein_status st = rein_cli_mesh_add_buffer(mesh, s, "<stdin>", buf, n);
  free(buf);
  return st;
}

/* The text diagnostics with each severity word in colour (error red,
 * warning magenta, note cyan, bold): the library's writer fills a memory
 * stream and the word after "FILE:LINE:COL: " (or a "  note: " line's
 * first) is wrapped in SGR codes. Every byte from a file reaches this
 * already escaped by the writer, so the only escapes out are these. */
static void write_coloured(const rein_contract_set *s) {
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  if (!m) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stdout);
    return;
  }
  rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, m);
  fclose(m);
  static const struct {
    const char *word, *sgr;
  } sev[] = {{"error", "1;31"}, {"warning", "1;35"}, {"note", "1;36"}};
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char *hit = NULL;
    size_t k = 0, wl = 0;
    if (strncmp(line, "  note: ", 8) == 0) {
      hit = line + 2, k = 2, wl = 4;
    } else {
      for (size_t j = 0; j < sizeof sev / sizeof sev[0]; j++) {
        char pat[16];
        snprintf(pat, sizeof pat, ": %s[", sev[j].word);
        for (char *h = strstr(line, pat); h; h = strstr(h + 1, pat))
          if (h > line && isdigit((unsigned char)h[-1])) {
            if (!hit || h + 2 < hit)
              hit = h + 2, k = j, wl = strlen(sev[j].word);
            break;
          }
      }
    }
    if (hit)
      printf("%.*s\033[%sm%.*s\033[0m%s\n", (int)(hit - line), line, sev[k].sgr,
             (int)wl, hit, hit + wl);
    else
      printf("%s\n", line);
    line = nl ? nl + 1 : NULL;
  }
  free(buf);
}

static int run(int argc, char **argv) {
  rein_contract_format fmt = REIN_CONTRACT_FORMAT_TEXT;
  rein_contract_check_opts opts;
  rein_contract_check_opts_default(&opts);
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (!paths) return bad("out of memory", NULL);
  size_t n = 0;
  int quiet = 0, rc = REIN_EXIT_OK;
  const char *from = NULL, *overlay = NULL;
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_check, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    switch (o) {
    case REIN_CLI_OPERAND:
      paths[n++] = p.value;
      break;
    case OPT_QUIET:
      quiet = 1;
      break;
    case OPT_FROM:
      from = p.value;
      if (!known_format(from)) {
        rc = bad("--from: unknown format (see rein import --help)", from);
        goto out;
      }
      break;
    case OPT_OVERLAY:
      overlay = p.value;
      break;
    case OPT_FORMAT:
      rein_contract_format_parse(p.value, &fmt); /* a choice: checked */
      break;
    case OPT_EXPLAIN:
      rc = explain(p.value);
      goto out;
    case OPT_DISABLE: {
      char buf[256];
      snprintf(buf, sizeof buf, "%s", p.value);
      for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        int r = rule_number(tok);
        if (!r) {
          rc = bad("unknown rule for --disable (R001..R013)", tok);
          goto out;
        }
        opts.disabled |= REIN_CONTRACT_RULE_BIT(r);
      }
      break;
    }
    case OPT_MAX_AMPLIFICATION:
      opts.max_amplification = p.x;
      break;
    default: /* REIN_CLI_ERROR: printed */
      rc = REIN_EXIT_USAGE;
      goto out;
    }
  }
  if (!n) {
    rc = bad("no contract files or directories given", NULL);
    goto out;
  }
  rein_contract_set *s = NULL;
  rein_status st = rein_contract_set_new(NULL, &s);
  rein_cli_mesh *mesh = rein_cli_mesh_new("check", from, quiet);
  if (!mesh) st = REIN_ENOMEM;
  if (st == REIN_OK)
    st = rein_cli_mesh_attach(mesh, s, overlay, paths, n);
  for (size_t i = 0; i < n && st != REIN_ENOMEM; i++) {
    if (strcmp(paths[i], "-") == 0)
      st = add_stdin(s, mesh);
    else
      st = rein_contract_add_path(s, paths[i]);
  }
  if (st == REIN_ENOMEM || !s) {
    fprintf(stderr, "rein check: %s\n", rein_strerror(st));
    rein_contract_set_free(s);
    rein_cli_mesh_free(mesh);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  bool load_errors = rein_contract_has_load_errors(s);
  if (!load_errors && rein_contract_check(s, &opts) != REIN_OK) {
    fprintf(stderr, "rein check: out of memory\n");
    rein_contract_set_free(s);
    rein_cli_mesh_free(mesh);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  if (fmt == REIN_CONTRACT_FORMAT_TEXT && rein_cli_colour(stdout))
    write_coloured(s);
  else
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
  rein_cli_mesh_free(mesh);
out:
  free(paths);
  return rc;
}

const rein_cli_command rein_cmd_check = {
    .name = "check",
    .summary = "check retry contracts across the service graph (R001..R013)",
    .run = run,
    .options = options,
    .synopsis = "check [options] FILE|DIR|-...",
    .description =
        "Check retry contracts across the whole service graph: every *.yaml,\n"
        "*.yml and *.json file under the given paths is one service version\n"
        "(`-` reads one from standard input). Envoy, gRPC service config,\n"
        "Istio, Gateway API, Linkerd and SDK files among them (an AWS config\n"
        "file is read when named) are imported (detected by content, or\n"
        "--from) and checked with the contracts; their findings name the\n"
        "config's own file:line:col. A rein-overlay.yaml says which service\n"
        "each config configures and which operation its routes call\n"
        "(docs/interop.md, \"Checking a mesh\").\n",
    .notes =
        "Rules: R001 key TTL < retry window (through key chains), R002\n"
        "non-idempotent retried, R003 backoff without jitter in a fleet, R004\n"
        "retry amplification, R005 fleet retry load > capacity, R006 schedule "
        ">\n"
        "deadline, R007 retrying non-retryable outcomes, R008 retry ratio "
        "above\n"
        "tolerance, R009 pinned version differs, R010 attempt timeout >= "
        "callee\n"
        "timeout, R011 hedging past capacity or on a non-idempotent call,\n"
        "R012 a shedding callee's signals ignored, R013 re-publishes past a\n"
        "broker's deduplication window or a consumer without an inbox. See\n"
        "docs/contracts.md.\n"
        "\n"
        "On a terminal the severity words are in colour, unless NO_COLOR is\n"
        "set.\n",
    .exit_status = "0 clean, 1 error-level findings, 2 usage or input errors\n",
    .operands = REIN_CLI_FILE,
};
