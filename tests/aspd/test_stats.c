/* getStreamProcessorStats: real counters, scale, verbose operatorStats, both
 * option placements, and every state. */
#include "workspace_test_util.h"

static void stats_of(mongoc_client_t *c, const char *json, bson_t *reply) {
  bson_error_t error;
  if (!wt_run(c, json, reply, &error)) {
    fprintf(stderr, "FAIL: %s -> %s\n", json, error.message);
    wt_failures++;
  }
}

static void counters(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"m\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$match\": {\"event_type\": 0}}, {\"$merge\": {\"into\": "
        "{\"connectionName\": \"cluster0\", \"db\": \"solar\", \"coll\": \"readings\"}}}]}");
  bson_t reply;
  bson_type_t t;
  char s[64];
  stats_of(c, "{\"getStreamProcessorStats\": \"m\"}", &reply);
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) == 0);
  CHECK(wt_double(&reply, "stats.outputMessageSize") == 0.0);
  bson_destroy(&reply);

  WT_OK(c, "{\"startStreamProcessor\": \"m\"}");
  usleep(300000);
  stats_of(c, "{\"getStreamProcessorStats\": \"m\", \"options\": {\"verbose\": false}}", &reply);
  int64_t in1 = wt_int(&reply, "stats.inputMessageCount", &t);
  CHECK(in1 > 50 && t == BSON_TYPE_INT64);
  CHECK(!strcmp(wt_str(&reply, "stats.status", s, sizeof s), "running"));
  CHECK(!strcmp(wt_str(&reply, "state", s, sizeof s), "STARTED"));
  bson_destroy(&reply);
  usleep(200000);
  stats_of(c, "{\"getStreamProcessorStats\": \"m\"}", &reply);
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) > in1);
  /* Nothing to checkpoint (a generator source, no stateful stage): no age. */
  bson_type_t age_type;
  wt_int(&reply, "stats.checkpointAgeMs", &age_type);
  CHECK(age_type == BSON_TYPE_EOD);
  bson_destroy(&reply);

  WT_OK(c, "{\"stopStreamProcessor\": \"m\"}");
  /* Stopped: the counters stand still, so scale can be compared exactly. */
  bson_t plain, kib;
  stats_of(c, "{\"getStreamProcessorStats\": \"m\"}", &plain);
  stats_of(c, "{\"getStreamProcessorStats\": \"m\", \"options\": {\"scale\": 1024}}", &kib);
  int64_t in = wt_int(&plain, "stats.inputMessageCount", NULL);
  int64_t out = wt_int(&plain, "stats.outputMessageCount", NULL);
  double in_size = wt_double(&plain, "stats.inputMessageSize");
  CHECK(out > 0 && out <= in);
  CHECK(in_size > in * 100.0); /* a solar message is well over 100 bytes */
  CHECK(wt_double(&plain, "stats.outputMessageSize") > 0);
  CHECK(wt_int(&plain, "stats.dlqMessageCount", &t) == 0 && t == BSON_TYPE_INT64);
  CHECK(wt_int(&kib, "stats.scaleFactor", &t) == 1024 && t == BSON_TYPE_INT64);
  CHECK(wt_int(&kib, "stats.inputMessageCount", NULL) == in);
  double scaled = wt_double(&kib, "stats.inputMessageSize");
  CHECK(scaled > in_size / 1024.0 - 0.001 && scaled < in_size / 1024.0 + 0.001);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &plain) &&
        bson_iter_find_descendant(&it, "stats.inputMessageSize", &it) &&
        BSON_ITER_HOLDS_DOUBLE(&it));
  CHECK(bson_iter_init(&it, &plain) && bson_iter_find_descendant(&it, "stats.stateSize", &it));
  CHECK(bson_iter_init(&it, &plain) &&
        bson_iter_find_descendant(&it, "stats.memoryTrackerBytes", &it));
  CHECK(!strcmp(wt_str(&plain, "stats.processorId", s, sizeof s),
                wt_str(&plain, "stats.processorId", s, sizeof s)));
  CHECK(strstr(wt_str(&plain, "ns", s, sizeof s), ".m") != NULL);
  bson_destroy(&kib);

  /* Verbose, the Node driver way (top level): per-operator counters. */
  bson_t verbose;
  stats_of(c, "{\"getStreamProcessorStats\": \"m\", \"verbose\": true, \"scale\": 1}", &verbose);
  CHECK(wt_array_len(&verbose, "stats.operatorStats") == 3);
  CHECK(!strcmp(wt_str(&verbose, "stats.operatorStats.0.name", s, sizeof s),
                "SampleDataSourceOperator"));
  CHECK(!strcmp(wt_str(&verbose, "stats.operatorStats.1.name", s, sizeof s), "MatchOperator"));
  CHECK(!strcmp(wt_str(&verbose, "stats.operatorStats.2.name", s, sizeof s), "MergeOperator"));
  CHECK(wt_int(&verbose, "stats.operatorStats.0.inputMessageCount", NULL) == in);
  CHECK(wt_int(&verbose, "stats.operatorStats.1.inputMessageCount", NULL) == in);
  CHECK(wt_int(&verbose, "stats.operatorStats.1.outputMessageCount", NULL) == out);
  CHECK(wt_int(&verbose, "stats.operatorStats.2.outputMessageCount", NULL) == out);
  bson_destroy(&verbose);
  bson_destroy(&plain);
  /* Not verbose: no operatorStats. */
  stats_of(c, "{\"getStreamProcessorStats\": \"m\"}", &reply);
  CHECK(wt_array_len(&reply, "stats.operatorStats") == 0);
  CHECK(!strcmp(wt_str(&reply, "state", s, sizeof s), "STOPPED"));
  bson_destroy(&reply);

  /* Counters survive a restart of the processor and keep growing. */
  WT_OK(c, "{\"startStreamProcessor\": \"m\"}");
  usleep(200000);
  stats_of(c, "{\"getStreamProcessorStats\": \"m\"}", &reply);
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) > in);
  bson_destroy(&reply);
  WT_OK(c, "{\"dropStreamProcessor\": \"m\"}");
}

