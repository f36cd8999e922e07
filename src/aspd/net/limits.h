/* Resource bounds of the network side, one row each: a flag, its range and default.
 * They cap what a client can make aspd hold before it has authenticated, and how long
 * any read or write may take, so that slow or hostile clients cannot exhaust the server. */
#ifndef ASPD_LIMITS_H
#define ASPD_LIMITS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  ASPD_LIMIT_MAX_CONNECTIONS,    /* open client connections; more are refused at accept */
  ASPD_LIMIT_UNAUTH_PER_PEER,    /* unauthenticated connections from one IP address */
  ASPD_LIMIT_UNAUTH_MESSAGE,     /* largest message accepted before authentication */
  ASPD_LIMIT_MESSAGE_TIMEOUT_MS, /* a whole message, a reply, the TLS handshake */
  ASPD_LIMIT_IDLE_TIMEOUT_MS,    /* silence between two messages */
  ASPD_LIMIT_LIST_REPLY,         /* a reply listing definitions (processors, connections) */
  ASPD_LIMIT_COUNT
} aspd_limit_t;

typedef struct {
  long value[ASPD_LIMIT_COUNT];
} aspd_limits_t;

typedef struct {
  const char *flag; /* without the leading "--" */
  long min, max, fallback;
  const char *help;
} aspd_limit_row_t;

extern const aspd_limit_row_t aspd_limit_rows[ASPD_LIMIT_COUNT];

void aspd_limits_default(aspd_limits_t *limits);

/* Parses the flag's value; false with a message naming the flag when out of range. */
bool aspd_limits_set(aspd_limits_t *limits, aspd_limit_t which, const char *text, char *err,
                     size_t err_len);

#endif
