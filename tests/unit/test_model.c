/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_model.c: one policy, everywhere (rein/model.h).
 *
 * - the table: every block's name list is the table's, every example
 *   parses, every default is within its bounds;
 * - the one duration grammar: fixed cases and a random round trip through
 *   rein_format_duration;
 * - conformance: for every call of every example contract, and for 1,000
 *   random valid contracts written from the table (seed printed; set
 *   REIN_TEST_SEED to replay), the policy that `rein policy --json`
 *   prints, the one the libcurl client runs (rein_curl_spec of
 *   rein_curl_new_from_contract) and the one the simulator builds for a
 *   scenario policy `{contract: DIR, caller, to}` (its spec, built with
 *   rein_policy_spec_build and read back with rein_policy_spec_of) are the
 *   same canonical JSON (the CLI's compared as JSON values: it writes through
 *   jansson); and the random spec -> contract YAML -> spec
 *   round-trips to the same JSON.
 *
 * Scopes are compared between `rein policy` and the simulator's declared
 * spec; the running objects do not know their scope (sharing is the
 * application's: rein/fleet.h), so the built ones are compared with the
 * declared scopes.
 *   test_model REIN_BINARY EXAMPLES_CONTRACTS_DIR
 */
#include "rein_test.h"

#include "rein/contract.h"
#include "rein/curl.h"
#include "rein/input.h"
#include "rein/model.h"
#include "rein/sim.h"

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *rein_bin, *examples_dir;
static char tmpdir[256];

/* ------------------------------------------------------------ helpers */

static char *spec_json(const rein_policy_spec *s) {
  size_t n = rein_policy_spec_json(s, NULL, 0);
  char *b = malloc(n + 1);
  assert_non_null(b);
  rein_policy_spec_json(s, b, n + 1);
  return b;
}

/* The "policy" member of `rein policy --json` (a balanced {...}). */
static char *policy_member(const char *out) {
  const char *p = strstr(out, "\"policy\":{");
  if (!p) {
    fprintf(stderr, "no policy in: %s\n", out);
    fail();
  }
  p += strlen("\"policy\":");
  int depth = 0;
  const char *q = p;
  for (; *q; q++) {
    if (*q == '{') depth++;
    else if (*q == '}' && --depth == 0) break;
  }
  size_t n = (size_t)(q - p + 1);
  char *r = malloc(n + 1);
  assert_non_null(r);
  memcpy(r, p, n);
  r[n] = 0;
  return r;
}

static void same(const char *what, const char *a, const char *b,
                 const char *ctx) {
  if (strcmp(a, b) != 0) {
    fprintf(stderr, "%s differ for %s:\n  %s\n  %s\n", what, ctx, a, b);
    fail();
  }
}

/* The three views of one call of the contracts in `dir`. */
static void conform(const char *dir, const char *caller, const char *to,
                    const rein_policy_spec *expect) {
  char ctx[512];
  snprintf(ctx, sizeof ctx, "%s: %s -> %s", dir, caller, to);
  /* the library's spec, and the CLI's */
  rein_contract_set *set = NULL;
  const char *paths[1] = {dir};
  if (rein_contract_load(NULL, paths, 1, &set) != REIN_OK) {
    for (size_t i = 0; set && i < rein_contract_diag_count(set); i++) {
      const rein_contract_diag *d = rein_contract_diag_at(set, i);
      fprintf(stderr, "%s:%u:%u: %s\n", d->loc.file, d->loc.line, d->loc.col,
              d->message);
    }
    system("cat \"$(ls -d /tmp/rein-test-model.*/random | head -1)/c.yaml\"");
    fail();
  }
  rein_policy_spec declared;
  rein_errbuf eb = {{0}};
  if (rein_spec_from_contract(set, caller, to, &declared, &eb) != REIN_OK) {
    fprintf(stderr, "%s: %s\n", ctx, eb.msg);
    fail();
  }
  char *dj = spec_json(&declared);
  if (expect) {
    char *ej = spec_json(expect);
    same("model -> YAML -> model", ej, dj, ctx);
    free(ej);
  }
  char *out = NULL;
  rein_test_run(rein_bin, &out, "policy '%s' --caller '%s' --to '%s' --json",
                dir, caller, to);
  char *cj = policy_member(out);
  /* the CLI writes through jansson: equal as JSON values (numbers as the
   * same doubles), not byte for byte */
  json_t *ja = json_loads(dj, 0, NULL), *jb = json_loads(cj, 0, NULL);
  if (!ja || !jb || !json_equal(ja, jb))
    same("rein policy --json and rein_spec_from_contract", dj, cj, ctx);
  json_decref(ja);
  json_decref(jb);
  if (!strstr(out, "\"valid\":true")) {
    fprintf(stderr, "%s: rein policy: %s\n", ctx, out);
    fail();
  }
  free(out);
  free(cj);
  /* the libcurl client */
  rein_curl *c = NULL;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.err = &eb;
  if (rein_curl_new_from_contract(&cc, set, caller, to, NULL, NULL, &c) !=
      REIN_OK) {
    fprintf(stderr, "%s: curl: %s\n", ctx, eb.msg);
    fail();
  }
  rein_policy_spec cs;
  assert_int_equal(rein_curl_spec(c, &cs), REIN_OK);
  cs.budget_scope = declared.budget_scope;
  cs.breaker_scope = declared.breaker_scope;
  cs.throttle_scope = declared.throttle_scope;
  char *uj = spec_json(&cs);
  same("contract and libcurl client", dj, uj, ctx);
  free(uj);
  rein_curl_free(c);
  rein_contract_set_free(set);
  /* the simulator: a scenario whose policy is the contract's */
  char text[8192], sname[512], abs[4096];
  if (!realpath(dir, abs)) fail();
  snprintf(sname, sizeof sname, "%s/scenario.yaml", tmpdir);
  snprintf(text, sizeof text,
           "duration: 1s\n"
           "policies:\n  p: {contract: '%s', caller: '%s', to: '%s'}\n"
           "servers:\n  - {name: s, concurrency: 1, service_time: {dist: "
           "constant, value: 1ms}}\n"
           "cohorts:\n  - {name: c, count: 1, target: s, policy: p, "
           "arrival: {mode: poisson, rate: 1}}\n",
           abs, caller, to);
  rein_sim_scenario *sc = NULL;
  if (rein_sim_scenario_parse(text, strlen(text), sname, NULL, &eb, &sc) !=
      REIN_OK) {
    fprintf(stderr, "%s: scenario: %s\n", ctx, eb.msg);
    fail();
  }
  rein_policy_spec ss;
  assert_int_equal(rein_sim_scenario_policy_spec(sc, "p", &ss), REIN_OK);
  char *sj = spec_json(&ss);
  same("contract and simulator (declared)", dj, sj, ctx);
  free(sj);
  rein_policy_objects o;
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.err = &eb;
  assert_int_equal(rein_policy_spec_build(&ss, &b, &o), REIN_OK);
  rein_policy_spec back;
  assert_int_equal(rein_policy_spec_of(o.policy, &back), REIN_OK);
  back.deadline_ns = ss.deadline_ns; /* the engine passes it per call */
  back.signals = ss.signals;
  back.budget_scope = ss.budget_scope;
  back.breaker_scope = ss.breaker_scope;
  back.throttle_scope = ss.throttle_scope;
  if (o.hedge) { /* a separate object, read back as the builder made it */
    back.has_hedge = true;
    back.hedge = *rein_hedge_policy_get_config(o.hedge);
  }
  char *bj = spec_json(&back);
  same("contract and simulator (built)", dj, bj, ctx);
  free(bj);
  rein_policy_objects_free(&o);
  rein_sim_scenario_free(sc);
  free(dj);
}

/* -------------------------------------------------------------- table */

static void test_table(void **st) {
  (void)st;
  size_t n;
  const rein_model_field *f = rein_model_fields(&n);
  assert_true(n >= 30);
  for (int b = 0; b < REIN_MODEL_BLOCK_COUNT_; b++) {
    const char *const *names = rein_model_names((rein_model_block)b);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if ((int)f[i].block != b) continue;
      assert_non_null(names[k]);
      assert_string_equal(names[k], f[i].name);
      k++;
    }
    assert_null(names[k]);
  }
  rein_policy_spec d;
  rein_policy_spec_default(&d);
  for (size_t i = 0; i < n; i++) {
    assert_non_null(f[i].doc);
    assert_non_null(f[i].example);
    assert_ptr_equal(rein_model_find(f[i].block, f[i].name, NULL), &f[i]);
    if (f[i].alias) {
      bool dep = false;
      assert_ptr_equal(rein_model_find(f[i].block, f[i].alias, &dep), &f[i]);
      assert_true(dep);
    }
    rein_policy_spec s;
    rein_policy_spec_default(&s);
    rein_errbuf eb = {{0}};
    if (f[i].type <= REIN_MODEL_ENUM) {
      if (rein_model_set(&s, &f[i], f[i].example, &eb) != REIN_OK) {
        fprintf(stderr, "%s.%s: example '%s': %s\n",
                rein_model_block_name(f[i].block), f[i].name, f[i].example,
                eb.msg);
        fail();
      }
      /* the default reads back and is accepted */
      char v[256];
      rein_model_get(&d, &f[i], v, sizeof v);
      if (rein_model_set(&s, &f[i], v, &eb) != REIN_OK) {
        fprintf(stderr, "%s.%s: default '%s': %s\n",
                rein_model_block_name(f[i].block), f[i].name, v, eb.msg);
        fail();
      }
    }
  }
  /* errors name what was expected */
  rein_policy_spec s;
  rein_policy_spec_default(&s);
  rein_errbuf eb = {{0}};
  const rein_model_field *att = rein_model_find(REIN_MODEL_RETRY, "attempts", NULL);
  assert_int_equal(rein_model_set(&s, att, "0", &eb), REIN_ERANGE);
  assert_string_equal(eb.msg, "must be in [1, 1000], got 0");
  const rein_model_field *base = rein_model_find(REIN_MODEL_BACKOFF, "base", NULL);
  assert_int_equal(rein_model_set(&s, base, "10", &eb), REIN_EPARSE);
  assert_non_null(strstr(eb.msg, "expected a duration such as 100ms"));
  const rein_model_field *fr =
      rein_model_find(REIN_MODEL_BREAKER, "failure_rate", NULL);
  assert_int_equal(rein_model_set(&s, fr, "0", &eb), REIN_ERANGE);
  assert_string_equal(eb.msg, "must be in (0, 1], got 0");
  /* the breaker window's spelling selects its kind */
  const rein_model_field *wc =
      rein_model_find(REIN_MODEL_BREAKER, "window_calls", NULL);
  assert_int_equal(rein_model_set(&s, wc, "50", &eb), REIN_OK);
  assert_int_equal(s.breaker.window, REIN_BREAKER_WINDOW_COUNT);
  /* a class counts as its typical kind; a status as its own */
  assert_int_equal(rein_model_name_kinds("5xx"),
                   REIN_RETRY_ON(REIN_OUTCOME_FAILURE));
  assert_int_equal(rein_model_name_kinds("503"),
                   REIN_RETRY_ON(REIN_OUTCOME_OVERLOADED));
  assert_int_equal(rein_model_name_kinds("504"),
                   REIN_RETRY_ON(REIN_OUTCOME_TIMEOUT));
  assert_int_equal(rein_model_name_kinds("400"), 0);
  assert_int_equal(rein_model_name_kinds("fatal"),
                   REIN_RETRY_ON(REIN_OUTCOME_FATAL));
}

