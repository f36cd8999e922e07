/* Engine internals shared by the engine's own files. Everything here is
 * guarded by aspd_engine.lock. */
#ifndef ASPD_ENGINE_INTERNAL_H
#define ASPD_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "engine/ops/op.h"
#include "engine/plan/plan.h"
#include "engine/sinks/memstore.h"
#include "engine/sources/source.h"

typedef enum {
  ASPD_STATE_CREATED,
  ASPD_STATE_STARTED,
  ASPD_STATE_STOPPED,
  ASPD_STATE_FAILED
} aspd_state_t;

/* One output document shared by every tap that buffers it (one copy, not one per cursor). */
typedef struct {
  bson_t *doc;
  int refs;
} aspd_shared_doc_t;

/* A sample cursor: a bounded buffer fed by the processor's output. */
typedef struct aspd_tap {
  int64_t id;
  int64_t limit;              /* < 0: none */
  int64_t accepted;           /* documents taken into the buffer so far (counts towards limit) */
  int64_t bytes;              /* bytes taken so far (40 MB cap) */
  aspd_shared_doc_t **buffer; /* ring */
  size_t head, count;
  bool input_ended; /* limit or cap reached, processor stopped or source exhausted */
  int64_t last_poll_ms;
  struct aspd_tap *next;
} aspd_tap_t;

typedef struct aspd_processor {
  char *name;
  char id[25];      /* ObjectId hex */
  bson_t *pipeline; /* BSON array */
  bson_t *options;  /* document: dlq, tier, streamMetaFieldName, failover, ... */
  aspd_state_t state;
  char *error_msg;
  int64_t created_ms, last_modified_ms, last_state_change_ms;
  bool has_started;
  bool ephemeral;
  int64_t expires_ms; /* ephemeral only */
  int32_t workers;
  aspd_counters_t totals;
  aspd_counters_t *operator_stats; /* one per plan operator; NULL until planned */
  size_t operator_count;
  bson_t *checkpoint; /* the source's position to resume from; NULL: start afresh */
  /* Bumped whenever the checkpoint is reset, so that one committed with the sink
   * contents before the reset is not taken for the new one. */
  int64_t checkpoint_epoch;
  bson_t *batched_checkpoint; /* the last one handed to the flusher */
  /* When the committed checkpoint was last known to match the processor's state
   * (0: never): the stats' checkpoint age counts from here. */
  int64_t checkpoint_current_ms;
  /* The operators' state for the next start ({pipeline, state}; checkpoint.c), valid
   * while operators_epoch is the checkpoint epoch; NULL: none. */
  bson_t *operators;
  int64_t operators_epoch;
  bson_t *operators_taken; /* running: the last one taken, at operators_progress */
  int64_t operators_progress;

  /* Runtime, while STARTED. */
  aspd_plan_t *plan;
  aspd_source_t *source;
  bool stamp_in_place; /* the source's messages cannot have fields named like the stamps */
  bool source_exhausted;
  aspd_emit_state_t emit; /* $emit to a topic: round robin, the topic's partitions */
  int64_t last_input_ms;  /* processing time of the last source document */
  aspd_pipeline_t ops;    /* operator instances of the plan's stages */
  aspd_eval_t ev;         /* where their expressions evaluate */
  aspd_tap_t *taps;
  uint64_t slice; /* the engine slice that last ran it (one turn per slice) */
  struct aspd_processor *next;
} aspd_processor_t;

/* flusher.c: commits sink contents off the engine thread. */
typedef struct {
  pthread_t thread;
  bool running, stopping;
  pthread_mutex_t lock; /* guards batch, stopping, failing */
  pthread_cond_t wake, idle;
  bool busy;                      /* a batch is being committed */
  aspd_memstore_changes_t *batch; /* its sink contents (NULL: none changed) */
  /* ...and the source checkpoints taken with them (ids and docs owned). */
  aspd_store_checkpoint_t *checkpoints;
  size_t checkpoint_count;
  bool resend_checkpoints; /* the last batch failed: hand every checkpoint again */
  int64_t taken_ms;        /* when the batch's checkpoints were taken */
  bool failing;            /* the last commit failed (reported once) */
} aspd_flusher_t;

struct aspd_engine {
  pthread_mutex_t lock;
  /* Command threads waiting for the lock: the engine thread lets them in
   * (glibc mutexes are unfair, so merely unlocking would starve them). */
  atomic_int waiting;
  atomic_uint_fast64_t granted; /* times command threads took the lock */
  int64_t running_since_ns;     /* engine thread: when it last took the lock back */
  uint64_t slice;               /* engine slices run so far */
  pthread_cond_t wake;          /* engine thread: a processor started, or close */
  pthread_t thread;
  bool thread_running, closing;
  char *state_dir;
  const aspd_registry_t *registry;
  aspd_memstore_t *memstore;
  aspd_processor_t *processors;
  aspd_store_t *store;
  aspd_flusher_t flusher;
  bool processors_dirty; /* counters changed since the last write */
  int64_t last_flush_ms, last_counters_ms;
  int64_t sample_idle_ms;
};

