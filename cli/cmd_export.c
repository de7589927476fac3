/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_export.c: `rein export FORMAT CONTRACTS... [--caller C] [-o FILE]`:
 * write the retry settings of one caller's calls in another system's form
 * (FORMAT grpc: a gRPC service config JSON for the caller's channel;
 * envoy: an Envoy bootstrap with a route per call and a cluster per callee;
 * istio: a List of VirtualServices, one per callee host; gateway: a List
 * of Gateway API HTTPRoutes, one per callee Service, and
 * XBackendTrafficPolicies for ratio budgets; aws: an AWS shared config
 * file, a profile per call; linkerd: a List of ServiceProfiles, one per
 * callee; nginx: the services' server.admission blocks as
 * ngx_http_rein_module directives, export only).
 *
 * A thin front end over rein_interop_export (rein/interop.h): contracts are
 * loaded and must be free of load errors; every field the target cannot
 * express is a warning on stderr with the contract's file:line:col.
 */
#include "cli.h"
#include "lib_contract.h"
#include "rein/interop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_OUT, OPT_CALLER };

static const rein_cli_option options[] = {
    [OPT_OUT] = {"output", 'o', REIN_CLI_FILE, "FILE",
                 "write to FILE instead of stdout"},
    [OPT_CALLER] = {"caller", 0, REIN_CLI_STRING, "SERVICE",
                    "the service whose calls are exported (default: the\n"
                    "only service with calls); for nginx, the service\n"
                    "whose server side is exported (default: every one)"},
    {0}};

extern const rein_cli_command rein_cmd_export;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_export, msg, arg);
}

static bool in_list(const char *const *w, const char *word) {
  for (; w && *w; w++)
    if (strcmp(*w, word) == 0) return true;
  return false;
}

static int run(int argc, char **argv) {
  const char *out = NULL, *caller = NULL, *format = NULL;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  size_t n = 0;
  int rc = REIN_EXIT_OK;
  rein_contract_set *s = NULL;
  rein_interop *ix = NULL;
  char *text = NULL;
  if (!paths) return bad("out of memory", NULL);
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_export, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    if (o == OPT_OUT) {
      out = p.value;
    } else if (o == OPT_CALLER) {
      caller = p.value;
    } else if (o == REIN_CLI_OPERAND) {
      if (!format)
        format = p.value;
      else
        paths[n++] = p.value;
    } else {
      rc = REIN_EXIT_USAGE;
      goto done;
    }
  }
  if (!format || !n) {
    rc = bad("need a format and contract paths", NULL);
    goto done;
  }
  /* a format that imports but does not export (sdk) goes on to
   * rein_interop_export, whose error says why */
  if (!in_list(rein_interop_formats(), format) &&
      rein_cli_check_word(&rein_cmd_export, "format", format) != REIN_EXIT_OK) {
    rc = REIN_EXIT_USAGE;
    goto done;
  }
  s = rein_cli_load_contracts("export", paths, n);
  if (!s) {
    rc = REIN_EXIT_USAGE;
    goto done;
  }
  if (rein_interop_new(NULL, &ix) != REIN_OK) {
    rc = bad("out of memory", NULL);
    goto done;
  }
  size_t len = 0;
  rein_status st = rein_interop_export(ix, format, s, caller, &text, &len);
  rein_interop_write_diags(ix, stderr);
  if (st != REIN_OK) {
    fprintf(stderr, "rein export: %s: nothing written\n", rein_strerror(st));
    rc = REIN_EXIT_USAGE;
    goto done;
  }
  if (!out) {
    if (fwrite(text, 1, len, stdout) != len) rc = REIN_EXIT_USAGE;
    goto done;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0 ||
      rename(tmp, out) != 0) {
    fprintf(stderr, "rein export: cannot write %s: %s\n", out, strerror(errno));
    unlink(tmp);
    rc = REIN_EXIT_USAGE;
  }
done:
  if (ix) rein_free(NULL, text);
  rein_interop_free(ix);
  rein_contract_set_free(s);
  free(paths);
  return rc;
}

const rein_cli_command rein_cmd_export = {
    .name = "export",
    .summary = "write gRPC service configs, Envoy configs, Istio "
               "VirtualServices, Gateway API HTTPRoutes, Linkerd "
               "ServiceProfiles, AWS config files and nginx module configs "
               "from rein contracts",
    .run = run,
    .options = options,
    .synopsis = "export grpc|envoy|istio|gateway|linkerd|aws|nginx [options] "
                "CONTRACT_DIR|FILE...",
    .description =
        "Writes the retry settings of one caller's calls in another "
        "system's form. FORMAT grpc writes a gRPC service config (JSON) "
        "for the caller's channel: a methodConfig per call (name, timeout, "
        "retryPolicy) and retryThrottling from a token-bucket budget. "
        "FORMAT envoy writes an Envoy bootstrap (YAML): a virtual host per "
        "callee with a route per call (timeout, retry_policy) and a "
        "cluster per callee with a retry_budget from a ratio budget. "
        "FORMAT istio writes a List of Istio VirtualServices, one per "
        "callee host, with an HTTP route per call (timeout, retries). "
        "FORMAT gateway writes a List of Gateway API HTTPRoutes, one per "
        "callee Service, with a rule per call (timeouts, retry), and an "
        "XBackendTrafficPolicy per Service from a ratio budget. FORMAT "
        "linkerd writes a List of Linkerd ServiceProfiles, one per callee, "
        "with a route per call (isRetryable, timeout, failure classes) and "
        "the retryBudget from a ratio budget. FORMAT aws writes an AWS "
        "shared config file, a [profile NAME] per call (retry_mode, "
        "max_attempts: legacy when the call is exactly botocore's legacy "
        "mode, else standard). FORMAT sdk has no export: a contract does "
        "not say which client library runs a call. FORMAT nginx writes the "
        "server side instead, from the contracts' server.admission blocks: "
        "a rein_zone line per service for nginx's http {} block and a "
        "server {} with a location per operation path (rein_admit, the "
        "signal directives, proxy_pass) and rein_metrics, for "
        "ngx_http_rein_module (docs/nginx.md).\n\n"
        "Every field the target cannot express is a warning on stderr "
        "with the contract's file:line:col: for gRPC ratio and quota "
        "budgets, jitter other than full, HTTP statuses and transport "
        "conditions in `when`, more than 5 attempts, windows, breakers; "
        "for Envoy jitter other than full, multipliers other than 2, "
        "token-bucket and quota budgets, windows, breakers, throttles and "
        "key TTLs; for Istio all of Envoy's and any budget, signal or cap "
        "other than 10 x base; for Gateway API backoff growth, caps and "
        "jitter, gRPC statuses, signals and non-ratio budgets; for Linkerd "
        "attempt counts, back-off, attempt timeouts and non-HTTP "
        "conditions; for AWS everything but the attempts that differs "
        "from standard mode (back-off, `when`, budgets, timeouts); "
        "for nginx times below a millisecond, aimd_backoff "
        "other than 0.9, a retry_after_spread past two decimals, a missing "
        "listen or upstream. "
        "docs/interop.md lists what maps to what.",
    .exit_status = "0 written (warnings may have been printed), 2 usage or "
                   "input error",
    .operands = REIN_CLI_FILE,
    .operand_words = rein_interop_export_formats,
};
