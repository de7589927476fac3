/* SPDX-License-Identifier: Apache-2.0 */
/*
 * redis.c: the Redis idempotency store (hiredis).
 *
 * Each record is one hash; every operation is one Lua script, so Redis runs
 * it atomically and no client can observe or interleave a half-made claim.
 * The scripts read the server's TIME (allowed since Redis 5 with effect
 * replication, the default from 7), so leases and retention are judged by
 * one clock whatever the application servers think the time is. Times in
 * the hash are microseconds (Lua numbers are doubles: exact to 2^53 us,
 * i.e. for 285 years). Expiry is PEXPIREAT at the later of retention end
 * and lease end, so Redis forgets a record exactly when begin would treat it as
 * absent; purge has nothing to do. Scripts are loaded once with SCRIPT LOAD
 * and run with EVALSHA; a NOSCRIPT reply (server restarted, SCRIPT FLUSH)
 * falls back to EVAL, which caches the script again.
 *
 * Every call goes through the shared bounded connection (src/redis): reply
 * limits and one deadline of timeout_ms per call, so a hostile or broken
 * server costs an error, not a stall. A connection that failed is dropped
 * and the next call connects again, through the sentinels when they are
 * configured (they name the current primary after a failover). Durable
 * mode pipelines WAIT after each script: a write counts only once that
 * many replicas hold it.
 */
#include "idem_internal.h"

#include "rein_redis.h"

#include <hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* The state rules of rein__idem_decide(), restated in Lua. Returns
 * {1, fence, recovered, phase, expires_in_us}      NEW
 * {2, status, headers, body, expires_in_us}         REPLAY
 * {3, retry_after_us, expires_in_us}                IN_PROGRESS
 * {4}                                               MISMATCH */
static const char begin_lua[] =
    "local function I(x) return string.format('%d', x) end\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local k = KEYS[1]\n"
    "local fp, lease, ret, nonce = ARGV[1], tonumber(ARGV[2]),"
    " tonumber(ARGV[3]), ARGV[4]\n"
    "local h = redis.call('HMGET', k, 'fp', 'st', 'fence', 'cr', 'ex', 'ls',"
    " 'ph', 'status')\n"
    "local st = tonumber(h[2])\n"
    "local fence = tonumber(h[3]) or 0\n"
    "local ex, ls = tonumber(h[5]) or 0, tonumber(h[6]) or 0\n"
    "local function claim(recovered, cr, exp, phase)\n"
    "  fence = fence + 1\n"
    "  local lu = now + lease\n"
    "  if st ~= nil then\n"
    "    if recovered then redis.call('HDEL', k, 'status', 'hd', 'bd')\n"
    "    else redis.call('HDEL', k, 'status', 'hd', 'bd', 'ph') end\n"
    "  end\n"
    "  redis.call('HSET', k, 'fp', fp, 'st', '1', 'fence', I(fence),"
    " 'nonce', nonce, 'cr', I(cr), 'ex', I(exp), 'ls', I(lu))\n"
    "  local last = exp\n"
    "  if lu > last then last = lu end\n"
    "  redis.call('PEXPIREAT', k, I(math.ceil(last / 1000)))\n"
    "  return {1, fence, recovered and 1 or 0, phase or '', exp - now}\n"
    "end\n"
    "if st == nil or (ex <= now and not (st == 1 and ls > now)) then\n"
    "  return claim(false, now, now + ret, nil)\n"
    "end\n"
    "if st == 2 then return claim(false, tonumber(h[4]), ex, nil) end\n"
    "if h[1] ~= fp then return {4} end\n"
    "if st == 3 then\n"
    "  local b = redis.call('HMGET', k, 'hd', 'bd')\n"
    "  return {2, tonumber(h[8]), b[1] or '', b[2] or '', ex - now}\n"
    "end\n"
    "if ls > now then\n"
    "  local left = ex - now\n"
    "  if left < 0 then left = 0 end\n"
    "  return {3, ls - now, left}\n"
    "end\n"
    "return claim(true, tonumber(h[4]), ex, h[7])\n";

/* ARGV: fence, nonce, op ('cp' | 'done' | 'rel'), then
 * cp: phase, extend_us; done: status, headers, body. Returns 1 or 0.
 * Expiry is absolute (PEXPIREAT), so only a lease extension reads TIME. */
