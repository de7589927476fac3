/* SPDX-License-Identifier: Apache-2.0 */
/*
 * endpoints.c: which replica each attempt of a rein_curl call goes to.
 *
 * A client may be given several base URLs (config.endpoints) or a resolver
 * that returns them per call (config.resolve). The first attempt of a call
 * takes the next endpoint by round robin across the client's calls (or a
 * seeded random one); every later attempt, a retry or a hedge, prefers an
 * endpoint this call has not tried, and once all were tried, the one whose
 * last failure in this call is the oldest: Envoy's retry_host_predicate
 * previous_hosts, so a retry does not go back to the replica that just
 * failed while another is untried. An answer "in progress" (409 with
 * Retry-After to a keyed request) is polled where it came from, since that
 * replica holds the key. With config.endpoint_breakers each endpoint has a
 * rein_breaker of its own, asked before the endpoint is chosen: an open one
 * is passed over while another permits; when none does, the caller ends
 * the call as the policy's breaker would (rein_retry_refuse).
 *
 * The choice reads the call's small state and asks the breakers; it never
 * allocates. Swapping the origin uses libcurl's URL API only: the easy
 * handle's URL (CURLINFO_EFFECTIVE_URL, which before a transfer is the URL
 * set with CURLOPT_URL) is parsed once per call into a CURLU, duplicated
 * per endpoint on the first attempt sent there with its scheme, host and
 * port replaced, and handed to libcurl with CURLOPT_CURLU (path and query
 * untouched). Endpoint state that outlives a call (the breaker, the parts)
 * sits in a fixed table of slots filled once under a mutex and read
 * without one.
 */
#include "curl_internal.h"

#include <stdio.h>
#include <string.h>

static void count_n(rein_curl *c, int i, uint64_t n) {
  atomic_fetch_add_explicit(&c->n[i], n, memory_order_relaxed);
}

/* ------------------------------------------------------- parsing (URL API) */

/* `s` as a base URL: its parts and "scheme://host:port" (the default port
 * filled in), or why not in `why`. REIN_EINVAL, REIN_ENOMEM. */
static rein_status parse_base(const char *s, rein__curl_parts *out,
                              char origin[REIN_CURL_ENDPOINT_LEN], char *why,
                              size_t why_cap) {
  if (strlen(s) >= REIN_CURL_ENDPOINT_LEN) {
    snprintf(why, why_cap, "longer than %d characters",
             REIN_CURL_ENDPOINT_LEN - 1);
    return REIN_EINVAL;
  }
  CURLU *u = curl_url();
  if (!u) return REIN_ENOMEM;
  rein_status st = REIN_EINVAL;
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  char *extra = NULL;
  CURLUcode rc = curl_url_set(u, CURLUPART_URL, s, 0);
  if (rc != CURLUE_OK) {
    snprintf(why, why_cap, "%s", curl_url_strerror(rc));
    goto out;
  }
  static const struct {
    CURLUPart part;
    const char *name;
  } none[] = {{CURLUPART_QUERY, "a query"},
              {CURLUPART_FRAGMENT, "a fragment"},
              {CURLUPART_USER, "credentials"},
              {CURLUPART_PASSWORD, "credentials"}};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
    if (curl_url_get(u, none[i].part, &extra, 0) == CURLUE_OK) {
      curl_free(extra);
      extra = NULL;
      snprintf(why, why_cap, "has %s", none[i].name);
      goto out;
    }
  }
  if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && path[0] &&
      strcmp(path, "/") != 0) {
    snprintf(why, why_cap, "has a path (%s)", path);
    goto out;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    snprintf(why, why_cap, "no scheme, host or port");
    goto out;
  }
  if (strlen(scheme) >= sizeof out->scheme ||
      strlen(host) >= sizeof out->host || strlen(port) >= sizeof out->port) {
    snprintf(why, why_cap, "scheme, host or port too long");
    goto out;
  }
  snprintf(out->scheme, sizeof out->scheme, "%s", scheme);
  snprintf(out->host, sizeof out->host, "%s", host);
  snprintf(out->port, sizeof out->port, "%s", port);
  snprintf(origin, REIN_CURL_ENDPOINT_LEN, "%s://%s:%s", scheme, host, port);
  st = REIN_OK;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_url_cleanup(u);
  return st;
}

