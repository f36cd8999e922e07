/* 50 clients at once, each on its own thread with its own connection and
 * authentication: 20 pings and a hello each, all must succeed. */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "aspd_harness.h"

#define CLIENTS 50
#define PINGS 20

typedef struct {
  const char *uri;
  pthread_barrier_t *barrier;
  int succeeded;
  char error[512];
} worker_t;

static bool run(mongoc_client_t *client, bson_t *cmd, worker_t *w) {
  bson_error_t error;
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
  if (!ok) snprintf(w->error, sizeof w->error, "%s", error.message);
  bson_destroy(cmd);
  return ok;
}

static void *worker(void *arg) {
  worker_t *w = arg;
  mongoc_client_t *client = mongoc_client_new(w->uri);
  mongoc_client_set_error_api(client, 2);
  /* Start together so the server really holds 50 handshakes at once. */
  pthread_barrier_wait(w->barrier);
  for (int i = 0; i < PINGS; i++) {
    if (run(client, BCON_NEW("ping", BCON_INT32(1)), w)) w->succeeded++;
  }
  if (run(client, BCON_NEW("hello", BCON_INT32(1)), w)) w->succeeded++;
  mongoc_client_destroy(client);
  return NULL;
}

int main(void) {
  mongoc_init();
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, NULL)) return 1;
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, CLIENTS);
  worker_t workers[CLIENTS];
  pthread_t threads[CLIENTS];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < CLIENTS; i++) {
    workers[i] = (worker_t){.uri = inst.uri, .barrier = &barrier};
    pthread_create(&threads[i], NULL, worker, &workers[i]);
  }
  int failures = 0;
  for (int i = 0; i < CLIENTS; i++) {
    pthread_join(threads[i], NULL);
    if (workers[i].succeeded != PINGS + 1) {
      fprintf(stderr, "FAIL client %d: %d of %d commands succeeded (%s)\n", i, workers[i].succeeded,
              PINGS + 1, workers[i].error);
      failures++;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("concurrency: %d clients x %d commands in %.2f s (connect + SCRAM included)\n", CLIENTS,
         PINGS + 1, seconds);
  pthread_barrier_destroy(&barrier);
  if (aspd_harness_stop(&inst) != 0) {
    fprintf(stderr, "FAIL aspd did not exit 0\n");
    failures++;
  }
  mongoc_cleanup();
  return failures ? 1 : 0;
}
