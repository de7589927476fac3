/* SPDX-License-Identifier: Apache-2.0 */
/*
 * admit.c: admission control for a request handler (rein/admit.h).
 *
 * The design splits the cheap case from the interesting one. While the queue
 * is empty and the server is not overloaded, try and release are a handful
 * of C11 atomics on one cache line: a CAS that takes a slot below the limit,
 * and one atomic add that gives it back and counts the completion (the
 * in-flight count and the completions share one 64-bit word). Everything
 * else (the bounded queue, the CoDel-style standing-queue detector, adaptive
 * LIFO, retry-first shedding, the drain rate) lives behind one mutex and is
 * entered only when a request has to wait or be shed, which is exactly when
 * a few hundred nanoseconds do not matter.
 *
 * The one subtle point is the hand-off between the two worlds: a releaser on
 * the fast path must not miss a request that was queued at the same moment.
 * Both sides use sequentially consistent operations in Dekker's pattern: an
 * enqueuer increments queue_len and then tries to take a slot; a releaser
 * decrements the in-flight count and then looks at queue_len. At least one of
 * them sees the other's write, so a freed slot always reaches the queue.
 *
 * Overload detection is evaluated after every locked operation ("settle"),
 * which is exact because between two such operations the queue does not
 * change and the oldest waiter's age only grows.
 */
#include "rein/admit.h"

#include "rein/signal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CACHELINE 64
#define MAX_COUNT (UINT32_C(1) << 20)
#define NONE INT64_MIN

/* Internal ticket states beyond rein_admit_result. */
/* Ticket states (t->state_). 0 is "never used", so a zeroed ticket cannot
 * be released by mistake. */
enum {
  ST_NONE = 0,
  ST_ADMITTED,
  ST_QUEUED,
  ST_REJECTED,
  ST_RELEASED,
  ST_CANCELLED
};

static rein_admit_result result_of(int s) {
  switch (s) {
  case ST_ADMITTED:
  case ST_RELEASED:
    return REIN_ADMIT_ADMITTED;
  case ST_QUEUED:
    return REIN_ADMIT_QUEUED;
  default:
    return REIN_ADMIT_REJECTED;
  }
}

/* The queues link tickets by their offset from the rein_admit (uintptr_t
 * arithmetic, 0 = none), never by address, so the same code runs on a
 * rein_admit placed in memory shared by processes that map it at different
 * addresses (rein_admit_new_shared), where every queued ticket is a node of
 * the shared block. */
typedef uintptr_t tref;

typedef struct tqueue {
  tref head, tail; /* head = oldest */
} tqueue;

struct rein_admit {
  /* Hot line: everything the fast path touches. */
  /* In-flight count (low 32 bits) and releases mod 2^32 (high 32 bits) in
   * one word, so a release is a single atomic add. */
  _Alignas(CACHELINE) _Atomic uint64_t slots;
  _Atomic uint32_t limit;
  _Atomic uint32_t queue_len;
  _Atomic bool overloaded;   /* written under mu */
  _Atomic int64_t win_start; /* drain-rate window start; NONE before use */
  /* The last time a slot was taken or given back (relaxed: a thread may
   * store a slightly older `now` than another's; the drain bound below
   * only needs it to the millisecond). NONE before the first. */
  _Atomic int64_t moved_ns;

  /* Rate limiter (GCRA theoretical arrival time). */
  _Alignas(CACHELINE) _Atomic int64_t tat;

  /* Cold: under mu unless atomic. */
  _Alignas(CACHELINE) pthread_mutex_t mu;
  tqueue first, retry;
  int64_t above_since; /* oldest waiter above target since; NONE = not */
  int64_t below_at;    /* last time the queue was empty or below target */
  uint64_t released;   /* total releases, accumulated from `slots` */
  uint32_t rel_seen;   /* high half of `slots` when last accumulated */
  uint64_t win_count;  /* released at win_start */
  double rate;         /* completions/s over the last complete window */
  uint64_t spread_seq; /* round-robin position of the Retry-After spread */
  bool have_rate;
  _Atomic uint64_t queued, cancelled;
  _Atomic uint64_t rejected[REIN_ADMIT_R_COUNT_];

  /* Immutable after _new. */
  rein_admit_config cfg;
  int64_t rl_T; /* GCRA emission interval */
  char policy[33];
  char name[65];
  rein_allocator alloc;
  bool have_alloc;
  bool real_clock; /* cfg.clock is CLOCK_MONOTONIC: acquire may sleep long */
  void *raw;

  /* Shared mode (rein_admit_new_shared): the object lives in memory the
   * caller shares between processes; `mu` is process-shared and robust, the
   * config keeps no pointer, and every ticket that holds a slot or waits is
   * a node of the table that follows this struct (node_off bytes from it),
   * owned by a process id. The table is the ground truth the counts are
   * rebuilt from when a process dies holding the lock. Under mu. */
  bool shared;
  uint32_t nodes;     /* table capacity */
  uint32_t node_off;  /* offset of the table from this struct */
  uint32_t free_head; /* index + 1 of the first free node; 0 = none */
  uint32_t nodes_used;
  int32_t holder;     /* pid holding mu (shared mode), 0 between holds */
  uint64_t gen;       /* node allocations so far: a node's generation */
  uint64_t repairs;   /* locks that found their holder dead */
  uint64_t reclaimed; /* nodes taken back from dead processes */
};

/* ------------------------------------------------------------------------ */
/* Lock                                                                     */
/* ------------------------------------------------------------------------ */

static void shared_repair(rein_admit *a);

/* EOWNERDEAD (shared mode only: the mutex is robust) means a process died
 * holding the lock, in the middle of any change: rebuild everything the
 * lock guards from the node table before going on. */
static void lock(rein_admit *a) {
  int rc = pthread_mutex_lock(&a->mu);
  if (rc == EOWNERDEAD) {
    shared_repair(a);
    pthread_mutex_consistent(&a->mu);
  }
  if (a->shared) a->holder = (int32_t)getpid();
}

static bool trylock(rein_admit *a) {
  int rc = pthread_mutex_trylock(&a->mu);
  if (rc == EOWNERDEAD) {
    shared_repair(a);
    pthread_mutex_consistent(&a->mu);
  } else if (rc != 0) {
    return false;
  }
  if (a->shared) a->holder = (int32_t)getpid();
  return true;
}

static void unlock(rein_admit *a) {
  if (a->shared) a->holder = 0;
  pthread_mutex_unlock(&a->mu);
}

/* ------------------------------------------------------------------------ */
/* Queue links                                                              */
/* ------------------------------------------------------------------------ */

static rein_admit_ticket *tk_at(const rein_admit *a, tref r) {
  return r ? (rein_admit_ticket *)((uintptr_t)a + r) : NULL;
}

static tref tk_ref(const rein_admit *a, const rein_admit_ticket *t) {
  return t ? (uintptr_t)t - (uintptr_t)a : 0;
}

/* A queued ticket's prev_/next_ hold trefs (see tref). */
static tref tk_prev(const rein_admit_ticket *t) {
  return (tref)t->prev_;
}

static tref tk_next(const rein_admit_ticket *t) {
  return (tref)t->next_;
}

static void set_prev(rein_admit_ticket *t, tref r) {
  t->prev_ = (rein_admit_ticket *)r;
}

static void set_next(rein_admit_ticket *t, tref r) {
  t->next_ = (rein_admit_ticket *)r;
}

static void q_push(rein_admit *a, tqueue *q, rein_admit_ticket *t) {
  tref r = tk_ref(a, t);
  set_next(t, 0);
  set_prev(t, q->tail);
  if (q->tail)
    set_next(tk_at(a, q->tail), r);
  else
    q->head = r;
  q->tail = r;
}

static void q_unlink(rein_admit *a, tqueue *q, rein_admit_ticket *t) {
  tref p = tk_prev(t), n = tk_next(t);
  if (p)
    set_next(tk_at(a, p), n);
  else
    q->head = n;
  if (n)
    set_prev(tk_at(a, n), p);
  else
    q->tail = p;
  set_prev(t, 0);
  set_next(t, 0);
}

/* ------------------------------------------------------------------------ */
/* Config                                                                   */
/* ------------------------------------------------------------------------ */

void rein_admit_config_default(rein_admit_config *c) {
  memset(c, 0, sizeof *c);
  c->limit = 64;
  c->queue_max = 128;
  c->retry_queue_max = 32;
  c->target_ns = 5 * REIN_NS_PER_MS;
  c->interval_ns = 100 * REIN_NS_PER_MS;
  c->max_wait_ns = 100 * REIN_NS_PER_MS;
  c->lifo_when_overloaded = true;
  c->retry_after_min_ns = REIN_NS_PER_S;
  c->retry_after_max_ns = 60 * REIN_NS_PER_S;
  c->rate_window_ns = REIN_NS_PER_S;
  c->dont_retry = REIN_ADMIT_DONT_RETRY_RETRIES;
  c->rl_quota = 0;
  c->rl_window_ns = REIN_NS_PER_S;
  c->rl_policy = "default";
  c->adaptive = false;
  c->limit_min = 1;
  c->limit_max = 1024;
  c->aimd_latency_ns = REIN_NS_PER_S;
  c->aimd_backoff = 0.9;
  c->name = "default";
}

