/* SPDX-License-Identifier: Apache-2.0 */
/*
 * engine.c: the discrete-event engine of the simulator.
 *
 * Events are taken in (time, sequence number) order; the sequence number
 * makes the order total, so a run is a pure function of the scenario, the
 * variant and the seed. They are kept in a 4-ary min-heap, a small side
 * heap (arrivals, incident edges) and FIFO lanes (events for the current
 * instant, ticks, attempt timeouts of one duration) that are each in that
 * order by construction; the next event is the least of their heads (see
 * push and next_event). Calls, requests and events come from pools that
 * grow by doubling and hand out their least free index, so the steady
 * state allocates nothing per event and the records in use stay packed.
 *
 * What is modelled here is the world, never the policy: each logical call is
 * a rein_retry of a rein_policy built from the scenario (with the library's
 * rein_budget, rein_breaker and rein_throttle objects), and the engine only
 * carries out its decisions: ATTEMPT sends a request over a modelled network
 * to a modelled server, WAIT schedules a wake-up, DONE / GIVE_UP end the call.
 * Virtual time is a rein_manual_clock set to each event's time, and `now` is
 * passed explicitly to every decision.
 *
 * Stale events (a timeout for an attempt that already answered, a response
 * for an attempt that timed out) are not removed from the heap; each carries
 * the serial of the call state it was scheduled for and is ignored when the
 * call has moved on.
 *
 * Random streams are separate (arrivals, service, network, call seeds) so
 * that two variants run on the same seed see the same arrivals.
 *
 * A call whose policy hedges (rein/hedge.h) is a rein_hedge instead of a
 * rein_retry: its state lives in a side pool (sim_hedge, found through the
 * cold record, which it does not need), with up to 8 attempts in flight,
 * each with its own serial for its timeout and answer; the call's serial
 * names its hedge timer. When it ends, the attempts it cancels are marked:
 * one still queued at its server is dropped when it reaches the head of
 * the queue (never served), one in service runs to the end (wasted work).
 * The cancel itself takes no time to reach the server.
 *
 * Replicas: a server with `replicas: N` is N entries of R->srv (its
 * replica 0 at R->srv_first[server]), each with its own queue, workers,
 * admission and downstream policy objects; a request's `server` is the
 * entry. Which replica an attempt goes to follows rein_curl's endpoints
 * (docs/http.md "Endpoints"): the first attempt of a call takes the
 * caller's next replica round robin (a client's counter for a cohort's
 * calls, starting at the client's index in its cohort; an upstream
 * replica's for a tier's), every later attempt the first replica after
 * the last one used that this call has not tried, and when every one was
 * tried, the one whose last failure in this call is the oldest (one with
 * an attempt in flight last). A retrying call has one attempt at a time,
 * so that is the next replica in list order after the last one used. A
 * policy with `endpoints: sticky` sends every attempt to the replica of
 * the first. A server with one replica draws nothing and routes as before.
 */
#include "sim_internal.h"

#include "rein/input.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONE UINT32_MAX

enum {
  EV_ARRIVAL = 0,  /* poisson or periodic cohort: id = cohort */
  EV_CLIENT_START, /* closed / one-shot client: id = client */
  EV_REQ_ARRIVE,   /* id = request, at its server */
  EV_SERVICE_DONE, /* id = request, gen = its call (to prefetch) */
  EV_RESP,         /* id = request, back at the caller */
  EV_TIMEOUT,      /* id = call, gen = serial */
  EV_WAKE,         /* id = call, gen = serial */
  EV_TICK,         /* id = interval index */
  EV_INCIDENT,     /* id = incident index, gen = 0 start / 1 end */
  EV_SETTLE        /* id = server: rein_admit_settle timer */
};

/* 24 bytes: `seq` holds the sequence number above the type (4 bits), so
 * (t, seq) orders events exactly as (t, sequence number) does. */
typedef struct ev {
  int64_t t;
  uint64_t seq; /* sequence number << 4 | type */
  uint32_t id, gen;
} ev;

#define EV_TYPE(e) ((uint32_t)((e)->seq & 15))
_Static_assert(EV_SETTLE < 16, "event types fit in 4 bits");

/* The library objects one caller (client, cohort or tier) uses. */
typedef struct pol_inst {
  rein_policy *p;
  rein_breaker *br; /* for the breaker-open gauge */
  const sim_policy_spec *spec;
  rein_hedge_policy *hp; /* the policy hedges; NULL = it retries */
} pol_inst;

typedef struct sim_client {
  uint32_t cohort;
  uint32_t pol;   /* index into run->insts */
  uint8_t done;   /* one-shot: succeeded */
  uint8_t rr;     /* the replica its next call starts on (replicas) */
} sim_client;

/* A logical call is split in two records of the same index. The hot one
 * (32 bytes, two per cache line) is what stale events and the server look
 * at: a timeout one virtual timeout after its attempt answered, a service
 * completion. The cold one holds the rein_retry and what only the call's
 * own decisions need. A stale timeout thus touches one cache line, not
 * three. */
typedef struct sim_call {
  uint32_t serial;      /* current state's serial (attempt or wait) */
  uint32_t cur_req;     /* outstanding attempt, NONE when none */
  uint32_t outstanding; /* requests not yet freed */
  uint32_t execs;       /* successful executions at the target */
  uint32_t owner;       /* client index, or the upstream request (tier) */
  uint32_t bucket;      /* interval the call began in */
  uint8_t top;          /* from a client cohort */
  uint8_t finished;
  uint8_t idempotent, dedup, key;
  uint8_t poisson; /* top call of an open-loop (Poisson or periodic)
                      client: nothing follows */
  uint8_t hedged;  /* a rein_hedge call: its state is R->hx[cold.hx] */
} sim_call;

typedef struct sim_call_cold {
  union {
    rein_retry r;
    uint32_t hx; /* hedged calls: index into R->hx */
  };
  int64_t begin_t;
  uint32_t target;      /* server */
  uint32_t pol;
  uint32_t last_cond; /* the last failed attempt's HTTP or gRPC status */
  uint8_t rep;        /* the replica of its last attempt (replicas) */
} sim_call_cold; /* 144 bytes (rein_retry is 120) */

/* One attempt in flight: 64 bytes, one cache line (the pool is aligned). */
typedef struct sim_req {
  int64_t enq_t;
  uint64_t occ_ver;
  int64_t out_delay; /* the answer: rein_outcome's server_delay_ns */
  uint32_t call, serial, server, attempt;
  uint32_t occ_key;
  uint32_t ticket; /* admission ticket index, NONE without */
  uint32_t next_free;
  uint8_t abandoned;
  uint8_t out_kind, out_dont_retry; /* the answer: kind, dont_retry */
  uint8_t cancelled; /* its hedged call ended: drop it if still queued */
  uint32_t out_cond; /* the answer's rein_condition (rein/classify.h) */
  uint8_t pad_[4];
} sim_req;
_Static_assert(sizeof(sim_req) == 64, "sim_req is one cache line");

typedef struct sim_srv {
  const sim_server_spec *spec;
  uint32_t sidx;               /* the scenario's server */
  uint8_t rep;                 /* which of its replicas */
  uint8_t rr;                  /* the downstream replica its next call
                                  starts on */
  uint32_t busy, cap;
  uint32_t *q;
  uint32_t qsize, qhead, qlen; /* ring of size qsize (power of two) */
  int outage;                  /* -1 none, else sim_outage_mode */
  double slow, fail_p;
  rein_condition fail_cond; /* what failures answer with (HTTP 500) */
  uint64_t *occ;
  uint32_t rate_b[10];
  int64_t rate_idx;
  uint32_t pol;                /* downstream policy instance; NONE */
  /* a `buffer` outage (a partition that holds messages): requests that
   * arrived and answers that left meanwhile, in order; bit 31 set = an
   * answer. Delivered when the outage ends (flush_held). */
  uint32_t *held;
  uint32_t nheld, held_cap;
  rein_sim_server_summary sum;
#ifdef REIN_SIM_ADMIT
  /* rein admission control: tickets queued inside it that became ADMITTED
   * or REJECTED during a call are noted by `notify` and handled after the
   * call returns (notify runs under the admit's lock) */
  rein_admit *adm;
  struct run *R;
  uint32_t *pending;
  size_t npending, pending_cap;
  int settle_at_pending, nomem;
#endif
} sim_srv;

#define TCHUNK 4096u

/* The free indices of a pool, handing out the least one: a bitmap (bit set
 * = free) with summary levels above it (bit j of level k+1 is set when
 * word j of level k is not zero; the top level is one word).
 *
 * Why not a free list: after a burst (a queue of 100,000 requests during an
 * incident) a LIFO free list keeps recycling a few thousand records spread
 * over the whole grown pool, one cache line and often one page each, for
 * the rest of the run. Taking the least free index keeps the records in
 * use packed at the start of the pool. Used for calls, whose index is only
 * a name: stale events recognise their call by serial, so which index a
 * call gets changes nothing in the results. Requests keep the LIFO free
 * list (their reuse order is part of the recorded outputs). */
typedef struct freeset {
  uint64_t *w[6];
  size_t nw[6];
  int levels;
} freeset;

/* What the memory budget accounts for, by what grows (see mem_malloc). */
enum {
  M_CLIENTS,
  M_CALLS,
  M_REQS,
  M_EVENTS,
  M_QUEUES,
  M_SERIES,
  M_OBJECTS,
  M_ADMIT,
  M_N
};
static const char *const mem_what[M_N] = {
    "clients",
    "in-flight calls",
    "in-flight requests",
    "queued events",
    "server queues",
    "series samples",
    "policy objects (budgets, breakers, throttles, policies)",
    "admission tickets"};

typedef struct run {
  const rein_sim_scenario *s;
  const sim_variant_spec *va;
  const rein_allocator *a;  /* &acct: every allocation of the run */
  const rein_allocator *ua; /* the caller's (the result is made with it) */
  rein_allocator acct;
  uint64_t mem_budget, mem_total, mem_by[M_N];
  uint64_t mem_over_need; /* bytes the refused allocation would have made */
  int mem_tag, mem_over_what;
  rein_errbuf *err;
  rein_manual_clock clock;
  rein_rng r_arr, r_srv, r_net, r_seed;
  sim_expz expz; /* exponential draws (expz.c) */
  int64_t now, end, interval;
  size_t bucket_now; /* bucket_of(R, now) */
  uint64_t seq, events, max_events;
  uint32_t serial;

  struct heap {
    ev *a;
    size_t len, cap;
  } heap, side; /* side: arrivals and incident edges (see push) */
  /* Timeout lanes: attempt timeouts of one duration are scheduled in time
   * order, so each duration gets a FIFO instead of the heap (most timeouts
   * go stale; popping them from a FIFO costs nothing). The next event is
   * the least (t, seq) of the heap top and the lane heads: the same order
   * as one heap. */
  struct lane {
    int64_t dur;
    ev *buf;
    size_t cap, head, len; /* cap a power of two */
  } lanes[8];
  size_t nlanes;
  struct lane nowl;  /* events for the current instant (see push) */
  struct lane tickl; /* interval ticks */
  /* The lane among tickl and lanes[] whose head is least (NULL: all
   * empty), valid while lmin_ok: only a pop from one of them or an append
   * to an empty one changes it, so next_event does not compare every head
   * at every event. */
  struct lane *lmin;
  int lmin_ok;

  sim_call *calls;
  sim_call_cold *callc; /* same index, same capacity */
  void *calls_raw, *callc_raw, *reqs_raw; /* as allocated (grow_aligned) */
  uint32_t ncalls, calls_cap;
  freeset call_fs;
  sim_req *reqs;
  uint32_t nreqs, reqs_cap, req_free;
  /* hedged calls' state (see the top of the file) */
  struct sim_hedge {
    rein_hedge h;
    uint32_t req[REIN_HEDGE_MAX_ATTEMPTS], serial[REIN_HEDGE_MAX_ATTEMPTS];
    uint32_t next_free;
    /* replicas: each attempt's, and when it failed (an order: 0 = not
     * yet) */
    uint8_t rep[REIN_HEDGE_MAX_ATTEMPTS];
    uint32_t failed_at[REIN_HEDGE_MAX_ATTEMPTS], nfailed;
  } *hx;
  uint32_t nhx, hx_cap, hx_free;
#ifdef REIN_SIM_ADMIT
  /* admission tickets must not move while in use: chunks, never realloc */
  rein_admit_ticket **tchunks;
  size_t ntchunks, tchunks_cap;
  uint32_t tcount;
  uint32_t *tfree;
  size_t ntfree, tfree_cap;
#endif

  sim_client *clients;
  uint32_t *client_pol; /* clients[i].pol, packed (one Poisson arrival
                           reads it for a random client) */
  uint32_t nclients;
  uint32_t *cohort_first; /* first client index per cohort */
  /* periodic cohorts: call j of the cohort is at t0 + j x period and goes
   * to client j mod count (see on_arrival); n = calls so far */
  struct periodic {
    int64_t t0;
    double period_ns;
    uint64_t n;
  } *per;
  sim_srv *srv;
  uint32_t *srv_first; /* per scenario server: its replica 0 in srv */
  size_t nsrv;         /* entries of srv: every server's replicas */

  /* owned library objects */
  pol_inst *insts;
  size_t ninsts, insts_cap;
  void **objs;
  uint8_t *obj_kind; /* 0 budget 1 breaker 2 throttle 3 policy 4 hedge */
  size_t nobjs, objs_cap;
  rein_breaker **brk;
  uint32_t *brk_weight;
  size_t nbrk, brk_cap;

  /* measurements */
  rein_sim_result *res;
  uint64_t *bucket_calls, *bucket_attempts;
  uint64_t lat[SIM_LAT_BUCKETS];
  uint64_t lat_n;
  uint32_t inflight;
  uint64_t oneshot_clients, oneshot_done;
  int64_t oneshot_last;
  void (*progress)(void *, double);
  void *progress_ctx;
  rein_status st;
} run;

