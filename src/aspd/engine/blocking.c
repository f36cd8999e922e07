#include "engine/blocking.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/expr.h"
#include "engine/match.h"
#include "engine/transform.h"

void aspd_doc_list_push(aspd_doc_list_t *list, bson_t *doc) {
  if (list->count == list->cap) {
    list->cap = list->cap ? list->cap * 2 : 16;
    list->docs = realloc(list->docs, list->cap * sizeof *list->docs);
  }
  list->docs[list->count++] = doc;
}

void aspd_doc_list_clear(aspd_doc_list_t *list) {
  for (size_t i = 0; i < list->count; i++) bson_destroy(list->docs[i]);
  free(list->docs);
  list->docs = NULL;
  list->count = list->cap = 0;
}

static const char *const accumulators[] = {"$sum",   "$avg",  "$min",  "$max",     "$count",
                                           "$first", "$last", "$push", "$addToSet"};
static const char *const stateless[] = {"$match", "$project",     "$addFields",   "$set",
                                        "$unset", "$replaceRoot", "$replaceWith", "$unwind"};
static const char *const not_in_window[] = {"$source",         "$merge",         "$emit",
                                            "$tumblingWindow", "$hoppingWindow", "$sessionWindow",
                                            "$cachedLookup",   "$setStreamMeta"};
static const char *const unimplemented[] = {"$validate", "$lookup", "$redact", "$https",
                                            "$externalFunction"};

static bool listed(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(name, list[i])) return true;
  }
  return false;
}
#define LISTED(name, list) listed(name, list, sizeof list / sizeof list[0])

static bool validate_group(const bson_t *spec, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, "_id")) {
    aspd_error_set(err, 15955, "Location15955", "a group specification must specify an _id");
    return false;
  }
  if (!aspd_expr_validate(bson_iter_value(&it), err)) return false;
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    const char *field = bson_iter_key(&it);
    if (!strcmp(field, "_id")) continue;
    if (strchr(field, '.')) {
      aspd_error_set(err, 40235, "Location40235", "The field name '%s' cannot contain '.'", field);
      return false;
    }
    bson_iter_t acc;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &acc) || !bson_iter_next(&acc)) {
      aspd_error_set(err, 40234, "Location40234", "The field '%s' must be an accumulator object",
                     field);
      return false;
    }
    if (!LISTED(bson_iter_key(&acc), accumulators)) {
      aspd_error_set(err, 15952, "Location15952", "unknown group operator '%s'",
                     bson_iter_key(&acc));
      return false;
    }
    if (!aspd_expr_validate(bson_iter_value(&acc), err)) return false;
  }
  return true;
}

