#include "engine/sinks/memstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"

struct aspd_memstore {
  aspd_dataset_t **sets;
  size_t count, cap;
  size_t retain;
};

struct aspd_memstore_changes {
  aspd_dataset_t **sets;
  aspd_store_delta_t *deltas;
  size_t count;
};

aspd_memstore_t *aspd_memstore_new(size_t retain) {
  aspd_memstore_t *store = calloc(1, sizeof *store);
  store->retain = retain;
  return store;
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

size_t aspd_memstore_size(const aspd_memstore_t *store) {
  return store->count;
}

aspd_dataset_t *aspd_memstore_get(aspd_memstore_t *store, size_t i) {
  return store->sets[i];
}

aspd_dataset_t *aspd_memstore_find(aspd_memstore_t *store, const char *connection, const char *db,
                                   const char *name) {
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *s = store->sets[i];
    if (!strcmp(s->connection, connection) && same(s->db, db) && !strcmp(s->name, name) &&
        s->partition == 0) {
      return s;
    }
  }
  return NULL;
}

static aspd_dataset_t *new_set(aspd_memstore_t *store, const char *connection, const char *db,
                               const char *name, int32_t partition) {
  aspd_dataset_t *s = calloc(1, sizeof *s);
  s->partition = partition;
  s->retain = store->retain;
  s->dirty_from = INT64_MAX;
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

aspd_dataset_t *aspd_memstore_dataset(aspd_memstore_t *store, const char *connection,
                                      const char *db, const char *name) {
  aspd_dataset_t *found = aspd_memstore_find(store, connection, db, name);
  return found ? found : new_set(store, connection, db, name, 0);
}

aspd_dataset_t *aspd_memstore_partition(aspd_memstore_t *store, const char *connection,
                                        const char *topic, int32_t partition) {
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *s = store->sets[i];
    if (!s->db && s->partition == partition && !strcmp(s->connection, connection) &&
        !strcmp(s->name, topic)) {
      return s;
    }
  }
  return new_set(store, connection, NULL, topic, partition);
}

static void grow(aspd_dataset_t *set) {
  size_t cap = set->cap ? set->cap * 2 : 64;
  if (cap > set->retain) cap = set->retain;
  bson_t **docs = malloc(cap * sizeof *docs);
  for (size_t i = 0; i < set->count; i++) docs[i] = set->docs[(set->head + i) % set->cap];
  free(set->docs);
  set->docs = docs;
  set->cap = cap;
  set->head = 0;
}

void aspd_dataset_append(aspd_dataset_t *set, const bson_t *doc) {
  if (set->count == set->cap && set->cap < set->retain) grow(set);
  if (set->count == set->cap) { /* full at the retention limit: drop the oldest */
    bson_destroy(set->docs[set->head]);
    set->head = (set->head + 1) % set->cap;
    set->count--;
    set->first_offset++;
    set->dropped++;
  }
  set->docs[(set->head + set->count) % set->cap] = bson_copy(doc);
  set->count++;
}

const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset) {
  if (offset < set->first_offset || offset >= set->first_offset + (int64_t)set->count) return NULL;
  return set->docs[(set->head + (size_t)(offset - set->first_offset)) % set->cap];
}

void aspd_dataset_replace(aspd_dataset_t *set, int64_t offset, const bson_t *doc) {
  size_t i = (set->head + (size_t)(offset - set->first_offset)) % set->cap;
  bson_destroy(set->docs[i]);
  set->docs[i] = bson_copy(doc);
  /* Handed to the store already: hand it again (the store replaces it by offset). */
  if (offset < set->dirty_from) set->dirty_from = offset;
}

void aspd_dataset_delete(aspd_dataset_t *set, int64_t offset) {
  bson_t empty = BSON_INITIALIZER;
  aspd_dataset_replace(set, offset, &empty);
}

int64_t aspd_dataset_end_offset(const aspd_dataset_t *set) {
  return set->first_offset + (int64_t)set->count;
}

static bool unqueued(const aspd_dataset_t *set) {
  return !set->queued || set->queued_first != set->first_offset ||
         set->queued_end != aspd_dataset_end_offset(set) || set->dirty_from < set->queued_end;
}

