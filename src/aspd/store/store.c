#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/atomic_file.h"

#define DB_FILE "aspd.db"
#define LOCK_FILE "aspd.lock"
/* A writer waits this long for the other connection's transaction. */
#define BUSY_TIMEOUT_MS 30000

typedef struct {
  sqlite3 *db;
  pthread_mutex_t lock;
} conn_t;

struct aspd_store {
  aspd_store_t *root; /* the store that holds the lock and the connections: itself, or
                         the one a scoped view was made from */
  char *prefix;       /* "" for the root; a scope's prefix of kinds and connection names */
  int lock_fd;
  conn_t records, sinks;
};

#define RECORDS(s) (&(s)->root->records)
#define SINKS(s) (&(s)->root->sinks)
#define KEY_LEN 512

/* name as the database keys it in s's scope. */
static const char *scoped(const aspd_store_t *s, const char *name, char out[KEY_LEN]) {
  if (!*s->prefix) return name;
  snprintf(out, KEY_LEN, "%s%s", s->prefix, name);
  return out;
}

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS records(kind TEXT NOT NULL, name TEXT NOT NULL,"
    " doc BLOB NOT NULL, UNIQUE(kind, name));"
    /* Topics have db '' for partition 0 and 'pN' for partition N (a UNIQUE column may
     * not be NULL to count as equal). */
    "CREATE TABLE IF NOT EXISTS datasets(id INTEGER PRIMARY KEY, connection TEXT NOT NULL,"
    " is_topic INTEGER NOT NULL, db TEXT NOT NULL, name TEXT NOT NULL,"
    " first_offset INTEGER NOT NULL, UNIQUE(connection, is_topic, db, name));"
    "CREATE TABLE IF NOT EXISTS docs(dataset INTEGER NOT NULL, off INTEGER NOT NULL,"
    " doc BLOB NOT NULL, PRIMARY KEY(dataset, off)) WITHOUT ROWID;"
    /* Source checkpoints committed with the sink contents, by processor id. */
    "CREATE TABLE IF NOT EXISTS checkpoints(id TEXT PRIMARY KEY, doc BLOB NOT NULL) WITHOUT ROWID;";

/* Why a write failed, in words a client can act on. The directory is never
 * named (SQLite's own generic texts name no files either). */
static const char *reason(sqlite3 *db, int rc) {
  int sys = sqlite3_system_errno(db);
  /* The errno first: a write refused by a read-only file system is SQLITE_IOERR_WRITE too. */
  if ((rc & 0xff) == SQLITE_READONLY || sys == EROFS || sys == EACCES || sys == EPERM) {
    return "the state directory is not writable";
  }
  /* A write cut short by RLIMIT_FSIZE is SQLITE_IOERR_WRITE with no errno. */
  if ((rc & 0xff) == SQLITE_FULL || rc == SQLITE_IOERR_WRITE || sys == ENOSPC || sys == EFBIG ||
      sys == EDQUOT) {
    return "writing to disk failed (the disk may be full, or a file size limit reached)";
  }
  return sqlite3_errstr(rc);
}

static bool fail(char *err, size_t err_len, const char *what, int rc, sqlite3 *db) {
  snprintf(err, err_len, "the state store could not %s: %s", what, reason(db, rc));
  return false;
}

static bool take_lock(aspd_store_t *s, const char *dir, char *err, size_t err_len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, LOCK_FILE);
  s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s->lock_fd < 0) {
    snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
    return false;
  }
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  if (fcntl(s->lock_fd, F_SETLK, &fl) != 0) {
    int pid = fcntl(s->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK ? fl.l_pid : 0;
    snprintf(err, err_len, "state directory %s is in use by another aspd (pid %d)", dir, pid);
    return false;
  }
  char text[32];
  int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
  if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, text, (size_t)n, 0) != n) {
    snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

static bool open_conn(conn_t *c, const char *path, char *err, size_t err_len) {
  pthread_mutex_init(&c->lock, NULL);
  int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, err_len, "cannot open %s: %s", path, sqlite3_errstr(rc));
    return false;
  }
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  sqlite3_extended_result_codes(c->db, 1);
  /* WAL: readers never block the writer; FULL: a commit is on disk when it returns. */
  rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(c->db, SCHEMA, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, err_len, "cannot prepare %s: %s", path, sqlite3_errmsg(c->db));
    return false;
  }
  return true;
}

