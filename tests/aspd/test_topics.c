/* Topics with partitions: $emit with a key (Kafka's default partitioner),
 * keyFormat and headers; readTopic (the aspd extension) reading them back by
 * partition and offset; a Kafka $source reading every partition with
 * per-partition offsets in its checkpoint (stop/start and a restart of aspd
 * resume without duplicates), auto_offset_reset, _stream_meta.source, the
 * kafkaPartitions stats and the planner's refusals. */
#include <sqlite3.h>

#include "workspace_test_util.h"

static const char *const CONNECTIONS =
    "[{\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\"},"
    " {\"name\": \"solar5k\", \"type\": \"Sample\", \"docsPerSecond\": 5000},"
    " {\"name\": \"kafka4\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\","
    "  \"config\": {\"num.partitions\": \"4\"}},"
    " {\"name\": \"kafka1\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\"},"
    " {\"name\": \"kafkabad\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\","
    "  \"config\": {\"num.partitions\": \"0\"}}]";

/* Documents of t.<coll> matching the query (JSON), with the count command. */
static int64_t count_where(mongoc_client_t *c, const char *coll, const char *query) {
  char json[2048];
  snprintf(json, sizeof json, "{\"count\": \"%s\", \"query\": %s}", coll, query);
  bson_error_t error;
  bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &error), reply;
  int64_t n = -1;
  if (mongoc_client_command_simple(c, "t", cmd, NULL, &reply, &error)) {
    n = wt_int(&reply, "n", NULL);
  } else {
    fprintf(stderr, "count %s: %s\n", coll, error.message);
  }
  bson_destroy(&reply);
  bson_destroy(cmd);
  return n;
}

static int64_t count_docs(mongoc_client_t *c, const char *coll) {
  return count_where(c, coll, "{}");
}

/* Polls until the collection holds n documents (at most ~5 s), then returns its count. */
static int64_t wait_count(mongoc_client_t *c, const char *coll, int64_t n) {
  int64_t got = -1;
  for (int i = 0; i < 250 && (got = count_docs(c, coll)) < n; i++) usleep(20000);
  return got;
}

/* Emits `count` keyed messages k0..k(keys-1) to topic with an interactive processor. */
static void emit_keyed(mongoc_client_t *c, const char *topic, int first, int count, int keys) {
  char cmd[8192];
  int len =
      snprintf(cmd, sizeof cmd, "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [");
  for (int i = 0; i < count; i++) {
    len += snprintf(cmd + len, sizeof cmd - (size_t)len, "%s{\"k\": \"k%d\", \"n\": %d}",
                    i ? ", " : "", (first + i) % keys, first + i);
  }
  snprintf(cmd + len, sizeof cmd - (size_t)len,
           "]}}, {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": \"%s\", \"config\":"
           " {\"key\": \"$k\", \"keyFormat\": \"string\","
           " \"headers\": {\"src\": \"test\", \"n\": \"$n\"}}}}]}",
           topic);
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c, cmd, &out) == (uint32_t)count);
  bson_destroy(&out);
}

/* readTopic's reply (ok) into reply. */
static bool read_topic(mongoc_client_t *c, const char *json, bson_t *reply) {
  bson_error_t error;
  bool ok = wt_run(c, json, reply, &error);
  if (!ok) fprintf(stderr, "readTopic: %s\n", error.message);
  return ok;
}

