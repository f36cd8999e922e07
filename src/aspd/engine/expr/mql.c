/* The query language: compiling filters into node trees and matching them. */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/expr/json_schema.h"
#include "engine/expr/query.h"
#include "engine/expr/regex.h"
#include "engine/match.h"

typedef enum { Q_AND, Q_OR, Q_NOR, Q_NOT, Q_FIELD, Q_EXPR, Q_SCHEMA, Q_NONE } q_kind_t;

typedef struct aspd_query_op aspd_query_op_t;

struct aspd_query {
  q_kind_t kind;
  aspd_query_t **children;
  size_t count;
  /* Q_FIELD */
  char **path;
  size_t path_len;
  const aspd_query_op_t *op;
  bson_t *owned;        /* keeps the operand's data */
  bson_value_t operand; /* points into owned */
  void *data;           /* per operator: regex, type list, sub-query */
  void (*free_data)(void *data);
  /* Q_EXPR */
  aspd_expr_t *expr;
};

/* Also test each element when the value at the end of the path is an array. */
#define EACH 1u
/* The row stands for the negation of its test ($ne, $nin, $exists: false handled in compile). */
#define NEGATE 2u

struct aspd_query_op {
  const char *name;
  /* Checks and keeps the operand (q->owned/operand are set already); NULL: none needed. */
  bool (*compile)(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err);
  /* v: the value at the path (BSON_TYPE_EOD when missing). */
  bool (*test)(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev);
  unsigned flags;
};

static bool bad_value(aspd_error_t *err, const char *fmt, ...) BSON_GNUC_PRINTF(2, 3);

static bool bad_value(aspd_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  err->code = 2;
  err->code_name = "BadValue";
  return false;
}

static aspd_query_t *node(q_kind_t kind) {
  aspd_query_t *q = calloc(1, sizeof *q);
  q->kind = kind;
  return q;
}

static void add_child(aspd_query_t *q, aspd_query_t *child) {
  q->children = realloc(q->children, (q->count + 1) * sizeof *q->children);
  q->children[q->count++] = child;
}

void aspd_query_free(aspd_query_t *q) {
  if (!q) return;
  for (size_t i = 0; i < q->count; i++) aspd_query_free(q->children[i]);
  free(q->children);
  for (size_t i = 0; i < q->path_len; i++) free(q->path[i]);
  free(q->path);
  if (q->owned) bson_destroy(q->owned);
  if (q->free_data) q->free_data(q->data);
  aspd_expr_free(q->expr);
  free(q);
}

static void free_regex(void *re) {
  aspd_regex_free(re);
}

static void free_schema(void *schema) {
  aspd_json_schema_free(schema);
}

static void free_query(void *q) {
  aspd_query_free(q);
}

/* $in's regexes, parallel to its operand (NULL for plain values). */
typedef struct {
  size_t count;
  aspd_regex_t *res[];
} in_regexes_t;

static void free_in(void *data) {
  in_regexes_t *in = data;
  for (size_t i = 0; i < in->count; i++) aspd_regex_free(in->res[i]);
  free(in);
}

static void each_value(const bson_value_t *array, bson_iter_t *it) {
  bson_iter_init_from_data(it, array->value.v_doc.data, array->value.v_doc.data_len);
}

/* --- field operator tests ------------------------------------------------ */

static bool nullish(const bson_value_t *v) {
  return v->value_type == BSON_TYPE_EOD || v->value_type == BSON_TYPE_NULL ||
         v->value_type == BSON_TYPE_UNDEFINED;
}

static bool regex_test(aspd_regex_t *re, const bson_value_t *v) {
  if (v->value_type == BSON_TYPE_UTF8 || v->value_type == BSON_TYPE_SYMBOL) {
    return aspd_regex_match(re, v->value.v_utf8.str, v->value.v_utf8.len);
  }
  return false;
}

/* Equality as the query language has it: null matches missing and undefined. */
static bool equals(const bson_value_t *operand, const bson_value_t *v) {
  if (operand->value_type == BSON_TYPE_NULL) return nullish(v);
  if (v->value_type == BSON_TYPE_EOD) return false;
  return aspd_value_cmp(v, operand) == 0;
}

static bool test_eq(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  if (q->data) return regex_test(q->data, v); /* {field: /re/} */
  return equals(&q->operand, v);
}

