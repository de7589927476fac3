/* SPDX-License-Identifier: Apache-2.0 */
/*
 * set.c: a set of contracts: its arena, its diagnostics, the service table,
 * reference resolution, and reading files and directories.
 *
 * The set allocates from an arena of chunks taken from the config's
 * allocator, so nothing inside is freed one by one and an allocation failure
 * anywhere just marks the set out of memory (every entry point then returns
 * REIN_ENOMEM). Services are found by name through an open-addressing table
 * of current versions; older versions hang off the current one for R009.
 * Directories are read in sorted order so diagnostics are stable.
 */
#include "contract_internal.h"
#include "rein/input.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- arena */

struct rc_chunk {
  rc_chunk *next;
  size_t used, cap;
  max_align_t data[];
};

#define RC_CHUNK (64 * 1024)

static void *sys_malloc(void *ctx, size_t n) {
  (void)ctx;
  return malloc(n);
}
static void sys_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

void *rein__rc_alloc(rein_contract_set *s, size_t n) {
  if (s->oom) return NULL;
  n = (n + 15) & ~(size_t)15;
  rc_chunk *c = s->chunks;
  if (!c || c->cap - c->used < n) {
    /* chunks double from 4 KiB to RC_CHUNK: a small contract (most of
     * them) costs one small allocation, not 64 KiB */
    size_t want = c ? (c->cap < RC_CHUNK ? c->cap * 2 : RC_CHUNK) : 4096;
    size_t cap = n > want ? n : want;
    rc_chunk *nc = s->alloc.malloc(s->alloc.ctx, sizeof *nc + cap);
    if (!nc) {
      s->oom = true;
      return NULL;
    }
    nc->used = 0;
    nc->cap = cap;
    if (c && n > want) { /* keep filling the current chunk */
      nc->next = c->next;
      c->next = nc;
    } else {
      nc->next = c;
      s->chunks = nc;
    }
    c = nc;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *rein__rc_strndup(rein_contract_set *s, const char *p, size_t n) {
  char *r = rein__rc_alloc(s, n + 1);
  if (!r) return NULL;
  memcpy(r, p, n);
  r[n] = 0;
  return r;
}

char *rein__rc_strdup(rein_contract_set *s, const char *p) {
  return rein__rc_strndup(s, p, strlen(p));
}

char *rein__rc_printf(rein_contract_set *s, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return rein__rc_strdup(s, buf);
}

bool rein__rc_grow(rein_contract_set *s, void **arr, size_t *cap, size_t need,
                   size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap * 2 : 16;
  while (nc < need)
    nc *= 2;
  void *n = rein__rc_alloc(s, nc * elem);
  if (!n) return false;
  if (*arr) memcpy(n, *arr, *cap * elem);
  *arr = n; /* the old block stays in the arena until the set is freed */
  *cap = nc;
  return true;
}

/* ---------------------------------------------------------- diagnostics */

rc_diag *rein__rc_diag(rein_contract_set *s, rc_loc loc, uint32_t file_seq,
                       rein_contract_severity sev, const char *rule,
                       const char *why, const char *fix) {
  if (!rein__rc_grow(s, (void **)&s->diags, &s->capdiags, s->ndiags + 1,
                     sizeof *s->diags))
    return NULL;
  rc_diag *d = &s->diags[s->ndiags];
  memset(d, 0, sizeof *d);
  d->d.loc = loc;
  d->d.severity = sev;
  d->d.rule = rule;
  d->d.message = rein__rc_strdup(s, why);
  d->d.fix = rein__rc_strdup(s, fix ? fix : "");
  d->file_seq = file_seq;
  d->seq = s->ndiags;
  if (!d->d.message || !d->d.fix) return NULL;
  s->ndiags++;
  s->sorted = false;
  if (s->err && s->ndiags == 1)
    snprintf(s->err->msg, sizeof s->err->msg, "%s:%u:%u: %s", loc.file,
             loc.line, loc.col, why);
  return d;
}

bool rein__rc_related(rein_contract_set *s, rc_diag *d, rc_loc loc,
                      const char *msg) {
  void *arr = (void *)d->d.related;
  if (!rein__rc_grow(s, &arr, &d->caprelated, d->d.nrelated + 1,
                     sizeof *d->d.related))
    return false;
  rein_contract_related *r = arr;
  r[d->d.nrelated].loc = loc;
  r[d->d.nrelated].message = rein__rc_strdup(s, msg);
  if (!r[d->d.nrelated].message) return false;
  d->d.related = r;
  d->d.nrelated++;
  return true;
}

static int diag_cmp(const void *pa, const void *pb) {
  const rc_diag *a = pa, *b = pb;
  if (a->file_seq != b->file_seq) return a->file_seq < b->file_seq ? -1 : 1;
  if (a->d.loc.line != b->d.loc.line)
    return a->d.loc.line < b->d.loc.line ? -1 : 1;
  if (a->d.loc.col != b->d.loc.col) return a->d.loc.col < b->d.loc.col ? -1 : 1;
  int r = strcmp(a->d.rule, b->d.rule);
  if (r) return r;
  return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void sort_diags(const rein_contract_set *cs) {
  rein_contract_set *s = (rein_contract_set *)cs; /* sorting is a cache */
  if (s->sorted) return;
  if (s->ndiags) qsort(s->diags, s->ndiags, sizeof *s->diags, diag_cmp);
  s->sorted = true;
}

size_t rein_contract_diag_count(const rein_contract_set *s) {
  return s ? s->ndiags : 0;
}

const rein_contract_diag *rein_contract_diag_at(const rein_contract_set *s,
                                                size_t i) {
  if (!s || i >= s->ndiags) return NULL;
  sort_diags(s);
  return &s->diags[i].d;
}

size_t rein_contract_count(const rein_contract_set *s,
                           rein_contract_severity sev) {
  size_t n = 0;
  for (size_t i = 0; s && i < s->ndiags; i++)
    n += s->diags[i].d.severity == sev;
  return n;
}

bool rein_contract_has_load_errors(const rein_contract_set *s) {
  for (size_t i = 0; s && i < s->ndiags; i++)
    if (s->diags[i].d.rule[0] == 'E' && strcmp(s->diags[i].d.rule, "E007") &&
        s->diags[i].d.severity == REIN_CONTRACT_ERROR)
      return true;
  return false;
}

size_t rein_contract_service_count(const rein_contract_set *s) {
  return s ? s->nsvcs : 0;
}

/* ------------------------------------------------------------ services */

static uint64_t hash_str(const char *p) {
  uint64_t h = 1469598103934665603ull;
  for (; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h;
}

rc_svc *rein__rc_find(const rein_contract_set *s, const char *name) {
  if (!s->table_cap) return NULL;
  size_t m = s->table_cap - 1;
  for (size_t i = hash_str(name) & m;; i = (i + 1) & m) {
    rc_svc *v = s->table[i];
    if (!v) return NULL;
    if (strcmp(v->name, name) == 0) return v;
  }
}

static bool table_put(rein_contract_set *s, rc_svc *v) {
  if ((s->nsvcs + 1) * 2 > s->table_cap) {
    size_t nc = s->table_cap ? s->table_cap * 2 : 64;
    while ((s->nsvcs + 1) * 2 > nc)
      nc *= 2;
    rc_svc **t = rein__rc_alloc(s, nc * sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < s->table_cap; i++) {
      rc_svc *o = s->table[i];
      if (!o) continue;
      size_t j = hash_str(o->name) & (nc - 1);
      while (t[j])
        j = (j + 1) & (nc - 1);
      t[j] = o;
    }
    s->table = t;
    s->table_cap = nc;
  }
  size_t m = s->table_cap - 1;
  for (size_t i = hash_str(v->name) & m;; i = (i + 1) & m) {
    if (!s->table[i]) {
      s->table[i] = v;
      return true;
    }
    if (strcmp(s->table[i]->name, v->name) == 0) {
      s->table[i] = v;
      return true;
    }
  }
}

/* Compare versions: numeric runs compare as numbers, everything else
 * bytewise, so 2024-06-01 > 2024-01-15 and 1.10.0 > 1.9.2. */
int rein__rc_version_cmp(const char *a, const char *b) {
  while (*a && *b) {
    if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
      while (*a == '0')
        a++;
      while (*b == '0')
        b++;
      size_t la = 0, lb = 0;
      while (isdigit((unsigned char)a[la]))
        la++;
      while (isdigit((unsigned char)b[lb]))
        lb++;
      if (la != lb) return la < lb ? -1 : 1;
      int r = strncmp(a, b, la);
      if (r) return r < 0 ? -1 : 1;
      a += la;
      b += lb;
      continue;
    }
    if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
    a++;
    b++;
  }
  return *a ? 1 : *b ? -1 : 0;
}

/* Move the calls of `from` to the end of `to`'s (an imported contract
 * joining the contract of its service). */
static bool merge_calls(rein_contract_set *s, rc_svc *to, rc_svc *from) {
  /* a callee both halves call is a second call (E006), as in one file */
  for (size_t i = 0; i < from->ncalls; i++)
    for (size_t j = 0; j < to->ncalls; j++) {
      const rc_call *a = &from->calls[i], *b = &to->calls[j];
      if (!a->to || !b->to || strcmp(a->to, b->to)) continue;
      const rc_call *imp = from->imported ? a : b, *other = imp == a ? b : a;
      char why[512];
      snprintf(why, sizeof why,
               "a second call from %s to %s (also at %s:%u:%u)", to->name,
               a->to, other->loc.file, other->loc.line, other->loc.col);
      if (!rein__rc_diag(s, imp->loc, from->file_seq, REIN_CONTRACT_ERROR,
                         "E006", why,
                         "keep the call in one place: the config, or the "
                         "contract (the runtime looks a policy up by caller "
                         "and callee)"))
        return false;
    }
  size_t n = to->ncalls + from->ncalls;
  rc_call *c = rein__rc_alloc(s, (n ? n : 1) * sizeof *c);
  if (!c) return false;
  if (to->ncalls) memcpy(c, to->calls, to->ncalls * sizeof *c);
  if (from->ncalls) memcpy(c + to->ncalls, from->calls, from->ncalls * sizeof *c);
  for (size_t i = 0; i < n; i++) {
    c[i].from = to;
    c[i].index = (uint32_t)i;
  }
  to->calls = c;
  to->ncalls = n;
  from->ncalls = 0;
  s->resolved = false;
  return true;
}

bool rein__rc_add_service(rein_contract_set *s, rc_svc *v) {
  rc_svc *cur = rein__rc_find(s, v->name);
  if (cur && v->imported) return merge_calls(s, cur, v);
  if (cur && cur->imported && !cur->next_version) {
    /* the contract of a service whose imported calls came first: it takes
     * their place, and them */
    if (!merge_calls(s, v, cur)) return false;
    v->current = true;
    for (size_t i = 0; i < s->nsvcs; i++)
      if (s->svcs[i] == cur) s->svcs[i] = v;
    s->resolved = false;
    return table_put(s, v);
  }
  for (rc_svc *o = cur; o; o = o->next_version) {
    if (strcmp(o->version ? o->version : "", v->version ? v->version : "") ==
        0) {
      char why[512], fix[512];
      snprintf(why, sizeof why,
               "duplicate contract for service '%s' version '%s' (also in "
               "%s:%u:%u)",
               v->name, v->version ? v->version : "", o->loc.file, o->loc.line,
               o->loc.col);
      snprintf(fix, sizeof fix,
               "keep one file per service and version: remove one, or give "
               "this one a new version");
      return rein__rc_diag(s, v->loc, v->file_seq, REIN_CONTRACT_ERROR, "E006",
                           why, fix) != NULL;
    }
  }
  if (!rein__rc_grow(s, (void **)&s->svcs, &s->capsvcs, s->nsvcs + 1,
                     sizeof *s->svcs))
    return false;
  s->svcs[s->nsvcs] = v;
  if (!cur) {
    v->current = true;
    if (!table_put(s, v)) return false;
  } else if (rein__rc_version_cmp(v->version ? v->version : "",
                                  cur->version ? cur->version : "") > 0) {
    cur->current = false;
    v->current = true;
    v->next_version = cur;
    if (!table_put(s, v)) return false;
  } else {
    v->next_version = cur->next_version;
    cur->next_version = v;
  }
  s->nsvcs++;
  s->resolved = false;
  return true;
}

/* ------------------------------------------------------------- resolve */

static bool push_in(rein_contract_set *s, rc_svc *v, rc_call *c) {
  if (!rein__rc_grow(s, (void **)&v->in, &v->capin, v->nin + 1, sizeof *v->in))
    return false;
  v->in[v->nin++] = c;
  return true;
}

bool rein__rc_resolve(rein_contract_set *s) {
  if (s->resolved) return !s->oom;
  for (size_t i = 0; i < s->nsvcs; i++)
    s->svcs[i]->nin = 0;
  size_t unresolved = 0;
  for (size_t i = 0; i < s->nsvcs; i++) {
    rc_svc *v = s->svcs[i];
    if (!v->current) continue;
    for (size_t j = 0; j < v->ncalls; j++) {
      rc_call *c = &v->calls[j];
      c->callee = NULL;
      c->op = NULL;
      if (!c->to_svc) continue;
      rc_svc *t = rein__rc_find(s, c->to_svc);
      char why[512], fix[512];
      if (!t) {
        /* did you mean: among every current service name (for the first
         * unresolved calls only, so a huge graph stays linear) */
        const char *best = NULL;
        size_t bd = 4;
        for (size_t k = 0; k < s->nsvcs && unresolved < 1000; k++) {
          if (!s->svcs[k]->current) continue;
          size_t d = rein_edit_distance(c->to_svc, s->svcs[k]->name, 3);
          if (d < bd) {
            bd = d;
            best = s->svcs[k]->name;
          }
        }
        unresolved++;
        snprintf(why, sizeof why, "calls[%u].to: unknown service '%s'%s%s%s",
                 c->index, c->to_svc, best ? " (did you mean '" : "",
                 best ? best : "", best ? "'?)" : "");
        if (best)
          snprintf(fix, sizeof fix, "write to: %s.%s", best, c->to_op);
        else
          snprintf(fix, sizeof fix,
                   "add the contract of '%s' to the checked files, or fix "
                   "the name",
                   c->to_svc);
        if (!rein__rc_diag(s, c->to_loc, v->file_seq, REIN_CONTRACT_ERROR,
                           "E007", why, fix))
          return false;
        continue;
      }
      c->callee = t;
      for (size_t k = 0; k < t->nops; k++)
        if (strcmp(t->ops[k].name, c->to_op) == 0) c->op = &t->ops[k];
      if (!c->op) {
        const char *names[64];
        size_t n = t->nops < 64 ? t->nops : 64;
        char known[256] = "";
        for (size_t k = 0; k < n; k++) {
          names[k] = t->ops[k].name;
          if (strlen(known) + strlen(names[k]) + 3 < sizeof known) {
            if (k) strcat(known, ", ");
            strcat(known, names[k]);
          }
        }
        const char *best = rein_suggest(c->to_op, names, n);
        snprintf(why, sizeof why,
                 "calls[%u].to: service '%s' has no operation '%s'%s%s%s",
                 c->index, t->name, c->to_op, best ? " (did you mean '" : "",
                 best ? best : "", best ? "'?)" : "");
        if (best)
          snprintf(fix, sizeof fix, "write to: %s.%s", t->name, best);
        else
          snprintf(fix, sizeof fix, "use one of: %s",
                   *known ? known : "(it declares no operations)");
        if (!rein__rc_diag(s, c->to_loc, v->file_seq, REIN_CONTRACT_ERROR,
                           "E007", why, fix))
          return false;
        continue;
      }
      if (!push_in(s, t, c)) return false;
    }
  }
  s->resolved = true;
  return !s->oom;
}

/* ------------------------------------------------------------ lifecycle */

void rein_contract_config_default(rein_contract_config *c) {
  memset(c, 0, sizeof *c);
  c->max_file_bytes = 4u << 20;
}

rein_status rein_contract_set_new(const rein_contract_config *c,
                                  rein_contract_set **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  rein_contract_config d;
  if (!c) {
    rein_contract_config_default(&d);
    c = &d;
  }
  rein_allocator a = {sys_malloc, sys_free, NULL};
  if (c->alloc) a = *c->alloc;
  rein_contract_set *s = a.malloc(a.ctx, sizeof *s);
  if (!s) return REIN_ENOMEM;
  memset(s, 0, sizeof *s);
  s->alloc = a;
  s->max_file_bytes = c->max_file_bytes ? c->max_file_bytes : 4u << 20;
  s->max_files = c->max_files ? c->max_files : 10000;
  s->max_total_bytes = c->max_total_bytes ? c->max_total_bytes : 64u << 20;
  s->max_depth = c->max_depth;
  s->err = c->err;
  s->sorted = true;
  *out = s;
  return REIN_OK;
}

void rein_contract_set_free(rein_contract_set *s) {
  if (!s) return;
  rein_allocator a = s->alloc;
  for (rc_chunk *c = s->chunks, *n; c; c = n) {
    n = c->next;
    a.free(a.ctx, c);
  }
  a.free(a.ctx, s);
}

rein_status rein_contract_add_buffer(rein_contract_set *s, const char *name,
                                     const char *data, size_t len) {
  if (!s || !name || (!data && len)) return REIN_EINVAL;
  if (s->oom) return REIN_ENOMEM;
  rein_status st = rein__rc_load_buffer(s, name, data ? data : "", len);
  return s->oom ? REIN_ENOMEM : st;
}

void rein_contract_set_importer(rein_contract_set *s,
                                rein_contract_import_fn fn, void *ctx) {
  if (!s) return;
  s->importer = fn;
  s->importer_ctx = ctx;
}

rein_status rein_contract_add_imported(rein_contract_set *s, const char *name,
                                       const char *data, size_t len) {
  if (!s || !name || (!data && len)) return REIN_EINVAL;
  if (s->oom) return REIN_ENOMEM;
  s->loading_imported = true;
  rein_status st = rein__rc_load_buffer(s, name, data ? data : "", len);
  s->loading_imported = false;
  return s->oom ? REIN_ENOMEM : st;
}

rein_status rein_contract_report(rein_contract_set *s,
                                 const rein_contract_loc *loc,
                                 rein_contract_severity sev, const char *rule,
                                 const char *message, const char *fix) {
  if (!s || !loc || !rule || !message) return REIN_EINVAL;
  rc_loc l = {rein__rc_strdup(s, loc->file ? loc->file : ""), loc->line,
              loc->col};
  if (!l.file || !rein__rc_diag(s, l, s->nfiles++, sev, rule, message,
                                fix ? fix : ""))
    return REIN_ENOMEM;
  return REIN_OK;
}

static bool has_contract_ext(const char *n) {
  size_t l = strlen(n);
  return (l > 5 && strcasecmp(n + l - 5, ".yaml") == 0) ||
         (l > 4 && strcasecmp(n + l - 4, ".yml") == 0) ||
         (l > 5 && strcasecmp(n + l - 5, ".json") == 0);
}

static rein_status file_error(rein_contract_set *s, const char *path,
                              const char *why) {
  char msg[512];
  snprintf(msg, sizeof msg, "cannot read contract: %s", why);
  rc_loc loc = {rein__rc_strdup(s, path), 0, 0};
  if (!loc.file) return REIN_ENOMEM;
  if (!rein__rc_diag(s, loc, s->nfiles++, REIN_CONTRACT_ERROR, "E008", msg,
                     "check the path and its permissions"))
    return REIN_ENOMEM;
  return REIN_EPARSE;
}

static rein_status add_file(rein_contract_set *s, const char *path) {
  if (s->bound_hit) return REIN_EPARSE; /* reported on the first one */
  if (s->files_read >= s->max_files) {
    s->bound_hit = true;
    char why[128];
    snprintf(why, sizeof why,
             "more than %zu contract files (max_files); not read",
             s->max_files);
    return file_error(s, path, why);
  }
  size_t room = s->max_total_bytes - s->bytes_read;
  size_t limit = s->max_file_bytes < room ? s->max_file_bytes : room;
  rein_errbuf eb;
  char *buf = NULL;
  size_t n = 0;
  rein_status st = rein_file_read(path, limit, &s->alloc, &eb, &buf, &n);
  if (st == REIN_ENOMEM) {
    s->oom = true;
    return REIN_ENOMEM;
  }
  if (st == REIN_ETOOBIG && limit < s->max_file_bytes) {
    s->bound_hit = true;
    snprintf(eb.msg, sizeof eb.msg,
             "the files read so far and this one exceed %zu bytes in all "
             "(max_total_bytes); not read",
             s->max_total_bytes);
  } else if (st == REIN_ETOOBIG)
    snprintf(eb.msg, sizeof eb.msg, "larger than %zu bytes", s->max_file_bytes);
  if (st != REIN_OK) /* "cannot read contract: No such file or directory" */
    return file_error(
        s, path, strncmp(eb.msg, "cannot open: ", 13) ? eb.msg : eb.msg + 13);
  s->files_read++;
  s->bytes_read += n;
  rein_status r = REIN_ENOTFOUND;
  if (s->importer) r = s->importer(s->importer_ctx, s, path, buf, n);
  if (r == REIN_ENOTFOUND) r = rein_contract_add_buffer(s, path, buf, n);
  rein_free(&s->alloc, buf);
  return r;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first path directory (dev, ino) was read as, or NULL (then it is
 * recorded as `path`). A linear scan: directories are few next to the
 * files in them, and max_files bounds the walk. */
static const char *dir_seen(rein_contract_set *s, const struct stat *st,
                            const char *path, bool *oom) {
  for (size_t i = 0; i < s->ndirs; i++)
    if (s->dirs[i].dev == (uint64_t)st->st_dev &&
        s->dirs[i].ino == (uint64_t)st->st_ino)
      return s->dirs[i].path;
  if (!rein__rc_grow(s, (void **)&s->dirs, &s->capdirs, s->ndirs + 1,
                     sizeof *s->dirs)) {
    *oom = true;
    return NULL;
  }
  s->dirs[s->ndirs].dev = (uint64_t)st->st_dev;
  s->dirs[s->ndirs].ino = (uint64_t)st->st_ino;
  s->dirs[s->ndirs++].path = path;
  return NULL;
}

static rein_status add_dir(rein_contract_set *s, const char *path,
                           const struct stat *dst, int depth) {
  if (depth > 16) return file_error(s, path, "directories nested too deep");
  bool oom = false;
  const char *first = dir_seen(s, dst, path, &oom);
  if (oom) return REIN_ENOMEM;
  if (first) { /* a link back to a directory already read: say so, once */
    char msg[512];
    snprintf(msg, sizeof msg,
             "directory skipped: already read as %s (a symbolic link loop?)",
             first);
    rc_loc loc = {path, 0, 0};
    if (!rein__rc_diag(s, loc, s->nfiles++, REIN_CONTRACT_WARNING, "E008", msg,
                       "remove the link, or check the directory it points "
                       "to once"))
      return REIN_ENOMEM;
    return REIN_OK;
  }
  if (s->bound_hit) return REIN_OK; /* reported already */
  DIR *d = opendir(path);
  if (!d) return file_error(s, path, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  rein_status r = REIN_OK;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (n >= 4 * s->max_files) { /* a directory of junk: stop listing */
      closedir(d);
      char why[128];
      snprintf(why, sizeof why, "more than %zu entries; not read",
               4 * s->max_files);
      return file_error(s, path, why);
    }
    if (!rein__rc_grow(s, (void **)&names, &cap, n + 1, sizeof *names) ||
        !(names[n] = rein__rc_printf(s, "%s/%s", path, e->d_name))) {
      closedir(d);
      return REIN_ENOMEM;
    }
    n++;
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) != 0) continue;
    rein_status x = REIN_OK;
    if (S_ISDIR(st.st_mode))
      x = add_dir(s, names[i], &st, depth + 1);
    else if (S_ISREG(st.st_mode) && has_contract_ext(names[i]))
      x = add_file(s, names[i]);
    if (x == REIN_ENOMEM) return x;
    if (x != REIN_OK) r = x;
    if (s->bound_hit) break; /* reported on the file that crossed it */
  }
  return r;
}

rein_status rein_contract_add_path(rein_contract_set *s, const char *path) {
  if (!s || !path) return REIN_EINVAL;
  if (s->oom) return REIN_ENOMEM;
  struct stat st;
  rein_status r;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    /* strip trailing slashes for tidy names */
    size_t l = strlen(path);
    while (l > 1 && path[l - 1] == '/')
      l--;
    char *p = rein__rc_strndup(s, path, l);
    if (!p) return REIN_ENOMEM;
    r = add_dir(s, p, &st, 0);
  } else {
    r = add_file(s, path);
  }
  return s->oom ? REIN_ENOMEM : r;
}

rein_status rein_contract_load(const rein_contract_config *c,
                               const char *const *paths, size_t n,
                               rein_contract_set **out) {
  if (!out) return REIN_EINVAL;
  *out = NULL;
  if (!paths && n) return REIN_EINVAL;
  rein_contract_set *s;
  rein_status r = rein_contract_set_new(c, &s);
  if (r != REIN_OK) return r;
  for (size_t i = 0; i < n; i++) {
    rein_status x = rein_contract_add_path(s, paths[i]);
    if (x == REIN_ENOMEM || x == REIN_EINVAL) {
      rein_contract_set_free(s);
      return x;
    }
    if (x != REIN_OK) r = x;
  }
  *out = s;
  return r;
}

/* --------------------------------------------------- durations and rates */

rein_status rein_contract_parse_duration(const char *s, int64_t *ns) {
  /* rein/input.h's grammar, bounded to a year and a day */
  int64_t v;
  rein_status st = rein_parse_duration(s, &v);
  if (st != REIN_OK) return st;
  if (v > (int64_t)366 * 86400 * REIN_NS_PER_S) return REIN_ERANGE;
  *ns = v;
  return REIN_OK;
}

rein_status rein_contract_parse_rate(const char *s, double *per_sec) {
  if (!s || !per_sec) return REIN_EINVAL;
  while (*s == ' ')
    s++;
  if (*s == '-') return REIN_ERANGE;
  if (!isdigit((unsigned char)*s) && *s != '.') return REIN_EPARSE;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || v != v) return REIN_EPARSE;
  while (*end == ' ')
    end++;
  double div = 1;
  if (*end == '/') {
    const char *u = end + 1;
    while (*u == ' ')
      u++;
    if (strcmp(u, "s") == 0 || strcmp(u, "sec") == 0)
      div = 1;
    else if (strcmp(u, "m") == 0 || strcmp(u, "min") == 0)
      div = 60;
    else if (strcmp(u, "h") == 0)
      div = 3600;
    else if (strcmp(u, "d") == 0)
      div = 86400;
    else
      return REIN_EPARSE;
  } else if (*end) {
    return REIN_EPARSE;
  }
  v /= div;
  if (v > 1e9) return REIN_ERANGE;
  *per_sec = v;
  return REIN_OK;
}

