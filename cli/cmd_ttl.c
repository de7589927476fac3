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

#include <stdlib.h>
#include <string.h>

enum { OPT_JSON };

static const rein_cli_option options[] = {
    [OPT_JSON] = {"json", 0, REIN_CLI_FLAG, NULL,
                  "print the rows as a JSON array"},
    {0}};

extern const rein_cli_command rein_cmd_ttl;

/* Print `s` as a JSON string. */
static void jstr(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p < 0x20)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
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
      printf("%s\n{\"operation\":", i ? "," : "");
      jstr(op);
      printf(",\"declared_ns\":%lld,\"required_ns\":%lld,\"status\":\"%s\","
             "\"chain\":",
             (long long)t[i].declared_ns, (long long)t[i].required_ns, status);
      jstr(t[i].chain);
      printf(",\"file\":");
      jstr(t[i].loc.file);
      printf(",\"line\":%u}", t[i].loc.line);
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
