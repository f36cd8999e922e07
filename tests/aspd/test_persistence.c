/* Persistence: processors (pipeline, options, state, counters), the registry and
 * sink contents survive a restart; STARTED processors run again; a corrupt state
 * file stops start-up with a clear message and is left untouched. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "state_sql.h"
#include "workspace_test_util.h"

/* Documents aspd keeps per collection (ASPD_MEMSTORE_RETAIN): the oldest go first. */
#define SINK_RETAIN 100000

static bool state_is(mongoc_client_t *c, const char *name, const char *want) {
  char s[32];
  return !strcmp(wt_state(c, name, s, sizeof s), want);
}

/* Runs sql on the state store (aspd stopped). */
static bool sql_exec(const char *state_dir, const char *sql) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db;
  bool ok =
      sqlite3_open(path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

static int64_t coll_docs(const char *state_dir, const char *coll) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM docs JOIN datasets ON docs.dataset = datasets.id"
           " WHERE connection = 'cluster0' AND db = 'solar' AND name = '%s' AND is_topic = 0",
           coll);
  return sql_int(state_dir, sql);
}

/* Number of documents persisted in collection solar.readings of cluster0. */
static int64_t persisted_docs(const char *state_dir) {
  CHECK(sql_int(state_dir,
                "SELECT count(*) FROM docs JOIN datasets ON docs.dataset = datasets.id"
                " WHERE connection = 'kafka0' AND name = 'numbers' AND is_topic = 1") == 3);
  return coll_docs(state_dir, "readings");
}

static void stop_at_full_rate(void) {
  char dir[512], cmd[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"full%d\", \"pipeline\": [{\"$source\": "
             "{\"connectionName\": \"unlimited_solar\"}}, {\"$merge\": {\"into\": "
             "{\"connectionName\": \"cluster0\", \"db\": \"solar\", \"coll\": \"full%d\"}}}]}",
             i, i);
    WT_OK(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"full%d\"}", i);
    WT_OK(c, cmd);
  }
  usleep(300000);
  int64_t emitted[2];
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd, "{\"getStreamProcessorStats\": \"full%d\"}", i);
    bson_t reply;
    bson_error_t error;
    CHECK(wt_run(c, cmd, &reply, &error));
    emitted[i] = wt_int(&reply, "stats.outputMessageCount", NULL);
    bson_destroy(&reply);
    if (emitted[i] > SINK_RETAIN) emitted[i] = SINK_RETAIN;
    CHECK(emitted[i] > 0);
  }
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  CHECK(coll_docs(dir, "full0") >= emitted[0]);
  CHECK(coll_docs(dir, "full1") >= emitted[1]);
}

#define CREATORS 4
#define CREATES 10

static const char *creator_uri;
static int creator_failures[CREATORS];

static void *creator(void *arg) {
  int id = (int)(intptr_t)arg;
  mongoc_client_t *c = mongoc_client_new(creator_uri);
  mongoc_client_set_error_api(c, 2);
  char cmd[512];
  for (int i = 0; i < CREATES; i++) {
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"c%d_%d\", \"pipeline\": [{\"$source\": "
             "{\"connectionName\": \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": "
             "\"__testLog\"}}]}",
             id, i);
    bson_t reply;
    bson_error_t error;
    if (!wt_run(c, cmd, &reply, &error)) creator_failures[id]++;
    bson_destroy(&reply);
  }
  mongoc_client_destroy(c);
  return NULL;
}

/* Commands from several clients at once: each one is in the store by the
 * time it is acknowledged. */
