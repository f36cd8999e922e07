/* $sessionWindow: per partition (the partitionBy expression), a session
 * collects documents whose event times lie within `gap` of each other; a
 * document that bridges two sessions merges them. A session [first, last + gap)
 * closes when the watermark passes last + gap + allowedLateness; its documents
 * then run through a fresh instance of the inner pipeline (in arrival order)
 * and the results leave with the session's bounds and partition in the stream
 * metadata. A document older than the watermark allows that fits no open
 * session is late. With boundary processingTime the times are arrival times
 * and the engine's clock is the watermark. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/held_docs.h"
#include "engine/ops/stages.h"
#include "engine/plan/plan.h"
#include "engine/windows/common.h"

typedef struct {
  aspd_expr_t *partition_by;
  bool processing_time; /* sessions on arrival time: the clock is the watermark */
  int64_t gap_ms, lateness_ms;
  aspd_planned_stage_t *stages;
  size_t stage_count;
  char *ts_field, *meta_field;
  aspd_window_meta_t meta;
} session_spec_t;

typedef struct {
  bson_t *key; /* {v: partition} */
  int64_t first, last;
  aspd_held_docs_t held; /* until the session closes */
} session_t;

typedef struct {
  aspd_op_t base;
  const session_spec_t *spec;
  session_t *sessions;
  size_t count, cap;
  int64_t watermark;
  bool seen;
} session_op_t;

void aspd_session_free_spec(void *spec) {
  session_spec_t *s = spec;
  aspd_expr_free(s->partition_by);
  aspd_planned_stages_free(s->stages, s->stage_count);
  free(s->ts_field);
  free(s->meta_field);
  free(s);
}

/* True when a value (a spec, at any depth) reads the window metadata: a {$meta:
 * "stream[.window...]"}, or a path or field name into <meta field>[.window]. */
static bool reads_window_meta(const bson_value_t *v, const char *meta_field) {
  size_t len = meta_field ? strlen(meta_field) : 0;
  if (v->value_type == BSON_TYPE_UTF8) {
    const char *p = v->value.v_utf8.str;
    return len && p[0] == '$' && !strncmp(p + 1, meta_field, len) &&
           (!p[len + 1] || !strncmp(p + len + 1, ".window", 7));
  }
  if (v->value_type != BSON_TYPE_DOCUMENT && v->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (v->value_type == BSON_TYPE_DOCUMENT && !strcmp(k, "$meta") && BSON_ITER_HOLDS_UTF8(&it)) {
      const char *m = bson_iter_utf8(&it, NULL);
      if (!strcmp(m, "stream") || !strncmp(m, "stream.window", 13)) return true;
    }
    if (v->value_type == BSON_TYPE_DOCUMENT && len && !strncmp(k, meta_field, len) &&
        (!k[len] || !strncmp(k + len, ".window", 7))) {
      return true;
    }
    if (reads_window_meta(bson_iter_value(&it), meta_field)) return true;
  }
  return false;
}

/* The real planner's rules for a session's inner pipeline: the window bounds are
 * known only once a blocking stage ($group, $sort; $count is a $group) has seen
 * every document of the session, and a $limit before it would cut sessions that
 * later merge. */
static bool check_session_pipeline(const bson_value_t *pipeline, const char *meta_field,
                                   aspd_error_t *err) {
  bson_iter_t it;
  bool blocking = false, meta = false, limit = false;
  bson_iter_init_from_data(&it, pipeline->value.v_doc.data, pipeline->value.v_doc.data_len);
  while (!blocking && bson_iter_next(&it)) {
    bson_iter_t stage;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &stage) ||
        !bson_iter_next(&stage)) {
      continue; /* the planner reports malformed stages */
    }
    const char *name = bson_iter_key(&stage);
    blocking = !strcmp(name, "$group") || !strcmp(name, "$sort") || !strcmp(name, "$count");
    meta = meta || reads_window_meta(bson_iter_value(&stage), meta_field);
    limit = limit || !strcmp(name, "$limit");
  }
  const char *why = !blocking ? "there must be a $group or $sort in the pipeline."
                    : meta    ? "the pipeline cannot use _stream_meta.window until after the "
                                "first $group or $sort."
                    : limit   ? "there cannot be a $limit before the first $group or $sort."
                              : NULL;
  if (why) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "The $sessionWindow.pipeline isn't supported, %s", why);
  }
  return why == NULL;
}

