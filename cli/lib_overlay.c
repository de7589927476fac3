/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_overlay.c: the rein overlay of a mesh's configs (lib_mesh.h):
 * `rein-overlay.yaml` at the top of a checked directory, or --overlay
 * FILE, a map from config files (relative to the overlay) to what rein
 * needs beside them:
 *
 *   files:
 *     front-grpc.json:
 *       service: front          # the service whose channel this configures
 *       format: grpc            # optional: else detected by content
 *       calls:                  # optional: the contract callee of an
 *         api-Payments.Charge: api.charge          # imported call
 *         ledger.*: {to: ledger.post, key: pass-through}
 *
 * Read with libyaml here: it is a CLI file, not a contract. Every problem
 * (malformed YAML, an unknown field with the known ones and a did-you-mean,
 * a file that does not exist, a callee that is not service.operation, an
 * unknown key mode or format) is an error diagnostic of the contract set
 * at the overlay's file:line:col, so `rein check` exits 2.
 */
#include "lib_mesh.h"

#include "rein/input.h"
#include "rein/interop.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------ overlay */

typedef struct ov {
  rein_cli_mesh *m;
  rein_contract_set *s;
  yaml_document_t doc;
  const char *file, *dir;
  int errors;
} ov;

static void ov_diag(ov *o, const char *rule, const yaml_node_t *n,
                    const char *fix, const char *fmt, va_list ap) {
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  rein_contract_loc l = {o->file, n ? (uint32_t)n->start_mark.line + 1 : 1,
                         n ? (uint32_t)n->start_mark.column + 1 : 1};
  if (rein_contract_report(o->s, &l, REIN_CONTRACT_ERROR, rule, msg, fix) ==
      REIN_ENOMEM)
    o->m->oom = true;
  o->errors++;
}

