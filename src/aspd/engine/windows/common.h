/* What the window stages share: durations in specs, and one window's run of
 * the inner pipeline (its operator instances, the bounds $meta sees while it
 * runs, and what it hands on, held until the window closes). */
#ifndef ASPD_WINDOW_COMMON_H
#define ASPD_WINDOW_COMMON_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/ops/held_docs.h"
#include "engine/ops/op.h"

#define ASPD_WINDOW_DEFAULT_LATENESS_MS 3000
#define ASPD_WINDOW_MAX_LATENESS_MS (30 * 60 * 1000)
/* aspd's own bound: a hopping window whose interval holds more hops than this would
 * give each document to that many windows. */
#define ASPD_WINDOW_MAX_OVERLAP 10000

typedef struct {
  int64_t start, end;
  bson_t *partition; /* {v: key} for session windows, else NULL */
  aspd_pipeline_t inner;
  aspd_held_docs_t held; /* what the inner pipeline handed on */
} aspd_window_run_t;

/* Where closing windows stamp their bounds. */
typedef struct {
  const char *meta_field; /* NULL when disabled */
  const char *source_type;
} aspd_window_meta_t;

/* Sets a StreamProcessorInvalidOptions error; false. */
bool aspd_window_invalid(aspd_error_t *err, const char *message);
/* {size, unit} (size under `size_key`) in ms; `what` names the field in messages. */
bool aspd_window_duration(bson_iter_t *it, const char *size_key, const char *what, int64_t *ms,
                          aspd_error_t *err);
/* allowedLateness / idleTimeout: absent (unchanged), the integer 0, or {size, unit}. */
bool aspd_window_optional_duration(const bson_t *spec, const char *key,
                                   const char *bare_int_message, int64_t *ms, aspd_error_t *err);

/* `boundary`: eventTime (default) or processingTime (*processing true). With
 * processingTime, allowedLateness and idleTimeout are refused. */
bool aspd_window_boundary(const bson_t *spec, const char *stage, bool *processing,
                          aspd_error_t *err);

/* Pushes doc (owned) into the window's inner pipeline, its bounds visible to $meta. */
void aspd_window_run_push(aspd_window_run_t *w, bson_t *doc, aspd_flow_t *flow);
/* Flushes the inner pipeline and hands on what it produced, stamped with the
 * window's bounds; frees the run. */
void aspd_window_run_close(aspd_window_run_t *w, const aspd_window_meta_t *meta, aspd_flow_t *flow);
void aspd_window_run_free(aspd_window_run_t *w);
int64_t aspd_window_run_bytes(const aspd_window_run_t *w);
/* Appends {start, end, held: [...], inner: [...]}: what the window holds. */
void aspd_window_run_checkpoint(const aspd_window_run_t *w, bson_t *out);
/* Restores held and inner into a run made with its bounds and a fresh inner pipeline. */
bool aspd_window_run_restore(aspd_window_run_t *w, const bson_t *state);

/* The int64 (or date) field key of in; false when missing or of another type. */
bool aspd_window_int64(const bson_t *in, const char *key, int64_t *out);
/* The bool field key of in; false when missing or of another type. */
bool aspd_window_bool(const bson_t *in, const char *key, bool *out);

#endif
