/* Topics of Kafka connections: each has a fixed number of partitions, set when
 * the topic is first written or read (the connection's `config["num.partitions"]`,
 * as a Kafka broker sets it for topics it creates, default 1); each partition
 * is a dataset of the memstore whose messages are records
 * {value: <document>, key?, headers?: [{k, v}]} read by offset. */
#ifndef ASPD_TOPICS_H
#define ASPD_TOPICS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/sinks/memstore.h"

#define ASPD_TOPIC_MAX_PARTITIONS 64

typedef struct {
  int32_t count;
  aspd_dataset_t *parts[ASPD_TOPIC_MAX_PARTITIONS];
} aspd_topic_t;

/* The partitions of a topic; one that does not exist yet is created with
 * `create` partitions, or (create 0) false is returned. */
bool aspd_topic_open(aspd_memstore_t *m, const char *connection, const char *name, int32_t create,
                     aspd_topic_t *out);

/* The partition of a message with this key: Kafka's default partitioner
 * (murmur2 of the key's bytes, made positive, modulo the partition count). */
int32_t aspd_topic_partition_for_key(const uint8_t *key, size_t len, int32_t count);

/* The value document of a record (pointing into it). */
bool aspd_topic_record_value(const bson_t *record, bson_t *value);

#endif