/* E004 (an invalid value) at `n`; ov_unknown: E003 (an unknown field). */
static void ov_err(ov *o, const yaml_node_t *n, const char *fix,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void ov_err(ov *o, const yaml_node_t *n, const char *fix,
                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ov_diag(o, "E004", n, fix, fmt, ap);
  va_end(ap);
}

static void ov_unknown(ov *o, const yaml_node_t *n, const char *fix,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ov_unknown(ov *o, const yaml_node_t *n, const char *fix,
                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ov_diag(o, "E003", n, fix, fmt, ap);
  va_end(ap);
}

static yaml_node_t *ov_node(ov *o, int i) {
  return yaml_document_get_node(&o->doc, i);
}

static const char *ov_str(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                          : NULL;
}

/* The keys of map `n` must be among `known`; false (reported) when `n` is
 * not a map. */
static bool ov_map(ov *o, yaml_node_t *n, const char *path,
                   const char *const *known, const char *knowns) {
  if (!n || n->type != YAML_MAPPING_NODE) {
    ov_err(o, n, "see docs/interop.md, \"Checking a mesh\"",
           "%s: expected a map", path);
    return false;
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       known && p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = ov_node(o, p->key);
    const char *ks = ov_str(k);
    bool ok = false;
    for (size_t i = 0; ks && known[i]; i++)
      ok |= strcmp(ks, known[i]) == 0;
    if (!ok) {
      size_t nk = 0;
      while (known[nk])
        nk++;
      const char *best = ks ? rein_suggest(ks, known, nk) : NULL;
      char fix[256];
      snprintf(fix, sizeof fix, "%s%s%sknown fields: %s",
               best ? "did you mean '" : "", best ? best : "",
               best ? "'? " : "", knowns);
      ov_unknown(o, k, fix, "%s: unknown field '%.60s'", path, ks ? ks : "?");
    }
  }
  return true;
}

char *rein_cli_mesh_dup(rein_cli_mesh *m, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d) m->oom = true;
  return d;
}

static void ov_calls(ov *o, mesh_file *f, yaml_node_t *n, const char *path) {
  static const char *const known[] = {"to", "key", NULL};
  static const char *const keys[] = {"none", "originate", "pass-through",
                                     "derive", NULL};
  if (!ov_map(o, n, path, NULL, "")) return;
  size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  f->calls = calloc(cnt ? cnt : 1, sizeof *f->calls);
  if (!f->calls) {
    o->m->oom = true;
    return;
  }
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = ov_node(o, p->key), *v = ov_node(o, p->value);
    const char *from = ov_str(k), *to = ov_str(v), *key = NULL;
    char cp[512];
    snprintf(cp, sizeof cp, "%s.%s", path, from ? from : "?");
    if (v && v->type == YAML_MAPPING_NODE) {
      if (!ov_map(o, v, cp, known, "to, key")) continue;
      for (yaml_node_pair_t *q = v->data.mapping.pairs.start;
           q < v->data.mapping.pairs.top; q++) {
        const char *qk = ov_str(ov_node(o, q->key));
        yaml_node_t *qv = ov_node(o, q->value);
        if (qk && !strcmp(qk, "to")) to = ov_str(qv);
        if (qk && !strcmp(qk, "key")) {
          key = ov_str(qv);
          bool ok = false;
          for (size_t i = 0; key && keys[i]; i++)
            ok |= !strcmp(key, keys[i]);
          if (!ok) {
            ov_err(o, qv, "write none, originate, pass-through or derive",
                   "%s.key: expected how the key crosses the call", cp);
            key = NULL;
          }
        }
      }
    }
    bool name_ok = to && strchr(to, '.') && strchr(to, '.') != to &&
                   strchr(to, '.')[1];
    for (const char *q = to; name_ok && *q; q++)
      name_ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' ||
                (*q == '.' && q == strchr(to, '.'));
    if (!from || !name_ok) {
      ov_err(o, to ? v : (v ? v : k),
             "write the imported callee, then the contract's: "
             "\"api-Payments.Charge: api.charge\"",
             "%s: expected service.operation", cp);
      continue;
    }
    mesh_call *c = &f->calls[f->ncalls++];
    c->from = rein_cli_mesh_dup(o->m, from);
    c->to = rein_cli_mesh_dup(o->m, to);
    c->key = rein_cli_mesh_dup(o->m, key);
  }
}

static void ov_file(ov *o, yaml_node_t *k, yaml_node_t *v) {
  static const char *const known[] = {"service", "format", "calls", NULL};
  const char *name = ov_str(k);
  char path[300];
  snprintf(path, sizeof path, "files.%s", name ? name : "?");
  if (!name || !*name) {
    ov_err(o, k, "name a config file, relative to the overlay",
           "files: expected a file name");
    return;
  }
  if (!ov_map(o, v, path, known, "service, format, calls")) return;
  char full[PATH_MAX + 300], real[PATH_MAX];
  snprintf(full, sizeof full, "%s%s%s", name[0] == '/' ? "" : o->dir,
           name[0] == '/' ? "" : "/", name);
  if (!realpath(full, real)) {
    ov_err(o, k, "name a file of the mesh, relative to the overlay",
           "%s: no such file (%s)", path, full);
    return;
  }
  mesh_file *nf = realloc(o->m->files, (o->m->nfiles + 1) * sizeof *nf);
  if (!nf) {
    o->m->oom = true;
    return;
  }
  o->m->files = nf;
  mesh_file *f = &nf[o->m->nfiles++];
  memset(f, 0, sizeof *f);
  f->real = rein_cli_mesh_dup(o->m, real);
  for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
       p < v->data.mapping.pairs.top; p++) {
    const char *key = ov_str(ov_node(o, p->key));
    yaml_node_t *val = ov_node(o, p->value);
    char fp[340];
    snprintf(fp, sizeof fp, "%s.%s", path, key ? key : "?");
    if (!key) continue;
    if (!strcmp(key, "calls")) {
      ov_calls(o, f, val, fp);
      continue;
    }
    const char *s = ov_str(val);
    if (!s || !*s) {
      ov_err(o, val, "write a name", "%s: expected a name", fp);
      continue;
    }
    if (!strcmp(key, "service")) f->service = rein_cli_mesh_dup(o->m, s);
    if (!strcmp(key, "format")) {
      const char *const *fm = rein_interop_formats();
      bool ok = false;
      size_t i = 0;
      for (; fm[i]; i++)
        ok |= !strcmp(fm[i], s);
      if (!ok) {
        const char *best = rein_suggest(s, fm, i);
        ov_err(o, val, best ? best : "grpc, envoy, istio, gateway, linkerd, aws or sdk",
               "%s: unknown format '%.40s'", fp, s);
        continue;
      }
      f->format = rein_cli_mesh_dup(o->m, s);
    }
  }
}

