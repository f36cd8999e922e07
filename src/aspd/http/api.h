/* What the Admin API's handlers share: the request they get, the reply they fill, and
 * the helpers for Atlas's conventions (error document, pagination). Handlers never see
 * the HTTP library: http_server.c turns its request into this one. */
#ifndef ASPD_HTTP_API_H
#define ASPD_HTTP_API_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/api_keys.h"
#include "engine/error.h"
#include "http/http_server.h"

#define ASPD_HTTP_MAX_PARAMS 4

typedef struct aspd_http_request aspd_http_request_t;
/* Looks up a query parameter; NULL when absent. */
typedef const char *(*aspd_http_query_fn)(const aspd_http_request_t *req, const char *name);

struct aspd_http_request {
  const aspd_http_config_t *config;
  const char *method;
  const char *path;
  /* The {} segments of the route's pattern, in order (groupId, workspace, name...). */
  const char *params[ASPD_HTTP_MAX_PARAMS];
  const bson_t *body;     /* the JSON body, NULL when there was none */
  const char *body_error; /* why the body is not a JSON object, or NULL */
  aspd_http_query_fn query;
  void *library_request; /* for query */
  /* Workspace-scoped endpoints: the workspace named by params[1] (the router answered
   * 404 when there is none) and its region. */
  aspd_workspace_t *workspace;
  char region[64];
};

typedef struct {
  unsigned status;
  bool has_body; /* false: an empty body (204, start, stop) */
  bson_t body;
  const char *version; /* the resource version answered, for Content-Type */
} aspd_http_reply_t;

/* Where an endpoint lives: the project, or a workspace (path parameter 1). */
typedef enum { ASPD_HTTP_PROJECT, ASPD_HTTP_WORKSPACE } aspd_http_scope_t;

/* A handler: fills reply (its body starts empty, status 200, has_body true). */
typedef void (*aspd_http_handler_fn)(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* Sets the Admin API error document {detail, error, errorCode, parameters, reason}.
 * params: up to 3 strings, NULL-terminated list (may be NULL). */
void aspd_http_error(aspd_http_reply_t *reply, unsigned status, const char *error_code,
                     const char *const *params, const char *fmt, ...) BSON_GNUC_PRINTF(5, 6);
/* The same from an error whose code is the HTTP status and code_name the errorCode. */
void aspd_http_error_from(aspd_http_reply_t *reply, const aspd_error_t *err,
                          const char *const *params);

/* Reads itemsPerPage (1..500, default 100) and pageNum (>= 1, default 1); a bad value
 * sets a 400 reply and returns false. */
bool aspd_http_page_args(const aspd_http_request_t *req, aspd_http_reply_t *reply,
                         size_t *items_per_page, size_t *page_num);
/* Appends links (self, previous, next) and, with include_count, totalCount after results. */
void aspd_http_page_finish(const aspd_http_request_t *req, aspd_http_reply_t *reply,
                           size_t items_per_page, size_t page_num, size_t total,
                           bool include_count);

/* 404 STREAM_TENANT_NOT_FOUND_FOR_NAME for the workspace named by params[1]. */
void aspd_http_workspace_not_found(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* The body as a document; NULL after a 400 when there is none. */
const bson_t *aspd_http_body(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* One handler per endpoint, one file per resource family. */
/* connections.c */
void aspd_http_connections_list(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_connection_create(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_connection_get(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_connection_update(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_connection_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply);
/* connection_bound.c: aspd_workspace_connection_put, unless the connection (`stored`,
 * checked) would make listStreamConnections or a JSON list of the workspace's connections
 * larger than ASPD_REPLY_MAX: then 400 INVALID_ATTRIBUTE naming the sizes, nothing changed. */
bool aspd_http_bounded_connection_put(aspd_workspace_t *ws, const char *name, const bson_t *stored,
                                      bool replace, const char *region, aspd_error_t *err);

/* record_bound.c: the largest JSON a workspace, Private Link or VPC peering record may take
 * in a list. aspd_http_record_fits is true when record (plus `more`, changes still to be
 * merged into it, or NULL) is within it; otherwise a 400 INVALID_ATTRIBUTE naming the sizes
 * is set in reply and the caller changes nothing. */
#define ASPD_HTTP_RECORD_MAX (16 * 1024)
bool aspd_http_record_fits(const bson_t *record, const bson_t *more, const char *what,
                           aspd_http_reply_t *reply);

/* processors.c */
void aspd_http_processors_list(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_create(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_get(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_update(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_start(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_start_with(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_processor_stop(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* workspaces.c */
void aspd_http_workspaces_list(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_workspace_create(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_workspace_create_with_sample(const aspd_http_request_t *req,
                                            aspd_http_reply_t *reply);
void aspd_http_workspace_get(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_workspace_update(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_workspace_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* privatelinks.c */
void aspd_http_private_links_list(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_private_link_create(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_private_link_get(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_private_link_update(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_private_link_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* vpc_peering.c */
void aspd_http_vpc_peerings_list(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_vpc_peering_accept(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_vpc_peering_reject(const aspd_http_request_t *req, aspd_http_reply_t *reply);
void aspd_http_vpc_peering_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply);

/* routes.c: finds the row for method + path, checks the version (Accept) and the
 * caller's role, runs the handler. */
void aspd_http_route(aspd_http_request_t *req, const char *accept, aspd_api_role_t role,
                     aspd_http_reply_t *reply);

#endif
