/* Sample cursors: a tap per cursor on a processor's output. */
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"
#include "engine/runtime/engine_internal.h"

/* A tap holds what its client has not fetched yet; when the client lags
 * behind a fast source the tap skips documents rather than stalling it. */
#define TAP_BUFFER_MAX 10000
/* Atlas ends a sample session after 40 MB of samples. */
#define TAP_BYTES_MAX (40LL * 1024 * 1024)
#define DEFAULT_BATCH_SIZE 100
/* Stay well below the 16 MB reply limit. */
#define BATCH_BYTES_MAX (8 * 1024 * 1024)

static int64_t new_cursor_id(void) {
  uint64_t v = 0;
  while (v == 0) {
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1) v = (uint64_t)aspd_now_ms();
    /* Positive and below 2^31: every client form (int32, int64, double, a Lua 5.1
     * number) carries the id exactly. Replies still send it as an int64. */
    v &= 0x7FFFFFFFull;
  }
  return (int64_t)v;
}

aspd_tap_t *aspd_tap_open(aspd_processor_t *p, int64_t limit) {
  aspd_tap_t *tap = calloc(1, sizeof *tap);
  tap->id = new_cursor_id();
  tap->limit = limit;
  tap->buffer = calloc(TAP_BUFFER_MAX, sizeof *tap->buffer);
  tap->last_poll_ms = aspd_now_ms();
  tap->input_ended = limit == 0;
  tap->next = p->taps;
  p->taps = tap;
  return tap;
}

static void shared_release(aspd_shared_doc_t *shared) {
  if (--shared->refs == 0) {
    bson_destroy(shared->doc);
    free(shared);
  }
}

static bool tap_takes(const aspd_tap_t *tap) {
  return !tap->input_ended && tap->count < TAP_BUFFER_MAX;
}

void aspd_taps_offer(aspd_processor_t *p, const bson_t *doc) {
  aspd_shared_doc_t *shared = NULL;
  for (aspd_tap_t *tap = p->taps; tap; tap = tap->next) {
    if (!tap_takes(tap)) continue;
    if (!shared) {
      shared = malloc(sizeof *shared);
      shared->doc = bson_copy(doc);
      shared->refs = 0;
    }
    shared->refs++;
    tap->buffer[(tap->head + tap->count++) % TAP_BUFFER_MAX] = shared;
    tap->accepted++;
    tap->bytes += doc->len;
    if ((tap->limit >= 0 && tap->accepted >= tap->limit) || tap->bytes >= TAP_BYTES_MAX) {
      tap->input_ended = true;
    }
  }
}

void aspd_taps_end_input(aspd_processor_t *p) {
  for (aspd_tap_t *t = p->taps; t; t = t->next) t->input_ended = true;
}

bool aspd_taps_full(const aspd_processor_t *p) {
  for (const aspd_tap_t *t = p->taps; t; t = t->next) {
    if (!t->input_ended && t->count == TAP_BUFFER_MAX) return true;
  }
  return false;
}

int64_t aspd_taps_buffered_bytes(const aspd_processor_t *p) {
  int64_t total = 0;
  for (const aspd_tap_t *t = p->taps; t; t = t->next) {
    for (size_t i = 0; i < t->count; i++) {
      total += t->buffer[(t->head + i) % TAP_BUFFER_MAX]->doc->len;
    }
  }
  return total;
}

static void tap_free(aspd_tap_t *tap) {
  for (size_t i = 0; i < tap->count; i++) {
    shared_release(tap->buffer[(tap->head + i) % TAP_BUFFER_MAX]);
  }
  free(tap->buffer);
  free(tap);
}

static void tap_remove(aspd_processor_t *p, aspd_tap_t *tap) {
  for (aspd_tap_t **pp = &p->taps; *pp; pp = &(*pp)->next) {
    if (*pp == tap) {
      *pp = tap->next;
      tap_free(tap);
      return;
    }
  }
}

