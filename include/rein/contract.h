/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/contract.h: retry contracts: load them, check them, run them.
 *
 * A contract is one YAML (or JSON) file per service and version: what the
 * service offers (operations: idempotency, key retention, retryable outcomes,
 * tolerated retry ratio, timeout) and how it calls others (calls: rate,
 * timeouts, deadline, retry schedule, budget, breaker, how an idempotency key
 * crosses the boundary, the callee contract version it was written against).
 * docs/contracts.md is the reference of the format and of every rule;
 * docs/contract.schema.json is its JSON Schema.
 *
 *   rein_contract_set *s;
 *   const char *paths[] = {"contracts/"};
 *   rein_status st = rein_contract_load(NULL, paths, 1, &s);
 *   if (st == REIN_OK) st = rein_contract_check(s, NULL);
 *   rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stdout);
 *   rein_contract_set_free(s);
 *
 * Loading never stops at the first problem: every malformed file, wrong type,
 * unknown field (with a did-you-mean), bad duration or rate becomes a
 * diagnostic with file:line:col; a file with problems contributes nothing
 * (rules never run on half a contract), the other files load. Checking
 * resolves references and runs rules R001..R013, appending findings to the
 * same diagnostic list. rein_policy_from_contract turns one call of the
 * checked graph into the core configs (rein_policy_config and the budget,
 * breaker and throttle configs), so the policy that was checked is the
 * policy that runs.
 *
 * Thread level: one thread at a time while loading and checking. Once
 * rein_contract_check has returned, the const readers (diag_count, diag_at,
 * count, write, rule, policy_from_contract) write nothing and may run from
 * any number of threads; rein_contract_ttls fills a cache on first use (call
 * it once before sharing). Every string a set hands out lives until
 * rein_contract_set_free.
 */
#ifndef REIN_CONTRACT_H
#define REIN_CONTRACT_H

#include <stdio.h>

#include "rein/admit.h"
#include "rein/breaker.h"
#include "rein/budget.h"
#include "rein/common.h"
#include "rein/errors.h"
#include "rein/model.h"
#include "rein/retry.h"
#include "rein/throttle.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_contract_set rein_contract_set;

typedef enum rein_contract_severity {
  REIN_CONTRACT_ERROR = 0,
  REIN_CONTRACT_WARNING = 1,
  REIN_CONTRACT_NOTE = 2
} rein_contract_severity;

/* A place in a contract file (1-based line and column; 0 when unknown). */
typedef struct rein_contract_loc {
  const char *file;
  uint32_t line, col;
} rein_contract_loc;

/* A secondary location of a diagnostic (e.g. each layer of an R004 path). */
typedef struct rein_contract_related {
  rein_contract_loc loc;
  const char *message;
} rein_contract_related;

/*
 * One diagnostic. `rule` is a stable id: R001..R013 for rules, E001..E007
 * for input problems (E001 malformed YAML, E002 wrong type, E003 unknown
 * field, E004 invalid value, E005 missing field, E006 duplicate,
 * E007 unresolved reference, E008 unreadable file). `message` is one line
 * on what is wrong and why it matters, `fix` one line on what to change.
 * All strings are owned by the set.
 */
typedef struct rein_contract_diag {
  rein_contract_loc loc;
  rein_contract_severity severity;
  const char *rule;
  const char *message;
  const char *fix;
  const rein_contract_related *related;
  size_t nrelated;
} rein_contract_diag;

typedef struct rein_contract_config {
  const rein_allocator *alloc; /* NULL = malloc */
  size_t max_file_bytes;       /* larger files are refused (E008); default
                                  4 MiB */
  rein_errbuf *err;            /* optional: first problem, one line */
  /* Appended in 0.2 (0 = the default): */
  size_t max_files;       /* contract files read per set; default 10,000 */
  size_t max_total_bytes; /* bytes read per set; default 64 MiB */
  unsigned max_depth;     /* YAML nesting depth; default 64
                             (REIN_YAML_MAX_DEPTH) */
} rein_contract_config;

REIN_API void rein_contract_config_default(rein_contract_config *c);

/* An empty set. REIN_ENOMEM on allocation failure. `c` may be NULL. */
REIN_API rein_status rein_contract_set_new(const rein_contract_config *c,
                                           rein_contract_set **out);
/* NULL is a no-op. */
REIN_API void rein_contract_set_free(rein_contract_set *s);

