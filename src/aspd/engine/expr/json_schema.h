/* $jsonSchema (draft 4 as MongoDB implements it), compiled once. */
#ifndef ASPD_JSON_SCHEMA_H
#define ASPD_JSON_SCHEMA_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"
#include "engine/expr/values.h"

typedef struct aspd_json_schema aspd_json_schema_t;

/* NULL with err when the schema uses an unknown or unsupported keyword. */
aspd_json_schema_t *aspd_json_schema_compile(const bson_value_t *schema, aspd_error_t *err);
/* True when doc (a document value) satisfies the schema. */
bool aspd_json_schema_valid(const aspd_json_schema_t *schema, const bson_value_t *doc);
void aspd_json_schema_free(aspd_json_schema_t *schema);

#endif
