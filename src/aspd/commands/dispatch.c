/* Routes a command by its first key: handshake and authentication commands
 * for anyone, ASP commands for atlasAdmin only, everything else CommandNotFound.
 * Generic fields (lsid, $db, $readPreference, $clusterTime, apiVersion, ...)
 * are simply never read. */
#include <stdio.h>
#include <string.h>

#include "auth/sasl_commands.h"
#include "commands/handshake.h"
#include "commands/reply.h"
#include "net/wire.h"
#include "server.h"
#include "workspace.h"

typedef void (*handler_t)(aspd_session_t *session, const bson_t *command, bson_t *reply);

static const struct {
  const char *name;
  handler_t run;
} open_commands[] = {
    {"hello", aspd_cmd_hello},
    {"isMaster", aspd_cmd_hello},
    {"ismaster", aspd_cmd_hello},
    {"ping", aspd_cmd_ping},
    {"buildInfo", aspd_cmd_build_info},
    {"buildinfo", aspd_cmd_build_info},
    {"endSessions", aspd_cmd_end_sessions},
    {"connectionStatus", aspd_cmd_connection_status},
    {"saslStart", aspd_cmd_sasl_start},
    {"saslContinue", aspd_cmd_sasl_continue},
    {"logout", aspd_cmd_logout},
};

/* The command's value for the Unauthorized message: a name or number, never a document. */
static void describe_value(const bson_iter_t *it, char *out, size_t out_len) {
  if (BSON_ITER_HOLDS_UTF8(it)) {
    snprintf(out, out_len, "\"%.64s\"", bson_iter_utf8(it, NULL));
  } else if (BSON_ITER_HOLDS_INT(it)) {
    snprintf(out, out_len, "%lld", (long long)bson_iter_as_int64(it));
  } else if (BSON_ITER_HOLDS_DOUBLE(it)) {
    snprintf(out, out_len, "%g", bson_iter_double(it));
  } else {
    snprintf(out, out_len, "...");
  }
}

/* Room beyond the BSON limit for the fields a driver adds to a command (mongod allows 16 KiB). */
#define ASPD_COMMAND_SLACK (16 * 1024)

void aspd_dispatch(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  bson_iter_t it;
  /* The wire layer accepts documents up to the message limit so that an oversized command
   * gets this answer, on a connection that stays open, instead of a dropped connection.
   * Like mongod, allow a little room for the fields a driver adds ($db, ...). */
  if (command->len > ASPD_WIRE_MAX_BSON + ASPD_COMMAND_SLACK) {
    aspd_reply_error(reply, ASPD_E_BSON_TOO_LARGE,
                     "the command document is %u bytes, more than the limit of %d bytes",
                     (unsigned)command->len, ASPD_WIRE_MAX_BSON);
    return;
  }
  if (!bson_iter_init(&it, command) || !bson_iter_next(&it)) {
    aspd_reply_error(reply, ASPD_E_FAILED_TO_PARSE, "empty command document");
    return;
  }
  const char *name = bson_iter_key(&it);
  for (size_t i = 0; i < sizeof open_commands / sizeof open_commands[0]; i++) {
    if (strcmp(open_commands[i].name, name) == 0) {
      open_commands[i].run(session, command, reply);
      return;
    }
  }
  if (!aspd_workspace_is_command(name)) {
    aspd_reply_error(reply, ASPD_E_COMMAND_NOT_FOUND, "no such command: '%s'", name);
    return;
  }
  if (!session->user[0] || !session->atlas_admin) {
    char value[80];
    describe_value(&it, value, sizeof value);
    aspd_reply_error(reply, ASPD_E_UNAUTHORIZED,
                     "not authorized on admin to execute command { %s: %s }", name, value);
    return;
  }
  aspd_workspace_run(session->server->workspace, name, command, reply);
}
