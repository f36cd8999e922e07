/* processStreamProcessor: ephemeral processors over inline documents and the
 * sample source, with and without a sink; $match and $unset on the way. */
#include <stdlib.h>

#include "workspace_test_util.h"

/* Runs processStreamProcessor; copies the generated name; returns the cursor id. */
static int64_t process(mongoc_client_t *c, const char *json, char *name, size_t len) {
  bson_t reply;
  bson_error_t error;
  int64_t id = -1;
  bson_type_t t;
  name[0] = '\0';
  if (wt_run(c, json, &reply, &error)) {
    id = wt_int(&reply, "cursorId", &t);
    CHECK(t == BSON_TYPE_INT64 && id > 0);
    wt_str(&reply, "name", name, len);
    CHECK(name[0] != '\0');
  } else {
    fprintf(stderr, "FAIL: %s -> %s\n", json, error.message);
    wt_failures++;
  }
  bson_destroy(&reply);
  return id;
}

static void inline_documents(mongoc_client_t *c) {
  char name[128], s[64];
  int64_t id = process(c,
                       "{\"processStreamProcessor\": [{\"$source\": {\"documents\": "
                       "[{\"a\": 1, \"b\": \"x\"}, {\"a\": 2, \"b\": \"y\"}, {\"a\": 3}]}}]}",
                       name, sizeof name);
  bson_t docs = BSON_INITIALIZER;
  CHECK(wt_collect(c, name, id, &docs) == 3);
  CHECK(wt_int(&docs, "0.a", NULL) == 1 && wt_int(&docs, "2.a", NULL) == 3);
  CHECK(!strcmp(wt_str(&docs, "1.b", s, sizeof s), "y"));
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &docs) && bson_iter_find_descendant(&it, "0._ts", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  bson_destroy(&docs);
  /* The interactive processor is gone with its cursor; mongosh's drop then fails harmlessly. */
  char cmd[256];
  snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"%s\"}", name);
  WT_ERR(c, cmd, 125, "does not exist");
}

static void operators(mongoc_client_t *c) {
  char name[128];
  int64_t id = process(
      c,
      "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"a\": 1, \"k\": {\"x\": 1, "
      "\"y\": 2}}, {\"a\": 2, \"k\": {\"x\": 1}}, {\"a\": 3}], \"tsFieldName\": \"when\"}},"
      " {\"$match\": {\"a\": {\"$gte\": 2}}}, {\"$unset\": [\"k.x\", \"_stream_meta\"]}]}",
      name, sizeof name);
  bson_t docs = BSON_INITIALIZER;
  CHECK(wt_collect(c, name, id, &docs) == 2);
  CHECK(wt_int(&docs, "0.a", NULL) == 2 && wt_int(&docs, "1.a", NULL) == 3);
  bson_iter_t it;
  CHECK(!(bson_iter_init(&it, &docs) && bson_iter_find_descendant(&it, "0.k.x", &it)));
  CHECK(!(bson_iter_init(&it, &docs) && bson_iter_find_descendant(&it, "0._stream_meta", &it)));
  CHECK(!(bson_iter_init(&it, &docs) && bson_iter_find_descendant(&it, "0._ts", &it)));
  CHECK(bson_iter_init(&it, &docs) && bson_iter_find_descendant(&it, "0.when", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  bson_destroy(&docs);
}

/* A sample-source interactive processor keeps running until dropped, even while started. */
static void running_drop(mongoc_client_t *c) {
  char name[128], cmd[256];
  int64_t id = process(c,
                       "{\"processStreamProcessor\": [{\"$source\": {\"connectionName\": "
                       "\"fast_solar\"}}], \"options\": {\"dlq\": {\"connectionName\": "
                       "\"cluster0\", \"db\": \"d\", \"coll\": \"dlq\"}}}",
                       name, sizeof name);
  uint32_t got = 0;
  for (int i = 0; i < 50 && got < 10; i++) {
    CHECK(wt_get_more(c, name, id, 0, &got) == id);
    usleep(20000);
  }
  CHECK(got >= 10);
  /* Interactive processors are not listed. */
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "streamProcessors") == 0);
  bson_destroy(&reply);
  snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"%s\"}", name);
  WT_OK(c, cmd);
  snprintf(cmd, sizeof cmd, "{\"getStreamProcessor\": \"%s\"}", name);
  WT_ERR(c, cmd, 125, "does not exist");
}

