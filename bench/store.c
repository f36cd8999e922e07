/* The state store, measured through a real aspd:
 *   - $merge and $emit (to a topic): documents committed to the store per
 *     CPU-second of the engine thread, and per wall second, from a sample
 *     source at full rate;
 *   - restart time with 1,000,000 documents stored in a collection;
 *   - find on that collection (a filter matching half of it), documents/s
 *     read by a libmongoc cursor in batches of FIND_BATCH;
 *   - on that collection too: aggregate ($match half, $group into 5), updateMany
 *     ($inc on a tenth) and deleteMany (another tenth), documents/s (the writes
 *     durable: acknowledged once committed).
 * Run through bench/store.sh. ASPD_BIN names the server binary. Any part that
 * fails makes the run fail. */
#include <dirent.h>
#include <mongoc/mongoc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aspd_harness.h"
#include "state_sql.h"

#define SECONDS 4.0
#define STORED_DOCS 1000000
#define RESTART_ROUNDS 3
#define FIND_BATCH 10000

static const char *const CONNECTIONS =
    "[{\"name\": \"full_rate\", \"type\": \"Sample\", \"docsPerSecond\": 0},"
    " {\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"C\","
    "  \"dbRoleToExecute\": {\"role\": \"atlasAdmin\", \"type\": \"BUILT_IN\"}},"
    " {\"name\": \"kafka0\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\"}]";

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool run(mongoc_client_t *client, const char *json) {
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error);
  bool ok = cmd && mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
  if (!ok) fprintf(stderr, "bench: %s failed: %s\n", json, error.message);
  bson_destroy(cmd);
  return ok;
}

/* CPU seconds of aspd's engine thread (named "aspd-engine"), or -1. */
static double engine_cpu_s(pid_t pid) {
  char path[256];
  snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  if (!d) return -1;
  double cpu = -1;
  struct dirent *ent;
  while ((ent = readdir(d)) && cpu < 0) {
    if (ent->d_name[0] == '.') continue;
    char file[1024], comm[64] = "";
    snprintf(file, sizeof file, "%s/%s/comm", path, ent->d_name);
    FILE *f = fopen(file, "r");
    if (!f) continue;
    bool engine = fgets(comm, sizeof comm, f) && !strncmp(comm, "aspd-engine", 11);
    fclose(f);
    if (!engine) continue;
    snprintf(file, sizeof file, "%s/%s/stat", path, ent->d_name);
    f = fopen(file, "r");
    char line[2048];
    if (f && fgets(line, sizeof line, f)) {
      /* Fields after the ")" that ends comm: utime and stime are the 12th and 13th. */
      const char *p = strrchr(line, ')');
      unsigned long utime = 0, stime = 0;
      if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                      &stime) == 2) {
        cpu = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
      }
    }
    if (f) fclose(f);
  }
  closedir(d);
  return cpu;
}

/* Documents ever committed to the dataset: its highest offset + 1. */
static int64_t committed(const char *state_dir, const char *name) {
  return sql_int_text(state_dir,
                      "SELECT coalesce(max(off) + 1, 0) FROM docs WHERE dataset ="
                      " (SELECT id FROM datasets WHERE name = ?)",
                      name);
}

/* Runs a full-rate processor writing to `sink` for SECONDS; prints durable
 * documents per engine CPU-second and per second. */
static bool measure_sink(const aspd_instance_t *inst, const char *name, const char *sink) {
  mongoc_client_t *c = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(c, 2);
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "{\"createStreamProcessor\": \"%s\", \"pipeline\": [{\"$source\": {\"connectionName\":"
           " \"full_rate\"}}, %s]}",
           name, sink);
  bool ok = run(c, cmd);
  snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", name);
  ok = ok && run(c, cmd);
  usleep(500000); /* past the start */
  int64_t n0 = committed(inst->state_dir, name);
  double cpu0 = engine_cpu_s(inst->pid), t0 = now_s();
  usleep((useconds_t)(SECONDS * 1e6));
  int64_t n1 = committed(inst->state_dir, name);
  double cpu1 = engine_cpu_s(inst->pid), t1 = now_s();
  snprintf(cmd, sizeof cmd, "{\"stopStreamProcessor\": \"%s\"}", name);
  ok = ok && run(c, cmd);
  mongoc_client_destroy(c);
  ok = ok && n0 >= 0 && n1 > n0 && cpu0 >= 0 && cpu1 > cpu0;
  if (!ok) {
    fprintf(stderr, "bench: %s: nothing measured (committed %lld -> %lld, cpu %.2f -> %.2f)\n",
            name, (long long)n0, (long long)n1, cpu0, cpu1);
    return false;
  }
  printf("%-34s %14.0f %14.0f %10.2f\n", name, (double)(n1 - n0) / (cpu1 - cpu0),
         (double)(n1 - n0) / (t1 - t0), (cpu1 - cpu0) / (t1 - t0));
  return true;
}

