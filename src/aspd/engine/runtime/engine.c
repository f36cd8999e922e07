/* Engine lifetime: loading, the engine thread, persistence. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/error.h"
#include "engine/runtime/engine_internal.h"
#include "store/state_file.h"

#define PROCESSORS_FILE "processors.json"
#define SINKS_FILE "sinks.json"
/* Counters and sink contents are written at most this often, and at close. */
#define FLUSH_INTERVAL_MS 2000
#define ENCODE_AHEAD_MS 200
#define IDLE_TICK_MS 10
/* Longest the engine thread stays off the lock for waiting command threads. */
#define YIELD_MAX_NS 2000000L
/* Shortest run of the engine thread before it steps aside: under a stream of
 * commands (sample cursors polled by many clients) processors keep a good share
 * of the time, and a command waits about this long at most (plus the commands
 * ahead of it). */
#define ENGINE_MIN_RUN_NS 1000000L
/* Atlas prunes sample cursors that nobody polled for about 5 minutes. */
#define SAMPLE_IDLE_MS_DEFAULT (5 * 60 * 1000)

void aspd_engine_lock(aspd_engine_t *e) {
  atomic_fetch_add(&e->waiting, 1);
  pthread_mutex_lock(&e->lock);
  atomic_fetch_sub(&e->waiting, 1);
  atomic_fetch_add(&e->granted, 1);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000L + ts.tv_nsec;
}

void aspd_engine_run_begins(aspd_engine_t *e) {
  e->running_since_ns = now_ns();
}

bool aspd_engine_yield_due(aspd_engine_t *e) {
  return atomic_load_explicit(&e->waiting, memory_order_relaxed) > 0 &&
         now_ns() - e->running_since_ns >= ENGINE_MIN_RUN_NS;
}

void aspd_engine_yield(aspd_engine_t *e) {
  /* Only those waiting now: later arrivals wait for the next turn. */
  uint64_t waiting = (uint64_t)atomic_load(&e->waiting);
  uint64_t granted = atomic_load(&e->granted);
  pthread_mutex_unlock(&e->lock);
  int64_t until = now_ns() + YIELD_MAX_NS;
  while (atomic_load(&e->granted) - granted < waiting && now_ns() < until) sched_yield();
  pthread_mutex_lock(&e->lock);
  aspd_engine_run_begins(e);
}

void aspd_engine_unlink(aspd_engine_t *e, aspd_processor_t *p) {
  for (aspd_processor_t **pp = &e->processors; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      return;
    }
  }
}

/* The table is encoded under the lock and written without it, so commands
 * and the engine thread do not wait for its fsyncs. Snapshots are numbered
 * under the lock and written one at a time: an older one never replaces a
 * newer one, and a caller whose snapshot a newer written one overtook is
 * durable too (the newer one holds its change). */
bool aspd_engine_save_processors_unlock(aspd_engine_t *e, aspd_error_t *err) {
  bson_t doc = BSON_INITIALIZER, list;
  BSON_APPEND_ARRAY_BEGIN(&doc, "processors", &list);
  uint32_t n = 0;
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (p->ephemeral) continue; /* interactive processors are never persisted */
    char key[16];
    const char *k;
    bson_uint32_to_string(n++, &k, key, sizeof key);
    bson_t item;
    BSON_APPEND_DOCUMENT_BEGIN(&list, k, &item);
    aspd_processor_to_bson(p, &item);
    bson_append_document_end(&list, &item);
  }
  bson_append_array_end(&doc, &list);
  uint64_t seq = ++e->processors_seq;
  e->processors_dirty = false;
  pthread_mutex_unlock(&e->lock);
  char msg[512];
  bool ok = true;
  pthread_mutex_lock(&e->save_lock);
  if (seq > e->processors_saved_seq) {
    ok = aspd_state_file_save(e->state_dir, PROCESSORS_FILE, &doc, msg, sizeof msg);
    if (ok) e->processors_saved_seq = seq;
  }
  pthread_mutex_unlock(&e->save_lock);
  bson_destroy(&doc);
  if (ok) return true;
  aspd_engine_lock(e);
  e->processors_dirty = true; /* written again at the next flush */
  pthread_mutex_unlock(&e->lock);
  if (err) {
    aspd_error_set(err, ASPD_E_INTERNAL, "could not persist processors: %s", msg);
  } else {
    fprintf(stderr, "aspd: could not persist processors: %s\n", msg);
  }
  return false;
}

