/* A planned pipeline: its source, its stages (compiled once), its sink and
 * DLQ, checked with the real planner's placement rules and texts. */
#ifndef ASPD_PLAN_H
#define ASPD_PLAN_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"
#include "engine/expr/expr.h"
#include "engine/plan/stage.h"
#include "engine/sinks/emit.h"
#include "engine/sinks/merge.h"
#include "engine/sources/source.h"
#include "registry/connections.h"

typedef enum {
  ASPD_SINK_NONE, /* ephemeral processors without a sink: output goes to the sample tap */
  ASPD_SINK_LOG,
  ASPD_SINK_COLLECTION,
  ASPD_SINK_TOPIC
} aspd_sink_kind_t;

struct aspd_plan {
  aspd_source_spec_t source;           /* $source: its kind's row and what it reads */
  char *ts_field;                      /* source timestamp field, "_ts" by default */
  aspd_expr_t *time_field;             /* $source.timeField, or NULL (ingestion time) */
  char *meta_field;                    /* stream metadata field, NULL when disabled */
  size_t ts_field_len, meta_field_len; /* their lengths (0 for none) */
  aspd_expr_compiler_t cc;             /* the scope every expression of the pipeline shares */
  aspd_planned_stage_t *stages;        /* between the source and the sink */
  size_t stage_count;
  bool has_window;
  bool needs_flush;        /* an operator hands documents on later ($https): flush every turn */
  bool validate_needs_dlq; /* a $validate with validationAction dlq */
  aspd_sink_kind_t sink;
  char *sink_connection, *sink_db, *sink_name; /* collection (db, coll) or topic (name) */
  /* The sink's db and coll (or topic) when they are expressions evaluated per document
   * (sink_db / sink_name are NULL then). */
  aspd_expr_t *sink_db_expr, *sink_name_expr;
  aspd_merge_spec_t *merge;                 /* $merge's matching rules, NULL for $emit */
  aspd_emit_spec_t *emit;                   /* $emit to a topic: key, headers, partitions */
  char *dlq_connection, *dlq_db, *dlq_coll; /* options.dlq, or NULL */
};

/* Plans `pipeline` (a BSON array). `options` is the processor's options document
 * (may be NULL); ephemeral pipelines may omit the sink. NULL with err on failure. */
aspd_plan_t *aspd_plan_build(const aspd_registry_t *reg, const bson_t *pipeline,
                             const bson_t *options, bool ephemeral, aspd_error_t *err);
void aspd_plan_free(aspd_plan_t *plan);

/* _stream_meta.source.type of the plan's source ("generated", "kafka"...). */
const char *aspd_plan_source_type(const aspd_plan_t *plan);

/* The worker's operator name of stage i, 0 = source, stage_count + 1 = sink. */
const char *aspd_plan_operator_name(const aspd_plan_t *plan, size_t i);
size_t aspd_plan_operator_count(const aspd_plan_t *plan);

#endif
