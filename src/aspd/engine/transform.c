#include "engine/transform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"

static void remove_paths(const bson_t *src, const bson_t *paths, const char *prefix, bson_t *dst) {
  bson_iter_t it;
  bson_iter_init(&it, src);
  while (bson_iter_next(&it)) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", prefix, bson_iter_key(&it));
    size_t plen = strlen(path);
    bool drop = false, descend = false;
    bson_iter_t p;
    bson_iter_init(&p, paths);
    while (bson_iter_next(&p)) {
      const char *name = bson_iter_utf8(&p, NULL);
      if (!strcmp(name, path)) drop = true;
      if (!strncmp(name, path, plen) && name[plen] == '.') descend = true;
    }
    if (drop) continue;
    if (descend && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      bson_t inner, child;
      bson_init_static(&inner, data, len);
      char next_prefix[1030];
      snprintf(next_prefix, sizeof next_prefix, "%s.", path);
      bson_append_document_begin(dst, bson_iter_key(&it), -1, &child);
      remove_paths(&inner, paths, next_prefix, &child);
      bson_append_document_end(dst, &child);
    } else {
      bson_append_value(dst, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
}

void aspd_remove_paths(const bson_t *doc, const bson_t *paths, bson_t *out) {
  remove_paths(doc, paths, "", out);
}

/* Length of the first segment of a dotted path. */
static size_t head_len(const char *path) {
  const char *dot = strchr(path, '.');
  return dot ? (size_t)(dot - path) : strlen(path);
}

/* The entries of `values` (keys are dotted paths) below `head.`, with that prefix removed. */
static void values_below(const bson_t *values, const char *head, size_t len, bson_t *out) {
  bson_iter_t it;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strncmp(k, head, len) && k[len] == '.') {
      bson_append_value(out, k + len + 1, -1, bson_iter_value(&it));
    }
  }
}

static bool emitted_before(const bson_t *values, const char *key, size_t len, const char *upto) {
  bson_iter_t it;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it) && bson_iter_key(&it) != upto) {
    const char *k = bson_iter_key(&it);
    if (head_len(k) == len && !strncmp(k, key, len)) return true;
  }
  return false;
}

static bool doc_has(const bson_t *doc, const char *key, size_t len) {
  bson_iter_t it;
  if (!doc || !bson_iter_init(&it, doc)) return false;
  while (bson_iter_next(&it)) {
    if (strlen(bson_iter_key(&it)) == len && !strncmp(bson_iter_key(&it), key, len)) return true;
  }
  return false;
}

/* Writes doc (may be NULL) with `values` set at their dotted paths: existing
 * fields keep their place, new ones follow in the order of `values`. */
static void merge_values(const bson_t *doc, const bson_t *values, bson_t *out) {
  bson_iter_t it, v;
  if (doc && bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      size_t len = strlen(k);
      if (bson_iter_init_find(&v, values, k)) {
        bson_append_value(out, k, -1, bson_iter_value(&v));
        continue;
      }
      bson_t below = BSON_INITIALIZER;
      values_below(values, k, len, &below);
      if (bson_empty(&below)) {
        bson_append_value(out, k, -1, bson_iter_value(&it));
      } else {
        bson_t inner, child;
        bool nested = BSON_ITER_HOLDS_DOCUMENT(&it);
        if (nested) {
          const uint8_t *data;
          uint32_t dlen;
          bson_iter_document(&it, &dlen, &data);
          bson_init_static(&inner, data, dlen);
        }
        bson_append_document_begin(out, k, -1, &child);
        merge_values(nested ? &inner : NULL, &below, &child);
        bson_append_document_end(out, &child);
      }
      bson_destroy(&below);
    }
  }
  bson_iter_init(&v, values);
  while (bson_iter_next(&v)) {
    const char *k = bson_iter_key(&v);
    size_t len = head_len(k);
    if (doc_has(doc, k, len) || emitted_before(values, k, len, k)) continue;
    if (!k[len]) {
      bson_append_value(out, k, -1, bson_iter_value(&v));
      continue;
    }
    char head[512];
    snprintf(head, sizeof head, "%.*s", (int)len, k);
    bson_t below = BSON_INITIALIZER, child;
    values_below(values, head, len, &below);
    bson_append_document_begin(out, head, -1, &child);
    merge_values(NULL, &below, &child);
    bson_append_document_end(out, &child);
    bson_destroy(&below);
  }
}

