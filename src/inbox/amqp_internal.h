/* SPDX-License-Identifier: Apache-2.0 */
/*
 * amqp_internal.h: what the RabbitMQ broker adapter (broker_amqp.c) and the
 * RabbitMQ outbox deliverer (outbox_amqp.c) share; not installed.
 *
 * One home for the connection: the endpoint (host, port, vhost, login,
 * timeout) is validated and copied once, a connection is opened, logged in
 * and given its channel in one call, and a failed reply is put into words
 * in one place, so both sides of librein_broker_amqp connect and report
 * the same way. Both files are in one library; these symbols are hidden.
 */
#ifndef REIN_AMQP_INTERNAL_H
#define REIN_AMQP_INTERNAL_H

#include <amqp.h>
#include <stdbool.h>
#include <sys/time.h>

#include "inbox_internal.h"

/* Where and as whom to connect. Strings are owned copies. */
typedef struct rein__amqp_peer {
  const rein_allocator *alloc;
  char *host, *vhost, *user, *password; /* the password is never quoted */
  int port;
  int64_t timeout_ns; /* connect, login and every RPC */
} rein__amqp_peer;

/* Validates the endpoint fields (messages name "<who>.<field>") and copies
 * them into *p. REIN_EINVAL (message in e), REIN_ENOMEM; on failure *p
 * holds nothing to free. */
rein_status rein__amqp_peer_init(rein__amqp_peer *p, const char *who,
                                 const rein_allocator *alloc, const char *host,
                                 int port, const char *vhost, const char *user,
                                 const char *password, int64_t timeout_ns,
                                 rein_errbuf *e);
/* Wipes the password and frees the copies; a zeroed peer is fine. */
void rein__amqp_peer_free(rein__amqp_peer *p);

/* Opens a TCP connection (bounded by timeout_ns), sets the RPC timeout,
 * logs in (PLAIN, no heartbeat) and opens `channel`. REIN_OK with *out set;
 * else *out NULL, the reason in errmsg and REIN_ECLOSED (socket, timeout)
 * or REIN_EBACKEND (RabbitMQ refused, e.g. the login). */
rein_status rein__amqp_open(const rein__amqp_peer *p, uint16_t channel,
                            amqp_connection_state_t *out, char *errmsg,
                            size_t cap);

/* Closes channel and connection politely (bounded by the RPC timeout) and
 * frees it. NULL is a no-op. */
void rein__amqp_close(amqp_connection_state_t c, uint16_t channel);

/* `op`'s failed reply into errmsg ("amqp host:port: op: ..."): REIN_ECLOSED
 * for a library failure (socket, timeout, missing reply), REIN_EBACKEND
 * when RabbitMQ closed the channel or connection with a reason. */
rein_status rein__amqp_reply_msg(const rein__amqp_peer *p, const char *op,
                                 amqp_rpc_reply_t r, char *errmsg, size_t cap);
/* The same for a librabbitmq status code (always REIN_ECLOSED). */
rein_status rein__amqp_lib_msg(const rein__amqp_peer *p, const char *op,
                               int err, char *errmsg, size_t cap);

struct timeval rein__amqp_tv(int64_t ns);
/* AMQP names (queue, exchange): 1..200 printable bytes without spaces. */
bool rein__amqp_name_ok(const char *s);
char *rein__amqp_strdup(const rein_allocator *a, const char *s);

#endif /* REIN_AMQP_INTERNAL_H */
