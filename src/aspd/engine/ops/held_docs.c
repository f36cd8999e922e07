#include "engine/ops/held_docs.h"

#include <stdlib.h>

void aspd_held_docs_add(aspd_held_docs_t *h, bson_t *doc) {
  if (h->count == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 16;
    h->docs = realloc(h->docs, h->cap * sizeof *h->docs);
  }
  h->docs[h->count++] = doc;
  h->bytes += doc->len;
}

bson_t **aspd_held_docs_take(aspd_held_docs_t *h, size_t *count) {
  bson_t **docs = h->docs;
  *count = h->count;
  *h = (aspd_held_docs_t){0};
  return docs;
}

void aspd_held_docs_clear(aspd_held_docs_t *h) {
  for (size_t i = 0; i < h->count; i++) bson_destroy(h->docs[i]);
  free(h->docs);
  *h = (aspd_held_docs_t){0};
}

void aspd_held_docs_save(const aspd_held_docs_t *h, bson_t *out, const char *key) {
  bson_t list;
  bson_append_array_begin(out, key, -1, &list);
  for (size_t i = 0; i < h->count; i++) {
    char k_buf[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, k_buf, sizeof k_buf);
    bson_append_document(&list, k, (int)len, h->docs[i]);
  }
  bson_append_array_end(out, &list);
}

bool aspd_held_docs_load(aspd_held_docs_t *h, const bson_t *in, const char *key) {
  bson_iter_t it, item;
  if (!bson_iter_init_find(&it, in, key) || !BSON_ITER_HOLDS_ARRAY(&it)) return false;
  bson_iter_recurse(&it, &item);
  while (bson_iter_next(&item)) {
    if (!BSON_ITER_HOLDS_DOCUMENT(&item)) return false;
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&item, &len, &data);
    bson_t *doc = bson_new_from_data(data, len);
    if (!doc) return false;
    aspd_held_docs_add(h, doc);
  }
  return true;
}