static const char update_lua[] =
    "local function I(x) return string.format('%d', x) end\n"
    "local k = KEYS[1]\n"
    "local h = redis.call('HMGET', k, 'st', 'fence', 'nonce', 'ex')\n"
    "if tonumber(h[1]) ~= 1 or tonumber(h[2]) ~= tonumber(ARGV[1]) or"
    " h[3] ~= ARGV[2] then return 0 end\n"
    "local ex = tonumber(h[4])\n"
    "local op = ARGV[3]\n"
    "if op == 'cp' then\n"
    "  local ext = tonumber(ARGV[5])\n"
    "  if ext > 0 then\n"
    "    local t = redis.call('TIME')\n"
    "    local ls = tonumber(t[1]) * 1000000 + tonumber(t[2]) + ext\n"
    "    redis.call('HSET', k, 'ph', ARGV[4], 'ls', I(ls))\n"
    "    local last = ex\n"
    "    if ls > last then last = ls end\n"
    "    redis.call('PEXPIREAT', k, I(math.ceil(last / 1000)))\n"
    "  else\n"
    "    redis.call('HSET', k, 'ph', ARGV[4])\n"
    "  end\n"
    "  return 1\n"
    "end\n"
    "if op == 'done' then\n"
    "  redis.call('HSET', k, 'st', '3', 'status', ARGV[4], 'hd', ARGV[5], 'bd',"
    " ARGV[6])\n"
    "else\n"
    "  redis.call('HSET', k, 'st', '2')\n"
    "  redis.call('HDEL', k, 'ph')\n"
    "end\n"
    "redis.call('PEXPIREAT', k, I(math.ceil(ex / 1000)))\n"
    "return 1\n";

#define RD_SENTINELS_MAX 16

typedef struct rd {
  redisContext *ctx;
  bool owns, given;
  char prefix[65];
  char sha_begin[41], sha_update[41];
  int64_t timeout_ns;
  /* direct: host:port; with sentinels: the primary last found */
  char host[256];
  int port;
  int nsent;
  const char *sent_host[RD_SENTINELS_MAX];
  int sent_port[RD_SENTINELS_MAX];
  char sent_buf[2048];
  char master[129];
  int wait_replicas;
  int wait_timeout_ms;
  rein__redis_cluster *cl; /* cluster mode; NULL otherwise */
} rd;

static rein_status rd_ctx_err(rein_idem_store *s, redisContext *c,
                              const char *what) {
  if (!c)
    return rein__idem_fail(s, REIN_ENOMEM, "redis: out of memory during %s",
                           what);
  /* timed out or closed: REIN_ECLOSED (rein/idem.h); a reply refused by
   * the limits or not RESP: REIN_EBACKEND. Either way the connection is
   * dropped and the next call makes a new one. */
  rein_status st = rein__redis_status(c);
  st = st == REIN_EPARSE   ? REIN_EBACKEND
       : st == REIN_ENOMEM ? REIN_ENOMEM
                           : REIN_ECLOSED;
  return rein__idem_fail(s, st, "redis: connection error during %s: %s", what,
                         c->errstr[0] ? c->errstr : "connection closed");
}

/* A usable connection: the current one, or a new one (an owned connection
 * that failed is dropped and made again; a given one is the caller's). */
static rein_status ensure(rein_idem_store *s) {
  rd *d = s->impl;
  if (d->ctx && !d->ctx->err) return REIN_OK;
  if (d->given)
    return rd_ctx_err(s, d->ctx,
                      "a call (the connection given "
                      "in .ctx failed)");
  rein__redis_free(d->ctx);
  d->ctx = NULL;
  if (d->nsent > 0) {
    char why[256];
    d->ctx = rein__redis_sentinel_connect(
        d->sent_host, d->sent_port, d->nsent, d->master, d->timeout_ns,
        d->timeout_ns, NULL, d->host, sizeof d->host, &d->port, why,
        sizeof why);
    if (!d->ctx)
      return rein__idem_fail(
          s, REIN_ECLOSED, "redis: no primary for \"%s\": %s", d->master, why);
    return REIN_OK;
  }
  d->ctx =
      rein__redis_connect(d->host, d->port, d->timeout_ns, d->timeout_ns, NULL);
  if (!d->ctx || d->ctx->err) return rd_ctx_err(s, d->ctx, "connect");
  return REIN_OK;
}

