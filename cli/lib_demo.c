/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lib_demo.c: one round of `rein demo`: a real retry storm against a real
 * service, and the same situation with rein's policy.
 *
 * A round starts examples/ledger as a child process on a loopback port
 * (fresh SQLite file, a fixed capacity, a bounded queue that sheds with
 * 503 + Retry-After), then runs an open-loop fleet: `threads` client
 * threads, each a curl multi loop, start logical charges on a fixed
 * schedule whatever happens to earlier ones (as independent clients do),
 * every charge driven by rein_curl's multi interface. A monitor thread
 * samples the ledger's own /metrics every bucket and injects the outage
 * (POST /admin/outage: every charge fails with 503) after the warm-up, or,
 * with --stall, stops the ledger (SIGSTOP/SIGCONT: connections queue in the
 * kernel unanswered, clients time out, and everything queued is processed
 * when it resumes, like a lock or a long pause). Afterwards the ledger's
 * /charges/summary counts duplicate charges by client reference.
 *
 * Authentication: each round writes a fresh random key to the round's
 * private directory (mode 0600) and starts the ledger with
 * --auth-key-file; the tokens (one principal per load thread, and
 * "_admin" for the outage and the summary) come from
 * `ledger --auth-key-file F --mint-token P`, the ledger's own minting.
 *
 * Both rounds use the same driver and the same rein_curl code; only the
 * policy differs. The naive round is a rein policy configured the way many
 * clients retry today: fixed attempts, exponential backoff without jitter,
 * no budget, breaker or throttle, no idempotency key, server signals
 * ignored, and POST treated as retryable. The rein round's policy comes
 * from examples/contracts/ledger (client -> ledger.charge) through
 * rein_curl_new_from_contract, or an equivalent built-in one.
 *
 * Figures are computed from the ledger's counters, not the clients':
 * load = POST /charges received per second, goodput = 201 answers per
 * second. Recovery = from the end of the outage to the first one-second
 * window whose goodput is within 20% of the pre-outage goodput and whose
 * load is at most 1.2x the pre-outage load (the simulator's definition
 * with tolerance 0.2 and a 1 s hold, so the two can be compared).
 */
#include "lib_demo.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rein.h"
#include "rein/contract.h"
#include "rein/curl.h"
#include "rein/sim.h"

#define MAX_INFLIGHT 2048

void demo_config_default(demo_config *c) {
  memset(c, 0, sizeof *c);
  c->capacity = 100;
  c->ledger_workers = 4;
  c->queue = 100;
  c->queue_timeout_ms = 1000;
  c->rate = 90;
  c->threads = 2;
  c->warmup_s = 4;
  c->outage_s = 3;
  c->tail_s = 8;
  c->drain_s = 3;
  c->bucket_s = 0.25;
  c->naive_attempts = 6;
  c->naive_base_ns = 100 * REIN_NS_PER_MS;
  c->naive_cap_ns = 1 * REIN_NS_PER_S;
  c->attempt_timeout_ns = 800 * REIN_NS_PER_MS;
  c->seed = 1;
}

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

