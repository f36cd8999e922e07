/* $match: a query compiled once. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/query.h"
#include "engine/ops/stages.h"

void *aspd_match_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  bson_t filter;
  aspd_spec_doc(value, &filter);
  bson_iter_t it;
  if (bson_iter_init_find(&it, &filter, "$text")) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "Cannot use $text in $match stage in Atlas Stream Processing.");
    return NULL;
  }
  return aspd_query_compile(&filter, ctx->cc, err);
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const aspd_query_t *q = ((aspd_stateless_op_t *)op)->spec;
  if (aspd_query_matches(q, doc, flow->ev)) {
    aspd_flow_emit(flow, doc);
  } else {
    aspd_doc_release(flow->ev, doc);
  }
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_match_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_match_free_spec(void *spec) {
  aspd_query_free(spec);
}
