/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/idem.h: the idempotency-key store (server side).
 *
 * A retried POST must take effect once. A handler asks the store, before it
 * does anything, what to do with (scope, key, fingerprint):
 *
 *   rein_idem_begin() ->
 *     NEW          nobody holds the key: the caller now holds a short LEASE
 *                  and a fencing TOKEN; it runs the operation, then calls
 *                  rein_idem_complete() (store the response) or
 *                  rein_idem_abandon() (the attempt had no effect; release
 *                  the key so the request can run again). When an expired
 *                  lease was taken over, `recovered` is true and `phase`
 *                  holds the last rein_idem_checkpoint() of the dead holder.
 *     REPLAY       the operation completed before: the stored status,
 *                  headers and body are returned; do not run it again.
 *     IN_PROGRESS  another holder's lease is live; `retry_after_ns` says
 *                  when it ends (HTTP: 409 with Retry-After).
 *     MISMATCH     the key was used with a different fingerprint (another
 *                  payload) and is still retained (HTTP: 422).
 *
 * Scope. A record is identified by principal + operation + key (hashed
 * together with length prefixes, so no two different triples collide by
 * concatenation). Principal B reusing principal A's key reaches a different
 * record: it never sees A's response and never gets a conflict from it.
 *
 * Lease and retention. Two clocks: the lease (short, e.g. 30 s) bounds how
 * long a crashed holder blocks the key; the retention (e.g. 24 h) is how long
 * the outcome is remembered, measured from the FIRST request that claimed the
 * key (not from completion). A record whose retention has run out (and whose
 * lease, if any, has ended) is treated as absent by begin and removed by
 * rein_idem_purge() (Redis removes it itself through PX expiry).
 *
 * Fencing. Each claim of a record gets fence = previous fence + 1 (1 for a
 * new record) and a fresh 64-bit nonce from getrandom(2). checkpoint,
 * complete and abandon succeed only while the record is leased by exactly
 * that (fence, nonce); otherwise they return REIN_ESTALE and change nothing.
 * The fence only grows while the record exists (abandon keeps the record, so
 * the next claim still gets a larger fence); downstream systems may use it
 * as a Kleppmann fencing token. The nonce makes a token from a record that
 * was purged and recreated useless even though fences restart at 1. A token
 * whose lease ran out but was NOT taken over still works.
 *
 * Error caching. complete() stores the response only when the store's
 * `cacheable` policy says so; by default 2xx, 3xx and 4xx except 409 and
 * 429 are stored, 1xx and 5xx are not. A non-cacheable complete() releases
 * the key exactly like abandon() (the client may retry and run it again).
 *
 * Time. Memory and SQLite stores read the config's injected clock (default:
 * the wall clock, CLOCK_REALTIME, because records outlive the process);
 * PostgreSQL uses the server's now() and Redis its TIME, so clock skew among
 * application servers cannot expire a key early or extend a lease.
 *
 * Limits. key: 1..255 bytes of printable ASCII (0x20..0x7E, what an HTTP
 * structured-field string may hold). principal and operation: 0..255 bytes,
 * no NUL (NULL means ""). phase: 0..255 bytes, no NUL. Stored response:
 * headers_len + body_len <= max_response (default 1 MiB), else
 * REIN_ETOOBIG and a message naming the limit.
 *
 * Backends. memory (rein_idem, internally synchronized, for one process and
 * tests), SQLite (rein_idem_sqlite, the embedded default), PostgreSQL
 * (rein_idem_pg) and Redis (rein_idem_redis); each is its own library target,
 * so linking the core idem library pulls in libcrypto only. All four pass one
 * conformance suite (tests/backends/test_idem_conformance.c).
 *
 * Errors. Every call returns rein_status. Backend failures return
 * REIN_EBACKEND (server said no), REIN_ECLOSED (connection lost or
 * unreachable) or REIN_EBUSY (SQLite still locked after busy_timeout_ms), and
 * keep the backend's own words (SQLite result code, SQLSTATE, Redis error)
 * in rein_idem_store_errmsg(). A failed call never leaves a record half
 * written: every change is one transaction, one statement or one script.
 *
 * Effect and record in one transaction. On SQLite and PostgreSQL,
 * checkpoint, complete, abandon and purge are each ONE statement with no
 * BEGIN of their own, so on a connection the caller passed in (`db`,
 * `conn`) with a transaction open they join it: write the effect (the
 * charge row) and call rein_idem_complete() inside the caller's transaction,
 * and the effect and the stored response commit or roll back together. Call
 * rein_idem_begin() outside any transaction: on SQLite it opens its own
 * BEGIN IMMEDIATE (inside one it fails with REIN_EBACKEND and changes
 * nothing); on PostgreSQL it would hold the row lock until the caller
 * commits. Memory and Redis have no such transactions.
 *
 * Thread level. A memory store is internally synchronized: share one among
 * threads. SQLite, PostgreSQL and Redis stores wrap one connection and are
 * used by one thread at a time: open one store per thread (or per pooled
 * connection); they coordinate through the database. A store made before
 * fork() is not for the child: its connections cannot cross a fork, and
 * the child would hand out the parent's pooled claim nonces again. Open
 * the child's own.
 */
