/* Type operators: $type, $isNumber, and $convert (every target, onError, onNull)
 * with its short forms $toBool, $toInt, $toLong, $toDouble, $toDecimal, $toString,
 * $toObjectId and $toDate. Conversion failures carry the
 * server's texts, which end "in $convert with no onError value". */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/expr/dates.h"
#include "engine/expr/decimal.h"
#include "engine/expr/operators.h"

static bool eval_type(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  const char *name = aspd_value_type_name(&v);
  aspd_eval_string(ev, name, strlen(name), out);
  return true;
}

static bool eval_is_number(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  out->value_type = BSON_TYPE_BOOL;
  out->value.v_bool = aspd_value_is_number(&v);
  return true;
}

/* ---- conversions ---------------------------------------------------------------- */

#define NO_ON_ERROR " in $convert with no onError value"

static double double_of_decimal(const bson_decimal128_t *dec) {
  char buf[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(dec, buf);
  if (!strcmp(buf, "NaN")) return NAN;
  if (!strcmp(buf, "Infinity")) return INFINITY;
  if (!strcmp(buf, "-Infinity")) return -INFINITY;
  return strtod(buf, NULL);
}

/* A base-10 integer string (optional sign, digits only). */
static bool parse_integer(const char *s, int64_t *out) {
  const char *p = s;
  if (*p == '-' || *p == '+') p++;
  if (!*p) return false;
  for (const char *q = p; *q; q++) {
    if (!isdigit((unsigned char)*q)) return false;
  }
  errno = 0;
  long long v = strtoll(s, NULL, 10);
  if (errno == ERANGE) return false;
  *out = v;
  return true;
}

static bool parse_double(const char *s, double *out) {
  if (!*s || isspace((unsigned char)*s)) return false;
  if (!strcmp(s, "NaN")) {
    *out = NAN;
    return true;
  }
  if (!strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
    *out = *s == '-' ? -INFINITY : INFINITY;
    return true;
  }
  for (const char *q = s; *q; q++) {
    if (!(isdigit((unsigned char)*q) || strchr("+-.eE", *q))) return false;
  }
  char *end;
  *out = strtod(s, &end);
  return *end == '\0';
}

/* The numeric value of a number, bool or date as a double (for integer targets). */
static double numeric(const bson_value_t *v) {
  switch (v->value_type) {
    case BSON_TYPE_BOOL:
      return v->value.v_bool;
    case BSON_TYPE_DATE_TIME:
      return (double)v->value.v_datetime;
    case BSON_TYPE_DECIMAL128:
      return double_of_decimal(&v->value.v_decimal128);
    default:
      return aspd_value_as_double(v);
  }
}

/* ISO-8601 text of a date in UTC with milliseconds. */
static void iso_date(int64_t ms, char *buf, size_t len) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(((ms % 1000) + 1000) % 1000));
}

/* The shortest text that reads back as the same double. */
static void double_text(double d, char *buf, size_t len) {
  if (isnan(d)) {
    snprintf(buf, len, "NaN");
    return;
  }
  if (isinf(d)) {
    snprintf(buf, len, "%s", d > 0 ? "Infinity" : "-Infinity");
    return;
  }
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(buf, len, "%.*g", precision, d);
    if (strtod(buf, NULL) == d) return;
  }
}

