/* $emit to a topic of a Kafka connection: the message's partition comes from
 * its key (config.key, checked against config.keyFormat) by Kafka's default
 * partitioner, or round robin without a key; config.headers (an object, or an
 * array of {k, v}) become the record's headers. The topic itself is resolved
 * by the runner (a literal or the plan's expression). */
#ifndef ASPD_EMIT_H
#define ASPD_EMIT_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/expr/expr.h"
#include "engine/sinks/memstore.h"
#include "engine/sinks/topics.h"

typedef enum {
  ASPD_KEY_BINDATA, /* Kafka's default: bytes */
  ASPD_KEY_STRING,
  ASPD_KEY_JSON,
  ASPD_KEY_INT,
  ASPD_KEY_LONG
} aspd_key_format_t;

typedef struct {
  aspd_expr_t *key, *headers; /* NULL: none */
  aspd_key_format_t key_format;
  int32_t partitions; /* of a topic this creates */
} aspd_emit_spec_t;

void aspd_emit_spec_free(aspd_emit_spec_t *s);

/* What a writer keeps between messages: its round robin, and the partitions of
 * its topic when the topic is a literal (a topic's partitions never change). */
typedef struct {
  uint32_t next_partition;
  aspd_topic_t topic; /* count 0: not opened yet */
} aspd_emit_state_t;

/* Appends doc to the topic; false with reason (the document is dead-lettered).
 * cache: the writer's topic when it is always the same one, else NULL. */
bool aspd_emit_write(aspd_memstore_t *store, const char *connection, const char *topic,
                     const aspd_emit_spec_t *s, const bson_t *doc, aspd_eval_t *ev,
                     aspd_emit_state_t *state, bool cache, char *reason, size_t reason_len);

#endif