/* $gt & co. compare values of the same type class only (MinKey/MaxKey compare with all). */
static int ordered(const aspd_query_t *q, const bson_value_t *v, bool *comparable) {
  bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  const bson_value_t *x = v->value_type == BSON_TYPE_EOD ? &null_value : v;
  bson_type_t ot = q->operand.value_type;
  *comparable = ot == BSON_TYPE_MINKEY || ot == BSON_TYPE_MAXKEY ||
                aspd_value_rank(x->value_type) == aspd_value_rank(ot) ||
                (ot == BSON_TYPE_NULL && nullish(x));
  return *comparable ? (nullish(x) && ot == BSON_TYPE_NULL ? 0 : aspd_value_cmp(x, &q->operand))
                     : 0;
}

#define ORDERED_TEST(fn, cond)                                                    \
  static bool fn(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) { \
    (void)ev;                                                                     \
    bool comparable;                                                              \
    int c = ordered(q, v, &comparable);                                           \
    return comparable && (cond);                                                  \
  }

ORDERED_TEST(test_gt, c > 0)
ORDERED_TEST(test_gte, c >= 0)
ORDERED_TEST(test_lt, c < 0)
ORDERED_TEST(test_lte, c <= 0)

static bool test_in(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  const in_regexes_t *in = q->data;
  bson_iter_t it;
  each_value(&q->operand, &it);
  for (size_t i = 0; bson_iter_next(&it); i++) {
    if (in->res[i] ? regex_test(in->res[i], v) : equals(bson_iter_value(&it), v)) return true;
  }
  return false;
}

static bool test_exists(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)q;
  (void)ev;
  return v->value_type != BSON_TYPE_EOD;
}

/* data: the accepted types, ended by BSON_TYPE_EOD; "number" expands to the four. */
static bool test_type(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  for (const bson_type_t *t = q->data; *t != BSON_TYPE_EOD; t++) {
    if (v->value_type == *t) return true;
  }
  return false;
}

