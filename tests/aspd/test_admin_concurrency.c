/* The Admin API under concurrent use: several HTTPS clients create, read, update and
 * delete connections (and workspaces come and go) while a wire client starts and stops
 * processors that plan against the same registry. Every request gets a well-formed
 * answer and the registry ends as the clients left it. The clients use service-account
 * tokens: libmicrohttpd 0.9.75 derives a Digest nonce from the second, the method and
 * the path only, so two clients challenged for the same request in the same second share
 * a nonce and one of them is refused (see docs/aspd.md). */
#include <pthread.h>

#include "admin_http.h"
#include "workspace_test_util.h"

#define CLIENTS 4
#define ROUNDS 40

static aspd_instance_t inst;
static int thread_failures[CLIENTS + 1];

static void *http_client(void *arg) {
  int id = (int)(intptr_t)arg;
  admin_http_t *h = admin_http_new(&inst);
  admin_reply_t r = {0};
  char token[256];
  if (admin_http_token(h, "mdb_sa_id_load", "load-secret", true, token, sizeof token, &r) != 200) {
    thread_failures[id]++;
  }
  admin_reply_free(&r);
  admin_http_use_token(h, token);
  char body[256], url[256];
  for (int i = 0; i < ROUNDS; i++) {
    snprintf(body, sizeof body, "{\"name\": \"t%d_%d\", \"type\": \"Https\", \"url\": \"u\"}", id,
             i);
    snprintf(url, sizeof url, "ws:/connections/t%d_%d", id, i);
    long s1 = admin_http_request(h, "POST", "ws:/connections", ACCEPT_2023, body, &r);
    admin_reply_free(&r);
    long s2 = admin_http_request(h, "PATCH", url, ACCEPT_2023, "{\"url\": \"v\"}", &r);
    bool updated = !strcmp(admin_str(&r, "url"), "v");
    admin_reply_free(&r);
    long s3 =
        admin_http_request(h, "GET", "ws:/connections?itemsPerPage=500", ACCEPT_2023, NULL, &r);
    bool listed = r.body != NULL && admin_has(&r, "totalCount");
    admin_reply_free(&r);
    /* Keep the even ones. */
    long s4 = i % 2 ? admin_http_request(h, "DELETE", url, ACCEPT_2023, NULL, &r) : 202;
    admin_reply_free(&r);
    if (s1 != 200 || s2 != 200 || !updated || s3 != 200 || !listed || s4 != 202) {
      fprintf(stderr, "FAIL client %d round %d: %ld %ld %d %ld %d %ld\n", id, i, s1, s2, updated,
              s3, listed, s4);
      thread_failures[id]++;
    }
  }
  /* A workspace of this client's own, created and deleted. */
  char ws[512], url2[1024];
  snprintf(ws, sizeof ws,
           "{\"name\": \"ws%d\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", "
           "\"region\": \"VIRGINIA_USA\"}}",
           id);
  snprintf(url2, sizeof url2, "%s/api/atlas/v2/groups/%s/streams", inst.admin_root, inst.group_id);
  long c = admin_http_request(h, "POST", url2, ACCEPT_2023, ws, &r);
  admin_reply_free(&r);
  snprintf(url2 + strlen(url2), sizeof url2 - strlen(url2), "/ws%d", id);
  long d = admin_http_request(h, "DELETE", url2, ACCEPT_2023, NULL, &r);
  admin_reply_free(&r);
  if (c != 200 || d != 202) {
    fprintf(stderr, "FAIL client %d workspace: %ld %ld\n", id, c, d);
    thread_failures[id]++;
  }
  admin_http_free(h);
  return NULL;
}

static volatile bool stop_wire;

static void *wire_client(void *arg) {
  (void)arg;
  mongoc_client_t *c = wt_client(&inst);
  bson_t reply;
  bson_error_t error;
  for (int i = 0; !stop_wire; i++) {
    bool ok = wt_run(c, "{\"startStreamProcessor\": \"busy\"}", &reply, &error);
    bson_destroy(&reply);
    ok = ok && wt_run(c, "{\"listStreamConnections\": 1}", &reply, &error);
    bson_destroy(&reply);
    ok = ok && wt_run(c, "{\"stopStreamProcessor\": \"busy\"}", &reply, &error);
    bson_destroy(&reply);
    if (!ok) {
      fprintf(stderr, "FAIL wire round %d: %s\n", i, error.message);
      thread_failures[CLIENTS]++;
      break;
    }
  }
  mongoc_client_destroy(c);
  return NULL;
}

int main(void) {
  const char *args[] = {"--service-account", "mdb_sa_id_load:load-secret", NULL};
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"busy\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  pthread_t threads[CLIENTS], wire;
  pthread_create(&wire, NULL, wire_client, NULL);
  for (int i = 0; i < CLIENTS; i++) {
    pthread_create(&threads[i], NULL, http_client, (void *)(intptr_t)i);
  }
  for (int i = 0; i < CLIENTS; i++) pthread_join(threads[i], NULL);
  stop_wire = true;
  pthread_join(wire, NULL);
  for (int i = 0; i <= CLIENTS; i++) wt_failures += thread_failures[i];

  /* What is left: the sample source and the even connections of every client. */
  admin_http_t *h = admin_http_new(&inst);
  admin_reply_t r = {0};
  CHECK(admin_http_request(h, "GET", "ws:/connections?itemsPerPage=500", ACCEPT_2023, NULL, &r) ==
        200);
  CHECK(admin_int(&r, "totalCount") == 1 + CLIENTS * ROUNDS / 2);
  admin_reply_free(&r);
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"listStreamConnections\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 1 + CLIENTS * ROUNDS / 2);
  bson_destroy(&reply);
  admin_http_free(h);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (wt_failures) {
    fprintf(stderr, "test_admin_concurrency: %d failure(s)\n", wt_failures);
    return 1;
  }
  printf("test_admin_concurrency: all checks passed\n");
  return 0;
}
