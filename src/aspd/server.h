/* What the network/auth side and the workspace side of aspd share.
 *
 *   net/ (listener, TLS, framing) -> commands/dispatch.c (handshake, auth, role check)
 *        -> workspace.h (every ASP command: registry, engine, store)
 */
#ifndef ASPD_SERVER_H
#define ASPD_SERVER_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct aspd_users aspd_users_t;         /* auth/: users, roles, salted SCRAM keys */
typedef struct aspd_scram aspd_scram_t;         /* auth/: one SCRAM conversation */
typedef struct aspd_workspace aspd_workspace_t; /* workspace.h: registry + engine + store */

typedef struct {
  aspd_users_t *users;
  aspd_workspace_t *workspace;
} aspd_server_t;

/* Per-connection state seen by command handlers. */
typedef struct {
  aspd_server_t *server;
  uint64_t connection_id;
  char user[256];      /* authenticated user, "" until SCRAM succeeds */
  bool atlas_admin;    /* that user holds the atlasAdmin role */
  aspd_scram_t *scram; /* conversation in progress, or NULL */
} aspd_session_t;

/* Runs one command document (first key = command name) and fills `reply`
 * (an initialised, empty bson_t). Never fails: errors become ok:0 replies. */
void aspd_dispatch(aspd_session_t *session, const bson_t *command, bson_t *reply);

#endif
