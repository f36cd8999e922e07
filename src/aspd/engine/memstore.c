#include "engine/memstore.h"

#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"

struct aspd_memstore {
  aspd_dataset_t **sets;
  size_t count, cap;
  bool dirty;
};

aspd_memstore_t *aspd_memstore_new(void) {
  return calloc(1, sizeof(aspd_memstore_t));
}

static void free_set(aspd_dataset_t *set) {
  for (size_t i = 0; i < set->count; i++) bson_destroy(set->docs[(set->head + i) % set->cap]);
  free(set->docs);
  free(set->connection);
  free(set->db);
  free(set->name);
  free(set);
}

void aspd_memstore_free(aspd_memstore_t *store) {
  if (!store) return;
  for (size_t i = 0; i < store->count; i++) free_set(store->sets[i]);
  free(store->sets);
  free(store);
}

static bool same(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

aspd_dataset_t *aspd_memstore_dataset(aspd_memstore_t *store, const char *connection,
                                      const char *db, const char *name) {
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *s = store->sets[i];
    if (!strcmp(s->connection, connection) && same(s->db, db) && !strcmp(s->name, name)) return s;
  }
  aspd_dataset_t *s = calloc(1, sizeof *s);
  s->connection = strdup(connection);
  s->db = db ? strdup(db) : NULL;
  s->name = strdup(name);
  if (store->count == store->cap) {
    store->cap = store->cap ? store->cap * 2 : 8;
    store->sets = realloc(store->sets, store->cap * sizeof *store->sets);
  }
  store->sets[store->count++] = s;
  return s;
}

static void grow(aspd_dataset_t *set) {
  size_t cap = set->cap ? set->cap * 2 : 64;
  if (cap > ASPD_MEMSTORE_RETAIN) cap = ASPD_MEMSTORE_RETAIN;
  bson_t **docs = malloc(cap * sizeof *docs);
  for (size_t i = 0; i < set->count; i++) docs[i] = set->docs[(set->head + i) % set->cap];
  free(set->docs);
  set->docs = docs;
  set->cap = cap;
  set->head = 0;
}

void aspd_dataset_append(aspd_memstore_t *store, aspd_dataset_t *set, const bson_t *doc) {
  if (set->count == set->cap && set->cap < ASPD_MEMSTORE_RETAIN) grow(set);
  if (set->count == set->cap) { /* full at the retention limit: drop the oldest */
    bson_destroy(set->docs[set->head]);
    set->head = (set->head + 1) % set->cap;
    set->count--;
    set->first_offset++;
  }
  set->docs[(set->head + set->count) % set->cap] = bson_copy(doc);
  set->count++;
  store->dirty = true;
}

const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset) {
  if (offset < set->first_offset || offset >= set->first_offset + (int64_t)set->count) return NULL;
  return set->docs[(set->head + (size_t)(offset - set->first_offset)) % set->cap];
}

int64_t aspd_dataset_end_offset(const aspd_dataset_t *set) {
  return set->first_offset + (int64_t)set->count;
}

bool aspd_memstore_dirty(const aspd_memstore_t *store) {
  return store->dirty;
}

static void append_set(bson_t *list, uint32_t index, const aspd_dataset_t *set) {
  char key[16];
  const char *k;
  bson_uint32_to_string(index, &k, key, sizeof key);
  bson_t item, docs;
  BSON_APPEND_DOCUMENT_BEGIN(list, k, &item);
  BSON_APPEND_UTF8(&item, "connection", set->connection);
  if (set->db) {
    BSON_APPEND_UTF8(&item, "db", set->db);
    BSON_APPEND_UTF8(&item, "coll", set->name);
  } else {
    BSON_APPEND_UTF8(&item, "topic", set->name);
    BSON_APPEND_INT64(&item, "firstOffset", set->first_offset);
  }
  BSON_APPEND_ARRAY_BEGIN(&item, "docs", &docs);
  for (size_t i = 0; i < set->count; i++) {
    bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_append_document(&docs, k, -1, set->docs[(set->head + i) % set->cap]);
  }
  bson_append_array_end(&item, &docs);
  bson_append_document_end(list, &item);
}

void aspd_memstore_to_bson(aspd_memstore_t *store, bson_t *out) {
  bson_t colls, topics;
  uint32_t nc = 0, nt = 0;
  BSON_APPEND_ARRAY_BEGIN(out, "collections", &colls);
  for (size_t i = 0; i < store->count; i++) {
    if (store->sets[i]->db) append_set(&colls, nc++, store->sets[i]);
  }
  bson_append_array_end(out, &colls);
  BSON_APPEND_ARRAY_BEGIN(out, "topics", &topics);
  for (size_t i = 0; i < store->count; i++) {
    if (!store->sets[i]->db) append_set(&topics, nt++, store->sets[i]);
  }
  bson_append_array_end(out, &topics);
  store->dirty = false;
}

static bool load_list(aspd_memstore_t *store, const bson_t *in, const char *key, bool topics,
                      aspd_error_t *err) {
  bson_iter_t it, list;
  if (!bson_iter_init_find(&it, in, key)) return true;
  if (!BSON_ITER_HOLDS_ARRAY(&it)) goto corrupt;
  bson_iter_recurse(&it, &list);
  while (bson_iter_next(&list)) {
    bson_iter_t f;
    if (!BSON_ITER_HOLDS_DOCUMENT(&list)) goto corrupt;
    const char *conn = NULL, *db = NULL, *name = NULL;
    int64_t first = 0;
    bson_iter_t docs;
    bool have_docs = false;
    bson_iter_recurse(&list, &f);
    while (bson_iter_next(&f)) {
      const char *k = bson_iter_key(&f);
      if (!strcmp(k, "connection") && BSON_ITER_HOLDS_UTF8(&f)) conn = bson_iter_utf8(&f, NULL);
      if (!strcmp(k, "db") && BSON_ITER_HOLDS_UTF8(&f)) db = bson_iter_utf8(&f, NULL);
      if (!strcmp(k, topics ? "topic" : "coll") && BSON_ITER_HOLDS_UTF8(&f)) {
        name = bson_iter_utf8(&f, NULL);
      }
      if (!strcmp(k, "firstOffset") && BSON_ITER_HOLDS_NUMBER(&f)) first = bson_iter_as_int64(&f);
      if (!strcmp(k, "docs") && BSON_ITER_HOLDS_ARRAY(&f)) {
        bson_iter_recurse(&f, &docs);
        have_docs = true;
      }
    }
    if (!conn || !name || (!topics && !db) || !have_docs) goto corrupt;
    aspd_dataset_t *set = aspd_memstore_dataset(store, conn, topics ? NULL : db, name);
    set->first_offset = first;
    while (bson_iter_next(&docs)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&docs)) goto corrupt;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&docs, &len, &data);
      bson_t doc;
      bson_init_static(&doc, data, len);
      aspd_dataset_append(store, set, &doc);
    }
  }
  return true;
corrupt:
  aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "malformed '%s' entry", key);
  return false;
}

bool aspd_memstore_from_bson(aspd_memstore_t *store, const bson_t *in, aspd_error_t *err) {
  bool ok =
      load_list(store, in, "collections", false, err) && load_list(store, in, "topics", true, err);
  store->dirty = false;
  return ok;
}
