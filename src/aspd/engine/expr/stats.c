/* The accumulators as expressions: $sum, $avg, $min, $max, $stdDevPop,
 * $stdDevSamp, $median and $percentile over one array argument (its elements)
 * or over several arguments. Non-numbers are ignored by the numeric ones; $min
 * and $max use the BSON order and skip null and missing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

/* The values to aggregate, in the arena: an array argument's elements when there
 * is exactly one argument, otherwise the arguments themselves. */
static bool inputs(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t **v, size_t *n) {
  if (e->nargs == 1) {
    bson_value_t a;
    if (!aspd_expr_eval(e->args[0], ev, &a)) return false;
    if (a.value_type != BSON_TYPE_ARRAY) {
      *v = aspd_eval_alloc(ev, sizeof **v);
      (*v)[0] = a;
      *n = 1;
      return true;
    }
    bson_iter_t it;
    size_t count = 0;
    bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
    while (bson_iter_next(&it)) count++;
    *v = aspd_eval_alloc(ev, (count ? count : 1) * sizeof **v);
    *n = 0;
    bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
    while (bson_iter_next(&it)) (*v)[(*n)++] = *bson_iter_value(&it);
    return true;
  }
  *v = aspd_eval_alloc(ev, (e->nargs ? e->nargs : 1) * sizeof **v);
  *n = e->nargs;
  for (size_t i = 0; i < e->nargs; i++) {
    if (!aspd_expr_eval(e->args[i], ev, &(*v)[i])) return false;
  }
  return true;
}

static bool eval_sum(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t *v;
  size_t n;
  if (!inputs(e, ev, &v, &n)) return false;
  /* int until it overflows or meets a long, long until it overflows or meets a double. */
  int64_t i = 0;
  double d = 0;
  int kind = 0; /* 0 int, 1 long, 2 double */
  for (size_t k = 0; k < n; k++) {
    switch (v[k].value_type) {
      case BSON_TYPE_INT32:
      case BSON_TYPE_INT64: {
        int64_t x = v[k].value_type == BSON_TYPE_INT32 ? v[k].value.v_int32 : v[k].value.v_int64;
        if (v[k].value_type == BSON_TYPE_INT64 && kind < 1) kind = 1;
        if (kind < 2 && __builtin_add_overflow(i, x, &i)) kind = 2;
        d += (double)x;
        break;
      }
      case BSON_TYPE_DOUBLE:
      case BSON_TYPE_DECIMAL128:
        kind = 2;
        d += aspd_value_as_double(&v[k]);
        break;
      default:
        break;
    }
  }
  if (kind == 2) {
    out->value_type = BSON_TYPE_DOUBLE;
    out->value.v_double = d;
  } else if (kind == 0 && i >= INT32_MIN && i <= INT32_MAX) {
    out->value_type = BSON_TYPE_INT32;
    out->value.v_int32 = (int32_t)i;
  } else {
    out->value_type = BSON_TYPE_INT64;
    out->value.v_int64 = i;
  }
  return true;
}

/* The numeric inputs as doubles; *count of them. */
static double *numbers(aspd_eval_t *ev, const bson_value_t *v, size_t n, size_t *count) {
  double *x = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *x);
  *count = 0;
  for (size_t k = 0; k < n; k++) {
    if (aspd_value_is_number(&v[k])) x[(*count)++] = aspd_value_as_double(&v[k]);
  }
  return x;
}

static void set_double_or_null(bson_value_t *out, bool null, double d) {
  if (null) {
    out->value_type = BSON_TYPE_NULL;
  } else {
    out->value_type = BSON_TYPE_DOUBLE;
    out->value.v_double = d;
  }
}

static bool eval_avg(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t *v;
  size_t n, count;
  if (!inputs(e, ev, &v, &n)) return false;
  double *x = numbers(ev, v, n, &count), sum = 0;
  for (size_t k = 0; k < count; k++) sum += x[k];
  set_double_or_null(out, count == 0, count ? sum / (double)count : 0);
  return true;
}

static bool std_dev(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool sample) {
  bson_value_t *v;
  size_t n, count;
  if (!inputs(e, ev, &v, &n)) return false;
  double *x = numbers(ev, v, n, &count), mean = 0, m2 = 0;
  /* Welford's running variance, as the server computes it. */
  for (size_t k = 0; k < count; k++) {
    double delta = x[k] - mean;
    mean += delta / (double)(k + 1);
    m2 += delta * (x[k] - mean);
  }
  size_t dof = sample ? count - 1 : count;
  set_double_or_null(out, count == 0 || (sample && count < 2), dof ? sqrt(m2 / (double)dof) : 0);
  return true;
}

