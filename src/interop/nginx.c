/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nginx.c: `rein export nginx`: the server side of services (their
 * contracts' server.admission blocks, rein/contract.h) as directives of
 * ngx_http_rein_module (nginx/, docs/nginx.md): one `rein_zone` per
 * service for the http {} block, and a `server {}` with a location per
 * operation path (`rein_admit`, the signal directives, `proxy_pass`) and a
 * `location = /metrics` (`rein_metrics`). Export only: nginx
 * configuration is not read back.
 *
 * The design choice: every value is written explicitly, defaults
 * included, in the module's own grammar (nginx times, `rate=Q/Ws`,
 * on/off), so the snippet says what the contract says without relying on
 * the module's defaults staying the contract's. A value the module's
 * grammar cannot say exactly (sub-millisecond times, aimd_backoff, a
 * spread past two decimals) is a warning naming the contract's
 * file:line:col, as the other exporters do, and the nearest value the
 * module takes is written. The contract loader has already checked every
 * value with rein_admit_new.
 */
#include "interop_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void nwarn(rein_interop *ix, const rein_contract_admission *a,
                  rein_contract_adm_field f, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void nwarn(rein_interop *ix, const rein_contract_admission *a,
                  rein_contract_adm_field f, const char *field,
                  const char *fmt, ...) {
  rein_contract_loc loc = a->locs[f].line ? a->locs[f] : a->loc;
  char fp[128];
  snprintf(fp, sizeof fp, "server.admission.%s", field);
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, REIN_INTEROP_WARNING, loc, fp, fmt, ap);
  va_end(ap);
}

/* ns as an nginx time: the largest of h, m, s, ms that divides it; a
 * value below a millisecond's precision is rounded up (with a warning). */
static void ntime(rein_interop *ix, FILE *f, const rein_contract_admission *a,
                  rein_contract_adm_field fld, const char *name, int64_t ns) {
  const int64_t MS = REIN_NS_PER_MS, S = REIN_NS_PER_S;
  if (ns % MS) {
    int64_t up = (ns / MS + 1) * MS;
    nwarn(ix, a, fld, name,
          "%lld ns: nginx times are whole milliseconds: %lldms written",
          (long long)ns, (long long)(up / MS));
    ns = up;
  }
  if (ns == 0)
    fputs("0s", f);
  else if (ns % (3600 * S) == 0)
    fprintf(f, "%lldh", (long long)(ns / (3600 * S)));
  else if (ns % (60 * S) == 0)
    fprintf(f, "%lldm", (long long)(ns / (60 * S)));
  else if (ns % S == 0)
    fprintf(f, "%llds", (long long)(ns / S));
  else
    fprintf(f, "%lldms", (long long)(ns / MS));
}

static const char *onoff(bool b) {
  return b ? "on" : "off";
}

/* The rein_zone line of one service. */
static void write_zone(rein_interop *ix, FILE *f,
                       const rein_contract_admission *a) {
  const rein_admit_config *c = &a->admit;
  static const char *const dr[] = {"never", "retries", "overloaded"};
  fprintf(f, "rein_zone %s limit=%u", c->name, c->limit);
  if (c->adaptive) {
    fprintf(f, " adaptive limit_min=%u limit_max=%u aimd_latency=",
            c->limit_min, c->limit_max);
    ntime(ix, f, a, REIN_CONTRACT_ADM_AIMD_LATENCY, "aimd_latency",
          c->aimd_latency_ns);
    if (c->aimd_backoff != 0.9)
      nwarn(ix, a, REIN_CONTRACT_ADM_AIMD_BACKOFF, "aimd_backoff",
            "%g cannot be expressed: the nginx module's adaptive limit "
            "backs off by 0.9",
            c->aimd_backoff);
  }
  fprintf(f, "\n          queue=%u retry_queue=%u target=", c->queue_max,
          c->retry_queue_max);
  ntime(ix, f, a, REIN_CONTRACT_ADM_TARGET, "target", c->target_ns);
  fputs(" interval=", f);
  ntime(ix, f, a, REIN_CONTRACT_ADM_INTERVAL, "interval", c->interval_ns);
  fputs(" max_wait=", f);
  ntime(ix, f, a, REIN_CONTRACT_ADM_MAX_WAIT, "max_wait", c->max_wait_ns);
  fprintf(f, " lifo=%s\n          retry_after_min=",
          onoff(c->lifo_when_overloaded));
  ntime(ix, f, a, REIN_CONTRACT_ADM_RETRY_AFTER_MIN, "retry_after_min",
        c->retry_after_min_ns);
  fputs(" retry_after_max=", f);
  ntime(ix, f, a, REIN_CONTRACT_ADM_RETRY_AFTER_MAX, "retry_after_max",
        c->retry_after_max_ns);
  /* The module reads two decimals. */
  double sp = floor(c->retry_after_spread * 100 + 0.5) / 100;
  if (fabs(sp - c->retry_after_spread) > 1e-9)
    nwarn(ix, a, REIN_CONTRACT_ADM_RETRY_AFTER_SPREAD, "retry_after_spread",
          "%g: the nginx module reads two decimals: %.2f written",
          c->retry_after_spread, sp);
  fprintf(f, " retry_after_spread=%.2f", sp);
  fputs(" rate_window=", f);
  ntime(ix, f, a, REIN_CONTRACT_ADM_RATE_WINDOW, "rate_window",
        c->rate_window_ns);
  fputs("\n         ", f);
  if (c->rl_quota > 0)
    fprintf(f, " rate=%u/%llds policy=%s", c->rl_quota,
            (long long)(c->rl_window_ns / REIN_NS_PER_S), c->rl_policy);
  fprintf(f, " dont_retry=%s;\n", dr[c->dont_retry]);
}

