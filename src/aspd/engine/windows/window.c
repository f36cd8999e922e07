/* Window stages ($tumblingWindow, $hoppingWindow) on event time (the source
 * timestamp field). Each open window runs its own instance of the inner
 * pipeline, built from the same operators as the main one: documents enter it
 * as they arrive, and what it hands on is held until the window closes, when
 * the watermark (the latest event time seen) passes its end plus
 * allowedLateness. Then the inner pipeline is flushed and its results leave
 * with the window's bounds in the stream metadata. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"
#include "engine/plan/plan.h"

#define DEFAULT_LATENESS_MS 3000
#define MAX_LATENESS_MS (30 * 60 * 1000)

typedef struct {
  bool hopping;
  int64_t interval_ms, hop_ms, lateness_ms, idle_ms, offset_ms;
  aspd_planned_stage_t *stages; /* the inner pipeline */
  size_t stage_count;
  char *ts_field, *meta_field; /* meta_field NULL when disabled */
  const char *source_type;
} window_spec_t;

typedef struct {
  int64_t start, end;
  aspd_pipeline_t inner;
  bson_t **pending; /* what the inner pipeline handed on, until the window closes */
  size_t count, cap;
  int64_t bytes;
} open_window_t;

typedef struct {
  aspd_op_t base;
  const window_spec_t *spec;
  open_window_t *windows; /* ordered by start */
  size_t count, cap;
  int64_t watermark; /* latest event time seen */
  bool seen;
  int64_t closed_end; /* every window ending at or before this has closed */
  bool any_closed;
} window_op_t;

static bool invalid(aspd_error_t *err, const char *message) {
  aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s", message);
  return false;
}

static int64_t unit_ms(const char *unit) {
  if (!strcmp(unit, "ms") || !strcmp(unit, "millisecond")) return 1;
  if (!strcmp(unit, "second")) return 1000;
  if (!strcmp(unit, "minute")) return 60 * 1000;
  if (!strcmp(unit, "hour")) return 60 * 60 * 1000;
  if (!strcmp(unit, "day")) return 24 * 60 * 60 * 1000;
  return 0;
}

/* {size, unit} -> ms. `what` names the field in messages. */
static bool duration(bson_iter_t *it, const char *size_key, const char *what, int64_t *ms,
                     aspd_error_t *err) {
  bson_iter_t f;
  int64_t size = 0, unit = 0;
  bool have_size = false;
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s must be an object with size and unit", what);
    return false;
  }
  bson_iter_recurse(it, &f);
  while (bson_iter_next(&f)) {
    if (!strcmp(bson_iter_key(&f), size_key) && BSON_ITER_HOLDS_NUMBER(&f)) {
      size = bson_iter_as_int64(&f);
      have_size = true;
    }
    if (!strcmp(bson_iter_key(&f), "unit") && BSON_ITER_HOLDS_UTF8(&f)) {
      unit = unit_ms(bson_iter_utf8(&f, NULL));
    }
  }
  if (!have_size || !unit) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "%s needs a numeric %s and a unit (ms, second, minute, hour or day)", what,
                   size_key);
    return false;
  }
  *ms = size * unit;
  return true;
}

/* allowedLateness / idleTimeout: the integer 0 or {size, unit}. */
static bool optional_duration(const bson_t *spec, const char *key, const char *bare_int_message,
                              int64_t *ms, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, key)) return true;
  if (BSON_ITER_HOLDS_NUMBER(&it)) {
    if (bson_iter_as_int64(&it) != 0) return invalid(err, bare_int_message);
    *ms = 0;
    return true;
  }
  return duration(&it, "size", key, ms, err);
}

void aspd_window_free_spec(void *spec) {
  window_spec_t *w = spec;
  aspd_planned_stages_free(w->stages, w->stage_count);
  free(w->ts_field);
  free(w->meta_field);
  free(w);
}

