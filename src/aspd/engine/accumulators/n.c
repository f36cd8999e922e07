/* The accumulators that keep several values: $firstN $lastN $maxN $minN
 * (input, n) and $top $bottom $topN $bottomN (sortBy, output[, n]). Each
 * keeps its candidates in the state's item list and picks at finish. */
#include <stdlib.h>
#include <string.h>

#include "engine/accumulators/families.h"

typedef enum { K_FIRST, K_LAST, K_MAX, K_MIN, K_TOP, K_BOTTOM } kind_t;

static kind_t kind_of(const char *name) {
  if (!strncmp(name, "$first", 6)) return K_FIRST;
  if (!strncmp(name, "$last", 5)) return K_LAST;
  if (!strncmp(name, "$max", 4)) return K_MAX;
  if (!strncmp(name, "$min", 4)) return K_MIN;
  if (!strncmp(name, "$top", 4)) return K_TOP;
  return K_BOTTOM;
}

static bool has_n(const char *name) {
  return name[strlen(name) - 1] == 'N';
}

static bool compile_n(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_acc_spec_t *spec,
                      aspd_error_t *err) {
  const char *name = spec->row->name;
  kind_t kind = kind_of(name);
  bool sorted = kind == K_TOP || kind == K_BOTTOM;
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_LOCATION(5787801), "specification must be an object; found %s",
                   aspd_type_name(operand->value_type));
    return false;
  }
  bson_iter_t it;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    aspd_expr_t **slot = NULL;
    if (!strcmp(k, sorted ? "output" : "input")) {
      slot = &spec->input;
    } else if (!strcmp(k, "n") && has_n(name)) {
      slot = &spec->n;
    } else if (!strcmp(k, "sortBy") && sorted && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_t by;
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&it, &len, &data);
      bson_init_static(&by, data, len);
      /* Like $sort's keys: 1 or -1, so comparing reads a plain direction. */
      bson_iter_t key;
      bson_iter_init(&key, &by);
      int dir;
      while (bson_iter_next(&key)) {
        if (!aspd_value_sort_direction(bson_iter_value(&key), &dir)) {
          aspd_error_set(err, ASPD_E_LOCATION(15975),
                         "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
          return false;
        }
      }
      spec->sort_by = bson_copy(&by);
      continue;
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(5787901), "Unknown argument for '%s' accumulator: %s",
                     name, k);
      return false;
    }
    *slot = aspd_expr_compile(cc, bson_iter_value(&it), err);
    if (!*slot) return false;
  }
  const char *missing = !spec->input               ? (sorted ? "output" : "input")
                        : !spec->n && has_n(name)  ? "n"
                        : !spec->sort_by && sorted ? "sortBy"
                                                   : NULL;
  if (missing) {
    aspd_error_set(err, ASPD_E_LOCATION(5787906), "Missing value for '%s'", missing);
    return false;
  }
  return true;
}

/* The sort key of the current document: {0: value of sortBy's first path, ...}. */
static void sort_key(const aspd_acc_spec_t *spec, aspd_eval_t *ev, bson_t *out) {
  bson_iter_t by, found;
  uint32_t i = 0;
  bson_iter_init(&by, spec->sort_by);
  while (bson_iter_next(&by)) {
    char key[16];
    const char *k;
    size_t klen = bson_uint32_to_string(i++, &k, key, sizeof key);
    bson_iter_t root;
    if (ev->root && bson_iter_init(&root, ev->root) &&
        bson_iter_find_descendant(&root, bson_iter_key(&by), &found)) {
      bson_append_value(out, k, (int)klen, bson_iter_value(&found));
    } else {
      bson_append_null(out, k, (int)klen);
    }
  }
}

static bool step_n(const aspd_acc_spec_t *spec, aspd_acc_t *a, const bson_value_t *v,
                   aspd_eval_t *ev) {
  kind_t kind = kind_of(spec->row->name);
  if (!a->limit) {
    a->limit = 1;
    if (spec->n) {
      bson_value_t n;
      if (!aspd_expr_eval(spec->n, ev, &n)) return false;
      int64_t limit;
      if (!aspd_value_as_integral(&n, &limit)) {
        return aspd_eval_fail(ev, "Value for 'n' must be of integral type, but found %s",
                              aspd_eval_json(ev, &n));
      }
      if (limit <= 0) {
        return aspd_eval_fail(ev, "'n' must be greater than 0, found %s", aspd_eval_json(ev, &n));
      }
      a->limit = limit;
    }
  }
  bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
  const bson_value_t *value = v->value_type == BSON_TYPE_EOD ? &null_value : v;
  if (kind == K_FIRST && a->item_count >= a->limit) return true;
  if ((kind == K_MAX || kind == K_MIN) && aspd_value_is_nullish(v)) return true;
  if (kind == K_TOP || kind == K_BOTTOM) {
    bson_t entry = BSON_INITIALIZER, key = BSON_INITIALIZER;
    sort_key(spec, ev, &key);
    bson_append_array(&entry, "k", 1, &key);
    bson_append_value(&entry, "v", 1, value);
    bson_value_t ev_entry = {.value_type = BSON_TYPE_DOCUMENT};
    ev_entry.value.v_doc.data = aspd_bytes(bson_get_data(&entry));
    ev_entry.value.v_doc.data_len = entry.len;
    aspd_acc_list_append(a, &ev_entry);
    bson_destroy(&key);
    bson_destroy(&entry);
    return true;
  }
  aspd_acc_list_append(a, value);
  return true;
}

