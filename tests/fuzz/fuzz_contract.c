/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_contract.c: libFuzzer target for the contract loader and checker.
 *
 * Each input is split at the first NUL byte into two contract files, so the
 * fuzzer can build small graphs (calls across files, versions, chains) and
 * reach the rules, not only the parser. Loading, checking, the TTL table,
 * the policy bridge and all three writers run on every input; any crash,
 * leak or sanitizer report is a bug.
 *
 * The SARIF writer is the exception in part: its whole log is written for
 * the first non-empty input only, and for every input after that its results (the
 * one part of a log that depends on the set). The rules catalogue before
 * them is the same bytes whatever the input, and writing it was 60% of
 * each input (the contract target ran at ~1,700 execs per CPU second);
 * nothing it could reach on a later input is not reached on the first.
 */
#include "contract_internal.h"
#include "rein/contract.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  rein_contract_set *s;
  if (rein_contract_set_new(NULL, &s) != REIN_OK) return 0;
  const char *p = (const char *)data;
  const char *nul = memchr(p, 0, size);
  size_t first = nul ? (size_t)(nul - p) : size;
  rein_contract_add_buffer(s, "a.yaml", p, first);
  if (nul) rein_contract_add_buffer(s, "b.yaml", nul + 1, size - first - 1);
  rein_contract_check(s, NULL);
  const rein_contract_ttl *t;
  size_t n;
  rein_contract_ttls(s, &t, &n);
  rein_contract_policy cp;
  rein_errbuf eb;
  for (size_t i = 0; i < rein_contract_call_count(s) && i < 64; i++) {
    const char *caller, *to;
    if (rein_contract_call_at(s, i, &caller, &to) == REIN_OK)
      rein_policy_from_contract(s, caller, to, &cp, &eb);
  }
  rein_policy_from_contract(s, "a", "b.x", &cp, &eb);
  /* opened once: an open and a close per input were 7% of the run */
  static FILE *null;
  if (!null) null = fopen("/dev/null", "w");
  if (null) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, null);
    rein_contract_write(s, REIN_CONTRACT_FORMAT_JSON, null);
    static bool sarif_once;
    if (!sarif_once && size > 0) { /* not libFuzzer's uncounted empty run */
      sarif_once = true;
      rein_contract_write(s, REIN_CONTRACT_FORMAT_SARIF, null);
    }
    rein__rc_write_sarif_results(s, null);
  }
  rein_contract_set_free(s);
  return 0;
}