/* Read one overlay (once: by its realpath). */
void rein_cli_overlay_read(rein_cli_mesh *m, rein_contract_set *s,
                           const char *file) {
  char real[PATH_MAX];
  if (!realpath(file, real)) {
    rein_contract_loc l = {file, 0, 0};
    if (rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E008",
                             "cannot read overlay: no such file",
                             "check the path") == REIN_ENOMEM)
      m->oom = true;
    return;
  }
  for (size_t i = 0; i < m->noverlays; i++)
    if (!strcmp(m->overlays[i], real)) return;
  char **no = realloc(m->overlays, (m->noverlays + 1) * sizeof *no);
  if (!no || !(no[m->noverlays] = strdup(real))) {
    if (no) m->overlays = no;
    m->oom = true;
    return;
  }
  m->overlays = no;
  m->noverlays++;
  rein_errbuf eb = {{0}};
  char *buf = NULL;
  size_t len = 0;
  ov o = {.m = m, .s = s, .file = file};
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(dir, sizeof dir, ".");
  o.dir = dir;
  if (rein_file_read(file, 1u << 20, NULL, &eb, &buf, &len) != REIN_OK) {
    rein_contract_loc l = {file, 0, 0};
    rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E008", eb.msg,
                         "check the path and its permissions");
    return;
  }
  size_t dl, dc;
  yaml_parser_t p;
  if (rein_yaml_check_depth(buf, len, 16, &dl, &dc) != REIN_OK) {
    rein_contract_loc l = {file, (uint32_t)dl, (uint32_t)dc};
    rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E001",
                         "malformed overlay: nested too deep",
                         "an overlay is four levels deep");
    free(buf);
    return;
  }
  yaml_parser_initialize(&p);
  yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
  if (!yaml_parser_load(&p, &o.doc)) {
    rein_contract_loc l = {file, (uint32_t)p.problem_mark.line + 1,
                           (uint32_t)p.problem_mark.column + 1};
    char why[300];
    snprintf(why, sizeof why, "malformed overlay YAML: %s",
             p.problem ? p.problem : "syntax error");
    rein_contract_report(s, &l, REIN_CONTRACT_ERROR, "E001", why,
                         "fix the syntax here");
    yaml_parser_delete(&p);
    free(buf);
    return;
  }
  static const char *const top[] = {"files", NULL};
  yaml_node_t *root = yaml_document_get_root_node(&o.doc);
  if (ov_map(&o, root, "overlay", top, "files")) {
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start;
         q < root->data.mapping.pairs.top; q++) {
      const char *k = ov_str(ov_node(&o, q->key));
      yaml_node_t *v = ov_node(&o, q->value);
      if (!k || strcmp(k, "files")) continue;
      if (!ov_map(&o, v, "files", NULL, "")) continue;
      for (yaml_node_pair_t *e = v->data.mapping.pairs.start;
           e < v->data.mapping.pairs.top; e++)
        ov_file(&o, ov_node(&o, e->key), ov_node(&o, e->value));
    }
  }
  yaml_document_delete(&o.doc);
  yaml_parser_delete(&p);
  free(buf);
}

