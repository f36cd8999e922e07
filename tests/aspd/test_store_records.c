/* The connection registry (with its secrets), the Admin API's workspaces, Private Link
 * and VPC peering records and the --dev secrets live in the state store: a state
 * directory in the JSON format of earlier versions is imported on first start and its
 * files are not read after, and so is a workspace database of earlier versions; workspaces
 * created over HTTPS share the one database; a registry change whose commit fails
 * (RLIMIT_FSIZE) is refused with a clear error naming no server path, and changes nothing. */
#include <sys/resource.h>
#include <sys/stat.h>

#include "admin_test_util.h"
#include "state_sql.h"
#include "workspace_test_util.h"

#define API(h, m, u, b, want) CALL(h, m, u, ACCEPT_2023, b, want)

#define PASSWORD "0123456789abcdef0123456789abcdef"
#define PUBLIC_KEY "legacyab"
#define PRIVATE_KEY "01234567-89ab-cdef-0123-456789abcdef"
#define LINK_ID "6500000000000000000000aa"

static const char *const OLD_FILES[][2] = {
    {"registry.json",
     "{\"connections\": [{\"name\": \"legacy_kafka\", \"type\": \"Kafka\", \"bootstrapServers\":"
     " \"broker:9092\", \"id\": \"6500000000000000000000bb\", \"authentication\": {\"mechanism\":"
     " \"PLAIN\", \"username\": \"u\", \"password\": \"kafka-secret\"}}]}"},
    {"workspaces.json",
     "{\"workspaces\": [{\"_id\": \"6500000000000000000000cc\", \"name\": \"older\", \"wire\":"
     " false, \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", \"region\": \"DUBLIN_IRL\"},"
     " \"streamConfig\": {\"tier\": \"SP10\"}, \"failoverRegions\": []}]}"},
    {"private_links.json",
     "{\"records\": [{\"_id\": \"" LINK_ID "\", \"provider\": \"AWS\", \"vendor\": \"MSK\","
     " \"arn\": \"arn:aws:kafka:legacy\", \"state\": \"IDLE\"}]}"},
    {"vpc_peering.json",
     "{\"records\": [{\"_id\": \"pcx-legacy\", \"requesterAccountId\": \"111111111111\","
     " \"requesterVpcId\": \"vpc-1\", \"status\": \"PENDING_ACCEPTANCE\"}]}"},
    {"dev/credentials.json", "{\"user\": \"asp-dev\", \"password\": \"" PASSWORD "\"}"},
    {"dev/api-key.json",
     "{\"publicKey\": \"" PUBLIC_KEY "\", \"privateKey\": \"" PRIVATE_KEY "\"}"},
};
#define OLD_FILE_COUNT (sizeof OLD_FILES / sizeof OLD_FILES[0])

static bool write_text(const char *dir, const char *name, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) return false;
  fputs(text, f);
  return fclose(f) == 0;
}

static char project[1024];

static const char *at(const char *suffix) {
  static char url[2][2048];
  static int slot;
  slot ^= 1;
  snprintf(url[slot], sizeof url[slot], "%s%s", project, suffix);
  return url[slot];
}

/* An Admin API client of inst; at() builds its project's URLs. */
static admin_http_t *client(const aspd_instance_t *inst) {
  snprintf(project, sizeof project, "%s/api/atlas/v2/groups/%s/streams", inst->admin_root,
           inst->group_id);
  return admin_http_new(inst);
}

