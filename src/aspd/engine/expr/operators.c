#include "engine/expr/operators.h"

#include <string.h>

/* Every family of expression operators; a new family file adds one line here. */
static const aspd_expr_family_t *const families[] = {
    &aspd_expr_special_ops, &aspd_expr_arith_ops,     &aspd_expr_compare_ops, &aspd_expr_logic_ops,
    &aspd_expr_string_ops,  &aspd_expr_array_ops,     &aspd_expr_math_ops,    &aspd_expr_text_ops,
    &aspd_expr_list_ops,    &aspd_expr_set_ops,       &aspd_expr_object_ops,  &aspd_expr_type_ops,
    &aspd_expr_date_ops,    &aspd_expr_date_math_ops, &aspd_expr_stats_ops,
};

const aspd_expr_op_t *aspd_expr_find_op(const char *name) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (const aspd_expr_op_t *op = families[f]->ops; op->name; op++) {
      if (!strcmp(op->name, name)) return op;
    }
  }
  return NULL;
}
