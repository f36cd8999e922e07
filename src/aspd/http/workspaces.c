/* Workspaces ("tenants"): /groups/{groupId}/streams[/{tenantName}] and
 * /groups/{groupId}/streams:withSampleConnections. */
#include <string.h>

#include "http/api.h"
#include "registry/connections.h"
#include "workspace.h"

static const char *const providers[] = {"AWS", "AZURE", "GCP", NULL};

static bool bad(aspd_http_reply_t *reply, const char *code, const char *what) {
  aspd_http_error(reply, 400, code, NULL, "%s", what);
  return false;
}

static bool is_string_in(const bson_iter_t *it, const char *const *values) {
  if (!BSON_ITER_HOLDS_UTF8(it)) return false;
  for (; values && *values; values++) {
    if (!strcmp(*values, bson_iter_utf8(it, NULL))) return true;
  }
  return !values;
}

/* dataProcessRegion {cloudProvider, region}, both strings, the provider one of three. */
static bool check_region(bson_iter_t *field, aspd_http_reply_t *reply) {
  bson_iter_t f;
  bool provider = false, region = false;
  if (!BSON_ITER_HOLDS_DOCUMENT(field) || !bson_iter_recurse(field, &f)) {
    return bad(reply, "INVALID_ATTRIBUTE", "Invalid attribute dataProcessRegion specified.");
  }
  while (bson_iter_next(&f)) {
    const char *k = bson_iter_key(&f);
    if (!strcmp(k, "cloudProvider") && is_string_in(&f, providers)) {
      provider = true;
    } else if (!strcmp(k, "region") && BSON_ITER_HOLDS_UTF8(&f)) {
      region = true;
    } else {
      aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                      "Invalid attribute dataProcessRegion.%s specified.", k);
      return false;
    }
  }
  return (provider && region) ||
         bad(reply, "MISSING_ATTRIBUTE",
             "The required attributes dataProcessRegion.cloudProvider and .region were not "
             "specified.");
}

static bool check_stream_config(bson_iter_t *field, aspd_http_reply_t *reply) {
  static const char *const tiers[] = {"SP2", "SP5", "SP10", "SP30", "SP50", NULL};
  bson_iter_t f;
  if (!BSON_ITER_HOLDS_DOCUMENT(field) || !bson_iter_recurse(field, &f)) {
    return bad(reply, "INVALID_ATTRIBUTE", "Invalid attribute streamConfig specified.");
  }
  while (bson_iter_next(&f)) {
    const char *k = bson_iter_key(&f);
    if ((strcmp(k, "tier") != 0 && strcmp(k, "maxTierSize") != 0) || !is_string_in(&f, tiers)) {
      aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                      "Invalid attribute streamConfig.%s specified.", k);
      return false;
    }
  }
  return true;
}

/* The description fields every body may carry; name and region where required. */
static bool check_tenant(const bson_t *body, bool creating, aspd_http_reply_t *reply) {
  bson_iter_t it;
  bool name = false, region = false;
  bson_iter_init(&it, body);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    if (!strcmp(k, "name") && creating) {
      name = BSON_ITER_HOLDS_UTF8(&it) && *bson_iter_utf8(&it, NULL) &&
             !strchr(bson_iter_utf8(&it, NULL), '/');
      if (!name) return bad(reply, "INVALID_ATTRIBUTE", "Invalid attribute name specified.");
    } else if (!strcmp(k, "dataProcessRegion")) {
      if (!check_region(&it, reply)) return false;
      region = true;
    } else if (!strcmp(k, "streamConfig")) {
      if (!check_stream_config(&it, reply)) return false;
    } else if (!strcmp(k, "failoverRegions")) {
      if (!BSON_ITER_HOLDS_ARRAY(&it)) {
        return bad(reply, "INVALID_ATTRIBUTE", "Invalid attribute failoverRegions specified.");
      }
    } else if (creating && !strcmp(k, "sampleConnections")) {
      continue;
    } else if (strcmp(k, "_id") != 0 && strcmp(k, "groupId") != 0 && strcmp(k, "hostnames") != 0) {
      aspd_http_error(reply, 400, "INVALID_JSON_ATTRIBUTE", NULL, "Invalid attribute %s specified.",
                      k);
      return false;
    }
  }
  if (creating && !name)
    return bad(reply, "MISSING_ATTRIBUTE", "The required attribute name was not specified.");
  if (creating && !region) {
    return bad(reply, "MISSING_ATTRIBUTE",
               "The required attribute dataProcessRegion was not specified.");
  }
  return true;
}

/* The StreamsTenant of name, with its connections when asked. */
static bool show(const aspd_http_request_t *req, const char *name, bool with_connections,
                 bson_t *out) {
  if (!aspd_workspaces_describe(req->config->workspaces, name, req->config->group_id, out)) {
    return false;
  }
  if (!with_connections) return true;
  char region[64];
  aspd_workspace_t *ws = aspd_workspaces_acquire(req->config->workspaces, name, region);
  if (!ws) return true;
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(out, "connections", &list);
  aspd_registry_api_page(aspd_workspace_registry(ws), 0, SIZE_MAX, region, &list);
  bson_append_array_end(out, &list);
  aspd_workspaces_release(req->config->workspaces, ws);
  return true;
}