/* Reads the WAIT reply pipelined after a write. */
static rein_status check_wait(rein_idem_store *s, redisContext *c,
                              int64_t deadline) {
  rd *d = s->impl;
  redisReply *w;
  if (rein__redis_get_reply(c, deadline, &w) != REDIS_OK)
    return rd_ctx_err(s, c, "WAIT");
  rein_status st = REIN_OK;
  if (w->type != REDIS_REPLY_INTEGER)
    st = rein__idem_fail(s, REIN_EBACKEND, "redis: WAIT: %s",
                         w->type == REDIS_REPLY_ERROR ? w->str
                                                      : "unexpected reply");
  else if (w->integer < d->wait_replicas)
    st = rein__idem_fail(
        s, REIN_ENOTDURABLE,
        "redis: WAIT: %lld of %d replicas acknowledged the write within "
        "%d ms; it may not survive a failover (retry with the same key)",
        w->integer, d->wait_replicas, d->wait_timeout_ms);
  freeReplyObject(w);
  return st;
}

/* Runs a script by SHA; on NOSCRIPT, by text. `argv` excludes the command
 * name, sha/script, numkeys. Returns the reply or NULL with the store's
 * message set and `*st` the status. */
static redisReply *run_script(rein_idem_store *s, const char *sha,
                              const char *script, const char *key, int nargs,
                              const char **args, const size_t *lens,
                              rein_status *st) {
  rd *d = s->impl;
  const char *argv[16];
  size_t argl[16];
  argv[0] = "EVALSHA";
  argl[0] = 7;
  argv[1] = sha;
  argl[1] = 40;
  argv[2] = "1";
  argl[2] = 1;
  argv[3] = key;
  argl[3] = strlen(key);
  for (int i = 0; i < nargs; i++) {
    argv[4 + i] = args[i];
    argl[4 + i] = lens[i];
  }
  char wn[16], wt[16];
  snprintf(wn, sizeof wn, "%d", d->wait_replicas);
  snprintf(wt, sizeof wt, "%d", d->wait_timeout_ms);
  const char *wargv[3] = {"WAIT", wn, wt};
  int64_t deadline = rein__redis_now() + d->timeout_ns +
                     (int64_t)d->wait_timeout_ms * REIN_NS_PER_MS;
  /* Each record is one key (KEYS[1]): every script touches one slot. */
  unsigned slot = rein__redis_slot(key, strlen(key));
  bool eval = false, asking = false;
  char ahost[256];
  int aport = 0;
  for (int hop = 0; hop < 8; hop++) {
    redisContext *c;
    if (d->cl) {
      char why[300];
      c = asking
              ? rein__redis_cluster_node(d->cl, ahost, aport, why, sizeof why)
              : rein__redis_cluster_conn(d->cl, slot, why, sizeof why);
      if (!c) {
        *st = rein__idem_fail(s, REIN_ECLOSED, "redis: %s", why);
        return NULL;
      }
    } else {
      *st = ensure(s);
      if (*st != REIN_OK) return NULL;
      c = d->ctx;
    }
    const char *ask[1] = {"ASKING"};
    redisReply *r = NULL, *ar = NULL;
    bool io = (asking && redisAppendCommandArgv(c, 1, ask, NULL) != REDIS_OK) ||
              redisAppendCommandArgv(c, 4 + nargs, argv, argl) != REDIS_OK ||
              (d->wait_replicas > 0 &&
               redisAppendCommandArgv(c, 3, wargv, NULL) != REDIS_OK) ||
              (asking && rein__redis_get_reply(c, deadline, &ar) != REDIS_OK) ||
              rein__redis_get_reply(c, deadline, &r) != REDIS_OK;
    if (ar) freeReplyObject(ar);
    rein_status ws = REIN_OK;
    if (!io && d->wait_replicas > 0) {
      ws = check_wait(s, c, deadline);
      io = c->err != 0;
    }
    if (io) {
      if (r) freeReplyObject(r);
      *st = rd_ctx_err(s, c, eval ? "EVAL" : "EVALSHA");
      if (d->cl) rein__redis_cluster_drop(d->cl, c);
      return NULL;
    }
    asking = false;
    if (r->type != REDIS_REPLY_ERROR) {
      if (ws != REIN_OK) {
        freeReplyObject(r);
        *st = ws;
        return NULL;
      }
      *st = REIN_OK;
      return r;
    }
    if (!eval && strncmp(r->str, "NOSCRIPT", 8) == 0) {
      freeReplyObject(r);
      eval = true;
      argv[0] = "EVAL";
      argl[0] = 4;
      argv[1] = script;
      argl[1] = strlen(script);
      continue;
    }
    if (d->cl) {
      int kind = rein__redis_cluster_redirect(d->cl, r->str, ahost,
                                              sizeof ahost, &aport);
      if (kind) {
        freeReplyObject(r);
        asking = kind == 2;
        continue;
      }
    }
    /* a demoted primary (READONLY), a server still loading, or a
     * redirect without cluster mode: reconnect on the next call, through
     * the sentinels when configured */
    bool moved = strncmp(r->str, "READONLY", 8) == 0 ||
                 strncmp(r->str, "MOVED", 5) == 0 ||
                 strncmp(r->str, "CLUSTERDOWN", 11) == 0 ||
                 strncmp(r->str, "TRYAGAIN", 8) == 0 ||
                 strncmp(r->str, "LOADING", 7) == 0;
    *st = rein__idem_fail(s, moved ? REIN_ECLOSED : REIN_EBACKEND, "redis: %s",
                          r->str);
    freeReplyObject(r);
    if (moved && d->cl) rein__redis_cluster_drop(d->cl, c);
    if (moved && !d->cl && !d->given) {
      rein__redis_free(d->ctx);
      d->ctx = NULL;
    }
    return NULL;
  }
  *st = rein__idem_fail(s, REIN_ECLOSED,
                        "redis: cluster: more than 8 redirections for one "
                        "call");
  return NULL;
}

