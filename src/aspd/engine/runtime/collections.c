/* What processors wrote, read and seeded through the ordinary MongoDB
 * commands: the collections of every Cluster connection, by database and
 * name. Queries are the engine's compiled MQL (the same as $match). */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/query.h"
#include "engine/runtime/engine_internal.h"
#include "engine/sinks/changes.h"

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

/* The engine lock with no flusher batch in flight: the commands that write
 * collections commit their dataset's change themselves before applying it, and no
 * batch can start meanwhile (the engine thread hands batches over under this lock). */
static void lock_for_commit(aspd_engine_t *e) {
  for (;;) {
    aspd_engine_lock(e);
    pthread_mutex_lock(&e->flusher.lock);
    bool idle = !e->flusher.batch;
    if (idle) {
      pthread_mutex_unlock(&e->flusher.lock);
      return;
    }
    pthread_mutex_unlock(&e->lock);
    while (e->flusher.batch) pthread_cond_wait(&e->flusher.idle, &e->flusher.lock);
    pthread_mutex_unlock(&e->flusher.lock);
  }
}

/* The change events of one write, for the change log of the collection's connection
 * when a change stream made one: they commit in the write's own transaction. */
typedef struct {
  aspd_dataset_t *log; /* NULL: no change stream reads this connection */
  bson_t **items;
  size_t count;
} events_t;

static void events_add(events_t *ev, const aspd_dataset_t *set, aspd_change_op_t op,
                       const bson_t *before, const bson_t *after) {
  if (!ev->log) return;
  ev->items = realloc(ev->items, (ev->count + 1) * sizeof *ev->items);
  ev->items[ev->count++] = aspd_change_event(set, op, before, after);
}

static void events_free(events_t *ev) {
  for (size_t i = 0; i < ev->count; i++) bson_destroy(ev->items[i]);
  free(ev->items);
}

/* Commits a collection's change with its events; false (why set) when nothing changed. */
static bool commit_with_events(aspd_engine_t *e, const aspd_dataset_change_t *write,
                               const events_t *ev, char *why, size_t why_len) {
  aspd_dataset_change_t both[2] = {
      *write,
      {.set = ev->log, .appends = (const bson_t *const *)ev->items, .n_appends = ev->count}};
  return aspd_datasets_commit(both, ev->count ? 2 : 1, e->store, why, why_len);
}

static bool commit_failed(aspd_error_t *err, const char *why) {
  aspd_error_set(err, ASPD_E_INTERNAL, "%s; nothing was changed", why);
  return false;
}

bool aspd_engine_insert(aspd_engine_t *e, const char *connection, const char *db, const char *coll,
                        const bson_t *const *docs, size_t count, aspd_error_t *err) {
  lock_for_commit(e);
  aspd_dataset_t *set = NULL;
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && !set; i++) {
    aspd_dataset_t *s = aspd_memstore_get(e->memstore, i);
    if (is_coll(s, db, coll)) set = s;
  }
  bool created = !set;
  if (!set) set = aspd_memstore_dataset(e->memstore, connection, db, coll);
  char why[512];
  events_t ev = {aspd_changes_log_of(e->memstore, set), NULL, 0};
  for (size_t i = 0; i < count; i++) events_add(&ev, set, ASPD_CHANGE_INSERT, NULL, docs[i]);
  aspd_dataset_change_t write = {.set = set, .appends = docs, .n_appends = count};
  bool ok = commit_with_events(e, &write, &ev, why, sizeof why);
  events_free(&ev);
  /* A collection this insert made does not exist when the insert failed. */
  if (!ok && created) {
    set->gone = true;
    aspd_dataset_touch(set);
  }
  pthread_mutex_unlock(&e->lock);
  return ok || commit_failed(err, why);
}

/* The changes an edit made to one dataset, by ascending offset (docs owned). */
typedef struct {
  aspd_dataset_edit_t *items;
  size_t count;
} edits_t;

