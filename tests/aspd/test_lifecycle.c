/* The processor state machine: every valid transition, every invalid one, and
 * every field placement clients use. */
#include "workspace_test_util.h"

#define SOLAR_TO_LOG                                               \
  "[{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}," \
  " {\"$emit\": {\"connectionName\": \"__testLog\"}}]"
#define FAST_TO_LOG                                       \
  "[{\"$source\": {\"connectionName\": \"fast_solar\"}}," \
  " {\"$emit\": {\"connectionName\": \"__testLog\"}}]"

static bool state_is(mongoc_client_t *c, const char *name, const char *want) {
  char s[32];
  return !strcmp(wt_state(c, name, s, sizeof s), want);
}

static void transitions(mongoc_client_t *c) {
  WT_OK(c, "{\"createStreamProcessor\": \"p\", \"pipeline\": " SOLAR_TO_LOG "}");
  CHECK(state_is(c, "p", "CREATED"));
  WT_ERR(c, "{\"createStreamProcessor\": \"p\", \"pipeline\": " SOLAR_TO_LOG "}", 125,
         "stream processor name already exists: p");
  WT_ERR(c, "{\"stopStreamProcessor\": \"p\"}", 125, "it is CREATED, and stop needs STARTED");
  WT_ERR(c, "{\"modifyStreamProcessor\": \"p\", \"tier\": \"SP5\"}", 125,
         "it is CREATED, and modify needs STOPPED");
  WT_ERR(c, "{\"startSampleStreamProcessor\": \"p\"}", 125, "needs a STARTED processor");

  WT_OK(c, "{\"startStreamProcessor\": \"p\"}");
  CHECK(state_is(c, "p", "STARTED"));
  WT_ERR(c, "{\"startStreamProcessor\": \"p\"}", 125,
         "it is STARTED, and start needs CREATED, STOPPED or FAILED");
  WT_ERR(c, "{\"modifyStreamProcessor\": \"p\", \"tier\": \"SP5\"}", 125,
         "it is STARTED, and modify needs STOPPED");

  WT_OK(c, "{\"stopStreamProcessor\": \"p\"}");
  CHECK(state_is(c, "p", "STOPPED"));
  WT_ERR(c, "{\"stopStreamProcessor\": \"p\"}", 125, "it is STOPPED, and stop needs STARTED");

  WT_OK(c, "{\"startStreamProcessor\": \"p\"}"); /* STOPPED -> STARTED */
  CHECK(state_is(c, "p", "STARTED"));
  WT_OK(c, "{\"dropStreamProcessor\": \"p\"}"); /* drop while running */
  WT_ERR(c, "{\"getStreamProcessor\": \"p\"}", 125, "stream processor does not exist: p");
  WT_ERR(c, "{\"dropStreamProcessor\": \"p\"}", 125, "does not exist");

  WT_OK(c, "{\"createStreamProcessor\": \"q\", \"pipeline\": " SOLAR_TO_LOG "}");
  WT_OK(
      c,
      "{\"dropStreamProcessor\": \"q\", \"force\": true}"); /* drop from CREATED, mongosh extras */
  WT_OK(c, "{\"createStreamProcessor\": \"q\", \"pipeline\": " SOLAR_TO_LOG "}");
  WT_OK(c, "{\"startStreamProcessor\": \"q\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"q\", \"force\": true}");
  WT_OK(c, "{\"dropStreamProcessor\": \"q\"}"); /* drop from STOPPED */
}