void aspd_http_workspaces_list(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  size_t per_page, page;
  if (!aspd_http_page_args(req, reply, &per_page, &page)) return;
  bson_t names = BSON_INITIALIZER, results;
  size_t total =
      aspd_workspaces_names(req->config->workspaces, (page - 1) * per_page, per_page, &names);
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "results", &results);
  bson_iter_t it;
  bson_iter_init(&it, &names);
  uint32_t n = 0;
  while (bson_iter_next(&it)) {
    char key[16];
    const char *k;
    bson_uint32_to_string(n, &k, key, sizeof key);
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(&results, k, &item);
    /* One deleted since the names were taken leaves its slot empty and is skipped. */
    if (show(req, bson_iter_utf8(&it, NULL), false, &item)) n++;
    bson_append_document_end(&results, &item);
  }
  bson_append_array_end(&reply->body, &results);
  bson_destroy(&names);
  aspd_http_page_finish(req, reply, per_page, page, total, true);
}

static void create(const aspd_http_request_t *req, aspd_http_reply_t *reply, bool with_sample) {
  const bson_t *body = aspd_http_body(req, reply);
  if (!body || !check_tenant(body, true, reply)) return;
  bson_iter_t it;
  bson_iter_init_find(&it, body, "name");
  const char *name = bson_iter_utf8(&it, NULL);
  aspd_error_t err = {0};
  if (!aspd_http_record_fits(body, NULL, "stream instance", reply)) return;
  if (!aspd_workspaces_create(req->config->workspaces, body, with_sample, &err)) {
    const char *params[] = {name, NULL};
    aspd_http_error_from(reply, &err, params);
    return;
  }
  show(req, name, false, &reply->body);
}

void aspd_http_workspace_create(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  create(req, reply, false);
}

void aspd_http_workspace_create_with_sample(const aspd_http_request_t *req,
                                            aspd_http_reply_t *reply) {
  create(req, reply, true);
}

void aspd_http_workspace_get(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const char *with = req->query(req, "includeConnections");
  if (with && strcmp(with, "true") != 0 && strcmp(with, "false") != 0) {
    const char *params[] = {"includeConnections", with, NULL};
    aspd_http_error(reply, 400, "INVALID_QUERY_PARAMETER", params,
                    "Invalid value %s for query parameter includeConnections.", with);
    return;
  }
  if (!show(req, req->params[1], with && !strcmp(with, "true"), &reply->body)) {
    aspd_http_workspace_not_found(req, reply);
  }
}

void aspd_http_workspace_update(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const bson_t *body = aspd_http_body(req, reply);
  if (!body) return;
  /* The older body {cloudProvider, region} is the region itself. */
  bson_t changes = BSON_INITIALIZER;
  bson_iter_t it;
  if (bson_iter_init_find(&it, body, "cloudProvider") || bson_iter_init_find(&it, body, "region")) {
    bson_t region;
    BSON_APPEND_DOCUMENT_BEGIN(&changes, "dataProcessRegion", &region);
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
      if (!strcmp(bson_iter_key(&it), "cloudProvider") || !strcmp(bson_iter_key(&it), "region")) {
        bson_append_value(&region, bson_iter_key(&it), -1, bson_iter_value(&it));
      }
    }
    bson_append_document_end(&changes, &region);
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
      if (strcmp(bson_iter_key(&it), "cloudProvider") && strcmp(bson_iter_key(&it), "region")) {
        bson_append_value(&changes, bson_iter_key(&it), -1, bson_iter_value(&it));
      }
    }
  } else {
    bson_copy_to_excluding_noinit(body, &changes, "processorStatus", NULL);
  }
  aspd_error_t err = {0};
  bson_t current = BSON_INITIALIZER;
  show(req, req->params[1], false, &current);
  if (check_tenant(&changes, false, reply) &&
      aspd_http_record_fits(&current, &changes, "stream instance", reply)) {
    if (aspd_workspaces_update(req->config->workspaces, req->params[1], &changes, &err)) {
      show(req, req->params[1], false, &reply->body);
    } else {
      aspd_http_error_from(reply, &err, NULL);
    }
  }
  bson_destroy(&current);
  bson_destroy(&changes);
}

void aspd_http_workspace_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  aspd_error_t err = {0};
  if (aspd_workspaces_delete(req->config->workspaces, req->params[1], &err)) {
    reply->status = 202;
  } else if (err.code == 404) {
    aspd_http_workspace_not_found(req, reply);
  } else {
    const char *params[] = {req->params[1], NULL};
    aspd_http_error_from(reply, &err, params);
  }
}
