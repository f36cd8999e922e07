#include "store/store_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DONE_FLAG "database"

/* The kinds of record and the imported flags a workspace's database held. */
static const char *const KINDS[] = {"registry", "processor"};
static const char *const FLAGS[] = {"registry", "engine"};

typedef struct {
  aspd_store_t *to;
  char *err;
  size_t err_len;
  bool failed;
  /* the dataset being read */
  char *connection, *db, *name;
  int32_t partition;
  int64_t first_offset, from;
  bson_t **docs;
  size_t count, cap;
} copy_t;

typedef struct {
  const char *kind;
  aspd_store_t *to;
} record_copy_t;

static bool copy_record(void *ctx, const char *name, const bson_t *doc, char *err, size_t err_len) {
  record_copy_t *r = ctx;
  return aspd_store_put(r->to, r->kind, NULL, name, doc, err, err_len);
}

/* Writes the dataset read so far into the scope (unless reading failed). */
static bool flush_dataset(copy_t *c) {
  bool ok = true;
  if (c->name && !c->failed) {
    aspd_store_delta_t d = {.connection = c->connection,
                            .db = c->db,
                            .name = c->name,
                            .partition = c->partition,
                            .first_offset = c->first_offset,
                            .from = c->from,
                            .end = c->from + (int64_t)c->count,
                            .docs = (const bson_t *const *)c->docs};
    ok = aspd_store_write_datasets(c->to, &d, 1, c->err, c->err_len);
  }
  for (size_t i = 0; i < c->count; i++) bson_destroy(c->docs[i]);
  free(c->connection);
  free(c->db);
  free(c->name);
  c->connection = c->db = c->name = NULL;
  c->count = 0;
  c->failed = c->failed || !ok;
  return ok;
}

static bool begin_dataset(void *ctx, const char *connection, const char *db, const char *name,
                          int32_t partition, int64_t first_offset) {
  copy_t *c = ctx;
  if (!flush_dataset(c)) return false;
  c->connection = strdup(connection);
  c->db = db ? strdup(db) : NULL;
  c->name = strdup(name);
  c->partition = partition;
  c->first_offset = c->from = first_offset;
  return true;
}

static bool add_doc(void *ctx, int64_t offset, const bson_t *doc) {
  copy_t *c = ctx;
  if (c->count == 0) c->from = offset;
  if (c->count == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 256;
    c->docs = realloc(c->docs, c->cap * sizeof *c->docs);
  }
  c->docs[c->count++] = bson_copy(doc);
  return true;
}

static bool copy_all(aspd_store_t *from, aspd_store_t *to, char *err, size_t err_len) {
  for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
    record_copy_t r = {KINDS[i], to};
    if (!aspd_store_each(from, KINDS[i], copy_record, &r, err, err_len)) return false;
  }
  copy_t c = {.to = to, .err = err, .err_len = err_len};
  aspd_store_dataset_visitor_t v = {begin_dataset, add_doc};
  if (!aspd_store_each_dataset(from, &v, &c, err, err_len)) c.failed = true;
  flush_dataset(&c);
  bool ok = !c.failed;
  free(c.docs);
  for (size_t i = 0; ok && i < sizeof FLAGS / sizeof FLAGS[0]; i++) {
    if (aspd_store_imported(from, FLAGS[i]))
      ok = aspd_store_mark_imported(to, FLAGS[i], err, err_len);
  }
  return ok;
}

bool aspd_store_import_dir(aspd_store_t *scope, const char *dir, char *err, size_t err_len) {
  if (aspd_store_imported(scope, DONE_FLAG)) return true;
  char path[4096];
  snprintf(path, sizeof path, "%s/aspd.db", dir);
  if (access(path, F_OK) == 0) {
    aspd_store_t *old = aspd_store_open(dir, err, err_len);
    bool ok = old && copy_all(old, scope, err, err_len);
    aspd_store_close(old);
    if (!ok) return false;
  }
  return aspd_store_mark_imported(scope, DONE_FLAG, err, err_len);
}
