/* The Admin API's connection registry over HTTPS, driven with libcurl: every endpoint,
 * every error status, secrets never read back, pagination, the same registry as the
 * wire protocol's processors, persistence across a restart. */
#include "admin_test_util.h"
#include "workspace_test_util.h"

#define KAFKA_BODY                                                                          \
  "{\"name\": \"events\", \"type\": \"Kafka\", \"bootstrapServers\": \"k1:9092,k2:9092\", " \
  "\"security\": {\"protocol\": \"SASL_SSL\"}, \"authentication\": {\"mechanism\": "        \
  "\"SCRAM-256\", \"username\": \"app\", \"password\": \"s3cret-kafka\"}, \"config\": "     \
  "{\"auto.offset.reset\": \"earliest\"}}"

/* The file given at start-up: its Kafka password must not be echoed either. */
static const char *const FILE_CONNECTIONS =
    "[{\"name\": \"from_file\", \"type\": \"Kafka\", \"bootstrapServers\": \"f:9092\","
    "  \"authentication\": {\"mechanism\": \"PLAIN\", \"username\": \"u\","
    "  \"password\": \"file-password\", \"sslKey\": \"KEY\"}}]";

/* The usual versioned call. */
#define API(h, m, u, b, want) CALL(h, m, u, ACCEPT_2023, b, want)

static void expect_error(const char *code) {
  if (strcmp(admin_str(&r, "errorCode"), code) != 0 || admin_int(&r, "error") != r.status ||
      !admin_has(&r, "detail") || !admin_has(&r, "parameters") || !admin_has(&r, "reason")) {
    fprintf(stderr, "FAIL: wanted errorCode %s in a full error document, got %s\n", code, r.text);
    wt_failures++;
  }
}

static void authentication(admin_http_t *h, const aspd_instance_t *inst) {
  admin_http_use_nothing(h);
  CHECK(API(h, "GET", "ws:/connections", NULL, 401));
  expect_error("UNAUTHORIZED");
  CHECK(strstr(r.www_authenticate, "Digest") && strstr(r.www_authenticate, "MMS Public API") &&
        strstr(r.www_authenticate, "nonce="));
  admin_http_use_key(h, inst->admin_public_key, "wrong-private-key");
  CHECK(API(h, "GET", "ws:/connections", NULL, 401));
  admin_http_use_key(h, "nosuchkey", inst->admin_private_key);
  CHECK(API(h, "GET", "ws:/connections", NULL, 401));
  admin_http_use_token(h, "not-a-token");
  CHECK(API(h, "GET", "ws:/connections", NULL, 401));
  admin_http_use_key(h, inst->admin_public_key, inst->admin_private_key);
  CHECK(API(h, "GET", "ws:/connections", NULL, 200));
  /* The same TLS connection serves the next request (HTTP/1.1 keep-alive). */
  CHECK(API(h, "GET", "ws:/connections", NULL, 200));
  CHECK(r.new_connections == 0);
}

static void versions(admin_http_t *h) {
  CHECK(CALL(h, "GET", "ws:/connections", NULL, NULL, 406));
  expect_error("INVALID_ACCEPT_HEADER");
  CHECK(CALL(h, "GET", "ws:/connections", "application/json", NULL, 406));
  CHECK(CALL(h, "GET", "ws:/connections", "application/vnd.atlas.2022-12-31+json", NULL, 406));
  CHECK(CALL(h, "GET", "ws:/connections", "application/vnd.atlas.2023-13-01+json", NULL, 406));
  CHECK(CALL(h, "GET", "ws:/connections", "application/vnd.atlas.preview+json", NULL, 406));
  /* A later date gets the newest version not after it, named in Content-Type. */
  CHECK(CALL(h, "GET", "ws:/connections", ACCEPT_2025, NULL, 200));
  CHECK(strstr(r.content_type, "application/vnd.atlas.2023-02-01+json") != NULL);
  CHECK(CALL(h, "GET", "ws:/connections", "text/html, " ACCEPT_2023 ";q=0.9", NULL, 200));
}

