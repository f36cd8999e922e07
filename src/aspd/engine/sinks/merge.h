/* $merge into an in-memory collection: documents are matched on the `on`
 * fields (default _id) and then merged, replaced, kept, deleted or run through
 * a pipeline (with $$new and the `let` variables bound from the incoming
 * document), inserted or discarded; either mode may be an expression that
 * each document resolves to a mode name. The target's db and coll
 * expressions are the plan's (they are resolved by the runner). */
#ifndef ASPD_MERGE_H
#define ASPD_MERGE_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/expr/expr.h"
#include "engine/plan/stage.h"
#include "engine/sinks/memstore.h"

#define ASPD_MERGE_MAX_ON 16
/* $merge.parallelism's range is 1 to this (Atlas's documented limit). */
#define ASPD_MERGE_MAX_PARALLELISM 16

typedef enum {
  ASPD_MERGE_MERGE,
  ASPD_MERGE_REPLACE,
  ASPD_MERGE_KEEP,
  ASPD_MERGE_DELETE,
  ASPD_MERGE_PIPELINE
} aspd_when_matched_t;

typedef struct {
  char **on; /* field names (dotted allowed) */
  size_t on_count;
  aspd_when_matched_t when_matched;
  aspd_planned_stage_t *stages; /* whenMatched pipeline */
  size_t stage_count;
  int new_slot;                         /* the slot of $$new in the pipeline's expressions */
  aspd_expr_t *let[ASPD_EXPR_MAX_VARS]; /* `let`: evaluated on the incoming document */
  int let_slots[ASPD_EXPR_MAX_VARS];
  size_t let_count;
  bool insert; /* whenNotMatched: insert, else discard */
  /* whenMatched / whenNotMatched given as expressions (NULL: the modes above). */
  aspd_expr_t *when_matched_expr, *when_not_matched_expr;
} aspd_merge_spec_t;

void aspd_merge_spec_free(aspd_merge_spec_t *m);

/* Inserts doc into set as a collection insert does (the server's ObjectId first
 * as _id when doc has none) and records the insert's change event. */
void aspd_merge_insert(aspd_memstore_t *store, aspd_dataset_t *set, const bson_t *doc);

/* Writes doc; false with reason (the document is dead-lettered). *written is
 * false when whenNotMatched discarded it or whenMatched kept the existing one. */
bool aspd_merge_write(aspd_memstore_t *store, const char *connection, const char *db,
                      const char *coll, const aspd_merge_spec_t *m, const bson_t *doc,
                      aspd_eval_t *ev, char *reason, size_t reason_len, bool *written);

#endif
