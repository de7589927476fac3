/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_input.c: hostile input (issue 15, items 4, 5, 6, 8, 9).
 *
 * Unit part (rein/input.h): the terminal escaper, the did-you-mean edit
 * distance against a plain full-matrix reference, the YAML depth pre-scan
 * (flow and block nesting; quotes, comments and block scalars must not
 * fool it), sizes, and the file reader on a FIFO. CLI part (argv[1] is the
 * rein binary): `rein check` on a directory with symbolic links to `.` and
 * `..`, deep nesting in check and simulate (file:line:col, fast), a FIFO
 * given to check and simulate, escapes in both text outputs, and the
 * simulator's memory budget on a scenario whose memory grows without end:
 * each run in a child with a wall-clock limit, its peak RSS taken from
 * wait4.
 */
#include "rein_test.h"
#include "rein/contract.h"
#include "rein/input.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *rein_bin;
static char tmp[256];

/* ---------------------------------------------------------------- escaping */

/* rein_utf8_valid_len / rein_utf8_scrub: what every JSON writer does to
 * bytes that are not UTF-8 (rein/json.h). */
static void test_utf8_scrub(void **state) {
  (void)state;
  char out[64];
  /* valid UTF-8 is kept as is */
  const char *ok = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  assert_int_equal(rein_utf8_valid_len(ok), strlen(ok));
  assert_int_equal(rein_utf8_scrub(out, sizeof out, ok), strlen(ok));
  assert_string_equal(out, ok);
  assert_int_equal(rein_utf8_valid_len(NULL), 0);
  /* Latin-1, a stray byte, overlong, surrogate, cut short: one U+FFFD per
   * byte that is not part of a valid sequence */
  assert_int_equal(rein_utf8_valid_len("ab\xe9"), 2);
  size_t n = rein_utf8_scrub(out, sizeof out, "caf\xe9-\xff");
  assert_string_equal(out, "caf\xef\xbf\xbd-\xef\xbf\xbd");
  assert_int_equal(n, strlen(out));
  rein_utf8_scrub(out, sizeof out, "\xc0\xaf|\xed\xa0\x80|\xe2\x82");
  assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd|"
                           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
                           "\xef\xbf\xbd\xef\xbf\xbd");
  /* cut at a character boundary; the return is the full length */
  char small[6];
  n = rein_utf8_scrub(small, sizeof small, "ab\xff\xc3\xa9");
  assert_int_equal(n, 7);
  assert_string_equal(small, "ab\xef\xbf\xbd");
  char tiny[5]; /* U+FFFD does not fit after "ab": cut before it */
  rein_utf8_scrub(tiny, sizeof tiny, "ab\xff");
  assert_string_equal(tiny, "ab");
  assert_int_equal(rein_utf8_scrub(NULL, 0, "\xff\xff"), 6);
}

static void test_escape(void **state) {
  (void)state;
  char out[256];
  const char *in = "a\x1b]0;pwn\x07"
                   "b\xe2\x80\xae"
                   "c\xc2\x85"
                   "d\x7f\xff\xe2\x81\xa6"
                   "e\xe2\x80\x8f\n\t";
  size_t n = rein_text_escape(out, sizeof out, in);
  const char *want = "a\\e]0;pwn\\x07b\\u202ec\\u0085d\\x7f\\xff\\u2066e"
                     "\\u200f\\n\\t";
  assert_string_equal(out, want);
  assert_int_equal(n, strlen(want));
  /* printable UTF-8 and ASCII unchanged */
  rein_text_escape(out, sizeof out, "caf\xc3\xa9 [x] \xe2\x82\xac");
  assert_string_equal(out, "caf\xc3\xa9 [x] \xe2\x82\xac");
  /* overlong, surrogate, cut-short sequences are bytes */
  rein_text_escape(out, sizeof out, "\xc0\xaf\xed\xa0\x80\xe2\x80");
  assert_string_equal(out, "\\xc0\\xaf\\xed\\xa0\\x80\\xe2\\x80");
  /* cut at a character boundary, return the full length */
  char small[5];
  n = rein_text_escape(small, sizeof small,
                       "ab\x1b"
                       "cd");
  assert_string_equal(small, "ab\\e");
  assert_int_equal(n, 6);
  char tiny[4]; /* "\e" does not fit after "ab": cut before it */
  rein_text_escape(tiny, sizeof tiny,
                   "ab\x1b"
                   "cd");
  assert_string_equal(tiny, "ab");
  /* the FILE writer writes the same */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  assert_int_equal(rein_text_fputs(in, f), 0);
  fclose(f);
  assert_string_equal(buf, want);
  free(buf);
}

