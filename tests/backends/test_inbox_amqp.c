/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_inbox_amqp.c: the RabbitMQ broker adapter against a real
 * rabbitmq-server (REIN_AMQP_URL from scripts/services.sh), with the inbox
 * on SQLite.
 *
 * The test publishes with librabbitmq directly (message_id = business key)
 * and inspects the queues with passive queue.declare, so what it checks is
 * RabbitMQ's own view: every effect exactly once, every message acked (the
 * queue empty after the consumer closed, so nothing was left unacked to be
 * requeued), a delivery left unacked by a closed consumer comes back
 * redelivered with its count, a failing message lands in the dead-letter
 * queue after max_deliveries, and consumer processes SIGKILLed between
 * commit and ack leave no duplicate effect.
 *
 * The outbox's RabbitMQ deliverer (rein_outbox_amqp) is tested here too:
 * one delivery and its failure classes, intents relayed to a quorum queue
 * with a relay SIGKILLed between confirm and mark-delivered (the duplicate
 * it leaves is skipped by the downstream inbox), and the confirm control
 * (without confirms a refusing queue loses what the relay marks
 * delivered).
 *
 * Without REIN_AMQP_URL (services.sh started no rabbitmq-server) the test
 * fails and says so, as every backend test does without its server.
 * `--restart SCRIPT` runs only the broker restart test instead, on a
 * private node it starts with SCRIPT (scripts/services.sh), SIGKILLs,
 * restarts and stops.
 */
#include "rein_test.h"

#include "rein/inbox.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct amqp_connection_info g_url;
static char g_url_buf[512];
static int g_serial;
static uint64_t g_published; /* publishes on the open client connection */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a plain AMQP client for publishing and inspecting ------------------ */

