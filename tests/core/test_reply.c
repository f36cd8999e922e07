/* Reply tolerance: result wrapper or flat, the three batch names, cursorId number types. */
#include "asp.h"
#include "check.h"

static void check_unwrap(const char *reply_json, const char *want) {
  bson_t *reply = json_doc(reply_json);
  bson_t out;
  asp_reply_unwrap(reply, &out);
  CHECK_BSON(&out, want);
  bson_destroy(&out);
  bson_destroy(reply);
}

static void check_batch(const char *reply_json, int want_count) {
  bson_t *reply = json_doc(reply_json);
  bson_iter_t batch;
  int n = 0;
  if (asp_reply_batch(reply, &batch)) {
    while (bson_iter_next(&batch)) n++;
  } else {
    n = -1;
  }
  CHECK(n == want_count);
  bson_destroy(reply);
}

static void check_id(const char *reply_json, bool want_ok, int64_t want) {
  bson_t *reply = json_doc(reply_json);
  int64_t id = -99;
  CHECK(asp_reply_cursor_id(reply, &id) == want_ok);
  if (want_ok) CHECK(id == want);
  bson_destroy(reply);
}

int main(void) {
  check_unwrap("{\"ok\": 1, \"result\": {\"name\": \"p\", \"state\": \"WEIRD\", \"x\": 1}}",
               "{ \"name\" : \"p\", \"state\" : \"WEIRD\", \"x\" : { \"$numberInt\" : \"1\" } }");
  check_unwrap(
      "{\"ok\": 1.0, \"name\": \"p\", \"state\": \"STARTED\", \"$clusterTime\": {}, "
      "\"operationTime\": {\"$timestamp\": {\"t\": 1, \"i\": 1}}, \"unknown\": true}",
      "{ \"name\" : \"p\", \"state\" : \"STARTED\", \"unknown\" : true }");

  check_batch("{\"ok\": 1, \"cursorId\": 1, \"messages\": [{}, {}]}", 2);
  check_batch("{\"ok\": 1, \"cursorId\": 1, \"nextBatch\": [{}]}", 1);
  check_batch("{\"ok\": 1, \"cursorId\": 1, \"firstBatch\": [{}, {}, {}]}", 3);
  check_batch("{\"ok\": 1, \"cursorId\": 1, \"messages\": []}", 0);
  check_batch("{\"ok\": 1, \"cursorId\": 1}", -1);

  check_id("{\"cursorId\": {\"$numberLong\": \"9007199254740993\"}}", true, 9007199254740993LL);
  check_id("{\"cursorId\": {\"$numberInt\": \"12\"}}", true, 12);
  check_id("{\"cursorId\": {\"$numberDouble\": \"34.0\"}}", true, 34);
  check_id("{\"cursorId\": {\"$numberDouble\": \"34.5\"}}", false, 0);
  check_id("{\"cursorId\": \"12\"}", false, 0);
  check_id("{\"other\": 1}", false, 0);
  return check_report("core.reply");
}
