/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen.c: rein-demo-load, the live half of `rein demo` as a program of
 * its own: it runs one round (examples/ledger on loopback, an open-loop
 * client fleet, an injected outage) and writes the round as JSON.
 *
 *   rein-demo-load --ledger PATH --scenario FILE --round naive|rein|nginx
 *                  [--contracts DIR] [--threads N] [--short] [--stall]
 *                  [--naive-attempt-header] [--verbose]
 *                  [--nginx PATH --nginx-module PATH]
 *
 * Every number of the round comes from the scenario `rein simulate` runs
 * for the same demo (share/rein/scenarios/demo.yaml): the ledger's
 * capacity (concurrency / service time of the cohort's target server),
 * its queue and queue wait (its admission), the offered rate (clients x
 * rate of the first cohort), the attempt timeout, the outage (the first
 * incident: start, length), the sampling interval and the recovery
 * definition (tolerance, hold); the round lasts the
 * scenario's duration (--short: the tail after the outage is cut to 5 s).
 * The naive round's policy is the scenario's policy "naive" (its signals
 * and attempt header as the scenario says, no keys); the rein round's is
 * the contract's, client -> ledger.charge in DIR, through
 * rein_curl_new_from_contract: the policy the scenario's "rein" names.
 * The round "nginx" is the rein round behind Debian's nginx with
 * ngx_http_rein_module: the directives are what `rein export nginx`
 * writes from the ledger contract's server.admission in DIR (through
 * rein_interop_export), pointed at the round's ports.
 *
 * Output, stdout, one JSON object (jansson):
 *   {"config": {capacity, ledger_workers, queue, queue_timeout_ms, rate,
 *               threads, warmup_s, outage_s, tail_s, bucket_s,
 *               outage_kind "fail"|"stall", naive_attempt_header},
 *    "round": {name, policy, calls, succeeded, gave_up, unfinished,
 *              attempts, keys, giveups {reason: n}, outcomes {kind: n},
 *              ledger_posts, ledger_ok, shed, charges, duplicates,
 *              peak_load, peak_ratio, peak_bucket_ratio, amplification,
 *              ledger_amplification, baseline_load, baseline_goodput,
 *              recovery_s, goodput_recovery_s, outage_start_s,
 *              outage_end_s, observed_after_s, load [..], good [..]}}
 * Exit 0 with the object, 1 when the round failed (message on stderr), 2
 * on a usage error or a scenario that does not describe a demo.
 *
 * The tail round (--tail; docs/fidelity.md "Hedging, live vs simulated"):
 *
 *   rein-demo-load --tail --ledger PATH --scenario FILE --round POLICY
 *                  --work-ms N --slow-tail P:DURATION [--clients N]
 *                  [--duration DUR] [--seed N] [--threads N]
 *
 * runs the scenario's first cohort live: clients (--clients, default the
 * cohort's count) x the cohort's Poisson rate, for the scenario's
 * duration (or --duration), against the ledger with its target server's
 * concurrency as workers, --work-ms of work and --slow-tail's long tail
 * (the scenario's service-time distribution is not in the scenario API:
 * they are given, and docs/fidelity.md says how they map), through the
 * scenario's policy POLICY (its hedge block, when it has one, as
 * rein_curl_config.hedge), the cohort's timeout per attempt, keyed POSTs,
 * one blocking rein_curl_perform_ex per call on --threads threads
 * (default 64); --seed (default the scenario's) draws the arrivals and
 * the ledger's slow requests. Output, one JSON object:
 *   {"config": {policy, clients, rate, duration_s, threads, workers,
 *               work_ms, slow_tail, seed},
 *    "tail": {name, calls, succeeded, gave_up, unfinished, attempts,
 *             ledger_posts, ledger_slow, extra_load, client_extra_load,
 *             p50_ms, p99_ms, p999_ms, max_ms, slow_calls (at least
 *             half the slow-tail wait), giveups {reason: n}}}
 */
#include "loadgen.h"

#include <curl/curl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rein.h"
#include "rein/contract.h"
#include "rein/interop.h"
#include "rein/json.h"
#include "rein/model.h"
#include "rein/sim.h"

/* --short: the tail after the outage (s), enough to see rein recover. */
#define SHORT_TAIL_S 5.0

typedef struct opts {
  const char *scenario, *round, *contracts;
  bool naive_attempt_header;
  load_config c;
} opts;

/* The round's parameters from the scenario. 0, or -1 with a message. */
static int from_scenario(const rein_sim_scenario *sc, load_config *c,
                         int64_t *timeout_ns, char *err, size_t errlen) {
  rein_sim_cohort_info co;
  rein_sim_server_info sv;
  rein_sim_incident_info in;
  if (rein_sim_scenario_cohort(sc, 0, &co) != REIN_OK || co.rate <= 0) {
    snprintf(err, errlen, "the scenario has no cohort with open-loop (poisson or "
                     "periodic) arrivals");
    return -1;
  }
  if (rein_sim_scenario_server(sc, co.target, &sv) != REIN_OK ||
      !sv.has_admission || sv.capacity <= 0) {
    snprintf(err, errlen, "server %s: no capacity or no admission", co.target);
    return -1;
  }
  if (rein_sim_scenario_incident(sc, 0, &in) != REIN_OK ||
      strcmp(in.kind, "outage") || strcmp(in.server, co.target)) {
    snprintf(err, errlen, "the first incident is not an outage of %s",
             co.target);
    return -1;
  }
  c->capacity = sv.capacity;
  c->ledger_workers = (int)sv.concurrency;
  c->queue = (int)sv.adm_queue;
  c->queue_timeout_ms = (int)(sv.adm_max_wait_ns / REIN_NS_PER_MS);
  c->rate = (double)co.count * co.rate;
  c->warmup_s = (double)in.start_ns / 1e9;
  c->outage_s = (double)(in.end_ns - in.start_ns) / 1e9;
  c->tail_s =
      (double)rein_sim_scenario_duration(sc) / 1e9 - c->warmup_s - c->outage_s;
  c->bucket_s = (double)rein_sim_scenario_interval(sc) / 1e9;
  int64_t hold_ns = 0;
  rein_sim_scenario_recovery(sc, &c->recovery_tolerance, &hold_ns);
  c->recovery_hold_s = (double)hold_ns / 1e9;
  *timeout_ns = co.timeout_ns;
  if (c->tail_s <= 0 || c->bucket_s <= 0 || c->recovery_hold_s < c->bucket_s) {
    snprintf(err, errlen, "the outage must end before the scenario does");
    return -1;
  }
  return 0;
}

/* The naive client: the scenario's policy "naive", POST treated as
 * retryable, no keys. */
static int naive_client(const rein_sim_scenario *sc, const opts *o,
                        int64_t timeout_ns, rein_policy_objects *objs,
                        rein_curl **client, char *desc, size_t desclen) {
  rein_policy_spec sp;
  int honor = 0, header = 0;
  if (rein_sim_scenario_policy_spec(sc, "naive", &sp) != REIN_OK ||
      rein_sim_scenario_policy_client(sc, "naive", &honor, &header) != REIN_OK)
    return -1;
  sp.policy.attempt_timeout_ns = timeout_ns;
  sp.policy.idempotent = true; /* retries POST like any request */
  rein_policy_build pb;
  rein_policy_build_default(&pb);
  if (rein_policy_spec_build(&sp, &pb, objs) != REIN_OK) return -1;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = objs->policy;
  cc.keys = REIN_CURL_KEYS_NONE;
  cc.signals = honor ? sp.signals : 0;
  cc.attempt_header = header || o->naive_attempt_header;
  const rein_policy_config *pc = &sp.policy;
  snprintf(desc, desclen,
           "%u attempts, exponential backoff %" PRId64 " ms..%" PRId64
           " ms %s jitter, %" PRId64 " ms attempt timeout, %s, no keys, "
           "Retry-After %s",
           pc->max_attempts, pc->backoff.base_ns / REIN_NS_PER_MS,
           pc->backoff.cap_ns / REIN_NS_PER_MS,
           pc->backoff.jitter == REIN_JITTER_NONE ? "without" : "with",
           timeout_ns / REIN_NS_PER_MS,
           objs->budget || objs->breaker ? "budget or breaker"
                                         : "no budget, no breaker",
           honor ? "honoured" : "ignored");
  return rein_curl_new(&cc, client) == REIN_OK ? 0 : -1;
}

/* The nginx directives for the ledger, as `rein export nginx DIR
 * --caller ledger` writes them: malloc'd into *out. 0, or -1 with a
 * message. */
static int nginx_snippet(const char *dir, char **out, char *err,
                         size_t errlen) {
  rein_contract_set *set = NULL;
  const char *paths[] = {dir};
  rein_status st = rein_contract_load(NULL, paths, 1, &set);
  rein_interop *ix = NULL;
  char *text = NULL;
  size_t n = 0;
  if (st == REIN_OK) st = rein_interop_new(NULL, &ix);
  if (st == REIN_OK)
    st = rein_interop_export(ix, "nginx", set, "ledger", &text, &n);
  if (st == REIN_OK) {
    *out = strdup(text);
    if (!*out) st = REIN_ENOMEM;
  } else {
    const rein_interop_diag *d =
        ix && rein_interop_diag_count(ix) ? rein_interop_diag_at(ix, 0) : NULL;
    snprintf(err, errlen, "%s: rein export nginx: %s%s%s", dir,
             rein_strerror(st), d ? ": " : "", d ? d->message : "");
  }
  rein_free(NULL, text);
  rein_interop_free(ix);
  rein_contract_set_free(set);
  return st == REIN_OK ? 0 : -1;
}

/* The rein client: the contract's policy for client -> ledger.charge. */
static int rein_client(const char *dir, rein_curl **client, char *desc,
                       size_t desclen, char *err, size_t errlen) {
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  rein_errbuf eb = {{0}};
  cc.err = &eb;
  rein_contract_set *set = NULL;
  const char *paths[] = {dir};
  rein_status st = rein_contract_load(NULL, paths, 1, &set);
  if (st == REIN_OK) st = rein_contract_check(set, NULL);
  if (st == REIN_OK && rein_contract_count(set, REIN_CONTRACT_ERROR) != 0)
    st = REIN_EINVAL;
  if (st == REIN_OK)
    st = rein_curl_new_from_contract(&cc, set, "client", "ledger.charge", NULL,
                                     NULL, client);
  rein_contract_set_free(set);
  if (st != REIN_OK) {
    snprintf(err, errlen, "%s: %s %s", dir, rein_strerror(st), eb.msg);
    return -1;
  }
  const rein_policy_config *pc =
      rein_policy_get_config(rein_curl_policy(*client));
  snprintf(desc, desclen,
           "from %s (client -> ledger.charge): %u attempts, full jitter "
           "%" PRId64 " ms..%" PRId64 " ms, %" PRId64
           " ms attempt timeout, budget, breaker, throttle, keys, server "
           "signals",
           dir, pc->max_attempts, pc->backoff.base_ns / REIN_NS_PER_MS,
           pc->backoff.cap_ns / REIN_NS_PER_MS,
           pc->attempt_timeout_ns / REIN_NS_PER_MS);
  return 0;
}

static json_t *series(const double *v, int n) {
  json_t *a = json_array();
  for (int i = 0; a && i < n; i++)
    rein_json_push(a, json_real(v[i]));
  return a;
}

static int write_json(const opts *o, const load_round *r) {
  const load_config *c = &o->c;
  json_t *root = json_object(), *cf = json_object(), *rd = json_object();
  json_t *gv = json_object(), *oc = json_object();
  int bad = !root || !cf || !rd || !gv || !oc;
  bad |= rein_json_set(cf, "capacity", json_real(c->capacity));
  bad |= rein_json_set(cf, "ledger_workers", json_integer(c->ledger_workers));
  bad |= rein_json_set(cf, "queue", json_integer(c->queue));
  bad |=
      rein_json_set(cf, "queue_timeout_ms", json_integer(c->queue_timeout_ms));
  bad |= rein_json_set(cf, "rate", json_real(c->rate));
  bad |= rein_json_set(cf, "threads", json_integer(c->threads));
  bad |= rein_json_set(cf, "warmup_s", json_real(c->warmup_s));
  bad |= rein_json_set(cf, "outage_s", json_real(c->outage_s));
  bad |= rein_json_set(cf, "tail_s", json_real(c->tail_s));
  bad |= rein_json_set(cf, "bucket_s", json_real(c->bucket_s));
  bad |=
      rein_json_set(cf, "recovery_tolerance", json_real(c->recovery_tolerance));
  bad |= rein_json_set(cf, "recovery_hold_s", json_real(c->recovery_hold_s));
  bad |= rein_json_set(cf, "outage_kind",
                       json_string(c->stall ? "stall" : "fail"));
  bad |= rein_json_set(cf, "naive_attempt_header",
                       json_boolean(o->naive_attempt_header));
  bad |= rein_json_set(rd, "name", rein_json_string(r->name));
  bad |= rein_json_set(rd, "policy", rein_json_string(r->policy_desc));
#define U(k, v) bad |= rein_json_set(rd, k, json_integer((json_int_t)(v)))
#define D(k, v) bad |= rein_json_set(rd, k, json_real(v))
  U("calls", r->calls);
  U("succeeded", r->done);
  U("gave_up", r->gave_up);
  U("unfinished", r->unfinished);
  U("attempts", r->attempts);
  U("keys", r->keys);
  U("ledger_posts", r->ledger_posts);
  U("ledger_ok", r->ledger_ok);
  U("shed", r->ledger_shed);
  U("charges", r->charges);
  U("duplicates", r->duplicates);
  D("peak_load", r->peak_load);
  D("peak_ratio", r->peak_ratio);
  D("peak_bucket_ratio", r->peak_bucket_ratio);
  D("amplification", r->amplification);
  D("ledger_amplification", r->ledger_amplification);
  D("baseline_load", r->baseline_load);
  D("baseline_goodput", r->baseline_good);
  D("recovery_s", r->recovery_s);
  D("goodput_recovery_s", r->goodput_recovery_s);
  D("outage_start_s", r->outage_start_s);
  D("outage_end_s", r->outage_end_s);
  D("observed_after_s", r->observed_after_s);
#undef U
#undef D
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++)
    bad |= rein_json_set(gv, rein_giveup_name((rein_giveup)g),
                         json_integer((json_int_t)r->giveups[g]));
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    bad |= rein_json_set(oc, rein_outcome_kind_name((rein_outcome_kind)k),
                         json_integer((json_int_t)r->outcomes[k]));
  bad |= rein_json_set(rd, "giveups", gv);
  bad |= rein_json_set(rd, "outcomes", oc);
  bad |= rein_json_set(rd, "load", series(r->load, r->nbuckets));
  bad |= rein_json_set(rd, "good", series(r->good, r->nbuckets));
  bad |= rein_json_set(root, "config", cf);
  bad |= rein_json_set(root, "round", rd);
  bad |=
      rein_json_write(stdout, root, REIN_JSON_FLAGS | JSON_REAL_PRECISION(9));
  json_decref(root);
  return bad || putchar('\n') == EOF || fflush(stdout) != 0 ? -1 : 0;
}

