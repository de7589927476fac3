/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_mesh.h: contracts and the retry configs a mesh already runs, read
 * together (`rein check`, `rein ttl`, `rein policy` over a directory that
 * mixes rein contracts with Envoy, gRPC service config and Istio files).
 *
 * Each file the contract loader reads is first offered to this importer
 * (rein_contract_set_importer): a file whose content is one of the formats
 * of rein/interop.h (rein_interop_detect, or the overlay's or --from's
 * format) is imported into a contract in memory and added with
 * rein_contract_add_imported, so its findings are reported at the
 * original file:line:col. What the configs do not say (which service a
 * file configures, which contract operation an imported route or method
 * means, how a key crosses the call) comes from a rein overlay,
 * `rein-overlay.yaml` (docs/interop.md, "Checking a mesh").
 */
#ifndef REIN_CLI_LIB_MESH_H
#define REIN_CLI_LIB_MESH_H

#include "rein/contract.h"

#include <stdbool.h>
#include <stddef.h>

#define REIN_CLI_OVERLAY_NAME "rein-overlay.yaml"

/* What the overlay says (lib_overlay.c reads it, lib_mesh.c uses it). */
typedef struct mesh_call {
  char *from, *to, *key;
} mesh_call;

typedef struct mesh_file {
  char *real; /* realpath of the config */
  char *service, *format;
  mesh_call *calls;
  size_t ncalls;
} mesh_file;

struct rein_cli_mesh {
  const char *cmd, *format;
  bool quiet;
  mesh_file *files;
  size_t nfiles;
  char **overlays; /* realpaths read */
  size_t noverlays;
  bool oom;
};

typedef struct rein_cli_mesh rein_cli_mesh;

/* Read one overlay into `m` (once per realpath); its problems are
 * diagnostics of `s` at its file:line:col. */
void rein_cli_overlay_read(rein_cli_mesh *m, rein_contract_set *s,
                           const char *file);
/* strdup, setting m->oom on failure. */
char *rein_cli_mesh_dup(rein_cli_mesh *m, const char *s);

/* A new importer for subcommand `cmd`: `format` NULL = detect each file by
 * its content (else every file that is not a rein contract is read as
 * `format`); `quiet` drops the import warnings and notes (else printed to
 * stderr). NULL when out of memory. */
rein_cli_mesh *rein_cli_mesh_new(const char *cmd, const char *format,
                                 bool quiet);
void rein_cli_mesh_free(rein_cli_mesh *m);

/* Read the overlays (`overlay` if given, and `rein-overlay.yaml` at the top
 * of each directory of `paths`) and attach the importer to `s`. A problem
 * in an overlay is a diagnostic of `s` at its file:line:col (an input
 * error). REIN_ENOMEM, or REIN_OK. */
rein_status rein_cli_mesh_attach(rein_cli_mesh *m, rein_contract_set *s,
                                 const char *overlay, const char *const *paths,
                                 size_t n);

/* One file from memory (standard input), as the importer reads a file:
 * a config imported, anything else added as a contract. */
rein_status rein_cli_mesh_add_buffer(rein_cli_mesh *m, rein_contract_set *s,
                                     const char *name, const char *data,
                                     size_t len);

/* The format names the importer knows (for usage errors). */
const char *const *rein_cli_mesh_formats(void);

#endif