static void close_conn(conn_t *c) {
  if (!c->db) return;
  sqlite3_close(c->db);
  pthread_mutex_destroy(&c->lock);
}

aspd_store_t *aspd_store_open(const char *dir, char *err, size_t err_len) {
  /* A write past RLIMIT_FSIZE must fail the transaction, not kill the server. */
  signal(SIGXFSZ, SIG_IGN);
  if (!aspd_make_dirs(dir, err, err_len)) return NULL;
  if (chmod(dir, 0700) != 0) {
    snprintf(err, err_len, "cannot make %s private (0700): %s", dir, strerror(errno));
    return NULL;
  }
  aspd_store_t *s = calloc(1, sizeof *s);
  s->root = s;
  s->prefix = strdup("");
  s->lock_fd = -1;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, DB_FILE);
  if (!take_lock(s, dir, err, err_len) || !open_conn(&s->records, path, err, err_len) ||
      !open_conn(&s->sinks, path, err, err_len)) {
    aspd_store_close(s);
    return NULL;
  }
  return s;
}

aspd_store_t *aspd_store_scope(aspd_store_t *root, const char *scope) {
  aspd_store_t *s = calloc(1, sizeof *s);
  s->root = root;
  size_t len = strlen(scope) + 2;
  s->prefix = malloc(len);
  snprintf(s->prefix, len, "%s/", scope);
  s->lock_fd = -1;
  return s;
}

void aspd_store_close(aspd_store_t *s) {
  if (!s) return;
  free(s->prefix);
  if (s->root != s) {
    free(s);
    return;
  }
  close_conn(&s->sinks);
  close_conn(&s->records);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the lock */
  free(s);
}

static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st) {
  return sqlite3_prepare_v2(db, sql, -1, st, NULL);
}

bool aspd_store_imported(aspd_store_t *s, const char *what) {
  char key[KEY_LEN];
  what = scoped(s, what, key);
  pthread_mutex_lock(&RECORDS(s)->lock);
  sqlite3_stmt *st;
  bool found = prepare(RECORDS(s)->db, "SELECT 1 FROM meta WHERE key = 'imported:' || ?", &st) ==
                   SQLITE_OK &&
               sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC) == SQLITE_OK &&
               sqlite3_step(st) == SQLITE_ROW;
  sqlite3_finalize(st);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return found;
}

bool aspd_store_mark_imported(aspd_store_t *s, const char *what, char *err, size_t err_len) {
  char key[KEY_LEN];
  what = scoped(s, what, key);
  pthread_mutex_lock(&RECORDS(s)->lock);
  sqlite3_stmt *st;
  int rc = prepare(RECORDS(s)->db, "INSERT OR REPLACE INTO meta VALUES ('imported:' || ?, 1)", &st);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, what, -1, SQLITE_STATIC);
    rc = step_done(st);
  }
  bool ok = rc == SQLITE_OK || fail(err, err_len, "commit the change", rc, RECORDS(s)->db);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

/* ---- records ---- */

static int put_one(sqlite3 *db, const char *kind, const char *old_name, const char *name,
                   const bson_t *doc) {
  sqlite3_stmt *st;
  int rc;
  if (old_name && strcmp(old_name, name)) {
    rc = prepare(db, "UPDATE records SET name = ?3, doc = ?4 WHERE kind = ?1 AND name = ?2", &st);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 2, old_name, -1, SQLITE_STATIC);
  } else {
    rc = prepare(db,
                 "INSERT INTO records(kind, name, doc) VALUES (?1, ?3, ?4)"
                 " ON CONFLICT(kind, name) DO UPDATE SET doc = excluded.doc",
                 &st);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, bson_get_data(doc), (int)doc->len, SQLITE_STATIC);
  return step_done(st);
}

