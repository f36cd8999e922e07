/* Date arithmetic: $dateTrunc, $dateAdd, $dateSubtract, $dateDiff, in a time
 * zone. Units of a day and more work on the local calendar (a day across a
 * daylight-saving change may be 23 or 25 hours; adding a month to 31 January
 * gives the last day of February); smaller units on the instant itself. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "engine/expr/dates.h"
#include "engine/expr/operators.h"

typedef enum {
  UNIT_YEAR,
  UNIT_QUARTER,
  UNIT_MONTH,
  UNIT_WEEK,
  UNIT_DAY,
  UNIT_HOUR,
  UNIT_MINUTE,
  UNIT_SECOND,
  UNIT_MILLISECOND
} unit_t;

static const char *const UNITS[] = {"year", "quarter", "month",  "week",       "day",
                                    "hour", "minute",  "second", "millisecond"};
static const int64_t UNIT_MS[] = {0, 0, 0, 604800000, 86400000, 3600000, 60000, 1000, 1};

static bool parse_unit(aspd_eval_t *ev, const aspd_expr_t *e, const bson_value_t *v, unit_t *u) {
  if (v->value_type != BSON_TYPE_UTF8) {
    return aspd_eval_fail(ev, "%s requires 'unit' to be a string, but got %s", e->name,
                          aspd_value_type_name(v));
  }
  for (int i = 0; i <= UNIT_MILLISECOND; i++) {
    if (!strcmp(v->value.v_utf8.str, UNITS[i])) {
      *u = (unit_t)i;
      return true;
    }
  }
  return aspd_eval_fail(ev, "%s parameter 'unit' value cannot be recognized as a time unit: %s",
                        e->name, v->value.v_utf8.str);
}

/* startOfWeek: full or three-letter day names, any case; 0 = Sunday. */
static bool parse_start_of_week(aspd_eval_t *ev, const aspd_expr_t *e, const bson_value_t *v,
                                int *dow) {
  static const char *const days[] = {"sunday",   "monday", "tuesday", "wednesday",
                                     "thursday", "friday", "saturday"};
  if (v->value_type == BSON_TYPE_UTF8) {
    for (int i = 0; i < 7; i++) {
      if (!strcasecmp(v->value.v_utf8.str, days[i]) ||
          (v->value.v_utf8.len == 3 && !strncasecmp(v->value.v_utf8.str, days[i], 3))) {
        *dow = i;
        return true;
      }
    }
  }
  return aspd_eval_fail(ev,
                        "%s parameter 'startOfWeek' value cannot be recognized as a day of a "
                        "week: %s",
                        e->name, aspd_eval_json(ev, v));
}

static int64_t local_days(int64_t local_ms) {
  return aspd_floor_div(local_ms, 86400000);
}

/* Months since January of year 0 of a local time. */
static int64_t month_index(int64_t local_ms) {
  aspd_civil_t c;
  aspd_civil_from_ms(local_ms, &c);
  return c.year * 12 + (c.month - 1);
}

/* The first day on or after 2000-01-01 that is the week's first day. */
static int64_t week_reference(int dow) {
  int64_t ref = aspd_days_from_civil(2000, 1, 1); /* a Saturday */
  return ref + ((dow - 6) % 7 + 7) % 7;
}

/* ---- $dateTrunc -------------------------------------------------------------------- */

static const char *const NAMES_TRUNC[] = {"date", "unit", "binSize", "timezone", "startOfWeek"};

static bool compile_trunc(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                          aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_TRUNC, 5, 3, err) &&
         aspd_expr_check_timezone(e, 3, err);
}

/* Evaluates the optional arguments e->args[i]; *null when one is null. */
static bool optional(const aspd_expr_t *e, aspd_eval_t *ev, size_t i, bson_value_t *v, bool *null) {
  v->value_type = BSON_TYPE_EOD;
  if (i >= e->nargs || !e->args[i]) return true;
  if (!aspd_expr_eval(e->args[i], ev, v)) return false;
  if (aspd_value_is_nullish(v)) *null = true;
  return true;
}

