/* A pipeline run once over a set of documents (aggregate, and find's sort and
 * projection): the stages are planned as a window's inner pipeline, so $group,
 * $sort, $limit and $count are allowed, and run by the one pipeline runner;
 * the end of the input flushes them. $skip, which the stream engine has no
 * stage for, splits the pipeline: the documents of one part pass to the next
 * without their first N. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/values.h"
#include "engine/plan/plan.h"
#include "engine/runtime/engine_internal.h"

typedef struct {
  aspd_pipeline_out_t base;
  aspd_docs_t *out;
  size_t cap;
  char reason[512]; /* the first document a stage could not handle */
} batch_out_t;

static void collect(aspd_pipeline_out_t *self, bson_t *doc) {
  batch_out_t *b = (batch_out_t *)self;
  if (b->out->count == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 64;
    b->out->docs = realloc(b->out->docs, b->cap * sizeof *b->out->docs);
  }
  b->out->docs[b->out->count++] = doc;
}

static void refuse(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason) {
  (void)index;
  (void)doc;
  batch_out_t *b = (batch_out_t *)self;
  if (!b->reason[0]) snprintf(b->reason, sizeof b->reason, "%s", reason);
}

/* Stages that only make sense on a stream. */
static bool streaming_only(const char *name) {
  static const char *const names[] = {"$source",         "$merge",         "$emit",
                                      "$tumblingWindow", "$hoppingWindow", "$sessionWindow"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!strcmp(names[i], name)) return true;
  }
  return false;
}

/* The connection whose collections db belongs to, if any holds one (NULL otherwise). */
static const char *connection_of(aspd_engine_t *e, const char *db) {
  const char *found = NULL;
  aspd_engine_lock(e);
  for (size_t i = 0; i < aspd_memstore_size(e->memstore) && !found; i++) {
    const aspd_dataset_t *set = aspd_memstore_get(e->memstore, i);
    if (set->db && !strcmp(set->db, db)) found = set->connection;
  }
  pthread_mutex_unlock(&e->lock);
  return found; /* datasets live as long as the engine */
}

/* Runs the stages of part (an array) over docs, replacing them with the results;
 * $lookup reads the collections of `reads` (NULL: none), under its lock, with
 * `from: "<coll>"` naming a collection of db as in MongoDB's aggregate. */
static bool run_part(const aspd_registry_t *reg, aspd_engine_t *reads, const char *db,
                     const bson_t *part, aspd_docs_t *docs, aspd_error_t *err) {
  aspd_plan_t plan = {0};
  aspd_expr_compiler_t cc;
  aspd_expr_compiler_init(&cc);
  aspd_stage_ctx_t ctx = {.registry = reg, .plan = &plan, .cc = &cc, .in_window = true};
  if (reads && db) {
    ctx.lookup_connection = connection_of(reads, db);
    ctx.lookup_db = ctx.lookup_connection ? db : NULL;
  }
  aspd_planned_stage_t *stages = NULL;
  size_t count = 0;
  bson_value_t value = {.value_type = BSON_TYPE_ARRAY};
  value.value.v_doc.data = (uint8_t *)(uintptr_t)bson_get_data(part);
  value.value.v_doc.data_len = part->len;
  if (!aspd_plan_inner(&value, &ctx, &stages, &count, err)) {
    aspd_planned_stages_free(stages, count);
    return false;
  }
  aspd_pipeline_t pipe;
  aspd_pipeline_make(stages, count, &pipe);
  aspd_docs_t in = *docs;
  *docs = (aspd_docs_t){0};
  batch_out_t out = {.out = docs};
  out.base.emit = collect;
  out.base.reject = refuse;
  aspd_eval_t ev;
  aspd_eval_init(&ev, NULL);
  out.base.ev = &ev;
  out.base.now_ms = aspd_now_ms();
  if (reads) {
    aspd_engine_lock(reads);
    ev.collections = reads->memstore;
  }
  for (size_t i = 0; i < in.count; i++) aspd_pipeline_push(&pipe, 0, in.docs[i], &out.base);
  free(in.docs);
  aspd_flush_t end = {.now_ms = out.base.now_ms, .last_input_ms = out.base.now_ms, .end = true};
  aspd_pipeline_flush(&pipe, &end, &out.base);
  if (reads) pthread_mutex_unlock(&reads->lock);
  aspd_pipeline_free(&pipe);
  aspd_eval_free(&ev);
  aspd_planned_stages_free(stages, count);
  if (out.reason[0]) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "%s", out.reason);
    return false;
  }
  return true;
}

/* The name and value of a stage document's one field. */
static bool stage_parts(const bson_iter_t *stage, const char **name, bson_iter_t *value,
                        aspd_error_t *err) {
  bson_iter_t fields;
  int count = 0;
  if (BSON_ITER_HOLDS_DOCUMENT(stage) && bson_iter_recurse(stage, &fields)) {
    while (bson_iter_next(&fields)) {
      if (count++ == 0) {
        *value = fields;
        *name = bson_iter_key(&fields);
      }
    }
  }
  if (count != 1) {
    aspd_error_set(err, ASPD_E_LOCATION(40323),
                   "A pipeline stage specification object must contain exactly one field.");
    return false;
  }
  return true;
}

/* $skip's value: a non-negative whole number. */
static bool skip_count(const bson_iter_t *value, int64_t *n, aspd_error_t *err) {
  bson_iter_t copy = *value;
  if (!BSON_ITER_HOLDS_NUMBER(&copy) || !aspd_value_as_integral(bson_iter_value(&copy), n) ||
      *n < 0) {
    aspd_error_set(err, ASPD_E_LOCATION(15956), "the $skip value must be a non-negative integer");
    return false;
  }
  return true;
}

static void drop_first(aspd_docs_t *docs, int64_t n) {
  size_t k = (size_t)n < docs->count ? (size_t)n : docs->count;
  for (size_t i = 0; i < k; i++) bson_destroy(docs->docs[i]);
  memmove(docs->docs, docs->docs + k, (docs->count - k) * sizeof *docs->docs);
  docs->count -= k;
}

bool aspd_engine_run_batch(const aspd_registry_t *reg, aspd_engine_t *reads, const char *db,
                           const bson_t *pipeline, aspd_docs_t *docs, aspd_error_t *err) {
  bson_iter_t it;
  bson_t part = BSON_INITIALIZER;
  uint32_t n = 0;
  bool ok = bson_iter_init(&it, pipeline);
  while (ok && bson_iter_next(&it)) {
    const char *name = "";
    bson_iter_t value;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      aspd_error_set(err, ASPD_E_TYPE_MISMATCH,
                     "Each element of the 'pipeline' array must be an object");
      ok = false;
    } else if (!stage_parts(&it, &name, &value, err)) {
      ok = false;
    } else if (streaming_only(name)) {
      aspd_error_set(err, ASPD_E_LOCATION(40324),
                     "%s is a stream processing stage: it does not run in aggregate", name);
      ok = false;
    } else if (!strcmp(name, "$skip")) {
      int64_t skip;
      ok = skip_count(&value, &skip, err) && run_part(reg, reads, db, &part, docs, err);
      if (ok) drop_first(docs, skip);
      bson_reinit(&part);
      n = 0;
    } else {
      char key[16];
      const char *k;
      bson_uint32_to_string(n++, &k, key, sizeof key);
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      bson_t stage;
      bson_init_static(&stage, data, len);
      bson_append_document(&part, k, -1, &stage);
    }
  }
  ok = ok && run_part(reg, reads, db, &part, docs, err);
  bson_destroy(&part);
  return ok;
}
