/* Writes that fail: a full disk (RLIMIT_FSIZE on aspd: a write past the limit fails with
 * EFBIG, as on a full file system) and a state directory that became read-only. A change
 * that cannot be persisted is refused with a clear error that names no server path and is
 * not on disk after a restart; everything acknowledged before is kept, and aspd keeps
 * serving. (Until the store commits in transactions, the refused change stays in memory
 * until the restart: docs/aspd.md, "Guarantees".) */
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "workspace_test_util.h"

#define FSIZE_LIMIT (24 * 1024)
#define NOBODY 65534

static const char create_fmt[] =
    "{\"createStreamProcessor\": \"%s\", \"pipeline\": ["
    "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
    "{\"$match\": {\"pad\": \"%0900d\"}},"
    "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}";

static void limit_file_size(void) {
  struct rlimit limit = {FSIZE_LIMIT, FSIZE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &limit);
}

static void become_nobody(void) {
  if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) _exit(126);
}

/* Creates name; *refused gets the error text when the server refused it. */
static bool create(mongoc_client_t *c, const char *name, char *refused, size_t len) {
  char json[2048];
  snprintf(json, sizeof json, create_fmt, name, 0);
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(c, json, &reply, &error);
  bson_destroy(&reply);
  if (!ok) snprintf(refused, len, "%s", error.message);
  return ok;
}

static bool exists(mongoc_client_t *c, const char *name) {
  char json[256];
  snprintf(json, sizeof json, "{\"getStreamProcessor\": \"%s\"}", name);
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(c, json, &reply, &error);
  bson_destroy(&reply);
  return ok;
}

static void check_refusal(const char *what, const char *message, const char *reason,
                          const char *state_dir) {
  if (!strstr(message, "could not persist") || !strstr(message, reason)) {
    fprintf(stderr, "FAIL: %s: unclear error '%s' (wanted '%s')\n", what, message, reason);
    wt_failures++;
  }
  if (strstr(message, state_dir) || strchr(message, '/')) {
    fprintf(stderr, "FAIL: %s: the error shows a server path: '%s'\n", what, message);
    wt_failures++;
  }
}

static void test_full_disk(void) {
  char state_dir[512];
  if (!aspd_harness_tempdir(state_dir, sizeof state_dir)) exit(1);
  aspd_harness_set_child_setup(limit_file_size);
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, state_dir, NULL)) exit(1);
  mongoc_client_t *c = wt_client(&inst);
  int acknowledged = 0;
  char refused[512] = "", name[32];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "p%d", i);
    if (!create(c, name, refused, sizeof refused)) break;
    acknowledged++;
  }
  printf("full disk: %d processors acknowledged before the file limit, then: %s\n", acknowledged,
         refused);
  CHECK(acknowledged > 0 && acknowledged < 100);
  check_refusal("create on a full disk", refused, "File too large", state_dir);
  WT_OK(c, "{\"listStreamProcessors\": 1}"); /* still serving */
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;

  /* The disk has room again: acknowledged processors are all there, the refused one not. */
  aspd_harness_set_child_setup(NULL);
  if (!aspd_harness_start(&inst, state_dir, NULL)) exit(1);
  c = wt_client(&inst);
  for (int i = 0; i < acknowledged; i++) {
    snprintf(name, sizeof name, "p%d", i);
    if (!exists(c, name)) {
      fprintf(stderr, "FAIL: acknowledged %s lost after the full disk\n", name);
      wt_failures++;
    }
  }
  snprintf(name, sizeof name, "p%d", acknowledged);
  CHECK(!exists(c, name));
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
}

static void test_read_only(void) {
  /* As root, aspd runs as nobody: root ignores the mode that makes the directory read-only. */
  bool root = geteuid() == 0;
  char state_dir[512], cmd[600];
  if (!aspd_harness_tempdir(state_dir, sizeof state_dir)) exit(1);
  if (root && chown(state_dir, NOBODY, NOBODY) != 0) exit(1);
  aspd_harness_set_child_setup(root ? become_nobody : NULL);
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, state_dir, NULL)) exit(1);
  mongoc_client_t *c = wt_client(&inst);
  char refused[512] = "";
  CHECK(create(c, "kept", refused, sizeof refused));

  CHECK(chmod(state_dir, 0500) == 0);
  CHECK(!create(c, "refused", refused, sizeof refused));
  printf("read-only state directory%s: %s\n", root ? " (aspd as nobody)" : "", refused);
  check_refusal("create in a read-only state directory", refused, "Permission denied", state_dir);
  bson_t reply;
  bson_error_t error;
  CHECK(!wt_run(c, "{\"dropStreamProcessor\": \"kept\"}", &reply, &error));
  bson_destroy(&reply);
  check_refusal("drop in a read-only state directory", error.message, "Permission denied",
                state_dir);
  WT_OK(c, "{\"listStreamProcessors\": 1}");
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++; /* its last flush fails too */
  CHECK(chmod(state_dir, 0700) == 0);

  if (!aspd_harness_start(&inst, state_dir, NULL)) exit(1);
  c = wt_client(&inst);
  CHECK(exists(c, "kept"));
  CHECK(!exists(c, "refused"));
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
  aspd_harness_set_child_setup(NULL);
  snprintf(cmd, sizeof cmd, "chown -R 0:0 '%s'", state_dir); /* the harness removes it */
  if (root && system(cmd) != 0) wt_failures++;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  test_full_disk();
  test_read_only();
  return wt_finish("fault_disk");
}
