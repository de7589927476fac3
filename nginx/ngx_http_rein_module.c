/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ngx_http_rein_module.c: rein's server half (rein/admit.h) as a dynamic
 * nginx module, in front of any upstream, in any language.
 *
 * Each `rein_zone` is a shared-memory zone holding one rein_admit shared by
 * every worker process (rein_admit_new_shared): the concurrency limit (fixed
 * or adaptive), the bounded queue with CoDel-style overload detection and
 * adaptive LIFO, retries shed before first attempts, the optional GCRA rate
 * limit, and the drain rate that Retry-After is derived from. A preaccess
 * handler asks the zone for a ticket for each request in a location with
 * `rein_admit`; a request that has to wait parks on an nginx timer (polled
 * every `poll=`, 1 ms by default) without blocking the worker, the way
 * limit_req delays; a request shed gets 503 (429 for the rate limit) with
 * Retry-After, an application/problem+json body and, as configured,
 * RateLimit / RateLimit-Policy and Rein-Dont-Retry. The ticket is given back
 * when the request ends (request pool cleanup, which also runs when the
 * client goes away while queued), with the upstream's time to response
 * header as the latency sample of the adaptive limit.
 *
 * Workers that die: the zone's tickets are owned by process ids; every
 * worker, when it starts and then once a second, takes back the tickets of
 * owners that no longer exist (rein_admit_reclaim_dead), and a worker killed
 * inside the zone's lock leaves it to be repaired by the next caller (a
 * robust mutex). Reload: a zone of the same name and size is kept with its
 * state and reconfigured (rein_admit_shared_reconfigure); a resized one is a
 * new zone (old workers finish on the old one).
 *
 * Bad configuration fails `nginx -t` with the directive, the parameter and
 * the expected value; the values themselves are checked by rein_admit's own
 * validation, whose message names the field.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "rein/admit.h"
#include "rein/clock.h"
#include "rein/signal.h"

#include <string.h>

#define REIN_NGX_RECLAIM_MS 1000

typedef struct {
  ngx_str_t name;
  rein_admit_config cfg;
  char name_buf[65];
  char policy_buf[33];
  ngx_msec_t poll;
  ngx_shm_zone_t *shm_zone;
  rein_admit *admit; /* in the zone; same address in every worker */
} ngx_http_rein_zone_t;

typedef struct {
  ngx_array_t zones; /* ngx_http_rein_zone_t * */
} ngx_http_rein_main_conf_t;

typedef struct {
  ngx_http_rein_zone_t *zone; /* NULL: off */
  ngx_str_t attempt_header;
  ngx_uint_t shed_status;
  ngx_uint_t rate_limit_status;
  ngx_flag_t ratelimit_headers;
  ngx_flag_t dont_retry_header;
} ngx_http_rein_loc_conf_t;

/* One request's ticket. Lives in the request pool; found again through the
 * pool cleanup after an internal redirect cleared the module contexts. */
typedef struct {
  rein_admit_ticket ticket;
  rein_admit_decision d;
  ngx_http_rein_zone_t *zone;
  ngx_http_request_t *r;
  ngx_queue_t waiting; /* in ngx_http_rein_waiters while queued */
  unsigned queued : 1;
  unsigned admitted : 1;
  unsigned done : 1; /* rejected, released or cancelled */
} ngx_http_rein_ctx_t;

static ngx_int_t ngx_http_rein_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_rein_init_process(ngx_cycle_t *cycle);
static void *ngx_http_rein_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_rein_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_rein_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                          void *child);
static char *ngx_http_rein_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf);
static char *ngx_http_rein_admit(ngx_conf_t *cf, ngx_command_t *cmd,
                                 void *conf);
static char *ngx_http_rein_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
                                   void *conf);
static char *ngx_http_rein_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf);

