#include "engine/windows/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool aspd_window_invalid(aspd_error_t *err, const char *message) {
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

bool aspd_window_duration(bson_iter_t *it, const char *size_key, const char *what, int64_t *ms,
                          aspd_error_t *err) {
  bson_iter_t f;
  int64_t size = 0, unit = 0;
  bool have_size = false, size_fits = true;
  if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s must be an object with size and unit", what);
    return false;
  }
  bson_iter_recurse(it, &f);
  while (bson_iter_next(&f)) {
    if (!strcmp(bson_iter_key(&f), size_key) && BSON_ITER_HOLDS_NUMBER(&f)) {
      /* A double beyond int64 cannot be converted (undefined behaviour): refused below. */
      size_fits = !BSON_ITER_HOLDS_DOUBLE(&f) || fabs(bson_iter_double(&f)) < 9.2e18;
      size = size_fits ? bson_iter_as_int64(&f) : 0;
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
  if (!size_fits || __builtin_mul_overflow(size, unit, ms)) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS, "%s %s is too large", what, size_key);
    return false;
  }
  return true;
}

bool aspd_window_optional_duration(const bson_t *spec, const char *key,
                                   const char *bare_int_message, int64_t *ms, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, spec, key)) return true;
  if (BSON_ITER_HOLDS_NUMBER(&it)) {
    if (aspd_iter_as_int64(&it) != 0) return aspd_window_invalid(err, bare_int_message);
    *ms = 0;
    return true;
  }
  return aspd_window_duration(&it, "size", key, ms, err);
}

bool aspd_window_boundary(const bson_t *spec, const char *stage, bool *processing,
                          aspd_error_t *err) {
  static const char *const time_options[] = {"allowedLateness", "idleTimeout"};
  bson_iter_t it;
  *processing = false;
  if (!bson_iter_init_find(&it, spec, "boundary")) return true;
  const char *b = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
  if (strcmp(b, "eventTime") && strcmp(b, "processingTime")) {
    aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                   "%s.boundary must be one of eventTime, processingTime, found: %s", stage,
                   BSON_ITER_HOLDS_UTF8(&it) ? b : aspd_type_name(bson_iter_type(&it)));
    return false;
  }
  *processing = !strcmp(b, "processingTime");
  for (size_t i = 0; *processing && i < 2; i++) {
    if (bson_iter_init_find(&it, spec, time_options[i])) {
      aspd_error_set(err, ASPD_E_SP_INVALID_OPTIONS,
                     "%s.%s is not allowed with boundary 'processingTime'", stage, time_options[i]);
      return false;
    }
  }
  return true;
}

/* The inner pipeline's output: held by its window; its rejects go to the
 * processor's dead letters as the window operator's. */
typedef struct {
  aspd_pipeline_out_t base;
  aspd_window_run_t *window;
  aspd_flow_t *outer;
} inner_out_t;

static void hold(aspd_pipeline_out_t *self, bson_t *doc) {
  aspd_held_docs_add(&((inner_out_t *)self)->window->held, doc);
}

static void reject(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason) {
  (void)index;
  aspd_flow_reject(((inner_out_t *)self)->outer, doc, reason);
}

static void enter(aspd_window_run_t *w, aspd_flow_t *flow, inner_out_t *out,
                  bson_value_t *partition) {
  *out = (inner_out_t){{hold, reject, NULL, flow->ev, flow->out->now_ms}, w, flow};
  flow->ev->in_window = true;
  flow->ev->window_start = w->start;
  flow->ev->window_end = w->end;
  flow->ev->window_partition = NULL;
  bson_iter_t it;
  if (w->partition && bson_iter_init_find(&it, w->partition, "v")) {
    *partition = *bson_iter_value(&it);
    flow->ev->window_partition = partition;
  }
}

static void leave(aspd_flow_t *flow) {
  flow->ev->in_window = false;
  flow->ev->window_partition = NULL;
}