static bool test_size(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  if (v->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  int64_t n = 0;
  each_value(v, &it);
  while (bson_iter_next(&it)) n++;
  /* Compared as doubles: a size beyond the int64 range (1e20, Infinity) matches no array
   * rather than going through an undefined conversion. */
  return (double)n == aspd_value_as_double(&q->operand);
}

/* data: the divisor and the remainder, truncated to int64s by compile_mod. */
static bool test_mod(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  const int64_t *dr = q->data;
  int64_t n;
  /* NaN, infinities and numbers beyond the int64 range have no integer remainder: they do
   * not match. */
  if (!aspd_value_truncate(v, &n)) return false;
  /* INT64_MIN % -1 overflows (a SIGFPE on x86); every remainder by -1 is 0. */
  return (dr[0] == -1 ? 0 : n % dr[0]) == dr[1];
}

static bool test_regex(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  (void)ev;
  return regex_test(q->data, v);
}

static bool matches_value(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev);

static bool test_elem_match(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  if (v->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  each_value(v, &it);
  while (bson_iter_next(&it)) {
    if (matches_value(q->data, bson_iter_value(&it), ev)) return true;
  }
  return false;
}

/* The bit tests: data holds the bit positions the operand names. */
typedef struct {
  size_t count;
  uint32_t pos[];
} bit_positions_t;

/* Bit pos of an integral number (sign-extended past bit 63) or of BinData (an unsigned
 * little-endian number: bits past its end are 0). */
static bool bit_at(const bson_value_t *v, int64_t n, uint32_t pos) {
  if (v->value_type == BSON_TYPE_BINARY) {
    uint32_t byte = pos / 8;
    return byte < v->value.v_binary.data_len && (v->value.v_binary.data[byte] >> (pos % 8)) & 1;
  }
  return pos < 64 ? ((uint64_t)n >> pos) & 1 : n < 0;
}

/* How many of the positions are set in v; false when v is neither an integral number that
 * fits an int64 nor BinData (such values never match). */
static bool bits_set(const aspd_query_t *q, const bson_value_t *v, size_t *set) {
  int64_t n = 0;
  if (v->value_type != BSON_TYPE_BINARY && !aspd_value_as_integral(v, &n)) return false;
  const bit_positions_t *b = q->data;
  *set = 0;
  for (size_t i = 0; i < b->count; i++) *set += bit_at(v, n, b->pos[i]);
  return true;
}

#define BITS_TEST(fn, cond)                                                       \
  static bool fn(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) { \
    (void)ev;                                                                     \
    size_t set, all = ((const bit_positions_t *)q->data)->count;                  \
    (void)all;                                                                    \
    return bits_set(q, v, &set) && (cond);                                        \
  }

BITS_TEST(test_bits_all_set, set == all)
BITS_TEST(test_bits_all_clear, set == 0)
BITS_TEST(test_bits_any_set, set > 0)
BITS_TEST(test_bits_any_clear, set < all)

/* --- field operator compile steps ------------------------------------------ */

static bool need_array(aspd_query_t *q, aspd_error_t *err) {
  if (q->operand.value_type != BSON_TYPE_ARRAY)
    return bad_value(err, "%s needs an array", q->op->name);
  return true;
}

static bool compile_in(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  (void)cc;
  if (!need_array(q, err)) return false;
  bson_iter_t it;
  size_t n = 0;
  each_value(&q->operand, &it);
  while (bson_iter_next(&it)) {
    if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_iter_t inner;
      bson_iter_recurse(&it, &inner);
      if (bson_iter_next(&inner) && bson_iter_key(&inner)[0] == '$') {
        return bad_value(err, "%s", "cannot nest $ under $in");
      }
    }
    n++;
  }
  in_regexes_t *in = calloc(1, sizeof *in + n * sizeof in->res[0]);
  in->count = n;
  q->data = in;
  q->free_data = free_in;
  each_value(&q->operand, &it);
  for (size_t i = 0; bson_iter_next(&it); i++) {
    if (!BSON_ITER_HOLDS_REGEX(&it)) continue;
    const char *options;
    const char *pattern = bson_iter_regex(&it, &options);
    in->res[i] = aspd_regex_compile(pattern, options, err);
    if (!in->res[i]) return false;
  }
  return true;
}

static bool compile_size(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  (void)cc;
  double d = aspd_value_as_double(&q->operand);
  if (!aspd_value_is_number(&q->operand)) return bad_value(err, "%s", "$size needs a number");
  if (d < 0) return bad_value(err, "%s", "$size may not be negative");
  if (d != floor(d)) return bad_value(err, "%s", "$size must be a whole number");
  return true;
}

static bool compile_mod(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  static const char *const what[] = {"divisor", "remainder"};
  (void)cc;
  if (q->operand.value_type != BSON_TYPE_ARRAY) {
    return bad_value(err, "%s", "malformed mod, needs to be an array");
  }
  bson_iter_t it;
  size_t n = 0;
  int64_t dr[2] = {0, 0};
  each_value(&q->operand, &it);
  while (bson_iter_next(&it)) {
    const bson_value_t *v = bson_iter_value(&it);
    if (n >= 2) return bad_value(err, "%s", "malformed mod, too many elements");
    if (!aspd_value_is_number(v)) {
      return bad_value(err, "malformed mod, %s not a number", what[n]);
    }
    /* Both are truncated toward zero; one with no int64 value is refused (MongoDB 5.1). */
    if (!aspd_value_truncate(v, &dr[n])) {
      double d = aspd_value_as_double(v);
      return bad_value(err, "malformed mod, %s value is invalid :: caused by :: %s", what[n],
                       isfinite(d) ? "Out of bounds coercing to integral value"
                                   : "Unable to coerce NaN/Inf to integral type");
    }
    if (n == 0 && dr[0] == 0) return bad_value(err, "%s", "divisor cannot be 0");
    n++;
  }
  if (n < 2) return bad_value(err, "%s", "malformed mod, not enough elements");
  q->data = malloc(sizeof dr);
  memcpy(q->data, dr, sizeof dr);
  q->free_data = free;
  return true;
}

static void add_bit(aspd_query_t *q, uint32_t pos) {
  bit_positions_t *b = q->data;
  b = realloc(b, sizeof *b + (b->count + 1) * sizeof b->pos[0]);
  b->pos[b->count++] = pos;
  q->data = b;
}

/* The operand: a non-negative integral bitmask, a BinData bitmask or an array of
 * non-negative integral positions; all become a list of positions. */
static bool compile_bits(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  (void)cc;
  const bson_value_t *o = &q->operand;
  q->data = calloc(1, sizeof(bit_positions_t));
  q->free_data = free;
  int64_t n;
  if (o->value_type == BSON_TYPE_BINARY) {
    for (uint32_t i = 0; i < o->value.v_binary.data_len * 8u; i++) {
      if ((o->value.v_binary.data[i / 8] >> (i % 8)) & 1) add_bit(q, i);
    }
  } else if (aspd_value_is_number(o)) {
    if (!aspd_value_as_integral(o, &n)) {
      return bad_value(err, "Expected an integer: %s: %s", q->op->name, aspd_value_type_name(o));
    }
    if (n < 0) {
      return bad_value(err, "Expected a non-negative number in: %s: %" PRId64, q->op->name, n);
    }
    for (uint32_t i = 0; i < 64; i++) {
      if (((uint64_t)n >> i) & 1) add_bit(q, i);
    }
  } else if (o->value_type == BSON_TYPE_ARRAY) {
    bson_iter_t it;
    each_value(o, &it);
    while (bson_iter_next(&it)) {
      if (!aspd_value_as_integral(bson_iter_value(&it), &n)) {
        return bad_value(err, "Expected an integer: %s: %s", bson_iter_key(&it),
                         aspd_value_type_name(bson_iter_value(&it)));
      }
      if (n < 0 || n > INT32_MAX) {
        return bad_value(err, "Expected a non-negative number in: %s: %" PRId64, bson_iter_key(&it),
                         n);
      }
      add_bit(q, (uint32_t)n);
    }
  } else {
    return bad_value(err, "%s takes an Array, a number, or a BinData but received: %s", q->op->name,
                     aspd_value_type_name(o));
  }
  return true;
}

static bool add_type(aspd_query_t *q, size_t *n, const bson_value_t *t, aspd_error_t *err) {
  bson_type_t types[4];
  size_t count = 1;
  if (t->value_type == BSON_TYPE_UTF8) {
    if (!strcmp(t->value.v_utf8.str, "number")) {
      types[0] = BSON_TYPE_DOUBLE;
      types[1] = BSON_TYPE_INT32;
      types[2] = BSON_TYPE_INT64;
      types[3] = BSON_TYPE_DECIMAL128;
      count = 4;
    } else if (!aspd_type_from_name(t->value.v_utf8.str, &types[0])) {
      return bad_value(err, "Unknown type name alias: %s", t->value.v_utf8.str);
    }
  } else if (aspd_value_is_number(t)) {
    double d = aspd_value_as_double(t);
    bool known = d == -1 || d == 127 || (d >= 1 && d <= 19 && d == floor(d));
    if (!known) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "Invalid numerical type code: %g", d);
      return false;
    }
    types[0] = d == -1 ? BSON_TYPE_MINKEY : (bson_type_t)(int)d;
  } else {
    return bad_value(err, "%s", "type must be represented as a number or a string");
  }
  bson_type_t *list = realloc(q->data, (*n + count + 1) * sizeof *list);
  memcpy(list + *n, types, count * sizeof *types);
  *n += count;
  list[*n] = BSON_TYPE_EOD;
  q->data = list;
  q->free_data = free;
  return true;
}