static void emit_and_read(mongoc_client_t *c) {
  emit_keyed(c, "keyed", 0, 40, 5);
  bson_t r;
  char s[64];
  CHECK(read_topic(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"limit\": 1000}",
                   &r));
  CHECK(wt_array_len(&r, "partitions") == 4);
  CHECK(wt_array_len(&r, "messages") == 40);
  /* Every key stays in one partition; offsets count up per partition. */
  int partition_of[5] = {-1, -1, -1, -1, -1};
  int64_t sum = 0;
  for (uint32_t i = 0; i < 40; i++) {
    char path[64];
    snprintf(path, sizeof path, "messages.%u.key", i);
    const char *key = wt_str(&r, path, s, sizeof s);
    int k = key[0] == 'k' ? atoi(key + 1) : 0;
    snprintf(path, sizeof path, "messages.%u.partition", i);
    int p = (int)wt_int(&r, path, NULL);
    if (partition_of[k] < 0) partition_of[k] = p;
    CHECK(partition_of[k] == p);
    snprintf(path, sizeof path, "messages.%u.value.n", i);
    sum += wt_int(&r, path, NULL);
  }
  CHECK(sum == 40 * 39 / 2);
  for (int p = 0; p < 4; p++) {
    char path[64];
    snprintf(path, sizeof path, "partitions.%d.firstOffset", p);
    CHECK(wt_int(&r, path, NULL) == 0);
  }
  /* The headers as {k, v}, in the order given. */
  CHECK(!strcmp(wt_str(&r, "messages.0.headers.0.k", s, sizeof s), "src"));
  CHECK(!strcmp(wt_str(&r, "messages.0.headers.0.v", s, sizeof s), "test"));
  CHECK(!strcmp(wt_str(&r, "messages.0.headers.1.k", s, sizeof s), "n"));
  bson_destroy(&r);

  /* Kafka's default partitioner: murmur2("foobar") is -790332482, partition 2 of 4. */
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"k\": "
                   "\"foobar\"}, {\"k\": \"abc\"}]}}, {\"$emit\": {\"connectionName\": \"kafka4\","
                   " \"topic\": \"murmur\", \"config\": {\"key\": \"$k\", \"keyFormat\": "
                   "\"string\"}}}]}",
                   &out) == 2);
  bson_destroy(&out);
  CHECK(read_topic(
      c, "{\"readTopic\": \"murmur\", \"connectionName\": \"kafka4\", \"partition\": 2}", &r));
  CHECK(wt_array_len(&r, "messages") == 1);
  CHECK(!strcmp(wt_str(&r, "messages.0.key", s, sizeof s), "foobar"));
  bson_destroy(&r);
  /* murmur2("abc") is 479470107: partition 3. */
  CHECK(read_topic(
      c, "{\"readTopic\": \"murmur\", \"connectionName\": \"kafka4\", \"partition\": 3}", &r));
  CHECK(!strcmp(wt_str(&r, "messages.0.key", s, sizeof s), "abc"));
  bson_destroy(&r);

  /* From an offset of one partition. */
  CHECK(read_topic(c,
                   "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"partition\": 1,"
                   " \"offset\": 2, \"limit\": 1}",
                   &r));
  CHECK(wt_array_len(&r, "messages") <= 1);
  if (wt_array_len(&r, "messages") == 1) CHECK(wt_int(&r, "messages.0.offset", NULL) == 2);
  bson_destroy(&r);

  /* Without a key: round robin over the partitions. */
  bson_init(&out);
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"a\": 1}, "
                   "{\"a\": 2}, {\"a\": 3}, {\"a\": 4}]}}, {\"$emit\": {\"connectionName\": "
                   "\"kafka4\", \"topic\": \"rr\"}}]}",
                   &out) == 4);
  bson_destroy(&out);
  CHECK(read_topic(c, "{\"readTopic\": \"rr\", \"connectionName\": \"kafka4\"}", &r));
  CHECK(wt_int(&r, "partitions.0.endOffset", NULL) == 1);
  CHECK(wt_int(&r, "partitions.3.endOffset", NULL) == 1);
  bson_destroy(&r);
}