void *aspd_session_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  if (ctx->plan->has_window) {
    aspd_window_invalid(err, "Only one window stage is allowed in a pipeline.");
    return NULL;
  }
  bson_t spec;
  aspd_spec_doc(value, &spec);
  session_spec_t *s = calloc(1, sizeof *s);
  s->lateness_ms = ASPD_WINDOW_DEFAULT_LATENESS_MS;
  bson_iter_t it;
  bool ok = true;
  if (!bson_iter_init_find(&it, &spec, "partitionBy")) {
    ok = aspd_window_invalid(err, "$sessionWindow needs a 'partitionBy' expression");
  } else {
    s->partition_by = aspd_expr_compile(ctx->cc, bson_iter_value(&it), err);
    ok = s->partition_by != NULL;
  }
  if (ok && !bson_iter_init_find(&it, &spec, "gap")) {
    ok = aspd_window_invalid(err, "$sessionWindow needs a 'gap'");
  } else if (ok) {
    ok = aspd_window_duration(&it, "size", "gap", &s->gap_ms, err);
    if (ok && s->gap_ms <= 0)
      ok = aspd_window_invalid(err, "Window gap size must be greater than 0.");
  }
  ok = ok && aspd_window_optional_duration(&spec, "allowedLateness",
                                           "Must specify unit and size for non-zero allowed "
                                           "lateness values",
                                           &s->lateness_ms, err);
  if (ok && s->lateness_ms > ASPD_WINDOW_MAX_LATENESS_MS) {
    ok = aspd_window_invalid(err, "Maximum allowedLateness is 30 minutes");
  }
  ok = ok && aspd_window_boundary(&spec, "$sessionWindow", &s->processing_time, err);
  if (s->processing_time) s->lateness_ms = 0;
  if (ok && (!bson_iter_init_find(&it, &spec, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))) {
    ok = aspd_window_invalid(err, "Window stage needs a 'pipeline' array");
  }
  ok = ok && check_session_pipeline(bson_iter_value(&it), ctx->plan->meta_field, err);
  if (ok) {
    aspd_stage_ctx_t inner = *ctx;
    inner.in_window = true;
    ok = aspd_plan_inner(bson_iter_value(&it), &inner, &s->stages, &s->stage_count, err);
  }
  if (!ok) {
    aspd_session_free_spec(s);
    return NULL;
  }
  s->ts_field = strdup(ctx->plan->ts_field);
  s->meta_field = ctx->plan->meta_field ? strdup(ctx->plan->meta_field) : NULL;
  s->meta = (aspd_window_meta_t){s->meta_field, aspd_plan_source_type(ctx->plan)};
  ctx->plan->has_window = true;
  return s;
}

static void session_clear(session_t *s) {
  aspd_held_docs_clear(&s->held);
  if (s->key) bson_destroy(s->key);
}

static const bson_value_t *key_of(const session_t *s, bson_iter_t *it) {
  bson_iter_init_find(it, s->key, "v");
  return bson_iter_value(it);
}

/* Moves b's documents into a (b is left empty). */
static void merge_into(session_t *a, session_t *b) {
  size_t count;
  bson_t **docs = aspd_held_docs_take(&b->held, &count);
  for (size_t i = 0; i < count; i++) aspd_held_docs_add(&a->held, docs[i]);
  free(docs);
  if (b->first < a->first) a->first = b->first;
  if (b->last > a->last) a->last = b->last;
}