/* Writes STORED_DOCS documents into collection d.big of cluster0, directly. */
static bool seed(const char *state_dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return false;
  bool ok = sqlite3_exec(db,
                         "BEGIN; INSERT INTO datasets(connection, is_topic, db, name, first_offset)"
                         " VALUES ('cluster0', 0, 'd', 'big', 0)",
                         NULL, NULL, NULL) == SQLITE_OK;
  int64_t id = sqlite3_last_insert_rowid(db);
  sqlite3_stmt *st;
  ok =
      ok && sqlite3_prepare_v2(db, "INSERT INTO docs VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK;
  for (int64_t i = 0; ok && i < STORED_DOCS; i++) {
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(&oid), "device_id", BCON_UTF8("device_1"), "group_id",
                           BCON_INT32((int32_t)(i % 10)), "obs", "{", "watts",
                           BCON_INT32((int32_t)(i % 300)), "temp", BCON_DOUBLE(20.5), "}");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, i);
    sqlite3_bind_blob(st, 3, bson_get_data(doc), (int)doc->len, SQLITE_TRANSIENT);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    bson_destroy(doc);
  }
  sqlite3_finalize(st);
  ok = ok && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

/* Documents/s a find with a filter returns to a libmongoc cursor; -1 on error. */
static double find_rate(const aspd_instance_t *inst, int64_t *found) {
  mongoc_client_t *c = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(c, 2);
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "d", "big");
  bson_t *filter = BCON_NEW("group_id", "{", "$lt", BCON_INT32(5), "}");
  bson_t *opts = BCON_NEW("batchSize", BCON_INT32(FIND_BATCH));
  double t0 = now_s();
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
  const bson_t *doc;
  *found = 0;
  while (mongoc_cursor_next(cursor, &doc)) (*found)++;
  double t = now_s() - t0;
  bson_error_t error;
  bool ok = !mongoc_cursor_error(cursor, &error);
  if (!ok) fprintf(stderr, "bench: find failed: %s\n", error.message);
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  bson_destroy(opts);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(c);
  return ok ? (double)*found / t : -1;
}

/* aggregate, updateMany and deleteMany on d.big: prints documents/s of each; false
 * when one fails or touches another number of documents than expected. */