static amqp_connection_state_t cli_open(void) {
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t *s = amqp_tcp_socket_new(c);
  assert_non_null(s);
  assert_int_equal(amqp_socket_open(s, g_url.host, g_url.port), 0);
  amqp_rpc_reply_t r =
      amqp_login(c, g_url.vhost, 1, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                 g_url.user, g_url.password);
  assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
  amqp_channel_open(c, 1);
  assert_int_equal(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
  /* publisher confirms: a publish to a quorum queue is only safe once
   * RabbitMQ confirmed it (unconfirmed ones in flight when the channel
   * closes can be lost, which the kill9 test once counted as "missing") */
  amqp_confirm_select(c, 1);
  assert_int_equal(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
  g_published = 0;
  return c;
}

/* Waits (bounded) until RabbitMQ confirmed every publish on `c`. */
static void cli_confirm_all(amqp_connection_state_t c) {
  uint64_t confirmed = 0;
  int64_t end = mono_ms() + 10000;
  while (confirmed < g_published && mono_ms() < end) {
    amqp_frame_t f;
    struct timeval tv = {1, 0};
    int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    assert_int_equal(rc, AMQP_STATUS_OK);
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    if (f.payload.method.id == AMQP_BASIC_NACK_METHOD)
      fail_msg("RabbitMQ refused a publish (basic.nack)");
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t *a = f.payload.method.decoded;
      if (a->multiple || a->delivery_tag > confirmed)
        confirmed = a->delivery_tag > confirmed ? a->delivery_tag : confirmed;
    }
  }
  assert_int_equal(confirmed, g_published);
}

static void cli_close(amqp_connection_state_t c) {
  cli_confirm_all(c);
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(c);
}

static void publish(amqp_connection_state_t c, const char *queue,
                    const char *key, const char *body) {
  amqp_basic_properties_t p;
  memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG;
  p.delivery_mode = 2;
  p.timestamp = (uint64_t)time(NULL);
  if (key) {
    p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
    p.message_id = amqp_cstring_bytes(key);
  }
  assert_int_equal(amqp_basic_publish(c, 1, amqp_empty_bytes,
                                      amqp_cstring_bytes(queue), 0, 0, &p,
                                      amqp_cstring_bytes(body)),
                   AMQP_STATUS_OK);
  g_published++;
}

/* Ready messages and consumers of `queue` (passive declare). Unacked
 * deliveries are not counted as ready: callers close consumers first, so
 * anything left unacked would have been requeued and counted here. */
static void queue_counts(const char *queue, uint32_t *ready,
                         uint32_t *consumers) {
  amqp_connection_state_t c = cli_open();
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(
      c, 1, amqp_cstring_bytes(queue), 1, 0, 0, 0, amqp_empty_table);
  assert_non_null(ok);
  *ready = ok->message_count;
  if (consumers) *consumers = ok->consumer_count;
  cli_close(c);
}

static void queue_delete(const char *queue) {
  amqp_connection_state_t c = cli_open();
  amqp_queue_delete(c, 1, amqp_cstring_bytes(queue), 0, 0);
  cli_close(c);
}

/* ---- fixture --------------------------------------------------------------
 */

typedef struct fx {
  char queue[96], dead_queue[112], path[128];
  rein_broker_amqp_config bc;
  rein_inbox_config ic;
  int calls, fail;
  uint32_t seen[16];
  int nseen;
  int kill_after; /* child: SIGKILL itself after this many commits */
  int commits;
} fx;

static void fx_init(fx *f, const char *tag) {
  memset(f, 0, sizeof *f);
  snprintf(f->queue, sizeof f->queue, "rein-test-%s-%d-%d", tag, (int)getpid(),
           ++g_serial);
  snprintf(f->dead_queue, sizeof f->dead_queue, "%s.dead", f->queue);
  snprintf(f->path, sizeof f->path, "/tmp/rein-test-amqp-%d-%d.db",
           (int)getpid(), g_serial);
  unlink(f->path);
  rein_broker_amqp_config_default(&f->bc);
  f->bc.host = g_url.host;
  f->bc.port = g_url.port;
  f->bc.vhost = g_url.vhost;
  f->bc.user = g_url.user;
  f->bc.password = g_url.password;
  f->bc.queue = f->queue;
  rein_inbox_config_default(&f->ic);
  f->ic.sqlite_path = f->path;
}

static void fx_done(fx *f) {
  queue_delete(f->queue);
  queue_delete(f->dead_queue);
  char p[160];
  unlink(f->path);
  snprintf(p, sizeof p, "%s-wal", f->path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", f->path);
  unlink(p);
}

static rein_status handler(void *ctx, rein_inbox_tx *tx,
                           const rein_broker_msg *m, char *err, size_t cap) {
  fx *f = ctx;
  f->calls++;
  if (f->nseen < 16) f->seen[f->nseen++] = m->deliveries;
  if (f->fail) {
    snprintf(err, cap, "card declined for %s", m->key);
    return REIN_EBACKEND;
  }
  sqlite3_stmt *st;
  sqlite3 *db = rein_inbox_tx_sqlite(tx);
  if (sqlite3_prepare_v2(db, "INSERT INTO effects(k) VALUES (?)", -1, &st,
                         NULL) != SQLITE_OK)
    return REIN_EBACKEND;
  sqlite3_bind_text(st, 1, m->key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? REIN_OK : REIN_EBACKEND;
}

static void after_commit(void *ctx, const rein_broker_msg *m) {
  (void)m;
  fx *f = ctx;
  if (f->kill_after && ++f->commits == f->kill_after) raise(SIGKILL);
}

static rein_inbox *inbox_open(fx *f, rein_broker *b) {
  f->ic.broker = b;
  f->ic.handler = handler;
  f->ic.handler_ctx = f;
  f->ic.hooks.after_commit = after_commit;
  f->ic.hooks.ctx = f;
  rein_inbox *ib = NULL;
  rein_status st = rein_inbox_sqlite_new(&f->ic, &ib);
  if (st != REIN_OK) fail_msg("inbox: %s", rein_status_name(st));
  char *e = NULL;
  sqlite3_exec(rein_inbox_sqlite(ib),
               "CREATE TABLE IF NOT EXISTS effects(k TEXT NOT NULL)", NULL,
               NULL, &e);
  sqlite3_free(e);
  return ib;
}

static long long q_int(rein_inbox *ib, const char *sql) {
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_prepare_v2(rein_inbox_sqlite(ib), sql, -1, &st, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return v;
}

static rein_broker *broker_open(fx *f) {
  rein_errbuf e = {{0}};
  f->bc.err = &e;
  rein_broker *b = NULL;
  rein_status st = rein_broker_amqp_new(&f->bc, &b);
  f->bc.err = NULL;
  if (st != REIN_OK) fail_msg("broker: %s: %s", rein_status_name(st), e.msg);
  return b;
}

/* ---- tests ----------------------------------------------------------------
 */

/* N messages, 50 of them published twice by the producer: every key's
 * effect once, every delivery acked, the queue empty. */
static void test_exactly_once(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "once");
  enum { N = 400, DUP = 50 };
  rein_broker *b = broker_open(&f);
  rein_inbox *ib = inbox_open(&f, b);
  amqp_connection_state_t c = cli_open();
  char key[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "pay-%d", i);
    publish(c, f.queue, key, "{\"amount\":1}");
    if (i < DUP) publish(c, f.queue, key, "{\"amount\":1}");
  }
  cli_close(c);
  rein_inbox_stats s = {0};
  int64_t end = mono_ms() + 30000;
  while (s.processed + s.duplicates < N + DUP && mono_ms() < end) {
    rein_status st = rein_inbox_poll(ib, 32, 200, &s);
    if (st != REIN_OK) fail_msg("poll: %s", rein_inbox_errmsg(ib));
  }
  assert_int_equal(s.processed, N);
  assert_int_equal(s.duplicates, DUP);
  assert_int_equal(s.failed + s.dead, 0);
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects"), N);
  assert_int_equal(q_int(ib, "SELECT count(DISTINCT k) FROM effects"), N);
  /* nothing more arrives */
  rein_broker_batch bt;
  assert_int_equal(rein_broker_read(b, 10, 100, &bt), REIN_OK);
  assert_int_equal(bt.n, 0);
  rein_inbox_free(ib);
  rein_broker_free(b); /* unacked deliveries would be requeued now */
  /* the quorum queue applies a closed consumer's departure (and any
   * return) asynchronously: wait (bounded) for it to show */
  uint32_t ready, consumers;
  int64_t t0 = mono_ms();
  do {
    queue_counts(f.queue, &ready, &consumers);
  } while (consumers != 0 && mono_ms() - t0 < 5000 && usleep(20000) == 0);
  assert_int_equal(ready, 0);
  assert_int_equal(consumers, 0);
  queue_counts(f.dead_queue, &ready, NULL);
  assert_int_equal(ready, 0);
  fx_done(&f);
}

/* A consumer that closes without acking: RabbitMQ requeues, the next
 * consumer sees it redelivered (count 2 on a quorum queue; "at least
 * twice" on a classic one), and the inbox processes it once. */
static void redelivery(bool quorum) {
  fx f;
  fx_init(&f, quorum ? "redeliver-q" : "redeliver-c");
  f.bc.quorum = quorum;
  rein_broker *a = broker_open(&f);
  amqp_connection_state_t c = cli_open();
  publish(c, f.queue, "order-1", "x");
  cli_close(c);
  rein_broker_batch bt;
  assert_int_equal(rein_broker_read(a, 10, 5000, &bt), REIN_OK);
  assert_int_equal(bt.n, 1);
  assert_string_equal(bt.msgs[0].key, "order-1");
  assert_string_equal(bt.msgs[0].body, "x");
  assert_int_equal(bt.msgs[0].deliveries, 1);
  assert_true(bt.msgs[0].enqueued_unix_ms > 0);
  rein_broker_free(a); /* closes the channel with the delivery unacked */

  rein_broker *b = broker_open(&f);
  rein_inbox *ib = inbox_open(&f, b);
  rein_inbox_stats s = {0};
  int64_t end = mono_ms() + 10000;
  while (s.processed == 0 && mono_ms() < end)
    assert_int_equal(rein_inbox_poll(ib, 10, 200, &s), REIN_OK);
  assert_int_equal(s.processed, 1);
  assert_int_equal(f.nseen, 1);
  assert_int_equal(f.seen[0], 2);
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects"), 1);
  rein_inbox_free(ib);
  rein_broker_free(b);
  uint32_t ready;
  queue_counts(f.queue, &ready, NULL);
  assert_int_equal(ready, 0);
  fx_done(&f);
}

static void test_redelivery_quorum(void **state) {
  (void)state;
  redelivery(true);
}

static void test_redelivery_classic(void **state) {
  (void)state;
  redelivery(false);
}

/* A message whose handler always fails: claim_stale (min_idle 0) requeues
 * it after each failure, the count rises 1, 2, 3, and on delivery 3
 * (max_deliveries) the inbox dead-letters it: it is in the DLQ with
 * RabbitMQ's x-death, and the work queue is empty. */
static void test_dead_letter(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "dead");
  f.bc.min_idle_ns = 0;
  f.ic.max_deliveries = 3;
  f.fail = 1;
  rein_broker *b = broker_open(&f);
  rein_inbox *ib = inbox_open(&f, b);
  amqp_connection_state_t c = cli_open();
  publish(c, f.queue, "poison-1", "boom");
  cli_close(c);
  rein_inbox_stats s = {0};
  int64_t end = mono_ms() + 60000;
  while (s.dead == 0 && mono_ms() < end)
    assert_int_equal(rein_inbox_poll(ib, 10, 200, &s), REIN_OK);
  assert_int_equal(s.dead, 1);
  assert_int_equal(s.failed, 2);
  assert_int_equal(f.nseen, 3);
  assert_int_equal(f.seen[0], 1);
  assert_int_equal(f.seen[1], 2);
  assert_int_equal(f.seen[2], 3);
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects"), 0);
  rein_inbox_free(ib);
  rein_broker_free(b);
  uint32_t ready;
  queue_counts(f.queue, &ready, NULL);
  assert_int_equal(ready, 0);
  /* dead-lettering is asynchronous inside RabbitMQ: wait for it */
  end = mono_ms() + 5000;
  do {
    queue_counts(f.dead_queue, &ready, NULL);
  } while (ready == 0 && mono_ms() < end && usleep(20000) == 0);
  assert_int_equal(ready, 1);
  c = cli_open();
  amqp_rpc_reply_t r =
      amqp_basic_get(c, 1, amqp_cstring_bytes(f.dead_queue), 1);
  assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
  assert_int_equal(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
  amqp_message_t msg;
  r = amqp_read_message(c, 1, &msg, 0);
  assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
  assert_int_equal(msg.properties.message_id.len, 8);
  assert_memory_equal(msg.properties.message_id.bytes, "poison-1", 8);
  bool xdeath = false;
  for (int i = 0; i < msg.properties.headers.num_entries; i++)
    if (msg.properties.headers.entries[i].key.len == 7 &&
        !memcmp(msg.properties.headers.entries[i].key.bytes, "x-death", 7))
      xdeath = true;
  assert_true(xdeath);
  amqp_destroy_message(&msg);
  cli_close(c);
  fx_done(&f);
}

/* Consumer processes SIGKILLed right after a commit, before the ack:
 * RabbitMQ requeues what they held, the next consumer's inbox skips the
 * committed one as a duplicate, and every effect happens exactly once. */
static void crash_kill9(bool dedup) {
  fx f;
  fx_init(&f, dedup ? "kill9" : "kill9-nodedup");
  f.bc.prefetch = 8;
  f.ic.dedup = dedup;
  enum { N = 300, KILLS = 4 };
  rein_broker *b0 = broker_open(&f); /* declares the queue */
  amqp_connection_state_t c = cli_open();
  char key[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "pay-%d", i);
    publish(c, f.queue, key, "x");
  }
  cli_close(c);
  rein_broker_free(b0);
  /* b0 held a prefetch window it never read; its close returns them
   * asynchronously inside the quorum queue: wait until all N are ready,
   * so every run starts from the same state */
  uint32_t before;
  int64_t t0 = mono_ms();
  do {
    queue_counts(f.queue, &before, NULL);
  } while (before != N && mono_ms() - t0 < 5000 && usleep(20000) == 0);
  assert_int_equal(before, N);
  int killed = 0;
  for (int k = 0; k < KILLS; k++) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      f.kill_after = 20 + 17 * k;
      rein_broker *b = NULL;
      if (rein_broker_amqp_new(&f.bc, &b) != REIN_OK) _exit(3);
      rein_inbox *ib = inbox_open(&f, b);
      int64_t end = mono_ms() + 20000;
      while (mono_ms() < end)
        if (rein_inbox_poll(ib, 8, 200, NULL) != REIN_OK) _exit(4);
      _exit(5); /* never reached its kill point */
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL) killed++;
  }
  assert_int_equal(killed, KILLS);
  rein_broker *b = broker_open(&f);
  f.kill_after = 0;
  rein_inbox *ib = inbox_open(&f, b);
  rein_inbox_stats s = {0};
  int64_t end = mono_ms() + 30000;
  long long done = 0;
  while (done < N + (dedup ? 0 : KILLS) && mono_ms() < end) {
    assert_int_equal(rein_inbox_poll(ib, 16, 200, &s), REIN_OK);
    done = q_int(ib, "SELECT count(*) FROM effects");
  }
  /* drain the rest (duplicates of the killed consumers' last commits) */
  for (int i = 0; i < 10; i++)
    assert_int_equal(rein_inbox_poll(ib, 16, 100, &s), REIN_OK);
  if (dedup && q_int(ib, "SELECT count(*) FROM effects") != N) {
    uint32_t r1, c1, r2;
    queue_counts(f.queue, &r1, &c1);
    queue_counts(f.dead_queue, &r2, NULL);
    print_message(
        "kill9: %lld effects after %lld ms; survivor processed %llu "
        "dup %llu failed %llu dead %llu; queue ready %u consumers "
        "%u; dead queue %u\n",
        q_int(ib, "SELECT count(*) FROM effects"),
        (long long)(mono_ms() - (end - 30000)), (unsigned long long)s.processed,
        (unsigned long long)s.duplicates, (unsigned long long)s.failed,
        (unsigned long long)s.dead, r1, c1, r2);
  }
  if (!dedup) {
    /* the control: without the inbox each commit-then-kill repeats an
     * effect, so the test can see what the inbox prevents */
    assert_int_equal(q_int(ib, "SELECT count(DISTINCT k) FROM effects"), N);
    /* at least one repeat per kill; RabbitMQ may add its own
     * at-least-once repeats (seen once in 15 runs: 307 for 304) */
    assert_true(q_int(ib, "SELECT count(*) FROM effects") >= N + KILLS);
    rein_inbox_free(ib);
    rein_broker_free(b);
    fx_done(&f);
    return;
  }
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects"), N);
  assert_int_equal(q_int(ib, "SELECT count(DISTINCT k) FROM effects"), N);
  /* each killed consumer committed one message it never acked; the next
   * consumer skipped it (only the last one's reaches the survivor) */
  assert_true(s.duplicates >= 1);
  print_message("kill9: %d consumers killed; survivor processed %llu, "
                "skipped %llu duplicates\n",
                killed, (unsigned long long)s.processed,
                (unsigned long long)s.duplicates);
  rein_inbox_free(ib);
  rein_broker_free(b);
  uint32_t ready;
  queue_counts(f.queue, &ready, NULL);
  assert_int_equal(ready, 0);
  fx_done(&f);
}