static void key_errors(mongoc_client_t *c) {
  char s[512];
  /* A key that does not fit keyFormat is a dead letter. */
  bson_t out = BSON_INITIALIZER;
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"k\": \"x\"},"
                   " {\"k\": 7}]}}, {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": "
                   "\"ints\", \"config\": {\"key\": \"$k\", \"keyFormat\": \"int\"}}}]}",
                   &out) == 2);
  CHECK(!strcmp(wt_str(&out, "0._dlqMessage.errInfo.reason", s, sizeof s),
                "Failed to evaluate key in KafkaEmitOperator :: caused by :: keyFormat int expects "
                "an int, but got string"));
  bson_destroy(&out);
  bson_t r;
  CHECK(read_topic(c, "{\"readTopic\": \"ints\", \"connectionName\": \"kafka4\"}", &r));
  CHECK(wt_array_len(&r, "messages") == 1);
  CHECK(wt_int(&r, "messages.0.key", NULL) == 7);
  bson_destroy(&r);
  /* Headers that are neither an object nor an array. */
  bson_init(&out);
  CHECK(wt_process(c,
                   "{\"processStreamProcessor\": [{\"$source\": {\"documents\": [{\"h\": 1}]}},"
                   " {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": \"h\", \"config\":"
                   " {\"headers\": \"$h\"}}}]}",
                   &out) == 1);
  CHECK(strstr(wt_str(&out, "0._dlqMessage.errInfo.reason", s, sizeof s),
               "Expected an object or an array, but got int") != NULL);
  bson_destroy(&out);
  /* The planner's refusals. */
  CHECK(WT_ERR(c,
               "{\"createStreamProcessor\": \"nokeyformat\", \"pipeline\": [{\"$source\": "
               "{\"documents\": []}}, {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": "
               "\"t\", \"config\": {\"key\": \"$k\"}}}]}",
               420, "Expected config.keyFormat to be specified when config.key is specified"));
  CHECK(WT_ERR(c,
               "{\"createStreamProcessor\": \"badformat\", \"pipeline\": [{\"$source\": "
               "{\"documents\": []}}, {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": "
               "\"t\", \"config\": {\"key\": \"$k\", \"keyFormat\": \"xml\"}}}]}",
               420, "config.keyFormat must be"));
  CHECK(WT_ERR(c,
               "{\"createStreamProcessor\": \"badcount\", \"pipeline\": [{\"$source\": "
               "{\"connectionName\": \"kafkabad\", \"topic\": \"t\"}}, {\"$emit\": "
               "{\"connectionName\": \"__testLog\"}}]}",
               420, "config \"num.partitions\" of Kafka connection kafkabad must be"));
  CHECK(WT_ERR(c,
               "{\"createStreamProcessor\": \"badidle\", \"pipeline\": [{\"$source\": "
               "{\"connectionName\": \"kafka4\", \"topic\": \"t\", \"partitionIdleTimeout\": "
               "{\"size\": 0, \"unit\": \"second\"}}}, {\"$emit\": {\"connectionName\": "
               "\"__testLog\"}}]}",
               420, "$source.partitionIdleTimeout must be"));
  /* Days whose milliseconds overflow an int64 (a signed overflow before). */
  CHECK(WT_ERR(c,
               "{\"createStreamProcessor\": \"hugeidle\", \"pipeline\": [{\"$source\": "
               "{\"connectionName\": \"kafka4\", \"topic\": \"t\", \"partitionIdleTimeout\": "
               "{\"size\": {\"$numberLong\": \"9223372036854775807\"}, \"unit\": \"day\"}}}, "
               "{\"$emit\": {\"connectionName\": \"__testLog\"}}]}",
               420, "$source.partitionIdleTimeout is too large"));
}

static void read_topic_errors(mongoc_client_t *c) {
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\"}", 9, "connectionName"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"nope\"}", 125,
               "connection named nope does not exist"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"cluster0\"}", 125,
               "is not a Kafka connection"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"never\", \"connectionName\": \"kafka4\"}", 125,
               "topic never does not exist on connection kafka4"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"partition\": 4}", 2,
               "partition 4 does not exist: topic keyed has 4"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"offset\": -1}", 2,
               "cannot be negative"));
  CHECK(WT_ERR(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"limit\": 0}", 2,
               "limit must be from 1 to 10000"));
}

/* A processor reading every partition: `earliest` reads what is there, `latest` only what
 * comes after its start; stop/start resumes from its per-partition offsets. */