/*
 * Add one contract from memory; `name` is the file name diagnostics use
 * (copied). REIN_OK when it loaded cleanly, REIN_EPARSE when it produced
 * diagnostics (the contract is then not added), REIN_ENOMEM. Never reads
 * past `len`; `data` need not be NUL-terminated.
 */
REIN_API rein_status rein_contract_add_buffer(rein_contract_set *s,
                                              const char *name,
                                              const char *data, size_t len);
/* Add a file, or every *.yaml, *.yml and *.json file in a directory tree
 * (sorted by name). Same returns; an unreadable path is E008, and so is a
 * FIFO, socket or device (refused without blocking), a file past
 * max_file_bytes, and the first file past max_files or max_total_bytes
 * (nothing further is read). Symbolic links are followed, but each
 * directory is read once (by device and inode): one reached again (a link
 * to `.` or to an ancestor) is skipped with a warning (E008) naming the
 * path it was first read as. Directories nest at most 16 deep. */
REIN_API rein_status rein_contract_add_path(rein_contract_set *s,
                                            const char *path);

/*
 * Configs that are not contracts (rein/interop.h: Envoy, gRPC, Istio).
 * An importer is asked first about every file rein_contract_add_path
 * reads: it returns REIN_ENOTFOUND when the file is a contract (then it is
 * loaded as one), or it handles the file itself (adds the contract it
 * makes with rein_contract_add_imported, reports with
 * rein_contract_report, or skips it) and returns what happened (REIN_OK,
 * REIN_EPARSE, REIN_ENOMEM). `fn` NULL removes it.
 */
typedef rein_status (*rein_contract_import_fn)(void *ctx, rein_contract_set *s,
                                               const char *path,
                                               const char *data, size_t len);
REIN_API void rein_contract_set_importer(rein_contract_set *s,
                                         rein_contract_import_fn fn,
                                         void *ctx);
/*
 * Add a contract that was written from another config (as
 * rein_interop_write_contract writes it: each call with `origin:
 * "FILE:LINE:COL ..."`). Two differences from rein_contract_add_buffer:
 * every diagnostic about a call is reported at its origin (the imported
 * file's line and column, not the generated text's, which is on no disk),
 * and when a contract of the same service is in the set (loaded before or
 * after), the calls join it instead of making a duplicate (E006): a
 * service's rein contract says what it offers, its imported configs how
 * it calls. Same returns as rein_contract_add_buffer.
 */
REIN_API rein_status rein_contract_add_imported(rein_contract_set *s,
                                                const char *name,
                                                const char *data, size_t len);
/* Add a diagnostic of an importer (`rule` an id such as "E004", `fix` may
 * be NULL); strings copied. An error-level E rule other than E007 makes
 * rein_contract_has_load_errors true. REIN_EINVAL, REIN_ENOMEM. */
REIN_API rein_status rein_contract_report(rein_contract_set *s,
                                          const rein_contract_loc *loc,
                                          rein_contract_severity sev,
                                          const char *rule, const char *message,
                                          const char *fix);

/*
 * Convenience: a new set with every path added. On REIN_OK or REIN_EPARSE
 * `*out` holds the set (with its diagnostics; free it); on REIN_ENOMEM or
 * REIN_EINVAL (NULL arguments) `*out` is NULL.
 */
REIN_API rein_status rein_contract_load(const rein_contract_config *c,
                                        const char *const *paths, size_t n,
                                        rein_contract_set **out);

/* Rules. Ids are stable; the bit of rule R00N is 1u << N. */
#define REIN_CONTRACT_RULE_COUNT 13
#define REIN_CONTRACT_RULE_BIT(n) (1u << (n))

typedef struct rein_contract_check_opts {
  uint32_t disabled;        /* REIN_CONTRACT_RULE_BIT mask of rules to skip */
  double max_amplification; /* R004 threshold on the product of attempts
                               along a path; default 10 */
} rein_contract_check_opts;

REIN_API void rein_contract_check_opts_default(rein_contract_check_opts *o);

/*
 * Resolve every call's target (E007 for an unknown service or operation) and
 * run the enabled rules, appending their findings. `opts` may be NULL.
 * Checking twice appends nothing new the second time. REIN_OK or
 * REIN_ENOMEM. Findings do not make it fail; count them with
 * rein_contract_count.
 */
REIN_API rein_status rein_contract_check(rein_contract_set *s,
                                         const rein_contract_check_opts *opts);

/* Diagnostics so far, in a stable order: load problems in file order, then
 * findings sorted by file, line, column, rule. */
