/* Decimal128 arithmetic (see decimal.h), on the BID encoding libbson stores. */
#include "engine/expr/decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef aspd_u128_t u128;

#define EXP_BIAS 6176
#define MAX_DIGITS 34

static u128 pow10_u128(int n) {
  u128 p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

/* Divides the coefficient by 10^n, rounding half to even. */
static void shed_digits(aspd_dec_t *d, int n) {
  while (n-- > 0) {
    u128 q = d->coef / 10, r = d->coef % 10;
    if (r > 5 || (r == 5 && (q & 1))) q++;
    d->coef = q;
    d->exp++;
  }
}

static void normalize(aspd_dec_t *d) {
  static u128 limit;
  if (!limit) limit = pow10_u128(MAX_DIGITS);
  while (d->coef >= limit) shed_digits(d, 1);
}

bson_decimal128_t aspd_dec_of_double(double x) {
  bson_decimal128_t dec;
  if (isnan(x) || isinf(x)) {
    bson_decimal128_from_string(isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity", &dec);
    return dec;
  }
  char buf[64], digits[32];
  snprintf(buf, sizeof buf, "%.14e", x);
  const char *p = buf;
  size_t n = 0;
  if (*p == '-') digits[n++] = *p++;
  for (; *p && *p != 'e'; p++) {
    if (*p != '.') digits[n++] = *p;
  }
  digits[n] = '\0';
  char text[64];
  snprintf(text, sizeof text, "%sE%d", digits, atoi(p + 1) - 14);
  bson_decimal128_from_string(text, &dec);
  return dec;
}

static void from_bid(const bson_decimal128_t *x, aspd_dec_t *d) {
  memset(d, 0, sizeof *d);
  d->negative = x->high >> 63;
  if (((x->high >> 61) & 3) == 3) {
    if (((x->high >> 59) & 3) == 3) {
      d->special = true;
      d->approx = ((x->high >> 58) & 1) ? NAN : d->negative ? -INFINITY : INFINITY;
    } else {
      d->exp = (int32_t)((x->high >> 47) & 0x3FFF) - EXP_BIAS; /* non-canonical: zero */
    }
    return;
  }
  d->exp = (int32_t)((x->high >> 49) & 0x3FFF) - EXP_BIAS;
  d->coef = ((u128)(x->high & 0x1FFFFFFFFFFFFull) << 64) | x->low;
}

bool aspd_dec_from_value(const bson_value_t *v, aspd_dec_t *d) {
  bson_decimal128_t x;
  switch (v->value_type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: {
      int64_t i = v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
      memset(d, 0, sizeof *d);
      d->negative = i < 0;
      d->coef = i < 0 ? (u128)(-(i + 1)) + 1 : (u128)i;
      return true;
    }
    case BSON_TYPE_DOUBLE:
      x = aspd_dec_of_double(v->value.v_double);
      from_bid(&x, d);
      return true;
    case BSON_TYPE_DECIMAL128:
      from_bid(&v->value.v_decimal128, d);
      return true;
    default:
      return false;
  }
}

double aspd_dec_to_double(const aspd_dec_t *d) {
  if (d->special) return d->approx;
  char buf[96];
  char digits[48];
  int n = 0;
  u128 c = d->coef;
  do {
    digits[n++] = (char)('0' + (int)(c % 10));
    c /= 10;
  } while (c);
  int at = 0;
  if (d->negative) buf[at++] = '-';
  while (n > 0) buf[at++] = digits[--n];
  snprintf(buf + at, sizeof buf - (size_t)at, "e%d", d->exp);
  return strtod(buf, NULL);
}

static aspd_dec_t from_double_value(double x) {
  bson_decimal128_t b = aspd_dec_of_double(x);
  aspd_dec_t d;
  from_bid(&b, &d);
  return d;
}

void aspd_dec_to_value(const aspd_dec_t *in, bson_value_t *out) {
  out->value_type = BSON_TYPE_DECIMAL128;
  if (in->special) {
    out->value.v_decimal128 = aspd_dec_of_double(in->approx);
    return;
  }
  aspd_dec_t d = *in;
  normalize(&d);
  uint64_t high = (uint64_t)d.negative << 63 | (uint64_t)((d.exp + EXP_BIAS) & 0x3FFF) << 49 |
                  ((uint64_t)(d.coef >> 64) & 0x1FFFFFFFFFFFFull);
  out->value.v_decimal128.high = high;
  out->value.v_decimal128.low = (uint64_t)d.coef;
}

bool aspd_dec_is_zero(const aspd_dec_t *d) {
  return !d->special && d->coef == 0;
}

aspd_dec_t aspd_dec_negate(aspd_dec_t a) {
  a.negative = !a.negative;
  a.approx = -a.approx;
  return a;
}

/* Scales a's coefficient up toward exponent e while it fits; returns the exponent reached. */
static void scale_down_exponent(aspd_dec_t *a, int32_t e) {
  static u128 room;
  if (!room) room = pow10_u128(37);
  while (a->exp > e && a->coef < room) {
    a->coef *= 10;
    a->exp--;
  }
}

aspd_dec_t aspd_dec_add(aspd_dec_t a, aspd_dec_t b) {
  if (a.special || b.special)
    return from_double_value(aspd_dec_to_double(&a) + aspd_dec_to_double(&b));
  /* Bring both to the smaller exponent; the one that cannot follow loses digits. */
  if (a.exp > b.exp) scale_down_exponent(&a, b.exp);
  if (b.exp > a.exp) scale_down_exponent(&b, a.exp);
  if (a.exp > b.exp) shed_digits(&b, a.exp - b.exp);
  if (b.exp > a.exp) shed_digits(&a, b.exp - a.exp);
  aspd_dec_t r = a;
  if (a.negative == b.negative) {
    r.coef = a.coef + b.coef;
  } else if (a.coef >= b.coef) {
    r.coef = a.coef - b.coef;
  } else {
    r.coef = b.coef - a.coef;
    r.negative = b.negative;
  }
  if (r.coef == 0) r.negative = a.negative && b.negative;
  normalize(&r);
  return r;
}

aspd_dec_t aspd_dec_mul(aspd_dec_t a, aspd_dec_t b) {
  if (a.special || b.special)
    return from_double_value(aspd_dec_to_double(&a) * aspd_dec_to_double(&b));
  /* Keep the product within 128 bits: drop the operands' last digits if need be. */
  static u128 limit;
  if (!limit) limit = pow10_u128(38);
  while (a.coef && b.coef > limit / a.coef) shed_digits(a.coef > b.coef ? &a : &b, 1);
  aspd_dec_t r = {
      .negative = a.negative != b.negative, .coef = a.coef * b.coef, .exp = a.exp + b.exp};
  normalize(&r);
  return r;
}

bool aspd_dec_div(aspd_dec_t a, aspd_dec_t b, aspd_dec_t *q) {
  if (a.special || b.special) {
    if (!b.special && b.coef == 0) return false;
    *q = from_double_value(aspd_dec_to_double(&a) / aspd_dec_to_double(&b));
    return true;
  }
  if (b.coef == 0) return false;
  int32_t preferred = a.exp - b.exp;
  /* As many digits as 128 bits allow, then the exact quotient's own exponent. */
  u128 n = a.coef, limit = pow10_u128(37);
  int k = 0;
  while (n && n < limit) {
    n *= 10;
    k++;
  }
  u128 quo = n / b.coef, rem = n % b.coef;
  aspd_dec_t r = {.negative = a.negative != b.negative, .coef = quo, .exp = preferred - k};
  if (rem) {
    if (rem * 2 > b.coef || (rem * 2 == b.coef && (quo & 1))) r.coef++;
  } else {
    while (r.exp < preferred && r.coef && r.coef % 10 == 0) {
      r.coef /= 10;
      r.exp++;
    }
    if (!r.coef) r.exp = preferred;
  }
  normalize(&r);
  *q = r;
  return true;
}
