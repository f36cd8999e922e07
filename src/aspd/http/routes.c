/* The Admin API as a table: one row per endpoint. Adding an endpoint = one row here
 * plus one handler in the file of its resource family. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"

#define V2023 "2023-02-01" /* workspaces, connections, Private Link, VPC peering */
#define V2024 "2024-05-30" /* processors */
#define V2025 "2025-03-12" /* startWith, Private Link update */

#define READ ASPD_API_ROLE_READ_ONLY
#define WRITE ASPD_API_ROLE_STREAM_OWNER

#define STREAMS "/api/atlas/v2/groups/{}/streams"
#define WS STREAMS "/{}"
#define PL STREAMS "/privateLinkConnections"
#define VPC STREAMS "/vpcPeeringConnections"

#define PROJECT ASPD_HTTP_PROJECT
#define WORKSPACE ASPD_HTTP_WORKSPACE

static const struct {
  const char *method;
  /* Segments: literal, "{}" (any non-empty segment, captured) or "{}:verb" (a segment
   * ending in ":verb", the part before captured). The first row that matches wins, so
   * literal project paths come before the workspace patterns they would also match. */
  const char *pattern;
  const char *version; /* the resource version: Accept must name it or a later date */
  aspd_api_role_t role;
  aspd_http_scope_t scope;
  aspd_http_handler_fn handler;
} routes[] = {
    {"GET", PL, V2023, READ, PROJECT, aspd_http_private_links_list},
    {"POST", PL, V2023, WRITE, PROJECT, aspd_http_private_link_create},
    {"GET", PL "/{}", V2023, READ, PROJECT, aspd_http_private_link_get},
    {"PATCH", PL "/{}", V2025, WRITE, PROJECT, aspd_http_private_link_update},
    {"DELETE", PL "/{}", V2023, WRITE, PROJECT, aspd_http_private_link_delete},
    {"GET", VPC, V2023, READ, PROJECT, aspd_http_vpc_peerings_list},
    {"POST", VPC "/{}:accept", V2023, WRITE, PROJECT, aspd_http_vpc_peering_accept},
    {"POST", VPC "/{}:reject", V2023, WRITE, PROJECT, aspd_http_vpc_peering_reject},
    {"DELETE", VPC "/{}", V2023, WRITE, PROJECT, aspd_http_vpc_peering_delete},
    {"GET", STREAMS, V2023, READ, PROJECT, aspd_http_workspaces_list},
    {"POST", STREAMS, V2023, WRITE, PROJECT, aspd_http_workspace_create},
    {"POST", "/api/atlas/v2/groups/{}/streams:withSampleConnections", "2024-08-05", WRITE, PROJECT,
     aspd_http_workspace_create_with_sample},
    {"GET", WS, V2023, READ, WORKSPACE, aspd_http_workspace_get},
    {"PATCH", WS, V2023, WRITE, WORKSPACE, aspd_http_workspace_update},
    {"DELETE", WS, V2023, WRITE, PROJECT, aspd_http_workspace_delete},
    {"GET", WS "/connections", V2023, READ, WORKSPACE, aspd_http_connections_list},
    {"POST", WS "/connections", V2023, WRITE, WORKSPACE, aspd_http_connection_create},
    {"GET", WS "/connections/{}", V2023, READ, WORKSPACE, aspd_http_connection_get},
    {"PATCH", WS "/connections/{}", V2023, WRITE, WORKSPACE, aspd_http_connection_update},
    {"DELETE", WS "/connections/{}", V2023, WRITE, WORKSPACE, aspd_http_connection_delete},
    {"GET", WS "/processors", V2024, READ, WORKSPACE, aspd_http_processors_list},
    {"POST", WS "/processor", V2024, WRITE, WORKSPACE, aspd_http_processor_create},
    {"POST", WS "/processor/{}:start", V2024, WRITE, WORKSPACE, aspd_http_processor_start},
    {"POST", WS "/processor/{}:startWith", V2025, WRITE, WORKSPACE, aspd_http_processor_start_with},
    {"POST", WS "/processor/{}:stop", V2024, WRITE, WORKSPACE, aspd_http_processor_stop},
    {"GET", WS "/processor/{}", V2024, READ, WORKSPACE, aspd_http_processor_get},
    {"PATCH", WS "/processor/{}", V2024, WRITE, WORKSPACE, aspd_http_processor_update},
    {"DELETE", WS "/processor/{}", V2024, WRITE, WORKSPACE, aspd_http_processor_delete},
};

