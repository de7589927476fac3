/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen_round.c: one round of rein-demo-load: a real retry storm against
 * a real service.
 *
 * A round starts examples/ledger as a child process on a loopback port
 * (fresh SQLite file, a fixed capacity, a bounded queue that sheds with
 * 503 + Retry-After), then runs an open-loop fleet: `threads` client
 * threads, each a curl multi loop, start logical charges on a fixed
 * schedule whatever happens to earlier ones (as independent clients do),
 * every charge driven by rein_curl's multi interface. The monitor (the
 * calling thread) samples the ledger's own /metrics every bucket and
 * injects the outage (POST /admin/outage: every charge fails with 503)
 * after the warm-up, or, with stall, stops the ledger (SIGSTOP/SIGCONT:
 * connections queue in the kernel unanswered, clients time out, and
 * everything queued is processed when it resumes, like a lock or a long
 * pause). Afterwards the ledger's /charges/summary counts duplicate
 * charges by client reference.
 *
 * Authentication: each round writes a fresh random key to the round's
 * private directory (mode 0600) and starts the ledger with
 * --auth-key-file; the tokens (one principal per load thread, and
 * "_admin" for the outage and the summary) come from
 * `ledger --auth-key-file F --mint-token P`, the ledger's own minting.
 *
 * Figures are computed from the ledger's counters, not the clients':
 * load = POST /charges received per second, goodput = 201 answers per
 * second. Recovery = from the end of the outage to the first one-second
 * window as long as the scenario's recovery hold (1 s) whose goodput is
 * within the scenario's tolerance (20%) of the pre-outage goodput and
 * whose load is at most 1 + tolerance times the pre-outage load (the
 * simulator's definition, so the two can be compared).
 *
 * The tail round (load_run_tail, at the end) is the other live situation
 * the harness runs: the same ledger process with a long tail
 * (--slow-tail), plain or hedged clients on blocking
 * rein_curl_perform_ex calls (the interface that hedges), latency
 * quantiles from the client and the requests received from the ledger's
 * /metrics, for docs/fidelity.md "Hedging, live vs simulated".
 */
#include "loadgen.h"
#include "rein/input.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rein.h"

#define MAX_INFLIGHT 2048

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * REIN_NS_PER_S + ts.tv_nsec;
}

static void sleep_until(int64_t t) {
  for (;;) {
    int64_t left = t - mono_ns();
    if (left <= 0) return;
    struct timespec ts = {(time_t)(left / REIN_NS_PER_S),
                          (long)(left % REIN_NS_PER_S)};
    nanosleep(&ts, NULL);
  }
}

/* ------------------------------------------------------- the ledger */

typedef struct ledger_proc {
  pid_t pid;
  int port;
  char dir[64];
  char base[128];
  char keyfile[96];
  char admin_auth[200]; /* "Authorization: Bearer <_admin token>" */
} ledger_proc;

