/* Open windows are checkpointed with the source offsets and the sink contents:
 * a tumbling window with $group ($sum, $avg, $push, $max, $median), a hopping
 * window with $limit and $sort and session windows with $group, over one topic,
 * interrupted mid-window (aspd stopped cleanly, then killed -9 once a flusher
 * commit holds the windows' state; the processor stopped and started; started
 * with clearCheckpoints), give exactly the output of an uninterrupted run, type
 * for type, with no document counted twice. */
#include <sqlite3.h>

#include "workspace_test_util.h"

#define DOCS 60            /* three 10 s windows of 20 documents each */
#define T0 1700000000000LL /* a multiple of 10 s: windows start at T0 */

static const char *const SOURCE =
    "{\"$source\": {\"connectionName\": \"kafka0\", \"topic\": \"readings\","
    " \"timeField\": {\"$toDate\": \"$t\"}, \"config\": {\"auto_offset_reset\": \"earliest\"}}}";

/* Three processors over one topic, each writing its own collection: a tumbling
 * window with $group, a hopping window whose $limit and $sort hold documents, and
 * session windows with the other accumulator families. */
static const char *const PROCESSORS[][2] = {
    {"win",
     "{\"$tumblingWindow\": {\"interval\": {\"size\": 10, \"unit\": \"second\"},"
     " \"allowedLateness\": 0, \"pipeline\": ["
     "  {\"$group\": {\"_id\": \"$k\", \"sum\": {\"$sum\": \"$v\"}, \"avg\": {\"$avg\": \"$v\"},"
     "   \"all\": {\"$push\": \"$v\"}, \"max\": {\"$max\": \"$v\"},"
     "   \"med\": {\"$median\": {\"input\": \"$v\", \"method\": \"approximate\"}}}}]}},"
     " {\"$set\": {\"k\": \"$_id\"}}, {\"$unset\": \"_id\"}"},
    {"hop",
     "{\"$hoppingWindow\": {\"interval\": {\"size\": 10, \"unit\": \"second\"},"
     " \"hopSize\": {\"size\": 5, \"unit\": \"second\"}, \"allowedLateness\": 0,"
     " \"pipeline\": [{\"$limit\": 7}, {\"$sort\": {\"v\": 1}}]}}"},
    {"sess",
     "{\"$sessionWindow\": {\"partitionBy\": \"$k\", \"gap\": {\"size\": 2, \"unit\": \"second\"},"
     " \"allowedLateness\": 0, \"pipeline\": ["
     "  {\"$group\": {\"_id\": \"$k\", \"n\": {\"$count\": {}}, \"first\": {\"$first\": \"$v\"},"
     "   \"last\": {\"$last\": \"$v\"}, \"types\": {\"$addToSet\": {\"$type\": \"$v\"}},"
     "   \"top\": {\"$topN\": {\"n\": 2, \"sortBy\": {\"v\": -1}, \"output\": \"$v\"}},"
     "   \"sd\": {\"$stdDevSamp\": \"$v\"},"
     "   \"pct\": {\"$percentile\": {\"input\": \"$v\", \"p\": [0.25, 0.75],"
     "    \"method\": \"approximate\"}}}}, {\"$set\": {\"k\": \"$_id\"}}, {\"$unset\": "
     "\"_id\"}]}}"},
};
#define NPROCESSORS (sizeof PROCESSORS / sizeof PROCESSORS[0])

static void create_all(mongoc_client_t *c) {
  for (size_t i = 0; i < NPROCESSORS; i++) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "{\"createStreamProcessor\": \"%s\", \"pipeline\": [%s, %s, {\"$emit\": "
             "{\"connectionName\": \"cluster0\", \"db\": \"t\", \"coll\": \"%s\"}}]}",
             PROCESSORS[i][0], SOURCE, PROCESSORS[i][1], PROCESSORS[i][0]);
    WT_OK(c, cmd);
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", PROCESSORS[i][0]);
    WT_OK(c, cmd);
  }
}

/* Document i: keys a, b and c in turn, values of three numeric types, 400 ms apart
 * in blocks of 20 that begin every 10 s (sessions end between blocks). Document DOCS
 * lies past every window and session and closes them. */
static int doc_json(int i, char *out, size_t len) {
  int64_t t = T0 + (i < DOCS ? (int64_t)(i % 20) * 400 + (int64_t)(i / 20) * 10000 : 40000);
  const char *k = i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c";
  char v[64];
  if (i % 4 == 1) {
    snprintf(v, sizeof v, "{\"$numberLong\": \"%lld\"}", 3000000000LL + i);
  } else if (i % 4 == 2) {
    snprintf(v, sizeof v, "%d.25", i);
  } else {
    snprintf(v, sizeof v, "%d", i * 7 % 23);
  }
  return snprintf(out, len, "{\"t\": {\"$numberLong\": \"%lld\"}, \"k\": \"%s\", \"v\": %s}",
                  (long long)t, k, v);
}