/* ------------------------------------------------------------------ slots */

static rein__curl_slot *slot_find(rein_curl *c, const char *origin) {
  uint32_t n = atomic_load_explicit(&c->ep_nslots, memory_order_acquire);
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(c->ep_slot[i].origin, origin) == 0) return &c->ep_slot[i];
  return NULL;
}

/* The slot of `origin`, filled now when new; *out NULL when all are taken. */
static rein_status slot_bind(rein_curl *c, const char *origin,
                             const rein__curl_parts *parts,
                             rein__curl_slot **out) {
  *out = slot_find(c, origin);
  if (*out) return REIN_OK;
  rein_status st = REIN_OK;
  pthread_mutex_lock(&c->ep_lock);
  uint32_t n = atomic_load_explicit(&c->ep_nslots, memory_order_relaxed);
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(c->ep_slot[i].origin, origin) == 0) *out = &c->ep_slot[i];
  if (!*out && n < REIN_CURL_ENDPOINT_SLOTS) {
    rein__curl_slot *s = &c->ep_slot[n];
    snprintf(s->origin, sizeof s->origin, "%s", origin);
    s->parts = *parts;
    s->breaker = NULL;
    if (c->ep_breakers) {
      rein_breaker_config bc = c->ep_breaker;
      bc.seed += n; /* endpoints re-probe apart */
      bc.alloc = c->alloc;
      bc.err = NULL;
      st = rein_breaker_new(&bc, &s->breaker);
    }
    if (st == REIN_OK) {
      atomic_store_explicit(&c->ep_nslots, n + 1, memory_order_release);
      *out = s;
    }
  }
  pthread_mutex_unlock(&c->ep_lock);
  return st;
}

/* ------------------------------------------------------------------ client */

