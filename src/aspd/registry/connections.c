#include "registry/connections.h"

#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/match.h"

/* A new workspace's sample source emits about 2 documents a second (Atlas). */
#define DEFAULT_DOCS_PER_SECOND 2.0

struct aspd_registry {
  aspd_connection_t *items;
  size_t count, cap;
};

static aspd_conn_kind_t kind_of(const char *name, const char *type) {
  if (!strcmp(name, ASPD_TEST_LOG_NAME)) return ASPD_CONN_TEST_LOG;
  if (!strcmp(type, "Sample")) return ASPD_CONN_SAMPLE;
  if (!strcmp(type, "Cluster")) return ASPD_CONN_CLUSTER;
  if (!strcmp(type, "Kafka")) return ASPD_CONN_KAFKA;
  return ASPD_CONN_OTHER;
}

static void clear_connection(aspd_connection_t *c) {
  free(c->name);
  free(c->type);
  bson_destroy(c->definition);
}

static aspd_connection_t *slot_for(aspd_registry_t *reg, const char *name) {
  for (size_t i = 0; i < reg->count; i++) {
    if (!strcmp(reg->items[i].name, name)) {
      clear_connection(&reg->items[i]);
      return &reg->items[i];
    }
  }
  if (reg->count == reg->cap) {
    reg->cap = reg->cap ? reg->cap * 2 : 8;
    reg->items = realloc(reg->items, reg->cap * sizeof *reg->items);
  }
  return &reg->items[reg->count++];
}

static void put(aspd_registry_t *reg, const char *name, const char *type, double rate,
                const bson_t *definition) {
  aspd_connection_t *c = slot_for(reg, name);
  c->name = strdup(name);
  c->type = strdup(type);
  c->kind = kind_of(name, type);
  c->docs_per_second = rate;
  c->definition = bson_copy(definition);
}

aspd_registry_t *aspd_registry_new(void) {
  aspd_registry_t *reg = calloc(1, sizeof *reg);
  bson_t *sample = BCON_NEW("name", ASPD_SAMPLE_SOURCE_NAME, "type", "Sample");
  bson_t *log = BCON_NEW("name", ASPD_TEST_LOG_NAME, "type", "TestLog");
  put(reg, ASPD_SAMPLE_SOURCE_NAME, "Sample", DEFAULT_DOCS_PER_SECOND, sample);
  put(reg, ASPD_TEST_LOG_NAME, "TestLog", 0, log);
  bson_destroy(sample);
  bson_destroy(log);
  return reg;
}

void aspd_registry_free(aspd_registry_t *reg) {
  if (!reg) return;
  for (size_t i = 0; i < reg->count; i++) clear_connection(&reg->items[i]);
  free(reg->items);
  free(reg);
}

static bool load_one(aspd_registry_t *reg, bson_iter_t *entry, const char *origin,
                     aspd_error_t *err) {
  if (!BSON_ITER_HOLDS_DOCUMENT(entry)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s: connection #%s is not an object", origin,
                   bson_iter_key(entry));
    return false;
  }
  bson_t def;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(entry, &len, &data);
  bson_init_static(&def, data, len);
  bson_iter_t it;
  const char *name = NULL, *type = NULL;
  double rate = DEFAULT_DOCS_PER_SECOND;
  if (bson_iter_init_find(&it, &def, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
    name = bson_iter_utf8(&it, NULL);
  }
  if (bson_iter_init_find(&it, &def, "type") && BSON_ITER_HOLDS_UTF8(&it)) {
    type = bson_iter_utf8(&it, NULL);
  }
  if (!name || !*name || !type || !*type) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "%s: connection #%s needs string fields 'name' and 'type'", origin,
                   bson_iter_key(entry));
    return false;
  }
  if (bson_iter_init_find(&it, &def, "docsPerSecond")) {
    if (!BSON_ITER_HOLDS_NUMBER(&it) || bson_iter_as_double(&it) < 0) {
      aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                     "%s: connection '%s': docsPerSecond must be a number >= 0", origin, name);
      return false;
    }
    rate = bson_iter_as_double(&it);
  }
  put(reg, name, type, rate, &def);
  return true;
}

bool aspd_registry_load(aspd_registry_t *reg, const bson_t *doc, const char *origin,
                        aspd_error_t *err) {
  bson_iter_t top, list;
  if (!bson_iter_init_find(&top, doc, "connections") || !BSON_ITER_HOLDS_ARRAY(&top)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "%s: expected an array of connections or {\"connections\": [...]}", origin);
    return false;
  }
  bson_iter_recurse(&top, &list);
  while (bson_iter_next(&list)) {
    if (!load_one(reg, &list, origin, err)) return false;
  }
  return true;
}

const aspd_connection_t *aspd_registry_find(const aspd_registry_t *reg, const char *name) {
  for (size_t i = 0; i < reg->count; i++) {
    if (!strcmp(reg->items[i].name, name)) return &reg->items[i];
  }
  return NULL;
}

/* The live server's listStreamConnections types: atlas, kafka, inmemory (sample). */
static void listed_form(const aspd_connection_t *c, bson_t *out) {
  BSON_APPEND_UTF8(out, "name", c->name);
  switch (c->kind) {
    case ASPD_CONN_SAMPLE:
      BSON_APPEND_UTF8(out, "type", "inmemory");
      break;
    case ASPD_CONN_CLUSTER: {
      BSON_APPEND_UTF8(out, "type", "atlas");
      bson_iter_t it;
      if (bson_iter_init_find(&it, c->definition, "clusterName") && BSON_ITER_HOLDS_UTF8(&it)) {
        BSON_APPEND_UTF8(out, "cluster", bson_iter_utf8(&it, NULL));
      }
      break;
    }
    case ASPD_CONN_KAFKA:
      BSON_APPEND_UTF8(out, "type", "kafka");
      break;
    default: {
      char lower[64];
      size_t i = 0;
      for (; c->type[i] && i + 1 < sizeof lower; i++) {
        lower[i] = (char)(c->type[i] >= 'A' && c->type[i] <= 'Z' ? c->type[i] + 32 : c->type[i]);
      }
      lower[i] = '\0';
      BSON_APPEND_UTF8(out, "type", lower);
    }
  }
}

void aspd_registry_list(const aspd_registry_t *reg, const bson_t *filter, bson_t *out) {
  uint32_t n = 0;
  for (size_t i = 0; i < reg->count; i++) {
    /* Atlas does not list its test sink either. */
    if (reg->items[i].kind == ASPD_CONN_TEST_LOG) continue;
    bson_t item = BSON_INITIALIZER;
    listed_form(&reg->items[i], &item);
    if (aspd_match(&item, filter)) {
      char key[16];
      const char *k;
      bson_uint32_to_string(n++, &k, key, sizeof key);
      bson_append_document(out, k, -1, &item);
    }
    bson_destroy(&item);
  }
}

void aspd_registry_to_bson(const aspd_registry_t *reg, bson_t *out) {
  bson_t arr;
  BSON_APPEND_ARRAY_BEGIN(out, "connections", &arr);
  uint32_t n = 0;
  for (size_t i = 0; i < reg->count; i++) {
    const aspd_connection_t *c = &reg->items[i];
    if (c->kind == ASPD_CONN_TEST_LOG) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_append_document(&arr, k, -1, c->definition);
  }
  bson_append_array_end(out, &arr);
}
