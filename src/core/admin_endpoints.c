/* The Admin API endpoints, one row each: method, path, resource version and the check its
 * body must pass; and the one call path every endpoint takes (URL, JSON body, auth, GET
 * retries, reply parsing, Atlas error document -> asp_error_t). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "admin_private.h"
#include "asp_private.h"

#define API_PREFIX "/api/atlas/v2"
#define V2023 "application/vnd.atlas.2023-02-01+json"
#define V2024 "application/vnd.atlas.2024-05-30+json"
#define V2025 "application/vnd.atlas.2025-03-12+json"

/* GET retries: exponential backoff from 200 ms up to 2 s unless the server says when
 * (Retry-After); a Retry-After beyond 30 s is not waited for, the 429 is returned. */
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS 2000
#define RETRY_AFTER_MAX_S 30

typedef bool (*body_check_t)(const bson_t *body, asp_error_t *err);

static bool check_private_link(const bson_t *body, asp_error_t *err);
static bool check_private_link_update(const bson_t *body, asp_error_t *err);
static bool check_vpc_accept(const bson_t *body, asp_error_t *err);
static bool check_workspace(const bson_t *body, asp_error_t *err);
static bool check_processor(const bson_t *body, asp_error_t *err);

/* %G: the project, %W: the workspace, %N: the name or id argument. */
/* clang-format off */
static const struct {
  const char *name;
  const char *method;
  const char *path;
  const char *media_type;
  bool list;
  bool body;
  body_check_t check;
} endpoints[ASP_ADMIN_ENDPOINT_COUNT] = {
  [ASP_ADMIN_CONNECTIONS_LIST] = {"connections.list", "GET", "/groups/%G/streams/%W/connections", V2023, true, false, NULL},
  [ASP_ADMIN_CONNECTION_CREATE] = {"connection.create", "POST", "/groups/%G/streams/%W/connections", V2023, false, true, asp_admin_validate_connection},
  [ASP_ADMIN_CONNECTION_GET] = {"connection.get", "GET", "/groups/%G/streams/%W/connections/%N", V2023, false, false, NULL},
  [ASP_ADMIN_CONNECTION_UPDATE] = {"connection.update", "PATCH", "/groups/%G/streams/%W/connections/%N", V2023, false, true, asp_admin_validate_connection_update},
  [ASP_ADMIN_CONNECTION_DELETE] = {"connection.delete", "DELETE", "/groups/%G/streams/%W/connections/%N", V2023, false, false, NULL},
  [ASP_ADMIN_PRIVATE_LINKS_LIST] = {"private_links.list", "GET", "/groups/%G/streams/privateLinkConnections", V2023, true, false, NULL},
  [ASP_ADMIN_PRIVATE_LINK_CREATE] = {"private_link.create", "POST", "/groups/%G/streams/privateLinkConnections", V2023, false, true, check_private_link},
  [ASP_ADMIN_PRIVATE_LINK_GET] = {"private_link.get", "GET", "/groups/%G/streams/privateLinkConnections/%N", V2023, false, false, NULL},
  [ASP_ADMIN_PRIVATE_LINK_UPDATE] = {"private_link.update", "PATCH", "/groups/%G/streams/privateLinkConnections/%N", V2025, false, true, check_private_link_update},
  [ASP_ADMIN_PRIVATE_LINK_DELETE] = {"private_link.delete", "DELETE", "/groups/%G/streams/privateLinkConnections/%N", V2023, false, false, NULL},
  [ASP_ADMIN_VPC_PEERINGS_LIST] = {"vpc_peerings.list", "GET", "/groups/%G/streams/vpcPeeringConnections", V2023, true, false, NULL},
  [ASP_ADMIN_VPC_PEERING_ACCEPT] = {"vpc_peering.accept", "POST", "/groups/%G/streams/vpcPeeringConnections/%N:accept", V2023, false, true, check_vpc_accept},
  [ASP_ADMIN_VPC_PEERING_REJECT] = {"vpc_peering.reject", "POST", "/groups/%G/streams/vpcPeeringConnections/%N:reject", V2023, false, false, NULL},
  [ASP_ADMIN_VPC_PEERING_DELETE] = {"vpc_peering.delete", "DELETE", "/groups/%G/streams/vpcPeeringConnections/%N", V2023, false, false, NULL},
  [ASP_ADMIN_WORKSPACES_LIST] = {"workspaces.list", "GET", "/groups/%G/streams", V2023, true, false, NULL},
  [ASP_ADMIN_WORKSPACE_CREATE] = {"workspace.create", "POST", "/groups/%G/streams", V2023, false, true, check_workspace},
  [ASP_ADMIN_WORKSPACE_GET] = {"workspace.get", "GET", "/groups/%G/streams/%W", V2023, false, false, NULL},
  [ASP_ADMIN_WORKSPACE_UPDATE] = {"workspace.update", "PATCH", "/groups/%G/streams/%W", V2023, false, true, NULL},
  [ASP_ADMIN_WORKSPACE_DELETE] = {"workspace.delete", "DELETE", "/groups/%G/streams/%W", V2023, false, false, NULL},
  [ASP_ADMIN_PROCESSORS_LIST] = {"processors.list", "GET", "/groups/%G/streams/%W/processors", V2024, true, false, NULL},
  [ASP_ADMIN_PROCESSOR_CREATE] = {"processor.create", "POST", "/groups/%G/streams/%W/processor", V2024, false, true, check_processor},
  [ASP_ADMIN_PROCESSOR_GET] = {"processor.get", "GET", "/groups/%G/streams/%W/processor/%N", V2024, false, false, NULL},
  [ASP_ADMIN_PROCESSOR_MODIFY] = {"processor.modify", "PATCH", "/groups/%G/streams/%W/processor/%N", V2024, false, true, NULL},
  [ASP_ADMIN_PROCESSOR_START] = {"processor.start", "POST", "/groups/%G/streams/%W/processor/%N:start", V2024, false, false, NULL},
  [ASP_ADMIN_PROCESSOR_START_WITH] = {"processor.start_with", "POST", "/groups/%G/streams/%W/processor/%N:startWith", V2025, false, true, NULL},
  [ASP_ADMIN_PROCESSOR_STOP] = {"processor.stop", "POST", "/groups/%G/streams/%W/processor/%N:stop", V2024, false, false, NULL},
  [ASP_ADMIN_PROCESSOR_DELETE] = {"processor.delete", "DELETE", "/groups/%G/streams/%W/processor/%N", V2024, false, false, NULL},
};
/* clang-format on */

