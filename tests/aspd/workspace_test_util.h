/* Shared helpers of the workspace tests (header only: each test is one
 * executable). Drives aspd with libmongoc directly. */
#ifndef WORKSPACE_TEST_UTIL_H
#define WORKSPACE_TEST_UTIL_H

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aspd_harness.h"

static int wt_failures;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      wt_failures++;                                                  \
    }                                                                 \
  } while (0)

/* A Sample connection at 1000 docs/s, one unlimited, a Cluster and a Kafka connection. */
static const char *const WT_CONNECTIONS =
    "[{\"name\": \"fast_solar\", \"type\": \"Sample\", \"docsPerSecond\": 1000},"
    " {\"name\": \"unlimited_solar\", \"type\": \"Sample\", \"docsPerSecond\": 0},"
    " {\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\","
    "  \"dbRoleToExecute\": {\"role\": \"atlasAdmin\", \"type\": \"BUILT_IN\"}},"
    " {\"name\": \"kafka0\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\"}]";

/* Starts aspd with these connections (a JSON array); state_dir NULL = fresh.
 * Exits 1 on failure. */
static inline void wt_start_with(aspd_instance_t *inst, const char *state_dir,
                                 const char *connections) {
  if (!aspd_harness_start_connections(inst, state_dir, connections, NULL)) {
    fprintf(stderr, "FAIL: aspd did not start\n");
    exit(1);
  }
}

/* wt_start_with WT_CONNECTIONS. */
static inline void wt_start(aspd_instance_t *inst, const char *state_dir) {
  wt_start_with(inst, state_dir, WT_CONNECTIONS);
}

static inline mongoc_client_t *wt_client(const aspd_instance_t *inst) {
  static bool initialised;
  if (!initialised) {
    mongoc_init();
    initialised = true;
  }
  mongoc_client_t *client = mongoc_client_new(inst->uri);
  if (!client) {
    fprintf(stderr, "FAIL: bad uri %s\n", inst->uri);
    exit(1);
  }
  mongoc_client_set_error_api(client, 2);
  return client;
}

/* Runs a command given as Extended JSON; *reply is always initialised. */
static inline bool wt_run(mongoc_client_t *client, const char *json, bson_t *reply,
                          bson_error_t *error) {
  bson_error_t perr;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &perr);
  if (!cmd) {
    fprintf(stderr, "test bug: bad JSON %s: %s\n", json, perr.message);
    exit(2);
  }
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, error);
  bson_destroy(cmd);
  return ok;
}

static inline bool wt_ok_at(mongoc_client_t *client, const char *json, const char *file, int line) {
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(client, json, &reply, &error);
  if (!ok) {
    fprintf(stderr, "FAIL %s:%d: %s -> %s (code %u)\n", file, line, json, error.message,
            error.code);
    wt_failures++;
  }
  bson_destroy(&reply);
  return ok;
}
#define WT_OK(client, json) wt_ok_at(client, json, __FILE__, __LINE__)

/* Expects ok:0 with the code and a message containing text (NULL = any). */
static inline bool wt_err_at(mongoc_client_t *client, const char *json, uint32_t code,
                             const char *text, const char *file, int line) {
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(client, json, &reply, &error);
  bool good = !ok && error.code == code && (!text || strstr(error.message, text));
  if (!good) {
    fprintf(stderr, "FAIL %s:%d: %s -> %s (code %u), wanted code %u with \"%s\"\n", file, line,
            json, ok ? "ok" : error.message, ok ? 0 : error.code, code, text ? text : "");
    wt_failures++;
  }
  bson_destroy(&reply);
  return good;
}
#define WT_ERR(client, json, code, text) wt_err_at(client, json, code, text, __FILE__, __LINE__)

/* A string field of reply at a dotted path, copied into out ("" when missing). */
static inline const char *wt_str(const bson_t *doc, const char *path, char *out, size_t len) {
  bson_iter_t it, found;
  out[0] = '\0';
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_UTF8(&found)) {
    snprintf(out, len, "%s", bson_iter_utf8(&found, NULL));
  }
  return out;
}

/* A numeric field at a dotted path (-1 when missing); *type gets its BSON type. */
static inline int64_t wt_int(const bson_t *doc, const char *path, bson_type_t *type) {
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_NUMBER(&found)) {
    if (type) *type = bson_iter_type(&found);
    return bson_iter_as_int64(&found);
  }
  if (type) *type = BSON_TYPE_EOD;
  return -1;
}

static inline double wt_double(const bson_t *doc, const char *path) {
  bson_iter_t it, found;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_NUMBER(&found)) {
    return bson_iter_as_double(&found);
  }
  return -1;
}

static inline uint32_t wt_array_len(const bson_t *doc, const char *path) {
  bson_iter_t it, found, child;
  uint32_t n = 0;
  if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &found) &&
      BSON_ITER_HOLDS_ARRAY(&found) && bson_iter_recurse(&found, &child)) {
    while (bson_iter_next(&child)) n++;
  }
  return n;
}

/* Whether getStreamProcessor finds the processor. */
static inline bool wt_has_processor(mongoc_client_t *client, const char *name) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "{\"getStreamProcessor\": \"%s\"}", name);
  bson_t reply;
  bson_error_t error;
  bool found = wt_run(client, cmd, &reply, &error);
  bson_destroy(&reply);
  return found;
}

