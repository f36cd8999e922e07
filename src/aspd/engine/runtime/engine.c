/* Engine lifetime: loading, the engine thread, persistence. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/error.h"
#include "engine/runtime/engine_internal.h"
#include "log.h"
#include "store/state_file.h"

/* The JSON state files of earlier versions, imported once. */
#define PROCESSORS_FILE "processors.json"
#define SINKS_FILE "sinks.json"
#define PROCESSOR_KIND "processor"
/* Sink contents are handed to the flusher at most this often (and at close):
 * the longest a document waits before its commit starts. */
#define SINK_FLUSH_MS 50
/* Counters are written at most this often, and at close. */
#define COUNTERS_FLUSH_MS 2000
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

bool aspd_engine_save_processor(aspd_engine_t *e, const aspd_processor_t *p, const char *old_name,
                                aspd_error_t *err) {
  if (p->ephemeral) return true; /* interactive processors are never persisted */
  bson_t doc = BSON_INITIALIZER;
  aspd_processor_to_bson(p, &doc);
  char msg[256];
  bool ok = aspd_store_put(e->store, PROCESSOR_KIND, old_name, p->name, &doc, msg, sizeof msg);
  bson_destroy(&doc);
  if (!ok) aspd_error_set(err, ASPD_E_INTERNAL, "%s; nothing was changed", msg);
  return ok;
}

bool aspd_engine_delete_processor(aspd_engine_t *e, const char *name, aspd_error_t *err) {
  char msg[256];
  bool ok = aspd_store_delete(e->store, PROCESSOR_KIND, name, msg, sizeof msg);
  if (!ok) aspd_error_set(err, ASPD_E_INTERNAL, "%s; nothing was changed", msg);
  return ok;
}

/* With the lock held: every persisted processor in one transaction (counters,
 * checkpoints). */
static bool save_all_processors(aspd_engine_t *e, char *msg, size_t msg_len) {
  size_t n = 0;
  for (aspd_processor_t *p = e->processors; p; p = p->next) n += !p->ephemeral;
  const char **names = calloc(n ? n : 1, sizeof *names);
  bson_t **docs = calloc(n ? n : 1, sizeof *docs);
  size_t i = 0;
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (p->ephemeral) continue; /* interactive processors are never persisted */
    names[i] = p->name;
    docs[i] = bson_new();
    aspd_processor_to_bson(p, docs[i++]);
  }
  bool ok = aspd_store_put_all(e->store, PROCESSOR_KIND, names, (const bson_t *const *)docs, n, msg,
                               msg_len);
  for (i = 0; i < n; i++) bson_destroy(docs[i]);
  free(docs);
  free(names);
  return ok;
}

/* With the lock held: counters every COUNTERS_FLUSH_MS, sink contents to the flusher. */
static void flush(aspd_engine_t *e, bool counters) {
  if (counters && e->processors_dirty) {
    char msg[256];
    if (save_all_processors(e, msg, sizeof msg)) {
      e->processors_dirty = false;
    } else {
      aspd_log("could not persist processors: %s (retried at the next flush)", msg);
    }
  }
  aspd_flusher_offer(e);
}