/* Converts v to the BSON type `to`; false with ev->reason on failure. */
static bool convert(aspd_eval_t *ev, const bson_value_t *v, bson_type_t to, bson_value_t *out) {
  const char *from = aspd_value_type_name(v);
  bool number = aspd_value_is_number(v);
  char buf[64];
  switch (to) {
    case BSON_TYPE_BOOL:
      if (v->value_type == BSON_TYPE_BOOL) {
        *out = *v;
        return true;
      }
      if (number || v->value_type == BSON_TYPE_UTF8 || v->value_type == BSON_TYPE_DATE_TIME ||
          v->value_type == BSON_TYPE_OID) {
        out->value_type = BSON_TYPE_BOOL;
        out->value.v_bool = !number || numeric(v) != 0;
        return true;
      }
      break;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: {
      int64_t i;
      if (v->value_type == BSON_TYPE_UTF8) {
        if (!parse_integer(v->value.v_utf8.str, &i)) {
          return aspd_eval_fail(ev, "Failed to parse number '%s'" NO_ON_ERROR, v->value.v_utf8.str);
        }
      } else if (number || v->value_type == BSON_TYPE_BOOL ||
                 (to == BSON_TYPE_INT64 && v->value_type == BSON_TYPE_DATE_TIME)) {
        if (v->value_type == BSON_TYPE_INT64 || v->value_type == BSON_TYPE_DATE_TIME) {
          i = v->value_type == BSON_TYPE_INT64 ? v->value.v_int64 : v->value.v_datetime;
        } else {
          double d = numeric(v);
          if (isnan(d)) {
            return aspd_eval_fail(ev, "Attempt to convert NaN value to integer type" NO_ON_ERROR);
          }
          if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
            return aspd_eval_fail(ev, "Conversion would overflow target type" NO_ON_ERROR);
          }
          i = (int64_t)d;
        }
      } else {
        break;
      }
      if (to == BSON_TYPE_INT32) {
        if (i < INT32_MIN || i > INT32_MAX) {
          return aspd_eval_fail(ev, "Conversion would overflow target type" NO_ON_ERROR);
        }
        out->value_type = BSON_TYPE_INT32;
        out->value.v_int32 = (int32_t)i;
      } else {
        out->value_type = BSON_TYPE_INT64;
        out->value.v_int64 = i;
      }
      return true;
    }
    case BSON_TYPE_DOUBLE: {
      double d;
      if (v->value_type == BSON_TYPE_UTF8) {
        if (!parse_double(v->value.v_utf8.str, &d)) {
          return aspd_eval_fail(ev, "Failed to parse number '%s'" NO_ON_ERROR, v->value.v_utf8.str);
        }
      } else if (number || v->value_type == BSON_TYPE_BOOL ||
                 v->value_type == BSON_TYPE_DATE_TIME) {
        d = numeric(v);
      } else {
        break;
      }
      out->value_type = BSON_TYPE_DOUBLE;
      out->value.v_double = d;
      return true;
    }
    case BSON_TYPE_DECIMAL128: {
      out->value_type = BSON_TYPE_DECIMAL128;
      if (v->value_type == BSON_TYPE_DECIMAL128) {
        *out = *v;
      } else if (v->value_type == BSON_TYPE_DOUBLE) {
        out->value.v_decimal128 = aspd_dec_of_double(v->value.v_double);
      } else if (number || v->value_type == BSON_TYPE_BOOL ||
                 v->value_type == BSON_TYPE_DATE_TIME) {
        int64_t i = v->value_type == BSON_TYPE_INT32   ? v->value.v_int32
                    : v->value_type == BSON_TYPE_INT64 ? v->value.v_int64
                    : v->value_type == BSON_TYPE_BOOL  ? v->value.v_bool
                                                       : v->value.v_datetime;
        snprintf(buf, sizeof buf, "%lld", (long long)i);
        bson_decimal128_from_string(buf, &out->value.v_decimal128);
      } else if (v->value_type == BSON_TYPE_UTF8) {
        double d;
        if (!parse_double(v->value.v_utf8.str, &d) ||
            !bson_decimal128_from_string(v->value.v_utf8.str, &out->value.v_decimal128)) {
          return aspd_eval_fail(ev, "Failed to parse number '%s'" NO_ON_ERROR, v->value.v_utf8.str);
        }
      } else {
        break;
      }
      return true;
    }
    case BSON_TYPE_UTF8:
      switch (v->value_type) {
        case BSON_TYPE_UTF8:
          *out = *v;
          return true;
        case BSON_TYPE_BOOL:
          snprintf(buf, sizeof buf, "%s", v->value.v_bool ? "true" : "false");
          break;
        case BSON_TYPE_INT32:
          snprintf(buf, sizeof buf, "%d", v->value.v_int32);
          break;
        case BSON_TYPE_INT64:
          snprintf(buf, sizeof buf, "%lld", (long long)v->value.v_int64);
          break;
        case BSON_TYPE_DOUBLE:
          double_text(v->value.v_double, buf, sizeof buf);
          break;
        case BSON_TYPE_DECIMAL128:
          bson_decimal128_to_string(&v->value.v_decimal128, buf);
          break;
        case BSON_TYPE_OID:
          bson_oid_to_string(&v->value.v_oid, buf);
          break;
        case BSON_TYPE_DATE_TIME:
          iso_date(v->value.v_datetime, buf, sizeof buf);
          break;
        default:
          return aspd_eval_fail(ev, "Unsupported conversion from %s to string" NO_ON_ERROR, from);
      }
      aspd_eval_string(ev, buf, strlen(buf), out);
      return true;
    case BSON_TYPE_OID:
      if (v->value_type == BSON_TYPE_OID) {
        *out = *v;
        return true;
      }
      if (v->value_type == BSON_TYPE_UTF8) {
        const char *s = v->value.v_utf8.str;
        if (v->value.v_utf8.len != 24) {
          return aspd_eval_fail(ev,
                                "Failed to parse objectId '%s'" NO_ON_ERROR
                                ": Invalid string length for parsing to OID, expected 24 but "
                                "found %u",
                                s, v->value.v_utf8.len);
        }
        if (!bson_oid_is_valid(s, 24)) {
          return aspd_eval_fail(ev,
                                "Failed to parse objectId '%s'" NO_ON_ERROR
                                ": Invalid character found in hex string",
                                s);
        }
        out->value_type = BSON_TYPE_OID;
        bson_oid_init_from_string(&out->value.v_oid, s);
        return true;
      }
      break;
    case BSON_TYPE_DATE_TIME:
      out->value_type = BSON_TYPE_DATE_TIME;
      switch (v->value_type) {
        case BSON_TYPE_DATE_TIME:
          *out = *v;
          return true;
        case BSON_TYPE_INT64:
          out->value.v_datetime = v->value.v_int64;
          return true;
        case BSON_TYPE_DOUBLE:
        case BSON_TYPE_DECIMAL128: {
          double d = numeric(v);
          if (!isfinite(d) || fabs(d) > 9.2e18) {
            return aspd_eval_fail(ev, "Conversion would overflow target type" NO_ON_ERROR);
          }
          out->value.v_datetime = (int64_t)d;
          return true;
        }
        case BSON_TYPE_OID:
          out->value.v_datetime = (int64_t)bson_oid_get_time_t(&v->value.v_oid) * 1000;
          return true;
        case BSON_TYPE_TIMESTAMP:
          out->value.v_datetime = (int64_t)v->value.v_timestamp.timestamp * 1000;
          return true;
        case BSON_TYPE_UTF8:
          if (!aspd_date_from_iso(v->value.v_utf8.str, &out->value.v_datetime)) {
            return aspd_eval_fail(ev, "Error parsing date string '%s'", v->value.v_utf8.str);
          }
          return true;
        default:
          break;
      }
      break;
    default:
      break;
  }
  return aspd_eval_fail(ev, "Unsupported conversion from %s to %s" NO_ON_ERROR, from,
                        aspd_type_name(to));
}

