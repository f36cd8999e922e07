/* VPC peering connections of the project:
 * /groups/{groupId}/streams/vpcPeeringConnections[/{id}[:accept|:reject]].
 * aspd peers with nothing: the peering requests are those in STATE/vpc_peering.json
 * (records {"_id", "requesterAccountId", "requesterVpcId", "status", ...}). */
#include <string.h>

#include "http/api.h"

static bson_t *find_or_404(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  bson_t *doc = aspd_records_get(req->config->vpc_peerings, req->params[1]);
  if (!doc) {
    const char *params[] = {req->params[1], NULL};
    aspd_http_error(reply, 404, "STREAM_VPC_PEERING_CONNECTION_NOT_FOUND", params,
                    "VPC peering connection %s for project %s not found.", req->params[1],
                    req->params[0]);
  }
  return doc;
}

void aspd_http_vpc_peerings_list(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  size_t per_page, page;
  if (!aspd_http_page_args(req, reply, &per_page, &page)) return;
  const char *account = req->query(req, "requesterAccountId");
  bson_t results;
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "results", &results);
  size_t total = aspd_records_page(req->config->vpc_peerings, account ? "requesterAccountId" : NULL,
                                   account, (page - 1) * per_page, per_page, &results);
  bson_append_array_end(&reply->body, &results);
  aspd_http_page_finish(req, reply, per_page, page, total, true);
}

/* Sets status (and the accept body's fields) and answers 202 {}. */
static void set_status(const aspd_http_request_t *req, aspd_http_reply_t *reply, const char *status,
                       const bson_t *fields) {
  bson_t *doc = find_or_404(req, reply);
  if (!doc) return;
  bson_t updated = BSON_INITIALIZER;
  bson_iter_t it;
  bson_iter_init(&it, doc);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    bson_iter_t given;
    if (!strcmp(k, "status")) continue;
    if (fields && bson_iter_init_find(&given, fields, k)) continue;
    bson_append_value(&updated, k, -1, bson_iter_value(&it));
  }
  if (fields) bson_concat(&updated, fields);
  BSON_APPEND_UTF8(&updated, "status", status);
  char why[512];
  if (!aspd_http_record_fits(&updated, NULL, "VPC peering connection", reply)) {
    /* refused, reply set */
  } else if (aspd_records_put(req->config->vpc_peerings, &updated, why, sizeof why)) {
    reply->status = 202;
  } else {
    aspd_http_error(reply, 500, "UNEXPECTED_ERROR", NULL, "Unexpected error. Reason: %s.", why);
  }
  bson_destroy(&updated);
  bson_destroy(doc);
}

void aspd_http_vpc_peering_accept(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const bson_t *body = aspd_http_body(req, reply);
  if (!body) return;
  bson_iter_t it;
  bool account = false, vpc = false;
  bson_iter_init(&it, body);
  while (bson_iter_next(&it)) {
    const char *k = bson_iter_key(&it);
    bool known = !strcmp(k, "requesterAccountId") || !strcmp(k, "requesterVpcId");
    if (!known || !BSON_ITER_HOLDS_UTF8(&it)) {
      aspd_http_error(reply, 400, known ? "INVALID_ATTRIBUTE" : "INVALID_JSON_ATTRIBUTE", NULL,
                      "Invalid attribute %s specified.", k);
      return;
    }
    account = account || !strcmp(k, "requesterAccountId");
    vpc = vpc || !strcmp(k, "requesterVpcId");
  }
  if (!account || !vpc) {
    aspd_http_error(reply, 400, "MISSING_ATTRIBUTE", NULL,
                    "The required attributes requesterAccountId and requesterVpcId were not "
                    "specified.");
    return;
  }
  set_status(req, reply, "ACTIVE", body);
}

void aspd_http_vpc_peering_reject(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  set_status(req, reply, "REJECTED", NULL);
}

void aspd_http_vpc_peering_delete(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  bson_t *doc = find_or_404(req, reply);
  if (!doc) return;
  bson_destroy(doc);
  char why[512];
  if (aspd_records_remove(req->config->vpc_peerings, req->params[1], why, sizeof why)) {
    reply->status = 202;
  } else {
    aspd_http_error(reply, 500, "UNEXPECTED_ERROR", NULL, "Unexpected error. Reason: %s.", why);
  }
}
