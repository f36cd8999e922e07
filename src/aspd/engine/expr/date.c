/* Date operators: the date parts ($year ... $millisecond, $dayOfYear,
 * $dayOfWeek, $week, $isoWeek, $isoWeekYear, $isoDayOfWeek), $dateToString
 * (every format specifier), $dateFromString (format, timezone, onError, onNull),
 * $dateToParts and $dateFromParts. Every one takes a timezone: an Olson name or
 * an offset (dates.h). Dates, Timestamps and ObjectIds are all dates here. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/dates.h"
#include "engine/expr/operators.h"

static const char *const MONTHS[] = {"January",   "February", "March",    "April",
                                     "May",       "June",     "July",     "August",
                                     "September", "October",  "November", "December"};

static bool not_a_date(aspd_eval_t *ev, const bson_value_t *v) {
  return aspd_eval_fail(ev, "can't convert from BSON type %s to Date", aspd_value_type_name(v));
}

bool aspd_expr_timezone(const aspd_expr_t *e, size_t idx, aspd_eval_t *ev, const aspd_tz_t **tz,
                        bool *null) {
  *tz = aspd_tz_utc();
  *null = false;
  if (e->data) { /* a constant zone, found at plan time */
    *tz = (const aspd_tz_t *)e->data;
    return true;
  }
  const aspd_expr_t *arg = idx < e->nargs ? e->args[idx] : NULL;
  if (!arg) return true;
  bson_value_t v;
  if (!aspd_expr_eval(arg, ev, &v)) return false;
  if (aspd_value_is_nullish(&v)) {
    *null = true;
    return true;
  }
  if (v.value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "timezone must evaluate to a string, found %s",
                          aspd_value_type_name(&v));
  }
  *tz = aspd_tz_find(v.value.v_utf8.str);
  if (!*tz) {
    return aspd_eval_fail(ev, "unrecognized time zone identifier: \"%s\"", v.value.v_utf8.str);
  }
  return true;
}

bool aspd_expr_check_timezone(aspd_expr_t *e, size_t idx, aspd_error_t *err) {
  const aspd_expr_t *arg = idx < e->nargs ? e->args[idx] : NULL;
  if (!arg || !aspd_expr_is_constant(arg) || arg->value.value_type != BSON_TYPE_UTF8) return true;
  const aspd_tz_t *tz = aspd_tz_find(arg->value.value.v_utf8.str);
  if (!tz) {
    aspd_error_set(err, ASPD_E_LOCATION(40485), "unrecognized time zone identifier: \"%s\"",
                   arg->value.value.v_utf8.str);
    return false;
  }
  e->data = (void *)(uintptr_t)tz; /* zones live as long as the process */
  return true;
}

static void set_int(bson_value_t *out, int64_t i) {
  out->value_type = BSON_TYPE_INT32;
  out->value.v_int32 = (int32_t)i;
}

/* ---- the date parts ------------------------------------------------------------ */

typedef enum {
  PART_YEAR,
  PART_MONTH,
  PART_DAY_OF_MONTH,
  PART_HOUR,
  PART_MINUTE,
  PART_SECOND,
  PART_MILLISECOND,
  PART_DAY_OF_YEAR,
  PART_DAY_OF_WEEK,
  PART_WEEK,
  PART_ISO_WEEK,
  PART_ISO_WEEK_YEAR,
  PART_ISO_DAY_OF_WEEK,
} part_t;

static const char *const NAMES_PART[] = {"date", "timezone"};

/* {date, timezone} or a single expression (also a one-element list). */
static bool compile_part(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                         aspd_error_t *err) {
  bson_iter_t it;
  if (operand->value_type == BSON_TYPE_DOCUMENT) {
    bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
    if (bson_iter_find(&it, "date")) {
      return aspd_expr_compile_named(cc, operand, e, NAMES_PART, 2, 1, err) &&
             aspd_expr_check_timezone(e, 1, err);
    }
  }
  const bson_value_t *arg = operand;
  bson_value_t only;
  if (operand->value_type == BSON_TYPE_ARRAY) {
    bson_iter_init_from_data(&it, operand->value.v_doc.data, operand->value.v_doc.data_len);
    size_t n = 0;
    while (bson_iter_next(&it)) {
      if (n++ == 0) only = *bson_iter_value(&it);
    }
    if (n != 1) {
      aspd_error_set(err, ASPD_E_LOCATION(16020),
                     "Expression %s takes exactly 1 arguments. %zu were passed in.", e->name, n);
      return false;
    }
    arg = &only;
  }
  e->args = calloc(2, sizeof *e->args);
  e->nargs = 2;
  e->args[0] = aspd_expr_compile(cc, arg, err);
  return e->args[0] != NULL;
}

