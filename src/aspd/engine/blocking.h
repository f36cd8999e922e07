/* The stages that need a whole window's documents: $group, $sort, $limit and
 * $count, plus running a window's inner pipeline over an array. */
#ifndef ASPD_BLOCKING_H
#define ASPD_BLOCKING_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"

/* A growable list of owned documents. */
typedef struct {
  bson_t **docs;
  size_t count, cap;
} aspd_doc_list_t;

void aspd_doc_list_push(aspd_doc_list_t *list, bson_t *doc); /* takes ownership */
void aspd_doc_list_clear(aspd_doc_list_t *list);

/* Plan time: checks an inner pipeline's stages (placement and specs). */
bool aspd_inner_pipeline_validate(const bson_t *pipeline, aspd_error_t *err);

/* Runs the inner pipeline over `docs` (replaced by the result). Documents a
 * stateless stage cannot handle are left out. */
void aspd_inner_pipeline_run(const bson_t *pipeline, aspd_doc_list_t *docs);

#endif
