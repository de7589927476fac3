/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein.h: the core of rein, in one include.
 *
 * Pulls in the retry engine and its parts; none of them needs anything but
 * libc, libm and pthreads. Optional modules (contracts, simulator, idempotency
 * store, inbox, fleet, curl, admission) have their own headers under rein/
 * and their own libraries, and are never included from here.
 */
#ifndef REIN_H
#define REIN_H

#include "rein/common.h"
#include "rein/errors.h"
#include "rein/version.h"
#include "rein/clock.h"
#include "rein/rng.h"
#include "rein/backoff.h"
#include "rein/classify.h"
#include "rein/budget.h"
#include "rein/breaker.h"
#include "rein/throttle.h"
#include "rein/signal.h"
#include "rein/metrics.h"
#include "rein/retry.h"
#include "rein/hedge.h"

#endif /* REIN_H */
