/* Engine throughput: documents a processor takes in per CPU-second of the
 * engine thread, from the processor's stats counters (inputMessageCount) and
 * the thread's CPU time (/proc/<aspd>/task/<tid>/stat of the thread named
 * "aspd-engine"), on a sample source at full rate, for
 *   - stateless: $match -> $project -> $emit;
 *   - windowed:  a 1 s $tumblingWindow with $group and three accumulators;
 *   - windowed with a large state: the same window with $push of every document's
 *     watts (the operators' state, checkpointed at each sink batch, grows to
 *     about a second of input);
 *   - expressions: $addFields with ten expression operators;
 *   - $lookup's equality form against a collection of 1,000 and of 100,000
 *     documents keyed by device_id (each input joins one);
 * and, as a reference, the source and the sink alone.
 * Rounds are interleaved (one processor runs at a time) and the medians are
 * compared with the targets. Run through bench/engine.sh. ASPD_BIN names the
 * server binary; ASP_BENCH_ONLY=<word> runs only the parts whose name starts
 * with it (to profile one pipeline). Exits 1 when a part fails (not when a
 * target is missed). */
#include <dirent.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aspd_harness.h"

#define ROUNDS 3
#define SECONDS_PER_ROUND 2.0
#define WARMUP_US 300000

static const char *const CONNECTIONS =
    "[{\"name\": \"full_rate\", \"type\": \"Sample\", \"docsPerSecond\": 0},"
    " {\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\"}]";

/* The collections the $lookup parts join, by size. */
static const int LOOKUP_SIZES[] = {1000, 100000};

#define LOOKUP(coll)                                                                          \
  "{\"$lookup\": {\"from\": {\"connectionName\": \"cluster0\", \"db\": \"bench\", \"coll\": " \
  "\"" coll                                                                                   \
  "\"}, \"localField\": \"device_id\", \"foreignField\": \"device_id\", \"as\": "             \
  "\"device\"}}"

#define SRC_ONLY "{\"$source\": {\"connectionName\": \"full_rate\"}}, "
#define LOG ", {\"$emit\": {\"connectionName\": \"__testLog\"}}"
#define LOG_ONLY "{\"$emit\": {\"connectionName\": \"__testLog\"}}"

typedef struct {
  const char *name;
  const char *pipeline; /* stages between the source and the sink */
  double target;        /* documents per engine CPU-second */
  double rates[ROUNDS];
} part_t;

static part_t parts[] = {
    /* The floor: generating, stamping and sinking a document with no stage between. */
    {"reference: $source -> $emit only", "", 0, {0}},
    {"stateless: $match -> $project -> $emit",
     "{\"$match\": {\"event_type\": 0, \"obs.watts\": {\"$gte\": 0}}}, {\"$project\": "
     "{\"device_id\": 1, \"watts\": \"$obs.watts\", \"temp\": \"$obs.temp\"}}",
     1000000,
     {0}},
    {"windowed: $tumblingWindow + $group (3 accumulators)",
     "{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
     "\"allowedLateness\": 0, \"pipeline\": [{\"$group\": {\"_id\": \"$device_id\", \"n\": "
     "{\"$sum\": 1}, \"avg\": {\"$avg\": \"$obs.watts\"}, \"max\": {\"$max\": \"$obs.temp\"}}}]}}",
     600000,
     {0}},
    {"windowed, large state: $group with $push",
     "{\"$tumblingWindow\": {\"interval\": {\"size\": 1, \"unit\": \"second\"}, "
     "\"allowedLateness\": 0, \"pipeline\": [{\"$group\": {\"_id\": \"$device_id\", \"all\": "
     "{\"$push\": \"$obs.watts\"}}}]}}",
     600000,
     {0}},
    {"expressions: $addFields with 10 operators",
     "{\"$addFields\": {\"e\": {\"$cond\": [{\"$and\": [{\"$gte\": [\"$obs.watts\", 10]}, "
     "{\"$lt\": [\"$obs.temp\", 20]}]}, {\"$multiply\": [{\"$add\": [\"$obs.watts\", 1]}, 2]}, "
     "{\"$subtract\": [\"$max_watts\", {\"$ifNull\": [\"$obs.watts\", 0]}]}]}, \"d\": "
     "{\"$toUpper\": {\"$concat\": [\"$device_id\", \"-x\"]}}}}",
     1000000,
     {0}},
    {"lookup: equality join, 1,000-document collection", LOOKUP("devices1000"), 200000, {0}},
    {"lookup: equality join, 100,000-document collection", LOOKUP("devices100000"), 200000, {0}},
};

