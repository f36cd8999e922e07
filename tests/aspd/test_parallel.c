/* Many clients drive the workspace at once: each thread creates, starts,
 * samples, stats, modifies, stops and drops its own processors while others
 * list them and run interactive processors. Checks replies stay right and the
 * server survives. */
#include <pthread.h>

#include "workspace_test_util.h"

#define THREADS 8
#define ROUNDS 6

static const char *uri;
static int thread_failures[THREADS];

static bool ok(mongoc_client_t *c, const char *json) {
  bson_t reply;
  bson_error_t error;
  bool r = wt_run(c, json, &reply, &error);
  if (!r) fprintf(stderr, "FAIL: %s -> %s\n", json, error.message);
  bson_destroy(&reply);
  return r;
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  mongoc_client_t *c = mongoc_client_new(uri);
  mongoc_client_set_error_api(c, 2);
  char cmd[1024], name[64];
  for (int round = 0; round < ROUNDS; round++) {
    snprintf(name, sizeof name, "p%d_%d", id, round);
    snprintf(
        cmd, sizeof cmd,
        "{\"createStreamProcessor\": \"%s\", \"pipeline\": [{\"$source\": {\"connectionName\": "
        "\"fast_solar\"}}, {\"$match\": {\"event_type\": 0}}, {\"$merge\": {\"into\": "
        "{\"connectionName\": \"cluster0\", \"db\": \"par\", \"coll\": \"c%d\"}}}]}",
        name, id);
    bool good = ok(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", name);
    good = good && ok(c, cmd);
    bson_t reply;
    bson_error_t error;
    snprintf(cmd, sizeof cmd, "{\"startSampleStreamProcessor\": \"%s\", \"limit\": 20}", name);
    int64_t cursor = -1;
    if (good && wt_run(c, cmd, &reply, &error)) cursor = wt_int(&reply, "cursorId", NULL);
    bson_destroy(&reply);
    uint32_t got = 0;
    for (int i = 0; i < 200 && cursor > 0; i++) {
      cursor = wt_get_more(c, name, cursor, 5, &got);
      if (cursor > 0) usleep(5000);
    }
    good = good && cursor == 0 && got == 20;
    good = good && ok(c, "{\"listStreamProcessors\": 1, \"filter\": {\"state\": \"STARTED\"}}");
    snprintf(cmd, sizeof cmd, "{\"getStreamProcessorStats\": \"%s\", \"verbose\": true}", name);
    good = good && ok(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"stopStreamProcessor\": \"%s\"}", name);
    good = good && ok(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"modifyStreamProcessor\": \"%s\", \"name\": \"%s_r\"}", name,
             name);
    good = good && ok(c, cmd);
    snprintf(cmd, sizeof cmd,
             "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"t\": %d}, {\"t\": "
             "%d}]}}]}",
             id, round);
    good = good && ok(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"dropStreamProcessor\": \"%s_r\"}", name);
    good = good && ok(c, cmd);
    if (!good) thread_failures[id]++;
  }
  mongoc_client_destroy(c);
  return NULL;
}

int main(void) {
  aspd_instance_t inst;
  wt_start(&inst, NULL);
  mongoc_client_t *c = wt_client(&inst);
  uri = inst.uri;
  pthread_t threads[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    if (thread_failures[i]) {
      fprintf(stderr, "FAIL: worker %d failed %d round(s)\n", i, thread_failures[i]);
      wt_failures++;
    }
  }
  /* Everything was dropped; the server still answers. */
  bson_t reply;
  bson_error_t error;
  CHECK(wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error));
  CHECK(wt_array_len(&reply, "streamProcessors") == 0);
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return wt_finish("aspd.parallel");
}
