/* listStreamProcessors filters: name, state, options, $regex, $in, dotted paths. */
#include "workspace_test_util.h"

#define PIPE                                                       \
  "[{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}," \
  " {\"$emit\": {\"connectionName\": \"__testLog\"}}]"

static uint32_t count(mongoc_client_t *c, const char *filter) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "{\"listStreamProcessors\": 1, \"filter\": %s}", filter);
  bson_t reply;
  bson_error_t error;
  uint32_t n = 9999;
  if (wt_run(c, cmd, &reply, &error)) {
    n = wt_array_len(&reply, "streamProcessors");
  } else {
    fprintf(stderr, "FAIL: %s -> %s\n", cmd, error.message);
    wt_failures++;
  }
  bson_destroy(&reply);
  return n;
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  /* test1 STARTED with a DLQ, test2 STOPPED, other CREATED (SP5). */
  WT_OK(c, "{\"createStreamProcessor\": \"test1\", \"pipeline\": " PIPE
           ", \"options\": {\"dlq\": "
           "{\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": \"dlq\"}}}");
  WT_OK(c, "{\"createStreamProcessor\": \"test2\", \"pipeline\": " PIPE "}");
  WT_OK(c, "{\"createStreamProcessor\": \"other\", \"pipeline\": " PIPE
           ", \"options\": {\"tier\": "
           "\"SP5\"}}");
  WT_OK(c, "{\"startStreamProcessor\": \"test1\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"test2\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"test2\"}");

  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "streamProcessors") == 3);
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.0.name", s, sizeof s), "test1"));
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.0.state", s, sizeof s), "STARTED"));
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.0.errorMsg", s, sizeof s), ""));
  CHECK(!strcmp(wt_str(&reply, "streamProcessors.2.tier", s, sizeof s), "SP5"));
  CHECK(wt_array_len(&reply, "streamProcessors.0.pipeline") == 2);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "streamProcessors.0.lastModified", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  CHECK(bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "streamProcessors.0.lastStateChange", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  bson_destroy(&reply);

  CHECK(count(c, "null") == 3);
  CHECK(count(c, "{}") == 3);
  CHECK(count(c, "{\"name\": \"other\"}") == 1);
  CHECK(count(c, "{\"name\": {\"$regex\": \"^test\"}}") == 2);
  CHECK(count(c, "{\"name\": {\"$regex\": \"^TEST\", \"$options\": \"i\"}}") == 2);
  /* libbson's JSON parser already turns {$regex, $options} into a BSON regex; a bare one: */
  CHECK(
      count(c, "{\"name\": {\"$regularExpression\": {\"pattern\": \"2$\", \"options\": \"\"}}}") ==
      1);
  CHECK(count(c,
              "{\"name\": {\"$not\": {\"$regularExpression\": {\"pattern\": \"^test\", "
              "\"options\": \"\"}}}}") == 1);
  CHECK(count(c, "{\"state\": \"CREATED\"}") == 1);
  CHECK(count(c, "{\"state\": {\"$in\": [\"STARTED\", \"STOPPED\"]}}") == 2);
  CHECK(count(c, "{\"state\": {\"$nin\": [\"STARTED\", \"STOPPED\"]}}") == 1);
  CHECK(count(c, "{\"state\": {\"$ne\": \"STARTED\"}}") == 2);
  CHECK(count(c, "{\"options.dlq.connectionName\": \"cluster0\"}") == 1);
  CHECK(count(c, "{\"options.dlq\": {\"$exists\": false}}") == 2);
  CHECK(count(c, "{\"tier\": \"SP10\"}") == 2);
  CHECK(count(c, "{\"pipeline.0.$source.connectionName\": \"sample_stream_solar\"}") == 3);
  CHECK(count(c, "{\"$or\": [{\"name\": \"other\"}, {\"state\": \"STOPPED\"}]}") == 2);
  CHECK(count(c, "{\"$and\": [{\"name\": {\"$regex\": \"^test\"}}, {\"state\": \"STOPPED\"}]}") ==
        1);
  /* mongosh's own example filter. */
  CHECK(count(c,
              "{\"name\": {\"$regex\": \"^test\"}, \"state\": {\"$in\": [\"STARTED\", "
              "\"STOPPED\"]}, \"options.dlq.connectionName\": \"cluster0\"}") == 1);
  CHECK(count(c, "{\"name\": \"nobody\"}") == 0);
  /* $regex as a string with $options (what mongosh sends), built without the JSON parser. */
  bson_t *cmd = BCON_NEW("listStreamProcessors", BCON_INT32(1), "filter", "{", "name", "{",
                         "$regex", BCON_UTF8("^TEST"), "$options", BCON_UTF8("i"), "}", "}");
  CHECK(mongoc_client_command_simple(c, "admin", cmd, NULL, &reply, &error));
  CHECK(wt_array_len(&reply, "streamProcessors") == 2);
  bson_destroy(&reply);
  bson_destroy(cmd);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.list");
}
