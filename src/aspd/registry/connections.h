/* The connection registry: built-in connections plus those of the Admin API
 * (StreamsConnection shape), from the start-up file and from the HTTPS Admin API.
 *
 * Locking: every change runs inside aspd_engine_edit_registry (the engine lock, so
 * no processor is planned against a half-changed registry) and also takes the
 * registry's own lock. The planner calls aspd_registry_find with the engine lock
 * held; every other reader takes the registry's lock (the functions below do). */
#ifndef ASPD_CONNECTIONS_H
#define ASPD_CONNECTIONS_H

#include <bson/bson.h>
#include <stdbool.h>

#include "engine/error.h"

#define ASPD_SAMPLE_SOURCE_NAME "sample_stream_solar"
#define ASPD_TEST_LOG_NAME "__testLog"

typedef enum {
  ASPD_CONN_SAMPLE,   /* the solar generator */
  ASPD_CONN_CLUSTER,  /* an Atlas cluster: in-memory databases and collections */
  ASPD_CONN_KAFKA,    /* in-memory topics */
  ASPD_CONN_TEST_LOG, /* the discard sink */
  ASPD_CONN_OTHER     /* known to the registry, not runnable by aspd */
} aspd_conn_kind_t;

typedef struct {
  char *name;
  char *type; /* Admin API type: Sample, Cluster, Kafka, ... */
  aspd_conn_kind_t kind;
  double docs_per_second; /* Sample only: aspd extension, 0 = as fast as possible */
  bson_t *definition;     /* the document as given, secrets included (what is persisted) */
  bool builtin;           /* sample_stream_solar and __testLog, present without a file */
} aspd_connection_t;

typedef struct aspd_registry aspd_registry_t;

/* A registry holding the built-ins only. */
aspd_registry_t *aspd_registry_new(void);
void aspd_registry_free(aspd_registry_t *reg);

/* Adds (or replaces by name) the connections of {connections:[...]} and removes the
 * built-ins named in {removedBuiltIns:[...]}. Gives an `id` to each that has none.
 * `origin` names the file in errors. */
bool aspd_registry_load(aspd_registry_t *reg, const bson_t *doc, const char *origin,
                        aspd_error_t *err);

/* connections_file.c: loads a JSON file holding an array of connections or
 * {connections:[...]} (the Admin API StreamsConnection shape). */
bool aspd_registry_load_file(aspd_registry_t *reg, const char *path, char *err, size_t err_len);

const aspd_connection_t *aspd_registry_find(const aspd_registry_t *reg, const char *name);

/* Appends {name, type[, cluster]} for every listable connection matching filter
 * (NULL = all) to the open array `out`. */
void aspd_registry_list(const aspd_registry_t *reg, const bson_t *filter, bson_t *out);

/* {connections:[definition...], removedBuiltIns:[...]}: what aspd_registry_load reads back. */
void aspd_registry_to_bson(const aspd_registry_t *reg, bson_t *out);

/* The Admin API view. Hidden connections (__testLog) do not exist there. */

/* Appends the connection's Admin API shape (secrets left out, state and region added)
 * to out; false when there is no such connection. */
bool aspd_registry_api_get(const aspd_registry_t *reg, const char *name, const char *region,
                           bson_t *out);
/* Appends items [skip, skip+limit) of the listed connections to the open array out;
 * returns how many there are in all. */
size_t aspd_registry_api_page(const aspd_registry_t *reg, size_t skip, size_t limit,
                              const char *region, bson_t *out);
/* The region of a workspace that names none (the default workspace's). */
#define ASPD_DEFAULT_REGION "VIRGINIA_USA"

/* list_sizes.c: the bytes of definitions that listStreamConnections (*bson) and the Admin
 * API's lists of every connection (*json) carry, the connection named `skip` (NULL: none)
 * left out. */
void aspd_registry_listed_bytes(const aspd_registry_t *reg, const char *skip, const char *region,
                                size_t *bson, size_t *json);
/* A copy of the stored definition (secrets included), or NULL. Free with bson_destroy. */
bson_t *aspd_registry_definition(const aspd_registry_t *reg, const char *name);

/* The name of a connection whose networking.access.connectionId is private_link_id
 * (into name, "" when none); true when there is one. */
bool aspd_registry_private_link_user(const aspd_registry_t *reg, const char *private_link_id,
                                     char *name, size_t name_len);

/* Changes: call only from inside aspd_engine_edit_registry. */
void aspd_registry_put(aspd_registry_t *reg, const bson_t *definition);
bool aspd_registry_remove(aspd_registry_t *reg, const char *name);

#endif