#ifndef REIN_IDEM_H
#define REIN_IDEM_H

#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Backend connection types, declared so this header needs none of theirs. */
struct sqlite3;     /* sqlite3 */
struct pg_conn;     /* PGconn */
struct redisContext; /* redisContext */

typedef struct rein_idem_store rein_idem_store;

#define REIN_IDEM_KEY_MAX 255u
#define REIN_IDEM_SCOPE_MAX 255u /* principal and operation, each */
#define REIN_IDEM_PHASE_MAX 255u
#define REIN_IDEM_FINGERPRINT_LEN 32u /* SHA-256 */
#define REIN_IDEM_DEFAULT_MAX_RESPONSE ((size_t)1 << 20) /* 1 MiB */

/* Who is asking and for what: the namespace a key lives in. Borrowed. */
typedef struct rein_idem_scope {
  const char *principal; /* tenant / authenticated caller; NULL = "" */
  const char *operation; /* e.g. "POST /charges"; NULL = "" */
} rein_idem_scope;

/* A lease held after a NEW outcome. Plain data: copy it, keep it across
 * calls, store it. `id` is the record id (SHA-256 of the scope and key). */
typedef struct rein_idem_token {
  uint8_t id[32];
  uint64_t fence; /* 1, 2, ... per record; grows on every claim */
  uint64_t nonce; /* random (getrandom); tells claims apart across purges */
} rein_idem_token;

/* A response to store or replay. Headers are an opaque byte string the
 * caller serializes (the HTTP helper uses "Name: value\r\n" lines); the
 * store keeps and returns them byte for byte. Borrowed by complete(). */
typedef struct rein_idem_response {
  int status;          /* 100..599 (HTTP status) */
  const char *headers; /* may be NULL when headers_len is 0 */
  size_t headers_len;
  const void *body;    /* may be NULL when body_len is 0 */
  size_t body_len;
} rein_idem_response;

typedef enum rein_idem_outcome {
  REIN_IDEM_NONE = 0, /* a cleared result; never returned by begin */
  REIN_IDEM_NEW = 1,
  REIN_IDEM_REPLAY = 2,
  REIN_IDEM_IN_PROGRESS = 3,
  REIN_IDEM_MISMATCH = 4
} rein_idem_outcome;

/* What begin decided. Fields not listed for an outcome are zero. Release
 * with rein_idem_result_clear(). */
typedef struct rein_idem_result {
  rein_idem_outcome outcome;
  /* NEW */
  rein_idem_token token;
  bool recovered;                       /* an expired lease was taken over */
  char phase[REIN_IDEM_PHASE_MAX + 1];  /* recovered: last checkpoint, or "" */
  /* IN_PROGRESS: time until the other holder's lease ends (>= 1 ns) */
  int64_t retry_after_ns;
  /* NEW, REPLAY, IN_PROGRESS: time until the record's retention ends */
  int64_t expires_in_ns;
  /* REPLAY: the stored response; the pointers are owned by this result and
   * valid until rein_idem_result_clear(). body/headers are never NULL for a
   * REPLAY (they point at a zero-length buffer when empty). */
  rein_idem_response response;
  /* private */
  void *priv_buf_;
  const rein_allocator *priv_alloc_;
} rein_idem_result;

/* Whether a response with `status` is stored by complete(). */
typedef bool (*rein_idem_cacheable_fn)(void *ctx, int status);

/* Options every store shares. */
typedef struct rein_idem_config {
  size_t max_response;   /* headers_len + body_len cap; default 1 MiB;
                            [0, 1 GiB] */
  rein_idem_cacheable_fn cacheable; /* NULL = rein_idem_cacheable_default */
  void *cacheable_ctx;
  rein_clock clock;      /* memory and SQLite only; now_ns NULL = wall clock
                            (CLOCK_REALTIME). Ignored by PostgreSQL/Redis. */
  const rein_allocator *alloc; /* NULL = malloc/free; must outlive results */
  rein_errbuf *err;      /* optional: why a _new failed */
} rein_idem_config;