static void consume(mongoc_client_t *c) {
  WT_OK(c,
        "{\"createStreamProcessor\": \"reader\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"kafka4\", \"topic\": \"keyed\", \"config\": {\"auto_offset_reset\": \"earliest\"},"
        " \"partitionIdleTimeout\": {\"size\": 1, \"unit\": \"ms\"}}},"
        " {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"t\", \"coll\":"
        " \"read\"}}}]}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"late\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"kafka4\", \"topic\": \"keyed\"}}, {\"$merge\": {\"into\": {\"connectionName\": "
        "\"cluster0\", \"db\": \"t\", \"coll\": \"late\"}}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"reader\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"late\"}");
  CHECK(wait_count(c, "read", 40) == 40);
  usleep(100000);
  CHECK(count_docs(c, "late") == 0);
  /* The source's metadata: topic, partition, offset and the record's key and headers. */
  CHECK(count_where(c, "read",
                    "{\"n\": 0, \"_stream_meta.source.type\": \"kafka\","
                    " \"_stream_meta.source.topic\": \"keyed\", \"_stream_meta.source.key\": "
                    "\"k0\", \"_stream_meta.source.offset\": {\"$gte\": 0},"
                    " \"_stream_meta.source.partition\": {\"$gte\": 0, \"$lt\": 4},"
                    " \"_stream_meta.source.headers.0.k\": \"src\"}") == 1);
  /* Stats: every partition, caught up, idle after 1 ms without messages. */
  bson_t reply;
  bson_error_t error;
  usleep(50000);
  CHECK(wt_run(c, "{\"getStreamProcessorStats\": \"reader\"}", &reply, &error));
  CHECK(wt_array_len(&reply, "stats.kafkaPartitions") == 4);
  CHECK(wt_int(&reply, "stats.kafkaTotalOffsetLag", NULL) == 0);
  bson_iter_t it;
  CHECK(bson_iter_init(&it, &reply) &&
        bson_iter_find_descendant(&it, "stats.kafkaPartitions.0.isIdle", &it) &&
        BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it));
  bson_destroy(&reply);

  emit_keyed(c, "keyed", 40, 10, 5);
  CHECK(wait_count(c, "read", 50) == 50);
  CHECK(wait_count(c, "late", 10) == 10);
  WT_OK(c, "{\"stopStreamProcessor\": \"reader\"}");
  emit_keyed(c, "keyed", 50, 10, 5);
  WT_OK(c, "{\"startStreamProcessor\": \"reader\"}");
  CHECK(wait_count(c, "read", 60) == 60);
  usleep(100000);
  CHECK(count_docs(c, "read") == 60); /* nothing read twice */
  WT_OK(c, "{\"stopStreamProcessor\": \"reader\"}");
}

/* Offsets commit with the sink contents they led to: a kill -9 while a generator
 * writes a topic and a reader copies it loses the same tail of both, so after the
 * restart every message of the topic is in the copy exactly once. */
static void kill_midway(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  wt_start_with(&inst, dir, CONNECTIONS);
  mongoc_client_t *c = wt_client(&inst);
  WT_OK(c,
        "{\"createStreamProcessor\": \"gen\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"solar5k\"}}, {\"$emit\": {\"connectionName\": \"kafka4\", \"topic\": \"big\"}}]}");
  WT_OK(c,
        "{\"createStreamProcessor\": \"copier\", \"pipeline\": [{\"$source\": {\"connectionName\":"
        " \"kafka4\", \"topic\": \"big\", \"config\": {\"auto_offset_reset\": \"earliest\"}}},"
        " {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"t\", \"coll\":"
        " \"copy\"}}}]}");
  WT_OK(c, "{\"startStreamProcessor\": \"copier\"}");
  WT_OK(c, "{\"startStreamProcessor\": \"gen\"}");
  usleep(700000);
  CHECK(count_docs(c, "copy") > 0);
  mongoc_client_destroy(c);
  aspd_harness_kill(&inst);

  wt_start_with(&inst, dir, CONNECTIONS);
  c = wt_client(&inst);
  usleep(200000);
  WT_OK(c, "{\"stopStreamProcessor\": \"gen\"}");
  for (int i = 0; i < 250 && wt_stat(c, "copier", "stats.kafkaTotalOffsetLag") != 0; i++)
    usleep(20000);
  CHECK(wt_stat(c, "copier", "stats.kafkaTotalOffsetLag") == 0);
  bson_t r;
  CHECK(
      read_topic(c, "{\"readTopic\": \"big\", \"connectionName\": \"kafka4\", \"limit\": 1}", &r));
  int64_t total = 0;
  for (int p = 0; p < 4; p++) {
    char path[64], query[128];
    snprintf(path, sizeof path, "partitions.%d.endOffset", p);
    int64_t end = wt_int(&r, path, NULL);
    snprintf(path, sizeof path, "partitions.%d.firstOffset", p);
    CHECK(wt_int(&r, path, NULL) == 0);
    snprintf(query, sizeof query, "{\"_stream_meta.source.partition\": %d}", p);
    int64_t copied = count_where(c, "copy", query);
    if (copied != end)
      fprintf(stderr, "partition %d: %lld messages, %lld copies\n", p, (long long)end,
              (long long)copied);
    CHECK(copied == end);
    total += end;
  }
  bson_destroy(&r);
  CHECK(total > 0);
  CHECK(count_docs(c, "copy") == total);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
}

