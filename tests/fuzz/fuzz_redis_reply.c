/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_redis_reply.c: libFuzzer target for rein's own parsing of Redis
 * replies. The input is raw RESP bytes, as a hostile server would send
 * them; they are parsed by hiredis's reader under rein's reply limits
 * (src/redis/conn.c), and every reply that comes out is handed to each
 * piece of rein that turns a redisReply into rein records: the idempotency
 * store's begin decode (src/idem/redis.c), the Streams entry decode
 * (src/inbox/broker_redis.c, both as a bare entries array and as an
 * XREADGROUP reply), the fleet's script-reply check (src/fleet) and the
 * cluster slot map (CLUSTER SLOTS, src/redis/conn.c). They
 * must never crash, read out of bounds or leak, whatever the shape.
 */
#include "fleet/fleet_internal.h"
#include "idem/idem_internal.h"
#include "inbox/inbox_internal.h"
#include "rein_redis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static rein_idem_store *store(void) {
  static rein_idem_store *s;
  if (!s) {
    rein_idem_config c;
    rein_idem_config_default(&c);
    if (rein_idem_mem_new(&c, &s) != REIN_OK) abort();
  }
  return s;
}

static void decode_all(const redisReply *r) {
  static const uint8_t id[32] = {1};
  rein_idem_result res;
  memset(&res, 0, sizeof res);
  if (rein__idem_redis_decode_begin(store(), r, id, 7, &res) == REIN_OK)
    rein_idem_result_clear(&res);

  static rein_broker_msg msgs[64];
  static size_t klen[64];
  size_t n = rein__broker_redis_decode(r, "key", "body", msgs, klen, 64);
  for (size_t i = 0; i < n; i++) {
    /* touch what the inbox would read */
    volatile size_t t = strlen(msgs[i].id) + msgs[i].body_len;
    if (msgs[i].key) t += strlen(msgs[i].key) + klen[i];
    (void)t;
  }
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
      r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements >= 2)
    rein__broker_redis_decode(r->element[0]->element[1], "key", "body", msgs,
                              klen, 64);

  long long v[5];
  (void)rein__fleet_reply_ints(r, v, 5);

  static rein__redis_cluster cl;
  if (cl.nnodes == 0) {
    char err[64];
    if (rein__redis_cluster_init(&cl, "127.0.0.1:7000", 1000000, 1000000, err,
                                 sizeof err) != 0)
      abort();
    snprintf(cl.node[0].host, sizeof cl.node[0].host, "127.0.0.1");
    cl.node[0].port = 7000;
    cl.nnodes = 1;
  }
  (void)rein__redis_cluster_apply(&cl, r, 0);
  if (cl.nnodes > 16) cl.nnodes = 1; /* no connections are ever made */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  redisReader *rd = redisReaderCreate();
  if (!rd) return 0;
  /* small limits, so the fuzzer reaches them */
  rein__redis_limits lim = {64, 256, 65536};
  if (rein__redis_reader_guard(rd, &lim) != 0) abort();
  if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
    for (int i = 0; i < 32; i++) {
      void *r = NULL;
      rein__redis_reader_reset(rd);
      if (redisReaderGetReply(rd, &r) != REDIS_OK || !r) break;
      decode_all(r);
      freeReplyObject(r);
    }
  }
  rein__redis_reader_unguard(rd);
  redisReaderFree(rd);
  return 0;
}
