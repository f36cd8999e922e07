/* The change-stream source of an Atlas (Cluster) connection: reads the
 * connection's change log (sinks/changes.h) and hands over change events for
 * the watched database or collections; its checkpoint (and each event's
 * resume token) is the position in the log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/values.h"
#include "engine/sinks/changes.h"
#include "engine/sources/source.h"

typedef struct {
  aspd_source_t base;
  aspd_dataset_t *log;
  int64_t next;
  bson_t *event; /* the event being handed over (bson_new: a bson_t needs its alignment) */
} change_stream_t;

static aspd_source_t *change_stream_open(const aspd_source_spec_t *spec,
                                         const aspd_source_env_t *env, const bson_t *checkpoint) {
  change_stream_t *s = calloc(1, sizeof *s);
  s->base.spec = spec;
  s->log = aspd_changes_log(env->memstore, spec->connection);
  bson_iter_t it;
  if (checkpoint && bson_iter_init_find(&it, checkpoint, "offset") && BSON_ITER_HOLDS_NUMBER(&it)) {
    s->next = bson_iter_as_int64(&it);
  } else if (spec->start_after >= 0) {
    s->next = spec->start_after + 1;
  } else {
    s->next = aspd_dataset_end_offset(s->log); /* a change stream starts now */
  }
  s->event = bson_new();
  return &s->base;
}

static bool watched(const aspd_source_spec_t *spec, const char *db, const char *coll) {
  if (spec->db && strcmp(spec->db, db)) return false;
  if (!spec->coll_count) return true;
  for (size_t i = 0; i < spec->coll_count; i++) {
    if (!strcmp(spec->colls[i], coll)) return true;
  }
  return false;
}

/* The resume token of the event at offset: {_data: 16 hex digits}. */
static void append_token(bson_t *out, const char *key, int64_t offset) {
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)offset);
  bson_t token;
  bson_append_document_begin(out, key, -1, &token);
  BSON_APPEND_UTF8(&token, "_data", hex);
  bson_append_document_end(out, &token);
}

/* updateDescription: the top-level fields an update set or removed. */
static void append_update_description(bson_t *out, const bson_t *before, const bson_t *after) {
  bson_t desc, updated, removed;
  BSON_APPEND_DOCUMENT_BEGIN(out, "updateDescription", &desc);
  BSON_APPEND_DOCUMENT_BEGIN(&desc, "updatedFields", &updated);
  bson_iter_t a, b;
  bson_iter_init(&a, after);
  while (bson_iter_next(&a)) {
    const bson_value_t *v = bson_iter_value(&a);
    /* Same type and value (a number changed to another type counts as changed). */
    bool same = bson_iter_init_find(&b, before, bson_iter_key(&a)) &&
                bson_iter_value(&b)->value_type == v->value_type &&
                aspd_value_equal(bson_iter_value(&b), v);
    if (!same) bson_append_value(&updated, bson_iter_key(&a), -1, v);
  }
  bson_append_document_end(&desc, &updated);
  BSON_APPEND_ARRAY_BEGIN(&desc, "removedFields", &removed);
  uint32_t n = 0;
  bson_iter_init(&b, before);
  while (bson_iter_next(&b)) {
    if (bson_iter_init_find(&a, after, bson_iter_key(&b))) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    BSON_APPEND_UTF8(&removed, k, bson_iter_key(&b));
  }
  bson_append_array_end(&desc, &removed);
  bson_t truncated;
  BSON_APPEND_ARRAY_BEGIN(&desc, "truncatedArrays", &truncated);
  bson_append_array_end(&desc, &truncated);
  bson_append_document_end(out, &desc);
}

/* The change event of a log entry: {_id, operationType, clusterTime, wallTime, ns,
 * documentKey, updateDescription?, fullDocument?, fullDocumentBeforeChange?}, or with
 * fullDocumentOnly the post-image alone. False when it is not handed over. */
