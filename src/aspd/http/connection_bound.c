/* A connection is refused when it would make a reply that lists connections too large:
 * listStreamConnections (BSON, every connection), GET /connections pages and GET
 * /streams/WS?includeConnections=true (JSON, every connection). The sizes are measured on
 * the shapes those replies really use. */
#include <pthread.h>
#include <stdint.h>

#include "commands/processor_bound.h"
#include "http/api.h"
#include "registry/connection_schema.h"
#include "workspace.h"

/* Connection changes of every workspace: a check and its change are one step. */
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;

bool aspd_http_bounded_connection_put(aspd_workspace_t *ws, const char *name, const bson_t *stored,
                                      bool replace, const char *region, aspd_error_t *err) {
  /* The new connection's own list items: the lists of a registry holding it alone. */
  aspd_registry_t *alone = aspd_registry_new();
  aspd_registry_put(alone, stored);
  size_t added_bson, added_json, others_bson, others_json;
  aspd_registry_listed_bytes(alone, NULL, region, &added_bson, &added_json);
  aspd_registry_free(alone);

  pthread_mutex_lock(&bound_lock);
  aspd_registry_listed_bytes(aspd_workspace_registry(ws), name, region, &others_bson, &others_json);
  size_t bson_total = others_bson + added_bson, json_total = others_json + added_json;
  const size_t room = aspd_list_reply_bound();
  bool ok = bson_total <= room && json_total <= room;
  if (!ok) {
    bool wire_side = bson_total > room;
    aspd_error_set(err, ASPD_API_E_INVALID_ATTRIBUTE,
                   "The connection is too large: with it, the reply to %s would carry up to %zu "
                   "bytes of definitions, more than the limit of %zu bytes (maxBsonObjectSize "
                   "%d less room for the rest of the reply, or --max-list-reply-bytes); nothing "
                   "was changed.",
                   wire_side ? "listStreamConnections" : "a list of connections",
                   wire_side ? bson_total : json_total, room, ASPD_REPLY_MAX);
  } else {
    ok = aspd_workspace_connection_put(ws, name, stored, replace, err);
  }
  pthread_mutex_unlock(&bound_lock);
  return ok;
}
