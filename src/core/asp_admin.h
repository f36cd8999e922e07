/* lua-asp Admin API client: the Atlas Administration API v2 endpoints of a project's stream
 * processing (workspaces, their connection registries, Private Link connections, VPC
 * peering, processors) over HTTPS with libcurl. No Lua in here.
 *
 * Conventions (as in asp.h):
 * - Functions that can fail take an asp_error_t *err and return false or NULL.
 *   Mistakes found before any traffic are ASP_DOMAIN_CLIENT; an HTTP error status is
 *   ASP_DOMAIN_ADMIN with code = the HTTP status and code_name = Atlas's errorCode;
 *   transport failures are ASP_DOMAIN_NETWORK or ASP_DOMAIN_TLS.
 * - No message ever holds the private key, the client secret, a token or a secret field
 *   of the request body (password, clientSecret, sslKey, sslKeyPassword, header values).
 * - JSON goes in and out through libbson: bodies are BSON documents.
 * - A handle is used by one thread at a time. */
#ifndef ASP_ADMIN_H
#define ASP_ADMIN_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "asp.h"

typedef struct asp_admin_t asp_admin_t;

#define ASP_ADMIN_DEFAULT_BASE_URL "https://cloud.mongodb.com"
#define ASP_ADMIN_DEFAULT_TIMEOUT_MS 30000
#define ASP_ADMIN_DEFAULT_RETRIES 3

/* NULL / 0 means "not given". One of the two credential pairs is used: the API key pair
 * (HTTP Digest) or the service account (OAuth2 client credentials). When neither is
 * given, MONGODB_ATLAS_PUBLIC_KEY / MONGODB_ATLAS_PRIVATE_KEY are read, then
 * MONGODB_ATLAS_CLIENT_ID / MONGODB_ATLAS_CLIENT_SECRET. */
typedef struct {
  const char *base_url; /* https://host[:port]; default ASP_ADMIN_DEFAULT_BASE_URL */
  const char *group_id; /* the project: 24 hexadecimal digits */
  const char *public_key;
  const char *private_key;
  const char *client_id;
  const char *client_secret;
  const char *ca_file; /* PEM bundle to verify the server with instead of the system's */
  int32_t timeout_ms;  /* bound on one HTTP exchange; 0: ASP_ADMIN_DEFAULT_TIMEOUT_MS */
  bool has_retries;
  int32_t retries; /* extra attempts of a GET after 429 or 5xx; default ASP_ADMIN_DEFAULT_RETRIES */
} asp_admin_opts_t;

/* Checks the options and builds a handle. No traffic. NULL with err set on failure. */
asp_admin_t *asp_admin_new(const asp_admin_opts_t *opts, asp_error_t *err);
void asp_admin_destroy(asp_admin_t *a);

/* {base_url, group_id, auth: "digest" | "service_account", public_key | client_id,
 * ca_file, timeout_ms, retries}: never a secret. */
void asp_admin_settings(const asp_admin_t *a, bson_t *out);

/* HTTP exchanges sent (retries, token requests and the Digest challenge included) and
 * OAuth2 tokens obtained, for tests and benchmarks. */
uint64_t asp_admin_requests_sent(const asp_admin_t *a);
uint64_t asp_admin_tokens_fetched(const asp_admin_t *a);
/* Forgets the cached token as if it had expired (tests of the refresh path). */
void asp_admin_expire_token(asp_admin_t *a);

/* ---- endpoints: one row each (admin_endpoints.c) --------------------------------------- */

typedef enum {
  ASP_ADMIN_CONNECTIONS_LIST,
  ASP_ADMIN_CONNECTION_CREATE,
  ASP_ADMIN_CONNECTION_GET,
  ASP_ADMIN_CONNECTION_UPDATE,
  ASP_ADMIN_CONNECTION_DELETE,
  ASP_ADMIN_PRIVATE_LINKS_LIST,
  ASP_ADMIN_PRIVATE_LINK_CREATE,
  ASP_ADMIN_PRIVATE_LINK_GET,
  ASP_ADMIN_PRIVATE_LINK_UPDATE,
  ASP_ADMIN_PRIVATE_LINK_DELETE,
  ASP_ADMIN_VPC_PEERINGS_LIST,
  ASP_ADMIN_VPC_PEERING_ACCEPT,
  ASP_ADMIN_VPC_PEERING_REJECT,
  ASP_ADMIN_VPC_PEERING_DELETE,
  ASP_ADMIN_WORKSPACES_LIST,
  ASP_ADMIN_WORKSPACE_CREATE,
  ASP_ADMIN_WORKSPACE_GET,
  ASP_ADMIN_WORKSPACE_UPDATE,
  ASP_ADMIN_WORKSPACE_DELETE,
  ASP_ADMIN_PROCESSORS_LIST,
  ASP_ADMIN_PROCESSOR_CREATE,
  ASP_ADMIN_PROCESSOR_GET,
  ASP_ADMIN_PROCESSOR_MODIFY,
  ASP_ADMIN_PROCESSOR_START,
  ASP_ADMIN_PROCESSOR_START_WITH,
  ASP_ADMIN_PROCESSOR_STOP,
  ASP_ADMIN_PROCESSOR_DELETE,
  ASP_ADMIN_ENDPOINT_COUNT
} asp_admin_endpoint_t;

/* The endpoint called name ("connections.list", "connection.create", ...), or -1. */
int asp_admin_endpoint_find(const char *name);
const char *asp_admin_endpoint_name(asp_admin_endpoint_t ep);
/* Paginated list endpoints (results, totalCount, links; pageNum and itemsPerPage). */
bool asp_admin_endpoint_is_list(asp_admin_endpoint_t ep);
/* Which path parameters the endpoint takes, beyond the project. */
bool asp_admin_endpoint_takes_workspace(asp_admin_endpoint_t ep);
bool asp_admin_endpoint_takes_name(asp_admin_endpoint_t ep);
bool asp_admin_endpoint_takes_body(asp_admin_endpoint_t ep);

typedef struct {
  const char *workspace; /* the workspace (tenant) in the path, when the endpoint has one */
  const char *name;      /* connection or processor name, Private Link or VPC peering id */
  const bson_t *query;   /* query parameters (string, integer or boolean values), or NULL */
  const bson_t *body;    /* request body, or NULL */
} asp_admin_args_t;

/* Checks the arguments (path parameters, the body's required fields), sends the request
 * with the endpoint's versioned Accept and Content-Type, and parses the JSON reply into
 * reply (initialised by the callee; empty for an empty body). A GET is retried after 429
 * and 5xx replies. On an HTTP error status reply holds Atlas's error document
 * {error, errorCode, detail, reason, parameters} when the server sent one. */
bool asp_admin_call(asp_admin_t *a, asp_admin_endpoint_t ep, const asp_admin_args_t *args,
                    bson_t *reply, asp_error_t *err);

/* ---- client-side checks (admin_validate.c) --------------------------------------------- */

/* A StreamsConnection body: name and type, then the fields its type requires (Kafka's
 * bootstrapServers and authentication, Cluster's clusterName and dbRoleToExecute, ...).
 * The message names the missing or wrong field. */
bool asp_admin_validate_connection(const bson_t *conn, asp_error_t *err);
/* The same for PATCH, which takes a whole StreamsConnection: the name may be left out (the
 * path names the connection) and write-only secrets too (the stored ones are kept). */
bool asp_admin_validate_connection_update(const bson_t *conn, asp_error_t *err);

#endif
