/* $merge: matching on `on` fields, the whenMatched modes (merge, replace,
 * keepExisting, delete, a pipeline with $$new and `let` variables, an
 * expression resolving to a mode), whenNotMatched discard and expressions,
 * dynamic collection names, dead letters for a missing `on` field, a target or
 * a mode that does not evaluate, and the planner's checks. The written
 * collections are read back from the state store after a clean shutdown. */
#include <sqlite3.h>
#include <stdlib.h>

#include "workspace_test_util.h"

#define DOCS                                                                                       \
  "[{\"k\": 1, \"a\": 1, \"g\": \"x\"}, {\"k\": 2, \"a\": 2, \"g\": \"y\"}, {\"k\": 1, \"b\": 3, " \
  "\"g\": \"x\"}, {\"a\": 9, \"g\": \"x\"}]"

/* Creates and starts a processor merging DOCS into cluster0 with `merge` (the
 * $merge fields after `into`), and waits until it took all four documents. */
static void run_merge(mongoc_client_t *c, const char *name, const char *into_coll,
                      const char *merge) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "{\"createStreamProcessor\": \"%s\", \"pipeline\": [{\"$source\": {\"documents\": " DOCS
           "}}, {\"$project\": {\"_ts\": 0, \"_stream_meta\": 0}}, {\"$merge\": {\"into\": "
           "{\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": %s}%s}}], \"options\": "
           "{\"dlq\": {\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": \"dlq\"}}}",
           name, into_coll, merge);
  WT_OK(c, cmd);
  snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", name);
  WT_OK(c, cmd);
  for (int i = 0; i < 200; i++) {
    if (wt_stat(c, name, "stats.inputMessageCount") == 4) return;
    usleep(20000);
  }
  fprintf(stderr, "FAIL: %s did not take its documents\n", name);
  wt_failures++;
}

/* The collection m.<coll> of cluster0 as the state store holds it, as {docs: [...]}
 * (a deleted document's slot holds an empty document: left out). */
static void collection(sqlite3 *db, const char *coll, bson_t *out) {
  bson_init(out);
  bson_t docs;
  BSON_APPEND_ARRAY_BEGIN(out, "docs", &docs);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT doc FROM docs JOIN datasets ON docs.dataset = datasets.id WHERE"
                         " connection = 'cluster0' AND db = 'm' AND name = ? ORDER BY off",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, coll, -1, SQLITE_STATIC);
    uint32_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      bson_t doc;
      if (!bson_init_static(&doc, sqlite3_column_blob(st, 0),
                            (size_t)sqlite3_column_bytes(st, 0)) ||
          bson_empty(&doc)) {
        continue;
      }
      char key[16];
      const char *k;
      bson_uint32_to_string(n++, &k, key, sizeof key);
      BSON_APPEND_DOCUMENT(&docs, k, &doc);
    }
  }
  sqlite3_finalize(st);
  bson_append_array_end(out, &docs);
}

/* True when one of the dead letters' reasons contains text. */
static bool dead_lettered(const bson_t *dlq, const char *text) {
  char key[64], reason[512];
  for (uint32_t i = 0; i < wt_array_len(dlq, "docs"); i++) {
    snprintf(key, sizeof key, "docs.%u.errInfo.reason", i);
    if (strstr(wt_str(dlq, key, reason, sizeof reason), text)) return true;
  }
  return false;
}