static ngx_command_t ngx_http_rein_commands[] = {
    {ngx_string("rein_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
     ngx_http_rein_zone, 0, 0, NULL},
    {ngx_string("rein_admit"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_rein_admit, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL},
    {ngx_string("rein_attempt_header"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_rein_loc_conf_t, attempt_header), NULL},
    {ngx_string("rein_shed_status"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_rein_status, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_rein_loc_conf_t, shed_status), NULL},
    {ngx_string("rein_rate_limit_status"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_TAKE1,
     ngx_http_rein_status, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_rein_loc_conf_t, rate_limit_status), NULL},
    {ngx_string("rein_ratelimit_headers"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_rein_loc_conf_t, ratelimit_headers), NULL},
    {ngx_string("rein_dont_retry_header"),
     NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF |
         NGX_CONF_FLAG,
     ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET,
     offsetof(ngx_http_rein_loc_conf_t, dont_retry_header), NULL},
    {ngx_string("rein_metrics"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
     ngx_http_rein_metrics, 0, 0, NULL},
    ngx_null_command};

static ngx_http_module_t ngx_http_rein_module_ctx = {
    NULL,                           /* preconfiguration */
    ngx_http_rein_init,             /* postconfiguration */
    ngx_http_rein_create_main_conf, /* create main configuration */
    NULL,                           /* init main configuration */
    NULL,                           /* create server configuration */
    NULL,                           /* merge server configuration */
    ngx_http_rein_create_loc_conf,  /* create location configuration */
    ngx_http_rein_merge_loc_conf    /* merge location configuration */
};

ngx_module_t ngx_http_rein_module = {NGX_MODULE_V1,
                                     &ngx_http_rein_module_ctx,
                                     ngx_http_rein_commands,
                                     NGX_HTTP_MODULE,
                                     NULL,                       /* master */
                                     NULL,                       /* module */
                                     ngx_http_rein_init_process, /* process */
                                     NULL,                       /* thread */
                                     NULL,                       /* thread */
                                     NULL,                       /* process */
                                     NULL,                       /* master */
                                     NGX_MODULE_V1_PADDING};

/* This worker's queued requests. A slot given back here may have been
 * handed to one of them: they are polled at once instead of at their next
 * timer tick (a slot handed to another worker's request waits for that
 * worker's tick, at most `poll=`). Per process: each worker has its own. */
static ngx_queue_t ngx_http_rein_waiters;
#define REIN_NGX_WAKE_MAX 8

static int64_t ngx_http_rein_now(void) {
  return rein_clock_now(NULL); /* CLOCK_MONOTONIC: the same in every worker */
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static void *ngx_http_rein_create_main_conf(ngx_conf_t *cf) {
  ngx_http_rein_main_conf_t *mcf = ngx_pcalloc(cf->pool, sizeof(*mcf));
  if (mcf == NULL) return NULL;
  if (ngx_array_init(&mcf->zones, cf->pool, 4,
                     sizeof(ngx_http_rein_zone_t *)) != NGX_OK)
    return NULL;
  return mcf;
}

static void *ngx_http_rein_create_loc_conf(ngx_conf_t *cf) {
  ngx_http_rein_loc_conf_t *conf = ngx_pcalloc(cf->pool, sizeof(*conf));
  if (conf == NULL) return NULL;
  conf->zone = NGX_CONF_UNSET_PTR;
  conf->shed_status = NGX_CONF_UNSET_UINT;
  conf->rate_limit_status = NGX_CONF_UNSET_UINT;
  conf->ratelimit_headers = NGX_CONF_UNSET;
  conf->dont_retry_header = NGX_CONF_UNSET;
  return conf;
}

static char *ngx_http_rein_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                          void *child) {
  ngx_http_rein_loc_conf_t *prev = parent, *conf = child;
  ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);
  ngx_conf_merge_str_value(conf->attempt_header, prev->attempt_header,
                           REIN_HEADER_ATTEMPT);
  ngx_conf_merge_uint_value(conf->shed_status, prev->shed_status,
                            NGX_HTTP_SERVICE_UNAVAILABLE);
  ngx_conf_merge_uint_value(conf->rate_limit_status, prev->rate_limit_status,
                            NGX_HTTP_TOO_MANY_REQUESTS);
  ngx_conf_merge_value(conf->ratelimit_headers, prev->ratelimit_headers, 1);
  ngx_conf_merge_value(conf->dont_retry_header, prev->dont_retry_header, 1);
  return NGX_CONF_OK;
}

/* "key=value" -> value when `arg` starts with `key=`. */
static ngx_int_t ngx_http_rein_param(ngx_str_t *arg, const char *key,
                                     ngx_str_t *value) {
  size_t n = ngx_strlen(key);
  if (arg->len <= n || ngx_strncmp(arg->data, key, n) != 0 ||
      arg->data[n] != '=')
    return 0;
  value->data = arg->data + n + 1;
  value->len = arg->len - n - 1;
  return 1;
}

static char *ngx_http_rein_bad(ngx_conf_t *cf, ngx_str_t *zone,
                               ngx_str_t *arg, const char *expected) {
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                     "rein_zone \"%V\": invalid parameter \"%V\": expected %s",
                     zone, arg, expected);
  return NGX_CONF_ERROR;
}

/* An nginx time ("5ms", "1s", "2m") in nanoseconds; -1 when malformed. */
static int64_t ngx_http_rein_time(ngx_str_t *v) {
  ngx_int_t ms = ngx_parse_time(v, 0);
  if (ms == NGX_ERROR) return -1;
  return (int64_t)ms * REIN_NS_PER_MS;
}

static char *ngx_http_rein_zone(ngx_conf_t *cf, ngx_command_t *cmd,
                                void *conf) {
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_rein_module);
  ngx_str_t *args = cf->args->elts;
  ngx_str_t *name = &args[1];

  ngx_http_rein_zone_t **zp = mcf->zones.elts;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
    if (zp[i]->name.len == name->len &&
        ngx_strncmp(zp[i]->name.data, name->data, name->len) == 0) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "rein_zone \"%V\" is duplicate", name);
      return NGX_CONF_ERROR;
    }
  }
  ngx_http_rein_zone_t *z = ngx_pcalloc(cf->pool, sizeof(*z));
  if (z == NULL) return NGX_CONF_ERROR;
  z->name = *name;
  if (name->len == 0 || name->len >= sizeof z->name_buf) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rein_zone: the zone name must be 1 to 64 characters "
                       "of [A-Za-z0-9_.:-], got \"%V\"",
                       name);
    return NGX_CONF_ERROR;
  }
  ngx_memcpy(z->name_buf, name->data, name->len);
  rein_admit_config *c = &z->cfg;
  rein_admit_config_default(c);
  /* A proxy's default is dont_retry=overloaded, not rein_admit's retries:
   * many callers behind a proxy send no attempt number (every request
   * looks like a first attempt, so "retries" would never mark one), and a
   * first attempt shed while the zone is overloaded that comes back after
   * Retry-After lands in the same overload (docs/nginx.md, "Signals"). */
  c->dont_retry = REIN_ADMIT_DONT_RETRY_OVERLOADED;
  c->name = z->name_buf;
  z->poll = 1;
  bool rq_set = false, lmin_set = false, lmax_set = false;

  for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
    ngx_str_t *a = &args[i], v;
    ngx_int_t n;
    int64_t t;
    if (a->len == 8 && ngx_strncmp(a->data, "adaptive", 8) == 0) {
      c->adaptive = true;
    } else if (ngx_http_rein_param(a, "limit", &v)) {
      n = ngx_atoi(v.data, v.len);
      if (n < 1 || n > 1048576)
        return ngx_http_rein_bad(cf, name, a, "limit=N, N in [1, 1048576]");
      c->limit = (uint32_t)n;
    } else if (ngx_http_rein_param(a, "limit_min", &v)) {
      n = ngx_atoi(v.data, v.len);
      if (n < 1 || n > 1048576)
        return ngx_http_rein_bad(cf, name, a,
                                 "limit_min=N, N in [1, 1048576]");
      c->limit_min = (uint32_t)n;
      lmin_set = true;
    } else if (ngx_http_rein_param(a, "limit_max", &v)) {
      n = ngx_atoi(v.data, v.len);
      if (n < 1 || n > 1048576)
        return ngx_http_rein_bad(cf, name, a,
                                 "limit_max=N, N in [1, 1048576]");
      c->limit_max = (uint32_t)n;
      lmax_set = true;
    } else if (ngx_http_rein_param(a, "queue", &v)) {
      n = ngx_atoi(v.data, v.len);
      if (n < 0 || n > 1048576)
        return ngx_http_rein_bad(cf, name, a, "queue=N, N in [0, 1048576]");
      c->queue_max = (uint32_t)n;
    } else if (ngx_http_rein_param(a, "retry_queue", &v)) {
      n = ngx_atoi(v.data, v.len);
      if (n < 0 || n > 1048576)
        return ngx_http_rein_bad(cf, name, a,
                                 "retry_queue=N, N in [0, queue]");
      c->retry_queue_max = (uint32_t)n;
      rq_set = true;
    } else if (ngx_http_rein_param(a, "target", &v)) {
      if ((t = ngx_http_rein_time(&v)) <= 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "target=TIME, e.g. target=5ms, in (0, 60s]");
      c->target_ns = t;
    } else if (ngx_http_rein_param(a, "interval", &v)) {
      if ((t = ngx_http_rein_time(&v)) <= 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "interval=TIME, e.g. interval=100ms, in "
                                 "[target, 600s]");
      c->interval_ns = t;
    } else if (ngx_http_rein_param(a, "max_wait", &v)) {
      if ((t = ngx_http_rein_time(&v)) <= 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "max_wait=TIME, e.g. max_wait=100ms, in "
                                 "[target, 600s]");
      c->max_wait_ns = t;
    } else if (ngx_http_rein_param(a, "aimd_latency", &v)) {
      if ((t = ngx_http_rein_time(&v)) <= 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "aimd_latency=TIME, e.g. aimd_latency=500ms");
      c->aimd_latency_ns = t;
    } else if (ngx_http_rein_param(a, "retry_after_min", &v)) {
      if ((t = ngx_http_rein_time(&v)) < 0)
        return ngx_http_rein_bad(cf, name, a, "retry_after_min=TIME, e.g. 1s");
      c->retry_after_min_ns = t;
    } else if (ngx_http_rein_param(a, "retry_after_max", &v)) {
      if ((t = ngx_http_rein_time(&v)) < 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "retry_after_max=TIME, e.g. 60s, at most 6h");
      c->retry_after_max_ns = t;
    } else if (ngx_http_rein_param(a, "rate_window", &v)) {
      if ((t = ngx_http_rein_time(&v)) <= 0)
        return ngx_http_rein_bad(cf, name, a,
                                 "rate_window=TIME in [1ms, 60s]");
      c->rate_window_ns = t;
    } else if (ngx_http_rein_param(a, "poll", &v)) {
      ngx_int_t ms = ngx_parse_time(&v, 0);
      if (ms == NGX_ERROR || ms < 1 || ms > 1000)
        return ngx_http_rein_bad(cf, name, a, "poll=TIME in [1ms, 1s]");
      z->poll = (ngx_msec_t)ms;
    } else if (ngx_http_rein_param(a, "lifo", &v)) {
      if (v.len == 2 && ngx_strncmp(v.data, "on", 2) == 0)
        c->lifo_when_overloaded = true;
      else if (v.len == 3 && ngx_strncmp(v.data, "off", 3) == 0)
        c->lifo_when_overloaded = false;
      else
        return ngx_http_rein_bad(cf, name, a, "lifo=on or lifo=off");
    } else if (ngx_http_rein_param(a, "dont_retry", &v)) {
      if (v.len == 5 && ngx_strncmp(v.data, "never", 5) == 0)
        c->dont_retry = REIN_ADMIT_DONT_RETRY_NEVER;
      else if (v.len == 7 && ngx_strncmp(v.data, "retries", 7) == 0)
        c->dont_retry = REIN_ADMIT_DONT_RETRY_RETRIES;
      else if (v.len == 10 && ngx_strncmp(v.data, "overloaded", 10) == 0)
        c->dont_retry = REIN_ADMIT_DONT_RETRY_OVERLOADED;
      else
        return ngx_http_rein_bad(cf, name, a,
                                 "dont_retry=never, retries or overloaded");
    } else if (ngx_http_rein_param(a, "retry_after_spread", &v)) {
      /* A decimal with up to two places: 0, 0.5, 1.25 ... */
      ngx_int_t x = ngx_atofp(v.data, v.len, 2);
      if (x == NGX_ERROR || x > 400)
        return ngx_http_rein_bad(cf, name, a,
                                 "retry_after_spread=X, X in [0, 4]");
      c->retry_after_spread = (double)x / 100.0;
    } else if (ngx_http_rein_param(a, "rate", &v)) {
      /* rate=Q/Ws: Q requests per W seconds, e.g. rate=100/1s */
      u_char *slash = ngx_strlchr(v.data, v.data + v.len, '/');
      if (slash == NULL)
        return ngx_http_rein_bad(cf, name, a,
                                 "rate=QUOTA/WINDOW, e.g. rate=100/1s");
      n = ngx_atoi(v.data, (size_t)(slash - v.data));
      ngx_str_t w = {(size_t)(v.data + v.len - slash - 1), slash + 1};
      ngx_int_t ws = ngx_parse_time(&w, 1);
      if (n < 1 || n > 1000000000 || ws == NGX_ERROR || ws < 1 ||
          ws > 86400)
        return ngx_http_rein_bad(cf, name, a,
                                 "rate=QUOTA/WINDOW, QUOTA in [1, 1e9], "
                                 "WINDOW whole seconds in [1s, 1d]");
      c->rl_quota = (uint32_t)n;
      c->rl_window_ns = (int64_t)ws * REIN_NS_PER_S;
    } else if (ngx_http_rein_param(a, "policy", &v)) {
      if (v.len == 0 || v.len >= sizeof z->policy_buf)
        return ngx_http_rein_bad(cf, name, a,
                                 "policy=NAME, 1 to 32 of [A-Za-z0-9_.:-]");
      ngx_memcpy(z->policy_buf, v.data, v.len);
      c->rl_policy = z->policy_buf;
    } else {
      return ngx_http_rein_bad(
          cf, name, a,
          "one of limit=, adaptive, limit_min=, limit_max=, aimd_latency=, "
          "queue=, retry_queue=, target=, interval=, max_wait=, lifo=, "
          "retry_after_min=, retry_after_max=, retry_after_spread=, "
          "rate_window=, rate=, policy=, dont_retry=, poll=");
    }
  }
  /* Defaults follow the values given; values given are checked as given
   * (rein_admit_new below says which does not fit). */
  if (!rq_set && c->retry_queue_max > c->queue_max)
    c->retry_queue_max = c->queue_max;
  if (!lmin_set && c->limit_min > c->limit) c->limit_min = c->limit;
  if (!lmax_set && c->limit_max < c->limit) c->limit_max = c->limit;

  /* rein_admit's own validation, on a throwaway private admit: the message
   * names the field. */
  rein_errbuf err;
  ngx_memzero(&err, sizeof err);
  c->err = &err;
  rein_admit *probe = NULL;
  rein_status st = rein_admit_new(c, &probe);
  c->err = NULL;
  if (st != REIN_OK) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "rein_zone \"%V\": %s", name,
                       err.msg[0] ? err.msg : rein_strerror(st));
    return NGX_CONF_ERROR;
  }
  rein_admit_free(probe);

  /* Zone: the admit block plus the slab allocator's own pages. Not
   * rounded: two configurations get zones of equal size exactly when their
   * ticket tables are equal, so a reload keeps a zone (same size) only when
   * the new settings fit it, and gets a new zone otherwise. */
  size_t need = rein_admit_shared_size(c);
  size_t size = need + need / 8 + 16 * ngx_pagesize;
  z->shm_zone = ngx_shared_memory_add(cf, name, size, &ngx_http_rein_module);
  if (z->shm_zone == NULL) return NGX_CONF_ERROR;
  if (z->shm_zone->data) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rein_zone \"%V\": a shared memory zone of this name "
                       "is already used by another directive",
                       name);
    return NGX_CONF_ERROR;
  }
  z->shm_zone->data = z;
  z->shm_zone->init = NULL; /* set in postconfiguration */
  ngx_http_rein_zone_t **slot = ngx_array_push(&mcf->zones);
  if (slot == NULL) return NGX_CONF_ERROR;
  *slot = z;
  return NGX_CONF_OK;
}

