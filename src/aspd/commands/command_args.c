#include "commands/command_args.h"

#include <math.h>
#include <string.h>

#include "commands/reply.h"

bool aspd_arg_name(const bson_t *cmd, const char **name, aspd_error_t *err) {
  bson_iter_t it;
  if (!bson_iter_init(&it, cmd) || !bson_iter_next(&it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "empty command document");
    return false;
  }
  if (!BSON_ITER_HOLDS_UTF8(&it) || !*bson_iter_utf8(&it, NULL)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE,
                   "%s requires the stream processor name as a non-empty string",
                   bson_iter_key(&it));
    return false;
  }
  uint32_t len;
  *name = bson_iter_utf8(&it, &len);
  /* BSON strings may hold NUL bytes; a name cut at the first one would address another
   * processor. */
  if (memchr(*name, '\0', len)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "%s: the stream processor name contains a NUL byte",
                   bson_iter_key(&it));
    return false;
  }
  return true;
}

static bool find_in(const bson_t *doc, const char *key, bson_iter_t *out) {
  return bson_iter_init_find(out, doc, key) && !BSON_ITER_HOLDS_NULL(out) &&
         !BSON_ITER_HOLDS_UNDEFINED(out);
}

bool aspd_arg_find(const bson_t *cmd, const char *key, bson_iter_t *out) {
  if (find_in(cmd, key, out)) return true;
  bson_iter_t opts;
  if (!bson_iter_init_find(&opts, cmd, "options") || !BSON_ITER_HOLDS_DOCUMENT(&opts)) return false;
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&opts, &len, &data);
  bson_t inner;
  bson_init_static(&inner, data, len);
  /* The iterator stays valid: it points into cmd's buffer. */
  return find_in(&inner, key, out);
}

static bool wrong_type(aspd_error_t *err, const char *key, const char *want) {
  aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "field '%s' must be %s", key, want);
  return false;
}

bool aspd_arg_bool(const bson_t *cmd, const char *key, bool *out, aspd_error_t *err) {
  bson_iter_t it;
  if (!aspd_arg_find(cmd, key, &it)) return true;
  if (!BSON_ITER_HOLDS_BOOL(&it)) return wrong_type(err, key, "a boolean");
  *out = bson_iter_bool(&it);
  return true;
}

bool aspd_arg_utf8(const bson_t *cmd, const char *key, const char **out, aspd_error_t *err) {
  bson_iter_t it;
  if (!aspd_arg_find(cmd, key, &it)) return true;
  if (!BSON_ITER_HOLDS_UTF8(&it)) return wrong_type(err, key, "a string");
  uint32_t len;
  *out = bson_iter_utf8(&it, &len);
  if (memchr(*out, '\0', len)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "field '%s' contains a NUL byte", key);
    return false;
  }
  return true;
}

bool aspd_arg_int64(const bson_t *cmd, const char *key, bool *present, int64_t *out,
                    aspd_error_t *err) {
  bson_iter_t it;
  *present = false;
  if (!aspd_arg_find(cmd, key, &it)) return true;
  if (BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it)) {
    *out = bson_iter_as_int64(&it);
  } else if (BSON_ITER_HOLDS_DOUBLE(&it)) {
    double d = bson_iter_double(&it);
    if (d != floor(d) || fabs(d) > 9.0e15) return wrong_type(err, key, "an integer");
    *out = (int64_t)d;
  } else {
    return wrong_type(err, key, "an integer");
  }
  *present = true;
  return true;
}

bool aspd_arg_doc(const bson_t *cmd, const char *key, bool want_array, bool *present, bson_t *out,
                  aspd_error_t *err) {
  bson_iter_t it;
  *present = false;
  if (!aspd_arg_find(cmd, key, &it)) return true;
  const uint8_t *data;
  uint32_t len;
  if (want_array && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_array(&it, &len, &data);
  } else if (!want_array && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
  } else {
    return wrong_type(err, key, want_array ? "an array" : "an object");
  }
  bson_init_static(out, data, len);
  *present = true;
  return true;
}

bool aspd_arg_options(const bson_t *cmd, bool *present, bson_t *out, aspd_error_t *err) {
  bson_iter_t it;
  *present = false;
  if (!find_in(cmd, "options", &it)) return true;
  if (!BSON_ITER_HOLDS_DOCUMENT(&it)) return wrong_type(err, "options", "an object");
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  bson_init_static(out, data, len);
  *present = true;
  return true;
}

bool aspd_arg_tier(const char *tier, aspd_error_t *err) {
  static const char *const tiers[] = {"SP2", "SP5", "SP10", "SP30", "SP50"};
  if (!tier) return true;
  for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
    if (!strcmp(tier, tiers[i])) return true;
  }
  aspd_error_set(err, ASPD_E_INVALID_OPTIONS,
                 "invalid tier '%s': expected one of SP2, SP5, SP10, SP30, SP50", tier);
  return false;
}
