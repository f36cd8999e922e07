/* Array operators: $concatArrays, $isArray, $in, $indexOfArray, $range,
 * $reverseArray, $slice, $zip, $arrayToObject, $objectToArray, $first, $last,
 * $firstN, $lastN, $maxN, $minN, $sortArray, and the ones that bind variables:
 * $filter (with limit), $map, $reduce. Values compare in BSON order (values.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

static void set_null(bson_value_t *out) {
  out->value_type = BSON_TYPE_NULL;
}

static void set_int(bson_value_t *out, int64_t i) {
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = (int32_t)i;
}

/* The elements of an array value, in the arena; *n gets their count. */
static bson_value_t *elements(aspd_eval_t *ev, const bson_value_t *a, size_t *n) {
  bson_iter_t it;
  *n = 0;
  bson_iter_init_from_data(&it, a->value.v_doc.data, a->value.v_doc.data_len);
  while (bson_iter_next(&it)) (*n)++;
  bson_value_t *v = aspd_eval_alloc(ev, (*n ? *n : 1) * sizeof *v);
  bson_iter_init_from_data(&it, a->value.v_doc.data, a->value.v_doc.data_len);
  for (size_t i = 0; bson_iter_next(&it); i++) v[i] = *bson_iter_value(&it);
  return v;
}

static void push(bson_t *list, uint32_t *n, const bson_value_t *v) {
  char key[16];
  const char *k;
  size_t klen = bson_uint32_to_string((*n)++, &k, key, sizeof key);
  if (v->value_type == BSON_TYPE_EOD) {
    bson_append_null(list, k, (int)klen);
  } else {
    bson_append_value(list, k, (int)klen, v);
  }
}

static void set_array(aspd_eval_t *ev, const bson_value_t *v, size_t n, bson_value_t *out) {
  bson_t list = BSON_INITIALIZER;
  uint32_t k = 0;
  for (size_t i = 0; i < n; i++) push(&list, &k, &v[i]);
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
}

/* An array operand a: true with its elements in *v, or with *v NULL and out
 * null when a is null or missing; false when a is of another type, the error
 * being `message` followed by a's type name. */
static bool array_or_null(aspd_eval_t *ev, const bson_value_t *a, const char *message,
                          bson_value_t **v, size_t *n, bson_value_t *out) {
  *v = NULL;
  if (aspd_value_is_nullish(a)) {
    set_null(out);
    return true;
  }
  if (a->value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "%s%s", message, aspd_value_type_name(a));
  }
  *v = elements(ev, a, n);
  return true;
}

/* ---- simple ones ------------------------------------------------------------ */

static bool eval_concat_arrays(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_t list = BSON_INITIALIZER;
  uint32_t k = 0;
  bool null = false;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t a;
    if (!aspd_expr_eval(e->args[i], ev, &a)) goto fail;
    if (aspd_value_is_nullish(&a)) {
      null = true;
      continue;
    }
    if (a.value_type != BSON_TYPE_ARRAY) {
      aspd_eval_fail(ev, "$concatArrays only supports arrays, not %s", aspd_value_type_name(&a));
      goto fail;
    }
    size_t n;
    bson_value_t *v = elements(ev, &a, &n);
    for (size_t j = 0; j < n; j++) push(&list, &k, &v[j]);
  }
  if (null) {
    set_null(out);
  } else {
    aspd_eval_bson(ev, &list, true, out);
  }
  bson_destroy(&list);
  return true;
fail:
  bson_destroy(&list);
  return false;
}

static bool eval_is_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = v.value_type == BSON_TYPE_ARRAY;
  return true;
}

static bool eval_in(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t x, a;
  if (!aspd_expr_eval(e->args[0], ev, &x) || !aspd_expr_eval(e->args[1], ev, &a)) return false;
  if (a.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "$in requires an array as a second argument, found: %s",
                          aspd_value_type_name(&a));
  }
  size_t n;
  bson_value_t *v = elements(ev, &a, &n);
  bson_value_t null = {.value_type = BSON_TYPE_NULL};
  const bson_value_t *needle = x.value_type == BSON_TYPE_EOD ? &null : &x;
  bool found = false;
  for (size_t i = 0; i < n && !found; i++) found = aspd_value_equal(needle, &v[i]);
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = found;
  return true;
}