bool aspd_store_put(aspd_store_t *s, const char *kind, const char *old_name, const char *name,
                    const bson_t *doc, char *err, size_t err_len) {
  char key[KEY_LEN];
  kind = scoped(s, kind, key);
  pthread_mutex_lock(&RECORDS(s)->lock);
  int rc = put_one(RECORDS(s)->db, kind, old_name, name, doc);
  bool ok = rc == SQLITE_OK || fail(err, err_len, "commit the change", rc, RECORDS(s)->db);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

bool aspd_store_delete(aspd_store_t *s, const char *kind, const char *name, char *err,
                       size_t err_len) {
  char key[KEY_LEN];
  kind = scoped(s, kind, key);
  pthread_mutex_lock(&RECORDS(s)->lock);
  sqlite3_stmt *st;
  int rc = prepare(RECORDS(s)->db, "DELETE FROM records WHERE kind = ? AND name = ?", &st);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = step_done(st);
  }
  bool ok = rc == SQLITE_OK || fail(err, err_len, "commit the change", rc, RECORDS(s)->db);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

/* Runs body between BEGIN and COMMIT; anything that fails rolls it all back. */
static int in_transaction(sqlite3 *db, int (*body)(sqlite3 *db, void *ctx), void *ctx) {
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = body(db, ctx);
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  /* A failed COMMIT may leave the transaction open: end it, changing nothing. */
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(db)) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  return rc;
}

typedef struct {
  const char *kind;
  const char *const *names;
  const bson_t *const *docs;
  size_t count;
} put_all_t;

static int put_all_body(sqlite3 *db, void *ctx) {
  const put_all_t *a = ctx;
  int rc = SQLITE_OK;
  for (size_t i = 0; i < a->count && rc == SQLITE_OK; i++) {
    rc = put_one(db, a->kind, NULL, a->names[i], a->docs[i]);
  }
  return rc;
}

bool aspd_store_put_all(aspd_store_t *s, const char *kind, const char *const *names,
                        const bson_t *const *docs, size_t count, char *err, size_t err_len) {
  char key[KEY_LEN];
  kind = scoped(s, kind, key);
  put_all_t a = {kind, names, docs, count};
  pthread_mutex_lock(&RECORDS(s)->lock);
  int rc = in_transaction(RECORDS(s)->db, put_all_body, &a);
  bool ok = rc == SQLITE_OK || fail(err, err_len, "commit the change", rc, RECORDS(s)->db);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

static bool blob_doc(sqlite3_stmt *st, int col, bson_t *doc) {
  const void *data = sqlite3_column_blob(st, col);
  int len = sqlite3_column_bytes(st, col);
  return data && len >= 5 && bson_init_static(doc, data, (size_t)len);
}

bool aspd_store_get(aspd_store_t *s, const char *kind, const char *name, bson_t **out, char *err,
                    size_t err_len) {
  char key[KEY_LEN];
  const char *shown = kind;
  kind = scoped(s, kind, key);
  *out = NULL;
  pthread_mutex_lock(&RECORDS(s)->lock);
  sqlite3_stmt *st;
  int rc = prepare(RECORDS(s)->db, "SELECT doc FROM records WHERE kind = ? AND name = ?", &st);
  bool ok = rc == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    bson_t doc;
    if (rc == SQLITE_ROW && blob_doc(st, 0, &doc)) {
      *out = bson_copy(&doc);
    } else if (rc == SQLITE_ROW) {
      snprintf(err, err_len, "the state store is corrupt (%s '%s' is not a BSON document)", shown,
               name);
      ok = false;
    } else if (rc != SQLITE_DONE) {
      ok = fail(err, err_len, "read its records", rc, RECORDS(s)->db);
    }
  }
  sqlite3_finalize(st);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

bool aspd_store_each(aspd_store_t *s, const char *kind, aspd_store_record_fn fn, void *ctx,
                     char *err, size_t err_len) {
  char key[KEY_LEN];
  const char *shown = kind;
  kind = scoped(s, kind, key);
  pthread_mutex_lock(&RECORDS(s)->lock);
  sqlite3_stmt *st;
  int rc =
      prepare(RECORDS(s)->db, "SELECT name, doc FROM records WHERE kind = ? ORDER BY rowid", &st);
  bool ok = rc == SQLITE_OK;
  if (ok) sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    bson_t doc;
    if (!blob_doc(st, 1, &doc)) {
      snprintf(err, err_len, "the state store is corrupt (%s '%s' is not a BSON document)", shown,
               name);
      ok = false;
      break;
    }
    ok = fn(ctx, name, &doc, err, err_len);
  }
  if (ok && rc != SQLITE_DONE) ok = fail(err, err_len, "read its records", rc, RECORDS(s)->db);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}

