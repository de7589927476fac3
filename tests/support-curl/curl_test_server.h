/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_test_server.h: a scripted HTTP server on 127.0.0.1 for the libcurl
 * integration tests (libmicrohttpd, one thread per connection).
 *
 * Each path has a script: the n-th request to that path gets the n-th
 * response; past the end, 200 "ok". A response can be delayed (to make the
 * client time out) or be a dropped connection (status 0: the server closes
 * the connection without answering). Every request is recorded with its
 * method, path, Rein-Attempt, Idempotency-Key and deadline headers, so a test can check what
 * each attempt carried.
 */
#ifndef REIN_CURL_TEST_SERVER_H
#define REIN_CURL_TEST_SERVER_H

#include <stddef.h>

typedef struct ts_server ts_server;

typedef struct ts_response {
  int status;          /* 0 = close the connection without an answer */
  const char *headers; /* "Name: value\n" lines, or NULL */
  int delay_ms;        /* wait before answering */
} ts_response;

typedef struct ts_request {
  char method[16];
  char path[64];
  char attempt[16]; /* Rein-Attempt value, "" when absent */
  char key[128];    /* Idempotency-Key value as sent, "" when absent */
  char custom[64];  /* X-Test header value, "" when absent */
  char deadline[32]; /* Rein-Deadline value, "" when absent */
  char grpc_timeout[32]; /* grpc-timeout value, "" when absent */
  char arg_x[32];        /* the query argument x, "" when absent */
} ts_request;

/* NULL on failure. */
ts_server *ts_start(void);
int ts_port(const ts_server *s);
/* Append responses to the script of `path`. */
void ts_script(ts_server *s, const char *path, const ts_response *r, size_t n);
/* Copy up to `cap` recorded requests in arrival order; returns how many were
 * recorded in all. */
size_t ts_requests(ts_server *s, ts_request *out, size_t cap);
void ts_stop(ts_server *s);
/* A loopback port nothing listens on (bound, then closed). */
int ts_closed_port(void);

#endif