static bool crud_rates(const aspd_instance_t *inst) {
  mongoc_client_t *c = mongoc_client_new(inst->uri);
  mongoc_client_set_error_api(c, 2);
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "d", "big");
  bson_error_t error = {0};
  bool ok = true;

  bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$match", "{", "group_id", "{", "$lt",
                              BCON_INT32(5), "}", "}", "}", "{", "$group", "{", "_id",
                              BCON_UTF8("$group_id"), "n", "{", "$sum", BCON_INT32(1), "}", "watts",
                              "{", "$avg", BCON_UTF8("$obs.watts"), "}", "}", "}", "]");
  double t0 = now_s();
  mongoc_cursor_t *cursor =
      mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
  const bson_t *doc;
  int groups = 0;
  while (mongoc_cursor_next(cursor, &doc)) groups++;
  double t = now_s() - t0;
  if (mongoc_cursor_error(cursor, &error) || groups != 5) {
    fprintf(stderr, "bench: aggregate: %d groups (%s)\n", groups, error.message);
    ok = false;
  }
  mongoc_cursor_destroy(cursor);
  bson_destroy(pipeline);
  printf("%-34s %14.0f docs/s (%d documents in)\n", "aggregate $match + $group",
         (STORED_DOCS / 2) / t, STORED_DOCS / 2);

  bson_t *filter = BCON_NEW("group_id", BCON_INT32(3));
  bson_t *inc = BCON_NEW("$inc", "{", "obs.watts", BCON_INT32(1), "}");
  bson_t reply;
  t0 = now_s();
  bool done = mongoc_collection_update_many(coll, filter, inc, NULL, &reply, &error);
  t = now_s() - t0;
  bson_iter_t it;
  int64_t n =
      done && bson_iter_init_find(&it, &reply, "modifiedCount") ? bson_iter_as_int64(&it) : -1;
  if (n != STORED_DOCS / 10) {
    fprintf(stderr, "bench: updateMany modified %lld (%s)\n", (long long)n, error.message);
    ok = false;
  }
  bson_destroy(&reply);
  printf("%-34s %14.0f docs/s (%lld documents, durable)\n", "updateMany $inc", (double)n / t,
         (long long)n);

  bson_destroy(filter);
  filter = BCON_NEW("group_id", BCON_INT32(9));
  t0 = now_s();
  done = mongoc_collection_delete_many(coll, filter, NULL, &reply, &error);
  t = now_s() - t0;
  n = done && bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it) : -1;
  if (n != STORED_DOCS / 10) {
    fprintf(stderr, "bench: deleteMany deleted %lld (%s)\n", (long long)n, error.message);
    ok = false;
  }
  bson_destroy(&reply);
  printf("%-34s %14.0f docs/s (%lld documents, durable)\n", "deleteMany", (double)n / t,
         (long long)n);
  bson_destroy(filter);
  bson_destroy(inc);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(c);
  return ok;
}

int main(void) {
  char dir[512], conns[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir) ||
      !aspd_harness_write_file(dir, "connections.json", CONNECTIONS, conns, sizeof conns)) {
    return 1;
  }
  const char *args[] = {"--connections", conns, "--sink-max-docs", "2000000", NULL};
  mongoc_init();
  aspd_instance_t inst;
  if (!aspd_harness_start(&inst, NULL, args)) return 1;
  printf("aspd state store (%.0f s per sink, TLS + SCRAM)\n", SECONDS);
  printf("%-34s %14s %14s %10s\n", "durable documents", "per engine s", "per second", "engine CPU");
  bool ok = measure_sink(&inst, "merge",
                         "{\"$merge\": {\"into\": {\"connectionName\":"
                         " \"cluster0\", \"db\": \"d\", \"coll\": \"merge\"}}}");
  ok = measure_sink(&inst, "emit",
                    "{\"$emit\": {\"connectionName\": \"kafka0\", \"topic\":"
                    " \"emit\"}}") &&
       ok;
  if (aspd_harness_stop(&inst) != 0) ok = false;

  /* Restart with STORED_DOCS documents in one collection. */
  char state[512];
  if (!aspd_harness_tempdir(state, sizeof state)) return 1;
  if (!aspd_harness_start(&inst, state, args) || aspd_harness_stop(&inst) != 0 || !seed(state)) {
    fprintf(stderr, "bench: could not seed %d documents\n", STORED_DOCS);
    return 1;
  }
  double best = -1;
  for (int r = 0; r < RESTART_ROUNDS; r++) {
    double t0 = now_s();
    if (!aspd_harness_start(&inst, state, args)) return 1;
    double t = now_s() - t0;
    if (aspd_harness_stop(&inst) != 0) ok = false;
    if (best < 0 || t < best) best = t;
  }
  printf("%-34s %14.2f s (best of %d, to the URI line)\n", "restart, 1,000,000 stored docs", best,
         RESTART_ROUNDS);
  if (!aspd_harness_start(&inst, state, args)) return 1;
  int64_t found = 0;
  double rate = find_rate(&inst, &found);
  if (aspd_harness_stop(&inst) != 0) ok = false;
  if (rate < 0 || found != STORED_DOCS / 2) {
    fprintf(stderr, "bench: find returned %lld documents, expected %d\n", (long long)found,
            STORED_DOCS / 2);
    ok = false;
  }
  printf("%-34s %14.0f docs/s (%lld documents, batches of %d)\n", "find with a filter", rate,
         (long long)found, FIND_BATCH);
  if (!aspd_harness_start(&inst, state, args)) return 1;
  if (!crud_rates(&inst)) ok = false;
  if (aspd_harness_stop(&inst) != 0) ok = false;
  mongoc_cleanup();
  return ok ? 0 : 1;
}