int asp_admin_endpoint_find(const char *name) {
  for (int i = 0; name && i < ASP_ADMIN_ENDPOINT_COUNT; i++) {
    if (strcmp(endpoints[i].name, name) == 0) return i;
  }
  return -1;
}

const char *asp_admin_endpoint_name(asp_admin_endpoint_t ep) {
  return endpoints[ep].name;
}

bool asp_admin_endpoint_is_list(asp_admin_endpoint_t ep) {
  return endpoints[ep].list;
}

bool asp_admin_endpoint_takes_workspace(asp_admin_endpoint_t ep) {
  return strstr(endpoints[ep].path, "%W") != NULL;
}

bool asp_admin_endpoint_takes_name(asp_admin_endpoint_t ep) {
  return strstr(endpoints[ep].path, "%N") != NULL;
}

bool asp_admin_endpoint_takes_body(asp_admin_endpoint_t ep) {
  return endpoints[ep].body;
}

/* ---- body checks ------------------------------------------------------------------------ */

static bool has_string(const bson_t *body, const char *path) {
  bson_iter_t it, found;
  return bson_iter_init(&it, body) && bson_iter_find_descendant(&it, path, &found) &&
         BSON_ITER_HOLDS_UTF8(&found) && bson_iter_utf8(&found, NULL)[0];
}

static bool require_strings(const bson_t *body, const char *what, const char *const *paths,
                            asp_error_t *err) {
  for (; *paths; paths++) {
    if (has_string(body, *paths)) continue;
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s: field '%s' (a non-empty string) is required",
                  what, *paths);
    return false;
  }
  return true;
}

static bool check_private_link(const bson_t *body, asp_error_t *err) {
  static const char *const required[] = {"provider", NULL};
  return require_strings(body, "private link", required, err);
}

static bool check_private_link_update(const bson_t *body, asp_error_t *err) {
  static const char *const required[] = {"dnsDomain", NULL};
  if (!require_strings(body, "private link update", required, err)) return false;
  if (bson_count_keys(body) == 1) return true;
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "private link update: only 'dnsDomain' can be changed");
  return false;
}

static bool check_vpc_accept(const bson_t *body, asp_error_t *err) {
  static const char *const required[] = {"requesterAccountId", "requesterVpcId", NULL};
  return require_strings(body, "VPC peering accept", required, err);
}

static bool check_workspace(const bson_t *body, asp_error_t *err) {
  static const char *const required[] = {"name", "dataProcessRegion.cloudProvider",
                                         "dataProcessRegion.region", NULL};
  return require_strings(body, "workspace", required, err);
}

