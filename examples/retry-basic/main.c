/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retry-basic: the README's example. A flaky operation under a rein policy
 * with full-jitter backoff, a shared 10% retry budget and a breaker; the
 * blocking wrapper drives the state machine and reports why it stopped.
 */
#include <rein.h>
#include <stdio.h>

static void charge(void *ctx, const rein_decision *a, rein_outcome *out) {
  int *calls = ctx;
  ++*calls;
  out->kind = *calls < 3 ? REIN_OUTCOME_OVERLOADED : REIN_OUTCOME_SUCCESS;
  out->server_delay_ns = 20 * REIN_NS_PER_MS; /* e.g. from Retry-After */
  printf("attempt %u -> %s\n", a->attempt, rein_outcome_kind_name(out->kind));
}

int main(void) {
  rein_budget_config bc;
  rein_budget_config_default(&bc); /* ratio 10%, ttl 10 s, floor 10/s */
  rein_budget *budget;
  rein_breaker_config kc;
  rein_breaker_config_default(&kc);
  rein_breaker *breaker;
  if (rein_budget_new(&bc, &budget) || rein_breaker_new(&kc, &breaker)) return 1;

  rein_policy_config pc;
  rein_policy_config_default(&pc); /* exponential, full jitter, 100ms..10s */
  pc.max_attempts = 4;
  pc.backoff.base_ns = 10 * REIN_NS_PER_MS;
  pc.window_ns = 5 * REIN_NS_PER_S; /* never retry past 5 s */
  pc.budget = budget;
  pc.breaker = breaker;
  rein_policy *policy;
  if (rein_policy_new(&pc, &policy)) return 1;

  int calls = 0;
  rein_result res;
  rein_status st = rein_retry_run(policy, NULL, charge, &calls, NULL, &res);
  printf("%s after %u attempts (%s)\n", rein_strerror(st), res.attempts,
         st == REIN_OK ? "done" : rein_giveup_name(res.reason));

  rein_policy_free(policy);
  rein_breaker_free(breaker);
  rein_budget_free(budget);
  return st == REIN_OK ? 0 : 1;
}
