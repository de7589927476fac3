/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inbox_internal.h: what the inbox front end (inbox.c, outbox.c) and its
 * database backends (inbox_sqlite.c, inbox_pg.c) share; not installed.
 *
 * A backend is a small static const vtable plus an object whose first member
 * points at it. Every backend call is one statement or one transaction, keeps
 * the database's own words in errmsg, and maps failures to REIN_EBACKEND,
 * REIN_EBUSY (SQLite still locked) or REIN_ECLOSED (connection lost).
 */
#ifndef REIN_INBOX_INTERNAL_H
#define REIN_INBOX_INTERNAL_H

#include "rein/errors.h"
#include "rein/inbox.h"

typedef struct rein__inbox_db rein__inbox_db;

/* One leased outbox intent: a single allocation (strings and body follow
 * the struct). */
typedef struct rein__outbox_row {
  rein_outbox_item item;
} rein__outbox_row;

typedef enum rein__outbox_end {
  REIN__OUTBOX_RELEASE = 0, /* not delivered; lease dropped */
  REIN__OUTBOX_DELIVERED = 1,
  REIN__OUTBOX_FAILED = 2
} rein__outbox_end;

#define REIN__INBOX_DB_VT_VERSION 2

typedef struct rein__inbox_db_vt {
  uint32_t version;
  const char *name;
  rein_status (*begin)(rein__inbox_db *d);
  rein_status (*commit)(rein__inbox_db *d);
  void (*rollback)(rein__inbox_db *d);
  /* Inside a transaction: insert key; *inserted false on conflict. */
  rein_status (*dedup)(rein__inbox_db *d, const char *key, int64_t now_ms,
                       bool *inserted);
  /* Inside a transaction. REIN_ECONFLICT when (msg_key, effect) exists. */
  rein_status (*outbox_add)(rein__inbox_db *d, const char *msg_key,
                            const char *effect, const char *idem_key,
                            const char *dest, const void *body, size_t len,
                            int64_t now_ms);
  /* Own transaction: lease up to max intents not delivered, not failed and
   * not leased at now_ms; sets their lease to until_ms. Rows are allocated
   * with the db's allocator; the caller frees each. */
  rein_status (*outbox_lease)(rein__inbox_db *d, int64_t now_ms,
                              int64_t until_ms, size_t max,
                              rein__outbox_row **rows, size_t *n);
  rein_status (*outbox_end)(rein__inbox_db *d, int64_t id, rein__outbox_end how,
                            uint32_t attempts, const char *error,
                            int64_t now_ms);
  rein_status (*purge)(rein__inbox_db *d, int64_t older_than_ms, size_t batch,
                       size_t *n_inbox, size_t *n_outbox);
  rein_status (*counts)(rein__inbox_db *d, rein_inbox_counts *out);
  void (*close)(rein__inbox_db *d);
  /* Optional: begin + dedup in one step (one round trip for a server
   * database); NULL = begin, then dedup. On failure nothing is open. */
  rein_status (*begin_dedup)(rein__inbox_db *d, const char *key, int64_t now_ms,
                             bool *inserted);
  /* Optional (version 2): block until an intent is announced or
   * max_wait_ns passes on `clock` (rein_outbox_wait's contract); NULL =
   * the database cannot announce, the front end sleeps. */
  rein_status (*outbox_wait)(rein__inbox_db *d, int64_t max_wait_ns,
                             const rein_clock *clock, rein_outbox_wake *why);
  /* Optional (version 2): the notification channel; NULL = none. */
  const char *(*outbox_channel)(const rein__inbox_db *d);
} rein__inbox_db_vt;

struct rein__inbox_db {
  const rein__inbox_db_vt *vt;
  const rein_allocator *alloc;
  char errmsg[512];
};

/* Opens (or adopts) and prepares a backend; on failure writes the reason
 * to err. Each database's library has one (inbox_sqlite.c, inbox_pg.c) and
 * passes it to rein__inbox_new, the front end's constructor. */
typedef rein_status (*rein__inbox_open)(const rein_inbox_config *c,
                                        rein__inbox_db **out, rein_errbuf *err);

/* The backend interface between librein_inbox and the database libraries
 * (librein_inbox_sqlite, librein_inbox_pg, built from the same release):
 * exported from librein_inbox.so under the REIN_PRIVATE_<version> symbol
 * version, so a database library from another release fails to load
 * rather than misreading a struct. Not for applications. */
REIN_API rein_status rein__inbox_new(const rein_inbox_config *c,
                                     rein__inbox_open open, rein_inbox **out);

/* rein_outbox_wait's policy without I/O (outbox.c): from the listener's
 * state and one clock reading, the next step. A backend's wait loop reads
 * its connection, fills the state, calls this and performs the step. */
typedef enum rein__outbox_wait_step {
  REIN__WAIT_RETURN,  /* with *why */
  REIN__WAIT_CONNECT, /* open the listener connection */
  REIN__WAIT_LISTEN,  /* LISTEN on it */
  REIN__WAIT_POLL,    /* poll() its socket for *block_ns */
  REIN__WAIT_SLEEP    /* no listener: sleep *block_ns */
} rein__outbox_wait_step;

typedef struct rein__outbox_wait_state {
  bool have_conn;  /* listener connection up */
  bool listening;  /* LISTEN done on it */
  bool listened;   /* ... in this call */
  bool tried;      /* a connect or LISTEN failed in this call */
  int notified;    /* notifications drained in this call */
  int64_t left_ns; /* until the deadline */
} rein__outbox_wait_state;

REIN_API rein__outbox_wait_step rein__outbox_wait_decide(
    const rein__outbox_wait_state *s, int64_t *block_ns, rein_outbox_wake *why);

/* Allocates one outbox row with room for its strings and body. */
REIN_API rein__outbox_row *
rein__outbox_row_new(const rein_allocator *a, int64_t id, const char *msg_key,
                     const char *effect, const char *idem_key, const char *dest,
                     const void *body, size_t body_len, uint32_t attempts);

REIN_API void rein__inbox_seterr(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Accessors outbox.c uses (defined in inbox.c). The error buffer is
 * REIN__INBOX_ERR_CAP bytes. */
#define REIN__INBOX_ERR_CAP 512
REIN_API rein__inbox_db *rein__inbox_db_of(const rein_inbox *ib);
REIN_API rein__inbox_db *rein__inbox_db_of_tx(const rein_inbox_tx *tx);
rein_inbox *rein__inbox_of_tx(rein_inbox_tx *tx);
const rein_inbox_config *rein__inbox_cfg(const rein_inbox *ib);
char *rein__inbox_errbuf(rein_inbox *ib);

/* The Redis Streams adapter's decode of a stream reply (broker_redis.c),
 * for the fuzz target: messages point into `entries`; klen[i] is the key's
 * length as sent. Returns how many of at most `cap` were filled. */
struct redisReply;
size_t rein__broker_redis_decode(const struct redisReply *entries,
                                 const char *key_field, const char *body_field,
                                 rein_broker_msg *msgs, size_t *klen,
                                 size_t cap);

/* A NATS subject (broker_jetstream.c, also used by outbox_jetstream.c in
 * the same library): dot-separated non-empty tokens of printable
 * characters without spaces, at most 200 bytes; `*` and `>` only where
 * `wild` (a publish subject has none). */
bool rein__nats_subject_ok(const char *s, bool wild);

/* Limits */
#define REIN__INBOX_KEY_MAX 255
#define REIN__OUTBOX_EFFECT_MAX 64
#define REIN__OUTBOX_BODY_MAX (1024 * 1024)
#define REIN__OUTBOX_DEST_MAX 2048

#endif