void aspd_window_run_push(aspd_window_run_t *w, bson_t *doc, aspd_flow_t *flow) {
  inner_out_t out;
  bson_value_t partition;
  enter(w, flow, &out, &partition);
  aspd_pipeline_push(&w->inner, 0, doc, &out.base);
  leave(flow);
}

static bson_t *with_window_meta(const aspd_window_meta_t *meta, bson_t *doc,
                                const aspd_window_run_t *w) {
  bson_t *out = bson_new();
  bson_copy_to_excluding_noinit(doc, out, meta->meta_field, NULL);
  bson_t m, source, window;
  bson_append_document_begin(out, meta->meta_field, -1, &m);
  BSON_APPEND_DOCUMENT_BEGIN(&m, "source", &source);
  BSON_APPEND_UTF8(&source, "type", meta->source_type);
  bson_append_document_end(&m, &source);
  BSON_APPEND_DOCUMENT_BEGIN(&m, "window", &window);
  BSON_APPEND_DATE_TIME(&window, "start", w->start);
  BSON_APPEND_DATE_TIME(&window, "end", w->end);
  bson_iter_t it;
  if (w->partition && bson_iter_init_find(&it, w->partition, "v")) {
    bson_append_value(&window, "partition", -1, bson_iter_value(&it));
  }
  bson_append_document_end(&m, &window);
  bson_append_document_end(out, &m);
  bson_destroy(doc);
  return out;
}

void aspd_window_run_close(aspd_window_run_t *w, const aspd_window_meta_t *meta,
                           aspd_flow_t *flow) {
  inner_out_t out;
  bson_value_t partition;
  enter(w, flow, &out, &partition);
  aspd_flush_t end = {flow->out->now_ms, 0, true};
  aspd_pipeline_flush(&w->inner, &end, &out.base);
  leave(flow);
  aspd_pipeline_free(&w->inner);
  size_t count;
  bson_t **held = aspd_held_docs_take(&w->held, &count);
  for (size_t i = 0; i < count; i++) {
    bson_t *doc = held[i];
    if (meta->meta_field) doc = with_window_meta(meta, doc, w);
    aspd_flow_emit(flow, doc);
  }
  free(held);
  aspd_window_run_free(w);
}

void aspd_window_run_free(aspd_window_run_t *w) {
  aspd_pipeline_free(&w->inner);
  aspd_held_docs_clear(&w->held);
  if (w->partition) bson_destroy(w->partition);
  w->partition = NULL;
}

int64_t aspd_window_run_bytes(const aspd_window_run_t *w) {
  return w->held.bytes + aspd_pipeline_state_bytes(&w->inner);
}

bool aspd_window_int64(const bson_t *in, const char *key, int64_t *out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, in, key)) return false;
  if (BSON_ITER_HOLDS_INT64(&it)) {
    *out = bson_iter_int64(&it);
  } else if (BSON_ITER_HOLDS_DATE_TIME(&it)) {
    *out = bson_iter_date_time(&it);
  } else {
    return false;
  }
  return true;
}

bool aspd_window_bool(const bson_t *in, const char *key, bool *out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, in, key) || !BSON_ITER_HOLDS_BOOL(&it)) return false;
  *out = bson_iter_bool(&it);
  return true;
}

void aspd_window_run_checkpoint(const aspd_window_run_t *w, bson_t *out) {
  BSON_APPEND_INT64(out, "start", w->start);
  BSON_APPEND_INT64(out, "end", w->end);
  aspd_held_docs_save(&w->held, out, "held");
  bson_t inner;
  BSON_APPEND_ARRAY_BEGIN(out, "inner", &inner);
  aspd_pipeline_checkpoint(&w->inner, &inner);
  bson_append_array_end(out, &inner);
}

bool aspd_window_run_restore(aspd_window_run_t *w, const bson_t *state) {
  bson_iter_t it;
  return aspd_held_docs_load(&w->held, state, "held") && bson_iter_init_find(&it, state, "inner") &&
         aspd_pipeline_restore(&w->inner, bson_iter_value(&it));
}
