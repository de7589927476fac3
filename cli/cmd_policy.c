/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_policy.c: `rein policy DIR --caller A --to B.op`: print the runtime
 * policy the library enforces for one call of a contract graph.
 *
 * It goes through rein_policy_from_contract, then validates the result by
 * actually creating the core objects (budget, breaker, throttle, policy), so
 * what it prints is exactly what an application that loads the same
 * contracts runs with, and a contract the core would refuse is reported here.
 */
#include "cli.h"
#include "lib_contract.h"
#include "rein.h"
#include "rein/contract.h"
#include "rein/input.h"
#include "rein/json.h"
#include "rein/model.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_CALLER, OPT_TO, OPT_JSON, OPT_FIELDS };

static const rein_cli_option options[] = {
    [OPT_CALLER] = {"caller", 0, REIN_CLI_STRING, "SERVICE",
                    "the calling service (required)"},
    [OPT_TO] = {"to", 0, REIN_CLI_STRING, "SERVICE.OPERATION",
                "the operation it calls (required)"},
    [OPT_JSON] = {"json", 0, REIN_CLI_FLAG, NULL,
                  "print the policy as JSON (the model's canonical form)"},
    [OPT_FIELDS] = {"fields", 0, REIN_CLI_FLAG, NULL,
                    "list every policy field of the model instead"},
    {0}};

extern const rein_cli_command rein_cmd_policy;

static int bad(const char *msg, const char *arg) {
  return rein_cli_usage_error(&rein_cmd_policy, msg, arg);
}

static const char *dur(int64_t ns, char *b) {
  if (!ns) return "none";
  return rein_contract_format_duration(ns, b, 32);
}

static void on_list(uint32_t m, char *buf, size_t len) {
  size_t o = 0;
  buf[0] = 0;
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    if (m & REIN_RETRY_ON(k) && o < len)
      o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "",
                            rein_outcome_kind_name((rein_outcome_kind)k));
}

static void signals_list(uint32_t m, char *buf, size_t len) {
  static const char *const n[] = {"retry-after", "pushback", "ratelimit",
                                  "dont-retry"};
  size_t o = 0;
  buf[0] = 0;
  for (int k = 0; k < 4; k++)
    if (m & (1u << k) && o < len)
      o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", n[k]);
  if (!o) snprintf(buf, len, "none");
}

/* Create every object the policy needs with the one builder
 * (rein_policy_spec_build), as an application and the simulator do. */
static rein_status instantiate(const rein_policy_spec *sp, rein_errbuf *eb) {
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.err = eb;
  rein_policy_objects o;
  rein_status st = rein_policy_spec_build(sp, &b, &o);
  rein_policy_objects_free(&o);
  return st;
}

