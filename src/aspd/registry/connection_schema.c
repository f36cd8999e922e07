#include "registry/connection_schema.h"

#include <stdio.h>
#include <string.h>

typedef enum { F_STRING, F_OBJECT, F_STRING_MAP, F_STRING_ARRAY, F_NUMBER } field_type_t;

enum { REQUIRED = 1, READ_ONLY = 2 };

typedef struct field {
  const char *name;
  field_type_t type;
  unsigned flags;
  const struct field *fields; /* F_OBJECT: its fields, ending with {NULL} */
  const char *const *values;  /* F_STRING: the allowed values (NULL-terminated), or NULL */
} field_t;

/* Write-only fields, wherever they sit: stored, never shown. */
static const char *const write_only[] = {"password", "clientSecret", "sslKey", "sslKeyPassword",
                                         NULL};

static const char *const mechanisms[] = {"PLAIN", "SCRAM-256", "SCRAM-512", "OAUTHBEARER", NULL};
static const char *const protocols[] = {"PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL", NULL};
static const char *const access_types[] = {"PUBLIC", "VPC", "PRIVATE_LINK", "TRANSIT_GATEWAY",
                                           NULL};
static const char *const role_types[] = {"BUILT_IN", "CUSTOM", NULL};
static const char *const oidc[] = {"OIDC", NULL};
static const char *const registry_providers[] = {"CONFLUENT", NULL};
static const char *const registry_auth_types[] = {"USER_INFO", "SASL_INHERIT", NULL};

static const field_t aws_role[] = {{"roleArn", F_STRING, REQUIRED, NULL, NULL},
                                   {"testBucket", F_STRING, 0, NULL, NULL},
                                   {NULL, F_STRING, 0, NULL, NULL}};
static const field_t access_fields[] = {{"type", F_STRING, 0, NULL, access_types},
                                        {"connectionId", F_STRING, 0, NULL, NULL},
                                        {"name", F_STRING, 0, NULL, NULL},
                                        {"tgwRouteId", F_STRING, 0, NULL, NULL},
                                        {NULL, F_STRING, 0, NULL, NULL}};
static const field_t networking[] = {{"access", F_OBJECT, 0, access_fields, NULL},
                                     {NULL, F_STRING, 0, NULL, NULL}};
static const field_t kafka_auth[] = {{"mechanism", F_STRING, 0, NULL, mechanisms},
                                     {"username", F_STRING, 0, NULL, NULL},
                                     {"password", F_STRING, 0, NULL, NULL},
                                     {"method", F_STRING, 0, NULL, oidc},
                                     {"tokenEndpointUrl", F_STRING, 0, NULL, NULL},
                                     {"clientId", F_STRING, 0, NULL, NULL},
                                     {"clientSecret", F_STRING, 0, NULL, NULL},
                                     {"scope", F_STRING, 0, NULL, NULL},
                                     {"saslOauthbearerExtensions", F_STRING, 0, NULL, NULL},
                                     {"sslCertificate", F_STRING, 0, NULL, NULL},
                                     {"sslKey", F_STRING, 0, NULL, NULL},
                                     {"sslKeyPassword", F_STRING, 0, NULL, NULL},
                                     {"aws", F_OBJECT, 0, aws_role, NULL},
                                     {NULL, F_STRING, 0, NULL, NULL}};
static const field_t kafka_security[] = {{"protocol", F_STRING, 0, NULL, protocols},
                                         {"brokerPublicCertificate", F_STRING, 0, NULL, NULL},
                                         {NULL, F_STRING, 0, NULL, NULL}};
static const field_t db_role[] = {{"role", F_STRING, REQUIRED, NULL, NULL},
                                  {"type", F_STRING, REQUIRED, NULL, role_types},
                                  {NULL, F_STRING, 0, NULL, NULL}};
static const field_t azure[] = {{"servicePrincipalId", F_STRING, REQUIRED, NULL, NULL},
                                {"storageAccountName", F_STRING, 0, NULL, NULL},
                                {"region", F_STRING, 0, NULL, NULL},
                                {NULL, F_STRING, 0, NULL, NULL}};
static const field_t gcp[] = {{"serviceAccountId", F_STRING, REQUIRED, NULL, NULL},
                              {NULL, F_STRING, 0, NULL, NULL}};
static const field_t registry_auth[] = {{"type", F_STRING, REQUIRED, NULL, registry_auth_types},
                                        {"username", F_STRING, 0, NULL, NULL},
                                        {"password", F_STRING, 0, NULL, NULL},
                                        {NULL, F_STRING, 0, NULL, NULL}};

static const field_t sample_fields[] = {
    /* aspd extension: how fast the sample source emits (0 = as fast as it can). */
    {"docsPerSecond", F_NUMBER, 0, NULL, NULL},
    {NULL, F_STRING, 0, NULL, NULL}};