static ngx_int_t ngx_http_rein_init_zone(ngx_shm_zone_t *shm_zone,
                                         void *data) {
  ngx_http_rein_zone_t *z = shm_zone->data, *old = data;
  rein_errbuf err;
  ngx_memzero(&err, sizeof err);
  z->cfg.err = &err;
  if (old) {
    /* Reload, same name and size: keep the state, take the new settings. */
    z->admit = old->admit;
    rein_status st = rein_admit_shared_reconfigure(z->admit, &z->cfg,
                                                   ngx_http_rein_now());
    z->cfg.err = NULL;
    if (st != REIN_OK) {
      ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                    "rein_zone \"%V\": cannot keep the zone: %s", &z->name,
                    err.msg);
      return NGX_ERROR;
    }
    return NGX_OK;
  }
  ngx_slab_pool_t *shpool = (ngx_slab_pool_t *)shm_zone->shm.addr;
  if (shm_zone->shm.exists) {
    z->admit = shpool->data;
    z->cfg.err = NULL;
    return NGX_OK;
  }
  size_t need = rein_admit_shared_size(&z->cfg);
  void *mem = ngx_slab_alloc(shpool, need);
  if (mem == NULL) {
    z->cfg.err = NULL;
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                  "rein_zone \"%V\": no room for %uz bytes in the zone",
                  &z->name, need);
    return NGX_ERROR;
  }
  rein_admit *a = NULL;
  rein_status st = rein_admit_new_shared(&z->cfg, mem, need, &a);
  z->cfg.err = NULL;
  if (st != REIN_OK) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "rein_zone \"%V\": %s",
                  &z->name, err.msg);
    return NGX_ERROR;
  }
  shpool->data = a;
  z->admit = a;
  return NGX_OK;
}

