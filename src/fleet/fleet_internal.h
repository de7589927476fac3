/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_internal.h: what fleet.c and scripts.c share; not installed.
 */
#ifndef REIN_FLEET_INTERNAL_H
#define REIN_FLEET_INTERNAL_H

#include "rein/fleet.h"

#include <stdbool.h>
#include <stddef.h>

/* The Lua sources (scripts.c); docs/fleet.md describes their contracts. */
extern const char rein__fleet_lua_budget[];
extern const char rein__fleet_lua_breaker[];

/* The shape every fleet script reply has: an array of at least n integers,
 * copied into v (fleet.c; the fuzz target calls it). */
struct redisReply;
bool rein__fleet_reply_ints(const struct redisReply *r, long long *v, size_t n);

#endif