/* A new empty session after the others. */
static session_t *add_session(session_op_t *op) {
  if (op->count == op->cap) {
    op->cap = op->cap ? op->cap * 2 : 8;
    op->sessions = realloc(op->sessions, op->cap * sizeof *op->sessions);
  }
  session_t *s = &op->sessions[op->count++];
  *s = (session_t){0};
  return s;
}

static void remove_at(session_op_t *op, size_t i) {
  memmove(&op->sessions[i], &op->sessions[i + 1], (op->count - i - 1) * sizeof *op->sessions);
  op->count--;
}

static void close_session(session_op_t *op, session_t s, aspd_flow_t *flow) {
  aspd_window_run_t run = {.start = s.first, .end = s.last + op->spec->gap_ms, .partition = s.key};
  aspd_pipeline_make(op->spec->stages, op->spec->stage_count, &run.inner);
  size_t count;
  bson_t **docs = aspd_held_docs_take(&s.held, &count);
  for (size_t i = 0; i < count; i++) aspd_window_run_push(&run, docs[i], flow);
  free(docs);
  aspd_window_run_close(&run, &op->spec->meta, flow); /* frees the key too */
}

static void close_due(session_op_t *op, aspd_flow_t *flow, bool all) {
  for (size_t i = 0; i < op->count;) {
    session_t *s = &op->sessions[i];
    if (all || (op->seen && s->last + op->spec->gap_ms + op->spec->lateness_ms <= op->watermark)) {
      session_t closing = *s;
      remove_at(op, i);
      close_session(op, closing, flow);
    } else {
      i++;
    }
  }
}

static void push(aspd_op_t *base, bson_t *doc, aspd_flow_t *flow) {
  session_op_t *op = (session_op_t *)base;
  const session_spec_t *spec = op->spec;
  bson_iter_t it;
  int64_t t = !spec->processing_time && bson_iter_init_find(&it, doc, spec->ts_field) &&
                      BSON_ITER_HOLDS_DATE_TIME(&it)
                  ? bson_iter_date_time(&it)
                  : flow->out->now_ms;
  /* Sessions reach gap (and the lateness) either side of their times: a time whose reach
   * leaves the int64 range has no session (a signed overflow below otherwise). */
  int64_t reach, edge;
  if (__builtin_add_overflow(spec->gap_ms, spec->lateness_ms, &reach) ||
      __builtin_add_overflow(t, reach, &edge) || __builtin_sub_overflow(t, reach, &edge)) {
    aspd_flow_reject(flow, doc, "Input document's time has no window: its bounds overflow");
    bson_destroy(doc);
    return;
  }
  bson_value_t key;
  if (!aspd_expr_eval_root(spec->partition_by, flow->ev, doc, &key)) {
    aspd_flow_reject(flow, doc, flow->ev->reason);
    bson_destroy(doc);
    return;
  }
  bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  if (key.value_type == BSON_TYPE_EOD) key = null_value;
  session_t *home = NULL;
  for (size_t i = 0; i < op->count;) {
    session_t *s = &op->sessions[i];
    bson_iter_t kit;
    bool fits = aspd_value_equal(key_of(s, &kit), &key) && t >= s->first - spec->gap_ms &&
                t <= s->last + spec->gap_ms;
    if (fits && home && home != s) {
      /* The document bridges two sessions: one session now. */
      merge_into(home, s);
      session_clear(s);
      size_t home_index = (size_t)(home - op->sessions);
      remove_at(op, i);
      home = &op->sessions[home_index < i ? home_index : home_index - 1];
      continue;
    }
    if (fits) home = s;
    i++;
  }
  if (!home) {
    if (op->seen && t + spec->lateness_ms < op->watermark) {
      aspd_flow_reject(flow, doc, "Input document arrived late.");
      bson_destroy(doc);
      return;
    }
    home = add_session(op);
    home->first = home->last = t;
    home->key = bson_new();
    bson_append_value(home->key, "v", 1, &key);
  }
  if (t < home->first) home->first = t;
  if (t > home->last) home->last = t;
  aspd_held_docs_add(&home->held, doc);
  if (!op->seen || t > op->watermark) op->watermark = t;
  op->seen = true;
  close_due(op, flow, false);
}

