/* Project-level records (workspaces, Private Link and VPC peering connections) are listed up
 * to ASPD_PAGE_MAX_ITEMS to a page. Each is kept within ASPD_HTTP_RECORD_MAX bytes of JSON,
 * so that a full page, or a workspace shown with all its connections, fits one reply. */
#include <stdio.h>

#include "commands/processor_bound.h"
#include "http/api.h"

/* A full page of the largest records, with their separators, within the limit. */
_Static_assert((size_t)ASPD_PAGE_MAX_ITEMS *(ASPD_HTTP_RECORD_MAX + 16) <=
                   ASPD_REPLY_MAX - ASPD_REPLY_ENVELOPE,
               "a page of the largest records must fit one reply");

bool aspd_http_record_fits(const bson_t *record, const bson_t *more, const char *what,
                           aspd_http_reply_t *reply) {
  size_t size = 0, len = 0;
  char *json = bson_as_relaxed_extended_json(record, &len);
  bson_free(json);
  size += len;
  if (more) {
    json = bson_as_relaxed_extended_json(more, &len);
    bson_free(json);
    size += len;
  }
  if (size <= ASPD_HTTP_RECORD_MAX) return true;
  aspd_http_error(reply, 400, "INVALID_ATTRIBUTE", NULL,
                  "The %s is too large: it would take up to %zu bytes in a list, more than the "
                  "limit of %d bytes per item (so that a page of %d fits in one reply of %d "
                  "bytes); nothing was changed.",
                  what, size, ASPD_HTTP_RECORD_MAX, ASPD_PAGE_MAX_ITEMS, ASPD_REPLY_MAX);
  return false;
}
