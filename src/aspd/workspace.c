/* Stub until the workspace lands: answers no ASP command. */
#include "workspace.h"

#include <stdio.h>
#include <stdlib.h>

#include "commands/reply.h"

struct aspd_workspace {
  int unused;
};

aspd_workspace_t *aspd_workspace_open(const aspd_workspace_config_t *config, char *err,
                                      size_t err_len) {
  (void)config;
  (void)err;
  (void)err_len;
  return calloc(1, sizeof(aspd_workspace_t));
}

void aspd_workspace_close(aspd_workspace_t *ws) {
  free(ws);
}

bool aspd_workspace_is_command(const char *name) {
  (void)name;
  return false;
}

void aspd_workspace_run(aspd_workspace_t *ws, const char *name, const bson_t *command,
                        bson_t *reply) {
  (void)ws;
  (void)command;
  aspd_reply_error(reply, ASPD_E_COMMAND_NOT_FOUND, "no such command: '%s'", name);
}
