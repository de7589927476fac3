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

#include <stdlib.h>
#include <string.h>

enum { OPT_CALLER, OPT_TO, OPT_JSON };

static const rein_cli_option options[] = {
    [OPT_CALLER] = {"caller", 0, REIN_CLI_STRING, "SERVICE",
                    "the calling service (required)"},
    [OPT_TO] = {"to", 0, REIN_CLI_STRING, "SERVICE.OPERATION",
                "the operation it calls (required)"},
    [OPT_JSON] = {"json", 0, REIN_CLI_FLAG, NULL, "print the policy as JSON"},
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

/* A comma-separated list of names ("503, 5xx, timeout") as a JSON array
 * of strings (the names are tokens: no quotes or backslashes). */
static const char *names_json(const char *list, char *buf, size_t len) {
  size_t o = (size_t)snprintf(buf, len, "[");
  for (const char *p = list; *p && o < len;) {
    while (*p == ',' || *p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ',')
      e++;
    if (e > p)
      o += (size_t)snprintf(buf + o, len - o, "%s\"%.*s\"", o > 1 ? "," : "",
                            (int)(e - p), p);
    p = e;
  }
  if (o < len) snprintf(buf + o, len - o, "]");
  return buf;
}

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

/* Create every object the policy needs, as an application would. */
static rein_status instantiate(rein_contract_policy *cp, rein_errbuf *eb) {
  rein_budget *b = NULL;
  rein_breaker *br = NULL;
  rein_throttle *t = NULL;
  rein_policy *p = NULL;
  rein_status st = REIN_OK;
  if (cp->has_budget) {
    cp->budget.err = eb;
    st = rein_budget_new(&cp->budget, &b);
  }
  if (st == REIN_OK && cp->has_breaker) {
    cp->breaker.err = eb;
    st = rein_breaker_new(&cp->breaker, &br);
  }
  if (st == REIN_OK && cp->has_throttle) {
    cp->throttle.err = eb;
    st = rein_throttle_new(&cp->throttle, &t);
  }
  if (st == REIN_OK) {
    rein_policy_config pc = cp->policy;
    pc.budget = b;
    pc.breaker = br;
    pc.throttle = t;
    pc.err = eb;
    st = rein_policy_new(&pc, &p);
  }
  rein_policy_free(p);
  rein_throttle_free(t);
  rein_breaker_free(br);
  rein_budget_free(b);
  return st;
}

static int run(int argc, char **argv) {
  const char *caller = NULL, *to = NULL;
  int json = 0;
  const char **paths = calloc((size_t)argc, sizeof *paths);
  if (!paths) return bad("out of memory", NULL);
  size_t n = 0;
  int rc = REIN_EXIT_OK;
  rein_cli_parser args;
  rein_cli_parser_init(&args, &rein_cmd_policy, argc, argv);
  for (int o; (o = rein_cli_next(&args)) != REIN_CLI_END;) {
    if (o == OPT_JSON) {
      json = 1;
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
  rein_errbuf ib = {{0}};
  rein_status ist = instantiate(&cp, &ib);
  const rein_policy_config *p = &cp.policy;
  char b1[32], b2[32], b3[32], b4[32], on[512], sig[96];
  if (!rein_retryable_set_is_empty(&p->retryable))
    rein_retryable_set_format(&p->retryable, on, sizeof on);
  else
    on_list(p->retry_on, on, sizeof on);
  signals_list(cp.signals, sig, sizeof sig);
  if (json) {
    char on_json[1024], sj[256];
    names_json(on, on_json, sizeof on_json);
    printf("{\"caller\":\"%s\",\"to\":\"%s\",\"max_attempts\":%u,"
           "\"backoff\":{\"kind\":\"%s\",\"jitter\":\"%s\",\"base_ns\":%lld,"
           "\"cap_ns\":%lld,\"multiplier\":%g},\"retry_on\":%s,"
           "\"window_ns\":%lld,\"attempt_timeout_ns\":%lld,"
           "\"deadline_ns\":%lld,\"idempotent\":%s,\"key\":\"%s\","
           "\"key_header\":",
           cp.caller, to, p->max_attempts,
           rein_backoff_kind_name(p->backoff.kind),
           rein_jitter_name(p->backoff.jitter), (long long)p->backoff.base_ns,
           (long long)p->backoff.cap_ns, p->backoff.multiplier, on_json,
           (long long)p->window_ns, (long long)p->attempt_timeout_ns,
           (long long)cp.deadline_ns, p->idempotent ? "true" : "false",
           rein_contract_key_name(cp.key));
    jstr(cp.key_header);
    printf(",\"key_ttl_ns\":%lld,\"signals\":%s,", (long long)cp.key_ttl_ns,
           names_json(strcmp(sig, "none") ? sig : "", sj, sizeof sj));
    if (cp.has_budget)
      printf("\"budget\":{\"kind\":\"%s\",\"scope\":\"%s\",\"ratio\":%g,"
             "\"ttl_ns\":%lld,\"min_retries_per_sec\":%g,\"max_tokens\":%g,"
             "\"token_ratio\":%g,\"capacity\":%u,\"retry_cost\":%u,"
             "\"timeout_retry_cost\":%u,\"success_increment\":%u},",
             rein_budget_kind_name(cp.budget.kind),
             rein_contract_scope_name(cp.budget_scope), cp.budget.ratio,
             (long long)cp.budget.ttl_ns, cp.budget.min_retries_per_sec,
             cp.budget.max_tokens, cp.budget.token_ratio, cp.budget.capacity,
             cp.budget.retry_cost, cp.budget.timeout_retry_cost,
             cp.budget.success_increment);
    else
      printf("\"budget\":null,");
    if (cp.has_breaker)
      printf("\"breaker\":{\"window\":\"%s\",\"window_ns\":%lld,"
             "\"window_size\":%u,\"buckets\":%u,\"min_calls\":%u,"
             "\"failure_rate\":%g,\"slow_rate\":%g,\"slow_call_ns\":%lld,"
             "\"open_ns\":%lld,\"open_jitter\":%g,\"half_open_probes\":%u},",
             cp.breaker.window == REIN_BREAKER_WINDOW_TIME ? "time" : "count",
             (long long)cp.breaker.window_ns, cp.breaker.window_size,
             cp.breaker.buckets, cp.breaker.min_calls, cp.breaker.failure_rate,
             cp.breaker.slow_rate, (long long)cp.breaker.slow_call_ns,
             (long long)cp.breaker.open_ns, cp.breaker.open_jitter,
             cp.breaker.half_open_probes);
    else
      printf("\"breaker\":null,");
    if (cp.has_throttle)
      printf("\"throttle\":{\"k\":%g,\"window_ns\":%lld},", cp.throttle.k,
             (long long)cp.throttle.window_ns);
    else
      printf("\"throttle\":null,");
    printf("\"breaker_scope\":\"%s\",\"fleet_name\":\"%s\",",
           rein_contract_scope_name(cp.breaker_scope), cp.fleet_name);
    printf("\"valid\":%s}\n", ist == REIN_OK ? "true" : "false");
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
      printf("  breaker         %sfailure_rate %g, min_calls %u, ",
             cp.breaker_scope == REIN_CONTRACT_SCOPE_FLEET ? "fleet, " : "",
             cp.breaker.failure_rate, cp.breaker.min_calls);
      if (cp.breaker.window == REIN_BREAKER_WINDOW_TIME)
        printf("window %s in %u buckets", dur(cp.breaker.window_ns, b1),
               cp.breaker.buckets);
      else
        printf("window %u calls", cp.breaker.window_size);
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
                "[--json]",
    .description =
        "Print the effective runtime policy of one call: attempts, backoff,\n"
        "retried outcomes, window, timeouts, deadline, budget, breaker,\n"
        "throttle, key handling and honoured server signals, as the library\n"
        "builds it from the contract (rein_policy_from_contract).\n",
    .exit_status =
        "0 printed, 1 the core refuses the policy, 2 usage or input error\n",
    .operands = REIN_CLI_FILE,
};
