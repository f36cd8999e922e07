#include "engine/sinks/memstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"

/* Documents per chunk of a dataset's encoding. Documents never change once
 * appended: each one is encoded once, when it is first persisted. */
#define CHUNK_DOCS 1024

/* The encodings of the documents at offsets [start, start + count), all in
 * one chunk of CHUNK_DOCS aligned offsets, separated by ", ". */
struct aspd_dataset_chunk {
  int64_t start;
  size_t count;
  char *json;
  size_t len, cap;
  size_t ends[CHUNK_DOCS]; /* where each document's encoding ends in json */
};

struct aspd_memstore {
  aspd_dataset_t **sets;
  size_t count, cap;
};

/* A dataset to encode: its range at snapshot time and the documents its
 * encoding does not hold yet, [from, end). */
typedef struct {
  aspd_dataset_t *set;
  int64_t first_offset, from, end;
  const bson_t **docs;
} pending_t;

struct aspd_memstore_snapshot {
  aspd_dataset_t **sets; /* every dataset, in store order */
  size_t count;
  pending_t *pending;
  size_t pending_count;
  struct iovec *pieces;
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
  bson_free(set->head_json);
  for (size_t i = 0; i < set->chunk_count; i++) free(set->chunks[i].json);
  free(set->chunks);
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
  s->changed = true; /* a new empty topic is persisted too */
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

void aspd_dataset_append(aspd_dataset_t *set, const bson_t *doc) {
  if (set->count == set->cap && set->cap < ASPD_MEMSTORE_RETAIN) grow(set);
  if (set->count == set->cap) { /* full at the retention limit: drop the oldest */
    bson_destroy(set->docs[set->head]);
    set->head = (set->head + 1) % set->cap;
    set->count--;
    set->first_offset++;
  }
  set->docs[(set->head + set->count) % set->cap] = bson_copy(doc);
  set->count++;
  set->changed = true;
}

const bson_t *aspd_dataset_at(const aspd_dataset_t *set, int64_t offset) {
  if (offset < set->first_offset || offset >= set->first_offset + (int64_t)set->count) return NULL;
  return set->docs[(set->head + (size_t)(offset - set->first_offset)) % set->cap];
}

void aspd_dataset_replace(aspd_dataset_t *set, int64_t offset, const bson_t *doc) {
  size_t i = (set->head + (size_t)(offset - set->first_offset)) % set->cap;
  bson_destroy(set->docs[i]);
  set->docs[i] = bson_copy(doc);
  set->changed = true;
  /* Its encoding holds the old document: the next write encodes the dataset afresh. */
  set->encoded = false;
}

int64_t aspd_dataset_end_offset(const aspd_dataset_t *set) {
  return set->first_offset + (int64_t)set->count;
}

aspd_memstore_snapshot_t *aspd_memstore_snapshot(aspd_memstore_t *store, bool force,
                                                 bool for_write) {
  bool changed = force;
  for (size_t i = 0; i < store->count && !changed; i++) changed = store->sets[i]->changed;
  if (!changed) return NULL;
  aspd_memstore_snapshot_t *snap = calloc(1, sizeof *snap);
  snap->count = store->count;
  snap->sets = malloc((store->count ? store->count : 1) * sizeof *snap->sets);
  snap->pending = calloc(store->count ? store->count : 1, sizeof *snap->pending);
  for (size_t i = 0; i < store->count; i++) {
    aspd_dataset_t *set = store->sets[i];
    snap->sets[i] = set;
    if (!set->changed && set->encoded) continue;
    pending_t *p = &snap->pending[snap->pending_count++];
    p->set = set;
    p->first_offset = set->first_offset;
    p->end = aspd_dataset_end_offset(set);
    /* Only the documents the encoding lacks (all of them when it does not line up). */
    bool extends = set->encoded && set->enc_end >= set->first_offset;
    p->from = extends ? set->enc_end : set->first_offset;
    size_t n = (size_t)(p->end - p->from);
    p->docs = malloc((n ? n : 1) * sizeof *p->docs);
    for (size_t k = 0; k < n; k++) p->docs[k] = aspd_dataset_at(set, p->from + (int64_t)k);
    if (for_write) set->changed = false;
  }
  return snap;
}

/* The fields before the documents: {connection, db, coll or topic, firstOffset, "docs": [ */
static bool encode_head(const pending_t *p) {
  aspd_dataset_t *set = p->set;
  bson_t head = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&head, "connection", set->connection);
  if (set->db) {
    BSON_APPEND_UTF8(&head, "db", set->db);
    BSON_APPEND_UTF8(&head, "coll", set->name);
  } else {
    BSON_APPEND_UTF8(&head, "topic", set->name);
    BSON_APPEND_INT64(&head, "firstOffset", p->first_offset);
  }
  char *json = bson_as_canonical_extended_json(&head, NULL);
  bson_destroy(&head);
  char *brace = json ? strrchr(json, '}') : NULL;
  if (!brace) {
    bson_free(json);
    return false;
  }
  *brace = '\0'; /* the object goes on with the documents */
  bson_free(set->head_json);
  set->head_json = bson_strdup_printf("%s, \"docs\" : [ ", json);
  set->head_len = strlen(set->head_json);
  bson_free(json);
  return true;
}

