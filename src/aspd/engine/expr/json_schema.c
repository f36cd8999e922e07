/* $jsonSchema as MongoDB implements JSON Schema draft 4: bsonType/type,
 * required, properties, patternProperties, additionalProperties, enum,
 * minimum/maximum (and their exclusive forms), multipleOf, minLength/maxLength,
 * pattern, items/additionalItems, minItems/maxItems, uniqueItems,
 * minProperties/maxProperties, dependencies, allOf/anyOf/oneOf/not. A keyword
 * that concerns one type (minimum, minLength...) passes values of other types.
 * Compiled once into a tree; title and description are accepted and ignored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/json_schema.h"
#include "engine/expr/regex.h"

typedef struct schema schema_t;

typedef struct {
  char *name;
  schema_t *schema;
} named_schema_t;

typedef struct {
  aspd_regex_t *re;
  schema_t *schema;
} pattern_schema_t;

struct schema {
  bson_type_t *types; /* accepted types, BSON_TYPE_EOD-terminated; NULL = any */
  char **required;
  size_t required_count;
  named_schema_t *properties;
  size_t property_count;
  pattern_schema_t *patterns;
  size_t pattern_count;
  bool additional_allowed; /* additionalProperties: false turns it off */
  schema_t *additional;    /* additionalProperties as a schema */
  bson_t *enum_values;     /* {v: [...]} */
  bool has_min, has_max, exclusive_min, exclusive_max;
  double min, max;
  double multiple_of;
  int64_t min_length, max_length; /* -1 = unset */
  aspd_regex_t *pattern;
  schema_t *items;      /* one schema for every element */
  schema_t **item_list; /* a schema per position */
  size_t item_list_count;
  bool additional_items_allowed;
  schema_t *additional_items;
  int64_t min_items, max_items, min_props, max_props;
  bool unique_items;
  named_schema_t *dependencies; /* schema dependencies */
  size_t dependency_count;
  char ***dependency_fields; /* property dependencies: NULL-terminated lists, parallel */
  schema_t **all_of, **any_of, **one_of;
  size_t all_count, any_count, one_count;
  schema_t *not_schema;
};

static void schema_free(schema_t *s);

static void free_list(schema_t **list, size_t n) {
  for (size_t i = 0; i < n; i++) schema_free(list[i]);
  free(list);
}

static void schema_free(schema_t *s) {
  if (!s) return;
  free(s->types);
  for (size_t i = 0; i < s->required_count; i++) free(s->required[i]);
  free(s->required);
  for (size_t i = 0; i < s->property_count; i++) {
    free(s->properties[i].name);
    schema_free(s->properties[i].schema);
  }
  free(s->properties);
  for (size_t i = 0; i < s->pattern_count; i++) {
    aspd_regex_free(s->patterns[i].re);
    schema_free(s->patterns[i].schema);
  }
  free(s->patterns);
  schema_free(s->additional);
  if (s->enum_values) bson_destroy(s->enum_values);
  aspd_regex_free(s->pattern);
  schema_free(s->items);
  free_list(s->item_list, s->item_list_count);
  schema_free(s->additional_items);
  for (size_t i = 0; i < s->dependency_count; i++) {
    free(s->dependencies[i].name);
    schema_free(s->dependencies[i].schema);
    if (s->dependency_fields[i]) {
      for (char **f = s->dependency_fields[i]; *f; f++) free(*f);
      free(s->dependency_fields[i]);
    }
  }
  free(s->dependencies);
  free(s->dependency_fields);
  free_list(s->all_of, s->all_count);
  free_list(s->any_of, s->any_count);
  free_list(s->one_of, s->one_count);
  schema_free(s->not_schema);
  free(s);
}

void aspd_json_schema_free(aspd_json_schema_t *s) {
  schema_free((schema_t *)s);
}

static bool fail(aspd_error_t *err, const char *keyword, const char *what) {
  aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "$jsonSchema keyword '%s' must be %s", keyword, what);
  return false;
}

static schema_t *compile(const bson_iter_t *it, aspd_error_t *err);

