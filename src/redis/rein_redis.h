/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein_redis.h: the one Redis connection layer shared by the idempotency
 * store (src/idem/redis.c), the fleet (src/fleet) and the Redis Streams
 * broker (src/inbox/broker_redis.c); internal, not installed.
 *
 * hiredis trusts the server: it accepts an array header up to INT_MAX
 * elements (and allocates the pointer array at once), buffers a bulk
 * string of any announced length, and its timeouts are per system call, so
 * a server dripping one byte every few milliseconds never times out. Here
 * every reply is read against limits (elements per array, elements per
 * reply, bytes per reply) and every call against one deadline on the
 * monotonic clock. A context that failed is dead: the caller frees it and
 * connects again.
 *
 * Thread level: one thread at a time per context.
 */
#ifndef REIN_REDIS_INTERNAL_H
#define REIN_REDIS_INTERNAL_H

#include "rein/errors.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein__redis_limits {
  int64_t max_elements;       /* per array; default 1 Mi */
  int64_t max_reply_elements; /* all arrays of one reply; default 4 Mi */
  size_t max_reply_bytes;     /* bytes read for one reply; default 64 MiB */
} rein__redis_limits;

#define REIN__REDIS_MAX_ELEMENTS (1 << 20)
#define REIN__REDIS_MAX_REPLY_ELEMENTS (4 << 20)
#define REIN__REDIS_MAX_REPLY_BYTES ((size_t)64 << 20)

void rein__redis_limits_default(rein__redis_limits *l);

/* Monotonic now in ns; a deadline is now + timeout. */
int64_t rein__redis_now(void);

/* Connects to host:port within connect_ns, sets per-syscall timeouts of
 * command_ns and installs the limits (NULL: defaults). NULL only when out
 * of memory; otherwise check c->err (the context must still be freed with
 * rein__redis_free). */
redisContext *rein__redis_connect(const char *host, int port,
                                  int64_t connect_ns, int64_t command_ns,
                                  const rein__redis_limits *lim);

/* Installs the limits on a context the caller made (for a connection handed
 * to rein). 0 on success, -1 out of memory. Idempotent. */
int rein__redis_guard(redisContext *c, const rein__redis_limits *lim);
/* Removes them again (the context goes back to its owner as it came). */
void rein__redis_unguard(redisContext *c);
/* The same on a bare reader (the fuzz target parses with one): guard,
 * unguard, reset the per-reply counts before each reply, and the reason
 * the last reply was refused (NULL when it was not). */
int rein__redis_reader_guard(redisReader *r, const rein__redis_limits *lim);
void rein__redis_reader_unguard(redisReader *r);
void rein__redis_reader_reset(redisReader *r);
const char *rein__redis_reader_why(const redisReader *r);
/* Unguards and redisFree()s. NULL is a no-op. */
void rein__redis_free(redisContext *c);

/* Writes what is buffered and reads one reply, all before `deadline`
 * (rein__redis_now() based). REDIS_OK with *out set (may be an error
 * reply), or REDIS_ERR with c->err / c->errstr set: a timeout reads
 * "timed out after N ms", a refused reply names the limit. */
int rein__redis_get_reply(redisContext *c, int64_t deadline, redisReply **out);

/* Writes what is buffered before `deadline`. REDIS_OK or REDIS_ERR. */
int rein__redis_flush(redisContext *c, int64_t deadline);

/* redisAppendCommandArgv + rein__redis_get_reply. NULL on error (c->err). */
redisReply *rein__redis_command(redisContext *c, int64_t deadline, int argc,
                                const char **argv, const size_t *lens);

/* The status a failed context stands for: REIN_ETIMEDOUT, REIN_EPARSE
 * (protocol error or limit), REIN_ENOMEM or REIN_ECLOSED. */
rein_status rein__redis_status(const redisContext *c);

/* ---- Sentinel ---------------------------------------------------------- */

