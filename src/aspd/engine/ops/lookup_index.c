#include "engine/ops/lookup_index.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/expr/values.h"

/* Lookups an index must answer to pay for its build; the most stable lookups a build
 * may wait for. */
#define BUILD_COST 4
#define MAX_NEEDED 1024

/* The documents under one key, as ordinals into docs[], ascending. */
typedef struct {
  uint64_t hash;
  uint32_t *ords;
  uint32_t count, cap;
} posting_t;

struct aspd_lookup_index {
  char *db, *coll;
  char **path;
  size_t path_len;
  bool usable; /* false: a path with an array index, which the query reads both ways */
  /* The datasets of db.coll, as found when the memstore held ms_size of them. */
  aspd_memstore_t *ms;
  size_t ms_size;
  aspd_dataset_t **sets;
  size_t n_sets;
  uint64_t seen;   /* the collection's version at the previous lookup */
  uint32_t stable; /* lookups since that found it at that version */
  /* Stable lookups it takes to build: doubled each time an index went stale having
   * served fewer lookups than a build costs (about a few scans), so a collection
   * written between every few documents is scanned rather than indexed in vain. */
  uint32_t needed;
  bool built;
  uint64_t built_version;
  uint64_t served;     /* lookups the current index answered */
  const bson_t **docs; /* collection order; they belong to the datasets */
  size_t n_docs, docs_cap;
  posting_t *keys;
  size_t n_keys, keys_cap;
  uint32_t *slots; /* open addressing: 1 + index into keys, 0 empty */
  size_t slot_cap;
  uint32_t *merged; /* the candidates of several values */
  size_t merged_cap;
};

static bool is_index(const char *s) {
  if (!*s) return false;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p)) return false;
  }
  return true;
}

aspd_lookup_index_t *aspd_lookup_index_new(const char *db, const char *coll, const char *path) {
  aspd_lookup_index_t *ix = calloc(1, sizeof *ix);
  ix->db = strdup(db);
  ix->coll = strdup(coll);
  ix->usable = true;
  ix->needed = 1;
  /* Split as the query language splits a path. */
  for (const char *p = path; *p;) {
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    ix->path = realloc(ix->path, (ix->path_len + 1) * sizeof *ix->path);
    ix->path[ix->path_len] = strndup(p, len);
    if (is_index(ix->path[ix->path_len])) ix->usable = false;
    ix->path_len++;
    p += len + (dot ? 1 : 0);
  }
  return ix;
}

static void clear(aspd_lookup_index_t *ix) {
  for (size_t i = 0; i < ix->n_keys; i++) free(ix->keys[i].ords);
  free(ix->keys);
  free(ix->slots);
  free(ix->docs);
  ix->keys = NULL;
  ix->slots = NULL;
  ix->docs = NULL;
  ix->n_keys = ix->keys_cap = ix->slot_cap = ix->n_docs = ix->docs_cap = 0;
  ix->built = false;
}

void aspd_lookup_index_free(aspd_lookup_index_t *ix) {
  if (!ix) return;
  clear(ix);
  for (size_t i = 0; i < ix->path_len; i++) free(ix->path[i]);
  free(ix->path);
  free(ix->sets);
  free(ix->merged);
  free(ix->db);
  free(ix->coll);
  free(ix);
}

int64_t aspd_lookup_index_bytes(const aspd_lookup_index_t *ix) {
  size_t n = ix->docs_cap * sizeof *ix->docs + ix->keys_cap * sizeof *ix->keys +
             ix->slot_cap * sizeof *ix->slots + ix->merged_cap * sizeof *ix->merged;
  for (size_t i = 0; i < ix->n_keys; i++) n += ix->keys[i].cap * sizeof *ix->keys[i].ords;
  return (int64_t)n;
}

/* The key of a value: null, undefined and missing share one, as `{f: null}` matches
 * all three; otherwise values that compare equal share one. */
static uint64_t key_of(const bson_value_t *v) {
  static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  return aspd_value_hash(aspd_value_is_nullish(v) ? &null_value : v);
}