rein_status rein__curl_eps_setup(rein_curl *c, const rein_curl_config *cfg,
                                 rein_errbuf *err) {
  c->cfg.endpoints = NULL;
  c->cfg.endpoint_count = 0;
  c->cfg.endpoint_breaker = NULL;
  if (cfg->endpoint_count > REIN_CURL_ENDPOINTS_MAX)
    return rein_errbuf_set(err, REIN_EINVAL,
                           "curl.endpoint_count: at most %d endpoints, got %zu",
                           REIN_CURL_ENDPOINTS_MAX, cfg->endpoint_count);
  if (cfg->endpoint_count && !cfg->endpoints)
    return rein_errbuf_set(err, REIN_EINVAL,
                           "curl.endpoints: NULL with endpoint_count %zu",
                           cfg->endpoint_count);
  if ((unsigned)cfg->endpoint_pick > REIN_CURL_PICK_RANDOM)
    return rein_errbuf_set(err, REIN_EINVAL,
                           "curl.endpoint_pick: must be ROUND_ROBIN or RANDOM");
  c->ep_breakers = cfg->endpoint_breakers;
  if (cfg->endpoint_breaker)
    c->ep_breaker = *cfg->endpoint_breaker;
  else
    rein_breaker_config_default(&c->ep_breaker);
  c->ep_breaker.err = NULL;
  if (c->ep_breakers) {
    /* validate now, even when the endpoints only come from the resolver */
    rein_breaker_config bc = c->ep_breaker;
    bc.alloc = c->alloc;
    bc.err = err;
    rein_breaker *probe = NULL;
    rein_status st = rein_breaker_new(&bc, &probe);
    if (st != REIN_OK) return st;
    rein_breaker_free(probe);
    c->cfg.endpoint_breaker = &c->ep_breaker;
  }
  if (pthread_mutex_init(&c->ep_lock, NULL) != 0) return REIN_ENOMEM;
  c->ep_lock_ready = true;
  size_t n = cfg->endpoint_count;
  if (n == 0) return REIN_OK;
  c->ep_urls = rein__curl_alloc(c->alloc, n * sizeof *c->ep_urls);
  c->ep_list = rein__curl_alloc(c->alloc, n * sizeof *c->ep_list);
  if (!c->ep_urls || !c->ep_list) return REIN_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *s = cfg->endpoints[i];
    rein__curl_parts parts;
    char origin[REIN_CURL_ENDPOINT_LEN], why[160];
    if (!s)
      return rein_errbuf_set(err, REIN_EINVAL,
                             "curl.endpoints[%zu]: NULL; expected a base URL "
                             "scheme://host[:port], e.g. "
                             "\"http://127.0.0.1:8080\"",
                             i);
    rein_status st = parse_base(s, &parts, origin, why, sizeof why);
    if (st == REIN_ENOMEM) return st;
    if (st != REIN_OK)
      return rein_errbuf_set(err, REIN_EINVAL,
                             "curl.endpoints[%zu]: \"%.80s\": %s; expected a "
                             "base URL scheme://host[:port] (no path, query "
                             "or credentials), e.g. \"http://127.0.0.1:8080\"",
                             i, s, why);
    if (slot_find(c, origin))
      return rein_errbuf_set(err, REIN_EINVAL,
                             "curl.endpoints[%zu]: \"%.80s\": the same "
                             "endpoint as an earlier one (%s); list each "
                             "once",
                             i, s, origin);
    rein__curl_slot *slot;
    if ((st = slot_bind(c, origin, &parts, &slot)) != REIN_OK) return st;
    snprintf(c->ep_urls[i], sizeof c->ep_urls[i], "%s", s);
    c->ep_list[i] = c->ep_urls[i];
  }
  c->cfg.endpoints = c->ep_list;
  c->cfg.endpoint_count = n;
  return REIN_OK;
}

void rein__curl_eps_teardown(rein_curl *c) {
  uint32_t n = atomic_load_explicit(&c->ep_nslots, memory_order_acquire);
  for (uint32_t i = 0; i < n; i++)
    rein_breaker_free(c->ep_slot[i].breaker);
  if (c->ep_lock_ready) pthread_mutex_destroy(&c->ep_lock);
  rein__curl_free(c->alloc, c->ep_urls);
  rein__curl_free(c->alloc, (void *)c->ep_list);
}

/* -------------------------------------------------------------------- call */

