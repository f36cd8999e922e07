/* distinct and aggregate on the collections behind Cluster connections. Both
 * read through the engine's query (a leading $match of aggregate becomes the
 * find filter) and aggregate runs its pipeline once over the documents with
 * the engine's batch runner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/crud.h"
#include "commands/reply.h"
#include "engine/expr/values.h"

typedef struct {
  bson_value_t *items;
  size_t count, cap;
} values_t;

static void add_value(values_t *v, const bson_value_t *value) {
  for (size_t i = 0; i < v->count; i++) {
    if (aspd_value_equal(&v->items[i], value)) return;
  }
  if (v->count == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 16;
    v->items = realloc(v->items, v->cap * sizeof *v->items);
  }
  bson_value_copy(value, &v->items[v->count++]);
}

static int compare_values(const void *a, const void *b) {
  return aspd_value_cmp(a, b);
}

/* The values at key of doc: an array's elements count one by one, as in mongod. */
static void collect(values_t *v, const bson_t *doc, const char *key) {
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, key, &found)) return;
  if (!BSON_ITER_HOLDS_ARRAY(&found)) {
    add_value(v, bson_iter_value(&found));
    return;
  }
  bson_iter_t items;
  bson_iter_recurse(&found, &items);
  while (bson_iter_next(&items)) add_value(v, bson_iter_value(&items));
}

void aspd_cmd_distinct(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll, *key = NULL;
  bson_t filter;
  bool has_filter = false;
  aspd_docs_t docs = {0};
  if (!aspd_crud_target(cmd, &db, &coll, &err) || !aspd_arg_utf8(cmd, "key", &key, &err) ||
      !aspd_arg_doc(cmd, "query", false, &has_filter, &filter, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  if (!key || !*key) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE, "distinct requires 'key', a field name");
    return;
  }
  if (!aspd_engine_find(ctx->engine, db, coll, has_filter ? &filter : NULL, 0, 0, &docs, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  values_t v = {0};
  for (size_t i = 0; i < docs.count; i++) collect(&v, docs.docs[i], key);
  aspd_docs_free(&docs);
  qsort(v.items, v.count, sizeof *v.items, compare_values);
  bson_t out;
  BSON_APPEND_ARRAY_BEGIN(reply, "values", &out);
  for (size_t i = 0; i < v.count; i++) {
    char k[16];
    const char *kp;
    bson_uint32_to_string((uint32_t)i, &kp, k, sizeof k);
    bson_append_value(&out, kp, -1, &v.items[i]);
    bson_value_destroy(&v.items[i]);
  }
  bson_append_array_end(reply, &out);
  free(v.items);
  aspd_reply_ok(reply);
}

/* True when the stage is {$match: filter} (filter into view). */
static bool match_stage(const bson_iter_t *it, bson_t *view) {
  bson_iter_t stage, more;
  if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &stage) || !bson_iter_next(&stage) ||
      strcmp(bson_iter_key(&stage), "$match") || !BSON_ITER_HOLDS_DOCUMENT(&stage)) {
    return false;
  }
  more = stage;
  if (bson_iter_next(&more)) return false;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&stage, &len, &data);
  return bson_init_static(view, data, len);
}

/* Splits a leading $match off pipeline: *filter views it (NULL when the first
 * stage is something else) and rest gets the other stages. */
static void split_match(const bson_t *pipeline, bson_t *filter_view, const bson_t **filter,
                        bson_t *rest) {
  bson_iter_t it;
  uint32_t n = 0;
  bool first = true;
  *filter = NULL;
  bson_iter_init(&it, pipeline);
  while (bson_iter_next(&it)) {
    if (first && match_stage(&it, filter_view)) {
      *filter = filter_view;
      first = false;
      continue;
    }
    first = false;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_append_value(rest, k, -1, bson_iter_value(&it));
  }
}

void aspd_cmd_aggregate(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_t pipeline, cursor;
  bool has_pipeline = false, has_cursor = false;
  int64_t batch = 0;
  if (!aspd_crud_target(cmd, &db, &coll, &err) ||
      !aspd_arg_doc(cmd, "pipeline", true, &has_pipeline, &pipeline, &err) ||
      !aspd_arg_doc(cmd, "cursor", false, &has_cursor, &cursor, &err) ||
      (has_cursor && !aspd_crud_count_arg(&cursor, "batchSize", &batch, &err))) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  if (!has_pipeline) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE, "aggregate requires 'pipeline', an array");
    return;
  }
  bson_t filter_view, rest = BSON_INITIALIZER;
  const bson_t *filter;
  split_match(&pipeline, &filter_view, &filter, &rest);
  aspd_docs_t docs = {0};
  bool ok = aspd_engine_find(ctx->engine, db, coll, filter, 0, 0, &docs, &err) &&
            aspd_engine_run_batch(ctx->registry, ctx->engine, db, &rest, &docs, &err);
  bson_destroy(&rest);
  if (!ok) {
    aspd_docs_free(&docs);
    aspd_reply_from_error(reply, &err);
    return;
  }
  char ns[512];
  snprintf(ns, sizeof ns, "%s.%s", db, coll);
  aspd_cursors_open(ctx->cursors, ns, &docs, batch, reply);
  aspd_reply_ok(reply);
}