/* Sink contents can be large: only the datasets that changed are snapshotted
 * under the lock (document pointers, not copies), then encoded and written
 * without it. Only the engine thread (or close, after it) writes them, so no
 * document is appended or dropped meanwhile. */
static void save_sinks(aspd_engine_t *e) {
  aspd_memstore_snapshot_t *snap = aspd_memstore_snapshot(e->memstore, e->sinks_unsaved, true);
  if (!snap) return;
  pthread_mutex_unlock(&e->lock);
  const struct iovec *pieces;
  size_t count;
  char msg[512] = "cannot encode the sink contents";
  bool ok = aspd_memstore_encode(snap, &pieces, &count) &&
            aspd_state_file_save_pieces(e->state_dir, SINKS_FILE, pieces, count, msg, sizeof msg);
  if (!ok) fprintf(stderr, "aspd: could not persist sink contents: %s\n", msg);
  aspd_memstore_snapshot_free(snap);
  pthread_mutex_lock(&e->lock);
  e->sinks_unsaved = !ok;
}

/* Between flushes the engine thread encodes the new sink documents ahead, so
 * that a flush (the one at shutdown too) has only the latest ones to encode. */
static void encode_sinks_ahead(aspd_engine_t *e) {
  aspd_memstore_snapshot_t *snap = aspd_memstore_snapshot(e->memstore, false, false);
  e->last_encode_ms = aspd_now_ms();
  if (!snap) return;
  pthread_mutex_unlock(&e->lock);
  aspd_memstore_encode(snap, NULL, NULL); /* a failure is reported by the flush */
  aspd_memstore_snapshot_free(snap);
  pthread_mutex_lock(&e->lock);
}

/* With the lock held; releases it while writing. */
static void flush(aspd_engine_t *e) {
  if (e->processors_dirty) {
    aspd_engine_save_processors_unlock(e, NULL);
    pthread_mutex_lock(&e->lock);
  }
  save_sinks(e);
  e->last_flush_ms = aspd_now_ms();
}

static void *engine_thread(void *arg) {
  aspd_engine_t *e = arg;
  pthread_mutex_lock(&e->lock);
  aspd_engine_run_begins(e);
  while (!e->closing) {
    int64_t now = aspd_now_ms();
    bool busy = aspd_run_slice(e, now);
    aspd_taps_reap(e, now);
    if (now - e->last_flush_ms >= FLUSH_INTERVAL_MS) {
      flush(e);
    } else if (now - e->last_encode_ms >= ENCODE_AHEAD_MS) {
      encode_sinks_ahead(e);
    }
    if (busy) {
      /* An unlimited source: run the next slice at once, after any waiting command. */
      if (aspd_engine_yield_due(e)) aspd_engine_yield(e);
      continue;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += IDLE_TICK_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&e->wake, &e->lock, &until);
    aspd_engine_run_begins(e);
  }
  pthread_mutex_unlock(&e->lock);
  return NULL;
}

