#include "engine/sinks/memstore.h"

#include <stdatomic.h>
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
  free(set->replaced);
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

void aspd_memstore_each_doc(aspd_memstore_t *store, const char *db, const char *coll,
                            bool (*fn)(void *ctx, const bson_t *doc), void *ctx) {
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *s = store->sets[i];
    if (!s->db || s->gone || strcmp(s->db, db) || strcmp(s->name, coll)) continue;
    for (int64_t o = s->first_offset; o < aspd_dataset_end_offset(s); o++) {
      const bson_t *doc = aspd_dataset_at(s, o);
      if (!aspd_dataset_is_deleted(doc) && !fn(ctx, doc)) return;
    }
  }
}

static aspd_dataset_t *new_set(aspd_memstore_t *store, const char *connection, const char *db,
                               const char *name, int32_t partition) {
  aspd_dataset_t *s = calloc(1, sizeof *s);
  s->partition = partition;
  s->retain = store->retain;
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

/* One clock for every engine of the process, so that a version never repeats. */
static atomic_uint_fast64_t clock_now;

void aspd_dataset_touch(aspd_dataset_t *set) {
  set->version = atomic_fetch_add(&clock_now, 1) + 1;
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
  set->gone = false;
  aspd_dataset_touch(set);
}

const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset) {
  if (offset < set->first_offset || offset >= set->first_offset + (int64_t)set->count) return NULL;
  return set->docs[(set->head + (size_t)(offset - set->first_offset)) % set->cap];
}

static void note_replaced(aspd_dataset_t *set, int64_t offset) {
  if (set->replaced_count == set->replaced_cap) {
    set->replaced_cap = set->replaced_cap ? set->replaced_cap * 2 : 16;
    set->replaced = realloc(set->replaced, set->replaced_cap * sizeof *set->replaced);
  }
  set->replaced[set->replaced_count++] = offset;
}

static int by_offset(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The replaced offsets in [first, below) (plus `more` of them), ascending and each once,
 * into a new array; returns how many. */
static size_t replaced_below(const aspd_dataset_t *set, int64_t first, int64_t below,
                             const int64_t *more, size_t more_count, int64_t **out) {
  int64_t *all = malloc((set->replaced_count + more_count + 1) * sizeof *all);
  size_t n = 0;
  for (size_t i = 0; i < set->replaced_count + more_count; i++) {
    int64_t o = i < set->replaced_count ? set->replaced[i] : more[i - set->replaced_count];
    if (o >= first && o < below) all[n++] = o;
  }
  qsort(all, n, sizeof *all, by_offset);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k == 0 || all[k - 1] != all[i]) all[k++] = all[i];
  }
  *out = all;
  return k;
}

void aspd_dataset_replace(aspd_dataset_t *set, int64_t offset, const bson_t *doc) {
  size_t i = (set->head + (size_t)(offset - set->first_offset)) % set->cap;
  bson_destroy(set->docs[i]);
  set->docs[i] = bson_copy(doc);
  aspd_dataset_touch(set);
  /* Handed to the store already: hand it again (the store replaces it by offset). */
  note_replaced(set, offset);
}

/* The dataset as a commit will leave it: after[] holds its documents from its
 * current first offset on (fresh[i]: a document the caller gave), discard[] the
 * current ones that go. */
typedef struct {
  const bson_t **after;
  bool *fresh;
  size_t count;
  bson_t **discard;
  size_t discarded;
  int64_t first_removed; /* INT64_MAX: none */
} staged_t;

static void stage(aspd_dataset_t *set, const aspd_dataset_edit_t *edits, size_t n_edits,
                  const bson_t *const *appends, size_t n_appends, bool drop, staged_t *st) {
  size_t cap = set->count + n_appends + 1;
  st->after = malloc(cap * sizeof *st->after);
  st->fresh = malloc(cap * sizeof *st->fresh);
  st->discard = malloc((set->count + 1) * sizeof *st->discard);
  st->count = st->discarded = 0;
  st->first_removed = drop && set->count ? set->first_offset : INT64_MAX;
  size_t e = 0;
  for (size_t i = 0; i < set->count; i++) {
    bson_t *doc = set->docs[(set->head + i) % set->cap];
    int64_t offset = set->first_offset + (int64_t)i;
    const aspd_dataset_edit_t *edit = e < n_edits && edits[e].offset == offset ? &edits[e++] : NULL;
    if (drop || edit) st->discard[st->discarded++] = doc;
    if (drop) continue;
    if (edit && !edit->doc) {
      if (st->first_removed == INT64_MAX) st->first_removed = offset;
      continue;
    }
    st->fresh[st->count] = edit != NULL;
    st->after[st->count++] = edit ? edit->doc : doc;
  }
  for (size_t i = 0; i < n_appends && !drop; i++) {
    st->fresh[st->count] = true;
    st->after[st->count++] = appends[i];
  }
}

static void free_staged(staged_t *st) {
  free(st->after);
  free(st->fresh);
  free(st->discard);
}

/* One dataset's part of a commit: the staged result and the delta handed to the store. */
typedef struct {
  staged_t st;
  size_t front; /* the oldest that go past the retention limit */
  int64_t first, end;
  int64_t *at;
  const bson_t **replaced;
  aspd_store_delta_t delta;
} prepared_t;

