/* Change-stream sources on an Atlas (Cluster) connection: the events of what
 * $merge writes (insert, update, replace, delete) with fullDocument,
 * fullDocumentBeforeChange and updateDescription, a collection filter, a
 * database stream with fullDocumentOnly, the events of the write commands (insert,
 * update, delete), resuming after a stop and after a
 * restart of aspd without duplicates, and the planner's refusals. */
#include "workspace_test_util.h"

static const char *const CONNECTIONS =
    "[{\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\"}]";

/* The documents of db.coll (in the order written) into out (an array); returns how many. */
static uint32_t find_all(mongoc_client_t *c, const char *db, const char *coll, bson_t *out) {
  char json[256];
  snprintf(json, sizeof json, "{\"find\": \"%s\", \"batchSize\": 1000}", coll);
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error), reply;
  uint32_t n = 0;
  bson_init(out);
  if (mongoc_client_command_simple(c, db, cmd, NULL, &reply, &error)) {
    bson_iter_t it, batch;
    if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "cursor.firstBatch", &it) &&
        bson_iter_recurse(&it, &batch)) {
      while (bson_iter_next(&batch)) {
        char key[16];
        snprintf(key, sizeof key, "%u", n++);
        bson_append_value(out, key, -1, bson_iter_value(&batch));
      }
    }
  } else {
    fprintf(stderr, "find %s.%s: %s\n", db, coll, error.message);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

/* Waits until db.coll holds at least n documents (~5 s at most); returns the count. */
static uint32_t wait_docs(mongoc_client_t *c, const char *db, const char *coll, uint32_t n) {
  uint32_t got = 0;
  for (int i = 0; i < 250; i++) {
    bson_t docs;
    got = find_all(c, db, coll, &docs);
    bson_destroy(&docs);
    if (got >= n) break;
    usleep(20000);
  }
  return got;
}

/* $merge of the documents (JSON array) into shop.<coll> with whenMatched `mode`. */
static void merge(mongoc_client_t *c, const char *coll, const char *docs, const char *mode) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "{\"processStreamProcessor\": [{\"$source\": {\"documents\": %s}},"
           " {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"shop\","
           " \"coll\": \"%s\"}, \"whenMatched\": \"%s\"}}]}",
           docs, coll, mode);
  bson_t out = BSON_INITIALIZER;
  wt_process(c, cmd, &out);
  bson_destroy(&out);
}

static const char *op_at(const bson_t *events, uint32_t i, char *s, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "%u.operationType", i);
  return wt_str(events, path, s, len);
}

static int64_t int_at(const bson_t *events, uint32_t i, const char *field) {
  char path[128];
  snprintf(path, sizeof path, "%u.%s", i, field);
  return wt_int(events, path, NULL);
}

static bool has(const bson_t *events, uint32_t i, const char *field) {
  char path[128];
  snprintf(path, sizeof path, "%u.%s", i, field);
  bson_iter_t it;
  return bson_iter_init(&it, events) && bson_iter_find_descendant(&it, path, &it);
}