/* ------------------------------------------------------------ depth scan */

static rein_status depth(const char *s, unsigned max, size_t *l, size_t *c) {
  return rein_yaml_check_depth(s, strlen(s), max, l, c);
}

static char *repeat(const char *a, size_t n, const char *tail) {
  size_t la = strlen(a), lt = strlen(tail);
  char *s = malloc(la * n + lt + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++)
    memcpy(s + i * la, a, la);
  memcpy(s + la * n, tail, lt + 1);
  return s;
}

static void test_depth_flow(void **state) {
  (void)state;
  size_t l = 0, c = 0;
  char *s = repeat("[", 100000, "");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(depth(s, 64, &l, &c), REIN_ETOOBIG);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(t1.tv_sec - t0.tv_sec < 2);
  assert_int_equal(l, 1);
  assert_int_equal(c, 64); /* the root counts as one level */
  free(s);
  /* 63 deep is fine, on any line; the column counts characters */
  s = repeat("[", 63, "");
  assert_int_equal(depth(s, 64, NULL, NULL), REIN_OK);
  free(s);
  assert_int_equal(depth("a: 1\nb: x\xc3\xa9 {[[[", 4, &l, &c), REIN_ETOOBIG);
  assert_int_equal(l, 2);
  assert_int_equal(c, 10);
  /* brackets close */
  s = repeat("[[]]", 10000, "\n");
  assert_int_equal(depth(s, 4, NULL, NULL), REIN_OK);
  free(s);
}

static void test_depth_block(void **state) {
  (void)state;
  size_t l = 0, c = 0;
  /* a:\n b:\n  c:\n ... one level per line */
  char buf[8192];
  size_t n = 0;
  for (int i = 0; i < 70; i++) {
    memset(buf + n, ' ', (size_t)i);
    n += (size_t)i;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "k%d:\n", i);
  }
  assert_int_equal(depth(buf, 64, &l, &c), REIN_ETOOBIG);
  assert_int_equal(l, 65);
  assert_int_equal(c, 65);
  /* compact sequences: - - - - x */
  char *s = repeat("- ", 100, "x\n");
  assert_int_equal(depth(s, 64, &l, &c), REIN_ETOOBIG);
  assert_int_equal(l, 1);
  free(s);
  /* going back up frees the levels */
  assert_int_equal(depth("a:\n  b:\n    c: 1\nd:\n  e: 2\n", 3, NULL, NULL),
                   REIN_OK);
  assert_int_equal(depth("a:\n  b:\n    c:\n      d: 1\n", 3, &l, &c),
                   REIN_ETOOBIG);
  assert_int_equal(l, 4);
  assert_int_equal(c, 7);
}

static void test_depth_not_fooled(void **state) {
  (void)state;
  char *b = repeat("[", 200, "");
  char text[4096];
  /* brackets in quoted scalars, comments and block scalars are text */
  const char *forms[] = {
      "a: \"%s\"\n",
      "a: '%s'\n",
      "a: 'it''s %s'\n",
      "a: \"esc \\\" %s\"\n",
      "a: \"multi\n  line %s\n  end\"\nb: 1\n",
      "# %s\na: 1\n",
      "a: 1 # %s\n",
      "a: |\n  %s\n  more\n\nb: 2\n",
      "a: >-\n    %s\n",
      "- |\n   %s\n",
      "{a: '%s', b: \"x\"}\n",
      "[\"%s\"]\n",
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(text, sizeof text, forms[i], b);
    size_t l = 0, c = 0;
    rein_status st = depth(text, 16, &l, &c);
    if (st != REIN_OK)
      fail_msg("form %zu refused at %zu:%zu: %s", i, l, c, forms[i]);
  }
  /* ... but a quote inside a plain scalar opens nothing: the nesting on the
   * next line is seen (libyaml would parse it) */
  snprintf(text, sizeof text, "a: don't 'x\nb: %s\nc: '\n", b);
  size_t l = 0, c = 0;
  assert_int_equal(depth(text, 16, &l, &c), REIN_ETOOBIG);
  assert_int_equal(l, 2);
  /* a block scalar ends at a line that is not indented more */
  snprintf(text, sizeof text, "a: |\n  text\nb: %s\n", b);
  assert_int_equal(depth(text, 16, &l, &c), REIN_ETOOBIG);
  assert_int_equal(l, 3);
  /* `a | b` inside a plain scalar is no block scalar */
  snprintf(text, sizeof text, "a: x | y\n  %s\n", b);
  assert_int_equal(depth(text, 16, &l, &c), REIN_ETOOBIG);
  free(b);
}