static ngx_http_rein_zone_t *ngx_http_rein_find_zone(ngx_conf_t *cf,
                                                     ngx_str_t *name) {
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_rein_module);
  ngx_http_rein_zone_t **zp = mcf->zones.elts;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++)
    if (zp[i]->name.len == name->len &&
        ngx_strncmp(zp[i]->name.data, name->data, name->len) == 0)
      return zp[i];
  return NULL;
}

static char *ngx_http_rein_admit(ngx_conf_t *cf, ngx_command_t *cmd,
                                 void *conf) {
  ngx_http_rein_loc_conf_t *lcf = conf;
  ngx_str_t *args = cf->args->elts;
  if (lcf->zone != NGX_CONF_UNSET_PTR) return "is duplicate";
  if (args[1].len == 3 && ngx_strncmp(args[1].data, "off", 3) == 0) {
    lcf->zone = NULL;
    return NGX_CONF_OK;
  }
  lcf->zone = ngx_http_rein_find_zone(cf, &args[1]);
  if (lcf->zone == NULL) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "rein_admit: unknown zone \"%V\": expected the name "
                       "of a rein_zone declared before it in the http block, "
                       "or off",
                       &args[1]);
    return NGX_CONF_ERROR;
  }
  return NGX_CONF_OK;
}