int64_t aspd_now_ms(void);

/* engine.c: the lock as command threads take it (counted in `waiting`). */
void aspd_engine_lock(aspd_engine_t *e);
/* Engine thread: starts its run with the lock (the clock of yield_due). */
void aspd_engine_run_begins(aspd_engine_t *e);
/* Engine thread: true when a command thread waits for the lock and the engine
 * has run long enough to step aside. */
bool aspd_engine_yield_due(aspd_engine_t *e);
/* Engine thread: releases the lock until the command threads waiting now have
 * had it (bounded, so a stream of commands cannot stop the processors). */
void aspd_engine_yield(aspd_engine_t *e);
const char *aspd_state_name(aspd_state_t state);

/* processor.c */
aspd_processor_t *aspd_processor_find(aspd_engine_t *e, const char *name);
void aspd_processor_free(aspd_processor_t *p);
void aspd_processor_to_bson(const aspd_processor_t *p, bson_t *out);
/* The checkpoint to persist: the running source's position, else the last one kept
 * (NULL: none). Freed by the caller. */
bson_t *aspd_processor_checkpoint(const aspd_processor_t *p);

/* checkpoint.c: the operators' state in checkpoints. */
/* What the flusher commits for p: {epoch, checkpoint (the source's), operators}, NULL
 * when it has neither. */
bson_t *aspd_processor_batch_checkpoint(aspd_processor_t *p);
/* The operators' checkpoint: of the running operators, else the one kept; NULL: none. */
bson_t *aspd_operators_checkpoint(aspd_processor_t *p);
/* Takes the operators' state from a committed batch checkpoint (at start-up). */
void aspd_operators_load(aspd_processor_t *p, const bson_t *batch);
/* run_begin, after making the operators: restores them from the kept state. */
void aspd_operators_restore(aspd_processor_t *p);
/* run_end, before freeing the operators: keeps their state for the next start. */
void aspd_operators_keep(aspd_processor_t *p);
aspd_processor_t *aspd_processor_from_bson(const bson_t *doc, aspd_error_t *err);

/* runner.c: begin and end a run; run one slice of every running processor. */
bool aspd_run_begin(aspd_engine_t *e, aspd_processor_t *p, aspd_error_t *err);
void aspd_run_end(aspd_processor_t *p);
/* Returns true when some processor still has work right away (unlimited rate). */
bool aspd_run_slice(aspd_engine_t *e, int64_t now_ms);

/* sample.c */
aspd_tap_t *aspd_tap_open(aspd_processor_t *p, int64_t limit);
/* Offers doc to every tap of p (copied once, only when some tap takes it). */
void aspd_taps_offer(aspd_processor_t *p, const bson_t *doc);
void aspd_taps_end_input(aspd_processor_t *p);
void aspd_taps_free(aspd_processor_t *p);
/* True when one of the processor's taps cannot take another document. */
bool aspd_taps_full(const aspd_processor_t *p);
/* Bytes held by the processor's taps (memoryTrackerBytes). */
int64_t aspd_taps_buffered_bytes(const aspd_processor_t *p);
/* Reaps idle cursors; ephemeral processors whose cursor is gone are dropped. */
void aspd_taps_reap(aspd_engine_t *e, int64_t now_ms);

/* flusher.c */
bool aspd_flusher_start(aspd_engine_t *e);
/* Engine thread, with the lock held: hands what changed to the flusher when it is idle. */
void aspd_flusher_offer(aspd_engine_t *e);
/* After the engine thread ended, without the lock: commits the rest and stops. */
void aspd_flusher_stop(aspd_engine_t *e);

/* engine.c: a command's change to one processor, committed to the store with
 * the lock held, before the change is applied in memory or acknowledged; with
 * old_name the record is renamed. False (with err set) when the commit failed:
 * the command then leaves everything as it was. */
bool aspd_engine_save_processor(aspd_engine_t *e, const aspd_processor_t *p, const char *old_name,
                                aspd_error_t *err);
bool aspd_engine_delete_processor(aspd_engine_t *e, const char *name, aspd_error_t *err);
void aspd_engine_unlink(aspd_engine_t *e, aspd_processor_t *p);

/* lifecycle.c: engine thread, lock held: an operator failed the running p (ev.failure):
 * it becomes FAILED with that errorMsg, its run ends, and the state is saved with the
 * next counters. */
void aspd_processor_fail(aspd_engine_t *e, aspd_processor_t *p);

#endif