void *aspd_window_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(value)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s specification must be an object", ctx->name);
    return NULL;
  }
  if (ctx->plan->has_window) {
    invalid(err, "Only one window stage is allowed in a pipeline.");
    return NULL;
  }
  bson_t spec;
  aspd_spec_doc(value, &spec);
  window_spec_t *w = calloc(1, sizeof *w);
  w->hopping = !strcmp(ctx->name, "$hoppingWindow");
  w->lateness_ms = DEFAULT_LATENESS_MS;
  bson_iter_t it;
  bool ok = true;
  if (!bson_iter_init_find(&it, &spec, "interval")) {
    ok = invalid(err, "Window stage needs an 'interval'");
  } else {
    ok = duration(&it, "size", "interval", &w->interval_ms, err);
    if (ok && w->interval_ms <= 0)
      ok = invalid(err, "Window interval size must be greater than 0.");
  }
  if (ok && w->hopping) {
    if (!bson_iter_init_find(&it, &spec, "hopSize")) {
      ok = invalid(err, "$hoppingWindow needs a 'hopSize'");
    } else {
      ok = duration(&it, "size", "hopSize", &w->hop_ms, err);
      if (ok && w->hop_ms <= 0) ok = invalid(err, "Window hopSize size must be greater than 0.");
    }
  }
  if (ok && !w->hopping) w->hop_ms = w->interval_ms;
  ok = ok && optional_duration(&spec, "allowedLateness",
                               "Must specify unit and size for non-zero allowed lateness values",
                               &w->lateness_ms, err);
  if (ok && w->lateness_ms > MAX_LATENESS_MS)
    ok = invalid(err, "Maximum allowedLateness is 30 minutes");
  ok = ok && optional_duration(&spec, "idleTimeout",
                               "Must specify unit and size for non-zero idle timeout values",
                               &w->idle_ms, err);
  if (ok && bson_iter_init_find(&it, &spec, "offset")) {
    ok = duration(&it, "offsetFromUtc", "offset", &w->offset_ms, err);
  }
  if (ok && bson_iter_init_find(&it, &spec, "boundary") &&
      (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "eventTime"))) {
    ok = invalid(err, "boundary: only eventTime is supported by aspd yet");
  }
  if (ok && (!bson_iter_init_find(&it, &spec, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))) {
    ok = invalid(err, "Window stage needs a 'pipeline' array");
  }
  if (ok) {
    aspd_stage_ctx_t inner = *ctx;
    inner.in_window = true;
    ok = aspd_plan_inner(bson_iter_value(&it), &inner, &w->stages, &w->stage_count, err);
  }
  if (!ok) {
    aspd_window_free_spec(w);
    return NULL;
  }
  w->ts_field = strdup(ctx->plan->ts_field);
  w->meta_field = ctx->plan->meta_field ? strdup(ctx->plan->meta_field) : NULL;
  w->source_type = aspd_plan_source_type(ctx->plan);
  ctx->plan->has_window = true;
  return w;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static open_window_t *window_at(window_op_t *op, int64_t start, int64_t end) {
  size_t i = 0;
  while (i < op->count && op->windows[i].start < start) i++;
  if (i < op->count && op->windows[i].start == start) return &op->windows[i];
  if (op->count == op->cap) {
    op->cap = op->cap ? op->cap * 2 : 8;
    op->windows = realloc(op->windows, op->cap * sizeof *op->windows);
  }
  memmove(&op->windows[i + 1], &op->windows[i], (op->count - i) * sizeof *op->windows);
  op->count++;
  op->windows[i] = (open_window_t){.start = start, .end = end};
  aspd_pipeline_make(op->spec->stages, op->spec->stage_count, &op->windows[i].inner);
  return &op->windows[i];
}

/* The inner pipeline's output: held by its window; its rejects go to the
 * processor's dead letters as the window operator's. */
typedef struct {
  aspd_pipeline_out_t base;
  open_window_t *window;
  aspd_flow_t *outer;
} inner_out_t;

static void hold(aspd_pipeline_out_t *self, bson_t *doc) {
  open_window_t *w = ((inner_out_t *)self)->window;
  if (w->count == w->cap) {
    w->cap = w->cap ? w->cap * 2 : 16;
    w->pending = realloc(w->pending, w->cap * sizeof *w->pending);
  }
  w->pending[w->count++] = doc;
  w->bytes += doc->len;
}

static void reject(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason) {
  (void)index;
  aspd_flow_reject(((inner_out_t *)self)->outer, doc, reason);
}

/* Runs `run` on the window's inner pipeline with the window's bounds visible to $meta. */
static void enter(open_window_t *w, aspd_flow_t *flow, inner_out_t *out) {
  *out = (inner_out_t){{hold, reject, NULL, flow->ev, flow->out->now_ms}, w, flow};
  flow->ev->in_window = true;
  flow->ev->window_start = w->start;
  flow->ev->window_end = w->end;
}

static void leave(aspd_flow_t *flow) {
  flow->ev->in_window = false;
}

