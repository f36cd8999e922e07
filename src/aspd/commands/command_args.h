/* Reading fields of an ASP command document, accepting every placement the
 * clients use (mongosh, the draft drivers and the docs disagree): a field may sit at
 * the top level or inside `options`. Type errors are code 9 FailedToParse. */
#ifndef ASPD_COMMAND_ARGS_H
#define ASPD_COMMAND_ARGS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"

/* The command's value as a processor name: a non-empty string. */
bool aspd_arg_name(const bson_t *cmd, const char **name, aspd_error_t *err);

/* Finds key at the top level, else inside an `options` document. */
bool aspd_arg_find(const bson_t *cmd, const char *key, bson_iter_t *out);

/* Typed optional fields (found as aspd_arg_find does). A missing field leaves
 * *out untouched and is not an error; a null value counts as missing. */
bool aspd_arg_bool(const bson_t *cmd, const char *key, bool *out, aspd_error_t *err);
bool aspd_arg_utf8(const bson_t *cmd, const char *key, const char **out, aspd_error_t *err);
/* int32, int64 or an integral double. */
bool aspd_arg_int64(const bson_t *cmd, const char *key, bool *present, int64_t *out,
                    aspd_error_t *err);
/* A document (or array when want_array) as a static bson_t view into cmd. */
bool aspd_arg_doc(const bson_t *cmd, const char *key, bool want_array, bool *present, bson_t *out,
                  aspd_error_t *err);

/* A tier name (SP2, SP5, SP10, SP30, SP50) or NULL (not given); code 72 otherwise. The
 * Admin API checks tiers with it too. */
bool aspd_arg_tier(const char *tier, aspd_error_t *err);

/* The top-level `options` field: absent, or a document (static view). */
bool aspd_arg_options(const bson_t *cmd, bool *present, bson_t *out, aspd_error_t *err);

#endif
