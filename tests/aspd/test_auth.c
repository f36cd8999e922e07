/* SCRAM-SHA-256 and SCRAM-SHA-1 through libmongoc, the exact failure reply
 * (same for a wrong password and an unknown user), the atlasAdmin role check,
 * unauthenticated clients, users files, and users persisted across a restart. */
#include <mongoc/mongoc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aspd_harness.h"
#include "check_msg.h"

/* An ASP command the workspace answers; only atlasAdmin may run it. */
#define ASP_COMMAND "listWorkspaceDefaults"

static mongoc_client_t *client_for(const char *uri) {
  mongoc_client_t *client = mongoc_client_new(uri);
  if (!client) {
    fprintf(stderr, "bad URI %s\n", uri);
    exit(1);
  }
  mongoc_client_set_error_api(client, 2);
  return client;
}

static bool command(mongoc_client_t *client, bson_t *cmd, bson_t *reply, bson_error_t *error) {
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, error);
  bson_destroy(cmd);
  return ok;
}

/* The user connectionStatus reports, or "" (or "<error>" when the command failed). */
static void authenticated_user(const char *uri, char *out, size_t out_len, bson_error_t *error) {
  mongoc_client_t *client = client_for(uri);
  bson_t reply;
  snprintf(out, out_len, "<error>");
  if (command(client, BCON_NEW("connectionStatus", BCON_INT32(1)), &reply, error)) {
    bson_iter_t it;
    snprintf(out, out_len, "%s",
             bson_iter_init(&it, &reply) &&
                     bson_iter_find_descendant(&it, "authInfo.authenticatedUsers.0.user", &it) &&
                     BSON_ITER_HOLDS_UTF8(&it)
                 ? bson_iter_utf8(&it, NULL)
                 : "");
  }
  bson_destroy(&reply);
  mongoc_client_destroy(client);
}

static void expect_user(const char *uri, const char *user, const char *what) {
  char got[256];
  bson_error_t error;
  authenticated_user(uri, got, sizeof got, &error);
  CHECK(strcmp(got, user) == 0, "%s: authenticated as '%s', expected '%s' (%s)", what, got, user,
        strcmp(got, "<error>") == 0 ? error.message : "");
}

static void expect_auth_failure(const char *uri, const char *secret, const char *what) {
  char got[256];
  bson_error_t error;
  authenticated_user(uri, got, sizeof got, &error);
  CHECK(strcmp(got, "<error>") == 0, "%s: expected an authentication failure", what);
  CHECK(strstr(error.message, "Authentication failed"), "%s: message '%s'", what, error.message);
  CHECK(!strstr(error.message, secret), "%s: message leaks '%s': %s", what, secret, error.message);
}

/* Runs the ASP command and returns the server's code (0 when it succeeded). */
static uint32_t asp_command_code(const char *uri, char *message, size_t message_len) {
  mongoc_client_t *client = client_for(uri);
  bson_t reply;
  bson_error_t error;
  bool ok = command(client, BCON_NEW(ASP_COMMAND, BCON_INT32(1)), &reply, &error);
  snprintf(message, message_len, "%s", ok ? "" : error.message);
  bson_destroy(&reply);
  mongoc_client_destroy(client);
  return ok ? 0 : error.code;
}

/* saslStart/saslContinue by hand, so the exact server reply is visible. */
static void check_raw_failure(const aspd_instance_t *inst, const char *user) {
  char uri[1024];
  snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%d/?tls=true&tlsCAFile=%s", inst->port,
           inst->ca_file);
  mongoc_client_t *client = client_for(uri);
  char first[256];
  snprintf(first, sizeof first, "n,,n=%s,r=clientnonce123", user);
  bson_t reply;
  bson_error_t error;
  bool ok = command(
      client,
      BCON_NEW("saslStart", BCON_INT32(1), "mechanism", BCON_UTF8("SCRAM-SHA-256"), "payload",
               BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)first, (uint32_t)strlen(first)),
               "autoAuthorize", BCON_INT32(1), "options", "{", "skipEmptyExchange", BCON_BOOL(true),
               "}"),
      &reply, &error);
  CHECK(ok, "saslStart for %s: %s", user, error.message);
  bson_iter_t it;
  char server_first[512] = "";
  if (ok && bson_iter_init_find(&it, &reply, "payload") && BSON_ITER_HOLDS_BINARY(&it)) {
    uint32_t len;
    const uint8_t *data;
    bson_iter_binary(&it, NULL, &len, &data);
    snprintf(server_first, sizeof server_first, "%.*s", (int)len, (const char *)data);
  }
  CHECK(strncmp(server_first, "r=clientnonce123", 16) == 0 && strstr(server_first, ",s=") &&
            strstr(server_first, ",i=15000"),
        "server-first for %s: '%s'", user, server_first);
  CHECK(bson_iter_init_find(&it, &reply, "conversationId") && BSON_ITER_HOLDS_INT32(&it),
        "conversationId is int32");
  bson_destroy(&reply);

  char nonce[256];
  snprintf(nonce, sizeof nonce, "%.*s", (int)strcspn(server_first + 2, ","), server_first + 2);
  char final[512];
  snprintf(final, sizeof final,
           "c=biws,r=%s,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", nonce);
  ok = command(
      client,
      BCON_NEW("saslContinue", BCON_INT32(1), "conversationId", BCON_INT32(1), "payload",
               BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *) final, (uint32_t)strlen(final))),
      &reply, &error);
  CHECK(!ok && error.code == 18 && strcmp(error.message, "Authentication failed.") == 0,
        "bad proof for %s: ok=%d code=%u '%s'", user, ok, error.code, error.message);
  bson_iter_t code_name;
  CHECK(bson_iter_init_find(&code_name, &reply, "codeName") &&
            strcmp(bson_iter_utf8(&code_name, NULL), "AuthenticationFailed") == 0,
        "codeName for %s", user);
  bson_destroy(&reply);

  /* Nothing left of the conversation: another saslContinue fails the same way. */
  ok = command(client,
               BCON_NEW("saslContinue", BCON_INT32(1), "conversationId", BCON_INT32(1), "payload",
                        BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)"", 0)),
               &reply, &error);
  CHECK(!ok && error.code == 18, "saslContinue after failure: code %u", error.code);
  bson_destroy(&reply);
  mongoc_client_destroy(client);
}

