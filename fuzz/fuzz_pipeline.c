/* The pipeline planner and the per-document stages on generated pipelines and documents.
 * Input: Extended JSON {"pipeline": [...], "doc": {...}, "exprs": {...}} (libFuzzer's text
 * mutations mostly keep JSON parseable; fuzz/pipeline.dict adds operator names). A plan
 * that builds runs its stateless stages on `doc`, the way the runner does; each value of
 * `exprs` is validated and, when valid, evaluated against `doc`. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/match.h"
#include "engine/planner.h"
#include "engine/transform.h"
#include "registry/connections.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aspd_registry_t *registry;

static void discard(bson_t *doc, void *ctx) {
  (void)ctx;
  bson_destroy(doc);
}

/* Runs one stage on *doc; false when the document is dropped or fails. */
static bool run_op(const aspd_op_t *op, bson_t **doc) {
  char reason[256];
  bson_t *out = bson_new();
  bool ok = true;
  bson_iter_t it;
  switch (op->kind) {
    case ASPD_OP_MATCH:
      ok = aspd_match(*doc, op->spec);
      break;
    case ASPD_OP_UNSET:
      if (bson_iter_init_find(&it, op->spec, "fields") && BSON_ITER_HOLDS_ARRAY(&it)) {
        uint32_t len;
        const uint8_t *arr;
        bson_iter_array(&it, &len, &arr);
        bson_t paths;
        if (bson_init_static(&paths, arr, len)) aspd_remove_paths(*doc, &paths, out);
      }
      break;
    case ASPD_OP_ADD_FIELDS:
      ok = aspd_add_fields(*doc, op->spec, out, reason, sizeof reason);
      break;
    case ASPD_OP_PROJECT:
      ok = aspd_project(*doc, op->spec, out, reason, sizeof reason);
      break;
    case ASPD_OP_REPLACE_ROOT:
      if (bson_iter_init_find(&it, op->spec, "newRoot")) {
        ok = aspd_replace_root(*doc, bson_iter_value(&it), out, reason, sizeof reason);
      }
      break;
    case ASPD_OP_UNWIND:
      aspd_unwind(*doc, op->spec, discard, NULL);
      break;
    case ASPD_OP_WINDOW:
    case ASPD_OP_VALIDATE:
      break; /* stateful or DLQ-bound: covered by the planner's checks only */
  }
  if (ok && out->len > 5) {
    bson_destroy(*doc);
    *doc = out;
  } else {
    bson_destroy(out);
  }
  return ok;
}

static void run_exprs(const bson_t *exprs, const bson_t *doc) {
  bson_iter_t it;
  if (!bson_iter_init(&it, exprs)) return;
  while (bson_iter_next(&it)) {
    aspd_error_t err;
    const bson_value_t *expr = bson_iter_value(&it);
    if (!aspd_expr_validate(expr, &err)) continue;
    bson_t out = BSON_INITIALIZER;
    char reason[256];
    aspd_expr_append(expr, doc, &out, "v", reason, sizeof reason);
    bson_destroy(&out);
  }
}

static bool sub_document(const bson_t *root, const char *key, bson_t *out) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, root, key) ||
      !(BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it))) {
    return false;
  }
  uint32_t len;
  const uint8_t *data;
  if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
  } else {
    bson_iter_array(&it, &len, &data);
  }
  return bson_init_static(out, data, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!registry) registry = aspd_registry_new();
  bson_error_t error;
  bson_t *input = bson_new_from_json(data, (ssize_t)size, &error);
  if (!input) return 0;
  bson_t pipeline, doc_in, exprs;
  bson_t *doc = sub_document(input, "doc", &doc_in) ? bson_copy(&doc_in) : bson_new();
  if (sub_document(input, "exprs", &exprs)) run_exprs(&exprs, doc);
  if (sub_document(input, "pipeline", &pipeline)) {
    aspd_error_t err;
    aspd_plan_t *plan = aspd_plan_build(registry, &pipeline, NULL, false, &err);
    for (size_t i = 0; plan && i < plan->op_count && run_op(&plan->ops[i], &doc); i++) {
    }
    aspd_plan_free(plan);
  }
  bson_destroy(doc);
  bson_destroy(input);
  return 0;
}
