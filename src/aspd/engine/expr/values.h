/* BSON values as MongoDB orders and names them: the comparison order across
 * types (MinKey < null < numbers < strings < objects < arrays < binData <
 * ObjectId < bool < date < timestamp < regex < MaxKey), numbers compared by
 * value whatever their type, and the names and numbers $type uses.
 * A value_type of BSON_TYPE_EOD stands for a missing value. */
#ifndef ASPD_VALUES_H
#define ASPD_VALUES_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* int32, int64, double or decimal128. */
bool aspd_value_is_number(const bson_value_t *v);
/* The numeric value of a number; 0 for anything else. */
double aspd_value_as_double(const bson_value_t *v);
/* A number with no fractional part that fits an int64 (NaN, infinities and doubles out
 * of range are not: converting them would be undefined). */
bool aspd_value_as_integral(const bson_value_t *v, int64_t *out);
/* A sort direction of sortBy ($sortArray, $top and the other sorted accumulators): a number
 * equal to 1 or -1, into *dir; false for anything else. */
bool aspd_value_sort_direction(const bson_value_t *v, int *dir);
/* A number truncated toward zero, when that fits an int64 (an int32 or int64 as it is;
 * false for NaN, infinities and anything beyond the int64 range, whose conversion would be
 * undefined). */
bool aspd_value_truncate(const bson_value_t *v, int64_t *out);
/* bson_iter_as_int64 without its undefined conversion of a double beyond the int64 range:
 * a double is truncated toward zero and clamped (NaN gives 0). */
int64_t aspd_iter_as_int64(const bson_iter_t *it);
/* d truncated toward zero, clamped to the int64 range; NaN gives 0. */
int64_t aspd_double_clamp_int64(double d);
/* null, undefined or missing. */
bool aspd_value_is_nullish(const bson_value_t *v);
/* What the date operators take as a date, in milliseconds since the epoch: a
 * date, a timestamp (its seconds) or an ObjectId (its creation second); false
 * for any other type. */
bool aspd_value_as_date(const bson_value_t *v, int64_t *ms);

/* The rank of a type in the comparison order (numbers share one, as do
 * strings and symbols; missing and undefined sort just below null). */
int aspd_value_rank(bson_type_t type);
/* <0, 0, >0 in the comparison order. */
int aspd_value_cmp(const bson_value_t *a, const bson_value_t *b);
static inline bool aspd_value_equal(const bson_value_t *a, const bson_value_t *b) {
  return aspd_value_cmp(a, b) == 0;
}

/* A hash under which values that compare equal collide (1, 1.0, NumberLong(1) and
 * NumberDecimal("1"); a string and the same symbol), for hash tables keyed by value. */
uint64_t aspd_value_hash(const bson_value_t *v);

/* $type's name of a value ("missing" when absent), and of a type number. */
const char *aspd_value_type_name(const bson_value_t *v);
const char *aspd_type_name(bson_type_t type);
/* The type of a $type name, or false when the name is unknown. */
bool aspd_type_from_name(const char *name, bson_type_t *type);

/* A bson_value_t's document pointer is not const: values that point into
 * read-only BSON (the document being processed) go through this. */
static inline uint8_t *aspd_bytes(const uint8_t *p) {
  return (uint8_t *)(uintptr_t)p;
}

/* Moves it to the field called name (len bytes); false when there is none.
 * Compares lengths before bytes, which libbson's bson_iter_find does not. */
static inline bool aspd_iter_find(bson_iter_t *it, const char *name, size_t len) {
  while (bson_iter_next(it)) {
    if (bson_iter_key_len(it) == len && !memcmp(bson_iter_key(it), name, len)) return true;
  }
  return false;
}

/* Truthiness as in $cond: false, null, missing, undefined and 0 are false. */
bool aspd_value_truthy(const bson_value_t *v);

#endif