static void record_key(const rd *d, const uint8_t id[32], char *buf,
                       size_t cap) {
  char hex[65];
  rein__idem_hex(id, hex);
  snprintf(buf, cap, "%s%s", d->prefix, hex);
}

/* Microseconds from the script as ns, clamped: a reply is input. */
static int64_t us_to_ns(long long us) {
  const long long cap = INT64_MAX / REIN_NS_PER_US;
  if (us > cap) us = cap;
  if (us < -cap) us = -cap;
  return (int64_t)us * REIN_NS_PER_US;
}

static rein_status bad_reply(rein_idem_store *s, const char *what) {
  return rein__idem_fail(s, REIN_EBACKEND,
                         "redis: unexpected reply shape from the %s script",
                         what);
}

static bool all_ints(const redisReply *r, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return false;
  return true;
}

/* The begin script's reply as a result (see begin_lua for the shapes).
 * Anything else is REIN_EBACKEND, never a guess. */
rein_status rein__idem_redis_decode_begin(rein_idem_store *s,
                                          const redisReply *r,
                                          const uint8_t id[32], uint64_t nonce,
                                          rein_idem_result *out) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_INTEGER)
    return bad_reply(s, "begin");
  redisReply **e = r->element;
  switch (e[0]->integer) {
  case 1:
    if (r->elements != 5 || !all_ints(r, 1, 3) ||
        e[3]->type != REDIS_REPLY_STRING || e[4]->type != REDIS_REPLY_INTEGER ||
        e[1]->integer < 1)
      return bad_reply(s, "begin");
    rein__idem_set_new(out, id, (uint64_t)e[1]->integer, nonce,
                       e[2]->integer != 0, e[3]->str, e[3]->len,
                       us_to_ns(e[4]->integer));
    return REIN_OK;
  case 2:
    if (r->elements != 5 || e[1]->type != REDIS_REPLY_INTEGER ||
        e[1]->integer < 100 || e[1]->integer > 599 ||
        e[2]->type != REDIS_REPLY_STRING || e[3]->type != REDIS_REPLY_STRING ||
        e[4]->type != REDIS_REPLY_INTEGER)
      return bad_reply(s, "begin");
    return rein__idem_set_replay(s, out, (int)e[1]->integer, e[2]->str,
                                 e[2]->len, e[3]->str, e[3]->len,
                                 us_to_ns(e[4]->integer));
  case 3:
    if (r->elements != 3 || !all_ints(r, 1, 3)) return bad_reply(s, "begin");
    out->outcome = REIN_IDEM_IN_PROGRESS;
    out->retry_after_ns = us_to_ns(e[1]->integer);
    if (out->retry_after_ns < 1) out->retry_after_ns = 1;
    out->expires_in_ns = us_to_ns(e[2]->integer);
    if (out->expires_in_ns < 0) out->expires_in_ns = 0;
    return REIN_OK;
  case 4:
    if (r->elements != 1) return bad_reply(s, "begin");
    out->outcome = REIN_IDEM_MISMATCH;
    return REIN_OK;
  default:
    return bad_reply(s, "begin");
  }
}

