/* The expression operator table: one family (aspd_expr_family_t) per file,
 * listed once in operators.c. */
#ifndef ASPD_EXPR_OPERATORS_H
#define ASPD_EXPR_OPERATORS_H

#include "engine/expr/expr.h"

extern const aspd_expr_family_t aspd_expr_special_ops;   /* special.c: $literal, $meta */
extern const aspd_expr_family_t aspd_expr_arith_ops;     /* arith.c */
extern const aspd_expr_family_t aspd_expr_compare_ops;   /* compare.c */
extern const aspd_expr_family_t aspd_expr_logic_ops;     /* logic.c: boolean, conditional */
extern const aspd_expr_family_t aspd_expr_string_ops;    /* string.c */
extern const aspd_expr_family_t aspd_expr_array_ops;     /* array.c */
extern const aspd_expr_family_t aspd_expr_math_ops;      /* math.c: rounding, logarithms, powers */
extern const aspd_expr_family_t aspd_expr_list_ops;      /* lists.c: arrays, $filter/$map/$reduce */
extern const aspd_expr_family_t aspd_expr_set_ops;       /* sets.c */
extern const aspd_expr_family_t aspd_expr_object_ops;    /* object.c: objects, $switch, $let */
extern const aspd_expr_family_t aspd_expr_type_ops;      /* typeops.c: $type, $convert, $to* */
extern const aspd_expr_family_t aspd_expr_date_ops;      /* date.c: parts, strings */
extern const aspd_expr_family_t aspd_expr_date_math_ops; /* date_math.c */
extern const aspd_expr_family_t aspd_expr_stats_ops;     /* stats.c: accumulators as expressions */
extern const aspd_expr_family_t aspd_expr_text_ops; /* text.c: substrings, search, trim, regex */

/* The row of an operator name, or NULL. Plan time only. */
const aspd_expr_op_t *aspd_expr_find_op(const char *name);

#endif
