/* listStreamConnections and listWorkspaceDefaults. */
#include "commands/asp_commands.h"
#include "commands/reply.h"
#include "engine/match.h"

/* Atlas' default tier for a new workspace is SP10; aspd allows every tier. */
#define DEFAULT_TIER_SIZE "SP10"
#define MAX_TIER_SIZE "SP50"

void aspd_reply_from_error(bson_t *reply, const aspd_error_t *err) {
  aspd_reply_error(reply, err->code, err->code_name, "%s", err->message);
}

bool aspd_arg_filter(const bson_t *cmd, bson_t *view, const bson_t **filter, aspd_error_t *err) {
  bson_iter_t it;
  *filter = NULL;
  if (!bson_iter_init_find(&it, cmd, "filter") || BSON_ITER_HOLDS_NULL(&it) ||
      BSON_ITER_HOLDS_UNDEFINED(&it)) {
    return true;
  }
  if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
    aspd_error_set(err, ASPD_E_FAILED_TO_PARSE, "field 'filter' must be an object");
    return false;
  }
  const uint8_t *data;
  uint32_t len;
  bson_iter_document(&it, &len, &data);
  bson_init_static(view, data, len);
  if (!aspd_match_validate(view, err)) return false;
  *filter = bson_empty(view) ? NULL : view;
  return true;
}

void aspd_cmd_list_connections(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  aspd_error_t err = {0};
  bson_t view;
  const bson_t *filter;
  if (!aspd_arg_filter(cmd, &view, &filter, &err)) {
    aspd_reply_from_error(reply, &err);
    return;
  }
  aspd_reply_ok(reply);
  bson_t list;
  BSON_APPEND_ARRAY_BEGIN(reply, "connections", &list);
  aspd_registry_list(ctx->registry, filter, &list);
  bson_append_array_end(reply, &list);
}

void aspd_cmd_workspace_defaults(aspd_command_ctx_t *ctx, const bson_t *cmd, bson_t *reply) {
  (void)ctx;
  (void)cmd;
  aspd_reply_ok(reply);
  BSON_APPEND_UTF8(reply, "defaultTierSize", DEFAULT_TIER_SIZE);
  BSON_APPEND_UTF8(reply, "maxTierSize", MAX_TIER_SIZE);
}
