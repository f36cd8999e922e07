#include "engine/planner.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/expr.h"
#include "engine/match.h"
#include "engine/transform.h"

#define DEFAULT_TS_FIELD "_ts"
#define DEFAULT_META_FIELD "_stream_meta"

/* Stages the real service knows in the main pipeline but aspd does not run yet. */
static const char *const known_unimplemented[] = {
    "$redact",       "$https",         "$externalFunction", "$lookup",   "$sessionWindow",
    "$cachedLookup", "$setStreamMeta", "$function",         "$throttle", "$vectorSearch"};

/* Stages only allowed inside a window's inner pipeline. */
static const char *const window_only[] = {"$group", "$sort", "$count", "$limit"};

static bool in_list(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(name, list[i])) return true;
  }
  return false;
}

#define IN_LIST(name, list) in_list(name, list, sizeof list / sizeof list[0])

static bool is_known_stage(const char *stage) {
  static const char *const runnable[] = {
      "$source",         "$merge",         "$emit",     "$match",       "$unset",
      "$addFields",      "$set",           "$project",  "$replaceRoot", "$replaceWith",
      "$tumblingWindow", "$hoppingWindow", "$validate", "$unwind"};
  return IN_LIST(stage, runnable) || IN_LIST(stage, window_only) ||
         IN_LIST(stage, known_unimplemented);
}

static bool invalid(aspd_error_t *err, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

/* Planner errors are StreamProcessorInvalidOptions (420), as on Atlas. */
static bool invalid(aspd_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  err->code = 420;
  err->code_name = "StreamProcessorInvalidOptions";
  return false;
}

static bool missing_connection(aspd_error_t *err, const char *name) {
  return invalid(err,
                 "connection named %s does not exist. Check sp.listConnections() for available "
                 "connections",
                 name);
}

static const char *utf8_field(const bson_t *spec, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, spec, key) && BSON_ITER_HOLDS_UTF8(&it)) {
    return bson_iter_utf8(&it, NULL);
  }
  return NULL;
}

static bool has_field(const bson_t *spec, const char *key) {
  bson_iter_t it;
  return bson_iter_init_find(&it, spec, key);
}

static char *spec_json(const bson_t *spec) {
  return bson_as_relaxed_extended_json(spec, NULL);
}

static bool plan_documents_source(aspd_plan_t *plan, bson_iter_t *docs, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_ARRAY(docs)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "The documents list expression does not evaluate to an array.");
    return false;
  }
  bson_iter_t each;
  bson_iter_recurse(docs, &each);
  while (bson_iter_next(&each)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&each)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "The documents list expression does not evaluate to an array of objects.");
      return false;
    }
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_array(docs, &len, &data);
  plan->source = ASPD_SOURCE_DOCUMENTS;
  plan->documents = bson_new_from_data(data, len);
  bson_iter_t each_copy;
  bson_iter_init(&each_copy, plan->documents);
  while (bson_iter_next(&each_copy)) plan->document_count++;
  size_t n = plan->document_count ? plan->document_count : 1;
  plan->document_data = calloc(n, sizeof *plan->document_data);
  plan->document_len = calloc(n, sizeof *plan->document_len);
  bson_iter_init(&each_copy, plan->documents);
  for (size_t i = 0; bson_iter_next(&each_copy); i++) {
    bson_iter_document(&each_copy, &plan->document_len[i], &plan->document_data[i]);
  }
  return true;
}

