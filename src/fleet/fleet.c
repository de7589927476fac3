/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet.c: a retry budget and a circuit breaker shared by a fleet through
 * Redis, with local fallback.
 *
 * The design choice that shapes everything here: Redis is never on the
 * decision path. A decision reads and writes only this instance's atomics:
 * a lease of retry tokens (one word, taken by CAS), striped counters of
 * requests and outcomes (one per thread stripe, so threads do not share a
 * cache line), and a cached copy of the fleet breaker state. A refresher,
 * the background thread or the caller through rein_fleet_tick, is the only
 * code that talks to Redis: every refresh_ns it sends the counters'
 * deltas, the tokens still held and the tokens wanted, and reads back the
 * new lease and the fleet breaker state, in two Lua scripts pipelined in one
 * round trip (scripts.c). Both Redis replies are applied by the refresher
 * alone, so the shared state has a single writer for everything but the
 * token and probe words.
 *
 * Failure handling is part of the same loop: a refresh that fails (connect
 * refused, timeout, Redis error) switches decisions to the local budget and
 * breaker made from the same configs, logs once, and the next refresh that
 * succeeds switches back and logs once more. Decisions also check the age
 * of the last good refresh, so they fall back within stale_ns even when no
 * refresh has come back at all. hiredis writes with write(2), so every
 * refresh runs with SIGPIPE blocked and consumes one it caused.
 *
 * Every refresh talks through the shared bounded connection (src/redis):
 * reply limits, and one deadline of command_timeout_ns for the whole
 * pipeline, so a hostile or dripping server costs a failed refresh within
 * connect_timeout_ns + command_timeout_ns, never a stall or a huge
 * allocation. With sentinels configured, every connect asks them for the
 * current primary.
 */
#include "fleet_internal.h"

#include "rein/metrics.h"
#include "rein/rng.h"

#include "rein_redis.h"

#include <hiredis/hiredis.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define STRIPES 16u
#define LOCAL_BIT 0x80000000u
#define GEN_MASK 0x7fffffffu

enum { MODE_FLEET = 0, MODE_LOCAL = 1 };

/* Counters one thread stripe adds to; the refresher sums the stripes. */
typedef struct stripe {
  _Atomic uint64_t requests;
  _Atomic uint64_t spent_fleet; /* retries granted from the lease */
  _Atomic uint64_t spent_local; /* retries granted by the local budget */
  _Atomic uint64_t denied;      /* retries refused */
  _Atomic uint64_t calls, failures, slow; /* fleet permits, closed state */
  _Atomic uint64_t probe_ok, probe_fail;
  _Atomic uint64_t rejections; /* breaker refusals */
  char pad[128 - 10 * sizeof(uint64_t)];
} stripe;

/* Sums of the stripes the refresher last reported. */
typedef struct sums {
  uint64_t requests, spent_fleet, spent_local, denied;
  uint64_t calls, failures, slow, probe_ok, probe_fail, rejections;
} sums;

struct rein_fleet {
  stripe st[STRIPES]; /* first: the struct is allocated 64-byte aligned */

  /* Decision-path shared state. */
  _Atomic int mode;
  _Atomic int64_t last_ok;
  _Atomic int64_t tokens;
  _Atomic int64_t lease_until;
  _Atomic int kstate;
  _Atomic uint32_t kgen;
  _Atomic int64_t open_until;
  _Atomic int probe_tokens;
  _Atomic int want_probe;

  /* Configuration (immutable after _new). */
  char *host, *prefix, *name, *id, *password;
  int db;
  char *sentinels, *master; /* NULL: host:port directly */
  char *cluster;            /* cluster seeds, or NULL */
  int nsent;
  const char *sent_host[16];
  int sent_port[16];
  char sent_buf[2048];
  char *k_bwin, *k_blease, *k_bheld, *k_kwin, *k_kstate;
  int port;
  int64_t refresh_ns, lease_ttl_ns, connect_ns, command_ns, stale_ns;
  uint32_t lease_size, lease_min;
  rein_budget_config bcfg;
  rein_breaker_config kcfg;
  rein_clock clock;
  rein_fleet_log_fn log;
  void *log_ctx;
  const rein_allocator *alloc;

  rein_budget *local_budget, *budget;
  rein_breaker *local_breaker, *breaker;

  /* Refresher state, under tick_mu. */
  pthread_mutex_t tick_mu;
  redisContext *rc;
  char sha[2][48];
  sums sent;
  bool down_logged;

  /* Status, under st_mu (never held across I/O). */
  pthread_mutex_t st_mu;
  rein_fleet_status status;

  /* Refresher thread. */
  pthread_mutex_t th_mu;
  pthread_cond_t th_cv;
  pthread_t th;
  bool th_started, th_stop;
};

/* ------------------------------------------------------------- helpers */


static char *fstrdup(const rein_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = rein_alloc(a, n);
  if (p) memcpy(p, s, n);
  return p;
}

