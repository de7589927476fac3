/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conn.c: the bounded Redis connection rein's three Redis users share
 * (see rein_redis.h for why hiredis alone is not enough).
 *
 * Limits are enforced inside hiredis's own reader: our reply-object
 * functions wrap the reader's defaults, refuse an array header above the
 * limit before anything is allocated for it, and count the elements of the
 * reply being built. Deadlines are enforced by reading ourselves: poll(2)
 * on the socket for what is left of the deadline, read(2) what is there,
 * feed the reader, ask it for a reply; so a drip cannot stretch a call past
 * its deadline and a black hole costs exactly the deadline. This layer does
 * I/O, so it reads CLOCK_MONOTONIC directly, as hiredis does.
 */
#include "rein_redis.h"

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
typedef size_t rr_count;
#else
typedef int rr_count;
#endif

typedef struct guard {
  redisReplyObjectFunctions fns; /* first: reader->fn points here */
  redisReplyObjectFunctions *orig;
  void *orig_priv;
  rein__redis_limits lim;
  int64_t reply_elements;
  char why[120];
} guard;

void rein__redis_limits_default(rein__redis_limits *l) {
  l->max_elements = REIN__REDIS_MAX_ELEMENTS;
  l->max_reply_elements = REIN__REDIS_MAX_REPLY_ELEMENTS;
  l->max_reply_bytes = REIN__REDIS_MAX_REPLY_BYTES;
}

int64_t rein__redis_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *g_array(const redisReadTask *t, rr_count n);

static guard *reader_guard(const redisReader *r);
static guard *guard_of(const redisContext *c) {
  return c ? reader_guard(c->reader) : NULL;
}

/* The guard of the reader building `t`: the reader's privdata (hiredis
 * copies it into each task). */
static guard *task_guard(const redisReadTask *t) {
  return t->privdata;
}

static void *g_array(const redisReadTask *t, rr_count n) {
  guard *g = task_guard(t);
  if ((int64_t)n > g->lim.max_elements) {
    snprintf(g->why, sizeof g->why,
             "reply refused: an array of %lld elements (limit %lld)",
             (long long)n, (long long)g->lim.max_elements);
    return NULL;
  }
  g->reply_elements += (int64_t)n;
  if (g->reply_elements > g->lim.max_reply_elements) {
    snprintf(g->why, sizeof g->why,
             "reply refused: more than %lld elements in one reply",
             (long long)g->lim.max_reply_elements);
    return NULL;
  }
  return g->orig->createArray(t, n);
}

static void *g_string(const redisReadTask *t, char *s, size_t n) {
  return task_guard(t)->orig->createString(t, s, n);
}
static void *g_integer(const redisReadTask *t, long long v) {
  return task_guard(t)->orig->createInteger(t, v);
}
static void *g_nil(const redisReadTask *t) {
  return task_guard(t)->orig->createNil(t);
}

static guard *reader_guard(const redisReader *r) {
  if (!r || !r->fn || r->fn->createArray != g_array) return NULL;
  return (guard *)(void *)r->fn;
}

int rein__redis_reader_guard(redisReader *r, const rein__redis_limits *lim) {
  if (!r) return -1;
  guard *g = reader_guard(r);
  if (!g) {
    g = calloc(1, sizeof *g);
    if (!g) return -1;
    g->orig = r->fn;
    g->orig_priv = r->privdata;
    g->fns = *g->orig;
    g->fns.createArray = g_array;
    g->fns.createString = g->orig->createString ? g_string : NULL;
    g->fns.createInteger = g->orig->createInteger ? g_integer : NULL;
    g->fns.createNil = g->orig->createNil ? g_nil : NULL;
    r->fn = &g->fns;
    r->privdata = g;
  }
  if (lim)
    g->lim = *lim;
  else
    rein__redis_limits_default(&g->lim);
#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
  r->maxelements = (long long)g->lim.max_elements;
#endif
  return 0;
}

void rein__redis_reader_unguard(redisReader *r) {
  guard *g = reader_guard(r);
  if (!g) return;
  r->fn = g->orig;
  r->privdata = g->orig_priv;
  free(g);
}

void rein__redis_reader_reset(redisReader *r) {
  guard *g = reader_guard(r);
  if (!g) return;
  g->reply_elements = 0;
  g->why[0] = 0;
}

const char *rein__redis_reader_why(const redisReader *r) {
  guard *g = reader_guard(r);
  return g && g->why[0] ? g->why : NULL;
}

