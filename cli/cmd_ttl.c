/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_ttl.c: `rein ttl FILE|DIR...`: for every operation that deduplicates
 * by idempotency key, the smallest key TTL that covers every caller's retry
 * window (following keys passed through or derived across services), beside
 * the declared one.
 *
 * This is the number a team publishes in Idempotency-Key-Retention and
 * versions in the contract; R001 fires exactly where "declared" < "needed".
 */
#include "cli.h"
#include "lib_contract.h"
#include "rein/contract.h"
#include "rein/input.h"
#include "rein/json.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_JSON };

static const rein_cli_option options[] = {
    [OPT_JSON] = {"json", 0, REIN_CLI_FLAG, NULL,
                  "print the rows as a JSON array"},
    {0}};

extern const rein_cli_command rein_cmd_ttl;

/* One row of --json, in the documented member order. Names and the file
 * come from the contracts: rein_json_string keeps the output UTF-8. */
static json_t *json_row(const rein_contract_ttl *t, const char *op,
                        const char *status) {
  json_t *o = json_object();
  if (rein_json_set(o, "operation", rein_json_string(op)) ||
      rein_json_set(o, "declared_ns", json_integer(t->declared_ns)) ||
      rein_json_set(o, "required_ns", json_integer(t->required_ns)) ||
      rein_json_set(o, "status", json_string(status)) ||
      rein_json_set(o, "chain", rein_json_string(t->chain)) ||
      rein_json_set(o, "file", rein_json_string(t->loc.file)) ||
      rein_json_set(o, "line", json_integer(t->loc.line))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static int run(int argc, char **argv) {
  int json = 0;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (!paths) return REIN_EXIT_USAGE;
  size_t n = 0;
  int rc = REIN_EXIT_OK;
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_ttl, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    if (o == OPT_JSON) {
      json = 1;
    } else if (o == REIN_CLI_OPERAND) {
      paths[n++] = p.value;
    } else { /* REIN_CLI_ERROR: printed */
      rc = REIN_EXIT_USAGE;
      goto out;
    }
  }
  if (!n) {
    rc = rein_cli_usage_error(&rein_cmd_ttl, "no contract paths given", NULL);
    goto out;
  }
  rein_contract_set *s = rein_cli_load_contracts("ttl", paths, n);
  if (!s) {
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  const rein_contract_ttl *t;
  size_t nt;
  if (rein_contract_ttls(s, &t, &nt) != REIN_OK) {
    fprintf(stderr, "rein ttl: out of memory\n");
    rein_contract_set_free(s);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  if (!json)
    printf("%-36s %10s %10s  %-6s %s\n", "operation", "declared", "needed",
           "status", "longest chain");
  else
    printf("[");
  for (size_t i = 0; i < nt; i++) {
    char op[160], d[32], r[32];
    snprintf(op, sizeof op, "%s.%s", t[i].service, t[i].operation);
    bool short_ = t[i].required_ns > t[i].declared_ns;
    if (short_) rc = REIN_EXIT_FINDINGS;
    const char *status = !t[i].required_ns ? "unused" : short_ ? "SHORT" : "ok";
    if (json) {
      /* one row at a time: the array's frame is ours */
      fputs(i ? ",\n" : "\n", stdout);
      if (rein_json_put(stdout, json_row(&t[i], op, status), REIN_JSON_FLAGS)) {
        fprintf(stderr, "rein ttl: out of memory or write error\n");
        rc = REIN_EXIT_USAGE;
        break;
      }
    } else {
      char eop[480], ech[1024]; /* names from the files: escaped */
      rein_text_escape(eop, sizeof eop, op);
      rein_text_escape(ech, sizeof ech, t[i].chain);
      printf("%-36s %10s %10s  %-6s %s\n", eop,
             t[i].declared_ns
                 ? rein_contract_format_duration(t[i].declared_ns, d, sizeof d)
                 : "-",
             t[i].required_ns
                 ? rein_contract_format_duration(t[i].required_ns, r, sizeof r)
                 : "-",
             status, ech);
    }
  }
  if (json) printf("\n]\n");
  rein_contract_set_free(s);
out:
  free(paths);
  return rc;
}

const rein_cli_command rein_cmd_ttl = {
    .name = "ttl",
    .summary = "minimum idempotency-key TTL per operation, through key chains",
    .run = run,
    .options = options,
    .synopsis = "ttl [--json] FILE|DIR...",
    .description =
        "For each operation with idempotency: key, print the declared "
        "key_ttl,\n"
        "the minimum TTL covering every caller's retry window (summed along\n"
        "pass-through and derived keys), and the chain that needs it.\n",
    .exit_status = "0 every TTL covers its callers, 1 some TTL is too short,\n"
                   "2 usage or input error\n",
    .operands = REIN_CLI_FILE,
};