static void test_size(void **state) {
  (void)state;
  uint64_t b = 0;
  assert_int_equal(rein_parse_size("512MiB", &b), REIN_OK);
  assert_int_equal(b, 512u << 20);
  assert_int_equal(rein_parse_size("2 GiB", &b), REIN_OK);
  assert_int_equal(b, UINT64_C(2) << 30);
  assert_int_equal(rein_parse_size("1.5GB", &b), REIN_OK);
  assert_int_equal(b, 1500000000u);
  assert_int_equal(rein_parse_size("4096", &b), REIN_OK);
  assert_int_equal(b, 4096);
  assert_int_equal(rein_parse_size("10kib", &b), REIN_OK);
  assert_int_equal(b, 10240);
  assert_int_equal(rein_parse_size("-1MiB", &b), REIN_EPARSE);
  assert_int_equal(rein_parse_size("12 parsecs", &b), REIN_EPARSE);
  assert_int_equal(rein_parse_size("0x10", &b), REIN_EPARSE);
  assert_int_equal(rein_parse_size("1e3", &b), REIN_EPARSE);
  assert_int_equal(rein_parse_size("99999999TiB", &b), REIN_ERANGE);
  char f[32];
  assert_string_equal(rein_format_size(512u << 20, f, sizeof f), "512 MiB");
  assert_string_equal(rein_format_size(900, f, sizeof f), "900 B");
}

static void on_alarm(int sig) {
  (void)sig;
  static const char m[] = "test_input: blocked on a FIFO\n";
  (void)!write(2, m, sizeof m - 1);
  _exit(3);
}

static void test_file_read(void **state) {
  (void)state;
  char p[300];
  snprintf(p, sizeof p, "%s/fifo.yaml", tmp);
  assert_int_equal(mkfifo(p, 0600), 0);
  signal(SIGALRM, on_alarm);
  alarm(20); /* a regression blocks in open: fail instead of hanging */
  rein_errbuf eb = {{0}};
  char *buf = (char *)1;
  size_t len = 1;
  assert_int_equal(rein_file_read(p, 1 << 20, NULL, &eb, &buf, &len),
                   REIN_EINVAL);
  alarm(0);
  assert_null(buf);
  assert_string_equal(eb.msg, "not a regular file (a FIFO)");
  assert_int_equal(rein_file_read(tmp, 1 << 20, NULL, &eb, &buf, &len),
                   REIN_EINVAL);
  assert_string_equal(eb.msg, "not a regular file (a directory)");
  snprintf(p, sizeof p, "%s/none.yaml", tmp);
  assert_int_equal(rein_file_read(p, 1 << 20, NULL, &eb, &buf, &len), REIN_EIO);
  snprintf(p, sizeof p, "%s/ten.yaml", tmp);
  FILE *f = fopen(p, "w");
  fputs("0123456789", f);
  fclose(f);
  assert_int_equal(rein_file_read(p, 9, NULL, &eb, &buf, &len), REIN_ETOOBIG);
  assert_int_equal(rein_file_read(p, 10, NULL, &eb, &buf, &len), REIN_OK);
  assert_int_equal(len, 10);
  assert_string_equal(buf, "0123456789");
  free(buf);
}

/* ---------------------------------------------------------- through rein */

typedef struct child {
  int code;        /* exit status, -1 killed (timeout) */
  double secs;     /* wall clock */
  long rss_kb;     /* peak RSS */
  char out[65536]; /* stdout + stderr, NUL-terminated */
} child;