/* ----------------------------------------------------------- duration */

static void test_duration(void **st) {
  (void)st;
  static const struct {
    const char *s;
    int64_t ns;
  } ok[] = {{"0", 0},
            {"250ms", 250000000},
            {"1.5s", 1500000000},
            {"1h30m", 5400 * REIN_NS_PER_S},
            {"2m30s", 150 * REIN_NS_PER_S},
            {"1min", 60 * REIN_NS_PER_S},
            {"1w", 7 * 86400 * REIN_NS_PER_S},
            {"1s500ms", 1500000000},
            {"7ns", 7},
            {"  15s", 15 * REIN_NS_PER_S}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t v = -1;
    assert_int_equal(rein_parse_duration(ok[i].s, &v), REIN_OK);
    assert_int_equal(v, ok[i].ns);
  }
  static const char *const bad[] = {"10", "1x", "1 s", "", "s", "1.2.3s",
                                    "1s 2m"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t v;
    assert_int_equal(rein_parse_duration(bad[i], &v), REIN_EPARSE);
  }
  int64_t v;
  assert_int_equal(rein_parse_duration("-1s", &v), REIN_ERANGE);
  assert_int_equal(rein_parse_duration("999999999999w", &v), REIN_ERANGE);
  char b[64];
  assert_string_equal(rein_format_duration(5400 * REIN_NS_PER_S, b, sizeof b),
                      "1h30m");
  assert_string_equal(rein_format_duration(1500000000, b, sizeof b),
                      "1s500ms");
  assert_string_equal(rein_format_duration(0, b, sizeof b), "0s");
  uint64_t seed = rein_test_seed();
  rein_rng r;
  rein_rng_seed(&r, seed);
  fprintf(stderr, "duration round trip: seed %llu\n", (unsigned long long)seed);
  for (int i = 0; i < 100000; i++) {
    int64_t x = (int64_t)(rein_rng_next(&r) >> (1 + rein_rng_next(&r) % 62));
    int64_t y = -1;
    rein_format_duration(x, b, sizeof b);
    assert_int_equal(rein_parse_duration(b, &y), REIN_OK);
    if (x != y) {
      fprintf(stderr, "%lld -> %s -> %lld\n", (long long)x, b, (long long)y);
      fail();
    }
  }
}

