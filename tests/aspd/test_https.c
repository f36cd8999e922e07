/* $https against a real HTTPS endpoint: tests/support/https_endpoint_server.c, a
 * libmicrohttpd server in a process of its own with the certificate aspd --dev
 * generated, which aspd trusts through ASPD_HTTPS_CA_FILE. Checks the request
 * (path, parameters, headers of the stage and of the connection, method, body
 * and payload), the response types (JSON, text, empty, other content types,
 * parseJsonStrings), $meta "stream.https", the onError modes and the statuses
 * that fail the processor whatever onError says, a transport error, a
 * timeout, that the engine thread goes on (commands answer, other processors
 * run) while calls are slow, the operator's stats, and the planner's errors. */
#include <stdlib.h>
#include <sys/time.h>

#include "scripted_server.h"
#include "workspace_test_util.h"

static scripted_server_t server;

static int64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Runs [$source documents, stages...] through processStreamProcessor; the outputs in out. */
static uint32_t run(mongoc_client_t *c, const char *docs, const char *stages, bson_t *out) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": %s}}, %s]}", docs, stages);
  bson_init(out);
  return wt_process(c, cmd, out);
}

static bool has(const bson_t *doc, const char *path) {
  bson_iter_t it, found;
  return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found);
}

static bson_type_t type_at(const bson_t *doc, const char *path) {
  bson_iter_t it, found;
  return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found)
             ? bson_iter_type(&found)
             : BSON_TYPE_EOD;
}

