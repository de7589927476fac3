/* SPDX-License-Identifier: Apache-2.0 */
/*
 * grpc_driver.c: rein's half of the gRPC runtime comparison
 * (tests/interop/grpc_runtime.py). It loads a contract, builds the call's
 * policy with the one builder (rein_spec_from_contract,
 * rein_policy_spec_build: what an application runs) and plays a sequence
 * of attempt outcomes against it, the same sequence the Python gRPC
 * server plays against a real gRPC client using the exported service
 * config: attempt k (counted over every call) fails with UNAVAILABLE when
 * character k of PATTERN is 'F' and succeeds when it is 'S' (past the end:
 * the last character repeats).
 *
 *   grpc_driver CONTRACT CALLER TO PATTERN CALLS
 *
 * prints the attempts each call made as a JSON array ("[3,2,1]"). The
 * clock is a fake one (each wait is added to it), so the result depends on
 * the decisions only.
 *
 *   grpc_driver CONTRACT CALLER TO hedge:SCRIPT 1
 *
 * runs one hedged call instead (rein_hedge over the built hedge policy;
 * tests/interop/grpc_hedge.cjs plays the same script against grpc-js):
 * SCRIPT is "MS:STATUS,..." — attempt k answers MS milliseconds after it
 * was sent with that gRPC status (past the end: the last entry repeats).
 * The events are run in fake time, in order; prints {"attempts": N,
 * "status": "NAME", "elapsed_ms": T} (status of the winner, or of the
 * answer that ended the call).
 */
#include "rein.h"
#include "rein/contract.h"
#include "rein/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_clock(void *ctx) {
  return *(const int64_t *)ctx;
}

typedef struct step {
  int64_t ms;
  uint32_t code;
} step;

static int grpc_code_of(const char *name, size_t n) {
  for (uint32_t c = 0; c < REIN_GRPC_CODE_COUNT_; c++) {
    const char *nm = rein_grpc_code_name(c);
    if (strlen(nm) == n && strncmp(nm, name, n) == 0) return (int)c;
  }
  return -1;
}

static int run_hedge(const rein_policy_objects *o, const char *script,
                     int64_t *now) {
  step st[REIN_HEDGE_MAX_ATTEMPTS];
  size_t ns = 0;
  for (const char *p = script; *p && ns < REIN_HEDGE_MAX_ATTEMPTS;) {
    char *e;
    long ms = strtol(p, &e, 10);
    if (e == p || *e != ':' || ms < 0) return 2;
    p = e + 1;
    size_t n = strcspn(p, ",");
    int c = grpc_code_of(p, n);
    if (c < 0) return 2;
    st[ns].ms = ms;
    st[ns++].code = (uint32_t)c;
    p += n;
    if (*p == ',') p++;
  }
  if (!ns || !o->hedge) return 2;
  rein_hedge h;
  rein_hedge_init(&h, o->hedge, NULL);
  int64_t t0 = *now, due[REIN_HEDGE_MAX_ATTEMPTS + 1], poll_at = -1;
  bool live[REIN_HEDGE_MAX_ATTEMPTS + 1] = {0};
  uint32_t last = 0;
  rein_hedge_decision d = rein_hedge_begin(&h, *now);
  for (int guard = 0; guard < 1000; guard++) {
    if (d.action == REIN_ATTEMPT) {
      const step *x = &st[d.attempt - 1 < ns ? d.attempt - 1 : ns - 1];
      due[d.attempt] = *now + x->ms * 1000000;
      live[d.attempt] = true;
    }
    if (d.action == REIN_DONE || d.action == REIN_GIVE_UP) break;
    poll_at = d.next_ns >= 0 ? *now + d.next_ns : -1;
    /* the next event: the earliest answer, or the poll */
    uint32_t k = 0;
    for (uint32_t a = 1; a <= REIN_HEDGE_MAX_ATTEMPTS; a++)
      if (live[a] && (!k || due[a] < due[k])) k = a;
    if (poll_at >= 0 && (!k || poll_at < due[k])) {
      *now = poll_at;
      d = rein_hedge_poll(&h, *now);
      continue;
    }
    if (!k) break;
    *now = due[k];
    live[k] = false;
    last = k;
    const step *x = &st[k - 1 < ns ? k - 1 : ns - 1];
    rein_outcome out;
    memset(&out, 0, sizeof out);
    out.condition = REIN_COND_GRPC(x->code);
    out.kind = rein_condition_kind(out.condition);
    d = rein_hedge_outcome(&h, k, &out, *now);
  }
  uint32_t end = d.action == REIN_DONE ? d.winner : last;
  const step *x = &st[end && end - 1 < ns ? end - 1 : ns - 1];
  printf("{\"attempts\": %u, \"status\": \"%s\", \"elapsed_ms\": %lld}\n",
         d.sent, end ? rein_grpc_code_name(x->code) : "NONE",
         (long long)((*now - t0) / 1000000));
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: grpc_driver CONTRACT CALLER TO PATTERN CALLS\n");
    return 2;
  }
  const char *paths[] = {argv[1]};
  rein_contract_set *s;
  if (rein_contract_load(NULL, paths, 1, &s) != REIN_OK) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    return 2;
  }
  rein_policy_spec sp;
  rein_errbuf eb = {{0}};
  if (rein_spec_from_contract(s, argv[2], argv[3], &sp, &eb) != REIN_OK) {
    fprintf(stderr, "grpc_driver: %s\n", eb.msg);
    return 2;
  }
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.err = &eb;
  int64_t fake_now = 0;
  b.clock.now_ns = fake_clock;
  b.clock.ctx = &fake_now;
  rein_policy_objects o;
  if (rein_policy_spec_build(&sp, &b, &o) != REIN_OK) {
    fprintf(stderr, "grpc_driver: %s\n", eb.msg);
    return 2;
  }
  if (strncmp(argv[4], "hedge:", 6) == 0) {
    int rc = run_hedge(&o, argv[4] + 6, &fake_now);
    if (rc)
      fprintf(stderr, "grpc_driver: bad script or no hedge: %s\n", argv[4]);
    rein_policy_objects_free(&o);
    rein_contract_set_free(s);
    return rc;
  }
  const char *pat = argv[4];
  size_t plen = strlen(pat), k = 0;
  long calls = atol(argv[5]);
  printf("[");
  for (long c = 0; c < calls && c < 10000; c++) {
    rein_retry r;
    rein_retry_init(&r, o.policy, NULL);
    rein_decision d = rein_retry_begin(&r, fake_now);
    unsigned attempts = 0;
    while (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      if (d.action == REIN_WAIT) {
        fake_now += d.delay_ns;
        d = rein_retry_next(&r, NULL, fake_now);
        continue;
      }
      attempts++;
      char ch = plen ? pat[k < plen ? k : plen - 1] : 'F';
      k++;
      rein_outcome out;
      memset(&out, 0, sizeof out);
      if (ch == 'S') {
        out.kind = REIN_OUTCOME_SUCCESS;
        out.condition = REIN_COND_GRPC(0);
      } else {
        out.kind = REIN_OUTCOME_OVERLOADED;
        out.condition = REIN_COND_GRPC(14); /* UNAVAILABLE */
      }
      fake_now += 1000000; /* 1 ms per attempt */
      d = rein_retry_next(&r, &out, fake_now);
    }
    printf("%s%u", c ? "," : "", attempts);
  }
  printf("]\n");
  rein_policy_objects_free(&o);
  rein_contract_set_free(s);
  return 0;
}