static const field_t cluster_fields[] = {{"clusterName", F_STRING, REQUIRED, NULL, NULL},
                                         {"clusterGroupId", F_STRING, 0, NULL, NULL},
                                         {"dbRoleToExecute", F_OBJECT, 0, db_role, NULL},
                                         {NULL, F_STRING, 0, NULL, NULL}};
static const field_t kafka_fields[] = {{"bootstrapServers", F_STRING, REQUIRED, NULL, NULL},
                                       {"authentication", F_OBJECT, 0, kafka_auth, NULL},
                                       {"security", F_OBJECT, 0, kafka_security, NULL},
                                       {"networking", F_OBJECT, 0, networking, NULL},
                                       {"config", F_STRING_MAP, 0, NULL, NULL},
                                       {NULL, F_STRING, 0, NULL, NULL}};
static const field_t https_fields[] = {{"url", F_STRING, REQUIRED, NULL, NULL},
                                       {"headers", F_STRING_MAP, 0, NULL, NULL},
                                       {NULL, F_STRING, 0, NULL, NULL}};
static const field_t aws_fields[] = {{"aws", F_OBJECT, REQUIRED, aws_role, NULL},
                                     {"networking", F_OBJECT, 0, networking, NULL},
                                     {NULL, F_STRING, 0, NULL, NULL}};
static const field_t azure_fields[] = {{"azure", F_OBJECT, REQUIRED, azure, NULL},
                                       {"networking", F_OBJECT, 0, networking, NULL},
                                       {NULL, F_STRING, 0, NULL, NULL}};
static const field_t gcp_fields[] = {{"gcp", F_OBJECT, REQUIRED, gcp, NULL},
                                     {"networking", F_OBJECT, 0, networking, NULL},
                                     {NULL, F_STRING, 0, NULL, NULL}};
static const field_t schema_registry_fields[] = {
    {"provider", F_STRING, REQUIRED, NULL, registry_providers},
    {"schemaRegistryUrls", F_STRING_ARRAY, REQUIRED, NULL, NULL},
    {"schemaRegistryAuthentication", F_OBJECT, 0, registry_auth, NULL},
    {NULL, F_STRING, 0, NULL, NULL}};

static const struct {
  const char *type;
  const field_t *fields;
} types[] = {
    {"Sample", sample_fields},
    {"Cluster", cluster_fields},
    {"Kafka", kafka_fields},
    {"Https", https_fields},
    {"S3", aws_fields},
    {"AWSLambda", aws_fields},
    {"AWSKinesisDataStreams", aws_fields},
    {"AzureBlobStorage", azure_fields},
    {"GCPPubSub", gcp_fields},
    {"SchemaRegistry", schema_registry_fields},
};

static const field_t common_fields[] = {{"name", F_STRING, REQUIRED, NULL, NULL},
                                        {"type", F_STRING, REQUIRED, NULL, NULL},
                                        {"id", F_STRING, READ_ONLY, NULL, NULL},
                                        {"state", F_STRING, READ_ONLY, NULL, NULL},
                                        {"region", F_STRING, READ_ONLY, NULL, NULL},
                                        {"links", F_STRING_ARRAY, READ_ONLY, NULL, NULL},
                                        {NULL, F_STRING, 0, NULL, NULL}};

static const field_t *lookup(const field_t *fields, const char *name) {
  for (; fields && fields->name; fields++) {
    if (!strcmp(fields->name, name)) return fields;
  }
  return NULL;
}

static bool all_strings(const bson_iter_t *container) {
  bson_iter_t it;
  bson_iter_recurse(container, &it);
  while (bson_iter_next(&it)) {
    if (!BSON_ITER_HOLDS_UTF8(&it)) return false;
  }
  return true;
}

static bool one_of(const char *s, const char *const *values) {
  for (; *values; values++) {
    if (!strcmp(s, *values)) return true;
  }
  return false;
}

/* The document under it, read in place. */
static void sub_document(const bson_iter_t *it, bson_t *doc) {
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(it, &len, &data);
  bson_init_static(doc, data, len);
}

static bool bad_value(aspd_error_t *err, const char *path, const char *expected) {
  aspd_error_set(err, ASPD_API_E_INVALID_ATTRIBUTE, "Invalid attribute %s specified: %s.", path,
                 expected);
  return false;
}