/* A location admitted through a's zone. */
static void write_location(FILE *f, const rein_contract_admission *a,
                           const char *path, const char *op) {
  fprintf(f, "\n    # %s%s%s\n    location %s {\n", a->service, op ? "." : "",
          op ? op : " (every path)", path);
  fprintf(f,
          "        rein_admit %s;\n"
          "        rein_attempt_header %s;\n"
          "        rein_shed_status %u;\n"
          "        rein_rate_limit_status %u;\n"
          "        rein_ratelimit_headers %s;\n"
          "        rein_dont_retry_header %s;\n",
          a->admit.name, a->attempt_header, a->shed_status,
          a->rate_limit_status, onoff(a->ratelimit_headers),
          onoff(a->dont_retry_header));
  if (a->upstream) fprintf(f, "        proxy_pass %s;\n", a->upstream);
  fputs("    }\n", f);
}

static rein_status nginx_export(rein_interop *ix, const rein_contract_set *s,
                                const char *service, char **out, size_t *len) {
  rein_contract_loc none = {"", 0, 0};
  size_t n = rein_contract_admission_count(s), found = 0;
  for (size_t i = 0; i < n; i++) {
    const rein_contract_admission *a;
    if (rein_contract_admission_at(s, i, &a) == REIN_OK &&
        (!service || strcmp(a->service, service) == 0))
      found++;
  }
  if (!found) {
    if (service)
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "%s has no server.admission block in the contracts: "
                    "nothing to export",
                    service);
    else
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "no contract has a server.admission block: nothing to "
                    "export (docs/contracts.md, \"The server's side\")");
    return REIN_ENOTFOUND;
  }
  char *text = NULL;
  size_t tn = 0;
  FILE *f = open_memstream(&text, &tn);
  if (!f) return REIN_ENOMEM;
  fputs("# Written by `rein export nginx`: rein's admission control for ", f);
  for (size_t i = 0, k = 0; i < n; i++) {
    const rein_contract_admission *a;
    if (rein_contract_admission_at(s, i, &a) != REIN_OK ||
        (service && strcmp(a->service, service) != 0))
      continue;
    fprintf(f, "%s%s %s", k++ ? ", " : "", a->service, a->version);
  }
  fputs(",\n# as ngx_http_rein_module directives (docs/nginx.md). Include "
        "this file in\n# nginx's http {} block, with the module loaded "
        "(load_module\n# .../ngx_http_rein_module.so).\n\n",
        f);
  for (size_t i = 0; i < n; i++) {
    const rein_contract_admission *a;
    if (rein_contract_admission_at(s, i, &a) != REIN_OK ||
        (service && strcmp(a->service, service) != 0))
      continue;
    write_zone(ix, f, a);
  }
  for (size_t i = 0; i < n; i++) {
    const rein_contract_admission *a;
    if (rein_contract_admission_at(s, i, &a) != REIN_OK ||
        (service && strcmp(a->service, service) != 0))
      continue;
    fprintf(f, "\nserver {\n");
    if (a->listen) {
      fprintf(f, "    listen %s;\n", a->listen);
    } else {
      nwarn(ix, a, REIN_CONTRACT_ADM_LISTEN, "listen",
            "not set: the server block has no `listen` (nginx's default, "
            "*:80); add server.admission.listen");
    }
    if (!a->upstream)
      nwarn(ix, a, REIN_CONTRACT_ADM_UPSTREAM, "upstream",
            "not set: the locations have no proxy_pass; add "
            "server.admission.upstream");
    bool metrics_taken = false;
    if (a->nroutes == 0) {
      write_location(f, a, "/", NULL);
    } else {
      for (size_t r = 0; r < a->nroutes; r++) {
        write_location(f, a, a->routes[r].path, a->routes[r].operation);
        metrics_taken |= strcmp(a->routes[r].path, "/metrics") == 0;
      }
    }
    if (metrics_taken)
      nwarn(ix, a, REIN_CONTRACT_ADM_PATHS, "paths",
            "an operation is at /metrics: the zone's metrics are at "
            "/rein-metrics instead");
    fprintf(f,
            "\n    # rein_admit's metrics of every zone (Prometheus text)\n"
            "    location = %s {\n        rein_metrics;\n"
            "        allow 127.0.0.1;\n        deny all;\n    }\n}\n",
            metrics_taken ? "/rein-metrics" : "/metrics");
  }
  if (fclose(f) != 0) {
    free(text);
    return REIN_ENOMEM;
  }
  char *b = rein_alloc(&ix->alloc, tn + 1);
  if (!b) {
    free(text);
    return REIN_ENOMEM;
  }
  memcpy(b, text, tn + 1);
  free(text);
  *out = b;
  *len = tn;
  return REIN_OK;
}

const ix_format rein__ix_nginx = {.name = "nginx",
                                  .import = NULL,
                                  .export_ = nginx_export,
                                  .server_side = true};