static void test_crash_kill9(void **state) {
  (void)state;
  crash_kill9(true);
}

static void test_crash_kill9_no_inbox(void **state) {
  (void)state;
  crash_kill9(false);
}

/* A consumer that closes with a full prefetch window it never read: the
 * next consumer, started at once, gets every message (20 rounds). */
static void test_close_unread(void **state) {
  (void)state;
  for (int round = 0; round < 20; round++) {
    fx f;
    fx_init(&f, "unread");
    f.bc.prefetch = 8;
    enum { N = 40 };
    rein_broker *a = broker_open(&f);
    amqp_connection_state_t c = cli_open();
    char key[32];
    for (int i = 0; i < N; i++) {
      snprintf(key, sizeof key, "k-%d", i);
      publish(c, f.queue, key, "x");
    }
    cli_close(c);
    rein_broker_free(a);
    rein_broker *b = broker_open(&f);
    char seen[N] = {0};
    int got = 0, redelivered = 0;
    int64_t end = mono_ms() + 10000;
    while (got < N && mono_ms() < end) {
      rein_broker_batch bt;
      assert_int_equal(rein_broker_read(b, 16, 200, &bt), REIN_OK);
      for (size_t i = 0; i < bt.n; i++) {
        int k = atoi(bt.msgs[i].key + 2);
        if (k >= 0 && k < N && !seen[k]) {
          seen[k] = 1;
          got++;
        }
        if (bt.msgs[i].deliveries > 1) redelivered++;
        assert_int_equal(rein_broker_ack(b, &bt.msgs[i]), REIN_OK);
      }
    }
    if (got != N)
      print_message("close_unread: round %d: %d of %d (redelivered %d)\n",
                    round, got, N, redelivered);
    assert_int_equal(got, N);
    rein_broker_free(b);
    fx_done(&f);
  }
}

