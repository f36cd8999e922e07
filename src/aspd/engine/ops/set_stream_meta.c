/* $setStreamMeta {"stream.<field>": <expression>, ...}: sets fields of the
 * document's stream metadata, which later stages read with
 * {$meta: "stream.<field>"} (a dynamic $merge or $emit target, say). The
 * metadata lives in the document's metadata field (_stream_meta unless
 * streamMetaFieldName renames it); with that field disabled there is nowhere
 * to keep it and documents pass unchanged. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"
#include "engine/plan/plan.h"

typedef struct {
  size_t count;
  char **keys; /* dotted paths in the document: <meta field>.<field> */
  aspd_expr_t **exprs;
  bool enabled; /* the metadata field exists */
} set_meta_t;

void aspd_set_stream_meta_free_spec(void *spec) {
  set_meta_t *s = spec;
  if (!s) return;
  for (size_t i = 0; i < s->count; i++) {
    free(s->keys[i]);
    aspd_expr_free(s->exprs[i]);
  }
  free(s->keys);
  free(s->exprs);
  free(s);
}

void *aspd_set_stream_meta_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx,
                                 aspd_error_t *err) {
  bson_iter_t it;
  if (!BSON_ITER_HOLDS_DOCUMENT(value) || !bson_iter_recurse(value, &it)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "$setStreamMeta must be an object");
    return NULL;
  }
  const char *meta = ctx->plan->meta_field;
  set_meta_t *s = calloc(1, sizeof *s);
  s->enabled = meta != NULL;
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (strncmp(key, "stream.", 7) || !key[7]) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "$setStreamMeta field names must start with 'stream.', found: %s", key);
      aspd_set_stream_meta_free_spec(s);
      return NULL;
    }
    s->keys = realloc(s->keys, (s->count + 1) * sizeof *s->keys);
    s->exprs = realloc(s->exprs, (s->count + 1) * sizeof *s->exprs);
    s->keys[s->count] = bson_strdup_printf("%s.%s", meta ? meta : "", key + 7);
    s->exprs[s->count] = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
    if (!s->exprs[s->count++]) {
      aspd_set_stream_meta_free_spec(s);
      return NULL;
    }
  }
  if (!s->count) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "$setStreamMeta must set at least one 'stream.<field>'");
    aspd_set_stream_meta_free_spec(s);
    return NULL;
  }
  return s;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const set_meta_t *s = ((aspd_stateless_op_t *)op)->spec;
  if (!s->enabled) {
    aspd_flow_emit(flow, doc);
    return;
  }
  bson_t values = BSON_INITIALIZER;
  for (size_t i = 0; i < s->count; i++) {
    bson_value_t v;
    /* Every expression sees the document as it came in. */
    if (!aspd_expr_eval_root(s->exprs[i], flow->ev, doc, &v)) {
      aspd_flow_reject(flow, doc, flow->ev->reason);
      bson_destroy(&values);
      bson_destroy(doc);
      return;
    }
    aspd_append_value(&values, s->keys[i], strlen(s->keys[i]), &v);
  }
  bson_t *out = bson_sized_new(doc->len + values.len);
  aspd_set_paths(doc, &values, out);
  bson_destroy(&values);
  bson_destroy(doc);
  aspd_flow_emit(flow, out);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_set_stream_meta_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}
