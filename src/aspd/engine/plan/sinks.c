/* The $merge and $emit rows: where the pipeline's output goes. */
#include <stdlib.h>
#include <string.h>

#include "engine/plan/plan_internal.h"

static bool merge_on(aspd_merge_spec_t *m, bson_iter_t *it, aspd_error_t *err) {
  bson_iter_t list;
  bool array = BSON_ITER_HOLDS_ARRAY(it);
  if (!array && !BSON_ITER_HOLDS_UTF8(it)) {
    aspd_error_set(err, ASPD_E_LOCATION(51186),
                   "$merge 'on' field must be either a string or an array of strings");
    return false;
  }
  if (array) bson_iter_recurse(it, &list);
  for (bool more = array ? bson_iter_next(&list) : true; more;
       more = array ? bson_iter_next(&list) : false) {
    bson_iter_t *cur = array ? &list : it;
    if (!BSON_ITER_HOLDS_UTF8(cur)) {
      aspd_error_set(err, ASPD_E_LOCATION(51134),
                     "$merge 'on' array elements must be strings, but found %s",
                     aspd_type_name(bson_iter_type(cur)));
      return false;
    }
    const char *f = bson_iter_utf8(cur, NULL);
    for (size_t i = 0; i < m->on_count; i++) {
      if (!strcmp(m->on[i], f)) {
        aspd_error_set(err, ASPD_E_LOCATION(8186211),
                       "Found a duplicate field in the $merge.on list: '%s'", f);
        return false;
      }
    }
    if (m->on_count == ASPD_MERGE_MAX_ON) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "$merge.on lists at most %d fields",
                     ASPD_MERGE_MAX_ON);
      return false;
    }
    m->on = realloc(m->on, (m->on_count + 1) * sizeof *m->on);
    m->on[m->on_count++] = strdup(f);
  }
  if (!m->on_count) {
    aspd_error_set(err, ASPD_E_LOCATION(51187),
                   "If explicitly specifying $merge 'on', must include at least one field");
    return false;
  }
  return true;
}

/* `let`: its expressions, compiled in the pipeline's scope; names[] gets their names
 * (`new` may only be "$$ROOT", which it always is). */
static bool merge_let(aspd_merge_spec_t *m, const bson_t *spec, aspd_stage_ctx_t *ctx,
                      const char **names, aspd_error_t *err) {
  bson_iter_t it, vars;
  if (!bson_iter_init_find(&it, spec, "let")) return true;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
    aspd_error_set(err, ASPD_E_TYPE_MISMATCH,
                   "BSON field '$merge.let' is the wrong type '%s', expected type 'object'",
                   aspd_type_name(bson_iter_type(&it)));
    return false;
  }
  bson_iter_recurse(&it, &vars);
  while (bson_iter_next(&vars)) {
    const char *name = bson_iter_key(&vars);
    if (!strcmp(name, "new")) {
      if (!BSON_ITER_HOLDS_UTF8(&vars) || strcmp(bson_iter_utf8(&vars, NULL), "$$ROOT")) {
        aspd_error_set(err, ASPD_E_LOCATION(51273),
                       "'let' may not define a value for the reserved 'new' variable other than "
                       "'$$ROOT'");
        return false;
      }
      continue;
    }
    if (!aspd_expr_valid_var_name(name)) {
      aspd_error_set(err, ASPD_E_LOCATION(16870),
                     "'%s' starts with an invalid character for a user variable name", name);
      return false;
    }
    if (m->let_count == ASPD_EXPR_MAX_VARS) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "too many variables in $merge.let");
      return false;
    }
    names[m->let_count] = name;
    m->let[m->let_count] = aspd_expr_compile(ctx->cc, bson_iter_value(&vars), err);
    if (!m->let[m->let_count++]) return false;
  }
  return true;
}

/* whenMatched's pipeline: $addFields $set $project $unset $replaceRoot $replaceWith, with
 * $$new and the `let` variables. */
static bool merge_pipeline(aspd_merge_spec_t *m, bson_iter_t *it, const bson_t *spec,
                           aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  static const char *const allowed[] = {"$addFields", "$set",         "$project",
                                        "$unset",     "$replaceRoot", "$replaceWith"};
  const char *names[ASPD_EXPR_MAX_VARS];
  m->when_matched = ASPD_MERGE_PIPELINE;
  if (!merge_let(m, spec, ctx, names, err)) return false;
  m->new_slot = aspd_expr_scope_push(ctx->cc, "new", err);
  if (m->new_slot < 0) return false;
  int pushed = 1;
  bool ok = true;
  for (size_t i = 0; ok && i < m->let_count; i++) {
    m->let_slots[i] = aspd_expr_scope_push(ctx->cc, names[i], err);
    ok = m->let_slots[i] >= 0;
    pushed += ok;
  }
  bson_iter_t stages;
  bson_iter_recurse(it, &stages);
  while (ok && bson_iter_next(&stages)) {
    const char *name;
    bson_iter_t value;
    ok = aspd_stage_parts(&stages, &name, &value, err);
    bool known = false;
    for (size_t i = 0; ok && i < sizeof allowed / sizeof allowed[0]; i++) {
      known = known || !strcmp(allowed[i], name);
    }
    if (ok && !known) {
      aspd_error_set(err, ASPD_E_LOCATION(51191),
                     "%s is not allowed to be used within the $merge 'whenMatched' pipeline", name);
      ok = false;
    }
    if (ok)
      ok =
          aspd_plan_add_stage(aspd_stage_find(name), &value, ctx, &m->stages, &m->stage_count, err);
  }
  while (pushed--) aspd_expr_scope_pop(ctx->cc);
  return ok;
}

