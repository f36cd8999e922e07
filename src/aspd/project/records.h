/* Project-level Admin API records (Private Link connections, VPC peering connections):
 * documents with an `_id`, kept in order, one record each in the state store. A change
 * is committed to the store before it is applied (a failed commit changes nothing) and
 * acknowledged after. Thread-safe. */
#ifndef ASPD_RECORDS_H
#define ASPD_RECORDS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

typedef struct aspd_records aspd_records_t;

/* Loads the records of `kind` from the store (which must outlive them). The first
 * time, those of STATE_DIR/legacy_file ({"records": [...]}, the JSON of earlier
 * versions; missing = none) are imported instead. A corrupt file is an error, never
 * replaced. */
aspd_records_t *aspd_records_open(aspd_store_t *store, const char *kind, const char *state_dir,
                                  const char *legacy_file, char *err, size_t err_len);
void aspd_records_free(aspd_records_t *records);

/* A copy of the record with that _id, or NULL. */
bson_t *aspd_records_get(aspd_records_t *records, const char *id);
/* Appends records [skip, skip+limit) whose `key` equals `value` (key NULL: all) to the
 * open array out; returns how many match in all. */
size_t aspd_records_page(aspd_records_t *records, const char *key, const char *value, size_t skip,
                         size_t limit, bson_t *out);
/* Adds doc (it has its _id) or replaces the record with the same _id; committed on return. */
bool aspd_records_put(aspd_records_t *records, const bson_t *doc, char *err, size_t err_len);
/* Removes the record; false when there was none or the commit failed (err set then). */
bool aspd_records_remove(aspd_records_t *records, const char *id, char *err, size_t err_len);

#endif
