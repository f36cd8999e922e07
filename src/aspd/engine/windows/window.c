/* Window stages ($tumblingWindow, $hoppingWindow) on event time (the source
 * timestamp field), or with boundary processingTime on arrival time (the
 * engine's clock: the watermark is the clock, nothing is late and a window
 * closes once the clock passes its end, input or not). Each open window runs its own instance of
 * the inner pipeline, built from the same operators as the main one: documents enter it as they
 * arrive, and what it hands on is held until the window closes, when the watermark (the latest
 * event time seen) passes its end plus allowedLateness. Then the inner pipeline is flushed and its
 * results leave with the window's bounds in the stream metadata. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/bson_raw.h"
#include "engine/ops/stages.h"
#include "engine/plan/plan.h"
#include "engine/windows/common.h"

typedef struct {
  bool hopping, processing_time;
  int64_t interval_ms, hop_ms, lateness_ms, idle_ms, offset_ms;
  aspd_planned_stage_t *stages; /* the inner pipeline */
  size_t stage_count;
  char *ts_field, *meta_field; /* meta_field NULL when disabled */
  aspd_window_meta_t meta;
} window_spec_t;

typedef aspd_window_run_t open_window_t;

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
    aspd_window_invalid(err, "Only one window stage is allowed in a pipeline.");
    return NULL;
  }
  bson_t spec;
  aspd_spec_doc(value, &spec);
  window_spec_t *w = calloc(1, sizeof *w);
  w->hopping = !strcmp(ctx->name, "$hoppingWindow");
  w->lateness_ms = ASPD_WINDOW_DEFAULT_LATENESS_MS;
  bson_iter_t it;
  bool ok = true;
  if (!bson_iter_init_find(&it, &spec, "interval")) {
    ok = aspd_window_invalid(err, "Window stage needs an 'interval'");
  } else {
    ok = aspd_window_duration(&it, "size", "interval", &w->interval_ms, err);
    if (ok && w->interval_ms <= 0)
      ok = aspd_window_invalid(err, "Window interval size must be greater than 0.");
  }
  if (ok && w->hopping) {
    if (!bson_iter_init_find(&it, &spec, "hopSize")) {
      ok = aspd_window_invalid(err, "$hoppingWindow needs a 'hopSize'");
    } else {
      ok = aspd_window_duration(&it, "size", "hopSize", &w->hop_ms, err);
      if (ok && w->hop_ms <= 0)
        ok = aspd_window_invalid(err, "Window hopSize size must be greater than 0.");
    }
  }
  if (ok && w->hopping && w->interval_ms / w->hop_ms > ASPD_WINDOW_MAX_OVERLAP) {
    ok = aspd_window_invalid(err,
                             "$hoppingWindow: interval / hopSize must be at most 10000 "
                             "(each document belongs to that many windows)");
  }
  if (ok && !w->hopping) w->hop_ms = w->interval_ms;
  ok = ok &&
       aspd_window_optional_duration(
           &spec, "allowedLateness",
           "Must specify unit and size for non-zero allowed lateness values", &w->lateness_ms, err);
  if (ok && w->lateness_ms > ASPD_WINDOW_MAX_LATENESS_MS)
    ok = aspd_window_invalid(err, "Maximum allowedLateness is 30 minutes");
  ok = ok && aspd_window_optional_duration(
                 &spec, "idleTimeout",
                 "Must specify unit and size for non-zero idle timeout values", &w->idle_ms, err);
  if (ok && bson_iter_init_find(&it, &spec, "offset")) {
    ok = aspd_window_duration(&it, "offsetFromUtc", "offset", &w->offset_ms, err);
  }
  ok = ok && aspd_window_boundary(&spec, ctx->name, &w->processing_time, err);
  if (w->processing_time) w->lateness_ms = 0;
  if (ok && (!bson_iter_init_find(&it, &spec, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))) {
    ok = aspd_window_invalid(err, "Window stage needs a 'pipeline' array");
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
  w->meta = (aspd_window_meta_t){w->meta_field, aspd_plan_source_type(ctx->plan)};
  ctx->plan->has_window = true;
  return w;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The windows holding event_ms: k from *first_k to *last_k, each starting at k * hop + offset;
 * false when one of their bounds (the end plus the allowed lateness too) leaves the int64
 * range, for dates near its ends or a huge offset. Starts grow with k, so checking the first
 * start and the last end covers every window. */
static bool window_span(const window_spec_t *spec, int64_t event_ms, int64_t *first_k,
                        int64_t *last_k) {
  int64_t rel, low, start, end;
  if (__builtin_sub_overflow(event_ms, spec->offset_ms, &rel) ||
      __builtin_sub_overflow(rel, spec->interval_ms, &low) ||
      __builtin_add_overflow(floor_div(low, spec->hop_ms), 1, first_k)) {
    return false;
  }
  *last_k = floor_div(rel, spec->hop_ms);
  return !__builtin_mul_overflow(*first_k, spec->hop_ms, &start) &&
         !__builtin_add_overflow(start, spec->offset_ms, &start) &&
         !__builtin_mul_overflow(*last_k, spec->hop_ms, &end) &&
         !__builtin_add_overflow(end, spec->offset_ms, &end) &&
         !__builtin_add_overflow(end, spec->interval_ms, &end) &&
         !__builtin_add_overflow(end, spec->lateness_ms, &end);
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

/* Closes the windows the watermark has passed (every one when `all`), in start order. */
static void close_due(window_op_t *op, aspd_flow_t *flow, bool all) {
  while (op->count > 0) {
    open_window_t w = op->windows[0];
    if (!all && (!op->seen || w.end + op->spec->lateness_ms > op->watermark)) break;
    memmove(&op->windows[0], &op->windows[1], (op->count - 1) * sizeof *op->windows);
    op->count--;
    if (!op->any_closed || w.end > op->closed_end) op->closed_end = w.end;
    op->any_closed = true;
    aspd_window_run_close(&w, &op->spec->meta, flow);
  }
}

static void push(aspd_op_t *base, bson_t *doc, aspd_flow_t *flow) {
  window_op_t *op = (window_op_t *)base;
  const window_spec_t *spec = op->spec;
  bson_value_t ts;
  bson_value_t whole = aspd_doc_value(doc);
  int64_t event_ms = !spec->processing_time &&
                             aspd_raw_get(&whole, spec->ts_field, strlen(spec->ts_field), &ts) &&
                             ts.value_type == BSON_TYPE_DATE_TIME
                         ? ts.value.v_datetime
                         : flow->out->now_ms;
  int64_t first_k, last_k;
  if (!window_span(spec, event_ms, &first_k, &last_k)) {
    aspd_flow_reject(flow, doc, "Input document's time has no window: its bounds overflow");
    aspd_doc_release(flow->ev, doc);
    return;
  }
  /* Every window but the last one gets a copy; the last one takes the document. */
  aspd_window_run_t *pending = NULL;
  for (int64_t k = first_k; k <= last_k; k++) {
    int64_t start = k * spec->hop_ms + spec->offset_ms, end = start + spec->interval_ms;
    if (op->any_closed && end <= op->closed_end) continue; /* that window is gone */
    /* A window the watermark has already passed would close at once: too late for it. */
    if (op->seen && end + spec->lateness_ms <= op->watermark) continue;
    if (pending) aspd_window_run_push(pending, bson_copy(doc), flow);
    pending = window_at(op, start, end);
  }
  if (!op->seen || event_ms > op->watermark) op->watermark = event_ms;
  op->seen = true;
  if (pending) {
    aspd_window_run_push(pending, doc, flow);
  } else {
    aspd_flow_reject(flow, doc, "Input document arrived late.");
    aspd_doc_release(flow->ev, doc);
  }
  close_due(op, flow, false);
}

static void flush(aspd_op_t *base, const aspd_flush_t *why, aspd_flow_t *flow) {
  window_op_t *op = (window_op_t *)base;
  /* On processing time the clock moves the watermark, input or not. */
  if (op->spec->processing_time && (!op->seen || why->now_ms > op->watermark)) {
    op->watermark = why->now_ms;
    op->seen = true;
  }
  int64_t idle = op->spec->idle_ms;
  bool idle_past = idle > 0 && why->last_input_ms > 0 && why->now_ms - why->last_input_ms >= idle;
  close_due(op, flow, why->end || idle_past);
}

static int64_t state_bytes(const aspd_op_t *base) {
  const window_op_t *op = (const window_op_t *)base;
  int64_t total = 0;
  for (size_t i = 0; i < op->count; i++) {
    total += aspd_window_run_bytes(&op->windows[i]);
  }
  return total;
}

/* {watermark, seen, closedEnd, anyClosed, windows: [<each open window's run>]}. */
static void checkpoint(const aspd_op_t *base, bson_t *out) {
  const window_op_t *op = (const window_op_t *)base;
  BSON_APPEND_INT64(out, "watermark", op->watermark);
  BSON_APPEND_BOOL(out, "seen", op->seen);
  BSON_APPEND_INT64(out, "closedEnd", op->closed_end);
  BSON_APPEND_BOOL(out, "anyClosed", op->any_closed);
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "windows", &list);
  for (size_t i = 0; i < op->count; i++) {
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_t w;
    bson_append_document_begin(&list, k, (int)len, &w);
    aspd_window_run_checkpoint(&op->windows[i], &w);
    bson_append_document_end(&list, &w);
  }
  bson_append_array_end(out, &list);
}

static bool restore(aspd_op_t *base, const bson_t *state) {
  window_op_t *op = (window_op_t *)base;
  bson_iter_t it, item;
  if (!aspd_window_int64(state, "watermark", &op->watermark) ||
      !aspd_window_bool(state, "seen", &op->seen) ||
      !aspd_window_int64(state, "closedEnd", &op->closed_end) ||
      !aspd_window_bool(state, "anyClosed", &op->any_closed) ||
      !bson_iter_init_find(&it, state, "windows") || !BSON_ITER_HOLDS_ARRAY(&it)) {
    return false;
  }
  bson_iter_recurse(&it, &item);
  while (bson_iter_next(&item)) {
    const uint8_t *data;
    uint32_t len;
    bson_t w;
    int64_t start, end;
    if (!BSON_ITER_HOLDS_DOCUMENT(&item)) return false;
    bson_iter_document(&item, &len, &data);
    /* The windows' bounds must be this spec's (a changed pipeline is not restored). */
    if (!bson_init_static(&w, data, len) || !aspd_window_int64(&w, "start", &start) ||
        !aspd_window_int64(&w, "end", &end) || end - start != op->spec->interval_ms ||
        (op->count && start <= op->windows[op->count - 1].start)) {
      return false;
    }
    if (!aspd_window_run_restore(window_at(op, start, end), &w)) return false;
  }
  return true;
}

static void window_free(aspd_op_t *base) {
  window_op_t *op = (window_op_t *)base;
  for (size_t i = 0; i < op->count; i++) aspd_window_run_free(&op->windows[i]);
  free(op->windows);
  free(op);
}

static const aspd_op_vtable_t vt = {.push = push,
                                    .flush = flush,
                                    .state_bytes = state_bytes,
                                    .free = window_free,
                                    .checkpoint = checkpoint,
                                    .restore = restore};

aspd_op_t *aspd_window_make(const void *spec) {
  window_op_t *op = calloc(1, sizeof *op);
  op->base.vt = &vt;
  op->spec = spec;
  return &op->base;
}
