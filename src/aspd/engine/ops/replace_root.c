/* $replaceRoot {newRoot: e} and $replaceWith e. */
#include <stdio.h>
#include <string.h>

#include "engine/ops/stages.h"

void *aspd_replace_root_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  bson_iter_t root;
  if (!strcmp(ctx->name, "$replaceWith")) {
    root = *value;
  } else if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &root) ||
             !bson_iter_find(&root, "newRoot")) {
    aspd_error_set(err, ASPD_E_LOCATION(40231), "no newRoot specified for the $replaceRoot stage");
    return NULL;
  }
  return aspd_expr_compile(ctx->cc, bson_iter_value(&root), err);
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const aspd_expr_t *e = ((aspd_stateless_op_t *)op)->spec;
  bson_value_t v;
  if (!aspd_expr_eval_root(e, flow->ev, doc, &v)) {
    aspd_flow_reject(flow, doc, flow->ev->reason);
  } else if (v.value_type != BSON_TYPE_DOCUMENT) {
    char *json = bson_as_relaxed_extended_json(doc, NULL);
    char reason[ASPD_EXPR_REASON_LEN];
    bson_t holder = BSON_INITIALIZER;
    aspd_append_value(&holder, "v", 1, &v);
    char *shown = bson_as_relaxed_extended_json(&holder, NULL);
    /* The server shows the value itself; "missing" when there is none. */
    /* Relaxed JSON of {v: x} is `{ "v" : x }`: the value sits between 8 and 2 characters. */
    const char *value = v.value_type == BSON_TYPE_EOD ? "MISSING" : shown + 8;
    size_t vlen = v.value_type == BSON_TYPE_EOD ? strlen(value) : strlen(value) - 2;
    snprintf(reason, sizeof reason,
             "'newRoot' expression must evaluate to an object, but resulting value was: %.*s. "
             "Type of resulting value: '%s'. Input document: %s",
             (int)vlen, value, aspd_value_type_name(&v), json);
    bson_free(shown);
    bson_destroy(&holder);
    bson_free(json);
    aspd_flow_reject(flow, doc, reason);
  } else {
    bson_t root;
    bson_init_static(&root, v.value.v_doc.data, v.value.v_doc.data_len);
    aspd_flow_emit(flow, bson_copy(&root));
  }
  bson_destroy(doc);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_replace_root_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_replace_root_free_spec(void *spec) {
  aspd_expr_free(spec);
}