static bool compile_type(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  (void)cc;
  size_t n = 0;
  if (q->operand.value_type != BSON_TYPE_ARRAY) return add_type(q, &n, &q->operand, err);
  bson_iter_t it;
  each_value(&q->operand, &it);
  q->data = calloc(1, sizeof(bson_type_t));
  q->free_data = free;
  while (bson_iter_next(&it)) {
    if (!add_type(q, &n, bson_iter_value(&it), err)) return false;
  }
  return true;
}

/* --- compiling ------------------------------------------------------------------ */

static bool compile_regex_operand(aspd_query_t *q, const char *options_override,
                                  aspd_error_t *err) {
  const char *pattern, *options = "";
  if (q->operand.value_type == BSON_TYPE_REGEX) {
    pattern = q->operand.value.v_regex.regex;
    options = q->operand.value.v_regex.options;
  } else if (q->operand.value_type == BSON_TYPE_UTF8) {
    pattern = q->operand.value.v_utf8.str;
  } else {
    return bad_value(err, "%s", "$regex has to be a string");
  }
  if (options_override) {
    if (q->operand.value_type == BSON_TYPE_REGEX && *options) {
      return bad_value(err, "%s", "options set in both $regex and $options");
    }
    options = options_override;
  }
  q->data = aspd_regex_compile(pattern, options, err);
  q->free_data = free_regex;
  return q->data != NULL;
}

