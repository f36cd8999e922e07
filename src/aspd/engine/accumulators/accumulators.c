#include "engine/accumulators/accumulators.h"

#include <stdlib.h>
#include <string.h>

#include "engine/accumulators/families.h"

/* Every accumulator family; a new family file adds one line here. */
static const aspd_accumulator_t *const families[] = {aspd_acc_basic, aspd_acc_stats, aspd_acc_n};

const aspd_accumulator_t *aspd_accumulator_find(const char *name) {
  for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
    for (const aspd_accumulator_t *a = families[f]; a->name; a++) {
      if (!strcmp(a->name, name)) return a;
    }
  }
  return NULL;
}

bool aspd_acc_spec_compile(aspd_expr_compiler_t *cc, const char *name, const bson_value_t *operand,
                           aspd_acc_spec_t *spec, aspd_error_t *err) {
  memset(spec, 0, sizeof *spec);
  spec->row = aspd_accumulator_find(name);
  if (!spec->row) {
    aspd_error_set(err, ASPD_E_LOCATION(15952), "unknown group operator '%s'", name);
    return false;
  }
  if (spec->row->compile) return spec->row->compile(cc, operand, spec, err);
  if (operand->value_type == BSON_TYPE_ARRAY) {
    aspd_error_set(err, ASPD_E_LOCATION(40237), "The %s accumulator is a unary operator", name);
    return false;
  }
  spec->input = aspd_expr_compile(cc, operand, err);
  return spec->input != NULL;
}

void aspd_acc_spec_free(aspd_acc_spec_t *spec) {
  aspd_expr_free(spec->input);
  aspd_expr_free(spec->n);
  if (spec->sort_by) bson_destroy(spec->sort_by);
  free(spec->percentiles);
}

bool aspd_acc_step(const aspd_acc_spec_t *spec, aspd_acc_t *a, aspd_eval_t *ev) {
  bson_value_t v = {.value_type = BSON_TYPE_EOD};
  if (spec->input && !aspd_expr_eval(spec->input, ev, &v)) return false;
  return spec->row->step(spec, a, &v, ev);
}

void aspd_acc_finish(const aspd_acc_spec_t *spec, aspd_acc_t *a, bson_t *out, const char *field) {
  spec->row->finish(spec, a, out, field);
}

void aspd_acc_clear(aspd_acc_t *a) {
  if (a->value) bson_destroy(a->value);
  if (a->items) bson_destroy(a->items);
  free(a->samples);
  memset(a, 0, sizeof *a);
}

void aspd_acc_save(const aspd_acc_spec_t *spec, const aspd_acc_t *a, bson_t *out) {
  spec->row->save(a, out);
}

bool aspd_acc_load(const aspd_acc_spec_t *spec, aspd_acc_t *a, const bson_t *in) {
  return spec->row->load(a, in);
}

int64_t aspd_acc_bytes(const aspd_acc_t *a) {
  return (int64_t)sizeof *a + (a->value ? a->value->len : 0) + (a->items ? a->items->len : 0) +
         (int64_t)(a->sample_cap * sizeof *a->samples);
}

void aspd_acc_list_append(aspd_acc_t *a, const bson_value_t *v) {
  if (!a->items) a->items = bson_new();
  char key[16];
  const char *k;
  size_t len = bson_uint32_to_string(a->item_count++, &k, key, sizeof key);
  bson_append_value(a->items, k, (int)len, v);
}

void aspd_acc_hold(aspd_acc_t *a, const bson_value_t *v) {
  if (a->value) {
    bson_reinit(a->value);
  } else {
    a->value = bson_new();
  }
  bson_append_value(a->value, "v", 1, v);
}

const bson_value_t *aspd_acc_held(const aspd_acc_t *a, bson_iter_t *it) {
  if (!a->value || !bson_iter_init_find(it, a->value, "v")) return NULL;
  return bson_iter_value(it);
}

bool aspd_acc_field(const bson_t *in, const char *key, bson_type_t type, bson_iter_t *it) {
  return bson_iter_init_find(it, in, key) && bson_iter_type(it) == type;
}

void aspd_acc_save_held(const aspd_acc_t *a, bson_t *out) {
  if (a->value) BSON_APPEND_DOCUMENT(out, "held", a->value);
  BSON_APPEND_BOOL(out, "seen", a->seen);
}

bool aspd_acc_load_held(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it;
  if (!aspd_acc_field(in, "seen", BSON_TYPE_BOOL, &it)) return false;
  a->seen = bson_iter_bool(&it);
  if (!bson_iter_init_find(&it, in, "held")) return true;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  a->value = bson_new_from_data(data, len);
  return a->value != NULL;
}

void aspd_acc_save_items(const aspd_acc_t *a, bson_t *out) {
  if (a->items) {
    BSON_APPEND_ARRAY(out, "items", a->items);
  } else {
    bson_t empty = BSON_INITIALIZER;
    BSON_APPEND_ARRAY(out, "items", &empty);
  }
}

bool aspd_acc_load_items(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it, item;
  if (!aspd_acc_field(in, "items", BSON_TYPE_ARRAY, &it)) return false;
  const uint8_t *data;
  uint32_t len;
  bson_iter_array(&it, &len, &data);
  bson_iter_recurse(&it, &item);
  uint32_t n = 0;
  while (bson_iter_next(&item)) n++;
  if (!n) return true;
  a->items = bson_new_from_data(data, len);
  a->item_count = n;
  return a->items != NULL;
}
