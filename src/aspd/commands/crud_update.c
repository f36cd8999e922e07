/* Update documents of the update command: update operators (one row each in the
 * table below), replacement documents, and update pipelines (run by the engine's
 * batch runner). Operators read the document as it was before the update and
 * collect what they set and unset; both are applied at the end with the
 * engine's dotted-path helpers. $pull's conditions are the engine's queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/crud.h"
#include "engine/engine.h"
#include "engine/expr/query.h"
#include "engine/expr/values.h"
#include "engine/ops/stages.h"

#define ASPD_E_DOLLAR_PREFIXED 52, "DollarPrefixedFieldName"
#define ASPD_E_IMMUTABLE_FIELD 66, "ImmutableField"

/* What the operators of one update collect. */
typedef struct {
  const bson_t *doc; /* before the update */
  bool inserting;
  bson_t sets;   /* dotted path -> new value */
  bson_t unsets; /* array of dotted paths */
  uint32_t unset_count;
} change_t;

typedef bool (*op_fn)(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err);

/* The value at a dotted path of the document before the update; false when missing. */
static bool current(const change_t *c, const char *path, bson_iter_t *out) {
  bson_iter_t it;
  return bson_iter_init(&it, c->doc) && bson_iter_find_descendant(&it, path, out);
}

/* The document's _id as JSON, for error texts (static storage). */
static const char *id_text(const change_t *c) {
  static __thread char text[256];
  bson_iter_t it;
  snprintf(text, sizeof text, "{}");
  if (bson_iter_init_find(&it, c->doc, "_id")) {
    bson_t one = BSON_INITIALIZER;
    bson_append_value(&one, "_id", 3, bson_iter_value(&it));
    char *json = bson_as_relaxed_extended_json(&one, NULL);
    snprintf(text, sizeof text, "%s", json);
    bson_free(json);
    bson_destroy(&one);
  }
  return text;
}

static void set_value(change_t *c, const char *path, const bson_value_t *v) {
  bson_append_value(&c->sets, path, -1, v);
}

/* Sets path to the array built in list, and destroys list. */
static void set_array(change_t *c, const char *path, bson_t *list) {
  bson_value_t v = {.value_type = BSON_TYPE_ARRAY};
  v.value.v_doc.data = (uint8_t *)(uintptr_t)bson_get_data(list);
  v.value.v_doc.data_len = list->len;
  set_value(c, path, &v);
  bson_destroy(list);
}

static bool op_set(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  (void)err;
  set_value(c, path, bson_iter_value(arg));
  return true;
}

static bool op_set_on_insert(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  return !c->inserting || op_set(c, path, arg, err);
}

static bool op_unset(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  (void)arg;
  (void)err;
  char key[16];
  const char *k;
  bson_uint32_to_string(c->unset_count++, &k, key, sizeof key);
  bson_append_utf8(&c->unsets, k, -1, path, -1);
  return true;
}

/* a + b with MongoDB's promotion: int32 while it fits, then int64, double when
 * either is a double. */
static bool add_numbers(const bson_value_t *a, const bson_value_t *b, bson_value_t *out) {
  if (a->value_type == BSON_TYPE_DECIMAL128 || b->value_type == BSON_TYPE_DECIMAL128) return false;
  if (a->value_type == BSON_TYPE_DOUBLE || b->value_type == BSON_TYPE_DOUBLE) {
    out->value_type = BSON_TYPE_DOUBLE;
    out->value.v_double = aspd_value_as_double(a) + aspd_value_as_double(b);
    return true;
  }
  int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
  int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
  int64_t sum;
  if (__builtin_add_overflow(x, y, &sum)) {
    out->value_type = BSON_TYPE_DOUBLE;
    out->value.v_double = (double)x + (double)y;
  } else if (a->value_type == BSON_TYPE_INT32 && b->value_type == BSON_TYPE_INT32 &&
             sum >= INT32_MIN && sum <= INT32_MAX) {
    out->value_type = BSON_TYPE_INT32;
    out->value.v_int32 = (int32_t)sum;
  } else {
    out->value_type = BSON_TYPE_INT64;
    out->value.v_int64 = sum;
  }
  return true;
}