static void check_collections(const char *state_dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *sinks;
  CHECK(sqlite3_open_v2(path, &sinks, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
  bson_t c;
  /* merge (the default): k 1 gets b; k 2 inserted; the document without k is dead-lettered. */
  collection(sinks, "merged", &c);
  CHECK(wt_array_len(&c, "docs") == 2);
  CHECK(wt_int(&c, "docs.0.k", NULL) == 1 && wt_int(&c, "docs.0.a", NULL) == 1 &&
        wt_int(&c, "docs.0.b", NULL) == 3);
  CHECK(wt_int(&c, "docs.1.k", NULL) == 2);
  bson_destroy(&c);
  /* replace: k 1 is the second document only. */
  collection(sinks, "replaced", &c);
  CHECK(wt_array_len(&c, "docs") == 2);
  CHECK(wt_int(&c, "docs.0.b", NULL) == 3 && wt_int(&c, "docs.0.a", NULL) == -1);
  bson_destroy(&c);
  /* keepExisting: the first k 1 stays. */
  collection(sinks, "kept", &c);
  CHECK(wt_int(&c, "docs.0.a", NULL) == 1 && wt_int(&c, "docs.0.b", NULL) == -1);
  bson_destroy(&c);
  /* A pipeline with $$new: total = existing a + incoming b. */
  collection(sinks, "piped", &c);
  CHECK(wt_int(&c, "docs.0.total", NULL) == 4);
  bson_destroy(&c);
  /* whenNotMatched discard into an empty collection writes nothing. */
  collection(sinks, "discarded", &c);
  CHECK(wt_array_len(&c, "docs") == 0);
  bson_destroy(&c);
  /* A dynamic coll: one collection per g (on _id: documents without one are inserted). */
  collection(sinks, "d_x", &c);
  CHECK(wt_array_len(&c, "docs") == 3);
  bson_destroy(&c);
  collection(sinks, "d_y", &c);
  CHECK(wt_array_len(&c, "docs") == 1);
  bson_destroy(&c);
  /* delete: the second k 1 removes the first; k 2 stays. */
  collection(sinks, "deleted", &c);
  CHECK(wt_array_len(&c, "docs") == 1 && wt_int(&c, "docs.0.k", NULL) == 2);
  bson_destroy(&c);
  /* whenMatched as an expression: the second k 1 (b is 3) resolves to replace. */
  collection(sinks, "expr_matched", &c);
  CHECK(wt_array_len(&c, "docs") == 2);
  CHECK(wt_int(&c, "docs.0.b", NULL) == 3 && wt_int(&c, "docs.0.a", NULL) == -1);
  bson_destroy(&c);
  /* whenNotMatched as an expression: g "y" is discarded, k 1 inserted then merged. */
  collection(sinks, "expr_not_matched", &c);
  CHECK(wt_array_len(&c, "docs") == 1);
  CHECK(wt_int(&c, "docs.0.a", NULL) == 1 && wt_int(&c, "docs.0.b", NULL) == 3);
  bson_destroy(&c);
  /* let: inc = the incoming b, t = its g with "!", next to $$new. */
  collection(sinks, "let", &c);
  char s[256];
  CHECK(wt_int(&c, "docs.0.total", NULL) == 4);
  CHECK(!strcmp(wt_str(&c, "docs.0.tag", s, sizeof s), "x!"));
  CHECK(wt_int(&c, "docs.0.seen", NULL) == 3);
  bson_destroy(&c);
  /* A mode that resolves to no mode, a target that is no string: nothing written. */
  collection(sinks, "bad_mode", &c);
  CHECK(wt_array_len(&c, "docs") == 2);
  bson_destroy(&c);
  collection(sinks, "dlq", &c);
  CHECK(wt_array_len(&c, "docs") >= 1);
  CHECK(dead_lettered(&c, "'on' field 'k' cannot be missing, null, undefined or an array"));
  CHECK(!strcmp(wt_str(&c, "docs.0.operatorName", s, sizeof s), "MergeOperator"));
  CHECK(dead_lettered(&c,
                      "$merge.whenMatched must evaluate to \"merge\", \"replace\", "
                      "\"keepExisting\" or \"delete\", not: \"x\""));
  CHECK(dead_lettered(&c,
                      "Failed to evaluate target namespace in MergeOperator :: caused by :: "
                      "Expected string, but got missing"));
  CHECK(dead_lettered(&c,
                      "Failed to evaluate target namespace in MergeOperator :: caused by :: "
                      "can't $divide by zero"));
  bson_destroy(&c);
  sqlite3_close(sinks);
}

/* find on a collection a $merge deleted from returns what is left. */
static void find_after_delete(mongoc_client_t *c) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "m", "deleted");
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
  const bson_t *doc;
  int n = 0;
  while (mongoc_cursor_next(cursor, &doc)) {
    CHECK(wt_int(doc, "k", NULL) == 2);
    n++;
  }
  CHECK(n == 1);
  CHECK(!mongoc_cursor_error(cursor, NULL));
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
}