static bool validate_stage(const char *stage, bson_iter_t *value, aspd_error_t *err) {
  bson_t spec;
  const uint8_t *data;
  uint32_t len;
  bool is_doc = BSON_ITER_HOLDS_DOCUMENT(value);
  if (is_doc) {
    bson_iter_document(value, &len, &data);
    bson_init_static(&spec, data, len);
  }
  if (!strcmp(stage, "$limit")) {
    if (!BSON_ITER_HOLDS_NUMBER(value) || bson_iter_as_int64(value) <= 0) {
      aspd_error_set(err, 15958, "Location15958", "the limit must be positive");
      return false;
    }
    return true;
  }
  if (!strcmp(stage, "$count")) {
    const char *name = BSON_ITER_HOLDS_UTF8(value) ? bson_iter_utf8(value, NULL) : "";
    if (!*name || name[0] == '$' || strchr(name, '.')) {
      aspd_error_set(err, 40156, "Location40156", "the count field must be a non-empty string");
      return false;
    }
    return true;
  }
  if (!strcmp(stage, "$unset")) {
    if (BSON_ITER_HOLDS_UTF8(value) || BSON_ITER_HOLDS_ARRAY(value)) return true;
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "$unset specification must be a string or an array");
    return false;
  }
  if (!strcmp(stage, "$replaceWith")) return aspd_expr_validate(bson_iter_value(value), err);
  if (!strcmp(stage, "$unwind")) {
    bson_t normalised = BSON_INITIALIZER;
    bool ok = aspd_unwind_plan(bson_iter_value(value), &normalised, err);
    bson_destroy(&normalised);
    return ok;
  }
  if (!is_doc) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", stage);
    return false;
  }
  if (!strcmp(stage, "$group")) return validate_group(&spec, err);
  if (!strcmp(stage, "$sort")) {
    bson_iter_t it;
    bool any = false;
    bson_iter_init(&it, &spec);
    while (bson_iter_next(&it)) {
      any = true;
      int64_t dir = BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
      if (dir != 1 && dir != -1) {
        aspd_error_set(err, 15975, "Location15975",
                       "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
        return false;
      }
    }
    if (!any)
      aspd_error_set(err, 15976, "Location15976", "$sort stage must have at least one sort key");
    return any;
  }
  if (!strcmp(stage, "$match")) return aspd_match_validate(&spec, err);
  if (!strcmp(stage, "$project")) return aspd_project_validate(&spec, err);
  if (!strcmp(stage, "$replaceRoot")) {
    bson_iter_t root;
    if (!bson_iter_init_find(&root, &spec, "newRoot")) {
      aspd_error_set(err, 40231, "Location40231",
                     "no newRoot specified for the $replaceRoot stage");
      return false;
    }
    return aspd_expr_validate(bson_iter_value(&root), err);
  }
  return aspd_add_fields_validate(&spec, stage, err);
}

bool aspd_inner_pipeline_validate(const bson_t *pipeline, aspd_error_t *err) {
  bson_iter_t it;
  bson_iter_init(&it, pipeline);
  while (bson_iter_next(&it)) {
    bson_iter_t stage;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &stage) ||
        !bson_iter_next(&stage)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "A pipeline stage specification object must contain exactly one field.");
      return false;
    }
    bson_iter_t value = stage;
    const char *name = bson_iter_key(&stage);
    if (bson_iter_next(&stage)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "A pipeline stage specification object must contain exactly one field.");
      return false;
    }
    if (LISTED(name, not_in_window)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "%s stage is not permitted in the inner pipeline of a window stage", name);
      return false;
    }
    if (LISTED(name, unimplemented)) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s is not supported by aspd yet", name);
      return false;
    }
    bool blocking = !strcmp(name, "$group") || !strcmp(name, "$sort") || !strcmp(name, "$limit") ||
                    !strcmp(name, "$count");
    if (!blocking && !LISTED(name, stateless)) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unsupported stage: %s", name);
      return false;
    }
    if (!validate_stage(name, &value, err)) return false;
  }
  return true;
}

/* --- $group ------------------------------------------------------------ */

typedef struct {
  const char *op;
  double sum;
  int64_t count;
  bool any_double, all_int32;
  bson_t *value; /* {v: ...} for $min $max $first $last */
  bson_t *items; /* array for $push and $addToSet */
  uint32_t item_count;
} acc_state_t;

typedef struct {
  bson_t *id; /* {v: <_id>} */
  acc_state_t *accs;
} group_t;

static void set_value(acc_state_t *a, const bson_value_t *v) {
  if (a->value) bson_destroy(a->value);
  a->value = bson_new();
  bson_append_value(a->value, "v", -1, v);
}

static const bson_value_t *held_value(const acc_state_t *a, bson_iter_t *it) {
  if (!a->value || !bson_iter_init_find(it, a->value, "v")) return NULL;
  return bson_iter_value(it);
}

static bool contains(const bson_t *items, const bson_value_t *v) {
  bson_iter_t it;
  bson_iter_init(&it, items);
  while (bson_iter_next(&it)) {
    bool comparable;
    if (!aspd_value_compare(bson_iter_value(&it), v, &comparable) && comparable) return true;
  }
  return false;
}

