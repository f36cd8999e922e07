/* Command monitoring: libmongoc's APM events, reduced to asp_event_t and passed to the
 * client's monitor. Authentication and user-management commands never show their
 * documents: they carry passwords or SASL payloads. */
#include <string.h>
#include <strings.h>

#include "asp_private.h"

static const char *const sensitive[] = {"authenticate",   "saslStart",       "saslContinue",
                                        "getnonce",       "createUser",      "updateUser",
                                        "copydbgetnonce", "copydbsaslstart", "copydb"};

static bool is_sensitive(const char *name, const bson_t *command) {
  for (size_t i = 0; i < sizeof sensitive / sizeof sensitive[0]; i++) {
    if (strcasecmp(name, sensitive[i]) == 0) return true;
  }
  /* A handshake may carry the first SASL message along. */
  return (strcasecmp(name, "hello") == 0 || strcasecmp(name, "isMaster") == 0) && command &&
         bson_has_field(command, "speculativeAuthenticate");
}

static void started(const mongoc_apm_command_started_t *e) {
  asp_client_t *c = mongoc_apm_command_started_get_context(e);
  const bson_t *command = mongoc_apm_command_started_get_command(e);
  asp_event_t ev = {.kind = ASP_EVENT_STARTED,
                    .command_name = mongoc_apm_command_started_get_command_name(e),
                    .database = mongoc_apm_command_started_get_database_name(e),
                    .request_id = mongoc_apm_command_started_get_request_id(e)};
  ev.redacted = is_sensitive(ev.command_name, command);
  ev.command = ev.redacted ? NULL : command;
  asp_client_emit(c, &ev);
}

static bool reply_ok(const bson_t *reply) {
  bson_iter_t it;
  return reply && bson_iter_init_find(&it, reply, "ok") && bson_iter_as_bool(&it);
}

static void succeeded(const mongoc_apm_command_succeeded_t *e) {
  asp_client_t *c = mongoc_apm_command_succeeded_get_context(e);
  asp_event_t ev = {.kind = ASP_EVENT_SUCCEEDED,
                    .command_name = mongoc_apm_command_succeeded_get_command_name(e),
                    .request_id = mongoc_apm_command_succeeded_get_request_id(e),
                    .duration_us = mongoc_apm_command_succeeded_get_duration(e),
                    .reply_ok = reply_ok(mongoc_apm_command_succeeded_get_reply(e))};
  ev.redacted = is_sensitive(ev.command_name, NULL);
  asp_client_emit(c, &ev);
}

static void failed(const mongoc_apm_command_failed_t *e) {
  asp_client_t *c = mongoc_apm_command_failed_get_context(e);
  bson_error_t error;
  asp_error_t err;
  mongoc_apm_command_failed_get_error(e, &error);
  asp_error_from_mongoc(&err, &error, mongoc_apm_command_failed_get_reply(e));
  asp_event_t ev = {.kind = ASP_EVENT_FAILED,
                    .command_name = mongoc_apm_command_failed_get_command_name(e),
                    .request_id = mongoc_apm_command_failed_get_request_id(e),
                    .duration_us = mongoc_apm_command_failed_get_duration(e),
                    .error = &err};
  ev.redacted = is_sensitive(ev.command_name, NULL);
  asp_client_scrub(c, &err);
  asp_client_emit(c, &ev);
}

void asp_monitor_install(asp_client_t *c, bool on) {
  if (!on) {
    mongoc_client_set_apm_callbacks(asp_client_mongoc(c), NULL, NULL);
    return;
  }
  mongoc_apm_callbacks_t *callbacks = mongoc_apm_callbacks_new();
  mongoc_apm_set_command_started_cb(callbacks, started);
  mongoc_apm_set_command_succeeded_cb(callbacks, succeeded);
  mongoc_apm_set_command_failed_cb(callbacks, failed);
  mongoc_client_set_apm_callbacks(asp_client_mongoc(c), callbacks, c);
  mongoc_apm_callbacks_destroy(callbacks);
}
