/* The state store: one SQLite database (WAL) in the state directory, the one
 * place aspd's state is written and read back. Opening it takes the
 * directory's exclusive lock. Documents are stored as BSON blobs, so whatever
 * libbson can hold loads back as it was written.
 *
 * Two connections: one for records (processors, and whatever else is keyed by
 * kind and name), used by command threads, and one for sink contents, used by
 * the thread that flushes them; each is guarded by its own mutex. A write is a
 * transaction: it is durable when the call returns true, and has changed
 * nothing when it returns false. Error texts never name server paths. */
#ifndef ASPD_STORE_H
#define ASPD_STORE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct aspd_store aspd_store_t;

/* Creates dir if needed and makes it 0700, takes its lock (a second aspd gets
 * "... in use by aspd (pid N)"), opens or creates the database. */
aspd_store_t *aspd_store_open(const char *dir, char *err, size_t err_len);
/* Closes the store, or frees a scoped view (the root outlives its views). */
void aspd_store_close(aspd_store_t *s);

/* A view of root for one scope (a workspace created over the Admin API): the same
 * database, lock and transactions, with its own records, imported flags and datasets
 * (kinds and connection names carry the prefix "SCOPE/"; scope has no '/'). */
aspd_store_t *aspd_store_scope(aspd_store_t *root, const char *scope);
/* Deletes everything of a scoped view's scope in one transaction. */
bool aspd_store_drop_scope(aspd_store_t *s, char *err, size_t err_len);

/* False until aspd_store_mark_imported(what): the state directory may still
 * hold that part of the state (what: "engine", "users") in the JSON files of
 * earlier versions. */
bool aspd_store_imported(aspd_store_t *s, const char *what);
bool aspd_store_mark_imported(aspd_store_t *s, const char *what, char *err, size_t err_len);

/* ---- records: (kind, name) -> document; names are unique per kind ---- */

/* Inserts or replaces the record `name`; with old_name (and old_name != name)
 * renames that record instead, keeping its place in the order. */
bool aspd_store_put(aspd_store_t *s, const char *kind, const char *old_name, const char *name,
                    const bson_t *doc, char *err, size_t err_len);
bool aspd_store_delete(aspd_store_t *s, const char *kind, const char *name, char *err,
                       size_t err_len);
/* Puts several records in one transaction. */
bool aspd_store_put_all(aspd_store_t *s, const char *kind, const char *const *names,
                        const bson_t *const *docs, size_t count, char *err, size_t err_len);

typedef bool (*aspd_store_record_fn)(void *ctx, const char *name, const bson_t *doc, char *err,
                                     size_t err_len);
/* The record (kind, name) as a new document in *out, or *out = NULL when there is
 * none; false when it cannot be read or is not BSON. */
bool aspd_store_get(aspd_store_t *s, const char *kind, const char *name, bson_t **out, char *err,
                    size_t err_len);

/* Calls fn for each record of kind, in the order they were first put. */
bool aspd_store_each(aspd_store_t *s, const char *kind, aspd_store_record_fn fn, void *ctx,
                     char *err, size_t err_len);

/* ---- datasets: collections (db != NULL) and topics, documents by offset ---- */

/* What changed in one dataset: it now begins at first_offset, the documents at
 * offsets [from, end) are new, and so are those at the offsets replaced_at (below
 * from); or (dropped) it is gone with its documents. */
typedef struct {
  const char *connection, *db, *name;
  int32_t partition; /* topics (db NULL) */
  int64_t first_offset, from, end;
  const bson_t *const *docs; /* end - from of them */
  bool dropped;
  const int64_t *replaced_at;
  const bson_t *const *replaced;
  size_t replaced_count;
} aspd_store_delta_t;

/* Applies the deltas in one transaction (documents before first_offset and from end
 * on go). */
bool aspd_store_write_datasets(aspd_store_t *s, const aspd_store_delta_t *deltas, size_t count,
                               char *err, size_t err_len);

/* A source checkpoint committed with the sink contents it led to. */
typedef struct {
  const char *id; /* the processor's */
  const bson_t *doc;
} aspd_store_checkpoint_t;

/* Applies the deltas and puts the checkpoints (replacing those of the same ids) in
 * one transaction. */
bool aspd_store_write_batch(aspd_store_t *s, const aspd_store_delta_t *deltas, size_t count,
                            const aspd_store_checkpoint_t *checkpoints, size_t checkpoint_count,
                            char *err, size_t err_len);
/* Calls fn(ctx, id, doc) for each checkpoint. */
bool aspd_store_each_checkpoint(aspd_store_t *s, aspd_store_record_fn fn, void *ctx, char *err,
                                size_t err_len);

typedef struct {
  /* A dataset begins; its documents follow, in offset order. */
  bool (*dataset)(void *ctx, const char *connection, const char *db, const char *name,
                  int32_t partition, int64_t first_offset);
  bool (*doc)(void *ctx, int64_t offset, const bson_t *doc);
} aspd_store_dataset_visitor_t;

bool aspd_store_each_dataset(aspd_store_t *s, const aspd_store_dataset_visitor_t *v, void *ctx,
                             char *err, size_t err_len);

#endif
