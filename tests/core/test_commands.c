/* Every command builder: exact BSON (field order and types) and option placement. */
#include "asp.h"
#include "check.h"

static void check_built(bool ok, bson_t *cmd, const char *want) {
  CHECK(ok);
  CHECK_BSON(cmd, want);
  bson_destroy(cmd);
}

static void test_create(void) {
  bson_t *pipeline = json_doc(
      "{\"0\": {\"$source\": {\"connectionName\": \"sample_stream_solar\"}}, "
      "\"1\": {\"$emit\": {\"connectionName\": \"__testLog\"}}}");
  bson_t cmd;
  check_built(
      asp_build_create("solar", pipeline, NULL, &cmd, NULL), &cmd,
      "{ \"createStreamProcessor\" : \"solar\", \"pipeline\" : [ { \"$source\" : { "
      "\"connectionName\" : \"sample_stream_solar\" } }, { \"$emit\" : { \"connectionName\" "
      ": \"__testLog\" } } ] }");

  bson_t *dlq = json_doc("{\"connectionName\": \"c1\", \"db\": \"d\", \"coll\": \"dlq\"}");
  asp_create_opts_t o = {
      .dlq = dlq, .stream_meta_field_name = "_meta", .tier = "SP10", .failover = ASP_TRUE};
  check_built(
      asp_build_create("solar", pipeline, &o, &cmd, NULL), &cmd,
      "{ \"createStreamProcessor\" : \"solar\", \"pipeline\" : [ { \"$source\" : { "
      "\"connectionName\" : \"sample_stream_solar\" } }, { \"$emit\" : { \"connectionName\" "
      ": \"__testLog\" } } ], \"options\" : { \"dlq\" : { \"connectionName\" : \"c1\", "
      "\"db\" : \"d\", \"coll\" : \"dlq\" }, \"streamMetaFieldName\" : \"_meta\", \"tier\" : "
      "\"SP10\", \"failover\" : true } }");

  /* an empty pipeline is allowed (mongosh since 2026-08, C/Go/Java/Rust/C#) */
  bson_t empty = BSON_INITIALIZER;
  check_built(asp_build_create("p", &empty, NULL, &cmd, NULL), &cmd,
              "{ \"createStreamProcessor\" : \"p\", \"pipeline\" : [  ] }");
  bson_destroy(dlq);
  bson_destroy(pipeline);
}

static void test_start(void) {
  bson_t cmd;
  check_built(asp_build_start("p", NULL, &cmd, NULL), &cmd, "{ \"startStreamProcessor\" : \"p\" }");
  asp_start_opts_t o = {.has_workers = true,
                        .workers = 2,
                        .clear_checkpoints = ASP_TRUE,
                        .has_start_at_operation_time = true,
                        .start_at_t = 1715000000,
                        .start_at_i = 1,
                        .tier = "SP30",
                        .enable_auto_scaling = ASP_FALSE,
                        .failover_region = "US_EAST_1",
                        .failover_mode = "GRACEFUL",
                        .failover_dry_run = ASP_TRUE};
  check_built(asp_build_start("p", &o, &cmd, NULL), &cmd,
              "{ \"startStreamProcessor\" : \"p\", \"workers\" : { \"$numberInt\" : \"2\" }, "
              "\"options\" : { \"clearCheckpoints\" : true, \"startAtOperationTime\" : { "
              "\"$timestamp\" : { \"t\" : 1715000000, \"i\" : 1 } }, \"tier\" : \"SP30\", "
              "\"enableAutoScaling\" : false }, \"failover\" : { \"region\" : \"US_EAST_1\", "
              "\"mode\" : \"GRACEFUL\", \"dryRun\" : true } }");
  asp_start_opts_t region_only = {.failover_region = "EU"};
  check_built(asp_build_start("p", &region_only, &cmd, NULL), &cmd,
              "{ \"startStreamProcessor\" : \"p\", \"failover\" : { \"region\" : \"EU\" } }");
}