static void check_speculative(const aspd_instance_t *inst) {
  char uri[1024];
  snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%d/?tls=true&tlsCAFile=%s", inst->port,
           inst->ca_file);
  mongoc_client_t *client = client_for(uri);
  const char *first = "n,,n=asp-dev,r=speculative1";
  bson_t reply;
  bson_error_t error;
  bool ok = command(
      client,
      BCON_NEW("hello", BCON_INT32(1), "speculativeAuthenticate", "{", "saslStart", BCON_INT32(1),
               "mechanism", BCON_UTF8("SCRAM-SHA-256"), "payload",
               BCON_BIN(BSON_SUBTYPE_BINARY, (const uint8_t *)first, (uint32_t)strlen(first)), "db",
               BCON_UTF8("admin"), "}"),
      &reply, &error);
  bson_iter_t it;
  CHECK(ok && bson_iter_init(&it, &reply) &&
            bson_iter_find_descendant(&it, "speculativeAuthenticate.conversationId", &it),
        "hello with speculativeAuthenticate: %s", error.message);
  bson_destroy(&reply);
  mongoc_client_destroy(client);
}

static void test_roles_and_mechanisms(void) {
  const char *args[] = {"--user", "viewer:viewer-pw", "--user", "ops:ops-pw:readAnyDatabase", NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) {
    failures++;
    return;
  }
  char uri[2048], message[512];
  expect_user(inst.uri, "asp-dev", "SCRAM-SHA-256 (default)");
  snprintf(uri, sizeof uri, "%s&authMechanism=SCRAM-SHA-256", inst.uri);
  expect_user(uri, "asp-dev", "SCRAM-SHA-256 (explicit)");
  snprintf(uri, sizeof uri, "%s&authMechanism=SCRAM-SHA-1", inst.uri);
  expect_user(uri, "asp-dev", "SCRAM-SHA-1");
  aspd_harness_uri_for(&inst, "viewer", "viewer-pw", uri, sizeof uri);
  expect_user(uri, "viewer", "user without roles");

  aspd_harness_uri_for(&inst, "asp-dev", "not-the-password", uri, sizeof uri);
  expect_auth_failure(uri, "not-the-password", "wrong password");
  snprintf(uri + strlen(uri), sizeof uri - strlen(uri), "&authMechanism=SCRAM-SHA-1");
  expect_auth_failure(uri, "not-the-password", "wrong password, SCRAM-SHA-1");
  aspd_harness_uri_for(&inst, "nobody", "whatever-pw", uri, sizeof uri);
  expect_auth_failure(uri, "whatever-pw", "unknown user");
  check_raw_failure(&inst, "asp-dev");
  check_raw_failure(&inst, "nobody");
  check_speculative(&inst);

  /* Role checks on an ASP command. */
  uint32_t admin_code = asp_command_code(inst.uri, message, sizeof message);
  CHECK(admin_code == 0, "atlasAdmin: code %u '%s'", admin_code, message);
  aspd_harness_uri_for(&inst, "viewer", "viewer-pw", uri, sizeof uri);
  uint32_t code = asp_command_code(uri, message, sizeof message);
  CHECK(code == 13, "no roles: code %u '%s'", code, message);
  CHECK(!strstr(message, "viewer-pw"), "Unauthorized leaks the password: %s", message);
  CHECK(strstr(message, "not authorized on admin to execute command { " ASP_COMMAND),
        "Unauthorized text: %s", message);
  aspd_harness_uri_for(&inst, "ops", "ops-pw", uri, sizeof uri);
  code = asp_command_code(uri, message, sizeof message);
  CHECK(code == 13, "other role: code %u '%s'", code, message);
  snprintf(uri, sizeof uri, "mongodb://127.0.0.1:%d/?tls=true&tlsCAFile=%s", inst.port,
           inst.ca_file);
  code = asp_command_code(uri, message, sizeof message);
  CHECK(code == 13, "unauthenticated: code %u '%s'", code, message);

  /* Persisted in the store: salted keys only, and the users survive a restart
   * without --user flags. */
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", inst.state_dir);
  char text[16384] = "";
  sqlite3 *db;
  sqlite3_stmt *st;
  CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "open the store");
  if (sqlite3_prepare_v2(db, "SELECT doc FROM records WHERE kind = 'user' AND name = 'viewer'", -1,
                         &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    bson_t doc;
    if (bson_init_static(&doc, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0))) {
      char *json = bson_as_relaxed_extended_json(&doc, NULL);
      snprintf(text, sizeof text, "%s", json);
      bson_free(json);
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK(strstr(text, "\"viewer\"") && strstr(text, "storedKey"), "stored user: %s", text);
  CHECK(!strstr(text, "viewer-pw") && !strstr(text, inst.password), "the store holds a password");

  char state_dir[512];
  snprintf(state_dir, sizeof state_dir, "%s", inst.state_dir);
  CHECK(aspd_harness_stop(&inst) == 0, "aspd did not exit 0");
  aspd_instance_t again;
  if (!aspd_harness_start(&again, state_dir, NULL)) {
    failures++;
    return;
  }
  aspd_harness_uri_for(&again, "viewer", "viewer-pw", uri, sizeof uri);
  expect_user(uri, "viewer", "viewer after restart");
  snprintf(uri, sizeof uri, "%s&authMechanism=SCRAM-SHA-1", again.uri);
  expect_user(uri, "asp-dev", "dev user after restart (same password)");
  CHECK(strcmp(again.password, inst.password) == 0, "dev password changed across restart");
  aspd_harness_stop(&again);

  /* A malformed stored user stops start-up instead of being replaced. */
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK, "open the store");
  bson_t bad = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&bad, "user", "viewer");
  CHECK(sqlite3_prepare_v2(db, "UPDATE records SET doc = ? WHERE kind = 'user' AND name = 'viewer'",
                           -1, &st, NULL) == SQLITE_OK,
        "prepare");
  sqlite3_bind_blob(st, 1, bson_get_data(&bad), (int)bad.len, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_DONE, "update");
  sqlite3_finalize(st);
  sqlite3_close(db);
  bson_destroy(&bad);
  aspd_instance_t broken;
  bool started = aspd_harness_start(&broken, state_dir, NULL);
  CHECK(!started, "aspd started with a malformed stored user");
  if (started) aspd_harness_stop(&broken);
}

