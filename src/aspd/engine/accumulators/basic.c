/* $sum $avg $count $min $max $first $last $push $addToSet $mergeObjects. */
#include <stdint.h>
#include <string.h>

#include "engine/accumulators/families.h"

/* Adds a number the way $sum does: integers stay exact until they overflow. */
static void add_number(aspd_acc_t *a, const bson_value_t *v) {
  a->count++;
  a->dsum += aspd_value_as_double(v);
  if (v->value_type == BSON_TYPE_DOUBLE || v->value_type == BSON_TYPE_DECIMAL128) {
    a->any_double = true;
    return;
  }
  int64_t i = v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
  a->any_long = a->any_long || v->value_type == BSON_TYPE_INT64;
  if (!a->overflow && __builtin_add_overflow(a->isum, i, &a->isum)) a->overflow = true;
}

static bool step_sum(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                     aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (aspd_value_is_number(v)) add_number(a, v);
  return true;
}

static void finish_sum(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (a->any_double || a->overflow) {
    bson_append_double(out, field, -1, a->dsum);
  } else if (!a->any_long && a->isum >= INT32_MIN && a->isum <= INT32_MAX) {
    bson_append_int32(out, field, -1, (int32_t)a->isum);
  } else {
    bson_append_int64(out, field, -1, a->isum);
  }
}

static void finish_avg(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (a->count) {
    bson_append_double(out, field, -1, a->dsum / (double)a->count);
  } else {
    bson_append_null(out, field, -1);
  }
}

static bool compile_count(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                          aspd_acc_spec_t *spec, aspd_error_t *err) {
  (void)cc;
  (void)spec;
  if (operand->value_type != BSON_TYPE_DOCUMENT || operand->value.v_doc.data_len > 5) {
    aspd_error_set(err, ASPD_E_LOCATION(40359), "$count takes no arguments, i.e. $count:{}");
    return false;
  }
  return true;
}

static bool step_count(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                       aspd_eval_t *ev) {
  (void)s;
  (void)v;
  (void)ev;
  a->isum++;
  return true;
}

static void finish_count(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  finish_sum(s, a, out, field);
}

static bool step_extreme(aspd_acc_t *a, const bson_value_t *v, int want) {
  if (aspd_value_is_nullish(v)) return true;
  bson_iter_t it;
  const bson_value_t *cur = aspd_acc_held(a, &it);
  if (!cur || aspd_value_cmp(v, cur) * want > 0) aspd_acc_hold(a, v);
  return true;
}

static bool step_min(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                     aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  return step_extreme(a, v, -1);
}

static bool step_max(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                     aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  return step_extreme(a, v, 1);
}

/* The held value, null when there is none. */
static void finish_held(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  bson_iter_t it;
  const bson_value_t *v = aspd_acc_held(a, &it);
  if (v && v->value_type != BSON_TYPE_EOD) {
    bson_append_value(out, field, -1, v);
  } else {
    bson_append_null(out, field, -1);
  }
}

static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};

static bool step_first(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                       aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (!a->seen) aspd_acc_hold(a, v->value_type == BSON_TYPE_EOD ? &null_value : v);
  a->seen = true;
  return true;
}

static bool step_last(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                      aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  aspd_acc_hold(a, v->value_type == BSON_TYPE_EOD ? &null_value : v);
  return true;
}

static bool step_push(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                      aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (v->value_type != BSON_TYPE_EOD) aspd_acc_list_append(a, v);
  return true;
}

static bool step_add_to_set(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                            aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (v->value_type == BSON_TYPE_EOD) return true;
  bson_iter_t it;
  if (a->items && bson_iter_init(&it, a->items)) {
    while (bson_iter_next(&it)) {
      if (aspd_value_equal(bson_iter_value(&it), v)) return true;
    }
  }
  aspd_acc_list_append(a, v);
  return true;
}

static void finish_list(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (a->items) {
    bson_append_array(out, field, -1, a->items);
  } else {
    bson_t empty = BSON_INITIALIZER;
    bson_append_array(out, field, -1, &empty);
  }
}

