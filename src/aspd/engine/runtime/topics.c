/* Reading a topic by offset (the aspd extension command readTopic). */
#include <string.h>
#include <unistd.h>

#include "engine/runtime/engine_internal.h"
#include "engine/sinks/topics.h"

/* What a reader outside aspd may see of a partition ends at what the store holds (as
 * Kafka's high watermark): a message not committed yet may still vanish in a crash, and
 * its offset then goes to another message. */
static int64_t committed_end(const aspd_dataset_t *set) {
  int64_t end = set->saved ? set->saved_end : set->first_offset;
  return end < set->first_offset ? set->first_offset : end;
}

/* Read after write: with the engine lock held (released while waiting), waits until each
 * partition's committed end reaches what was written before the call (the flusher
 * commits every 50 ms), or a few seconds pass (a failing disk: then what is committed). */
static void await_committed(aspd_engine_t *e, const aspd_topic_t *t) {
  int64_t want[ASPD_TOPIC_MAX_PARTITIONS];
  for (int32_t p = 0; p < t->count; p++) want[p] = aspd_dataset_end_offset(t->parts[p]);
  int64_t deadline = aspd_now_ms() + 3000;
  for (;;) {
    bool done = true;
    for (int32_t p = 0; p < t->count && done; p++) done = committed_end(t->parts[p]) >= want[p];
    if (done || aspd_now_ms() > deadline) return;
    pthread_mutex_unlock(&e->lock);
    usleep(5000);
    aspd_engine_lock(e);
  }
}

static void append_partitions(const aspd_topic_t *t, bson_t *reply) {
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(reply, "partitions", &list);
  for (int32_t p = 0; p < t->count; p++) {
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)p, &k, key, sizeof key);
    bson_t part;
    bson_append_document_begin(&list, k, -1, &part);
    BSON_APPEND_INT32(&part, "partition", p);
    BSON_APPEND_INT64(&part, "firstOffset", t->parts[p]->first_offset);
    BSON_APPEND_INT64(&part, "endOffset", committed_end(t->parts[p]));
    bson_append_document_end(&list, &part);
  }
  bson_append_array_end(reply, &list);
}

/* {partition, offset, key?, headers?, value}: the record's fields after the position. */
static void append_message(bson_t *list, uint32_t i, int32_t partition, int64_t offset,
                           const bson_t *record) {
  char key[16];
  const char *k;
  bson_uint32_to_string(i, &k, key, sizeof key);
  bson_t m;
  bson_append_document_begin(list, k, -1, &m);
  BSON_APPEND_INT32(&m, "partition", partition);
  BSON_APPEND_INT64(&m, "offset", offset);
  bson_iter_t it;
  bson_iter_init(&it, record);
  while (bson_iter_next(&it)) {
    const char *name = bson_iter_key(&it);
    if (!strcmp(name, "key") || !strcmp(name, "headers")) {
      bson_append_value(&m, name, -1, bson_iter_value(&it));
    }
  }
  bson_iter_init(&it, record);
  if (bson_iter_find(&it, "value")) bson_append_value(&m, "value", 5, bson_iter_value(&it));
  bson_append_document_end(list, &m);
}

bool aspd_engine_read_topic(aspd_engine_t *e, const char *connection, const char *topic,
                            int32_t partition, int64_t offset, int64_t limit, bson_t *reply,
                            aspd_error_t *err) {
  aspd_engine_lock(e);
  const aspd_connection_t *conn = aspd_registry_find(e->registry, connection);
  aspd_topic_t t;
  bool ok = false;
  if (!conn) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED,
                   "connection named %s does not exist. Check sp.listConnections() for available "
                   "connections",
                   connection);
  } else if (conn->kind != ASPD_CONN_KAFKA) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "connection %s is not a Kafka connection",
                   connection);
  } else if (!aspd_topic_open(e->memstore, connection, topic, 0, &t)) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "topic %s does not exist on connection %s", topic,
                   connection);
  } else if (partition >= t.count) {
    aspd_error_set(err, ASPD_E_BAD_VALUE, "partition %d does not exist: topic %s has %d",
                   (int)partition, topic, (int)t.count);
  } else {
    ok = true;
  }
  if (ok) {
    await_committed(e, &t);
    BSON_APPEND_UTF8(reply, "topic", topic);
    append_partitions(&t, reply);
    bson_t list;
    uint32_t n = 0;
    BSON_APPEND_ARRAY_BEGIN(reply, "messages", &list);
    for (int32_t p = partition < 0 ? 0 : partition; p < (partition < 0 ? t.count : partition + 1);
         p++) {
      const aspd_dataset_t *set = t.parts[p];
      int64_t o = offset < set->first_offset ? set->first_offset : offset;
      for (; o < committed_end(set) && (int64_t)n < limit; o++) {
        append_message(&list, n++, p, o, aspd_dataset_at(set, o));
      }
    }
    bson_append_array_end(reply, &list);
  }
  pthread_mutex_unlock(&e->lock);
  return ok;
}
