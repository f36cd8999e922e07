/* An HTTPS endpoint for aspd's $https stage in tests, run as its own process
 * (started like the scripted Admin API server, through scripted_server.c):
 *
 *   https_endpoint_server --cert PEM --key PEM
 *
 * Serves HTTPS (libmicrohttpd, a thread per connection) on 127.0.0.1 on a free
 * port, which it prints on a line of its own. Routes:
 *   /echo...        200 JSON {method, path, query: {...}, headers: {x-test, x-conn,
 *                   content-type}, body: "<the request body>"}
 *   /status/<n>     status n, JSON {"status": n}
 *   /slow/<ms>      waits ms milliseconds, then 200 JSON {"slept": ms}
 *   /text           200 text/plain
 *   /empty          200 with no body
 *   /html           200 text/html
 *   /array          200 JSON array
 *   /nested         200 JSON whose field holds JSON text
 *   /notype         200 JSON without a Content-Type
 * Stops on SIGTERM or SIGINT and when its parent dies (PR_SET_PDEATHSIG); exits 0
 * then, 77 when libmicrohttpd has no TLS, 2 on bad arguments or when it cannot start. */
#include "mhd_test_server.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A growing text buffer. */
typedef struct {
  char *s;
  size_t len;
} text_t;

static void add(text_t *t, const char *s, size_t n) {
  t->s = realloc(t->s, t->len + n + 1);
  memcpy(t->s + t->len, s, n);
  t->len += n;
  t->s[t->len] = '\0';
}

static void add_str(text_t *t, const char *s) {
  add(t, s, strlen(s));
}

/* s as a JSON string (NULL as null). */
static void add_json_string(text_t *t, const char *s, size_t n) {
  if (!s) {
    add_str(t, "null");
    return;
  }
  add_str(t, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      add(t, esc, 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      add_str(t, esc);
    } else {
      add(t, (const char *)&c, 1);
    }
  }
  add_str(t, "\"");
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const char *body, size_t len) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
  if (type) MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ok = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, const char *body) {
  return reply(c, status, "application/json", body, strlen(body));
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
  (void)kind;
  text_t *t = cls;
  if (t->s[t->len - 1] != '{') add_str(t, ", ");
  add_json_string(t, key, strlen(key));
  add_str(t, ": ");
  add_json_string(t, value, value ? strlen(value) : 0);
  return MHD_YES;
}

static enum MHD_Result echo(struct MHD_Connection *c, const char *url, const char *method,
                            const text_t *body) {
  text_t t = {0};
  add_str(&t, "{\"method\": ");
  add_json_string(&t, method, strlen(method));
  add_str(&t, ", \"path\": ");
  add_json_string(&t, url, strlen(url));
  add_str(&t, ", \"query\": {");
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &t);
  add_str(&t, "}, \"headers\": {");
  static const char *const names[] = {"x-test", "x-conn", "content-type"};
  for (size_t i = 0; i < 3; i++) {
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, names[i]);
    add_str(&t, i ? ", \"" : "\"");
    add_str(&t, names[i]);
    add_str(&t, "\": ");
    add_json_string(&t, v, v ? strlen(v) : 0);
  }
  add_str(&t, "}, \"body\": ");
  add_json_string(&t, body->s ? body->s : "", body->len);
  add_str(&t, "}");
  enum MHD_Result ok = reply_json(c, 200, t.s);
  free(t.s);
  return ok;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method,
                             const text_t *body) {
  if (!strncmp(url, "/echo", 5)) return echo(c, url, method, body);
  if (!strncmp(url, "/status/", 8)) {
    unsigned status = (unsigned)atoi(url + 8);
    char text[64];
    snprintf(text, sizeof text, "{\"status\": %u}", status);
    return reply_json(c, status >= 100 && status < 600 ? status : 500, text);
  }
  if (!strncmp(url, "/slow/", 6)) {
    int ms = atoi(url + 6);
    usleep((useconds_t)ms * 1000);
    char text[64];
    snprintf(text, sizeof text, "{\"slept\": %d}", ms);
    return reply_json(c, 200, text);
  }
  if (!strcmp(url, "/text")) return reply(c, 200, "text/plain; charset=utf-8", "hello, stream", 13);
  if (!strcmp(url, "/empty")) return reply(c, 200, "application/json", "", 0);
  if (!strcmp(url, "/html")) return reply(c, 200, "text/html", "<p>hi</p>", 9);
  if (!strcmp(url, "/array")) return reply_json(c, 200, "[1, 2.5, \"x\"]");
  if (!strcmp(url, "/nested")) return reply_json(c, 200, "{\"inner\": \"{\\\"a\\\": [1, 2]}\"}");
  if (!strcmp(url, "/notype")) return reply(c, 200, NULL, "{\"ok\": true}", 12);
  return reply_json(c, 404, "{\"error\": \"no such route\"}");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  (void)cls, (void)version;
  if (*state == NULL) { /* first call: headers only */
    *state = calloc(1, sizeof(text_t));
    return MHD_YES;
  }
  text_t *body = *state;
  if (*upload_size) {
    add(body, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  return route(c, url, method, body);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code) {
  (void)cls, (void)c, (void)code;
  text_t *body = *state;
  if (body) free(body->s);
  free(body);
  *state = NULL;
}

int main(int argc, char **argv) {
  return mhd_test_server_main(argc, argv, "https_endpoint_server", handle, completed);
}