REIN_API size_t rein_contract_diag_count(const rein_contract_set *s);
REIN_API const rein_contract_diag *
rein_contract_diag_at(const rein_contract_set *s, size_t i);
/* How many diagnostics have `sev`. */
REIN_API size_t rein_contract_count(const rein_contract_set *s,
                                    rein_contract_severity sev);
/* true when some diagnostic is an input problem (an E rule other than E007):
 * the CLI exits 2. */
REIN_API bool rein_contract_has_load_errors(const rein_contract_set *s);
/* Number of services (all versions) loaded. */
REIN_API size_t rein_contract_service_count(const rein_contract_set *s);

/* Output. */
typedef enum rein_contract_format {
  REIN_CONTRACT_FORMAT_TEXT = 0, /* file:line:col: error[R001]: ... */
  REIN_CONTRACT_FORMAT_JSON = 1, /* {"diagnostics":[...],"summary":{...}} */
  REIN_CONTRACT_FORMAT_SARIF = 2 /* SARIF 2.1.0 */
} rein_contract_format;

REIN_API rein_status rein_contract_format_parse(const char *s,
                                                rein_contract_format *out);
/* Write every diagnostic in `fmt`. REIN_EIO when writing fails. */
REIN_API rein_status rein_contract_write(const rein_contract_set *s,
                                         rein_contract_format fmt, FILE *out);

/* What a rule is, for --explain and SARIF. */
typedef struct rein_contract_rule_info {
  const char *id;   /* "R001" */
  const char *name; /* "key-ttl-shorter-than-retry-window" */
  rein_contract_severity severity;
  const char *summary; /* one line */
  const char *explain; /* paragraphs: why, an example, the fix */
} rein_contract_rule_info;

/* Rule by id ("R001", case-insensitive) or NULL. */
REIN_API const rein_contract_rule_info *rein_contract_rule(const char *id);
/* Rule n (1..REIN_CONTRACT_RULE_COUNT) or NULL. */
REIN_API const rein_contract_rule_info *rein_contract_rule_n(int n);

/*
 * Idempotency-key retention: for every operation with idempotency: key, the
 * smallest key_ttl that covers every caller's retry window, following keys
 * passed through or derived across services. Call after rein_contract_check
 * (or it resolves references itself). Strings owned by the set.
 */
typedef struct rein_contract_ttl {
  const char *service, *operation;
  int64_t declared_ns;   /* key_ttl; 0 when not declared */
  int64_t required_ns;   /* 0 when nobody retries with a key */
  const char *chain;     /* the longest chain, e.g.
                            "merchant(72h) -> processor(30s) -> card-network" */
  rein_contract_loc loc; /* key_ttl, or the operation */
} rein_contract_ttl;

REIN_API rein_status rein_contract_ttls(rein_contract_set *s,
                                        const rein_contract_ttl **out,
                                        size_t *n);

/* How an idempotency key crosses a call boundary. */
typedef enum rein_contract_key {
  REIN_CONTRACT_KEY_NONE = 0,      /* no key is sent */
  REIN_CONTRACT_KEY_ORIGINATE = 1, /* the caller mints one per logical call */
  REIN_CONTRACT_KEY_PASS_THROUGH = 2, /* the key received is forwarded */
  REIN_CONTRACT_KEY_DERIVE = 3        /* a key derived from the one received */
} rein_contract_key;

/* Server signals a caller honours (bits). */
#define REIN_CONTRACT_SIGNAL_RETRY_AFTER 1u
#define REIN_CONTRACT_SIGNAL_PUSHBACK 2u
#define REIN_CONTRACT_SIGNAL_RATELIMIT 4u
#define REIN_CONTRACT_SIGNAL_DONT_RETRY 8u

typedef enum rein_contract_scope {
  REIN_CONTRACT_SCOPE_INSTANCE = 0,
  REIN_CONTRACT_SCOPE_FLEET = 1 /* one budget shared by every instance
                                   (rein/fleet.h) */
} rein_contract_scope;

/*
 * The runtime policy of one call, as the contract declares it. Fill it with
 * rein_policy_from_contract, then create the objects: rein_budget_new(&budget)
 * when has_budget (scope FLEET: through rein/fleet.h with the same config),
 * rein_breaker_new(&breaker) when has_breaker, rein_throttle_new(&throttle)
 * when has_throttle, set policy.budget/.breaker/.throttle to them, and
 * rein_policy_new(&policy). A fleet scope (budget_scope or breaker_scope
 * FLEET) means: copy budget/breaker into a rein_fleet_config with
 * name = fleet_name, and use rein_fleet_budget()/rein_fleet_breaker()
 * instead (the loader guarantees what rein_fleet_new requires: a RATIO
 * budget and a TIME-window breaker). Strings point into the set (keep it alive
 * until the objects are created; rein_policy_new copies the name).
 */
