/* The query language ($match, $validate, list filters), compiled once into a
 * tree: logical nodes, field predicates over dotted paths with MongoDB's array
 * traversal (a path through an array of documents matches when any element
 * does; a numeric component also indexes arrays) and $expr.
 * Field operators are rows of one table (mql.c): {name, compile, test, flags}. */
#ifndef ASPD_QUERY_H
#define ASPD_QUERY_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"
#include "engine/expr/expr.h"

typedef struct aspd_query aspd_query_t;

/* NULL with err (BadValue / FailedToParse and the server's texts). cc scopes
 * the expressions of $expr (NULL: a fresh scope). */
aspd_query_t *aspd_query_compile(const bson_t *filter, aspd_expr_compiler_t *cc, aspd_error_t *err);
/* ev is used by $expr (NULL: a private one). */
bool aspd_query_matches(const aspd_query_t *q, const bson_t *doc, aspd_eval_t *ev);
void aspd_query_free(aspd_query_t *q);

#endif