/* A mode given as an expression: a field path or an object. */
static bool is_mode_expr(const bson_iter_t *it) {
  return BSON_ITER_HOLDS_DOCUMENT(it) ||
         (BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '$');
}

static bool merge_modes(aspd_merge_spec_t *m, const bson_t *spec, aspd_stage_ctx_t *ctx,
                        aspd_error_t *err) {
  static const char *const matched[] = {"merge", "replace", "keepExisting", "delete"};
  static const aspd_when_matched_t matched_modes[] = {ASPD_MERGE_MERGE, ASPD_MERGE_REPLACE,
                                                      ASPD_MERGE_KEEP, ASPD_MERGE_DELETE};
  bson_iter_t it;
  const char *mode = "merge";
  m->when_matched = ASPD_MERGE_MERGE;
  m->insert = true;
  if (bson_iter_init_find(&it, spec, "whenMatched")) {
    mode = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    if (BSON_ITER_HOLDS_ARRAY(&it)) {
      if (!merge_pipeline(m, &it, spec, ctx, err)) return false;
    } else if (is_mode_expr(&it)) {
      mode = "expression";
      m->when_matched_expr = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
      if (!m->when_matched_expr) return false;
    } else {
      size_t i = 0;
      while (i < 4 && strcmp(mode, matched[i])) i++;
      if (i == 4) {
        aspd_plan_invalid(err, "Unsupported whenMatched mode: %s", mode);
        return false;
      }
      m->when_matched = matched_modes[i];
    }
  }
  if (m->when_matched != ASPD_MERGE_PIPELINE && bson_iter_init_find(&it, spec, "let")) {
    aspd_error_set(err, ASPD_E_LOCATION(51199),
                   "Cannot use 'let' variables with 'whenMatched: %s' mode", mode);
    return false;
  }
  if (bson_iter_init_find(&it, spec, "whenNotMatched")) {
    if (is_mode_expr(&it)) {
      m->when_not_matched_expr = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
      return m->when_not_matched_expr != NULL;
    }
    mode = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    if (strcmp(mode, "insert") && strcmp(mode, "discard")) {
      aspd_plan_invalid(err, "Unsupported whenNotMatched mode: %s", mode);
      return false;
    }
    m->insert = !strcmp(mode, "insert");
  }
  return true;
}

/* A sink's db, coll or topic: a literal string, or an expression (a "$" path or an
 * object) evaluated for each document. */
static bool sink_part(const bson_t *spec, const char *key, const char *stage, aspd_stage_ctx_t *ctx,
                      char **literal, aspd_expr_t **expr, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, key)) {
    aspd_plan_invalid(err, "%s must contain '%s'", stage, key);
    return false;
  }
  if (BSON_ITER_HOLDS_UTF8(&it) && bson_iter_utf8(&it, NULL)[0] != '$') {
    *literal = strdup(bson_iter_utf8(&it, NULL));
    return true;
  }
  if (!BSON_ITER_HOLDS_UTF8(&it) && !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    aspd_plan_invalid(err, "%s.%s must be a string or an expression, not %s", stage, key,
                      aspd_type_name(bson_iter_type(&it)));
    return false;
  }
  *expr = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
  return *expr != NULL;
}

