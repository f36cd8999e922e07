/* $tumblingWindow and $hoppingWindow on event time: $group accumulators,
 * $sort/$limit/$count in the inner pipeline, window metadata, late documents
 * to the DLQ, the placement and spec errors; processingTime windows and
 * sessions, which close by the clock while the source is quiet. */
#include <time.h>

#include "workspace_test_util.h"

/* Inline documents at fixed event times (timeField), one interactive processor;
 * returns the number of messages collected into out. */
static uint32_t run(mongoc_client_t *c, const char *window, bson_t *out) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
           "{\"d\": \"a\", \"w\": 10, \"t\": {\"$date\": \"2024-01-01T00:00:00.100Z\"}},"
           "{\"d\": \"b\", \"w\": 20, \"t\": {\"$date\": \"2024-01-01T00:00:00.500Z\"}},"
           "{\"d\": \"a\", \"w\": 30, \"t\": {\"$date\": \"2024-01-01T00:00:01.200Z\"}},"
           "{\"d\": \"a\", \"w\": 40, \"t\": {\"$date\": \"2024-01-01T00:00:05.000Z\"}},"
           "{\"d\": \"b\", \"w\": 99, \"t\": {\"$date\": \"2024-01-01T00:00:00.900Z\"}}],"
           " \"timeField\": {\"$toDate\": \"$t\"}}}, %s]}",
           window);
  return wt_process(c, cmd, out);
}

static int64_t date_at(const bson_t *doc, const char *path) {
  bson_iter_t it, f;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &f) &&
      BSON_ITER_HOLDS_DATE_TIME(&f)) {
    return bson_iter_date_time(&f);
  }
  return -1;
}

#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

static void tumbling(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[64];
  bson_type_t t;
  /* 1 s windows, no lateness: [0,1) closes when the 1.2 s document arrives, so the
   * 0.9 s one that comes after the 5 s document is late. */
  uint32_t n =
      run(c,
          "{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
          "\"allowedLateness\": 0, \"pipeline\": [{\"$group\": {\"_id\": \"$d\", \"total\": "
          "{\"$sum\": \"$w\"}, \"avg\": {\"$avg\": \"$w\"}, \"n\": {\"$count\": {}}, \"max\": "
          "{\"$max\": \"$w\"}, \"all\": {\"$push\": \"$w\"}}}, {\"$sort\": {\"_id\": 1}}]}}",
          &d);
  /* [0,1): a and b; [1,2): a; [5,6): a (flushed when the source ends); one late letter. */
  CHECK(n == 5);
  CHECK(!strcmp(wt_str(&d, "0._id", s, sizeof s), "a"));
  CHECK(wt_int(&d, "0.total", &t) == 10 && t == BSON_TYPE_INT32);
  CHECK(wt_double(&d, "0.avg") == 10.0);
  CHECK(wt_int(&d, "0.n", NULL) == 1);
  CHECK(!strcmp(wt_str(&d, "1._id", s, sizeof s), "b"));
  CHECK(wt_int(&d, "1.max", NULL) == 20);
  CHECK(wt_array_len(&d, "1.all") == 1);
  CHECK(date_at(&d, "0._stream_meta.window.start") == T0);
  CHECK(date_at(&d, "0._stream_meta.window.end") == T0 + 1000);
  CHECK(!strcmp(wt_str(&d, "0._stream_meta.source.type", s, sizeof s), "generated"));
  CHECK(wt_int(&d, "2.total", NULL) == 30);
  CHECK(date_at(&d, "2._stream_meta.window.start") == T0 + 1000);
  CHECK(strstr(wt_str(&d, "3._dlqMessage.errInfo.reason", s, sizeof s), "arrived late") != NULL);
  CHECK(wt_int(&d, "4.total", NULL) == 40);
  bson_destroy(&d);

  /* With 5 s of allowed lateness the 0.9 s document still counts. */
  bson_init(&d);
  n = run(c,
          "{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
          "\"allowedLateness\": {\"size\": 5, \"unit\": \"second\"}, \"pipeline\": "
          "[{\"$match\": {\"d\": \"b\"}}, {\"$group\": {\"_id\": null, \"total\": {\"$sum\": "
          "\"$w\"}}}]}}",
          &d);
  CHECK(n == 1);
  CHECK(wt_int(&d, "0.total", NULL) == 119);
  bson_destroy(&d);
}