/* ---- datasets ---- */

typedef struct {
  const aspd_store_delta_t *deltas;
  size_t count;
  const aspd_store_checkpoint_t *checkpoints;
  size_t checkpoint_count;
} write_sets_t;

static int dataset_id(sqlite3 *db, const aspd_store_delta_t *d, int64_t *id) {
  sqlite3_stmt *st;
  int rc = prepare(db,
                   "INSERT INTO datasets(connection, is_topic, db, name, first_offset)"
                   " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(connection, is_topic, db, name)"
                   " DO UPDATE SET first_offset = excluded.first_offset RETURNING id",
                   &st);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, d->connection, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, d->db == NULL);
  char partition[16] = "";
  if (!d->db && d->partition > 0) snprintf(partition, sizeof partition, "p%d", (int)d->partition);
  sqlite3_bind_text(st, 3, d->db ? d->db : partition, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, d->name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, d->first_offset);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs a prepared statement bound to (dataset, offset) and resets it. */
static int run_range(sqlite3 *db, sqlite3_stmt *st, int64_t id, int64_t offset) {
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, offset);
  int rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
  sqlite3_reset(st);
  return rc;
}

static int put_doc(sqlite3 *db, sqlite3_stmt *ins, int64_t id, int64_t offset, const bson_t *doc) {
  sqlite3_bind_int64(ins, 1, id);
  sqlite3_bind_int64(ins, 2, offset);
  sqlite3_bind_blob(ins, 3, bson_get_data(doc), (int)doc->len, SQLITE_STATIC);
  int rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
  sqlite3_reset(ins);
  return rc;
}

/* Runs sql with the dataset's key bound to ?1..?4 (connection, is_topic, db, name). */
static int run_for_dataset(sqlite3 *db, const char *sql, const aspd_store_delta_t *d) {
  sqlite3_stmt *st;
  int rc = prepare(db, sql, &st);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_text(st, 1, d->connection, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, d->db == NULL);
  sqlite3_bind_text(st, 3, d->db ? d->db : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, d->name, -1, SQLITE_STATIC);
  return step_done(st);
}

/* A dropped dataset: its documents and its row go. */
static int drop_dataset(sqlite3 *db, const aspd_store_delta_t *d) {
  int rc = run_for_dataset(db,
                           "DELETE FROM docs WHERE dataset IN (SELECT id FROM datasets WHERE"
                           " connection = ?1 AND is_topic = ?2 AND db = ?3 AND name = ?4)",
                           d);
  if (rc != SQLITE_OK) return rc;
  return run_for_dataset(db,
                         "DELETE FROM datasets WHERE connection = ?1 AND is_topic = ?2 AND"
                         " db = ?3 AND name = ?4",
                         d);
}

