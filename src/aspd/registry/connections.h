/* The connection registry: built-in connections plus those of the Admin API
 * JSON file (StreamsConnection shape). Filled at start-up, read-only after. */
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
  bson_t *definition;     /* the document as given (what is persisted) */
} aspd_connection_t;

typedef struct aspd_registry aspd_registry_t;

/* A registry holding the built-ins only. */
aspd_registry_t *aspd_registry_new(void);
void aspd_registry_free(aspd_registry_t *reg);

/* Adds (or replaces by name) the connections of {connections:[...]}.
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

/* {connections:[definition...]}: every connection that is not built in. */
void aspd_registry_to_bson(const aspd_registry_t *reg, bson_t *out);

#endif