/* Evaluates the arguments into v (v[i] NULL: not one of this operator's; the
 * timezone, argument 3 of every operator here, is not in v), in order, then the
 * timezone: false on error; *null when one of them is null. */
static bool arguments(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *const v[5],
                      const aspd_tz_t **tz, bool *null) {
  *null = false;
  for (size_t i = 0; i < 5; i++) {
    if (v[i] && !optional(e, ev, i, v[i], null)) return false;
  }
  bool tz_null;
  if (!aspd_expr_timezone(e, 3, ev, tz, &tz_null)) return false;
  *null = *null || tz_null;
  return true;
}

static void set_date(bson_value_t *out, int64_t ms) {
  out->value_type = BSON_TYPE_DATE_TIME;
  out->value.v_datetime = ms;
}

/* Months either side of year 2000 that a date (milliseconds in an int64) can reach. */
#define MONTHS_OF_DATES (292277025LL * 12)
/* The dates $dateTrunc answers with: an int64 of milliseconds, less a day either side for
 * the time zone's offset. */
#define DATE_EDGE_MS (INT64_MAX - 86400000LL)

/* The start of the bin of `span` units (> 0) that holds `value`, counted from 0; false when
 * it does not fit an int64. */
static bool bin_start(int64_t value, int64_t span, int64_t *start) {
  return !__builtin_mul_overflow(aspd_floor_div(value, span), span, start);
}

static bool eval_trunc(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t d, u, b, w;
  const aspd_tz_t *tz;
  bool null;
  if (!arguments(e, ev, (bson_value_t *const[]){&d, &u, &b, NULL, &w}, &tz, &null)) return false;
  if (null || d.value_type == BSON_TYPE_EOD) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t ms;
  if (!aspd_value_as_date(&d, &ms)) {
    return aspd_eval_fail(ev, "$dateTrunc requires 'date' to be a date, but got %s",
                          aspd_value_type_name(&d));
  }
  unit_t unit;
  if (!parse_unit(ev, e, &u, &unit)) return false;
  int64_t bin = 1;
  if (b.value_type != BSON_TYPE_EOD && (!aspd_value_as_integral(&b, &bin) || bin < 1)) {
    return aspd_eval_fail(ev,
                          "$dateTrunc requires 'binSize' to be a 64-bit integer greater "
                          "than 0, but got value '%s' of type %s",
                          aspd_eval_json(ev, &b), aspd_value_type_name(&b));
  }
  int dow = 0;
  if (w.value_type != BSON_TYPE_EOD && unit == UNIT_WEEK && !parse_start_of_week(ev, e, &w, &dow)) {
    return false;
  }
  int64_t local = aspd_tz_to_local(tz, ms), result;
  bool fits;
  if (unit <= UNIT_MONTH) {
    int64_t months = unit == UNIT_YEAR ? 12 : unit == UNIT_QUARTER ? 3 : 1, span, start;
    fits = !__builtin_mul_overflow(months, bin, &span) &&
           bin_start(month_index(local) - 2000 * 12, span, &start) && start >= -MONTHS_OF_DATES &&
           start <= MONTHS_OF_DATES;
    if (fits) {
      start += 2000 * 12;
      fits = !__builtin_mul_overflow(
          aspd_days_from_civil(aspd_floor_div(start, 12),
                               start - aspd_floor_div(start, 12) * 12 + 1, 1),
          86400000, &result);
    }
  } else if (unit == UNIT_WEEK) {
    int64_t ref = week_reference(dow), span, start;
    fits = !__builtin_mul_overflow(7, bin, &span) &&
           bin_start(local_days(local) - ref, span, &start) &&
           !__builtin_add_overflow(ref, start, &start) &&
           !__builtin_mul_overflow(start, 86400000, &result);
  } else {
    int64_t ref = aspd_days_from_civil(2000, 1, 1) * 86400000, span, since, start;
    fits = !__builtin_mul_overflow(UNIT_MS[unit], bin, &span) &&
           !__builtin_sub_overflow(local, ref, &since) && bin_start(since, span, &start) &&
           !__builtin_add_overflow(ref, start, &result);
  }
  /* A bin that starts before the dates a 64-bit count of milliseconds can hold (with room
   * for the time zone's offset) has no date to answer with. */
  if (!fits || result < -DATE_EDGE_MS || result > DATE_EDGE_MS) {
    return aspd_eval_fail(ev,
                          "$dateTrunc: the bin of %lld %s(s) holding the date starts outside "
                          "the range of dates",
                          (long long)bin, UNITS[unit]);
  }
  set_date(out, aspd_tz_from_local(tz, result));
  return true;
}

