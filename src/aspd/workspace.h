/* The workspace: connection registry, processors, stream engine and their
 * persistence. Knows nothing about sockets, TLS or authentication: the
 * dispatcher has already checked that the caller holds atlasAdmin. */
#ifndef ASPD_WORKSPACE_H
#define ASPD_WORKSPACE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/engine.h"
#include "server.h"
#include "store/store.h"

typedef struct {
  const char *state_dir;        /* required; created by main.c before opening */
  aspd_store_t *store;          /* the state directory's store (outlives the workspace); NULL: the
                                   workspace opens (and locks) one of its own in state_dir */
  size_t sink_max_docs;         /* documents kept per collection or topic; 0: the default */
  const char *connections_file; /* optional JSON file in the Admin API connection shape */
} aspd_workspace_config_t;

/* Loads persisted state (a corrupt file is an error, never silently replaced),
 * merges the connections file, starts the engine and resumes STARTED processors. */
aspd_workspace_t *aspd_workspace_open(const aspd_workspace_config_t *config, char *err,
                                      size_t err_len);

/* Stops the engine threads, flushes state, frees everything. NULL is fine. */
void aspd_workspace_close(aspd_workspace_t *ws);

/* True when `name` is one of the ASP commands this workspace answers. */
bool aspd_workspace_is_command(const char *name);

/* Runs one ASP command and fills `reply` with ok:1... or ok:0/errmsg/code/codeName. */
void aspd_workspace_run(aspd_workspace_t *ws, const char *name, const bson_t *command,
                        bson_t *reply);

/* The Admin API's side (http/). Errors carry the HTTP status as code and the Admin
 * API errorCode as code_name. */
#define ASPD_API_E_CONNECTION_EXISTS 409, "STREAM_CONNECTION_NAME_ALREADY_EXISTS"
#define ASPD_API_E_CONNECTION_NOT_FOUND 404, "STREAM_CONNECTION_NOT_FOUND_FOR_NAME"

const aspd_registry_t *aspd_workspace_registry(const aspd_workspace_t *ws);
aspd_engine_t *aspd_workspace_engine(const aspd_workspace_t *ws);

/* Adds a connection (replace = false; 409 when the name exists) or replaces one
 * (replace = true; 404 when it does not exist, 403 while a running processor uses it).
 * `definition` has been checked (registry/connection_schema.h). Committed to the state store
 * before it is applied: a failed commit is a 500 and changes nothing. */
bool aspd_workspace_connection_put(aspd_workspace_t *ws, const char *name, const bson_t *definition,
                                   bool replace, aspd_error_t *err);
/* Removes a connection: 404 when it does not exist, 403 while a running processor uses it. */
bool aspd_workspace_connection_delete(aspd_workspace_t *ws, const char *name, aspd_error_t *err);

#endif