/* ----------------------------------------------------- the examples */

static void test_examples(void **st) {
  (void)st;
  DIR *d = opendir(examples_dir);
  assert_non_null(d);
  size_t calls = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", examples_dir, e->d_name);
    rein_contract_set *set = NULL;
    const char *paths[1] = {dir};
    if (rein_contract_load(NULL, paths, 1, &set) != REIN_OK) {
      rein_contract_set_free(set);
      continue; /* a directory of broken contracts, for rein check */
    }
    size_t n = rein_contract_call_count(set);
    for (size_t i = 0; i < n; i++) {
      const char *caller, *to;
      assert_int_equal(rein_contract_call_at(set, i, &caller, &to), REIN_OK);
      char c1[128], t1[128];
      snprintf(c1, sizeof c1, "%s", caller);
      snprintf(t1, sizeof t1, "%s", to);
      conform(dir, c1, t1, NULL);
      calls++;
    }
    rein_contract_set_free(set);
  }
  closedir(d);
  fprintf(stderr, "example contracts: %zu calls agree\n", calls);
  assert_true(calls >= 8);
}

/* ------------------------------------------------ random contracts */

static uint64_t rnd(rein_rng *r, uint64_t n) {
  return n ? rein_rng_next(r) % n : 0;
}

static void set_text(rein_policy_spec *s, rein_model_block b, const char *name,
                     const char *text) {
  rein_errbuf eb = {{0}};
  const rein_model_field *f = rein_model_find(b, name, NULL);
  assert_non_null(f);
  if (rein_model_set(s, f, text, &eb) != REIN_OK) {
    fprintf(stderr, "%s.%s = %s: %s\n", rein_model_block_name(b), name, text,
            eb.msg);
    fail();
  }
}

