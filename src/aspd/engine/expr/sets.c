/* Set operators: $setUnion, $setIntersection, $setDifference, $setEquals,
 * $setIsSubset, $allElementsTrue, $anyElementTrue. Arrays are sets of distinct
 * values by BSON comparison (1, 1.0 and NumberLong(1) are one element); nested
 * arrays are elements, not sets. Results keep first-seen order. */
#include <stdlib.h>

#include "engine/expr/operators.h"

typedef struct {
  bson_value_t *v;
  size_t n;
} set_t;

static bool contains(const set_t *s, const bson_value_t *x) {
  for (size_t i = 0; i < s->n; i++) {
    if (aspd_value_equal(&s->v[i], x)) return true;
  }
  return false;
}

/* The distinct elements of an array value, in the arena. */
static void to_set(aspd_eval_t *ev, const bson_value_t *a, set_t *s) {
  bson_iter_t it;
  size_t count = 0;
  bson_iter_init_from_data(&it, a->value.v_doc.data, a->value.v_doc.data_len);
  while (bson_iter_next(&it)) count++;
  s->v = aspd_eval_alloc(ev, (count ? count : 1) * sizeof *s->v);
  s->n = 0;
  bson_iter_init_from_data(&it, a->value.v_doc.data, a->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (!contains(s, bson_iter_value(&it))) s->v[s->n++] = *bson_iter_value(&it);
  }
}

/* Evaluates every argument into a set. *null (and out null) when one is nullish
 * and `null_ok`; otherwise a non-array is an error. */
static bool operands(const aspd_expr_t *e, aspd_eval_t *ev, set_t *sets, bool null_ok, bool *null,
                     bson_value_t *out) {
  *null = false;
  for (size_t i = 0; i < e->nargs; i++) {
    bson_value_t a;
    if (!aspd_expr_eval(e->args[i], ev, &a)) return false;
    if (null_ok && aspd_value_is_nullish(&a)) {
      *null = true;
      continue;
    }
    if (a.value_type != BSON_TYPE_ARRAY) {
      if (e->nargs == 2 && !null_ok) {
        return aspd_eval_fail(ev, "All operands of %s must be arrays. %s argument is of type: %s",
                              e->name, i == 0 ? "First" : "Second", aspd_value_type_name(&a));
      }
      return aspd_eval_fail(ev, "All operands of %s must be arrays. One argument is of type: %s",
                            e->name, aspd_value_type_name(&a));
    }
    to_set(ev, &a, &sets[i]);
  }
  if (*null) out->value_type = BSON_TYPE_NULL;
  return true;
}

static void set_result(aspd_eval_t *ev, const set_t *s, bson_value_t *out) {
  bson_t list = BSON_INITIALIZER;
  for (uint32_t i = 0; i < s->n; i++) {
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string(i, &k, key, sizeof key);
    bson_append_value(&list, k, (int)klen, &s->v[i]);
  }
  aspd_eval_bson(ev, &list, true, out);
  bson_destroy(&list);
}

static void set_bool(bson_value_t *out, bool b) {
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = b;
}

static bool eval_set_union(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  set_t *sets = aspd_eval_alloc(ev, (e->nargs ? e->nargs : 1) * sizeof *sets);
  bool null;
  if (!operands(e, ev, sets, true, &null, out)) return false;
  if (null) return true;
  size_t total = 0;
  for (size_t i = 0; i < e->nargs; i++) total += sets[i].n;
  set_t r = {aspd_eval_alloc(ev, (total ? total : 1) * sizeof *r.v), 0};
  for (size_t i = 0; i < e->nargs; i++) {
    for (size_t j = 0; j < sets[i].n; j++) {
      if (!contains(&r, &sets[i].v[j])) r.v[r.n++] = sets[i].v[j];
    }
  }
  set_result(ev, &r, out);
  return true;
}

static bool eval_set_intersection(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  set_t *sets = aspd_eval_alloc(ev, (e->nargs ? e->nargs : 1) * sizeof *sets);
  bool null;
  if (!operands(e, ev, sets, true, &null, out)) return false;
  if (null) return true;
  set_t r = {NULL, 0};
  if (e->nargs > 0) {
    r.v = aspd_eval_alloc(ev, (sets[0].n ? sets[0].n : 1) * sizeof *r.v);
    for (size_t j = 0; j < sets[0].n; j++) {
      bool all = true;
      for (size_t i = 1; i < e->nargs && all; i++) all = contains(&sets[i], &sets[0].v[j]);
      if (all) r.v[r.n++] = sets[0].v[j];
    }
  }
  set_result(ev, &r, out);
  return true;
}

static bool eval_set_difference(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  set_t sets[2];
  bool null;
  if (!operands(e, ev, sets, true, &null, out)) return false;
  if (null) return true;
  set_t r = {aspd_eval_alloc(ev, (sets[0].n ? sets[0].n : 1) * sizeof *r.v), 0};
  for (size_t j = 0; j < sets[0].n; j++) {
    if (!contains(&sets[1], &sets[0].v[j])) r.v[r.n++] = sets[0].v[j];
  }
  set_result(ev, &r, out);
  return true;
}

static bool subset(const set_t *a, const set_t *b) {
  for (size_t i = 0; i < a->n; i++) {
    if (!contains(b, &a->v[i])) return false;
  }
  return true;
}

static bool eval_set_equals(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  set_t *sets = aspd_eval_alloc(ev, e->nargs * sizeof *sets);
  bool null;
  if (!operands(e, ev, sets, false, &null, out)) return false;
  bool eq = true;
  for (size_t i = 1; i < e->nargs && eq; i++) {
    eq = subset(&sets[0], &sets[i]) && subset(&sets[i], &sets[0]);
  }
  set_bool(out, eq);
  return true;
}

static bool eval_set_is_subset(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  set_t sets[2];
  bool null;
  if (!operands(e, ev, sets, false, &null, out)) return false;
  set_bool(out, subset(&sets[0], &sets[1]));
  return true;
}

static bool all_or_any(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, bool all) {
  bson_value_t a;
  if (!aspd_expr_eval(e->args[0], ev, &a)) return false;
  if (a.value_type != BSON_TYPE_ARRAY) {
    return aspd_eval_fail(ev, "%s's argument must be an array, but is %s", e->name,
                          aspd_value_type_name(&a));
  }
  bson_iter_t it;
  bool r = all;
  bson_iter_init_from_data(&it, a.value.v_doc.data, a.value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    if (aspd_value_truthy(bson_iter_value(&it)) != all) {
      r = !all;
      break;
    }
  }
  set_bool(out, r);
  return true;
}

static bool eval_all_elements_true(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return all_or_any(e, ev, out, true);
}

static bool eval_any_element_true(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return all_or_any(e, ev, out, false);
}

static const aspd_expr_op_t ops[] = {
    {"$setUnion", 0, -1, eval_set_union, NULL},
    {"$setIntersection", 0, -1, eval_set_intersection, NULL},
    {"$setDifference", 2, 2, eval_set_difference, NULL},
    {"$setEquals", 2, -1, eval_set_equals, NULL},
    {"$setIsSubset", 2, 2, eval_set_is_subset, NULL},
    {"$allElementsTrue", 1, 1, eval_all_elements_true, NULL},
    {"$anyElementTrue", 1, 1, eval_any_element_true, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_set_ops = {ops};