int demo_find_near_exe(const char *const *rels, int n, char *out,
                       size_t cap) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return -1;
  exe[len] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  for (int i = 0; i < n; i++) {
    char p[PATH_MAX + 256];
    snprintf(p, sizeof p, "%s/%s", exe, rels[i]);
    char real[PATH_MAX];
    if (realpath(p, real) && access(real, F_OK) == 0 &&
        strlen(real) < cap) {
      snprintf(out, cap, "%s", real);
      return 0;
    }
  }
  return -1;
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
static int mint_auth(const demo_config *c, const ledger_proc *lp,
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

static int ledger_start(const demo_config *c, ledger_proc *lp, char *err,
                        size_t errlen) {
  memset(lp, 0, sizeof *lp);
  snprintf(lp->dir, sizeof lp->dir, "/tmp/rein-demo-XXXXXX");
  if (!mkdtemp(lp->dir)) {
    snprintf(err, errlen, "cannot create a temporary directory: %s",
             strerror(errno));
    return -1;
  }
  char db[128], portf[128], logf[128], cap[32], workers[16], queue[16],
      qt[16];
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
    execl(c->ledger_path, c->ledger_path, "--port", "0", "--port-file", portf,
          "--db", db, "--capacity", cap, "--workers", workers, "--queue", queue,
          "--queue-timeout-ms", qt, "--auth-key-file", lp->keyfile,
          /* the fleet is one address: the old global limit, per address */
          "--max-connections", "4096", "--max-conns-per-ip", "4096", "--quiet",
          (char *)NULL);
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
      snprintf(err, errlen,
               "the ledger (%s) exited before listening (status %d); see "
               "its --help",
               c->ledger_path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
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
    while (nc < b->n + len + 1) nc *= 2;
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
  while (*p == ' ') p++;
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

/* ------------------------------------------------------- the fleet */

typedef struct round_ctx {
  const demo_config *c;
  rein_curl *client;
  bool rein_round;
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
  const demo_config *c = rc->c;
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
        rc->t0 + (int64_t)((double)(k * (uint64_t)c->threads +
                                    (uint64_t)w->index) *
                           interval_ns);
    while (now >= next_start && next_start < rc->stop_start_ns) {
      int i = 0;
      while (i < MAX_INFLIGHT && slots[i].used) i++;
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
                 w->index, rc->rein_round ? "rein" : "naive", w->index, k);
        curl_easy_setopt(s->easy, CURLOPT_URL, rc->url);
        curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        rein_curl_opts o = {0};
        o.headers = hdrs;
        /* The naive client treats POST as retryable (no method given, an
         * idempotent policy); rein knows it is a POST. */
        o.method = rc->rein_round ? "POST" : NULL;
        if (rein_curl_call_new(rc->client, s->easy, &o, &s->call) !=
                REIN_OK ||
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
      next_start = rc->t0 + (int64_t)((double)(k * (uint64_t)c->threads +
                                               (uint64_t)w->index) *
                                      interval_ns);
    }
    if (now >= rc->stop_start_ns && active == 0) break;
    int64_t wake = next_start < rc->stop_start_ns ? next_start
                                                  : rc->hard_end_ns;
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
      } else if (s->step.state == REIN_CURL_WAITING &&
                 s->step.due_ns < wake) {
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

/* ------------------------------------------------------- policies */

static rein_status naive_client(const demo_config *c, rein_policy **pol,
                                rein_curl **client, char *desc,
                                size_t desclen) {
  rein_policy_config pc;
  rein_policy_config_default(&pc);
  pc.name = "naive";
  pc.max_attempts = c->naive_attempts;
  pc.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  pc.backoff.jitter = REIN_JITTER_NONE;
  pc.backoff.base_ns = c->naive_base_ns;
  pc.backoff.cap_ns = c->naive_cap_ns;
  pc.attempt_timeout_ns = c->attempt_timeout_ns;
  pc.idempotent = true; /* retries POST like any request */
  rein_status st = rein_policy_new(&pc, pol);
  if (st != REIN_OK) return st;
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  cc.policy = *pol;
  cc.keys = REIN_CURL_KEYS_NONE;
  cc.signals = 0;
  cc.attempt_header = c->naive_attempt_header;
  st = rein_curl_new(&cc, client);
  snprintf(desc, desclen,
           "%u attempts, exponential backoff %" PRId64 " ms..%" PRId64
           " ms without jitter, %" PRId64
           " ms attempt timeout, no budget, no breaker, no keys, "
           "Retry-After ignored",
           c->naive_attempts, c->naive_base_ns / REIN_NS_PER_MS,
           c->naive_cap_ns / REIN_NS_PER_MS,
           c->attempt_timeout_ns / REIN_NS_PER_MS);
  return st;
}

/* The rein round's policy when no contract directory is found: the numbers
 * of examples/contracts/ledger/client.yaml. */
static void builtin_params(const demo_config *c, rein_contract_policy *cp) {
  memset(cp, 0, sizeof *cp);
  rein_policy_config_default(&cp->policy);
  cp->policy.name = "rein";
  cp->policy.max_attempts = 4;
  cp->policy.backoff.base_ns = c->naive_base_ns;
  cp->policy.backoff.cap_ns = c->naive_cap_ns;
  cp->policy.attempt_timeout_ns = c->attempt_timeout_ns;
  cp->policy.window_ns = 60 * REIN_NS_PER_S;
  cp->policy.idempotent = false;
  cp->has_budget = cp->has_breaker = cp->has_throttle = true;
  rein_budget_config_default(&cp->budget);
  cp->budget.ratio = 0.1;
  cp->budget.min_retries_per_sec = 5;
  rein_breaker_config_default(&cp->breaker);
  cp->breaker.open_ns = 2 * REIN_NS_PER_S;
  rein_throttle_config_default(&cp->throttle);
  cp->throttle.window_ns = 60 * REIN_NS_PER_S;
  cp->deadline_ns = 5 * REIN_NS_PER_S;
  cp->key = REIN_CONTRACT_KEY_ORIGINATE;
  cp->signals = REIN_CURL_SIGNAL_ALL;
}

/* The built-in client's objects, made by the one builder. */
typedef struct rein_objs {
  rein_policy_objects o;
} rein_objs;

static rein_status rein_client(const demo_config *c, rein_objs *o,
                               rein_curl **client, char *desc,
                               size_t desclen, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  rein_curl_config cc;
  rein_curl_config_default(&cc);
  rein_errbuf eb = {{0}};
  cc.err = &eb;
  if (c->contracts_dir) {
    rein_contract_set *set = NULL;
    const char *paths[] = {c->contracts_dir};
    rein_status st = rein_contract_load(NULL, paths, 1, &set);
    if (st == REIN_OK) st = rein_contract_check(set, NULL);
    if (st == REIN_OK && rein_contract_count(set, REIN_CONTRACT_ERROR) == 0) {
      st = rein_curl_new_from_contract(&cc, set, "client", "ledger.charge",
                                       NULL, NULL, client);
      if (st == REIN_OK) {
        const rein_policy_config *pc =
            rein_policy_get_config(rein_curl_policy(*client));
        snprintf(desc, desclen,
                 "from %s (client -> ledger.charge): %u attempts, full "
                 "jitter %" PRId64 " ms..%" PRId64 " ms, %" PRId64
                 " ms attempt timeout, budget, breaker, throttle, keys, "
                 "server signals",
                 c->contracts_dir, pc->max_attempts,
                 pc->backoff.base_ns / REIN_NS_PER_MS,
                 pc->backoff.cap_ns / REIN_NS_PER_MS,
                 pc->attempt_timeout_ns / REIN_NS_PER_MS);
      }
    }
    if (st != REIN_OK || !*client) {
      snprintf(err, errlen, "%s: %s %s", c->contracts_dir,
               rein_strerror(st), eb.msg);
      rein_contract_set_free(set);
      return st != REIN_OK ? st : REIN_EPARSE;
    }
    rein_contract_set_free(set);
    return REIN_OK;
  }
  /* Built-in equivalent of examples/contracts/ledger/client.yaml. */
  rein_contract_policy cp;
  builtin_params(c, &cp);
  rein_policy_spec sp;
  rein_contract_policy_spec(&cp, &sp);
  rein_policy_build pb;
  rein_policy_build_default(&pb);
  pb.clock = cp.policy.clock;
  rein_status st = rein_policy_spec_build(&sp, &pb, &o->o);
  if (st != REIN_OK) return st;
  cc.policy = o->o.policy;
  cc.deadline_ns = cp.deadline_ns;
  snprintf(desc, desclen,
           "built-in (no contract directory found): %u attempts, full "
           "jitter, budget 10%%, breaker, throttle, keys, server signals",
           cp.policy.max_attempts);
  return rein_curl_new(&cc, client);
}

static void rein_objs_free(rein_objs *o) { rein_policy_objects_free(&o->o); }

/* --------------------------------------------------------- one round */

typedef struct sample {
  double posts, ok, shed;
} sample;

static void analyse(const demo_config *c, demo_round *r) {
  int outage_b = (int)llround(c->warmup_s / c->bucket_s);
  int end_b = (int)llround((c->warmup_s + c->outage_s) / c->bucket_s);
  r->outage_start_s = c->warmup_s;
  r->outage_end_s = c->warmup_s + c->outage_s;
  r->observed_after_s = r->nbuckets * c->bucket_s - r->outage_end_s;
  double peak = 0, peak_b = 0, good = 0, load = 0;
  int nb = 0;
  int skip = (int)llround(1.0 / c->bucket_s); /* the first second ramps */
  int win = skip < 1 ? 1 : skip;
  /* Peak load: the busiest one-second window (a single bucket would
   * report the instant a stalled ledger releases its backlog as a rate);
   * the busiest bucket too, for comparison with `rein simulate`. */
  for (int b = 0; b + win <= r->nbuckets; b++) {
    double sum = 0;
    for (int j = b; j < b + win; j++) sum += r->load[j];
    if (sum / win > peak) peak = sum / win;
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
  /* Recovery as `rein simulate` defines it (tolerance 0.2, hold 1 s): the
   * first window after the outage whose mean goodput is within 20% of the
   * pre-outage goodput and whose mean load is at most 1.2x the pre-outage
   * load. Goodput alone: mean goodput at least 80% of the pre-outage. */
  r->recovery_s = -1;
  r->goodput_recovery_s = -1;
  for (int b = end_b; b + win <= r->nbuckets; b++) {
    double g = 0, l = 0;
    for (int j = b; j < b + win; j++) g += r->good[j], l += r->load[j];
    g /= win;
    l /= win;
    if (r->goodput_recovery_s < 0 && g >= 0.8 * r->baseline_good)
      r->goodput_recovery_s = (b - end_b) * c->bucket_s;
    if (r->recovery_s < 0 && fabs(g - r->baseline_good) <=
                                 0.2 * r->baseline_good &&
        l <= 1.2 * r->baseline_load + 1e-9)
      r->recovery_s = (b - end_b) * c->bucket_s;
  }
  r->amplification = r->calls ? (double)r->attempts / (double)r->calls : 0;
  r->ledger_amplification =
      r->calls ? (double)r->ledger_posts / (double)r->calls : 0;
}

int demo_run_round(const demo_config *c, bool rein_round, demo_round *out,
                   char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", rein_round ? "rein" : "naive");
  int total_b = (int)llround((c->warmup_s + c->outage_s + c->tail_s) /
                             c->bucket_s);
  if (total_b < 8 || total_b > DEMO_MAX_BUCKETS) {
    snprintf(err, errlen, "the round must last 8 buckets to %d buckets",
             DEMO_MAX_BUCKETS);
    return -1;
  }
  rein_policy *naive_pol = NULL;
  rein_objs objs = {0};
  rein_curl *client = NULL;
  rein_status st =
      rein_round ? rein_client(c, &objs, &client, out->policy_desc,
                               sizeof out->policy_desc, err, errlen)
                 : naive_client(c, &naive_pol, &client, out->policy_desc,
                                sizeof out->policy_desc);
  if (st != REIN_OK) {
    if (!err[0])
      snprintf(err, errlen, "cannot build the %s client: %s", out->name,
               rein_strerror(st));
    rein_curl_free(client);
    rein_policy_free(naive_pol);
    rein_objs_free(&objs);
    return -1;
  }
  ledger_proc lp;
  if (ledger_start(c, &lp, err, errlen) != 0) {
    rein_curl_free(client);
    rein_policy_free(naive_pol);
    rein_objs_free(&objs);
    return -1;
  }
  round_ctx rc;
  memset(&rc, 0, sizeof rc);
  rc.c = c;
  rc.client = client;
  rc.rein_round = rein_round;
  snprintf(rc.url, sizeof rc.url, "%s/charges", lp.base);
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
      s.posts = metric(b.p, "rein_ledger_requests_total{route=\"POST /charges\"}");
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
  for (int i = 0; i < started; i++) pthread_join(ws[i].th, NULL);
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
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++) out->outcomes[k] = cs.outcomes[k];
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
  ledger_stop(&lp);
  rein_curl_free(client);
  rein_policy_free(naive_pol);
  rein_objs_free(&objs);
  return rcode;
}

/* ------------------------------------------------ the same, simulated */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  bool overflow;
} sbuf;

static void sput(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sput(sbuf *b, const char *fmt, ...) {
  if (b->n >= b->cap) {
    b->overflow = true;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= b->cap - b->n) b->overflow = true;
  else b->n += (size_t)w;
}

/* A duration the scenario language reads: whole ms when exact, else us. */
static const char *dur(char *out, size_t cap, int64_t ns) {
  if (ns % REIN_NS_PER_MS == 0)
    snprintf(out, cap, "%" PRId64 "ms", ns / REIN_NS_PER_MS);
  else
    snprintf(out, cap, "%" PRId64 "us", (ns + 999) / REIN_NS_PER_US);
  return out;
}

/* The rein round's policy as configs: from the contract, else built in. */
static int rein_params(const demo_config *c, rein_contract_policy *cp,
                       char *err, size_t errlen) {
  if (!c->contracts_dir) {
    builtin_params(c, cp);
    return 0;
  }
  rein_contract_set *set = NULL;
  const char *paths[] = {c->contracts_dir};
  rein_errbuf eb = {{0}};
  rein_status st = rein_contract_load(NULL, paths, 1, &set);
  if (st == REIN_OK) st = rein_contract_check(set, NULL);
  if (st == REIN_OK)
    st = rein_policy_from_contract(set, "client", "ledger.charge", cp, &eb);
  rein_contract_set_free(set); /* only numbers are used below */
  if (st != REIN_OK) {
    snprintf(err, errlen, "%s: %s %s", c->contracts_dir, rein_strerror(st),
             eb.msg);
    return -1;
  }
  cp->policy.name = NULL;
  return 0;
}

/* A policy of the generated scenario, written by the model's own writer
 * (rein_policy_spec_yaml): the field names, spellings and every field the
 * spec has (throttle buckets included) are the ones the contract loader
 * and the scenario loader read. */
static void put_policy(sbuf *b, const rein_policy_spec *sp) {
  size_t room = b->n < b->cap ? b->cap - b->n : 0;
  size_t n = rein_policy_spec_yaml(sp, false, 4, b->p + b->n, room);
  if (n >= room) b->overflow = true;
  else b->n += n;
}

int demo_scenario_text(const demo_config *c, char *out, size_t cap,
                       char *err, size_t errlen) {
  if (c->stall) {
    snprintf(err, errlen,
             "--stall has no simulated counterpart (the simulator has no "
             "server that keeps accepting and later processes everything)");
    return -1;
  }
  rein_contract_policy cp;
  if (rein_params(c, &cp, err, errlen) != 0) return -1;
  sbuf b = {out, 0, cap, false};
  char d1[32], d2[32], d3[32], d4[32];
  int64_t work = (int64_t)(c->ledger_workers * 1e9 / c->capacity);
  int64_t target = 2 * work < 5 * REIN_NS_PER_MS ? 5 * REIN_NS_PER_MS
                                                 : 2 * work;
  int64_t interval = 4 * target < 100 * REIN_NS_PER_MS ? 100 * REIN_NS_PER_MS
                                                        : 4 * target;
  int64_t max_wait = (int64_t)c->queue_timeout_ms * REIN_NS_PER_MS;
  if (max_wait < target) max_wait = target;
  long clients = lround(c->rate);
  if (clients < 1) clients = 1;
  sput(&b,
       "# Generated by `rein demo` from its own parameters: the situation "
       "of\n# the live run, for `rein simulate`.\n"
       "name: demo\nseed: 1\nduration: %s\ninterval: %s\n"
       "recovery: {tolerance: 0.2, hold: 1s, baseline: %s}\n",
       dur(d1, sizeof d1,
           (int64_t)((c->warmup_s + c->outage_s + c->tail_s) * 1e9)),
       dur(d2, sizeof d2, (int64_t)(c->bucket_s * 1e9)),
       dur(d3, sizeof d3, (int64_t)((c->warmup_s - 1) * 1e9)));
  sput(&b, "policies:\n  naive:\n");
  rein_policy_spec naive;
  rein_policy_spec_default(&naive);
  naive.policy.max_attempts = c->naive_attempts;
  naive.policy.backoff.kind = REIN_BACKOFF_EXPONENTIAL;
  naive.policy.backoff.jitter = REIN_JITTER_NONE;
  naive.policy.backoff.base_ns = c->naive_base_ns;
  naive.policy.backoff.cap_ns = c->naive_cap_ns;
  put_policy(&b, &naive);
  /* like the live naive client: no Rein-Attempt unless asked for */
  sput(&b, "    honor_signals: false\n");
  if (!c->naive_attempt_header) sput(&b, "    attempt_header: false\n");
  sput(&b, "  rein:\n");
  rein_policy_spec sp;
  rein_contract_policy_spec(&cp, &sp);
  /* the live client is one process whose calls share its budget, breaker
   * and throttle: in the scenario that is one set per cohort (fleet);
   * attempt timeout and deadline are the live run's, set on the cohort */
  sp.budget_scope = sp.breaker_scope = sp.throttle_scope = REIN_SCOPE_FLEET;
  sp.policy.attempt_timeout_ns = 0;
  sp.deadline_ns = 0;
  put_policy(&b, &sp);
  sput(&b,
       "servers:\n  - name: ledger\n    concurrency: %d\n"
       "    service_time: {dist: constant, value: %s}\n"
       "    admission: {limit: %d, queue: %d, retry_queue: %d, target: %s, "
       "interval: %s, max_wait: %s, lifo: true}\n"
       "    network: {dist: uniform, min: 100us, max: 300us}\n",
       c->ledger_workers, dur(d1, sizeof d1, work), c->ledger_workers,
       c->queue, c->queue / 2, dur(d2, sizeof d2, target),
       dur(d3, sizeof d3, interval), dur(d4, sizeof d4, max_wait));
  sput(&b,
       "cohorts:\n  - name: fleet\n    count: %ld\n    target: ledger\n"
       "    arrival: {mode: poisson, rate: %g}\n    timeout: %s\n"
       "    idempotent: true\n    key: true\n    policy: naive\n",
       clients, c->rate / (double)clients,
       dur(d1, sizeof d1, c->attempt_timeout_ns));
  sput(&b,
       "incidents:\n  - {kind: outage, server: ledger, start: %s, "
       "duration: %s, mode: error, status: 503}\n"
       "variants:\n  - {name: naive, use: {fleet: naive}}\n"
       "  - {name: rein, use: {fleet: rein}}\n",
       dur(d1, sizeof d1, (int64_t)(c->warmup_s * 1e9)),
       dur(d2, sizeof d2, (int64_t)(c->outage_s * 1e9)));
  if (b.overflow) {
    snprintf(err, errlen, "scenario text too long");
    return -1;
  }
  return 0;
}

int demo_simulate(const demo_config *c, int runs, demo_sim sims[2],
                  char *err, size_t errlen) {
  memset(sims, 0, 2 * sizeof *sims);
  char text[8192];
  if (demo_scenario_text(c, text, sizeof text, err, errlen) != 0) return -1;
  rein_sim_scenario *sc = NULL;
  rein_errbuf eb = {{0}};
  rein_status st = rein_sim_scenario_parse(text, strlen(text), "demo (generated)",
                                           NULL, &eb, &sc);
  if (st != REIN_OK) {
    snprintf(err, errlen, "generated scenario: %s", eb.msg);
    return -1;
  }
  /* rein_sim's sweep runs both variants on the scenario's seeds (its
   * `seed: 1`, so 1..runs) and aggregates; the figures are picked by name */
  static const char *const names[2] = {"naive", "rein"};
  size_t idx[2];
  for (int v = 0; v < 2; v++)
    if (rein_sim_variant_find(sc, names[v], &idx[v]) != REIN_OK) {
      snprintf(err, errlen, "generated scenario has no variant %s", names[v]);
      rein_sim_scenario_free(sc);
      return -1;
    }
  rein_sim_sweep_config cfg;
  rein_sim_sweep_config_default(&cfg);
  cfg.variants = idx;
  cfg.n_variants = 2;
  cfg.runs = runs > 0 ? (size_t)runs : 0;
  cfg.err = &eb;
  rein_sim_sweep *sw = NULL;
  int rc = 0;
  if (rein_sim_sweep_run(sc, &cfg, &sw) != REIN_OK) {
    snprintf(err, errlen, "simulation: %s", eb.msg);
    rc = -1;
  }
  for (int v = 0; v < 2 && rc == 0; v++) {
    demo_sim *m = &sims[v];
    m->runs = runs;
    rein_sim_stat stats[64];
    size_t nf = rein_sim_sweep_stats(sw, (size_t)v, stats, 64);
    for (size_t k = 0; k < nf && k < 64; k++) {
      /* a field no run applies to (n 0, mean -1) reads as 0 */
      double mean = stats[k].n ? stats[k].mean : 0;
      const char *f = stats[k].name;
      if (!strcmp(f, "amplification"))
        m->amplification = mean;
      else if (!strcmp(f, "peak_load_ratio"))
        m->peak_bucket_ratio = mean;
      else if (!strcmp(f, "successes"))
        m->succeeded = mean;
      else if (!strcmp(f, "duplicates"))
        m->duplicates = mean;
      else if (!strcmp(f, "logical"))
        m->calls = mean;
      else if (!strncmp(f, "giveup_", 7))
        for (int g = 1; g < REIN_GIVEUP_COUNT_; g++)
          if (!strcmp(f + 7, rein_giveup_name((rein_giveup)g)))
            m->giveups[g] = mean;
    }
    /* recovery: the mean over the runs that recovered (the sweep's mean
     * of recovery_s also counts the lower bounds of those that did not) */
    for (int i = 0; i < runs; i++) {
      rein_sim_field fl[64];
      size_t n = rein_sim_sweep_fields(sw, (size_t)v, (size_t)i, fl, 64);
      double rec = -1, rs = 0;
      for (size_t k = 0; k < n && k < 64; k++) {
        if (!strcmp(fl[k].name, "recovered")) rec = fl[k].value;
        if (!strcmp(fl[k].name, "recovery_s")) rs = fl[k].value;
      }
      if (rec == 1) {
        m->recovered_runs++;
        m->recovery_s += rs;
      }
    }
    m->recovery_s = m->recovered_runs ? m->recovery_s / m->recovered_runs
                                      : -1;
  }
  rein_sim_sweep_free(sw);
  rein_sim_scenario_free(sc);
  return rc;
}

/* --------------------------------------------------------- reports */

static void fmt_recovery(char *b, size_t n, const demo_round *r,
                         double v) {
  if (v < 0) snprintf(b, n, "not within %.1f s", r->observed_after_s);
  else snprintf(b, n, "%.2f s", v);
}

void demo_print_summary(FILE *f, const demo_config *c, const demo_round *r,
                        int n) {
  fprintf(f,
          "\nledger capacity %.0f charges/s, offered %.0f charges/s, "
          "outage (%s) %.0f s at t=%.0f s\n\n",
          c->capacity, c->rate, c->stall ? "ledger stalled" : "503s",
          c->outage_s, c->warmup_s);
  fprintf(f, "%-40s", "");
  for (int i = 0; i < n; i++) fprintf(f, " %18s", r[i].name);
  fprintf(f, "\n");
  char v[64];
#define ROW(label, ...)                                                        \
  do {                                                                         \
    fprintf(f, "%-40s", label);                                                \
    for (int i = 0; i < n; i++) {                                              \
      snprintf(v, sizeof v, __VA_ARGS__);                                      \
      fprintf(f, " %18s", v);                                                  \
    }                                                                          \
    fprintf(f, "\n");                                                          \
  } while (0)
  ROW("peak load / capacity", "%.2fx", r[i].peak_ratio);
  ROW("peak load (requests/s, 1 s)", "%.0f", r[i].peak_load);
  ROW("peak load / capacity (250 ms)", "%.2fx", r[i].peak_bucket_ratio);
  ROW("amplification (attempts/call)", "%.2fx", r[i].amplification);
  ROW("ledger requests / call", "%.2fx", r[i].ledger_amplification);
  fprintf(f, "%-40s", "recovery after the outage");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n%-40s", "  goodput alone back after");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].goodput_recovery_s);
    fprintf(f, " %18s", v);
  }
  fprintf(f, "\n");
  ROW("duplicate charges", "%" PRIu64, r[i].duplicates);
  ROW("charges recorded", "%" PRIu64, r[i].charges);
  ROW("  charged, but the caller saw a failure", "%" PRIu64,
      r[i].charges - r[i].duplicates > r[i].done
          ? r[i].charges - r[i].duplicates - r[i].done
          : 0);
  ROW("calls", "%" PRIu64, r[i].calls);
  ROW("succeeded", "%" PRIu64, r[i].done);
  ROW("gave up", "%" PRIu64, r[i].gave_up);
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++) any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "  gave up: %s", rein_giveup_name(g));
    ROW(label, "%" PRIu64, r[i].giveups[g]);
  }
  ROW("unfinished at the end", "%" PRIu64, r[i].unfinished);
  for (int k = 0; k < REIN_OUTCOME_COUNT_; k++) {
    char label[64];
    snprintf(label, sizeof label, "attempts: %s",
             rein_outcome_kind_name((rein_outcome_kind)k));
    ROW(label, "%" PRIu64, r[i].outcomes[k]);
  }
  ROW("shed by the ledger (503)", "%" PRIu64, r[i].ledger_shed);
#undef ROW
  fprintf(f, "\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "%s: %s\n", r[i].name, r[i].policy_desc);
}

static void fmt_rec_sim(char *b, size_t n, const demo_sim *m) {
  if (m->recovered_runs == m->runs && m->runs)
    snprintf(b, n, "%.2f s", m->recovery_s);
  else if (m->recovered_runs)
    snprintf(b, n, "%.2f s (%d/%d)", m->recovery_s, m->recovered_runs,
             m->runs);
  else
    snprintf(b, n, "not recovered");
}

void demo_print_sim(FILE *f, const demo_round *r, const demo_sim *sims,
                    int n) {
  fprintf(f, "\nmeasured vs `rein simulate` (same parameters, mean of %d "
             "seeds; docs/fidelity.md)\n\n%-32s",
          sims[0].runs, "");
  for (int i = 0; i < n; i++)
    fprintf(f, " %13s %13s", r[i].name, "simulated");
  fprintf(f, "\n");
  char a[48], b[48];
  for (int row = 0; row < 5; row++) {
    static const char *const labels[] = {
        "peak load / capacity (250 ms)", "amplification (attempts/call)",
        "recovery after the outage", "calls succeeded", "duplicate charges"};
    fprintf(f, "%-32s", labels[row]);
    for (int i = 0; i < n; i++) {
      const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
      switch (row) {
      case 0:
        snprintf(a, sizeof a, "%.2fx", r[i].peak_bucket_ratio);
        snprintf(b, sizeof b, "%.2fx", m->peak_bucket_ratio);
        break;
      case 1:
        snprintf(a, sizeof a, "%.2fx", r[i].amplification);
        snprintf(b, sizeof b, "%.2fx", m->amplification);
        break;
      case 2:
        fmt_recovery(a, sizeof a, &r[i], r[i].recovery_s);
        fmt_rec_sim(b, sizeof b, m);
        break;
      case 3:
        snprintf(a, sizeof a, "%" PRIu64, r[i].done);
        snprintf(b, sizeof b, "%.0f", m->succeeded);
        break;
      default:
        snprintf(a, sizeof a, "%" PRIu64, r[i].duplicates);
        snprintf(b, sizeof b, "%.0f", m->duplicates);
        break;
      }
      fprintf(f, " %13s %13s", a, b);
    }
    fprintf(f, "\n");
  }
}

static void svg_chart(FILE *f, const demo_config *c, const demo_round *r,
                      int n, bool goodput, const char *title) {
  const int W = 860, H = 300, L = 60, R = 20, T = 30, B = 40;
  double tmax = 0, ymax = c->capacity * 1.2;
  for (int i = 0; i < n; i++) {
    double t = r[i].nbuckets * c->bucket_s;
    if (t > tmax) tmax = t;
    for (int b = 0; b < r[i].nbuckets; b++) {
      double y = goodput ? r[i].good[b] : r[i].load[b];
      if (y > ymax) ymax = y;
    }
  }
  if (tmax <= 0) tmax = 1;
  /* A 1-2-5 step giving at most 8 grid lines. */
  double step = 1;
  for (int k = 0; ymax / step > 8 && k < 30; k++)
    step *= k % 3 == 1 ? 2.5 : 2;
  ymax = ceil(ymax / step) * step;
  double pw = W - L - R, ph = H - T - B;
#define X(t) (L + (t) / tmax * pw)
#define Y(v) (T + ph - (v) / ymax * ph)
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
          "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
          "aria-label=\"%s\">\n",
          W, H, W, H, title);
  fprintf(f, "<text x=\"%d\" y=\"18\" font-size=\"14\" "
             "font-weight=\"bold\">%s</text>\n", L, title);
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" "
          "fill=\"#fde2e2\"/>\n",
          X(c->warmup_s), T, X(c->warmup_s + c->outage_s) - X(c->warmup_s),
          ph);
  fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
             "fill=\"#a33\">outage</text>\n", X(c->warmup_s) + 4, T + 12);
  for (double y = 0; y <= ymax + 1e-9; y += step) {
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
            "stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\" font-size=\"10\" "
            "text-anchor=\"end\">%.0f</text>\n",
            L, Y(y), W - R, Y(y), L - 4, Y(y) + 3, y);
  }
  for (double t = 0; t <= tmax + 1e-9; t += 2) {
    fprintf(f,
            "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
            "text-anchor=\"middle\">%.0fs</text>\n",
            X(t), H - B + 14, t);
  }
  fprintf(f,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\" "
          "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%.1f\" "
          "font-size=\"10\" text-anchor=\"end\">capacity %.0f/s</text>\n",
          L, Y(c->capacity), W - R, Y(c->capacity), W - R - 2,
          Y(c->capacity) - 4, c->capacity);
  static const char *const colors[] = {"#d62728", "#1f77b4", "#2ca02c"};
  for (int i = 0; i < n; i++) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
               "points=\"", colors[i % 3]);
    for (int b = 0; b < r[i].nbuckets; b++) {
      double y = goodput ? r[i].good[b] : r[i].load[b];
      fprintf(f, "%.1f,%.1f ", X((b + 0.5) * c->bucket_s), Y(y));
    }
    fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"12\" "
               "fill=\"%s\">%s</text>\n",
            W - R - 160 + i * 70, T - 10, colors[i % 3], r[i].name);
  }
  fprintf(f, "<text x=\"14\" y=\"%.1f\" font-size=\"11\" "
             "transform=\"rotate(-90 14 %.1f)\" text-anchor=\"middle\">%s"
             "</text>\n",
          T + ph / 2, T + ph / 2, goodput ? "charges/s (201)" : "requests/s");
  fprintf(f, "</svg>\n");