/* ---------------------------------------------------------------------- */
/* Memory budget                                                           */

/* Every allocation of a run goes through R->acct: a header in front of each
 * block keeps its size and what it was for (R->mem_tag at the time), so the
 * account is exact and costs nothing per event: the pools grow by doubling,
 * so allocations are rare. One past the budget is refused (the caller sees
 * an allocation failure and stops) and remembered, so the run can say what
 * grew and how much it needed (mem_message). */
typedef struct mem_hdr {
  uint64_t size;
  uint32_t tag, pad;
} mem_hdr;

static void *mem_malloc(void *ctx, size_t n) {
  run *R = ctx;
  uint64_t need = R->mem_total + n;
  if (need > R->mem_budget) {
    if (!R->mem_over_need) {
      R->mem_over_need = need;
      R->mem_over_what = R->mem_tag;
    }
    return NULL;
  }
  mem_hdr *h = rein__sim_alloc(R->ua, sizeof *h + n);
  if (!h) return NULL;
  h->size = n;
  h->tag = (uint32_t)R->mem_tag;
  R->mem_total += n;
  R->mem_by[R->mem_tag] += n;
  return h + 1;
}

static void mem_release(void *ctx, void *p) {
  run *R = ctx;
  if (!p) return;
  mem_hdr *h = (mem_hdr *)p - 1;
  R->mem_total -= h->size;
  R->mem_by[h->tag] -= h->size;
  rein__sim_free(R->ua, h);
}

/* Set what the next allocations are for; returns the previous tag. */
static inline int mem_for(run *R, int tag) {
  int was = R->mem_tag;
  R->mem_tag = tag;
  return was;
}

/* "memory budget of 512 MiB exceeded: in-flight calls would grow to ..." */
static void mem_message(run *R, const char *when) {
  if (!R->err) return;
  char b[5][32];
  int w = R->mem_over_what;
  int n = snprintf(
      R->err->msg, sizeof R->err->msg,
      "memory budget of %s exceeded %s: %s would grow to %s (the run would "
      "need %s; now",
      rein_format_size(R->mem_budget, b[0], sizeof b[0]), when, mem_what[w],
      rein_format_size(R->mem_by[w] + (R->mem_over_need - R->mem_total), b[1],
                       sizeof b[1]),
      rein_format_size(R->mem_over_need, b[2], sizeof b[2]));
  for (int k = 0; k < M_N && n > 0 && (size_t)n < sizeof R->err->msg; k++)
    if (R->mem_by[k])
      n += snprintf(R->err->msg + n, sizeof R->err->msg - (size_t)n, " %s %s;",
                    mem_what[k],
                    rein_format_size(R->mem_by[k], b[3], sizeof b[3]));
  if (n > 0 && (size_t)n < sizeof R->err->msg)
    snprintf(R->err->msg + n, sizeof R->err->msg - (size_t)n,
             " raise it with --max-memory or the scenario's max_memory, or "
             "shrink the scenario)");
}

/* The budget when neither the caller nor the scenario gives one: half the
 * physical memory, at most what /proc/meminfo says is available. */
uint64_t rein_sim_default_memory(void) {
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
  uint64_t phys = pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz
                                       : UINT64_C(8) << 30;
  uint64_t b = phys / 2;
  FILE *f = fopen("/proc/meminfo", "r");
  if (f) {
    char line[128];
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        if (kb * 1024 < b) b = kb * 1024;
        break;
      }
    fclose(f);
  }
  return b < (UINT64_C(64) << 20) ? UINT64_C(64) << 20 : b;
}

/* ---------------------------------------------------------------------- */
/* Growable arrays through the caller's allocator                          */

static int grow(run *R, void **arr, size_t elem, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *n = rein__sim_alloc(R->a, nc * elem);
  if (!n) {
    R->st = REIN_ENOMEM;
    return -1;
  }
  if (*arr) {
    memcpy(n, *arr, *cap * elem);
    rein__sim_free(R->a, *arr);
  }
  *arr = n;
  *cap = nc;
  return 0;
}

/* grow() for pools of records of 32, 64 or 128 bytes: the array starts on
 * a 64-byte boundary so no record straddles two cache lines. `*raw` is
 * what was allocated (what to free). */
static int grow_aligned(run *R, void **arr, void **raw, size_t elem,
                        size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *n = rein__sim_alloc(R->a, nc * elem + 63);
  if (!n) {
    R->st = REIN_ENOMEM;
    return -1;
  }
  void *al = (void *)(((uintptr_t)n + 63) & ~(uintptr_t)63);
  if (*arr) memcpy(al, *arr, *cap * elem);
  rein__sim_free(R->a, *raw);
  *arr = al;
  *raw = n;
  *cap = nc;
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Event heap                                                              */

/* (t, seq) as one unsigned 128-bit number: times are never negative, so
 * its order is the (t, seq) order, and one comparison is two instructions
 * (cmp, sbb) without a branch. */
static inline unsigned __int128 ev_key(const ev *x) {
  return (unsigned __int128)(uint64_t)x->t << 64 | x->seq;
}

static inline int ev_less(const ev *x, const ev *y) {
  return ev_key(x) < ev_key(y);
}

/* Double the ring of lane `l`. */
static __attribute__((noinline)) int lane_grow(run *R, struct lane *l) {
  size_t nc = l->cap ? l->cap * 2 : 1024;
  int was = mem_for(R, M_EVENTS);
  ev *nb = rein__sim_alloc(R->a, nc * sizeof(ev));
  mem_for(R, was);
  if (!nb) {
    R->st = REIN_ENOMEM;
    return -1;
  }
  for (size_t i = 0; i < l->len; i++)
    nb[i] = l->buf[(l->head + i) & (l->cap - 1)];
  rein__sim_free(R->a, l->buf);
  l->buf = nb;
  l->cap = nc;
  l->head = 0;
  return 0;
}

/* Append `e` to lane `l` (a ring buffer of events in (t, seq) order). */
static inline int lane_append(run *R, struct lane *l, const ev *e) {
  if (l->len == l->cap && lane_grow(R, l)) return -1;
  if (!l->len && l != &R->nowl) R->lmin_ok = 0; /* a new head */
  l->buf[(l->head + l->len) & (l->cap - 1)] = *e;
  l->len++;
  return 0;
}

/* A 4-ary min-heap: half the levels of a binary heap, and the four
 * children of a node share a cache line pair. Keys (t, seq) are unique,
 * so the order events leave a heap in does not depend on how it is laid
 * out, only on the keys. */
static int heap_push(run *R, struct heap *h, const ev *e) {
  if (h->len == h->cap) {
    int was = mem_for(R, M_EVENTS);
    int r = grow(R, (void **)&h->a, sizeof(ev), &h->cap, h->len + 1);
    mem_for(R, was);
    if (r) return -1;
  }
  size_t i = h->len++;
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!ev_less(e, &h->a[p])) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = *e;
  return 0;
}

/* Branch-free (t, seq) comparison: the children of a heap node are in
 * random order, so a branch per comparison is mispredicted half the
 * time. */
static inline int ev_less_bf(const ev *x, const ev *y) {
  return ev_key(x) < ev_key(y);
}

/* Remove the least event. Bottom-up: the hole at the root walks down to a
 * leaf along the least children (a tournament of conditional moves per
 * level, no comparison against the moved element), then the last element
 * climbs from there; it belongs near the bottom, so it rarely climbs. */
static ev heap_pop(struct heap *h) {
  ev *a = h->a;
  ev top = a[0];
  ev last = a[--h->len];
  size_t n = h->len, i = 0;
  if (!n) return top;
  for (;;) {
    size_t c = 4 * i + 1, m;
    if (c + 3 < n) {
      /* the next level is one of these four children's blocks: start
       * loading all of them (16 events, 6 cache lines) while choosing */
      if (4 * c + 1 < n) {
        const char *g = (const char *)&a[4 * c + 1];
        _Static_assert(16 * sizeof(ev) == 6 * 64, "16 events, 6 lines");
        __builtin_prefetch(g);
        __builtin_prefetch(g + 64);
        __builtin_prefetch(g + 128);
        __builtin_prefetch(g + 192);
        __builtin_prefetch(g + 256);
        __builtin_prefetch(g + 320);
      }
      size_t m01 = c + (size_t)ev_less_bf(&a[c + 1], &a[c]);
      size_t m23 = c + 2 + (size_t)ev_less_bf(&a[c + 3], &a[c + 2]);
      m = ev_less_bf(&a[m23], &a[m01]) ? m23 : m01;
    } else if (c < n) {
      m = c;
      for (size_t j = c + 1; j < n; j++)
        if (ev_less(&a[j], &a[m])) m = j;
    } else {
      break;
    }
    a[i] = a[m];
    i = m;
  }
  while (i > 0) {
    size_t p = (i - 1) / 4;
    if (!ev_less(&last, &a[p])) break;
    a[i] = a[p];
    i = p;
  }
  a[i] = last;
  return top;
}

/* Schedule an event. Where it is kept (every structure yields its events
 * in (t, seq) order and next_event takes the least head, so the order is
 * the same as one heap's):
 * - events for the current instant (a request reaching a server with no
 *   network delay, an answer going back) go to the `nowl` lane: they are
 *   appended with t = now, which never decreases, and increasing seq; in
 *   the heap such an event would climb to the root and sink back through
 *   every level;
 * - interval ticks (all scheduled at the start, in time order) to the
 *   `tickl` lane;
 * - Poisson arrivals (one pending per cohort, always due soon) and
 *   incident edges to the small side heap;
 * - the rest (service completions, backoff wake-ups, ...) to the heap. */
static int push(run *R, int64_t t, uint32_t type, uint32_t id, uint32_t gen) {
  ev e = {t, R->seq++ << 4 | type, id, gen};
  if (t == R->now) return lane_append(R, &R->nowl, &e);
  switch (type) {
  case EV_TICK: return lane_append(R, &R->tickl, &e);
  case EV_ARRIVAL:
  case EV_INCIDENT: return heap_push(R, &R->side, &e);
  default: return heap_push(R, &R->heap, &e);
  }
}

/* Schedule a timeout `delay` from now in its duration's lane (or the heap
 * when all lanes are taken by other durations). */
static int push_timeout(run *R, int64_t delay, uint32_t id, uint32_t gen) {
  struct lane *l = NULL;
  for (size_t i = 0; i < R->nlanes; i++)
    if (R->lanes[i].dur == delay) l = &R->lanes[i];
  if (!l && R->nlanes < sizeof R->lanes / sizeof R->lanes[0]) {
    l = &R->lanes[R->nlanes++];
    memset(l, 0, sizeof *l);
    l->dur = delay;
  }
  if (!l) return push(R, R->now + delay, EV_TIMEOUT, id, gen);
  ev e = {R->now + delay, R->seq++ << 4 | EV_TIMEOUT, id, gen};
  return lane_append(R, l, &e);
}

static inline void lane_best(struct lane *l, const ev **best,
                             struct lane **bl) {
  if (!l->len) return;
  const ev *h = &l->buf[l->head];
  if (!*best || ev_less(h, *best)) *best = h, *bl = l;
}

/* The next event in (t, seq) order from the heaps and the lanes; 0 when
 * there is none. */
