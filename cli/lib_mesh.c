/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_mesh.c: the importer that lets the contract subcommands read a
 * directory mixing rein contracts with Envoy, gRPC service config and
 * Istio files (lib_mesh.h). The overlay (lib_overlay.c) says what the
 * configs do not.
 *
 * The import itself is rein_interop's; the contract text handed to the
 * loader is the one rein_interop_write_contract would write, with the
 * overlay's callee names and keys, written from the same model emitter
 * (rein_policy_spec_yaml).
 */
#include "lib_mesh.h"

#include "rein/input.h"
#include "rein/interop.h"
#include "rein/model.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

const char *const *rein_cli_mesh_formats(void) {
  return rein_interop_formats();
}

rein_cli_mesh *rein_cli_mesh_new(const char *cmd, const char *format,
                                 bool quiet) {
  rein_cli_mesh *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->cmd = cmd;
  m->format = format;
  m->quiet = quiet;
  return m;
}

void rein_cli_mesh_free(rein_cli_mesh *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nfiles; i++) {
    mesh_file *f = &m->files[i];
    for (size_t j = 0; j < f->ncalls; j++) {
      free(f->calls[j].from);
      free(f->calls[j].to);
      free(f->calls[j].key);
    }
    free(f->calls);
    free(f->real);
    free(f->service);
    free(f->format);
  }
  for (size_t i = 0; i < m->noverlays; i++)
    free(m->overlays[i]);
  free(m->overlays);
  free(m->files);
  free(m);
}

/* ----------------------------------------------------------- importer */

static bool is_overlay(const char *path) {
  const char *b = strrchr(path, '/');
  return !strcmp(b ? b + 1 : path, REIN_CLI_OVERLAY_NAME);
}

static const mesh_file *file_of(const rein_cli_mesh *m, const char *path) {
  char real[PATH_MAX];
  if (!realpath(path, real)) return NULL;
  for (size_t i = m->nfiles; i-- > 0;)
    if (m->files[i].real && !strcmp(m->files[i].real, real))
      return &m->files[i];
  return NULL;
}

/* Does the first document have a top-level `service` key (a contract)? */
static bool is_contract(const char *data, size_t len) {
  yaml_parser_t p;
  yaml_event_t e;
  int depth = 0;
  bool key = false, found = false;
  if (rein_yaml_check_depth(data, len, 64, &(size_t){0}, &(size_t){0}))
    return false;
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
  for (int i = 0; i < 100000 && yaml_parser_parse(&p, &e); i++) {
    yaml_event_type_t t = e.type;
    if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
      if (depth == 1) key = !key;
      depth++;
    } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
      depth--;
    } else if (t == YAML_SCALAR_EVENT && depth == 1) {
      key = !key;
      if (key && !strcmp((const char *)e.data.scalar.value, "service"))
        found = true;
    }
    yaml_event_delete(&e);
    if (found || t == YAML_DOCUMENT_END_EVENT || t == YAML_STREAM_END_EVENT)
      break;
  }
  yaml_parser_delete(&p);
  return found;
}

static void quote(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
  }
  fputc('"', f);
}

/* The contract of the imported calls, with the overlay's callees. */
static char *contract_text(const rein_interop *ix, const mesh_file *mf,
                           size_t *len) {
  char *text = NULL, buf[8192];
  FILE *f = open_memstream(&text, len);
  if (!f) return NULL;
  fprintf(f, "service: %s\nversion: \"1\"\ncalls:%s\n", rein_interop_caller(ix),
          rein_interop_call_count(ix) ? "" : " []");
  bool ok = true;
  for (size_t i = 0; i < rein_interop_call_count(ix); i++) {
    const rein_interop_call *c = rein_interop_call_at(ix, i);
    const mesh_call *mc = NULL;
    for (size_t j = 0; mf && j < mf->ncalls; j++)
      if (!strcmp(mf->calls[j].from, c->to)) mc = &mf->calls[j];
    fputs("  - to: ", f);
    quote(f, mc ? mc->to : c->to);
    fputs("\n    origin: ", f);
    quote(f, c->origin);
    fputc('\n', f);
    if (mc && mc->key) fprintf(f, "    key: %s\n", mc->key);
    size_t k = rein_policy_spec_yaml(&c->spec, true, 4, buf, sizeof buf);
    ok &= k < sizeof buf;
    fputs(buf, f);
  }
  if (fclose(f) != 0 || !ok) {
    free(text);
    return NULL;
  }
  return text;
}

