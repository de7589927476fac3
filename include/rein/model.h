/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/model.h: the one policy model. Every field a retry policy has
 * (attempts, backoff, window, statuses, budget, breaker, throttle, scopes,
 * timeouts) is described once, in a table: its YAML name, its type and
 * unit, its bounds, its default and a line of documentation, and where it
 * lives in a rein_policy_spec. The contract loader, the scenario loader,
 * `rein policy`, the libcurl client and the simulator all read policies
 * through this table and build the runtime objects with one builder, so a
 * field means the same thing, with the same bounds and the same spelling,
 * everywhere; the JSON Schema in docs/ is checked against it field by
 * field (test_model).
 *
 * A rein_policy_spec is plain data (no objects): what a contract or a
 * scenario declares. rein_policy_spec_build creates the budget, breaker,
 * throttle and policy from it (or uses shared ones given); and
 * rein_policy_spec_of reads the spec back out of a running policy, so a
 * test can prove that what runs is what was declared:
 * rein_policy_spec_json writes the canonical JSON of a spec (every field,
 * in table order, values in one canonical spelling).
 *
 * Part of the core (libc only). Thread-safety: the table is constant; the
 * functions touch only their arguments.
 */
#ifndef REIN_MODEL_H
#define REIN_MODEL_H

#include "rein/breaker.h"
#include "rein/hedge.h"
#include "rein/budget.h"
#include "rein/classify.h"
#include "rein/common.h"
#include "rein/errors.h"
#include "rein/retry.h"
#include "rein/throttle.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Who shares a budget, breaker or throttle. INSTANCE: each process (each
 * simulated client) has its own; FLEET: one for every instance of the
 * caller (contracts: through Redis, rein/fleet.h; the simulator: one per
 * cohort). */
typedef enum rein_scope {
  REIN_SCOPE_INSTANCE = 0,
  REIN_SCOPE_FLEET = 1
} rein_scope;

/* Server signals a caller honours (bits of rein_policy_spec.signals; the
 * same values as REIN_CONTRACT_SIGNAL_* and REIN_CURL_SIGNAL_*). */
#define REIN_SIGNAL_RETRY_AFTER 1u
#define REIN_SIGNAL_PUSHBACK 2u
#define REIN_SIGNAL_RATELIMIT 4u
#define REIN_SIGNAL_DONT_RETRY 8u
#define REIN_SIGNAL_ALL 15u

/*
 * A retry policy as declared. `policy` holds attempts, backoff, retry_on and
 * retryable, window, attempt timeout, expected attempt, idempotent and name;
 * its object pointers (budget, breaker, throttle, metrics), clock, seed,
 * alloc and err are ignored by the model (the builder sets them).
 */
typedef struct rein_policy_spec {
  rein_policy_config policy;
  bool has_budget;
  rein_budget_config budget;
  rein_scope budget_scope;
  bool has_breaker;
  rein_breaker_config breaker;
  rein_scope breaker_scope;
  bool has_throttle;
  rein_throttle_config throttle;
  rein_scope throttle_scope;
  int64_t deadline_ns; /* per logical call; 0 = none */
  uint32_t signals;    /* REIN_SIGNAL_* honoured; default all */
  /* Appended. Hedged requests (rein/hedge.h): attempts, delay, quantile,
   * window, min_samples; its policy, non-fatal set, alloc and err are
   * ignored by the model (hedging goes on after what `when` retries). */
  bool has_hedge;
  rein_hedge_config hedge;
} rein_policy_spec;

/* Every field at its default (the defaults of the core configs), no
 * budget, breaker or throttle, all signals honoured. */
REIN_API void rein_policy_spec_default(rein_policy_spec *s);

/* ---- the table ---------------------------------------------------------- */

/* The block a field belongs to: the YAML map it is written in. CALL fields
 * sit beside `retry` in a contract's call (timeout, deadline) and in a
 * scenario's policy map; RETRY fields in the retry block (a scenario's
 * policy map is a retry block plus the CALL fields). */