/* Everything of OLD_FILES is served, by the wire and by the Admin API. */
static void check_imported(const aspd_instance_t *inst) {
  CHECK(!strcmp(inst->password, PASSWORD));
  CHECK(!strcmp(inst->admin_public_key, PUBLIC_KEY));
  CHECK(!strcmp(inst->admin_private_key, PRIVATE_KEY));
  mongoc_client_t *c = wt_client(inst);
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"name\": \"legacy_kafka\"}}",
               &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 1);
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  admin_http_t *h = client(inst);
  CHECK(API(h, "GET", "ws:/connections/legacy_kafka", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "id"), "6500000000000000000000bb"));
  CHECK(!strcmp(admin_str(&r, "bootstrapServers"), "broker:9092"));
  CHECK(strstr(r.text, "kafka-secret") == NULL); /* kept, never shown */
  CHECK(API(h, "GET", at("/older"), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "dataProcessRegion.region"), "DUBLIN_IRL"));
  CHECK(API(h, "GET", at("/privateLinkConnections/" LINK_ID), NULL, 200));
  CHECK(!strcmp(admin_str(&r, "arn"), "arn:aws:kafka:legacy"));
  CHECK(API(h, "GET", at("/vpcPeeringConnections"), NULL, 200));
  CHECK(admin_int(&r, "totalCount") == 1 &&
        !strcmp(admin_str(&r, "results.0.requesterVpcId"), "vpc-1"));
  admin_http_free(h);
}

