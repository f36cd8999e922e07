#include "engine/match.h"

#include <regex.h>
#include <string.h>

#include "commands/reply.h"

bool aspd_value_is_number(const bson_value_t *v) {
  return v && (v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
               v->value_type == BSON_TYPE_DOUBLE);
}

double aspd_value_as_double(const bson_value_t *v) {
  switch (v->value_type) {
    case BSON_TYPE_INT32:
      return v->value.v_int32;
    case BSON_TYPE_INT64:
      return (double)v->value.v_int64;
    case BSON_TYPE_DOUBLE:
      return v->value.v_double;
    default:
      return 0;
  }
}

int aspd_value_compare(const bson_value_t *a, const bson_value_t *b, bool *comparable) {
  *comparable = true;
  if (aspd_value_is_number(a) && aspd_value_is_number(b)) {
    double x = aspd_value_as_double(a), y = aspd_value_as_double(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a->value_type != b->value_type) {
    *comparable = false;
    return 0;
  }
  switch (a->value_type) {
    case BSON_TYPE_UTF8: {
      int c = strcmp(a->value.v_utf8.str, b->value.v_utf8.str);
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case BSON_TYPE_BOOL:
      return (int)a->value.v_bool - (int)b->value.v_bool;
    case BSON_TYPE_DATE_TIME:
      return a->value.v_datetime < b->value.v_datetime   ? -1
             : a->value.v_datetime > b->value.v_datetime ? 1
                                                         : 0;
    case BSON_TYPE_NULL:
      return 0;
    case BSON_TYPE_OID:
      return bson_oid_compare(&a->value.v_oid, &b->value.v_oid);
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY:
      if (a->value.v_doc.data_len != b->value.v_doc.data_len) {
        return a->value.v_doc.data_len < b->value.v_doc.data_len ? -1 : 1;
      }
      return memcmp(a->value.v_doc.data, b->value.v_doc.data, a->value.v_doc.data_len);
    default:
      *comparable = false;
      return 0;
  }
}

static bool values_equal(const bson_value_t *a, const bson_value_t *b) {
  bool comparable;
  int c = aspd_value_compare(a, b, &comparable);
  return comparable && c == 0;
}

static bool regex_matches(const char *pattern, const char *options, const char *subject) {
  regex_t re;
  int flags = REG_EXTENDED | REG_NOSUB;
  if (options && strchr(options, 'i')) flags |= REG_ICASE;
  if (regcomp(&re, pattern, flags) != 0) return false;
  bool hit = regexec(&re, subject, 0, NULL, 0) == 0;
  regfree(&re);
  return hit;
}

/* Applies `test` to the field value and, when it is an array, to each element. */
typedef bool (*value_test_fn)(const bson_value_t *field, const void *arg);

static bool any_value(const bson_value_t *field, value_test_fn test, const void *arg) {
  if (test(field, arg)) return true;
  if (field->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  if (!bson_iter_init_from_data(&it, field->value.v_doc.data, field->value.v_doc.data_len)) {
    return false;
  }
  while (bson_iter_next(&it)) {
    if (test(bson_iter_value(&it), arg)) return true;
  }
  return false;
}

static bool test_equal(const bson_value_t *field, const void *arg) {
  return values_equal(field, arg);
}

typedef struct {
  const char *pattern;
  const char *options;
} regex_arg_t;

static bool test_regex(const bson_value_t *field, const void *arg) {
  const regex_arg_t *r = arg;
  return field->value_type == BSON_TYPE_UTF8 &&
         regex_matches(r->pattern, r->options, field->value.v_utf8.str);
}

typedef struct {
  const bson_value_t *operand;
  int want_min, want_max; /* accepted range of compare(field, operand) */
} compare_arg_t;

static bool test_compare(const bson_value_t *field, const void *arg) {
  const compare_arg_t *c = arg;
  bool comparable;
  int r = aspd_value_compare(field, c->operand, &comparable);
  return comparable && r >= c->want_min && r <= c->want_max;
}

/* A missing field behaves as null for equality (MQL). */
static bool equals_operand(bool present, const bson_value_t *field, const bson_value_t *operand) {
  if (operand->value_type == BSON_TYPE_REGEX) {
    regex_arg_t r = {operand->value.v_regex.regex, operand->value.v_regex.options};
    return present && any_value(field, test_regex, &r);
  }
  if (!present) return operand->value_type == BSON_TYPE_NULL;
  return any_value(field, test_equal, operand);
}

static bool in_list(bool present, const bson_value_t *field, const bson_value_t *list) {
  bson_iter_t it;
  bson_iter_init_from_data(&it, list->value.v_doc.data, list->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (equals_operand(present, field, bson_iter_value(&it))) return true;
  }
  return false;
}

static bool is_operator_doc(const bson_iter_t *it) {
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) return false;
  bson_iter_t child;
  bson_iter_recurse(it, &child);
  return bson_iter_next(&child) && bson_iter_key(&child)[0] == '$';
}

static bool field_matches_operators(bool present, const bson_value_t *field, bson_iter_t *ops);

static bool field_matches_one(bool present, const bson_value_t *field, const char *op,
                              bson_iter_t *opit, const char *regex_options) {
  const bson_value_t *operand = bson_iter_value(opit);
  if (!strcmp(op, "$eq")) return equals_operand(present, field, operand);
  if (!strcmp(op, "$ne")) return !equals_operand(present, field, operand);
  if (!strcmp(op, "$in")) return in_list(present, field, operand);
  if (!strcmp(op, "$nin")) return !in_list(present, field, operand);
  if (!strcmp(op, "$exists")) return present == bson_iter_as_bool(opit);
  if (!strcmp(op, "$regex")) {
    regex_arg_t r = {NULL, regex_options};
    if (operand->value_type == BSON_TYPE_REGEX) {
      r.pattern = operand->value.v_regex.regex;
      if (!regex_options) r.options = operand->value.v_regex.options;
    } else {
      r.pattern = operand->value.v_utf8.str;
    }
    return present && any_value(field, test_regex, &r);
  }
  if (!strcmp(op, "$options")) return true; /* consumed with $regex */
  if (!strcmp(op, "$not")) {
    if (operand->value_type == BSON_TYPE_REGEX) return !equals_operand(present, field, operand);
    bson_iter_t inner;
    bson_iter_recurse(opit, &inner);
    return !field_matches_operators(present, field, &inner);
  }
  compare_arg_t c = {operand, 0, 0};
  if (!strcmp(op, "$gt")) c.want_min = 1, c.want_max = 1;
  if (!strcmp(op, "$gte")) c.want_min = 0, c.want_max = 1;
  if (!strcmp(op, "$lt")) c.want_min = -1, c.want_max = -1;
  if (!strcmp(op, "$lte")) c.want_min = -1, c.want_max = 0;
  return present && any_value(field, test_compare, &c);
}

static bool field_matches_operators(bool present, const bson_value_t *field, bson_iter_t *ops) {
  const char *regex_options = NULL;
  bson_iter_t scan = *ops;
  while (bson_iter_next(&scan)) {
    if (!strcmp(bson_iter_key(&scan), "$options") && BSON_ITER_HOLDS_UTF8(&scan)) {
      regex_options = bson_iter_utf8(&scan, NULL);
    }
  }
  while (bson_iter_next(ops)) {
    if (!field_matches_one(present, field, bson_iter_key(ops), ops, regex_options)) return false;
  }
  return true;
}

static bool match_iter(const bson_t *doc, bson_iter_t *filter);

static bool match_logical(const bson_t *doc, const char *op, bson_iter_t *it) {
  bson_iter_t list;
  bson_iter_recurse(it, &list);
  bool any = false, all = true;
  while (bson_iter_next(&list)) {
    bson_iter_t clause;
    bson_iter_recurse(&list, &clause);
    bool m = match_iter(doc, &clause);
    any = any || m;
    all = all && m;
  }
  if (!strcmp(op, "$and")) return all;
  if (!strcmp(op, "$or")) return any;
  return !any; /* $nor */
}

static bool match_iter(const bson_t *doc, bson_iter_t *filter) {
  while (bson_iter_next(filter)) {
    const char *key = bson_iter_key(filter);
    if (key[0] == '$') {
      if (!match_logical(doc, key, filter)) return false;
      continue;
    }
    bson_iter_t root, found;
    bool present = bson_iter_init(&root, doc) && bson_iter_find_descendant(&root, key, &found);
    bson_value_t missing = {.value_type = BSON_TYPE_NULL};
    const bson_value_t *field = present ? bson_iter_value(&found) : &missing;
    bool ok;
    if (is_operator_doc(filter)) {
      bson_iter_t ops;
      bson_iter_recurse(filter, &ops);
      ok = field_matches_operators(present, field, &ops);
    } else {
      ok = equals_operand(present, field, bson_iter_value(filter));
    }
    if (!ok) return false;
  }
  return true;
}

bool aspd_match(const bson_t *doc, const bson_t *filter) {
  bson_iter_t it;
  if (!filter || !bson_iter_init(&it, filter)) return true;
  return match_iter(doc, &it);
}

static bool validate_iter(bson_iter_t *it, aspd_error_t *err);

static bool validate_operators(const char *field, bson_iter_t *ops, aspd_error_t *err) {
  static const char *const known[] = {"$eq", "$ne",  "$gt",     "$gte",   "$lt",      "$lte",
                                      "$in", "$nin", "$exists", "$regex", "$options", "$not"};
  while (bson_iter_next(ops)) {
    const char *op = bson_iter_key(ops);
    bool ok = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok = ok || !strcmp(op, known[i]);
    if (!ok) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "unknown operator: %s", op);
      return false;
    }
    if ((!strcmp(op, "$in") || !strcmp(op, "$nin")) && !BSON_ITER_HOLDS_ARRAY(ops)) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "%s needs an array", op);
      return false;
    }
    if (!strcmp(op, "$regex") && !BSON_ITER_HOLDS_UTF8(ops) && !BSON_ITER_HOLDS_REGEX(ops)) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "$regex has to be a string");
      return false;
    }
    if (!strcmp(op, "$regex")) {
      const char *pattern =
          BSON_ITER_HOLDS_UTF8(ops) ? bson_iter_utf8(ops, NULL) : bson_iter_regex(ops, NULL);
      regex_t re;
      if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        aspd_error_set(err, ASPD_E_BAD_VALUE, "invalid regular expression for %s: %s", field,
                       pattern);
        return false;
      }
      regfree(&re);
    }
    if (!strcmp(op, "$not")) {
      if (BSON_ITER_HOLDS_REGEX(ops)) continue;
      if (!BSON_ITER_HOLDS_DOCUMENT(ops)) {
        aspd_error_set(err, ASPD_E_BAD_VALUE, "$not needs a regex or a document");
        return false;
      }
      bson_iter_t inner;
      bson_iter_recurse(ops, &inner);
      if (!validate_operators(field, &inner, err)) return false;
    }
  }
  return true;
}

