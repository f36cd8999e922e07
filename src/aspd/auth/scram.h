/* One server-side SCRAM conversation (RFC 5802; RFC 7677 for SHA-256):
 * client-first -> server-first, client-final -> server-final, then (unless the
 * client asked to skip it) one empty exchange. */
#ifndef ASPD_SCRAM_H
#define ASPD_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/scram_credential.h"
#include "server.h"

typedef enum {
  ASPD_SCRAM_CONTINUE,      /* send *out, wait for the next client message */
  ASPD_SCRAM_AUTHENTICATED, /* send *out; the user is authenticated */
  ASPD_SCRAM_FAILED         /* reply AuthenticationFailed; the conversation is over */
} aspd_scram_status_t;

aspd_scram_t *aspd_scram_new(const aspd_users_t *users, aspd_scram_mech_t mech,
                             bool skip_empty_exchange);
void aspd_scram_free(aspd_scram_t *scram);

/* Feeds one client message; *out (malloc'd, may be empty, free it) is the
 * server's next message. *out is NULL when the status is FAILED. */
aspd_scram_status_t aspd_scram_step(aspd_scram_t *scram, const uint8_t *in, size_t in_len,
                                    char **out, size_t *out_len);

/* The authenticated user (valid after ASPD_SCRAM_AUTHENTICATED). */
const char *aspd_scram_user(const aspd_scram_t *scram);

#endif