/* The request as the endpoint saw it, and what $https adds. */
static void request_shape(mongoc_client_t *c) {
  bson_t out;
  char s[512];
  CHECK(run(c, "[{\"id\": 7, \"name\": \"a b&c\", \"tag\": \"t1\"}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": {\"$concat\": [\"echo/\", "
            "{\"$toString\": \"$id\"}]}, \"parameters\": {\"n\": \"$id\", \"q\": \"$name\", \"f\": "
            "1.5, \"b\": true}, \"headers\": {\"X-Test\": \"$tag\", \"Bad Name\": \"x\"}, \"as\": "
            "\"resp\"}}, {\"$addFields\": {\"meta\": {\"$meta\": \"stream.https\"}}}",
            &out) == 1);
  CHECK(!strcmp(wt_str(&out, "0.resp.method", s, sizeof s), "GET"));
  CHECK(!strcmp(wt_str(&out, "0.resp.path", s, sizeof s), "/echo/7"));
  CHECK(!strcmp(wt_str(&out, "0.resp.query.n", s, sizeof s), "7"));
  CHECK(!strcmp(wt_str(&out, "0.resp.query.q", s, sizeof s), "a b&c"));
  CHECK(!strcmp(wt_str(&out, "0.resp.query.f", s, sizeof s), "1.5"));
  CHECK(!strcmp(wt_str(&out, "0.resp.query.b", s, sizeof s), "true"));
  CHECK(!strcmp(wt_str(&out, "0.resp.headers.x-test", s, sizeof s), "t1"));
  CHECK(!strcmp(wt_str(&out, "0.resp.headers.x-conn", s, sizeof s), "from-connection"));
  CHECK(!strcmp(wt_str(&out, "0.resp.body", s, sizeof s), ""));
  char url[256];
  snprintf(url, sizeof url, "%s/echo/7", server.base_url);
  CHECK(!strcmp(wt_str(&out, "0.meta.url", s, sizeof s), url));
  CHECK(!strcmp(wt_str(&out, "0.meta.method", s, sizeof s), "GET"));
  CHECK(type_at(&out, "0.meta.httpStatusCode") == BSON_TYPE_INT32 &&
        wt_int(&out, "0.meta.httpStatusCode", NULL) == 200);
  CHECK(type_at(&out, "0.meta.responseTimeMs") == BSON_TYPE_INT64);
  bson_destroy(&out);

  /* POST sends the whole document as relaxed Extended JSON; a payload pipeline shapes it. */
  CHECK(run(c, "[{\"a\": 1, \"b\": {\"c\": \"x\"}}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"/echo\", \"method\": \"POST\", "
            "\"as\": \"whole\"}}, {\"$https\": {\"connectionName\": \"api\", \"path\": \"echo\", "
            "\"method\": \"PUT\", \"payload\": [{\"$project\": {\"_id\": 0, \"a\": 1}}, "
            "{\"$addFields\": {\"d\": {\"$add\": [\"$a\", 1]}}}], \"as\": \"shaped\"}}",
            &out) == 1);
  CHECK(!strcmp(wt_str(&out, "0.whole.method", s, sizeof s), "POST"));
  CHECK(!strcmp(wt_str(&out, "0.whole.headers.content-type", s, sizeof s), "application/json"));
  bson_t *body =
      bson_new_from_json((const uint8_t *)wt_str(&out, "0.whole.body", s, sizeof s), -1, NULL);
  CHECK(body && wt_int(body, "a", NULL) == 1 && has(body, "b.c") && has(body, "_ts"));
  if (body) bson_destroy(body);
  CHECK(!strcmp(wt_str(&out, "0.shaped.method", s, sizeof s), "PUT"));
  body = bson_new_from_json((const uint8_t *)wt_str(&out, "0.shaped.body", s, sizeof s), -1, NULL);
  CHECK(body && wt_int(body, "a", NULL) == 1 && wt_int(body, "d", NULL) == 2 && !has(body, "b"));
  if (body) bson_destroy(body);
  bson_destroy(&out);
}

/* JSON of any shape, text, nothing, no content type, and JSON held in strings. */
static void response_types(mongoc_client_t *c) {
  bson_t out;
  char s[256];
  CHECK(run(c, "[{\"k\": 1}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"text\", \"as\": \"t\"}}, "
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"array\", \"as\": \"a\"}}, "
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"empty\", \"as\": \"e\"}}, "
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"notype\", \"as\": \"n\"}}, "
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"nested\", \"as\": \"raw\"}}, "
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"nested\", \"as\": \"p.q\", "
            "\"config\": {\"parseJsonStrings\": true}}}",
            &out) == 1);
  CHECK(!strcmp(wt_str(&out, "0.t", s, sizeof s), "hello, stream"));
  CHECK(type_at(&out, "0.a.0") == BSON_TYPE_INT32 && type_at(&out, "0.a.1") == BSON_TYPE_DOUBLE &&
        !strcmp(wt_str(&out, "0.a.2", s, sizeof s), "x"));
  CHECK(!has(&out, "0.e"));
  CHECK(type_at(&out, "0.n.ok") == BSON_TYPE_BOOL);
  CHECK(type_at(&out, "0.raw.inner") == BSON_TYPE_UTF8);
  CHECK(wt_int(&out, "0.p.q.inner.a.1", NULL) == 2);
  bson_destroy(&out);
  /* In a window's pipeline (event time from t): the calls are awaited when it closes. */
  bson_init(&out);
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"k\": 1, \"t\": "
                   "{\"$date\": \"2024-01-01T00:00:01Z\"}}, {\"k\": 2, \"t\": {\"$date\": "
                   "\"2024-01-01T00:00:02Z\"}}], \"timeField\": \"$t\"}}, {\"$tumblingWindow\": "
                   "{\"interval\": {\"size\": 10, \"unit\": \"second\"}, \"allowedLateness\": 0, "
                   "\"pipeline\": [{\"$https\": {\"connectionName\": \"api\", \"path\": "
                   "\"slow/200\", \"as\": \"r\"}}, {\"$group\": {\"_id\": null, \"slept\": "
                   "{\"$sum\": \"$r.slept\"}, \"n\": {\"$sum\": 1}}}]}}]}",
                   &out) == 1);
  CHECK(wt_int(&out, "0.slept", NULL) == 400 && wt_int(&out, "0.n", NULL) == 2);
  bson_destroy(&out);
}

/* A reason of the dead letter at out[i], "" when it is not one. */
static const char *dlq_reason(const bson_t *out, int i, char *s, size_t len) {
  char key[64];
  snprintf(key, sizeof key, "%d._dlqMessage.errInfo.reason", i);
  return wt_str(out, key, s, len);
}

