/* $merge into an in-memory collection: documents are matched on the `on`
 * fields (default _id) and then merged, replaced, kept, run through a
 * pipeline (with $$new bound to the incoming document), inserted or
 * discarded; db and coll may be expressions evaluated per document. */
#ifndef ASPD_MERGE_H
#define ASPD_MERGE_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/expr/expr.h"
#include "engine/plan/stage.h"
#include "engine/sinks/memstore.h"

#define ASPD_MERGE_MAX_ON 16

typedef enum {
  ASPD_MERGE_MERGE,
  ASPD_MERGE_REPLACE,
  ASPD_MERGE_KEEP,
  ASPD_MERGE_PIPELINE
} aspd_when_matched_t;

typedef struct {
  char **on; /* field names (dotted allowed) */
  size_t on_count;
  aspd_when_matched_t when_matched;
  aspd_planned_stage_t *stages; /* whenMatched pipeline */
  size_t stage_count;
  int new_slot;           /* the slot of $$new in the pipeline's expressions */
  bool insert;            /* whenNotMatched: insert, else discard */
  aspd_expr_t *db, *coll; /* into.db / into.coll when they are expressions */
} aspd_merge_spec_t;

void aspd_merge_spec_free(aspd_merge_spec_t *m);

/* Writes doc; false with reason (the document is dead-lettered). *written is
 * false when whenNotMatched discarded it or whenMatched kept the existing one. */
bool aspd_merge_write(aspd_memstore_t *store, const char *connection, const char *db,
                      const char *coll, const aspd_merge_spec_t *m, const bson_t *doc,
                      aspd_eval_t *ev, char *reason, size_t reason_len, bool *written);

#endif