const char *rein_contract_format_duration(int64_t ns, char *buf, size_t len) {
  if (!buf || !len) return buf;
  if (ns < 0) ns = 0;
  if (ns == 0) {
    snprintf(buf, len, "0s");
    return buf;
  }
  if (ns < REIN_NS_PER_MS && ns % REIN_NS_PER_US == 0) {
    snprintf(buf, len, "%lldus", (long long)(ns / REIN_NS_PER_US));
    return buf;
  }
  if (ns < REIN_NS_PER_MS) {
    snprintf(buf, len, "%lldns", (long long)ns);
    return buf;
  }
  if (ns < REIN_NS_PER_S) {
    if (ns % REIN_NS_PER_MS == 0)
      snprintf(buf, len, "%lldms", (long long)(ns / REIN_NS_PER_MS));
    else
      snprintf(buf, len, "%.3fms", ns / 1e6);
    return buf;
  }
  if (ns % REIN_NS_PER_S != 0 && ns < 60 * REIN_NS_PER_S) {
    char t[32];
    snprintf(t, sizeof t, "%.3f", ns / 1e9);
    /* trim trailing zeros */
    size_t l = strlen(t);
    while (l && t[l - 1] == '0')
      t[--l] = 0;
    snprintf(buf, len, "%ss", t);
    return buf;
  }
  long long s = (long long)(ns / REIN_NS_PER_S);
  long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
  char out[64] = "";
  size_t o = 0;
  if (d >= 7 && h == 0 && m == 0 && sec == 0)
    o += snprintf(out + o, sizeof out - o, "%lldd", d);
  else if (d) {
    h += d * 24;
  }
  if (o == 0) {
    if (h) o += snprintf(out + o, sizeof out - o, "%lldh", h);
    if (m) o += snprintf(out + o, sizeof out - o, "%lldm", m);
    if (sec) o += snprintf(out + o, sizeof out - o, "%llds", sec);
  }
  snprintf(buf, len, "%s", out);
  return buf;
}

const char *rein__rc_dur(int64_t ns, char *buf, size_t len) {
  return rein_contract_format_duration(ns, buf, len);
}