static char *ngx_http_rein_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf) {
  ngx_uint_t *field = (ngx_uint_t *)((char *)conf + cmd->offset);
  ngx_str_t *args = cf->args->elts;
  if (*field != NGX_CONF_UNSET_UINT) return "is duplicate";
  ngx_int_t n = ngx_atoi(args[1].data, args[1].len);
  if (n < 400 || n > 599) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "%V: invalid status \"%V\": expected an HTTP status "
                       "in [400, 599] (e.g. 503, 429)",
                       &cmd->name, &args[1]);
    return NGX_CONF_ERROR;
  }
  *field = (ngx_uint_t)n;
  return NGX_CONF_OK;
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                 */
/* ------------------------------------------------------------------------ */

static void ngx_http_rein_cleanup(void *data);

/* The ctx of this request, also after an internal redirect (which zeroes
 * the module contexts but keeps the pool and its cleanups). */
static ngx_http_rein_ctx_t *ngx_http_rein_get_ctx(ngx_http_request_t *r) {
  ngx_http_rein_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_rein_module);
  if (ctx) return ctx;
  for (ngx_pool_cleanup_t *c = r->pool->cleanup; c; c = c->next) {
    if (c->handler == ngx_http_rein_cleanup) {
      ctx = c->data;
      ngx_http_set_ctx(r, ctx, ngx_http_rein_module);
      return ctx;
    }
  }
  return NULL;
}

static int ngx_http_rein_key_is(ngx_table_elt_t *h, const char *name,
                                size_t len) {
  return h->key.len == len &&
         ngx_strncasecmp(h->key.data, (u_char *)name, len) == 0;
}

/* The attempt number: the configured header (Rein-Attempt by default; 1 =
 * first attempt), x-envoy-attempt-count (the same count), or
 * grpc-previous-rpc-attempts (attempts before this one); the largest. */
