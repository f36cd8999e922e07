/* The Admin API client's HTTP rules against a scripted HTTPS server (libmicrohttpd, with
 * the certificate aspd --dev generates), for replies aspd has no reason to give: a GET is
 * retried after 503 and 429 and waits for Retry-After; a POST never is; a Retry-After
 * beyond the bound is not waited for; a service account fetches a new token after a 401;
 * a secret echoed by the server is scrubbed; timeout_ms bounds a silent server. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asp_admin.h"
#include "aspd_harness.h"
#include "check_msg.h"

#define GROUP "0123456789abcdef01234567"
#define PREFIX "/api/atlas/v2/groups/" GROUP "/streams/ws/connections/"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int hits_flaky, hits_post, hits_broken, hits_far, hits_token, hits_bearer;
static int tokens_issued;
static char last_accept[128];

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char *buf = calloc(1, (size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) buf[0] = '\0';
  fclose(f);
  return buf;
}

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

/* The route table of the script: each path answers by how often it has been hit. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  if (*state == NULL) { /* first call: headers only */
    *state = (void *)1;
    return MHD_YES;
  }
  if (*upload_size) { /* the body is not needed: consume it */
    *upload_size = 0;
    return MHD_YES;
  }
  const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  pthread_mutex_lock(&lock);
  snprintf(last_accept, sizeof last_accept, "%s", accept ? accept : "");
  int n;
  enum MHD_Result ok;
  if (strcmp(url, "/api/oauth/token") == 0) {
    n = ++hits_token;
    char body[128];
    snprintf(body, sizeof body,
             "{\"access_token\":\"tok-%d\",\"expires_in\":3600,\"token_type\":\"Bearer\"}",
             ++tokens_issued);
    ok = reply(c, 200, body, NULL);
  } else if (strcmp(url, PREFIX "flaky") == 0) {
    n = ++hits_flaky;
    ok = n == 1   ? reply(c, 503, "{\"error\":503}", NULL)
         : n == 2 ? reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "1")
                  : reply(c, 200, "{\"name\":\"flaky\"}", NULL);
  } else if (strcmp(method, "POST") == 0) {
    n = ++hits_post;
    ok = reply(c, 503, "{\"error\":503,\"detail\":\"busy\"}", NULL);
  } else if (strcmp(url, PREFIX "broken") == 0) {
    n = ++hits_broken;
    ok = reply(c, 500, "{\"error\":500,\"errorCode\":\"UNEXPECTED_ERROR\"}", NULL);
  } else if (strcmp(url, PREFIX "far") == 0) {
    n = ++hits_far;
    ok = reply(c, 429, "{\"error\":429,\"errorCode\":\"RATE_LIMITED\"}", "3600");
  } else if (strcmp(url, PREFIX "bearer") == 0) {
    n = ++hits_bearer;
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
    sleep(2);
    return reply(c, 200, "{}", NULL);
  } else {
    ok = reply(c, 404, "{\"error\":404}", NULL);
  }
  pthread_mutex_unlock(&lock);
  return ok;
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
  if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
    printf("libmicrohttpd without TLS: skipped\n");
    return 77;
  }
  /* aspd --dev writes a CA and a server certificate for 127.0.0.1; only the files are used */
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  aspd_harness_stop(&inst);
  char path[600];
  snprintf(path, sizeof path, "%s/dev/server.pem", inst.state_dir);
  char *cert = slurp(path);
  snprintf(path, sizeof path, "%s/dev/server.key", inst.state_dir);
  char *key = slurp(path);
  CHECK(cert && key, "dev certificate files");
  if (!cert || !key) return check_msg_report("core.admin_http");

  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
      handle, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_END);
  CHECK(d != NULL, "the HTTPS server starts");
  if (!d) return check_msg_report("core.admin_http");
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  char base[64];
  snprintf(base, sizeof base, "https://127.0.0.1:%u", (unsigned)info->port);

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
  CHECK(hits_flaky == 3, "flaky was hit %d times", hits_flaky);
  CHECK(waited >= 1.0, "Retry-After: 1 honoured (waited %.2f s)", waited);
  CHECK(strcmp(last_accept, "application/vnd.atlas.2023-02-01+json") == 0, "Accept: %s",
        last_accept);

  /* a POST is sent once, whatever the status */
  asp_admin_args_t create = {.workspace = "ws", .body = NULL};
  bson_t *body = BCON_NEW("name", "s", "type", "Sample");
  create.body = body;
  CHECK(!asp_admin_call(a, ASP_ADMIN_CONNECTION_CREATE, &create, &r, &err), "POST fails");
  bson_destroy(&r);
  CHECK(hits_post == 1, "POST sent %d times", hits_post);
  CHECK(err.domain == ASP_DOMAIN_ADMIN && err.code == 503, "POST error %d", err.code);
  CHECK(strcmp(err.message, "busy") == 0, "message is the detail: %s", err.message);

  /* 500 every time: 1 + retries attempts, then the error */
  CHECK(!get(a, "broken", &r, &err), "broken GET fails");
  bson_destroy(&r);
  CHECK(hits_broken == 1 + ASP_ADMIN_DEFAULT_RETRIES, "broken hit %d times", hits_broken);
  CHECK(err.code == 500 && strcmp(err.code_name, "UNEXPECTED_ERROR") == 0, "500 %s", err.code_name);

  /* a Retry-After of an hour is not waited for */
  t0 = now_s();
  CHECK(!get(a, "far", &r, &err), "far GET fails");
  bson_destroy(&r);
  CHECK(hits_far == 1 && now_s() - t0 < 1.0, "far: %d hits", hits_far);
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
  CHECK(asp_admin_tokens_fetched(a) == 2 && hits_bearer == 2, "tokens %d, hits %d",
        (int)asp_admin_tokens_fetched(a), hits_bearer);
  CHECK(get(a, "bearer", &r, &err), "the new token is cached: %s", err.message);
  bson_destroy(&r);
  CHECK(hits_token == 2, "token endpoint hit %d times", hits_token);
  asp_admin_destroy(a);

  bson_destroy(body);
  bson_destroy(conn);
  MHD_stop_daemon(d);
  free(cert);
  free(key);
  return check_msg_report("core.admin_http");
}
