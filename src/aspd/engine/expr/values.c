#include "engine/expr/values.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool aspd_value_is_number(const bson_value_t *v) {
  return v && (v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
               v->value_type == BSON_TYPE_DOUBLE || v->value_type == BSON_TYPE_DECIMAL128);
}

static long double decimal_value(const bson_decimal128_t *d) {
  char buf[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(d, buf);
  if (!strcmp(buf, "NaN")) return NAN;
  if (!strcmp(buf, "Infinity")) return INFINITY;
  if (!strcmp(buf, "-Infinity")) return -INFINITY;
  return strtold(buf, NULL);
}

/* long double holds every int64 exactly on the platforms aspd builds on, so
 * mixed int64/double comparisons stay exact where it matters. */
static long double number_value(const bson_value_t *v) {
  switch (v->value_type) {
    case BSON_TYPE_INT32:
      return v->value.v_int32;
    case BSON_TYPE_INT64:
      return (long double)v->value.v_int64;
    case BSON_TYPE_DOUBLE:
      return v->value.v_double;
    case BSON_TYPE_DECIMAL128:
      return decimal_value(&v->value.v_decimal128);
    default:
      return 0;
  }
}

double aspd_value_as_double(const bson_value_t *v) {
  return aspd_value_is_number(v) ? (double)number_value(v) : 0;
}

bool aspd_value_sort_direction(const bson_value_t *v, int *dir) {
  if (!aspd_value_is_number(v)) return false;
  double d = aspd_value_as_double(v);
  if (d != 1 && d != -1) return false;
  *dir = (int)d;
  return true;
}

bool aspd_value_as_integral(const bson_value_t *v, int64_t *out) {
  if (v->value_type == BSON_TYPE_INT32) {
    *out = v->value.v_int32;
    return true;
  }
  if (v->value_type == BSON_TYPE_INT64) {
    *out = v->value.v_int64;
    return true;
  }
  if (!aspd_value_is_number(v)) return false;
  double d = aspd_value_as_double(v);
  /* 2^63 is exact as a double; every double below it in magnitude converts. */
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d)) return false;
  *out = (int64_t)d;
  return true;
}

bool aspd_value_truncate(const bson_value_t *v, int64_t *out) {
  if (v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64) {
    return aspd_value_as_integral(v, out);
  }
  if (!aspd_value_is_number(v)) return false;
  double d = trunc(aspd_value_as_double(v));
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
  *out = (int64_t)d;
  return true;
}

int64_t aspd_double_clamp_int64(double d) {
  if (d != d) return 0;
  if (d >= 9223372036854775808.0) return INT64_MAX;
  if (d < -9223372036854775808.0) return INT64_MIN;
  return (int64_t)d;
}

int64_t aspd_iter_as_int64(const bson_iter_t *it) {
  return BSON_ITER_HOLDS_DOUBLE(it) ? aspd_double_clamp_int64(bson_iter_double(it))
                                    : bson_iter_as_int64(it);
}

bool aspd_value_is_nullish(const bson_value_t *v) {
  return !v || v->value_type == BSON_TYPE_EOD || v->value_type == BSON_TYPE_NULL ||
         v->value_type == BSON_TYPE_UNDEFINED;
}

bool aspd_value_as_date(const bson_value_t *v, int64_t *ms) {
  switch (v->value_type) {
    case BSON_TYPE_DATE_TIME:
      *ms = v->value.v_datetime;
      return true;
    case BSON_TYPE_TIMESTAMP:
      *ms = (int64_t)v->value.v_timestamp.timestamp * 1000;
      return true;
    case BSON_TYPE_OID:
      *ms = (int64_t)bson_oid_get_time_t(&v->value.v_oid) * 1000;
      return true;
    default:
      return false;
  }
}

