#include "project/records.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store/state_file.h"

struct aspd_records {
  pthread_mutex_t lock;
  char *dir, *file;
  bson_t **items;
  size_t count;
};

static const char *id_of(const bson_t *doc) {
  bson_iter_t it;
  return bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)
             ? bson_iter_utf8(&it, NULL)
             : "";
}

aspd_records_t *aspd_records_open(const char *state_dir, const char *file, char *err,
                                  size_t err_len) {
  bson_t *saved = NULL;
  if (!aspd_state_file_load(state_dir, file, &saved, err, err_len)) return NULL;
  aspd_records_t *r = calloc(1, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
  r->dir = strdup(state_dir);
  r->file = strdup(file);
  bson_iter_t it, list;
  if (saved && bson_iter_init_find(&it, saved, "records") && BSON_ITER_HOLDS_ARRAY(&it) &&
      bson_iter_recurse(&it, &list)) {
    while (bson_iter_next(&list)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&list)) continue;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&list, &len, &data);
      r->items = realloc(r->items, (r->count + 1) * sizeof *r->items);
      r->items[r->count++] = bson_new_from_data(data, len);
    }
  }
  bson_destroy(saved);
  return r;
}

void aspd_records_free(aspd_records_t *r) {
  if (!r) return;
  for (size_t i = 0; i < r->count; i++) bson_destroy(r->items[i]);
  free(r->items);
  free(r->dir);
  free(r->file);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* With the lock held. */
static bool save(aspd_records_t *r, char *err, size_t err_len) {
  bson_t doc = BSON_INITIALIZER, list;
  BSON_APPEND_ARRAY_BEGIN(&doc, "records", &list);
  for (size_t i = 0; i < r->count; i++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_append_document(&list, k, -1, r->items[i]);
  }
  bson_append_array_end(&doc, &list);
  bool ok = aspd_state_file_save(r->dir, r->file, &doc, err, err_len);
  bson_destroy(&doc);
  return ok;
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

/* A failed save: the log gets the file, err only the reason. */
static void save_failed(const aspd_records_t *r, const char *detail, char *err, size_t err_len) {
  int why = errno;
  aspd_log_persist_failure(r->file, detail, why, err, err_len);
}

bool aspd_records_put(aspd_records_t *r, const bson_t *doc, char *err, size_t err_len) {
  pthread_mutex_lock(&r->lock);
  long i = find(r, id_of(doc));
  bson_t *old = NULL;
  if (i >= 0) {
    old = r->items[i];
    r->items[i] = bson_copy(doc);
  } else {
    r->items = realloc(r->items, (r->count + 1) * sizeof *r->items);
    r->items[r->count++] = bson_copy(doc);
  }
  char detail[1024];
  bool ok = save(r, detail, sizeof detail);
  if (!ok) {
    save_failed(r, detail, err, err_len);
    /* Not saved, so not done. */
    if (i >= 0) {
      bson_destroy(r->items[i]);
      r->items[i] = old;
      old = NULL;
    } else {
      bson_destroy(r->items[--r->count]);
    }
  }
  bson_destroy(old);
  pthread_mutex_unlock(&r->lock);
  return ok;
}

bool aspd_records_remove(aspd_records_t *r, const char *id, char *err, size_t err_len) {
  pthread_mutex_lock(&r->lock);
  long i = find(r, id);
  bool ok = i >= 0;
  if (ok) {
    bson_t *removed = r->items[i];
    memmove(&r->items[i], &r->items[i + 1], (r->count - (size_t)i - 1) * sizeof *r->items);
    r->count--;
    char detail[1024];
    ok = save(r, detail, sizeof detail);
    if (ok) {
      bson_destroy(removed);
    } else {
      save_failed(r, detail, err, err_len);
      memmove(&r->items[i + 1], &r->items[i], (r->count - (size_t)i) * sizeof *r->items);
      r->items[i] = removed;
      r->count++;
    }
  } else {
    snprintf(err, err_len, "no record %s", id);
  }
  pthread_mutex_unlock(&r->lock);
  return ok;
}