static bool op_inc(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  const bson_value_t *by = bson_iter_value(arg);
  if (!aspd_value_is_number(by)) {
    aspd_error_set(err, ASPD_E_TYPE_MISMATCH,
                   "Cannot increment with non-numeric argument: {%s: %s}", path,
                   aspd_value_type_name(by));
    return false;
  }
  bson_iter_t it;
  if (!current(c, path, &it)) {
    set_value(c, path, by);
    return true;
  }
  bson_value_t sum;
  if (!aspd_value_is_number(bson_iter_value(&it)) || !add_numbers(bson_iter_value(&it), by, &sum)) {
    aspd_error_set(err, ASPD_E_TYPE_MISMATCH,
                   "Cannot apply $inc to a value of non-numeric type. %s has the field '%s' of "
                   "non-numeric type %s",
                   id_text(c), path, aspd_value_type_name(bson_iter_value(&it)));
    return false;
  }
  set_value(c, path, &sum);
  return true;
}

/* The array at path before the update (an empty one when missing) into *items;
 * false with err when there is something else. */
static bool current_array(change_t *c, const char *op, const char *path, bson_t *items,
                          aspd_error_t *err) {
  bson_iter_t it;
  if (!current(c, path, &it)) {
    bson_init(items);
    return true;
  }
  if (!BSON_ITER_HOLDS_ARRAY(&it)) {
    aspd_error_set(err, ASPD_E_BAD_VALUE,
                   "The field '%s' must be an array but is of type %s in document %s (%s)", path,
                   aspd_value_type_name(bson_iter_value(&it)), id_text(c), op);
    return false;
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_array(&it, &len, &data);
  bson_init_static(items, data, len);
  return true;
}

/* The values an argument adds: its $each array, or itself. */
static void added_values(const bson_iter_t *arg, bson_iter_t *values, bool *each) {
  bson_iter_t inner;
  *each = BSON_ITER_HOLDS_DOCUMENT(arg) && bson_iter_recurse(arg, &inner) &&
          bson_iter_find(&inner, "$each") && BSON_ITER_HOLDS_ARRAY(&inner) &&
          bson_iter_recurse(&inner, values);
  if (!*each) *values = *arg;
}

static void append_item(bson_t *array, uint32_t *n, const bson_value_t *v) {
  char key[16];
  const char *k;
  bson_uint32_to_string((*n)++, &k, key, sizeof key);
  bson_append_value(array, k, -1, v);
}

static bool contains(const bson_t *array, const bson_value_t *v) {
  bson_iter_t it;
  bson_iter_init(&it, array);
  while (bson_iter_next(&it)) {
    if (aspd_value_equal(bson_iter_value(&it), v)) return true;
  }
  return false;
}

static void add_one(bson_t *array, uint32_t *n, const bson_value_t *v, bool unique) {
  if (!unique || !contains(array, v)) append_item(array, n, v);
}

/* $push (unique false) and $addToSet (unique true). */
static bool add_items(change_t *c, const char *op, const char *path, bson_iter_t *arg, bool unique,
                      aspd_error_t *err) {
  bson_t items;
  if (!current_array(c, op, path, &items, err)) return false;
  bson_t out = BSON_INITIALIZER;
  uint32_t n = 0;
  bson_iter_t it;
  bson_iter_init(&it, &items);
  while (bson_iter_next(&it)) append_item(&out, &n, bson_iter_value(&it));
  bson_iter_t values;
  bool each;
  added_values(arg, &values, &each);
  if (!each) {
    add_one(&out, &n, bson_iter_value(&values), unique);
  } else {
    while (bson_iter_next(&values)) add_one(&out, &n, bson_iter_value(&values), unique);
  }
  set_array(c, path, &out);
  return true;
}

static bool op_push(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  return add_items(c, "$push", path, arg, false, err);
}

static bool op_add_to_set(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  return add_items(c, "$addToSet", path, arg, true, err);
}

/* A condition on whole documents ({field: ...}), as opposed to one on values
 * ({$gte: 5}) or a plain value. */
static bool is_document_query(const bson_iter_t *arg) {
  bson_iter_t inner;
  return BSON_ITER_HOLDS_DOCUMENT(arg) && bson_iter_recurse(arg, &inner) &&
         bson_iter_next(&inner) && bson_iter_key(&inner)[0] != '$';
}

static bool op_pull(change_t *c, const char *path, bson_iter_t *arg, aspd_error_t *err) {
  bson_iter_t it;
  if (!current(c, path, &it)) return true;
  if (!BSON_ITER_HOLDS_ARRAY(&it)) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "Cannot apply $pull to a non-array value");
    return false;
  }
  /* Elements are tested as documents against the condition, or wrapped as {v: element}
   * against {v: condition}: the engine's query language either way. */
  bool whole = is_document_query(arg);
  bson_t filter = BSON_INITIALIZER;
  if (whole) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(arg, &len, &data);
    bson_t cond;
    bson_init_static(&cond, data, len);
    bson_concat(&filter, &cond);
  } else {
    bson_append_value(&filter, "v", 1, bson_iter_value(arg));
  }
  aspd_query_t *q = aspd_query_compile(&filter, NULL, err);
  bson_destroy(&filter);
  if (!q) return false;
  bson_t out = BSON_INITIALIZER;
  uint32_t n = 0;
  bson_iter_t items;
  bson_iter_recurse(&it, &items);
  while (bson_iter_next(&items)) {
    bool gone;
    if (whole) {
      bson_t elem;
      const uint8_t *data;
      uint32_t len;
      gone = BSON_ITER_HOLDS_DOCUMENT(&items);
      if (gone) {
        bson_iter_document(&items, &len, &data);
        bson_init_static(&elem, data, len);
        gone = aspd_query_matches(q, &elem, NULL);
      }
    } else {
      bson_t wrapped = BSON_INITIALIZER;
      bson_append_value(&wrapped, "v", 1, bson_iter_value(&items));
      gone = aspd_query_matches(q, &wrapped, NULL);
      bson_destroy(&wrapped);
    }
    if (!gone) append_item(&out, &n, bson_iter_value(&items));
  }
  aspd_query_free(q);
  set_array(c, path, &out);
  return true;
}

