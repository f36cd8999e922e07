/* The document-reshaping stages: $addFields/$set, $project, $unset and
 * $replaceRoot/$replaceWith. Expressions as in engine/expr.h. */
#ifndef ASPD_TRANSFORM_H
#define ASPD_TRANSFORM_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"
#include "engine/expr.h"

/* Plan time checks; `stage` names the stage in messages. */
bool aspd_add_fields_validate(const bson_t *spec, const char *stage, aspd_error_t *err);
bool aspd_project_validate(const bson_t *spec, aspd_error_t *err);

/* Each returns false with a reason (the document goes to the DLQ). */
bool aspd_add_fields(const bson_t *doc, const bson_t *spec, bson_t *out, char *reason,
                     size_t reason_len);
bool aspd_project(const bson_t *doc, const bson_t *spec, bson_t *out, char *reason,
                  size_t reason_len);
bool aspd_replace_root(const bson_t *doc, const bson_value_t *new_root, bson_t *out, char *reason,
                       size_t reason_len);

/* $unwind: checks the spec (a "$path" string or {path, includeArrayIndex?,
 * preserveNullAndEmptyArrays?}) and normalises it into {path, index?, preserve}. */
bool aspd_unwind_plan(const bson_value_t *spec, bson_t *normalised, aspd_error_t *err);
/* Hands emit one document per element of the array at the path. */
typedef void (*aspd_unwind_emit_fn)(bson_t *doc, void *ctx); /* takes ownership */
void aspd_unwind(const bson_t *doc, const bson_t *normalised, aspd_unwind_emit_fn emit, void *ctx);

/* Copies doc without the dotted paths listed in the array `paths`. */
void aspd_remove_paths(const bson_t *doc, const bson_t *paths, bson_t *out);

#endif
