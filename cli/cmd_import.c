/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_import.c: `rein import FORMAT FILE... [-o DIR]`: write rein contracts
 * from the retry settings a team already runs (FORMAT grpc: a gRPC service
 * config JSON; envoy: an Envoy RouteConfiguration, Listener, Bootstrap or
 * xDS resources file, YAML or JSON; istio: an Istio VirtualService or a
 * List of them; gateway: Gateway API HTTPRoutes and XBackendTrafficPolicies;
 * linkerd: Linkerd ServiceProfiles; aws: an AWS shared config file; sdk:
 * rein's YAML naming SDK clients and their overrides).
 *
 * A thin front end over rein_interop (rein/interop.h): every file is
 * imported first, each into its own contract (the caller is named after
 * the file, or --caller); the diagnostics go to stderr as
 * file:line:col: severity: field: message. Only when no file had an error
 * is anything written, to DIR/<caller>.yaml (through a temporary file and
 * a rename) or, for one file without -o, to stdout.
 */
#include "cli.h"
#include "rein/interop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { OPT_OUT, OPT_CALLER, OPT_VERSION };

static const rein_cli_option options[] = {
    [OPT_OUT] = {"output", 'o', REIN_CLI_DIR, "DIR",
                 "write one contract per file into DIR (created if missing)"},
    [OPT_CALLER] = {"caller", 0, REIN_CLI_STRING, "SERVICE",
                    "the calling service of the contract (one file only;\n"
                    "default: the file's name without its extension)"},
    [OPT_VERSION] = {"version", 0, REIN_CLI_STRING, "V",
                     "the contract's version (default 1)"},
    {0}};

extern const rein_cli_command rein_cmd_import;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_import, msg, arg);
}

