/* The connection registry: both file shapes, the listed types, the
 * docsPerSecond extension, and refusal of a bad connections file. */
#include <stdlib.h>
#include <sys/wait.h>

#include "workspace_test_util.h"

static void expect_refusal(const char *file_text, const char *needle) {
  char dir[512], path[1024], cmd[3072], out[8192] = "";
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "conns.json", file_text, path, sizeof path)) {
    wt_failures++;
    return;
  }
  snprintf(cmd, sizeof cmd,
           "timeout 20 '%s' --dev --port 0 --state-dir '%s/state' --connections '%s' 2>&1",
           getenv("ASPD_BIN"), dir, path);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 124);
  if (!strstr(out, needle)) {
    fprintf(stderr, "FAIL: wanted \"%s\"; aspd said: %s\n", needle, out);
    wt_failures++;
  }
}

static const char *const WRAPPED =
    "{\"connections\": ["
    " {\"name\": \"sample_stream_solar\", \"type\": \"Sample\", \"docsPerSecond\": 500},"
    " {\"name\": \"atlas1\", \"type\": \"Cluster\", \"clusterName\": \"C1\"},"
    " {\"name\": \"events\", \"type\": \"Kafka\", \"bootstrapServers\": \"k:9092\","
    "  \"authentication\": {\"mechanism\": \"PLAIN\", \"username\": \"u\", \"password\": \"p\"}},"
    " {\"name\": \"hook\", \"type\": \"Https\", \"url\": \"https://example.com\"},"
    " {\"name\": \"huge_rate\", \"type\": \"Sample\", \"docsPerSecond\": 1e300}]}";

int main(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "wrapped.json", WRAPPED, path, sizeof path)) {
    return 1;
  }
  const char *args[] = {"--connections", path, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  mongoc_client_t *c = wt_client(&inst);
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"listStreamConnections\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 5);
  CHECK(!strcmp(wt_str(&reply, "connections.0.name", s, sizeof s), "sample_stream_solar"));
  CHECK(!strcmp(wt_str(&reply, "connections.0.type", s, sizeof s), "inmemory"));
  CHECK(!strcmp(wt_str(&reply, "connections.1.type", s, sizeof s), "atlas"));
  CHECK(!strcmp(wt_str(&reply, "connections.1.cluster", s, sizeof s), "C1"));
  CHECK(!strcmp(wt_str(&reply, "connections.2.type", s, sizeof s), "kafka"));
  CHECK(!strcmp(wt_str(&reply, "connections.3.type", s, sizeof s), "https"));
  /* Secrets are never listed. */
  bson_iter_t it;
  CHECK(!(bson_iter_init(&it, &reply) &&
          bson_iter_find_descendant(&it, "connections.2.authentication", &it)));
  bson_destroy(&reply);
  CHECK(wt_run(c,
               "{\"listStreamConnections\": 1, \"filter\": {\"type\": {\"$in\": [\"atlas\", "
               "\"kafka\"]}}}",
               &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 2);
  bson_destroy(&reply);

  /* docsPerSecond 500 on the built-in source: far beyond the default 2 a second. */
  WT_OK(c,
        "{\"createStreamProcessor\": \"p\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"p\"}");
  usleep(400000);
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"p\"}", &reply, &error));
  int64_t n = wt_int(&reply, "stats.inputMessageCount", NULL);
  CHECK(n >= 100 && n <= 400);
  bson_destroy(&reply);
  /* A rate no int64 holds: every pull owes a full batch (its count was an undefined
   * conversion before). */
  WT_OK(c,
        "{\"createStreamProcessor\": \"fast\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"huge_rate\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"fast\"}");
  usleep(200000);
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"fast\"}", &reply, &error));
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) > 0);
  bson_destroy(&reply);
  WT_OK(c, "{\"stopStreamProcessor\": \"fast\"}");
  /* Connections aspd cannot run are refused by the planner. */
  WT_ERR(c,
         "{\"createStreamProcessor\": \"h\", \"pipeline\": [{\"$source\": {\"connectionName\": "
         "\"hook\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
         420, "Only kafka, sample_solar, and atlas source connection type is supported");
  /* A Cluster connection as a source is a change stream (of every database). */
  WT_OK(c,
        "{\"createStreamProcessor\": \"h\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"atlas1\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);

  expect_refusal("[{\"name\": \"x\"", "not valid JSON");
  expect_refusal("[{\"name\": \"x\"}]", "needs string fields 'name' and 'type'");
  expect_refusal("[{\"name\": \"s\", \"type\": \"Sample\", \"docsPerSecond\": -1}]",
                 "docsPerSecond must be a number >= 0");
  expect_refusal(
      "[{\"name\": \"s\", \"type\": \"Sample\", \"docsPerSecond\": {\"$numberDouble\": "
      "\"NaN\"}}]",
      "docsPerSecond must be a number >= 0");
  expect_refusal("{\"nothing\": 1}", "expected an array of connections");

  /* A user's file named connections.json inside the state directory is read as the user's
   * file, twice (a restart), never mistaken for aspd's own registry state. */
  char state[512], user_file[1024];
  if (!aspd_harness_tempdir(state, sizeof state) ||
      !aspd_harness_write_file(state, "connections.json",
                               "[{\"name\": \"inside\", \"type\": \"Sample\"}]", user_file,
                               sizeof user_file)) {
    return 1;
  }
  const char *inside_args[] = {"--connections", user_file, NULL};
  for (int round = 0; round < 2; round++) {
    if (!aspd_harness_start(&inst, state, inside_args)) return 1;
    c = wt_client(&inst);
    CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"name\": \"inside\"}}", &reply,
                 &error));
    CHECK(wt_array_len(&reply, "connections") == 1);
    bson_destroy(&reply);
    mongoc_client_destroy(c);
    aspd_harness_stop(&inst);
  }
  return wt_finish("aspd.connections");
}