static bool add_types(schema_t *s, bson_iter_t *it, bool json_names, aspd_error_t *err) {
  const char *keyword = json_names ? "type" : "bsonType";
  if (s->types) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
    return false;
  }
  size_t n = 0;
  s->types = calloc(1, sizeof *s->types);
  bson_iter_t list;
  bool array = BSON_ITER_HOLDS_ARRAY(it);
  if (array) bson_iter_recurse(it, &list);
  for (bool more = array ? bson_iter_next(&list) : true; more;
       more = array ? bson_iter_next(&list) : false) {
    bson_iter_t *cur = array ? &list : it;
    if (!BSON_ITER_HOLDS_UTF8(cur)) return fail(err, keyword, "a string or an array of strings");
    const char *name = bson_iter_utf8(cur, NULL);
    bson_type_t t[4];
    size_t k = 1;
    static const char *const json_map[][2] = {{"object", "object"}, {"array", "array"},
                                              {"string", "string"}, {"boolean", "bool"},
                                              {"null", "null"},     {"number", "number"}};
    const char *mapped = NULL;
    if (json_names) {
      for (size_t i = 0; i < 6; i++) {
        if (!strcmp(json_map[i][0], name)) mapped = json_map[i][1];
      }
      if (!mapped) {
        aspd_error_set(err, ASPD_E_BAD_VALUE, "Unknown type name alias: %s", name);
        return false;
      }
    } else {
      mapped = name;
    }
    if (!strcmp(mapped, "number")) {
      t[0] = BSON_TYPE_INT32;
      t[1] = BSON_TYPE_INT64;
      t[2] = BSON_TYPE_DOUBLE;
      t[3] = BSON_TYPE_DECIMAL128;
      k = 4;
    } else if (!aspd_type_from_name(mapped, &t[0])) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "Unknown type name alias: %s", name);
      return false;
    }
    s->types = realloc(s->types, (n + k + 1) * sizeof *s->types);
    memcpy(s->types + n, t, k * sizeof *t);
    n += k;
    s->types[n] = BSON_TYPE_EOD;
  }
  return true;
}

static bool number_of(bson_iter_t *it, const char *keyword, double *out, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_NUMBER(it) && !BSON_ITER_HOLDS_DECIMAL128(it)) {
    return fail(err, keyword, "a number");
  }
  *out = aspd_value_as_double(bson_iter_value(it));
  return true;
}

static bool count_of(bson_iter_t *it, const char *keyword, int64_t *out, aspd_error_t *err) {
  double d;
  if (!number_of(it, keyword, &d, err)) return false;
  if (d < 0 || d != floor(d)) return fail(err, keyword, "a non-negative integer");
  /* A count beyond int64 (1e20, Infinity) is held at INT64_MAX: no string or array reaches
   * either, and converting it would be undefined. */
  *out = aspd_double_clamp_int64(d);
  return true;
}

static bool schema_list(bson_iter_t *it, const char *keyword, schema_t ***out, size_t *count,
                        aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_ARRAY(it)) return fail(err, keyword, "an array");
  bson_iter_t list;
  bson_iter_recurse(it, &list);
  while (bson_iter_next(&list)) {
    schema_t *sub = compile(&list, err);
    if (!sub) return false;
    *out = realloc(*out, (*count + 1) * sizeof **out);
    (*out)[(*count)++] = sub;
  }
  if (!*count) return fail(err, keyword, "a non-empty array");
  return true;
}

static bool string_list(bson_iter_t *it, const char *keyword, char ***out, size_t *count,
                        aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_ARRAY(it)) return fail(err, keyword, "an array of strings");
  bson_iter_t list;
  bson_iter_recurse(it, &list);
  while (bson_iter_next(&list)) {
    if (!BSON_ITER_HOLDS_UTF8(&list)) return fail(err, keyword, "an array of strings");
    *out = realloc(*out, (*count + 2) * sizeof **out);
    (*out)[(*count)++] = strdup(bson_iter_utf8(&list, NULL));
    (*out)[*count] = NULL;
  }
  return true;
}

