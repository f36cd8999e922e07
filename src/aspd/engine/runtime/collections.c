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
  return set->db && !set->gone && !strcmp(set->db, db) && (!coll || !strcmp(set->name, coll));
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

/* Waits until the store holds the dataset's change number `version` (the
 * flusher signals each batch); false when a commit failed meanwhile. */
static bool wait_committed(aspd_engine_t *e, aspd_dataset_t *set, int64_t version,
                           aspd_error_t *err) {
  for (;;) {
    aspd_engine_lock(e);
    bool done = set->saved_version >= version;
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
                     "the change was applied but could not be committed to the state store yet; "
                     "it is retried");
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
  int64_t version = set->version;
  pthread_mutex_unlock(&e->lock);
  return wait_committed(e, set, version, err);
}

/* The datasets an edit changed, and the version each must reach in the store. */
typedef struct {
  aspd_dataset_t **sets;
  int64_t *versions;
  size_t count;
} touched_t;

static void touch(touched_t *t, aspd_dataset_t *set) {
  t->sets = realloc(t->sets, (t->count + 1) * sizeof *t->sets);
  t->versions = realloc(t->versions, (t->count + 1) * sizeof *t->versions);
  t->sets[t->count] = set;
  t->versions[t->count++] = set->version;
}

/* Without the engine lock: waits for every touched dataset, frees t. */
static bool wait_touched(aspd_engine_t *e, touched_t *t, aspd_error_t *err) {
  bool ok = true;
  for (size_t i = 0; i < t->count && ok; i++)
    ok = wait_committed(e, t->sets[i], t->versions[i], err);
  free(t->sets);
  free(t->versions);
  return ok;
}

/* The offsets an edit deleted, ascending. */
typedef struct {
  int64_t *offsets;
  size_t count, next;
} doomed_t;

static bool is_doomed(void *ctx, int64_t offset, const bson_t *doc) {
  (void)doc;
  doomed_t *d = ctx;
  if (d->next < d->count && d->offsets[d->next] == offset) {
    d->next++;
    return true;
  }
  return false;
}

/* Edits the matching documents of one dataset; false when an edit failed. */
static bool edit_set(aspd_dataset_t *set, const aspd_query_t *q, int64_t limit, aspd_edit_fn edit,
                     void *ctx, int64_t *matched, int64_t *changed, aspd_error_t *err) {
  doomed_t doomed = {0};
  bool ok = true;
  for (int64_t o = set->first_offset; o < aspd_dataset_end_offset(set) && ok; o++) {
    if (limit > 0 && *matched >= limit) break;
    const bson_t *doc = aspd_dataset_at(set, o);
    if (q && !aspd_query_matches(q, doc, NULL)) continue;
    ++*matched;
    bson_t replacement = BSON_INITIALIZER;
    switch (edit(ctx, doc, &replacement, err)) {
      case ASPD_EDIT_REPLACE:
        aspd_dataset_replace(set, o, &replacement);
        ++*changed;
        break;
      case ASPD_EDIT_DELETE:
        doomed.offsets = realloc(doomed.offsets, (doomed.count + 1) * sizeof *doomed.offsets);
        doomed.offsets[doomed.count++] = o;
        ++*changed;
        break;
      case ASPD_EDIT_FAIL:
        ok = false;
        break;
      case ASPD_EDIT_KEEP:
        break;
    }
    bson_destroy(&replacement);
  }
  if (doomed.count) aspd_dataset_remove(set, is_doomed, &doomed);
  free(doomed.offsets);
  return ok;
}

bool aspd_engine_edit(aspd_engine_t *e, const char *db, const char *coll, const bson_t *filter,
                      int64_t limit, aspd_edit_fn edit, void *ctx, int64_t *matched,
                      int64_t *changed, aspd_error_t *err) {
  *matched = *changed = 0;
  aspd_query_t *q = filter ? aspd_query_compile(filter, NULL, err) : NULL;
  if (filter && !q) return false;
  touched_t t = {0};
  bool ok = true;
  aspd_engine_lock(e);
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && ok; i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (!is_coll(set, db, coll)) continue;
    int64_t before = *changed;
    ok = edit_set(set, q, limit, edit, ctx, matched, changed, err);
    if (*changed > before) touch(&t, set);
  }
  pthread_mutex_unlock(&e->lock);
  aspd_query_free(q);
  aspd_error_t wait_err = {0};
  bool committed = wait_touched(e, &t, &wait_err);
  if (ok && !committed) *err = wait_err;
  return ok && committed;
}

static bool everything(void *ctx, int64_t offset, const bson_t *doc) {
  (void)ctx;
  (void)offset;
  (void)doc;
  return true;
}

bool aspd_engine_drop_collection(aspd_engine_t *e, const char *db, const char *coll, bool *existed,
                                 aspd_error_t *err) {
  touched_t t = {0};
  aspd_engine_lock(e);
  for (size_t i = 0; i < aspd_memstore_size(e->memstore); i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (!is_coll(set, db, coll)) continue;
    aspd_dataset_remove(set, everything, NULL);
    set->gone = true;
    set->version++; /* an empty collection is dropped too */
    touch(&t, set);
  }
  pthread_mutex_unlock(&e->lock);
  *existed = t.count > 0;
  return wait_touched(e, &t, err);
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
    if (!set->db || set->gone || (db && strcmp(set->db, db))) continue;
    const char *name = db ? set->name : set->db;
    if (listed(names, name)) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    BSON_APPEND_UTF8(names, k, name);
  }
  pthread_mutex_unlock(&e->lock);
}