#define PART_COUNT (sizeof parts / sizeof parts[0])

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) of aspd's engine thread; < 0 when it is not found. */
static double engine_cpu(pid_t pid) {
  char path[600], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *dir = opendir(path);
  if (!dir) return -1;
  double cpu = -1;
  struct dirent *d;
  while ((d = readdir(dir)) && cpu < 0) {
    if (d->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/comm", (int)pid, d->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    bool engine = fgets(buf, sizeof buf, f) && !strncmp(buf, "aspd-engine", 11);
    fclose(f);
    if (!engine) continue;
    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, d->d_name);
    f = fopen(path, "r");
    if (!f) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th. */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (p && sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &utime,
                    &stime) == 2) {
      cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    }
  }
  closedir(dir);
  return cpu;
}

static bool run_json(mongoc_client_t *client, const char *json, bson_t *reply) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error);
  if (!cmd) {
    fprintf(stderr, "bench: bad JSON: %s\n", error.message);
    return false;
  }
  bson_init(reply);
  bool ok = mongoc_client_command_simple(client, "admin", cmd, NULL, reply, &error);
  if (!ok) fprintf(stderr, "bench: %s -> %s\n", json, error.message);
  bson_destroy(cmd);
  return ok;
}

static int64_t input_count(mongoc_client_t *client, const char *name) {
  char json[256];
  bson_t reply;
  bson_iter_t it;
  int64_t n = -1;
  snprintf(json, sizeof json, "{\"getStreamProcessorStats\": \"%s\"}", name);
  if (run_json(client, json, &reply) && bson_iter_init(&it, &reply) &&
      bson_iter_find_descendant(&it, "stats.inputMessageCount", &it)) {
    n = bson_iter_as_int64(&it);
  }
  bson_destroy(&reply);
  return n;
}

static bool command(mongoc_client_t *client, const char *verb, const char *name) {
  char json[256];
  bson_t reply;
  snprintf(json, sizeof json, "{\"%s\": \"%s\"}", verb, name);
  bool ok = run_json(client, json, &reply);
  bson_destroy(&reply);
  return ok;
}

/* One round of one part: documents per engine CPU-second, < 0 on failure. */
static double round_of(mongoc_client_t *client, pid_t pid, size_t i) {
  char name[32];
  snprintf(name, sizeof name, "bench%zu", i);
  if (!command(client, "startStreamProcessor", name)) return -1;
  usleep(WARMUP_US);
  int64_t n0 = input_count(client, name);
  double c0 = engine_cpu(pid), t0 = now_s();
  while (now_s() - t0 < SECONDS_PER_ROUND) usleep(50000);
  int64_t n1 = input_count(client, name);
  double c1 = engine_cpu(pid);
  if (!command(client, "stopStreamProcessor", name)) return -1;
  if (n0 < 0 || n1 <= n0 || c0 < 0 || c1 <= c0) {
    fprintf(stderr, "bench: no progress for %s (docs %lld -> %lld, cpu %.2f -> %.2f)\n", name,
            (long long)n0, (long long)n1, c0, c1);
    return -1;
  }
  return (double)(n1 - n0) / (c1 - c0);
}

/* bench.devices<n>: n documents {device_id: "device_<i>", site, rating}, inserted in
 * batches of 1,000 (the sample source's device_0 .. device_10 are among them). */