/* ---- $convert and its short forms ------------------------------------------------------ */

static const char *const NAMES_CONVERT[] = {"input", "to", "onError", "onNull"};

/* A `to` value as a BSON type: a name or a type number. */
static bool target_type(const bson_value_t *to, bson_type_t *type, char *why, size_t len) {
  if (to->value_type == BSON_TYPE_UTF8) {
    if (aspd_type_from_name(to->value.v_utf8.str, type) && aspd_type_name(*type)) return true;
    snprintf(why, len, "Unknown type name: %s", to->value.v_utf8.str);
    return false;
  }
  if (aspd_value_is_number(to)) {
    double d = aspd_value_as_double(to);
    if (d == floor(d) && d >= 1 && d <= 19) {
      *type = (bson_type_t)(int)d;
      const char *name = aspd_type_name(*type);
      if (name && strcmp(name, "missing") != 0) return true;
    }
    snprintf(why, len, "In $convert, numeric 'to' argument is not a valid type: %g", d);
    return false;
  }
  snprintf(why, len, "$convert's 'to' argument must be a string or number, but is %s",
           aspd_value_type_name(to));
  return false;
}

static bool compile_convert(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                            aspd_error_t *err) {
  if (!aspd_expr_compile_named(cc, operand, e, NAMES_CONVERT, 4, 3, err)) return false;
  if (aspd_expr_is_constant(e->args[1])) {
    bson_type_t type;
    char why[256];
    if (!target_type(&e->args[1]->value, &type, why, sizeof why)) {
      aspd_error_set(err, ASPD_E_BAD_VALUE, "%s", why);
      return false;
    }
  }
  return true;
}