static bool eval_index_of_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, x, *v;
  size_t n;
  if (!aspd_expr_eval(e->args[0], ev, &a) ||
      !array_or_null(ev, &a, "$indexOfArray requires an array as a first argument, found: ", &v, &n,
                     out)) {
    return false;
  }
  if (!v) return true;
  if (!aspd_expr_eval(e->args[1], ev, &x)) return false;
  int64_t bounds[2] = {0, (int64_t)n};
  static const char *const which[] = {"starting", "ending"};
  for (size_t i = 2; i < e->nargs; i++) {
    bson_value_t b;
    if (!aspd_expr_eval(e->args[i], ev, &b)) return false;
    if (!aspd_value_as_integral(&b, &bounds[i - 2])) {
      return aspd_eval_fail(ev,
                            "$indexOfArray requires an integral %s index, found a value of "
                            "type: %s",
                            which[i - 2], aspd_value_type_name(&b));
    }
    if (bounds[i - 2] < 0) {
      return aspd_eval_fail(ev, "$indexOfArray requires a nonnegative %s index, found: %lld",
                            which[i - 2], (long long)bounds[i - 2]);
    }
  }
  set_int(out, -1);
  for (int64_t i = bounds[0]; i < bounds[1] && i < (int64_t)n; i++) {
    if (aspd_value_equal(&v[i], &x)) {
      set_int(out, i);
      break;
    }
  }
  return true;
}

/* The most elements $range makes: a million int32s with their keys take about 12 MB, within
 * the 16 MB a document may hold. */
#define RANGE_MAX_ELEMENTS 1000000

static bool eval_range(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  static const char *const what[] = {"starting value", "ending value", "step value"};
  int64_t p[3] = {0, 0, 1};
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    if (!aspd_value_is_number(&v)) {
      return aspd_eval_fail(ev, "$range requires a numeric %s, found value of type: %s", what[i],
                            aspd_value_type_name(&v));
    }
    if (!aspd_value_as_integral(&v, &p[i]) || p[i] < INT32_MIN || p[i] > INT32_MAX) {
      return aspd_eval_fail(ev,
                            "$range requires a %s that can be represented as a 32-bit "
                            "integer, found value: %s",
                            what[i], aspd_eval_json(ev, &v));
    }
  }
  if (p[2] == 0) return aspd_eval_fail(ev, "$range requires a non-zero step value");
  /* Bounds and step are 32-bit, so the count fits an int64; without a cap, [0, 2^31) would
   * build an array of gigabytes element by element. */
  int64_t span = p[2] > 0 ? p[1] - p[0] : p[0] - p[1];
  int64_t step = p[2] > 0 ? p[2] : -p[2];
  int64_t count = span <= 0 ? 0 : (span + step - 1) / step;
  if (count > RANGE_MAX_ELEMENTS) {
    return aspd_eval_fail(ev,
                          "$range would produce %lld elements, more than the %d a document "
                          "can hold",
                          (long long)count, RANGE_MAX_ELEMENTS);
  }
  bson_t list = BSON_INITIALIZER;
  uint32_t k = 0;
  for (int64_t x = p[0]; p[2] > 0 ? x < p[1] : x > p[1]; x += p[2]) {
    bson_value_t v;
    set_int(&v, x);
    push(&list, &k, &v);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

static bool eval_reverse_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, *v;
  size_t n;
  if (!aspd_expr_eval(e->args[0], ev, &a) ||
      !array_or_null(ev, &a, "The argument to $reverseArray must be an array, but was of type: ",
                     &v, &n, out)) {
    return false;
  }
  if (!v) return true;
  for (size_t i = 0; i < n / 2; i++) {
    bson_value_t t = v[i];
    v[i] = v[n - 1 - i];
    v[n - 1 - i] = t;
  }
  set_array(ev, v, n, out);
  return true;
}

