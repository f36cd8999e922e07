/* The change log of a Cluster connection: what change-stream sources read.
 * Writes to its collections ($merge, $emit, dead letters) are recorded as
 * events {op, db, coll, key, wall, before?, after?} in a dataset of the
 * connection named "$changes" (kept and committed like a topic partition, so
 * an event and the write it describes commit together; offsets are resume
 * tokens). A connection has a log once a change stream has read it. */
#ifndef ASPD_CHANGES_H
#define ASPD_CHANGES_H

#include <bson/bson.h>

#include "engine/sinks/memstore.h"

#define ASPD_CHANGES_NAME "$changes"

typedef enum {
  ASPD_CHANGE_INSERT,
  ASPD_CHANGE_UPDATE,
  ASPD_CHANGE_REPLACE,
  ASPD_CHANGE_DELETE
} aspd_change_op_t;

/* The log of a connection, created when missing. */
aspd_dataset_t *aspd_changes_log(aspd_memstore_t *m, const char *connection);

/* The log of set's connection when a change stream has made one (NULL otherwise). */
aspd_dataset_t *aspd_changes_log_of(aspd_memstore_t *m, const aspd_dataset_t *set);

/* The event for a change of a document of `set` (owned by the caller). */
bson_t *aspd_change_event(const aspd_dataset_t *set, aspd_change_op_t op, const bson_t *before,
                          const bson_t *after);

/* Records a change of a document of `set` (a collection) when its connection has a
 * log: before is the document as it was (update, replace, delete), after as it is
 * (insert, update, replace). */
void aspd_changes_record(aspd_memstore_t *m, const aspd_dataset_t *set, aspd_change_op_t op,
                         const bson_t *before, const bson_t *after);

/* The names of ops as change events call them. */
extern const char *const aspd_change_op_names[4];

#endif