/* Validation names the field; an unreachable port is ECLOSED in
 * librabbitmq's words; a wrong password is refused and never quoted. */
static void test_config(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "cfg");
  rein_errbuf e = {{0}};
  rein_broker *b = NULL;
  f.bc.err = &e;
  f.bc.queue = NULL;
  assert_int_equal(rein_broker_amqp_new(&f.bc, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_amqp.queue"));
  f.bc.queue = f.queue;
  f.bc.prefetch = 0;
  assert_int_equal(rein_broker_amqp_new(&f.bc, &b), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "broker_amqp.prefetch"));
  f.bc.prefetch = 4;
  f.bc.port = 1;
  f.bc.connect_timeout_ns = 500 * REIN_NS_PER_MS;
  assert_int_equal(rein_broker_amqp_new(&f.bc, &b), REIN_ECLOSED);
  assert_non_null(strstr(e.msg, "connect"));
  f.bc.port = g_url.port;
  f.bc.password = "not-the-password-xyzzy";
  rein_status st = rein_broker_amqp_new(&f.bc, &b);
  assert_true(st == REIN_EBACKEND || st == REIN_ECLOSED);
  assert_null(strstr(e.msg, "xyzzy"));
  assert_null(b);
  fx_done(&f);
}

/* Every allocation of _new failed in turn: a clean REIN_ENOMEM (or
 * success once past them all) and nothing left allocated. */
static void test_alloc_faults(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "alloc");
  bool ok = false;
  for (long n = 0; n < 64 && !ok; n++) {
    rein_test_alloc ta;
    rein_test_alloc_init(&ta, n);
    f.bc.alloc = &ta.a;
    rein_broker *b = NULL;
    rein_status st = rein_broker_amqp_new(&f.bc, &b);
    if (st == REIN_OK) {
      ok = true;
      rein_broker_free(b);
    } else {
      assert_int_equal(st, REIN_ENOMEM);
      assert_null(b);
    }
    assert_int_equal(ta.live, 0);
  }
  assert_true(ok);
  fx_done(&f);
}

/* A message_id with a NUL byte is dead-lettered whole by the adapter,
 * never cut at the NUL (it would pass for another key's duplicate). */
static void test_nul_key(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "nul");
  rein_broker *b = broker_open(&f);
  amqp_connection_state_t c = cli_open();
  amqp_basic_properties_t p;
  memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_MESSAGE_ID_FLAG;
  p.message_id.bytes = "pay-1\0evil";
  p.message_id.len = 10;
  assert_int_equal(amqp_basic_publish(c, 1, amqp_empty_bytes,
                                      amqp_cstring_bytes(f.queue), 0, 0, &p,
                                      amqp_cstring_bytes("x")),
                   AMQP_STATUS_OK);
  g_published++;
  publish(c, f.queue, "pay-2", "y");
  cli_close(c);
  rein_broker_batch bt;
  size_t got = 0;
  int64_t end = mono_ms() + 5000;
  while (got == 0 && mono_ms() < end) {
    assert_int_equal(rein_broker_read(b, 10, 200, &bt), REIN_OK);
    for (size_t i = 0; i < bt.n; i++) {
      assert_string_equal(bt.msgs[i].key, "pay-2");
      assert_int_equal(rein_broker_ack(b, &bt.msgs[i]), REIN_OK);
      got++;
    }
  }
  assert_int_equal(got, 1);
  rein_broker_free(b);
  uint32_t ready;
  end = mono_ms() + 5000;
  do {
    queue_counts(f.dead_queue, &ready, NULL);
  } while (ready == 0 && mono_ms() < end && usleep(20000) == 0);
  assert_int_equal(ready, 1);
  queue_counts(f.queue, &ready, NULL);
  assert_int_equal(ready, 0);
  fx_done(&f);
}

/* ---- the outbox's RabbitMQ deliverer ---------------------------------------
 */

#define SECRET "outbox-secret-for-tests-0123456789"

static void no_sleep(void *ctx, int64_t ns) {
  (void)ctx;
  (void)ns;
}

static rein_policy *relay_policy(uint32_t attempts) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.max_attempts = attempts;
  pc.backoff.base_ns = 1000;
  pc.backoff.cap_ns = 1000;
  rein_policy *p = NULL;
  assert_int_equal(rein_policy_new(&pc, &p), REIN_OK);
  return p;
}

static rein_outbox_amqp *deliverer_open(bool confirms, int port) {
  rein_outbox_amqp_config c;
  rein_outbox_amqp_config_default(&c);
  c.host = g_url.host;
  c.port = port;
  c.vhost = g_url.vhost;
  c.user = g_url.user;
  c.password = g_url.password;
  c.confirms = confirms;
  c.timeout_ns = 5 * REIN_NS_PER_S;
  c.connect_timeout_ns = 1 * REIN_NS_PER_S;
  rein_errbuf e = {{0}};
  c.err = &e;
  rein_outbox_amqp *d = NULL;
  if (rein_outbox_amqp_new(&c, &d) != REIN_OK)
    fail_msg("outbox_amqp: %s", e.msg);
  return d;
}

/* The producing side: an inbox on SQLite without a broker whose handler
 * records one intent ("notify" to `dest`) per message. */
typedef struct up {
  char path[128], dest[160];
  rein_inbox_config ic;
  rein_inbox *ib;
  int kill_after; /* child: SIGKILL after this many deliveries */
  int delivered;
} up;

static rein_status up_handler(void *ctx, rein_inbox_tx *tx,
                              const rein_broker_msg *m, char *err, size_t cap) {
  up *u = ctx;
  rein_status st =
      rein_inbox_tx_outbox(tx, "notify", u->dest, m->body, m->body_len, NULL);
  if (st != REIN_OK) snprintf(err, cap, "outbox: %s", rein_status_name(st));
  return st;
}

static void up_after_deliver(void *ctx, int64_t id) {
  (void)id;
  up *u = ctx;
  if (u->kill_after && ++u->delivered == u->kill_after) raise(SIGKILL);
}