/* Run rein with `args` (NULL-terminated), killed after `limit` seconds. */
static void run_rein(child *c, int limit, const char *const *args) {
  char outp[300];
  snprintf(outp, sizeof outp, "%s/out.txt", tmp);
  const char *argv[32];
  size_t n = 0;
  argv[n++] = rein_bin;
  for (; *args && n < 31; args++)
    argv[n++] = *args;
  argv[n] = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    int nul = open("/dev/null", O_RDONLY);
    dup2(nul, 0);
    if (chdir(tmp) != 0) _exit(126);
    execv(rein_bin, (char *const *)argv);
    _exit(127);
  }
  int st = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  for (;;) {
    pid_t r = wait4(pid, &st, WNOHANG, &ru);
    if (r == pid) break;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (t1.tv_sec - t0.tv_sec >= limit) {
      kill(pid, SIGKILL);
      wait4(pid, &st, 0, &ru);
      break;
    }
    usleep(10000);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  c->secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  c->code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  c->rss_kb = ru.ru_maxrss;
  FILE *f = fopen(outp, "r");
  size_t got = f ? fread(c->out, 1, sizeof c->out - 1, f) : 0;
  if (f) fclose(f);
  c->out[got] = 0;
  fprintf(stderr, "  rein %s %s: exit %d, %.2f s, peak RSS %ld KiB\n", argv[1],
          argv[n - 1], c->code, c->secs, c->rss_kb);
}