static void flush(aspd_op_t *base, const aspd_flush_t *why, aspd_flow_t *flow) {
  session_op_t *op = (session_op_t *)base;
  /* On processing time the clock moves the watermark, input or not. */
  if (op->spec->processing_time && (!op->seen || why->now_ms > op->watermark)) {
    op->watermark = why->now_ms;
    op->seen = true;
  }
  close_due(op, flow, why->end);
}

static int64_t state_bytes(const aspd_op_t *base) {
  const session_op_t *op = (const session_op_t *)base;
  int64_t total = 0;
  for (size_t i = 0; i < op->count; i++) total += op->sessions[i].held.bytes;
  return total;
}

/* {watermark, seen, sessions: [{key: {v: partition}, first, last, docs: [...]}]}. */
static void checkpoint(const aspd_op_t *base, bson_t *out) {
  const session_op_t *op = (const session_op_t *)base;
  BSON_APPEND_INT64(out, "watermark", op->watermark);
  BSON_APPEND_BOOL(out, "seen", op->seen);
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "sessions", &list);
  for (size_t i = 0; i < op->count; i++) {
    const session_t *s = &op->sessions[i];
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_t item;
    bson_append_document_begin(&list, k, (int)len, &item);
    BSON_APPEND_DOCUMENT(&item, "key", s->key);
    BSON_APPEND_INT64(&item, "first", s->first);
    BSON_APPEND_INT64(&item, "last", s->last);
    aspd_held_docs_save(&s->held, &item, "docs");
    bson_append_document_end(&list, &item);
  }
  bson_append_array_end(out, &list);
}

static bool restore(aspd_op_t *base, const bson_t *state) {
  session_op_t *op = (session_op_t *)base;
  bson_iter_t it, item;
  if (!aspd_window_int64(state, "watermark", &op->watermark) ||
      !aspd_window_bool(state, "seen", &op->seen) || !bson_iter_init_find(&it, state, "sessions") ||
      !BSON_ITER_HOLDS_ARRAY(&it)) {
    return false;
  }
  bson_iter_recurse(&it, &item);
  while (bson_iter_next(&item)) {
    const uint8_t *data;
    uint32_t len;
    bson_t in;
    bson_iter_t key;
    if (!BSON_ITER_HOLDS_DOCUMENT(&item)) return false;
    bson_iter_document(&item, &len, &data);
    if (!bson_init_static(&in, data, len) || !bson_iter_init_find(&key, &in, "key") ||
        !BSON_ITER_HOLDS_DOCUMENT(&key)) {
      return false;
    }
    session_t *s = add_session(op);
    bson_iter_document(&key, &len, &data);
    s->key = bson_new_from_data(data, len);
    bson_iter_t v;
    if (!s->key || !bson_iter_init_find(&v, s->key, "v") ||
        !aspd_window_int64(&in, "first", &s->first) || !aspd_window_int64(&in, "last", &s->last) ||
        s->first > s->last || !aspd_held_docs_load(&s->held, &in, "docs")) {
      return false;
    }
  }
  return true;
}

static void session_free(aspd_op_t *base) {
  session_op_t *op = (session_op_t *)base;
  for (size_t i = 0; i < op->count; i++) session_clear(&op->sessions[i]);
  free(op->sessions);
  free(op);
}

static const aspd_op_vtable_t vt = {.push = push,
                                    .flush = flush,
                                    .state_bytes = state_bytes,
                                    .free = session_free,
                                    .checkpoint = checkpoint,
                                    .restore = restore};

aspd_op_t *aspd_session_make(const void *spec) {
  session_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = spec;
  return &op->base;
}