static bool check_value(const field_t *f, bson_iter_t *it, const char *path, aspd_error_t *err) {
  switch (f->type) {
    case F_STRING:
      if (!BSON_ITER_HOLDS_UTF8(it)) return bad_value(err, path, "expected a string");
      if (f->values && !one_of(bson_iter_utf8(it, NULL), f->values)) {
        char list[256] = "";
        for (const char *const *v = f->values; *v; v++) {
          snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", *list ? ", " : "", *v);
        }
        aspd_error_set(err, ASPD_API_E_INVALID_ATTRIBUTE,
                       "Invalid attribute %s specified: '%s' is not one of %s.", path,
                       bson_iter_utf8(it, NULL), list);
        return false;
      }
      return true;
    case F_OBJECT:
      return BSON_ITER_HOLDS_DOCUMENT(it) || bad_value(err, path, "expected an object");
    case F_STRING_MAP:
      return (BSON_ITER_HOLDS_DOCUMENT(it) && all_strings(it)) ||
             bad_value(err, path, "expected an object of strings");
    case F_STRING_ARRAY:
      return (BSON_ITER_HOLDS_ARRAY(it) && all_strings(it)) ||
             bad_value(err, path, "expected an array of strings");
    case F_NUMBER:
      return (BSON_ITER_HOLDS_NUMBER(it) && bson_iter_as_double(it) >= 0) ||
             bad_value(err, path, "expected a number >= 0");
  }
  return false;
}

/* Checks the fields of doc (at path; "" at the top) against first, then second, and
 * copies them into out. */
static bool check_object(const bson_t *doc, const char *path, const field_t *first,
                         const field_t *second, bson_t *out, aspd_error_t *err) {
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    char sub[512];
    snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
    const field_t *f = lookup(first, key);
    if (!f) f = lookup(second, key);
    if (!f) {
      aspd_error_set(err, ASPD_API_E_UNKNOWN_ATTRIBUTE, "Invalid attribute %s specified.", sub);
      return false;
    }
    if (BSON_ITER_HOLDS_NULL(&it) || (f->flags & READ_ONLY)) continue;
    if (!check_value(f, &it, sub, err)) return false;
    if (f->type != F_OBJECT) {
      bson_append_value(out, key, -1, bson_iter_value(&it));
      continue;
    }
    bson_t inner, copy;
    sub_document(&it, &inner);
    bson_append_document_begin(out, key, -1, &copy);
    bool ok = check_object(&inner, sub, f->fields, NULL, &copy, err);
    bson_append_document_end(out, &copy);
    if (!ok) return false;
  }
  const field_t *lists[] = {first, second};
  for (size_t l = 0; l < 2; l++) {
    for (const field_t *f = lists[l]; f && f->name; f++) {
      if ((f->flags & REQUIRED) && !(bson_iter_init_find(&it, out, f->name))) {
        aspd_error_set(err, ASPD_API_E_MISSING_ATTRIBUTE,
                       "The required attribute %s%s%s was not specified.", path, *path ? "." : "",
                       f->name);
        return false;
      }
    }
  }
  return true;
}

bool aspd_connection_check(const bson_t *body, bson_t *stored, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, body, "type") || !BSON_ITER_HOLDS_UTF8(&it)) {
    aspd_error_set(err, ASPD_API_E_MISSING_ATTRIBUTE,
                   "The required attribute type was not specified.");
    return false;
  }
  const char *type = bson_iter_utf8(&it, NULL);
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (!strcmp(types[i].type, type)) {
      if (!check_object(body, "", common_fields, types[i].fields, stored, err)) return false;
      if (!bson_iter_init_find(&it, stored, "name") || !*bson_iter_utf8(&it, NULL) ||
          strchr(bson_iter_utf8(&it, NULL), '/')) {
        return bad_value(err, "name", "expected a non-empty name without '/'");
      }
      return true;
    }
  }
  aspd_error_set(err, ASPD_API_E_INVALID_ATTRIBUTE,
                 "Invalid attribute type specified: unknown connection type '%s'.", type);
  return false;
}

static void copy_public(const bson_t *doc, bson_t *out) {
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (one_of(key, write_only)) continue;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      bson_append_value(out, key, -1, bson_iter_value(&it));
      continue;
    }
    bson_t inner, copy;
    sub_document(&it, &inner);
    bson_append_document_begin(out, key, -1, &copy);
    copy_public(&inner, &copy);
    bson_append_document_end(out, &copy);
  }
}

void aspd_connection_public(const bson_t *stored, const char *region, bson_t *out) {
  copy_public(stored, out);
  bson_iter_t it;
  if (bson_iter_init_find(&it, stored, "type") && BSON_ITER_HOLDS_UTF8(&it) &&
      !strcmp(bson_iter_utf8(&it, NULL), "Kafka") &&
      !bson_iter_init_find(&it, stored, "networking")) {
    bson_t net, acc;
    BSON_APPEND_DOCUMENT_BEGIN(out, "networking", &net);
    BSON_APPEND_DOCUMENT_BEGIN(&net, "access", &acc);
    BSON_APPEND_UTF8(&acc, "type", "PUBLIC");
    bson_append_document_end(&net, &acc);
    bson_append_document_end(out, &net);
  }
  BSON_APPEND_UTF8(out, "state", "READY");
  BSON_APPEND_UTF8(out, "region", region);
}
