#include <stdio.h>
#include <stdlib.h>

#include "commands/command_args.h"
#include "commands/crud.h"

bool aspd_crud_target(const bson_t *cmd, const char **db, const char **coll, aspd_error_t *err) {
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

bool aspd_crud_count_arg(const bson_t *cmd, const char *key, int64_t *out, aspd_error_t *err) {
  bool present = false;
  *out = 0;
  if (!aspd_arg_int64(cmd, key, &present, out, err)) return false;
  if (*out < 0) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "%s must be a non-negative number", key);
    return false;
  }
  return true;
}

bool aspd_crud_first_cluster(const aspd_registry_t *reg, const char *db, char *out, size_t out_len,
                             aspd_error_t *err) {
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
  if (!found) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED,
                   "no Cluster connection in the registry holds database '%s'", db);
  }
  return found;
}

bson_t **aspd_crud_with_ids(const bson_t *docs, size_t *count, aspd_error_t *err) {
  size_t n = 0, cap = bson_count_keys(docs);
  bson_t **list = calloc(cap ? cap : 1, sizeof *list);
  bson_iter_t it;
  bson_iter_init(&it, docs);
  while (bson_iter_next(&it)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                     "insert requires 'documents', an array of documents");
      aspd_crud_docs_free(list, n);
      return NULL;
    }
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t doc;
    bson_init_static(&doc, data, len);
    list[n] = bson_new();
    bson_iter_t id;
    if (!bson_iter_init_find(&id, &doc, "_id")) {
      bson_oid_t oid;
      bson_oid_init(&oid, NULL);
      BSON_APPEND_OID(list[n], "_id", &oid);
    }
    bson_concat(list[n++], &doc);
  }
  *count = n;
  return list;
}

void aspd_crud_docs_free(bson_t **docs, size_t count) {
  for (size_t i = 0; i < count; i++) bson_destroy(docs[i]);
  free(docs);
}
