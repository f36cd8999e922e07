/* The $merge and $emit rows: where the pipeline's output goes. */
#include <stdlib.h>
#include <string.h>

#include "engine/plan/plan_internal.h"

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
  const char *db = aspd_plan_utf8(&into, "db"), *coll = aspd_plan_utf8(&into, "coll");
  if (!db || !coll) {
    return aspd_plan_invalid(err, "%s",
                             "$merge.into.db and $merge.into.coll must be strings: expressions are "
                             "not supported by aspd yet");
  }
  plan->sink = ASPD_SINK_COLLECTION;
  plan->sink_connection = strdup(name);
  plan->sink_db = strdup(db);
  plan->sink_name = strdup(coll);
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
