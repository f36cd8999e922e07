/* The planner: walks a pipeline against the stage table with the real
 * planner's placement rules and texts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/plan/plan_internal.h"

#define DEFAULT_META_FIELD "_stream_meta"

void *aspd_plan_invalid(aspd_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  err->code = 420;
  err->code_name = "StreamProcessorInvalidOptions";
  return NULL;
}

void *aspd_plan_missing_connection(aspd_error_t *err, const char *name) {
  return aspd_plan_invalid(err,
                           "connection named %s does not exist. Check sp.listConnections() for "
                           "available connections",
                           name);
}

const char *aspd_plan_utf8(const bson_t *spec, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, spec, key) && BSON_ITER_HOLDS_UTF8(&it)) {
    return bson_iter_utf8(&it, NULL);
  }
  return NULL;
}

static bool plan_dlq(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *options,
                     aspd_error_t *err) {
  bson_iter_t it;
  if (!options || !bson_iter_init_find(&it, options, "dlq") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    return true;
  }
  bson_t dlq;
  aspd_spec_doc(&it, &dlq);
  if (bson_empty(&dlq)) return true;
  const char *name = aspd_plan_utf8(&dlq, "connectionName");
  if (!name) return aspd_plan_invalid(err, "%s", "dlq must contain 'connectionName'");
  const aspd_connection_t *conn = aspd_registry_find(reg, name);
  if (!conn) return aspd_plan_missing_connection(err, name);
  if (conn->kind != ASPD_CONN_CLUSTER) {
    return aspd_plan_invalid(err, "%s", "DLQ must be an Atlas collection");
  }
  const char *db = aspd_plan_utf8(&dlq, "db"), *coll = aspd_plan_utf8(&dlq, "coll");
  if (!db || !coll) return aspd_plan_invalid(err, "%s", "dlq must contain string 'db' and 'coll'");
  plan->dlq_connection = strdup(name);
  plan->dlq_db = strdup(db);
  plan->dlq_coll = strdup(coll);
  return true;
}

/* One stage of the main pipeline at position `index`. */
static bool plan_stage(aspd_stage_ctx_t *ctx, size_t index, bson_iter_t *it, bool *sink_seen,
                       aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "Each element of the 'pipeline' array must be an object");
    return false;
  }
  const char *name;
  bson_iter_t value;
  if (!aspd_stage_parts(it, &name, &value, err)) return false;
  if (*sink_seen) {
    return aspd_plan_invalid(err, "%s", "No stages are allowed after a $merge or $emit stage.");
  }
  const aspd_stage_t *row = aspd_stage_find(name);
  if (!row) {
    /* Before any placement rule: [{$unknownStage: {}}] is code 9 (C driver errors.json). */
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", name);
    return false;
  }
  if (index == 0 && !(row->where & ASPD_AS_SOURCE)) {
    return aspd_plan_invalid(err, "First stage must be $source, found: %s", name);
  }
  if (index > 0 && (row->where & ASPD_AS_SOURCE)) {
    return aspd_plan_invalid(err, "%s", "$source is only allowed as the first stage");
  }
  ctx->name = row->name;
  if (row->where & (ASPD_AS_SOURCE | ASPD_AS_SINK)) {
    *sink_seen = (row->where & ASPD_AS_SINK) != 0;
    return row->check(&value, ctx, err) != NULL;
  }
  if (!(row->where & ASPD_IN_MAIN)) {
    return aspd_plan_invalid(
        err, "%s stage is only permitted in the inner pipeline of a window stage", name);
  }
  return aspd_plan_add_stage(row, &value, ctx, &ctx->plan->stages, &ctx->plan->stage_count, err);
}

static bool plan_stages(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *pipeline,
                        bool ephemeral, aspd_error_t *err) {
  aspd_stage_ctx_t ctx = {reg, plan, &plan->cc, NULL, false, NULL, NULL};
  bson_iter_t it;
  bson_iter_init(&it, pipeline);
  size_t index = 0;
  bool sink_seen = false;
  while (bson_iter_next(&it)) {
    if (!plan_stage(&ctx, index++, &it, &sink_seen, err)) return false;
  }
  if (index == 0) return aspd_plan_invalid(err, "%s", "Pipeline must have at least one stage");
  if (!sink_seen && !ephemeral) {
    return aspd_plan_invalid(err, "%s", "The last stage in the pipeline must be $merge or $emit.");
  }
  return true;
}

aspd_plan_t *aspd_plan_build(const aspd_registry_t *reg, const bson_t *pipeline,
                             const bson_t *options, bool ephemeral, aspd_error_t *err) {
  aspd_plan_t *plan = calloc(1, sizeof *plan);
  plan->sink = ASPD_SINK_NONE;
  aspd_expr_compiler_init(&plan->cc);
  /* Windows stamp their bounds into the metadata field: known before the stages. */
  const char *meta = options ? aspd_plan_utf8(options, "streamMetaFieldName") : NULL;
  if (!meta) meta = DEFAULT_META_FIELD;
  plan->meta_field = *meta ? strdup(meta) : NULL;
  bool ok = plan_stages(plan, reg, pipeline, ephemeral, err) && plan_dlq(plan, reg, options, err);
  if (ok && plan->validate_needs_dlq && !plan->dlq_connection) {
    ok = aspd_plan_invalid(err, "%s", "DLQ must be specified if validation action is dlq.");
  }
  if (ok) {
    plan->ts_field_len = plan->ts_field ? strlen(plan->ts_field) : 0;
    plan->meta_field_len = plan->meta_field ? strlen(plan->meta_field) : 0;
  }
  if (!ok) {
    aspd_plan_free(plan);
    return NULL;
  }
  return plan;
}

void aspd_plan_free(aspd_plan_t *plan) {
  if (!plan) return;
  aspd_source_spec_free(&plan->source);
  aspd_expr_free(plan->time_field);
  aspd_planned_stages_free(plan->stages, plan->stage_count);
  free(plan->ts_field);
  free(plan->meta_field);
  aspd_merge_spec_free(plan->merge);
  aspd_emit_spec_free(plan->emit);
  free(plan->sink_connection);
  free(plan->sink_db);
  free(plan->sink_name);
  aspd_expr_free(plan->sink_db_expr);
  aspd_expr_free(plan->sink_name_expr);
  free(plan->dlq_connection);
  free(plan->dlq_db);
  free(plan->dlq_coll);
  free(plan);
}

const char *aspd_plan_source_type(const aspd_plan_t *plan) {
  return plan->source.row->meta_type;
}

size_t aspd_plan_operator_count(const aspd_plan_t *plan) {
  return plan->stage_count + 2;
}

const char *aspd_plan_operator_name(const aspd_plan_t *plan, size_t i) {
  if (i == 0) return plan->source.row->operator_name;
  if (i <= plan->stage_count) return plan->stages[i - 1].row->operator_name;
  switch (plan->sink) {
    case ASPD_SINK_LOG:
      return "LogSinkOperator";
    case ASPD_SINK_COLLECTION:
      return "MergeOperator";
    case ASPD_SINK_TOPIC:
      return "KafkaEmitOperator";
    default:
      return "NoOpSinkOperator";
  }
}
