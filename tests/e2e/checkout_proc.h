/* SPDX-License-Identifier: Apache-2.0 */
/*
 * checkout_proc.h: examples/checkout as a child process for the
 * three-process e2e tests (shop -> checkout -> ledger), and the small
 * HTTP helpers they share. Not installed. The ledger side is ledger_proc.h.
 */
#ifndef REIN_TEST_CHECKOUT_PROC_H
#define REIN_TEST_CHECKOUT_PROC_H

#include "ledger_proc.h"

#include <stdint.h>

typedef struct checkout_proc {
  pid_t pid; /* 0 when not running */
  unsigned port;
  char dir[64]; /* temp dir: port, checkout.log */
} checkout_proc;

/* Start `bin --port 0 --port-file DIR/port --ledger http://127.0.0.1:LPORT
 * --contracts CONTRACTS --quiet EXTRA...` with $CHECKOUT_LEDGER_TOKEN set
 * to the ledger token of principal "checkout"; waits up to 5 s for the
 * port, else fails the test pointing at the log. */
void checkout_proc_start(checkout_proc *cp, const char *bin,
                         const char *contracts, unsigned ledger_port,
                         const char *const *extra);
/* SIGTERM, wait, remove the dir (also from teardown: no-op when stopped). */
void checkout_proc_stop(checkout_proc *cp);

/* GET or POST (body != NULL) http://127.0.0.1:port/path with `hdr` (one
 * header line or NULL); fills r; returns the status (0 = no answer). */
long test_http(unsigned port, const char *path, const char *hdr,
               const char *body, http_resp *r);
/* The value of Prometheus sample `name` (the whole "name{labels}" text)
 * on GET /metrics; 0 when absent. */
uint64_t test_metric(unsigned port, const char *name);

#endif
