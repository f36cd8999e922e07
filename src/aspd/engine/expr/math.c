/* Rounding and transcendental operators: $ceil, $floor, $round, $trunc, $exp,
 * $ln, $log, $log10, $pow, $sqrt.
 *
 * Integers keep their type ($round/$trunc with a negative place round them in
 * integer arithmetic); doubles stay doubles. $round and $trunc work on a double
 * as the server does: on its exact decimal value (34 digits), half to even, so
 * 2.25 (exact) rounds to 2.2 and 2.45 (a little above) to 2.5. Decimals are rounded on their own
 * digits; the transcendental functions compute a decimal in double precision. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

static void set_double(bson_value_t *out, double d) {
  out->value_type = BSON_TYPE_DOUBLE;
  out->value.v_double = d;
}

static void set_null(bson_value_t *out) {
  out->value_type = BSON_TYPE_NULL;
}

/* An integer result of integer inputs: int32 when `want_int` and it fits. */
static void set_integer(bson_value_t *out, int64_t i, bool want_int) {
  if (want_int && i >= INT32_MIN && i <= INT32_MAX) {
    out->value_type = BSON_TYPE_INT32;
    out->value.v_int32 = (int32_t)i;
  } else {
    out->value_type = BSON_TYPE_INT64;
    out->value.v_int64 = i;
  }
}

static bool is_integer(const bson_value_t *v) {
  return v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64;
}

static int64_t integer_of(const bson_value_t *v) {
  return v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
}

/* A number as text for error messages, the way the server prints values. */
static const char *number_text(aspd_eval_t *ev, const bson_value_t *v) {
  char *buf = aspd_eval_alloc(ev, 64);
  if (is_integer(v)) {
    snprintf(buf, 64, "%lld", (long long)integer_of(v));
  } else if (v->value_type == BSON_TYPE_DECIMAL128) {
    bson_decimal128_to_string(&v->value.v_decimal128, buf);
  } else {
    snprintf(buf, 64, "%.17g", v->value.v_double);
  }
  return buf;
}

/* ---- decimal digits --------------------------------------------------------
 * A finite number as sign, decimal digits and the power of ten of the first
 * one: value = 0.d1 d2 ... * 10^point. Rounding happens on these digits. */

typedef struct {
  bool negative;
  char digits[64]; /* '0'..'9', NUL-terminated, no leading zeros unless zero */
  int point;
} digits_t;

static void digits_from_double(double d, digits_t *out) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.33e", fabs(d)); /* the exact value, to 34 digits */
  out->negative = signbit(d);
  size_t n = 0;
  out->digits[n++] = buf[0];
  char *p = buf + 2;
  while (*p >= '0' && *p <= '9') out->digits[n++] = *p++;
  out->digits[n] = '\0';
  out->point = atoi(p + 1) + 1;
}

