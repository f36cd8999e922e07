/* $addFields / $set: each field's expression sees the input document; a
 * result of $$REMOVE (missing) removes the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/ops/stages.h"

typedef struct {
  size_t count;
  char **paths;
  size_t *path_lens;
  aspd_expr_t **exprs;
  bool top_level; /* no dotted path: the fast path applies */
} add_fields_t;

#define FAST_MAX 64

void aspd_add_fields_free_spec(void *spec) {
  add_fields_t *a = spec;
  for (size_t i = 0; i < a->count; i++) {
    free(a->paths[i]);
    aspd_expr_free(a->exprs[i]);
  }
  free(a->paths);
  free(a->path_lens);
  free(a->exprs);
  free(a);
}

/* Nested documents without operators are paths too: {a: {b: 1}} sets a.b. */
static bool add_spec(add_fields_t *a, const bson_value_t *spec, const char *prefix,
                     aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  bson_iter_t it;
  bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    size_t plen = strlen(prefix) + strlen(key) + 2;
    char *path = malloc(plen);
    snprintf(path, plen, "%s%s%s", prefix, *prefix ? "." : "", key);
    const bson_value_t *v = bson_iter_value(&it);
    bson_iter_t inner;
    if (v->value_type == BSON_TYPE_DOCUMENT &&
        bson_iter_init_from_data(&inner, v->value.v_doc.data, v->value.v_doc.data_len) &&
        bson_iter_next(&inner) && bson_iter_key(&inner)[0] != '$') {
      bool ok = add_spec(a, v, path, ctx, err);
      free(path);
      if (!ok) return false;
      continue;
    }
    aspd_expr_t *e = aspd_expr_compile(ctx->cc, v, err);
    if (!e) {
      free(path);
      return false;
    }
    a->paths = realloc(a->paths, (a->count + 1) * sizeof *a->paths);
    a->exprs = realloc(a->exprs, (a->count + 1) * sizeof *a->exprs);
    a->paths[a->count] = path;
    a->exprs[a->count++] = e;
  }
  return true;
}

void *aspd_add_fields_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  bson_iter_t copy = *value;
  const bson_value_t *spec = bson_iter_value(&copy);
  if (spec->value.v_doc.data_len <= 5) {
    aspd_error_set(err, ASPD_E_LOCATION(40177),
                   "Invalid %s :: caused by :: specification must have at least one field",
                   ctx->name);
    return NULL;
  }
  add_fields_t *a = calloc(1, sizeof *a);
  if (!add_spec(a, spec, "", ctx, err)) {
    aspd_add_fields_free_spec(a);
    return NULL;
  }
  a->path_lens = calloc(a->count, sizeof *a->path_lens);
  a->top_level = a->count <= FAST_MAX;
  for (size_t i = 0; i < a->count; i++) {
    a->path_lens[i] = strlen(a->paths[i]);
    if (strchr(a->paths[i], '.')) a->top_level = false;
  }
  return a;
}

/* One field of the input: copied, or replaced by the spec's value for it. */
static void put_field(const add_fields_t *a, const bson_value_t *values, bool *used,
                      const aspd_raw_iter_t *it, aspd_raw_out_t *out) {
  size_t i = a->count;
  /* A later field of the spec wins over an earlier one of the same name. */
  for (size_t j = a->count; j-- > 0;) {
    if (a->path_lens[j] == it->key_len && !memcmp(a->paths[j], it->key, it->key_len)) {
      i = j;
      break;
    }
  }
  if (i == a->count) {
    aspd_raw_put_elem(out, it);
    return;
  }
  for (size_t j = 0; j < a->count; j++) {
    if (a->path_lens[j] == it->key_len && !memcmp(a->paths[j], it->key, it->key_len)) {
      used[j] = true;
    }
  }
  aspd_raw_put_value(out, it->key, it->key_len, &values[i]);
}

/* Top-level fields only: one pass over the document replaces or removes the
 * fields it has, then the new ones follow in spec order. The document's fields
 * are indexed once for the expressions and that pass. */
static bool push_top_level(const add_fields_t *a, const bson_t *doc, aspd_eval_t *ev,
                           aspd_raw_out_t *out) {
  bson_value_t values[FAST_MAX];
  bool used[FAST_MAX] = {false};
  aspd_raw_index_t index;
  bool indexed = aspd_raw_index(&index, doc);
  ev->root = doc;
  ev->root_index = indexed ? &index : NULL;
  for (size_t i = 0; i < a->count; i++) {
    if (!aspd_expr_eval(a->exprs[i], ev, &values[i])) {
      ev->root_index = NULL;
      return false;
    }
  }
  ev->root_index = NULL;
  if (indexed) {
    for (size_t f = 0; f < index.count; f++) put_field(a, values, used, &index.fields[f], out);
  } else {
    aspd_raw_iter_t it;
    aspd_raw_init(&it, bson_get_data(doc), doc->len);
    while (aspd_raw_next(&it)) put_field(a, values, used, &it, out);
  }
  for (size_t i = 0; i < a->count; i++) {
    if (used[i]) continue;
    size_t last = i;
    for (size_t j = i + 1; j < a->count; j++) {
      if (a->path_lens[j] == a->path_lens[i] && !strcmp(a->paths[j], a->paths[i])) {
        used[j] = true;
        last = j;
      }
    }
    aspd_raw_put_value(out, a->paths[i], a->path_lens[i], &values[last]);
  }
  return true;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const add_fields_t *a = ((aspd_stateless_op_t *)op)->spec;
  if (a->top_level) {
    aspd_raw_out_t w;
    aspd_raw_out_init(&w);
    if (push_top_level(a, doc, flow->ev, &w)) {
      bson_t *out = aspd_doc_new(flow->ev);
      aspd_raw_finish(&w, out);
      aspd_flow_emit(flow, out);
    } else {
      aspd_raw_out_free(&w);
      aspd_flow_reject(flow, doc, flow->ev->reason);
    }
    aspd_doc_release(flow->ev, doc);
    return;
  }
  bson_t values = BSON_INITIALIZER, removed = BSON_INITIALIZER;
  uint32_t nremoved = 0;
  flow->ev->root = doc;
  for (size_t i = 0; i < a->count; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(a->exprs[i], flow->ev, &v)) {
      aspd_flow_reject(flow, doc, flow->ev->reason);
      bson_destroy(&values);
      bson_destroy(&removed);
      bson_destroy(doc);
      return;
    }
    if (v.value_type == BSON_TYPE_EOD) {
      char key[16];
      const char *k;
      size_t klen = bson_uint32_to_string(nremoved++, &k, key, sizeof key);
      bson_append_utf8(&removed, k, (int)klen, a->paths[i], -1);
    } else {
      bson_append_value(&values, a->paths[i], -1, &v);
    }
  }
  bson_t *out = bson_new();
  if (nremoved) {
    bson_t kept = BSON_INITIALIZER;
    aspd_remove_paths(doc, &removed, &kept);
    aspd_set_paths(&kept, &values, out);
    bson_destroy(&kept);
  } else {
    aspd_set_paths(doc, &values, out);
  }
  bson_destroy(&values);
  bson_destroy(&removed);
  bson_destroy(doc);
  aspd_flow_emit(flow, out);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_add_fields_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}
