/* Arithmetic: $add, $subtract, $multiply, $divide, $mod, $abs, with MongoDB's
 * result types (int stays int until it overflows into long, long into double;
 * any double makes a double, any decimal a decimal: decimal.h). */
#include <math.h>
#include <stdint.h>

#include "engine/expr/decimal.h"
#include "engine/expr/operators.h"

typedef enum { NUM_INT, NUM_LONG, NUM_DOUBLE, NUM_DECIMAL } num_kind_t;

typedef struct {
  num_kind_t kind;
  int64_t i;
  double d;
  aspd_dec_t dec; /* NUM_DECIMAL */
} num_t;

static bool to_num(const bson_value_t *v, num_t *n) {
  switch (v->value_type) {
    case BSON_TYPE_INT32:
      *n = (num_t){.kind = NUM_INT, .i = v->value.v_int32, .d = v->value.v_int32};
      return true;
    case BSON_TYPE_INT64:
      *n = (num_t){.kind = NUM_LONG, .i = v->value.v_int64, .d = (double)v->value.v_int64};
      return true;
    case BSON_TYPE_DOUBLE:
      *n = (num_t){.kind = NUM_DOUBLE, .i = 0, .d = v->value.v_double};
      return true;
    case BSON_TYPE_DECIMAL128:
      *n = (num_t){.kind = NUM_DECIMAL, .i = 0, .d = aspd_value_as_double(v)};
      aspd_dec_from_value(v, &n->dec);
      return true;
    default:
      return false;
  }
}

/* A number as a decimal (a double by its 15 significant digits). */
static aspd_dec_t dec_of(const num_t *n) {
  aspd_dec_t d;
  bson_value_t v;
  if (n->kind == NUM_DECIMAL) return n->dec;
  if (n->kind == NUM_DOUBLE) {
    v.value_type = BSON_TYPE_DOUBLE;
    v.value.v_double = n->d;
  } else {
    v.value_type = BSON_TYPE_INT64;
    v.value.v_int64 = n->i;
  }
  aspd_dec_from_value(&v, &d);
  return d;
}

static num_t decimal_result(aspd_dec_t d) {
  num_t n = {.kind = NUM_DECIMAL, .i = 0, .d = aspd_dec_to_double(&d)};
  n.dec = d;
  return n;
}

static void set_num(const num_t *n, bson_value_t *out) {
  if (n->kind == NUM_DECIMAL) {
    aspd_dec_to_value(&n->dec, out);
  } else if (n->kind == NUM_DOUBLE) {
    out->value_type = BSON_TYPE_DOUBLE;
    out->value.v_double = n->d;
  } else if (n->kind == NUM_INT) {
    out->value_type = BSON_TYPE_INT32;
    out->value.v_int32 = (int32_t)n->i;
  } else {
    out->value_type = BSON_TYPE_INT64;
    out->value.v_int64 = n->i;
  }
}

/* The integer result i of two integers of kind `kind`, widened when it does not fit. */
static num_t int_result(num_kind_t kind, int64_t i, bool overflow, double exact) {
  if (overflow) return (num_t){.kind = NUM_DOUBLE, .i = 0, .d = exact};
  if (kind == NUM_INT && (i < INT32_MIN || i > INT32_MAX))
    return (num_t){.kind = NUM_LONG, .i = i, .d = (double)i};
  return (num_t){.kind = kind, .i = i, .d = (double)i};
}

static num_kind_t wider(num_kind_t a, num_kind_t b) {
  return a > b ? a : b;
}

static num_t add(num_t a, num_t b) {
  num_kind_t k = wider(a.kind, b.kind);
  if (k == NUM_DECIMAL) return decimal_result(aspd_dec_add(dec_of(&a), dec_of(&b)));
  if (k == NUM_DOUBLE) return (num_t){.kind = NUM_DOUBLE, .i = 0, .d = a.d + b.d};
  int64_t r;
  bool overflow = __builtin_add_overflow(a.i, b.i, &r);
  return int_result(k, r, overflow, a.d + b.d);
}

