/* Comparison: $eq, $ne, $gt, $gte, $lt, $lte and $cmp, in the BSON comparison
 * order (values of different types compare by type). */
#include "engine/expr/operators.h"

static int compare_args(const aspd_expr_t *e, aspd_eval_t *ev, bool *ok) {
  bson_value_t a, b;
  *ok = aspd_expr_eval(e->args[0], ev, &a) && aspd_expr_eval(e->args[1], ev, &b);
  return *ok ? aspd_value_cmp(&a, &b) : 0;
}

#define COMPARISON(fn, test)                                                 \
  static bool fn(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) { \
    bool ok;                                                                 \
    int c = compare_args(e, ev, &ok);                                        \
    out->value_type = BSON_TYPE_BOOL;                                        \
    out->value.v_bool = (test);                                              \
    return ok;                                                               \
  }

COMPARISON(eval_eq, c == 0)
COMPARISON(eval_ne, c != 0)
COMPARISON(eval_gt, c > 0)
COMPARISON(eval_gte, c >= 0)
COMPARISON(eval_lt, c < 0)
COMPARISON(eval_lte, c <= 0)

static bool eval_cmp(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bool ok;
  int c = compare_args(e, ev, &ok);
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = c < 0 ? -1 : c > 0;
  return ok;
}

static const aspd_expr_op_t ops[] = {
    {"$eq", 2, 2, eval_eq, NULL},   {"$ne", 2, 2, eval_ne, NULL}, {"$gt", 2, 2, eval_gt, NULL},
    {"$gte", 2, 2, eval_gte, NULL}, {"$lt", 2, 2, eval_lt, NULL}, {"$lte", 2, 2, eval_lte, NULL},
    {"$cmp", 2, 2, eval_cmp, NULL}, {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_compare_ops = {ops};
