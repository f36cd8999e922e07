/* Documents an operator holds until it hands them on ($sort until a flush, a
 * window or a session until it closes): owned, in arrival order, with their
 * total size for stateSize, and written to a checkpoint as an array. */
#ifndef ASPD_HELD_DOCS_H
#define ASPD_HELD_DOCS_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
  bson_t **docs;
  size_t count, cap;
  int64_t bytes;
} aspd_held_docs_t;

/* Holds doc (owned) after the others. */
void aspd_held_docs_add(aspd_held_docs_t *h, bson_t *doc);
/* Hands over the documents in arrival order (the caller owns them and frees
 * the array) and leaves h empty. */
bson_t **aspd_held_docs_take(aspd_held_docs_t *h, size_t *count);
/* Destroys the documents and leaves h empty. */
void aspd_held_docs_clear(aspd_held_docs_t *h);
/* Appends the documents as an array under key. */
void aspd_held_docs_save(const aspd_held_docs_t *h, bson_t *out, const char *key);
/* Holds a copy of each document of the array under key of in; false when the
 * array is missing or holds anything but documents. */
bool aspd_held_docs_load(aspd_held_docs_t *h, const bson_t *in, const char *key);

#endif
