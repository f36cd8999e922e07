/* The topic source: reads every partition of a topic of a Kafka connection,
 * taking the partitions in turn; its checkpoint is the offset of the next
 * message of each partition, {partitions: [{partition, offset}]}. */
#include <stdlib.h>
#include <string.h>

#include "engine/sinks/topics.h"
#include "engine/sources/source.h"

typedef struct {
  aspd_source_t base;
  aspd_topic_t topic;
  int64_t next[ASPD_TOPIC_MAX_PARTITIONS];
  int64_t last_message_ms[ASPD_TOPIC_MAX_PARTITIONS]; /* processing time; 0: none yet */
  int32_t turn;                                       /* the partition read first next time */
} topic_t;

/* The offset the checkpoint holds for partition p, or -1. */
static int64_t checkpoint_offset(const bson_t *checkpoint, int32_t p) {
  bson_iter_t it, list;
  if (!checkpoint) return -1;
  /* Earlier versions had one partition: {offset}. */
  if (p == 0 && bson_iter_init_find(&it, checkpoint, "offset") && BSON_ITER_HOLDS_NUMBER(&it)) {
    return bson_iter_as_int64(&it);
  }
  if (!bson_iter_init_find(&it, checkpoint, "partitions") || !BSON_ITER_HOLDS_ARRAY(&it)) return -1;
  bson_iter_recurse(&it, &list);
  while (bson_iter_next(&list)) {
    bson_iter_t part, offset;
    if (BSON_ITER_HOLDS_DOCUMENT(&list) && bson_iter_recurse(&list, &part) &&
        bson_iter_find(&part, "partition") && BSON_ITER_HOLDS_NUMBER(&part) &&
        bson_iter_as_int64(&part) == p && bson_iter_recurse(&list, &offset) &&
        bson_iter_find(&offset, "offset") && BSON_ITER_HOLDS_NUMBER(&offset)) {
      return bson_iter_as_int64(&offset);
    }
  }
  return -1;
}

static aspd_source_t *topic_open(const aspd_source_spec_t *spec, const aspd_source_env_t *env,
                                 const bson_t *checkpoint) {
  topic_t *s = calloc(1, sizeof *s);
  s->base.spec = spec;
  /* Reading a topic that does not exist yet creates it, as Kafka brokers do by default. */
  aspd_topic_open(env->memstore, spec->connection, spec->topic, spec->partitions, &s->topic);
  for (int32_t p = 0; p < s->topic.count; p++) {
    const aspd_dataset_t *set = s->topic.parts[p];
    s->next[p] = checkpoint_offset(checkpoint, p);
    /* auto_offset_reset: the oldest message kept, or (Kafka's default) the end. */
    if (s->next[p] < 0)
      s->next[p] = spec->earliest ? set->first_offset : aspd_dataset_end_offset(set);
  }
  return &s->base;
}

/* Hands over the next message of partition p; false when it has none. */
static bool pull_one(topic_t *s, int32_t p, int64_t now_ms, aspd_source_out_t *out) {
  const aspd_dataset_t *set = s->topic.parts[p];
  /* Messages dropped past the retention limit are skipped. */
  if (s->next[p] < set->first_offset) s->next[p] = set->first_offset;
  const bson_t *record = aspd_dataset_at(set, s->next[p]);
  if (!record) return false;
  bson_t value;
  if (aspd_topic_record_value(record, &value)) {
    aspd_source_msg_t m = {&value, NULL, p, s->next[p], record};
    out->message(out, &m);
  }
  s->next[p]++;
  s->last_message_ms[p] = now_ms;
  return true;
}

static aspd_pull_t topic_pull(aspd_source_t *base, int64_t now_ms, int max,
                              aspd_source_out_t *out) {
  topic_t *s = (topic_t *)base;
  int32_t n = s->topic.count;
  aspd_pull_t r = {0};
  bool any = true;
  while (any && r.pulled < max) {
    any = false;
    for (int32_t i = 0; i < n && r.pulled < max; i++) {
      if (out->stop(out, r.pulled)) return r;
      int32_t p = (s->turn + i) % n;
      if (pull_one(s, p, now_ms, out)) {
        any = true;
        r.pulled++;
      }
    }
    s->turn = (s->turn + 1) % n;
  }
  r.more = r.pulled == max;
  return r;
}

static void topic_checkpoint(const aspd_source_t *base, bson_t *out) {
  const topic_t *s = (const topic_t *)base;
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "partitions", &list);
  for (int32_t p = 0; p < s->topic.count; p++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)p, &k, key, sizeof key);
    bson_t part;
    bson_append_document_begin(&list, k, -1, &part);
    BSON_APPEND_INT32(&part, "partition", p);
    BSON_APPEND_INT64(&part, "offset", s->next[p]);
    bson_append_document_end(&list, &part);
  }
  bson_append_array_end(out, &list);
}

/* topic, partition, offset, and the record's key and headers when it has them. */
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
  aspd_raw_iter_t it;
  aspd_raw_init(&it, bson_get_data(m->record), m->record->len);
  while (aspd_raw_next(&it)) {
    if ((it.key_len == 3 && !memcmp(it.key, "key", 3)) ||
        (it.key_len == 7 && !memcmp(it.key, "headers", 7))) {
      aspd_raw_put_elem(w, &it);
    }
  }
}

/* kafkaPartitions [{partition, currentOffset, partitionOffsetLag, isIdle}] and the total lag. */
static void topic_stats(const aspd_source_t *base, int64_t now_ms, bson_t *stats) {
  const topic_t *s = (const topic_t *)base;
  int64_t idle_ms = base->spec->idle_timeout_ms, total = 0;
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(stats, "kafkaPartitions", &list);
  for (int32_t p = 0; p < s->topic.count; p++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)p, &k, key, sizeof key);
    int64_t end = aspd_dataset_end_offset(s->topic.parts[p]);
    int64_t lag = end > s->next[p] ? end - s->next[p] : 0;
    total += lag;
    bson_t part;
    bson_append_document_begin(&list, k, -1, &part);
    BSON_APPEND_UTF8(&part, "topic", base->spec->topic);
    BSON_APPEND_INT32(&part, "partition", p);
    BSON_APPEND_INT64(&part, "currentOffset", s->next[p]);
    BSON_APPEND_INT64(&part, "partitionOffsetLag", lag);
    BSON_APPEND_BOOL(&part, "isIdle",
                     idle_ms > 0 && lag == 0 && now_ms - s->last_message_ms[p] >= idle_ms);
    bson_append_document_end(&list, &part);
  }
  bson_append_array_end(stats, &list);
  BSON_APPEND_INT64(stats, "kafkaTotalOffsetLag", total);
}

static void topic_close(aspd_source_t *s) {
  free(s);
}

const aspd_source_row_t aspd_source_topic_row = {
    .kind = ASPD_SOURCE_TOPIC,
    .operator_name = "KafkaConsumerOperator",
    .meta_type = "kafka",
    .open = topic_open,
    .pull = topic_pull,
    .checkpoint = topic_checkpoint,
    .put_meta = topic_put_meta,
    .stats = topic_stats,
    .close = topic_close,
};