/* ---- $dateAdd and $dateSubtract ------------------------------------------------------ */

static const char *const NAMES_ADD[] = {"startDate", "unit", "amount", "timezone"};

static bool compile_add(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                        aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_ADD, 4, 7, err) &&
         aspd_expr_check_timezone(e, 3, err);
}

/* ms plus amount units in tz; false when the result leaves the representable range. */
static bool add_units(int64_t ms, unit_t unit, int64_t amount, const aspd_tz_t *tz, int64_t *out) {
  if (unit >= UNIT_HOUR)
    return !__builtin_mul_overflow(amount, UNIT_MS[unit], &amount) &&
           !__builtin_add_overflow(ms, amount, out);
  int64_t local = aspd_tz_to_local(tz, ms);
  int64_t days = local_days(local), time = local % 86400000;
  if (time < 0) time += 86400000; /* days * 86400000 overflows for the first dates */
  if (unit == UNIT_DAY || unit == UNIT_WEEK) {
    if (__builtin_mul_overflow(amount, unit == UNIT_WEEK ? 7 : 1, &amount) ||
        __builtin_add_overflow(days, amount, &days)) {
      return false;
    }
  } else {
    aspd_civil_t c;
    aspd_civil_from_ms(local, &c);
    int64_t months, index;
    if (__builtin_mul_overflow(amount,
                               unit == UNIT_YEAR      ? 12
                               : unit == UNIT_QUARTER ? 3
                                                      : 1,
                               &months) ||
        __builtin_add_overflow(c.year * 12 + (c.month - 1), months, &index) ||
        index < -MONTHS_OF_DATES || index > MONTHS_OF_DATES) {
      return false;
    }
    int64_t year = aspd_floor_div(index, 12), month = index - year * 12 + 1;
    /* The same day of the month, or the month's last day. */
    int64_t last = aspd_days_from_civil(year, month + 1, 1) - aspd_days_from_civil(year, month, 1);
    days = aspd_days_from_civil(year, month, c.day < last ? c.day : last);
  }
  /* Like $dateTrunc's bins, a day's room is left for the zone's offset. */
  int64_t result;
  if (__builtin_mul_overflow(days, 86400000, &result) ||
      __builtin_add_overflow(result, time, &result) || result < -DATE_EDGE_MS ||
      result > DATE_EDGE_MS) {
    return false;
  }
  *out = aspd_tz_from_local(tz, result);
  return true;
}

static bool add_or_subtract(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out, int sign) {
  bson_value_t d, u, a;
  const aspd_tz_t *tz;
  bool null;
  if (!arguments(e, ev, (bson_value_t *const[]){&d, &u, &a, NULL, NULL}, &tz, &null)) return false;
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t ms;
  if (!aspd_value_as_date(&d, &ms)) {
    return aspd_eval_fail(ev, "%s requires startDate to be convertible to a date", e->name);
  }
  unit_t unit;
  if (!parse_unit(ev, e, &u, &unit)) return false;
  int64_t amount, result;
  if (!aspd_value_as_integral(&a, &amount)) {
    return aspd_eval_fail(ev, "%s expects integer amount of time units", e->name);
  }
  if (__builtin_mul_overflow(amount, sign, &amount) || !add_units(ms, unit, amount, tz, &result)) {
    return aspd_eval_fail(ev, "%s overflowed", e->name);
  }
  set_date(out, result);
  return true;
}

