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

/* Appends doc to the topic; false with reason (the document is dead-lettered).
 * *next_partition is the writer's round robin. */
bool aspd_emit_write(aspd_memstore_t *store, const char *connection, const char *topic,
                     const aspd_emit_spec_t *s, const bson_t *doc, aspd_eval_t *ev,
                     uint32_t *next_partition, char *reason, size_t reason_len);

#endif