static bool validate_iter(bson_iter_t *it, aspd_error_t *err) {
  while (bson_iter_next(it)) {
    const char *key = bson_iter_key(it);
    if (key[0] == '$') {
      if (strcmp(key, "$and") && strcmp(key, "$or") && strcmp(key, "$nor")) {
        aspd_error_set(err, ASPD_E_BAD_VALUE, "unknown top level operator: %s", key);
        return false;
      }
      if (!BSON_ITER_HOLDS_ARRAY(it)) {
        aspd_error_set(err, ASPD_E_BAD_VALUE, "%s must be an array", key);
        return false;
      }
      bson_iter_t list;
      bson_iter_recurse(it, &list);
      while (bson_iter_next(&list)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&list)) {
          aspd_error_set(err, ASPD_E_BAD_VALUE, "%s entries must be objects", key);
          return false;
        }
        bson_iter_t clause;
        bson_iter_recurse(&list, &clause);
        if (!validate_iter(&clause, err)) return false;
      }
      continue;
    }
    if (is_operator_doc(it)) {
      bson_iter_t ops;
      bson_iter_recurse(it, &ops);
      if (!validate_operators(key, &ops, err)) return false;
    }
  }
  return true;
}

bool aspd_match_validate(const bson_t *filter, aspd_error_t *err) {
  bson_iter_t it;
  if (!filter) return true;
  if (!bson_iter_init(&it, filter)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "filter is not a valid document");
    return false;
  }
  return validate_iter(&it, err);
}