static void up_open(up *u) {
  rein_inbox_config_default(&u->ic);
  u->ic.sqlite_path = u->path;
  u->ic.handler = up_handler;
  u->ic.handler_ctx = u;
  u->ic.outbox_secret = SECRET;
  u->ic.outbox_secret_len = strlen(SECRET);
  u->ic.outbox_lease_ns = 300 * REIN_NS_PER_MS;
  u->ic.hooks.after_deliver = up_after_deliver;
  u->ic.hooks.ctx = u;
  u->ib = NULL;
  rein_status st = rein_inbox_sqlite_new(&u->ic, &u->ib);
  if (st != REIN_OK) fail_msg("upstream inbox: %s", rein_status_name(st));
}

static void up_init(up *u, const char *queue, int n) {
  memset(u, 0, sizeof *u);
  snprintf(u->path, sizeof u->path, "/tmp/rein-test-amqp-up-%d-%d.db",
           (int)getpid(), ++g_serial);
  unlink(u->path);
  snprintf(u->dest, sizeof u->dest, "/%s", queue); /* default exchange */
  up_open(u);
  char key[32], body[48];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "order-%d", i);
    snprintf(body, sizeof body, "{\"order\":%d}", i);
    rein_broker_msg m = {"id", key, body, strlen(body), 1, -1};
    rein_inbox_verdict v;
    assert_int_equal(rein_inbox_process(u->ib, &m, &v), REIN_OK);
    assert_int_equal(v, REIN_INBOX_PROCESSED);
  }
}

static rein_inbox_counts up_counts(up *u) {
  rein_inbox_counts c;
  assert_int_equal(rein_inbox_counts_get(u->ib, &c), REIN_OK);
  return c;
}

static void up_done(up *u) {
  rein_inbox_free(u->ib);
  char p[160];
  unlink(u->path);
  snprintf(p, sizeof p, "%s-wal", u->path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", u->path);
  unlink(p);
}

/* Relays rounds (released intents come back after 1 s) until none is
 * pending or `ms` ran out. */
static void relay_all(up *u, rein_outbox_amqp *d, const rein_policy *p,
                      int64_t ms, rein_outbox_stats *s) {
  rein_sleeper sl = {no_sleep, NULL};
  int64_t end = mono_ms() + ms;
  while (up_counts(u).outbox_pending > 0 && mono_ms() < end) {
    rein_status st =
        rein_outbox_relay(u->ib, p, rein_outbox_amqp_deliver, d, &sl, 64, s);
    if (st != REIN_OK) fail_msg("relay: %s", rein_inbox_errmsg(u->ib));
    if (up_counts(u).outbox_pending > 0) usleep(100000);
  }
}

/* Waits (bounded) until `queue` has no consumer, then returns its ready
 * count (a quorum queue applies a consumer's departure asynchronously). */
static uint32_t ready_after_close(const char *queue) {
  uint32_t ready, consumers;
  int64_t t0 = mono_ms();
  do {
    queue_counts(queue, &ready, &consumers);
  } while (consumers != 0 && mono_ms() - t0 < 5000 && usleep(20000) == 0);
  assert_int_equal(consumers, 0);
  return ready;
}

static void deliver_one(rein_outbox_amqp *d, const char *dest, const char *key,
                        rein_outcome *o, char *err, size_t cap) {
  rein_outbox_item it = {1, "order-1", "notify", key, dest, "{}", 2, 0};
  rein_decision dec = {0};
  dec.attempt = 3;
  err[0] = 0;
  rein_outbox_amqp_deliver(d, &it, &dec, o, err, cap);
}

/* One delivery's message as RabbitMQ stored it, and how each way of
 * failing is classified. */
static void test_outbox_deliver(void **state) {
  (void)state;
  fx f;
  fx_init(&f, "obx-one");
  rein_broker_free(broker_open(&f)); /* declares the queue */
  rein_outbox_amqp *d = deliverer_open(true, g_url.port);
  char dest[160], err[256];
  snprintf(dest, sizeof dest, "/%s", f.queue);
  rein_outcome o;
  deliver_one(d, dest, "k-0123", &o, err, sizeof err);
  if (o.kind != REIN_OUTCOME_SUCCESS) fail_msg("deliver: %s", err);
  /* its message: persistent, message_id = the key, Rein-Attempt */
  ready_after_close(f.queue);
  amqp_connection_state_t c = cli_open();
  amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(f.queue), 1);
  assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
  assert_int_equal(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
  amqp_message_t msg;
  r = amqp_read_message(c, 1, &msg, 0);
  assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
  assert_int_equal(msg.properties.delivery_mode, 2);
  assert_int_equal(msg.properties.message_id.len, 6);
  assert_memory_equal(msg.properties.message_id.bytes, "k-0123", 6);
  assert_int_equal(msg.body.len, 2);
  bool attempt = false;
  for (int i = 0; i < msg.properties.headers.num_entries; i++) {
    amqp_table_entry_t *e = &msg.properties.headers.entries[i];
    if (e->key.len == 12 && !memcmp(e->key.bytes, "Rein-Attempt", 12))
      attempt = e->value.kind == AMQP_FIELD_KIND_I32 && e->value.value.i32 == 3;
  }
  assert_true(attempt);
  amqp_destroy_message(&msg);
  cli_close(c);
  /* no queue takes it (mandatory: basic.return): FAILURE, not a silent
   * drop; RabbitMQ's words in err */
  deliver_one(d, "/rein-test-no-such-queue", "k-2", &o, err, sizeof err);
  assert_int_equal(o.kind, REIN_OUTCOME_FAILURE);
  assert_non_null(strstr(err, "NO_ROUTE"));
  /* no such exchange: RabbitMQ closes the channel (404); the next attempt
   * reconnects and succeeds */
  deliver_one(d, "rein-test-no-such-exchange/x", "k-3", &o, err, sizeof err);
  assert_int_equal(o.kind, REIN_OUTCOME_FAILURE);
  assert_non_null(strstr(err, "404"));
  deliver_one(d, dest, "k-4", &o, err, sizeof err);
  assert_int_equal(o.kind, REIN_OUTCOME_SUCCESS);
  /* a dest without '/' is FATAL */
  deliver_one(d, "just-a-queue", "k-5", &o, err, sizeof err);
  assert_int_equal(o.kind, REIN_OUTCOME_FATAL);
  rein_outbox_amqp_free(d);
  /* nobody listening: NOT_SENT */
  d = deliverer_open(true, 1);
  deliver_one(d, dest, "k-6", &o, err, sizeof err);
  assert_int_equal(o.kind, REIN_OUTCOME_NOT_SENT);
  rein_outbox_amqp_free(d);
  /* validation names the field */
  rein_outbox_amqp_config cc;
  rein_outbox_amqp_config_default(&cc);
  rein_errbuf e = {{0}};
  cc.err = &e;
  cc.timeout_ns = 0;
  assert_int_equal(rein_outbox_amqp_new(&cc, &d), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "outbox_amqp.timeout_ns"));
  rein_outbox_amqp_config_default(&cc);
  cc.err = &e;
  cc.port = 0;
  assert_int_equal(rein_outbox_amqp_new(&cc, &d), REIN_EINVAL);
  assert_non_null(strstr(e.msg, "outbox_amqp.port"));
  rein_outbox_amqp_free(NULL);
  /* every allocation of _new failed in turn: clean ENOMEM, no leak */
  bool ok = false;
  for (long n = 0; n < 16 && !ok; n++) {
    rein_test_alloc ta;
    rein_test_alloc_init(&ta, n);
    rein_outbox_amqp_config_default(&cc);
    cc.alloc = &ta.a;
    d = NULL;
    rein_status st = rein_outbox_amqp_new(&cc, &d);
    if (st == REIN_OK) {
      ok = true;
      rein_outbox_amqp_free(d);
    } else {
      assert_int_equal(st, REIN_ENOMEM);
    }
    assert_int_equal(ta.live, 0);
  }
  assert_true(ok);
  fx_done(&f);
}

