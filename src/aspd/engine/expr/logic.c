/* Boolean and conditional operators: $and, $or, $not, $cond, $ifNull. */
#include <stdlib.h>
#include <string.h>

#include "engine/expr/operators.h"

static void set_bool(bson_value_t *out, bool b) {
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = b;
}

static bool eval_and(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    if (!aspd_value_truthy(&v)) {
      set_bool(out, false);
      return true;
    }
  }
  set_bool(out, true);
  return true;
}

static bool eval_or(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[i], ev, &v)) return false;
    if (aspd_value_truthy(&v)) {
      set_bool(out, true);
      return true;
    }
  }
  set_bool(out, false);
  return true;
}

static bool eval_not(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  set_bool(out, !aspd_value_truthy(&v));
  return true;
}

/* args: if, then, else. */
static bool eval_cond(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t test;
  if (!aspd_expr_eval(e->args[0], ev, &test)) return false;
  return aspd_expr_eval(e->args[aspd_value_truthy(&test) ? 1 : 2], ev, out);
}

static bool compile_cond(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                         aspd_error_t *err) {
  static const char *const names[] = {"if", "then", "else"};
  if (operand->value_type != BSON_TYPE_ARRAY) {
    bson_iter_t it;
    if (operand->value_type == BSON_TYPE_DOCUMENT) {
      bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
      while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "if") && strcmp(k, "then") && strcmp(k, "else")) {
          aspd_error_set(err, ASPD_E_LOCATION(17083), "Unrecognized parameter to $cond: %s", k);
          return false;
        }
      }
    }
    if (!aspd_expr_compile_named(cc, operand, e, names, 3, 0, err)) return false;
    for (int i = 0; i < 3; i++) {
      if (!e->args[i]) {
        aspd_error_set(err, 17080 + i,
                       i == 0   ? "Location17080"
                       : i == 1 ? "Location17081"
                                : "Location17082",
                       "Missing '%s' parameter to $cond", names[i]);
        return false;
      }
    }
    return true;
  }
  bson_iter_t it;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  e->args = calloc(3, sizeof *e->args);
  size_t n = 0;
  while (bson_iter_next(&it)) {
    if (n < 3) {
      e->args[n] = aspd_expr_compile(cc, bson_iter_value(&it), err);
      if (!e->args[n]) return false;
      e->nargs = n + 1;
    }
    n++;
  }
  if (n != 3) {
    aspd_error_set(err, ASPD_E_LOCATION(16020),
                   "Expression $cond takes exactly 3 arguments. %zu were passed in.", n);
    return false;
  }
  return true;
}

/* The first argument that is neither null nor missing, else the last. */
static bool eval_if_null(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  for (size_t i = 0; i + 1 < e->nargs; i++) {
    if (!aspd_expr_eval(e->args[i], ev, out)) return false;
    if (!aspd_value_is_nullish(out)) return true;
  }
  return aspd_expr_eval(e->args[e->nargs - 1], ev, out);
}

static const aspd_expr_op_t ops[] = {
    {"$and", 0, -1, eval_and, NULL},        {"$or", 0, -1, eval_or, NULL},
    {"$not", 1, 1, eval_not, NULL},         {"$cond", 0, 0, eval_cond, compile_cond},
    {"$ifNull", 2, -1, eval_if_null, NULL}, {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_logic_ops = {ops};
