#include "engine/sinks/changes.h"

#include <string.h>
#include <sys/time.h>

const char *const aspd_change_op_names[4] = {"insert", "update", "replace", "delete"};

aspd_dataset_t *aspd_changes_log(aspd_memstore_t *m, const char *connection) {
  return aspd_memstore_partition(m, connection, ASPD_CHANGES_NAME, 0);
}

aspd_dataset_t *aspd_changes_log_of(aspd_memstore_t *m, const aspd_dataset_t *set) {
  return aspd_memstore_find(m, set->connection, NULL, ASPD_CHANGES_NAME);
}

bson_t *aspd_change_event(const aspd_dataset_t *set, aspd_change_op_t op, const bson_t *before,
                          const bson_t *after) {
  bson_iter_t id;
  const bson_t *doc = after ? after : before;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  bson_t *event = bson_new();
  BSON_APPEND_INT32(event, "op", (int32_t)op);
  BSON_APPEND_UTF8(event, "db", set->db);
  BSON_APPEND_UTF8(event, "coll", set->name);
  if (bson_iter_init_find(&id, doc, "_id")) BSON_APPEND_VALUE(event, "key", bson_iter_value(&id));
  BSON_APPEND_DATE_TIME(event, "wall", (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
  if (before) BSON_APPEND_DOCUMENT(event, "before", before);
  if (after) BSON_APPEND_DOCUMENT(event, "after", after);
  return event;
}

void aspd_changes_record(aspd_memstore_t *m, const aspd_dataset_t *set, aspd_change_op_t op,
                         const bson_t *before, const bson_t *after) {
  aspd_dataset_t *log = aspd_changes_log_of(m, set);
  if (!log) return;
  bson_t *event = aspd_change_event(set, op, before, after);
  aspd_dataset_append(log, event);
  bson_destroy(event);
}
