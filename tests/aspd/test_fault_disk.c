/* Writes that fail: a full disk (RLIMIT_FSIZE on aspd: a write past the limit fails with
 * EFBIG, as on a full file system). A change that cannot be committed is refused with a
 * clear error that names no server path, is neither in memory nor on disk after a restart;
 * everything acknowledged before is kept, and aspd keeps serving. (A state directory that
 * turns read-only under a running aspd: test_fault_readonly.) */
#include <signal.h>
#include <sys/resource.h>

#include "workspace_test_util.h"

/* Room for the store to open (database, WAL and its 32 KiB index), then a few dozen commits. */
#define FSIZE_LIMIT (256 * 1024)

static const char create_fmt[] =
    "{\"createStreamProcessor\": \"%s\", \"pipeline\": ["
    "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
    "{\"$match\": {\"pad\": \"%0900d\"}},"
    "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}";

static void limit_file_size(void) {
  struct rlimit limit = {FSIZE_LIMIT, FSIZE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &limit);
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

static void check_refusal(const char *what, const char *message, const char *reason,
                          const char *state_dir) {
  if (!strstr(message, "nothing was changed") || !strstr(message, reason)) {
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
  check_refusal("create on a full disk", refused, "the disk may be full", state_dir);
  WT_OK(c, "{\"listStreamProcessors\": 1}"); /* still serving */
  snprintf(name, sizeof name, "p%d", acknowledged);
  CHECK(!wt_has_processor(c, name)); /* the refused change is not applied in memory either */
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;

  /* The disk has room again: acknowledged processors are all there, the refused one not. */
  aspd_harness_set_child_setup(NULL);
  if (!aspd_harness_start(&inst, state_dir, NULL)) exit(1);
  c = wt_client(&inst);
  for (int i = 0; i < acknowledged; i++) {
    snprintf(name, sizeof name, "p%d", i);
    if (!wt_has_processor(c, name)) {
      fprintf(stderr, "FAIL: acknowledged %s lost after the full disk\n", name);
      wt_failures++;
    }
  }
  snprintf(name, sizeof name, "p%d", acknowledged);
  CHECK(!wt_has_processor(c, name));
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  test_full_disk();
  return wt_finish("fault_disk");
}