static bool check_processor(const bson_t *body, asp_error_t *err) {
  static const char *const required[] = {"name", NULL};
  if (!require_strings(body, "processor", required, err)) return false;
  bson_iter_t it, pipeline;
  if (!bson_iter_init_find(&it, body, "pipeline") || !BSON_ITER_HOLDS_ARRAY(&it)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "processor: field 'pipeline' (an array) is required");
    return false;
  }
  bson_iter_recurse(&it, &pipeline);
  for (int i = 1; bson_iter_next(&pipeline); i++) {
    if (BSON_ITER_HOLDS_DOCUMENT(&pipeline)) continue;
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "processor: pipeline[%d] must be a document", i);
    return false;
  }
  return true;
}

/* ---- the request ------------------------------------------------------------------------ */

static bool check_segment(const char *value, const char *what, const char *ep, asp_error_t *err) {
  if (value && *value) return true;
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s: a non-empty %s is required", ep, what);
  return false;
}

static void append_escaped(asp_admin_t *a, bson_string_t *s, const char *value) {
  char *esc = curl_easy_escape(a->curl, value, 0);
  bson_string_append(s, esc);
  curl_free(esc);
}

/* Query parameters: strings (escaped), integers and booleans. */
static bool append_query(asp_admin_t *a, bson_string_t *url, const bson_t *query, const char *ep,
                         asp_error_t *err) {
  bson_iter_t it;
  if (!query || !bson_iter_init(&it, query)) return true;
  char sep = '?';
  while (bson_iter_next(&it)) {
    bson_string_append_c(url, sep);
    sep = '&';
    append_escaped(a, url, bson_iter_key(&it));
    bson_string_append_c(url, '=');
    if (BSON_ITER_HOLDS_UTF8(&it)) {
      append_escaped(a, url, bson_iter_utf8(&it, NULL));
    } else if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
      bson_string_append_printf(url, "%" PRId64, bson_iter_as_int64(&it));
    } else if (BSON_ITER_HOLDS_BOOL(&it)) {
      bson_string_append(url, bson_iter_bool(&it) ? "true" : "false");
    } else {
      asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                    "%s: query parameter '%s' must be a string, an integer or a boolean", ep,
                    bson_iter_key(&it));
      return false;
    }
  }
  return true;
}

/* The full URL, or NULL with a client error. */
static char *build_url(asp_admin_t *a, asp_admin_endpoint_t ep, const asp_admin_args_t *args,
                       asp_error_t *err) {
  const char *name = endpoints[ep].name;
  if (asp_admin_endpoint_takes_workspace(ep) &&
      !check_segment(args->workspace, "workspace name", name, err))
    return NULL;
  if (asp_admin_endpoint_takes_name(ep) &&
      !check_segment(args->name,
                     strstr(name, "private_link") || strstr(name, "vpc") ? "id" : "name", name,
                     err))
    return NULL;
  bson_string_t *url = bson_string_new(a->base_url);
  bson_string_append(url, API_PREFIX);
  for (const char *p = endpoints[ep].path; *p; p++) {
    if (*p != '%') {
      bson_string_append_c(url, *p);
      continue;
    }
    p++;
    append_escaped(a, url, *p == 'G' ? a->group_id : *p == 'W' ? args->workspace : args->name);
  }
  if (!append_query(a, url, args->query, name, err)) {
    bson_string_free(url, true);
    return NULL;
  }
  return bson_string_free(url, false);
}

/* Removes from the message every secret value of the request body: passwords, client
 * secrets, TLS keys and HTTPS connection header values, at any depth. */
static void scrub_body_secrets(asp_error_t *err, bson_iter_t *it, bool all_strings) {
  static const char *const secret_keys[] = {"password", "clientSecret", "sslKey", "sslKeyPassword",
                                            NULL};
  while (bson_iter_next(it)) {
    const char *key = bson_iter_key(it);
    bson_iter_t child;
    if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
        bson_iter_recurse(it, &child)) {
      scrub_body_secrets(err, &child, all_strings || strcmp(key, "headers") == 0);
      continue;
    }
    if (!BSON_ITER_HOLDS_UTF8(it)) continue;
    bool secret = all_strings;
    for (const char *const *k = secret_keys; !secret && *k; k++) secret = strcmp(key, *k) == 0;
    if (secret) asp_error_scrub(err, bson_iter_utf8(it, NULL));
  }
}

static const char *doc_utf8(const bson_t *doc, const char *key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
    return bson_iter_utf8(&it, NULL);
  return NULL;
}

