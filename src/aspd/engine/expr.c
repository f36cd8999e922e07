#include "engine/expr.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/match.h"

#define MAX_ARGS 64
#define E_INVALID_OPERATOR 168, "InvalidPipelineOperator"

typedef struct {
  char *reason;
  size_t len;
} eval_ctx_t;

/* One evaluated argument: the value lives in `doc` under "v". */
typedef struct {
  bson_t doc;
  bson_iter_t it;
  bool present;
} slot_t;

static aspd_expr_result_t eval(const bson_value_t *e, const bson_t *root, bson_t *out,
                               const char *key, eval_ctx_t *c);
static aspd_expr_result_t field_path(const char *path, const bson_t *root, bson_t *out,
                                     const char *key);

static aspd_expr_result_t fail(eval_ctx_t *c, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

static aspd_expr_result_t fail(eval_ctx_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->reason, c->len, fmt, ap);
  va_end(ap);
  return ASPD_EXPR_ERROR;
}

static aspd_expr_result_t eval_slot(const bson_value_t *e, const bson_t *root, slot_t *s,
                                    eval_ctx_t *c) {
  bson_init(&s->doc);
  aspd_expr_result_t r = eval(e, root, &s->doc, "v", c);
  s->present = r == ASPD_EXPR_VALUE && bson_iter_init_find(&s->it, &s->doc, "v");
  return r;
}

static const bson_value_t *slot_value(slot_t *s) {
  return s->present ? bson_iter_value(&s->it) : NULL;
}

static bool is_nullish(const bson_value_t *v) {
  return !v || v->value_type == BSON_TYPE_NULL || v->value_type == BSON_TYPE_UNDEFINED;
}

static bool truthy(const bson_value_t *v) {
  if (is_nullish(v)) return false;
  if (v->value_type == BSON_TYPE_BOOL) return v->value.v_bool;
  if (aspd_value_is_number(v)) return aspd_value_as_double(v) != 0;
  return true;
}

static const char *type_name(const bson_value_t *v) {
  if (!v) return "missing";
  switch (v->value_type) {
    case BSON_TYPE_UTF8:
      return "string";
    case BSON_TYPE_INT32:
      return "int";
    case BSON_TYPE_INT64:
      return "long";
    case BSON_TYPE_DOUBLE:
      return "double";
    case BSON_TYPE_BOOL:
      return "bool";
    case BSON_TYPE_DOCUMENT:
      return "object";
    case BSON_TYPE_ARRAY:
      return "array";
    case BSON_TYPE_DATE_TIME:
      return "date";
    case BSON_TYPE_NULL:
      return "null";
    case BSON_TYPE_OID:
      return "objectId";
    default:
      return "other";
  }
}

/* Appends an integral result as int32 when every input was int32 and it fits. */
static void append_number(bson_t *out, const char *key, double d, bool any_double, bool all_int32) {
  if (any_double) {
    bson_append_double(out, key, -1, d);
  } else if (all_int32 && d >= INT32_MIN && d <= INT32_MAX) {
    bson_append_int32(out, key, -1, (int32_t)d);
  } else {
    bson_append_int64(out, key, -1, (int64_t)d);
  }
}

/* ISO-8601 with optional milliseconds and a Z or +hh:mm offset. */
static bool parse_iso_date(const char *s, int64_t *ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return false;
  s += n;
  if (*s == 'T' || *s == ' ') {
    if (sscanf(s + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3) return false;
    s += 1 + n;
  }
  int frac = 0;
  if (*s == '.') {
    int digits = 0;
    for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
      if (digits < 3) frac = frac * 10 + (*s - '0');
    }
    for (; digits < 3; digits++) frac *= 10;
  }
  int offset_min = 0;
  if (*s == '+' || *s == '-') {
    int oh, om;
    if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_min = (oh * 60 + om) * (*s == '-' ? -1 : 1);
    s += 6;
  } else if (*s == 'Z') {
    s++;
  }
  if (*s) return false;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = sec};
  *ms = ((int64_t)timegm(&tm) - (int64_t)offset_min * 60) * 1000 + frac;
  return true;
}

static void format_iso_date(int64_t ms, char *out, size_t len) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

typedef struct {
  const char *name;
  int min_args, max_args; /* -1 = any */
} op_info_t;

