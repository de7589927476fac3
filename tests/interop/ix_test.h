/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ix_test.h: helpers shared by the Kubernetes-format interop tests
 * (test_interop_grpc, _istio, _gateway, _linkerd, _sdk), compiled into each
 * (tests/interop.cmake): whether an export warned about a field, and the
 * generators of random valid contracts (and hedge blocks) the round
 * trips run over.
 */
#ifndef REIN_IX_TEST_H
#define REIN_IX_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "rein/interop.h"
#include "rein/model.h"
#include "rein/rng.h"

/* Did export `ex` warn about `field` of the call at `path` (or a field
 * below it)? */
bool ix_warned(const rein_interop *ex, const char *path, const char *field);
/* A random valid contract (YAML) of one caller in `buf`. */
void ix_random_contract(rein_rng *r, char *buf, size_t cap);
/* Give `sp` a random valid hedge block (attempts 1..7, a delay up to 2 s,
 * a third of them at quantile 0.95). */
void ix_random_hedge(rein_rng *r, rein_policy_spec *sp);

#endif
