#include "commands/handshake.h"

#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <string.h>
#include <sys/time.h>

#include "auth/sasl_commands.h"
#include "auth/users.h"
#include "commands/reply.h"
#include "net/wire.h"

#define MAX_WRITE_BATCH 100000
#define SESSION_TIMEOUT_MINUTES 30

static int64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void aspd_cmd_hello(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  bson_iter_t it;
  bson_iter_init(&it, command);
  bson_iter_next(&it);
  bool legacy_name = strcmp(bson_iter_key(&it), "hello") != 0;

  if (bson_iter_init_find(&it, command, "helloOk") && bson_iter_as_bool(&it)) {
    BSON_APPEND_BOOL(reply, "helloOk", true);
  }
  BSON_APPEND_BOOL(reply, legacy_name ? "ismaster" : "isWritablePrimary", true);
  BSON_APPEND_INT32(reply, "maxBsonObjectSize", ASPD_WIRE_MAX_BSON);
  BSON_APPEND_INT32(reply, "maxMessageSizeBytes", ASPD_WIRE_MAX_MESSAGE);
  BSON_APPEND_INT32(reply, "maxWriteBatchSize", MAX_WRITE_BATCH);
  BSON_APPEND_DATE_TIME(reply, "localTime", now_ms());
  BSON_APPEND_INT32(reply, "logicalSessionTimeoutMinutes", SESSION_TIMEOUT_MINUTES);
  BSON_APPEND_INT64(reply, "connectionId", (int64_t)session->connection_id);
  BSON_APPEND_INT32(reply, "minWireVersion", 0);
  BSON_APPEND_INT32(reply, "maxWireVersion", ASPD_MAX_WIRE_VERSION);
  BSON_APPEND_BOOL(reply, "readOnly", false);
  /* Both mechanisms whatever the name: answering per user would reveal who exists. */
  if (bson_iter_init_find(&it, command, "saslSupportedMechs") && BSON_ITER_HOLDS_UTF8(&it)) {
    bson_t mechs;
    BSON_APPEND_ARRAY_BEGIN(reply, "saslSupportedMechs", &mechs);
    BSON_APPEND_UTF8(&mechs, "0", "SCRAM-SHA-1");
    BSON_APPEND_UTF8(&mechs, "1", "SCRAM-SHA-256");
    bson_append_array_end(reply, &mechs);
  }
  if (bson_iter_init_find(&it, command, "speculativeAuthenticate") &&
      BSON_ITER_HOLDS_DOCUMENT(&it)) {
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&it, &len, &data);
    bson_t sasl_start;
    if (bson_init_static(&sasl_start, data, len)) {
      aspd_sasl_speculative(session, &sasl_start, reply);
    }
  }
  aspd_reply_ok(reply);
}

void aspd_cmd_ping(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  (void)session;
  (void)command;
  aspd_reply_ok(reply);
}

void aspd_cmd_build_info(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  (void)session;
  (void)command;
  bson_t array, openssl, aspd;
  BSON_APPEND_UTF8(reply, "version", ASPD_SERVER_VERSION);
  BSON_APPEND_UTF8(reply, "gitVersion", "aspd-" ASPD_VERSION);
  BSON_APPEND_ARRAY_BEGIN(reply, "versionArray", &array);
  BSON_APPEND_INT32(&array, "0", 7);
  BSON_APPEND_INT32(&array, "1", 0);
  BSON_APPEND_INT32(&array, "2", 0);
  BSON_APPEND_INT32(&array, "3", 0);
  bson_append_array_end(reply, &array);
  BSON_APPEND_ARRAY_BEGIN(reply, "modules", &array);
  bson_append_array_end(reply, &array);
  BSON_APPEND_ARRAY_BEGIN(reply, "storageEngines", &array);
  bson_append_array_end(reply, &array);
  BSON_APPEND_UTF8(reply, "allocator", "system");
  BSON_APPEND_UTF8(reply, "javascriptEngine", "none");
  BSON_APPEND_UTF8(reply, "sysInfo", "deprecated");
  BSON_APPEND_DOCUMENT_BEGIN(reply, "openssl", &openssl);
  BSON_APPEND_UTF8(&openssl, "running", OpenSSL_version(OPENSSL_VERSION));
  BSON_APPEND_UTF8(&openssl, "compiled", OPENSSL_VERSION_TEXT);
  bson_append_document_end(reply, &openssl);
  BSON_APPEND_INT32(reply, "bits", (int32_t)(sizeof(void *) * 8));
  BSON_APPEND_BOOL(reply, "debug", false);
  BSON_APPEND_INT32(reply, "maxBsonObjectSize", ASPD_WIRE_MAX_BSON);
  /* Extension: lets tools tell aspd from a real workspace. */
  BSON_APPEND_DOCUMENT_BEGIN(reply, "aspd", &aspd);
  BSON_APPEND_UTF8(&aspd, "version", ASPD_VERSION);
  bson_append_document_end(reply, &aspd);
  aspd_reply_ok(reply);
}

void aspd_cmd_end_sessions(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  (void)session;
  (void)command;
  aspd_reply_ok(reply);
}

void aspd_cmd_connection_status(aspd_session_t *session, const bson_t *command, bson_t *reply) {
  (void)command;
  bson_t info, users, roles, entry;
  BSON_APPEND_DOCUMENT_BEGIN(reply, "authInfo", &info);
  BSON_APPEND_ARRAY_BEGIN(&info, "authenticatedUsers", &users);
  if (session->user[0]) {
    BSON_APPEND_DOCUMENT_BEGIN(&users, "0", &entry);
    BSON_APPEND_UTF8(&entry, "user", session->user);
    BSON_APPEND_UTF8(&entry, "db", "admin");
    bson_append_document_end(&users, &entry);
  }
  bson_append_array_end(&info, &users);
  BSON_APPEND_ARRAY_BEGIN(&info, "authenticatedUserRoles", &roles);
  if (session->atlas_admin) {
    BSON_APPEND_DOCUMENT_BEGIN(&roles, "0", &entry);
    BSON_APPEND_UTF8(&entry, "role", ASPD_ROLE_ATLAS_ADMIN);
    BSON_APPEND_UTF8(&entry, "db", "admin");
    bson_append_document_end(&roles, &entry);
  }
  bson_append_array_end(&info, &roles);
  bson_append_document_end(reply, &info);
  aspd_reply_ok(reply);
}