#undef X
#undef Y
}

int demo_write_html(const char *path, const demo_config *c,
                    const demo_round *r, int n, const demo_sim *sims) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f,
          "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>rein demo: a retry storm, and rein stopping it</title>\n"
          "<style>body{font-family:sans-serif;max-width:900px;margin:2em "
          "auto;color:#222}table{border-collapse:collapse}td,th{border:1px "
          "solid #ccc;padding:4px 10px;text-align:right}th:first-child,"
          "td:first-child{text-align:left}pre{background:#f6f6f6;padding:"
          "8px}</style></head><body>\n"
          "<h1>rein demo</h1>\n<p>examples/ledger on loopback: capacity "
          "%.0f charges/s (%d workers, queue %d, %d ms queue timeout, "
          "503 + Retry-After when shedding). An open-loop fleet offers "
          "%.0f charges/s; for %.0f s from t=%.0f s the ledger %s. Same "
          "workload, same outage, two client policies. Figures come from "
          "the ledger's own counters.</p>\n",
          c->capacity, c->ledger_workers, c->queue, c->queue_timeout_ms,
          c->rate, c->outage_s, c->warmup_s,
          c->stall ? "stalls (SIGSTOP: connections queue, nothing is "
                     "answered, then everything queued is processed)"
                   : "fails every charge with 503");
  fprintf(f, "<table><tr><th></th>");
  for (int i = 0; i < n; i++) fprintf(f, "<th>%s</th>", r[i].name);
  fprintf(f, "</tr>\n");
  char v[64];
