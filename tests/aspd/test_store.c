/* The state store: one aspd per state directory, the directory made private,
 * JSON state of earlier versions imported once, deep documents stored and
 * loaded back, and a commit that fails (RLIMIT_FSIZE) changes nothing and says
 * so without naming server paths. */
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "state_sql.h"
#include "workspace_test_util.h"

/* A second aspd on the directory is refused and names the first; the
 * directory is made 0700 though it existed with wider permissions. */
static void one_aspd_per_directory(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  CHECK(chmod(dir, 0755) == 0);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  struct stat st;
  CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
  char needle[64];
  snprintf(needle, sizeof needle, "in use by another aspd (pid %d)", (int)inst.pid);
  wt_expect_refusal(dir, needle);
  /* The first one is unaffected. */
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c, "{\"listStreamProcessors\": 1}");
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  /* Once it is gone the directory is free again. */
  wt_start(&inst, dir);
  CHECK(aspd_harness_stop(&inst) == 0);
}

static const char *const OLD_PROCESSORS =
    "{\"processors\": [{\"name\": \"old\", \"id\": \"0123456789abcdef01234567\","
    " \"pipeline\": [{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
    " {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"d\", \"coll\": "
    "\"c\"}}}], \"options\": {}, \"state\": \"STOPPED\", \"hasStarted\": true,"
    " \"totals\": {\"inputMessageCount\": 7}}]}";
static const char *const OLD_SINKS =
    "{\"collections\": [{\"connection\": \"cluster0\", \"db\": \"d\", \"coll\": \"c\","
    " \"docs\": [{\"n\": 1}, {\"n\": 2}]}],"
    " \"topics\": [{\"connection\": \"kafka0\", \"topic\": \"t\", \"firstOffset\": 5,"
    " \"docs\": [{\"k\": 1}]}]}";

/* The JSON files of earlier versions are read once; from then on the store is used. */
static void imports_json_once(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "processors.json", OLD_PROCESSORS, path, sizeof path) ||
      !aspd_harness_write_file(dir, "sinks.json", OLD_SINKS, path, sizeof path)) {
    exit(1);
  }
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  char s[64];
  CHECK(!strcmp(wt_state(c, "old", s, sizeof s), "STOPPED"));
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"old\"}", &reply, &error));
  CHECK(wt_int(&reply, "stats.inputMessageCount", NULL) == 7);
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  /* A changed JSON file is not read again. */
  if (!aspd_harness_write_file(dir, "processors.json", "{\"processors\": []}", path, sizeof path)) {
    exit(1);
  }
  wt_start(&inst, dir);
  c = wt_client(&inst);
  CHECK(wt_has_processor(c, "old"));
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* Duplicate names in a hand-edited file stop the import; nothing is imported. */
static void duplicate_names_refused(void) {
  char dir[512], path[1024];
  const char *dup =
      "{\"processors\": [{\"name\": \"a\", \"id\": \"0123456789abcdef01234567\","
      " \"pipeline\": [], \"options\": {}, \"state\": \"CREATED\"},"
      " {\"name\": \"a\", \"id\": \"0123456789abcdef01234568\", \"pipeline\": [],"
      " \"options\": {}, \"state\": \"CREATED\"}]}";
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "processors.json", dup, path, sizeof path)) {
    exit(1);
  }
  wt_expect_refusal(dir, "duplicate name 'a'");
}

/* A pipeline nested DEPTH levels deep is stored and loaded back. */
#define DEPTH 90
static void deep_documents(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  char *cmd = malloc(64 * DEPTH + 1024);
  size_t n = (size_t)sprintf(cmd,
                             "{\"createStreamProcessor\": \"deep\", \"pipeline\": [{\"$source\": "
                             "{\"connectionName\": \"sample_stream_solar\"}}, {\"$match\": "
                             "{\"x\": {\"$eq\": ");
  for (int i = 0; i < DEPTH; i++) n += (size_t)sprintf(cmd + n, "{\"a\": ");
  n += (size_t)sprintf(cmd + n, "1");
  for (int i = 0; i < DEPTH; i++) n += (size_t)sprintf(cmd + n, "}");
  sprintf(cmd + n, "}}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c, cmd);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"deep\"}", &reply, &error));
  char path[64 + 2 * DEPTH] = "result.pipeline.1.$match.x.$eq";
  for (int i = 0; i < DEPTH; i++) strcat(path, ".a");
  CHECK(wt_int(&reply, path, NULL) == 1);
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  free(cmd);
}

/* A create whose commit cannot fit under RLIMIT_FSIZE fails with a clear
 * error naming no path, and leaves nothing behind: not in memory, not after
 * a restart. Smaller changes still commit. */