/* The local broken-down time of args[0] in the zone args[1]: false on error;
 * *null when the date or zone is null. */
static bool local_time(const aspd_expr_t *e, aspd_eval_t *ev, aspd_civil_t *c, int64_t *utc_ms,
                       const aspd_tz_t **tz_out, bool *null) {
  bson_value_t v;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  const aspd_tz_t *tz;
  bool tz_null;
  if (!aspd_expr_timezone(e, 1, ev, &tz, &tz_null)) return false;
  *null = aspd_value_is_nullish(&v) || tz_null;
  if (*null) return true;
  int64_t ms;
  if (!aspd_value_as_date(&v, &ms)) return not_a_date(ev, &v);
  aspd_civil_from_ms(aspd_tz_to_local(tz, ms), c);
  if (utc_ms) *utc_ms = ms;
  if (tz_out) *tz_out = tz;
  return true;
}

static bool date_part(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, part_t part) {
  aspd_civil_t c;
  bool null;
  if (!local_time(e, ev, &c, NULL, NULL, &null)) return false;
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t iso_year;
  int week, dow;
  aspd_iso_week(&c, &iso_year, &week, &dow);
  const int64_t value[] = {
      [PART_YEAR] = c.year,
      [PART_MONTH] = c.month,
      [PART_DAY_OF_MONTH] = c.day,
      [PART_HOUR] = c.hour,
      [PART_MINUTE] = c.minute,
      [PART_SECOND] = c.second,
      [PART_MILLISECOND] = c.millisecond,
      [PART_DAY_OF_YEAR] = c.yday + 1,
      [PART_DAY_OF_WEEK] = c.wday + 1,
      [PART_WEEK] = (c.yday + 7 - c.wday) / 7,
      [PART_ISO_WEEK] = week,
      [PART_ISO_WEEK_YEAR] = iso_year,
      [PART_ISO_DAY_OF_WEEK] = dow,
  };
  set_int(out, value[part]);
  return true;
}

#define PART_OP(fn, part)                                                    \
  static bool fn(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) { \
    return date_part(e, ev, out, part);                                      \
  }
PART_OP(eval_year, PART_YEAR)
PART_OP(eval_month, PART_MONTH)
PART_OP(eval_day_of_month, PART_DAY_OF_MONTH)
PART_OP(eval_hour, PART_HOUR)
PART_OP(eval_minute, PART_MINUTE)
PART_OP(eval_second, PART_SECOND)
PART_OP(eval_millisecond, PART_MILLISECOND)
PART_OP(eval_day_of_year, PART_DAY_OF_YEAR)
PART_OP(eval_day_of_week, PART_DAY_OF_WEEK)
PART_OP(eval_week, PART_WEEK)
PART_OP(eval_iso_week, PART_ISO_WEEK)
PART_OP(eval_iso_week_year, PART_ISO_WEEK_YEAR)
PART_OP(eval_iso_day_of_week, PART_ISO_DAY_OF_WEEK)

/* ---- $dateToString --------------------------------------------------------------- */

static const char *const NAMES_TO_STRING[] = {"date", "format", "timezone", "onNull"};

/* A format string's specifiers, checked once: NULL when fine, else why not. */
static const char *check_format(const char *f, char *why, size_t len) {
  for (const char *p = f; *p; p++) {
    if (*p != '%') continue;
    if (!p[1]) {
      snprintf(why, len, "Unmatched '%%' at end of format string");
      return why;
    }
    if (!strchr("dGHjLmMSwuUVYzZ%bB", p[1])) {
      snprintf(why, len, "Invalid format character '%%%c' in format string", p[1]);
      return why;
    }
    p++;
  }
  return NULL;
}

