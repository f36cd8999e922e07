/* Sample cursor semantics: limit, batchSize,
 * empty batches with a live id, 0 at the end, closed on stop and drop, idle
 * reaping, every cursorId form, and the shape of sample_stream_solar messages. */
#include <stdlib.h>

#include "workspace_test_util.h"

#define FAST_TO_LOG                                       \
  "[{\"$source\": {\"connectionName\": \"fast_solar\"}}," \
  " {\"$emit\": {\"connectionName\": \"__testLog\"}}]"

static int64_t start_sample(mongoc_client_t *c, const char *json) {
  bson_t reply;
  bson_error_t error;
  int64_t id = -1;
  bson_type_t t;
  if (wt_run(c, json, &reply, &error)) {
    id = wt_int(&reply, "cursorId", &t);
    CHECK(t == BSON_TYPE_INT64);
    CHECK(wt_array_len(&reply, "messages") == 0); /* start never carries documents */
  } else {
    fprintf(stderr, "FAIL: %s -> %s\n", json, error.message);
    wt_failures++;
  }
  bson_destroy(&reply);
  return id;
}

/* Polls until cursorId 0 (or 5 s); returns the number of messages. */
static uint32_t drain(mongoc_client_t *c, const char *name, int64_t cursor, int batch,
                      uint32_t *max_batch) {
  uint32_t total = 0;
  for (int i = 0; i < 250 && cursor > 0; i++) {
    uint32_t got = 0;
    cursor = wt_get_more(c, name, cursor, batch, &got);
    if (max_batch && got > *max_batch) *max_batch = got;
    total += got;
    if (got == 0) usleep(20000);
  }
  CHECK(cursor == 0);
  return total;
}

static void limit_and_batch(mongoc_client_t *c) {
  WT_OK(c, "{\"createStreamProcessor\": \"fast\", \"pipeline\": " FAST_TO_LOG "}");
  WT_OK(c, "{\"startStreamProcessor\": \"fast\"}");
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\", \"limit\": 3}");
  CHECK(drain(c, "fast", id, 0, NULL) == 3);
  uint32_t max_batch = 0;
  id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\", \"limit\": 50}");
  CHECK(drain(c, "fast", id, 7, &max_batch) == 50);
  CHECK(max_batch <= 7 && max_batch > 0);
  /* limit 0: exhausted at once (C driver sample-cursor.json). */
  id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\", \"limit\": 0}");
  uint32_t got = 0;
  CHECK(wt_get_more(c, "fast", id, 0, &got) == 0 && got == 0);
  /* An exhausted cursor is gone. */
  char cmd[256];
  snprintf(
      cmd, sizeof cmd,
      "{\"getMoreSampleStreamProcessor\": \"fast\", \"cursorId\": {\"$numberLong\": \"%lld\"}}",
      (long long)id);
  WT_ERR(c, cmd, 43, "not found");
}

/* cursorId as int32, int64 and integral double all reach the same cursor. */
static void cursor_id_forms(mongoc_client_t *c) {
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\"}");
  CHECK(id > 0 && id <= INT32_MAX);
  char cmd[256];
  for (int i = 0; i < 3; i++) {
    char value[64];
    if (i == 0) snprintf(value, sizeof value, "%lld", (long long)id); /* int32 */
    if (i == 1) snprintf(value, sizeof value, "{\"$numberLong\": \"%lld\"}", (long long)id);
    if (i == 2) snprintf(value, sizeof value, "%lld.0", (long long)id); /* double */
    snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"fast\", \"cursorId\": %s}",
             value);
    bson_t reply;
    bson_error_t error;
    bson_type_t t;
    CHECK(wt_run(c, cmd, &reply, &error));
    CHECK(wt_int(&reply, "cursorId", &t) == id && t == BSON_TYPE_INT64);
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &reply, "messages") && BSON_ITER_HOLDS_ARRAY(&it));
    bson_destroy(&reply);
  }
}

/* A stop closes every cursor: what was buffered is returned, then cursorId 0. */
static void closed_on_stop_and_drop(mongoc_client_t *c) {
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\"}");
  usleep(100000);
  WT_OK(c, "{\"stopStreamProcessor\": \"fast\"}");
  uint32_t got = 0;
  CHECK(wt_get_more(c, "fast", id, 100000, &got) == 0);
  CHECK(got > 0);
  WT_OK(c, "{\"startStreamProcessor\": \"fast\"}");
  id = start_sample(c, "{\"startSampleStreamProcessor\": \"fast\"}");
  WT_OK(c, "{\"dropStreamProcessor\": \"fast\"}");
  char cmd[256];
  snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"fast\", \"cursorId\": %lld}",
           (long long)id);
  WT_ERR(c, cmd, 125, "does not exist");
}