/* Intents in an SQLite outbox relayed to a quorum queue with confirms: a
 * relay SIGKILLed after a confirmed publish and before marking it
 * delivered; the next relay publishes that intent again (RabbitMQ has no
 * dedup: the queue holds N + 1), and the downstream rein_inbox skips the
 * copy by its message_id, so every effect happens once. */
static void test_outbox_relay_crash(void **state) {
  (void)state;
  enum { N = 200, KILL_AT = 37 };
  fx f;
  fx_init(&f, "obx-relay");
  rein_broker_free(broker_open(&f)); /* declares the downstream queue */
  up u;
  up_init(&u, f.queue, N);
  assert_int_equal(up_counts(&u).outbox_pending, N);
  rein_policy *p = relay_policy(3);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    rein_inbox_free(u.ib); /* a relay process of its own */
    u.kill_after = KILL_AT;
    up_open(&u);
    rein_outbox_amqp *d = deliverer_open(true, g_url.port);
    rein_sleeper sl = {no_sleep, NULL};
    rein_outbox_relay(u.ib, p, rein_outbox_amqp_deliver, d, &sl, 64, NULL);
    _exit(5); /* never reached its kill point */
  }
  int ws;
  assert_int_equal(waitpid(pid, &ws, 0), pid);
  assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
  rein_inbox_counts k = up_counts(&u);
  assert_int_equal(k.outbox_delivered, KILL_AT - 1);
  usleep(400000); /* the dead relay's leases (300 ms) run out */
  rein_outbox_amqp *d = deliverer_open(true, g_url.port);
  rein_outbox_stats s = {0};
  relay_all(&u, d, p, 20000, &s);
  k = up_counts(&u);
  assert_int_equal(k.outbox_pending, 0);
  assert_int_equal(k.outbox_delivered, N);
  assert_int_equal(k.outbox_failed, 0);
  /* the one the dead relay had published went out twice */
  uint32_t ready = ready_after_close(f.queue);
  assert_int_equal(ready, N + 1);
  /* downstream: the consuming inbox performs each effect once */
  rein_broker *b = broker_open(&f);
  rein_inbox *ib = inbox_open(&f, b);
  rein_inbox_stats is = {0};
  int64_t end = mono_ms() + 20000;
  while (is.processed + is.duplicates < N + 1 && mono_ms() < end)
    assert_int_equal(rein_inbox_poll(ib, 32, 200, &is), REIN_OK);
  assert_int_equal(is.processed, N);
  assert_int_equal(is.duplicates, 1);
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects"), N);
  assert_int_equal(q_int(ib, "SELECT count(DISTINCT k) FROM effects"), N);
  /* the effects are keyed by the intents' idempotency keys */
  assert_int_equal(q_int(ib, "SELECT count(*) FROM effects WHERE length(k) "
                             "= 64"),
                   N);
  print_message("outbox relay: %d intents, relay killed after publish %d; "
                "queue held %u; downstream processed %llu, skipped %llu "
                "duplicate\n",
                N, KILL_AT, ready, (unsigned long long)is.processed,
                (unsigned long long)is.duplicates);
  rein_inbox_free(ib);
  rein_broker_free(b);
  assert_int_equal(ready_after_close(f.queue), 0);
  rein_outbox_amqp_free(d);
  rein_policy_free(p);
  up_done(&u);
  fx_done(&f);
}

/* Drains `queue` with basic.get (auto-ack), marking message ids "order"
 * indexes seen by idem key position in keys[]. Returns messages taken. */
static int drain_ids(const char *queue, char keys[][65], int n, char *seen) {
  amqp_connection_state_t c = cli_open();
  int got = 0;
  for (int i = 0; i < 100000; i++) {
    amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(queue), 1);
    assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;
    amqp_message_t msg;
    r = amqp_read_message(c, 1, &msg, 0);
    assert_int_equal(r.reply_type, AMQP_RESPONSE_NORMAL);
    for (int j = 0; j < n; j++)
      if (msg.properties.message_id.len == 64 &&
          !memcmp(msg.properties.message_id.bytes, keys[j], 64))
        seen[j] = 1;
    amqp_destroy_message(&msg);
    got++;
  }
  cli_close(c);
  return got;
}

/* The confirm control. The queue stores at most CAP messages and refuses
 * the rest (x-max-length, x-overflow reject-publish: a publish RabbitMQ
 * does not store). With confirms, RabbitMQ nacks the refused ones, the
 * relay leaves them undelivered, and once a consumer has made room they
 * are sent again: all N arrive. Without confirms the relay marks all N
 * delivered while the queue holds CAP: N - CAP intents lost, for ever.
 * The queue is a classic one in both halves: RabbitMQ 3.10's quorum queues
 * stored all 60 of 60 unconfirmed publishes despite a cap of 25 (they
 * enforce reject-publish by telling confirming publishers), so the loss
 * would not show there; with confirms they nack as classic queues do. */