rein_status rein__curl_eps_init(rein_curl *c, rein__curl_eps *e, CURL *easy,
                                uint64_t seed) {
  memset(e, 0, sizeof *e);
  e->last = -1;
  e->stick = -1;
  const char *list[REIN_CURL_ENDPOINTS_MAX];
  size_t n = c->cfg.endpoint_count;
  char line[512];
  if (c->cfg.resolve) {
    int got = c->cfg.resolve(c->cfg.resolve_ctx, list, REIN_CURL_ENDPOINTS_MAX);
    if (got < 0) {
      rein__curl_log(c, "rein curl: the endpoint resolver failed "
                        "(config.resolve returned < 0); nothing was sent");
      return REIN_ENOTFOUND;
    }
    if (got > REIN_CURL_ENDPOINTS_MAX) {
      snprintf(line, sizeof line,
               "rein curl: the endpoint resolver returned %d endpoints, "
               "more than the %d it was given room for",
               got, REIN_CURL_ENDPOINTS_MAX);
      rein__curl_log(c, line);
      return REIN_EINVAL;
    }
    n = (size_t)got;
    for (size_t i = 0; i < n; i++) {
      rein__curl_parts parts;
      char origin[REIN_CURL_ENDPOINT_LEN], why[160];
      rein_status st =
          list[i] ? parse_base(list[i], &parts, origin, why, sizeof why)
                  : (snprintf(why, sizeof why, "NULL"), REIN_EINVAL);
      if (st == REIN_ENOMEM) return st;
      if (st != REIN_OK) {
        snprintf(
            line, sizeof line,
            "rein curl: resolved endpoint %zu \"%.80s\": %s; expected a "
            "base URL scheme://host[:port], e.g. \"http://127.0.0.1:8080\"",
            i, list[i] ? list[i] : "", why);
        rein__curl_log(c, line);
        return REIN_EINVAL;
      }
      rein__curl_slot *slot = NULL;
      if ((st = slot_bind(c, origin, &parts, &slot)) != REIN_OK) return st;
      e->slot[i] = slot;
      if (slot) {
        e->parts[i] = &slot->parts;
      } else {
        e->local[i] = parts;
        e->parts[i] = &e->local[i];
        count_n(c, RC_EP_UNSLOTTED, 1);
      }
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      e->slot[i] = &c->ep_slot[i]; /* configured ones: slots 0..n-1 */
      e->parts[i] = &c->ep_slot[i].parts;
    }
  }
  if (n == 0) return REIN_OK;
  for (size_t i = 0; i < n; i++)
    e->failed_ns[i] = INT64_MIN;
  char *url = NULL;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
  e->base = curl_url();
  if (!e->base) return REIN_ENOMEM;
  CURLUcode rc = curl_url_set(e->base, CURLUPART_URL, url ? url : "", 0);
  if (rc != CURLUE_OK) {
    snprintf(line, sizeof line,
             "rein curl: endpoints: the easy handle's URL \"%.200s\" is not "
             "a URL (%s); set CURLOPT_URL, e.g. \"http://any/charges\": its "
             "scheme, host and port are replaced by each attempt's endpoint",
             url ? url : "", curl_url_strerror(rc));
    rein__curl_log(c, line);
    curl_url_cleanup(e->base);
    e->base = NULL;
    return rc == CURLUE_OUT_OF_MEMORY ? REIN_ENOMEM : REIN_EINVAL;
  }
  e->n = (uint32_t)n;
  if (c->cfg.endpoint_pick == REIN_CURL_PICK_RANDOM) {
    uint64_t s = seed;
    if (!s) {
      uint64_t k =
          c->cfg.endpoint_seed ^
          atomic_fetch_add_explicit(&c->ep_rr, 1, memory_order_relaxed);
      s = rein_splitmix64(&k);
    }
    rein_rng_seed(&e->rng, s);
  }
  return REIN_OK;
}

/* May endpoint i take an attempt now? Asks its breaker (a permit). */
static bool try_ep(rein_curl *c, rein__curl_eps *e, uint32_t i, int64_t now,
                   rein__curl_pick *out) {
  rein__curl_slot *s = e->slot[i];
  if (s && s->breaker) {
    if (!rein_breaker_allow(s->breaker, now, &out->permit)) {
      count_n(c, RC_EP_SKIPS, 1);
      return false;
    }
    out->permitted = true;
  }
  out->ep = (int32_t)i;
  return true;
}

