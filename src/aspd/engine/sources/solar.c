#include "engine/sources/solar.h"

#include <stdio.h>
#include <time.h>

#define DEVICE_COUNT_MAX 10 /* device_0 .. device_10 */
#define GROUP_MAX 10
#define MAX_WATTS 450
#define MIN_TEMP 5
#define MAX_TEMP 25
#define FAULT_ONE_IN 200

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

void aspd_solar_generate(aspd_rng_t *rng, int64_t now_ms, bson_t *doc) {
  time_t secs = (time_t)(now_ms / 1000);
  struct tm utc;
  gmtime_r(&secs, &utc);
  char device[32], stamp[96];
  snprintf(device, sizeof device, "device_%d", aspd_rng_between(rng, 0, DEVICE_COUNT_MAX));
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+00:00", utc.tm_year + 1900,
           utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, (int)(now_ms % 1000));
  BSON_APPEND_UTF8(doc, "device_id", device);
  BSON_APPEND_INT32(doc, "group_id", aspd_rng_between(rng, 0, GROUP_MAX));
  BSON_APPEND_UTF8(doc, "timestamp", stamp);
  BSON_APPEND_INT32(doc, "max_watts", MAX_WATTS);
  bool fault = aspd_rng_between(rng, 1, FAULT_ONE_IN) == 1;
  BSON_APPEND_INT32(doc, "event_type", fault ? 1 : 0);
  if (fault) {
    BSON_APPEND_UTF8(doc, "event_details", "Network error");
    return;
  }
  /* Before noon UTC the maxima are halved (integer division, as the engine does). */
  int modifier = utc.tm_hour < 12 ? 2 : 1;
  bson_t obs;
  BSON_APPEND_DOCUMENT_BEGIN(doc, "obs", &obs);
  BSON_APPEND_INT32(&obs, "watts", aspd_rng_between(rng, 0, MAX_WATTS / modifier));
  BSON_APPEND_INT32(&obs, "temp", aspd_rng_between(rng, MIN_TEMP, MAX_TEMP / modifier));
  bson_append_document_end(doc, &obs);
}
