#include "engine/sinks/emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr/values.h"
#include "engine/sinks/topics.h"

void aspd_emit_spec_free(aspd_emit_spec_t *s) {
  if (!s) return;
  aspd_expr_free(s->key);
  aspd_expr_free(s->headers);
  free(s);
}

static const char *const format_names[] = {"binData", "string", "json", "int", "long"};

static const char *const format_expects[] = {"binData or a string", "a string", "a value", "an int",
                                             "a long"};

/* Kafka's integer serializers: big-endian. */
static void big_endian(uint64_t n, uint8_t *out, size_t len) {
  for (size_t i = 0; i < len; i++) out[i] = (uint8_t)(n >> (8 * (len - 1 - i)));
}

/* Appends the key to holder as it is stored, and points bytes at what the
 * partitioner hashes (scratch holds integers' bytes). */
static bool key_value(const aspd_emit_spec_t *s, const bson_value_t *v, bson_t *holder,
                      uint8_t scratch[8], const uint8_t **bytes, size_t *len, char *reason,
                      size_t reason_len) {
  bson_type_t t = v->value_type;
  bool ok = false;
  switch (s->key_format) {
    case ASPD_KEY_STRING:
    case ASPD_KEY_BINDATA:
      ok = t == BSON_TYPE_UTF8 || (s->key_format == ASPD_KEY_BINDATA && t == BSON_TYPE_BINARY);
      if (ok) {
        bson_append_value(holder, "key", 3, v);
        *bytes =
            t == BSON_TYPE_UTF8 ? (const uint8_t *)v->value.v_utf8.str : v->value.v_binary.data;
        *len = t == BSON_TYPE_UTF8 ? v->value.v_utf8.len : v->value.v_binary.data_len;
      }
      break;
    case ASPD_KEY_INT:
      ok = t == BSON_TYPE_INT32;
      if (ok) {
        BSON_APPEND_INT32(holder, "key", v->value.v_int32);
        big_endian((uint32_t)v->value.v_int32, scratch, 4);
        *bytes = scratch;
        *len = 4;
      }
      break;
    case ASPD_KEY_LONG:
      ok = t == BSON_TYPE_INT64 || t == BSON_TYPE_INT32;
      if (ok) {
        /* A long key is 8 bytes even when the expression gave an int. */
        int64_t n = t == BSON_TYPE_INT64 ? v->value.v_int64 : v->value.v_int32;
        BSON_APPEND_INT64(holder, "key", n);
        big_endian((uint64_t)n, scratch, 8);
        *bytes = scratch;
        *len = 8;
      }
      break;
    case ASPD_KEY_JSON:
      ok = t != BSON_TYPE_EOD;
      if (ok) {
        bson_append_value(holder, "key", 3, v);
        /* The value's BSON bytes: after the length, the type byte and "key\0". */
        *bytes = bson_get_data(holder) + 9;
        *len = holder->len - 10;
      }
      break;
  }
  if (!ok) {
    snprintf(reason, reason_len,
             "Failed to evaluate key in KafkaEmitOperator :: caused by :: keyFormat %s expects "
             "%s, but got %s",
             format_names[s->key_format], format_expects[s->key_format], aspd_value_type_name(v));
  }
  return ok;
}