static bool plan_source(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *spec,
                        aspd_error_t *err) {
  const char *ts = utf8_field(spec, "tsFieldName");
  if (!ts) ts = utf8_field(spec, "tsFieldOverride");
  if (ts && strchr(ts, '.')) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "'tsFieldOverride' cannot be a dotted path");
    return false;
  }
  plan->ts_field = strdup(ts ? ts : DEFAULT_TS_FIELD);
  bson_iter_t time_field;
  if (bson_iter_init_find(&time_field, spec, "timeField")) {
    if (!aspd_expr_validate(bson_iter_value(&time_field), err)) return false;
    plan->time_field = bson_new();
    bson_append_value(plan->time_field, "v", -1, bson_iter_value(&time_field));
  }

  bson_iter_t docs;
  if (bson_iter_init_find(&docs, spec, "documents")) {
    if (has_field(spec, "connectionName")) {
      return invalid(err, "%s", "$source cannot specify both 'documents' and 'connectionName'");
    }
    return plan_documents_source(plan, &docs, err);
  }
  const char *name = utf8_field(spec, "connectionName");
  if (!name) return invalid(err, "%s", "$source must contain 'connectionName' field in it");
  const aspd_connection_t *conn = aspd_registry_find(reg, name);
  if (!conn) return missing_connection(err, name);
  switch (conn->kind) {
    case ASPD_CONN_SAMPLE:
      plan->source = ASPD_SOURCE_SAMPLE;
      plan->docs_per_second = conn->docs_per_second;
      return true;
    case ASPD_CONN_KAFKA: {
      const char *topic = utf8_field(spec, "topic");
      if (!topic)
        return invalid(err, "%s", "$source.topic must be a string for aspd's in-memory topics");
      plan->source = ASPD_SOURCE_TOPIC;
      plan->source_connection = strdup(name);
      plan->source_topic = strdup(topic);
      return true;
    }
    case ASPD_CONN_CLUSTER:
      return invalid(err, "%s", "$source over a change stream is not supported by aspd yet");
    default:
      return invalid(err, "%s",
                     "Only kafka, sample_solar, and atlas source connection type is supported");
  }
}

static bool plan_merge(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *spec,
                       aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, "into") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    return invalid(err, "%s", "$merge must contain an 'into' object");
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  bson_t into;
  bson_init_static(&into, data, len);
  const char *name = utf8_field(&into, "connectionName");
  if (!name) return invalid(err, "%s", "$merge.into must contain 'connectionName'");
  const aspd_connection_t *conn = aspd_registry_find(reg, name);
  if (!conn) return missing_connection(err, name);
  if (conn->kind != ASPD_CONN_CLUSTER) {
    return invalid(err, "%s", "Only atlas merge connection type is currently supported");
  }
  const char *db = utf8_field(&into, "db"), *coll = utf8_field(&into, "coll");
  if (!db || !coll) {
    return invalid(err, "%s",
                   "$merge.into.db and $merge.into.coll must be strings: expressions are not "
                   "supported by aspd yet");
  }
  plan->sink = ASPD_SINK_COLLECTION;
  plan->sink_connection = strdup(name);
  plan->sink_db = strdup(db);
  plan->sink_name = strdup(coll);
  return true;
}

static bool plan_emit(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *spec,
                      aspd_error_t *err) {
  const char *name = utf8_field(spec, "connectionName");
  if (!name) return invalid(err, "%s", "$emit must contain 'connectionName' field in it");
  const aspd_connection_t *conn = aspd_registry_find(reg, name);
  if (!conn) return missing_connection(err, name);
  plan->sink_connection = strdup(name);
  switch (conn->kind) {
    case ASPD_CONN_TEST_LOG:
      plan->sink = ASPD_SINK_LOG;
      return true;
    case ASPD_CONN_KAFKA: {
      const char *topic = utf8_field(spec, "topic");
      if (!topic) {
        return invalid(err, "%s",
                       "$emit.topic must be a string: expressions are not supported by aspd yet");
      }
      plan->sink = ASPD_SINK_TOPIC;
      plan->sink_name = strdup(topic);
      return true;
    }
    case ASPD_CONN_CLUSTER: {
      const char *db = utf8_field(spec, "db"), *coll = utf8_field(spec, "coll");
      if (!db || !coll)
        return invalid(err, "%s", "$emit to an Atlas connection needs string 'db' and 'coll'");
      plan->sink = ASPD_SINK_COLLECTION;
      plan->sink_db = strdup(db);
      plan->sink_name = strdup(coll);
      return true;
    }
    default: {
      char *json = spec_json(spec);
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "Expected Atlas connection for $emit %s",
                     json);
      bson_free(json);
      return false;
    }
  }
}

