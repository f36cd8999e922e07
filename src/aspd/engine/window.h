/* Window stages ($tumblingWindow, $hoppingWindow) on event time (the source
 * timestamp field): documents are held per window; a window closes when the
 * watermark (the latest event time seen) passes its end plus allowedLateness,
 * and its documents then run through the inner pipeline ($group, $sort,
 * $limit, $count and the stateless stages). */
#ifndef ASPD_WINDOW_H
#define ASPD_WINDOW_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/error.h"

typedef struct {
  bool hopping;
  int64_t interval_ms, hop_ms, lateness_ms, idle_ms, offset_ms;
  bson_t *pipeline; /* inner pipeline (array) */
} aspd_window_spec_t;

typedef struct aspd_window_state aspd_window_state_t;

/* Plans `stage` ($tumblingWindow or $hoppingWindow) from its spec; NULL with err. */
aspd_window_spec_t *aspd_window_plan(const char *stage, const bson_t *spec, aspd_error_t *err);
void aspd_window_spec_free(aspd_window_spec_t *spec);

aspd_window_state_t *aspd_window_state_new(void);
void aspd_window_state_free(aspd_window_state_t *state);

/* Holds doc in every window its event time falls in. False when it is late
 * (each of its windows has closed already). */
bool aspd_window_add(const aspd_window_spec_t *spec, aspd_window_state_t *state, const bson_t *doc,
                     int64_t event_ms);

/* Called for each document a closing window produces (the callee copies it). */
typedef void (*aspd_window_emit_fn)(const bson_t *doc, void *ctx);

/* Closes the windows the watermark has passed (every window when flush_all) in
 * start order; `meta_field` (may be NULL) receives {source, window:{start, end}}. */
void aspd_window_close(const aspd_window_spec_t *spec, aspd_window_state_t *state, bool flush_all,
                       const char *meta_field, const char *source_type, aspd_window_emit_fn emit,
                       void *ctx);

/* Bytes held by open windows (stats' stateSize). */
int64_t aspd_window_state_bytes(const aspd_window_state_t *state);

#endif