static num_t sub(num_t a, num_t b) {
  num_kind_t k = wider(a.kind, b.kind);
  if (k == NUM_DECIMAL) {
    return decimal_result(aspd_dec_add(dec_of(&a), aspd_dec_negate(dec_of(&b))));
  }
  if (k == NUM_DOUBLE) return (num_t){.kind = NUM_DOUBLE, .i = 0, .d = a.d - b.d};
  int64_t r;
  bool overflow = __builtin_sub_overflow(a.i, b.i, &r);
  return int_result(k, r, overflow, a.d - b.d);
}

static num_t mul(num_t a, num_t b) {
  num_kind_t k = wider(a.kind, b.kind);
  if (k == NUM_DECIMAL) return decimal_result(aspd_dec_mul(dec_of(&a), dec_of(&b)));
  if (k == NUM_DOUBLE) return (num_t){.kind = NUM_DOUBLE, .i = 0, .d = a.d * b.d};
  int64_t r;
  bool overflow = __builtin_mul_overflow(a.i, b.i, &r);
  return int_result(k, r, overflow, a.d * b.d);
}

/* The milliseconds a number stands for next to a date (a double rounds to the nearest), plus
 * or minus the date; false when that leaves the int64 range (NaN and infinities too). */
static bool shift_date(int64_t date, const num_t *n, bool minus, int64_t *out) {
  int64_t ms;
  if (n->kind >= NUM_DOUBLE) {
    double r = round(n->d);
    if (!(r >= -9223372036854775808.0 && r < 9223372036854775808.0)) return false;
    ms = (int64_t)r;
  } else {
    ms = n->i;
  }
  return minus ? !__builtin_sub_overflow(date, ms, out) : !__builtin_add_overflow(date, ms, out);
}

static bool eval_add(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  num_t acc = {.kind = NUM_INT, .i = 0, .d = 0};
  bool has_date = false, has_null = false;
  int64_t date = 0;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    num_t n;
    if (aspd_value_is_nullish(&v)) {
      has_null = true;
    } else if (v.value_type == BSON_TYPE_DATE_TIME) {
      if (has_date) return aspd_eval_fail(ev, "only one date allowed in an $add expression");
      has_date = true;
      date = v.value.v_datetime;
    } else if (to_num(&v, &n)) {
      acc = add(acc, n);
    } else {
      return aspd_eval_fail(ev, "$add only supports numeric or date types, not %s",
                            aspd_value_type_name(&v));
    }
  }
  if (has_null) {
    out->value_type = BSON_TYPE_NULL;
  } else if (has_date) {
    if (!shift_date(date, &acc, false, &date)) {
      return aspd_eval_fail(ev, "date overflow in $add");
    }
    out->value_type = BSON_TYPE_DATE_TIME;
    out->value.v_datetime = date;
  } else {
    set_num(&acc, out);
  }
  return true;
}

static bool eval_multiply(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  num_t acc = {.kind = NUM_INT, .i = 1, .d = 1};
  bool has_null = false;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    num_t n;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    if (aspd_value_is_nullish(&v)) {
      has_null = true;
    } else if (to_num(&v, &n)) {
      acc = mul(acc, n);
    } else {
      return aspd_eval_fail(ev, "$multiply only supports numeric types, not %s",
                            aspd_value_type_name(&v));
    }
  }
  if (has_null) {
    out->value_type = BSON_TYPE_NULL;
  } else {
    set_num(&acc, out);
  }
  return true;
}

/* Evaluates both arguments: false on error; *null (and out null) when either is
 * null or missing. */
static bool two(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *a, bson_value_t *b, bool *null,
                bson_value_t *out) {
  if (!aspd_expr_eval(e->args[0], ev, a) || !aspd_expr_eval(e->args[1], ev, b)) return false;
  *null = aspd_value_is_nullish(a) || aspd_value_is_nullish(b);
  if (*null) out->value_type = BSON_TYPE_NULL;
  return true;
}

/* Both arguments as numbers, for $divide and $mod: as two() and false when
 * either is not a number. */
static bool two_numbers(const aspd_expr_t *e, aspd_eval_t *ev, num_t *x, num_t *y, bool *null,
                        bson_value_t *out) {
  bson_value_t a, b;
  if (!two(e, ev, &a, &b, null, out)) return false;
  if (!*null && (!to_num(&a, x) || !to_num(&b, y))) {
    return aspd_eval_fail(ev, "%s only supports numeric types, not %s and %s", e->name,
                          aspd_value_type_name(&a), aspd_value_type_name(&b));
  }
  return true;
}

