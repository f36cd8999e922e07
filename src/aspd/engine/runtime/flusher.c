/* The flusher: commits sink contents to the state store off the engine
 * thread. The engine thread hands it what changed (copies of the new
 * documents) whenever it is idle and at least SINK_FLUSH_MS have passed, so
 * writes group into one transaction per batch while the previous batch
 * commits (group commit with a bounded delay). One batch at a time: a batch
 * that failed is handed again, from what the store last committed. */
#include <stdio.h>

#include "engine/runtime/engine_internal.h"
#include "log.h"

static void *flusher_thread(void *arg) {
  aspd_engine_t *e = arg;
  aspd_flusher_t *f = &e->flusher;
  pthread_mutex_lock(&f->lock);
  for (;;) {
    while (!f->batch && !f->stopping) pthread_cond_wait(&f->wake, &f->lock);
    if (!f->batch) break;
    aspd_memstore_changes_t *batch = f->batch;
    pthread_mutex_unlock(&f->lock);
    size_t count;
    const aspd_store_delta_t *deltas = aspd_memstore_deltas(batch, &count);
    char msg[256];
    bool ok = aspd_store_write_datasets(e->store, deltas, count, msg, sizeof msg);
    aspd_engine_lock(e);
    aspd_memstore_changes_done(batch, ok);
    pthread_mutex_unlock(&e->lock);
    aspd_memstore_changes_free(batch);
    pthread_mutex_lock(&f->lock);
    if (!ok && !f->failing) aspd_log("could not persist sink contents: %s (retried until it succeeds)", msg);
    f->failing = !ok;
    f->batch = NULL;
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
  if (!f->batch && !f->stopping) {
    f->batch = aspd_memstore_changes(e->memstore);
    if (f->batch) pthread_cond_signal(&f->wake);
  }
  pthread_mutex_unlock(&f->lock);
}

void aspd_flusher_stop(aspd_engine_t *e) {
  aspd_flusher_t *f = &e->flusher;
  if (!f->running) return;
  /* The batch in flight first (it needs the engine lock, which the caller does not hold). */
  pthread_mutex_lock(&f->lock);
  while (f->batch) pthread_cond_wait(&f->idle, &f->lock);
  pthread_mutex_unlock(&f->lock);
  /* Then whatever came since, committed by the flusher before it ends. */
  pthread_mutex_lock(&e->lock);
  aspd_flusher_offer(e);
  pthread_mutex_unlock(&e->lock);
  pthread_mutex_lock(&f->lock);
  while (f->batch) pthread_cond_wait(&f->idle, &f->lock);
  f->stopping = true;
  pthread_cond_signal(&f->wake);
  pthread_mutex_unlock(&f->lock);
  pthread_join(f->thread, NULL);
  f->running = false;
  pthread_cond_destroy(&f->wake);
  pthread_cond_destroy(&f->idle);
  pthread_mutex_destroy(&f->lock);
}
