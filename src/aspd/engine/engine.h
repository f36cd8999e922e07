/* The stream engine: processors with their state machine, running on an engine
 * thread, feeding sinks and sample taps, persisted in the state directory.
 * Every function is thread-safe (one engine lock). Functions returning bool
 * fill err on failure. */
#ifndef ASPD_ENGINE_H
#define ASPD_ENGINE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"
#include "registry/connections.h"
#include "store/store.h"

typedef struct aspd_engine aspd_engine_t;

/* Start options after the command layer has gathered them from wherever the
 * client put them (top level or options, failover in or out). */
typedef struct {
  bool clear_checkpoints;
  const char *tier; /* NULL = keep */
  int32_t workers;  /* 0 = unset */
} aspd_start_options_t;

typedef struct {
  const char *new_name;        /* NULL = keep */
  const bson_t *pipeline;      /* NULL = keep */
  const bson_t *dlq;           /* NULL = keep; empty = remove */
  bool resume_from_checkpoint; /* default true */
  const char *tier;            /* NULL = keep */
} aspd_modify_t;

/* Loads processors and sink contents from the store (the first time, from the
 * JSON state files of earlier versions in state_dir), starts the engine thread
 * and resumes STARTED processors. The store and the registry must outlive the
 * engine. Each collection and topic keeps at most sink_max_docs documents (0:
 * ASPD_MEMSTORE_RETAIN_DEFAULT). */
aspd_engine_t *aspd_engine_open(const char *state_dir, aspd_store_t *store,
                                const aspd_registry_t *reg, size_t sink_max_docs, char *err,
                                size_t err_len);
/* Stops the thread, writes counters and sink contents, frees everything. */
void aspd_engine_close(aspd_engine_t *engine);

bool aspd_engine_create(aspd_engine_t *e, const char *name, const bson_t *pipeline,
                        const bson_t *options, aspd_error_t *err);
bool aspd_engine_start(aspd_engine_t *e, const char *name, const aspd_start_options_t *opts,
                       aspd_error_t *err);
bool aspd_engine_stop(aspd_engine_t *e, const char *name, aspd_error_t *err);
bool aspd_engine_drop(aspd_engine_t *e, const char *name, aspd_error_t *err);
bool aspd_engine_modify(aspd_engine_t *e, const char *name, const aspd_modify_t *m,
                        aspd_error_t *err);

/* Appends the processor document (getStreamProcessor's `result`) to out. */
bool aspd_engine_describe(aspd_engine_t *e, const char *name, bson_t *out, aspd_error_t *err);
/* Appends ns, name, state, pipeline, stats{...} to reply. scale >= 1. */
bool aspd_engine_stats(aspd_engine_t *e, const char *name, bool verbose, int64_t scale,
                       bson_t *reply, aspd_error_t *err);
/* Appends every processor matching filter (NULL = all) to the open array out. */
bool aspd_engine_list(aspd_engine_t *e, const bson_t *filter, bson_t *out, aspd_error_t *err);

/* Plans, creates and starts an ephemeral processor with a sample cursor on it. */
bool aspd_engine_process(aspd_engine_t *e, const bson_t *pipeline, const bson_t *options,
                         char *name_out, size_t name_len, int64_t *cursor_id, aspd_error_t *err);

/* limit < 0 = no limit. */
bool aspd_engine_sample_start(aspd_engine_t *e, const char *name, int64_t limit, int64_t *cursor_id,
                              aspd_error_t *err);
/* Moves up to batch_size buffered documents into the open array messages;
 * *next is the cursor id to use next time, 0 when the cursor is exhausted. */
bool aspd_engine_sample_more(aspd_engine_t *e, const char *name, int64_t cursor_id,
                             int32_t batch_size, bson_t *messages, int64_t *next,
                             aspd_error_t *err);

/* registry_edit.c: runs edit(arg, err) under the engine lock, the one way to change the
 * registry while processors run. With `connection` set it first refuses, with
 * ASPD_API_E_CONNECTION_IN_USE, when a STARTED processor names that connection. */
