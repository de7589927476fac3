/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_internal.h: what fleet.c and scripts.c share; not installed.
 */
#ifndef REIN_FLEET_INTERNAL_H
#define REIN_FLEET_INTERNAL_H

#include "rein/fleet.h"

/* The Lua sources (scripts.c); docs/fleet.md describes their contracts. */
extern const char rein__fleet_lua_budget[];
extern const char rein__fleet_lua_breaker[];

#endif
