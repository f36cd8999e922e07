/* $lookup's hash index of a foreign collection by the value at foreignField, so that
 * the equality form finds the documents that may join without reading them all.
 * It is built from the collection as the engine holds it, on the second input
 * document that finds the collection unchanged (an instance that joins one document
 * scans as before; a build costs one to two scans), and dropped when a dataset of the
 * collection got a new version. After an index that answered only a few lookups the
 * collection must stay unchanged for twice as many documents before the next build,
 * so a collection written every few documents is scanned rather than indexed in vain. It yields
 * candidates in collection order; the caller's equality filter decides, so the joined documents are
 * those of a scan. Used under the engine lock, like the collection. */
#ifndef ASPD_LOOKUP_INDEX_H
#define ASPD_LOOKUP_INDEX_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/sinks/memstore.h"

typedef struct aspd_lookup_index aspd_lookup_index_t;

aspd_lookup_index_t *aspd_lookup_index_new(const char *db, const char *coll, const char *path);
void aspd_lookup_index_free(aspd_lookup_index_t *ix);
/* Bytes held (the processor's state size). */
int64_t aspd_lookup_index_bytes(const aspd_lookup_index_t *ix);

/* Calls fn, in collection order, with each document of db.coll whose value at the
 * path may equal one of `values` (an array of the local values; null also stands
 * for missing and undefined), stopping when fn returns false. False, with fn not
 * called, when the index does not serve this lookup and the caller must scan: not
 * built yet, a path with an array index, or a regular expression among the values. */
bool aspd_lookup_index_each(aspd_lookup_index_t *ix, aspd_memstore_t *ms, const bson_t *values,
                            bool (*fn)(void *ctx, const bson_t *doc), void *ctx);

#endif