static int next_event(run *R, ev *out) {
  const ev *best = R->heap.len ? &R->heap.a[0] : NULL;
  struct lane *bl = NULL;
  struct heap *bh = best ? &R->heap : NULL;
  if (R->side.len && (!best || ev_less(&R->side.a[0], best)))
    best = &R->side.a[0], bh = &R->side;
  lane_best(&R->nowl, &best, &bl);
  if (!R->lmin_ok) {
    const ev *lb = NULL;
    R->lmin = NULL;
    lane_best(&R->tickl, &lb, &R->lmin);
    for (size_t i = 0; i < R->nlanes; i++)
      lane_best(&R->lanes[i], &lb, &R->lmin);
    R->lmin_ok = 1;
  }
  if (R->lmin) lane_best(R->lmin, &best, &bl);
  if (!best) return 0;
  if (bl) {
    if (bl != &R->nowl) R->lmin_ok = 0; /* its head moves on */
    *out = *best;
    bl->head = (bl->head + 1) & (bl->cap - 1);
    bl->len--;
    /* lane entries were written one timeout ago: fetch ahead, and the
     * call record the next timeout checks */
    __builtin_prefetch(&bl->buf[(bl->head + 4) & (bl->cap - 1)]);
    if (bl->len && EV_TYPE(&bl->buf[bl->head]) == EV_TIMEOUT)
      __builtin_prefetch(&R->calls[bl->buf[bl->head].id]);
  } else {
    *out = heap_pop(bh);
  }
  /* Start loading what the next heap event will touch while this one is
   * handled (its request and call were last used long ago in virtual
   * time): a service completion answers the call (hot record) and the
   * answer goes through its rein_retry (cold record, two lines). */
  if (R->heap.len) {
    const ev *nx = &R->heap.a[0];
    switch (EV_TYPE(nx)) {
    case EV_SERVICE_DONE:
      __builtin_prefetch(&R->reqs[nx->id]);
      __builtin_prefetch(&R->calls[nx->gen]);
      __builtin_prefetch(&R->callc[nx->gen]);
      __builtin_prefetch((const char *)&R->callc[nx->gen] + 64);
      break;
    case EV_REQ_ARRIVE:
    case EV_RESP: __builtin_prefetch(&R->reqs[nx->id]); break;
    case EV_WAKE:
      __builtin_prefetch(&R->calls[nx->id]);
      __builtin_prefetch(&R->callc[nx->id]);
      __builtin_prefetch((const char *)&R->callc[nx->id] + 64);
      break;
    default: break;
    }
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/* Sampling                                                                */

static double sample(run *R, rein_rng *r, const sim_dist *d) {
  switch (d->kind) {
  case SIM_D_CONSTANT: return d->a;
  case SIM_D_EXPONENTIAL: return d->a * rein__sim_expz(&R->expz, r);
  case SIM_D_UNIFORM: return d->a + (d->b - d->a) * rein_rng_uniform_inline(r);
  case SIM_D_LOGNORMAL: return exp(d->a + d->b * rein_rng_normal(r));
  case SIM_D_BIMODAL: return rein_rng_uniform_inline(r) < d->c ? d->b : d->a;
  case SIM_D_NORMAL:
    for (int i = 0; i < 16; i++) {
      double x = d->a + d->b * rein_rng_normal(r);
      if (x >= d->c && x <= d->d) return x;
    }
    return d->a < d->c ? d->c : (d->a > d->d ? d->d : d->a);
  }
  return d->a;
}

static inline int64_t dur(double ns) {
  if (ns < 0) return 0;
  if (ns > 9e18) return INT64_C(9000000000000000000);
  return (int64_t)ns;
}

static inline int64_t net(run *R, uint32_t server) {
  const sim_server_spec *sp = R->srv[server].spec;
  return sp->has_network ? dur(sample(R, &R->r_net, &sp->network)) : 0;
}

static inline uint64_t seed_next(run *R) {
  uint64_t x = rein_rng_next_inline(&R->r_seed);
  return x ? x : 1;
}

static inline size_t bucket_of(run *R, int64_t t) {
  size_t k = (size_t)(t / R->interval);
  return k < R->res->n_points ? k : R->res->n_points - 1;
}

/* The point of the interval `now` is in (bucket_of(R, now), kept in
 * R->bucket_now by the main loop whenever time moves: one division per
 * instant instead of one per counter). */
static inline rein_sim_point *pt(run *R) {
  return &R->res->points[R->bucket_now];
}

/* ---------------------------------------------------------------------- */
/* Pools                                                                   */

/* Make room in `f` for indices below `cap` (keeps the free ones). */
static int fs_reserve(run *R, freeset *f, size_t cap) {
  size_t nw[6];
  uint64_t *w[6] = {NULL};
  int levels = 0;
  size_t n = (cap + 63) / 64;
  if (!n) n = 1;
  for (;;) {
    nw[levels++] = n;
    if (n == 1) break;
    n = (n + 63) / 64;
  }
  for (int k = 0; k < levels; k++) {
    w[k] = rein__sim_calloc(R->a, nw[k] * sizeof(uint64_t));
    if (!w[k]) {
      for (int j = 0; j < k; j++) rein__sim_free(R->a, w[j]);
      R->st = REIN_ENOMEM;
      return -1;
    }
  }
  if (f->levels) memcpy(w[0], f->w[0], f->nw[0] * sizeof(uint64_t));
  for (int k = 1; k < levels; k++)
    for (size_t j = 0; j < nw[k - 1]; j++)
      if (w[k - 1][j]) w[k][j >> 6] |= UINT64_C(1) << (j & 63);
  for (int k = 0; k < f->levels; k++) rein__sim_free(R->a, f->w[k]);
  for (int k = 0; k < levels; k++) f->w[k] = w[k], f->nw[k] = nw[k];
  f->levels = levels;
  return 0;
}

static void fs_free(run *R, freeset *f) {
  for (int k = 0; k < f->levels; k++) rein__sim_free(R->a, f->w[k]);
}

/* Index `i` (below the reserved capacity) is free. */
static inline void fs_add(freeset *f, size_t i) {
  for (int k = 0; k < f->levels; k++) {
    uint64_t *w = &f->w[k][i >> 6];
    uint64_t was = *w;
    *w = was | UINT64_C(1) << (i & 63);
    if (was) return;
    i >>= 6;
  }
}

/* Take the least free index; NONE when there is none. */
static inline uint32_t fs_take(freeset *f) {
  if (!f->levels || !f->w[f->levels - 1][0]) return NONE;
  size_t j = 0;
  for (int k = f->levels - 1; k >= 0; k--)
    j = j * 64 + (size_t)__builtin_ctzll(f->w[k][j]);
  size_t i = j;
  for (int k = 0; k < f->levels; k++) {
    uint64_t *w = &f->w[k][i >> 6];
    *w &= ~(UINT64_C(1) << (i & 63));
    if (*w) break;
    i >>= 6;
  }
  return (uint32_t)j;
}

static uint32_t call_new(run *R) {
  uint32_t i = fs_take(&R->call_fs);
  if (i == NONE) {
    size_t cap = R->calls_cap, capc = R->calls_cap;
    if (R->ncalls == cap) {
      int was = mem_for(R, M_CALLS);
      int r = grow_aligned(R, (void **)&R->calls, &R->calls_raw,
                           sizeof(sim_call), &cap, R->ncalls + 1) ||
              grow_aligned(R, (void **)&R->callc, &R->callc_raw,
                           sizeof(sim_call_cold), &capc, R->ncalls + 1);
      if (capc < cap) cap = capc;
      if (!r) r = fs_reserve(R, &R->call_fs, cap);
      mem_for(R, was);
      if (r) return NONE;
      R->calls_cap = (uint32_t)cap;
    }
    i = R->ncalls++;
  }
  sim_call *c = &R->calls[i];
  memset(c, 0, sizeof *c);
  c->cur_req = NONE;
  return i;
}

static void call_release(run *R, uint32_t i) {
  sim_call *c = &R->calls[i];
  if (c->execs > 1) {
    rein_sim_summary *S = &R->res->summary;
    S->extra_executions += c->execs - 1;
    if (!c->idempotent) {
      S->duplicates += c->execs - 1;
      if (c->top) pt(R)->duplicates += c->execs - 1;
    }
  }
  c->finished = 2;
  fs_add(&R->call_fs, i);
}

static uint32_t req_new(run *R) {
  uint32_t i;
  if (R->req_free != NONE) {
    i = R->req_free;
    R->req_free = R->reqs[i].next_free;
  } else {
    size_t cap = R->reqs_cap;
    if (R->nreqs == cap) {
      int was = mem_for(R, M_REQS);
      int r = grow_aligned(R, (void **)&R->reqs, &R->reqs_raw, sizeof(sim_req),
                           &cap, R->nreqs + 1);
      mem_for(R, was);
      if (r) return NONE;
    }
    R->reqs_cap = (uint32_t)cap;
    i = R->nreqs++;
  }
  sim_req *q = &R->reqs[i];
  memset(q, 0, sizeof *q);
  q->next_free = NONE;
  q->ticket = NONE;
  return i;
}

/* A hedged call's state, from a LIFO pool (only scenarios that hedge
 * allocate it). */
static uint32_t hx_new(run *R) {
  uint32_t i;
  if (R->hx_free != NONE) {
    i = R->hx_free;
    R->hx_free = R->hx[i].next_free;
  } else {
    size_t cap = R->hx_cap;
    if (R->nhx == cap) {
      int was = mem_for(R, M_CALLS);
      int r = grow(R, (void **)&R->hx, sizeof *R->hx, &cap, R->nhx + 1);
      mem_for(R, was);
      if (r) return NONE;
      R->hx_cap = (uint32_t)cap;
    }
    i = R->nhx++;
  }
  R->hx[i].next_free = NONE;
  return i;
}

static void hx_release(run *R, uint32_t i) {
  R->hx[i].next_free = R->hx_free;
  R->hx_free = i;
}

static void req_release(run *R, uint32_t i) {
  sim_req *q = &R->reqs[i];
  sim_call *c = &R->calls[q->call];
  q->next_free = R->req_free;
  R->req_free = i;
  if (--c->outstanding == 0 && c->finished == 1) call_release(R, q->call);
}

/* ---------------------------------------------------------------------- */
/* Library objects                                                         */

static int own(run *R, void *obj, uint8_t kind) {
  if (R->nobjs == R->objs_cap) {
    size_t c1 = R->objs_cap, c2 = R->objs_cap;
    if (grow(R, (void **)&R->objs, sizeof(void *), &c1, R->nobjs + 1) ||
        grow(R, (void **)&R->obj_kind, 1, &c2, R->nobjs + 1))
      return -1;
    R->objs_cap = c1 < c2 ? c1 : c2;
  }
  R->objs[R->nobjs] = obj;
  R->obj_kind[R->nobjs++] = kind;
  return 0;
}

static void free_objs(run *R) {
  /* hedge policies first (they borrow policies), then policies (they
   * borrow the others) */
  for (size_t i = 0; i < R->nobjs; i++)
    if (R->obj_kind[i] == 4) rein_hedge_policy_free(R->objs[i]);
  for (size_t i = 0; i < R->nobjs; i++)
    if (R->obj_kind[i] == 3) rein_policy_free(R->objs[i]);
  for (size_t i = 0; i < R->nobjs; i++) {
    switch (R->obj_kind[i]) {
    case 0: rein_budget_free(R->objs[i]); break;
    case 1: rein_breaker_free(R->objs[i]); break;
    case 2: rein_throttle_free(R->objs[i]); break;
    default: break;
    }
  }
}

static int fail_cfg(run *R, rein_status st, const char *who, rein_errbuf *eb) {
  R->st = st;
  if (R->err)
    snprintf(R->err->msg, sizeof R->err->msg, "%.150s: %.350s", who,
             eb->msg[0] ? eb->msg : rein_strerror(st));
  return -1;
}

typedef struct shared_objs {
  rein_budget *bu;
  rein_breaker *br;
  rein_throttle *th;
} shared_objs;

/* The run owns what the builder created (breakers also registered with the
 * number of clients they stand for); the policy too unless `keep_policy`
 * is false (then it is freed: a build for shared objects only). */
static int adopt(run *R, rein_policy_objects *o, uint32_t weight,
                 bool keep_policy) {
  if (!keep_policy) {
    rein_hedge_policy_free(o->hedge);
    o->hedge = NULL;
    rein_policy_free(o->policy);
    o->policy = NULL;
  } else if (own(R, o->policy, 3)) {
    rein_policy_objects_free(o);
    return -1;
  }
  o->policy = NULL; /* owned by the run from here */
  if (o->hedge && own(R, o->hedge, 4)) {
    rein_hedge_policy_free(o->hedge);
    o->hedge = NULL;
    return -1;
  }
  o->hedge = NULL;
  void *objs[3] = {o->own_budget ? (void *)o->budget : NULL,
                   o->own_breaker ? (void *)o->breaker : NULL,
                   o->own_throttle ? (void *)o->throttle : NULL};
  for (uint8_t k = 0; k < 3; k++) {
    if (!objs[k]) continue;
    if (own(R, objs[k], k)) {
      for (uint8_t j = k; j < 3; j++)
        if (objs[j])
          j == 0   ? rein_budget_free(objs[j])
          : j == 1 ? rein_breaker_free(objs[j])
                   : rein_throttle_free(objs[j]);
      return -1;
    }
    objs[k] = NULL;
    if (k == 1) {
      size_t c1 = R->brk_cap, c2 = R->brk_cap;
      if (grow(R, (void **)&R->brk, sizeof(void *), &c1, R->nbrk + 1) ||
          grow(R, (void **)&R->brk_weight, sizeof(uint32_t), &c2,
               R->nbrk + 1)) {
        for (uint8_t j = k + 1; j < 3; j++)
          if (objs[j])
            j == 1 ? rein_breaker_free(objs[j]) : rein_throttle_free(objs[j]);
        return -1;
      }
      R->brk_cap = c1 < c2 ? c1 : c2;
      R->brk[R->nbrk] = o->breaker;
      R->brk_weight[R->nbrk++] = weight;
    }
  }
  return 0;
}

/* The components of `p` scoped to the whole cohort (FLEET), through the
 * one builder (rein_policy_spec_build). */
static int make_shared(run *R, const sim_policy_spec *p, const char *who,
                       uint32_t weight, shared_objs *sh) {
  rein_policy_spec sp = p->spec;
  sp.has_budget = sp.has_budget && sp.budget_scope == REIN_SCOPE_FLEET;
  sp.has_breaker = sp.has_breaker && sp.breaker_scope == REIN_SCOPE_FLEET;
  sp.has_throttle = sp.has_throttle && sp.throttle_scope == REIN_SCOPE_FLEET;
  sp.has_hedge = false; /* per policy instance (make_inst) */
  if (!sp.has_budget && !sp.has_breaker && !sp.has_throttle) return 0;
  sp.policy.name = p->name;
  rein_errbuf eb = {{0}};
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.alloc = R->a;
  b.err = &eb;
  b.clock = rein_manual_clock_as_clock(&R->clock);
  b.stripes = 1; /* one thread runs a simulation */
  if (sp.has_breaker) b.breaker_seed = seed_next(R);
  rein_policy_objects o;
  rein_status st = rein_policy_spec_build(&sp, &b, &o);
  if (st != REIN_OK) return fail_cfg(R, st, who, &eb);
  rein_policy_objects got = o;
  if (adopt(R, &o, weight, false)) return -1;
  sh->bu = got.budget;
  sh->br = got.breaker;
  sh->th = got.throttle;
  return 0;
}

/* A policy instance over the given shared objects, plus per-client ones for
 * components scoped to the client. Returns the instance index or NONE. */
static uint32_t make_inst(run *R, const sim_policy_spec *p, const char *who,
                          const shared_objs *sh, int64_t timeout_ns,
                          int idempotent) {
  rein_policy_spec sp = p->spec;
  sp.policy.name = p->name;
  if (!sp.policy.attempt_timeout_ns) sp.policy.attempt_timeout_ns = timeout_ns;
  sp.policy.idempotent = idempotent != 0; /* the operation's truth: the core's
                                             idempotency gate decides */
  rein_errbuf eb = {{0}};
  rein_policy_build b;
  rein_policy_build_default(&b);
  b.alloc = R->a;
  b.err = &eb;
  b.clock = rein_manual_clock_as_clock(&R->clock);
  b.budget = sh->bu;
  b.breaker = sh->br;
  b.throttle = sh->th;
  b.stripes = 1; /* one thread runs a simulation: a stripe is enough */
  if (sp.has_breaker && !sh->br) b.breaker_seed = seed_next(R);
  b.seed = seed_next(R);
  rein_policy_objects o;
  rein_status st = rein_policy_spec_build(&sp, &b, &o);
  if (st != REIN_OK) {
    fail_cfg(R, st, who, &eb);
    return NONE;
  }
  rein_policy *pol = o.policy;
  rein_breaker *br = o.breaker;
  rein_hedge_policy *hp = o.hedge;
  if (adopt(R, &o, 1, true)) return NONE;
  if (R->ninsts == R->insts_cap &&
      grow(R, (void **)&R->insts, sizeof(pol_inst), &R->insts_cap,
           R->ninsts + 1))
    return NONE;
  R->insts[R->ninsts] = (pol_inst){pol, br, p, hp};
  return (uint32_t)R->ninsts++;
}

static int setup_objects(run *R) {
  const rein_sim_scenario *s = R->s;
  uint32_t ci = 0;
  for (size_t k = 0; k < s->n_cohorts; k++) {
    const sim_cohort_spec *c = &s->cohorts[k];
    const sim_policy_spec *p = &s->policies[R->va->cohort_policy[k]];
    char who[160];
    snprintf(who, sizeof who, "cohort %s, policy %s", c->name, p->name);
    shared_objs sh = {NULL, NULL, NULL};
    if (make_shared(R, p, who, c->count, &sh)) return -1;
    const rein_policy_spec *q = &p->spec;
    int per_client =
        (q->has_budget && q->budget_scope == REIN_SCOPE_INSTANCE) ||
        (q->has_breaker && q->breaker_scope == REIN_SCOPE_INSTANCE) ||
        (q->has_throttle && q->throttle_scope == REIN_SCOPE_INSTANCE);
    uint32_t shared_inst = NONE;
    if (!per_client) {
      shared_inst = make_inst(R, p, who, &sh, c->timeout_ns, c->idempotent);
      if (shared_inst == NONE) return -1;
    }
    R->cohort_first[k] = ci;
    for (uint32_t j = 0; j < c->count; j++, ci++) {
      R->clients[ci].cohort = (uint32_t)k;
      R->clients[ci].rr = (uint8_t)(j % s->servers[c->target].replicas);
      if (per_client) {
        uint32_t in = make_inst(R, p, who, &sh, c->timeout_ns, c->idempotent);
        if (in == NONE) return -1;
        R->clients[ci].pol = R->client_pol[ci] = in;
      } else {
        R->clients[ci].pol = R->client_pol[ci] = shared_inst;
      }
    }
  }
  for (size_t k = 0; k < s->n_servers; k++) {
    const sim_server_spec *sv = &s->servers[k];
    if (!sv->has_downstream) continue;
    const sim_policy_spec *p = &s->policies[R->va->server_policy[k]];
    char who[160];
    snprintf(who, sizeof who, "server %s, policy %s", sv->name, p->name);
    for (uint32_t j = 0; j < sv->replicas; j++) { /* a process each */
      shared_objs sh = {NULL, NULL, NULL};
      uint32_t in = make_inst(R, p, who, &sh, sv->timeout_ns, sv->idempotent);
      if (in == NONE) return -1;
      R->srv[R->srv_first[k] + j].pol = in;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Servers                                                                 */

static int respond(run *R, uint32_t req, rein_outcome_kind kind, int64_t delay,
                   int dont_retry, rein_condition cond);
static inline rein_sim_point *pt(run *R);

static void srv_state(run *R, uint32_t k) {
  sim_srv *v = &R->srv[k];
  const rein_sim_scenario *s = R->s;
  double capf = 1, slow = 1, ok = 1 - v->spec->failure_p;
  int outage = -1;
  rein_condition fail_cond = REIN_COND_NONE;
  for (size_t i = 0; i < s->n_incidents; i++) {
    const sim_incident_spec *in = &s->incidents[i];
    if (in->server != v->sidx || (in->replica >= 0 && in->replica != v->rep) ||
        R->now < in->start_ns || R->now >= in->end_ns)
      continue;
    switch (in->kind) {
    case SIM_INC_OUTAGE:
      if (in->mode == SIM_OUT_SLOW)
        slow *= in->factor;
      else
        outage = (int)in->mode;
      if (in->mode == SIM_OUT_ERROR) fail_cond = in->status;
      break;
    case SIM_INC_CAPACITY: capf *= in->factor; break;
    case SIM_INC_FAILURE:
      ok *= 1 - in->probability;
      fail_cond = in->status;
      break;
    }
  }
  v->fail_cond = fail_cond ? fail_cond : REIN_COND_HTTP(500);
  v->outage = outage;
  v->slow = slow;
  v->fail_p = 1 - ok;
  double c = v->spec->concurrency * capf;
  uint32_t cap = (uint32_t)(c + 0.5);
  if (cap == 0 && capf > 0) cap = 1;
  v->cap = cap;
#ifdef REIN_SIM_ADMIT
  if (v->adm) {
    uint32_t lim = (uint32_t)(v->spec->adm_limit * capf + 0.5);
    rein_admit_set_limit(v->adm, lim ? lim : 1, R->now);
  }
#endif
}

static double srv_rate(run *R, sim_srv *v) {
  int64_t idx = R->now / (100 * REIN_NS_PER_MS);
  if (idx != v->rate_idx) {
    int64_t gap = idx - v->rate_idx;
    if (gap >= 10 || gap < 0) {
      memset(v->rate_b, 0, sizeof v->rate_b);
    } else {
      for (int64_t j = v->rate_idx + 1; j <= idx; j++) v->rate_b[j % 10] = 0;
    }
    v->rate_idx = idx;
  }
  uint32_t sum = 0;
  for (int i = 0; i < 10; i++) sum += v->rate_b[i];
  return sum; /* arrivals in the last ~1 s */
}

#define HELD_ANSWER UINT32_C(0x80000000)

/* Hold a request (or, with HELD_ANSWER, an answer) behind a `buffer`
 * outage. */
static int held_push(run *R, sim_srv *v, uint32_t item) {
  if (v->nheld == v->held_cap) {
    uint32_t nc = v->held_cap ? v->held_cap * 2 : 256;
    int was = mem_for(R, M_QUEUES);
    uint32_t *nh = rein__sim_alloc(R->a, (size_t)nc * sizeof(uint32_t));
    mem_for(R, was);
    if (!nh) {
      R->st = REIN_ENOMEM;
      return -1;
    }
    if (v->nheld) memcpy(nh, v->held, (size_t)v->nheld * sizeof(uint32_t));
    rein__sim_free(R->a, v->held);
    v->held = nh;
    v->held_cap = nc;
  }
  v->held[v->nheld++] = item;
  return 0;
}

/* The partition healed: everything it held is delivered now, in the order
 * it was held (requests reach the server at this instant, answers start
 * back over the network). */
static int flush_held(run *R, sim_srv *v) {
  for (uint32_t i = 0; i < v->nheld; i++) {
    uint32_t it = v->held[i];
    int rc = it & HELD_ANSWER ? push(R, R->now + net(R, (uint32_t)(v - R->srv)),
                                     EV_RESP, it & ~HELD_ANSWER, 0)
                              : push(R, R->now, EV_REQ_ARRIVE, it, 0);
    if (rc) return -1;
  }
  v->nheld = 0;
  return 0;
}

static int q_push(run *R, sim_srv *v, uint32_t req) {
  if (v->qlen == v->qsize) {
    uint32_t ns = v->qsize ? v->qsize * 2 : 256;
    int was = mem_for(R, M_QUEUES);
    uint32_t *nq = rein__sim_alloc(R->a, (size_t)ns * sizeof(uint32_t));
    mem_for(R, was);
    if (!nq) {
      R->st = REIN_ENOMEM;
      return -1;
    }
    for (uint32_t i = 0; i < v->qlen; i++)
      nq[i] = v->q[(v->qhead + i) & (v->qsize - 1)];
    rein__sim_free(R->a, v->q);
    v->q = nq;
    v->qsize = ns;
    v->qhead = 0;
  }
  v->q[(v->qhead + v->qlen) & (v->qsize - 1)] = req;
  v->qlen++;
  if (v->qlen > v->sum.peak_queue) v->sum.peak_queue = v->qlen;
  return 0;
}

static uint32_t q_pop(sim_srv *v) {
  uint32_t r;
  if (v->spec->queue_kind == SIM_LIFO) {
    r = v->q[(v->qhead + v->qlen - 1) & (v->qsize - 1)];
  } else {
    r = v->q[v->qhead];
    v->qhead = (v->qhead + 1) & (v->qsize - 1);
  }
  v->qlen--;
  return r;
}

/* The modelled answer: its kind, and the status a real server would send
 * (rein/classify.h), so a policy's retryable set decides as it does over
 * HTTP. */
static int respond(run *R, uint32_t req, rein_outcome_kind kind, int64_t delay,
                   int dont_retry, rein_condition cond) {
  sim_req *q = &R->reqs[req];
  q->out_kind = (uint8_t)kind;
  q->out_cond = cond;
  q->out_delay = delay;
  q->out_dont_retry = dont_retry != 0;
  if (R->srv[q->server].outage == SIM_OUT_BUFFER)
    return held_push(R, &R->srv[q->server], req | HELD_ANSWER);
  return push(R, R->now + net(R, q->server), EV_RESP, req, 0);
}

static int64_t retry_after(run *R, sim_srv *v) {
  const sim_server_spec *sp = v->spec;
  if (sp->retry_after_ns >= 0) return sp->retry_after_ns;
  /* auto: time to drain the queue at the current capacity */
  double capacity = rein__sim_server_capacity(sp) *
                    (sp->concurrency ? (double)v->cap / sp->concurrency : 0);
  if (capacity <= 0) return REIN_NS_PER_S;
  return dur((v->qlen + 1) / capacity * 1e9);
}

static int shed(run *R, sim_srv *v, uint32_t req) {
  const sim_server_spec *sp = v->spec;
  v->sum.shed++;
  if (v->sidx == R->s->primary) pt(R)->rejections++;
  int64_t d = 0;
  if (sp->shed) {
    d = retry_after(R, v);
    if (sp->pushback_ns > d) d = sp->pushback_ns;
  }
  return respond(R, req, REIN_OUTCOME_OVERLOADED, d,
                 sp->shed && sp->shed_dont_retry, REIN_COND_HTTP(503));
}


/* ---------------------------------------------------------------------- */
/* Admission (rein/admit.h)                                                */

#ifdef REIN_SIM_ADMIT
static rein_admit_ticket *ticket_at(run *R, uint32_t i) {
  return &R->tchunks[i / TCHUNK][i % TCHUNK];
}

static uint32_t ticket_new(run *R) {
  if (R->ntfree) return R->tfree[--R->ntfree];
  if (R->tcount % TCHUNK == 0) {
    size_t need = R->tcount / TCHUNK + 1;
    int was = mem_for(R, M_ADMIT);
    if (grow(R, (void **)&R->tchunks, sizeof(void *), &R->tchunks_cap, need)) {
      mem_for(R, was);
      return NONE;
    }
    R->tchunks[need - 1] =
        rein__sim_alloc(R->a, TCHUNK * sizeof(rein_admit_ticket));
    mem_for(R, was);
    if (!R->tchunks[need - 1]) {
      R->st = REIN_ENOMEM;
      return NONE;
    }
    R->ntchunks = need;
  }
  return R->tcount++;
}

static int ticket_free(run *R, uint32_t i) {
  if (R->ntfree == R->tfree_cap &&
      grow(R, (void **)&R->tfree, sizeof(uint32_t), &R->tfree_cap,
           R->ntfree + 1))
    return -1;
  R->tfree[R->ntfree++] = i;
  return 0;
}

static void adm_notify(void *ctx, rein_admit_ticket *t) {
  sim_srv *v = ctx;
  if (v->npending == v->pending_cap) {
    size_t cap = v->pending_cap;
    if (grow(v->R, (void **)&v->pending, sizeof(uint32_t), &cap,
             v->npending + 1)) {
      v->nomem = 1;
      return;
    }
    v->pending_cap = cap;
  }
  v->pending[v->npending++] = (uint32_t)(uintptr_t)t->user;
}

static int adm_reject(run *R, uint32_t k, uint32_t req,
                      const rein_admit_decision *d) {
  sim_srv *v = &R->srv[k];
  if (ticket_free(R, R->reqs[req].ticket)) return -1;
  R->reqs[req].ticket = NONE;
  v->sum.shed++;
  if (v->sidx == R->s->primary) pt(R)->rejections++;
  return respond(R, req, REIN_OUTCOME_OVERLOADED,
                 d->retry_after_ns > 0 ? d->retry_after_ns : 0, d->dont_retry,
                 REIN_COND_HTTP(503));
}

static int start_service(run *R, uint32_t k, uint32_t req);

/* Handle tickets that changed state inside the last admit call. */
static int adm_pending(run *R, uint32_t k) {
  sim_srv *v = &R->srv[k];
  if (v->nomem) {
    R->st = REIN_ENOMEM;
    return -1;
  }
  for (size_t i = 0; i < v->npending; i++) {
    uint32_t req = v->pending[i];
    rein_admit_decision d;
    rein_admit_result r =
        rein_admit_poll(v->adm, ticket_at(R, R->reqs[req].ticket), R->now, &d);
    if (r == REIN_ADMIT_ADMITTED) {
      if (start_service(R, k, req)) return -1;
    } else if (r == REIN_ADMIT_REJECTED) {
      if (adm_reject(R, k, req, &d)) return -1;
    }
  }
  v->npending = 0;
  /* while anything waits, settle about every target so queue timeouts
   * apply even when nothing arrives or finishes */
  if (!v->settle_at_pending) {
    rein_admit_stats st;
    rein_admit_stats_get(v->adm, R->now, &st);
    if (st.queue_len > 0) {
      v->settle_at_pending = 1;
      if (push(R, R->now + v->spec->adm_target_ns, EV_SETTLE, k, 0)) return -1;
    }
  }
  return 0;
}

static int adm_arrive(run *R, uint32_t k, uint32_t req) {
  sim_srv *v = &R->srv[k];
  uint32_t t = ticket_new(R);
  if (t == NONE) return -1;
  sim_req *q = &R->reqs[req];
  q->ticket = t;
  rein_admit_ticket *tk = ticket_at(R, t);
  memset(tk, 0, sizeof *tk);
  tk->user = (void *)(uintptr_t)req;
  rein_admit_decision d;
  /* what the server can know of the attempt number: only what the caller's
   * policy sends (attempt_header) */
  uint32_t att = R->insts[R->callc[q->call].pol].spec->attempt_header
                     ? q->attempt
                     : 1;
  rein_admit_result r = rein_admit_try(v->adm, tk, att, R->now, &d);
  int rc = 0;
  if (r == REIN_ADMIT_ADMITTED)
    rc = start_service(R, k, req);
  else if (r == REIN_ADMIT_REJECTED)
    rc = adm_reject(R, k, req, &d);
  else if (v->sum.peak_queue < d.queue_len + 1)
    v->sum.peak_queue = (uint32_t)d.queue_len + 1;
  return rc ? rc : adm_pending(R, k);
}

static int adm_release(run *R, uint32_t k, uint32_t req) {
  sim_srv *v = &R->srv[k];
  sim_req *q = &R->reqs[req];
  rein_admit_release(v->adm, ticket_at(R, q->ticket), R->now, -1);
  if (ticket_free(R, q->ticket)) return -1;
  q->ticket = NONE;
  return adm_pending(R, k);
}

static int adm_settle(run *R, uint32_t k) {
  sim_srv *v = &R->srv[k];
  v->settle_at_pending = 0;
  rein_admit_settle(v->adm, R->now);
  return adm_pending(R, k);
}

static int adm_setup(run *R, uint32_t k) {
  sim_srv *v = &R->srv[k];
  const sim_server_spec *sp = v->spec;
  rein_admit_config c;
  rein_admit_config_default(&c);
  c.limit = sp->adm_limit;
  c.queue_max = sp->adm_queue;
  c.retry_queue_max = sp->adm_retry_queue;
  c.target_ns = sp->adm_target_ns;
  c.interval_ns = sp->adm_interval_ns;
  c.max_wait_ns = sp->adm_max_wait_ns;
  c.lifo_when_overloaded = sp->adm_lifo != 0;
  c.dont_retry = (rein_admit_dont_retry)sp->adm_dont_retry;
  c.retry_after_min_ns = sp->adm_ra_min_ns;
  c.retry_after_max_ns = sp->adm_ra_max_ns;
  c.clock = rein_manual_clock_as_clock(&R->clock);
  c.notify = adm_notify;
  c.notify_ctx = v;
  c.alloc = R->a;
  rein_errbuf eb = {{0}};
  c.err = &eb;
  v->R = R;
  rein_status st = rein_admit_new(&c, &v->adm);
  if (st != REIN_OK) return fail_cfg(R, st, sp->name, &eb);
  return 0;
}
#endif

static int start_service(run *R, uint32_t k, uint32_t req) {
  sim_srv *v = &R->srv[k];
  const sim_server_spec *sp = v->spec;
  v->busy++;
  double d = sample(R, &R->r_srv, &sp->service);
  if (sp->per_inflight_ns) d += (double)sp->per_inflight_ns * (v->busy + v->qlen);
  if (sp->threshold_rate > 0 && srv_rate(R, v) > sp->threshold_rate)
    d *= sp->threshold_factor;
  d *= v->slow;
  if (sp->occ_keys) {
    sim_req *q = &R->reqs[req];
    q->occ_key = (uint32_t)rein_rng_range(&R->r_srv, 0, sp->occ_keys - 1);
    q->occ_ver = v->occ[q->occ_key];
  }
  return push(R, R->now + dur(d), EV_SERVICE_DONE, req, R->reqs[req].call);
}

static int dispatch(run *R, uint32_t k) {
  sim_srv *v = &R->srv[k];
  const sim_server_spec *sp = v->spec;
  while (v->busy < v->cap && v->qlen > 0) {
    uint32_t req = q_pop(v);
    if (R->reqs[req].cancelled) { /* its hedged call ended: not served */
      req_release(R, req);
      continue;
    }
    if (sp->shed_wait_over_ns &&
        R->now - R->reqs[req].enq_t > sp->shed_wait_over_ns) {
      if (shed(R, v, req)) return -1;
      continue;
    }
    if (start_service(R, k, req)) return -1;
  }
  return 0;
}

static int on_req_arrive(run *R, uint32_t req) {
  sim_req *q = &R->reqs[req];
  uint32_t k = q->server;
  sim_srv *v = &R->srv[k];
  const sim_server_spec *sp = v->spec;
  /* a buffering partition: the request reaches the server when it heals */
  if (__builtin_expect(v->outage == SIM_OUT_BUFFER, 0))
    return held_push(R, v, req);
  v->sum.arrivals++;
  R->res->summary.server_attempts++;
  if (v->sidx == R->s->primary) {
    rein_sim_point *p = pt(R);
    p->load++;
    if (q->attempt > 1) p->load_retries++;
  }
  if (sp->threshold_rate > 0) {
    srv_rate(R, v);
    v->rate_b[v->rate_idx % 10]++;
  }
  switch (v->outage) {
  case SIM_OUT_DROP:
    req_release(R, req);
    return 0;
  case SIM_OUT_ERROR: {
    rein_condition cond = v->fail_cond;
    v->sum.failed++;
    return respond(R, req, rein_condition_kind(cond), 0, 0, cond);
  }
  case SIM_OUT_REFUSE:
    return respond(R, req, REIN_OUTCOME_NOT_SENT, 0, 0,
                   REIN_COND_TRANSPORT(REIN_TRANSPORT_CONNECT_FAILURE));
  default: break;
  }
#ifdef REIN_SIM_ADMIT
  if (v->adm) return adm_arrive(R, k, req);
#endif
  if (sp->shed_queue_over && v->qlen >= sp->shed_queue_over)
    return shed(R, v, req);
  if (v->busy < v->cap && v->qlen == 0) return start_service(R, k, req);
  if (v->qlen >= sp->queue_cap) return shed(R, v, req);
  q->enq_t = R->now;
  return q_push(R, v, req);
}

static int begin_call(run *R, uint32_t pol, uint32_t target, uint32_t owner,
                      int top, int idempotent, int key, int64_t deadline,
                      int poisson);

/* The server has an answer for `req`: free the worker, answer, dispatch. */
static int finish_request(run *R, uint32_t req, rein_outcome_kind kind,
                          int dont_retry, rein_condition cond) {
  sim_req *q = &R->reqs[req];
  uint32_t k = q->server;
  sim_srv *v = &R->srv[k];
  v->busy--;
  if (q->abandoned) v->sum.wasted++, R->res->summary.wasted++;
  if (kind == REIN_OUTCOME_SUCCESS) {
    sim_call *c = &R->calls[q->call];
    v->sum.executed++;
    if (!(c->dedup && c->key && c->execs > 0)) c->execs++;
  } else {
    v->sum.failed++;
  }
  if (respond(R, req, kind, 0, dont_retry, cond)) return -1;
#ifdef REIN_SIM_ADMIT
  if (v->adm) return adm_release(R, k, req);
#endif
  return dispatch(R, k);
}

static int on_service_done(run *R, uint32_t req) {
  sim_req *q = &R->reqs[req];
  uint32_t k = q->server;
  sim_srv *v = &R->srv[k];
  const sim_server_spec *sp = v->spec;
  if (v->outage == SIM_OUT_DROP) {
    v->busy--;
#ifdef REIN_SIM_ADMIT
    if (v->adm) {
      rein_admit_release(v->adm, ticket_at(R, q->ticket), R->now, -1);
      if (ticket_free(R, q->ticket)) return -1;
      q->ticket = NONE;
      req_release(R, req);
      return adm_pending(R, k);
    }
#endif
    req_release(R, req);
    return dispatch(R, k);
  }
  rein_condition fc = v->fail_cond;
  if (v->outage == SIM_OUT_ERROR || v->outage == SIM_OUT_REFUSE)
    return finish_request(R, req, rein_condition_kind(fc), 0, fc);
  if (v->fail_p > 0 && rein_rng_uniform_inline(&R->r_srv) < v->fail_p)
    return finish_request(R, req, rein_condition_kind(fc), 0, fc);
  if (sp->occ_keys) {
    if (v->occ[q->occ_key] != q->occ_ver) /* conflict: kind only */
      return finish_request(R, req, REIN_OUTCOME_FAILURE, 0, REIN_COND_NONE);
    v->occ[q->occ_key]++;
  }
  if (sp->has_downstream) {
    /* this tier now calls the next one with its own policy; the worker
     * stays busy until that call ends */
    const sim_call *up = &R->calls[q->call];
    return begin_call(R, v->pol, sp->downstream, req, 0, up->idempotent,
                      up->key, 0, 0);
  }
  return finish_request(R, req, REIN_OUTCOME_SUCCESS, 0, REIN_COND_HTTP(200));
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                   */

static int handle(run *R, uint32_t ci, rein_decision d);

/* The replica attempt `attempt` of call ci goes to (the top of the file,
 * "Replicas"), as an entry of R->srv. */
static uint32_t pick_replica(run *R, uint32_t ci, uint32_t attempt) {
  sim_call_cold *cc = &R->callc[ci];
  uint32_t n = R->s->servers[cc->target].replicas;
  uint32_t first = R->srv_first[cc->target];
  if (n == 1) return first;
  const sim_call *c = &R->calls[ci];
  uint32_t r;
  if (attempt == 1) {
    uint8_t *rr = c->top ? &R->clients[c->owner].rr
                         : &R->srv[R->reqs[c->owner].server].rr;
    r = *rr;
    *rr = (uint8_t)((r + 1) % n);
  } else if (R->insts[cc->pol].spec->sticky) {
    r = cc->rep;
  } else if (!c->hedged) {
    r = (cc->rep + 1u) % n; /* one attempt at a time: untried, else the
                               oldest failure, is the next in order */
  } else {
    const struct sim_hedge *x = &R->hx[cc->hx];
    uint64_t tried = 0, busy = 0;
    uint32_t last[SIM_MAX_REPLICAS] = {0};
    for (uint32_t k = 0; k + 1 < attempt && k < REIN_HEDGE_MAX_ATTEMPTS;
         k++) {
      uint32_t j = x->rep[k];
      tried |= UINT64_C(1) << j;
      if (x->h.inflight & (1u << k)) busy |= UINT64_C(1) << j;
      if (x->failed_at[k] > last[j]) last[j] = x->failed_at[k];
    }
    r = NONE;
    for (uint32_t i = 1; i <= n && r == NONE; i++) {
      uint32_t j = (cc->rep + i) % n;
      if (!(tried >> j & 1)) r = j;
    }
    if (r == NONE) { /* all tried: the oldest failure, in-flight ones last */
      uint64_t best = UINT64_MAX;
      for (uint32_t i = 1; i <= n; i++) {
        uint32_t j = (cc->rep + i) % n;
        uint64_t key = (busy >> j & 1 ? UINT64_C(1) << 32 : 0) | last[j];
        if (key < best) best = key, r = j;
      }
    }
  }
  cc->rep = (uint8_t)r;
  if (c->hedged && attempt <= REIN_HEDGE_MAX_ATTEMPTS)
    R->hx[cc->hx].rep[attempt - 1] = (uint8_t)r;
  return first + r;
}

/* Send attempt `attempt` of call ci; the request and its serial go to
 * *req_out / *serial_out. */
static int send_req(run *R, uint32_t ci, uint32_t attempt, int64_t timeout_ns,
                    uint32_t *req_out, uint32_t *serial_out) {
  uint32_t req = req_new(R);
  if (req == NONE) return -1;
  sim_call *c = &R->calls[ci];
  sim_req *q = &R->reqs[req];
  q->call = ci;
  q->server = pick_replica(R, ci, attempt);
  q->attempt = attempt;
  q->serial = ++R->serial;
  *req_out = req;
  *serial_out = q->serial;
  c->outstanding++;
  if (c->top) {
    rein_sim_point *p = pt(R);
    p->attempts++;
    R->res->summary.attempts++;
    if (attempt > 1) p->retries++, R->res->summary.retries++;
    R->bucket_attempts[c->bucket]++;
  }
  if (push(R, R->now + net(R, q->server), EV_REQ_ARRIVE, req, 0)) return -1;
  if (timeout_ns > 0 && push_timeout(R, timeout_ns, ci, q->serial))
    return -1;
  return 0;
}

static int send_attempt(run *R, uint32_t ci, const rein_decision *d) {
  uint32_t req, serial;
  if (send_req(R, ci, d->attempt, d->timeout_ns, &req, &serial)) return -1;
  sim_call *c = &R->calls[ci];
  c->serial = serial;
  c->cur_req = req;
  return 0;
}

static void lat_add(run *R, int64_t ns) {
  uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
  size_t idx;
  if (v < 64) {
    idx = (size_t)v;
  } else {
    int msb = 63 - __builtin_clzll(v);
    idx = (size_t)(msb - 5) * 64 + ((v >> (msb - 6)) & 63);
  }
  if (idx >= SIM_LAT_BUCKETS) idx = SIM_LAT_BUCKETS - 1;
  R->lat[idx]++;
  R->lat_n++;
}

static double lat_value(size_t idx) {
  if (idx < 64) return (double)idx;
  size_t msb = idx / 64 + 5, sub = idx % 64;
  double lo = ldexp((double)(64 + sub), (int)msb - 6);
  return lo + ldexp(0.5, (int)msb - 6);
}

static double lat_pct(run *R, double p) {
  if (!R->lat_n) return -1;
  uint64_t want = (uint64_t)ceil(p * (double)R->lat_n);
  if (want == 0) want = 1;
  uint64_t acc = 0;
  for (size_t i = 0; i < SIM_LAT_BUCKETS; i++) {
    acc += R->lat[i];
    if (acc >= want) return lat_value(i) / 1e6;
  }
  return -1;
}

static int client_next(run *R, uint32_t client, int success);

static int finish_call(run *R, uint32_t ci, const rein_decision *d) {
  sim_call *c = &R->calls[ci];
  int ok = d->action == REIN_DONE;
  c->finished = 1;
  uint32_t owner = c->owner;
  int top = c->top, poisson = c->poisson;
  if (top) {
    rein_sim_summary *S = &R->res->summary;
    rein_sim_point *p = pt(R);
    R->inflight--;
    if (ok) {
      p->successes++;
      S->successes++;
      lat_add(R, R->now - R->callc[ci].begin_t);
    } else {
      p->failures++;
      S->giveups++;
      if (d->reason < REIN_GIVEUP_COUNT_) S->giveups_by_reason[d->reason]++;
    }
  }
  int propagate = R->insts[R->callc[ci].pol].spec->propagate;
  rein_condition last = R->callc[ci].last_cond;
  if (c->outstanding == 0) call_release(R, ci);
  if (top) return poisson ? 0 : client_next(R, owner, ok);
  /* a tier's downstream call ended: answer upstream */
  return finish_request(R, owner,
                        ok ? REIN_OUTCOME_SUCCESS : REIN_OUTCOME_FAILURE,
                        !ok && propagate && d->dont_retry,
                        ok ? REIN_COND_HTTP(200) : last);
}

static int handle(run *R, uint32_t ci, rein_decision d) {
  sim_call *c = &R->calls[ci];
  switch (d.action) {
  case REIN_ATTEMPT: return send_attempt(R, ci, &d);
  case REIN_WAIT:
    c->serial = ++R->serial;
    return push(R, R->now + (d.delay_ns > 0 ? d.delay_ns : 0), EV_WAKE, ci,
                c->serial);
  case REIN_DONE:
  case REIN_GIVE_UP:
  default: return finish_call(R, ci, &d);
  }
}

/* Carry out a hedged call's decision: send (and poll again at once when
 * the next hedge is due now), arm the hedge timer, or end the call and
 * cancel what it leaves in flight. */
static int hedge_handle(run *R, uint32_t ci, rein_hedge_decision d) {
  for (;;) {
    struct sim_hedge *x = &R->hx[R->callc[ci].hx];
    if (d.action == REIN_ATTEMPT) {
      uint32_t k = d.attempt - 1, req, serial;
      if (send_req(R, ci, d.attempt, d.timeout_ns, &req, &serial)) return -1;
      x = &R->hx[R->callc[ci].hx];
      x->req[k] = req;
      x->serial[k] = serial;
      if (d.attempt > 1 && R->calls[ci].top) R->res->summary.hedges++;
      if (d.next_ns == 0) {
        d = rein_hedge_poll(&x->h, R->now);
        continue;
      }
    }
    sim_call *c = &R->calls[ci];
    if (d.action == REIN_ATTEMPT || d.action == REIN_WAIT) {
      c->serial = ++R->serial; /* older timers are stale */
      if (d.next_ns < 0) return 0;
      return push(R, R->now + d.next_ns, EV_WAKE, ci, c->serial);
    }
    for (uint32_t k = 0; k < REIN_HEDGE_MAX_ATTEMPTS; k++) {
      if (!(d.cancel & (1u << k))) continue;
      sim_req *q = &R->reqs[x->req[k]];
      if (q->call != ci || q->serial != x->serial[k]) continue; /* freed */
      q->cancelled = 1;
      q->abandoned = 1;
      if (c->top) R->res->summary.hedges_cancelled++;
    }
    hx_release(R, R->callc[ci].hx);
    rein_decision rd = {d.action, d.reason, d.dont_retry, d.sent, 0, 0};
    return finish_call(R, ci, &rd);
  }
}

static int begin_call(run *R, uint32_t pol, uint32_t target, uint32_t owner,
                      int top, int idempotent, int key, int64_t deadline,
                      int poisson) {
  uint32_t ci = call_new(R);
  if (ci == NONE) return -1;
  sim_call *c = &R->calls[ci];
  sim_call_cold *cc = &R->callc[ci]; /* every field is set below */
  cc->begin_t = R->now;
  c->owner = owner;
  cc->target = target;
  cc->pol = pol;
  cc->last_cond = REIN_COND_NONE;
  c->top = (uint8_t)top;
  c->poisson = (uint8_t)poisson;
  c->idempotent = (uint8_t)idempotent;
  c->key = (uint8_t)key;
  c->dedup = (uint8_t)R->s->servers[target].dedup;
  c->bucket = (uint32_t)R->bucket_now;
  rein_call_opts o = {0};
  o.has_key = key != 0;
  o.deadline = deadline ? R->now + deadline : 0;
  o.seed = seed_next(R);
  o.stripe = 1;
  const pol_inst *in = &R->insts[pol];
  if (in->hp) {
    uint32_t hx = hx_new(R);
    if (hx == NONE) return -1;
    cc->hx = hx;
    c->hedged = 1;
    rein_hedge_init(&R->hx[hx].h, in->hp, &o);
    memset(R->hx[hx].failed_at, 0, sizeof R->hx[hx].failed_at);
    R->hx[hx].nfailed = 0;
  } else {
    rein_retry_init(&cc->r, in->p, &o);
  }
  if (top) {
    pt(R)->offered++;
    R->res->summary.logical++;
    R->bucket_calls[c->bucket]++;
    R->inflight++;
  }
  if (c->hedged)
    return hedge_handle(R, ci, rein_hedge_begin(&R->hx[cc->hx].h, R->now));
  return handle(R, ci, rein_retry_begin(&cc->r, R->now));
}

/* A logical call of client `client` of cohort `k`. */
static int client_begin_in(run *R, uint32_t client, uint32_t k) {
  const sim_cohort_spec *cs = &R->s->cohorts[k];
  uint32_t pol = R->client_pol[client];
  /* the cohort's deadline, else the policy's (a contract's call deadline) */
  int64_t dl = cs->deadline_ns ? cs->deadline_ns
                               : R->insts[pol].spec->spec.deadline_ns;
  return begin_call(R, pol, cs->target, client, 1, cs->idempotent, cs->key, dl,
                    cs->arrival == SIM_ARRIVAL_POISSON ||
                        cs->arrival == SIM_ARRIVAL_PERIODIC);
}

static int client_begin(run *R, uint32_t client) {
  return client_begin_in(R, client, R->clients[client].cohort);
}

static int cohort_active(run *R, const sim_cohort_spec *cs, int64_t t) {
  return t >= cs->begin_ns && (!cs->end_ns || t < cs->end_ns) && t < R->end;
}

static int client_next(run *R, uint32_t client, int success) {
  sim_client *cl = &R->clients[client];
  const sim_cohort_spec *cs = &R->s->cohorts[cl->cohort];
  if (cs->arrival == SIM_ARRIVAL_POISSON || cs->arrival == SIM_ARRIVAL_PERIODIC)
    return 0;
  if (cs->arrival == SIM_ARRIVAL_ONE_SHOT && success) {
    cl->done = 1;
    R->oneshot_done++;
    R->oneshot_last = R->now;
    return 0;
  }
  int64_t t = R->now + dur(sample(R, &R->r_arr, &cs->think));
  if (!cohort_active(R, cs, t)) return 0;
  return push(R, t, EV_CLIENT_START, client, 0);
}

/* `attempt`: which attempt of a hedged call answered (0 for a retrying
 * call: its one outstanding attempt). */
static int deliver(run *R, uint32_t ci, rein_outcome o, uint32_t attempt) {
  sim_call *c = &R->calls[ci];
  sim_call_cold *cc = &R->callc[ci];
  if (!R->insts[cc->pol].spec->honor_signals) {
    o.server_delay_ns = 0;
    o.dont_retry = false;
  }
  if (c->hedged) {
    if (attempt && o.kind != REIN_OUTCOME_SUCCESS) {
      struct sim_hedge *x = &R->hx[cc->hx];
      x->failed_at[attempt - 1] = ++x->nfailed;
    }
    uint32_t cls = o.condition & 0xffff0000u;
    cc->last_cond = cls == REIN_COND_HTTP(0) || cls == REIN_COND_GRPC(0)
                        ? o.condition
                        : REIN_COND_NONE;
    return hedge_handle(
        R, ci, rein_hedge_outcome(&R->hx[cc->hx].h, attempt, &o, R->now));
  }
  c->cur_req = NONE;
  /* a status (not a transport condition) is what a tier that gives up
   * answers with: a proxy or a gRPC server passes it through */
  uint32_t cls = o.condition & 0xffff0000u;
  cc->last_cond = cls == REIN_COND_HTTP(0) || cls == REIN_COND_GRPC(0)
                      ? o.condition
                      : REIN_COND_NONE;
  return handle(R, ci, rein_retry_next(&R->callc[ci].r, &o, R->now));
}

static int on_resp(run *R, uint32_t req) {
  sim_req *q = &R->reqs[req];
  uint32_t ci = q->call;
  sim_call *c = &R->calls[ci];
  int rc = 0;
  uint32_t attempt = 0;
  if (c->hedged && c->finished == 0) {
    const struct sim_hedge *x = &R->hx[R->callc[ci].hx];
    for (uint32_t k = 0; k < x->h.sent && !attempt; k++)
      if ((x->h.inflight & (1u << k)) && x->req[k] == req &&
          x->serial[k] == q->serial)
        attempt = k + 1;
  }
  if (c->finished == 0 &&
      (attempt || (!c->hedged && c->cur_req == req && c->serial == q->serial))) {
    rein_outcome o;
    memset(&o, 0, sizeof o);
    o.kind = (rein_outcome_kind)q->out_kind;
    o.server_delay_ns = q->out_delay;
    o.dont_retry = q->out_dont_retry != 0;
    o.condition = q->out_cond;
    if (c->top && R->srv[q->server].sidx == R->s->primary &&
        o.kind == REIN_OUTCOME_NOT_SENT)
      pt(R)->rejections++;
    /* keep the call alive until its outcome is handled */
    c->outstanding++;
    req_release(R, req);
    rc = deliver(R, ci, o, attempt);
    c = &R->calls[ci];
    if (--c->outstanding == 0 && c->finished == 1) call_release(R, ci);
    return rc;
  }
  req_release(R, req);
  return 0;
}

static int on_timeout_hedged(run *R, uint32_t ci, uint32_t serial) {
  sim_call *c = &R->calls[ci];
  struct sim_hedge *x = &R->hx[R->callc[ci].hx];
  uint32_t k = 0;
  while (k < x->h.sent &&
         !((x->h.inflight & (1u << k)) && x->serial[k] == serial))
    k++;
  if (k == x->h.sent) return 0; /* that attempt answered */
  sim_req *cq = &R->reqs[x->req[k]];
  if (cq->call == ci && cq->serial == serial) cq->abandoned = 1;
  if (c->top) {
    pt(R)->timeouts++;
    R->res->summary.timeouts++;
  }
  rein_outcome o = {.kind = REIN_OUTCOME_TIMEOUT};
  o.condition = REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT);
  R->callc[ci].last_cond = REIN_COND_NONE;
  x->failed_at[k] = ++x->nfailed;
  return hedge_handle(R, ci, rein_hedge_outcome(&x->h, k + 1, &o, R->now));
}

static int on_timeout(run *R, uint32_t ci, uint32_t serial) {
  sim_call *c = &R->calls[ci];
  if (c->hedged && !c->finished) return on_timeout_hedged(R, ci, serial);
  if (c->finished || c->serial != serial || c->cur_req == NONE) return 0;
  /* A `drop` outage releases the request without telling the call, and the
   * index may already serve another call's attempt: only mark it abandoned
   * (for the wasted-work count) while it is still this call's. */
  sim_req *cq = &R->reqs[c->cur_req];
  if (cq->call == ci && cq->serial == serial) cq->abandoned = 1;
  if (c->top) {
    pt(R)->timeouts++;
    R->res->summary.timeouts++;
  }
  rein_outcome o = {.kind = REIN_OUTCOME_TIMEOUT};
  o.condition = REIN_COND_TRANSPORT(REIN_TRANSPORT_TIMEOUT);
  c->cur_req = NONE;
  R->callc[ci].last_cond = REIN_COND_NONE; /* answered as before */
  return handle(R, ci, rein_retry_next(&R->callc[ci].r, &o, R->now));
}

static int on_wake(run *R, uint32_t ci, uint32_t serial) {
  sim_call *c = &R->calls[ci];
  if (c->finished || c->serial != serial) return 0;
  if (c->hedged)
    return hedge_handle(R, ci, rein_hedge_poll(&R->hx[R->callc[ci].hx].h, R->now));
  return handle(R, ci, rein_retry_next(&R->callc[ci].r, NULL, R->now));
}

/* A periodic cohort: its calls are evenly spaced at period = 1 / (count x
 * rate), call j at t0 + j x period (computed from j, so rounding does not
 * drift), and call j goes to client j mod count: each client calls every
 * count x period = 1 / rate, client i shifted by i x period. No draw per
 * call (t0 took one, in init_world). */
static int on_periodic(run *R, uint32_t k) {
  const sim_cohort_spec *cs = &R->s->cohorts[k];
  struct periodic *pc = &R->per[k];
  uint64_t j = pc->n++;
  int64_t next = pc->t0 + dur((double)(j + 1) * pc->period_ns);
  if (cohort_active(R, cs, next) && push(R, next, EV_ARRIVAL, (uint32_t)k, 0))
    return -1;
  return client_begin_in(R, R->cohort_first[k] + (uint32_t)(j % cs->count), k);
}

static int on_arrival(run *R, uint32_t k) {
  const sim_cohort_spec *cs = &R->s->cohorts[k];
  if (cs->arrival == SIM_ARRIVAL_PERIODIC) return on_periodic(R, k);
  uint32_t pick = (uint32_t)rein_rng_range(&R->r_arr, 0, cs->count - 1);
  double total = cs->rate * cs->count;
  int64_t next =
      R->now + dur(1e9 / total * rein__sim_expz(&R->expz, &R->r_arr));
  if (cohort_active(R, cs, next) && push(R, next, EV_ARRIVAL, (uint32_t)k, 0))
    return -1;
  return client_begin_in(R, R->cohort_first[k] + pick, k);
}

static int on_tick(run *R, uint32_t k) {
  rein_sim_point *p = &R->res->points[k];
  uint32_t nrep = R->s->servers[R->s->primary].replicas;
  const sim_srv *v0 = &R->srv[R->srv_first[R->s->primary]];
  p->inflight = R->inflight;
  /* the primary's replicas together: queues and capacity summed */
  p->queue = 0;
  double cap = 0;
  for (uint32_t j = 0; j < nrep; j++) {
    const sim_srv *v = v0 + j;
    uint32_t ql = v->qlen;
#ifdef REIN_SIM_ADMIT
    if (v->adm) {
      rein_admit_stats st;
      rein_admit_stats_get(v->adm, R->now, &st);
      ql = (uint32_t)st.queue_len;
    }
#endif
    p->queue += ql;
    double c = rein__sim_server_capacity(v->spec) *
               ((double)v->cap / v->spec->concurrency) / v->slow;
    if (v->outage >= 0) c = 0;
    cap += c;
  }
  uint32_t open = 0;
  for (size_t i = 0; i < R->nbrk; i++)
    if (rein_breaker_state_at(R->brk[i], R->now) == REIN_BREAKER_OPEN)
      open += R->brk_weight[i];
  p->breaker_open = open;
  p->capacity_per_s = cap;
  if (R->progress) R->progress(R->progress_ctx, (double)R->now / (double)R->end);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Summary                                                                 */

static void summarize(run *R) {
  rein_sim_result *res = R->res;
  rein_sim_summary *S = &res->summary;
  const rein_sim_scenario *s = R->s;
  double iv = res->interval_s;
  double cap = rein__sim_server_capacity(&s->servers[s->primary]) * iv *
               s->servers[s->primary].replicas;
  S->events = R->events;
  S->amplification = S->logical ? (double)S->attempts / S->logical : 0;
  double mean_calls = 0;
  size_t nonempty = 0;
  for (size_t k = 0; k < res->n_points; k++)
    if (R->bucket_calls[k]) mean_calls += R->bucket_calls[k], nonempty++;
  mean_calls = nonempty ? mean_calls / nonempty : 0;
  double peak = 0;
  for (size_t k = 0; k < res->n_points; k++) {
    uint64_t c = R->bucket_calls[k];
    if (!c || (double)c < 0.1 * mean_calls) continue;
    double a = (double)R->bucket_attempts[k] / c;
    if (a > peak) peak = a;
  }
  S->peak_amplification = peak;
  double pl = 0, pr = 0;
  for (size_t k = 0; k < res->n_points; k++) {
    if (res->points[k].load / cap > pl) pl = res->points[k].load / cap;
    if (res->points[k].load_retries / cap > pr)
      pr = res->points[k].load_retries / cap;
  }
  S->peak_load_ratio = pl;
  S->peak_retry_ratio = pr;
  S->goodput_per_s = S->successes / res->duration_s;
  S->success_ratio = S->logical ? (double)S->successes / S->logical : 0;
  S->latency_p50_ms = lat_pct(R, 0.5);
  S->latency_p99_ms = lat_pct(R, 0.99);
  S->latency_p999_ms = lat_pct(R, 0.999);
  S->completion_s = -1;
  S->oneshot_clients = R->oneshot_clients;
  S->oneshot_done = R->oneshot_done;
  if (R->oneshot_clients && R->oneshot_done == R->oneshot_clients)
    S->completion_s = R->oneshot_last / 1e9;

  /* recovery */
  S->recovery_s = -1;
  S->recovered = -1;
  S->baseline_goodput_per_s = -1;
  res->inc_start_s = res->inc_end_s = -1;
  if (s->n_incidents) {
    int64_t is = INT64_MAX, ie = 0;
    for (size_t i = 0; i < s->n_incidents; i++) {
      if (s->incidents[i].start_ns < is) is = s->incidents[i].start_ns;
      if (s->incidents[i].end_ns > ie) ie = s->incidents[i].end_ns;
    }
    res->inc_start_s = is / 1e9;
    res->inc_end_s = ie / 1e9;
    int64_t b0 = s->baseline_ns && is > s->baseline_ns ? is - s->baseline_ns : 0;
    size_t k0 = (size_t)((b0 + R->interval - 1) / R->interval);
    size_t k1 = (size_t)(is / R->interval); /* exclusive */
    if (k1 > res->n_points) k1 = res->n_points;
    double g = 0, l = 0;
    if (k1 > k0) {
      for (size_t k = k0; k < k1; k++)
        g += res->points[k].successes, l += res->points[k].load;
      g /= (double)(k1 - k0);
      l /= (double)(k1 - k0);
      S->baseline_goodput_per_s = g / iv;
    }
    /* against the baseline: goodput back within tol of G and load at most
     * L (1 + tol); against the offered load (a remedy that sheds or stops
     * callers lowers goodput for good): over the window, goodput at least
     * (1 - tol) of the calls begun and load at most (1 + tol) of them */
    int offered = s->recovery_against == SIM_RECOVERY_OFFERED;
    if (offered || k1 > k0) {
      size_t hold = (size_t)((s->recovery_hold_ns + R->interval - 1) /
                             R->interval);
      if (hold == 0) hold = 1;
      size_t ks = (size_t)((ie + R->interval - 1) / R->interval);
      double tol = s->recovery_tolerance;
      S->recovered = 0;
      S->recovery_s = (double)(R->end - ie) / 1e9;
      for (size_t k = ks; k + hold <= res->n_points; k++) {
        double wg = 0, wl = 0, wo = 0;
        for (size_t j = k; j < k + hold; j++)
          wg += res->points[j].successes, wl += res->points[j].load,
              wo += res->points[j].offered;
        wg /= (double)hold;
        wl /= (double)hold;
        wo /= (double)hold;
        int ok = offered
                     ? wo > 0 && wg >= (1 - tol) * wo - 1e-9 &&
                           wl <= (1 + tol) * wo + 1e-9
                     : fabs(wg - g) <= tol * g && wl <= (1 + tol) * l + 1e-9;
        if (ok) {
          S->recovered = 1;
          S->recovery_s = ((double)k * (double)R->interval - (double)ie) / 1e9;
          if (S->recovery_s < 0) S->recovery_s = 0;
          break;
        }
      }
    }
  }
  for (size_t k = 0; k < s->n_servers; k++) {
    /* a replicated server's row adds its replicas' (peak_queue: the
     * largest replica's); one row per replica besides */
    rein_sim_server_summary *t = &res->servers[k];
    *t = R->srv[R->srv_first[k]].sum;
    for (uint32_t j = 1; j < s->servers[k].replicas; j++) {
      const rein_sim_server_summary *u = &R->srv[R->srv_first[k] + j].sum;
      t->arrivals += u->arrivals;
      t->executed += u->executed;
      t->shed += u->shed;
      t->wasted += u->wasted;
      t->failed += u->failed;
      if (u->peak_queue > t->peak_queue) t->peak_queue = u->peak_queue;
    }
    t->name = res->server_names[k];
    t->per_logical = S->logical ? (double)t->arrivals / S->logical : 0;
  }
  for (size_t i = 0; i < R->nsrv; i++) {
    rein_sim_server_summary *t = &res->replicas[i];
    *t = R->srv[i].sum;
    t->name = res->replica_names[i];
    t->per_logical = S->logical ? (double)t->arrivals / S->logical : 0;
  }
  S->n_servers = s->n_servers;
  S->servers = res->servers;
}

/* ---------------------------------------------------------------------- */
/* Run                                                                     */

void rein_sim_run_config_default(rein_sim_run_config *c) {
  memset(c, 0, sizeof *c);
  c->max_events = UINT64_C(2000000000);
}

void rein_sim_result_free(rein_sim_result *r) {
  if (!r) return;
  const rein_allocator *a = r->alloc;
  rein__sim_free(a, r->points);
  rein__sim_free(a, r->servers);
  rein__sim_free(a, r->server_names);
  rein__sim_free(a, r->replicas);
  rein__sim_free(a, r->replica_names);
  rein__sim_free(a, r->replica_first);
  rein__sim_free(a, r);
}

static rein_sim_result *result_new(run *R, size_t npoints) {
  const rein_allocator *a = R->ua; /* outlives the run */
  rein_sim_result *r = rein__sim_calloc(a, sizeof *r);
  if (!r) return NULL;
  r->alloc = a;
  r->points = rein__sim_calloc(a, npoints * sizeof(rein_sim_point));
  r->servers =
      rein__sim_calloc(a, R->s->n_servers * sizeof(rein_sim_server_summary));
  r->server_names = rein__sim_calloc(a, R->s->n_servers * SIM_NAME_MAX);
  size_t nrep = 0;
  for (size_t k = 0; k < R->s->n_servers; k++)
    nrep += R->s->servers[k].replicas;
  r->replicas = rein__sim_calloc(a, nrep * sizeof(rein_sim_server_summary));
  r->replica_names = rein__sim_calloc(a, nrep * (SIM_NAME_MAX + 16));
  r->replica_first = rein__sim_calloc(a, (R->s->n_servers + 1) *
                                             sizeof(uint32_t));
  if (!r->points || !r->servers || !r->server_names || !r->replicas ||
      !r->replica_names || !r->replica_first) {
    rein_sim_result_free(r);
    return NULL;
  }
  r->n_points = npoints;
  for (size_t k = 0; k < npoints; k++)
    r->points[k].t_s = (double)k * (double)R->interval / 1e9;
  for (size_t k = 0; k < R->s->n_servers; k++)
    memcpy(r->server_names[k], R->s->servers[k].name, SIM_NAME_MAX);
  uint32_t i = 0;
  for (size_t k = 0; k < R->s->n_servers; k++) {
    r->replica_first[k] = i;
    for (uint32_t j = 0; j < R->s->servers[k].replicas; j++, i++)
      snprintf(r->replica_names[i], SIM_NAME_MAX + 16, "%.63s[%u]",
               R->s->servers[k].name, j);
  }
  r->replica_first[R->s->n_servers] = i;
  return r;
}

static void run_free(run *R) {
  const rein_allocator *a = R->a;
  free_objs(R);
  rein__sim_free(a, R->objs);
  rein__sim_free(a, R->obj_kind);
  rein__sim_free(a, R->insts);
  rein__sim_free(a, R->brk);
  rein__sim_free(a, R->brk_weight);
  rein__sim_free(a, R->heap.a);
  rein__sim_free(a, R->side.a);
  rein__sim_free(a, R->tickl.buf);
  for (size_t i = 0; i < R->nlanes; i++) rein__sim_free(a, R->lanes[i].buf);
  rein__sim_free(a, R->nowl.buf);
  rein__sim_free(a, R->calls_raw);
  rein__sim_free(a, R->callc_raw);
  rein__sim_free(a, R->hx);
  fs_free(R, &R->call_fs);
  rein__sim_free(a, R->clients);
  rein__sim_free(a, R->client_pol);
  rein__sim_free(a, R->cohort_first);
  rein__sim_free(a, R->per);
  if (R->srv)
    for (size_t k = 0; k < R->nsrv; k++) {
      rein__sim_free(a, R->srv[k].q);
      rein__sim_free(a, R->srv[k].occ);
      rein__sim_free(a, R->srv[k].held);
#ifdef REIN_SIM_ADMIT
      /* tickets still queued or admitted at the end: cancel them first */
      if (R->srv[k].adm) {
        for (uint32_t i = 0; i < R->nreqs; i++)
          if (R->reqs[i].ticket != NONE && R->reqs[i].server == k)
            rein_admit_cancel(R->srv[k].adm, ticket_at(R, R->reqs[i].ticket),
                              R->now);
        rein_admit_free(R->srv[k].adm);
      }
      rein__sim_free(a, R->srv[k].pending);
#endif
    }
  rein__sim_free(a, R->reqs_raw); /* after the tickets were cancelled */
#ifdef REIN_SIM_ADMIT
  for (size_t i = 0; i < R->ntchunks; i++) rein__sim_free(a, R->tchunks[i]);
  rein__sim_free(a, R->tchunks);
  rein__sim_free(a, R->tfree);
#endif
  rein__sim_free(a, R->srv);
  rein__sim_free(a, R->srv_first);
  rein__sim_free(a, R->bucket_calls);
  rein__sim_free(a, R->bucket_attempts);
}

static int init_world(run *R) {
  const rein_sim_scenario *s = R->s;
  const rein_allocator *a = R->a;
  uint64_t st = R->res->seed;
  R->req_free = NONE;
  R->hx_free = NONE;
  rein_rng_seed(&R->r_arr, rein_splitmix64(&st));
  rein_rng_seed(&R->r_srv, rein_splitmix64(&st));
  rein_rng_seed(&R->r_net, rein_splitmix64(&st));
  rein_rng_seed(&R->r_seed, rein_splitmix64(&st));
  rein__sim_expz_init(&R->expz);
  for (size_t k = 0; k < s->n_cohorts; k++) R->nclients += s->cohorts[k].count;
  mem_for(R, M_CLIENTS);
  R->clients = rein__sim_calloc(a, R->nclients * sizeof(sim_client));
  R->client_pol = rein__sim_calloc(a, R->nclients * sizeof(uint32_t));
  R->cohort_first = rein__sim_calloc(a, s->n_cohorts * sizeof(uint32_t));
  R->per = rein__sim_calloc(a, s->n_cohorts * sizeof *R->per);
  for (size_t k = 0; k < s->n_servers; k++) R->nsrv += s->servers[k].replicas;
  R->srv = rein__sim_calloc(a, R->nsrv * sizeof(sim_srv));
  R->srv_first = rein__sim_calloc(a, s->n_servers * sizeof(uint32_t));
  mem_for(R, M_SERIES);
  R->bucket_calls = rein__sim_calloc(a, R->res->n_points * sizeof(uint64_t));
  R->bucket_attempts =
      rein__sim_calloc(a, R->res->n_points * sizeof(uint64_t));
  mem_for(R, M_OBJECTS);
  if (!R->clients || !R->client_pol || !R->cohort_first || !R->per || !R->srv ||
      !R->srv_first || !R->bucket_calls || !R->bucket_attempts) {
    R->st = REIN_ENOMEM;
    return -1;
  }
  for (size_t k = 0, i = 0; k < s->n_servers; k++) {
    R->srv_first[k] = (uint32_t)i;
    for (uint32_t j = 0; j < s->servers[k].replicas; j++, i++) {
      R->srv[i].sidx = (uint32_t)k;
      R->srv[i].rep = (uint8_t)j;
      if (s->servers[k].has_downstream)
        R->srv[i].rr =
            (uint8_t)(j % s->servers[s->servers[k].downstream].replicas);
    }
  }
  for (size_t k = 0; k < R->nsrv; k++) {
    sim_srv *v = &R->srv[k];
    v->spec = &s->servers[v->sidx];
    v->pol = NONE;
    if (v->spec->occ_keys) {
      v->occ = rein__sim_calloc(a, v->spec->occ_keys * sizeof(uint64_t));
      if (!v->occ) {
        R->st = REIN_ENOMEM;
        return -1;
      }
    }
#ifdef REIN_SIM_ADMIT
    if (R->va->admission[v->sidx] && adm_setup(R, (uint32_t)k)) return -1;
#endif
    srv_state(R, (uint32_t)k);
  }
  if (setup_objects(R)) return -1;
  /* initial events */
  for (size_t k = 0; k < s->n_cohorts; k++) {
    const sim_cohort_spec *cs = &s->cohorts[k];
    if (cs->arrival == SIM_ARRIVAL_POISSON) {
      int64_t t = cs->begin_ns +
                  dur(1e9 / (cs->rate * cs->count) *
                      rein__sim_expz(&R->expz, &R->r_arr));
      if (cohort_active(R, cs, t) && push(R, t, EV_ARRIVAL, (uint32_t)k, 0))
        return -1;
      continue;
    }
    if (cs->arrival == SIM_ARRIVAL_PERIODIC) {
      /* the cohort's phase: uniform in [0, period), one draw of the
       * arrival stream, so seeds differ and no call sits on a tick */
      struct periodic *pc = &R->per[k];
      pc->period_ns = 1e9 / (cs->rate * cs->count);
      pc->t0 = cs->begin_ns +
               dur(pc->period_ns * rein_rng_uniform_inline(&R->r_arr));
      if (cohort_active(R, cs, pc->t0) &&
          push(R, pc->t0, EV_ARRIVAL, (uint32_t)k, 0))
        return -1;
      continue;
    }
    if (cs->arrival == SIM_ARRIVAL_ONE_SHOT) R->oneshot_clients += cs->count;
    for (uint32_t j = 0; j < cs->count; j++) {
      int64_t t = cs->begin_ns + dur(sample(R, &R->r_arr, &cs->start));
      if (cohort_active(R, cs, t) &&
          push(R, t, EV_CLIENT_START, R->cohort_first[k] + j, 0))
        return -1;
    }
  }
  /* ticks first: a tick at the same instant as an incident edge samples
   * the state of the interval that is ending */
  for (size_t k = 0; k < R->res->n_points; k++) {
    int64_t t = (int64_t)(k + 1) * R->interval;
    if (t > R->end) t = R->end;
    if (push(R, t, EV_TICK, (uint32_t)k, 0)) return -1;
  }
  for (size_t i = 0; i < s->n_incidents; i++) {
    if (push(R, s->incidents[i].start_ns, EV_INCIDENT, (uint32_t)i, 0) ||
        push(R, s->incidents[i].end_ns, EV_INCIDENT, (uint32_t)i, 1))
      return -1;
  }
  return 0;
}

static int step(run *R, const ev *e) {
  switch (EV_TYPE(e)) {
  case EV_ARRIVAL: return on_arrival(R, e->id);
  case EV_CLIENT_START: return client_begin(R, e->id);
  case EV_REQ_ARRIVE: return on_req_arrive(R, e->id);
  case EV_SERVICE_DONE: return on_service_done(R, e->id);
  case EV_RESP: return on_resp(R, e->id);
  case EV_TIMEOUT: return on_timeout(R, e->id, e->gen);
  case EV_WAKE: return on_wake(R, e->id, e->gen);
  case EV_TICK: return on_tick(R, e->id);
  case EV_INCIDENT: {
    const sim_incident_spec *in = &R->s->incidents[e->id];
    uint32_t n = R->s->servers[in->server].replicas;
    for (uint32_t j = 0; j < n; j++) {
      if (in->replica >= 0 && (uint32_t)in->replica != j) continue;
      uint32_t k = R->srv_first[in->server] + j;
      srv_state(R, k);
      if (R->srv[k].nheld && R->srv[k].outage != SIM_OUT_BUFFER &&
          flush_held(R, &R->srv[k]))
        return -1;
      int rc;
#ifdef REIN_SIM_ADMIT
      if (R->srv[k].adm)
        rc = adm_pending(R, k);
      else
#endif
        rc = dispatch(R, k);
      if (rc) return rc;
    }
    return 0;
  }
  case EV_SETTLE:
#ifdef REIN_SIM_ADMIT
    return adm_settle(R, e->id);
#else
    return 0;
#endif
  }
  return 0;
}

rein_status rein_sim_run(const rein_sim_scenario *s,
                         const rein_sim_run_config *c,
                         rein_sim_result **out) {
  if (!s || !out) return REIN_EINVAL;
  *out = NULL;
  rein_sim_run_config def;
  if (!c) {
    rein_sim_run_config_default(&def);
    c = &def;
  }
  if (c->variant >= s->n_variants) {
    if (c->err)
      snprintf(c->err->msg, sizeof c->err->msg,
               "variant index %zu out of range (%zu variants)", c->variant,
               s->n_variants);
    return REIN_EINVAL;
  }
  run *R = rein__sim_calloc(c->alloc, sizeof *R);
  if (!R) return REIN_ENOMEM;
  R->s = s;
  R->va = &s->variants[c->variant];
  R->ua = c->alloc;
  R->acct = (rein_allocator){mem_malloc, mem_release, R};
  R->a = &R->acct;
  R->mem_tag = M_OBJECTS;
  R->mem_budget = c->max_memory   ? c->max_memory
                  : s->max_memory ? s->max_memory
                                  : rein_sim_default_memory();
  R->err = c->err;
  R->end = c->duration_ns > 0 ? c->duration_ns : s->duration_ns;
  R->interval = s->interval_ns;
  R->max_events = c->max_events ? c->max_events : UINT64_C(2000000000);
  R->progress = c->progress;
  R->progress_ctx = c->progress_ctx;
  rein_manual_clock_init(&R->clock, 0);
  size_t npoints = (size_t)((R->end + R->interval - 1) / R->interval);
  if (npoints == 0) npoints = 1;
  if (npoints > 10000000) {
    rein__sim_free(c->alloc, R);
    return REIN_ETOOBIG;
  }
  /* What is known before the run: the clients and the series (and one
   * event per tick and per closed or one-shot client). Refuse at once
   * rather than after minutes of running into the budget. */
  {
    uint64_t nclients = 0, starts = 0;
    for (size_t k = 0; k < s->n_cohorts; k++) {
      nclients += s->cohorts[k].count;
      if (s->cohorts[k].arrival != SIM_ARRIVAL_POISSON &&
          s->cohorts[k].arrival != SIM_ARRIVAL_PERIODIC)
        starts += s->cohorts[k].count;
    }
    uint64_t by[M_N] = {0};
    by[M_CLIENTS] = nclients * (sizeof(sim_client) + sizeof(uint32_t));
    by[M_SERIES] = (uint64_t)npoints *
                   (sizeof(rein_sim_point) + 2 * sizeof(uint64_t) + sizeof(ev));
    by[M_EVENTS] = starts * sizeof(ev);
    uint64_t need = by[M_CLIENTS] + by[M_SERIES] + by[M_EVENTS];
    if (need > R->mem_budget) {
      int w = M_CLIENTS;
      for (int k = 0; k < M_N; k++)
        if (by[k] > by[w]) w = k;
      /* as if the largest part were the allocation refused */
      R->mem_over_need = need;
      R->mem_over_what = w;
      for (int k = 0; k < M_N; k++)
        R->mem_by[k] = k == w ? 0 : by[k];
      R->mem_total = need - by[w];
      mem_message(R, "before the run");
      rein__sim_free(c->alloc, R);
      return REIN_ETOOBIG;
    }
  }
  R->res = result_new(R, npoints);
  if (!R->res) {
    rein__sim_free(c->alloc, R);
    return REIN_ENOMEM;
  }
  /* the result is the caller's, but it is the run's memory while it runs */
  R->mem_by[M_SERIES] += (uint64_t)npoints * sizeof(rein_sim_point);
  R->mem_total += (uint64_t)npoints * sizeof(rein_sim_point);
  rein_sim_result *res = R->res;
  snprintf(res->variant, sizeof res->variant, "%s", R->va->name);
  snprintf(res->scenario, sizeof res->scenario, "%s", s->name);
  res->seed = c->seed ? c->seed : s->seed;
  res->interval_s = R->interval / 1e9;
  res->duration_s = R->end / 1e9;

  int rc = init_world(R);
  ev e;
  while (!rc && next_event(R, &e)) {
    if (e.t > R->end) break;
    if (e.t < R->now) {
      /* the queues handed out an event from the past: an engine bug; stop
       * rather than report a run whose clock went backwards */
      R->st = REIN_ESTATE;
      if (R->err)
        snprintf(R->err->msg, sizeof R->err->msg,
                 "internal error: event at %lld ns after time %lld ns",
                 (long long)e.t, (long long)R->now);
      rc = -1;
      break;
    }
    if (e.t != R->now) {
      R->now = e.t;
      R->bucket_now = bucket_of(R, e.t);
      rein_manual_clock_set(&R->clock, e.t);
    }
    R->events++;
    if (R->events > R->max_events) {
      R->st = REIN_ETOOBIG;
      if (R->err)
        snprintf(R->err->msg, sizeof R->err->msg,
                 "stopped after %llu events (max_events)",
                 (unsigned long long)R->max_events);
      rc = -1;
      break;
    }
    rc = step(R, &e);
  }
  rein_status st = REIN_OK;
  if (rc && R->mem_over_need) { /* the budget refused an allocation */
    R->st = REIN_ETOOBIG;
    mem_message(R, R->events ? "while running" : "while setting up");
  }
  if (rc) {
    st = R->st != REIN_OK ? R->st : REIN_ENOMEM;
    if (st == REIN_ENOMEM && R->err && !R->err->msg[0])
      snprintf(R->err->msg, sizeof R->err->msg, "out of memory");
    rein_sim_result_free(res);
  } else {
    summarize(R);
    *out = res;
  }
  run_free(R);
  rein__sim_free(c->alloc, R);
  return st;
}

const rein_sim_summary *rein_sim_result_summary(const rein_sim_result *r) {
  return r ? &r->summary : NULL;
}

size_t rein_sim_result_series(const rein_sim_result *r,
                              const rein_sim_point **points) {
  if (!r) return 0;
  if (points) *points = r->points;
  return r->n_points;
}

const char *rein_sim_result_variant(const rein_sim_result *r) {
  return r ? r->variant : "";
}

uint64_t rein_sim_result_seed(const rein_sim_result *r) {
  return r ? r->seed : 0;
}

size_t rein_sim_result_replicas(const rein_sim_result *r, size_t server,
                                const rein_sim_server_summary **rows) {
  if (rows) *rows = NULL;
  if (!r || server >= r->summary.n_servers) return 0;
  if (rows) *rows = &r->replicas[r->replica_first[server]];
  return r->replica_first[server + 1] - r->replica_first[server];
}