static const struct {
  const char *name;
  op_fn apply;
} operators[] = {
    {"$set", op_set},   {"$setOnInsert", op_set_on_insert}, {"$unset", op_unset}, {"$inc", op_inc},
    {"$push", op_push}, {"$addToSet", op_add_to_set},       {"$pull", op_pull},
};

static op_fn find_operator(const char *name) {
  for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
    if (!strcmp(operators[i].name, name)) return operators[i].apply;
  }
  return NULL;
}

/* An update document whose fields are operators (else: a replacement). */
static bool has_operators(const bson_t *update) {
  bson_iter_t it;
  return bson_iter_init(&it, update) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

static void view(const bson_iter_t *it, bson_t *out) {
  const uint8_t *data;
  uint32_t len;
  bson_iter_t copy = *it;
  if (BSON_ITER_HOLDS_ARRAY(&copy)) {
    bson_iter_array(&copy, &len, &data);
  } else {
    bson_iter_document(&copy, &len, &data);
  }
  bson_init_static(out, data, len);
}

bool aspd_update_check(const bson_iter_t *update, aspd_error_t *err) {
  if (BSON_ITER_HOLDS_ARRAY(update)) return true; /* the planner checks the stages */
  if (!BSON_ITER_HOLDS_DOCUMENT(update)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "Update argument must be either an object or an array");
    return false;
  }
  bson_t u;
  view(update, &u);
  bool ops = has_operators(&u);
  bson_iter_t it;
  bson_iter_init(&it, &u);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (!ops) {
      if (key[0] == '$') {
        aspd_error_set(err, ASPD_E_DOLLAR_PREFIXED,
                       "The dollar ($) prefixed field '%s' in '%s' is not allowed in the context "
                       "of an update's replacement document.",
                       key, key);
        return false;
      }
      continue;
    }
    if (!find_operator(key)) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                     "Unknown modifier: %s. Expected a valid update modifier or pipeline-style "
                     "update specified as an array",
                     key);
      return false;
    }
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                     "Modifiers operate on fields but we found type %s instead. For example: "
                     "{$mod: {<field>: ...}} not {%s: ...}",
                     aspd_value_type_name(bson_iter_value(&it)), key);
      return false;
    }
  }
  return true;
}

