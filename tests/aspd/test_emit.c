/* Dynamic sink targets: $emit's topic and db/coll as expressions, a $merge
 * whose collection comes from $setStreamMeta (the example of Atlas's
 * $setStreamMeta page), and documents whose target does not evaluate to a
 * string: dead-lettered, or only counted without a DLQ. Collections are read
 * with find while aspd runs; topics from the state store after a clean
 * shutdown. */
#include <sqlite3.h>

#include "workspace_test_util.h"

#define DLQ "{\"dlq\": {\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": \"dlq\"}}"

/* Documents in db.coll matching filter, found with find. */
static int count_docs(mongoc_client_t *c, const char *db, const char *coll, const char *filter) {
  mongoc_collection_t *col = mongoc_client_get_collection(c, db, coll);
  bson_error_t error;
  bson_t *f = bson_new_from_json((const uint8_t *)filter, -1, &error);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(col, f, NULL, NULL);
  const bson_t *doc;
  int n = 0;
  while (mongoc_cursor_next(cursor, &doc)) n++;
  if (mongoc_cursor_error(cursor, &error)) {
    fprintf(stderr, "FAIL: find %s.%s: %s\n", db, coll, error.message);
    wt_failures++;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(f);
  mongoc_collection_destroy(col);
  return n;
}

/* How many documents a topic of kafka0 holds in the state store. */
static int topic_size(sqlite3 *db, const char *topic) {
  sqlite3_stmt *st;
  int n = -1;
  if (sqlite3_prepare_v2(db,
                         "SELECT count(*) FROM docs JOIN datasets ON docs.dataset = datasets.id"
                         " WHERE connection = 'kafka0' AND name = ?",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  return n;
}

/* The i-th output's dead letter reason ("" when it is a document). */
static const char *reason_at(const bson_t *docs, uint32_t i, char *out, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "%u._dlqMessage.errInfo.reason", i);
  return wt_str(docs, path, out, len);
}

static void set_stream_meta_merge(mongoc_client_t *c) {
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
                   "{\"orderId\": 1, \"productId\": \"A\", \"qty\": 2, \"product\": {\"category\": "
                   "\"tech\"}},"
                   "{\"orderId\": 2, \"productId\": \"B\", \"qty\": 1, \"product\": {\"category\": "
                   "\"clothing\"}},"
                   "{\"orderId\": 3, \"productId\": \"A\", \"qty\": 5, \"product\": {\"category\": "
                   "\"tech\"}}]}},"
                   "{\"$setStreamMeta\": {\"stream.coll\": \"$product.category\"}},"
                   "{\"$unset\": [\"product\"]},"
                   "{\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"shop\","
                   " \"coll\": {\"$meta\": \"stream.coll\"}}}}]}",
                   &out) == 3);
  bson_destroy(&out);
  CHECK(count_docs(c, "shop", "tech", "{}") == 2);
  CHECK(count_docs(c, "shop", "tech", "{\"orderId\": 3, \"product\": {\"$exists\": false}}") == 1);
  CHECK(count_docs(c, "shop", "clothing", "{}") == 1);
}

static void dynamic_topics(mongoc_client_t *c) {
  bson_t out = BSON_INITIALIZER;
  char s[512];
  /* One document has no topic: dead-lettered into m.dlq, the others reach theirs. */
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
                   "{\"t\": \"orders\", \"v\": 1}, {\"t\": \"refunds\", \"v\": 2},"
                   " {\"v\": 3}, {\"t\": \"orders\", \"v\": 4}]}},"
                   "{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"$t\"}}],"
                   " \"options\": " DLQ "}",
                   &out) == 4);
  CHECK(!strcmp(reason_at(&out, 2, s, sizeof s),
                "Failed to evaluate target topic in KafkaEmitOperator :: caused by :: Expected "
                "string, but got missing"));
  bson_destroy(&out);
  CHECK(count_docs(c, "m", "dlq", "{\"doc.v\": 3, \"operatorName\": \"KafkaEmitOperator\"}") == 1);
  /* Without a DLQ the message is skipped: it still counts as a dead letter. */
  bson_init(&out);
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"t\": 5}]}},"
                   "{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"$t\"}}]}",
                   &out) == 1);
  CHECK(strstr(reason_at(&out, 0, s, sizeof s), "Expected string, but got int") != NULL);
  bson_destroy(&out);
  CHECK(count_docs(c, "m", "dlq", "{\"doc.t\": 5}") == 0);
}

static void dynamic_collections(mongoc_client_t *c) {
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": ["
                   "{\"d\": \"db1\", \"c\": \"a\"}, {\"d\": \"db1\", \"c\": \"b\"},"
                   " {\"d\": \"db2\", \"c\": \"a\"}, {\"d\": \"db2\", \"c\": \"\"}]}},"
                   "{\"$emit\": {\"connectionName\": \"cluster0\", \"db\": \"$d\","
                   " \"coll\": {\"$concat\": [\"x\", \"$c\"]}}}],"
                   " \"options\": " DLQ "}",
                   &out) == 4);
  bson_destroy(&out);
  CHECK(count_docs(c, "db1", "xa", "{}") == 1);
  CHECK(count_docs(c, "db1", "xb", "{}") == 1);
  CHECK(count_docs(c, "db2", "xa", "{}") == 1);
  CHECK(count_docs(c, "db2", "x", "{}") == 1);
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  set_stream_meta_merge(c);
  dynamic_topics(c);
  dynamic_collections(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", dir);
  sqlite3 *db;
  CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  CHECK(topic_size(db, "orders") == 2);
  CHECK(topic_size(db, "refunds") == 1);
  sqlite3_close(db);
  return wt_finish("aspd.emit");
}
