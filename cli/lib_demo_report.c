/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo_report.c: what `rein demo` prints of its rounds: the text table
 * (and the measured-vs-simulated table) and the --json figures (jansson,
 * through rein/json.h). The HTML report is lib_demo_html.c. The rounds come
 * from rein-demo-load (lib_demo.c).
 */
#include "lib_demo.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "rein.h"
#include "rein/json.h"

static void fmt_recovery(char *b, size_t n, const demo_round *r, double v) {
  if (v < 0)
    snprintf(b, n, "not within %.1f s", r->observed_after_s);
  else
    snprintf(b, n, "%.2f s", v);
}

void demo_print_summary(FILE *f, const demo_config *c, const demo_round *r,
                        int n) {
  fprintf(f,
          "\nledger capacity %.0f charges/s, offered %.0f charges/s, "
          "outage (%s) %.0f s at t=%.0f s\n\n",
          c->capacity, c->rate, c->stall ? "ledger stalled" : "503s",
          c->outage_s, c->warmup_s);
  fprintf(f, "%-40s", "");
  for (int i = 0; i < n; i++)
    fprintf(f, " %18s", r[i].name);
  fprintf(f, "\n");
  char v[64];
#define ROW(label, ...)                                                        \
  do {                                                                         \
    fprintf(f, "%-40s", label);                                                \
    for (int i = 0; i < n; i++) {                                              \
      snprintf(v, sizeof v, __VA_ARGS__);                                      \
      fprintf(f, " %18s", v);                                                  \
    }                                                                          \
    fprintf(f, "\n");                                                          \
  } while (0)
  ROW("peak load / capacity", "%.2fx", r[i].peak_ratio);
  ROW("peak load (requests/s, 1 s)", "%.0f", r[i].peak_load);
  ROW("peak load / capacity (250 ms)", "%.2fx", r[i].peak_bucket_ratio);
  ROW("amplification (attempts/call)", "%.2fx", r[i].amplification);
  ROW("ledger requests / call", "%.2fx", r[i].ledger_amplification);
  fprintf(f, "%-40s", "recovery after the outage");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n%-40s", "  goodput alone back after");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].goodput_recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n");
  ROW("duplicate charges", "%" PRIu64, r[i].duplicates);
  ROW("charges recorded", "%" PRIu64, r[i].charges);
  ROW("  charged, but the caller saw a failure", "%" PRIu64,
      r[i].charges - r[i].duplicates > r[i].done
          ? r[i].charges - r[i].duplicates - r[i].done
          : 0);
  ROW("calls", "%" PRIu64, r[i].calls);
  ROW("succeeded", "%" PRIu64, r[i].done);
  ROW("gave up", "%" PRIu64, r[i].gave_up);
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++)
      any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "  gave up: %s", rein_giveup_name(g));
    ROW(label, "%" PRIu64, r[i].giveups[g]);
  }
  ROW("unfinished at the end", "%" PRIu64, r[i].unfinished);
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++) {
    char label[64];
    snprintf(label, sizeof label, "attempts: %s",
             rein_outcome_kind_name((rein_outcome_kind)k));
    ROW(label, "%" PRIu64, r[i].outcomes[k]);
  }
  ROW("shed by the ledger (503)", "%" PRIu64, r[i].ledger_shed);
#undef ROW
  fprintf(f, "\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "%s: %s\n", r[i].name, r[i].policy_desc);
}

static void fmt_rec_sim(char *b, size_t n, const demo_sim *m) {
  if (m->recovered_runs == m->runs && m->runs)
    snprintf(b, n, "%.2f s", m->recovery_s);
  else if (m->recovered_runs)
    snprintf(b, n, "%.2f s (%d/%d)", m->recovery_s, m->recovered_runs, m->runs);
  else
    snprintf(b, n, "not recovered");
}

/* The simulator runs the rounds naive and rein; the round behind nginx
 * has no simulated counterpart. */
static bool has_sim(const demo_round *r) {
  return !strcmp(r->name, "naive") || !strcmp(r->name, "rein");
}

void demo_print_sim(FILE *f, const demo_round *r, const demo_sim *sims, int n) {
  fprintf(f,
          "\nmeasured vs `rein simulate` (same parameters, mean of %d "
          "seeds; docs/fidelity.md)\n\n%-32s",
          sims[0].runs, "");
  for (int i = 0; i < n; i++)
    if (has_sim(&r[i])) fprintf(f, " %13s %13s", r[i].name, "simulated");
  fprintf(f, "\n");
  char a[48], b[48];
  for (int row = 0; row < 5; row++) {
    static const char *const labels[] = {
        "peak load / capacity (250 ms)", "amplification (attempts/call)",
        "recovery after the outage", "calls succeeded", "duplicate charges"};
    fprintf(f, "%-32s", labels[row]);
    for (int i = 0; i < n; i++) {
      if (!has_sim(&r[i])) continue;
      const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
      switch (row) {
      case 0:
        snprintf(a, sizeof a, "%.2fx", r[i].peak_bucket_ratio);
        snprintf(b, sizeof b, "%.2fx", m->peak_bucket_ratio);
        break;
      case 1:
        snprintf(a, sizeof a, "%.2fx", r[i].amplification);
        snprintf(b, sizeof b, "%.2fx", m->amplification);
        break;
      case 2:
        fmt_recovery(a, sizeof a, &r[i], r[i].recovery_s);
        fmt_rec_sim(b, sizeof b, m);
        break;
      case 3:
        snprintf(a, sizeof a, "%" PRIu64, r[i].done);
        snprintf(b, sizeof b, "%.0f", m->succeeded);
        break;
      default:
        snprintf(a, sizeof a, "%" PRIu64, r[i].duplicates);
        snprintf(b, sizeof b, "%.0f", m->duplicates);
        break;
      }
      fprintf(f, " %13s %13s", a, b);
    }
    fprintf(f, "\n");
  }
}