static bool compile_elem_match(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err);

/* One table of field operators. */
static const aspd_query_op_t field_ops[] = {
    {"$eq", NULL, test_eq, EACH},
    {"$ne", NULL, test_eq, EACH | NEGATE},
    {"$gt", NULL, test_gt, EACH},
    {"$gte", NULL, test_gte, EACH},
    {"$lt", NULL, test_lt, EACH},
    {"$lte", NULL, test_lte, EACH},
    {"$in", compile_in, test_in, EACH},
    {"$nin", compile_in, test_in, EACH | NEGATE},
    {"$exists", NULL, test_exists, 0},
    {"$type", compile_type, test_type, EACH},
    {"$size", compile_size, test_size, 0},
    {"$mod", compile_mod, test_mod, EACH},
    {"$regex", NULL, test_regex, EACH},
    {"$elemMatch", compile_elem_match, test_elem_match, 0},
    {"$bitsAllSet", compile_bits, test_bits_all_set, EACH},
    {"$bitsAllClear", compile_bits, test_bits_all_clear, EACH},
    {"$bitsAnySet", compile_bits, test_bits_any_set, EACH},
    {"$bitsAnyClear", compile_bits, test_bits_any_clear, EACH},
};

static const aspd_query_op_t *find_field_op(const char *name) {
  for (size_t i = 0; i < sizeof field_ops / sizeof field_ops[0]; i++) {
    if (!strcmp(field_ops[i].name, name)) return &field_ops[i];
  }
  return NULL;
}

static bool split_path(aspd_query_t *q, const char *path) {
  for (const char *p = path; *p;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    q->path = realloc(q->path, (q->path_len + 1) * sizeof *q->path);
    q->path[q->path_len++] = strndup(p, len);
    p += len + (dot ? 1 : 0);
  }
  return true;
}

static aspd_query_t *field_node(const char *path, const aspd_query_op_t *op,
                                const bson_value_t *operand) {
  aspd_query_t *q = node(Q_FIELD);
  if (path) split_path(q, path);
  q->op = op;
  q->owned = bson_new();
  bson_append_value(q->owned, "v", 1, operand);
  bson_iter_t it;
  bson_iter_init_find(&it, q->owned, "v");
  q->operand = *bson_iter_value(&it);
  return q;
}

/* {path: value}: equality, or a match for a regex value; NULL (err set) when the
 * regex does not compile. */
static aspd_query_t *equality_node(const char *path, const bson_value_t *v, aspd_error_t *err) {
  aspd_query_t *q = field_node(path, find_field_op("$eq"), v);
  if (v->value_type == BSON_TYPE_REGEX && !compile_regex_operand(q, NULL, err)) {
    aspd_query_free(q);
    return NULL;
  }
  return q;
}

static aspd_query_t *negate(aspd_query_t *q) {
  aspd_query_t *n = node(Q_NOT);
  add_child(n, q);
  return n;
}

static aspd_query_t *compile_doc(const bson_value_t *filter, aspd_expr_compiler_t *cc,
                                 aspd_error_t *err);

static aspd_query_t *compile_operators(const char *path, const bson_value_t *ops,
                                       aspd_expr_compiler_t *cc, aspd_error_t *err);

/* {field: {$all: [...]}}: every value is present (each as $eq, or an $elemMatch). */
static aspd_query_t *compile_all(const char *path, const bson_value_t *operand,
                                 aspd_expr_compiler_t *cc, aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_ARRAY) {
    bad_value(err, "%s", "$all needs an array");
    return NULL;
  }
  aspd_query_t *all = node(Q_AND);
  bson_iter_t it;
  each_value(operand, &it);
  while (bson_iter_next(&it)) {
    const bson_value_t *v = bson_iter_value(&it);
    aspd_query_t *child;
    bson_iter_t inner;
    if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &inner) && bson_iter_next(&inner) &&
        !strcmp(bson_iter_key(&inner), "$elemMatch")) {
      child = compile_operators(path, v, cc, err);
    } else {
      child = equality_node(path, v, err);
    }
    if (!child) {
      aspd_query_free(all);
      return NULL;
    }
    add_child(all, child);
  }
  if (all->count == 0) all->kind = Q_NONE; /* an empty $all matches nothing */
  return all;
}

