/* A processing chain under kill -9, twenty times over. The chain:
 *
 *   gen:   the solar generator -> $emit to topic t (keyed by device_id, 3 partitions)
 *   copy:  $source topic t -> _id "<partition>-<offset>" -> $merge into chain.c on _id
 *   watch: change stream on chain.c -> $emit to topic u (keyed by the changed _id)
 *
 * plus a sample of `watch` after each restart. Each round lets the chain run a random
 * 100-800 ms, takes what a client reads (readTopic of t and u, find on chain.c), waits
 * until the state store holds it (reads see documents the flusher has not committed
 * yet; a kill loses those by design, so only what is both read and committed counts as
 * acknowledged), runs on for a random 0-120 ms, kills aspd with SIGKILL and checks that
 * the state directory holds no temporary file; one round in four kills it once more while
 * it starts up. Then aspd must start again on the same directory,
 * every acknowledged message and document must be there unchanged, chain.c must hold no duplicate
 * and nothing topic t does not hold, and the three processors must be STARTED and moving. At the
 * end the generator stops, the chain drains, and every message of t must be in chain.c exactly once
 * and have a change event in u; the events beyond the first per document (at-least-once) are
 * counted and printed.
 *
 * The kill moments come from a seed printed at start; ASPD_CHAIN_SEED=N replays one. */
#include <dirent.h>
#include <sqlite3.h>
#include <time.h>

#include "workspace_test_util.h"

#define ROUNDS 20
#define PARTS 3

static const char *const CONNECTIONS =
    "[{\"name\": \"solar\", \"type\": \"Sample\", \"docsPerSecond\": 400},"
    " {\"name\": \"cluster0\", \"type\": \"Cluster\", \"clusterName\": \"Cluster0\"},"
    " {\"name\": \"kafka3\", \"type\": \"Kafka\", \"bootstrapServers\": \"localhost:9092\","
    "  \"config\": {\"num.partitions\": \"3\"}}]";

static const char *const PROCESSORS[][2] = {
    {"watch",
     "[{\"$source\": {\"connectionName\": \"cluster0\", \"db\": \"chain\", \"coll\": \"c\"}},"
     " {\"$emit\": {\"connectionName\": \"kafka3\", \"topic\": \"u\", \"config\":"
     " {\"key\": \"$documentKey._id\", \"keyFormat\": \"string\"}}}]"},
    {"copy",
     "[{\"$source\": {\"connectionName\": \"kafka3\", \"topic\": \"t\", \"config\":"
     " {\"auto_offset_reset\": \"earliest\"}}},"
     " {\"$addFields\": {\"_id\": {\"$concat\": [{\"$toString\": "
     "\"$_stream_meta.source.partition\"}, \"-\", {\"$toString\": "
     "\"$_stream_meta.source.offset\"}]}}},"
     " {\"$merge\": {\"into\": {\"connectionName\": \"cluster0\", \"db\": \"chain\", \"coll\":"
     " \"c\"}, \"on\": \"_id\", \"whenMatched\": \"replace\", \"whenNotMatched\": \"insert\"}}]"},
    {"gen",
     "[{\"$source\": {\"connectionName\": \"solar\"}},"
     " {\"$emit\": {\"connectionName\": \"kafka3\", \"topic\": \"t\", \"config\":"
     " {\"key\": \"$device_id\", \"keyFormat\": \"string\"}}}]"},
};
#define NPROC 3