static rein_status rd_begin(rein_idem_store *s, const rein__idem_begin_args *a,
                            rein_idem_result *out) {
  rd *d = s->impl;
  char key[160], lease[24], ret[24], nonce[24];
  record_key(d, a->id, key, sizeof key);
  /* whole microseconds, rounded up so a lease is never shorter than asked */
  snprintf(lease, sizeof lease, "%lld",
           (long long)((a->lease_ns + REIN_NS_PER_US - 1) / REIN_NS_PER_US));
  snprintf(
      ret, sizeof ret, "%lld",
      (long long)((a->retention_ns + REIN_NS_PER_US - 1) / REIN_NS_PER_US));
  snprintf(nonce, sizeof nonce, "%" PRIu64, a->nonce);
  const char *args[4] = {(const char *)a->fp, lease, ret, nonce};
  size_t lens[4] = {32, strlen(lease), strlen(ret), strlen(nonce)};
  rein_status st;
  redisReply *r =
      run_script(s, d->sha_begin, begin_lua, key, 4, args, lens, &st);
  if (!r) return st;
  st = rein__idem_redis_decode_begin(s, r, a->id, a->nonce, out);
  freeReplyObject(r);
  return st;
}

static rein_status rd_update(rein_idem_store *s, const rein_idem_token *t,
                             int nargs, const char **args, const size_t *lens) {
  rd *d = s->impl;
  char key[160];
  record_key(d, t->id, key, sizeof key);
  rein_status st;
  redisReply *r =
      run_script(s, d->sha_update, update_lua, key, nargs, args, lens, &st);
  if (!r) return st;
  bool ok = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
  bool shape = r->type == REDIS_REPLY_INTEGER;
  freeReplyObject(r);
  if (!shape) return bad_reply(s, "update");
  if (!ok)
    return rein__idem_fail(s, REIN_ESTALE,
                           "idem: the token no longer holds the lease (taken "
                           "over, completed, released or expired)");
  return REIN_OK;
}

static rein_status rd_checkpoint(rein_idem_store *s, const rein_idem_token *t,
                                 const char *phase, int64_t extend_ns,
                                 int64_t now) {
  (void)now;
  char fence[24], nonce[24], ext[24];
  snprintf(fence, sizeof fence, "%" PRIu64, t->fence);
  snprintf(nonce, sizeof nonce, "%" PRIu64, t->nonce);
  snprintf(ext, sizeof ext, "%lld",
           (long long)((extend_ns + REIN_NS_PER_US - 1) / REIN_NS_PER_US));
  const char *args[5] = {fence, nonce, "cp", phase, ext};
  size_t lens[5] = {strlen(fence), strlen(nonce), 2, strlen(phase),
                    strlen(ext)};
  return rd_update(s, t, 5, args, lens);
}

static rein_status rd_complete(rein_idem_store *s, const rein_idem_token *t,
                               const rein_idem_response *r, bool keep,
                               int64_t now) {
  (void)now;
  char fence[24], nonce[24], status[16];
  snprintf(fence, sizeof fence, "%" PRIu64, t->fence);
  snprintf(nonce, sizeof nonce, "%" PRIu64, t->nonce);
  snprintf(status, sizeof status, "%d", r->status);
  const char *args[6] = {fence,
                         nonce,
                         keep ? "done" : "rel",
                         status,
                         r->headers_len ? r->headers : "",
                         r->body_len ? (const char *)r->body : ""};
  size_t lens[6] = {strlen(fence),  strlen(nonce),  keep ? 4u : 3u,
                    strlen(status), r->headers_len, r->body_len};
  return rd_update(s, t, keep ? 6 : 3, args, lens);
}

static rein_status rd_purge(rein_idem_store *s, size_t max_batch,
                            size_t *purged, int64_t now) {
  (void)s, (void)max_batch, (void)now;
  *purged = 0; /* Redis expires records itself (PEXPIREAT) */
  return REIN_OK;
}