static void hopping(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  /* 2 s windows every second: the 1.2 s document is in [0,2) and [1,3). */
  uint32_t n =
      run(c,
          "{\"$hoppingWindow\": {\"interval\": {\"size\": 2, \"unit\": \"second\"}, "
          "\"hopSize\": {\"size\": 1, \"unit\": \"second\"}, \"allowedLateness\": {\"size\": "
          "10, \"unit\": \"second\"}, \"pipeline\": [{\"$count\": \"docs\"}]}}, "
          "{\"$set\": {\"start\": \"$_stream_meta.window.start\"}}",
          &d);
  /* Windows starting at -1 s, 0 s, 1 s, 4 s and 5 s. */
  CHECK(n == 5);
  CHECK(wt_int(&d, "0.docs", NULL) == 3 && date_at(&d, "0.start") == T0 - 1000);
  CHECK(wt_int(&d, "1.docs", NULL) == 4 && date_at(&d, "1.start") == T0);
  CHECK(wt_int(&d, "2.docs", NULL) == 1 && date_at(&d, "2.start") == T0 + 1000);
  bson_destroy(&d);
  bson_init(&d);
  n = run(
      c,
      "{\"$tumblingWindow\": {\"interval\": {\"size\": 10, \"unit\": \"second\"}, \"pipeline\": "
      "[{\"$sort\": {\"w\": -1}}, {\"$limit\": 2}, {\"$project\": {\"_id\": 0, \"w\": 1}}]}}",
      &d);
  CHECK(n == 2);
  CHECK(wt_int(&d, "0.w", NULL) == 99 && wt_int(&d, "1.w", NULL) == 40);
  bson_destroy(&d);
}

/* The inner pipeline sees the window's bounds ($meta) before it hands anything on,
 * and a document it cannot handle is dead-lettered, not dropped. */
static void inner_meta_and_dead_letters(mongoc_client_t *c) {
  bson_t d = BSON_INITIALIZER;
  char s[128];
  uint32_t n =
      run(c,
          "{\"$tumblingWindow\": {\"interval\": {\"size\": 10, \"unit\": \"second\"}, "
          "\"pipeline\": [{\"$addFields\": {\"q\": {\"$divide\": [100, {\"$subtract\": [\"$w\", "
          "99]}]}}}, {\"$group\": {\"_id\": {\"start\": {\"$meta\": \"stream.window.start\"}, "
          "\"end\": {\"$meta\": \"stream.window.end\"}}, \"n\": {\"$count\": {}}, \"sd\": "
          "{\"$stdDevPop\": \"$w\"}, \"med\": {\"$median\": {\"input\": \"$w\", \"method\": "
          "\"approximate\"}}}}]}}",
          &d);
  CHECK(n == 2);
  CHECK(strstr(wt_str(&d, "0._dlqMessage.errInfo.reason", s, sizeof s), "can't $divide by zero") !=
        NULL);
  CHECK(!strcmp(wt_str(&d, "0._dlqMessage.operatorName", s, sizeof s), "TumblingWindowOperator"));
  CHECK(date_at(&d, "1._id.start") == T0);
  CHECK(date_at(&d, "1._id.end") == T0 + 10000);
  CHECK(wt_int(&d, "1.n", NULL) == 4);
  CHECK(wt_double(&d, "1.med") == 20.0);
  CHECK(wt_double(&d, "1.sd") > 11.18 && wt_double(&d, "1.sd") < 11.19);
  bson_destroy(&d);
}