static uint32_t ngx_http_rein_attempt(ngx_http_request_t *r,
                                      ngx_http_rein_loc_conf_t *lcf) {
  uint32_t best = 1;
  ngx_list_part_t *part = &r->headers_in.headers.part;
  ngx_table_elt_t *h = part->elts;
  for (ngx_uint_t i = 0;; i++) {
    if (i >= part->nelts) {
      if (part->next == NULL) break;
      part = part->next;
      h = part->elts;
      i = 0;
      if (part->nelts == 0) continue;
    }
    uint32_t n = 0;
    if (ngx_http_rein_key_is(&h[i], (char *)lcf->attempt_header.data,
                             lcf->attempt_header.len) ||
        ngx_http_rein_key_is(&h[i], "x-envoy-attempt-count", 21)) {
      n = rein_admit_parse_attempt((char *)h[i].value.data, h[i].value.len);
    } else if (ngx_http_rein_key_is(&h[i], "grpc-previous-rpc-attempts", 26)) {
      ngx_int_t prev = ngx_atoi(h[i].value.data, h[i].value.len);
      n = prev > 0 ? (uint32_t)(prev >= 999 ? 1000 : prev + 1) : 1;
    }
    if (n > best) best = n;
  }
  return best;
}

static ngx_int_t ngx_http_rein_add_header(ngx_http_request_t *r,
                                          const char *name,
                                          const char *value) {
  ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);
  if (h == NULL) return NGX_ERROR;
  size_t nl = ngx_strlen(name), vl = ngx_strlen(value);
  u_char *p = ngx_pnalloc(r->pool, nl + vl);
  if (p == NULL) return NGX_ERROR;
  ngx_memcpy(p, name, nl);
  ngx_memcpy(p + nl, value, vl);
  h->hash = 1;
  h->key.data = p;
  h->key.len = nl;
  h->value.data = p + nl;
  h->value.len = vl;
  return NGX_OK;
}

/* The signals of a decision as response headers (rein_admit_headers),
 * filtered by the location's switches. */
static ngx_int_t ngx_http_rein_signal_headers(ngx_http_request_t *r,
                                              ngx_http_rein_loc_conf_t *lcf,
                                              rein_admit_response *resp) {
  for (size_t i = 0; i < resp->count; i++) {
    const char *n = resp->headers[i].name;
    if (!lcf->dont_retry_header && ngx_strcmp(n, REIN_HEADER_DONT_RETRY) == 0)
      continue;
    if (!lcf->ratelimit_headers &&
        (ngx_strcmp(n, REIN_HEADER_RATELIMIT) == 0 ||
         ngx_strcmp(n, REIN_HEADER_RATELIMIT_POLICY) == 0))
      continue;
    if (ngx_http_rein_add_header(r, n, resp->headers[i].value) != NGX_OK)
      return NGX_ERROR;
  }
  return NGX_OK;
}

/* The shed answer: status, signal headers, an RFC 9457 problem body (a
 * fixed template: every value in it is a number or a reason name). */
