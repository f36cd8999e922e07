/* Type conversion: $toString, $toInt, $toLong, $toDouble, $toBool, $toDate and
 * $dateFromString (ISO-8601 strings with an optional offset). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expr/operators.h"

/* ISO-8601 with optional milliseconds and a Z or +hh:mm offset. */
static bool parse_iso_date(const char *s, int64_t *ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
  if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3) return false;
  s += n;
  if (*s == 'T' || *s == ' ') {
    if (sscanf(s + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3) return false;
    s += 1 + n;
  }
  int frac = 0;
  if (*s == '.') {
    int digits = 0;
    for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
      if (digits < 3) frac = frac * 10 + (*s - '0');
    }
    for (; digits < 3; digits++) frac *= 10;
  }
  int offset_min = 0;
  if (*s == '+' || *s == '-') {
    int oh, om;
    if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_min = (oh * 60 + om) * (*s == '-' ? -1 : 1);
    s += 6;
  } else if (*s == 'Z') {
    s++;
  }
  if (*s) return false;
  struct tm tm = {.tm_year = y - 1900,
                  .tm_mon = mo - 1,
                  .tm_mday = d,
                  .tm_hour = h,
                  .tm_min = mi,
                  .tm_sec = sec};
  *ms = ((int64_t)timegm(&tm) - (int64_t)offset_min * 60) * 1000 + frac;
  return true;
}

static void format_iso_date(int64_t ms, char *out, size_t len) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

static bool set_null(bson_value_t *out) {
  out->value_type = BSON_TYPE_NULL;
  return true;
}

static bool eval_to_string(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  char buf[64];
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  switch (v.value_type) {
    case BSON_TYPE_UTF8:
      *out = v;
      return true;
    case BSON_TYPE_INT32:
      snprintf(buf, sizeof buf, "%d", v.value.v_int32);
      break;
    case BSON_TYPE_INT64:
      snprintf(buf, sizeof buf, "%lld", (long long)v.value.v_int64);
      break;
    case BSON_TYPE_DOUBLE:
      snprintf(buf, sizeof buf, "%.17g", v.value.v_double);
      break;
    case BSON_TYPE_DECIMAL128:
      bson_decimal128_to_string(&v.value.v_decimal128, buf);
      break;
    case BSON_TYPE_BOOL:
      snprintf(buf, sizeof buf, "%s", v.value.v_bool ? "true" : "false");
      break;
    case BSON_TYPE_DATE_TIME:
      format_iso_date(v.value.v_datetime, buf, sizeof buf);
      break;
    case BSON_TYPE_OID:
      bson_oid_to_string(&v.value.v_oid, buf);
      break;
    default:
      return aspd_eval_fail(
          ev, "Unsupported conversion from %s to string in $convert with no onError value",
          aspd_value_type_name(&v));
  }
  aspd_eval_string(ev, buf, strlen(buf), out);
  return true;
}

static bool eval_to_bool(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = aspd_value_truthy(&v);
  return true;
}

/* The number a conversion starts from. */
static bool numeric_source(aspd_eval_t *ev, const bson_value_t *v, const char *target, double *d) {
  if (aspd_value_is_number(v)) {
    *d = aspd_value_as_double(v);
  } else if (v->value_type == BSON_TYPE_BOOL) {
    *d = v->value.v_bool;
  } else if (v->value_type == BSON_TYPE_DATE_TIME && strcmp(target, "int")) {
    *d = (double)v->value.v_datetime;
  } else if (v->value_type == BSON_TYPE_UTF8) {
    char *end;
    *d = strtod(v->value.v_utf8.str, &end);
    if (!*v->value.v_utf8.str || *end) {
      return aspd_eval_fail(ev,
                            "Failed to parse number '%s' in $convert with no onError value: Did "
                            "not consume whole string.",
                            v->value.v_utf8.str);
    }
  } else {
    return aspd_eval_fail(ev,
                          "Unsupported conversion from %s to %s in $convert with no onError value",
                          aspd_value_type_name(v), target);
  }
  return true;
}

