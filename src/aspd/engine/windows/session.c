/* $sessionWindow: per partition (the partitionBy expression), a session
 * collects documents whose event times lie within `gap` of each other; a
 * document that bridges two sessions merges them. A session [first, last + gap)
 * closes when the watermark passes last + gap + allowedLateness; its documents
 * then run through a fresh instance of the inner pipeline (in arrival order)
 * and the results leave with the session's bounds and partition in the stream
 * metadata. A document older than the watermark allows that fits no open
 * session is late. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"
#include "engine/plan/plan.h"
#include "engine/windows/common.h"

typedef struct {
  aspd_expr_t *partition_by;
  int64_t gap_ms, lateness_ms;
  aspd_planned_stage_t *stages;
  size_t stage_count;
  char *ts_field, *meta_field;
  aspd_window_meta_t meta;
} session_spec_t;

typedef struct {
  bson_t *key; /* {v: partition} */
  int64_t first, last;
  bson_t **docs; /* held until the session closes */
  size_t count, cap;
  int64_t bytes;
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
  if (ok && bson_iter_init_find(&it, &spec, "boundary") &&
      (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "eventTime"))) {
    ok = aspd_window_invalid(err, "boundary: only eventTime is supported by aspd yet");
  }
  if (ok && (!bson_iter_init_find(&it, &spec, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))) {
    ok = aspd_window_invalid(err, "Window stage needs a 'pipeline' array");
  }
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
  for (size_t i = 0; i < s->count; i++) bson_destroy(s->docs[i]);
  free(s->docs);
  if (s->key) bson_destroy(s->key);
}

static void hold(session_t *s, bson_t *doc) {
  if (s->count == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 16;
    s->docs = realloc(s->docs, s->cap * sizeof *s->docs);
  }
  s->docs[s->count++] = doc;
  s->bytes += doc->len;
}

static const bson_value_t *key_of(const session_t *s, bson_iter_t *it) {
  bson_iter_init_find(it, s->key, "v");
  return bson_iter_value(it);
}

/* Moves b's documents into a (b is left empty). */
static void merge_into(session_t *a, session_t *b) {
  for (size_t i = 0; i < b->count; i++) hold(a, b->docs[i]);
  b->count = 0;
  if (b->first < a->first) a->first = b->first;
  if (b->last > a->last) a->last = b->last;
}

static void remove_at(session_op_t *op, size_t i) {
  memmove(&op->sessions[i], &op->sessions[i + 1], (op->count - i - 1) * sizeof *op->sessions);
  op->count--;
}

static void close_session(session_op_t *op, session_t s, aspd_flow_t *flow) {
  aspd_window_run_t run = {.start = s.first, .end = s.last + op->spec->gap_ms, .partition = s.key};
  aspd_pipeline_make(op->spec->stages, op->spec->stage_count, &run.inner);
  for (size_t i = 0; i < s.count; i++) aspd_window_run_push(&run, s.docs[i], flow);
  free(s.docs);
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
  int64_t t = bson_iter_init_find(&it, doc, spec->ts_field) && BSON_ITER_HOLDS_DATE_TIME(&it)
                  ? bson_iter_date_time(&it)
                  : flow->out->now_ms;
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
    if (op->count == op->cap) {
      op->cap = op->cap ? op->cap * 2 : 8;
      op->sessions = realloc(op->sessions, op->cap * sizeof *op->sessions);
    }
    home = &op->sessions[op->count++];
    *home = (session_t){.first = t, .last = t};
    home->key = bson_new();
    bson_append_value(home->key, "v", 1, &key);
  }
  if (t < home->first) home->first = t;
  if (t > home->last) home->last = t;
  hold(home, doc);
  if (!op->seen || t > op->watermark) op->watermark = t;
  op->seen = true;
  close_due(op, flow, false);
}

static void flush(aspd_op_t *base, const aspd_flush_t *why, aspd_flow_t *flow) {
  close_due((session_op_t *)base, flow, why->end);
}

static int64_t state_bytes(const aspd_op_t *base) {
  const session_op_t *op = (const session_op_t *)base;
  int64_t total = 0;
  for (size_t i = 0; i < op->count; i++) total += op->sessions[i].bytes;
  return total;
}

static void session_free(aspd_op_t *base) {
  session_op_t *op = (session_op_t *)base;
  for (size_t i = 0; i < op->count; i++) session_clear(&op->sessions[i]);
  free(op->sessions);
  free(op);
}

static const aspd_op_vtable_t vt = {push, flush, state_bytes, session_free};

aspd_op_t *aspd_session_make(const void *spec) {
  session_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = spec;
  return &op->base;
}