/* A running processor on a fast source: windows close as event time moves on. */
static void live(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"win\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$tumblingWindow\": {\"interval\": {\"size\": 100, \"unit\": "
        "\"ms\"}, \"allowedLateness\": 0, \"pipeline\": [{\"$group\": {\"_id\": null, \"n\": "
        "{\"$count\": {}}, \"watts\": {\"$avg\": \"$obs.watts\"}}}]}}, {\"$emit\": "
        "{\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"win\"}");
  usleep(600000);
  bson_t reply;
  bson_error_t error;
  char s[64];
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"win\", \"verbose\": true}", &reply, &error));
  CHECK(wt_int(&reply, "stats.outputMessageCount", NULL) >= 3);
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) >
        wt_int(&reply, "stats.outputMessageCount", NULL));
  if (strcmp(wt_str(&reply, "stats.operatorStats.1.name", s, sizeof s), "TumblingWindowOperator")) {
    char *json = bson_as_relaxed_extended_json(&reply, NULL);
    fprintf(stderr, "FAIL: stats %s\n", json);
    bson_free(json);
    wt_failures++;
  }
  bson_destroy(&reply);
  WT_OK(c, "{\"dropStreamProcessor\": \"win\"}");
}

/* Documents in m.<coll>, found with find, into out ({docs: [...]}). */
static uint32_t find_all(mongoc_client_t *c, const char *coll, bson_t *out) {
  mongoc_collection_t *col = mongoc_client_get_collection(c, "m", coll);
  bson_t filter = BSON_INITIALIZER, docs;
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(col, &filter, NULL, NULL);
  const bson_t *doc;
  uint32_t n = 0;
  bson_init(out);
  BSON_APPEND_ARRAY_BEGIN(out, "docs", &docs);
  while (mongoc_cursor_next(cursor, &doc)) {
    char key[16];
    snprintf(key, sizeof key, "%u", n++);
    BSON_APPEND_DOCUMENT(&docs, key, doc);
  }
  bson_append_array_end(out, &docs);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(col);
  return n;
}

/* boundary processingTime: three documents with event times years apart are put on
 * a topic that then stays quiet. On event time nothing would close (no later event,
 * no idleTimeout); on processing time the clock closes the 1 s window (and the 300 ms
 * session) the documents arrived in. */
static void processing_time(mongoc_client_t *c) {
  static const char *const windows[] = {
      "{\"$tumblingWindow\": {\"boundary\": \"processingTime\", \"interval\": {\"size\": 1, "
      "\"unit\": \"second\"}, \"pipeline\": [{\"$group\": {\"_id\": {\"$meta\": "
      "\"stream.window.start\"}, \"n\": {\"$sum\": "
      "1}}}]}}",
      "{\"$sessionWindow\": {\"boundary\": \"processingTime\", \"partitionBy\": \"$u\", \"gap\": "
      "{\"size\": 300, \"unit\": \"ms\"}, \"pipeline\": [{\"$group\": {\"_id\": \"$u\", \"n\": "
      "{\"$sum\": 1}}}]}}"};
  static const char *const names[] = {"pt_tumbling", "pt_session"};
  char cmd[4096];
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"%s\", \"pipeline\": [{\"$source\": "
             "{\"connectionName\": \"kafka0\", \"topic\": \"pt_in\", \"timeField\": "
             "{\"$toDate\": \"$t\"}}}, %s, {\"$merge\": {\"into\": {\"connectionName\": "
             "\"cluster0\", \"db\": \"m\", \"coll\": \"%s\"}}}]}",
             names[i], windows[i], names[i]);
    WT_OK(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", names[i]);
    WT_OK(c, cmd);
  }
  int64_t before = (int64_t)time(NULL) * 1000;
  bson_t out = BSON_INITIALIZER;
  wt_process(c,
             "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
             "{\"u\": \"a\", \"t\": {\"$date\": \"2020-01-01T00:00:00Z\"}},"
             "{\"u\": \"a\", \"t\": {\"$date\": \"2024-06-01T00:00:00Z\"}},"
             "{\"u\": \"a\", \"t\": {\"$date\": \"2022-03-01T00:00:00Z\"}}]}},"
             "{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"pt_in\"}}]}",
             &out);
  bson_destroy(&out);
  for (int i = 0; i < 2; i++) {
    bson_t found = BSON_INITIALIZER;
    int64_t total = 0;
    /* Poll: the windows close within a second or so; allow a slow machine 20 s. */
    for (int tries = 0; tries < 400 && total < 3; tries++) {
      bson_destroy(&found);
      uint32_t n = find_all(c, names[i], &found);
      total = 0;
      for (uint32_t k = 0; k < n; k++) {
        char path[64];
        snprintf(path, sizeof path, "docs.%u.n", k);
        total += wt_int(&found, path, NULL);
      }
      if (total < 3) usleep(50000);
    }
    CHECK(total == 3);
    /* The window lies around the arrival time, not around any event time. */
    int64_t start = date_at(&found, "docs.0._stream_meta.window.start");
    int64_t end = date_at(&found, "docs.0._stream_meta.window.end");
    CHECK(start >= before - 1000 && end > start && end <= (int64_t)time(NULL) * 1000 + 1000);
    if (i == 0) CHECK(end - start == 1000);
    bson_destroy(&found);
    snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"%s\"}", names[i]);
    WT_OK(c, cmd);
  }
}

