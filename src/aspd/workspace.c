/* The workspace: the registry, the engine, and the table of ASP commands. */
#include "workspace.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/asp_commands.h"
#include "commands/cursors.h"
#include "commands/processor_bound.h"
#include "commands/reply.h"
#include "log.h"
#include "registry/registry_store.h"

struct aspd_workspace {
  aspd_store_t *store;
  aspd_store_t *own_store; /* opened here when the config gave none */
  aspd_registry_t *registry;
  aspd_engine_t *engine;
  aspd_command_ctx_t ctx;
  /* One registry change at a time, from the change until it is saved, so the saved
   * registry is always the newest. */
  pthread_mutex_t change_lock;
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
    {"readTopic", aspd_cmd_read_topic},
    {"find", aspd_cmd_find},
    {"getMore", aspd_cmd_get_more},
    {"killCursors", aspd_cmd_kill_cursors},
    {"count", aspd_cmd_count},
    {"insert", aspd_cmd_insert},
    {"listCollections", aspd_cmd_list_collections},
    {"listDatabases", aspd_cmd_list_databases},
    {"update", aspd_cmd_update},
    {"delete", aspd_cmd_delete},
    {"drop", aspd_cmd_drop_collection},
    {"findAndModify", aspd_cmd_find_and_modify},
    {"distinct", aspd_cmd_distinct},
    {"aggregate", aspd_cmd_aggregate},
};

/* The connections of the --connections file face the bound that the Admin API's writes
 * face: a registry whose lists would not fit their replies is refused at start-up. */
static bool within_list_bound(const aspd_registry_t *reg, const char *file, char *err,
                              size_t err_len) {
  size_t bson, json, room = aspd_list_reply_bound();
  aspd_registry_listed_bytes(reg, NULL, ASPD_DEFAULT_REGION, &bson, &json);
  if (bson <= room && json <= room) return true;
  bool wire_side = bson > room;
  snprintf(err, err_len,
           "connections file %s: with its connections, the reply to %s would carry up to %zu "
           "bytes of definitions, more than the limit of %zu bytes (maxBsonObjectSize %d less "
           "room for the rest of the reply, or --max-list-reply-bytes)",
           file, wire_side ? "listStreamConnections" : "a list of connections",
           wire_side ? bson : json, room, ASPD_REPLY_MAX);
  return false;
}

static bool load_registry(aspd_registry_t *reg, aspd_store_t *store,
                          const aspd_workspace_config_t *config, char *err, size_t err_len) {
  if (!aspd_registry_store_load(reg, store, config->state_dir, err, err_len)) return false;
  return !config->connections_file ||
         (aspd_registry_load_file(reg, config->connections_file, err, err_len) &&
          within_list_bound(reg, config->connections_file, err, err_len) &&
          aspd_registry_store_save(reg, store, err, err_len));
}

aspd_workspace_t *aspd_workspace_open(const aspd_workspace_config_t *config, char *err,
                                      size_t err_len) {
  aspd_workspace_t *ws = calloc(1, sizeof *ws);
  pthread_mutex_init(&ws->change_lock, NULL);
  ws->registry = aspd_registry_new();
  aspd_store_t *store = config->store;
  if (!store) store = ws->own_store = aspd_store_open(config->state_dir, err, err_len);
  ws->store = store;
  if (!store || !load_registry(ws->registry, store, config, err, err_len)) {
    aspd_workspace_close(ws);
    return NULL;
  }
  ws->engine =
      aspd_engine_open(config->state_dir, store, ws->registry, config->sink_max_docs, err, err_len);
  if (!ws->engine) {
    aspd_workspace_close(ws);
    return NULL;
  }
  ws->ctx.engine = ws->engine;
  ws->ctx.cursors = aspd_cursors_new();
  ws->ctx.registry = ws->registry;
  return ws;
}

