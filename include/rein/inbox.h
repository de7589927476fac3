/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/inbox.h: exactly-once effects on top of an at-least-once broker.
 *
 * A broker delivers each message at least once: a consumer that performs an
 * effect and dies before it acknowledges gets the message again. rein_inbox
 * turns that into an exactly-once *effect* for effects that live in the
 * consumer's own database, and into an exactly-once *outcome* at a remote
 * service for effects that cannot join the transaction (the outbox):
 *
 *   for each delivered message m with business key k (a payment id, NOT the
 *   broker's delivery id, so a producer that publishes twice is also caught):
 *     BEGIN                              (SQLite: BEGIN IMMEDIATE)
 *     INSERT k INTO rein_inbox           conflict -> ROLLBACK, ack, skip
 *     handler(tx, m)                     the effect, on the SAME connection;
 *                                        may add outbox intents in tx
 *     COMMIT                             effect + dedup row + intents, or none
 *     ack(m)                             only after the commit
 *
 * A crash before COMMIT loses the effect and the dedup row together (the
 * message is redelivered and runs again); a crash after COMMIT and before the
 * ack makes the redelivery a duplicate that the inbox skips. A handler that
 * fails rolls back effect and dedup row; the message stays unacknowledged and
 * is redelivered after the broker's min-idle time. A message whose handler
 * fails on delivery max_deliveries (or that was delivered more often than that
 * without a verdict, e.g. because it crashes the consumer) goes to the dead
 * letter stream with its last error and is then acknowledged.
 *
 * Retention. Dedup rows are kept `retention_ns` after processing and purged
 * in bounded batches (rein_inbox_purge). A redelivery after its row was purged
 * would run the effect again, so the inbox constructors compare the retention
 * with the broker's redelivery window (rein_broker_redelivery_window_ns) and
 * refuse (REIN_EINVAL, message naming both) when it is shorter, or, with
 * `retention_warn_only`, writes a loud warning to `log` and goes on.
 *
 * Outbox. Inside the handler, rein_inbox_tx_outbox() records an intent (an
 * HTTP charge, an e-mail) in the rein_outbox table in the same transaction.
 * rein_outbox_relay() leases undelivered intents, delivers each through a
 * caller-supplied function driven by the core retry engine (rein_retry_run),
 * and marks it delivered. Each intent carries an idempotency key derived
 * deterministically: hex(HMAC-SHA256(secret, message_key || 0x00 ||
 * effect_name)), so a redelivered message, a relay that died after sending,
 * or two relays racing all present the SAME key and the receiver dedups it.
 * (The 0x00 separator keeps ("ab","c") and ("a","bc") apart; keys and effect
 * names are C strings, so they cannot contain it.)
 *
 * Databases. SQLite (default; WAL, synchronous NORMAL, busy_timeout) and
 * PostgreSQL (prepared statements; INSERT ... ON CONFLICT DO NOTHING
 * RETURNING). The tables rein_inbox and rein_outbox are created if missing.
 * The handler reaches the connection through rein_inbox_tx_sqlite() /
 * rein_inbox_tx_pg() and must not BEGIN, COMMIT or ROLLBACK on it.
 *
 * Thread level. A rein_inbox wraps one database connection and borrows one
 * broker: one thread at a time. Run one inbox per consumer thread or process;
 * they coordinate through the database and the broker's consumer group.
 */
#ifndef REIN_INBOX_H
#define REIN_INBOX_H

#include "rein/clock.h"
#include "rein/common.h"
#include "rein/errors.h"
#include "rein/retry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The database handle types, declared so this header needs neither
 * sqlite3.h nor libpq-fe.h (sqlite3 is `struct sqlite3`, PGconn is
 * `struct pg_conn`). */
struct sqlite3;
struct pg_conn;

/* ==== broker adapters ==================================================== */

/* One delivered message. Strings are NUL-terminated; they stay valid until
 * the next read or claim on the same broker. */
typedef struct rein_broker_msg {
  const char *id;   /* the broker's delivery id (stream entry id) */
  const char *key;  /* business key; NULL when the message has none
                       (it is then dead-lettered) */
  const char *body; /* payload; "" when absent */
  size_t body_len;
  uint32_t deliveries;      /* 1 for the first delivery */
  int64_t enqueued_unix_ms; /* when the broker accepted it; -1 unknown */
} rein_broker_msg;

/* A batch of messages, owned by the broker, valid until its next read or
 * claim. */
typedef struct rein_broker_batch {
  const rein_broker_msg *msgs;
  size_t n;
} rein_broker_batch;

typedef struct rein_broker rein_broker;

/* 2 added ack_many. An adapter built against version 1 has no such member,
 * so readers check `version >= 2` before they look at it. */
#define REIN_BROKER_VTABLE_VERSION 2

/*
 * What a broker adapter provides. Every call returns REIN_OK or an error
 * (REIN_ECLOSED when the broker is unreachable, REIN_EBACKEND when it said
 * no) with the broker's own words in errmsg.
 *   read         new messages for this consumer (and, on the first call,
 *                the ones it held before a restart), at most `max`, waiting
 *                at most block_ms for the first; an empty batch on timeout.
 *   claim_stale  take over messages other (dead) consumers - or this one -
 *                left unacknowledged for at least the adapter's min-idle
 *                time; `deliveries` counts this delivery too.
 *   ack          the message is done; it will not be delivered again.
 *   dead_letter  park the message with `error` where an operator can see it
 *                and acknowledge it, atomically where the broker allows.
 *   redelivery_window_ns  the longest time after a message was enqueued
 *                that the adapter may still deliver it again; INT64_MAX when
 *                unbounded.
 *   ack_many     (version >= 2; optional, NULL: one ack per message) the n
 *                messages of the current batch are done, in as few round
 *                trips as the broker allows. REIN_OK: all acknowledged; an
 *                error: some may not be (they are delivered again, and the
 *                inbox skips them as duplicates).
 */
typedef struct rein_broker_vtable {
  uint32_t version; /* REIN_BROKER_VTABLE_VERSION */
  const char *name;
  rein_status (*read)(rein_broker *b, size_t max, int64_t block_ms,
                      rein_broker_batch *out);
  rein_status (*claim_stale)(rein_broker *b, size_t max,
                             rein_broker_batch *out);
  rein_status (*ack)(rein_broker *b, const rein_broker_msg *m);
  rein_status (*dead_letter)(rein_broker *b, const rein_broker_msg *m,
                             const char *error);
  int64_t (*redelivery_window_ns)(const rein_broker *b);
  const char *(*errmsg)(const rein_broker *b);
  void (*free)(rein_broker *b);
  rein_status (*ack_many)(rein_broker *b, const rein_broker_msg *const *msgs,
                          size_t n);
} rein_broker_vtable;

/* Every adapter's object starts with this (vtable pointer first). */
struct rein_broker {
  const rein_broker_vtable *vt;
};

/* Dispatchers: REIN_EINVAL for NULL arguments, else the adapter's answer. */
REIN_API rein_status rein_broker_read(rein_broker *b, size_t max,
                                      int64_t block_ms, rein_broker_batch *out);
REIN_API rein_status rein_broker_claim_stale(rein_broker *b, size_t max,
                                             rein_broker_batch *out);
REIN_API rein_status rein_broker_ack(rein_broker *b, const rein_broker_msg *m);
/* ack_many when the adapter has it, else rein_broker_ack for each in turn
 * (stopping at the first error). n == 0 is REIN_OK. */
REIN_API rein_status rein_broker_ack_many(rein_broker *b,
                                          const rein_broker_msg *const *msgs,
                                          size_t n);
REIN_API rein_status rein_broker_dead_letter(rein_broker *b,
                                             const rein_broker_msg *m,
                                             const char *error);
REIN_API int64_t rein_broker_redelivery_window_ns(const rein_broker *b);
/* The last error in the broker's words; "" when none. Never NULL. */
REIN_API const char *rein_broker_errmsg(const rein_broker *b);
/* Frees the adapter; NULL is a no-op. */
REIN_API void rein_broker_free(rein_broker *b);

/*
 * Redis Streams adapter (hiredis). One consumer in a consumer group:
 *   start-up   XGROUP CREATE stream group <start_id> MKSTREAM (an existing
 *              group is fine)
 *   read       XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s 0 first (the
 *              messages this consumer name held before it restarted), then
 *              STREAMS s > (new ones)
 *   claim      XAUTOCLAIM s g c min_idle_ms cursor COUNT n, then XPENDING
 *              over the claimed range for each message's delivery count
 *   ack        XACK; ack_many: one XACK naming every id (256 per command)
 *   dead_letter MULTI; XADD dead_stream * key body error deliveries
 *              origin_id consumer; XACK; EXEC
 * A message is a stream entry whose field `key_field` is the business key
 * and `body_field` the payload. A redelivery (deliveries > 1) of an entry
 * older than redelivery_window_ns by its ID's timestamp is dead-lettered
 * with "expired" instead of delivered: past the window the inbox may have
 * purged its dedup row, and a duplicate effect is worse than a parked
 * message.
 */
typedef struct rein_broker_redis_config {
  const char *host;             /* default "127.0.0.1" */
  int port;                     /* default 6379 */
  int64_t connect_timeout_ns;   /* default 2 s; also each command's timeout
                                   (plus block_ms for reads) */
  const char *stream;           /* required */
  const char *group;            /* required */
  const char *consumer;         /* required: unique per live consumer */
  const char *dead_stream;      /* default "<stream>:dead" */
  const char *key_field;        /* default "key" */
  const char *body_field;       /* default "body" */
  const char *start_id;         /* where a new group starts; default "0" */
  int64_t min_idle_ns;          /* claim_stale takes messages idle this long;
                                   default 30 s */
  int64_t redelivery_window_ns; /* default 7 days */
  const rein_allocator *alloc;
  rein_errbuf *err;
  rein_clock wall; /* calendar time (ns since the epoch) to compare with
                      entry IDs; default CLOCK_REALTIME */
} rein_broker_redis_config;

REIN_API void rein_broker_redis_config_default(rein_broker_redis_config *c);
/* Connects and creates the group. REIN_EINVAL (field named in err),
 * REIN_ENOMEM, REIN_ECLOSED (cannot connect), REIN_EBACKEND (Redis refused;
 * its message in err). Copies every string it keeps. */
REIN_API rein_status rein_broker_redis_new(const rein_broker_redis_config *c,
                                           rein_broker **out);

/*
 * NATS JetStream adapter (libnats, in librein_broker_jetstream, pkg-config
 * rein-broker-jetstream). One pull subscription on a durable consumer with
 * explicit acks; every process of one consumer group binds the same
 * durable name and JetStream spreads the messages between them:
 *   start-up   js_AddStream (stream capturing `subject`) and the dead-letter
 *              stream (capturing `dead_subject`), js_AddConsumer (durable,
 *              AckExplicit, ack_wait, max_deliver, filter `subject`); ones
 *              that exist are used as they are (their settings win; a
 *              consumer without explicit acks is refused)
 *   read       Fetch up to `max`: what is there now, else wait up to
 *              block_ms for the first (returns once it has some, never
 *              waits to fill the batch; 0: no wait). A message
 *              not acknowledged within ack_wait, whoever held it, comes
 *              back through a later read with `deliveries` = JetStream's
 *              num_delivered (2 for the first redelivery)
 *   claim      an empty batch: JetStream itself hands unacknowledged
 *              messages out again after ack_wait, through read, so there
 *              is nothing to take over. ack_wait is this adapter's
 *              counterpart of the Redis adapter's min_idle_ns.
 *   ack        AckSync: the server confirms the ack (within timeout_ns), so
 *              REIN_OK means it will not be redelivered
 *   ack_many   (a batch, from rein_inbox_poll) each natsMsg_Ack without
 *              waiting, then one flush: REIN_OK means the server has read
 *              every ack; the consumer's own answer is not awaited, so an
 *              ack lost in the server comes back as a redelivery (skipped
 *              by the inbox). One round trip per batch.
 *   dead_letter publish to dead_subject (body as is; headers Rein-Key,
 *              Rein-Error, Rein-Deliveries, Rein-Origin-Stream,
 *              Rein-Origin-Seq, and Nats-Msg-Id "<stream>:<seq>" so a
 *              publish repeated after a crash is dropped by the dead
 *              stream's duplicate window), wait for its publish ack, then
 *              AckSync the original. Not atomic: a crash between the two
 *              redelivers the message, which is dead-lettered again.
 * A message's business key is the header `key_header` and its payload the
 * message data; `id` is the stream sequence as decimal text. As with Redis,
 * a redelivery of a message older than redelivery_window_ns (by the
 * stream's timestamp) is dead-lettered "expired" instead of delivered.
 * The consumer's max_deliver must be above the inbox's max_deliveries
 * (default: unlimited): JetStream stops redelivering past max_deliver
 * without telling anyone, and the inbox dead-letters a message only when
 * it sees it again. Errors: REIN_ECLOSED when the server is unreachable or
 * did not answer in time, REIN_EBACKEND when it refused; the libnats
 * status and JetStream error code in errmsg. libnats keeps its own
 * process-wide state (threads, a library lock) that this adapter does not
 * tear down (nats_Close is the application's to call, at exit).
 * Lost connection (a server restart, a network cut): libnats reconnects
 * by itself, trying every reconnect_wait_ns (plus up to a quarter of it
 * in jitter) without a limit on the number of attempts, and resubscribes;
 * the durable consumer lives on the server, so the adapter carries on
 * where it was. While disconnected, reads return an empty batch or
 * REIN_ECLOSED within block_ms + timeout_ns, acks REIN_ECLOSED within
 * timeout_ns (the message is redelivered after ack_wait; the inbox makes
 * it a duplicate): no call blocks longer than that, and the first call
 * after the reconnect works again. From "server ready" to the first
 * commit takes at most about reconnect_wait_ns + its jitter + one fetch;
 * measured 24-50 ms after a 0.5 s outage (test_broker_restart in
 * tests/backends/test_inbox_jetstream.c; docs/exactly-once.md).
 */
typedef struct rein_broker_jetstream_config {
  const char *url;              /* default "nats://127.0.0.1:4222" */
  int64_t timeout_ns;           /* connect, each JetStream API call, publish and
                                   ack; default 2 s */
  const char *stream;           /* required: the stream's name */
  const char *subject;          /* required: what the stream captures and the
                                   consumer filters (wildcards allowed) */
  const char *durable;          /* required: the durable consumer's name, the
                                   same for every process of the group */
  const char *dead_subject;     /* default "rein.dead.<stream>" */
  const char *dead_stream;      /* default "<stream>_dead" */
  const char *key_header;       /* default "Rein-Key" */
  int64_t ack_wait_ns;          /* redelivery after this long unacked;
                                   default 30 s; >= 100 ms */
  int64_t max_deliver;          /* the consumer's MaxDeliver; default -1
                                   (unlimited); else above the inbox's
                                   max_deliveries */
  int64_t redelivery_window_ns; /* default 7 days */
  const rein_allocator *alloc;
  rein_errbuf *err;
  rein_clock wall; /* calendar time (ns since the epoch) to compare with
                      message timestamps; default CLOCK_REALTIME */
  /* Appended: */
  int64_t reconnect_wait_ns; /* between reconnect attempts after a lost
                                connection; default 250 ms; [10 ms, 60 s] */
} rein_broker_jetstream_config;

REIN_API void
rein_broker_jetstream_config_default(rein_broker_jetstream_config *c);
/* Connects, creates the streams and the consumer when missing, and
 * subscribes. REIN_EINVAL (field named in err), REIN_ENOMEM, REIN_ECLOSED
 * (cannot connect), REIN_EBACKEND (JetStream refused; its words in err).
 * Copies every string it keeps. The adapter is one thread at a time, like
 * the inbox that uses it. */
REIN_API rein_status rein_broker_jetstream_new(
    const rein_broker_jetstream_config *c, rein_broker **out);

/*
 * JetStream outbox deliverer (in librein_broker_jetstream with the adapter
 * above): a rein_outbox_deliver_fn that publishes an intent to JetStream,
 * so an effect "emit an event downstream" is exactly-once end to end.
 * Each attempt is one confirmed publish (js_PublishMsg, waiting for the
 * stream's publish ack) of the intent's body to the subject in its dest,
 * with headers
 *   Nats-Msg-Id: <idem_key>   the derived key (when msg_id, the default):
 *                             the stream drops a repeat within its
 *                             duplicate window and acks it duplicate=true
 *   <key_header>: <idem_key>  default Rein-Key, the header the JetStream
 *                             broker adapter reads as the business key, so
 *                             a rein_inbox consuming the stream dedups a
 *                             repeat too, whenever it comes
 *   Rein-Attempt: <n>         the attempt number of this relay round
 *   Rein-Effect: <effect>     the intent's effect name
 * and classifies the attempt for the retry engine:
 *   publish ack               SUCCESS; an ack with duplicate=true too
 *                             (the stream already has it; counted in the
 *                             stats as a duplicate)
 *   no ack in time            TIMEOUT (the message may be stored; the
 *                             retry carries the same Msg-Id)
 *   no responders (no stream captures the subject, or JetStream is not
 *   ready), connection closed or reconnecting, reconnect buffer full
 *                             NOT_SENT (nothing stored it)
 *   bad subject, payload over the server's max_payload, and the JetStream
 *   errors no repeat can cure (message over the stream's max_msg_size,
 *   sealed stream, expectation failed)
 *                             FATAL: the relay marks the intent failed
 *   any other JetStream API error (storage failed, insufficient
 *   resources, no leader)     FAILURE (retried)
 * The attempt's timeout is the decision's timeout_ns, else timeout_ns.
 *
 * Duplicate window. Msg-Id dedup holds only within the stream's duplicate
 * window (JetStream's default is 2 min). At _new the deliverer looks up the
 * stream named `stream`, else the one capturing `subject` (when either is
 * set), and exposes its window through
 * rein_outbox_jetstream_duplicate_window_ns. A relay whose retries of one
 * intent (the policy's deadline, plus the relay rounds that lease it again)
 * span longer than that window re-opens the duplicate gap: a publish whose
 * ack was lost and that is repeated after the window is stored twice. The
 * downstream inbox still dedups it by the key header, but other consumers
 * see two messages. Compare the two (`rein check`'s broker rule R013 does
 * so for contracts) and keep the retry window inside the duplicate window.
 * msg_id = false switches the Msg-Id header off; it exists for the control
 * test that shows the duplicates a re-run relay then leaves in the stream.
 *
 * The connection reconnects by itself as the broker adapter's does (every
 * reconnect_wait_ns, no attempt limit); attempts during an outage are
 * NOT_SENT or TIMEOUT. Thread level: one thread at a time (like the relay).
 */
typedef struct rein_outbox_jetstream_config {
  const char *url;           /* default "nats://127.0.0.1:4222" */
  int64_t timeout_ns;        /* connect, the stream look-up, and each
                                attempt when the decision has no timeout;
                                default 2 s; [1 ms, 600 s] */
  int64_t reconnect_wait_ns; /* default 250 ms; [10 ms, 60 s] */
  const char *key_header;    /* default "Rein-Key" (match the consuming
                                adapter's key_header) */
  const char *stream;        /* optional: the stream to look up for its
                                duplicate window (must exist) */
  const char *subject;       /* optional: ... or a subject the intents go
                                to; the stream capturing it is looked up
                                (none found: the window stays 0) */
  bool msg_id;               /* send Nats-Msg-Id; default true */
  const rein_allocator *alloc;
  rein_errbuf *err;
} rein_outbox_jetstream_config;

typedef struct rein_outbox_jetstream rein_outbox_jetstream;

/* Counts since _new: confirmed publishes (duplicates included), the
 * ones the stream acked as duplicates, and failed attempts by class. */
typedef struct rein_outbox_jetstream_stats {
  uint64_t published, duplicates;
  uint64_t timeouts, not_sent, failures;
} rein_outbox_jetstream_stats;

REIN_API void
rein_outbox_jetstream_config_default(rein_outbox_jetstream_config *c);
/* Connects and, when stream or subject is set, looks the stream up.
 * REIN_EINVAL (field named in err), REIN_ENOMEM, REIN_ECLOSED (cannot
 * connect, or the look-up got no answer), REIN_EBACKEND (the named stream
 * does not exist, or JetStream refused the look-up). Copies every string
 * it keeps. */
REIN_API rein_status rein_outbox_jetstream_new(
    const rein_outbox_jetstream_config *c, rein_outbox_jetstream **out);
/* NULL is a no-op. */
REIN_API void rein_outbox_jetstream_free(rein_outbox_jetstream *o);
/* A rein_outbox_deliver_fn; ctx is the rein_outbox_jetstream. */
struct rein_outbox_item; /* the outbox section below */
REIN_API void rein_outbox_jetstream_deliver(void *ctx,
                                            const struct rein_outbox_item *it,
                                            const rein_decision *attempt,
                                            rein_outcome *out, char *err,
                                            size_t cap);
/* The looked-up stream's duplicate window in ns; 0 when unknown (no
 * stream or subject given, or no stream captures the subject). */
REIN_API int64_t
rein_outbox_jetstream_duplicate_window_ns(const rein_outbox_jetstream *o);
/* The looked-up stream's name; "" when none. Never NULL. */
REIN_API const char *
rein_outbox_jetstream_stream(const rein_outbox_jetstream *o);
REIN_API void rein_outbox_jetstream_stats_get(const rein_outbox_jetstream *o,
                                              rein_outbox_jetstream_stats *out);

/*
 * RabbitMQ adapter (AMQP 0-9-1, librabbitmq; library librein_broker_amqp,
 * pkg-config rein-broker-amqp). One connection, one channel, one consumer:
 *   start-up   exchange.declare dead_exchange (fanout, durable);
 *              queue.declare dead_queue (durable) bound to it;
 *              queue.declare queue (durable; x-queue-type quorum unless
 *              `quorum` is false; x-dead-letter-exchange dead_exchange;
 *              x-message-ttl redelivery_window_ns when window_ttl);
 *              basic.qos prefetch; basic.consume (manual acks)
 *   read       waits at most block_ms on the socket for the first delivery,
 *              reads it whole (amqp_consume_message), then takes what
 *              else has arrived
 *   claim      requeues (basic.nack requeue=true) this consumer's own
 *              deliveries left unacknowledged at least min_idle_ns (the
 *              inbox leaves a failed message unacked) and returns none:
 *              they come back through read with the count raised. A dead
 *              consumer's deliveries RabbitMQ requeues itself when its
 *              connection closes; there is nothing to claim from it
 *   ack        basic.ack with the delivery tag, after the inbox's commit
 *   dead_letter basic.reject requeue=false: the dead-letter exchange gets
 *              it with RabbitMQ's x-death header (reason "rejected"); the
 *              error text is not carried (the inbox logs it)
 * The business key is the message_id property; the payload is the body;
 * enqueued_unix_ms is the timestamp property (seconds) when the publisher
 * set it, else -1. deliveries: on a quorum queue x-delivery-count + 1
 * (exact); on a classic queue 2 when the redelivered flag is set (at least
 * twice), else 1. A message_id with a NUL byte, and a redelivery whose
 * timestamp is older than redelivery_window_ns, are dead-lettered by the
 * adapter instead of delivered. With window_ttl RabbitMQ itself dead-letters
 * (reason "expired") any message that waits in the queue longer than the
 * window, timestamp or not. Delivery ids are "<connection>:<tag>"; an ack
 * for a delivery from an earlier (closed) connection returns REIN_ECLOSED
 * (RabbitMQ requeued it). The password is sent to RabbitMQ only.
 * Reconnect. A lost connection (a broker restart, a cut) is noticed by the
 * call that uses it, which drops it; the next read connects again, logs
 * in, declares and consumes again, and while the broker refuses or is not
 * there yet it tries again after 50 ms, doubling to 400 ms, until its
 * block_ms is used up (then REIN_ECLOSED or REIN_EBACKEND, and the next
 * read goes on trying). A consumer that calls rein_inbox_poll in a loop and
 * carries on after an error is therefore back on its own, within one pause
 * of the broker accepting connections again (docs/exactly-once.md has the
 * measured time). The acks of deliveries from the lost connection fail with
 * REIN_ECLOSED (rein_inbox_poll returns it for that round); RabbitMQ hands
 * those messages out again and the inbox skips the ones it had committed.
 */
typedef struct rein_broker_amqp_config {
  const char *host;             /* default "127.0.0.1" */
  int port;                     /* default 5672 */
  const char *vhost;            /* default "/" */
  const char *user;             /* default "guest" */
  const char *password;         /* default "guest"; never logged */
  int64_t connect_timeout_ns;   /* default 2 s; also each RPC's timeout */
  const char *queue;            /* required */
  const char *dead_exchange;    /* default "<queue>.dlx" */
  const char *dead_queue;       /* default "<queue>.dead" */
  uint16_t prefetch;            /* basic.qos; default 64; >= 1 */
  bool quorum;                  /* quorum work queue (exact delivery counts);
                                   default true */
  bool window_ttl;              /* x-message-ttl = the window; default true */
  int64_t min_idle_ns;          /* claim requeues own unacked ones idle this
                                   long; default 30 s */
  int64_t redelivery_window_ns; /* default 7 days */
  const rein_allocator *alloc;
  rein_errbuf *err;
  rein_clock clock; /* for min_idle; default CLOCK_MONOTONIC */
  rein_clock wall;  /* calendar time to compare with timestamps; default
                       CLOCK_REALTIME */
} rein_broker_amqp_config;

REIN_API void rein_broker_amqp_config_default(rein_broker_amqp_config *c);
/* Connects, declares the queues and starts consuming. REIN_EINVAL (field
 * named in err), REIN_ENOMEM, REIN_ECLOSED (cannot connect), REIN_EBACKEND
 * (RabbitMQ refused, e.g. PRECONDITION_FAILED for a queue declared with
 * other arguments; its words in err). Copies every string it keeps.
 * Thread level: one thread at a time. */
REIN_API rein_status rein_broker_amqp_new(const rein_broker_amqp_config *c,
                                          rein_broker **out);

/* ==== inbox =============================================================== */

/* The transaction a handler runs in. Valid only during the handler call. */
typedef struct rein_inbox_tx rein_inbox_tx;

/* The connection, inside an open transaction (NULL for the other kind). */
REIN_API struct sqlite3 *rein_inbox_tx_sqlite(const rein_inbox_tx *tx);
REIN_API struct pg_conn *rein_inbox_tx_pg(const rein_inbox_tx *tx);
/* The message being processed. */
REIN_API const rein_broker_msg *rein_inbox_tx_msg(const rein_inbox_tx *tx);

/*
 * Records an outbox intent in the handler's transaction: deliver `body` to
 * `dest` (meaning is the deliverer's: a URL for rein_outbox_http) for effect
 * `effect` (1..64 bytes of [A-Za-z0-9._:-]) of the current message. The
 * idempotency key is derived from the message key and `effect`; one intent
 * per (message key, effect): a second with the same effect returns
 * REIN_ECONFLICT. `key_out` (optional, 65 bytes) receives the key.
 * REIN_EINVAL, REIN_ETOOBIG (body over 1 MiB), REIN_EBACKEND / REIN_EBUSY.
 */
REIN_API rein_status rein_inbox_tx_outbox(rein_inbox_tx *tx, const char *effect,
                                          const char *dest, const void *body,
                                          size_t body_len, char *key_out);

/*
 * The user's handler: perform the effect through the tx's connection.
 * Return REIN_OK to commit; anything else rolls back effect and dedup row,
 * and `err` (cap bytes, NUL-terminated) says why (kept as the message's last
 * error for the dead-letter stream).
 */
typedef rein_status (*rein_inbox_handler)(void *ctx, rein_inbox_tx *tx,
                                          const rein_broker_msg *m, char *err,
                                          size_t cap);

/* Test and crash-injection hooks; any may be NULL. */
typedef struct rein_inbox_hooks {
  /* after COMMIT, before the ack */
  void (*after_commit)(void *ctx, const rein_broker_msg *m);
  /* outbox: after a successful delivery, before it is marked delivered */
  void (*after_deliver)(void *ctx, int64_t outbox_id);
  void *ctx;
} rein_inbox_hooks;

typedef struct rein_inbox_config {
  const char *sqlite_path;    /* SQLite: opened and owned by the inbox */
  struct sqlite3 *sqlite_db;  /* ... or borrowed (wins over the path) */
  const char *pg_conninfo;    /* PostgreSQL: opened and owned */
  struct pg_conn *pg_conn;    /* ... or borrowed (wins) */
  int64_t busy_timeout_ns;    /* SQLite busy_timeout; default 10 s */
  bool dedup;                 /* default true; false = at-least-once
                                 baseline: no inbox row, effects may repeat
                                 (benchmarks and the crash test's control) */
  rein_broker *broker;        /* borrowed; required for rein_inbox_poll */
  int64_t retention_ns;       /* dedup row lifetime; default 7 days */
  bool retention_warn_only;   /* retention < window: warn instead of
                                 refusing */
  uint32_t max_deliveries;    /* a failing message is dead-lettered on
                                 this delivery; default 5; >= 1 */
  rein_inbox_handler handler; /* required for poll/process */
  void *handler_ctx;
  const void *outbox_secret; /* HMAC key for outbox idempotency keys;
                                required to add intents; >= 16 bytes */
  size_t outbox_secret_len;
  int64_t outbox_lease_ns; /* a relay owns leased intents this long;
                              default 30 s */
  rein_clock wall;         /* calendar time for processed_at, retention
                              and leases (ns since the epoch); default
                              CLOCK_REALTIME */
  rein_inbox_hooks hooks;
  void (*log)(void *ctx, const char *line); /* default: stderr */
  void *log_ctx;
  const rein_allocator *alloc;
  rein_errbuf *err;
  rein_clock clock; /* monotonic; measures rein_outbox_wait's max_wait_ns;
                       default CLOCK_MONOTONIC (appended in 1.x) */
  bool outbox_notify; /* PostgreSQL: each intent NOTIFYs the relay's
                         channel on commit (rein_outbox_wait wakes at once);
                         default true. PostgreSQL serialises notifying
                         commits: with fsync=off one producer's commits
                         ran at 0.51x (docs/benchmarks.md "Outbox relay").
                         false: no NOTIFY; a waiting relay polls on its
                         timeout. SQLite: ignored. (appended in 1.x) */
} rein_inbox_config;

typedef struct rein_inbox rein_inbox;

REIN_API void rein_inbox_config_default(rein_inbox_config *c);
/*
 * One constructor per database, each in its own library so that a program
 * links only the database it uses: rein_inbox_sqlite_new in
 * librein_inbox_sqlite (pkg-config rein-inbox-sqlite), rein_inbox_pg_new in
 * librein_inbox_pg (rein-inbox-pg). Each opens or adopts its database
 * (sqlite_path / sqlite_db, pg_conninfo / pg_conn), creates the tables
 * (and, for PostgreSQL, prepares the statements), and checks retention
 * against the broker's redelivery window. REIN_EINVAL naming the field
 * (e.g. "inbox.retention_ns: 3600 s is shorter than the broker's
 * redelivery window of 86400 s ..."), REIN_ENOMEM, REIN_EBACKEND /
 * REIN_ECLOSED with the database's words in err.
 */
REIN_API rein_status rein_inbox_sqlite_new(const rein_inbox_config *c,
                                           rein_inbox **out);
REIN_API rein_status rein_inbox_pg_new(const rein_inbox_config *c,
                                       rein_inbox **out);
REIN_API void rein_inbox_free(rein_inbox *ib);
/* The last database or broker error; "" when none. Never NULL. */
REIN_API const char *rein_inbox_errmsg(const rein_inbox *ib);
/* The inbox's connection (outside any inbox transaction), e.g. to create
 * the application's tables; NULL for the other kind. Each lives in its
 * database's library. */
REIN_API struct sqlite3 *rein_inbox_sqlite(const rein_inbox *ib);
REIN_API struct pg_conn *rein_inbox_pg(const rein_inbox *ib);

typedef enum rein_inbox_verdict {
  REIN_INBOX_PROCESSED = 0, /* effect committed, message acked */
  REIN_INBOX_DUPLICATE = 1, /* key seen before: effect skipped, acked */
  REIN_INBOX_FAILED = 2,    /* handler or commit failed: rolled back, not
                               acked (redelivered later) */
  REIN_INBOX_DEAD = 3       /* dead-lettered with its last error, acked */
} rein_inbox_verdict;

/*
 * Processes one message as described at the top (dedup, handler, commit,
 * ack or dead-letter through the configured broker; with no broker nothing
 * is acked). REIN_OK with *verdict set when the message was handled (FAILED
 * included: the handler's failure is the message's, not the call's); an
 * error when the database or the broker failed (then nothing was committed
 * or the commit happened and the ack did not: either way the message is
 * redelivered and the inbox makes that safe).
 */
REIN_API rein_status rein_inbox_process(rein_inbox *ib,
                                        const rein_broker_msg *m,
                                        rein_inbox_verdict *verdict);

typedef struct rein_inbox_stats {
  uint64_t processed, duplicates, failed, dead;
  uint64_t claimed; /* messages taken over from idle consumers */
} rein_inbox_stats;

/*
 * One round: claim stale messages (at most `max`), process them, then read
 * at most `max` new ones (waiting at most block_ms) and process them. Adds to
 * *stats (optional). REIN_OK, or the first broker/database error (messages
 * processed before it stay processed). With an adapter that has ack_many
 * (Redis, JetStream) the acks of a batch's processed and duplicate
 * messages go out together after the batch (one XACK for a Redis batch); a
 * crash before them redelivers messages already committed, which the inbox
 * skips as duplicates. Without it each is acked after its own commit.
 * Dead-lettered messages are acknowledged by dead_letter itself, at once.
 */
REIN_API rein_status rein_inbox_poll(rein_inbox *ib, size_t max,
                                     int64_t block_ms, rein_inbox_stats *stats);

/*
 * Deletes dedup rows processed more than retention_ns ago (and outbox rows
 * delivered that long ago), at most `batch` rows per table per call, so a
 * purge never holds the write lock long. *deleted (optional) = rows removed;
 * call again while it equals `batch`.
 */
REIN_API rein_status rein_inbox_purge(rein_inbox *ib, size_t batch,
                                      size_t *deleted);

/* Counts for tests and dashboards: dedup rows, outbox intents pending
 * (neither delivered nor failed), delivered, failed. */
typedef struct rein_inbox_counts {
  int64_t inbox_rows, outbox_pending, outbox_delivered, outbox_failed;
} rein_inbox_counts;
REIN_API rein_status rein_inbox_counts_get(rein_inbox *ib,
                                           rein_inbox_counts *out);

/* ==== outbox ============================================================== */

#define REIN_OUTBOX_KEY_LEN 64 /* hex characters, plus a NUL */

/*
 * hex(HMAC-SHA256(secret, msg_key || 0x00 || effect)) into out[65].
 * REIN_EINVAL for NULL arguments or an empty secret.
 */
REIN_API rein_status rein_outbox_key(const void *secret, size_t secret_len,
                                     const char *msg_key, const char *effect,
                                     char out[REIN_OUTBOX_KEY_LEN + 1]);

/* One intent, as the relay hands it to the deliverer. */
typedef struct rein_outbox_item {
  int64_t id;
  const char *msg_key;
  const char *effect;
  const char *idem_key; /* send this; the receiver dedups by it */
  const char *dest;
  const void *body;
  size_t body_len;
  uint32_t attempts; /* delivery attempts in earlier relay rounds */
} rein_outbox_item;

/*
 * Deliver one attempt of `it` and classify it in *out (SUCCESS, FAILURE,
 * TIMEOUT, NOT_SENT, OVERLOADED with server_delay_ns, FATAL for a
 * definitive refusal). `err` (cap bytes) describes a failure.
 */
typedef void (*rein_outbox_deliver_fn)(void *ctx, const rein_outbox_item *it,
                                       const rein_decision *attempt,
                                       rein_outcome *out, char *err,
                                       size_t cap);

typedef struct rein_outbox_stats {
  uint64_t delivered; /* marked delivered this round */
  uint64_t retry;     /* gave up this round; left for a later round */
  uint64_t failed;    /* definitive refusal (FATAL): marked failed */
  uint64_t attempts;  /* deliver calls */
} rein_outbox_stats;

/*
 * One relay round: lease at most `max` undelivered intents (oldest first,
 * skipping ones another relay leased within outbox_lease_ns), deliver each
 * with rein_retry_run(policy, {has_key = true}, ...), then mark it delivered,
 * failed (FATAL outcome; kept with its error for an operator) or release it
 * with its attempt count and last error for a later round (which may lease
 * it again 1 s later). `sleeper` as in rein_retry_run. Adds to *stats
 * (optional). Returns the first database error (REIN_EBUSY, REIN_EBACKEND,
 * REIN_ECLOSED; intents not yet marked stay leased until their lease ends).
 */
REIN_API rein_status rein_outbox_relay(rein_inbox *ib,
                                       const rein_policy *policy,
                                       rein_outbox_deliver_fn fn, void *ctx,
                                       const rein_sleeper *sleeper, size_t max,
                                       rein_outbox_stats *stats);

/* Why rein_outbox_wait returned. */
typedef enum rein_outbox_wake {
  REIN_OUTBOX_WAKE_TIMEOUT = 0, /* max_wait_ns passed, no notification */
  REIN_OUTBOX_WAKE_NOTIFY = 1,  /* intents were committed since the last
                                   wait (or during the last round) */
  REIN_OUTBOX_WAKE_LISTEN = 2   /* the listener was (re)established: intents
                                   committed before it sent this relay no
                                   notification, so run a round now */
} rein_outbox_wake;

/*
 * Blocks until an outbox intent may be waiting, or max_wait_ns has passed:
 * the push-driven half of a relay loop
 *
 *   for (;;) {
 *     rein_outbox_stats s = {0};
 *     rein_outbox_relay(ib, policy, fn, ctx, NULL, max, &s);
 *     if (s.delivered + s.retry + s.failed == max) continue;  (more left)
 *     rein_outbox_wait(ib, 2 * REIN_NS_PER_S, &why);
 *   }
 *
 * PostgreSQL. rein_inbox_tx_outbox also runs pg_notify(channel, '') in the
 * handler's transaction, so PostgreSQL delivers the notification when that
 * transaction COMMITs and never when it rolls back (intents of one
 * transaction collapse into one notification). The channel is
 * "rein_outbox.<schema>", <schema> being the schema the rein_outbox table
 * resolves to when the inbox opens (so inboxes on different schemas of one
 * database do not wake each other), cut to 63 bytes at a character
 * boundary; rein_outbox_channel() returns it. The wait LISTENs on a
 * dedicated connection, opened on the first call with the inbox
 * connection's parameters (PQconninfo) and kept until rein_inbox_free: the
 * inbox connection runs the relay's own statements and a handler's
 * transactions, and PostgreSQL delivers notifications only between
 * transactions, so a listener there would wake late or be drained by the
 * application. The first call, and the first call after the listener
 * connection was lost (server restart, pg_terminate_backend) and opened
 * again, LISTENs and returns at once with REIN_OUTBOX_WAKE_LISTEN:
 * notifications sent before a LISTEN are not delivered to it, so the
 * caller must run a round to catch intents committed meanwhile. Otherwise
 * the call reads what is pending (PQconsumeInput, PQnotifies) and
 * poll()s the socket for the time left, and returns as soon as at least
 * one notification arrived, after draining all that are pending (so a
 * burst of commits wakes the relay once). A listener that cannot be
 * (re)connected within the time left makes the call sleep out the rest of
 * max_wait_ns and return REIN_ECLOSED (the reason in rein_inbox_errmsg):
 * it has still waited, so a loop that ignores the error degrades to
 * polling at max_wait_ns and never spins; each later call tries once more.
 *
 * SQLite (no notification across processes): sleeps max_wait_ns and
 * returns REIN_OUTBOX_WAKE_TIMEOUT.
 *
 * Either way, max_wait_ns bounds how late the relay notices intents that
 * no notification announces: ones released for a retry (leasable again 1 s
 * later) and ones whose relay died holding the lease (outbox_lease_ns), so
 * keep it at a few seconds. A round that leased `max` intents may have
 * left more behind, whose notifications were already drained: run another
 * round before waiting (as above). max_wait_ns = 0 checks without
 * blocking (and opens no listener). Time is read from the inbox config's
 * `clock`; blocking is poll() in real time.
 *
 * REIN_OK with *why set; REIN_EINVAL (NULL ib or why, max_wait_ns outside
 * [0, 1 h]); REIN_ECLOSED as above; REIN_ENOMEM. Thread level: the inbox's
 * (one thread at a time; the listener belongs to the inbox).
 */
REIN_API rein_status rein_outbox_wait(rein_inbox *ib, int64_t max_wait_ns,
                                      rein_outbox_wake *why);

/* The notification channel rein_inbox_tx_outbox signals and
 * rein_outbox_wait listens on; "" for SQLite. Never NULL. */
REIN_API const char *rein_outbox_channel(const rein_inbox *ib);

/* "timeout", "notify", "listen". */
REIN_API const char *rein_outbox_wake_name(rein_outbox_wake w);

/*
 * HTTP deliverer (libcurl): POSTs the body to the item's dest URL with
 *   Idempotency-Key: "<key>"   (an RFC 8941 sf-string)
 *   Content-Type, Rein-Attempt, and `auth_header` when set
 * and classifies: 2xx SUCCESS; 409 (key in progress), 429, 503 OVERLOADED
 * with Retry-After as the delay floor; other 5xx FAILURE; connection refused
 * NOT_SENT; timeout TIMEOUT; other 4xx FATAL. Reuses one connection.
 * Thread level: one thread at a time.
 */
typedef struct rein_outbox_http_config {
  const char *content_type; /* default "application/json" */
  const char *auth_header;  /* e.g. "Authorization: Bearer p"; optional */
  int64_t timeout_ns;       /* per attempt when the decision has none;
                               default 5 s */
  const rein_allocator *alloc;
  rein_errbuf *err;
} rein_outbox_http_config;

typedef struct rein_outbox_http rein_outbox_http;

REIN_API void rein_outbox_http_config_default(rein_outbox_http_config *c);
REIN_API rein_status rein_outbox_http_new(const rein_outbox_http_config *c,
                                          rein_outbox_http **out);
REIN_API void rein_outbox_http_free(rein_outbox_http *h);
/* A rein_outbox_deliver_fn; ctx is the rein_outbox_http. */
REIN_API void rein_outbox_http_deliver(void *ctx, const rein_outbox_item *it,
                                       const rein_decision *attempt,
                                       rein_outcome *out, char *err,
                                       size_t cap);

/*
 * RabbitMQ deliverer (librabbitmq, in librein_broker_amqp, pkg-config
 * rein-broker-amqp): publishes each intent with publisher confirms.
 *   dest       "<exchange>/<routing key>", split at the first '/' (RabbitMQ
 *              exchange names cannot contain one): "/payments" is the
 *              default exchange, i.e. straight to the queue "payments";
 *              "orders/eu.paid" is exchange "orders", key "eu.paid". The
 *              exchange is 0..127 bytes, the key 1..255; anything else is
 *              FATAL (the intent is marked failed).
 *   message    basic.publish mandatory=true, delivery_mode 2 (persistent),
 *              message_id = idem_key (the property rein_broker_amqp reads
 *              as the business key, so the consumer's inbox dedups by it),
 *              timestamp (seconds, `wall`), content_type, headers
 *              Rein-Attempt (this attempt, from 1) and Rein-Effect
 *   confirms   the channel is in confirm mode (confirm.select); each
 *              attempt waits for RabbitMQ's verdict on its publish, at most
 *              the decision's timeout_ns (else timeout_ns):
 *                basic.ack                 SUCCESS (stored: on a quorum
 *                                          queue, by a majority)
 *                basic.nack                FAILURE (RabbitMQ did not store
 *                                          it, e.g. x-overflow
 *                                          reject-publish)
 *                basic.return, then ack    FAILURE: unroutable (no queue
 *                                          bound yet; the consumer may
 *                                          declare it later), retried
 *                                          rather than marked failed
 *                channel closed by RabbitMQ FAILURE (e.g. 404: no such
 *                                          exchange), words in err
 *                no verdict in time        TIMEOUT
 *                connection lost after the publish  FAILURE (it may be
 *                                          stored: resending is safe, see
 *                                          below)
 *                cannot connect / log in   NOT_SENT
 *              Every outcome but SUCCESS and nack/return drops the
 *              connection; the next attempt reconnects.
 * Duplicates. RabbitMQ has no publish dedup: a relay that crashes after the
 * confirm and before it marks the intent delivered, or an ack lost with the
 * connection, publishes the intent again on its next round. Both copies
 * carry the same message_id (the idem_key), and the consumer's rein_inbox
 * (over rein_broker_amqp) dedups by exactly that key, so the effect happens
 * once (tests/backends/test_inbox_amqp.c shows it). A consumer that is not
 * a rein_inbox must dedup by message_id itself.
 * `confirms` false publishes without waiting for any verdict and reports
 * SUCCESS once the bytes are written: the relay then marks delivered what
 * RabbitMQ may have dropped. It exists for the control test; do not use it.
 * _new copies the configuration and does not connect (the first attempt
 * does). Thread level: one thread at a time.
 */
typedef struct rein_outbox_amqp_config {
  const char *host;           /* default "127.0.0.1" */
  int port;                   /* default 5672 */
  const char *vhost;          /* default "/" */
  const char *user;           /* default "guest" */
  const char *password;       /* default "guest"; never logged */
  int64_t connect_timeout_ns; /* connect, login, each RPC; default 2 s */
  int64_t timeout_ns;         /* confirm wait per attempt when the decision
                                 has none; default 5 s */
  const char *content_type;   /* default "application/json" */
  bool confirms;              /* default true; false only for the control */
  const rein_allocator *alloc;
  rein_errbuf *err;
  rein_clock wall; /* the timestamp property; default CLOCK_REALTIME */
} rein_outbox_amqp_config;

typedef struct rein_outbox_amqp rein_outbox_amqp;

REIN_API void rein_outbox_amqp_config_default(rein_outbox_amqp_config *c);
/* REIN_EINVAL (field named in err), REIN_ENOMEM. Copies every string. */
REIN_API rein_status rein_outbox_amqp_new(const rein_outbox_amqp_config *c,
                                          rein_outbox_amqp **out);
/* Closes the connection; NULL is a no-op. */
REIN_API void rein_outbox_amqp_free(rein_outbox_amqp *d);
/* A rein_outbox_deliver_fn; ctx is the rein_outbox_amqp. */
REIN_API void rein_outbox_amqp_deliver(void *ctx, const rein_outbox_item *it,
                                       const rein_decision *attempt,
                                       rein_outcome *out, char *err,
                                       size_t cap);

REIN_API const char *rein_inbox_verdict_name(rein_inbox_verdict v);

#ifdef __cplusplus
}
#endif
#endif /* REIN_INBOX_H */
