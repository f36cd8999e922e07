/* Reply tolerance: the live server, mongosh and the draft spec disagree on envelopes, batch
 * names and integer types (protocol reference §7); accept every form, change nothing else. */
#include <math.h>
#include <string.h>

#include "asp.h"

static bool is_envelope_field(const char *key) {
  return strcmp(key, "ok") == 0 || strcmp(key, "$clusterTime") == 0 ||
         strcmp(key, "operationTime") == 0;
}

void asp_reply_unwrap(const bson_t *reply, bson_t *out) {
  bson_iter_t it;
  uint32_t len;
  const uint8_t *data;
  if (bson_iter_init_find(&it, reply, "result") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
    bson_t inner;
    if (bson_init_static(&inner, data, len)) {
      bson_copy_to(&inner, out);
      return;
    }
  }
  bson_init(out);
  if (!bson_iter_init(&it, reply)) return;
  while (bson_iter_next(&it)) {
    if (!is_envelope_field(bson_iter_key(&it))) {
      bson_append_iter(out, bson_iter_key(&it), (int)bson_iter_key_len(&it), &it);
    }
  }
}

bool asp_reply_array(const bson_t *reply, const char *field, bson_iter_t *child) {
  bson_iter_t it;
  return bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_ARRAY(&it) &&
         bson_iter_recurse(&it, child);
}

bool asp_reply_batch(const bson_t *reply, bson_iter_t *child) {
  static const char *const names[] = {"messages", "nextBatch", "firstBatch"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (asp_reply_array(reply, names[i], child)) return true;
  }
  return false;
}

bool asp_reply_cursor_id(const bson_t *reply, int64_t *id) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, reply, "cursorId")) return false;
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_INT32:
      *id = bson_iter_int32(&it);
      return true;
    case BSON_TYPE_INT64:
      *id = bson_iter_int64(&it);
      return true;
    case BSON_TYPE_DOUBLE: {
      double d = bson_iter_double(&it);
      if (d != floor(d) || fabs(d) > 9007199254740992.0) return false;
      *id = (int64_t)d;
      return true;
    }
    default:
      return false;
  }
}