static void accumulate(acc_state_t *a, const bson_value_t *v) {
  bool numeric = v && (v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
                       v->value_type == BSON_TYPE_DOUBLE);
  bool nullish = !v || v->value_type == BSON_TYPE_NULL;
  if (!strcmp(a->op, "$count")) {
    a->sum += 1;
  } else if (!strcmp(a->op, "$sum") || !strcmp(a->op, "$avg")) {
    if (numeric) {
      a->sum += v->value_type == BSON_TYPE_INT32   ? v->value.v_int32
                : v->value_type == BSON_TYPE_INT64 ? (double)v->value.v_int64
                                                   : v->value.v_double;
      a->count++;
      a->any_double = a->any_double || v->value_type == BSON_TYPE_DOUBLE;
      a->all_int32 = a->all_int32 && v->value_type == BSON_TYPE_INT32;
    }
  } else if (!strcmp(a->op, "$min") || !strcmp(a->op, "$max")) {
    if (nullish) return;
    bson_iter_t held;
    const bson_value_t *cur = held_value(a, &held);
    bool comparable;
    int c = cur ? aspd_value_compare(v, cur, &comparable) : 0;
    if (!cur || (comparable && (a->op[2] == 'i' ? c < 0 : c > 0))) set_value(a, v);
  } else if (!strcmp(a->op, "$first")) {
    if (!a->value) set_value(a, v ? v : &(bson_value_t){.value_type = BSON_TYPE_NULL});
  } else if (!strcmp(a->op, "$last")) {
    set_value(a, v ? v : &(bson_value_t){.value_type = BSON_TYPE_NULL});
  } else if (v && (!strcmp(a->op, "$push") || !contains(a->items, v))) {
    char key[16];
    const char *k;
    bson_uint32_to_string(a->item_count++, &k, key, sizeof key);
    bson_append_value(a->items, k, -1, v);
  }
}

static void append_result(acc_state_t *a, bson_t *out, const char *field) {
  bson_iter_t held;
  if (!strcmp(a->op, "$count")) {
    bson_append_int32(out, field, -1, (int32_t)a->sum);
  } else if (!strcmp(a->op, "$sum")) {
    if (a->any_double) {
      bson_append_double(out, field, -1, a->sum);
    } else if (a->all_int32 && a->sum >= INT32_MIN && a->sum <= INT32_MAX) {
      bson_append_int32(out, field, -1, (int32_t)a->sum);
    } else {
      bson_append_int64(out, field, -1, (int64_t)a->sum);
    }
  } else if (!strcmp(a->op, "$avg")) {
    if (a->count) {
      bson_append_double(out, field, -1, a->sum / (double)a->count);
    } else {
      bson_append_null(out, field, -1);
    }
  } else if (a->items) {
    bson_append_array(out, field, -1, a->items);
  } else if (held_value(a, &held)) {
    bson_append_value(out, field, -1, bson_iter_value(&held));
  } else {
    bson_append_null(out, field, -1);
  }
}