static void errors(mongoc_client_t *c) {
#define SRC "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}}, "
#define LOG ", {\"$emit\": {\"connectionName\": \"__testLog\"}}"
#define W(spec) "{\"createStreamProcessor\": \"bad\", \"pipeline\": [" SRC spec LOG "]}"
  WT_ERR(c,
         W("{\"$tumblingWindow\": {\"interval\": {\"size\": 0, \"unit\": \"second\"}, "
           "\"pipeline\": []}}"),
         420, "Window interval size must be greater than 0.");
  WT_ERR(c,
         W("{\"$hoppingWindow\": {\"interval\": {\"size\": 2, \"unit\": \"second\"}, \"hopSize\": "
           "{\"size\": 0, \"unit\": \"second\"}, \"pipeline\": []}}"),
         420, "Window hopSize size must be greater than 0.");
  WT_ERR(c,
         W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
           "\"allowedLateness\": 5, \"pipeline\": []}}"),
         420, "Must specify unit and size for non-zero allowed lateness values");
  WT_ERR(c,
         W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
           "\"allowedLateness\": {\"size\": 31, \"unit\": \"minute\"}, \"pipeline\": []}}"),
         420, "Maximum allowedLateness is 30 minutes");
  WT_ERR(c,
         W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
           "\"idleTimeout\": 7, \"pipeline\": []}}"),
         420, "Must specify unit and size for non-zero idle timeout values");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$emit\": {\"connectionName\": \"__testLog\"}}]}}"),
      420, "$emit stage is not permitted in the inner pipeline of a window stage");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[]}}, {\"$hoppingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
        "\"hopSize\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": []}}"),
      420, "Only one window stage is allowed in a pipeline.");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$group\": {\"n\": {\"$sum\": 1}}}]}}"),
      15955, "a group specification must specify an _id");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$group\": {\"_id\": null, \"n\": {\"$bogus\": \"$w\"}}}]}}"),
      15952, "unknown group operator '$bogus'");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$sort\": {\"a\": 2}}]}}"),
      15975, "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$limit\": 0}]}}"),
      15958, "the limit must be positive");
  WT_ERR(
      c,
      W("{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, \"pipeline\": "
        "[{\"$whatever\": {}}]}}"),
      9, "Unsupported stage: $whatever");
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  tumbling(c);
  hopping(c);
  inner_meta_and_dead_letters(c);
  live(c);
  processing_time(c);
  errors(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.windows");
}
