/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_contract.c: loading contracts for a subcommand, with the same error
 * reporting everywhere (a load failure, or every diagnostic of files that
 * did not load), so `rein policy` and `rein ttl` cannot drift apart. The
 * paths may mix contracts with Envoy, gRPC and Istio files, read as
 * `rein check` reads them (lib_mesh.h, with the directories'
 * rein-overlay.yaml).
 */
#include "lib_contract.h"

#include "lib_mesh.h"

#include <stdio.h>

rein_contract_set *rein_cli_load_contracts(const char *cmd,
                                           const char **paths, size_t n) {
  rein_contract_set *s = NULL;
  rein_status st = rein_contract_set_new(NULL, &s);
  rein_cli_mesh *m = st == REIN_OK ? rein_cli_mesh_new(cmd, NULL, false) : NULL;
  if (st == REIN_OK && !m) st = REIN_ENOMEM;
  if (st == REIN_OK)
    st = rein_cli_mesh_attach(m, s, NULL, (const char *const *)paths, n);
  for (size_t i = 0; st != REIN_ENOMEM && i < n; i++) {
    rein_status x = rein_contract_add_path(s, paths[i]);
    if (x == REIN_ENOMEM || x == REIN_EINVAL) st = x;
  }
  rein_contract_set_importer(s, NULL, NULL);
  rein_cli_mesh_free(m);
  if (st == REIN_ENOMEM || st == REIN_EINVAL) {
    fprintf(stderr, "rein %s: %s\n", cmd, rein_strerror(st));
    rein_contract_set_free(s);
    return NULL;
  }
  if (rein_contract_has_load_errors(s)) {
    rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
    rein_contract_set_free(s);
    return NULL;
  }
  return s;
}