static void run_group(const bson_t *spec, aspd_doc_list_t *docs) {
  group_t *groups = NULL;
  size_t ngroups = 0, nacc = 0;
  bson_iter_t it, id_expr;
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) nacc += strcmp(bson_iter_key(&it), "_id") != 0;
  bson_iter_init_find(&id_expr, spec, "_id");
  char reason[256];
  for (size_t d = 0; d < docs->count; d++) {
    bson_t *id = bson_new();
    if (aspd_expr_append(bson_iter_value(&id_expr), docs->docs[d], id, "v", reason,
                         sizeof reason) == ASPD_EXPR_MISSING) {
      bson_append_null(id, "v", -1);
    }
    group_t *g = NULL;
    for (size_t i = 0; i < ngroups && !g; i++) {
      if (groups[i].id->len == id->len &&
          !memcmp(bson_get_data(groups[i].id), bson_get_data(id), id->len)) {
        g = &groups[i];
      }
    }
    if (g) {
      bson_destroy(id);
    } else {
      groups = realloc(groups, (ngroups + 1) * sizeof *groups);
      g = &groups[ngroups++];
      g->id = id;
      g->accs = calloc(nacc ? nacc : 1, sizeof *g->accs);
      size_t a = 0;
      bson_iter_init(&it, spec);
      while (bson_iter_next(&it)) {
        if (!strcmp(bson_iter_key(&it), "_id")) continue;
        bson_iter_t acc;
        bson_iter_recurse(&it, &acc);
        bson_iter_next(&acc);
        g->accs[a].op = bson_iter_key(&acc);
        g->accs[a].all_int32 = true;
        if (!strcmp(g->accs[a].op, "$push") || !strcmp(g->accs[a].op, "$addToSet")) {
          g->accs[a].items = bson_new();
        }
        a++;
      }
    }
    size_t a = 0;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
      if (!strcmp(bson_iter_key(&it), "_id")) continue;
      bson_iter_t acc, v;
      bson_iter_recurse(&it, &acc);
      bson_iter_next(&acc);
      bson_t holder = BSON_INITIALIZER;
      aspd_expr_append(bson_iter_value(&acc), docs->docs[d], &holder, "v", reason, sizeof reason);
      accumulate(&g->accs[a++], bson_iter_init_find(&v, &holder, "v") ? bson_iter_value(&v) : NULL);
      bson_destroy(&holder);
    }
  }
  aspd_doc_list_t out = {0};
  for (size_t i = 0; i < ngroups; i++) {
    bson_t *doc = bson_new();
    bson_iter_t idv;
    bson_iter_init_find(&idv, groups[i].id, "v");
    bson_append_value(doc, "_id", -1, bson_iter_value(&idv));
    size_t a = 0;
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
      if (strcmp(bson_iter_key(&it), "_id"))
        append_result(&groups[i].accs[a++], doc, bson_iter_key(&it));
    }
    aspd_doc_list_push(&out, doc);
    for (size_t k = 0; k < nacc; k++) {
      if (groups[i].accs[k].value) bson_destroy(groups[i].accs[k].value);
      if (groups[i].accs[k].items) bson_destroy(groups[i].accs[k].items);
    }
    free(groups[i].accs);
    bson_destroy(groups[i].id);
  }
  free(groups);
  aspd_doc_list_clear(docs);
  *docs = out;
}

/* --- $sort ------------------------------------------------------------- */

typedef struct {
  bson_t *doc;
  size_t arrival; /* equal keys keep their arrival order */
} sort_item_t;

static const bson_value_t *sort_field(const bson_t *doc, const char *path, bson_iter_t *found) {
  static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  bson_iter_t it;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, found)) {
    return bson_iter_value(found);
  }
  return &null_value;
}

static int compare_items(const void *pa, const void *pb, void *arg) {
  const sort_item_t *a = pa, *b = pb;
  bson_iter_t key;
  bson_iter_init(&key, (const bson_t *)arg);
  while (bson_iter_next(&key)) {
    bson_iter_t fa, fb;
    const bson_value_t *va = sort_field(a->doc, bson_iter_key(&key), &fa);
    const bson_value_t *vb = sort_field(b->doc, bson_iter_key(&key), &fb);
    bool comparable;
    int c = aspd_value_compare(va, vb, &comparable);
    if (!comparable) c = va->value_type < vb->value_type ? -1 : 1;
    if (c) return bson_iter_as_int64(&key) < 0 ? -c : c;
  }
  return a->arrival < b->arrival ? -1 : 1;
}

static void run_sort(const bson_t *spec, aspd_doc_list_t *docs) {
  sort_item_t *items = malloc((docs->count ? docs->count : 1) * sizeof *items);
  for (size_t i = 0; i < docs->count; i++) items[i] = (sort_item_t){docs->docs[i], i};
  qsort_r(items, docs->count, sizeof *items, compare_items, (void *)(uintptr_t)spec);
  for (size_t i = 0; i < docs->count; i++) docs->docs[i] = items[i].doc;
  free(items);
}

/* --- the inner pipeline -------------------------------------------------- */

static void push_unwound(bson_t *doc, void *list) {
  aspd_doc_list_push(list, doc);
}