/* Converts the evaluated input to `to`, with onNull and onError (NULL when absent). */
static bool convert_with(aspd_eval_t *ev, const bson_value_t *in, bson_type_t to,
                         const aspd_expr_t *on_error, const aspd_expr_t *on_null,
                         bson_value_t *out) {
  if (aspd_value_is_nullish(in)) {
    if (on_null) return aspd_expr_eval(on_null, ev, out);
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (convert(ev, in, to, out)) return true;
  if (!on_error) return false;
  ev->reason[0] = '\0';
  return aspd_expr_eval(on_error, ev, out);
}

static bool eval_convert(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t in, to;
  if (!aspd_expr_eval(e->args[0], ev, &in) || !aspd_expr_eval(e->args[1], ev, &to)) return false;
  bson_type_t type;
  char why[256];
  if (aspd_value_is_nullish(&to)) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (!target_type(&to, &type, why, sizeof why)) return aspd_eval_fail(ev, "%s", why);
  return convert_with(ev, &in, type, e->args[2], e->args[3], out);
}

/* The short forms: {$toInt: x} is {$convert: {input: x, to: "int"}}. */
#define TO_OP(fn, type)                                                      \
  static bool fn(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) { \
    bson_value_t in;                                                         \
    if (!aspd_expr_eval(e->args[0], ev, &in)) return false;                  \
    return convert_with(ev, &in, type, NULL, NULL, out);                     \
  }
TO_OP(eval_to_bool, BSON_TYPE_BOOL)
TO_OP(eval_to_int, BSON_TYPE_INT32)
TO_OP(eval_to_long, BSON_TYPE_INT64)
TO_OP(eval_to_double, BSON_TYPE_DOUBLE)
TO_OP(eval_to_decimal, BSON_TYPE_DECIMAL128)
TO_OP(eval_to_string, BSON_TYPE_UTF8)
TO_OP(eval_to_object_id, BSON_TYPE_OID)
TO_OP(eval_to_date, BSON_TYPE_DATE_TIME)

static const aspd_expr_op_t ops[] = {
    {"$type", 1, 1, eval_type, NULL},
    {"$isNumber", 1, 1, eval_is_number, NULL},
    {"$convert", 0, 0, eval_convert, compile_convert},
    {"$toBool", 1, 1, eval_to_bool, NULL},
    {"$toInt", 1, 1, eval_to_int, NULL},
    {"$toLong", 1, 1, eval_to_long, NULL},
    {"$toDouble", 1, 1, eval_to_double, NULL},
    {"$toDecimal", 1, 1, eval_to_decimal, NULL},
    {"$toString", 1, 1, eval_to_string, NULL},
    {"$toObjectId", 1, 1, eval_to_object_id, NULL},
    {"$toDate", 1, 1, eval_to_date, NULL},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_type_ops = {ops};