static json_t *series(const double *v, int n) {
  json_t *a = json_array();
  for (int i = 0; a && i < n; i++)
    rein_json_push(a, json_real(v[i]));
  return a;
}

static json_t *round_json(const demo_round *r) {
  json_t *o = json_object(), *g = json_object();
  int bad = !o || !g;
#define U(k, v) bad |= rein_json_set(o, k, json_integer((json_int_t)(v)))
#define D(k, v) bad |= rein_json_set(o, k, json_real(v))
  D("peak_load", r->peak_load);
  D("peak_ratio", r->peak_ratio);
  D("peak_bucket_ratio", r->peak_bucket_ratio);
  D("amplification", r->amplification);
  D("ledger_amplification", r->ledger_amplification);
  D("recovery_s", r->recovery_s);
  D("goodput_recovery_s", r->goodput_recovery_s);
  U("duplicates", r->duplicates);
  U("charges", r->charges);
  U("calls", r->calls);
  U("succeeded", r->done);
  U("gave_up", r->gave_up);
  U("unfinished", r->unfinished);
  U("attempts", r->attempts);
  U("ledger_posts", r->ledger_posts);
  U("shed", r->ledger_shed);
  D("baseline_goodput", r->baseline_good);
#undef U
#undef D
  for (int k = 1; k < REIN_GIVEUP_COUNT_; k++)
    bad |= rein_json_set(g, rein_giveup_name((rein_giveup)k),
                         json_integer((json_int_t)r->giveups[k]));
  bad |= rein_json_set(o, "giveups", g);
  bad |= rein_json_set(o, "load", series(r->load, r->nbuckets));
  bad |= rein_json_set(o, "good", series(r->good, r->nbuckets));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static json_t *sim_json(const demo_sim *m) {
  json_t *o = json_object();
  int bad = !o;
  bad |= rein_json_set(o, "runs", json_integer(m->runs));
  bad |= rein_json_set(o, "peak_bucket_ratio", json_real(m->peak_bucket_ratio));
  bad |= rein_json_set(o, "amplification", json_real(m->amplification));
  bad |= rein_json_set(o, "recovery_s", json_real(m->recovery_s));
  bad |= rein_json_set(o, "recovered_runs", json_integer(m->recovered_runs));
  bad |= rein_json_set(o, "succeeded", json_real(m->succeeded));
  bad |= rein_json_set(o, "duplicates", json_real(m->duplicates));
  bad |= rein_json_set(o, "calls", json_real(m->calls));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int demo_write_json(const char *path, const demo_config *c, const demo_round *r,
                    int n, const demo_sim *sims) {
  json_t *root = json_object(), *rounds = json_object();
  int bad = !root || !rounds;
  bad |= rein_json_set(root, "capacity", json_real(c->capacity));
  bad |= rein_json_set(root, "rate", json_real(c->rate));
  bad |= rein_json_set(root, "outage_s", json_real(c->outage_s));
  bad |= rein_json_set(root, "outage_kind",
                       json_string(c->stall ? "stall" : "fail"));
  bad |= rein_json_set(root, "warmup_s", json_real(c->warmup_s));
  bad |= rein_json_set(root, "tail_s", json_real(c->tail_s));
  bad |= rein_json_set(root, "bucket_s", json_real(c->bucket_s));
  for (int i = 0; i < n; i++)
    bad |= rein_json_set(rounds, r[i].name, round_json(&r[i]));
  bad |= rein_json_set(root, "rounds", rounds);
  if (sims) {
    json_t *s = json_object();
    bad |= !s;
    bad |= rein_json_set(s, "naive", sim_json(&sims[0]));
    bad |= rein_json_set(s, "rein", sim_json(&sims[1]));
    bad |= rein_json_set(root, "simulated", s);
  }
  FILE *f = bad ? NULL : fopen(path, "w");
  if (f) {
    bad |= rein_json_write(f, root, REIN_JSON_FLAGS | JSON_REAL_PRECISION(6));
    bad |= fputc('\n', f) == EOF;
    bad |= fclose(f) != 0;
  }
  json_decref(root);
  return f && !bad ? 0 : -1;
}