bool rein__curl_eps_pick(rein_curl *c, rein__curl_eps *e, uint32_t attempt,
                         int64_t now, rein__curl_pick *out) {
  memset(out, 0, sizeof *out);
  out->ep = -1;
  uint32_t n = e->n;
  if (attempt <= 1 || e->last < 0) {
    uint32_t start;
    if (c->cfg.endpoint_pick == REIN_CURL_PICK_RANDOM)
      start = (uint32_t)rein_rng_range(&e->rng, 0, (int64_t)n - 1);
    else
      start = (uint32_t)(atomic_fetch_add_explicit(&c->ep_rr, 1,
                                                   memory_order_relaxed) %
                         n);
    for (uint32_t k = 0; k < n; k++)
      if (try_ep(c, e, (start + k) % n, now, out)) return true;
    return false;
  }
  uint32_t after = (uint32_t)e->last + 1;
  uint32_t asked = 0; /* bit i: its breaker refused already */
  if (e->stick >= 0) {
    uint32_t i = (uint32_t)e->stick;
    e->stick = -1;
    if (try_ep(c, e, i, now, out)) return true;
    asked |= 1u << i;
  }
  /* an endpoint this call has not tried, in list order after the last */
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = (after + k) % n;
    if (e->tried & (1u << i) || asked & (1u << i)) continue;
    if (try_ep(c, e, i, now, out)) return true;
    asked |= 1u << i;
  }
  /* all tried: the least recently failed first (one in flight last) */
  for (;;) {
    int32_t best = -1;
    for (uint32_t k = 0; k < n; k++) {
      uint32_t i = (after + k) % n;
      if (asked & (1u << i)) continue;
      if (best < 0 || e->failed_ns[i] < e->failed_ns[best]) best = (int32_t)i;
    }
    if (best < 0) return false;
    if (try_ep(c, e, (uint32_t)best, now, out)) return true;
    asked |= 1u << best;
  }
}

rein_status rein__curl_eps_send(rein__curl_eps *e, CURL *easy,
                                rein__curl_pick *p, uint32_t attempt,
                                int64_t now, rein_curl_result *res) {
  uint32_t i = (uint32_t)p->ep;
  if (!e->u[i]) {
    CURLU *u = curl_url_dup(e->base);
    if (!u) return REIN_ENOMEM;
    const rein__curl_parts *pt = e->parts[i];
    if (curl_url_set(u, CURLUPART_SCHEME, pt->scheme, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, pt->host, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_PORT, pt->port, 0) != CURLUE_OK) {
      curl_url_cleanup(u);
      return REIN_ENOMEM; /* the parts parsed before: only memory fails */
    }
    e->u[i] = u;
  }
  curl_easy_setopt(easy, CURLOPT_CURLU, e->u[i]);
  e->tried |= 1u << i;
  e->last = (int32_t)i;
  e->failed_ns[i] = INT64_MAX;
  p->sent_ns = now;
  if (res) {
    if (attempt >= 1 && attempt <= REIN_CURL_TRAIL_MAX)
      res->trail[attempt - 1] = (uint8_t)i;
    res->endpoint = (int32_t)i;
    res->endpoints_tried = e->tried;
  }
  return REIN_OK;
}

void rein__curl_eps_done(rein__curl_eps *e, const rein__curl_pick *p,
                         const rein_outcome *o, int64_t now) {
  if (p->ep < 0) return;
  uint32_t i = (uint32_t)p->ep;
  rein_outcome_kind k = o->kind;
  bool failure = !o->in_progress &&
                 (k == REIN_OUTCOME_FAILURE || k == REIN_OUTCOME_TIMEOUT ||
                  k == REIN_OUTCOME_NOT_SENT || k == REIN_OUTCOME_OVERLOADED);
  rein__curl_slot *s = e->slot[i];
  if (p->permitted && s && s->breaker)
    rein_breaker_record(s->breaker, &p->permit, failure, now - p->sent_ns, now);
  e->failed_ns[i] = now;
  if (o->in_progress) e->stick = (int32_t)i;
}

void rein__curl_eps_release(rein__curl_eps *e, CURL *easy) {
  if (!e->base) return;
  if (easy) curl_easy_setopt(easy, CURLOPT_CURLU, NULL);
  for (uint32_t i = 0; i < REIN_CURL_ENDPOINTS_MAX; i++) {
    curl_url_cleanup(e->u[i]);
    e->u[i] = NULL;
  }
  curl_url_cleanup(e->base);
  e->base = NULL;
}