static void create_get(admin_http_t *h) {
  CHECK(API(h, "POST", "ws:/connections", KAFKA_BODY, 200));
  CHECK(!strcmp(admin_str(&r, "name"), "events") && !strcmp(admin_str(&r, "type"), "Kafka"));
  CHECK(strlen(admin_str(&r, "id")) == 24 && !strcmp(admin_str(&r, "state"), "READY"));
  CHECK(!strcmp(admin_str(&r, "region"), "VIRGINIA_USA"));
  CHECK(!strcmp(admin_str(&r, "networking.access.type"), "PUBLIC"));
  CHECK(!strcmp(admin_str(&r, "authentication.username"), "app"));
  CHECK(!strcmp(admin_str(&r, "config.auto\\.offset\\.reset"), "earliest") ||
        strstr(r.text, "\"auto.offset.reset\" : \"earliest\""));
  CHECK(!strstr(r.text, "s3cret-kafka") && !admin_has(&r, "authentication.password"));
  char id[32];
  snprintf(id, sizeof id, "%s", admin_str(&r, "id"));
  CHECK(API(h, "GET", "ws:/connections/events", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "id"), id) && !strstr(r.text, "s3cret-kafka"));
  CHECK(!strcmp(admin_str(&r, "bootstrapServers"), "k1:9092,k2:9092"));
  CHECK(API(h, "POST", "ws:/connections", KAFKA_BODY, 409));
  expect_error("STREAM_CONNECTION_NAME_ALREADY_EXISTS");
  CHECK(!strcmp(admin_str(&r, "parameters.0"), "events"));
  /* Every other type of the registry, with its nested settings. */
  const char *bodies[] = {
      "{\"name\": \"c0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\", "
      "\"dbRoleToExecute\": {\"role\": \"atlasAdmin\", \"type\": \"BUILT_IN\"}}",
      "{\"name\": \"hook\", \"type\": \"Https\", \"url\": \"https://example.com/api\", "
      "\"headers\": {\"Authorization\": \"Bearer x\"}}",
      "{\"name\": \"s3\", \"type\": \"S3\", \"aws\": {\"roleArn\": \"arn:aws:iam::1:role/r\"}}",
      "{\"name\": \"fn\", \"type\": \"AWSLambda\", \"aws\": {\"roleArn\": "
      "\"arn:aws:iam::1:role/r\"}}",
      "{\"name\": \"kin\", \"type\": \"AWSKinesisDataStreams\", \"aws\": {\"roleArn\": \"a\"}, "
      "\"networking\": {\"access\": {\"type\": \"PUBLIC\"}}}",
      "{\"name\": \"blob\", \"type\": \"AzureBlobStorage\", \"azure\": {\"servicePrincipalId\": "
      "\"sp\", \"storageAccountName\": \"acct\"}}",
      "{\"name\": \"pubsub\", \"type\": \"GCPPubSub\", \"gcp\": {\"serviceAccountId\": \"sa\"}}",
      "{\"name\": \"schemas\", \"type\": \"SchemaRegistry\", \"provider\": \"CONFLUENT\", "
      "\"schemaRegistryUrls\": [\"https://sr.example.com\"], \"schemaRegistryAuthentication\": "
      "{\"type\": \"USER_INFO\", \"username\": \"u\", \"password\": \"sr-secret\"}}",
      "{\"name\": \"oauth_kafka\", \"type\": \"Kafka\", \"bootstrapServers\": \"o:9092\", "
      "\"authentication\": {\"mechanism\": \"OAUTHBEARER\", \"method\": \"OIDC\", "
      "\"tokenEndpointUrl\": \"https://idp/token\", \"clientId\": \"cid\", \"clientSecret\": "
      "\"oauth-secret\", \"sslKey\": \"pem-key\", \"sslKeyPassword\": \"pem-pass\"}}",
      "{\"name\": \"slow_solar\", \"type\": \"Sample\", \"docsPerSecond\": 1}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    CHECK(API(h, "POST", "ws:/connections", bodies[i], 200));
    CHECK(!strstr(r.text, "secret") && !strstr(r.text, "pem-"));
  }
  CHECK(API(h, "GET", "ws:/connections/schemas", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "schemaRegistryAuthentication.username"), "u"));
  CHECK(!strstr(r.text, "sr-secret"));
  CHECK(API(h, "GET", "ws:/connections/from_file", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "authentication.username"), "u"));
  CHECK(!strstr(r.text, "file-password") && !strstr(r.text, "KEY"));
}

