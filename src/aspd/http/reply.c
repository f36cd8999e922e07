/* Atlas's conventions for every endpoint: the error document and pagination. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/processor_bound.h"
#include "http/api.h"
#include "workspace.h"

static const char *reason_of(unsigned status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    default:
      return "Internal Server Error";
  }
}

static void set_error(aspd_http_reply_t *reply, unsigned status, const char *error_code,
                      const char *const *params, const char *detail) {
  bson_reinit(&reply->body);
  reply->status = status;
  reply->has_body = true;
  BSON_APPEND_UTF8(&reply->body, "detail", detail);
  BSON_APPEND_INT32(&reply->body, "error", (int32_t)status);
  BSON_APPEND_UTF8(&reply->body, "errorCode", error_code);
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "parameters", &list);
  for (uint32_t i = 0; params && params[i]; i++) {
    char key[16];
    const char *k;
    bson_uint32_to_string(i, &k, key, sizeof key);
    bson_append_utf8(&list, k, -1, params[i], -1);
  }
  bson_append_array_end(&reply->body, &list);
  BSON_APPEND_UTF8(&reply->body, "reason", reason_of(status));
}

void aspd_http_error(aspd_http_reply_t *reply, unsigned status, const char *error_code,
                     const char *const *params, const char *fmt, ...) {
  char detail[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  set_error(reply, status, error_code, params, detail);
}

void aspd_http_error_from(aspd_http_reply_t *reply, const aspd_error_t *err,
                          const char *const *params) {
  unsigned status = err->code >= 400 && err->code < 600 ? (unsigned)err->code : 500;
  set_error(reply, status, err->code_name, params, err->message);
}

/* A positive integer query parameter within [min, max]; default when absent. */
static bool int_arg(const aspd_http_request_t *req, aspd_http_reply_t *reply, const char *name,
                    size_t min, size_t max, size_t dflt, size_t *out) {
  const char *text = req->query(req, name);
  *out = dflt;
  if (!text) return true;
  char *end;
  long long v = strtoll(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < (long long)min || v > (long long)max) {
    const char *params[] = {name, text, NULL};
    aspd_http_error(reply, 400, "INVALID_QUERY_PARAMETER", params,
                    "Invalid value %s for query parameter %s: expected an integer in %zu..%zu.",
                    text, name, min, max);
    return false;
  }
  *out = (size_t)v;
  return true;
}

bool aspd_http_page_args(const aspd_http_request_t *req, aspd_http_reply_t *reply,
                         size_t *items_per_page, size_t *page_num) {
  return int_arg(req, reply, "itemsPerPage", 1, ASPD_PAGE_MAX_ITEMS, 100, items_per_page) &&
         int_arg(req, reply, "pageNum", 1, 1000000, 1, page_num);
}

static void append_link(const aspd_http_request_t *req, bson_t *links, uint32_t index,
                        const char *rel, size_t page_num, size_t items_per_page) {
  char key[16], href[2048];
  const char *k;
  bson_uint32_to_string(index, &k, key, sizeof key);
  snprintf(href, sizeof href, "%s%s?pageNum=%zu&itemsPerPage=%zu", req->config->root, req->path,
           page_num, items_per_page);
  bson_t link;
  BSON_APPEND_DOCUMENT_BEGIN(links, k, &link);
  BSON_APPEND_UTF8(&link, "href", href);
  BSON_APPEND_UTF8(&link, "rel", rel);
  bson_append_document_end(links, &link);
}

void aspd_http_page_finish(const aspd_http_request_t *req, aspd_http_reply_t *reply,
                           size_t items_per_page, size_t page_num, size_t total,
                           bool include_count) {
  bson_t links;
  uint32_t n = 0;
  BSON_APPEND_ARRAY_BEGIN(&reply->body, "links", &links);
  append_link(req, &links, n++, "self", page_num, items_per_page);
  if (page_num > 1) append_link(req, &links, n++, "previous", page_num - 1, items_per_page);
  if (page_num * items_per_page < total) {
    append_link(req, &links, n++, "next", page_num + 1, items_per_page);
  }
  bson_append_array_end(&reply->body, &links);
  if (include_count) BSON_APPEND_INT32(&reply->body, "totalCount", (int32_t)total);
}

void aspd_http_workspace_not_found(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  const char *params[] = {req->params[0], req->params[1], NULL};
  aspd_http_error(reply, 404, "STREAM_TENANT_NOT_FOUND_FOR_NAME", params,
                  "Stream instance for project %s and name %s not found.", req->params[0],
                  req->params[1]);
}

const bson_t *aspd_http_body(const aspd_http_request_t *req, aspd_http_reply_t *reply) {
  if (!req->body) {
    aspd_http_error(reply, 400, "INVALID_JSON", NULL, "The request body must be a JSON object.");
  }
  return req->body;
}
