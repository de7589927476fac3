/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_contract_examples.c: the shipped examples/contracts, through the real
 * `rein` binary: each bad example exits 1 with exactly its expected rule ids,
 * each *-fixed variant and the ledger contract exit 0; `rein ttl`, `rein
 * policy`, --format, --explain, --disable and usage errors exit as
 * documented. argv[1] is the rein binary, argv[2] examples/contracts.
 */
#include "rein_test.h"
#include "rein.h"
#include "rein/contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *rein, *dir;

/* Run `rein ARGS` (ARGS may use %s for the examples dir); stdout+stderr
 * captured into a malloc'd string; exit code returned. */
/* `rein ARGS`: exit code, output in *out (rein_test_run). */
#define run(out, ...) rein_test_run(rein, out, __VA_ARGS__)

/* The rule ids of "file:l:c: severity[RULE]:" lines, sorted, comma-joined. */
static void rule_ids(const char *out, char *ids, size_t len) {
  char found[64][8];
  int n = 0;
  for (const char *p = out; (p = strstr(p, "]: ")) && n < 64; p++) {
    const char *b = p;
    while (b > out && b[-1] != '[')
      b--;
    if (p - b != 4) continue;
    memcpy(found[n], b, 4);
    found[n++][4] = 0;
  }
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (strcmp(found[j], found[i]) < 0) {
        char t[8];
        memcpy(t, found[i], 8);
        memcpy(found[i], found[j], 8);
        memcpy(found[j], t, 8);
      }
  size_t o = 0;
  ids[0] = 0;
  for (int i = 0; i < n; i++)
    o += (size_t)snprintf(ids + o, len - o, "%s%s", i ? "," : "", found[i]);
}

static void check_example(const char *example, int code, const char *ids) {
  char *out, got[256];
  int rc = run(&out, "check '%s/%s'", dir, example);
  rule_ids(out, got, sizeof got);
  if (rc != code || strcmp(got, ids) != 0)
    fprintf(stderr, "%s: exit %d, rules %s\n%s\n", example, rc, got, out);
  assert_int_equal(rc, code);
  assert_string_equal(got, ids);
  free(out);
}

static void test_examples(void **st) {
  (void)st;
  check_example("payments", 1, "R001,R009");
  check_example("ingestion", 1, "R003,R005");
  check_example("layers", 1, "R004");
  check_example("broker", 1, "R013,R013,R013");
  check_example("payments-fixed", 0, "");
  check_example("ingestion-fixed", 0, "");
  check_example("layers-fixed", 0, "");
  check_example("broker-fixed", 0, "");
  check_example("ledger", 0, "");
}

static void test_payments_chain_text(void **st) {
  (void)st;
  char *out;
  assert_int_equal(run(&out, "check -q '%s/payments'", dir), 1);
  assert_non_null(strstr(out, "/payments/card-network.yaml:10:14: "
                              "error[R001]: card-network.charge keeps "
                              "idempotency keys for 24h, but the same key "
                              "reaches it through merchant (72h) -> "
                              "processor (30s) -> card-network.charge for up "
                              "to 72h30s"));
  assert_non_null(strstr(out, "changed: charge.key_ttl 7d -> 24h"));
  free(out);
}

/* R013 on the outbox relay: the numbers, the default window, the kafka
 * producer and the consumer without an inbox; JSON and SARIF carry it */
static void test_broker_numbers(void **st) {
  (void)st;
  char *out;
  assert_int_equal(run(&out, "check -q '%s/broker'", dir), 1);
  assert_non_null(strstr(
      out, "/broker/outbox-relay.yaml:18:15: error[R013]: outbox-relay "
           "publishes to fulfilment.order_placed through jetstream with "
           "retries for up to 5m (retry.window), but the stream deduplicates "
           "Nats-Msg-Id for 2m (the nats-server default): a re-publish after "
           "2m is a duplicate the broker keeps\n"
           "  fix: raise the stream's duplicate_window to at least 5m"));
  assert_non_null(strstr(out, "error[R013]: outbox-relay re-publishes to "
                              "analytics.order_event through kafka for up "
                              "to 1m33s (3 attempts x 30s timeout + 3s "
                              "backoff) without an idempotent producer"));
  assert_non_null(strstr(out, "/broker/fulfilment.yaml:9:38: error[R013]: "
                              "fulfilment.order_placed consumes from "
                              "jetstream without an inbox (inbox: false)"));
  free(out);
  assert_int_equal(run(&out, "check --format json '%s/broker'", dir), 1);
  assert_non_null(strstr(out, "\"rule\":\"R013\""));
  free(out);
  assert_int_equal(run(&out, "check --format sarif '%s/broker'", dir), 1);
  assert_non_null(strstr(out, "\"id\":\"R013\""));
  assert_non_null(strstr(out, "broker-dedup-window"));
  free(out);
  assert_int_equal(run(NULL, "check --disable R013 '%s/broker'", dir), 0);
  assert_int_equal(run(&out, "check --explain R013"), 0);
  assert_non_null(strstr(out, "duplicate_window"));
  free(out);
}

