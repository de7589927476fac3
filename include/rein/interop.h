/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rein/interop.h: meet the retry configurations teams already run: read
 * them into rein's one policy model and write contracts from them
 * (import), and write them from contracts (export).
 *
 * A format is one row of a static table (rein_interop_format: a name, an
 * importer and an exporter): gRPC service config JSON ("grpc"), Envoy
 * ("envoy"), Istio VirtualServices ("istio"), Kubernetes Gateway API
 * HTTPRoutes ("gateway"), Linkerd ServiceProfiles ("linkerd"), and SDK
 * retry defaults: the AWS shared config file ("aws") and rein's YAML
 * naming SDK clients ("sdk"; import only), both src/interop/sdk.c; each
 * src/interop/<format>.c, sharing the reader, and the export-only nginx
 * module configuration ("nginx", the server side: server.admission),
 * the diagnostics and the contract writer here. docs/interop.md says what
 * maps to what in each format.
 *
 *   rein_interop *ix;
 *   rein_interop_new(NULL, &ix);
 *   if (rein_interop_import_file(ix, "grpc", "service_config.json") ==
 *       REIN_OK) {
 *     char *yaml; size_t n;
 *     rein_interop_write_contract(ix, &yaml, &n);   // a rein contract
 *     ...
 *     rein_free(NULL, yaml);
 *   }
 *   rein_interop_write_diags(ix, stderr);  // file:line:col: warning: ...
 *   rein_interop_free(ix);
 *
 * Import never stops at the first problem and never drops anything
 * silently: every field of the source rein cannot represent is a warning
 * naming it, every malformed node, wrong type and unknown field an error
 * with the source file:line:col (unknown fields with the known ones and a
 * did-you-mean). An import with any error keeps no calls (nothing is
 * written from half a file). Each imported call keeps its origin (the
 * source file:line:col and the method or route name), which the contract
 * writer puts in the call's `origin:` field.
 *
 * Export reads a loaded contract set (rein/contract.h) and writes the
 * target's text for the calls of one caller, with a warning for every
 * field the target cannot express ("sdk" has no export:
 * REIN_EUNSUPPORTED).
 *
 * Thread level: one thread at a time per handle; handles are independent.
 * Every string a handle hands out lives until rein_interop_free.
 */
#ifndef REIN_INTEROP_H
#define REIN_INTEROP_H

#include "rein/common.h"
#include "rein/contract.h"
#include "rein/errors.h"
#include "rein/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rein_interop rein_interop;

typedef enum rein_interop_severity {
  REIN_INTEROP_ERROR = 0,   /* the input is refused (exit 2) */
  REIN_INTEROP_WARNING = 1, /* a field rein or the target cannot express */
  REIN_INTEROP_NOTE = 2     /* a difference of semantics worth knowing */
} rein_interop_severity;

/* One diagnostic. `loc` is in the source (import) or in the contract
 * (export); `field` the path of the field concerned, as the source spells
 * it ("methodConfig[0].hedgingPolicy.hedgingDelay", or for export
 * "calls[2].retry.backoff.jitter"); strings owned by the handle. */
typedef struct rein_interop_diag {
  rein_contract_loc loc;
  rein_interop_severity severity;
  const char *field;
  const char *message;
} rein_interop_diag;

/* One imported call: the callee as a contract writes it (`to`:
 * "service.operation"), its policy in the model, and where it came from. */
typedef struct rein_interop_call {
  const char *to;
  const char *origin;    /* "sc.json:5:17 helloworld.Greeter/SayHello" */
  rein_contract_loc loc; /* the source node the call came from */
  rein_policy_spec spec;
} rein_interop_call;

typedef struct rein_interop_config {
  const rein_allocator *alloc; /* NULL = malloc */
  size_t max_file_bytes;       /* default 4 MiB */
  unsigned max_depth;          /* nesting of the input; default
                                  REIN_YAML_MAX_DEPTH */
  const char *caller;          /* the service of the imported contract; NULL
                                  = from the first file's name
                                  ("service_config.json" -> service_config) */
  const char *version;         /* its version; NULL = "1" */
} rein_interop_config;

REIN_API void rein_interop_config_default(rein_interop_config *c);
/* A new, empty handle (`c` NULL = defaults; copied). REIN_ENOMEM, or
 * REIN_EINVAL for a caller name a contract cannot hold. */
REIN_API rein_status rein_interop_new(const rein_interop_config *c,
                                      rein_interop **out);
/* NULL is a no-op. */
REIN_API void rein_interop_free(rein_interop *ix);

/* The formats that import, NULL-terminated: {"grpc", "envoy", "istio",
 * "gateway", "linkerd", "aws", "sdk", NULL}. */
REIN_API const char *const *rein_interop_formats(void);
/* Every format that exports: those but "sdk", and the export-only
 * "nginx" (the services' server.admission blocks as ngx_http_rein_module
 * directives;
 * for it rein_interop_export's `caller` names the service, NULL = every
 * service with such a block). */