/* The first message of a sample-source interactive processor, copied into msg
 * (initialized here); the processor is dropped after. */
static bool first_sample(mongoc_client_t *c, const char *json, bson_t *msg) {
  char name[128], cmd[512];
  int64_t id = process(c, json, name, sizeof name);
  bson_t reply = BSON_INITIALIZER;
  bool got = false;
  bson_init(msg);
  snprintf(cmd, sizeof cmd,
           "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": %lld, \"batchSize\": 1}", name,
           (long long)id);
  for (int i = 0; i < 100 && !got; i++) {
    bson_destroy(&reply);
    bson_error_t error;
    if (!wt_run(c, cmd, &reply, &error)) break;
    bson_iter_t it;
    if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "messages.0", &it) &&
        BSON_ITER_HOLDS_DOCUMENT(&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_t found;
      bson_iter_document(&it, &len, &data);
      got = bson_init_static(&found, data, len) && bson_concat(msg, &found);
    } else {
      usleep(20000);
    }
  }
  bson_destroy(&reply);
  snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"%s\"}", name);
  WT_OK(c, cmd);
  return got;
}

/* The keys of doc joined with commas, and the type of each in types. */
static void keys_of(const bson_t *doc, char *keys, size_t len, bson_type_t *types) {
  bson_iter_t it;
  keys[0] = '\0';
  size_t n = 0;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    size_t used = strlen(keys);
    snprintf(keys + used, len - used, "%s%s", used ? "," : "", bson_iter_key(&it));
    types[n++] = bson_iter_type(&it);
  }
}

/* The sample source stamps _ts and _stream_meta after the generated fields; a
 * stamp named like a generated field replaces it at the end. */
static void sample_stamps(mongoc_client_t *c) {
  bson_t msg;
  char keys[256];
  bson_type_t types[16];
  CHECK(first_sample(c,
                     "{\"processStreamProcessor\": [{\"$source\": {\"connectionName\": "
                     "\"fast_solar\"}}]}",
                     &msg));
  keys_of(&msg, keys, sizeof keys, types);
  CHECK(
      !strcmp(keys, "device_id,group_id,timestamp,max_watts,event_type,obs,_ts,_stream_meta") ||
      !strcmp(keys,
              "device_id,group_id,timestamp,max_watts,event_type,event_details,_ts,_stream_meta"));
  CHECK(types[2] == BSON_TYPE_UTF8 && types[6] == BSON_TYPE_DATE_TIME);
  char s[64];
  CHECK(!strcmp(wt_str(&msg, "_stream_meta.source.type", s, sizeof s), "generated"));
  bson_destroy(&msg);

  CHECK(first_sample(c,
                     "{\"processStreamProcessor\": [{\"$source\": {\"connectionName\": "
                     "\"fast_solar\", \"tsFieldName\": \"timestamp\"}}], \"options\": "
                     "{\"streamMetaFieldName\": \"device_id\"}}",
                     &msg));
  keys_of(&msg, keys, sizeof keys, types);
  CHECK(!strcmp(keys, "group_id,max_watts,event_type,obs,timestamp,device_id") ||
        !strcmp(keys, "group_id,max_watts,event_type,event_details,timestamp,device_id"));
  CHECK(types[4] == BSON_TYPE_DATE_TIME && types[5] == BSON_TYPE_DOCUMENT);
  CHECK(!strcmp(wt_str(&msg, "device_id.source.type", s, sizeof s), "generated"));
  bson_destroy(&msg);
}