static void modify(mongoc_client_t *c) {
  char s[128];
  bson_t reply;
  bson_error_t error;
  WT_OK(c, "{\"createStreamProcessor\": \"m\", \"pipeline\": " SOLAR_TO_LOG
           ", \"options\": {\"dlq\": {\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": "
           "\"q\"}}}");
  WT_OK(c, "{\"createStreamProcessor\": \"other\", \"pipeline\": " SOLAR_TO_LOG "}");
  WT_OK(c, "{\"startStreamProcessor\": \"m\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"m\"}");
  /* Same $source: allowed while resuming from the checkpoint. */
  WT_OK(c,
        "{\"modifyStreamProcessor\": \"m\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"sample_stream_solar\"}}, {\"$match\": {\"event_type\": 0}}, {\"$emit\": "
        "{\"connectionName\": \"__testLog\"}}]}");
  /* Another $source needs resumeFromCheckpoint: false. */
  WT_ERR(c, "{\"modifyStreamProcessor\": \"m\", \"pipeline\": " FAST_TO_LOG "}", 420,
         "resumeFromCheckpoint must be false to modify a stream processor's $source stage");
  WT_OK(c, "{\"modifyStreamProcessor\": \"m\", \"pipeline\": " FAST_TO_LOG
           ", \"resumeFromCheckpoint\": false}");
  WT_OK(c, "{\"modifyStreamProcessor\": \"m\", \"tier\": \"SP5\"}");
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"m\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "result.tier", s, sizeof s), "SP5"));
  CHECK(!strcmp(wt_str(&reply, "result.dlq.coll", s, sizeof s), "q"));
  CHECK(!strcmp(wt_str(&reply, "result.pipeline.0.$source.connectionName", s, sizeof s),
                "fast_solar"));
  bson_destroy(&reply);
  WT_OK(c, "{\"modifyStreamProcessor\": \"m\", \"dlq\": {}}"); /* {} removes the DLQ */
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"m\"}", &reply, &error));
  bson_iter_t it;
  CHECK(!bson_iter_init_find(&it, &reply, "result") || !bson_iter_recurse(&it, &it) ||
        !bson_iter_find(&it, "dlq"));
  bson_destroy(&reply);
  WT_ERR(c, "{\"modifyStreamProcessor\": \"m\", \"name\": \"other\"}", 125,
         "stream processor name already exists: other");
  WT_OK(c, "{\"modifyStreamProcessor\": \"m\", \"name\": \"renamed\"}");
  CHECK(state_is(c, "renamed", "STOPPED"));
  WT_ERR(c, "{\"getStreamProcessor\": \"m\"}", 125, "does not exist");
  WT_OK(c, "{\"startStreamProcessor\": \"renamed\"}");
  CHECK(state_is(c, "renamed", "STARTED"));
  WT_OK(c, "{\"dropStreamProcessor\": \"renamed\"}");
  WT_OK(c, "{\"dropStreamProcessor\": \"other\"}");
}

/* Start fields: nested in options (drivers) or spread at the top level (mongosh);
 * failover in or out of options; workers at the top level. */
static void start_placements(mongoc_client_t *c) {
  char s[32];
  bson_t reply;
  bson_error_t error;
  static const char *const starts[] = {
      "{\"startStreamProcessor\": \"s\", \"workers\": 2, \"options\": {\"clearCheckpoints\": true,"
      " \"tier\": \"SP30\", \"enableAutoScaling\": false, \"startAtOperationTime\": "
      "{\"$timestamp\":"
      " {\"t\": 1715000000, \"i\": 1}}}, \"failover\": {\"region\": \"US_EAST_1\", \"mode\":"
      " \"GRACEFUL\", \"dryRun\": true}}",
      "{\"startStreamProcessor\": \"s\", \"options\": {\"tier\": \"SP30\", \"failover\":"
      " {\"region\": \"US_EAST_1\"}}}",
      "{\"startStreamProcessor\": \"s\", \"tier\": \"SP30\", \"resumeFromCheckpoint\": false}",
      "{\"startStreamProcessor\": \"s\", \"options\": {}}",
      "{\"startStreamProcessor\": \"s\", \"options\": {\"startAfter\": {\"_data\": \"x\"}}}",
  };
  WT_OK(c, "{\"createStreamProcessor\": \"s\", \"pipeline\": " SOLAR_TO_LOG ", \"options\": {}}");
  for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
    if (!WT_OK(c, starts[i])) continue;
    CHECK(state_is(c, "s", "STARTED"));
    if (i < 3) {
      CHECK(wt_run(c, "{\"getStreamProcessor\": \"s\"}", &reply, &error));
      CHECK(!strcmp(wt_str(&reply, "result.tier", s, sizeof s), "SP30"));
      bson_destroy(&reply);
    }
    WT_OK(c, "{\"stopStreamProcessor\": \"s\"}");
  }
  WT_ERR(c, "{\"startStreamProcessor\": \"s\", \"options\": {\"tier\": \"SP7\"}}", 72,
         "invalid tier");
  WT_ERR(c, "{\"startStreamProcessor\": \"s\", \"workers\": 0.5}", 9, "workers");
  WT_ERR(c,
         "{\"startStreamProcessor\": \"s\", \"options\": {\"startAfter\": {}, "
         "\"startAtOperationTime\":"
         " {\"$timestamp\": {\"t\": 1, \"i\": 1}}}}",
         72, "cannot both be set");
  WT_OK(c, "{\"dropStreamProcessor\": \"s\"}");
}

static void empty_pipeline(mongoc_client_t *c) {
  /* mongosh and the C driver may create with []; starting it is the planner's error. */
  WT_OK(c, "{\"createStreamProcessor\": \"empty\", \"pipeline\": []}");
  CHECK(state_is(c, "empty", "CREATED"));
  WT_ERR(c, "{\"startStreamProcessor\": \"empty\"}", 420, "Pipeline must have at least one stage");
  CHECK(state_is(c, "empty", "CREATED"));
  WT_OK(c, "{\"dropStreamProcessor\": \"empty\"}");
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  transitions(c);
  modify(c);
  start_placements(c);
  empty_pipeline(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.lifecycle");
}