static bool eval_slice(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, b, c = {.value_type = BSON_TYPE_EOD};
  if (!aspd_expr_eval(e->args[0], ev, &a) || !aspd_expr_eval(e->args[1], ev, &b)) return false;
  if (e->nargs > 2 && !aspd_expr_eval(e->args[2], ev, &c)) return false;
  if (aspd_value_is_nullish(&a) || aspd_value_is_nullish(&b) ||
      (e->nargs > 2 && aspd_value_is_nullish(&c))) {
    set_null(out);
    return true;
  }
  if (a.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "First argument to $slice must be an array, but is of type: %s",
                          aspd_value_type_name(&a));
  }
  int64_t x, count;
  if (!aspd_value_as_integral(&b, &x)) {
    return aspd_eval_fail(ev,
                          "Second argument to $slice must be a numeric value, but is of "
                          "type: %s",
                          aspd_value_type_name(&b));
  }
  size_t n;
  bson_value_t *v = elements(ev, &a, &n);
  int64_t from, to;
  if (e->nargs == 2) {
    from = x < 0 ? (int64_t)n + x : 0;
    to = x < 0 ? (int64_t)n : x;
  } else {
    if (!aspd_value_as_integral(&c, &count)) {
      return aspd_eval_fail(ev, "Third argument to $slice must be numeric, but is of type: %s",
                            aspd_value_type_name(&c));
    }
    if (count <= 0) {
      return aspd_eval_fail(ev, "Third argument to $slice must be positive: %lld",
                            (long long)count);
    }
    from = x < 0 ? (int64_t)n + x : x;
    if (from < 0) from = 0;
    if (from > (int64_t)n) from = (int64_t)n;
    /* from + count can pass INT64_MAX: compare with what is left instead. */
    to = count > (int64_t)n - from ? (int64_t)n : from + count;
  }
  if (from < 0) from = 0;
  if (to > (int64_t)n) to = (int64_t)n;
  if (from > to) from = to;
  set_array(ev, v + from, (size_t)(to - from), out);
  return true;
}

/* $first/$last of an array: missing for an empty one, null for null or missing. */
static bool first_or_last(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool last) {
  bson_value_t a, *v;
  size_t n;
  if (!aspd_expr_eval(e->args[0], ev, &a) ||
      !array_or_null(ev, &a,
                     last ? "$last's argument must be an array, but is "
                          : "$first's argument must be an array, but is ",
                     &v, &n, out)) {
    return false;
  }
  if (!v) return true;
  if (n == 0) {
    out->value_type = BSON_TYPE_EOD;
  } else {
    *out = v[last ? n - 1 : 0];
  }
  return true;
}

static bool eval_first(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return first_or_last(e, ev, out, false);
}

static bool eval_last(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return first_or_last(e, ev, out, true);
}

/* ---- $firstN, $lastN, $maxN, $minN ---------------------------------------------- */

static const char *const NAMES_N[] = {"n", "input"};

static bool compile_n(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                      aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_N, 2, 3, err);
}

typedef enum { PICK_FIRST, PICK_LAST, PICK_MAX, PICK_MIN } pick_t;

static const char *const PICK_NOT_ARRAY[] = {"$firstN requires an 'input' to be an array, found: ",
                                             "$lastN requires an 'input' to be an array, found: ",
                                             "$maxN requires an 'input' to be an array, found: ",
                                             "$minN requires an 'input' to be an array, found: "};

static int cmp_asc(const void *a, const void *b) {
  return aspd_value_cmp(a, b);
}

static int cmp_desc(const void *a, const void *b) {
  return aspd_value_cmp(b, a);
}