REIN_API const char *const *rein_interop_export_formats(void);

/*
 * Import one source in `format`; `name` is the file name diagnostics use.
 * REIN_OK (warnings may have been added), REIN_EPARSE when it had errors
 * (then it added no calls), REIN_ENOTFOUND for an unknown format,
 * REIN_ENOMEM. Never reads past `len`; `data` need not be NUL-terminated.
 */
REIN_API rein_status rein_interop_import_buffer(rein_interop *ix,
                                                const char *format,
                                                const char *name,
                                                const char *data, size_t len);
/* The same from a file, read with rein_file_read's bounds; an unreadable
 * file is an error diagnostic at name:0:0 (REIN_EPARSE). */
REIN_API rein_status rein_interop_import_file(rein_interop *ix,
                                              const char *format,
                                              const char *path);

REIN_API size_t rein_interop_call_count(const rein_interop *ix);
REIN_API const rein_interop_call *rein_interop_call_at(const rein_interop *ix,
                                                       size_t i);
REIN_API size_t rein_interop_diag_count(const rein_interop *ix);
REIN_API const rein_interop_diag *rein_interop_diag_at(const rein_interop *ix,
                                                       size_t i);
/* How many diagnostics have `sev`. */
REIN_API size_t rein_interop_count(const rein_interop *ix,
                                   rein_interop_severity sev);
/* The caller name the contract will hold. */
REIN_API const char *rein_interop_caller(const rein_interop *ix);

/*
 * The imported calls as one rein contract (YAML the contract loader reads
 * back to the same specs: `service`, `version`, `calls`, each call with
 * `to`, `origin`, and rein_policy_spec_yaml's fields). `*out` is allocated
 * through the config's allocator, NUL-terminated; free it with
 * rein_free(alloc, *out). REIN_EINVAL when the handle has errors or no
 * calls, REIN_ENOMEM.
 */
REIN_API rein_status rein_interop_write_contract(const rein_interop *ix,
                                                 char **out, size_t *len);

/*
 * Export the calls of `caller` in `s` (loaded and free of load errors) in
 * `format`, adding a warning to `ix` for each field the target cannot
 * express. `*out` as above (for "grpc": one service config JSON object and
 * a newline). REIN_ENOTFOUND (a diagnostic says why) when `caller` has no
 * calls or the format is unknown; `caller` NULL = the only caller of the
 * set (REIN_EINVAL with a diagnostic when there are several);
 * REIN_EUNSUPPORTED (a diagnostic says why) for a format rein only reads.
 */
REIN_API rein_status rein_interop_export(rein_interop *ix, const char *format,
                                         const rein_contract_set *s,
                                         const char *caller, char **out,
                                         size_t *len);

/* Write every diagnostic, one per line: "file:line:col: warning: FIELD:
 * message" (text escaped for a terminal). REIN_EIO when writing fails. */
REIN_API rein_status rein_interop_write_diags(const rein_interop *ix, FILE *f);

/*
 * Which format `data` is, by its content (for `rein check` over a
 * directory that mixes contracts and configs): "grpc" for an object with
 * methodConfig or retryThrottling; "envoy" for virtual_hosts, route_config,
 * static_resources, filter_chains (or their protobuf JSON names) or
 * resources whose first item has an "@type"; "istio" for apiVersion
 * networking.istio.io/...; "linkerd" for linkerd.io/... (ServiceProfile),
 * and for Gateway API routes in a file carrying retry.linkerd.io/ or
 * timeout.linkerd.io/ annotations; "gateway" for other
 * gateway.networking.k8s.io/... and gateway.networking.x-k8s.io/...
 * objects (each also as the first item of a kubectl List); "aws" for a
 * text whose first line that is not blank or a comment is `[default]` or
 * `[profile NAME]` (an AWS shared config file); "sdk" for an object with
 * sdk_clients.
 * REIN_ENOTFOUND (`*format` NULL) for anything else, a rein contract, a
 * malformed text or an empty one included: the caller then reads it as it
 * would without interop. Reads the first YAML document only; never past
 * `len`.
 */
REIN_API rein_status rein_interop_detect(const char *data, size_t len,
                                         const char **format);

/* ---- gRPC helpers (also used by the tests) ------------------------------ */

/* Parse a protobuf JSON Duration ("1.5s", "0.000000001s", "10s": digits,
 * an optional '.' and 1..9 digits, then 's'; no sign) into ns. REIN_EPARSE
 * for anything else (`*why` says what), REIN_ERANGE past INT64_MAX ns. */
REIN_API rein_status rein_interop_grpc_duration(const char *s, int64_t *ns,
                                                const char **why);
/* ns as a protobuf JSON Duration, shortest exact form ("0.1s", "2s",
 * "0.000000001s"). Returns buf. */
REIN_API const char *rein_interop_grpc_format_duration(int64_t ns, char *buf,
                                                       size_t len);

#ifdef __cplusplus
}
#endif
#endif /* REIN_INTEROP_H */
