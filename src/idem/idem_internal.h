/* SPDX-License-Identifier: Apache-2.0 */
/*
 * idem_internal.h: what the idempotency store's front end (idem.c) shares
 * with its backends (mem.c, sqlite.c, pg.c, redis.c); not installed.
 *
 * The front end validates arguments, hashes the scope and key into a record
 * id, draws the claim nonce, applies the error-caching policy and the size
 * cap, and keeps the error message. A backend only stores and fetches
 * records atomically. Backends that keep their own time (PostgreSQL, Redis)
 * ignore the `now` the front end passes; the others decide with
 * rein__idem_decide(), the one place the state rules are written in C (the
 * PostgreSQL statement and the Redis script restate them; the conformance
 * suite holds all four to the same behaviour).
 *
 * The REIN_API hooks below are the interface between librein_idem and the
 * backend libraries of the same release (librein_idem_sqlite, _pg,
 * _redis): exported from librein_idem.so under the REIN_PRIVATE_<version>
 * symbol version, so a backend library from another release fails to load
 * rather than misreading a struct. Not for applications.
 */
#ifndef REIN_IDEM_INTERNAL_H
#define REIN_IDEM_INTERNAL_H

#include "rein/errors.h"
#include "rein/idem.h"

#include <pthread.h>
#include <stdarg.h>

/* Record states, the same numbers in every backend's storage. */
enum {
  REIN__IDEM_LEASED = 1,
  REIN__IDEM_RELEASED = 2,
  REIN__IDEM_COMPLETED = 3
};

typedef struct rein__idem_begin_args {
  uint8_t id[32];
  const char *principal, *operation, *key; /* never NULL */
  const uint8_t *fp;                       /* 32 bytes */
  int64_t lease_ns, retention_ns;
  uint64_t nonce;
  int64_t now; /* the store clock; meaningful for memory and SQLite only */
} rein__idem_begin_args;

#define REIN__IDEM_VTABLE_VERSION 1u

typedef struct rein__idem_vtable {
  uint32_t version; /* REIN__IDEM_VTABLE_VERSION */
  const char *name;
  bool uses_clock; /* reads the config clock (else the server's time) */
  rein_status (*begin)(rein_idem_store *s, const rein__idem_begin_args *a,
                       rein_idem_result *out);
  rein_status (*checkpoint)(rein_idem_store *s, const rein_idem_token *t,
                            const char *phase, int64_t extend_ns, int64_t now);
  /* keep: store the response (COMPLETED); else release (RELEASED). */
  rein_status (*complete)(rein_idem_store *s, const rein_idem_token *t,
                          const rein_idem_response *r, bool keep, int64_t now);
  rein_status (*purge)(rein_idem_store *s, size_t max_batch, size_t *purged,
                       int64_t now);
  void (*destroy)(rein_idem_store *s);
} rein__idem_vtable;

struct rein_idem_store {
  const rein__idem_vtable *vt;
  void *impl;
  size_t max_response;
  rein_idem_cacheable_fn cacheable;
  void *cacheable_ctx;
  rein_clock clock;
  const rein_allocator *alloc;
  pthread_mutex_t errlock;
  char errmsg[512];
  /* Claim nonces: getrandom(2) output fetched 32 at a time (one system
   * call per 32 begins instead of one each), under their own lock. */
  pthread_mutex_t nonce_lock;
  uint64_t nonce_pool[32];
  uint32_t nonce_left;
};

/* Validates the shared config (message into c->err) and allocates a store
 * with no backend yet; rein__idem_store_dealloc undoes it. */
REIN_API rein_status rein__idem_store_alloc(const rein_idem_config *c,
                                            const rein__idem_vtable *vt,
                                            rein_idem_store **out);
REIN_API void rein__idem_store_dealloc(rein_idem_store *s);

/* Sets the store's message and returns `st`. */
REIN_API rein_status rein__idem_fail(rein_idem_store *s, rein_status st,
                                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes a _new failure message to `err` (if any) and returns `st`. */
REIN_API rein_status rein__idem_errbuf(rein_errbuf *err, rein_status st,
                                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks a table / prefix identifier: [A-Za-z_][A-Za-z0-9_]{0,62}. */
REIN_API bool rein__idem_valid_ident(const char *s);

/* What to do with the record found for a begin (NULL view: none). */
typedef struct rein__idem_view {
  const uint8_t *fp;
  int state;
  int64_t expires, lease_until;
} rein__idem_view;

typedef enum rein__idem_act {
  REIN__IDEM_ACT_FRESH,   /* absent or retention over: new record */
  REIN__IDEM_ACT_RECOVER, /* leased, lease over, same fingerprint */
  REIN__IDEM_ACT_RECLAIM, /* released: claim anew, keep retention */
  REIN__IDEM_ACT_REPLAY,
  REIN__IDEM_ACT_BUSY,
  REIN__IDEM_ACT_MISMATCH
} rein__idem_act;

REIN_API bool rein__idem_expired(int state, int64_t expires,
                                 int64_t lease_until, int64_t now);
REIN_API rein__idem_act rein__idem_decide(const rein__idem_view *v,
                                          const uint8_t fp[32], int64_t now);

/* Fill `out` for a REPLAY: copies headers and body into one buffer from the
 * store's allocator. REIN_ENOMEM leaves `out` cleared. */
REIN_API rein_status rein__idem_set_replay(rein_idem_store *s,
                                           rein_idem_result *out, int status,
                                           const void *hd, size_t hl,
                                           const void *bd, size_t bl,
                                           int64_t expires_in);
REIN_API void rein__idem_set_new(rein_idem_result *out, const uint8_t id[32],
                                 uint64_t fence, uint64_t nonce, bool recovered,
                                 const char *phase, size_t phase_len,
                                 int64_t expires_in);

/* The Redis backend's decode of its begin script's reply (redis.c), for
 * the fuzz target: REIN_OK with `out` filled, or REIN_EBACKEND. */
struct redisReply;
rein_status rein__idem_redis_decode_begin(rein_idem_store *s,
                                          const struct redisReply *r,
                                          const uint8_t id[32], uint64_t nonce,
                                          rein_idem_result *out);

/* Lowercase hex of the 32-byte id into `hex` (65 bytes). */
REIN_API void rein__idem_hex(const uint8_t id[32], char hex[65]);

#endif