static void prepare(const aspd_dataset_change_t *c, prepared_t *pr) {
  aspd_dataset_t *set = c->set;
  staged_t *st = &pr->st;
  stage(set, c->edits, c->n_edits, c->appends, c->n_appends, c->drop, st);
  /* Past the retention limit the oldest go, as for any sink. */
  pr->front = st->count > set->retain ? st->count - set->retain : 0;
  pr->first = set->first_offset + (int64_t)pr->front;
  pr->end = set->first_offset + (int64_t)st->count;
  /* Written in full from the first offset the store does not hold as it will be;
   * replacements below it are written one by one. */
  int64_t from = set->saved ? set->saved_end : set->first_offset;
  if (st->first_removed < from) from = st->first_removed;
  if (from < pr->first) from = pr->first;
  if (from > pr->end) from = pr->end;
  /* Below from nothing moves: after[] holds offset o at o - first_offset. */
  int64_t *edited = malloc((c->n_edits + 1) * sizeof *edited);
  size_t n_edited = 0;
  for (size_t i = 0; i < c->n_edits; i++) {
    if (c->edits[i].doc) edited[n_edited++] = c->edits[i].offset;
  }
  size_t n_replaced = c->drop ? 0 : replaced_below(set, pr->first, from, edited, n_edited, &pr->at);
  if (c->drop) pr->at = malloc(sizeof *pr->at);
  free(edited);
  pr->replaced = malloc((n_replaced + 1) * sizeof *pr->replaced);
  for (size_t i = 0; i < n_replaced; i++)
    pr->replaced[i] = st->after[pr->at[i] - set->first_offset];
  pr->delta = (aspd_store_delta_t){.connection = set->connection,
                                   .db = set->db,
                                   .name = set->name,
                                   .partition = set->partition,
                                   .first_offset = pr->first,
                                   .from = from,
                                   .end = pr->end,
                                   .docs = st->after + (from - set->first_offset),
                                   .dropped = c->drop,
                                   .replaced_at = pr->at,
                                   .replaced = pr->replaced,
                                   .replaced_count = n_replaced};
}

/* After the write: applies the staged result when it committed, and frees the parts. */
static void finish(const aspd_dataset_change_t *c, prepared_t *pr, bool ok) {
  aspd_dataset_t *set = c->set;
  staged_t *st = &pr->st;
  free(pr->at);
  free(pr->replaced);
  if (ok) {
    size_t kept = st->count - pr->front;
    bson_t **docs = malloc((kept ? kept : 1) * sizeof *docs);
    for (size_t i = 0; i < st->count; i++) {
      bool own = !st->fresh[i];
      if (i < pr->front) {
        if (own) bson_destroy((bson_t *)(uintptr_t)st->after[i]);
        continue;
      }
      docs[i - pr->front] = own ? (bson_t *)(uintptr_t)st->after[i] : bson_copy(st->after[i]);
    }
    for (size_t i = 0; i < st->discarded; i++) bson_destroy(st->discard[i]);
    free(set->docs);
    set->docs = docs;
    set->cap = kept;
    set->head = 0;
    set->count = kept;
    set->first_offset = pr->first;
    set->dropped += (int64_t)pr->front;
    set->saved = set->queued = true;
    set->saved_first = set->queued_first = pr->first;
    set->saved_end = set->queued_end = pr->end;
    set->replaced_count = 0;
    set->gone = c->drop;
    aspd_dataset_touch(set);
  }
  free_staged(st);
}

bool aspd_datasets_commit(const aspd_dataset_change_t *changes, size_t n, aspd_store_t *store,
                          char *err, size_t err_len) {
  prepared_t *pr = calloc(n ? n : 1, sizeof *pr);
  aspd_store_delta_t *deltas = calloc(n ? n : 1, sizeof *deltas);
  for (size_t i = 0; i < n; i++) {
    prepare(&changes[i], &pr[i]);
    deltas[i] = pr[i].delta;
  }
  bool ok = aspd_store_write_datasets(store, deltas, n, err, err_len);
  for (size_t i = 0; i < n; i++) finish(&changes[i], &pr[i], ok);
  free(deltas);
  free(pr);
  return ok;
}

bool aspd_dataset_commit(aspd_dataset_t *set, aspd_store_t *store, const aspd_dataset_edit_t *edits,
                         size_t n_edits, const bson_t *const *appends, size_t n_appends, bool drop,
                         char *err, size_t err_len) {
  aspd_dataset_change_t c = {set, edits, n_edits, appends, n_appends, drop};
  return aspd_datasets_commit(&c, 1, store, err, err_len);
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
         set->queued_end != aspd_dataset_end_offset(set) || set->replaced_count > 0;
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
    d->dropped = set->gone;
    /* Only the documents not handed over yet (all of them when that does not line up). */
    d->from =
        set->queued && set->queued_end >= set->first_offset ? set->queued_end : set->first_offset;
    if (d->from < set->first_offset) d->from = set->first_offset;
    /* Replacements below it, one by one. */
    int64_t *at;
    size_t n_rep = replaced_below(set, set->first_offset, d->from, NULL, 0, &at);
    bson_t **replaced = malloc((n_rep + 1) * sizeof *replaced);
    for (size_t j = 0; j < n_rep; j++) replaced[j] = bson_copy(aspd_dataset_at(set, at[j]));
    d->replaced_at = at;
    d->replaced = (const bson_t *const *)replaced;
    d->replaced_count = n_rep;
    set->replaced_count = 0;
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
      for (size_t j = 0; j < c->deltas[i].replaced_count; j++) {
        note_replaced(set, c->deltas[i].replaced_at[j]);
      }
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
    for (size_t j = 0; j < d->replaced_count; j++) {
      bson_destroy((bson_t *)(uintptr_t)d->replaced[j]);
    }
    free((void *)(uintptr_t)d->replaced);
    free((void *)(uintptr_t)d->replaced_at);
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
    aspd_dataset_touch(set);
    set->queued = false; /* all of it goes to the store again */
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