static void *engine_thread(void *arg) {
  aspd_engine_t *e = arg;
  pthread_mutex_lock(&e->lock);
  aspd_engine_run_begins(e);
  while (!e->closing) {
    int64_t now = aspd_now_ms();
    bool busy = aspd_run_slice(e, now);
    aspd_taps_reap(e, now);
    if (now - e->last_flush_ms >= SINK_FLUSH_MS) {
      bool counters = now - e->last_counters_ms >= COUNTERS_FLUSH_MS;
      flush(e, counters);
      e->last_flush_ms = now;
      if (counters) e->last_counters_ms = now;
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

/* Appends processors in order; a duplicate name is refused. */
static bool add_processor(aspd_engine_t *e, aspd_processor_t ***tail, const bson_t *doc,
                          const char *where, const char *key, char *err, size_t err_len) {
  aspd_error_t perr = {0};
  aspd_processor_t *p = aspd_processor_from_bson(doc, &perr);
  if (p && aspd_processor_find(e, p->name)) {
    aspd_error_set(&perr, ASPD_E_FAILED_TO_PARSE, "duplicate name '%s'", p->name);
    aspd_processor_free(p);
    p = NULL;
  }
  if (!p) {
    snprintf(err, err_len,
             "%s is corrupt (processor %s: %s); aspd will not replace it: repair or move it away",
             where, key, perr.code ? perr.message : "not an object");
    return false;
  }
  **tail = p;
  *tail = &p->next;
  return true;
}

typedef struct {
  aspd_engine_t *e;
  aspd_processor_t **tail;
} load_ctx_t;

static bool load_record(void *ctx, const char *name, const bson_t *doc, char *err, size_t err_len) {
  load_ctx_t *l = ctx;
  return add_processor(l->e, &l->tail, doc, "the state store", name, err, err_len);
}

/* A checkpoint committed with the sink contents replaces the one of the processor's
 * record (written at other times: it may be ahead of the sinks, or behind them),
 * unless the checkpoint was reset since (another epoch). */
static bool load_checkpoint(void *ctx, const char *id, const bson_t *doc, char *err,
                            size_t err_len) {
  (void)err;
  (void)err_len;
  aspd_engine_t *e = ctx;
  bson_iter_t epoch, checkpoint;
  if (!bson_iter_init_find(&epoch, doc, "epoch") || !BSON_ITER_HOLDS_INT64(&epoch)) return true;
  /* A source without a position (a generator) commits only its operators' state. */
  bool source = bson_iter_init_find(&checkpoint, doc, "checkpoint") &&
                BSON_ITER_HOLDS_DOCUMENT(&checkpoint);
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (strcmp(p->id, id) || p->checkpoint_epoch != bson_iter_int64(&epoch)) continue;
    if (source) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&checkpoint, &len, &data);
      if (p->checkpoint) bson_destroy(p->checkpoint);
      p->checkpoint = bson_new_from_data(data, len);
    }
    aspd_operators_load(p, doc);
    p->batched_checkpoint = bson_copy(doc);
  }
  return true;
}

static bool load_processors(aspd_engine_t *e, char *err, size_t err_len) {
  load_ctx_t l = {e, &e->processors};
  return aspd_store_each(e->store, PROCESSOR_KIND, load_record, &l, err, err_len) &&
         aspd_store_each_checkpoint(e->store, load_checkpoint, e, err, err_len);
}

/* processors.json of earlier versions. */
static bool import_processors(aspd_engine_t *e, char *err, size_t err_len) {
  bson_t *doc = NULL;
  if (!aspd_state_file_load(e->state_dir, PROCESSORS_FILE, &doc, err, err_len)) return false;
  if (!doc) return true;
  char where[4200];
  snprintf(where, sizeof where, "state file %s/%s", e->state_dir, PROCESSORS_FILE);
  bson_iter_t it, list;
  bool ok = bson_iter_init_find(&it, doc, "processors") && BSON_ITER_HOLDS_ARRAY(&it);
  if (!ok) {
    snprintf(err, err_len,
             "%s is corrupt (no 'processors' array); aspd will not replace it: repair or move "
             "it away",
             where);
  }
  if (ok) bson_iter_recurse(&it, &list);
  aspd_processor_t **tail = &e->processors;
  while (ok && bson_iter_next(&list)) {
    bson_t item = BSON_INITIALIZER;
    if (BSON_ITER_HOLDS_DOCUMENT(&list)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document(&list, &len, &data);
      bson_init_static(&item, data, len);
    }
    char key[32];
    snprintf(key, sizeof key, "#%s", bson_iter_key(&list));
    ok = add_processor(e, &tail, &item, where, key, err, err_len);
  }
  bson_destroy(doc);
  return ok;
}

