/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_contract.c: how long `rein check` takes on a large service graph.
 *
 * Generates a seeded graph of N services (default 1,000) with C calls each
 * (default 10, so 10,000 calls) as one YAML file per service in a directory,
 * then times, in process, what `rein check DIR` does: rein_contract_load of
 * the directory plus rein_contract_check (all ten rules), over several runs,
 * and prints the median and the findings. The graph is realistic enough to
 * exercise every rule: mostly-forward calls (a layered graph with some back
 * edges, so cycles exist), keyed operations reached through pass-through and
 * derived keys, budgets on half the calls, some un-jittered backoff, pinned
 * versions and per-service capacities.
 *
 *   bench_contract [--services N] [--calls C] [--runs R] [--keep DIR]
 *
 * With --keep the generated directory is left in place (and created there)
 * so the CLI itself can be measured: hyperfine 'rein check -q DIR'.
 */
#include "rein/contract.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng_state = 0x5eedc0de;
static uint64_t next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int pick(int n) {
  return (int)(next() % (uint64_t)n);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int generate(const char *dir, int services, int calls) {
  static const char *const jitters[] = {"full", "full", "equal", "none"};
  static const char *const keys[] = {"originate", "pass-through", "derive"};
  for (int i = 0; i < services; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/svc%04d.yaml", dir, i);
    FILE *f = fopen(path, "w");
    if (!f) {
      perror(path);
      return -1;
    }
    fprintf(f,
            "service: svc%04d\nversion: 2024-%02d-01\ninstances: %d\n"
            "capacity: %d/s\noperations:\n"
            "  get: {idempotency: natural, retryable: [429, 503, timeout], "
            "timeout: %dms, max_retry_ratio: 0.5}\n"
            "  put:\n    idempotency: key\n    key_ttl: %dh\n"
            "    timeout: %dms\n"
            "  del: {idempotency: none, timeout: 1s}\ncalls:\n",
            i, 1 + i % 12, 1 + pick(50), 1000 + pick(20000), 500 + pick(2000),
            24 * (1 + pick(7)), 500 + pick(2000));
    int used[1000];
    for (int c = 0; c < calls; c++) {
      /* mostly forward (a layered graph), 5% back edges make cycles */
      /* distinct (callee, operation) per caller: one call per pair */
      int to, op, tries = 0;
      bool dup;
      do {
        to = pick(100) < 95 && i + 1 < services
                 ? i + 1 + pick(services - i - 1 < 50 ? services - i - 1 : 50)
                 : pick(services);
        op = pick(10);
        int key = to * 3 + (op < 6 ? 0 : op < 9 ? 1 : 2);
        dup = false;
        for (int k = 0; k < c; k++)
          dup |= used[k] == key;
        if (!dup || ++tries > 1000) used[c] = key;
      } while (dup && tries <= 1000);
      const char *opn = op < 6 ? "get" : op < 9 ? "put" : "del";
      int attempts = 1 + pick(4);
      fprintf(f,
              "  - to: svc%04d.%s\n    rate: %d/s\n    timeout: %dms\n"
              "    deadline: %ds\n    pin_version: 2024-%02d-01\n",
              to, opn, 1 + pick(100), 200 + pick(1500), 2 + pick(10),
              1 + to % 12);
      if (op >= 6 && op < 9) fprintf(f, "    key: %s\n", keys[pick(3)]);
      if (attempts > 1) {
        fprintf(f,
                "    retry:\n      attempts: %d\n"
                "      backoff: {kind: exponential, base: %dms, cap: %ds, "
                "jitter: %s}\n",
                attempts, 50 + pick(200), 1 + pick(10), jitters[pick(4)]);
        if (pick(4) == 0) fprintf(f, "      window: %dm\n", 1 + pick(600));
        if (pick(2))
          fprintf(f, "      budget: {kind: ratio, ratio: 0.%d, scope: %s}\n",
                  1 + pick(5), pick(2) ? "fleet" : "instance");
        if (pick(3) == 0)
          fprintf(f, "      breaker: {failure_rate: 0.5, open: 5s}\n");
      }
    }
    if (fclose(f) != 0) return -1;
  }
  return 0;
}

static void cleanup(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int services = 1000, calls = 10, runs = 7;
  const char *keep = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--services") == 0)
      services = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--calls") == 0)
      calls = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--runs") == 0)
      runs = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--keep") == 0)
      keep = argv[i + 1];
    else {
      fprintf(stderr,
              "usage: %s [--services N] [--calls C] [--runs R] "
              "[--keep DIR]\n",
              argv[0]);
      return 2;
    }
  }
  if (services < 2 || services > 100000 || calls < 0 || calls > 1000 ||
      runs < 1 || runs > 101) {
    fprintf(stderr, "bench_contract: values out of range\n");
    return 2;
  }
  char tmpl[] = "/tmp/rein-bench-contract-XXXXXX";
  const char *dir = keep;
  if (keep) {
    mkdir(keep, 0755);
  } else if (!(dir = mkdtemp(tmpl))) {
    perror("mkdtemp");
    return 1;
  }
  double t0 = now_s();
  if (generate(dir, services, calls) != 0) return 1;
  printf("generated %d services, %d calls in %s (%.2fs)\n", services,
         services * calls, dir, now_s() - t0);

  double *t = calloc((size_t)runs, sizeof *t);
  double *cpu = calloc((size_t)runs, sizeof *cpu);
  size_t findings[3] = {0, 0, 0};
  for (int r = 0; r < runs; r++) {
    double a = now_s(), ca = cpu_s();
    rein_contract_set *s;
    const char *paths[] = {dir};
    rein_status st = rein_contract_load(NULL, paths, 1, &s);
    if (st != REIN_OK || rein_contract_check(s, NULL) != REIN_OK) {
      fprintf(stderr, "bench_contract: load/check failed: %s\n",
              rein_strerror(st));
      if (s) rein_contract_write(s, REIN_CONTRACT_FORMAT_TEXT, stderr);
      return 1;
    }
    t[r] = now_s() - a;
    cpu[r] = cpu_s() - ca;
    findings[0] = rein_contract_count(s, REIN_CONTRACT_ERROR);
    findings[1] = rein_contract_count(s, REIN_CONTRACT_WARNING);
    findings[2] = rein_contract_service_count(s);
    rein_contract_set_free(s);
  }
  qsort(t, (size_t)runs, sizeof *t, cmp_d);
  qsort(cpu, (size_t)runs, sizeof *cpu, cmp_d);
  printf("load + check (all rules), %d runs: wall median %.1f ms (min %.1f, "
         "max %.1f); cpu median %.1f ms\n",
         runs, t[runs / 2] * 1e3, t[0] * 1e3, t[runs - 1] * 1e3,
         cpu[runs / 2] * 1e3);
  double load[1] = {0};
  FILE *la = fopen("/proc/loadavg", "r");
  if (la) {
    if (fscanf(la, "%lf", &load[0]) != 1) load[0] = 0;
    fclose(la);
  }
  printf("machine load average %.1f on %ld cpus\n", load[0],
         sysconf(_SC_NPROCESSORS_ONLN));
  printf("contracts %zu, findings: %zu errors, %zu warnings\n", findings[2],
         findings[0], findings[1]);
  printf("target: under 1000 ms: wall %s, cpu %s\n",
         t[runs / 2] < 1.0 ? "met" : "MISSED",
         cpu[runs / 2] < 1.0 ? "met" : "MISSED");
  free(t);
  free(cpu);
  if (!keep) cleanup(dir);
  return 0;
}