static void test_users_file(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "users.json",
                               "[{\"user\": \"alice\", \"password\": \"alice-pw\", \"roles\": "
                               "[\"atlasAdmin\"]}, {\"user\": \"bob\", \"password\": \"bob-pw\"}]",
                               path, sizeof path)) {
    failures++;
    return;
  }
  const char *args[] = {"--users-file", path, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) {
    failures++;
    return;
  }
  char uri[2048], message[512];
  aspd_harness_uri_for(&inst, "alice", "alice-pw", uri, sizeof uri);
  expect_user(uri, "alice", "users-file admin");
  CHECK(asp_command_code(uri, message, sizeof message) == 0, "alice refused: %s", message);
  aspd_harness_uri_for(&inst, "bob", "bob-pw", uri, sizeof uri);
  expect_user(uri, "bob", "users-file user");
  aspd_harness_uri_for(&inst, "bob", "alice-pw", uri, sizeof uri);
  expect_auth_failure(uri, "alice-pw", "users-file wrong password");
  aspd_harness_stop(&inst);
}

/* Users aspd cannot serve stop start-up with a message instead of being skipped. */
static void test_refused_users(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "bad-users.json", "[{\"user\": \"carol\"}]", path,
                               sizeof path)) {
    failures++;
    return;
  }
  const char *const cases[][3] = {
      {"--user", "carol:p\xc3\xa4ssword:atlasAdmin", NULL}, /* non-ASCII: no SASLprep */
      {"--user", "carol-without-password", NULL},
      {"--user", "carol:pw:bad role", NULL},
      {"--users-file", path, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    aspd_instance_t inst;
    bool started = aspd_harness_start(&inst, NULL, cases[i]);
    CHECK(!started, "aspd started with %s %s", cases[i][0], cases[i][1]);
    if (started) aspd_harness_stop(&inst);
  }
}

int main(void) {
  mongoc_init();
  test_roles_and_mechanisms();
  test_users_file();
  test_refused_users();
  mongoc_cleanup();
  return check_msg_report("auth");
}
