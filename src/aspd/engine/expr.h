/* Aggregation expressions for the stream stages that compute values
 * ($addFields/$set, $project, $replaceRoot/$replaceWith, $source.timeField).
 *
 * Supported: "$field.path", "$$ROOT", literals, objects and arrays of
 * expressions, and the operators $literal $add $subtract $multiply $divide $mod
 * $abs $concat $toLower $toUpper $toString $toInt $toLong $toDouble $toBool
 * $toDate $dateFromString $eq $ne $gt $gte $lt $lte $and $or $not $cond $ifNull
 * $size $arrayElemAt, and $meta ("stream[.path]" reads the document's _stream_meta). */
#ifndef ASPD_EXPR_H
#define ASPD_EXPR_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"

typedef enum { ASPD_EXPR_MISSING, ASPD_EXPR_VALUE, ASPD_EXPR_ERROR } aspd_expr_result_t;

/* Plan time: every operator is known and has the right arity. */
bool aspd_expr_validate(const bson_value_t *expr, aspd_error_t *err);

/* Evaluates expr against root and appends the value under key to out (nothing
 * when the result is missing). On ASPD_EXPR_ERROR, reason says why. */
aspd_expr_result_t aspd_expr_append(const bson_value_t *expr, const bson_t *root, bson_t *out,
                                    const char *key, char *reason, size_t reason_len);

#endif
