/* $sort: holds the documents until flush, then hands them on in BSON order
 * (missing sorts as null; an array sorts by its smallest element ascending,
 * by its largest descending). Equal keys keep their arrival order. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/held_docs.h"
#include "engine/ops/stages.h"

typedef struct {
  size_t count;
  char **paths;
  int *dirs;
} sort_spec_t;

typedef struct {
  bson_t *doc;
  size_t arrival;
} sort_item_t;

typedef struct {
  aspd_op_t base;
  const sort_spec_t *spec;
  aspd_held_docs_t held;
} sort_op_t;

void aspd_sort_free_spec(void *spec) {
  sort_spec_t *s = spec;
  for (size_t i = 0; i < s->count; i++) free(s->paths[i]);
  free(s->paths);
  free(s->dirs);
  free(s);
}

void *aspd_sort_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_LOCATION(15973), "the %s key specification must be an object",
                   ctx->name);
    return NULL;
  }
  sort_spec_t *s = calloc(1, sizeof *s);
  bson_iter_t it;
  bson_iter_recurse(value, &it);
  while (bson_iter_next(&it)) {
    int64_t dir = BSON_ITER_HOLDS_NUMBER(&it) ? aspd_iter_as_int64(&it) : 0;
    if (dir != 1 && dir != -1) {
      aspd_error_set(err, ASPD_E_LOCATION(15975),
                     "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
      aspd_sort_free_spec(s);
      return NULL;
    }
    s->paths = realloc(s->paths, (s->count + 1) * sizeof *s->paths);
    s->dirs = realloc(s->dirs, (s->count + 1) * sizeof *s->dirs);
    s->paths[s->count] = strdup(bson_iter_key(&it));
    s->dirs[s->count++] = (int)dir;
  }
  if (!s->count) {
    aspd_error_set(err, ASPD_E_LOCATION(15976), "$sort stage must have at least one sort key");
    aspd_sort_free_spec(s);
    return NULL;
  }
  return s;
}

/* The sort key of one document for one path. */
static bson_value_t sort_key(const bson_t *doc, const char *path, int dir) {
  bson_value_t v = {.value_type = BSON_TYPE_NULL};
  bson_iter_t it, found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &found)) return v;
  v = *bson_iter_value(&found);
  if (v.value_type != BSON_TYPE_ARRAY) return v;
  bson_iter_t el;
  bson_iter_recurse(&found, &el);
  bool any = false;
  bson_value_t best = {.value_type = BSON_TYPE_UNDEFINED}; /* [] sorts below null */
  while (bson_iter_next(&el)) {
    const bson_value_t *e = bson_iter_value(&el);
    if (!any || aspd_value_cmp(e, &best) * dir < 0) best = *e;
    any = true;
  }
  return best;
}

static int compare_items(const void *pa, const void *pb, void *arg) {
  const sort_item_t *a = pa, *b = pb;
  const sort_spec_t *s = arg;
  for (size_t i = 0; i < s->count; i++) {
    bson_value_t va = sort_key(a->doc, s->paths[i], s->dirs[i]);
    bson_value_t vb = sort_key(b->doc, s->paths[i], s->dirs[i]);
    int c = aspd_value_cmp(&va, &vb);
    if (c) return c * s->dirs[i];
  }
  return a->arrival < b->arrival ? -1 : 1;
}

static void push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  (void)flow;
  aspd_held_docs_add(&((sort_op_t *)op)->held, doc);
}

static void flush(aspd_op_t *op, const aspd_flush_t *why, aspd_flow_t *flow) {
  (void)why;
  sort_op_t *s = (sort_op_t *)op;
  size_t n;
  bson_t **docs = aspd_held_docs_take(&s->held, &n);
  sort_item_t *items = malloc(n * sizeof *items);
  for (size_t i = 0; i < n; i++) items[i] = (sort_item_t){docs[i], i};
  free(docs);
  qsort_r(items, n, sizeof *items, compare_items, (void *)(uintptr_t)s->spec);
  for (size_t i = 0; i < n; i++) aspd_flow_emit(flow, items[i].doc);
  free(items);
}

static int64_t state_bytes(const aspd_op_t *op) {
  return ((const sort_op_t *)op)->held.bytes;
}

/* {docs: [...]} in arrival order. */
static void checkpoint(const aspd_op_t *op, bson_t *out) {
  aspd_held_docs_save(&((const sort_op_t *)op)->held, out, "docs");
}

static bool restore(aspd_op_t *op, const bson_t *state) {
  return aspd_held_docs_load(&((sort_op_t *)op)->held, state, "docs");
}

static void sort_free(aspd_op_t *op) {
  sort_op_t *s = (sort_op_t *)op;
  aspd_held_docs_clear(&s->held);
  free(s);
}

static const aspd_op_vtable_t vt = {.push = push,
                                    .flush = flush,
                                    .state_bytes = state_bytes,
                                    .free = sort_free,
                                    .checkpoint = checkpoint,
                                    .restore = restore};

aspd_op_t *aspd_sort_make(const void *spec) {
  sort_op_t *s = calloc(1, sizeof *s);
  s->base.vt = &vt;
  s->spec = spec;
  return &s->base;
}
