/* The ordinary MongoDB commands on the collections behind Cluster connections:
 * what processors wrote can be read, and what they read can be seeded, with
 * mongosh or any driver. The database is the command's $db. */
#include <stdio.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/crud.h"
#include "commands/cursors.h"
#include "commands/reply.h"

#define CURSOR_NOT_FOUND 43, "CursorNotFound"

static bool query(aspd_command_ctx_t *ctx, const bson_t *cmd, const char *filter_key,
                  const char *db, const char *coll, aspd_docs_t *out, aspd_error_t *err) {
  bson_t filter;
  bool has_filter = false;
  int64_t skip, limit;
  return aspd_arg_doc(cmd, filter_key, false, &has_filter, &filter, err) &&
         aspd_crud_count_arg(cmd, "skip", &skip, err) &&
         aspd_crud_count_arg(cmd, "limit", &limit, err) &&
         aspd_engine_find(ctx->engine, db, coll, has_filter ? &filter : NULL, skip, limit, out,
                          err);
}

static void append_stage(bson_t *pipeline, uint32_t *n, const char *name, const bson_t *spec,
                         int64_t count) {
  char key[16];
  const char *k;
  bson_uint32_to_string((*n)++, &k, key, sizeof key);
  bson_t stage;
  BSON_APPEND_DOCUMENT_BEGIN(pipeline, k, &stage);
  if (spec) {
    BSON_APPEND_DOCUMENT(&stage, name, spec);
  } else {
    BSON_APPEND_INT64(&stage, name, count);
  }
  bson_append_document_end(pipeline, &stage);
}

/* find with a sort or a projection: every match, then $sort, $skip, $limit and
 * $project through the engine's batch runner (the stages $match and aggregate use). */
static bool shaped_query(aspd_command_ctx_t *ctx, const bson_t *cmd, const char *db,
                         const char *coll, const bson_t *sort, const bson_t *projection,
                         aspd_docs_t *out, aspd_error_t *err) {
  bson_t filter;
  bool has_filter = false;
  int64_t skip, limit;
  if (!aspd_arg_doc(cmd, "filter", false, &has_filter, &filter, err) ||
      !aspd_crud_count_arg(cmd, "skip", &skip, err) ||
      !aspd_crud_count_arg(cmd, "limit", &limit, err) ||
      !aspd_engine_find(ctx->engine, db, coll, has_filter ? &filter : NULL, 0, 0, out, err)) {
    return false;
  }
  bson_t pipeline = BSON_INITIALIZER;
  uint32_t n = 0;
  if (sort) append_stage(&pipeline, &n, "$sort", sort, 0);
  if (skip > 0) append_stage(&pipeline, &n, "$skip", NULL, skip);
  if (limit > 0) append_stage(&pipeline, &n, "$limit", NULL, limit);
  if (projection) append_stage(&pipeline, &n, "$project", projection, 0);
  bool ok = aspd_engine_run_batch(ctx->registry, NULL, NULL, &pipeline, out, err);
  bson_destroy(&pipeline);
  if (!ok) aspd_docs_free(out);
  return ok;
}

/* An optional document argument that is not empty; NULL otherwise. */
static bool non_empty_doc(const bson_t *cmd, const char *key, bson_t *view, const bson_t **out,
                          aspd_error_t *err) {
  bool present = false;
  *out = NULL;
  if (!aspd_arg_doc(cmd, key, false, &present, view, err)) return false;
  if (present && !bson_empty(view)) *out = view;
  return true;
}

void aspd_cmd_find(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  aspd_docs_t docs = {0};
  int64_t batch = 0;
  bson_t sort_view, projection_view;
  const bson_t *sort, *projection;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !aspd_crud_count_arg(cmd, "batchSize", &batch, &err) ||
      !non_empty_doc(cmd, "sort", &sort_view, &sort, &err) ||
      !non_empty_doc(cmd, "projection", &projection_view, &projection, &err) ||
      !(sort || projection ? shaped_query(ctx, cmd, db, coll, sort, projection, &docs, &err)
                           : query(ctx, cmd, "filter", db, coll, &docs, &err))) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  char ns[512];
  snprintf(ns, sizeof ns, "%s.%s", db, coll);
  aspd_cursors_open(ctx->cursors, ns, &docs, batch, reply);
  aspd_reply_ok(reply);
}

