/* SPDX-License-Identifier: Apache-2.0 */
/*
 * amqp_common.c: the RabbitMQ connection code of librein_broker_amqp,
 * shared by the broker adapter (consumer side) and the outbox deliverer
 * (publisher side).
 *
 * Endpoint validation, connect + login + channel.open, and the wording of
 * a failed reply live here once; each side adds only what is its own (the
 * consumer's declarations and basic.consume, the publisher's
 * confirm.select). Every step is bounded by the endpoint's timeout: the
 * socket connect through amqp_socket_open_noblock, everything after it
 * through amqp_set_rpc_timeout.
 */
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <string.h>

#include "amqp_internal.h"

struct timeval rein__amqp_tv(int64_t ns) {
  struct timeval tv;
  tv.tv_sec = (time_t)(ns / REIN_NS_PER_S);
  tv.tv_usec = (suseconds_t)((ns % REIN_NS_PER_S) / 1000);
  return tv;
}

bool rein__amqp_name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 200) return false;
  for (; *s; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f) return false;
  return true;
}

char *rein__amqp_strdup(const rein_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = rein_alloc(a, n);
  return d ? memcpy(d, s, n) : NULL;
}

rein_status rein__amqp_peer_init(rein__amqp_peer *p, const char *who,
                                 const rein_allocator *alloc, const char *host,
                                 int port, const char *vhost, const char *user,
                                 const char *password, int64_t timeout_ns,
                                 rein_errbuf *e) {
  memset(p, 0, sizeof *p);
  if (!host || !*host)
    return rein_errbuf_set(e, REIN_EINVAL, "%s.host: required", who);
  if (port < 1 || port > 65535)
    return rein_errbuf_set(e, REIN_EINVAL,
                           "%s.port: must be in [1, 65535], got %d", who, port);
  if (!vhost || !*vhost || strlen(vhost) > 200)
    return rein_errbuf_set(e, REIN_EINVAL, "%s.vhost: expected 1..200 bytes",
                           who);
  if (!user || !*user || strlen(user) > 200)
    return rein_errbuf_set(e, REIN_EINVAL, "%s.user: expected 1..200 bytes",
                           who);
  if (!password || strlen(password) > 200) /* never quoted */
    return rein_errbuf_set(e, REIN_EINVAL, "%s.password: expected 0..200 bytes",
                           who);
  if (timeout_ns < REIN_NS_PER_MS || timeout_ns > 600 * REIN_NS_PER_S)
    return rein_errbuf_set(
        e, REIN_EINVAL, "%s.connect_timeout_ns: must be in [1 ms, 600 s]", who);
  p->alloc = alloc;
  p->port = port;
  p->timeout_ns = timeout_ns;
  p->host = rein__amqp_strdup(alloc, host);
  p->vhost = rein__amqp_strdup(alloc, vhost);
  p->user = rein__amqp_strdup(alloc, user);
  p->password = rein__amqp_strdup(alloc, password);
  if (!p->host || !p->vhost || !p->user || !p->password) {
    rein__amqp_peer_free(p);
    return REIN_ENOMEM;
  }
  return REIN_OK;
}

void rein__amqp_peer_free(rein__amqp_peer *p) {
  if (p->password) explicit_bzero(p->password, strlen(p->password));
  rein_free(p->alloc, p->host);
  rein_free(p->alloc, p->vhost);
  rein_free(p->alloc, p->user);
  rein_free(p->alloc, p->password);
  p->host = p->vhost = p->user = p->password = NULL;
}

rein_status rein__amqp_reply_msg(const rein__amqp_peer *p, const char *op,
                                 amqp_rpc_reply_t r, char *errmsg, size_t cap) {
  rein_status st = REIN_ECLOSED;
  switch (r.reply_type) {
  case AMQP_RESPONSE_LIBRARY_EXCEPTION:
    snprintf(errmsg, cap, "amqp %s:%d: %s: %s", p->host, p->port, op,
             amqp_error_string2(r.library_error));
    break;
  case AMQP_RESPONSE_SERVER_EXCEPTION: {
    st = REIN_EBACKEND;
    const amqp_bytes_t *text = NULL;
    unsigned code = 0;
    if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
      amqp_connection_close_t *m = r.reply.decoded;
      text = &m->reply_text;
      code = m->reply_code;
    } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
      amqp_channel_close_t *m = r.reply.decoded;
      text = &m->reply_text;
      code = m->reply_code;
    }
    snprintf(errmsg, cap, "amqp %s:%d: %s: %u %.*s", p->host, p->port, op, code,
             text ? (int)text->len : 7,
             text ? (const char *)text->bytes : "(close)");
    break;
  }
  default: /* AMQP_RESPONSE_NONE */
    snprintf(errmsg, cap, "amqp %s:%d: %s: missing reply", p->host, p->port,
             op);
    break;
  }
  return st;
}

rein_status rein__amqp_lib_msg(const rein__amqp_peer *p, const char *op,
                               int err, char *errmsg, size_t cap) {
  amqp_rpc_reply_t r = {0};
  r.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION;
  r.library_error = err;
  return rein__amqp_reply_msg(p, op, r, errmsg, cap);
}

void rein__amqp_close(amqp_connection_state_t c, uint16_t channel) {
  if (!c) return;
  amqp_channel_close(c, channel, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

rein_status rein__amqp_open(const rein__amqp_peer *p, uint16_t channel,
                            amqp_connection_state_t *out, char *errmsg,
                            size_t cap) {
  *out = NULL;
  amqp_connection_state_t c = amqp_new_connection();
  if (!c) {
    snprintf(errmsg, cap, "amqp: cannot allocate connection");
    return REIN_ECLOSED;
  }
  rein_status st;
  amqp_socket_t *s = amqp_tcp_socket_new(c);
  if (!s) {
    st = rein__amqp_lib_msg(p, "socket", AMQP_STATUS_NO_MEMORY, errmsg, cap);
    amqp_destroy_connection(c);
    return st;
  }
  struct timeval tv = rein__amqp_tv(p->timeout_ns);
  int rc = amqp_socket_open_noblock(s, p->host, p->port, &tv);
  if (rc == AMQP_STATUS_OK) rc = amqp_set_rpc_timeout(c, &tv);
  if (rc != AMQP_STATUS_OK) {
    st = rein__amqp_lib_msg(p, "connect", rc, errmsg, cap);
    amqp_destroy_connection(c);
    return st;
  }
  /* the password goes to RabbitMQ only; no message here quotes it */
  amqp_rpc_reply_t r = amqp_login(c, p->vhost, 1, 131072, 0,
                                  AMQP_SASL_METHOD_PLAIN, p->user, p->password);
  const char *op = "login";
  if (r.reply_type == AMQP_RESPONSE_NORMAL) {
    amqp_channel_open(c, channel);
    r = amqp_get_rpc_reply(c);
    op = "channel.open";
  }
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    st = rein__amqp_reply_msg(p, op, r, errmsg, cap);
    amqp_destroy_connection(c);
    return st;
  }
  *out = c;
  return REIN_OK;
}