static bool pick_n(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, pick_t how) {
  bson_value_t nv, a, *v;
  if (!aspd_expr_eval(e->args[0], ev, &nv) || !aspd_expr_eval(e->args[1], ev, &a)) return false;
  int64_t count;
  if (!aspd_value_as_integral(&nv, &count)) {
    return aspd_eval_fail(ev, "Value for 'n' must be of integral type, but found %s",
                          aspd_eval_json(ev, &nv));
  }
  if (count <= 0) {
    return aspd_eval_fail(ev, "'n' must be greater than 0, found: %lld", (long long)count);
  }
  size_t n;
  if (!array_or_null(ev, &a, PICK_NOT_ARRAY[how], &v, &n, out)) return false;
  if (!v) return true;
  if (how == PICK_MAX || how == PICK_MIN) {
    /* Null and missing do not count. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
      if (!aspd_value_is_nullish(&v[i])) v[kept++] = v[i];
    }
    n = kept;
    qsort(v, n, sizeof *v, how == PICK_MAX ? cmp_desc : cmp_asc);
  }
  size_t take = (size_t)count < n ? (size_t)count : n;
  set_array(ev, how == PICK_LAST ? v + n - take : v, take, out);
  return true;
}

static bool eval_first_n(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return pick_n(e, ev, out, PICK_FIRST);
}

static bool eval_last_n(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return pick_n(e, ev, out, PICK_LAST);
}

static bool eval_max_n(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return pick_n(e, ev, out, PICK_MAX);
}

static bool eval_min_n(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return pick_n(e, ev, out, PICK_MIN);
}

/* ---- $zip ---------------------------------------------------------------------- */

static const char *const NAMES_ZIP[] = {"inputs", "useLongestLength", "defaults"};

static bool compile_zip(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                        aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_ZIP, 3, 1, err);
}

static bool eval_zip(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t in, lon = {.value_type = BSON_TYPE_BOOL}, def = {.value_type = BSON_TYPE_EOD};
  if (!aspd_expr_eval(e->args[0], ev, &in)) return false;
  if (e->args[1] && !aspd_expr_eval(e->args[1], ev, &lon)) return false;
  if (e->args[2] && !aspd_expr_eval(e->args[2], ev, &def)) return false;
  if (in.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "inputs must be an array of expressions, found %s",
                          aspd_value_type_name(&in));
  }
  size_t k;
  bson_value_t *arrays = elements(ev, &in, &k);
  bson_value_t **cols = aspd_eval_alloc(ev, (k ? k : 1) * sizeof *cols);
  size_t *lens = aspd_eval_alloc(ev, (k ? k : 1) * sizeof *lens);
  size_t shortest = SIZE_MAX, longest = 0;
  for (size_t i = 0; i < k; i++) {
    if (aspd_value_is_nullish(&arrays[i])) {
      set_null(out);
      return true;
    }
    if (arrays[i].value_type != BSON_TYPE_ARRAY) {
      return aspd_eval_fail(ev, "$zip found a non-array expression in input: %s",
                            aspd_eval_json(ev, &arrays[i]));
    }
    cols[i] = elements(ev, &arrays[i], &lens[i]);
    if (lens[i] < shortest) shortest = lens[i];
    if (lens[i] > longest) longest = lens[i];
  }
  bool use_longest = aspd_value_truthy(&lon);
  size_t nd = 0;
  bson_value_t *defaults = NULL;
  if (def.value_type == BSON_TYPE_ARRAY) {
    if (!use_longest) {
      return aspd_eval_fail(ev, "cannot specify defaults unless useLongestLength is true");
    }
    defaults = elements(ev, &def, &nd);
    if (nd != k) {
      return aspd_eval_fail(ev, "defaults and inputs must have the same length");
    }
  }
  size_t rows = k == 0 ? 0 : use_longest ? longest : shortest;
  bson_t list = BSON_INITIALIZER;
  uint32_t r = 0;
  for (size_t row = 0; row < rows; row++) {
    bson_value_t *tuple = aspd_eval_alloc(ev, k * sizeof *tuple);
    for (size_t i = 0; i < k; i++) {
      if (row < lens[i]) {
        tuple[i] = cols[i][row];
      } else if (defaults) {
        tuple[i] = defaults[i];
      } else {
        tuple[i].value_type = BSON_TYPE_NULL;
      }
    }
    bson_value_t t;
    set_array(ev, tuple, k, &t);
    push(&list, &r, &t);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

/* ---- $arrayToObject, $objectToArray ---------------------------------------------- */

static bool eval_array_to_object(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, *v;
  size_t n;
  if (!aspd_expr_eval(e->args[0], ev, &a) ||
      !array_or_null(ev, &a, "$arrayToObject requires an array input, found: ", &v, &n, out)) {
    return false;
  }
  if (!v) return true;
  /* Keys in first-seen order; a later value for the same key wins. */
  const char **keys = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *keys);
  size_t *key_lens = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *key_lens);
  bson_value_t *vals = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *vals);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    bson_value_t key, val;
    if (v[i].value_type == BSON_TYPE_ARRAY) {
      size_t pn;
      bson_value_t *pair = elements(ev, &v[i], &pn);
      if (pn != 2) {
        return aspd_eval_fail(ev,
                              "$arrayToObject requires an array of size 2 arrays,found array "
                              "of size: %zu",
                              pn);
      }
      key = pair[0];
      val = pair[1];
    } else if (v[i].value_type == BSON_TYPE_DOCUMENT) {
      bson_iter_t it;
      size_t fields = 0;
      bool has_k = false, has_v = false;
      bson_iter_init_from_data(&it, v[i].value.v_doc.data, v[i].value.v_doc.data_len);
      while (bson_iter_next(&it)) {
        fields++;
        if (!strcmp(bson_iter_key(&it), "k")) {
          key = *bson_iter_value(&it);
          has_k = true;
        } else if (!strcmp(bson_iter_key(&it), "v")) {
          val = *bson_iter_value(&it);
          has_v = true;
        }
      }
      if (fields != 2 || !has_k || !has_v) {
        return aspd_eval_fail(ev,
                              "$arrayToObject requires an object with keys 'k' and 'v'. "
                              "Missing either or both keys from: %s",
                              aspd_eval_json(ev, &v[i]));
      }
    } else {
      return aspd_eval_fail(ev, "Unrecognised input type format for $arrayToObject: %s",
                            aspd_value_type_name(&v[i]));
    }
    if (key.value_type != BSON_TYPE_UTF8) {
      return aspd_eval_fail(ev, "$arrayToObject requires keys to be type String, found: %s",
                            aspd_value_type_name(&key));
    }
    size_t j = 0;
    while (j < m && !(key_lens[j] == key.value.v_utf8.len &&
                      !memcmp(keys[j], key.value.v_utf8.str, key_lens[j]))) {
      j++;
    }
    if (j == m) {
      keys[m] = key.value.v_utf8.str;
      key_lens[m++] = key.value.v_utf8.len;
    }
    vals[j] = val;
  }
  bson_t doc = BSON_INITIALIZER;
  for (size_t j = 0; j < m; j++) bson_append_value(&doc, keys[j], (int)key_lens[j], &vals[j]);
  aspd_eval_bson(ev, &doc, false, out);
  bson_destroy(&doc);
  return true;
}