/* Defaults as documented in the fields above. */
REIN_API void rein_idem_config_default(rein_idem_config *c);

/* The default error-caching policy: true for 200..399 and for 400..499
 * except 409 and 429; false otherwise. `ctx` is ignored. */
REIN_API bool rein_idem_cacheable_default(void *ctx, int status);

/*
 * Fingerprints: SHA-256 (OpenSSL libcrypto, EVP) over bytes the caller
 * chooses (typically method, route and the canonical body). _parts hashes
 * each part with a 64-bit length prefix, so ("ab","c") != ("a","bc").
 * Returns REIN_OK, REIN_EINVAL (NULL out, or NULL data with len > 0) or
 * REIN_ENOMEM/REIN_EIO when libcrypto fails. Thread-safe.
 */
REIN_API rein_status rein_idem_fingerprint(const void *data, size_t len,
                                           uint8_t out[32]);
typedef struct rein_idem_bytes {
  const void *data;
  size_t len;
} rein_idem_bytes;
REIN_API rein_status rein_idem_fingerprint_parts(const rein_idem_bytes *parts,
                                                 size_t n, uint8_t out[32]);

/* ---- constructors ------------------------------------------------------ */

/* Memory store (library rein_idem). Internally synchronized. Records live
 * until the store is freed. Returns REIN_OK, REIN_EINVAL (message in c->err)
 * or REIN_ENOMEM. `c` may be NULL for defaults. */
REIN_API rein_status rein_idem_mem_new(const rein_idem_config *c,
                                       rein_idem_store **out);

/*
 * SQLite store (library rein_idem_sqlite). Opens `path` (created if
 * missing) or uses `db`. Sets journal_mode=WAL and synchronous=FULL (a
 * completed begin/complete survives process AND power loss; NORMAL survives
 * a process crash only), installs sqlite3_busy_timeout(busy_timeout_ms),
 * and creates the table if it does not exist. begin runs in BEGIN
 * IMMEDIATE, so two begins on the same database never interleave; a writer
 * that cannot get the lock within busy_timeout_ms gets REIN_EBUSY (message
 * "sqlite: SQLITE_BUSY ..."), which is safe to retry.
 * With `db` given, WAL mode and the busy timeout are still set on it, and
 * rein_idem_store_free closes it only when `owns_db` is true (also on a
 * failed _new).
 * One transaction: when the caller has a transaction open on `db`
 * (BEGIN IMMEDIATE, so the write lock is held), begin joins it as a
 * savepoint instead of starting its own, and complete / checkpoint /
 * abandon are single statements in it, so the claim, the caller's effect
 * and the stored response commit together with the caller's COMMIT, or
 * not at all. A concurrent begin of the same key then waits for that
 * commit (the lock) and replays; nothing is "in progress" to others.
 */
typedef struct rein_idem_sqlite_config {
  const char *path;       /* database file; NULL when `db` is given */
  struct sqlite3 *db;     /* existing connection, or NULL */
  bool owns_db;           /* close `db` in free; default false */
  const char *table;      /* default "rein_idem"; [A-Za-z_][A-Za-z0-9_]{0,62} */
  int busy_timeout_ms;    /* default 5000; [0, 600000] */
  bool synchronous_full;  /* default true; false = NORMAL */
} rein_idem_sqlite_config;
REIN_API void rein_idem_sqlite_config_default(rein_idem_sqlite_config *sc);
REIN_API rein_status rein_idem_sqlite_new(const rein_idem_config *c,
                                          const rein_idem_sqlite_config *sc,
                                          rein_idem_store **out);

/*
 * PostgreSQL store (library rein_idem_pg). Connects with `conninfo` or uses
 * `conn`; creates the table if missing and prepares its statements (only
 * prepared statements are ever executed with data). Claims are one
 * INSERT ... ON CONFLICT DO UPDATE ... WHERE statement; time is now().
 * `owns_conn` as for SQLite. A connection that is lost returns REIN_ECLOSED;
 * the store does not reconnect (free it and make a new one).
 */
