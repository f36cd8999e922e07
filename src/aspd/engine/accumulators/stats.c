/* $stdDevPop $stdDevSamp (Welford's running moments), $median and $percentile
 * (the value at the requested rank of the sorted inputs: the nearest-rank
 * result MongoDB's approximate method gives on window-sized inputs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/accumulators/families.h"

static bool step_moments(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                         aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (!aspd_value_is_number(v)) return true;
  double x = aspd_value_as_double(v);
  a->count++;
  double delta = x - a->mean;
  a->mean += delta / (double)a->count;
  a->m2 += delta * (x - a->mean);
  return true;
}

static void finish_pop(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (a->count == 0) {
    bson_append_null(out, field, -1);
  } else {
    bson_append_double(out, field, -1, sqrt(a->m2 / (double)a->count));
  }
}

static void finish_samp(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (a->count < 2) {
    bson_append_null(out, field, -1);
  } else {
    bson_append_double(out, field, -1, sqrt(a->m2 / (double)(a->count - 1)));
  }
}

/* {input, p: [..], method} for $percentile; {input, method} for $median. */
static bool compile_percentile(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                               aspd_acc_spec_t *spec, aspd_error_t *err) {
  bool median = !strcmp(spec->row->name, "$median");
  if (operand->value_type != BSON_TYPE_DOCUMENT) {
    aspd_error_set(err, ASPD_E_LOCATION(7436200), "specification must be an object; found %s",
                   aspd_type_name(operand->value_type));
    return false;
  }
  bson_iter_t it;
  bool have_method = false;
  bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strcmp(k, "input")) {
      spec->input = aspd_expr_compile(cc, bson_iter_value(&it), err);
      if (!spec->input) return false;
    } else if (!strcmp(k, "method")) {
      if (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "approximate")) {
        aspd_error_set(err, ASPD_E_BAD_VALUE,
                       "Currently only 'approximate' can be used as percentile 'method'");
        return false;
      }
      have_method = true;
    } else if (!median && !strcmp(k, "p") && BSON_ITER_HOLDS_ARRAY(&it)) {
      bson_iter_t p;
      bson_iter_recurse(&it, &p);
      while (bson_iter_next(&p)) {
        double d = aspd_value_as_double(bson_iter_value(&p));
        /* Written so that NaN fails too: its rank would be an undefined conversion. */
        if (!aspd_value_is_number(bson_iter_value(&p)) || !(d >= 0 && d <= 1)) {
          aspd_error_set(err, ASPD_E_LOCATION(7750301),
                         "The $percentile 'p' field must be an array of numbers from [0.0, 1.0]");
          return false;
        }
        spec->percentiles =
            realloc(spec->percentiles, (spec->percentile_count + 1) * sizeof *spec->percentiles);
        spec->percentiles[spec->percentile_count++] = d;
      }
    } else {
      aspd_error_set(err, ASPD_E_LOCATION(40415), "BSON field '%s.%s' is an unknown field.",
                     median ? "$median" : "$percentile", k);
      return false;
    }
  }
  if (!spec->input || !have_method || (!median && !spec->percentile_count)) {
    aspd_error_set(err, ASPD_E_LOCATION(40414),
                   "BSON field '%s.%s' is missing but a required field",
                   median ? "$median" : "$percentile",
                   !spec->input   ? "input"
                   : !have_method ? "method"
                                  : "p");
    return false;
  }
  return true;
}

static bool step_sample(const aspd_acc_spec_t *s, aspd_acc_t *a, const bson_value_t *v,
                        aspd_eval_t *ev) {
  (void)s;
  (void)ev;
  if (!aspd_value_is_number(v)) return true;
  if (a->sample_count == a->sample_cap) {
    a->sample_cap = a->sample_cap ? a->sample_cap * 2 : 16;
    a->samples = realloc(a->samples, a->sample_cap * sizeof *a->samples);
  }
  a->samples[a->sample_count++] = aspd_value_as_double(v);
  return true;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

static double rank(const aspd_acc_t *a, double p) {
  double r = ceil(p * (double)a->sample_count) - 1;
  size_t i = r < 0 ? 0 : (size_t)r;
  return a->samples[i < a->sample_count ? i : a->sample_count - 1];
}

static void finish_median(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out, const char *field) {
  (void)s;
  if (!a->sample_count) {
    bson_append_null(out, field, -1);
    return;
  }
  qsort(a->samples, a->sample_count, sizeof *a->samples, cmp_double);
  bson_append_double(out, field, -1, rank(a, 0.5));
}

static void finish_percentile(const aspd_acc_spec_t *s, aspd_acc_t *a, bson_t *out,
                              const char *field) {
  if (a->sample_count) qsort(a->samples, a->sample_count, sizeof *a->samples, cmp_double);
  bson_t list;
  bson_append_array_begin(out, field, -1, &list);
  for (size_t i = 0; i < s->percentile_count; i++) {
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    if (a->sample_count) {
      bson_append_double(&list, k, (int)len, rank(a, s->percentiles[i]));
    } else {
      bson_append_null(&list, k, (int)len);
    }
  }
  bson_append_array_end(out, &list);
}

/* $stdDev*: the count and Welford's moments (doubles keep every bit). */
static void save_moments(const aspd_acc_t *a, bson_t *out) {
  BSON_APPEND_INT64(out, "count", a->count);
  BSON_APPEND_DOUBLE(out, "mean", a->mean);
  BSON_APPEND_DOUBLE(out, "m2", a->m2);
}

static bool load_moments(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it;
  if (!aspd_acc_field(in, "count", BSON_TYPE_INT64, &it)) return false;
  a->count = bson_iter_int64(&it);
  if (!aspd_acc_field(in, "mean", BSON_TYPE_DOUBLE, &it)) return false;
  a->mean = bson_iter_double(&it);
  if (!aspd_acc_field(in, "m2", BSON_TYPE_DOUBLE, &it)) return false;
  a->m2 = bson_iter_double(&it);
  return true;
}

/* $median, $percentile: the buffered inputs, as doubles, in arrival order. */
static void save_samples(const aspd_acc_t *a, bson_t *out) {
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "samples", &list);
  for (size_t i = 0; i < a->sample_count; i++) {
    char key[16];
    const char *k;
    size_t len = bson_uint32_to_string((uint32_t)i, &k, key, sizeof key);
    bson_append_double(&list, k, (int)len, a->samples[i]);
  }
  bson_append_array_end(out, &list);
}

static bool load_samples(aspd_acc_t *a, const bson_t *in) {
  bson_iter_t it, item;
  if (!aspd_acc_field(in, "samples", BSON_TYPE_ARRAY, &it)) return false;
  bson_iter_recurse(&it, &item);
  while (bson_iter_next(&item)) {
    if (!BSON_ITER_HOLDS_DOUBLE(&item)) return false;
    if (a->sample_count == a->sample_cap) {
      a->sample_cap = a->sample_cap ? a->sample_cap * 2 : 16;
      a->samples = realloc(a->samples, a->sample_cap * sizeof *a->samples);
    }
    a->samples[a->sample_count++] = bson_iter_double(&item);
  }
  return true;
}

const aspd_accumulator_t aspd_acc_stats[] = {
    {"$stdDevPop", NULL, step_moments, finish_pop, save_moments, load_moments},
    {"$stdDevSamp", NULL, step_moments, finish_samp, save_moments, load_moments},
    {"$median", compile_percentile, step_sample, finish_median, save_samples, load_samples},
    {"$percentile", compile_percentile, step_sample, finish_percentile, save_samples, load_samples},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};
