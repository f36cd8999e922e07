#include "project/records.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/state_file.h"

struct aspd_records {
  pthread_mutex_t lock;
  aspd_store_t *store;
  char *kind;
  bson_t **items;
  size_t count;
};

static const char *id_of(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)
             ? bson_iter_utf8(&it, NULL)
             : "";
}

static void append(aspd_records_t *r, const bson_t *doc) {
  r->items = realloc(r->items, (r->count + 1) * sizeof *r->items);
  r->items[r->count++] = bson_copy(doc);
}

static bool load_record(void *ctx, const char *name, const bson_t *doc, char *err, size_t err_len) {
  (void)name;
  (void)err;
  (void)err_len;
  append(ctx, doc);
  return true;
}

/* The records of an earlier version's file, committed in one transaction. */
static bool import_legacy(aspd_records_t *r, const char *state_dir, const char *file, char *err,
                          size_t err_len) {
  bson_t *saved = NULL;
  if (!aspd_state_file_load(state_dir, file, &saved, err, err_len)) return false;
  bson_iter_t it, list;
  if (saved && bson_iter_init_find(&it, saved, "records") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&list, &len, &data);
      bson_t doc;
      bson_init_static(&doc, data, len);
      append(r, &doc);
    }
  }
  bson_destroy(saved);
  const char **names = calloc(r->count + 1, sizeof *names);
  for (size_t i = 0; i < r->count; i++) names[i] = id_of(r->items[i]);
  bool ok = aspd_store_put_all(r->store, r->kind, names, (const bson_t *const *)r->items, r->count,
                               err, err_len) &&
            aspd_store_mark_imported(r->store, r->kind, err, err_len);
  free(names);
  return ok;
}

aspd_records_t *aspd_records_open(aspd_store_t *store, const char *kind, const char *state_dir,
                                  const char *legacy_file, char *err, size_t err_len) {
  aspd_records_t *r = calloc(1, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  r->store = store;
  r->kind = strdup(kind);
  bool ok = aspd_store_imported(store, kind)
                ? aspd_store_each(store, kind, load_record, r, err, err_len)
                : import_legacy(r, state_dir, legacy_file, err, err_len);
  if (!ok) {
    aspd_records_free(r);
    return NULL;
  }
  return r;
}

void aspd_records_free(aspd_records_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->count; i++) bson_destroy(r->items[i]);
  free(r->items);
  free(r->kind);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static long find(const aspd_records_t *r, const char *id) {
  for (size_t i = 0; i < r->count; i++) {
    if (!strcmp(id_of(r->items[i]), id)) return (long)i;
  }
  return -1;
}

bson_t *aspd_records_get(aspd_records_t *r, const char *id) {
  pthread_mutex_lock(&r->lock);
  long i = find(r, id);
  bson_t *copy = i >= 0 ? bson_copy(r->items[i]) : NULL;
  pthread_mutex_unlock(&r->lock);
  return copy;
}

size_t aspd_records_page(aspd_records_t *r, const char *key, const char *value, size_t skip,
                         size_t limit, bson_t *out) {
  size_t total = 0;
  uint32_t n = 0;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; i < r->count; i++) {
    bson_iter_t it;
    if (key && !(bson_iter_init_find(&it, r->items[i], key) && BSON_ITER_HOLDS_UTF8(&it) &&
                 !strcmp(bson_iter_utf8(&it, NULL), value))) {
      continue;
    }
    if (total++ < skip || n >= limit) continue;
    char k[16];
    const char *kp;
    bson_uint32_to_string(n++, &kp, k, sizeof k);
    bson_append_document(out, kp, -1, r->items[i]);
  }
  pthread_mutex_unlock(&r->lock);
  return total;
}

/* A change the store refused: logged, and err says nothing changed. */
static void refused(const aspd_records_t *r, char *err, size_t err_len) {
  aspd_log("could not persist a %s record: %s", r->kind, err);
  size_t len = strlen(err);
  snprintf(err + len, err_len - len, "; nothing was changed");
}

bool aspd_records_put(aspd_records_t *r, const bson_t *doc, char *err, size_t err_len) {
  pthread_mutex_lock(&r->lock);
  bool ok = aspd_store_put(r->store, r->kind, NULL, id_of(doc), doc, err, err_len);
  if (!ok) refused(r, err, err_len);
  long i = ok ? find(r, id_of(doc)) : -1;
  if (i >= 0) {
    bson_destroy(r->items[i]);
    r->items[i] = bson_copy(doc);
  } else if (ok) {
    append(r, doc);
  }
  pthread_mutex_unlock(&r->lock);
  return ok;
}

bool aspd_records_remove(aspd_records_t *r, const char *id, char *err, size_t err_len) {
  pthread_mutex_lock(&r->lock);
  long i = find(r, id);
  bool ok = i >= 0 && aspd_store_delete(r->store, r->kind, id, err, err_len);
  if (!ok && i >= 0) refused(r, err, err_len);
  if (ok) {
    bson_destroy(r->items[i]);
    memmove(&r->items[i], &r->items[i + 1], (r->count - (size_t)i - 1) * sizeof *r->items);
    r->count--;
  } else if (i < 0) {
    snprintf(err, err_len, "no record %s", id);
  }
  pthread_mutex_unlock(&r->lock);
  return ok;
}
