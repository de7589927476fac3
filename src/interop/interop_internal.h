/* SPDX-License-Identifier: Apache-2.0 */
/*
 * interop_internal.h: what every format of rein_interop shares; not
 * installed. The handle (its strings, calls and diagnostics, each allocated
 * through the config's allocator and freed with it), the format table row,
 * and the reader: a libyaml document of one source (JSON is YAML, and
 * libyaml gives every node its line:col mark) with typed, JSON-strict
 * accessors, so an importer's walk reports every problem at its node.
 *
 * The contract loader (src/contract/load.c) and the scenario loader
 * (src/sim/scenario.c) each keep their own static node helpers; this
 * reader is the home for importers (Envoy, Istio, Linkerd and Gateway API
 * go beside grpc.c), and the two loaders could move onto it later.
 */
#ifndef REIN_INTEROP_INTERNAL_H
#define REIN_INTEROP_INTERNAL_H

#include "rein/interop.h"

#include <stdarg.h>
#include <yaml.h>

/* ------------------------------------------------------------- handle */

typedef struct ix_str ix_str; /* a block of strings owned by the handle */

struct rein_interop {
  rein_allocator alloc;
  size_t max_file_bytes;
  unsigned max_depth;
  char caller[129];
  bool caller_set;
  char version[65];
  ix_str *strs;
  rein_interop_call *calls;
  size_t ncalls, capcalls;
  rein_interop_diag *diags;
  size_t ndiags, capdiags;
  size_t errors; /* of the import in progress */
  bool oom;
  const struct ix_format *exporting; /* the export in progress, or NULL */
};