static void run_unwind(bson_iter_t *value, aspd_doc_list_t *docs) {
  aspd_doc_list_t out = {0};
  bson_t normalised = BSON_INITIALIZER;
  aspd_error_t ignored;
  if (aspd_unwind_plan(bson_iter_value(value), &normalised, &ignored)) {
    for (size_t i = 0; i < docs->count; i++) {
      aspd_unwind(docs->docs[i], &normalised, push_unwound, &out);
    }
  }
  bson_destroy(&normalised);
  aspd_doc_list_clear(docs);
  *docs = out;
}

static void run_stateless(const char *stage, bson_iter_t *value, aspd_doc_list_t *docs) {
  aspd_doc_list_t out = {0};
  bson_t spec;
  const uint8_t *data;
  uint32_t len;
  if (BSON_ITER_HOLDS_DOCUMENT(value)) {
    bson_iter_document(value, &len, &data);
    bson_init_static(&spec, data, len);
  } else {
    bson_init(&spec);
  }
  bson_t paths = BSON_INITIALIZER;
  if (!strcmp(stage, "$unset")) {
    if (BSON_ITER_HOLDS_UTF8(value)) {
      BSON_APPEND_UTF8(&paths, "0", bson_iter_utf8(value, NULL));
    } else {
      bson_iter_array(value, &len, &data);
      bson_destroy(&paths);
      bson_init_static(&paths, data, len);
    }
  }
  char reason[256];
  for (size_t i = 0; i < docs->count; i++) {
    bson_t *doc = docs->docs[i], *next = bson_new();
    bool keep = true;
    if (!strcmp(stage, "$match")) {
      keep = aspd_match(doc, &spec);
      if (keep) bson_concat(next, doc);
    } else if (!strcmp(stage, "$project")) {
      keep = aspd_project(doc, &spec, next, reason, sizeof reason);
    } else if (!strcmp(stage, "$unset")) {
      aspd_remove_paths(doc, &paths, next);
    } else if (!strcmp(stage, "$replaceRoot") || !strcmp(stage, "$replaceWith")) {
      bson_iter_t root = *value;
      if (stage[8] == 'R') bson_iter_init_find(&root, &spec, "newRoot");
      keep = aspd_replace_root(doc, bson_iter_value(&root), next, reason, sizeof reason);
    } else {
      keep = aspd_add_fields(doc, &spec, next, reason, sizeof reason);
    }
    if (keep) {
      aspd_doc_list_push(&out, next);
    } else {
      bson_destroy(next);
    }
  }
  bson_destroy(&paths);
  aspd_doc_list_clear(docs);
  *docs = out;
}

void aspd_inner_pipeline_run(const bson_t *pipeline, aspd_doc_list_t *docs) {
  bson_iter_t it;
  bson_iter_init(&it, pipeline);
  while (bson_iter_next(&it)) {
    bson_iter_t stage;
    bson_iter_recurse(&it, &stage);
    bson_iter_next(&stage);
    const char *name = bson_iter_key(&stage);
    if (!strcmp(name, "$group")) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&stage, &len, &data);
      bson_t spec;
      bson_init_static(&spec, data, len);
      run_group(&spec, docs);
    } else if (!strcmp(name, "$sort")) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&stage, &len, &data);
      bson_t spec;
      bson_init_static(&spec, data, len);
      run_sort(&spec, docs);
    } else if (!strcmp(name, "$limit")) {
      size_t n = (size_t)bson_iter_as_int64(&stage);
      while (docs->count > n) bson_destroy(docs->docs[--docs->count]);
    } else if (!strcmp(name, "$count")) {
      size_t n = docs->count;
      aspd_doc_list_clear(docs);
      if (n)
        aspd_doc_list_push(docs, BCON_NEW(bson_iter_utf8(&stage, NULL), BCON_INT32((int32_t)n)));
    } else if (!strcmp(name, "$unwind")) {
      run_unwind(&stage, docs);
    } else {
      run_stateless(name, &stage, docs);
    }
  }
}
