/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_contract.c: loading contracts for a subcommand, with the same error
 * reporting everywhere (a load failure, or every diagnostic of files that
 * did not load), so `rein policy` and `rein ttl` cannot drift apart.
 */
#include "lib_contract.h"

#include <stdio.h>

rein_contract_set *rein_cli_load_contracts(const char *cmd,
                                           const char **paths, size_t n) {
  rein_contract_set *s = NULL;
  rein_status st = rein_contract_load(NULL, paths, n, &s);
  if (!s) {
    fprintf(stderr, "rein %s: %s\n", cmd, rein_strerror(st));
    return NULL;
  }
  if (rein_contract_has_load_errors(s)) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    rein_contract_set_free(s);
    return NULL;
  }
  return s;
}