static bool plan_unset(bson_iter_t *value, aspd_op_t *op, aspd_error_t *err) {
  op->kind = ASPD_OP_UNSET;
  op->spec = bson_new();
  bson_t fields;
  bool ok = true;
  BSON_APPEND_ARRAY_BEGIN(op->spec, "fields", &fields);
  if (BSON_ITER_HOLDS_UTF8(value)) {
    BSON_APPEND_UTF8(&fields, "0", bson_iter_utf8(value, NULL));
  } else if (BSON_ITER_HOLDS_ARRAY(value)) {
    bson_iter_t each;
    bson_iter_recurse(value, &each);
    while (ok && bson_iter_next(&each)) {
      ok = BSON_ITER_HOLDS_UTF8(&each);
      if (ok) bson_append_utf8(&fields, bson_iter_key(&each), -1, bson_iter_utf8(&each, NULL), -1);
    }
  } else {
    ok = false;
  }
  bson_append_array_end(op->spec, &fields);
  if (!ok) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "$unset specification must be a string or an array containing only string "
                   "values");
    bson_destroy(op->spec);
  }
  return ok;
}

/* $replaceRoot {newRoot: e} and $replaceWith e both become {newRoot: e}. */
static bool plan_replace_root(const char *stage, bson_iter_t *value, const bson_t *spec,
                              aspd_op_t *op, aspd_error_t *err) {
  bson_iter_t root;
  if (!strcmp(stage, "$replaceWith")) {
    root = *value;
  } else if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_init_find(&root, spec, "newRoot")) {
    aspd_error_set(err, 40231, "Location40231", "no newRoot specified for the $replaceRoot stage");
    return false;
  }
  if (!aspd_expr_validate(bson_iter_value(&root), err)) return false;
  op->kind = ASPD_OP_REPLACE_ROOT;
  op->spec = bson_new();
  bson_append_value(op->spec, "newRoot", -1, bson_iter_value(&root));
  return true;
}

/* $validate {validator, validationAction: discard | dlq}. */
static bool plan_validate(aspd_plan_t *plan, const bson_t *spec, aspd_error_t *err) {
  bson_iter_t it;
  bson_t validator = BSON_INITIALIZER;
  const uint8_t *data;
  uint32_t len;
  if (bson_iter_init_find(&it, spec, "validator")) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
      return invalid(err, "%s", "$validate.validator must be an object");
    bson_iter_document(&it, &len, &data);
    bson_init_static(&validator, data, len);
  }
  aspd_error_t parse_err = {0};
  if (!aspd_match_validate(&validator, &parse_err)) {
    char *json = bson_as_relaxed_extended_json(&validator, NULL);
    invalid(err, "failed to parse validator: %s", json);
    bson_free(json);
    return false;
  }
  const char *action = utf8_field(spec, "validationAction");
  if (action && strcmp(action, "discard") && strcmp(action, "dlq")) {
    return invalid(err, "%s", "validationAction must be discard or dlq");
  }
  aspd_op_t op = {.kind = ASPD_OP_VALIDATE, .spec = bson_new()};
  BSON_APPEND_DOCUMENT(op.spec, "validator", &validator);
  BSON_APPEND_BOOL(op.spec, "dlq", action && !strcmp(action, "dlq"));
  plan->validate_needs_dlq = plan->validate_needs_dlq || (action && !strcmp(action, "dlq"));
  plan->ops = realloc(plan->ops, (plan->op_count + 1) * sizeof *plan->ops);
  plan->ops[plan->op_count++] = op;
  return true;
}

