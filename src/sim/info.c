/* SPDX-License-Identifier: Apache-2.0 */
/*
 * info.c: a loaded scenario's parameters read back (rein/sim.h, "a
 * scenario's parameters"): cohorts, servers and incidents as plain
 * structs. A live harness that mirrors a scenario (examples/ledger's
 * rein-demo-load) reads its rate, capacity and outage from here, so the
 * scenario file is the one place those numbers are written.
 */
#include "sim_internal.h"

#include <string.h>

rein_status rein_sim_scenario_cohort(const rein_sim_scenario *s, size_t i,
                                     rein_sim_cohort_info *out) {
  if (!s || !out) return REIN_EINVAL;
  if (i >= s->n_cohorts) return REIN_ENOTFOUND;
  const sim_cohort_spec *c = &s->cohorts[i];
  memset(out, 0, sizeof *out);
  out->name = c->name;
  out->target = c->target < s->n_servers ? s->servers[c->target].name : "";
  out->policy = c->policy < s->n_policies ? s->policies[c->policy].name : "";
  out->count = c->count;
  out->rate =
      c->arrival == SIM_ARRIVAL_POISSON || c->arrival == SIM_ARRIVAL_PERIODIC
          ? c->rate
          : 0;
  out->timeout_ns = c->timeout_ns;
  out->deadline_ns = c->deadline_ns;
  return REIN_OK;
}

rein_status rein_sim_scenario_server(const rein_sim_scenario *s,
                                     const char *name,
                                     rein_sim_server_info *out) {
  if (!s || !name || !out) return REIN_EINVAL;
  for (size_t i = 0; i < s->n_servers; i++) {
    const sim_server_spec *v = &s->servers[i];
    if (strcmp(v->name, name) != 0) continue;
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->concurrency = v->concurrency;
    out->capacity = rein__sim_server_capacity(v);
    out->has_admission = v->has_admission;
    out->adm_limit = v->adm_limit;
    out->adm_queue = v->adm_queue;
    out->adm_retry_queue = v->adm_retry_queue;
    out->adm_max_wait_ns = v->adm_max_wait_ns;
    return REIN_OK;
  }
  return REIN_ENOTFOUND;
}

rein_status rein_sim_scenario_incident(const rein_sim_scenario *s, size_t i,
                                       rein_sim_incident_info *out) {
  static const char *const kinds[] = {"outage", "capacity", "failure"};
  static const char *const modes[] = {"error", "drop", "slow", "refuse",
                                      "buffer"};
  if (!s || !out) return REIN_EINVAL;
  if (i >= s->n_incidents) return REIN_ENOTFOUND;
  const sim_incident_spec *v = &s->incidents[i];
  memset(out, 0, sizeof *out);
  out->kind = (unsigned)v->kind < 3 ? kinds[v->kind] : "";
  out->mode =
      v->kind == SIM_INC_OUTAGE && (unsigned)v->mode < 5 ? modes[v->mode] : "";
  out->server = v->server < s->n_servers ? s->servers[v->server].name : "";
  out->start_ns = v->start_ns;
  out->end_ns = v->end_ns;
  return REIN_OK;
}

int64_t rein_sim_scenario_interval(const rein_sim_scenario *s) {
  return s ? s->interval_ns : 0;
}

void rein_sim_scenario_recovery(const rein_sim_scenario *s, double *tolerance,
                                int64_t *hold_ns) {
  if (tolerance) *tolerance = s ? s->recovery_tolerance : 0;
  if (hold_ns) *hold_ns = s ? s->recovery_hold_ns : 0;
}

rein_status rein_sim_scenario_policy_client(const rein_sim_scenario *s,
                                            const char *name,
                                            int *honor_signals,
                                            int *attempt_header) {
  if (!s || !name) return REIN_EINVAL;
  for (size_t i = 0; i < s->n_policies; i++)
    if (strcmp(s->policies[i].name, name) == 0) {
      if (honor_signals) *honor_signals = s->policies[i].honor_signals != 0;
      if (attempt_header) *attempt_header = s->policies[i].attempt_header != 0;
      return REIN_OK;
    }
  return REIN_ENOTFOUND;
}
