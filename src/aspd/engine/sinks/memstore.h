/* In-memory sink contents: collections of Cluster connections and topics of
 * Kafka connections. Each keeps at most ASPD_MEMSTORE_RETAIN documents
 * (the oldest go first) so an unlimited-rate processor cannot exhaust memory.
 * Not thread-safe: the engine lock guards it. */
#ifndef ASPD_MEMSTORE_H
#define ASPD_MEMSTORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "engine/error.h"

#define ASPD_MEMSTORE_RETAIN 100000

typedef struct aspd_memstore aspd_memstore_t;

/* A collection (db != NULL) or a topic (db == NULL). */
typedef struct {
  char *connection, *db, *name;
  bson_t **docs;
  size_t head, count, cap;
  int64_t first_offset; /* offset of docs[head]: topics are read by offset */
  bool changed;         /* since its last snapshot */
  /* Its encoding for the state file (engine thread only): the fields before
   * the documents, and the documents [enc_first, enc_end) by chunks of
   * offsets, each document encoded once. */
  bool encoded;
  int64_t enc_first, enc_end;
  char *head_json;
  size_t head_len;
  struct aspd_dataset_chunk *chunks;
  size_t chunk_count, chunk_cap;
} aspd_dataset_t;

typedef struct aspd_memstore_snapshot aspd_memstore_snapshot_t;

aspd_memstore_t *aspd_memstore_new(void);
void aspd_memstore_free(aspd_memstore_t *store);

/* Finds or creates the dataset. */
aspd_dataset_t *aspd_memstore_dataset(aspd_memstore_t *store, const char *connection,
                                      const char *db, const char *name);

/* Appends a copy of doc. */
void aspd_dataset_append(aspd_dataset_t *set, const bson_t *doc);

/* The document at an absolute offset, or NULL when it is gone or not yet written. */
const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset);
int64_t aspd_dataset_end_offset(const aspd_dataset_t *set);
/* Replaces the document at an existing offset with a copy of doc ($merge). */
void aspd_dataset_replace(aspd_dataset_t *set, int64_t offset, const bson_t *doc);

/* Persistence in two steps, so that the engine lock is held only for the cheap
 * one. Under the lock: the datasets that changed (since the last snapshot
 * for_write), with pointers to the documents their encoding lacks, not copies;
 * NULL when none changed and !force. The pointers stay valid until documents
 * are next appended, so the thread that appends (the engine thread) encodes
 * the snapshot first. */
aspd_memstore_snapshot_t *aspd_memstore_snapshot(aspd_memstore_t *store, bool force,
                                                 bool for_write);
/* Without the lock: brings the snapshot's datasets' encodings up to date and,
 * when pieces is not NULL, sets *pieces to the whole state file, every dataset
 * as of the snapshot, {collections:[{connection, db, coll, docs}],
 * topics:[{connection, topic, firstOffset, docs}]}. The pieces belong to the
 * snapshot. False when a document could not be encoded. */
bool aspd_memstore_encode(aspd_memstore_snapshot_t *snap, const struct iovec **pieces,
                          size_t *count);
void aspd_memstore_snapshot_free(aspd_memstore_snapshot_t *snap);

bool aspd_memstore_from_bson(aspd_memstore_t *store, const bson_t *in, aspd_error_t *err);

#endif