static bool add_op(aspd_plan_t *plan, const char *stage, const bson_t *spec, bson_iter_t *value,
                   aspd_error_t *err) {
  aspd_op_t op = {0};
  bool is_doc = BSON_ITER_HOLDS_DOCUMENT(value);
  bool ok;
  if (!strcmp(stage, "$unset")) {
    ok = plan_unset(value, &op, err);
  } else if (!strcmp(stage, "$replaceRoot") || !strcmp(stage, "$replaceWith")) {
    ok = plan_replace_root(stage, value, spec, &op, err);
  } else if (!strcmp(stage, "$unwind")) {
    op.kind = ASPD_OP_UNWIND;
    op.spec = bson_new();
    ok = aspd_unwind_plan(bson_iter_value(value), op.spec, err);
    if (!ok) bson_destroy(op.spec);
  } else if (!is_doc) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", stage);
    ok = false;
  } else if (!strcmp(stage, "$tumblingWindow") || !strcmp(stage, "$hoppingWindow")) {
    if (plan->has_window)
      return invalid(err, "%s", "Only one window stage is allowed in a pipeline.");
    op.kind = ASPD_OP_WINDOW;
    op.window = aspd_window_plan(stage, spec, err);
    ok = op.window != NULL;
    plan->has_window = ok;
  } else if (!strcmp(stage, "$validate")) {
    return plan_validate(plan, spec, err);
  } else if (!strcmp(stage, "$match")) {
    ok = aspd_match_validate(spec, err);
    op.kind = ASPD_OP_MATCH;
  } else if (!strcmp(stage, "$project")) {
    ok = aspd_project_validate(spec, err);
    op.kind = ASPD_OP_PROJECT;
  } else { /* $addFields, $set */
    ok = aspd_add_fields_validate(spec, stage, err);
    op.kind = ASPD_OP_ADD_FIELDS;
  }
  if (!ok) return false;
  if (op.kind == ASPD_OP_MATCH || op.kind == ASPD_OP_PROJECT || op.kind == ASPD_OP_ADD_FIELDS) {
    op.spec = bson_copy(spec);
  }
  plan->ops = realloc(plan->ops, (plan->op_count + 1) * sizeof *plan->ops);
  plan->ops[plan->op_count++] = op;
  return true;
}

static bool plan_options(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *options,
                         aspd_error_t *err) {
  const char *meta = options ? utf8_field(options, "streamMetaFieldName") : NULL;
  if (!meta) meta = DEFAULT_META_FIELD;
  plan->meta_field = *meta ? strdup(meta) : NULL;
  bson_iter_t it;
  if (options && bson_iter_init_find(&it, options, "dlq") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t dlq;
    bson_init_static(&dlq, data, len);
    if (bson_empty(&dlq)) return true;
    const char *name = utf8_field(&dlq, "connectionName");
    if (!name) return invalid(err, "%s", "dlq must contain 'connectionName'");
    const aspd_connection_t *conn = aspd_registry_find(reg, name);
    if (!conn) return missing_connection(err, name);
    if (conn->kind != ASPD_CONN_CLUSTER)
      return invalid(err, "%s", "DLQ must be an Atlas collection");
    const char *db = utf8_field(&dlq, "db"), *coll = utf8_field(&dlq, "coll");
    if (!db || !coll) return invalid(err, "%s", "dlq must contain string 'db' and 'coll'");
    plan->dlq_connection = strdup(name);
    plan->dlq_db = strdup(db);
    plan->dlq_coll = strdup(coll);
  }
  return true;
}

/* Reads stage i: its single key and its spec. Fails on a non-object or a count != 1. */
static bool stage_parts(bson_iter_t *stage_it, const char **name, bson_iter_t *value, bson_t *spec,
                        aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(stage_it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "Each element of the 'pipeline' array must be an object");
    return false;
  }
  bson_iter_t fields;
  bson_iter_recurse(stage_it, &fields);
  int count = 0;
  while (bson_iter_next(&fields)) {
    if (count++ == 0) {
      *value = fields;
      *name = bson_iter_key(&fields);
    }
  }
  if (count != 1) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "A pipeline stage specification object must contain exactly one field.");
    return false;
  }
  if (BSON_ITER_HOLDS_DOCUMENT(value)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(value, &len, &data);
    bson_init_static(spec, data, len);
  } else {
    bson_init(spec);
  }
  return true;
}