#define ASPD_API_E_CONNECTION_IN_USE 403, "STREAM_CONNECTION_HAS_STREAM_PROCESSORS"
typedef bool (*aspd_registry_edit_fn)(void *arg, aspd_error_t *err);
bool aspd_engine_edit_registry(aspd_engine_t *e, const char *connection, aspd_registry_edit_fn edit,
                               void *arg, aspd_error_t *err);

/* ---- collections (collections.c): the ordinary MongoDB commands ---- */

typedef struct {
  bson_t **docs;
  size_t count;
} aspd_docs_t;

/* Copies of the documents of db.coll (in every Cluster connection) that match
 * filter (NULL: all), in the order they were written, after skip, at most
 * limit (0: no limit). */
bool aspd_engine_find(aspd_engine_t *e, const char *db, const char *coll, const bson_t *filter,
                      int64_t skip, int64_t limit, aspd_docs_t *out, aspd_error_t *err);
void aspd_docs_free(aspd_docs_t *docs);

/* Appends copies of docs to db.coll (created in `connection` when no Cluster
 * connection has it yet); returns once the store committed them. */
bool aspd_engine_insert(aspd_engine_t *e, const char *connection, const char *db, const char *coll,
                        const bson_t *const *docs, size_t count, aspd_error_t *err);

/* Appends the names (strings) to the open array: databases (db NULL) or db's collections. */
void aspd_engine_list_names(aspd_engine_t *e, const char *db, bson_t *names);

/* What an edit makes of one matching document: REPLACE a whole new document, UPDATE
 * the same changed by update operators (stored alike; change streams tell them apart). */
typedef enum {
  ASPD_EDIT_KEEP,
  ASPD_EDIT_REPLACE,
  ASPD_EDIT_UPDATE,
  ASPD_EDIT_DELETE,
  ASPD_EDIT_FAIL
} aspd_edit_t;
/* Called under the engine lock (it must not call the engine): fills the initialised
 * `replacement` for ASPD_EDIT_REPLACE, err for ASPD_EDIT_FAIL. */
typedef aspd_edit_t (*aspd_edit_fn)(void *ctx, const bson_t *doc, bson_t *replacement,
                                    aspd_error_t *err);

/* Calls edit on the documents of db.coll that match filter (NULL: all), in the order
 * they were written, on at most limit of them (0: no limit), and applies what it says;
 * returns once the store committed the changes. *matched counts the documents edit
 * saw, *changed those it replaced or deleted. An edit that fails stops there (err is
 * its error); the changes before it stay, as in MongoDB without a transaction. */
bool aspd_engine_edit(aspd_engine_t *e, const char *db, const char *coll, const bson_t *filter,
                      int64_t limit, aspd_edit_fn edit, void *ctx, int64_t *matched,
                      int64_t *changed, aspd_error_t *err);

/* batch.c: runs pipeline (an array of stages: the engine's, including $group, $sort,
 * $limit and $count, plus $skip) once over docs (taken) and puts the results in docs.
 * Stream stages ($source, $merge, $emit, windows) are refused. $lookup reads the
 * collections of `reads` (aggregate's engine; NULL where no stage may read them), and
 * `from: "<coll>"` is a collection of db there, as in MongoDB. */
bool aspd_engine_run_batch(const aspd_registry_t *reg, aspd_engine_t *reads, const char *db,
                           const bson_t *pipeline, aspd_docs_t *docs, aspd_error_t *err);

/* Drops db.coll: its documents go, in memory and in the store, and it is no longer
 * listed; *existed says whether there was one. Returns once committed. */
bool aspd_engine_drop_collection(aspd_engine_t *e, const char *db, const char *coll, bool *existed,
                                 aspd_error_t *err);
/* topics.c (aspd extension): up to limit messages of a topic of a Kafka connection,
 * from `offset` (< 0: the oldest kept) of partition `partition` (< 0: of each
 * partition). Appends partitions: [{partition, firstOffset, endOffset}] and
 * messages: [{partition, offset, key?, headers?, value}] to reply. */
bool aspd_engine_read_topic(aspd_engine_t *e, const char *connection, const char *topic,
                            int32_t partition, int64_t offset, int64_t limit, bson_t *reply,
                            aspd_error_t *err);

#endif