static bool keyword(schema_t *s, bson_iter_t *it, aspd_error_t *err) {
  const char *k = bson_iter_key(it);
  if (!strcmp(k, "bsonType") || !strcmp(k, "type")) return add_types(s, it, k[0] == 't', err);
  if (!strcmp(k, "required")) return string_list(it, k, &s->required, &s->required_count, err);
  if (!strcmp(k, "properties") || !strcmp(k, "patternProperties") || !strcmp(k, "dependencies")) {
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) return fail(err, k, "an object");
    bson_iter_t fields;
    bson_iter_recurse(it, &fields);
    while (bson_iter_next(&fields)) {
      const char *name = bson_iter_key(&fields);
      if (k[0] == 'd' && BSON_ITER_HOLDS_ARRAY(&fields)) {
        s->dependencies =
            realloc(s->dependencies, (s->dependency_count + 1) * sizeof *s->dependencies);
        s->dependency_fields =
            realloc(s->dependency_fields, (s->dependency_count + 1) * sizeof *s->dependency_fields);
        char **list = NULL;
        size_t n = 0;
        if (!string_list(&fields, k, &list, &n, err)) {
          for (size_t i = 0; i < n; i++) free(list[i]);
          free(list);
          return false;
        }
        if (!list) list = calloc(1, sizeof *list);
        s->dependencies[s->dependency_count] = (named_schema_t){strdup(name), NULL};
        s->dependency_fields[s->dependency_count++] = list;
        continue;
      }
      schema_t *sub = compile(&fields, err);
      if (!sub) return false;
      if (k[0] == 'p' && k[1] == 'r') {
        s->properties = realloc(s->properties, (s->property_count + 1) * sizeof *s->properties);
        s->properties[s->property_count++] = (named_schema_t){strdup(name), sub};
      } else if (k[0] == 'p') {
        aspd_regex_t *re = aspd_regex_compile(name, "", err);
        if (!re) {
          schema_free(sub);
          return false;
        }
        s->patterns = realloc(s->patterns, (s->pattern_count + 1) * sizeof *s->patterns);
        s->patterns[s->pattern_count++] = (pattern_schema_t){re, sub};
      } else {
        s->dependencies =
            realloc(s->dependencies, (s->dependency_count + 1) * sizeof *s->dependencies);
        s->dependency_fields =
            realloc(s->dependency_fields, (s->dependency_count + 1) * sizeof *s->dependency_fields);
        s->dependencies[s->dependency_count] = (named_schema_t){strdup(name), sub};
        s->dependency_fields[s->dependency_count++] = NULL;
      }
    }
    return true;
  }
  if (!strcmp(k, "additionalProperties") || !strcmp(k, "additionalItems")) {
    bool props = k[10] == 'P';
    if (BSON_ITER_HOLDS_BOOL(it)) {
      if (props) {
        s->additional_allowed = bson_iter_bool(it);
      } else {
        s->additional_items_allowed = bson_iter_bool(it);
      }
      return true;
    }
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) return fail(err, k, "a boolean or an object");
    schema_t *sub = compile(it, err);
    if (!sub) return false;
    if (props) {
      s->additional = sub;
    } else {
      s->additional_items = sub;
    }
    return true;
  }
  if (!strcmp(k, "enum")) {
    if (!BSON_ITER_HOLDS_ARRAY(it)) return fail(err, k, "an array");
    s->enum_values = bson_new();
    bson_append_value(s->enum_values, "v", 1, bson_iter_value(it));
    return true;
  }
  if (!strcmp(k, "minimum")) return (s->has_min = true) && number_of(it, k, &s->min, err);
  if (!strcmp(k, "maximum")) return (s->has_max = true) && number_of(it, k, &s->max, err);
  if (!strcmp(k, "exclusiveMinimum") || !strcmp(k, "exclusiveMaximum")) {
    if (!BSON_ITER_HOLDS_BOOL(it)) return fail(err, k, "a boolean");
    if (k[9] == 'M' && k[10] == 'i') {
      s->exclusive_min = bson_iter_bool(it);
    } else {
      s->exclusive_max = bson_iter_bool(it);
    }
    return true;
  }
  if (!strcmp(k, "multipleOf")) {
    if (!number_of(it, k, &s->multiple_of, err)) return false;
    if (s->multiple_of <= 0) return fail(err, k, "a positive number");
    return true;
  }
  if (!strcmp(k, "minLength")) return count_of(it, k, &s->min_length, err);
  if (!strcmp(k, "maxLength")) return count_of(it, k, &s->max_length, err);
  if (!strcmp(k, "minItems")) return count_of(it, k, &s->min_items, err);
  if (!strcmp(k, "maxItems")) return count_of(it, k, &s->max_items, err);
  if (!strcmp(k, "minProperties")) return count_of(it, k, &s->min_props, err);
  if (!strcmp(k, "maxProperties")) return count_of(it, k, &s->max_props, err);
  if (!strcmp(k, "pattern")) {
    if (!BSON_ITER_HOLDS_UTF8(it)) return fail(err, k, "a string");
    s->pattern = aspd_regex_compile(bson_iter_utf8(it, NULL), "", err);
    return s->pattern != NULL;
  }
  if (!strcmp(k, "items")) {
    if (BSON_ITER_HOLDS_ARRAY(it))
      return schema_list(it, k, &s->item_list, &s->item_list_count, err);
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) return fail(err, k, "an object or an array");
    s->items = compile(it, err);
    return s->items != NULL;
  }
  if (!strcmp(k, "uniqueItems")) {
    if (!BSON_ITER_HOLDS_BOOL(it)) return fail(err, k, "a boolean");
    s->unique_items = bson_iter_bool(it);
    return true;
  }
  if (!strcmp(k, "allOf")) return schema_list(it, k, &s->all_of, &s->all_count, err);
  if (!strcmp(k, "anyOf")) return schema_list(it, k, &s->any_of, &s->any_count, err);
  if (!strcmp(k, "oneOf")) return schema_list(it, k, &s->one_of, &s->one_count, err);
  if (!strcmp(k, "not")) {
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) return fail(err, k, "an object");
    s->not_schema = compile(it, err);
    return s->not_schema != NULL;
  }
  if (!strcmp(k, "title") || !strcmp(k, "description")) {
    if (!BSON_ITER_HOLDS_UTF8(it)) return fail(err, k, "a string");
    return true;
  }
  if (!strcmp(k, "$ref") || !strcmp(k, "$schema") || !strcmp(k, "default") ||
      !strcmp(k, "definitions") || !strcmp(k, "format") || !strcmp(k, "id")) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "$jsonSchema keyword '%s' is not currently supported", k);
    return false;
  }
  aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unknown $jsonSchema keyword: %s", k);
  return false;
}

