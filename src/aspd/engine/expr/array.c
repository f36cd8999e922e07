/* Array operators: $size, $arrayElemAt. */
#include "engine/expr/operators.h"

static bool eval_size(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (v.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "The argument to $size must be an array. Type of argument given: %s",
                          aspd_value_type_name(&v));
  }
  bson_iter_t it;
  int32_t n = 0;
  bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len);
  while (bson_iter_next(&it)) n++;
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = n;
  return true;
}

static bool eval_array_elem_at(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t a, idx;
  if (!aspd_expr_eval(e->args[0], ev, &a) || !aspd_expr_eval(e->args[1], ev, &idx)) return false;
  if (aspd_value_is_nullish(&a) || aspd_value_is_nullish(&idx)) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (a.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "$arrayElemAt's first argument must be an array, but is %s",
                          aspd_value_type_name(&a));
  }
  if (!aspd_value_is_number(&idx)) {
    return aspd_eval_fail(ev, "$arrayElemAt's second argument must be a numeric value, but is %s",
                          aspd_value_type_name(&idx));
  }
  int64_t want;
  if (!aspd_value_as_integral(&idx, &want) || want < INT32_MIN || want > INT32_MAX) {
    return aspd_eval_fail(ev,
                          "$arrayElemAt's second argument must be representable as a 32-bit "
                          "integer: %s",
                          aspd_eval_json(ev, &idx));
  }
  int64_t n = 0;
  bson_iter_t it;
  bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
  while (bson_iter_next(&it)) n++;
  if (want < 0) want += n;
  out->value_type = BSON_TYPE_EOD;
  if (want < 0 || want >= n) return true;
  bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
  for (int64_t i = 0; bson_iter_next(&it); i++) {
    if (i == want) *out = *bson_iter_value(&it);
  }
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$size", 1, 1, eval_size, NULL},
    {"$arrayElemAt", 2, 2, eval_array_elem_at, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_array_ops = {ops};