/* Appends documents [from, to) to the topic through an interactive processor. */
static void feed(mongoc_client_t *c, int from, int to) {
  char cmd[16384];
  int len =
      snprintf(cmd, sizeof cmd, "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [");
  for (int i = from; i < to; i++) {
    if (i > from) len += snprintf(cmd + len, sizeof cmd - (size_t)len, ", ");
    len += doc_json(i, cmd + len, sizeof cmd - (size_t)len);
  }
  snprintf(cmd + len, sizeof cmd - (size_t)len,
           "]}}, {\"$emit\": {\"connectionName\": \"kafka0\", \"topic\": \"readings\"}}]}");
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c, cmd, &out) == (uint32_t)(to - from));
  bson_destroy(&out);
}

/* The topic's end offset (how many documents it holds). */
static int topic_end(mongoc_client_t *c) {
  bson_t r;
  bson_error_t error;
  int end = -1;
  if (wt_run(c, "{\"readTopic\": \"readings\", \"connectionName\": \"kafka0\", \"limit\": 1}", &r,
             &error)) {
    end = (int)wt_int(&r, "partitions.0.endOffset", NULL);
  } else {
    fprintf(stderr, "readTopic: %s\n", error.message);
  }
  bson_destroy(&r);
  return end;
}

/* The least topic offset among the processors' committed checkpoints, and whether
 * each holds its operators' state (-1 until every processor has one). */
static int64_t committed_offset(const char *state_dir, bool *has_operators) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db;
  int64_t least = -1;
  size_t rows = 0;
  *has_operators = true;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT doc FROM checkpoints", -1, &st, NULL) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      bson_t doc;
      if (!bson_init_static(&doc, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)))
        continue;
      bson_iter_t it;
      int64_t offset = wt_int(&doc, "checkpoint.partitions.0.offset", NULL);
      if (!rows++ || offset < least) least = offset;
      *has_operators = *has_operators && bson_iter_init_find(&it, &doc, "operators");
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return rows == NPROCESSORS ? least : -1;
}

/* Waits (at most ~20 s) until the committed checkpoint has read n documents. */
static bool wait_committed(const char *state_dir, int64_t n, bool *has_operators) {
  for (int i = 0; i < 1000; i++) {
    if (committed_offset(state_dir, has_operators) >= n) return true;
    usleep(20000);
  }
  fprintf(stderr, "the committed checkpoint never reached offset %lld\n", (long long)n);
  return false;
}

static int64_t count_out(mongoc_client_t *c) {
  bson_error_t error;
  bson_t *cmd = BCON_NEW("count", "win"), reply;
  int64_t n = -1;
  if (mongoc_client_command_simple(c, "t", cmd, NULL, &reply, &error)) {
    n = wt_int(&reply, "n", NULL);
  } else {
    fprintf(stderr, "count: %s\n", error.message);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The window results as canonical Extended JSON (every type spelled out) without
 * _id, sorted: one string, to compare runs. */
static char *results_of(mongoc_client_t *c, const char *name) {
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "t", name);
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
  char *docs[256];
  size_t n = 0;
  const bson_t *doc;
  while (n < 256 && mongoc_cursor_next(cursor, &doc)) {
    bson_t copy = BSON_INITIALIZER;
    bson_copy_to_excluding_noinit(doc, &copy, "_id", NULL);
    docs[n++] = bson_as_canonical_extended_json(&copy, NULL);
    bson_destroy(&copy);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor, &error)) fprintf(stderr, "find: %s\n", error.message);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  qsort(docs, n, sizeof *docs, compare_strings);
  size_t total = 1;
  for (size_t i = 0; i < n; i++) total += strlen(docs[i]) + 1;
  char *all = calloc(1, total);
  for (size_t i = 0; i < n; i++) {
    strcat(all, docs[i]);
    strcat(all, "\n");
    bson_free(docs[i]);
  }
  return all;
}

/* Once every processor's committed checkpoint is past the last document, what the
 * windows closed is there (it was in the same batch), with anything counted twice. */
static char *final_results(mongoc_client_t *c, const char *state_dir) {
  bool ops;
  CHECK(wait_committed(state_dir, DOCS + 1, &ops));
  CHECK(count_out(c) == 9);
  size_t total = 1;
  char *parts[NPROCESSORS];
  for (size_t i = 0; i < NPROCESSORS; i++) {
    parts[i] = results_of(c, PROCESSORS[i][0]);
    total += strlen(parts[i]) + 16;
  }
  char *all = calloc(1, total);
  for (size_t i = 0; i < NPROCESSORS; i++) {
    strcat(all, PROCESSORS[i][0]);
    strcat(all, ":\n");
    strcat(all, parts[i]);
    free(parts[i]);
  }
  return all;
}

static char *uninterrupted(void) {
  aspd_instance_t inst;
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  create_all(c);
  feed(c, 0, DOCS + 1);
  char *out = final_results(c, dir);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return out;
}