static bool start(aspd_instance_t *inst, const char *state_dir) {
  return aspd_harness_start_connections(inst, state_dir, CONNECTIONS, NULL);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- A set of "<partition>-<offset>" ids, as one bitmap per partition. ---- */

typedef struct {
  uint8_t *bits[PARTS];
  int64_t cap[PARTS]; /* bits */
  int64_t count;      /* distinct ids */
  int64_t dups;       /* ids added again */
  int64_t bad;        /* ids that do not parse */
} idset_t;

static void idset_clear(idset_t *s) {
  for (int p = 0; p < PARTS; p++) free(s->bits[p]);
  memset(s, 0, sizeof *s);
}

static bool idset_has(const idset_t *s, int p, int64_t o) {
  return p >= 0 && p < PARTS && o >= 0 && o < s->cap[p] && (s->bits[p][o / 8] >> (o % 8)) & 1;
}

static void idset_add(idset_t *s, const char *id) {
  int p;
  long long o;
  char tail;
  if (sscanf(id, "%d-%lld%c", &p, &o, &tail) != 2 || p < 0 || p >= PARTS || o < 0) {
    s->bad++;
    return;
  }
  if (o >= s->cap[p]) {
    int64_t cap = s->cap[p] ? s->cap[p] : 4096;
    while (cap <= o) cap *= 2;
    s->bits[p] = realloc(s->bits[p], (size_t)cap / 8);
    memset(s->bits[p] + s->cap[p] / 8, 0, (size_t)(cap - s->cap[p]) / 8);
    s->cap[p] = cap;
  }
  if (idset_has(s, p, o)) {
    s->dups++;
    return;
  }
  s->bits[p][o / 8] |= (uint8_t)(1u << (o % 8));
  s->count++;
}

/* ---- Reading back over the wire. ---- */

/* chain.c's ids into set (cleared first); false when find failed. */
static bool read_collection(mongoc_client_t *c, idset_t *set) {
  idset_clear(set);
  mongoc_collection_t *coll = mongoc_client_get_collection(c, "chain", "c");
  bson_t filter = BSON_INITIALIZER;
  bson_t *opts =
      BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "batchSize", BCON_INT32(10000));
  mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
  const bson_t *doc;
  bson_iter_t it;
  while (mongoc_cursor_next(cursor, &doc)) {
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)) {
      idset_add(set, bson_iter_utf8(&it, NULL));
    } else {
      set->bad++;
    }
  }
  bson_error_t error;
  bool ok = !mongoc_cursor_error(cursor, &error);
  if (!ok) fprintf(stderr, "find chain.c: %s\n", error.message);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(&filter);
  mongoc_collection_destroy(coll);
  return ok;
}

/* Each partition's endOffset (and a check that nothing was dropped: firstOffset 0). */
static bool topic_ends(mongoc_client_t *c, const char *topic, int64_t ends[PARTS]) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "{\"readTopic\": \"%s\", \"connectionName\": \"kafka3\", \"limit\": 1}",
           topic);
  bson_t reply;
  bson_error_t error;
  bool ok = wt_run(c, cmd, &reply, &error) && wt_array_len(&reply, "partitions") == PARTS;
  for (int p = 0; ok && p < PARTS; p++) {
    char path[64];
    snprintf(path, sizeof path, "partitions.%d.endOffset", p);
    ends[p] = wt_int(&reply, path, NULL);
    snprintf(path, sizeof path, "partitions.%d.firstOffset", p);
    CHECK(wt_int(&reply, path, NULL) == 0);
  }
  if (!ok) fprintf(stderr, "readTopic %s: %s\n", topic, error.message);
  bson_destroy(&reply);
  return ok;
}

static uint64_t fnv(uint64_t h, const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

/* A digest of partition p's messages [0, end) (key and value bytes, in offset order). keys
 * (when not NULL) collects their keys; *rewrites (when not NULL) counts the change events that
 * are not inserts (a document $merge wrote again). False if fewer than `end` came back. */
static bool topic_digest(mongoc_client_t *c, const char *topic, int p, int64_t end,
                         uint64_t *digest, idset_t *keys, int64_t *rewrites) {
  uint64_t h = 14695981039346656037ull;
  int64_t next = 0;
  while (next < end) {
    char cmd[256];
    int64_t want = end - next < 10000 ? end - next : 10000;
    snprintf(cmd, sizeof cmd,
             "{\"readTopic\": \"%s\", \"connectionName\": \"kafka3\", \"partition\": %d,"
             " \"offset\": %lld, \"limit\": %lld}",
             topic, p, (long long)next, (long long)want);
    bson_t reply;
    bson_error_t error;
    if (!wt_run(c, cmd, &reply, &error)) {
      fprintf(stderr, "readTopic %s/%d: %s\n", topic, p, error.message);
      bson_destroy(&reply);
      return false;
    }
    bson_iter_t it, msgs, msg;
    int64_t got = 0;
    if (bson_iter_init_find(&it, &reply, "messages") && bson_iter_recurse(&it, &msgs)) {
      while (bson_iter_next(&msgs) && next < end) {
        bson_iter_recurse(&msgs, &msg);
        int64_t offset = -1;
        while (bson_iter_next(&msg)) {
          const char *k = bson_iter_key(&msg);
          if (!strcmp(k, "offset")) {
            offset = bson_iter_as_int64(&msg);
          } else if (!strcmp(k, "value") && BSON_ITER_HOLDS_DOCUMENT(&msg)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&msg, &len, &data);
            h = fnv(h, data, len);
            bson_t value;
            bson_iter_t op;
            if (rewrites && bson_init_static(&value, data, len) &&
                bson_iter_init_find(&op, &value, "operationType") && BSON_ITER_HOLDS_UTF8(&op) &&
                strcmp(bson_iter_utf8(&op, NULL), "insert")) {
              (*rewrites)++;
            }
          } else if (!strcmp(k, "key") && BSON_ITER_HOLDS_UTF8(&msg)) {
            uint32_t len;
            const char *key = bson_iter_utf8(&msg, &len);
            h = fnv(h, (const uint8_t *)key, len);
            if (keys) idset_add(keys, key);
          }
        }
        if (offset != next) {
          fprintf(stderr, "readTopic %s/%d: offset %lld where %lld was due\n", topic, p,
                  (long long)offset, (long long)next);
          bson_destroy(&reply);
          return false;
        }
        next++;
        got++;
      }
    }
    bson_destroy(&reply);
    if (got == 0) {
      fprintf(stderr, "readTopic %s/%d: ends at %lld, %lld expected\n", topic, p, (long long)next,
              (long long)end);
      return false;
    }
  }
  *digest = h;
  return true;
}

