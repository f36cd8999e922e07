/* Time zones from the system's tz database, the proleptic Gregorian calendar,
 * and the free-form date parser (see dates.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/dates.h"

/* A POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"): standard and daylight offsets
 * (seconds east of UTC) and the days daylight time starts and ends, as
 * Mm.w.d (month, week 1-5 where 5 is the last, weekday 0 = Sunday) at a local
 * time in seconds. */
typedef struct {
  int32_t std_off, dst_off;
  bool has_dst;
  int month[2], week[2], wday[2];
  int32_t time[2];
} posix_rule_t;

struct aspd_tz {
  char name[64];
  bool fixed;
  int32_t offset;       /* fixed zones */
  size_t n;             /* transitions */
  int64_t *at;          /* transition instants, seconds, ascending */
  int32_t *offset_from; /* offset in force from at[i] */
  int32_t before;       /* offset before the first transition */
  bool has_rule;        /* the file's POSIX TZ footer, for times past the transitions */
  posix_rule_t rule;
  struct aspd_tz *next;
};

static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;
static aspd_tz_t *zones;
static aspd_tz_t utc = {.name = "UTC", .fixed = true};

const aspd_tz_t *aspd_tz_utc(void) {
  return &utc;
}

bool aspd_tz_is_utc(const aspd_tz_t *tz) {
  return tz->fixed && tz->offset == 0;
}

/* "+hh:mm", "+hhmm" or "+hh" (also "-"). */
static bool parse_offset(const char *s, int32_t *seconds) {
  if (*s != '+' && *s != '-') return false;
  int sign = *s == '-' ? -1 : 1, h, m = 0;
  const char *p = s + 1;
  size_t n = strlen(p);
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)p[i]) && !(i == 2 && p[i] == ':')) return false;
  }
  if (n == 2) {
    h = atoi(p);
  } else if (n == 4) {
    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = atoi(p + 2);
  } else if (n == 5 && p[2] == ':') {
    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = atoi(p + 3);
  } else {
    return false;
  }
  if (h > 99 || m > 59) return false;
  *seconds = sign * (h * 3600 + m * 60);
  return true;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ rules ---------------------------------------------------------- */

/* A zone name: letters, or anything between < and >. */
static const char *skip_name(const char *p) {
  if (*p == '<') {
    while (*p && *p != '>') p++;
    return *p ? p + 1 : NULL;
  }
  const char *start = p;
  while (isalpha((unsigned char)*p)) p++;
  return p - start >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] as seconds. */
static const char *parse_hms(const char *p, int32_t *out) {
  int sign = 1;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  if (!isdigit((unsigned char)*p)) return NULL;
  int32_t v = 0, part = 0;
  for (int i = 0; i < 3; i++) {
    part = 0;
    while (isdigit((unsigned char)*p)) part = part * 10 + (*p++ - '0');
    v = v * 60 + part;
    if (*p != ':') {
      for (int j = i; j < 2; j++) v *= 60;
      break;
    }
    p++;
  }
  *out = sign * v;
  return p;
}

/* ",Mm.w.d[/time]"; other rule forms are not used by the tz database's zones. */
static const char *parse_int(const char *p, int *out) {
  if (!isdigit((unsigned char)*p)) return NULL;
  *out = 0;
  while (isdigit((unsigned char)*p)) *out = *out * 10 + (*p++ - '0');
  return p;
}

static const char *parse_date_rule(const char *p, posix_rule_t *r, int i) {
  if (*p++ != ',' || *p++ != 'M') return NULL;
  if (!(p = parse_int(p, &r->month[i])) || *p++ != '.') return NULL;
  if (!(p = parse_int(p, &r->week[i])) || *p++ != '.') return NULL;
  if (!(p = parse_int(p, &r->wday[i]))) return NULL;
  r->time[i] = 7200;
  if (*p == '/' && !(p = parse_hms(p + 1, &r->time[i]))) return NULL;
  return p;
}

static bool parse_posix(const char *s, posix_rule_t *r) {
  memset(r, 0, sizeof *r);
  const char *p = skip_name(s);
  int32_t off;
  if (!p || !(p = parse_hms(p, &off))) return false;
  r->std_off = -off; /* POSIX offsets are west of UTC */
  if (!*p) return true;
  if (!(p = skip_name(p))) return false;
  r->dst_off = r->std_off + 3600;
  if (*p && *p != ',') {
    if (!(p = parse_hms(p, &off))) return false;
    r->dst_off = -off;
  }
  if (!(p = parse_date_rule(p, r, 0)) || !(p = parse_date_rule(p, r, 1))) return false;
  r->has_dst = true;
  return *p == '\0';
}

/* The local day (days since 1970) of rule i in a year. */
static int64_t rule_day(const posix_rule_t *r, int i, int64_t year) {
  int64_t first = aspd_days_from_civil(year, r->month[i], 1);
  int first_wday = (int)(((first % 7) + 7 + 4) % 7);
  int64_t day = first + ((r->wday[i] - first_wday) % 7 + 7) % 7 + (r->week[i] - 1) * 7;
  int64_t next_month = aspd_days_from_civil(year, r->month[i] + 1, 1);
  while (day >= next_month) day -= 7; /* week 5: the last such weekday */
  return day;
}