static void events(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"watch\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"cluster0\", \"db\": \"shop\", \"coll\": [\"orders\"], \"config\": {\"fullDocument\":"
        " \"updateLookup\", \"fullDocumentBeforeChange\": \"whenAvailable\"}}},"
        " {\"$emit\": {\"connectionName\": \"cluster0\", \"db\": \"shop\", \"coll\": "
        "\"events\"}}]}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"mirror\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"cluster0\", \"db\": \"shop\", \"config\": {\"fullDocument\": \"required\","
        " \"fullDocumentOnly\": true}}}, {\"$project\": {\"_ts\": 0, \"_stream_meta\": 0}},"
        " {\"$emit\": {\"connectionName\": \"cluster0\", \"db\": \"mirror\", \"coll\": "
        "\"all\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"watch\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"mirror\"}");
  merge(c, "orders", "[{\"_id\": 1, \"qty\": 1, \"note\": \"x\"}, {\"_id\": 2, \"qty\": 5}]",
        "merge");
  merge(c, "orders", "[{\"_id\": 1, \"qty\": 3}]", "merge");
  merge(c, "orders", "[{\"_id\": 2, \"qty\": 7}]", "replace");
  merge(c, "orders", "[{\"_id\": 1}]", "delete");
  merge(c, "other", "[{\"_id\": 9}]", "merge"); /* not watched by `watch` */
  CHECK(wait_docs(c, "shop", "events", 5) == 5);
  usleep(100000);
  bson_t ev;
  char s[128];
  CHECK(find_all(c, "shop", "events", &ev) == 5);
  CHECK(!strcmp(op_at(&ev, 0, s, sizeof s), "insert"));
  CHECK(!strcmp(op_at(&ev, 1, s, sizeof s), "insert"));
  CHECK(!strcmp(op_at(&ev, 2, s, sizeof s), "update"));
  CHECK(!strcmp(op_at(&ev, 3, s, sizeof s), "replace"));
  CHECK(!strcmp(op_at(&ev, 4, s, sizeof s), "delete"));
  CHECK(int_at(&ev, 0, "documentKey._id") == 1);
  CHECK(int_at(&ev, 0, "fullDocument.qty") == 1);
  CHECK(!has(&ev, 0, "fullDocumentBeforeChange"));
  CHECK(!strcmp(wt_str(&ev, "0.ns.db", s, sizeof s), "shop"));
  CHECK(!strcmp(wt_str(&ev, "0.ns.coll", s, sizeof s), "orders"));
  CHECK(strlen(wt_str(&ev, "0._id._data", s, sizeof s)) == 16);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &ev) && bson_iter_find_descendant(&it, "0.clusterTime", &it) &&
        BSON_ITER_HOLDS_TIMESTAMP(&it));
  CHECK(bson_iter_init(&it, &ev) && bson_iter_find_descendant(&it, "0.wallTime", &it) &&
        BSON_ITER_HOLDS_DATE_TIME(&it));
  /* The update: what changed, the document after it (updateLookup) and before it. */
  CHECK(int_at(&ev, 2, "updateDescription.updatedFields.qty") == 3);
  CHECK(!has(&ev, 2, "updateDescription.updatedFields.note"));
  CHECK(wt_array_len(&ev, "2.updateDescription.removedFields") == 0);
  CHECK(int_at(&ev, 2, "fullDocument.qty") == 3);
  CHECK(!strcmp(wt_str(&ev, "2.fullDocument.note", s, sizeof s), "x"));
  CHECK(int_at(&ev, 2, "fullDocumentBeforeChange.qty") == 1);
  CHECK(int_at(&ev, 3, "fullDocument.qty") == 7);
  CHECK(int_at(&ev, 3, "fullDocumentBeforeChange.qty") == 5);
  CHECK(int_at(&ev, 4, "documentKey._id") == 1);
  CHECK(!has(&ev, 4, "fullDocument"));
  CHECK(int_at(&ev, 4, "fullDocumentBeforeChange.qty") == 3);
  /* The stream metadata names the change too. */
  CHECK(!strcmp(wt_str(&ev, "2._stream_meta.source.type", s, sizeof s), "atlas"));
  CHECK(!strcmp(wt_str(&ev, "2._stream_meta.source.operationType", s, sizeof s), "update"));
  CHECK(!strcmp(wt_str(&ev, "2._stream_meta.source.ns.coll", s, sizeof s), "orders"));
  CHECK(int_at(&ev, 2, "_stream_meta.source.documentKey._id") == 1);
  bson_destroy(&ev);
  /* fullDocumentOnly on the database: the post-images of every collection of shop (the
   * delete has none), events of `watch` included. */
  CHECK(wait_docs(c, "mirror", "all", 10) >= 10);
}

static void command(mongoc_client_t *c, const char *json) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error), reply;
  if (!cmd || !mongoc_client_command_simple(c, "shop", cmd, NULL, &reply, &error)) {
    fprintf(stderr, "FAIL: %s: %s\n", json, error.message);
    wt_failures++;
  }
  if (cmd) bson_destroy(&reply);
  bson_destroy(cmd);
}

/* What the ordinary write commands do to a watched collection is seen too: insert,
 * an update with operators, a replacement, a delete (the event commits with the write). */
