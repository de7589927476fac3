/* SPDX-License-Identifier: Apache-2.0 */
/*
 * interop.c: the part of rein_interop every format shares: the handle and
 * its diagnostics, the format table, the JSON-strict reader over libyaml's
 * node tree, and the contract writer.
 *
 * The reader parses with libyaml (JSON is YAML; every node keeps its
 * line:col mark, which each diagnostic and each imported call's origin
 * needs) after rein_yaml_check_depth has bounded the nesting. It then reads
 * nodes as JSON: a quoted scalar is a string, a plain one must be a JSON
 * number, true, false or null, and a block collection or an alias is not
 * JSON, so YAML's looser typing (yes, 0x10, unquoted words) cannot slip
 * through a field's type check. The contract writer prints each call's
 * policy with rein_policy_spec_yaml, the one model's own YAML, so what an
 * import writes is what the contract loader reads back.
 */
#include "interop_internal.h"

#include "rein/classify.h"
#include "rein/input.h"
#include "rein/retry.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that keep hostile input cheap. */
#define IX_MAX_DIAGS 1000
#define IX_MAX_CALLS 100000
#define IX_MAX_DOCS 1000

/* ------------------------------------------------------------- handle */

struct ix_str {
  ix_str *next;
  char s[];
};

void rein_interop_config_default(rein_interop_config *c) {
  if (!c) return;
  memset(c, 0, sizeof *c);
  c->max_file_bytes = 4u << 20;
  c->max_depth = REIN_YAML_MAX_DEPTH;
}

static bool valid_service_name(const char *v) {
  if (!*v || strlen(v) > 128) return false;
  for (; *v; v++)
    if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_') return false;
  return true;
}

rein_status rein_interop_new(const rein_interop_config *c, rein_interop **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  rein_interop_config def;
  if (!c) {
    rein_interop_config_default(&def);
    c = &def;
  }
  if (c->caller && !valid_service_name(c->caller)) return REIN_EINVAL;
  if (c->version && (!*c->version || strlen(c->version) > 64))
    return REIN_EINVAL;
  rein_interop *ix = rein_alloc(c->alloc, sizeof *ix);
  if (!ix) return REIN_ENOMEM;
  memset(ix, 0, sizeof *ix);
  if (c->alloc) ix->alloc = *c->alloc;
  ix->max_file_bytes = c->max_file_bytes ? c->max_file_bytes : 4u << 20;
  ix->max_depth = c->max_depth ? c->max_depth : REIN_YAML_MAX_DEPTH;
  if (c->caller) {
    snprintf(ix->caller, sizeof ix->caller, "%s", c->caller);
    ix->caller_set = true;
  }
  snprintf(ix->version, sizeof ix->version, "%s",
           c->version ? c->version : "1");
  *out = ix;
  return REIN_OK;
}

void rein_interop_free(rein_interop *ix) {
  if (!ix) return;
  rein_allocator a = ix->alloc;
  for (ix_str *s = ix->strs, *n; s; s = n) {
    n = s->next;
    rein_free(&a, s);
  }
  rein_free(&a, ix->calls);
  rein_free(&a, ix->diags);
  rein_free(&a, ix);
}

char *rein__ix_strdup(rein_interop *ix, const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  ix_str *b = rein_alloc(&ix->alloc, sizeof *b + n + 1);
  if (!b) {
    ix->oom = true;
    return NULL;
  }
  memcpy(b->s, s, n + 1);
  b->next = ix->strs;
  ix->strs = b;
  return b->s;
}

void *rein__ix_alloc(rein_interop *ix, size_t n) {
  ix_str *b = rein_alloc(&ix->alloc, sizeof *b + n);
  if (!b) {
    ix->oom = true;
    return NULL;
  }
  memset(b->s, 0, n);
  b->next = ix->strs;
  ix->strs = b;
  return b->s;
}

char *rein__ix_printf(rein_interop *ix, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return rein__ix_strdup(ix, buf);
}

static bool grow(rein_interop *ix, void **arr, size_t *cap, size_t need,
                 size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need)
    nc *= 2;
  void *p = rein_alloc(&ix->alloc, nc * elem);
  if (!p) {
    ix->oom = true;
    return false;
  }
  if (*arr) memcpy(p, *arr, *cap * elem);
  rein_free(&ix->alloc, *arr);
  *arr = p;
  *cap = nc;
  return true;
}

void rein__ix_vdiag(rein_interop *ix, rein_interop_severity sev,
                    rein_contract_loc loc, const char *field, const char *fmt,
                    va_list ap) {
  if (sev == REIN_INTEROP_ERROR) ix->errors++;
  if (ix->ndiags >= IX_MAX_DIAGS) return;
  char msg[768];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (!grow(ix, (void **)&ix->diags, &ix->capdiags, ix->ndiags + 1,
            sizeof *ix->diags))
    return;
  rein_interop_diag *d = &ix->diags[ix->ndiags];
  d->loc = loc;
  d->severity = sev;
  d->field = rein__ix_strdup(ix, field ? field : "");
  d->message = rein__ix_strdup(ix, msg);
  if (d->field && d->message) ix->ndiags++;
}

void rein__ix_diag(rein_interop *ix, rein_interop_severity sev,
                   rein_contract_loc loc, const char *field, const char *fmt,
                   ...) {
  va_list ap;
  va_start(ap, fmt);
  rein__ix_vdiag(ix, sev, loc, field, fmt, ap);
  va_end(ap);
}

bool rein__ix_add_call(rein_interop *ix, const rein_interop_call *c) {
  if (ix->ncalls >= IX_MAX_CALLS) {
    rein__ix_diag(ix, REIN_INTEROP_ERROR, c->loc, "",
                  "more than %d calls in one import", IX_MAX_CALLS);
    return false;
  }
  if (!grow(ix, (void **)&ix->calls, &ix->capcalls, ix->ncalls + 1,
            sizeof *ix->calls))
    return false;
  ix->calls[ix->ncalls++] = *c;
  return true;
}

void rein__ix_drop_calls(rein_interop *ix, size_t from) {
  if (from < ix->ncalls) ix->ncalls = from;
}

size_t rein_interop_call_count(const rein_interop *ix) {
  return ix ? ix->ncalls : 0;
}
const rein_interop_call *rein_interop_call_at(const rein_interop *ix,
                                              size_t i) {
  return ix && i < ix->ncalls ? &ix->calls[i] : NULL;
}
size_t rein_interop_diag_count(const rein_interop *ix) {
  return ix ? ix->ndiags : 0;
}
const rein_interop_diag *rein_interop_diag_at(const rein_interop *ix,
                                              size_t i) {
  return ix && i < ix->ndiags ? &ix->diags[i] : NULL;
}
size_t rein_interop_count(const rein_interop *ix, rein_interop_severity sev) {
  size_t n = 0;
  for (size_t i = 0; ix && i < ix->ndiags; i++)
    n += ix->diags[i].severity == sev;
  return n;
}
const char *rein_interop_caller(const rein_interop *ix) {
  return ix ? ix->caller : "";
}