/* From a decimal128's string form ("-12.340", "1.2E+5", "0E-10"). */
static bool digits_from_decimal(const bson_decimal128_t *dec, digits_t *out) {
  char buf[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(dec, buf);
  const char *p = buf;
  out->negative = *p == '-';
  if (*p == '-' || *p == '+') p++;
  if (!(*p >= '0' && *p <= '9')) return false; /* NaN, Infinity */
  size_t n = 0;
  int int_digits = 0;
  bool in_fraction = false;
  for (; *p && *p != 'E'; p++) {
    if (*p == '.') {
      in_fraction = true;
      continue;
    }
    if (n < sizeof out->digits - 1) out->digits[n++] = *p;
    if (!in_fraction) int_digits++;
  }
  out->digits[n] = '\0';
  out->point = int_digits + (*p == 'E' ? atoi(p + 1) : 0);
  return true;
}

/* Adds one unit at the last digit (in magnitude): 129 -> 130, 99 -> 100. */
static void digits_increment(digits_t *d) {
  int n = (int)strlen(d->digits);
  for (int i = n - 1; i >= 0; i--) {
    if (d->digits[i] != '9') {
      d->digits[i]++;
      return;
    }
    d->digits[i] = '0';
  }
  memmove(d->digits + 1, d->digits, (size_t)n + 1);
  d->digits[0] = '1';
  d->point++;
}

/* Keeps the digits whose place value is at least 10^-place, rounding half to
 * even (round) or toward zero (truncate). */
static void digits_round(digits_t *d, int place, bool truncate) {
  int keep = d->point + place; /* digits left of the cut */
  int n = (int)strlen(d->digits);
  if (keep >= n) return;
  bool up = false;
  if (!truncate && keep >= 0) {
    char first = d->digits[keep];
    bool rest = false;
    for (int i = keep + 1; i < n; i++) rest = rest || d->digits[i] != '0';
    bool odd = keep > 0 && (d->digits[keep - 1] - '0') % 2 == 1;
    up = first > '5' || (first == '5' && (rest || odd));
  }
  if (keep <= 0) {
    /* Nothing is kept: 0, or one unit at the cut when rounding up. */
    if (up) {
      strcpy(d->digits, "1");
      d->point = 1 - place;
    } else {
      strcpy(d->digits, "0");
      d->point = 1;
    }
    return;
  }
  d->digits[keep] = '\0';
  if (up) digits_increment(d);
}

/* "[-]digits" with the decimal point placed, for strtod and decimal parsing. */
static void digits_text(const digits_t *d, char *buf, size_t len) {
  snprintf(buf, len, "%s0.%se%d", d->negative ? "-" : "", d->digits, d->point);
}

static double digits_to_double(const digits_t *d) {
  char buf[96];
  digits_text(d, buf, sizeof buf);
  return strtod(buf, NULL);
}

/* The decimal with exactly the kept digits (the exponent of the last one). */
static bson_decimal128_t digits_to_decimal(const digits_t *d) {
  char buf[96];
  int n = (int)strlen(d->digits);
  snprintf(buf, sizeof buf, "%s%sE%d", d->negative ? "-" : "", d->digits, d->point - n);
  bson_decimal128_t dec;
  bson_decimal128_from_string(buf, &dec);
  return dec;
}

/* ---- $round and $trunc ------------------------------------------------------ */

static bool integer_round(int64_t v, int place, bool truncate, int64_t *out) {
  if (place >= 0) {
    *out = v;
    return true;
  }
  if (place < -18) {
    *out = 0;
    return true;
  }
  int64_t m = 1;
  for (int i = 0; i < -place; i++) m *= 10;
  int64_t q = v / m, r = v % m;
  if (!truncate) {
    int64_t twice = r < 0 ? -r : r;
    bool half = twice * 2 == m, more = twice * 2 > m;
    if (more || (half && q % 2 != 0)) q += v < 0 ? -1 : 1;
  }
  return !__builtin_mul_overflow(q, m, out);
}

static bool round_or_trunc(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out,
                           bool truncate) {
  const char *name = truncate ? "$trunc" : "$round";
  bson_value_t v, p = {.value_type = BSON_TYPE_INT32};
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (e->nargs > 1 && !aspd_expr_eval(e->args[1], ev, &p)) return false;
  if (aspd_value_is_nullish(&v) || aspd_value_is_nullish(&p)) {
    set_null(out);
    return true;
  }
  if (!aspd_value_is_number(&v)) {
    return aspd_eval_fail(ev, "%s only supports numeric types, not %s", name,
                          aspd_value_type_name(&v));
  }
  double pd = aspd_value_as_double(&p);
  if (!aspd_value_is_number(&p) || pd != floor(pd)) {
    return aspd_eval_fail(ev, "precision argument to %s must be a integral value", name);
  }
  if (pd < -20 || pd > 100) {
    return aspd_eval_fail(ev, "cannot apply %s with precision value %s value must be in [-20, 100]",
                          name, number_text(ev, &p));
  }
  int place = (int)pd;
  if (is_integer(&v)) {
    int64_t r;
    if (!integer_round(integer_of(&v), place, truncate, &r)) {
      return aspd_eval_fail(ev,
                            "invalid conversion from Decimal128 result in %s resulting from "
                            "arguments: [%s, %d]",
                            name, number_text(ev, &v), place);
    }
    set_integer(out, r, v.value_type == BSON_TYPE_INT32);
    return true;
  }
  digits_t d;
  if (v.value_type == BSON_TYPE_DECIMAL128) {
    if (!digits_from_decimal(&v.value.v_decimal128, &d)) {
      *out = v; /* NaN and infinities are their own rounding */
      return true;
    }
    digits_round(&d, place, truncate);
    out->value_type = BSON_TYPE_DECIMAL128;
    out->value.v_decimal128 = digits_to_decimal(&d);
    return true;
  }
  if (!isfinite(v.value.v_double)) {
    *out = v;
    return true;
  }
  digits_from_double(v.value.v_double, &d);
  digits_round(&d, place, truncate);
  set_double(out, digits_to_double(&d));
  return true;
}

static bool eval_round(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return round_or_trunc(e, ev, out, false);
}

static bool eval_trunc(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return round_or_trunc(e, ev, out, true);
}

/* ---- $ceil and $floor -------------------------------------------------------- */

static bool ceil_or_floor(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool up) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) {
    set_null(out);
    return true;
  }
  if (!aspd_value_is_number(&v)) {
    return aspd_eval_fail(ev, "%s only supports numeric types, not %s", up ? "$ceil" : "$floor",
                          aspd_value_type_name(&v));
  }
  if (is_integer(&v)) {
    *out = v;
    return true;
  }
  if (v.value_type == BSON_TYPE_DOUBLE) {
    set_double(out, up ? ceil(v.value.v_double) : floor(v.value.v_double));
    return true;
  }
  digits_t d;
  if (!digits_from_decimal(&v.value.v_decimal128, &d)) {
    *out = v;
    return true;
  }
  /* Toward zero, then one unit further from zero when a fraction was dropped on
   * the side the direction points to. */
  int whole = d.point > 0 ? d.point : 0;
  bool fraction =
      (int)strlen(d.digits) > whole && strspn(d.digits + whole, "0") < strlen(d.digits + whole);
  digits_round(&d, 0, true);
  if (fraction && up != d.negative) {
    if (!strcmp(d.digits, "0")) {
      strcpy(d.digits, "1");
    } else {
      digits_increment(&d);
    }
  } else if (!strcmp(d.digits, "0")) {
    d.negative = false;
  }
  out->value_type = BSON_TYPE_DECIMAL128;
  out->value.v_decimal128 = digits_to_decimal(&d);
  return true;
}

