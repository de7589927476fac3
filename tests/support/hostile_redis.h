/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile_redis.h: a fake Redis server on 127.0.0.1 that misbehaves, run on
 * a thread inside the test: the tool for testing what rein does when the
 * peer is hostile or broken (a real server cannot be made to do this).
 * Bounded: at most 16 connections, at most 256 MiB sent per connection, and
 * it stops when told.
 */
#ifndef REIN_TEST_HOSTILE_REDIS_H
#define REIN_TEST_HOSTILE_REDIS_H

typedef enum rein_hostile_mode {
  REIN_HOSTILE_GARBAGE,    /* answers "!garbage" to the first command */
  REIN_HOSTILE_HUGE_ARRAY, /* answers "*2147483647" and then nothing */
  REIN_HOSTILE_HUGE_BULK,  /* "$2147483647" then bytes as fast as it can */
  REIN_HOSTILE_NESTED,     /* arrays of 1,000,000 arrays of 1,000,000 ... */
  REIN_HOSTILE_DRIP,       /* a long bulk string, one byte every drip_ms */
  REIN_HOSTILE_BLACKHOLE   /* accepts, reads, never answers */
} rein_hostile_mode;

typedef struct rein_hostile rein_hostile;

/* Starts the server; aborts the test on failure. */
rein_hostile *rein_hostile_start(rein_hostile_mode mode, int drip_ms);
int rein_hostile_port(const rein_hostile *h);
const char *rein_hostile_mode_name(rein_hostile_mode m);
/* Stops the thread and closes every socket. NULL is a no-op. */
void rein_hostile_stop(rein_hostile *h);

#endif