static const op_info_t operators[] = {
    {"$literal", -1, -1},   {"$meta", -1, -1},    {"$add", 0, -1},
    {"$subtract", 2, 2},    {"$multiply", 0, -1}, {"$divide", 2, 2},
    {"$mod", 2, 2},         {"$abs", 1, 1},       {"$concat", 0, -1},
    {"$toLower", 1, 1},     {"$toUpper", 1, 1},   {"$toString", 1, 1},
    {"$toInt", 1, 1},       {"$toLong", 1, 1},    {"$toDouble", 1, 1},
    {"$toBool", 1, 1},      {"$toDate", 1, 1},    {"$dateFromString", -1, -1},
    {"$eq", 2, 2},          {"$ne", 2, 2},        {"$gt", 2, 2},
    {"$gte", 2, 2},         {"$lt", 2, 2},        {"$lte", 2, 2},
    {"$and", 0, -1},        {"$or", 0, -1},       {"$not", 1, 1},
    {"$cond", -1, -1},      {"$ifNull", 2, -1},   {"$size", 1, 1},
    {"$arrayElemAt", 2, 2},
};

static const op_info_t *find_operator(const char *name) {
  for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++) {
    if (!strcmp(operators[i].name, name)) return &operators[i];
  }
  return NULL;
}

/* The operand as an argument list: an array's elements, or the operand itself. */
static size_t arguments(const bson_value_t *operand, bson_value_t *args, size_t max) {
  if (operand->value_type != BSON_TYPE_ARRAY) {
    args[0] = *operand;
    return 1;
  }
  bson_iter_t it;
  size_t n = 0;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it) && n < max) args[n++] = *bson_iter_value(&it);
  return n;
}

static bool sub_document(const bson_value_t *v, bson_t *out) {
  if (v->value_type != BSON_TYPE_DOCUMENT) return false;
  return bson_init_static(out, v->value.v_doc.data, v->value.v_doc.data_len);
}

static aspd_expr_result_t arithmetic(const char *op, slot_t *s, size_t n, bson_t *out,
                                     const char *key, eval_ctx_t *c) {
  bool any_double = false, all_int32 = true;
  int64_t date_ms = 0;
  bool has_date = false;
  double acc = !strcmp(op, "$multiply") ? 1 : 0;
  for (size_t i = 0; i < n; i++) {
    const bson_value_t *v = slot_value(&s[i]);
    if (is_nullish(v)) {
      bson_append_null(out, key, -1);
      return ASPD_EXPR_VALUE;
    }
    if (v->value_type == BSON_TYPE_DATE_TIME && (!strcmp(op, "$add") || !strcmp(op, "$subtract"))) {
      if (!strcmp(op, "$subtract") && i == 1 && has_date) {
        bson_append_int64(out, key, -1, date_ms - v->value.v_datetime);
        return ASPD_EXPR_VALUE;
      }
      has_date = true;
      date_ms = v->value.v_datetime;
      continue;
    }
    if (!aspd_value_is_number(v)) {
      return fail(c, "%s only supports numeric or date types, not %s", op, type_name(v));
    }
    any_double = any_double || v->value_type == BSON_TYPE_DOUBLE;
    all_int32 = all_int32 && v->value_type == BSON_TYPE_INT32;
    double d = aspd_value_as_double(v);
    if (!strcmp(op, "$add")) acc += d;
    if (!strcmp(op, "$multiply")) acc *= d;
    if (!strcmp(op, "$abs")) acc = fabs(d);
    if (!strcmp(op, "$subtract")) acc = i == 0 ? d : acc - d;
    if (!strcmp(op, "$divide") || !strcmp(op, "$mod")) {
      if (i == 0) {
        acc = d;
      } else if (d == 0) {
        return fail(c, "can't %s by zero", op[1] == 'd' ? "$divide" : "$mod");
      } else if (op[1] == 'd') {
        acc /= d;
        any_double = true;
      } else {
        acc = fmod(acc, d);
      }
    }
  }
  if (has_date) {
    int64_t delta = (int64_t)llround(acc);
    bson_append_date_time(out, key, -1,
                          !strcmp(op, "$subtract") ? date_ms - delta : date_ms + delta);
    return ASPD_EXPR_VALUE;
  }
  append_number(out, key, acc, any_double, all_int32);
  return ASPD_EXPR_VALUE;
}

