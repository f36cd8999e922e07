#include "registry/connections.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/reply.h"
#include "engine/match.h"
#include "registry/connection_schema.h"

/* A new workspace's sample source emits about 2 documents a second (Atlas). */
#define DEFAULT_DOCS_PER_SECOND 2.0

struct aspd_registry {
  pthread_mutex_t *lock; /* see connections.h (a pointer: readers get a const registry) */
  aspd_connection_t *items;
  size_t count, cap;
  bool sample_removed; /* the built-in sample source was deleted: it stays deleted */
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

/* The id definition carries, else the one of the connection it replaces, else a new one. */
static void id_for(const aspd_registry_t *reg, const char *name, char hex[25]) {
  bson_iter_t it;
  for (size_t i = 0; i < reg->count; i++) {
    if (!strcmp(reg->items[i].name, name) &&
        bson_iter_init_find(&it, reg->items[i].definition, "id") && BSON_ITER_HOLDS_UTF8(&it)) {
      snprintf(hex, 25, "%s", bson_iter_utf8(&it, NULL));
      return;
    }
  }
  bson_oid_t oid;
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, hex);
}

/* Stores definition, with an `id` (see id_for) when it has none. */
static void put(aspd_registry_t *reg, const char *name, const char *type, double rate,
                const bson_t *definition, bool builtin) {
  bson_iter_t it;
  bson_t *stored;
  if (bson_iter_init_find(&it, definition, "id")) {
    stored = bson_copy(definition);
  } else {
    char hex[25];
    id_for(reg, name, hex);
    stored = bson_new();
    bson_iter_init(&it, definition);
    /* id right after name and type, as the Admin API shows it. */
    while (bson_iter_next(&it)) {
      bson_append_value(stored, bson_iter_key(&it), -1, bson_iter_value(&it));
      if (!strcmp(bson_iter_key(&it), "type")) BSON_APPEND_UTF8(stored, "id", hex);
    }
  }
  aspd_connection_t *c = slot_for(reg, name);
  if (!strcmp(name, ASPD_SAMPLE_SOURCE_NAME)) reg->sample_removed = false;
  c->name = strdup(name);
  c->type = strdup(type);
  c->kind = kind_of(name, type);
  c->docs_per_second = rate;
  c->builtin = builtin;
  c->definition = stored;
}

aspd_registry_t *aspd_registry_new(void) {
  aspd_registry_t *reg = calloc(1, sizeof *reg);
  reg->lock = malloc(sizeof *reg->lock);
  pthread_mutex_init(reg->lock, NULL);
  bson_t *sample = BCON_NEW("name", ASPD_SAMPLE_SOURCE_NAME, "type", "Sample");
  bson_t *log = BCON_NEW("name", ASPD_TEST_LOG_NAME, "type", "TestLog");
  put(reg, ASPD_SAMPLE_SOURCE_NAME, "Sample", DEFAULT_DOCS_PER_SECOND, sample, true);
  put(reg, ASPD_TEST_LOG_NAME, "TestLog", 0, log, true);
  bson_destroy(sample);
  bson_destroy(log);
  return reg;
}

void aspd_registry_free(aspd_registry_t *reg) {
  if (!reg) return;
  for (size_t i = 0; i < reg->count; i++) clear_connection(&reg->items[i]);
  free(reg->items);
  pthread_mutex_destroy(reg->lock);
  free(reg->lock);
  free(reg);
}

/* docsPerSecond of a Sample connection (aspd extension); the default when absent. */
static bool sample_rate(const bson_t *def, const char *origin, const char *name, double *rate,
                        aspd_error_t *err) {
  bson_iter_t it;
  *rate = DEFAULT_DOCS_PER_SECOND;
  if (!bson_iter_init_find(&it, def, "docsPerSecond")) return true;
  if (!BSON_ITER_HOLDS_NUMBER(&it) || !(bson_iter_as_double(&it) >= 0)) { /* NaN too */
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "%s: connection '%s': docsPerSecond must be a number >= 0", origin, name);
    return false;
  }
  *rate = bson_iter_as_double(&it);
  return true;
}

static void drop_at(aspd_registry_t *reg, size_t i) {
  /* Else the built-in would come back at the next start. */
  if (!strcmp(reg->items[i].name, ASPD_SAMPLE_SOURCE_NAME)) reg->sample_removed = true;
  clear_connection(&reg->items[i]);
  memmove(&reg->items[i], &reg->items[i + 1], (reg->count - i - 1) * sizeof *reg->items);
  reg->count--;
}

