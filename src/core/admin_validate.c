/* Client-side checks of a StreamsConnection before it is sent: one row per connection type
 * with the fields that type requires, plus the nested rules of Kafka authentication and
 * security and of schema-registry authentication. A mistake is a client error naming the
 * field. Write-only secrets are required when a connection is created, not when it is
 * updated (the stored one is kept). */
#include <stdio.h>
#include <string.h>

#include "admin_private.h"

typedef bool (*type_check_t)(const bson_t *conn, bool creating, asp_error_t *err);

static bool check_kafka(const bson_t *conn, bool creating, asp_error_t *err);
static bool check_https(const bson_t *conn, bool creating, asp_error_t *err);
static bool check_cluster(const bson_t *conn, bool creating, asp_error_t *err);
static bool check_schema_registry(const bson_t *conn, bool creating, asp_error_t *err);

#define MAX_REQUIRED 2

static const struct {
  const char *type;
  const char *required[MAX_REQUIRED]; /* dotted paths of non-empty strings */
  bool networking;                    /* may carry a networking document */
  type_check_t check;
} types[] = {
    {"Sample", {NULL}, false, NULL},
    {"Cluster", {"clusterName", NULL}, false, check_cluster},
    {"Kafka", {"bootstrapServers", NULL}, true, check_kafka},
    {"Https", {"url", NULL}, false, check_https},
    {"S3", {"aws.roleArn", NULL}, true, NULL},
    {"AWSLambda", {"aws.roleArn", NULL}, true, NULL},
    {"AWSKinesisDataStreams", {"aws.roleArn", NULL}, true, NULL},
    {"AzureBlobStorage", {"azure.servicePrincipalId", NULL}, true, NULL},
    {"GCPPubSub", {"gcp.serviceAccountId", NULL}, true, NULL},
    {"SchemaRegistry", {"provider", NULL}, false, check_schema_registry},
};

static bool find(const bson_t *doc, const char *path, bson_iter_t *found) {
  bson_iter_t it;
  return bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, found);
}

static const char *string_at(const bson_t *doc, const char *path) {
  bson_iter_t it;
  if (!find(doc, path, &it) || !BSON_ITER_HOLDS_UTF8(&it)) return NULL;
  const char *s = bson_iter_utf8(&it, NULL);
  return *s ? s : NULL;
}

/* "connection (type T): field 'F' <problem>" */
static bool fail(asp_error_t *err, const char *type, const char *field, const char *problem) {
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "connection (type %s): field '%s' %s", type, field,
                problem);
  return false;
}

static bool require(const bson_t *conn, const char *type, const char *path, asp_error_t *err) {
  if (string_at(conn, path)) return true;
  return fail(err, type, path, "(a non-empty string) is required");
}

static bool one_of(const bson_t *conn, const char *type, const char *path,
                   const char *const *allowed, const char *list, asp_error_t *err) {
  const char *v = string_at(conn, path);
  for (; v && *allowed; allowed++) {
    if (strcmp(v, *allowed) == 0) return true;
  }
  if (!v) return require(conn, type, path, err);
  char problem[160];
  snprintf(problem, sizeof problem, "must be one of %s", list);
  return fail(err, type, path, problem);
}

static bool is_document_at(const bson_t *conn, const char *path) {
  bson_iter_t it;
  return !find(conn, path, &it) || BSON_ITER_HOLDS_DOCUMENT(&it);
}

static bool check_kafka(const bson_t *conn, bool creating, asp_error_t *err) {
  static const char *const mechanisms[] = {"PLAIN", "SCRAM-256", "SCRAM-512", "OAUTHBEARER", NULL};
  static const char *const protocols[] = {"PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL", NULL};
  bson_iter_t it;
  if (!is_document_at(conn, "authentication"))
    return fail(err, "Kafka", "authentication", "must be a document");
  if (!is_document_at(conn, "security"))
    return fail(err, "Kafka", "security", "must be a document");
  if (find(conn, "security", &it) && !one_of(conn, "Kafka", "security.protocol", protocols,
                                             "PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL", err))
    return false;
  if (!find(conn, "authentication", &it)) return true;
  if (!one_of(conn, "Kafka", "authentication.mechanism", mechanisms,
              "PLAIN, SCRAM-256, SCRAM-512, OAUTHBEARER", err))
    return false;
  if (strcmp(string_at(conn, "authentication.mechanism"), "OAUTHBEARER") == 0) {
    if (!require(conn, "Kafka", "authentication.tokenEndpointUrl", err) ||
        !require(conn, "Kafka", "authentication.clientId", err))
      return false;
    return !creating || require(conn, "Kafka", "authentication.clientSecret", err);
  }
  if (!require(conn, "Kafka", "authentication.username", err)) return false;
  return !creating || require(conn, "Kafka", "authentication.password", err);
}

