/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_contract.c: libFuzzer target for the contract loader and checker.
 *
 * Each input is split at the first NUL byte into two contract files, so the
 * fuzzer can build small graphs (calls across files, versions, chains) and
 * reach the rules, not only the parser. Loading, checking, the TTL table
 * and the policy bridge run on every input; any crash, leak or sanitizer
 * report is a bug.
 *
 * The writers are the exception in part. The whole SARIF log is written
 * for the first non-empty input only: its rules catalogue is the same
 * bytes whatever the input, and writing it was most of each input (the
 * target ran at ~1,000-1,700 execs per CPU second). After that every input
 * gets the text writer, and either the JSON writer or the SARIF results
 * (the part of a log that depends on the set), picked by a hash of the
 * input: both build a jansson tree per diagnostic, half of each input,
 * from the same strings. Both stay reachable from every set (a mutation
 * of any byte flips the choice) and an input always takes the same one.
 */
#include "contract_internal.h"
#include "rein/contract.h"

#include <stdbool.h>
#include <stdint.h>
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
    static bool sarif_once;
    if (!sarif_once && size > 0) { /* not libFuzzer's uncounted empty run */
      sarif_once = true;
      rein_contract_write(s, REIN_CONTRACT_FORMAT_SARIF, null);
    }
    uint32_t h = 2166136261u; /* FNV-1a of the input */
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
    if (h & 1)
      rein_contract_write(s, REIN_CONTRACT_FORMAT_JSON, null);
    else
      rein__rc_write_sarif_results(s, null);
  }
  rein_contract_set_free(s);
  return 0;
}