/* A CREATED processor gets verbose stats with zeroed operators (mongosh e2e). */
/* A processor with window state: commits succeed here, so its committed checkpoint
 * trails its state by about a flusher delay (a generous bound: the machine may be busy). */
static void checkpoint_age(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"w\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": "
        "\"hour\"}, \"pipeline\": [{\"$group\": {\"_id\": null, \"n\": {\"$sum\": 1}}}]}}, "
        "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"w\"}");
  usleep(400000);
  bson_t reply;
  bson_type_t t;
  stats_of(c, "{\"getStreamProcessorStats\": \"w\"}", &reply);
  int64_t age = wt_int(&reply, "stats.checkpointAgeMs", &t);
  CHECK(t == BSON_TYPE_INT64 && age >= 0 && age < 5000);
  bson_iter_t when;
  CHECK(bson_iter_init(&when, &reply) &&
        bson_iter_find_descendant(&when, "stats.lastCheckpointCurrent", &when) &&
        BSON_ITER_HOLDS_DATE_TIME(&when));
  bson_destroy(&reply);
  WT_OK(c, "{\"stopStreamProcessor\": \"w\"}");
  WT_OK(c, "{\"dropStreamProcessor\": \"w\"}");
}

static void created_verbose(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"z\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  bson_t reply;
  char s[64];
  stats_of(c, "{\"getStreamProcessorStats\": \"z\", \"options\": {\"verbose\": true}}", &reply);
  CHECK(wt_array_len(&reply, "stats.operatorStats") == 2);
  CHECK(!strcmp(wt_str(&reply, "stats.operatorStats.1.name", s, sizeof s), "LogSinkOperator"));
  CHECK(wt_int(&reply, "stats.operatorStats.1.inputMessageCount", NULL) == 0);
  bson_destroy(&reply);
  WT_OK(c, "{\"dropStreamProcessor\": \"z\"}");
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  counters(c);
  checkpoint_age(c);
  created_verbose(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.stats");
}
