/* $unwind: one document per element of the array at a path. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"

typedef struct {
  char *path;  /* without the leading '$' */
  char *index; /* includeArrayIndex, or NULL */
  bool preserve;
} unwind_t;

void aspd_unwind_free_spec(void *spec) {
  unwind_t *u = spec;
  free(u->path);
  free(u->index);
  free(u);
}

void *aspd_unwind_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  (void)ctx;
  const char *path = NULL, *index = NULL;
  bool preserve = false;
  if (BSON_ITER_HOLDS_UTF8(value)) {
    path = bson_iter_utf8(value, NULL);
  } else if (BSON_ITER_HOLDS_DOCUMENT(value)) {
    bson_iter_t it;
    bson_iter_recurse(value, &it);
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      if (!strcmp(k, "path") && BSON_ITER_HOLDS_UTF8(&it)) {
        path = bson_iter_utf8(&it, NULL);
      } else if (!strcmp(k, "includeArrayIndex") && BSON_ITER_HOLDS_UTF8(&it)) {
        index = bson_iter_utf8(&it, NULL);
      } else if (!strcmp(k, "preserveNullAndEmptyArrays") && BSON_ITER_HOLDS_BOOL(&it)) {
        preserve = bson_iter_bool(&it);
      } else {
        aspd_error_set(err, ASPD_E_LOCATION(28811), "unrecognized option to $unwind stage: %s", k);
        return NULL;
      }
    }
  } else {
    aspd_error_set(err, ASPD_E_LOCATION(15981),
                   "expected either a string or an object as specification for $unwind stage, "
                   "got %s",
                   aspd_type_name(bson_iter_type(value)));
    return NULL;
  }
  if (!path) {
    aspd_error_set(err, ASPD_E_LOCATION(28812), "no path specified to $unwind stage");
    return NULL;
  }
  if (path[0] != '$' || !path[1]) {
    aspd_error_set(err, ASPD_E_LOCATION(28818),
                   "path option to $unwind stage should be prefixed with a '$': %s", path);
    return NULL;
  }
  unwind_t *u = calloc(1, sizeof *u);
  u->path = strdup(path + 1);
  u->index = index ? strdup(index) : NULL;
  u->preserve = preserve;
  return u;
}

static void emit_with(aspd_flow_t *flow, const bson_t *doc, const unwind_t *u,
                      const bson_value_t *value, int64_t i) {
  bson_t values = BSON_INITIALIZER;
  if (value) bson_append_value(&values, u->path, -1, value);
  if (u->index && i >= 0) bson_append_int64(&values, u->index, -1, i);
  if (u->index && i < 0) bson_append_null(&values, u->index, -1);
  bson_t *out = bson_new();
  aspd_set_paths(doc, &values, out);
  bson_destroy(&values);
  aspd_flow_emit(flow, out);
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  const unwind_t *u = ((aspd_stateless_op_t *)op)->spec;
  bson_iter_t it, found;
  bool present = bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, u->path, &found);
  if (!present || BSON_ITER_HOLDS_NULL(&found)) {
    if (u->preserve) emit_with(flow, doc, u, NULL, -1);
  } else if (!BSON_ITER_HOLDS_ARRAY(&found)) { /* a scalar unwinds to itself */
    emit_with(flow, doc, u, bson_iter_value(&found), -1);
  } else {
    bson_iter_t element;
    bson_iter_recurse(&found, &element);
    int64_t i = 0;
    for (; bson_iter_next(&element); i++) emit_with(flow, doc, u, bson_iter_value(&element), i);
    if (i == 0 && u->preserve) {
      /* An empty array is kept as a document without the field. */
      bson_t *out = bson_new(), paths = BSON_INITIALIZER;
      BSON_APPEND_UTF8(&paths, "0", u->path);
      aspd_remove_paths(doc, &paths, out);
      bson_destroy(&paths);
      if (u->index) BSON_APPEND_NULL(out, u->index);
      aspd_flow_emit(flow, out);
    }
  }
  bson_destroy(doc);
}

static const aspd_op_vtable_t vt = {.push = push, .free = aspd_stateless_free};

aspd_op_t *aspd_unwind_make(const void *spec) {
  return aspd_stateless_make(&vt, spec);
}
