/* The Admin API's StreamsConnection: which fields each connection type takes, which
 * are required, which are write-only (kept, never shown), and the shape a
 * connection is shown in. Errors carry the HTTP status as code and the Admin API
 * errorCode as code_name. */
#ifndef ASPD_CONNECTION_SCHEMA_H
#define ASPD_CONNECTION_SCHEMA_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"

#define ASPD_API_E_INVALID_ATTRIBUTE 400, "INVALID_ATTRIBUTE"
#define ASPD_API_E_UNKNOWN_ATTRIBUTE 400, "INVALID_JSON_ATTRIBUTE"
#define ASPD_API_E_MISSING_ATTRIBUTE 400, "MISSING_ATTRIBUTE"

/* Checks a connection body and appends to stored what the registry keeps: the known
 * fields in the order given, read-only ones (id, state, region, links) dropped. An
 * unknown field, a wrong type or value, or a missing required field is an error. */
bool aspd_connection_check(const bson_t *body, bson_t *stored, aspd_error_t *err);

/* Appends the shape the Admin API returns: the stored definition without write-only
 * fields, Kafka networking defaulted to PUBLIC, then state and region. */
void aspd_connection_public(const bson_t *stored, const char *region, bson_t *out);

#endif
