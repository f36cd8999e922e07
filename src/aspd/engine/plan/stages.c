/* The stage table, and planning a window's inner pipeline against it. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"
#include "engine/plan/plan.h"
#include "engine/plan/plan_internal.h"

#define ANYWHERE (ASPD_IN_MAIN | ASPD_IN_WINDOW)

static const aspd_stage_t stages[] = {
    {"$source", ASPD_AS_SOURCE, NULL, aspd_source_check, NULL, NULL},
    {"$merge", ASPD_AS_SINK, NULL, aspd_merge_check, NULL, NULL},
    {"$emit", ASPD_AS_SINK, NULL, aspd_emit_check, NULL, NULL},
    {"$match", ANYWHERE, "MatchOperator", aspd_match_check, aspd_match_make, aspd_match_free_spec},
    {"$validate", ANYWHERE, "ValidateOperator", aspd_validate_check, aspd_validate_make,
     aspd_validate_free_spec},
    {"$project", ANYWHERE, "ProjectOperator", aspd_project_check, aspd_project_make,
     aspd_project_free_spec},
    {"$unset", ANYWHERE, "ProjectOperator", aspd_unset_check, aspd_unset_make,
     aspd_unset_free_spec},
    {"$addFields", ANYWHERE, "AddFieldsOperator", aspd_add_fields_check, aspd_add_fields_make,
     aspd_add_fields_free_spec},
    {"$set", ANYWHERE, "AddFieldsOperator", aspd_add_fields_check, aspd_add_fields_make,
     aspd_add_fields_free_spec},
    {"$replaceRoot", ANYWHERE, "ReplaceRootOperator", aspd_replace_root_check,
     aspd_replace_root_make, aspd_replace_root_free_spec},
    {"$replaceWith", ANYWHERE, "ReplaceRootOperator", aspd_replace_root_check,
     aspd_replace_root_make, aspd_replace_root_free_spec},
    {"$unwind", ANYWHERE, "UnwindOperator", aspd_unwind_check, aspd_unwind_make,
     aspd_unwind_free_spec},
    {"$redact", ANYWHERE, "RedactOperator", aspd_redact_check, aspd_redact_make,
     aspd_redact_free_spec},
    {"$group", ASPD_IN_WINDOW, "GroupOperator", aspd_group_check, aspd_group_make,
     aspd_group_free_spec},
    {"$sort", ASPD_IN_WINDOW, "SortOperator", aspd_sort_check, aspd_sort_make, aspd_sort_free_spec},
    {"$limit", ASPD_IN_WINDOW, "LimitOperator", aspd_limit_check, aspd_limit_make,
     aspd_limit_free_spec},
    {"$count", ASPD_IN_WINDOW, "CountOperator", aspd_count_check, aspd_count_make,
     aspd_count_free_spec},
    {"$tumblingWindow", ASPD_IN_MAIN, "TumblingWindowOperator", aspd_window_check, aspd_window_make,
     aspd_window_free_spec},
    {"$hoppingWindow", ASPD_IN_MAIN, "HoppingWindowOperator", aspd_window_check, aspd_window_make,
     aspd_window_free_spec},
    {"$setStreamMeta", ASPD_IN_MAIN, "SetStreamMetaOperator", aspd_set_stream_meta_check,
     aspd_set_stream_meta_make, aspd_set_stream_meta_free_spec},
    {"$lookup", ANYWHERE, "LookUpOperator", aspd_lookup_check, aspd_lookup_make,
     aspd_lookup_free_spec},
    {"$https", ANYWHERE, "HttpsOperator", aspd_https_check, aspd_https_make,
     aspd_https_free_spec},
    /* Stages the real service has that aspd does not run (yet). */
    {"$externalFunction", ANYWHERE, NULL, NULL, NULL, NULL},
    {"$sessionWindow", ASPD_IN_MAIN, "SessionWindowOperator", aspd_session_check, aspd_session_make,
     aspd_session_free_spec},
    {"$cachedLookup", ASPD_IN_MAIN, NULL, NULL, NULL, NULL},
    {"$function", ASPD_IN_MAIN, NULL, NULL, NULL, NULL},
    {"$throttle", ASPD_IN_MAIN, NULL, NULL, NULL, NULL},
    {"$vectorSearch", ASPD_IN_MAIN, NULL, NULL, NULL, NULL},
};

const aspd_stage_t *aspd_stage_find(const char *name) {
  for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
    if (!strcmp(stages[i].name, name)) return &stages[i];
  }
  return NULL;
}

void aspd_spec_doc(const bson_iter_t *value, bson_t *out) {
  if (BSON_ITER_HOLDS_DOCUMENT(value)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(value, &len, &data);
    bson_init_static(out, data, len);
  } else {
    bson_init(out);
  }
}

bool aspd_stage_parts(const bson_iter_t *stage_it, const char **name, bson_iter_t *value,
                      aspd_error_t *err) {
  bson_iter_t fields;
  int count = 0;
  if (BSON_ITER_HOLDS_DOCUMENT(stage_it) && bson_iter_recurse(stage_it, &fields)) {
    while (bson_iter_next(&fields)) {
      if (count++ == 0) {
        *value = fields;
        *name = bson_iter_key(&fields);
      }
    }
  }
  if (count != 1) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "A pipeline stage specification object must contain exactly one field.");
    return false;
  }
  return true;
}

bool aspd_plan_inner(const bson_value_t *pipeline, aspd_stage_ctx_t *ctx,
                     aspd_planned_stage_t **out, size_t *count, aspd_error_t *err) {
  bson_iter_t it;
  *out = NULL;
  *count = 0;
  bson_iter_init_from_data(&it, pipeline->value.v_doc.data, pipeline->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *name;
    bson_iter_t value;
    if (!aspd_stage_parts(&it, &name, &value, err)) return false;
    const aspd_stage_t *row = aspd_stage_find(name);
    if (!row) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", name);
      return false;
    }
    if (!(row->where & ASPD_IN_WINDOW)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "%s stage is not permitted in the inner pipeline of a window stage", name);
      return false;
    }
    if (!aspd_plan_add_stage(row, &value, ctx, out, count, err)) return false;
  }
  return true;
}

bool aspd_plan_add_stage(const aspd_stage_t *row, const bson_iter_t *value, aspd_stage_ctx_t *ctx,
                         aspd_planned_stage_t **stages_out, size_t *count, aspd_error_t *err) {
  if (!row->check) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s is not supported by aspd yet", row->name);
    return false;
  }
  ctx->name = row->name;
  void *spec = row->check(value, ctx, err);
  if (!spec) return false;
  *stages_out = realloc(*stages_out, (*count + 1) * sizeof **stages_out);
  (*stages_out)[(*count)++] = (aspd_planned_stage_t){row, spec};
  return true;
}

void aspd_planned_stages_free(aspd_planned_stage_t *list, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (list[i].row->free_spec) list[i].row->free_spec(list[i].spec);
  }
  free(list);
}

void aspd_pipeline_make(const aspd_planned_stage_t *list, size_t count, aspd_pipeline_t *out) {
  out->ops = malloc((count ? count : 1) * sizeof *out->ops);
  out->count = count;
  for (size_t i = 0; i < count; i++) out->ops[i] = list[i].row->make(list[i].spec);
}