static posting_t *find_key(const aspd_lookup_index_t *ix, uint64_t h) {
  if (!ix->slot_cap) return NULL;
  for (size_t s = h & (ix->slot_cap - 1); ix->slots[s]; s = (s + 1) & (ix->slot_cap - 1)) {
    if (ix->keys[ix->slots[s] - 1].hash == h) return &ix->keys[ix->slots[s] - 1];
  }
  return NULL;
}

static void rehash(aspd_lookup_index_t *ix) {
  free(ix->slots);
  ix->slot_cap = ix->slot_cap ? ix->slot_cap * 2 : 256;
  ix->slots = calloc(ix->slot_cap, sizeof *ix->slots);
  for (size_t i = 0; i < ix->n_keys; i++) {
    size_t s = ix->keys[i].hash & (ix->slot_cap - 1);
    while (ix->slots[s]) s = (s + 1) & (ix->slot_cap - 1);
    ix->slots[s] = (uint32_t)i + 1;
  }
}

static void add_key(aspd_lookup_index_t *ix, const bson_value_t *v, uint32_t ord) {
  uint64_t h = key_of(v);
  posting_t *p = find_key(ix, h);
  if (!p) {
    if (2 * (ix->n_keys + 1) > ix->slot_cap) rehash(ix);
    if (ix->n_keys == ix->keys_cap) {
      ix->keys_cap = ix->keys_cap ? ix->keys_cap * 2 : 64;
      ix->keys = realloc(ix->keys, ix->keys_cap * sizeof *ix->keys);
    }
    p = &ix->keys[ix->n_keys++];
    *p = (posting_t){.hash = h};
    size_t s = h & (ix->slot_cap - 1);
    while (ix->slots[s]) s = (s + 1) & (ix->slot_cap - 1);
    ix->slots[s] = (uint32_t)ix->n_keys;
  }
  if (p->count && p->ords[p->count - 1] == ord) return; /* this document is there already */
  if (p->count == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 2;
    p->ords = realloc(p->ords, p->cap * sizeof *p->ords);
  }
  p->ords[p->count++] = ord;
}

/* Every value the query language compares at path[i..] below v, as it walks it: the
 * value at the end and, when that is an array, each element; missing where a
 * document lacks the field or the walk meets a scalar; into each document of an
 * array on the way. */
static void add_keys(aspd_lookup_index_t *ix, const bson_value_t *v, size_t i, uint32_t ord) {
  const bson_value_t missing = {.value_type = BSON_TYPE_EOD};
  if (i == ix->path_len) {
    add_key(ix, v, ord);
    if (v->value_type == BSON_TYPE_ARRAY) {
      bson_iter_t it;
      bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
      while (bson_iter_next(&it)) add_key(ix, bson_iter_value(&it), ord);
    }
    return;
  }
  if (v->value_type == BSON_TYPE_DOCUMENT) {
    bson_value_t field;
    if (!aspd_raw_get(v, ix->path[i], strlen(ix->path[i]), &field)) {
      add_key(ix, &missing, ord);
      return;
    }
    add_keys(ix, &field, i + 1, ord);
    return;
  }
  if (v->value_type != BSON_TYPE_ARRAY) {
    add_key(ix, &missing, ord);
    return;
  }
  bson_iter_t it;
  bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const bson_value_t *el = bson_iter_value(&it);
    if (el->value_type == BSON_TYPE_DOCUMENT) add_keys(ix, el, i, ord);
  }
}

static void build(aspd_lookup_index_t *ix, uint64_t version) {
  clear(ix);
  for (size_t k = 0; k < ix->n_sets; k++) {
    const aspd_dataset_t *set = ix->sets[k];
    if (set->gone) continue;
    for (int64_t o = set->first_offset; o < aspd_dataset_end_offset(set); o++) {
      const bson_t *doc = aspd_dataset_at(set, o);
      if (aspd_dataset_is_deleted(doc)) continue;
      if (ix->n_docs == ix->docs_cap) {
        ix->docs_cap = ix->docs_cap ? ix->docs_cap * 2 : 64;
        ix->docs = realloc(ix->docs, ix->docs_cap * sizeof *ix->docs);
      }
      uint32_t ord = (uint32_t)ix->n_docs;
      ix->docs[ix->n_docs++] = doc;
      bson_value_t whole = {.value_type = BSON_TYPE_DOCUMENT};
      whole.value.v_doc.data = aspd_bytes(bson_get_data(doc));
      whole.value.v_doc.data_len = doc->len;
      add_keys(ix, &whole, 0, ord);
    }
  }
  ix->built = true;
  ix->built_version = version;
}