static int write_file(const char *dir, const char *name, const char *text,
                      size_t len) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0 ||
      rename(tmp, path) != 0) {
    fprintf(stderr, "rein import: cannot write %s: %s\n", path,
            strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

static int run(int argc, char **argv) {
  const char *out = NULL, *caller = NULL, *version = NULL, *format = NULL;
  const char **files = calloc((size_t)argc, sizeof *files);
  rein_interop **ix = calloc((size_t)argc, sizeof *ix);
  char **text = calloc((size_t)argc, sizeof *text);
  size_t *tlen = calloc((size_t)argc, sizeof *tlen);
  int rc = REIN_EXIT_OK;
  size_t n = 0;
  if (!files || !ix || !text || !tlen) {
    rc = bad("out of memory", NULL);
    goto out;
  }
  rein_cli_parser p;
  rein_cli_parser_init(&p, &rein_cmd_import, argc, argv);
  for (int o; (o = rein_cli_next(&p)) != REIN_CLI_END;) {
    if (o == OPT_OUT) {
      out = p.value;
    } else if (o == OPT_CALLER) {
      caller = p.value;
    } else if (o == OPT_VERSION) {
      version = p.value;
    } else if (o == REIN_CLI_OPERAND) {
      if (!format)
        format = p.value;
      else
        files[n++] = p.value;
    } else {
      rc = REIN_EXIT_USAGE;
      goto out;
    }
  }
  if (!format || !n) {
    rc = bad("need a format and at least one file", NULL);
    goto out;
  }
  if (rein_cli_check_word(&rein_cmd_import, "format", format) != REIN_EXIT_OK) {
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  if (n > 1 && caller) {
    rc = bad("--caller names one contract: give one file", NULL);
    goto out;
  }
  if (n > 1 && !out) {
    rc = bad("several files make several contracts: give -o DIR", NULL);
    goto out;
  }
  rein_interop_config c;
  rein_interop_config_default(&c);
  c.caller = caller;
  c.version = version;
  bool failed = false;
  for (size_t i = 0; i < n; i++) {
    rein_status st = rein_interop_new(&c, &ix[i]);
    if (st == REIN_EINVAL) {
      rc = bad("--caller: use letters, digits, - and _ (at most 128); "
               "--version: 1..64 characters",
               caller);
      goto out;
    }
    if (st != REIN_OK) {
      rc = bad("out of memory", NULL);
      goto out;
    }
    st = rein_interop_import_file(ix[i], format, files[i]);
    rein_interop_write_diags(ix[i], stderr);
    if (st == REIN_ENOMEM) {
      rc = bad("out of memory", NULL);
      goto out;
    }
    if (st != REIN_OK ||
        rein_interop_write_contract(ix[i], &text[i], &tlen[i]) != REIN_OK)
      failed = true;
    for (size_t j = 0; !failed && j < i; j++)
      if (strcmp(rein_interop_caller(ix[i]), rein_interop_caller(ix[j])) == 0) {
        fprintf(stderr,
                "rein import: %s and %s both make the contract of %s: "
                "rename one\n",
                files[j], files[i], rein_interop_caller(ix[i]));
        failed = true;
      }
  }
  if (failed) {
    fprintf(stderr, "rein import: nothing written\n");
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  if (!out) {
    if (fwrite(text[0], 1, tlen[0], stdout) != tlen[0]) rc = REIN_EXIT_USAGE;
    goto out;
  }
  if (mkdir(out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "rein import: cannot create %s: %s\n", out,
            strerror(errno));
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (write_file(out, rein_interop_caller(ix[i]), text[i], tlen[i]) != 0)
      rc = REIN_EXIT_USAGE;
out:
  for (size_t i = 0; ix && i < n; i++) {
    if (text) rein_free(NULL, text[i]);
    rein_interop_free(ix[i]);
  }
  free(files);
  free(ix);
  free(text);
  free(tlen);
  return rc;
}

const rein_cli_command rein_cmd_import = {
    .name = "import",
    .summary = "write rein contracts from gRPC service configs, Envoy "
               "route configs, Istio VirtualServices, Gateway API "
               "HTTPRoutes, Linkerd ServiceProfiles, AWS config files and "
               "SDK defaults",
    .run = run,
    .options = options,
    .synopsis = "import grpc|envoy|istio|gateway|linkerd|aws|sdk [options] "
                "FILE...",
    .description =
        "Reads retry settings a team already runs and writes them as rein "
        "contracts, one per file, through rein's one policy model. FORMAT "
        "grpc reads a gRPC service config (JSON): methodConfig[] (name, "
        "timeout, retryPolicy) and retryThrottling. FORMAT envoy reads an "
        "Envoy RouteConfiguration, Listener, Bootstrap or xDS resources "
        "file (YAML or JSON): each route to a cluster is a call (its retry "
        "policy, or its virtual host's; its timeout), with the cluster's "
        "retry budget. FORMAT istio reads an Istio VirtualService (or a "
        "List of them), YAML or JSON: each destination host of each HTTP "
        "route is a call (retries: attempts, perTryTimeout, retryOn, "
        "backoff; the route's timeout). FORMAT gateway reads Kubernetes "
        "Gateway API HTTPRoutes (several documents or a List), YAML or "
        "JSON: each backendRef of each rule is a call (rules[].retry: "
        "attempts, codes, backoff; rules[].timeouts), with the ratio "
        "budget of an XBackendTrafficPolicy (GEP-3388) of the same file "
        "targeting its Service. FORMAT linkerd reads Linkerd "
        "ServiceProfiles: each route is a call (isRetryable, timeout, "
        "responseClasses as retryable statuses, method and pathRegex as "
        "its name) with the profile's retryBudget. FORMAT aws reads an AWS "
        "shared config file (~/.aws/config, INI): each [default] or "
        "[profile NAME] is a call to aws.NAME with its retry_mode "
        "(legacy, standard, adaptive) and max_attempts, and the SDKs' "
        "published back-off and retry quota. FORMAT sdk reads rein's "
        "sdk_clients YAML: each client names its SDK (aws, "
        "google-api-core, go-retryablehttp), version, callee and the "
        "settings it overrides; the rest take the SDK's published "
        "defaults. Each call keeps its "
        "origin "
        "(file:line:col and method or route) in an `origin:` field.\n\n"
        "A gRPC hedgingPolicy becomes the contract's hedge block; every "
        "field rein cannot represent (Envoy's hedge_policy, waitForReady, "
        "host predicates, retriable headers, ...) is a warning naming it; "
        "malformed input, wrong types and unknown fields are errors with "
        "file:line:col, and then nothing is written. docs/interop.md lists "
        "what maps to what.",
    .exit_status = "0 written (warnings may have been printed), 2 usage or "
                   "input error (nothing written)",
    .operands = REIN_CLI_FILE,
    .operand_words = rein_interop_formats,
};