static bool apply_operators(const bson_t *doc, const bson_t *u, bool inserting, bson_t *out,
                            aspd_error_t *err) {
  change_t c = {.doc = doc, .inserting = inserting};
  bson_init(&c.sets);
  bson_init(&c.unsets);
  bool ok = true;
  bson_iter_t op, field;
  bson_iter_init(&op, u);
  while (ok && bson_iter_next(&op)) {
    op_fn apply = find_operator(bson_iter_key(&op));
    bson_iter_recurse(&op, &field);
    while (ok && bson_iter_next(&field)) ok = apply(&c, bson_iter_key(&field), &field, err);
  }
  if (ok) {
    bson_t set = BSON_INITIALIZER;
    aspd_set_paths(doc, &c.sets, &set);
    aspd_remove_paths(&set, &c.unsets, out);
    bson_destroy(&set);
  }
  bson_destroy(&c.sets);
  bson_destroy(&c.unsets);
  return ok;
}

/* The replacement, with doc's _id first when it has one and the replacement none. */
static void replace(const bson_t *doc, const bson_t *replacement, bson_t *out) {
  bson_iter_t id;
  if (!bson_iter_init_find(&id, replacement, "_id") && bson_iter_init_find(&id, doc, "_id")) {
    bson_append_value(out, "_id", 3, bson_iter_value(&id));
  }
  bson_concat(out, replacement);
}

static bool run_pipeline(const aspd_registry_t *reg, const bson_t *doc, const bson_t *pipeline,
                         bson_t *out, aspd_error_t *err) {
  aspd_docs_t docs = {0};
  docs.docs = malloc(sizeof *docs.docs);
  docs.docs[docs.count++] = bson_copy(doc);
  bool ok = aspd_engine_run_batch(reg, NULL, NULL, pipeline, &docs, err);
  if (ok && docs.count != 1) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "an update pipeline must leave exactly one document");
    ok = false;
  }
  if (ok) bson_concat(out, docs.docs[0]);
  aspd_docs_free(&docs);
  return ok;
}

bool aspd_update_apply(const aspd_registry_t *reg, const bson_t *doc, const bson_iter_t *update,
                       bool inserting, bson_t *out, aspd_error_t *err) {
  bson_t u;
  view(update, &u);
  bool ok;
  if (BSON_ITER_HOLDS_ARRAY(update)) {
    ok = run_pipeline(reg, doc, &u, out, err);
  } else if (has_operators(&u)) {
    ok = apply_operators(doc, &u, inserting, out, err);
  } else {
    replace(doc, &u, out);
    ok = true;
  }
  bson_iter_t before, after;
  if (ok && bson_iter_init_find(&before, doc, "_id") &&
      (!bson_iter_init_find(&after, out, "_id") ||
       !aspd_value_equal(bson_iter_value(&before), bson_iter_value(&after)))) {
    aspd_error_set(err, ASPD_E_IMMUTABLE_FIELD,
                   "Performing an update on the path '_id' would modify the immutable field '_id'");
    ok = false;
  }
  return ok;
}

void aspd_update_seed(const bson_t *filter, bson_t *out) {
  bson_t values = BSON_INITIALIZER, empty = BSON_INITIALIZER;
  bson_iter_t it;
  if (filter && bson_iter_init(&it, filter)) {
    while (bson_iter_next(&it)) {
      const char *key = bson_iter_key(&it);
      if (key[0] == '$') continue;
      bson_iter_t inner;
      if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &inner) &&
          bson_iter_next(&inner) && bson_iter_key(&inner)[0] == '$') {
        /* Only {$eq: v} among the operators says what the field is. */
        if (!strcmp(bson_iter_key(&inner), "$eq")) {
          bson_append_value(&values, key, -1, bson_iter_value(&inner));
        }
        continue;
      }
      bson_append_value(&values, key, -1, bson_iter_value(&it));
    }
  }
  aspd_set_paths(&empty, &values, out);
  bson_destroy(&values);
  bson_destroy(&empty);
}