void aspd_workspace_close(aspd_workspace_t *ws) {
  if (!ws) return;
  aspd_cursors_free(ws->ctx.cursors);
  aspd_engine_close(ws->engine);
  aspd_store_close(ws->own_store);
  aspd_registry_free(ws->registry);
  pthread_mutex_destroy(&ws->change_lock);
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

const aspd_registry_t *aspd_workspace_registry(const aspd_workspace_t *ws) {
  return ws->registry;
}

aspd_engine_t *aspd_workspace_engine(const aspd_workspace_t *ws) {
  return ws->engine;
}

typedef struct {
  aspd_registry_t *registry;
  aspd_store_t *store;
  const char *name;
  const bson_t *definition; /* NULL: remove */
  bool replace;
} change_t;

/* The registry as it will be after the change, in its saved form; *stored is
 * the definition as it will be kept (with its id), NULL for a removal. */
static void changed_registry(const change_t *c, bson_t *saved, bson_t **stored) {
  aspd_registry_t *next = aspd_registry_new();
  bson_t now = BSON_INITIALIZER;
  aspd_registry_to_bson(c->registry, &now);
  aspd_error_t ignored;
  aspd_registry_load(next, &now, "", &ignored);
  bson_destroy(&now);
  *stored = NULL;
  if (c->definition) {
    aspd_registry_put(next, c->definition);
    *stored = aspd_registry_definition(next, c->name);
  } else {
    aspd_registry_remove(next, c->name);
  }
  aspd_registry_to_bson(next, saved);
  aspd_registry_free(next);
}

/* Under the engine lock: the change is committed to the store first and applied
 * only then, so a failed commit leaves the registry as it was. */
static bool apply_change(void *arg, aspd_error_t *err) {
  change_t *c = arg;
  bson_t *old = aspd_registry_definition(c->registry, c->name);
  bool exists = old != NULL;
  bson_destroy(old);
  if (c->definition && !c->replace && exists) {
    aspd_error_set(err, ASPD_API_E_CONNECTION_EXISTS,
                   "A Stream connection with the name %s already exists.", c->name);
    return false;
  }
  if ((!c->definition || c->replace) && !exists) {
    aspd_error_set(err, ASPD_API_E_CONNECTION_NOT_FOUND,
                   "Stream connection with name %s not found.", c->name);
    return false;
  }
  bson_t saved = BSON_INITIALIZER;
  bson_t *stored = NULL;
  changed_registry(c, &saved, &stored);
  char msg[512];
  bool ok = aspd_registry_store_save_bson(&saved, c->store, msg, sizeof msg);
  bson_destroy(&saved);
  if (!ok) {
    aspd_log("could not persist the connection registry: %s", msg);
    aspd_error_set(err, 500, "UNEXPECTED_ERROR",
                   "Unexpected error. Reason: %s; nothing was changed.", msg);
  } else if (stored) {
    aspd_registry_put(c->registry, stored);
  } else {
    aspd_registry_remove(c->registry, c->name);
  }
  bson_destroy(stored);
  return ok;
}

static bool change(aspd_workspace_t *ws, change_t *c, aspd_error_t *err) {
  pthread_mutex_lock(&ws->change_lock);
  c->registry = ws->registry;
  c->store = ws->store;
  /* A new connection cannot be in use; an existing one may be. */
  bool ok = aspd_engine_edit_registry(ws->engine, c->definition && !c->replace ? NULL : c->name,
                                      apply_change, c, err);
  pthread_mutex_unlock(&ws->change_lock);
  return ok;
}

bool aspd_workspace_connection_put(aspd_workspace_t *ws, const char *name, const bson_t *definition,
                                   bool replace, aspd_error_t *err) {
  change_t c = {.name = name, .definition = definition, .replace = replace};
  return change(ws, &c, err);
}

bool aspd_workspace_connection_delete(aspd_workspace_t *ws, const char *name, aspd_error_t *err) {
  change_t c = {.name = name};
  return change(ws, &c, err);
}