/* A random value of scalar field `f`, as text. */
static void random_value(rein_rng *r, const rein_model_field *f, char *buf,
                         size_t len) {
  double lo = f->min, hi = f->max;
  switch (f->type) {
  case REIN_MODEL_COUNT: {
    uint64_t top = hi - lo > 5000 ? 5000 : (uint64_t)(hi - lo);
    snprintf(buf, len, "%llu",
             (unsigned long long)(lo + (double)rnd(r, top + 1)));
    break;
  }
  case REIN_MODEL_NUMBER: {
    double u = (double)(rein_rng_next(r) >> 11) / 9007199254740992.0;
    double v = lo + u * (hi - lo);
    if (f->min_open && v <= lo) v = hi;
    if (rnd(r, 4) == 0) v = (double)(int64_t)(v * 1000) / 1000;
    if (f->min_open && v <= lo) v = hi;
    snprintf(buf, len, "%.17g", v);
    break;
  }
  case REIN_MODEL_DURATION: {
    /* milliseconds mostly, some arbitrary nanoseconds */
    double span = hi - lo;
    if (span > 3600e9) span = 3600e9;
    int64_t v = (int64_t)lo + (int64_t)rnd(r, (uint64_t)span + 1);
    if (rnd(r, 3)) v -= v % REIN_NS_PER_MS;
    if (v < (int64_t)lo) v = (int64_t)lo;
    rein_format_duration(v, buf, len);
    break;
  }
  case REIN_MODEL_ENUM: {
    size_t k = 0;
    while (f->names[k])
      k++;
    snprintf(buf, len, "%s", f->names[rnd(r, k)]);
    break;
  }
  default:
    buf[0] = 0;
  }
}