static char *interrupted(void) {
  aspd_instance_t inst;
  char dir[512];
  bool ops = false;
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  create_all(c);
  /* Half of the first window, then a clean stop of aspd. */
  feed(c, 0, 10);
  CHECK(wait_committed(dir, 10, &ops));
  CHECK(ops);
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);

  /* The first window closes; half of the second, committed, then kill -9 while more
   * comes in (what was not committed is read again after the restart). */
  wt_start(&inst, dir);
  c = wt_client(&inst);
  CHECK(count_out(c) == 0);
  feed(c, 10, 30);
  CHECK(wait_committed(dir, 30, &ops));
  CHECK(ops);
  feed(c, 30, 34);
  mongoc_client_destroy(c);
  aspd_harness_kill(&inst);

  /* The rest, from wherever the committed topic ends. */
  wt_start(&inst, dir);
  c = wt_client(&inst);
  int end = topic_end(c);
  CHECK(end >= 30 && end <= 34);
  if (end >= 0) feed(c, end, DOCS + 1);
  char *out = final_results(c, dir);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return out;
}

/* The processor stopped and started mid-window resumes its windows; started with
 * clearCheckpoints it reads the topic from the start again with no window state, so
 * either way nothing is counted twice. */
static char *restarted_processor(const char *start) {
  aspd_instance_t inst;
  char dir[512];
  bool ops = false;
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  create_all(c);
  feed(c, 0, 10);
  CHECK(wait_committed(dir, 10, &ops));
  WT_OK(c, "{\"stopStreamProcessor\": \"win\"}");
  WT_OK(c, start);
  feed(c, 10, DOCS + 1);
  char *out = final_results(c, dir);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  return out;
}

/* The count a generator's processor committed: {$sum: 1} of its one open window's
 * one group (-1 when there is none); *has_source tells whether a source position was
 * committed too (a generator has none). */
static int64_t committed_count(const char *state_dir, bool *has_source) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db;
  int64_t n = -1;
  *has_source = false;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM checkpoints", -1, &st, NULL) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        bson_t doc;
        bson_iter_t it;
        if (!bson_init_static(&doc, sqlite3_column_blob(st, 0),
                              (size_t)sqlite3_column_bytes(st, 0))) {
          continue;
        }
        n = wt_int(&doc, "operators.state.0.windows.0.inner.0.groups.0.accs.0.isum", NULL);
        *has_source = bson_iter_init_find(&it, &doc, "checkpoint");
      }
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(db);
  return n;
}

/* A generator has no position, yet its window's state is committed and, once the
 * processor is stopped, kept across a restart of aspd for its next start. */
static void generator(void) {
  aspd_instance_t inst;
  char dir[512];
  bool has_source = true;
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  wt_start(&inst, dir);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"gen\", \"pipeline\": [{\"$source\": "
        "{\"connectionName\": \"fast_solar\"}}, {\"$tumblingWindow\": {\"interval\": "
        "{\"size\": 1, \"unit\": \"day\"}, \"pipeline\": [{\"$group\": {\"_id\": null, "
        "\"n\": {\"$sum\": 1}}}]}}, {\"$emit\": {\"connectionName\": \"__testLog\"}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"gen\"}");
  for (int i = 0; i < 500 && committed_count(dir, &has_source) < 300; i++) usleep(20000);
  WT_OK(c, "{\"stopStreamProcessor\": \"gen\"}");
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  int64_t before = committed_count(dir, &has_source);
  CHECK(before >= 300);
  CHECK(!has_source);

  wt_start(&inst, dir);
  c = wt_client(&inst);
  WT_OK(c, "{\"startStreamProcessor\": \"gen\"}");
  usleep(100000);
  WT_OK(c, "{\"stopStreamProcessor\": \"gen\"}");
  mongoc_client_destroy(c);
  CHECK(aspd_harness_stop(&inst) == 0);
  /* Counted on from where it stopped (begun afresh, it would hold ~100). */
  int64_t after = committed_count(dir, &has_source);
  CHECK(after >= before);
  if (after < before)
    fprintf(stderr, "before %lld, after %lld\n", (long long)before, (long long)after);
}

static void same(const char *what, const char *want, char *got) {
  CHECK(!strcmp(want, got));
  if (strcmp(want, got)) fprintf(stderr, "uninterrupted:\n%s\n%s:\n%s\n", want, what, got);
  free(got);
}

int main(void) {
  char *want = uninterrupted();
  /* Every processor wrote something: 9 groups, hopping windows, 9 sessions. */
  CHECK(strstr(want, "hop:\n{") && strstr(want, "sess:\n{") && strstr(want, "win:\n{"));
  same("aspd stopped, then killed", want, interrupted());
  same("processor stopped and started", want,
       restarted_processor("{\"startStreamProcessor\": \"win\"}"));
  same("started with clearCheckpoints", want,
       restarted_processor("{\"startStreamProcessor\": \"win\", \"clearCheckpoints\": true}"));
  free(want);
  generator();
  return wt_finish("checkpoint");
}
