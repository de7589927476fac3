/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ledger_proc.h: examples/ledger as a child process for end-to-end tests,
 * and the small HTTP client they share. Not installed.
 *
 * Three e2e suites (test_ledger_http, test_ledger_store_loss,
 * test_admit_ledger) start the ledger the same way: a private temp dir
 * with its SQLite file and log, `--port 0` and a port file to learn the
 * port, SIGTERM to stop and an SIGKILL in teardown when an assertion left
 * it running. Failures go through cmocka (fail_msg), so call these from a
 * test, not from a setup that must not fail.
 */
#ifndef REIN_TEST_LEDGER_PROC_H
#define REIN_TEST_LEDGER_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct ledger_proc {
  pid_t pid; /* 0 when not running */
  unsigned port;
  char dir[64]; /* temp dir: ledger.db, port, ledger.log */
} ledger_proc;

/* Start `bin` with `--port 0 --port-file DIR/port --db DIR/ledger.db` and
 * `extra` (NULL-terminated, may be NULL), where DIR is a new
 * /tmp/TAG.XXXXXX; stdout and stderr go to DIR/ledger.log. Waits up to 5 s
 * for the port file, else kills it and fails the test pointing at the log
 * (the dir is kept for that). */
void ledger_proc_start(ledger_proc *lp, const char *bin, const char *tag,
                       const char *const *extra);
/* ---- authentication -------------------------------------------------------
 * Every ledger a test starts verifies tokens with LEDGER_PROC_KEY, passed
 * as $LEDGER_AUTH_KEY: ledger_proc_start sets it; a test that spawns the
 * ledger itself calls ledger_proc_auth_init() first (from main, before any
 * thread: it calls setenv). A client authenticates with
 *   Authorization: Bearer <ledger_proc_token(principal)>
 * and the admin endpoints take the token of LEDGER_ADMIN_PRINCIPAL
 * ("_admin"). The token is minted by ledger_auth_mint
 * (examples/ledger/ledger_auth.c), the code `ledger --mint-token` runs. */
#define LEDGER_PROC_KEY "rein-e2e-test-key-0123456789abcdef0123456789"
void ledger_proc_auth_init(void);
/* The token of `principal` into buf (cap >= 160); fails the test when the
 * principal is invalid. Returns buf. */
char *ledger_proc_token(const char *principal, char *buf, size_t cap);
/* "Authorization: Bearer <token>" into buf (cap >= 200). Returns buf. */
char *ledger_proc_auth_header(const char *principal, char *buf, size_t cap);

/* SIGTERM, wait, remove the dir; returns the wait status. */
int ledger_proc_stop(ledger_proc *lp);
/* SIGKILL when still running, then remove the dir (for teardown). */
void ledger_proc_kill(ledger_proc *lp);
/* Remove `dir` and what is in it. */
void ledger_proc_rmdir(const char *dir);

/* fork and exec argv[0] (searched in PATH) with stdout and stderr
 * appended to `log`; returns the child's pid (fails the test when fork
 * fails; an exec failure shows as exit status 127). */
pid_t rein_test_spawn(const char *const *argv, const char *log);

/* nanosleep for `ms`, resumed after signals. */
void rein_test_sleep_ms(long ms);

/* One HTTP response, body and headers as text (truncated to fit). */
typedef struct http_resp {
  long status;
  char body[16384];
  size_t body_len;
  char headers[4096];
  size_t hdr_len;
} http_resp;

/* Sends `req` (len bytes, exactly as given: for requests libcurl will not
 * write, e.g. a folded header line) to 127.0.0.1:port over a new
 * connection bound to `src` (an address in 127.0.0.0/8; NULL = any),
 * reads until the server closes or `timeout_ms` passes, and fills `r`
 * (status 0 when no status line came). Returns 0, or -1 when it could
 * not connect or send. Send "Connection: close" to get the whole answer
 * without waiting for the timeout. */
int ledger_proc_raw(unsigned port, const char *src, const char *req, size_t len,
                    http_resp *r, int timeout_ms);

/* POST /charges to 127.0.0.1:port as `principal` with Idempotency-Key
 * "key" (NULL: none) and the JSON `body`, over a new connection
 * (ledger_proc_raw, so no libcurl): r->status is 0 when no answer came
 * (the ledger died, or timeout_ms passed). Returns ledger_proc_raw's. */
int ledger_proc_post_charge(unsigned port, const char *principal,
                            const char *key, const char *body, http_resp *r,
                            int timeout_ms);

/* libcurl write and header callbacks that fill an http_resp. */
size_t http_resp_on_body(char *p, size_t sz, size_t n, void *ud);
size_t http_resp_on_header(char *p, size_t sz, size_t n, void *ud);

#endif
