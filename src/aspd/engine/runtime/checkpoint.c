/* The operators' part of a processor's checkpoint: what its stateful operators
 * hold (open windows with their inner pipelines' state, groups, buffered
 * documents, watermarks), taken when the flusher takes the sink contents and the
 * source position, so that the three commit together and a restart resumes
 * from one consistent moment. It is stamped with the checkpoint epoch (a reset
 * checkpoint makes it void) and a hash of the pipeline (a pipeline modified with
 * resumeFromCheckpoint begins its windows afresh). */
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/engine_internal.h"
#include "log.h"

static int64_t pipeline_hash(const bson_t *pipeline) {
  uint64_t h = 1469598103934665603ULL;
  const uint8_t *data = bson_get_data(pipeline);
  for (uint32_t i = 0; i < pipeline->len; i++) h = (h ^ data[i]) * 1099511628211ULL;
  return (int64_t)h;
}

/* What moves a processor's operators: documents in and out. While it stays the
 * same, the operators hold what they held at the last checkpoint. */
static int64_t progress(const aspd_processor_t *p) {
  return p->totals.input_count + p->totals.output_count + p->totals.dlq_count;
}

static bool any_stateful(const aspd_pipeline_t *ops) {
  for (size_t i = 0; i < ops->count; i++) {
    if (ops->ops[i]->vt->checkpoint) return true;
  }
  return false;
}

/* {pipeline: hash, state: [...]} of the running operators. */
static bson_t *take(const aspd_processor_t *p) {
  bson_t *out = bson_new(), state;
  BSON_APPEND_INT64(out, "pipeline", pipeline_hash(p->pipeline));
  BSON_APPEND_ARRAY_BEGIN(out, "state", &state);
  aspd_pipeline_checkpoint(&p->ops, &state);
  bson_append_array_end(out, &state);
  return out;
}

static void set_kept(aspd_processor_t *p, bson_t *operators) {
  if (p->operators) bson_destroy(p->operators);
  p->operators = operators;
  p->operators_epoch = p->checkpoint_epoch;
}

bson_t *aspd_operators_checkpoint(aspd_processor_t *p) {
  if (!p->plan) {
    bool current = p->operators && p->operators_epoch == p->checkpoint_epoch;
    return current ? bson_copy(p->operators) : NULL;
  }
  if (!any_stateful(&p->ops)) return NULL;
  int64_t now = progress(p);
  if (!p->operators_taken || p->operators_progress != now) {
    if (p->operators_taken) bson_destroy(p->operators_taken);
    p->operators_taken = take(p);
    p->operators_progress = now;
  }
  return bson_copy(p->operators_taken);
}

bson_t *aspd_processor_batch_checkpoint(aspd_processor_t *p) {
  bson_t *source = aspd_processor_checkpoint(p);
  bson_t *operators = aspd_operators_checkpoint(p);
  if (!source && !operators) return NULL;
  bson_t *doc = bson_new();
  BSON_APPEND_INT64(doc, "epoch", p->checkpoint_epoch);
  if (source) BSON_APPEND_DOCUMENT(doc, "checkpoint", source);
  if (operators) BSON_APPEND_DOCUMENT(doc, "operators", operators);
  if (source) bson_destroy(source);
  if (operators) bson_destroy(operators);
  return doc;
}

void aspd_operators_load(aspd_processor_t *p, const bson_t *batch) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, batch, "operators") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  set_kept(p, bson_new_from_data(data, len));
}

void aspd_operators_keep(aspd_processor_t *p) {
  /* Interactive processors never start again. */
  if (p->plan && !p->ephemeral && any_stateful(&p->ops)) set_kept(p, take(p));
  if (p->operators_taken) bson_destroy(p->operators_taken);
  p->operators_taken = NULL;
}

void aspd_operators_restore(aspd_processor_t *p) {
  if (p->operators_taken) bson_destroy(p->operators_taken);
  p->operators_taken = NULL;
  if (!p->operators || p->operators_epoch != p->checkpoint_epoch) return;
  bson_iter_t hash, state;
  if (!bson_iter_init_find(&hash, p->operators, "pipeline") || !BSON_ITER_HOLDS_INT64(&hash) ||
      bson_iter_int64(&hash) != pipeline_hash(p->pipeline)) {
    return; /* another pipeline: its windows begin afresh */
  }
  if (bson_iter_init_find(&state, p->operators, "state") &&
      aspd_pipeline_restore(&p->ops, bson_iter_value(&state))) {
    return;
  }
  aspd_log(
      "processor %s: its operators' checkpoint could not be restored; its windows begin "
      "afresh",
      p->name);
  aspd_pipeline_free(&p->ops);
  aspd_pipeline_make(p->plan->stages, p->plan->stage_count, &p->ops);
}