void aspd_cmd_get_more(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  bson_iter_t it;
  int64_t batch = 0;
  if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_INT(&it)) {
    aspd_reply_error(reply, ASPD_E_TYPE_MISMATCH, "getMore requires the cursor id as a long");
    return;
  }
  if (!aspd_crud_count_arg(cmd, "batchSize", &batch, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  int64_t id = bson_iter_as_int64(&it);
  if (!aspd_cursors_more(ctx->cursors, id, batch, reply)) {
    aspd_reply_error(reply, CURSOR_NOT_FOUND, "cursor id %lld not found", (long long)id);
    return;
  }
  aspd_reply_ok(reply);
}

void aspd_cmd_kill_cursors(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  bson_iter_t it, ids;
  if (!bson_iter_init_find(&it, cmd, "cursors") || !BSON_ITER_HOLDS_ARRAY(&it)) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE, "killCursors requires a 'cursors' array");
    return;
  }
  bson_t killed, missing;
  bson_t k = BSON_INITIALIZER, m = BSON_INITIALIZER;
  uint32_t nk = 0, nm = 0;
  bson_iter_recurse(&it, &ids);
  while (bson_iter_next(&ids)) {
    if (!BSON_ITER_HOLDS_INT(&ids)) continue;
    int64_t id = bson_iter_as_int64(&ids);
    char key[16];
    const char *kp;
    bool found = aspd_cursors_kill(ctx->cursors, id);
    bson_uint32_to_string(found ? nk++ : nm++, &kp, key, sizeof key);
    BSON_APPEND_INT64(found ? &k : &m, kp, id);
  }
  BSON_APPEND_ARRAY_BEGIN(reply, "cursorsKilled", &killed);
  bson_concat(&killed, &k);
  bson_append_array_end(reply, &killed);
  BSON_APPEND_ARRAY_BEGIN(reply, "cursorsNotFound", &missing);
  bson_concat(&missing, &m);
  bson_append_array_end(reply, &missing);
  bson_t empty;
  BSON_APPEND_ARRAY_BEGIN(reply, "cursorsAlive", &empty);
  bson_append_array_end(reply, &empty);
  BSON_APPEND_ARRAY_BEGIN(reply, "cursorsUnknown", &empty);
  bson_append_array_end(reply, &empty);
  bson_destroy(&k);
  bson_destroy(&m);
  aspd_reply_ok(reply);
}

void aspd_cmd_count(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  aspd_docs_t docs = {0};
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !query(ctx, cmd, "query", db, coll, &docs, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  BSON_APPEND_INT64(reply, "n", (int64_t)docs.count);
  aspd_docs_free(&docs);
  aspd_reply_ok(reply);
}

void aspd_cmd_insert(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_t docs;
  bool present = false;
  char connection[256];
  size_t n = 0;
  bson_t **list = NULL;
  bool ok = aspd_crud_target(cmd, &db, &coll, &err) &&
            aspd_arg_doc(cmd, "documents", true, &present, &docs, &err);
  if (ok && !present) {
    aspd_error_set(&err, ASPD_E_FAILED_TO_PARSE,
                   "insert requires 'documents', an array of documents");
    ok = false;
  }
  ok = ok && aspd_crud_first_cluster(ctx->registry, db, connection, sizeof connection, &err) &&
       (list = aspd_crud_with_ids(&docs, &n, &err)) != NULL &&
       aspd_engine_insert(ctx->engine, connection, db, coll, (const bson_t *const *)list, n, &err);
  if (ok) {
    BSON_APPEND_INT32(reply, "n", (int32_t)n);
    aspd_reply_ok(reply);
  } else {
    aspd_reply_from_error(reply, &err);
  }
  if (list) aspd_crud_docs_free(list, n);
}

/* {cursor: {firstBatch: [{name, type?}...], id: 0, ns}} or {databases: [{name}...]} */
static void list_names(aspd_command_ctx_t *ctx, const char *db, bson_t *reply) {
  bson_t names = BSON_INITIALIZER, out, cursor;
  aspd_engine_list_names(ctx->engine, db, &names);
  if (db) {
    BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
    BSON_APPEND_ARRAY_BEGIN(&cursor, "firstBatch", &out);
  } else {
    BSON_APPEND_ARRAY_BEGIN(reply, "databases", &out);
  }
  bson_iter_t it;
  bson_iter_init(&it, &names);
  while (bson_iter_next(&it)) {
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(&out, bson_iter_key(&it), &item);
    BSON_APPEND_UTF8(&item, "name", bson_iter_utf8(&it, NULL));
    if (db) BSON_APPEND_UTF8(&item, "type", "collection");
    if (!db) BSON_APPEND_BOOL(&item, "empty", false);
    bson_append_document_end(&out, &item);
  }
  if (db) {
    bson_append_array_end(&cursor, &out);
    BSON_APPEND_INT64(&cursor, "id", 0);
    char ns[300];
    snprintf(ns, sizeof ns, "%s.$cmd.listCollections", db);
    BSON_APPEND_UTF8(&cursor, "ns", ns);
    bson_append_document_end(reply, &cursor);
  } else {
    bson_append_array_end(reply, &out);
  }
  bson_destroy(&names);
  aspd_reply_ok(reply);
}

void aspd_cmd_list_collections(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db;
  if (!aspd_crud_target(cmd, &db, NULL, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  list_names(ctx, db, reply);
}

void aspd_cmd_list_databases(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  (void)cmd;
  list_names(ctx, NULL, reply);
}
