/* The $merge and $emit rows: where the pipeline's output goes. */
#include <stdlib.h>
#include <string.h>

#include "engine/plan/plan_internal.h"

static void *merge_invalid(aspd_merge_spec_t *m, aspd_error_t *err, const char *message) {
  aspd_merge_spec_free(m);
  return aspd_plan_invalid(err, "%s", message);
}

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

/* whenMatched's pipeline: $addFields $set $project $unset $replaceRoot $replaceWith, with $$new. */
static bool merge_pipeline(aspd_merge_spec_t *m, bson_iter_t *it, aspd_stage_ctx_t *ctx,
                           aspd_error_t *err) {
  static const char *const allowed[] = {"$addFields", "$set",         "$project",
                                        "$unset",     "$replaceRoot", "$replaceWith"};
  m->when_matched = ASPD_MERGE_PIPELINE;
  m->new_slot = aspd_expr_scope_push(ctx->cc, "new", err);
  if (m->new_slot < 0) return false;
  bson_iter_t stages;
  bson_iter_recurse(it, &stages);
  bool ok = true;
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
  aspd_expr_scope_pop(ctx->cc);
  return ok;
}

static bool merge_modes(aspd_merge_spec_t *m, const bson_t *spec, aspd_stage_ctx_t *ctx,
                        aspd_error_t *err) {
  bson_iter_t it;
  m->when_matched = ASPD_MERGE_MERGE;
  m->insert = true;
  if (bson_iter_init_find(&it, spec, "whenMatched")) {
    const char *mode = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
    if (BSON_ITER_HOLDS_ARRAY(&it)) {
      if (!merge_pipeline(m, &it, ctx, err)) return false;
    } else if (mode && !strcmp(mode, "merge")) {
      m->when_matched = ASPD_MERGE_MERGE;
    } else if (mode && !strcmp(mode, "replace")) {
      m->when_matched = ASPD_MERGE_REPLACE;
    } else if (mode && !strcmp(mode, "keepExisting")) {
      m->when_matched = ASPD_MERGE_KEEP;
    } else if (mode && !strcmp(mode, "delete")) {
      aspd_plan_invalid(err, "%s", "$merge whenMatched: delete is not supported by aspd yet");
      return false;
    } else {
      aspd_plan_invalid(err, "Unsupported whenMatched mode: %s", mode ? mode : "");
      return false;
    }
  }
  if (bson_iter_init_find(&it, spec, "whenNotMatched")) {
    const char *mode = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    if (strcmp(mode, "insert") && strcmp(mode, "discard")) {
      aspd_plan_invalid(err, "Unsupported whenNotMatched mode: %s", mode);
      return false;
    }
    m->insert = !strcmp(mode, "insert");
  }
  return true;
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
  aspd_merge_spec_t *m = calloc(1, sizeof *m);
  static const char *const parts[] = {"db", "coll"};
  for (int i = 0; i < 2; i++) {
    bson_iter_t part;
    if (!bson_iter_init_find(&part, &into, parts[i])) {
      return merge_invalid(
          m, err, i == 0 ? "$merge.into must contain 'db'" : "$merge.into must contain 'coll'");
    }
    if (BSON_ITER_HOLDS_UTF8(&part) && bson_iter_utf8(&part, NULL)[0] != '$') continue;
    aspd_expr_t *e = aspd_expr_compile(ctx->cc, bson_iter_value(&part), err);
    if (!e) {
      aspd_merge_spec_free(m);
      return NULL;
    }
    *(i == 0 ? &m->db : &m->coll) = e;
  }
  if ((m->db || m->coll) && bson_iter_init_find(&it, &spec, "parallelism") &&
      BSON_ITER_HOLDS_NUMBER(&it) && bson_iter_as_int64(&it) > 1) {
    return merge_invalid(m, err,
                         "$merge.into.db and $merge.into.coll must be literals if "
                         "$merge.parallelism is greater than 1");
  }
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
  const char *db = aspd_plan_utf8(&into, "db"), *coll = aspd_plan_utf8(&into, "coll");
  plan->sink = ASPD_SINK_COLLECTION;
  plan->sink_connection = strdup(name);
  plan->sink_db = db && !m->db ? strdup(db) : NULL;
  plan->sink_name = coll && !m->coll ? strdup(coll) : NULL;
  plan->merge = m;
  return plan;
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
    case ASPD_CONN_KAFKA: {
      const char *topic = aspd_plan_utf8(&spec, "topic");
      if (!topic) {
        return aspd_plan_invalid(err, "%s",
                                 "$emit.topic must be a string: expressions are not supported by "
                                 "aspd yet");
      }
      plan->sink = ASPD_SINK_TOPIC;
      plan->sink_name = strdup(topic);
      return plan;
    }
    case ASPD_CONN_CLUSTER: {
      const char *db = aspd_plan_utf8(&spec, "db"), *coll = aspd_plan_utf8(&spec, "coll");
      if (!db || !coll)
        return aspd_plan_invalid(err, "%s",
                                 "$emit to an Atlas connection needs string 'db' and 'coll'");
      plan->sink = ASPD_SINK_COLLECTION;
      plan->sink_db = strdup(db);
      plan->sink_name = strdup(coll);
      return plan;
    }
    default: {
      char *json = bson_as_relaxed_extended_json(&spec, NULL);
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "Expected Atlas connection for $emit %s",
                     json);
      bson_free(json);
      return NULL;
    }
  }
}