static void report_diags(rein_cli_mesh *m, rein_contract_set *s,
                         const rein_interop *ix) {
  static const char *const sev[] = {"error", "warning", "note"};
  for (size_t i = 0; i < rein_interop_diag_count(ix); i++) {
    const rein_interop_diag *d = rein_interop_diag_at(ix, i);
    if (d->severity != REIN_INTEROP_ERROR) {
      if (!m->quiet) {
        rein_text_fputs(d->loc.file ? d->loc.file : "", stderr);
        fprintf(stderr, ":%u:%u: %s: ", d->loc.line, d->loc.col,
                sev[d->severity]);
        rein_text_fputs(d->field && *d->field ? d->field : "(import)", stderr);
        fputs(": ", stderr);
        rein_text_fputs(d->message, stderr);
        fputc('\n', stderr);
      }
      continue;
    }
    char msg[1024];
    snprintf(msg, sizeof msg, "%s%s%s", d->field ? d->field : "",
             d->field && *d->field ? ": " : "", d->message);
    const char *rule = strstr(d->message, "unknown field") ? "E003"
                       : strstr(d->message, "malformed")   ? "E001"
                       : strstr(d->message, "expected")    ? "E002"
                                                           : "E004";
    if (rein_contract_report(s, &d->loc, REIN_CONTRACT_ERROR, rule, msg,
                             "see docs/interop.md for the format's fields") ==
        REIN_ENOMEM)
      m->oom = true;
  }
}

static rein_status import(void *ctx, rein_contract_set *s, const char *path,
                          const char *data, size_t len) {
  rein_cli_mesh *m = ctx;
  if (is_overlay(path)) {
    rein_cli_overlay_read(m, s, path); /* read already, or nested: read now */
    return m->oom ? REIN_ENOMEM : REIN_OK;
  }
  const mesh_file *mf = file_of(m, path);
  const char *format = mf && mf->format ? mf->format : NULL;
  if (!format && rein_interop_detect(data, len, &format) == REIN_ENOMEM)
    return REIN_ENOMEM;
  if (!format && m->format && !is_contract(data, len)) format = m->format;
  if (!format) return REIN_ENOTFOUND; /* a contract, or refused as one */
  rein_interop_config c;
  rein_interop_config_default(&c);
  c.caller = mf ? mf->service : NULL;
  rein_interop *ix = NULL;
  rein_status st = rein_interop_new(&c, &ix);
  if (st == REIN_EINVAL) {
    rein_contract_loc l = {path, 1, 1};
    rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E004",
                         "the overlay's service is not a contract name",
                         "use letters, digits, - and _ (at most 128)");
    return REIN_EPARSE;
  }
  if (st != REIN_OK) return st;
  st = rein_interop_import_buffer(ix, format, path, data, len);
  report_diags(m, s, ix);
  if (st == REIN_OK) {
    size_t n = 0;
    char *text = contract_text(ix, mf, &n);
    st = text ? rein_contract_add_imported(s, path, text, n) : REIN_ENOMEM;
    free(text);
  }
  rein_interop_free(ix);
  return m->oom ? REIN_ENOMEM : st;
}

rein_status rein_cli_mesh_attach(rein_cli_mesh *m, rein_contract_set *s,
                                 const char *overlay, const char *const *paths,
                                 size_t n) {
  if (overlay) rein_cli_overlay_read(m, s, overlay);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    char f[PATH_MAX + 32];
    if (is_overlay(paths[i])) {
      rein_cli_overlay_read(m, s, paths[i]);
    } else if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      snprintf(f, sizeof f, "%s/%s", paths[i], REIN_CLI_OVERLAY_NAME);
      if (stat(f, &st) == 0) rein_cli_overlay_read(m, s, f);
    }
  }
  rein_contract_set_importer(s, import, m);
  return m->oom ? REIN_ENOMEM : REIN_OK;
}

rein_status rein_cli_mesh_add_buffer(rein_cli_mesh *m, rein_contract_set *s,
                                     const char *name, const char *data,
                                     size_t len) {
  rein_status st = import(m, s, name, data, len);
  return st == REIN_ENOTFOUND ? rein_contract_add_buffer(s, name, data, len)
                              : st;
}