static void test_simple(void) {
  bson_t cmd;
  check_built(asp_build_stop("p", &cmd, NULL), &cmd, "{ \"stopStreamProcessor\" : \"p\" }");
  check_built(asp_build_drop("p", &cmd, NULL), &cmd, "{ \"dropStreamProcessor\" : \"p\" }");
  check_built(asp_build_get_info("p", &cmd, NULL), &cmd, "{ \"getStreamProcessor\" : \"p\" }");
  check_built(asp_build_workspace_defaults(&cmd, NULL), &cmd,
              "{ \"listWorkspaceDefaults\" : { \"$numberInt\" : \"1\" } }");
  check_built(asp_build_list_processors(NULL, &cmd, NULL), &cmd,
              "{ \"listStreamProcessors\" : { \"$numberInt\" : \"1\" } }");
  bson_t *filter = json_doc("{\"state\": \"STARTED\"}");
  check_built(asp_build_list_processors(filter, &cmd, NULL), &cmd,
              "{ \"listStreamProcessors\" : { \"$numberInt\" : \"1\" }, \"filter\" : { \"state\" : "
              "\"STARTED\" } }");
  check_built(
      asp_build_list_connections(filter, &cmd, NULL), &cmd,
      "{ \"listStreamConnections\" : { \"$numberInt\" : \"1\" }, \"filter\" : { \"state\" : "
      "\"STARTED\" } }");
  bson_destroy(filter);
}

static void test_stats_modify(void) {
  bson_t cmd;
  check_built(asp_build_stats("p", NULL, &cmd, NULL), &cmd,
              "{ \"getStreamProcessorStats\" : \"p\" }");
  asp_stats_opts_t s = {.verbose = ASP_TRUE, .has_scale = true, .scale = 1024};
  check_built(
      asp_build_stats("p", &s, &cmd, NULL), &cmd,
      "{ \"getStreamProcessorStats\" : \"p\", \"options\" : { \"verbose\" : true, \"scale\" "
      ": { \"$numberInt\" : \"1024\" } } }");
  bson_t *pipeline = json_doc("{\"0\": {\"$source\": {\"connectionName\": \"x\"}}}");
  bson_t empty = BSON_INITIALIZER;
  asp_modify_opts_t m = {.pipeline = pipeline,
                         .new_name = "q",
                         .dlq = &empty,
                         .resume_from_checkpoint = ASP_FALSE,
                         .tier = "SP5"};
  check_built(asp_build_modify("p", &m, &cmd, NULL), &cmd,
              "{ \"modifyStreamProcessor\" : \"p\", \"pipeline\" : [ { \"$source\" : { "
              "\"connectionName\" : \"x\" } } ], \"name\" : \"q\", \"dlq\" : {  }, "
              "\"resumeFromCheckpoint\" : false, \"tier\" : \"SP5\" }");
  bson_destroy(pipeline);
}

static void test_sample_process(void) {
  bson_t cmd;
  check_built(asp_build_sample_start("p", NULL, &cmd, NULL), &cmd,
              "{ \"startSampleStreamProcessor\" : \"p\" }");
  asp_sample_start_opts_t lim = {.has_limit = true, .limit = 0};
  check_built(asp_build_sample_start("p", &lim, &cmd, NULL), &cmd,
              "{ \"startSampleStreamProcessor\" : \"p\", \"limit\" : { \"$numberInt\" : \"0\" } }");
  check_built(asp_build_sample_get_more("p", 42, 50, &cmd, NULL), &cmd,
              "{ \"getMoreSampleStreamProcessor\" : \"p\", \"cursorId\" : { \"$numberLong\" : "
              "\"42\" }, \"batchSize\" : { \"$numberInt\" : \"50\" } }");
  check_built(asp_build_sample_get_more("p", 7, -1, &cmd, NULL), &cmd,
              "{ \"getMoreSampleStreamProcessor\" : \"p\", \"cursorId\" : { \"$numberLong\" : "
              "\"7\" } }");
  bson_t *pipeline = json_doc("{\"0\": {\"$source\": {\"documents\": []}}}");
  bson_t *dlq = json_doc("{\"connectionName\": \"c\"}");
  check_built(asp_build_process(pipeline, NULL, &cmd, NULL), &cmd,
              "{ \"processStreamProcessor\" : [ { \"$source\" : { \"documents\" : [  ] } } ] }");
  check_built(asp_build_process(pipeline, dlq, &cmd, NULL), &cmd,
              "{ \"processStreamProcessor\" : [ { \"$source\" : { \"documents\" : [  ] } } ], "
              "\"options\" : { \"dlq\" : { \"connectionName\" : \"c\" } } }");
  bson_destroy(dlq);
  bson_destroy(pipeline);
}

int main(void) {
  test_create();
  test_start();
  test_simple();
  test_stats_modify();
  test_sample_process();
  return check_report("core.commands");
}
