/* $limit and $count inside windows: both count the documents of one window
 * (the count restarts at each flush). */
#include <stdlib.h>
#include <string.h>

#include "engine/ops/stages.h"

typedef struct {
  aspd_op_t base;
  int64_t limit;     /* $limit */
  const char *field; /* $count */
  int64_t seen;
} counting_op_t;

void *aspd_limit_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  (void)ctx;
  int64_t limit = 0;
  bson_iter_t copy = *value;
  /* A double is truncated; one beyond the int64 range has no limit to stand for. */
  if (BSON_ITER_HOLDS_NUMBER(value) && !aspd_value_truncate(bson_iter_value(&copy), &limit)) {
    aspd_error_set(err, ASPD_E_LOCATION(15958),
                   "invalid argument to $limit stage: Cannot represent as a 64-bit integer");
    return NULL;
  }
  if (limit <= 0) {
    aspd_error_set(err, ASPD_E_LOCATION(15958), "the limit must be positive");
    return NULL;
  }
  int64_t *n = malloc(sizeof *n);
  *n = limit;
  return n;
}

void aspd_limit_free_spec(void *spec) {
  free(spec);
}

static void limit_push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  counting_op_t *c = (counting_op_t *)op;
  if (c->seen++ < c->limit) {
    aspd_flow_emit(flow, doc);
  } else {
    bson_destroy(doc);
  }
}

static void restart(aspd_op_t *op, const aspd_flush_t *why, aspd_flow_t *flow) {
  (void)why;
  (void)flow;
  ((counting_op_t *)op)->seen = 0;
}

static void counting_free(aspd_op_t *op) {
  free(op);
}

/* {seen}: the documents of the current window so far. */
static void counting_checkpoint(const aspd_op_t *op, bson_t *out) {
  BSON_APPEND_INT64(out, "seen", ((const counting_op_t *)op)->seen);
}

static bool counting_restore(aspd_op_t *op, const bson_t *state) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, state, "seen") || !BSON_ITER_HOLDS_INT64(&it) ||
      bson_iter_int64(&it) < 0) {
    return false;
  }
  ((counting_op_t *)op)->seen = bson_iter_int64(&it);
  return true;
}

static const aspd_op_vtable_t limit_vt = {.push = limit_push,
                                          .flush = restart,
                                          .free = counting_free,
                                          .checkpoint = counting_checkpoint,
                                          .restore = counting_restore};

aspd_op_t *aspd_limit_make(const void *spec) {
  counting_op_t *c = calloc(1, sizeof *c);
  c->base.vt = &limit_vt;
  c->limit = *(const int64_t *)spec;
  return &c->base;
}

void *aspd_count_check(const bson_iter_t *value, aspd_stage_ctx_t *ctx, aspd_error_t *err) {
  (void)ctx;
  const char *name = BSON_ITER_HOLDS_UTF8(value) ? bson_iter_utf8(value, NULL) : "";
  if (!*name || name[0] == '$' || strchr(name, '.')) {
    aspd_error_set(err, ASPD_E_LOCATION(40156), "the count field must be a non-empty string");
    return NULL;
  }
  return strdup(name);
}

void aspd_count_free_spec(void *spec) {
  free(spec);
}

static void count_push(aspd_op_t *op, bson_t *doc, aspd_flow_t *flow) {
  (void)flow;
  ((counting_op_t *)op)->seen++;
  bson_destroy(doc);
}

static void count_flush(aspd_op_t *op, const aspd_flush_t *why, aspd_flow_t *flow) {
  (void)why;
  counting_op_t *c = (counting_op_t *)op;
  if (c->seen) {
    bson_t *out = bson_new();
    if (c->seen <= INT32_MAX) {
      bson_append_int32(out, c->field, -1, (int32_t)c->seen);
    } else {
      bson_append_int64(out, c->field, -1, c->seen);
    }
    aspd_flow_emit(flow, out);
  }
  c->seen = 0;
}

static const aspd_op_vtable_t count_vt = {.push = count_push,
                                          .flush = count_flush,
                                          .free = counting_free,
                                          .checkpoint = counting_checkpoint,
                                          .restore = counting_restore};

aspd_op_t *aspd_count_make(const void *spec) {
  counting_op_t *c = calloc(1, sizeof *c);
  c->base.vt = &count_vt;
  c->field = spec;
  return &c->base;
}