/* A random valid spec, every field drawn within the table's bounds. */
static void random_spec(rein_rng *r, rein_policy_spec *s) {
  rein_policy_spec_default(s);
  size_t n;
  const rein_model_field *f = rein_model_fields(&n);
  s->has_budget = rnd(r, 3) != 0;
  s->has_breaker = rnd(r, 2) != 0;
  s->has_throttle = rnd(r, 2) != 0;
  s->has_hedge = rnd(r, 3) == 0;
  for (size_t i = 0; i < n; i++) {
    if (f[i].type > REIN_MODEL_ENUM || !strcmp(f[i].name, "scope")) continue;
    if (!strcmp(f[i].name, "window_calls") || !strcmp(f[i].name, "window") ||
        !strcmp(f[i].name, "window_kind") || rnd(r, 4) == 0)
      if (f[i].block == REIN_MODEL_BREAKER) continue;
    char v[64];
    random_value(r, &f[i], v, sizeof v);
    set_text(s, f[i].block, f[i].name, v);
  }
  /* the contract's own rules for a valid policy */
  s->policy.attempt_timeout_ns += REIN_NS_PER_MS; /* a call has a timeout */
  if (s->policy.max_attempts < 2) s->has_budget = false; /* nothing to ration */
  if (s->policy.backoff.cap_ns < s->policy.backoff.base_ns)
    s->policy.backoff.cap_ns = s->policy.backoff.base_ns;
  if (s->budget.token_ratio > s->budget.max_tokens)
    s->budget.token_ratio = s->budget.max_tokens;
  uint32_t *q[] = {&s->budget.retry_cost, &s->budget.timeout_retry_cost,
                   &s->budget.success_increment};
  for (int k = 0; k < 3; k++)
    if (*q[k] > s->budget.capacity) *q[k] = s->budget.capacity;
  char w[64];
  if (rnd(r, 5) == 0) {
    set_text(s, REIN_MODEL_BREAKER, "window_kind", "cumulative");
  } else if (rnd(r, 2)) {
    random_value(r, rein_model_find(REIN_MODEL_BREAKER, "window", NULL), w,
                 sizeof w);
    set_text(s, REIN_MODEL_BREAKER, "window", w);
  } else {
    random_value(r, rein_model_find(REIN_MODEL_BREAKER, "window_calls", NULL),
                 w, sizeof w);
    set_text(s, REIN_MODEL_BREAKER, "window_calls", w);
  }
  /* fleet scope: a ratio budget, a time-window breaker (rein/fleet.h) */
  if (s->budget.kind == REIN_BUDGET_RATIO && rnd(r, 3) == 0)
    s->budget_scope = REIN_SCOPE_FLEET;
  if (s->breaker.window == REIN_BREAKER_WINDOW_TIME &&
      s->breaker.gates == REIN_BREAKER_GATES_ALL && rnd(r, 3) == 0)
    s->breaker_scope = REIN_SCOPE_FLEET;
  /* when: names that do not overlap (a class and its own statuses would be
   * merged by the canonical spelling) */
  static const char *const pool[] = {
      "429",     "503",         "500",       "502",       "408",
      "5xx",     "UNAVAILABLE", "RESOURCE_EXHAUSTED",     "DEADLINE_EXCEEDED",
      "ABORTED", "connect-failure", "reset", "timeout", "refused-stream",
      "overloaded", "failure"};
  const rein_model_field *when = rein_model_find(REIN_MODEL_RETRY, "when", NULL);
  rein_model_list_clear(s, when);
  bool has5xx = false, hasstatus5 = false;
  for (uint64_t k = 0, m = 1 + rnd(r, 4); k < m; k++) {
    const char *nm = pool[rnd(r, sizeof pool / sizeof pool[0])];
    if (!strcmp(nm, "5xx") && hasstatus5) continue;
    if (nm[0] == '5' && nm[1] != 'x' && has5xx) continue;
    if (!strcmp(nm, "overloaded") || !strcmp(nm, "failure")) {
      /* a kind covers statuses: keep it alone */
      rein_model_list_clear(s, when);
      rein_errbuf eb = {{0}};
      assert_int_equal(rein_model_list_add(s, when, nm, &eb), REIN_OK);
      break;
    }
    has5xx |= !strcmp(nm, "5xx");
    hasstatus5 |= nm[0] == '5' && nm[1] != 'x';
    rein_errbuf eb = {{0}};
    assert_int_equal(rein_model_list_add(s, when, nm, &eb), REIN_OK);
  }
  const rein_model_field *sig = rein_model_find(REIN_MODEL_RETRY, "signals", NULL);
  rein_model_list_clear(s, sig);
  static const char *const sigs[] = {"retry-after", "pushback", "ratelimit",
                                     "dont-retry"};
  for (int k = 0; k < 4; k++)
    if (rnd(r, 2)) {
      rein_errbuf eb = {{0}};
      assert_int_equal(rein_model_list_add(s, sig, sigs[k], &eb), REIN_OK);
    }
  s->policy.idempotent = true;
}