static char *fsprintf(const rein_allocator *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *fsprintf(const rein_allocator *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = rein_alloc(a, (size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

#define invalid(err, ...) rein_errbuf_set((err), REIN_EINVAL, __VA_ARGS__)

/* A stripe for the calling thread: the address of a thread-local byte,
 * mixed. Stable per thread, no shared state. */
static uint32_t my_stripe(void) {
  static _Thread_local char anchor;
  uint64_t x = (uint64_t)(uintptr_t)&anchor;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (uint32_t)(x & (STRIPES - 1));
}

static void add(_Atomic uint64_t *c, uint64_t n) {
  atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void sum_stripes(rein_fleet *f, sums *s) {
  memset(s, 0, sizeof *s);
  for (uint32_t i = 0; i < STRIPES; i++) {
    stripe *p = &f->st[i];
#define LD(x) s->x += atomic_load_explicit(&p->x, memory_order_relaxed)
    LD(requests);
    LD(spent_fleet);
    LD(spent_local);
    LD(denied);
    LD(calls);
    LD(failures);
    LD(slow);
    LD(probe_ok);
    LD(probe_fail);
    LD(rejections);
#undef LD
  }
}

static bool valid_ident(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
          c == '/' || c == '-'))
      return false;
  }
  return true;
}

static void logf_(rein_fleet *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(rein_fleet *f, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (f->log)
    f->log(f->log_ctx, line);
  else
    fprintf(stderr, "rein-fleet: %s\n", line);
}

/* Decisions use the local objects: degraded, not yet joined, or the last
 * good refresh is older than stale_ns. */
static bool use_local(rein_fleet *f, int64_t now) {
  if (atomic_load_explicit(&f->mode, memory_order_acquire) != MODE_FLEET)
    return true;
  return now - atomic_load_explicit(&f->last_ok, memory_order_relaxed) >
         f->stale_ns;
}

/* ------------------------------------------------------- fleet budget */

static void fb_on_request(void *impl, int64_t now) {
  rein_fleet *f = impl;
  add(&f->st[my_stripe()].requests, 1);
  rein_budget_on_request(f->local_budget, now);
}

static bool fb_try_retry(void *impl, int64_t now, bool timeout,
                         uint32_t *cost) {
  rein_fleet *f = impl;
  stripe *s = &f->st[my_stripe()];
  if (use_local(f, now)) {
    bool ok = rein_budget_try_retry(f->local_budget, now, timeout, cost);
    add(ok ? &s->spent_local : &s->denied, 1);
    return ok;
  }
  if (now < atomic_load_explicit(&f->lease_until, memory_order_acquire)) {
    int64_t t = atomic_load_explicit(&f->tokens, memory_order_relaxed);
    while (t > 0) {
      if (atomic_compare_exchange_weak_explicit(&f->tokens, &t, t - 1,
                                                memory_order_acq_rel,
                                                memory_order_relaxed)) {
        add(&s->spent_fleet, 1);
        if (cost) *cost = 1;
        return true;
      }
    }
  }
  add(&s->denied, 1);
  return false;
}

static void fb_on_success(void *impl, int64_t now, uint32_t cost) {
  rein_fleet *f = impl;
  rein_budget_on_success(f->local_budget, now, cost);
}

static void fb_on_failure(void *impl, int64_t now) {
  rein_fleet *f = impl;
  rein_budget_on_failure(f->local_budget, now);
}

static double fb_available(void *impl, int64_t now) {
  rein_fleet *f = impl;
  if (use_local(f, now)) return rein_budget_available(f->local_budget, now);
  if (now >= atomic_load_explicit(&f->lease_until, memory_order_acquire))
    return 0;
  return (double)atomic_load_explicit(&f->tokens, memory_order_relaxed);
}

static void noop_destroy(void *impl) {
  (void)impl;
}

static const rein_budget_vtable fleet_budget_vt = {REIN_BUDGET_VTABLE_VERSION,
                                                   "fleet",
                                                   fb_on_request,
                                                   fb_try_retry,
                                                   fb_on_success,
                                                   fb_on_failure,
                                                   fb_available,
                                                   noop_destroy};

/* ------------------------------------------------------ fleet breaker */

/* The fleet state as of `now`, from the cached copy. */
static rein_breaker_state fleet_state_at(rein_fleet *f, int64_t now) {
  int st = atomic_load_explicit(&f->kstate, memory_order_acquire);
  if (st == REIN_BREAKER_CLOSED) return REIN_BREAKER_CLOSED;
  if (st == REIN_BREAKER_OPEN &&
      now < atomic_load_explicit(&f->open_until, memory_order_relaxed))
    return REIN_BREAKER_OPEN;
  return REIN_BREAKER_HALF_OPEN;
}

static bool fk_allow(void *impl, int64_t now, rein_breaker_permit *permit) {
  rein_fleet *f = impl;
  stripe *s = &f->st[my_stripe()];
  rein_breaker_permit p = {0, 0, 0};
  if (use_local(f, now)) {
    /* A fleet OPEN seen before Redis went away holds until it ends. */
    if (atomic_load_explicit(&f->kstate, memory_order_acquire) ==
            REIN_BREAKER_OPEN &&
        now < atomic_load_explicit(&f->open_until, memory_order_relaxed)) {
      add(&s->rejections, 1);
      if (permit) *permit = p;
      return false;
    }
    bool ok = rein_breaker_allow(f->local_breaker, now, &p);
    if (ok)
      p.generation = (p.generation & GEN_MASK) | LOCAL_BIT;
    else
      add(&s->rejections, 1);
    if (permit) *permit = p;
    return ok;
  }
  uint32_t gen = atomic_load_explicit(&f->kgen, memory_order_acquire);
  rein_breaker_state st = fleet_state_at(f, now);
  if (st == REIN_BREAKER_CLOSED) {
    p.generation = gen;
    p.valid = 1;
    if (permit) *permit = p;
    return true;
  }
  if (st == REIN_BREAKER_HALF_OPEN) {
    int t = atomic_load_explicit(&f->probe_tokens, memory_order_relaxed);
    while (t > 0) {
      if (atomic_compare_exchange_weak_explicit(&f->probe_tokens, &t, t - 1,
                                                memory_order_acq_rel,
                                                memory_order_relaxed)) {
        p.generation = gen;
        p.probe = 1;
        p.valid = 1;
        if (permit) *permit = p;
        return true;
      }
    }
    atomic_store_explicit(&f->want_probe, 1, memory_order_relaxed);
  }
  add(&s->rejections, 1);
  if (permit) *permit = p;
  return false;
}

static void fk_record(void *impl, const rein_breaker_permit *permit,
                      bool failure, int64_t duration_ns, int64_t now) {
  rein_fleet *f = impl;
  if (!permit || !permit->valid) return;
  if (permit->generation & LOCAL_BIT) {
    rein_breaker_permit p = *permit;
    p.generation &= GEN_MASK;
    rein_breaker_record(f->local_breaker, &p, failure, duration_ns, now);
    return;
  }
  if (permit->generation !=
      atomic_load_explicit(&f->kgen, memory_order_acquire))
    return; /* from before a fleet transition */
  stripe *s = &f->st[my_stripe()];
  if (permit->probe) {
    add(failure ? &s->probe_fail : &s->probe_ok, 1);
    return;
  }
  add(&s->calls, 1);
  if (failure) add(&s->failures, 1);
  if (f->kcfg.slow_call_ns > 0 && duration_ns >= f->kcfg.slow_call_ns)
    add(&s->slow, 1);
}

static rein_breaker_state fk_state_at(void *impl, int64_t now) {
  rein_fleet *f = impl;
  if (use_local(f, now)) {
    if (atomic_load_explicit(&f->kstate, memory_order_acquire) ==
            REIN_BREAKER_OPEN &&
        now < atomic_load_explicit(&f->open_until, memory_order_relaxed))
      return REIN_BREAKER_OPEN;
    return rein_breaker_state_at(f->local_breaker, now);
  }
  return fleet_state_at(f, now);
}

static const rein_breaker_vtable fleet_breaker_vt = {
    REIN_BREAKER_VTABLE_VERSION,
    "fleet",
    fk_allow,
    fk_record,
    fk_state_at,
    noop_destroy};

/* ------------------------------------------------------------ refresh */

/* Blocks SIGPIPE for the calling thread while it talks to Redis, and
 * consumes a SIGPIPE that the I/O raised (one already pending before is
 * left alone). */
typedef struct pipe_guard {
  sigset_t old;
  bool was_pending;
} pipe_guard;

static void guard_on(pipe_guard *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  g->was_pending = sigismember(&pend, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void guard_off(pipe_guard *g) {
  sigset_t set, pend;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigemptyset(&pend);
  sigpending(&pend);
  if (!g->was_pending && sigismember(&pend, SIGPIPE) == 1) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void set_error(rein_fleet *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(rein_fleet *f, const char *fmt, ...) {
  char buf[sizeof f->status.last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&f->st_mu);
  memcpy(f->status.last_error, buf, sizeof buf);
  pthread_mutex_unlock(&f->st_mu);
}

static void count_commands(rein_fleet *f, uint64_t n, uint64_t noscript) {
  pthread_mutex_lock(&f->st_mu);
  f->status.commands += n;
  f->status.noscript += noscript;
  pthread_mutex_unlock(&f->st_mu);
}

/* The hiredis error of the context as a rein_status, recorded. */
static rein_status io_error(rein_fleet *f, const char *what) {
  rein_status s = f->rc ? rein__redis_status(f->rc) : REIN_ECLOSED;
  set_error(f, "%s: %s", what,
            f->rc && f->rc->errstr[0] ? f->rc->errstr : "connection failed");
  if (f->rc) {
    rein__redis_free(f->rc);
    f->rc = NULL;
  }
  return s;
}

static rein_status connect_redis(rein_fleet *f, int64_t *deadline) {
  if (f->rc) {
    *deadline = rein__redis_now() + f->command_ns;
    return REIN_OK;
  }
  if (f->cluster) {
    /* which node serves the fleet's slot, then a connection of our own */
    char why[300];
    rein__redis_cluster *cl = rein_alloc(f->alloc, sizeof *cl);
    if (!cl) {
      set_error(f, "cluster: out of memory");
      return REIN_ENOMEM;
    }
    int node = -1;
    if (rein__redis_cluster_init(cl, f->cluster, f->connect_ns, f->command_ns,
                                 why, sizeof why) == 0 &&
        rein__redis_cluster_refresh(cl, why, sizeof why) == 0) {
      unsigned slot = rein__redis_slot(f->k_bwin, strlen(f->k_bwin));
      node = cl->slot_node[slot] - 1;
      if (node < 0) snprintf(why, sizeof why, "no node serves slot %u", slot);
    }
    rein_status cst = REIN_OK;
    if (node >= 0) {
      f->rc = rein__redis_connect(cl->node[node].host, cl->node[node].port,
                                  f->connect_ns, f->command_ns, NULL);
      if (!f->rc) cst = REIN_ENOMEM;
    } else {
      set_error(f, "cluster: %s", why);
      cst = REIN_ECLOSED;
    }
    rein__redis_cluster_free(cl);
    rein_free(f->alloc, cl);
    if (cst != REIN_OK) return cst;
    if (f->rc->err) return io_error(f, "connect");
  } else if (f->nsent > 0) {
    char host[256], why[256];
    int port = 0;
    f->rc = rein__redis_sentinel_connect(
        f->sent_host, f->sent_port, f->nsent, f->master, f->connect_ns,
        f->command_ns, NULL, host, sizeof host, &port, why, sizeof why);
    if (!f->rc) {
      set_error(f, "no primary for \"%s\": %s", f->master, why);
      return REIN_ECLOSED;
    }
  } else {
    f->rc = rein__redis_connect(f->host, f->port, f->connect_ns, f->command_ns,
                                NULL);
    if (!f->rc) {
      set_error(f, "connect %s:%d: out of memory", f->host, f->port);
      return REIN_ENOMEM;
    }
    if (f->rc->err) return io_error(f, "connect");
  }
  *deadline = rein__redis_now() + f->command_ns;
  /* AUTH and SELECT go first in the same pipeline as the SCRIPT LOADs. */
  int pre = 0;
  if (f->password) {
    const char *argv[2] = {"AUTH", f->password};
    size_t len[2] = {4, strlen(f->password)};
    if (redisAppendCommandArgv(f->rc, 2, argv, len) != REDIS_OK)
      return io_error(f, "AUTH");
    pre++;
  }
  if (f->db > 0) {
    char dbs[16];
    snprintf(dbs, sizeof dbs, "%d", f->db);
    const char *argv[2] = {"SELECT", dbs};
    size_t len[2] = {6, strlen(dbs)};
    if (redisAppendCommandArgv(f->rc, 2, argv, len) != REDIS_OK)
      return io_error(f, "SELECT");
    pre++;
  }
  /* Load both scripts; their SHA1s come back (no hashing on our side). */
  const char *src[2] = {rein__fleet_lua_budget, rein__fleet_lua_breaker};
  for (int i = 0; i < 2; i++) {
    const char *argv[3] = {"SCRIPT", "LOAD", src[i]};
    size_t len[3] = {6, 4, strlen(src[i])};
    if (redisAppendCommandArgv(f->rc, 3, argv, len) != REDIS_OK)
      return io_error(f, "SCRIPT LOAD");
  }
  count_commands(f, 2 + (uint64_t)pre, 0);
  rein_status st = REIN_OK;
  for (int i = 0; i < pre; i++) {
    redisReply *r = NULL;
    if (rein__redis_get_reply(f->rc, *deadline, &r) != REDIS_OK)
      return io_error(f, i == 0 && f->password ? "AUTH" : "SELECT");
    if (r->type == REDIS_REPLY_ERROR && st == REIN_OK) {
      set_error(f, "%s: %s", i == 0 && f->password ? "AUTH" : "SELECT", r->str);
      st = REIN_EBACKEND;
    }
    freeReplyObject(r);
  }
  for (int i = 0; i < 2; i++) {
    redisReply *r = NULL;
    if (rein__redis_get_reply(f->rc, *deadline, &r) != REDIS_OK)
      return io_error(f, "SCRIPT LOAD");
    if (st != REIN_OK) {
      /* AUTH or SELECT failed: the loads failed too; keep the first error */
    } else if (r->type == REDIS_REPLY_STRING && r->len < sizeof f->sha[i]) {
      memcpy(f->sha[i], r->str, r->len);
      f->sha[i][r->len] = 0;
    } else {
      set_error(f, "SCRIPT LOAD: %s",
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
      st = REIN_EBACKEND;
    }
    freeReplyObject(r);
  }
  if (st != REIN_OK) {
    rein__redis_free(f->rc);
    f->rc = NULL;
  }
  return st;
}

/* One script call's arguments. */
typedef struct call {
  int script; /* 0 budget, 1 breaker */
  int nkeys;
  const char *keys[3];
  int nargs;
  const char *argp[16]; /* argp[i] points at args[i] or at a longer string */
  char args[16][32];
} call;

static void call_argv(rein_fleet *f, const call *c, bool eval,
                      const char **argv, size_t *len, char *nk) {
  int n = 0;
  argv[n++] = eval ? "EVAL" : "EVALSHA";
  argv[n++] =
      eval ? (c->script ? rein__fleet_lua_breaker : rein__fleet_lua_budget)
           : f->sha[c->script];
  snprintf(nk, 8, "%d", c->nkeys);
  argv[n++] = nk;
  for (int i = 0; i < c->nkeys; i++)
    argv[n++] = c->keys[i];
  for (int i = 0; i < c->nargs; i++)
    argv[n++] = c->argp[i] ? c->argp[i] : c->args[i];
  for (int i = 0; i < n; i++)
    len[i] = strlen(argv[i]);
}

bool rein__fleet_reply_ints(const redisReply *r, long long *v, size_t n) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < n) return false;
  for (size_t i = 0; i < n; i++) {
    if (r->element[i]->type != REDIS_REPLY_INTEGER) return false;
    v[i] = r->element[i]->integer;
  }
  return true;
}

static void fmt_i(char *dst, long long v) {
  snprintf(dst, 32, "%lld", v);
}
static void fmt_d(char *dst, double v) {
  snprintf(dst, 32, "%.17g", v);
}

static int64_t ms_up(int64_t ns) {
  return (ns + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
}

/*
 * One refresh (tick_mu held). `closing`: the last one, from rein_fleet_free:
 * return every token and probe and ask for nothing.
 */
static rein_status refresh(rein_fleet *f, int64_t now, bool closing) {
  int64_t deadline = 0;
  rein_status st = connect_redis(f, &deadline);
  if (st != REIN_OK) return st;

  sums cur;
  sum_stripes(f, &cur);
  call calls[2];
  memset(calls, 0, sizeof calls);
  int n = 0;
  int64_t held = 0, want_tokens = 0;
  if (f->budget) {
    /* Tokens whose lease has run out are void: Redis has already given
     * them back to the fleet (the lease expired there no later than here),
     * so reporting them as held would grant them twice. */
    if (closing ||
        now >= atomic_load_explicit(&f->lease_until, memory_order_acquire))
      atomic_store(&f->tokens, 0);
    uint64_t demand = (cur.spent_fleet - f->sent.spent_fleet) +
                      (cur.spent_local - f->sent.spent_local) +
                      (cur.denied - f->sent.denied);
    /* Hold what the last interval asked for: idle tokens in one instance
     * are tokens the rest of the fleet cannot use until they expire. */
    int64_t target = (int64_t)demand;
    if (target < (int64_t)f->lease_min) target = f->lease_min;
    if (target > (int64_t)f->lease_size) target = f->lease_size;
    if (closing) target = 0;
    /* Tokens above the target go back to the fleet now. */
    int64_t t = atomic_load(&f->tokens);
    while (t > target &&
           !atomic_compare_exchange_weak(&f->tokens, &t, target)) {
    }
    held = t > target ? target : t;
    if (held < 0) held = 0;
    /* Counted after the snapshot of `held`: a token spent in between is
     * reported both as held and as spent (one interval, conservative),
     * never as neither. */
    sum_stripes(f, &cur);
    int64_t want = closing ? 0 : target - held;
    if (want < 0) want = 0;
    want_tokens = want;
    double ttl_s = (double)f->bcfg.ttl_ns / 1e9;
    int64_t bucket_ms = f->bcfg.ttl_ns / 10 / REIN_NS_PER_MS;
    if (bucket_ms < 1) bucket_ms = 1;
    call *c = &calls[n++];
    c->script = 0;
    c->nkeys = 3;
    c->keys[0] = f->k_bwin;
    c->keys[1] = f->k_blease;
    c->keys[2] = f->k_bheld;
    c->nargs = 11;
    c->argp[0] = f->id;
    fmt_i(c->args[1], (long long)(cur.requests - f->sent.requests));
    fmt_i(c->args[2], (long long)((cur.spent_fleet - f->sent.spent_fleet) +
                                  (cur.spent_local - f->sent.spent_local)));
    fmt_i(c->args[3], held);
    fmt_i(c->args[4], want);
    fmt_d(c->args[5], f->bcfg.ratio);
    fmt_d(c->args[6], f->bcfg.min_retries_per_sec * ttl_s);
    fmt_i(c->args[7], bucket_ms);
    fmt_i(c->args[8], 10);
    fmt_i(c->args[9], ms_up(f->lease_ttl_ns));
    fmt_i(c->args[10], ms_up(f->bcfg.ttl_ns + f->lease_ttl_ns) + 1000);
  }
  int ret_probe = 0, want_probe = 0;
  uint32_t gen = atomic_load(&f->kgen);
  if (f->breaker) {
    ret_probe = atomic_exchange(&f->probe_tokens, 0);
    want_probe = closing ? 0 : atomic_exchange(&f->want_probe, 0);
    int64_t bucket_ms =
        f->kcfg.window_ns / (int64_t)f->kcfg.buckets / REIN_NS_PER_MS;
    if (bucket_ms < 1) bucket_ms = 1;
    call *c = &calls[n++];
    c->script = 1;
    c->nkeys = 2;
    c->keys[0] = f->k_kwin;
    c->keys[1] = f->k_kstate;
    c->nargs = 16;
    fmt_i(c->args[0], gen);
    fmt_i(c->args[1], (long long)(cur.calls - f->sent.calls));
    fmt_i(c->args[2], (long long)(cur.failures - f->sent.failures));
    fmt_i(c->args[3], (long long)(cur.slow - f->sent.slow));
    fmt_i(c->args[4], (long long)(cur.probe_ok - f->sent.probe_ok));
    fmt_i(c->args[5], (long long)(cur.probe_fail - f->sent.probe_fail));
    fmt_i(c->args[6], want_probe);
    fmt_i(c->args[7], ret_probe);
    fmt_i(c->args[8], bucket_ms);
    fmt_i(c->args[9], f->kcfg.buckets);
    fmt_i(c->args[10], f->kcfg.min_calls);
    fmt_d(c->args[11], f->kcfg.failure_rate);
    bool slow_on = f->kcfg.slow_call_ns > 0; /* rein/breaker.h */
    fmt_d(c->args[12], slow_on ? f->kcfg.slow_rate : 0.0);
    fmt_i(c->args[13], ms_up(f->kcfg.open_ns));
    fmt_i(c->args[14], f->kcfg.half_open_probes);
    fmt_i(c->args[15], 2 * ms_up(f->kcfg.window_ns + f->kcfg.open_ns) + 1000);
  }
  if (n == 0) return REIN_OK;

  /* Send both pipelined, read both; a NOSCRIPT reply (script cache flushed
   * by a restart or SCRIPT FLUSH: the script did not run) is retried with
   * EVAL and the source. Counts are reported at most once: they count as
   * sent once written. */
  redisReply *rep[2] = {NULL, NULL};
  rein_status rs = REIN_OK;
  {
    const char *argv[2][24];
    size_t len[2][24];
    char nk[2][8];
    int argc[2];
    for (int i = 0; i < n; i++) {
      call_argv(f, &calls[i], false, argv[i], len[i], nk[i]);
      argc[i] = 3 + calls[i].nkeys + calls[i].nargs;
      if (redisAppendCommandArgv(f->rc, argc[i], argv[i], len[i]) != REDIS_OK)
        return io_error(f, "EVALSHA");
    }
    count_commands(f, (uint64_t)n, 0);
    if (rein__redis_flush(f->rc, deadline) != REDIS_OK)
      return io_error(f, "EVALSHA");
    f->sent = cur;
    for (int i = 0; i < n && rs == REIN_OK; i++)
      if (rein__redis_get_reply(f->rc, deadline, &rep[i]) != REDIS_OK)
        rs = io_error(f, "EVALSHA");
    for (int i = 0; i < n && rs == REIN_OK; i++) {
      if (rep[i]->type != REDIS_REPLY_ERROR ||
          strncmp(rep[i]->str, "NOSCRIPT", 8) != 0)
        continue;
      freeReplyObject(rep[i]);
      rep[i] = NULL;
      call_argv(f, &calls[i], true, argv[i], len[i], nk[i]);
      count_commands(f, 1, 1);
      rep[i] = rein__redis_command(f->rc, rein__redis_now() + f->command_ns,
                                   argc[i], argv[i], len[i]);
      if (!rep[i]) rs = io_error(f, "EVAL");
    }
  }
  if (rs != REIN_OK) {
    for (int i = 0; i < n; i++)
      if (rep[i]) freeReplyObject(rep[i]);
    return rs;
  }

  /* Apply. */
  rs = REIN_OK;
  bool drop = false;
  for (int i = 0; i < n && rs == REIN_OK; i++) {
    long long v[5];
    if (!rein__fleet_reply_ints(rep[i], v, 5)) {
      set_error(f, "%s script: %s", calls[i].script ? "breaker" : "budget",
                rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str
                                                  : "unexpected reply");
      rs = REIN_EBACKEND;
      /* the slot moved, the primary was demoted or the cluster is
       * reconfiguring: the next refresh connects again (and asks where) */
      const char *e = rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str : "";
      if (!strncmp(e, "MOVED", 5) || !strncmp(e, "ASK", 3) ||
          !strncmp(e, "READONLY", 8) || !strncmp(e, "CLUSTERDOWN", 11) ||
          !strncmp(e, "TRYAGAIN", 8) || !strncmp(e, "LOADING", 7))
        drop = true;
      break;
    }
    /* Redis is trusted with the fleet's state, not with this process's
     * safety: a grant is never more than was asked for, a state is one of
     * the three, an open time never longer than open_ns. */
    if (calls[i].script == 0) {
      if (v[0] < 0) v[0] = 0;
      if (v[0] > want_tokens) v[0] = want_tokens;
    } else {
      if (v[0] < REIN_BREAKER_CLOSED || v[0] > REIN_BREAKER_HALF_OPEN) {
        set_error(f, "breaker script: state %lld is not a breaker state", v[0]);
        rs = REIN_EBACKEND;
        break;
      }
      long long open_ms = ms_up(f->kcfg.open_ns);
      if (v[2] < 0) v[2] = 0;
      if (v[2] > open_ms) v[2] = open_ms;
    }
    if (calls[i].script == 0) {
      if (!closing) {
        atomic_fetch_add(&f->tokens, (int64_t)v[0]);
        atomic_store_explicit(&f->lease_until, now + f->lease_ttl_ns,
                              memory_order_release);
      }
      pthread_mutex_lock(&f->st_mu);
      f->status.fleet_requests = (double)v[1];
      f->status.fleet_retries = (double)v[2];
      f->status.fleet_leased = (double)v[3];
      pthread_mutex_unlock(&f->st_mu);
    } else {
      int state = (int)v[0];
      uint32_t g = (uint32_t)v[1] & GEN_MASK;
      int was = atomic_load_explicit(&f->kstate, memory_order_relaxed);
      if (!closing &&
          (state != was ||
           g != atomic_load_explicit(&f->kgen, memory_order_relaxed))) {
        /* A fleet transition, seen by this instance: one callback per
         * state change it observes (a CLOSED -> OPEN -> CLOSED round trip
         * between two refreshes shows as a new generation only). */
        if (state != was) {
          rein_counter ctr = state == REIN_BREAKER_OPEN ? REIN_C_BREAKER_OPENED
                             : state == REIN_BREAKER_HALF_OPEN
                                 ? REIN_C_BREAKER_HALF_OPENED
                                 : REIN_C_BREAKER_CLOSED;
          rein_metrics_add(f->kcfg.metrics, ctr, 1);
          if (f->kcfg.on_state_change)
            f->kcfg.on_state_change(f->kcfg.callback_ctx,
                                    (rein_breaker_state)was,
                                    (rein_breaker_state)state, now);
        }
      }
      atomic_store_explicit(&f->open_until, now + v[2] * REIN_NS_PER_MS,
                            memory_order_relaxed);
      atomic_store_explicit(&f->kgen, g, memory_order_release);
      atomic_store_explicit(&f->kstate, state, memory_order_release);
      if (v[3] > 0 && !closing)
        atomic_store_explicit(&f->probe_tokens, 1, memory_order_release);
      pthread_mutex_lock(&f->st_mu);
      f->status.fleet_state = (rein_breaker_state)state;
      f->status.generation = g;
      if (v[3] > 0) f->status.probes_claimed++;
      pthread_mutex_unlock(&f->st_mu);
    }
  }
  for (int i = 0; i < n; i++)
    freeReplyObject(rep[i]);
  if (drop && f->rc) {
    rein__redis_free(f->rc);
    f->rc = NULL;
  }
  return rs;
}

/* Where Redis is, for the log: host:port, or the sentinels' primary. */
static void where_(const rein_fleet *f, char *buf, size_t cap) {
  if (f->cluster)
    snprintf(buf, cap, "cluster %s", f->cluster);
  else if (f->nsent > 0)
    snprintf(buf, cap, "primary \"%s\" (sentinels %s)", f->master,
             f->sentinels);
  else
    snprintf(buf, cap, "%s:%d", f->host, f->port);
}

static rein_status tick_locked(rein_fleet *f, int64_t now, bool closing) {
  pipe_guard g;
  guard_on(&g);
  rein_status st = refresh(f, now, closing);
  guard_off(&g);
  if (closing) return st;
  if (st == REIN_OK) {
    atomic_store_explicit(&f->last_ok, now, memory_order_relaxed);
    atomic_store_explicit(&f->mode, MODE_FLEET, memory_order_release);
    pthread_mutex_lock(&f->st_mu);
    f->status.refreshes++;
    f->status.last_ok_ns = now;
    f->status.joined = true;
    f->status.last_error[0] = 0;
    bool rejoin = f->down_logged;
    if (rejoin) f->status.rejoins++;
    pthread_mutex_unlock(&f->st_mu);
    if (rejoin) {
      f->down_logged = false;
      char where[300];
      where_(f, where, sizeof where);
      logf_(f,
            "fleet %s instance %s: Redis %s is back, rejoined the "
            "fleet budget and breaker",
            f->name, f->id, where);
    }
    return REIN_OK;
  }
  /* Failed: local objects from now on; tokens are void (Redis will expire
   * the lease and give them back to the fleet). */
  atomic_store_explicit(&f->mode, MODE_LOCAL, memory_order_release);
  atomic_store(&f->tokens, 0);
  atomic_store(&f->probe_tokens, 0);
  char why[sizeof f->status.last_error];
  pthread_mutex_lock(&f->st_mu);
  f->status.failures++;
  f->status.joined = false;
  bool first = !f->down_logged;
  if (first) f->status.degradations++;
  memcpy(why, f->status.last_error, sizeof why);
  pthread_mutex_unlock(&f->st_mu);
  if (first) {
    f->down_logged = true;
    char where[300];
    where_(f, where, sizeof where);
    logf_(f,
          "fleet %s instance %s: Redis %s unavailable (%s: %s); "
          "using the local budget and breaker until it is back",
          f->name, f->id, where, rein_status_name(st), why);
  }
  return st;
}

rein_status rein_fleet_tick(rein_fleet *f, int64_t now) {
  if (!f) return REIN_EINVAL;
  pthread_mutex_lock(&f->tick_mu);
  rein_status st = tick_locked(f, now, false);
  pthread_mutex_unlock(&f->tick_mu);
  return st;
}

/* ------------------------------------------------------------- thread */

/*
 * The wait before the next refresh: refresh_ns while Redis answers; after
 * k failures in a row, equal jitter over min(refresh_ns x 2^k, max(1 s,
 * refresh_ns)), so a fleet whose Redis went away does not reconnect in
 * lock-step every refresh_ns when it comes back (400 instances at 100 ms
 * would be 4,000 connections a second). Decisions do not wait for any of
 * this: they are on the local objects until a refresh succeeds.
 */
static int64_t next_wait(rein_fleet *f, uint32_t failures, rein_rng *rng) {
  if (failures == 0) return f->refresh_ns;
  int64_t cap = f->refresh_ns > REIN_NS_PER_S ? f->refresh_ns : REIN_NS_PER_S;
  int64_t v = f->refresh_ns;
  for (uint32_t i = 0; i < failures && v < cap; i++)
    v *= 2;
  if (v > cap) v = cap;
  return v / 2 + rein_rng_range(rng, 0, v / 2);
}

static void *refresher(void *arg) {
  rein_fleet *f = arg;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  /* Jitter seed: the instance id, so instances differ and a run repeats. */
  uint64_t seed = 0xf1ee7;
  for (const char *p = f->id; *p; p++)
    seed = seed * 131 + (uint8_t)*p;
  rein_rng rng;
  rein_rng_seed(&rng, seed);
  uint32_t failures = 0;
  pthread_mutex_lock(&f->th_mu);
  while (!f->th_stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + next_wait(f, failures, &rng);
    ts.tv_sec += (time_t)(ns / REIN_NS_PER_S);
    ts.tv_nsec = (long)(ns % REIN_NS_PER_S);
    while (!f->th_stop &&
           pthread_cond_timedwait(&f->th_cv, &f->th_mu, &ts) == 0) {
    }
    if (f->th_stop) break;
    pthread_mutex_unlock(&f->th_mu);
    if (rein_fleet_tick(f, rein_clock_now(&f->clock)) == REIN_OK)
      failures = 0;
    else if (failures < 64)
      failures++;
    pthread_mutex_lock(&f->th_mu);
  }
  pthread_mutex_unlock(&f->th_mu);
  return NULL;
}

/* -------------------------------------------------------- lifecycle */

void rein_fleet_config_default(rein_fleet_config *c) {
  memset(c, 0, sizeof *c);
  c->redis_host = "127.0.0.1";
  c->redis_port = 6379;
  c->key_prefix = "rein:fleet";
  c->name = "default";
  c->refresh_ns = 100 * REIN_NS_PER_MS;
  c->lease_size = 64;
  c->lease_min = 1;
  c->connect_timeout_ns = 200 * REIN_NS_PER_MS;
  c->command_timeout_ns = 200 * REIN_NS_PER_MS;
  c->enable_budget = true;
  c->enable_breaker = true;
  rein_budget_config_default(&c->budget);
  rein_breaker_config_default(&c->breaker);
  c->start_thread = true;
  c->join_on_new = true;
  c->redis_sentinels = NULL;
  c->redis_sentinel_master = "mymaster";
  c->redis_cluster_nodes = NULL;
}

static rein_status validate(const rein_fleet_config *c) {
  rein_errbuf *e = c->err;
  if (!c->redis_host || !*c->redis_host)
    return invalid(e,
                   "fleet.redis_host: must be a host name or address, "
                   "got %s",
                   c->redis_host ? "\"\"" : "NULL");
  if (c->redis_port < 1 || c->redis_port > 65535)
    return invalid(e, "fleet.redis_port: must be in [1, 65535], got %d",
                   c->redis_port);
  if (!c->key_prefix || !valid_ident(c->key_prefix))
    return invalid(e,
                   "fleet.key_prefix: must match [A-Za-z0-9_.:/-]{1,128}, "
                   "got \"%s\"",
                   c->key_prefix ? c->key_prefix : "(null)");
  if (!c->name || !valid_ident(c->name))
    return invalid(e,
                   "fleet.name: must match [A-Za-z0-9_.:/-]{1,128} (e.g. "
                   "\"ingest->registry\" as \"ingest.registry\"), got "
                   "\"%s\"",
                   c->name ? c->name : "(null)");
  if (c->instance_id && !valid_ident(c->instance_id))
    return invalid(e,
                   "fleet.instance_id: must match "
                   "[A-Za-z0-9_.:/-]{1,128}, got \"%s\"",
                   c->instance_id);
  if (c->refresh_ns < REIN_NS_PER_MS || c->refresh_ns > 10 * REIN_NS_PER_S)
    return invalid(
        e, "fleet.refresh_ns: must be in [1 ms, 10 s], got %" PRId64 " ns",
        c->refresh_ns);
  if (c->lease_ttl_ns != 0 && (c->lease_ttl_ns < c->refresh_ns ||
                               c->lease_ttl_ns > 600 * REIN_NS_PER_S))
    return invalid(e,
                   "fleet.lease_ttl_ns: must be 0 (3 x refresh_ns) or in "
                   "[refresh_ns, 10 min], got %" PRId64 " ns",
                   c->lease_ttl_ns);
  if (c->lease_size < 1 || c->lease_size > 100000)
    return invalid(e, "fleet.lease_size: must be in [1, 100000], got %u",
                   c->lease_size);
  if (c->redis_password &&
      (!*c->redis_password || strlen(c->redis_password) > 512))
    return invalid(e,
                   "fleet.redis_password: must be NULL (no AUTH) or 1 to "
                   "512 bytes, got %zu bytes",
                   strlen(c->redis_password));
  if (c->redis_db < 0 || c->redis_db > 1000000)
    return invalid(e, "fleet.redis_db: must be in [0, 1000000], got %d",
                   c->redis_db);
  if (c->lease_min < 1 || c->lease_min > c->lease_size)
    return invalid(e,
                   "fleet.lease_min: must be in [1, lease_size = %u], got "
                   "%u",
                   c->lease_size, c->lease_min);
  if (c->connect_timeout_ns < REIN_NS_PER_MS ||
      c->connect_timeout_ns > 10 * REIN_NS_PER_S)
    return invalid(e,
                   "fleet.connect_timeout_ns: must be in [1 ms, 10 s], got "
                   "%" PRId64 " ns",
                   c->connect_timeout_ns);
  if (c->command_timeout_ns < REIN_NS_PER_MS ||
      c->command_timeout_ns > 10 * REIN_NS_PER_S)
    return invalid(e,
                   "fleet.command_timeout_ns: must be in [1 ms, 10 s], got "
                   "%" PRId64 " ns",
                   c->command_timeout_ns);
  if (c->stale_ns != 0 && c->stale_ns <= c->refresh_ns)
    return invalid(e,
                   "fleet.stale_ns: must be 0 (750 ms) or > refresh_ns, "
                   "got %" PRId64 " ns",
                   c->stale_ns);
  if (c->stale_ns == 0 && c->refresh_ns >= 750 * REIN_NS_PER_MS)
    return invalid(e,
                   "fleet.stale_ns: the default 750 ms is not above "
                   "refresh_ns (%" PRId64 " ns); set it explicitly",
                   c->refresh_ns);
  if (c->redis_sentinels &&
      (!c->redis_sentinel_master || !valid_ident(c->redis_sentinel_master)))
    return invalid(e,
                   "fleet.redis_sentinel_master: must match "
                   "[A-Za-z0-9_.:/-]{1,128}, got \"%s\"",
                   c->redis_sentinel_master ? c->redis_sentinel_master
                                            : "(null)");
  if (c->redis_sentinels) {
    char buf[2048], why[200];
    const char *h[16];
    int p[16];
    if (rein__redis_parse_addrs(c->redis_sentinels, buf, sizeof buf, h, p, 16,
                                why, sizeof why) < 0)
      return invalid(e, "fleet.redis_sentinels: %s", why);
  }
  if (c->redis_cluster_nodes) {
    char buf[2048], why[200];
    const char *h[16];
    int p[16];
    if (c->redis_sentinels)
      return invalid(e, "fleet.redis_cluster_nodes: set either "
                        "redis_cluster_nodes or redis_sentinels, not both");
    if (rein__redis_parse_addrs(c->redis_cluster_nodes, buf, sizeof buf, h, p,
                                16, why, sizeof why) < 0)
      return invalid(e, "fleet.redis_cluster_nodes: %s", why);
  }
  if (!c->enable_budget && !c->enable_breaker)
    return invalid(e, "fleet.enable_budget, fleet.enable_breaker: at least "
                      "one must be true");
  if (c->enable_budget && c->budget.kind != REIN_BUDGET_RATIO)
    return invalid(e,
                   "budget.kind: a fleet budget must be \"ratio\", got "
                   "\"%s\"",
                   rein_budget_kind_name(c->budget.kind));
  if (c->enable_breaker && c->breaker.window != REIN_BREAKER_WINDOW_TIME)
    return invalid(e, "breaker.window: a fleet breaker must be \"time\" "
                      "(Redis keeps time buckets), got \"%s\"",
                   c->breaker.window == REIN_BREAKER_WINDOW_COUNT
                       ? "count"
                       : "cumulative");
  if (c->enable_breaker && c->breaker.gates != REIN_BREAKER_GATES_ALL)
    return invalid(e, "breaker.gates: a fleet breaker gates every call (its "
                      "state is shared through Redis); a retry-only breaker "
                      "is per instance, got \"retries\"");
  return REIN_OK;
}

static char *default_id(const rein_allocator *a) {
  char host[64] = "host";
  if (gethostname(host, sizeof host) != 0) strcpy(host, "host");
  host[sizeof host - 1] = 0;
  for (char *p = host; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
      *p = '_';
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
    r = (uint32_t)(uintptr_t)&r ^ (uint32_t)time(NULL);
  return fsprintf(a, "%s-%ld-%08x", host, (long)getpid(), r);
}

static void free_parts(rein_fleet *f) {
  const rein_allocator *a = f->alloc;
  rein_budget_free(f->budget);
  rein_breaker_free(f->breaker);
  rein_budget_free(f->local_budget);
  rein_breaker_free(f->local_breaker);
  rein_free(a, f->host);
  rein_free(a, f->prefix);
  rein_free(a, f->name);
  rein_free(a, f->id);
  if (f->password) {
    /* Wipe the secret before it goes back to the allocator. */
    volatile char *p = f->password;
    while (*p)
      *p++ = 0;
  }
  rein_free(a, f->password);
  rein_free(a, f->k_bwin);
  rein_free(a, f->k_blease);
  rein_free(a, f->k_bheld);
  rein_free(a, f->k_kwin);
  rein_free(a, f->k_kstate);
  rein_free(a, f->sentinels);
  rein_free(a, f->master);
  rein_free(a, f->cluster);
  if (f->rc) rein__redis_free(f->rc);
  pthread_mutex_destroy(&f->tick_mu);
  pthread_mutex_destroy(&f->st_mu);
  pthread_mutex_destroy(&f->th_mu);
  pthread_cond_destroy(&f->th_cv);
  /* The struct was over-allocated for alignment; the original pointer is
   * stored just before it. */
  void *raw = ((void **)f)[-1];
  rein_free(a, raw);
}

static rein_fleet *alloc_fleet(const rein_allocator *a) {
  size_t n = sizeof(rein_fleet) + 64 + sizeof(void *);
  char *raw = rein_alloc(a, n);
  if (!raw) return NULL;
  uintptr_t p = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
  rein_fleet *f = (rein_fleet *)p;
  memset(f, 0, sizeof *f);
  ((void **)f)[-1] = raw;
  return f;
}

rein_status rein_fleet_new(const rein_fleet_config *c, rein_fleet **out) {
  if (!c || !out) return REIN_EINVAL;
  *out = NULL;
  rein_status st = validate(c);
  if (st != REIN_OK) return st;
  const rein_allocator *a = c->alloc;
  rein_fleet *f = alloc_fleet(a);
  if (!f) return REIN_ENOMEM;
  f->alloc = a;
  pthread_mutex_init(&f->tick_mu, NULL);
  pthread_mutex_init(&f->st_mu, NULL);
  pthread_mutex_init(&f->th_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->th_cv, &ca);
  pthread_condattr_destroy(&ca);
  atomic_init(&f->mode, MODE_LOCAL);
  atomic_init(&f->kstate, REIN_BREAKER_CLOSED);

  f->port = c->redis_port;
  f->refresh_ns = c->refresh_ns;
  f->lease_ttl_ns = c->lease_ttl_ns ? c->lease_ttl_ns : 3 * c->refresh_ns;
  f->connect_ns = c->connect_timeout_ns;
  f->command_ns = c->command_timeout_ns;
  f->stale_ns = c->stale_ns ? c->stale_ns : 750 * REIN_NS_PER_MS;
  f->lease_size = c->lease_size;
  f->lease_min = c->lease_min;
  f->bcfg = c->budget;
  f->kcfg = c->breaker;
  f->clock = c->clock;
  f->log = c->log;
  f->log_ctx = c->log_ctx;
  f->status.fleet_state = REIN_BREAKER_CLOSED;

  st = REIN_ENOMEM;
  f->host = fstrdup(a, c->redis_host);
  f->prefix = fstrdup(a, c->key_prefix);
  f->name = fstrdup(a, c->name);
  f->id = c->instance_id ? fstrdup(a, c->instance_id) : default_id(a);
  if (!f->host || !f->prefix || !f->name || !f->id) goto fail;
  f->db = c->redis_db;
  if (c->redis_cluster_nodes) {
    f->cluster = fstrdup(a, c->redis_cluster_nodes);
    if (!f->cluster) goto fail;
  }
  if (c->redis_sentinels) {
    f->sentinels = fstrdup(a, c->redis_sentinels);
    f->master = fstrdup(a, c->redis_sentinel_master);
    if (!f->sentinels || !f->master) goto fail;
    char why[200];
    f->nsent = rein__redis_parse_addrs(f->sentinels, f->sent_buf,
                                       sizeof f->sent_buf, f->sent_host,
                                       f->sent_port, 16, why, sizeof why);
    if (f->nsent < 1) {
      st = invalid(c->err, "fleet.redis_sentinels: %s", why);
      goto fail;
    }
  }
  if (c->redis_password) {
    f->password = fstrdup(a, c->redis_password);
    if (!f->password) goto fail;
  }
  f->k_bwin = fsprintf(a, "%s:{%s}:budget:win", f->prefix, f->name);
  f->k_blease = fsprintf(a, "%s:{%s}:budget:leases", f->prefix, f->name);
  f->k_bheld = fsprintf(a, "%s:{%s}:budget:held", f->prefix, f->name);
  f->k_kwin = fsprintf(a, "%s:{%s}:breaker:win", f->prefix, f->name);
  f->k_kstate = fsprintf(a, "%s:{%s}:breaker:state", f->prefix, f->name);
  if (!f->k_bwin || !f->k_blease || !f->k_bheld || !f->k_kwin || !f->k_kstate)
    goto fail;

  if (c->enable_budget) {
    rein_budget_config bc = c->budget;
    bc.alloc = a;
    bc.err = c->err;
    st = rein_budget_new(&bc, &f->local_budget);
    if (st != REIN_OK) goto fail;
    st = rein_budget_new_custom(&fleet_budget_vt, f, a, &f->budget);
    if (st != REIN_OK) goto fail;
  }
  if (c->enable_breaker) {
    rein_breaker_config kc = c->breaker;
    kc.alloc = a;
    kc.err = c->err;
    st = rein_breaker_new(&kc, &f->local_breaker);
    if (st != REIN_OK) goto fail;
    st = rein_breaker_new_custom(&fleet_breaker_vt, f, a, &f->breaker);
    if (st != REIN_OK) goto fail;
  }

  if (c->join_on_new) rein_fleet_tick(f, rein_clock_now(&f->clock));
  if (c->start_thread) {
    if (pthread_create(&f->th, NULL, refresher, f) != 0) {
      st = REIN_EIO;
      goto fail;
    }
    f->th_started = true;
  }
  *out = f;
  return REIN_OK;
fail:
  free_parts(f);
  return st;
}

void rein_fleet_free(rein_fleet *f) {
  if (!f) return;
  if (f->th_started) {
    pthread_mutex_lock(&f->th_mu);
    f->th_stop = true;
    pthread_cond_broadcast(&f->th_cv);
    pthread_mutex_unlock(&f->th_mu);
    pthread_join(f->th, NULL);
  }
  pthread_mutex_lock(&f->tick_mu);
  if (f->rc) tick_locked(f, rein_clock_now(&f->clock), true);
  pthread_mutex_unlock(&f->tick_mu);
  free_parts(f);
}

rein_budget *rein_fleet_budget(rein_fleet *f) {
  return f ? f->budget : NULL;
}

rein_breaker *rein_fleet_breaker(rein_fleet *f) {
  return f ? f->breaker : NULL;
}

/* ------------------------------------------------------------ status */

void rein_fleet_status_get(rein_fleet *f, rein_fleet_status *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!f) return;
  pthread_mutex_lock(&f->st_mu);
  *out = f->status;
  pthread_mutex_unlock(&f->st_mu);
  out->degraded =
      atomic_load_explicit(&f->mode, memory_order_acquire) != MODE_FLEET;
  int64_t t = atomic_load(&f->tokens);
  out->lease_tokens = t > 0 ? (uint32_t)t : 0;
  sums s;
  sum_stripes(f, &s);
  out->requests = s.requests;
  out->retries_fleet = s.spent_fleet;
  out->retries_local = s.spent_local;
  out->retries_refused = s.denied;
  out->breaker_rejections = s.rejections;
}

rein_status rein_fleet_write_prometheus(rein_fleet *f, char *buf, size_t cap,
                                        size_t *needed) {
  if (!f || (!buf && cap > 0)) return REIN_EINVAL;
  rein_fleet_status s;
  rein_fleet_status_get(f, &s);
  char lbl[300];
  snprintf(lbl, sizeof lbl, "fleet=\"%s\",instance=\"%s\"", f->name, f->id);
  size_t used = 0, total = 0;
  char line[512];
#define EMIT(...)                                                              \
  do {                                                                         \
    int n_ = snprintf(line, sizeof line, __VA_ARGS__);                         \
    if (n_ > 0) {                                                              \
      size_t k_ = (size_t)n_;                                                  \
      if (cap > 0 && used + k_ < cap) {                                        \
        memcpy(buf + used, line, k_);                                          \
        used += k_;                                                            \
      } else {                                                                 \
        used = cap; /* stop writing once something did not fit */              \
      }                                                                        \
      total += k_;                                                             \
    }                                                                          \
  } while (0)
  EMIT("# HELP rein_fleet_degraded 1 when decisions use the local budget "
       "and breaker.\n# TYPE rein_fleet_degraded gauge\n"
       "rein_fleet_degraded{%s} %d\n",
       lbl, s.degraded ? 1 : 0);
  EMIT("# TYPE rein_fleet_refreshes_total counter\n"
       "rein_fleet_refreshes_total{%s} %" PRIu64 "\n",
       lbl, s.refreshes);
  EMIT("# TYPE rein_fleet_refresh_failures_total counter\n"
       "rein_fleet_refresh_failures_total{%s} %" PRIu64 "\n",
       lbl, s.failures);
  EMIT("# TYPE rein_fleet_degradations_total counter\n"
       "rein_fleet_degradations_total{%s} %" PRIu64 "\n",
       lbl, s.degradations);
  EMIT("# TYPE rein_fleet_redis_commands_total counter\n"
       "rein_fleet_redis_commands_total{%s} %" PRIu64 "\n",
       lbl, s.commands);
  EMIT("# TYPE rein_fleet_lease_tokens gauge\n"
       "rein_fleet_lease_tokens{%s} %u\n",
       lbl, s.lease_tokens);
  EMIT("# TYPE rein_fleet_retries_total counter\n"
       "rein_fleet_retries_total{%s,source=\"fleet\"} %" PRIu64 "\n"
       "rein_fleet_retries_total{%s,source=\"local\"} %" PRIu64 "\n",
       lbl, s.retries_fleet, lbl, s.retries_local);
  EMIT("# HELP rein_fleet_breaker_state 0 closed, 1 open, 2 half-open.\n"
       "# TYPE rein_fleet_breaker_state gauge\n"
       "rein_fleet_breaker_state{%s} %d\n",
       lbl, (int)s.fleet_state);
#undef EMIT
  if (cap > 0) buf[used < cap ? used : cap - 1] = 0;
  if (needed) *needed = total;
  return total < cap ? REIN_OK : REIN_ETOOBIG;
}