static ngx_int_t ngx_http_rein_shed(ngx_http_request_t *r,
                                    ngx_http_rein_loc_conf_t *lcf,
                                    ngx_http_rein_ctx_t *ctx) {
  rein_admit_response resp;
  if (rein_admit_headers(&ctx->d, -1, &resp) != REIN_OK)
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  bool limited = ctx->d.reason == REIN_ADMIT_R_RATE_LIMITED;
  ngx_uint_t status = limited ? lcf->rate_limit_status : lcf->shed_status;
  ngx_http_discard_request_body(r);
  r->headers_out.status = status;
  if (ngx_http_rein_signal_headers(r, lcf, &resp) != NGX_OK)
    return NGX_HTTP_INTERNAL_SERVER_ERROR;

  long long ra = (long long)((ctx->d.retry_after_ns + REIN_NS_PER_S - 1) /
                             REIN_NS_PER_S);
  u_char *body = ngx_pnalloc(r->pool, 512);
  if (body == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  u_char *last = ngx_snprintf(
      body, 512,
      "{\"type\":\"urn:rein:problem:%s\",\"title\":\"%s\",\"status\":%ui,"
      "\"detail\":\"shed (%s) at attempt %uD; retry after %L s\","
      "\"reason\":\"%s\",\"retry_after\":%L}\n",
      limited ? "rate-limited" : "overloaded",
      limited ? "Rate limit exceeded" : "Service overloaded", status,
      rein_admit_reason_name(ctx->d.reason), ctx->d.attempt, ra,
      rein_admit_reason_name(ctx->d.reason), ra);
  ngx_str_set(&r->headers_out.content_type, "application/problem+json");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  r->headers_out.content_type_lowcase = NULL;
  r->headers_out.content_length_n = last - body;
  ngx_int_t rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_buf_t *b = ngx_calloc_buf(r->pool);
  if (b == NULL) return NGX_ERROR;
  b->pos = body;
  b->last = last;
  b->memory = 1;
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;
  ngx_chain_t out = {b, NULL};
  return ngx_http_output_filter(r, &out);
}

static void ngx_http_rein_wait(ngx_http_request_t *r);

static ngx_int_t ngx_http_rein_handler(ngx_http_request_t *r) {
  if (r != r->main) return NGX_DECLINED;
  ngx_http_rein_loc_conf_t *lcf =
      ngx_http_get_module_loc_conf(r, ngx_http_rein_module);
  ngx_http_rein_ctx_t *ctx = ngx_http_rein_get_ctx(r);
  if (ctx == NULL && (lcf->zone == NULL || lcf->zone->admit == NULL))
    return NGX_DECLINED;

  rein_admit_result res;
  int64_t now = ngx_http_rein_now();
  if (ctx == NULL) {
    ctx = ngx_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    ctx->zone = lcf->zone;
    ctx->r = r;
    ngx_http_set_ctx(r, ctx, ngx_http_rein_module);
    res = rein_admit_try(ctx->zone->admit, &ctx->ticket,
                         ngx_http_rein_attempt(r, lcf), now, &ctx->d);
    cln->handler = ngx_http_rein_cleanup; /* after try: the ticket is set */
    cln->data = ctx;
  } else if (ctx->queued) {
    res = rein_admit_poll(ctx->zone->admit, &ctx->ticket, now, &ctx->d);
  } else if (ctx->admitted) {
    return NGX_DECLINED; /* phases run again (redirect): one ticket each */
  } else {
    return ngx_http_rein_shed(r, lcf, ctx); /* not reached: shed once */
  }

  switch (res) {
  case REIN_ADMIT_ADMITTED: {
    if (ctx->queued) {
      ngx_queue_remove(&ctx->waiting);
    }
    ctx->queued = 0;
    ctx->admitted = 1;
    if (ctx->d.rl_quota > 0 && lcf->ratelimit_headers) {
      rein_admit_response resp;
      if (rein_admit_headers(&ctx->d, -1, &resp) == REIN_OK)
        (void)ngx_http_rein_signal_headers(r, lcf, &resp);
    }
    return NGX_DECLINED;
  }
  case REIN_ADMIT_QUEUED:
    if (!ctx->queued) {
      ngx_queue_insert_tail(&ngx_http_rein_waiters, &ctx->waiting);
    }
    ctx->queued = 1;
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_rein_wait;
    r->connection->write->delayed = 1;
    ngx_add_timer(r->connection->write, ctx->zone->poll);
    return NGX_AGAIN;
  case REIN_ADMIT_REJECTED:
  default:
    if (ctx->queued) {
      ngx_queue_remove(&ctx->waiting);
    }
    ctx->queued = 0;
    ctx->done = 1;
    ngx_http_finalize_request(r, ngx_http_rein_shed(r, lcf, ctx));
    return NGX_DONE;
  }
}

/* The queued request's write handler: woken by its poll timer (or by the
 * socket turning writable, which is ignored while the timer is pending). */
static void ngx_http_rein_wait(ngx_http_request_t *r) {
  ngx_event_t *wev = r->connection->write;
  if (wev->delayed) {
    if (ngx_handle_write_event(wev, 0) != NGX_OK)
      ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    return;
  }
  r->read_event_handler = ngx_http_block_reading;
  r->write_event_handler = ngx_http_core_run_phases;
  ngx_http_core_run_phases(r); /* back into ngx_http_rein_handler */
}

/* The upstream's time to response header (all tries), the latency sample
 * of the adaptive limit; -1 without an upstream (time since admission). */
static int64_t ngx_http_rein_latency(ngx_http_request_t *r) {
  if (r->upstream_states == NULL || r->upstream_states->nelts == 0) return -1;
  ngx_http_upstream_state_t *st = r->upstream_states->elts;
  int64_t ms = 0;
  bool any = false;
  for (ngx_uint_t i = 0; i < r->upstream_states->nelts; i++) {
    if (st[i].peer == NULL) continue;
    ngx_msec_t v = st[i].header_time != (ngx_msec_t)-1 ? st[i].header_time
                                                       : st[i].response_time;
    if (v == (ngx_msec_t)-1) continue;
    ms += (int64_t)v;
    any = true;
  }
  return any ? ms * REIN_NS_PER_MS : -1;
}

/* The request is over (or its client left while queued): give the ticket
 * back. */
static void ngx_http_rein_cleanup(void *data) {
  ngx_http_rein_ctx_t *ctx = data;
  if (ctx->done) return;
  ctx->done = 1;
  rein_admit *a = ctx->zone->admit;
  int64_t now = ngx_http_rein_now();
  if (ctx->queued) {
    ngx_queue_remove(&ctx->waiting);
    rein_admit_cancel(a, &ctx->ticket, now);
    return;
  }
  if (!ctx->admitted) return;
  (void)rein_admit_release(a, &ctx->ticket, now,
                           ngx_http_rein_latency(ctx->r));
  /* Poll this worker's oldest waiters now (see ngx_http_rein_waiters). */
  int k = 0;
  for (ngx_queue_t *q = ngx_queue_head(&ngx_http_rein_waiters);
       q != ngx_queue_sentinel(&ngx_http_rein_waiters) &&
       k < REIN_NGX_WAKE_MAX;
       q = ngx_queue_next(q), k++) {
    ngx_http_rein_ctx_t *w = ngx_queue_data(q, ngx_http_rein_ctx_t, waiting);
    ngx_event_t *wev = w->r->connection->write;
    if (!wev->delayed || wev->posted) continue;
    if (wev->timer_set) ngx_del_timer(wev);
    wev->delayed = 0;
    ngx_post_event(wev, &ngx_posted_events);
  }
}

/* ------------------------------------------------------------------------ */
/* Metrics                                                                  */
/* ------------------------------------------------------------------------ */

static ngx_int_t ngx_http_rein_metrics_handler(ngx_http_request_t *r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD)))
    return NGX_HTTP_NOT_ALLOWED;
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_get_module_main_conf(r, ngx_http_rein_module);
  ngx_http_rein_zone_t **zp = mcf->zones.elts;
  int64_t now = ngx_http_rein_now();
  size_t total = 0;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
    size_t need = 0;
    if (zp[i]->admit)
      (void)rein_admit_write_prometheus(zp[i]->admit, now, NULL, 0, &need,
                                        i == 0);
    total += need + 256; /* counters may grow between the two calls */
  }
  u_char *buf = ngx_pnalloc(r->pool, total + 1);
  if (buf == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  size_t len = 0;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
    size_t need = 0;
    if (!zp[i]->admit) continue;
    if (rein_admit_write_prometheus(zp[i]->admit, now, (char *)buf + len,
                                    total + 1 - len, &need,
                                    i == 0) != REIN_OK)
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    len += need;
  }
  r->headers_out.status = NGX_HTTP_OK;
  ngx_str_set(&r->headers_out.content_type,
              "text/plain; version=0.0.4; charset=utf-8");
  r->headers_out.content_type_len = r->headers_out.content_type.len;
  r->headers_out.content_length_n = (off_t)len;
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_buf_t *b = ngx_calloc_buf(r->pool);
  if (b == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  b->pos = buf;
  b->last = buf + len;
  b->memory = len > 0; /* no zone: an empty last buffer, not a zero-size one */
  b->last_buf = 1;
  b->last_in_chain = 1;
  ngx_chain_t out = {b, NULL};
  return ngx_http_output_filter(r, &out);
}