/* Runs aspd on state_dir, with extra_args (flags, already quoted as needed; "" for none),
 * expecting it to refuse to start: a non-zero exit (not the timeout's), no URI line, and
 * every one of the NULL-terminated needles in what it printed. */
static inline void wt_expect_refusal_with(const char *state_dir, const char *extra_args,
                                          const char *const *needles) {
  char cmd[4096], out[8192] = "";
  snprintf(cmd, sizeof cmd, "timeout 20 '%s' --dev --port 0 --state-dir '%s' %s 2>&1",
           getenv("ASPD_BIN"), state_dir, extra_args);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int status = pclose(p);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 124);
  CHECK(strstr(out, "mongodb://") == NULL);
  for (const char *const *needle = needles; *needle; needle++) {
    CHECK(strstr(out, *needle) != NULL);
    if (!strstr(out, *needle)) fprintf(stderr, "aspd said: %s\nwanted: %s\n", out, *needle);
  }
}

static inline void wt_expect_refusal(const char *state_dir, const char *needle) {
  const char *needles[] = {needle, NULL};
  wt_expect_refusal_with(state_dir, "", needles);
}

/* An integer of the processor's getStreamProcessorStats reply (field is a dotted
 * path, e.g. "stats.inputMessageCount"), -1 on error. */
static inline int64_t wt_stat(mongoc_client_t *client, const char *name, const char *field) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "{\"getStreamProcessorStats\": \"%s\"}", name);
  bson_t reply;
  bson_error_t error;
  int64_t n = wt_run(client, cmd, &reply, &error) ? wt_int(&reply, field, NULL) : -1;
  bson_destroy(&reply);
  return n;
}

/* getStreamProcessor's result.state. */
static inline const char *wt_state(mongoc_client_t *client, const char *name, char *out,
                                   size_t len) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "{\"getStreamProcessor\": \"%s\"}", name);
  bson_t reply;
  bson_error_t error;
  out[0] = '\0';
  if (wt_run(client, cmd, &reply, &error)) wt_str(&reply, "result.state", out, len);
  bson_destroy(&reply);
  return out;
}

/* Runs getMoreSampleStreamProcessor; returns the next cursor id (-1 on error) and adds the
 * number of messages to *count. */
static inline int64_t wt_get_more(mongoc_client_t *client, const char *name, int64_t cursor,
                                  int batch, uint32_t *count) {
  char cmd[512];
  if (batch > 0) {
    snprintf(cmd, sizeof cmd,
             "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": {\"$numberLong\": "
             "\"%lld\"}, \"batchSize\": %d}",
             name, (long long)cursor, batch);
  } else {
    snprintf(cmd, sizeof cmd,
             "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": {\"$numberLong\": "
             "\"%lld\"}}",
             name, (long long)cursor);
  }
  bson_t reply;
  bson_error_t error;
  int64_t next = -1;
  if (wt_run(client, cmd, &reply, &error)) {
    next = wt_int(&reply, "cursorId", NULL);
    if (count) *count += wt_array_len(&reply, "messages");
  }
  bson_destroy(&reply);
  return next;
}

/* getMores until cursorId 0 (at most 200), appending every message to out (an array
 * document being built); returns how many were collected. */
static inline uint32_t wt_collect(mongoc_client_t *c, const char *name, int64_t id, bson_t *out) {
  uint32_t n = 0;
  for (int i = 0; i < 200 && id > 0; i++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"getMoreSampleStreamProcessor\": \"%s\", \"cursorId\": %lld}",
             name, (long long)id);
    bson_t reply;
    bson_error_t error;
    if (!wt_run(c, cmd, &reply, &error)) {
      fprintf(stderr, "FAIL: getMore: %s\n", error.message);
      wt_failures++;
      bson_destroy(&reply);
      return n;
    }
    id = wt_int(&reply, "cursorId", NULL);
    bson_iter_t it, msg;
    if (bson_iter_init_find(&it, &reply, "messages") && bson_iter_recurse(&it, &msg)) {
      while (bson_iter_next(&msg)) {
        char key[16];
        snprintf(key, sizeof key, "%u", n++);
        bson_append_value(out, key, -1, bson_iter_value(&msg));
      }
    }
    bson_destroy(&reply);
    if (id > 0) usleep(10000);
  }
  CHECK(id == 0);
  return n;
}

/* Runs a processStreamProcessor command (JSON) and collects its whole output into out. */
static inline uint32_t wt_process(mongoc_client_t *c, const char *command_json, bson_t *out) {
  bson_t reply;
  bson_error_t error;
  if (!wt_run(c, command_json, &reply, &error)) {
    fprintf(stderr, "FAIL: %s -> %s\n", command_json, error.message);
    wt_failures++;
    bson_destroy(&reply);
    return 0;
  }
  int64_t id = wt_int(&reply, "cursorId", NULL);
  char name[128];
  wt_str(&reply, "name", name, sizeof name);
  bson_destroy(&reply);
  return wt_collect(c, name, id, out);
}

static inline int wt_finish(const char *test) {
  mongoc_cleanup();
  if (wt_failures) {
    fprintf(stderr, "%s: %d failure(s)\n", test, wt_failures);
    return 1;
  }
  printf("%s: ok\n", test);
  return 0;
}

#endif