static void acknowledged_on_disk(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  wt_start(&inst, dir);
  creator_uri = inst.uri;
  pthread_t threads[CREATORS];
  for (int i = 0; i < CREATORS; i++) {
    pthread_create(&threads[i], NULL, creator, (void *)(intptr_t)i);
  }
  for (int i = 0; i < CREATORS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(creator_failures[i] == 0);
  }
  CHECK(sql_int(dir, "SELECT count(*) FROM records WHERE kind = 'processor'") ==
        CREATORS * CREATES);
  aspd_harness_stop(&inst);
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"created\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}],"
        " \"options\": {\"tier\": \"SP30\"}}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"running\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"fast_solar\"}}, {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": "
        "\"solar\", \"coll\": \"readings\"}}}]}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"stopped\", \"pipeline\": [{\"$source\": {\"documents\":"
        " [{\"n\": 1}, {\"n\": 2}, {\"n\": 3}]}}, {\"$emit\": {\"connectionName\": \"kafka0\","
        " \"topic\": \"numbers\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"running\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"stopped\"}");
  usleep(300000);
  WT_OK(c, "{\"stopStreamProcessor\": \"stopped\"}");
  int64_t before = wt_stat(c, "running", "stats.inputMessageCount");
  CHECK(before > 0);
  CHECK(wt_stat(c, "stopped", "stats.inputMessageCount") == 3);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);

  /* Everything acknowledged is on disk. */
  CHECK(persisted_docs(dir) > 0);

  /* Restart on the same state directory, without the connections file. */
  const char *no_args[] = {NULL};
  if (!aspd_harness_start(&inst, dir, no_args)) return 1;
  c = wt_client(&inst);
  CHECK(state_is(c, "created", "CREATED"));
  CHECK(state_is(c, "running", "STARTED"));
  CHECK(state_is(c, "stopped", "STOPPED"));
  char s[64];
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"created\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "result.tier", s, sizeof s), "SP30"));
  bson_destroy(&reply);
  CHECK(wt_run(c, "{\"listStreamConnections\": 1, \"filter\": {\"name\": \"cluster0\"}}", &reply,
               &error));
  CHECK(wt_array_len(&reply, "connections") == 1);
  bson_destroy(&reply);
  int64_t after = wt_stat(c, "running", "stats.inputMessageCount");
  CHECK(after >= before);
  CHECK(wt_stat(c, "stopped", "stats.inputMessageCount") == 3);
  usleep(300000);
  /* the STARTED processor runs again */
  CHECK(wt_stat(c, "running", "stats.inputMessageCount") > after);
  /* The inline documents source resumes from its checkpoint: nothing is emitted twice. */
  WT_OK(c, "{\"startStreamProcessor\": \"stopped\"}");
  usleep(100000);
  CHECK(wt_stat(c, "stopped", "stats.inputMessageCount") == 3);
  WT_OK(c, "{\"stopStreamProcessor\": \"stopped\"}");
  WT_OK(c, "{\"stopStreamProcessor\": \"running\"}");
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  /* Restored sinks are written again with what came since: the unchanged topic too. */
  CHECK(persisted_docs(dir) > 0);

  /* A processor whose connection disappeared comes back FAILED, and FAILED can start. */
  if (!aspd_harness_start(&inst, dir, no_args)) return 1;
  c = wt_client(&inst);
  WT_OK(c, "{\"startStreamProcessor\": \"running\"}");
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  /* The stored registry is kept aside and replaced by the BSON of {"connections": []}. */
  CHECK(sql_exec(dir,
                 "CREATE TABLE kept AS SELECT doc FROM records WHERE kind = 'registry';"
                 "UPDATE records SET doc = x'17000000' || x'04' || CAST('connections' AS BLOB) ||"
                 " x'00' || x'0500000000' || x'00' WHERE kind = 'registry'"));
  int64_t docs_before = coll_docs(dir, "readings");
  if (!aspd_harness_start(&inst, dir, no_args)) return 1;
  c = wt_client(&inst);
  CHECK(state_is(c, "running", "FAILED"));
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"running\"}", &reply, &error));
  CHECK(strstr(wt_str(&reply, "result.errorMsg", s, sizeof s), "fast_solar") != NULL);
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  /* No sink changed in that run. */
  CHECK(docs_before > 0 && coll_docs(dir, "readings") == docs_before);
  CHECK(sql_exec(dir,
                 "UPDATE records SET doc = (SELECT doc FROM kept) WHERE kind = 'registry';"
                 "DROP TABLE kept"));
  if (!aspd_harness_start(&inst, dir, no_args)) return 1;
  c = wt_client(&inst);
  CHECK(state_is(c, "running", "FAILED"));
  WT_OK(c, "{\"startStreamProcessor\": \"running\"}"); /* FAILED -> STARTED */
  CHECK(state_is(c, "running", "STARTED"));
  CHECK(wt_run(c, "{\"getStreamProcessor\": \"running\"}", &reply, &error));
  CHECK(!strcmp(wt_str(&reply, "result.errorMsg", s, sizeof s), ""));
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);

  /* A corrupt record in the store stops start-up, and stays as it was. */
  char sql[1024];
  snprintf(sql, sizeof sql, "%s/aspd.db", dir);
  sqlite3 *db;
  CHECK(sqlite3_open(sql, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "UPDATE records SET doc = x'00' WHERE name = 'created'", NULL, NULL,
                     NULL) == SQLITE_OK);
  sqlite3_close(db);
  wt_expect_refusal(dir, "the state store is corrupt (processor 'created'");
  CHECK(sql_int(dir, "SELECT length(doc) FROM records WHERE name = 'created'") == 1);

  stop_at_full_rate();
  acknowledged_on_disk();
  return wt_finish("aspd.persistence");
}
