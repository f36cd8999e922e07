/* The project's workspaces as the Admin API sees them: the one served over the wire
 * (opened by main.c) and those created over HTTPS, each a full workspace (registry,
 * engine) whose state is a scope ("workspace:ID") of the one state store; what an
 * earlier version kept in STATE_DIR/workspaces/ID/ is imported once. Their descriptions
 * (StreamsTenant: _id, name, dataProcessRegion, streamConfig, failoverRegions) are records of the
 * state store, committed before a change is applied (the workspaces.json of earlier
 * versions is imported once). Thread-safe; a workspace handed out by acquire stays
 * open until released, even if it is deleted meanwhile. Errors carry the HTTP status
 * as code and the Admin API errorCode as code_name. */
#ifndef ASPD_WORKSPACES_H
#define ASPD_WORKSPACES_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/error.h"
#include "server.h"
#include "store/store.h"

#define ASPD_API_E_TENANT_EXISTS 409, "STREAM_TENANT_NAME_ALREADY_EXISTS"
#define ASPD_API_E_TENANT_HAS_PROCESSORS 409, "STREAM_TENANT_HAS_STREAM_PROCESSORS"
#define ASPD_API_E_TENANT_IS_WIRE 400, "STREAM_TENANT_SERVED_OVER_WIRE"

typedef struct aspd_workspaces aspd_workspaces_t;

/* wire: the workspace main.c serves over the wire, named wire_name (never closed here);
 * wire_hostname: "host:port" of the wire port, its only hostname. */
aspd_workspaces_t *aspd_workspaces_open(const char *state_dir, aspd_store_t *store,
                                        aspd_workspace_t *wire, const char *wire_name,
                                        const char *wire_hostname, char *err, size_t err_len);
/* Closes the workspaces created over HTTPS. */
void aspd_workspaces_close(aspd_workspaces_t *set);

/* The workspace named name (NULL when there is none) and its region (e.g. VIRGINIA_USA). */
aspd_workspace_t *aspd_workspaces_acquire(aspd_workspaces_t *set, const char *name,
                                          char region[64]);
void aspd_workspaces_release(aspd_workspaces_t *set, aspd_workspace_t *ws);

/* The first connection, in any workspace, that uses the Private Link connection id:
 * its workspace and name go into workspace and connection; false when none does. */
bool aspd_workspaces_private_link_user(aspd_workspaces_t *set, const char *id, char *workspace,
                                       size_t workspace_len, char *connection,
                                       size_t connection_len);

/* Appends the StreamsTenant of name to out; false when there is none. */
bool aspd_workspaces_describe(aspd_workspaces_t *set, const char *name, const char *group_id,
                              bson_t *out);
/* Appends the names of workspaces [skip, skip+limit) to the open array out; returns
 * how many there are. */
size_t aspd_workspaces_names(aspd_workspaces_t *set, size_t skip, size_t limit, bson_t *out);

/* A new workspace from a checked StreamsTenant body (name, dataProcessRegion,
 * streamConfig, failoverRegions); with_sample keeps sample_stream_solar in its registry. */
bool aspd_workspaces_create(aspd_workspaces_t *set, const bson_t *tenant, bool with_sample,
                            aspd_error_t *err);
/* Replaces the description fields given in changes (dataProcessRegion, streamConfig,
 * failoverRegions). */
bool aspd_workspaces_update(aspd_workspaces_t *set, const char *name, const bson_t *changes,
                            aspd_error_t *err);
/* Deletes a workspace created over HTTPS that has no processors, and its state. */
bool aspd_workspaces_delete(aspd_workspaces_t *set, const char *name, aspd_error_t *err);

#endif
