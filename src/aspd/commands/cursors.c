#include "commands/cursors.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_FIRST_BATCH 101
/* A getMore batch without a batchSize stops near this many bytes (as mongod does at 16 MB). */
#define BATCH_BYTES (16 * 1024 * 1024)

typedef struct cursor {
  int64_t id;
  char *ns;
  aspd_docs_t docs;
  size_t pos;
  struct cursor *next;
} cursor_t;

struct aspd_cursors {
  pthread_mutex_t lock;
  int64_t next_id;
  cursor_t *list;
};

aspd_cursors_t *aspd_cursors_new(void) {
  aspd_cursors_t *c = calloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  c->next_id = 1;
  return c;
}

static void cursor_free(cursor_t *c) {
  aspd_docs_free(&c->docs);
  free(c->ns);
  free(c);
}

void aspd_cursors_free(aspd_cursors_t *cursors) {
  if (!cursors) return;
  while (cursors->list) {
    cursor_t *c = cursors->list;
    cursors->list = c->next;
    cursor_free(c);
  }
  pthread_mutex_destroy(&cursors->lock);
  free(cursors);
}

/* Appends cursor {<key>: batch, id, ns}; advances *pos. */
static void append_batch(bson_t *reply, const char *key, const char *ns, const aspd_docs_t *docs,
                         size_t *pos, int64_t batch, int64_t id_if_more) {
  bson_t cursor, list;
  BSON_APPEND_DOCUMENT_BEGIN(reply, "cursor", &cursor);
  BSON_APPEND_ARRAY_BEGIN(&cursor, key, &list);
  size_t bytes = 0;
  uint32_t n = 0;
  while (*pos < docs->count && (batch <= 0 || n < batch) && bytes < BATCH_BYTES) {
    char k[16];
    const char *kp;
    bson_uint32_to_string(n++, &kp, k, sizeof k);
    BSON_APPEND_DOCUMENT(&list, kp, docs->docs[*pos]);
    bytes += docs->docs[*pos]->len;
    (*pos)++;
  }
  bson_append_array_end(&cursor, &list);
  BSON_APPEND_INT64(&cursor, "id", *pos < docs->count ? id_if_more : 0);
  BSON_APPEND_UTF8(&cursor, "ns", ns);
  bson_append_document_end(reply, &cursor);
}

void aspd_cursors_open(aspd_cursors_t *cursors, const char *ns, aspd_docs_t *result, int64_t batch,
                       bson_t *reply) {
  cursor_t *c = calloc(1, sizeof *c);
  c->ns = strdup(ns);
  c->docs = *result;
  *result = (aspd_docs_t){0};
  pthread_mutex_lock(&cursors->lock);
  c->id = cursors->next_id++;
  pthread_mutex_unlock(&cursors->lock);
  append_batch(reply, "firstBatch", ns, &c->docs, &c->pos, batch > 0 ? batch : DEFAULT_FIRST_BATCH,
               c->id);
  if (c->pos == c->docs.count) {
    cursor_free(c);
    return;
  }
  pthread_mutex_lock(&cursors->lock);
  c->next = cursors->list;
  cursors->list = c;
  pthread_mutex_unlock(&cursors->lock);
}

/* Unlinks and returns the cursor, so that no other thread uses it meanwhile. */
static cursor_t *take(aspd_cursors_t *cursors, int64_t id) {
  pthread_mutex_lock(&cursors->lock);
  cursor_t *found = NULL;
  for (cursor_t **pp = &cursors->list; *pp; pp = &(*pp)->next) {
    if ((*pp)->id == id) {
      found = *pp;
      *pp = found->next;
      break;
    }
  }
  pthread_mutex_unlock(&cursors->lock);
  return found;
}

bool aspd_cursors_more(aspd_cursors_t *cursors, int64_t id, int64_t batch, bson_t *reply) {
  cursor_t *c = take(cursors, id);
  if (!c) return false;
  append_batch(reply, "nextBatch", c->ns, &c->docs, &c->pos, batch, c->id);
  if (c->pos == c->docs.count) {
    cursor_free(c);
    return true;
  }
  pthread_mutex_lock(&cursors->lock);
  c->next = cursors->list;
  cursors->list = c;
  pthread_mutex_unlock(&cursors->lock);
  return true;
}

bool aspd_cursors_kill(aspd_cursors_t *cursors, int64_t id) {
  cursor_t *c = take(cursors, id);
  if (c) cursor_free(c);
  return c != NULL;
}
