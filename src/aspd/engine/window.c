#include "engine/window.h"

#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/blocking.h"

#define DEFAULT_LATENESS_MS 3000
#define MAX_LATENESS_MS (30 * 60 * 1000)

typedef struct {
  int64_t start, end;
  aspd_doc_list_t docs;
  int64_t bytes;
} open_window_t;

struct aspd_window_state {
  open_window_t *windows; /* ordered by start */
  size_t count, cap;
  int64_t watermark; /* latest event time seen */
  bool seen;
  int64_t closed_end; /* every window ending at or before this has closed */
  bool any_closed;
};

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

aspd_window_spec_t *aspd_window_plan(const char *stage, const bson_t *spec, aspd_error_t *err) {
  aspd_window_spec_t *w = calloc(1, sizeof *w);
  w->hopping = !strcmp(stage, "$hoppingWindow");
  w->lateness_ms = DEFAULT_LATENESS_MS;
  bson_iter_t it;
  bool ok = true;
  if (!bson_iter_init_find(&it, spec, "interval")) {
    ok = invalid(err, "Window stage needs an 'interval'");
  } else {
    ok = duration(&it, "size", "interval", &w->interval_ms, err);
    if (ok && w->interval_ms <= 0)
      ok = invalid(err, "Window interval size must be greater than 0.");
  }
  if (ok && w->hopping) {
    if (!bson_iter_init_find(&it, spec, "hopSize")) {
      ok = invalid(err, "$hoppingWindow needs a 'hopSize'");
    } else {
      ok = duration(&it, "size", "hopSize", &w->hop_ms, err);
      if (ok && w->hop_ms <= 0) ok = invalid(err, "Window hopSize size must be greater than 0.");
    }
  }
  if (ok && !w->hopping) w->hop_ms = w->interval_ms;
  ok = ok && optional_duration(spec, "allowedLateness",
                               "Must specify unit and size for non-zero allowed lateness values",
                               &w->lateness_ms, err);
  if (ok && w->lateness_ms > MAX_LATENESS_MS)
    ok = invalid(err, "Maximum allowedLateness is 30 minutes");
  ok = ok && optional_duration(spec, "idleTimeout",
                               "Must specify unit and size for non-zero idle timeout values",
                               &w->idle_ms, err);
  if (ok && bson_iter_init_find(&it, spec, "offset")) {
    ok = duration(&it, "offsetFromUtc", "offset", &w->offset_ms, err);
  }
  if (ok && bson_iter_init_find(&it, spec, "boundary") &&
      (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "eventTime"))) {
    ok = invalid(err, "boundary: only eventTime is supported by aspd yet");
  }
  if (ok && (!bson_iter_init_find(&it, spec, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it))) {
    ok = invalid(err, "Window stage needs a 'pipeline' array");
  }
  if (ok) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_array(&it, &len, &data);
    w->pipeline = bson_new_from_data(data, len);
    ok = aspd_inner_pipeline_validate(w->pipeline, err);
  }
  if (!ok) {
    aspd_window_spec_free(w);
    return NULL;
  }
  return w;
}

void aspd_window_spec_free(aspd_window_spec_t *spec) {
  if (!spec) return;
  if (spec->pipeline) bson_destroy(spec->pipeline);
  free(spec);
}

aspd_window_state_t *aspd_window_state_new(void) {
  return calloc(1, sizeof(aspd_window_state_t));
}

void aspd_window_state_free(aspd_window_state_t *state) {
  if (!state) return;
  for (size_t i = 0; i < state->count; i++) aspd_doc_list_clear(&state->windows[i].docs);
  free(state->windows);
  free(state);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static open_window_t *window_at(aspd_window_state_t *st, int64_t start, int64_t end) {
  size_t i = 0;
  while (i < st->count && st->windows[i].start < start) i++;
  if (i < st->count && st->windows[i].start == start) return &st->windows[i];
  if (st->count == st->cap) {
    st->cap = st->cap ? st->cap * 2 : 8;
    st->windows = realloc(st->windows, st->cap * sizeof *st->windows);
  }
  memmove(&st->windows[i + 1], &st->windows[i], (st->count - i) * sizeof *st->windows);
  st->count++;
  st->windows[i] = (open_window_t){.start = start, .end = end};
  return &st->windows[i];
}

bool aspd_window_add(const aspd_window_spec_t *spec, aspd_window_state_t *state, const bson_t *doc,
                     int64_t event_ms) {
  int64_t rel = event_ms - spec->offset_ms;
  int64_t last_k = floor_div(rel, spec->hop_ms);
  int64_t first_k = floor_div(rel - spec->interval_ms, spec->hop_ms) + 1;
  bool placed = false;
  for (int64_t k = first_k; k <= last_k; k++) {
    int64_t start = k * spec->hop_ms + spec->offset_ms, end = start + spec->interval_ms;
    if (state->any_closed && end <= state->closed_end) continue; /* that window is gone */
    open_window_t *w = window_at(state, start, end);
    aspd_doc_list_push(&w->docs, bson_copy(doc));
    w->bytes += doc->len;
    placed = true;
  }
  if (!state->seen || event_ms > state->watermark) state->watermark = event_ms;
  state->seen = true;
  return placed;
}

static bson_t *with_window_meta(const bson_t *doc, const char *meta_field, const char *source_type,
                                const open_window_t *w) {
  bson_t *out = bson_new();
  bson_copy_to_excluding_noinit(doc, out, meta_field, NULL);
  bson_t meta, source, window;
  bson_append_document_begin(out, meta_field, -1, &meta);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "source", &source);
  BSON_APPEND_UTF8(&source, "type", source_type);
  bson_append_document_end(&meta, &source);
  BSON_APPEND_DOCUMENT_BEGIN(&meta, "window", &window);
  BSON_APPEND_DATE_TIME(&window, "start", w->start);
  BSON_APPEND_DATE_TIME(&window, "end", w->end);
  bson_append_document_end(&meta, &window);
  bson_append_document_end(out, &meta);
  return out;
}

void aspd_window_close(const aspd_window_spec_t *spec, aspd_window_state_t *state, bool flush_all,
                       const char *meta_field, const char *source_type, aspd_window_emit_fn emit,
                       void *ctx) {
  while (state->count > 0) {
    open_window_t w = state->windows[0];
    if (!flush_all && (!state->seen || w.end + spec->lateness_ms > state->watermark)) break;
    memmove(&state->windows[0], &state->windows[1], (state->count - 1) * sizeof *state->windows);
    state->count--;
    if (!state->any_closed || w.end > state->closed_end) state->closed_end = w.end;
    state->any_closed = true;
    aspd_inner_pipeline_run(spec->pipeline, &w.docs);
    for (size_t i = 0; i < w.docs.count; i++) {
      if (meta_field) {
        bson_t *out = with_window_meta(w.docs.docs[i], meta_field, source_type, &w);
        emit(out, ctx);
        bson_destroy(out);
      } else {
        emit(w.docs.docs[i], ctx);
      }
    }
    aspd_doc_list_clear(&w.docs);
  }
}

int64_t aspd_window_state_bytes(const aspd_window_state_t *state) {
  int64_t total = 0;
  for (size_t i = 0; i < (state ? state->count : 0); i++) total += state->windows[i].bytes;
  return total;
}
