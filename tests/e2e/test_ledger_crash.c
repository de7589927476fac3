/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ledger_crash.c: exactly-once charges through SIGKILL.
 *
 * Starts examples/ledger on a loopback port, then drives N charges (random
 * keys, principals, amounts) from 8 client threads that retry every
 * failure with the same Idempotency-Key, while the main thread kills the
 * ledger with SIGKILL at random moments (at least K times, each in the
 * middle of traffic) and restarts it on the same database file and port.
 * Afterwards it reads the ledger's SQLite file directly and checks:
 *
 *   - every key has exactly one charge row (no double charge, none lost:
 *     every charge was eventually acknowledged),
 *   - every acknowledgement a client saw (201, first or replayed) names the
 *     row that exists, with the amount and account the client sent.
 *
 * Usage: test_ledger_crash LEDGER_BIN [--store SPEC] [--charges N]
 *                          [--kills K]
 * SPEC is passed to the ledger; "redis:env" and "pg:env" use the servers
 * that scripts/services.sh exported (REIN_REDIS_HOST/PORT, REIN_PG_DSN);
 * "sqlite:sep" puts the SQLite store in a file of its own.
 * The seed is printed (REIN_TEST_SEED replays it). Everything is bounded:
 * a charge gives up after 60 s, the whole test after 85 s.
 */
#include "ledger_proc.h"
#include "rein_test.h"

#include "rein/clock.h"
#include "rein/rng.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 8
#define TEST_DEADLINE_S 85

typedef struct charge {
  char key[96];
  char principal[16];
  char account[16];
  int64_t amount;
  char body[160];
  /* outcome */
  int64_t acked_id; /* 0 = never acknowledged */
  int acks;         /* 201s seen (only 1 expected: the client stops) */
  bool replayed;
  int attempts;
} charge;

static struct {
  const char *bin;
  const char *store;
  char dir[64];
  char db[128];
  char port_file[128];
  char log[128];
  /* Written by the main thread on each restart, read by the clients. */
  _Atomic unsigned port;
  int n;
  int kills_wanted;
  charge *charges;
  _Atomic int next; /* next charge index to start */
  _Atomic int done; /* charges finished (acked or given up) */
  _Atomic int kills;
  _Atomic int stop;
  _Atomic long attempts, conn_errors, conflicts, unavailable, other;
  _Atomic int failures; /* unexpected answers */
  uint64_t seed;
  int64_t t0;
} G;