static void on_error_modes(mongoc_client_t *c) {
  bson_t out;
  char s[512];
  /* dlq (the default) for a 404, ignore passes the document on as it was. */
  CHECK(run(c, "[{\"k\": 1}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"status/404\", \"as\": \"r\"}}",
            &out) == 1);
  CHECK(strstr(dlq_reason(&out, 0, s, sizeof s), "failed with HTTP status 404"));
  CHECK(!strcmp(wt_str(&out, "0._dlqMessage.operatorName", s, sizeof s), "HttpsOperator"));
  bson_destroy(&out);
  CHECK(run(c, "[{\"k\": 1}, {\"k\": 2}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"status/410\", \"as\": \"r\", "
            "\"onError\": \"ignore\"}}",
            &out) == 2);
  CHECK(wt_int(&out, "1.k", NULL) == 2 && !has(&out, "1.r"));
  bson_destroy(&out);
  /* Content types other than JSON and text, and bad JSON, follow onError. */
  CHECK(run(c, "[{\"k\": 1}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"html\", \"as\": \"r\", "
            "\"onError\": \"DLQ\"}}",
            &out) == 1);
  CHECK(strstr(dlq_reason(&out, 0, s, sizeof s), "unsupported Content-Type: text/html"));
  bson_destroy(&out);
  /* Transport errors: nothing listens there. */
  CHECK(run(c, "[{\"k\": 1}]", "{\"$https\": {\"connectionName\": \"dead\", \"as\": \"r\"}}",
            &out) == 1);
  CHECK(strstr(dlq_reason(&out, 0, s, sizeof s), "$https request to https://127.0.0.1:1 failed"));
  bson_destroy(&out);
  /* A timeout (requestTimeoutSec 1 against a 3 s reply). */
  CHECK(run(c, "[{\"k\": 1}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"slow/3000\", \"as\": \"r\", "
            "\"config\": {\"requestTimeoutSec\": 1}}}",
            &out) == 1);
  CHECK(strstr(dlq_reason(&out, 0, s, sizeof s), "timed out"));
  bson_destroy(&out);
  /* An expression that cannot build the request is dead-lettered whatever onError says. */
  CHECK(run(c, "[{\"k\": 1}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"$k\", \"as\": \"r\", "
            "\"onError\": \"ignore\"}}",
            &out) == 1);
  CHECK(
      strstr(dlq_reason(&out, 0, s, sizeof s), "$https.path must evaluate to a string, found int"));
  bson_destroy(&out);
}

/* Waits for the processor's state; its errorMsg in msg. */
static bool wait_state(mongoc_client_t *c, const char *name, const char *state, char *msg,
                       size_t len) {
  char s[64], cmd[256];
  for (int i = 0; i < 300; i++) {
    if (!strcmp(wt_state(c, name, s, sizeof s), state)) {
      snprintf(cmd, sizeof cmd, "{\"getStreamProcessor\": \"%s\"}", name);
      bson_t reply;
      bson_error_t error;
      if (wt_run(c, cmd, &reply, &error)) wt_str(&reply, "result.errorMsg", msg, len);
      bson_destroy(&reply);
      return true;
    }
    usleep(20000);
  }
  return false;
}

/* onError "fail", and a status outside the onError list, fail the processor. */
static void failing(mongoc_client_t *c) {
  char msg[512];
  WT_OK(
      c,
      "{\"createStreamProcessor\": \"f1\", \"pipeline\": [{\"$source\": {\"documents\": "
      "[{\"k\": 1}]}}, {\"$https\": {\"connectionName\": \"api\", \"path\": \"status/404\", "
      "\"as\": \"r\", \"onError\": \"fail\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"f1\"}");
  CHECK(wait_state(c, "f1", "FAILED", msg, sizeof msg) && strstr(msg, "HTTP status 404"));
  WT_OK(c,
        "{\"createStreamProcessor\": \"f2\", \"pipeline\": [{\"$source\": {\"documents\": "
        "[{\"k\": 1}]}}, {\"$https\": {\"connectionName\": \"api\", \"path\": \"status/500\", "
        "\"as\": \"r\", \"onError\": \"ignore\"}}, {\"$emit\": {\"connectionName\": "
        "\"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"f2\"}");
  CHECK(wait_state(c, "f2", "FAILED", msg, sizeof msg) && strstr(msg, "HTTP status 500"));
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"f2\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "stats.status", s, sizeof s), "error"));
  bson_destroy(&reply);
  /* Started again once the cause is fixed (here: it fails again, the same way). */
  WT_OK(c, "{\"startStreamProcessor\": \"f2\"}");
  /* An interactive processor that fails ends its cursor. */
  bson_t out;
  CHECK(run(c, "[{\"k\": 1}, {\"k\": 2}]",
            "{\"$https\": {\"connectionName\": \"api\", \"path\": \"status/503\", \"as\": "
            "\"r\"}}",
            &out) == 0);
  bson_destroy(&out);
  WT_OK(c, "{\"dropStreamProcessor\": \"f1\"}");
  WT_OK(c, "{\"dropStreamProcessor\": \"f2\"}");
}