static void rd_destroy(rein_idem_store *s) {
  rd *d = s->impl;
  if (!d) return;
  if (d->cl) {
    rein__redis_cluster_free(d->cl);
    rein_free(s->alloc, d->cl);
  }
  if (d->ctx) {
    if (!d->given || d->owns)
      rein__redis_free(d->ctx);
    else
      rein__redis_unguard(d->ctx); /* back to its owner as it came */
  }
  rein_free(s->alloc, d);
  s->impl = NULL;
}

static const rein__idem_vtable rd_vtable = {REIN__IDEM_VTABLE_VERSION,
                                            "redis",
                                            false,
                                            rd_begin,
                                            rd_checkpoint,
                                            rd_complete,
                                            rd_purge,
                                            rd_destroy};

/* ---- construction ------------------------------------------------------ */

void rein_idem_redis_config_default(rein_idem_redis_config *rc) {
  memset(rc, 0, sizeof *rc);
  rc->host = "127.0.0.1";
  rc->port = 6379;
  rc->timeout_ms = 2000;
  rc->prefix = "rein:idem:";
  rc->sentinels = NULL;
  rc->sentinel_master = "mymaster";
  rc->wait_replicas = 0;
  rc->wait_timeout_ms = 500;
  rc->cluster_nodes = NULL;
}

static rein_status load(rein_idem_store *s, rd *d, const char *script,
                        char sha[41]) {
  const char *argv[3] = {"SCRIPT", "LOAD", script};
  redisReply *r = rein__redis_command(d->ctx, rein__redis_now() + d->timeout_ns,
                                      3, argv, NULL);
  if (!r) return rd_ctx_err(s, d->ctx, "SCRIPT LOAD");
  rein_status st = REIN_OK;
  if (r->type == REDIS_REPLY_ERROR)
    st = rein__idem_fail(s, REIN_EBACKEND, "redis: SCRIPT LOAD: %s", r->str);
  else if (r->type != REDIS_REPLY_STRING || r->len != 40)
    st = rein__idem_fail(s, REIN_EBACKEND,
                         "redis: SCRIPT LOAD returned no SHA1");
  else
    memcpy(sha, r->str, 41);
  freeReplyObject(r);
  return st;
}

static bool valid_prefix(const char *p) {
  size_t n = p ? strlen(p) : 0;
  if (n < 1 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] > 0x7e) return false;
  return true;
}

