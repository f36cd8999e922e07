/* Calendar arithmetic and time zones for the date operators.
 *
 * Zones are Olson names read from the system's tz database (TZif files under
 * /usr/share/zoneinfo, or $TZDIR), "UTC"/"GMT", or fixed offsets "+hh:mm",
 * "+hhmm", "+hh". A zone is loaded once and kept for the life of the process.
 * Past the last transition a file lists (2037 in Debian's files) its POSIX TZ
 * rule (the file's footer) applies. */
#ifndef ASPD_DATES_H
#define ASPD_DATES_H

#include <stdbool.h>
#include <stdint.h>

typedef struct aspd_tz aspd_tz_t;

/* Broken-down time. wday: 0 = Sunday; yday: 0 = 1 January. */
typedef struct {
  int64_t year;
  int month, day, hour, minute, second, millisecond;
  int wday, yday;
} aspd_civil_t;

/* The zone of a name, or NULL when there is none; never fails for UTC. */
const aspd_tz_t *aspd_tz_find(const char *name);
const aspd_tz_t *aspd_tz_utc(void);
/* True for UTC and for the zero fixed offsets. */
bool aspd_tz_is_utc(const aspd_tz_t *tz);
/* Seconds east of UTC at the instant ms. */
int32_t aspd_tz_offset(const aspd_tz_t *tz, int64_t ms);
/* The local wall-clock time of an instant, as milliseconds of a UTC calendar. */
int64_t aspd_tz_to_local(const aspd_tz_t *tz, int64_t ms);
/* The instant of a local wall-clock time (the earlier one in a repeated hour). */
int64_t aspd_tz_from_local(const aspd_tz_t *tz, int64_t local_ms);

/* Days since 1970-01-01 of a proleptic Gregorian date (month and day may be out
 * of range: they carry), and back. */
int64_t aspd_days_from_civil(int64_t year, int64_t month, int64_t day);
void aspd_civil_from_ms(int64_t ms, aspd_civil_t *c);
/* ISO 8601 week-numbering: year, week 1..53, day 1 (Monday)..7. */
void aspd_iso_week(const aspd_civil_t *c, int64_t *iso_year, int *week, int *dow);
static inline int64_t aspd_floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* Parses the date forms $toDate and $dateFromString accept without a format:
 * "YYYY-MM-DD", optionally followed by "T" or " " and "HH:MM[:SS[.fff]]", and an
 * optional "Z" or offset ("+hh:mm", "+hhmm", "+hh", possibly after a space).
 * Without an offset the time is local to tz (UTC when NULL). */
bool aspd_date_parse(const char *s, const aspd_tz_t *tz, int64_t *ms, bool *had_offset);
/* aspd_date_parse in UTC. */
bool aspd_date_from_iso(const char *s, int64_t *ms);

/* For the operators (date.c, date_math.c): the zone of the optional timezone
 * argument e->args[idx], false on error (unknown zone, not a string), *null
 * when it is null; and the plan-time check that a constant timezone names a
 * zone, which also keeps that zone in e->data so no evaluation looks it up. */
#include "engine/expr/expr.h"
bool aspd_expr_timezone(const aspd_expr_t *e, size_t idx, aspd_eval_t *ev, const aspd_tz_t **tz,
                        bool *null);
bool aspd_expr_check_timezone(aspd_expr_t *e, size_t idx, aspd_error_t *err);

#endif