typedef struct rein_contract_policy {
  rein_policy_config policy; /* max_attempts, backoff, retry_on, window,
                                attempt timeout, idempotent, name */
  bool has_budget;
  rein_budget_config budget;
  rein_contract_scope budget_scope;
  bool has_breaker;
  rein_breaker_config breaker;
  bool has_throttle;
  rein_throttle_config throttle;
  int64_t deadline_ns;    /* per call (rein_call_opts.deadline = now +
                             this); 0 = none */
  rein_contract_key key;  /* how the key crosses this boundary */
  const char *key_header; /* the callee's header, e.g. "Idempotency-Key" */
  int64_t key_ttl_ns;     /* the callee's retention; 0 = not keyed */
  uint32_t signals;       /* REIN_CONTRACT_SIGNAL_* honoured */
  const char *caller, *callee, *operation;
  rein_contract_scope breaker_scope; /* FLEET: one breaker for every
                                        instance (rein/fleet.h) */
  const char *fleet_name; /* "caller/callee.operation": the name every
                             instance passes as rein_fleet_config.name */
  /* Appended. The call hedges (retry.hedge, rein/hedge.h): create a
   * rein_hedge_policy over the policy with this config (its policy set to
   * it). */
  bool has_hedge;
  rein_hedge_config hedge;
} rein_contract_policy;

/*
 * The effective policy of the call from service `caller` to `to`
 * ("service.operation") in the current versions. REIN_ENOTFOUND (message in
 * `err`) when there is no such call; REIN_EINVAL for NULL arguments.
 * `alloc` is copied into every config.
 */
REIN_API rein_status rein_policy_from_contract(const rein_contract_set *s,
                                               const char *caller,
                                               const char *to,
                                               rein_contract_policy *out,
                                               rein_errbuf *err);

/*
 * The same call as a model spec (rein/model.h): what rein_policy_spec_build
 * turns into the runtime objects and rein_policy_spec_json prints. Scopes,
 * deadline and signals as declared; REIN_ENOTFOUND / REIN_EINVAL as above.
 */
REIN_API rein_status rein_spec_from_contract(const rein_contract_set *s,
                                             const char *caller,
                                             const char *to,
                                             rein_policy_spec *out,
                                             rein_errbuf *err);

/* The model spec of a rein_contract_policy (as rein_spec_from_contract
 * gives it), for a policy filled or adjusted by hand. */
REIN_API void rein_contract_policy_spec(const rein_contract_policy *cp,
                                        rein_policy_spec *out);

/*
 * Every call of the current service versions, in load order, for tools that
 * build a policy per call: `*caller` and `*to` ("service.operation") point
 * into the set. REIN_ENOTFOUND when i is out of range.
 */
REIN_API size_t rein_contract_call_count(const rein_contract_set *s);
REIN_API rein_status rein_contract_call_at(const rein_contract_set *s, size_t i,
                                           const char **caller,
                                           const char **to);
/* Where call i (as rein_contract_call_at counts) is written, and its
 * `origin:` (what `rein import` records: the source file:line:col and
 * method or route name), or NULL when it has none. REIN_ENOTFOUND when i is
 * out of range, REIN_EINVAL for NULL arguments. */
REIN_API rein_status rein_contract_call_where(const rein_contract_set *s,
                                              size_t i, rein_contract_loc *loc,
                                              const char **origin);

/*
 * The server's side of a service, for a proxy in front of it: the
 * `server.admission` block of its contract (docs/contracts.md), as the
 * nginx module's `rein_zone` and location directives take it (rein export
 * nginx writes them; docs/nginx.md). `admit` starts from
 * rein_admit_config_default with dont_retry = OVERLOADED (a proxy's
 * default, as the module's) and takes every field the block sets; the
 * loader validates it with rein_admit_new, so a contract that loads is a
 * zone rein_admit accepts. `admit.name` and `admit.rl_policy` point into
 * the set. `locs[f]` is where field f (REIN_CONTRACT_ADM_*) is written, or
 * line 0 when the block does not set it.
 */
