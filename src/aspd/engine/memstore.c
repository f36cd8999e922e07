#include "engine/memstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"

/* Documents per chunk of a dataset's encoding: documents never change once
 * appended, so a chunk is encoded again only while it fills up or empties. */
#define CHUNK_DOCS 1024

/* The encodings of the documents at offsets [start, start + count), comma-separated. */
struct aspd_dataset_chunk {
  int64_t start;
  size_t count;
  char *json;
  size_t len;
};

struct aspd_memstore {
  aspd_dataset_t **sets;
  size_t count, cap;
};

/* A dataset to encode again: its documents at snapshot time. */
typedef struct {
  aspd_dataset_t *set;
  bson_t **docs;
  size_t count;
  int64_t first_offset;
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

int64_t aspd_dataset_end_offset(const aspd_dataset_t *set) {
  return set->first_offset + (int64_t)set->count;
}

aspd_memstore_snapshot_t *aspd_memstore_snapshot(aspd_memstore_t *store, bool force) {
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
    p->count = set->count;
    p->first_offset = set->first_offset;
    p->docs = malloc((set->count ? set->count : 1) * sizeof *p->docs);
    for (size_t k = 0; k < set->count; k++) p->docs[k] = set->docs[(set->head + k) % set->cap];
    set->changed = false;
  }
  return snap;
}

static bool encode_docs(bson_t *const *docs, struct aspd_dataset_chunk *chunk) {
  size_t cap = 4096;
  chunk->json = malloc(cap);
  chunk->len = 0;
  for (size_t i = 0; i < chunk->count; i++) {
    size_t len;
    char *json = bson_as_canonical_extended_json(docs[i], &len);
    if (!json) return false;
    if (chunk->len + len + 2 > cap) {
      while (chunk->len + len + 2 > cap) cap *= 2;
      chunk->json = realloc(chunk->json, cap);
    }
    if (i > 0) {
      memcpy(chunk->json + chunk->len, ", ", 2);
      chunk->len += 2;
    }
    memcpy(chunk->json + chunk->len, json, len);
    chunk->len += len;
    bson_free(json);
  }
  return true;
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

/* Encodes the dataset again, keeping the chunks that are still whole and unchanged. */
static bool encode_set(const pending_t *p) {
  aspd_dataset_t *set = p->set;
  bool ok = encode_head(p);
  int64_t end = p->first_offset + (int64_t)p->count;
  struct aspd_dataset_chunk *chunks = calloc(p->count / CHUNK_DOCS + 2, sizeof *chunks);
  size_t n = 0, old = 0;
  for (int64_t start = p->first_offset; ok && start < end; n++) {
    int64_t stop = (start / CHUNK_DOCS + 1) * CHUNK_DOCS;
    if (stop > end) stop = end;
    struct aspd_dataset_chunk *c = &chunks[n];
    c->start = start;
    c->count = (size_t)(stop - start);
    while (old < set->chunk_count && set->chunks[old].start < start) old++;
    if (old < set->chunk_count && set->chunks[old].start == start &&
        set->chunks[old].count == c->count) {
      *c = set->chunks[old];
      set->chunks[old].json = NULL; /* moved */
    } else {
      ok = encode_docs(p->docs + (start - p->first_offset), c);
    }
    start = stop;
  }
  for (size_t i = 0; i < set->chunk_count; i++) free(set->chunks[i].json);
  free(set->chunks);
  set->chunks = chunks;
  set->chunk_count = n;
  set->encoded = ok;
  return ok;
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
      if (k > 0) pieces[n++] = text(", ");
      pieces[n++] = (struct iovec){.iov_base = set->chunks[k].json, .iov_len = set->chunks[k].len};
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
  if (!ok) return false;
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
  for (size_t i = 0; i < snap->pending_count; i++) free(snap->pending[i].docs);
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
