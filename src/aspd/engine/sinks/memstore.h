/* Sink contents: collections of Cluster connections and topics of Kafka
 * connections, held in memory and committed to the state store. Each keeps at
 * most `retain` documents (aspd --sink-max-docs): past it the oldest go, and
 * are counted, so an unlimited-rate processor cannot exhaust memory or disk.
 * Not thread-safe: the engine lock guards it. */
#ifndef ASPD_MEMSTORE_H
#define ASPD_MEMSTORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"
#include "store/store.h"

/* Documents kept per collection or topic unless --sink-max-docs says otherwise. */
#define ASPD_MEMSTORE_RETAIN_DEFAULT 100000

typedef struct aspd_memstore aspd_memstore_t;

/* A collection (db != NULL) or a partition of a topic (db == NULL): each
 * message of a topic is a record {value: <document>, key?, headers?: [{k, v}]}. */
typedef struct {
  char *connection, *db, *name;
  int32_t partition; /* topics */
  bson_t **docs;
  size_t head, count, cap;
  size_t retain;        /* most documents kept */
  int64_t first_offset; /* offset of docs[head]: topics are read by offset */
  int64_t dropped;      /* documents dropped past `retain` since start-up */
  /* What the store holds, [saved_first, saved_end), and what was last handed
   * to it, [queued_first, queued_end); saved/queued false until the first time. */
  bool saved, queued;
  int64_t saved_first, saved_end, queued_first, queued_end;
  /* Offsets replaced ($merge) since last handed to the store, written one by one. */
  int64_t *replaced;
  size_t replaced_count, replaced_cap;
  bool gone; /* a collection dropped and not written since: not listed, not stored */
  /* A fresh stamp, greater than every one before it in the process, at each change of
   * the documents or of `gone`: what readers that cache them ($lookup's index) compare. */
  uint64_t version;
} aspd_dataset_t;

/* The unsaved changes of every dataset, taken under the engine lock. */
typedef struct aspd_memstore_changes aspd_memstore_changes_t;

aspd_memstore_t *aspd_memstore_new(size_t retain);
void aspd_memstore_free(aspd_memstore_t *store);

/* Every dataset, by index. */
size_t aspd_memstore_size(const aspd_memstore_t *store);
aspd_dataset_t *aspd_memstore_get(aspd_memstore_t *store, size_t i);

/* Finds the dataset (a topic's partition 0 when db is NULL), or NULL. */
aspd_dataset_t *aspd_memstore_find(aspd_memstore_t *store, const char *connection, const char *db,
                                   const char *name);

/* Calls fn with each document of the collections named db.coll, whichever
 * connection holds them (as find reads them), in the order they were written;
 * deleted slots are skipped. Stops early when fn returns false. */
void aspd_memstore_each_doc(aspd_memstore_t *store, const char *db, const char *coll,
                            bool (*fn)(void *ctx, const bson_t *doc), void *ctx);

/* Finds or creates the dataset. */
aspd_dataset_t *aspd_memstore_dataset(aspd_memstore_t *store, const char *connection,
                                      const char *db, const char *name);

/* Finds or creates partition `partition` of a topic. */
aspd_dataset_t *aspd_memstore_partition(aspd_memstore_t *store, const char *connection,
                                        const char *topic, int32_t partition);

/* Gives the dataset a fresh version: callers that change it other than through the
 * functions below (which do so themselves). */
void aspd_dataset_touch(aspd_dataset_t *set);

/* Appends a copy of doc. */
void aspd_dataset_append(aspd_dataset_t *set, const bson_t *doc);

/* The document at an absolute offset, or NULL when it is gone or not yet written. */
const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset);
int64_t aspd_dataset_end_offset(const aspd_dataset_t *set);
/* Replaces the document at an existing offset with a copy of doc ($merge). */
void aspd_dataset_replace(aspd_dataset_t *set, int64_t offset, const bson_t *doc);
/* Deletes the document at an existing offset of a collection ($merge's whenMatched
 * delete): its slot keeps an empty document, as offsets stay contiguous in memory and
 * in the store, and every document a collection holds has an _id. Readers skip it. */
void aspd_dataset_delete(aspd_dataset_t *set, int64_t offset);
static inline bool aspd_dataset_is_deleted(const bson_t *doc) {
  return bson_empty(doc);
}
/* A change to one document of a collection: its replacement, or (doc NULL) its removal. */
typedef struct {
  int64_t offset;
  const bson_t *doc;
} aspd_dataset_edit_t;

/* Commit before apply, for the commands that write collections: commits to the store, in
 * one transaction, the dataset as it will be after `edits` (by ascending offset),
 * `appends` and (drop) its removal, with whatever else of it the store does not hold
 * yet; only when that commit succeeded is the change applied (copies of the documents
 * given). Removed documents make the later ones move down, so offsets stay contiguous
 * (collections only: topics are read by offset). The caller holds the engine lock with
 * no flusher batch in flight. False with err (no server path) when nothing changed. */
bool aspd_dataset_commit(aspd_dataset_t *set, aspd_store_t *store, const aspd_dataset_edit_t *edits,
                         size_t n_edits, const bson_t *const *appends, size_t n_appends, bool drop,
                         char *err, size_t err_len);

/* Several datasets' changes in one transaction (a collection's write and the change
 * events it makes), each as aspd_dataset_commit would; all or none apply. */
typedef struct {
  aspd_dataset_t *set;
  const aspd_dataset_edit_t *edits;
  size_t n_edits;
  const bson_t *const *appends;
  size_t n_appends;
  bool drop;
} aspd_dataset_change_t;
bool aspd_datasets_commit(const aspd_dataset_change_t *changes, size_t n, aspd_store_t *store,
                          char *err, size_t err_len);

/* Persistence in two steps, so that the engine lock is held only for the cheap
 * one. Under the lock: what was not handed to the store yet, as deltas with
 * copies of the new documents (so the ring may drop them meanwhile); NULL
 * when nothing changed. Then, without the lock, the deltas are committed, and
 * under the lock again changes_done records the outcome: on failure the next
 * changes start again from what the store holds. One batch at a time. */
aspd_memstore_changes_t *aspd_memstore_changes(aspd_memstore_t *store);
const aspd_store_delta_t *aspd_memstore_deltas(const aspd_memstore_changes_t *c, size_t *count);
void aspd_memstore_changes_done(aspd_memstore_changes_t *c, bool committed);
void aspd_memstore_changes_free(aspd_memstore_changes_t *c);

/* Loads what the store holds. */
bool aspd_memstore_load(aspd_memstore_t *store, aspd_store_t *db, char *err, size_t err_len);
/* Topics loaded from a store of earlier versions hold bare values: makes them
 * records and marks them to be written again. */
void aspd_memstore_wrap_bare_topics(aspd_memstore_t *store);
/* Loads a sinks.json of earlier versions (imported once). */
bool aspd_memstore_from_bson(aspd_memstore_t *store, const bson_t *in, aspd_error_t *err);

#endif
