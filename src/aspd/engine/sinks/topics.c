#include "engine/sinks/topics.h"

#include <string.h>

bool aspd_topic_open(aspd_memstore_t *m, const char *connection, const char *name, int32_t create,
                     aspd_topic_t *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < aspd_memstore_size(m); i++) {
    aspd_dataset_t *set = aspd_memstore_get(m, i);
    if (set->db || set->partition < 0 || set->partition >= ASPD_TOPIC_MAX_PARTITIONS ||
        strcmp(set->name, name) || strcmp(set->connection, connection)) {
      continue;
    }
    out->parts[set->partition] = set;
    if (set->partition >= out->count) out->count = set->partition + 1;
  }
  if (!out->count) {
    if (create <= 0) return false;
    out->count = create > ASPD_TOPIC_MAX_PARTITIONS ? ASPD_TOPIC_MAX_PARTITIONS : create;
  }
  /* Partitions are created together; one missing (its store rows lost) is empty. */
  for (int32_t p = 0; p < out->count; p++) {
    if (!out->parts[p]) out->parts[p] = aspd_memstore_partition(m, connection, name, p);
  }
  return true;
}

/* Kafka's murmur2 (seed 0x9747b28c), as its Java client computes it. */
static uint32_t murmur2(const uint8_t *data, size_t len) {
  const uint32_t m = 0x5bd1e995;
  const int r = 24;
  uint32_t h = 0x9747b28cu ^ (uint32_t)len;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t k = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                 (uint32_t)data[i + 3] << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (len - i) {
    case 3:
      h ^= (uint32_t)data[i + 2] << 16;
      /* fall through */
    case 2:
      h ^= (uint32_t)data[i + 1] << 8;
      /* fall through */
    case 1:
      h ^= data[i];
      h *= m;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

int32_t aspd_topic_partition_for_key(const uint8_t *key, size_t len, int32_t count) {
  return (int32_t)((murmur2(key, len) & 0x7fffffffu) % (uint32_t)count);
}

bool aspd_topic_record_value(const bson_t *record, bson_t *value) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, record, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it)) return false;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  return bson_init_static(value, data, len);
}