/* ------------------------------------------------------------ formats */

static const ix_format *const formats[] = {
    &rein__ix_grpc,    &rein__ix_envoy,   &rein__ix_istio,
    &rein__ix_gateway, &rein__ix_linkerd, &rein__ix_aws,
    &rein__ix_sdk,     &rein__ix_nginx,   NULL};
/* Formats that import; then every format that exports (sdk is import
 * only, nginx export only). */
static const char *const format_names[] = {
    "grpc", "envoy", "istio", "gateway", "linkerd", "aws", "sdk", NULL};
static const char *const export_names[] = {
    "grpc", "envoy", "istio", "gateway", "linkerd", "aws", "nginx", NULL};

const char *const *rein_interop_formats(void) {
  return format_names;
}

const char *const *rein_interop_export_formats(void) {
  return export_names;
}

static const ix_format *find_format(const char *name) {
  for (size_t i = 0; name && formats[i]; i++)
    if (strcmp(formats[i]->name, name) == 0) return formats[i];
  return NULL;
}

/* A format that reads: an export-only one (nginx) is not found here. */
static const ix_format *find_import(const char *name) {
  const ix_format *f = find_format(name);
  return f && (f->import || f->import_text) ? f : NULL;
}

/* The caller a file's name suggests: its base name without the extension,
 * every character a service name cannot hold as '-'. */
static void caller_from_file(rein_interop *ix, const char *file) {
  const char *b = strrchr(file, '/');
  b = b ? b + 1 : file;
  size_t n = strcspn(b, ".");
  if (n == 0 || n > 128) {
    snprintf(ix->caller, sizeof ix->caller, "imported");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)b[i];
    ix->caller[i] = isalnum(ch) || ch == '_' || ch == '-' ? (char)ch : '-';
  }
  ix->caller[n] = 0;
}

static bool empty_doc(yaml_document_t *doc);

rein_status rein_interop_import_buffer(rein_interop *ix, const char *format,
                                       const char *name, const char *data,
                                       size_t len) {
  if (!ix || !name || (!data && len)) return REIN_EINVAL;
  const ix_format *f = find_import(format);
  if (!f) return REIN_ENOTFOUND;
  if (!ix->caller_set && !ix->caller[0]) caller_from_file(ix, name);
  ix->errors = 0;
  size_t first = ix->ncalls;
  const char *text = data ? data : "";
  if (f->import_text) {
    const char *file = rein__ix_strdup(ix, name);
    if (file) f->import_text(ix, file, text, len);
    if (ix->oom) return REIN_ENOMEM;
    if (ix->errors) {
      rein__ix_drop_calls(ix, first);
      return REIN_EPARSE;
    }
    return REIN_OK;
  }
  ix_doc d;
  bool yaml = f->yaml && !rein__ix_looks_json(text, len);
  if (rein__ix_doc_load_multi(ix, name, text, len, yaml, f->multi_doc, &d)) {
    d.proto_names = f->proto_names;
    d.first_call = first;
    if (!(f->multi_doc && d.nmore && empty_doc(&d.doc))) f->import(ix, &d);
    /* the further documents, each in turn in d.doc */
    for (size_t i = 0; i < d.nmore && !ix->oom; i++) {
      yaml_document_t prev = d.doc;
      d.doc = d.more[i];
      d.more[i] = prev;
      d.doc_index = i + 1;
      f->import(ix, &d);
    }
  }
  rein__ix_doc_free(&d);
  if (ix->oom) return REIN_ENOMEM;
  if (ix->errors) {
    rein__ix_drop_calls(ix, first);
    return REIN_EPARSE;
  }
  return REIN_OK;
}

rein_status rein_interop_import_file(rein_interop *ix, const char *format,
                                     const char *path) {
  if (!ix || !path) return REIN_EINVAL;
  if (!find_import(format)) return REIN_ENOTFOUND;
  rein_errbuf eb = {{0}};
  char *buf = NULL;
  size_t n = 0;
  rein_status st =
      rein_file_read(path, ix->max_file_bytes, &ix->alloc, &eb, &buf, &n);
  if (st == REIN_ENOMEM) return REIN_ENOMEM;
  if (st != REIN_OK) {
    rein_contract_loc loc = {rein__ix_strdup(ix, path), 0, 0};
    ix->errors = 1;
    rein__ix_diag(ix, REIN_INTEROP_ERROR, loc, "", "cannot read: %s", eb.msg);
    return ix->oom ? REIN_ENOMEM : REIN_EPARSE;
  }
  st = rein_interop_import_buffer(ix, format, path, buf, n);
  rein_free(&ix->alloc, buf);
  return st;
}

rein_status rein_interop_export(rein_interop *ix, const char *format,
                                const rein_contract_set *s, const char *caller,
                                char **out, size_t *len) {
  if (!ix || !s || !out || !len) return REIN_EINVAL;
  *out = NULL;
  *len = 0;
  const ix_format *f = find_format(format);
  if (!f) return REIN_ENOTFOUND;
  rein_contract_loc none = {"", 0, 0};
  if (!caller && !f->server_side) {
    size_t n = rein_contract_call_count(s);
    for (size_t i = 0; i < n; i++) {
      const char *c, *to;
      rein_contract_call_at(s, i, &c, &to);
      if (!caller) {
        caller = c;
      } else if (strcmp(caller, c) != 0) {
        rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                      "the contracts have calls of several services (%s, "
                      "%s, ...): name the caller to export",
                      caller, c);
        return REIN_EINVAL;
      }
    }
    if (!caller) {
      rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                    "the contracts declare no calls: nothing to export");
      return REIN_ENOTFOUND;
    }
  }
  if (!f->export_) {
    rein__ix_diag(ix, REIN_INTEROP_ERROR, none, "",
                  "rein does not export %s: a contract does not say which "
                  "client library runs a call, and SDK settings are code, "
                  "not a file the SDK reads (export aws writes an AWS "
                  "config file)",
                  f->name);
    return REIN_EUNSUPPORTED;
  }
  ix->errors = 0;
  ix->exporting = f;
  rein_status st = f->export_(ix, s, caller, out, len);
  ix->exporting = NULL;
  if (ix->oom) { /* a diagnostic was lost: the result is not complete */
    rein_free(&ix->alloc, *out);
    *out = NULL;
    *len = 0;
    return REIN_ENOMEM;
  }
  return st;
}

