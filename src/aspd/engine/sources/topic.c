/* The topic source: reads a topic of a Kafka connection from the memstore;
 * its checkpoint is the offset of the next message. */
#include <stdlib.h>
#include <string.h>

#include "engine/sources/source.h"

typedef struct {
  aspd_source_t base;
  aspd_dataset_t *set;
  int64_t next;
} topic_t;

static aspd_source_t *topic_open(const aspd_source_spec_t *spec, const aspd_source_env_t *env,
                                 const bson_t *checkpoint) {
  topic_t *s = calloc(1, sizeof *s);
  s->base.spec = spec;
  s->set = aspd_memstore_dataset(env->memstore, spec->connection, NULL, spec->topic);
  bson_iter_t it;
  if (checkpoint && bson_iter_init_find(&it, checkpoint, "offset") && BSON_ITER_HOLDS_NUMBER(&it)) {
    s->next = bson_iter_as_int64(&it);
  } else {
    /* auto_offset_reset: the oldest message kept, or (Kafka's default) the end. */
    s->next = spec->earliest ? s->set->first_offset : aspd_dataset_end_offset(s->set);
  }
  return &s->base;
}

static aspd_pull_t topic_pull(aspd_source_t *base, int64_t now_ms, int max,
                              aspd_source_out_t *out) {
  (void)now_ms;
  topic_t *s = (topic_t *)base;
  /* Messages dropped past the retention limit are skipped. */
  if (s->next < s->set->first_offset) s->next = s->set->first_offset;
  aspd_pull_t r = {0};
  while (r.pulled < max && !out->stop(out, r.pulled)) {
    const bson_t *body = aspd_dataset_at(s->set, s->next);
    if (!body) break;
    aspd_source_msg_t m = {body, NULL, 0, s->next};
    out->message(out, &m);
    s->next++;
    r.pulled++;
  }
  r.more = r.pulled == max;
  return r;
}

static void topic_checkpoint(const aspd_source_t *base, bson_t *out) {
  BSON_APPEND_INT64(out, "offset", ((const topic_t *)base)->next);
}

static void topic_put_meta(const aspd_source_t *base, const aspd_source_msg_t *m,
                           aspd_raw_out_t *w) {
  const char *topic = base->spec->topic;
  bson_value_t v = {.value_type = BSON_TYPE_UTF8};
  v.value.v_utf8.str = (char *)(uintptr_t)topic;
  v.value.v_utf8.len = (uint32_t)strlen(topic);
  aspd_raw_put_value(w, "topic", 5, &v);
  v = (bson_value_t){.value_type = BSON_TYPE_INT32, .value.v_int32 = m->partition};
  aspd_raw_put_value(w, "partition", 9, &v);
  v = (bson_value_t){.value_type = BSON_TYPE_INT64, .value.v_int64 = m->offset};
  aspd_raw_put_value(w, "offset", 6, &v);
}

static void topic_close(aspd_source_t *s) {
  free(s);
}

const aspd_source_row_t aspd_source_topic_row = {
    ASPD_SOURCE_TOPIC, "KafkaConsumerOperator", "kafka", topic_open, topic_pull,
    topic_checkpoint,  topic_put_meta,          NULL,    topic_close};
