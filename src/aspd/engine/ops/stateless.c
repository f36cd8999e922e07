#include <stdlib.h>

#include "engine/ops/stages.h"

aspd_op_t *aspd_stateless_make(const aspd_op_vtable_t *vt, const void *spec) {
  aspd_stateless_op_t *op = malloc(sizeof *op);
  op->base.vt = vt;
  op->spec = spec;
  return &op->base;
}

void aspd_stateless_free(aspd_op_t *op) {
  free(op);
}