/* ------------------------------------------------------------- reader */

/* JSON has no anchors and aliases, and an alias makes the node tree a
 * graph whose walk can cost far more than the text's size: refuse `&` and
 * `*` outside double-quoted strings and comments before libyaml sees them.
 * Returns the offset of the first one, or len. */
static size_t find_alias(const char *data, size_t len) {
  bool str = false, comment = false;
  for (size_t i = 0; i < len; i++) {
    char ch = data[i];
    if (comment) {
      comment = ch != '\n';
    } else if (str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        str = false;
    } else if (ch == '"') {
      str = true;
    } else if (ch == '#') {
      comment = true;
    } else if (ch == '&' || ch == '*') {
      return i;
    }
  }
  return len;
}

bool rein__ix_looks_json(const char *data, size_t len) {
  size_t i = 0;
  while (i < len) {
    char ch = data[i];
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      i++;
    } else if (ch == '#') {
      while (i < len && data[i] != '\n')
        i++;
    } else {
      return ch == '{' || ch == '[';
    }
  }
  return false;
}

/* YAML: the first anchor or alias, found by libyaml's event parser (so a
 * '*' or '&' inside any kind of string is not one). Returns false and sets
 * *mark when there is one; a syntax error ends the scan (the load reports
 * it). */
static bool yaml_no_alias(const char *data, size_t len, yaml_mark_t *mark,
                          bool *alias) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return true;
  yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
  bool ok = true;
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) break;
    yaml_event_type_t t = e.type;
    const unsigned char *anchor =
        t == YAML_SCALAR_EVENT           ? e.data.scalar.anchor
        : t == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.anchor
        : t == YAML_MAPPING_START_EVENT  ? e.data.mapping_start.anchor
                                         : NULL;
    if (t == YAML_ALIAS_EVENT || anchor) {
      *mark = e.start_mark;
      *alias = t == YAML_ALIAS_EVENT;
      ok = false;
    }
    yaml_event_delete(&e);
    if (!ok || t == YAML_STREAM_END_EVENT) break;
  }
  yaml_parser_delete(&p);
  return ok;
}

bool rein__ix_doc_load(rein_interop *ix, const char *file, const char *data,
                       size_t len, bool yaml, ix_doc *d) {
  return rein__ix_doc_load_multi(ix, file, data, len, yaml, false, d);
}

/* A document with nothing in it ("---" and then nothing: a null root). */
static bool empty_doc(yaml_document_t *doc) {
  yaml_node_t *r = yaml_document_get_root_node(doc);
  return !r || (r->type == YAML_SCALAR_NODE && !r->data.scalar.length &&
                r->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
}

/* Keep `extra` (a further document of a multi-document stream); an empty
 * one is dropped. */
static bool keep_doc(ix_doc *d, yaml_document_t *extra) {
  if (empty_doc(extra)) {
    yaml_document_delete(extra);
    return true;
  }
  if (d->nmore == IX_MAX_DOCS) {
    yaml_node_t *r = yaml_document_get_root_node(extra);
    rein_contract_loc l = {d->file, (uint32_t)r->start_mark.line + 1,
                           (uint32_t)r->start_mark.column + 1};
    rein__ix_diag(d->ix, REIN_INTEROP_ERROR, l, "",
                  "more than %d documents in one file", IX_MAX_DOCS);
    yaml_document_delete(extra);
    return false;
  }
  if (!d->more) {
    d->more = rein_alloc(&d->ix->alloc, IX_MAX_DOCS * sizeof *d->more);
    if (!d->more) {
      d->ix->oom = true;
      yaml_document_delete(extra);
      return false;
    }
  }
  d->more[d->nmore++] = *extra;
  return true;
}

bool rein__ix_doc_load_multi(rein_interop *ix, const char *file,
                             const char *data, size_t len, bool yaml,
                             bool multi, ix_doc *d) {
  memset(d, 0, sizeof *d);
  d->ix = ix;
  d->yaml = yaml;
  const char *lang = yaml ? "YAML" : "JSON";
  d->file = rein__ix_strdup(ix, file);
  if (!d->file) return false;
  size_t line = 0, col = 0;
  if (rein_yaml_check_depth(data, len, ix->max_depth, &line, &col) != REIN_OK) {
    rein_contract_loc l = {d->file, (uint32_t)line, (uint32_t)col};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "", "nested deeper than %u levels",
                  ix->max_depth);
    return false;
  }
  yaml_mark_t am;
  bool is_alias = false;
  if (yaml && !yaml_no_alias(data, len, &am, &is_alias)) {
    rein_contract_loc l = {d->file, (uint32_t)am.line + 1,
                           (uint32_t)am.column + 1};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "",
                  "a YAML %s: not read (rein's importers do not expand "
                  "anchors and aliases; write the value out)",
                  is_alias ? "alias" : "anchor");
    return false;
  }
  size_t at = yaml ? len : find_alias(data, len);
  if (at < len) {
    rein_contract_loc l = {d->file, 1, 1};
    for (size_t i = 0; i < at; i++)
      if (data[i] == '\n') {
        l.line++;
        l.col = 1;
      } else {
        l.col++;
      }
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "",
                  "not JSON: '%c' outside a string (a YAML anchor or alias; "
                  "quote strings with \")",
                  data[at]);
    return false;
  }
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    ix->oom = true;
    return false;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
  if (!yaml_parser_load(&p, &d->doc)) {
    rein_contract_loc l = {d->file, (uint32_t)p.problem_mark.line + 1,
                           (uint32_t)p.problem_mark.column + 1};
    bool at_end = p.problem_mark.index >= len;
    if (at_end) { /* libyaml marks the stream's end past the last line:
                     point just after the last character instead */
      size_t e = len;
      while (e > 0 &&
             (data[e - 1] == '\n' || data[e - 1] == '\r' || data[e - 1] == ' '))
        e--;
      l.line = 1;
      size_t bol = 0;
      for (size_t i = 0; i < e; i++)
        if (data[i] == '\n') {
          l.line++;
          bol = i + 1;
        }
      l.col = (uint32_t)(e - bol + 1);
    }
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "", "malformed %s: %s%s%s%s", lang,
                  p.problem ? p.problem : "syntax error", p.context ? " " : "",
                  p.context ? p.context : "",
                  at_end ? " (at the end of the text)" : "");
    yaml_parser_delete(&p);
    return false;
  }
  d->loaded = true;
  /* a second document in the same text is not JSON (nor one contract) */
  yaml_document_t extra;
  bool more = true;
  while (multi && yaml && more && yaml_parser_load(&p, &extra)) {
    if (!yaml_document_get_root_node(&extra)) { /* the stream's end */
      yaml_document_delete(&extra);
      yaml_parser_delete(&p);
      goto first;
    }
    more = keep_doc(d, &extra);
  }
  if (multi && yaml && more) {
    rein_contract_loc l = {d->file, (uint32_t)p.problem_mark.line + 1,
                           (uint32_t)p.problem_mark.column + 1};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "", "malformed YAML: %s%s%s",
                  p.problem ? p.problem : "syntax error", p.context ? " " : "",
                  p.context ? p.context : "");
    yaml_parser_delete(&p);
    return false;
  }
  if (multi && yaml) {
    yaml_parser_delete(&p);
    return false;
  }
  if (yaml_parser_load(&p, &extra)) {
    yaml_node_t *r = yaml_document_get_root_node(&extra);
    if (r) {
      rein_contract_loc l = {d->file, (uint32_t)r->start_mark.line + 1,
                             (uint32_t)r->start_mark.column + 1};
      rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "",
                    yaml ? "malformed YAML: a second document (one "
                           "document per file)"
                         : "malformed JSON: text after the top-level value");
    }
    yaml_document_delete(&extra);
  } else {
    rein_contract_loc l = {d->file, (uint32_t)p.problem_mark.line + 1,
                           (uint32_t)p.problem_mark.column + 1};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "",
                  "malformed %s: text after the top-level value (%s)", lang,
                  p.problem ? p.problem : "syntax error");
  }
  yaml_parser_delete(&p);