/* An HTTP error status: Atlas's error document when there is one. */
static void http_error(long status, const bson_t *doc, const char *ep, asp_error_t *err) {
  const char *detail = doc_utf8(doc, "detail");
  const char *reason = doc_utf8(doc, "reason");
  const char *code = doc_utf8(doc, "errorCode");
  if (detail) {
    asp_error_set(err, ASP_DOMAIN_ADMIN, (int32_t)status, "%s", detail);
  } else {
    asp_error_set(err, ASP_DOMAIN_ADMIN, (int32_t)status, "%s: HTTP %ld%s%s", ep, status,
                  reason ? " " : "", reason ? reason : "");
  }
  if (code) snprintf(err->code_name, sizeof err->code_name, "%s", code);
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* How long to wait before GET attempt number `attempt` (1-based) after reply r; -1: do
 * not retry. */
static int64_t retry_wait_ms(const asp_admin_t *a, const asp_admin_response_t *r, int attempt) {
  if (attempt > a->retries || (r->status != 429 && r->status < 500)) return -1;
  if (r->retry_after_s >= 0) {
    return r->retry_after_s <= RETRY_AFTER_MAX_S ? r->retry_after_s * 1000 : -1;
  }
  int64_t ms = (int64_t)BACKOFF_FIRST_MS << (attempt - 1);
  return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

/* Sends the request until it has a final reply: a GET again after 429/5xx, any request
 * once more with a new token after a 401 to a Bearer token. */
static bool send_request(asp_admin_t *a, asp_admin_request_t *req, asp_admin_response_t *r,
                         asp_error_t *err) {
  bool renewed = false;
  for (int attempt = 1;; attempt++) {
    if (a->auth == ASP_ADMIN_AUTH_SERVICE_ACCOUNT) {
      req->bearer = asp_admin_token(a, err);
      if (!req->bearer) return false;
    }
    if (!asp_admin_exchange(a, req, r, err)) return false;
    if (r->status == 401 && req->bearer && !renewed) {
      renewed = true;
      asp_admin_expire_token(a);
      asp_admin_response_free(r);
      continue;
    }
    int64_t wait = strcmp(req->method, "GET") == 0 ? retry_wait_ms(a, r, attempt) : -1;
    if (wait < 0) return true;
    asp_admin_response_free(r);
    sleep_ms(wait);
  }
}

bool asp_admin_call(asp_admin_t *a, asp_admin_endpoint_t ep, const asp_admin_args_t *args,
                    bson_t *reply, asp_error_t *err) {
  bson_init(reply);
  static const asp_admin_args_t no_args = {0};
  if (!args) args = &no_args;
  if ((unsigned)ep >= ASP_ADMIN_ENDPOINT_COUNT) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "Admin API: unknown endpoint %d", (int)ep);
    return false;
  }
  const char *name = endpoints[ep].name;
  if (endpoints[ep].body && !args->body) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s: a body document is required", name);
    return false;
  }
  if (!endpoints[ep].body && args->body) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s: takes no body", name);
    return false;
  }
  if (endpoints[ep].check && !endpoints[ep].check(args->body, err)) return false;
  char *url = build_url(a, ep, args, err);
  if (!url) return false;
  size_t json_len = 0;
  char *json = args->body ? bson_as_relaxed_extended_json(args->body, &json_len) : NULL;
  asp_admin_request_t req = {.method = endpoints[ep].method,
                             .url = url,
                             .media_type = endpoints[ep].media_type,
                             .body = json,
                             .body_len = json_len};
  asp_admin_response_t r = {0};
  bool ok = send_request(a, &req, &r, err);
  bson_free(url);
  if (json) {
    memset(json, 0, json_len); /* it may hold a connection's password */
    bson_free(json);
  }
  bson_error_t jerr;
  if (ok && r.len > 0) {
    bson_destroy(reply);
    if (!bson_init_from_json(reply, r.body, (ssize_t)r.len, &jerr)) {
      bson_init(reply);
      if (r.status < 300) {
        asp_error_set(err, ASP_DOMAIN_BSON, 0, "%s: the reply (HTTP %ld) is not a JSON object: %s",
                      name, r.status, jerr.message);
        ok = false;
      }
    }
  }
  if (ok && r.status >= 300) {
    http_error(r.status, reply, name, err);
    ok = false;
  }
  asp_admin_response_free(&r);
  if (!ok) {
    asp_admin_scrub(a, err);
    bson_iter_t it;
    if (args->body && bson_iter_init(&it, args->body)) scrub_body_secrets(err, &it, false);
  }
  return ok;
}