static void test_random_contracts(void **st) {
  (void)st;
  uint64_t seed = rein_test_seed();
  /* each contract runs `rein policy` once: under a sanitizer (30 ms an
   * exec) 1,000 took 35-44 s of CI, so there 200 (the plain build draws
   * 1,000, with the same seed) */
  int count = getenv("REIN_MODEL_CONTRACTS")
                  ? atoi(getenv("REIN_MODEL_CONTRACTS"))
              : REIN_TEST_SANITIZED ? 200
                                    : 1000;
  fprintf(stderr, "random contracts: %d, seed %llu (REIN_TEST_SEED=%llu "
                  "replays)\n",
          count, (unsigned long long)seed, (unsigned long long)seed);
  rein_rng r;
  rein_rng_seed(&r, seed);
  char dir[512], file[600];
  snprintf(dir, sizeof dir, "%s/random", tmpdir);
  mkdir(dir, 0700);
  for (int i = 0; i < count; i++) {
    rein_policy_spec s;
    random_spec(&r, &s);
    size_t n = rein_policy_spec_yaml(&s, true, 4, NULL, 0);
    char *y = malloc(n + 1);
    assert_non_null(y);
    rein_policy_spec_yaml(&s, true, 4, y, n + 1);
    snprintf(file, sizeof file, "%s/c.yaml", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fprintf(fp,
            "service: c\nversion: '1'\ninstances: 2\ncalls:\n"
            "  - to: s.op\n    rate: 10/s\n%s",
            y);
    fclose(fp);
    snprintf(file, sizeof file, "%s/s.yaml", dir);
    fp = fopen(file, "w");
    assert_non_null(fp);
    fprintf(fp, "service: s\nversion: '1'\ninstances: 2\ncapacity: 1000/s\n"
                "operations:\n  op: {idempotency: natural}\n");
    fclose(fp);
    free(y);
    conform(dir, "c", "s.op", &s);
  }
}

/* ------------------------------------------ loaders: refusals, warnings */

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

static const char callee_yaml[] =
    "service: s\nversion: '1'\ninstances: 2\ncapacity: 1000/s\n"
    "operations:\n  op: {idempotency: natural}\n";

/* Load a caller whose call to s.op has `retry` (YAML at 4 spaces). */
static rein_contract_set *load_call(const char *retry) {
  char dir[512], f[600], text[2048];
  snprintf(dir, sizeof dir, "%s/loader", tmpdir);
  mkdir(dir, 0700);
  snprintf(f, sizeof f, "%s/s.yaml", dir);
  write_file(f, callee_yaml);
  snprintf(f, sizeof f, "%s/c.yaml", dir);
  snprintf(text, sizeof text,
           "service: c\nversion: '1'\ninstances: 2\ncalls:\n  - to: s.op\n"
           "    timeout: 1s\n    retry:\n%s",
           retry);
  write_file(f, text);
  rein_contract_set *set = NULL;
  const char *paths[1] = {dir};
  rein_contract_load(NULL, paths, 1, &set);
  assert_non_null(set);
  return set;
}

static const char *first_message(const rein_contract_set *set) {
  return rein_contract_diag_count(set) ? rein_contract_diag_at(set, 0)->message
                                       : "";
}

static void test_loader_refusals(void **st) {
  (void)st;
  /* what the runtime refuses is an E004 at load, with the core's words */
  rein_contract_set *set = load_call(
      "      attempts: 3\n"
      "      budget: {kind: quota, capacity: 5, retry_cost: 10}\n");
  assert_true(rein_contract_has_load_errors(set));
  assert_non_null(strstr(first_message(set), "the runtime refuses this policy"));
  assert_non_null(strstr(first_message(set), "budget.retry_cost"));
  rein_contract_set_free(set);
  /* the table's bounds: a quota cost of 0 is refused */
  set = load_call("      attempts: 3\n"
                  "      budget: {kind: quota, retry_cost: 0}\n");
  assert_true(rein_contract_has_load_errors(set));
  assert_non_null(strstr(first_message(set), "must be in [1, 1000000]"));
  rein_contract_set_free(set);
  /* a status range is the statuses it spans */
  set = load_call("      attempts: 3\n      when: [500-502]\n");
  assert_false(rein_contract_has_load_errors(set));
  rein_policy_spec sp;
  assert_int_equal(rein_spec_from_contract(set, "c", "s.op", &sp, NULL),
                   REIN_OK);
  assert_true(rein_retryable_set_has(&sp.policy.retryable, REIN_COND_HTTP(501),
                                     REIN_OUTCOME_FAILURE));
  assert_false(rein_retryable_set_has(&sp.policy.retryable,
                                      REIN_COND_HTTP(503),
                                      REIN_OUTCOME_OVERLOADED));
  rein_contract_set_free(set);
}

static const char sim_world[] =
    "servers:\n  - {name: s, concurrency: 1, service_time: {dist: constant, "
    "value: 50ms}}\n"
    "cohorts:\n  - {name: c, count: 2, target: s, policy: p, timeout: 10ms, "
    "arrival: {mode: poisson, rate: 5}}\n";

static rein_status parse_scenario(const char *policy, rein_errbuf *eb,
                                  rein_sim_scenario **out) {
  char text[4096], name[600];
  snprintf(text, sizeof text, "duration: 10s\npolicies:\n  p: %s\n%s", policy,
           sim_world);
  snprintf(name, sizeof name, "%s/s.yaml", tmpdir);
  return rein_sim_scenario_parse(text, strlen(text), name, NULL, eb, out);
}

static void test_scenario_loader(void **st) {
  (void)st;
  rein_errbuf eb = {{0}};
  rein_sim_scenario *sc = NULL;
  /* an old spelling loads, with a warning naming the new one */
  assert_int_equal(
      parse_scenario("{max_attempts: 4, budget: {min_retries_per_sec: 2, "
                     "scope: cohort}}",
                     &eb, &sc),
      REIN_OK);
  assert_int_equal(rein_sim_scenario_warning_count(sc), 3);
  assert_non_null(strstr(rein_sim_scenario_warning(sc, 0),
                         "'max_attempts' is deprecated, write 'attempts'"));
  assert_null(rein_sim_scenario_warning(sc, 3));
  rein_policy_spec sp;
  assert_int_equal(rein_sim_scenario_policy_spec(sc, "p", &sp), REIN_OK);
  assert_int_equal(sp.policy.max_attempts, 4);
  assert_true(sp.budget.min_retries_per_sec == 2);
  assert_int_equal(sp.budget_scope, REIN_SCOPE_FLEET);
  rein_sim_scenario_free(sc);
  /* the new spelling: no warning */
  assert_int_equal(parse_scenario("{attempts: 4}", &eb, &sc), REIN_OK);
  assert_int_equal(rein_sim_scenario_warning_count(sc), 0);
  rein_sim_scenario_free(sc);
  /* a contract that does not load is named, with its first problem */
  assert_int_equal(
      parse_scenario("{contract: no-such-dir, caller: c, to: s.op}", &eb, &sc),
      REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "policies.p.contract: the contracts in"));
  assert_non_null(strstr(eb.msg, "no-such-dir"));
  assert_non_null(strstr(eb.msg, "run `rein check"));
  /* fields beside a contract are refused, not silently ignored */
  assert_int_equal(parse_scenario("{contract: x, caller: c, to: s.op, "
                                  "attempts: 2}",
                                  &eb, &sc),
                   REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "policies.p.attempts: a policy taken from a "
                                 "contract takes only"));
  /* an unknown call of a contract that loads */
  char dir[600];
  snprintf(dir, sizeof dir, "{contract: '%s/loader', caller: c, to: s.nope}",
           tmpdir);
  rein_contract_set_free(load_call("      attempts: 2\n"));
  assert_int_equal(parse_scenario(dir, &eb, &sc), REIN_EINVAL);
  assert_non_null(strstr(eb.msg, "has no call to 's.nope'"));
}