static bool compile_to_string(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                              aspd_error_t *err) {
  if (!aspd_expr_compile_named(cc, operand, e, NAMES_TO_STRING, 4, 1, err) ||
      !aspd_expr_check_timezone(e, 2, err)) {
    return false;
  }
  char why[128];
  if (e->args[1] && aspd_expr_is_constant(e->args[1]) &&
      e->args[1]->value.value_type == BSON_TYPE_UTF8 &&
      check_format(e->args[1]->value.value.v_utf8.str, why, sizeof why)) {
    aspd_error_set(err, ASPD_E_LOCATION(18536), "%s", why);
    return false;
  }
  return true;
}

/* Formats the instant ms in tz. False (with why) on a bad format or year. */
static bool format_date(const char *f, int64_t ms, const aspd_tz_t *tz, bson_string_t *out,
                        char *why, size_t why_len) {
  if (check_format(f, why, why_len)) return false;
  aspd_civil_t c;
  aspd_civil_from_ms(aspd_tz_to_local(tz, ms), &c);
  int32_t off = aspd_tz_offset(tz, ms);
  int64_t iso_year;
  int week, dow;
  aspd_iso_week(&c, &iso_year, &week, &dow);
  for (const char *p = f; *p; p++) {
    if (*p != '%') {
      bson_string_append_c(out, *p);
      continue;
    }
    switch (*++p) {
      case 'Y':
      case 'G': {
        int64_t y = *p == 'Y' ? c.year : iso_year;
        if (y < 0 || y > 9999) {
          snprintf(why, why_len,
                   "$dateToString is only defined on year 0-9999, tried to use "
                   "year %lld",
                   (long long)y);
          return false;
        }
        bson_string_append_printf(out, "%04d", (int)y);
        break;
      }
      case 'm':
        bson_string_append_printf(out, "%02d", c.month);
        break;
      case 'd':
        bson_string_append_printf(out, "%02d", c.day);
        break;
      case 'H':
        bson_string_append_printf(out, "%02d", c.hour);
        break;
      case 'M':
        bson_string_append_printf(out, "%02d", c.minute);
        break;
      case 'S':
        bson_string_append_printf(out, "%02d", c.second);
        break;
      case 'L':
        bson_string_append_printf(out, "%03d", c.millisecond);
        break;
      case 'j':
        bson_string_append_printf(out, "%03d", c.yday + 1);
        break;
      case 'w':
        bson_string_append_printf(out, "%d", c.wday + 1);
        break;
      case 'u':
        bson_string_append_printf(out, "%d", dow);
        break;
      case 'U':
        bson_string_append_printf(out, "%02d", (c.yday + 7 - c.wday) / 7);
        break;
      case 'V':
        bson_string_append_printf(out, "%02d", week);
        break;
      case 'z': {
        int32_t a = off < 0 ? -off : off;
        bson_string_append_printf(out, "%c%02d%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
        break;
      }
      case 'Z':
        bson_string_append_printf(out, "%d", off / 60);
        break;
      case 'b':
        bson_string_append_printf(out, "%.3s", MONTHS[c.month - 1]);
        break;
      case 'B':
        bson_string_append(out, MONTHS[c.month - 1]);
        break;
      default: /* '%' */
        bson_string_append_c(out, '%');
    }
  }
  return true;
}

static bool eval_to_string(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t v, fv;
  if (!aspd_expr_eval(e->args[0], ev, &v)) return false;
  const aspd_tz_t *tz;
  bool tz_null;
  if (!aspd_expr_timezone(e, 2, ev, &tz, &tz_null)) return false;
  const char *format = NULL;
  if (e->args[1]) {
    if (!aspd_expr_eval(e->args[1], ev, &fv)) return false;
    if (aspd_value_is_nullish(&fv)) {
      out->value_type = BSON_TYPE_NULL;
      return true;
    }
    if (fv.value_type != BSON_TYPE_UTF8) {
      return aspd_eval_fail(ev, "$dateToString requires that 'format' be a string, found: %s",
                            aspd_value_type_name(&fv));
    }
    format = fv.value.v_utf8.str;
  }
  if (aspd_value_is_nullish(&v)) {
    if (e->args[3]) return aspd_expr_eval(e->args[3], ev, out);
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (tz_null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t ms;
  if (!aspd_value_as_date(&v, &ms)) return not_a_date(ev, &v);
  if (!format) format = aspd_tz_is_utc(tz) ? "%Y-%m-%dT%H:%M:%S.%LZ" : "%Y-%m-%dT%H:%M:%S.%L";
  bson_string_t *s = bson_string_new(NULL);
  char why[160];
  bool ok = format_date(format, ms, tz, s, why, sizeof why);
  if (ok) aspd_eval_string(ev, s->str, s->len, out);
  bson_string_free(s, true);
  return ok || aspd_eval_fail(ev, "%s", why);
}

/* ---- $dateFromString ------------------------------------------------------------- */

static const char *const NAMES_FROM_STRING[] = {"dateString", "format", "timezone", "onError",
                                                "onNull"};

static bool compile_from_string(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                                aspd_expr_t *e, aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_FROM_STRING, 5, 1, err) &&
         aspd_expr_check_timezone(e, 2, err);
}

/* Parses s by a format: false when it does not match. */
static bool parse_with_format(const char *s, const char *f, const aspd_tz_t *tz, int64_t *ms) {
  int64_t year = 1970, month = 1, day = 1, hour = 0, minute = 0, second = 0, milli = 0;
  int64_t yday = -1, iso_year = -1, iso_week = 1, iso_dow = 1;
  bool has_offset = false;
  int32_t offset = 0;
  const char *p = s;
  for (const char *q = f; *q; q++) {
    if (*q != '%') {
      if (*p++ != *q) return false;
      continue;
    }
    char spec = *++q;
    if (spec == '%') {
      if (*p++ != '%') return false;
      continue;
    }
    if (spec == 'z' || spec == 'Z') {
      int sign = *p == '-' ? -1 : *p == '+' ? 1 : 0;
      if (spec == 'z') {
        if (!sign || !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2])) return false;
        int h = (p[1] - '0') * 10 + (p[2] - '0'), m = 0;
        p += 3;
        if (*p == ':') p++;
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
          m = (p[0] - '0') * 10 + (p[1] - '0');
          p += 2;
        }
        offset = sign * (h * 3600 + m * 60);
      } else {
        char *end;
        long minutes = strtol(p, &end, 10);
        if (end == p) return false;
        p = end;
        offset = (int32_t)minutes * 60;
      }
      has_offset = true;
      continue;
    }
    int width = spec == 'Y' || spec == 'G' ? 4
                : spec == 'j'              ? 3
                : spec == 'L'              ? 3
                : spec == 'u'              ? 1
                                           : 2;
    int64_t v = 0;
    int n = 0;
    while (n < width && isdigit((unsigned char)*p)) v = v * 10 + (*p++ - '0'), n++;
    if (n == 0 || (spec != 'L' && n != width && (spec == 'Y' || spec == 'G'))) return false;
    switch (spec) {
      case 'Y':
        year = v;
        break;
      case 'm':
        month = v;
        break;
      case 'd':
        day = v;
        break;
      case 'H':
        hour = v;
        break;
      case 'M':
        minute = v;
        break;
      case 'S':
        second = v;
        break;
      case 'L':
        for (int i = n; i < 3; i++) v *= 10;
        milli = v;
        break;
      case 'j':
        yday = v;
        break;
      case 'G':
        iso_year = v;
        break;
      case 'V':
        iso_week = v;
        break;
      case 'u':
        iso_dow = v;
        break;
      default:
        return false;
    }
  }
  if (*p) return false;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  int64_t days;
  if (iso_year >= 0) {
    int64_t jan4 = aspd_days_from_civil(iso_year, 1, 4);
    int64_t jan4_dow = ((jan4 % 7) + 7 + 3) % 7 + 1; /* 1 = Monday */
    days = jan4 - (jan4_dow - 1) + (iso_week - 1) * 7 + (iso_dow - 1);
  } else if (yday >= 0) {
    days = aspd_days_from_civil(year, 1, 1) + yday - 1;
  } else {
    days = aspd_days_from_civil(year, month, day);
  }
  int64_t local = days * 86400000 + ((hour * 60 + minute) * 60 + second) * 1000 + milli;
  *ms = has_offset ? local - (int64_t)offset * 1000 : aspd_tz_from_local(tz, local);
  return true;
}