typedef struct rein_idem_pg_config {
  const char *conninfo;   /* libpq connection string; NULL when `conn` given */
  struct pg_conn *conn;   /* existing PGconn, or NULL */
  bool owns_conn;         /* PQfinish `conn` in free; default false */
  const char *table;      /* default "rein_idem" (same rule as SQLite) */
} rein_idem_pg_config;
REIN_API void rein_idem_pg_config_default(rein_idem_pg_config *pc);
REIN_API rein_status rein_idem_pg_new(const rein_idem_config *c,
                                      const rein_idem_pg_config *pc,
                                      rein_idem_store **out);

/*
 * Redis store (library rein_idem_redis). Connects to host:port (timeout
 * `timeout_ms` for connect and each command) or uses `ctx`. Each record is
 * one hash under `prefix` + hex(record id); begin, checkpoint, complete and
 * abandon are Lua scripts run with EVALSHA (loaded once; reloaded on
 * NOSCRIPT), so each is atomic; expiry is PEXPIREAT (ms) at max(retention end,
 * lease end); time is the server's TIME. `owns_ctx` as for SQLite.
 * rein_idem_purge() is a no-op that reports 0 (Redis expires records).
 * As with any hiredis user, the process must ignore SIGPIPE
 * (signal(SIGPIPE, SIG_IGN)): a write to a connection the server closed
 * would otherwise kill it instead of returning REIN_ECLOSED.
 */
typedef struct rein_idem_redis_config {
  const char *host;       /* default "127.0.0.1" */
  int port;               /* default 6379 */
  int timeout_ms;         /* default 2000; [1, 600000] */
  struct redisContext *ctx; /* existing connection, or NULL */
  bool owns_ctx;          /* redisFree `ctx` in free; default false */
  const char *prefix;     /* default "rein:idem:"; 1..64 bytes, no spaces */
  /* Redis Sentinel: "host:port,host:port,..." (up to 16). When set, host
   * and port are ignored: the primary of `sentinel_master` is asked of the
   * sentinels at start and again whenever the connection fails or the
   * server answers READONLY (it was demoted by a failover). Default NULL. */
  const char *sentinels;
  const char *sentinel_master; /* default "mymaster" */
  /* Durable mode: after every write, WAIT until this many replicas hold it
   * (at most wait_timeout_ms); fewer fails the call with REIN_ENOTDURABLE
   * (the write is on the primary and may be lost by a failover: retry with
   * the same key). 0 (default): no WAIT, asynchronous replication. See
   * docs/idempotency.md for what each mode can lose and what it costs. */
  int wait_replicas;
  int wait_timeout_ms; /* default 500; [1, 600000] */
  /* Redis Cluster: "host:port,..." seed nodes (up to 16). The store reads
   * the slot map (CLUSTER SLOTS), sends each call to the node serving its
   * record's slot (a record is one key, so every script touches one slot)
   * and follows MOVED and ASK. Default NULL: one server. Exclusive with
   * sentinels and .ctx. */
  const char *cluster_nodes;
} rein_idem_redis_config;
REIN_API void rein_idem_redis_config_default(rein_idem_redis_config *rc);
REIN_API rein_status rein_idem_redis_new(const rein_idem_config *c,
                                         const rein_idem_redis_config *rc,
                                         rein_idem_store **out);

/* Frees the store (closing an owned connection). NULL is a no-op. Tokens
 * and results from it stay valid data (results need the allocator). */
REIN_API void rein_idem_store_free(rein_idem_store *s);

/* "memory", "sqlite", "postgresql" or "redis". */
REIN_API const char *rein_idem_store_backend(const rein_idem_store *s);

/*
 * The message of the last failed call on this handle, with the backend's
 * own code: e.g. "sqlite: SQLITE_BUSY (5): database is locked", "pg:
 * SQLSTATE 42P01: relation ... does not exist", "redis: ERR ...", or rein's
 * own ("idem: key: must be 1..255 printable ASCII bytes, got 0"). "" when
 * no call failed. Valid until the next call on the handle; for a memory
 * store shared among threads use rein_idem_store_errmsg_copy().
 */
REIN_API const char *rein_idem_store_errmsg(const rein_idem_store *s);
/* Copies the message (truncated, NUL-terminated) under the store's lock. */
REIN_API void rein_idem_store_errmsg_copy(const rein_idem_store *s, char *buf,
                                          size_t cap);

/* ---- operations -------------------------------------------------------- */