void *aspd_merge_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  aspd_plan_t *plan = ctx->plan;
  if (!BSON_ITER_HOLDS_DOCUMENT(value))
    return aspd_plan_invalid(err, "%s must be an object", "$merge");
  bson_t spec, into;
  aspd_spec_doc(value, &spec);
  bson_iter_t it;
  if (!bson_iter_init_find(&it, &spec, "into") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    return aspd_plan_invalid(err, "%s", "$merge must contain an 'into' object");
  }
  aspd_spec_doc(&it, &into);
  const char *name = aspd_plan_utf8(&into, "connectionName");
  if (!name) return aspd_plan_invalid(err, "%s", "$merge.into must contain 'connectionName'");
  const aspd_connection_t *conn = aspd_registry_find(ctx->registry, name);
  if (!conn) return aspd_plan_missing_connection(err, name);
  if (conn->kind != ASPD_CONN_CLUSTER) {
    return aspd_plan_invalid(err, "%s", "Only atlas merge connection type is currently supported");
  }
  plan->sink = ASPD_SINK_COLLECTION;
  plan->sink_connection = strdup(name);
  if (!sink_part(&into, "db", "$merge.into", ctx, &plan->sink_db, &plan->sink_db_expr, err) ||
      !sink_part(&into, "coll", "$merge.into", ctx, &plan->sink_name, &plan->sink_name_expr, err)) {
    return NULL;
  }
  int64_t parallelism = 1;
  if (bson_iter_init_find(&it, &spec, "parallelism") &&
      (!aspd_value_as_integral(bson_iter_value(&it), &parallelism) || parallelism < 1 ||
       parallelism > ASPD_MERGE_MAX_PARALLELISM)) {
    return aspd_plan_invalid(err,
                             "$merge.parallelism must be greater than or equal to 1 and less "
                             "than or equal to %d",
                             ASPD_MERGE_MAX_PARALLELISM);
  }
  /* Writers in parallel would each need their own target. */
  if ((plan->sink_db_expr || plan->sink_name_expr) && parallelism > 1) {
    return aspd_plan_invalid(err, "%s",
                             "$merge.into.db and $merge.into.coll must be literals if "
                             "$merge.parallelism is greater than 1");
  }
  aspd_merge_spec_t *m = calloc(1, sizeof *m);
  if (bson_iter_init_find(&it, &spec, "on")) {
    if (!merge_on(m, &it, err)) {
      aspd_merge_spec_free(m);
      return NULL;
    }
  } else {
    m->on = calloc(1, sizeof *m->on);
    m->on[m->on_count++] = strdup("_id");
  }
  if (!merge_modes(m, &spec, ctx, err)) {
    aspd_merge_spec_free(m);
    return NULL;
  }
  plan->merge = m;
  return plan;
}

/* A Kafka $emit's config: key with keyFormat, headers; the partitions of a topic it creates. */
static aspd_emit_spec_t *kafka_emit(const bson_t *spec, const aspd_connection_t *conn,
                                    aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  static const char *const formats[] = {"binData", "string", "json", "int", "long"};
  aspd_emit_spec_t *e = calloc(1, sizeof *e);
  e->partitions = aspd_plan_kafka_partitions(conn, err);
  bson_iter_t config, it;
  bool ok = e->partitions > 0;
  bool has_config =
      ok && bson_iter_init_find(&config, spec, "config") && BSON_ITER_HOLDS_DOCUMENT(&config);
  if (has_config && bson_iter_recurse(&config, &it) && bson_iter_find(&it, "key")) {
    bson_iter_t format;
    if (!bson_iter_recurse(&config, &format) || !bson_iter_find(&format, "keyFormat")) {
      ok = aspd_plan_invalid(err, "%s",
                             "Expected config.keyFormat to be specified when config.key is "
                             "specified");
    } else {
      const char *name = BSON_ITER_HOLDS_UTF8(&format) ? bson_iter_utf8(&format, NULL) : "";
      size_t i = 0;
      while (i < 5 && strcmp(name, formats[i])) i++;
      if (i == 5) {
        ok = aspd_plan_invalid(err,
                               "config.keyFormat must be \"binData\", \"string\", \"json\", "
                               "\"int\" or \"long\"");
      } else {
        e->key_format = (aspd_key_format_t)i;
        e->key = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
        ok = e->key != NULL;
      }
    }
  }
  if (ok && has_config && bson_iter_recurse(&config, &it) && bson_iter_find(&it, "headers")) {
    e->headers = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
    ok = e->headers != NULL;
  }
  if (!ok) {
    aspd_emit_spec_free(e);
    return NULL;
  }
  return e;
}

void *aspd_emit_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  aspd_plan_t *plan = ctx->plan;
  if (!BSON_ITER_HOLDS_DOCUMENT(value))
    return aspd_plan_invalid(err, "%s must be an object", "$emit");
  bson_t spec;
  aspd_spec_doc(value, &spec);
  const char *name = aspd_plan_utf8(&spec, "connectionName");
  if (!name) return aspd_plan_invalid(err, "%s", "$emit must contain 'connectionName' field in it");
  const aspd_connection_t *conn = aspd_registry_find(ctx->registry, name);
  if (!conn) return aspd_plan_missing_connection(err, name);
  plan->sink_connection = strdup(name);
  switch (conn->kind) {
    case ASPD_CONN_TEST_LOG:
      plan->sink = ASPD_SINK_LOG;
      return plan;
    case ASPD_CONN_KAFKA:
      plan->sink = ASPD_SINK_TOPIC;
      if (!sink_part(&spec, "topic", "$emit", ctx, &plan->sink_name, &plan->sink_name_expr, err)) {
        return NULL;
      }
      plan->emit = kafka_emit(&spec, conn, ctx, err);
      return plan->emit ? plan : NULL;
    case ASPD_CONN_CLUSTER:
      plan->sink = ASPD_SINK_COLLECTION;
      return sink_part(&spec, "db", "$emit", ctx, &plan->sink_db, &plan->sink_db_expr, err) &&
                     sink_part(&spec, "coll", "$emit", ctx, &plan->sink_name, &plan->sink_name_expr,
                               err)
                 ? plan
                 : NULL;
    default: {
      char *json = bson_as_relaxed_extended_json(&spec, NULL);
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "Expected Atlas connection for $emit %s",
                     json);
      bson_free(json);
      return NULL;
    }
  }
}