static void confirm_control(bool confirms) {
  enum { N = 60, CAP = 25 };
  char queue[96];
  snprintf(queue, sizeof queue, "rein-test-obx-cap-%s-%d-%d",
           confirms ? "on" : "off", (int)getpid(), ++g_serial);
  amqp_connection_state_t c = cli_open();
  amqp_table_entry_t a[2];
  a[0].key = amqp_cstring_bytes("x-max-length");
  a[0].value.kind = AMQP_FIELD_KIND_I64;
  a[0].value.value.i64 = CAP;
  a[1].key = amqp_cstring_bytes("x-overflow");
  a[1].value.kind = AMQP_FIELD_KIND_UTF8;
  a[1].value.value.bytes = amqp_cstring_bytes("reject-publish");
  amqp_table_t t = {2, a};
  assert_non_null(
      amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, t));
  cli_close(c);
  up u;
  up_init(&u, queue, N);
  static char keys[N][65];
  char seen[N] = {0};
  for (int i = 0; i < N; i++) {
    char mk[32];
    snprintf(mk, sizeof mk, "order-%d", i);
    assert_int_equal(
        rein_outbox_key(SECRET, strlen(SECRET), mk, "notify", keys[i]),
        REIN_OK);
  }
  rein_policy *p = relay_policy(1);
  rein_outbox_amqp *d = deliverer_open(confirms, g_url.port);
  rein_sleeper sl = {no_sleep, NULL};
  rein_outbox_stats s = {0};
  assert_int_equal(
      rein_outbox_relay(u.ib, p, rein_outbox_amqp_deliver, d, &sl, N, &s),
      REIN_OK);
  /* unconfirmed publishes may still be on their way in (a TSan run once
   * counted 1 of 25): wait until the queue holds the cap or stops growing */
  uint32_t ready = 0, was;
  int64_t t0 = mono_ms();
  do {
    was = ready;
    usleep(100000);
    queue_counts(queue, &ready, NULL);
  } while ((ready != was || ready == 0) && mono_ms() - t0 < 5000);
  rein_inbox_counts k = up_counts(&u);
  print_message("confirm control (%s): %d intents into a queue capped at %d: "
                "relay marked %llu delivered, left %llu; queue holds %u\n",
                confirms ? "confirms" : "NO confirms", N, CAP,
                (unsigned long long)s.delivered, (unsigned long long)s.retry,
                ready);
  if (confirms) {
    /* marked delivered == stored, the rest still pending */
    assert_int_equal(s.delivered, ready);
    assert_true(ready > 0 && ready < N);
    assert_int_equal(k.outbox_pending, N - (int64_t)ready);
    /* a consumer makes room; the relay sends the rest: all N arrive */
    int got = 0;
    int64_t end = mono_ms() + 30000;
    while ((k.outbox_pending > 0 || got < N) && mono_ms() < end) {
      got += drain_ids(queue, keys, N, seen);
      relay_all(&u, d, p, 1500, &s);
      k = up_counts(&u);
    }
    got += drain_ids(queue, keys, N, seen);
    int distinct = 0;
    for (int i = 0; i < N; i++)
      distinct += seen[i];
    print_message("confirm control (confirms): after draining, all "
                  "re-sent: %d messages, %d distinct intents, %lld "
                  "pending\n",
                  got, distinct, (long long)k.outbox_pending);
    assert_int_equal(k.outbox_pending, 0);
    assert_int_equal(k.outbox_delivered, N);
    assert_int_equal(distinct, N);
  } else {
    /* everything marked delivered, but RabbitMQ stored only `ready`: the
     * rest is lost and nothing will send it again */
    assert_int_equal(s.delivered, N);
    assert_int_equal(k.outbox_pending, 0);
    int got = drain_ids(queue, keys, N, seen);
    assert_int_equal(got, (int)ready);
    assert_true(got < N);
    print_message("confirm control (NO confirms): %d of %d intents lost\n",
                  N - got, N);
  }
  rein_outbox_amqp_free(d);
  rein_policy_free(p);
  up_done(&u);
  queue_delete(queue);
}

static void test_outbox_confirms(void **state) {
  (void)state;
  confirm_control(true);
}

static void test_outbox_no_confirms_loses(void **state) {
  (void)state;
  confirm_control(false);
}

/* ---- broker restart (a private node: --restart SCRIPT) --------------------
 */

static const char *g_script; /* scripts/services.sh */
static char g_rdir[128];     /* the private node's directory */

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static int restart_setup(void **state) {
  (void)state;
  snprintf(g_rdir, sizeof g_rdir, "/tmp/rein-amqp-restart-XXXXXX");
  if (!mkdtemp(g_rdir)) return -1;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "'%s' start-rabbit '%s'", g_script, g_rdir);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  char line[512];
  g_url_buf[0] = 0;
  while (fgets(line, sizeof line, p)) {
    char *a = strstr(line, "REIN_AMQP_URL='");
    char *b = a ? strchr(a + 15, '\'') : NULL;
    if (b)
      snprintf(g_url_buf, sizeof g_url_buf, "%.*s", (int)(b - a - 15), a + 15);
  }
  if (pclose(p) != 0 || !g_url_buf[0]) {
    fprintf(stderr, "test_inbox_amqp --restart: start-rabbit failed\n");
    return -1;
  }
  amqp_default_connection_info(&g_url);
  if (amqp_parse_url(g_url_buf, &g_url) != AMQP_STATUS_OK) return -1;
  if (!*g_url.vhost) g_url.vhost = "/";
  return 0;
}

static int restart_teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "'%s' stop '%s' >/dev/null 2>&1", g_script, g_rdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* A child that tries an AMQP login every 20 ms (bounded: 90 s) and writes
 * the CLOCK_MONOTONIC time of the first success to `fd`: when the broker
 * is back up, as a client sees it. */
static pid_t probe_start(int fd) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  for (int i = 0; i < 4500; i++) {
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    struct timeval tv = {0, 200000};
    bool ok = false;
    if (s && amqp_socket_open_noblock(s, g_url.host, g_url.port, &tv) == 0) {
      amqp_set_rpc_timeout(c, &tv);
      ok = amqp_login(c, g_url.vhost, 1, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                      g_url.user, g_url.password)
               .reply_type == AMQP_RESPONSE_NORMAL;
    }
    int64_t t = mono_ns();
    amqp_destroy_connection(c);
    if (ok) {
      _exit(write(fd, &t, sizeof t) == sizeof t ? 0 : 1);
    }
    usleep(20000);
  }
  _exit(2);
}

/* Two consumers (inboxes on one SQLite file) work through N messages; at
 * KILL_AT effects the broker's beam process is SIGKILLed and the same node
 * restarted (services.sh kill-rabbit / restart-rabbit). The consumers are
 * never reopened: their adapters reconnect by themselves. At the end every
 * effect happened once, and with the consumers closed the work queue and
 * the dead-letter queue are empty (nothing left unacked to be requeued). */
