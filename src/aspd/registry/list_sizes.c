/* How many bytes of definitions the replies that list every connection carry:
 * listStreamConnections (BSON) and the Admin API's lists (JSON), measured on the shapes
 * those replies really use. Both the Admin API's writes and the start-up check of the
 * --connections file hold the registry to one bound with it. */
#include <string.h>

#include "registry/connections.h"

/* An array element's key and type byte, or a JSON item's separator. */
#define ITEM_OVERHEAD 16

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

void aspd_registry_listed_bytes(const aspd_registry_t *reg, const char *skip, const char *region,
                                size_t *bson, size_t *json) {
  bson_t wire = BSON_INITIALIZER, api = BSON_INITIALIZER;
  *bson = *json = 0;
  aspd_registry_list(reg, NULL, &wire);
  aspd_registry_api_page(reg, 0, SIZE_MAX, region, &api);
  add_items(&wire, skip, false, bson);
  add_items(&api, skip, true, json);
  bson_destroy(&wire);
  bson_destroy(&api);
}