int rein__redis_guard(redisContext *c, const rein__redis_limits *lim) {
  return c ? rein__redis_reader_guard(c->reader, lim) : -1;
}

void rein__redis_unguard(redisContext *c) {
  if (c) rein__redis_reader_unguard(c->reader);
}

void rein__redis_free(redisContext *c) {
  if (!c) return;
  /* A reply half built by our functions is freed by freeObject, which we
   * did not wrap, so unguarding first is safe. */
  rein__redis_unguard(c);
  redisFree(c);
}

static struct timeval tv_of(int64_t ns) {
  if (ns < 1000) ns = 1000;
  struct timeval tv;
  tv.tv_sec = (time_t)(ns / 1000000000);
  tv.tv_usec = (suseconds_t)((ns % 1000000000) / 1000);
  return tv;
}

redisContext *rein__redis_connect(const char *host, int port,
                                  int64_t connect_ns, int64_t command_ns,
                                  const rein__redis_limits *lim) {
  redisContext *c = redisConnectWithTimeout(host, port, tv_of(connect_ns));
  if (!c) return NULL;
  if (rein__redis_guard(c, lim) != 0) {
    redisFree(c);
    return NULL;
  }
  if (!c->err && redisSetTimeout(c, tv_of(command_ns)) != REDIS_OK && !c->err) {
    c->err = REDIS_ERR_IO;
    snprintf(c->errstr, sizeof c->errstr, "cannot set the socket timeout");
  }
  return c;
}

static int fail(redisContext *c, int type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(redisContext *c, int type, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->errstr, sizeof c->errstr, fmt, ap);
  va_end(ap);
  c->err = type;
  return REDIS_ERR;
}

/* Waits for `ev` on the socket until the deadline: 1 ready, 0 timed out,
 * -1 error (c->err set). */
static int wait_fd(redisContext *c, short ev, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - rein__redis_now();
    if (left <= 0) return 0;
    struct pollfd p = {c->fd, ev, 0};
    int ms = (int)((left + 999999) / 1000000);
    int r = poll(&p, 1, ms);
    if (r > 0) return 1;
    if (r == 0) continue; /* re-check the deadline */
    if (errno == EINTR) continue;
    fail(c, REDIS_ERR_IO, "poll: %s", strerror(errno));
    return -1;
  }
}

static int timed_out(redisContext *c, int64_t started, const char *what) {
  errno = ETIMEDOUT;
  return fail(c, REDIS_ERR_IO, "%s timed out after %lld ms", what,
              (long long)((rein__redis_now() - started) / 1000000));
}

int rein__redis_get_reply(redisContext *c, int64_t deadline, redisReply **out) {
  *out = NULL;
  if (c->err) return REDIS_ERR;
  guard *g = guard_of(c);
  if (!g) return fail(c, REDIS_ERR_OTHER, "connection has no reply limits");
  int64_t started = rein__redis_now();
  g->reply_elements = 0;
  g->why[0] = 0;
  /* A reply may already be buffered (pipelining). */
  void *r = NULL;
  if (redisReaderGetReply(c->reader, &r) != REDIS_OK) goto proto;
  if (r) {
    *out = r;
    return REDIS_OK;
  }
  if (rein__redis_flush(c, deadline) != REDIS_OK) return REDIS_ERR;
  size_t bytes = 0;
  char buf[16384];
  for (;;) {
    int w = wait_fd(c, POLLIN, deadline);
    if (w < 0) return REDIS_ERR;
    if (w == 0) return timed_out(c, started, "reply");
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return fail(c, REDIS_ERR_IO, "read: %s", strerror(errno));
    }
    if (n == 0) return fail(c, REDIS_ERR_EOF, "server closed the connection");
    bytes += (size_t)n;
    if (bytes > g->lim.max_reply_bytes)
      return fail(c, REDIS_ERR_PROTOCOL,
                  "reply refused: more than %zu bytes in one reply",
                  g->lim.max_reply_bytes);
    if (redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK) goto proto;
    if (redisReaderGetReply(c->reader, &r) != REDIS_OK) goto proto;
    if (r) {
      *out = r;
      return REDIS_OK;
    }
  }
proto:
  if (g->why[0]) return fail(c, REDIS_ERR_PROTOCOL, "%s", g->why);
  return fail(c, c->reader->err ? c->reader->err : REDIS_ERR_PROTOCOL,
              "protocol error: %s", c->reader->errstr);
}