/* {$not: /re/ | {ops}}. */
static aspd_query_t *compile_not(const char *path, const bson_value_t *operand,
                                 aspd_expr_compiler_t *cc, aspd_error_t *err) {
  aspd_query_t *inner;
  if (operand->value_type == BSON_TYPE_REGEX) {
    inner = field_node(path, find_field_op("$regex"), operand);
    if (!compile_regex_operand(inner, NULL, err)) {
      aspd_query_free(inner);
      return NULL;
    }
  } else if (operand->value_type == BSON_TYPE_DOCUMENT) {
    if (operand->value.v_doc.data_len <= 5) {
      bad_value(err, "%s", "$not cannot be empty");
      return NULL;
    }
    inner = compile_operators(path, operand, cc, err);
    if (!inner) return NULL;
  } else {
    bad_value(err, "%s", "$not needs a regex or a document");
    return NULL;
  }
  return negate(inner);
}

static aspd_query_t *compile_operators(const char *path, const bson_value_t *ops,
                                       aspd_expr_compiler_t *cc, aspd_error_t *err) {
  aspd_query_t *all = node(Q_AND);
  bson_iter_t it;
  const char *options = NULL;
  bool has_regex = false;
  each_value(ops, &it);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), "$options")) {
      if (!BSON_ITER_HOLDS_UTF8(&it)) {
        aspd_query_free(all);
        bad_value(err, "%s", "$options has to be a string");
        return NULL;
      }
      options = bson_iter_utf8(&it, NULL);
    }
    has_regex = has_regex || !strcmp(bson_iter_key(&it), "$regex");
  }
  if (options && !has_regex) {
    aspd_query_free(all);
    bad_value(err, "%s", "$options needs a $regex");
    return NULL;
  }
  each_value(ops, &it);
  while (bson_iter_next(&it)) {
    const char *name = bson_iter_key(&it);
    const bson_value_t *operand = bson_iter_value(&it);
    aspd_query_t *child = NULL;
    if (!strcmp(name, "$options") || !strcmp(name, "$comment")) continue;
    if (!strcmp(name, "$all")) {
      child = compile_all(path, operand, cc, err);
    } else if (!strcmp(name, "$not")) {
      child = compile_not(path, operand, cc, err);
    } else {
      const aspd_query_op_t *op = find_field_op(name);
      if (!op) {
        bad_value(err, "unknown operator: %s", name);
      } else if (!strcmp(name, "$exists")) {
        child = field_node(path, op, operand);
        if (!aspd_value_truthy(operand)) child = negate(child);
      } else {
        child = field_node(path, op, operand);
        bool ok = true;
        if (!strcmp(name, "$regex")) {
          ok = compile_regex_operand(child, options, err);
        } else if ((!strcmp(name, "$eq") || !strcmp(name, "$ne")) &&
                   operand->value_type == BSON_TYPE_REGEX) {
          ok = compile_regex_operand(child, NULL, err);
        } else if (op->compile) {
          ok = op->compile(child, cc, err);
        }
        if (!ok) {
          aspd_query_free(child);
          child = NULL;
        } else if (op->flags & NEGATE) {
          child = negate(child);
        }
      }
    }
    if (!child) {
      aspd_query_free(all);
      return NULL;
    }
    add_child(all, child);
  }
  return all;
}

/* Operators apply to the element itself ({$elemMatch: {$gt: 1}}) unless the
 * spec names fields or logical operators (then each element is a document). */
