/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_contract.h: what the contract subcommands (policy, ttl) share.
 */
#ifndef REIN_CLI_LIB_CONTRACT_H
#define REIN_CLI_LIB_CONTRACT_H

#include "rein/contract.h"

#include <stddef.h>

/* Load the contracts at `paths` for subcommand `cmd` (with the Envoy, gRPC
 * and Istio files among them, as `rein check` reads them). On success returns the
 * set (the caller frees it). When loading fails or any file has load errors,
 * prints the reason or every diagnostic to stderr and returns NULL: the
 * caller exits with REIN_EXIT_USAGE. */
rein_contract_set *rein_cli_load_contracts(const char *cmd,
                                           const char **paths, size_t n);

#endif