int rein__redis_flush(redisContext *c, int64_t deadline) {
  if (c->err) return REDIS_ERR;
  int64_t started = rein__redis_now();
  int done = 0;
  while (!done) {
    int w = wait_fd(c, POLLOUT, deadline);
    if (w < 0) return REDIS_ERR;
    if (w == 0) return timed_out(c, started, "write");
    if (redisBufferWrite(c, &done) != REDIS_OK) return REDIS_ERR;
  }
  return REDIS_OK;
}

redisReply *rein__redis_command(redisContext *c, int64_t deadline, int argc,
                                const char **argv, const size_t *lens) {
  if (c->err) return NULL;
  if (redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) return NULL;
  redisReply *r;
  if (rein__redis_get_reply(c, deadline, &r) != REDIS_OK) return NULL;
  return r;
}

rein_status rein__redis_status(const redisContext *c) {
  if (!c) return REIN_ENOMEM;
  switch (c->err) {
  case REDIS_ERR_PROTOCOL:
    return REIN_EPARSE;
  case REDIS_ERR_OOM:
    return REIN_ENOMEM;
  case REDIS_ERR_IO:
    if (strstr(c->errstr, "timed out") || strstr(c->errstr, "temporarily"))
      return REIN_ETIMEDOUT;
    return REIN_ECLOSED;
  default:
    return REIN_ECLOSED;
  }
}

/* ---- Sentinel ---------------------------------------------------------- */

int rein__redis_parse_addrs(const char *list, char *buf, size_t bufcap,
                            const char **hosts, int *ports, int cap, char *err,
                            size_t errcap) {
  size_t n = list ? strlen(list) : 0;
  if (n == 0 || n >= bufcap) {
    snprintf(err, errcap, "expected \"host:port[,host:port...]\", %s",
             n ? "too long" : "got an empty list");
    return -1;
  }
  memcpy(buf, list, n + 1);
  int k = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    char *colon = strrchr(tok, ':');
    char *end = NULL;
    long p = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || colon == tok || !end || *end || p < 1 || p > 65535) {
      snprintf(err, errcap, "entry %d: expected host:port, got \"%.80s\"",
               k + 1, tok);
      return -1;
    }
    if (k == cap) {
      snprintf(err, errcap, "more than %d addresses", cap);
      return -1;
    }
    *colon = 0;
    hosts[k] = tok;
    ports[k] = (int)p;
    k++;
  }
  if (k == 0) {
    snprintf(err, errcap, "expected \"host:port[,host:port...]\"");
    return -1;
  }
  return k;
}

redisContext *rein__redis_sentinel_connect(
    const char *const *hosts, const int *ports, int n, const char *master,
    int64_t connect_ns, int64_t command_ns, const rein__redis_limits *lim,
    char *host, size_t hostcap, int *port, char *err, size_t errcap) {
  snprintf(err, errcap, "no sentinel answered");
  for (int i = 0; i < n; i++) {
    redisContext *s =
        rein__redis_connect(hosts[i], ports[i], connect_ns, command_ns, lim);
    if (!s || s->err) {
      snprintf(err, errcap, "sentinel %s:%d: %s", hosts[i], ports[i],
               s ? s->errstr : "out of memory");
      rein__redis_free(s);
      continue;
    }
    const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", master};
    redisReply *r =
        rein__redis_command(s, rein__redis_now() + command_ns, 3, argv, NULL);
    if (!r) {
      snprintf(err, errcap, "sentinel %s:%d: %s", hosts[i], ports[i],
               s->errstr);
      rein__redis_free(s);
      continue;
    }
    rein__redis_free(s);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[0]->len >= hostcap || r->element[1]->len > 5) {
      snprintf(err, errcap, "sentinel %s:%d does not know master \"%s\"",
               hosts[i], ports[i], master);
      freeReplyObject(r);
      continue;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len + 1);
    *port = atoi(r->element[1]->str);
    freeReplyObject(r);
    redisContext *c =
        rein__redis_connect(host, *port, connect_ns, command_ns, lim);
    if (!c || c->err) {
      snprintf(err, errcap, "primary %s:%d (from sentinel %s:%d): %s", host,
               *port, hosts[i], ports[i], c ? c->errstr : "out of memory");
      rein__redis_free(c);
      continue;
    }
    const char *role[1] = {"ROLE"};
    r = rein__redis_command(c, rein__redis_now() + command_ns, 1, role, NULL);
    bool is_master = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                     r->element[0]->type == REDIS_REPLY_STRING &&
                     strcmp(r->element[0]->str, "master") == 0;
    if (!is_master) {
      snprintf(err, errcap,
               "%s:%d (named by sentinel %s:%d) is not a primary (%s)", host,
               *port, hosts[i], ports[i], r ? "ROLE says replica" : c->errstr);
      if (r) freeReplyObject(r);
      rein__redis_free(c);
      continue;
    }
    freeReplyObject(r);
    return c;
  }
  return NULL;
}

