/* Internals shared by the core's files; not part of the public API (asp.h). */
#ifndef ASP_PRIVATE_H
#define ASP_PRIVATE_H

#include <mongoc/mongoc.h>

#include "asp.h"

/* Fills err from a libmongoc error (error API version 2) and, for server errors, the reply's
 * codeName and errorLabels. */
void asp_error_from_mongoc(asp_error_t *err, const bson_error_t *error, const bson_t *reply);

/* Replaces every occurrence of secret in the message with "*****". */
void asp_error_scrub(asp_error_t *err, const char *secret);

/* Runs cmd and, on success, the unwrapped payload into out. */
bool asp_run_unwrapped(asp_client_t *c, const bson_t *cmd, bool retryable_read, bson_t *out,
                       asp_error_t *err);

#endif