/* A policy's deadline bounds the simulated call when the cohort sets
 * none, as it bounds a libcurl client's. */
static void test_scenario_deadline(void **st) {
  (void)st;
  uint64_t dl[2];
  static const char *const pol[2] = {
      "{attempts: 5, backoff: {kind: constant, base: 100ms, cap: 100ms}}",
      "{attempts: 5, deadline: 150ms, backoff: {kind: constant, base: 100ms, "
      "cap: 100ms}}"};
  for (int k = 0; k < 2; k++) {
    rein_errbuf eb = {{0}};
    rein_sim_scenario *sc = NULL;
    if (parse_scenario(pol[k], &eb, &sc) != REIN_OK) {
      fprintf(stderr, "%s\n", eb.msg);
      fail();
    }
    rein_sim_run_config c;
    rein_sim_run_config_default(&c);
    c.err = &eb;
    rein_sim_result *r = NULL;
    assert_int_equal(rein_sim_run(sc, &c, &r), REIN_OK);
    dl[k] = rein_sim_result_summary(r)->giveups_by_reason[REIN_GIVEUP_DEADLINE];
    rein_sim_result_free(r);
    rein_sim_scenario_free(sc);
  }
  fprintf(stderr, "deadline give-ups: %llu without, %llu with a 150ms "
                  "policy deadline\n",
          (unsigned long long)dl[0], (unsigned long long)dl[1]);
  assert_int_equal(dl[0], 0);
  assert_true(dl[1] > 0);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: test_model REIN_BINARY CONTRACTS_DIR\n");
    return 2;
  }
  rein_bin = argv[1];
  examples_dir = argv[2];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/rein-test-model.XXXXXX");
  if (!mkdtemp(tmpdir)) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_duration),
      cmocka_unit_test(test_examples),
      cmocka_unit_test(test_random_contracts),
      cmocka_unit_test(test_loader_refusals),
      cmocka_unit_test(test_scenario_loader),
      cmocka_unit_test(test_scenario_deadline),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