/* Matches path against pattern, filling params (pointing into buf, a copy of path). */
static bool match(const char *pattern, const char *path, char *buf, size_t buf_len,
                  const char **params) {
  snprintf(buf, buf_len, "%s", path);
  char pat[512];
  snprintf(pat, sizeof pat, "%s", pattern);
  char *ps = NULL, *ss = NULL;
  char *p = strtok_r(pat, "/", &ps), *s = strtok_r(buf, "/", &ss);
  size_t n = 0;
  for (; p && s; p = strtok_r(NULL, "/", &ps), s = strtok_r(NULL, "/", &ss)) {
    if (!strncmp(p, "{}", 2)) {
      const char *verb = p + 2; /* "" or ":verb" */
      size_t len = strlen(s), vlen = strlen(verb);
      if (len <= vlen || strcmp(s + len - vlen, verb) != 0) return false;
      s[len - vlen] = '\0';
      if (n < ASPD_HTTP_MAX_PARAMS) params[n++] = s;
    } else if (strcmp(p, s) != 0) {
      return false;
    }
  }
  return !p && !s;
}

/* A date YYYY-MM-DD (compared as text: the format sorts by date). */
static bool is_date(const char *s, size_t len) {
  if (len != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i = 0; i < len; i++) {
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
  }
  int month = atoi(s + 5), day = atoi(s + 8);
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/* True when one media range of accept is application/vnd.atlas.DATE+json with DATE on or
 * after version: Atlas answers with the newest version not later than the date asked. */
static bool accepts(const char *accept, const char *version) {
  static const char prefix[] = "application/vnd.atlas.";
  for (const char *p = accept; p && *p;) {
    while (*p == ' ' || *p == ',') p++;
    size_t len = strcspn(p, ",;");
    const char *date = p + sizeof prefix - 1;
    if (len == sizeof prefix - 1 + 10 + 5 && !strncmp(p, prefix, sizeof prefix - 1) &&
        !strncmp(date + 10, "+json", 5) && is_date(date, 10) && strncmp(date, version, 10) >= 0) {
      return true;
    }
    p = strchr(p, ',');
  }
  return false;
}

void aspd_http_route(aspd_http_request_t *req, const char *accept, aspd_api_role_t role,
                     aspd_http_reply_t *reply) {
  char buf[2048];
  bool path_known = false;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    const char *params[ASPD_HTTP_MAX_PARAMS] = {0};
    if (!match(routes[i].pattern, req->path, buf, sizeof buf, params)) continue;
    path_known = true;
    if (strcmp(routes[i].method, req->method) != 0) continue;
    memcpy(req->params, params, sizeof params);
    if (!accept || !accepts(accept, routes[i].version)) {
      aspd_http_error(reply, 406, "INVALID_ACCEPT_HEADER", NULL,
                      "Invalid accept header or version date: this resource needs "
                      "application/vnd.atlas.%s+json or a later date.",
                      routes[i].version);
      return;
    }
    reply->version = routes[i].version;
    if (role < routes[i].role) {
      aspd_http_error(reply, 403, "USER_UNAUTHORIZED", NULL,
                      "Current user is not authorized to perform this action.");
      return;
    }
    if (strcmp(req->params[0], req->config->group_id) != 0) {
      const char *p[] = {req->params[0], NULL};
      aspd_http_error(reply, 404, "GROUP_NOT_FOUND", p, "No group with ID %s exists.",
                      req->params[0]);
      return;
    }
    if (req->body_error) {
      aspd_http_error(reply, 400, "INVALID_JSON", NULL, "The request body is not valid JSON: %s.",
                      req->body_error);
      return;
    }
    if (routes[i].scope == PROJECT) {
      routes[i].handler(req, reply);
      return;
    }
    aspd_workspaces_t *set = req->config->workspaces;
    req->workspace = aspd_workspaces_acquire(set, req->params[1], req->region);
    if (!req->workspace) {
      aspd_http_workspace_not_found(req, reply);
      return;
    }
    routes[i].handler(req, reply);
    aspd_workspaces_release(set, req->workspace);
    return;
  }
  const char *p[] = {req->path, NULL};
  if (path_known) {
    aspd_http_error(reply, 405, "METHOD_NOT_ALLOWED", p, "Method %s is not allowed on %s.",
                    req->method, req->path);
  } else {
    aspd_http_error(reply, 404, "RESOURCE_NOT_FOUND", p, "Cannot find resource %s.", req->path);
  }
}