static bool plan_stages(aspd_plan_t *plan, const aspd_registry_t *reg, const bson_t *pipeline,
                        bool ephemeral, aspd_error_t *err) {
  bson_iter_t it;
  bson_iter_init(&it, pipeline);
  size_t index = 0;
  bool sink_seen = false;
  while (bson_iter_next(&it)) {
    const char *stage = NULL;
    bson_iter_t value;
    bson_t spec;
    if (!stage_parts(&it, &stage, &value, &spec, err)) return false;
    if (sink_seen)
      return invalid(err, "%s", "No stages are allowed after a $merge or $emit stage.");
    bool ok;
    if (!is_known_stage(stage)) {
      /* Before any placement rule: [{$unknownStage: {}}] is code 9 (C driver errors.json). */
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", stage);
      ok = false;
    } else if (index == 0) {
      if (strcmp(stage, "$source"))
        return invalid(err, "First stage must be $source, found: %s", stage);
      if (!BSON_ITER_HOLDS_DOCUMENT(&value)) return invalid(err, "%s", "$source must be an object");
      ok = plan_source(plan, reg, &spec, err);
    } else if (!strcmp(stage, "$source")) {
      ok = invalid(err, "%s", "$source is only allowed as the first stage");
    } else if (!strcmp(stage, "$merge") || !strcmp(stage, "$emit")) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&value)) return invalid(err, "%s must be an object", stage);
      ok = stage[1] == 'm' ? plan_merge(plan, reg, &spec, err) : plan_emit(plan, reg, &spec, err);
      sink_seen = true;
    } else if (!IN_LIST(stage, window_only) && !IN_LIST(stage, known_unimplemented)) {
      ok = add_op(plan, stage, &spec, &value, err);
    } else if (IN_LIST(stage, window_only)) {
      ok =
          invalid(err, "%s stage is only permitted in the inner pipeline of a window stage", stage);
    } else {
      ok = invalid(err, "%s is not supported by aspd yet", stage);
    }
    bson_destroy(&spec);
    if (!ok) return false;
    index++;
  }
  if (index == 0) return invalid(err, "%s", "Pipeline must have at least one stage");
  if (!sink_seen && !ephemeral) {
    return invalid(err, "%s", "The last stage in the pipeline must be $merge or $emit.");
  }
  return true;
}

aspd_plan_t *aspd_plan_build(const aspd_registry_t *reg, const bson_t *pipeline,
                             const bson_t *options, bool ephemeral, aspd_error_t *err) {
  aspd_plan_t *plan = calloc(1, sizeof *plan);
  plan->sink = ASPD_SINK_NONE;
  bool ok =
      plan_stages(plan, reg, pipeline, ephemeral, err) && plan_options(plan, reg, options, err);
  if (ok && plan->validate_needs_dlq && !plan->dlq_connection) {
    ok = invalid(err, "%s", "DLQ must be specified if validation action is dlq.");
  }
  if (!ok) {
    aspd_plan_free(plan);
    return NULL;
  }
  return plan;
}

void aspd_plan_free(aspd_plan_t *plan) {
  if (!plan) return;
  if (plan->documents) bson_destroy(plan->documents);
  free(plan->document_data);
  free(plan->document_len);
  if (plan->time_field) bson_destroy(plan->time_field);
  for (size_t i = 0; i < plan->op_count; i++) {
    if (plan->ops[i].spec) bson_destroy(plan->ops[i].spec);
    aspd_window_spec_free(plan->ops[i].window);
  }
  free(plan->ops);
  free(plan->source_connection);
  free(plan->source_topic);
  free(plan->ts_field);
  free(plan->meta_field);
  free(plan->sink_connection);
  free(plan->sink_db);
  free(plan->sink_name);
  free(plan->dlq_connection);
  free(plan->dlq_db);
  free(plan->dlq_coll);
  free(plan);
}

size_t aspd_plan_operator_count(const aspd_plan_t *plan) {
  return plan->op_count + 2;
}

const char *aspd_plan_operator_name(const aspd_plan_t *plan, size_t i) {
  if (i == 0) {
    switch (plan->source) {
      case ASPD_SOURCE_SAMPLE:
        return "SampleDataSourceOperator";
      case ASPD_SOURCE_DOCUMENTS:
        return "DocumentsDataSourceOperator";
      default:
        return "KafkaConsumerOperator";
    }
  }
  if (i <= plan->op_count) {
    switch (plan->ops[i - 1].kind) {
      case ASPD_OP_MATCH:
        return "MatchOperator";
      case ASPD_OP_ADD_FIELDS:
        return "AddFieldsOperator";
      case ASPD_OP_REPLACE_ROOT:
        return "ReplaceRootOperator";
      case ASPD_OP_VALIDATE:
        return "ValidateOperator";
      case ASPD_OP_UNWIND:
        return "UnwindOperator";
      case ASPD_OP_WINDOW:
        return plan->ops[i - 1].window->hopping ? "HoppingWindowOperator"
                                                : "TumblingWindowOperator";
      default:
        return "ProjectOperator"; /* $project, $unset */
    }
  }
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
