/* kill -9 under load, then restart, repeated. Client threads create, start, stop and drop
 * processors while aspd is killed at a random moment; after each restart (which must
 * succeed) every change that was acknowledged is there: a processor whose create was
 * acknowledged exists unless its drop was, with the state of its last acknowledged
 * start/stop. A change in flight at the kill (no reply) may have landed or not; that name
 * is then left unchecked. Checked through the wire only, whatever the store is. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "workspace_test_util.h"

#define ROUNDS 6
#define THREADS 4
#define NAMES_PER_THREAD 400

typedef enum { ABSENT, CREATED, STARTED, STOPPED, UNCERTAIN } expect_t;

static const char *const state_names[] = {"absent", "CREATED", "STARTED", "STOPPED", "?"};

typedef struct {
  char uri[1100];
  int thread;
  int round;
  volatile bool *stop;
  expect_t expect[NAMES_PER_THREAD];
  int used; /* names 0..used-1 were touched */
} worker_t;

static worker_t workers[ROUNDS][THREADS];
static atomic_int acknowledged;
    /* this round's acknowledged changes, all threads */ /* every round's expectations, kept to the
                                                            end */

static void name_of(int round, int thread, int i, char *out, size_t len) {
  snprintf(out, len, "r%dt%dn%d", round, thread, i);
}

static const char create_pipeline[] =
    "[{\"$source\": {\"documents\": [{\"a\": 1}, {\"a\": 2}]}},"
    " {\"$emit\": {\"connectionName\": \"__testLog\"}}]";

/* Runs `command` on name i; ok -> the new expectation holds; a server error (not a network
 * one) leaves the old; a network error makes the name uncertain and ends the worker. */
static bool step(mongoc_client_t *c, worker_t *w, int i, const char *command, expect_t next) {
  char name[64], json[1024];
  name_of(w->round, w->thread, i, name, sizeof name);
  if (next == CREATED) {
    snprintf(json, sizeof json, "{\"%s\": \"%s\", \"pipeline\": %s}", command, name,
             create_pipeline);
  } else {
    snprintf(json, sizeof json, "{\"%s\": \"%s\"}", command, name);
  }
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(c, json, &reply, &error);
  bson_destroy(&reply);
  if (ok) {
    w->expect[i] = next;
    atomic_fetch_add(&acknowledged, 1);
    return true;
  }
  if (error.domain == MONGOC_ERROR_SERVER) return true; /* refused: nothing changed */
  w->expect[i] = UNCERTAIN;
  return false;
}

static void *work(void *arg) {
  worker_t *w = arg;
  mongoc_client_t *c = mongoc_client_new(w->uri);
  mongoc_client_set_error_api(c, 2);
  unsigned seed = (unsigned)(w->thread * 7919 + w->round);
  bool alive = true;
  for (int i = 0; alive && !*w->stop && i < NAMES_PER_THREAD; i++) {
    w->used = i + 1;
    alive = step(c, w, i, "createStreamProcessor", CREATED);
    int r = rand_r(&seed) % 4;
    if (alive && r >= 1) alive = step(c, w, i, "startStreamProcessor", STARTED);
    if (alive && r >= 2) alive = step(c, w, i, "stopStreamProcessor", STOPPED);
    if (alive && r == 3) alive = step(c, w, i, "dropStreamProcessor", ABSENT);
  }
  mongoc_client_destroy(c);
  return NULL;
}

/* name -> state from one listStreamProcessors. */
static const char *state_in(const bson_t *list, const char *name, char *out, size_t len) {
  bson_iter_t it, procs, proc;
  out[0] = '\0';
  if (!bson_iter_init_find(&it, list, "streamProcessors") || !bson_iter_recurse(&it, &procs)) {
    return out;
  }
  while (bson_iter_next(&procs)) {
    bson_iter_recurse(&procs, &proc);
    bool match = false;
    const char *state = NULL;
    while (bson_iter_next(&proc)) {
      if (!strcmp(bson_iter_key(&proc), "name") && BSON_ITER_HOLDS_UTF8(&proc)) {
        match = !strcmp(bson_iter_utf8(&proc, NULL), name);
      } else if (!strcmp(bson_iter_key(&proc), "state") && BSON_ITER_HOLDS_UTF8(&proc)) {
        state = bson_iter_utf8(&proc, NULL);
      }
    }
    if (match && state) {
      snprintf(out, len, "%s", state);
      return out;
    }
  }
  return out;
}

static int check_round(const aspd_instance_t *inst, int round) {
  mongoc_client_t *c = wt_client(inst);
  bson_t reply;
  bson_error_t error;
  int checked = 0;
  if (!wt_run(c, "{\"listStreamProcessors\": 1}", &reply, &error)) {
    fprintf(stderr, "FAIL: list after restart: %s\n", error.message);
    wt_failures++;
    mongoc_client_destroy(c);
    return 0;
  }
  for (int r = 0; r <= round; r++) { /* earlier rounds too: kill after kill */
    for (int t = 0; t < THREADS; t++) {
      const worker_t *w = &workers[r][t];
      for (int i = 0; i < w->used; i++) {
        if (w->expect[i] == UNCERTAIN) continue;
        char name[64], state[32];
        name_of(r, t, i, name, sizeof name);
        state_in(&reply, name, state, sizeof state);
        const char *want = state_names[w->expect[i]];
        bool good = w->expect[i] == ABSENT ? state[0] == '\0' : strcmp(state, want) == 0;
        if (!good) {
          fprintf(stderr, "FAIL: round %d: %s is %s after the restart, acknowledged as %s\n", round,
                  name, state[0] ? state : "absent", want);
          wt_failures++;
        }
        checked++;
      }
    }
  }
  bson_destroy(&reply);
  mongoc_client_destroy(c);
  return checked;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  char state_dir[512];
  if (!aspd_harness_tempdir(state_dir, sizeof state_dir)) return 1;
  unsigned seed = (unsigned)time(NULL);
  printf("fault_kill: seed %u\n", seed);
  for (int round = 0; round < ROUNDS; round++) {
    aspd_instance_t inst;
    if (!aspd_harness_start(&inst, state_dir, NULL)) {
      fprintf(stderr, "FAIL: round %d: aspd did not start after kill -9\n", round);
      return 1;
    }
    if (round > 0) {
      /* The previous round's processors, checked against what was acknowledged. */
      printf("round %d: %d acknowledged changes checked after kill -9\n", round,
             check_round(&inst, round - 1));
    }
    volatile bool stop = false;
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
      worker_t *w = &workers[round][t];
      w->thread = t;
      w->round = round;
      w->stop = &stop;
      snprintf(w->uri, sizeof w->uri, "%s&serverSelectionTimeoutMS=2000&socketTimeoutMS=10000",
               inst.uri);
      pthread_create(&threads[t], NULL, work, w);
    }
    /* Under load first (clients connected and changing things), then at a random moment. */
    atomic_store(&acknowledged, 0);
    for (int wait = 0; wait < 500 && atomic_load(&acknowledged) < 8; wait++) usleep(10 * 1000);
    usleep((useconds_t)(rand_r(&seed) % 500) * 1000);
    aspd_harness_kill(&inst);
    stop = true;
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);
    if (round == ROUNDS - 1) {
      if (!aspd_harness_start(&inst, state_dir, NULL)) {
        fprintf(stderr, "FAIL: aspd did not start after the last kill -9\n");
        return 1;
      }
      printf("last round: %d acknowledged changes checked\n", check_round(&inst, round));
      if (aspd_harness_stop(&inst) != 0) wt_failures++;
    }
  }
  return wt_finish("fault_kill");
}