static bool eval_from_string(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t s, fv;
  if (!aspd_expr_eval(e->args[0], ev, &s)) return false;
  const aspd_tz_t *tz;
  bool tz_null;
  if (!aspd_expr_timezone(e, 2, ev, &tz, &tz_null)) return false;
  const char *format = NULL;
  if (e->args[1]) {
    if (!aspd_expr_eval(e->args[1], ev, &fv)) return false;
    if (fv.value_type == BSON_TYPE_UTF8) format = fv.value.v_utf8.str;
  }
  if (aspd_value_is_nullish(&s) || tz_null) {
    if (e->args[4]) return aspd_expr_eval(e->args[4], ev, out);
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  if (s.value_type != BSON_TYPE_UTF8) {
    if (e->args[3]) return aspd_expr_eval(e->args[3], ev, out);
    return aspd_eval_fail(ev,
                          "$dateFromString requires that 'dateString' be a string, found: %s "
                          "with value %s",
                          aspd_value_type_name(&s), aspd_eval_json(ev, &s));
  }
  int64_t ms;
  bool had_offset;
  bool ok = format ? parse_with_format(s.value.v_utf8.str, format, tz, &ms)
                   : aspd_date_parse(s.value.v_utf8.str, tz, &ms, &had_offset);
  if (!ok) {
    if (e->args[3]) return aspd_expr_eval(e->args[3], ev, out);
    return aspd_eval_fail(ev, "Error parsing date string '%s'", s.value.v_utf8.str);
  }
  out->value_type = BSON_TYPE_DATE_TIME;
  out->value.v_datetime = ms;
  return true;
}

/* ---- $dateToParts ------------------------------------------------------------------ */

static const char *const NAMES_TO_PARTS[] = {"date", "timezone", "iso8601"};

static bool compile_to_parts(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                             aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_TO_PARTS, 3, 1, err) &&
         aspd_expr_check_timezone(e, 1, err);
}

