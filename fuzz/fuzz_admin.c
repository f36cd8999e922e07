/* The Admin API's request handling below the HTTP library: routing (method, path, the
 * Accept version), query parameters, the JSON body and every handler, on a real
 * project (the served workspace "fuzz", workspaces created over the API, Private Link and
 * VPC peering records). Input: "METHOD PATH\nACCEPT\nQUERY\n" then the body. The role is the
 * highest (group owner), so every handler is reachable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/api.h"
#include "project/records.h"
#include "project/workspaces.h"
#include "workspace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static aspd_http_config_t config;
static char query_text[1024];

static char dir[] = "/tmp/asp-fuzz-admin-XXXXXX";

static void remove_dir(void) {
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz_admin: could not remove %s\n", dir);
}

static void setup(void) {
  if (!mkdtemp(dir)) abort();
  atexit(remove_dir);
  char err[512];
  aspd_store_t *store = aspd_store_open(dir, err, sizeof err);
  aspd_workspace_config_t ws = {.state_dir = dir, .store = store};
  aspd_workspace_t *wire = store ? aspd_workspace_open(&ws, err, sizeof err) : NULL;
  config.workspaces =
      wire ? aspd_workspaces_open(dir, store, wire, "fuzz", "127.0.0.1:1", err, sizeof err) : NULL;
  config.private_links =
      config.workspaces
          ? aspd_records_open(store, "private_link", dir, "private_links.json", err, sizeof err)
          : NULL;
  config.vpc_peerings =
      config.private_links
          ? aspd_records_open(store, "vpc_peering", dir, "vpc_peering.json", err, sizeof err)
          : NULL;
  if (!config.vpc_peerings) {
    fprintf(stderr, "fuzz_admin: %s\n", err);
    abort();
  }
  config.root = "https://127.0.0.1:1";
  config.group_id = "0123456789abcdef01234567";
}

/* "a=1&b=2": the value of name, in a static buffer. */
static const char *query(const aspd_http_request_t *req, const char *name) {
  (void)req;
  static char value[256];
  size_t name_len = strlen(name);
  for (const char *p = query_text; *p;) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len > name_len && !strncmp(p, name, name_len) && p[name_len] == '=') {
      snprintf(value, sizeof value, "%.*s", (int)(len - name_len - 1), p + name_len + 1);
      return value;
    }
    p += len + (amp ? 1 : 0);
  }
  return NULL;
}

/* The next line of the input (without its newline), or the rest. */
static char *line(const uint8_t **p, const uint8_t *end) {
  const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
  char *out = malloc(len + 1);
  memcpy(out, *p, len);
  out[len] = '\0';
  *p += len + (nl ? 1 : 0);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!config.workspaces) setup();
  const uint8_t *p = data, *end = data + size;
  char *first = line(&p, end), *accept = line(&p, end), *q = line(&p, end);
  snprintf(query_text, sizeof query_text, "%s", q);
  char *space = strchr(first, ' ');
  if (space) *space = '\0';
  bson_error_t error;
  bson_t *body = p < end ? bson_new_from_json(p, (ssize_t)(end - p), &error) : NULL;
  aspd_http_request_t req = {.config = &config,
                             .method = first,
                             .path = space ? space + 1 : "",
                             .body = body,
                             .body_error = p < end && !body ? "not JSON" : NULL,
                             .query = query};
  aspd_http_reply_t reply = {.status = 200, .has_body = true};
  bson_init(&reply.body);
  aspd_http_route(&req, accept, ASPD_API_ROLE_OWNER, &reply);
  bson_destroy(&reply.body);
  bson_destroy(body);
  free(first);
  free(accept);
  free(q);
  return 0;
}