static bool check_cluster(const bson_t *conn, bool creating, asp_error_t *err) {
  static const char *const role_types[] = {"BUILT_IN", "CUSTOM", NULL};
  bson_iter_t it;
  if (!find(conn, "dbRoleToExecute", &it)) return true;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it))
    return fail(err, "Cluster", "dbRoleToExecute", "must be a document");
  return require(conn, "Cluster", "dbRoleToExecute.role", err) &&
         one_of(conn, "Cluster", "dbRoleToExecute.type", role_types, "BUILT_IN, CUSTOM", err);
}

static bool check_https(const bson_t *conn, bool creating, asp_error_t *err) {
  bson_iter_t it, header;
  if (!find(conn, "headers", &it)) return true;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &header))
    return fail(err, "Https", "headers", "must be a document of strings");
  while (bson_iter_next(&header)) {
    if (!BSON_ITER_HOLDS_UTF8(&header))
      return fail(err, "Https", "headers", "must be a document of strings");
  }
  return true;
}

static bool check_schema_registry(const bson_t *conn, bool creating, asp_error_t *err) {
  static const char *const auth_types[] = {"USER_INFO", "SASL_INHERIT", NULL};
  bson_iter_t it, url;
  if (!find(conn, "schemaRegistryUrls", &it) || !BSON_ITER_HOLDS_ARRAY(&it) ||
      !bson_iter_recurse(&it, &url) || !bson_iter_next(&url))
    return fail(err, "SchemaRegistry", "schemaRegistryUrls",
                "(a non-empty array of URLs) is required");
  do {
    if (!BSON_ITER_HOLDS_UTF8(&url))
      return fail(err, "SchemaRegistry", "schemaRegistryUrls", "must hold strings only");
  } while (bson_iter_next(&url));
  if (!one_of(conn, "SchemaRegistry", "schemaRegistryAuthentication.type", auth_types,
              "USER_INFO, SASL_INHERIT", err))
    return false;
  if (strcmp(string_at(conn, "schemaRegistryAuthentication.type"), "USER_INFO") != 0) return true;
  if (!require(conn, "SchemaRegistry", "schemaRegistryAuthentication.username", err)) return false;
  return !creating || require(conn, "SchemaRegistry", "schemaRegistryAuthentication.password", err);
}

static bool validate(const bson_t *conn, bool creating, asp_error_t *err) {
  if (creating && !string_at(conn, "name")) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "connection: field 'name' (a non-empty string) is required");
    return false;
  }
  const char *type = string_at(conn, "type");
  if (!type) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                  "connection: field 'type' is required (Kafka, Cluster, Sample, Https, S3, "
                  "AWSLambda, AWSKinesisDataStreams, AzureBlobStorage, GCPPubSub, "
                  "SchemaRegistry)");
    return false;
  }
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (strcmp(types[i].type, type) != 0) continue;
    for (const char *const *p = types[i].required; *p; p++) {
      if (!require(conn, type, *p, err)) return false;
    }
    bson_iter_t it;
    if (!types[i].networking && find(conn, "networking", &it))
      return fail(err, type, "networking", "is not supported by this type");
    return !types[i].check || types[i].check(conn, creating, err);
  }
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                "connection: unknown type '%s' (expected Kafka, Cluster, Sample, Https, S3, "
                "AWSLambda, AWSKinesisDataStreams, AzureBlobStorage, GCPPubSub or SchemaRegistry)",
                type);
  return false;
}

bool asp_admin_validate_connection(const bson_t *conn, asp_error_t *err) {
  return validate(conn, true, err);
}

bool asp_admin_validate_connection_update(const bson_t *conn, asp_error_t *err) {
  return validate(conn, false, err);
}