static void put(const char *name, const char *text) {
  char p[300];
  snprintf(p, sizeof p, "%s/%s", tmp, name);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static const char contract[] = "service: svc\n"
                               "version: 2024-01-01\n"
                               "operations:\n"
                               "  get: {idempotency: natural}\n";

static void test_check_symlink_loop(void **state) {
  (void)state;
  if (!rein_bin) skip();
  char p[300], q[300];
  snprintf(p, sizeof p, "%s/loop/sub", tmp);
  snprintf(q, sizeof q, "%s/loop", tmp);
  assert_int_equal(mkdir(q, 0700), 0);
  assert_int_equal(mkdir(p, 0700), 0);
  put("loop/svc.yaml", contract);
  const char *links[] = {"loop/a", "loop/b", "loop/c"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s/%s", tmp, links[i]);
    assert_int_equal(symlink(".", p), 0);
  }
  snprintf(p, sizeof p, "%s/loop/sub/up", tmp);
  assert_int_equal(symlink("..", p), 0);
  child *c = malloc(sizeof *c);
  run_rein(c, 30, (const char *[]){"check", "loop", NULL});
  assert_int_equal(c->code, 0);
  assert_true(c->secs < 10);
  assert_true(c->rss_kb < 64 * 1024);
  assert_non_null(strstr(c->out, "loop/a:0:0: warning[E008]: directory "
                                 "skipped: already read as loop"));
  assert_non_null(strstr(c->out, "loop/sub/up:0:0: warning[E008]"));
  assert_non_null(strstr(c->out, "in 1 contract"));
  free(c);
}

/* The set's bounds on files and bytes: the file that crosses one is E008
 * and nothing after it is read. */
static void test_check_bounds(void **state) {
  (void)state;
  char d[300], p[320];
  snprintf(d, sizeof d, "%s/many", tmp);
  assert_int_equal(mkdir(d, 0700), 0);
  for (int i = 0; i < 5; i++) {
    snprintf(p, sizeof p, "many/s%d.yaml", i);
    char text[256];
    snprintf(text, sizeof text,
             "service: s%d\nversion: 2024-01-01\n"
             "operations:\n  get: {idempotency: natural}\n",
             i);
    put(p, text);
  }
  rein_contract_config cfg;
  rein_contract_config_default(&cfg);
  cfg.max_files = 3;
  rein_contract_set *s;
  const char *paths[] = {d};
  assert_int_equal(rein_contract_load(&cfg, paths, 1, &s), REIN_EPARSE);
  assert_int_equal(rein_contract_service_count(s), 3);
  assert_int_equal(rein_contract_diag_count(s), 1);
  const rein_contract_diag *g = rein_contract_diag_at(s, 0);
  assert_string_equal(g->rule, "E008");
  assert_string_equal(g->message, "cannot read contract: more than 3 contract "
                                  "files (max_files); not read");
  assert_non_null(strstr(g->loc.file, "many/s3.yaml"));
  rein_contract_set_free(s);
  rein_contract_config_default(&cfg);
  cfg.max_total_bytes = 150; /* each file is 67 bytes */
  assert_int_equal(rein_contract_load(&cfg, paths, 1, &s), REIN_EPARSE);
  assert_int_equal(rein_contract_service_count(s), 2);
  assert_int_equal(rein_contract_diag_count(s), 1);
  g = rein_contract_diag_at(s, 0);
  assert_non_null(strstr(g->message, "exceed 150 bytes in all "
                                     "(max_total_bytes); not read"));
  rein_contract_set_free(s);
  /* the nesting limit is a field too */
  rein_contract_config_default(&cfg);
  cfg.max_depth = 3;
  assert_int_equal(rein_contract_set_new(&cfg, &s), REIN_OK);
  assert_int_equal(rein_contract_add_buffer(s, "d.yaml", "a: [[[1]]]\n", 11),
                   REIN_EPARSE);
  g = rein_contract_diag_at(s, 0);
  assert_int_equal(g->loc.line, 1);
  assert_int_equal(g->loc.col, 6);
  assert_string_equal(g->message,
                      "malformed YAML: nested deeper than 3 levels (max_depth)");
  rein_contract_set_free(s);
}

static void test_deep_nesting(void **state) {
  (void)state;
  if (!rein_bin) skip();
  char *s = repeat("[", 100000, "\n");
  put("deep.yaml", s);
  free(s);
  child *c = malloc(sizeof *c);
  run_rein(c, 60, (const char *[]){"check", "deep.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_true(c->secs < 10);
  assert_non_null(strstr(c->out, "deep.yaml:1:64: error[E001]: malformed "
                                 "YAML: nested deeper than 64 levels"));
  run_rein(c, 60, (const char *[]){"simulate", "deep.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_true(c->secs < 10);
  assert_non_null(
      strstr(c->out, "deep.yaml:1:64: (yaml): nested deeper than 64 levels"));
  /* block nesting, reported at its line */
  char buf[8192];
  size_t n = 0;
  for (int i = 0; i < 70; i++) {
    memset(buf + n, ' ', (size_t)(2 * i));
    n += (size_t)(2 * i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "k%d:\n", i);
  }
  put("block.yaml", buf);
  run_rein(c, 60, (const char *[]){"check", "block.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_non_null(strstr(c->out, "block.yaml:65:129: error[E001]"));
  free(c);
}

static void test_fifo(void **state) {
  (void)state;
  if (!rein_bin) skip();
  char p[300];
  snprintf(p, sizeof p, "%s/pipe.yaml", tmp);
  assert_int_equal(mkfifo(p, 0600), 0);
  child *c = malloc(sizeof *c);
  run_rein(c, 20, (const char *[]){"check", "pipe.yaml", NULL});
  assert_int_equal(c->code, 2); /* -1 when it blocked and was killed */
  assert_non_null(strstr(c->out, "pipe.yaml:0:0: error[E008]: cannot read "
                                 "contract: not a regular file (a FIFO)"));
  run_rein(c, 20, (const char *[]){"simulate", "pipe.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_non_null(strstr(c->out, "pipe.yaml: not a regular file (a FIFO)"));
  free(c);
}

/* No raw ESC, BEL, C1 or bidi control reaches the terminal. */
static void assert_clean(const char *out) {
  for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
    if (*p == 0x1b || *p == 0x07 || *p == 0x7f)
      fail_msg("raw control byte 0x%02x in: %s", *p, out);
    if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xae)
      fail_msg("raw U+202E in: %s", out);
    if (p[0] == 0xc2 && p[1] == 0x9b) fail_msg("raw CSI (C1) in: %s", out);
  }
}

static void test_escapes(void **state) {
  (void)state;
  if (!rein_bin) skip();
  /* libyaml decodes these escapes: the loader sees the raw bytes */
  put("esc.yaml", "service: svc\n"
                  "version: 2024-01-01\n"
                  "\"\\e]0;pwned\\a\\e[2J\\u202Eevil\\u009b1m\": 1\n");
  child *c = malloc(sizeof *c);
  run_rein(c, 20, (const char *[]){"check", "esc.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_clean(c->out);
  assert_non_null(strstr(c->out, "\\e]0;pwned\\x07\\e[2J\\u202eevil\\u009b1m"));
  /* a scenario whose name (refused: names are plain) carries the same, and
   * one whose unknown field does */
  put("esc-sim.yaml",
      "name: \"x\\e]0;pwned\\a\\u202Ey\"\n"
      "duration: 1s\n"
      "policies: {p: {max_attempts: 1}}\n"
      "servers: [{name: s, concurrency: 1, service_time: {dist: constant, "
      "value: 1ms}}]\n"
      "cohorts: [{name: c, count: 1, target: s, arrival: {mode: poisson, "
      "rate: 1}, timeout: 1s, policy: p}]\n");
  run_rein(c, 20,
           (const char *[]){"simulate", "--quiet", "esc-sim.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_clean(c->out);
  assert_non_null(strstr(c->out, "got 'x\\e]0;pwned\\x07\\u202ey'"));
  put("esc-bad.yaml", "duration: 1s\n\"\\e[31mred\\u202E\": 1\n");
  run_rein(c, 20, (const char *[]){"simulate", "esc-bad.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_clean(c->out);
  assert_non_null(strstr(c->out, "\\e[31mred\\u202e"));
  free(c);
}

/* 5 cohorts of 1M clients for 7 days against a server with a deep queue
 * and calls that wait an hour: memory grows without end (6 GB at 120 s
 * before the budget). */
static const char grow[] =
    "name: grow\n"
    "seed: 1\n"
    "duration: 7d\n"
    "interval: 1s\n"
    "policies:\n"
    "  p:\n"
    "    max_attempts: 3\n"
    "    backoff: {kind: exponential, jitter: full, base: 100ms, cap: 1s}\n"
    "servers:\n"
    "  - name: s\n"
    "    concurrency: 1\n"
    "    queue: {capacity: 10000000}\n"
    "    service_time: {dist: exponential, mean: 20ms}\n"
    "cohorts:\n"
    "  - {name: c1, count: 1000000, target: s, arrival: {mode: poisson, rate: "
    "1}, timeout: 1h, policy: p}\n"
    "  - {name: c2, count: 1000000, target: s, arrival: {mode: poisson, rate: "
    "1}, timeout: 1h, policy: p}\n"
    "  - {name: c3, count: 1000000, target: s, arrival: {mode: poisson, rate: "
    "1}, timeout: 1h, policy: p}\n"
    "  - {name: c4, count: 1000000, target: s, arrival: {mode: poisson, rate: "
    "1}, timeout: 1h, policy: p}\n"
    "  - {name: c5, count: 1000000, target: s, arrival: {mode: poisson, rate: "
    "1}, timeout: 1h, policy: p}\n";

static void test_sim_memory(void **state) {
  (void)state;
  if (!rein_bin) skip();
  put("grow.yaml", grow);
  child *c = malloc(sizeof *c);
  run_rein(c, 120,
           (const char *[]){"simulate", "--max-memory", "256MiB", "grow.yaml",
                            NULL});
  assert_int_equal(c->code, 1);
  assert_true(c->secs < 60);
  /* the budget plus the program, libyaml and the sanitizer's slack */
  /* REIN_TEST_ASAN: any sanitizer build (tests/input.cmake) */
  long bound = getenv("REIN_TEST_ASAN") ? 1024 * 1024 : 320 * 1024;
  assert_true(c->rss_kb < bound);
  /* which structure crosses the budget first depends on the engine's
   * allocation order; the message names it and the others' sizes */
  assert_non_null(strstr(c->out, "memory budget of 256 MiB exceeded while "
                                 "running: "));
  assert_non_null(strstr(c->out, " would grow to "));
  assert_non_null(strstr(c->out, "in-flight calls "));
  /* the same cap set in the scenario */
  char *s = malloc(sizeof grow + 64);
  snprintf(s, sizeof grow + 64, "max_memory: 256MiB\n%s", grow);
  put("grow2.yaml", s);
  free(s);
  run_rein(c, 120, (const char *[]){"simulate", "grow2.yaml", NULL});
  assert_int_equal(c->code, 1);
  assert_non_null(strstr(c->out, "memory budget of 256 MiB exceeded"));
  /* what is known up front is refused before the run starts */
  run_rein(
      c, 60,
      (const char *[]){"simulate", "--max-memory", "64MiB", "grow.yaml", NULL});
  assert_int_equal(c->code, 1);
  assert_true(c->secs < 10);
  assert_non_null(strstr(c->out, "memory budget of 64 MiB exceeded before the "
                                 "run: series samples would grow to"));
  run_rein(
      c, 20,
      (const char *[]){"simulate", "--max-memory", "lots", "grow.yaml", NULL});
  assert_int_equal(c->code, 2);
  assert_non_null(strstr(c->out, "--max-memory must be a size"));
  free(c);
}

/* rein_edit_distance against a plain full-matrix optimal string alignment
 * (no band, no cap, no early exit): the capped distance must be min(d,
 * cap + 1) for random words over a small alphabet (so near misses and
 * transpositions are common), lengths 0..70 (past the 64-byte limit). */
static size_t osa_ref(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  static size_t d[72][72];
  for (size_t i = 0; i <= la; i++)
    for (size_t j = 0; j <= lb; j++) {
      if (!i || !j) {
        d[i][j] = i + j;
        continue;
      }
      int x = tolower((unsigned char)a[i - 1]), y = tolower((unsigned char)b[j - 1]);
      size_t v = d[i - 1][j - 1] + (x != y);
      if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && x == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == y && d[i - 2][j - 2] + 1 < v)
        v = d[i - 2][j - 2] + 1;
      d[i][j] = v;
    }
  return d[la][lb];
}

static void test_edit_distance(void **state) {
  (void)state;
  assert_int_equal(rein_edit_distance("atempts", "attempts", 3), 1);
  assert_int_equal(rein_edit_distance("gte", "get", 1), 1);
  assert_int_equal(rein_edit_distance("Timeout", "timeout", 0), 0);
  assert_int_equal(rein_edit_distance("", "abc", 3), 3);
  assert_int_equal(rein_edit_distance("kitten", "sitting", 2), 3);
  unsigned seed = (unsigned)time(NULL);
  printf("test_edit_distance: seed %u\n", seed);
  srand(seed);
  static const char al[] = "abAB-_";
  char a[72], b[72];
  for (int it = 0; it < 200000; it++) {
    size_t la = (size_t)rand() % (it % 8 ? 12 : 71);
    size_t lb = (size_t)rand() % (it % 8 ? 12 : 71);
    size_t k = (size_t)rand() % 6 + 1;
    for (size_t i = 0; i < la; i++)
      a[i] = al[(size_t)rand() % k];
    a[la] = 0;
    if (it % 3 == 0) { /* a near miss: a itself with two bytes swapped */
      memcpy(b, a, la + 1);
      lb = la;
      if (la > 1) {
        size_t p = (size_t)rand() % (la - 1);
        char c = b[p];
        b[p] = b[p + 1];
        b[p + 1] = c;
      }
    } else {
      for (size_t i = 0; i < lb; i++)
        b[i] = al[(size_t)rand() % k];
      b[lb] = 0;
    }
    size_t ref = osa_ref(a, b);
    for (size_t cap = 0; cap <= 5; cap++) {
      size_t want = la > 64 || lb > 64 || ref > cap ? cap + 1 : ref;
      size_t got = rein_edit_distance(a, b, cap);
      if (got != want)
        fail_msg("seed %u: '%s' '%s' cap %zu: got %zu, want %zu", seed, a, b,
                 cap, got, want);
    }
  }
}

int main(int argc, char **argv) {
  static char bin[4096];
  rein_bin = argc > 1 && realpath(argv[1], bin) ? bin : NULL; /* we chdir */
  snprintf(tmp, sizeof tmp, "/tmp/rein-input.XXXXXX");
  if (!mkdtemp(tmp)) return 2;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape),
      cmocka_unit_test(test_edit_distance),
      cmocka_unit_test(test_utf8_scrub),
      cmocka_unit_test(test_depth_flow),
      cmocka_unit_test(test_depth_block),
      cmocka_unit_test(test_depth_not_fooled),
      cmocka_unit_test(test_size),
      cmocka_unit_test(test_file_read),
      cmocka_unit_test(test_check_bounds),
      cmocka_unit_test(test_check_symlink_loop),
      cmocka_unit_test(test_deep_nesting),
      cmocka_unit_test(test_fifo),
      cmocka_unit_test(test_escapes),
      cmocka_unit_test(test_sim_memory),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