/* `rein policy --fields`: the model's table (rein/model.h). */
static int print_fields(int json) {
  size_t n;
  const rein_model_field *f = rein_model_fields(&n);
  rein_policy_spec d;
  rein_policy_spec_default(&d);
  static const char *const types[] = {"count",    "number",   "duration",
                                      "enum",     "statuses", "signals"};
  json_t *arr = json ? json_array() : NULL;
  if (json && !arr) return bad("out of memory", NULL);
  for (size_t i = 0; i < n; i++) {
    char def[256], lo[48], hi[48];
    rein_model_get(&d, &f[i], def, sizeof def);
    if (f[i].type == REIN_MODEL_DURATION) {
      rein_format_duration((int64_t)f[i].min, lo, sizeof lo);
      rein_format_duration((int64_t)f[i].max, hi, sizeof hi);
    } else {
      snprintf(lo, sizeof lo, "%.15g", f[i].min);
      snprintf(hi, sizeof hi, "%.15g", f[i].max);
    }
    bool bounded = f[i].type <= REIN_MODEL_DURATION;
    if (json) {
      json_t *o = json_object();
      rein_json_set(o, "block", json_string(rein_model_block_name(f[i].block)));
      rein_json_set(o, "name", json_string(f[i].name));
      rein_json_set(o, "type", json_string(types[f[i].type]));
      rein_json_set(o, "unit", json_string(f[i].unit));
      if (bounded) {
        rein_json_set(o, "min", json_real(f[i].min));
        rein_json_set(o, "max", json_real(f[i].max));
        rein_json_set(o, "min_open", json_boolean(f[i].min_open));
      }
      if (f[i].names) {
        json_t *e = json_array();
        for (int k = 0; f[i].names[k]; k++)
          rein_json_push(e, json_string(f[i].names[k]));
        rein_json_set(o, "enum", e);
      }
      if (f[i].kinds) {
        static const char *const bk[] = {"ratio", "token_bucket", "quota"};
        json_t *e = json_array();
        for (int k = 0; k < 3; k++)
          if (f[i].kinds & (1u << k)) rein_json_push(e, json_string(bk[k]));
        rein_json_set(o, "budget_kinds", e);
      }
      if (f[i].alias)
        rein_json_set(o, "deprecated_alias", json_string(f[i].alias));
      rein_json_set(o, "default", json_string(def));
      rein_json_set(o, "example", json_string(f[i].example));
      rein_json_set(o, "doc", json_string(f[i].doc));
      rein_json_push(arr, o);
    } else {
      char name[64], range[112] = "";
      snprintf(name, sizeof name, "%s.%s", rein_model_block_name(f[i].block),
               f[i].name);
      if (bounded)
        snprintf(range, sizeof range, "%s%s, %s]", f[i].min_open ? "(" : "[",
                 lo, hi);
      printf("%-30s %-9s %-22s default %-12s %s\n", name, types[f[i].type],
             range, def[0] ? def : "-", f[i].doc);
    }
  }
  if (json) {
    if (rein_json_put(stdout, arr, REIN_JSON_FLAGS) != 0)
      return bad("cannot write", NULL);
    putchar('\n');
  }
  return REIN_EXIT_OK;
}