static bool eval_ceil(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return ceil_or_floor(e, ev, out, true);
}

static bool eval_floor(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return ceil_or_floor(e, ev, out, false);
}

/* ---- $exp, $ln, $log10, $sqrt, $log, $pow ------------------------------------ */

/* A double result, as a decimal when the input was one. */
static void set_real(bson_value_t *out, double d, bool decimal) {
  if (!decimal) {
    set_double(out, d);
    return;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.15g", d);
  out->value_type = BSON_TYPE_DECIMAL128;
  bson_decimal128_from_string(isnan(d) ? "NaN" : buf, &out->value.v_decimal128);
}

typedef enum { UNARY_EXP, UNARY_LN, UNARY_LOG10, UNARY_SQRT } unary_t;

static bool unary(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, unary_t which) {
  static const char *const names[] = {"$exp", "$ln", "$log10", "$sqrt"};
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) {
    set_null(out);
    return true;
  }
  if (!aspd_value_is_number(&v)) {
    return aspd_eval_fail(ev, "%s only supports numeric types, not %s", names[which],
                          aspd_value_type_name(&v));
  }
  double x = aspd_value_as_double(&v), r;
  switch (which) {
    case UNARY_EXP:
      r = exp(x);
      break;
    case UNARY_SQRT:
      if (x < 0) return aspd_eval_fail(ev, "$sqrt's argument must be greater than or equal to 0");
      r = sqrt(x);
      break;
    default:
      if (!(x > 0) && !isnan(x)) {
        return aspd_eval_fail(ev, "%s's argument must be a positive number, but is %s",
                              names[which], number_text(ev, &v));
      }
      r = which == UNARY_LN ? log(x) : log10(x);
  }
  set_real(out, r, v.value_type == BSON_TYPE_DECIMAL128);
  return true;
}

static bool eval_exp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return unary(e, ev, out, UNARY_EXP);
}

