/* Private Link connections of the project:
 * /groups/{groupId}/streams/privateLinkConnections[/{connectionId}]. */
#include <ctype.h>
#include <string.h>

#include "http/api.h"

typedef enum { STRING, STRINGS } kind_t;

/* What a body may hold; read-only fields are ignored when sent back. */
static const struct {
  const char *name;
  kind_t kind;
  bool read_only;
} fields[] = {
    {"provider", STRING, false},
    {"vendor", STRING, false},
    {"region", STRING, false},
    {"serviceEndpointId", STRING, false},
    {"dnsDomain", STRING, false},
    {"dnsSubDomain", STRINGS, false},
    {"arn", STRING, false},
    {"azureResourceIds", STRINGS, false},
    {"gcpConnectionIds", STRINGS, false},
    {"gcpServiceAttachmentUris", STRINGS, false},
    {"authenticationScheme", STRING, false},
    {"_id", STRING, true},
    {"state", STRING, true},
    {"errorMessage", STRING, true},
    {"interfaceEndpointId", STRING, true},
    {"interfaceEndpointName", STRING, true},
    {"providerAccountId", STRING, true},
};

static bool all_strings(const bson_iter_t *array) {
  bson_iter_t it;
  if (!BSON_ITER_HOLDS_ARRAY(array) || !bson_iter_recurse(array, &it)) return false;
  while (bson_iter_next(&it)) {
    if (!BSON_ITER_HOLDS_UTF8(&it)) return false;
  }
  return true;
}

/* Copies the writable fields of body into out; a 400 for anything else. */
static bool check(const bson_t *body, bson_t *out, aspd_http_reply_t *reply) {
  bson_iter_t it;
  bson_iter_init(&it, body);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    size_t i = 0;
    while (i < sizeof fields / sizeof fields[0] && strcmp(fields[i].name, k) != 0) i++;
    if (i == sizeof fields / sizeof fields[0]) {
      aspd_http_error(reply, 400, "INVALID_JSON_ATTRIBUTE", NULL, "Invalid attribute %s specified.",
                      k);
      return false;
    }
    if (fields[i].read_only) continue;
    if (fields[i].kind == STRING ? !BSON_ITER_HOLDS_UTF8(&it) : !all_strings(&it)) {
      aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL, "Invalid attribute %s specified.", k);
      return false;
    }
    bson_append_value(out, k, -1, bson_iter_value(&it));
  }
  return true;
}

/* The provider, case-insensitive: AWS, AZURE or GCP (upper-cased into upper). */
static bool provider_of(const bson_t *doc, char upper[8]) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, "provider") || !BSON_ITER_HOLDS_UTF8(&it)) return false;
  const char *p = bson_iter_utf8(&it, NULL);
  size_t n = strlen(p);
  if (n >= 8) return false;
  for (size_t i = 0; i <= n; i++) upper[i] = (char)toupper((unsigned char)p[i]);
  return !strcmp(upper, "AWS") || !strcmp(upper, "AZURE") || !strcmp(upper, "GCP");
}

/* A stored record as GET shows it: provider upper-cased, vendor GENERIC when not given,
 * state IDLE (nothing is provisioned). */
static void shown(const bson_t *stored, bson_t *out) {
  char provider[8] = "";
  provider_of(stored, provider);
  bson_iter_t it;
  bson_iter_init(&it, stored);
  while (bson_iter_next(&it)) {
    if (!strcmp(bson_iter_key(&it), "provider")) {
      BSON_APPEND_UTF8(out, "provider", provider);
    } else {
      bson_append_value(out, bson_iter_key(&it), -1, bson_iter_value(&it));
    }
  }
  if (!bson_iter_init_find(&it, stored, "vendor")) BSON_APPEND_UTF8(out, "vendor", "GENERIC");
  BSON_APPEND_UTF8(out, "state", "IDLE");
}

static bson_t *find_or_404(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  bson_t *doc = aspd_records_get(req->config->private_links, req->params[1]);
  if (!doc) {
    const char *params[] = {req->params[1], NULL};
    aspd_http_error(reply, 404, "STREAM_PRIVATE_LINK_NOT_FOUND", params,
                    "Private Link connection %s for project %s not found.", req->params[1],
                    req->params[0]);
  }
  return doc;
}

static void saved_or_500(bool ok, const char *why, aspd_http_reply_t *reply) {
  if (!ok)
    aspd_http_error(reply, 500, "UNEXPECTED_ERROR", NULL, "Unexpected error. Reason: %s.", why);
}