typedef enum rein_contract_adm_field {
  REIN_CONTRACT_ADM_LIMIT = 0,
  REIN_CONTRACT_ADM_ADAPTIVE,
  REIN_CONTRACT_ADM_LIMIT_MIN,
  REIN_CONTRACT_ADM_LIMIT_MAX,
  REIN_CONTRACT_ADM_AIMD_LATENCY,
  REIN_CONTRACT_ADM_AIMD_BACKOFF,
  REIN_CONTRACT_ADM_QUEUE,
  REIN_CONTRACT_ADM_RETRY_QUEUE,
  REIN_CONTRACT_ADM_TARGET,
  REIN_CONTRACT_ADM_INTERVAL,
  REIN_CONTRACT_ADM_MAX_WAIT,
  REIN_CONTRACT_ADM_LIFO,
  REIN_CONTRACT_ADM_RETRY_AFTER_MIN,
  REIN_CONTRACT_ADM_RETRY_AFTER_MAX,
  REIN_CONTRACT_ADM_RETRY_AFTER_SPREAD,
  REIN_CONTRACT_ADM_RATE_WINDOW,
  REIN_CONTRACT_ADM_RATE_LIMIT, /* the rate_limit block */
  REIN_CONTRACT_ADM_DONT_RETRY,
  REIN_CONTRACT_ADM_ZONE,
  REIN_CONTRACT_ADM_SHED_STATUS,
  REIN_CONTRACT_ADM_RATE_LIMIT_STATUS,
  REIN_CONTRACT_ADM_RATELIMIT_HEADERS,
  REIN_CONTRACT_ADM_DONT_RETRY_HEADER,
  REIN_CONTRACT_ADM_ATTEMPT_HEADER,
  REIN_CONTRACT_ADM_UPSTREAM,
  REIN_CONTRACT_ADM_PATHS,
  REIN_CONTRACT_ADM_LISTEN,
  REIN_CONTRACT_ADM_COUNT_
} rein_contract_adm_field;

/* One operation's place on the proxy: `paths: {charge: /v1/charges}`. */
typedef struct rein_contract_route {
  const char *operation;
  const char *path; /* starts with '/' */
  rein_contract_loc loc;
} rein_contract_route;

typedef struct rein_contract_admission {
  const char *service;   /* the contract's service */
  const char *version;   /* its version */
  rein_contract_loc loc; /* the admission block */
  rein_admit_config admit;
  uint32_t shed_status;       /* default 503; [400, 599] */
  uint32_t rate_limit_status; /* default 429; [400, 599] */
  bool ratelimit_headers;     /* RateLimit / RateLimit-Policy; default on */
  bool dont_retry_header;     /* Rein-Dont-Retry; default on */
  const char *attempt_header; /* default "Rein-Attempt" */
  const char *upstream;       /* where admitted requests go ("http://..."),
                                 or NULL when not said */
  const rein_contract_route *routes; /* in file order */
  size_t nroutes;
  rein_contract_loc locs[REIN_CONTRACT_ADM_COUNT_];
  const char *listen; /* where the proxy listens for it, as nginx's
                         `listen` takes it ("127.0.0.1:8080", "80"), or
                         NULL when not said */
} rein_contract_admission;

/* The `server.admission` blocks of the current service versions, in load
 * order. REIN_ENOTFOUND when i is out of range. */
REIN_API size_t rein_contract_admission_count(const rein_contract_set *s);
REIN_API rein_status
rein_contract_admission_at(const rein_contract_set *s, size_t i,
                           const rein_contract_admission **out);

/* Names: "none", "originate", "pass-through", "derive"; "instance",
 * "fleet"; "error", "warning", "note". */
REIN_API const char *rein_contract_key_name(rein_contract_key k);
REIN_API const char *rein_contract_scope_name(rein_contract_scope s);
REIN_API const char *rein_contract_severity_name(rein_contract_severity s);

/* Parse "250ms", "15s", "2m", "72h", "30d", "1w" (also "1h30m") into ns.
 * REIN_EPARSE for anything else, REIN_ERANGE for negative values or more
 * than 366 days. */
REIN_API rein_status rein_contract_parse_duration(const char *s, int64_t *ns);
/* Parse "500/s", "30000/min", "10/m", "100/h", "5/d" or a bare number (per
 * second) into requests per second. REIN_EPARSE / REIN_ERANGE. */
REIN_API rein_status rein_contract_parse_rate(const char *s, double *per_sec);
/* Format ns as "72h", "1h30m", "250ms", "1.5s". Returns `buf`. */
REIN_API const char *rein_contract_format_duration(int64_t ns, char *buf,
                                                   size_t len);

#ifdef __cplusplus
}
#endif
#endif /* REIN_CONTRACT_H */