static bool compile_elem_match(aspd_query_t *q, aspd_expr_compiler_t *cc, aspd_error_t *err) {
  if (q->operand.value_type != BSON_TYPE_DOCUMENT) {
    return bad_value(err, "%s", "$elemMatch needs an Object");
  }
  bson_iter_t it;
  each_value(&q->operand, &it);
  bool value_form = bson_iter_next(&it) && bson_iter_key(&it)[0] == '$' &&
                    strcmp(bson_iter_key(&it), "$and") && strcmp(bson_iter_key(&it), "$or") &&
                    strcmp(bson_iter_key(&it), "$nor") && strcmp(bson_iter_key(&it), "$expr");
  aspd_query_t *sub = value_form ? compile_operators(NULL, &q->operand, cc, err)
                                 : compile_doc(&q->operand, cc, err);
  if (!sub) return false;
  if (!value_form) {
    /* Document form: elements that are not documents never match. */
    aspd_query_t *wrapped = node(Q_AND);
    wrapped->op = q->op; /* marks "element must be a document" */
    add_child(wrapped, sub);
    sub = wrapped;
  }
  q->data = sub;
  q->free_data = free_query;
  return true;
}

static aspd_query_t *compile_logical(const char *name, const bson_value_t *v,
                                     aspd_expr_compiler_t *cc, aspd_error_t *err) {
  if (v->value_type != BSON_TYPE_ARRAY || v->value.v_doc.data_len <= 5) {
    bad_value(err, "%s", "$and/$or/$nor must be a nonempty array");
    return NULL;
  }
  aspd_query_t *q = node(!strcmp(name, "$and") ? Q_AND : !strcmp(name, "$or") ? Q_OR : Q_NOR);
  bson_iter_t it;
  each_value(v, &it);
  while (bson_iter_next(&it)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      aspd_query_free(q);
      bad_value(err, "%s", "$or/$and/$nor entries need to be full objects");
      return NULL;
    }
    aspd_query_t *child = compile_doc(bson_iter_value(&it), cc, err);
    if (!child) {
      aspd_query_free(q);
      return NULL;
    }
    add_child(q, child);
  }
  return q;
}

static bool is_operator_doc(const bson_value_t *v) {
  if (v->value_type != BSON_TYPE_DOCUMENT) return false;
  bson_iter_t it;
  each_value(v, &it);
  return bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

static aspd_query_t *compile_top(const char *key, const bson_value_t *v, aspd_expr_compiler_t *cc,
                                 aspd_error_t *err) {
  if (!strcmp(key, "$and") || !strcmp(key, "$or") || !strcmp(key, "$nor")) {
    return compile_logical(key, v, cc, err);
  }
  if (!strcmp(key, "$expr")) {
    aspd_query_t *q = node(Q_EXPR);
    q->expr = aspd_expr_compile(cc, v, err);
    if (!q->expr) {
      aspd_query_free(q);
      return NULL;
    }
    return q;
  }
  if (!strcmp(key, "$jsonSchema")) {
    aspd_json_schema_t *schema = aspd_json_schema_compile(v, err);
    if (!schema) return NULL;
    aspd_query_t *q = node(Q_SCHEMA);
    q->data = schema;
    q->free_data = free_schema;
    return q;
  }
  if (!strcmp(key, "$comment")) return node(Q_AND);
  bad_value(err, "unknown top level operator: %s", key);
  return NULL;
}

static aspd_query_t *compile_doc(const bson_value_t *filter, aspd_expr_compiler_t *cc,
                                 aspd_error_t *err) {
  aspd_query_t *all = node(Q_AND);
  bson_iter_t it;
  each_value(filter, &it);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    const bson_value_t *v = bson_iter_value(&it);
    aspd_query_t *child;
    if (key[0] == '$') {
      child = compile_top(key, v, cc, err);
    } else if (is_operator_doc(v)) {
      child = compile_operators(key, v, cc, err);
    } else {
      child = equality_node(key, v, err);
    }
    if (!child) {
      aspd_query_free(all);
      return NULL;
    }
    add_child(all, child);
  }
  return all;
}

aspd_query_t *aspd_query_compile(const bson_t *filter, aspd_expr_compiler_t *cc,
                                 aspd_error_t *err) {
  aspd_expr_compiler_t local;
  if (!cc) {
    aspd_expr_compiler_init(&local);
    cc = &local;
  }
  bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
  v.value.v_doc.data = aspd_bytes(bson_get_data(filter));
  v.value.v_doc.data_len = filter->len;
  return compile_doc(&v, cc, err);
}

/* --- matching ---------------------------------------------------------------- */