/* ---- What the store holds (the test reads aspd.db itself, read-only). ---- */

/* Committed messages of a partition of t or u, or documents of chain.c (p < 0); -1 on error. */
static int64_t committed(sqlite3 *db, const char *topic, int p) {
  sqlite3_stmt *st;
  const char *sql =
      topic ? "SELECT coalesce(max(off) + 1, 0) FROM docs WHERE dataset = (SELECT id FROM datasets"
              " WHERE connection = 'kafka3' AND is_topic = 1 AND db = ?1 AND name = ?2)"
            : "SELECT count(*) FROM docs WHERE dataset = (SELECT id FROM datasets"
              " WHERE connection = 'cluster0' AND is_topic = 0 AND db = 'chain' AND name = 'c')";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
  char part[16] = "";
  if (topic) {
    if (p > 0) snprintf(part, sizeof part, "p%d", p);
    sqlite3_bind_text(st, 1, part, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, topic, -1, SQLITE_TRANSIENT);
  }
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  return n;
}

static sqlite3 *open_store(const char *state_dir) {
  char path[600];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db = NULL;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "open %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* ---- The acknowledged state. ---- */

typedef struct {
  int64_t t_end[PARTS], u_end[PARTS];
  uint64_t t_digest[PARTS], u_digest[PARTS];
  idset_t c;
} ack_t;

static int64_t sum(const int64_t v[PARTS]) {
  int64_t s = 0;
  for (int p = 0; p < PARTS; p++) s += v[p];
  return s;
}

/* Reads t, chain.c and u over the wire into ack. */
static bool snapshot(mongoc_client_t *c, ack_t *ack) {
  if (!topic_ends(c, "t", ack->t_end) || !topic_ends(c, "u", ack->u_end)) return false;
  for (int p = 0; p < PARTS; p++) {
    if (!topic_digest(c, "t", p, ack->t_end[p], &ack->t_digest[p], NULL, NULL) ||
        !topic_digest(c, "u", p, ack->u_end[p], &ack->u_digest[p], NULL, NULL)) {
      return false;
    }
  }
  return read_collection(c, &ack->c);
}

/* Waits (at most 20 s) until the store holds everything in ack. */
static bool wait_committed(const char *state_dir, const ack_t *ack) {
  for (int i = 0; i < 2000; i++) {
    sqlite3 *db = open_store(state_dir);
    if (!db) return false;
    bool all = committed(db, NULL, -1) >= ack->c.count;
    for (int p = 0; all && p < PARTS; p++) {
      all = committed(db, "t", p) >= ack->t_end[p] && committed(db, "u", p) >= ack->u_end[p];
    }
    sqlite3_close(db);
    if (all) return true;
    usleep(10000);
  }
  return false;
}

/* Anything in the state directory but the store, its lock, the secret and dev/. */
static int stray_files(const char *state_dir, int round) {
  static const char *const allowed[] = {".",           "..",        "aspd.db", "aspd.db-wal",
                                        "aspd.db-shm", "aspd.lock", "dev",     "server-secret",
                                        "logs"};
  static const char *const dev_allowed[] = {".",      "..",         "ca.pem",
                                            "ca.key", "server.pem", "server.key"};
  int stray = 0;
  for (int level = 0; level < 2; level++) {
    char path[600];
    snprintf(path, sizeof path, level ? "%s/dev" : "%s", state_dir);
    DIR *d = opendir(path);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      bool ok = false;
      size_t n =
          level ? sizeof dev_allowed / sizeof *dev_allowed : sizeof allowed / sizeof *allowed;
      for (size_t i = 0; i < n; i++) {
        ok = ok || !strcmp(e->d_name, level ? dev_allowed[i] : allowed[i]);
      }
      if (!ok) {
        fprintf(stderr, "FAIL: round %d: stray file %s/%s after kill -9\n", round, path, e->d_name);
        stray++;
      }
    }
    closedir(d);
  }
  return stray;
}

