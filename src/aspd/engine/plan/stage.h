/* The stage table: one row per stage {name, where allowed, planner check,
 * operator constructor}. The planner walks a pipeline against it (placement
 * rules and their texts in planner.c); a row's check compiles the stage's
 * spec once, its make builds an operator instance (engine/ops/op.h) from that
 * spec for each run (and for each open window). Adding a stage is one row in
 * stages.c plus its check/make/free functions. */
#ifndef ASPD_STAGE_H
#define ASPD_STAGE_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"
#include "engine/expr/expr.h"
#include "engine/ops/op.h"
#include "registry/connections.h"

/* Where a stage may appear. */
#define ASPD_IN_MAIN 1u   /* the main pipeline, between $source and the sink */
#define ASPD_IN_WINDOW 2u /* a window's inner pipeline */
#define ASPD_AS_SOURCE 4u /* first stage */
#define ASPD_AS_SINK 8u   /* last stage */

typedef struct aspd_plan aspd_plan_t;

/* What a check sees besides the stage's own spec. */
typedef struct {
  const aspd_registry_t *registry;
  aspd_plan_t *plan;        /* the plan being built (source, sink, flags) */
  aspd_expr_compiler_t *cc; /* the pipeline's variable scope */
  const char *name;         /* the stage name as written ($set, $addFields...) */
  bool in_window;
  /* Inside a $lookup's pipeline: the connection and database of its collection,
   * where a nested $lookup's `from: "<coll>"` is (NULL elsewhere). */
  const char *lookup_connection, *lookup_db;
} aspd_stage_ctx_t;

typedef struct {
  const char *name;
  unsigned where;
  const char *operator_name; /* as the real worker names it in operatorStats */
  /* Checks value (the stage's spec) and compiles it; NULL with err. NULL check:
   * a stage the real service has but aspd does not run. */
  void *(*check)(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err);
  /* An operator instance over the compiled spec; NULL for the source and the
   * sinks, which the runtime drives. */
  aspd_op_t *(*make)(const void *spec);
  void (*free_spec)(void *spec);
} aspd_stage_t;

/* A stage as planned: its row and compiled spec. */
typedef struct {
  const aspd_stage_t *row;
  void *spec;
} aspd_planned_stage_t;

/* The row of a stage name, or NULL. */
const aspd_stage_t *aspd_stage_find(const char *name);

/* Plans the stages of an inner pipeline (an array) for a window. */
bool aspd_plan_inner(const bson_value_t *pipeline, aspd_stage_ctx_t *ctx,
                     aspd_planned_stage_t **stages, size_t *count, aspd_error_t *err);
void aspd_planned_stages_free(aspd_planned_stage_t *stages, size_t count);
/* Operator instances for planned stages. */
void aspd_pipeline_make(const aspd_planned_stage_t *stages, size_t count, aspd_pipeline_t *out);

/* The sub-document of a spec value (an empty one when it is not a document). */
void aspd_spec_doc(const bson_iter_t *value, bson_t *out);

#endif
