#include "engine/sources/solar.h"

#include <string.h>
#include <time.h>

#define DEVICE_COUNT_MAX 10 /* device_0 .. device_10 */
#define GROUP_MAX 10
#define MAX_WATTS 450
#define MIN_TEMP 5
#define MAX_TEMP 25
#define FAULT_ONE_IN 200
#define STAMP_LEN 29 /* yyyy-mm-ddThh:mm:ss.mmm+00:00 */

void aspd_rng_seed(aspd_rng_t *rng, uint64_t seed) {
  rng->state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

/* xorshift64*: fast and good enough for sample data. */
static uint64_t next_u64(aspd_rng_t *rng) {
  uint64_t x = rng->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng->state = x;
  return x * 0x2545F4914F6CDD1Dull;
}

int32_t aspd_rng_between(aspd_rng_t *rng, int32_t lo, int32_t hi) {
  uint64_t span = (uint64_t)((int64_t)hi - lo + 1);
  return (int32_t)(lo + (int64_t)(next_u64(rng) % span));
}

static const char *const devices[DEVICE_COUNT_MAX + 1] = {
    "device_0", "device_1", "device_2", "device_3", "device_4", "device_5",
    "device_6", "device_7", "device_8", "device_9", "device_10"};

static char *digits(char *p, int value, int width) {
  for (int i = width - 1; i >= 0; i--, value /= 10) p[i] = (char)('0' + value % 10);
  return p + width;
}

/* yyyy-mm-ddThh:mm:ss.mmm+00:00; a whole slice shares one processing time, so
 * the calendar part is computed once per second. */
static void format_stamp(int64_t now_ms, char out[32], int *hour) {
  static __thread int64_t cached_second = -1;
  static __thread char cached[20];
  static __thread int cached_hour;
  int64_t second = now_ms / 1000;
  if (second != cached_second) {
    time_t secs = (time_t)second;
    struct tm utc;
    gmtime_r(&secs, &utc);
    char *p = digits(cached, utc.tm_year + 1900, 4);
    *p++ = '-';
    p = digits(p, utc.tm_mon + 1, 2);
    *p++ = '-';
    p = digits(p, utc.tm_mday, 2);
    *p++ = 'T';
    p = digits(p, utc.tm_hour, 2);
    *p++ = ':';
    p = digits(p, utc.tm_min, 2);
    *p++ = ':';
    p = digits(p, utc.tm_sec, 2);
    *p++ = '.';
    cached_second = second;
    cached_hour = utc.tm_hour;
  }
  memcpy(out, cached, 20);
  char *p = digits(out + 20, (int)(now_ms % 1000), 3);
  memcpy(p, "+00:00", 7);
  *hour = cached_hour;
}

static void put_int32(aspd_raw_out_t *w, const char *key, size_t key_len, int32_t v) {
  bson_value_t value = {.value_type = BSON_TYPE_INT32, .value.v_int32 = v};
  aspd_raw_put_value(w, key, key_len, &value);
}

static void put_utf8(aspd_raw_out_t *w, const char *key, size_t key_len, const char *s,
                     size_t len) {
  bson_value_t value = {.value_type = BSON_TYPE_UTF8};
  value.value.v_utf8.str = (char *)(uintptr_t)s;
  value.value.v_utf8.len = (uint32_t)len;
  aspd_raw_put_value(w, key, key_len, &value);
}

#define KEY(k) k, sizeof k - 1

static const char *const top_level_fields[] = {
    "device_id", "group_id", "timestamp", "max_watts", "event_type", "obs", "event_details"};

bool aspd_solar_field(const char *name) {
  for (size_t i = 0; i < sizeof top_level_fields / sizeof top_level_fields[0]; i++) {
    if (!strcmp(name, top_level_fields[i])) return true;
  }
  return false;
}

void aspd_solar_generate(aspd_rng_t *rng, int64_t now_ms, aspd_raw_out_t *w) {
  char stamp[32];
  int hour;
  format_stamp(now_ms, stamp, &hour);
  int device = aspd_rng_between(rng, 0, DEVICE_COUNT_MAX);
  put_utf8(w, KEY("device_id"), devices[device], device < 10 ? 8 : 9);
  put_int32(w, KEY("group_id"), aspd_rng_between(rng, 0, GROUP_MAX));
  put_utf8(w, KEY("timestamp"), stamp, STAMP_LEN);
  put_int32(w, KEY("max_watts"), MAX_WATTS);
  bool fault = aspd_rng_between(rng, 1, FAULT_ONE_IN) == 1;
  put_int32(w, KEY("event_type"), fault ? 1 : 0);
  if (fault) {
    put_utf8(w, KEY("event_details"), KEY("Network error"));
    return;
  }
  /* Before noon UTC the maxima are halved (integer division, as the engine does). */
  int modifier = hour < 12 ? 2 : 1;
  uint32_t obs = aspd_raw_open(w, BSON_TYPE_DOCUMENT, KEY("obs"));
  put_int32(w, KEY("watts"), aspd_rng_between(rng, 0, MAX_WATTS / modifier));
  put_int32(w, KEY("temp"), aspd_rng_between(rng, MIN_TEMP, MAX_TEMP / modifier));
  aspd_raw_close(w, obs);
}