static void bad_requests(admin_http_t *h, const aspd_instance_t *inst) {
  static const struct {
    const char *body;
    const char *code;
  } rows[] = {
      {"{\"name\": \"x\", \"type\": \"Kafka\", \"bootstrapServers\": \"a:1\", \"colour\": 1}",
       "INVALID_JSON_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Kafka\", \"bootstrapServers\": \"a:1\", "
       "\"authentication\": {\"mechanism\": \"PLAIN\", \"pasword\": \"p\"}}",
       "INVALID_JSON_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Sample\", \"url\": \"https://a\"}", "INVALID_JSON_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Https\", \"url\": \"https://a\", \"networking\": {}}",
       "INVALID_JSON_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Kafka\", \"bootstrapServers\": 9092}", "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Kafka\", \"bootstrapServers\": \"a:1\", "
       "\"authentication\": {\"mechanism\": \"MD5\"}}",
       "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Kafka\", \"bootstrapServers\": \"a:1\", \"config\": "
       "{\"linger.ms\": 5}}",
       "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Kafka\"}", "MISSING_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"S3\", \"aws\": {}}", "MISSING_ATTRIBUTE"},
      {"{\"name\": \"x\"}", "MISSING_ATTRIBUTE"},
      {"{\"type\": \"Sample\"}", "MISSING_ATTRIBUTE"},
      {"{\"name\": \"\", \"type\": \"Sample\"}", "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Carrier pigeon\"}", "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": \"Sample\", \"docsPerSecond\": -1}", "INVALID_ATTRIBUTE"},
      {"{\"name\": \"x\", \"type\": ", "INVALID_JSON"},
      {"[{\"name\": \"x\", \"type\": \"Sample\"}]", "INVALID_JSON"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (API(h, "POST", "ws:/connections", rows[i].body, 400)) expect_error(rows[i].code);
  }
  CHECK(API(h, "POST", "ws:/connections", NULL, 400));
  expect_error("INVALID_JSON");
  /* Nothing of that was stored. */
  CHECK(API(h, "GET", "ws:/connections/x", NULL, 404));
  expect_error("STREAM_CONNECTION_NOT_FOUND_FOR_NAME");
  char detail[512];
  snprintf(detail, sizeof detail,
           "Stream connection with name x for project %s and name %s not found.", inst->group_id,
           inst->workspace);
  CHECK(!strcmp(admin_str(&r, "detail"), detail));
  CHECK(!strcmp(admin_str(&r, "parameters.0"), "x") &&
        !strcmp(admin_str(&r, "parameters.1"), inst->group_id));
  char url[2048];
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/nope/connections", inst->admin_root,
           inst->group_id);
  CHECK(API(h, "GET", url, NULL, 404));
  expect_error("STREAM_TENANT_NOT_FOUND_FOR_NAME");
  CHECK(API(h, "POST", url, KAFKA_BODY, 404));
  expect_error("STREAM_TENANT_NOT_FOUND_FOR_NAME");
  snprintf(url, sizeof url, "%s/api/atlas/v2/groups/%s/streams/%s/connections", inst->admin_root,
           "0123456789abcdef01234567", inst->workspace);
  CHECK(API(h, "GET", url, NULL, 404));
  expect_error("GROUP_NOT_FOUND");
  CHECK(API(h, "GET", "ws:/no/such/thing", NULL, 404));
  expect_error("RESOURCE_NOT_FOUND");
  CHECK(API(h, "PUT", "ws:/connections/events", KAFKA_BODY, 405));
  CHECK(API(h, "PATCH", "ws:/connections/x", "{\"bootstrapServers\": \"b:1\"}", 404));
  expect_error("STREAM_CONNECTION_NOT_FOUND_FOR_NAME");
  CHECK(API(h, "DELETE", "ws:/connections/x", NULL, 404));
  expect_error("STREAM_CONNECTION_NOT_FOUND_FOR_NAME");
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"name\": \"renamed\"}", 400));
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"type\": \"Sample\"}", 400));
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"bootstrapServers\": 1}", 400));
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"brokers\": \"b:1\"}", 400));
  expect_error("INVALID_JSON_ATTRIBUTE");
}