static bool eval_to_double(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  double d;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  if (!numeric_source(ev, &v, "double", &d)) return false;
  out->value_type = BSON_TYPE_DOUBLE;
  out->value.v_double = d;
  return true;
}

static bool eval_to_int(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  double d;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  if (!numeric_source(ev, &v, "int", &d)) return false;
  if (!(d >= INT32_MIN && d <= INT32_MAX)) {
    return aspd_eval_fail(
        ev, "Conversion would overflow target type in $convert with no onError value: %g", d);
  }
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = (int32_t)d;
  return true;
}

static bool eval_to_long(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  double d;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  if (v.value_type == BSON_TYPE_INT64 || v.value_type == BSON_TYPE_INT32) {
    out->value_type = BSON_TYPE_INT64;
    out->value.v_int64 = v.value_type == BSON_TYPE_INT64 ? v.value.v_int64 : v.value.v_int32;
    return true;
  }
  if (!numeric_source(ev, &v, "long", &d)) return false;
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
    return aspd_eval_fail(
        ev, "Conversion would overflow target type in $convert with no onError value: %g", d);
  }
  out->value_type = BSON_TYPE_INT64;
  out->value.v_int64 = (int64_t)d;
  return true;
}

static bool to_date(aspd_eval_t *ev, const bson_value_t *v, const char *op, bool numbers,
                    bson_value_t *out) {
  int64_t ms;
  if (v->value_type == BSON_TYPE_DATE_TIME) {
    ms = v->value.v_datetime;
  } else if (numbers && aspd_value_is_number(v)) {
    ms = (int64_t)aspd_value_as_double(v);
  } else if (numbers && v->value_type == BSON_TYPE_OID) {
    ms = (int64_t)bson_oid_get_time_t(&v->value.v_oid) * 1000;
  } else if (v->value_type == BSON_TYPE_UTF8) {
    if (!parse_iso_date(v->value.v_utf8.str, &ms)) {
      return aspd_eval_fail(ev, "Error parsing date string '%s'", v->value.v_utf8.str);
    }
  } else {
    return aspd_eval_fail(ev, "%s cannot convert %s to a date", op, aspd_value_type_name(v));
  }
  out->value_type = BSON_TYPE_DATE_TIME;
  out->value.v_datetime = ms;
  return true;
}

static bool eval_to_date(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) return set_null(out);
  return to_date(ev, &v, "$toDate", true, out);
}

/* args: dateString, onError, onNull. */
static bool eval_date_from_string(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) {
    return e->args[2] ? aspd_expr_eval(e->args[2], ev, out) : set_null(out);
  }
  if (v.value_type != BSON_TYPE_UTF8) {
    if (e->args[1]) return aspd_expr_eval(e->args[1], ev, out);
    return aspd_eval_fail(ev,
                          "$dateFromString requires that 'dateString' be a string, found: %s "
                          "with value %s",
                          aspd_value_type_name(&v), aspd_eval_json(ev, &v));
  }
  if (to_date(ev, &v, "$dateFromString", false, out)) return true;
  return e->args[1] ? aspd_expr_eval(e->args[1], ev, out) : false;
}

static bool compile_date_from_string(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                                     aspd_expr_t *e, aspd_error_t *err) {
  static const char *const names[] = {"dateString", "onError", "onNull"};
  return aspd_expr_compile_named(cc, operand, e, names, 3, 1, err);
}

static const aspd_expr_op_t ops[] = {
    {"$toString", 1, 1, eval_to_string, NULL},
    {"$toBool", 1, 1, eval_to_bool, NULL},
    {"$toDouble", 1, 1, eval_to_double, NULL},
    {"$toInt", 1, 1, eval_to_int, NULL},
    {"$toLong", 1, 1, eval_to_long, NULL},
    {"$toDate", 1, 1, eval_to_date, NULL},
    {"$dateFromString", 0, 0, eval_date_from_string, compile_date_from_string},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_convert_ops = {ops};