static void drop_chunks(aspd_dataset_t *set, size_t n) {
  if (n == 0) return;
  for (size_t i = 0; i < n; i++) free(set->chunks[i].json);
  memmove(set->chunks, set->chunks + n, (set->chunk_count - n) * sizeof *set->chunks);
  set->chunk_count -= n;
}

static bool append_doc(aspd_dataset_t *set, int64_t offset, const bson_t *doc) {
  struct aspd_dataset_chunk *c = set->chunk_count ? &set->chunks[set->chunk_count - 1] : NULL;
  if (!c || c->start / CHUNK_DOCS != offset / CHUNK_DOCS) {
    if (set->chunk_count == set->chunk_cap) {
      set->chunk_cap = set->chunk_cap ? set->chunk_cap * 2 : 4;
      set->chunks = realloc(set->chunks, set->chunk_cap * sizeof *set->chunks);
    }
    c = &set->chunks[set->chunk_count++];
    c->start = offset;
    c->count = 0;
    c->len = 0;
    c->cap = 64 * 1024;
    c->json = malloc(c->cap);
  }
  size_t len;
  char *json = bson_as_canonical_extended_json(doc, &len);
  if (!json) return false;
  if (c->len + len + 2 > c->cap) {
    while (c->len + len + 2 > c->cap) c->cap *= 2;
    c->json = realloc(c->json, c->cap);
  }
  if (c->count > 0) {
    memcpy(c->json + c->len, ", ", 2);
    c->len += 2;
  }
  memcpy(c->json + c->len, json, len);
  c->len += len;
  c->ends[c->count++] = c->len;
  bson_free(json);
  return true;
}

/* Brings the dataset's encoding to its snapshot range: drops the chunks that
 * fell out of it and encodes the new documents. */
static bool encode_set(const pending_t *p) {
  aspd_dataset_t *set = p->set;
  if (!set->encoded || set->enc_end != p->from) drop_chunks(set, set->chunk_count);
  size_t gone = 0;
  while (gone < set->chunk_count &&
         set->chunks[gone].start + (int64_t)set->chunks[gone].count <= p->first_offset) {
    gone++;
  }
  drop_chunks(set, gone);
  set->encoded = false;
  bool ok = encode_head(p);
  for (int64_t o = p->from; ok && o < p->end; o++) ok = append_doc(set, o, p->docs[o - p->from]);
  if (!ok) {
    drop_chunks(set, set->chunk_count);
    return false;
  }
  set->enc_first = p->first_offset;
  set->enc_end = p->end;
  set->encoded = true;
  return true;
}

static struct iovec text(const char *s) {
  return (struct iovec){.iov_base = (void *)(uintptr_t)s, .iov_len = strlen(s)};
}

/* Appends the encodings of the collections (or topics) to pieces, comma-separated. */
static size_t add_list(const aspd_memstore_snapshot_t *snap, bool topics, struct iovec *pieces,
                       size_t n) {
  bool first = true;
  for (size_t i = 0; i < snap->count; i++) {
    const aspd_dataset_t *set = snap->sets[i];
    if ((set->db == NULL) != topics) continue;
    if (!first) pieces[n++] = text(", ");
    pieces[n++] = (struct iovec){.iov_base = set->head_json, .iov_len = set->head_len};
    for (size_t k = 0; k < set->chunk_count; k++) {
      const struct aspd_dataset_chunk *c = &set->chunks[k];
      /* The first chunk may begin before the dataset does now. */
      size_t skip = set->enc_first > c->start ? (size_t)(set->enc_first - c->start) : 0;
      size_t begin = skip ? c->ends[skip - 1] + 2 : 0;
      if (k > 0) pieces[n++] = text(", ");
      pieces[n++] = (struct iovec){.iov_base = c->json + begin, .iov_len = c->len - begin};
    }
    pieces[n++] = text(" ] }");
    first = false;
  }
  return n;
}

bool aspd_memstore_encode(aspd_memstore_snapshot_t *snap, const struct iovec **pieces,
                          size_t *count) {
  bool ok = true;
  for (size_t i = 0; i < snap->pending_count && ok; i++) ok = encode_set(&snap->pending[i]);
  if (!ok || !pieces) return ok;
  /* Per dataset: a separator, its head, its chunks with separators, its end; four around. */
  size_t max = 4;
  for (size_t i = 0; i < snap->count; i++) max += 3 + 2 * snap->sets[i]->chunk_count;
  snap->pieces = malloc(max * sizeof *snap->pieces);
  size_t n = 0;
  snap->pieces[n++] = text("{\"collections\": [");
  n = add_list(snap, false, snap->pieces, n);
  snap->pieces[n++] = text("], \"topics\": [");
  n = add_list(snap, true, snap->pieces, n);
  snap->pieces[n++] = text("]}");
  *pieces = snap->pieces;
  *count = n;
  return true;
}

void aspd_memstore_snapshot_free(aspd_memstore_snapshot_t *snap) {
  if (!snap) return;
  for (size_t i = 0; i < snap->pending_count; i++) free((void *)snap->pending[i].docs);
  free(snap->pending);
  free(snap->sets);
  free(snap->pieces);
  free(snap);
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
      aspd_dataset_append(set, &doc);
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
  /* The file holds them already: rewritten (and encoded) only once something changes. */
  for (size_t i = 0; i < store->count; i++) store->sets[i]->changed = false;
  return ok;
}