static schema_t *compile(const bson_iter_t *it, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_error_set(err, ASPD_E_TYPE_MISMATCH, "$jsonSchema must be an object");
    return NULL;
  }
  schema_t *s = calloc(1, sizeof *s);
  s->additional_allowed = s->additional_items_allowed = true;
  s->min_length = s->max_length = s->min_items = s->max_items = s->min_props = s->max_props = -1;
  bson_iter_t kw;
  bson_iter_recurse(it, &kw);
  while (bson_iter_next(&kw)) {
    if (!keyword(s, &kw, err)) {
      schema_free(s);
      return NULL;
    }
  }
  return s;
}

aspd_json_schema_t *aspd_json_schema_compile(const bson_value_t *schema, aspd_error_t *err) {
  bson_t holder = BSON_INITIALIZER;
  bson_append_value(&holder, "s", 1, schema);
  bson_iter_t it;
  bson_iter_init_find(&it, &holder, "s");
  schema_t *s = compile(&it, err);
  bson_destroy(&holder);
  return (aspd_json_schema_t *)s;
}

/* --- validating ------------------------------------------------------------ */

static bool valid(const schema_t *s, const bson_value_t *v);

static bool type_ok(const schema_t *s, const bson_value_t *v) {
  if (!s->types) return true;
  for (const bson_type_t *t = s->types; *t != BSON_TYPE_EOD; t++) {
    if (*t == v->value_type) return true;
  }
  return false;
}

static bool number_ok(const schema_t *s, const bson_value_t *v) {
  if (!aspd_value_is_number(v)) return true;
  double d = aspd_value_as_double(v);
  if (s->has_min && (s->exclusive_min ? d <= s->min : d < s->min)) return false;
  if (s->has_max && (s->exclusive_max ? d >= s->max : d > s->max)) return false;
  if (s->multiple_of > 0 && fmod(d, s->multiple_of) != 0) return false;
  return true;
}

static bool string_ok(const schema_t *s, const bson_value_t *v) {
  if (v->value_type != BSON_TYPE_UTF8) return true;
  int64_t chars = 0;
  for (uint32_t i = 0; i < v->value.v_utf8.len; i++) {
    chars += ((unsigned char)v->value.v_utf8.str[i] & 0xC0) != 0x80;
  }
  if (s->min_length >= 0 && chars < s->min_length) return false;
  if (s->max_length >= 0 && chars > s->max_length) return false;
  if (s->pattern && !aspd_regex_match(s->pattern, v->value.v_utf8.str, v->value.v_utf8.len)) {
    return false;
  }
  return true;
}

