/* The Admin API client's HTTP rules against a scripted HTTPS server, for replies aspd has
 * no reason to give: a GET is retried after 503 and 429 and waits for Retry-After; a POST
 * never is; a Retry-After beyond the bound is not waited for; a service account fetches a
 * new token after a 401; a secret echoed by the server is scrubbed; timeout_ms bounds a
 * silent server. The server (tests/support/scripted_admin_server.c, libmicrohttpd with the
 * certificate aspd --dev generates) is a separate process, started and always stopped by
 * tests/support/scripted_server.c; its hit counters and the last Accept header it saw are
 * read from it over HTTPS (GET /__script/hits). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "asp_admin.h"
#include "aspd_harness.h"
#include "check_msg.h"
#include "scripted_server.h"

#define GROUP "0123456789abcdef01234567"

static scripted_server_t server;

/* The server's count of hits on one route (-1 when it cannot be read). */
static int hits(const char *route) {
  bson_t doc;
  bson_iter_t it;
  scripted_server_hits(&server, &doc);
  int n = bson_iter_init_find(&it, &doc, route) && BSON_ITER_HOLDS_INT32(&it) ? bson_iter_int32(&it)
                                                                              : -1;
  bson_destroy(&doc);
  return n;
}

/* The Accept header of the last scripted request the server saw ("" when unreadable). */
static const char *last_accept(void) {
  static char out[128];
  bson_t doc;
  bson_iter_t it;
  scripted_server_hits(&server, &doc);
  out[0] = '\0';
  if (bson_iter_init_find(&it, &doc, "accept") && BSON_ITER_HOLDS_UTF8(&it)) {
    snprintf(out, sizeof out, "%s", bson_iter_utf8(&it, NULL));
  }
  bson_destroy(&doc);
  return out;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool get(asp_admin_t *a, const char *name, bson_t *reply_doc, asp_error_t *err) {
  asp_admin_args_t args = {.workspace = "ws", .name = name};
  return asp_admin_call(a, ASP_ADMIN_CONNECTION_GET, &args, reply_doc, err);
}

int main(void) {
  /* aspd --dev writes a CA and a server certificate for 127.0.0.1; only the files are used */
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  aspd_harness_stop(&inst);
  char cert[600], key[600];
  snprintf(cert, sizeof cert, "%s/dev/server.pem", inst.state_dir);
  snprintf(key, sizeof key, "%s/dev/server.key", inst.state_dir);
  int started = scripted_server_start(&server, cert, key, inst.ca_file);
  if (started == 77) {
    printf("libmicrohttpd without TLS: skipped\n");
    return 77;
  }
  CHECK(started == 0, "the scripted HTTPS server starts");
  if (started != 0) return check_msg_report("core.admin_http");
  const char *base = server.base_url;

  asp_admin_opts_t o = {.base_url = base,
                        .group_id = GROUP,
                        .public_key = "pub",
                        .private_key = "priv-secret",
                        .ca_file = inst.ca_file,
                        .timeout_ms = 5000};
  asp_error_t err;
  asp_admin_t *a = asp_admin_new(&o, &err);
  CHECK(a != NULL, "admin handle: %s", err.message);
  bson_t r;

  /* 503, then 429 with Retry-After: 1, then 200 */
  double t0 = now_s();
  CHECK(get(a, "flaky", &r, &err), "flaky GET succeeds after two retries: %s", err.message);
  double waited = now_s() - t0;
  bson_destroy(&r);
  int n = hits("flaky");
  CHECK(n == 3, "flaky was hit %d times", n);
  CHECK(waited >= 1.0, "Retry-After: 1 honoured (waited %.2f s)", waited);
  const char *accept = last_accept();
  CHECK(strcmp(accept, "application/vnd.atlas.2023-02-01+json") == 0, "Accept: %s", accept);

  /* a POST is sent once, whatever the status */
  asp_admin_args_t create = {.workspace = "ws", .body = NULL};
  bson_t *body = BCON_NEW("name", "s", "type", "Sample");
  create.body = body;
  CHECK(!asp_admin_call(a, ASP_ADMIN_CONNECTION_CREATE, &create, &r, &err), "POST fails");
  bson_destroy(&r);
  n = hits("post");
  CHECK(n == 1, "POST sent %d times", n);
  CHECK(err.domain == ASP_DOMAIN_ADMIN && err.code == 503, "POST error %d", err.code);
  CHECK(strcmp(err.message, "busy") == 0, "message is the detail: %s", err.message);

  /* 500 every time: 1 + retries attempts, then the error */
  CHECK(!get(a, "broken", &r, &err), "broken GET fails");
  bson_destroy(&r);
  n = hits("broken");
  CHECK(n == 1 + ASP_ADMIN_DEFAULT_RETRIES, "broken hit %d times", n);
  CHECK(err.code == 500 && strcmp(err.code_name, "UNEXPECTED_ERROR") == 0, "500 %s", err.code_name);

  /* a Retry-After of an hour is not waited for */
  t0 = now_s();
  CHECK(!get(a, "far", &r, &err), "far GET fails");
  waited = now_s() - t0; /* before the counters are read: that request is not the client's */
  bson_destroy(&r);
  n = hits("far");
  CHECK(n == 1 && waited < 1.0, "far: %d hits in %.2f s", n, waited);
  CHECK(err.code == 429 && strcmp(err.code_name, "RATE_LIMITED") == 0, "429 %s", err.code_name);

  /* a secret of the request body echoed by the server is scrubbed */
  asp_admin_args_t update = {.workspace = "ws", .name = "echo"};
  bson_t *conn = BCON_NEW("type", "Kafka", "bootstrapServers", "h:1", "authentication", "{",
                          "mechanism", "PLAIN", "username", "u", "password", "kafka-pass-99", "}");
  update.body = conn;
  CHECK(!asp_admin_call(a, ASP_ADMIN_CONNECTION_UPDATE, &update, &r, &err), "echo fails");
  bson_destroy(&r);
  CHECK(err.code == 400 && strstr(err.message, "kafka-pass-99") == NULL &&
            strstr(err.message, "*****") != NULL,
        "scrubbed: %s", err.message);

  /* timeout_ms bounds a server that does not answer */
  asp_admin_destroy(a);
  o.timeout_ms = 300;
  a = asp_admin_new(&o, &err);
  t0 = now_s();
  CHECK(!get(a, "slow", &r, &err), "slow GET fails");
  bson_destroy(&r);
  CHECK(err.domain == ASP_DOMAIN_NETWORK && strstr(err.message, "timeout_ms = 300"), "timeout: %s",
        err.message);
  CHECK(now_s() - t0 < 1.5, "timeout took %.2f s", now_s() - t0);
  asp_admin_destroy(a);

  /* service account: the first token is refused, a second one is fetched, once */
  asp_admin_opts_t so = {.base_url = base,
                         .group_id = GROUP,
                         .client_id = "cid",
                         .client_secret = "csecret",
                         .ca_file = inst.ca_file};
  a = asp_admin_new(&so, &err);
  CHECK(get(a, "bearer", &r, &err), "bearer GET after a new token: %s", err.message);
  bson_destroy(&r);
  n = hits("bearer");
  CHECK(asp_admin_tokens_fetched(a) == 2 && n == 2, "tokens %d, hits %d",
        (int)asp_admin_tokens_fetched(a), n);
  CHECK(get(a, "bearer", &r, &err), "the new token is cached: %s", err.message);
  bson_destroy(&r);
  n = hits("token");
  CHECK(n == 2, "token endpoint hit %d times", n);
  asp_admin_destroy(a);

  bson_destroy(body);
  bson_destroy(conn);
  CHECK(scripted_server_stop(&server), "the scripted server exits 0 on SIGTERM");
  return check_msg_report("core.admin_http");
}