/* A string owned by the handle (NULL when out of memory, and ix->oom). */
char *rein__ix_strdup(rein_interop *ix, const char *s);
char *rein__ix_printf(rein_interop *ix, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* `n` zeroed bytes owned by the handle, freed with it (NULL when out of
 * memory, and ix->oom). */
void *rein__ix_alloc(rein_interop *ix, size_t n);
/* Append a diagnostic (errors also count in ix->errors). */
void rein__ix_diag(rein_interop *ix, rein_interop_severity sev,
                   rein_contract_loc loc, const char *field, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
void rein__ix_vdiag(rein_interop *ix, rein_interop_severity sev,
                    rein_contract_loc loc, const char *field, const char *fmt,
                    va_list ap);
/* Append a call (copied; strings must be the handle's). false on OOM. */
bool rein__ix_add_call(rein_interop *ix, const rein_interop_call *c);
/* Drop the calls from index `from` on (an import that failed). */
void rein__ix_drop_calls(rein_interop *ix, size_t from);

/* ------------------------------------------------------------ formats */

typedef struct ix_doc ix_doc;

typedef struct ix_format {
  const char *name;
  /* Reading: `yaml` lets a source that does not start with '{' or '['
   * be read as YAML (block collections, plain scalars as strings; see
   * rein__ix_type); `proto_names` accepts a field's protobuf JSON name
   * (lowerCamelCase) for its snake_case name, as protobuf's JSON parser
   * does (Envoy). */
  bool yaml, proto_names;
  /* `multi_doc`: a YAML stream of several documents ("---", as Kubernetes
   * manifests are) is read, `import` called once per document. */
  bool multi_doc;
  /* Walk the document's root, adding calls and diagnostics. */
  void (*import)(rein_interop *ix, ix_doc *d);
  /* A format that is not YAML or JSON (the AWS config file, INI) reads its
   * text itself instead (`import` is then NULL); `file` is the handle's. */
  void (*import_text)(rein_interop *ix, const char *file, const char *data,
                      size_t len);
  /* Write the calls of `caller` into *out (malloc'ed text); NULL for a
   * format rein only reads (sdk). */
  rein_status (*export_)(rein_interop *ix, const rein_contract_set *s,
                         const char *caller, char **out, size_t *len);
  /* `server_side`: the export writes the services' server side
   * (server.admission), not a caller's calls: `caller` is then the service
   * to export, NULL for every one. An export-only format has no `import`. */
  bool server_side;
  /* `hedges`: the exporter writes a call's hedge block (grpc:
   * hedgingPolicy, envoy: hedge_policy). Otherwise rein__ix_export_call
   * warns that a hedged call is written unhedged. */
  bool hedges;
} ix_format;

extern const ix_format rein__ix_grpc;
extern const ix_format rein__ix_envoy;
extern const ix_format rein__ix_istio;
extern const ix_format rein__ix_gateway;
extern const ix_format rein__ix_linkerd;
extern const ix_format rein__ix_aws;
extern const ix_format rein__ix_sdk;
extern const ix_format rein__ix_nginx; /* export only, server side */

/* Is `data` an AWS shared config file: does its first line that is not
 * blank or a comment read `[default]` or `[profile NAME]`? (sdk.c) */
bool rein__ix_aws_detect(const char *data, size_t len);

/* ---------------------------------- Envoy's retry_on vocabulary (envoy.c) */

/* Istio's retryOn is Envoy's retry_on (istio.c reuses both halves). */

/*
 * Read the comma-separated retry_on conditions `v` (the text of node `n`)
 * into sp's `when`, as the table in envoy.c says; an unknown condition is
 * an error with a did-you-mean, one rein cannot represent a warning.
 * `statuses` (Istio) also takes HTTP statuses among the conditions.
 * *rsc / *rhd: set when retriable-status-codes / retriable-headers is
 * named; *noted: the once-per-file note on per-try timeouts was given.
 */
void rein__ix_envoy_retry_on(ix_doc *d, yaml_node_t *n, const char *path,
                             const char *v, rein_policy_spec *sp, bool statuses,
                             bool *rsc, bool *rhd, bool *noted);
/*
 * The retry_on conditions that say sp's `when` (comma-separated into
 * `list`, at most `cap` bytes, "" when none can), and the HTTP statuses
 * that go into retriable_status_codes (into `codes`, room for 600; the
 * count is returned). Each condition that cannot be said is a warning on
 * ix at `loc`, field `callpath`.retry.when.
 */
size_t rein__ix_envoy_when(rein_interop *ix, rein_contract_loc loc,
                           const char *callpath, const rein_policy_spec *sp,
                           char *list, size_t cap, unsigned *codes);

/*
 * Envoy's cluster circuit breakers where they bound retries (Istio's
 * DestinationRule sets them, istio.c): `max_retries` caps concurrent
 * retries, which rein cannot express (a warning at `n`; a note that Envoy
 * ignores it when the cluster has a retry budget, `budget`); outlier
 * detection ejects hosts, which is not rein's per-callee breaker (a
 * warning).
 */
void rein__ix_envoy_max_retries(ix_doc *d, yaml_node_t *n, const char *path,
                                bool budget);
void rein__ix_envoy_outlier(ix_doc *d, yaml_node_t *n, const char *path);

/* ------------------------------- Gateway API route rules (gateway.c) */

/*
 * Walk the `spec` (at `path`) of a Gateway API HTTPRoute, or GRPCRoute when
 * `grpc`, named `route`: one call per backendRef and match, each starting
 * from `base` (Linkerd's annotations, linkerd.c) with the rule's timeouts
 * applied; a rule's `retry` is then a warning (Linkerd reads annotations).
 */
void rein__ix_gateway_rules(ix_doc *d, yaml_node_t *spec, const char *path,
                            const char *route, bool grpc,
                            const rein_policy_spec *base);

/* ------------------------------------------------------------- reader */

struct ix_doc {
  rein_interop *ix;
  yaml_document_t doc;
  const char *file; /* owned by the handle */
  bool loaded;
  bool yaml;        /* read as YAML, not strict JSON (set before loading) */
  bool proto_names; /* lowerCamelCase member names accepted */
  /* the documents after the first (multi_doc formats), each with a root */
  yaml_document_t *more;
  size_t nmore;
  size_t doc_index;  /* which document d->doc is (0: the first) */
  size_t first_call; /* the handle's call count before this file */
  void *state;       /* the format's own, across the file's documents (NULL at
                        the first; rein__ix_alloc'ed) */
};

/* What a node is, read as JSON. */
typedef enum ix_jtype {
  IX_J_OBJECT,
  IX_J_ARRAY,
  IX_J_STRING, /* a quoted scalar */
  IX_J_NUMBER, /* a plain scalar that is a JSON number */
  IX_J_BOOL,   /* true, false */
  IX_J_NULL,   /* null */
  IX_J_INVALID /* a plain scalar JSON does not have (yes, 0x10, foo), a
                  block collection, an alias */
} ix_jtype;

/*
 * Parse `data` (checked with rein_yaml_check_depth first) into `d`. A
 * syntax error is an error diagnostic at libyaml's line:col. `yaml` reads
 * YAML (anchors and aliases are still refused, at their mark); otherwise
 * strict JSON. Returns true when there is a root node to walk.
 */
bool rein__ix_doc_load(rein_interop *ix, const char *file, const char *data,
                       size_t len, bool yaml, ix_doc *d);
/* The same, keeping every further YAML document of the stream in
 * d->more (at most IX_MAX_DOCS; empty ones are skipped) when `multi`. */
bool rein__ix_doc_load_multi(rein_interop *ix, const char *file,
                             const char *data, size_t len, bool yaml,
                             bool multi, ix_doc *d);
/* Does the text start (after blanks and '#' comment lines) with '{' or
 * '['? That is how a format that takes both tells JSON from YAML. */
bool rein__ix_looks_json(const char *data, size_t len);
void rein__ix_doc_free(ix_doc *d);
yaml_node_t *rein__ix_root(ix_doc *d);
rein_contract_loc rein__ix_loc(const ix_doc *d, const yaml_node_t *n);
ix_jtype rein__ix_jtype(const yaml_node_t *n);
/* What a node is in `d`'s language: rein__ix_jtype for JSON; for YAML a
 * block collection is an object or array as well, a quoted or block
 * scalar is a string, and a plain scalar is a number when it is a JSON
 * number, a boolean for true/false (any case), null for null, ~ or
 * nothing, and a string otherwise (what Envoy's YAML-to-JSON step does,
 * but for YAML 1.1's yes/no/on/off, which stay strings here). */
ix_jtype rein__ix_type(const ix_doc *d, const yaml_node_t *n);
/* "an object", "an array", "a string", "a number", "true", "null", ... */
const char *rein__ix_jtype_name(ix_jtype t);
/* The scalar's text, or NULL for a collection. */
const char *rein__ix_text(const yaml_node_t *n);

/* An error at `n`: "expected `want`, got a number". */
void rein__ix_type_error(ix_doc *d, const yaml_node_t *n, const char *path,
                         const char *want);
void rein__ix_error(ix_doc *d, const yaml_node_t *n, const char *path,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rein__ix_warn(ix_doc *d, const yaml_node_t *n, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void rein__ix_note(ix_doc *d, const yaml_node_t *n, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One member of an object. */
typedef struct ix_member {
  const char *key;
  yaml_node_t *k, *v;
} ix_member;

/*
 * The members of object `n` (which must be IX_J_OBJECT), at most `cap`
 * (more is an error). Each key must be a string; a duplicate key, or a key
 * not in `known` (NULL-terminated), is an error naming it, listing the
 * known ones and the closest ("did you mean"); such members are left out.
 * `known` NULL accepts every key. With d->proto_names a key spelled as
 * the lowerCamelCase of a known name is that name (`key` is then the
 * known spelling), and both spellings of one field are a duplicate.
 * Returns how many were stored in `out`.
 */
size_t rein__ix_members(ix_doc *d, yaml_node_t *n, const char *path,
                        const char *const *known, ix_member *out, size_t cap);
/* Item i of array `n`, or NULL. */
yaml_node_t *rein__ix_item(ix_doc *d, yaml_node_t *n, size_t i);
size_t rein__ix_len(const yaml_node_t *n);

/* "path.key" or "path[i]" into buf. */
const char *rein__ix_path(char *buf, size_t len, const char *path,
                          const char *key);
const char *rein__ix_path_i(char *buf, size_t len, const char *path, size_t i);

/* --------------------------------------------- Kubernetes manifests */

/* Istio, Gateway API and Linkerd read Kubernetes objects: one object, a
 * kubectl List of them, or several YAML documents (multi_doc). */

/* The root of the document being imported: 0 when it is not an object (a
 * type error naming `what`, "a VirtualService object, or a List of
 * them"); 1 for one object; 2 for a kubectl List (`kind: List`, its fields
 * checked), *items its `items` array, or NULL after an error (missing, not
 * an array). */
int rein__ix_k8s_root(ix_doc *d, const char *what, yaml_node_t **items);

/* An object's header: apiVersion, kind, metadata.name (each NULL when
 * absent; a type error when not a string), metadata.annotations and spec
 * (the nodes, unchecked; NULL when absent). */
typedef struct ix_k8s_head {
  const char *api, *kind, *name;
  yaml_node_t *spec, *annotations;
} ix_k8s_head;

/* Read the header of object `n` (at `path`; its top-level fields are
 * apiVersion, kind, metadata, spec, status, any other an unknown-field
 * error). `n` must be an object: else a type error naming `want`, and
 * false. */
bool rein__ix_k8s_head(ix_doc *d, yaml_node_t *n, const char *path,
                       const char *want, ix_k8s_head *h);

/* ------------------------------------------------- typed values, model */

/* The fields of an object rein leaves out because they are not retry
 * settings: collected, then one note per object naming each. */
typedef struct ix_leftout {
  char list[640];
  size_t n;
} ix_leftout;
void rein__ix_leftout_add(ix_leftout *L, const char *key);
/* "not retry settings, left out of the contract: a, b" at `n`, when any. */
void rein__ix_leftout_note(ix_doc *d, yaml_node_t *n, const char *path,
                           const ix_leftout *L);
/* A whole number (a JSON number, not a string: an integer field of a
 * Kubernetes CRD) in [lo, hi]; a type or range error at `n` otherwise. */
bool rein__ix_get_int(ix_doc *d, yaml_node_t *n, const char *path, double lo,
                      double hi, double *out);

/* A number: a JSON number or a string holding one (protobuf's JSON
 * accepts both for numeric fields). A type error at `n` otherwise. */
bool rein__ix_get_number(ix_doc *d, yaml_node_t *n, const char *path,
                         double *out);
/* A protobuf JSON Duration string ("0.25s"; rein_interop_grpc_duration). */
bool rein__ix_get_duration(ix_doc *d, yaml_node_t *n, const char *path,
                           int64_t *ns);
/* Set model field `name` of block `b` from text; a refusal is an error at
 * `n` ("rein's retry.attempts must be ..."). */
bool rein__ix_set_model(ix_doc *d, yaml_node_t *n, const char *path,
                        rein_policy_spec *sp, rein_model_block b,
                        const char *name, const char *text);
bool rein__ix_set_model_duration(ix_doc *d, yaml_node_t *n, const char *path,
                                 rein_policy_spec *sp, rein_model_block b,
                                 const char *name, int64_t ns);

/* Make sp's `when` fit a contract (at most 32 outcomes, a whole class
 * 1xx..5xx one, other statuses one each): statuses that fill one of rein's
 * outcome kinds become that kind (a note says so). An error at `n`, and
 * false, when it still does not fit. */
/* cap_ns, or the model's largest backoff cap (24h) with a warning at n
 * when it is past it (a cap the source computes, e.g. 10 x base, or one it
 * allows longer than rein does: waits beyond a day are alike in effect). */
int64_t rein__ix_backoff_cap(ix_doc *d, yaml_node_t *n, const char *path,
                             int64_t cap_ns);
bool rein__ix_when_fit(ix_doc *d, yaml_node_t *n, const char *path,
                       rein_policy_spec *sp);

/* ------------------------------------------------------ contract text */

/*
 * Export: call `i` of `s`, when it is one of `caller`'s. 0 when it is not
 * (skip it); 1 with its callee, origin (NULL when none), contract location
 * and spec, and its diagnostic path "calls[K]" (K = (*idx)++, counting the
 * caller's calls) in `path`; -1 when the contract's policy does not build
 * a spec (an error diagnostic at the call, and *st = REIN_EINVAL).
 */
int rein__ix_export_call(rein_interop *ix, const rein_contract_set *s,
                         const char *caller, size_t i, size_t *idx, char *path,
                         size_t pathcap, const char **to, const char **origin,
                         rein_contract_loc *loc, rein_policy_spec *sp,
                         rein_status *st);

/* A contract name from a config's text: at most `n` bytes of `in` (up to
 * its NUL), every character other than letters, digits, '-' and '_' as
 * '-', into `out` (NUL-terminated, at most cap - 1 bytes). */
void rein__ix_sanitize(const char *in, size_t n, char *out, size_t cap);

/* `s` as a YAML double-quoted scalar (escapes ", \ and controls). */
void rein__ix_yaml_quote(FILE *f, const char *s);
/* An export's text, written into a memstream's malloc'ed `text` of `n`
 * bytes, as the handle's (through its allocator, NUL-terminated) in *out
 * and *len; `text` is freed either way. REIN_OK or REIN_ENOMEM. */
rein_status rein__ix_finish_text(const rein_interop *ix, char *text, size_t n,
                                 char **out, size_t *len);

#endif