static void remove_builtin(aspd_registry_t *reg, const char *name) {
  for (size_t i = 0; i < reg->count; i++) {
    if (reg->items[i].builtin && !strcmp(reg->items[i].name, name)) {
      drop_at(reg, i);
      return;
    }
  }
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
  double rate;
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
  if (!sample_rate(&def, origin, name, &rate, err)) return false;
  put(reg, name, type, rate, &def, false);
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
  bool ok = true;
  pthread_mutex_lock(reg->lock);
  bson_iter_recurse(&top, &list);
  while (ok && bson_iter_next(&list)) ok = load_one(reg, &list, origin, err);
  if (ok && bson_iter_init_find(&top, doc, "removedBuiltIns") && BSON_ITER_HOLDS_ARRAY(&top)) {
    bson_iter_recurse(&top, &list);
    while (bson_iter_next(&list)) {
      if (BSON_ITER_HOLDS_UTF8(&list)) remove_builtin(reg, bson_iter_utf8(&list, NULL));
    }
  }
  pthread_mutex_unlock(reg->lock);
  return ok;
}

static aspd_connection_t *find(const aspd_registry_t *reg, const char *name) {
  for (size_t i = 0; i < reg->count; i++) {
    if (!strcmp(reg->items[i].name, name)) return &reg->items[i];
  }
  return NULL;
}

const aspd_connection_t *aspd_registry_find(const aspd_registry_t *reg, const char *name) {
  return find(reg, name);
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
  pthread_mutex_lock(reg->lock);
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
  pthread_mutex_unlock(reg->lock);
}

void aspd_registry_to_bson(const aspd_registry_t *reg, bson_t *out) {
  bson_t arr;
  pthread_mutex_lock(reg->lock);
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
  if (reg->sample_removed) {
    BSON_APPEND_ARRAY_BEGIN(out, "removedBuiltIns", &arr);
    BSON_APPEND_UTF8(&arr, "0", ASPD_SAMPLE_SOURCE_NAME);
    bson_append_array_end(out, &arr);
  }
  pthread_mutex_unlock(reg->lock);
}

static bool api_visible(const aspd_connection_t *c) {
  return c->kind != ASPD_CONN_TEST_LOG;
}

bool aspd_registry_api_get(const aspd_registry_t *reg, const char *name, const char *region,
                           bson_t *out) {
  pthread_mutex_lock(reg->lock);
  const aspd_connection_t *c = find(reg, name);
  bool found = c && api_visible(c);
  if (found) aspd_connection_public(c->definition, region, out);
  pthread_mutex_unlock(reg->lock);
  return found;
}

size_t aspd_registry_api_page(const aspd_registry_t *reg, size_t skip, size_t limit,
                              const char *region, bson_t *out) {
  size_t total = 0;
  uint32_t n = 0;
  pthread_mutex_lock(reg->lock);
  for (size_t i = 0; i < reg->count; i++) {
    const aspd_connection_t *c = &reg->items[i];
    if (!api_visible(c)) continue;
    if (total++ < skip || n >= limit) continue;
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(out, k, &item);
    aspd_connection_public(c->definition, region, &item);
    bson_append_document_end(out, &item);
  }
  pthread_mutex_unlock(reg->lock);
  return total;
}

bson_t *aspd_registry_definition(const aspd_registry_t *reg, const char *name) {
  pthread_mutex_lock(reg->lock);
  const aspd_connection_t *c = find(reg, name);
  bson_t *copy = c && api_visible(c) ? bson_copy(c->definition) : NULL;
  pthread_mutex_unlock(reg->lock);
  return copy;
}

bool aspd_registry_private_link_user(const aspd_registry_t *reg, const char *private_link_id,
                                     char *name, size_t name_len) {
  bool found = false;
  name[0] = '\0';
  pthread_mutex_lock(reg->lock);
  for (size_t i = 0; i < reg->count && !found; i++) {
    bson_iter_t it;
    found = bson_iter_init(&it, reg->items[i].definition) &&
            bson_iter_find_descendant(&it, "networking.access.connectionId", &it) &&
            BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_utf8(&it, NULL), private_link_id);
    if (found) snprintf(name, name_len, "%s", reg->items[i].name);
  }
  pthread_mutex_unlock(reg->lock);
  return found;
}

void aspd_registry_put(aspd_registry_t *reg, const bson_t *definition) {
  bson_iter_t it;
  const char *name = "", *type = "";
  if (bson_iter_init_find(&it, definition, "name") && BSON_ITER_HOLDS_UTF8(&it)) {
    name = bson_iter_utf8(&it, NULL);
  }
  if (bson_iter_init_find(&it, definition, "type") && BSON_ITER_HOLDS_UTF8(&it)) {
    type = bson_iter_utf8(&it, NULL);
  }
  double rate;
  aspd_error_t ignored;
  /* The Admin API layer checked docsPerSecond already. */
  if (!sample_rate(definition, "", name, &rate, &ignored)) rate = DEFAULT_DOCS_PER_SECOND;
  pthread_mutex_lock(reg->lock);
  put(reg, name, type, rate, definition, false);
  pthread_mutex_unlock(reg->lock);
}

bool aspd_registry_remove(aspd_registry_t *reg, const char *name) {
  pthread_mutex_lock(reg->lock);
  bool found = false;
  for (size_t i = 0; i < reg->count && !found; i++) {
    if (!strcmp(reg->items[i].name, name) && api_visible(&reg->items[i])) {
      drop_at(reg, i);
      found = true;
    }
  }
  pthread_mutex_unlock(reg->lock);
  return found;
}
