/* aspd under load (run through bench/load.sh; ASPD_BIN names the server):
 *   1. 200 concurrent clients, each on its own connection, each sending 1,000 commands
 *      (getStreamProcessor, listStreamProcessors with a filter, ping in turn): commands/s,
 *      p50 / p99 latency, errors (must be 0).
 *   2. 20 concurrent samplers on one processor fed sequence-numbered documents through a
 *      topic: each sampler must see every number exactly once, in order.
 *   aspd's resident memory (VmRSS) before, at the peak (VmHWM) and after each part.
 * Any error, lost, duplicated or reordered document makes the program exit 1. */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aspd_harness.h"

#define CLIENTS 200
#define COMMANDS 1000
#define SAMPLERS 20
#define SEQUENCE 5000 /* below a sample cursor's 10,000-document buffer: none may be skipped */

static const char *const CONNECTIONS =
    "[{\"name\": \"kafka0\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\"}]";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM of pid, in MB. */
static double memory_mb(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  double kb = -1;
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, field, strlen(field)) == 0) kb = atof(line + strlen(field) + 1);
  }
  if (f) fclose(f);
  return kb / 1024.0;
}

static bool run(mongoc_client_t *c, const bson_t *cmd, bson_t *reply) {
  bson_error_t error;
  bool ok = mongoc_client_command_simple(c, "admin", cmd, NULL, reply, &error);
  if (!ok) fprintf(stderr, "load: %s\n", error.message);
  return ok;
}

static bool run_json(mongoc_client_t *c, const char *json) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error);
  bson_t reply;
  bool ok = cmd && run(c, cmd, &reply);
  if (cmd) bson_destroy(&reply);
  bson_destroy(cmd);
  return ok;
}

/* ---- part 1: many clients ---- */

typedef struct {
  const char *uri;
  pthread_barrier_t *ready;
  double latency[COMMANDS];
  int errors;
} client_t;