static bool eval_std_dev_pop(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return std_dev(e, ev, out, false);
}

static bool eval_std_dev_samp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return std_dev(e, ev, out, true);
}

static bool min_or_max(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, int sign) {
  bson_value_t *v;
  size_t n;
  if (!inputs(e, ev, &v, &n)) return false;
  const bson_value_t *best = NULL;
  for (size_t k = 0; k < n; k++) {
    if (aspd_value_is_nullish(&v[k])) continue;
    if (!best || sign * aspd_value_cmp(&v[k], best) > 0) best = &v[k];
  }
  if (best) {
    *out = *best;
  } else {
    out->value_type = BSON_TYPE_NULL;
  }
  return true;
}

static bool eval_min(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return min_or_max(e, ev, out, -1);
}

static bool eval_max(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return min_or_max(e, ev, out, 1);
}

/* ---- $median and $percentile {input, p, method} ----------------------------------- */

static const char *const NAMES_PERCENTILE[] = {"input", "p", "method"};

static bool compile_percentile(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                               aspd_expr_t *e, aspd_error_t *err) {
  bool median = !strcmp(e->name, "$median");
  if (!aspd_expr_compile_named(cc, operand, e, NAMES_PERCENTILE, 3, median ? 5 : 7, err)) {
    return false;
  }
  if (median && e->args[1]) {
    aspd_error_set(err, ASPD_E_LOCATION(7436201), "$median found an unknown argument: p");
    return false;
  }
  return true;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The value of rank ceil(p * n) - 1 among the sorted numbers (the discrete
 * percentile the approximate method gives on small inputs). */
static double rank_value(const double *x, size_t n, double p) {
  double r = ceil(p * (double)n) - 1;
  size_t i = r < 0 ? 0 : (size_t)r;
  return x[i < n ? i : n - 1];
}

static bool percentile(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool median) {
  bson_value_t a;
  if (!aspd_expr_eval(e->args[0], ev, &a)) return false;
  size_t n = 0, count;
  bson_value_t *v = &a;
  if (a.value_type == BSON_TYPE_ARRAY) {
    bson_iter_t it;
    bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
    while (bson_iter_next(&it)) n++;
    v = aspd_eval_alloc(ev, (n ? n : 1) * sizeof *v);
    n = 0;
    bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
    while (bson_iter_next(&it)) v[n++] = *bson_iter_value(&it);
  } else {
    n = 1;
  }
  double *x = numbers(ev, v, n, &count);
  qsort(x, count, sizeof *x, cmp_double);
  if (median) {
    set_double_or_null(out, count == 0, count ? rank_value(x, count, 0.5) : 0);
    return true;
  }
  bson_value_t ps;
  if (!aspd_expr_eval(e->args[1], ev, &ps)) return false;
  if (ps.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev,
                          "The $percentile 'p' field must be an array of numbers from "
                          "[0.0, 1.0], but found: %s",
                          aspd_eval_json(ev, &ps));
  }
  bson_t list = BSON_INITIALIZER;
  bson_iter_t it;
  uint32_t k = 0;
  bson_iter_init_from_data(&it, ps.value.v_doc.data, ps.value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const bson_value_t *p = bson_iter_value(&it);
    double pd = aspd_value_as_double(p);
    /* Written so that NaN fails too: its rank would be an undefined conversion. */
    if (!aspd_value_is_number(p) || !(pd >= 0 && pd <= 1)) {
      bson_destroy(&list);
      return aspd_eval_fail(ev,
                            "The $percentile 'p' field must be an array of numbers from "
                            "[0.0, 1.0], but found: %s",
                            aspd_eval_json(ev, &ps));
    }
    char key[16];
    const char *kk;
    size_t klen = bson_uint32_to_string(k++, &kk, key, sizeof key);
    if (count) {
      bson_append_double(&list, kk, (int)klen, rank_value(x, count, pd));
    } else {
      bson_append_null(&list, kk, (int)klen);
    }
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
  return true;
}

static bool eval_median(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return percentile(e, ev, out, true);
}

static bool eval_percentile(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return percentile(e, ev, out, false);
}

static const aspd_expr_op_t ops[] = {
    {"$sum", 0, -1, eval_sum, NULL},
    {"$avg", 0, -1, eval_avg, NULL},
    {"$min", 0, -1, eval_min, NULL},
    {"$max", 0, -1, eval_max, NULL},
    {"$stdDevPop", 0, -1, eval_std_dev_pop, NULL},
    {"$stdDevSamp", 0, -1, eval_std_dev_samp, NULL},
    {"$median", 0, 0, eval_median, compile_percentile},
    {"$percentile", 0, 0, eval_percentile, compile_percentile},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_stats_ops = {ops};