static aspd_expr_result_t to_string(const bson_value_t *v, bson_t *out, const char *key,
                                    eval_ctx_t *c) {
  char buf[64];
  if (is_nullish(v)) {
    bson_append_null(out, key, -1);
    return ASPD_EXPR_VALUE;
  }
  switch (v->value_type) {
    case BSON_TYPE_UTF8:
      bson_append_value(out, key, -1, v);
      return ASPD_EXPR_VALUE;
    case BSON_TYPE_INT32:
      snprintf(buf, sizeof buf, "%d", v->value.v_int32);
      break;
    case BSON_TYPE_INT64:
      snprintf(buf, sizeof buf, "%lld", (long long)v->value.v_int64);
      break;
    case BSON_TYPE_DOUBLE:
      snprintf(buf, sizeof buf, "%.17g", v->value.v_double);
      break;
    case BSON_TYPE_BOOL:
      snprintf(buf, sizeof buf, "%s", v->value.v_bool ? "true" : "false");
      break;
    case BSON_TYPE_DATE_TIME:
      format_iso_date(v->value.v_datetime, buf, sizeof buf);
      break;
    case BSON_TYPE_OID:
      bson_oid_to_string(&v->value.v_oid, buf);
      break;
    default:
      return fail(c, "Unsupported conversion from %s to string", type_name(v));
  }
  bson_append_utf8(out, key, -1, buf, -1);
  return ASPD_EXPR_VALUE;
}

static aspd_expr_result_t convert(const char *op, const bson_value_t *v, bson_t *out,
                                  const char *key, eval_ctx_t *c) {
  if (is_nullish(v)) {
    bson_append_null(out, key, -1);
    return ASPD_EXPR_VALUE;
  }
  if (!strcmp(op, "$toString")) return to_string(v, out, key, c);
  if (!strcmp(op, "$toBool")) {
    bson_append_bool(out, key, -1, truthy(v));
    return ASPD_EXPR_VALUE;
  }
  if (!strcmp(op, "$toDate") || !strcmp(op, "$dateFromString")) {
    int64_t ms;
    if (v->value_type == BSON_TYPE_DATE_TIME) {
      ms = v->value.v_datetime;
    } else if (aspd_value_is_number(v) && op[3] == 'D') {
      ms = (int64_t)aspd_value_as_double(v);
    } else if (v->value_type == BSON_TYPE_UTF8) {
      if (!parse_iso_date(v->value.v_utf8.str, &ms)) {
        return fail(c, "Error parsing date string '%s'", v->value.v_utf8.str);
      }
    } else {
      return fail(c, "%s cannot convert %s to a date", op, type_name(v));
    }
    bson_append_date_time(out, key, -1, ms);
    return ASPD_EXPR_VALUE;
  }
  double d;
  if (aspd_value_is_number(v)) {
    d = aspd_value_as_double(v);
  } else if (v->value_type == BSON_TYPE_BOOL) {
    d = v->value.v_bool;
  } else if (v->value_type == BSON_TYPE_UTF8) {
    char *end;
    d = strtod(v->value.v_utf8.str, &end);
    if (!*v->value.v_utf8.str || *end) {
      return fail(c, "Failed to parse number '%s' in $convert", v->value.v_utf8.str);
    }
  } else {
    return fail(c, "Unsupported conversion from %s in %s", type_name(v), op);
  }
  if (!strcmp(op, "$toDouble")) {
    bson_append_double(out, key, -1, d);
  } else if (!strcmp(op, "$toInt")) {
    bson_append_int32(out, key, -1, (int32_t)d);
  } else {
    bson_append_int64(out, key, -1, (int64_t)d);
  }
  return ASPD_EXPR_VALUE;
}

static aspd_expr_result_t compare(const char *op, slot_t *s, bson_t *out, const char *key) {
  bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  const bson_value_t *a = slot_value(&s[0]), *b = slot_value(&s[1]);
  if (!a) a = &null_value;
  if (!b) b = &null_value;
  bool comparable;
  int r = aspd_value_compare(a, b, &comparable);
  if (!comparable) r = a->value_type < b->value_type ? -1 : 1;
  bool v = !strcmp(op, "$eq")    ? r == 0
           : !strcmp(op, "$ne")  ? r != 0
           : !strcmp(op, "$gt")  ? r > 0
           : !strcmp(op, "$gte") ? r >= 0
           : !strcmp(op, "$lt")  ? r < 0
                                 : r <= 0;
  bson_append_bool(out, key, -1, v);
  return ASPD_EXPR_VALUE;
}

