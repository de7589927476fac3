/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ix_test.h: helpers shared by the Kubernetes-format interop tests
 * (test_interop_istio, _gateway, _linkerd), compiled into each
 * (tests/interop.cmake): whether an export warned about a field, and the
 * generator of random valid contracts the round trips run over.
 */
#ifndef REIN_IX_TEST_H
#define REIN_IX_TEST_H

#include <stdbool.h>
#include <stddef.h>

#include "rein/interop.h"
#include "rein/rng.h"

/* Did export `ex` warn about `field` of the call at `path` (or a field
 * below it)? */
bool ix_warned(const rein_interop *ex, const char *path, const char *field);
/* A random valid contract (YAML) of one caller in `buf`. */
void ix_random_contract(rein_rng *r, char *buf, size_t cap);

#endif