static int usage(const char *msg) {
  fprintf(stderr,
          "rein-demo-load: %s\nusage: rein-demo-load --ledger PATH "
          "--scenario FILE --round naive|rein|nginx [--contracts DIR]\n"
          "       [--threads N] [--short] [--stall] "
          "[--naive-attempt-header] [--verbose]\n"
          "       [--nginx PATH --nginx-module PATH]\n"
          "   or: rein-demo-load --tail --ledger PATH --scenario FILE "
          "--round POLICY\n"
          "       --work-ms N --slow-tail P:DURATION [--clients N] "
          "[--duration DUR]\n"
          "       [--seed N] [--threads N]\n",
          msg);
  return 2;
}

/* --tail: the scenario's first cohort, live, through its policy
 * `o->round` (module comment). */
typedef struct tail_opts {
  uint64_t clients; /* 0 = the cohort's */
  int64_t duration_ns; /* 0 = the scenario's */
} tail_opts;

static int run_tail(opts *o, const tail_opts *t, rein_sim_scenario *sc) {
  rein_sim_cohort_info co;
  rein_sim_server_info sv;
  rein_policy_spec sp;
  if (rein_sim_scenario_cohort(sc, 0, &co) != REIN_OK || co.rate <= 0 ||
      rein_sim_scenario_server(sc, co.target, &sv) != REIN_OK) {
    fprintf(stderr, "rein-demo-load: %s: no cohort with open-loop (poisson "
                    "or periodic) arrivals and a target server\n",
            o->scenario);
    return 2;
  }
  if (rein_sim_scenario_policy_spec(sc, o->round, &sp) != REIN_OK) {
    fprintf(stderr, "rein-demo-load: %s: no policy '%s' (--round names one "
                    "of the scenario's policies)\n",
            o->scenario, o->round);
    return 2;
  }
  load_config *c = &o->c;
  uint64_t clients = t->clients ? t->clients : co.count;
  c->rate = (double)clients * co.rate;
  c->duration_s = (double)(t->duration_ns ? t->duration_ns
                                          : rein_sim_scenario_duration(sc)) /
                  1e9;
  c->ledger_workers = sv.concurrency > 256 ? 256 : (int)sv.concurrency;
  c->queue = 1000;
  c->queue_timeout_ms = 1000;
  c->drain_s = (double)co.timeout_ns / 1e9 + 1;
  sp.policy.attempt_timeout_ns = co.timeout_ns;
  rein_policy_build pb;
  rein_policy_build_default(&pb);
  rein_policy_objects objs = {0};
  rein_curl *client = NULL;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  rein_errbuf eb = {{0}};
  cc.err = &eb;
  rein_status st = rein_policy_spec_build(&sp, &pb, &objs);
  if (st == REIN_OK) {
    cc.policy = objs.policy;
    cc.hedge = sp.has_hedge ? &sp.hedge : NULL;
    st = rein_curl_new(&cc, &client);
  }
  if (st != REIN_OK) {
    fprintf(stderr, "rein-demo-load: cannot build the %s client: %s %s\n",
            o->round, rein_strerror(st), eb.msg);
    rein_policy_objects_free(&objs);
    return 1;
  }
  static load_tail r;
  char err[1024] = "";
  int rc = 0;
  if (load_run_tail(c, client, o->round, &r, err, sizeof err) != 0) {
    fprintf(stderr, "rein-demo-load: tail round %s failed: %s\n", o->round,
            err);
    rc = 1;
  } else {
    json_t *root = json_object(), *cf = json_object(), *td = json_object();
    int bad = !root || !cf || !td;
    bad |= rein_json_set(cf, "policy", rein_json_string(o->round));
    bad |= rein_json_set(cf, "clients", json_integer((json_int_t)clients));
    bad |= rein_json_set(cf, "rate", json_real(c->rate));
    bad |= rein_json_set(cf, "duration_s", json_real(c->duration_s));
    bad |= rein_json_set(cf, "threads", json_integer(c->threads));
    bad |= rein_json_set(cf, "workers", json_integer(c->ledger_workers));
    bad |= rein_json_set(cf, "work_ms", json_integer((json_int_t)c->work_ms));
    bad |= rein_json_set(cf, "slow_tail", rein_json_string(c->slow_tail));
    bad |= rein_json_set(cf, "seed", json_integer((json_int_t)c->seed));
    bad |= rein_json_set(td, "name", rein_json_string(r.name));
#define U(k, v) bad |= rein_json_set(td, k, json_integer((json_int_t)(v)))
#define D(k, v) bad |= rein_json_set(td, k, json_real(v))
    U("calls", r.calls);
    U("succeeded", r.done);
    U("gave_up", r.gave_up);
    U("unfinished", r.unfinished);
    U("attempts", r.attempts);
    U("ledger_posts", r.ledger_posts);
    U("ledger_slow", r.ledger_slow);
    D("extra_load", r.extra_load);
    D("client_extra_load",
      r.calls ? (double)r.attempts / (double)r.calls - 1 : 0);
    D("p50_ms", r.p50_ms);
    D("p99_ms", r.p99_ms);
    D("p999_ms", r.p999_ms);
    D("max_ms", r.max_ms);
    U("slow_calls", r.slow_calls);
#undef U
#undef D
    json_t *gv = json_object();
    for (int g = 1; gv && g < REIN_GIVEUP_COUNT_; g++)
      bad |= rein_json_set(gv, rein_giveup_name((rein_giveup)g),
                           json_integer((json_int_t)r.giveups[g]));
    bad |= rein_json_set(td, "giveups", gv);
    bad |= rein_json_set(root, "config", cf);
    bad |= rein_json_set(root, "tail", td);
    bad |= rein_json_write(stdout, root,
                           REIN_JSON_FLAGS | JSON_REAL_PRECISION(9));
    json_decref(root);
    rc = bad || putchar('\n') == EOF || fflush(stdout) != 0 ? 1 : 0;
  }
  rein_curl_free(client);
  rein_policy_objects_free(&objs);
  return rc;
}