static bool make_event(change_stream_t *s, const bson_t *entry, int64_t offset, bson_t *out) {
  const aspd_source_spec_t *spec = s->base.spec;
  bson_iter_t it;
  int32_t op = -1;
  const char *db = NULL, *coll = NULL;
  bson_value_t key = {.value_type = BSON_TYPE_EOD};
  int64_t wall = 0;
  bson_t before, after;
  bool has_before = false, has_after = false;
  bson_iter_init(&it, entry);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strcmp(k, "op") && BSON_ITER_HOLDS_INT32(&it)) op = bson_iter_int32(&it);
    if (!strcmp(k, "db") && BSON_ITER_HOLDS_UTF8(&it)) db = bson_iter_utf8(&it, NULL);
    if (!strcmp(k, "coll") && BSON_ITER_HOLDS_UTF8(&it)) coll = bson_iter_utf8(&it, NULL);
    if (!strcmp(k, "key")) key = *bson_iter_value(&it);
    if (!strcmp(k, "wall") && BSON_ITER_HOLDS_DATE_TIME(&it)) wall = bson_iter_date_time(&it);
    bson_t *doc = !strcmp(k, "before") ? &before : !strcmp(k, "after") ? &after : NULL;
    if (doc && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      bson_init_static(doc, data, len);
      *(doc == &before ? &has_before : &has_after) = true;
    }
  }
  if (op < 0 || op > ASPD_CHANGE_DELETE || !db || !coll || !watched(spec, db, coll)) return false;
  bool post_image = has_after && (op != ASPD_CHANGE_UPDATE || spec->full_document);
  if (spec->full_document_only) {
    if (!post_image) return false;
    bson_concat(out, &after);
    return true;
  }
  append_token(out, "_id", offset);
  BSON_APPEND_UTF8(out, "operationType", aspd_change_op_names[op]);
  BSON_APPEND_TIMESTAMP(out, "clusterTime", (uint32_t)(wall / 1000), (uint32_t)(offset + 1));
  BSON_APPEND_DATE_TIME(out, "wallTime", wall);
  bson_t ns, doc_key;
  BSON_APPEND_DOCUMENT_BEGIN(out, "ns", &ns);
  BSON_APPEND_UTF8(&ns, "db", db);
  BSON_APPEND_UTF8(&ns, "coll", coll);
  bson_append_document_end(out, &ns);
  BSON_APPEND_DOCUMENT_BEGIN(out, "documentKey", &doc_key);
  if (key.value_type != BSON_TYPE_EOD) BSON_APPEND_VALUE(&doc_key, "_id", &key);
  bson_append_document_end(out, &doc_key);
  if (op == ASPD_CHANGE_UPDATE && has_before && has_after) {
    append_update_description(out, &before, &after);
  }
  if (post_image) BSON_APPEND_DOCUMENT(out, "fullDocument", &after);
  if (spec->before_change && has_before && op != ASPD_CHANGE_INSERT) {
    BSON_APPEND_DOCUMENT(out, "fullDocumentBeforeChange", &before);
  }
  return true;
}

static aspd_pull_t change_stream_pull(aspd_source_t *base, int64_t now_ms, int max,
                                      aspd_source_out_t *out) {
  (void)now_ms;
  change_stream_t *s = (change_stream_t *)base;
  /* Events dropped past the retention limit are skipped. */
  if (s->next < s->log->first_offset) s->next = s->log->first_offset;
  aspd_pull_t r = {0};
  int scanned = 0;
  while (scanned < max && !out->stop(out, r.pulled)) {
    const bson_t *entry = aspd_dataset_at(s->log, s->next);
    if (!entry) break;
    bson_reinit(s->event);
    if (make_event(s, entry, s->next, s->event)) {
      aspd_source_msg_t m = {s->event, NULL, 0, s->next, entry};
      out->message(out, &m);
      r.pulled++;
    }
    s->next++;
    scanned++;
  }
  r.more = scanned == max;
  return r;
}

/* operationType, ns {db, coll} and documentKey {_id} of the message's log entry. */
static void change_stream_put_meta(const aspd_source_t *base, const aspd_source_msg_t *m,
                                   aspd_raw_out_t *w) {
  (void)base;
  bson_value_t op = {.value_type = BSON_TYPE_EOD}, db = op, coll = op, key = op;
  aspd_raw_iter_t it;
  aspd_raw_init(&it, bson_get_data(m->record), m->record->len);
  while (aspd_raw_next(&it)) {
    bson_value_t *v = it.key_len == 2 && !memcmp(it.key, "op", 2)     ? &op
                      : it.key_len == 2 && !memcmp(it.key, "db", 2)   ? &db
                      : it.key_len == 4 && !memcmp(it.key, "coll", 4) ? &coll
                      : it.key_len == 3 && !memcmp(it.key, "key", 3)  ? &key
                                                                      : NULL;
    if (v) aspd_raw_value(&it, v);
  }
  if (op.value_type == BSON_TYPE_INT32 && op.value.v_int32 >= 0 &&
      op.value.v_int32 <= ASPD_CHANGE_DELETE) {
    const char *name = aspd_change_op_names[op.value.v_int32];
    bson_value_t v = {.value_type = BSON_TYPE_UTF8};
    v.value.v_utf8.str = (char *)(uintptr_t)name;
    v.value.v_utf8.len = (uint32_t)strlen(name);
    aspd_raw_put_value(w, "operationType", 13, &v);
  }
  uint32_t ns = aspd_raw_open(w, BSON_TYPE_DOCUMENT, "ns", 2);
  aspd_raw_put_value(w, "db", 2, &db);
  aspd_raw_put_value(w, "coll", 4, &coll);
  aspd_raw_close(w, ns);
  uint32_t doc_key = aspd_raw_open(w, BSON_TYPE_DOCUMENT, "documentKey", 11);
  aspd_raw_put_value(w, "_id", 3, &key);
  aspd_raw_close(w, doc_key);
}

static void change_stream_checkpoint(const aspd_source_t *base, bson_t *out) {
  BSON_APPEND_INT64(out, "offset", ((const change_stream_t *)base)->next);
}

static void change_stream_close(aspd_source_t *base) {
  change_stream_t *s = (change_stream_t *)base;
  bson_destroy(s->event);
  free(s);
}

const aspd_source_row_t aspd_source_change_stream_row = {
    .kind = ASPD_SOURCE_CHANGE_STREAM,
    .operator_name = "ChangeStreamConsumerOperator",
    .meta_type = "atlas",
    .open = change_stream_open,
    .pull = change_stream_pull,
    .checkpoint = change_stream_checkpoint,
    .put_meta = change_stream_put_meta,
    .close = change_stream_close,
};
