/* The pipeline planner, every stage and the expression evaluator on generated pipelines
 * and documents. Input: Extended JSON {"pipeline": [...], "docs": [...], "exprs": {...}}
 * (libFuzzer's text mutations mostly keep JSON parseable; fuzz/fuzz_pipeline.dict adds
 * stage and operator names). A pipeline that plans runs the way a processor runs it: each
 * document pushed through the operator chain, then a final flush (windows close). Each
 * value of `exprs` is compiled and, when valid, evaluated against the first document. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/expr.h"
#include "engine/ops/op.h"
#include "engine/plan/plan.h"
#include "registry/connections.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1700000000000LL

static aspd_registry_t *registry;

static void emit(aspd_pipeline_out_t *self, bson_t *doc) {
  (void)self;
  bson_destroy(doc);
}

static void reject(aspd_pipeline_out_t *self, size_t index, const bson_t *doc, const char *reason) {
  (void)self;
  (void)index;
  (void)doc;
  (void)reason;
}

/* The array or document under key, or false. */
static bool member(const bson_t *root, const char *key, bson_t *out) {
  bson_iter_t it;
  uint32_t len;
  const uint8_t *data;
  if (!bson_iter_init_find(&it, root, key)) return false;
  if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
  } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_array(&it, &len, &data);
  } else {
    return false;
  }
  return bson_init_static(out, data, len);
}

static void run_pipeline(const bson_t *pipeline, const bson_t *docs) {
  aspd_error_t err;
  aspd_plan_t *plan = aspd_plan_build(registry, pipeline, NULL, true, &err);
  if (!plan) return;
  aspd_pipeline_t ops;
  aspd_pipeline_make(plan->stages, plan->stage_count, &ops);
  aspd_eval_t ev;
  aspd_eval_init(&ev, plan->meta_field);
  aspd_counters_t *counters = calloc(plan->stage_count + 1, sizeof *counters);
  aspd_pipeline_out_t out = {emit, reject, counters, &ev, NOW_MS};
  bson_iter_t it;
  int64_t t = NOW_MS;
  if (docs && bson_iter_init(&it, docs)) {
    while (bson_iter_next(&it)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&it)) continue;
      uint32_t len;
      const uint8_t *data;
      bson_iter_document(&it, &len, &data);
      bson_t *doc = bson_new_from_data(data, len);
      if (!doc) continue;
      out.now_ms = t += 1000;
      aspd_pipeline_push(&ops, 0, doc, &out);
      aspd_eval_reset(&ev);
    }
  }
  aspd_flush_t why = {t + 3600 * 1000, t, true};
  aspd_pipeline_flush(&ops, &why, &out);
  aspd_eval_reset(&ev);
  aspd_pipeline_free(&ops);
  aspd_eval_free(&ev);
  free(counters);
  aspd_plan_free(plan);
}

static void run_exprs(const bson_t *exprs, const bson_t *doc) {
  bson_iter_t it;
  if (!bson_iter_init(&it, exprs)) return;
  while (bson_iter_next(&it)) {
    aspd_expr_compiler_t cc;
    aspd_expr_compiler_init(&cc);
    aspd_error_t err;
    aspd_expr_t *e = aspd_expr_compile(&cc, bson_iter_value(&it), &err);
    if (!e) continue;
    aspd_eval_t ev;
    aspd_eval_init(&ev, "_stream_meta");
    bson_value_t value;
    aspd_expr_eval_root(e, &ev, doc, &value);
    aspd_eval_free(&ev);
    aspd_expr_free(e);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!registry) registry = aspd_registry_new();
  bson_error_t error;
  bson_t *input = bson_new_from_json(data, (ssize_t)size, &error);
  if (!input) return 0;
  bson_t pipeline, docs, exprs, first;
  bool have_docs = member(input, "docs", &docs);
  bson_t *doc = NULL;
  bson_iter_t it;
  if (have_docs && bson_iter_init(&it, &docs) && bson_iter_next(&it) &&
      BSON_ITER_HOLDS_DOCUMENT(&it)) {
    uint32_t len;
    const uint8_t *d;
    bson_iter_document(&it, &len, &d);
    if (bson_init_static(&first, d, len)) doc = bson_copy(&first);
  }
  if (!doc) doc = bson_new();
  if (member(input, "exprs", &exprs)) run_exprs(&exprs, doc);
  if (member(input, "pipeline", &pipeline)) run_pipeline(&pipeline, have_docs ? &docs : NULL);
  bson_destroy(doc);
  bson_destroy(input);
  return 0;
}