aspd_memstore_changes_t *aspd_memstore_changes(aspd_memstore_t *store) {
  size_t n = 0;
  for (size_t i = 0; i < store->count; i++) n += unqueued(store->sets[i]);
  if (n == 0) return NULL;
  aspd_memstore_changes_t *c = calloc(1, sizeof *c);
  c->sets = calloc(n, sizeof *c->sets);
  c->deltas = calloc(n, sizeof *c->deltas);
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *set = store->sets[i];
    if (!unqueued(set)) continue;
    aspd_store_delta_t *d = &c->deltas[c->count];
    c->sets[c->count++] = set;
    d->connection = set->connection;
    d->db = set->db;
    d->name = set->name;
    d->partition = set->partition;
    d->first_offset = set->first_offset;
    d->end = aspd_dataset_end_offset(set);
    /* Only the documents not handed over yet (all of them when that does not line up). */
    d->from =
        set->queued && set->queued_end >= set->first_offset ? set->queued_end : set->first_offset;
    if (set->dirty_from < d->from) d->from = set->dirty_from;
    if (d->from < set->first_offset) d->from = set->first_offset;
    set->dirty_from = INT64_MAX;
    size_t k = (size_t)(d->end - d->from);
    bson_t **docs = malloc((k ? k : 1) * sizeof *docs);
    for (size_t j = 0; j < k; j++) docs[j] = bson_copy(aspd_dataset_at(set, d->from + (int64_t)j));
    d->docs = (const bson_t *const *)docs;
    set->queued = true;
    set->queued_first = d->first_offset;
    set->queued_end = d->end;
  }
  return c;
}

const aspd_store_delta_t *aspd_memstore_deltas(const aspd_memstore_changes_t *c, size_t *count) {
  *count = c->count;
  return c->deltas;
}

void aspd_memstore_changes_done(aspd_memstore_changes_t *c, bool committed) {
  for (size_t i = 0; i < c->count; i++) {
    aspd_dataset_t *set = c->sets[i];
    if (committed) {
      set->saved = true;
      set->saved_first = c->deltas[i].first_offset;
      set->saved_end = c->deltas[i].end;
    } else {
      /* Replaced documents of the batch are handed again too. */
      if (c->deltas[i].from < set->dirty_from) set->dirty_from = c->deltas[i].from;
      set->queued = set->saved;
      set->queued_first = set->saved_first;
      set->queued_end = set->saved_end;
    }
  }
}

void aspd_memstore_changes_free(aspd_memstore_changes_t *c) {
  if (!c) return;
  for (size_t i = 0; i < c->count; i++) {
    const aspd_store_delta_t *d = &c->deltas[i];
    for (int64_t o = d->from; o < d->end; o++) {
      bson_destroy((bson_t *)(uintptr_t)d->docs[o - d->from]);
    }
    free((void *)(uintptr_t)d->docs);
  }
  free(c->deltas);
  free(c->sets);
  free(c);
}

typedef struct {
  aspd_memstore_t *store;
  aspd_dataset_t *set;
} loader_t;

/* A topic message of earlier versions (a bare value), as a record. */
static void append_bare_value(aspd_dataset_t *set, const bson_t *doc) {
  bson_t record = BSON_INITIALIZER;
  BSON_APPEND_DOCUMENT(&record, "value", doc);
  aspd_dataset_append(set, &record);
  bson_destroy(&record);
}

void aspd_memstore_wrap_bare_topics(aspd_memstore_t *store) {
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *set = store->sets[i];
    if (set->db) continue;
    for (size_t k = 0; k < set->count; k++) {
      bson_t **slot = &set->docs[(set->head + k) % set->cap];
      bson_t *record = bson_new();
      BSON_APPEND_DOCUMENT(record, "value", *slot);
      bson_destroy(*slot);
      *slot = record;
    }
    set->dirty_from = set->first_offset;
  }
}

static bool load_dataset(void *ctx, const char *connection, const char *db, const char *name,
                         int32_t partition, int64_t first_offset) {
  loader_t *l = ctx;
  l->set = db ? aspd_memstore_dataset(l->store, connection, db, name)
              : aspd_memstore_partition(l->store, connection, name, partition);
  l->set->first_offset = first_offset;
  return true;
}

static bool load_doc(void *ctx, int64_t offset, const bson_t *doc) {
  loader_t *l = ctx;
  /* Offsets are contiguous; a gap only where the store dropped the oldest. */
  if (l->set->count == 0) l->set->first_offset = offset;
  aspd_dataset_append(l->set, doc);
  return true;
}

bool aspd_memstore_load(aspd_memstore_t *store, aspd_store_t *db, char *err, size_t err_len) {
  loader_t l = {store, NULL};
  aspd_store_dataset_visitor_t v = {load_dataset, load_doc};
  if (!aspd_store_each_dataset(db, &v, &l, err, err_len)) return false;
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *set = store->sets[i];
    set->saved = set->queued = true;
    set->saved_first = set->queued_first = set->first_offset;
    set->saved_end = set->queued_end = aspd_dataset_end_offset(set);
  }
  return true;
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
      if (topics) {
        append_bare_value(set, &doc);
      } else {
        aspd_dataset_append(set, &doc);
      }
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
  return ok;
}