/* Later documents' fields overwrite earlier ones; null and missing are skipped. */
static bool step_merge_objects(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                               aspd_eval_t *ev) {
  (void)s;
  if (aspd_value_is_nullish(v)) return true;
  if (v->value_type != BSON_TYPE_DOCUMENT) {
    return aspd_eval_fail(ev, "$mergeObjects requires object inputs, but input %s is of type %s",
                          "value", aspd_value_type_name(v));
  }
  bson_t merged = BSON_INITIALIZER, incoming;
  bson_init_static(&incoming, v->value.v_doc.data, v->value.v_doc.data_len);
  bson_iter_t it, held;
  const bson_value_t *cur = aspd_acc_held(a, &held);
  if (cur) {
    bson_iter_init_from_data(&it, cur->value.v_doc.data, cur->value.v_doc.data_len);
    while (bson_iter_next(&it)) {
      bson_iter_t over;
      if (bson_iter_init_find(&over, &incoming, bson_iter_key(&it))) {
        bson_append_value(&merged, bson_iter_key(&it), -1, bson_iter_value(&over));
      } else {
        bson_append_value(&merged, bson_iter_key(&it), -1, bson_iter_value(&it));
      }
    }
  }
  bson_iter_init(&it, &incoming);
  while (bson_iter_next(&it)) {
    bson_iter_t seen;
    bool before =
        cur && bson_iter_init_from_data(&seen, cur->value.v_doc.data, cur->value.v_doc.data_len) &&
        bson_iter_find(&seen, bson_iter_key(&it));
    if (!before) bson_append_value(&merged, bson_iter_key(&it), -1, bson_iter_value(&it));
  }
  bson_value_t mv = {.value_type = BSON_TYPE_DOCUMENT};
  mv.value.v_doc.data = aspd_bytes(bson_get_data(&merged));
  mv.value.v_doc.data_len = merged.len;
  aspd_acc_hold(a, &mv);
  bson_destroy(&merged);
  return true;
}

static void finish_merge_objects(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out,
                                 const char *field) {
  (void)s;
  bson_iter_t it;
  const bson_value_t *v = aspd_acc_held(a, &it);
  if (v) {
    bson_append_value(out, field, -1, v);
  } else {
    bson_t empty = BSON_INITIALIZER;
    bson_append_document(out, field, -1, &empty);
  }
}

/* $sum, $avg and $count: the running sums, exact and as a double, and the types seen. */
static void save_sums(const aspd_acc_t *a, bson_t *out) {
  BSON_APPEND_INT64(out, "count", a->count);
  BSON_APPEND_INT64(out, "isum", a->isum);
  BSON_APPEND_DOUBLE(out, "dsum", a->dsum);
  BSON_APPEND_BOOL(out, "anyLong", a->any_long);
  BSON_APPEND_BOOL(out, "anyDouble", a->any_double);
  BSON_APPEND_BOOL(out, "overflow", a->overflow);
}

static bool load_sums(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it;
  int64_t *ints[] = {&a->count, &a->isum};
  const char *int_keys[] = {"count", "isum"};
  for (int i = 0; i < 2; i++) {
    if (!aspd_acc_field(in, int_keys[i], BSON_TYPE_INT64, &it)) return false;
    *ints[i] = bson_iter_int64(&it);
  }
  if (!aspd_acc_field(in, "dsum", BSON_TYPE_DOUBLE, &it)) return false;
  a->dsum = bson_iter_double(&it);
  bool *flags[] = {&a->any_long, &a->any_double, &a->overflow};
  const char *flag_keys[] = {"anyLong", "anyDouble", "overflow"};
  for (int i = 0; i < 3; i++) {
    if (!aspd_acc_field(in, flag_keys[i], BSON_TYPE_BOOL, &it)) return false;
    *flags[i] = bson_iter_bool(&it);
  }
  return true;
}

const aspd_accumulator_t aspd_acc_basic[] = {
    {"$sum", NULL, step_sum, finish_sum, save_sums, load_sums},
    {"$avg", NULL, step_sum, finish_avg, save_sums, load_sums},
    {"$count", compile_count, step_count, finish_count, save_sums, load_sums},
    {"$min", NULL, step_min, finish_held, aspd_acc_save_held, aspd_acc_load_held},
    {"$max", NULL, step_max, finish_held, aspd_acc_save_held, aspd_acc_load_held},
    {"$first", NULL, step_first, finish_held, aspd_acc_save_held, aspd_acc_load_held},
    {"$last", NULL, step_last, finish_held, aspd_acc_save_held, aspd_acc_load_held},
    {"$push", NULL, step_push, finish_list, aspd_acc_save_items, aspd_acc_load_items},
    {"$addToSet", NULL, step_add_to_set, finish_list, aspd_acc_save_items, aspd_acc_load_items},
    {"$mergeObjects", NULL, step_merge_objects, finish_merge_objects, aspd_acc_save_held,
     aspd_acc_load_held},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
