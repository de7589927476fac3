/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics_page.c: writes one Prometheus page for two policies that have
 * made real calls (retries, give-ups, a watched budget and breaker), for
 * the metrics_promtool test to validate with Prometheus's own promtool.
 * With --split it writes the deprecated form instead (each object on its
 * own, HELP/TYPE only for the first), whose scattered families the test's
 * grouping check must reject: proof that the check can fail.
 */
#include "rein.h"

#include <stdio.h>
#include <string.h>

static void calls(const rein_policy *p, rein_manual_clock *mc, int n) {
  for (int i = 0; i < n; i++) {
    rein_retry r;
    rein_retry_init(&r, p, NULL);
    rein_decision d = rein_retry_begin(&r, rein_manual_clock_get(mc));
    int attempt = 0;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_WAIT) {
        rein_manual_clock_advance(mc, d.delay_ns);
        d = rein_retry_next(&r, NULL, rein_manual_clock_get(mc));
        continue;
      }
      rein_manual_clock_advance(mc, (1 + i % 7) * 1000000LL);
      rein_outcome o = {0};
      o.kind =
          (i + attempt++) % 3 ? REIN_OUTCOME_SUCCESS : REIN_OUTCOME_FAILURE;
      d = rein_retry_next(&r, &o, rein_manual_clock_get(mc));
    }
  }
}

int main(int argc, char **argv) {
  bool split = argc > 1 && strcmp(argv[1], "--split") == 0;
  rein_manual_clock mc;
  rein_manual_clock_init(&mc, 1);
  const char *names[2] = {"ledger.charge", "ledger.refund"};
  rein_metrics *m[2];
  rein_budget *b[2];
  rein_breaker *k[2];
  rein_policy *p[2];
  for (int i = 0; i < 2; i++) {
    rein_metrics_config mcfg;
    rein_metrics_config_default(&mcfg);
    mcfg.policy = names[i];
    mcfg.clock = rein_manual_clock_as_clock(&mc);
    rein_budget_config bc;
    rein_budget_config_default(&bc);
    bc.kind = i ? REIN_BUDGET_TOKEN_BUCKET : REIN_BUDGET_RATIO;
    rein_breaker_config kc;
    rein_breaker_config_default(&kc);
    if (rein_metrics_new(&mcfg, &m[i]) || rein_budget_new(&bc, &b[i])) return 2;
    kc.metrics = m[i];
    if (rein_breaker_new(&kc, &k[i])) return 2;
    rein_metrics_watch_budget(m[i], b[i]);
    rein_metrics_watch_breaker(m[i], k[i]);
    rein_policy_config pc;
    rein_policy_config_default(&pc);
    pc.max_attempts = 3;
    pc.budget = b[i];
    pc.breaker = k[i];
    pc.metrics = m[i];
    if (rein_policy_new(&pc, &p[i])) return 2;
    calls(p[i], &mc, 200 + 100 * i);
  }
  static char buf[1 << 17];
  const rein_metrics *ms[2] = {m[0], m[1]};
  if (split) {
    for (int i = 0; i < 2; i++) {
      if (rein_metrics_write_prometheus(m[i], buf, sizeof buf, NULL, i == 0))
        return 2;
      fputs(buf, stdout);
    }
  } else {
    if (rein_metrics_write_prometheus_many(ms, 2, rein_manual_clock_get(&mc),
                                           buf, sizeof buf, NULL))
      return 2;
    fputs(buf, stdout);
  }
  for (int i = 0; i < 2; i++) {
    rein_policy_free(p[i]);
    rein_metrics_watch_budget(m[i], NULL);
    rein_metrics_watch_breaker(m[i], NULL);
    rein_breaker_free(k[i]);
    rein_budget_free(b[i]);
    rein_metrics_free(m[i]);
  }
  return 0;
}