static void add_edit(edits_t *t, int64_t offset, bson_t *doc) {
  t->items = realloc(t->items, (t->count + 1) * sizeof *t->items);
  t->items[t->count++] = (aspd_dataset_edit_t){offset, doc};
}

static void free_edits(edits_t *t) {
  for (size_t i = 0; i < t->count; i++) bson_destroy((bson_t *)(uintptr_t)t->items[i].doc);
  free(t->items);
}

/* Edits the matching documents of one dataset and commits what changed; false when an
 * edit or the commit failed (a failed commit changed nothing of this dataset). */
static bool edit_set(aspd_engine_t *e, aspd_dataset_t *set, const aspd_query_t *q, int64_t limit,
                     aspd_edit_fn edit, void *ctx, int64_t *matched, int64_t *changed,
                     aspd_error_t *err) {
  edits_t edits = {0};
  events_t ev = {aspd_changes_log_of(e->memstore, set), NULL, 0};
  bool ok = true;
  for (int64_t o = set->first_offset; o < aspd_dataset_end_offset(set) && ok; o++) {
    if (limit > 0 && *matched >= limit) break;
    const bson_t *doc = aspd_dataset_at(set, o);
    if (aspd_dataset_is_deleted(doc) || (q && !aspd_query_matches(q, doc, NULL))) continue;
    ++*matched;
    bson_t replacement = BSON_INITIALIZER;
    aspd_edit_t edit_kind = edit(ctx, doc, &replacement, err);
    switch (edit_kind) {
      case ASPD_EDIT_REPLACE:
      case ASPD_EDIT_UPDATE:
        add_edit(&edits, o, bson_copy(&replacement));
        events_add(&ev, set,
                   edit_kind == ASPD_EDIT_UPDATE ? ASPD_CHANGE_UPDATE : ASPD_CHANGE_REPLACE, doc,
                   &replacement);
        break;
      case ASPD_EDIT_DELETE:
        add_edit(&edits, o, NULL);
        events_add(&ev, set, ASPD_CHANGE_DELETE, doc, NULL);
        break;
      case ASPD_EDIT_FAIL:
        ok = false;
        break;
      case ASPD_EDIT_KEEP:
        break;
    }
    bson_destroy(&replacement);
  }
  /* What came before a failed edit stays, as in mongod without a transaction. */
  char why[512];
  aspd_dataset_change_t write = {.set = set, .edits = edits.items, .n_edits = edits.count};
  if (edits.count && !commit_with_events(e, &write, &ev, why, sizeof why)) {
    if (ok) commit_failed(err, why);
    ok = false;
  } else {
    *changed += (int64_t)edits.count;
  }
  free_edits(&edits);
  events_free(&ev);
  return ok;
}

bool aspd_engine_edit(aspd_engine_t *e, const char *db, const char *coll, const bson_t *filter,
                      int64_t limit, aspd_edit_fn edit, void *ctx, int64_t *matched,
                      int64_t *changed, aspd_error_t *err) {
  *matched = *changed = 0;
  aspd_query_t *q = filter ? aspd_query_compile(filter, NULL, err) : NULL;
  if (filter && !q) return false;
  bool ok = true;
  lock_for_commit(e);
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && ok; i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (is_coll(set, db, coll)) ok = edit_set(e, set, q, limit, edit, ctx, matched, changed, err);
  }
  pthread_mutex_unlock(&e->lock);
  aspd_query_free(q);
  return ok;
}

bool aspd_engine_drop_collection(aspd_engine_t *e, const char *db, const char *coll, bool *existed,
                                 aspd_error_t *err) {
  bool ok = true;
  char why[512];
  *existed = false;
  lock_for_commit(e);
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && ok; i++) {
    aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (!is_coll(set, db, coll)) continue;
    *existed = true;
    ok = aspd_dataset_commit(set, e->store, NULL, 0, NULL, 0, true, why, sizeof why);
  }
  pthread_mutex_unlock(&e->lock);
  return ok || commit_failed(err, why);
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
