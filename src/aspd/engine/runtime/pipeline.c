/* The one pipeline runner: main pipelines and windows' inner pipelines alike. */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/op.h"

static void count(aspd_counters_t *c, bool input, const bson_t *doc) {
  if (input) {
    c->input_count++;
    c->input_size += doc->len;
  } else {
    c->output_count++;
    c->output_size += doc->len;
  }
}

void aspd_pipeline_push(aspd_pipeline_t *p, size_t index, bson_t *doc, aspd_pipeline_out_t *out) {
  if (index == p->count) {
    out->emit(out, doc);
    return;
  }
  if (out->counters) count(&out->counters[index], true, doc);
  aspd_flow_t flow = {p, index, out, out->ev};
  p->ops[index]->vt->push(p->ops[index], doc, &flow);
}

void aspd_flow_emit(aspd_flow_t *flow, bson_t *doc) {
  if (flow->out->counters) count(&flow->out->counters[flow->index], false, doc);
  aspd_pipeline_push(flow->pipeline, flow->index + 1, doc, flow->out);
}

void aspd_flow_reject(aspd_flow_t *flow, const bson_t *doc, const char *reason) {
  if (flow->out->counters) {
    flow->out->counters[flow->index].dlq_count++;
    flow->out->counters[flow->index].dlq_size += doc->len;
  }
  flow->out->reject(flow->out, flow->index, doc, reason);
}

void aspd_flow_fail(aspd_flow_t *flow, const char *reason) {
  if (!flow->ev->failure) flow->ev->failure = strdup(reason);
}

void aspd_pipeline_flush(aspd_pipeline_t *p, const aspd_flush_t *why, aspd_pipeline_out_t *out) {
  /* In order: what an earlier operator lets go still passes the later ones before they flush. */
  for (size_t i = 0; i < p->count; i++) {
    if (!p->ops[i]->vt->flush) continue;
    aspd_flow_t flow = {p, i, out, out->ev};
    p->ops[i]->vt->flush(p->ops[i], why, &flow);
  }
}

int64_t aspd_pipeline_state_bytes(const aspd_pipeline_t *p) {
  int64_t total = 0;
  for (size_t i = 0; i < p->count; i++) {
    if (p->ops[i]->vt->state_bytes) total += p->ops[i]->vt->state_bytes(p->ops[i]);
  }
  return total;
}

void aspd_pipeline_checkpoint(const aspd_pipeline_t *p, bson_t *out) {
  for (size_t i = 0; i < p->count; i++) {
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    const aspd_op_t *op = p->ops[i];
    if (!op->vt->checkpoint) {
      bson_append_null(out, k, (int)len);
      continue;
    }
    bson_t state;
    bson_append_document_begin(out, k, (int)len, &state);
    op->vt->checkpoint(op, &state);
    bson_append_document_end(out, &state);
  }
}

bool aspd_pipeline_restore(aspd_pipeline_t *p, const bson_value_t *state) {
  if (state->value_type != BSON_TYPE_ARRAY) return false;
  bson_iter_t it;
  if (!bson_iter_init_from_data(&it, state->value.v_doc.data, state->value.v_doc.data_len)) {
    return false;
  }
  size_t i = 0;
  for (; bson_iter_next(&it); i++) {
    if (i == p->count) return false;
    aspd_op_t *op = p->ops[i];
    if (!op->vt->restore) {
      if (!BSON_ITER_HOLDS_NULL(&it)) return false;
      continue;
    }
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
    const uint8_t *data;
    uint32_t len;
    bson_t doc;
    bson_iter_document(&it, &len, &data);
    if (!bson_init_static(&doc, data, len) || !op->vt->restore(op, &doc)) return false;
  }
  return i == p->count;
}

void aspd_pipeline_free(aspd_pipeline_t *p) {
  for (size_t i = 0; i < p->count; i++) p->ops[i]->vt->free(p->ops[i]);
  free(p->ops);
  p->ops = NULL;
  p->count = 0;
}