/* A store written before topics had records holds bare values: it is upgraded once. */
static void upgrade_bare_topic(void) {
  char dir[512], path[1024];
  if (!aspd_harness_tempdir(dir, sizeof dir)) exit(1);
  aspd_instance_t inst;
  wt_start_with(&inst, dir, CONNECTIONS);
  aspd_harness_stop(&inst);
  snprintf(path, sizeof path, "%s/aspd.db", dir);
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db,
                     "DELETE FROM meta WHERE key = 'imported:topic-records';"
                     "INSERT INTO datasets(id, connection, is_topic, db, name, first_offset)"
                     " VALUES (99, 'kafka1', 1, '', 'old', 0);",
                     NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_stmt *st;
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO docs VALUES (99, ?, ?)", -1, &st, NULL) == SQLITE_OK);
  for (int i = 0; i < 3; i++) {
    bson_t *doc = BCON_NEW("n", BCON_INT32(i));
    sqlite3_bind_int(st, 1, i);
    sqlite3_bind_blob(st, 2, bson_get_data(doc), (int)doc->len, SQLITE_TRANSIENT);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
    bson_destroy(doc);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* Twice: the second start reads the records the first one wrote. */
  for (int round = 0; round < 2; round++) {
    wt_start_with(&inst, dir, CONNECTIONS);
    mongoc_client_t *c = wt_client(&inst);
    bson_t r;
    CHECK(read_topic(c, "{\"readTopic\": \"old\", \"connectionName\": \"kafka1\"}", &r));
    CHECK(wt_array_len(&r, "messages") == 3);
    CHECK(wt_int(&r, "messages.2.value.n", NULL) == 2);
    CHECK(wt_int(&r, "messages.2.offset", NULL) == 2);
    bson_destroy(&r);
    mongoc_client_destroy(c);
    aspd_harness_stop(&inst);
  }
}

int main(void) {
  char dir[512];
  if (!aspd_harness_tempdir(dir, sizeof dir)) return 1;
  aspd_instance_t inst;
  wt_start_with(&inst, dir, CONNECTIONS);
  mongoc_client_t *c = wt_client(&inst);
  emit_and_read(c);
  key_errors(c);
  read_topic_errors(c);
  consume(c);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);

  /* After a restart: the partitions and their messages are back, and the stopped reader
   * resumes from its per-partition offsets. */
  wt_start_with(&inst, dir, CONNECTIONS);
  c = wt_client(&inst);
  bson_t r;
  CHECK(read_topic(c, "{\"readTopic\": \"keyed\", \"connectionName\": \"kafka4\", \"limit\": 1000}",
                   &r));
  CHECK(wt_array_len(&r, "partitions") == 4);
  CHECK(wt_array_len(&r, "messages") == 60);
  bson_destroy(&r);
  emit_keyed(c, "keyed", 60, 10, 5);
  WT_OK(c, "{\"startStreamProcessor\": \"reader\"}");
  CHECK(wait_count(c, "read", 70) == 70);
  usleep(100000);
  CHECK(count_docs(c, "read") == 70);
  mongoc_client_destroy(c);
  aspd_harness_stop(&inst);
  kill_midway();
  upgrade_bare_topic();
  return wt_finish("aspd.topics");
}