static void command_writes(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"watch_cmds\", \"pipeline\": [{\"$source\": "
        "{\"connectionName\": \"cluster0\", \"db\": \"shop\", \"coll\": \"carts\", \"config\": "
        "{\"fullDocumentBeforeChange\": \"whenAvailable\"}}}, {\"$emit\": {\"connectionName\": "
        "\"cluster0\", \"db\": \"shop\", \"coll\": \"cart_events\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"watch_cmds\"}");
  command(
      c,
      "{\"insert\": \"carts\", \"documents\": [{\"_id\": 1, \"n\": 1}, {\"_id\": 2, \"n\": 2}]}");
  command(c,
          "{\"update\": \"carts\", \"updates\": [{\"q\": {\"_id\": 1}, \"u\": {\"$inc\": {\"n\": "
          "10}}}]}");
  command(c, "{\"update\": \"carts\", \"updates\": [{\"q\": {\"_id\": 2}, \"u\": {\"n\": 20}}]}");
  command(c, "{\"delete\": \"carts\", \"deletes\": [{\"q\": {\"_id\": 1}, \"limit\": 1}]}");
  CHECK(wait_docs(c, "shop", "cart_events", 5) == 5);
  bson_t ev;
  char s[128];
  CHECK(find_all(c, "shop", "cart_events", &ev) == 5);
  CHECK(!strcmp(op_at(&ev, 0, s, sizeof s), "insert"));
  CHECK(!strcmp(op_at(&ev, 1, s, sizeof s), "insert"));
  CHECK(!strcmp(op_at(&ev, 2, s, sizeof s), "update"));
  CHECK(int_at(&ev, 2, "updateDescription.updatedFields.n") == 11);
  CHECK(int_at(&ev, 2, "fullDocumentBeforeChange.n") == 1);
  CHECK(!strcmp(op_at(&ev, 3, s, sizeof s), "replace"));
  CHECK(int_at(&ev, 3, "fullDocument.n") == 20);
  CHECK(!strcmp(op_at(&ev, 4, s, sizeof s), "delete"));
  CHECK(int_at(&ev, 4, "documentKey._id") == 1);
  bson_destroy(&ev);
  WT_OK(c, "{\"stopStreamProcessor\": \"watch_cmds\"}");
}

static void resume(mongoc_client_t *c) {
  WT_OK(c, "{\"stopStreamProcessor\": \"watch\"}");
  merge(c, "orders", "[{\"_id\": 3, \"qty\": 1}]", "merge");
  WT_OK(c, "{\"startStreamProcessor\": \"watch\"}");
  CHECK(wait_docs(c, "shop", "events", 6) == 6);
  usleep(100000);
  bson_t ev;
  char s[64];
  CHECK(find_all(c, "shop", "events", &ev) == 6);
  CHECK(!strcmp(op_at(&ev, 5, s, sizeof s), "insert"));
  CHECK(int_at(&ev, 5, "documentKey._id") == 3);
  bson_destroy(&ev);
}

static void refusals(mongoc_client_t *c) {
  CHECK(
      WT_ERR(c,
             "{\"createStreamProcessor\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\":"
             " \"cluster0\", \"coll\": \"c\"}}, {\"$emit\": {\"connectionName\": "
             "\"__testLog\"}}]}",
             420, "If coll is specified, db must be specified."));
  CHECK(
      WT_ERR(c,
             "{\"createStreamProcessor\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\":"
             " \"cluster0\", \"db\": \"\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
             420,
             "Cannot specify an empty database name to $source when configuring a change "
             "stream"));
  CHECK(
      WT_ERR(c,
             "{\"createStreamProcessor\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\":"
             " \"cluster0\", \"db\": \"d\", \"config\": {\"startAfter\": {\"_data\": \"01\"},"
             " \"startAtOperationTime\": {\"$timestamp\": {\"t\": 1, \"i\": 1}}}}},"
             " {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
             420, "startAfter and startAtOperationTime cannot both be set"));
  CHECK(
      WT_ERR(c,
             "{\"createStreamProcessor\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\":"
             " \"cluster0\", \"db\": \"d\", \"config\": {\"fullDocumentOnly\": true}}},"
             " {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
             420, "fullDocumentOnly requires fullDocument to be updateLookup or required"));
  CHECK(
      WT_ERR(c,
             "{\"createStreamProcessor\": \"x\", \"pipeline\": [{\"$source\": {\"connectionName\":"
             " \"cluster0\", \"db\": \"d\", \"config\": {\"fullDocument\": \"sometimes\"}}},"
             " {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
             420, "$source.config.fullDocument must be one of default, updateLookup"));
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start_with(&inst, dir, CONNECTIONS);
  mongoc_client_t *c = wt_client(&inst);
  events(c);
  command_writes(c);
  resume(c);
  refusals(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);

  /* After a restart the running stream resumes from its stored position: the write made
   * now is its only new event. */
  wt_start_with(&inst, dir, CONNECTIONS);
  c = wt_client(&inst);
  merge(c, "orders", "[{\"_id\": 3, \"qty\": 2}]", "merge");
  CHECK(wait_docs(c, "shop", "events", 7) == 7);
  usleep(200000);
  bson_t ev;
  char s[64];
  CHECK(find_all(c, "shop", "events", &ev) == 7);
  CHECK(!strcmp(op_at(&ev, 6, s, sizeof s), "update"));
  CHECK(int_at(&ev, 6, "updateDescription.updatedFields.qty") == 2);
  bson_destroy(&ev);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.change_stream");
}
