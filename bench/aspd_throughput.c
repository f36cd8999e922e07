/* aspd throughput from 1 and from 8 concurrent libmongoc clients:
 *   - getStreamProcessor commands per second;
 *   - sampled documents per second from a sample source at full rate
 *     (docsPerSecond 0), each client reading its own sample cursor.
 * Run through bench/aspd.sh. ASPD_BIN names the server binary. */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aspd_harness.h"

#define SECONDS_PER_CELL 3.0
#define SAMPLE_BATCH 1000

static const char *const CONNECTIONS =
    "[{\"name\": \"full_rate\", \"type\": \"Sample\", \"docsPerSecond\": 0}]";

typedef struct {
  const char *uri;
  bool sample; /* false: getStreamProcessor */
  double seconds;
  int64_t count; /* commands or documents */
  bool failed;
} worker_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static mongoc_client_t *connect_client(const char *uri) {
  mongoc_client_t *client = mongoc_client_new(uri);
  if (client) mongoc_client_set_error_api(client, 2);
  return client;
}

static bool command(mongoc_client_t *client, const bson_t *cmd, bson_t *reply) {
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, &error);
  if (!ok) fprintf(stderr, "bench: command failed: %s\n", error.message);
  return ok;
}

static int64_t start_cursor(mongoc_client_t *client) {
  bson_t *cmd = BCON_NEW("startSampleStreamProcessor", BCON_UTF8("full"));
  bson_t reply;
  int64_t id = 0;
  bson_iter_t it;
  if (command(client, cmd, &reply) && bson_iter_init_find(&it, &reply, "cursorId")) {
    id = bson_iter_as_int64(&it);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return id;
}

static void run_getters(worker_t *w, mongoc_client_t *client) {
  bson_t *cmd = BCON_NEW("getStreamProcessor", BCON_UTF8("idle"));
  double end = now_s() + w->seconds;
  while (now_s() < end) {
    bson_t reply;
    if (!command(client, cmd, &reply)) w->failed = true;
    bson_destroy(&reply);
    if (w->failed) break;
    w->count++;
  }
  bson_destroy(cmd);
}

static void run_sampler(worker_t *w, mongoc_client_t *client) {
  int64_t cursor = start_cursor(client);
  double end = now_s() + w->seconds;
  while (cursor > 0 && now_s() < end) {
    bson_t *cmd = BCON_NEW("getMoreSampleStreamProcessor", BCON_UTF8("full"), "cursorId",
                           BCON_INT64(cursor), "batchSize", BCON_INT32(SAMPLE_BATCH));
    bson_t reply;
    bson_iter_t it, msgs;
    if (!command(client, cmd, &reply)) w->failed = true;
    bson_destroy(cmd);
    if (w->failed) {
      bson_destroy(&reply);
      break;
    }
    bson_iter_init_find(&it, &reply, "cursorId");
    cursor = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&msgs, &reply, "messages") && bson_iter_recurse(&msgs, &msgs)) {
      while (bson_iter_next(&msgs)) w->count++;
    }
    bson_destroy(&reply);
    /* A session ends at 40 MB of samples: open the next one. */
    if (cursor == 0) cursor = start_cursor(client);
  }
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  mongoc_client_t *client = connect_client(w->uri);
  if (!client) {
    w->failed = true;
    return NULL;
  }
  /* Connect and authenticate before the clock starts. */
  bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
  bson_t reply;
  w->failed = !command(client, ping, &reply);
  bson_destroy(&reply);
  bson_destroy(ping);
  if (!w->failed) {
    if (w->sample) {
      run_sampler(w, client);
    } else {
      run_getters(w, client);
    }
  }
  mongoc_client_destroy(client);
  return NULL;
}

/* Runs `clients` workers at once; returns the aggregate rate per second. */
static double measure(const char *uri, bool sample, int clients) {
  worker_t workers[8];
  pthread_t threads[8];
  for (int i = 0; i < clients; i++) {
    workers[i] = (worker_t){.uri = uri, .sample = sample, .seconds = SECONDS_PER_CELL};
  }
  double start = now_s();
  for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, worker_main, &workers[i]);
  int64_t total = 0;
  bool failed = false;
  for (int i = 0; i < clients; i++) {
    pthread_join(threads[i], NULL);
    total += workers[i].count;
    failed = failed || workers[i].failed;
  }
  double elapsed = now_s() - start;
  if (failed) {
    fprintf(stderr, "bench: a worker failed\n");
    exit(1);
  }
  return (double)total / elapsed;
}

static int64_t generated(mongoc_client_t *client) {
  bson_t *cmd = BCON_NEW("getStreamProcessorStats", BCON_UTF8("full"));
  bson_t reply;
  int64_t n = 0;
  bson_iter_t it;
  if (command(client, cmd, &reply) && bson_iter_init(&it, &reply) &&
      bson_iter_find_descendant(&it, "stats.inputMessageCount", &it)) {
    n = bson_iter_as_int64(&it);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

int main(void) {
  aspd_instance_t inst;
  if (!aspd_harness_start_connections(&inst, NULL, CONNECTIONS, NULL)) return 1;
  mongoc_init();
  mongoc_client_t *admin = connect_client(inst.uri);
  bson_error_t error;
  bson_t reply;
  const char *setup[] = {
      "{\"createStreamProcessor\": \"idle\", \"pipeline\": [{\"$source\": {\"connectionName\": "
      "\"sample_stream_solar\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
      "{\"createStreamProcessor\": \"full\", \"pipeline\": [{\"$source\": {\"connectionName\": "
      "\"full_rate\"}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
  };
  for (size_t i = 0; i < 2; i++) {
    bson_t *cmd = bson_new_from_json((const uint8_t *)setup[i], -1, &error);
    if (!command(admin, cmd, &reply)) return 1;
    bson_destroy(&reply);
    bson_destroy(cmd);
  }

  double get1 = measure(inst.uri, false, 1);
  double get8 = measure(inst.uri, false, 8);

  bson_t *start = BCON_NEW("startStreamProcessor", BCON_UTF8("full"));
  if (!command(admin, start, &reply)) return 1;
  bson_destroy(&reply);
  bson_destroy(start);
  /* Every cursor sees every document: the source rate is the distinct documents. */
  double source1, source8;
  int64_t g0 = generated(admin);
  double t0 = now_s();
  double sample1 = measure(inst.uri, true, 1);
  int64_t g1 = generated(admin);
  double t1 = now_s();
  double sample8 = measure(inst.uri, true, 8);
  source1 = (double)(g1 - g0) / (t1 - t0);
  source8 = (double)(generated(admin) - g1) / (now_s() - t1);

  printf("aspd throughput (%.0f s per cell, TLS + SCRAM, libmongoc %s)\n", SECONDS_PER_CELL,
         MONGOC_VERSION_S);
  printf("%-40s %12s %12s\n", "", "1 client", "8 clients");
  printf("%-40s %12.0f %12.0f\n", "getStreamProcessor commands/s", get1, get8);
  printf("%-40s %12.0f %12.0f\n", "sampled documents/s (sum over cursors)", sample1, sample8);
  printf("%-40s %12.0f %12.0f\n", "source documents/s (docsPerSecond 0)", source1, source8);
  mongoc_client_destroy(admin);
  mongoc_cleanup();
  aspd_harness_stop(&inst);
  return 0;
}