#define invalid(err, ...) rein_errbuf_set((err), REIN_EINVAL, __VA_ARGS__)

/* [A-Za-z0-9_.:-]{1,max}: safe inside an sf-string and a Prometheus label
 * without escaping. */
static bool name_ok(const char *s, size_t max) {
  size_t n = 0;
  for (; s[n]; n++) {
    char ch = s[n];
    bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == ':' ||
              ch == '-';
    if (!ok || n >= max) return false;
  }
  return n >= 1;
}

static rein_status validate(const rein_admit_config *c) {
  rein_errbuf *e = c->err;
  const int64_t S = REIN_NS_PER_S;
  if (c->limit < 1 || c->limit > MAX_COUNT)
    return invalid(e, "admit.limit: must be in [1, %u], got %u", MAX_COUNT,
                   c->limit);
  if (c->queue_max > MAX_COUNT)
    return invalid(e, "admit.queue_max: must be <= %u, got %u", MAX_COUNT,
                   c->queue_max);
  if (c->retry_queue_max > c->queue_max)
    return invalid(e,
                   "admit.retry_queue_max: must be <= queue_max (%u), got %u",
                   c->queue_max, c->retry_queue_max);
  if (c->target_ns <= 0 || c->target_ns > 60 * S)
    return invalid(e, "admit.target_ns: must be in (0, 60 s], got %lld",
                   (long long)c->target_ns);
  if (c->interval_ns < c->target_ns || c->interval_ns > 600 * S)
    return invalid(e,
                   "admit.interval_ns: must be in [target_ns (%lld), 600 s], "
                   "got %lld",
                   (long long)c->target_ns, (long long)c->interval_ns);
  if (c->max_wait_ns < c->target_ns || c->max_wait_ns > 600 * S)
    return invalid(e,
                   "admit.max_wait_ns: must be in [target_ns (%lld), 600 s], "
                   "got %lld",
                   (long long)c->target_ns, (long long)c->max_wait_ns);
  if (c->retry_after_min_ns < 0)
    return invalid(e, "admit.retry_after_min_ns: must be >= 0, got %lld",
                   (long long)c->retry_after_min_ns);
  if (c->retry_after_max_ns < c->retry_after_min_ns ||
      c->retry_after_max_ns > REIN_SIGNAL_MAX_DELAY_NS)
    return invalid(e,
                   "admit.retry_after_max_ns: must be in [retry_after_min_ns "
                   "(%lld), 6 h], got %lld",
                   (long long)c->retry_after_min_ns,
                   (long long)c->retry_after_max_ns);
  if (c->rate_window_ns < REIN_NS_PER_MS || c->rate_window_ns > 60 * S)
    return invalid(e, "admit.rate_window_ns: must be in [1 ms, 60 s], got %lld",
                   (long long)c->rate_window_ns);
  if ((unsigned)c->dont_retry > REIN_ADMIT_DONT_RETRY_OVERLOADED)
    return invalid(e, "admit.dont_retry: unknown value %d", (int)c->dont_retry);
  if (c->rl_quota > 1000000000u)
    return invalid(e, "admit.rl_quota: must be <= 1000000000, got %u",
                   c->rl_quota);
  if (c->rl_quota > 0) {
    if (c->rl_window_ns < S || c->rl_window_ns > 86400 * S ||
        c->rl_window_ns % S != 0)
      return invalid(e,
                     "admit.rl_window_ns: must be a whole number of seconds "
                     "in [1 s, 1 day], got %lld",
                     (long long)c->rl_window_ns);
    if (!c->rl_policy || !name_ok(c->rl_policy, 32))
      return invalid(e,
                     "admit.rl_policy: must match [A-Za-z0-9_.:-]{1,32}, "
                     "got \"%.40s\"",
                     c->rl_policy ? c->rl_policy : "(null)");
  }
  if (!(c->retry_after_spread >= 0 && c->retry_after_spread <= 4))
    return invalid(e, "admit.retry_after_spread: must be in [0, 4], got %g",
                   c->retry_after_spread);
  if (!c->name || !name_ok(c->name, 64))
    return invalid(
        e, "admit.name: must match [A-Za-z0-9_.:-]{1,64}, got \"%.70s\"",
        c->name ? c->name : "(null)");
  if (c->adaptive) {
    if (c->limit_min < 1 || c->limit_min > c->limit)
      return invalid(e, "admit.limit_min: must be in [1, limit (%u)], got %u",
                     c->limit, c->limit_min);
    if (c->limit_max < c->limit || c->limit_max > MAX_COUNT)
      return invalid(e, "admit.limit_max: must be in [limit (%u), %u], got %u",
                     c->limit, MAX_COUNT, c->limit_max);
    if (c->aimd_latency_ns <= 0)
      return invalid(e, "admit.aimd_latency_ns: must be > 0, got %lld",
                     (long long)c->aimd_latency_ns);
    if (!(c->aimd_backoff >= 0.5 && c->aimd_backoff < 1.0))
      return invalid(e, "admit.aimd_backoff: must be in [0.5, 1), got %g",
                     c->aimd_backoff);
  }
  return REIN_OK;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                */
/* ------------------------------------------------------------------------ */


/* The config as kept: names copied into the object, no pointer to the
 * caller's memory. Called at creation and, for a shared admit, under mu on
 * reconfiguration. */
static void set_cfg(rein_admit *a, const rein_admit_config *c) {
  a->cfg = *c;
  a->cfg.err = NULL;
  a->cfg.alloc = NULL;
  a->rl_T = 0;
  memset(a->policy, 0, sizeof a->policy);
  if (c->rl_quota > 0) {
    snprintf(a->policy, sizeof a->policy, "%s", c->rl_policy);
    a->rl_T = c->rl_window_ns / (int64_t)c->rl_quota;
    if (a->rl_T < 1) a->rl_T = 1;
  }
  snprintf(a->name, sizeof a->name, "%s", c->name);
  if (a->shared) {
    /* Nothing that means something in one process only. */
    a->cfg.rl_policy = NULL;
    a->cfg.name = NULL;
    memset(&a->cfg.clock, 0, sizeof a->cfg.clock);
    a->cfg.notify = NULL;
    a->cfg.notify_ctx = NULL;
    a->real_clock = true;
  } else {
    a->cfg.rl_policy = a->policy;
    a->cfg.name = a->name;
    a->real_clock =
        !c->clock.now_ns || c->clock.now_ns == rein_clock_monotonic().now_ns;
  }
}

static void init_state(rein_admit *a, const rein_admit_config *c) {
  atomic_init(&a->slots, 0);
  atomic_init(&a->limit, c->limit);
  atomic_init(&a->queue_len, 0);
  atomic_init(&a->overloaded, false);
  atomic_init(&a->win_start, NONE);
  atomic_init(&a->moved_ns, NONE);
  atomic_init(&a->tat, NONE);
  atomic_init(&a->queued, 0);
  atomic_init(&a->cancelled, 0);
  for (int i = 0; i < REIN_ADMIT_R_COUNT_; i++)
    atomic_init(&a->rejected[i], 0);
  a->above_since = NONE;
  a->below_at = NONE;
}

rein_status rein_admit_new(const rein_admit_config *c, rein_admit **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  if (!c) return REIN_EINVAL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;

  void *raw = rein_alloc(c->alloc, sizeof(rein_admit) + CACHELINE);
  if (!raw) {
    if (c->err)
      snprintf(c->err->msg, sizeof c->err->msg, "admit: out of memory");
    return REIN_ENOMEM;
  }
  uintptr_t p = ((uintptr_t)raw + CACHELINE - 1) & ~(uintptr_t)(CACHELINE - 1);
  rein_admit *a = (rein_admit *)p;
  memset(a, 0, sizeof *a);
  a->raw = raw;
  if (c->alloc) {
    a->alloc = *c->alloc;
    a->have_alloc = true;
  }
  if (pthread_mutex_init(&a->mu, NULL) != 0) {
    rein_free(c->alloc, raw);
    return REIN_ENOMEM;
  }
  set_cfg(a, c);
  init_state(a, c);
  *out = a;
  return REIN_OK;
}

void rein_admit_free(rein_admit *a) {
  if (!a || a->shared) return; /* a shared block is its caller's */
  pthread_mutex_destroy(&a->mu);
  rein_allocator al = a->alloc;
  bool have = a->have_alloc;
  rein_free(have ? &al : NULL, a->raw);
}

/* ------------------------------------------------------------------------ */
/* Shared mode: layout                                                      */
/* ------------------------------------------------------------------------ */

/* The block: this header at its start, then (at the next cache line) the
 * rein_admit, then the node table. Offsets only, so any process may map the
 * block anywhere. */
#define SHARED_MAGIC UINT64_C(0x7265696e61646d31) /* "reinadm1" */
#define SHARED_VERSION 1
/* Nodes beyond limit + queue_max: tickets being decided at the moment (a
 * rejection holds a node only inside one call). */
#define SHARED_SLACK 64

typedef struct shared_hdr {
  uint64_t magic;
  uint32_t version;
  uint32_t core_off; /* from the block's start to the rein_admit */
  uint64_t size;     /* bytes of the block in use */
  uint64_t struct_size; /* sizeof(rein_admit): catches a mismatched build */
} shared_hdr;

/* One ticket in the shared table. `tk` is what the queues link and the
 * algorithm works on; the caller's own ticket is a proxy that names the
 * node (index + 1 in prev_, generation in next_) and gets a copy of its
 * outcome. */
typedef struct snode {
  rein_admit_ticket tk;
  uint64_t gen;       /* generation of this allocation */
  int32_t owner;      /* process id; 0 = free */
  uint32_t next_free; /* index + 1; 0 = end */
} snode;

static uint32_t nodes_for(const rein_admit_config *c) {
  uint64_t lim = c->adaptive && c->limit_max > c->limit ? c->limit_max
                                                        : c->limit;
  return (uint32_t)(lim + c->queue_max + SHARED_SLACK);
}

static size_t core_off_for(void) {
  return (sizeof(shared_hdr) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
}

static size_t table_off_for(void) {
  return (sizeof(rein_admit) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
}

size_t rein_admit_shared_size(const rein_admit_config *c) {
  if (!c || c->limit > MAX_COUNT || c->queue_max > MAX_COUNT ||
      (c->adaptive && c->limit_max > MAX_COUNT))
    return 0;
  /* + CACHELINE: the block itself need not be aligned. */
  return CACHELINE + core_off_for() + table_off_for() +
         (size_t)nodes_for(c) * sizeof(snode);
}

static snode *table_of(const rein_admit *a) {
  return (snode *)((char *)a + a->node_off);
}

static snode *node_alloc(rein_admit *a, int32_t pid) {
  if (!a->free_head) return NULL;
  uint32_t i = a->free_head - 1;
  snode *n = &table_of(a)[i];
  a->free_head = n->next_free;
  memset(&n->tk, 0, sizeof n->tk);
  n->next_free = 0;
  n->owner = pid;
  n->gen = ++a->gen;
  a->nodes_used++;
  return n;
}

static void node_free(rein_admit *a, snode *n) {
  uint32_t i = (uint32_t)(n - table_of(a));
  n->owner = 0;
  n->gen = 0;
  memset(&n->tk, 0, sizeof n->tk);
  n->next_free = a->free_head;
  a->free_head = i + 1;
  a->nodes_used--;
}

/* The node a proxy ticket names, or NULL when it was taken back (its
 * process was thought dead) or the proxy names none. */
static snode *node_of(const rein_admit *a, const rein_admit_ticket *t) {
  uintptr_t i = (uintptr_t)t->prev_;
  if (i == 0 || i > a->nodes) return NULL;
  snode *n = &table_of(a)[i - 1];
  if (n->owner == 0 || n->gen != (uint64_t)(uintptr_t)t->next_) return NULL;
  return n;
}

static void link_proxy(const rein_admit *a, rein_admit_ticket *t,
                       const snode *n) {
  t->prev_ = (rein_admit_ticket *)(uintptr_t)(n - table_of(a) + 1);
  t->next_ = (rein_admit_ticket *)(uintptr_t)n->gen;
}

/* The node's outcome into the proxy (not the links, not `user`). */
static void copy_back(rein_admit_ticket *t, const rein_admit_ticket *k) {
  t->enq_ns_ = k->enq_ns_;
  t->start_ns_ = k->start_ns_;
  t->waited_ns_ = k->waited_ns_;
  t->retry_after_ns_ = k->retry_after_ns_;
  t->rl_remaining_ = k->rl_remaining_;
  t->rl_reset_ns_ = k->rl_reset_ns_;
  t->attempt_ = k->attempt_;
  t->reason_ = k->reason_;
  t->overloaded_ = k->overloaded_;
  t->dont_retry_ = k->dont_retry_;
  __atomic_store_n(&t->state_, __atomic_load_n(&k->state_, __ATOMIC_ACQUIRE),
                   __ATOMIC_RELEASE);
}

rein_status rein_admit_new_shared(const rein_admit_config *c, void *mem,
                                  size_t size, rein_admit **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  if (!c || !mem) return REIN_EINVAL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  if (c->notify)
    return invalid(c->err, "admit.notify: must be NULL for a shared admit "
                           "(another process cannot call it); poll tickets");
  size_t need = rein_admit_shared_size(c);
  if (size < need)
    return invalid(c->err,
                   "admit: a shared block of %zu bytes is too small for "
                   "limit %u + queue_max %u; rein_admit_shared_size says %zu",
                   size, c->adaptive ? c->limit_max : c->limit, c->queue_max,
                   need);
  uintptr_t base = ((uintptr_t)mem + CACHELINE - 1) &
                   ~(uintptr_t)(CACHELINE - 1);
  size_t lead = (size_t)(base - (uintptr_t)mem);
  size_t usable = size - lead;
  memset(mem, 0, size);
  shared_hdr *h = (shared_hdr *)base;
  rein_admit *a = (rein_admit *)(base + core_off_for());
  a->shared = true;
  a->node_off = (uint32_t)table_off_for();
  size_t room = usable - core_off_for() - table_off_for();
  size_t n = room / sizeof(snode);
  if (n > UINT32_MAX - 1) n = UINT32_MAX - 1;
  a->nodes = (uint32_t)n;

  pthread_mutexattr_t ma;
  if (pthread_mutexattr_init(&ma) != 0) return REIN_ENOMEM;
  int rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  if (rc == 0) rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  if (rc == 0) rc = pthread_mutex_init(&a->mu, &ma);
  pthread_mutexattr_destroy(&ma);
  if (rc != 0)
    return invalid(c->err, "admit: no process-shared robust mutex here: %s",
                   strerror(rc));
  set_cfg(a, c);
  init_state(a, c);
  snode *tab = table_of(a);
  for (uint32_t i = a->nodes; i-- > 0;) {
    tab[i].next_free = a->free_head;
    a->free_head = i + 1;
  }
  h->version = SHARED_VERSION;
  h->core_off = (uint32_t)core_off_for();
  h->size = usable;
  h->struct_size = sizeof(rein_admit);
  __atomic_store_n(&h->magic, SHARED_MAGIC, __ATOMIC_RELEASE);
  *out = a;
  return REIN_OK;
}

rein_status rein_admit_attach_shared(void *mem, size_t size,
                                     rein_admit **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  if (!mem) return REIN_EINVAL;
  uintptr_t base = ((uintptr_t)mem + CACHELINE - 1) &
                   ~(uintptr_t)(CACHELINE - 1);
  if (size < (base - (uintptr_t)mem) + core_off_for() + sizeof(rein_admit))
    return REIN_EINVAL;
  const shared_hdr *h = (const shared_hdr *)base;
  if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != SHARED_MAGIC ||
      h->version != SHARED_VERSION || h->struct_size != sizeof(rein_admit) ||
      h->size > size - (base - (uintptr_t)mem))
    return REIN_EINVAL;
  *out = (rein_admit *)(base + h->core_off);
  return REIN_OK;
}

/* Insert a queued node by age (the queue is in enqueue order). Repair only:
 * nodes come mostly in order, so scanning from the tail is short. */
static void q_insert_sorted(rein_admit *a, tqueue *q, rein_admit_ticket *t) {
  rein_admit_ticket *p = tk_at(a, q->tail);
  while (p && p->enq_ns_ > t->enq_ns_)
    p = tk_at(a, tk_prev(p));
  tref r = tk_ref(a, t);
  if (!p) { /* new head */
    set_prev(t, 0);
    set_next(t, q->head);
    if (q->head)
      set_prev(tk_at(a, q->head), r);
    else
      q->tail = r;
    q->head = r;
    return;
  }
  tref pn = tk_next(p);
  set_prev(t, tk_ref(a, p));
  set_next(t, pn);
  set_next(p, r);
  if (pn)
    set_prev(tk_at(a, pn), r);
  else
    q->tail = r;
}

/* Give one node back: its slot or its place in the queue (by a process
 * that is gone). Counted as a release (the slot) or a cancel (the queue).
 * Not for repair, where the lists are being rebuilt. */
static void reclaim_node(rein_admit *a, snode *n) {
  int s = __atomic_load_n(&n->tk.state_, __ATOMIC_ACQUIRE);
  if (s == ST_QUEUED) {
    q_unlink(a, n->tk.attempt_ > 1 ? &a->retry : &a->first, &n->tk);
    atomic_fetch_sub(&a->queue_len, 1);
    atomic_fetch_add_explicit(&a->cancelled, 1, memory_order_relaxed);
  } else if (s == ST_ADMITTED) {
    atomic_fetch_add(&a->slots, (UINT64_C(1) << 32) - 1);
  }
  a->reclaimed++;
  node_free(a, n);
}

/* A process died holding mu, anywhere in a change: rebuild the queues, the
 * free list and the counts from the node states (each written last in its
 * change, so a half-done change shows as not done), and take back the
 * nodes of the dead holder. Called with mu held, before
 * pthread_mutex_consistent. */
static void shared_repair(rein_admit *a) {
  if (!a->shared) return;
  int32_t dead = a->holder; /* set after locking, cleared before unlocking */
  /* A thread of this very process died in the lock: its tickets cannot be
   * told from its siblings'; rebuild only. */
  if (dead == (int32_t)getpid()) dead = 0;
  snode *tab = table_of(a);
  a->first.head = a->first.tail = a->retry.head = a->retry.tail = 0;
  a->free_head = 0;
  a->nodes_used = 0;
  uint32_t qlen = 0, inflight = 0, gone = 0;
  for (uint32_t i = a->nodes; i-- > 0;) {
    snode *n = &tab[i];
    int s = __atomic_load_n(&n->tk.state_, __ATOMIC_ACQUIRE);
    if (n->owner != 0 && dead != 0 && n->owner == dead) {
      if (s == ST_QUEUED)
        atomic_fetch_add_explicit(&a->cancelled, 1, memory_order_relaxed);
      a->reclaimed++;
      gone++;
      n->owner = 0;
    }
    if (n->owner == 0) {
      memset(&n->tk, 0, sizeof n->tk);
      n->gen = 0;
      n->next_free = a->free_head;
      a->free_head = i + 1;
      continue;
    }
    a->nodes_used++;
    if (s == ST_ADMITTED) {
      inflight++;
    } else if (s == ST_QUEUED) {
      q_insert_sorted(a, n->tk.attempt_ > 1 ? &a->retry : &a->first, &n->tk);
      qlen++;
    }
  }
  /* Slots given back count as releases, so admitted = released + inflight
   * stays monotonic. */
  uint64_t sl = atomic_load(&a->slots);
  uint32_t old_in = (uint32_t)sl, hi = (uint32_t)(sl >> 32);
  if (old_in > inflight) hi += old_in - inflight;
  atomic_store(&a->slots, ((uint64_t)hi << 32) | inflight);
  atomic_store(&a->queue_len, qlen);
  a->above_since = NONE;
  a->below_at = NONE;
  a->repairs++;
  a->holder = 0;
  (void)gone;
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static int tstate(const rein_admit_ticket *t) {
  return __atomic_load_n(&t->state_, __ATOMIC_ACQUIRE);
}

static void set_tstate(rein_admit_ticket *t, int s) {
  __atomic_store_n(&t->state_, s, __ATOMIC_RELEASE);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static int64_t ceil_s(int64_t ns) {
  if (ns <= 0) return 0;
  return (ns + REIN_NS_PER_S - 1) / REIN_NS_PER_S;
}

static void count_reject(rein_admit *a, rein_admit_reason r) {
  atomic_fetch_add_explicit(&a->rejected[r], 1, memory_order_relaxed);
}

#define REL_ONE (UINT64_C(1) << 32)

static uint32_t inflight_of(uint64_t slots) {
  return (uint32_t)slots;
}

static void moved(rein_admit *a, int64_t now) {
  atomic_store_explicit(&a->moved_ns, now, memory_order_relaxed);
}

static bool take_slot(rein_admit *a, int64_t now) {
  uint64_t cur = atomic_load(&a->slots);
  uint32_t lim = atomic_load_explicit(&a->limit, memory_order_relaxed);
  while (inflight_of(cur) < lim) {
    if (atomic_compare_exchange_weak(&a->slots, &cur, cur + 1)) {
      moved(a, now);
      return true;
    }
  }
  return false;
}

/* Fold the releases counted in `slots` into the 64-bit total. Called with
 * mu held, at least once per drain-rate window while requests complete
 * (rate_window_ns <= 60 s, so fewer than 2^32 releases happen between two
 * calls unless a server completes 70 million requests a second). */
static uint64_t released_locked(rein_admit *a) {
  uint32_t hi =
      (uint32_t)(atomic_load_explicit(&a->slots, memory_order_relaxed) >> 32);
  a->released += (uint32_t)(hi - a->rel_seen);
  a->rel_seen = hi;
  return a->released;
}

/* The drain-rate window: completions in [win_start, now] / its length.
 * Called with mu held. */
static void roll_locked(rein_admit *a, int64_t now) {
  int64_t ws = atomic_load_explicit(&a->win_start, memory_order_relaxed);
  uint64_t rel = released_locked(a);
  if (ws == NONE) {
    a->win_count = rel;
    atomic_store_explicit(&a->win_start, now, memory_order_relaxed);
    return;
  }
  if (now - ws < a->cfg.rate_window_ns) return;
  if (now - ws >= 2 * a->cfg.rate_window_ns) {
    /* Nobody called for more than a window: an idle spell, whose few
     * completions say there was no demand, not that the server drains
     * slowly. Keep the last rate; start a new window. */
    a->win_count = rel;
    atomic_store_explicit(&a->win_start, now, memory_order_relaxed);
    return;
  }
  a->rate = (double)(rel - a->win_count) * 1e9 / (double)(now - ws);
  a->have_rate = true;
  a->win_count = rel;
  atomic_store_explicit(&a->win_start, now, memory_order_relaxed);
}

__attribute__((noinline)) static void roll_try(rein_admit *a, int64_t now) {
  if (trylock(a)) {
    roll_locked(a, now);
    unlock(a);
  }
}

/* Fast-path check: roll only when a window is due, and never wait for it. */
static inline void maybe_roll(rein_admit *a, int64_t now) {
  int64_t ws = atomic_load_explicit(&a->win_start, memory_order_relaxed);
  if (ws != NONE && now - ws < a->cfg.rate_window_ns) return;
  roll_try(a, now);
}

static double rate_locked(rein_admit *a, int64_t now) {
  if (a->have_rate) return a->rate;
  int64_t ws = atomic_load_explicit(&a->win_start, memory_order_relaxed);
  uint64_t rel = released_locked(a);
  if (ws == NONE || now <= ws || rel == a->win_count) return 0;
  return (double)(rel - a->win_count) * 1e9 / (double)(now - ws);
}

/*
 * The time until a request shed now would find a slot: the requests
 * waiting ahead of it and itself (queue length + 1) at the drain rate,
 * clamped. The rate is the last complete window's, bounded by what the
 * slots show now: while requests hold slots and none has been taken or
 * given back for `gap`, the server completes at most one request per
 * `gap` (an upstream that hangs drains nothing, whatever the window before
 * the hang measured). A measured rate of 0 gives retry_after_max_ns;
 * before anything has completed (a cold start) the rate is unknown and
 * only that bound applies: the minimum while the slots move, growing with
 * a hang. Called with mu held.
 */
static int64_t drain_time_locked(rein_admit *a, int64_t now) {
  const rein_admit_config *c = &a->cfg;
  uint32_t q = atomic_load_explicit(&a->queue_len, memory_order_relaxed);
  double rate = rate_locked(a, now);
  /* No completion measured yet (a cold start): the rate is unknown, not
   * zero; only the slots' bound below says anything about it. */
  bool unknown = !a->have_rate && !(rate > 0);
  if (unknown) rate = INFINITY;
  uint32_t inflight =
      inflight_of(atomic_load_explicit(&a->slots, memory_order_relaxed));
  int64_t mv = atomic_load_explicit(&a->moved_ns, memory_order_relaxed);
  if (inflight > 0 && mv != NONE && now > mv) {
    double bound = 1e9 / (double)(now - mv);
    if (bound < rate) rate = bound;
  }
  if (isinf(rate)) return c->retry_after_min_ns;
  if (!(rate > 0)) return c->retry_after_max_ns;
  double ra = ((double)q + 1) * 1e9 / rate;
  if (ra >= (double)c->retry_after_max_ns) return c->retry_after_max_ns;
  return clamp64((int64_t)ra, c->retry_after_min_ns, c->retry_after_max_ns);
}

/* Retry-After of an overload rejection: the drain time, spread round-robin
 * over whole seconds when configured. Called with mu held. */
static int64_t retry_after_locked(rein_admit *a, int64_t now) {
  const rein_admit_config *c = &a->cfg;
  int64_t ra = drain_time_locked(a, now);
  if (!(c->retry_after_spread > 0)) return ra;
  int64_t base = ceil_s(ra);
  int64_t width = (int64_t)ceil((double)base * c->retry_after_spread);
  int64_t k = (int64_t)(a->spread_seq++ % (uint64_t)(width + 1));
  int64_t max = c->retry_after_max_ns;
  if (base + k > max / REIN_NS_PER_S) return max;
  return (base + k) * REIN_NS_PER_S;
}

/* Whether a rejection carries "Rein-Dont-Retry: ?1". A rate limit is not
 * overload: the client may come back after Retry-After. */
static bool dont_retry_for(const rein_admit *a, rein_admit_reason r,
                           uint32_t attempt, bool overloaded) {
  if (r == REIN_ADMIT_R_RATE_LIMITED || r == REIN_ADMIT_R_NONE) return false;
  switch (a->cfg.dont_retry) {
  case REIN_ADMIT_DONT_RETRY_NEVER:
    return false;
  case REIN_ADMIT_DONT_RETRY_RETRIES:
    return attempt > 1;
  case REIN_ADMIT_DONT_RETRY_OVERLOADED:
    return overloaded || attempt > 1;
  }
  return false;
}

typedef struct waiter {
  pthread_cond_t cv;
} waiter;

/* Tell the owner of `t` that its state changed (not the caller's own). */
static void wake(rein_admit *a, rein_admit_ticket *t,
                 const rein_admit_ticket *self) {
  if (t == self) return;
  if (t->waiter_)
    pthread_cond_signal(&((waiter *)t->waiter_)->cv);
  else if (a->cfg.notify)
    a->cfg.notify(a->cfg.notify_ctx, t);
}

/* Settle a ticket as rejected. The state is stored last, after the owner
 * was woken: once it sees a final state, the owner may reuse or drop the
 * ticket, so nobody else may touch it after that store. */
static void reject(rein_admit *a, rein_admit_ticket *t, rein_admit_reason r,
                   int64_t now, int64_t retry_after, bool was_queued,
                   const rein_admit_ticket *self) {
  bool ov = atomic_load_explicit(&a->overloaded, memory_order_relaxed);
  t->reason_ = r;
  t->retry_after_ns_ = retry_after;
  t->overloaded_ = ov;
  t->dont_retry_ = dont_retry_for(a, r, t->attempt_, ov);
  t->waited_ns_ = was_queued && now > t->enq_ns_ ? now - t->enq_ns_ : 0;
  count_reject(a, r);
  wake(a, t, self);
  set_tstate(t, ST_REJECTED);
}

static void fill(const rein_admit *a, const rein_admit_ticket *t,
                 rein_admit_decision *d) {
  if (!d) return;
  int s = tstate(t);
  d->result = result_of(s);
  d->reason = (rein_admit_reason)t->reason_;
  d->attempt = t->attempt_;
  d->overloaded = t->overloaded_;
  d->dont_retry = t->dont_retry_;
  d->retry_after_ns =
      d->result == REIN_ADMIT_REJECTED ? t->retry_after_ns_ : -1;
  d->waited_ns = t->waited_ns_;
  d->queue_len = atomic_load_explicit(&a->queue_len, memory_order_relaxed);
  d->rl_quota = a->cfg.rl_quota;
  d->rl_policy = a->cfg.rl_quota ? a->policy : NULL;
  d->rl_window_s = a->cfg.rl_quota ? a->cfg.rl_window_ns / REIN_NS_PER_S : 0;
  d->rl_remaining = t->rl_remaining_;
  d->rl_reset_s = t->reason_ == REIN_ADMIT_R_RATE_LIMITED
                      ? ceil_s(t->retry_after_ns_)
                      : ceil_s(t->rl_reset_ns_);
}

/* ------------------------------------------------------------------------ */
/* Queue                                                                    */
/* ------------------------------------------------------------------------ */

static tqueue *q_of(rein_admit *a, const rein_admit_ticket *t) {
  return t->attempt_ > 1 ? &a->retry : &a->first;
}

static void unqueue(rein_admit *a, rein_admit_ticket *t) {
  q_unlink(a, q_of(a, t), t);
  atomic_fetch_sub(&a->queue_len, 1);
}

static void set_overloaded(rein_admit *a, bool v) {
  atomic_store_explicit(&a->overloaded, v, memory_order_relaxed);
}

/* The standing-queue detector: after every locked change. */
static void detect(rein_admit *a, int64_t now) {
  const rein_admit_config *c = &a->cfg;
  int64_t oldest = NONE;
  const rein_admit_ticket *f = tk_at(a, a->first.head);
  const rein_admit_ticket *r = tk_at(a, a->retry.head);
  if (f) oldest = f->enq_ns_;
  if (r && (oldest == NONE || r->enq_ns_ < oldest)) oldest = r->enq_ns_;
  if (oldest == NONE || now - oldest <= c->target_ns) {
    a->above_since = NONE;
    a->below_at = now;
    return;
  }
  if (a->above_since == NONE) {
    int64_t crossed = oldest + c->target_ns;
    a->above_since =
        a->below_at != NONE && a->below_at > crossed ? a->below_at : crossed;
  }
  if (!atomic_load_explicit(&a->overloaded, memory_order_relaxed) &&
      now - a->above_since >= c->interval_ns)
    set_overloaded(a, true);
}

static int64_t queue_timeout(const rein_admit *a) {
  return atomic_load_explicit(&a->overloaded, memory_order_relaxed)
             ? a->cfg.target_ns
             : a->cfg.max_wait_ns;
}

/* Shed queued requests that waited past their timeout. */
static bool reap(rein_admit *a, int64_t now, const rein_admit_ticket *self) {
  bool any = false;
  tqueue *qs[2] = {&a->first, &a->retry};
  for (int i = 0; i < 2; i++) {
    for (;;) {
      rein_admit_ticket *t = tk_at(a, qs[i]->head);
      if (!t || now - t->enq_ns_ <= queue_timeout(a)) break;
      unqueue(a, t);
      reject(a, t, REIN_ADMIT_R_QUEUE_TIMEOUT, now, retry_after_locked(a, now),
             true, self);
      any = true;
    }
  }
  return any;
}

/* Hand free slots to queued requests: first attempts before retries; LIFO
 * while overloaded (when configured), FIFO otherwise. */
static void dispatch(rein_admit *a, int64_t now,
                     const rein_admit_ticket *self) {
  while (atomic_load_explicit(&a->queue_len, memory_order_relaxed) > 0) {
    if (!take_slot(a, now)) break;
    bool lifo = a->cfg.lifo_when_overloaded &&
                atomic_load_explicit(&a->overloaded, memory_order_relaxed);
    tqueue *q = a->first.head ? &a->first : &a->retry;
    rein_admit_ticket *t = tk_at(a, lifo ? q->tail : q->head);
    unqueue(a, t);
    t->waited_ns_ = now > t->enq_ns_ ? now - t->enq_ns_ : 0;
    t->start_ns_ = now;
    t->overloaded_ = atomic_load_explicit(&a->overloaded, memory_order_relaxed);
    /* The queue drained by service: the overload is over. */
    if (atomic_load_explicit(&a->queue_len, memory_order_relaxed) == 0)
      set_overloaded(a, false);
    wake(a, t, self);
    set_tstate(t, ST_ADMITTED); /* last: see reject() */
  }
}

/* Bring the queue up to date at `now`: detect, shed the expired, hand out
 * free slots, detect again. Called with mu held after every change. */
static void settle(rein_admit *a, int64_t now, const rein_admit_ticket *self) {
  /* Until stable: entering overload shortens the timeouts, so reap again.
   * Terminates: each round sheds someone or flips the state, and the state
   * can only flip on (non-empty queue) and then off (queue emptied). */
  for (;;) {
    detect(a, now);
    bool ov = atomic_load_explicit(&a->overloaded, memory_order_relaxed);
    bool reaped = reap(a, now, self);
    dispatch(a, now, self);
    detect(a, now);
    if (!reaped &&
        atomic_load_explicit(&a->overloaded, memory_order_relaxed) == ov)
      break;
  }
}

/* ------------------------------------------------------------------------ */
/* Rate limit (GCRA)                                                        */
/* ------------------------------------------------------------------------ */

/* Take one unit at `now`. On success *remaining is what is left and *reset
 * the time until the bucket is full again (or, when nothing is left, until
 * the next unit); on failure *wait is the time until one unit is available.
 * Lock-free. */
static bool rl_take(rein_admit *a, int64_t now, int64_t *remaining,
                    int64_t *reset, int64_t *wait) {
  const int64_t T = a->rl_T, W = a->cfg.rl_window_ns;
  int64_t tat = atomic_load_explicit(&a->tat, memory_order_relaxed);
  for (;;) {
    int64_t base = tat == NONE || tat < now ? now : tat;
    int64_t ntat = base + T;
    if (ntat - now > W) {
      *wait = ntat - W - now;
      *remaining = 0;
      *reset = base - now;
      return false;
    }
    if (atomic_compare_exchange_weak_explicit(
            &a->tat, &tat, ntat, memory_order_relaxed, memory_order_relaxed)) {
      *remaining = (W - (ntat - now)) / T;
      /* Time until the bucket is full again; with nothing left, the time
       * until the next unit (what a client must wait: a client floors its
       * next attempt on t when r = 0). */
      *reset = *remaining > 0 ? ntat - now : ntat + T - W - now;
      return true;
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Decisions                                                                */
/* ------------------------------------------------------------------------ */

/* The decision for a ticket that missed the fast path. Called with mu
 * held; the caller fills the decision. */
static rein_admit_result try_locked(rein_admit *a, rein_admit_ticket *t,
                                    int64_t now) {
  const rein_admit_config *c = &a->cfg;
  roll_locked(a, now);
  settle(a, now, t);
  uint32_t qlen = atomic_load_explicit(&a->queue_len, memory_order_relaxed);
  if (qlen == 0 && take_slot(a, now)) {
    /* A free slot and nobody waiting: whatever the detector said, the
     * server is keeping up right now. */
    set_overloaded(a, false);
    t->start_ns_ = now;
    set_tstate(t, ST_ADMITTED);
    return REIN_ADMIT_ADMITTED;
  }
  bool retry = t->attempt_ > 1;
  bool ov = atomic_load_explicit(&a->overloaded, memory_order_relaxed);
  if (retry && (ov || qlen >= c->retry_queue_max)) {
    reject(a, t, REIN_ADMIT_R_RETRY_SHED, now, retry_after_locked(a, now),
           false, t);
  } else if (qlen >= c->queue_max) {
    rein_admit_ticket *victim = retry ? NULL : tk_at(a, a->retry.tail);
    if (victim) {
      unqueue(a, victim);
      reject(a, victim, REIN_ADMIT_R_DISPLACED, now, retry_after_locked(a, now),
             true, t);
    } else {
      reject(a, t, REIN_ADMIT_R_QUEUE_FULL, now, retry_after_locked(a, now),
             false, t);
    }
  }
  if (tstate(t) != ST_REJECTED) {
    t->enq_ns_ = now;
    t->overloaded_ = ov;
    q_push(a, q_of(a, t), t);
    set_tstate(t, ST_QUEUED);
    atomic_fetch_add_explicit(&a->queued, 1, memory_order_relaxed);
    atomic_fetch_add(&a->queue_len, 1); /* seq_cst: see the file comment */
    settle(a, now, t);
  }
  return result_of(tstate(t));
}

static rein_admit_result try_slow(rein_admit *a, rein_admit_ticket *t,
                                  int64_t now, rein_admit_decision *d) {
  lock(a);
  rein_admit_result r = try_locked(a, t, now);
  fill(a, t, d);
  unlock(a);
  return r;
}

/* ------------------------------------------------------------------------ */
/* Shared mode: the calls on a proxy ticket                                 */
/* ------------------------------------------------------------------------ */

/* Every call takes mu (no lock-free fast path: every slot holder must be a
 * node, or a crash could not be accounted for). The caller's ticket is a
 * proxy for a node of the table, which exists while the ticket is ADMITTED
 * or QUEUED (and, after a rejection while queued, until the owner polls). */

static rein_admit_result shared_try(rein_admit *a, rein_admit_ticket *t,
                                    int64_t now, rein_admit_decision *d) {
  lock(a);
  snode *n = node_alloc(a, (int32_t)getpid());
  if (!n) {
    /* More tickets being decided than the table holds: as a full queue. */
    roll_locked(a, now);
    settle(a, now, NULL);
    reject(a, t, REIN_ADMIT_R_QUEUE_FULL, now, retry_after_locked(a, now),
           false, t);
    fill(a, t, d);
    unlock(a);
    return REIN_ADMIT_REJECTED;
  }
  rein_admit_ticket *k = &n->tk;
  *k = *t;
  k->user = NULL;
  k->prev_ = k->next_ = NULL;
  k->waiter_ = NULL;
  k->state_ = ST_NONE;
  rein_admit_result r;
  /* The private fast path's decision, in the same order. */
  if (atomic_load(&a->queue_len) == 0 &&
      !atomic_load_explicit(&a->overloaded, memory_order_relaxed) &&
      take_slot(a, now)) {
    set_tstate(k, ST_ADMITTED);
    r = REIN_ADMIT_ADMITTED;
  } else {
    r = try_locked(a, k, now);
  }
  link_proxy(a, t, n);
  copy_back(t, k);
  if (r == REIN_ADMIT_REJECTED) node_free(a, n);
  fill(a, t, d);
  unlock(a);
  return r;
}

static rein_admit_result shared_poll(rein_admit *a, rein_admit_ticket *t,
                                     int64_t now, rein_admit_decision *d) {
  if (tstate(t) != ST_QUEUED) {
    fill(a, t, d);
    return result_of(tstate(t));
  }
  lock(a);
  snode *n = node_of(a, t);
  /* Settled meanwhile (granted or shed during someone else's call): the
   * private poll reads such a ticket without the lock, and changes
   * nothing; so does this one. */
  if (n && tstate(&n->tk) != ST_QUEUED) {
    copy_back(t, &n->tk);
    if (tstate(t) == ST_REJECTED) node_free(a, n);
    fill(a, t, d);
    unlock(a);
    return result_of(tstate(t));
  }
  roll_locked(a, now);
  if (!n) {
    /* Taken back (this process was thought dead): shed it. */
    t->reason_ = REIN_ADMIT_R_QUEUE_TIMEOUT;
    t->retry_after_ns_ = retry_after_locked(a, now);
    t->waited_ns_ = now > t->enq_ns_ ? now - t->enq_ns_ : 0;
    set_tstate(t, ST_REJECTED);
  } else {
    settle(a, now, &n->tk);
    copy_back(t, &n->tk);
    if (tstate(t) == ST_REJECTED) node_free(a, n);
  }
  fill(a, t, d);
  unlock(a);
  return result_of(tstate(t));
}

static void aimd(rein_admit *a, int64_t latency, uint32_t inflight);

static rein_status shared_release(rein_admit *a, rein_admit_ticket *t,
                                  int64_t now, int64_t latency_ns) {
  if (tstate(t) != ST_ADMITTED) return REIN_ESTATE;
  set_tstate(t, ST_RELEASED);
  lock(a);
  snode *n = node_of(a, t);
  if (!n || tstate(&n->tk) != ST_ADMITTED) {
    unlock(a);
    return REIN_ESTATE; /* taken back meanwhile: the slot was returned */
  }
  if (a->cfg.adaptive) {
    if (latency_ns < 0) latency_ns = now - n->tk.start_ns_;
    aimd(a, latency_ns,
         inflight_of(atomic_load_explicit(&a->slots, memory_order_relaxed)));
  }
  atomic_fetch_add(&a->slots, REL_ONE - 1);
  moved(a, now);
  node_free(a, n);
  roll_locked(a, now);
  if (atomic_load(&a->queue_len) > 0) settle(a, now, NULL); /* as private */
  unlock(a);
  return REIN_OK;
}

static void shared_cancel(rein_admit *a, rein_admit_ticket *t, int64_t now) {
  int s = tstate(t);
  if (s != ST_QUEUED && s != ST_ADMITTED) return;
  lock(a);
  snode *n = node_of(a, t);
  if (n) {
    int ns = tstate(&n->tk);
    /* The same steps as the private cancel. */
    if (ns == ST_QUEUED) {
      unqueue(a, &n->tk);
      atomic_fetch_add_explicit(&a->cancelled, 1, memory_order_relaxed);
      set_tstate(t, ST_CANCELLED);
      node_free(a, n);
      settle(a, now, NULL);
    } else if (ns == ST_ADMITTED) {
      atomic_fetch_add(&a->slots, REL_ONE - 1);
      moved(a, now);
      set_tstate(t, ST_RELEASED);
      node_free(a, n);
      roll_locked(a, now);
      if (atomic_load(&a->queue_len) > 0) settle(a, now, NULL);
    } else {
      copy_back(t, &n->tk); /* shed meanwhile */
      node_free(a, n);
    }
  } else {
    set_tstate(t, s == ST_QUEUED ? ST_CANCELLED : ST_RELEASED);
  }
  unlock(a);
}

/* Tests only (not in the header): take the lock and keep it, as a process
 * killed in the middle of a change would. `grab` > 0 first allocates that
 * many nodes for the caller and leaves them half made (state NONE). */
void rein__admit_test_hold_lock(rein_admit *a, int grab);

void rein__admit_test_hold_lock(rein_admit *a, int grab) {
  lock(a);
  for (int i = 0; i < grab && a->shared; i++)
    (void)node_alloc(a, (int32_t)getpid());
}

rein_status rein_admit_reclaim(rein_admit *a, int pid, int64_t now,
                               uint32_t *count) {
  if (count) *count = 0;
  if (!a || !a->shared || pid <= 0) return REIN_EINVAL;
  lock(a);
  uint32_t k = 0;
  snode *tab = table_of(a);
  for (uint32_t i = 0; i < a->nodes; i++) {
    if (tab[i].owner == pid) {
      reclaim_node(a, &tab[i]);
      k++;
    }
  }
  roll_locked(a, now);
  settle(a, now, NULL);
  unlock(a);
  if (count) *count = k;
  return REIN_OK;
}

/* Whether process `pid` is gone. kill(pid, 0) fails with ESRCH only for
 * a process that does not exist (EPERM: it exists, someone else's). A
 * zombie still counts as alive until its parent reaps it. */
static bool pid_gone(int32_t pid) {
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

rein_status rein_admit_reclaim_dead(rein_admit *a, int64_t now,
                                    uint32_t *count) {
  if (count) *count = 0;
  if (!a || !a->shared) return REIN_EINVAL;
  int32_t me = (int32_t)getpid();
  /* A few verdicts remembered, so one scan makes one syscall per owner
   * (when there are many owners, more). */
  enum { MEMO = 32 };
  int32_t seen[MEMO];
  bool gone[MEMO];
  int nseen = 0;
  lock(a);
  uint32_t k = 0;
  snode *tab = table_of(a);
  for (uint32_t i = 0; i < a->nodes; i++) {
    int32_t o = tab[i].owner;
    if (o == 0 || o == me) continue;
    int j = 0;
    while (j < nseen && seen[j] != o)
      j++;
    bool g;
    if (j < nseen) {
      g = gone[j];
    } else {
      g = pid_gone(o);
      if (nseen < MEMO) {
        seen[nseen] = o;
        gone[nseen++] = g;
      }
    }
    if (g) {
      reclaim_node(a, &tab[i]);
      k++;
    }
  }
  if (k) {
    roll_locked(a, now);
    settle(a, now, NULL);
  }
  unlock(a);
  if (count) *count = k;
  return REIN_OK;
}

rein_status rein_admit_shared_reconfigure(rein_admit *a,
                                          const rein_admit_config *c,
                                          int64_t now) {
  if (!a || !c) return REIN_EINVAL;
  if (!a->shared)
    return invalid(c->err, "admit: reconfigure needs a shared admit");
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  if (c->notify)
    return invalid(c->err, "admit.notify: must be NULL for a shared admit "
                           "(another process cannot call it); poll tickets");
  if (nodes_for(c) > a->nodes)
    return invalid(c->err,
                   "admit: the shared block holds %u tickets; limit %u + "
                   "queue_max %u + %u needs %u: make a new, larger block",
                   a->nodes, c->adaptive ? c->limit_max : c->limit,
                   c->queue_max, SHARED_SLACK, nodes_for(c));
  lock(a);
  set_cfg(a, c);
  if (c->rl_quota == 0) atomic_store(&a->tat, NONE);
  atomic_store(&a->limit, c->limit);
  roll_locked(a, now);
  settle(a, now, NULL);
  unlock(a);
  return REIN_OK;
}

rein_admit_result rein_admit_try(rein_admit *a, rein_admit_ticket *t,
                                 uint32_t attempt, int64_t now,
                                 rein_admit_decision *d) {
  t->prev_ = t->next_ = NULL;
  t->waiter_ = NULL;
  t->enq_ns_ = now;
  t->start_ns_ = now;
  t->waited_ns_ = 0;
  t->retry_after_ns_ = -1;
  t->rl_remaining_ = -1;
  t->rl_reset_ns_ = -1;
  t->attempt_ = attempt ? attempt : 1;
  t->reason_ = REIN_ADMIT_R_NONE;
  t->overloaded_ = false;
  t->dont_retry_ = false;
  t->state_ = ST_NONE;

  maybe_roll(a, now);
  if (a->cfg.rl_quota) {
    int64_t wait;
    if (!rl_take(a, now, &t->rl_remaining_, &t->rl_reset_ns_, &wait)) {
      reject(
          a, t, REIN_ADMIT_R_RATE_LIMITED, now,
          clamp64(wait, a->cfg.retry_after_min_ns, a->cfg.retry_after_max_ns),
          false, t);
      fill(a, t, d);
      return REIN_ADMIT_REJECTED;
    }
  }
  if (a->shared) return shared_try(a, t, now, d);
  /* Fast path: nobody waiting, not overloaded, a slot below the limit. */
  if (atomic_load(&a->queue_len) == 0 &&
      !atomic_load_explicit(&a->overloaded, memory_order_relaxed)) {
    uint64_t cur = atomic_load_explicit(&a->slots, memory_order_relaxed);
    uint32_t lim = atomic_load_explicit(&a->limit, memory_order_relaxed);
    while (inflight_of(cur) < lim) {
      if (atomic_compare_exchange_weak(&a->slots, &cur, cur + 1)) {
        moved(a, now);
        t->state_ = ST_ADMITTED;
        if (d) fill(a, t, d);
        return REIN_ADMIT_ADMITTED;
      }
    }
  }
  return try_slow(a, t, now, d);
}

rein_admit_result rein_admit_poll(rein_admit *a, rein_admit_ticket *t,
                                  int64_t now, rein_admit_decision *d) {
  if (a->shared) return shared_poll(a, t, now, d);
  int s = tstate(t);
  if (s == ST_QUEUED) {
    /* Others may still change a queued ticket: read it under the lock. */
    lock(a);
    roll_locked(a, now);
    settle(a, now, t);
    s = tstate(t);
    fill(a, t, d);
    unlock(a);
  } else {
    fill(a, t, d); /* settled: only its owner touches it now */
  }
  return result_of(s);
}

static void aimd(rein_admit *a, int64_t latency, uint32_t inflight) {
  const rein_admit_config *c = &a->cfg;
  uint32_t lim = atomic_load_explicit(&a->limit, memory_order_relaxed);
  uint32_t nl = lim;
  if (latency > c->aimd_latency_ns) {
    nl = (uint32_t)((double)lim * c->aimd_backoff);
    if (nl < c->limit_min) nl = c->limit_min;
  } else if ((uint64_t)inflight * 2 >= lim && lim < c->limit_max) {
    nl = lim + 1;
  }
  /* One attempt: losing the race to another sample is fine. */
  if (nl != lim)
    atomic_compare_exchange_strong_explicit(
        &a->limit, &lim, nl, memory_order_relaxed, memory_order_relaxed);
}

static void release_slot(rein_admit *a, int64_t now) {
  /* in-flight - 1, releases + 1; seq_cst: see the file comment */
  atomic_fetch_add(&a->slots, REL_ONE - 1);
  moved(a, now);
  if (atomic_load(&a->queue_len) > 0) {
    lock(a);
    roll_locked(a, now);
    settle(a, now, NULL);
    unlock(a);
  } else {
    maybe_roll(a, now);
  }
}

rein_status rein_admit_release(rein_admit *a, rein_admit_ticket *t, int64_t now,
                               int64_t latency_ns) {
  if (!a || !t || tstate(t) != ST_ADMITTED) return REIN_ESTATE;
  if (a->shared) return shared_release(a, t, now, latency_ns);
  __atomic_store_n(&t->state_, ST_RELEASED, __ATOMIC_RELAXED);
  if (a->cfg.adaptive) {
    if (latency_ns < 0) latency_ns = now - t->start_ns_;
    aimd(a, latency_ns,
         inflight_of(atomic_load_explicit(&a->slots, memory_order_relaxed)));
  }
  release_slot(a, now);
  return REIN_OK;
}

void rein_admit_cancel(rein_admit *a, rein_admit_ticket *t, int64_t now) {
  if (!a || !t) return;
  if (a->shared) {
    shared_cancel(a, t, now);
    return;
  }
  int s = tstate(t);
  if (s == ST_QUEUED) {
    lock(a);
    if (tstate(t) == ST_QUEUED) {
      unqueue(a, t);
      set_tstate(t, ST_CANCELLED);
      atomic_fetch_add_explicit(&a->cancelled, 1, memory_order_relaxed);
      settle(a, now, t);
      unlock(a);
      return;
    }
    unlock(a);
    s = tstate(t); /* granted or shed meanwhile */
  }
  if (s == ST_ADMITTED) {
    __atomic_store_n(&t->state_, ST_RELEASED, __ATOMIC_RELAXED);
    release_slot(a, now);
  }
}

/* ------------------------------------------------------------------------ */
/* Blocking convenience                                                     */
/* ------------------------------------------------------------------------ */

/* How long a blocked acquire sleeps at most before it looks at the clock
 * again. On the real clock it can sleep until its own timeout: grants and
 * sheds by other threads signal it. Any other clock (a manual one in tests)
 * may move without real time passing, so it looks often. */
#define WAIT_SLICE_REAL_NS (1000 * REIN_NS_PER_MS)
#define WAIT_SLICE_NS (10 * REIN_NS_PER_MS)

rein_admit_result rein_admit_acquire(rein_admit *a, rein_admit_ticket *t,
                                     uint32_t attempt, rein_admit_decision *d) {
  int64_t now = rein_clock_now(&a->cfg.clock);
  rein_admit_result r = rein_admit_try(a, t, attempt, now, d);
  if (r != REIN_ADMIT_QUEUED) return r;
  if (a->shared) {
    /* Another process cannot signal this one's condition variable: poll
     * every millisecond (or sooner, at the ticket's timeout). */
    while (r == REIN_ADMIT_QUEUED) {
      struct timespec ts = {0, (long)REIN_NS_PER_MS};
      nanosleep(&ts, NULL);
      r = rein_admit_poll(a, t, rein_clock_now(NULL), d);
    }
    return r;
  }

  waiter w;
  pthread_condattr_t ca;
  bool cv_ok = pthread_condattr_init(&ca) == 0;
  if (cv_ok) {
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&w.cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
  }
  lock(a);
  if (cv_ok) t->waiter_ = &w;
  while (tstate(t) == ST_QUEUED) {
    /* Sleep until the ticket's queue timeout by the admit's clock, at most
     * one slice (the clock may be a manual one, or the mode may change). */
    int64_t left = t->enq_ns_ + queue_timeout(a) - now + 1;
    if (left < 1) left = 1;
    int64_t slice = a->real_clock ? WAIT_SLICE_REAL_NS : WAIT_SLICE_NS;
    if (left > slice) left = slice;
    if (cv_ok) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t ns = (int64_t)ts.tv_nsec + left;
      ts.tv_sec += (time_t)(ns / REIN_NS_PER_S);
      ts.tv_nsec = (long)(ns % REIN_NS_PER_S);
      pthread_cond_timedwait(&w.cv, &a->mu, &ts);
    } else {
      unlock(a);
      struct timespec ts = {
          0, (long)(left < REIN_NS_PER_MS ? left : REIN_NS_PER_MS)};
      nanosleep(&ts, NULL);
      lock(a);
    }
    now = rein_clock_now(&a->cfg.clock);
    roll_locked(a, now);
    settle(a, now, t);
  }
  t->waiter_ = NULL;
  r = result_of(tstate(t));
  fill(a, t, d);
  unlock(a);
  if (cv_ok) pthread_cond_destroy(&w.cv);
  return r;
}

rein_status rein_admit_set_limit(rein_admit *a, uint32_t limit, int64_t now) {
  if (!a || limit < 1 || limit > MAX_COUNT) return REIN_EINVAL;
  if (a->cfg.adaptive) {
    if (limit < a->cfg.limit_min) limit = a->cfg.limit_min;
    if (limit > a->cfg.limit_max) limit = a->cfg.limit_max;
  }
  atomic_store(&a->limit, limit); /* seq_cst, like a release */
  if (a->shared || atomic_load(&a->queue_len) > 0) {
    lock(a);
    roll_locked(a, now);
    settle(a, now, NULL);
    unlock(a);
  }
  return REIN_OK;
}

void rein_admit_settle(rein_admit *a, int64_t now) {
  if (!a) return;
  if (atomic_load(&a->queue_len) == 0) {
    maybe_roll(a, now);
    return;
  }
  lock(a);
  roll_locked(a, now);
  settle(a, now, NULL);
  unlock(a);
}

/* ------------------------------------------------------------------------ */
/* Introspection                                                            */
/* ------------------------------------------------------------------------ */

void rein_admit_stats_get(rein_admit *a, int64_t now, rein_admit_stats *s) {
  memset(s, 0, sizeof *s);
  lock(a);
  roll_locked(a, now);
  /* Every slot taken is an admission and every slot given back a release,
   * so the fast path need not count admissions separately. */
  uint64_t slots = atomic_load(&a->slots);
  s->released = released_locked(a);
  s->admitted = s->released + inflight_of(slots);
  s->queued = atomic_load(&a->queued);
  s->cancelled = atomic_load(&a->cancelled);
  for (int i = 0; i < REIN_ADMIT_R_COUNT_; i++)
    s->rejected[i] = atomic_load(&a->rejected[i]);
  s->inflight = inflight_of(slots);
  s->queue_len = atomic_load(&a->queue_len);
  s->limit = atomic_load(&a->limit);
  s->overloaded = atomic_load(&a->overloaded);
  s->drain_rate = rate_locked(a, now);
  unlock(a);
}

typedef struct outbuf {
  char *buf;
  size_t cap, len;
} outbuf;

static void emit(outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emit(outbuf *o, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  if (o->len < o->cap) {
    size_t room = o->cap - o->len;
    memcpy(o->buf + o->len, tmp, (size_t)n < room ? (size_t)n : room);
  }
  o->len += (size_t)n;
}

rein_status rein_admit_write_prometheus(rein_admit *a, int64_t now, char *buf,
                                        size_t cap, size_t *needed,
                                        bool with_help) {
  if (!a || (!buf && cap)) return REIN_EINVAL;
  rein_admit_stats s;
  rein_admit_stats_get(a, now, &s);
  outbuf o = {buf, cap, 0};
  static const struct {
    const char *name, *help;
  } counters[] = {
      {"rein_admit_admitted_total", "Requests admitted (at once or queued)."},
      {"rein_admit_queued_total", "Requests that entered the queue."},
      {"rein_admit_released_total", "Admitted requests that finished."},
      {"rein_admit_cancelled_total", "Queued requests their caller gave up."},
  };
  const uint64_t values[] = {s.admitted, s.queued, s.released, s.cancelled};
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    if (with_help)
      emit(&o, "# HELP %s %s\n# TYPE %s counter\n", counters[i].name,
           counters[i].help, counters[i].name);
    emit(&o, "%s{admit=\"%s\"} %llu\n", counters[i].name, a->name,
         (unsigned long long)values[i]);
  }
  if (with_help)
    emit(&o, "# HELP rein_admit_rejected_total Requests shed, by reason.\n"
             "# TYPE rein_admit_rejected_total counter\n");
  for (int r = 1; r < REIN_ADMIT_R_COUNT_; r++)
    emit(&o, "rein_admit_rejected_total{admit=\"%s\",reason=\"%s\"} %llu\n",
         a->name, rein_admit_reason_name((rein_admit_reason)r),
         (unsigned long long)s.rejected[r]);
  static const struct {
    const char *name, *help;
  } gauges[] = {
      {"rein_admit_inflight", "Requests admitted and not yet released."},
      {"rein_admit_queue_length", "Requests waiting for a slot."},
      {"rein_admit_limit", "Concurrency limit."},
      {"rein_admit_overloaded", "1 while a standing queue is being shed."},
  };
  const uint64_t gv[] = {s.inflight, s.queue_len, s.limit, s.overloaded};
  for (size_t i = 0; i < sizeof gv / sizeof gv[0]; i++) {
    if (with_help)
      emit(&o, "# HELP %s %s\n# TYPE %s gauge\n", gauges[i].name,
           gauges[i].help, gauges[i].name);
    emit(&o, "%s{admit=\"%s\"} %llu\n", gauges[i].name, a->name,
         (unsigned long long)gv[i]);
  }
  if (with_help)
    emit(&o, "# HELP rein_admit_drain_rate Completions per second over the "
             "last window.\n# TYPE rein_admit_drain_rate gauge\n");
  emit(&o, "rein_admit_drain_rate{admit=\"%s\"} %.3f\n", a->name, s.drain_rate);
  if (a->shared) {
    /* Only a shared admit has processes that can die holding tickets. */
    lock(a);
    uint64_t rc = a->reclaimed, rp = a->repairs;
    unlock(a);
    if (with_help)
      emit(&o, "# HELP rein_admit_reclaimed_total Tickets taken back from "
               "processes that died.\n# TYPE rein_admit_reclaimed_total "
               "counter\n");
    emit(&o, "rein_admit_reclaimed_total{admit=\"%s\"} %llu\n", a->name,
         (unsigned long long)rc);
    if (with_help)
      emit(&o, "# HELP rein_admit_repairs_total Times the state was rebuilt "
               "after a process died holding the lock.\n"
               "# TYPE rein_admit_repairs_total counter\n");
    emit(&o, "rein_admit_repairs_total{admit=\"%s\"} %llu\n", a->name,
         (unsigned long long)rp);
  }
  if (needed) *needed = o.len;
  if (o.len >= cap) {
    if (cap) buf[cap - 1] = '\0';
    return REIN_ETOOBIG;
  }
  buf[o.len] = '\0';
  return REIN_OK;
}

uint32_t rein_admit_parse_attempt(const char *v, size_t len) {
  if (!v) return 1;
  size_t i = 0, j = len;
  while (i < j && (v[i] == ' ' || v[i] == '\t'))
    i++;
  while (j > i && (v[j - 1] == ' ' || v[j - 1] == '\t'))
    j--;
  if (i == j) return 1;
  uint64_t n = 0;
  for (size_t k = i; k < j; k++) {
    if (v[k] < '0' || v[k] > '9') return 1;
    if (n <= 1000) n = n * 10 + (uint64_t)(v[k] - '0');
  }
  if (n == 0) return 1;
  return n > 1000 ? 1000 : (uint32_t)n;
}

const char *rein_admit_reason_name(rein_admit_reason r) {
  switch (r) {
  case REIN_ADMIT_R_NONE:
    return "none";
  case REIN_ADMIT_R_QUEUE_FULL:
    return "queue_full";
  case REIN_ADMIT_R_RETRY_SHED:
    return "retry_shed";
  case REIN_ADMIT_R_DISPLACED:
    return "displaced";
  case REIN_ADMIT_R_QUEUE_TIMEOUT:
    return "queue_timeout";
  case REIN_ADMIT_R_RATE_LIMITED:
    return "rate_limited";
  case REIN_ADMIT_R_COUNT_:
    break;
  }
  return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Signals out                                                              */
/* ------------------------------------------------------------------------ */

typedef struct hbuilder {
  rein_admit_response *out;
  size_t used;
} hbuilder;

static void add_header(hbuilder *b, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_header(hbuilder *b, const char *name, const char *fmt, ...) {
  rein_admit_response *o = b->out;
  if (o->count >= REIN_ADMIT_MAX_HEADERS) return;
  size_t cap = sizeof o->store_ - b->used;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->store_ + b->used, cap, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap) return; /* cannot happen with valid input */
  o->headers[o->count].name = name;
  o->headers[o->count].value = o->store_ + b->used;
  o->count++;
  b->used += (size_t)n + 1;
}

rein_status rein_admit_headers(const rein_admit_decision *d,
                               int64_t idem_retention_ns,
                               rein_admit_response *out) {
  if (!d || !out) return REIN_EINVAL;
  out->status = 0;
  out->count = 0;
  hbuilder b = {out, 0};
  if (d->result == REIN_ADMIT_REJECTED) {
    out->status = d->reason == REIN_ADMIT_R_RATE_LIMITED ? 429 : 503;
    add_header(&b, REIN_HEADER_RETRY_AFTER, "%lld",
               (long long)ceil_s(d->retry_after_ns));
    if (d->dont_retry) add_header(&b, REIN_HEADER_DONT_RETRY, "?1");
  }
  if (d->rl_quota > 0 && d->rl_policy && d->rl_remaining >= 0) {
    add_header(&b, REIN_HEADER_RATELIMIT_POLICY, "\"%s\";q=%u;w=%lld",
               d->rl_policy, d->rl_quota, (long long)d->rl_window_s);
    add_header(&b, REIN_HEADER_RATELIMIT, "\"%s\";r=%lld;t=%lld", d->rl_policy,
               (long long)d->rl_remaining, (long long)d->rl_reset_s);
  }
  if (idem_retention_ns >= 0)
    add_header(&b, REIN_HEADER_IDEM_RETENTION, "%lld",
               (long long)(idem_retention_ns / REIN_NS_PER_S));
  return REIN_OK;
}
