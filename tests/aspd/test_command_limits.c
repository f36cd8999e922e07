/* Limits the command layer enforces with an error reply instead of a dropped connection:
 * a processor name holding a NUL byte (FailedToParse, 9) and a command document larger
 * than maxBsonObjectSize (BSONObjectTooLarge, 10334). libmongoc sends both as they are. */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>

#include "aspd_harness.h"
#include "check_msg.h"

static int64_t connection_id(mongoc_client_t *client) {
  bson_t cmd = BSON_INITIALIZER, reply;
  bson_error_t error;
  bson_iter_t it;
  int64_t id = -1;
  BSON_APPEND_INT32(&cmd, "hello", 1);
  if (mongoc_client_command_simple(client, "admin", &cmd, NULL, &reply, &error) &&
      bson_iter_init_find(&it, &reply, "connectionId") && BSON_ITER_HOLDS_NUMBER(&it)) {
    id = bson_iter_as_int64(&it);
  }
  bson_destroy(&cmd);
  bson_destroy(&reply);
  return id;
}

/* Runs cmd and checks it fails with the server code and a message containing text. */
static void expect_code(mongoc_client_t *client, const bson_t *cmd, uint32_t code, const char *text,
                        const char *what) {
  bson_t reply;
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error);
  CHECK(!ok && error.domain == MONGOC_ERROR_SERVER && error.code == code,
        "%s: expected server code %u, got ok=%d domain=%u code=%u \"%s\"", what, code, ok,
        error.domain, error.code, error.message);
  CHECK(strstr(error.message, text) != NULL, "%s: message \"%s\" lacks \"%s\"", what, error.message,
        text);
  bson_destroy(&reply);
}

static void nul_in_names(mongoc_client_t *client) {
  static const char *const commands[] = {"getStreamProcessor", "dropStreamProcessor",
                                         "startStreamProcessor", "stopStreamProcessor"};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    bson_t cmd = BSON_INITIALIZER;
    bson_append_utf8(&cmd, commands[i], -1, "victim\0x", 8);
    expect_code(client, &cmd, 9, "NUL", commands[i]);
    bson_destroy(&cmd);
  }
  /* A rename to a name with a NUL byte is refused the same way. */
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_UTF8(&cmd, "modifyStreamProcessor", "p");
  bson_append_utf8(&cmd, "name", -1, "a\0b", 3);
  expect_code(client, &cmd, 9, "NUL", "modify name");
  bson_destroy(&cmd);
}

static void oversized_command(mongoc_client_t *client) {
  int64_t before = connection_id(client);
  size_t big = 17u * 1024 * 1024;
  char *filler = bson_malloc(big + 1);
  memset(filler, 'x', big);
  filler[big] = '\0';
  bson_t cmd = BSON_INITIALIZER;
  BSON_APPEND_INT32(&cmd, "listStreamProcessors", 1);
  bson_append_utf8(&cmd, "comment", -1, filler, (int)big);
  expect_code(client, &cmd, 10334, "16777216", "17 MB command");
  bson_destroy(&cmd);
  bson_free(filler);
  int64_t after = connection_id(client);
  CHECK(before > 0 && before == after, "the connection was replaced: %lld then %lld",
        (long long)before, (long long)after);
}

int main(void) {
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  mongoc_init();
  mongoc_client_t *client = mongoc_client_new(inst.uri);
  mongoc_client_set_error_api(client, 2);
  nul_in_names(client);
  oversized_command(client);
  mongoc_client_destroy(client);
  aspd_harness_stop(&inst);
  mongoc_cleanup();
  return check_msg_report("aspd.command_limits");
}