static bool load_processors(aspd_engine_t *e, char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_state_file_load(e->state_dir, PROCESSORS_FILE, &doc, err, err_len)) return false;
  if (!doc) return true;
  bson_iter_t it, list;
  bool ok = bson_iter_init_find(&it, doc, "processors") && BSON_ITER_HOLDS_ARRAY(&it);
  if (ok) bson_iter_recurse(&it, &list);
  aspd_processor_t **tail = &e->processors;
  while (ok && bson_iter_next(&list)) {
    aspd_error_t perr = {0};
    aspd_processor_t *p = NULL;
    if (BSON_ITER_HOLDS_DOCUMENT(&list)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&list, &len, &data);
      bson_t item;
      bson_init_static(&item, data, len);
      p = aspd_processor_from_bson(&item, &perr);
    }
    if (!p) {
      snprintf(err, err_len,
               "state file %s/%s is corrupt (processor #%s: %s); aspd will not "
               "replace it: repair or move it away",
               e->state_dir, PROCESSORS_FILE, bson_iter_key(&list),
               perr.code ? perr.message : "not an object");
      bson_destroy(doc);
      return false;
    }
    *tail = p;
    tail = &p->next;
  }
  bson_destroy(doc);
  if (!ok) {
    snprintf(err, err_len,
             "state file %s/%s is corrupt (no 'processors' array); aspd will not "
             "replace it: repair or move it away",
             e->state_dir, PROCESSORS_FILE);
  }
  return ok;
}

static bool load_sinks(aspd_engine_t *e, char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_state_file_load(e->state_dir, SINKS_FILE, &doc, err, err_len)) return false;
  if (!doc) return true;
  aspd_error_t lerr = {0};
  bool ok = aspd_memstore_from_bson(e->memstore, doc, &lerr);
  bson_destroy(doc);
  if (!ok) {
    snprintf(err, err_len,
             "state file %s/%s is corrupt (%s); aspd will not replace it: repair "
             "or move it away",
             e->state_dir, SINKS_FILE, lerr.message);
  }
  return ok;
}

/* STARTED processors run again; one that cannot be planned any more fails
 * (and that is written down: the failure outlives this run). */
static void resume_processors(aspd_engine_t *e) {
  bool failed = false;
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (p->state != ASPD_STATE_STARTED) continue;
    aspd_error_t err = {0};
    if (!aspd_run_begin(e, p, &err)) {
      p->state = ASPD_STATE_FAILED;
      free(p->error_msg);
      p->error_msg = strdup(err.message);
      p->last_state_change_ms = aspd_now_ms();
      failed = true;
    }
  }
  if (failed) {
    pthread_mutex_lock(&e->lock);
    aspd_engine_save_processors_unlock(e, NULL);
  }
}

aspd_engine_t *aspd_engine_open(const char *state_dir, const aspd_registry_t *reg, char *err,
                                size_t err_len) {
  aspd_engine_t *e = calloc(1, sizeof *e);
  pthread_mutex_init(&e->lock, NULL);
  pthread_mutex_init(&e->save_lock, NULL);
  pthread_cond_init(&e->wake, NULL);
  e->state_dir = strdup(state_dir);
  e->registry = reg;
  e->memstore = aspd_memstore_new();
  const char *idle = getenv("ASPD_SAMPLE_IDLE_MS");
  e->sample_idle_ms = idle && atoll(idle) > 0 ? atoll(idle) : SAMPLE_IDLE_MS_DEFAULT;
  if (!load_processors(e, err, err_len) || !load_sinks(e, err, err_len)) {
    aspd_engine_close(e);
    return NULL;
  }
  resume_processors(e);
  e->last_flush_ms = aspd_now_ms();
  if (pthread_create(&e->thread, NULL, engine_thread, e) != 0) {
    snprintf(err, err_len, "cannot start the engine thread");
    aspd_engine_close(e);
    return NULL;
  }
  /* Named so that tools (and bench/engine.c) can find its CPU time in /proc. */
  pthread_setname_np(e->thread, "aspd-engine");
  e->thread_running = true;
  return e;
}

void aspd_engine_close(aspd_engine_t *e) {
  if (!e) return;
  if (e->thread_running) {
    aspd_engine_lock(e);
    e->closing = true;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    pthread_mutex_lock(&e->lock);
    flush(e);
    pthread_mutex_unlock(&e->lock);
  }
  while (e->processors) {
    aspd_processor_t *p = e->processors;
    e->processors = p->next;
    aspd_processor_free(p);
  }
  aspd_memstore_free(e->memstore);
  free(e->state_dir);
  pthread_cond_destroy(&e->wake);
  pthread_mutex_destroy(&e->lock);
  pthread_mutex_destroy(&e->save_lock);
  free(e);
}
