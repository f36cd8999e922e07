/* Changing the connection registry while processors run: under the engine lock, so
 * the planner never sees a half-changed registry, and refused for a connection that
 * a running processor names. */
#include <string.h>

#include "engine/runtime/engine_internal.h"

/* True when some value under a "connectionName" key anywhere in doc is name: $source,
 * $emit, $merge.into, $lookup, $https, options.dlq and whatever names a connection. */
static bool names_connection(const bson_t *doc, const char *name) {
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return false;
  while (bson_iter_next(&it)) {
    if (BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_key(&it), "connectionName") &&
        !strcmp(bson_iter_utf8(&it, NULL), name)) {
      return true;
    }
    if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
      const uint8_t *data;
      uint32_t len;
      if (BSON_ITER_HOLDS_ARRAY(&it)) {
        bson_iter_array(&it, &len, &data);
      } else {
        bson_iter_document(&it, &len, &data);
      }
      bson_t inner;
      if (bson_init_static(&inner, data, len) && names_connection(&inner, name)) return true;
    }
  }
  return false;
}

bool aspd_engine_edit_registry(aspd_engine_t *e, const char *connection, aspd_registry_edit_fn edit,
                               void *arg, aspd_error_t *err) {
  aspd_engine_lock(e);
  if (connection) {
    for (aspd_processor_t *p = e->processors; p; p = p->next) {
      if (p->state == ASPD_STATE_STARTED &&
          (names_connection(p->pipeline, connection) || names_connection(p->options, connection))) {
        aspd_error_set(err, ASPD_API_E_CONNECTION_IN_USE,
                       "Stream connection with name %s has active processors, and cannot be "
                       "changed.",
                       connection);
        pthread_mutex_unlock(&e->lock);
        return false;
      }
    }
  }
  bool ok = edit(arg, err);
  pthread_mutex_unlock(&e->lock);
  return ok;
}