void aspd_http_private_links_list(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  size_t per_page, page;
  if (!aspd_http_page_args(req, reply, &per_page, &page)) return;
  bson_t stored = BSON_INITIALIZER, results;
  size_t total = aspd_records_page(req->config->private_links, NULL, NULL, (page - 1) * per_page,
                                   per_page, &stored);
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "results", &results);
  bson_iter_t it;
  bson_iter_init(&it, &stored);
  while (bson_iter_next(&it)) {
    const uint8_t *data;
    uint32_t len;
    bson_iter_document(&it, &len, &data);
    bson_t doc, item;
    bson_init_static(&doc, data, len);
    BSON_APPEND_DOCUMENT_BEGIN(&results, bson_iter_key(&it), &item);
    shown(&doc, &item);
    bson_append_document_end(&results, &item);
  }
  bson_append_array_end(&reply->body, &results);
  bson_destroy(&stored);
  aspd_http_page_finish(req, reply, per_page, page, total, true);
}

void aspd_http_private_link_create(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const bson_t *body = aspd_http_body(req, reply);
  if (!body) return;
  bson_t doc = BSON_INITIALIZER;
  bson_oid_t oid;
  char id[25], provider[8], why[512];
  bson_oid_init(&oid, NULL);
  bson_oid_to_string(&oid, id);
  BSON_APPEND_UTF8(&doc, "_id", id);
  if (check(body, &doc, reply)) {
    if (!provider_of(&doc, provider)) {
      aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                      "Invalid attribute provider specified: expected AWS, AZURE or GCP.");
    } else if (!aspd_http_record_fits(&doc, NULL, "Private Link connection", reply)) {
      /* refused, reply set */
    } else if (aspd_records_put(req->config->private_links, &doc, why, sizeof why)) {
      /* The create reply echoes the provider as sent (Atlas does). */
      bson_concat(&reply->body, &doc);
    } else {
      saved_or_500(false, why, reply);
    }
  }
  bson_destroy(&doc);
}

void aspd_http_private_link_get(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  bson_t *doc = find_or_404(req, reply);
  if (doc) shown(doc, &reply->body);
  bson_destroy(doc);
}

void aspd_http_private_link_update(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const bson_t *body = aspd_http_body(req, reply);
  bson_t *doc = body ? find_or_404(req, reply) : NULL;
  if (!doc) return;
  bson_iter_t it;
  bool only_domain = bson_iter_init(&it, body) && bson_iter_next(&it) &&
                     !strcmp(bson_iter_key(&it), "dnsDomain") && BSON_ITER_HOLDS_UTF8(&it) &&
                     !bson_iter_next(&it);
  if (!only_domain) {
    aspd_http_error(reply, 400, "INVALID_JSON_ATTRIBUTE", NULL,
                    "Only dnsDomain (a string) can be updated.");
    bson_destroy(doc);
    return;
  }
  bson_t updated = BSON_INITIALIZER;
  bson_copy_to_excluding_noinit(doc, &updated, "dnsDomain", NULL);
  bson_iter_init_find(&it, body, "dnsDomain");
  BSON_APPEND_UTF8(&updated, "dnsDomain", bson_iter_utf8(&it, NULL));
  char why[512];
  if (aspd_http_record_fits(&updated, NULL, "Private Link connection", reply)) {
    bool ok = aspd_records_put(req->config->private_links, &updated, why, sizeof why);
    if (ok) shown(&updated, &reply->body);
    saved_or_500(ok, why, reply);
  }
  bson_destroy(&updated);
  bson_destroy(doc);
}

void aspd_http_private_link_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  bson_t *doc = find_or_404(req, reply);
  if (!doc) return;
  bson_destroy(doc);
  char why[512], workspace[256], connection[256];
  if (aspd_workspaces_private_link_user(req->config->workspaces, req->params[1], workspace,
                                        sizeof workspace, connection, sizeof connection)) {
    const char *params[] = {req->params[1], NULL};
    aspd_http_error(reply, 409, "STREAM_PRIVATE_LINK_IN_USE", params,
                    "Private Link connection %s is used by connection %s of stream instance %s.",
                    req->params[1], connection, workspace);
    return;
  }
  bool ok = aspd_records_remove(req->config->private_links, req->params[1], why, sizeof why);
  if (ok) reply->status = 202;
  saved_or_500(ok, why, reply);
}
