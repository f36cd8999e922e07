/* Shared by the handlers of the ordinary MongoDB commands (crud_*.c). */
#ifndef ASPD_CRUD_H
#define ASPD_CRUD_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "registry/connections.h"

/* $db, and the command's value as a collection name (coll NULL: $db only). */
bool aspd_crud_target(const bson_t *cmd, const char **db, const char **coll, aspd_error_t *err);

/* An optional count (skip, limit, batchSize): absent (0) or >= 0. */
bool aspd_crud_count_arg(const bson_t *cmd, const char *key, int64_t *out, aspd_error_t *err);

/* The first Cluster connection: where a new collection is created. */
bool aspd_crud_first_cluster(const aspd_registry_t *reg, const char *db, char *out, size_t out_len,
                             aspd_error_t *err);

/* Copies of docs given as a BSON array of documents, each with an _id (an ObjectId
 * put first when it has none, like mongod). NULL with err when one is not a document. */
bson_t **aspd_crud_with_ids(const bson_t *docs, size_t *count, aspd_error_t *err);
void aspd_crud_docs_free(bson_t **docs, size_t count);

/* crud_update.c: update documents. */

/* Checks an update: a document of update operators, a replacement document, or (as
 * an array) an update pipeline. */
bool aspd_update_check(const bson_iter_t *update, aspd_error_t *err);
/* Applies a checked update to doc into out (initialised); `inserting` for an upsert's
 * new document ($setOnInsert applies then). The _id cannot change (ImmutableField). */
bool aspd_update_apply(const aspd_registry_t *reg, const bson_t *doc, const bson_iter_t *update,
                       bool inserting, bson_t *out, aspd_error_t *err);
/* The document an upsert starts from: the equality conditions of filter. */
void aspd_update_seed(const bson_t *filter, bson_t *out);

#endif