static bson_t *with_window_meta(const window_spec_t *spec, bson_t *doc, const open_window_t *w) {
  bson_t *out = bson_new();
  bson_copy_to_excluding_noinit(doc, out, spec->meta_field, NULL);
  bson_t meta, source, window;
  bson_append_document_begin(out, spec->meta_field, -1, &meta);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "source", &source);
  BSON_APPEND_UTF8(&source, "type", spec->source_type);
  bson_append_document_end(&meta, &source);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "window", &window);
  BSON_APPEND_DATE_TIME(&window, "start", w->start);
  BSON_APPEND_DATE_TIME(&window, "end", w->end);
  bson_append_document_end(&meta, &window);
  bson_append_document_end(out, &meta);
  bson_destroy(doc);
  return out;
}

static void close_window(window_op_t *op, open_window_t w, aspd_flow_t *flow) {
  inner_out_t out;
  enter(&w, flow, &out);
  aspd_flush_t end = {flow->out->now_ms, 0, true};
  aspd_pipeline_flush(&w.inner, &end, &out.base);
  leave(flow);
  aspd_pipeline_free(&w.inner);
  for (size_t i = 0; i < w.count; i++) {
    bson_t *doc = w.pending[i];
    if (op->spec->meta_field) doc = with_window_meta(op->spec, doc, &w);
    aspd_flow_emit(flow, doc);
  }
  free(w.pending);
}

/* Closes the windows the watermark has passed (every one when `all`), in start order. */
static void close_due(window_op_t *op, aspd_flow_t *flow, bool all) {
  while (op->count > 0) {
    open_window_t w = op->windows[0];
    if (!all && (!op->seen || w.end + op->spec->lateness_ms > op->watermark)) break;
    memmove(&op->windows[0], &op->windows[1], (op->count - 1) * sizeof *op->windows);
    op->count--;
    if (!op->any_closed || w.end > op->closed_end) op->closed_end = w.end;
    op->any_closed = true;
    close_window(op, w, flow);
  }
}

static void push(aspd_op_t *base, bson_t *doc, aspd_flow_t *flow) {
  window_op_t *op = (window_op_t *)base;
  const window_spec_t *spec = op->spec;
  bson_iter_t it;
  int64_t event_ms = bson_iter_init_find(&it, doc, spec->ts_field) && BSON_ITER_HOLDS_DATE_TIME(&it)
                         ? bson_iter_date_time(&it)
                         : flow->out->now_ms;
  int64_t rel = event_ms - spec->offset_ms;
  int64_t last_k = floor_div(rel, spec->hop_ms);
  int64_t first_k = floor_div(rel - spec->interval_ms, spec->hop_ms) + 1;
  bool placed = false;
  for (int64_t k = first_k; k <= last_k; k++) {
    int64_t start = k * spec->hop_ms + spec->offset_ms, end = start + spec->interval_ms;
    if (op->any_closed && end <= op->closed_end) continue; /* that window is gone */
    open_window_t *w = window_at(op, start, end);
    inner_out_t out;
    enter(w, flow, &out);
    aspd_pipeline_push(&w->inner, 0, bson_copy(doc), &out.base);
    leave(flow);
    placed = true;
  }
  if (!op->seen || event_ms > op->watermark) op->watermark = event_ms;
  op->seen = true;
  if (!placed) aspd_flow_reject(flow, doc, "Input document arrived late.");
  bson_destroy(doc);
  close_due(op, flow, false);
}

static void flush(aspd_op_t *base, const aspd_flush_t *why, aspd_flow_t *flow) {
  window_op_t *op = (window_op_t *)base;
  int64_t idle = op->spec->idle_ms;
  bool idle_past = idle > 0 && why->last_input_ms > 0 && why->now_ms - why->last_input_ms >= idle;
  close_due(op, flow, why->end || idle_past);
}

static int64_t state_bytes(const aspd_op_t *base) {
  const window_op_t *op = (const window_op_t *)base;
  int64_t total = 0;
  for (size_t i = 0; i < op->count; i++) {
    total += op->windows[i].bytes + aspd_pipeline_state_bytes(&op->windows[i].inner);
  }
  return total;
}

static void window_free(aspd_op_t *base) {
  window_op_t *op = (window_op_t *)base;
  for (size_t i = 0; i < op->count; i++) {
    aspd_pipeline_free(&op->windows[i].inner);
    for (size_t d = 0; d < op->windows[i].count; d++) bson_destroy(op->windows[i].pending[d]);
    free(op->windows[i].pending);
  }
  free(op->windows);
  free(op);
}

static const aspd_op_vtable_t vt = {push, flush, state_bytes, window_free};

aspd_op_t *aspd_window_make(const void *spec) {
  window_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = spec;
  return &op->base;
}
