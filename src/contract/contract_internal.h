/* SPDX-License-Identifier: Apache-2.0 */
/*
 * contract_internal.h: the in-memory model of a set of contracts, shared by
 * the loader, the rules, the writers and the policy bridge; not installed.
 *
 * Everything a set owns lives in one arena (chunks from the config's
 * allocator) so a set is freed in one sweep and a failing allocation at any
 * point leaves nothing behind. Every field the rules may point at keeps the
 * libyaml mark of its node (rc_loc), which is how diagnostics get their
 * file:line:col.
 */
#ifndef REIN_CONTRACT_INTERNAL_H
#define REIN_CONTRACT_INTERNAL_H

#include "rein/contract.h"
#include "rein/model.h"

#include <stdarg.h>
#include <stdio.h>

typedef rein_contract_loc rc_loc;

/* Outcome tokens in `retryable` and `retry.when`, as written (for the
 * rules' messages): HTTP codes 100..599 as themselves, classes "1xx".."5xx"
 * as 1000..5000, gRPC codes as RC_TOK_GRPC + code, names below. What each
 * means is rein/classify.h's: the runtime set is built by handing each
 * token's name to rein_retryable_set_add (rein__rc_retryable_set). */
enum {
  RC_TOK_TIMEOUT = 1,
  RC_TOK_CONNECT_REFUSED = 2,
  RC_TOK_CONNECTION_RESET = 3,
  RC_TOK_DNS = 4,
  RC_TOK_OVERLOADED = 5,
  RC_TOK_FAILURE = 6,
  RC_TOK_NOT_SENT = 7,
  RC_TOK_CONNECT_FAILURE = 8,
  RC_TOK_RESET = 9,
  RC_TOK_REFUSED_STREAM = 10,
  RC_TOK_CLASS_1XX = 1000,
  RC_TOK_CLASS_2XX = 2000,
  RC_TOK_CLASS_3XX = 3000,
  RC_TOK_CLASS_4XX = 4000,
  RC_TOK_CLASS_5XX = 5000,
  RC_TOK_GRPC = 6000 /* + code 1..16 */
};
#define RC_MAX_TOKENS 32

typedef enum rc_idem {
  RC_IDEM_UNSET = 0,
  RC_IDEM_NATURAL = 1,
  RC_IDEM_KEY = 2,
  RC_IDEM_NONE = 3
} rc_idem;

/* A message broker a call publishes through or an operation consumes from
 * (`broker:`, docs/contracts.md "Brokers"): what it deduplicates, read by
 * R013. `kind` RC_BROKER_NONE: no block. */
typedef enum rc_broker_kind {
  RC_BROKER_NONE = 0,
  RC_BROKER_JETSTREAM = 1,
  RC_BROKER_KAFKA = 2,
  RC_BROKER_RABBITMQ = 3,
  RC_BROKER_REDIS_STREAMS = 4
} rc_broker_kind;

/* nats-server's default stream duplicate_window. */
#define RC_JETSTREAM_DUP_WINDOW_NS (INT64_C(120) * REIN_NS_PER_S)

typedef struct rc_broker {
  rc_broker_kind kind;
  rc_loc loc, kind_loc;
  int64_t duplicate_window; /* jetstream; RC_JETSTREAM_DUP_WINDOW_NS when
                               not written */
  bool has_duplicate_window;
  rc_loc duplicate_window_loc;
  bool idempotent_producer, has_idempotent_producer; /* kafka */
  rc_loc idempotent_producer_loc;
  bool inbox, has_inbox; /* a consumer (operation) */
  rc_loc inbox_loc;
} rc_broker;

typedef struct rc_op {
  const char *name;
  rc_loc loc;
  rc_idem idem;
  rc_loc idem_loc;
  int64_t key_ttl; /* 0 = not declared */
  rc_loc key_ttl_loc;
  const char *key_header;
  uint16_t retryable[RC_MAX_TOKENS];
  uint32_t nretryable;
  bool has_retryable;
  rc_loc retryable_loc;
  double max_retry_ratio;
  bool has_max_retry_ratio;
  rc_loc max_retry_ratio_loc;
  int64_t timeout;
  rc_loc timeout_loc;
  rc_broker broker; /* the broker it consumes from (kind NONE: none) */
} rc_op;

typedef struct rc_svc rc_svc;

typedef struct rc_call {
  rc_svc *from;
  uint32_t index;
  rc_loc loc;
  const char *to; /* "service.operation" as written */
  const char *to_svc, *to_op;
  rc_loc to_loc;
  rc_svc *callee; /* resolved (current version) or NULL */
  rc_op *op;
  uint32_t instances; /* 0 = the service's */
  rc_loc instances_loc;
  double rate; /* per second; 0 = not declared */
  rc_loc rate_loc;
  int64_t timeout, deadline;
  rc_loc timeout_loc, deadline_loc;

  bool has_retry;
  rc_loc retry_loc;
  uint32_t attempts;
  rc_loc attempts_loc;
  bool has_backoff;
  rc_loc backoff_loc, jitter_loc, kind_loc;
  int64_t window;
  bool has_window;
  rc_loc window_loc;
  uint16_t on[RC_MAX_TOKENS];
  rc_loc on_locs[RC_MAX_TOKENS];
  uint32_t non;
  bool has_on;
  rc_loc on_loc;

  bool has_budget;
  rc_loc budget_loc, ratio_loc;

  bool has_breaker;
  rc_loc breaker_loc;
  const char *fleet_name;

  bool has_throttle;
  rc_loc throttle_loc;

  bool has_hedge;
  rc_loc hedge_loc;

  uint32_t signals;

  rein_contract_key key;
  rc_loc key_loc;
  const char *pin;
  rc_loc pin_loc;
  const char *origin; /* imported calls: "file:line:col name" (rein import) */
  rc_loc origin_loc;
  rc_broker broker;      /* the broker it publishes through (kind NONE: a
                            direct call) */
  rein_policy_spec spec; /* backoff, budget, breaker, throttle and their
                            scopes, as the model read them (rein/model.h) */
} rc_call;

