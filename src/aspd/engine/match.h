/* A small MQL query matcher: the filters of listStreamProcessors and
 * listStreamConnections, and the $match stage.
 *
 * Supported: implicit AND of fields (dotted paths), literal equality (an array
 * field matches when any element does), $eq $ne $gt $gte $lt $lte $in $nin
 * $exists $regex (+$options, or a BSON regex value; POSIX extended syntax)
 * $not, and top-level $and $or $nor. */
#ifndef ASPD_MATCH_H
#define ASPD_MATCH_H

#include <stdbool.h>

#include "engine/error.h"

/* int32, int64 or double (NULL is not a number). */
bool aspd_value_is_number(const bson_value_t *v);

/* The numeric value of an int32, int64 or double; 0 for anything else. */
double aspd_value_as_double(const bson_value_t *v);

/* Orders two values the way the matcher does: numbers numerically, strings,
 * booleans, dates, ObjectIds, null, and documents/arrays by bytes. *comparable
 * is false for values of different kinds. */
int aspd_value_compare(const bson_value_t *a, const bson_value_t *b, bool *comparable);

/* Checks the filter's syntax once, before it is applied to many documents. */
bool aspd_match_validate(const bson_t *filter, aspd_error_t *err);

/* True when doc satisfies filter. The filter must have passed aspd_match_validate. */
bool aspd_match(const bson_t *doc, const bson_t *filter);

#endif