static void plan_errors(mongoc_client_t *c) {
#define MERGE(fields)                                                                          \
  "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$merge\": {\"into\": " \
  "{\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": \"c\"}" fields "}}]}"
  WT_ERR(c, MERGE(", \"on\": [\"a\", \"a\"]"), 8186211,
         "Found a duplicate field in the $merge.on list: 'a'");
  WT_ERR(c, MERGE(", \"whenMatched\": \"fail\""), 420, "Unsupported whenMatched mode: fail");
  WT_ERR(c, MERGE(", \"whenNotMatched\": \"fail\""), 420, "Unsupported whenNotMatched mode: fail");
  WT_ERR(c, MERGE(", \"whenMatched\": [{\"$match\": {}}]"), 51191,
         "$match is not allowed to be used within the $merge 'whenMatched' pipeline");
  WT_ERR(c, MERGE(", \"let\": {\"v\": 1}"), 51199,
         "Cannot use 'let' variables with 'whenMatched: merge' mode");
  WT_ERR(c, MERGE(", \"let\": {\"v\": 1}, \"whenMatched\": \"delete\""), 51199,
         "Cannot use 'let' variables with 'whenMatched: delete' mode");
  WT_ERR(c, MERGE(", \"let\": {\"new\": \"$a\"}, \"whenMatched\": [{\"$set\": {\"a\": 1}}]"), 51273,
         "'let' may not define a value for the reserved 'new' variable other than '$$ROOT'");
  WT_ERR(c, MERGE(", \"let\": {\"Bad\": 1}, \"whenMatched\": [{\"$set\": {\"a\": 1}}]"), 16870,
         "'Bad' starts with an invalid character for a user variable name");
  WT_ERR(c, MERGE(", \"let\": 1, \"whenMatched\": [{\"$set\": {\"a\": 1}}]"), 14,
         "BSON field '$merge.let' is the wrong type 'int', expected type 'object'");
  WT_ERR(c, MERGE(", \"whenMatched\": [{\"$set\": {\"a\": \"$$nope\"}}]"), 17276,
         "Use of undefined variable: nope");
  WT_ERR(c, MERGE(", \"whenMatched\": {\"$nope\": 1}"), 168, "Unrecognized expression '$nope'");
  WT_ERR(c, MERGE(", \"parallelism\": 0"), 420,
         "$merge.parallelism must be greater than or equal to 1 and less than or equal to 16");
  WT_ERR(c, MERGE(", \"parallelism\": 17"), 420,
         "$merge.parallelism must be greater than or equal to 1 and less than or equal to 16");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$merge\": "
         "{\"into\": {\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": 7}}}]}",
         420, "$merge.into.coll must be a string or an expression, not int");
  WT_ERR(c,
         "{\"processStreamProcessor\": [{\"$source\": {\"documents\": []}}, {\"$merge\": "
         "{\"into\": {\"connectionName\": \"cluster0\", \"db\": \"m\", \"coll\": \"$x\"}, "
         "\"parallelism\": 2}}]}",
         420, "must be literals if $merge.parallelism is greater than 1");
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  run_merge(c, "merged", "\"merged\"", ", \"on\": \"k\"");
  run_merge(c, "replaced", "\"replaced\"", ", \"on\": [\"k\"], \"whenMatched\": \"replace\"");
  run_merge(c, "kept", "\"kept\"", ", \"on\": \"k\", \"whenMatched\": \"keepExisting\"");
  run_merge(c, "piped", "\"piped\"",
            ", \"on\": \"k\", \"whenMatched\": [{\"$set\": {\"total\": {\"$add\": [\"$a\", "
            "\"$$new.b\"]}}}]");
  run_merge(c, "discarded", "\"discarded\"", ", \"on\": \"k\", \"whenNotMatched\": \"discard\"");
  run_merge(c, "dynamic", "{\"$concat\": [\"d_\", \"$g\"]}", "");
  run_merge(c, "deleted", "\"deleted\"", ", \"on\": \"k\", \"whenMatched\": \"delete\"");
  run_merge(c, "expr_matched", "\"expr_matched\"",
            ", \"on\": \"k\", \"whenMatched\": {\"$cond\": [{\"$eq\": [\"$b\", 3]}, \"replace\", "
            "\"keepExisting\"]}");
  run_merge(c, "expr_not_matched", "\"expr_not_matched\"",
            ", \"on\": \"k\", \"whenNotMatched\": {\"$cond\": [{\"$eq\": [\"$g\", \"y\"]}, "
            "\"discard\", \"insert\"]}");
  run_merge(c, "let", "\"let\"",
            ", \"on\": \"k\", \"let\": {\"inc\": \"$b\", \"t\": {\"$concat\": [\"$g\", \"!\"]}, "
            "\"new\": \"$$ROOT\"}, \"whenMatched\": [{\"$set\": {\"total\": {\"$add\": [\"$a\", "
            "\"$$inc\"]}, \"tag\": \"$$t\", \"seen\": \"$$new.b\"}}]");
  run_merge(c, "bad_mode", "\"bad_mode\"", ", \"on\": \"k\", \"whenMatched\": \"$g\"");
  run_merge(c, "bad_target", "\"$nope\"", "");
  run_merge(c, "bad_target_expr", "{\"$divide\": [1, 0]}", "");
  find_after_delete(c);
  plan_errors(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  check_collections(dir);
  /* After a restart the deleted document stays deleted. */
  wt_start(&inst, dir);
  c = wt_client(&inst);
  find_after_delete(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.merge");
}