/* The registry the wire protocol's processors use is the one the Admin API changes. */
static void same_registry(admin_http_t *h, mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"name\": \"events\"}}", &reply,
               &error));
  CHECK(wt_array_len(&reply, "connections") == 1);
  CHECK(!strcmp(wt_str(&reply, "connections.0.type", s, sizeof s), "kafka"));
  bson_destroy(&reply);
  /* A processor created over the wire emits to the connection made over REST. */
  WT_OK(c,
        "{\"createStreamProcessor\": \"to_events\", \"pipeline\": [{\"$source\": "
        "{\"connectionName\": \"slow_solar\"}}, {\"$emit\": {\"connectionName\": \"events\", "
        "\"topic\": \"t\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"to_events\"}");
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"bootstrapServers\": \"k3:9092\"}", 403));
  expect_error("STREAM_CONNECTION_HAS_STREAM_PROCESSORS");
  CHECK(strstr(admin_str(&r, "detail"), "has active processors") != NULL);
  CHECK(API(h, "DELETE", "ws:/connections/events", NULL, 403));
  expect_error("STREAM_CONNECTION_HAS_STREAM_PROCESSORS");
  /* The source is in use too; others are not. */
  CHECK(API(h, "DELETE", "ws:/connections/slow_solar", NULL, 403));
  CHECK(API(h, "PATCH", "ws:/connections/hook", "{\"url\": \"https://example.org\"}", 200));
  WT_OK(c, "{\"stopStreamProcessor\": \"to_events\"}");
  CHECK(API(h, "PATCH", "ws:/connections/events", "{\"bootstrapServers\": \"k3:9092\"}", 200));
  CHECK(!strcmp(admin_str(&r, "bootstrapServers"), "k3:9092"));
  CHECK(!strcmp(admin_str(&r, "authentication.username"), "app") && !strstr(r.text, "s3cret"));

  /* An update is seen by a processor started afterwards: 1 -> 1000 documents a second. */
  CHECK(API(h, "PATCH", "ws:/connections/slow_solar", "{\"docsPerSecond\": 1000}", 200));
  WT_OK(c,
        "{\"createStreamProcessor\": \"rate\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"slow_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"rate\"}");
  int64_t n = 0;
  for (int i = 0; i < 100 && n < 50; i++) {
    usleep(50000);
    n = wt_stat(c, "rate", "stats.inputMessageCount");
  }
  CHECK(n >= 50);
  WT_OK(c, "{\"stopStreamProcessor\": \"rate\"}");

  CHECK(API(h, "DELETE", "ws:/connections/events", NULL, 202));
  CHECK(!strcmp(r.text, "{ }") || !strcmp(r.text, "{}"));
  CHECK(API(h, "GET", "ws:/connections/events", NULL, 404));
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"name\": \"events\"}}", &reply,
               &error));
  CHECK(wt_array_len(&reply, "connections") == 0);
  bson_destroy(&reply);
  /* Gone for new processors too. */
  WT_ERR(c,
         "{\"createStreamProcessor\": \"late\", \"pipeline\": [{\"$source\": {\"connectionName\": "
         "\"slow_solar\"}}, {\"$emit\": {\"connectionName\": \"events\", \"topic\": \"t\"}}]}",
         420, "events");
  /* And a connection created over REST is usable at once. */
  CHECK(API(h, "POST", "ws:/connections", KAFKA_BODY, 200));
  WT_OK(c,
        "{\"createStreamProcessor\": \"again\", \"pipeline\": [{\"$source\": "
        "{\"connectionName\": \"slow_solar\"}}, {\"$emit\": {\"connectionName\": \"events\", "
        "\"topic\": \"t\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"again\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"again\"}");
}

static size_t listed_total(admin_http_t *h) {
  return API(h, "GET", "ws:/connections", NULL, 200) ? (size_t)admin_int(&r, "totalCount") : 0;
}