/*
 * Ask for (scope, key). `fingerprint` is 32 bytes (rein_idem_fingerprint).
 * `lease_ns` in [1 ms, 24 h]; `retention_ns` in [lease_ns, 366 days]
 * (Redis and PostgreSQL round both up to whole milliseconds/microseconds).
 * On REIN_OK `*out` holds the outcome (see the top of this file); on any
 * error `*out` is cleared. Decision order for an existing, retained record:
 * fingerprint differs and the record is not released -> MISMATCH; completed
 * -> REPLAY; leased with a live lease -> IN_PROGRESS; leased with an ended
 * lease -> NEW, recovered; released (abandoned / non-cacheable) -> NEW, not
 * recovered, the new fingerprint replaces the old. The retention of a record
 * starts at its first claim and is not reset by later claims.
 * Returns REIN_OK, REIN_EINVAL (bad key/scope/durations: message names
 * which), REIN_ENOMEM, or a backend error (REIN_EBACKEND, REIN_ECLOSED,
 * REIN_EBUSY) with nothing changed; PostgreSQL may also return REIN_EAGAIN
 * when the record changed under 16 consecutive attempts (safe to retry).
 * REIN_ECLOSED (connection lost, unreachable, or a Redis command timed out)
 * means the handle is unusable: free it and create another; a Redis store
 * that made its own connection (host/port, sentinels, cluster) connects
 * again on the next call instead, so the same handle may simply retry.
 */
REIN_API rein_status rein_idem_begin(rein_idem_store *s,
                                     const rein_idem_scope *scope,
                                     const char *key,
                                     const uint8_t fingerprint[32],
                                     int64_t lease_ns, int64_t retention_ns,
                                     rein_idem_result *out);

/* Frees what a result owns and zeroes it. Safe on a zeroed or already
 * cleared result. */
REIN_API void rein_idem_result_clear(rein_idem_result *r);

/*
 * Record a recovery point `phase` (0..255 bytes; NULL = "") for the holder
 * of `token`; a later taker-over sees it in result.phase. `extend_lease_ns`
 * > 0 also renews the lease to now + extend_lease_ns (a heartbeat for long
 * handlers; same range as lease_ns); 0 leaves the lease alone.
 * Returns REIN_OK; REIN_ESTALE when the token no longer holds the lease
 * (taken over, completed, abandoned, expired and purged): nothing changed;
 * REIN_EINVAL; or a backend error.
 */
REIN_API rein_status rein_idem_checkpoint(rein_idem_store *s,
                                          const rein_idem_token *token,
                                          const char *phase,
                                          int64_t extend_lease_ns);

/*
 * Store the response of the leased operation. When the cacheable policy
 * accepts resp->status the record becomes COMPLETED (begin replays it until
 * retention ends) and `*stored` (optional) is set true; otherwise the key
 * is released as by abandon() and `*stored` is false.
 * Returns REIN_OK; REIN_ESTALE (token no longer holds the lease; nothing
 * changed); REIN_ETOOBIG (headers_len + body_len > max_response; nothing
 * changed, the caller still holds the lease and may complete with a smaller
 * response or abandon); REIN_EINVAL (status outside 100..599, NULL pointers
 * with non-zero lengths); REIN_ENOMEM; or a backend error.
 */
REIN_API rein_status rein_idem_complete(rein_idem_store *s,
                                        const rein_idem_token *token,
                                        const rein_idem_response *resp,
                                        bool *stored);

/*
 * Release the key: the attempt had no effect and the request may run again
 * (the next begin gets NEW with a larger fence, recovered false, and may
 * carry a different fingerprint). The record and its retention start stay.
 * Returns REIN_OK, REIN_ESTALE (nothing changed), or a backend error.
 */
REIN_API rein_status rein_idem_abandon(rein_idem_store *s,
                                       const rein_idem_token *token);

/*
 * Remove up to `max_batch` (>= 1) records whose retention has ended and
 * whose lease, if any, has ended, as of the store's time. `*purged`
 * (optional) gets the number removed; call again while it equals
 * max_batch. Each batch is one short transaction, so purging never holds
 * the database for long. Redis: always 0 (records expire by PX).
 * Returns REIN_OK, REIN_EINVAL or a backend error.
 */
REIN_API rein_status rein_idem_purge(rein_idem_store *s, size_t max_batch,
                                     size_t *purged);

/* "NEW", "REPLAY", "IN_PROGRESS", "MISMATCH" or "NONE". */
REIN_API const char *rein_idem_outcome_name(rein_idem_outcome o);

#ifdef __cplusplus
}
#endif
#endif /* REIN_IDEM_H */
