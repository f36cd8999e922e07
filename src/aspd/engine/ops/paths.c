/* Setting values at dotted paths while keeping the document's field order. */
#include <stdio.h>
#include <string.h>

#include "engine/ops/stages.h"

/* Length of the first segment of a dotted path. */
static size_t head_len(const char *path) {
  const char *dot = strchr(path, '.');
  return dot ? (size_t)(dot - path) : strlen(path);
}

/* The entries of `values` (keys are dotted paths) below `head.`, with that prefix removed. */
static void values_below(const bson_t *values, const char *head, size_t len, bson_t *out) {
  bson_iter_t it;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strncmp(k, head, len) && k[len] == '.') {
      bson_append_value(out, k + len + 1, -1, bson_iter_value(&it));
    }
  }
}

static bool emitted_before(const bson_t *values, const char *key, size_t len, const char *upto) {
  bson_iter_t it;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it) && bson_iter_key(&it) != upto) {
    const char *k = bson_iter_key(&it);
    if (head_len(k) == len && !strncmp(k, key, len)) return true;
  }
  return false;
}

static bool doc_has(const bson_t *doc, const char *key, size_t len) {
  bson_iter_t it;
  if (!doc || !bson_iter_init(&it, doc)) return false;
  while (bson_iter_next(&it)) {
    if (strlen(bson_iter_key(&it)) == len && !strncmp(bson_iter_key(&it), key, len)) return true;
  }
  return false;
}

static void merge_values(const bson_t *doc, const bson_t *values, bson_t *out) {
  bson_iter_t it, v;
  if (doc && bson_iter_init(&it, doc)) {
    while (bson_iter_next(&it)) {
      const char *k = bson_iter_key(&it);
      size_t len = strlen(k);
      if (bson_iter_init_find(&v, values, k)) {
        bson_append_value(out, k, -1, bson_iter_value(&v));
        continue;
      }
      bson_t below = BSON_INITIALIZER;
      values_below(values, k, len, &below);
      if (bson_empty(&below)) {
        bson_append_value(out, k, -1, bson_iter_value(&it));
      } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
        /* Through an array: the values are set in each element that is a document. */
        bson_t child;
        bson_iter_t el;
        bson_append_array_begin(out, k, -1, &child);
        bson_iter_recurse(&it, &el);
        while (bson_iter_next(&el)) {
          if (BSON_ITER_HOLDS_DOCUMENT(&el)) {
            bson_t inner, sub;
            const uint8_t *data;
            uint32_t dlen;
            bson_iter_document(&el, &dlen, &data);
            bson_init_static(&inner, data, dlen);
            bson_append_document_begin(&child, bson_iter_key(&el), -1, &sub);
            merge_values(&inner, &below, &sub);
            bson_append_document_end(&child, &sub);
          } else {
            bson_append_value(&child, bson_iter_key(&el), -1, bson_iter_value(&el));
          }
        }
        bson_append_array_end(out, &child);
      } else {
        bson_t inner, child;
        bool nested = BSON_ITER_HOLDS_DOCUMENT(&it);
        if (nested) {
          const uint8_t *data;
          uint32_t dlen;
          bson_iter_document(&it, &dlen, &data);
          bson_init_static(&inner, data, dlen);
        }
        bson_append_document_begin(out, k, -1, &child);
        merge_values(nested ? &inner : NULL, &below, &child);
        bson_append_document_end(out, &child);
      }
      bson_destroy(&below);
    }
  }
  bson_iter_init(&v, values);
  while (bson_iter_next(&v)) {
    const char *k = bson_iter_key(&v);
    size_t len = head_len(k);
    if (doc_has(doc, k, len) || emitted_before(values, k, len, k)) continue;
    if (!k[len]) {
      bson_append_value(out, k, -1, bson_iter_value(&v));
      continue;
    }
    char head[512];
    snprintf(head, sizeof head, "%.*s", (int)len, k);
    bson_t below = BSON_INITIALIZER, child;
    values_below(values, head, len, &below);
    bson_append_document_begin(out, head, -1, &child);
    merge_values(NULL, &below, &child);
    bson_append_document_end(out, &child);
    bson_destroy(&below);
  }
}

static void remove_paths(const bson_t *src, const bson_t *paths, const char *prefix, bson_t *dst) {
  bson_iter_t it;
  bson_iter_init(&it, src);
  while (bson_iter_next(&it)) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", prefix, bson_iter_key(&it));
    size_t plen = strlen(path);
    bool drop = false, descend = false;
    bson_iter_t p;
    bson_iter_init(&p, paths);
    while (bson_iter_next(&p)) {
      const char *name = bson_iter_utf8(&p, NULL);
      if (!strcmp(name, path)) drop = true;
      if (!strncmp(name, path, plen) && name[plen] == '.') descend = true;
    }
    if (drop) continue;
    if (descend && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_t inner, child;
      aspd_spec_doc(&it, &inner);
      char next_prefix[1030];
      snprintf(next_prefix, sizeof next_prefix, "%s.", path);
      bson_append_document_begin(dst, bson_iter_key(&it), -1, &child);
      remove_paths(&inner, paths, next_prefix, &child);
      bson_append_document_end(dst, &child);
    } else {
      bson_append_value(dst, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
}

void aspd_remove_paths(const bson_t *doc, const bson_t *paths, bson_t *out) {
  remove_paths(doc, paths, "", out);
}

void aspd_set_paths(const bson_t *doc, const bson_t *values, bson_t *out) {
  merge_values(doc, values, out);
}
