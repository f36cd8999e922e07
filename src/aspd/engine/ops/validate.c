/* $validate {validator, validationAction: discard | dlq}. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/query.h"
#include "engine/ops/stages.h"
#include "engine/plan/plan.h"

typedef struct {
  aspd_query_t *validator;
  bool dlq;
} validate_spec_t;

static void *invalid(aspd_error_t *err, const char *message) {
  aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s", message);
  return NULL;
}

void *aspd_validate_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  bson_t spec, validator = BSON_INITIALIZER;
  aspd_spec_doc(value, &spec);
  bson_iter_t it;
  if (bson_iter_init_find(&it, &spec, "validator")) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it))
      return invalid(err, "$validate.validator must be an object");
    aspd_spec_doc(&it, &validator);
  }
  const char *action = NULL;
  if (bson_iter_init_find(&it, &spec, "validationAction")) {
    action = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    if (strcmp(action, "discard") && strcmp(action, "dlq")) {
      return invalid(err, "validationAction must be discard or dlq");
    }
  }
  aspd_error_t parse_err = {0};
  aspd_query_t *q = aspd_query_compile(&validator, ctx->cc, &parse_err);
  if (!q) {
    char *json = bson_as_relaxed_extended_json(&validator, NULL);
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "failed to parse validator: %s", json);
    bson_free(json);
    return NULL;
  }
  validate_spec_t *v = malloc(sizeof *v);
  v->validator = q;
  v->dlq = action && !strcmp(action, "dlq");
  if (v->dlq) ctx->plan->validate_needs_dlq = true;
  return v;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const validate_spec_t *v = ((aspd_stateless_op_t *)op)->spec;
  if (aspd_query_matches(v->validator, doc, flow->ev)) {
    aspd_flow_emit(flow, doc);
    return;
  }
  if (v->dlq) aspd_flow_reject(flow, doc, "Input document found to be invalid in $validate stage");
  bson_destroy(doc);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_validate_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_validate_free_spec(void *spec) {
  validate_spec_t *v = spec;
  aspd_query_free(v->validator);
  free(v);
}
