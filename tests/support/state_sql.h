/* Reading aspd's state store directly, as the tests and benches that check what
 * was committed do (read-only; aspd may be running). */
#ifndef ASPD_TEST_STATE_SQL_H
#define ASPD_TEST_STATE_SQL_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* The first column of the first row of sql on the state store, or -1; text,
 * when not NULL, is bound to the statement's one parameter. */
static inline int64_t sql_int_text(const char *state_dir, const char *sql, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/aspd.db", state_dir);
  sqlite3 *db;
  int64_t n = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *st;
    /* aspd commits while we read: wait out a lock (a WAL checkpoint, say) rather than
     * report -1 for a moment's contention. */
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        (!text || sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC) == SQLITE_OK) &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

static inline int64_t sql_int(const char *state_dir, const char *sql) {
  return sql_int_text(state_dir, sql, NULL);
}

#endif
