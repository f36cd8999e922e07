/* Decimal128 arithmetic for the arithmetic operators: a decimal is a sign, a
 * coefficient of at most 34 digits and a power of ten. Results round half to
 * even to 34 digits; sums and differences keep the smaller exponent, products
 * add them, and quotients take the exponent closest to their difference that
 * holds the exact result (IEEE 754's preferred exponents: 1 + 2.5 = 3.5,
 * 1.5 * 2 = 3.0, 10 / 4 = 2.5). Coefficients past 128 bits lose their last
 * digits first. NaN and the infinities go through double arithmetic. */
#ifndef ASPD_DECIMAL_H
#define ASPD_DECIMAL_H

#include <bson/bson.h>
#include <stdbool.h>

/* GCC and Clang's 128-bit integer (an extension: the build is -Wpedantic). */
__extension__ typedef unsigned __int128 aspd_u128_t;

typedef struct {
  bool negative;
  bool special; /* NaN or infinite: `approx` holds it */
  aspd_u128_t coef;
  int32_t exp;
  double approx;
} aspd_dec_t;

/* From an int32, int64, double (its 15 significant digits, as the server
 * converts) or decimal128; false for anything else. */
bool aspd_dec_from_value(const bson_value_t *v, aspd_dec_t *d);
void aspd_dec_to_value(const aspd_dec_t *d, bson_value_t *out);
bson_decimal128_t aspd_dec_of_double(double x);
double aspd_dec_to_double(const aspd_dec_t *d);

aspd_dec_t aspd_dec_add(aspd_dec_t a, aspd_dec_t b);
aspd_dec_t aspd_dec_negate(aspd_dec_t a);
aspd_dec_t aspd_dec_mul(aspd_dec_t a, aspd_dec_t b);
/* False when b is zero. */
bool aspd_dec_div(aspd_dec_t a, aspd_dec_t b, aspd_dec_t *q);
bool aspd_dec_is_zero(const aspd_dec_t *d);

#endif