/* ---- Cluster ----------------------------------------------------------- */

static uint16_t crc16(const unsigned char *p, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)(p[i] << 8);
    for (int b = 0; b < 8; b++)
      crc =
          crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

unsigned rein__redis_slot(const char *key, size_t len) {
  const char *open = memchr(key, '{', len);
  if (open) {
    size_t off = (size_t)(open - key) + 1;
    const char *close = memchr(open + 1, '}', len - off);
    if (close && close > open + 1)
      return crc16((const unsigned char *)open + 1,
                   (size_t)(close - open - 1)) &
             16383;
  }
  return crc16((const unsigned char *)key, len) & 16383;
}

static int node_index(rein__redis_cluster *cl, const char *host, size_t hl,
                      int port) {
  for (int i = 0; i < cl->nnodes; i++)
    if (cl->node[i].port == port && strlen(cl->node[i].host) == hl &&
        memcmp(cl->node[i].host, host, hl) == 0)
      return i;
  if (cl->nnodes == REIN__REDIS_CLUSTER_NODES || hl >= 256) return -1;
  int i = cl->nnodes++;
  memcpy(cl->node[i].host, host, hl);
  cl->node[i].host[hl] = 0;
  cl->node[i].port = port;
  cl->node[i].c = NULL;
  return i;
}

int rein__redis_cluster_init(rein__redis_cluster *cl, const char *seeds,
                             int64_t connect_ns, int64_t command_ns, char *err,
                             size_t errcap) {
  memset(cl, 0, sizeof *cl);
  cl->connect_ns = connect_ns;
  cl->command_ns = command_ns;
  cl->stale = true;
  cl->nseeds =
      rein__redis_parse_addrs(seeds, cl->seed_buf, sizeof cl->seed_buf,
                              cl->seed_host, cl->seed_port, 16, err, errcap);
  return cl->nseeds < 0 ? -1 : 0;
}

void rein__redis_cluster_free(rein__redis_cluster *cl) {
  for (int i = 0; i < cl->nnodes; i++) {
    rein__redis_free(cl->node[i].c);
    cl->node[i].c = NULL;
  }
  cl->nnodes = 0;
}

static redisContext *node_conn(rein__redis_cluster *cl, int i, char *err,
                               size_t errcap) {
  if (cl->node[i].c && !cl->node[i].c->err) return cl->node[i].c;
  rein__redis_free(cl->node[i].c);
  cl->node[i].c = rein__redis_connect(cl->node[i].host, cl->node[i].port,
                                      cl->connect_ns, cl->command_ns, NULL);
  if (!cl->node[i].c || cl->node[i].c->err) {
    snprintf(err, errcap, "cluster node %s:%d: %s", cl->node[i].host,
             cl->node[i].port,
             cl->node[i].c ? cl->node[i].c->errstr : "out of memory");
    rein__redis_free(cl->node[i].c);
    cl->node[i].c = NULL;
    return NULL;
  }
  return cl->node[i].c;
}

/* Applies a CLUSTER SLOTS reply: [[start, end, [host, port, ...], ...]].
 * An empty host (or "?") means the node that answered, `self`. */
int rein__redis_cluster_apply(rein__redis_cluster *cl, const redisReply *r,
                              int self) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return -1;
  uint8_t map[16384];
  memset(map, 0, sizeof map);
  for (size_t i = 0; i < r->elements; i++) {
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        e->element[0]->type != REDIS_REPLY_INTEGER ||
        e->element[1]->type != REDIS_REPLY_INTEGER ||
        e->element[2]->type != REDIS_REPLY_ARRAY ||
        e->element[2]->elements < 2 ||
        e->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
      return -1;
    long long a = e->element[0]->integer, b = e->element[1]->integer;
    const redisReply *h = e->element[2]->element[0];
    long long port = e->element[2]->element[1]->integer;
    if (a < 0 || b > 16383 || a > b || port < 1 || port > 65535) return -1;
    const char *hs = h->str;
    size_t hl = h->len;
    if (hl == 0 || (hl == 1 && hs[0] == '?')) {
      hs = cl->node[self].host;
      hl = strlen(hs);
    }
    int n = node_index(cl, hs, hl, (int)port);
    if (n < 0) return -1;
    for (long long sl = a; sl <= b; sl++)
      map[sl] = (uint8_t)(n + 1);
  }
  memcpy(cl->slot_node, map, sizeof map);
  cl->stale = false;
  return 0;
}