first:
  if (!yaml_document_get_root_node(&d->doc) && !d->nmore) {
    rein_contract_loc l = {d->file, 1, 1};
    rein__ix_diag(ix, REIN_INTEROP_ERROR, l, "",
                  "empty file: expected a %s object", lang);
    return false;
  }
  return true;
}

void rein__ix_doc_free(ix_doc *d) {
  if (d->loaded) yaml_document_delete(&d->doc);
  d->loaded = false;
  for (size_t i = 0; i < d->nmore; i++)
    yaml_document_delete(&d->more[i]);
  if (d->more) rein_free(&d->ix->alloc, d->more);
  d->more = NULL;
  d->nmore = 0;
}

yaml_node_t *rein__ix_root(ix_doc *d) {
  return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

rein_contract_loc rein__ix_loc(const ix_doc *d, const yaml_node_t *n) {
  rein_contract_loc l = {d->file, 0, 0};
  if (n) {
    l.line = (uint32_t)n->start_mark.line + 1;
    l.col = (uint32_t)n->start_mark.column + 1;
  }
  return l;
}

const char *rein__ix_text(const yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value
                                          : NULL;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s) {
  if (*s == '-') s++;
  if (*s == '0') {
    s++;
  } else if (*s >= '1' && *s <= '9') {
    while (isdigit((unsigned char)*s))
      s++;
  } else {
    return false;
  }
  if (*s == '.') {
    s++;
    if (!isdigit((unsigned char)*s)) return false;
    while (isdigit((unsigned char)*s))
      s++;
  }
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s)) return false;
    while (isdigit((unsigned char)*s))
      s++;
  }
  return *s == 0;
}

ix_jtype rein__ix_jtype(const yaml_node_t *n) {
  if (!n) return IX_J_INVALID;
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return n->data.mapping.style == YAML_FLOW_MAPPING_STYLE ? IX_J_OBJECT
                                                            : IX_J_INVALID;
  case YAML_SEQUENCE_NODE:
    return n->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE ? IX_J_ARRAY
                                                              : IX_J_INVALID;
  case YAML_SCALAR_NODE: {
    if (n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
      return IX_J_STRING;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return IX_J_INVALID;
    const char *v = (const char *)n->data.scalar.value;
    if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) return IX_J_BOOL;
    if (strcmp(v, "null") == 0) return IX_J_NULL;
    return json_number(v) ? IX_J_NUMBER : IX_J_INVALID;
  }
  default:
    return IX_J_INVALID;
  }
}

ix_jtype rein__ix_type(const ix_doc *d, const yaml_node_t *n) {
  if (!d->yaml || !n) return rein__ix_jtype(n);
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return IX_J_OBJECT;
  case YAML_SEQUENCE_NODE:
    return IX_J_ARRAY;
  case YAML_SCALAR_NODE: {
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return IX_J_STRING;
    const char *v = (const char *)n->data.scalar.value;
    if (!strcmp(v, "true") || !strcmp(v, "false") || !strcmp(v, "True") ||
        !strcmp(v, "False") || !strcmp(v, "TRUE") || !strcmp(v, "FALSE"))
      return IX_J_BOOL;
    if (!*v || !strcmp(v, "null") || !strcmp(v, "~") || !strcmp(v, "Null") ||
        !strcmp(v, "NULL"))
      return IX_J_NULL;
    return json_number(v) ? IX_J_NUMBER : IX_J_STRING;
  }
  default:
    return IX_J_INVALID;
  }
}

const char *rein__ix_jtype_name(ix_jtype t) {
  static const char *const names[] = {"an object", "an array",  "a string",
                                      "a number",  "a boolean", "null",
                                      "not JSON"};
  return (unsigned)t <= IX_J_INVALID ? names[t] : "not JSON";
}

static void vreport(ix_doc *d, rein_interop_severity sev, const yaml_node_t *n,
                    const char *path, const char *fmt, va_list ap) {
  rein__ix_vdiag(d->ix, sev, rein__ix_loc(d, n), path, fmt, ap);
}

void rein__ix_error(ix_doc *d, const yaml_node_t *n, const char *path,
                    const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, REIN_INTEROP_ERROR, n, path, fmt, ap);
  va_end(ap);
}

void rein__ix_warn(ix_doc *d, const yaml_node_t *n, const char *path,
                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, REIN_INTEROP_WARNING, n, path, fmt, ap);
  va_end(ap);
}

void rein__ix_note(ix_doc *d, const yaml_node_t *n, const char *path,
                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(d, REIN_INTEROP_NOTE, n, path, fmt, ap);
  va_end(ap);
}

void rein__ix_type_error(ix_doc *d, const yaml_node_t *n, const char *path,
                         const char *want) {
  ix_jtype t = rein__ix_type(d, n);
  const char *v = rein__ix_text(n);
  if (t == IX_J_INVALID && v)
    rein__ix_error(d, n, path,
                   "expected %s, got '%.40s' (not JSON: quote strings; "
                   "numbers, true, false and null are bare)",
                   want, v);
  else
    rein__ix_error(d, n, path, "expected %s, got %s", want,
                   rein__ix_jtype_name(t));
}

