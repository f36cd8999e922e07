/* The ordinary MongoDB commands on the collections behind Cluster connections:
 * what processors wrote can be read, and what they read can be seeded, with
 * mongosh or any driver. The database is the command's $db. */
#include <stdio.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/command_args.h"
#include "commands/cursors.h"
#include "commands/reply.h"

#define CURSOR_NOT_FOUND 43, "CursorNotFound"

/* The command's value as a collection name, and $db. */
static bool target(const bson_t *cmd, const char **db, const char **coll, aspd_error_t *err) {
  bson_iter_t it;
  *db = NULL;
  if (bson_iter_init_find(&it, cmd, "$db") && BSON_ITER_HOLDS_UTF8(&it)) {
    *db = bson_iter_utf8(&it, NULL);
  }
  if (!*db || !**db) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "the command needs a database ($db)");
    return false;
  }
  if (!coll) return true;
  if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_UTF8(&it) ||
      !*bson_iter_utf8(&it, NULL)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "the collection name must be a non-empty string");
    return false;
  }
  *coll = bson_iter_utf8(&it, NULL);
  return true;
}

/* skip and limit: absent or >= 0. */
static bool count_arg(const bson_t *cmd, const char *key, int64_t *out, aspd_error_t *err) {
  bool present = false;
  *out = 0;
  if (!aspd_arg_int64(cmd, key, &present, out, err)) return false;
  if (*out < 0) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "%s must be a non-negative number", key);
    return false;
  }
  return true;
}

static bool query(aspd_command_ctx_t *ctx, const bson_t *cmd, const char *filter_key,
                  const char *db, const char *coll, aspd_docs_t *out, aspd_error_t *err) {
  bson_t filter;
  bool has_filter = false;
  int64_t skip, limit;
  return aspd_arg_doc(cmd, filter_key, false, &has_filter, &filter, err) &&
         count_arg(cmd, "skip", &skip, err) && count_arg(cmd, "limit", &limit, err) &&
         aspd_engine_find(ctx->engine, db, coll, has_filter ? &filter : NULL, skip, limit, out,
                          err);
}

void aspd_cmd_find(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  aspd_docs_t docs = {0};
  int64_t batch = 0;
  if (!target(cmd, &db, &coll, &err) || !count_arg(cmd, "batchSize", &batch, &err) ||
      !query(ctx, cmd, "filter", db, coll, &docs, &err)) {
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
  if (!count_arg(cmd, "batchSize", &batch, &err)) {
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
  if (!target(cmd, &db, &coll, &err) || !query(ctx, cmd, "query", db, coll, &docs, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  BSON_APPEND_INT64(reply, "n", (int64_t)docs.count);
  aspd_docs_free(&docs);
  aspd_reply_ok(reply);
}

/* The first Cluster connection: where a new collection is created. */
static bool first_cluster(const aspd_registry_t *reg, char *out, size_t out_len) {
  bson_t filter = BSON_INITIALIZER, list = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&filter, "type", "atlas"); /* the listed form of a Cluster connection */
  aspd_registry_list(reg, &filter, &list);
  bson_iter_t it, item;
  bool found = bson_iter_init(&it, &list) && bson_iter_next(&it) && BSON_ITER_HOLDS_DOCUMENT(&it) &&
               bson_iter_recurse(&it, &item) && bson_iter_find(&item, "name") &&
               BSON_ITER_HOLDS_UTF8(&item);
  if (found) snprintf(out, out_len, "%s", bson_iter_utf8(&item, NULL));
  bson_destroy(&filter);
  bson_destroy(&list);
  return found;
}

void aspd_cmd_insert(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  const char *db, *coll;
  bson_t docs;
  bool present = false;
  if (!target(cmd, &db, &coll, &err) ||
      !aspd_arg_doc(cmd, "documents", true, &present, &docs, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  char connection[256];
  if (!first_cluster(ctx->registry, connection, sizeof connection)) {
    aspd_reply_error(reply, ASPD_E_COMMAND_FAILED,
                     "no Cluster connection in the registry holds database '%s'", db);
    return;
  }
  size_t n = 0, cap = present ? bson_count_keys(&docs) : 0;
  bson_t **list = calloc(cap ? cap : 1, sizeof *list);
  bson_iter_t it;
  bool ok = present && bson_iter_init(&it, &docs);
  while (ok && bson_iter_next(&it)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      ok = false;
      break;
    }
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t doc;
    bson_init_static(&doc, data, len);
    list[n] = bson_new();
    bson_iter_t id;
    if (!bson_iter_init_find(&id, &doc, "_id")) {
      /* Like mongod: an ObjectId _id first when the document has none. */
      bson_oid_t oid;
      bson_oid_init(&oid, NULL);
      BSON_APPEND_OID(list[n], "_id", &oid);
    }
    bson_concat(list[n++], &doc);
  }
  if (!ok) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE,
                     "insert requires 'documents', an array of documents");
  } else if (!aspd_engine_insert(ctx->engine, connection, db, coll, (const bson_t *const *)list, n,
                                 &err)) {
    aspd_reply_from_error(reply, &err);
  } else {
    BSON_APPEND_INT32(reply, "n", (int32_t)n);
    aspd_reply_ok(reply);
  }
  for (size_t i = 0; i < n; i++) bson_destroy(list[i]);
  free(list);
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
  if (!target(cmd, &db, NULL, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  list_names(ctx, db, reply);
}

void aspd_cmd_list_databases(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  (void)cmd;
  list_names(ctx, NULL, reply);
}