static void test_broker_restart(void **state) {
  (void)state;
  enum { N = 3000, KILL_AT = 1000, NC = 2 };
  int64_t t_start = mono_ns();
  fx f;
  fx_init(&f, "restart");
  f.bc.prefetch = 32;
  f.bc.connect_timeout_ns = 1 * REIN_NS_PER_S;
  rein_broker_free(broker_open(&f)); /* declares the queues */
  /* RabbitMQ 3.10 keeps a quorum queue's Ra server name in a dets file
   * that it writes out every 3 minutes or on a clean stop; SIGKILLed
   * before that, the node comes back with the queue registered afresh,
   * empty, its log (confirmed messages included) orphaned. A clean
   * stop_app/start_app first makes the crash one of a queue that exists
   * for a while, which is the case this test is about. */
  int64_t t_cycle = mono_ns();
  char cmd[512];
  snprintf(cmd, sizeof cmd, "'%s' cycle-rabbit '%s'", g_script, g_rdir);
  assert_int_equal(system(cmd), 0);
  t_cycle = mono_ns() - t_cycle;
  amqp_connection_state_t c = cli_open();
  char key[32];
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "pay-%d", i);
    publish(c, f.queue, key, "{\"amount\":1}");
  }
  cli_close(c); /* all N confirmed: stored on disk by the quorum queue */
  rein_broker *b[NC];
  rein_inbox *ib[NC];
  for (int i = 0; i < NC; i++) {
    b[i] = broker_open(&f);
    ib[i] = inbox_open(&f, b[i]);
  }
  rein_inbox_stats s = {0};
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  pid_t probe = -1, restart = -1;
  int64_t t_kill = 0, t_up = 0, t_script = 0, t_first = 0;
  uint64_t errors = 0, done_at_up = 0;
  char first_err[200] = "", last_err[200] = "";
  long long effects = 0;
  int64_t end = mono_ms() + 60000;
  while (mono_ms() < end) {
    for (int i = 0; i < NC; i++) {
      rein_status st = rein_inbox_poll(ib[i], 32, 50, &s);
      if (st != REIN_OK) {
        snprintf(errors++ ? last_err : first_err, sizeof first_err, "%s: %s",
                 rein_status_name(st), rein_inbox_errmsg(ib[i]));
      }
    }
    uint64_t done = s.processed + s.duplicates;
    if (!t_kill && s.processed >= KILL_AT) {
      snprintf(cmd, sizeof cmd, "'%s' kill-rabbit '%s'", g_script, g_rdir);
      assert_int_equal(system(cmd), 0);
      t_kill = mono_ns();
      probe = probe_start(pfd[1]);
      assert_true(probe > 0);
      fflush(NULL);
      restart = fork();
      assert_true(restart >= 0);
      if (restart == 0) {
        execl("/bin/sh", "sh", "-c",
              "exec \"$0\" restart-rabbit \"$1\" >/dev/null 2>&1", g_script,
              g_rdir, (char *)NULL);
        _exit(127);
      }
    }
    if (t_kill && !t_up) {
      struct pollfd pf = {pfd[0], POLLIN, 0};
      if (poll(&pf, 1, 0) == 1) {
        assert_int_equal(read(pfd[0], &t_up, sizeof t_up), sizeof t_up);
        done_at_up = done;
      }
    }
    /* the first message read and acked on a new connection: progress
     * after the broker came back (what a dying connection still handed
     * out from its buffers before the kill showed does not count) */
    if (t_up && !t_first && done > done_at_up) t_first = mono_ns();
    if (restart > 0 && !t_script) {
      int ws;
      if (waitpid(restart, &ws, WNOHANG) == restart) {
        assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
        t_script = mono_ns();
      }
    }
    effects = q_int(ib[0], "SELECT count(*) FROM effects");
    if (effects >= N && t_first && t_script) break;
  }
  /* take what is left (redeliveries of acks the crash lost) */
  for (int r = 0; r < 10; r++)
    for (int i = 0; i < NC; i++)
      if (rein_inbox_poll(ib[i], 32, 50, &s) != REIN_OK) errors++;
  int ws;
  if (probe > 0) {
    if (!t_up) kill(probe, SIGKILL); /* the broker never came back */
    waitpid(probe, &ws, 0);
  }
  if (restart > 0 && !t_script) {
    waitpid(restart, &ws, 0);
    t_script = mono_ns();
  }
  close(pfd[0]);
  close(pfd[1]);
  effects = q_int(ib[0], "SELECT count(*) FROM effects");
  long long distinct = q_int(ib[0], "SELECT count(DISTINCT k) FROM effects");
  for (int i = 0; i < NC; i++) {
    rein_inbox_free(ib[i]);
    rein_broker_free(b[i]);
  }
  uint32_t ready = ready_after_close(f.queue), dead;
  queue_counts(f.dead_queue, &dead, NULL);
  int64_t t_end = mono_ns();
  print_message(
      "broker restart: (clean cycle first: %lld ms) SIGKILL after %d effects; "
      "broker accepting logins "
      "%lld ms after the kill (restart-rabbit returned after %lld ms); "
      "first read+ack on a reconnected consumer %lld ms after the broker "
      "was back; %lld effects (%lld distinct) of %d, %llu duplicates "
      "skipped, %llu poll errors (first: %s; last: %s); queue %u, dead %u; "
      "wall %lld ms\n",
      (long long)(t_cycle / REIN_NS_PER_MS), KILL_AT,
      (long long)((t_up - t_kill) / REIN_NS_PER_MS),
      (long long)((t_script - t_kill) / REIN_NS_PER_MS),
      t_first ? (long long)((t_first - t_up) / REIN_NS_PER_MS) : -1LL, effects,
      distinct, N, (unsigned long long)s.duplicates, (unsigned long long)errors,
      first_err, last_err, ready, dead,
      (long long)((t_end - t_start) / REIN_NS_PER_MS));
  assert_true(t_kill > 0);
  assert_true(t_up > 0);
  assert_true(t_first > 0); /* the consumers came back by themselves */
  assert_true(t_first - t_up < 10 * REIN_NS_PER_S);
  assert_int_equal(effects, N);
  assert_int_equal(distinct, N);
  assert_int_equal(s.dead, 0);
  assert_int_equal(ready, 0);
  assert_int_equal(dead, 0);
  fx_done(&f);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--restart")) {
    /* its own node, which it crashes: nothing else may use it */
    g_script = argv[2];
    const struct CMUnitTest restart_tests[] = {
        cmocka_unit_test(test_broker_restart),
    };
    return cmocka_run_group_tests(restart_tests, restart_setup,
                                  restart_teardown);
  }
  const char *url = getenv("REIN_AMQP_URL");
  if (!url || !*url) {
    fprintf(stderr, "test_inbox_amqp: REIN_AMQP_URL is not set: start the "
                    "servers with scripts/services.sh (make check does)\n");
    return 1;
  }
  snprintf(g_url_buf, sizeof g_url_buf, "%s", url);
  amqp_default_connection_info(&g_url);
  if (amqp_parse_url(g_url_buf, &g_url) != AMQP_STATUS_OK) {
    fprintf(stderr, "test_inbox_amqp: cannot parse REIN_AMQP_URL\n");
    return 1;
  }
  /* "amqp://h:p/" names the empty vhost; the services' node has "/" */
  if (!*g_url.vhost) g_url.vhost = "/";
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_alloc_faults),
      cmocka_unit_test(test_nul_key),
      cmocka_unit_test(test_exactly_once),
      cmocka_unit_test(test_redelivery_quorum),
      cmocka_unit_test(test_redelivery_classic),
      cmocka_unit_test(test_dead_letter),
      cmocka_unit_test(test_close_unread),
      cmocka_unit_test(test_crash_kill9),
      cmocka_unit_test(test_crash_kill9_no_inbox),
      cmocka_unit_test(test_outbox_deliver),
      cmocka_unit_test(test_outbox_relay_crash),
      cmocka_unit_test(test_outbox_confirms),
      cmocka_unit_test(test_outbox_no_confirms_loses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
