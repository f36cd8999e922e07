/* saslStart / saslContinue / logout: the MongoDB envelope around a SCRAM conversation. */
#ifndef ASPD_SASL_COMMANDS_H
#define ASPD_SASL_COMMANDS_H

#include <bson/bson.h>
#include <stdbool.h>

#include "server.h"

void aspd_cmd_sasl_start(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_sasl_continue(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_logout(aspd_session_t *session, const bson_t *command, bson_t *reply);

/* hello's speculativeAuthenticate: runs the embedded saslStart and, when it
 * succeeds, appends its reply as `speculativeAuthenticate` to hello_reply.
 * On failure appends nothing, so the client falls back to saslStart. */
void aspd_sasl_speculative(aspd_session_t *session, const bson_t *sasl_start, bson_t *hello_reply);

#endif
