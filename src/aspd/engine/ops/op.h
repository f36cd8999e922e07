/* The one operator interface. Every stage of a pipeline (main or a window's
 * inner one) runs as an aspd_op_t behind this vtable, and one runner
 * (runtime/pipeline.c) moves documents between them:
 *   push        takes a document (owned) and hands results on with
 *               aspd_flow_emit, or rejects it (dead letter) with aspd_flow_reject;
 *   flush       the watermark moved or the input ended: blocking operators
 *               hand on what they hold (NULL for stateless operators);
 *   state_bytes bytes held (stats' stateSize; NULL = none);
 *   free        frees the instance;
 *   checkpoint  appends the operator's state to a document (NULL for stateless
 *               operators), taken between documents when the flusher commits;
 *   restore     rebuilds a fresh instance's state from what checkpoint wrote
 *               (false when the document is not one it wrote).
 * Rows are written with designated initializers: what a stage leaves out is NULL.
 * An operator instance is made by its stage row's constructor from the spec
 * the planner compiled once; windows make one inner pipeline per open window. */
#ifndef ASPD_OP_H
#define ASPD_OP_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/expr/expr.h"

typedef struct {
  int64_t input_count, output_count, dlq_count;
  double input_size, output_size, dlq_size;
} aspd_counters_t;

typedef struct aspd_op aspd_op_t;
typedef struct aspd_flow aspd_flow_t;

/* Why a flush happens: the latest event time seen, the processing time, and
 * whether the input has ended (source exhausted or idle past idleTimeout is
 * decided by the operator from last_input_ms). */
typedef struct {
  int64_t now_ms;
  int64_t last_input_ms; /* processing time of the last source document, 0 = none yet */
  bool end;              /* no more input will come */
} aspd_flush_t;

typedef struct {
  void (*push)(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow);
  void (*flush)(aspd_op_t *op, const aspd_flush_t *why, aspd_flow_t *flow);
  int64_t (*state_bytes)(const aspd_op_t *op);
  void (*free)(aspd_op_t *op);
  void (*checkpoint)(const aspd_op_t *op, bson_t *out);
  bool (*restore)(aspd_op_t *op, const bson_t *state);
} aspd_op_vtable_t;

struct aspd_op {
  const aspd_op_vtable_t *vt;
};

/* A chain of operator instances. */
typedef struct {
  aspd_op_t **ops;
  size_t count;
} aspd_pipeline_t;

/* Where a pipeline's results and rejects go. */
typedef struct aspd_pipeline_out aspd_pipeline_out_t;
struct aspd_pipeline_out {
  /* A document that passed every operator (owned by the callee). */
  void (*emit)(aspd_pipeline_out_t *self, bson_t *doc);
  /* A document operator `index` could not handle, with the reason. */
  void (*reject)(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason);
  aspd_counters_t *counters; /* one per operator, or NULL */
  aspd_eval_t *ev;           /* shared by the operators' expressions */
  int64_t now_ms;            /* processing time (event time of documents without one) */
};

struct aspd_flow {
  aspd_pipeline_t *pipeline;
  size_t index;
  aspd_pipeline_out_t *out;
  aspd_eval_t *ev;
};

/* The runner (runtime/pipeline.c). */
void aspd_pipeline_push(aspd_pipeline_t *p, size_t index, bson_t *doc, aspd_pipeline_out_t *out);
void aspd_pipeline_flush(aspd_pipeline_t *p, const aspd_flush_t *why, aspd_pipeline_out_t *out);
int64_t aspd_pipeline_state_bytes(const aspd_pipeline_t *p);
/* Appends one element per operator to the array `out`: its checkpoint document,
 * or null for a stateless operator. */
void aspd_pipeline_checkpoint(const aspd_pipeline_t *p, bson_t *out);
/* Restores a freshly made pipeline from what aspd_pipeline_checkpoint wrote for
 * the same stages; false (state partly restored: free the pipeline) when it does
 * not fit them. */
bool aspd_pipeline_restore(aspd_pipeline_t *p, const bson_value_t *state);
void aspd_pipeline_free(aspd_pipeline_t *p);
/* Hands doc (owned) to the operator after flow's. */
void aspd_flow_emit(aspd_flow_t *flow, bson_t *doc);
/* Dead-letters doc (not taken) with a reason. */
void aspd_flow_reject(aspd_flow_t *flow, const bson_t *doc, const char *reason);
/* Fails the processor with a reason (the first one counts); its run ends after this turn. */
void aspd_flow_fail(aspd_flow_t *flow, const char *reason);

/* A bson_value_t over a whole document. */
static inline bson_value_t aspd_doc_value(const bson_t *doc) {
  bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
  v.value.v_doc.data = aspd_bytes(bson_get_data(doc));
  v.value.v_doc.data_len = doc->len;
  return v;
}

#endif
