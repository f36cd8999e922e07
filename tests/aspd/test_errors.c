/* Planner errors (the ASP planner's texts and codes), malformed
 * command documents (code 9) and unknown processors. */
#include "workspace_test_util.h"

#define SRC "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}"
#define LOG "{\"$emit\": {\"connectionName\": \"__testLog\"}}"

typedef struct {
  const char *pipeline;
  uint32_t code;
  const char *text;
} planner_case_t;

static const planner_case_t planner_cases[] = {
    {"[{\"$unknownStage\": {}}]", 9, "Unsupported stage: $unknownStage"},
    {"[" SRC ", {\"$bogus\": {}}, " LOG "]", 9, "Unsupported stage: $bogus"},
    {"[{\"$match\": {}}, " LOG "]", 420, "First stage must be $source, found: $match"},
    {"[" LOG "]", 420, "First stage must be $source, found: $emit"},
    {"[" SRC "]", 420, "The last stage in the pipeline must be $merge or $emit."},
    {"[" SRC ", {\"$match\": {}}]", 420, "The last stage in the pipeline must be $merge or $emit."},
    {"[" SRC ", " LOG ", {\"$match\": {}}]", 420,
     "No stages are allowed after a $merge or $emit stage."},
    {"[" SRC ", " LOG ", " LOG "]", 420, "No stages are allowed after a $merge or $emit stage."},
    {"[{\"$source\": {\"connectionName\": \"sample_stream_solar\"}, \"$emit\": {}}]", 420,
     "A pipeline stage specification object must contain exactly one field."},
    {"[{}]", 420, "A pipeline stage specification object must contain exactly one field."},
    {"[{\"$source\": {\"connectionName\": \"nope\"}}, " LOG "]", 420,
     "connection named nope does not exist. Check sp.listConnections() for available connections"},
    {"[" SRC ", {\"$emit\": {\"connectionName\": \"gone\"}}]", 420,
     "connection named gone does not exist. Check sp.listConnections() for available connections"},
    {"[{\"$source\": {}}, " LOG "]", 420, "$source must contain 'connectionName' field in it"},
    {"[" SRC ", {\"$group\": {\"_id\": null}}, " LOG "]", 420,
     "$group stage is only permitted in the inner pipeline of a window stage"},
    {"[" SRC ", {\"$limit\": 3}, " LOG "]", 420,
     "$limit stage is only permitted in the inner pipeline of a window stage"},
    {"[" SRC ", {\"$externalFunction\": {}}, " LOG "]", 420,
     "$externalFunction is not supported by aspd yet"},
    {"[" SRC ", {\"$sessionWindow\": {\"gap\": {\"size\": 1, \"unit\": \"second\"}, "
     "\"pipeline\": []}}, " LOG "]",
     420, "$sessionWindow needs a 'partitionBy' expression"},
    {"[" SRC ", {\"$merge\": {\"into\": {\"connectionName\": \"kafka0\", \"db\": \"d\", \"coll\": "
     "\"c\"}}}]",
     420, "Only atlas merge connection type is currently supported"},
    {"[{\"$source\": {\"documents\": 5}}, " LOG "]", 420,
     "The documents list expression does not evaluate to an array."},
    {"[{\"$source\": {\"documents\": [1, 2]}}, " LOG "]", 420,
     "The documents list expression does not evaluate to an array of objects."},
    {"[{\"$source\": {\"connectionName\": \"sample_stream_solar\", \"tsFieldName\": \"a.b\"}}, " LOG
     "]",
     420, "'tsFieldOverride' cannot be a dotted path"},
    {"[{\"$source\": {\"connectionName\": \"__testLog\"}}, " LOG "]", 420,
     "Only kafka, sample_solar, and atlas source connection type is supported"},
    {"[" SRC ", {\"$emit\": {\"connectionName\": \"sample_stream_solar\"}}]", 420,
     "Expected Atlas connection for $emit"},
    {"[1]", 9, "must be an object"},
};

static void planner(mongoc_client_t *c) {
  for (size_t i = 0; i < sizeof planner_cases / sizeof planner_cases[0]; i++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "{\"createStreamProcessor\": \"bad\", \"pipeline\": %s}",
             planner_cases[i].pipeline);
    WT_ERR(c, cmd, planner_cases[i].code, planner_cases[i].text);
    /* The same rules apply to interactive processors, except that the sink is optional. */
    if (strstr(planner_cases[i].text, "The last stage")) continue;
    snprintf(cmd, sizeof cmd, "{\"processStreamProcessor\": %s}", planner_cases[i].pipeline);
    WT_ERR(c, cmd, planner_cases[i].code, planner_cases[i].text);
  }
  WT_ERR(c,
         "{\"createStreamProcessor\": \"bad\", \"pipeline\": [" SRC ", " LOG
         "], \"options\": "
         "{\"dlq\": {\"connectionName\": \"kafka0\", \"db\": \"d\", \"coll\": \"c\"}}}",
         420, "DLQ must be an Atlas collection");
  WT_ERR(c, "{\"processStreamProcessor\": []}", 420, "Pipeline must have at least one stage");
  /* Nothing half-created stays behind. */
  WT_ERR(c, "{\"getStreamProcessor\": \"bad\"}", 125, "does not exist");
}