/* A source with nothing new: empty batches and a live id. */
static void empty_batches(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"idle\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"kafka0\", \"topic\": \"quiet\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"idle\"}");
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"idle\"}");
  for (int i = 0; i < 3; i++) {
    uint32_t got = 0;
    CHECK(wt_get_more(c, "idle", id, 0, &got) == id);
    CHECK(got == 0);
    usleep(50000);
  }
  /* Idle cursors are reaped (ASPD_SAMPLE_IDLE_MS=1500 for this test). */
  sleep(2);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"idle\", \"cursorId\": %lld}",
           (long long)id);
  WT_ERR(c, cmd, 43, "not found");
  WT_OK(c, "{\"dropStreamProcessor\": \"idle\"}");
}

static bool in_range(const bson_t *doc, const char *path, int64_t lo, int64_t hi) {
  bson_type_t t;
  int64_t v = wt_int(doc, path, &t);
  return t == BSON_TYPE_INT32 && v >= lo && v <= hi;
}

/* The documented solar document: field order, types, ranges. */
static void solar_shape(mongoc_client_t *c) {
  WT_OK(c, "{\"createStreamProcessor\": \"shape\", \"pipeline\": " FAST_TO_LOG "}");
  WT_OK(c, "{\"startStreamProcessor\": \"shape\"}");
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"shape\", \"limit\": 400}");
  int checked = 0;
  for (int i = 0; i < 200 && id > 0; i++) {
    char cmd[256];
    snprintf(
        cmd, sizeof cmd,
        "{\"getMoreSampleStreamProcessor\": \"shape\", \"cursorId\": %lld, \"batchSize\": 1000}",
        (long long)id);
    bson_t reply;
    bson_error_t error;
    if (!wt_run(c, cmd, &reply, &error)) break;
    id = wt_int(&reply, "cursorId", NULL);
    bson_iter_t it, msg;
    bson_iter_init_find(&it, &reply, "messages");
    bson_iter_recurse(&it, &msg);
    while (bson_iter_next(&msg)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&msg, &len, &data);
      bson_t doc;
      bson_init_static(&doc, data, len);
      static const char *const order[] = {"device_id", "group_id", "timestamp", "max_watts",
                                          "event_type"};
      bson_iter_t f;
      bson_iter_init(&f, &doc);
      for (int k = 0; k < 5; k++) CHECK(bson_iter_next(&f) && !strcmp(bson_iter_key(&f), order[k]));
      CHECK(bson_iter_next(&f));
      bool fault = wt_int(&doc, "event_type", NULL) == 1;
      CHECK(!strcmp(bson_iter_key(&f), fault ? "event_details" : "obs"));
      char s[64];
      CHECK(!strncmp(wt_str(&doc, "device_id", s, sizeof s), "device_", 7));
      int device = atoi(s + 7);
      CHECK(device >= 0 && device <= 10);
      /* The string's own length, no embedded NUL: "device_" and the digits only. */
      bson_iter_t dev;
      uint32_t dev_len = 0;
      CHECK(bson_iter_init_find(&dev, &doc, "device_id") && bson_iter_utf8(&dev, &dev_len) &&
            dev_len == strlen(s) && dev_len == (device < 10 ? 8u : 9u));
      CHECK(in_range(&doc, "group_id", 0, 10));
      CHECK(in_range(&doc, "max_watts", 450, 450));
      wt_str(&doc, "timestamp", s, sizeof s);
      CHECK(strlen(s) == 29 && s[10] == 'T' && s[19] == '.' && !strcmp(s + 23, "+00:00"));
      int hour = atoi(s + 11);
      if (fault) {
        CHECK(!strcmp(wt_str(&doc, "event_details", s, sizeof s), "Network error"));
      } else {
        CHECK(in_range(&doc, "obs.watts", 0, hour < 12 ? 225 : 450));
        CHECK(in_range(&doc, "obs.temp", 5, hour < 12 ? 12 : 25));
      }
      CHECK(bson_iter_next(&f) && !strcmp(bson_iter_key(&f), "_ts") &&
            BSON_ITER_HOLDS_DATE_TIME(&f));
      CHECK(bson_iter_next(&f) && !strcmp(bson_iter_key(&f), "_stream_meta"));
      CHECK(!strcmp(wt_str(&doc, "_stream_meta.source.type", s, sizeof s), "generated"));
      checked++;
    }
    bson_destroy(&reply);
    usleep(10000);
  }
  CHECK(checked == 400);
  WT_OK(c, "{\"dropStreamProcessor\": \"shape\"}");
}

/* At the default rate (about 2 a second) a second brings a handful of documents. */
static void default_rate(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"slow\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"slow\"}");
  int64_t id = start_sample(c, "{\"startSampleStreamProcessor\": \"slow\"}");
  uint32_t got = 0;
  for (int i = 0; i < 5; i++) { /* 1.5 s, polled within the idle timeout */
    usleep(300000);
    CHECK(wt_get_more(c, "slow", id, 0, &got) == id);
  }
  CHECK(got >= 2 && got <= 5);
  WT_OK(c, "{\"dropStreamProcessor\": \"slow\"}");
}

int main(void) {
  setenv("ASPD_SAMPLE_IDLE_MS", "1500", 1);
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  limit_and_batch(c);
  cursor_id_forms(c);
  closed_on_stop_and_drop(c);
  empty_batches(c);
  solar_shape(c);
  default_rate(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.sample");
}