#define HROW(label, ...)                                                       \
  do {                                                                         \
    fprintf(f, "<tr><td>%s</td>", label);                                      \
    for (int i = 0; i < n; i++) {                                              \
      snprintf(v, sizeof v, __VA_ARGS__);                                      \
      fprintf(f, "<td>%s</td>", v);                                            \
    }                                                                          \
    fprintf(f, "</tr>\n");                                                     \
  } while (0)
  HROW("peak load / capacity", "%.2fx", r[i].peak_ratio);
  HROW("amplification (attempts per call)", "%.2fx", r[i].amplification);
  fprintf(f, "<tr><td>recovery after the outage</td>");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].recovery_s);
    fprintf(f, "<td>%s</td>", v);
  }
  fprintf(f, "</tr>\n<tr><td>goodput alone back after</td>");
  for (int i = 0; i < n; i++) {
    fmt_recovery(v, sizeof v, &r[i], r[i].goodput_recovery_s);
    fprintf(f, "<td>%s</td>", v);
  }
  fprintf(f, "</tr>\n");
  HROW("duplicate charges", "%" PRIu64, r[i].duplicates);
  HROW("calls", "%" PRIu64, r[i].calls);
  HROW("succeeded", "%" PRIu64, r[i].done);
  for (int g = 1; g < REIN_GIVEUP_COUNT_; g++) {
    uint64_t any = 0;
    for (int i = 0; i < n; i++) any += r[i].giveups[g];
    if (!any) continue;
    char label[64];
    snprintf(label, sizeof label, "gave up: %s", rein_giveup_name(g));
    HROW(label, "%" PRIu64, r[i].giveups[g]);
  }
  HROW("shed by the ledger (503)", "%" PRIu64, r[i].ledger_shed);