static void camel(const char *in, char *out, size_t cap) {
  size_t o = 0;
  bool up = false;
  for (; *in && o + 1 < cap; in++) {
    if (*in == '_') {
      up = true;
      continue;
    }
    out[o++] = up ? (char)toupper((unsigned char)*in) : *in;
    up = false;
  }
  out[o] = 0;
}

size_t rein__ix_members(ix_doc *d, yaml_node_t *n, const char *path,
                        const char *const *known, ix_member *out, size_t cap) {
  size_t k = 0;
  if (!n || n->type != YAML_MAPPING_NODE) return 0;
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
       p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(&d->doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(&d->doc, p->value);
    if (!kn || !vn) continue;
    if (rein__ix_type(d, kn) != IX_J_STRING) {
      rein__ix_type_error(d, kn, path,
                          d->yaml ? "a member name"
                                  : "a member name in double quotes");
      continue;
    }
    const char *key = rein__ix_text(kn);
    if (d->proto_names && known) { /* lowerCamelCase -> the known name */
      char snake[96];
      size_t o = 0;
      for (const char *c = key; *c && o + 2 < sizeof snake; c++) {
        if (isupper((unsigned char)*c)) {
          snake[o++] = '_';
          snake[o++] = (char)tolower((unsigned char)*c);
        } else {
          snake[o++] = *c;
        }
      }
      snake[o] = 0;
      for (size_t j = 0; strcmp(snake, key) != 0 && known[j]; j++)
        if (strcmp(known[j], snake) == 0) key = known[j];
    }
    char fp[256];
    rein__ix_path(fp, sizeof fp, path, key);
    bool dup = false;
    for (size_t j = 0; j < k; j++)
      if (strcmp(out[j].key, key) == 0) {
        rein__ix_error(d, kn, fp,
                       "duplicate member '%.60s' (first at line %zu)", key,
                       (size_t)out[j].k->start_mark.line + 1);
        dup = true;
      }
    if (dup) continue;
    size_t i = 0;
    while (known && known[i] && strcmp(known[i], key) != 0)
      i++;
    if (known && !known[i]) {
      char list[512], cam[80];
      size_t o = 0;
      list[0] = 0;
      for (size_t j = 0; known[j] && o < sizeof list; j++)
        o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "",
                              known[j]);
      camel(key, cam, sizeof cam);
      const char *best = NULL;
      for (size_t j = 0; known[j] && !best; j++)
        if (strcmp(known[j], cam) == 0) best = known[j];
      size_t nk = 0;
      while (known[nk])
        nk++;
      if (!best) best = rein_suggest(key, (const char *const *)known, nk);
      if (best)
        rein__ix_error(d, kn, fp,
                       "unknown field '%.60s'; did you mean '%s'? (known: %s)",
                       key, best, list);
      else
        rein__ix_error(d, kn, fp, "unknown field '%.60s' (known: %s)", key,
                       list);
      continue;
    }
    if (k >= cap) {
      rein__ix_error(d, kn, fp, "too many members");
      continue;
    }
    out[k].key = key;
    out[k].k = kn;
    out[k].v = vn;
    k++;
  }
  return k;
}

size_t rein__ix_len(const yaml_node_t *n) {
  return n && n->type == YAML_SEQUENCE_NODE
             ? (size_t)(n->data.sequence.items.top -
                        n->data.sequence.items.start)
             : 0;
}

yaml_node_t *rein__ix_item(ix_doc *d, yaml_node_t *n, size_t i) {
  if (i >= rein__ix_len(n)) return NULL;
  return yaml_document_get_node(&d->doc, n->data.sequence.items.start[i]);
}

const char *rein__ix_path(char *buf, size_t len, const char *path,
                          const char *key) {
  snprintf(buf, len, "%s%s%.80s", path, *path ? "." : "", key);
  return buf;
}

const char *rein__ix_path_i(char *buf, size_t len, const char *path, size_t i) {
  snprintf(buf, len, "%s[%zu]", path, i);
  return buf;
}

/* --------------------------------------------- Kubernetes manifests */

static bool k8s_string(ix_doc *d, yaml_node_t *n, const char *path,
                       const char **out) {
  if (rein__ix_type(d, n) != IX_J_STRING) {
    rein__ix_type_error(d, n, path, "a string");
    return false;
  }
  *out = rein__ix_text(n);
  return true;
}

int rein__ix_k8s_root(ix_doc *d, const char *what, yaml_node_t **items) {
  yaml_node_t *root = rein__ix_root(d);
  *items = NULL;
  if (rein__ix_type(d, root) != IX_J_OBJECT) {
    rein__ix_type_error(d, root, "", what);
    return 0;
  }
  ix_member m[8];
  size_t k = rein__ix_members(d, root, "", NULL, m, 8);
  const char *kind = NULL;
  yaml_node_t *it = NULL;
  for (size_t i = 0; i < k; i++) {
    if (strcmp(m[i].key, "kind") == 0 &&
        rein__ix_type(d, m[i].v) == IX_J_STRING)
      kind = rein__ix_text(m[i].v);
    if (strcmp(m[i].key, "items") == 0) it = m[i].v;
  }
  if (!kind || strcmp(kind, "List") != 0) return 1;
  static const char *const list_fields[] = {"apiVersion", "kind", "items",
                                            "metadata", NULL};
  rein__ix_members(d, root, "", list_fields, m, 8);
  if (!it) {
    rein__ix_error(d, root, "items", "missing");
  } else if (rein__ix_type(d, it) != IX_J_ARRAY) {
    rein__ix_type_error(d, it, "items", "an array of objects");
  } else {
    *items = it;
  }
  return 2;
}