bool aspd_add_fields_validate(const bson_t *spec, const char *stage, aspd_error_t *err) {
  bson_iter_t it;
  if (bson_empty(spec)) {
    aspd_error_set(err, 40177, "Location40177",
                   "Invalid %s :: caused by :: specification must have at least one field", stage);
    return false;
  }
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    if (!aspd_expr_validate(bson_iter_value(&it), err)) return false;
  }
  return true;
}

bool aspd_add_fields(const bson_t *doc, const bson_t *spec, bson_t *out, char *reason,
                     size_t reason_len) {
  /* Every expression sees the input document. */
  bson_t values = BSON_INITIALIZER;
  bson_iter_t it;
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    if (aspd_expr_append(bson_iter_value(&it), doc, &values, bson_iter_key(&it), reason,
                         reason_len) == ASPD_EXPR_ERROR) {
      bson_destroy(&values);
      return false;
    }
  }
  merge_values(doc, &values, out);
  bson_destroy(&values);
  return true;
}

/* A projection value is an inclusion flag (number or bool) or an expression. */
static bool is_flag(const bson_iter_t *it) {
  return BSON_ITER_HOLDS_NUMBER(it) || BSON_ITER_HOLDS_BOOL(it);
}

bool aspd_project_validate(const bson_t *spec, aspd_error_t *err) {
  bson_iter_t it;
  bool include = false, exclude = false;
  const char *excluded = NULL;
  if (bson_empty(spec)) {
    aspd_error_set(
        err, 51272, "Location51272",
        "Invalid $project :: caused by :: projection specification must have at least one field");
    return false;
  }
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (is_flag(&it)) {
      if (!strcmp(k, "_id")) continue;
      if (bson_iter_as_bool(&it)) {
        include = true;
      } else {
        exclude = true;
        excluded = k;
      }
    } else {
      if (!aspd_expr_validate(bson_iter_value(&it), err)) return false;
      include = true;
    }
  }
  if (include && exclude) {
    aspd_error_set(err, 31254, "Location31254",
                   "Invalid $project :: caused by :: Cannot do exclusion on field %s in inclusion "
                   "projection",
                   excluded);
    return false;
  }
  return true;
}

bool aspd_project(const bson_t *doc, const bson_t *spec, bson_t *out, char *reason,
                  size_t reason_len) {
  bson_iter_t it;
  bool exclusion = true, keep_id = true;
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    bool id = !strcmp(bson_iter_key(&it), "_id");
    if (id && is_flag(&it)) keep_id = bson_iter_as_bool(&it);
    if (!id && (!is_flag(&it) || bson_iter_as_bool(&it))) exclusion = false;
  }
  if (exclusion) {
    bson_t paths = BSON_INITIALIZER;
    bson_iter_init(&it, spec);
    for (uint32_t n = 0; bson_iter_next(&it);) {
      if (bson_iter_as_bool(&it)) continue;
      char key[16];
      const char *k;
      bson_uint32_to_string(n++, &k, key, sizeof key);
      bson_append_utf8(&paths, k, -1, bson_iter_key(&it), -1);
    }
    aspd_remove_paths(doc, &paths, out);
    bson_destroy(&paths);
    return true;
  }
  /* Inclusion: _id first, included paths in document order, computed fields after. */
  bson_t values = BSON_INITIALIZER;
  bson_iter_t field, found;
  if (keep_id && bson_iter_init_find(&field, doc, "_id")) {
    bson_append_value(&values, "_id", -1, bson_iter_value(&field));
  }
  bson_iter_init(&field, doc);
  while (bson_iter_next(&field)) {
    const char *top = bson_iter_key(&field);
    size_t len = strlen(top);
    bson_iter_init(&it, spec);
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      if (!is_flag(&it) || !bson_iter_as_bool(&it) || !strcmp(k, "_id")) continue;
      if (strncmp(k, top, len) || (k[len] && k[len] != '.')) continue;
      bson_iter_t root;
      if (bson_iter_init(&root, doc) && bson_iter_find_descendant(&root, k, &found)) {
        bson_append_value(&values, k, -1, bson_iter_value(&found));
      }
    }
  }
  bson_iter_init(&it, spec);
  while (bson_iter_next(&it)) {
    if (is_flag(&it)) continue;
    if (aspd_expr_append(bson_iter_value(&it), doc, &values, bson_iter_key(&it), reason,
                         reason_len) == ASPD_EXPR_ERROR) {
      bson_destroy(&values);
      return false;
    }
  }
  merge_values(NULL, &values, out);
  bson_destroy(&values);
  return true;
}