static bool array_ok(const schema_t *s, const bson_value_t *v) {
  if (v->value_type != BSON_TYPE_ARRAY) return true;
  bson_iter_t it;
  int64_t n = 0;
  bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const bson_value_t *el = bson_iter_value(&it);
    if (s->items && !valid(s->items, el)) return false;
    if (s->item_list) {
      if ((size_t)n < s->item_list_count) {
        if (!valid(s->item_list[n], el)) return false;
      } else if (!s->additional_items_allowed) {
        return false;
      } else if (s->additional_items && !valid(s->additional_items, el)) {
        return false;
      }
    }
    if (s->unique_items) {
      bson_iter_t before;
      bson_iter_init_from_data(&before, v->value.v_doc.data, v->value.v_doc.data_len);
      for (int64_t i = 0; i < n && bson_iter_next(&before); i++) {
        if (aspd_value_equal(bson_iter_value(&before), el)) return false;
      }
    }
    n++;
  }
  if (s->min_items >= 0 && n < s->min_items) return false;
  if (s->max_items >= 0 && n > s->max_items) return false;
  return true;
}

static bool has_field(const bson_value_t *v, const char *name) {
  bson_iter_t it;
  return bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len) &&
         bson_iter_find(&it, name);
}

static bool object_ok(const schema_t *s, const bson_value_t *v) {
  if (v->value_type != BSON_TYPE_DOCUMENT) return true;
  for (size_t i = 0; i < s->required_count; i++) {
    if (!has_field(v, s->required[i])) return false;
  }
  bson_iter_t it;
  int64_t n = 0;
  bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    const bson_value_t *fv = bson_iter_value(&it);
    bool matched = false;
    n++;
    for (size_t i = 0; i < s->property_count; i++) {
      if (strcmp(s->properties[i].name, key)) continue;
      matched = true;
      if (!valid(s->properties[i].schema, fv)) return false;
    }
    for (size_t i = 0; i < s->pattern_count; i++) {
      if (!aspd_regex_match(s->patterns[i].re, key, strlen(key))) continue;
      matched = true;
      if (!valid(s->patterns[i].schema, fv)) return false;
    }
    if (!matched && !s->additional_allowed) return false;
    if (!matched && s->additional && !valid(s->additional, fv)) return false;
  }
  if (s->min_props >= 0 && n < s->min_props) return false;
  if (s->max_props >= 0 && n > s->max_props) return false;
  for (size_t i = 0; i < s->dependency_count; i++) {
    if (!has_field(v, s->dependencies[i].name)) continue;
    if (s->dependencies[i].schema && !valid(s->dependencies[i].schema, v)) return false;
    for (char **f = s->dependency_fields[i]; f && *f; f++) {
      if (!has_field(v, *f)) return false;
    }
  }
  return true;
}

static bool valid(const schema_t *s, const bson_value_t *v) {
  if (!type_ok(s, v) || !number_ok(s, v) || !string_ok(s, v) || !array_ok(s, v) ||
      !object_ok(s, v)) {
    return false;
  }
  if (s->enum_values) {
    bson_iter_t it, list;
    bson_iter_init_find(&it, s->enum_values, "v");
    bson_iter_recurse(&it, &list);
    bool found = false;
    while (!found && bson_iter_next(&list)) found = aspd_value_equal(bson_iter_value(&list), v);
    if (!found) return false;
  }
  for (size_t i = 0; i < s->all_count; i++) {
    if (!valid(s->all_of[i], v)) return false;
  }
  bool any = s->any_count == 0;
  for (size_t i = 0; i < s->any_count && !any; i++) any = valid(s->any_of[i], v);
  if (!any) return false;
  if (s->one_count) {
    size_t n = 0;
    for (size_t i = 0; i < s->one_count; i++) n += valid(s->one_of[i], v);
    if (n != 1) return false;
  }
  return !s->not_schema || !valid(s->not_schema, v);
}

bool aspd_json_schema_valid(const aspd_json_schema_t *schema, const bson_value_t *doc) {
  return valid((const schema_t *)schema, doc);
}