/* Slow calls do not hold the engine thread: commands answer and another processor runs
 * while a processor's requests take 3 s each. */
static void not_blocking(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"slow\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"slow_solar\"}}, {\"$https\": {\"connectionName\": \"api\", \"path\": \"slow/3000\", "
        "\"as\": \"r\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"busy\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"slow\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"busy\"}");
  bson_t reply;
  bson_error_t error;
  usleep(300000);
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"busy\"}", &reply, &error));
  int64_t before = wt_int(&reply, "stats.inputMessageCount", NULL);
  bson_destroy(&reply);
  int64_t worst = 0, start = now_ms();
  while (now_ms() - start < 2000) {
    int64_t t = now_ms();
    CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"slow\", \"verbose\": true}", &reply, &error));
    bson_destroy(&reply);
    if (now_ms() - t > worst) worst = now_ms() - t;
    usleep(50000);
  }
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"busy\"}", &reply, &error));
  int64_t after = wt_int(&reply, "stats.inputMessageCount", NULL);
  bson_destroy(&reply);
  printf(
      "not blocking: slowest command %lld ms while calls take 3000 ms; the other processor "
      "took %lld documents in 2 s\n",
      (long long)worst, (long long)(after - before));
  /* Far below the call's 3 s; generous for a loaded machine. */
  CHECK(worst < 1500);
  CHECK(after - before > 100);
  /* The slow processor's documents wait in the operator (stateSize), then come out. */
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"slow\", \"verbose\": true}", &reply, &error));
  char s[64];
  CHECK(!strcmp(wt_str(&reply, "stats.operatorStats.1.name", s, sizeof s), "HttpsOperator"));
  CHECK(wt_int(&reply, "stats.operatorStats.1.inputMessageCount", NULL) > 0);
  bson_destroy(&reply);
  int64_t out = 0;
  for (int i = 0; i < 300 && out <= 0; i++) {
    usleep(20000);
    CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"slow\", \"verbose\": true}", &reply, &error));
    out = wt_int(&reply, "stats.operatorStats.1.outputMessageCount", NULL);
    bson_destroy(&reply);
  }
  CHECK(out > 0);
  WT_OK(c, "{\"stopStreamProcessor\": \"busy\"}");
  int64_t t = now_ms();
  WT_OK(c, "{\"stopStreamProcessor\": \"slow\"}");
  /* Stopping abandons the calls in flight rather than waiting for them. */
  CHECK(now_ms() - t < 1500);
}

/* The operator's row in operatorStats. */
static void stats(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"st\", \"pipeline\": [{\"$source\": {\"documents\": "
        "[{\"p\": \"echo\"}, {\"p\": \"status/404\"}, {\"p\": \"echo\"}]}}, {\"$https\": "
        "{\"connectionName\": \"api\", \"path\": \"$p\", \"as\": \"r\"}}, {\"$emit\": "
        "{\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"st\"}");
  bson_t reply;
  bson_error_t error;
  int64_t in = 0, out = 0, dlq = 0;
  for (int i = 0; i < 300 && out + dlq < 3; i++) {
    usleep(20000);
    CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"st\", \"verbose\": true}", &reply, &error));
    in = wt_int(&reply, "stats.operatorStats.1.inputMessageCount", NULL);
    out = wt_int(&reply, "stats.operatorStats.1.outputMessageCount", NULL);
    dlq = wt_int(&reply, "stats.operatorStats.1.dlqMessageCount", NULL);
    bson_destroy(&reply);
  }
  CHECK(in == 3 && out == 2 && dlq == 1);
  WT_OK(c, "{\"dropStreamProcessor\": \"st\"}");
}

#define HTTPS_ERR(c, spec, code, text)                                                          \
  WT_ERR(c,                                                                                     \
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$https\": " spec \
         "}]}",                                                                                 \
         code, text)

