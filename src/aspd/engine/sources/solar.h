/* The built-in sample_stream_solar generator (the shape and ranges Atlas documents). */
#ifndef ASPD_SOLAR_H
#define ASPD_SOLAR_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/expr/bson_raw.h"

/* A small PRNG: the real engine seeds its own per processor; any generator will do. */
typedef struct {
  uint64_t state;
} aspd_rng_t;

void aspd_rng_seed(aspd_rng_t *rng, uint64_t seed);
/* Uniform integer in [lo, hi], both inclusive. */
int32_t aspd_rng_between(aspd_rng_t *rng, int32_t lo, int32_t hi);

/* Appends the fields of one solar message generated at wall-clock time now_ms. */
void aspd_solar_generate(aspd_rng_t *rng, int64_t now_ms, aspd_raw_out_t *w);
/* True when a generated message can have a top-level field called name. */
bool aspd_solar_field(const char *name);

#endif