/* ---- The chain's health after a restart. ---- */

static void check_started(mongoc_client_t *c, int round) {
  for (int i = 0; i < NPROC; i++) {
    char state[32];
    wt_state(c, PROCESSORS[i][0], state, sizeof state);
    if (strcmp(state, "STARTED")) {
      fprintf(stderr, "FAIL: round %d: %s is %s after the restart\n", round, PROCESSORS[i][0],
              state[0] ? state : "missing");
      wt_failures++;
    }
  }
}

/* Every acknowledged message and document is there, unchanged; chain.c has no duplicate
 * and nothing t lacks. */
static void check_acknowledged(mongoc_client_t *c, const ack_t *ack, int round) {
  idset_t now = {0};
  int64_t t_end[PARTS], u_end[PARTS];
  /* chain.c first: whatever it holds then, t held before. */
  if (!read_collection(c, &now) || !topic_ends(c, "t", t_end) || !topic_ends(c, "u", u_end)) {
    fprintf(stderr, "FAIL: round %d: cannot read the chain back after the restart\n", round);
    wt_failures++;
    idset_clear(&now);
    return;
  }
  for (int p = 0; p < PARTS; p++) {
    const struct {
      const char *topic;
      int64_t acked, end;
      uint64_t digest;
    } tp[] = {{"t", ack->t_end[p], t_end[p], ack->t_digest[p]},
              {"u", ack->u_end[p], u_end[p], ack->u_digest[p]}};
    for (int k = 0; k < 2; k++) {
      uint64_t digest = 0;
      if (tp[k].end < tp[k].acked) {
        fprintf(stderr, "FAIL: round %d: %s/%d ends at %lld, %lld were acknowledged\n", round,
                tp[k].topic, p, (long long)tp[k].end, (long long)tp[k].acked);
        wt_failures++;
      } else if (!topic_digest(c, tp[k].topic, p, tp[k].acked, &digest, NULL, NULL) ||
                 digest != tp[k].digest) {
        fprintf(stderr, "FAIL: round %d: %s/%d: the %lld acknowledged messages changed\n", round,
                tp[k].topic, p, (long long)tp[k].acked);
        wt_failures++;
      }
    }
    for (int64_t o = 0; o < ack->c.cap[p]; o++) {
      if (idset_has(&ack->c, p, o) && !idset_has(&now, p, o)) {
        fprintf(stderr, "FAIL: round %d: chain.c lost acknowledged document %d-%lld\n", round, p,
                (long long)o);
        wt_failures++;
      }
    }
    for (int64_t o = t_end[p]; o < now.cap[p]; o++) {
      if (idset_has(&now, p, o)) {
        fprintf(stderr, "FAIL: round %d: chain.c holds %d-%lld, beyond t/%d's end %lld\n", round, p,
                (long long)o, p, (long long)t_end[p]);
        wt_failures++;
        break;
      }
    }
  }
  if (now.dups || now.bad) {
    fprintf(stderr, "FAIL: round %d: chain.c has %lld duplicate and %lld malformed _ids\n", round,
            (long long)now.dups, (long long)now.bad);
    wt_failures++;
  }
  idset_clear(&now);
}

/* The processors move again: chain.c and u grow past what was acknowledged, and a sample of
 * `watch` delivers events. Returns the sampled events. */