static bool test_leaf(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  if (q->op->test(q, v, ev)) return true;
  if (!(q->op->flags & EACH) || v->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  each_value(v, &it);
  while (bson_iter_next(&it)) {
    if (q->op->test(q, bson_iter_value(&it), ev)) return true;
  }
  return false;
}

static bool is_index(const char *s) {
  if (!*s) return false;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p)) return false;
  }
  return true;
}

/* The value at path[i..] below v matches: through documents by name, through
 * arrays by index and into each element that is a document. */
static bool match_path(const aspd_query_t *q, const bson_value_t *v, size_t i, aspd_eval_t *ev) {
  if (i == q->path_len) return test_leaf(q, v, ev);
  bson_iter_t it;
  const bson_value_t missing = {.value_type = BSON_TYPE_EOD};
  if (v->value_type == BSON_TYPE_DOCUMENT) {
    bson_value_t field;
    if (!aspd_raw_get(v, q->path[i], strlen(q->path[i]), &field)) {
      return test_leaf(q, &missing, ev);
    }
    return match_path(q, &field, i + 1, ev);
  }
  if (v->value_type != BSON_TYPE_ARRAY) return test_leaf(q, &missing, ev);
  if (is_index(q->path[i])) {
    each_value(v, &it);
    if (bson_iter_find(&it, q->path[i]) && match_path(q, bson_iter_value(&it), i + 1, ev)) {
      return true;
    }
  }
  each_value(v, &it);
  while (bson_iter_next(&it)) {
    const bson_value_t *el = bson_iter_value(&it);
    if (el->value_type == BSON_TYPE_DOCUMENT && match_path(q, el, i, ev)) return true;
  }
  return false;
}

static bool matches_value(const aspd_query_t *q, const bson_value_t *v, aspd_eval_t *ev) {
  switch (q->kind) {
    case Q_AND:
      if (q->op && v->value_type != BSON_TYPE_DOCUMENT) return false; /* $elemMatch doc form */
      for (size_t i = 0; i < q->count; i++) {
        if (!matches_value(q->children[i], v, ev)) return false;
      }
      return true;
    case Q_OR:
      for (size_t i = 0; i < q->count; i++) {
        if (matches_value(q->children[i], v, ev)) return true;
      }
      return false;
    case Q_NOR:
      for (size_t i = 0; i < q->count; i++) {
        if (matches_value(q->children[i], v, ev)) return false;
      }
      return true;
    case Q_NOT:
      return !matches_value(q->children[0], v, ev);
    case Q_FIELD:
      return match_path(q, v, 0, ev);
    case Q_EXPR: {
      if (v->value_type != BSON_TYPE_DOCUMENT) return false;
      bson_t doc;
      bson_init_static(&doc, v->value.v_doc.data, v->value.v_doc.data_len);
      const bson_t *saved = ev->root;
      bson_value_t r;
      ev->root = &doc;
      /* An $expr that fails to evaluate does not match. */
      bool ok = aspd_expr_eval(q->expr, ev, &r) && aspd_value_truthy(&r);
      ev->root = saved;
      return ok;
    }
    case Q_SCHEMA:
      return aspd_json_schema_valid(q->data, v);
    default: /* Q_NONE */
      return false;
  }
}

bool aspd_query_matches(const aspd_query_t *q, const bson_t *doc, aspd_eval_t *ev) {
  aspd_eval_t local;
  if (!ev) aspd_eval_init(&local, NULL);
  bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
  v.value.v_doc.data = aspd_bytes(bson_get_data(doc));
  v.value.v_doc.data_len = doc->len;
  bool m = matches_value(q, &v, ev ? ev : &local);
  if (!ev) aspd_eval_free(&local);
  return m;
}

/* --- one-shot filters for the other layers ------------------------------------------ */

bool aspd_match_validate(const bson_t *filter, aspd_error_t *err) {
  if (!filter) return true;
  aspd_query_t *q = aspd_query_compile(filter, NULL, err);
  aspd_query_free(q);
  return q != NULL;
}

bool aspd_match(const bson_t *doc, const bson_t *filter) {
  if (!filter) return true;
  aspd_error_t err;
  aspd_query_t *q = aspd_query_compile(filter, NULL, &err);
  bool m = q && aspd_query_matches(q, doc, NULL);
  aspd_query_free(q);
  return m;
}
