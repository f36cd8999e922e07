#include "net/limits.h"

#include <stdio.h>
#include <stdlib.h>

#include "net/wire.h"

const aspd_limit_row_t aspd_limit_rows[ASPD_LIMIT_COUNT] = {
    [ASPD_LIMIT_MAX_CONNECTIONS] = {"max-connections", 1, 100000, 1000,
                                    "open connections; more are closed at once"},
    [ASPD_LIMIT_UNAUTH_PER_PEER] = {"max-unauthenticated-per-peer", 1, 100000, 64,
                                    "unauthenticated connections from one address"},
    [ASPD_LIMIT_UNAUTH_MESSAGE] = {"max-unauthenticated-message-bytes", 1024, ASPD_WIRE_MAX_MESSAGE,
                                   65536, "largest message before authentication"},
    [ASPD_LIMIT_MESSAGE_TIMEOUT_MS] = {"message-timeout-ms", 100, 3600000, 20000,
                                       "deadline for a whole message, a reply, a TLS handshake"},
    [ASPD_LIMIT_IDLE_TIMEOUT_MS] = {"idle-timeout-ms", 100, 604800000, 1800000,
                                    "a connection silent this long between messages is closed"},
    /* At most maxBsonObjectSize less room for the rest of a reply (processor_bound.h). */
    [ASPD_LIMIT_LIST_REPLY] = {"max-list-reply-bytes", 262144, ASPD_WIRE_MAX_BSON - 65536,
                               ASPD_WIRE_MAX_BSON - 65536,
                               "definitions a list reply may carry; more are refused when made"},
};

void aspd_limits_default(aspd_limits_t *limits) {
  for (int i = 0; i < ASPD_LIMIT_COUNT; i++) limits->value[i] = aspd_limit_rows[i].fallback;
}

bool aspd_limits_set(aspd_limits_t *limits, aspd_limit_t which, const char *text, char *err,
                     size_t err_len) {
  const aspd_limit_row_t *row = &aspd_limit_rows[which];
  char *end;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < row->min || value > row->max) {
    snprintf(err, err_len, "--%s expects %ld..%ld, got '%s'", row->flag, row->min, row->max, text);
    return false;
  }
  limits->value[which] = value;
  return true;
}