static uint32_t check_moving(mongoc_client_t *c, const ack_t *ack, int round) {
  bool grew = false;
  idset_t now = {0};
  int64_t u_end[PARTS];
  for (int i = 0; i < 1500 && !grew; i++) {
    grew = read_collection(c, &now) && now.count > ack->c.count && topic_ends(c, "u", u_end) &&
           sum(u_end) > sum(ack->u_end);
    if (!grew) usleep(20000);
  }
  idset_clear(&now);
  if (!grew) {
    fprintf(stderr, "FAIL: round %d: the chain did not move within 30 s of the restart\n", round);
    wt_failures++;
  }
  bson_t reply;
  bson_error_t error;
  uint32_t sampled = 0;
  if (!wt_run(c, "{\"startSampleStreamProcessor\": \"watch\", \"limit\": 5}", &reply, &error)) {
    fprintf(stderr, "FAIL: round %d: startSample: %s\n", round, error.message);
    wt_failures++;
    bson_destroy(&reply);
    return 0;
  }
  int64_t cursor = wt_int(&reply, "cursorId", NULL);
  bson_destroy(&reply);
  for (int i = 0; i < 1500 && cursor > 0 && sampled == 0; i++) {
    cursor = wt_get_more(c, "watch", cursor, 5, &sampled);
    if (sampled == 0) usleep(20000);
  }
  if (sampled == 0) {
    fprintf(stderr, "FAIL: round %d: the sample of watch gave nothing within 30 s\n", round);
    wt_failures++;
  }
  return sampled;
}

