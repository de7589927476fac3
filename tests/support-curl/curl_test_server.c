/* SPDX-License-Identifier: Apache-2.0 */
/*
 * curl_test_server.c: the scripted test server of curl_test_server.h.
 *
 * libmicrohttpd with a thread per connection, so a delayed answer never
 * holds up another connection. State (scripts, request log) is behind one
 * mutex; handlers copy what they need and sleep outside it.
 */
#include "curl_test_server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SCRIPT 64
#define MAX_PATHS 16
#define MAX_LOG 256

typedef struct script {
  char path[64];
  ts_response r[MAX_SCRIPT];
  size_t n, next;
} script;

struct ts_server {
  struct MHD_Daemon *d;
  int port;
  pthread_mutex_t mu;
  script scripts[MAX_PATHS];
  size_t nscripts;
  ts_request log[MAX_LOG];
  size_t nlog;
};

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  ts_server *s = cls;
  (void)version;
  (void)upload;
  if (!*con_cls) {
    *con_cls = s; /* first call: headers only */
    return MHD_YES;
  }
  if (*upload_size) {
    *upload_size = 0; /* bodies are ignored */
    return MHD_YES;
  }
  ts_response r = {200, NULL, 0};
  pthread_mutex_lock(&s->mu);
  if (s->nlog < MAX_LOG) {
    ts_request *q = &s->log[s->nlog];
    copy(q->method, sizeof q->method, method);
    copy(q->path, sizeof q->path, url);
    copy(q->attempt, sizeof q->attempt,
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Rein-Attempt"));
    copy(q->key, sizeof q->key,
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                     "Idempotency-Key"));
    copy(q->custom, sizeof q->custom,
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test"));
    copy(q->arg_x, sizeof q->arg_x,
         MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "x"));
    copy(q->deadline, sizeof q->deadline,
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Rein-Deadline"));
    copy(q->grpc_timeout, sizeof q->grpc_timeout,
         MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "grpc-timeout"));
  }
  s->nlog++;
  for (size_t i = 0; i < s->nscripts; i++) {
    script *sc = &s->scripts[i];
    if (strcmp(sc->path, url) == 0 && sc->next < sc->n) {
      r = sc->r[sc->next++];
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  if (r.delay_ms > 0) {
    struct timespec ts = {r.delay_ms / 1000, (r.delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
  }
  if (r.status == 0) return MHD_NO; /* drop the connection */
  static const char body[] = "ok";
  struct MHD_Response *resp = MHD_create_response_from_buffer(
      sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  if (r.headers) {
    const char *p = r.headers;
    while (*p) {
      const char *nl = strchr(p, '\n');
      size_t len = nl ? (size_t)(nl - p) : strlen(p);
      char line[512];
      if (len < sizeof line) {
        memcpy(line, p, len);
        line[len] = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
          *colon = '\0';
          char *v = colon + 1;
          while (*v == ' ') v++;
          MHD_add_response_header(resp, line, v);
        }
      }
      p += len;
      if (*p == '\n') p++;
    }
  }
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r.status, resp);
  MHD_destroy_response(resp);
  return ret;
}

ts_server *ts_start(void) {
  ts_server *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_POLL,
      0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
  if (!s->d) {
    free(s);
    return NULL;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : 0;
  return s;
}

int ts_port(const ts_server *s) { return s->port; }

void ts_script(ts_server *s, const char *path, const ts_response *r,
               size_t n) {
  pthread_mutex_lock(&s->mu);
  script *sc = NULL;
  for (size_t i = 0; i < s->nscripts; i++)
    if (strcmp(s->scripts[i].path, path) == 0) sc = &s->scripts[i];
  if (!sc && s->nscripts < MAX_PATHS) {
    sc = &s->scripts[s->nscripts++];
    copy(sc->path, sizeof sc->path, path);
  }
  for (size_t i = 0; sc && i < n && sc->n < MAX_SCRIPT; i++)
    sc->r[sc->n++] = r[i];
  pthread_mutex_unlock(&s->mu);
}

size_t ts_requests(ts_server *s, ts_request *out, size_t cap) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nlog;
  for (size_t i = 0; i < n && i < cap && i < MAX_LOG; i++) out[i] = s->log[i];
  pthread_mutex_unlock(&s->mu);
  return n;
}

void ts_stop(ts_server *s) {
  if (!s) return;
  MHD_stop_daemon(s->d);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int ts_closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
    port = ntohs(sa.sin_port);
  close(fd);
  return port;
}