int main(int argc, char **argv) {
  static const struct option lo[] = {
      {"ledger", required_argument, 0, 'l'},
      {"scenario", required_argument, 0, 's'},
      {"round", required_argument, 0, 'r'},
      {"contracts", required_argument, 0, 'c'},
      {"threads", required_argument, 0, 't'},
      {"short", no_argument, 0, 'S'},
      {"stall", no_argument, 0, 'T'},
      {"naive-attempt-header", no_argument, 0, 'H'},
      {"verbose", no_argument, 0, 'v'},
      {"nginx", required_argument, 0, 'n'},
      {"nginx-module", required_argument, 0, 'm'},
      {"tail", no_argument, 0, 'A'},
      {"clients", required_argument, 0, 'C'},
      {"duration", required_argument, 0, 'D'},
      {"work-ms", required_argument, 0, 'W'},
      {"slow-tail", required_argument, 0, 'L'},
      {"seed", required_argument, 0, 'E'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  bool tail = false, threads_given = false, seed_given = false;
  tail_opts to = {0, 0};
  static opts o; /* holds the round's load_round too: kept off the stack */
  static load_round round;
  memset(&o, 0, sizeof o);
  o.c.threads = 2;
  o.c.drain_s = 3;
  bool short_run = false;
  for (int ch; (ch = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
    switch (ch) {
    case 'l':
      o.c.ledger_path = optarg;
      break;
    case 's':
      o.scenario = optarg;
      break;
    case 'r':
      o.round = optarg;
      break;
    case 'c':
      o.contracts = optarg;
      break;
    case 't': {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (*end || n < 1 || n > 256)
        return usage("--threads: 1..16 (1..256 with --tail)");
      o.c.threads = (int)n;
      threads_given = true;
      break;
    }
    case 'A':
      tail = true;
      break;
    case 'C': {
      char *end;
      unsigned long long n = strtoull(optarg, &end, 10);
      if (*end || optarg[0] == '-' || n < 1 || n > 100000)
        return usage("--clients: an integer in [1, 100000]");
      to.clients = n;
      break;
    }
    case 'D':
      if (rein_parse_duration(optarg, &to.duration_ns) != REIN_OK ||
          to.duration_ns <= 0 || to.duration_ns > 3600 * REIN_NS_PER_S)
        return usage("--duration: a duration in (0, 1h], e.g. 30s");
      break;
    case 'W': {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (*end || n < 1 || n > 600000)
        return usage("--work-ms: milliseconds in [1, 600000]");
      o.c.work_ms = n;
      break;
    }
    case 'L':
      o.c.slow_tail = optarg; /* checked by the ledger itself */
      break;
    case 'E': {
      char *end;
      unsigned long long n = strtoull(optarg, &end, 10);
      if (*end || end == optarg || optarg[0] == '-')
        return usage("--seed: a non-negative integer");
      o.c.seed = n;
      seed_given = true;
      break;
    }
    case 'S':
      short_run = true;
      break;
    case 'T':
      o.c.stall = true;
      break;
    case 'H':
      o.naive_attempt_header = true;
      break;
    case 'v':
      o.c.verbose = true;
      break;
    case 'n':
      o.c.nginx_path = optarg;
      break;
    case 'm':
      o.c.nginx_module = optarg;
      break;
    case 'h':
      usage("the live half of `rein demo`");
      return 0;
    default:
      return usage("unknown option");
    }
  }
  if (optind < argc) return usage("unexpected argument");
  if (!o.c.ledger_path || !o.scenario || !o.round)
    return usage("--ledger, --scenario and --round are required");
  if (tail) {
    if (!o.c.work_ms || !o.c.slow_tail)
      return usage("--tail needs --work-ms and --slow-tail (the server's "
                   "fast service time and its tail)");
    if (!threads_given) o.c.threads = 64;
    rein_errbuf teb = {{0}};
    rein_sim_scenario *tsc = NULL;
    if (rein_sim_scenario_load(o.scenario, NULL, &teb, &tsc) != REIN_OK) {
      fprintf(stderr, "rein-demo-load: %s\n", teb.msg);
      return 2;
    }
    if (!seed_given) o.c.seed = rein_sim_scenario_seed(tsc);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int trc = run_tail(&o, &to, tsc);
    curl_global_cleanup();
    rein_sim_scenario_free(tsc);
    return trc;
  }
  if (threads_given && o.c.threads > 16) return usage("--threads: 1..16");
  bool behind = !strcmp(o.round, "nginx");
  bool keyed = behind || !strcmp(o.round, "rein");
  if (!keyed && strcmp(o.round, "naive"))
    return usage("--round naive|rein|nginx");
  if (keyed && !o.contracts)
    return usage("--round rein and nginx need --contracts");
  if (behind != (o.c.nginx_path && o.c.nginx_module))
    return usage("--round nginx goes with --nginx and --nginx-module");
  rein_errbuf eb = {{0}};
  rein_sim_scenario *sc = NULL;
  char err[1024] = "";
  int64_t timeout_ns = 0;
  if (rein_sim_scenario_load(o.scenario, NULL, &eb, &sc) != REIN_OK) {
    fprintf(stderr, "rein-demo-load: %s\n", eb.msg);
    return 2;
  }
  if (from_scenario(sc, &o.c, &timeout_ns, err, sizeof err) != 0) {
    fprintf(stderr, "rein-demo-load: %s: %s\n", o.scenario, err);
    rein_sim_scenario_free(sc);
    return 2;
  }
  if (short_run && o.c.tail_s > SHORT_TAIL_S) o.c.tail_s = SHORT_TAIL_S;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  rein_policy_objects objs = {0};
  rein_curl *client = NULL;
  char *snippet = NULL;
  int rc = keyed ? rein_client(o.contracts, &client, round.policy_desc,
                               sizeof round.policy_desc, err, sizeof err)
                 : naive_client(sc, &o, timeout_ns, &objs, &client,
                                round.policy_desc, sizeof round.policy_desc);
  if (rc == 0 && behind) {
    rc = nginx_snippet(o.contracts, &snippet, err, sizeof err);
    o.c.nginx_snippet = snippet;
    size_t dl = strlen(round.policy_desc);
    snprintf(round.policy_desc + dl, sizeof round.policy_desc - dl,
             "; behind nginx (rein export nginx)");
  }
  char desc[sizeof round.policy_desc];
  memcpy(desc, round.policy_desc, sizeof desc);
  if (rc != 0) {
    fprintf(stderr, "rein-demo-load: cannot build the %s client%s%s\n", o.round,
            err[0] ? ": " : "", err);
    rc = 1;
  } else if (load_run_round(&o.c, client, o.round, keyed, &round, err,
                            sizeof err) != 0) {
    fprintf(stderr, "rein-demo-load: %s round failed: %s\n", o.round, err);
    rc = 1;
  } else {
    memcpy(round.policy_desc, desc, sizeof desc);
    rc = write_json(&o, &round) == 0 ? 0 : 1;
  }
  free(snippet);
  rein_curl_free(client);
  rein_policy_objects_free(&objs);
  rein_sim_scenario_free(sc);
  curl_global_cleanup();
  return rc;
}