int rein__redis_cluster_refresh(rein__redis_cluster *cl, char *err,
                                size_t errcap) {
  snprintf(err, errcap, "no cluster node answered CLUSTER SLOTS");
  /* known nodes first, then the seeds */
  for (int i = 0; i < cl->nseeds; i++)
    node_index(cl, cl->seed_host[i], strlen(cl->seed_host[i]),
               cl->seed_port[i]);
  for (int i = 0; i < cl->nnodes; i++) {
    redisContext *c = node_conn(cl, i, err, errcap);
    if (!c) continue;
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    redisReply *r = rein__redis_command(c, rein__redis_now() + cl->command_ns,
                                        2, argv, NULL);
    if (!r) {
      snprintf(err, errcap, "cluster node %s:%d: CLUSTER SLOTS: %s",
               cl->node[i].host, cl->node[i].port, c->errstr);
      rein__redis_free(c);
      cl->node[i].c = NULL;
      continue;
    }
    int ok = rein__redis_cluster_apply(cl, r, i);
    if (ok != 0)
      snprintf(err, errcap, "cluster node %s:%d: CLUSTER SLOTS: %s",
               cl->node[i].host, cl->node[i].port,
               r->type == REDIS_REPLY_ERROR ? r->str
                                            : "unexpected reply shape");
    freeReplyObject(r);
    if (ok == 0) return 0;
  }
  return -1;
}

redisContext *rein__redis_cluster_conn(rein__redis_cluster *cl, unsigned slot,
                                       char *err, size_t errcap) {
  slot &= 16383;
  if ((cl->stale || !cl->slot_node[slot]) &&
      rein__redis_cluster_refresh(cl, err, errcap) != 0)
    return NULL;
  if (!cl->slot_node[slot]) {
    snprintf(err, errcap, "cluster: no node serves slot %u", slot);
    return NULL;
  }
  return node_conn(cl, cl->slot_node[slot] - 1, err, errcap);
}

redisContext *rein__redis_cluster_node(rein__redis_cluster *cl,
                                       const char *host, int port, char *err,
                                       size_t errcap) {
  int i = node_index(cl, host, strlen(host), port);
  if (i < 0) {
    snprintf(err, errcap, "cluster: more than %d nodes",
             REIN__REDIS_CLUSTER_NODES);
    return NULL;
  }
  return node_conn(cl, i, err, errcap);
}

int rein__redis_cluster_redirect(rein__redis_cluster *cl, const char *msg,
                                 char *host, size_t hostcap, int *port) {
  int kind = strncmp(msg, "MOVED ", 6) == 0 ? 1
             : strncmp(msg, "ASK ", 4) == 0 ? 2
                                            : 0;
  if (!kind) return 0;
  const char *p = msg + (kind == 1 ? 6 : 4);
  char *end;
  long slot = strtol(p, &end, 10);
  if (end == p || *end != ' ' || slot < 0 || slot > 16383) return 0;
  const char *addr = end + 1;
  const char *colon = strrchr(addr, ':');
  if (!colon || colon == addr || (size_t)(colon - addr) >= hostcap) return 0;
  long pt = strtol(colon + 1, &end, 10);
  if (pt < 1 || pt > 65535) return 0;
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = 0;
  *port = (int)pt;
  if (kind == 1) {
    int i = node_index(cl, host, strlen(host), *port);
    if (i >= 0)
      cl->slot_node[slot] = (uint8_t)(i + 1);
    else
      cl->stale = true;
  }
  return kind;
}

void rein__redis_cluster_drop(rein__redis_cluster *cl, redisContext *c) {
  for (int i = 0; i < cl->nnodes; i++)
    if (cl->node[i].c == c) {
      rein__redis_free(c);
      cl->node[i].c = NULL;
    }
  cl->stale = true;
}
