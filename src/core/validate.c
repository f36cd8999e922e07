/* Client-side validation: everything the protocol reference §5 lists, checked before any
 * traffic so a mistake never reaches the server as a half-understood command. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "asp.h"

bool asp_validate_name(const char *name, const char *what, asp_error_t *err) {
  const char *prefix = what ? what : "", *sep = what ? ": " : "";
  if (!name) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s%sa processor name is required", prefix, sep);
    return false;
  }
  if (!*name) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s%sthe processor name must not be empty", prefix,
                  sep);
    return false;
  }
  /* BSON strings must be UTF-8: the server would refuse the whole command. Names are
   * nearly always ASCII, which is valid as it is and costs a plain scan. */
  const char *p = name;
  while (*p && (unsigned char)*p < 0x80) p++;
  if (*p && !bson_utf8_validate(p, strlen(p), false)) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s%sthe processor name is not valid UTF-8", prefix,
                  sep);
    return false;
  }
  for (p = name; *p; p++) {
    if (!isspace((unsigned char)*p)) return true;
  }
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "%s%sthe processor name must not be blank", prefix, sep);
  return false;
}

bool asp_validate_pipeline(const bson_t *pipeline, asp_error_t *err) {
  if (!pipeline) {
    asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "pipeline: an array of stages is required");
    return false;
  }
  bson_iter_t it;
  if (!bson_iter_init(&it, pipeline)) {
    asp_error_set(err, ASP_DOMAIN_BSON, 0, "pipeline: corrupt BSON");
    return false;
  }
  for (unsigned i = 0; bson_iter_next(&it); i++) {
    char expect[16];
    snprintf(expect, sizeof expect, "%u", i);
    if (strcmp(bson_iter_key(&it), expect) != 0) {
      asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "pipeline: must be an array, found key '%s'",
                    bson_iter_key(&it));
      return false;
    }
    if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
      asp_error_set(err, ASP_DOMAIN_CLIENT, 0, "pipeline[%u]: a stage must be a document", i + 1);
      return false;
    }
  }
  return true;
}

static const char *const tiers[] = {"SP2", "SP5", "SP10", "SP30", "SP50"};

bool asp_validate_tier(const char *tier, const char *what, asp_error_t *err) {
  for (size_t i = 0; tier && i < sizeof tiers / sizeof tiers[0]; i++) {
    if (strcmp(tier, tiers[i]) == 0) return true;
  }
  asp_error_set(err, ASP_DOMAIN_CLIENT, 0,
                "%s: invalid tier '%s' (expected SP2, SP5, SP10, SP30 or SP50)", what,
                tier ? tier : "(null)");
  return false;
}