static int write_sets_body(sqlite3 *db, void *ctx) {
  const write_sets_t *w = ctx;
  sqlite3_stmt *before = NULL, *after = NULL, *ins = NULL;
  /* Before first_offset: dropped past the retention limit; from end on: removed (a
   * collection's documents move down when some are deleted). Two statements, so
   * each is a range search of the primary key. */
  int rc = prepare(db, "DELETE FROM docs WHERE dataset = ? AND off < ?", &before);
  if (rc == SQLITE_OK) rc = prepare(db, "DELETE FROM docs WHERE dataset = ? AND off >= ?", &after);
  if (rc == SQLITE_OK) rc = prepare(db, "INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", &ins);
  for (size_t i = 0; i < w->count && rc == SQLITE_OK; i++) {
    const aspd_store_delta_t *d = &w->deltas[i];
    if (d->dropped) {
      rc = drop_dataset(db, d);
      continue;
    }
    int64_t id = 0;
    rc = dataset_id(db, d, &id);
    if (rc == SQLITE_OK) rc = run_range(db, before, id, d->first_offset);
    if (rc == SQLITE_OK) rc = run_range(db, after, id, d->end);
    for (int64_t o = d->from; o < d->end && rc == SQLITE_OK; o++) {
      rc = put_doc(db, ins, id, o, d->docs[o - d->from]);
    }
    for (size_t r = 0; r < d->replaced_count && rc == SQLITE_OK; r++) {
      rc = put_doc(db, ins, id, d->replaced_at[r], d->replaced[r]);
    }
  }
  sqlite3_finalize(before);
  sqlite3_finalize(after);
  sqlite3_finalize(ins);
  sqlite3_stmt *put = NULL;
  if (rc == SQLITE_OK && w->checkpoint_count) {
    rc = prepare(db, "INSERT OR REPLACE INTO checkpoints VALUES (?, ?)", &put);
  }
  for (size_t i = 0; i < w->checkpoint_count && rc == SQLITE_OK; i++) {
    const aspd_store_checkpoint_t *c = &w->checkpoints[i];
    sqlite3_bind_text(put, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(put, 2, bson_get_data(c->doc), (int)c->doc->len, SQLITE_STATIC);
    rc = sqlite3_step(put) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_reset(put);
  }
  sqlite3_finalize(put);
  return rc;
}

bool aspd_store_write_batch(aspd_store_t *s, const aspd_store_delta_t *deltas, size_t count,
                            const aspd_store_checkpoint_t *checkpoints, size_t checkpoint_count,
                            char *err, size_t err_len) {
  /* In a scope, connection names carry its prefix. */
  aspd_store_delta_t *copies = NULL;
  char(*names)[KEY_LEN] = NULL;
  if (*s->prefix) {
    copies = malloc((count + 1) * sizeof *copies);
    names = malloc((count + 1) * sizeof *names);
    for (size_t i = 0; i < count; i++) {
      copies[i] = deltas[i];
      copies[i].connection = scoped(s, deltas[i].connection, names[i]);
    }
    deltas = copies;
  }
  write_sets_t w = {deltas, count, checkpoints, checkpoint_count};
  pthread_mutex_lock(&SINKS(s)->lock);
  int rc = in_transaction(SINKS(s)->db, write_sets_body, &w);
  bool ok = rc == SQLITE_OK || fail(err, err_len, "write the sink contents", rc, SINKS(s)->db);
  pthread_mutex_unlock(&SINKS(s)->lock);
  free(copies);
  free(names);
  return ok;
}

bool aspd_store_each_checkpoint(aspd_store_t *s, aspd_store_record_fn fn, void *ctx, char *err,
                                size_t err_len) {
  pthread_mutex_lock(&SINKS(s)->lock);
  sqlite3_stmt *st;
  int rc = prepare(SINKS(s)->db, "SELECT id, doc FROM checkpoints", &st);
  bool ok = rc == SQLITE_OK;
  while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bson_t doc;
    /* A checkpoint that cannot be read is skipped: the processor's record has one too. */
    if (blob_doc(st, 1, &doc))
      ok = fn(ctx, (const char *)sqlite3_column_text(st, 0), &doc, err, err_len);
  }
  if (ok && rc != SQLITE_DONE) ok = fail(err, err_len, "read the checkpoints", rc, SINKS(s)->db);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&SINKS(s)->lock);
  return ok;
}

bool aspd_store_write_datasets(aspd_store_t *s, const aspd_store_delta_t *deltas, size_t count,
                               char *err, size_t err_len) {
  return aspd_store_write_batch(s, deltas, count, NULL, 0, err, err_len);
}