static bool eval_subtract(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, b;
  bool null;
  if (!two(e, ev, &a, &b, &null, out)) return false;
  if (null) return true;
  num_t x, y;
  if (a.value_type == BSON_TYPE_DATE_TIME && b.value_type == BSON_TYPE_DATE_TIME) {
    out->value_type = BSON_TYPE_INT64;
    if (__builtin_sub_overflow(a.value.v_datetime, b.value.v_datetime, &out->value.v_int64)) {
      return aspd_eval_fail(ev, "date overflow in $subtract");
    }
    return true;
  }
  if (a.value_type == BSON_TYPE_DATE_TIME && to_num(&b, &y)) {
    out->value_type = BSON_TYPE_DATE_TIME;
    if (!shift_date(a.value.v_datetime, &y, true, &out->value.v_datetime)) {
      return aspd_eval_fail(ev, "date overflow in $subtract");
    }
    return true;
  }
  if (to_num(&a, &x) && to_num(&b, &y)) {
    num_t r = sub(x, y);
    set_num(&r, out);
    return true;
  }
  if (b.value_type == BSON_TYPE_DATE_TIME) {
    return aspd_eval_fail(ev, "can't $subtract date from %s", aspd_value_type_name(&a));
  }
  return aspd_eval_fail(ev, "can't $subtract %s from %s", aspd_value_type_name(&b),
                        aspd_value_type_name(&a));
}

static bool eval_divide(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  num_t x, y;
  bool null;
  if (!two_numbers(e, ev, &x, &y, &null, out)) return false;
  if (null) return true;
  if (x.kind == NUM_DECIMAL || y.kind == NUM_DECIMAL) {
    aspd_dec_t q;
    if (!aspd_dec_div(dec_of(&x), dec_of(&y), &q)) {
      return aspd_eval_fail(ev, "can't $divide by zero");
    }
    aspd_dec_to_value(&q, out);
    return true;
  }
  if (y.d == 0) return aspd_eval_fail(ev, "can't $divide by zero");
  out->value_type = BSON_TYPE_DOUBLE;
  out->value.v_double = x.d / y.d;
  return true;
}

static bool eval_mod(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  num_t x, y;
  bool null;
  if (!two_numbers(e, ev, &x, &y, &null, out)) return false;
  if (null) return true;
  if (y.d == 0) return aspd_eval_fail(ev, "can't $mod by zero");
  num_kind_t k = wider(x.kind, y.kind);
  if (k == NUM_DECIMAL) {
    aspd_dec_t d;
    bson_value_t v = {.value_type = BSON_TYPE_DOUBLE};
    v.value.v_double = fmod(x.d, y.d);
    aspd_dec_from_value(&v, &d);
    aspd_dec_to_value(&d, out);
    return true;
  }
  num_t r = k == NUM_DOUBLE ? (num_t){.kind = NUM_DOUBLE, .i = 0, .d = fmod(x.d, y.d)}
                            : (num_t){.kind = k, .i = y.i == -1 ? 0 : x.i % y.i, .d = 0};
  set_num(&r, out);
  return true;
}

static bool eval_abs(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  num_t n;
  if (aspd_value_is_nullish(&v)) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (!to_num(&v, &n)) {
    return aspd_eval_fail(ev, "$abs only supports numeric types, not %s", aspd_value_type_name(&v));
  }
  if (n.kind == NUM_DECIMAL) {
    n.dec.negative = false;
    n.dec.approx = fabs(n.dec.approx);
  } else if (n.kind == NUM_DOUBLE) {
    n.d = fabs(n.d);
  } else if (n.i == INT64_MIN) {
    return aspd_eval_fail(ev, "can't take $abs of long long min");
  } else {
    n = int_result(n.kind, n.i < 0 ? -n.i : n.i, false, 0);
  }
  set_num(&n, out);
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$add", 0, -1, eval_add, NULL},
    {"$subtract", 2, 2, eval_subtract, NULL},
    {"$multiply", 0, -1, eval_multiply, NULL},
    {"$divide", 2, 2, eval_divide, NULL},
    {"$mod", 2, 2, eval_mod, NULL},
    {"$abs", 1, 1, eval_abs, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_arith_ops = {ops};
