/* The workspace: the registry, the engine, and the table of ASP commands. */
#include "workspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/reply.h"
#include "store/state_file.h"

/* The registry as last loaded, so connections survive a restart without the file. */
#define CONNECTIONS_STATE_FILE "registry.json"

struct aspd_workspace {
  aspd_registry_t *registry;
  aspd_engine_t *engine;
  aspd_command_ctx_t ctx;
};

static const struct {
  const char *name;
  aspd_command_fn run;
} commands[] = {
    {"createStreamProcessor", aspd_cmd_create},
    {"startStreamProcessor", aspd_cmd_start},
    {"stopStreamProcessor", aspd_cmd_stop},
    {"dropStreamProcessor", aspd_cmd_drop},
    {"modifyStreamProcessor", aspd_cmd_modify},
    {"getStreamProcessor", aspd_cmd_get},
    {"getStreamProcessorStats", aspd_cmd_stats},
    {"listStreamProcessors", aspd_cmd_list},
    {"listStreamConnections", aspd_cmd_list_connections},
    {"listWorkspaceDefaults", aspd_cmd_workspace_defaults},
    {"processStreamProcessor", aspd_cmd_process},
    {"startSampleStreamProcessor", aspd_cmd_sample_start},
    {"getMoreSampleStreamProcessor", aspd_cmd_sample_more},
};

static bool load_registry(aspd_registry_t *reg, const aspd_workspace_config_t *config, char *err,
                          size_t err_len) {
  bson_t *saved = NULL;
  aspd_error_t lerr = {0};
  if (!aspd_state_file_load(config->state_dir, CONNECTIONS_STATE_FILE, &saved, err, err_len)) {
    return false;
  }
  if (saved) {
    bool ok = aspd_registry_load(reg, saved, CONNECTIONS_STATE_FILE, &lerr);
    bson_destroy(saved);
    if (!ok) {
      snprintf(err, err_len, "state file %s/%s is corrupt (%s); aspd will not replace it",
               config->state_dir, CONNECTIONS_STATE_FILE, lerr.message);
      return false;
    }
  }
  if (config->connections_file &&
      !aspd_registry_load_file(reg, config->connections_file, err, err_len)) {
    return false;
  }
  bson_t out = BSON_INITIALIZER;
  aspd_registry_to_bson(reg, &out);
  bool ok = aspd_state_file_save(config->state_dir, CONNECTIONS_STATE_FILE, &out, err, err_len);
  bson_destroy(&out);
  return ok;
}

aspd_workspace_t *aspd_workspace_open(const aspd_workspace_config_t *config, char *err,
                                      size_t err_len) {
  aspd_workspace_t *ws = calloc(1, sizeof *ws);
  ws->registry = aspd_registry_new();
  if (!load_registry(ws->registry, config, err, err_len)) {
    aspd_workspace_close(ws);
    return NULL;
  }
  ws->engine = aspd_engine_open(config->state_dir, ws->registry, err, err_len);
  if (!ws->engine) {
    aspd_workspace_close(ws);
    return NULL;
  }
  ws->ctx.engine = ws->engine;
  ws->ctx.registry = ws->registry;
  return ws;
}

void aspd_workspace_close(aspd_workspace_t *ws) {
  if (!ws) return;
  aspd_engine_close(ws->engine);
  aspd_registry_free(ws->registry);
  free(ws);
}

bool aspd_workspace_is_command(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (!strcmp(commands[i].name, name)) return true;
  }
  return false;
}

void aspd_workspace_run(aspd_workspace_t *ws, const char *name, const bson_t *command,
                        bson_t *reply) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (!strcmp(commands[i].name, name)) {
      commands[i].run(&ws->ctx, command, reply);
      return;
    }
  }
  aspd_reply_error(reply, ASPD_E_COMMAND_NOT_FOUND, "no such command: '%s'", name);
}
