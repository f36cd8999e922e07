/* One-shot queries for the layers outside the engine (the filters of
 * listStreamProcessors and listStreamConnections): compile, match, free. The
 * engine's own stages compile their queries once (engine/expr/query.h). */
#ifndef ASPD_MATCH_H
#define ASPD_MATCH_H

#include <stdbool.h>

#include "engine/error.h"

/* Checks the filter's syntax. */
bool aspd_match_validate(const bson_t *filter, aspd_error_t *err);

/* True when doc satisfies filter (a filter that does not compile matches nothing). */
bool aspd_match(const bson_t *doc, const bson_t *filter);

#endif