/* a + b, held at the int64 range: dates within a day of its ends (292 million years away)
 * would otherwise overflow when shifted by a zone's offset. */
static int64_t add_sat(int64_t a, int64_t b) {
  int64_t r;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? INT64_MAX : INT64_MIN;
}

static int32_t rule_offset(const posix_rule_t *r, int64_t s) {
  if (!r->has_dst) return r->std_off;
  aspd_civil_t c;
  aspd_civil_from_ms(add_sat(s * 1000, (int64_t)r->std_off * 1000), &c);
  /* Daylight time starts at a standard local time and ends at a daylight one. */
  int64_t start = rule_day(r, 0, c.year) * 86400 + r->time[0] - r->std_off;
  int64_t end = rule_day(r, 1, c.year) * 86400 + r->time[1] - r->dst_off;
  bool dst = start < end ? (s >= start && s < end) : !(s >= end && s < start);
  return dst ? r->dst_off : r->std_off;
}

/* Reads a TZif file (version 2 or later: the 64-bit block). */
static bool load_tzif(const char *path, aspd_tz_t *tz) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  unsigned char *buf = malloc(1 << 18);
  size_t len = fread(buf, 1, 1 << 18, f);
  fclose(f);
  bool ok = false;
  if (len < 44 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2') goto done;
  /* Header counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt. */
  const unsigned char *h = buf + 20;
  size_t skip = 44 + be32(h + 12) * 5 + be32(h + 16) * 6 + be32(h + 20) + be32(h + 8) * 8 +
                be32(h + 4) + be32(h);
  if (skip + 44 > len) goto done;
  h = buf + skip + 20;
  size_t timecnt = be32(h + 12), typecnt = be32(h + 16);
  const unsigned char *p = buf + skip + 44;
  if (p + timecnt * 9 + typecnt * 6 > buf + len || typecnt == 0) goto done;
  const unsigned char *times = p, *idx = p + timecnt * 8, *types = idx + timecnt;
  tz->n = timecnt;
  tz->at = malloc((timecnt ? timecnt : 1) * sizeof *tz->at);
  tz->offset_from = malloc((timecnt ? timecnt : 1) * sizeof *tz->offset_from);
  for (size_t i = 0; i < timecnt; i++) {
    tz->at[i] = be64(times + i * 8);
    size_t t = idx[i] < typecnt ? idx[i] : 0;
    tz->offset_from[i] = (int32_t)be32(types + t * 6);
  }
  /* The footer: "\n<POSIX TZ>\n" after the 64-bit block. */
  size_t leapcnt = be32(h + 8), charcnt = be32(h + 20), isstd = be32(h + 4), isut = be32(h);
  const unsigned char *footer =
      p + timecnt * 9 + typecnt * 6 + charcnt + leapcnt * 12 + isstd + isut;
  if (footer < buf + len && *footer == '\n') {
    char tzstring[128];
    size_t n = 0;
    for (const unsigned char *c = footer + 1;
         c < buf + len && *c != '\n' && n < sizeof tzstring - 1;) {
      tzstring[n++] = (char)*c++;
    }
    tzstring[n] = '\0';
    tz->has_rule = parse_posix(tzstring, &tz->rule);
  }
  /* Before the first transition: the first type that is not daylight time. */
  tz->before = (int32_t)be32(types);
  for (size_t t = 0; t < typecnt; t++) {
    if (!types[t * 6 + 4]) {
      tz->before = (int32_t)be32(types + t * 6);
      break;
    }
  }
  ok = true;
done:
  free(buf);
  return ok;
}

static bool valid_zone_name(const char *name) {
  if (!*name || strlen(name) >= 64 || name[0] == '/' || strstr(name, "..")) return false;
  for (const char *p = name; *p; p++) {
    if (!(isalnum((unsigned char)*p) || strchr("/_-+", *p))) return false;
  }
  return true;
}

const aspd_tz_t *aspd_tz_find(const char *name) {
  if (!strcmp(name, "UTC") || !strcmp(name, "GMT") || !strcmp(name, "Z")) return &utc;
  int32_t off;
  bool fixed = parse_offset(name, &off);
  if (!fixed && !valid_zone_name(name)) return NULL;
  pthread_mutex_lock(&zones_lock);
  aspd_tz_t *tz;
  for (tz = zones; tz; tz = tz->next) {
    if (!strcmp(tz->name, name)) break;
  }
  if (!tz) {
    tz = calloc(1, sizeof *tz);
    snprintf(tz->name, sizeof tz->name, "%s", name);
    bool ok = true;
    if (fixed) {
      tz->fixed = true;
      tz->offset = off;
    } else {
      const char *dir = getenv("TZDIR");
      char path[512];
      snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
      ok = load_tzif(path, tz);
    }
    if (ok) {
      tz->next = zones;
      zones = tz;
    } else {
      free(tz);
      tz = NULL;
    }
  }
  pthread_mutex_unlock(&zones_lock);
  return tz;
}