static bool eval_object_to_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t d;
  if (!aspd_expr_eval(e->args[0], ev, &d)) return false;
  if (aspd_value_is_nullish(&d)) {
    set_null(out);
    return true;
  }
  if (d.value_type != BSON_TYPE_DOCUMENT) {
    return aspd_eval_fail(ev, "$objectToArray requires a document input, found: %s",
                          aspd_value_type_name(&d));
  }
  bson_t list = BSON_INITIALIZER;
  uint32_t k = 0;
  bson_iter_t it;
  bson_iter_init_from_data(&it, d.value.v_doc.data, d.value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    char key[16];
    const char *kk;
    size_t klen = bson_uint32_to_string(k++, &kk, key, sizeof key);
    bson_t pair;
    bson_append_document_begin(&list, kk, (int)klen, &pair);
    bson_append_utf8(&pair, "k", 1, bson_iter_key(&it), -1);
    bson_append_value(&pair, "v", 1, bson_iter_value(&it));
    bson_append_document_end(&list, &pair);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

/* ---- $sortArray -------------------------------------------------------------------- */

static const char *const NAMES_SORT[] = {"input", "sortBy"};

/* The sort specification, checked and kept at plan time: either one direction
 * for whole values, or a list of (dotted path, direction). */
typedef struct {
  int whole; /* 1 / -1 when sorting whole values, 0 otherwise */
  size_t n;
  char **paths;
  int *dirs;
} sort_spec_t;

static void free_sort(void *data) {
  sort_spec_t *s = data;
  for (size_t i = 0; i < s->n; i++) free(s->paths[i]);
  free(s->paths);
  free(s->dirs);
  free(s);
}

static bool compile_sort_array(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                               aspd_expr_t *e, aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_LOCATION(2942500),
                   "$sortArray requires an object as an argument, "
                   "found: %s",
                   aspd_value_type_name(operand));
    return false;
  }
  /* sortBy is a specification, not an expression: take it out before compiling input. */
  bson_iter_t it;
  bson_t rest = BSON_INITIALIZER;
  bson_value_t by = {.value_type = BSON_TYPE_EOD};
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), "sortBy")) {
      bson_value_copy(bson_iter_value(&it), &by);
    } else {
      bson_append_value(&rest, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
  bson_value_t r = {.value_type = BSON_TYPE_DOCUMENT};
  r.value.v_doc.data = aspd_bytes(bson_get_data(&rest));
  r.value.v_doc.data_len = rest.len;
  bool ok = aspd_expr_compile_named(cc, &r, e, NAMES_SORT, 1, 1, err);
  bson_destroy(&rest);
  sort_spec_t *s = calloc(1, sizeof *s);
  e->data = s;
  e->free_data = free_sort;
  if (ok && by.value_type == BSON_TYPE_EOD) {
    aspd_error_set(err, ASPD_E_LOCATION(2942502), "$sortArray requires 'sortBy' to be specified");
    ok = false;
  } else if (ok && by.value_type == BSON_TYPE_DOCUMENT) {
    bson_iter_init_from_data(&it, by.value.v_doc.data, by.value.v_doc.data_len);
    while (ok && bson_iter_next(&it)) {
      int dir;
      if (!aspd_value_sort_direction(bson_iter_value(&it), &dir)) {
        aspd_error_set(err, ASPD_E_LOCATION(15975),
                       "$sort key ordering must be 1 (for ascending) "
                       "or -1 (for descending)");
        ok = false;
        break;
      }
      s->paths = realloc(s->paths, (s->n + 1) * sizeof *s->paths);
      s->dirs = realloc(s->dirs, (s->n + 1) * sizeof *s->dirs);
      s->paths[s->n] = strdup(bson_iter_key(&it));
      s->dirs[s->n++] = dir;
    }
  } else if (ok && !aspd_value_sort_direction(&by, &s->whole)) {
    aspd_error_set(err, ASPD_E_LOCATION(2942505),
                   "$sortArray sortBy must be either a sort "
                   "specification or 1/-1");
    ok = false;
  }
  bson_value_destroy(&by);
  return ok;
}

/* The value at a dotted path inside v (missing when absent). Arrays along the way
 * are not traversed. */
static bson_value_t at_path(const bson_value_t *v, const char *path) {
  bson_value_t cur = *v, missing = {.value_type = BSON_TYPE_EOD};
  char part[256];
  while (*path) {
    size_t n = strcspn(path, ".");
    if (n >= sizeof part || cur.value_type != BSON_TYPE_DOCUMENT) return missing;
    memcpy(part, path, n);
    part[n] = '\0';
    bson_iter_t it;
    bson_iter_init_from_data(&it, cur.value.v_doc.data, cur.value.v_doc.data_len);
    if (!bson_iter_find(&it, part)) return missing;
    cur = *bson_iter_value(&it);
    path += n + (path[n] == '.');
  }
  return cur;
}

/* qsort has no context argument: the specification of the sort under way. */
static __thread const sort_spec_t *sorting;

static int cmp_by_spec(const void *pa, const void *pb) {
  const bson_value_t *a = pa, *b = pb;
  if (sorting->whole) return sorting->whole * aspd_value_cmp(a, b);
  for (size_t i = 0; i < sorting->n; i++) {
    bson_value_t x = at_path(a, sorting->paths[i]), y = at_path(b, sorting->paths[i]);
    bson_value_t null = {.value_type = BSON_TYPE_NULL};
    int c = aspd_value_cmp(x.value_type == BSON_TYPE_EOD ? &null : &x,
                           y.value_type == BSON_TYPE_EOD ? &null : &y);
    if (c) return sorting->dirs[i] * c;
  }
  return 0;
}

/* A stable order: ties keep their input order (qsort is not stable). */
typedef struct {
  bson_value_t v;
  size_t index;
} indexed_t;

static int cmp_indexed(const void *pa, const void *pb) {
  const indexed_t *a = pa, *b = pb;
  int c = cmp_by_spec(&a->v, &b->v);
  return c ? c : (a->index > b->index) - (a->index < b->index);
}

static bool eval_sort_array(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, *v;
  size_t n;
  if (!aspd_expr_eval(e->args[0], ev, &a) ||
      !array_or_null(ev, &a, "The input argument to $sortArray must be an array, but was of type: ",
                     &v, &n, out)) {
    return false;
  }
  if (!v) return true;
  indexed_t *x = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = (indexed_t){v[i], i};
  sorting = e->data;
  qsort(x, n, sizeof *x, cmp_indexed);
  for (size_t i = 0; i < n; i++) v[i] = x[i].v;
  set_array(ev, v, n, out);
  return true;
}

/* ---- $filter, $map, $reduce ----------------------------------------------------------- */

/* Slots of the variables a binding operator sets, kept in e->data. */
typedef struct {
  int slot[2];
} binding_t;

/* Compiles the named arguments, binding `as` (default `fallback`) while compiling
 * those listed in `scoped` (bit mask). */
static bool compile_binding(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                            const char *const *names, size_t count, uint32_t required,
                            uint32_t scoped, const char *const *vars, size_t nvars,
                            aspd_error_t *err) {
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s only supports an object as its argument",
                   e->name);
    return false;
  }
  binding_t *b = calloc(1, sizeof *b);
  e->data = b;
  e->free_data = free;
  e->args = calloc(count, sizeof *e->args);
  e->nargs = count;
  bson_iter_t it;
  const char *bound[2] = {vars[0], nvars > 1 ? vars[1] : NULL};
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  if (bson_iter_find(&it, "as")) {
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s 'as' must be a string", e->name);
      return false;
    }
    bound[0] = bson_iter_utf8(&it, NULL);
  }
  /* Unscoped arguments first (they may not see the variables), then the scoped ones. */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      for (size_t i = 0; i < nvars; i++) {
        b->slot[i] = aspd_expr_scope_push(cc, bound[i], err);
        if (b->slot[i] < 0) return false;
      }
    }
    bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
    while (bson_iter_next(&it)) {
      const char *key = bson_iter_key(&it);
      if (!strcmp(key, "as")) continue;
      size_t i = 0;
      while (i < count && strcmp(names[i], key)) i++;
      if (i == count) {
        if (pass == 1)
          for (size_t j = 0; j < nvars; j++) aspd_expr_scope_pop(cc);
        aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Unrecognized parameter to %s: %s", e->name,
                       key);
        return false;
      }
      if (((scoped >> i) & 1) != (uint32_t)pass) continue;
      aspd_expr_free(e->args[i]); /* a name given twice: the last one counts */
      e->args[i] = aspd_expr_compile(cc, bson_iter_value(&it), err);
      if (!e->args[i]) {
        if (pass == 1)
          for (size_t j = 0; j < nvars; j++) aspd_expr_scope_pop(cc);
        return false;
      }
    }
    if (pass == 1)
      for (size_t j = 0; j < nvars; j++) aspd_expr_scope_pop(cc);
  }
  for (size_t i = 0; i < count; i++) {
    if ((required >> i & 1) && !e->args[i]) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "Missing '%s' parameter to %s", names[i],
                     e->name);
      return false;
    }
  }
  return true;
}

