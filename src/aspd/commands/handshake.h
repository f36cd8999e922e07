/* Commands every driver sends around a connection, answered as a standalone
 * server would: no setName, no serviceId, no msg. None needs authentication. */
#ifndef ASPD_HANDSHAKE_H
#define ASPD_HANDSHAKE_H

#include <bson/bson.h>

#include "server.h"

#define ASPD_MAX_WIRE_VERSION 21 /* MongoDB 7.0 */
#define ASPD_SERVER_VERSION "7.0.0"

/* hello / isMaster / ismaster: the reply's primary flag follows the name used. */
void aspd_cmd_hello(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_ping(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_build_info(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_end_sessions(aspd_session_t *session, const bson_t *command, bson_t *reply);
void aspd_cmd_connection_status(aspd_session_t *session, const bson_t *command, bson_t *reply);

#endif