static void test_other_commands(void **st) {
  (void)st;
  char *out;
  assert_int_equal(run(&out, "ttl '%s/payments'", dir), 1);
  assert_non_null(strstr(out, "card-network.charge                         "
                              "24h     72h30s  SHORT  merchant (72h) -> "
                              "processor (30s) -> card-network.charge"));
  free(out);
  assert_int_equal(run(NULL, "ttl '%s/payments-fixed'", dir), 0);
  assert_int_equal(run(&out,
                       "policy '%s/ledger' --caller client --to "
                       "ledger.charge",
                       dir),
                   0);
  assert_non_null(strstr(out, "  attempts        4 (including the first)\n"));
  assert_non_null(strstr(out, "  valid           yes"));
  free(out);
  /* --json: what is retried and the honoured signals are names */
  assert_int_equal(run(&out,
                       "policy '%s/payments' --caller processor --to "
                       "card-network.charge --json",
                       dir),
                   0);
  assert_non_null(strstr(out, "\"when\":[\"429\",\"503\",\"timeout\"]"));
  assert_non_null(strstr(out, "\"signals\":[\"retry-after\",\"dont-retry\"]"));
  assert_null(strstr(out, "_mask"));
  free(out);
  assert_int_equal(
      run(NULL, "policy '%s/ledger' --caller client --to x.y", dir), 2);
  assert_int_equal(run(&out, "check --format sarif '%s/layers'", dir), 1);
  assert_non_null(strstr(out, "\"version\":\"2.1.0\""));
  free(out);
  assert_int_equal(run(NULL, "check --format json '%s/ingestion'", dir), 1);
  assert_int_equal(run(&out,
                       "check --format=json --disable=R003,R005 "
                       "'%s/ingestion'",
                       dir),
                   0);
  assert_non_null(strstr(out, "\"summary\":{\"contracts\":2,\"errors\":0,"));
  free(out);
  assert_int_equal(run(NULL, "check --disable R003,R005 '%s/ingestion'", dir),
                   0);
  assert_int_equal(run(NULL, "check --max-amplification 100 '%s/layers'", dir),
                   0);
  assert_int_equal(run(&out, "check --explain R001"), 0);
  assert_non_null(strstr(out, "R001 key-ttl-shorter-than-retry-window"));
  free(out);
  assert_int_equal(run(NULL, "check --explain R042"), 2);
  assert_int_equal(run(&out, "check - < '%s/layers/stock-db.yaml'", dir), 0);
  free(out);
  assert_int_equal(run(&out, "check - < /dev/null"), 2);
  assert_non_null(strstr(out, "<stdin>:1:1: error[E005]: empty contract"));
  free(out);
  assert_int_equal(run(NULL, "check --format xml '%s/ledger'", dir), 2);
  assert_int_equal(run(NULL, "check"), 2);
  assert_int_equal(run(NULL, "check /nonexistent/contracts"), 2);
}

/* Every call of every example yields configs the core accepts: what was
 * checked is what runs. */
static void test_every_call_instantiates(void **st) {
  (void)st;
  const char *ex[] = {"payments",        "payments-fixed", "ingestion",
                      "ingestion-fixed", "layers",         "layers-fixed",
                      "ledger",          "broker",         "broker-fixed"};
  size_t total = 0;
  for (size_t e = 0; e < sizeof ex / sizeof *ex; e++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, ex[e]);
    const char *paths[] = {path};
    rein_contract_set *s;
    assert_int_equal(rein_contract_load(NULL, paths, 1, &s), REIN_OK);
    assert_int_equal(rein_contract_check(s, NULL), REIN_OK);
    for (size_t i = 0; i < rein_contract_call_count(s); i++) {
      const char *caller, *to;
      assert_int_equal(rein_contract_call_at(s, i, &caller, &to), REIN_OK);
      rein_contract_policy cp;
      rein_errbuf eb = {{0}};
      assert_int_equal(rein_policy_from_contract(s, caller, to, &cp, &eb),
                       REIN_OK);
      rein_budget *b = NULL;
      rein_breaker *br = NULL;
      rein_throttle *t = NULL;
      rein_policy *p = NULL;
      cp.budget.err = cp.breaker.err = cp.throttle.err = cp.policy.err = &eb;
      if (cp.has_budget) assert_int_equal(rein_budget_new(&cp.budget, &b), 0);
      if (cp.has_breaker)
        assert_int_equal(rein_breaker_new(&cp.breaker, &br), 0);
      if (cp.has_throttle)
        assert_int_equal(rein_throttle_new(&cp.throttle, &t), 0);
      cp.policy.budget = b;
      cp.policy.breaker = br;
      cp.policy.throttle = t;
      rein_status r = rein_policy_new(&cp.policy, &p);
      if (r != REIN_OK) fail_msg("%s -> %s: %s", caller, to, eb.msg);
      rein_policy_free(p);
      rein_throttle_free(t);
      rein_breaker_free(br);
      rein_budget_free(b);
      total++;
    }
    const char *c, *t;
    assert_int_equal(
        rein_contract_call_at(s, rein_contract_call_count(s), &c, &t),
        REIN_ENOTFOUND);
    rein_contract_set_free(s);
  }
  assert_int_equal(total, 17);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s REIN EXAMPLES_DIR\n", argv[0]);
    return 2;
  }
  rein = argv[1];
  dir = argv[2];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_examples),
      cmocka_unit_test(test_payments_chain_text),
      cmocka_unit_test(test_broker_numbers),
      cmocka_unit_test(test_other_commands),
      cmocka_unit_test(test_every_call_instantiates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