static char *ngx_http_rein_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
                                   void *conf) {
  ngx_http_core_loc_conf_t *clcf =
      ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
  clcf->handler = ngx_http_rein_metrics_handler;
  return NGX_CONF_OK;
}

/* ------------------------------------------------------------------------ */
/* Set-up, and taking back the tickets of dead workers                      */
/* ------------------------------------------------------------------------ */

static ngx_int_t ngx_http_rein_init(ngx_conf_t *cf) {
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_rein_module);
  ngx_http_rein_zone_t **zp = mcf->zones.elts;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++)
    zp[i]->shm_zone->init = ngx_http_rein_init_zone;
  ngx_http_core_main_conf_t *cmcf =
      ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
  ngx_http_handler_pt *h =
      ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
  if (h == NULL) return NGX_ERROR;
  *h = ngx_http_rein_handler;
  return NGX_OK;
}

static ngx_event_t ngx_http_rein_reclaim_ev;
static ngx_connection_t ngx_http_rein_dummy;

static void ngx_http_rein_reclaim(ngx_cycle_t *cycle) {
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rein_module);
  if (mcf == NULL) return;
  ngx_http_rein_zone_t **zp = mcf->zones.elts;
  for (ngx_uint_t i = 0; i < mcf->zones.nelts; i++) {
    uint32_t n = 0;
    if (zp[i]->admit &&
        rein_admit_reclaim_dead(zp[i]->admit, ngx_http_rein_now(), &n) ==
            REIN_OK &&
        n > 0)
      ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                    "rein_zone \"%V\": took back %uD tickets of exited "
                    "workers",
                    &zp[i]->name, n);
  }
}

static void ngx_http_rein_reclaim_handler(ngx_event_t *ev) {
  ngx_http_rein_reclaim((ngx_cycle_t *)ngx_cycle);
  if (!ngx_exiting && !ngx_quit && !ngx_terminate)
    ngx_add_timer(ev, REIN_NGX_RECLAIM_MS);
}

static ngx_int_t ngx_http_rein_init_process(ngx_cycle_t *cycle) {
  ngx_http_rein_main_conf_t *mcf =
      ngx_http_cycle_get_module_main_conf(cycle, ngx_http_rein_module);
  ngx_queue_init(&ngx_http_rein_waiters);
  if (mcf == NULL || mcf->zones.nelts == 0) return NGX_OK;
  ngx_http_rein_reclaim(cycle);
  ngx_http_rein_dummy.fd = (ngx_socket_t)-1;
  ngx_http_rein_reclaim_ev.handler = ngx_http_rein_reclaim_handler;
  ngx_http_rein_reclaim_ev.log = cycle->log;
  ngx_http_rein_reclaim_ev.data = &ngx_http_rein_dummy;
  ngx_http_rein_reclaim_ev.cancelable = 1;
  ngx_add_timer(&ngx_http_rein_reclaim_ev, REIN_NGX_RECLAIM_MS);
  return NGX_OK;
}