/* The collection's datasets (found again when the memstore has new ones) and their
 * latest version: every change stamps a version above all earlier ones, so the
 * greatest moves whenever any of them changes. */
static uint64_t version_of(aspd_lookup_index_t *ix, aspd_memstore_t *ms) {
  if (ix->ms != ms || ix->ms_size != aspd_memstore_size(ms)) {
    ix->ms = ms;
    ix->ms_size = aspd_memstore_size(ms);
    ix->n_sets = 0;
    for (size_t i = 0; i < ix->ms_size; i++) {
      aspd_dataset_t *set = aspd_memstore_get(ms, i);
      if (!set->db || strcmp(set->db, ix->db) || strcmp(set->name, ix->coll)) continue;
      ix->sets = realloc(ix->sets, (ix->n_sets + 1) * sizeof *ix->sets);
      ix->sets[ix->n_sets++] = set;
    }
    clear(ix); /* built over other datasets */
  }
  uint64_t v = 0;
  for (size_t k = 0; k < ix->n_sets; k++) {
    if (ix->sets[k]->version > v) v = ix->sets[k]->version;
  }
  return v;
}

static int by_ord(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

bool aspd_lookup_index_each(aspd_lookup_index_t *ix, aspd_memstore_t *ms, const bson_t *values,
                            bool (*fn)(void *ctx, const bson_t *doc), void *ctx) {
  if (!ix->usable) return false;
  bson_iter_t it;
  size_t n_values = 0;
  bson_iter_init(&it, values);
  while (bson_iter_next(&it)) {
    if (BSON_ITER_HOLDS_REGEX(&it)) return false; /* matched as a pattern by $in */
    n_values++;
  }
  uint64_t version = version_of(ix, ms);
  if (ix->built && ix->built_version != version) {
    ix->needed =
        ix->served < BUILD_COST ? (ix->needed < MAX_NEEDED ? ix->needed * 2 : MAX_NEEDED) : 1;
    clear(ix); /* stale: its documents may be gone */
  }
  if (!ix->built) {
    if (ix->seen != version) {
      ix->seen = version;
      ix->stable = 0;
      return false;
    }
    if (++ix->stable < ix->needed) return false;
    build(ix, version);
    ix->served = 0;
  }
  ix->served++;
  const uint32_t *ords = NULL;
  size_t n = 0;
  bson_iter_init(&it, values);
  if (n_values == 1) {
    bson_iter_next(&it);
    const posting_t *p = find_key(ix, key_of(bson_iter_value(&it)));
    if (p) {
      ords = p->ords;
      n = p->count;
    }
  } else {
    while (bson_iter_next(&it)) {
      const posting_t *p = find_key(ix, key_of(bson_iter_value(&it)));
      if (!p) continue;
      if (n + p->count > ix->merged_cap) {
        ix->merged_cap = (n + p->count) * 2;
        ix->merged = realloc(ix->merged, ix->merged_cap * sizeof *ix->merged);
      }
      memcpy(ix->merged + n, p->ords, p->count * sizeof *p->ords);
      n += p->count;
    }
    qsort(ix->merged, n, sizeof *ix->merged, by_ord);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (k == 0 || ix->merged[k - 1] != ix->merged[i]) ix->merged[k++] = ix->merged[i];
    }
    n = k;
    ords = ix->merged;
  }
  for (size_t i = 0; i < n; i++) {
    if (!fn(ctx, ix->docs[ords[i]])) break;
  }
  return true;
}