static const char *const NAMES_FILTER[] = {"input", "cond", "limit"};
static const char *const NAMES_MAP[] = {"input", "in"};
static const char *const NAMES_REDUCE[] = {"input", "initialValue", "in"};
static const char *const VAR_THIS[] = {"this"};
static const char *const VARS_REDUCE[] = {"value", "this"};

static bool compile_filter(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                           aspd_error_t *err) {
  return compile_binding(cc, operand, e, NAMES_FILTER, 3, 3, 2, VAR_THIS, 1, err);
}

static bool compile_map(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                        aspd_error_t *err) {
  return compile_binding(cc, operand, e, NAMES_MAP, 2, 3, 2, VAR_THIS, 1, err);
}

static bool compile_reduce(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                           aspd_error_t *err) {
  return compile_binding(cc, operand, e, NAMES_REDUCE, 3, 7, 4, VARS_REDUCE, 2, err);
}

/* Evaluates `input`: false on error; *v NULL with out set to null when it is nullish. */
static bool bound_input(const aspd_expr_t *e, aspd_eval_t *ev, const char *not_array,
                        bson_value_t **v, size_t *n, bson_value_t *out) {
  bson_value_t a;
  return aspd_expr_eval(e->args[0], ev, &a) && array_or_null(ev, &a, not_array, v, n, out);
}