int32_t aspd_tz_offset(const aspd_tz_t *tz, int64_t ms) {
  if (tz->fixed) return tz->offset;
  int64_t s = aspd_floor_div(ms, 1000);
  if (tz->n == 0 || s < tz->at[0]) return tz->before;
  size_t lo = 0, hi = tz->n; /* the last transition at or before s */
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (tz->at[mid] <= s) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  if (lo == tz->n - 1 && tz->has_rule) return rule_offset(&tz->rule, s);
  return tz->offset_from[lo];
}

int64_t aspd_tz_to_local(const aspd_tz_t *tz, int64_t ms) {
  return add_sat(ms, (int64_t)aspd_tz_offset(tz, ms) * 1000);
}

int64_t aspd_tz_from_local(const aspd_tz_t *tz, int64_t local_ms) {
  /* Try the offsets in force around that time; keep the one that maps back. */
  int64_t first =
      add_sat(local_ms, -(int64_t)aspd_tz_offset(tz, add_sat(local_ms, -86400000)) * 1000);
  if (aspd_tz_to_local(tz, first) == local_ms) return first;
  int64_t second =
      add_sat(local_ms, -(int64_t)aspd_tz_offset(tz, add_sat(local_ms, 86400000)) * 1000);
  if (aspd_tz_to_local(tz, second) == local_ms) return second;
  /* A skipped hour: the instant the offset changed at. */
  return add_sat(local_ms, -(int64_t)aspd_tz_offset(tz, first) * 1000);
}

/* ---- the calendar (days from 1970-01-01; algorithms after H. Hinnant) ------------- */

int64_t aspd_days_from_civil(int64_t y, int64_t m, int64_t d) {
  /* Carry months into years first; days carry by plain addition. */
  y += aspd_floor_div(m - 1, 12);
  m = m - 1 - aspd_floor_div(m - 1, 12) * 12 + 1;
  y -= m <= 2;
  int64_t era = aspd_floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468 + (d - 1);
}

/* The calendar fields of a day (the time of day is left as it is). */
static void civil_from_days(int64_t days, aspd_civil_t *c) {
  c->wday = (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
  int64_t z = days + 719468;
  int64_t era = aspd_floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
  c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
  c->year = yoe + era * 400 + (c->month <= 2);
  c->yday = (int)(days - aspd_days_from_civil(c->year, 1, 1));
}

void aspd_civil_from_ms(int64_t ms, aspd_civil_t *c) {
  /* The remainder is taken directly: days * 86400000 overflows for the first dates. */
  int64_t rem = ms % 86400000;
  if (rem < 0) rem += 86400000;
  c->hour = (int)(rem / 3600000);
  c->minute = (int)(rem / 60000 % 60);
  c->second = (int)(rem / 1000 % 60);
  c->millisecond = (int)(rem % 1000);
  civil_from_days(aspd_floor_div(ms, 86400000), c);
}

void aspd_iso_week(const aspd_civil_t *c, int64_t *iso_year, int *week, int *dow) {
  *dow = c->wday == 0 ? 7 : c->wday;
  int64_t days = aspd_days_from_civil(c->year, c->month, c->day);
  int64_t thursday = days + (4 - *dow);
  aspd_civil_t t;
  civil_from_days(thursday, &t); /* in milliseconds it may pass the last date */
  *iso_year = t.year;
  *week = t.yday / 7 + 1;
}

/* ---- free-form dates ------------------------------------------------------------- */

static bool digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return false;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return true;
}

bool aspd_date_parse(const char *s, const aspd_tz_t *tz, int64_t *ms, bool *had_offset) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
  *had_offset = false;
  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
      !digits(&p, 2, &d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  if (*p == 'T' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return false;
    if (*p == ':') {
      p++;
      if (!digits(&p, 2, &sec)) return false;
      if (*p == '.') {
        p++;
        int n = 0;
        for (; isdigit((unsigned char)*p); p++, n++) {
          if (n < 3) frac = frac * 10 + (*p - '0');
        }
        if (n == 0) return false;
        for (; n < 3; n++) frac *= 10;
      }
    }
    if (h > 24 || mi > 59 || sec > 60) return false;
  }
  int32_t offset = 0;
  if (*p == ' ' && (p[1] == '+' || p[1] == '-')) p++;
  if (*p == 'Z') {
    *had_offset = true;
    p++;
  } else if (*p == '+' || *p == '-') {
    if (!parse_offset(p, &offset)) return false;
    *had_offset = true;
    p += strlen(p);
  }
  if (*p) return false;
  int64_t local =
      aspd_days_from_civil(y, mo, d) * 86400000 + ((int64_t)h * 3600 + mi * 60 + sec) * 1000 + frac;
  if (*had_offset) {
    *ms = local - (int64_t)offset * 1000;
  } else {
    *ms = aspd_tz_from_local(tz ? tz : &utc, local);
  }
  return true;
}

bool aspd_date_from_iso(const char *s, int64_t *ms) {
  bool had_offset;
  return aspd_date_parse(s, NULL, ms, &had_offset);
}