static void imports_old_state_once(void) {
  char dir[512], sub[600];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  snprintf(sub, sizeof sub, "%s/dev", dir);
  CHECK(mkdir(sub, 0700) == 0);
  for (size_t i = 0; i < OLD_FILE_COUNT; i++) {
    CHECK(write_text(dir, OLD_FILES[i][0], OLD_FILES[i][1]));
  }
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  check_imported(&inst);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(sql_int(dir,
                "SELECT count(*) FROM records WHERE kind IN ('registry', 'dev',"
                " 'private_link', 'vpc_peering')") == 5);
  CHECK(sql_int(dir, "SELECT count(*) FROM records WHERE kind = 'workspace'") == 2);

  /* From now on the files are not read: unreadable ones change nothing. */
  for (size_t i = 0; i < OLD_FILE_COUNT; i++) CHECK(write_text(dir, OLD_FILES[i][0], "{ broken"));
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  check_imported(&inst);
  /* A change made now is what the next start sees, not the files. */
  admin_http_t *h = client(&inst);
  CHECK(API(h, "DELETE", "ws:/connections/legacy_kafka", NULL, 202));
  CHECK(API(h, "DELETE", at("/privateLinkConnections/" LINK_ID), NULL, 202));
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  h = client(&inst);
  CHECK(API(h, "GET", "ws:/connections/legacy_kafka", NULL, 404));
  CHECK(API(h, "GET", at("/privateLinkConnections/" LINK_ID), NULL, 404));
  CHECK(API(h, "GET", at("/older"), NULL, 200));
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* Under RLIMIT_FSIZE a registry change too big to commit is refused (500, a clear
 * reason, no path) and not applied; smaller ones go on. */
#define FSIZE_LIMIT (2 << 20)
#define BIG_PAD (3 << 20)

static void limit_file_size(void) {
  struct rlimit limit = {FSIZE_LIMIT, FSIZE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &limit);
}

static void failed_commit_changes_nothing(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_harness_set_child_setup(limit_file_size);
  aspd_instance_t inst;
  bool started = aspd_harness_start(&inst, dir, NULL);
  aspd_harness_set_child_setup(NULL);
  if (!started) exit(1);
  admin_http_t *h = client(&inst);
  char *big = malloc(BIG_PAD + 256);
  int n = snprintf(big, 256, "{\"name\": \"big\", \"type\": \"Kafka\", \"bootstrapServers\": \"");
  memset(big + n, 'x', BIG_PAD);
  snprintf(big + n + BIG_PAD, 64, ":9092\"}");
  CHECK(API(h, "POST", "ws:/connections", big, 500));
  CHECK(strstr(r.text, "writing to disk failed") != NULL);
  CHECK(strstr(r.text, "nothing was changed") != NULL);
  CHECK(strstr(r.text, dir) == NULL && strstr(r.text, "aspd.db") == NULL);
  CHECK(API(h, "GET", "ws:/connections/big", NULL, 404));
  CHECK(API(h, "POST", "ws:/connections",
            "{\"name\": \"small\", \"type\": \"Kafka\", \"bootstrapServers\": \"b:9092\"}", 200));
  /* Replacing with a definition too big changes nothing either. */
  memmove(big + 15, big + 13, strlen(big + 13) + 1);
  memcpy(big + 10, "small", 5);
  CHECK(API(h, "PATCH", "ws:/connections/small", big, 500));
  CHECK(API(h, "GET", "ws:/connections/small", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "bootstrapServers"), "b:9092"));
  free(big);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  h = client(&inst);
  CHECK(API(h, "GET", "ws:/connections/big", NULL, 404));
  CHECK(API(h, "GET", "ws:/connections/small", NULL, 200));
  CHECK(!strcmp(admin_str(&r, "bootstrapServers"), "b:9092"));
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* A workspace created over HTTPS lives in a scope of the one database (no database of
 * its own), and deleting it removes that scope. */
static void workspaces_share_the_store(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  admin_http_t *h = client(&inst);
  CHECK(API(h, "POST", at(""),
            "{\"name\": \"scoped\", \"dataProcessRegion\": {\"cloudProvider\": \"AWS\", "
            "\"region\": \"DUBLIN_IRL\"}}",
            200));
  char id[32], sql[256], path[1024];
  snprintf(id, sizeof id, "%s", admin_str(&r, "_id"));
  CHECK(API(h, "POST", at("/scoped/connections"),
            "{\"name\": \"k\", \"type\": \"Kafka\", \"bootstrapServers\": \"b:9092\"}", 200));
  snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE kind = 'workspace:%s/registry'",
           id);
  CHECK(sql_int(dir, sql) == 1);
  snprintf(path, sizeof path, "%s/workspaces/%s/aspd.db", dir, id);
  CHECK(access(path, F_OK) != 0);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  h = client(&inst);
  CHECK(API(h, "GET", at("/scoped/connections/k"), NULL, 200));
  CHECK(API(h, "DELETE", at("/scoped"), NULL, 202));
  CHECK(sql_int(dir, "SELECT count(*) FROM records WHERE kind LIKE 'workspace:%'") == 0);
  CHECK(sql_int(dir, "SELECT count(*) FROM meta WHERE key LIKE 'imported:workspace:%'") == 0);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* An earlier version kept such a workspace in STATE/workspaces/ID/aspd.db: its registry
 * and processors are copied into the workspace's scope on first start. */
#define OLD_ID "6500000000000000000000dd"
static void imports_workspace_databases(void) {
  char dir[512], sub[700], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  snprintf(sub, sizeof sub, "%s/workspaces", dir);
  CHECK(mkdir(sub, 0700) == 0);
  snprintf(sub, sizeof sub, "%s/workspaces/" OLD_ID, dir);
  CHECK(mkdir(sub, 0700) == 0);
  /* The old layout: a workspace's directory was a state directory of its own. */
  if (!aspd_harness_write_file(dir, "old_connections.json",
                               "[{\"name\": \"oldk\", \"type\": \"Kafka\", \"bootstrapServers\":"
                               " \"b:9092\"}]",
                               path, sizeof path)) {
    exit(1);
  }
  const char *args[] = {"--connections", path, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, sub, args)) exit(1);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"oldp\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(write_text(dir, "workspaces.json",
                   "{\"workspaces\": [{\"_id\": \"" OLD_ID "\", \"name\": \"olderws\","
                   " \"wire\": false}]}"));
  if (!aspd_harness_start(&inst, dir, NULL)) exit(1);
  admin_http_t *h = client(&inst);
  CHECK(API(h, "GET", at("/olderws/connections/oldk"), NULL, 200));
  admin_reply_free(&r);
  CHECK(admin_http_request(h, "GET", at("/olderws/processor/oldp"), ACCEPT_2024, NULL, &r) == 200);
  admin_http_free(h);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(sql_int(dir,
                "SELECT count(*) FROM records WHERE kind = 'workspace:" OLD_ID "/processor'") == 1);
}

int main(void) {
  imports_old_state_once();
  workspaces_share_the_store();
  imports_workspace_databases();
  failed_commit_changes_nothing();
  admin_reply_free(&r);
  return wt_finish("aspd.store_records");
}