static bool eval_filter(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const binding_t *b = e->data;
  bson_value_t *v;
  size_t n;
  if (!bound_input(e, ev, "input to $filter must be an array not ", &v, &n, out)) return false;
  if (!v) return true;
  int64_t limit = INT64_MAX;
  if (e->args[2]) {
    bson_value_t l;
    if (!aspd_expr_eval(e->args[2], ev, &l)) return false;
    if (!aspd_value_is_nullish(&l)) {
      if (!aspd_value_as_integral(&l, &limit)) {
        return aspd_eval_fail(ev,
                              "$filter: limit must be represented as a 32-bit integral "
                              "value: %s",
                              aspd_eval_json(ev, &l));
      }
      if (limit < 1) {
        return aspd_eval_fail(ev, "$filter: limit must be greater than 0: %lld", (long long)limit);
      }
    }
  }
  size_t kept = 0;
  for (size_t i = 0; i < n && (int64_t)kept < limit; i++) {
    ev->vars[b->slot[0]] = v[i];
    bson_value_t c;
    if (!aspd_expr_eval(e->args[1], ev, &c)) return false;
    if (aspd_value_truthy(&c)) v[kept++] = v[i];
  }
  set_array(ev, v, kept, out);
  return true;
}

static bool eval_map(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const binding_t *b = e->data;
  bson_value_t *v;
  size_t n;
  if (!bound_input(e, ev, "input to $map must be an array not ", &v, &n, out)) return false;
  if (!v) return true;
  for (size_t i = 0; i < n; i++) {
    ev->vars[b->slot[0]] = v[i];
    if (!aspd_expr_eval(e->args[1], ev, &v[i])) return false;
  }
  set_array(ev, v, n, out);
  return true;
}