/* Parses "host:port,host:port" (at most `cap` entries, ports 1..65535,
 * hosts up to 255 bytes) into hosts/ports; hosts point into `buf` (a copy
 * of the list, `bufcap` bytes). Returns the count, or -1 with a message in
 * `err`. */
int rein__redis_parse_addrs(const char *list, char *buf, size_t bufcap,
                            const char **hosts, int *ports, int cap, char *err,
                            size_t errcap);

/* Asks the sentinels, in order, for the primary of `master`
 * (SENTINEL get-master-addr-by-name), each within timeout_ns, and connects
 * to it; checks ROLE says master (a sentinel that has not yet seen a
 * failover can name the old primary). On success returns the connected
 * context and writes the address to host/port; on failure NULL with the
 * reason in err. */
redisContext *rein__redis_sentinel_connect(
    const char *const *hosts, const int *ports, int n, const char *master,
    int64_t connect_ns, int64_t command_ns, const rein__redis_limits *lim,
    char *host, size_t hostcap, int *port, char *err, size_t errcap);

/* ---- Cluster ----------------------------------------------------------- */

/* CRC16 (XMODEM) of the key's hash tag (the bytes between the first '{'
 * and the next '}', when non-empty; else the whole key) mod 16384. */
unsigned rein__redis_slot(const char *key, size_t len);

#define REIN__REDIS_CLUSTER_NODES 32

/* A client's view of a Redis Cluster: the seeds, the nodes met so far
 * (each with its connection, made on first use) and which node serves each
 * slot (from CLUSTER SLOTS; corrected by MOVED replies). One thread at a
 * time. Calls are bounded by connect_ns/command_ns per node contacted. */
typedef struct rein__redis_cluster {
  int nseeds;
  const char *seed_host[16];
  int seed_port[16];
  char seed_buf[2048];
  int nnodes;
  struct {
    char host[256];
    int port;
    redisContext *c;
  } node[REIN__REDIS_CLUSTER_NODES];
  uint8_t slot_node[16384]; /* node index + 1; 0 unknown */
  bool stale;               /* refresh the map before the next lookup */
  int64_t connect_ns, command_ns;
} rein__redis_cluster;

/* Parses the seed list ("host:port,..."); -1 with err when it is bad. */
int rein__redis_cluster_init(rein__redis_cluster *cl, const char *seeds,
                             int64_t connect_ns, int64_t command_ns, char *err,
                             size_t errcap);
void rein__redis_cluster_free(rein__redis_cluster *cl);
/* Reads CLUSTER SLOTS from the first node or seed that answers. */
int rein__redis_cluster_refresh(rein__redis_cluster *cl, char *err,
                                size_t errcap);
/* Applies a CLUSTER SLOTS reply received from node `self` (the fuzz
 * target calls it): 0, or -1 when the reply is not a slot map (nothing
 * changed but the nodes list may have grown). */
int rein__redis_cluster_apply(rein__redis_cluster *cl, const redisReply *r,
                              int self);
/* The connection to the node serving `slot` (connecting, and refreshing
 * the map when it is stale or the slot unknown); NULL with err. */
redisContext *rein__redis_cluster_conn(rein__redis_cluster *cl, unsigned slot,
                                       char *err, size_t errcap);
/* The connection to host:port (a node named by MOVED or ASK). */
redisContext *rein__redis_cluster_node(rein__redis_cluster *cl,
                                       const char *host, int port, char *err,
                                       size_t errcap);
/* A "MOVED <slot> <host>:<port>" or "ASK ..." error: 1 MOVED, 2 ASK, 0
 * neither; writes the target. MOVED also updates the map. */
int rein__redis_cluster_redirect(rein__redis_cluster *cl, const char *msg,
                                 char *host, size_t hostcap, int *port);
/* A connection that failed: freed, and the map marked stale (a failover
 * inside the cluster moves slots). */
void rein__redis_cluster_drop(rein__redis_cluster *cl, redisContext *c);

#ifdef __cplusplus
}
#endif
#endif