bool rein__ix_k8s_head(ix_doc *d, yaml_node_t *n, const char *path,
                       const char *want, ix_k8s_head *h) {
  static const char *const top[] = {"apiVersion", "kind",   "metadata",
                                    "spec",       "status", NULL};
  memset(h, 0, sizeof *h);
  if (rein__ix_type(d, n) != IX_J_OBJECT) {
    rein__ix_type_error(d, n, path, want);
    return false;
  }
  ix_member m[8];
  size_t k = rein__ix_members(d, n, path, top, m, 8);
  char fp[256];
  for (size_t i = 0; i < k; i++) {
    rein__ix_path(fp, sizeof fp, path, m[i].key);
    if (strcmp(m[i].key, "apiVersion") == 0) {
      k8s_string(d, m[i].v, fp, &h->api);
    } else if (strcmp(m[i].key, "kind") == 0) {
      k8s_string(d, m[i].v, fp, &h->kind);
    } else if (strcmp(m[i].key, "spec") == 0) {
      h->spec = m[i].v;
    } else if (strcmp(m[i].key, "metadata") == 0) {
      if (rein__ix_type(d, m[i].v) != IX_J_OBJECT) {
        rein__ix_type_error(d, m[i].v, fp, "an ObjectMeta object");
        continue;
      }
      ix_member mm[64];
      size_t mk = rein__ix_members(d, m[i].v, fp, NULL, mm, 64);
      for (size_t j = 0; j < mk; j++) {
        char np[320];
        if (strcmp(mm[j].key, "name") == 0)
          k8s_string(d, mm[j].v, rein__ix_path(np, sizeof np, fp, "name"),
                     &h->name);
        else if (strcmp(mm[j].key, "annotations") == 0)
          h->annotations = mm[j].v;
      }
    }
  }
  return true;
}

/* ------------------------------------------------- typed values, model */

void rein__ix_leftout_add(ix_leftout *L, const char *key) {
  size_t o = strlen(L->list);
  if (o + strlen(key) + 8 < sizeof L->list)
    snprintf(L->list + o, sizeof L->list - o, "%s%s", L->n ? ", " : "", key);
  else if (o + 6 < sizeof L->list && !strstr(L->list, ", ..."))
    snprintf(L->list + o, sizeof L->list - o, ", ...");
  L->n++;
}

void rein__ix_leftout_note(ix_doc *d, yaml_node_t *n, const char *path,
                           const ix_leftout *L) {
  if (L->n)
    rein__ix_note(d, n, path,
                  "not retry settings, left out of the contract: %s", L->list);
}

bool rein__ix_get_int(ix_doc *d, yaml_node_t *n, const char *path, double lo,
                      double hi, double *out) {
  double x;
  if (rein__ix_type(d, n) != IX_J_NUMBER) {
    rein__ix_type_error(d, n, path, "a whole number");
    return false;
  }
  if (!rein__ix_get_number(d, n, path, &x)) return false;
  if (x != floor(x) || x < lo || x > hi) {
    rein__ix_error(d, n, path, "expected a whole number in [%g, %g], got %g",
                   lo, hi, x);
    return false;
  }
  *out = x;
  return true;
}

bool rein__ix_get_number(ix_doc *d, yaml_node_t *n, const char *path,
                         double *out) {
  ix_jtype t = rein__ix_type(d, n);
  const char *v = rein__ix_text(n);
  if ((t != IX_J_NUMBER && t != IX_J_STRING) || !v) {
    rein__ix_type_error(d, n, path, "a number");
    return false;
  }
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (end == v || *end || errno || !isfinite(x) ||
      (t == IX_J_STRING && !isdigit((unsigned char)v[v[0] == '-']))) {
    rein__ix_type_error(d, n, path, "a number");
    return false;
  }
  *out = x;
  return true;
}

bool rein__ix_get_duration(ix_doc *d, yaml_node_t *n, const char *path,
                           int64_t *ns) {
  if (rein__ix_type(d, n) != IX_J_STRING) {
    rein__ix_type_error(d, n, path, "a duration string such as \"0.1s\"");
    return false;
  }
  const char *why;
  rein_status st = rein_interop_grpc_duration(rein__ix_text(n), ns, &why);
  if (st == REIN_ERANGE) {
    rein__ix_error(d, n, path, "'%.40s' is too long a duration",
                   rein__ix_text(n));
    return false;
  }
  if (st != REIN_OK) {
    rein__ix_error(d, n, path, "'%.40s' is not a duration: %s",
                   rein__ix_text(n), why);
    return false;
  }
  return true;
}

bool rein__ix_set_model(ix_doc *d, yaml_node_t *n, const char *path,
                        rein_policy_spec *sp, rein_model_block b,
                        const char *name, const char *text) {
  rein_errbuf eb = {{0}};
  if (rein_model_set(sp, rein_model_find(b, name, NULL), text, &eb) == REIN_OK)
    return true;
  rein__ix_error(d, n, path, "rein's %s.%s %s", rein_model_block_name(b), name,
                 eb.msg);
  return false;
}

bool rein__ix_set_model_duration(ix_doc *d, yaml_node_t *n, const char *path,
                                 rein_policy_spec *sp, rein_model_block b,
                                 const char *name, int64_t ns) {
  char t[48];
  rein_format_duration(ns, t, sizeof t);
  return rein__ix_set_model(d, n, path, sp, b, name, t);
}

int64_t rein__ix_backoff_cap(ix_doc *d, yaml_node_t *n, const char *path,
                             int64_t cap_ns) {
  const rein_model_field *f = rein_model_find(REIN_MODEL_BACKOFF, "cap", NULL);
  int64_t max = f ? (int64_t)f->max : INT64_MAX;
  if (cap_ns <= max) return cap_ns;
  char got[48], lim[48];
  rein_format_duration(cap_ns, got, sizeof got);
  rein_format_duration(max, lim, sizeof lim);
  rein__ix_warn(d, n, path,
                "a longest wait of %s is past rein's largest backoff cap: "
                "imported as %s",
                got, lim);
  return max;
}

/* ------------------------------------------------------ contract text */

/* The code point of the UTF-8 sequence at p (*len bytes), or -1 for a
 * byte that starts no valid sequence (*len 1): overlong forms, surrogates
 * and values past U+10FFFF included. */