bool aspd_replace_root(const bson_t *doc, const bson_value_t *new_root, bson_t *out, char *reason,
                       size_t reason_len) {
  bson_t holder = BSON_INITIALIZER;
  aspd_expr_result_t r = aspd_expr_append(new_root, doc, &holder, "v", reason, reason_len);
  bson_iter_t it;
  bool ok = false;
  if (r == ASPD_EXPR_VALUE && bson_iter_init_find(&it, &holder, "v") &&
      BSON_ITER_HOLDS_DOCUMENT(&it)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t root;
    bson_init_static(&root, data, len);
    bson_concat(out, &root);
    ok = true;
  } else if (r != ASPD_EXPR_ERROR) {
    snprintf(reason, reason_len,
             "'newRoot' expression must evaluate to an object, but resulting value was of type %s",
             r == ASPD_EXPR_MISSING ? "missing" : "non-object");
  }
  bson_destroy(&holder);
  return ok;
}

bool aspd_unwind_plan(const bson_value_t *spec, bson_t *normalised, aspd_error_t *err) {
  const char *path = NULL, *index = NULL;
  bool preserve = false;
  if (spec->value_type == BSON_TYPE_UTF8) {
    path = spec->value.v_utf8.str;
  } else if (spec->value_type == BSON_TYPE_DOCUMENT) {
    bson_iter_t it;
    bson_iter_init_from_data(&it, spec->value.v_doc.data, spec->value.v_doc.data_len);
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      if (!strcmp(k, "path") && BSON_ITER_HOLDS_UTF8(&it)) {
        path = bson_iter_utf8(&it, NULL);
      } else if (!strcmp(k, "includeArrayIndex") && BSON_ITER_HOLDS_UTF8(&it)) {
        index = bson_iter_utf8(&it, NULL);
      } else if (!strcmp(k, "preserveNullAndEmptyArrays") && BSON_ITER_HOLDS_BOOL(&it)) {
        preserve = bson_iter_bool(&it);
      } else {
        aspd_error_set(err, 28811, "Location28811", "unrecognized option to $unwind stage: %s", k);
        return false;
      }
    }
  }
  if (!path) {
    aspd_error_set(err, 28812, "Location28812", "no path specified to $unwind stage");
    return false;
  }
  if (path[0] != '$' || !path[1]) {
    aspd_error_set(err, 28818, "Location28818",
                   "path option to $unwind stage should be prefixed with a '$': %s", path);
    return false;
  }
  BSON_APPEND_UTF8(normalised, "path", path + 1);
  if (index) BSON_APPEND_UTF8(normalised, "index", index);
  BSON_APPEND_BOOL(normalised, "preserve", preserve);
  return true;
}

static void emit_with(const bson_t *doc, const char *path, const bson_value_t *value,
                      const char *index, int64_t i, aspd_unwind_emit_fn emit, void *ctx) {
  bson_t values = BSON_INITIALIZER;
  if (value) bson_append_value(&values, path, -1, value);
  if (index && i >= 0) bson_append_int64(&values, index, -1, i);
  if (index && i < 0) bson_append_null(&values, index, -1);
  bson_t *out = bson_new();
  merge_values(doc, &values, out);
  bson_destroy(&values);
  emit(out, ctx);
}

void aspd_unwind(const bson_t *doc, const bson_t *normalised, aspd_unwind_emit_fn emit, void *ctx) {
  bson_iter_t it, found;
  bson_iter_init_find(&it, normalised, "path");
  const char *path = bson_iter_utf8(&it, NULL);
  const char *index =
      bson_iter_init_find(&it, normalised, "index") ? bson_iter_utf8(&it, NULL) : NULL;
  bson_iter_init_find(&it, normalised, "preserve");
  bool preserve = bson_iter_bool(&it);
  bool present = bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found);
  if (!present || BSON_ITER_HOLDS_NULL(&found)) {
    if (preserve) emit_with(doc, path, NULL, index, -1, emit, ctx);
    return;
  }
  if (!BSON_ITER_HOLDS_ARRAY(&found)) { /* a scalar unwinds to itself */
    emit_with(doc, path, bson_iter_value(&found), index, -1, emit, ctx);
    return;
  }
  bson_iter_t element;
  bson_iter_recurse(&found, &element);
  int64_t i = 0;
  for (; bson_iter_next(&element); i++) {
    emit_with(doc, path, bson_iter_value(&element), index, i, emit, ctx);
  }
  if (i == 0 && preserve) {
    /* An empty array is kept as a document without the field. */
    bson_t *out = bson_new();
    bson_t paths = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&paths, "0", path);
    aspd_remove_paths(doc, &paths, out);
    bson_destroy(&paths);
    if (index) BSON_APPEND_NULL(out, index);
    emit(out, ctx);
  }
}