static bool eval_to_parts(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  aspd_civil_t c;
  bool null;
  if (!local_time(e, ev, &c, NULL, NULL, &null)) return false;
  bool iso = false;
  if (e->args[2]) {
    bson_value_t v;
    if (!aspd_expr_eval(e->args[2], ev, &v)) return false;
    if (aspd_value_is_nullish(&v)) null = true;
    iso = v.value_type == BSON_TYPE_BOOL && v.value.v_bool;
  }
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  bson_t doc = BSON_INITIALIZER;
  if (iso) {
    int64_t iso_year;
    int week, dow;
    aspd_iso_week(&c, &iso_year, &week, &dow);
    BSON_APPEND_INT32(&doc, "isoWeekYear", (int32_t)iso_year);
    BSON_APPEND_INT32(&doc, "isoWeek", week);
    BSON_APPEND_INT32(&doc, "isoDayOfWeek", dow);
  } else {
    BSON_APPEND_INT32(&doc, "year", (int32_t)c.year);
    BSON_APPEND_INT32(&doc, "month", c.month);
    BSON_APPEND_INT32(&doc, "day", c.day);
  }
  BSON_APPEND_INT32(&doc, "hour", c.hour);
  BSON_APPEND_INT32(&doc, "minute", c.minute);
  BSON_APPEND_INT32(&doc, "second", c.second);
  BSON_APPEND_INT32(&doc, "millisecond", c.millisecond);
  aspd_eval_bson(ev, &doc, false, out);
  bson_destroy(&doc);
  return true;
}

/* ---- $dateFromParts ---------------------------------------------------------------- */

enum {
  FP_YEAR,
  FP_MONTH,
  FP_DAY,
  FP_HOUR,
  FP_MINUTE,
  FP_SECOND,
  FP_MILLISECOND,
  FP_ISO_YEAR,
  FP_ISO_WEEK,
  FP_ISO_DOW,
  FP_TIMEZONE,
  FP_COUNT
};
static const char *const NAMES_FROM_PARTS[] = {
    "year",        "month",       "day",     "hour",         "minute",  "second",
    "millisecond", "isoWeekYear", "isoWeek", "isoDayOfWeek", "timezone"};

static bool compile_from_parts(aspd_expr_compiler_t *cc, const bson_value_t *operand,
                               aspd_expr_t *e, aspd_error_t *err) {
  if (!aspd_expr_compile_named(cc, operand, e, NAMES_FROM_PARTS, FP_COUNT, 0, err) ||
      !aspd_expr_check_timezone(e, FP_TIMEZONE, err)) {
    return false;
  }
  bool calendar = e->args[FP_YEAR] || e->args[FP_MONTH] || e->args[FP_DAY];
  bool iso = e->args[FP_ISO_YEAR] || e->args[FP_ISO_WEEK] || e->args[FP_ISO_DOW];
  if (calendar && iso) {
    aspd_error_set(err, ASPD_E_LOCATION(40489),
                   "$dateFromParts does not allow mixing natural "
                   "dates with ISO dates");
    return false;
  }
  if (!e->args[iso ? FP_ISO_YEAR : FP_YEAR]) {
    aspd_error_set(err, ASPD_E_LOCATION(40516), "%s",
                   iso ? "$dateFromParts requires either 'year' or 'isoWeekYear' to be present"
                       : "$dateFromParts requires either 'year' or 'isoWeekYear' to be present");
    return false;
  }
  return true;
}

