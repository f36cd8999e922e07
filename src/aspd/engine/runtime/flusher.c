/* The flusher: commits sink contents to the state store off the engine
 * thread. The engine thread hands it what changed (copies of the new
 * documents) whenever it is idle and at least SINK_FLUSH_MS have passed, so
 * writes group into one transaction per batch while the previous batch
 * commits (group commit with a bounded delay). The source checkpoints of the
 * processors, taken at the same moment, commit in the same transaction, so a
 * restart resumes each source where the committed sink contents end. One
 * batch at a time: a batch that failed is handed again, from what the store
 * last committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime/engine_internal.h"
#include "log.h"

static void free_checkpoints(aspd_flusher_t *f) {
  for (size_t i = 0; i < f->checkpoint_count; i++) {
    free((char *)(uintptr_t)f->checkpoints[i].id);
    bson_destroy((bson_t *)(uintptr_t)f->checkpoints[i].doc);
  }
  free(f->checkpoints);
  f->checkpoints = NULL;
  f->checkpoint_count = 0;
}

/* With the engine lock: the checkpoints of persisted processors that changed since
 * they were last handed over (all of them after a failed batch), as
 * {epoch, checkpoint, operators}. */
static void take_checkpoints(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  size_t n = 0;
  for (aspd_processor_t *p = e->processors; p; p = p->next) n++;
  f->checkpoints = calloc(n ? n : 1, sizeof *f->checkpoints);
  f->taken_ms = aspd_now_ms();
  for (aspd_processor_t *p = e->processors; p; p = p->next) {
    if (p->ephemeral) continue; /* interactive processors are never persisted */
    bson_t *doc = aspd_processor_batch_checkpoint(p);
    if (!doc) continue;
    if (!f->resend_checkpoints && p->batched_checkpoint && bson_equal(p->batched_checkpoint, doc)) {
      /* The last batch committed it (else resend_checkpoints): still current. */
      p->checkpoint_current_ms = f->taken_ms;
      bson_destroy(doc);
      continue;
    }
    if (p->batched_checkpoint) bson_destroy(p->batched_checkpoint);
    p->batched_checkpoint = bson_copy(doc);
    f->checkpoints[f->checkpoint_count++] = (aspd_store_checkpoint_t){strdup(p->id), doc};
  }
  f->resend_checkpoints = false;
}

/* With the engine lock, after a batch committed: its checkpoints are the processors'
 * state as of when they were taken. */
static void mark_committed(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  for (size_t i = 0; i < f->checkpoint_count; i++) {
    for (aspd_processor_t *p = e->processors; p; p = p->next) {
      if (!strcmp(p->id, f->checkpoints[i].id)) p->checkpoint_current_ms = f->taken_ms;
    }
  }
}

static void *flusher_thread(void *arg) {
  aspd_engine_t *e = arg;
  aspd_flusher_t *f = &e->flusher;
  pthread_mutex_lock(&f->lock);
  for (;;) {
    while (!f->busy && !f->stopping) pthread_cond_wait(&f->wake, &f->lock);
    if (!f->busy) break;
    aspd_memstore_changes_t *batch = f->batch;
    pthread_mutex_unlock(&f->lock);
    size_t count = 0;
    const aspd_store_delta_t *deltas = batch ? aspd_memstore_deltas(batch, &count) : NULL;
    char msg[256];
    bool ok = aspd_store_write_batch(e->store, deltas, count, f->checkpoints, f->checkpoint_count,
                                     msg, sizeof msg);
    aspd_engine_lock(e);
    if (batch) aspd_memstore_changes_done(batch, ok);
    if (!ok) f->resend_checkpoints = true;
    if (ok) mark_committed(e);
    pthread_mutex_unlock(&e->lock);
    aspd_memstore_changes_free(batch);
    free_checkpoints(f);
    pthread_mutex_lock(&f->lock);
    if (!ok && !f->failing)
      aspd_log("could not persist sink contents: %s (retried until it succeeds)", msg);
    f->failing = !ok;
    f->batch = NULL;
    f->busy = false;
    pthread_cond_broadcast(&f->idle);
  }
  pthread_mutex_unlock(&f->lock);
  return NULL;
}

bool aspd_flusher_start(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  pthread_mutex_init(&f->lock, NULL);
  pthread_cond_init(&f->wake, NULL);
  pthread_cond_init(&f->idle, NULL);
  f->running = pthread_create(&f->thread, NULL, flusher_thread, e) == 0;
  if (f->running) pthread_setname_np(f->thread, "aspd-flusher");
  return f->running;
}

void aspd_flusher_offer(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  pthread_mutex_lock(&f->lock);
  if (!f->busy && !f->stopping) {
    f->batch = aspd_memstore_changes(e->memstore);
    take_checkpoints(e);
    f->busy = f->batch || f->checkpoint_count;
    if (f->busy) {
      pthread_cond_signal(&f->wake);
    } else {
      free_checkpoints(f);
    }
  }
  pthread_mutex_unlock(&f->lock);
}

void aspd_flusher_stop(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  if (!f->running) return;
  /* The batch in flight first (it needs the engine lock, which the caller does not hold). */
  pthread_mutex_lock(&f->lock);
  while (f->busy) pthread_cond_wait(&f->idle, &f->lock);
  pthread_mutex_unlock(&f->lock);
  /* Then whatever came since, committed by the flusher before it ends. */
  pthread_mutex_lock(&e->lock);
  aspd_flusher_offer(e);
  pthread_mutex_unlock(&e->lock);
  pthread_mutex_lock(&f->lock);
  while (f->busy) pthread_cond_wait(&f->idle, &f->lock);
  f->stopping = true;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->thread, NULL);
  f->running = false;
  pthread_cond_destroy(&f->wake);
  pthread_cond_destroy(&f->idle);
  pthread_mutex_destroy(&f->lock);
}
