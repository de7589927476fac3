/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/errors.h: the one status enum of rein.
 *
 * Every fallible rein function returns rein_status: REIN_OK (0) or a negative
 * code. Codes are only ever appended, never renumbered, so a code seen in a log
 * means the same thing in every version. The table below generates the enum,
 * rein_strerror and rein_status_name; add new codes at the end only.
 */
#ifndef REIN_ERRORS_H
#define REIN_ERRORS_H

#include "rein/common.h"

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message) */
#define REIN_STATUS_TABLE(X)                                                   \
  X(REIN_OK, 0, "success")                                                     \
  X(REIN_EINVAL, -1, "invalid argument or configuration")                     \
  X(REIN_ENOMEM, -2, "out of memory")                                          \
  X(REIN_ERANGE, -3, "value out of range")                                     \
  X(REIN_EPARSE, -4, "malformed input")                                        \
  X(REIN_ENOTFOUND, -5, "not found")                                           \
  X(REIN_EBUSY, -6, "busy: held by someone else")                              \
  X(REIN_ESTALE, -7, "stale token: the lease was taken over")                  \
  X(REIN_ECONFLICT, -8, "conflict with existing state")                        \
  X(REIN_ETOOBIG, -9, "too large")                                             \
  X(REIN_EIO, -10, "I/O error")                                                \
  X(REIN_EBACKEND, -11, "backend error (see the handle's message)")            \
  X(REIN_ETIMEDOUT, -12, "timed out")                                          \
  X(REIN_ECLOSED, -13, "closed or unreachable")                                \
  X(REIN_ESTATE, -14, "call not valid in the current state")                   \
  X(REIN_EUNSUPPORTED, -15, "not supported")                                   \
  X(REIN_EAGAIN, -16, "try again later")                                       \
  X(REIN_EGAVEUP, -17, "gave up retrying (see the give-up reason)")            \
  X(REIN_EEXPIRED, -18, "expired")                                             \
  X(REIN_ENOTDURABLE, -19,                                                     \
    "not durable: too few replicas acknowledged the write")

typedef enum rein_status {
#define REIN__STATUS_ENUM(name, value, msg) name = value,
  REIN_STATUS_TABLE(REIN__STATUS_ENUM)
#undef REIN__STATUS_ENUM
} rein_status;

/* A one-line English description of `s`; never NULL ("unknown status" for a
 * value not in the table). Thread-safe; the string is static. */
REIN_API const char *rein_strerror(rein_status s);

/* The enumerator's name, e.g. "REIN_EINVAL"; "REIN_UNKNOWN" when unknown. */
REIN_API const char *rein_status_name(rein_status s);

/* Write a printf-style message into `err` (nothing when `err` is NULL) and
 * return `st`, so a validator can write
 *   return rein_errbuf_set(c->err, REIN_EINVAL, "x.y: must be > 0, got %d", v);
 * The message is truncated to fit. */
REIN_API rein_status rein_errbuf_set(rein_errbuf *err, rein_status st,
                                     const char *fmt, ...) REIN_PRINTF(3, 4);
/* The same with a va_list. */
REIN_API rein_status rein_errbuf_vset(rein_errbuf *err, rein_status st,
                                      const char *fmt, va_list ap);

#ifdef __cplusplus
}
#endif
#endif /* REIN_ERRORS_H */