static bool eval_from_parts(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  static const int64_t defaults[] = {1970, 1, 1, 0, 0, 0, 0, 1970, 1, 1};
  int64_t v[FP_TIMEZONE];
  for (int i = 0; i < FP_TIMEZONE; i++) {
    v[i] = defaults[i];
    if (!e->args[i]) continue;
    bson_value_t x;
    if (!aspd_expr_eval(e->args[i], ev, &x)) return false;
    if (aspd_value_is_nullish(&x)) {
      out->value_type = BSON_TYPE_NULL;
      return true;
    }
    double d = aspd_value_as_double(&x);
    if (!aspd_value_is_number(&x) || d != floor(d)) {
      return aspd_eval_fail(ev, "'%s' must evaluate to an integer, found %s with value %s",
                            NAMES_FROM_PARTS[i], aspd_value_type_name(&x), aspd_eval_json(ev, &x));
    }
    bool year = i == FP_YEAR || i == FP_ISO_YEAR;
    if (year ? (d < 1 || d > 9999) : (d < -32768 || d > 32767)) {
      /* Printed as JSON: converting 1e20 or Infinity to an integer would be undefined. */
      return aspd_eval_fail(
          ev, "'%s' must evaluate to %s, found %s", NAMES_FROM_PARTS[i],
          year ? "an integer in the range 1 to 9999" : "a value in the range [-32768, 32767]",
          aspd_eval_json(ev, &x));
    }
    v[i] = (int64_t)d;
  }
  const aspd_tz_t *tz;
  bool tz_null;
  if (!aspd_expr_timezone(e, FP_TIMEZONE, ev, &tz, &tz_null)) return false;
  if (tz_null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t days;
  if (e->args[FP_ISO_YEAR]) {
    int64_t jan4 = aspd_days_from_civil(v[FP_ISO_YEAR], 1, 4);
    int64_t jan4_dow = ((jan4 % 7) + 7 + 3) % 7 + 1;
    days = jan4 - (jan4_dow - 1) + (v[FP_ISO_WEEK] - 1) * 7 + (v[FP_ISO_DOW] - 1);
  } else {
    days = aspd_days_from_civil(v[FP_YEAR], v[FP_MONTH], v[FP_DAY]);
  }
  int64_t local = days * 86400000 + ((v[FP_HOUR] * 60 + v[FP_MINUTE]) * 60 + v[FP_SECOND]) * 1000 +
                  v[FP_MILLISECOND];
  out->value_type = BSON_TYPE_DATE_TIME;
  out->value.v_datetime = aspd_tz_from_local(tz, local);
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$year", 0, 0, eval_year, compile_part},
    {"$month", 0, 0, eval_month, compile_part},
    {"$dayOfMonth", 0, 0, eval_day_of_month, compile_part},
    {"$hour", 0, 0, eval_hour, compile_part},
    {"$minute", 0, 0, eval_minute, compile_part},
    {"$second", 0, 0, eval_second, compile_part},
    {"$millisecond", 0, 0, eval_millisecond, compile_part},
    {"$dayOfYear", 0, 0, eval_day_of_year, compile_part},
    {"$dayOfWeek", 0, 0, eval_day_of_week, compile_part},
    {"$week", 0, 0, eval_week, compile_part},
    {"$isoWeek", 0, 0, eval_iso_week, compile_part},
    {"$isoWeekYear", 0, 0, eval_iso_week_year, compile_part},
    {"$isoDayOfWeek", 0, 0, eval_iso_day_of_week, compile_part},
    {"$dateToString", 0, 0, eval_to_string, compile_to_string},
    {"$dateFromString", 0, 0, eval_from_string, compile_from_string},
    {"$dateToParts", 0, 0, eval_to_parts, compile_to_parts},
    {"$dateFromParts", 0, 0, eval_from_parts, compile_from_parts},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_date_ops = {ops};