static void pagination(admin_http_t *h) {
  size_t before = listed_total(h);
  for (int i = 0; i < 120; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"name\": \"page%03d\", \"type\": \"Https\", \"url\": \"u\"}", i);
    CHECK(API(h, "POST", "ws:/connections", body, 200));
  }
  size_t total = before + 120;
  CHECK(listed_total(h) == total);
  CHECK(wt_array_len(r.body, "results") == 100);
  CHECK(!strcmp(admin_str(&r, "links.0.rel"), "self"));
  CHECK(strstr(admin_str(&r, "links.0.href"), "?pageNum=1&itemsPerPage=100") != NULL);
  CHECK(!strcmp(admin_str(&r, "links.1.rel"), "next"));
  CHECK(API(h, "GET", "ws:/connections?pageNum=2", NULL, 200));
  CHECK(wt_array_len(r.body, "results") == total - 100);
  CHECK(!strcmp(admin_str(&r, "links.1.rel"), "previous") && !admin_has(&r, "links.2"));
  /* Every name once over the pages of 7. */
  size_t seen = 0, pages = 0;
  for (size_t page = 1; page < 100; page++) {
    char url[128];
    snprintf(url, sizeof url, "ws:/connections?itemsPerPage=7&pageNum=%zu", page);
    if (!API(h, "GET", url, NULL, 200)) break;
    uint32_t n = wt_array_len(r.body, "results");
    if (n == 0) break;
    seen += n;
    pages++;
  }
  CHECK(seen == total && pages == (total + 6) / 7);
  CHECK(API(h, "GET", "ws:/connections?itemsPerPage=500", NULL, 200));
  CHECK(wt_array_len(r.body, "results") == total);
  CHECK(API(h, "GET", "ws:/connections?pageNum=99", NULL, 200));
  CHECK(wt_array_len(r.body, "results") == 0 && admin_int(&r, "totalCount") == (int64_t)total);
  const char *bad[] = {"itemsPerPage=0", "itemsPerPage=501", "pageNum=0", "pageNum=x",
                       "itemsPerPage="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char url[128];
    snprintf(url, sizeof url, "ws:/connections?%s", bad[i]);
    if (API(h, "GET", url, NULL, 400)) expect_error("INVALID_QUERY_PARAMETER");
  }
}

int main(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "conns.json", FILE_CONNECTIONS, path, sizeof path)) {
    return 1;
  }
  const char *args[] = {"--connections", path, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  CHECK(strlen(inst.group_id) == 24 && inst.workspace[0] && inst.admin_public_key[0] &&
        inst.admin_private_key[0] && !strncmp(inst.admin_root, "https://127.0.0.1:", 18));
  admin_http_t *h = admin_http_new(&inst);
  mongoc_client_t *c = wt_client(&inst);
  authentication(h, &inst);
  versions(h);
  create_get(h);
  bad_requests(h, &inst);
  same_registry(h, c);
  pagination(h);
  /* The sample source is a connection like the others: deleted, it stays deleted. */
  CHECK(API(h, "DELETE", "ws:/connections/sample_stream_solar", NULL, 202));
  CHECK(API(h, "GET", "ws:/connections/events", NULL, 200));
  char id[32];
  snprintf(id, sizeof id, "%s", admin_str(&r, "id"));
  size_t total = listed_total(h);
  mongoc_client_destroy(c);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);

  /* Persisted: the same connections, ids and hidden secrets after a restart (the start-up
   * file is given again and still works). */
  char state[512];
  snprintf(state, sizeof state, "%s", inst.state_dir);
  if (!aspd_harness_start(&inst, state, args)) return 1;
  h = admin_http_new(&inst);
  c = wt_client(&inst);
  CHECK(listed_total(h) == total);
  CHECK(API(h, "GET", "ws:/connections/events", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "id"), id) && !strstr(r.text, "s3cret"));
  CHECK(API(h, "GET", "ws:/connections/sample_stream_solar", NULL, 404));
  CHECK(API(h, "GET", "ws:/connections/from_file", NULL, 200));
  CHECK(!strstr(r.text, "file-password"));
  WT_OK(c, "{\"startStreamProcessor\": \"again\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"again\"}");
  admin_reply_free(&r);
  mongoc_client_destroy(c);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (wt_failures) {
    fprintf(stderr, "test_admin_connections: %d failure(s)\n", wt_failures);
    return 1;
  }
  printf("test_admin_connections: all checks passed\n");
  return 0;
}
