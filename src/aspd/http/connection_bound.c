/* A connection is refused when it would make a reply that lists connections too large:
 * listStreamConnections (BSON, every connection), GET /connections pages and GET
 * /streams/WS?includeConnections=true (JSON, every connection). The sizes are measured on
 * the shapes those replies really use. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "commands/processor_bound.h"
#include "http/api.h"
#include "registry/connection_schema.h"
#include "workspace.h"

/* Connection changes of every workspace: a check and its change are one step. */
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;

/* An array element's key and type byte, or a JSON item's separator. */
#define ITEM_OVERHEAD 16

typedef struct {
  size_t bson, json;
} sizes_t;

static size_t json_len(const bson_t *doc) {
  size_t len = 0;
  char *json = bson_as_relaxed_extended_json(doc, &len);
  bson_free(json);
  return len;
}

/* Adds the items of arr except the one named `skip` (NULL: none) to *total. */
static void add_items(const bson_t *arr, const char *skip, bool as_json, size_t *total) {
  bson_iter_t it, name;
  bson_iter_init(&it, arr);
  while (bson_iter_next(&it)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t item;
    if (!bson_init_static(&item, data, len)) continue;
    if (skip && bson_iter_init_find(&name, &item, "name") && BSON_ITER_HOLDS_UTF8(&name) &&
        !strcmp(bson_iter_utf8(&name, NULL), skip)) {
      continue;
    }
    *total += (as_json ? json_len(&item) : len) + ITEM_OVERHEAD;
  }
}

/* The sizes of every listed connection of reg, `skip` left out. */
static sizes_t listed_sizes(const aspd_registry_t *reg, const char *skip, const char *region) {
  sizes_t s = {0, 0};
  bson_t wire = BSON_INITIALIZER, api = BSON_INITIALIZER;
  aspd_registry_list(reg, NULL, &wire);
  aspd_registry_api_page(reg, 0, SIZE_MAX, region, &api);
  add_items(&wire, skip, false, &s.bson);
  add_items(&api, skip, true, &s.json);
  bson_destroy(&wire);
  bson_destroy(&api);
  return s;
}

bool aspd_http_bounded_connection_put(aspd_workspace_t *ws, const char *name, const bson_t *stored,
                                      bool replace, const char *region, aspd_error_t *err) {
  /* The new connection's own list items, from a registry holding it alone. */
  aspd_registry_t *alone = aspd_registry_new();
  aspd_registry_put(alone, stored);
  bson_t filter = BSON_INITIALIZER, wire = BSON_INITIALIZER, api = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&filter, "name", name);
  aspd_registry_list(alone, &filter, &wire);
  aspd_registry_api_get(alone, name, region, &api);
  sizes_t added = {0, json_len(&api) + ITEM_OVERHEAD};
  add_items(&wire, NULL, false, &added.bson);
  bson_destroy(&filter);
  bson_destroy(&wire);
  bson_destroy(&api);
  aspd_registry_free(alone);

  pthread_mutex_lock(&bound_lock);
  sizes_t others = listed_sizes(aspd_workspace_registry(ws), name, region);
  size_t bson_total = others.bson + added.bson, json_total = others.json + added.json;
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