static bool eval_add(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return add_or_subtract(e, ev, out, 1);
}

static bool eval_subtract(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  return add_or_subtract(e, ev, out, -1);
}

/* ---- $dateDiff -------------------------------------------------------------------------- */

static const char *const NAMES_DIFF[] = {"startDate", "endDate", "unit", "timezone", "startOfWeek"};

static bool compile_diff(aspd_expr_compiler_t *cc, const bson_value_t *operand, aspd_expr_t *e,
                         aspd_error_t *err) {
  return aspd_expr_compile_named(cc, operand, e, NAMES_DIFF, 5, 7, err) &&
         aspd_expr_check_timezone(e, 3, err);
}

/* The number of unit boundaries between two local times; false when it does not fit an int64
 * (milliseconds between dates near the two ends of the range). */
static bool boundaries(int64_t a, int64_t b, unit_t unit, int dow, int64_t *n) {
  switch (unit) {
    case UNIT_YEAR:
      *n = aspd_floor_div(month_index(b), 12) - aspd_floor_div(month_index(a), 12);
      return true;
    case UNIT_QUARTER:
      *n = aspd_floor_div(month_index(b), 3) - aspd_floor_div(month_index(a), 3);
      return true;
    case UNIT_MONTH:
      *n = month_index(b) - month_index(a);
      return true;
    case UNIT_WEEK: {
      int64_t ref = week_reference(dow);
      *n = aspd_floor_div(local_days(b) - ref, 7) - aspd_floor_div(local_days(a) - ref, 7);
      return true;
    }
    default:
      return !__builtin_sub_overflow(aspd_floor_div(b, UNIT_MS[unit]),
                                     aspd_floor_div(a, UNIT_MS[unit]), n);
  }
}

static bool eval_diff(const aspd_expr_t *e, aspd_eval_t *ev, bson_value_t *out) {
  bson_value_t s, t, u, w;
  const aspd_tz_t *tz;
  bool null;
  if (!arguments(e, ev, (bson_value_t *const[]){&s, &t, &u, NULL, &w}, &tz, &null)) return false;
  if (null) {
    out->value_type = BSON_TYPE_NULL;
    return true;
  }
  int64_t a, b;
  if (!aspd_value_as_date(&s, &a)) {
    return aspd_eval_fail(ev, "$dateDiff requires 'startDate' to be a date, but got %s",
                          aspd_value_type_name(&s));
  }
  if (!aspd_value_as_date(&t, &b)) {
    return aspd_eval_fail(ev, "$dateDiff requires 'endDate' to be a date, but got %s",
                          aspd_value_type_name(&t));
  }
  unit_t unit;
  if (!parse_unit(ev, e, &u, &unit)) return false;
  int dow = 0;
  if (w.value_type != BSON_TYPE_EOD && unit == UNIT_WEEK && !parse_start_of_week(ev, e, &w, &dow)) {
    return false;
  }
  bool local = unit <= UNIT_DAY || !aspd_tz_is_utc(tz);
  int64_t n;
  if (!boundaries(local ? aspd_tz_to_local(tz, a) : a, local ? aspd_tz_to_local(tz, b) : b, unit,
                  dow, &n)) {
    return aspd_eval_fail(ev,
                          "$dateDiff: the number of %ss between the dates overflows a "
                          "64-bit integer",
                          UNITS[unit]);
  }
  out->value_type = BSON_TYPE_INT64;
  out->value.v_int64 = n;
  return true;
}

static const aspd_expr_op_t ops[] = {
    {"$dateTrunc", 0, 0, eval_trunc, compile_trunc},
    {"$dateAdd", 0, 0, eval_add, compile_add},
    {"$dateSubtract", 0, 0, eval_subtract, compile_add},
    {"$dateDiff", 0, 0, eval_diff, compile_diff},
    {NULL, 0, 0, NULL, NULL},
};

const aspd_expr_family_t aspd_expr_date_math_ops = {ops};