static bool eval_reduce(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  const binding_t *b = e->data;
  bson_value_t *v;
  size_t n;
  if (!bound_input(e, ev, "input to $reduce must be an array not ", &v, &n, out)) return false;
  if (!v) return true;
  bson_value_t acc;
  if (!aspd_expr_eval(e->args[1], ev, &acc)) return false;
  for (size_t i = 0; i < n; i++) {
    ev->vars[b->slot[0]] = acc;
    ev->vars[b->slot[1]] = v[i];
    if (!aspd_expr_eval(e->args[2], ev, &acc)) return false;
  }
  *out = acc;
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$concatArrays", 0, -1, eval_concat_arrays, NULL},
    {"$isArray", 1, 1, eval_is_array, NULL},
    {"$in", 2, 2, eval_in, NULL},
    {"$indexOfArray", 2, 4, eval_index_of_array, NULL},
    {"$range", 2, 3, eval_range, NULL},
    {"$reverseArray", 1, 1, eval_reverse_array, NULL},
    {"$slice", 2, 3, eval_slice, NULL},
    {"$first", 1, 1, eval_first, NULL},
    {"$last", 1, 1, eval_last, NULL},
    {"$firstN", 0, 0, eval_first_n, compile_n},
    {"$lastN", 0, 0, eval_last_n, compile_n},
    {"$maxN", 0, 0, eval_max_n, compile_n},
    {"$minN", 0, 0, eval_min_n, compile_n},
    {"$zip", 0, 0, eval_zip, compile_zip},
    {"$arrayToObject", 1, 1, eval_array_to_object, NULL},
    {"$objectToArray", 1, 1, eval_object_to_array, NULL},
    {"$sortArray", 0, 0, eval_sort_array, compile_sort_array},
    {"$filter", 0, 0, eval_filter, compile_filter},
    {"$map", 0, 0, eval_map, compile_map},
    {"$reduce", 0, 0, eval_reduce, compile_reduce},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_list_ops = {ops};