static void planner_errors(mongoc_client_t *c) {
  HTTPS_ERR(c, "1", 420, "$https stage specification must be an object");
  HTTPS_ERR(c, "{\"as\": \"r\"}", 40414,
            "BSON field '$https.connectionName' is missing but a required field");
  HTTPS_ERR(c, "{\"connectionName\": \"api\"}", 40414,
            "BSON field '$https.as' is missing but a required field");
  HTTPS_ERR(c, "{\"connectionName\": \"nope\", \"as\": \"r\"}", 420,
            "connection named nope does not exist");
  HTTPS_ERR(c, "{\"connectionName\": \"cluster0\", \"as\": \"r\"}", 420,
            "Only https connection type is currently supported for $https");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"method\": \"HEAD\"}", 420,
            "$https.method must be one of GET, POST, PUT, PATCH or DELETE, found: HEAD");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"onError\": \"retry\"}", 420,
            "$https.onError must be one of dlq, ignore or fail, found: retry");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"url\": \"x\"}", 40415,
            "BSON field '$https.url' is an unknown field.");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"payload\": [{\"$match\": {}}]}", 420,
            "$match stage is not permitted in the payload (inner pipeline) of an https stage");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"config\": {\"retries\": 1}}", 40415,
            "BSON field '$https.config.retries' is an unknown field.");
  HTTPS_ERR(c,
            "{\"connectionName\": \"api\", \"as\": \"r\", \"config\": {\"requestTimeoutSec\": 0}}",
            420, "$https.config.requestTimeoutSec must be an integer from 1 to 3600");
  HTTPS_ERR(c, "{\"connectionName\": \"api\", \"as\": \"r\", \"path\": {\"$nope\": 1}}", 168, NULL);
  /* Not inside a $lookup's pipeline. */
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$lookup\": "
         "{\"from\": {\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": \"c\"}, "
         "\"pipeline\": [{\"$https\": {\"connectionName\": \"api\", \"as\": \"r\"}}], \"as\": "
         "\"x\"}}]}",
         51047, "$https is not allowed within a $lookup's sub-pipeline");
}

int main(void) {
  /* A first aspd generates the CA and the localhost certificate the endpoint serves. */
  aspd_instance_t first;
  if (!aspd_harness_start(&first, NULL, NULL)) return 1;
  aspd_harness_stop(&first);
  char cert[600], key[600];
  snprintf(cert, sizeof cert, "%s/dev/server.pem", first.state_dir);
  snprintf(key, sizeof key, "%s/dev/server.key", first.state_dir);
  const char *bin = getenv("HTTPS_ENDPOINT_SERVER_BIN");
  if (!bin) {
    fprintf(stderr, "FAIL: HTTPS_ENDPOINT_SERVER_BIN is not set\n");
    return 1;
  }
  setenv("SCRIPTED_ADMIN_SERVER_BIN", bin, 1);
  int started = scripted_server_start(&server, cert, key, first.ca_file);
  if (started == 77) {
    printf("libmicrohttpd without TLS: skipped\n");
    return 77;
  }
  if (started != 0) return 1;

  /* The aspd under test trusts that CA for its $https calls. */
  setenv("ASPD_HTTPS_CA_FILE", first.ca_file, 1);
  char connections[2048];
  snprintf(connections, sizeof connections,
           "[{\"name\": \"api\", \"type\": \"Https\", \"url\": \"%s\", \"headers\": {\"X-Conn\": "
           "\"from-connection\"}},"
           " {\"name\": \"dead\", \"type\": \"Https\", \"url\": \"https://127.0.0.1:1\"},"
           " {\"name\": \"slow_solar\", \"type\": \"Sample\", \"docsPerSecond\": 20},"
           " {\"name\": \"fast_solar\", \"type\": \"Sample\", \"docsPerSecond\": 1000},"
           " {\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\"}]",
           server.base_url);
  aspd_instance_t inst;
  if (!aspd_harness_start_connections(&inst, NULL, connections, NULL)) return 1;
  mongoc_client_t *c = wt_client(&inst);
  request_shape(c);
  response_types(c);
  on_error_modes(c);
  failing(c);
  stats(c);
  not_blocking(c);
  planner_errors(c);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(scripted_server_stop(&server));
  return wt_finish("test_https");
}