struct rc_svc {
  const char *name, *version;
  rc_loc loc, version_loc;
  uint32_t file_seq;
  uint32_t instances;
  rc_loc instances_loc;
  double capacity; /* 0 = not declared */
  rc_loc capacity_loc;
  rc_op *ops;
  size_t nops;
  rc_call *calls;
  size_t ncalls;
  rein_contract_admission *adm; /* server.admission, or NULL */
  bool current;         /* newest version of its name */
  bool imported;        /* rein_contract_add_imported: its calls join the
                           contract of the same name, if any */
  rc_svc *next_version; /* chain of every version with this name */
  /* rule scratch */
  rc_call **in; /* calls into this service (current callers) */
  size_t nin, capin;
  int mark_q, mark_u;
  double q; /* R004: largest attempt product reaching here */
  rc_call *q_pred;
  int64_t u; /* R001: longest keyed window reaching here */
  rc_call *u_pred;
};

typedef struct rc_diag {
  rein_contract_diag d;
  size_t caprelated;
  uint32_t file_seq;
  size_t seq;
} rc_diag;

typedef struct rc_chunk rc_chunk;

/* A directory read by add_path, by (device, inode), and the path it was
 * first read as. */
typedef struct rc_dirid {
  uint64_t dev, ino;
  const char *path;
} rc_dirid;

struct rein_contract_set {
  rein_allocator alloc;
  size_t max_file_bytes;
  size_t max_files, max_total_bytes; /* across every add_path */
  unsigned max_depth;                /* YAML nesting (rein/input.h) */
  size_t files_read, bytes_read;
  bool bound_hit; /* max_files or max_total_bytes refused a file */
  rc_dirid *dirs; /* directories walked: each is read once */
  size_t ndirs, capdirs;
  rein_errbuf *err;
  rc_chunk *chunks;
  bool oom;
  uint32_t nfiles;

  rc_svc **svcs; /* every service, every version */
  size_t nsvcs, capsvcs;
  rc_svc **table; /* open addressing on name: current versions */
  size_t table_cap;

  rc_diag *diags;
  size_t ndiags, capdiags;
  bool sorted;
  bool resolved, checked;

  rein_contract_ttl *ttls;
  size_t nttls;

  rein_contract_import_fn importer; /* asked first for every file read */
  void *importer_ctx;
  bool loading_imported; /* rein_contract_add_imported is loading */
};

/* Arena (set.c). NULL on failure, and s->oom is set. */
void *rein__rc_alloc(rein_contract_set *s, size_t n);
char *rein__rc_strndup(rein_contract_set *s, const char *p, size_t n);
char *rein__rc_strdup(rein_contract_set *s, const char *p);
char *rein__rc_printf(rein_contract_set *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Grow an array of `elem`-sized items to hold at least `need`. */
bool rein__rc_grow(rein_contract_set *s, void **arr, size_t *cap, size_t need,
                   size_t elem);

/* Append a diagnostic; returns it (NULL when out of memory). `why`/`fix` are
 * copied. */
rc_diag *rein__rc_diag(rein_contract_set *s, rc_loc loc, uint32_t file_seq,
                       rein_contract_severity sev, const char *rule,
                       const char *why, const char *fix);
bool rein__rc_related(rein_contract_set *s, rc_diag *d, rc_loc loc,
                      const char *msg);

/* Services (set.c). */
bool rein__rc_add_service(rein_contract_set *s, rc_svc *svc);
rc_svc *rein__rc_find(const rein_contract_set *s, const char *name);
int rein__rc_version_cmp(const char *a, const char *b);
/* Resolve calls (E007) once. false on OOM. */
bool rein__rc_resolve(rein_contract_set *s);


/* Loader (load.c). */
/* What write_sarif puts in its "results" array (comma-separated results,
 * no brackets), alone: the part of a SARIF log that depends on the set.
 * fuzz_contract writes the whole log once and this for every input, since
 * the rules catalogue (most of a log's bytes and time) is constant. False
 * on an allocation or write failure. */
bool rein__rc_write_sarif_results(const rein_contract_set *s, FILE *f);

rein_status rein__rc_load_buffer(rein_contract_set *s, const char *name,
                                 const char *data, size_t len);

/* Derived values used by rules, ttl and policy (rules.c). */
uint32_t rein__rc_attempts(const rc_call *c);
uint32_t rein__rc_instances(const rc_call *c);
int64_t rein__rc_window(const rc_call *c);
int64_t rein__rc_attempt_timeout(const rc_call *c);
uint32_t rein__rc_retry_on_mask(const rc_call *c);
void rein__rc_call_spec(const rc_call *c, rein_policy_spec *sp);
/* The runtime retryable set of a call (empty: no when, no retryable). */
void rein__rc_retryable_set(const rc_call *c, rein_retryable_set *out);
int rein__rc_token_kind(uint16_t tok);
const char *rein__rc_token_name(uint16_t tok, char *buf, size_t len);

const char *rein__rc_dur(int64_t ns, char *buf, size_t len);

#endif
