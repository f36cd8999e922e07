/* Reading and writing BSON bytes directly, for the per-document hot paths.
 *
 * bson_iter_t validates every element it steps over and the bson_append_*
 * functions copy a value piece by piece; finding a field or copying a field
 * unchanged needs neither. The reader steps from element to element by type
 * and length (bounds-checked against the document's length, so a malformed
 * document ends the walk instead of reading past it); the writer appends whole
 * elements with one memcpy into a buffer that starts on the caller's stack,
 * and hands the result over as a bson_t in one copy. */
#ifndef ASPD_BSON_RAW_H
#define ASPD_BSON_RAW_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* --- reading ---------------------------------------------------------------- */

typedef struct {
  const uint8_t *data; /* the document, from its length prefix */
  uint32_t len;
  uint32_t next; /* offset of the next element's type byte */
  uint8_t type;  /* the current element's */
  const char *key;
  uint32_t key_len;
  const uint8_t *elem; /* the current element from its type byte ... */
  uint32_t elem_len;   /* ... to the next element */
  const uint8_t *value;
} aspd_raw_iter_t;

static inline void aspd_raw_init(aspd_raw_iter_t *it, const uint8_t *data, uint32_t len) {
  it->data = data;
  it->len = len;
  it->next = 4;
}

/* Steps to the next element; false at the end (or at bytes that are not BSON). */
bool aspd_raw_next(aspd_raw_iter_t *it);

/* The current element's value (pointing into the document). */
void aspd_raw_value(const aspd_raw_iter_t *it, bson_value_t *out);

/* Moves to the field called key (key_len bytes); false when there is none. */
bool aspd_raw_find(aspd_raw_iter_t *it, const char *key, size_t key_len);

/* The field `key` of a document value, or false (out untouched) when it has none. */
static inline bool aspd_raw_get(const bson_value_t *doc, const char *key, size_t key_len,
                                bson_value_t *out) {
  aspd_raw_iter_t it;
  aspd_raw_init(&it, doc->value.v_doc.data, doc->value.v_doc.data_len);
  if (!aspd_raw_find(&it, key, key_len)) return false;
  aspd_raw_value(&it, out);
  return true;
}

/* The top-level fields of one document, found in one pass, for an operator that
 * evaluates several expressions over it (aspd_eval_t's root_index). */
#define ASPD_RAW_INDEX_MAX 32

typedef struct aspd_raw_index {
  const bson_t *doc;
  size_t count;
  aspd_raw_iter_t fields[ASPD_RAW_INDEX_MAX];
} aspd_raw_index_t;

/* Indexes doc's fields; false (the index is not to be used) when it has more. */
bool aspd_raw_index(aspd_raw_index_t *index, const bson_t *doc);

/* The first field called key, as a scan would find it; NULL when there is none. */
static inline const aspd_raw_iter_t *aspd_raw_index_find(const aspd_raw_index_t *index,
                                                         const char *key, size_t key_len) {
  for (size_t i = 0; i < index->count; i++) {
    const aspd_raw_iter_t *f = &index->fields[i];
    if (f->key_len == key_len && (key_len == 0 || f->key[0] == key[0]) &&
        !memcmp(f->key, key, key_len)) {
      return f;
    }
  }
  return NULL;
}

/* --- writing ---------------------------------------------------------------- */

#define ASPD_RAW_STACK 1024

typedef struct {
  uint8_t *buf;
  uint32_t len, cap;
  uint8_t stack[ASPD_RAW_STACK];
} aspd_raw_out_t;

/* Starts a document (its length prefix is written by aspd_raw_finish). */
void aspd_raw_out_init(aspd_raw_out_t *w);
/* Frees what the writer allocated (not needed after aspd_raw_finish). */
void aspd_raw_out_free(aspd_raw_out_t *w);
uint8_t *aspd_raw_grow(aspd_raw_out_t *w, uint32_t n);
/* Room for n more bytes; returns where they go (w->len is not moved). */
static inline uint8_t *aspd_raw_reserve(aspd_raw_out_t *w, uint32_t n) {
  return w->cap - w->len >= n ? w->buf + w->len : aspd_raw_grow(w, n);
}

static inline void aspd_raw_put(aspd_raw_out_t *w, const void *bytes, uint32_t n) {
  memcpy(aspd_raw_reserve(w, n), bytes, n);
  w->len += n;
}

/* A whole element as it is in another document (aspd_raw_iter_t's elem). */
static inline void aspd_raw_put_elem(aspd_raw_out_t *w, const aspd_raw_iter_t *it) {
  aspd_raw_put(w, it->elem, it->elem_len);
}

/* Type byte and key of a new element. */
void aspd_raw_put_key(aspd_raw_out_t *w, bson_type_t type, const char *key, size_t key_len);
/* An element for v under key (nothing when v is missing). */
void aspd_raw_put_value(aspd_raw_out_t *w, const char *key, size_t key_len, const bson_value_t *v);
void aspd_raw_put_date(aspd_raw_out_t *w, const char *key, size_t key_len, int64_t ms);

/* Opens an embedded document or array under key; returns what aspd_raw_close takes. */
uint32_t aspd_raw_open(aspd_raw_out_t *w, bson_type_t type, const char *key, size_t key_len);
void aspd_raw_close(aspd_raw_out_t *w, uint32_t opened);

/* Ends the document and copies it into doc (emptied first); frees the writer. */
void aspd_raw_finish(aspd_raw_out_t *w, bson_t *doc);
/* Ends the document and lets view read it where it is (until the writer is freed). */
void aspd_raw_view(aspd_raw_out_t *w, bson_t *view);

#endif
