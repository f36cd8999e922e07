/* The connection registry of a workspace:
 * /groups/{groupId}/streams/{tenantName}/connections[/{connectionName}]. */
#include <string.h>

#include "http/api.h"
#include "registry/connection_schema.h"
#include "workspace.h"

static void not_found(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const char *params[] = {req->params[2], req->params[0], req->params[1], NULL};
  aspd_http_error(reply, 404, "STREAM_CONNECTION_NOT_FOUND_FOR_NAME", params,
                  "Stream connection with name %s for project %s and name %s not found.",
                  req->params[2], req->params[0], req->params[1]);
}

/* A registry change's error, with the documented parameters. */
static void change_failed(const aspd_http_request_t *req, aspd_http_reply_t *reply,
                          const char *name, const aspd_error_t *err) {
  if (!strcmp(err->code_name, "STREAM_CONNECTION_NOT_FOUND_FOR_NAME")) {
    not_found(req, reply);
    return;
  }
  const char *params[] = {name, NULL};
  aspd_http_error_from(reply, err, params);
}

/* The connection as it is now, as the reply. */
static void show(const aspd_http_request_t *req, aspd_workspace_t *ws, const char *name,
                 aspd_http_reply_t *reply) {
  if (!aspd_registry_api_get(aspd_workspace_registry(ws), name, req->region, &reply->body)) {
    not_found(req, reply);
  }
}

void aspd_http_connections_list(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_workspace_t *ws = req->workspace;
  size_t per_page, page;
  if (!aspd_http_page_args(req, reply, &per_page, &page)) return;
  bson_t results;
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "results", &results);
  size_t total = aspd_registry_api_page(aspd_workspace_registry(ws), (page - 1) * per_page,
                                        per_page, req->region, &results);
  bson_append_array_end(&reply->body, &results);
  aspd_http_page_finish(req, reply, per_page, page, total, true);
}

void aspd_http_connection_create(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_workspace_t *ws = req->workspace;
  const bson_t *body = aspd_http_body(req, reply);
  if (!body) return;
  aspd_error_t err = {0};
  bson_t stored = BSON_INITIALIZER;
  bson_iter_t it;
  if (!aspd_connection_check(body, &stored, &err)) {
    aspd_http_error_from(reply, &err, NULL);
  } else {
    bson_iter_init_find(&it, &stored, "name");
    const char *name = bson_iter_utf8(&it, NULL);
    if (aspd_http_bounded_connection_put(ws, name, &stored, false, req->region, &err)) {
      show(req, ws, name, reply);
    } else {
      change_failed(req, reply, name, &err);
    }
  }
  bson_destroy(&stored);
}

void aspd_http_connection_get(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  show(req, req->workspace, req->params[2], reply);
}

/* The stored definition with the body's top-level fields over it: a field the body
 * leaves out keeps its value (a secret is not lost by leaving it out). */
static void merge(const bson_t *old, const bson_t *body, bson_t *out) {
  bson_iter_t it, found;
  bson_iter_init(&it, old);
  while (bson_iter_next(&it)) {
    const char *key = bson_iter_key(&it);
    if (!strcmp(key, "id")) continue;
    if (bson_iter_init_find(&found, body, key)) {
      bson_append_value(out, key, -1, bson_iter_value(&found));
    } else {
      bson_append_value(out, key, -1, bson_iter_value(&it));
    }
  }
  bson_iter_init(&it, body);
  while (bson_iter_next(&it)) {
    if (!bson_iter_init_find(&found, old, bson_iter_key(&it))) {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
}

void aspd_http_connection_update(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_workspace_t *ws = req->workspace;
  const bson_t *body = aspd_http_body(req, reply);
  if (!body) return;
  const char *name = req->params[2];
  bson_t *old = aspd_registry_definition(aspd_workspace_registry(ws), name);
  if (!old) {
    not_found(req, reply);
    return;
  }
  aspd_error_t err = {0};
  bson_iter_t it;
  if (bson_iter_init_find(&it, body, "name") &&
      !(BSON_ITER_HOLDS_UTF8(&it) && !strcmp(bson_iter_utf8(&it, NULL), name))) {
    aspd_error_set(&err, ASPD_API_E_INVALID_ATTRIBUTE,
                   "Invalid attribute name specified: a connection cannot be renamed.");
  }
  bson_iter_t old_type;
  if (!err.code && bson_iter_init_find(&it, body, "type") && BSON_ITER_HOLDS_UTF8(&it) &&
      bson_iter_init_find(&old_type, old, "type") && BSON_ITER_HOLDS_UTF8(&old_type) &&
      strcmp(bson_iter_utf8(&it, NULL), bson_iter_utf8(&old_type, NULL)) != 0) {
    aspd_error_set(&err, ASPD_API_E_INVALID_ATTRIBUTE,
                   "Invalid attribute type specified: a connection's type cannot be changed.");
  }
  bson_t merged = BSON_INITIALIZER, stored = BSON_INITIALIZER;
  merge(old, body, &merged);
  if (!err.code && aspd_connection_check(&merged, &stored, &err)) {
    if (aspd_http_bounded_connection_put(ws, name, &stored, true, req->region, &err)) {
      show(req, ws, name, reply);
    } else {
      change_failed(req, reply, name, &err);
    }
  } else {
    aspd_http_error_from(reply, &err, NULL);
  }
  bson_destroy(&merged);
  bson_destroy(&stored);
  bson_destroy(old);
}

void aspd_http_connection_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_workspace_t *ws = req->workspace;
  aspd_error_t err = {0};
  if (!aspd_workspace_connection_delete(ws, req->params[2], &err)) {
    change_failed(req, reply, req->params[2], &err);
    return;
  }
  reply->status = 202;
}
