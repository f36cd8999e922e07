/* The ordinary MongoDB commands on what processors wrote, through libmongoc's
 * collection API: find with a filter, skip, limit and small batches (getMore,
 * killCursors), count, insert (acknowledged once committed: it survives a
 * restart), listCollections and listDatabases. */
#include <stdlib.h>

#include "workspace_test_util.h"

static int64_t count(mongoc_client_t *c, const char *json) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error);
  bson_t reply;
  int64_t n = -1;
  if (mongoc_client_command_simple(c, "d", cmd, NULL, &reply, &error)) {
    n = wt_int(&reply, "n", NULL);
  } else {
    fprintf(stderr, "count: %s\n", error.message);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

/* Documents a find returns, read in batches of `batch`. */
static int64_t find_count(mongoc_collection_t *coll, const char *filter_json,
                          const char *opts_json) {
  bson_error_t error;
  bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &error);
  bson_t *opts = bson_new_from_json((const uint8_t *)opts_json, -1, &error);
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
  const bson_t *doc;
  int64_t n = 0;
  while (mongoc_cursor_next(cursor, &doc)) n++;
  if (mongoc_cursor_error(cursor, &error)) {
    fprintf(stderr, "find: %s\n", error.message);
    n = -1;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  bson_destroy(opts);
  return n;
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"w\", \"pipeline\": [{\"$source\": {\"documents\": ["
        "{\"i\": 0}, {\"i\": 1}, {\"i\": 2}, {\"i\": 3}, {\"i\": 4}, {\"i\": 5}, {\"i\": 6},"
        " {\"i\": 7}, {\"i\": 8}, {\"i\": 9}]}}, {\"$merge\": {\"into\": {\"connectionName\":"
        " \"cluster0\", \"db\": \"d\", \"coll\": \"c\"}}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"w\"}");
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "d", "c");
  int64_t n = 0;
  for (int i = 0; i < 100 && n != 10; i++) {
    usleep(50000);
    n = find_count(coll, "{}", "{}");
  }
  CHECK(n == 10);
  /* Filters are the engine's MQL; small batches go through getMore. */
  CHECK(find_count(coll, "{\"i\": {\"$gte\": 5}}", "{\"batchSize\": 2}") == 5);
  CHECK(find_count(coll, "{\"i\": {\"$in\": [1, 3, 99]}}", "{}") == 2);
  CHECK(find_count(coll, "{}", "{\"skip\": 3, \"limit\": 4, \"batchSize\": 1}") == 4);
  CHECK(count(c, "{\"count\": \"c\", \"query\": {\"i\": {\"$lt\": 3}}}") == 3);
  CHECK(count(c, "{\"count\": \"nothing\"}") == 0);
  /* A bad filter is the planner's error, not an empty result. */
  CHECK(find_count(coll, "{\"i\": {\"$nope\": 1}}", "{}") == -1);
  /* A cursor abandoned early is killed. */
  bson_t *all = bson_new(), *small = BCON_NEW("batchSize", BCON_INT32(2));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, all, small, NULL);
  const bson_t *doc;
  CHECK(mongoc_cursor_next(cursor, &doc));
  int64_t id = mongoc_cursor_get_id(cursor);
  CHECK(id != 0);
  mongoc_cursor_destroy(cursor);
  bson_t reply;
  bson_error_t error;
  bson_t *more = BCON_NEW("getMore", BCON_INT64(id), "collection", BCON_UTF8("c"));
  CHECK(!mongoc_client_command_simple(c, "d", more, NULL, &reply, &error));
  CHECK(error.code == 43);
  bson_destroy(&reply);
  bson_destroy(more);
  bson_destroy(all);
  bson_destroy(small);
  /* Inserts get an _id and are committed before the reply. */
  const bson_t *docs[3];
  for (int i = 0; i < 3; i++) docs[i] = BCON_NEW("seeded", BCON_INT32(i));
  mongoc_collection_t *seeds = mongoc_client_get_collection(c, "d", "seeds");
  bool inserted = mongoc_collection_insert_many(seeds, docs, 3, NULL, NULL, &error);
  if (!inserted) fprintf(stderr, "insert: %s\n", error.message);
  CHECK(inserted);
  for (int i = 0; i < 3; i++) bson_destroy((bson_t *)(uintptr_t)docs[i]);
  CHECK(find_count(seeds, "{\"_id\": {\"$type\": \"objectId\"}}", "{}") == 3);
  mongoc_database_t *d = mongoc_client_get_database(c, "d");
  char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &error);
  mongoc_database_destroy(d);
  int listed = 0;
  for (char **p = names; p && *p; p++) listed += !strcmp(*p, "c") || !strcmp(*p, "seeds");
  CHECK(listed == 2);
  bson_strfreev(names);
  names = mongoc_client_get_database_names_with_opts(c, NULL, &error);
  CHECK(names && names[0] && !strcmp(names[0], "d"));
  bson_strfreev(names);
  mongoc_collection_destroy(seeds);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(c);
  aspd_harness_kill(&inst); /* the inserts were committed when acknowledged */
  wt_start(&inst, dir);
  c = wt_client(&inst);
  seeds = mongoc_client_get_collection(c, "d", "seeds");
  CHECK(find_count(seeds, "{}", "{}") == 3);
  mongoc_collection_destroy(seeds);
  /* $merge replacing a document committed earlier: the store keeps the replacement. */
  const char *merges[] = {"{\"_id\": 1, \"v\": 1}", "{\"_id\": 1, \"v\": 2}"};
  mongoc_collection_t *merged = mongoc_client_get_collection(c, "d", "m");
  for (int k = 0; k < 2; k++) {
    char cmd[512], filter[64];
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"m%d\", \"pipeline\": [{\"$source\": "
             "{\"documents\": [%s]}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\","
             " \"db\": \"d\", \"coll\": \"m\"}, \"whenMatched\": \"replace\"}}]}",
             k, merges[k]);
    WT_OK(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"m%d\"}", k);
    WT_OK(c, cmd);
    snprintf(filter, sizeof filter, "{\"v\": %d}", k + 1);
    n = 0;
    for (int i = 0; i < 100 && n != 1; i++) {
      usleep(50000);
      n = find_count(merged, filter, "{}");
    }
    usleep(300000); /* past a flush */
  }
  CHECK(n == 1);
  mongoc_collection_destroy(merged);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  merged = mongoc_client_get_collection(c, "d", "m");
  CHECK(find_count(merged, "{}", "{}") == 1);
  CHECK(find_count(merged, "{\"v\": 2}", "{}") == 1);
  mongoc_collection_destroy(merged);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  return wt_finish("aspd.crud");
}
