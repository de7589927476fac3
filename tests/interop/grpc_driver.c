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