static long utf8_at(const unsigned char *p, int *len) {
  *len = 1;
  int n = p[0] >= 0xF0 && p[0] <= 0xF4   ? 4
          : p[0] >= 0xE0 && p[0] <= 0xEF ? 3
          : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
                                         : 0;
  if (!n) return -1;
  long cp = p[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((p[i] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  static const long least[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return -1;
  *len = n;
  return cp;
}

/* A double-quoted YAML scalar that libyaml reads back as written: what
 * YAML 1.1 calls printable goes out as it is, every other code point as
 * an escape (\xXX, \uXXXX: C0 and C1 controls, DEL, NEL, the line and
 * paragraph separators, the BOM, U+FFFE/FFFF), and a byte that is not
 * UTF-8 as \xXX of its value (text from an INI file need not be UTF-8). */
void rein__ix_yaml_quote(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    if (*p == '"' || *p == '\\') {
      fprintf(f, "\\%c", *p++);
      continue;
    }
    if (*p < 0x80) {
      if (*p < 0x20 || *p == 0x7f)
        fprintf(f, "\\x%02x", *p);
      else
        fputc(*p, f);
      p++;
      continue;
    }
    int n;
    long cp = utf8_at(p, &n);
    if (cp < 0)
      fprintf(f, "\\x%02x", *p);
    else if (cp < 0xA0)
      fprintf(f, "\\x%02lx", cp);
    else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE ||
             cp == 0xFFFF)
      fprintf(f, "\\u%04lx", cp);
    else
      fwrite(p, 1, (size_t)n, f);
    p += n;
  }
  fputc('"', f);
}

int rein__ix_export_call(rein_interop *ix, const rein_contract_set *s,
                         const char *caller, size_t i, size_t *idx, char *path,
                         size_t pathcap, const char **to, const char **origin,
                         rein_contract_loc *loc, rein_policy_spec *sp,
                         rein_status *st) {
  const char *c;
  if (rein_contract_call_at(s, i, &c, to) != REIN_OK || strcmp(c, caller) != 0)
    return 0;
  rein_contract_call_where(s, i, loc, origin);
  snprintf(path, pathcap, "calls[%zu]", (*idx)++);
  rein_errbuf eb = {{0}};
  if (rein_spec_from_contract(s, caller, *to, sp, &eb) != REIN_OK) {
    rein__ix_diag(ix, REIN_INTEROP_ERROR, *loc, path, "%s", eb.msg);
    *st = REIN_EINVAL;
    return -1;
  }
  if (sp->has_hedge && sp->hedge.max_attempts > 1 && ix->exporting &&
      !ix->exporting->hedges)
    rein__ix_diag(ix, REIN_INTEROP_WARNING, *loc, path,
                  "retry.hedge: %s has no hedged requests: left out (the "
                  "call is written with its retries, unhedged; rein runs it "
                  "with up to %u attempts in flight)",
                  ix->exporting->name, sp->hedge.max_attempts);
  return 1;
}

void rein__ix_sanitize(const char *in, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && in[i] && o + 1 < cap; i++) {
    unsigned char c = (unsigned char)in[i];
    out[o++] = isalnum(c) || c == '-' || c == '_' ? (char)c : '-';
  }
  out[o] = 0;
}

rein_status rein__ix_finish_text(const rein_interop *ix, char *text, size_t n,
                                 char **out, size_t *len) {
  char *b = rein_alloc(&ix->alloc, n + 1);
  if (!b) {
    free(text);
    return REIN_ENOMEM;
  }
  memcpy(b, text, n);
  b[n] = 0;
  free(text);
  *out = b;
  *len = n;
  return REIN_OK;
}

rein_status rein_interop_write_contract(const rein_interop *ix, char **out,
                                        size_t *len) {
  if (!ix || !out || !len) return REIN_EINVAL;
  *out = NULL;
  *len = 0;
  if (rein_interop_count(ix, REIN_INTEROP_ERROR) || !ix->ncalls)
    return REIN_EINVAL;
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  if (!f) return REIN_ENOMEM;
  fprintf(f,
          "# Written by `rein import`: one call per method the source\n"
          "# configures; `origin` is where each came from.\n"
          "service: %s\nversion: ",
          ix->caller);
  rein__ix_yaml_quote(f, ix->version);
  fprintf(f, "\ncalls:\n");
  size_t need = 4096;
  char *buf = malloc(need);
  for (size_t i = 0; buf && i < ix->ncalls; i++) {
    const rein_interop_call *c = &ix->calls[i];
    fprintf(f, "  - to: ");
    rein__ix_yaml_quote(f, c->to);
    fprintf(f, "\n    origin: ");
    rein__ix_yaml_quote(f, c->origin);
    fputc('\n', f);
    size_t k = rein_policy_spec_yaml(&c->spec, true, 4, buf, need);
    if (k >= need) {
      char *nb = realloc(buf, k + 1);
      if (!nb) break;
      buf = nb;
      need = k + 1;
      rein_policy_spec_yaml(&c->spec, true, 4, buf, need);
    }
    fputs(buf, f);
  }
  bool ok = buf != NULL;
  free(buf);
  if (fclose(f) != 0 || !ok) {
    free(text);
    return REIN_ENOMEM;
  }
  return rein__ix_finish_text(ix, text, n, out, len);
}

rein_status rein_interop_write_diags(const rein_interop *ix, FILE *f) {
  static const char *const sev[] = {"error", "warning", "note"};
  for (size_t i = 0; ix && i < ix->ndiags; i++) {
    const rein_interop_diag *d = &ix->diags[i];
    if (d->loc.file && *d->loc.file) { /* else: about no one place */
      rein_text_fputs(d->loc.file, f);
      if (d->loc.line) fprintf(f, ":%u:%u", d->loc.line, d->loc.col);
      fputs(": ", f);
    }
    fprintf(f, "%s: ", sev[d->severity]);
    if (d->field && *d->field) {
      rein_text_fputs(d->field, f);
      fputs(": ", f);
    }
    rein_text_fputs(d->message, f);
    if (fputc('\n', f) == EOF) return REIN_EIO;
  }
  return REIN_OK;
}

/* ------------------------------------------------------------- detect */

/* The text of top-level key `key` of mapping `m` (a scalar), or NULL; the
 * node itself in *node when given. */
static const char *detect_key(yaml_document_t *doc, yaml_node_t *m,
                              const char *key, yaml_node_t **node) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
       p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(doc, p->key);
    if (!k || k->type != YAML_SCALAR_NODE ||
        strcmp((const char *)k->data.scalar.value, key) != 0)
      continue;
    yaml_node_t *v = yaml_document_get_node(doc, p->value);
    if (node) *node = v;
    return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value
                                            : "";
  }
  return NULL;
}

static yaml_node_t *detect_first_item(yaml_document_t *doc, yaml_node_t *seq) {
  if (!seq || seq->type != YAML_SEQUENCE_NODE ||
      seq->data.sequence.items.start == seq->data.sequence.items.top)
    return NULL;
  return yaml_document_get_node(doc, *seq->data.sequence.items.start);
}

/* Is `m` (a Kubernetes object) of an API group starting with `group`? */
static bool detect_api(yaml_document_t *doc, yaml_node_t *m,
                       const char *group) {
  const char *api = detect_key(doc, m, "apiVersion", NULL);
  return api && strncmp(api, group, strlen(group)) == 0;
}

/* The format of Kubernetes object `m`: Istio; Gateway API routes and
 * policies, which are Linkerd's when the file carries Linkerd's retry or
 * timeout annotations (`linkerd_ann`); Linkerd's ServiceProfile. */