static const struct {
  const char *command;
  uint32_t code;
  const char *text;
} malformed[] = {
    {"{\"createStreamProcessor\": 5, \"pipeline\": []}", 9, "non-empty string"},
    {"{\"createStreamProcessor\": \"\", \"pipeline\": []}", 9, "non-empty string"},
    {"{\"createStreamProcessor\": \"x\"}", 9, "'pipeline'"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": {}}", 9, "'pipeline'"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": [], \"options\": 3}", 9, "options"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": [], \"options\": {\"tier\": 10}}", 9,
     "tier"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": [], \"options\": {\"dlq\": \"x\"}}", 9,
     "dlq"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": [], \"options\": {\"failover\": 1}}", 9,
     "failover"},
    {"{\"createStreamProcessor\": \"x\", \"pipeline\": [], \"options\": {\"tier\": \"SP1\"}}", 72,
     "invalid tier"},
    {"{\"startStreamProcessor\": null}", 9, "non-empty string"},
    {"{\"startStreamProcessor\": \"x\", \"options\": {\"clearCheckpoints\": \"yes\"}}", 9,
     "clearCheckpoints"},
    {"{\"startStreamProcessor\": \"x\", \"failover\": \"east\"}", 9, "failover"},
    {"{\"stopStreamProcessor\": 1}", 9, "non-empty string"},
    {"{\"dropStreamProcessor\": {}}", 9, "non-empty string"},
    {"{\"getStreamProcessor\": 1}", 9, "non-empty string"},
    {"{\"modifyStreamProcessor\": \"x\", \"pipeline\": 1}", 9, "pipeline"},
    {"{\"modifyStreamProcessor\": \"x\", \"resumeFromCheckpoint\": \"no\"}", 9,
     "resumeFromCheckpoint"},
    {"{\"modifyStreamProcessor\": \"x\", \"name\": \"\"}", 9, "name"},
    {"{\"getStreamProcessorStats\": \"x\", \"options\": {\"scale\": \"k\"}}", 9, "scale"},
    {"{\"getStreamProcessorStats\": \"x\", \"options\": {\"verbose\": 1}}", 9, "verbose"},
    {"{\"getStreamProcessorStats\": \"x\", \"scale\": 0}", 72, "scale"},
    {"{\"listStreamProcessors\": 1, \"filter\": 5}", 9, "filter"},
    {"{\"listStreamProcessors\": 1, \"filter\": {\"name\": {\"$bogus\": 1}}}", 2,
     "unknown operator"},
    {"{\"listStreamConnections\": 1, \"filter\": []}", 9, "filter"},
    {"{\"processStreamProcessor\": 1}", 9, "array"},
    {"{\"processStreamProcessor\": [" SRC "], \"options\": 1}", 9, "options"},
    {"{\"startSampleStreamProcessor\": \"x\", \"limit\": \"all\"}", 9, "limit"},
    {"{\"startSampleStreamProcessor\": \"x\", \"limit\": -1}", 72, "limit"},
    {"{\"getMoreSampleStreamProcessor\": \"x\"}", 9, "cursorId"},
    {"{\"getMoreSampleStreamProcessor\": \"x\", \"cursorId\": \"12\"}", 9, "cursorId"},
    {"{\"getMoreSampleStreamProcessor\": \"x\", \"cursorId\": 1.5}", 9, "cursorId"},
    {"{\"getMoreSampleStreamProcessor\": \"x\", \"cursorId\": 0}", 9, "cursorId"},
    {"{\"getMoreSampleStreamProcessor\": \"x\", \"cursorId\": 5, \"batchSize\": -2}", 72,
     "batchSize"},
};

static void malformed_commands(mongoc_client_t *c) {
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    WT_ERR(c, malformed[i].command, malformed[i].code, malformed[i].text);
  }
}

static void unknown_names(mongoc_client_t *c) {
  static const char *const commands[] = {
      "{\"startStreamProcessor\": \"ghost\"}",
      "{\"stopStreamProcessor\": \"ghost\"}",
      "{\"dropStreamProcessor\": \"ghost\"}",
      "{\"modifyStreamProcessor\": \"ghost\", \"tier\": \"SP5\"}",
      "{\"getStreamProcessor\": \"ghost\"}",
      "{\"getStreamProcessorStats\": \"ghost\"}",
      "{\"startSampleStreamProcessor\": \"ghost\"}",
      "{\"getMoreSampleStreamProcessor\": \"ghost\", \"cursorId\": 7}",
  };
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    WT_ERR(c, commands[i], 125, "stream processor does not exist: ghost");
  }
}

static void error_reply_shape(mongoc_client_t *c) {
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(!wt_run(c, "{\"getStreamProcessor\": \"ghost\"}", &reply, &error));
  CHECK(wt_double(&reply, "ok") == 0.0);
  CHECK(wt_int(&reply, "code", NULL) == 125);
  CHECK(!strcmp(wt_str(&reply, "codeName", s, sizeof s), "CommandFailed"));
  CHECK(strstr(wt_str(&reply, "errmsg", s, sizeof s), "ghost") != NULL);
  bson_destroy(&reply);
  CHECK(!wt_run(c, "{\"createStreamProcessor\": \"x\", \"pipeline\": [" SRC "]}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "codeName", s, sizeof s), "StreamProcessorInvalidOptions"));
  bson_destroy(&reply);
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  planner(c);
  malformed_commands(c);
  unknown_names(c);
  error_reply_shape(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.errors");
}