int main(void) {
  unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
  const char *env = getenv("ASPD_CHAIN_SEED");
  if (env && *env) seed = (unsigned)strtoul(env, NULL, 10);
  const unsigned seed0 = seed; /* seed moves on with every draw */
  printf("chain: seed %u (ASPD_CHAIN_SEED=%u replays it)\n", seed, seed);
  fflush(stdout);
  double t0 = now_s();

  char state_dir[512];
  if (!aspd_harness_tempdir(state_dir, sizeof state_dir)) return 1;
  aspd_instance_t inst;
  if (!start(&inst, state_dir)) {
    fprintf(stderr, "FAIL: aspd did not start\n");
    return 1;
  }
  mongoc_client_t *c = wt_client(&inst);
  for (int i = 0; i < NPROC; i++) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "{\"createStreamProcessor\": \"%s\", \"pipeline\": %s}",
             PROCESSORS[i][0], PROCESSORS[i][1]);
    if (!WT_OK(c, cmd)) return wt_finish("aspd.chain");
  }
  /* The watcher first (a change stream sees what comes after its start), the generator last. */
  for (int i = 0; i < NPROC; i++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "{\"startStreamProcessor\": \"%s\"}", PROCESSORS[i][0]);
    if (!WT_OK(c, cmd)) return wt_finish("aspd.chain");
  }

  ack_t ack = {0};
  double restart_total = 0, restart_max = 0;
  int64_t uncommitted_lost = 0, stray = 0;
  int early_kills = 0;
  uint32_t sampled = 0;
  for (int round = 0; round < ROUNDS; round++) {
    usleep((useconds_t)(100 + rand_r(&seed) % 701) * 1000);
    if (!snapshot(c, &ack)) {
      fprintf(stderr, "FAIL: round %d: cannot read the chain before the kill\n", round);
      wt_failures++;
      break;
    }
    if (!wait_committed(state_dir, &ack)) {
      fprintf(stderr, "FAIL: round %d: what the clients read was not committed within 20 s\n",
              round);
      wt_failures++;
    }
    /* The commit just landed: a further random wait puts the kill anywhere in the flusher's
     * cycle (idle, gathering, committing). */
    usleep((useconds_t)(rand_r(&seed) % 120) * 1000);
    /* What t holds this instant, committed or not: the kill may take the uncommitted tail. */
    int64_t visible[PARTS] = {0};
    topic_ends(c, "t", visible);
    mongoc_client_destroy(c);
    aspd_harness_kill(&inst);

    stray += stray_files(state_dir, round);
    sqlite3 *db = open_store(state_dir);
    for (int p = 0; db && p < PARTS; p++) {
      int64_t kept = committed(db, "t", p);
      if (kept < ack.t_end[p]) {
        fprintf(stderr,
                "FAIL: round %d: the store holds %lld messages of t/%d, %lld acknowledged\n", round,
                (long long)kept, p, (long long)ack.t_end[p]);
        wt_failures++;
      }
      if (visible[p] > kept) uncommitted_lost += visible[p] - kept;
    }
    sqlite3_close(db);

    /* One round in four, a kill while aspd is starting its processors again (0-50 ms after
     * it listens): the acknowledged state must survive that too. */
    if (rand_r(&seed) % 4 == 0) {
      if (!start(&inst, state_dir)) {
        fprintf(stderr, "FAIL: round %d: aspd did not start after kill -9 (seed %u)\n", round,
                seed0);
        return 1;
      }
      usleep((useconds_t)(rand_r(&seed) % 50) * 1000);
      aspd_harness_kill(&inst);
      stray += stray_files(state_dir, round);
      early_kills++;
    }
    double started = now_s();
    if (!start(&inst, state_dir)) {
      fprintf(stderr, "FAIL: round %d: aspd did not start after kill -9 (seed %u)\n", round, seed0);
      return 1;
    }
    double took = now_s() - started;
    restart_total += took;
    if (took > restart_max) restart_max = took;
    c = wt_client(&inst);
    check_started(c, round);
    check_acknowledged(c, &ack, round);
    sampled += check_moving(c, &ack, round);
    printf("round %2d: t %lld, chain.c %lld, u %lld acknowledged and kept; restart %.0f ms\n",
           round, (long long)sum(ack.t_end), (long long)ack.c.count, (long long)sum(ack.u_end),
           took * 1000);
    fflush(stdout);
  }

  /* Drain: no new input, then everything of t must be in chain.c once, with an event in u. */
  WT_OK(c, "{\"stopStreamProcessor\": \"gen\"}");
  for (int i = 0; i < 1500 && wt_stat(c, "copy", "stats.kafkaTotalOffsetLag") != 0; i++)
    usleep(20000);
  CHECK(wt_stat(c, "copy", "stats.kafkaTotalOffsetLag") == 0);
  int64_t t_end[PARTS] = {0}, u_end[PARTS] = {0};
  idset_t docs = {0}, events = {0};
  int64_t rewrites = 0; /* change events other than inserts: a copy that wrote a document again */
  CHECK(topic_ends(c, "t", t_end));
  for (int i = 0; i < 1500; i++) {
    read_collection(c, &docs);
    if (docs.count >= sum(t_end)) break;
    usleep(20000);
  }
  for (int i = 0; i < 1500; i++) {
    idset_clear(&events);
    uint64_t digest;
    bool ok = topic_ends(c, "u", u_end);
    rewrites = 0;
    for (int p = 0; ok && p < PARTS; p++) {
      ok = topic_digest(c, "u", p, u_end[p], &digest, &events, &rewrites);
    }
    if (ok && events.count >= docs.count) break;
    usleep(20000);
  }
  CHECK(docs.count == sum(t_end));
  CHECK(docs.dups == 0 && docs.bad == 0);
  for (int p = 0; p < PARTS; p++) {
    for (int64_t o = 0; o < t_end[p]; o++) {
      if (!idset_has(&docs, p, o)) {
        fprintf(stderr, "FAIL: t/%d offset %lld is not in chain.c\n", p, (long long)o);
        wt_failures++;
        break;
      }
      if (!idset_has(&events, p, o)) {
        fprintf(stderr, "FAIL: chain.c's %d-%lld has no change event in u\n", p, (long long)o);
        wt_failures++;
        break;
      }
    }
  }
  CHECK(events.count == docs.count && events.bad == 0);
  CHECK(events.dups == rewrites); /* a second event for a document can only be a rewrite */
  mongoc_client_destroy(c);
  if (aspd_harness_stop(&inst) != 0) wt_failures++;

  printf(
      "chain: %d kills (and %d while starting); t %lld messages, chain.c %lld documents (%lld "
      "duplicates),"
      " u %lld change events for %lld documents (%lld duplicates, %lld of them rewrites by"
      " copy absorbed by on: _id); %lld visible but"
      " uncommitted messages of t lost to kills (allowed); %u sampled events;"
      " %lld stray files; restart mean %.0f ms, max %.0f ms; %.1f s in all\n",
      ROUNDS, early_kills, (long long)sum(t_end), (long long)docs.count, (long long)docs.dups,
      (long long)sum(u_end), (long long)events.count, (long long)events.dups, (long long)rewrites,
      (long long)uncommitted_lost, sampled, (long long)stray, restart_total / ROUNDS * 1000,
      restart_max * 1000, now_s() - t0);
  idset_clear(&docs);
  idset_clear(&events);
  idset_clear(&ack.c);
  if (wt_failures) fprintf(stderr, "chain: failed with seed %u\n", seed0);
  return wt_finish("aspd.chain");
}