void aspd_taps_free(aspd_processor_t *p) {
  while (p->taps) tap_remove(p, p->taps);
}

static void drop_ephemeral(aspd_engine_t *e, aspd_processor_t *p) {
  aspd_run_end(p);
  aspd_engine_unlink(e, p);
  aspd_processor_free(p);
}

void aspd_taps_reap(aspd_engine_t *e, int64_t now_ms) {
  aspd_processor_t *p = e->processors;
  while (p) {
    aspd_processor_t *next = p->next;
    aspd_tap_t *t = p->taps;
    while (t) {
      aspd_tap_t *tnext = t->next;
      if (now_ms - t->last_poll_ms > e->sample_idle_ms) tap_remove(p, t);
      t = tnext;
    }
    /* An interactive processor lives as long as its cursor, at most 10 minutes. */
    if (p->ephemeral && (!p->taps || now_ms >= p->expires_ms)) drop_ephemeral(e, p);
    p = next;
  }
}

bool aspd_engine_sample_start(aspd_engine_t *e, const char *name, int64_t limit, int64_t *cursor_id,
                              aspd_error_t *err) {
  aspd_engine_lock(e);
  aspd_processor_t *p = aspd_processor_find(e, name);
  bool ok = false;
  if (!p) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "stream processor does not exist: %s", name);
  } else if (p->state != ASPD_STATE_STARTED) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED,
                   "stream processor %s is %s: sampling needs a STARTED processor", name,
                   aspd_state_name(p->state));
  } else {
    aspd_tap_t *tap = aspd_tap_open(p, limit);
    if (p->source_exhausted) tap->input_ended = true;
    *cursor_id = tap->id;
    ok = true;
  }
  pthread_mutex_unlock(&e->lock);
  return ok;
}

bool aspd_engine_sample_more(aspd_engine_t *e, const char *name, int64_t cursor_id,
                             int32_t batch_size, bson_t *messages, int64_t *next,
                             aspd_error_t *err) {
  aspd_engine_lock(e);
  aspd_processor_t *p = aspd_processor_find(e, name);
  aspd_tap_t *tap = NULL;
  for (aspd_tap_t *t = p ? p->taps : NULL; t; t = t->next) {
    if (t->id == cursor_id) tap = t;
  }
  if (!p) {
    aspd_error_set(err, ASPD_E_COMMAND_FAILED, "stream processor does not exist: %s", name);
    pthread_mutex_unlock(&e->lock);
    return false;
  }
  if (!tap) {
    aspd_error_set(err, 43, "CursorNotFound",
                   "sample cursor %lld not found for stream processor %s (exhausted, reaped "
                   "after being idle, or never opened)",
                   (long long)cursor_id, name);
    pthread_mutex_unlock(&e->lock);
    return false;
  }
  size_t want = batch_size > 0 ? (size_t)batch_size : DEFAULT_BATCH_SIZE;
  size_t taken = 0, bytes = 0;
  while (taken < want && tap->count > 0) {
    aspd_shared_doc_t *shared = tap->buffer[tap->head];
    const bson_t *doc = shared->doc;
    if (taken > 0 && bytes + doc->len > BATCH_BYTES_MAX) break;
    char key[16];
    const char *k;
    bson_uint32_to_string((uint32_t)taken, &k, key, sizeof key);
    bson_append_document(messages, k, -1, doc);
    bytes += doc->len;
    shared_release(shared);
    tap->head = (tap->head + 1) % TAP_BUFFER_MAX;
    tap->count--;
    taken++;
  }
  tap->last_poll_ms = aspd_now_ms();
  /* A source waiting for room in this cursor can go on. */
  if (taken > 0) pthread_cond_signal(&e->wake);
  if (tap->input_ended && tap->count == 0) {
    *next = 0;
    tap_remove(p, tap);
    if (p->ephemeral && !p->taps) drop_ephemeral(e, p);
  } else {
    *next = tap->id;
  }
  pthread_mutex_unlock(&e->lock);
  return true;
}