typedef enum rein_model_block {
  REIN_MODEL_CALL = 0,
  REIN_MODEL_RETRY = 1,
  REIN_MODEL_BACKOFF = 2,
  REIN_MODEL_BUDGET = 3,
  REIN_MODEL_BREAKER = 4,
  REIN_MODEL_THROTTLE = 5,
  REIN_MODEL_HEDGE = 6,
  REIN_MODEL_BLOCK_COUNT_
} rein_model_block;

typedef enum rein_model_type {
  REIN_MODEL_COUNT = 0,    /* an integer (uint32_t) */
  REIN_MODEL_NUMBER = 1,   /* a decimal number (double) */
  REIN_MODEL_DURATION = 2, /* rein_parse_duration's grammar (int64_t ns) */
  REIN_MODEL_ENUM = 3,     /* one of `names` (stored as int) */
  REIN_MODEL_STATUSES = 4, /* a list: rein/classify.h's names (retry_on and
                              retryable) */
  REIN_MODEL_SIGNALS = 5   /* a list: retry-after, pushback, ratelimit,
                              dont-retry */
} rein_model_type;

typedef struct rein_model_field {
  rein_model_block block;
  const char *name;     /* as written in YAML: "min_per_sec" */
  rein_model_type type;
  const char *unit;     /* "ns", "1/s", "calls", "" */
  double min, max;      /* bounds (durations in ns) */
  bool min_open;        /* min itself is refused: (min, max] */
  bool max_open;        /* max itself is refused: [min, max) */
  const char *example;  /* a valid value, for messages: "100ms" */
  const char *doc;      /* one line */
  const char *const *names; /* ENUM: NULL-terminated */
  uint32_t kinds;       /* BUDGET: the budget kinds it applies to (bit
                           1 << rein_budget_kind); 0 = every kind */
  const char *alias;    /* an older spelling still read with a deprecation
                           warning, or NULL */
} rein_model_field;

/* The table, in canonical order; `*n` is set to its length. */
REIN_API const rein_model_field *rein_model_fields(size_t *n);
/* The block's YAML name: "call", "retry", "backoff", ... */
REIN_API const char *rein_model_block_name(rein_model_block b);
/* The field `name` of block `b` (also found by its alias, and then
 * `*deprecated` is set when given), or NULL. */
REIN_API const rein_model_field *rein_model_find(rein_model_block b,
                                                 const char *name,
                                                 bool *deprecated);
/* The known names of block `b` (NULL-terminated; canonical order), for
 * "did you mean" and for "known fields: ..." messages. */
REIN_API const char *const *rein_model_names(rein_model_block b);

/*
 * Set a scalar field (COUNT, NUMBER, DURATION, ENUM) from its text, checked
 * against the field's bounds. REIN_EPARSE when the text is not of the type,
 * REIN_ERANGE when out of bounds, REIN_EINVAL for a list field or NULL
 * arguments; `err` then says what was expected, e.g. "expected a duration
 * such as 100ms (units ns, us, ms, s, m, h, d, w), got '10 seconds'" or
 * "must be in (0, 1], got 1.5". The field name is not in the message (the
 * caller prefixes its own path). Setting a field of the breaker window
 * selects the window kind (window: TIME, window_calls: COUNT).
 */
REIN_API rein_status rein_model_set(rein_policy_spec *s,
                                    const rein_model_field *f,
                                    const char *text, rein_errbuf *err);
/* Add one item to a list field (STATUSES, SIGNALS). The first item added
 * after rein_model_list_clear starts the list. Same errors as above. */
REIN_API rein_status rein_model_list_add(rein_policy_spec *s,
                                         const rein_model_field *f,
                                         const char *text, rein_errbuf *err);
/* The retry_on bits one `when` name adds (what a transport that knows only
 * the outcome kind retries): an outcome kind itself (`fatal` included); a
 * status, range, gRPC status or transport condition its kinds (`503`
 * OVERLOADED, `504` TIMEOUT), never FATAL; a class its typical kind (`5xx`
 * FAILURE; `4xx` and 1xx..3xx nothing). 0 for a name that is not one. */
REIN_API uint32_t rein_model_name_kinds(const char *name);
/* Empty a list field (when: [] retries nothing; signals: [] honours none). */
REIN_API void rein_model_list_clear(rein_policy_spec *s,
                                    const rein_model_field *f);
