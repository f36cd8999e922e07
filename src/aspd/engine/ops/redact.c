/* $redact: the expression decides at each document level whether to keep it
 * whole ($$KEEP), drop it ($$PRUNE) or keep its scalar fields and decide
 * again for each embedded document, in arrays too ($$DESCEND). Field paths in
 * the expression read the level being decided. */
#include <string.h>

#include "engine/ops/stages.h"

typedef enum { R_KEEP, R_PRUNE, R_DESCEND, R_ERROR } verdict_t;

void *aspd_redact_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  bson_iter_t copy = *value;
  return aspd_expr_compile(ctx->cc, bson_iter_value(&copy), err);
}

static verdict_t decide(const aspd_expr_t *e, aspd_eval_t *ev, const bson_t *level) {
  bson_value_t v;
  ev->root = level;
  if (!aspd_expr_eval(e, ev, &v)) return R_ERROR;
  if (v.value_type == BSON_TYPE_UTF8) {
    if (!strcmp(v.value.v_utf8.str, "$$KEEP")) return R_KEEP;
    if (!strcmp(v.value.v_utf8.str, "$$PRUNE")) return R_PRUNE;
    if (!strcmp(v.value.v_utf8.str, "$$DESCEND")) return R_DESCEND;
  }
  aspd_eval_fail(ev,
                 "$redact's expression should not return anything aside from the variables "
                 "$$KEEP, $$DESCEND, and $$PRUNE, but returned %s",
                 aspd_eval_json(ev, &v));
  return R_ERROR;
}

static bool redact_level(const aspd_expr_t *e, aspd_eval_t *ev, const bson_t *level, bool top,
                         bson_t *out, bool *kept);

/* An array under a descended level: documents are decided, other values stay. */
static bool redact_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_iter_t *array, bson_t *out) {
  bson_iter_t el;
  uint32_t i = 0;
  bson_iter_recurse(array, &el);
  while (bson_iter_next(&el)) {
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string(i, &k, key, sizeof key);
    if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
      bson_t sub, child;
      bool kept;
      aspd_spec_doc(&el, &sub);
      bson_init(&child);
      if (!redact_level(e, ev, &sub, false, &child, &kept)) {
        bson_destroy(&child);
        return false;
      }
      if (kept) {
        bson_append_document(out, k, (int)klen, &child);
        i++;
      }
      bson_destroy(&child);
    } else if (BSON_ITER_HOLDS_ARRAY(&el)) {
      bson_t child;
      bson_append_array_begin(out, k, (int)klen, &child);
      bool ok = redact_array(e, ev, &el, &child);
      bson_append_array_end(out, &child);
      if (!ok) return false;
      i++;
    } else {
      bson_append_value(out, k, (int)klen, bson_iter_value(&el));
      i++;
    }
  }
  return true;
}

static bool redact_level(const aspd_expr_t *e, aspd_eval_t *ev, const bson_t *level, bool top,
                         bson_t *out, bool *kept) {
  verdict_t v = decide(e, ev, level);
  *kept = v == R_KEEP || v == R_DESCEND;
  if (v == R_ERROR) return false;
  if (v == R_KEEP) bson_concat(out, level);
  if (v != R_DESCEND) return true;
  bson_iter_t it;
  bson_iter_init(&it, level);
  while (bson_iter_next(&it)) {
    /* The stream metadata aspd keeps in the document is not the user's data. */
    if (top && ev->meta_field && !strcmp(bson_iter_key(&it), ev->meta_field)) {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    } else if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_t sub, child;
      bool sub_kept;
      aspd_spec_doc(&it, &sub);
      bson_init(&child);
      if (!redact_level(e, ev, &sub, false, &child, &sub_kept)) {
        bson_destroy(&child);
        return false;
      }
      if (sub_kept) bson_append_document(out, bson_iter_key(&it), -1, &child);
      bson_destroy(&child);
    } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
      bson_t child;
      bson_append_array_begin(out, bson_iter_key(&it), -1, &child);
      bool ok = redact_array(e, ev, &it, &child);
      bson_append_array_end(out, &child);
      if (!ok) return false;
    } else {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
  return true;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const aspd_expr_t *e = ((aspd_stateless_op_t *)op)->spec;
  bson_t *out = bson_new();
  bool kept;
  if (!redact_level(e, flow->ev, doc, true, out, &kept)) {
    aspd_flow_reject(flow, doc, flow->ev->reason);
    bson_destroy(out);
  } else if (kept) {
    aspd_flow_emit(flow, out);
  } else {
    bson_destroy(out);
  }
  bson_destroy(doc);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_redact_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}

void aspd_redact_free_spec(void *spec) {
  aspd_expr_free(spec);
}