static aspd_expr_result_t cond(const bson_value_t *operand, const bson_t *root, bson_t *out,
                               const char *key, eval_ctx_t *c) {
  bson_value_t parts[3];
  bson_t spec;
  if (operand->value_type == BSON_TYPE_ARRAY) {
    if (arguments(operand, parts, 3) != 3) return fail(c, "$cond needs 3 arguments");
  } else if (sub_document(operand, &spec)) {
    static const char *const names[] = {"if", "then", "else"};
    for (int i = 0; i < 3; i++) {
      bson_iter_t it;
      if (!bson_iter_init_find(&it, &spec, names[i]))
        return fail(c, "Missing '%s' parameter to $cond", names[i]);
      parts[i] = *bson_iter_value(&it);
    }
  } else {
    return fail(c, "$cond needs an array or an object");
  }
  slot_t test;
  aspd_expr_result_t r = eval_slot(&parts[0], root, &test, c);
  bool yes = r != ASPD_EXPR_ERROR && truthy(slot_value(&test));
  bson_destroy(&test.doc);
  if (r == ASPD_EXPR_ERROR) return r;
  return eval(&parts[yes ? 1 : 2], root, out, key, c);
}

static aspd_expr_result_t run_operator(const char *op, const bson_value_t *operand,
                                       const bson_t *root, bson_t *out, const char *key,
                                       eval_ctx_t *c) {
  if (!strcmp(op, "$literal")) {
    bson_append_value(out, key, -1, operand);
    return ASPD_EXPR_VALUE;
  }
  if (!strcmp(op, "$meta")) {
    /* aspd keeps the stream metadata in the document: "stream.x" reads _stream_meta.x. */
    char path[512];
    snprintf(path, sizeof path, "$_stream_meta%s", operand->value.v_utf8.str + strlen("stream"));
    return field_path(path, root, out, key);
  }
  if (!strcmp(op, "$cond")) return cond(operand, root, out, key, c);
  bson_value_t args[MAX_ARGS];
  size_t n;
  bson_t spec;
  if (!strcmp(op, "$dateFromString")) {
    bson_iter_t it;
    if (!sub_document(operand, &spec) || !bson_iter_init_find(&it, &spec, "dateString")) {
      return fail(c, "$dateFromString requires that 'dateString' be present");
    }
    args[0] = *bson_iter_value(&it);
    n = 1;
  } else {
    n = arguments(operand, args, MAX_ARGS);
  }
  slot_t slots[MAX_ARGS];
  size_t evaluated = 0;
  aspd_expr_result_t r = ASPD_EXPR_VALUE;
  for (; evaluated < n && r != ASPD_EXPR_ERROR; evaluated++) {
    r = eval_slot(&args[evaluated], root, &slots[evaluated], c);
  }
  if (r != ASPD_EXPR_ERROR) {
    r = ASPD_EXPR_VALUE;
    const bson_value_t *first = n ? slot_value(&slots[0]) : NULL;
    if (!strcmp(op, "$add") || !strcmp(op, "$subtract") || !strcmp(op, "$multiply") ||
        !strcmp(op, "$divide") || !strcmp(op, "$mod") || !strcmp(op, "$abs")) {
      r = arithmetic(op, slots, n, out, key, c);
    } else if (!strcmp(op, "$concat")) {
      bson_string_t *s = bson_string_new(NULL);
      bool null_seen = false;
      for (size_t i = 0; i < n && r == ASPD_EXPR_VALUE; i++) {
        const bson_value_t *v = slot_value(&slots[i]);
        if (is_nullish(v)) {
          null_seen = true;
        } else if (v->value_type != BSON_TYPE_UTF8) {
          r = fail(c, "$concat only supports strings, not %s", type_name(v));
        } else {
          bson_string_append(s, v->value.v_utf8.str);
        }
      }
      if (r == ASPD_EXPR_VALUE && null_seen) bson_append_null(out, key, -1);
      if (r == ASPD_EXPR_VALUE && !null_seen) bson_append_utf8(out, key, -1, s->str, (int)s->len);
      bson_string_free(s, true);
    } else if (!strcmp(op, "$toLower") || !strcmp(op, "$toUpper")) {
      char *copy = strdup(
          is_nullish(first) || first->value_type != BSON_TYPE_UTF8 ? "" : first->value.v_utf8.str);
      for (char *p = copy; *p; p++) {
        if (op[3] == 'L' && *p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        if (op[3] == 'U' && *p >= 'a' && *p <= 'z') *p = (char)(*p - 32);
      }
      bson_append_utf8(out, key, -1, copy, -1);
      free(copy);
    } else if (!strncmp(op, "$to", 3) || !strcmp(op, "$dateFromString")) {
      r = convert(op, first, out, key, c);
    } else if (!strcmp(op, "$and") || !strcmp(op, "$or")) {
      bool all = true, any = false;
      for (size_t i = 0; i < n; i++) {
        bool t = truthy(slot_value(&slots[i]));
        all = all && t;
        any = any || t;
      }
      bson_append_bool(out, key, -1, op[1] == 'a' ? all : any);
    } else if (!strcmp(op, "$not")) {
      bson_append_bool(out, key, -1, !truthy(first));
    } else if (!strcmp(op, "$ifNull")) {
      size_t i = 0;
      while (i + 1 < n && is_nullish(slot_value(&slots[i]))) i++;
      if (slot_value(&slots[i])) bson_append_value(out, key, -1, slot_value(&slots[i]));
      if (!slot_value(&slots[i])) r = ASPD_EXPR_MISSING;
    } else if (!strcmp(op, "$size")) {
      if (!first || first->value_type != BSON_TYPE_ARRAY) {
        r = fail(c, "The argument to $size must be an array. Type of argument: %s",
                 type_name(first));
      } else {
        bson_iter_t it;
        int32_t count = 0;
        bson_iter_init_from_data(&it, first->value.v_doc.data, first->value.v_doc.data_len);
        while (bson_iter_next(&it)) count++;
        bson_append_int32(out, key, -1, count);
      }
    } else if (!strcmp(op, "$arrayElemAt")) {
      const bson_value_t *idx = slot_value(&slots[1]);
      if (is_nullish(first) || is_nullish(idx)) {
        bson_append_null(out, key, -1);
      } else if (first->value_type != BSON_TYPE_ARRAY || !aspd_value_is_number(idx)) {
        r = fail(c, "$arrayElemAt needs an array and a number");
      } else {
        bson_iter_t it;
        int64_t count = 0, want = (int64_t)aspd_value_as_double(idx);
        bson_iter_init_from_data(&it, first->value.v_doc.data, first->value.v_doc.data_len);
        while (bson_iter_next(&it)) count++;
        if (want < 0) want += count;
        r = ASPD_EXPR_MISSING;
        bson_iter_init_from_data(&it, first->value.v_doc.data, first->value.v_doc.data_len);
        for (int64_t i = 0; bson_iter_next(&it); i++) {
          if (i == want) {
            bson_append_value(out, key, -1, bson_iter_value(&it));
            r = ASPD_EXPR_VALUE;
          }
        }
      }
    } else {
      r = compare(op, slots, out, key);
    }
  }
  for (size_t i = 0; i < evaluated; i++) bson_destroy(&slots[i].doc);
  return r;
}

static aspd_expr_result_t field_path(const char *path, const bson_t *root, bson_t *out,
                                     const char *key) {
  if (!strcmp(path, "$$ROOT") || !strcmp(path, "$$CURRENT")) {
    bson_append_document(out, key, -1, root);
    return ASPD_EXPR_VALUE;
  }
  bson_iter_t it, found;
  if (!bson_iter_init(&it, root) || !bson_iter_find_descendant(&it, path + 1, &found)) {
    return ASPD_EXPR_MISSING;
  }
  bson_append_value(out, key, -1, bson_iter_value(&found));
  return ASPD_EXPR_VALUE;
}

static aspd_expr_result_t eval(const bson_value_t *e, const bson_t *root, bson_t *out,
                               const char *key, eval_ctx_t *c) {
  if (e->value_type == BSON_TYPE_UTF8 && e->value.v_utf8.str[0] == '$') {
    return field_path(e->value.v_utf8.str, root, out, key);
  }
  if (e->value_type != BSON_TYPE_DOCUMENT && e->value_type != BSON_TYPE_ARRAY) {
    bson_append_value(out, key, -1, e);
    return ASPD_EXPR_VALUE;
  }
  bson_iter_t it;
  bson_iter_init_from_data(&it, e->value.v_doc.data, e->value.v_doc.data_len);
  if (e->value_type == BSON_TYPE_DOCUMENT && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$') {
    return run_operator(bson_iter_key(&it), bson_iter_value(&it), root, out, key, c);
  }
  /* An object or array of expressions; missing members of an array become null. */
  bool array = e->value_type == BSON_TYPE_ARRAY;
  bson_t child;
  if (array) {
    bson_append_array_begin(out, key, -1, &child);
  } else {
    bson_append_document_begin(out, key, -1, &child);
  }
  bson_iter_init_from_data(&it, e->value.v_doc.data, e->value.v_doc.data_len);
  aspd_expr_result_t r = ASPD_EXPR_VALUE;
  while (r != ASPD_EXPR_ERROR && bson_iter_next(&it)) {
    aspd_expr_result_t m = eval(bson_iter_value(&it), root, &child, bson_iter_key(&it), c);
    if (m == ASPD_EXPR_MISSING && array) bson_append_null(&child, bson_iter_key(&it), -1);
    if (m == ASPD_EXPR_ERROR) r = m;
  }
  if (array) {
    bson_append_array_end(out, &child);
  } else {
    bson_append_document_end(out, &child);
  }
  return r;
}

aspd_expr_result_t aspd_expr_append(const bson_value_t *expr, const bson_t *root, bson_t *out,
                                    const char *key, char *reason, size_t reason_len) {
  eval_ctx_t c = {reason, reason_len};
  return eval(expr, root, out, key, &c);
}

bool aspd_expr_validate(const bson_value_t *expr, aspd_error_t *err) {
  if (expr->value_type != BSON_TYPE_DOCUMENT && expr->value_type != BSON_TYPE_ARRAY) return true;
  bson_iter_t it;
  bson_iter_init_from_data(&it, expr->value.v_doc.data, expr->value.v_doc.data_len);
  size_t fields = 0;
  const char *op = NULL;
  bson_value_t operand = {0};
  while (bson_iter_next(&it)) {
    fields++;
    if (fields == 1 && expr->value_type == BSON_TYPE_DOCUMENT && bson_iter_key(&it)[0] == '$') {
      op = bson_iter_key(&it);
      operand = *bson_iter_value(&it);
      continue;
    }
    if (op) break;
    if (!aspd_expr_validate(bson_iter_value(&it), err)) return false;
  }
  if (!op) return true;
  if (fields > 1) {
    aspd_error_set(err, 15983, "Location15983",
                   "an expression specification must contain exactly one field, the name of the "
                   "expression. Found %zu fields",
                   fields);
    return false;
  }
  const op_info_t *info = find_operator(op);
  if (!info) {
    aspd_error_set(err, E_INVALID_OPERATOR, "Unrecognized expression '%s'", op);
    return false;
  }
  if (!strcmp(op, "$literal")) return true;
  if (!strcmp(op, "$meta")) {
    if (operand.value_type == BSON_TYPE_UTF8 && !strncmp(operand.value.v_utf8.str, "stream", 6) &&
        (!operand.value.v_utf8.str[6] || operand.value.v_utf8.str[6] == '.')) {
      return true;
    }
    aspd_error_set(
        err, 17308, "Location17308", "Unsupported argument to $meta: %s",
        operand.value_type == BSON_TYPE_UTF8 ? operand.value.v_utf8.str : "(not a string)");
    return false;
  }
  bson_value_t args[MAX_ARGS];
  size_t n = operand.value_type == BSON_TYPE_ARRAY || info->min_args >= 0
                 ? arguments(&operand, args, MAX_ARGS)
                 : 0;
  if (info->min_args >= 0 && operand.value_type == BSON_TYPE_ARRAY &&
      ((int)n < info->min_args || (info->max_args >= 0 && (int)n > info->max_args))) {
    aspd_error_set(err, 16020, "Location16020",
                   "Expression %s takes %d arguments. %zu were passed in.", op, info->min_args, n);
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (!aspd_expr_validate(&args[i], err)) return false;
  }
  if (operand.value_type == BSON_TYPE_DOCUMENT && info->min_args < 0) {
    return aspd_expr_validate(&operand, err);
  }
  return true;
}