static void rm_dir(const char *dir) {
  static const char *const files[] = {
      "ledger.db",  "ledger.db-wal", "ledger.db-shm", "port",
      "ledger.log", "port.tmp",      "auth.key"};
  char p[256];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

/* A random 64-hex-digit key in DIR/auth.key, readable by us only. */
static int write_key(ledger_proc *lp, char *err, size_t errlen) {
  snprintf(lp->keyfile, sizeof lp->keyfile, "%s/auth.key", lp->dir);
  unsigned char raw[32];
  FILE *r = fopen("/dev/urandom", "rb");
  size_t got = r ? fread(raw, 1, sizeof raw, r) : 0;
  if (r) fclose(r);
  int fd = open(lp->keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (got != sizeof raw || fd < 0) {
    if (fd >= 0) close(fd);
    snprintf(err, errlen, "cannot write the ledger's key %s", lp->keyfile);
    return -1;
  }
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  bool ok = write(fd, hex, 64) == 64;
  close(fd);
  if (!ok) snprintf(err, errlen, "cannot write %s", lp->keyfile);
  return ok ? 0 : -1;
}

/* "Authorization: Bearer <token>" for `principal`, minted by the ledger
 * itself (ledger --mint-token) with the round's key. */
static int mint_auth(const load_config *c, const ledger_proc *lp,
                     const char *principal, char *out, size_t cap) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(c->ledger_path, c->ledger_path, "--auth-key-file", lp->keyfile,
          "--mint-token", principal, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char tok[160];
  size_t n = 0;
  ssize_t k;
  while (n < sizeof tok - 1 &&
         (k = read(fds[0], tok + n, sizeof tok - 1 - n)) > 0)
    n += (size_t)k;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  tok[n] = '\0';
  tok[strcspn(tok, "\r\n")] = '\0';
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !tok[0]) return -1;
  snprintf(out, cap, "Authorization: Bearer %s", tok);
  return 0;
}

static int ledger_start(const load_config *c, ledger_proc *lp, char *err,
                        size_t errlen) {
  memset(lp, 0, sizeof *lp);
  snprintf(lp->dir, sizeof lp->dir, "/tmp/rein-demo-load-XXXXXX");
  if (!mkdtemp(lp->dir)) {
    snprintf(err, errlen, "cannot create a temporary directory: %s",
             strerror(errno));
    return -1;
  }
  char db[128], portf[128], logf[128], cap[32], workers[16], queue[16], qt[16];
  snprintf(db, sizeof db, "%s/ledger.db", lp->dir);
  snprintf(portf, sizeof portf, "%s/port", lp->dir);
  snprintf(logf, sizeof logf, "%s/ledger.log", lp->dir);
  snprintf(cap, sizeof cap, "%g", c->capacity);
  snprintf(workers, sizeof workers, "%d", c->ledger_workers);
  snprintf(queue, sizeof queue, "%d", c->queue);
  snprintf(qt, sizeof qt, "%d", c->queue_timeout_ms);
  if (write_key(lp, err, errlen) != 0 ||
      mint_auth(c, lp, "_admin", lp->admin_auth, sizeof lp->admin_auth) != 0) {
    if (!err[0])
      snprintf(err, errlen, "cannot mint the ledger's admin token with %s",
               c->ledger_path);
    rm_dir(lp->dir);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    rm_dir(lp->dir);
    return -1;
  }
  if (pid == 0) {
    /* The ledger dies with the demo, even when the demo is interrupted. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    FILE *lf = freopen(logf, "w", stdout);
    (void)lf;
    dup2(fileno(stdout), 2);
    char work[32], seed[32];
    snprintf(work, sizeof work, "%" PRId64, c->work_ms);
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    const char *argv[32] = {
        c->ledger_path, "--port", "0", "--port-file", portf, "--db", db,
        c->work_ms > 0 ? "--work-ms" : "--capacity",
        c->work_ms > 0 ? work : cap, "--workers", workers, "--queue", queue,
        "--queue-timeout-ms", qt, "--auth-key-file", lp->keyfile,
        /* the fleet is one address: the old global limit, per address */
        "--max-connections", "4096", "--max-conns-per-ip", "4096", "--quiet"};
    int argc = 22;
    if (c->slow_tail) {
      argv[argc++] = "--slow-tail";
      argv[argc++] = c->slow_tail;
      argv[argc++] = "--seed";
      argv[argc++] = seed;
    }
    argv[argc] = NULL;
    execv(c->ledger_path, (char *const *)argv);
    _exit(127);
  }
  lp->pid = pid;
  for (int i = 0; i < 500; i++) { /* up to 5 s */
    FILE *f = fopen(portf, "r");
    if (f) {
      int port = 0;
      int ok = fscanf(f, "%d", &port);
      fclose(f);
      if (ok == 1 && port > 0) {
        lp->port = port;
        snprintf(lp->base, sizeof lp->base, "http://127.0.0.1:%d", port);
        return 0;
      }
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      /* Its own words (a bad option names itself), from its log. */
      char why[512] = "";
      FILE *lf = fopen(logf, "r");
      if (lf) {
        if (!fgets(why, sizeof why, lf)) why[0] = '\0';
        fclose(lf);
        why[strcspn(why, "\n")] = '\0';
      }
      snprintf(err, errlen,
               "the ledger (%s) exited before listening (status %d)%s%s",
               c->ledger_path, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
               why[0] ? ": " : "; see its --help", why);
      lp->pid = 0;
      rm_dir(lp->dir);
      return -1;
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  snprintf(err, errlen, "the ledger did not start listening within 5 s");
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  lp->pid = 0;
  rm_dir(lp->dir);
  return -1;
}

static void ledger_stop(ledger_proc *lp) {
  if (lp->pid > 0) {
    kill(lp->pid, SIGTERM);
    int st;
    for (int i = 0; i < 800; i++) { /* it drains for up to 5 s */
      if (waitpid(lp->pid, &st, WNOHANG) == lp->pid) {
        lp->pid = 0;
        break;
      }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    if (lp->pid > 0) {
      kill(lp->pid, SIGKILL);
      waitpid(lp->pid, NULL, 0);
      lp->pid = 0;
    }
  }
  rm_dir(lp->dir);
}

/* ----------------------------------------------------- tiny HTTP helper */

typedef struct buf {
  char *p;
  size_t n, cap;
} buf;

static size_t buf_write(char *data, size_t s, size_t n, void *ctx) {
  buf *b = ctx;
  size_t len = s * n;
  if (b->n + len + 1 > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 4096;
    while (nc < b->n + len + 1)
      nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) return 0;
    b->p = np;
    b->cap = nc;
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
  b->p[b->n] = '\0';
  return len;
}

static size_t discard(char *data, size_t s, size_t n, void *ctx) {
  (void)data;
  (void)ctx;
  return s * n;
}

/* GET or POST `url`; the body in `b` (caller frees b->p). HTTP status or
 * -1. */
/* `auth`: an Authorization header line, or NULL. */
static long http(CURL *e, const char *url, bool post, const char *auth,
                 buf *b) {
  b->n = 0;
  if (b->p) b->p[0] = '\0';
  curl_easy_reset(e);
  struct curl_slist *hs = auth ? curl_slist_append(NULL, auth) : NULL;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, buf_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
  if (post) curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
  CURLcode rc = curl_easy_perform(e);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hs);
  if (rc != CURLE_OK) return -1;
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

static double metric(const char *text, const char *name) {
  if (!text) return -1;
  const char *p = strstr(text, name);
  if (!p) return -1;
  p += strlen(name);
  while (*p == ' ')
    p++;
  return strtod(p, NULL);
}

/* The integer member `field` of the JSON object `text` (the ledger's
 * /charges/summary), or -1 when the text is not such an object. */
static int64_t json_int(const char *text, const char *field) {
  if (!text) return -1;
  json_t *root = json_loads(text, 0, NULL);
  json_t *v = json_object_get(root, field);
  int64_t r = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
  json_decref(root);
  return r;
}

/* ------------------------------------------------- nginx in front */

/* Debian's nginx with ngx_http_rein_module as our child (daemon off), in
 * a temp prefix, on a free loopback port, passing to the ledger. */
typedef struct nginx_proc {
  pid_t pid;
  char dir[64];
  char base[128];
} nginx_proc;

static int rm_entry(const char *p, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p);
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* nginx.conf: the exported snippet with its `listen` and `proxy_pass`
 * lines pointed at this round's ports (the contract's are the ones a
 * deployment uses; the round's are free loopback ports). */
static int nginx_conf(const load_config *c, const char *dir, int port,
                      int ledger_port) {
  char path[128];
  snprintf(path, sizeof path, "%s/nginx.conf", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f,
          "load_module %s;\nworker_processes 2;\ndaemon off;\n"
          "pid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
          "events { worker_connections 4096; }\nhttp {\n  access_log off;\n"
          "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
          "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
          "  scgi_temp_path %s/scgi;\n",
          c->nginx_module, dir, dir, dir, dir, dir, dir, dir);
  for (const char *l = c->nginx_snippet; *l;) {
    const char *e = strchr(l, '\n');
    size_t n = e ? (size_t)(e - l) : strlen(l);
    const char *t = l + strspn(l, " ");
    if (!strncmp(t, "listen ", 7))
      fprintf(f, "    listen 127.0.0.1:%d;\n", port);
    else if (!strncmp(t, "proxy_pass ", 11))
      fprintf(f, "        proxy_pass http://127.0.0.1:%d;\n", ledger_port);
    else
      fprintf(f, "  %.*s\n", (int)n, l);
    l += n + (e ? 1 : 0);
  }
  fputs("}\n", f);
  return fclose(f);
}

static void nginx_stop(nginx_proc *np) {
  if (np->pid > 0) {
    kill(np->pid, SIGQUIT); /* graceful: workers finish their requests */
    int st;
    for (int i = 0; i < 500 && waitpid(np->pid, &st, WNOHANG) != np->pid; i++) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
      if (i == 499) {
        kill(np->pid, SIGKILL);
        waitpid(np->pid, NULL, 0);
      }
    }
    np->pid = 0;
  }
  if (np->dir[0]) nftw(np->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static int nginx_start(const load_config *c, const ledger_proc *lp,
                       nginx_proc *np, char *err, size_t errlen) {
  memset(np, 0, sizeof *np);
  snprintf(np->dir, sizeof np->dir, "/tmp/rein-demo-nginx.XXXXXX");
  if (!mkdtemp(np->dir)) {
    np->dir[0] = 0;
    snprintf(err, errlen, "cannot make a temp directory for nginx");
    return -1;
  }
  chmod(np->dir, 0755); /* nginx's workers may run as another user */
  int port = free_port();
  if (port <= 0 || nginx_conf(c, np->dir, port, lp->port) != 0) {
    snprintf(err, errlen, "cannot write nginx.conf in %s", np->dir);
    nginx_stop(np);
    return -1;
  }
  char conf[128];
  snprintf(conf, sizeof conf, "%s/nginx.conf", np->dir);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork failed");
    nginx_stop(np);
    return -1;
  }
  if (pid == 0) {
    int dn = open("/dev/null", O_RDWR);
    if (dn >= 0) {
      dup2(dn, 0);
      dup2(dn, 1);
      dup2(dn, 2);
    }
    execl(c->nginx_path, c->nginx_path, "-p", np->dir, "-c", conf,
          (char *)NULL);
    _exit(127);
  }
  np->pid = pid;
  snprintf(np->base, sizeof np->base, "http://127.0.0.1:%d", port);
  char murl[160];
  snprintf(murl, sizeof murl, "%s/metrics", np->base);
  CURL *e = curl_easy_init();
  struct buf b = {0};
  for (int i = 0; e && i < 100; i++) {
    if (http(e, murl, false, NULL, &b) == 200) {
      free(b.p);
      curl_easy_cleanup(e);
      return 0;
    }
    if (waitpid(pid, NULL, WNOHANG) == pid) {
      np->pid = 0;
      break;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  free(b.p);
  if (e) curl_easy_cleanup(e);
  snprintf(err, errlen,
           "nginx (%s with %s) did not answer within 5 s: see %s/error.log",
           c->nginx_path, c->nginx_module, np->dir);
  np->dir[0] = 0; /* kept for the error log */
  nginx_stop(np);
  return -1;
}

/* ------------------------------------------------------- the fleet */

typedef struct round_ctx {
  const load_config *c;
  rein_curl *client;
  bool keyed;
  const char *name;
  char url[160];
  int64_t t0, stop_start_ns, hard_end_ns;
} round_ctx;

typedef struct worker {
  round_ctx *rc;
  int index;
  char auth[200]; /* its principal's Authorization header */
  pthread_t th;
  uint64_t calls, done, gave_up, unfinished;
  uint64_t giveups[REIN_GIVEUP_COUNT_];
} worker;

typedef struct slot {
  CURL *easy;
  rein_curl_call *call;
  rein_curl_step step;
  bool used;
} slot;

static void record(worker *w, slot *s) {
  rein_curl_result r;
  rein_curl_call_result(s->call, &r);
  if (r.action == REIN_DONE) {
    w->done++;
  } else {
    w->gave_up++;
    if ((unsigned)r.reason < REIN_GIVEUP_COUNT_) w->giveups[r.reason]++;
  }
}

static void release_slot(slot *s) {
  rein_curl_call_free(s->call);
  curl_easy_cleanup(s->easy);
  memset(s, 0, sizeof *s);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  round_ctx *rc = w->rc;
  const load_config *c = rc->c;
  CURLM *m = curl_multi_init();
  slot *slots = calloc(MAX_INFLIGHT, sizeof *slots);
  if (!m || !slots) {
    free(slots);
    if (m) curl_multi_cleanup(m);
    return NULL;
  }
  struct curl_slist *hdrs = curl_slist_append(NULL, w->auth);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  /* Call k of this thread starts at t0 + (k * threads + index) / rate. */
  uint64_t k = 0;
  double interval_ns = 1e9 / c->rate;
  int active = 0;
  for (;;) {
    int64_t now = mono_ns();
    if (now >= rc->hard_end_ns) break;
    int64_t next_start =
        rc->t0 +
        (int64_t)((double)(k * (uint64_t)c->threads + (uint64_t)w->index) *
                  interval_ns);
    while (now >= next_start && next_start < rc->stop_start_ns) {
      int i = 0;
      while (i < MAX_INFLIGHT && slots[i].used)
        i++;
      k++;
      w->calls++;
      if (i == MAX_INFLIGHT) { /* fleet saturated: count as unfinished */
        w->unfinished++;
      } else {
        slot *s = &slots[i];
        s->used = true;
        s->easy = curl_easy_init();
        char body[160];
        snprintf(body, sizeof body,
                 "{\"account\":\"acct_%d\",\"amount_cents\":100,"
                 "\"ref\":\"%s-%d-%" PRIu64 "\"}",
                 w->index, rc->name, w->index, k);
        curl_easy_setopt(s->easy, CURLOPT_URL, rc->url);
        curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        rein_curl_opts o = {0};
        o.headers = hdrs;
        /* The naive client treats POST as retryable (no method given, an
         * idempotent policy); rein knows it is a POST. */
        o.method = rc->keyed ? "POST" : NULL;
        if (rein_curl_call_new(rc->client, s->easy, &o, &s->call) != REIN_OK ||
            rein_curl_multi_add(s->call, m, &s->step) != REIN_OK) {
          w->unfinished++;
          release_slot(s);
        } else if (s->step.state == REIN_CURL_FINISHED) {
          record(w, s);
          release_slot(s);
        } else {
          active++;
        }
      }
      next_start =
          rc->t0 +
          (int64_t)((double)(k * (uint64_t)c->threads + (uint64_t)w->index) *
                    interval_ns);
    }
    if (now >= rc->stop_start_ns && active == 0) break;
    int64_t wake =
        next_start < rc->stop_start_ns ? next_start : rc->hard_end_ns;
    for (int i = 0; i < MAX_INFLIGHT; i++) {
      slot *s = &slots[i];
      if (!s->used || s->step.state != REIN_CURL_WAITING) continue;
      if (now >= s->step.due_ns) {
        rein_curl_multi_resume(s->call, m, &s->step);
        if (s->step.state == REIN_CURL_FINISHED) {
          record(w, s);
          release_slot(s);
          active--;
          continue;
        }
      }
      if (s->step.state == REIN_CURL_WAITING && s->step.due_ns < wake)
        wake = s->step.due_ns;
    }
    int running = 0;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      slot *s = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
      if (!s) continue;
      rein_curl_multi_done(s->call, m, msg, &s->step);
      if (s->step.state == REIN_CURL_FINISHED) {
        record(w, s);
        release_slot(s);
        active--;
      } else if (s->step.state == REIN_CURL_WAITING && s->step.due_ns < wake) {
        wake = s->step.due_ns;
      }
    }
    now = mono_ns();
    int64_t wait_ms = (wake - now + REIN_NS_PER_MS - 1) / REIN_NS_PER_MS;
    if (wait_ms > 50) wait_ms = 50;
    if (wait_ms < 0) wait_ms = 0;
    curl_multi_poll(m, NULL, 0, (int)wait_ms, NULL);
  }
  for (int i = 0; i < MAX_INFLIGHT; i++)
    if (slots[i].used) {
      w->unfinished++;
      release_slot(&slots[i]);
    }
  curl_slist_free_all(hdrs);
  curl_multi_cleanup(m);
  free(slots);
  return NULL;
}

/* --------------------------------------------------------- one round */

typedef struct sample {
  double posts, ok, shed;
} sample;

static void analyse(const load_config *c, load_round *r) {
  int outage_b = (int)llround(c->warmup_s / c->bucket_s);
  int end_b = (int)llround((c->warmup_s + c->outage_s) / c->bucket_s);
  r->outage_start_s = c->warmup_s;
  r->outage_end_s = c->warmup_s + c->outage_s;
  r->observed_after_s = r->nbuckets * c->bucket_s - r->outage_end_s;
  double peak = 0, peak_b = 0, good = 0, load = 0;
  int nb = 0;
  int skip = (int)llround(1.0 / c->bucket_s); /* the first second ramps */
  int win = (int)llround(c->recovery_hold_s / c->bucket_s);
  if (win < 1) win = 1;
  double tol = c->recovery_tolerance;
  /* Peak load: the busiest one-second window (a single bucket would
   * report the instant a stalled ledger releases its backlog as a rate);
   * the busiest bucket too, for comparison with `rein simulate`. */
  int sec = skip < 1 ? 1 : skip;
  for (int b = 0; b + sec <= r->nbuckets; b++) {
    double sum = 0;
    for (int j = b; j < b + sec; j++)
      sum += r->load[j];
    if (sum / sec > peak) peak = sum / sec;
  }
  for (int b = 0; b < r->nbuckets; b++) {
    if (r->load[b] > peak_b) peak_b = r->load[b];
    if (b >= skip && b < outage_b) {
      good += r->good[b];
      load += r->load[b];
      nb++;
    }
  }
  r->peak_load = peak;
  r->peak_ratio = peak / c->capacity;
  r->peak_bucket_ratio = peak_b / c->capacity;
  r->baseline_good = nb ? good / nb : 0;
  r->baseline_load = nb ? load / nb : 0;
  /* Recovery as `rein simulate` defines it (tolerance, hold): the
   * first window (hold long) after the outage whose mean goodput is within
   * the tolerance of the pre-outage goodput and whose mean load is at most
   * 1 + tolerance times the pre-outage load. Goodput alone: mean goodput
   * at least 1 - tolerance of the pre-outage. */
  r->recovery_s = -1;
  r->goodput_recovery_s = -1;
  for (int b = end_b; b + win <= r->nbuckets; b++) {
    double g = 0, l = 0;
    for (int j = b; j < b + win; j++)
      g += r->good[j], l += r->load[j];
    g /= win;
    l /= win;
    if (r->goodput_recovery_s < 0 && g >= (1 - tol) * r->baseline_good)
      r->goodput_recovery_s = (b - end_b) * c->bucket_s;
    if (r->recovery_s < 0 &&
        fabs(g - r->baseline_good) <= tol * r->baseline_good &&
        l <= (1 + tol) * r->baseline_load + 1e-9)
      r->recovery_s = (b - end_b) * c->bucket_s;
  }
  r->amplification = r->calls ? (double)r->attempts / (double)r->calls : 0;
  r->ledger_amplification =
      r->calls ? (double)r->ledger_posts / (double)r->calls : 0;
}

int load_run_round(const load_config *c, rein_curl *client, const char *name,
                   bool keyed, load_round *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", name);
  int total_b =
      (int)llround((c->warmup_s + c->outage_s + c->tail_s) / c->bucket_s);
  if (total_b < 8 || total_b > LOAD_MAX_BUCKETS) {
    snprintf(err, errlen, "the round must last 8 buckets to %d buckets",
             LOAD_MAX_BUCKETS);
    return -1;
  }
  ledger_proc lp;
  if (ledger_start(c, &lp, err, errlen) != 0) return -1;
  nginx_proc np = {0};
  if (c->nginx_path && nginx_start(c, &lp, &np, err, errlen) != 0) {
    ledger_stop(&lp);
    return -1;
  }
  round_ctx rc;
  memset(&rc, 0, sizeof rc);
  rc.c = c;
  rc.client = client;
  rc.keyed = keyed;
  rc.name = name;
  /* The clients call nginx when it is in front; the monitor, the outage
   * and the summary always talk to the ledger itself. */
  snprintf(rc.url, sizeof rc.url, "%s/charges",
           c->nginx_path ? np.base : lp.base);
  rc.t0 = mono_ns() + 100 * REIN_NS_PER_MS;
  double run_s = c->warmup_s + c->outage_s + c->tail_s;
  rc.stop_start_ns = rc.t0 + (int64_t)(run_s * 1e9);
  rc.hard_end_ns = rc.stop_start_ns + (int64_t)(c->drain_s * 1e9);

  worker *ws = calloc((size_t)c->threads, sizeof *ws);
  CURL *mon = curl_easy_init();
  buf b = {0};
  int rcode = -1;
  if (!ws || !mon) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  int started = 0;
  for (int i = 0; i < c->threads; i++) {
    char who[32];
    snprintf(who, sizeof who, "demo-%d", i);
    if (mint_auth(c, &lp, who, ws[i].auth, sizeof ws[i].auth) != 0) {
      snprintf(err, errlen, "cannot mint a token with %s", c->ledger_path);
      goto out;
    }
  }
  for (int i = 0; i < c->threads; i++) {
    ws[i].rc = &rc;
    ws[i].index = i;
    if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) break;
    started++;
  }
  /* Monitor: sample the ledger's counters every bucket; inject the outage. */
  char murl[200], ourl[220];
  snprintf(murl, sizeof murl, "%s/metrics", lp.base);
  snprintf(ourl, sizeof ourl, "%s/admin/outage?seconds=%d", lp.base,
           (int)llround(c->outage_s));
  sample prev = {0, 0, 0};
  bool outage_sent = false, stopped = false;
  int64_t bucket_ns = (int64_t)(c->bucket_s * 1e9);
  int outage_b = (int)llround(c->warmup_s / c->bucket_s);
  int end_b = (int)llround((c->warmup_s + c->outage_s) / c->bucket_s);
  for (int bkt = 0; bkt < total_b; bkt++) {
    if (!outage_sent && bkt == outage_b) {
      if (c->stall) {
        stopped = kill(lp.pid, SIGSTOP) == 0;
      } else if (http(mon, ourl, true, lp.admin_auth, &b) != 200) {
        snprintf(err, errlen, "the ledger refused the outage injection");
        break;
      }
      outage_sent = true;
    }
    if (stopped && bkt == end_b) {
      kill(lp.pid, SIGCONT);
      stopped = false;
    }
    sleep_until(rc.t0 + (int64_t)(bkt + 1) * bucket_ns);
    sample s = prev;
    if (!stopped && http(mon, murl, false, NULL, &b) == 200) {
      s.posts =
          metric(b.p, "rein_ledger_requests_total{route=\"POST /charges\"}");
      s.ok = metric(b.p, "rein_ledger_responses_total{code=\"201\"}");
      s.shed = metric(b.p, "\nrein_ledger_shed_total ");
    }
    out->load[bkt] = (s.posts - prev.posts) / c->bucket_s;
    out->good[bkt] = (s.ok - prev.ok) / c->bucket_s;
    prev = s;
    out->nbuckets = bkt + 1;
    if (c->verbose)
      fprintf(stderr, "  %-5s t=%5.2fs load %6.0f/s ok %6.0f/s\n", out->name,
              (bkt + 1) * c->bucket_s, out->load[bkt], out->good[bkt]);
  }
  if (stopped) kill(lp.pid, SIGCONT);
  for (int i = 0; i < started; i++)
    pthread_join(ws[i].th, NULL);
  if (started < c->threads) {
    snprintf(err, errlen, "cannot start client threads");
    goto out;
  }
  if (!outage_sent) goto out;
  for (int i = 0; i < c->threads; i++) {
    out->calls += ws[i].calls;
    out->done += ws[i].done;
    out->gave_up += ws[i].gave_up;
    out->unfinished += ws[i].unfinished;
    for (int g = 0; g < REIN_GIVEUP_COUNT_; g++)
      out->giveups[g] += ws[i].giveups[g];
  }
  rein_curl_stats cs;
  rein_curl_get_stats(client, &cs);
  out->attempts = cs.attempts;
  out->keys = cs.keys_minted;
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++)
    out->outcomes[k] = cs.outcomes[k];
  if (http(mon, murl, false, NULL, &b) == 200) {
    out->ledger_posts = (uint64_t)metric(
        b.p, "rein_ledger_requests_total{route=\"POST /charges\"}");
    out->ledger_ok =
        (uint64_t)metric(b.p, "rein_ledger_responses_total{code=\"201\"}");
    out->ledger_shed = (uint64_t)metric(b.p, "\nrein_ledger_shed_total ");
  }
  char surl[200];
  snprintf(surl, sizeof surl, "%s/charges/summary", lp.base);
  if (http(mon, surl, false, lp.admin_auth, &b) != 200) {
    snprintf(err, errlen, "GET /charges/summary failed");
    goto out;
  }
  out->charges = (uint64_t)json_int(b.p, "charges");
  out->duplicates = (uint64_t)json_int(b.p, "duplicate_charges");
  analyse(c, out);
  rcode = 0;
out:
  free(b.p);
  if (mon) curl_easy_cleanup(mon);
  free(ws);
  nginx_stop(&np);
  ledger_stop(&lp);
  return rcode;
}

/* ------------------------------------------------------ the tail round */

/* The tail round (issue 18, "The Tail at Scale" live): the ledger with a
 * long tail (--slow-tail), an open-loop Poisson load of keyed POSTs, each
 * a blocking rein_curl_perform_ex, which is where rein_curl hedges. The
 * arrival times are drawn up front from the seed; `threads` threads take
 * them in order (an atomic index), sleep until the arrival and call, so a
 * call's latency runs from its scheduled start: a call that waited for a
 * free thread counts that wait (no coordinated omission). */

typedef struct tail_ctx {
  const load_config *c;
  rein_curl *client;
  const char *name;
  char url[160];
  int64_t *arrive; /* scheduled starts, absolute monotonic ns */
  int64_t *lat;    /* per call: latency ns; -1 not made */
  uint8_t *why;    /* per call: 0 done, else its rein_giveup */
  size_t n;
  _Atomic size_t next;
  int64_t hard_end_ns;
} tail_ctx;

typedef struct tail_worker {
  tail_ctx *tc;
  int index;
  char auth[200];
  pthread_t th;
} tail_worker;

static size_t tail_discard(char *data, size_t s, size_t n, void *ctx) {
  (void)data;
  (void)ctx;
  return s * n;
}

static void *tail_main(void *arg) {
  tail_worker *w = arg;
  tail_ctx *tc = w->tc;
  CURL *e = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, w->auth);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  for (; e && hdrs;) {
    size_t k = atomic_fetch_add(&tc->next, 1);
    if (k >= tc->n) break;
    sleep_until(tc->arrive[k]);
    if (mono_ns() >= tc->hard_end_ns) break;
    char body[160];
    snprintf(body, sizeof body,
             "{\"account\":\"acct_%d\",\"amount_cents\":100,"
             "\"ref\":\"%s-%zu\"}",
             w->index, tc->name, k);
    curl_easy_setopt(e, CURLOPT_URL, tc->url);
    /* POSTFIELDS, not COPYPOSTFIELDS: Debian 12's libcurl (7.88.1)
     * cannot curl_easy_duphandle a handle with copied post fields (NULL,
     * so every hedge would fail with REIN_ENOMEM); `body` outlives the
     * call. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, tail_discard);
    rein_curl_opts o = {0};
    o.method = "POST";
    o.headers = hdrs;
    o.write_fn = tail_discard;
    rein_curl_result r;
    rein_status st = rein_curl_perform_ex(tc->client, e, &o, &r);
    tc->lat[k] = mono_ns() - tc->arrive[k];
    bool ok = st == REIN_OK && r.action == REIN_DONE;
    bool gave_up = (st == REIN_OK || st == REIN_EGAVEUP) &&
                   r.action == REIN_GIVE_UP &&
                   (unsigned)r.reason < REIN_GIVEUP_COUNT_;
    tc->why[k] = ok ? 0 : gave_up ? (uint8_t)r.reason : 0;
    if (!ok && !tc->why[k]) tc->why[k] = UINT8_MAX; /* an error, no reason */
  }
  curl_slist_free_all(hdrs);
  if (e) curl_easy_cleanup(e);
  return NULL;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest latency with at least q of them at or below
 * it, in ms. */
static double rank_ms(const int64_t *v, size_t n, double q) {
  if (n == 0) return 0;
  size_t i = (size_t)ceil(q * (double)n);
  if (i < 1) i = 1;
  if (i > n) i = n;
  return (double)v[i - 1] / 1e6;
}

int load_run_tail(const load_config *c, rein_curl *client, const char *name,
                  load_tail *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", name);
  double expect = c->rate * c->duration_s;
  if (!(c->rate > 0) || !(c->duration_s > 0) || expect > 2e6) {
    snprintf(err, errlen,
             "the tail round needs a rate and a duration, and at most "
             "2,000,000 calls (rate x duration = %.0f)",
             expect);
    return -1;
  }
  tail_ctx tc;
  memset(&tc, 0, sizeof tc);
  tc.c = c;
  tc.client = client;
  tc.name = name;
  /* Poisson arrivals: exponential gaps, drawn from the seed up front. */
  size_t cap = (size_t)(expect * 1.2 + 6 * sqrt(expect) + 16);
  tc.arrive = malloc(cap * sizeof *tc.arrive);
  tc.lat = malloc(cap * sizeof *tc.lat);
  tc.why = calloc(cap, 1);
  tail_worker *ws = calloc((size_t)c->threads, sizeof *ws);
  ledger_proc lp;
  memset(&lp, 0, sizeof lp);
  bool started_ledger = false;
  int rcode = -1, started = 0;
  CURL *mon = NULL;
  buf b = {0};
  if (!tc.arrive || !tc.lat || !tc.why || !ws) {
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  if (ledger_start(c, &lp, err, errlen) != 0) goto out;
  started_ledger = true;
  snprintf(tc.url, sizeof tc.url, "%s/charges", lp.base);
  for (int i = 0; i < c->threads; i++) {
    char who[32];
    snprintf(who, sizeof who, "tail-%d", i);
    if (mint_auth(c, &lp, who, ws[i].auth, sizeof ws[i].auth) != 0) {
      snprintf(err, errlen, "cannot mint a token with %s", c->ledger_path);
      goto out;
    }
  }
  rein_rng rng;
  rein_rng_seed(&rng, c->seed);
  int64_t t0 = mono_ns() + 100 * REIN_NS_PER_MS;
  int64_t end = t0 + (int64_t)(c->duration_s * 1e9);
  double t = 0;
  for (;;) {
    t += rein_rng_exponential(&rng, 1e9 / c->rate);
    if (t0 + (int64_t)t >= end || tc.n == cap) break;
    tc.arrive[tc.n] = t0 + (int64_t)t;
    tc.lat[tc.n] = -1;
    tc.n++;
  }
  tc.hard_end_ns = end + (int64_t)(c->drain_s * 1e9);
  for (int i = 0; i < c->threads; i++) {
    ws[i].tc = &tc;
    ws[i].index = i;
    if (pthread_create(&ws[i].th, NULL, tail_main, &ws[i]) != 0) break;
    started++;
  }
  for (int i = 0; i < started; i++)
    pthread_join(ws[i].th, NULL);
  if (started < c->threads) {
    snprintf(err, errlen, "cannot start client threads");
    goto out;
  }
  /* Latencies of the calls made, give-ups included (at their time). */
  size_t m = 0;
  for (size_t k = 0; k < tc.n; k++) {
    if (tc.lat[k] < 0) {
      out->unfinished++;
      continue;
    }
    if (!tc.why[k])
      out->done++;
    else
      out->gave_up++;
    if (tc.why[k] && tc.why[k] < REIN_GIVEUP_COUNT_)
      out->giveups[tc.why[k]]++;
    tc.lat[m++] = tc.lat[k];
  }
  out->calls = tc.n;
  qsort(tc.lat, m, sizeof *tc.lat, cmp_i64);
  out->p50_ms = rank_ms(tc.lat, m, 0.50);
  out->p99_ms = rank_ms(tc.lat, m, 0.99);
  out->p999_ms = rank_ms(tc.lat, m, 0.999);
  out->max_ms = m ? (double)tc.lat[m - 1] / 1e6 : 0;
  const char *colon = c->slow_tail ? strchr(c->slow_tail, ':') : NULL;
  int64_t slow_ns = 0;
  if (colon && rein_parse_duration(colon + 1, &slow_ns) == REIN_OK &&
      slow_ns > 0)
    for (size_t k = m; k > 0 && tc.lat[k - 1] >= slow_ns / 2; k--)
      out->slow_calls++;
  rein_curl_stats cs;
  rein_curl_get_stats(client, &cs);
  out->attempts = cs.attempts;
  /* The ledger's own count of what it received. */
  mon = curl_easy_init();
  char murl[200];
  snprintf(murl, sizeof murl, "%s/metrics", lp.base);
  if (!mon || http(mon, murl, false, NULL, &b) != 200) {
    snprintf(err, errlen, "GET /metrics failed");
    goto out;
  }
  out->ledger_posts = (uint64_t)metric(
      b.p, "rein_ledger_requests_total{route=\"POST /charges\"}");
  out->ledger_slow = (uint64_t)metric(b.p, "\nrein_ledger_slow_tail_total ");
  out->extra_load = out->calls ? (double)out->ledger_posts /
                                         (double)out->calls - 1
                               : 0;
  rcode = 0;
out:
  free(b.p);
  if (mon) curl_easy_cleanup(mon);
  if (started_ledger) ledger_stop(&lp);
  free(ws);
  free(tc.arrive);
  free(tc.lat);
  free(tc.why);
  return rcode;
}
