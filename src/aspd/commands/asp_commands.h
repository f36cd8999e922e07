/* Handlers of the ASP commands and of the ordinary MongoDB commands on collections. Each parses and
 * validates its command document, calls the registry or the engine, and fills the reply. */
#ifndef ASPD_ASP_COMMANDS_H
#define ASPD_ASP_COMMANDS_H

#include <bson/bson.h>

#include "commands/cursors.h"
#include "engine/engine.h"
#include "registry/connections.h"

typedef struct {
  aspd_engine_t *engine;
  const aspd_registry_t *registry;
  aspd_cursors_t *cursors; /* of find */
} aspd_command_ctx_t;

typedef void (*aspd_command_fn)(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* processor_commands.c */
void aspd_cmd_create(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_start(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_stop(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_drop(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_modify(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_get(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_stats(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_list(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* sample_commands.c */
void aspd_cmd_process(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_sample_start(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_sample_more(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* workspace_commands.c */
void aspd_cmd_list_connections(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_workspace_defaults(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* topic_commands.c: readTopic, an aspd extension */
void aspd_cmd_read_topic(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* crud_commands.c: the ordinary MongoDB commands on Cluster connections' collections */
void aspd_cmd_find(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_get_more(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_kill_cursors(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_count(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_insert(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_list_collections(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_list_databases(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
/* crud_write.c */
void aspd_cmd_update(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_delete(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_drop_collection(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_find_and_modify(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
/* crud_query.c */
void aspd_cmd_distinct(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);
void aspd_cmd_aggregate(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply);

/* Turns an engine error into the ok:0 reply. */
void aspd_reply_from_error(bson_t *reply, const aspd_error_t *err);

/* Reads the optional `filter` of the list commands: absent, null and {} mean
 * everything (*filter = NULL). */
bool aspd_arg_filter(const bson_t *cmd, bson_t *view, const bson_t **filter, aspd_error_t *err);

#endif
