/* A scripted Admin API server for the tests, run as its own process so
 * that the client under test never shares a process with the server it talks to.
 *
 *   scripted_admin_server --cert PEM --key PEM
 *
 * Serves HTTPS (libmicrohttpd) on 127.0.0.1 on a free port and prints that port on a line
 * of its own on stdout. Each route answers by how often it has been hit, with the replies
 * aspd has no reason to give (503, 429 with Retry-After, 500, a revoked token, an echoed
 * secret, a body that is not JSON, silence). GET /__script/hits returns the per-route hit
 * counters and the Accept header of the last scripted request as JSON, for the test to
 * assert on. Used by tests/core/test_admin_http.c and spec/error_table_spec.lua.
 *
 * Stops on SIGTERM or SIGINT, and when its parent dies (PR_SET_PDEATHSIG); exits 0 then,
 * 77 when libmicrohttpd has no TLS, 2 on bad arguments or when it cannot start. */
#include "mhd_test_server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GROUP "0123456789abcdef01234567"
#define PREFIX "/api/atlas/v2/groups/" GROUP "/streams/ws/connections/"

/* Handlers run on one thread per connection: the counters are shared under the lock. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int hits_flaky, hits_post, hits_broken, hits_far, hits_token, hits_bearer;
static int tokens_issued;
static char last_accept[128];

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *retry_after) {
  /* MUST_COPY: libmicrohttpd copies the text (its parameter is not const) */
  char *copy = strdup(body);
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(copy), copy, MHD_RESPMEM_MUST_COPY);
  free(copy);
  MHD_add_response_header(r, "Content-Type", "application/json");
  if (retry_after) MHD_add_response_header(r, "Retry-After", retry_after);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* The counters as JSON; the Accept value is the client's, so it is escaped. Call locked. */
static enum MHD_Result reply_hits(struct MHD_Connection *c) {
  char accept[2 * sizeof last_accept];
  size_t j = 0;
  for (size_t i = 0; last_accept[i] && j + 2 < sizeof accept; i++) {
    char ch = last_accept[i];
    if (ch == '"' || ch == '\\') accept[j++] = '\\';
    accept[j++] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  accept[j] = '\0';
  char body[512];
  snprintf(body, sizeof body,
           "{\"flaky\":%d,\"post\":%d,\"broken\":%d,\"far\":%d,\"token\":%d,\"bearer\":%d,"
           "\"accept\":\"%s\"}",
           hits_flaky, hits_post, hits_broken, hits_far, hits_token, hits_bearer, accept);
  return reply(c, 200, body, NULL);
}

/* The route table of the script: each path answers by how often it has been hit. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  (void)cls, (void)version, (void)upload;
  if (*state == NULL) { /* first call: headers only */
    *state = (void *)1;
    return MHD_YES;
  }
  if (*upload_size) { /* the body is not needed: consume it */
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&lock);
  enum MHD_Result ok;
  if (strcmp(url, "/__script/hits") == 0) { /* the test's own view: not a scripted request */
    ok = reply_hits(c);
    pthread_mutex_unlock(&lock);
    return ok;
  }
  const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  snprintf(last_accept, sizeof last_accept, "%s", accept ? accept : "");
  if (strcmp(url, "/api/oauth/token") == 0) {
    ++hits_token;
    char body[128];
    snprintf(body, sizeof body,
             "{\"access_token\":\"tok-%d\",\"expires_in\":3600,\"token_type\":\"Bearer\"}",
             ++tokens_issued);
    ok = reply(c, 200, body, NULL);
  } else if (strcmp(url, PREFIX "flaky") == 0) {
    int n = ++hits_flaky;
    ok = n == 1   ? reply(c, 503, "{\"error\":503}", NULL)
         : n == 2 ? reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "1")
                  : reply(c, 200, "{\"name\":\"flaky\"}", NULL);
  } else if (strcmp(method, "POST") == 0) {
    ++hits_post;
    ok = reply(c, 503, "{\"error\":503,\"detail\":\"busy\"}", NULL);
  } else if (strcmp(url, PREFIX "broken") == 0) {
    ++hits_broken;
    ok = reply(c, 500, "{\"error\":500,\"errorCode\":\"UNEXPECTED_ERROR\"}", NULL);
  } else if (strcmp(url, PREFIX "notjson") == 0) { /* a proxy's error page, say */
    ok = reply(c, 200, "<html><body>Bad Gateway</body></html>", NULL);
  } else if (strcmp(url, PREFIX "far") == 0) {
    ++hits_far;
    ok = reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "3600");
  } else if (strcmp(url, PREFIX "bearer") == 0) {
    ++hits_bearer;
    /* only the second token is good: the first is "revoked" */
    bool good = auth && strcmp(auth, "Bearer tok-2") == 0;
    ok = good ? reply(c, 200, "{\"name\":\"bearer\"}", NULL)
              : reply(c, 401, "{\"error\":401,\"errorCode\":\"UNAUTHORIZED\"}", NULL);
  } else if (strcmp(url, PREFIX "echo") == 0) {
    ok = reply(c, 400,
               "{\"error\":400,\"errorCode\":\"INVALID\",\"detail\":\"bad password "
               "kafka-pass-99 for user\"}",
               NULL);
  } else if (strcmp(url, PREFIX "slow") == 0) {
    pthread_mutex_unlock(&lock);
    sleep(2); /* longer than the client's timeout_ms, so that the client gives up first */
    return reply(c, 200, "{}", NULL);
  } else {
    ok = reply(c, 404, "{\"error\":404}", NULL);
  }
  pthread_mutex_unlock(&lock);
  return ok;
}

int main(int argc, char **argv) {
  return mhd_test_server_main(argc, argv, "scripted_admin_server", handle, NULL);
}