int aspd_value_rank(bson_type_t type) {
  switch (type) {
    case BSON_TYPE_MINKEY:
      return -1;
    case BSON_TYPE_EOD:
    case BSON_TYPE_UNDEFINED:
      return 0;
    case BSON_TYPE_NULL:
      return 5;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128:
      return 10;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL:
      return 15;
    case BSON_TYPE_DOCUMENT:
      return 20;
    case BSON_TYPE_ARRAY:
      return 25;
    case BSON_TYPE_BINARY:
      return 30;
    case BSON_TYPE_OID:
      return 35;
    case BSON_TYPE_BOOL:
      return 40;
    case BSON_TYPE_DATE_TIME:
      return 45;
    case BSON_TYPE_TIMESTAMP:
      return 47;
    case BSON_TYPE_REGEX:
      return 50;
    case BSON_TYPE_DBPOINTER:
      return 55;
    case BSON_TYPE_CODE:
      return 60;
    case BSON_TYPE_CODEWSCOPE:
      return 65;
    default: /* MaxKey */
      return 127;
  }
}

static int sign(long long x) {
  return x < 0 ? -1 : x > 0 ? 1 : 0;
}

static int cmp_numbers(const bson_value_t *a, const bson_value_t *b) {
  if (a->value_type == BSON_TYPE_INT64 && b->value_type == BSON_TYPE_INT64) {
    return a->value.v_int64 < b->value.v_int64 ? -1 : a->value.v_int64 > b->value.v_int64;
  }
  long double x = number_value(a), y = number_value(b);
  /* NaN sorts below every other number and equals itself. */
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y) ? 0 : isnan(x) ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  if (c) return sign(c);
  return alen < blen ? -1 : alen > blen;
}

/* Documents compare field by field: the type rank of the values, then the
 * field names, then the values; arrays element by element alike. */
static int cmp_containers(const bson_value_t *a, const bson_value_t *b, bool with_keys) {
  bson_iter_t ia, ib;
  bson_iter_init_from_data(&ia, a->value.v_doc.data, a->value.v_doc.data_len);
  bson_iter_init_from_data(&ib, b->value.v_doc.data, b->value.v_doc.data_len);
  for (;;) {
    bool more_a = bson_iter_next(&ia), more_b = bson_iter_next(&ib);
    if (!more_a || !more_b) return more_a == more_b ? 0 : more_a ? 1 : -1;
    const bson_value_t *va = bson_iter_value(&ia), *vb = bson_iter_value(&ib);
    int c = aspd_value_rank(va->value_type) - aspd_value_rank(vb->value_type);
    if (c) return sign(c);
    if (with_keys) {
      c = strcmp(bson_iter_key(&ia), bson_iter_key(&ib));
      if (c) return sign(c);
    }
    c = aspd_value_cmp(va, vb);
    if (c) return c;
  }
}