static const char *detect_k8s(yaml_document_t *doc, yaml_node_t *m,
                              bool linkerd_ann) {
  if (detect_api(doc, m, "networking.istio.io/")) return "istio";
  if (detect_api(doc, m, "linkerd.io/")) return "linkerd";
  if (detect_api(doc, m, "gateway.networking.k8s.io/") ||
      detect_api(doc, m, "gateway.networking.x-k8s.io/") ||
      detect_api(doc, m, "policy.linkerd.io/"))
    return linkerd_ann ? "linkerd" : "gateway";
  return NULL;
}

/* Does `data` hold `w` anywhere? A linear scan before any parsing, so a
 * directory of contracts (none has a marker) costs a pass over its bytes,
 * not a second parse. */
static bool detect_has(const char *data, size_t len, const char *w) {
  size_t n = strlen(w);
  for (const char *p = data; n <= len && p <= data + len - n; p++) {
    p = memchr(p, w[0], (size_t)(data + len - n - p) + 1);
    if (!p) return false;
    if (memcmp(p, w, n) == 0) return true;
  }
  return false;
}

rein_status rein_interop_detect(const char *data, size_t len,
                                const char **format) {
  if (!format) return REIN_EINVAL;
  *format = NULL;
  if (!data || !len) return REIN_ENOTFOUND;
  if (rein__ix_aws_detect(data, len)) {
    *format = "aws";
    return REIN_OK;
  }
  static const char *const markers[] = {"sdk_clients",
                                        "methodConfig",
                                        "retryThrottling",
                                        "virtual_hosts",
                                        "virtualHosts",
                                        "route_config",
                                        "routeConfig",
                                        "static_resources",
                                        "staticResources",
                                        "filter_chains",
                                        "filterChains",
                                        "@type",
                                        "networking.istio.io/",
                                        "gateway.networking.k8s.io/",
                                        "gateway.networking.x-k8s.io/",
                                        "linkerd.io/",
                                        NULL};
  bool any = false;
  for (size_t i = 0; !any && markers[i]; i++)
    any = detect_has(data, len, markers[i]);
  if (!any) return REIN_ENOTFOUND;
  rein_interop *ix;
  if (rein_interop_new(NULL, &ix) != REIN_OK) return REIN_ENOMEM;
  ix_doc d;
  rein_status st = REIN_ENOTFOUND;
  if (rein__ix_doc_load_multi(ix, "detect", data, len, true, true, &d)) {
    yaml_document_t *doc = &d.doc;
    yaml_node_t *r = rein__ix_root(&d), *n = NULL;
    static const char *const envoy_keys[] = {
        "virtual_hosts", "virtualHosts",     "route_config",
        "routeConfig",   "static_resources", "staticResources",
        "filter_chains", "filterChains",     NULL};
    if (detect_key(doc, r, "sdk_clients", NULL))
      *format = "sdk";
    else if (detect_key(doc, r, "methodConfig", NULL) ||
             detect_key(doc, r, "retryThrottling", NULL))
      *format = "grpc";
    for (size_t i = 0; !*format && envoy_keys[i]; i++)
      if (detect_key(doc, r, envoy_keys[i], NULL)) *format = "envoy";
    if (!*format && detect_key(doc, r, "resources", &n) &&
        detect_key(doc, detect_first_item(doc, n), "@type", NULL))
      *format = "envoy";
    bool ann = detect_has(data, len, "retry.linkerd.io/") ||
               detect_has(data, len, "timeout.linkerd.io/");
    if (!*format) *format = detect_k8s(doc, r, ann);
    if (!*format && detect_key(doc, r, "items", &n))
      *format = detect_k8s(doc, detect_first_item(doc, n), ann);
    if (*format) st = REIN_OK;
  }
  rein__ix_doc_free(&d);
  if (ix->oom) st = REIN_ENOMEM;
  rein_interop_free(ix);
  return st;
}

/* ------------------------------------------------- contract limits */

static size_t when_outcomes(const rein_retryable_set *r) {
  size_t t = 0;
  for (unsigned c = 1; c <= 5; c++) { /* a whole class is one outcome */
    size_t k = 0;
    for (unsigned st = c * 100; st < c * 100 + 100; st++)
      k += (r->http[st / 64] >> (st % 64)) & 1u;
    t += k == 100 ? 1 : k;
  }
  for (unsigned b = 0; b < 32; b++)
    t += ((r->grpc >> b) & 1u) + ((r->transport >> b) & 1u) +
         ((r->kinds >> b) & 1u);
  return t;
}

bool rein__ix_when_fit(ix_doc *d, yaml_node_t *n, const char *path,
                       rein_policy_spec *sp) {
  rein_retryable_set *r = &sp->policy.retryable;
  if (when_outcomes(r) <= 32) return true;
  /* every HTTP status of an outcome kind: that kind, one outcome */
  char kinds[160] = "";
  size_t o = 0;
  /* FATAL has no `when` name (a contract retries a definitive answer only
   * by naming its status), so its statuses stay statuses */
  for (int k = 1; k < REIN_OUTCOME_COUNT_; k++) {
    if (k == REIN_OUTCOME_FATAL) continue;
    bool all = true, any = false;
    for (unsigned st = 100; st < 600 && all; st++)
      if (rein_condition_kind(REIN_COND_HTTP(st)) == (rein_outcome_kind)k) {
        any = true;
        all = (r->http[st / 64] >> (st % 64)) & 1u;
      }
    if (!any || !all) continue;
    rein_retryable_set was = *r;
    for (unsigned st = 100; st < 600; st++)
      if (rein_condition_kind(REIN_COND_HTTP(st)) == (rein_outcome_kind)k)
        r->http[st / 64] &= ~(UINT64_C(1) << (st % 64));
    r->kinds |= REIN_RETRY_ON(k);
    if (when_outcomes(r) >= when_outcomes(&was)) { /* no better: undo */
      *r = was;
      continue;
    }
    if (o < sizeof kinds)
      o += (size_t)snprintf(kinds + o, sizeof kinds - o, "%s%s", o ? ", " : "",
                            rein_outcome_kind_name((rein_outcome_kind)k));
  }
  size_t t = when_outcomes(r);
  if (t <= 32) {
    rein__ix_note(d, n, path,
                  "the statuses fill rein's outcome kinds %s: written as "
                  "those kinds (a contract holds at most 32 outcomes), which "
                  "also cover the gRPC and transport failures of the kinds",
                  kinds);
    return true;
  }
  rein__ix_error(d, n, path,
                 "retries %zu outcomes (statuses outside whole classes such "
                 "as 5xx and outcome kinds count one by one): a rein contract "
                 "holds at most 32",
                 t);
  return false;
}