static int64_t now_ms(void) {
  return rein_clock_wall_ns() / REIN_NS_PER_MS;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ---- the ledger process -------------------------------------------------- */

static pid_t spawn(unsigned port) {
  unlink(G.port_file);
  char portbuf[16];
  snprintf(portbuf, sizeof portbuf, "%u", port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open(G.log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    const char *argv[24];
    int a = 0;
    argv[a++] = G.bin;
    argv[a++] = "--port";
    argv[a++] = portbuf;
    argv[a++] = "--port-file";
    argv[a++] = G.port_file;
    argv[a++] = "--db";
    argv[a++] = G.db;
    argv[a++] = "--lease-ms";
    argv[a++] = "400";
    argv[a++] = "--workers";
    argv[a++] = "4";
    argv[a++] = "--queue";
    argv[a++] = "256";
    argv[a++] = "--require-key";
    if (G.store) {
      argv[a++] = "--store";
      argv[a++] = G.store;
    }
    argv[a] = NULL;
    execv(G.bin, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* Starts the ledger and waits until it listens; retries a few times when
 * the port is briefly unavailable. Returns the pid or -1. */
static pid_t start_ledger(unsigned port) {
  for (int tries = 0; tries < 50; tries++) {
    pid_t pid = spawn(port);
    if (pid < 0) return -1;
    for (int i = 0; i < 1000; i++) {
      FILE *f = fopen(G.port_file, "r");
      if (f) {
        unsigned p = 0;
        int ok = fscanf(f, "%u", &p);
        fclose(f);
        if (ok == 1 && p) {
          atomic_store(&G.port, p);
          return pid;
        }
      }
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) break; /* it died */
      sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    sleep_ms(20);
  }
  return -1;
}

/* ---- clients ------------------------------------------------------------- */

typedef struct resp_buf {
  char data[4096];
  size_t len;
  bool replayed;
} resp_buf;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
  resp_buf *b = ud;
  size_t k = sz * n;
  size_t room = sizeof b->data - 1 - b->len;
  size_t c = k < room ? k : room;
  memcpy(b->data + b->len, p, c);
  b->len += c;
  b->data[b->len] = '\0';
  return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  resp_buf *b = ud;
  size_t k = sz * n;
  if (k >= 25 && strncasecmp(p, "Idempotent-Replayed: true", 25) == 0)
    b->replayed = true;
  return k;
}

static void drive(CURL *c, charge *ch, rein_rng *rng) {
  char url[64], auth[200], keyh[160];
  ledger_proc_auth_header(ch->principal, auth, sizeof auth);
  snprintf(keyh, sizeof keyh, "Idempotency-Key: \"%s\"", ch->key);
  int64_t give_up = now_ms() + 60000;
  while (!atomic_load(&G.stop) && now_ms() < give_up) {
    snprintf(url, sizeof url, "http://127.0.0.1:%u/charges",
             atomic_load(&G.port));
    struct curl_slist *hs = NULL;
    hs = curl_slist_append(hs, "Content-Type: application/json");
    hs = curl_slist_append(hs, auth);
    hs = curl_slist_append(hs, keyh);
    resp_buf b;
    b.len = 0;
    b.data[0] = '\0';
    b.replayed = false;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, ch->body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &b);
    ch->attempts++;
    atomic_fetch_add(&G.attempts, 1);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hs);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
      atomic_fetch_add(&G.conn_errors, 1);
      sleep_ms(rein_rng_range(rng, 5, 40));
      continue;
    }
    if (status == 201) {
      const char *id = strstr(b.data, "\"id\":");
      if (!id) {
        fprintf(stderr, "FAIL: 201 without id for %s: %s\n", ch->key, b.data);
        atomic_fetch_add(&G.failures, 1);
        return;
      }
      ch->acked_id = strtoll(id + 5, NULL, 10);
      ch->acks++;
      ch->replayed = b.replayed;
      char want[64];
      snprintf(want, sizeof want, "\"amount_cents\":%" PRId64 ",", ch->amount);
      if (!strstr(b.data, want)) {
        fprintf(stderr, "FAIL: ack for %s has the wrong amount: %s\n", ch->key,
                b.data);
        atomic_fetch_add(&G.failures, 1);
      }
      return;
    }
    if (status == 409) {
      atomic_fetch_add(&G.conflicts, 1);
      sleep_ms(rein_rng_range(rng, 50, 150));
      continue;
    }
    if (status == 503 || status == 500) {
      atomic_fetch_add(&G.unavailable, 1);
      sleep_ms(rein_rng_range(rng, 10, 50));
      continue;
    }
    fprintf(stderr, "FAIL: unexpected %ld for %s: %s\n", status, ch->key,
            b.data);
    atomic_fetch_add(&G.other, 1);
    atomic_fetch_add(&G.failures, 1);
    return;
  }
}

static void *client(void *arg) {
  long t = (long)arg;
  rein_rng rng;
  rein_rng_seed(&rng, G.seed * 31 + (uint64_t)t);
  CURL *c = curl_easy_init();
  if (!c) {
    atomic_fetch_add(&G.failures, 1);
    return NULL;
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
  int per = (G.n + G.kills_wanted - 1) / G.kills_wanted;
  for (;;) {
    /* Spread the charges over the kills: window k opens after kill k. */
    for (;;) {
      int next = atomic_load(&G.next);
      int k = atomic_load(&G.kills);
      if (next >= G.n || atomic_load(&G.stop)) goto out;
      if (k >= G.kills_wanted || next < (k + 1) * per) {
        if (atomic_compare_exchange_weak(&G.next, &next, next + 1)) {
          drive(c, &G.charges[next], &rng);
          atomic_fetch_add(&G.done, 1);
          break;
        }
      } else {
        sleep_ms(2);
      }
    }
  }
out:
  curl_easy_cleanup(c);
  return NULL;
}

/* ---- verification -------------------------------------------------------- */

static int find_charge(const char *principal, const char *key) {
  /* Keys carry their index: "crash-SEED-INDEX-hex". */
  const char *p = strchr(key + 6, '-');
  if (!p) return -1;
  int i = atoi(p + 1);
  if (i < 0 || i >= G.n) return -1;
  if (strcmp(G.charges[i].key, key) ||
      strcmp(G.charges[i].principal, principal))
    return -1;
  return i;
}

static int verify(void) {
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(G.db, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "FAIL: cannot open %s\n", G.db);
    return 1;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, principal, idem_key, account, "
                         "amount_cents FROM ledger_charges",
                         -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "FAIL: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return 1;
  }
  int *rows = calloc((size_t)G.n, sizeof *rows);
  int64_t *ids = calloc((size_t)G.n, sizeof *ids);
  int bad = 0, total = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    total++;
    const char *pr = (const char *)sqlite3_column_text(st, 1);
    const char *key = (const char *)sqlite3_column_text(st, 2);
    int i = key && pr ? find_charge(pr, key) : -1;
    if (i < 0) {
      fprintf(stderr, "FAIL: charge row %lld with unknown key %s\n",
              (long long)sqlite3_column_int64(st, 0), key ? key : "(null)");
      bad++;
      continue;
    }
    rows[i]++;
    ids[i] = sqlite3_column_int64(st, 0);
    if (sqlite3_column_int64(st, 4) != G.charges[i].amount ||
        strcmp((const char *)sqlite3_column_text(st, 3),
               G.charges[i].account)) {
      fprintf(stderr, "FAIL: row for %s has the wrong amount/account\n", key);
      bad++;
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  int unacked = 0, replays = 0;
  for (int i = 0; i < G.n; i++) {
    charge *ch = &G.charges[i];
    if (rows[i] != 1 && (rows[i] > 1 || ch->acked_id)) {
      fprintf(stderr, "FAIL: key %s has %d charges (acked id %" PRId64 ")\n",
              ch->key, rows[i], ch->acked_id);
      bad++;
    }
    if (!ch->acked_id) {
      unacked++;
      continue;
    }
    if (ch->replayed) replays++;
    if (rows[i] == 1 && ids[i] != ch->acked_id) {
      fprintf(stderr,
              "FAIL: key %s acknowledged as charge %" PRId64
              " but the ledger has %" PRId64 "\n",
              ch->key, ch->acked_id, ids[i]);
      bad++;
    }
  }
  if (unacked) {
    fprintf(stderr, "FAIL: %d charges never acknowledged\n", unacked);
    bad++;
  }
  printf("rows=%d keys=%d acknowledged=%d (via replay %d)\n", total, G.n,
         G.n - unacked, replays);
  free(rows);
  free(ids);
  return bad ? 1 : 0;
}

/* ---- main ---------------------------------------------------------------- */

static void cleanup_dir(void) {
  char cmd[128];
  const char *keep = getenv("REIN_KEEP_TMP");
  if (keep && *keep) {
    printf("kept %s\n", G.dir);
    return;
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", G.dir);
  if (system(cmd) != 0)
    fprintf(stderr, "warning: could not remove %s\n", G.dir);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr,
            "usage: %s LEDGER_BIN [--store SPEC] [--charges N] "
            "[--kills K]\n",
            argv[0]);
    return 2;
  }
  G.bin = argv[1];
  ledger_proc_auth_init(); /* before any thread: setenv */
  G.n = 1000;
  G.kills_wanted = 24;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--store"))
      G.store = argv[i + 1];
    else if (!strcmp(argv[i], "--charges"))
      G.n = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--kills"))
      G.kills_wanted = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (G.n < 1 || G.kills_wanted < 1) return 2;
  /* "redis:env" and "pg:env": the servers of scripts/services.sh. */
  static char spec[512];
  if (G.store && !strcmp(G.store, "redis:env")) {
    const char *h = getenv("REIN_REDIS_HOST"), *p = getenv("REIN_REDIS_PORT");
    if (!h || !p) {
      fprintf(stderr, "FAIL: REIN_REDIS_HOST/PORT not set: run under make "
                      "check or eval \"$(scripts/services.sh start DIR)\"\n");
      return 1;
    }
    snprintf(spec, sizeof spec, "redis:%s:%s", h, p);
    G.store = spec;
  } else if (G.store && !strcmp(G.store, "pg:env")) {
    const char *d = getenv("REIN_PG_DSN");
    if (!d) {
      fprintf(stderr, "FAIL: REIN_PG_DSN not set: run under make check or "
                      "eval \"$(scripts/services.sh start DIR)\"\n");
      return 1;
    }
    snprintf(spec, sizeof spec, "pg:%s", d);
    G.store = spec;
  }
  G.seed = rein_test_seed();
  printf("seed: %" PRIu64 " charges=%d kills>=%d store=%s\n", G.seed, G.n,
         G.kills_wanted, G.store ? G.store : "sqlite (default)");
  snprintf(G.dir, sizeof G.dir, "/tmp/rein-ledger-crash.XXXXXX");
  if (!mkdtemp(G.dir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(G.db, sizeof G.db, "%s/ledger.db", G.dir);
  /* "sqlite:sep": the SQLite store in its own file, so charge and stored
   * response are two commits (the UNIQUE constraint's case). */
  static char sep[160];
  if (G.store && !strcmp(G.store, "sqlite:sep")) {
    snprintf(sep, sizeof sep, "sqlite:%s/idem.db", G.dir);
    G.store = sep;
  }
  snprintf(G.port_file, sizeof G.port_file, "%s/port", G.dir);
  snprintf(G.log, sizeof G.log, "%s/ledger.log", G.dir);
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  rein_rng rng;
  rein_rng_seed(&rng, G.seed);
  G.charges = calloc((size_t)G.n, sizeof *G.charges);
  for (int i = 0; i < G.n; i++) {
    charge *c = &G.charges[i];
    /* The temp dir's random suffix makes keys unique per run, so a shared
     * store (Redis, PostgreSQL) never replays an earlier run's charge. */
    snprintf(c->key, sizeof c->key, "crash-%" PRIu64 "-%d-%016" PRIx64 "-%s",
             G.seed, i, rein_rng_next(&rng), G.dir + strlen(G.dir) - 6);
    snprintf(c->principal, sizeof c->principal, "p%d",
             (int)rein_rng_range(&rng, 0, 2));
    snprintf(c->account, sizeof c->account, "acct_%d",
             (int)rein_rng_range(&rng, 0, 16));
    c->amount = rein_rng_range(&rng, 1, 100000);
    snprintf(c->body, sizeof c->body,
             "{\"account\":\"%s\",\"amount_cents\":%" PRId64 "}", c->account,
             c->amount);
  }

  G.t0 = now_ms();
  pid_t pid = start_ledger(0);
  if (pid < 0) {
    fprintf(stderr, "FAIL: ledger did not start (log: %s)\n", G.log);
    return 1;
  }
  pthread_t th[THREADS];
  for (long t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, client, (void *)t);

  int per = (G.n + G.kills_wanted - 1) / G.kills_wanted;
  int rc = 0;
  while (atomic_load(&G.done) < G.n) {
    if (now_ms() - G.t0 > TEST_DEADLINE_S * 1000) {
      fprintf(stderr, "FAIL: deadline: %d of %d charges done after %d s\n",
              atomic_load(&G.done), G.n, TEST_DEADLINE_S);
      atomic_store(&G.stop, 1);
      rc = 1;
      break;
    }
    int k = atomic_load(&G.kills);
    if (k >= G.kills_wanted) {
      sleep_ms(20);
      continue;
    }
    /* Kill in the middle of window k: after a random part of it is done,
     * or after a random delay if traffic is slow. */
    int target = k * per + (int)rein_rng_range(&rng, per / 4, 3 * per / 4);
    int64_t until = now_ms() + rein_rng_range(&rng, 50, 400);
    while (atomic_load(&G.done) < target && now_ms() < until)
      sleep_ms(1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    atomic_fetch_add(&G.kills, 1);
    pid = start_ledger(atomic_load(&G.port));
    if (pid < 0) {
      fprintf(stderr, "FAIL: ledger did not restart (log: %s)\n", G.log);
      atomic_store(&G.stop, 1);
      rc = 1;
      break;
    }
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  if (pid > 0) {
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "FAIL: ledger did not exit cleanly on SIGTERM (%d)\n",
              st);
      rc = 1;
    }
  }
  printf("elapsed=%.1fs kills=%d attempts=%ld conn_errors=%ld 409s=%ld "
         "5xx=%ld unexpected=%ld\n",
         (now_ms() - G.t0) / 1000.0, atomic_load(&G.kills),
         atomic_load(&G.attempts), atomic_load(&G.conn_errors),
         atomic_load(&G.conflicts), atomic_load(&G.unavailable),
         atomic_load(&G.other));
  if (atomic_load(&G.kills) < G.kills_wanted) {
    fprintf(stderr, "FAIL: only %d kills\n", atomic_load(&G.kills));
    rc = 1;
  }
  if (atomic_load(&G.failures)) rc = 1;
  if (verify() != 0) rc = 1;
  printf("%s (seed %" PRIu64 ")\n", rc ? "FAILED" : "PASSED", G.seed);
  free(G.charges);
  curl_global_cleanup();
  /* How often a crash fell between the charge commit and the store's
   * completion (the ledger logs each rerun that found its charge). */
  FILE *lf = fopen(G.log, "r");
  int reruns = 0;
  if (lf) {
    char line[512];
    while (fgets(line, sizeof line, lf))
      if (strstr(line, "rerun: key already charged")) reruns++;
    fclose(lf);
  }
  printf("handler reruns that found the charge already made: %d\n", reruns);
  if (rc == 0)
    cleanup_dir();
  else
    printf("ledger files kept in %s\n", G.dir);
  return rc;
}