int aspd_value_cmp(const bson_value_t *a, const bson_value_t *b) {
  int ra = aspd_value_rank(a->value_type), rb = aspd_value_rank(b->value_type);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 10:
      return cmp_numbers(a, b);
    case 15: {
      /* Symbols share their layout with strings. */
      return cmp_bytes(a->value.v_utf8.str, a->value.v_utf8.len, b->value.v_utf8.str,
                       b->value.v_utf8.len);
    }
    case 20:
      return cmp_containers(a, b, true);
    case 25:
      return cmp_containers(a, b, false);
    case 30:
      if (a->value.v_binary.data_len != b->value.v_binary.data_len) {
        return a->value.v_binary.data_len < b->value.v_binary.data_len ? -1 : 1;
      }
      if (a->value.v_binary.subtype != b->value.v_binary.subtype) {
        return a->value.v_binary.subtype < b->value.v_binary.subtype ? -1 : 1;
      }
      return sign(
          memcmp(a->value.v_binary.data, b->value.v_binary.data, a->value.v_binary.data_len));
    case 35:
      return sign(bson_oid_compare(&a->value.v_oid, &b->value.v_oid));
    case 40:
      return (int)a->value.v_bool - (int)b->value.v_bool;
    case 45:
      return a->value.v_datetime < b->value.v_datetime ? -1
                                                       : a->value.v_datetime > b->value.v_datetime;
    case 47:
      if (a->value.v_timestamp.timestamp != b->value.v_timestamp.timestamp) {
        return a->value.v_timestamp.timestamp < b->value.v_timestamp.timestamp ? -1 : 1;
      }
      return a->value.v_timestamp.increment < b->value.v_timestamp.increment   ? -1
             : a->value.v_timestamp.increment > b->value.v_timestamp.increment ? 1
                                                                               : 0;
    case 50: {
      int c = strcmp(a->value.v_regex.regex, b->value.v_regex.regex);
      return c ? sign(c) : sign(strcmp(a->value.v_regex.options, b->value.v_regex.options));
    }
    case 60:
      return cmp_bytes(a->value.v_code.code, a->value.v_code.code_len, b->value.v_code.code,
                       b->value.v_code.code_len);
    default: /* MinKey, MaxKey, null, undefined, missing: one value each */
      return 0;
  }
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static uint64_t hash_value(uint64_t h, const bson_value_t *v) {
  int rank = aspd_value_rank(v->value_type);
  h = hash_bytes(h, &rank, sizeof rank);
  switch (rank) {
    case 10: {
      /* aspd_value_cmp compares numbers as long doubles: equal ones round to one double. */
      double d = aspd_value_as_double(v);
      if (d == 0) d = 0; /* -0 */
      if (isnan(d)) d = NAN;
      return hash_bytes(h, &d, sizeof d);
    }
    case 15:
      return hash_bytes(h, v->value.v_utf8.str, v->value.v_utf8.len);
    case 20:
    case 25: {
      bson_iter_t it;
      bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len);
      while (bson_iter_next(&it)) {
        if (rank == 20) h = hash_bytes(h, bson_iter_key(&it), bson_iter_key_len(&it));
        h = hash_value(h, bson_iter_value(&it));
      }
      return h;
    }
    case 30:
    case 35:
    case 40:
    case 45:
    case 47:
    case 50:
    case 60: {
      /* Compared by content, which the value's BSON encoding holds exactly. */
      bson_t holder = BSON_INITIALIZER;
      bson_append_value(&holder, "", 0, v);
      h = hash_bytes(h, bson_get_data(&holder), holder.len);
      bson_destroy(&holder);
      return h;
    }
    default: /* the types of which aspd_value_cmp holds every value equal */
      return h;
  }
}

uint64_t aspd_value_hash(const bson_value_t *v) {
  return hash_value(1469598103934665603ULL, v);
}

typedef struct {
  const char *name;
  bson_type_t type;
} type_name_t;

static const type_name_t type_names[] = {
    {"double", BSON_TYPE_DOUBLE},
    {"string", BSON_TYPE_UTF8},
    {"object", BSON_TYPE_DOCUMENT},
    {"array", BSON_TYPE_ARRAY},
    {"binData", BSON_TYPE_BINARY},
    {"undefined", BSON_TYPE_UNDEFINED},
    {"objectId", BSON_TYPE_OID},
    {"bool", BSON_TYPE_BOOL},
    {"date", BSON_TYPE_DATE_TIME},
    {"null", BSON_TYPE_NULL},
    {"regex", BSON_TYPE_REGEX},
    {"dbPointer", BSON_TYPE_DBPOINTER},
    {"javascript", BSON_TYPE_CODE},
    {"symbol", BSON_TYPE_SYMBOL},
    {"javascriptWithScope", BSON_TYPE_CODEWSCOPE},
    {"int", BSON_TYPE_INT32},
    {"timestamp", BSON_TYPE_TIMESTAMP},
    {"long", BSON_TYPE_INT64},
    {"decimal", BSON_TYPE_DECIMAL128},
    {"minKey", BSON_TYPE_MINKEY},
    {"maxKey", BSON_TYPE_MAXKEY},
};

const char *aspd_type_name(bson_type_t type) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
    if (type_names[i].type == type) return type_names[i].name;
  }
  return "missing";
}

const char *aspd_value_type_name(const bson_value_t *v) {
  return !v || v->value_type == BSON_TYPE_EOD ? "missing" : aspd_type_name(v->value_type);
}

bool aspd_type_from_name(const char *name, bson_type_t *type) {
  for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
    if (!strcmp(type_names[i].name, name)) {
      *type = type_names[i].type;
      return true;
    }
  }
  return false;
}

bool aspd_value_truthy(const bson_value_t *v) {
  if (aspd_value_is_nullish(v)) return false;
  if (v->value_type == BSON_TYPE_BOOL) return v->value.v_bool;
  if (aspd_value_is_number(v)) return number_value(v) != 0;
  return true;
}