/* With a sink the output goes there too. */
static void with_sink(mongoc_client_t *c) {
  char name[128];
  int64_t id = process(c,
                       "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"n\": 1}, "
                       "{\"n\": 2}]}}, {\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": "
                       "\"t1\"}}]}",
                       name, sizeof name);
  bson_t docs = BSON_INITIALIZER;
  CHECK(wt_collect(c, name, id, &docs) == 2);
  bson_destroy(&docs);
  /* Read the topic back with another interactive processor. */
  id = process(c,
               "{\"processStreamProcessor\": [{\"$source\": {\"connectionName\": \"kafka0\", "
               "\"topic\": \"t1\", \"config\": {\"auto_offset_reset\": \"earliest\"}}}]}",
               name, sizeof name);
  bson_t back = BSON_INITIALIZER;
  char cmd[256], s[64];
  snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": %lld}", name,
           (long long)id);
  for (int i = 0; i < 50 && wt_array_len(&back, "messages") < 2; i++) {
    bson_destroy(&back);
    bson_error_t error;
    if (!wt_run(c, cmd, &back, &error)) break;
    if (wt_array_len(&back, "messages") < 2) usleep(20000);
  }
  CHECK(wt_array_len(&back, "messages") == 2);
  CHECK(wt_int(&back, "messages.1.n", NULL) == 2);
  CHECK(!strcmp(wt_str(&back, "messages.1._stream_meta.source.type", s, sizeof s), "kafka"));
  CHECK(!strcmp(wt_str(&back, "messages.1._stream_meta.source.topic", s, sizeof s), "t1"));
  CHECK(wt_int(&back, "messages.1._stream_meta.source.offset", NULL) == 1);
  bson_destroy(&back);
}

/* More inline documents than a cursor buffers: none is lost, the source waits. */
static void backpressure(mongoc_client_t *c) {
  bson_t *cmd = bson_new(), pipeline, stage, source, docs;
  BSON_APPEND_ARRAY_BEGIN(cmd, "processStreamProcessor", &pipeline);
  BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$source", &source);
  BSON_APPEND_ARRAY_BEGIN(&source, "documents", &docs);
  for (int i = 0; i < 25000; i++) {
    char key[16];
    snprintf(key, sizeof key, "%d", i);
    bson_t *d = BCON_NEW("i", BCON_INT32(i));
    bson_append_document(&docs, key, -1, d);
    bson_destroy(d);
  }
  bson_append_array_end(&source, &docs);
  bson_append_document_end(&stage, &source);
  bson_append_document_end(&pipeline, &stage);
  bson_append_array_end(cmd, &pipeline);
  bson_t reply;
  bson_error_t error;
  char name[128];
  CHECK(mongoc_client_command_simple(c, "admin", cmd, NULL, &reply, &error));
  int64_t id = wt_int(&reply, "cursorId", NULL);
  wt_str(&reply, "name", name, sizeof name);
  bson_destroy(&reply);
  bson_destroy(cmd);
  usleep(200000); /* let the source run into the full buffer */
  uint32_t got = 0;
  for (int i = 0; i < 5000 && id > 0; i++) { /* at most about 10 s */
    uint32_t before = got;
    id = wt_get_more(c, name, id, 5000, &got);
    if (got == before) usleep(2000);
  }
  CHECK(id == 0);
  CHECK(got == 25000);
}

/* An abandoned cursor is reaped, and its interactive processor with it. */
static void abandoned(mongoc_client_t *c) {
  char name[128], cmd[256];
  process(c,
          "{\"processStreamProcessor\": [{\"$source\": {\"connectionName\": "
          "\"sample_stream_solar\"}}]}",
          name, sizeof name);
  sleep(2);
  snprintf(cmd, sizeof cmd, "{\"getStreamProcessor\": \"%s\"}", name);
  WT_ERR(c, cmd, 125, "does not exist");
}

int main(void) {
  setenv("ASPD_SAMPLE_IDLE_MS", "1000", 1);
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  inline_documents(c);
  operators(c);
  running_drop(c);
  sample_stamps(c);
  with_sink(c);
  backpressure(c);
  abandoned(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.process");
}