static void *client_main(void *arg) {
  client_t *w = arg;
  mongoc_client_t *c = mongoc_client_new(w->uri);
  mongoc_client_set_error_api(c, 2);
  bson_t *cmds[3] = {BCON_NEW("getStreamProcessor", BCON_UTF8("load")),
                     BCON_NEW("listStreamProcessors", BCON_INT32(1), "filter", "{", "name",
                              BCON_UTF8("load"), "}"),
                     BCON_NEW("ping", BCON_INT32(1))};
  bson_t reply;
  run(c, cmds[2], &reply); /* connect and authenticate before the clock starts */
  bson_destroy(&reply);
  pthread_barrier_wait(w->ready);
  for (int i = 0; i < COMMANDS; i++) {
    double t0 = now_s();
    if (!run(c, cmds[i % 3], &reply)) w->errors++;
    bson_destroy(&reply);
    w->latency[i] = now_s() - t0;
  }
  for (int i = 0; i < 3; i++) bson_destroy(cmds[i]);
  mongoc_client_destroy(c);
  return NULL;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static bool many_clients(const aspd_instance_t *inst) {
  mongoc_client_t *admin = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(admin, 2);
  bool ok = run_json(admin,
                     "{\"createStreamProcessor\": \"load\", \"pipeline\": ["
                     "{\"$source\": {\"connectionName\": \"sample_stream_solar\"}},"
                     "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  mongoc_client_destroy(admin);
  static client_t workers[CLIENTS];
  pthread_t threads[CLIENTS];
  pthread_barrier_t ready;
  pthread_barrier_init(&ready, NULL, CLIENTS + 1);
  double rss_before = memory_mb(inst->pid, "VmRSS");
  for (int i = 0; i < CLIENTS; i++) {
    workers[i] = (client_t){.uri = inst->uri, .ready = &ready};
    pthread_create(&threads[i], NULL, client_main, &workers[i]);
  }
  pthread_barrier_wait(&ready);
  double t0 = now_s();
  for (int i = 0; i < CLIENTS; i++) pthread_join(threads[i], NULL);
  double seconds = now_s() - t0;
  double peak = memory_mb(inst->pid, "VmHWM");
  struct timespec settle = {.tv_sec = 1};
  nanosleep(&settle, NULL);
  double rss_after = memory_mb(inst->pid, "VmRSS");

  static double all[CLIENTS * COMMANDS];
  int errors = 0;
  for (int i = 0; i < CLIENTS; i++) {
    memcpy(all + (size_t)i * COMMANDS, workers[i].latency, sizeof workers[i].latency);
    errors += workers[i].errors;
  }
  size_t n = (size_t)CLIENTS * COMMANDS;
  qsort(all, n, sizeof *all, compare);
  printf("%d clients x %d commands: %.0f commands/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
         CLIENTS, COMMANDS, (double)n / seconds, all[n / 2] * 1e3, all[n * 99 / 100] * 1e3, errors);
  printf("  aspd RSS: before %.1f MB, peak %.1f MB, after %.1f MB\n", rss_before, peak, rss_after);
  pthread_barrier_destroy(&ready);
  return ok && errors == 0;
}

/* ---- part 2: samplers on one processor ---- */

typedef struct {
  const char *uri;
  int64_t cursor;
  int seen;
  int duplicated_or_reordered;
  bool failed;
} sampler_t;

static void *sampler_main(void *arg) {
  sampler_t *s = arg;
  mongoc_client_t *c = mongoc_client_new(s->uri);
  mongoc_client_set_error_api(c, 2);
  double deadline = now_s() + 120;
  int64_t expect = 1;
  while (expect <= SEQUENCE && now_s() < deadline && !s->failed) {
    bson_t *more = BCON_NEW("getMoreSampleStreamProcessor", BCON_UTF8("consumer"), "cursorId",
                            BCON_INT64(s->cursor), "batchSize", BCON_INT32(500));
    bson_t reply;
    bson_iter_t it, docs, doc, seq;
    s->failed = !run(c, more, &reply);
    bson_destroy(more);
    int got = 0;
    if (!s->failed && bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "messages", &docs) && bson_iter_recurse(&docs, &doc)) {
      while (bson_iter_next(&doc)) {
        bson_iter_t d;
        got++;
        if (!bson_iter_recurse(&doc, &d) || !bson_iter_find_descendant(&d, "seq", &seq)) continue;
        int64_t v = bson_iter_as_int64(&seq);
        if (v != expect) s->duplicated_or_reordered++;
        expect = v + 1;
        s->seen++;
      }
    }
    bson_destroy(&reply);
    if (got == 0) {
      struct timespec pause = {.tv_nsec = 20 * 1000 * 1000};
      nanosleep(&pause, NULL);
    }
  }
  mongoc_client_destroy(c);
  return NULL;
}

static bool many_samplers(const aspd_instance_t *inst) {
  mongoc_client_t *admin = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(admin, 2);
  /* The feeder writes 1..SEQUENCE to a topic; the consumer reads it; samplers tap the
   * consumer, opened before the first number is written. */
  char *docs = malloc(SEQUENCE * 16 + 16), *p = docs;
  for (int i = 1; i <= SEQUENCE; i++) p += sprintf(p, "%s{\"seq\": %d}", i > 1 ? "," : "", i);
  size_t feeder_len = strlen(docs) + 256;
  char *feeder = malloc(feeder_len);
  snprintf(feeder, feeder_len,
           "{\"createStreamProcessor\": \"feeder\", \"pipeline\": ["
           "{\"$source\": {\"documents\": [%s]}},"
           "{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"seq\"}}]}",
           docs);
  bool ok = run_json(admin,
                     "{\"createStreamProcessor\": \"consumer\", \"pipeline\": ["
                     "{\"$source\": {\"connectionName\": \"kafka0\", \"topic\": \"seq\"}},"
                     "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}") &&
            run_json(admin, "{\"startStreamProcessor\": \"consumer\"}") && run_json(admin, feeder);
  free(docs);
  free(feeder);
  static sampler_t samplers[SAMPLERS];
  pthread_t threads[SAMPLERS];
  for (int i = 0; ok && i < SAMPLERS; i++) {
    bson_t *start = BCON_NEW("startSampleStreamProcessor", BCON_UTF8("consumer"));
    bson_t reply;
    bson_iter_t it;
    ok = run(admin, start, &reply) && bson_iter_init_find(&it, &reply, "cursorId");
    samplers[i] = (sampler_t){.uri = inst->uri, .cursor = ok ? bson_iter_as_int64(&it) : 0};
    bson_destroy(&reply);
    bson_destroy(start);
  }
  double rss_before = memory_mb(inst->pid, "VmRSS");
  double t0 = now_s();
  for (int i = 0; ok && i < SAMPLERS; i++) {
    pthread_create(&threads[i], NULL, sampler_main, &samplers[i]);
  }
  ok = ok && run_json(admin, "{\"startStreamProcessor\": \"feeder\"}");
  int lost = 0, bad = 0;
  for (int i = 0; i < SAMPLERS; i++) {
    pthread_join(threads[i], NULL);
    lost += SEQUENCE - samplers[i].seen;
    bad += samplers[i].duplicated_or_reordered;
    ok = ok && !samplers[i].failed;
  }
  double seconds = now_s() - t0;
  double peak = memory_mb(inst->pid, "VmHWM");
  printf(
      "%d samplers x %d sequence-numbered documents: %.0f documents/s delivered, lost %d, "
      "duplicated or out of order %d\n",
      SAMPLERS, SEQUENCE, (double)SAMPLERS * SEQUENCE / seconds, lost, bad);
  printf("  aspd RSS: before %.1f MB, peak %.1f MB (since start), after %.1f MB\n", rss_before,
         peak, memory_mb(inst->pid, "VmRSS"));
  mongoc_client_destroy(admin);
  return ok && lost == 0 && bad == 0;
}

int main(void) {
  mongoc_init();
  /* 200 clients connect at once from one address: above the default per-address cap of
   * unauthenticated connections (64), which is the point of that cap. */
  const char *args[] = {"--max-unauthenticated-per-peer", "1000", NULL};
  aspd_instance_t inst;
  if (!aspd_harness_start_connections(&inst, NULL, CONNECTIONS, args)) return 1;
  printf("aspd RSS at start: %.1f MB\n", memory_mb(inst.pid, "VmRSS"));
  bool ok = many_clients(&inst);
  ok = many_samplers(&inst) && ok;
  ok = aspd_harness_stop(&inst) == 0 && ok;
  mongoc_cleanup();
  printf("load: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