static bool eval_ln(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return unary(e, ev, out, UNARY_LN);
}

static bool eval_log10(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return unary(e, ev, out, UNARY_LOG10);
}

static bool eval_sqrt(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return unary(e, ev, out, UNARY_SQRT);
}

/* Evaluates both arguments of $log or $pow (`what` names them in messages):
 * false on error or when either is not a number; *null (and out null) when
 * either is null or missing. */
static bool two_numbers(const aspd_expr_t *e, aspd_eval_t *ev, const char *const what[2],
                        bson_value_t *a, bson_value_t *b, bool *null, bson_value_t *out) {
  if (!aspd_expr_eval(e->args[0], ev, a) || !aspd_expr_eval(e->args[1], ev, b)) return false;
  *null = aspd_value_is_nullish(a) || aspd_value_is_nullish(b);
  if (*null) {
    set_null(out);
    return true;
  }
  const bson_value_t *v[2] = {a, b};
  for (int i = 0; i < 2; i++) {
    if (!aspd_value_is_number(v[i])) {
      return aspd_eval_fail(ev, "%s must be numeric, not %s", what[i], aspd_value_type_name(v[i]));
    }
  }
  return true;
}

static bool eval_log(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  static const char *const what[] = {"$log's argument", "$log's base"};
  bson_value_t v, b;
  bool null;
  if (!two_numbers(e, ev, what, &v, &b, &null, out)) return false;
  if (null) return true;
  double x = aspd_value_as_double(&v), base = aspd_value_as_double(&b);
  if (!(x > 0)) {
    return aspd_eval_fail(ev, "$log's argument must be a positive number, but is %s",
                          number_text(ev, &v));
  }
  if (!(base > 0) || base == 1) {
    return aspd_eval_fail(ev, "$log's base must be a positive number not equal to 1, but is %s",
                          number_text(ev, &b));
  }
  set_real(out, log(x) / log(base),
           v.value_type == BSON_TYPE_DECIMAL128 || b.value_type == BSON_TYPE_DECIMAL128);
  return true;
}

/* base^exp for integers, false when it does not fit a long. */
static bool integer_pow(int64_t base, int64_t exp, int64_t *out) {
  int64_t r = 1;
  while (exp > 0) {
    if ((exp & 1) && __builtin_mul_overflow(r, base, &r)) return false;
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return false;
  }
  *out = r;
  return true;
}

static bool eval_pow(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  static const char *const what[] = {"$pow's base", "$pow's exponent"};
  bson_value_t b, x;
  bool null;
  if (!two_numbers(e, ev, what, &b, &x, &null, out)) return false;
  if (null) return true;
  double bd = aspd_value_as_double(&b), xd = aspd_value_as_double(&x);
  if (bd == 0 && xd < 0) {
    return aspd_eval_fail(ev, "$pow cannot take a base of 0 and a negative exponent");
  }
  if (is_integer(&b) && is_integer(&x)) {
    int64_t base = integer_of(&b), exp = integer_of(&x), r;
    bool both_int = b.value_type == BSON_TYPE_INT32 && x.value_type == BSON_TYPE_INT32;
    if (exp >= 0 && integer_pow(base, exp, &r)) {
      set_integer(out, r, both_int);
      return true;
    }
    if (exp < 0 && (base == 1 || base == -1)) {
      set_integer(out, base == 1 || exp % 2 == 0 ? 1 : -1, both_int);
      return true;
    }
  }
  set_real(out, pow(bd, xd),
           b.value_type == BSON_TYPE_DECIMAL128 || x.value_type == BSON_TYPE_DECIMAL128);
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$ceil", 1, 1, eval_ceil, NULL},   {"$floor", 1, 1, eval_floor, NULL},
    {"$round", 1, 2, eval_round, NULL}, {"$trunc", 1, 2, eval_trunc, NULL},
    {"$exp", 1, 1, eval_exp, NULL},     {"$ln", 1, 1, eval_ln, NULL},
    {"$log", 2, 2, eval_log, NULL},     {"$log10", 1, 1, eval_log10, NULL},
    {"$pow", 2, 2, eval_pow, NULL},     {"$sqrt", 1, 1, eval_sqrt, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_math_ops = {ops};