typedef struct {
  const aspd_acc_spec_t *spec;
  kind_t kind;
} order_t;

static int compare_keys(const bson_value_t *a, const bson_value_t *b, const bson_t *sort_by) {
  bson_iter_t ka, kb, by;
  bson_iter_init_from_data(&ka, a->value.v_doc.data, a->value.v_doc.data_len);
  bson_iter_init_from_data(&kb, b->value.v_doc.data, b->value.v_doc.data_len);
  bson_iter_find(&ka, "k");
  bson_iter_find(&kb, "k");
  bson_iter_t ea, eb;
  bson_iter_recurse(&ka, &ea);
  bson_iter_recurse(&kb, &eb);
  bson_iter_init(&by, sort_by);
  while (bson_iter_next(&ea) && bson_iter_next(&eb) && bson_iter_next(&by)) {
    int c = aspd_value_cmp(bson_iter_value(&ea), bson_iter_value(&eb));
    if (c) return bson_iter_as_int64(&by) < 0 ? -c : c;
  }
  return 0;
}

typedef struct {
  bson_value_t value;
  size_t arrival;
} item_t;

static int compare_items(const void *pa, const void *pb, void *arg) {
  const item_t *a = pa, *b = pb;
  const order_t *o = arg;
  int c = 0;
  if (o->kind == K_MAX) c = -aspd_value_cmp(&a->value, &b->value);
  if (o->kind == K_MIN) c = aspd_value_cmp(&a->value, &b->value);
  if (o->kind == K_TOP || o->kind == K_BOTTOM)
    c = compare_keys(&a->value, &b->value, o->spec->sort_by);
  if (c) return c;
  return a->arrival < b->arrival ? -1 : 1;
}

static void finish_n(const aspd_acc_spec_t *spec, aspd_acc_t *a, bson_t *out, const char *field) {
  kind_t kind = kind_of(spec->row->name);
  size_t count = a->item_count;
  item_t *items = malloc((count ? count : 1) * sizeof *items);
  bson_iter_t it;
  size_t n = 0;
  if (a->items && bson_iter_init(&it, a->items)) {
    while (bson_iter_next(&it)) {
      items[n] = (item_t){*bson_iter_value(&it), n};
      n++;
    }
  }
  if (kind != K_FIRST && kind != K_LAST) {
    order_t o = {spec, kind};
    qsort_r(items, n, sizeof *items, compare_items, &o);
  }
  size_t limit = (size_t)(a->limit > 0 ? a->limit : 1);
  size_t from = 0, to = n < limit ? n : limit;
  if (kind == K_LAST || kind == K_BOTTOM) {
    from = n > limit ? n - limit : 0;
    to = n;
  }
  bool single = !has_n(spec->row->name);
  bson_t list;
  if (!single) bson_append_array_begin(out, field, -1, &list);
  for (size_t i = from; i < to; i++) {
    bson_value_t v = items[i].value;
    if (kind == K_TOP || kind == K_BOTTOM) {
      bson_iter_t e;
      bson_iter_init_from_data(&e, v.value.v_doc.data, v.value.v_doc.data_len);
      bson_iter_find(&e, "v");
      v = *bson_iter_value(&e);
    }
    if (single) {
      bson_append_value(out, field, -1, &v);
    } else {
      char key[16];
      const char *k;
      size_t klen = bson_uint32_to_string((uint32_t)(i - from), &k, key, sizeof key);
      bson_append_value(&list, k, (int)klen, &v);
    }
  }
  if (single && from == to) bson_append_null(out, field, -1);
  if (!single) bson_append_array_end(out, &list);
  free(items);
}

/* The candidates (for $top/$bottom with their sort keys) and n once known. */
static void save_n(const aspd_acc_t *a, bson_t *out) {
  BSON_APPEND_INT64(out, "limit", a->limit);
  aspd_acc_save_items(a, out);
}

static bool load_n(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it;
  if (!aspd_acc_field(in, "limit", BSON_TYPE_INT64, &it) || bson_iter_int64(&it) < 0) return false;
  a->limit = bson_iter_int64(&it);
  return aspd_acc_load_items(a, in);
}

const aspd_accumulator_t aspd_acc_n[] = {
    {"$firstN", compile_n, step_n, finish_n, save_n, load_n},
    {"$lastN", compile_n, step_n, finish_n, save_n, load_n},
    {"$maxN", compile_n, step_n, finish_n, save_n, load_n},
    {"$minN", compile_n, step_n, finish_n, save_n, load_n},
    {"$top", compile_n, step_n, finish_n, save_n, load_n},
    {"$bottom", compile_n, step_n, finish_n, save_n, load_n},
    {"$topN", compile_n, step_n, finish_n, save_n, load_n},
    {"$bottomN", compile_n, step_n, finish_n, save_n, load_n},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