static int run(int argc, char **argv) {
  const char *caller = NULL, *to = NULL;
  int json = 0, fields = 0;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (!paths) return bad("out of memory", NULL);
  size_t n = 0;
  int rc = REIN_EXIT_OK;
  rein_cli_parser args;
  rein_cli_parser_init(&args, &rein_cmd_policy, argc, argv);
  for (int o; (o = rein_cli_next(&args)) != REIN_CLI_END;) {
    if (o == OPT_JSON) {
      json = 1;
    } else if (o == OPT_FIELDS) {
      fields = 1;
    } else if (o == OPT_CALLER) {
      caller = args.value;
    } else if (o == OPT_TO) {
      to = args.value;
    } else if (o == REIN_CLI_OPERAND) {
      paths[n++] = args.value;
    } else { /* REIN_CLI_ERROR: printed */
      rc = REIN_EXIT_USAGE;
      goto out;
    }
  }
  if (fields) {
    rc = print_fields(json);
    goto out;
  }
  if (!n || !caller || !to) {
    rc = bad("need contract paths, --caller and --to", NULL);
    goto out;
  }
  rein_contract_set *s = rein_cli_load_contracts("policy", paths, n);
  if (!s) {
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  rein_contract_policy cp;
  rein_errbuf eb = {{0}};
  rein_status st = rein_policy_from_contract(s, caller, to, &cp, &eb);
  if (st != REIN_OK) {
    fprintf(stderr, "rein policy: %s\n",
            eb.msg[0] ? eb.msg : rein_strerror(st));
    rein_contract_set_free(s);
    rc = REIN_EXIT_USAGE;
    goto out;
  }
  rein_policy_spec sp;
  rein_spec_from_contract(s, caller, to, &sp, NULL); /* found above */
  rein_errbuf ib = {{0}};
  rein_status ist = instantiate(&sp, &ib);
  const rein_policy_config *p = &cp.policy;
  char b1[32], b2[32], b3[32], b4[32], on[512], sig[96];
  if (!rein_retryable_set_is_empty(&p->retryable))
    rein_retryable_set_format(&p->retryable, on, sizeof on);
  else
    on_list(p->retry_on, on, sizeof on);
  signals_list(cp.signals, sig, sizeof sig);
  if (json) {
    /* the policy as the model's canonical JSON: what test_model compares
     * with the libcurl client's and the simulator's */
    size_t need = rein_policy_spec_json(&sp, NULL, 0);
    char *pj = malloc(need + 1);
    json_t *o = json_object();
    json_t *pol = NULL;
    if (pj) {
      rein_policy_spec_json(&sp, pj, need + 1);
      pol = json_loads(pj, 0, NULL);
    }
    free(pj);
    if (!o || !pol) {
      json_decref(o);
      json_decref(pol);
      rein_contract_set_free(s);
      rc = bad("out of memory", NULL);
      goto out;
    }
    rein_json_set(o, "caller", rein_json_string(cp.caller));
    rein_json_set(o, "to", rein_json_string(to));
    rein_json_set(o, "policy", pol);
    rein_json_set(o, "idempotent", json_boolean(p->idempotent));
    rein_json_set(o, "key", json_string(rein_contract_key_name(cp.key)));
    rein_json_set(o, "key_header", rein_json_string(cp.key_header));
    rein_json_set(o, "key_ttl", json_string(rein_format_duration(
                                    cp.key_ttl_ns, b1, sizeof b1)));
    rein_json_set(o, "fleet_name", rein_json_string(cp.fleet_name));
    rein_json_set(o, "valid", json_boolean(ist == REIN_OK));
    if (rein_json_put(stdout, o, REIN_JSON_FLAGS) != 0)
      rc = REIN_EXIT_USAGE;
    putchar('\n');
  } else {
    printf("policy %s -> %s\n", cp.caller, to);
    printf("  attempts        %u (including the first)\n", p->max_attempts);
    printf("  backoff         %s, jitter %s, base %s, cap %s",
           rein_backoff_kind_name(p->backoff.kind),
           rein_jitter_name(p->backoff.jitter),
           rein_contract_format_duration(p->backoff.base_ns, b1, sizeof b1),
           rein_contract_format_duration(p->backoff.cap_ns, b2, sizeof b2));
    if (p->backoff.kind == REIN_BACKOFF_EXPONENTIAL)
      printf(", multiplier %g", p->backoff.multiplier);
    printf("\n  retry on        %s\n", on);
    printf("  window          %s\n", dur(p->window_ns, b1));
    printf("  attempt timeout %s\n", dur(p->attempt_timeout_ns, b1));
    printf("  deadline        %s\n", dur(cp.deadline_ns, b1));
    printf("  idempotent      %s\n", p->idempotent ? "yes (natural)" : "no");
    printf("  key             %s", rein_contract_key_name(cp.key));
    if (cp.key_ttl_ns)
      printf(" (header %s, callee keeps keys %s)", cp.key_header,
             dur(cp.key_ttl_ns, b1));
    printf("\n  signals         %s\n", sig);
    if (cp.has_budget) {
      printf("  budget          %s, scope %s",
             rein_budget_kind_name(cp.budget.kind),
             rein_contract_scope_name(cp.budget_scope));
      if (cp.budget.kind == REIN_BUDGET_RATIO)
        printf(", ratio %g, ttl %s, floor %g retries/s", cp.budget.ratio,
               dur(cp.budget.ttl_ns, b1), cp.budget.min_retries_per_sec);
      else if (cp.budget.kind == REIN_BUDGET_TOKEN_BUCKET)
        printf(", max_tokens %g, token_ratio %g", cp.budget.max_tokens,
               cp.budget.token_ratio);
      else
        printf(", capacity %u, retry_cost %u, timeout_retry_cost %u, "
               "success_increment %u",
               cp.budget.capacity, cp.budget.retry_cost,
               cp.budget.timeout_retry_cost, cp.budget.success_increment);
      printf("\n");
    } else {
      printf("  budget          none\n");
    }
    if (cp.has_breaker) {
      bool ro = cp.breaker.gates == REIN_BREAKER_GATES_RETRIES;
      printf("  breaker         %s%sfailure_rate %g, min_calls %u, ",
             cp.breaker_scope == REIN_CONTRACT_SCOPE_FLEET ? "fleet, " : "",
             ro ? "retries only (never a first attempt), " : "",
             cp.breaker.failure_rate, cp.breaker.min_calls);
      if (cp.breaker.window == REIN_BREAKER_WINDOW_TIME)
        printf("window %s in %u buckets", dur(cp.breaker.window_ns, b1),
               cp.breaker.buckets);
      else if (cp.breaker.window == REIN_BREAKER_WINDOW_CUMULATIVE)
        printf("cumulative window");
      else
        printf("window %u calls", cp.breaker.window_size);
      if (ro)
        printf("\n");
      else
        printf(", open %s (jitter %g), half-open probes %u\n",
               dur(cp.breaker.open_ns, b2), cp.breaker.open_jitter,
               cp.breaker.half_open_probes);
      if (cp.breaker.slow_call_ns)
        printf("                  slow calls >= %s, slow_rate %g\n",
               dur(cp.breaker.slow_call_ns, b3), cp.breaker.slow_rate);
    } else {
      printf("  breaker         none\n");
    }
    if (cp.has_throttle)
      printf("  throttle        adaptive, k %g, window %s\n", cp.throttle.k,
             dur(cp.throttle.window_ns, b4));
    else
      printf("  throttle        none\n");
    if (cp.has_hedge) {
      printf("  hedge           %u attempts in all, ", cp.hedge.max_attempts);
      if (cp.hedge.quantile > 0)
        printf("after the p%g of the last %s of latencies (%s until %u "
               "are seen)\n",
               cp.hedge.quantile * 100, dur(cp.hedge.window_ns, b1),
               dur(cp.hedge.delay_ns, b2), cp.hedge.min_samples);
      else
        printf("after %s without an answer\n", dur(cp.hedge.delay_ns, b1));
    } else {
      printf("  hedge           none\n");
    }
    if ((cp.has_budget && cp.budget_scope == REIN_CONTRACT_SCOPE_FLEET) ||
        (cp.has_breaker && cp.breaker_scope == REIN_CONTRACT_SCOPE_FLEET))
      printf("  fleet           rein_fleet_config.name \"%s\" (shared "
             "through Redis)\n",
             cp.fleet_name);
    if (ist == REIN_OK)
      printf("  valid           yes (rein_policy_new accepts it)\n");
  }
  if (ist != REIN_OK) {
    fprintf(stderr, "rein policy: the core refuses this policy: %s\n",
            ib.msg[0] ? ib.msg : rein_strerror(ist));
    rc = REIN_EXIT_FINDINGS;
  }
  rein_contract_set_free(s);
out:
  free(paths);
  return rc;
}

const rein_cli_command rein_cmd_policy = {
    .name = "policy",
    .summary = "print the runtime policy a contract gives one call",
    .run = run,
    .options = options,
    .synopsis = "policy FILE|DIR... --caller SERVICE --to SERVICE.OPERATION\n"
                "[--json]\n"
                "policy --fields [--json]",
    .description =
        "Print the effective runtime policy of one call: attempts, backoff,\n"
        "retried outcomes, window, timeouts, deadline, budget, breaker,\n"
        "throttle, key handling and honoured server signals, as the library\n"
        "builds it from the contract (rein_spec_from_contract and the one\n"
        "builder, rein_policy_spec_build). --json prints the policy as the\n"
        "model's canonical JSON. --fields lists every policy field of the\n"
        "model (rein/model.h): block, type, bounds, default, meaning.\n",
    .exit_status =
        "0 printed, 1 the core refuses the policy, 2 usage or input error\n",
    .operands = REIN_CLI_FILE,
};