#define FSIZE_LIMIT (2 << 20)
#define BIG_PAD (3 << 20)
static void failed_commit_changes_nothing(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = FSIZE_LIMIT;
  CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  setrlimit(RLIMIT_FSIZE, &old); /* only aspd runs under it */
  mongoc_client_t *c = wt_client(&inst);
  char *big = malloc(BIG_PAD + 1024);
  size_t n = (size_t)sprintf(big,
                             "{\"createStreamProcessor\": \"big\", \"pipeline\": [{\"$source\": "
                             "{\"connectionName\": \"sample_stream_solar\"}}, {\"$addFields\": "
                             "{\"pad\": \"");
  memset(big + n, 'x', BIG_PAD);
  n += BIG_PAD;
  sprintf(big + n, "\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  bson_t reply;
  bson_error_t error;
  CHECK(!wt_run(c, big, &reply, &error));
  bson_destroy(&reply);
  CHECK(strstr(error.message, "nothing was changed") != NULL);
  CHECK(strstr(error.message, "writing to disk failed") != NULL);
  CHECK(strstr(error.message, dir) == NULL);
  CHECK(strstr(error.message, "aspd.db") == NULL);
  CHECK(!wt_has_processor(c, "big"));
  WT_OK(c,
        "{\"createStreamProcessor\": \"small\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  /* The same name can be used: nothing of "big" was kept. */
  CHECK(!wt_run(c, big, &reply, &error));
  bson_destroy(&reply);
  CHECK(strstr(error.message, "already exists") == NULL);
  free(big);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  wt_start(&inst, dir);
  c = wt_client(&inst);
  CHECK(!wt_has_processor(c, "big"));
  CHECK(wt_has_processor(c, "small"));
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* Documents the store holds for cluster0's d.<coll>. */
static int64_t stored_in(const char *state_dir, const char *coll) {
  return sql_int_text(state_dir,
                      "SELECT count(*) FROM docs JOIN datasets ON docs.dataset = datasets.id"
                      " WHERE connection = 'cluster0' AND db = 'd' AND name = ?",
                      coll);
}

static bool temp_file_left(const char *dir) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp-*' | grep -q .", dir);
  return system(cmd) == 0;
}

/* kill -9 while a processor writes to a collection, KILLS times: every
 * acknowledged command survives, the processor runs again, what the sink had
 * committed before a kill is still there after it, no temporary file is left. */
#define KILLS 5
static void survives_kill_9(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"w\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"fast_solar\"}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\","
        " \"db\": \"d\", \"coll\": \"c\"}}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"w\"}");
  int64_t committed = 0;
  for (int k = 0; k < KILLS; k++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"k%d\", \"pipeline\": [{\"$source\": "
             "{\"connectionName\": \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": "
             "\"__testLog\"}}]}",
             k);
    WT_OK(c, cmd);
    usleep(100000 + (useconds_t)(rand() % 300000));
    mongoc_client_destroy(c);
    aspd_harness_kill(&inst);
    CHECK(!temp_file_left(dir));
    int64_t docs = stored_in(dir, "c");
    CHECK(docs >= committed); /* under load a flush may not have come between two kills */
    committed = docs;
    wt_start(&inst, dir);
    c = wt_client(&inst);
    char s[32];
    CHECK(!strcmp(wt_state(c, "w", s, sizeof s), "STARTED"));
    for (int j = 0; j <= k; j++) {
      snprintf(cmd, sizeof cmd, "k%d", j);
      CHECK(wt_has_processor(c, cmd));
    }
  }
  CHECK(committed > 0);
  /* It keeps writing after the restarts. */
  int64_t before = wt_stat(c, "w", "stats.outputMessageCount");
  usleep(300000);
  CHECK(wt_stat(c, "w", "stats.outputMessageCount") > before);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
}

/* --sink-max-docs: a collection keeps the newest N, in memory and in the
 * store; the dropped ones are counted in the writer's stats. */
#define WRITTEN 80
#define KEPT 50
static void sink_retention(void) {
  char dir[512], conns[1024], keep[16];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "connections.json", WT_CONNECTIONS, conns, sizeof conns)) {
    exit(1);
  }
  snprintf(keep, sizeof keep, "%d", KEPT);
  const char *args[] = {"--connections", conns, "--sink-max-docs", keep, NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, dir, args)) exit(1);
  mongoc_client_t *c = wt_client(&inst);
  char cmd[4096];
  size_t n = (size_t)sprintf(cmd,
                             "{\"createStreamProcessor\": \"r\", \"pipeline\": [{\"$source\": "
                             "{\"documents\": [");
  for (int i = 0; i < WRITTEN; i++) n += (size_t)sprintf(cmd + n, "%s{\"i\": %d}", i ? "," : "", i);
  sprintf(cmd + n,
          "]}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"d\", "
          "\"coll\": \"kept\"}}}]}");
  WT_OK(c, cmd);
  WT_OK(c, "{\"startStreamProcessor\": \"r\"}");
  int64_t dropped = -1;
  for (int i = 0; i < 100 && dropped != WRITTEN - KEPT; i++) {
    usleep(50000);
    dropped = wt_stat(c, "r", "stats.sinkDroppedMessageCount");
  }
  CHECK(dropped == WRITTEN - KEPT);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(stored_in(dir, "kept") == KEPT);
  if (!aspd_harness_start(&inst, dir, args)) exit(1);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(stored_in(dir, "kept") == KEPT);
}

int main(void) {
  one_aspd_per_directory();
  imports_json_once();
  duplicate_names_refused();
  deep_documents();
  failed_commit_changes_nothing();
  survives_kill_9();
  sink_retention();
  return wt_finish("aspd.store");
}