static bool seed_lookup(mongoc_client_t *client, int n) {
  char coll[32];
  snprintf(coll, sizeof coll, "devices%d", n);
  bool ok = true;
  for (int first = 0; ok && first < n; first += 1000) {
    bson_t cmd = BSON_INITIALIZER, docs, doc, reply;
    BSON_APPEND_UTF8(&cmd, "insert", coll);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "documents", &docs);
    for (int i = first; i < first + 1000 && i < n; i++) {
      char key[16], id[32], site[32];
      const char *k;
      bson_uint32_to_string((uint32_t)(i - first), &k, key, sizeof key);
      snprintf(id, sizeof id, "device_%d", i);
      snprintf(site, sizeof site, "site_%d", i % 97);
      BSON_APPEND_DOCUMENT_BEGIN(&docs, k, &doc);
      BSON_APPEND_INT32(&doc, "_id", i);
      BSON_APPEND_UTF8(&doc, "device_id", id);
      BSON_APPEND_UTF8(&doc, "site", site);
      BSON_APPEND_INT32(&doc, "rating", i % 5);
      bson_append_document_end(&docs, &doc);
    }
    bson_append_array_end(&cmd, &docs);
    bson_error_t error;
    ok = mongoc_client_command_simple(client, "bench", &cmd, NULL, &reply, &error);
    if (!ok) fprintf(stderr, "bench: insert into bench.%s -> %s\n", coll, error.message);
    bson_destroy(&reply);
    bson_destroy(&cmd);
  }
  return ok;
}

static bool selected(const char *name, const char *only) {
  return !only || !*only || !strncmp(name, only, strlen(only));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(void) {
  aspd_instance_t inst;
  if (!aspd_harness_start_connections(&inst, NULL, CONNECTIONS, NULL)) return 1;
  mongoc_init();
  mongoc_client_t *client = mongoc_client_new(inst.uri);
  mongoc_client_set_error_api(client, 2);
  const char *only = getenv("ASP_BENCH_ONLY");
  bool ok = engine_cpu(inst.pid) >= 0;
  if (!ok) fprintf(stderr, "bench: aspd's engine thread not found in /proc\n");
  for (size_t i = 0; ok && i < sizeof LOOKUP_SIZES / sizeof LOOKUP_SIZES[0]; i++) {
    ok = seed_lookup(client, LOOKUP_SIZES[i]);
  }
  for (size_t i = 0; ok && i < PART_COUNT; i++) {
    char json[4096];
    bson_t reply;
    snprintf(json, sizeof json, "{\"createStreamProcessor\": \"bench%zu\", \"pipeline\": [%s%s%s]}",
             i, SRC_ONLY, parts[i].pipeline, *parts[i].pipeline ? LOG : LOG_ONLY);
    ok = run_json(client, json, &reply);
    bson_destroy(&reply);
  }
  for (int r = 0; ok && r < ROUNDS; r++) {
    for (size_t i = 0; ok && i < PART_COUNT; i++) {
      if (!selected(parts[i].name, only)) continue;
      parts[i].rates[r] = round_of(client, inst.pid, i);
      ok = parts[i].rates[r] > 0;
    }
  }
  if (ok) {
    printf("engine throughput of aspd: input documents per engine-thread CPU-second\n");
    printf("(sample source at full rate; median of %d interleaved rounds of %.0f s)\n", ROUNDS,
           SECONDS_PER_ROUND);
    printf("%-52s %12s %12s %8s\n", "pipeline", "docs/cpu-s", "target", "ratio");
    for (size_t i = 0; i < PART_COUNT; i++) {
      if (!selected(parts[i].name, only)) continue;
      qsort(parts[i].rates, ROUNDS, sizeof parts[i].rates[0], cmp_double);
      double median = parts[i].rates[ROUNDS / 2];
      if (parts[i].target > 0) {
        printf("%-52s %12.0f %12.0f %8.2f\n", parts[i].name, median, parts[i].target,
               median / parts[i].target);
      } else {
        printf("%-52s %12.0f %12s %8s\n", parts[i].name, median, "-", "-");
      }
    }
  }
  mongoc_client_destroy(client);
  mongoc_cleanup();
  aspd_harness_stop(&inst);
  return ok ? 0 : 1;
}