/* The field's value in canonical text (durations lossless, as
 * rein_format_duration; numbers with %.17g trimmed; lists as "a, b").
 * Returns `buf`. */
REIN_API const char *rein_model_get(const rein_policy_spec *s,
                                    const rein_model_field *f, char *buf,
                                    size_t len);

/* ---- canonical JSON ----------------------------------------------------- */

/*
 * The canonical JSON of a spec: {"call":{...},"retry":{...},"backoff":{...},
 * "budget":null|{...},"breaker":null|{...},"throttle":null|{...}}, every
 * field of the table in table order (budget fields of other kinds left
 * out), values as rein_model_get spells them (strings for durations, enum
 * names and lists; numbers for counts and numbers). Two specs that build
 * the same runtime objects have the same JSON. Writes at most len - 1 bytes
 * and a NUL; returns the length the whole text needs (like snprintf).
 */
REIN_API size_t rein_policy_spec_json(const rein_policy_spec *s, char *buf,
                                      size_t len);

/*
 * The spec as YAML that the contract loader (`contract` true: `timeout` and
 * `deadline`, then a `retry:` block, to sit inside a call at `indent`
 * spaces) or the scenario loader (`contract` false: one flat policy map at
 * `indent`) reads back to the same spec: model -> YAML -> model round-trips
 * (test_model). Every field the spec has, canonical spellings; the
 * scenario form also writes the scopes. Returns the length the whole text
 * needs (like snprintf).
 */
REIN_API size_t rein_policy_spec_yaml(const rein_policy_spec *s, bool contract,
                                      unsigned indent, char *buf, size_t len);

/* ---- the builder -------------------------------------------------------- */

/* What the builder is given beside the spec. */
typedef struct rein_policy_build {
  const rein_allocator *alloc; /* NULL = malloc */
  rein_errbuf *err;            /* optional: the first refusal */
  rein_clock clock;            /* default monotonic */
  rein_metrics *metrics;       /* optional, borrowed; also the breaker's */
  uint64_t seed;               /* policy seed (and the breaker's when
                                  breaker_seed is 0); 0 = the configs' */
  uint64_t breaker_seed;       /* the breaker's open-jitter seed; 0 = seed */
  /* Shared objects to use instead of creating one (borrowed: they must
   * outlive the policy): a fleet or cohort budget, breaker or throttle.
   * NULL = create one when the spec has it. */
  rein_budget *budget;
  rein_breaker *breaker;
  rein_throttle *throttle;
  /* Appended. Counter stripes of the objects the builder creates (policy,
   * budget, breaker, throttle): 0 = 16; 1 when one thread uses them (the
   * simulator's per-client policies). */
  uint32_t stripes;
} rein_policy_build;

REIN_API void rein_policy_build_default(rein_policy_build *b);

/* The objects of one policy; `own_*` says which the builder created (and
 * rein_policy_objects_free frees). */
typedef struct rein_policy_objects {
  rein_policy *policy;
  rein_budget *budget;
  rein_breaker *breaker;
  rein_throttle *throttle;
  bool own_budget, own_breaker, own_throttle;
  rein_hedge_policy *hedge; /* appended: when the spec hedges (always own) */
} rein_policy_objects;

/*
 * Create the budget, breaker and throttle the spec has (unless `b` gives
 * shared ones) and the policy over them. REIN_EINVAL with the core's message
 * naming the field ("breaker.open_jitter: ...") when an object refuses its
 * config, REIN_ENOMEM; nothing is left allocated on failure. `b` NULL =
 * rein_policy_build_default.
 */
REIN_API rein_status rein_policy_spec_build(const rein_policy_spec *s,
                                            const rein_policy_build *b,
                                            rein_policy_objects *out);
/* Free what the builder created, policy first. NULL or zeroed: no-op. */
REIN_API void rein_policy_objects_free(rein_policy_objects *o);

/* Read the spec back out of a running policy and the objects it uses (the
 * scopes and deadline, which the objects do not know, are left at their
 * defaults; `signals` at all). REIN_EINVAL for NULL. */
REIN_API rein_status rein_policy_spec_of(const rein_policy *p,
                                         rein_policy_spec *out);

#ifdef __cplusplus
}
#endif
#endif /* REIN_MODEL_H */
