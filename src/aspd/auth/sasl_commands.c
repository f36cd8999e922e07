#include "auth/sasl_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"
#include "auth/users.h"
#include "commands/reply.h"
#include "log.h"

/* mongod uses one conversation per connection and always numbers it 1. */
#define CONVERSATION_ID 1
#define AUTH_FAILED_MESSAGE "Authentication failed."

static bool get_payload(const bson_t *command, const uint8_t **data, uint32_t *len) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, command, "payload")) return false;
  if (BSON_ITER_HOLDS_BINARY(&it)) {
    bson_subtype_t subtype;
    bson_iter_binary(&it, &subtype, len, data);
    return true;
  }
  if (BSON_ITER_HOLDS_UTF8(&it)) {
    *data = (const uint8_t *)bson_iter_utf8(&it, len);
    return true;
  }
  return false;
}

static bool skip_empty_exchange(const bson_t *command) {
  bson_iter_t it, option;
  return bson_iter_init(&it, command) &&
         bson_iter_find_descendant(&it, "options.skipEmptyExchange", &option) &&
         bson_iter_as_bool(&option);
}

static void fail(aspd_session_t *session, bson_t *reply) {
  aspd_scram_free(session->scram);
  session->scram = NULL;
  if (reply) aspd_reply_error(reply, ASPD_E_AUTH_FAILED, AUTH_FAILED_MESSAGE);
}

/* Runs one step and appends conversationId/done/payload on success. */
static bool step(aspd_session_t *session, const uint8_t *in, uint32_t in_len, bson_t *reply) {
  char *out;
  size_t out_len;
  aspd_scram_status_t status = aspd_scram_step(session->scram, in, in_len, &out, &out_len);
  if (status == ASPD_SCRAM_FAILED) {
    aspd_log("conn %llu: authentication failed for user '%s'",
             (unsigned long long)session->connection_id, aspd_scram_user(session->scram));
    return false;
  }
  bool done = status == ASPD_SCRAM_AUTHENTICATED;
  BSON_APPEND_INT32(reply, "conversationId", CONVERSATION_ID);
  BSON_APPEND_BOOL(reply, "done", done);
  bson_append_binary(reply, "payload", -1, BSON_SUBTYPE_BINARY, (const uint8_t *)out,
                     (uint32_t)out_len);
  free(out);
  if (done) {
    const char *user = aspd_scram_user(session->scram);
    snprintf(session->user, sizeof session->user, "%s", user);
    session->atlas_admin = aspd_users_has_role(session->server->users, user, ASPD_ROLE_ATLAS_ADMIN);
    aspd_log("conn %llu: authenticated as %s", (unsigned long long)session->connection_id, user);
    aspd_scram_free(session->scram);
    session->scram = NULL;
  }
  return true;
}

/* The saslStart body shared by the command and by hello's speculative form. */
static bool start(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  bson_iter_t it;
  aspd_scram_free(session->scram);
  session->scram = NULL;
  aspd_scram_mech_t mech;
  if (!bson_iter_init_find(&it, command, "mechanism") || !BSON_ITER_HOLDS_UTF8(&it) ||
      !aspd_scram_mech_parse(bson_iter_utf8(&it, NULL), &mech)) {
    return false;
  }
  /* Users live in admin; any other authentication database knows nobody. */
  if ((bson_iter_init_find(&it, command, "$db") || bson_iter_init_find(&it, command, "db")) &&
      (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "admin") != 0)) {
    return false;
  }
  const uint8_t *payload;
  uint32_t payload_len;
  if (!get_payload(command, &payload, &payload_len)) return false;
  session->user[0] = '\0';
  session->atlas_admin = false;
  session->scram = aspd_scram_new(session->server->users, mech, skip_empty_exchange(command));
  return step(session, payload, payload_len, reply);
}

void aspd_cmd_sasl_start(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  bson_t body = BSON_INITIALIZER;
  if (start(session, command, &body)) {
    bson_concat(reply, &body);
    aspd_reply_ok(reply);
  } else {
    fail(session, reply);
  }
  bson_destroy(&body);
}

void aspd_cmd_sasl_continue(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  bson_iter_t it;
  const uint8_t *payload;
  uint32_t payload_len;
  if (!session->scram || !bson_iter_init_find(&it, command, "conversationId") ||
      !BSON_ITER_HOLDS_NUMBER(&it) ||
      /* A double compares as a double: converting one beyond int64 would be undefined. */
      (BSON_ITER_HOLDS_DOUBLE(&it) ? bson_iter_double(&it) != CONVERSATION_ID
                                   : bson_iter_as_int64(&it) != CONVERSATION_ID) ||
      !get_payload(command, &payload, &payload_len)) {
    fail(session, reply);
    return;
  }
  bson_t body = BSON_INITIALIZER;
  if (step(session, payload, payload_len, &body)) {
    bson_concat(reply, &body);
    aspd_reply_ok(reply);
  } else {
    fail(session, reply);
  }
  bson_destroy(&body);
}

void aspd_cmd_logout(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  (void)command;
  aspd_scram_free(session->scram);
  session->scram = NULL;
  session->user[0] = '\0';
  session->atlas_admin = false;
  aspd_reply_ok(reply);
}

void aspd_sasl_speculative(aspd_session_t *session, const bson_t *sasl_start, bson_t *hello_reply) {
  bson_t body = BSON_INITIALIZER;
  if (start(session, sasl_start, &body)) {
    BSON_APPEND_DOCUMENT(hello_reply, "speculativeAuthenticate", &body);
  } else {
    fail(session, NULL);
  }
  bson_destroy(&body);
}