#undef HROW
  fprintf(f,
          "</table>\n<p>The trade: while the ledger is down or just back, "
          "rein gives calls up early (budget, breaker, throttle) instead of "
          "retrying them into it, so fewer calls of the incident window "
          "succeed; in exchange the load stays near capacity, the ledger "
          "comes back without a retry storm, and no charge is made twice."
          "</p>\n<h2>Load on the ledger</h2>\n");
  svg_chart(f, c, r, n, false, "POST /charges received per second");
  fprintf(f, "<h2>Goodput</h2>\n");
  svg_chart(f, c, r, n, true, "charges answered 201 per second");
  if (sims) {
    fprintf(f, "<h2>Measured and simulated</h2>\n<p>The same situation "
               "through <code>rein simulate</code>'s engine (the same retry "
               "engine and admission code on a virtual clock; scenario "
               "generated from this run's parameters; mean of %d seeds). "
               "Where they differ, docs/fidelity.md says why.</p>\n"
               "<table><tr><th></th>", sims[0].runs);
    for (int i = 0; i < n; i++)
      fprintf(f, "<th>%s</th><th>%s simulated</th>", r[i].name, r[i].name);
    fprintf(f, "</tr>\n");
    char a[48], b[48];
    static const char *const labels[] = {
        "peak load / capacity (250 ms)", "amplification (attempts per call)",
        "recovery after the outage", "calls succeeded"};
    for (int row = 0; row < 4; row++) {
      fprintf(f, "<tr><td>%s</td>", labels[row]);
      for (int i = 0; i < n; i++) {
        const demo_sim *m = &sims[!strcmp(r[i].name, "rein")];
        if (row == 0) {
          snprintf(a, sizeof a, "%.2fx", r[i].peak_bucket_ratio);
          snprintf(b, sizeof b, "%.2fx", m->peak_bucket_ratio);
        } else if (row == 1) {
          snprintf(a, sizeof a, "%.2fx", r[i].amplification);
          snprintf(b, sizeof b, "%.2fx", m->amplification);
        } else if (row == 2) {
          fmt_recovery(a, sizeof a, &r[i], r[i].recovery_s);
          fmt_rec_sim(b, sizeof b, m);
        } else {
          snprintf(a, sizeof a, "%" PRIu64, r[i].done);
          snprintf(b, sizeof b, "%.0f", m->succeeded);
        }
        fprintf(f, "<td>%s</td><td>%s</td>", a, b);
      }
      fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
  }
  fprintf(f, "<h2>Policies</h2>\n<ul>\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "<li><b>%s</b>: %s</li>\n", r[i].name, r[i].policy_desc);
  fprintf(f, "</ul>\n<p>Recovery: from the end of the outage to the first "
             "one-second window whose goodput is within 20%% of the "
             "pre-outage goodput and whose load is at most 1.2x the "
             "pre-outage load (the ledger serves the normal load, and no "
             "retry storm is left); the definition of <code>rein "
             "simulate</code> with tolerance 0.2 and a 1 s hold. Goodput "
             "alone: the first one-second window with goodput at least 80%% "
             "of the pre-outage goodput, however much else the ledger "
             "received. A breaker holds a client back for its open time "
             "after the ledger is healthy again: that delay is the price "
             "of not hammering it while it is not.</p>\n</body></html>\n");
  return fclose(f) == 0 ? 0 : -1;
}

int demo_write_json(const char *path, const demo_config *c,
                    const demo_round *r, int n, const demo_sim *sims) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f,
          "{\"capacity\":%.3f,\"rate\":%.3f,\"outage_s\":%.3f,"
          "\"outage_kind\":\"%s\",\"warmup_s\":%.3f,\"tail_s\":%.3f,"
          "\"bucket_s\":%.3f,\"rounds\":{",
          c->capacity, c->rate, c->outage_s, c->stall ? "stall" : "fail",
          c->warmup_s, c->tail_s, c->bucket_s);
  for (int i = 0; i < n; i++) {
    fprintf(f,
            "%s\"%s\":{\"peak_load\":%.3f,\"peak_ratio\":%.4f,"
            "\"peak_bucket_ratio\":%.4f,"
            "\"amplification\":%.4f,\"ledger_amplification\":%.4f,"
            "\"recovery_s\":%.3f,\"goodput_recovery_s\":%.3f,"
            "\"duplicates\":%" PRIu64
            ",\"charges\":%" PRIu64 ",\"calls\":%" PRIu64
            ",\"succeeded\":%" PRIu64 ",\"gave_up\":%" PRIu64
            ",\"unfinished\":%" PRIu64 ",\"attempts\":%" PRIu64
            ",\"ledger_posts\":%" PRIu64 ",\"shed\":%" PRIu64
            ",\"baseline_goodput\":%.3f,\"giveups\":{",
            i ? "," : "", r[i].name, r[i].peak_load, r[i].peak_ratio,
            r[i].peak_bucket_ratio, r[i].amplification, r[i].ledger_amplification, r[i].recovery_s,
            r[i].goodput_recovery_s, r[i].duplicates, r[i].charges, r[i].calls, r[i].done,
            r[i].gave_up, r[i].unfinished, r[i].attempts, r[i].ledger_posts,
            r[i].ledger_shed, r[i].baseline_good);
    for (int g = 1; g < REIN_GIVEUP_COUNT_; g++)
      fprintf(f, "%s\"%s\":%" PRIu64, g > 1 ? "," : "", rein_giveup_name(g),
              r[i].giveups[g]);
    fprintf(f, "},\"load\":[");
    for (int b = 0; b < r[i].nbuckets; b++)
      fprintf(f, "%s%.1f", b ? "," : "", r[i].load[b]);
    fprintf(f, "],\"good\":[");
    for (int b = 0; b < r[i].nbuckets; b++)
      fprintf(f, "%s%.1f", b ? "," : "", r[i].good[b]);
    fprintf(f, "]}");
  }
  fprintf(f, "}");
  if (sims) {
    fprintf(f, ",\"simulated\":{");
    for (int v = 0; v < 2; v++) {
      const demo_sim *m = &sims[v];
      fprintf(f,
              "%s\"%s\":{\"runs\":%d,\"peak_bucket_ratio\":%.4f,"
              "\"amplification\":%.4f,\"recovery_s\":%.3f,"
              "\"recovered_runs\":%d,\"succeeded\":%.1f,"
              "\"duplicates\":%.1f,\"calls\":%.1f}",
              v ? "," : "", v ? "rein" : "naive", m->runs,
              m->peak_bucket_ratio, m->amplification, m->recovery_s,
              m->recovered_runs, m->succeeded, m->duplicates, m->calls);
    }
    fprintf(f, "}");
  }
  fprintf(f, "}\n");
  return fclose(f) == 0 ? 0 : -1;
}