rein_status rein_idem_redis_new(const rein_idem_config *c,
                                const rein_idem_redis_config *rc,
                                rein_idem_store **out) {
  rein_errbuf *err = c ? c->err : NULL;
  rein_idem_redis_config def;
  if (!rc) {
    rein_idem_redis_config_default(&def);
    rc = &def;
  }
  redisContext *given = rc->ctx;
  bool owns = given && rc->owns_ctx;
  const char *prefix = rc->prefix ? rc->prefix : "rein:idem:";
  rein_status st = REIN_OK;
  if (out) *out = NULL;
  if (!out)
    st = rein__idem_errbuf(err, REIN_EINVAL, "idem.redis: out is NULL");
  else if (!given && (!rc->host || !*rc->host))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.host: set a host (or pass an open "
                           "connection in .ctx)");
  else if (!given && (rc->port < 1 || rc->port > 65535))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.port: must be in [1, 65535], got %d",
                           rc->port);
  else if (rc->timeout_ms < 1 || rc->timeout_ms > 600000)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.timeout_ms: must be in [1, 600000], "
                           "got %d",
                           rc->timeout_ms);
  else if (!valid_prefix(prefix))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.prefix: must be 1..64 printable "
                           "ASCII bytes without spaces");
  else if (rc->wait_replicas < 0 || rc->wait_replicas > 64)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.wait_replicas: must be in [0, 64] "
                           "(0: no WAIT), got %d",
                           rc->wait_replicas);
  else if (rc->wait_replicas > 0 &&
           (rc->wait_timeout_ms < 1 || rc->wait_timeout_ms > 600000))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.wait_timeout_ms: must be in [1, "
                           "600000], got %d",
                           rc->wait_timeout_ms);
  else if (rc->sentinels && given)
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.sentinels: set either sentinels or "
                           "an open connection in .ctx, not both");
  else if (rc->sentinels && (!rc->sentinel_master || !*rc->sentinel_master ||
                             strlen(rc->sentinel_master) > 128))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.sentinel_master: must be the "
                           "monitored primary's name, 1..128 bytes");
  else if (rc->cluster_nodes && (given || rc->sentinels))
    st = rein__idem_errbuf(err, REIN_EINVAL,
                           "idem.redis.cluster_nodes: set one of "
                           "cluster_nodes, sentinels or .ctx");
  rein_idem_store *s = NULL;
  if (st == REIN_OK) st = rein__idem_store_alloc(c, &rd_vtable, &s);
  rd *d = NULL;
  if (st == REIN_OK) {
    d = rein_calloc(s->alloc, sizeof *d);
    if (!d)
      st = rein__idem_errbuf(err, REIN_ENOMEM, "idem.redis: out of memory");
  }
  if (st != REIN_OK) {
    rein__idem_store_dealloc(s);
    if (owns) redisFree(given);
    return st;
  }
  s->impl = d;
  snprintf(d->prefix, sizeof d->prefix, "%s", prefix);
  d->timeout_ns = (int64_t)rc->timeout_ms * REIN_NS_PER_MS;
  d->wait_replicas = rc->wait_replicas;
  d->wait_timeout_ms = rc->wait_timeout_ms;
  if (given) {
    d->ctx = given;
    d->given = true;
    d->owns = owns;
    if (rein__redis_guard(d->ctx, NULL) != 0)
      st = rein__idem_fail(s, REIN_ENOMEM, "redis: out of memory");
    else if (d->ctx->err)
      st = rd_ctx_err(s, d->ctx, "connect");
  } else if (rc->cluster_nodes) {
    char why[300];
    d->owns = true;
    d->cl = rein_calloc(s->alloc, sizeof *d->cl);
    if (!d->cl) {
      rein__idem_errbuf(err, REIN_ENOMEM, "idem.redis: out of memory");
      rein_idem_store_free(s);
      return REIN_ENOMEM;
    }
    if (rein__redis_cluster_init(d->cl, rc->cluster_nodes, d->timeout_ns,
                                 d->timeout_ns, why, sizeof why) != 0) {
      rein__idem_errbuf(err, REIN_EINVAL, "idem.redis.cluster_nodes: %s", why);
      rein_idem_store_free(s);
      return REIN_EINVAL;
    }
    /* the scripts are loaded on the node serving slot 0 for their SHA1s
     * (the same on every node); other nodes answer NOSCRIPT once and EVAL
     * caches them there */
    d->ctx = rein__redis_cluster_conn(d->cl, 0, why, sizeof why);
    if (!d->ctx) st = rein__idem_fail(s, REIN_ECLOSED, "redis: %s", why);
  } else if (rc->sentinels) {
    char why[200];
    d->nsent = rein__redis_parse_addrs(
        rc->sentinels, d->sent_buf, sizeof d->sent_buf, d->sent_host,
        d->sent_port, RD_SENTINELS_MAX, why, sizeof why);
    snprintf(d->master, sizeof d->master, "%s", rc->sentinel_master);
    if (d->nsent < 0) {
      d->nsent = 0;
      rein__idem_errbuf(err, REIN_EINVAL, "idem.redis.sentinels: %s", why);
      rein_idem_store_free(s);
      return REIN_EINVAL;
    }
    d->owns = true;
    st = ensure(s);
  } else {
    snprintf(d->host, sizeof d->host, "%s", rc->host);
    d->port = rc->port;
    d->owns = true;
    st = ensure(s);
  }
  if (st == REIN_OK) st = load(s, d, begin_lua, d->sha_begin);
  if (st == REIN_OK) st = load(s, d, update_lua, d->sha_update);
  if (d->cl) d->ctx = NULL; /* the cluster owns its connections */
  if (st != REIN_OK) {
    if (d->cl) d->ctx = NULL;
    if (given || rc->sentinels || rc->cluster_nodes)
      rein__idem_errbuf(err, st, "idem.redis: %s", s->errmsg);
    else
      rein__idem_errbuf(err, st, "idem.redis: %s (%s:%d)", s->errmsg, rc->host,
                        rc->port);
    rein_idem_store_free(s);
    return st;
  }
  *out = s;
  return REIN_OK;
}
