/* The sample source: the solar generator at its connection's rate. */
#include <stdlib.h>

#include "engine/sources/solar.h"
#include "engine/sources/source.h"

typedef struct {
  aspd_source_t base;
  aspd_rng_t rng;
  int64_t started_ms; /* the rate counts from here */
  int64_t generated;
} sample_t;

static aspd_source_t *sample_open(const aspd_source_spec_t *spec, const aspd_source_env_t *env,
                                  const bson_t *checkpoint) {
  (void)checkpoint; /* generated data has no position */
  sample_t *s = calloc(1, sizeof *s);
  aspd_rng_seed(&s->rng, env->seed);
  s->started_ms = -1;
  s->base.spec = spec;
  return &s->base;
}

/* The message is generated into a writer the receiver takes over, so that the
 * stamps can be appended where it is written. */
static aspd_pull_t sample_pull(aspd_source_t *base, int64_t now_ms, int max,
                               aspd_source_out_t *out) {
  sample_t *s = (sample_t *)base;
  double rate = base->spec->docs_per_second;
  if (s->started_ms < 0) s->started_ms = now_ms;
  int64_t budget = max;
  if (rate > 0) {
    double due = (double)(now_ms - s->started_ms) * rate / 1000.0 + 1;
    /* Converted only when below the cap: a rate of 1e300 or Infinity (NaN at the start) owes
     * a full batch, not an undefined conversion. */
    budget = due < (double)(s->generated + max) ? (int64_t)due - s->generated : max;
  }
  aspd_pull_t r = {0};
  while (r.pulled < budget && !out->stop(out, r.pulled)) {
    aspd_raw_out_t w;
    aspd_raw_out_init(&w);
    aspd_solar_generate(&s->rng, now_ms, &w);
    aspd_source_msg_t m = {NULL, &w, 0, -1, NULL};
    out->message(out, &m);
    s->generated++;
    r.pulled++;
  }
  r.more = (rate <= 0 && r.pulled > 0) || r.pulled < budget;
  return r;
}

static void sample_close(aspd_source_t *s) {
  free(s);
}

const aspd_source_row_t aspd_source_sample_row = {
    .kind = ASPD_SOURCE_SAMPLE,
    .operator_name = "SampleDataSourceOperator",
    .meta_type = "generated",
    .open = sample_open,
    .pull = sample_pull,
    .may_have_field = aspd_solar_field,
    .close = sample_close,
};
