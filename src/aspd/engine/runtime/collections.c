/* What processors wrote, read and seeded through the ordinary MongoDB
 * commands: the collections of every Cluster connection, by database and
 * name. Queries are the engine's compiled MQL (the same as $match). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expr/query.h"
#include "engine/runtime/engine_internal.h"

/* The collections named db.coll, whichever Cluster connection holds them. */
static bool is_coll(const aspd_dataset_t *set, const char *db, const char *coll) {
  return set->db && !strcmp(set->db, db) && (!coll || !strcmp(set->name, coll));
}

bool aspd_engine_find(aspd_engine_t *e, const char *db, const char *coll, const bson_t *filter,
                      int64_t skip, int64_t limit, aspd_docs_t *out, aspd_error_t *err) {
  *out = (aspd_docs_t){0};
  aspd_query_t *q = filter ? aspd_query_compile(filter, NULL, err) : NULL;
  if (filter && !q) return false;
  aspd_engine_lock(e);
  size_t cap = 0;
  for (size_t i = 0; i < aspd_memstore_size(e->memstore); i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (!is_coll(set, db, coll)) continue;
    for (int64_t o = set->first_offset; o < aspd_dataset_end_offset(set); o++) {
      if (limit > 0 && (int64_t)out->count >= limit) break;
      const bson_t *doc = aspd_dataset_at(set, o);
      if (aspd_dataset_is_deleted(doc) || (q && !aspd_query_matches(q, doc, NULL))) continue;
      if (skip > 0) {
        skip--;
        continue;
      }
      if (out->count == cap) {
        cap = cap ? cap * 2 : 64;
        out->docs = realloc(out->docs, cap * sizeof *out->docs);
      }
      out->docs[out->count++] = bson_copy(doc);
    }
  }
  pthread_mutex_unlock(&e->lock);
  aspd_query_free(q);
  return true;
}

void aspd_docs_free(aspd_docs_t *docs) {
  for (size_t i = 0; i < docs->count; i++) bson_destroy(docs->docs[i]);
  free(docs->docs);
  *docs = (aspd_docs_t){0};
}

/* Waits until the store holds the dataset up to end (the flusher signals
 * each batch); false when a commit failed meanwhile. */
static bool wait_committed(aspd_engine_t *e, aspd_dataset_t *set, int64_t end, aspd_error_t *err) {
  for (;;) {
    aspd_engine_lock(e);
    bool done = set->saved && set->saved_end >= end;
    pthread_mutex_unlock(&e->lock);
    if (done) return true;
    pthread_mutex_lock(&e->flusher.lock);
    bool failing = e->flusher.failing;
    if (!failing) {
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_nsec += 20 * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&e->flusher.idle, &e->flusher.lock, &until);
    }
    pthread_mutex_unlock(&e->flusher.lock);
    if (failing) {
      aspd_error_set(err, ASPD_E_INTERNAL,
                     "the documents were inserted but could not be committed to the state store "
                     "yet; they are retried");
      return false;
    }
  }
}

bool aspd_engine_insert(aspd_engine_t *e, const char *connection, const char *db, const char *coll,
                        const bson_t *const *docs, size_t count, aspd_error_t *err) {
  aspd_engine_lock(e);
  aspd_dataset_t *set = NULL;
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && !set; i++) {
    aspd_dataset_t *s = aspd_memstore_get(e->memstore, i);
    if (is_coll(s, db, coll)) set = s;
  }
  if (!set) set = aspd_memstore_dataset(e->memstore, connection, db, coll);
  for (size_t i = 0; i < count; i++) aspd_dataset_append(set, docs[i]);
  int64_t end = aspd_dataset_end_offset(set);
  pthread_mutex_unlock(&e->lock);
  return wait_committed(e, set, end, err);
}

static bool listed(const bson_t *names, const char *name) {
  bson_iter_t it;
  bson_iter_init(&it, names);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_utf8(&it, NULL), name)) return true;
  }
  return false;
}

void aspd_engine_list_names(aspd_engine_t *e, const char *db, bson_t *names) {
  aspd_engine_lock(e);
  uint32_t n = 0;
  for (size_t i = 0; i < aspd_memstore_size(e->memstore); i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (!set->db || (db && strcmp(set->db, db))) continue;
    const char *name = db ? set->name : set->db;
    if (listed(names, name)) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    BSON_APPEND_UTF8(names, k, name);
  }
  pthread_mutex_unlock(&e->lock);
}
