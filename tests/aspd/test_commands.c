/* Every ASP command answers in the live server's shape. */
#include "workspace_test_util.h"

#define SOLAR_TO_LOG                                               \
  "[{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}," \
  " {\"$emit\": {\"connectionName\": \"__testLog\"}}]"

static void workspace_defaults(mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"listWorkspaceDefaults\": 1}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "defaultTierSize", s, sizeof s), "SP10"));
  CHECK(!strcmp(wt_str(&reply, "maxTierSize", s, sizeof s), "SP50"));
  bson_destroy(&reply);
}

static void connections(mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"listStreamConnections\": 1}", &reply, &error));
  /* sample_stream_solar (built in) + the four of the file; __testLog is not listed. */
  CHECK(wt_array_len(&reply, "connections") == 5);
  CHECK(!strcmp(wt_str(&reply, "connections.0.name", s, sizeof s), "sample_stream_solar"));
  CHECK(!strcmp(wt_str(&reply, "connections.0.type", s, sizeof s), "inmemory"));
  bson_destroy(&reply);
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": null}", &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 5);
  bson_destroy(&reply);
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {}}", &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 5);
  bson_destroy(&reply);
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"type\": \"atlas\"}}", &reply,
               &error));
  CHECK(wt_array_len(&reply, "connections") == 1);
  CHECK(!strcmp(wt_str(&reply, "connections.0.name", s, sizeof s), "cluster0"));
  CHECK(!strcmp(wt_str(&reply, "connections.0.cluster", s, sizeof s), "Cluster0"));
  bson_destroy(&reply);
  CHECK(wt_run(c,
               "{\"listStreamConnections\": 1, \"filter\": {\"name\": {\"$regex\": \"solar$\"}}}",
               &reply, &error));
  CHECK(wt_array_len(&reply, "connections") == 3);
  bson_destroy(&reply);
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"type\": \"kafka\"}}", &reply,
               &error));
  CHECK(!strcmp(wt_str(&reply, "connections.0.name", s, sizeof s), "kafka0"));
  bson_destroy(&reply);
}

static void get_processor(mongoc_client_t *c) {
  WT_OK(c, "{\"createStreamProcessor\": \"solar\", \"pipeline\": " SOLAR_TO_LOG
           ", \"options\": {\"tier\": \"SP30\", \"dlq\": {\"connectionName\": \"cluster0\","
           " \"db\": \"errs\", \"coll\": \"dlq\"}, \"failover\": true}}");
  bson_t reply;
  bson_error_t error;
  char s[128];
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"solar\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "result.name", s, sizeof s), "solar"));
  CHECK(!strcmp(wt_str(&reply, "result.state", s, sizeof s), "CREATED"));
  CHECK(strlen(wt_str(&reply, "result._id", s, sizeof s)) == 24);
  CHECK(!strcmp(wt_str(&reply, "result.tier", s, sizeof s), "SP30"));
  CHECK(!strcmp(wt_str(&reply, "result.dlq.db", s, sizeof s), "errs"));
  CHECK(!strcmp(wt_str(&reply, "result.errorMsg", s, sizeof s), ""));
  CHECK(!strcmp(wt_str(&reply, "result.pipeline.0.$source.connectionName", s, sizeof s),
                "sample_stream_solar"));
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "result.lastStateChange", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  CHECK(bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "result.failoverEnabled", &it) &&
        BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it));
  bson_destroy(&reply);
}

static void list_processors(mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[128];
  CHECK(wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "streamProcessors") == 1);
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.0.name", s, sizeof s), "solar"));
  CHECK(strlen(wt_str(&reply, "streamProcessors.0.id", s, sizeof s)) == 24);
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.0.tier", s, sizeof s), "SP30"));
  bson_destroy(&reply);
}

static void stats(mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[128];
  bson_type_t t;
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"solar\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "name", s, sizeof s), "solar"));
  CHECK(!strcmp(wt_str(&reply, "state", s, sizeof s), "CREATED"));
  CHECK(!strcmp(wt_str(&reply, "stats.status", s, sizeof s), "created"));
  CHECK(wt_int(&reply, "stats.inputMessageCount", &t) == 0 && t == BSON_TYPE_INT64);
  CHECK(wt_int(&reply, "stats.scaleFactor", &t) == 1 && t == BSON_TYPE_INT64);
  CHECK(wt_array_len(&reply, "pipeline") == 2);
  bson_destroy(&reply);
}

static void lifecycle(mongoc_client_t *c) {
  char s[32];
  WT_OK(c, "{\"startStreamProcessor\": \"solar\"}");
  CHECK(!strcmp(wt_state(c, "solar", s, sizeof s), "STARTED"));
  WT_OK(c, "{\"stopStreamProcessor\": \"solar\"}");
  CHECK(!strcmp(wt_state(c, "solar", s, sizeof s), "STOPPED"));
  WT_OK(c, "{\"modifyStreamProcessor\": \"solar\", \"name\": \"solar2\"}");
  CHECK(!strcmp(wt_state(c, "solar2", s, sizeof s), "STOPPED"));
  WT_OK(c, "{\"dropStreamProcessor\": \"solar2\"}");
  WT_ERR(c, "{\"getStreamProcessor\": \"solar2\"}", 125, "stream processor does not exist: solar2");
}

static void sample(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"fast\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"fast_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"fast\"}");
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"startSampleStreamProcessor\": \"fast\", \"limit\": 5}", &reply, &error));
  bson_type_t t;
  int64_t cursor = wt_int(&reply, "cursorId", &t);
  CHECK(cursor > 0 && t == BSON_TYPE_INT64);
  CHECK(wt_array_len(&reply, "messages") == 0);
  bson_destroy(&reply);
  uint32_t got = 0;
  for (int i = 0; i < 100 && cursor > 0; i++) {
    cursor = wt_get_more(c, "fast", cursor, 2, &got);
    usleep(20000);
  }
  CHECK(cursor == 0);
  CHECK(got == 5);
  WT_OK(c, "{\"dropStreamProcessor\": \"fast\"}");
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  workspace_defaults(c);
  connections(c);
  get_processor(c);
  list_processors(c);
  stats(c);
  lifecycle(c);
  sample(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.commands");
}