/* headers: an object (each field a header) or an array of {k, v}. */
static bool append_headers(const bson_value_t *v, bson_t *record, char *reason, size_t reason_len) {
  bson_t in, out;
  if (v->value_type == BSON_TYPE_NULL || v->value_type == BSON_TYPE_EOD) return true;
  if (v->value_type != BSON_TYPE_DOCUMENT && v->value_type != BSON_TYPE_ARRAY) {
    snprintf(reason, reason_len,
             "Failed to evaluate headers in KafkaEmitOperator :: caused by :: Expected an object "
             "or an array, but got %s",
             aspd_value_type_name(v));
    return false;
  }
  bson_init_static(&in, v->value.v_doc.data, v->value.v_doc.data_len);
  BSON_APPEND_ARRAY_BEGIN(record, "headers", &out);
  bson_iter_t it;
  bson_iter_init(&it, &in);
  uint32_t i = 0;
  bool ok = true;
  while (ok && bson_iter_next(&it)) {
    char idx[16];
    const char *k;
    bson_uint32_to_string(i++, &k, idx, sizeof idx);
    bson_t header;
    if (v->value_type == BSON_TYPE_DOCUMENT) {
      bson_append_document_begin(&out, k, -1, &header);
      BSON_APPEND_UTF8(&header, "k", bson_iter_key(&it));
      BSON_APPEND_VALUE(&header, "v", bson_iter_value(&it));
      bson_append_document_end(&out, &header);
      continue;
    }
    bson_iter_t hk, hv;
    ok = BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &hk) && bson_iter_find(&hk, "k") &&
         BSON_ITER_HOLDS_UTF8(&hk) && bson_iter_recurse(&it, &hv) && bson_iter_find(&hv, "v");
    if (!ok) {
      snprintf(reason, reason_len, "%s",
               "Failed to evaluate headers in KafkaEmitOperator :: caused by :: each header must "
               "be an object {k: <string>, v: <value>}");
      break;
    }
    bson_append_document_begin(&out, k, -1, &header);
    BSON_APPEND_UTF8(&header, "k", bson_iter_utf8(&hk, NULL));
    BSON_APPEND_VALUE(&header, "v", bson_iter_value(&hv));
    bson_append_document_end(&out, &header);
  }
  bson_append_array_end(record, &out);
  return ok;
}

bool aspd_emit_write(aspd_memstore_t *store, const char *connection, const char *topic,
                     const aspd_emit_spec_t *s, const bson_t *doc, aspd_eval_t *ev,
                     aspd_emit_state_t *state, bool cache, char *reason, size_t reason_len) {
  aspd_topic_t opened, *t = &state->topic;
  if (!cache) {
    t = &opened;
    aspd_topic_open(store, connection, topic, s->partitions, t);
  } else if (!t->count) {
    aspd_topic_open(store, connection, topic, s->partitions, t);
  }
  bson_t record = BSON_INITIALIZER, key = BSON_INITIALIZER;
  BSON_APPEND_DOCUMENT(&record, "value", doc);
  int32_t partition;
  bool ok = true;
  if (s->key) {
    bson_value_t v;
    const uint8_t *bytes = NULL;
    size_t len = 0;
    uint8_t scratch[8];
    ok = aspd_expr_eval_root(s->key, ev, doc, &v);
    if (!ok) {
      snprintf(reason, reason_len,
               "Failed to evaluate key in KafkaEmitOperator :: caused by :: %.300s", ev->reason);
    } else {
      ok = key_value(s, &v, &key, scratch, &bytes, &len, reason, reason_len);
    }
    if (ok) {
      bson_iter_t it;
      bson_iter_init_find(&it, &key, "key");
      BSON_APPEND_VALUE(&record, "key", bson_iter_value(&it));
    }
    partition = ok ? aspd_topic_partition_for_key(bytes, len, t->count) : 0;
  } else {
    partition = (int32_t)(state->next_partition % (uint32_t)t->count);
    state->next_partition++;
  }
  if (ok && s->headers) {
    bson_value_t v;
    ok = aspd_expr_eval_root(s->headers, ev, doc, &v);
    if (!ok) {
      snprintf(reason, reason_len,
               "Failed to evaluate headers in KafkaEmitOperator :: caused by :: %.300s",
               ev->reason);
    } else {
      ok = append_headers(&v, &record, reason, reason_len);
    }
  }
  if (ok) aspd_dataset_append(t->parts[partition], &record);
  bson_destroy(&key);
  bson_destroy(&record);
  return ok;
}