/* sinks.json of earlier versions. */
static bool import_sinks(aspd_engine_t *e, char *err, size_t err_len) {
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

/* Writes what the memstore holds that the store does not, at start-up. */
static bool write_changes(aspd_engine_t *e, char *err, size_t err_len) {
  aspd_memstore_changes_t *changes = aspd_memstore_changes(e->memstore);
  bool ok = true;
  if (changes) {
    size_t count;
    const aspd_store_delta_t *deltas = aspd_memstore_deltas(changes, &count);
    ok = aspd_store_write_datasets(e->store, deltas, count, err, err_len);
    aspd_memstore_changes_done(changes, ok);
  }
  aspd_memstore_changes_free(changes);
  return ok;
}

/* The JSON state files are read once, written to the store in full, and left
 * as they were (the store is used from then on). */
static bool import_json(aspd_engine_t *e, char *err, size_t err_len) {
  if (!import_processors(e, err, err_len) || !import_sinks(e, err, err_len)) return false;
  pthread_mutex_lock(&e->lock);
  bool ok = save_all_processors(e, err, err_len);
  pthread_mutex_unlock(&e->lock);
  return ok && write_changes(e, err, err_len) &&
         aspd_store_mark_imported(e->store, "engine", err, err_len);
}

/* Topic messages are records {value, key, headers}; a store of earlier versions
 * holds bare values (wrap): they are rewritten once, before anything reads them. */
static bool upgrade_topics(aspd_engine_t *e, bool wrap, char *err, size_t err_len) {
  if (aspd_store_imported(e->store, "topic-records")) return true;
  if (wrap) aspd_memstore_wrap_bare_topics(e->memstore);
  return write_changes(e, err, err_len) &&
         aspd_store_mark_imported(e->store, "topic-records", err, err_len);
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
  char msg[256];
  if (failed && !save_all_processors(e, msg, sizeof msg))
    aspd_log("could not persist processors: %s", msg);
}

aspd_engine_t *aspd_engine_open(const char *state_dir, aspd_store_t *store,
                                const aspd_registry_t *reg, size_t sink_max_docs, char *err,
                                size_t err_len) {
  aspd_engine_t *e = calloc(1, sizeof *e);
  pthread_mutex_init(&e->lock, NULL);
  pthread_cond_init(&e->wake, NULL);
  e->state_dir = strdup(state_dir);
  e->store = store;
  e->registry = reg;
  e->memstore = aspd_memstore_new(sink_max_docs ? sink_max_docs : ASPD_MEMSTORE_RETAIN_DEFAULT);
  const char *idle = getenv("ASPD_SAMPLE_IDLE_MS");
  e->sample_idle_ms = idle && atoll(idle) > 0 ? atoll(idle) : SAMPLE_IDLE_MS_DEFAULT;
  bool stored = aspd_store_imported(store, "engine");
  bool loaded = (stored ? load_processors(e, err, err_len) &&
                              aspd_memstore_load(e->memstore, store, err, err_len)
                        : import_json(e, err, err_len)) &&
                upgrade_topics(e, stored, err, err_len);
  if (!loaded) {
    aspd_engine_close(e);
    return NULL;
  }
  resume_processors(e);
  e->last_flush_ms = e->last_counters_ms = aspd_now_ms();
  if (!aspd_flusher_start(e)) {
    snprintf(err, err_len, "cannot start the flusher thread");
    aspd_engine_close(e);
    return NULL;
  }
  if (pthread_create(&e->thread, NULL, engine_thread, e) != 0) {
    snprintf(err, err_len, "cannot start the engine thread");
    aspd_engine_close(e);
    return NULL;
  }
  /* Named so that tools (and bench/engine.c, bench/store.c) can find its CPU time in /proc. */
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
    flush(e, true);
    pthread_mutex_unlock(&e->lock);
  }
  aspd_flusher_stop(e);
  while (e->processors) {
    aspd_processor_t *p = e->processors;
    e->processors = p->next;
    aspd_processor_free(p);
  }
  aspd_memstore_free(e->memstore);
  free(e->state_dir);
  pthread_cond_destroy(&e->wake);
  pthread_mutex_destroy(&e->lock);
  free(e);
}