bool aspd_store_each_dataset(aspd_store_t *s, const aspd_store_dataset_visitor_t *v, void *ctx,
                             char *err, size_t err_len) {
  pthread_mutex_lock(&SINKS(s)->lock);
  sqlite3_stmt *sets = NULL, *docs = NULL;
  /* The root's datasets have plain connection names; a scope's carry its prefix. */
  int rc = prepare(SINKS(s)->db,
                   "SELECT id, connection, is_topic, db, name, first_offset FROM datasets"
                   " WHERE (?1 = '' AND instr(connection, '/') = 0)"
                   " OR (?1 <> '' AND substr(connection, 1, length(?1)) = ?1) ORDER BY id",
                   &sets);
  if (rc == SQLITE_OK) sqlite3_bind_text(sets, 1, s->prefix, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) {
    rc = prepare(SINKS(s)->db, "SELECT off, doc FROM docs WHERE dataset = ? ORDER BY off", &docs);
  }
  bool ok = rc == SQLITE_OK;
  while (ok && (rc = sqlite3_step(sets)) == SQLITE_ROW) {
    const char *conn = (const char *)sqlite3_column_text(sets, 1) + strlen(s->prefix);
    bool topic = sqlite3_column_int(sets, 2) != 0;
    const char *db = (const char *)sqlite3_column_text(sets, 3);
    const char *name = (const char *)sqlite3_column_text(sets, 4);
    int32_t partition = topic && db[0] == 'p' ? (int32_t)atoi(db + 1) : 0;
    ok = v->dataset(ctx, conn, topic ? NULL : db, name, partition, sqlite3_column_int64(sets, 5));
    sqlite3_bind_int64(docs, 1, sqlite3_column_int64(sets, 0));
    while (ok && (rc = sqlite3_step(docs)) == SQLITE_ROW) {
      bson_t doc;
      if (!blob_doc(docs, 1, &doc)) {
        snprintf(err, err_len, "the state store is corrupt (a document of %s is not BSON)", name);
        ok = false;
        break;
      }
      ok = v->doc(ctx, sqlite3_column_int64(docs, 0), &doc);
    }
    if (ok && rc != SQLITE_DONE)
      ok = fail(err, err_len, "read the sink contents", rc, SINKS(s)->db);
    sqlite3_reset(docs);
    rc = SQLITE_DONE;
  }
  if (ok && rc != SQLITE_DONE) ok = fail(err, err_len, "read the sink contents", rc, SINKS(s)->db);
  sqlite3_finalize(sets);
  sqlite3_finalize(docs);
  pthread_mutex_unlock(&SINKS(s)->lock);
  return ok;
}

static int drop_scope_body(sqlite3 *db, void *ctx) {
  static const char *const sql[] = {
      "DELETE FROM records WHERE substr(kind, 1, length(?1)) = ?1",
      "DELETE FROM meta WHERE substr(key, 1, length('imported:' || ?1)) = 'imported:' || ?1",
      "DELETE FROM docs WHERE dataset IN (SELECT id FROM datasets WHERE"
      " substr(connection, 1, length(?1)) = ?1)",
      "DELETE FROM datasets WHERE substr(connection, 1, length(?1)) = ?1"};
  int rc = SQLITE_OK;
  for (size_t i = 0; i < sizeof sql / sizeof sql[0] && rc == SQLITE_OK; i++) {
    sqlite3_stmt *st;
    rc = prepare(db, sql[i], &st);
    if (rc != SQLITE_OK) break;
    sqlite3_bind_text(st, 1, ctx, -1, SQLITE_STATIC);
    rc = step_done(st);
  }
  return rc;
}

bool aspd_store_drop_scope(aspd_store_t *s, char *err, size_t err_len) {
  pthread_mutex_lock(&RECORDS(s)->lock);
  int rc = in_transaction(RECORDS(s)->db, drop_scope_body, s->prefix);
  bool ok = rc == SQLITE_OK || fail(err, err_len, "commit the change", rc, RECORDS(s)->db);
  pthread_mutex_unlock(&RECORDS(s)->lock);
  return ok;
}
